//! Opens on a procfs, made by the supervisor for the install.
//!
//! landlock grants the install no right on a procfs
//! (`FsSpec::through_supervisor`), so the kernel refuses whatever procfs
//! path a process names. The supervisor opens what it allows there, by the
//! path it resolved itself, and hands the descriptor over with the answer
//! (`SECCOMP_IOCTL_NOTIF_ADDFD`). A path another thread rewrites after the
//! supervisor read it (`/etc/hostname` turned into `/proc/<pid>/cmdline`)
//! is then refused by the kernel, not judged as the string that was read.

use crate::sys;
use nix::fcntl::{AtFlags, OFlag, readlinkat};
use nix::sys::stat::{Mode, fstatat};
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path};

/// Files of another process that every user may read without `hidepid`
/// (no ptrace check): what `ps` reads, but `cmdline` ([`judge`]). A member
/// of the install may read these of another member; everything else there
/// is the process's own.
const WORLD_READABLE: &[&str] = &[
    "comm",
    "stat",
    "statm",
    "status",
    "cgroup",
    "oom_score",
    "wchan",
];

/// What an open below a procfs mount may do.
#[derive(Debug, PartialEq, Eq)]
pub struct Allowed {
    /// The last name may be a magic link to an object that has no path (a
    /// pipe, a socket, a namespace: `/dev/stdin` in a script) and is
    /// followed, with the access asked for.
    pub reopen: bool,
}

/// Judges an open of `rel` (the path below the procfs mount, resolved:
/// no `self`, no symlink but the last) by a process of thread group `me`;
/// `group` gives a pid's thread group. Reads of files that name no
/// process, of the caller's own entries and of another member's
/// world-readable ones are allowed; a write only as a reopen of one of the
/// caller's own descriptors; anything else is EACCES (landlock grants no
/// write on a procfs either, so this is what the kernel answered before).
/// Another process's `cmdline` is not one of them: a manager's command
/// line may carry a credential (`pip install --index-url
/// https://user:token@…`) that its package code must not read, whether it
/// is still the reader's ancestor (round 11) or the reader orphaned itself
/// first (round 12); `ps` then shows the others by their names.
pub fn judge(
    rel: &Path,
    me: i32,
    write: bool,
    group: impl Fn(i32) -> Option<i32>,
) -> Result<Allowed, i32> {
    let names: Vec<&OsStr> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let who = names
        .first()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse::<i32>().ok());
    let Some(pid) = who else {
        return if write {
            Err(libc::EACCES)
        } else {
            Ok(Allowed { reopen: false })
        };
    };
    if group(pid).unwrap_or(pid) == me {
        return Ok(Allowed { reopen: true });
    }
    let rest: Vec<&str> = names[1..].iter().filter_map(|n| n.to_str()).collect();
    if rest.len() + 1 != names.len() {
        return Err(libc::EACCES);
    }
    let readable = match rest.as_slice() {
        [] | ["task"] | ["task", _] => true,
        [f] | ["task", _, f] => WORLD_READABLE.contains(f),
        _ => false,
    };
    if readable && !write {
        Ok(Allowed { reopen: false })
    } else {
        Err(libc::EACCES)
    }
}

/// Opens `path` (resolved, on a procfs) with the caller's `flags`: no
/// symlink is followed on the way, and the last name is followed only when
/// it is a magic link to an object that has no path and `how` allows a
/// reopen. `Err` is the errno the caller gets.
pub fn open(path: &Path, flags: i32, how: &Allowed) -> Result<OwnedFd, i32> {
    // procfs judges some files by their opener (`pagemap` shows physical
    // addresses to `CAP_SYS_ADMIN`): opened without what the install lost
    // (round 11: a root install read its page frame numbers).
    sys::without_effective_caps(&crate::sandbox::spawn::INSPECTING_CAPS, || {
        open_as_caller(path, flags, how)
    })
}

/// [`open`], in the supervisor's thread with the install's capabilities.
fn open_as_caller(path: &Path, flags: i32, how: &Allowed) -> Result<OwnedFd, i32> {
    let write = writes(flags);
    // The supervisor's own copy is close-on-exec; the caller's gets what
    // it asked for when handed over. No terminal becomes the supervisor's.
    let ours =
        (OFlag::from_bits_truncate(flags) & !OFlag::O_CLOEXEC) | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(libc::EACCES);
    };
    let dir = super::notify::open_exact_dir(parent)?;
    let st = fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| e as i32)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        if write {
            return Err(libc::EACCES);
        }
        return nix::fcntl::openat(&dir, name, ours | OFlag::O_NOFOLLOW, Mode::empty())
            .map_err(|e| e as i32);
    }
    // A link that names a path was followed by the resolution; one here is
    // a swap since (or no reopen of the caller's own): refused.
    let names_object = |t: &OsStr| {
        let t = t.as_encoded_bytes();
        !t.starts_with(b"/") && t.contains(&b':')
    };
    let target = readlinkat(&dir, name).map_err(|e| e as i32)?;
    if !how.reopen || !names_object(&target) {
        return Err(libc::EACCES);
    }
    // The caller may swap its descriptor after the read of the link: the
    // object is pinned first (`O_PATH` opens nothing: no truncation, no
    // FIFO wait), checked, and only that object is opened with the
    // caller's flags (round 11: a file swapped in was truncated here).
    let pinned = nix::fcntl::openat(&dir, name, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| e as i32)?;
    let own = format!("/proc/self/fd/{}", pinned.as_raw_fd());
    let now = std::fs::read_link(&own).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    if !names_object(now.as_os_str()) {
        return Err(libc::EACCES);
    }
    nix::fcntl::open(own.as_str(), ours, Mode::empty()).map_err(|e| e as i32)
}

