//! Issue 9, classes 5, 6 and 9: a node project is writable only where its
//! install writes; pkgwarden's own files are never writable from the
//! sandbox and the report store orders by its own sequence; fact probes run
//! project-controlled code only inside a read-only, no-network sandbox.
//! Inert fixtures (tests/fixtures/incidents), real npm and yarn against
//! loopback registries, in protect and block (and audit where it differs).

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use support::installs::{Installed, check_finding, install, npm_install};
use support::*;

const BLOCKED: i32 = 90;

fn incident(name: &str) -> Vec<u8> {
    let p = fixtures_root().join("incidents").join(name);
    fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// A project (`HOME/proj`, with a `.git/config` and an `.npmrc`) and a
/// loopback registry serving one package whose postinstall runs `fixture`.
struct Project {
    env: ShimEnv,
    registry: NpmRegistry,
    dir: PathBuf,
    name: String,
}

const GIT_CONFIG: &str = "[core]\n\trepositoryformatversion = 0\n";
const NPMRC: &str = "# the project's own\n";

impl Project {
    fn new(fixture: &str) -> Project {
        let name = format!("pw-{}", fixture.trim_end_matches(".js"));
        let pkg = NpmPackage::new(
            serde_json::json!({
                "name": name, "version": "1.0.0",
                "scripts": {"postinstall": "node incident.js"}
            }),
            &[
                ("incident.js", &incident(fixture)),
                ("index.js", b"module.exports = 1;\n"),
            ],
        );
        let registry = NpmRegistry::start_with(vec![pkg]);
        let env = ShimEnv::new(&[]);
        let dir = env.home.subdir("proj");
        fs::create_dir_all(dir.join(".git/hooks")).unwrap();
        Project {
            env,
            registry,
            dir,
            name,
        }
    }

    /// A fresh install of the package (no node_modules, no lockfile).
    fn install(&self, mode: &str, vars: &[(&str, String)]) -> Installed {
        fs::write(self.dir.join(".git/config"), GIT_CONFIG).unwrap();
        fs::write(self.dir.join(".npmrc"), NPMRC).unwrap();
        npm_install(&self.env, mode, &self.registry, &self.dir, &self.name, vars)
    }

    fn pkg(&self) -> String {
        format!("{}@1.0.0", self.name)
    }
}

/// The finding of `rule` whose evidence names `path`, or a directory on the
/// way to it (a refused `mkdir` is the attempt the hook got to make).
fn finding_for<'a>(r: &'a Installed, rule: &str, path: &Path) -> &'a Value {
    let p = path.to_string_lossy();
    r.findings(rule)
        .into_iter()
        .find(|f| {
            f["evidence"]["paths"][0]
                .as_str()
                .is_some_and(|e| path.starts_with(e) && e.len() > 1)
        })
        .unwrap_or_else(|| {
            panic!(
                "no {rule} finding for {p}\nstdout:\n{}\nfindings: {:#}",
                r.stdout, r.report["findings"]
            )
        })
}

// ---------------------------------------------------------------- class 5 --

#[test]
fn a_dependency_cannot_write_the_project_outside_its_package() {
    let c = Project::new("project-writes.js");
    let targets = [
        (".git/config", "persist.git", "T1546"),
        (".github/workflows/x.yml", "persist.ci", "T1195.002"),
        (".npmrc", "persist.pm-config", "T1574"),
        (".vscode/tasks.json", "persist.agent-hook", "T1546"),
    ];
    for mode in ["protect", "block"] {
        let r = c.install(mode, &[]);
        for what in ["git-config", "workflow", "npmrc", "vscode", "envrc"] {
            assert!(
                r.stdout.contains(&format!("{what} refused")),
                "{mode}: {what} got through\n{}",
                r.stdout
            );
        }
        assert_eq!(
            fs::read_to_string(c.dir.join(".git/config")).unwrap(),
            GIT_CONFIG
        );
        assert_eq!(fs::read_to_string(c.dir.join(".npmrc")).unwrap(), NPMRC);
        for gone in [".github", ".vscode", ".envrc"] {
            assert!(!c.dir.join(gone).exists(), "{mode}: {gone} was created");
        }
        for (target, rule, attack) in targets {
            let f = finding_for(&r, rule, &c.dir.join(target));
            check_finding(f, attack, "high", Some(&c.pkg()), Some("postinstall"));
            assert_eq!(f["action"], "blocked", "{mode} {target}: {f:#}");
        }
        // What the install itself writes still lands: its package, the
        // manifest and a lockfile that did not exist before.
        assert!(c.dir.join("node_modules").join(&c.name).is_dir());
        let lock = fs::read_to_string(c.dir.join("package-lock.json")).unwrap();
        assert!(lock.contains(&c.name), "{mode}: lockfile {lock}");
        let manifest = fs::read_to_string(c.dir.join("package.json")).unwrap();
        assert!(manifest.contains(&c.name), "{mode}: manifest {manifest}");
        let want = if mode == "block" { BLOCKED } else { 0 };
        assert_eq!(r.code, want, "{mode}: {}", r.stderr);
    }
    // Audit restricts nothing: it happens, and is reported.
    let a = c.install("audit", &[]);
    assert!(a.stdout.contains("git-config wrote"), "{}", a.stdout);
    let f = finding_for(&a, "persist.git", &c.dir.join(".git/config"));
    assert_eq!(f["action"], "observed");
}

