//! The seccomp policy of a sandboxed install, as data.
//!
//! One filter: syscalls an install must be seen doing are sent to the
//! supervisor (`Trap`); syscalls an install never needs are denied by the
//! supervisor with an errno (`Deny`), so that each attempt is also an event;
//! `clone3` (its flags live in memory the filter cannot read) fails in the
//! kernel with ENOSYS, and the C library falls back to `clone`, whose flags
//! are checked. If the supervisor is gone, every trapped syscall fails: the
//! sandbox fails closed.

use super::bpf::{Action, Cond, Filter, Program};
use libc::{ENOSYS, EPERM};

/// What pkgwarden does with one syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not trapped.
    Allow,
    /// Trapped and recorded; the supervisor decides (files and exec continue).
    Trap,
    /// Trapped, recorded, and refused with this errno.
    Deny(i32),
    /// Refused in the kernel, unseen.
    KernelErrno(i32),
}

/// Namespace flags a `clone` may not carry.
const NS_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// The rules, independent of how they are compiled.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// `(syscall, conditions, verdict)`, tried in order per syscall.
    pub rules: Vec<(i64, Vec<Cond>, Verdict)>,
}

impl Rules {
    fn add(&mut self, nr: i64, when: &[Cond], v: Verdict) {
        self.rules.push((nr, when.to_vec(), v));
    }

    /// Evaluates the rules for one syscall (what the supervisor applies to a
    /// notification: it depends on the syscall number and register values
    /// only, never on memory the sandboxed process could change).
    pub fn verdict(&self, nr: i64, args: [u64; 6]) -> Verdict {
        // On the notification path: no allocation, first matching rule wins.
        self.rules
            .iter()
            .find(|(n, when, _)| *n == nr && when.iter().all(|c| c.holds(&args)))
            .map_or(Verdict::Allow, |(_, _, v)| *v)
    }

    /// The BPF program: Trap and Deny notify the supervisor.
    pub fn program(&self) -> Program {
        let mut f = Filter::default();
        for (nr, when, v) in &self.rules {
            let action = match v {
                Verdict::Allow => Action::Allow,
                Verdict::Trap | Verdict::Deny(_) => Action::Notify,
                Verdict::KernelErrno(e) => Action::Errno(*e as u16),
            };
            f.rule(*nr, when, action);
        }
        f.compile(Action::Allow)
    }
}

/// The rules for an install in `mode` in a sandbox of landlock ABI `abi`:
/// block refuses more at the socket; below ABI 3 seccomp refuses truncation.
pub fn for_mode(mode: crate::policy::Mode, abi: u32) -> Rules {
    let mut r = Rules::default();
    if abi < 3 {
        truncation(&mut r);
    }
    let rest = match mode {
        crate::policy::Mode::Block => block_rules(),
        _ => rules(),
    };
    r.rules.extend(rest.rules);
    r
}

/// Landlock before ABI 3 has no truncate right: an `O_TRUNC` open is checked
/// only for the access mode it asks for, so a read-only one (or one with
/// access mode 3, which asks for neither) truncates any file landlock lets
/// the process read, and truncate(2) reaches any file at all. Refused from
/// the registers alone, before the rules that trap these calls: a path is
/// memory, racy in the allow direction. A writable `O_TRUNC` open still
/// needs landlock's write right, as any write does.
fn truncation(r: &mut Rules) {
    use libc::{O_ACCMODE, O_RDONLY, O_TRUNC};
    let deny = Verdict::Deny(libc::EACCES);
    let mask = (O_TRUNC | O_ACCMODE) as u64;
    let mut opens = vec![(libc::SYS_openat, 2u8), (libc::SYS_open_by_handle_at, 2)];
    #[cfg(target_arch = "x86_64")]
    opens.push((libc::SYS_open, 1));
    for (nr, flags) in opens {
        for access in [O_RDONLY, O_ACCMODE] {
            let when = [Cond::MaskedEq(flags, mask, (O_TRUNC | access) as u64)];
            r.add(nr, &when, deny);
        }
    }
    r.add(libc::SYS_truncate, &[], deny);
}

