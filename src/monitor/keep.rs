//! pkgwarden's own files inside an install's file rights
//! ([`FsSpec::supervised`]: a project's `.pkgwarden.toml` beside the
//! lockfile pnpm writes through a temporary file). Landlock cannot keep one
//! file out of a directory's rights, and DESIGN principle 3 rules out a
//! read-only bind mount, so two things keep them instead:
//!
//! - the supervisor refuses (EPERM) every change it sees to them: a write
//!   open, a truncate, a rename onto or away, an unlink, a link ([`Guard`]),
//!   judged by resolved path and by inode;
//! - their copy taken before the install is ground truth: a change that
//!   raced past the supervisor (a link swapped between its check and the
//!   kernel's use of the path) is undone after the install
//!   ([`Kept::restore`]) and reported as `tamper.pkgwarden`.
//!
//! [`FsSpec::supervised`]: crate::sandbox::landlock::FsSpec::supervised

pub use crate::model::change::Restored;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Largest file kept (a policy file is a few lines).
const KEEP_MAX: u64 = 1 << 20;

/// What the supervisor refuses changes to: the kept names, the inodes of
/// the files they are (a hard link or a `/proc/<pid>/fd` name of one is
/// the same file), and file names refused anywhere (a project's policy
/// file, wherever it is: one planted, changed or removed in another
/// directory changes the policy of the installs run there).
#[derive(Clone, Debug, Default)]
pub struct Guard {
    paths: Vec<PathBuf>,
    ids: Vec<(u64, u64)>,
    names: Vec<std::ffi::OsString>,
}

impl Guard {
    /// The guard of `paths`, their inodes as they are now.
    pub fn of(paths: &[PathBuf]) -> Guard {
        let ids = paths
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .filter(|m| m.is_file())
            .map(|m| (m.dev(), m.ino()))
            .collect();
        Guard {
            paths: paths.to_vec(),
            ids,
            names: Vec::new(),
        }
    }

    /// The guard also refuses every file called one of `names`, anywhere.
    pub fn with_names(mut self, names: &[&str]) -> Guard {
        self.names
            .extend(names.iter().map(std::ffi::OsString::from));
        self
    }

    /// True when there is nothing to guard.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.names.is_empty()
    }

    /// True when changing `path` (resolved) changes a kept file: it is one
    /// by name (its path, or its file name anywhere), or by inode (what it
    /// leads to when `follow`, else the name itself).
    pub fn touches(&self, path: &str, follow: bool) -> bool {
        let p = Path::new(path);
        if self.paths.iter().any(|k| k == p) || self.named(p) {
            return true;
        }
        // The name a link leads to (a link `x` to `proj/.pkgwarden.toml`
        // opened for writing); resolved by path, so a race may pass it.
        if follow && p.is_absolute() && fs::canonicalize(p).is_ok_and(|r| self.named(&r)) {
            return true;
        }
        // A directory moved away takes the policy file in it along (the
        // project left without one); only the file right inside is looked
        // for, a deeper one is the copy's and the snapshot's.
        if !follow
            && fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
            && self
                .names
                .iter()
                .any(|n| fs::symlink_metadata(p.join(n)).is_ok())
        {
            return true;
        }
        let meta = match follow {
            true => fs::metadata(p),
            false => fs::symlink_metadata(p),
        };
        meta.is_ok_and(|m| m.is_file() && self.ids.contains(&(m.dev(), m.ino())))
    }
}

impl Guard {
    /// True when `p`'s last component is a name refused anywhere.
    fn named(&self, p: &Path) -> bool {
        p.file_name()
            .is_some_and(|n| self.names.iter().any(|k| k == n))
    }
}

/// One kept file as it was before the install.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// A regular file: its bytes, permission bits and owner.
    File {
        bytes: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// A symbolic link and where it points.
    Link(PathBuf),
    /// Anything else, or a file too large to keep: compared by nothing.
    Other,
}

