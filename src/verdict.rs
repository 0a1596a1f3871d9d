//! The verdict on an install's findings: which ones the policy's allow list
//! accepts, whether the install fails (block mode), and what it left behind
//! that goes into quarantine.

use crate::detect;
use crate::detect::record::Tampered;
use crate::model::Change;
use crate::model::report::Quarantined;
use crate::model::{Finding, Severity, Taken};
use crate::policy::{AllowEntry, Mode, Policy};
use std::collections::BTreeSet;
use std::time::SystemTime;

/// Marks the findings the policy's allow list accepts; returns warnings for
/// expired entries that would have matched.
pub fn accept(findings: &mut [Finding], allow: &[AllowEntry], now: SystemTime) -> Vec<String> {
    let mut warnings = Vec::new();
    for f in findings.iter_mut() {
        let Some(pkg) = &f.package else { continue };
        for a in allow {
            // A known-malicious download is accepted only by an entry that
            // names that rule, never by a package's blanket entry.
            let named = a.rules.contains(&f.rule);
            let blanket = a.rules.is_empty() && f.rule != crate::model::RuleId::IntelKnownMalicious;
            if &a.package != pkg || !(blanket || named) || !in_scope(a, f) {
                continue;
            }
            if a.expired(now) {
                let w = format!(
                    "allow entry for {} expired on {}; its findings count again",
                    a.package,
                    a.expires.as_deref().unwrap_or("")
                );
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
                continue;
            }
            f.allowed_by = Some(match &a.reason {
                Some(r) => format!("allow {}: {r}", a.package),
                None => format!("allow {}", a.package),
            });
            break;
        }
    }
    warnings
}

/// True when `f` lies within the entry's hook, endpoints and paths (each
/// only when the entry names it).
fn in_scope(a: &AllowEntry, f: &Finding) -> bool {
    let hook = a.hook.is_none() || a.hook == f.hook;
    let endpoint = a.endpoints.is_empty()
        || f.evidence
            .endpoint
            .as_ref()
            .is_some_and(|e| a.endpoints.contains(&e.to_ascii_lowercase()));
    let home = std::env::var("HOME").unwrap_or_default();
    let roots: Vec<String> = a
        .paths
        .iter()
        .map(|r| match r.strip_prefix("~/") {
            Some(rest) => format!("{}/{rest}", home.trim_end_matches('/')),
            None => r.clone(),
        })
        .collect();
    let under = |p: &String| {
        roots.iter().any(|r| {
            let r = r.trim_end_matches('/');
            p == r || p.strip_prefix(r).is_some_and(|rest| rest.starts_with('/'))
        })
    };
    let paths =
        a.paths.is_empty() || (!f.evidence.paths.is_empty() && f.evidence.paths.iter().all(under));
    hook && endpoint && paths
}

/// True when a finding the allow list did not accept reaches `min`.
pub fn failing(findings: &[Finding], min: Severity) -> bool {
    findings
        .iter()
        .any(|f| f.allowed_by.is_none() && f.severity >= min)
}

/// What a failed install left in persistence locations and goes into
/// quarantine: the changes the failing findings name as evidence, the
/// RubyGems plugin loaders behind them, and a tampered file of another
/// package (better a package that fails to import than one that runs what
/// was added to it).
pub fn to_hold(
    findings: &[Finding],
    min: Severity,
    changes: &[Change],
    tampered: &[Tampered],
) -> Vec<Change> {
    let evidence: BTreeSet<&String> = findings
        .iter()
        .filter(|f| f.severity >= min)
        .flat_map(|f| &f.evidence.paths)
        .collect();
    let loaders = detect::gemplugin::loaders_to_hold(findings, min, changes);
    let trojaned = detect::record::as_changes(tampered);
    changes
        .iter()
        .chain(&trojaned)
        .filter(|c| evidence.contains(&c.path))
        .chain(&loaders)
        .cloned()
        .collect()
}

/// The install's outcome under the policy.
pub struct Verdict {
    /// The policy fails this install (block mode, a failing finding).
    pub blocked: bool,
    /// What went into quarantine.
    pub quarantined: Vec<Quarantined>,
}

