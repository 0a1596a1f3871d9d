//! `tamper.pkgwarden`: an install writing, replacing or removing pkgwarden's
//! own files (its policy, cache, state and reports, shims, binary). The
//! sandbox never grants them; the attempt itself is the finding, because its
//! only purpose is to blind the next install (a cached probe saying "no
//! landlock", a policy saying `mode = "audit"`, a forged report).

use super::{Evidence, Finding, Input, Procs, Taken, finding};
use crate::model::EventKind;
use crate::model::RuleId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One finding per protected path touched.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let protected = &input.fs.protected;
    let within = |p: &Path| protected.iter().any(|d| p.starts_with(d));
    // Path → (first pid, what it did).
    let mut hits: BTreeMap<PathBuf, (Option<i32>, String)> = BTreeMap::new();
    // A mode or an owner changed is tampering too: a state directory made
    // unreadable to pkgwarden loses every later report.
    for (path, e) in input.written().into_iter().chain(input.perm_changes()) {
        if within(&path) {
            hits.entry(path).or_insert((Some(e.pid), super::how(e)));
        }
    }
    // Removing or moving away is tampering too (a report, a shim).
    for e in input
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Unlink | EventKind::Rename))
    {
        if let Some(p) = e.paths.first().map(PathBuf::from)
            && within(&p)
        {
            hits.entry(p).or_insert((Some(e.pid), e.kind.to_string()));
        }
    }
    for c in input.changes {
        let p = PathBuf::from(&c.path);
        if within(&p) {
            hits.entry(p)
                .or_insert((None, format!("{:?}", c.kind).to_lowercase()));
        }
    }
    let mut out = Vec::new();
    for (path, (pid, how)) in hits {
        let action = if input.changed(&path).is_some() {
            Taken::Observed
        } else {
            input.write_taken(&path)
        };
        let ev = Evidence {
            paths: vec![path.display().to_string()],
            detail: Some(match action {
                Taken::Blocked => format!("attempted ({how}); refused by the sandbox"),
                _ => format!("{how}; pkgwarden's own state may no longer be trusted"),
            }),
            ..Evidence::default()
        };
        let title = format!("pkgwarden's own files tampered with: {}", path.display());
        out.push(finding(
            RuleId::TamperPkgwarden,
            title,
            pid,
            procs,
            ev,
            action,
        ));
    }
    out
}
