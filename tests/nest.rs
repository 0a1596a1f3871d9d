//! Package code started as a plain child process runs in a nested domain
//! (issue 9.10, DESIGN.md principle 9): pip's build backend running an
//! sdist's `setup.py` cannot write the target site-packages (a `.pth`),
//! another installed package's file, or a local project's `.git/hooks` and
//! sources, although the install itself may; a benign sdist and a local
//! `pip install -e .` still install cleanly. Real pip, a loopback index, in
//! protect and block, as root and unprivileged.

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use support::installs::{Installed, install};
use support::pypi::{PipFixture, build_requirements, build_sdist};
use support::*;

const BLOCKED: i32 = 90;

/// An inert setup.py that tries each write, records what happened and
/// prints it (pip -v shows it), then builds normally.
fn probe_setup(name: &str) -> String {
    format!(
        r##"import json, os, sysconfig, tempfile
# uv builds in a virtualenv of its own: the test names the target's.
site = os.environ.get("PW_TARGET_SITE") or sysconfig.get_paths()["purelib"]
home = os.path.expanduser("~")
r = {{}}
def t(k, f):
    try:
        f(); r[k] = "ok"
    except OSError as e:
        r[k] = {{13: "EACCES", 1: "EPERM", 2: "ENOENT"}}.get(e.errno, str(e.errno))
def w(p, mode="w"):
    def f():
        with open(p, mode) as fh:
            fh.write("# pkgwarden fixture\n")
    return f
t("pth", w(os.path.join(site, "pw-nest-evil.pth")))
t("other_package", w(os.path.join(site, "pip", "__init__.py"), "a"))
t("git_hook", w(os.path.join(os.getcwd(), ".git", "hooks", "pre-commit")))
t("project_file", w(os.path.join(os.getcwd(), "pw-stolen.txt")))
t("home", w(os.path.join(home, "pw-stray.txt")))
t("tmp", w(os.path.join(tempfile.gettempdir(), "pw-tmp.txt")))
# The manager's cache, where the test names it (a later install trusts it).
if os.environ.get("PW_MANAGER_CACHE"):
    t("manager_cache", w(os.path.join(os.environ["PW_MANAGER_CACHE"], "pw-nest.txt")))
import sys
print("PWNEST-{name} " + json.dumps(r), file=sys.stderr)
# uv shows a build's output only when it fails: the same line in a file
# the test names (in uv's build directory, which package code may write).
out = os.environ.get("PW_PROBE_DIR")
if out:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "{name}.jsonl"), "a") as fh:
        fh.write(json.dumps(r) + "\n")
from setuptools import setup
setup(name="{name}", version="1.0.0", packages=["{name}"])
"##
    )
}

fn write_tree(dir: &Path, files: &[(&str, String)]) {
    for (rel, data) in files {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
}

struct Case {
    env: ShimEnv,
    index: PypiIndex,
    _src: tempfile::TempDir,
    _venv_home: TestHome,
    venv: PathBuf,
    site: PathBuf,
}

fn case(sdists: &[(&str, String)]) -> Case {
    let src = tempfile::tempdir().unwrap();
    let mut dists = build_requirements();
    for (name, setup) in sdists {
        let dir = src.path().join(name);
        write_tree(
            &dir,
            &[
                ("setup.py", setup.clone()),
                (&format!("{name}/__init__.py"), String::new()),
            ],
        );
        dists.push(build_sdist(&PipFixture {
            name: name.to_string(),
            version: "1.0.0".into(),
            summary: Some("Inert pkgwarden fixture".into()),
            requires_dist: vec![],
            dir,
        }));
    }
    let index = PypiIndex::start_with(dists);
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let lib = venv.join("lib");
    let py = fs::read_dir(&lib)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("python"))
        .unwrap();
    let site = py.path().join("site-packages");
    Case {
        env,
        index,
        _src: src,
        _venv_home: venv_home,
        venv,
        site,
    }
}

