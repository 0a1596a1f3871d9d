//! uv and pipx installs through the shims, sandboxed by default, from a
//! PEP 503 index on loopback configured the way a user configures it (uv's
//! own `uv.toml`, `pyproject.toml`, `--default-index`, pipx's
//! `--index-url`). Benign installs must leave a report with the index host
//! allowed (no host list written by hand) and no finding of medium or more;
//! a wheel shipping an executing `.pth` must be found, and fail block mode.
//!
//! uv and pipx come from `.ci/run` (a virtualenv under /opt linked into
//! /usr/local/bin).

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use support::pypi::build_wheel;
use support::*;

const BLOCKED: i32 = 90;

/// The real tool on PATH, or a failure that says where it comes from.
fn need(tool: &str) -> PathBuf {
    which::which(tool).unwrap_or_else(|_| {
        panic!("`{tool}` is not on PATH: .ci/run installs it (python3 -m venv /opt/pkgwarden-pytools with uv, pipx and poetry, linked into /usr/local/bin)")
    })
}

/// A wheel of `name` 1.0.0 holding `files`.
fn wheel(name: &str, files: &[(&str, &[u8])]) -> Dist {
    let dir = tempfile::tempdir().unwrap();
    for (rel, data) in files {
        let p = dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    build_wheel(&PipFixture {
        name: name.into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture".into()),
        requires_dist: vec![],
        dir: dir.path().to_path_buf(),
    })
}

/// A wheel with a console script `name` (pipx installs only packages
/// with apps), plus `extra` files.
fn app_wheel(name: &str, extra: &[(&str, &[u8])]) -> Dist {
    let entry = format!("{name}-1.0.0.dist-info/entry_points.txt");
    let script = format!("[console_scripts]\n{name} = {name}:main\n");
    let init = format!("{name}/__init__.py");
    let mut files: Vec<(&str, &[u8])> = vec![
        (&init, b"def main():\n    print('hello')\n"),
        (&entry, script.as_bytes()),
    ];
    files.extend_from_slice(extra);
    wheel(name, &files)
}

/// An app whose `.pth` runs code at every interpreter start (inert: it
/// writes a marker in HOME).
fn pth_wheel(name: &str) -> Dist {
    let pth = fs::read(crate_root().join("tests/fixtures/incidents/pth-exec.pth")).unwrap();
    app_wheel(name, &[(&format!("{name}.pth"), &pth)])
}

/// One install through a shim: exit code, stderr and the report it left.
struct Installed {
    code: i32,
    stderr: String,
    report: Value,
}

impl Installed {
    fn findings(&self) -> &Vec<Value> {
        self.report["findings"].as_array().unwrap()
    }

    fn finding(&self, rule: &str) -> &Value {
        self.findings()
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap_or_else(|| {
                panic!(
                    "no {rule} finding\nstderr:\n{}\nfindings: {:#}\nfiles: {:#}",
                    self.stderr, self.report["findings"], self.report["files"]
                )
            })
    }

    /// Findings of medium severity or more.
    fn serious(&self) -> Vec<&Value> {
        support::installs::serious(&self.report)
    }

    /// The index on loopback was reached and let through as a registry.
    fn allowed(&self, port: u16) {
        let hits: Vec<&Value> = self.report["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["host"] == "127.0.0.1" && e["port"] == port)
            .collect();
        assert!(
            !hits.is_empty(),
            "the index was never asked: {:#}",
            self.report["endpoints"]
        );
        assert!(
            hits.iter().all(|e| e["verdict"] == "allowed"),
            "the index is not an allowed registry: {hits:#?}"
        );
    }
}

/// `tool ARGS` typed in `cwd` through the shim, in `mode`, with `path` (when
/// given) as PATH; the one report it must leave.
fn install(
    env: &ShimEnv,
    mode: &str,
    tool: &str,
    args: &[&str],
    cwd: &Path,
    path: Option<&std::ffi::OsStr>,
) -> Installed {
    let before = env.report_files();
    let mut cmd = env.shim(tool);
    cmd.args(args)
        .current_dir(cwd)
        .env("PKGWARDEN_MODE", mode)
        .env("UV_NO_PROGRESS", "1");
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let out = run(&mut cmd);
    let stderr = stderr_str(&out);
    assert!(
        stderr.contains(SANDBOXED),
        "{tool} {args:?}: not sandboxed by default\n{stderr}"
    );
    let new = env.reports_since(&before);
    assert_eq!(new.len(), 1, "{mode}: one new report expected, got {new:?}");
    Installed {
        code: out.status.code().unwrap_or(-1),
        stderr,
        report: serde_json::from_slice(&fs::read(&new[0]).unwrap()).unwrap(),
    }
}

/// `uv venv` (not an install: passed through) in a new project directory.
fn uv_project(env: &ShimEnv) -> PathBuf {
    need("uv");
    let project = env.home.subdir("proj");
    let out = run(env
        .shim("uv")
        .args(["venv", "-q", "--python"])
        .arg(python3())
        .current_dir(&project));
    assert_success(&out, "uv venv");
    assert!(env.report_files().is_empty(), "`uv venv` is not an install");
    project
}

/// The site-packages directory of the project's `.venv`.
fn venv_site(project: &Path) -> PathBuf {
    let lib = project.join(".venv/lib");
    let py = fs::read_dir(&lib)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("python"))
        .unwrap_or_else(|| panic!("no python* in {}", lib.display()));
    py.path().join("site-packages")
}

/// An index serving one plain package, `pwplain`.
fn plain_index() -> PypiIndex {
    PypiIndex::start_with(vec![wheel(
        "pwplain",
        &[("pwplain/__init__.py", b"x = 1\n")],
    )])
}

#[test]
fn uv_pip_install_from_the_index_in_uv_toml_is_sandboxed_and_quiet() {
    let index = plain_index();
    let env = ShimEnv::new(&[]);
    // The user's own uv configuration names the index.
    let conf = env.home.config_dir().join("uv");
    fs::create_dir_all(&conf).unwrap();
    fs::write(
        conf.join("uv.toml"),
        format!(
            "[[index]]\nurl = \"{}\"\ndefault = true\n",
            index.index_url()
        ),
    )
    .unwrap();
    let project = uv_project(&env);
    for mode in ["protect", "block"] {
        let r = install(
            &env,
            mode,
            "uv",
            &["pip", "install", "pwplain"],
            &project,
            None,
        );
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        assert!(r.serious().is_empty(), "{mode}: {:#?}", r.serious());
        r.allowed(index.port());
        assert!(venv_site(&project).join("pwplain/__init__.py").is_file());
        let out = run(env
            .shim("uv")
            .args(["pip", "uninstall", "-q", "pwplain"])
            .current_dir(&project));
        assert_success(&out, "uv pip uninstall");
    }
}

#[test]
fn uv_pip_install_of_a_wheel_shipping_an_exec_pth() {
    let index = PypiIndex::start_with(vec![pth_wheel("pwuvpth")]);
    let env = ShimEnv::new(&[]);
    let project = uv_project(&env);
    let url = index.index_url();
    let args = ["pip", "install", "--default-index", &url, "pwuvpth"];
    let p = install(&env, "protect", "uv", &args, &project, None);
    assert_eq!(p.code, 0, "{}", p.stderr);
    p.allowed(index.port());
    let f = p.finding("persist.python-startup");
    assert_eq!(f["severity"], "high", "{f:#}");
    assert_eq!(f["package"], "pwuvpth@1.0.0", "{f:#}");
    assert!(
        f["attack"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "T1546.018")
    );
    let pth = venv_site(&project).join("pwuvpth.pth");
    assert!(pth.is_file());
    let out = run(env
        .shim("uv")
        .args(["pip", "uninstall", "-q", "pwuvpth"])
        .current_dir(&project));
    assert_success(&out, "uv pip uninstall");

    let b = install(&env, "block", "uv", &args, &project, None);
    assert_eq!(b.code, BLOCKED, "{}", b.stderr);
    assert_eq!(b.finding("persist.python-startup")["action"], "quarantined");
    assert!(!pth.exists(), "block mode left {}", pth.display());
}

#[test]
fn uv_add_locks_and_syncs_the_project_in_block_mode() {
    let index = plain_index();
    let env = ShimEnv::new(&[]);
    let project = uv_project(&env);
    // The project names its index, as uv's documentation shows.
    fs::write(
        project.join("pyproject.toml"),
        format!(
            "[project]\nname = \"proj\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = []\n\n[[tool.uv.index]]\nurl = \"{}\"\ndefault = true\n",
            index.index_url()
        ),
    )
    .unwrap();
    // Block: the install may write only where the plan says.
    let r = install(&env, "block", "uv", &["add", "pwplain"], &project, None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.serious().is_empty(), "{:#?}", r.serious());
    r.allowed(index.port());
    let lock = fs::read_to_string(project.join("uv.lock")).unwrap();
    assert!(lock.contains("pwplain"), "{lock}");
    assert!(
        fs::read_to_string(project.join("pyproject.toml"))
            .unwrap()
            .contains("pwplain")
    );
    assert!(venv_site(&project).join("pwplain/__init__.py").is_file());
}

/// PATH with HOME/.local/bin first after the shims, as `pipx ensurepath`
/// leaves it.
fn with_local_bin(env: &ShimEnv) -> std::ffi::OsString {
    let local = env.home.path().join(".local/bin");
    fs::create_dir_all(&local).unwrap();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&env.path).collect();
    dirs.insert(1, local);
    std::env::join_paths(dirs).unwrap()
}

