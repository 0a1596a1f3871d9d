//! Installs run from the home directory (`cd ~ && pnpm add -g x`, `npm
//! install` in `~`): the sandboxes split HOME around the credential stores,
//! which leaves HOME itself without a rule of its own, and a manager that
//! lists the directory it runs in (pnpm, before it asks anything) must still
//! work as it does bare. The stores' contents stay out of reach.

use crate::support;

use std::fs;
use std::path::Path;
use support::installs::{Installed, install};
use support::*;

/// A credential file in the test's HOME whose contents no sandbox may read.
const KEY: &str = "PW-SECRET-KEY-MATERIAL";

/// A HOME with a key in `~/.ssh`, the shims and a loopback registry.
fn case() -> (ShimEnv, NpmRegistry) {
    let env = ShimEnv::new(&[]);
    let ssh = env.home.subdir(".ssh");
    fs::write(ssh.join("id_pw"), KEY).unwrap();
    let registry = NpmRegistry::start_with(vec![
        NpmFixture::load("pwdemo").package(),
        NpmFixture::load("pwdemo-dep").package(),
    ]);
    (env, registry)
}

/// Checks an install that must have worked, and the package it installed.
fn installed(r: &Installed, what: &str, package_json: &Path) {
    let text = format!("{what}\nstdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(r.code, 0, "{text}");
    assert_eq!(r.report["outcome"]["status"], "completed", "{text}");
    assert!(package_json.is_file(), "{what}: nothing installed\n{text}");
    assert!(
        support::installs::serious(&r.report).is_empty(),
        "{text}\n{:#}",
        r.report["findings"]
    );
    assert!(!r.stderr.contains(KEY) && !r.stdout.contains(KEY), "{text}");
}

/// `<manager> add -g pwdemo` run in HOME, in protect and block, with the
/// variables `vars` makes from HOME; the package lands in the manager's
/// global modules (`global`, relative to HOME) as it does bare.
fn global_add_in_home(
    manager: &str,
    global: &str,
    vars: impl Fn(&Path) -> Vec<(&'static str, String)>,
) {
    which::which(manager).unwrap_or_else(|e| panic!("{manager} on PATH: {e}"));
    let (env, registry) = case();
    let home = env.home.path();
    let url = registry.registry_url();
    let verb = if manager == "npm" { "install" } else { "add" };
    let installed_at = home.join(global).join("pwdemo/package.json");
    for mode in ["protect", "block"] {
        let _ = fs::remove_dir_all(home.join(global));
        let r = install(
            &env,
            mode,
            &[manager, verb, "-g", "--registry", &url, "pwdemo"],
            home,
            &vars(home),
        );
        let what = format!("{mode}: {manager} {verb} -g pwdemo in HOME");
        installed(&r, &what, &installed_at);
        assert!(registry.tarball_fetched("pwdemo-dep", "1.0.0"), "{what}");
    }
}

#[test]
fn pnpm_global_add_run_from_home() {
    // pnpm's global directory is under PNPM_HOME, which must be on PATH.
    global_add_in_home("pnpm", ".local/share/pnpm/global/5/node_modules", |home| {
        let pnpm_home = home.join(".local/share/pnpm");
        let mut path = std::ffi::OsString::from(&pnpm_home);
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        vec![
            ("PNPM_HOME", pnpm_home.display().to_string()),
            ("PATH", path.to_string_lossy().into_owned()),
        ]
    });
}

#[test]
fn npm_global_install_run_from_home() {
    global_add_in_home("npm", ".npm-global/lib/node_modules", |_| Vec::new());
}

/// yarn 1 with no `XDG_CACHE_HOME` and no cache folder yet (a fresh CI
/// container): its facts probe cannot make the folder, so yarn answers
/// with its fallback in the probe's scratch; the install must still get
/// yarn's own folder (`~/.cache/yarn`, `/usr/local/share/.cache/yarn` for
/// root), made before the sandbox, and nothing refused.
#[test]
fn yarn_makes_its_own_cache_folder_when_none_exists() {
    which::which("yarn").unwrap_or_else(|e| panic!("yarn on PATH: {e}"));
    let (env, registry) = case();
    let url = registry.registry_url();
    let project = env.home.subdir("proj");
    let cache = if nix::unistd::getuid().is_root() {
        Path::new("/usr/local/share/.cache/yarn").to_path_buf()
    } else {
        env.home.path().join(".cache/yarn")
    };
    for mode in ["protect", "block"] {
        fs::write(
            project.join("package.json"),
            r#"{"name":"app","version":"1.0.0"}"#,
        )
        .unwrap();
        let _ = fs::remove_dir_all(project.join("node_modules"));
        let r = install(
            &env,
            mode,
            &["yarn", "add", "--registry", &url, "pwdemo"],
            &project,
            &[("XDG_CACHE_HOME", String::new())],
        );
        let what = format!("{mode}: yarn add pwdemo without XDG_CACHE_HOME");
        installed(&r, &what, &project.join("node_modules/pwdemo/package.json"));
        assert!(!r.stderr.contains("refused"), "{what}\n{}", r.stderr);
        assert!(cache.is_dir(), "{what}: no {}", cache.display());
    }
}

/// `npm install pwdemo` without `-g` where no `package.json` is yet: in
/// HOME and in a new empty directory. Bare npm makes `node_modules`,
/// `package.json` and `package-lock.json` there (the directory is the
/// project). Through pkgwarden it must do the same, in protect and block.
#[test]
fn npm_local_install_where_no_project_is_yet() {
    which::which("npm").unwrap_or_else(|e| panic!("npm on PATH: {e}"));
    let (env, registry) = case();
    let home = env.home.path();
    let url = registry.registry_url();
    let fresh = env.home.subdir("fresh");
    for dir in [fresh.as_path(), home] {
        for mode in ["protect", "block"] {
            for f in ["package.json", "package-lock.json"] {
                let _ = fs::remove_file(dir.join(f));
            }
            let _ = fs::remove_dir_all(dir.join("node_modules"));
            let r = install(
                &env,
                mode,
                &["npm", "install", "--registry", &url, "pwdemo"],
                dir,
                &[],
            );
            let what = format!("{mode}: npm install pwdemo in {}", dir.display());
            installed(&r, &what, &dir.join("node_modules/pwdemo/package.json"));
            assert!(dir.join("package.json").is_file(), "{what}");
        }
    }
}

/// yarn 1 and pnpm `add` in a new empty directory: bare, each makes the
/// manifest and its lockfile there. Through pkgwarden too, in protect and
/// block.
#[test]
fn yarn_and_pnpm_add_where_no_project_is_yet() {
    let (env, registry) = case();
    let url = registry.registry_url();
    for manager in ["yarn", "pnpm"] {
        which::which(manager).unwrap_or_else(|e| panic!("{manager} on PATH: {e}"));
        for mode in ["protect", "block"] {
            let dir = env.home.subdir(&format!("fresh-{manager}-{mode}"));
            let r = install(
                &env,
                mode,
                &[manager, "add", "--registry", &url, "pwdemo"],
                &dir,
                &[],
            );
            let what = format!("{mode}: {manager} add pwdemo in a new directory");
            installed(&r, &what, &dir.join("node_modules/pwdemo/package.json"));
            let manifest = fs::read_to_string(dir.join("package.json")).unwrap();
            assert!(manifest.contains("pwdemo"), "{what}: {manifest}");
        }
    }
}
