//! The post-install watch window (policy `time_window`): a detached watcher
//! that keeps taking the persistence snapshot after the install has ended,
//! and adds what changes to the install's report.
//!
//! Some packages act after the install: a `.pth` that imports a module its
//! own distribution ships looks benign, yet runs that module the next time
//! Python starts. Nothing pkgwarden started does the write then, so the
//! window observes and records; it never undoes (it cannot tell the
//! package's later write from the user's own).

use crate::detect::{self, Finding};
use crate::monitor::snapshot::{self, Change, Scope, Snapshot};
use crate::policy::Mode;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the watcher looks. A snapshot costs a few milliseconds.
const TICK: Duration = Duration::from_secs(1);

/// Everything the watcher needs, handed over in a file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WatchSpec {
    /// The report the window adds to.
    pub report_id: String,
    /// When the install ended (ms since the epoch).
    pub ended_ms: u64,
    /// When the window closes (ms since the epoch).
    pub until_ms: u64,
    /// What to snapshot: the install's own scope.
    pub scope: Scope,
    /// The snapshot taken after the install: what the window compares
    /// with, so nothing written between the install and the watcher's
    /// start is missed.
    pub baseline: Snapshot,
    /// The baseline's kept file contents (base64), which a snapshot never
    /// serialises itself: the window's changes show their lines with them.
    #[serde(default)]
    pub contents: BTreeMap<PathBuf, String>,
    /// The install's mode.
    pub mode: Mode,
    /// The install's expected roots.
    pub expected: Vec<PathBuf>,
    /// The manager's configuration files.
    pub manager_configs: Vec<PathBuf>,
    /// Policy `startup_paths.linux`.
    pub startup_patterns: Vec<String>,
    /// Policy `executable_entropy_threshold`.
    pub entropy_threshold: f64,
    /// Policy `unsigned_binary_alerting`.
    pub unsigned_binary_alerting: bool,
    /// The root project's package, for hooks the project asks for.
    pub project_package: Option<String>,
}

/// What the window saw, stored in the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchReport {
    /// The window's length in seconds.
    pub window_s: u64,
    /// When it closes (RFC 3339).
    pub until: String,
    /// True once the watcher has stopped.
    pub ended: bool,
    /// Changes to persistence locations since the install ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

/// Where watch specs wait for their watcher.
fn spec_dir() -> Option<PathBuf> {
    crate::paths::state_dir().map(|d| d.join("watch"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// The window as the report states it before the watcher has looked.
pub fn pending(window: Duration) -> WatchReport {
    WatchReport {
        window_s: window.as_secs(),
        until: crate::report::rfc3339(SystemTime::now() + window, 0, true).unwrap_or_default(),
        ended: false,
        changes: Vec::new(),
    }
}

impl WatchSpec {
    /// Keeps the baseline's contents in [`WatchSpec::contents`].
    pub fn keep_contents(&mut self) {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.contents = self
            .baseline
            .entries
            .iter()
            .filter_map(|(p, e)| Some((p.clone(), b64.encode(e.content.as_ref()?))))
            .collect();
    }

    /// Puts [`WatchSpec::contents`] back into the baseline.
    fn restore_contents(&mut self) {
        let b64 = base64::engine::general_purpose::STANDARD;
        for (p, c) in std::mem::take(&mut self.contents) {
            if let (Some(e), Ok(bytes)) = (self.baseline.entries.get_mut(&p), b64.decode(c)) {
                e.content = Some(bytes);
            }
        }
    }
}

/// Starts the watcher for `spec`: this binary again (`pkgwarden watch
/// <file>`), in a session of its own, with no terminal and no inherited
/// output, so neither the shell nor a pipe reading the install waits for it.
pub fn spawn(spec: &WatchSpec) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    use std::os::unix::process::CommandExt;
    let dir = spec_dir().ok_or("no state directory: set HOME or XDG_STATE_HOME")?;
    // Private: the spec holds the content of start-up files.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let file = dir.join(format!("{}.json", spec.report_id));
    let json = serde_json::to_vec(spec).map_err(|e| format!("cannot encode the watch: {e}"))?;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| f.write_all(&json))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find pkgwarden itself: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("watch")
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // The watcher lives past the install: it keeps none of the user's
        // environment (tokens, keys), only what locates pkgwarden's files.
        .env_clear()
        .envs(watcher_env(std::env::vars_os()));
    // SAFETY: setsid is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the watcher: {e}"))
}

/// The variables the watcher keeps: where pkgwarden's files are, and the
/// locale and time zone its report dates use.
fn watcher_env(
    env: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    const KEEP: &[&str] = &[
        "HOME",
        "PATH",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        "PKGWARDEN_SYSTEM_POLICY",
        "LANG",
        "LC_ALL",
        "TZ",
    ];
    env.filter(|(k, _)| KEEP.iter().any(|n| k.as_os_str() == *n))
        .collect()
}

/// The watcher's body: snapshot every [`TICK`] until the window closes (or
/// the report or the home it watches is gone), adding changes and the
/// findings they make to the report. Returns the process exit code.
pub fn run(spec_file: &Path) -> i32 {
    let mut spec: WatchSpec = match std::fs::read(spec_file)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "pkgwarden: cannot read the watch {}: {e}",
                spec_file.display()
            );
            return 2;
        }
    };
    let _ = std::fs::remove_file(spec_file);
    spec.restore_contents();
    // Low priority: the window must not slow down what the user does next.
    // SAFETY: plain syscall on this process.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
    let baseline = &spec.baseline;
    let mut recorded: Vec<Change> = Vec::new();
    loop {
        let left = spec.until_ms.saturating_sub(now_ms());
        let last = left == 0;
        if !last {
            std::thread::sleep(TICK.min(Duration::from_millis(left)));
        }
        if spec.scope.home.as_ref().is_some_and(|h| !h.exists()) {
            return 0;
        }
        let changes = snapshot::diff(baseline, &snapshot::take(&spec.scope));
        if changes != recorded || now_ms() >= spec.until_ms {
            let closing = now_ms() >= spec.until_ms;
            let findings = if changes != recorded {
                judge(&spec, &changes)
            } else {
                Vec::new()
            };
            match update(&spec, &changes, findings, closing) {
                Ok(true) => {}
                // The report is gone (deleted, or its home removed): stop.
                Ok(false) => return 0,
                Err(e) => {
                    eprintln!("pkgwarden: watch: {e}");
                    return 1;
                }
            }
            recorded = changes;
            if closing {
                return 0;
            }
        }
    }
}

