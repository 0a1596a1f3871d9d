//! Builds the report of one sandboxed install from what the stages
//! produced: the plan, the sandbox's status, what was observed and judged,
//! and the verdict.

use super::model::{
    EnvReport, Files, Outcome, PackageCode, Report, SandboxStatus, Timings, What, Who,
};
use crate::detect::Input;
use crate::model::Finding;
use crate::model::Observed;
use crate::model::change::Snapshot;
use crate::policy::{Effective, Mode, Policy};
use crate::procfs as procs;
use crate::sandbox::landlock::LandlockStatus;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What the report says about the sandbox, as the install ran it.
pub struct Sandboxing<'a> {
    /// landlock's status, as the kernel enforced it.
    pub landlock: &'a LandlockStatus,
    /// The supervisor's counts (the events are in the detectors' input).
    pub observed: &'a Observed,
    /// The snapshots before and after.
    pub before: &'a Snapshot,
    /// See `before`.
    pub after: &'a Snapshot,
    /// Credential files the manager of this install keeps readable.
    pub readable_credentials: &'a [PathBuf],
    /// Why the supervisor's record is missing, when it failed.
    pub supervisor_failed: Option<String>,
    /// How the feed was consulted, when one is present.
    pub intel: Option<crate::model::report::IntelUse>,
}

/// Everything the report of one install is made of.
pub struct Parts<'a> {
    /// The report's id (also the quarantine's).
    pub id: String,
    /// When the install started.
    pub started: SystemTime,
    /// How long it took, all stages.
    pub duration_ms: u64,
    /// The stages' times.
    pub timings: Timings,
    /// The command as typed and run.
    pub what: What,
    /// The sandbox as it ran.
    pub sandbox: Sandboxing<'a>,
    /// The detectors' input: what was seen, and where.
    pub input: &'a Input<'a>,
    /// The secret variables removed from the install's environment.
    pub env_removed: &'a [String],
    /// The findings, after the verdict.
    pub findings: Vec<Finding>,
    /// What went into quarantine.
    pub quarantine: Vec<super::model::Quarantined>,
    /// How the install ended.
    pub outcome: Outcome,
    /// The watch window after the install (zero: none).
    pub window: Duration,
}

/// The command line as typed and as run, and the policy it ran under.
pub struct Command<'a> {
    /// The manager's name.
    pub manager: &'a str,
    /// The name typed (`pip3.11`, `python3`).
    pub typed: &'a str,
    /// The real manager.
    pub real: &'a Path,
    /// Its version, when the facts know it.
    pub version: Option<String>,
    /// The arguments after argv[0].
    pub args: &'a [std::ffi::OsString],
    /// The classified command (`install`, `add` …).
    pub command: &'a str,
    /// The working directory.
    pub cwd: &'a Path,
    /// The cooldown the plan applied.
    pub cooldown: Option<crate::model::cooldown::Cooldown>,
}

/// The report's `what`: the command, and the policy's mode, layers and hash.
pub fn what(c: Command<'_>, eff: &Effective) -> What {
    What {
        manager: c.manager.to_string(),
        typed: c.typed.to_string(),
        real_exe: c.real.display().to_string(),
        version: c.version,
        argv: c
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        command: c.command.to_string(),
        cwd: c.cwd.display().to_string(),
        mode: eff.policy.mode.to_string(),
        policy_sources: eff.layers.iter().map(|l| l.to_string()).collect(),
        policy_hash: policy_hash(&eff.policy),
        cooldown: c.cooldown,
    }
}

