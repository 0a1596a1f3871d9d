//! The findings of several reports as a GitLab Code Quality report (a JSON
//! array of issues): the artifact a merge request shows as a widget.

use super::model::Report;
use super::{evidence_line, shorten};
use crate::model::Severity;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Code Quality's severity names for pkgwarden's.
fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "minor",
        Severity::Medium => "major",
        Severity::High => "critical",
        Severity::Critical => "blocker",
    }
}

/// One issue per finding of `reports`. The location is the finding's first
/// path (or the install's working directory): Code Quality needs one, and a
/// finding has no source line. The fingerprint is stable per report and
/// finding, so that the same report uploaded twice is one issue each.
pub fn render(reports: &[Report]) -> Value {
    let mut issues = Vec::new();
    for r in reports {
        for (i, f) in r.findings.iter().enumerate() {
            let mut description = format!("{}: {}", f.rule.as_str(), f.title);
            if let Some(p) = &f.package {
                description.push_str(&format!(" ({p})"));
            }
            let ev = evidence_line(&f.evidence);
            if !ev.is_empty() {
                description.push_str(" — ");
                description.push_str(&shorten(&ev, 200));
            }
            let path = f
                .evidence
                .paths
                .first()
                .cloned()
                .unwrap_or_else(|| r.what.cwd.clone());
            let fingerprint = Sha256::digest(format!("{}/{i}/{}", r.id, f.rule.as_str()));
            let fingerprint: String = fingerprint.iter().map(|b| format!("{b:02x}")).collect();
            issues.push(json!({
                "type": "issue",
                "description": super::clean(&description),
                "check_name": f.rule.as_str(),
                "categories": ["Security"],
                "severity": severity(f.severity),
                "fingerprint": fingerprint,
                "location": {"path": path, "lines": {"begin": 1}},
            }));
        }
    }
    Value::Array(issues)
}
