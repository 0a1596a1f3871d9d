//! `tamper.installed-package`: a file of an installed distribution that no
//! longer matches the sha256 its RECORD lists, when the install did not
//! (re)install that distribution: code appended to another package
//! (`site-packages/pip/__init__.py`) runs wherever that package is imported.
//!
//! Cheap on purpose: before the install, [`stat_installed`] reads every
//! RECORD of the site directories and `lstat`s the files it lists (no
//! hashing); after it, [`verify`] hashes only the files whose size, mtime,
//! ctime or inode changed. A distribution whose RECORD itself changed or went
//! away was (re)installed or removed by the install, and is its own business.

use super::{Evidence, Finding, Input, Procs, Severity, Taken, finding};
use crate::model::EventKind;
use crate::model::RuleId;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What `lstat` says of one file: enough to tell it was touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stat {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
}

fn stat(p: &Path) -> Option<Stat> {
    let m = std::fs::symlink_metadata(p).ok()?;
    Some(Stat {
        size: m.size(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        ino: m.ino(),
    })
}

/// One file a RECORD lists with a hash.
#[derive(Clone, Debug)]
struct Listed {
    /// Index into [`Installed::dists`].
    dist: usize,
    path: PathBuf,
    /// `sha256=` value of the RECORD (URL-safe base64, no padding).
    sha256: String,
    before: Option<Stat>,
}

/// The installed distributions of some site directories, before the install.
#[derive(Clone, Debug, Default)]
pub struct Installed {
    /// `name@version` and the RECORD's path and stat, per distribution.
    dists: Vec<(String, PathBuf, Option<Stat>)>,
    files: Vec<Listed>,
    /// Microseconds the stat pass took.
    pub took_us: u64,
}

impl Installed {
    /// Files listed with a hash.
    pub fn files(&self) -> usize {
        self.files.len()
    }

    /// Distributions seen.
    pub fn dists(&self) -> usize {
        self.dists.len()
    }
}

/// Reads every `*.dist-info/RECORD` in `site_dirs` and stats what it lists.
pub fn stat_installed(site_dirs: &[PathBuf]) -> Installed {
    let t = std::time::Instant::now();
    let mut out = Installed::default();
    for site in site_dirs {
        // Listed paths as the supervisor records paths: resolved.
        let site = &site.canonicalize().unwrap_or_else(|_| site.clone());
        let Ok(rd) = std::fs::read_dir(site) else {
            continue;
        };
        let mut infos: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "dist-info"))
            .collect();
        infos.sort();
        for info in infos {
            let record = info.join("RECORD");
            let Some(text) = super::read_regular_text(&record, super::TEXT_MAX) else {
                continue;
            };
            let stem = info
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = match stem.rsplit_once('-') {
                Some((n, v)) => format!("{n}@{v}"),
                None => stem,
            };
            let dist = out.dists.len();
            out.dists.push((name, record.clone(), stat(&record)));
            for line in text.lines() {
                let Some((rel, hash)) = record_line(line) else {
                    continue;
                };
                let path = lexical_join(site, rel);
                out.files.push(Listed {
                    dist,
                    before: stat(&path),
                    path,
                    sha256: hash,
                });
            }
        }
    }
    out.took_us = t.elapsed().as_micros() as u64;
    out
}

/// The path and `sha256=` hash of a RECORD line (`path,sha256=…,size`), for
/// lines with such a hash. Paths with commas are quoted (csv).
fn record_line(line: &str) -> Option<(&str, String)> {
    let (path, rest) = if let Some(q) = line.strip_prefix('"') {
        let end = q.find("\",")?;
        (&q[..end], &q[end + 2..])
    } else {
        line.split_once(',')?
    };
    let hash = rest.split(',').next()?.strip_prefix("sha256=")?;
    (!path.is_empty() && !hash.is_empty()).then(|| (path, hash.to_string()))
}

