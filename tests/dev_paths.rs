//! Where developers really install (issue 10, items 3, 4, 5): local projects
//! built in place, a wheel's data files in the environment's own
//! directories, a version manager's shims rehashed after the install. Each
//! runs through the shims in protect and block, with the project and the
//! environment outside HOME (where protect grants nothing by itself), and
//! must exit as the bare manager does, leave a report and no finding of
//! medium or more.

use crate::support;

use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use support::installs::serious;
use support::pypi::build_wheel;
use support::{
    Dist, NpmRegistry, PipFixture, PypiIndex, ShimEnv, crate_root, make_venv, run, stderr_str,
    stdout_str,
};

const MODES: [&str; 2] = ["protect", "block"];

/// The wheels `.ci/run` downloads into tests/.wheels (setuptools, wheel,
/// flit_core): build backends for pip's isolated build environment.
fn backend_wheels() -> Vec<Dist> {
    let dir = crate_root().join("tests/.wheels");
    let wheels: Vec<Dist> = fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let filename = e.file_name().to_string_lossy().into_owned();
            let project = filename
                .strip_suffix(".whl")?
                .split('-')
                .next()?
                .to_string();
            Some(Dist {
                project,
                filename,
                bytes: fs::read(e.path()).ok()?,
            })
        })
        .collect();
    for need in ["setuptools", "flit_core"] {
        assert!(
            wheels.iter().any(|w| w.project == need),
            "no {need} wheel in {}: run .ci/run",
            dir.display()
        );
    }
    wheels
}

/// A directory outside HOME (protect grants nothing there by itself).
fn outside() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pw-dev-")
        .tempdir_in("/var/tmp")
        .expect("temp dir outside HOME")
}

fn venv_at(dir: &Path) -> PathBuf {
    let v = dir.join("venv");
    make_venv(&v, &[]);
    v
}

fn write_files(root: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
}

/// Runs `cmd` (a shim) in `mode`; returns the exit code and the one report it left.
fn through_shim(
    env: &ShimEnv,
    mode: &str,
    cmd: &mut std::process::Command,
    what: &str,
) -> (i32, Value) {
    let before = env.report_files();
    cmd.env("PKGWARDEN_MODE", mode)
        .env("PKGWARDEN_TIME_WINDOW", "0s");
    let out = run(cmd);
    let new = env.reports_since(&before);
    assert_eq!(
        new.len(),
        1,
        "{what} ({mode}): one report expected\nstdout:\n{}\nstderr:\n{}",
        stdout_str(&out),
        stderr_str(&out)
    );
    let report: Value = serde_json::from_slice(&fs::read(&new[0]).unwrap()).unwrap();
    let s = serious(&report);
    assert!(
        s.is_empty(),
        "{what} ({mode}): findings of medium or more: {s:#?}\nstderr:\n{}",
        stderr_str(&out)
    );
    (out.status.code().unwrap_or(-1), report)
}

/// A project per backend: setuptools with a src layout, setuptools flat,
/// flit_core (PEP 517).
fn projects() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            "pw-src-layout",
            vec![
                (
                    "pyproject.toml",
                    "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n[project]\nname = \"pw-src-layout\"\nversion = \"1.0\"\n",
                ),
                ("src/pwsrc/__init__.py", "X = 1\n"),
            ],
        ),
        (
            "pw-flat",
            vec![
                (
                    "pyproject.toml",
                    "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n[project]\nname = \"pw-flat\"\nversion = \"1.0\"\n[tool.setuptools]\npackages = [\"pwflat\"]\n",
                ),
                ("pwflat/__init__.py", "X = 1\n"),
            ],
        ),
        (
            "pw-flit",
            vec![
                (
                    "pyproject.toml",
                    "[build-system]\nrequires = [\"flit_core\"]\nbuild-backend = \"flit_core.buildapi\"\n[project]\nname = \"pwflit\"\nversion = \"1.0\"\ndescription = \"x\"\n",
                ),
                ("pwflit/__init__.py", "\"\"\"x\"\"\"\n"),
            ],
        ),
    ]
}

/// What the project holds after the install, `.git` aside.
fn tree(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .into_iter()
        .filter_map(|p| p.strip_prefix(dir).ok().map(|r| r.display().to_string()))
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        out.push(p.clone());
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        }
    }
    out
}

