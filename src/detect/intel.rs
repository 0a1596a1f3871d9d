//! `intel.known-malicious` after the install: packages the install put on
//! disk that the offline feed names, when their archive never passed the
//! proxy's check (taken from the manager's cache, or fetched where the
//! proxy could not read). The lookup is done by the judging stage
//! (`intel::Check::installed`); this rule only reports what it found.

use super::{Evidence, Finding, Input, Procs, RuleId, Taken, finding};

/// One finding per known-malicious package on disk that no download
/// finding already reports.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let key = |name: &str, version: &str| {
        let n: String = name
            .chars()
            .map(|c| {
                if matches!(c, '_' | '.') {
                    '-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        (n, version.to_string())
    };
    let downloads: Vec<(String, String)> = input
        .requests
        .iter()
        .filter_map(|r| r.known_malicious.as_ref())
        .map(|k| key(&k.package, &k.version))
        .collect();
    let written = input.written();
    input
        .installed_known
        .iter()
        .filter(|(k, _)| !downloads.contains(&key(&k.package, &k.version)))
        .map(|(k, dir)| {
            let what = format!("{}@{}", k.package, k.version);
            let pid = written
                .iter()
                .find(|(p, _)| p.starts_with(dir))
                .map(|(_, e)| e.pid);
            let ev = Evidence {
                paths: vec![dir.display().to_string()],
                detail: Some(format!(
                    "{} {what}: {} ({}); installed without its archive passing the download check (from the manager's cache, or a source the proxy could not read)",
                    k.ecosystem, k.id, k.summary
                )),
                ..Evidence::default()
            };
            let mut f = finding(
                RuleId::IntelKnownMalicious,
                format!("Known malicious package installed: {what} ({})", k.id),
                pid,
                procs,
                ev,
                Taken::Observed,
            );
            f.package = Some(what);
            f
        })
        .collect()
}