/// The rules over the window's changes alone: no events, no process.
fn judge(spec: &WatchSpec, changes: &[Change]) -> Vec<Finding> {
    let input = detect::Input {
        mode: spec.mode,
        home: spec.scope.home.clone(),
        cwd: spec.scope.cwd.clone(),
        expected: spec.expected.clone(),
        manager_configs: spec.manager_configs.clone(),
        site_dirs: spec.scope.site_dirs.clone(),
        path_dirs: spec.scope.path_dirs.clone(),
        startup_patterns: spec.startup_patterns.clone(),
        entropy_threshold: spec.entropy_threshold,
        unsigned_binary_alerting: spec.unsigned_binary_alerting,
        project_package: spec.project_package.clone(),
        changes,
        ..detect::Input::default()
    };
    detect::run(&input)
}

/// Adds the window's state to the stored report. `Ok(false)` when the
/// report no longer exists.
fn update(
    spec: &WatchSpec,
    changes: &[Change],
    findings: Vec<Finding>,
    closing: bool,
) -> Result<bool, String> {
    let mut report = match crate::report::store::load(&spec.report_id) {
        Ok(r) => r,
        Err(crate::report::store::StoreError::NotFound { .. }) => return Ok(false),
        Err(e) => return Err(e.to_string()),
    };
    let after = now_ms().saturating_sub(spec.ended_ms);
    for mut f in findings {
        let known = report.findings.iter().any(|g| {
            g.after_ms.is_some()
                && g.rule == f.rule
                && g.evidence.paths == f.evidence.paths
                && g.evidence.sha256 == f.evidence.sha256
        });
        if !known {
            f.after_ms = Some(after);
            let note = format!(
                "seen {} s after the install ended, by a process pkgwarden did not start",
                after / 1000
            );
            // The rules' "during the install" wording does not apply here.
            f.evidence.detail = Some(match f.evidence.detail.take() {
                Some(d) if !d.contains("during the install") => format!("{d}; {note}"),
                _ => note,
            });
            report.findings.push(f);
        }
    }
    report
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    let w = report.watch.get_or_insert_with(WatchReport::default);
    w.changes = changes.to_vec();
    w.ended = closing;
    crate::report::store::write(&report)
        .map(|_| true)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watcher_keeps_no_secret() {
        let env = [
            ("HOME", "/home/u"),
            ("XDG_STATE_HOME", "/home/u/.local/state"),
            ("GITHUB_TOKEN", "not-real"),
            ("DATABASE_URL", "postgres://u:p@h/db"),
            ("SSH_AUTH_SOCK", "/tmp/agent"),
            ("PKGWARDEN_SUPERVISOR", "1"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let kept: Vec<String> = watcher_env(env.into_iter())
            .into_iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, vec!["HOME", "XDG_STATE_HOME"]);
    }
}
