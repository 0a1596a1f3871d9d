//! The system calls that neither `nix` nor `std` wraps (seccomp, landlock,
//! pidfd, capability sets, a few process attributes), each behind one small
//! function. Everything else goes through `nix` or `std`.
//!
//! # Safety (stated once for every `unsafe` block in this file)
//! Each block makes one system call whose arguments are integers,
//! descriptor numbers (the kernel checks them; a wrong one is `EBADF`, never
//! memory unsafety) and pointers to live values of the kernel's layout,
//! borrowed for the call only, with their true length where one is passed.
//! A descriptor the kernel returns is new and owned by the caller from then
//! on. No function here allocates or takes a lock, so all of them may run
//! between `fork` and `execve` (the `pre_exec` closures).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `-1` as an error from the last system call.
fn check(rc: libc::c_long) -> io::Result<libc::c_long> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Wraps a descriptor number the kernel has just returned.
fn owned(rc: libc::c_long) -> OwnedFd {
    // SAFETY: see the module's contract (a fresh descriptor we own).
    unsafe { OwnedFd::from_raw_fd(rc as RawFd) }
}

// ------------------------------------------------------------- landlock ----

/// The kernel's landlock ABI version (0 when landlock is off). The landlock
/// crate keeps its own query private.
pub fn landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
    // SAFETY: see the module's contract (a NULL attr of size 0: the VERSION
    // flag only returns the version).
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(v).unwrap_or(0)
}

/// Restricts this thread (and what it execs) to the landlock ruleset `ruleset`.
pub fn landlock_restrict_self(ruleset: RawFd) -> io::Result<()> {
    // SAFETY: see the module's contract.
    check(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0) }).map(drop)
}

// -------------------------------------------------------------- seccomp ----

/// Installs `program` as this thread's seccomp filter with `flags`; returns
/// the syscall's result (the listener's number with `NEW_LISTENER`).
fn seccomp_filter(program: &[libc::sock_filter], flags: libc::c_ulong) -> io::Result<libc::c_long> {
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        // The kernel only reads the program.
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: see the module's contract (fprog points at `len` filters).
    check(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    })
}

/// Installs `program` as this thread's seccomp filter.
pub fn seccomp_install(program: &[libc::sock_filter]) -> io::Result<()> {
    seccomp_filter(program, 0).map(drop)
}

/// Installs `program` as this thread's seccomp filter and returns its
/// user-notification listener.
pub fn seccomp_install_listener(program: &[libc::sock_filter]) -> io::Result<OwnedFd> {
    seccomp_filter(program, libc::SECCOMP_FILTER_FLAG_NEW_LISTENER).map(owned)
}

/// Waits for the next notification on `listener` (`SECCOMP_IOCTL_NOTIF_RECV`).
pub fn notif_recv(listener: &OwnedFd) -> io::Result<libc::seccomp_notif> {
    let mut req = libc::seccomp_notif {
        id: 0,
        pid: 0,
        flags: 0,
        data: libc::seccomp_data {
            nr: 0,
            arch: 0,
            instruction_pointer: 0,
            args: [0; 6],
        },
    };
    // SAFETY: see the module's contract (RECV fills a zeroed seccomp_notif).
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV as _,
            &mut req,
        )
    };
    check(rc.into()).map(|_| req)
}

/// Answers a notification (`SECCOMP_IOCTL_NOTIF_SEND`); a target that died
/// meanwhile gives `ENOENT`.
pub fn notif_send(listener: &OwnedFd, resp: &mut libc::seccomp_notif_resp) -> io::Result<()> {
    // SAFETY: see the module's contract (SEND reads resp).
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND as _,
            resp as *mut libc::seccomp_notif_resp,
        )
    };
    check(rc.into()).map(drop)
}