#[test]
fn pip_installs_local_projects_as_bare_pip_does() {
    let index = PypiIndex::start_with(backend_wheels());
    let place = outside();
    let venv = venv_at(place.path());
    let env = ShimEnv::new(&[&venv.join("bin")]);
    // Each project and form through the sandbox once (a build costs seconds
    // of CPU), the modes alternating so that each mode builds every project
    // and both forms.
    for (i, (name, files)) in projects().into_iter().enumerate() {
        for editable in [true, false] {
            let modes = [MODES[(i + usize::from(editable)) % 2]];
            let run_pip = |cmd: &mut std::process::Command, dir: &Path| {
                cmd.args([
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "--index-url",
                ])
                .arg(index.index_url());
                if editable {
                    cmd.arg("-e");
                }
                cmd.arg(".").current_dir(dir);
            };
            // Bare, in its own copy of the project.
            let bare_dir = place.path().join(format!("bare-{name}-{editable}"));
            write_files(&bare_dir, &files);
            let mut bare = env.bare(venv.join("bin/pip"));
            run_pip(&mut bare, &bare_dir);
            let bare_out = run(&mut bare);
            let bare_code = bare_out.status.code();
            assert_eq!(bare_code, Some(0), "bare: {}", stderr_str(&bare_out));
            for mode in modes {
                let dir = place.path().join(format!("{mode}-{name}-{editable}"));
                write_files(&dir, &files);
                fs::create_dir_all(dir.join(".git")).unwrap();
                fs::write(dir.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
                let mut cmd = env.shim("pip");
                run_pip(&mut cmd, &dir);
                let what = format!("pip install {} {name}", if editable { "-e ." } else { "." });
                let (code, _) = through_shim(&env, mode, &mut cmd, &what);
                assert_eq!(Some(code), bare_code, "{what} ({mode}): exit code");
                // What the build left in the project is what bare pip left.
                let mut want = tree(&bare_dir);
                want.push(".git".into());
                want.push(".git/HEAD".into());
                want.sort();
                assert_eq!(tree(&dir), want, "{what} ({mode}): project contents");
                let _ = run(env
                    .bare(venv.join("bin/pip"))
                    .args(["uninstall", "-qy", name]));
            }
        }
    }
}

#[test]
fn uv_pip_installs_an_editable_project() {
    if which::which("uv").is_err() {
        panic!("uv not on PATH: run .ci/run");
    }
    let index = PypiIndex::start_with(backend_wheels());
    let place = outside();
    let venv = venv_at(place.path());
    let env = ShimEnv::new(&[]);
    let (name, files) = projects().remove(0);
    for mode in MODES {
        let dir = place.path().join(format!("{mode}-{name}"));
        write_files(&dir, &files);
        let mut cmd = env.shim("uv");
        cmd.args(["pip", "install", "-q", "--index-url"])
            .arg(index.index_url())
            .args(["-e", "."])
            .env("VIRTUAL_ENV", &venv)
            .current_dir(&dir);
        let (code, _) = through_shim(&env, mode, &mut cmd, "uv pip install -e .");
        assert_eq!(code, 0, "uv pip install -e . ({mode})");
        assert!(
            dir.join("src/pw_src_layout.egg-info").is_dir(),
            "{mode}: the editable build's egg-info: {:?}",
            tree(&dir)
        );
        let _ = run(env
            .bare("uv")
            .args(["pip", "uninstall", "-q", name])
            .env("VIRTUAL_ENV", &venv));
    }
}

/// A wheel with data files (`<name>.data/data/share/man/man1/…`) installs
/// them beneath the scheme's data path: the virtualenv's root.
#[test]
fn a_wheel_with_data_files_installs_into_a_venv() {
    let src = tempfile::tempdir().unwrap();
    write_files(
        src.path(),
        &[
            ("pwdata/__init__.py", "X = 1\n"),
            (
                "pwdata-1.0.0.data/data/share/man/man1/pwdata.1",
                ".TH PWDATA 1\n",
            ),
        ],
    );
    let fx = PipFixture {
        name: "pwdata".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture with data files".into()),
        requires_dist: vec![],
        dir: src.path().to_path_buf(),
    };
    let index = PypiIndex::start_with(vec![build_wheel(&fx)]);
    let place = outside();
    let venv = venv_at(place.path());
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let man = venv.join("share/man/man1/pwdata.1");
    let bare = run(env
        .bare(venv.join("bin/pip"))
        .args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "--index-url",
        ])
        .arg(index.index_url())
        .arg("pwdata")
        .current_dir(place.path()));
    let bare_code = bare.status.code().unwrap_or(-1);
    assert!(man.is_file(), "bare pip installs the data file");
    let _ = run(env
        .bare(venv.join("bin/pip"))
        .args(["uninstall", "-qy", "pwdata"]));
    for mode in MODES {
        let mut cmd = env.shim("pip");
        cmd.args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "--index-url",
        ])
        .arg(index.index_url())
        .arg("pwdata")
        .current_dir(place.path());
        let (code, _) = through_shim(&env, mode, &mut cmd, "pip install pwdata");
        assert_eq!(code, bare_code, "{mode}");
        assert!(man.is_file(), "{mode}: {} not installed", man.display());
        let _ = run(env
            .bare(venv.join("bin/pip"))
            .args(["uninstall", "-qy", "pwdata"]));
        assert!(!man.exists());
    }
}