/// `base` joined with a RECORD path, `..` removed lexically (scripts are
/// listed as `../../../bin/x`).
fn lexical_join(base: &Path, rel: &str) -> PathBuf {
    let mut out = if Path::new(rel).is_absolute() {
        PathBuf::from("/")
    } else {
        base.to_path_buf()
    };
    for c in Path::new(rel).components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// How an installed file departs from its RECORD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Departure {
    /// Its content no longer has the RECORD's hash.
    Modified,
    /// It is gone while its distribution's RECORD is unchanged.
    Removed,
    /// Still as its RECORD says, but something of the install tried to
    /// write it (package code's nested domain refused the write).
    Attempted,
}

/// A file of a distribution the install did not (re)install that changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tampered {
    /// `name@version` of the distribution whose RECORD lists it.
    pub dist: String,
    /// The file.
    pub path: String,
    /// Modified or removed.
    pub kind: Departure,
    /// SHA-256 (hex) of the content now, when modified.
    pub sha256: Option<String>,
    /// The distribution's RECORD, when it changed too: a reinstall by the
    /// manager, or a forgery by package code that rewrote it to match (which
    /// [`check`] tells apart by who wrote it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_rewritten: Option<String>,
}

/// The listed files that changed since [`stat_installed`], with the time it
/// took in microseconds.
pub fn verify(before: &Installed) -> (Vec<Tampered>, u64) {
    let t = std::time::Instant::now();
    let reinstalled: Vec<bool> = before
        .dists
        .iter()
        .map(|(_, record, st)| stat(record) != *st)
        .collect();
    let mut out = Vec::new();
    for f in &before.files {
        let now = stat(&f.path);
        if now == f.before {
            continue;
        }
        let dist = before.dists[f.dist].0.clone();
        let path = f.path.display().to_string();
        let record_rewritten =
            reinstalled[f.dist].then(|| before.dists[f.dist].1.display().to_string());
        if now.is_none() {
            if f.before.is_some() {
                out.push(Tampered {
                    dist,
                    path,
                    kind: Departure::Removed,
                    sha256: None,
                    record_rewritten,
                });
            }
            continue;
        }
        // Not a regular file any more (a FIFO or device in its place) is a
        // change of that file, and must not hang the check.
        let Some(data) = super::read_regular(&f.path, u64::MAX) else {
            out.push(Tampered {
                dist,
                path,
                kind: Departure::Modified,
                sha256: None,
                record_rewritten,
            });
            continue;
        };
        let digest = Sha256::digest(&data);
        let record = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        if record != f.sha256.trim_end_matches('=') {
            out.push(Tampered {
                dist,
                path,
                kind: Departure::Modified,
                sha256: Some(digest.iter().map(|b| format!("{b:02x}")).collect()),
                record_rewritten,
            });
        }
    }
    (out, t.elapsed().as_micros() as u64)
}