/// Installs `src` (the supervisor's descriptor) in the table of the process
/// behind notification `id` and, with `send`, answers the call with the
/// new descriptor's number in one step (`SECCOMP_IOCTL_NOTIF_ADDFD`,
/// `SECCOMP_ADDFD_FLAG_SEND`: the call returns it, atomically). Without
/// `send` the caller answers. `cloexec` sets `O_CLOEXEC` on the new one.
pub fn notif_addfd(
    listener: &OwnedFd,
    id: u64,
    src: &OwnedFd,
    cloexec: bool,
    send: bool,
) -> io::Result<RawFd> {
    let mut add = libc::seccomp_notif_addfd {
        id,
        flags: if send {
            libc::SECCOMP_ADDFD_FLAG_SEND as u32
        } else {
            0
        },
        srcfd: src.as_raw_fd() as u32,
        newfd: 0,
        newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
    };
    // SAFETY: see the module's contract (ADDFD reads `add`).
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ADDFD as _,
            &mut add as *mut libc::seccomp_notif_addfd,
        )
    };
    check(rc.into()).map(|fd| fd as RawFd)
}

/// True while notification `id` is still about the same live syscall
/// (`SECCOMP_IOCTL_NOTIF_ID_VALID`).
pub fn notif_id_valid(listener: &OwnedFd, id: u64) -> bool {
    let mut id = id;
    // SAFETY: see the module's contract (ID_VALID reads a u64).
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _,
            &mut id,
        )
    };
    rc == 0
}

/// Asks the kernel to wake the supervisor on the same CPU
/// (`SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`); false where the kernel refuses.
pub fn notif_sync_wakeup(listener: &OwnedFd) -> bool {
    const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;
    // SAFETY: see the module's contract (an integer argument).
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS as _,
            SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
        )
    };
    rc == 0
}

// ---------------------------------------------------------------- pidfd ----

/// A pidfd of process `pid` (a thread group leader).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: see the module's contract.
    check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) }).map(owned)
}

/// A copy of descriptor `fd` of the process behind `pidfd`.
pub fn pidfd_getfd(pidfd: &OwnedFd, fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: see the module's contract.
    check(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) }).map(owned)
}

// --------------------------------------------------------- capabilities ----

/// Drops capability `cap` from this thread's bounding set
/// (`PR_CAPBSET_DROP`; fails without `CAP_SETPCAP`).
pub fn capbset_drop(cap: u32) -> io::Result<()> {
    // SAFETY: see the module's contract.
    let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
    check(rc.into()).map(drop)
}

/// Empties this thread's ambient capability set.
pub fn clear_ambient_caps() -> io::Result<()> {
    // SAFETY: see the module's contract.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    check(rc.into()).map(drop)
}

/// Runs `f` with `caps` out of this thread's effective set and puts them
/// back after (they stay permitted; capabilities are per thread, so the
/// process's other threads keep theirs). What `f` opens is then judged by
/// the kernel, and remembered in the file (`f_cred`), without them.
pub fn without_effective_caps<T>(caps: &[u32], f: impl FnOnce() -> T) -> T {
    const VERSION_3: u32 = 0x2008_0522;
    let mut h = [VERSION_3, 0u32];
    // effective, permitted, inheritable; twice (version 3: 64 bits).
    let mut before = [0u32; 6];
    // SAFETY: see the module's contract (version 3 takes two triples).
    let got = unsafe { libc::syscall(libc::SYS_capget, h.as_mut_ptr(), before.as_mut_ptr()) };
    let mut less = before;
    for cap in caps {
        if let Some(e) = less.get_mut(3 * (*cap / 32) as usize) {
            *e &= !(1u32 << (cap % 32));
        }
    }
    // Nothing held (unprivileged) or nothing to take: no capset at all.
    if got != 0 || less == before {
        return f();
    }
    // SAFETY: as above.
    let set = unsafe { libc::syscall(libc::SYS_capset, h.as_mut_ptr(), less.as_ptr()) };
    let out = f();
    if set == 0 {
        // SAFETY: as above; raising the effective set within the permitted
        // one cannot fail.
        unsafe { libc::syscall(libc::SYS_capset, h.as_mut_ptr(), before.as_ptr()) };
    }
    out
}

