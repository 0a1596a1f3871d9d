//! Offline intel: known-malicious packages from OSV records.
//!
//! `pkgwarden intel import FILE|DIR…` reads OSV records (as the OpenSSF
//! malicious-packages data set ships them) and writes one sorted index under
//! pkgwarden's state directory, which the sandbox never grants. A lookup is a
//! binary search over that file with positioned reads, so a feed of any size
//! costs a few reads per package and an absent feed costs one failed open.
//! pkgwarden fetches nothing: the user brings the data with their own tools.

pub mod archive;
pub mod installed;
pub mod osv;
pub mod version;

pub use crate::model::request::KnownMalicious;
use osv::{Ecosystem, Entry, Versions};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The index file, one entry per line, sorted by ecosystem and name:
/// `ecosystem \t name \t versions (comma-separated, or *) \t id \t summary`.
pub const INDEX: &str = "index.tsv";
/// What the last import read, as JSON ([`Meta`]).
pub const META: &str = "meta.json";

/// Why an import or a lookup could not be done.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    /// A file of the import could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file of the import is not an OSV record.
    #[error(
        "{path} is not an OSV record ({source}); nothing was imported: remove it or import the records one by one"
    )]
    NotOsv {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// A zip export was given as it is.
    #[error("{0} is a zip archive: unzip it first (`unzip -d DIR FILE`) and import DIR")]
    Zip(PathBuf),
    /// No state directory (no HOME).
    #[error("no state directory: set HOME or XDG_STATE_HOME")]
    NoState,
    /// The index could not be written.
    #[error("cannot write the intel index in {dir}: {source}")]
    Write {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What an import read, kept beside the index for `intel status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// OSV records read.
    pub records: usize,
    /// Index entries (affected packages of kept ecosystems).
    pub entries: usize,
    /// Affected packages of ecosystems the index does not keep.
    pub skipped: usize,
    /// Records that are no malicious-package record (no `MAL-` id or
    /// alias), left out.
    #[serde(default)]
    pub not_malicious: usize,
    /// Entries per ecosystem.
    pub per_ecosystem: Vec<(String, usize)>,
    /// The newest `modified` time among the records.
    pub newest: Option<String>,
    /// When the import ran (RFC 3339, UTC).
    pub imported_at: String,
    /// The paths given to the import.
    pub sources: Vec<String>,
}

/// A known-malicious match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// The OSV id.
    pub id: String,
    /// The record's summary.
    pub summary: String,
}

/// `<state>/intel`.
pub fn dir() -> Option<PathBuf> {
    crate::paths::state_dir().map(|s| s.join("intel"))
}

/// The ecosystem whose packages a manager family installs.
pub fn ecosystem_of(family: crate::model::tool::Family) -> Ecosystem {
    use crate::model::tool::Family;
    match family {
        Family::Pip | Family::PyTools => Ecosystem::Pypi,
        Family::Npm => Ecosystem::Npm,
        Family::Gem => Ecosystem::RubyGems,
        Family::Conda => Ecosystem::Conda,
        Family::Brew => Ecosystem::Homebrew,
    }
}

/// One install's check of the archives it downloads against the feed.
#[derive(Debug)]
pub struct Check {
    index: Index,
    ecosystem: Ecosystem,
}

impl Check {
    /// The check for installs of `ecosystem`, when a feed was imported into
    /// `dir`; `None` (nothing to check, nothing read) otherwise.
    pub fn open(dir: &Path, ecosystem: Ecosystem) -> Option<Self> {
        Some(Self {
            index: Index::open(dir)?,
            ecosystem,
        })
    }

    /// The feed's record for the archive a registry URL path downloads.
    ///
    /// An archive is judged by what it is, not by which manager's install
    /// asked for it: a lifecycle script's nested `pip`, `gem` or `npm`, a
    /// formula running npm, and a mirror serving every ecosystem from one
    /// host all fetch other ecosystems' archives through this proxy. The
    /// shapes only one ecosystem has (an npm `/-/….tgz`, a wheel, a `.gem`,
    /// a `.conda`) are that ecosystem's, the shared ones (an sdist's
    /// `.tar.gz`, conda's `.tar.bz2`) the install's. A shape only one
    /// ecosystem has is read as that ecosystem's alone (an npm
    /// `@babel/core/-/core-7.0.0.tgz` is not PyPI's `core 7`); a shared one
    /// is read by the install's ecosystem against every record, by the
    /// others only against records that list that version: a name flagged
    /// in one ecosystem is often a legitimate package or release asset of
    /// another.
    pub fn archive(&self, url_path: &str) -> Option<KnownMalicious> {
        let exclusive = Ecosystem::ALL
            .into_iter()
            .find(|e| archive::exclusive(*e, url_path));
        let owner = exclusive.unwrap_or(self.ecosystem);
        let others = Ecosystem::ALL
            .into_iter()
            .filter(|e| *e != owner && exclusive.is_none());
        std::iter::once(owner).chain(others).find_map(|ecosystem| {
            let listed_only = ecosystem != owner;
            archive::readings(ecosystem, url_path)
                .into_iter()
                .find_map(|(package, version)| {
                    let hit =
                        self.index
                            .lookup_as(ecosystem, &package, Some(&version), listed_only)?;
                    Some(KnownMalicious {
                        ecosystem: ecosystem.key().to_string(),
                        package,
                        version,
                        id: hit.id,
                        summary: hit.summary,
                    })
                })
        })
    }
}

impl Check {
    /// The feed's records for the packages an install wrote (see
    /// [`installed`]), each with the directory that holds it. Every
    /// ecosystem's layout is read, whatever the install's manager (a
    /// lifecycle script may run another manager), each looked up in its own
    /// ecosystem. A package whose version could not be read is looked up as
    /// any version.
    pub fn installed(&self, written: &[&Path]) -> Vec<(KnownMalicious, PathBuf)> {
        Ecosystem::ALL
            .into_iter()
            .flat_map(|e| installed::packages(e, written.iter().copied()))
            .filter_map(|p| {
                let versions: Vec<Option<&str>> = if p.versions.is_empty() {
                    vec![None]
                } else {
                    p.versions.iter().map(|v| Some(v.as_str())).collect()
                };
                let pairs = p
                    .names
                    .iter()
                    .flat_map(|n| versions.iter().map(move |v| (n, *v)));
                pairs.into_iter().find_map(|(name, v)| {
                    let hit = self.index.lookup(p.ecosystem, name, v)?;
                    Some((
                        KnownMalicious {
                            ecosystem: p.ecosystem.key().to_string(),
                            package: name.clone(),
                            version: v.unwrap_or("(unknown)").to_string(),
                            id: hit.id,
                            summary: hit.summary,
                        },
                        p.dir.clone(),
                    ))
                })
            })
            .collect()
    }
}

/// Reads every OSV record under `sources` (files, and `*.json` in
/// directories, recursively) and replaces the index in `dir` with them.
/// Any file that is not an OSV record fails the import before anything is
/// written.
pub fn import(sources: &[PathBuf], dir: &Path) -> Result<Meta, IntelError> {
    let mut files = Vec::new();
    for source in sources {
        collect(source, &mut files)?;
    }
    let mut entries = Vec::new();
    let mut meta = Meta::default();
    for path in &files {
        let text = std::fs::read(path).map_err(|source| IntelError::Read {
            path: path.clone(),
            source,
        })?;
        if text.starts_with(b"PK\x03\x04") {
            return Err(IntelError::Zip(path.clone()));
        }
        let text = String::from_utf8_lossy(&text);
        let parsed = osv::parse(&text).map_err(|source| IntelError::NotOsv {
            path: path.clone(),
            source,
        })?;
        meta.records += 1;
        meta.skipped += parsed.skipped;
        meta.not_malicious += usize::from(parsed.not_malicious);
        if parsed.modified > meta.newest {
            meta.newest = parsed.modified;
        }
        entries.extend(parsed.entries);
    }
    let lines = index_lines(&entries);
    meta.entries = lines.len();
    let mut per: std::collections::BTreeMap<String, usize> = Default::default();
    for line in &lines {
        let key = line.split('\t').next().unwrap_or_default();
        *per.entry(key.to_string()).or_default() += 1;
    }
    meta.per_ecosystem = per.into_iter().collect();
    meta.imported_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    meta.sources = sources.iter().map(|s| s.display().to_string()).collect();
    write(dir, &lines, &meta).map_err(|source| IntelError::Write {
        dir: dir.to_path_buf(),
        source,
    })?;
    Ok(meta)
}

/// The files an import reads from `source`.
fn collect(source: &Path, out: &mut Vec<PathBuf>) -> Result<(), IntelError> {
    let meta = std::fs::metadata(source).map_err(|e| IntelError::Read {
        path: source.to_path_buf(),
        source: e,
    })?;
    if !meta.is_dir() {
        out.push(source.to_path_buf());
        return Ok(());
    }
    let read = std::fs::read_dir(source).map_err(|e| IntelError::Read {
        path: source.to_path_buf(),
        source: e,
    })?;
    let mut children: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        let is_dir = std::fs::symlink_metadata(&child).is_ok_and(|m| m.is_dir());
        if is_dir {
            collect(&child, out)?;
        } else if child.extension().is_some_and(|e| e == "json") {
            out.push(child);
        }
    }
    Ok(())
}

/// The index's lines, sorted and without duplicates.
fn index_lines(entries: &[Entry]) -> Vec<String> {
    let mut lines: Vec<String> = entries
        .iter()
        .map(|e| {
            let versions = match &e.versions {
                Versions::All => "*".to_string(),
                Versions::Listed(v) => v.join(","),
            };
            format!(
                "{}\t{}\t{}\t{}\t{}",
                e.ecosystem.key(),
                clean(&e.name),
                clean(&versions),
                clean(&e.id),
                clean(&e.summary)
            )
        })
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// A field without the index's separators.
fn clean(field: &str) -> String {
    field.replace(['\t', '\n', '\r'], " ")
}

/// Writes the index and its meta atomically (each replaced by a rename).
fn write(dir: &Path, lines: &[String], meta: &Meta) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    replace(dir, INDEX, text.as_bytes())?;
    let json = serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?;
    replace(dir, META, &json)?;
    // The renames themselves reach the disk.
    File::open(dir)?.sync_all()
}

fn replace(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))
}

/// The meta of the last import in `dir`, if any.
pub fn status(dir: &Path) -> Option<Meta> {
    let bytes = std::fs::read(dir.join(META)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// An open index, mapped: a lookup is a binary search over its sorted
/// lines in memory (the pages it touches are read, not the whole file;
/// positioned reads cost about 30 µs a lookup at 200,000 records).
#[derive(Debug)]
pub struct Index {
    map: Option<memmap2::Mmap>,
}

impl Index {
    /// Opens the index in `dir`; `None` when there is none (no feed: nothing
    /// to check).
    pub fn open(dir: &Path) -> Option<Self> {
        let file = File::open(dir.join(INDEX)).ok()?;
        let len = file.metadata().ok()?.len();
        // An empty file cannot be mapped: it is an index of nothing.
        let map = if len == 0 {
            None
        } else {
            // SAFETY: the index is replaced by renaming a new file over it,
            // never written in place, and the sandbox cannot write pkgwarden's
            // state: the mapped file does not change under the map.
            Some(unsafe { memmap2::Mmap::map(&file) }.ok()?)
        };
        Some(Self { map })
    }

    /// The record naming `name` at `version` (any version when `None`) in
    /// `ecosystem`, if the feed has one.
    pub fn lookup(&self, ecosystem: Ecosystem, name: &str, version: Option<&str>) -> Option<Hit> {
        self.lookup_as(ecosystem, name, version, false)
    }

    /// As [`Index::lookup`]; with `listed_only`, a record naming every
    /// version does not count.
    pub fn lookup_as(
        &self,
        ecosystem: Ecosystem,
        name: &str,
        version: Option<&str>,
        listed_only: bool,
    ) -> Option<Hit> {
        let bytes: &[u8] = self.map.as_deref().unwrap_or_default();
        let key = format!("{}\t{}\t", ecosystem.key(), ecosystem.normalize(name));
        let key = key.as_bytes();
        // The first line whose start is >= key: binary search over byte
        // offsets, each probe taking the line that starts after it.
        let (mut lo, mut hi) = (0, bytes.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let start = line_start_after(bytes, mid);
            match line_at(bytes, start) {
                Some(line) if line < key => lo = start + line.len() + 1,
                Some(_) | None => hi = mid,
            }
        }
        // `lo` is a line start (0, or just past a newline).
        let mut at = lo;
        while let Some(line) = line_at(bytes, at) {
            let rest = line.strip_prefix(key)?;
            let rest = String::from_utf8_lossy(rest);
            if let Some(hit) = matches(ecosystem, &rest, version, listed_only) {
                return Some(hit);
            }
            at += line.len() + 1;
        }
        None
    }
}

/// The start of the first whole line at or after `offset` (the line
/// `offset` falls into is skipped unless `offset` is a line start).
fn line_start_after(bytes: &[u8], offset: usize) -> usize {
    if offset == 0 {
        return 0;
    }
    bytes[offset - 1..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |i| offset + i)
}

/// The line starting at `start`, without its newline; `None` at the end.
fn line_at(bytes: &[u8], start: usize) -> Option<&[u8]> {
    let rest = bytes.get(start..).filter(|r| !r.is_empty())?;
    let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    Some(&rest[..end])
}

/// A hit when the rest of an index line (`versions \t id \t summary`) names
/// `version` (or any version when `version` is `None`), compared as the
/// registry compares versions ([`version::canonical`]); a record of every
/// version (`*`) counts unless `listed_only`.
fn matches(
    ecosystem: Ecosystem,
    rest: &str,
    version: Option<&str>,
    listed_only: bool,
) -> Option<Hit> {
    let mut fields = rest.splitn(3, '\t');
    let versions = fields.next()?;
    let id = fields.next()?.to_string();
    let summary = fields.next().unwrap_or("").to_string();
    let named = if versions == "*" {
        !listed_only
    } else {
        match version {
            None => true,
            Some(v) => {
                let v = version::canonical(ecosystem, v);
                versions
                    .split(',')
                    .any(|x| version::canonical(ecosystem, x) == v)
            }
        }
    };
    named.then_some(Hit { id, summary })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, eco: &str, name: &str, versions: &[&str], all: bool) -> String {
        let ranges = if all {
            r#","ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]"#
        } else {
            ""
        };
        format!(
            r#"{{"id":"{id}","summary":"bad {name}","modified":"2026-0{}-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},"versions":{}{ranges}}}]}}"#,
            id.len() % 9 + 1,
            serde_json::to_string(versions).unwrap()
        )
    }

    #[test]
    fn an_import_is_looked_up_by_name_and_version() {
        let src = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("npm")).unwrap();
        std::fs::write(
            src.path().join("npm/MAL-1.json"),
            record("MAL-1", "npm", "evil", &["1.0.0"], true),
        )
        .unwrap();
        std::fs::write(
            src.path().join("MAL-2.json"),
            record("MAL-2", "PyPI", "Bad_Pkg", &["2.0", "2.1"], false),
        )
        .unwrap();
        // Many neighbours, so the search crosses several probes.
        for i in 0..500 {
            std::fs::write(
                src.path().join(format!("n{i}.json")),
                record(
                    &format!("MAL-N{i}"),
                    "npm",
                    &format!("pkg{i:04}"),
                    &["1.0.0"],
                    false,
                ),
            )
            .unwrap();
        }
        std::fs::write(src.path().join("README.md"), "not read").unwrap();
        let meta = import(&[src.path().to_path_buf()], state.path()).unwrap();
        assert_eq!((meta.records, meta.entries), (502, 502));
        let index = Index::open(state.path()).unwrap();
        assert_eq!(
            index
                .lookup(Ecosystem::Npm, "evil", Some("9.9.9"))
                .map(|h| h.id),
            Some("MAL-1".to_string())
        );
        assert_eq!(
            index
                .lookup(Ecosystem::Pypi, "bad.pkg", Some("2.1"))
                .map(|h| h.summary),
            Some("bad Bad_Pkg".to_string())
        );
        assert_eq!(index.lookup(Ecosystem::Pypi, "bad-pkg", Some("2.2")), None);
        assert_eq!(index.lookup(Ecosystem::Npm, "bad-pkg", None), None);
        for i in [0, 1, 250, 498, 499] {
            let name = format!("pkg{i:04}");
            assert!(
                index.lookup(Ecosystem::Npm, &name, Some("1.0.0")).is_some(),
                "{name}"
            );
            assert!(index.lookup(Ecosystem::Npm, &name, Some("1.0.1")).is_none());
        }
        assert!(index.lookup(Ecosystem::Npm, "pkg", None).is_none());
        assert!(index.lookup(Ecosystem::Npm, "zzz", None).is_none());
        assert_eq!(status(state.path()).unwrap().records, 502);
    }

    /// The cost of one lookup in a 200,000-record index (hits and misses).
    #[test]
    #[ignore = "benchmark: cargo test --release --lib intel::tests::bench -- --ignored --nocapture"]
    fn bench_lookups_in_a_large_index() {
        let state = tempfile::tempdir().unwrap();
        let mut lines: Vec<String> = (0..200_000)
            .map(|i| {
                format!(
                    "npm\tpwfeed-{i:07}\t1.{}.0\tMAL-{i}\tinert benchmark record",
                    i % 7
                )
            })
            .collect();
        lines.sort();
        std::fs::write(state.path().join(INDEX), lines.join("\n") + "\n").unwrap();
        let index = Index::open(state.path()).unwrap();
        let n = 20_000;
        let t = std::time::Instant::now();
        let mut hits = 0;
        for i in 0..n {
            let name = format!("pwfeed-{:07}", (i * 7919) % 400_000);
            hits += usize::from(index.lookup(Ecosystem::Npm, &name, Some("1.0.0")).is_some());
        }
        let per = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        println!("lookup: {per:.1} µs each ({hits} hits of {n})");
        assert!(hits > 0);
    }

    #[test]
    fn one_bad_file_fails_the_import_and_keeps_the_old_index() {
        let src = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let good = src.path().join("a.json");
        std::fs::write(&good, record("MAL-1", "npm", "evil", &["1.0.0"], true)).unwrap();
        import(std::slice::from_ref(&good), state.path()).unwrap();
        std::fs::write(src.path().join("b.json"), "{\"not\": \"osv\"}").unwrap();
        let err = import(&[src.path().to_path_buf()], state.path()).unwrap_err();
        assert!(
            err.to_string().contains("b.json is not an OSV record"),
            "{err}"
        );
        let zip = src.path().join("all.zip");
        std::fs::write(&zip, b"PK\x03\x04rest").unwrap();
        let err = import(&[zip], state.path()).unwrap_err();
        assert!(err.to_string().contains("unzip it first"), "{err}");
        let index = Index::open(state.path()).unwrap();
        assert!(index.lookup(Ecosystem::Npm, "evil", None).is_some());
    }

    /// Round 9: an archive is read by what it is, whichever manager's
    /// install asks for it; a name flagged for every version in one
    /// ecosystem does not flag a shared shape of another; versions compare
    /// as the registry compares them.
    #[test]
    fn an_archive_is_judged_by_what_it_is_not_by_who_asks() {
        let src = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let records = [
            record("MAL-1", "PyPI", "pw-evil", &["1.0"], false),
            record("MAL-2", "RubyGems", "pw-gem", &["3.0"], false),
            record("MAL-3", "npm", "pw-npm", &["4.0.0"], false),
            record("MAL-4", "PyPI", "request", &["1"], true),
            record("MAL-5", "PyPI", "pw-sdist", &["2.0"], false),
            record("MAL-6", "conda", "pw-conda", &["5.0"], false),
            record("MAL-7", "PyPI", "core", &["7.0.0"], false),
        ];
        for (i, r) in records.iter().enumerate() {
            std::fs::write(src.path().join(format!("{i}.json")), r).unwrap();
        }
        import(&[src.path().to_path_buf()], state.path()).unwrap();
        let id = |eco: Ecosystem, path: &str| {
            Check::open(state.path(), eco)
                .unwrap()
                .archive(path)
                .map(|k| format!("{} {}", k.ecosystem, k.id))
        };
        for eco in Ecosystem::ALL {
            let hit = |p: &str| id(eco, p);
            assert_eq!(
                hit("/p/pw_evil-1.0.0-py3-none-any.whl"),
                Some("pypi MAL-1".into()),
                "{eco}"
            );
            assert_eq!(
                hit("/g/pw-gem-3.0.gem"),
                Some("rubygems MAL-2".into()),
                "{eco}"
            );
            assert_eq!(
                hit("/pw-npm/-/pw-npm-v4.0.0.tgz"),
                Some("npm MAL-3".into()),
                "{eco}"
            );
            // Served by file name under another package's directory.
            assert_eq!(
                hit("/pw-ok/-/pw-npm-4.0.0.tgz"),
                Some("npm MAL-3".into()),
                "{eco}"
            );
            assert_eq!(
                hit("/f/pw-sdist-2.0.0.tar.gz"),
                Some("pypi MAL-5".into()),
                "{eco}"
            );
            assert_eq!(
                hit("/c/noarch/pw-conda-5.0-py_0.conda"),
                Some("conda MAL-6".into()),
                "{eco}"
            );
            // npm's own `request` is not PyPI's flagged `request`, nor is
            // `@babel/core@7.0.0` PyPI's `core 7.0.0`, which a record lists.
            assert_eq!(hit("/request/-/request-2.88.2.tgz"), None, "{eco}");
            assert_eq!(hit("/@babel/core/-/core-7.0.0.tgz"), None, "{eco}");
            assert_eq!(hit("/p/pw_evil-1.0.1-py3-none-any.whl"), None, "{eco}");
        }
        // In a Python install the sdist shape is PyPI's own: every version.
        assert_eq!(
            id(Ecosystem::Pypi, "/f/request-2.88.2.tar.gz"),
            Some("pypi MAL-4".into())
        );
        assert_eq!(id(Ecosystem::Npm, "/f/request-2.88.2.tar.gz"), None);
    }

    #[test]
    fn no_feed_is_no_index() {
        let state = tempfile::tempdir().unwrap();
        assert!(Index::open(state.path()).is_none());
        assert!(status(state.path()).is_none());
    }
}