/// A wheel whose `.data/data/` tree holds `files`, as a [`Dist`].
fn data_wheel(name: &str, files: &[(&str, &str)]) -> Dist {
    let src = tempfile::tempdir().unwrap();
    let init = format!("{name}/__init__.py");
    let mut all = vec![(init.as_str(), "X = 1\n")];
    let data: Vec<(String, &str)> = files
        .iter()
        .map(|(rel, text)| (format!("{name}-1.0.0.data/data/{rel}"), *text))
        .collect();
    all.extend(data.iter().map(|(r, t)| (r.as_str(), *t)));
    write_files(src.path(), &all);
    build_wheel(&PipFixture {
        name: name.into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture with data files".into()),
        requires_dist: vec![],
        dir: src.path().to_path_buf(),
    })
}

/// `pip install --user`: the user scheme's data path is `~/.local`, which
/// also holds `~/.local/bin` and start-up locations. A wheel's data files
/// land (man pages from an index; a local wheel's own data directory), a
/// start-up location named by a wheel stays refused in block, and the
/// directories made for the grant and left unused are gone afterwards.
#[test]
fn a_user_install_of_a_wheel_with_data_files() {
    let from_index = data_wheel(
        "pwudata",
        &[("share/man/man1/pwudata.1", ".TH PWUDATA 1\n")],
    );
    let index = PypiIndex::start_with(vec![from_index]);
    let local = data_wheel(
        "pwulocal",
        &[("share/pwulocal/templates/t.txt", "template\n")],
    );
    let persisting = data_wheel(
        "pwupersist",
        &[("share/systemd/user/pwupersist.service", "[Service]\n")],
    );
    let place = outside();
    fs::write(place.path().join(&local.filename), &local.bytes).unwrap();
    fs::write(place.path().join(&persisting.filename), &persisting.bytes).unwrap();
    // `--user` needs the user site visible: a venv that sees the system's.
    let venv = place.path().join("venv");
    make_venv(&venv, &["--system-site-packages"]);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let local_base = env.home.path().join(".local");
    let man = local_base.join("share/man/man1/pwudata.1");
    let template = local_base.join("share/pwulocal/templates/t.txt");
    let service = local_base.join("share/systemd/user/pwupersist.service");
    let user_pip = |cmd: &mut std::process::Command, what: &[&str]| {
        cmd.args([
            "install",
            "--user",
            "-q",
            "--disable-pip-version-check",
            "--no-index",
        ])
        .args(["--find-links", "/nonexistent"])
        .args(what)
        .current_dir(place.path());
    };
    let uninstall = || {
        let _ = run(env.bare(venv.join("bin/pip")).args([
            "uninstall",
            "-qy",
            "pwudata",
            "pwulocal",
            "pwupersist",
        ]));
        let _ = fs::remove_dir_all(&local_base);
    };
    // Bare pip: every data file lands.
    let mut bare = env.bare(venv.join("bin/pip"));
    bare.args([
        "install",
        "--user",
        "-q",
        "--disable-pip-version-check",
        "--index-url",
    ])
    .arg(index.index_url())
    .arg("pwudata")
    .current_dir(place.path());
    let bare_out = run(&mut bare);
    assert!(bare_out.status.success(), "bare: {}", stderr_str(&bare_out));
    assert!(man.is_file(), "bare pip installs the man page");
    let mut bare = env.bare(venv.join("bin/pip"));
    user_pip(&mut bare, &[&format!("./{}", local.filename)]);
    assert!(run(&mut bare).status.success());
    assert!(template.is_file(), "bare pip installs the template");
    uninstall();
    for mode in MODES {
        let mut cmd = env.shim("pip");
        cmd.args([
            "install",
            "--user",
            "-q",
            "--disable-pip-version-check",
            "--index-url",
        ])
        .arg(index.index_url())
        .arg("pwudata")
        .current_dir(place.path());
        let (code, _) = through_shim(&env, mode, &mut cmd, "pip install --user pwudata");
        assert_eq!(code, 0, "{mode}");
        assert!(man.is_file(), "{mode}: {} not installed", man.display());
        // Made for the grant and not used: removed again.
        assert!(!local_base.join("share/doc").exists(), "{mode}");
        assert!(!local_base.join("etc").exists(), "{mode}");
        let mut cmd = env.shim("pip");
        user_pip(&mut cmd, &[&format!("./{}", local.filename)]);
        let (code, _) = through_shim(&env, mode, &mut cmd, "pip install --user ./pwulocal.whl");
        assert_eq!(code, 0, "{mode}");
        assert!(
            template.is_file(),
            "{mode}: {} not installed",
            template.display()
        );
        uninstall();
    }
    // A wheel naming a start-up location: refused in block, whatever bare does.
    let mut cmd = env.shim("pip");
    user_pip(&mut cmd, &[&format!("./{}", persisting.filename)]);
    cmd.env("PKGWARDEN_MODE", "block")
        .env("PKGWARDEN_TIME_WINDOW", "0s");
    let out = run(&mut cmd);
    assert_ne!(out.status.code(), Some(0), "{}", stderr_str(&out));
    assert!(!service.exists(), "the unit file was written");
    uninstall();
}