impl State {
    /// What `path` is now; `None` when nothing is there.
    fn of(path: &Path) -> Option<State> {
        let meta = fs::symlink_metadata(path).ok()?;
        if meta.file_type().is_symlink() {
            return Some(State::Link(fs::read_link(path).ok()?));
        }
        if !meta.is_file() || meta.len() > KEEP_MAX {
            return Some(State::Other);
        }
        // No link is followed and no FIFO opened: the name was a regular
        // file an instant ago, O_NOFOLLOW|O_NONBLOCK make sure of it.
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .ok()?;
        let meta = f.metadata().ok()?;
        if !meta.is_file() {
            return Some(State::Other);
        }
        let mut bytes = Vec::new();
        f.take(KEEP_MAX + 1).read_to_end(&mut bytes).ok()?;
        if bytes.len() as u64 > KEEP_MAX {
            return Some(State::Other);
        }
        Some(State::File {
            bytes,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        })
    }

    /// How `now` differs from this state, in a few words.
    fn change(&self, now: Option<&State>) -> Option<&'static str> {
        match (self, now) {
            (_, None) => Some("removed"),
            (State::Other, _) => None,
            (a, Some(b)) if a == b => None,
            (_, Some(State::Link(_))) => Some("replaced by a symbolic link"),
            (State::File { bytes, .. }, Some(State::File { bytes: now, .. })) if bytes == now => {
                Some("its mode or owner changed")
            }
            (State::File { .. }, Some(State::File { .. })) => Some("its content changed"),
            _ => Some("replaced"),
        }
    }
}

/// The kept files' copies, taken before the install.
#[derive(Clone, Debug, Default)]
pub struct Kept {
    files: Vec<(PathBuf, State)>,
}

/// Copies `paths` as they are now (those that exist).
pub fn take(paths: &[PathBuf]) -> Kept {
    Kept {
        files: paths
            .iter()
            .filter_map(|p| Some((p.clone(), State::of(p)?)))
            .collect(),
    }
}

impl Kept {
    /// Puts back every kept file that is not as it was: the copy is
    /// written beside it and renamed over whatever is there now (a link
    /// planted in its place is replaced, never followed). Call it once no
    /// sandboxed process can act any more.
    pub fn restore(&self) -> Vec<Restored> {
        let mut out = Vec::new();
        for (path, kept) in &self.files {
            let Some(what) = kept.change(State::of(path).as_ref()) else {
                continue;
            };
            let error = put_back(path, kept).err().map(|e| e.to_string());
            out.push(Restored {
                path: path.clone(),
                what: what.to_string(),
                error,
            });
        }
        out
    }
}

/// `changes` without those of files put back: they are as they were
/// (their finding says what happened), and nothing may take them into
/// quarantine, which would move pkgwarden's own policy away.
pub fn unrestored(
    changes: Vec<crate::model::Change>,
    restored: &[Restored],
) -> Vec<crate::model::Change> {
    changes
        .into_iter()
        .filter(|c| !restored.iter().any(|r| r.path == Path::new(&c.path)))
        .collect()
}

