//! The install path around the manager: exit codes, signals, policy decisions,
//! the recursion guard and a missing manager. The manager here is a stand-in
//! shell script named `gem`, so each test controls exactly what it does.

use crate::support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::*;

/// A stand-in `gem`: logs its arguments to $GEM_LOG, exits with $GEM_EXIT,
/// sleeps when asked, and calls `gem` again through PATH when $GEM_NESTED is set.
const FAKE_GEM: &str = r#"#!/bin/sh
echo "gem $*" >> "$GEM_LOG"
if [ -n "$GEM_NESTED" ] && [ "$1" = install ]; then
  GEM_NESTED= gem install inner || exit 9
fi
if [ "$2" = slow ]; then exec sleep 30; fi
exit "${GEM_EXIT:-0}"
"#;

struct Fake {
    env: ShimEnv,
    log: PathBuf,
    _bin: tempfile::TempDir,
}

fn fake() -> Fake {
    let bin = tempfile::tempdir().unwrap();
    let gem = bin.path().join("gem");
    fs::write(&gem, FAKE_GEM).unwrap();
    fs::set_permissions(&gem, fs::Permissions::from_mode(0o755)).unwrap();
    let env = ShimEnv::new(&[bin.path()]);
    let log = env.home.path().join("gem.log");
    Fake {
        env,
        log,
        _bin: bin,
    }
}

impl Fake {
    fn gem(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.env.shim("gem");
        c.args(args).env("GEM_LOG", &self.log);
        c
    }

    fn calls(&self) -> Vec<String> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn policy(&self, text: &str) {
        let dir = self.env.home.config_dir().join("pkgwarden");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("policy.toml"), text).unwrap();
    }
}

#[test]
fn exit_codes_pass_through_and_reserved_ones_are_remapped() {
    let f = fake();
    for code in [0, 1, 2, 42] {
        let out = run(f.gem(&["install", "x"]).env("GEM_EXIT", code.to_string()));
        assert_eq!(out.status.code(), Some(code));
        assert!(stderr_str(&out).contains(UNMONITORED));
    }
    // 90-92 are pkgwarden's own verdicts; the manager's 90 becomes 1.
    let out = run(f.gem(&["install", "x"]).env("GEM_EXIT", "90"));
    assert_eq!(out.status.code(), Some(1));
    // A passthrough is the manager itself (execve): every code is its own.
    let out = run(f.gem(&["list"]).env("GEM_EXIT", "90"));
    assert_eq!(out.status.code(), Some(90));
    assert!(stderr_str(&out).is_empty());
    let mut expected = vec!["gem install x"; 5];
    expected.push("gem list");
    assert_eq!(f.calls(), expected);
}