impl Case {
    fn pip(&self, mode: &str, args: &[&str], cwd: &Path) -> Installed {
        let url = self.index.index_url();
        let mut a = vec![
            "pip",
            "install",
            "-v",
            // PEP 517 builds: an older pip without `wheel` installs by the
            // legacy `setup.py install`, which may write site-packages.
            "--use-pep517",
            "--no-cache-dir",
            "--index-url",
            &url,
        ];
        a.extend_from_slice(args);
        install(&self.env, mode, &a, cwd, &[])
    }

    /// `uv pip install` into the same virtualenv, uv's cache in `cache`
    /// (its default under the test's HOME when `None`), and what the
    /// probes recorded: uv shows a build's output only when it fails, so
    /// they write it into a file in uv's build directory (`builds-v0`, the
    /// one part of uv's cache package code may write).
    fn uv(&self, mode: &str, name: &str, cache: Option<&Path>) -> (Installed, Vec<Value>) {
        let url = self.index.index_url();
        let python = venv_bin(&self.venv, "python");
        let a = [
            "uv",
            "pip",
            "install",
            "--python",
            python.to_str().unwrap(),
            "--index-url",
            &url,
            name,
        ];
        let default = self.env.home.path().join(".cache/uv");
        let out = cache.unwrap_or(&default).join("builds-v0/pw-probes");
        let mut vars = vec![
            ("PW_TARGET_SITE", self.site.display().to_string()),
            ("PW_PROBE_DIR", out.display().to_string()),
            (
                "PW_MANAGER_CACHE",
                cache.unwrap_or(&default).display().to_string(),
            ),
        ];
        if let Some(c) = cache {
            vars.push(("UV_CACHE_DIR", c.display().to_string()));
        }
        let r = install(&self.env, mode, &a, self.env.home.path(), &vars);
        let text = fs::read_to_string(out.join(format!("{name}.jsonl"))).unwrap_or_default();
        let probes = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // uv keeps the built wheel: the next run builds again.
        let _ = fs::remove_dir_all(cache.unwrap_or(&default));
        (r, probes)
    }

    /// What the probes of package `name` recorded (one per setup.py run;
    /// pip -v passes the backend's output on).
    fn probes(&self, name: &str, r: &Installed) -> Vec<Value> {
        let marker = format!("PWNEST-{name} ");
        format!("{}\n{}", r.stdout, r.stderr)
            .lines()
            .filter_map(|l| l.split_once(marker.as_str()))
            .map(|(_, j)| serde_json::from_str(j.trim()).unwrap())
            .collect()
    }

    fn uninstall(&self, name: &str) {
        let _ = run(self
            .env
            .bare(venv_bin(&self.venv, "pip"))
            .args(["uninstall", "-y", name]));
    }
}

fn medium_or_more(r: &Installed) -> Vec<&Value> {
    r.report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("medium" | "high" | "critical")))
        .collect()
}

fn nest_counts(r: &Installed) -> (u64, u64) {
    let pc = &r.report["sandbox"]["package_code"];
    assert_eq!(pc["mechanism"], "preload", "{pc:#}\n{}", r.stderr);
    (pc["runs"].as_u64().unwrap(), pc["nested"].as_u64().unwrap())
}

