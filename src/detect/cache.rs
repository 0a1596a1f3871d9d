//! `tamper.manager-cache`: package code (a build backend, `setup.py`, a
//! dependency's lifecycle script, …) writing into the manager's own caches
//! or another manager's (pip's wheels from an npm script, corepack's).
//! What lies there (a built wheel, a downloaded archive, npm's cacache index)
//! is taken by a later install without a build or a check, so a file planted
//! there runs outside any sandbox. The nested domains (the preload library's
//! and the hook wrapper's) refuse such writes; the attempt is the finding.

use super::{Evidence, Finding, Input, Procs, Taken, finding};
use crate::model::RuleId;
use crate::model::event::EventKind;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One finding per package-code process that tried to write a cache.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    if input.caches.is_empty() || (input.nest.spec.is_none() && input.hooks.exe.is_none()) {
        return Vec::new();
    }
    // Rules attach to inodes: compare real paths, as the events are.
    let caches: Vec<PathBuf> = input
        .caches
        .iter()
        .flat_map(|c| [c.clone(), c.canonicalize().unwrap_or_else(|_| c.clone())])
        .collect();
    let mut by_pid: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    // A chmod or chown is no landlock right: the nested domain cannot refuse
    // it, and a cache made writable to others is poisoned by them later.
    let mut perm_pids: Vec<i32> = Vec::new();
    for (path, e) in attempts(input) {
        if !caches.iter().any(|c| path.starts_with(c)) {
            continue;
        }
        // `mkdir -p` into a directory the scripts may write walks through
        // the existing cache directory above it (node-gyp's devdir above
        // the running node's headers): that makes nothing, and what it
        // makes beneath is judged on its own.
        if e.kind == EventKind::Mkdir && caches.contains(&path) && path.is_dir() {
            continue;
        }
        if !input.nest.refuses_write(e.pid, &path, input, procs)
            && !input.hooks.refuses_write(e.pid, &path, input.tree, procs)
        {
            continue;
        }
        let perm = matches!(
            e.kind,
            EventKind::Chmod | EventKind::ChmodExec | EventKind::Chown
        ) && e.errno.is_none();
        if perm && !perm_pids.contains(&e.pid) {
            perm_pids.push(e.pid);
        }
        let paths = by_pid.entry(e.pid).or_default();
        let p = path.to_string_lossy().into_owned();
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    by_pid
        .into_iter()
        .map(|(pid, paths)| {
            let ev = Evidence {
                argv: procs.node(pid).map(|n| n.argv.clone()),
                detail: Some(
                    "package code may not write a package manager's cache: a later install would take what it left there without building or checking it".into(),
                ),
                paths,
                ..Evidence::default()
            };
            // The nested domain refused the writes: nothing changed, unless
            // the snapshot says otherwise; a mode or owner change the
            // supervisor let through happened.
            let changed = perm_pids.contains(&pid)
                || ev.paths.iter().any(|p| input.changed(Path::new(p)).is_some());
            let title = "Package code tried to write a package manager's cache".to_string();
            finding(
                RuleId::TamperManagerCache,
                title,
                Some(pid),
                procs,
                ev,
                if changed {
                    Taken::Observed
                } else {
                    Taken::Blocked
                },
            )
        })
        .collect()
}

/// Every write and every mode or owner change of every process, with the
/// path it named: [`Input::written`] keeps only the first event per path,
/// which for a cache is the manager's own (it made the directory), and
/// would hide package code's later attempt on the same path; a hard link's
/// source is written too.
fn attempts<'a>(input: &'a Input) -> Vec<(PathBuf, &'a crate::model::event::Event)> {
    let mut out = input.written();
    for e in input.events {
        let named = match e.kind {
            EventKind::Link | EventKind::Chmod | EventKind::Chown => e.paths.first(),
            k => k.written_index().and_then(|i| e.paths.get(i)),
        };
        if let Some(p) = named {
            out.push((super::without_dot_dot(PathBuf::from(p)), e));
        }
    }
    out
}