#[test]
fn sigint_to_the_shim_reaches_the_manager_and_gives_130() {
    let f = fake();
    let mut cmd = f.gem(&["install", "slow"]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while f.calls().is_empty() {
        assert!(Instant::now() < deadline, "stand-in never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "SIGINT was not forwarded"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
}

#[test]
fn block_mode_runs_nothing_without_a_sandbox() {
    let f = fake();
    let out = run(f.gem(&["install", "x"]).env("PKGWARDEN_MODE", "block"));
    assert_eq!(out.status.code(), Some(91));
    assert!(stderr_str(&out).contains("block mode needs the sandbox"));
    assert!(f.calls().is_empty(), "the manager ran: {:?}", f.calls());
    // The same through `pkgwarden run --mode block`.
    let out = run(f
        .env
        .pkgwarden()
        .args(["run", "--mode", "block", "--", "gem", "install", "x"])
        .env("GEM_LOG", &f.log));
    assert_eq!(out.status.code(), Some(91));
    assert!(f.calls().is_empty());
    // Non-installs are not affected by the mode.
    let out = run(f.gem(&["list"]).env("PKGWARDEN_MODE", "block"));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_broken_policy_runs_nothing_and_says_where() {
    let f = fake();
    f.policy("mode = \"protect\"\ntime_window = \"5 fortnights\"\n");
    let out = run(&mut f.gem(&["install", "x"]));
    assert_eq!(out.status.code(), Some(92));
    let err = stderr_str(&out);
    assert!(err.contains("policy.toml:2:15:"), "{err}");
    assert!(
        err.contains("nothing was run") && err.contains("hint:"),
        "{err}"
    );
    assert!(f.calls().is_empty());
    f.policy("");
    let out = run(f.gem(&["install", "x"]).env("PKGWARDEN_MODE", "strict"));
    assert_eq!(out.status.code(), Some(92));
    assert!(stderr_str(&out).contains("PKGWARDEN_MODE"));
    assert!(f.calls().is_empty());
}

#[test]
fn policy_scope_decides_what_is_monitored() {
    let f = fake();
    let me = stdout_str(&run(std::process::Command::new("id").arg("-un")))
        .trim()
        .to_string();
    // An excluded account passes through: no pkgwarden line.
    f.policy(&format!(
        "[user_scope]\nmin_uid = 1000\nmax_uid = 60000\nroot = true\nexclude_users = [\"{me}\"]\n"
    ));
    let out = run(&mut f.gem(&["install", "x"]));
    assert_eq!(out.status.code(), Some(0));
    assert!(!stderr_str(&out).contains("pkgwarden"));
    // A manager left out of package_managers passes through.
    f.policy("package_managers = [\"pip\", \"npm\"]\n");
    let out = run(&mut f.gem(&["install", "x"]));
    assert!(!stderr_str(&out).contains("pkgwarden"));
    // An allowed parent (this test binary, by path) passes through.
    f.policy("");
    let me_exe = std::env::current_exe().unwrap();
    let out = run(f
        .gem(&["install", "x"])
        .env("PKGWARDEN_ALLOWED_PARENTS", &me_exe));
    assert!(
        !stderr_str(&out).contains("pkgwarden"),
        "{}",
        stderr_str(&out)
    );
    // Otherwise it is the install path.
    let out = run(&mut f.gem(&["install", "x"]));
    assert!(stderr_str(&out).contains(UNMONITORED));
    assert_eq!(f.calls().len(), 4);
}

#[test]
fn a_manager_calling_itself_inside_an_install_goes_straight_through() {
    let f = fake();
    let out = run(f.gem(&["install", "outer"]).env("GEM_NESTED", "1"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(f.calls(), vec!["gem install outer", "gem install inner"]);
    assert_eq!(stderr_str(&out).matches(UNMONITORED).count(), 1);
}

#[test]
fn a_copied_supervisor_marker_does_not_skip_monitoring() {
    let f = fake();
    // pid 1 is an ancestor of everything but is not pkgwarden; our parent is
    // the test runner. Neither may switch monitoring off.
    let parent = std::process::id().to_string();
    for pid in ["1", parent.as_str(), "not-a-pid"] {
        let out = run(f.gem(&["install", "x"]).env("PKGWARDEN_SUPERVISOR", pid));
        assert!(
            stderr_str(&out).contains(UNMONITORED),
            "marker {pid} was trusted"
        );
    }
}

#[test]
fn a_missing_manager_is_127_like_a_shell() {
    let env = ShimEnv::new(&[]);
    let out = run(env
        .shim("micromamba")
        .arg("install")
        .arg("x")
        .env("PATH", path_without("micromamba", &env)));
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(
        stderr_str(&out),
        "pkgwarden: no real 'micromamba' found on PATH (shims dir skipped)\n"
    );
}

/// PATH with the shims first and no directory that holds `name`.
fn path_without(name: &str, env: &ShimEnv) -> std::ffi::OsString {
    let dirs: Vec<PathBuf> = std::env::split_paths(&env.path)
        .filter(|d| d == &env.shims || !Path::new(d).join(name).exists())
        .collect();
    std::env::join_paths(dirs).unwrap()
}

#[test]
fn a_manager_pkgwarden_cannot_plan_for_runs_loudly_in_protect_and_never_in_block() {
    let f = fake();
    // The stand-in answers no probe as RubyGems does: its facts are a
    // skeleton. Protect runs it and says so, with why and the way out.
    let out = run(&mut f.gem(&["install", "x"]));
    let err = stderr_str(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains(UNMONITORED), "{err}");
    assert!(err.contains("did not answer as this manager does"), "{err}");
    assert!(err.contains("--sandbox") && err.contains("block"), "{err}");
    assert!(f.calls().contains(&"gem install x".to_string()));
    // Block runs nothing, and says why.
    let before = f.calls().len();
    let out = run(f.gem(&["install", "y"]).env("PKGWARDEN_MODE", "block"));
    let err = stderr_str(&out);
    assert_eq!(out.status.code(), Some(91), "{err}");
    assert!(err.contains("did not answer as this manager does"), "{err}");
    assert!(
        !f.calls()[before..].contains(&"gem install y".to_string()),
        "{:?}",
        f.calls()
    );
}
