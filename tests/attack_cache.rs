//! Round 3 against package code's nested domain and the split of `~/.cache`
//! around the manager's caches (src/sandbox/nest.rs `spec()`): ways into
//! pip's cache the split missed. Real pip, a loopback index, inert fixtures
//! (markers in the temporary HOME).

use crate::support;

use std::fs;
use std::path::Path;
use support::installs::{Installed, install};
use support::pypi::{PipFixture, build_requirements, build_sdist};
use support::*;

/// setup.py that plants an inert marker in pip's cache (wherever HOME's
/// `.cache/pip` leads), then builds normally.
const PLANT: &str = r#"import os, sys
cache = os.path.join(os.path.expanduser("~"), ".cache", "pip")
try:
    os.makedirs(os.path.join(cache, "wheels"), exist_ok=True)
    with open(os.path.join(cache, "wheels", "PLANTED"), "w") as f:
        f.write("inert marker: package code wrote pip's cache\n")
    print("PWPLANT ok", file=sys.stderr)
except OSError as e:
    print("PWPLANT refused %d" % e.errno, file=sys.stderr)
from setuptools import setup
setup(name="pwc", version="1.0.0", packages=["pwc"])
"#;

fn project(dir: &Path) {
    fs::create_dir_all(dir.join("pwc")).unwrap();
    fs::write(dir.join("setup.py"), PLANT).unwrap();
    fs::write(dir.join("pwc/__init__.py"), "").unwrap();
}

fn pip(env: &ShimEnv, index: &PypiIndex, mode: &str, args: &[&str], cwd: &Path) -> Installed {
    let url = index.index_url();
    let mut a = vec!["pip", "install", "-v", "--index-url", &url];
    a.extend_from_slice(args);
    install(env, mode, &a, cwd, &[])
}

fn assert_not_planted(env: &ShimEnv, mode: &str, r: &Installed) {
    let text = format!("{}\n{}", r.stdout, r.stderr);
    assert!(
        text.contains("PWPLANT"),
        "{mode}: setup.py never ran\n{text}"
    );
    let planted = env.home.path().join(".cache/pip/wheels/PLANTED");
    assert!(
        !planted.exists(),
        "{mode}: setup.py wrote pip's cache\n{text}"
    );
    let f = r.finding("tamper.manager-cache");
    assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
}

/// Class: the split of `~/.cache` compares the plan's caches with the real
/// path of `~/.cache`; a cache that does not exist yet cannot be resolved,
/// so when `~/.cache` is a link (dotfiles kept elsewhere, HOME reached
/// through a link) pip's cache "is not in it" and `~/.cache` is granted
/// whole. pip makes its cache during the install (the download), and
/// package code then writes it. Secure: refused and reported.
#[test]
fn a_cache_not_made_yet_under_a_linked_home_cache_is_still_split_out() {
    for mode in ["protect", "block"] {
        let src = tempfile::tempdir().unwrap();
        let mut dists = build_requirements();
        let dir = src.path().join("pwc");
        project(&dir);
        dists.push(build_sdist(&PipFixture {
            name: "pwc".into(),
            version: "1.0.0".into(),
            summary: Some("Inert pkgwarden fixture".into()),
            requires_dist: vec![],
            dir,
        }));
        let index = PypiIndex::start_with(dists);
        let venv_home = TestHome::new();
        let venv = venv(&venv_home);
        let env = ShimEnv::new(&[&venv.join("bin")]);
        let home = env.home.path();
        let _ = fs::remove_dir_all(home.join(".cache"));
        fs::create_dir_all(home.join("dotfiles/cache/other")).unwrap();
        std::os::unix::fs::symlink(home.join("dotfiles/cache"), home.join(".cache")).unwrap();
        let r = pip(&env, &index, mode, &["--use-pep517", "pwc"], home);
        assert_not_planted(&env, mode, &r);
    }
}

/// Class: the legacy `setup.py develop` shape (`writes_roots`) is given the
/// spec's `own_roots`, which since the split also hold the manager's caches
/// (so that uv's hooks may write their source tree in uv's cache): a local
/// project's `setup.py` run by `pip install --no-use-pep517 -e` may write
/// pip's cache whole. Secure: refused and reported.
#[test]
fn legacy_setup_py_develop_cannot_write_pips_cache() {
    for mode in ["protect", "block"] {
        let index = PypiIndex::start_with(build_requirements());
        let venv_home = TestHome::new();
        let venv = venv(&venv_home);
        let env = ShimEnv::new(&[&venv.join("bin")]);
        let home = env.home.path();
        fs::create_dir_all(home.join(".cache/pip/wheels")).unwrap();
        // setuptools and wheel in the venv (legacy mode builds without isolation).
        let url = index.index_url();
        let out = run(env.bare(venv_bin(&venv, "pip")).args([
            "install",
            "--index-url",
            &url,
            "setuptools",
            "wheel",
        ]));
        assert!(out.status.success(), "{}", stderr_str(&out));
        let proj = home.join("proj");
        project(&proj);
        let r = pip(
            &env,
            &index,
            mode,
            &["--no-use-pep517", "--no-build-isolation", "-e", "."],
            &proj,
        );
        assert_not_planted(&env, mode, &r);
    }
}

