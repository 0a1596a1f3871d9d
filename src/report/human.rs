//! Placeholder human summary (replaced by the real one on merge).
use super::model::Report;

/// True when colour may be used on stderr.
pub fn use_color() -> bool {
    false
}

/// One line or a block per finding.
pub fn summary(r: &Report, _color: bool) -> String {
    let mut s = format!(
        "pkgwarden: {} {} — {} findings · report {}",
        r.what.manager,
        r.what.command,
        r.findings.len(),
        &r.id[..8.min(r.id.len())]
    );
    for f in &r.findings {
        s.push_str(&format!("\n  [{}] {} {}", f.severity, f.rule, f.title));
    }
    s
}