/// Listed files of distributions the install did not (re)install that a
/// write event of the install names but that still match their RECORD
/// (not in `changed`): attempts the sandbox refused, judged by [`check`].
pub fn attempted(
    before: &Installed,
    events: &[crate::model::Event],
    changed: &[Tampered],
) -> Vec<Tampered> {
    let mut targets: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for e in events {
        match e.kind {
            EventKind::OpenWrite | EventKind::Truncate | EventKind::ChmodExec => {
                targets.extend(e.paths.first().map(String::as_str))
            }
            EventKind::Rename | EventKind::Link => {
                targets.extend(e.paths.iter().map(String::as_str))
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for f in &before.files {
        let path = f.path.to_string_lossy();
        if !targets.contains(path.as_ref()) || changed.iter().any(|t| t.path == path) {
            continue;
        }
        let (dist, record, st) = &before.dists[f.dist];
        if stat(record) != *st {
            continue;
        }
        out.push(Tampered {
            dist: dist.clone(),
            path: path.into_owned(),
            kind: Departure::Attempted,
            sha256: None,
            record_rewritten: None,
        });
    }
    out
}

/// The modified files as snapshot changes, for the quarantine (no earlier
/// content to put back: the distribution is to be reinstalled).
pub fn as_changes(tampered: &[Tampered]) -> Vec<crate::model::Change> {
    tampered
        .iter()
        .filter(|t| t.kind == Departure::Modified)
        .map(|t| crate::model::Change {
            path: t.path.clone(),
            kind: crate::model::ChangeKind::Modified,
            before: None,
            after: None,
            added_lines: Vec::new(),
        })
        .collect()
}

/// True when another distribution's RECORD lists `record` (a
/// `.dist-info/RECORD`) as its own file: the manager wrote it as that
/// distribution's payload (a wheel's `.data/purelib/<other>.dist-info/RECORD`),
/// not as a reinstall of its owner.
fn claimed(record: &Path) -> bool {
    let (Some(info), Some(site)) = (record.parent(), record.parent().and_then(Path::parent)) else {
        return false;
    };
    let Ok(rel) = record.strip_prefix(site) else {
        return false;
    };
    let rel = rel.to_string_lossy();
    let Ok(entries) = std::fs::read_dir(site) else {
        return false;
    };
    entries.flatten().any(|e| {
        let other = e.path();
        other != info
            && other.extension().is_some_and(|x| x == "dist-info")
            && super::read_regular_text(&other.join("RECORD"), 16 << 20).is_some_and(|text| {
                text.lines()
                    .filter_map(record_line)
                    .any(|(path, _)| lexical_join(Path::new(""), path) == Path::new(rel.as_ref()))
            })
    })
}

/// Findings for the files [`verify`] found changed.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut by_file: BTreeMap<&str, &Tampered> = BTreeMap::new();
    for t in input.tampered {
        by_file.entry(t.path.as_str()).or_insert(t);
    }
    by_file
        .values()
        .filter_map(|t| {
            let p = Path::new(&t.path);
            let pid = super::writer_of(input, p);
            // A changed RECORD vouches for the new content only when the
            // manager wrote it (a reinstall), not when package code did.
            let forged = match &t.record_rewritten {
                None => false,
                Some(rec) => {
                    let writer = super::writer_of(input, Path::new(rec));
                    if !writer.is_some_and(|w| procs.is_hook(w)) && !claimed(Path::new(rec)) {
                        return None;
                    }
                    true
                }
            };
            // An attempt that changed nothing is package code's only: the
            // manager's own writes there are a reinstall.
            if t.kind == Departure::Attempted && !pid.is_some_and(|w| procs.is_hook(w)) {
                return None;
            }
            let (severity, verb) = match t.kind {
                Departure::Modified => (Severity::High, "changed"),
                Departure::Removed => (Severity::Medium, "removed"),
                Departure::Attempted => (Severity::High, "tried to change"),
            };
            let file = p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            let detail = if t.kind == Departure::Attempted {
                format!(
                    "package code tried to write {file} of {}, which this install did not install; the file still matches its RECORD",
                    t.dist
                )
            } else if forged {
                format!(
                    "{file} of {} changed, and package code rewrote its RECORD to match; reinstall it (pip install --force-reinstall)",
                    t.dist
                )
            } else {
                format!(
                    "{file} of {}, which this install did not install, no longer matches its RECORD; reinstall it (pip install --force-reinstall)",
                    t.dist
                )
            };
            let mut paths = vec![t.path.clone()];
            paths.extend(t.record_rewritten.iter().filter(|_| forged).cloned());
            let ev = Evidence {
                paths,
                sha256: t.sha256.clone(),
                detail: Some(detail),
                ..Evidence::default()
            };
            let action = if pid.is_some() {
                input.write_taken(p)
            } else {
                Taken::Observed
            };
            let mut f = finding(
                RuleId::TamperInstalledPackage,
                format!("{verb} a file of installed package {}", t.dist),
                pid,
                procs,
                ev,
                action,
            );
            f.severity = severity;
            Some(f)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wheel_file(site: &Path, rel: &str, data: &[u8]) -> String {
        let p = site.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        let h = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data));
        format!("{rel},sha256={h},{}\n", data.len())
    }

    fn dist(site: &Path, name: &str, files: &[(&str, &[u8])]) {
        let mut record = String::new();
        for (rel, data) in files {
            record.push_str(&wheel_file(site, rel, data));
        }
        record.push_str(&format!("{name}-1.0.dist-info/RECORD,,\n"));
        std::fs::create_dir_all(site.join(format!("{name}-1.0.dist-info"))).unwrap();
        std::fs::write(site.join(format!("{name}-1.0.dist-info/RECORD")), record).unwrap();
    }

    #[test]
    fn an_appended_line_is_found_and_a_reinstall_is_not() {
        let t = tempfile::tempdir().unwrap();
        let site = t.path().join("lib/python3.12/site-packages");
        dist(
            &site,
            "victim",
            &[("victim/__init__.py", b"x = 1\n"), ("victim/b.py", b"")],
        );
        dist(&site, "other", &[("other/__init__.py", b"y = 1\n")]);
        let bin = t.path().join("bin/victim");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        let h =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(b"#!/bin/sh\n"));
        let rec = site.join("victim-1.0.dist-info/RECORD");
        let mut text = std::fs::read_to_string(&rec).unwrap();
        text.push_str(&format!("../../../bin/victim,sha256={h},10\n"));
        std::fs::write(&rec, text).unwrap();

        let before = stat_installed(std::slice::from_ref(&site));
        assert_eq!(before.dists(), 2);
        assert_eq!(before.files(), 4);
        assert!(verify(&before).0.is_empty());

        std::thread::sleep(std::time::Duration::from_millis(10));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(site.join("victim/__init__.py"))
            .unwrap();
        std::io::Write::write_all(&mut f, b"import os; os.system('x')\n").unwrap();
        std::fs::write(&bin, "#!/bin/sh\ncurl x\n").unwrap();
        std::fs::remove_file(site.join("victim/b.py")).unwrap();
        // Rewritten with the same content: touched, not tampered.
        std::fs::write(site.join("other/__init__.py"), b"y = 1\n").unwrap();
        let (found, _) = verify(&before);
        let mut got: Vec<(String, Departure)> = found
            .iter()
            .map(|t| (t.path.rsplit('/').next().unwrap().to_string(), t.kind))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("__init__.py".into(), Departure::Modified),
                ("b.py".into(), Departure::Removed),
                ("victim".into(), Departure::Modified),
            ]
        );
        assert!(found.iter().all(|t| t.dist == "victim@1.0"));

        assert!(found.iter().all(|t| t.record_rewritten.is_none()));

        // The RECORD changed too: a reinstall, or a forgery; check() asks
        // who wrote it.
        std::fs::remove_file(&rec).unwrap();
        std::fs::write(&rec, "victim/__init__.py,,\n").unwrap();
        let (found, _) = verify(&before);
        assert_eq!(found.len(), 3);
        let rec_s = rec.display().to_string();
        assert!(
            found
                .iter()
                .all(|t| t.record_rewritten.as_deref() == Some(rec_s.as_str()))
        );
    }

    #[test]
    fn record_lines() {
        assert_eq!(
            record_line("a/b.py,sha256=abc,3"),
            Some(("a/b.py", "abc".to_string()))
        );
        assert_eq!(
            record_line("\"a,b.py\",sha256=abc,3"),
            Some(("a,b.py", "abc".to_string()))
        );
        assert_eq!(record_line("x.dist-info/RECORD,,"), None);
        assert_eq!(record_line("a.pyc,,"), None);
    }
}