#[test]
fn npm_installs_a_local_package_that_builds_in_place() {
    let registry = NpmRegistry::start(&[]);
    let place = outside();
    let app = place.path().join("app");
    let pkg = place.path().join("local-pkg");
    write_files(
        &pkg,
        &[(
            "package.json",
            r#"{"name":"local-pkg","version":"1.0.0","scripts":{"install":"node -e \"require('fs').mkdirSync('build',{recursive:true});require('fs').writeFileSync('build/out.txt','x')\""}}"#,
        )],
    );
    let env = ShimEnv::new(&[]);
    write_files(
        &app,
        &[("package.json", r#"{"name":"app","version":"1.0.0"}"#)],
    );
    let bare = run(env
        .bare("npm")
        .args(["install", "--no-audit", "--no-fund", "../local-pkg"])
        .env("npm_config_registry", registry.registry_url())
        .current_dir(&app));
    let bare_code = bare.status.code().unwrap_or(-1);
    assert!(pkg.join("build/out.txt").is_file(), "bare: its build ran");
    for mode in MODES {
        let _ = fs::remove_dir_all(&app);
        let _ = fs::remove_dir_all(pkg.join("build"));
        write_files(
            &app,
            &[("package.json", r#"{"name":"app","version":"1.0.0"}"#)],
        );
        let mut cmd = env.shim("npm");
        cmd.args(["install", "--no-audit", "--no-fund", "../local-pkg"])
            .env("npm_config_registry", registry.registry_url())
            .current_dir(&app);
        let (code, _) = through_shim(&env, mode, &mut cmd, "npm install ../local-pkg");
        assert_eq!(code, bare_code, "{mode}");
        assert!(pkg.join("build/out.txt").is_file(), "{mode}: its build ran");
        assert!(app.join("node_modules/local-pkg").exists());
    }
}

/// A pyenv-like shim directory: the shim hands its name to the version
/// manager's `exec`, which runs the real pip and then rehashes (a prototype
/// shim written with `mktemp`, compared and made executable by absolute
/// path, then copied for every new command), as pyenv does.
#[test]
fn a_version_managers_shims_are_rehashed_after_an_install() {
    let src = tempfile::tempdir().unwrap();
    write_files(
        src.path(),
        &[("pwcli/__init__.py", "def main():\n    print('hi')\n")],
    );
    let fx = PipFixture {
        name: "pwcli".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture with a command".into()),
        requires_dist: vec![],
        dir: src.path().to_path_buf(),
    };
    let mut wheel = build_wheel(&fx);
    wheel = with_entry_point(wheel, "pwcli", "pwcli:main");
    let index = PypiIndex::start_with(vec![wheel]);
    let place = outside();
    let venv = venv_at(place.path());
    let root = place.path().join("vm");
    let shims = root.join("shims");
    fs::create_dir_all(&shims).unwrap();
    let manager = root.join("libexec/vm");
    write_files(
        &root,
        &[(
            "libexec/vm",
            &format!(
                r#"#!/bin/sh
# exec PROGRAM ARGS: run the version's PROGRAM, then rehash.
[ "$1" = exec ] || exit 2
shift; program="$1"; shift
"{venv}/bin/$program" "$@"; code=$?
shims="{shims}"
proto="$(mktemp "$shims/tmp.XXXXXX")"
printf '#!/bin/sh\nprogram="${{0##*/}}"\nexec "{manager}" exec "$program" "$@"\n' > "$proto"
chmod +x "$proto"
if ! diff -q "$proto" "$shims/.vm-shim" >/dev/null 2>&1; then cp "$proto" "$shims/.vm-shim"; fi
rm -f "$proto"
for f in "{venv}"/bin/*; do
  n="${{f##*/}}"; [ -e "$shims/$n" ] || cp "$shims/.vm-shim" "$shims/$n"
done
exit $code
"#,
                venv = venv.display(),
                shims = shims.display(),
                manager = manager.display(),
            ),
        )],
    );
    fs::set_permissions(&manager, fs::Permissions::from_mode(0o755)).unwrap();
    let shim_text = format!(
        "#!/bin/sh\nprogram=\"${{0##*/}}\"\nexec \"{}\" exec \"$program\" \"$@\"\n",
        manager.display()
    );
    fs::write(shims.join("pip"), &shim_text).unwrap();
    fs::set_permissions(shims.join("pip"), fs::Permissions::from_mode(0o755)).unwrap();
    let env = ShimEnv::new(&[&shims]);
    let pip_args = |cmd: &mut std::process::Command| {
        cmd.args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "--index-url",
        ])
        .arg(index.index_url())
        .arg("pwcli")
        .current_dir(place.path());
    };
    // Bare: through the version manager's shim, no pkgwarden.
    let mut bare = env.bare(shims.join("pip"));
    pip_args(&mut bare);
    let bare_out = run(&mut bare);
    let bare_code = bare_out.status.code();
    assert_eq!(bare_code, Some(0), "bare: {}", stderr_str(&bare_out));
    assert!(shims.join("pwcli").is_file(), "bare rehash made the shim");
    for mode in MODES {
        let _ = run(env
            .bare(venv.join("bin/pip"))
            .args(["uninstall", "-qy", "pwcli"]));
        fs::remove_file(shims.join("pwcli")).unwrap();
        let mut cmd = env.shim("pip");
        pip_args(&mut cmd);
        let (code, report) = through_shim(&env, mode, &mut cmd, "pip install pwcli (vm shim)");
        assert_eq!(Some(code), bare_code, "{mode}: exit code");
        assert!(
            shims.join("pwcli").is_file(),
            "{mode}: rehash made the shim"
        );
        let rules: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["rule"].as_str())
            .collect();
        assert!(
            !rules.contains(&"persist.path-hijack") && !rules.contains(&"exec.dropped"),
            "{mode}: {rules:?}"
        );
    }
}