/// Applies the allow list, decides whether the install is blocked, and in
/// block mode moves what a failed install left into quarantine under
/// `report_id`, marking the findings whose evidence went there.
pub fn decide(
    findings: &mut [Finding],
    policy: &Policy,
    started: SystemTime,
    report_id: &str,
    changes: &[Change],
    tampered: &[Tampered],
) -> Verdict {
    for w in accept(findings, &policy.allow, started) {
        eprintln!("pkgwarden: warning: {w}");
    }
    // A download the offline feed names was refused in protect too: the
    // install fails as blocked (audit only reports it).
    let known_bad = policy.mode != Mode::Audit
        && findings
            .iter()
            .any(|f| f.rule == crate::model::RuleId::IntelKnownMalicious && f.allowed_by.is_none());
    let blocked = policy.mode == Mode::Block && failing(findings, policy.block_severity);
    if !blocked {
        return Verdict {
            blocked: known_bad,
            quarantined: Vec::new(),
        };
    }
    let held = to_hold(findings, policy.block_severity, changes, tampered);
    let refs: Vec<&Change> = held.iter().collect();
    let (q, errors) = crate::quarantine::isolate(report_id, &refs);
    for e in errors {
        eprintln!("pkgwarden: quarantine: {e}");
    }
    for f in findings.iter_mut() {
        if f.evidence
            .paths
            .iter()
            .any(|p| q.iter().any(|x| &x.original == p))
        {
            f.action = Taken::Quarantined;
        }
    }
    Verdict {
        blocked,
        quarantined: q,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Evidence, RuleId};

    fn finding(rule: RuleId, hook: &str, endpoint: Option<&str>, paths: &[&str]) -> Finding {
        Finding {
            rule,
            title: String::new(),
            severity: Severity::Medium,
            attack: Vec::new(),
            pid: Some(7),
            chain: Vec::new(),
            package: Some("a@1.0.0".into()),
            hook: Some(hook.into()),
            evidence: Evidence {
                endpoint: endpoint.map(String::from),
                paths: paths.iter().map(|p| p.to_string()).collect(),
                ..Evidence::default()
            },
            action: Taken::Observed,
            allowed_by: None,
            after_ms: None,
        }
    }

    fn entry(hook: Option<&str>, endpoints: &[&str], paths: &[&str]) -> AllowEntry {
        AllowEntry {
            package: "a@1.0.0".into(),
            rules: Vec::new(),
            expires: None,
            reason: None,
            hook: hook.map(String::from),
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn accepted(f: Finding, a: AllowEntry) -> bool {
        let mut fs = [f];
        accept(&mut fs, &[a], SystemTime::now());
        fs[0].allowed_by.is_some()
    }

    #[test]
    fn a_known_malicious_download_is_accepted_only_by_an_entry_naming_its_rule() {
        let bad = || finding(RuleId::IntelKnownMalicious, "install", None, &[]);
        assert!(!accepted(bad(), entry(None, &[], &[])));
        let mut named = entry(None, &[], &[]);
        named.rules = vec![RuleId::IntelKnownMalicious];
        assert!(accepted(bad(), named));
        // Any other rule still takes a blanket entry.
        let other = finding(RuleId::NetUnexpectedHost, "install", None, &[]);
        assert!(accepted(other, entry(None, &[], &[])));
    }

    #[test]
    fn scoped_entries_accept_only_their_hook_endpoint_and_paths() {
        let net = |h, e| finding(RuleId::NetUnexpectedHost, h, Some(e), &[]);
        let e = entry(Some("postinstall"), &["h.example:80"], &[]);
        assert!(accepted(net("postinstall", "h.example:80"), e.clone()));
        assert!(accepted(net("postinstall", "H.Example:80"), e.clone()));
        assert!(!accepted(net("preinstall", "h.example:80"), e.clone()));
        assert!(!accepted(net("postinstall", "h.example:443"), e.clone()));
        assert!(!accepted(net("postinstall", "other.example:80"), e));
        let file = |p: &[&str]| finding(RuleId::HiddenScript, "install", None, p);
        let e = entry(None, &[], &["/srv/cache"]);
        assert!(accepted(file(&["/srv/cache/x.sh"]), e.clone()));
        assert!(accepted(
            file(&["/srv/cache/d/x.sh", "/srv/cache/y"]),
            e.clone()
        ));
        assert!(!accepted(
            file(&["/srv/cache/x.sh", "/srv/other/y"]),
            e.clone()
        ));
        assert!(!accepted(file(&["/srv/cachex/x.sh"]), e.clone()));
        assert!(!accepted(file(&[]), e));
        // An entry without scope keys accepts as before.
        assert!(accepted(file(&["/anywhere"]), entry(None, &[], &[])));
    }
}
