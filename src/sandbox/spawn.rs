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
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
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
const DROPPED_CAPS: &[libc::c_ulong] = &[
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

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two fresh descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Takes descriptor `fd` of process `pid`.
pub fn take_fd(pid: i32, fd: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscalls on integers; the results are checked.
    let mut pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        let err = io::Error::last_os_error();
        // A notification names the thread; pidfd_open takes only a thread
        // group leader (a tokio worker's connect, as in uv), and the
        // threads share one descriptor table.
        match thread_group(pid) {
            Some(tgid) if tgid != pid => {
                // SAFETY: as above.
                pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, tgid, 0) };
                if pidfd < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            _ => return Err(err),
        }
    }
    // SAFETY: pidfd is a descriptor we own from here on.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    // SAFETY: as above.
    let got = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pidfd_getfd returned a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(got as RawFd) })
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
    // SAFETY: prctl with plain integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Undoes [`guard_self`] before a manager runs unsandboxed (nothing to
/// guard against; its shims find pkgwarden as their parent through
/// `/proc/<pid>/exe`, which an undumpable process closes).
pub fn unguard_self() {
    // SAFETY: prctl with plain integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
    }
}

/// The capabilities that open another process's memory and ptrace-checked
/// `/proc` entries: `CAP_SYS_PTRACE`, and (measured on 6.18, as root: either
/// one alone reads an undumpable process's `environ` and `maps`)
/// `CAP_SYS_ADMIN` and `CAP_PERFMON`. An install needs none of them.
const INSPECTING_CAPS: [u32; 3] = [19, 21, 38];

/// Between fork and execve: the child is dumpable again (it inherited the
/// supervisor's flag; the supervisor must read its memory and take its
/// listener) and holds none of [`INSPECTING_CAPS`] now or after any execve
/// (bounding, ambient, inheritable, permitted and effective sets). Without
/// `CAP_SETPCAP` (unprivileged) there is nothing to drop. Allocates
/// nothing; errors are ignored (a capability not held is already dropped).
///
/// # Safety
/// Call only in a `pre_exec` closure.
pub unsafe fn child_without_ptrace() {
    const VERSION_3: u32 = 0x2008_0522;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    // SAFETY: plain system calls on stack values of the kernel's layout.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
        for cap in INSPECTING_CAPS {
            libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0);
        }
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        );
        let mut h = Header {
            version: VERSION_3,
            pid: 0,
        };
        let mut d = [Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        if libc::syscall(libc::SYS_capget, &mut h as *mut Header, d.as_mut_ptr()) == 0 {
            for cap in INSPECTING_CAPS {
                let (word, bit) = ((cap / 32) as usize, !(1u32 << (cap % 32)));
                d[word].effective &= bit;
                d[word].permitted &= bit;
                d[word].inheritable &= bit;
            }
            libc::syscall(libc::SYS_capset, &mut h as *mut Header, d.as_ptr());
        }
    }
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
    let (hs_r, hs_w) = pipe()?;
    let (ack_r, ack_w) = pipe()?;
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

    let ll_fd: RawFd = prep.landlock.as_ref().map_or(-1, |f| f.as_raw_fd());
    // The closure must be Send: carry the program as an address and length.
    let (prog_ptr, prog_len) = (prep.program.0.as_ptr() as usize, prep.program.0.len());
    let (hs_w_fd, ack_r_fd) = (hs_w.as_raw_fd(), ack_r.as_raw_fd());
    // SAFETY: the closure runs in the child between fork and execve. It
    // allocates nothing and makes only async-signal-safe system calls on
    // values prepared above (the program's memory is the child's copy).
    unsafe {
        cmd.pre_exec(move || {
            child_without_ptrace();
            // Root's capabilities no install needs leave the bounding set,
            // so the manager does not get them back at its execve. Without
            // CAP_SETPCAP (any other user) there is nothing to drop and
            // the call fails harmlessly.
            for cap in DROPPED_CAPS {
                libc::prctl(libc::PR_CAPBSET_DROP, *cap, 0, 0, 0);
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if ll_fd >= 0 && libc::syscall(libc::SYS_landlock_restrict_self, ll_fd, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            let fprog = libc::sock_fprog {
                len: prog_len as u16,
                filter: prog_ptr as *mut libc::sock_filter,
            };
            let listener = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
                &fprog as *const libc::sock_fprog,
            );
            if listener < 0 {
                return Err(io::Error::last_os_error());
            }
            let pid = libc::getpid().to_ne_bytes();
            let fd = (listener as i32).to_ne_bytes();
            let msg = [pid[0], pid[1], pid[2], pid[3], fd[0], fd[1], fd[2], fd[3]];
            if libc::write(hs_w_fd, msg.as_ptr().cast(), msg.len()) != 8 {
                return Err(io::Error::last_os_error());
            }
            let mut b = 0u8;
            if libc::read(ack_r_fd, (&mut b as *mut u8).cast(), 1) != 1 {
                return Err(io::Error::from_raw_os_error(libc::EPIPE));
            }
            // The sandboxed program must never hold its own listener.
            libc::close(listener as i32);
            Ok(())
        });
    }
    let child = cmd.spawn();
    // The child has its copies; ours go, so the supervisor sees EOF if the
    // child died before the hand-over.
    drop(hs_w);
    drop(ack_r);
    drop(prep);
    let child = child?;
    Ok((child, handle))
}

/// Asks the kernel to wake the supervisor on the same CPU (much cheaper round
/// trips); older kernels refuse, which only costs speed.
pub fn set_sync_wakeup(listener: &OwnedFd) -> bool {
    const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;
    // SAFETY: an ioctl on a descriptor we own, with an integer argument.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS as _,
            SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
        ) == 0
    }
}
