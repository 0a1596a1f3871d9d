//! Before/after snapshot of the persistence locations: ground truth that a
//! race on syscall arguments cannot fake.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One file as seen by a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// `st_mode` (type and permission bits).
    pub mode: u32,
    /// Inode number (a rename onto the path changes it).
    #[serde(default)]
    pub ino: u64,
    /// Where a symlink points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// SHA-256 of the content, when it was hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The content itself, kept before the install for small files so a
    /// change can be shown line by line and undone. Never serialised.
    #[serde(skip)]
    pub content: Option<Vec<u8>>,
}

/// All watched files at one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Path → entry.
    pub entries: BTreeMap<PathBuf, Entry>,
    /// Microseconds the snapshot took.
    pub took_us: u64,
}

/// How a watched file changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// It did not exist before.
    Added,
    /// Its size, mtime, mode or content changed.
    Modified,
    /// It existed before and is gone.
    Removed,
}

/// One changed persistence file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Absolute path.
    pub path: String,
    /// Added, modified or removed.
    pub kind: ChangeKind,
    /// Before the install.
    pub before: Option<Entry>,
    /// After the install.
    pub after: Option<Entry>,
    /// Lines of the new content that the old content did not have (1-based
    /// line number, text), for text files; capped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_lines: Vec<(u32, String)>,
}

// Placeholder until the snapshot implementation lands (same signatures).
/// What to watch for one install.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// PATH directories ahead of `/usr/bin`.
    pub path_dirs: Vec<PathBuf>,
}

impl Scope {
    /// The scope of one install.
    pub fn new(
        home: Option<PathBuf>,
        _cwd: PathBuf,
        _patterns: &[String],
        _site_dirs: Vec<PathBuf>,
        _path_var: Option<&std::ffi::OsStr>,
    ) -> Scope {
        Scope {
            home,
            path_dirs: Vec::new(),
        }
    }
}

/// Stats every watched file.
pub fn take(_scope: &Scope) -> Snapshot {
    Snapshot::default()
}

/// Compares two snapshots.
pub fn diff(_before: &Snapshot, _after: &Snapshot) -> Vec<Change> {
    Vec::new()
}
