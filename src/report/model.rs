//! The report's types, now in [`crate::model::report`]; the builders that
//! need the rules stay here.

use crate::model::EventKind;
pub use crate::model::report::*;

impl PackageCode {
    /// The summary of one install, `None` when it had no nested domain.
    pub fn summarise(input: &crate::detect::Input) -> Option<PackageCode> {
        let nest = &input.nest;
        if nest.spec.is_none() && nest.missing.is_none() {
            return None;
        }
        let runs = nest.runs(input);
        let procs = crate::detect::Procs::new(input.tree);
        let nested = runs
            .iter()
            .filter(|(n, _, acked)| {
                *acked
                    || procs
                        .ancestors(n.pid)
                        .iter()
                        .any(|a| runs.iter().any(|(m, _, ok)| m.pid == *a && *ok))
            })
            .count();
        Some(PackageCode {
            mechanism: nest.missing.clone().unwrap_or_else(|| "preload".into()),
            runs: u32::try_from(runs.len()).unwrap_or(u32::MAX),
            nested: u32::try_from(nested).unwrap_or(u32::MAX),
        })
    }
}

impl Files {
    /// Summarises the write events of an install: counts per expected root,
    /// the rest in full; credential reads in full.
    pub fn summarise(input: &crate::detect::Input) -> Files {
        let mut f = Files::default();
        for (path, e) in input.written() {
            f.writes += 1;
            // Judged against the rules the sandbox applied: a refused write
            // did not happen, and the report says so.
            // A mkdir of a directory that exists failed with EEXIST before
            // any rule was asked: nothing was refused.
            let existed = e.kind == EventKind::Mkdir && path.is_dir();
            if !existed && input.write_taken(&path) == crate::model::Taken::Blocked {
                f.refused += 1;
                let mut denied = e.clone();
                denied.action = crate::model::Action::Denied;
                f.outside.push(denied);
                continue;
            }
            match input.expected.iter().find(|r| path.starts_with(r)) {
                Some(root) => *f.per_root.entry(root.display().to_string()).or_default() += 1,
                None if path.starts_with(&input.tmp) => {
                    *f.per_root
                        .entry(input.tmp.display().to_string())
                        .or_default() += 1
                }
                None => f.outside.push(e.clone()),
            }
        }
        f.secret_reads = input
            .events
            .iter()
            .filter(|e| e.kind == EventKind::OpenRead)
            .filter(|e| {
                e.paths.first().is_some_and(|p| {
                    crate::detect::cred::is_credential(
                        std::path::Path::new(p),
                        input.home.as_deref(),
                        &input.cwd,
                    )
                })
            })
            .cloned()
            .collect();
        f
    }
}