/// The report of one install.
pub fn report(p: Parts<'_>) -> Report {
    let input = p.input;
    let audit = input.mode == Mode::Audit;
    let s = &p.sandbox;
    Report {
        version: super::model::VERSION,
        id: p.id,
        started: humantime::format_rfc3339_seconds(p.started).to_string(),
        duration_ms: p.duration_ms,
        timings: p.timings,
        who: who(),
        what: p.what,
        sandbox: SandboxStatus {
            enforced: enforced(audit, s.landlock),
            observed_only: if audit {
                vec!["files".into(), "network".into(), "syscalls".into()]
            } else {
                capped(s.landlock)
            },
            landlock: serde_json::to_value(s.landlock).ok(),
            readable_secrets: readable_secrets(s.readable_credentials, &input.cwd),
            refused_grants: input.fs.refused.iter().map(|r| r.to_string()).collect(),
            filter_still_held: s.observed.still_held,
            notifications: s.observed.notifications,
            snapshot_us: s.before.took_us + s.after.took_us,
            snapshot_incomplete: s.after.incomplete.clone(),
            supervisor_max_rss_kb: procs::max_rss_kb(),
            package_code: PackageCode::summarise(input),
            supervisor_failed: s.supervisor_failed.clone(),
            intel: s.intel.clone(),
        },
        outcome: p.outcome,
        files: Files::summarise(input),
        processes: input.tree.to_vec(),
        lingering: input.lingering.to_vec(),
        endpoints: input.requests.to_vec(),
        network: input
            .events
            .iter()
            .filter(|e| e.kind.is_network())
            .cloned()
            .collect(),
        env: EnvReport {
            removed: p.env_removed.to_vec(),
            kept: input.env_kept.to_vec(),
        },
        snapshot: input.changes.to_vec(),
        findings: p.findings,
        quarantine: p.quarantine,
        watch: (!p.window.is_zero()).then(|| pending_watch(p.window)),
    }
}

/// The protections in force: what landlock enforced, seccomp and the proxy
/// (audit refuses nothing: it observes the deny list).
fn enforced(audit: bool, ll: &LandlockStatus) -> Vec<String> {
    if audit {
        return vec!["seccomp-deny-list (observed, not refused)".into()];
    }
    let mut v = Vec::new();
    if ll.filesystem {
        v.push("landlock-fs".to_string());
    }
    if ll.network {
        v.push("landlock-net".into());
    }
    if ll.scoping {
        v.push("landlock-scope".into());
    }
    // Landlock's truncate right is ABI 3: below, seccomp refuses read-only
    // O_TRUNC opens and truncate(2) (seccomp.rs `truncation`).
    if ll.filesystem && ll.abi < 3 {
        v.push("seccomp-truncate".into());
    }
    v.extend([
        "seccomp-deny".into(),
        "seccomp-notify".into(),
        "proxy".into(),
    ]);
    v
}

/// A landlock ABI capped below the kernel's (a test setting), as what was
/// not enforced.
fn capped(ll: &LandlockStatus) -> Vec<String> {
    ll.capped_from
        .map(|k| {
            format!(
                "landlock ABI {k} features (capped at {} by {})",
                ll.abi,
                crate::sandbox::landlock::ABI_CAP_VAR
            )
        })
        .into_iter()
        .collect()
}

/// Credential files that stayed readable inside the sandbox (the manager
/// of this install reads them; its package scripts do not see them).
fn readable_secrets(own: &[PathBuf], cwd: &Path) -> Vec<String> {
    own.iter()
        .cloned()
        .chain(std::iter::once(cwd.join(".env")))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect()
}

/// SHA-256 of the effective policy as JSON.
fn policy_hash(p: &Policy) -> String {
    use sha2::Digest;
    let json = serde_json::to_vec(p).unwrap_or_default();
    sha2::Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Who runs this install.
fn who() -> Who {
    let uid = nix::unistd::getuid().as_raw();
    Who {
        user: crate::sys::user_name(uid),
        uid,
        host: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string()),
        parents: procs::ancestors()
            .iter()
            .map(|a| format!("{} {}", a.pid, a.comm))
            .collect(),
    }
}

/// The supervisor's view as `--events-json` writes it (for tests and
/// debugging): the raw events, the process tree, the requests.
pub fn events_json(p: &Parts<'_>, exit_code: i32) -> serde_json::Value {
    let input = p.input;
    serde_json::json!({
        "manager": p.what.manager,
        "command": p.what.command,
        "mode": input.mode,
        "exit_code": exit_code,
        "landlock": p.sandbox.landlock,
        "seccomp": {"notify": true},
        "lingering": input.lingering,
        "filter_still_held": p.sandbox.observed.still_held,
        "processes": input.tree,
        "requests": input.requests,
        "env": {"removed": p.env_removed, "kept": input.env_kept},
        "notifications": p.sandbox.observed.notifications,
        "supervisor_max_rss_kb": procs::max_rss_kb(),
        "events": input.events,
    })
}

/// The window as the report states it before the watcher has looked.
fn pending_watch(window: std::time::Duration) -> crate::model::WatchReport {
    crate::model::WatchReport {
        window_s: window.as_secs(),
        until: super::rfc3339(std::time::SystemTime::now() + window, 0, true).unwrap_or_default(),
        ended: false,
        changes: Vec::new(),
    }
}