/// A mise-like version manager: its shims are links to its own binary,
/// which runs the tool the link is named for; its npm is a wrapper that
/// runs `mise reshim` after a global install (as mise's node_npm_shim
/// does), and reshim links every command of the installed versions into the
/// shims directory, through a temporary link renamed into place (as mise's
/// `make_symlink` does).
#[test]
fn mise_like_link_shims_are_reshimmed_after_a_global_install() {
    let pkg = support::NpmPackage::new(
        serde_json::json!({
            "name": "pwmisecli", "version": "1.0.0",
            "bin": {"pwmisecli": "cli.js"}
        }),
        &[("cli.js", b"#!/usr/bin/env node\nconsole.log('hi');\n")],
    );
    let registry = NpmRegistry::start(&[]);
    registry.add(pkg);
    let place = outside();
    let root = place.path().join("mise");
    let data = root.join("data");
    let shims = data.join("shims");
    let install = data.join("installs/node/20");
    let mise = root.join("bin/mise");
    fs::create_dir_all(&shims).unwrap();
    fs::create_dir_all(install.join("bin")).unwrap();
    write_files(
        &root,
        &[(
            "bin/mise",
            &format!(
                r#"#!/bin/sh
# Started by a shim's name: that tool of the active version. As `mise reshim`:
# a link for every command of the installed versions that has none yet.
data="{data}"
name="${{0##*/}}"
if [ "$name" = mise ]; then
  [ "$1" = reshim ] || exit 2
  for f in "$data"/installs/*/*/bin/*; do
    n="${{f##*/}}"
    [ -e "$data/shims/$n" ] && continue
    tmp="$data/shims/.$n.tmp.$$.0"
    ln -s "{mise}" "$tmp" && mv -f "$tmp" "$data/shims/$n"
  done
  exit 0
fi
PATH="{install}/bin:$PATH" exec "{install}/bin/$name" "$@"
"#,
                data = data.display(),
                mise = mise.display(),
                install = install.display(),
            ),
        )],
    );
    write_files(
        &install,
        &[(
            "bin/npm",
            &format!(
                r#"#!/bin/sh
# mise's npm wrapper: npm, then `mise reshim` after a global install.
global=; cmd=
for a; do
  case "$a" in -g|--global) global=1;; -*) ;; *) [ -z "$cmd" ] && cmd="$a";; esac
done
"{npm}" "$@"; code=$?
if [ -n "$global" ]; then
  case "$cmd" in install|i|add|uninstall|rm) "{mise}" reshim || true;; esac
fi
exit $code
"#,
                npm = support::npm().display(),
                mise = mise.display(),
            ),
        )],
    );
    for f in [&mise, &install.join("bin/npm")] {
        fs::set_permissions(f, fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::os::unix::fs::symlink(&mise, shims.join("npm")).unwrap();
    let env = ShimEnv::new(&[&shims]);
    let npm_args = |cmd: &mut std::process::Command| {
        cmd.args(["install", "-g", "--no-audit", "--no-fund", "pwmisecli"])
            .env("npm_config_registry", registry.registry_url())
            .env("npm_config_prefix", &install)
            .current_dir(place.path());
    };
    let new_shim = shims.join("pwmisecli");
    let reset = || {
        let _ = fs::remove_dir_all(install.join("lib"));
        let _ = fs::remove_file(install.join("bin/pwmisecli"));
        let _ = fs::remove_file(&new_shim);
    };
    let mut bare = env.bare(shims.join("npm"));
    npm_args(&mut bare);
    let bare_out = run(&mut bare);
    let bare_code = bare_out.status.code();
    assert_eq!(bare_code, Some(0), "bare: {}", stderr_str(&bare_out));
    assert_eq!(
        fs::read_link(&new_shim).ok(),
        Some(mise.clone()),
        "bare reshim"
    );
    for mode in MODES {
        reset();
        let mut cmd = env.shim("npm");
        npm_args(&mut cmd);
        let (code, report) = through_shim(&env, mode, &mut cmd, "npm install -g (mise shim)");
        assert_eq!(Some(code), bare_code, "{mode}: exit code");
        assert!(install.join("bin/pwmisecli").exists(), "{mode}: installed");
        assert_eq!(
            fs::read_link(&new_shim).ok(),
            Some(mise.clone()),
            "{mode}: reshim made the link"
        );
        let rules: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["rule"].as_str())
            .collect();
        assert!(
            !rules.contains(&"persist.path-hijack") && !rules.contains(&"exec.dropped"),
            "{mode}: {rules:?}"
        );
    }
}