/// Writes `kept` at `path` through a new file beside it.
fn put_back(path: &Path, kept: &State) -> std::io::Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(std::io::Error::other("no parent directory"));
    };
    let tmp = dir.join(format!(".{}.pkgwarden-restore", name.to_string_lossy()));
    // Whatever an install left under that name goes (never followed).
    let _ = fs::remove_file(&tmp);
    match kept {
        State::File {
            bytes,
            mode,
            uid,
            gid,
        } => {
            // create_new: O_EXCL, so a link planted meanwhile is not followed.
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(bytes)?;
            // The owner as it was (root restoring a user's file); a user
            // cannot give a file away and does not need to.
            let meta = f.metadata()?;
            if (meta.uid(), meta.gid()) != (*uid, *gid) {
                let _ = std::os::unix::fs::fchown(&f, Some(*uid), Some(*gid));
            }
            f.set_permissions(fs::Permissions::from_mode(*mode))?;
            f.sync_all()?;
        }
        State::Link(target) => std::os::unix::fs::symlink(target, &tmp)?,
        State::Other => return Ok(()),
    }
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_replaced_or_removed_file_is_put_back() {
        let t = tempfile::tempdir().unwrap();
        let policy = t.path().join(".pkgwarden.toml");
        let other = t.path().join("bashrc");
        fs::write(&policy, "mode = \"block\"\n").unwrap();
        fs::set_permissions(&policy, fs::Permissions::from_mode(0o640)).unwrap();
        fs::write(&other, "# rc\n").unwrap();
        let kept = take(std::slice::from_ref(&policy));
        assert!(kept.restore().is_empty(), "nothing changed, nothing done");

        // Rewritten in place.
        fs::write(&policy, "mode = \"audit\"\n").unwrap();
        let r = kept.restore();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].what.as_str(), r[0].error.as_deref()),
            ("its content changed", None)
        );
        assert_eq!(fs::read_to_string(&policy).unwrap(), "mode = \"block\"\n");
        let mode = fs::metadata(&policy).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o640);

        // Replaced by a link to another file: the link goes, its target
        // stays as it was.
        fs::remove_file(&policy).unwrap();
        std::os::unix::fs::symlink(&other, &policy).unwrap();
        assert_eq!(kept.restore()[0].what, "replaced by a symbolic link");
        assert!(!fs::symlink_metadata(&policy).unwrap().is_symlink());
        assert_eq!(fs::read_to_string(&policy).unwrap(), "mode = \"block\"\n");
        assert_eq!(fs::read_to_string(&other).unwrap(), "# rc\n");

        // Removed.
        fs::remove_file(&policy).unwrap();
        assert_eq!(kept.restore()[0].what, "removed");
        assert_eq!(fs::read_to_string(&policy).unwrap(), "mode = \"block\"\n");

        // Only the mode.
        fs::set_permissions(&policy, fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(kept.restore()[0].what, "its mode or owner changed");
        assert_eq!(fs::metadata(&policy).unwrap().mode() & 0o7777, 0o640);
        assert!(!t.path().join("..pkgwarden.toml.pkgwarden-restore").exists());
    }

    #[test]
    fn changes_of_files_put_back_are_dropped() {
        let change = |p: &str| crate::model::Change {
            path: p.into(),
            kind: crate::model::ChangeKind::Modified,
            before: None,
            after: None,
            added_lines: Vec::new(),
        };
        let restored = vec![Restored {
            path: PathBuf::from("/p/.pkgwarden.toml"),
            what: "removed".into(),
            error: None,
        }];
        let left = unrestored(
            vec![change("/p/.pkgwarden.toml"), change("/h/.bashrc")],
            &restored,
        );
        assert_eq!(left, vec![change("/h/.bashrc")]);
    }

    #[test]
    fn the_guard_knows_a_kept_file_by_name_and_by_inode() {
        let t = tempfile::tempdir().unwrap();
        let policy = t.path().join(".pkgwarden.toml");
        fs::write(&policy, "").unwrap();
        fs::write(t.path().join("lock"), "").unwrap();
        let hard = t.path().join("hard");
        fs::hard_link(&policy, &hard).unwrap();
        let soft = t.path().join("soft");
        std::os::unix::fs::symlink(&policy, &soft).unwrap();
        let g = Guard::of(std::slice::from_ref(&policy));
        let s = |p: &Path| p.to_str().unwrap().to_string();
        assert!(g.touches(&s(&policy), false));
        assert!(g.touches(&s(&hard), false));
        assert!(g.touches(&s(&soft), true), "written through the link");
        assert!(
            !g.touches(&s(&soft), false),
            "the link itself is another file"
        );
        assert!(!g.touches(&s(&t.path().join("lock")), true));
        assert!(!g.touches(&s(&t.path().join("missing")), true));
        assert!(Guard::default().is_empty());
    }
}
