//! Changes to the watched persistence files.

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
    /// Inode number: a rename-into-place gives the path a new inode even when
    /// size and mtime were made to match.
    #[serde(default)]
    pub ino: u64,
    /// Status-change time, nanoseconds since the epoch. Unlike mtime, a
    /// process cannot set it back, so an in-place rewrite that restores the
    /// old mtime still shows.
    #[serde(default)]
    pub ctime_ns: i128,
    /// Owner: a chown is a change like a new mode.
    #[serde(default)]
    pub uid: u32,
    /// Group.
    #[serde(default)]
    pub gid: u32,
    /// Where a symlink points (lossy UTF-8); `None` for anything else.
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

/// How a watched file changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// It did not exist before.
    Added,
    /// Its content, mode (type or permissions), inode (replaced, e.g.
    /// renamed into place) or symlink target changed. A new mtime over the
    /// same content is not a change.
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
/// All watched files at one moment.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Path → entry.
    pub entries: BTreeMap<PathBuf, Entry>,
    /// Microseconds the snapshot took.
    pub took_us: u64,
    /// Where a walk bound stopped the snapshot short (one line each), so a
    /// report can say what was not fully watched.
    pub incomplete: Vec<String>,
}

/// One of pkgwarden's own files that an install changed past the
/// supervisor (a race), put back from the copy taken before the install.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restored {
    /// The file.
    pub path: PathBuf,
    /// How it had changed ("its content changed", "removed" …).
    pub what: String,
    /// Why it could not be put back, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
