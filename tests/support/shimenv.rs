//! A temporary HOME with pkgwarden's shims installed first on PATH.

use super::{TestHome, assert_success, pkgwarden_bin, run};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The words pkgwarden prints after an install it could not monitor yet.
pub const UNMONITORED: &str = "ran unmonitored";

/// What pkgwarden's summary after a sandboxed install always holds: the
/// report it left.
pub const SANDBOXED: &str = " · report ";

/// What the shims link to: the shim executable beside pkgwarden
/// (`pkgwarden-shim`), or pkgwarden itself (with a warning) where it is
/// missing; canonical.
pub fn shim_target() -> PathBuf {
    let shim = pkgwarden_bin().with_file_name("pkgwarden-shim");
    let target = if shim.is_file() {
        shim
    } else {
        pkgwarden_bin()
    };
    std::fs::canonicalize(target).expect("the shims' target")
}

/// A test HOME whose PATH is: shims, then `dirs`, then the test's own PATH.
pub struct ShimEnv {
    /// The HOME.
    pub home: TestHome,
    /// The shim directory.
    pub shims: PathBuf,
    /// PATH with the shims first.
    pub path: OsString,
}

impl ShimEnv {
    /// Installs the shims with `pkgwarden shims install` and builds PATH.
    pub fn new(dirs: &[&Path]) -> ShimEnv {
        let home = TestHome::new();
        let shims = home.path().join("shims");
        let outer = std::env::var_os("PATH").unwrap_or_default();
        let mut entries: Vec<PathBuf> = vec![shims.clone()];
        entries.extend(dirs.iter().map(|d| d.to_path_buf()));
        entries.extend(std::env::split_paths(&outer));
        let path = std::env::join_paths(entries).expect("PATH entries");
        let env = ShimEnv { home, shims, path };
        let out = run(env
            .pkgwarden()
            .args(["shims", "install", "--dir"])
            .arg(&env.shims));
        assert_success(&out, "pkgwarden shims install");
        env
    }

    /// `pkgwarden` with this HOME and PATH.
    pub fn pkgwarden(&self) -> Command {
        self.with_env(self.home.command(pkgwarden_bin()))
    }

    /// The shim `name`, as a user typing `name` would run it.
    pub fn shim(&self, name: &str) -> Command {
        let mut cmd = self.with_env(self.home.command(self.shims.join(name)));
        // A shell passes the command name as typed.
        std::os::unix::process::CommandExt::arg0(&mut cmd, name);
        cmd
    }

    /// A program run directly, with the same environment.
    pub fn bare(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.with_env(self.home.command(program))
    }

    /// The install reports stored so far in this HOME.
    pub fn report_files(&self) -> std::collections::BTreeSet<PathBuf> {
        std::fs::read_dir(self.home.state_dir().join("pkgwarden/reports"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The reports stored since `before` (a [`ShimEnv::report_files`] result).
    pub fn reports_since(&self, before: &std::collections::BTreeSet<PathBuf>) -> Vec<PathBuf> {
        self.report_files().difference(before).cloned().collect()
    }

    fn with_env(&self, mut cmd: Command) -> Command {
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PKGWARDEN_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env(
            "PKGWARDEN_SYSTEM_POLICY",
            self.home.path().join("etc-pkgwarden-policy.toml"),
        )
        .env("PATH", &self.path)
        .env("PKGWARDEN_SHIMS_DIR", &self.shims)
        .env("NO_COLOR", "1");
        cmd
    }
}

/// A stand-in `gem` from a shell script, first on PATH after the shims, in a
/// new [`ShimEnv`] (with `HOME/work`, which protect mode lets it write).
/// Keep the returned directory alive as long as the environment.
pub fn stand_in(script: &str) -> (ShimEnv, tempfile::TempDir) {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().expect("stand-in dir");
    let gem = bin.path().join("gem");
    std::fs::write(&gem, script).expect("stand-in script");
    std::fs::set_permissions(&gem, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let env = ShimEnv::new(&[bin.path()]);
    env.home.subdir("work");
    (env, bin)
}

/// A stand-in `gem` whose install runs `code` with python3 (`$PY`, which
/// [`gem_install`] sets), in a new [`ShimEnv`] whose HOME has a `.bashrc`.
pub fn python_hook(code: &str) -> (ShimEnv, tempfile::TempDir) {
    let (env, bin) = stand_in("#!/bin/sh\nexec \"$PY\" \"$(dirname \"$0\")/hook.py\"\n");
    std::fs::write(bin.path().join("hook.py"), code).expect("hook.py");
    std::fs::write(env.home.path().join(".bashrc"), "# rc\n").expect(".bashrc");
    (env, bin)
}

/// One `pkgwarden run --sandbox --mode MODE -- gem install x` of a
/// [`python_hook`] in `cwd` with `vars`: exit code, everything printed
/// (after a `MODE:` line), and the one report it left.
pub fn gem_install(
    env: &ShimEnv,
    mode: &str,
    cwd: &Path,
    vars: &[(&str, &str)],
) -> (i32, String, serde_json::Value) {
    let before = env.report_files();
    let out = super::run_with_timeout(
        env.pkgwarden()
            .env("PY", super::python3())
            .envs(vars.iter().copied())
            .current_dir(cwd)
            .args([
                "run",
                "--sandbox",
                "--mode",
                mode,
                "--",
                "gem",
                "install",
                "x",
            ]),
        std::time::Duration::from_secs(150),
    );
    let text = format!(
        "{mode}:\n{}{}",
        super::stdout_str(&out),
        super::stderr_str(&out)
    );
    let new = env.reports_since(&before);
    assert_eq!(new.len(), 1, "one report expected: {text}");
    let report = serde_json::from_slice(&std::fs::read(&new[0]).expect("report")).expect("json");
    (out.status.code().unwrap_or(-1), text, report)
}

/// Waits up to 30 s for `path` to exist.
pub fn wait_for(path: &Path, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never happened"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
