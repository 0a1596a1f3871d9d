//! Where reports live: one JSON file per install in
//! `$XDG_STATE_HOME/pkgwarden/reports`, named
//! `<sequence>-<UTC start YYYYMMDDTHHMMSSZ>-<manager>-<id>.json` and written
//! atomically. The sequence (ten digits) is the store's own: one more than
//! the highest stored, assigned under a lock. Reports are ordered by it, never
//! by the time a file claims (a forged report dated in the future must not
//! become `last`); files without one (older pkgwarden) come first, by time.
//! plus `index.jsonl`, one summary line per write, so that listing need not
//! parse every report.
//!
//! The index is only a cache: a report file whose size or mtime differs from
//! its last index line, or that has none (written by hand, or the append
//! failed), is read itself. Appends hold an exclusive `flock`, readers a
//! shared one.

use super::model::{Report, VERSION};
use crate::model::Severity;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The index's file name inside the reports directory.
const INDEX: &str = "index.jsonl";

/// The lock held while a sequence number is chosen and its file written.
const SEQ_LOCK: &str = ".sequence.lock";

/// Digits of the sequence number in a file name.
const SEQ_DIGITS: usize = 10;

/// `$XDG_STATE_HOME/pkgwarden/reports` (fallback
/// `$HOME/.local/state/pkgwarden/reports`); `None` when neither variable
/// holds an absolute path.
pub fn reports_dir() -> Option<PathBuf> {
    crate::paths::state_dir().map(|p| p.join("reports"))
}

/// Says on stderr, before the install `what`, when its report cannot be
/// stored ([`check_writable`]) and what repairs the directory.
pub fn warn_unwritable(what: &str) {
    if let Err(e) = check_writable() {
        eprintln!(
            "pkgwarden: WARNING: {what}: the report of this install cannot be stored ({e}); repair the directory's mode and owner (`chmod 700`, `chown` to you) or this install goes unrecorded"
        );
    }
}

/// Checks, before an install, that its report can be stored: the reports
/// directory exists (or is made) and a file can be created in it. `Err`
/// says why not (a mode changed by an earlier install, a full disk).
pub fn check_writable() -> Result<PathBuf, String> {
    let dir = reports_dir().ok_or("neither XDG_STATE_HOME nor HOME is an absolute path")?;
    let fail = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let probe = dir.join(format!(".writable-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(fail)?;
    let _ = std::fs::remove_file(&probe);
    Ok(dir)
}

/// What went wrong reading or writing reports. Every message ends with what
/// to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Neither `XDG_STATE_HOME` nor `HOME` is usable.
    #[error(
        "cannot tell where reports are kept: neither XDG_STATE_HOME nor HOME is an absolute path\n  hint: set HOME (or XDG_STATE_HOME)"
    )]
    NoDir,
    /// A file system operation failed.
    #[error("cannot {what} {}: {source}\n  hint: {hint}", path.display())]
    Io {
        /// What was being done (`write`, `read` …).
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: io::Error,
        /// What to do.
        hint: &'static str,
    },
    /// A report file is not valid report JSON.
    #[error(
        "{} is not a readable pkgwarden report: {source}\n  hint: move it out of the reports directory, or fix it by hand", path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why it does not parse.
        source: serde_json::Error,
    },
    /// A report written by a newer pkgwarden.
    #[error(
        "{} was written by a newer pkgwarden (report format {found}; this one reads up to {VERSION})\n  hint: upgrade pkgwarden to read it", path.display()
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its format version.
        found: u32,
    },
    /// No report has that id or id prefix.
    #[error(
        "no report matches '{query}' in {}\n  hint: run `pkgwarden report list` to see the ids, or use `last`", dir.display()
    )]
    NotFound {
        /// What was asked for.
        query: String,
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// An id prefix that several reports share.
    #[error("'{query}' matches {} reports: {}\n  hint: give more digits of the id", ids.len(), ids.join(", "))]
    Ambiguous {
        /// What was asked for.
        query: String,
        /// The matching ids.
        ids: Vec<String>,
    },
    /// `last` was asked for and there are no reports.
    #[error(
        "no reports yet in {}\n  hint: a report is written after each install pkgwarden monitors", dir.display()
    )]
    Empty {
        /// The reports directory.
        dir: PathBuf,
    },
    /// A report whose id cannot name a file.
    #[error(
        "the report id '{0}' is not 1 to 64 lowercase hex digits\n  hint: give reports ids from store::new_id()"
    )]
    BadId(String),
    /// The report could not be encoded.
    #[error(
        "cannot encode the report as JSON: {0}\n  hint: this is a pkgwarden bug; please report it"
    )]
    Encode(serde_json::Error),
}