/// setup.py that first runs `prep` (Python), then writes `target`.
fn planter(prep: &str, target: &Path) -> String {
    format!(
        r#"import os, sys
{prep}
try:
    with open({target:?}, "w") as f:
        f.write("inert marker: package code wrote pip's cache\n")
    print("PWPLANT ok", file=sys.stderr)
except OSError as e:
    print("PWPLANT refused %d" % e.errno, file=sys.stderr)
from setuptools import setup
setup(name="pwc", version="1.0.0", packages=["pwc"])
"#
    )
}

/// Installs sdist pwc whose setup.py is `setup` (pip's cache exists, with
/// `wheels/`), with `vars` in the install's environment.
fn plant_case(
    mode: &str,
    setup: impl Fn(&Path) -> String,
    vars: impl Fn(&Path) -> Vec<(&'static str, String)>,
) -> (ShimEnv, Installed) {
    let src = tempfile::tempdir().unwrap();
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let home = env.home.path().to_path_buf();
    let dir = src.path().join("pwc");
    fs::create_dir_all(dir.join("pwc")).unwrap();
    fs::write(dir.join("setup.py"), setup(&home)).unwrap();
    fs::write(dir.join("pwc/__init__.py"), "").unwrap();
    let mut dists = build_requirements();
    dists.push(build_sdist(&PipFixture {
        name: "pwc".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture".into()),
        requires_dist: vec![],
        dir,
    }));
    let index = PypiIndex::start_with(dists);
    let url = index.index_url();
    let r = install(
        &env,
        mode,
        &[
            "pip",
            "install",
            "-v",
            "--use-pep517",
            "--index-url",
            &url,
            "pwc",
        ],
        &home,
        &vars(&home),
    );
    (env, r)
}

/// Class: a link package code makes at run time inside a part of `~/.cache`
/// it may write (`~/.cache/other/lnk -> ~/.cache/pip`), written through.
/// landlock judges what the path resolves to; the report must name the
/// attempt although the path written does not start with pip's cache.
#[test]
fn a_link_made_in_a_granted_cache_dir_does_not_lead_into_pips_cache() {
    for mode in ["protect", "block"] {
        let (env, r) = plant_case(
            mode,
            |home| {
                fs::create_dir_all(home.join(".cache/pip/wheels")).unwrap();
                fs::create_dir_all(home.join(".cache/other")).unwrap();
                planter(
                    &format!(
                        "try:\n    os.symlink({:?}, {:?})\nexcept OSError as e:\n    print('PWLINK refused %d' % e.errno, file=sys.stderr)",
                        home.join(".cache/pip"),
                        home.join(".cache/other/lnk")
                    ),
                    &home.join(".cache/other/lnk/wheels/PLANTED"),
                )
            },
            |_| vec![],
        );
        if format!("{}{}", r.stdout, r.stderr).contains("PWLINK refused 13") {
            // The link itself was refused (block grants no `~/.cache/other`).
            assert_eq!(mode, "block", "{}", r.stderr);
            assert!(!env.home.path().join(".cache/pip/wheels/PLANTED").exists());
            continue;
        }
        assert_not_planted(&env, mode, &r);
    }
}

/// Class: pip's cache outside `~/.cache` (`XDG_CACHE_HOME` set by the
/// user): the split does not apply, and the cache must not be granted to
/// package code at all; the attempt is reported.
#[test]
fn pips_cache_under_the_users_xdg_cache_home_is_not_granted() {
    for mode in ["protect", "block"] {
        let (env, r) = plant_case(
            mode,
            |home| {
                fs::create_dir_all(home.join("xdg/pip/wheels")).unwrap();
                fs::create_dir_all(home.join(".cache/pip/wheels")).unwrap();
                planter("", &home.join("xdg/pip/wheels/PLANTED"))
            },
            |home| vec![("XDG_CACHE_HOME", home.join("xdg").display().to_string())],
        );
        let text = format!("{}\n{}", r.stdout, r.stderr);
        assert!(text.contains("PWPLANT"), "{mode}: never ran\n{text}");
        assert!(
            !env.home.path().join("xdg/pip/wheels/PLANTED").exists(),
            "{mode}: setup.py wrote pip's cache\n{text}"
        );
        let f = r.finding("tamper.manager-cache");
        assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
    }
}

/// The uv hook's setup.py: appends an inert comment to the setuptools its
/// own build environment (in `<uv cache>/builds-v0`, which uv's hooks may
/// write) imports. uv installs a build environment by hard-linking the
/// files of its cache of unpacked wheels (`archive-v0`).
const UV_POISON: &str = r#"import os, sys, setuptools
p = setuptools.__file__
try:
    n = os.stat(p).st_nlink
    with open(p, "a") as f:
        f.write("\n# PWPOISON inert marker: pwu changed setuptools\n")
    msg = "PWUV ok nlink=%d %s" % (n, p)
except OSError as e:
    msg = "PWUV refused %d %s" % (e.errno, p)
# uv shows a build's output only when it fails: the test reads it here.
probe = os.path.join(os.path.expanduser("~"), ".cache", "uv", "builds-v0", "pw-probe.txt")
with open(probe, "a") as f:
    f.write(msg + "\n")
from setuptools import setup
setup(name="pwu", version="1.0.0", packages=["pwu"])
"#;

fn poisoned_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            poisoned_files(&p, out);
        } else if t.is_file()
            && p.extension().is_some_and(|x| x == "py")
            && fs::read_to_string(&p).is_ok_and(|s| s.contains("PWPOISON"))
        {
            out.push(p);
        }
    }
}