/// The rules of every sandboxed install.
pub fn rules() -> Rules {
    let mut r = Rules::default();
    trapped(&mut r);
    never_needed(&mut r);
    terminals_and_sockets(&mut r);
    r
}

/// What the supervisor must see: exec, opens, changes to the file tree,
/// mode and owner changes, and the network.
fn trapped(r: &mut Rules) {
    use libc::{
        SYS_bind, SYS_connect, SYS_execve, SYS_execveat, SYS_fchmod, SYS_fchmodat, SYS_fchmodat2,
        SYS_fchown, SYS_fchownat, SYS_linkat, SYS_listen, SYS_memfd_create, SYS_mkdirat,
        SYS_mknodat, SYS_openat, SYS_openat2, SYS_renameat, SYS_renameat2, SYS_sendmmsg,
        SYS_sendmsg, SYS_sendto, SYS_symlinkat, SYS_truncate, SYS_unlinkat,
    };
    #[cfg(target_arch = "x86_64")]
    use libc::{
        SYS_chmod, SYS_chown, SYS_creat, SYS_lchown, SYS_link, SYS_mkdir, SYS_mknod, SYS_open,
        SYS_rename, SYS_rmdir, SYS_symlink, SYS_unlink,
    };
    let t = Verdict::Trap;
    // Exec and every open (a read of a credential is kept with its pid even
    // when landlock refuses it).
    for nr in [SYS_execve, SYS_execveat, SYS_openat] {
        r.add(nr, &[], t);
    }
    // openat2 carries its flags and mode in memory the process can change
    // after the supervisor read them (a setuid bit at creation, O_CREAT
    // itself): like clone3, it fails, and callers fall back to openat,
    // whose are registers. Recorded at info (policy/benign.toml).
    r.add(SYS_openat2, &[], Verdict::Deny(ENOSYS));
    // Changes to the file tree.
    for nr in [
        SYS_renameat,
        SYS_renameat2,
        SYS_linkat,
        SYS_symlinkat,
        SYS_unlinkat,
        SYS_mkdirat,
        SYS_mknodat,
        SYS_truncate,
        SYS_memfd_create,
    ] {
        r.add(nr, &[], t);
    }
    // Every chmod and chown, whatever the mode or owner: landlock has no
    // right for them, so the supervisor judges the file and performs the
    // change itself (a loosened ~/.ssh, a world-writable ~/.bashrc, a state
    // directory made unreadable to pkgwarden are all mode changes).
    for nr in [
        SYS_fchmod,
        SYS_fchmodat,
        SYS_fchmodat2,
        SYS_fchown,
        SYS_fchownat,
    ] {
        r.add(nr, &[], t);
    }
    // Network: connections, listeners, datagrams with a destination.
    for nr in [SYS_connect, SYS_bind, SYS_listen, SYS_sendmsg, SYS_sendmmsg] {
        r.add(nr, &[], t);
    }
    r.add(SYS_sendto, &[Cond::Ne(4, 0)], t);
    #[cfg(target_arch = "x86_64")]
    {
        for nr in [
            SYS_open,
            SYS_creat,
            SYS_rename,
            SYS_link,
            SYS_symlink,
            SYS_unlink,
            SYS_rmdir,
            SYS_mkdir,
            SYS_mknod,
        ] {
            r.add(nr, &[], t);
        }
        for nr in [SYS_chmod, SYS_chown, SYS_lchown] {
            r.add(nr, &[], t);
        }
    }
}