/// One line of `pkgwarden report list`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The report id.
    pub id: String,
    /// Start time, RFC 3339 UTC.
    pub started: String,
    /// The command typed (`pip`, `npm` …).
    pub manager: String,
    /// The install subcommand.
    pub command: String,
    /// audit · protect · block.
    pub mode: String,
    /// How the install ended (`completed`, `blocked` …).
    pub status: String,
    /// The code pkgwarden exited with.
    pub exit_code: i32,
    /// How many findings.
    pub findings: usize,
    /// The worst finding's severity.
    pub worst: Option<Severity>,
    /// The report file.
    pub path: PathBuf,
}

impl Summary {
    /// The summary of `r`, stored at `path`.
    pub fn of(r: &Report, path: &Path) -> Summary {
        Summary {
            id: r.id.clone(),
            started: r.started.clone(),
            manager: r.what.manager.clone(),
            command: r.what.command.clone(),
            mode: r.what.mode.clone(),
            status: r.outcome.status.clone(),
            exit_code: r.outcome.exit_code,
            findings: r.findings.len(),
            worst: r.worst(),
            path: path.to_path_buf(),
        }
    }
}

/// One line of the index: a summary and the state of the file it was made
/// from.
#[derive(Serialize, Deserialize)]
struct IndexLine {
    /// The report's file name.
    file: String,
    /// Its size when summarised.
    size: u64,
    /// Its mtime when summarised (seconds, nanoseconds).
    mtime: (i64, i64),
    summary: Summary,
}

/// A new report id: 16 random lowercase hex digits.
pub fn new_id() -> String {
    let mut bytes = [0u8; 8];
    let read = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // No /dev/urandom (a chroot): std's hasher keys are random per
        // process; mixing in time and a counter keeps ids distinct.
        bytes = fallback_random().to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fallback_random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// Stores `report` in [`reports_dir`] and returns its path. Writing a report
/// whose id is already stored replaces that file (the post-install watcher
/// adds to a report this way).
pub fn write(report: &Report) -> Result<PathBuf, StoreError> {
    let dir = reports_dir().ok_or(StoreError::NoDir)?;
    write_in(&dir, report)
}

/// Summaries of the stored reports, oldest first (newest last): those that
/// started at or after `since`, and with `findings_only` only those with
/// findings. Files in the directory that are not reports are skipped.
pub fn list(since: Option<SystemTime>, findings_only: bool) -> Result<Vec<Summary>, StoreError> {
    let dir = reports_dir().ok_or(StoreError::NoDir)?;
    list_in(&dir, since, findings_only)
}

/// The report named by `query`: `last` (the newest), a full id, or a prefix
/// of exactly one id.
pub fn load(query: &str) -> Result<Report, StoreError> {
    let dir = reports_dir().ok_or(StoreError::NoDir)?;
    load_in(&dir, query)
}

/// [`write`] into `dir`.
pub(crate) fn write_in(dir: &Path, report: &Report) -> Result<PathBuf, StoreError> {
    let id = &report.id;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(StoreError::BadId(id.clone()));
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Io {
            what: "create the reports directory",
            path: dir.to_path_buf(),
            source,
            hint: "check that its parent is writable, or set XDG_STATE_HOME elsewhere",
        })?;
    // Choosing the next number and writing its file is one step for every
    // writer: the lock is released when `lock` closes.
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(SEQ_LOCK))
        .and_then(|f| lock(&f, File::lock).map(|()| f))
        .map_err(|source| StoreError::Io {
            what: "lock",
            path: dir.join(SEQ_LOCK),
            source,
            hint: "check that the reports directory is writable",
        })?;
    // A report written again keeps its file name (and so its place).
    let names = scan(dir)?;
    let name = match names.iter().find(|n| n.id == *id) {
        Some(n) => n.file.clone(),
        None => {
            let next = names.iter().filter_map(|n| n.seq).max().unwrap_or(0) + 1;
            file_name(report, next)
        }
    };
    let json = serde_json::to_vec_pretty(report).map_err(StoreError::Encode)?;
    let path = dir.join(&name);
    write_atomic(dir, &name, &json)?;
    drop(lock);
    // The index is a cache; without this line `list` reads the file itself.
    let _ = append_index(dir, &name, &path, report);
    Ok(path)
}

