//! Paths judged by what they name (issue 9, classes 2, 3 and 8), end to
//! end with real npm and pip from loopback registries: a persistence file
//! written under another name (a symlink planted in the private TMPDIR or
//! node_modules/.bin, a symlinked directory, a `/proc/self` alias, a hard
//! link) is refused or reported; a script written into a manager's own
//! cache and run is `exec.dropped`; the benign twins stay quiet.

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use support::installs::{Installed, check_finding, install, npm_install};
use support::pypi::{build_requirements, build_sdist};
use support::*;

const BLOCKED: i32 = 90;

fn incident(name: &str) -> Vec<u8> {
    let p = crate_root().join("tests/fixtures/incidents").join(name);
    fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A project installing one package whose postinstall runs `file` with
/// `extra` files beside it.
struct NpmCase {
    env: ShimEnv,
    registry: NpmRegistry,
    project: PathBuf,
    name: String,
}

fn npm_case(name: &str, file: &str, extra: &[(&str, &[u8])], manifest: Value) -> NpmCase {
    let mut m = manifest;
    m["name"] = name.into();
    m["version"] = "1.0.0".into();
    m["scripts"] = serde_json::json!({"postinstall": format!("node {file}")});
    let script = incident(file);
    let mut files: Vec<(&str, &[u8])> =
        vec![(file, &script), ("index.js", b"module.exports = 1;\n")];
    files.extend_from_slice(extra);
    let registry = NpmRegistry::start_with(vec![NpmPackage::new(m, &files)]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    fs::create_dir_all(project.join(".git/hooks")).unwrap();
    NpmCase {
        env,
        registry,
        project,
        name: name.to_string(),
    }
}

impl NpmCase {
    fn install(&self, mode: &str) -> Installed {
        npm_install(
            &self.env,
            mode,
            &self.registry,
            &self.project,
            &self.name,
            &[],
        )
    }
}

/// Findings of medium or more whose evidence names `path`.
fn naming<'a>(r: &'a Installed, path: &Path) -> Vec<&'a Value> {
    r.serious()
        .into_iter()
        .filter(|f| {
            f["evidence"]["paths"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p.as_str() == path.to_str()))
        })
        .collect()
}

/// One alias write of `target` (`~/x` or `./x`), in protect and block.
/// Protect: a location under `$HOME` is refused (unchanged); the project's
/// (writable to an npm install) may change, but a finding of medium or more
/// names the real file either way. Block: the file ends as it was (refused,
/// or put back by the quarantine) and the install fails.
fn alias_case(how: &str, target: &str, rule: &str) {
    // Under $HOME, protect refuses the places its policy names (another
    // repository's hooks are only reported).
    alias_case_with(how, target, rule, !target.starts_with("~/src/"));
}