/// Package `name`'s build ran confined in `mode`: its probes were refused
/// the target site-packages (a `.pth`, pip's own `__init__.py`) and HOME
/// and allowed the private TMPDIR; nothing was planted; the install itself
/// went through in protect; the refused `.pth` is reported; every package
/// code process was nested.
fn assert_confined(c: &Case, mode: &str, name: &str, r: &Installed, probes: &[Value]) {
    let pip_init = c.site.join("pip/__init__.py");
    assert!(
        !probes.is_empty(),
        "{mode}: setup.py never ran\n{}",
        r.stderr
    );
    for p in probes {
        assert_eq!(p["pth"], "EACCES", "{mode}: {p:#}\n{}", r.stderr);
        assert_eq!(p["other_package"], "EACCES", "{mode}: {p:#}");
        assert_eq!(p["home"], "EACCES", "{mode}: {p:#}");
        assert_eq!(p["tmp"], "ok", "{mode}: {p:#}");
    }
    assert!(
        !c.site.join("pw-nest-evil.pth").exists(),
        "{mode}: the .pth was planted"
    );
    let pip = fs::read_to_string(&pip_init).unwrap();
    assert!(
        !pip.contains("pkgwarden fixture"),
        "{mode}: pip was changed"
    );
    if mode == "protect" {
        assert_eq!(r.code, 0, "{}", r.stderr);
        let installed = c.site.join(format!("{name}/__init__.py"));
        assert!(installed.is_file(), "{}", r.stderr);
    }
    let f = r.finding("persist.python-startup");
    assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
    assert_eq!(f["package"], format!("{name}@1.0.0"), "{mode}: {f:#}");
    let (runs, nested) = nest_counts(r);
    assert!(
        runs >= 1 && runs == nested,
        "{mode}: {runs} runs, {nested} nested"
    );
    assert!(r.findings("sandbox.unnested").is_empty(), "{mode}");
}

#[test]
fn an_sdists_setup_py_writes_neither_site_packages_nor_another_package() {
    let c = case(&[("pwnest", probe_setup("pwnest"))]);
    for mode in ["protect", "block"] {
        let r = c.pip(mode, &["pwnest"], c.env.home.path());
        assert_confined(&c, mode, "pwnest", &r, &c.probes("pwnest", &r));
        c.uninstall("pwnest");
    }
}

#[test]
fn a_local_projects_setup_py_writes_neither_its_git_hooks_nor_its_sources() {
    let c = case(&[]);
    let proj = c.env.home.subdir("proj");
    write_tree(
        &proj,
        &[
            ("setup.py", probe_setup("pwlocal")),
            ("pwlocal/__init__.py", String::new()),
            (".git/hooks/README", "hooks\n".into()),
        ],
    );
    for mode in ["protect", "block"] {
        for editable in [false, true] {
            let args: Vec<&str> = if editable { vec!["-e", "."] } else { vec!["."] };
            let r = c.pip(mode, &args, &proj);
            let probes = c.probes("pwlocal", &r);
            assert!(
                !probes.is_empty(),
                "{mode}: setup.py never ran\n{}",
                r.stderr
            );
            for p in &probes {
                assert_eq!(
                    p["git_hook"], "EACCES",
                    "{mode} {editable}: {p:#}\n{}",
                    r.stderr
                );
                assert_eq!(p["project_file"], "EACCES", "{mode} {editable}: {p:#}");
                assert_eq!(p["pth"], "EACCES", "{mode} {editable}: {p:#}");
            }
            assert!(!proj.join(".git/hooks/pre-commit").exists(), "{mode}");
            assert!(!proj.join("pw-stolen.txt").exists(), "{mode}");
            let f = r.finding("persist.git");
            assert_eq!(f["action"], "blocked", "{mode} {editable}: {f:#}");
            let (runs, nested) = nest_counts(&r);
            assert!(
                runs >= 1 && runs == nested,
                "{mode}: {runs} runs, {nested} nested"
            );
            c.uninstall("pwlocal");
        }
    }
}