#[test]
fn uv_tool_install_links_its_app_and_stays_quiet() {
    need("uv");
    let index = PypiIndex::start_with(vec![app_wheel("pwtool", &[])]);
    let env = ShimEnv::new(&[]);
    let path = with_local_bin(&env);
    let url = index.index_url();
    let args = ["tool", "install", "--default-index", &url, "pwtool"];
    let r = install(&env, "block", "uv", &args, env.home.path(), Some(&path));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // uv links the entry point as ~/.local/share/../bin/pwtool: still the
    // package's own, written by uv.
    assert!(r.serious().is_empty(), "{:#?}", r.serious());
    r.allowed(index.port());
    assert!(env.home.path().join(".local/bin/pwtool").exists());
}

#[test]
fn pipx_install_links_its_app_and_stays_quiet() {
    need("pipx");
    let index = PypiIndex::start_with(vec![app_wheel("pwapp", &[])]);
    let env = ShimEnv::new(&[]);
    let path = with_local_bin(&env);
    let url = index.index_url();
    let link = env.home.path().join(".local/bin/pwapp");
    for mode in ["protect", "block"] {
        let r = install(
            &env,
            mode,
            "pipx",
            &["install", "--index-url", &url, "pwapp"],
            env.home.path(),
            Some(&path),
        );
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        assert!(r.serious().is_empty(), "{mode}: {:#?}", r.serious());
        r.allowed(index.port());
        assert!(link.exists(), "{mode}: no {}", link.display());
        let out = run(env
            .shim("pipx")
            .args(["uninstall", "pwapp"])
            .env("PATH", &path));
        assert_success(&out, "pipx uninstall");
    }
}

