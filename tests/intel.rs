//! Issue 15: an offline OSV feed of known-malicious packages. A package
//! version the feed names is refused by the proxy before its archive is
//! asked of the registry (the loopback registry's own log proves it), also
//! when it is a dependency; audit lets it through and reports it; without a
//! feed nothing changes.

use crate::support;

use serde_json::json;
use std::fs;
use std::path::Path;
use support::installs::{Installed, install, npm_install};
use support::intel::{import, record};
use support::*;

/// `pwapp@1.0.0`, which depends on `pwdep@^1.0.0`.
fn registry() -> NpmRegistry {
    let dep = NpmPackage::new(
        json!({"name": "pwdep", "version": "1.0.0", "license": "MIT"}),
        &[("index.js", b"module.exports = 1;\n")],
    );
    let app = NpmPackage::new(
        json!({"name": "pwapp", "version": "1.0.0", "license": "MIT",
               "dependencies": {"pwdep": "^1.0.0"}}),
        &[("index.js", b"module.exports = require('pwdep');\n")],
    );
    NpmRegistry::start_with(vec![dep, app])
}

fn npm_app(env: &ShimEnv, registry: &NpmRegistry, mode: &str, project: &Path) -> Installed {
    npm_install(env, mode, registry, project, "pwapp", &[])
}

#[test]
fn a_known_malicious_npm_dependency_is_refused_before_its_tarball_is_asked() {
    for mode in ["protect", "block"] {
        let registry = registry();
        let env = ShimEnv::new(&[]);
        import(
            &env,
            &[
                record("MAL-TEST-1", "npm", "pwdep", &[]),
                record("MAL-TEST-2", "PyPI", "pwdep", &["1.0.0"]),
            ],
        );
        let project = env.home.path().join("proj");
        fs::create_dir_all(&project).unwrap();
        let r = npm_app(&env, &registry, mode, &project);
        assert_eq!(r.code, 90, "{mode}: blocked exit code\n{}", r.stderr);
        assert!(
            registry.tarball_fetched("pwapp", "1.0.0"),
            "{mode}: the clean package downloads"
        );
        assert!(
            !registry
                .requests()
                .iter()
                .any(|q| q.path.contains("/pwdep/-/")),
            "{mode}: the registry was asked for the malicious tarball: {:?}",
            registry.requests()
        );
        let f = r.finding("intel.known-malicious");
        assert_eq!(f["severity"], "critical", "{f:#}");
        let detail = f["evidence"]["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("MAL-TEST-1") && detail.contains("pwdep@1.0.0"),
            "{detail}"
        );
        assert!(detail.contains("refused before"), "{detail}");
        assert!(!project.join("node_modules/pwdep").exists());
    }
}

#[test]
fn audit_reports_a_known_malicious_package_and_lets_it_install() {
    let registry = registry();
    let env = ShimEnv::new(&[]);
    import(&env, &[record("MAL-TEST-3", "npm", "pwdep", &["1.0.0"])]);
    let project = env.home.path().join("proj");
    fs::create_dir_all(&project).unwrap();
    let r = npm_app(&env, &registry, "audit", &project);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(registry.tarball_fetched("pwdep", "1.0.0"));
    let f = r.finding("intel.known-malicious");
    assert!(
        f["evidence"]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("audit: downloaded"),
        "{f:#}"
    );
}

#[test]
fn a_version_the_feed_does_not_name_and_no_feed_change_nothing() {
    let registry = registry();
    let env = ShimEnv::new(&[]);
    let project = env.home.path().join("proj");
    fs::create_dir_all(&project).unwrap();
    let bare = npm_app(&env, &registry, "protect", &project);
    assert_eq!(bare.code, 0, "{}", bare.stderr);
    assert!(bare.findings("intel.known-malicious").is_empty());
    import(&env, &[record("MAL-TEST-4", "npm", "pwdep", &["0.9.0"])]);
    let r = npm_app(&env, &registry, "block", &project);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(project.join("node_modules/pwdep/index.js").is_file());
    assert!(r.findings("intel.known-malicious").is_empty());
}

#[test]
fn a_known_malicious_wheel_is_refused_before_download() {
    let index = PypiIndex::start(&["pwdemo"]);
    let env = ShimEnv::new(&[]);
    import(&env, &[record("MAL-TEST-5", "PyPI", "PwDemo", &["1.0.0"])]);
    let venv = venv(&env.home);
    let pip = venv_bin(&venv, "pip");
    let r = install(
        &env,
        "protect",
        &[
            pip.to_str().unwrap(),
            "install",
            "--no-cache-dir",
            "--index-url",
            &index.index_url(),
            "pwdemo",
        ],
        env.home.path(),
        &[],
    );
    assert_eq!(r.code, 90, "{}", r.stderr);
    assert!(
        index.was_requested("/simple/pwdemo/"),
        "the index page is read"
    );
    assert!(
        !index
            .requests()
            .iter()
            .any(|q| q.path.starts_with("/files/pwdemo/")),
        "the wheel was asked for: {:?}",
        index.requests()
    );
    assert!(
        r.finding("intel.known-malicious")["evidence"]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("MAL-TEST-5")
    );
}

/// An archive the proxy never sees: npm takes `pwdep` from its cache
/// (downloaded before the feed knew it). After the install, the packages
/// on disk are looked up too: the install fails with the blocked exit code
/// and says where the package came from.
#[test]
fn a_known_malicious_package_taken_from_the_managers_cache_is_caught_on_disk() {
    let registry = registry();
    let env = ShimEnv::new(&[]);
    let first = env.home.path().join("first");
    fs::create_dir_all(&first).unwrap();
    let r = npm_app(&env, &registry, "protect", &first);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fetched = |reg: &NpmRegistry| {
        reg.requests()
            .iter()
            .filter(|q| q.path.contains("/pwdep/-/"))
            .count()
    };
    assert_eq!(fetched(&registry), 1, "the first install downloads pwdep");
    import(&env, &[record("MAL-TEST-6", "npm", "pwdep", &["1.0.0"])]);
    // npm reads packuments and tarballs from its cache without asking.
    let offline = [("npm_config_prefer_offline", "true".to_string())];
    for (mode, code) in [("protect", 90), ("block", 90), ("audit", 0)] {
        let project = env.home.path().join(format!("proj-{mode}"));
        fs::create_dir_all(&project).unwrap();
        let r = npm_install(&env, mode, &registry, &project, "pwapp", &offline);
        assert_eq!(r.code, code, "{mode}: {}", r.stderr);
        assert_eq!(
            fetched(&registry),
            1,
            "{mode}: the tarball came from the cache"
        );
        let f = r.finding("intel.known-malicious");
        assert_eq!(f["severity"], "critical", "{mode}: {f:#}");
        assert_eq!(f["package"], "pwdep@1.0.0", "{mode}: {f:#}");
        let detail = f["evidence"]["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("MAL-TEST-6") && detail.contains("without its archive passing"),
            "{mode}: {detail}"
        );
    }
}
