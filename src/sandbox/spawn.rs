//! Starting the real manager inside the sandbox, and handing the seccomp
//! listener to the supervisor.
//!
//! Before `fork` the supervisor has built everything: the landlock ruleset
//! (an open descriptor), the BPF program, two pipes. Between `fork` and
//! `execve` the child only makes system calls, in this order:
//! `PR_CAPBSET_DROP` of root's capabilities no install needs, `PR_SET_NO_NEW_PRIVS`, `landlock_restrict_self`, `seccomp(NEW_LISTENER)`,
//! a write of its pid and listener number, a read of the supervisor's ack,
//! `close(listener)`. The supervisor takes the listener with `pidfd_getfd`
//! (passing it over a socket would deadlock: `sendmsg` is itself trapped), so
//! the child's own `execve`, trapped like every other, is answered.

use super::bpf::Program;
use crate::sys;
use nix::fcntl::OFlag;
use nix::sys::prctl;
use nix::unistd;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::thread::JoinHandle;

/// What the child needs, prepared before `fork`.
pub struct Prepared {
    /// The landlock ruleset to restrict to, when the kernel has landlock.
    pub landlock: Option<OwnedFd>,
    /// The seccomp program.
    pub program: Program,
}

/// Capabilities an install run as root never needs, and that landlock and
/// the seccomp filter do not stand in for: raw and admin network access
/// (packet sockets, routes, firewall), device nodes (`mknod` of a disk in
/// the private TMPDIR), file capabilities (`security.capability` xattrs: a
/// persistent privilege on any binary), immutable flags, handle-based
/// opens, other processes' IPC, ptrace, the clock, modules, audit, BPF.
/// Kept: what installing as root uses (chown, DAC override, fowner, fsetid,
/// setuid and setgid for npm's switch to the project owner, kill, nice,
/// resource limits, IPC lock).
const DROPPED_CAPS: &[u32] = &[
    2,  // CAP_DAC_READ_SEARCH
    8,  // CAP_SETPCAP
    9,  // CAP_LINUX_IMMUTABLE
    10, // CAP_NET_BIND_SERVICE
    11, // CAP_NET_BROADCAST
    12, // CAP_NET_ADMIN
    13, // CAP_NET_RAW
    15, // CAP_IPC_OWNER
    16, // CAP_SYS_MODULE
    17, // CAP_SYS_RAWIO
    18, // CAP_SYS_CHROOT
    19, // CAP_SYS_PTRACE
    20, // CAP_SYS_PACCT
    21, // CAP_SYS_ADMIN
    22, // CAP_SYS_BOOT
    25, // CAP_SYS_TIME
    26, // CAP_SYS_TTY_CONFIG
    27, // CAP_MKNOD
    28, // CAP_LEASE
    29, // CAP_AUDIT_WRITE
    30, // CAP_AUDIT_CONTROL
    31, // CAP_SETFCAP
    32, // CAP_MAC_OVERRIDE
    33, // CAP_MAC_ADMIN
    34, // CAP_SYSLOG
    35, // CAP_WAKE_ALARM
    36, // CAP_BLOCK_SUSPEND
    37, // CAP_AUDIT_READ
    38, // CAP_PERFMON
    39, // CAP_BPF
    40, // CAP_CHECKPOINT_RESTORE
];

/// Takes descriptor `fd` of process `pid`.
pub fn take_fd(pid: i32, fd: i32) -> io::Result<OwnedFd> {
    let pidfd = sys::pidfd_open(pid).or_else(|err| {
        // A notification names the thread; pidfd_open takes only a thread
        // group leader (a tokio worker's connect, as in uv), and the
        // threads share one descriptor table.
        match thread_group(pid) {
            Some(tgid) if tgid != pid => sys::pidfd_open(tgid),
            _ => Err(err),
        }
    })?;
    sys::pidfd_getfd(&pidfd, fd)
}