#[test]
fn pipx_install_of_a_wheel_shipping_an_exec_pth() {
    need("pipx");
    let index = PypiIndex::start_with(vec![pth_wheel("pwpipxpth")]);
    let env = ShimEnv::new(&[]);
    let path = with_local_bin(&env);
    let url = index.index_url();
    let args = ["install", "--index-url", &url, "pwpipxpth"];
    let home = env.home.path().to_path_buf();
    let p = install(&env, "protect", "pipx", &args, &home, Some(&path));
    let f = p.finding("persist.python-startup");
    assert_eq!(f["severity"], "high", "{f:#}");
    assert_eq!(f["package"], "pwpipxpth@1.0.0", "{f:#}");
    let pth = PathBuf::from(f["evidence"]["paths"][0].as_str().unwrap());
    assert!(
        pth.starts_with(env.home.data_dir().join("pipx")),
        "{}",
        pth.display()
    );
    let out = run(env
        .shim("pipx")
        .args(["uninstall", "pwpipxpth"])
        .env("PATH", &path));
    assert_success(&out, "pipx uninstall");

    let b = install(&env, "block", "pipx", &args, &home, Some(&path));
    assert_eq!(b.code, BLOCKED, "{}", b.stderr);
    assert_eq!(b.finding("persist.python-startup")["action"], "quarantined");
    assert!(!pth.exists(), "block mode left {}", pth.display());
}

/// A poetry project whose only source is the loopback index, its
/// environment in the project and made with poetry's own Python (`poetry
/// config --local`: passed through), then created by `poetry install`
/// (sandboxed, block mode: nothing to install, nothing found).
fn poetry_project(env: &ShimEnv, name: &str, index: &PypiIndex) -> PathBuf {
    need("poetry");
    let before = env.report_files();
    let settings = [
        ("virtualenvs.in-project", "true"),
        ("virtualenvs.use-poetry-python", "true"),
    ];
    let project = support::pypi::poetry_project(env, name, index, &settings);
    assert_eq!(
        env.report_files(),
        before,
        "poetry config is not an install"
    );
    let r = install(env, "block", "poetry", &["install"], &project, None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.serious().is_empty(), "{:#?}", r.serious());
    assert!(venv_site(&project).is_dir());
    project
}

#[test]
fn poetry_add_from_the_project_source_is_sandboxed_and_quiet() {
    let index = plain_index();
    let env = ShimEnv::new(&[]);
    let project = poetry_project(&env, "poetryproj", &index);
    // Block: writes only where the plan says, unknown hosts refused.
    let r = install(&env, "block", "poetry", &["add", "pwplain"], &project, None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.serious().is_empty(), "{:#?}", r.serious());
    r.allowed(index.port());
    let lock = fs::read_to_string(project.join("poetry.lock")).unwrap();
    assert!(lock.contains("pwplain"), "{lock}");
    assert!(venv_site(&project).join("pwplain/__init__.py").is_file());
}

#[test]
fn poetry_add_of_a_wheel_shipping_an_exec_pth() {
    let index = PypiIndex::start_with(vec![pth_wheel("pwpoetrypth")]);
    let env = ShimEnv::new(&[]);
    let args = ["add", "pwpoetrypth"];
    let a = poetry_project(&env, "protected", &index);
    let p = install(&env, "protect", "poetry", &args, &a, None);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let f = p.finding("persist.python-startup");
    assert_eq!(f["severity"], "high", "{f:#}");
    assert_eq!(f["package"], "pwpoetrypth@1.0.0", "{f:#}");
    assert!(venv_site(&a).join("pwpoetrypth.pth").is_file());

    let b = poetry_project(&env, "blocked", &index);
    let r = install(&env, "block", "poetry", &args, &b, None);
    assert_eq!(r.code, BLOCKED, "{}", r.stderr);
    assert_eq!(r.finding("persist.python-startup")["action"], "quarantined");
    assert!(!venv_site(&b).join("pwpoetrypth.pth").exists());
}