/// What no install needs, refused (and recorded) with the errno a tool
/// copes with.
fn never_needed(r: &mut Rules) {
    use libc::{
        SYS_add_key, SYS_bpf, SYS_clone, SYS_clone3, SYS_delete_module, SYS_finit_module,
        SYS_fsmount, SYS_fsopen, SYS_init_module, SYS_io_uring_enter, SYS_io_uring_register,
        SYS_io_uring_setup, SYS_kexec_file_load, SYS_kexec_load, SYS_keyctl, SYS_mount,
        SYS_move_mount, SYS_open_tree, SYS_perf_event_open, SYS_pivot_root, SYS_process_vm_readv,
        SYS_process_vm_writev, SYS_ptrace, SYS_request_key, SYS_setns, SYS_umount2, SYS_unshare,
        SYS_userfaultfd,
    };
    // Never needed by an install. libuv probes io_uring: ENOSYS makes it fall back.
    for nr in [
        SYS_io_uring_setup,
        SYS_io_uring_enter,
        SYS_io_uring_register,
    ] {
        r.add(nr, &[], Verdict::Deny(ENOSYS));
    }
    for nr in [
        SYS_ptrace,
        SYS_process_vm_writev,
        SYS_process_vm_readv,
        SYS_bpf,
        SYS_mount,
        SYS_umount2,
        SYS_pivot_root,
        SYS_unshare,
        SYS_setns,
        SYS_kexec_load,
        SYS_kexec_file_load,
        SYS_init_module,
        SYS_finit_module,
        SYS_delete_module,
        SYS_add_key,
        SYS_keyctl,
        SYS_request_key,
        SYS_perf_event_open,
        SYS_userfaultfd,
        SYS_open_tree,
        SYS_move_mount,
        SYS_fsopen,
        SYS_fsmount,
    ] {
        r.add(nr, &[], Verdict::Deny(EPERM));
    }
    r.add(
        SYS_clone,
        &[Cond::AnyBits(0, NS_FLAGS)],
        Verdict::Deny(EPERM),
    );
    r.add(SYS_clone3, &[], Verdict::KernelErrno(ENOSYS));
    // Extended attributes: landlock has no right for them, and POSIX ACLs
    // (`system.posix_acl_*`) need only ownership, like chmod: an ACL on
    // `~/.ssh/id_rsa` opens it to another user. The capability drop
    // already keeps `security.*` and `trusted.*` out of reach. No install
    // needs to set one; "not supported" is what every tool copes with
    // (file systems without xattrs are common: cp, shutil.copystat).
    for nr in [
        libc::SYS_setxattr,
        libc::SYS_lsetxattr,
        libc::SYS_fsetxattr,
        libc::SYS_removexattr,
        libc::SYS_lremovexattr,
        libc::SYS_fremovexattr,
    ] {
        r.add(nr, &[], Verdict::Deny(libc::EOPNOTSUPP));
    }
}

/// Terminal input injection and sockets below IP, refused.
fn terminals_and_sockets(r: &mut Rules) {
    use libc::{
        AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_VSOCK, NETLINK_ROUTE, SOCK_RAW, SYS_ioctl,
        SYS_socket,
    };
    // Typing into a terminal: TIOCSTI queues input that the user's shell
    // reads once the install is over (a command run outside the sandbox);
    // TIOCLINUX pastes a console selection the same way. The terminal the
    // install inherits was opened before landlock, so only this stops it.
    let deny = Verdict::Deny(EPERM);
    for req in [libc::TIOCSTI, libc::TIOCLINUX] {
        r.add(SYS_ioctl, &[int_is(1, req)], deny);
    }
    // Sockets that reach below IP or into other kernel subsystems.
    r.add(SYS_socket, &[int_is(0, AF_PACKET as u64)], deny);
    r.add(SYS_socket, &[int_is(0, AF_VSOCK as u64)], deny);
    r.add(
        SYS_socket,
        &[
            int_is(0, AF_NETLINK as u64),
            // Any other protocol, high bits included, is refused.
            Cond::Ne(2, NETLINK_ROUTE as u64),
        ],
        deny,
    );
    for af in [AF_INET, AF_INET6] {
        r.add(
            SYS_socket,
            &[
                int_is(0, af as u64),
                Cond::MaskedEq(1, 0xf, SOCK_RAW as u64),
            ],
            deny,
        );
    }
}

/// The bits of an `int` argument: the kernel reads only those, so a value
/// with anything in the upper half of the register is the same to it.
const INT: u64 = 0xffff_ffff;

/// `args[i]` as the kernel's `int` (or `unsigned int`) equals `v`.
fn int_is(i: u8, v: u64) -> Cond {
    Cond::MaskedEq(i, INT, v)
}

