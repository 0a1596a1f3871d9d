//! The audit report of one install: a versioned JSON document.

use crate::model::{
    Change, Event, EventKind, Finding, Lingering, ProcNode, Request, Severity, WatchReport,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The report format's version; bumped when a field changes meaning.
pub const VERSION: u32 = 1;

/// Everything pkgwarden knows about one install.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// [`VERSION`].
    pub version: u32,
    /// A random id (16 hex digits), unique per install.
    pub id: String,
    /// Start time, RFC 3339 UTC.
    pub started: String,
    /// Wall time of the whole install, in milliseconds.
    pub duration_ms: u64,
    /// Where that time went.
    #[serde(default, skip_serializing_if = "Timings::is_empty")]
    pub timings: Timings,
    /// Who ran it.
    pub who: Who,
    /// What ran.
    pub what: What,
    /// What the sandbox enforced and what it only observed.
    pub sandbox: SandboxStatus,
    /// How it ended.
    pub outcome: Outcome,
    /// Every exec, as a tree (parent pids).
    pub processes: Vec<ProcNode>,
    /// Processes still running when the manager exited.
    pub lingering: Vec<Lingering>,
    /// File activity.
    pub files: Files,
    /// Requests through the proxy.
    pub endpoints: Vec<Request>,
    /// Network syscalls seen by the supervisor (direct connects, DNS, unix
    /// sockets), in full.
    pub network: Vec<Event>,
    /// Environment variables removed from and kept in the install's
    /// environment (names only, never values).
    pub env: EnvReport,
    /// Changes to persistence locations (before/after snapshot).
    pub snapshot: Vec<Change>,
    /// What the rules found.
    pub findings: Vec<Finding>,
    /// What was moved to the quarantine.
    pub quarantine: Vec<Quarantined>,
    /// The post-install watch window, when one was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchReport>,
}

impl Report {
    /// The highest severity among the findings.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Where an install's time went, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timings {
    /// From pkgwarden's start to the manager's start: facts, snapshot,
    /// sandbox rules, proxy.
    pub setup_ms: u64,
    /// The manager, sandboxed.
    pub manager_ms: u64,
    /// After it: the second snapshot, the rules, the quarantine.
    pub analysis_ms: u64,
    /// Of setup and analysis: stating the installed distributions' RECORD
    /// files before, hashing the changed ones after (microseconds), and how
    /// many distributions and files that covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_check: Option<RecordCheck>,
    /// Of analysis: the start-up detonation, when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detonation_ms: Option<u64>,
    /// Of analysis: the feed's check of the packages the install wrote
    /// (microseconds), when a feed is imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_us: Option<u64>,
}

/// The cost of the RECORD verification of one install.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RecordCheck {
    /// Distributions whose RECORD was read.
    pub dists: usize,
    /// Files listed with a hash.
    pub files: usize,
    /// Microseconds stating them before the install.
    pub stat_us: u64,
    /// Microseconds checking them after.
    pub verify_us: u64,
}

impl Timings {
    /// Nothing measured (a report written by hand, or by an older version).
    pub fn is_empty(&self) -> bool {
        self.setup_ms == 0 && self.manager_ms == 0 && self.analysis_ms == 0
    }
}

/// Who ran the install.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Who {
    /// Account name.
    pub user: Option<String>,
    /// Real uid.
    pub uid: u32,
    /// Host name.
    pub host: Option<String>,
    /// Parent processes, nearest first: `pid name`.
    pub parents: Vec<String>,
}

/// What ran.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct What {
    /// The manager (`pip`, `npm`, `python` for `python -m pip` …): what
    /// reports are grouped and labelled by.
    pub manager: String,
    /// The command name as the user invoked it (`npm`, `python3`,
    /// `pip3.11`); empty in reports written before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub typed: String,
    /// The real manager's path.
    pub real_exe: String,
    /// The manager's version, when known.
    pub version: Option<String>,
    /// The arguments after the command, as given.
    pub argv: Vec<String>,
    /// The install subcommand (`install`, `add` …).
    pub command: String,
    /// Working directory.
    pub cwd: String,
    /// audit · protect · block.
    pub mode: String,
    /// Policy layers that were read, lowest first.
    pub policy_sources: Vec<String>,
    /// SHA-256 of the effective policy as JSON.
    pub policy_hash: String,
    /// The release-age cooldown applied (its cut-off and the manager's
    /// gate), or why it was not enforced; absent when the policy sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<crate::model::cooldown::Cooldown>,
}

impl What {
    /// The command name as the user invoked it, or the manager's name in
    /// reports that predate it.
    pub fn typed_name(&self) -> &str {
        if self.typed.is_empty() {
            &self.manager
        } else {
            &self.typed
        }
    }
}