fn alias_case_with(how: &str, target: &str, rule: &str, refused_in_protect: bool) {
    let alias = serde_json::json!({"how": how, "target": target}).to_string();
    let name = format!("pw-alias-{how}");
    let c = npm_case(
        &name,
        "alias-write.js",
        &[("alias.json", alias.as_bytes())],
        serde_json::json!({}),
    );
    let real = match target.strip_prefix("~/") {
        Some(rest) => c.env.home.path().join(rest),
        None => c.project.join(target.trim_start_matches("./")),
    };
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    let original = "# the user's own\n";
    fs::write(&real, original).unwrap();
    let in_home = target.starts_with("~/") && refused_in_protect;

    let p = c.install("protect");
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    // A dependency's script runs in the nested hook domain, which may refuse
    // the trick before it names the target at all (a link in
    // node_modules/.bin is outside the package's own directory): then
    // nothing changed, which is the point; the finding is not required.
    if p.stdout.contains("alias-write refused")
        && !naming(&p, &real).iter().any(|f| f["rule"] == rule)
    {
        assert_eq!(
            fs::read_to_string(&real).unwrap(),
            original,
            "protect: {how}"
        );
        let b = c.install("block");
        assert_eq!(fs::read_to_string(&real).unwrap(), original, "block: {how}");
        assert!(b.stdout.contains("alias-write refused"), "{}", b.stdout);
        return;
    }
    let found = naming(&p, &real);
    assert!(
        !found.is_empty(),
        "protect: {how} to {target}: no finding of medium or more names {}\nstdout: {}\nfindings: {:#}\nevents: {:#}",
        real.display(),
        p.stdout,
        p.report["findings"],
        p.report["files"]
    );
    assert!(
        found.iter().any(|f| f["rule"] == rule),
        "{rule} expected: {found:#?}"
    );
    if in_home {
        assert_eq!(
            fs::read_to_string(&real).unwrap(),
            original,
            "protect: {how} changed {target}\n{}",
            p.stdout
        );
    }
    // The write event names the real file; the name used stays as evidence
    // (the report lists in full the writes outside the expected roots; the
    // project is one for an npm install).
    if how != "hardlink" && target.starts_with("~/") {
        let outside = p.report["files"]["outside"].as_array().unwrap();
        assert!(
            outside.iter().any(|e| {
                e["paths"][0].as_str() == real.to_str()
                    && e["raw_paths"][0]
                        .as_str()
                        .is_some_and(|r| r != real.to_str().unwrap())
            }),
            "{how}: no event with the resolved and the raw path: {outside:#?}"
        );
    }
    fs::write(&real, original).unwrap();

    let b = c.install("block");
    assert_eq!(b.code, BLOCKED, "{}\n{}", b.stdout, b.stderr);
    assert_eq!(
        fs::read_to_string(&real).unwrap(),
        original,
        "block: {how} left {target} changed\nfindings: {:#}\nquarantine: {:#}",
        b.report["findings"],
        b.report["quarantine"]
    );
    assert!(!naming(&b, &real).is_empty(), "{:#}", b.report["findings"]);
}

#[test]
fn a_symlink_in_tmpdir_to_the_git_config_is_judged_as_the_git_config() {
    alias_case("symlink", "~/.config/git/config", "persist.git");
}

#[test]
fn a_symlink_in_tmpdir_to_bash_logout_is_judged_as_bash_logout() {
    alias_case("symlink", "~/.bash_logout", "persist.shell-rc");
}

#[test]
fn a_symlink_in_tmpdir_to_the_projects_git_config_is_judged_as_it() {
    alias_case("symlink", "./.git/config", "persist.git");
}

#[test]
fn a_symlink_in_tmpdir_to_the_projects_npmrc_is_judged_as_it() {
    alias_case("symlink", "./.npmrc", "persist.pm-config");
}

#[test]
fn a_proc_self_root_alias_is_judged_as_the_file() {
    alias_case("proc-root", "~/.bash_logout", "persist.shell-rc");
}

#[test]
fn a_proc_self_fd_alias_is_judged_as_the_file() {
    alias_case("proc-fd", "~/.config/git/config", "persist.git");
}

#[test]
fn a_hard_link_to_a_protected_file_is_judged_as_the_file() {
    alias_case("hardlink", "~/.config/git/config", "persist.git");
    alias_case("hardlink", "./.git/config", "persist.git");
}

/// Variations the fix was not written for: a symlinked directory on the
/// way, a link in node_modules/.bin, an editor's start-up file and a hook
/// of another repository of the user's.
#[test]
fn variations_symlinked_directory_and_node_modules_bin() {
    alias_case("symlink-dir", "~/.vimrc", "persist.agent-hook");
    alias_case(
        "bin-symlink",
        "~/src/other/.git/hooks/pre-commit",
        "persist.git",
    );
}

// ---------------------------------------------------------------------------
// Transient execution from tool caches (class 8)
// ---------------------------------------------------------------------------

