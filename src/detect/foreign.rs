//! `tamper.installed-package` for code outside this install: a write into
//! another project's `node_modules` or another environment's
//! `site-packages` (`policy/installed_code.toml`). That code runs the next
//! time the other project or environment does, with nothing installed
//! there to explain it. In protect a root project's script may write most
//! of HOME (it runs the project's own tools), so the write is reported
//! rather than refused; block grants none of it.
//!
//! The same holds for the package directories of other ecosystems' stores
//! and of installed interpreters (`packages` in that file: a gem, a crate's
//! sources, a Go module, a pyenv Python), with one difference: an install
//! may add a package there (cargo, go and rustup extract into them), so
//! only a package directory that existed before the install is judged.
//!
//! Judged from the supervisor's events by resolved path; the snapshot does
//! not walk every project under HOME, so a write the events miss (a path
//! swapped after the supervisor resolved it) is not found here. The
//! snapshot does record each store package directory's identity, so one
//! replaced or removed is found whatever the events say ([`Packages`]).

use super::{Evidence, Finding, Input, Procs, Severity, Taken, finding};
use crate::model::change::Snapshot;
use crate::model::{Event, EventKind, RuleId};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Other stores' package directories, from the snapshots.
#[derive(Clone, Debug, Default)]
pub struct Packages {
    /// Those that existed before the install.
    pub before: BTreeSet<PathBuf>,
    /// Those of `before` gone after it, or another file under the same
    /// name (a different inode or type).
    pub replaced: Vec<PathBuf>,
}

impl Packages {
    /// The package directories in `before` (what [`super::data::package_dir`]
    /// names as a whole), and which of them `after` no longer holds as
    /// they were. One missing from `after` is looked at again, so a walk
    /// bound that cut the second snapshot short is not taken for a removal.
    pub fn of(before: &Snapshot, after: &Snapshot, home: Option<&Path>) -> Packages {
        let mut out = Packages::default();
        for (p, b) in &before.entries {
            // Package directories (or links to them), and the few packages
            // that are files (a gem's specification).
            if super::data::package_dir(p, home).as_deref() != Some(p.as_path()) {
                continue;
            }
            out.before.insert(p.clone());
            let same = match after.entries.get(p) {
                Some(a) => (a.ino, a.mode) == (b.ino, b.mode),
                None => std::fs::symlink_metadata(p)
                    .is_ok_and(|m| (m.ino(), m.mode()) == (b.ino, b.mode)),
            };
            if !same {
                out.replaced.push(p.clone());
            }
        }
        out
    }
}

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
/// written there before the directories made, and one per store package
/// directory replaced or removed.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let ours = |p: &Path| {
        input.expected_path(p)
            || input.caches.iter().any(|c| p.starts_with(c))
            || input.tool_cache(p)
    };
    let mut hits: BTreeMap<PathBuf, Vec<(PathBuf, &Event)>> = BTreeMap::new();
    let mut caches: BTreeMap<PathBuf, Vec<(PathBuf, &Event)>> = BTreeMap::new();
    for (path, e) in input.written() {
        if input.expected_path(&path) {
            continue;
        }
        // A store's package directory: judged whatever cache list names the
        // store, when it was there before (a package added is an install's
        // or a build's own doing; the directory itself is the snapshot's).
        let dir = match super::data::package_dir(&path, input.home.as_deref()) {
            // Written beneath it, or, for a package that is a file, itself.
            Some(pkg)
                if (pkg != path || !path.is_dir()) && input.packages.before.contains(&pkg) =>
            {
                pkg
            }
            Some(_) => continue,
            None if ours(&path) => continue,
            None => match code_dir(&path) {
                Some(dir) => dir,
                None => continue,
            },
        };
        if !is_bytecode_cache(&path) {
            hits.entry(dir).or_default().push((path, e));
        } else if input.write_taken(&path) == Taken::Observed {
            caches.entry(dir).or_default().push((path, e));
        }
    }
    let mut out = caches_written(caches, procs);
    out.extend(
        hits.into_iter()
            .map(|(dir, written)| changed(input, procs, &dir, written)),
    );
    out.extend(replaced(input, procs));
    out
}