#[test]
fn a_benign_sdist_and_a_local_editable_install_stay_clean() {
    let setup = "from setuptools import setup\nsetup(name='pwbenign', version='1.0.0', packages=['pwbenign'])\n";
    let c = case(&[("pwbenign", setup.to_string())]);
    let proj = c.env.home.subdir("proj");
    write_tree(
        &proj,
        &[
            ("setup.py", setup.replace("pwbenign", "pweditable")),
            ("pweditable/__init__.py", String::new()),
        ],
    );
    for mode in ["protect", "block"] {
        let r = c.pip(mode, &["pwbenign"], c.env.home.path());
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        assert!(c.site.join("pwbenign/__init__.py").is_file(), "{mode}");
        assert!(
            medium_or_more(&r).is_empty(),
            "{mode}: {:#}",
            r.report["findings"]
        );
        let (runs, nested) = nest_counts(&r);
        assert!(
            runs >= 1 && runs == nested,
            "{mode}: {runs} runs, {nested} nested"
        );
        c.uninstall("pwbenign");

        let r = c.pip(mode, &["-e", "."], &proj);
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        assert!(
            medium_or_more(&r).is_empty(),
            "{mode}: {:#}",
            r.report["findings"]
        );
        let (runs, nested) = nest_counts(&r);
        assert!(
            runs >= 1 && runs == nested,
            "{mode}: {runs} runs, {nested} nested"
        );
        let check = run(c
            .env
            .bare(venv_bin(&c.venv, "python"))
            .args(["-c", "import pweditable"]));
        assert!(
            check.status.success(),
            "{mode}: the editable install does not import"
        );
        c.uninstall("pweditable");
    }
}

/// The benign twin of round 13's bypass 7: `pip install -e` of a local
/// setuptools project whose layout makes setuptools install its finder (a
/// `package_dir` mapping: `__editable__.*.pth` with setuptools' import line
/// and its finder module), as the editable install writes them. Quiet in
/// protect and block; the package imports.
#[test]
fn a_local_editable_install_with_setuptools_finder_stays_clean() {
    let c = case(&[]);
    let proj = c.env.home.subdir("proj");
    let setup = "from setuptools import setup\nsetup(name='pwfinder', version='1.0.0', packages=['pwfinder'], package_dir={'pwfinder': 'lib'})\n";
    write_tree(
        &proj,
        &[
            ("setup.py", setup.to_string()),
            ("lib/__init__.py", "X = 1\n".to_string()),
        ],
    );
    for mode in ["protect", "block"] {
        let r = c.pip(mode, &["-e", "."], &proj);
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        let pth = fs::read_dir(&c.site)
            .unwrap()
            .flatten()
            .find(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with("__editable__.") && n.ends_with(".pth")
            })
            .map(|e| fs::read_to_string(e.path()).unwrap())
            .unwrap_or_default();
        assert!(pth.starts_with("import __editable___"), "{mode}: {pth:?}");
        assert!(
            medium_or_more(&r).is_empty(),
            "{mode}: {:#}",
            r.report["findings"]
        );
        let check = run(c
            .env
            .bare(venv_bin(&c.venv, "python"))
            .args(["-c", "import pwfinder; assert pwfinder.X == 1"]));
        assert!(
            check.status.success(),
            "{mode}: the editable install does not import"
        );
        c.uninstall("pwfinder");
    }
}

#[test]
fn uvs_build_hooks_write_neither_site_packages_nor_another_package() {
    let c = case(&[("pwnestuv", probe_setup("pwnestuv"))]);
    fs::create_dir_all(c.env.home.path().join(".cache")).unwrap();
    // uv's cache where it is by default, then elsewhere (UV_CACHE_DIR):
    // the build needs it either way.
    let elsewhere = c.env.home.path().join("uvcache");
    for cache in [None, Some(elsewhere.as_path())] {
        for mode in ["protect", "block"] {
            let (r, probes) = c.uv(mode, "pwnestuv", cache);
            assert_confined(&c, mode, "pwnestuv", &r, &probes);
            // The rest of uv's cache (the archives it links installs from,
            // other sdists' built wheels) is not package code's.
            for p in &probes {
                assert_eq!(p["manager_cache"], "EACCES", "{mode}: {p:#}");
            }
            let f = r.finding("tamper.manager-cache");
            assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
            assert_eq!(f["package"], "pwnestuv@1.0.0", "{mode}: {f:#}");
            c.uninstall("pwnestuv");
        }
    }
}