/// `<sequence>-<YYYYMMDDTHHMMSSZ>-<manager>-<id>.json`.
fn file_name(report: &Report, seq: u64) -> String {
    let stamp = humantime::parse_rfc3339_weak(&report.started)
        .ok()
        .and_then(|t| super::rfc3339(t, 0, false))
        .or_else(|| super::rfc3339(SystemTime::now(), 0, false))
        .unwrap_or_else(|| "19700101T000000Z".to_string());
    let stamp: String = stamp.chars().filter(|c| !matches!(c, '-' | ':')).collect();
    // The manager name comes from argv[0]: keep it to characters that are
    // safe in a file name and cannot be mistaken for the separators.
    let manager: String = report
        .what
        .manager
        .chars()
        .take(32)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let manager = if manager.is_empty() || manager.starts_with('.') {
        format!("_{manager}")
    } else {
        manager
    };
    format!(
        "{seq:0w$}-{stamp}-{manager}-{}.json",
        report.id,
        w = SEQ_DIGITS
    )
}

/// Writes `bytes` to `dir/name` so that readers see the old file or the new
/// one, never a part: a fresh temporary file (O_EXCL, unique name) in the
/// same directory, fsync, rename over, fsync the directory.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let target = dir.join(name);
    let io_err = |what, path: &Path, source| StoreError::Io {
        what,
        path: path.to_path_buf(),
        source,
        hint: "check that the reports directory is writable and the disk is not full",
    };
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), new_id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(e) => return Err(io_err("create a temporary file in", dir, e)),
        }
    };
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, &target));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("write", &target, e));
    }
    // Make the rename itself durable; some file systems refuse to sync a
    // directory, which loses nothing that matters here.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Takes `file`'s lock with `take` (`File::lock` or `File::lock_shared`),
/// retrying when a signal interrupts the wait.
fn lock(file: &File, take: fn(&File) -> io::Result<()>) -> io::Result<()> {
    loop {
        match take(file) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// The mtime of `m` as (seconds, nanoseconds).
fn mtime(m: &fs::Metadata) -> (i64, i64) {
    (m.mtime(), m.mtime_nsec())
}

/// Appends the summary of `report` (now at `path`) to the index, under an
/// exclusive lock, as one line.
fn append_index(dir: &Path, name: &str, path: &Path, report: &Report) -> io::Result<()> {
    let meta = fs::metadata(path)?;
    let line = IndexLine {
        file: name.to_string(),
        size: meta.len(),
        mtime: mtime(&meta),
        summary: Summary::of(report, path),
    };
    let mut text = serde_json::to_string(&line).map_err(io::Error::other)?;
    text.push('\n');
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(dir.join(INDEX))?;
    lock(&f, File::lock)?;
    // A writer that died mid-line left no newline: start on a fresh line so
    // that only its line is lost.
    let len = f.metadata()?.len();
    let mut last = [0u8; 1];
    if len > 0 && f.read_at(&mut last, len - 1)? == 1 && last[0] != b'\n' {
        text.insert(0, '\n');
    }
    // One write of the whole line; the lock is released when `f` closes.
    f.write_all(text.as_bytes())
}

/// The index, file name → its latest line; empty when it is missing or
/// unreadable, and lines that do not parse are skipped.
fn read_index(dir: &Path) -> HashMap<String, IndexLine> {
    let mut out = HashMap::new();
    let Ok(mut f) = File::open(dir.join(INDEX)) else {
        return out;
    };
    if lock(&f, File::lock_shared).is_err() {
        return out;
    }
    let mut text = String::new();
    if f.read_to_string(&mut text).is_err() {
        return out;
    }
    for line in text.lines() {
        if let Ok(l) = serde_json::from_str::<IndexLine>(line) {
            out.insert(l.file.clone(), l);
        }
    }
    out
}

/// A report file name, taken apart.
struct Named {
    file: String,
    /// The store's sequence number (none in names of older pkgwarden).
    seq: Option<u64>,
    id: String,
    /// The start time in the name (to the second).
    time: Option<SystemTime>,
}

/// Splits `[<sequence>-]<stamp>-<manager>-<id>.json`; `None` for anything
/// else (the index, temporary files, stray files).
fn parse_name(file: &str) -> Option<Named> {
    if file.starts_with('.') {
        return None;
    }
    let full = file.strip_suffix(".json")?;
    let (seq, stem) = match full.split_at_checked(SEQ_DIGITS) {
        Some((digits, rest))
            if digits.bytes().all(|b| b.is_ascii_digit()) && rest.starts_with('-') =>
        {
            (digits.parse::<u64>().ok(), &rest[1..])
        }
        _ => (None, full),
    };
    let (rest, id) = stem.rsplit_once('-')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Named {
        file: file.to_string(),
        seq,
        id: id.to_ascii_lowercase(),
        time: rest.get(..16).and_then(parse_stamp),
    })
}

/// `YYYYMMDDTHHMMSSZ` → time.
fn parse_stamp(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !s.is_ascii() {
        return None;
    }
    let part = |r: std::ops::Range<usize>| s.get(r).unwrap_or("");
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}Z",
        part(0..4),
        part(4..6),
        part(6..8),
        part(9..11),
        part(11..13),
        part(13..15)
    );
    humantime::parse_rfc3339(&rfc).ok()
}

