//! `tamper.installed-package` for code outside this install: a write into
//! another project's `node_modules` or another environment's
//! `site-packages` (`policy/installed_code.toml`). That code runs the next
//! time the other project or environment does, with nothing installed
//! there to explain it. In protect a root project's script may write most
//! of HOME (it runs the project's own tools), so the write is reported
//! rather than refused; block grants none of it.
//!
//! Judged from the supervisor's events by resolved path; the snapshot does
//! not walk every project under HOME, so a write the events miss (a path
//! swapped after the supervisor resolved it) is not found here.

use super::{Evidence, Finding, Input, Procs, Severity, Taken, finding};
use crate::model::{Event, EventKind, RuleId};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The installed-code directory `p` lies in, if any: the path up to the
/// last component the policy names (`~/app/node_modules`).
fn code_dir(p: &Path) -> Option<PathBuf> {
    let names = &super::data::installed_code().dirs;
    let mut dir = PathBuf::new();
    let mut found = None;
    for c in p.components() {
        dir.push(c);
        if let Component::Normal(n) = c
            && names.iter().any(|d| n == d.as_str())
        {
            found = Some(dir.clone());
        }
    }
    // The directory itself (made or removed) is not a file beneath it.
    found.filter(|d| d != p)
}

/// True for Python's bytecode cache (`__pycache__/`): every interpreter
/// the install starts (the manager itself when it lives in an environment
/// of its own, a build backend, the start-up detonation) tries to write the
/// cache of what it imports from wherever that lies, and a refused attempt
/// is harmless. A `.pyc` written there is said at low severity
/// ([`caches_written`]): RECORD lists `.pyc` files without a hash, so its
/// check does not cover them, and a forged one runs in place of its source
/// (atk15, `tests/atk15.rs`).
fn is_bytecode_cache(p: &Path) -> bool {
    p.components()
        .any(|c| matches!(c, Component::Normal(n) if n == "__pycache__"))
}

/// The most paths one finding lists.
const MAX_PATHS: usize = 20;

/// The paths of `written`, at most [`MAX_PATHS`].
fn listed(written: &[(PathBuf, &Event)]) -> Vec<String> {
    written
        .iter()
        .take(MAX_PATHS)
        .map(|(p, _)| p.display().to_string())
        .collect()
}

/// One finding per other installed-code directory written, naming the files
/// written there before the directories made.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let ours = |p: &Path| {
        input.expected_path(p)
            || input.caches.iter().any(|c| p.starts_with(c))
            || input.tool_cache(p)
    };
    let mut hits: BTreeMap<PathBuf, Vec<(PathBuf, &Event)>> = BTreeMap::new();
    let mut caches: BTreeMap<PathBuf, Vec<(PathBuf, &Event)>> = BTreeMap::new();
    for (path, e) in input.written() {
        if ours(&path) {
            continue;
        }
        let Some(dir) = code_dir(&path) else {
            continue;
        };
        if !is_bytecode_cache(&path) {
            hits.entry(dir).or_default().push((path, e));
        } else if input.write_taken(&path) == Taken::Observed {
            caches.entry(dir).or_default().push((path, e));
        }
    }
    let mut out = caches_written(caches, procs);
    out.extend(hits.into_iter()
        .map(|(dir, mut written)| {
            written.sort_by_key(|(_, e)| e.kind == EventKind::Mkdir);
            let (path, first) = (written[0].0.clone(), written[0].1);
            let action = input.write_taken(&path);
            let ev = Evidence {
                paths: listed(&written),
                detail: Some(format!(
                    "{} in {}, which this install does not install into: code there runs when that project or environment next does",
                    super::how(first),
                    dir.display()
                )),
                ..Evidence::default()
            };
            let title = format!(
                "Installed code outside this install changed: {}",
                path.display()
            );
            finding(
                RuleId::TamperInstalledPackage,
                title,
                Some(first.pid),
                procs,
                ev,
                action,
            )
        }));
    out
}

/// One low finding per other environment whose bytecode cache the install
/// wrote: a forged `.pyc` runs in place of its source, and nothing tells
/// it from the cache an interpreter writes when it imports from there (a
/// tool's own environment the first time it runs), so it is said, not
/// judged, with what clears it.
fn caches_written(
    caches: BTreeMap<PathBuf, Vec<(PathBuf, &Event)>>,
    procs: &Procs,
) -> Vec<Finding> {
    caches
        .into_iter()
        .map(|(dir, written)| {
            let (path, first) = (written[0].0.clone(), written[0].1);
            let ev = Evidence {
                paths: listed(&written),
                detail: Some(format!(
                    "{} {} bytecode file(s) in {}, which this install does not install into: a .pyc runs in place of its source; if nothing in this install had reason to import from there, delete them (`find {} -name '*.pyc' -delete`; Python rebuilds them)",
                    super::how(first),
                    written.len(),
                    dir.display(),
                    dir.display()
                )),
                ..Evidence::default()
            };
            let title = format!(
                "Bytecode cache of another environment written: {}",
                path.display()
            );
            let mut f = finding(
                RuleId::TamperInstalledPackage,
                title,
                Some(first.pid),
                procs,
                ev,
                Taken::Observed,
            );
            f.severity = Severity::Low;
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_code_directory_is_named() {
        assert_eq!(
            code_dir(Path::new("/h/app/node_modules/a/node_modules/b/index.js")),
            Some(PathBuf::from("/h/app/node_modules/a/node_modules"))
        );
        assert_eq!(
            code_dir(Path::new("/v/lib/python3.12/site-packages/x.pth")),
            Some(PathBuf::from("/v/lib/python3.12/site-packages"))
        );
        assert_eq!(code_dir(Path::new("/h/app/node_modules")), None);
        assert_eq!(code_dir(Path::new("/h/app/my_node_modules/x.js")), None);
        assert_eq!(code_dir(Path::new("/h/.node_modules/x.js")), None);
        assert!(is_bytecode_cache(Path::new(
            "/usr/lib/python3/dist-packages/yaml/__pycache__/x.cpython-311.pyc.123"
        )));
        assert!(!is_bytecode_cache(Path::new(
            "/v/lib/site-packages/yaml/x.py"
        )));
    }
}
