//! Permission and ownership changes (chmod, chown), which the supervisor
//! performs only within the install's write grants and refuses elsewhere.
//! `cred.perm`: a credential store's mode opened to others or its owner
//! changed (tried or done, or seen by the snapshot); `perm.setuid`: a
//! setuid or setgid bit asked for on a file; `perm.outside`: any other
//! change refused outside the grants. Persistence locations and
//! pkgwarden's own files are judged by `persist.*` and `tamper.pkgwarden`,
//! which read the same events ([`super::Input::perm_changes`]).

use super::persist::Classifier;
use super::{Evidence, Finding, Input, Procs, Taken, finding};
use crate::model::ChangeKind;
use crate::model::RuleId;
use crate::model::{Action, Event, EventKind};
use std::collections::BTreeSet;
use std::path::Path;

/// Group and other bits: a credential store with any of them is readable
/// (or worse) by other users.
const OPEN_TO_OTHERS: u64 = 0o077;

/// What the event's own outcome implies: refused, or failed in the kernel,
/// means it did not happen.
fn taken(e: &Event) -> Taken {
    if e.action == Action::Denied || e.errno.is_some() {
        Taken::Blocked
    } else {
        Taken::Observed
    }
}

/// One finding per rule and path.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let home = input.home.as_deref();
    let cls = Classifier::with_envs(home, &input.cwd, &input.envs, &input.startup_patterns);
    let judged_elsewhere =
        |p: &Path| cls.classify(p).is_some() || input.fs.protected.iter().any(|d| p.starts_with(d));
    let is_cred = |p: &Path| super::cred::is_credential(p, home, &input.cwd);
    let mut seen: BTreeSet<(RuleId, String)> = BTreeSet::new();
    let mut out = Vec::new();
    for e in input.events.iter().filter(|e| e.kind.is_perm()) {
        let Some(path) = e.paths.first() else {
            continue;
        };
        let p = Path::new(path);
        if judged_elsewhere(p) {
            continue;
        }
        let chown = e.kind == EventKind::Chown;
        let refused = e.action == Action::Denied;
        let rule = if is_cred(p) && (chown || e.flags & OPEN_TO_OTHERS != 0) {
            RuleId::CredPerm
        } else if !chown && refused && e.flags & 0o6000 != 0 {
            RuleId::PermSetuid
        } else if refused {
            RuleId::PermOutside
        } else {
            continue;
        };
        if !seen.insert((rule, path.clone())) {
            continue;
        }
        let how = super::how(e);
        let ev = Evidence {
            paths: vec![path.clone()],
            detail: Some(match taken(e) {
                Taken::Blocked => format!("attempted ({how}); refused"),
                _ => how,
            }),
            ..Evidence::default()
        };
        let what = rule.meta().title;
        let title = format!("{what}: {path}");
        out.push(finding(rule, title, Some(e.pid), procs, ev, taken(e)));
    }
    // Ground truth: a store whose mode or owner changed, whoever did it.
    for c in input
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Modified)
    {
        let p = Path::new(&c.path);
        let (Some(b), Some(a)) = (&c.before, &c.after) else {
            continue;
        };
        let moved = (b.mode & 0o7777, b.uid, b.gid) != (a.mode & 0o7777, a.uid, a.gid);
        if !moved || !is_cred(p) || judged_elsewhere(p) {
            continue;
        }
        if !seen.insert((RuleId::CredPerm, c.path.clone())) {
            continue;
        }
        let ev = Evidence {
            paths: vec![c.path.clone()],
            detail: Some(format!(
                "mode {:04o} → {:04o}, owner {}:{} → {}:{}; no sandboxed process was seen changing it",
                b.mode & 0o7777,
                a.mode & 0o7777,
                b.uid,
                b.gid,
                a.uid,
                a.gid
            )),
            ..Evidence::default()
        };
        let what = RuleId::CredPerm.meta().title;
        let title = format!("{what}: {}", c.path);
        let mut f = finding(RuleId::CredPerm, title, None, procs, ev, Taken::Observed);
        f.severity = super::Severity::Medium;
        out.push(f);
    }
    out
}
