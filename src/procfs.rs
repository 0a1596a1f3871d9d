//! Small readers of /proc shared by the shim (which must stay below the
//! monitor) and the monitor's process views.

use serde::Serialize;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Device and inode of a file, following symlinks.
pub fn file_id(path: &Path) -> Option<(u64, u64)> {
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Device and inode of the running pkgwarden binary.
pub fn self_id() -> Option<(u64, u64)> {
    file_id(Path::new("/proc/self/exe"))
}

/// The names of pkgwarden's two executables: the full one, and the small
/// shim executable that the shims link to ([`crate::shim::SHIM_BIN`]).
pub const BINARIES: [&str; 2] = ["pkgwarden", "pkgwarden-shim"];

/// True when `path` is this pkgwarden: the running binary, or its sibling
/// executable (`pkgwarden` beside `pkgwarden-shim`, and back). A shim that
/// looked for the real manager and found the other binary would hand the
/// command back and forth forever.
pub fn is_self(path: &Path) -> bool {
    static IDS: std::sync::OnceLock<Vec<(u64, u64)>> = std::sync::OnceLock::new();
    let ids = IDS.get_or_init(|| {
        let exe = fs::read_link("/proc/self/exe").ok();
        let dir = exe.as_deref().and_then(Path::parent);
        let siblings = BINARIES
            .iter()
            .filter_map(|n| dir.and_then(|d| file_id(&d.join(n))));
        self_id().into_iter().chain(siblings).collect()
    });
    !ids.is_empty() && file_id(path).is_some_and(|id| ids.contains(&id))
}

/// True when `pid` is one of our parents and runs the same binary as we do:
/// the proof that an environment marker naming it was set by a pkgwarden
/// supervisor that is still watching us, not copied from elsewhere.
pub fn is_supervising_ancestor(pid: i32) -> bool {
    // The walk reads only the entries of processes below `pid`: inside the
    // sandbox the supervisor's own are refused (and reported), so there the
    // filter this process inherited stands for it; outside, its executable.
    let mut cur = std::process::id() as i32;
    for _ in 0..64 {
        let Some((_, ppid)) = stat(cur) else {
            return false;
        };
        if ppid == pid {
            return under_seccomp_filter()
                || self_id()
                    .is_some_and(|me| file_id(Path::new(&format!("/proc/{pid}/exe"))) == Some(me));
        }
        if ppid <= 1 {
            return false;
        }
        cur = ppid;
    }
    false
}

/// True when this process runs under a seccomp filter (`Seccomp: 2`).
fn under_seccomp_filter() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.strip_prefix("Seccomp:").is_some_and(|v| v.trim() == "2"))
    })
}

/// Reads `/proc/<pid>/stat` for the command name and the parent pid.
pub fn stat(pid: i32) -> Option<(String, i32)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm is in parentheses and may itself hold spaces or parentheses: the
    // fields after it start at the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, ppid))
}
/// When `pid` started, in clock ticks since boot (`/proc/<pid>/stat` field
/// 22): with the pid, it names one process even after the pid is reused.
pub fn start_time(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = text.rfind(')')?;
    // Fields after comm start at the 3rd (state); starttime is the 22nd.
    text.get(close + 1..)?
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// This process's peak resident set size, in KiB.
pub fn max_rss_kb() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// One process of the parent chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Proc {
    /// Process id.
    pub pid: i32,
    /// Parent process id.
    pub ppid: i32,
    /// Short name (`comm`).
    pub comm: String,
    /// Executable, when readable.
    pub exe: Option<PathBuf>,
}

/// The parents of the current process, nearest first, up to (not including) pid 0.
pub fn ancestors() -> Vec<Proc> {
    let mut out = Vec::new();
    let mut pid = std::os::unix::process::parent_id() as i32;
    while pid > 0 && out.len() < 128 {
        let Some((comm, ppid)) = stat(pid) else { break };
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
        out.push(Proc {
            pid,
            ppid,
            comm,
            exe,
        });
        pid = ppid;
    }
    out
}

/// Where a procfs is mounted (`/proc`, and any other mount of one), from
/// `/proc/self/mountinfo`: what the sandbox reads there goes through the
/// supervisor. `/proc` when the table cannot be read.
pub fn procfs_mounts() -> Vec<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = parse_procfs_mounts(&text);
    if out.is_empty() {
        out.push("/proc".into());
    }
    out
}

/// The mount points of type `proc` in a mountinfo table (octal escapes
/// such as `\040` decoded).
fn parse_procfs_mounts(text: &str) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((head, tail)) = line.split_once(" - ") else {
            continue;
        };
        if tail.split_whitespace().next() != Some("proc") {
            continue;
        }
        let Some(point) = head.split_whitespace().nth(4) else {
            continue;
        };
        let b = point.as_bytes();
        let mut bytes = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let oct = b.get(i + 1..i + 4).and_then(|d| {
                std::str::from_utf8(d)
                    .ok()
                    .and_then(|d| u8::from_str_radix(d, 8).ok())
            });
            match (b[i], oct) {
                (b'\\', Some(v)) => {
                    bytes.push(v);
                    i += 4;
                }
                (c, _) => {
                    bytes.push(c);
                    i += 1;
                }
            }
        }
        let p = PathBuf::from(std::ffi::OsString::from_vec(bytes));
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod mount_tests {
    use super::*;

    #[test]
    fn procfs_mount_points_are_read_from_mountinfo() {
        let text = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
                    23 1 0:22 / /sys rw - sysfs sysfs rw\n\
                    90 22 0:21 / /run/a\\040b/proc rw shared:1 - proc proc rw\n";
        let got = parse_procfs_mounts(text);
        assert_eq!(
            got,
            vec![PathBuf::from("/proc"), PathBuf::from("/run/a b/proc")]
        );
        assert!(procfs_mounts().contains(&PathBuf::from("/proc")));
    }
}