/// The report files in `dir` (none when it does not exist).
fn scan(dir: &Path) -> Result<Vec<Named>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StoreError::Io {
                what: "read the reports directory",
                path: dir.to_path_buf(),
                source,
                hint: "check its permissions",
            });
        }
    };
    // Only regular files are reports (a directory under a report's name
    // must not take a sequence number).
    Ok(entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().and_then(parse_name))
        .collect())
}

/// Reads and parses one report file.
fn read_report(path: &Path) -> Result<Report, StoreError> {
    let bytes = fs::read(path).map_err(|source| StoreError::Io {
        what: "read",
        path: path.to_path_buf(),
        source,
        hint: "check the file's permissions",
    })?;
    let corrupt = |source| StoreError::Corrupt {
        path: path.to_path_buf(),
        source,
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(corrupt)?;
    // Say "upgrade" rather than "corrupt" when a newer format is the reason.
    if let Some(found) = value.get("version").and_then(|v| v.as_u64())
        && found > u64::from(VERSION)
    {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
        });
    }
    serde_json::from_value(value).map_err(corrupt)
}

/// [`list`] in `dir`.
pub(crate) fn list_in(
    dir: &Path,
    since: Option<SystemTime>,
    findings_only: bool,
) -> Result<Vec<Summary>, StoreError> {
    let index = read_index(dir);
    let mut out = Vec::new();
    for named in scan(dir)? {
        // The name's time is truncated to the second: only skip a report
        // that surely started before `since` without reading it.
        if let (Some(since), Some(t)) = (since, named.time)
            && t + Duration::from_secs(1) <= since
        {
            continue;
        }
        let path = dir.join(&named.file);
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        let summary = match index.get(&named.file) {
            Some(l) if l.size == meta.len() && l.mtime == mtime(&meta) => Summary {
                path: path.clone(),
                ..l.summary.clone()
            },
            _ => match read_report(&path) {
                Ok(r) => Summary::of(&r, &path),
                Err(_) => continue,
            },
        };
        let started = humantime::parse_rfc3339_weak(&summary.started)
            .ok()
            .or(named.time);
        if let (Some(since), Some(t)) = (since, started)
            && t < since
        {
            continue;
        }
        if findings_only && summary.findings == 0 {
            continue;
        }
        out.push((named.seq, started, named.file, summary));
    }
    // The store's order; the claimed time only orders files without one.
    out.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    Ok(out.into_iter().map(|(_, _, _, s)| s).collect())
}