/// The finding for the files `written` in the installed-code directory
/// `dir` (never empty).
fn changed(
    input: &Input,
    procs: &Procs,
    dir: &Path,
    mut written: Vec<(PathBuf, &Event)>,
) -> Finding {
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
}

/// One finding per store package directory that the snapshots show
/// replaced or removed, outside the install's own roots: found whether or
/// not the supervisor saw the rename or the removal.
fn replaced(input: &Input, procs: &Procs) -> Vec<Finding> {
    input
        .packages
        .replaced
        .iter()
        .filter(|p| !input.expected_path(p))
        .map(|p| {
            let how = if p.symlink_metadata().is_ok() {
                "replaced by another file or directory"
            } else {
                "removed"
            };
            let ev = Evidence {
                paths: vec![p.display().to_string()],
                detail: Some(format!(
                    "{} during the install (the snapshots before and after disagree), which does not install there: what the next program to load it runs is not what was installed",
                    how
                )),
                ..Evidence::default()
            };
            let title = format!("Installed package {how}: {}", p.display());
            finding(
                RuleId::TamperInstalledPackage,
                title,
                None,
                procs,
                ev,
                Taken::Observed,
            )
        })
        .collect()
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

    #[test]
    fn store_packages_are_whole_directories() {
        use crate::detect::data::package_dir;
        let h = Some(Path::new("/h"));
        let pkg = |p: &str| package_dir(Path::new(p), h).map(|d| d.display().to_string());
        assert_eq!(
            pkg("/h/.gem/ruby/3.1.0/gems/rake-13.0.6/lib/rake.rb").as_deref(),
            Some("/h/.gem/ruby/3.1.0/gems/rake-13.0.6")
        );
        assert_eq!(
            pkg("/h/.cargo/registry/src/idx-1/serde-1.0.0/build.rs").as_deref(),
            Some("/h/.cargo/registry/src/idx-1/serde-1.0.0")
        );
        assert_eq!(
            pkg("/h/go/pkg/mod/example.com/a/b@v1.2.3/x/y.go").as_deref(),
            Some("/h/go/pkg/mod/example.com/a/b@v1.2.3")
        );
        // Go's download cache is not a module.
        assert_eq!(
            pkg("/h/go/pkg/mod/cache/download/example.com/a/@v/v1.zip"),
            None
        );
        assert_eq!(pkg("/h/.gem/ruby/3.1.0/cache/rake-13.0.6.gem"), None);
        assert_eq!(pkg("/other/.gem/ruby/3.1.0/gems/rake-13.0.6/x.rb"), None);
        assert_eq!(
            package_dir(Path::new("/h/.pyenv/versions/3.12.1/bin/python"), None),
            None
        );
    }

    #[test]
    fn a_package_replaced_or_removed_is_told_apart_from_one_added() {
        use crate::model::change::{Entry, Snapshot};
        let dir = tempfile::tempdir().unwrap();
        let h = dir.path();
        let gems = h.join(".gem/ruby/3.1.0/gems");
        let entry = |ino| Entry {
            size: 0,
            mtime_ns: 0,
            mode: 0o040_755,
            ino,
            ctime_ns: 0,
            uid: 0,
            gid: 0,
            link_target: None,
            sha256: None,
            content: None,
        };
        let snap = |e: &[(&str, u64)]| Snapshot {
            entries: e.iter().map(|(n, i)| (gems.join(n), entry(*i))).collect(),
            ..Snapshot::default()
        };
        let before = snap(&[("kept-1", 1), ("swapped-1", 2), ("gone-1", 3)]);
        let after = snap(&[("kept-1", 1), ("swapped-1", 9), ("new-1", 4)]);
        let p = Packages::of(&before, &after, Some(h));
        assert_eq!(p.before.len(), 3);
        assert_eq!(
            p.replaced,
            vec![gems.join("gone-1"), gems.join("swapped-1")]
        );
    }
}