/// What the kernel enforced and what was only observed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SandboxStatus {
    /// Protections in force (`landlock-fs`, `landlock-net`, `seccomp-deny`,
    /// `seccomp-notify`, `proxy` …).
    pub enforced: Vec<String>,
    /// What was only watched (audit mode, missing kernel features).
    pub observed_only: Vec<String>,
    /// The landlock status as the crate reported it.
    pub landlock: Option<serde_json::Value>,
    /// Credential stores that stayed readable.
    pub readable_secrets: Vec<String>,
    /// Write grants of the plan not made, for what their names resolve to
    /// (a lockfile that is a link to a start-up file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_grants: Vec<String>,
    /// True when processes still held the seccomp filter after the grace
    /// period.
    pub filter_still_held: bool,
    /// Notifications the supervisor handled.
    pub notifications: u64,
    /// Microseconds the two snapshots of persistence locations took.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub snapshot_us: u64,
    /// Snapshot walks cut short by their size limits (what was not seen).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshot_incomplete: Vec<String>,
    /// The supervisor's peak resident set size, in KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor_max_rss_kb: Option<u64>,
    /// Package code started as plain child processes (build backends,
    /// `setup.py`, `extconf.rb`): whether each ran in the nested domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_code: Option<PackageCode>,
    /// Why the supervisor's record of the install is missing (it failed):
    /// the report then rests on the snapshots alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor_failed: Option<String>,
    /// The offline feed of known-malicious packages, when one is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel: Option<IntelUse>,
}

/// How the install consulted the feed of known-malicious packages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelUse {
    /// The feed was consulted on every archive the proxy saw.
    pub consulted: bool,
    /// When the feed was imported (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_at: Option<String>,
    /// Whole days since that import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_days: Option<u64>,
    /// The newest record's `modified` time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_record: Option<String>,
    /// The manager's registries over TLS whose connections were terminated
    /// so the feed sees what they serve (`host:port`).
    #[serde(default)]
    pub tls_inspected: Vec<String>,
    /// Why registries over TLS were not inspected, when they were not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_not_inspected: Option<String>,
}

/// Whether the install's package code ran nested (README, "The sandbox").
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PackageCode {
    /// `preload` when the library was set up, else why not.
    pub mechanism: String,
    /// Processes that ran package code.
    pub runs: u32,
    /// Of those, the ones confined in the nested domain.
    pub nested: u32,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How the install ended.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Outcome {
    /// `completed` (the manager exited), `interrupted` (a signal ended it),
    /// `crashed` (it died of a fault signal), `blocked` (block mode failed it).
    pub status: String,
    /// The manager's own exit code.
    pub manager_exit: Option<i32>,
    /// The signal that ended the manager.
    pub signal: Option<i32>,
    /// The code pkgwarden exited with.
    pub exit_code: i32,
}

/// File activity, summarised.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Files {
    /// Write events per expected root.
    pub per_root: BTreeMap<String, u64>,
    /// Write events outside every expected root, in full.
    pub outside: Vec<Event>,
    /// Credential reads, in full.
    pub secret_reads: Vec<Event>,
    /// Write events in all.
    pub writes: u64,
    /// Writes the sandbox refused (each is also in `outside`, with action
    /// `denied`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused: u64,
}

/// Environment names removed and kept.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EnvReport {
    /// Removed from the install's environment.
    pub removed: Vec<String>,
    /// Secret-like names kept (the manager's configuration refers to them).
    pub kept: Vec<String>,
}

/// A file moved to the quarantine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Quarantined {
    /// Where it was.
    pub original: String,
    /// Where it is now.
    pub stored: String,
    /// SHA-256 of its content.
    pub sha256: String,
    /// True when the file existed before the install and its earlier content
    /// was put back.
    pub restored_previous: bool,
}

impl Files {
    /// The paths of the refused writes, in the order they were tried.
    pub fn refused_paths(&self) -> Vec<&str> {
        self.refused_events().map(|(_, p)| p).collect()
    }

    /// The directories that would have to be writable for the refused
    /// writes to succeed (a refused mkdir names itself), each once, in the
    /// order they were tried.
    pub fn refused_dirs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (kind, p) in self.refused_events() {
            let path = std::path::Path::new(p);
            let dir = if kind == EventKind::Mkdir {
                Some(path)
            } else {
                path.parent()
            };
            if let Some(d) = dir.map(|d| d.display().to_string())
                && !out.contains(&d)
            {
                out.push(d);
            }
        }
        out
    }

    fn refused_events(&self) -> impl Iterator<Item = (EventKind, &str)> {
        self.outside
            .iter()
            .filter(|e| e.action == crate::model::Action::Denied)
            .filter_map(|e| {
                e.paths
                    .get(e.kind.written_index().unwrap_or(0))
                    .map(|p| (e.kind, p.as_str()))
            })
    }
}
