//! Helper `atk15`: an attacker who read `src/` against issue 15's
//! known-malicious refusal, release-age cooldown and other-project rule.
//! Each test is one attempt with inert fixtures (loopback registries, a
//! venv's pip < 26, which has no date gate: the proxy filters its index).
//! Each first showed its bypass on the binary it was written against
//! (bbf3a79); the fix is named in its doc line.

use crate::attack_root::{install_in, project_manifest, root_tool};
use crate::cooldown::{
    NEW, OLD, npm_registry_with_dep, npm_version, pip_env, pip_shim, policy, py_version,
    pypi_index_with_dep, shim, yarn_add,
};
use crate::support::{NpmRegistry, ShimEnv};
use std::fs;

/// An index that labels its HTML pages PEP 691's way
/// (`application/vnd.pypi.simple.v1+html`, which pip reads) whatever the
/// client asks: the proxy passed the undated page as "not a page" and pip
/// installed the day-old version in block. Fixed in
/// `monitor::proxy::cooldown` (any non-JSON page is undated: refused in
/// block, passed with a warning in protect).
#[test]
fn an_index_page_labelled_pep_691_html_is_not_passed_unfiltered() {
    let (index, files) = pypi_index_with_dep(true);
    index.serve_html_as("application/vnd.pypi.simple.v1+html");
    let (env, venv, _place) = pip_env();
    let url = index.index_url();
    policy(&env, "cooldown = \"3d\"\n");
    let r = pip_shim(&env, "block", &url);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("cannot be enforced"), "{}", r.stderr);
    assert_eq!(py_version(&venv, "pwcool"), None, "block installed it");
    assert!(
        !index.requests().iter().any(|q| q.path.ends_with(&files[1])),
        "block downloaded {}",
        files[1]
    );
    let r = pip_shim(&env, "protect", &url);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("passed UNFILTERED"), "{}", r.stderr);
    assert_eq!(r.cooldown()["enforced"], false, "{:#}", r.cooldown());
    assert_eq!(py_version(&venv, "pwcool").as_deref(), Some(NEW));
}

/// A `--find-links` page on the index's own host at a file name
/// (`…/index.html`, as static indexes serve): the proxy read only URLs
/// without an extension as pages, so this undated list of links went as it
/// came (here the index's PEP 691 JSON, as pip asks for it) and pip took
/// the day-old wheel from it in block. Fixed: at a file's URL, an answer
/// that is a page is read as one (filtered; HTML, undated, refused: the
/// proxy's unit tests).
#[test]
fn a_find_links_page_at_a_file_name_does_not_carry_a_young_version() {
    let (index, files) = pypi_index_with_dep(true);
    let (env, venv, _place) = pip_env();
    let url = index.index_url();
    let links = format!("{url}pwcool/index.html");
    policy(&env, "cooldown = \"3d\"\n");
    let r = shim(
        &env,
        "block",
        "pip",
        &[
            "install",
            "--no-cache-dir",
            "--index-url",
            &url,
            "--find-links",
            &links,
            "pwcool",
        ],
        env.home.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        py_version(&venv, "pwcool").as_deref(),
        Some(OLD),
        "{}",
        r.stderr
    );
    assert!(
        !index.requests().iter().any(|q| q.path.ends_with(&files[1])),
        "block downloaded {}",
        files[1]
    );
}

/// A `yarn.lock` that pins the day-old versions (written before the
/// cooldown, or by the attacker): yarn 1 asks the registry for no package
/// document, so the proxy's filter never saw the versions and `yarn
/// install` put them in, in block, with the cooldown reported enforced.
/// Fixed in `monitor::proxy::cooldown`: a tarball from one of the
/// registries is dated by its package's document (the one the filter read,
/// else asked by the proxy) and a version released after the cut-off is
/// refused; a lockfile pinning older versions installs as before.
#[test]
fn a_yarn_lock_pinning_young_versions_does_not_pass_the_cooldown() {
    let registry = npm_registry_with_dep();
    let env = ShimEnv::new(&[]);
    let dir = env.home.path().join("proj");
    policy(&env, "");
    let r = yarn_add(&env, "protect", &registry, &dir);
    assert_eq!(r.code, 0, "yarn: {}", r.stderr);
    assert_eq!(npm_version(&dir, "pwcool"), NEW);
    let install = |mode: &str| {
        let _ = fs::remove_dir_all(dir.join("node_modules"));
        let _ = fs::remove_dir_all(env.home.path().join(".cache/yarn"));
        shim(
            &env,
            mode,
            "yarn",
            &["install", "--non-interactive", "--frozen-lockfile"],
            &dir,
        )
    };
    policy(&env, "cooldown = \"3d\"\n");
    for mode in ["block", "protect"] {
        let r = install(mode);
        assert_ne!(r.code, 0, "yarn {mode} installed the pinned young versions");
        assert!(
            !dir.join("node_modules/pwcool/package.json").exists(),
            "yarn {mode}"
        );
        assert!(
            r.stderr.contains("released after the cut-off"),
            "yarn {mode}: {}",
            r.stderr
        );
    }
    // A lockfile of older versions installs under the cooldown.
    let r = yarn_add(&env, "block", &registry, &dir);
    assert_eq!(r.code, 0, "yarn: {}", r.stderr);
    assert_eq!(npm_version(&dir, "pwcool"), OLD);
    let r = install("block");
    assert_eq!(r.code, 0, "yarn locked old: {}", r.stderr);
    assert_eq!(npm_version(&dir, "pwcool"), OLD);
    assert_eq!(npm_version(&dir, "pwdep"), OLD);
}

/// Another project's Python environment changed through its bytecode
/// cache: a root project's script (protect lets it write HOME) replaces
/// `dep/__pycache__/__init__.cpython-311.pyc` in `~/app/.venv`'s
/// `site-packages` (a forged `.pyc` whose header matches the source runs in
/// place of it). `detect::foreign` left every `__pycache__` out (every
/// interpreter the install starts caches what it imports, wherever), and
/// the RECORD check lists `.pyc` files without a hash: no finding. Telling
/// a forged cache from an interpreter's needs the source compiled by the
/// target's Python, so it is now said at low severity with what clears it.
#[test]
fn a_root_script_cannot_forge_another_environments_bytecode_unreported() {
    let body = r#"
const c = path.join(home, "app", ".venv", "lib", "python3.11", "site-packages", "dep", "__pycache__");
t("pyc", () => { fs.mkdirSync(c, {recursive: true}); fs.writeFileSync(path.join(c, "__init__.cpython-311.pyc"), M); });
"#;
    let registry = NpmRegistry::start_with(vec![root_tool(body)]);
    let env = ShimEnv::new(&[]);
    let site = env
        .home
        .path()
        .join("app/.venv/lib/python3.11/site-packages/dep");
    fs::create_dir_all(&site).unwrap();
    fs::write(site.join("__init__.py"), "X = 1\n").unwrap();
    let manifest = project_manifest(&["pw-tool"], true);
    let (r, result, _) = install_in(
        &env, &registry, "npm", "protect", "proj", manifest, "pw-tool", "",
    );
    assert_eq!(result["pyc"], "ok", "the script did not write: {result:#}");
    let f = r.findings("tamper.installed-package");
    assert!(!f.is_empty(), "no finding: {:#}", r.report["findings"]);
    assert!(
        f.iter().any(|f| f["severity"] == "low"
            && f["evidence"]["paths"]
                .to_string()
                .contains("__init__.cpython-311.pyc")),
        "{f:#?}"
    );
}