/// [`load`] in `dir`.
pub(crate) fn load_in(dir: &Path, query: &str) -> Result<Report, StoreError> {
    let query = query.trim().to_ascii_lowercase();
    if query == "last" {
        let all = list_in(dir, None, false)?;
        let last = all.last().ok_or_else(|| StoreError::Empty {
            dir: dir.to_path_buf(),
        })?;
        return read_report(&last.path);
    }
    let not_found = || StoreError::NotFound {
        query: query.clone(),
        dir: dir.to_path_buf(),
    };
    if query.is_empty() || !query.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let names = scan(dir)?;
    if let Some(exact) = names.iter().find(|n| n.id == query) {
        return read_report(&dir.join(&exact.file));
    }
    let mut matching: Vec<&Named> = names.iter().filter(|n| n.id.starts_with(&query)).collect();
    matching.sort_by(|a, b| a.id.cmp(&b.id));
    matching.dedup_by(|a, b| a.id == b.id);
    match matching.as_slice() {
        [] => Err(not_found()),
        [one] => read_report(&dir.join(&one.file)),
        many => Err(StoreError::Ambiguous {
            query: query.clone(),
            ids: many.iter().map(|n| n.id.clone()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{clean_report, dirty_report};

    #[test]
    fn ids_are_16_lowercase_hex_digits_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.len(), 16);
            assert!(
                id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
        }
        assert_ne!(fallback_random(), fallback_random());
    }

    #[test]
    fn write_names_the_file_and_keeps_it_private() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("state").join("reports");
        let r = clean_report("0123456789abcdef");
        let path = write_in(&dir, &r).expect("write");
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some("0000000001-20260304T050607Z-pip-0123456789abcdef.json")
        );
        let mode = |p: &Path| fs::metadata(p).expect("stat").mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&path), 0o600);
        // No temporary file is left behind.
        let names: Vec<String> = fs::read_dir(&dir)
            .expect("readdir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        // The report, the index and the sequence lock.
        assert_eq!(names.len(), 3, "{names:?}");
        let back = load_in(&dir, "0123456789abcdef").expect("load");
        assert_eq!(
            serde_json::to_value(&back).ok(),
            serde_json::to_value(&r).ok()
        );
    }

    #[test]
    fn hostile_manager_names_and_ids_cannot_leave_the_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut r = clean_report("00000000000000aa");
        r.what.manager = "../../etc/passwd-x".into();
        let path = write_in(tmp.path(), &r).expect("write");
        assert_eq!(path.parent(), Some(tmp.path()));
        assert!(
            path.to_string_lossy()
                .ends_with("Z-_.._.._etc_passwd_x-00000000000000aa.json"),
            "{}",
            path.display()
        );
        r.id = "../x".into();
        assert!(matches!(
            write_in(tmp.path(), &r),
            Err(StoreError::BadId(_))
        ));
        r.id = "ABC".into();
        assert!(matches!(
            write_in(tmp.path(), &r),
            Err(StoreError::BadId(_))
        ));
    }

    #[test]
    fn load_by_prefix_last_and_clear_errors() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        assert!(matches!(
            load_in(dir, "last"),
            Err(StoreError::Empty { .. })
        ));
        let mut a = clean_report("abc0000000000001");
        a.started = "2026-01-01T00:00:00Z".into();
        let mut b = dirty_report("abc0000000000002");
        b.started = "2026-01-02T00:00:00Z".into();
        let mut c = clean_report("def0000000000003");
        c.started = "2025-12-31T00:00:00Z".into();
        for r in [&a, &b, &c] {
            write_in(dir, r).expect("write");
        }
        // The last written, whatever time it claims.
        assert_eq!(load_in(dir, "last").expect("last").id, c.id);
        assert_eq!(load_in(dir, "def").expect("prefix").id, c.id);
        assert_eq!(load_in(dir, "ABC0000000000001").expect("upper").id, a.id);
        match load_in(dir, "abc") {
            Err(e @ StoreError::Ambiguous { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("abc0000000000001") && msg.contains("abc0000000000002"));
                assert!(msg.contains("more digits"), "{msg}");
            }
            other => panic!("expected ambiguity, got {other:?}"),
        }
        for q in ["fff", "", "../etc", "last2"] {
            match load_in(dir, q) {
                Err(e @ StoreError::NotFound { .. }) => {
                    assert!(e.to_string().contains("pkgwarden report list"))
                }
                other => panic!("{q}: expected not found, got {other:?}"),
            }
        }
    }

    #[test]
    fn list_is_oldest_first_filters_and_survives_junk() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        assert!(
            list_in(&dir.join("absent"), None, false)
                .expect("absent")
                .is_empty()
        );
        let mut a = clean_report("0000000000000001");
        a.started = "2026-01-01T10:00:00.900Z".into();
        let mut b = dirty_report("0000000000000002");
        b.started = "2026-01-01T09:00:00Z".into();
        write_in(dir, &a).expect("write a");
        write_in(dir, &b).expect("write b");
        fs::write(
            dir.join("20260101T000000Z-pip-00000000000000ff.json"),
            "{not json",
        )
        .expect("junk");
        fs::write(dir.join("notes.txt"), "hello").expect("junk");

        let all = list_in(dir, None, false).expect("list");
        let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
        // In the order the store wrote them, not by the time they claim.
        assert_eq!(ids, ["0000000000000001", "0000000000000002"]);
        assert_eq!(all[1].findings, 7);
        assert_eq!(all[1].worst, Some(Severity::Critical));
        assert_eq!(all[1].manager, "npm");

        let only = list_in(dir, None, true).expect("findings only");
        assert_eq!(only.len(), 1);
        // Sub-second start times are compared exactly, not by the file name.
        let since = humantime::parse_rfc3339("2026-01-01T10:00:00.500Z").expect("time");
        let recent = list_in(dir, Some(since), false).expect("since");
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].id, "0000000000000001");

        match load_in(dir, "00000000000000ff") {
            Err(e @ StoreError::Corrupt { .. }) => assert!(e.to_string().contains("move it out")),
            other => panic!("expected corrupt, got {other:?}"),
        }
    }

    #[test]
    fn a_forged_report_dated_in_the_future_never_becomes_last() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let mut old = clean_report("00000000000000a1");
        old.started = "2026-01-01T00:00:00Z".into();
        write_in(dir, &old).expect("write");
        // Planted under a name without the store's number (the sandbox
        // cannot write the directory at all; this is what an earlier audit
        // run or another program could leave).
        let mut forged = dirty_report("00000000000000f0");
        forged.started = "2099-12-31T23:59:59Z".into();
        fs::write(
            dir.join("20991231T235959Z-npm-00000000000000f0.json"),
            serde_json::to_vec(&forged).expect("json"),
        )
        .expect("plant");
        assert_eq!(load_in(dir, "last").expect("last").id, old.id);
        let mut new = clean_report("00000000000000b2");
        new.started = "2026-01-02T00:00:00Z".into();
        let path = write_in(dir, &new).expect("write");
        // The store's number follows its own, not the planted file.
        assert!(
            path.to_string_lossy().contains("/0000000002-"),
            "{}",
            path.display()
        );
        assert_eq!(load_in(dir, "last").expect("last").id, new.id);
        let ids: Vec<String> = list_in(dir, None, false)
            .expect("list")
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(
            ids,
            ["00000000000000f0", "00000000000000a1", "00000000000000b2"]
        );
    }

    #[test]
    fn a_rewritten_report_replaces_its_file_and_its_summary() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let mut r = clean_report("00000000000000ab");
        let first = write_in(dir, &r).expect("write");
        assert_eq!(list_in(dir, None, false).expect("list")[0].findings, 0);
        r.findings = dirty_report("00000000000000ab").findings;
        r.started = "not a time".into();
        let second = write_in(dir, &r).expect("rewrite");
        assert_eq!(first, second);
        let all = list_in(dir, None, false).expect("list");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].findings, 7);
    }

    #[test]
    fn a_stale_or_broken_index_is_not_trusted() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let r = clean_report("00000000000000cd");
        let path = write_in(dir, &r).expect("write");
        // Someone edits the report behind the index's back, and a writer
        // died mid-line.
        let mut edited = r.clone();
        edited.findings = dirty_report("00000000000000cd").findings;
        fs::write(&path, serde_json::to_vec(&edited).expect("json")).expect("edit");
        let mut idx = OpenOptions::new()
            .append(true)
            .open(dir.join(INDEX))
            .expect("index");
        idx.write_all(b"{\"file\": \"trunc").expect("append");
        assert_eq!(list_in(dir, None, false).expect("list")[0].findings, 7);
        // The next append starts on a fresh line.
        write_in(dir, &clean_report("00000000000000ce")).expect("write");
        let text = fs::read_to_string(dir.join(INDEX)).expect("index");
        assert!(
            text.lines()
                .last()
                .is_some_and(|l| l.starts_with("{\"file\""))
        );
        assert_eq!(list_in(dir, None, false).expect("list").len(), 2);
    }

    #[test]
    fn sixteen_concurrent_writers_leave_sixteen_reports_and_a_valid_index() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("reports");
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    let mut r = if i % 2 == 0 {
                        clean_report(&new_id())
                    } else {
                        dirty_report(&new_id())
                    };
                    r.started = format!("2026-02-01T00:00:{i:02}Z");
                    write_in(&dir, &r).map(|p| (r.id, p))
                })
            })
            .collect();
        let written: Vec<(String, PathBuf)> = handles
            .into_iter()
            .map(|h| h.join().expect("thread").expect("write"))
            .collect();
        for (id, path) in &written {
            assert_eq!(&read_report(path).expect("valid report").id, id);
        }
        let files = scan(&dir).expect("scan");
        assert_eq!(files.len(), 16);
        let text = fs::read_to_string(dir.join(INDEX)).expect("index");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 16);
        for l in lines {
            serde_json::from_str::<IndexLine>(l).expect("index line parses");
        }
        let all = list_in(&dir, None, false).expect("list");
        assert_eq!(all.len(), 16);
        // Listed in the store's own order (its sequence), whatever the
        // reports claim: every one written, each once.
        let mut listed: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
        let mut ids: Vec<&str> = written.iter().map(|(id, _)| id.as_str()).collect();
        listed.sort();
        ids.sort();
        assert_eq!(listed, ids);
    }

    #[test]
    fn a_newer_format_asks_for_an_upgrade() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut v = serde_json::to_value(clean_report("00000000000000ef")).expect("json");
        v["version"] = serde_json::json!(VERSION + 1);
        let path = tmp
            .path()
            .join("20260101T000000Z-pip-00000000000000ef.json");
        fs::write(&path, v.to_string()).expect("write");
        match load_in(tmp.path(), "00000000000000ef") {
            Err(e @ StoreError::TooNew { .. }) => assert!(e.to_string().contains("upgrade")),
            other => panic!("expected too new, got {other:?}"),
        }
    }

    #[test]
    fn a_report_with_an_event_kind_this_version_does_not_know_still_loads() {
        use crate::model::EventKind;
        let tmp = tempfile::tempdir().expect("tempdir");
        let r = dirty_report("00000000000000ab");
        assert!(!r.network.is_empty() && !r.files.outside.is_empty());
        let mut v = serde_json::to_value(&r).expect("json");
        v["network"][0]["kind"] = serde_json::json!("quantum-tunnel");
        v["files"]["outside"][0]["kind"] = serde_json::json!("teleport");
        let path = tmp
            .path()
            .join("20260101T000000Z-npm-00000000000000ab.json");
        fs::write(&path, v.to_string()).expect("write");
        let back = load_in(tmp.path(), "00000000000000ab").expect("loads");
        assert_eq!(back.network[0].kind, EventKind::Unknown);
        assert_eq!(back.files.outside[0].kind, EventKind::Unknown);
        // Everything else is as written.
        assert_eq!(back.network[0].addr, r.network[0].addr);
        assert_eq!(back.findings.len(), r.findings.len());
        assert_eq!(back.files.secret_reads[0].kind, EventKind::OpenRead);
    }

    #[test]
    fn stamps_parse_back() {
        assert_eq!(
            parse_stamp("20260304T050607Z"),
            humantime::parse_rfc3339("2026-03-04T05:06:07Z").ok()
        );
        for bad in [
            "2026030405060Z",
            "20260304X050607Z",
            "2026é304T05060Z",
            "20261304T050607Z",
        ] {
            assert_eq!(parse_stamp(bad), None, "{bad}");
        }
    }
}