/// The `python`/`python3` shims exist even when no real interpreter of
/// that name is on PATH at `shims install`: one appearing later (a
/// virtualenv's `python` where the system has only `python3`) is monitored;
/// with none, the shim answers as the shell would: "command not found",
/// exit 127, no report.
#[test]
fn the_python_shim_exists_without_a_real_python() {
    let env = ShimEnv::new(&[]);
    let place = outside();
    let empty = place.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    // Installed again with nothing named python on PATH.
    let out = run(env
        .pkgwarden()
        .env("PATH", &empty)
        .args(["shims", "install", "--dir"])
        .arg(&env.shims));
    assert!(out.status.success(), "{}", stderr_str(&out));
    for name in ["python", "python3"] {
        assert!(
            fs::read_link(env.shims.join(name)).is_ok(),
            "no {name} shim"
        );
    }
    let path = |dirs: &[&Path]| std::env::join_paths(dirs).unwrap();
    let before = env.report_files();
    let out = run(env
        .shim("python")
        .env("PATH", path(&[&env.shims, &empty]))
        .args(["-c", "print(1)"]));
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(stderr_str(&out), "python: command not found\n");
    assert!(stdout_str(&out).is_empty());
    // Started by a shell, in that shell's words.
    let out = run(env
        .bare("/bin/bash")
        .env("PATH", path(&[&env.shims, &empty]))
        .args(["-c", "python3 -m pip install x; echo \"code=$?\""]));
    assert_eq!(stdout_str(&out).trim(), "code=127");
    assert_eq!(stderr_str(&out), "bash: python3: command not found\n");
    assert!(env.reports_since(&before).is_empty());
    // A virtualenv's `python`, on PATH after the shims were made: its
    // interpreter runs, and `python -m pip install` is monitored.
    let venv = venv_at(place.path());
    let venv_path = path(&[&env.shims, &venv.join("bin"), &empty]);
    let out = run(env
        .shim("python")
        .env("PATH", &venv_path)
        .args(["-c", "import sys; print(sys.prefix)"]));
    assert_eq!(
        Path::new(stdout_str(&out).trim()),
        venv.as_path(),
        "{}",
        stderr_str(&out)
    );
    let index = PypiIndex::start_with(vec![build_wheel(&PipFixture::load("pwdemo"))]);
    for mode in MODES {
        let mut cmd = env.shim("python");
        cmd.env("PATH", &venv_path)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "--index-url",
            ])
            .arg(index.index_url())
            .arg("pwdemo")
            .current_dir(place.path());
        let (code, _) = through_shim(&env, mode, &mut cmd, "python -m pip install pwdemo");
        assert_eq!(code, 0, "{mode}");
        let show = run(env
            .bare(venv.join("bin/pip"))
            .args(["show", "-q", "pwdemo"]));
        assert!(show.status.success(), "{mode}: pwdemo not in the venv");
        let _ = run(env
            .bare(venv.join("bin/pip"))
            .args(["uninstall", "-qy", "pwdemo"]));
    }
}

/// Adds a console script to a test wheel (its entry_points.txt and RECORD).
fn with_entry_point(wheel: Dist, name: &str, target: &str) -> Dist {
    use std::io::{Read, Write};
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(wheel.bytes)).unwrap();
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..zin.len() {
        let mut f = zin.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        entries.push((f.name().unwrap().to_string(), data));
    }
    let dist_info = entries
        .iter()
        .find_map(|(n, _)| {
            n.split_once(".dist-info/")
                .map(|(d, _)| format!("{d}.dist-info"))
        })
        .unwrap();
    let ep = format!("[console_scripts]\n{name} = {target}\n").into_bytes();
    let ep_path = format!("{dist_info}/entry_points.txt");
    let record_path = format!("{dist_info}/RECORD");
    for (n, data) in entries.iter_mut() {
        if *n == record_path {
            let line = format!(
                "{ep_path},sha256={},{}\n",
                support::sha256_urlsafe_nopad(&ep),
                ep.len()
            );
            data.splice(0..0, line.into_bytes());
        }
    }
    entries.push((ep_path, ep));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
    for (n, data) in &entries {
        zip.start_file(n.as_str(), opts).unwrap();
        zip.write_all(data).unwrap();
    }
    Dist {
        project: wheel.project,
        filename: wheel.filename,
        bytes: zip.finish().unwrap().into_inner(),
    }
}