/// The thread group (process) of thread `tid`, from `/proc`.
fn thread_group(tid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Makes this process's memory and its `/proc/<pid>/` entries that the
/// kernel guards with a ptrace check (`environ`, `mem`, `maps`, `fd/`,
/// `root`, `cwd`, `exe` …) unreachable from the sandboxes it starts: an
/// undumpable process can be inspected only with the capabilities that
/// [`child_without_ptrace`] takes from the sandboxed processes (root's
/// included). Landlock's own ptrace scoping did not stop root's reads here
/// (6.18); unprivileged, either check suffices. The supervisor's own check of such opens is a check on a
/// resolved path, which a swapped symlink can race; this is the kernel's.
pub fn guard_self() {
    let _ = prctl::set_dumpable(false);
}

/// Undoes [`guard_self`] before a manager runs unsandboxed (nothing to
/// guard against; its shims find pkgwarden as their parent through
/// `/proc/<pid>/exe`, which an undumpable process closes).
pub fn unguard_self() {
    let _ = prctl::set_dumpable(true);
}

/// The capabilities that open another process's memory and ptrace-checked
/// `/proc` entries: `CAP_SYS_PTRACE`, and (measured on 6.18, as root: either
/// one alone reads an undumpable process's `environ` and `maps`)
/// `CAP_SYS_ADMIN` and `CAP_PERFMON`. An install needs none of them.
pub const INSPECTING_CAPS: [u32; 3] = [19, 21, 38];

/// Between fork and execve: the child is dumpable again (it inherited the
/// supervisor's flag; the supervisor must read its memory and take its
/// listener) and holds none of [`INSPECTING_CAPS`] now or after any execve
/// (bounding, ambient, inheritable, permitted and effective sets). Without
/// `CAP_SETPCAP` (unprivileged) there is nothing to drop. Allocates
/// nothing; errors are ignored (a capability not held is already dropped).
/// Call only in a `pre_exec` closure.
pub fn child_without_ptrace() {
    let _ = prctl::set_dumpable(true);
    for cap in INSPECTING_CAPS {
        let _ = sys::capbset_drop(cap);
    }
    let _ = sys::clear_ambient_caps();
    let _ = sys::drop_caps(&INSPECTING_CAPS);
}

/// Spawns `cmd` sandboxed. `supervise` runs on its own thread with the
/// listener as soon as the child hands it over (before the child's
/// `execve`, which it must answer); its result is returned by the handle.
pub fn spawn<R, F>(
    cmd: &mut Command,
    prep: Prepared,
    supervise: F,
) -> io::Result<(Child, JoinHandle<Option<R>>)>
where
    F: FnOnce(OwnedFd) -> R + Send + 'static,
    R: Send + 'static,
{
    guard_self();
    let (hs_r, hs_w) = unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (ack_r, ack_w) = unistd::pipe2(OFlag::O_CLOEXEC)?;
    let handle = std::thread::spawn(move || {
        let mut hs = std::fs::File::from(hs_r);
        let mut buf = [0u8; 8];
        // EOF: the child failed before it installed the filter.
        hs.read_exact(&mut buf).ok()?;
        let pid = i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let fd = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let listener = take_fd(pid, fd).ok()?;
        set_sync_wakeup(&listener);
        let mut ack = std::fs::File::from(ack_w);
        ack.write_all(&[1]).ok()?;
        drop(ack);
        Some(supervise(listener))
    });

    let Prepared { landlock, program } = prep;
    let ll_fd: RawFd = landlock.as_ref().map_or(-1, |f| f.as_raw_fd());
    // The child's ends are used by number: the parent closes its copies
    // right after the fork (below), while the closure lives on in `cmd`.
    let (hs_w_fd, ack_r_fd) = (hs_w.as_raw_fd(), ack_r.as_raw_fd());
    // SAFETY: the closure runs in the child between fork and execve. It
    // allocates nothing and makes only async-signal-safe system calls
    // (nix's and crate::sys's thin wrappers) on values prepared above (the
    // program is the child's copy of the closure's own); the two pipe ends
    // it borrows by number are open in the child until its execve.
    unsafe {
        cmd.pre_exec(move || {
            child_without_ptrace();
            // Root's capabilities no install needs leave the bounding set,
            // so the manager does not get them back at its execve. Without
            // CAP_SETPCAP (any other user) there is nothing to drop and
            // the call fails harmlessly.
            for cap in DROPPED_CAPS {
                let _ = sys::capbset_drop(*cap);
            }
            prctl::set_no_new_privs()?;
            if ll_fd >= 0 {
                sys::landlock_restrict_self(ll_fd)?;
            }
            let listener = sys::seccomp_install_listener(&program.0)?;
            let pid = unistd::getpid().as_raw().to_ne_bytes();
            let fd = listener.as_raw_fd().to_ne_bytes();
            let msg = [pid[0], pid[1], pid[2], pid[3], fd[0], fd[1], fd[2], fd[3]];
            let (hs_w, ack_r) = (
                BorrowedFd::borrow_raw(hs_w_fd),
                BorrowedFd::borrow_raw(ack_r_fd),
            );
            if unistd::write(hs_w, &msg)? != 8 {
                return Err(io::Error::last_os_error());
            }
            let mut b = [0u8; 1];
            if unistd::read(ack_r, &mut b) != Ok(1) {
                return Err(io::Error::from_raw_os_error(libc::EPIPE));
            }
            // The sandboxed program must never hold its own listener.
            drop(listener);
            Ok(())
        });
    }
    let child = cmd.spawn();
    // The child has its copies; ours go, so the supervisor sees EOF if the
    // child died before the hand-over.
    drop(hs_w);
    drop(ack_r);
    drop(landlock);
    let child = child?;
    Ok((child, handle))
}

/// Asks the kernel to wake the supervisor on the same CPU (much cheaper round
/// trips); older kernels refuse, which only costs speed.
pub fn set_sync_wakeup(listener: &OwnedFd) -> bool {
    sys::notif_sync_wakeup(listener)
}
