//! What the rules found.

use crate::model::{RuleId, Severity};
use serde::{Deserialize, Serialize};

/// What pkgwarden did about a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Taken {
    /// Seen and reported; it happened.
    Observed,
    /// The sandbox or the proxy refused it; it did not happen.
    Blocked,
    /// It happened, and what it left was moved to the quarantine.
    Quarantined,
}

/// What a finding points at. Every field is optional; renderers show what is
/// there.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Files involved (absolute).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The command line involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    /// `host:port`, `ip:port` or a unix socket path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// SHA-256 of the file's content after the install.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The offending line of a text file (rc file, `.pth`), shortened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    /// The 1-based line number of `excerpt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Anything else, in a few words (entropy, errno, DNS name …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One thing an install did that a person should look at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule id from THREATS.md (`persist.shell-rc`, `cred.read` …).
    pub rule: RuleId,
    /// One line saying what happened.
    pub title: String,
    /// How bad.
    pub severity: Severity,
    /// ATT&CK technique ids (`T1546.004` …).
    pub attack: Vec<String>,
    /// The process that did it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// The process chain from the manager down to `pid`: `pid name` each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    /// The package whose code did it (`name@version`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The lifecycle hook (`postinstall`, `setup.py`, …), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// What it points at.
    pub evidence: Evidence,
    /// What pkgwarden did.
    pub action: Taken,
    /// The policy's allow entry that accepts this finding, when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_by: Option<String>,
    /// Milliseconds after the install ended, for a finding the watch window
    /// saw (no process of the install did it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_ms: Option<u64>,
}