/// A script staged in npm's own cache by a postinstall (to run, then
/// delete): a dependency's script may not write the manager's cache (an
/// entry planted there is installed by a later install), so its hook domain
/// refuses the write in protect and block, and the attempt is
/// `tamper.manager-cache`; the script never exists, so never runs.
#[test]
fn a_script_staged_in_npms_own_cache_is_refused_and_reported() {
    let c = npm_case("pw-cache-exec", "cache-exec.js", &[], serde_json::json!({}));
    for mode in ["protect", "block"] {
        let r = c.install(mode);
        assert!(
            r.stdout.contains("cache-exec refused"),
            "{mode}: {}",
            r.stdout
        );
        assert!(
            !r.stdout.contains("pw-cache-exec ran"),
            "{mode}: the script ran:\n{}",
            r.stdout
        );
        let f = r.finding("tamper.manager-cache");
        check_finding(
            f,
            "T1554",
            "high",
            Some("pw-cache-exec@1.0.0"),
            Some("postinstall"),
        );
        assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
        assert!(
            f["evidence"]["paths"][0]
                .as_str()
                .unwrap()
                .ends_with(".npm/pw-stage.sh"),
            "{f:#}"
        );
        let want = if mode == "protect" { 0 } else { BLOCKED };
        assert_eq!(r.code, want, "{mode}: {}\n{}", r.stdout, r.stderr);
    }
}

#[test]
fn a_package_binary_run_with_version_from_its_own_dir_stays_quiet() {
    let esb: &[u8] = b"#!/bin/sh\necho 0.0.1\n";
    let c = npm_case(
        "pw-esb",
        "esbuild-version.js",
        &[("bin/esb", esb)],
        serde_json::json!({"bin": {"pw-esb": "bin/esb"}}),
    );
    for mode in ["protect", "block"] {
        let r = c.install(mode);
        assert_eq!(r.code, 0, "{mode}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("esbuild-version done"), "{}", r.stdout);
        assert!(r.serious().is_empty(), "{mode}: {:#?}", r.serious());
    }
}

/// A script staged in pip's own cache by setup.py (to run, then delete):
/// package code may not write the manager's cache (a wheel planted there is
/// installed by a later install), so the write is refused by its nested
/// domain in protect and block and reported as `tamper.manager-cache`; the
/// script never exists, so never runs. The sdist's build itself
/// (pip-build-env in the private TMPDIR) is the benign twin: no other
/// finding of medium or more.
#[test]
fn a_script_staged_in_pips_cache_by_setup_py_is_refused_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let setup = format!(
        "{}\nfrom setuptools import setup\nsetup(name='pwcache', version='1.0.0', py_modules=[])\n",
        String::from_utf8_lossy(&incident("cache-exec.py"))
    );
    fs::write(dir.path().join("setup.py"), setup).unwrap();
    fs::write(
        dir.path().join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n",
    )
    .unwrap();
    let fx = PipFixture {
        name: "pwcache".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden detection fixture".into()),
        requires_dist: vec![],
        dir: dir.path().to_path_buf(),
    };
    let mut dists = vec![build_sdist(&fx)];
    dists.extend(build_requirements());
    let index = PypiIndex::start_with(dists);
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let url = index.index_url();
    let pip = |mode: &str| {
        let r = install(
            &env,
            mode,
            &["pip", "install", "-v", "--index-url", &url, "pwcache"],
            env.home.path(),
            &[],
        );
        let _ = fs::remove_dir_all(env.home.path().join(".cache/pip/wheels"));
        let _ = run(env
            .bare(venv_bin(&venv, "pip"))
            .args(["uninstall", "-y", "pwcache"]));
        r
    };
    for mode in ["protect", "block"] {
        let r = pip(mode);
        let text = format!("{}\n{}", r.stdout, r.stderr);
        assert!(text.contains("cache-exec refused"), "{mode}: {text}");
        assert!(
            !text.contains("pw-cache-exec ran"),
            "{mode}: the script ran"
        );
        let f = r.finding("tamper.manager-cache");
        check_finding(f, "T1554", "high", Some("pwcache@1.0.0"), None);
        assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
        assert!(
            f["evidence"]["paths"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p.as_str().unwrap().ends_with(".cache/pip/pw-stage.sh")),
            "{f:#}"
        );
        let others: Vec<&Value> = r
            .serious()
            .into_iter()
            .filter(|f| f["rule"] != "tamper.manager-cache")
            .collect();
        assert!(
            others.is_empty(),
            "{mode}: the build itself is benign: {others:#?}"
        );
        let want = if mode == "protect" { 0 } else { BLOCKED };
        assert_eq!(r.code, want, "{mode}: {text}");
    }
}