/// node-gyp downloads the headers of the node that runs the build from the
/// `disturl` the configuration gives: here a loopback server serving the
/// machine's own headers, named only by `npm_config_disturl`. Allowed in
/// block because the configuration names it.
#[test]
fn node_gyp_headers_come_from_the_configured_disturl() {
    let node_include = Path::new("/usr/include/node");
    assert!(
        node_include.join("common.gypi").is_file(),
        "no node headers in /usr/include/node (Debian's nodejs ships them)"
    );
    let out = run(std::process::Command::new(support::node()).args(["-p", "process.version"]));
    let version = stdout_str(&out).trim().to_string();
    let name = format!("node-{version}-headers.tar.gz");
    // The top-level headers only (node.h, v8*.h, common.gypi …): the addon
    // includes none of them, and the full set (54 MB: openssl, uv, cppgc)
    // cost half a minute of CPU per build to pack, unpack and hash.
    let entries: Vec<(String, Vec<u8>)> =
        support::collect_files(node_include, &|rel| !rel.contains('/'))
            .into_iter()
            .map(|(rel, data)| (format!("node-{version}/include/node/{rel}"), data))
            .collect();
    let tarball = support::tar_gz(&entries);
    let dist = tempfile::tempdir().unwrap();
    let vdir = dist.path().join(&version);
    fs::create_dir_all(&vdir).unwrap();
    fs::write(
        vdir.join("SHASUMS256.txt"),
        format!("{}  {name}\n", support::sha256_hex(&tarball)),
    )
    .unwrap();
    fs::write(vdir.join(&name), &tarball).unwrap();
    let server = support::installs::static_server(dist.path().to_path_buf());
    let pkg = support::NpmPackage::new(
        serde_json::json!({"name": "pw-native", "version": "1.0.0"}),
        &[
            (
                "binding.gyp",
                br#"{ "targets": [ { "target_name": "pwnative", "sources": [ "addon.c" ] } ] }
"# as &[u8],
            ),
            ("addon.c", b"int pw_native(void) { return 1; }\n"),
        ],
    );
    let registry = NpmRegistry::start_with(vec![pkg]);
    let place = outside();
    let env = ShimEnv::new(&[]);
    for mode in MODES {
        let app = place.path().join(format!("app-{mode}"));
        write_files(
            &app,
            &[("package.json", r#"{"name":"app","version":"1.0.0"}"#)],
        );
        let _ = fs::remove_dir_all(env.home.path().join(".cache/node-gyp"));
        let mut cmd = env.shim("npm");
        cmd.args(["install", "--no-audit", "--no-fund", "pw-native"])
            .env("npm_config_registry", registry.registry_url())
            .env("npm_config_disturl", server.base_url())
            .current_dir(&app);
        let (code, report) = through_shim(&env, mode, &mut cmd, "npm install pw-native");
        assert_eq!(code, 0, "{mode}");
        assert!(
            app.join("node_modules/pw-native/build/Release/pwnative.node")
                .is_file(),
            "{mode}: the addon was built"
        );
        assert!(
            server.was_requested(&format!("/{version}/{name}")),
            "{mode}"
        );
        let port = server.port();
        let hits: Vec<&Value> = report["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["host"] == "127.0.0.1" && e["port"] == port)
            .collect();
        assert!(
            !hits.is_empty() && hits.iter().all(|e| e["verdict"] == "allowed"),
            "{mode}: {:#}",
            report["endpoints"]
        );
    }
    // The last build left the headers in node-gyp's devdir. Package code
    // now only reads them (they are no longer its to write): the next build
    // still works, and downloads nothing.
    let dev = env.home.path().join(".cache/node-gyp").join(&version[1..]);
    assert!(
        dev.join("installVersion").is_file(),
        "headers left in {dev:?}"
    );
    let app = place.path().join("app-again");
    write_files(
        &app,
        &[("package.json", r#"{"name":"app","version":"1.0.0"}"#)],
    );
    let before = server.requests().len();
    let mut cmd = env.shim("npm");
    cmd.args(["install", "--no-audit", "--no-fund", "pw-native"])
        .env("npm_config_registry", registry.registry_url())
        .env("npm_config_disturl", server.base_url())
        .current_dir(&app);
    let (code, report) = through_shim(&env, "protect", &mut cmd, "npm install pw-native");
    assert_eq!(code, 0, "{report:#}");
    assert!(
        app.join("node_modules/pw-native/build/Release/pwnative.node")
            .is_file(),
        "built against the headers already there"
    );
    let downloads = &server.requests()[before..];
    assert!(downloads.is_empty(), "downloaded again: {downloads:?}");
    assert!(
        !report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| matches!(f["severity"].as_str(), Some("medium" | "high" | "critical"))),
        "{:#}",
        report["findings"]
    );
}

/// The machine's real pyenv, when `pip` on PATH is one of its shims (root's
/// on the development machine): `pip install --target` (nothing lands in
/// pyenv's own Python) through pkgwarden exits as it does bare, though
/// pyenv rehashes its shim directory afterwards, with no finding of medium
/// or more. Elsewhere the pyenv-like fixture above stands in for it.
#[test]
fn real_pyenv_shims_when_present() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let Some(pip) = std::env::split_paths(&path)
        .map(|d| d.join("pip"))
        .find(|p| p.is_file())
    else {
        return;
    };
    let text = fs::read_to_string(&pip).unwrap_or_default();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    if !(last.contains(" exec \"$program\" \"$@\"") && text.contains("PYENV_ROOT")) {
        eprintln!("pip on PATH is not a pyenv shim: nothing to test here");
        return;
    }
    let src = tempfile::tempdir().unwrap();
    write_files(
        src.path(),
        &[("pwcli/__init__.py", "def main():\n    print('hi')\n")],
    );
    let fx = PipFixture {
        name: "pwcli".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture with a command".into()),
        requires_dist: vec![],
        dir: src.path().to_path_buf(),
    };
    let index = PypiIndex::start_with(vec![with_entry_point(
        build_wheel(&fx),
        "pwcli",
        "pwcli:main",
    )]);
    let place = outside();
    let env = ShimEnv::new(&[]);
    let args = |cmd: &mut std::process::Command, target: &Path| {
        cmd.args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "--index-url",
        ])
        .arg(index.index_url())
        .arg("--target")
        .arg(target)
        .arg("pwcli")
        .current_dir(place.path());
    };
    let mut bare = env.bare(&pip);
    args(&mut bare, &place.path().join("bare"));
    let bare_code = run(&mut bare).status.code();
    for mode in MODES {
        let mut cmd = env.shim("pip");
        args(&mut cmd, &place.path().join(mode));
        let (code, _) = through_shim(&env, mode, &mut cmd, "pip install through pyenv");
        assert_eq!(Some(code), bare_code, "{mode}");
        assert!(place.path().join(mode).join("pwcli").is_dir(), "{mode}");
    }
}

/// `pkgwarden plan --json -- pip install x` with `venv`'s pip first on PATH.
fn pip_plan(home: &support::TestHome, venv: &Path) -> Value {
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = run(home
        .command(support::pkgwarden_bin())
        .env("PATH", path)
        .args(["plan", "--json", "--", "pip", "install", "x"]));
    support::assert_success(&out, "pkgwarden plan");
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["plan"].clone()
}

/// Fresh virtualenvs share what pip says of itself (asked once: importing
/// pip is most of a cold probe, paid by every CI job's new venv), and
/// never what differs between them: each one's own `pip.conf` path, a
/// venv with a `pip.conf` of its own, a user `pip.conf` changed since.
#[test]
fn fresh_virtualenvs_share_pips_own_facts_but_not_their_configuration() {
    let home = support::TestHome::new();
    let registries = |plan: &Value| plan["registries"].to_string();
    let (a, b) = (support::venv(&home), support::venv(&home));
    let first = pip_plan(&home, &a);
    let facts = home.state_dir().join("pkgwarden/cache/facts");
    let kept: Vec<PathBuf> = fs::read_dir(&facts)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("pip-core-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    // The second venv's facts come from what the first one's pip said
    // (a marker put into the kept answer shows through), with its own
    // pip.conf in place of the first one's.
    let text = fs::read_to_string(&kept[0]).unwrap();
    let original = first["registries"][0].as_str().unwrap().to_string();
    fs::write(
        &kept[0],
        text.replace(&original, "http://127.0.0.1:7/kept/simple/"),
    )
    .unwrap();
    let second = pip_plan(&home, &b);
    assert!(
        registries(&second).contains("127.0.0.1:7/kept"),
        "{second:#}"
    );
    let files = second["config_files"].to_string();
    assert!(
        files.contains(&b.join("pip.conf").display().to_string()),
        "{files}"
    );
    assert!(
        !files.contains(&a.join("pip.conf").display().to_string()),
        "{files}"
    );
    // A venv with a pip.conf of its own is asked.
    let c = support::venv(&home);
    fs::write(
        c.join("pip.conf"),
        "[global]\nindex-url = http://127.0.0.1:9/own/simple/\n",
    )
    .unwrap();
    let own = pip_plan(&home, &c);
    assert!(registries(&own).contains("127.0.0.1:9/own"), "{own:#}");
    // A user pip.conf written since: the next new venv is asked too.
    let user = home.config_dir().join("pip/pip.conf");
    fs::create_dir_all(user.parent().unwrap()).unwrap();
    fs::write(
        &user,
        "[global]\nindex-url = http://127.0.0.1:8/user/simple/\n",
    )
    .unwrap();
    let d = support::venv(&home);
    let changed = pip_plan(&home, &d);
    assert!(
        registries(&changed).contains("127.0.0.1:8/user"),
        "{changed:#}"
    );
}