/// A setup.py that writes pip's cache, yarn's and corepack's (another
/// manager's: the next `yarn` takes or runs what lies there), a cache of its own where
/// `XDG_CACHE_HOME` says, an existing `~/.cache/<tool>`, and a new one
/// hard-coded under `~/.cache`.
fn cache_probe_setup(name: &str) -> String {
    format!(
        r##"import json, os, sys
home = os.path.expanduser("~")
xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
r = {{"xdg_dir": xdg}}
def t(k, d):
    try:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "state"), "w") as fh:
            fh.write("# pkgwarden fixture\n")
        r[k] = "ok"
    except OSError as e:
        r[k] = {{13: "EACCES", 1: "EPERM", 2: "ENOENT"}}.get(e.errno, str(e.errno))
t("manager_cache", os.path.join(home, ".cache", "pip", "pw-nest"))
t("yarn_cache", os.path.join(home, ".cache", "yarn", "v6", "pw-nest"))
t("corepack", os.path.join(home, ".cache", "node", "corepack", "v1"))
t("xdg", os.path.join(xdg, "pwtool"))
t("existing", os.path.join(home, ".cache", "pwold"))
t("new_hardcoded", os.path.join(home, ".cache", "pwnew"))
print("PWNEST-{name} " + json.dumps(r), file=sys.stderr)
from setuptools import setup
setup(name="{name}", version="1.0.0", packages=["{name}"])
"##
    )
}

/// Package code may not write the manager's cache (a wheel planted there is
/// installed by a later install without a build), nor another manager's
/// (yarn's, corepack's): its nested domain grants `~/.cache` but every
/// manager's cache, so it makes no new entry there either, and a
/// build tool finds its own cache where `XDG_CACHE_HOME` says (a private
/// directory). An existing `~/.cache/<tool>` stays writable in protect. The refused
/// write is `tamper.manager-cache`, blocked, attributed to the package.
#[test]
fn package_code_keeps_its_own_caches_but_never_writes_the_managers() {
    let c = case(&[("pwcaches", cache_probe_setup("pwcaches"))]);
    let home = c.env.home.path();
    for d in [".cache/pwold", ".cache/yarn/v6", ".cache/node/corepack"] {
        fs::create_dir_all(home.join(d)).unwrap();
    }
    let url = c.index.index_url();
    for mode in ["protect", "block"] {
        let a = [
            "pip",
            "install",
            "-v",
            "--use-pep517",
            "--index-url",
            &url,
            "pwcaches",
        ];
        let r = install(&c.env, mode, &a, home, &[]);
        let probes = c.probes("pwcaches", &r);
        assert!(
            !probes.is_empty(),
            "{mode}: setup.py never ran\n{}",
            r.stderr
        );
        for p in &probes {
            for k in ["manager_cache", "yarn_cache", "corepack"] {
                assert_eq!(p[k], "EACCES", "{mode}: {k}: {p:#}");
            }
            assert_eq!(p["xdg"], "ok", "{mode}: {p:#}");
            // Block grants the install nothing of HOME but its own places.
            let existing = if mode == "protect" { "ok" } else { "EACCES" };
            assert_eq!(p["existing"], existing, "{mode}: {p:#}");
            assert_eq!(p["new_hardcoded"], "EACCES", "{mode}: {p:#}");
            let xdg = PathBuf::from(p["xdg_dir"].as_str().unwrap());
            assert!(!xdg.starts_with(home), "{mode}: {p:#}");
        }
        assert!(!home.join(".cache/pip/pw-nest").exists(), "{mode}");
        let f = r.finding("tamper.manager-cache");
        assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
        assert_eq!(f["package"], "pwcaches@1.0.0", "{mode}: {f:#}");
        assert_eq!(f["severity"], "high", "{mode}: {f:#}");
        let want = if mode == "protect" { 0 } else { BLOCKED };
        assert_eq!(r.code, want, "{mode}: {}", r.stderr);
        let _ = fs::remove_dir_all(home.join(".cache/pip/wheels"));
        c.uninstall("pwcaches");
    }
}