/// The rules of a fact probe (the manager asked about its configuration):
/// no supervisor, so nothing is trapped. Every syscall an install is denied
/// fails in the kernel, and so does every socket (a probe needs no network;
/// landlock keeps TCP closed too) and unix datagram pairs, which could send
/// to any pathname socket. Stream pairs (libuv's stdio) stay.
pub fn probe_rules() -> Rules {
    let mut r = Rules::default();
    r.add(libc::SYS_socket, &[], Verdict::KernelErrno(EPERM));
    r.add(
        libc::SYS_socketpair,
        &[Cond::MaskedEq(1, 0xf, libc::SOCK_DGRAM as u64)],
        Verdict::KernelErrno(EPERM),
    );
    for (nr, when, v) in rules().rules {
        if let Verdict::Deny(e) | Verdict::KernelErrno(e) = v {
            r.add(nr, &when, Verdict::KernelErrno(e));
        }
    }
    r
}

/// The rules of a block-mode install: [`rules`], and no IP datagram socket
/// at all. The proxy is the only way out and it resolves names, so an
/// install needs neither UDP nor ICMP; refusing the socket itself leaves
/// nothing to the reading of addresses (AF_UNSPEC, `sendmmsg`'s later
/// messages, a thread rewriting an address).
pub fn block_rules() -> Rules {
    let mut r = Rules::default();
    fileless(&mut r);
    r.rules.extend(rules().rules);
    for af in [libc::AF_INET, libc::AF_INET6] {
        r.add(
            libc::SYS_socket,
            &[
                int_is(0, af as u64),
                Cond::MaskedEq(1, 0xf, libc::SOCK_DGRAM as u64),
            ],
            Verdict::Deny(EPERM),
        );
    }
    r
}

/// Block: code that is no file on disk, refused from the registers (the
/// supervisor's reading of a path is advisory: the kernel reads it again
/// after CONTINUE). A memfd is made only with `MFD_NOEXEC_SEAL` (Linux
/// 6.3): without it the file could be run through `/proc/self/fd/N`, and
/// ENOSYS is what callers fall back on (older kernels had no memfd: a file
/// in TMPDIR, which the supervisor and landlock see). `execveat` with
/// `AT_EMPTY_PATH` runs a descriptor (a deleted file) whatever path text
/// the supervisor read; glibc's `fexecve` falls back on ENOSYS to
/// `/proc/self/fd/N`, which is judged like any path. Must precede the
/// rules that trap these calls (first match wins).
fn fileless(r: &mut Rules) {
    r.add(
        libc::SYS_memfd_create,
        &[Cond::MaskedEq(1, u64::from(libc::MFD_NOEXEC_SEAL), 0)],
        Verdict::Deny(ENOSYS),
    );
    r.add(
        libc::SYS_execveat,
        &[Cond::AnyBits(4, libc::AT_EMPTY_PATH as u64)],
        Verdict::Deny(ENOSYS),
    );
}

