//! `tamper.pkgwarden`: an install writing, replacing or removing pkgwarden's
//! own files (its policy, cache, state and reports, shims, binary). The
//! sandbox never grants them; the attempt itself is the finding, because its
//! only purpose is to blind the next install (a cached probe saying "no
//! landlock", a policy saying `mode = "audit"`, a forged report). A
//! project's policy file counts wherever it is (every one above a project
//! is read), and so does a directory moved away with one in it.

use super::{Evidence, Finding, Input, Procs, Taken, finding};
use crate::model::RuleId;
use crate::model::{Action, EventKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One finding per protected path touched.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let protected = &input.fs.protected;
    let policy_file = |p: &Path| p.file_name() == Some(crate::paths::PROJECT_POLICY.as_ref());
    let within = |p: &Path| protected.iter().any(|d| p.starts_with(d)) || policy_file(p);
    // Path → (first pid, what it did).
    let mut hits: BTreeMap<PathBuf, (Option<i32>, String)> = BTreeMap::new();
    // What the supervisor refused (the policy files it keeps by name).
    let refused = |p: &Path| {
        input
            .events
            .iter()
            .any(|e| e.action == Action::Denied && e.paths.iter().any(|x| Path::new(x) == p))
    };
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
            && (within(&p)
                || e.kind == EventKind::Rename
                    && p.join(crate::paths::PROJECT_POLICY)
                        .symlink_metadata()
                        .is_ok())
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
    // A kept file that changed past the supervisor, put back since: the
    // snapshot may no longer tell (the copy is the same bytes again).
    for r in input.restored {
        hits.entry(r.path.clone()).or_insert((None, r.what.clone()));
    }
    let mut out = Vec::new();
    for (path, (pid, how)) in hits {
        let restored = input.restored.iter().find(|r| r.path == path);
        let action = if input.changed(&path).is_some() || restored.is_some() {
            Taken::Observed
        } else if input.mode != crate::model::Mode::Audit && refused(&path) {
            Taken::Blocked
        } else {
            input.write_taken(&path)
        };
        let detail = match (action, restored) {
            (_, Some(r)) => match &r.error {
                None => format!(
                    "{how}; it changed past the supervisor ({}): pkgwarden put back the copy it took before the install",
                    r.what
                ),
                Some(e) => format!(
                    "{how}; it changed past the supervisor ({}) and could not be put back: {e}",
                    r.what
                ),
            },
            (Taken::Blocked, None) => format!("attempted ({how}); refused by the sandbox"),
            _ => format!("{how}; pkgwarden's own state may no longer be trusted"),
        };
        let ev = Evidence {
            paths: vec![path.display().to_string()],
            detail: Some(detail),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::change::Restored;
    use crate::sandbox::landlock::FsSpec;

    #[test]
    fn a_kept_file_put_back_is_a_finding_that_says_so() {
        let policy = PathBuf::from("/nonexistent-proj/.pkgwarden.toml");
        let restored = vec![Restored {
            path: policy.clone(),
            what: "its content changed".into(),
            error: None,
        }];
        let input = Input {
            fs: FsSpec {
                protected: vec![policy.clone()],
                ..FsSpec::default()
            },
            restored: &restored,
            ..Input::default()
        };
        let f = check(&input, &Procs::new(&[]));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, RuleId::TamperPkgwarden);
        assert_eq!(f[0].evidence.paths, vec![policy.display().to_string()]);
        let detail = f[0].evidence.detail.as_deref().unwrap_or_default();
        assert!(detail.contains("put back the copy"), "{detail}");
        // Nothing restored, nothing touched: no finding.
        let quiet = Input {
            restored: &[],
            ..input
        };
        assert!(check(&quiet, &Procs::new(&[])).is_empty());
    }
}