#[test]
fn a_lockfile_created_for_a_failed_install_is_not_left_behind() {
    // The registry does not have the package: npm fails before writing
    // its lockfile, and the empty one pkgwarden created for the grant goes.
    let c = Project::new("project-writes.js");
    fs::write(
        c.dir.join("package.json"),
        r#"{"name":"proj","version":"1.0.0"}"#,
    )
    .unwrap();
    let _ = fs::remove_file(c.dir.join("package-lock.json"));
    let r = install(
        &c.env,
        "block",
        &[
            "npm",
            "install",
            "--registry",
            &c.registry.registry_url(),
            "pw-not-there",
        ],
        &c.dir,
        &[],
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(!c.dir.join("package-lock.json").exists());
}

// ---------------------------------------------------------------- class 6 --

/// pkgwarden's own files in a test HOME, as an earlier install left them.
struct Own {
    probe: PathBuf,
    policy: PathBuf,
    report: PathBuf,
    forged: PathBuf,
    shim: PathBuf,
}

impl Own {
    fn plant(env: &ShimEnv) -> Own {
        let state = env.home.state_dir().join("pkgwarden");
        let cache = state.join("cache");
        let reports = state.join("reports");
        fs::create_dir_all(&cache).unwrap();
        fs::create_dir_all(&reports).unwrap();
        let probe = cache.join("probe-pw.json");
        fs::write(&probe, "{}").unwrap();
        let policy_dir = env.home.config_dir().join("pkgwarden");
        fs::create_dir_all(&policy_dir).unwrap();
        let policy = policy_dir.join("policy.toml");
        fs::write(&policy, "# the user's policy\n").unwrap();
        let report = reports.join("0000000001-20260101T000000Z-npm-00000000000000a1.json");
        fs::write(&report, "{}").unwrap();
        Own {
            probe,
            policy,
            forged: reports.join("9999999999-20991231T235959Z-npm-00000000000000ff.json"),
            report,
            shim: env.shims.join("pip"),
        }
    }

    fn tamper_var(&self) -> String {
        [
            format!("write:{}", self.probe.display()),
            format!("policy:{}", self.policy.display()),
            format!("write:{}", self.forged.display()),
            format!("remove:{}", self.report.display()),
            format!("remove:{}", self.shim.display()),
        ]
        .join("\n")
    }
}

#[test]
fn an_install_cannot_tamper_with_pkgwarden_own_files() {
    let c = Project::new("tamper.js");
    let own = Own::plant(&c.env);
    for mode in ["protect", "block"] {
        let r = c.install(mode, &[("PW_TAMPER", own.tamper_var())]);
        assert!(!r.stdout.contains("tamper wrote"), "{mode}: {}", r.stdout);
        assert_eq!(fs::read_to_string(&own.probe).unwrap(), "{}");
        assert_eq!(
            fs::read_to_string(&own.policy).unwrap(),
            "# the user's policy\n"
        );
        assert!(own.report.is_file(), "{mode}: the report was removed");
        assert!(!own.forged.exists(), "{mode}: a report was forged");
        assert!(
            own.shim.symlink_metadata().is_ok(),
            "{mode}: the shim was removed"
        );
        for p in [&own.probe, &own.policy, &own.forged, &own.report, &own.shim] {
            let f = finding_for(&r, "tamper.pkgwarden", p);
            check_finding(f, "T1562.001", "high", Some(&c.pkg()), Some("postinstall"));
            assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
        }
        let want = if mode == "block" { BLOCKED } else { 0 };
        assert_eq!(r.code, want, "{mode}: {}", r.stderr);
    }
    // The rule is in the SARIF catalogue with its technique.
    let out = run(c
        .env
        .pkgwarden()
        .args(["report", "show", "last", "--format", "sarif"]));
    assert_success(&out, "sarif export");
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let rule = rules
        .iter()
        .find(|r| r["id"] == "tamper.pkgwarden")
        .expect("tamper.pkgwarden in the SARIF rules");
    assert!(rule.to_string().contains("T1562.001"), "{rule:#}");
}

#[test]
fn a_forged_probe_cache_does_not_turn_the_sandbox_off() {
    let c = Project::new("project-writes.js");
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let cache = c.env.home.state_dir().join("pkgwarden/cache");
    fs::create_dir_all(&cache).unwrap();
    let forged = serde_json::json!({
        "landlock_abi": 0, "seccomp_filter": false, "user_notification": false,
        "sync_wakeup": false, "pidfd_getfd": false, "yama_ptrace_scope": null
    });
    let file = cache.join(format!(
        "probe-{}-{}.json",
        boot.trim(),
        env!("CARGO_PKG_VERSION")
    ));
    fs::write(&file, forged.to_string()).unwrap();
    // Through the shim, as a user would: sandboxed, the project refused.
    let r = c.install("protect", &[]);
    assert!(!r.stderr.contains("UNMONITORED"), "{}", r.stderr);
    assert!(r.stdout.contains("git-config refused"), "{}", r.stdout);
    assert_eq!(
        r.report["sandbox"]["landlock"]["filesystem"], true,
        "{:#}",
        r.report["sandbox"]
    );
}

#[test]
fn a_forged_report_dated_in_the_future_does_not_become_last() {
    let c = Project::new("project-writes.js");
    let first = c.install("protect", &[]);
    let reports = c.env.home.state_dir().join("pkgwarden/reports");
    // A copy of a real report, dated 2099, planted under the old-style name
    // (the sandbox cannot write the directory; audit or another program could).
    let mut forged = first.report.clone();
    forged["id"] = "00000000000000ff".into();
    forged["started"] = "2099-12-31T23:59:59Z".into();
    fs::write(
        reports.join("20991231T235959Z-npm-00000000000000ff.json"),
        serde_json::to_vec(&forged).unwrap(),
    )
    .unwrap();
    let second = c.install("protect", &[]);
    let out = run(c
        .env
        .pkgwarden()
        .args(["report", "show", "last", "--format", "json"]));
    assert_success(&out, "report show last");
    let last: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(last["id"], second.report["id"]);
    assert_ne!(last["id"], "00000000000000ff");
}

// ---------------------------------------------------------------- class 9 --

/// A project whose `.yarnrc` (in `rc_dir`) points yarn at `./evil.js`,
/// which appends a marker to `~/.bashrc` wherever it runs.
fn yarn_path_case(mode: &str, rc_in_parent: bool) {
    which::which("yarn").expect("yarn on PATH (.ci/run installs it)");
    let registry = NpmRegistry::start_with(vec![NpmFixture::load("pwdemo").package()]);
    let env = ShimEnv::new(&[]);
    let bashrc = env.home.path().join(".bashrc");
    fs::write(&bashrc, "# rc\n").unwrap();
    let project = env.home.subdir("work/proj");
    let rc_dir = if rc_in_parent {
        project.parent().unwrap().to_path_buf()
    } else {
        project.clone()
    };
    fs::write(
        rc_dir.join("evil.js"),
        "require('fs').appendFileSync(process.env.HOME + '/.bashrc', 'echo pw-yarn-path\\n');\n",
    )
    .unwrap();
    let mut rc = format!(
        "yarn-path \"./evil.js\"\nregistry \"{}\"\n",
        registry.registry_url()
    );
    if is_root() {
        let cache = env.home.path().join(".yarn-cache");
        rc.push_str(&format!("cache-folder \"{}\"\n", cache.display()));
    }
    fs::write(rc_dir.join(".yarnrc"), rc).unwrap();
    fs::write(
        project.join("package.json"),
        r#"{"name":"proj","version":"1.0.0","license":"MIT"}"#,
    )
    .unwrap();
    let out = run(env
        .shim("yarn")
        .args(["add", "pwdemo"])
        .env("PKGWARDEN_MODE", mode)
        .current_dir(&project));
    let err = stderr_str(&out);
    assert!(
        !fs::read_to_string(&bashrc)
            .unwrap()
            .contains("pw-yarn-path"),
        "{mode}: evil.js wrote ~/.bashrc\n{err}"
    );
    // Either sandboxed (a report) or a clear refusal, never unmonitored.
    assert!(
        err.contains(SANDBOXED) || err.contains("nothing was run"),
        "{mode}: {err}"
    );
    assert!(!err.contains(UNMONITORED), "{mode}: {err}");
}

#[test]
fn a_project_yarn_path_runs_no_code_outside_the_sandbox_in_block() {
    yarn_path_case("block", false);
}

#[test]
fn a_yarn_path_in_a_parent_directory_runs_no_code_outside_the_sandbox_in_protect() {
    yarn_path_case("protect", true);
}