/// The syscall's name, for events.
pub fn name(nr: i64) -> String {
    use libc::*;
    let known: &[(i64, &str)] = &[
        (SYS_execve, "execve"),
        (SYS_execveat, "execveat"),
        (SYS_openat, "openat"),
        (SYS_openat2, "openat2"),
        (SYS_renameat, "renameat"),
        (SYS_renameat2, "renameat2"),
        (SYS_linkat, "linkat"),
        (SYS_symlinkat, "symlinkat"),
        (SYS_unlinkat, "unlinkat"),
        (SYS_mkdirat, "mkdirat"),
        (SYS_mknodat, "mknodat"),
        (SYS_truncate, "truncate"),
        (SYS_memfd_create, "memfd_create"),
        (SYS_fchmod, "fchmod"),
        (SYS_fchmodat, "fchmodat"),
        (SYS_fchmodat2, "fchmodat2"),
        (SYS_fchown, "fchown"),
        (SYS_setxattr, "setxattr"),
        (SYS_lsetxattr, "lsetxattr"),
        (SYS_fsetxattr, "fsetxattr"),
        (SYS_removexattr, "removexattr"),
        (SYS_lremovexattr, "lremovexattr"),
        (SYS_fremovexattr, "fremovexattr"),
        (SYS_fchownat, "fchownat"),
        (SYS_connect, "connect"),
        (SYS_bind, "bind"),
        (SYS_listen, "listen"),
        (SYS_sendto, "sendto"),
        (SYS_sendmsg, "sendmsg"),
        (SYS_sendmmsg, "sendmmsg"),
        (SYS_io_uring_setup, "io_uring_setup"),
        (SYS_io_uring_enter, "io_uring_enter"),
        (SYS_io_uring_register, "io_uring_register"),
        (SYS_ptrace, "ptrace"),
        (SYS_process_vm_writev, "process_vm_writev"),
        (SYS_process_vm_readv, "process_vm_readv"),
        (SYS_bpf, "bpf"),
        (SYS_mount, "mount"),
        (SYS_umount2, "umount2"),
        (SYS_pivot_root, "pivot_root"),
        (SYS_unshare, "unshare"),
        (SYS_setns, "setns"),
        (SYS_kexec_load, "kexec_load"),
        (SYS_kexec_file_load, "kexec_file_load"),
        (SYS_init_module, "init_module"),
        (SYS_finit_module, "finit_module"),
        (SYS_delete_module, "delete_module"),
        (SYS_add_key, "add_key"),
        (SYS_keyctl, "keyctl"),
        (SYS_request_key, "request_key"),
        (SYS_perf_event_open, "perf_event_open"),
        (SYS_userfaultfd, "userfaultfd"),
        (SYS_clone, "clone"),
        (SYS_socket, "socket"),
        (SYS_ioctl, "ioctl"),
        #[cfg(target_arch = "x86_64")]
        (SYS_open, "open"),
        #[cfg(target_arch = "x86_64")]
        (SYS_creat, "creat"),
        #[cfg(target_arch = "x86_64")]
        (SYS_rename, "rename"),
        #[cfg(target_arch = "x86_64")]
        (SYS_link, "link"),
        #[cfg(target_arch = "x86_64")]
        (SYS_symlink, "symlink"),
        #[cfg(target_arch = "x86_64")]
        (SYS_unlink, "unlink"),
        #[cfg(target_arch = "x86_64")]
        (SYS_rmdir, "rmdir"),
        #[cfg(target_arch = "x86_64")]
        (SYS_mkdir, "mkdir"),
        #[cfg(target_arch = "x86_64")]
        (SYS_mknod, "mknod"),
        #[cfg(target_arch = "x86_64")]
        (SYS_chmod, "chmod"),
        #[cfg(target_arch = "x86_64")]
        (SYS_chown, "chown"),
        #[cfg(target_arch = "x86_64")]
        (SYS_lchown, "lchown"),
    ];
    known
        .iter()
        .find(|(n, _)| *n == nr)
        .map_or_else(|| format!("syscall_{nr}"), |(_, s)| (*s).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::bpf::{
        AUDIT_ARCH, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF,
    };

    #[test]
    fn read_only_opens_are_trapped() {
        let r = rules();
        let p = r.program();
        let ro = [
            libc::AT_FDCWD as u64,
            0x1000,
            libc::O_RDONLY as u64,
            0,
            0,
            0,
        ];
        assert_eq!(r.verdict(libc::SYS_openat, ro), Verdict::Trap);
        assert_eq!(
            p.run(AUDIT_ARCH, libc::SYS_openat, ro),
            SECCOMP_RET_USER_NOTIF
        );
    }

    #[test]
    fn the_probe_filter_traps_nothing_and_refuses_sockets_in_the_kernel() {
        let r = probe_rules();
        let p = r.program();
        for (nr, args) in [
            (libc::SYS_openat, [0u64; 6]),
            (libc::SYS_execve, [0; 6]),
            (libc::SYS_connect, [0; 6]),
        ] {
            assert_eq!(p.run(AUDIT_ARCH, nr, args), SECCOMP_RET_ALLOW, "{nr}");
        }
        let eperm = SECCOMP_RET_ERRNO | EPERM as u32;
        for af in [
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_UNIX,
            libc::AF_NETLINK,
        ] {
            let args = [af as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0];
            assert_eq!(p.run(AUDIT_ARCH, libc::SYS_socket, args), eperm, "{af}");
        }
        let dgram = [libc::AF_UNIX as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0];
        assert_eq!(p.run(AUDIT_ARCH, libc::SYS_socketpair, dgram), eperm);
        let stream = [libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0];
        assert_eq!(
            p.run(AUDIT_ARCH, libc::SYS_socketpair, stream),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(p.run(AUDIT_ARCH, libc::SYS_ptrace, [0; 6]), eperm);
        assert_eq!(p.run(AUDIT_ARCH, libc::SYS_mount, [0; 6]), eperm);
        assert_eq!(
            p.run(AUDIT_ARCH, libc::SYS_io_uring_setup, [0; 6]),
            SECCOMP_RET_ERRNO | ENOSYS as u32
        );
    }

    #[test]
    fn escapes_are_denied_with_the_right_errno() {
        let r = rules();
        assert_eq!(
            r.verdict(libc::SYS_io_uring_setup, [0; 6]),
            Verdict::Deny(ENOSYS)
        );
        assert_eq!(r.verdict(libc::SYS_ptrace, [0; 6]), Verdict::Deny(EPERM));
        assert_eq!(r.verdict(libc::SYS_unshare, [0; 6]), Verdict::Deny(EPERM));
        let newuser = [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0];
        assert_eq!(r.verdict(libc::SYS_clone, newuser), Verdict::Deny(EPERM));
        // A plain fork/thread clone is not even trapped.
        let thread = [(libc::CLONE_VM | libc::CLONE_THREAD) as u64, 0, 0, 0, 0, 0];
        assert_eq!(r.verdict(libc::SYS_clone, thread), Verdict::Allow);
        assert_eq!(
            r.program().run(AUDIT_ARCH, libc::SYS_clone, thread),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(
            r.program().run(AUDIT_ARCH, libc::SYS_clone3, [0; 6]),
            SECCOMP_RET_ERRNO | ENOSYS as u32
        );
        let raw = [
            libc::AF_INET as u64,
            (libc::SOCK_RAW | libc::SOCK_CLOEXEC) as u64,
            0,
            0,
            0,
            0,
        ];
        assert_eq!(r.verdict(libc::SYS_socket, raw), Verdict::Deny(EPERM));
        let tcp = [libc::AF_INET as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0];
        assert_eq!(r.verdict(libc::SYS_socket, tcp), Verdict::Allow);
        let route = [libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, 0, 0, 0, 0];
        assert_eq!(r.verdict(libc::SYS_socket, route), Verdict::Allow);
        let audit = [libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, 9, 0, 0, 0];
        assert_eq!(r.verdict(libc::SYS_socket, audit), Verdict::Deny(EPERM));
    }

    #[test]
    fn int_arguments_are_judged_by_their_low_half() {
        // The kernel reads socket()'s domain and ioctl()'s request as 32-bit
        // ints: a value with high bits set is the same call to it.
        let hi = 1u64 << 32;
        for (rules, nr, args) in [
            (
                rules(),
                libc::SYS_socket,
                [libc::AF_PACKET as u64 | hi, 3, 0, 0, 0, 0],
            ),
            (
                rules(),
                libc::SYS_socket,
                [libc::AF_VSOCK as u64 | hi, 1, 0, 0, 0, 0],
            ),
            (
                rules(),
                libc::SYS_socket,
                [libc::AF_NETLINK as u64 | hi, 3, 4, 0, 0, 0],
            ),
            (
                rules(),
                libc::SYS_socket,
                [libc::AF_INET as u64 | hi, 3, 0, 0, 0, 0],
            ),
            (
                block_rules(),
                libc::SYS_socket,
                [libc::AF_INET as u64 | hi, 2, 0, 0, 0, 0],
            ),
            (
                block_rules(),
                libc::SYS_socket,
                [libc::AF_INET6 as u64 | hi, 2, 0, 0, 0, 0],
            ),
            (rules(), libc::SYS_ioctl, [0, libc::TIOCSTI, 0, 0, 0, 0]),
            (
                rules(),
                libc::SYS_ioctl,
                [0, libc::TIOCSTI | hi, 0, 0, 0, 0],
            ),
            (
                rules(),
                libc::SYS_ioctl,
                [0, libc::TIOCLINUX | (u64::MAX << 32), 0, 0, 0, 0],
            ),
        ] {
            assert_eq!(
                rules.verdict(nr, args),
                Verdict::Deny(EPERM),
                "{nr} {args:x?}"
            );
            assert_eq!(
                rules.program().run(AUDIT_ARCH, nr, args),
                SECCOMP_RET_USER_NOTIF,
                "{nr} {args:x?}"
            );
        }
        // Ordinary terminal ioctls stay free.
        let tcgets = [0, libc::TCGETS, 0, 0, 0, 0];
        assert_eq!(rules().verdict(libc::SYS_ioctl, tcgets), Verdict::Allow);
        assert_eq!(
            rules().program().run(AUDIT_ARCH, libc::SYS_ioctl, tcgets),
            SECCOMP_RET_ALLOW
        );
    }

    #[test]
    fn below_landlock_abi_3_truncation_is_refused_from_the_registers() {
        use crate::policy::Mode;
        use libc::{O_ACCMODE, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
        let eacces = Verdict::Deny(libc::EACCES);
        for mode in [Mode::Protect, Mode::Block] {
            let old = for_mode(mode, 2);
            let new = for_mode(mode, 3);
            let p = old.program();
            let at = |flags: i32| [libc::AT_FDCWD as u64, 0x1000, flags as u64, 0, 0, 0];
            // Read-only (and access mode 3) with O_TRUNC: refused, high
            // register bits or not; the kernel still sees the notification.
            for flags in [O_RDONLY | O_TRUNC, O_ACCMODE | O_TRUNC, O_TRUNC | O_CREAT] {
                assert_eq!(
                    old.verdict(libc::SYS_openat, at(flags)),
                    eacces,
                    "{flags:#o}"
                );
                let mut high = at(flags);
                high[2] |= 1 << 40;
                assert_eq!(old.verdict(libc::SYS_openat, high), eacces);
                assert_eq!(
                    p.run(AUDIT_ARCH, libc::SYS_openat, at(flags)),
                    SECCOMP_RET_USER_NOTIF
                );
                assert_eq!(new.verdict(libc::SYS_openat, at(flags)), Verdict::Trap);
            }
            // Writable truncating opens need landlock's write right: trapped.
            for flags in [O_WRONLY | O_TRUNC, O_RDWR | O_TRUNC, O_RDONLY] {
                assert_eq!(old.verdict(libc::SYS_openat, at(flags)), Verdict::Trap);
            }
            let by_handle = [3, 0x1000, (O_RDONLY | O_TRUNC) as u64, 0, 0, 0];
            assert_eq!(old.verdict(libc::SYS_open_by_handle_at, by_handle), eacces);
            assert_eq!(
                old.verdict(libc::SYS_truncate, [0x1000, 0, 0, 0, 0, 0]),
                eacces
            );
            assert_eq!(
                new.verdict(libc::SYS_truncate, [0x1000, 0, 0, 0, 0, 0]),
                Verdict::Trap
            );
            #[cfg(target_arch = "x86_64")]
            {
                let open = [0x1000, (O_RDONLY | O_TRUNC) as u64, 0, 0, 0, 0];
                assert_eq!(old.verdict(libc::SYS_open, open), eacces);
                assert_eq!(new.verdict(libc::SYS_open, open), Verdict::Trap);
            }
        }
    }

    #[test]
    fn block_mode_refuses_ip_datagram_sockets_in_the_filter() {
        let b = block_rules();
        let p = b.program();
        for af in [libc::AF_INET, libc::AF_INET6] {
            for ty in [
                libc::SOCK_DGRAM,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            ] {
                let args = [af as u64, ty as u64, 0, 0, 0, 0];
                assert_eq!(b.verdict(libc::SYS_socket, args), Verdict::Deny(EPERM));
                assert_eq!(
                    p.run(AUDIT_ARCH, libc::SYS_socket, args),
                    SECCOMP_RET_USER_NOTIF
                );
                // Protect keeps them (its supervisor refuses every datagram
                // with a destination outside the policy).
                assert_eq!(rules().verdict(libc::SYS_socket, args), Verdict::Allow);
            }
            let tcp = [
                af as u64,
                (libc::SOCK_STREAM | libc::SOCK_CLOEXEC) as u64,
                0,
                0,
                0,
                0,
            ];
            assert_eq!(b.verdict(libc::SYS_socket, tcp), Verdict::Allow);
            assert_eq!(p.run(AUDIT_ARCH, libc::SYS_socket, tcp), SECCOMP_RET_ALLOW);
        }
        let unix = [libc::AF_UNIX as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0];
        assert_eq!(b.verdict(libc::SYS_socket, unix), Verdict::Allow);
    }

    #[test]
    fn block_mode_refuses_executable_memfds_and_descriptor_exec_in_the_filter() {
        let b = block_rules();
        let p = b.program();
        let seal = u64::from(libc::MFD_NOEXEC_SEAL);
        let cloexec = u64::from(libc::MFD_CLOEXEC);
        for flags in [0, cloexec, u64::from(libc::MFD_EXEC), 1 << 32] {
            let args = [0, flags, 0, 0, 0, 0];
            assert_eq!(
                b.verdict(libc::SYS_memfd_create, args),
                Verdict::Deny(ENOSYS),
                "{flags:#x}"
            );
            assert_eq!(
                p.run(AUDIT_ARCH, libc::SYS_memfd_create, args),
                SECCOMP_RET_USER_NOTIF
            );
            assert_eq!(rules().verdict(libc::SYS_memfd_create, args), Verdict::Trap);
        }
        for flags in [seal, seal | cloexec, 1 << 32 | seal] {
            let args = [0, flags, 0, 0, 0, 0];
            assert_eq!(b.verdict(libc::SYS_memfd_create, args), Verdict::Trap);
        }
        let empty = [3, 0, 0, 0, libc::AT_EMPTY_PATH as u64, 0];
        assert_eq!(b.verdict(libc::SYS_execveat, empty), Verdict::Deny(ENOSYS));
        assert_eq!(rules().verdict(libc::SYS_execveat, empty), Verdict::Trap);
        let named = [3, 0, 0, 0, 0, 0];
        assert_eq!(b.verdict(libc::SYS_execveat, named), Verdict::Trap);
    }

    #[test]
    fn every_chmod_and_chown_is_trapped_and_reads_are_free() {
        let r = rules();
        for mode in [0, 0o644, 0o755, 0o777] {
            for nr in [libc::SYS_fchmodat, libc::SYS_fchmodat2] {
                assert_eq!(r.verdict(nr, [0, 0, mode, 0, 0, 0]), Verdict::Trap);
            }
            assert_eq!(
                r.verdict(libc::SYS_fchmod, [3, mode, 0, 0, 0, 0]),
                Verdict::Trap
            );
        }
        for nr in [libc::SYS_fchown, libc::SYS_fchownat] {
            assert_eq!(r.verdict(nr, [0; 6]), Verdict::Trap);
        }
        #[cfg(target_arch = "x86_64")]
        for nr in [libc::SYS_chmod, libc::SYS_chown, libc::SYS_lchown] {
            assert_eq!(r.verdict(nr, [0; 6]), Verdict::Trap);
        }
        assert_eq!(r.verdict(libc::SYS_read, [0; 6]), Verdict::Allow);
        assert_eq!(
            r.verdict(libc::SYS_sendto, [3, 0, 0, 0, 0, 0]),
            Verdict::Allow
        );
        assert_eq!(
            r.verdict(libc::SYS_sendto, [3, 0, 0, 0, 0x7ff0, 16]),
            Verdict::Trap
        );
        // The program and the rules agree on every syscall number with these args.
        let p = r.program();
        for nr in 0..460 {
            for args in [[0u64; 6], [u64::MAX; 6], [0x10, 0o755, 0o755, 0, 1, 0]] {
                let want = match r.verdict(nr, args) {
                    Verdict::Allow => SECCOMP_RET_ALLOW,
                    Verdict::Trap | Verdict::Deny(_) => SECCOMP_RET_USER_NOTIF,
                    Verdict::KernelErrno(e) => SECCOMP_RET_ERRNO | e as u32,
                };
                assert_eq!(p.run(AUDIT_ARCH, nr, args), want, "nr {nr} {args:?}");
            }
        }
    }
}
