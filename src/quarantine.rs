//! Block mode's clean-up: what a failed install left in persistence
//! locations moves to `$XDG_STATE_HOME/pkgwarden/quarantine/<report-id>/`,
//! and a file it modified gets its earlier content back.
//! `pkgwarden quarantine restore <id>` undoes it.

use crate::model::report::Quarantined;
use crate::model::{Change, ChangeKind};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Errors of the quarantine.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    /// No state directory.
    #[error("no quarantine directory: set HOME or XDG_STATE_HOME")]
    NoDir,
    /// No quarantine for that report id.
    #[error("no quarantine for report `{0}`; `pkgwarden quarantine list` shows what is held")]
    Unknown(String),
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> QuarantineError {
    let path = path.to_path_buf();
    move |source| QuarantineError::Io { what, path, source }
}

/// The quarantine root.
pub fn root() -> Option<PathBuf> {
    crate::paths::state_dir().map(|d| d.join("quarantine"))
}

/// Moves the files `changes` added or modified into the quarantine of
/// `report_id`, putting back earlier content where the snapshot kept it.
/// Returns what was moved; failures are returned beside it, never hidden.
pub fn isolate(report_id: &str, changes: &[&Change]) -> (Vec<Quarantined>, Vec<String>) {
    let mut done = Vec::new();
    let mut errors = Vec::new();
    if changes.is_empty() {
        return (done, errors);
    }
    let Some(dir) = root().map(|r| r.join(report_id)) else {
        errors.push(QuarantineError::NoDir.to_string());
        return (done, errors);
    };
    if let Err(e) = create_private(&dir) {
        errors.push(e.to_string());
        return (done, errors);
    }
    for (n, c) in changes.iter().enumerate() {
        match isolate_one(&dir, n, c) {
            Ok(Some(q)) => done.push(q),
            Ok(None) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    let manifest = dir.join("manifest.json");
    if let Err(e) = serde_json::to_vec_pretty(&done)
        .map_err(std::io::Error::other)
        .and_then(|b| std::fs::write(&manifest, b))
    {
        errors.push(format!("writing {}: {e}", manifest.display()));
    }
    (done, errors)
}

fn create_private(dir: &Path) -> Result<(), QuarantineError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("creating", dir))
}

fn isolate_one(dir: &Path, n: usize, c: &Change) -> Result<Option<Quarantined>, QuarantineError> {
    let original = PathBuf::from(&c.path);
    let before = c
        .before
        .as_ref()
        .and_then(|b| b.content.clone().map(|data| (data, b.mode)));
    if c.kind == ChangeKind::Removed {
        // A deleted file comes back when its content was kept.
        let Some((data, mode)) = before else {
            return Ok(None);
        };
        put_back(&original, &data, mode)?;
        return Ok(Some(Quarantined {
            original: c.path.clone(),
            stored: String::new(),
            sha256: String::new(),
            restored_previous: true,
        }));
    }
    if std::fs::symlink_metadata(&original).is_err() {
        return Ok(None);
    }
    let name = original
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let stored = dir.join(format!("{n:03}-{name}"));
    let sha256 = crate::detect::hidden::sha256_file(&original).unwrap_or_default();
    move_file(&original, &stored)?;
    // The quarantined copy must not run by accident.
    if let Ok(meta) = std::fs::symlink_metadata(&stored)
        && meta.is_file()
    {
        let _ = std::fs::set_permissions(&stored, std::fs::Permissions::from_mode(0o600));
    }
    let restored_previous = match before {
        Some((data, mode)) if c.kind == ChangeKind::Modified => {
            put_back(&original, &data, mode)?;
            true
        }
        _ => false,
    };
    Ok(Some(Quarantined {
        original: c.path.clone(),
        stored: stored.display().to_string(),
        sha256,
        restored_previous,
    }))
}

/// Renames, or copies and removes across filesystems.
fn move_file(from: &Path, to: &Path) -> Result<(), QuarantineError> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            std::fs::copy(from, to).map_err(io("copying", from))?;
            std::fs::remove_file(from).map_err(io("removing", from))
        }
        Err(e) => Err(QuarantineError::Io {
            what: "moving",
            path: from.to_path_buf(),
            source: e,
        }),
    }
}

/// Writes `data` to `path` atomically with permission bits from `mode`.
fn put_back(path: &Path, data: &[u8], mode: u32) -> Result<(), QuarantineError> {
    let tmp = path.with_file_name(format!(
        ".{}.pkgwarden-restore",
        path.file_name()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, data).map_err(io("writing", &tmp))?;
    let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode & 0o7777));
    std::fs::rename(&tmp, path).map_err(io("restoring", path))
}

/// The quarantines held: report id and items.
pub fn list() -> Result<Vec<(String, Vec<Quarantined>)>, QuarantineError> {
    let root = root().ok_or(QuarantineError::NoDir)?;
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&root) else {
        return Ok(out);
    };
    for e in rd.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if let Ok(items) = manifest(&e.path()) {
            out.push((id, items));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn manifest(dir: &Path) -> Result<Vec<Quarantined>, QuarantineError> {
    let path = dir.join("manifest.json");
    let bytes = std::fs::read(&path).map_err(io("reading", &path))?;
    serde_json::from_slice(&bytes).map_err(|e| QuarantineError::Io {
        what: "parsing",
        path,
        source: std::io::Error::other(e),
    })
}

/// Puts the files of quarantine `id` (a report id or a unique prefix) back
/// where they were; returns the paths restored.
pub fn restore(id: &str) -> Result<Vec<String>, QuarantineError> {
    let held = list()?;
    let matching: Vec<&(String, Vec<Quarantined>)> =
        held.iter().filter(|(k, _)| k.starts_with(id)).collect();
    let [(key, items)] = matching.as_slice() else {
        return Err(QuarantineError::Unknown(id.to_string()));
    };
    let mut back = Vec::new();
    for q in items.iter().filter(|q| !q.stored.is_empty()) {
        let stored = Path::new(&q.stored);
        if !stored.exists() {
            continue;
        }
        move_file(stored, Path::new(&q.original))?;
        back.push(q.original.clone());
    }
    if let Some(r) = root() {
        let dir = r.join(key);
        let _ = std::fs::remove_file(dir.join("manifest.json"));
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(back)
}