/// True when an open with `flags` writes a procfs file. `O_CREAT` alone
/// does not: procfs makes no file, and an existing one opens as asked (the
/// kernel let `open(…, O_RDONLY|O_CREAT)` of `/proc/self/status` through).
pub fn writes(flags: i32) -> bool {
    flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0
}

/// How the call is answered after the descriptor was made.
#[derive(Debug, PartialEq, Eq)]
pub enum Handed {
    /// Installed and answered in one step.
    Answered,
    /// Installed as this number; the answer is still to be sent (a kernel
    /// before 5.14 has no `SECCOMP_ADDFD_FLAG_SEND`).
    Installed(i32),
    /// Not installed: the call fails with this errno.
    Failed(i32),
}

/// Installs `fd` in the table of the process behind notification `id`, with
/// `O_CLOEXEC` when `cloexec`, and answers the call with its number.
pub fn hand_over(listener: &OwnedFd, id: u64, fd: &OwnedFd, cloexec: bool) -> Handed {
    let errno = |e: std::io::Error| e.raw_os_error().unwrap_or(libc::EIO);
    match sys::notif_addfd(listener, id, fd, cloexec, true) {
        Ok(_) => Handed::Answered,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            match sys::notif_addfd(listener, id, fd, cloexec, false) {
                Ok(n) => Handed::Installed(n),
                Err(e) => Handed::Failed(errno(e)),
            }
        }
        Err(e) => Handed::Failed(errno(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(rel: &str, write: bool) -> Result<Allowed, i32> {
        // Thread group 100 is the caller's (101 one of its threads); 200
        // another member's.
        judge(Path::new(rel), 100, write, |p| match p {
            101 => Some(100),
            p => Some(p),
        })
    }

    #[test]
    fn the_callers_own_entries_are_its_own() {
        assert_eq!(j("100/maps", false), Ok(Allowed { reopen: true }));
        assert_eq!(j("101/status", false), Ok(Allowed { reopen: true }));
        assert_eq!(j("100/fd/1", true), Ok(Allowed { reopen: true }));
    }

    #[test]
    fn another_process_shows_only_what_ps_reads() {
        for ok in ["200", "200/stat", "200/task", "200/task/201/status"] {
            assert_eq!(j(ok, false), Ok(Allowed { reopen: false }), "{ok}");
        }
        for no in [
            "200/environ",
            "200/mem",
            "200/maps",
            "200/fd",
            "200/fd/3",
            "200/root",
            "200/task/201/environ",
            "200/cmdline/x",
        ] {
            assert_eq!(j(no, false), Err(libc::EACCES), "{no}");
        }
        assert_eq!(j("200/cmdline", true), Err(libc::EACCES));
        // What ps reads, but a command line (it may carry a credential).
        assert_eq!(j("200/cmdline", false), Err(libc::EACCES));
        assert_eq!(j("200/task/201/cmdline", false), Err(libc::EACCES));
    }

    #[test]
    fn files_of_no_process_are_read_only() {
        assert_eq!(j("meminfo", false), Ok(Allowed { reopen: false }));
        assert_eq!(j("", false), Ok(Allowed { reopen: false }));
        assert_eq!(
            j("sys/vm/overcommit_memory", false),
            Ok(Allowed { reopen: false })
        );
        assert_eq!(j("sys/kernel/core_pattern", true), Err(libc::EACCES));
    }

    #[test]
    fn a_reopen_follows_only_links_to_objects_without_a_path() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        let me = std::process::id();
        let pipe = format!("/proc/{me}/fd/{}", r.as_raw_fd());
        let own = Allowed { reopen: true };
        assert!(open(Path::new(&pipe), libc::O_RDONLY, &own).is_ok());
        assert_eq!(
            open(Path::new(&pipe), libc::O_RDONLY, &Allowed { reopen: false }).err(),
            Some(libc::EACCES)
        );
        // A descriptor of a file: its link names a path.
        let f = std::fs::File::open("/etc/hostname").unwrap();
        let file = format!("/proc/{me}/fd/{}", f.as_raw_fd());
        assert_eq!(
            open(Path::new(&file), libc::O_RDONLY, &own).err(),
            Some(libc::EACCES)
        );
        // A plain procfs file: read yes, write no; a link on the way: no.
        let status = format!("/proc/{me}/status");
        assert!(open(Path::new(&status), libc::O_RDONLY, &own).is_ok());
        assert_eq!(
            open(Path::new(&status), libc::O_WRONLY, &own).err(),
            Some(libc::EACCES)
        );
        // `O_CREAT` on a file that exists opens it, as the kernel did.
        assert!(open(Path::new(&status), libc::O_RDONLY | libc::O_CREAT, &own).is_ok());
        assert!(open(Path::new("/proc/self/status"), libc::O_RDONLY, &own).is_err());
    }
}