/// Removes `caps` from this thread's effective, permitted and inheritable
/// sets (`capget` then `capset`, version 3).
pub fn drop_caps(caps: &[u32]) -> io::Result<()> {
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
    let mut h = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut d = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: see the module's contract (version 3 takes two Data).
    check(unsafe { libc::syscall(libc::SYS_capget, &mut h as *mut Header, d.as_mut_ptr()) })?;
    for cap in caps {
        let Some(data) = d.get_mut((cap / 32) as usize) else {
            continue;
        };
        let bit = !(1u32 << (cap % 32));
        data.effective &= bit;
        data.permitted &= bit;
        data.inheritable &= bit;
    }
    // SAFETY: as above.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut h as *mut Header, d.as_ptr()) }).map(drop)
}

// -------------------------------------------------------------- sockets ----

/// Connects `sock` to the raw socket address `addr` (a `sockaddr` of any
/// family, byte for byte as a sandboxed process passed it).
pub fn connect_raw(sock: &OwnedFd, addr: &[u8]) -> io::Result<()> {
    // SAFETY: see the module's contract (addr is addr.len() bytes).
    let rc = unsafe {
        libc::connect(
            sock.as_raw_fd(),
            addr.as_ptr().cast(),
            addr.len() as libc::socklen_t,
        )
    };
    check(rc.into()).map(drop)
}

/// `bind` of `sock` to the raw `sockaddr` bytes `addr`.
pub fn bind_raw(sock: &OwnedFd, addr: &[u8]) -> io::Result<()> {
    // SAFETY: see the module's contract (addr is addr.len() bytes).
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            addr.as_ptr().cast(),
            addr.len() as libc::socklen_t,
        )
    };
    check(rc.into()).map(drop)
}

/// `sendto` of `data` on `sock` to the raw `sockaddr` bytes `addr` (none
/// when empty: the connected peer): the bytes sent.
pub fn sendto_raw(sock: &OwnedFd, data: &[u8], flags: i32, addr: &[u8]) -> io::Result<usize> {
    // A name of length 0 is still a name to the kernel (EINVAL on UDP).
    let name = if addr.is_empty() {
        std::ptr::null()
    } else {
        addr.as_ptr()
    };
    // SAFETY: see the module's contract (data and addr with their lengths).
    let rc = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            flags,
            name.cast(),
            addr.len() as libc::socklen_t,
        )
    };
    check(rc as libc::c_long).map(|n| n as usize)
}

/// The address family of socket `sock` (`SO_DOMAIN`).
pub fn socket_domain(sock: &OwnedFd) -> Option<i32> {
    socket_int(sock, libc::SO_DOMAIN)
}

/// The type of socket `sock` (`SO_TYPE`: `SOCK_STREAM`, `SOCK_DGRAM`, …).
pub fn socket_type(sock: &OwnedFd) -> Option<i32> {
    socket_int(sock, libc::SO_TYPE)
}

/// An `int` socket option of level `SOL_SOCKET`.
fn socket_int(sock: &OwnedFd, opt: libc::c_int) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: see the module's contract (an int and its size).
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(v)
}

// ------------------------------------------------------------ processes ----

/// Marks every descriptor from `first` up close-on-exec
/// (`close_range(first, ~0, CLOSE_RANGE_CLOEXEC)`).
pub fn cloexec_from(first: u32) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: u32 = 4;
    // SAFETY: see the module's contract.
    check(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) })
        .map(drop)
}

/// Sets this process's nice value.
pub fn set_nice(nice: i32) -> io::Result<()> {
    // SAFETY: see the module's contract.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    check(rc.into()).map(drop)
}

/// Gives `SIGPIPE` its default action back (Rust's runtime ignores it).
pub fn default_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: the default disposition runs no code of ours, so no handler
    // can break an invariant (nix marks `signal` unsafe for handlers).
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// The account name of `uid`, from the password database.
pub fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CAP_SYS_ADMIN in this thread's effective set.
    fn admin_effective() -> bool {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        eff & (1 << 21) != 0
    }

    #[test]
    fn capabilities_are_out_of_effect_only_inside() {
        let held = admin_effective();
        let inside = without_effective_caps(&[21], admin_effective);
        assert!(!inside);
        // Put back (as root); nothing to put back unprivileged.
        assert_eq!(admin_effective(), held);
    }
}
