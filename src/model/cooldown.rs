//! The release-age cooldown of one install: the policy's age for this
//! manager, the cut-off date it gives, and how (or whether) the manager's
//! own date gate enforces it. Set on the plan by the adapter, copied into
//! the report.

use serde::{Deserialize, Serialize};

/// The cooldown as applied to one install.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cooldown {
    /// The policy's age for this manager (`3d`).
    pub age: String,
    /// Versions uploaded after this instant (RFC 3339 UTC) are not
    /// installed: now − age.
    pub cutoff: String,
    /// True when the manager's own date gate was set.
    pub enforced: bool,
    /// The gate and how pkgwarden set it (`npm_config_before=…`), or why
    /// there is none.
    pub mechanism: String,
    /// Packages the policy exempts (`cooldown_exempt`), passed to the gate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt: Vec<String>,
    /// What the gate does not cover in this install (a lockfile's pinned
    /// versions, a project setting it had to override), and what the report
    /// cannot say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The registry documents pkgwarden's proxy filters at the cut-off,
    /// when it enforces the cooldown itself (a manager without a gate whose
    /// registry it can read); empty when the manager's own gate does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_filters: Vec<DocKind>,
    /// The versions the proxy held back (seen by the supervisor: evidence),
    /// with their release dates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_back: Vec<HeldBack>,
}

/// A kind of metadata document a registry serves, with release dates the
/// proxy can filter by (the adapter's data: which kinds its registries
/// serve).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocKind {
    /// A JSON package document listing `versions`, with `time[version]`
    /// and `dist-tags` (an npm-style registry).
    Packument,
    /// A PEP 503/691 simple project page; only its JSON form (PEP 691,
    /// with PEP 700 `upload-time`) carries dates.
    SimpleIndex,
    /// A JSON project document at `…/pypi/<name>/json` (`info`,
    /// `releases` with each file's `upload_time_iso_8601`), which poetry
    /// reads for its default source.
    ProjectJson,
}

/// One version the proxy held back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldBack {
    /// The package, as the registry's document names it.
    pub package: String,
    /// The version held back.
    pub version: String,
    /// When it was released (the registry's own date; `unknown` when the
    /// document gives none for it, which holds it back too).
    pub released: String,
}

/// What an adapter's date gate asks of the install: variables, and options
/// inserted into the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DateGate {
    /// Variables set in the install's environment.
    pub env: Vec<(String, String)>,
    /// Options inserted into the manager's arguments at `args_at`.
    pub args: Vec<String>,
    /// Where they go: an index into the arguments after argv[0].
    pub args_at: usize,
    /// How the gate was set, for the report.
    pub mechanism: String,
    /// What it does not cover here.
    pub notes: Vec<String>,
}

/// The cut-off an adapter is asked to enforce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cutoff {
    /// The age, in seconds.
    pub age_secs: u64,
    /// The cut-off instant, RFC 3339 UTC to the second (`2026-12-04T03:52:03Z`).
    pub rfc3339: String,
    /// Package names (or npm globs) exempt from it.
    pub exempt: Vec<String>,
}