/// Class: a uv hook writes a file of its own build environment in place;
/// the file is a hard link into uv's cache of unpacked wheels, which every
/// later build and `uv pip install setuptools` links from without a check.
/// Secure: uv's `archive-v0` holds no changed file after the install.
#[test]
fn a_uv_hook_cannot_change_uvs_unpacked_wheels_through_its_build_env() {
    for mode in ["protect", "block"] {
        let src = tempfile::tempdir().unwrap();
        let venv_home = TestHome::new();
        let venv = venv(&venv_home);
        let env = ShimEnv::new(&[&venv.join("bin")]);
        let home = env.home.path().to_path_buf();
        fs::create_dir_all(home.join(".cache")).unwrap();
        let dir = src.path().join("pwu");
        fs::create_dir_all(dir.join("pwu")).unwrap();
        fs::write(dir.join("setup.py"), UV_POISON).unwrap();
        fs::write(dir.join("pwu/__init__.py"), "").unwrap();
        let mut dists = build_requirements();
        dists.push(build_sdist(&PipFixture {
            name: "pwu".into(),
            version: "1.0.0".into(),
            summary: Some("Inert pkgwarden fixture".into()),
            requires_dist: vec![],
            dir,
        }));
        let index = PypiIndex::start_with(dists);
        let url = index.index_url();
        let python = venv_bin(&venv, "python");
        let r = install(
            &env,
            mode,
            &[
                "uv",
                "pip",
                "install",
                "--python",
                python.to_str().unwrap(),
                "--index-url",
                &url,
                "pwu",
            ],
            &home,
            &[],
        );
        let probe =
            fs::read_to_string(home.join(".cache/uv/builds-v0/pw-probe.txt")).unwrap_or_default();
        let text = format!("{probe}\n{}\n{}", r.stdout, r.stderr);
        assert!(probe.contains("PWUV"), "{mode}: setup.py never ran\n{text}");
        let mut bad = Vec::new();
        poisoned_files(&home.join(".cache/uv/archive-v0"), &mut bad);
        assert!(
            bad.is_empty(),
            "{mode}: uv's unpacked wheels changed by package code: {bad:?}\n{text}"
        );
    }
}

/// Class: package code starts a child whose command line has a shape with
/// more rights (the legacy `setup.py install`, which may write the
/// install's roots): the child's domain stacks on its parent's, so it
/// gains nothing. Secure: site-packages refuses the child's write.
#[test]
fn a_child_of_package_code_gains_nothing_from_a_richer_shape() {
    const CHILD: &str = r#"import os, subprocess, sys
code = '''import sys, sysconfig, os
p = os.path.join(sysconfig.get_paths()["purelib"], "PW-ESCALATED")
try:
    open(p, "w").write("inert marker\\n")
    print("PWPLANT ok " + p, file=sys.stderr)
except OSError as e:
    print("PWPLANT refused %d" % e.errno, file=sys.stderr)
'''
subprocess.run([sys.executable, "-c", code, "setup.py", "install"])
from setuptools import setup
setup(name="pwc", version="1.0.0", packages=["pwc"])
"#;
    for mode in ["protect", "block"] {
        let (_env, r) = plant_case(mode, |_| CHILD.to_string(), |_| vec![]);
        let text = format!("{}\n{}", r.stdout, r.stderr);
        assert!(
            text.contains("PWPLANT refused"),
            "{mode}: never ran\n{text}"
        );
        assert!(!text.contains("PWPLANT ok"), "{mode}: escalated\n{text}");
    }
}
