//! The seccomp user-notification loop: what the sandboxed processes do.
//!
//! For each notification the supervisor reads the arguments from the
//! process's memory, checks that the notification is still valid, records an
//! event, and answers. Files and exec continue (landlock enforces); denied
//! syscalls get their errno; a network connection is refused, or performed by
//! the supervisor itself on a copy of the process's socket with the address
//! it read, so that a second thread rewriting that address after the check
//! changes nothing.

pub use crate::model::event::{Action, Event, EventKind, Observed};
use crate::sandbox::seccomp::{self, Rules, Verdict};
use crate::sandbox::spawn::take_fd;
use crate::sys;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat2};
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::socket::{SockaddrStorage, getsockname};
use nix::sys::stat::{FchmodatFlags, Mode, fstat};
use nix::sys::statfs::{PROC_SUPER_MAGIC, statfs};
use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::{Gid, Pid, Uid};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The network decisions of one install.
#[derive(Clone, Debug, Default)]
pub struct NetPolicy {
    /// Deny nothing (audit).
    pub observe_only: bool,
    /// Addresses the install may connect to (registries).
    pub allowed: Vec<SocketAddr>,
    /// Unix sockets never allowed (docker, ssh-agent, D-Bus …).
    pub privileged_unix: Vec<PathBuf>,
    /// Refuse every unix socket connection but to [`Self::unix_allowed`]
    /// (block mode).
    pub deny_all_unix: bool,
    /// Refuse a connect to a pathname socket outside [`Self::unix_allowed`]
    /// (protect: editors', terminals', agents' and container engines'
    /// servers run what any client of the user asks; no list of them is
    /// ever complete).
    pub unix_confined: bool,
    /// Where a socket may be connected to (resolved: a socket file at or
    /// below one of these): the install's own directories, the name
    /// services (protect), the policy's `endpoints.unix`.
    pub unix_allowed: Vec<PathBuf>,
    /// Of [`Self::unix_allowed`], the install's own directories (its
    /// private TMPDIR) and when each was made: a socket file there counts
    /// only when it was made since (both times are the filesystem's). A
    /// user's socket renamed in keeps its birth time (and its single name).
    pub unix_own: Vec<(PathBuf, Option<std::time::SystemTime>)>,
    /// Where to note which pid owns each connection made on its behalf
    /// (local port → pid), for the proxy's records.
    pub peers: Option<Arc<std::sync::Mutex<std::collections::HashMap<u16, i32>>>>,
}

/// What the supervisor is told to watch for.
#[derive(Clone, Debug)]
pub struct Watch {
    /// The seccomp rules (the same the filter was built from).
    pub rules: Rules,
    /// Deny nothing: denials become observations (audit).
    pub observe_only: bool,
    /// Credential paths: reads of these are kept as events.
    pub secrets: Vec<PathBuf>,
    /// Network decisions.
    pub net: NetPolicy,
    /// When the install started.
    pub start: Instant,
    /// Block mode: a file the install wrote may be executed only below
    /// these (the payload, build directories, the private TMPDIR); `None`
    /// lets every exec continue.
    pub exec_roots: Option<Vec<PathBuf>>,
    /// Where a chmod or chown may take effect (the install's write grants);
    /// `None` lets every one continue (audit).
    pub perm: Option<WriteGrants>,
    /// How a process is attributed to a package and hook (the plan's).
    pub attribution: Vec<crate::model::plan::Attribution>,
    /// pkgwarden's own files inside a file grant: every change to them is
    /// refused (`monitor::keep`).
    pub kept: super::keep::Guard,
    /// The procfs mounts landlock grants nothing on: the supervisor opens
    /// files there for the install (`monitor::procopen`). Empty: the kernel
    /// opens them (audit).
    pub through_supervisor: Vec<PathBuf>,
}

/// The places landlock lets an install write, as paths: what a chmod or
/// chown (for which landlock has no right) is judged by.
#[derive(Clone, Debug, Default)]
pub struct WriteGrants {
    /// Directories written beneath (themselves included).
    pub dirs: Vec<PathBuf>,
    /// Directories whose files (not themselves) are written.
    pub file_dirs: Vec<PathBuf>,
    /// Single files.
    pub files: Vec<PathBuf>,
    /// Files inside those grants that are not the install's (pkgwarden's
    /// own, kept by the supervisor).
    pub except: Vec<PathBuf>,
}

impl WriteGrants {
    /// The write grants among landlock's, by their real paths (the
    /// supervisor judges the path the kernel gives for the file it holds).
    pub fn from_grants(grants: &[crate::sandbox::landlock::Grant]) -> WriteGrants {
        use crate::sandbox::landlock::Grant;
        let real = |p: &PathBuf| p.canonicalize().unwrap_or_else(|_| p.clone());
        let mut out = WriteGrants::default();
        for g in grants {
            match g {
                Grant::Write(p) => out.dirs.push(real(p)),
                Grant::Files(p) => out.file_dirs.push(real(p)),
                Grant::WriteFile(p) => out.files.push(real(p)),
                Grant::Read(_) | Grant::MakeDir(_) | Grant::ListDir(_) => {}
            }
        }
        out
    }

    /// True when `path` (a real path, as the kernel names an open file)
    /// lies within a write grant.
    pub fn allows(&self, path: &Path) -> bool {
        if self.except.iter().any(|e| e == path) {
            return false;
        }
        self.dirs.iter().any(|d| path.starts_with(d))
            || self.files.iter().any(|f| f == path)
            || self
                .file_dirs
                .iter()
                .any(|d| path != d && path.starts_with(d))
    }
}

/// Runs the loop until no process holds the filter, or until `stop` has been
/// set for longer than `grace` (processes left behind; their trapped syscalls
/// fail once the listener is closed).
pub fn supervise(
    listener: OwnedFd,
    watch: Watch,
    stop: Arc<AtomicBool>,
    grace: Duration,
) -> Observed {
    // Shared with the threads that answer slow connects.
    let listener = Arc::new(listener);
    let mut out = Observed::default();
    let mut stop_seen: Option<Instant> = None;
    // Thread id → process id: events name processes, not threads.
    let mut tgids: std::collections::HashMap<i32, i32> = std::collections::HashMap::new();
    // The processes seen inside the sandbox (thread group leaders), with
    // their start times: a pid an outside process reuses is not a member.
    let mut members = Members::new();
    // Every path the install has written so far (resolved).
    let mut written: std::collections::HashSet<String> = std::collections::HashSet::new();
    loop {
        let mut pfd = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        let n = poll(&mut pfd, 100u16).unwrap_or(-1);
        let revents = pfd[0].revents().unwrap_or(PollFlags::empty());
        if stop.load(Ordering::SeqCst) {
            let t = *stop_seen.get_or_insert_with(Instant::now);
            if t.elapsed() > grace && (n <= 0 || !revents.contains(PollFlags::POLLIN)) {
                out.still_held = !revents.contains(PollFlags::POLLHUP);
                break;
            }
        }
        if n < 0 {
            continue;
        }
        if n == 0 {
            continue;
        }
        if !revents.contains(PollFlags::POLLIN) {
            if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                break;
            }
            continue;
        }
        let Ok(req) = sys::notif_recv(&listener) else {
            continue;
        };
        out.notifications += 1;
        // Every process that traps is inside the sandbox (the filter is
        // inherited and cannot be dropped).
        let caller = req.pid as i32;
        if let std::collections::hash_map::Entry::Vacant(slot) = tgids.entry(caller) {
            let leader = tgid(caller).unwrap_or(caller);
            slot.insert(leader);
            if let Some(t) = crate::procfs::start_time(leader) {
                members.insert(leader, t);
            }
        }
        let (event, resp) = handle(&listener, &watch, &req, &members, &written);
        if let Some(mut e) = event {
            // A directory holds no program to run.
            let target = match e.kind {
                EventKind::Mkdir => None,
                k => k.written_index().and_then(|i| e.paths.get(i)),
            };
            if let Some(t) = target {
                written.insert(t.clone());
            }
            e.seq = out.events.len() as u64;
            e.syscall = seccomp::name(i64::from(req.data.nr));
            if e.kind == EventKind::Exec {
                // After execve the caller is the leader: forget stale threads.
                tgids.remove(&e.pid);
            } else if let Some(t) = tgids.get(&e.pid) {
                e.pid = *t;
            } else if let Some(t) = tgid(e.pid) {
                tgids.insert(e.pid, t);
                e.pid = t;
            }
            out.events.push(e);
        }
        if let Some(resp) = resp {
            send(&listener, req.id, resp);
        }
    }
    out
}

/// Answers notification `id`.
fn send(listener: &OwnedFd, id: u64, mut resp: libc::seccomp_notif_resp) {
    resp.id = id;
    // A target that died meanwhile gives ENOENT: nobody is left to answer.
    let _ = sys::notif_send(listener, &mut resp);
}

/// The local port a socket is bound to.
fn local_port(sock: &OwnedFd) -> Option<u16> {
    let ss: SockaddrStorage = getsockname(sock.as_raw_fd()).ok()?;
    let port = match (ss.as_sockaddr_in(), ss.as_sockaddr_in6()) {
        (Some(v4), _) => v4.port(),
        (_, Some(v6)) => v6.port(),
        _ => return None,
    };
    (port != 0).then_some(port)
}

/// Connects made on behalf of sandboxed processes, still in progress.
static CONNECTS_IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// At most this many connects wait at once; past it, new ones are refused
/// (a flood of connects to a silent address must not pile up threads).
const MAX_CONNECTS_IN_FLIGHT: usize = 64;

/// Connects the process's socket to `raw` from our own copy of it, on a
/// worker thread: a blocking connect to a slow host must not stall the
/// notifications of every other process.
fn connect_for(
    listener: &Arc<OwnedFd>,
    peers: Option<Arc<std::sync::Mutex<std::collections::HashMap<u16, i32>>>>,
    id: u64,
    pid: i32,
    sockfd: i32,
    raw: Vec<u8>,
    keep: Option<OwnedFd>,
) {
    on_worker(listener, id, move || {
        match take_fd(pid, sockfd) {
            Ok(sock) => {
                let rc = sys::connect_raw(&sock, &raw);
                // The socket file it named stays open until the connect is done.
                drop(keep);
                // Before answering: the process cannot send on the connection
                // before it has the answer, so the proxy finds the pid in time.
                if let (Some(peers), Some(port)) = (&peers, local_port(&sock))
                    && let Ok(mut p) = peers.lock()
                {
                    p.insert(port, pid);
                }
                match rc {
                    Ok(()) => ok(0),
                    Err(err) => fail(err.raw_os_error().unwrap_or(libc::EACCES)),
                }
            }
            Err(_) => fail(libc::EACCES),
        }
    });
}

/// Answers notification `id` with what `work` returns, on a worker thread
/// (a blocking connect or send must not stall the notifications of every
/// other process); past [`MAX_CONNECTS_IN_FLIGHT`] waiting, with EAGAIN.
fn on_worker(
    listener: &Arc<OwnedFd>,
    id: u64,
    work: impl FnOnce() -> libc::seccomp_notif_resp + Send + 'static,
) {
    if CONNECTS_IN_FLIGHT.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTS_IN_FLIGHT {
        CONNECTS_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        send(listener, id, fail(libc::EAGAIN));
        return;
    }
    let listener = Arc::clone(listener);
    std::thread::spawn(move || {
        send(&listener, id, work());
        CONNECTS_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    });
}

fn cont() -> libc::seccomp_notif_resp {
    libc::seccomp_notif_resp {
        id: 0,
        val: 0,
        error: 0,
        flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
    }
}

fn fail(errno: i32) -> libc::seccomp_notif_resp {
    libc::seccomp_notif_resp {
        id: 0,
        val: 0,
        error: -errno,
        flags: 0,
    }
}

fn ok(val: i64) -> libc::seccomp_notif_resp {
    libc::seccomp_notif_resp {
        id: 0,
        val,
        error: 0,
        flags: 0,
    }
}

/// The notification is still about the same live syscall (checked after
/// reading its memory, so a recycled pid cannot feed us another process's).
fn still_valid(listener: &OwnedFd, id: u64) -> bool {
    sys::notif_id_valid(listener, id)
}

/// What the supervisor does with one notification: the event to record
/// (if any) and the answer (`None`: a worker thread answers it).
type Answer = (Option<Event>, Option<libc::seccomp_notif_resp>);

/// Records and decides one notification. `None` as the answer: a worker
/// thread answers it.
fn handle(
    listener: &Arc<OwnedFd>,
    w: &Watch,
    req: &libc::seccomp_notif,
    members: &Members,
    written: &HashSet<String>,
) -> Answer {
    let nr = i64::from(req.data.nr);
    let a = req.data.args;
    let pid = req.pid as i32;
    let ev = Event {
        ms: w.start.elapsed().as_millis() as u64,
        pid,
        ..Default::default()
    };
    let mut ev = match trapped(w, nr, a, ev) {
        ControlFlow::Continue(ev) => ev,
        ControlFlow::Break(answer) => return answer,
    };
    let mem = Mem { pid };
    let mut paths = Paths {
        mem: &mem,
        pid,
        raw: Vec::new(),
        undecodable: false,
        unresolved: false,
        missing: false,
    };
    let call = Call {
        listener,
        w,
        req,
        nr,
        a,
        pid,
        members,
        written,
    };
    let flow = record(&call, &mut ev, &mut paths);
    if paths.undecodable || paths.unresolved {
        if ev.paths.is_empty() {
            ev.paths = paths.raw.clone();
        }
        return refuse(ev, libc::EACCES, w.observe_only);
    }
    let keep = match flow {
        ControlFlow::Continue(keep) => keep,
        ControlFlow::Break(answer) => return answer,
    };
    if !keep || !still_valid(listener, req.id) {
        return (None, Some(cont()));
    }
    let raw = paths.raw;
    if raw.len() == ev.paths.len() && raw != ev.paths {
        ev.raw_paths = raw;
    }
    if changes_kept(&w.kept, &ev) {
        return refuse(ev, libc::EPERM, w.observe_only);
    }
    (Some(ev), Some(cont()))
}

/// True when the recorded call would change one of pkgwarden's own files
/// that a file grant covers: a write open or truncate of what the path
/// leads to, or a rename, link, unlink, symlink or mknod naming it (both
/// ends of a rename or link). The path is the resolved one; a race on it
/// is what the copy taken before the install is for.
fn changes_kept(kept: &super::keep::Guard, ev: &Event) -> bool {
    if kept.is_empty() {
        return false;
    }
    match ev.kind {
        EventKind::OpenWrite | EventKind::Truncate => {
            ev.paths.first().is_some_and(|p| kept.touches(p, true))
        }
        EventKind::Rename | EventKind::Link | EventKind::Unlink | EventKind::Mknod => {
            ev.paths.iter().any(|p| kept.touches(p, false))
        }
        // The link's own path, not the target it is given.
        EventKind::Symlink => ev.paths.get(1).is_some_and(|p| kept.touches(p, false)),
        _ => false,
    }
}

/// The rules' verdict on a call: `Continue` with the event when it is trapped for
/// the supervisor to read, else the answer (a denial is recorded).
fn trapped(w: &Watch, nr: i64, a: [u64; 6], mut ev: Event) -> ControlFlow<Answer, Event> {
    match w.rules.verdict(nr, a) {
        Verdict::Deny(errno) if !w.observe_only => {
            ev.kind = EventKind::Denied;
            ev.action = Action::Denied;
            ev.errno = Some(errno);
            ev.flags = a[0];
            ControlFlow::Break((Some(ev), Some(fail(errno))))
        }
        Verdict::Deny(_) => {
            ev.kind = EventKind::Denied;
            ev.flags = a[0];
            ControlFlow::Break((Some(ev), Some(cont())))
        }
        Verdict::Allow | Verdict::KernelErrno(_) => ControlFlow::Break((None, Some(cont()))),
        Verdict::Trap => ControlFlow::Continue(ev),
    }
}

/// The paths a call names, read from the process's memory and resolved
/// for it; each as given is kept beside the resolved one as evidence.
struct Paths<'a> {
    mem: &'a Mem,
    pid: i32,
    raw: Vec<String>,
    /// A path of the call resolved to a name that is not UTF-8: the rules,
    /// which judge text, cannot judge it exactly, so the call is refused
    /// (fail closed) but in audit.
    undecodable: bool,
    /// A path of the call could not be resolved (a failure other than a
    /// missing name): refused the same way.
    unresolved: bool,
    /// The last path resolved names nothing (yet).
    missing: bool,
}

impl Paths<'_> {
    /// The path at `ptr` relative to `dirfd`, a final symlink followed when
    /// `follow`. Resolved from its exact bytes (a `\xff` directory that is a
    /// link leads where the kernel goes, not to a missing name).
    fn at_follow(&mut self, dirfd: u64, ptr: u64, follow: bool) -> String {
        let given = self.mem.path(ptr);
        let resolved = match resolve_path(self.pid, dirfd as i64 as i32, &given, follow) {
            Ok(r) => {
                self.missing = !r.exists;
                r.path
            }
            Err(_) => {
                self.unresolved = true;
                self.missing = false;
                given.clone()
            }
        };
        let text = match resolved.to_str() {
            Some(t) => t.to_string(),
            None => {
                self.undecodable = true;
                resolved.to_string_lossy().into_owned()
            }
        };
        self.raw.push(given.to_string_lossy().into_owned());
        text
    }

    /// Most calls act on the last name itself (rename, unlink, mkdir …).
    fn at(&mut self, dirfd: u64, ptr: u64) -> String {
        self.at_follow(dirfd, ptr, false)
    }
}

/// One trapped call being read: where it is answered, what the install is
/// watched for, the call and its caller, and the install's processes and
/// the files it wrote.
#[derive(Clone, Copy)]
struct Call<'a> {
    listener: &'a Arc<OwnedFd>,
    w: &'a Watch,
    req: &'a libc::seccomp_notif,
    nr: i64,
    a: [u64; 6],
    pid: i32,
    members: &'a Members,
    written: &'a HashSet<String>,
}

/// Reads one trapped call into `ev`: `Continue(true)` to record it,
/// `Continue(false)` to let it go unrecorded, `Break` with the answer when
/// it is decided here.
fn record(c: &Call, ev: &mut Event, paths: &mut Paths) -> ControlFlow<Answer, bool> {
    let &Call {
        listener,
        w,
        req,
        nr,
        a,
        ..
    } = c;
    let cwd = libc::AT_FDCWD as u64;
    use libc::*;
    match nr {
        n if n == SYS_execve || n == SYS_execveat => exec_call(c, ev, paths),
        n if n == SYS_openat || is_legacy(n, "open") || is_legacy(n, "creat") => {
            open_call(c, ev, paths)
        }
        n if n == SYS_mknodat || is_legacy(n, "mknod") => {
            ev.kind = EventKind::Mknod;
            let path = if n == SYS_mknodat {
                paths.at(a[0], a[1])
            } else {
                paths.at(cwd, a[0])
            };
            if let Some(m) = creation_mode(n, a, 0).filter(|m| m & SET_ID != 0)
                && still_valid(listener, req.id)
            {
                let ev = std::mem::take(ev);
                return ControlFlow::Break(set_id_at_creation(ev, path, m, w.observe_only));
            }
            ev.paths = vec![path];
            ControlFlow::Continue(true)
        }
        n if n == SYS_fchmod
            || n == SYS_fchmodat
            || n == SYS_fchmodat2
            || n == SYS_fchown
            || n == SYS_fchownat
            || is_legacy(n, "chmod")
            || is_legacy(n, "chown")
            || is_legacy(n, "lchown") =>
        {
            let ev = std::mem::take(ev);
            ControlFlow::Break(permissions(listener, w, req, ev, paths.mem))
        }
        n if n == SYS_connect
            || n == SYS_bind
            || n == SYS_sendto
            || n == SYS_sendmsg
            || n == SYS_sendmmsg =>
        {
            let ev = std::mem::take(ev);
            ControlFlow::Break(network(listener, w, req, ev, paths.mem))
        }
        _ => ControlFlow::Continue(file_change(nr, a, ev, paths)),
    }
}

/// Calls that change the file tree and are only recorded (landlock
/// decides them), and `listen`; true when `nr` is one of them.
fn file_change(nr: i64, a: [u64; 6], ev: &mut Event, paths: &mut Paths) -> bool {
    let cwd = libc::AT_FDCWD as u64;
    use libc::*;
    match nr {
        n if n == SYS_renameat || n == SYS_renameat2 || is_legacy(n, "rename") => {
            ev.kind = EventKind::Rename;
            ev.paths = if n == SYS_renameat || n == SYS_renameat2 {
                vec![paths.at(a[0], a[1]), paths.at(a[2], a[3])]
            } else {
                vec![paths.at(cwd, a[0]), paths.at(cwd, a[1])]
            };
            true
        }
        n if n == SYS_linkat || is_legacy(n, "link") => {
            ev.kind = EventKind::Link;
            // The source is the inode linked: the file it names is judged.
            ev.paths = if n == SYS_linkat {
                let follow = a[4] as i32 & AT_SYMLINK_FOLLOW != 0;
                vec![paths.at_follow(a[0], a[1], follow), paths.at(a[2], a[3])]
            } else {
                vec![paths.at(cwd, a[0]), paths.at(cwd, a[1])]
            };
            true
        }
        n if n == SYS_symlinkat || is_legacy(n, "symlink") => {
            ev.kind = EventKind::Symlink;
            // The target is stored as written; the link path is resolved.
            ev.paths = if n == SYS_symlinkat {
                let target = paths.mem.string(a[0]);
                paths.raw.push(target.clone());
                vec![target, paths.at(a[1], a[2])]
            } else {
                let target = paths.mem.string(a[0]);
                paths.raw.push(target.clone());
                vec![target, paths.at(cwd, a[1])]
            };
            true
        }
        n if n == SYS_unlinkat || is_legacy(n, "unlink") || is_legacy(n, "rmdir") => {
            ev.kind = EventKind::Unlink;
            ev.paths = vec![if n == SYS_unlinkat {
                paths.at(a[0], a[1])
            } else {
                paths.at(cwd, a[0])
            }];
            true
        }
        n if n == SYS_mkdirat || is_legacy(n, "mkdir") => {
            ev.kind = EventKind::Mkdir;
            ev.paths = vec![if n == SYS_mkdirat {
                paths.at(a[0], a[1])
            } else {
                paths.at(cwd, a[0])
            }];
            true
        }
        n if n == SYS_truncate => {
            ev.kind = EventKind::Truncate;
            ev.paths = vec![paths.at_follow(cwd, a[0], true)];
            true
        }
        n if n == SYS_memfd_create => {
            ev.kind = EventKind::Memfd;
            ev.paths = vec![paths.mem.string(a[0])];
            true
        }
        n if n == SYS_listen => {
            ev.kind = EventKind::Listen;
            true
        }
        _ => false,
    }
}

/// execve and execveat: the program, its arguments, its process and
/// package. In block, a file this install wrote is refused unless it runs
/// from the payload or a build directory.
fn exec_call(c: &Call, ev: &mut Event, paths: &mut Paths) -> ControlFlow<Answer, bool> {
    use libc::*;
    let &Call {
        listener,
        w,
        req,
        nr: n,
        a,
        pid,
        written,
        ..
    } = c;
    let cwd = AT_FDCWD as u64;
    let mem = paths.mem;
    let (path, argv, envp) = if n == SYS_execve {
        (paths.at_follow(cwd, a[0], true), a[1], a[2])
    } else {
        let follow = a[4] as i32 & AT_SYMLINK_NOFOLLOW == 0;
        (paths.at_follow(a[0], a[1], follow), a[2], a[3])
    };
    ev.kind = EventKind::Exec;
    // A program that is no file on disk: a memfd, or a file deleted
    // after it was opened, run through its descriptor (execveat,
    // `/proc/self/fd/N`). Fileless code is exec.dropped.
    let anonymous = is_anonymous_exec(&path);
    // A PATH search tries names that do not exist: not an exec. A path
    // that could not be resolved is no miss (`handle` refuses it).
    if !anonymous && paths.missing {
        return ControlFlow::Break((None, Some(cont())));
    }
    ev.paths = vec![path];
    ev.argv = Some(mem.argv(argv));
    ev.ppid = ppid(pid);
    ev.cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))
        .ok()
        .map(|p| p.display().to_string());
    exec_attribution(ev, w, mem, envp);
    // Block: a file this install wrote runs only from the payload or
    // a build directory (the program, or a script handed to it).
    if let Some(roots) = &w.exec_roots {
        let dropped = runs_dropped(ev, &paths.raw, roots, written);
        if (dropped || anonymous) && still_valid(listener, req.id) {
            ev.action = Action::Denied;
            ev.errno = Some(EACCES);
            return ControlFlow::Break((Some(std::mem::take(ev)), Some(fail(EACCES))));
        }
    }
    ControlFlow::Continue(true)
}

/// The package and hook an exec runs for, by the plan's attribution
/// build's working directory, or a conda link script.
fn exec_attribution(ev: &mut Event, w: &Watch, mem: &Mem, envp: u64) {
    // By the plan's attribution shapes (at exec time, while a build's
    // directory and its metadata exist).
    let env = |names: &[&str]| mem.env_values(envp, names);
    if let Some((p, h)) = crate::monitor::attribution::attribute(
        &w.attribution,
        ev.cwd.as_deref(),
        ev.argv.as_deref(),
        Some(&env),
    ) {
        ev.package = Some(p);
        ev.hook = Some(h);
    }
}

/// Whether an exec runs a file this install wrote from outside `roots`:
/// the program (resolved or as given), or what an interpreter (the
/// dynamic loader too) may take as its program, resolved against the
/// exec's working directory (`detect::exec::program_operands`).
fn runs_dropped(ev: &Event, raw: &[String], roots: &[PathBuf], written: &HashSet<String>) -> bool {
    use crate::detect::exec::{program_operands, resolve_operand};
    let argv = ev.argv.as_deref().unwrap_or(&[]);
    // Later operands, and a file handed to any other program (`tar xf`),
    // are only read.
    let interp = ev
        .paths
        .iter()
        .chain(argv.first())
        .any(|p| crate::detect::data::is_interpreter(p));
    let ops: &[String] = if interp { argv } else { &[] };
    let operands: Vec<String> = program_operands(ops)
        .into_iter()
        .flat_map(|op| resolve_operand(ev.cwd.as_deref(), op))
        .map(|p| p.display().to_string())
        .collect();
    ev.paths
        .iter()
        .chain(raw.iter())
        .chain(operands.iter())
        .any(|t| {
            written.contains(t)
                && !t.starts_with("/dev/")
                && !roots.iter().any(|r| Path::new(t).starts_with(r))
        })
}

/// open, openat and creat: a write, a credential read, a gem plugin
/// loaded; a set-id mode at creation and another process's /proc entry
/// are refused.
fn open_call(c: &Call, ev: &mut Event, paths: &mut Paths) -> ControlFlow<Answer, bool> {
    let &Call {
        listener,
        w,
        req,
        nr: n,
        a,
        pid,
        members,
        ..
    } = c;
    use libc::*;
    let cwd = AT_FDCWD as u64;
    let (dirfd, flags) = if n == SYS_openat {
        (a[0], a[2])
    } else if is_legacy(n, "creat") {
        (cwd, (O_CREAT | O_WRONLY | O_TRUNC) as u64)
    } else {
        (cwd, a[1])
    };
    // The kernel follows a final symlink unless told not to, or
    // unless the file must be new (O_CREAT|O_EXCL).
    let f = flags as i32;
    let follow = f & O_NOFOLLOW == 0 && f & (O_CREAT | O_EXCL) != (O_CREAT | O_EXCL);
    let ptr = if n == SYS_openat { a[1] } else { a[0] };
    let path = paths.at_follow(dirfd, ptr, follow);
    let write = (flags as i32 & O_ACCMODE) != O_RDONLY || flags as i32 & (O_CREAT | O_TRUNC) != 0;
    ev.flags = flags;
    ev.kind = if write {
        EventKind::OpenWrite
    } else {
        EventKind::OpenRead
    };
    if let Some(m) = creation_mode(n, a, flags).filter(|m| m & SET_ID != 0)
        && still_valid(listener, req.id)
    {
        let ev = std::mem::take(ev);
        return ControlFlow::Break(set_id_at_creation(ev, path, m, w.observe_only));
    }
    // Another process's /proc entry (its environment, memory,
    // descriptors, root): refused unless that process is inside the
    // sandbox. The open is held while we decide, so the answer is
    // the kernel's.
    if !w.observe_only
        && other_procs(pid, &path)
            .into_iter()
            .any(|other| !in_sandbox(other, pid, members))
        && still_valid(listener, req.id)
    {
        ev.flags = flags;
        ev.kind = if write {
            EventKind::OpenWrite
        } else {
            EventKind::OpenRead
        };
        ev.paths = vec![path];
        return ControlFlow::Break(refuse(std::mem::take(ev), EPERM, false));
    }
    // On a procfs the supervisor opens the file itself, by the path it
    // resolved: the kernel refuses the install any path there.
    if let Some(mount) = w
        .through_supervisor
        .iter()
        .find(|m| Path::new(&path).starts_with(m))
        && f & O_PATH == 0
        && still_valid(listener, req.id)
    {
        let rel = Path::new(&path)
            .strip_prefix(mount)
            .unwrap_or(Path::new(""));
        ev.paths = vec![path.clone()];
        return ControlFlow::Break(open_for(c, std::mem::take(ev), rel, f));
    }
    let secret =
        w.secrets.iter().any(|s| Path::new(&path).starts_with(s)) || is_other_environ(&path, pid);
    // A RubyGems plugin loaded: what that process does next is the plugin's.
    let plugin = !write && crate::detect::gemplugin::is_plugin_file(Path::new(&path));
    ev.paths = vec![path];
    ControlFlow::Continue(write || secret || plugin)
}

/// An open on a procfs, made here and handed over (`monitor::procopen`):
/// answered with the new descriptor, or refused with the errno the open
/// gave. Nothing is recorded: a read of the caller's own entries is no
/// evidence, and another process outside the sandbox was refused before.
fn open_for(c: &Call, ev: Event, rel: &Path, flags: i32) -> Answer {
    use super::procopen::{self, Handed};
    let me = tgid(c.pid).unwrap_or(c.pid);
    let path = PathBuf::from(ev.paths.first().cloned().unwrap_or_default());
    let fd = procopen::judge(rel, me, procopen::writes(flags), tgid)
        .and_then(|how| procopen::open(&path, flags, &how));
    let fd = match fd {
        Ok(fd) => fd,
        Err(errno) => return (None, Some(fail(errno))),
    };
    let cloexec = flags & libc::O_CLOEXEC != 0;
    match procopen::hand_over(c.listener, c.req.id, &fd, cloexec) {
        Handed::Answered => (None, None),
        Handed::Installed(n) => (None, Some(ok(i64::from(n)))),
        Handed::Failed(errno) => (None, Some(fail(errno))),
    }
}

/// Opens (`O_PATH`) directory `path`, a path already resolved, following no
/// symlink on the way. `Err` is the errno.
pub(super) fn open_exact_dir(path: &Path) -> Result<OwnedFd, i32> {
    open_no_symlinks(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
}

/// The most messages of one `sendmmsg` the kernel looks at (`UIO_MAXIOV`).
const MAX_MMSG: u64 = 1024;

/// Size of `struct msghdr` and of `struct mmsghdr` (x86_64 and aarch64).
const MSGHDR: u64 = 56;
const MMSGHDR: u64 = 64;

/// One destination a syscall names, as the process wrote it.
struct Dest {
    /// The raw `sockaddr` bytes.
    raw: Vec<u8>,
    /// The start of the message's data (for DNS decoding), when a datagram.
    payload: Vec<u8>,
}

/// Every destination address of a connect, bind, sendto, sendmsg or
/// sendmmsg (a message without a name has none: it goes to the connected
/// peer, checked at connect). `Err` when some part could not be read: the
/// caller refuses, since the kernel may read what we could not.
fn destinations(nr: i64, a: [u64; 6], mem: &Mem) -> Result<Vec<Dest>, String> {
    use libc::*;
    // sockaddr_storage: longer names are refused (connect, sendto) or cut
    // there (msghdr) by the kernel.
    let read_name = |ptr: u64, len: u64, cut: bool| -> Result<Option<Vec<u8>>, String> {
        let len = len & 0xffff_ffff;
        // The kernel rejects a negative length, and ignores a name without
        // pointer or length.
        if ptr == 0 || len == 0 || len > 0x7fff_ffff {
            return Ok(None);
        }
        if len > 128 && !cut {
            return Err(format!("address length {len}"));
        }
        let want = (len as usize).min(128);
        let raw = mem.bytes(ptr, want);
        if raw.len() != want {
            return Err("unreadable address".into());
        }
        Ok(Some(raw))
    };
    let payload = |iov: u64, iovlen: u64| -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..iovlen.min(8) {
            let base = mem.u64(iov + 16 * i).unwrap_or(0);
            let len = mem.u64(iov + 16 * i + 8).unwrap_or(0);
            let want = (len as usize).min(512 - out.len());
            out.extend(mem.bytes(base, want));
            if out.len() >= 512 {
                break;
            }
        }
        out
    };
    let msg = |hdr: u64| -> Result<Option<Dest>, String> {
        let h = mem.bytes(hdr, MSGHDR as usize);
        if h.len() != MSGHDR as usize {
            return Err("unreadable message header".into());
        }
        let word = |off: usize| u64::from_ne_bytes(h[off..off + 8].try_into().unwrap_or([0; 8]));
        let Some(raw) = read_name(word(0), word(8), true)? else {
            return Ok(None);
        };
        Ok(Some(Dest {
            raw,
            payload: payload(word(16), word(24)),
        }))
    };
    if nr == SYS_connect || nr == SYS_bind {
        return Ok(read_name(a[1], a[2], false)?
            .map(|raw| Dest {
                raw,
                payload: Vec::new(),
            })
            .into_iter()
            .collect());
    }
    if nr == SYS_sendto {
        return Ok(read_name(a[4], a[5], false)?
            .map(|raw| Dest {
                raw,
                payload: mem.bytes(a[1], (a[2] as usize).min(512)),
            })
            .into_iter()
            .collect());
    }
    if nr == SYS_sendmsg {
        return Ok(msg(a[1])?.into_iter().collect());
    }
    // sendmmsg: every message, as far as the kernel would go.
    let mut out = Vec::new();
    for i in 0..(a[2] & 0xffff_ffff).min(MAX_MMSG) {
        out.extend(msg(a[1] + i * MMSGHDR)?);
    }
    Ok(out)
}

/// What the supervisor does with one destination.
#[derive(Debug, PartialEq, Eq)]
enum Judged {
    /// Nothing to decide, nothing to record (a disconnect, the kernel's
    /// own netlink).
    Quiet,
    /// Recorded, left to the kernel.
    Continue,
    /// Performed by the supervisor on its copy of the socket (connects to
    /// the allowed addresses).
    ConnectForIt,
    /// Refused with this errno.
    Refuse(i32),
}

/// Decides one destination of syscall `nr` (pure: the unit tests drive it).
fn judge(nr: i64, target: Option<&Target>, net: &NetPolicy, privileged: bool) -> Judged {
    use libc::*;
    let connect = nr == SYS_connect;
    let bind = nr == SYS_bind;
    match target {
        // Fail closed: an address the supervisor cannot read is one it
        // cannot judge (AF_UNSPEC on a UDP socket is IPv4 to the kernel).
        None => Judged::Refuse(EPERM),
        // connect(AF_UNSPEC) dissolves an association, on every family.
        Some(Target::Unspec) if connect => Judged::Quiet,
        Some(Target::Unspec) => Judged::Refuse(EPERM),
        // The C library's routing and interface queries go to the kernel.
        Some(Target::Netlink { pid: 0, groups: 0 }) => Judged::Quiet,
        Some(Target::Netlink { .. }) => Judged::Refuse(EPERM),
        // The proxy is connected to for the process in audit too: then the
        // proxy knows which process asked (the package a request is
        // attributed to, which `policy suggest` scopes its entries by).
        Some(Target::Ip(sa)) if connect && net.allowed.contains(sa) => Judged::ConnectForIt,
        _ if net.observe_only => Judged::Continue,
        // TCP binds are refused by landlock; the attempt is the evidence.
        Some(_) if bind => Judged::Continue,
        // Nothing else leaves by IP: datagrams included (the proxy resolves
        // names, the install needs no DNS of its own).
        Some(Target::Ip(_)) => Judged::Refuse(ECONNREFUSED),
        Some(Target::Unix(_)) if privileged => Judged::Refuse(EACCES),
        // Judged again on the file itself before the supervisor connects
        // (`let_through`): whether it lies where sockets may be reached.
        Some(Target::Unix(p)) if connect && !p.starts_with('@') && !net.unix_allowed.is_empty() => {
            Judged::Continue
        }
        Some(Target::Unix(_)) if net.deny_all_unix => Judged::Refuse(EACCES),
        // An abstract name is not a file the supervisor can open and pin,
        // and connecting for the process would lose landlock's scoping of
        // the abstract namespace (the supervisor is outside the domain).
        // Continued, the kernel reads the address again: a thread swapping
        // in the agent's path after the check reached it.
        Some(Target::Unix(p)) if connect && p.starts_with('@') => Judged::Refuse(EACCES),
        Some(Target::Unix(_)) => Judged::Continue,
    }
}

/// connect, bind and datagrams with a destination: every address of every
/// message is read and judged; one refused address refuses the call.
fn network(
    listener: &Arc<OwnedFd>,
    w: &Watch,
    req: &libc::seccomp_notif,
    mut ev: Event,
    mem: &Mem,
) -> (Option<Event>, Option<libc::seccomp_notif_resp>) {
    use libc::*;
    let nr = i64::from(req.data.nr);
    let a = req.data.args;
    let pid = req.pid as i32;
    ev.kind = if nr == SYS_connect {
        EventKind::Connect
    } else if nr == SYS_bind {
        EventKind::Bind
    } else {
        EventKind::Send
    };
    let dests = destinations(nr, a, mem);
    if !still_valid(listener, req.id) {
        return (None, Some(cont()));
    }
    let dests = match dests {
        Ok(d) => d,
        Err(why) => {
            ev.addr = Some(format!("unreadable: {why}"));
            return refuse(ev, EPERM, w.net.observe_only);
        }
    };
    if dests.is_empty() {
        return unnamed(listener, req, ev, mem, w.net.observe_only);
    }
    let (verdict, chosen) = worst_destination(nr, pid, &dests, &w.net, &mut ev);
    let Some((target, dest)) = chosen else {
        return (None, Some(cont()));
    };
    ev.addr = Some(match &target {
        Some(t) => t.to_string(),
        None => describe_unparsed(&dest.raw),
    });
    if ev.dns_query.is_some() {
        // A datagram that is a DNS query (to port 53 or any other
        // resolver): the name is the evidence (a long encoded label is how
        // DNS exfiltration looks).
        ev.kind = EventKind::Dns;
    }
    match verdict {
        Judged::Quiet => (None, Some(perform_quiet(listener, req, &dests, mem))),
        Judged::Refuse(errno) => refuse(ev, errno, w.net.observe_only),
        Judged::ConnectForIt if dests.len() == 1 => {
            // Connect on our own copy of the socket, to the address we checked.
            connect_for(
                listener,
                w.net.peers.clone(),
                req.id,
                pid,
                a[0] as i32,
                dest.raw.clone(),
                None,
            );
            ev.action = Action::Allowed;
            (Some(ev), None)
        }
        Judged::ConnectForIt => refuse(ev, EPERM, false),
        Judged::Continue => match &target {
            Some(Target::Unix(path))
                if !w.net.observe_only && nr != SYS_bind && nr != SYS_connect =>
            {
                send_unix_for(listener, w, req, ev, path, &dests, mem)
            }
            _ => let_through(listener, w, req, ev, target, &dests),
        },
    }
}

/// A datagram to a unix name that the rules let through (protect): sent by
/// the supervisor on its copy of the socket, with the data it read, to the
/// socket file it opened and judged by inode. Continued, the kernel would
/// look the descriptor number and the name up again: a second thread
/// `dup2`-ing a UDP socket onto the number and writing an IP address into
/// the name sent anywhere. An abstract name cannot be pinned, and several
/// messages (`sendmmsg`) are not sent for the process: refused.
fn send_unix_for(
    listener: &Arc<OwnedFd>,
    w: &Watch,
    req: &libc::seccomp_notif,
    ev: Event,
    path: &str,
    dests: &[Dest],
    mem: &Mem,
) -> Answer {
    use libc::*;
    let nr = i64::from(req.data.nr);
    let a = req.data.args;
    let pid = req.pid as i32;
    if dests.len() != 1 || path.starts_with('@') {
        return refuse(ev, EPERM, false);
    }
    let (data, flags) = match nr {
        n if n == SYS_sendto => (gather(mem, &[(a[1], a[2])], MAX_UNNAMED_SEND), a[3]),
        n if n == SYS_sendmsg => (sendmsg_data(mem, a[1], MAX_UNNAMED_SEND), a[2]),
        _ => return refuse(ev, EPERM, false),
    };
    let data = match data {
        Ok(d) => d,
        Err(errno) => return refuse(ev, errno, false),
    };
    let Ok(sock) = take_fd(pid, a[0] as i32) else {
        return refuse(ev, EBADF, false);
    };
    let file = match open_unix(pid, path) {
        Ok((f, _)) if is_privileged_file(&f, &w.net.privileged_unix) => {
            return refuse(ev, EACCES, false);
        }
        Ok((f, at)) if !unix_file_reachable(&w.net, &f, &at) => return refuse(ev, EACCES, false),
        Ok((f, _)) => f,
        Err(errno) => return refuse(ev, errno, false),
    };
    if !still_valid(listener, req.id) {
        return (None, Some(fail(EPERM)));
    }
    let addr = unix_addr_of(&file);
    let flags = (flags & 0xffff_ffff) as u32 as i32;
    on_worker(listener, req.id, move || {
        let done = sys::sendto_raw(&sock, &data, flags, &addr);
        // The socket file it named stays open until the send is done.
        drop(file);
        match done {
            Ok(n) => ok(n as i64),
            Err(err) => fail(err.raw_os_error().unwrap_or(EPERM)),
        }
    });
    (Some(ev), None)
}

/// The most data one datagram without a name carries, sent for the
/// process (a unix datagram socket's default send buffer, rounded up).
const MAX_UNNAMED_SEND: usize = 256 * 1024;

/// A call that names no destination: it goes to the connected peer,
/// checked at connect. connect, bind and sendto hold the name's pointer and
/// length in registers, so the kernel reads none either. A `sendmsg`
/// header is memory, and so is the descriptor table: continued, the kernel
/// would look both up again, and a second thread that moved a datagram
/// socket onto the number (`dup2`) and put a name in the header since
/// would send anywhere, even where the socket judged was a stream one. So
/// the supervisor sends the data it read, with the descriptors it took, on
/// its copy of the socket; `sendmmsg` (which also writes each message's
/// count back into the process) is refused.
fn unnamed(
    listener: &Arc<OwnedFd>,
    req: &libc::seccomp_notif,
    mut ev: Event,
    mem: &Mem,
    observe_only: bool,
) -> Answer {
    use libc::*;
    let nr = i64::from(req.data.nr);
    let a = req.data.args;
    let pid = req.pid as i32;
    if (nr != SYS_sendmsg && nr != SYS_sendmmsg) || observe_only {
        return (None, Some(cont()));
    }
    ev.addr = Some("none in the message header".into());
    if nr == SYS_sendmmsg {
        return refuse(ev, EPERM, false);
    }
    let Ok(sock) = take_fd(pid, a[0] as i32) else {
        return (None, Some(fail(EBADF)));
    };
    let flags = (a[2] & 0xffff_ffff) as u32 as i32;
    let stream = sys::socket_type(&sock) == Some(SOCK_STREAM);
    // A fast open connects to the header's name: nothing ordinary does it
    // on a socket already judged.
    if stream && flags & MSG_FASTOPEN != 0 {
        return refuse(ev, EPERM, false);
    }
    let msg = match read_message(mem, pid, a[1], stream) {
        Ok(m) => m,
        Err((errno, why)) => {
            ev.addr = Some(format!("none in the message header; {why}"));
            return refuse(ev, errno, false);
        }
    };
    if !still_valid(listener, req.id) {
        return (None, Some(fail(EPERM)));
    }
    send_for(listener, req.id, sock, msg, flags);
    (None, None)
}

/// A nameless message as the supervisor read it once: its data and its
/// descriptors (the supervisor's copies, closed after the send).
struct Message {
    data: Vec<u8>,
    fds: Vec<OwnedFd>,
}

/// Reads the `sendmsg` header at `hdr` of process `pid`: the data (on a
/// stream socket at most [`MAX_UNNAMED_SEND`], sent as a short count the
/// caller loops on; otherwise whole or EMSGSIZE, a datagram is not cut)
/// and the descriptors its control data passes, taken from the process.
/// `Err`: the errno and why, for the record.
fn read_message(mem: &Mem, pid: i32, hdr: u64, stream: bool) -> Result<Message, (i32, String)> {
    let h = mem.bytes(hdr, MSGHDR as usize);
    if h.len() != MSGHDR as usize {
        return Err((libc::EFAULT, "unreadable message header".into()));
    }
    let word = |off: usize| u64::from_ne_bytes(h[off..off + 8].try_into().unwrap_or([0; 8]));
    let (iov, iovlen, control, controllen) = (word(16), word(24), word(32), word(40));
    if iovlen > MAX_MMSG {
        return Err((libc::EMSGSIZE, format!("{iovlen} iovecs")));
    }
    let mut parts = Vec::new();
    for i in 0..iovlen {
        let (Some(base), Some(len)) = (mem.u64(iov + 16 * i), mem.u64(iov + 16 * i + 8)) else {
            return Err((libc::EFAULT, "unreadable iovec".into()));
        };
        parts.push((base, len));
    }
    let data = if stream {
        gather_upto(mem, &parts, MAX_UNNAMED_SEND)
    } else {
        gather(mem, &parts, MAX_UNNAMED_SEND)
    }
    .map_err(|e| (e, "unreadable data".to_string()))?;
    let numbers = match controllen {
        0 => Vec::new(),
        n if n > super::cmsg::MAX_CONTROL as u64 => {
            return Err((libc::ENOBUFS, format!("{n} bytes of control data")));
        }
        n => {
            let raw = mem.bytes(control, n as usize);
            if raw.len() != n as usize {
                return Err((libc::EFAULT, "unreadable control data".into()));
            }
            super::cmsg::rights(&raw).map_err(|r| (r.errno(), r.to_string()))?
        }
    };
    let mut fds = Vec::with_capacity(numbers.len());
    for n in numbers {
        let fd = take_fd(pid, n).map_err(|_| (libc::EBADF, format!("descriptor {n} passed")))?;
        fds.push(fd);
    }
    Ok(Message { data, fds })
}

/// Sends `msg` on `sock` (the process's socket, taken) to its connected
/// peer with the caller's flags, on a worker thread: a full receiver must
/// not stall the notifications of every other process.
fn send_for(listener: &Arc<OwnedFd>, id: u64, sock: OwnedFd, msg: Message, flags: i32) {
    use nix::sys::socket::{ControlMessage, MsgFlags, UnixAddr, sendmsg};
    on_worker(listener, id, move || {
        let raw: Vec<i32> = msg.fds.iter().map(|f| f.as_raw_fd()).collect();
        let rights = [ControlMessage::ScmRights(&raw)];
        let cmsgs: &[ControlMessage] = if raw.is_empty() { &[] } else { &rights };
        let iov = [std::io::IoSlice::new(&msg.data)];
        let flags = MsgFlags::from_bits_retain(flags);
        let done = sendmsg::<UnixAddr>(sock.as_raw_fd(), &iov, cmsgs, flags, None);
        // The copies passed go once the kernel holds its references.
        drop(msg.fds);
        match done {
            Ok(n) => ok(n as i64),
            Err(errno) => fail(errno as i32),
        }
    });
}

/// The most data one quiet send carries (the C library's and iproute's
/// netlink requests are a few hundred bytes).
const MAX_QUIET_SEND: usize = 64 * 1024;

/// Performs a quiet call (a disconnect, a request to the kernel's netlink)
/// on the supervisor's copy of the socket with the address it checked and
/// the data it read. Continued instead, the kernel would read the address
/// again, after a second thread could have put another there (an agent's
/// socket, any UDP destination): principle 1.
fn perform_quiet(
    listener: &OwnedFd,
    req: &libc::seccomp_notif,
    dests: &[Dest],
    mem: &Mem,
) -> libc::seccomp_notif_resp {
    use libc::*;
    let nr = i64::from(req.data.nr);
    let a = req.data.args;
    let [dest] = dests else {
        // sendmmsg to the kernel's netlink: nothing ordinary does it.
        return fail(EPERM);
    };
    let data = match nr {
        n if n == SYS_sendto => gather(mem, &[(a[1], a[2])], MAX_QUIET_SEND),
        n if n == SYS_sendmsg => sendmsg_data(mem, a[1], MAX_QUIET_SEND),
        _ => Ok(Vec::new()),
    };
    let Ok(sock) = take_fd(req.pid as i32, a[0] as i32) else {
        return fail(EBADF);
    };
    if !still_valid(listener, req.id) {
        return fail(EPERM);
    }
    let data = match data {
        Ok(d) => d,
        Err(errno) => return fail(errno),
    };
    // The flags are the caller's register (sendto's 4th, sendmsg's 3rd).
    let flags = |v: u64| (v & 0xffff_ffff) as u32 as i32;
    let done = match nr {
        n if n == SYS_connect => sys::connect_raw(&sock, &dest.raw).map(|()| 0),
        n if n == SYS_bind => sys::bind_raw(&sock, &dest.raw).map(|()| 0),
        n if n == SYS_sendto => sys::sendto_raw(&sock, &data, flags(a[3]), &dest.raw),
        n if n == SYS_sendmsg => sys::sendto_raw(&sock, &data, flags(a[2]), &dest.raw),
        _ => return fail(EPERM),
    };
    match done {
        Ok(n) => ok(n as i64),
        Err(err) => fail(err.raw_os_error().unwrap_or(EPERM)),
    }
}

/// The data of a `sendmsg` header at `hdr`, gathered from its iovecs; one
/// with control data is refused (a quiet netlink request has none).
fn sendmsg_data(mem: &Mem, hdr: u64, max: usize) -> Result<Vec<u8>, i32> {
    let h = mem.bytes(hdr, MSGHDR as usize);
    if h.len() != MSGHDR as usize {
        return Err(libc::EFAULT);
    }
    let word = |off: usize| u64::from_ne_bytes(h[off..off + 8].try_into().unwrap_or([0; 8]));
    if word(40) != 0 {
        return Err(libc::EPERM);
    }
    let (iov, iovlen) = (word(16), word(24));
    if iovlen > MAX_MMSG {
        return Err(libc::EMSGSIZE);
    }
    let mut parts = Vec::new();
    for i in 0..iovlen {
        let (Some(base), Some(len)) = (mem.u64(iov + 16 * i), mem.u64(iov + 16 * i + 8)) else {
            return Err(libc::EFAULT);
        };
        parts.push((base, len));
    }
    gather(mem, &parts, max)
}

/// The bytes of `(address, length)` pieces, read whole (at most `max`) or
/// refused.
fn gather(mem: &Mem, parts: &[(u64, u64)], max: usize) -> Result<Vec<u8>, i32> {
    let mut out = Vec::new();
    for &(base, len) in parts {
        let len = usize::try_from(len).map_err(|_| libc::EMSGSIZE)?;
        if len > max - out.len() {
            return Err(libc::EMSGSIZE);
        }
        let b = mem.bytes(base, len);
        if b.len() != len {
            return Err(libc::EFAULT);
        }
        out.extend(b);
    }
    Ok(out)
}

/// The bytes of `(address, length)` pieces up to `max` in all, as a stream
/// send takes them: a piece readable only in part ends the data there (the
/// kernel sends what it copied), and nothing readable at all is EFAULT.
fn gather_upto(mem: &Mem, parts: &[(u64, u64)], max: usize) -> Result<Vec<u8>, i32> {
    let mut out = Vec::new();
    for &(base, len) in parts {
        let want = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(max - out.len());
        let b = mem.bytes(base, want);
        let short = b.len() < want;
        out.extend(b);
        if short && out.is_empty() {
            return Err(libc::EFAULT);
        }
        if short || out.len() == max {
            break;
        }
    }
    Ok(out)
}

/// The destination judged most severely (a refusal over anything, anything
/// over quiet) and its verdict; the first DNS query a datagram carries is
/// read into `ev`.
fn worst_destination<'d>(
    nr: i64,
    pid: i32,
    dests: &'d [Dest],
    net: &NetPolicy,
    ev: &mut Event,
) -> (Judged, Option<(Option<Target>, &'d Dest)>) {
    use libc::*;
    let mut verdict = Judged::Quiet;
    let mut chosen: Option<(Option<Target>, &Dest)> = None;
    for d in dests {
        let target = parse_sockaddr(&d.raw);
        if ev.dns_query.is_none() && nr != SYS_connect && nr != SYS_bind {
            ev.dns_query = dns_query_name(&d.payload);
        }
        let privileged = match &target {
            Some(Target::Unix(path)) => is_privileged_unix(pid, path, &net.privileged_unix),
            _ => false,
        };
        let j = judge(nr, target.as_ref(), net, privileged);
        let worse = match (&verdict, &j) {
            (_, Judged::Refuse(_)) => !matches!(verdict, Judged::Refuse(_)),
            (Judged::Quiet, _) => true,
            _ => false,
        };
        if worse {
            verdict = j;
            chosen = Some((target, d));
        }
    }
    (verdict, chosen)
}

/// A destination the rules let through: in audit an allowed address is
/// marked so; a connect to a pathname unix socket is made by the
/// supervisor; any other unix address must go to a unix socket.
fn let_through(
    listener: &Arc<OwnedFd>,
    w: &Watch,
    req: &libc::seccomp_notif,
    mut ev: Event,
    target: Option<Target>,
    dests: &[Dest],
) -> Answer {
    use libc::*;
    let nr = i64::from(req.data.nr);
    let a = req.data.args;
    let pid = req.pid as i32;
    if w.net.observe_only
        && nr == SYS_connect
        && matches!(&target, Some(Target::Ip(sa)) if w.net.allowed.contains(sa))
    {
        ev.action = Action::Allowed;
    }
    // A connect to a pathname unix socket is made by the supervisor
    // on the socket file it opened and judged by inode, so a link
    // swapped after the check changes nothing.
    if !w.net.observe_only
        && nr == SYS_connect
        && dests.len() == 1
        && let Some(Target::Unix(path)) = &target
        && !path.starts_with('@')
    {
        return match open_unix(pid, path) {
            Ok((file, _)) if is_privileged_file(&file, &w.net.privileged_unix) => {
                refuse(ev, EACCES, false)
            }
            Ok((file, at)) if !unix_file_reachable(&w.net, &file, &at) => refuse(ev, EACCES, false),
            Ok((file, _)) => {
                connect_for(
                    listener,
                    None,
                    req.id,
                    pid,
                    a[0] as i32,
                    unix_addr_of(&file),
                    Some(file),
                );
                (Some(ev), None)
            }
            Err(errno) => refuse(ev, errno, false),
        };
    }
    // Any other unix address (a datagram's) is left to the kernel,
    // which reads it again: the socket must be a unix one, or a
    // second thread swapping in an IP address after the check would
    // be let through.
    if !w.net.observe_only
        && matches!(target, Some(Target::Unix(_)))
        && nr != SYS_bind
        && socket_family(pid, a[0] as i32) != Some(AF_UNIX)
    {
        return refuse(ev, EPERM, false);
    }
    (Some(ev), Some(cont()))
}

/// What a chmod or chown asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PermChange {
    /// New permission bits.
    Mode(u32),
    /// New owner and group (`u32::MAX`: unchanged).
    Owner(u32, u32),
}

/// Which file a chmod or chown names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PermTarget {
    /// The process's descriptor (fchmod, fchown): the open file itself.
    Fd(i32),
    /// A path (at `ptr`) relative to `dirfd`. `follow`: a final symlink is
    /// followed; `empty`: an empty path names `dirfd` (AT_EMPTY_PATH).
    Path {
        dirfd: i32,
        ptr: u64,
        follow: bool,
        empty: bool,
    },
}

/// The target and change of chmod/chown syscall `nr`, from its registers
/// (the kernel reads modes, ids, descriptors and flags as 32-bit ints).
fn perm_call(nr: i64, a: [u64; 6]) -> Option<(PermTarget, PermChange)> {
    use libc::*;
    let int = |v: u64| v as u32;
    let fd = |v: u64| v as u32 as i32;
    let at = |dirfd: u64, ptr: u64, flags: u64| PermTarget::Path {
        dirfd: fd(dirfd),
        ptr,
        follow: int(flags) as i32 & AT_SYMLINK_NOFOLLOW == 0,
        empty: int(flags) as i32 & AT_EMPTY_PATH != 0,
    };
    let cwd = AT_FDCWD as u32 as u64;
    // chmod's mode is a umode_t: the kernel keeps the permission bits.
    let mode = |v: u64| PermChange::Mode(int(v) & 0o7777);
    Some(match nr {
        n if n == SYS_fchmod => (PermTarget::Fd(fd(a[0])), mode(a[1])),
        n if n == SYS_fchmodat => (at(a[0], a[1], 0), mode(a[2])),
        n if n == SYS_fchmodat2 => (at(a[0], a[1], a[3]), mode(a[2])),
        n if n == SYS_fchown => (
            PermTarget::Fd(fd(a[0])),
            PermChange::Owner(int(a[1]), int(a[2])),
        ),
        n if n == SYS_fchownat => (
            at(a[0], a[1], a[4]),
            PermChange::Owner(int(a[2]), int(a[3])),
        ),
        n if is_legacy(n, "chmod") => (at(cwd, a[0], 0), mode(a[1])),
        n if is_legacy(n, "chown") => (at(cwd, a[0], 0), PermChange::Owner(int(a[1]), int(a[2]))),
        n if is_legacy(n, "lchown") => (
            at(cwd, a[0], AT_SYMLINK_NOFOLLOW as u64),
            PermChange::Owner(int(a[1]), int(a[2])),
        ),
        _ => return None,
    })
}

/// `uid:gid` as chown was asked (`-1`: unchanged).
fn owner_text(uid: u32, gid: u32) -> String {
    let id = |v: u32| {
        if v == u32::MAX {
            "-1".to_string()
        } else {
            v.to_string()
        }
    };
    format!("{}:{}", id(uid), id(gid))
}

/// chmod and chown, for which landlock has no right. The supervisor opens
/// the file the process names itself (`O_PATH`, no symlink followed past
/// its own resolution, or the process's own descriptor), judges that file
/// by the path the kernel gives it against the install's write grants,
/// and performs the change on that very file, answering with the result;
/// or refuses. Nothing is left for the kernel to read again from the
/// process's memory, so a link or a name swapped after the check changes
/// nothing (DESIGN.md principle 1: emulation on a private copy).
fn permissions(
    listener: &Arc<OwnedFd>,
    w: &Watch,
    req: &libc::seccomp_notif,
    mut ev: Event,
    mem: &Mem,
) -> (Option<Event>, Option<libc::seccomp_notif_resp>) {
    use libc::*;
    let nr = i64::from(req.data.nr);
    let pid = req.pid as i32;
    let Some((target, change)) = perm_call(nr, req.data.args) else {
        return (None, Some(cont()));
    };
    describe_perm_change(&mut ev, change);
    // The file, as the process names it.
    let (opened, via_fd) = open_perm_target(pid, target, mem, &mut ev);
    let file = match opened {
        Ok(f) => f,
        Err(errno) => {
            if !still_valid(listener, req.id) {
                return (None, Some(cont()));
            }
            if ev.paths.is_empty() {
                ev.paths = ev.raw_paths.clone();
            }
            ev.raw_paths.clear();
            if w.observe_only {
                return (Some(ev), Some(cont()));
            }
            ev.errno = Some(errno);
            return (Some(ev), Some(fail(errno)));
        }
    };
    // What it is: the path the kernel gives the file we hold.
    let Some(st) = stat_of(&file) else {
        return refuse(ev, EPERM, w.observe_only);
    };
    let held =
        std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).unwrap_or_default();
    ev.paths = vec![held.display().to_string()];
    if ev.raw_paths.first() == ev.paths.first() {
        ev.raw_paths.clear();
    }
    if !still_valid(listener, req.id) {
        return (None, Some(cont()));
    }
    let Some(grants) = w.perm.as_ref().filter(|_| !w.observe_only) else {
        return (Some(ev), Some(cont()));
    };
    let kind = st.st_mode & S_IFMT;
    // A file with no name left matters to nobody but its holders.
    let nameless = st.st_nlink == 0 && kind != S_IFDIR;
    // Setuid and setgid programs outlive the install with another user's
    // (root's) rights: no install makes one. A setgid directory is how
    // shared group directories work.
    let set_id =
        matches!(change, PermChange::Mode(m) if m & (S_ISUID | S_ISGID) != 0 && kind != S_IFDIR);
    if set_id || !(nameless || grants.allows(&held)) {
        return refuse(ev, EPERM, false);
    }
    // The kernel's own permission rules, for the caller's credentials (the
    // supervisor may hold more: npm's scripts run as the project's owner).
    let change = match Creds::of(pid).map(|c| c.permits(change, &st)) {
        Some(Ok(c)) => c,
        Some(Err(errno)) => {
            ev.errno = Some(errno);
            return (Some(ev), Some(fail(errno)));
        }
        None => return refuse(ev, EPERM, false),
    };
    let rc = apply_perm_change(&file, kind, change, via_fd);
    match rc {
        Ok(()) => {
            ev.action = Action::Allowed;
            (Some(ev), Some(ok(0)))
        }
        Err(errno) => {
            ev.errno = Some(errno as i32);
            (Some(ev), Some(fail(errno as i32)))
        }
    }
}

/// The event's kind and detail for a chmod or chown.
fn describe_perm_change(ev: &mut Event, change: PermChange) {
    match change {
        PermChange::Mode(m) => {
            ev.kind = if m & 0o111 != 0 {
                EventKind::ChmodExec
            } else {
                EventKind::Chmod
            };
            ev.flags = u64::from(m);
        }
        PermChange::Owner(u, g) => {
            ev.kind = EventKind::Chown;
            ev.owner = Some(owner_text(u, g));
        }
    }
}

/// The file a chmod or chown names, opened by the supervisor (`O_PATH`)
/// or taken from the process; true when it was the process's descriptor.
fn open_perm_target(
    pid: i32,
    target: PermTarget,
    mem: &Mem,
    ev: &mut Event,
) -> (Result<OwnedFd, i32>, bool) {
    use libc::*;
    use std::os::unix::ffi::OsStrExt;
    let mut via_fd = false;
    let opened: Result<OwnedFd, i32> = match target {
        PermTarget::Fd(fd) => {
            via_fd = true;
            take_fd(pid, fd).map_err(|e| e.raw_os_error().unwrap_or(EBADF))
        }
        PermTarget::Path {
            dirfd,
            ptr,
            follow,
            empty,
        } => match mem.c_path(ptr) {
            Err(errno) => Err(errno),
            Ok(given) if given.is_empty() && !empty => Err(ENOENT),
            Ok(given) if given.is_empty() && dirfd != AT_FDCWD => {
                take_fd(pid, dirfd).map_err(|e| e.raw_os_error().unwrap_or(EBADF))
            }
            Ok(given) => {
                let path = std::ffi::OsStr::from_bytes(&given);
                ev.raw_paths = vec![String::from_utf8_lossy(&given).into_owned()];
                match resolve_path(pid, dirfd, Path::new(path), follow) {
                    Ok(judged) => {
                        ev.paths = vec![judged.path.display().to_string()];
                        open_exact(&judged.path, follow)
                    }
                    Err(errno) => Err(errno),
                }
            }
        },
    };
    (opened, via_fd)
}

/// Performs the chmod or chown on the file the supervisor holds.
fn apply_perm_change(
    file: &OwnedFd,
    kind: u32,
    change: PermChange,
    via_fd: bool,
) -> Result<(), nix::errno::Errno> {
    use libc::*;
    let name = format!("/proc/self/fd/{}", file.as_raw_fd());
    // u32::MAX (-1) leaves the owner or group as it is.
    let id = |v: u32| (v != u32::MAX).then_some(v);
    match change {
        // Symlinks have no mode of their own to change.
        PermChange::Mode(_) if kind == S_IFLNK => Err(nix::errno::Errno::EOPNOTSUPP),
        PermChange::Mode(m) if via_fd => nix::sys::stat::fchmod(file, Mode::from_bits_retain(m)),
        PermChange::Mode(m) => nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            name.as_str(),
            Mode::from_bits_retain(m),
            FchmodatFlags::FollowSymlink,
        ),
        PermChange::Owner(u, g) if via_fd => {
            nix::unistd::fchown(file, id(u).map(Uid::from_raw), id(g).map(Gid::from_raw))
        }
        PermChange::Owner(u, g) => nix::unistd::fchownat(
            file,
            "",
            id(u).map(Uid::from_raw),
            id(g).map(Gid::from_raw),
            AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW,
        ),
    }
}

/// The set-id bits of a mode.
const SET_ID: u32 = libc::S_ISUID | libc::S_ISGID;

/// The mode a call that creates a file gives it (`open`/`openat` with
/// `O_CREAT` or `O_TMPFILE`, `creat`, `mknod`/`mknodat`), read from the
/// registers only: the kernel keeps its set-id bits (the umask clears only
/// what it names), so a creation is a chmod too. `openat2` carries its
/// mode in memory and fails in the kernel instead (seccomp.rs).
fn creation_mode(nr: i64, a: [u64; 6], open_flags: u64) -> Option<u32> {
    use libc::*;
    let f = open_flags as u32 as i32;
    let creates = f & O_CREAT != 0 || f & O_TMPFILE == O_TMPFILE;
    let mode = |v: u64| v as u32 & 0o7777;
    match nr {
        n if n == SYS_openat && creates => Some(mode(a[3])),
        n if is_legacy(n, "open") && creates => Some(mode(a[2])),
        n if is_legacy(n, "creat") => Some(mode(a[1])),
        n if n == SYS_mknodat => Some(mode(a[2])),
        n if is_legacy(n, "mknod") => Some(mode(a[1])),
        _ => None,
    }
}

/// A file created with a setuid or setgid bit is refused like a chmod that
/// asks for one (`perm.setuid`), wherever it is: no install makes one.
fn set_id_at_creation(
    mut ev: Event,
    path: String,
    mode: u32,
    observe_only: bool,
) -> (Option<Event>, Option<libc::seccomp_notif_resp>) {
    ev.kind = if mode & 0o111 != 0 {
        EventKind::ChmodExec
    } else {
        EventKind::Chmod
    };
    ev.flags = u64::from(mode);
    ev.paths = vec![path];
    refuse(ev, libc::EPERM, observe_only)
}

/// `fstat` of a descriptor we hold.
fn stat_of(file: &OwnedFd) -> Option<libc::stat> {
    fstat(file).ok()
}

/// Opens (`O_PATH`) exactly the file at `path`, a path already resolved:
/// no symlink is followed on the way (one planted since gives `ELOOP`),
/// and the last component itself is opened when `follow` is false (lchown,
/// AT_SYMLINK_NOFOLLOW). `Err` is the errno.
fn open_exact(path: &Path, follow: bool) -> Result<OwnedFd, i32> {
    let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    if !follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    open_no_symlinks(path, flags)
}

/// `openat2` of `path` with `flags`, following no symlink on the way
/// (`RESOLVE_NO_SYMLINKS`). `Err` is the errno (`EINVAL` for a NUL inside).
fn open_no_symlinks(path: &Path, flags: OFlag) -> Result<OwnedFd, i32> {
    let how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(nix::fcntl::AT_FDCWD, path, how).map_err(|e| e as i32)
}

/// The credentials the kernel checks a chmod or chown against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Creds {
    fsuid: u32,
    fsgid: u32,
    groups: Vec<u32>,
    cap_eff: u64,
}

impl Creds {
    /// Those of thread `tid` (credentials are per thread).
    fn of(tid: i32) -> Option<Creds> {
        Creds::parse(&std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?)
    }

    /// From the text of `/proc/<tid>/status`.
    fn parse(status: &str) -> Option<Creds> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        let fourth =
            |name: &str| -> Option<u32> { field(name)?.split_whitespace().nth(3)?.parse().ok() };
        Some(Creds {
            fsuid: fourth("Uid:")?,
            fsgid: fourth("Gid:")?,
            groups: field("Groups:")?
                .split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect(),
            cap_eff: u64::from_str_radix(field("CapEff:")?, 16).ok()?,
        })
    }

    fn has(&self, cap: u32) -> bool {
        self.cap_eff & (1u64 << cap) != 0
    }

    fn in_group(&self, gid: u32) -> bool {
        self.fsgid == gid || self.groups.contains(&gid)
    }

    /// The kernel's rules for `change` on a file with stat `st` (owner or
    /// CAP_FOWNER for a mode, CAP_CHOWN or owner-within-own-groups for an
    /// owner; setgid dropped outside the file's group without
    /// CAP_FSETID): the change to make, or the errno.
    fn permits(&self, change: PermChange, st: &libc::stat) -> Result<PermChange, i32> {
        const CAP_CHOWN: u32 = 0;
        const CAP_FOWNER: u32 = 3;
        const CAP_FSETID: u32 = 4;
        let owner = self.fsuid == st.st_uid;
        match change {
            PermChange::Mode(m) => {
                if !owner && !self.has(CAP_FOWNER) {
                    return Err(libc::EPERM);
                }
                let keep_sgid = self.in_group(st.st_gid) || self.has(CAP_FSETID);
                Ok(PermChange::Mode(if keep_sgid {
                    m
                } else {
                    m & !libc::S_ISGID
                }))
            }
            PermChange::Owner(u, g) => {
                if self.has(CAP_CHOWN) {
                    return Ok(change);
                }
                let uid_ok = u == u32::MAX || (owner && u == st.st_uid);
                let gid_ok = g == u32::MAX || (owner && (g == st.st_gid || self.in_group(g)));
                if uid_ok && gid_ok {
                    Ok(change)
                } else {
                    Err(libc::EPERM)
                }
            }
        }
    }
}

/// Records a refusal (an observation only, in audit).
fn refuse(
    mut ev: Event,
    errno: i32,
    observe_only: bool,
) -> (Option<Event>, Option<libc::seccomp_notif_resp>) {
    if observe_only {
        return (Some(ev), Some(cont()));
    }
    ev.action = Action::Denied;
    ev.errno = Some(errno);
    (Some(ev), Some(fail(errno)))
}

/// True for the name the kernel gives a program run from no file on disk:
/// a memfd (`/memfd:name (deleted)`) or an unlinked file (`… (deleted)`).
fn is_anonymous_exec(path: &str) -> bool {
    path.starts_with("/memfd:") || path.ends_with(" (deleted)")
}

/// The address family of the process's socket `fd`.
fn socket_family(pid: i32, fd: i32) -> Option<i32> {
    sys::socket_domain(&take_fd(pid, fd).ok()?)
}

/// Opens (`O_PATH`) the socket file a unix address of process `pid` names:
/// the path is resolved as the process sees it, then opened with no symlink
/// followed (`RESOLVE_NO_SYMLINKS`), so the file opened is the one the
/// resolution reached or none (a link planted since gives `ELOOP`). The
/// descriptor pins the inode the connect will reach. `Err` is the errno.
fn open_unix(pid: i32, path: &str) -> Result<(OwnedFd, PathBuf), i32> {
    let judged = resolve(pid, libc::AT_FDCWD, path, true);
    if !judged.starts_with('/') {
        return Err(libc::ENOENT);
    }
    // Opened with no symlink on the way: the file is the one at `judged`.
    open_no_symlinks(Path::new(&judged), OFlag::O_PATH | OFlag::O_CLOEXEC)
        .map(|f| (f, PathBuf::from(judged)))
}

/// True when the socket file at `at` (resolved, opened) may be reached:
/// anywhere in audit's and an unconfined policy's view, else at or below
/// one of the allowed places.
/// [`unix_reachable`] for the opened socket file: where the policy
/// confines sockets, one with another name (a hard link: `link(2)` of a
/// user's socket into the install's places) is judged by no place at all,
/// and refused.
/// In the install's own directories, one made before the install (renamed
/// in), or of no known birth time, is refused too.
fn unix_file_reachable(net: &NetPolicy, file: &OwnedFd, at: &Path) -> bool {
    let confined = net.deny_all_unix || net.unix_confined;
    if !unix_reachable(net, at) {
        return false;
    }
    if !confined {
        return true;
    }
    // Only a confined install pays the birth-time and link-count lookups.
    let listed = |a: &PathBuf| at.starts_with(a) && !net.unix_own.iter().any(|(o, _)| o == a);
    let stale = || {
        !net.unix_allowed.iter().any(listed)
            && net.unix_own.iter().any(|(own, made)| {
                at.starts_with(own) && made.is_none_or(|made| born(file).is_none_or(|b| b < made))
            })
    };
    !(stale() || stat_of(file).is_none_or(|st| st.st_nlink > 1))
}

/// When the file was made (statx's birth time), where its filesystem keeps it.
fn born(file: &OwnedFd) -> Option<std::time::SystemTime> {
    let dup = file.try_clone().ok()?;
    std::fs::File::from(dup).metadata().ok()?.created().ok()
}

fn unix_reachable(net: &NetPolicy, at: &Path) -> bool {
    !(net.deny_all_unix || net.unix_confined) || net.unix_allowed.iter().any(|a| at.starts_with(a))
}

/// True when the opened socket file is one of the privileged sockets
/// (device and inode).
fn is_privileged_file(file: &OwnedFd, privileged: &[PathBuf]) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(st) = stat_of(file) else {
        // Not judged, not connected.
        return true;
    };
    privileged
        .iter()
        .any(|p| std::fs::metadata(p).is_ok_and(|m| m.dev() == st.st_dev && m.ino() == st.st_ino))
}

/// A unix address naming the supervisor's own descriptor of a socket file
/// (`/proc/self/fd/N`): the kernel's connect then reaches that inode.
fn unix_addr_of(file: &OwnedFd) -> Vec<u8> {
    let name = format!("/proc/self/fd/{}", file.as_raw_fd());
    let mut raw = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    raw.extend_from_slice(name.as_bytes());
    raw.push(0);
    raw
}

/// A unix socket path as process `pid` names it, seen from outside: its
/// root and cwd through `/proc/<pid>/`, its `/proc/self` as itself.
fn process_view(pid: i32, path: &str) -> PathBuf {
    let path = path
        .strip_prefix("/proc/self/")
        .or_else(|| path.strip_prefix("/proc/thread-self/"))
        .map_or_else(|| path.to_string(), |rest| format!("/proc/{pid}/{rest}"));
    if let Some(rest) = path.strip_prefix('/') {
        PathBuf::from(format!("/proc/{pid}/root")).join(rest)
    } else {
        PathBuf::from(format!("/proc/{pid}/cwd")).join(path)
    }
}

/// True when `path` (as process `pid` names it) is one of the privileged
/// sockets: compared by the file it resolves to (device and inode), so an
/// alias (`/proc/self/root/…`, a symlink, `..`) is the same socket. An
/// abstract name is compared by name.
fn is_privileged_unix(pid: i32, path: &str, privileged: &[PathBuf]) -> bool {
    use std::os::unix::fs::MetadataExt;
    if path.starts_with('@') {
        return privileged.iter().any(|p| p.as_os_str() == path);
    }
    let Ok(target) = std::fs::metadata(process_view(pid, path)) else {
        // Nothing there to reach; the string still counts.
        return privileged.iter().any(|p| p.as_os_str() == path);
    };
    privileged.iter().any(|p| {
        p.as_os_str() == path
            || std::fs::metadata(p)
                .is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino())
    })
}

/// What a refused address looked like, for the record.
fn describe_unparsed(raw: &[u8]) -> String {
    match raw {
        [a, b, ..] => format!(
            "unparsed: family {}, {} bytes",
            u16::from_ne_bytes([*a, *b]),
            raw.len()
        ),
        _ => format!("unparsed: {} bytes", raw.len()),
    }
}

/// The first question's name of a DNS query packet.
pub fn dns_query_name(payload: &[u8]) -> Option<String> {
    let packet = simple_dns::Packet::parse(payload).ok()?;
    packet.questions.first().map(|q| q.qname.to_string())
}

/// A socket address the supervisor understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// IPv4 or IPv6.
    Ip(SocketAddr),
    /// A unix socket path (`@name` for the abstract namespace).
    Unix(String),
    /// A netlink peer (`pid` 0: the kernel).
    Netlink {
        /// The peer's port id.
        pid: u32,
        /// Multicast groups.
        groups: u32,
    },
    /// `AF_UNSPEC`: a disconnect for connect, IPv4 for a UDP send.
    Unspec,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Ip(a) => write!(f, "{a}"),
            Target::Unix(p) => write!(f, "unix:{p}"),
            Target::Netlink { pid, groups } => write!(f, "netlink:{pid}/{groups}"),
            Target::Unspec => write!(f, "unspec"),
        }
    }
}

/// Parses a raw `sockaddr` (family in native byte order, port big-endian).
/// `None` for a family the supervisor does not know, or an address shorter
/// than the kernel requires for its family: the caller refuses those.
pub fn parse_sockaddr(raw: &[u8]) -> Option<Target> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    let family = i32::from(u16::from_ne_bytes([*raw.first()?, *raw.get(1)?]));
    match family {
        // The kernel wants a whole sockaddr_in (16) and sockaddr_in6 (24).
        libc::AF_INET if raw.len() >= 16 => {
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let ip = Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
            Some(Target::Ip(SocketAddr::V4(SocketAddrV4::new(ip, port))))
        }
        libc::AF_INET6 if raw.len() >= 24 => {
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let mut b = [0u8; 16];
            b.copy_from_slice(&raw[8..24]);
            Some(Target::Ip(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(b),
                port,
                0,
                0,
            ))))
        }
        // More than the family: an autobind (family alone) has no peer to
        // reach and is refused with the rest.
        libc::AF_UNIX if raw.len() > 2 => {
            let path = &raw[2..];
            if path.first() == Some(&0) {
                let name: Vec<u8> = path[1..].to_vec();
                return Some(Target::Unix(format!("@{}", String::from_utf8_lossy(&name))));
            }
            let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
            Some(Target::Unix(
                String::from_utf8_lossy(&path[..end]).into_owned(),
            ))
        }
        libc::AF_NETLINK if raw.len() >= 12 => Some(Target::Netlink {
            pid: u32::from_ne_bytes([raw[4], raw[5], raw[6], raw[7]]),
            groups: u32::from_ne_bytes([raw[8], raw[9], raw[10], raw[11]]),
        }),
        libc::AF_UNSPEC => Some(Target::Unspec),
        _ => None,
    }
}

#[cfg(target_arch = "x86_64")]
fn is_legacy(nr: i64, name: &str) -> bool {
    let n = match name {
        "open" => libc::SYS_open,
        "creat" => libc::SYS_creat,
        "rename" => libc::SYS_rename,
        "link" => libc::SYS_link,
        "symlink" => libc::SYS_symlink,
        "unlink" => libc::SYS_unlink,
        "rmdir" => libc::SYS_rmdir,
        "mkdir" => libc::SYS_mkdir,
        "mknod" => libc::SYS_mknod,
        "chmod" => libc::SYS_chmod,
        "chown" => libc::SYS_chown,
        "lchown" => libc::SYS_lchown,
        _ => return false,
    };
    nr == n
}

#[cfg(not(target_arch = "x86_64"))]
fn is_legacy(_nr: i64, _name: &str) -> bool {
    false
}

/// The processes whose `/proc/<pid>/` entries `path` goes through (after
/// `.` and `..`; `/proc/<x>/root/` leads back to `/`, and is an entry of
/// `x` itself). `/proc/self` and `/proc/thread-self` are the caller's own.
fn proc_pids_of(path: &str) -> Vec<i32> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = Vec::new();
    let mut rest: &[&str] = &parts;
    while let ["proc", who, tail @ ..] = rest {
        if !matches!(*who, "self" | "thread-self") {
            match who.parse::<i32>() {
                Ok(pid) => out.push(pid),
                Err(_) => break,
            }
        }
        match tail {
            ["root", more @ ..] => rest = more,
            _ => break,
        }
    }
    out
}

/// The processes whose `/proc` entries an open of `path` by `pid` reaches:
/// by the path as written, and, when what it names lies on a procfs (a
/// symlink planted in `TMPDIR`, a `..` through a link), by the path the
/// process's view of it resolves to. One `statfs` per open; the full
/// resolution only for procfs files.
fn other_procs(pid: i32, path: &str) -> Vec<i32> {
    let mut out = proc_pids_of(path);
    let view = process_view(pid, path);
    if on_procfs(&view)
        && let Ok(real) = std::fs::canonicalize(&view)
    {
        out.extend(proc_pids_of(&real.to_string_lossy()));
    }
    out
}

/// True when `path` (symlinks followed) is on a procfs.
fn on_procfs(path: &Path) -> bool {
    statfs(path).is_ok_and(|st| st.filesystem_type() == PROC_SUPER_MAGIC)
}

/// True when process (or thread) `other` is inside the sandbox: the caller
/// itself, a process seen trapping, or a descendant of one. Anything else —
/// the supervisor, its watchers, the user's shell, pid 1 — is outside.
/// The processes seen inside the sandbox: pid → start time.
type Members = std::collections::HashMap<i32, u64>;

/// True when `pid` is the member process that started at the time recorded
/// (not an outside process that reused the pid of one that exited).
fn is_member(members: &Members, pid: i32) -> bool {
    members
        .get(&pid)
        .is_some_and(|&t| crate::procfs::start_time(pid) == Some(t))
}

fn in_sandbox(other: i32, caller: i32, members: &Members) -> bool {
    let me = std::process::id() as i32;
    let mut p = tgid(other).unwrap_or(other);
    if p == caller || tgid(caller) == Some(p) {
        return true;
    }
    for _ in 0..64 {
        if p != me && is_member(members, p) {
            return true;
        }
        if p <= 1 || p == me {
            return false;
        }
        match ppid(p) {
            Some(q) => p = q,
            None => return false,
        }
    }
    false
}

/// `/proc/<pid>/environ` of a process outside the reader's own.
fn is_other_environ(path: &str, pid: i32) -> bool {
    path.strip_prefix("/proc/")
        .and_then(|r| r.strip_suffix("/environ"))
        .is_some_and(|p| p != "self" && p != pid.to_string())
}

/// Reads another process's memory.
struct Mem {
    pid: i32,
}

impl Mem {
    fn bytes(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        let remote = RemoteIoVec {
            base: addr as usize,
            len,
        };
        let n = process_vm_readv(
            Pid::from_raw(self.pid),
            &mut [std::io::IoSliceMut::new(&mut buf)],
            &[remote],
        )
        .unwrap_or(0);
        buf.truncate(n);
        buf
    }

    /// A path argument, byte for byte, as the kernel reads it: `Err` is the
    /// kernel's errno (unreadable, or no NUL within `PATH_MAX`).
    fn c_path(&self, addr: u64) -> Result<Vec<u8>, i32> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < libc::PATH_MAX as usize {
            let page_left = 4096 - (at % 4096) as usize;
            let chunk = self.bytes(at, page_left.min(libc::PATH_MAX as usize - out.len()));
            if chunk.is_empty() {
                return Err(libc::EFAULT);
            }
            if let Some(end) = chunk.iter().position(|b| *b == 0) {
                out.extend_from_slice(&chunk[..end]);
                return Ok(out);
            }
            at += chunk.len() as u64;
            out.extend_from_slice(&chunk);
        }
        Err(libc::ENAMETOOLONG)
    }

    fn u64(&self, addr: u64) -> Option<u64> {
        let b = self.bytes(addr, 8);
        Some(u64::from_ne_bytes(b.try_into().ok()?))
    }

    /// A NUL-terminated string, read page by page; bytes that are not
    /// UTF-8 are replaced (for what is shown or matched as text, never for
    /// a path that is resolved: see [`Mem::path`]).
    fn string(&self, addr: u64) -> String {
        String::from_utf8_lossy(&self.raw_string(addr)).into_owned()
    }

    /// A NUL-terminated path, byte for byte (a name that is not UTF-8 names
    /// another file than its replacement-character spelling).
    fn path(&self, addr: u64) -> PathBuf {
        use std::os::unix::ffi::OsStringExt;
        PathBuf::from(std::ffi::OsString::from_vec(self.raw_string(addr)))
    }

    /// The bytes of a NUL-terminated string, read page by page (a single
    /// read across an unmapped page would fail as a whole).
    fn raw_string(&self, addr: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < 4096 {
            let page_left = 4096 - (at % 4096) as usize;
            let chunk = self.bytes(at, page_left.min(4096 - out.len()));
            if chunk.is_empty() {
                break;
            }
            if let Some(end) = chunk.iter().position(|b| *b == 0) {
                out.extend_from_slice(&chunk[..end]);
                return out;
            }
            at += chunk.len() as u64;
            out.extend_from_slice(&chunk);
        }
        out
    }

    /// The values of the named variables in an `envp` array (nothing else
    /// of the environment is kept: it may hold secrets).
    fn env_values(&self, addr: u64, names: &[&str]) -> Vec<Option<String>> {
        let mut out = vec![None; names.len()];
        let mut at = addr;
        for _ in 0..4096 {
            let Some(p) = self.u64(at).filter(|p| *p != 0) else {
                break;
            };
            let entry = self.string(p);
            if let Some((k, v)) = entry.split_once('=')
                && let Some(i) = names.iter().position(|n| *n == k)
            {
                out[i] = Some(v.to_string());
            }
            at += 8;
        }
        out
    }

    fn argv(&self, addr: u64) -> Vec<String> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < 256 {
            match self.u64(at) {
                Some(0) | None => break,
                Some(p) => out.push(self.string(p)),
            }
            at += 8;
        }
        out
    }
}

/// Symlinks followed while resolving one path (the kernel's own limit).
const MAX_HOPS: usize = 40;

/// A path as the process meant it, resolved to what it names: relative
/// paths against its cwd or `dirfd`, then every symlink on the way
/// (`follow_last`: the final one too, as open, exec, truncate and chmod do),
/// `..`, and the magic links of `/proc` read for the process
/// (`/proc/self` is its thread group, `/proc/thread-self` its thread, as
/// the kernel has them; `/proc/<pid>/root`, `/proc/*/fd/N`, `/proc/*/cwd`).
/// What does not exist yet is kept as written, `..` applied; a path that
/// cannot be resolved is kept as given. It is not race-free (the process
/// may swap a link after the check): the snapshot covers the persistence
/// locations for that, and block's exec refusals are the kernel's.
pub fn resolve(pid: i32, dirfd: i32, path: &str, follow_last: bool) -> String {
    match resolve_path(pid, dirfd, Path::new(path), follow_last) {
        Ok(r) => r.path.display().to_string(),
        Err(_) => path.to_string(),
    }
}

/// A path resolved for a process.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resolved {
    /// What it names (past a missing name, only spelled).
    path: PathBuf,
    /// False when a name on the way does not exist (or is no directory).
    exists: bool,
}

/// [`resolve`] on the exact bytes of a path, walked by descriptor
/// (`O_PATH`, one name at a time) from the process's cwd, its `dirfd`, or
/// `/`, so that no depth makes it fail: a directory deeper than
/// `PATH_MAX` is still walked, and its name is rebuilt from the inodes.
/// Any failure but a missing name (ENOENT, ENOTDIR: the kernel fails the
/// call too) is the errno: the caller refuses the call (fail closed).
fn resolve_path(tid: i32, dirfd: i32, path: &Path, follow_last: bool) -> Result<Resolved, i32> {
    let walk = Walk { tid, follow_last };
    if path.is_absolute() {
        return walk.from(open_path(None, Path::new("/"), false)?, "/".into(), path);
    }
    // The cwd and descriptors are the calling thread's own.
    let link = PathBuf::from(if dirfd == libc::AT_FDCWD {
        format!("/proc/{tid}/cwd")
    } else {
        format!("/proc/{tid}/fd/{dirfd}")
    });
    if path.as_os_str().is_empty() {
        // The descriptor itself (AT_EMPTY_PATH): a memfd reads `/memfd:…`.
        let text = std::fs::read_link(&link).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        return Ok(Resolved {
            path: text,
            exists: true,
        });
    }
    let (dir, text) = follow_magic(&link)?;
    walk.from(dir, text, path)
}

/// The walk of one path for thread `tid` of process `group`.
struct Walk {
    tid: i32,
    follow_last: bool,
}

impl Walk {
    /// Walks `path`'s names from `cur`, the directory named `text`.
    fn from(&self, mut cur: OwnedFd, mut text: PathBuf, path: &Path) -> Result<Resolved, i32> {
        use std::collections::VecDeque;
        use std::ffi::OsString;
        let mut todo: VecDeque<OsString> = names(path).into();
        let mut hops = 0;
        // Past a name that does not exist, the rest is only spelled.
        let mut missing = false;
        while let Some(mut c) = todo.pop_front() {
            if c == ".." {
                if !missing {
                    match open_path(Some(&cur), Path::new(".."), false) {
                        Ok(up) => cur = up,
                        Err(libc::ENOTDIR) => missing = true,
                        Err(e) => return Err(e),
                    }
                }
                text.pop();
                continue;
            }
            if text == Path::new("/proc") && (c == "self" || c == "thread-self") {
                // Read only here: one more file read per path otherwise.
                let group = tgid(self.tid).unwrap_or(self.tid);
                if c == "thread-self" {
                    todo.push_front(self.tid.to_string().into());
                    todo.push_front("task".into());
                }
                c = group.to_string().into();
            }
            if missing {
                text.push(&c);
                continue;
            }
            let last = todo.is_empty();
            let next = match open_path(Some(&cur), Path::new(&c), false) {
                Ok(fd) => fd,
                Err(libc::ENOENT | libc::ENOTDIR) => {
                    missing = true;
                    text.push(&c);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let st = fstat(&next).map_err(|e| e as i32)?;
            let link = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
            if !(link && (!last || self.follow_last) && hops < MAX_HOPS) {
                text.push(&c);
                cur = next;
                continue;
            }
            hops += 1;
            match nix::fcntl::readlinkat(&next, "") {
                // A magic link to a socket, pipe or anonymous inode names no path.
                Ok(target)
                    if !Path::new(&target).is_absolute()
                        && text.starts_with("/proc")
                        && target.to_string_lossy().contains(':') =>
                {
                    text.push(&c);
                    cur = next;
                }
                Ok(target) => {
                    let target = PathBuf::from(target);
                    let mut t: VecDeque<OsString> = names(&target).into();
                    t.extend(todo.drain(..));
                    todo = t;
                    if target.is_absolute() {
                        cur = open_path(None, Path::new("/"), false)?;
                        text = "/".into();
                    }
                }
                // A magic link to a directory deeper than PATH_MAX (a cwd):
                // followed by descriptor, as the kernel does.
                Err(nix::errno::Errno::ENAMETOOLONG) if text.starts_with("/proc") => {
                    let dir = open_path(Some(&cur), Path::new(&c), true)?;
                    text = dir_text(&dir)?;
                    cur = dir;
                }
                Err(e) => return Err(e as i32),
            }
        }
        Ok(Resolved {
            path: text,
            exists: !missing,
        })
    }
}

/// The names of `p` (`.` dropped, `..` kept).
fn names(p: &Path) -> Vec<std::ffi::OsString> {
    use std::path::Component;
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// `O_PATH` open of `name` in `dir` (or of an absolute path); a final
/// symlink is followed only when `follow`.
fn open_path(dir: Option<&OwnedFd>, name: &Path, follow: bool) -> Result<OwnedFd, i32> {
    let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    if !follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    let r = match dir {
        Some(d) => nix::fcntl::openat(d, name, flags, Mode::empty()),
        None => nix::fcntl::open(name, flags, Mode::empty()),
    };
    r.map_err(|e| e as i32)
}

/// The directory a magic link (`/proc/<tid>/cwd`, `/proc/<tid>/fd/N`)
/// leads to, opened through the link, and its name: the link's text, or,
/// when that is longer than `PATH_MAX`, rebuilt from the inodes.
fn follow_magic(link: &Path) -> Result<(OwnedFd, PathBuf), i32> {
    let dir = open_path(None, link, true)?;
    let st = fstat(&dir).map_err(|e| e as i32)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        // A relative name against a file, socket or pipe: ENOTDIR.
        return Err(libc::ENOTDIR);
    }
    let text = match std::fs::read_link(link) {
        Ok(t) if t.is_absolute() => t,
        Ok(_) => return Err(libc::ENOTDIR),
        Err(e) if e.raw_os_error() == Some(libc::ENAMETOOLONG) => dir_text(&dir)?,
        Err(e) => return Err(e.raw_os_error().unwrap_or(libc::EIO)),
    };
    Ok((dir, text))
}

/// Directories climbed at most when naming one (a name of 4096 levels of
/// one byte is well past `PATH_MAX`).
const MAX_DEPTH: usize = 4096;

/// The name of directory `dir` from `/`, found as `getcwd` does in user
/// space: each level's name is the entry of its parent with its device
/// and inode. For directories whose name the kernel will not print.
fn dir_text(dir: &OwnedFd) -> Result<PathBuf, i32> {
    use std::os::unix::fs::DirEntryExt;
    let mut up: Vec<std::ffi::OsString> = Vec::new();
    let mut cur = open_path(Some(dir), Path::new("."), false)?;
    for _ in 0..MAX_DEPTH {
        let st = fstat(&cur).map_err(|e| e as i32)?;
        let parent = open_path(Some(&cur), Path::new(".."), false)?;
        let pst = fstat(&parent).map_err(|e| e as i32)?;
        if (pst.st_dev, pst.st_ino) == (st.st_dev, st.st_ino) {
            let mut text = PathBuf::from("/");
            text.extend(up.iter().rev());
            return Ok(text);
        }
        // The supervisor's own view of the parent, by descriptor.
        let listing = format!("/proc/self/fd/{}", parent.as_raw_fd());
        let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(&listing)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?
            .filter_map(Result::ok)
            .collect();
        let same = |name: &std::ffi::OsStr| {
            nix::sys::stat::fstatat(&parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)
                .is_ok_and(|s| (s.st_dev, s.st_ino) == (st.st_dev, st.st_ino))
        };
        // The entry's inode first; a mount point's differs from its root's.
        let name = entries
            .iter()
            .filter(|e| e.ino() == st.st_ino)
            .chain(entries.iter())
            .map(|e| e.file_name())
            .find(|n| same(n))
            .ok_or(libc::ENOENT)?;
        up.push(name);
        cur = parent;
    }
    Err(libc::ENAMETOOLONG)
}

/// The process (thread group) a thread belongs to.
fn tgid(tid: i32) -> Option<i32> {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))?
        .trim()
        .parse()
        .ok()
}

fn ppid(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.get(s.rfind(')')? + 2..)?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name each kind had in reports and events files when kinds were
    /// strings (an exhaustive match: a new kind must be named here).
    fn stored_name(k: EventKind) -> &'static str {
        match k {
            EventKind::Exec => "exec",
            EventKind::OpenWrite => "open-write",
            EventKind::OpenRead => "open-read",
            EventKind::Rename => "rename",
            EventKind::Link => "link",
            EventKind::Symlink => "symlink",
            EventKind::Unlink => "unlink",
            EventKind::Mkdir => "mkdir",
            EventKind::Mknod => "mknod",
            EventKind::ChmodExec => "chmod-exec",
            EventKind::Chmod => "chmod",
            EventKind::Chown => "chown",
            EventKind::Truncate => "truncate",
            EventKind::Memfd => "memfd",
            EventKind::Connect => "connect",
            EventKind::Bind => "bind",
            EventKind::Listen => "listen",
            EventKind::Send => "send",
            EventKind::Dns => "dns",
            EventKind::Denied => "denied",
            EventKind::Unknown => "unknown",
        }
    }

    const ALL_KINDS: [EventKind; 21] = [
        EventKind::Exec,
        EventKind::OpenWrite,
        EventKind::OpenRead,
        EventKind::Rename,
        EventKind::Link,
        EventKind::Symlink,
        EventKind::Unlink,
        EventKind::Mkdir,
        EventKind::Mknod,
        EventKind::ChmodExec,
        EventKind::Chmod,
        EventKind::Chown,
        EventKind::Truncate,
        EventKind::Memfd,
        EventKind::Connect,
        EventKind::Bind,
        EventKind::Listen,
        EventKind::Send,
        EventKind::Dns,
        EventKind::Denied,
        EventKind::Unknown,
    ];

    #[test]
    fn each_event_kind_keeps_the_name_reports_stored() {
        let names: std::collections::HashSet<&str> =
            ALL_KINDS.iter().map(|k| stored_name(*k)).collect();
        assert_eq!(names.len(), ALL_KINDS.len(), "a name is used twice");
        for k in ALL_KINDS {
            let name = stored_name(k);
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(name));
            assert_eq!(k.as_str(), name);
            assert_eq!(format!("{k:<11}|"), format!("{name:<11}|"));
            let back: EventKind = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(back, k);
        }
        // In an event, as the report and the events file write it.
        let e = Event {
            kind: EventKind::ChmodExec,
            ..Default::default()
        };
        assert_eq!(serde_json::to_value(&e).unwrap()["kind"], "chmod-exec");
    }

    #[test]
    fn an_unknown_kind_reads_as_unknown_and_the_event_survives() {
        let v = serde_json::json!({
            "seq": 3, "ms": 10, "pid": 7, "syscall": "frob",
            "kind": "frobnicate", "paths": ["/x"], "flags": 0, "action": "denied"
        });
        let e: Event = serde_json::from_value(v).unwrap();
        assert_eq!(e.kind, EventKind::Unknown);
        assert_eq!((e.seq, e.pid, e.paths), (3, 7, vec!["/x".to_string()]));
        assert_eq!(e.action, Action::Denied);
    }

    #[test]
    fn kind_sets() {
        let network: Vec<&str> = ALL_KINDS
            .iter()
            .filter(|k| k.is_network())
            .map(|k| k.as_str())
            .collect();
        assert_eq!(network, ["connect", "bind", "listen", "send", "dns"]);
        let first: Vec<&str> = ALL_KINDS
            .iter()
            .filter(|k| k.written_index() == Some(0))
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            first,
            ["open-write", "mkdir", "mknod", "chmod-exec", "truncate"]
        );
        let second: Vec<&str> = ALL_KINDS
            .iter()
            .filter(|k| k.written_index() == Some(1))
            .map(|k| k.as_str())
            .collect();
        assert_eq!(second, ["rename", "link", "symlink"]);
        let perm: Vec<&str> = ALL_KINDS
            .iter()
            .filter(|k| k.is_perm())
            .map(|k| k.as_str())
            .collect();
        assert_eq!(perm, ["chmod-exec", "chmod", "chown"]);
    }

    #[test]
    fn sockaddrs_parse() {
        let mut v4 = vec![0u8; 16];
        v4[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&8080u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(
            parse_sockaddr(&v4),
            Some(Target::Ip("127.0.0.1:8080".parse().unwrap()))
        );
        let mut un = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        un.extend_from_slice(b"/run/docker.sock\0junk");
        assert_eq!(
            parse_sockaddr(&un),
            Some(Target::Unix("/run/docker.sock".into()))
        );
        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend_from_slice(b"\0bus");
        assert_eq!(parse_sockaddr(&abs).unwrap().to_string(), "unix:@bus");
        assert_eq!(parse_sockaddr(&[]), None);
    }

    fn family(f: i32, len: usize) -> Vec<u8> {
        let mut raw = vec![0u8; len.max(2)];
        raw[..2].copy_from_slice(&(f as u16).to_ne_bytes());
        raw[2..]
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = b'a' + (i % 26) as u8);
        raw.truncate(len);
        raw
    }

    fn protect() -> NetPolicy {
        NetPolicy {
            allowed: vec!["127.0.0.1:3128".parse().unwrap()],
            ..NetPolicy::default()
        }
    }

    /// The shortest address the kernel takes for the families we parse.
    fn minimum(f: i32) -> Option<usize> {
        match f {
            libc::AF_INET => Some(16),
            libc::AF_INET6 => Some(24),
            libc::AF_UNIX => Some(3),
            libc::AF_NETLINK => Some(12),
            libc::AF_UNSPEC => Some(2),
            _ => None,
        }
    }

    #[test]
    fn every_family_and_every_truncation_fails_closed() {
        use libc::{SYS_bind, SYS_connect, SYS_sendmmsg, SYS_sendmsg, SYS_sendto};
        let block = NetPolicy {
            deny_all_unix: true,
            ..protect()
        };
        // AF_MAX is 46 on Linux 6 (libc does not export it); past it, and the
        // top of the 16-bit field, for good measure.
        for f in (0..=64).chain([255, 0x7fff, 0xffff]) {
            for len in 0..=128 {
                let raw = family(f, len);
                let t = parse_sockaddr(&raw);
                let known = minimum(f).is_some_and(|m| len >= m);
                assert_eq!(t.is_some(), known, "family {f}, {len} bytes: {t:?}");
                for nr in [SYS_sendto, SYS_sendmsg, SYS_sendmmsg] {
                    for (mode, net) in [("protect", protect()), ("block", block.clone())] {
                        let j = judge(nr, t.as_ref(), &net, false);
                        // The one datagram destination that may pass: a unix
                        // socket in protect (reported), and the kernel's netlink.
                        let may = matches!(
                            (&t, mode),
                            (Some(Target::Unix(_)), "protect")
                                | (Some(Target::Netlink { pid: 0, groups: 0 }), _)
                        );
                        assert_eq!(
                            !matches!(j, Judged::Refuse(_)),
                            may,
                            "{mode} nr {nr} family {f}, {len} bytes: {j:?}"
                        );
                    }
                }
                // connect: only the proxy is performed; AF_UNSPEC disconnects.
                let j = judge(SYS_connect, t.as_ref(), &protect(), false);
                match &t {
                    None => assert_eq!(j, Judged::Refuse(libc::EPERM)),
                    Some(Target::Unspec) => assert_eq!(j, Judged::Quiet),
                    Some(Target::Ip(_)) => assert_eq!(j, Judged::Refuse(libc::ECONNREFUSED)),
                    _ => {}
                }
                if t.is_none() {
                    assert_eq!(
                        judge(SYS_bind, None, &protect(), false),
                        Judged::Refuse(libc::EPERM)
                    );
                }
            }
        }
        // AF_UNSPEC is refused for a send, in both modes.
        let unspec = parse_sockaddr(&family(libc::AF_UNSPEC, 16));
        assert_eq!(unspec, Some(Target::Unspec));
        assert_eq!(
            judge(SYS_sendto, unspec.as_ref(), &protect(), false),
            Judged::Refuse(libc::EPERM)
        );
        // The proxy is connected to, in audit too; a datagram to it is not.
        let proxy = Target::Ip("127.0.0.1:3128".parse().unwrap());
        assert_eq!(
            judge(SYS_connect, Some(&proxy), &protect(), false),
            Judged::ConnectForIt
        );
        let audit = NetPolicy {
            observe_only: true,
            ..protect()
        };
        assert_eq!(
            judge(SYS_connect, Some(&proxy), &audit, false),
            Judged::ConnectForIt
        );
        assert_eq!(
            judge(SYS_sendto, Some(&proxy), &protect(), false),
            Judged::Refuse(libc::ECONNREFUSED)
        );
        // An abstract name is refused for connect (round 7: the kernel's
        // second read may find a path), left to the kernel for a datagram.
        let abstract_name = Target::Unix("@pw-test".into());
        assert_eq!(
            judge(SYS_connect, Some(&abstract_name), &protect(), false),
            Judged::Refuse(libc::EACCES)
        );
        assert_eq!(
            judge(SYS_sendto, Some(&abstract_name), &protect(), false),
            Judged::Continue
        );
        // A privileged unix socket is refused in protect.
        let agent = Target::Unix("/tmp/agent.sock".into());
        assert_eq!(
            judge(SYS_connect, Some(&agent), &protect(), true),
            Judged::Refuse(libc::EACCES)
        );
        assert_eq!(
            judge(SYS_sendto, Some(&agent), &block, false),
            Judged::Refuse(libc::EACCES)
        );
    }

    #[test]
    fn a_socket_older_than_the_install_is_not_its_own() {
        use std::time::{Duration, SystemTime};
        let d = tempfile::tempdir().unwrap();
        let own = d.path().canonicalize().unwrap();
        let path = own.join("s.sock");
        let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let file = open_exact(&path, false).unwrap();
        let at_start = |since| NetPolicy {
            unix_confined: true,
            unix_allowed: vec![own.clone()],
            unix_own: vec![(own.clone(), Some(since))],
            ..protect()
        };
        let earlier = SystemTime::now() - Duration::from_secs(60);
        assert!(unix_file_reachable(&at_start(earlier), &file, &path));
        // Made before the install started: renamed in from elsewhere.
        let later = SystemTime::now() + Duration::from_secs(60);
        assert!(!unix_file_reachable(&at_start(later), &file, &path));
        // Allowed by the user's own list as well: the birth time is not asked.
        let listed = NetPolicy {
            unix_allowed: vec![own.clone(), path.clone()],
            ..at_start(later)
        };
        assert!(unix_file_reachable(&listed, &file, &path));
    }

    #[test]
    fn unix_sockets_are_reached_only_where_the_policy_allows() {
        use libc::{SYS_connect, SYS_sendto};
        let own = PathBuf::from("/tmp/pw-install-tmp");
        let confined = NetPolicy {
            unix_confined: true,
            unix_allowed: vec![own.clone()],
            ..protect()
        };
        // A pathname connect goes on to be judged on the file it opens.
        let server = Target::Unix("/run/user/1000/nvim.1.0".into());
        assert_eq!(
            judge(SYS_connect, Some(&server), &confined, false),
            Judged::Continue
        );
        assert!(unix_reachable(&confined, &own.join("sub/x.sock")));
        assert!(!unix_reachable(
            &confined,
            Path::new("/run/user/1000/nvim.1.0")
        ));
        assert!(!unix_reachable(
            &confined,
            Path::new("/tmp/pw-install-tmpx/s")
        ));
        // Block refuses every socket but the allowed ones, datagrams all.
        let block = NetPolicy {
            deny_all_unix: true,
            ..protect()
        };
        assert_eq!(
            judge(SYS_connect, Some(&server), &block, false),
            Judged::Refuse(libc::EACCES)
        );
        let listed = NetPolicy {
            unix_allowed: vec![PathBuf::from("/run/user/1000/app.sock")],
            ..block
        };
        assert_eq!(
            judge(SYS_connect, Some(&server), &listed, false),
            Judged::Continue
        );
        assert!(!unix_reachable(
            &listed,
            Path::new("/run/user/1000/nvim.1.0")
        ));
        assert!(unix_reachable(
            &listed,
            Path::new("/run/user/1000/app.sock")
        ));
        assert_eq!(
            judge(SYS_sendto, Some(&server), &listed, false),
            Judged::Refuse(libc::EACCES)
        );
        // Privileged sockets stay refused whatever is allowed; audit and an
        // unconfined policy reach every other one.
        assert_eq!(
            judge(SYS_connect, Some(&server), &listed, true),
            Judged::Refuse(libc::EACCES)
        );
        assert!(unix_reachable(
            &protect(),
            Path::new("/run/user/1000/nvim.1.0")
        ));
    }

    /// A sockaddr_in for `port` on 127.0.0.1.
    fn v4(port: u16) -> Vec<u8> {
        let mut v = family(libc::AF_INET, 16);
        v[2..4].copy_from_slice(&port.to_be_bytes());
        v[4..8].copy_from_slice(&[127, 0, 0, 1]);
        v[8..].fill(0);
        v
    }

    /// A `msghdr` over `parts` with control data `control`.
    fn header(parts: &mut [libc::iovec], control: &[u8]) -> libc::msghdr {
        // SAFETY: an all-zero msghdr is a valid value.
        let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
        h.msg_iov = parts.as_mut_ptr();
        h.msg_iovlen = parts.len();
        if !control.is_empty() {
            h.msg_control = control.as_ptr() as *mut libc::c_void;
            h.msg_controllen = control.len();
        }
        h
    }

    /// One control message: `level`, `kind` and `body`, padded.
    fn cmsg(level: i32, kind: i32, body: &[u8]) -> Vec<u8> {
        let mut out = ((16 + body.len()) as u64).to_ne_bytes().to_vec();
        out.extend(level.to_ne_bytes());
        out.extend(kind.to_ne_bytes());
        out.extend(body);
        out.resize(out.len().div_ceil(8) * 8, 0);
        out
    }

    #[test]
    fn a_nameless_message_is_read_once_with_its_descriptors() {
        use std::os::fd::AsRawFd;
        let pid = std::process::id() as i32;
        let me = Mem { pid };
        let (r, w) = nix::unistd::pipe().unwrap();
        let data = vec![7u8; MAX_UNNAMED_SEND + 100];
        let mut parts = [
            libc::iovec {
                iov_base: b"head".as_ptr() as *mut libc::c_void,
                iov_len: 4,
            },
            libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            },
        ];
        let fds: Vec<u8> = [r.as_raw_fd(), w.as_raw_fd()]
            .iter()
            .flat_map(|f| f.to_ne_bytes())
            .collect();
        let rights = cmsg(libc::SOL_SOCKET, libc::SCM_RIGHTS, &fds);
        let h = header(&mut parts, &rights);
        let at = &h as *const libc::msghdr as u64;
        // A stream message is cut at the cap; the descriptors are copies.
        let msg = read_message(&me, pid, at, true).unwrap();
        assert_eq!(msg.data.len(), MAX_UNNAMED_SEND);
        assert_eq!(&msg.data[..5], b"head\x07");
        assert_eq!(msg.fds.len(), 2);
        assert_ne!(msg.fds[0].as_raw_fd(), r.as_raw_fd());
        nix::unistd::write(&msg.fds[1], b"x").unwrap();
        let mut got = [0u8; 1];
        assert_eq!(nix::unistd::read(&r, &mut got), Ok(1));
        // A datagram is not cut: refused whole.
        let too_big = read_message(&me, pid, at, false).map(|m| m.data.len());
        assert_eq!(too_big.map_err(|e| e.0), Err(libc::EMSGSIZE));
        // Credentials, a descriptor the process lacks, a length past the
        // control data: refused, nothing taken.
        let creds = cmsg(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &[0; 12]);
        let bad_fd = cmsg(libc::SOL_SOCKET, libc::SCM_RIGHTS, &(-1i32).to_ne_bytes());
        let mut long = rights.clone();
        long[0] = 64;
        for (control, errno) in [
            (creds, libc::EPERM),
            (bad_fd, libc::EBADF),
            (long, libc::EINVAL),
        ] {
            let h = header(&mut parts[..1], &control);
            let at = &h as *const libc::msghdr as u64;
            let got = read_message(&me, pid, at, true).map(|m| m.fds.len());
            assert_eq!(got.map_err(|e| e.0), Err(errno));
        }
        // Unreadable data before anything readable is EFAULT; after, a
        // short count.
        let mut holes = [
            libc::iovec {
                iov_base: 8 as *mut libc::c_void,
                iov_len: 4,
            },
            parts[0],
        ];
        let h = header(&mut holes, &[]);
        let got = read_message(&me, pid, &h as *const libc::msghdr as u64, true);
        assert_eq!(
            got.map(|m| m.data.len()).map_err(|e| e.0),
            Err(libc::EFAULT)
        );
        holes.swap(0, 1);
        let h = header(&mut holes, &[]);
        let got = read_message(&me, pid, &h as *const libc::msghdr as u64, true);
        assert_eq!(got.map(|m| m.data).map_err(|e| e.0), Ok(b"head".to_vec()));
    }

    #[test]
    fn the_name_of_every_message_is_read() {
        let me = Mem {
            pid: std::process::id() as i32,
        };
        let names = [v4(1001), v4(1002), family(libc::AF_UNSPEC, 16), v4(1004)];
        let data = b"payload".to_vec();
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        // Message 1 has no name (the connected peer); the others name theirs.
        let mut msgs: Vec<libc::mmsghdr> = (0..names.len())
            .map(|i| {
                // SAFETY: an all-zero mmsghdr is a valid value.
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                if i != 1 {
                    m.msg_hdr.msg_name = names[i].as_ptr() as *mut libc::c_void;
                    m.msg_hdr.msg_namelen = names[i].len() as u32;
                }
                m.msg_hdr.msg_iov = &mut iov;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        assert_eq!(std::mem::size_of::<libc::mmsghdr>() as u64, MMSGHDR);
        assert_eq!(std::mem::size_of::<libc::msghdr>() as u64, MSGHDR);
        let base = msgs.as_mut_ptr() as u64;
        let args = |n: u64| [3, base, n, 0, 0, 0];
        let got = destinations(libc::SYS_sendmmsg, args(4), &me).unwrap();
        let targets: Vec<Option<Target>> = got.iter().map(|d| parse_sockaddr(&d.raw)).collect();
        assert_eq!(
            targets,
            vec![
                Some(Target::Ip("127.0.0.1:1001".parse().unwrap())),
                Some(Target::Unspec),
                Some(Target::Ip("127.0.0.1:1004".parse().unwrap())),
            ]
        );
        assert!(got.iter().all(|d| d.payload == data));
        // Fewer messages: only those the kernel would send.
        assert_eq!(
            destinations(libc::SYS_sendmmsg, args(2), &me)
                .unwrap()
                .len(),
            1
        );
        // sendmsg reads its one header.
        let one =
            destinations(libc::SYS_sendmsg, [3, base + 2 * MMSGHDR, 0, 0, 0, 0], &me).unwrap();
        assert_eq!(parse_sockaddr(&one[0].raw), Some(Target::Unspec));
        // A message array the process cannot read is refused, not skipped.
        assert!(destinations(libc::SYS_sendmmsg, [3, 8, 4, 0, 0, 0], &me).is_err());
        // A vlen past the array: the unreadable tail fails closed too.
        let mut one_msg = vec![msgs[0]];
        let at = one_msg.as_mut_ptr() as u64;
        let huge = destinations(libc::SYS_sendmmsg, [3, at, 1 << 20, 0, 0, 0], &me);
        assert!(huge.is_err() || huge.unwrap().len() <= MAX_MMSG as usize);
        // A name that cannot be read is refused.
        // SAFETY: an all-zero msghdr is a valid value.
        let mut bad: libc::msghdr = unsafe { std::mem::zeroed() };
        bad.msg_name = 16 as *mut libc::c_void;
        bad.msg_namelen = 16;
        let bad_at = &bad as *const libc::msghdr as u64;
        assert!(destinations(libc::SYS_sendmsg, [3, bad_at, 0, 0, 0, 0], &me).is_err());
        // sendto: the address argument, and its payload.
        let name = v4(53);
        let to = destinations(
            libc::SYS_sendto,
            [
                3,
                data.as_ptr() as u64,
                data.len() as u64,
                0,
                name.as_ptr() as u64,
                16,
            ],
            &me,
        )
        .unwrap();
        assert_eq!(to[0].payload, data);
        // An over-long address for sendto or connect is refused.
        assert!(
            destinations(
                libc::SYS_connect,
                [3, name.as_ptr() as u64, 200, 0, 0, 0],
                &me
            )
            .is_err()
        );
    }

    #[test]
    fn proc_entries_name_their_process() {
        assert_eq!(proc_pids_of("/proc/42/environ"), vec![42]);
        assert_eq!(proc_pids_of("/proc/self/environ"), Vec::<i32>::new());
        assert_eq!(proc_pids_of("/proc/self/root/proc/42/environ"), vec![42]);
        assert_eq!(proc_pids_of("/proc/7/root/proc/42/mem"), vec![7, 42]);
        assert_eq!(proc_pids_of("/tmp/../proc/./42/cmdline"), vec![42]);
        assert_eq!(proc_pids_of("//proc//42"), vec![42]);
        assert_eq!(proc_pids_of("/proc/sys/kernel/hostname"), Vec::<i32>::new());
        assert_eq!(proc_pids_of("/home/u/proc/42"), Vec::<i32>::new());
        // The supervisor is outside its own sandbox; the caller is inside.
        let me = std::process::id() as i32;
        let none = Members::new();
        assert!(!in_sandbox(me, 999_999, &none));
        assert!(in_sandbox(me, me, &none));
        assert!(!in_sandbox(1, 999_999, &none));
    }

    /// A member is a pid and its start time: a pid reused by an outside
    /// process (here: a child started, recorded, exited, and a pid with
    /// another start time) is not a member any more.
    #[test]
    fn a_reused_pid_is_not_a_member() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let started = crate::procfs::start_time(pid).unwrap();
        let mut members = Members::new();
        members.insert(pid, started);
        assert!(is_member(&members, pid));
        assert!(in_sandbox(pid, 999_999, &members));
        // The same pid, recorded with another start time: not the same process.
        members.insert(pid, started + 1);
        assert!(!is_member(&members, pid));
        child.kill().unwrap();
        child.wait().unwrap();
        members.insert(pid, started);
        assert!(!is_member(&members, pid));
    }

    #[test]
    fn dns_queries_are_read() {
        let mut p = simple_dns::Packet::new_query(7);
        p.questions.push(simple_dns::Question::new(
            simple_dns::Name::new_unchecked("aGVsbG8.exfil.example"),
            simple_dns::QTYPE::TYPE(simple_dns::TYPE::A),
            simple_dns::QCLASS::CLASS(simple_dns::CLASS::IN),
            false,
        ));
        let bytes = p.build_bytes_vec().unwrap();
        assert_eq!(
            dns_query_name(&bytes).as_deref(),
            Some("aGVsbG8.exfil.example")
        );
        assert_eq!(dns_query_name(b"not dns"), None);
    }

    #[test]
    fn paths_resolve_to_what_they_name() {
        use std::os::fd::AsRawFd;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        let home = root.join("home");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(home.join(".config/git")).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(home.join(".bash_logout"), "x").unwrap();
        let me = std::process::id() as i32;
        let r = |p: &Path, follow: bool| resolve(me, libc::AT_FDCWD, p.to_str().unwrap(), follow);
        let s = |p: &Path| p.display().to_string();
        // A symlink planted in an allowed place, written through.
        std::os::unix::fs::symlink(home.join(".bash_logout"), tmp.join("l")).unwrap();
        assert_eq!(r(&tmp.join("l"), true), s(&home.join(".bash_logout")));
        assert_eq!(r(&tmp.join("l"), false), s(&tmp.join("l")));
        // A symlinked directory on the way, relative links, `..`.
        std::os::unix::fs::symlink("../home/.config/git", tmp.join("d")).unwrap();
        assert_eq!(
            r(&tmp.join("d/config"), false),
            s(&home.join(".config/git/config"))
        );
        assert_eq!(r(&tmp.join("d/../x"), false), s(&home.join(".config/x")));
        // A dangling link: O_CREAT creates its target.
        std::os::unix::fs::symlink(home.join(".config/git/new"), tmp.join("n")).unwrap();
        assert_eq!(r(&tmp.join("n"), true), s(&home.join(".config/git/new")));
        // /proc aliases, read for the process, not the supervisor.
        let alias = format!("/proc/self/root{}", home.join(".bash_logout").display());
        assert_eq!(r(Path::new(&alias), true), s(&home.join(".bash_logout")));
        let alias = format!("/proc/{me}/root{}", home.join(".bash_logout").display());
        assert_eq!(r(Path::new(&alias), true), s(&home.join(".bash_logout")));
        let dir = std::fs::File::open(home.join(".config/git")).unwrap();
        let alias = format!("/proc/self/fd/{}/config", dir.as_raw_fd());
        assert_eq!(
            r(Path::new(&alias), true),
            s(&home.join(".config/git/config"))
        );
        // dirfd-relative.
        assert_eq!(
            resolve(me, dir.as_raw_fd(), "../../.bash_logout", true),
            s(&home.join(".bash_logout"))
        );
        // A link through /proc/self planted as a file: still the process's.
        std::os::unix::fs::symlink(format!("/proc/self/fd/{}", dir.as_raw_fd()), tmp.join("p"))
            .unwrap();
        assert_eq!(
            r(&tmp.join("p/config"), true),
            s(&home.join(".config/git/config"))
        );
        // A loop ends.
        std::os::unix::fs::symlink(tmp.join("loop"), tmp.join("loop")).unwrap();
        assert!(r(&tmp.join("loop"), true).ends_with("loop"));
    }

    #[test]
    fn a_directory_deeper_than_path_max_is_walked_by_descriptor() {
        use nix::fcntl::{OFlag, openat};
        use std::os::fd::AsRawFd;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        std::fs::write(root.join("target"), "x").unwrap();
        let name = "d".repeat(200);
        let mut dir = open_path(None, &root, true).unwrap();
        for _ in 0..22 {
            nix::sys::stat::mkdirat(&dir, name.as_str(), Mode::S_IRWXU).unwrap();
            dir = openat(
                &dir,
                name.as_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                Mode::empty(),
            )
            .unwrap();
        }
        let me = std::process::id() as i32;
        let fd = dir.as_raw_fd();
        // The kernel will not print its name; the walk rebuilds it.
        let deep = std::iter::repeat_n(name.as_str(), 22).fold(root.clone(), |p, n| p.join(n));
        assert!(deep.as_os_str().len() > libc::PATH_MAX as usize);
        let made = resolve_path(me, fd, Path::new("new"), false).unwrap();
        assert_eq!(made.path, deep.join("new"));
        assert!(!made.exists);
        // A link planted there leads where the kernel goes.
        let target = root.join("target");
        nix::unistd::symlinkat(&target, &dir, "c").unwrap();
        let link = resolve_path(me, fd, Path::new("c"), true).unwrap();
        assert_eq!(link.path, target);
        assert!(link.exists);
        let back = format!("/proc/self/fd/{fd}/c");
        assert_eq!(
            resolve(me, libc::AT_FDCWD, &back, true),
            target.display().to_string()
        );
        let up = "../".repeat(22) + "target";
        assert_eq!(resolve(me, fd, &up, true), target.display().to_string());
    }

    /// The cost in README ("Paths are judged by what they name"): run with
    /// `cargo test --release --lib resolving_costs -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn resolving_costs() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        let dir = root.join("a/b/c/d");
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(&dir, root.join("l")).unwrap();
        let path = root.join("l/e");
        let me = std::process::id() as i32;
        let n = 20_000u32;
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(resolve_path(me, libc::AT_FDCWD, &path, true).unwrap());
        }
        let per = start.elapsed() / n;
        let depth = path.components().count();
        println!("{per:?} per path of {depth} components, one symlink");
    }

    #[test]
    fn proc_self_is_the_thread_group_and_thread_self_the_thread() {
        let me = std::process::id() as i32;
        let (tid, r) = std::thread::spawn(move || {
            let tid = nix::unistd::gettid().as_raw();
            let r = |p: &str| resolve(tid, libc::AT_FDCWD, p, false);
            (
                tid,
                [r("/proc/self"), r("/proc/thread-self"), r("/proc/self/fd")],
            )
        })
        .join()
        .unwrap();
        assert_ne!(tid, me);
        assert_eq!(r[0], format!("/proc/{me}"));
        assert_eq!(r[1], format!("/proc/{me}/task/{tid}"));
        assert_eq!(r[2], format!("/proc/{me}/fd"));
    }

    #[test]
    fn a_path_that_cannot_be_resolved_is_an_error_not_a_name() {
        use std::os::fd::AsRawFd;
        let me = std::process::id() as i32;
        let t = tempfile::tempdir().unwrap();
        let long = t.path().join("a".repeat(300)).join("x");
        let long = long.to_str().unwrap();
        assert_eq!(
            resolve_path(me, libc::AT_FDCWD, Path::new(long), false),
            Err(libc::ENAMETOOLONG)
        );
        // A relative name against a file or a closed descriptor.
        let f = std::fs::File::create(t.path().join("f")).unwrap();
        assert_eq!(
            resolve_path(me, f.as_raw_fd(), Path::new("x"), false),
            Err(libc::ENOTDIR)
        );
        assert!(resolve_path(me, 100_000, Path::new("x"), false).is_err());
        // A missing name is no error: the kernel fails the call itself.
        let gone = t.path().join("no/such/x");
        let r = resolve_path(me, libc::AT_FDCWD, &gone, true).unwrap();
        assert_eq!((r.path, r.exists), (gone, false));
    }

    #[test]
    fn chmod_and_chown_follow_the_callers_permissions() {
        let status = "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nGroups:\t27 1000\nCapEff:\t0000000000000000\n";
        let user = Creds::parse(status).unwrap();
        assert_eq!(user.fsuid, 1000);
        assert_eq!(user.groups, vec![27, 1000]);
        // Any file's stat: permits reads only the owner and group set here.
        let mut st = fstat(std::fs::File::open("/").unwrap()).unwrap();
        st.st_uid = 1000;
        st.st_gid = 1000;
        let m = PermChange::Mode(0o644);
        assert_eq!(user.permits(m, &st), Ok(m));
        // Group 27 (not the file's): fine for a chown of one's own file.
        let g = PermChange::Owner(u32::MAX, 27);
        assert_eq!(user.permits(g, &st), Ok(g));
        assert_eq!(
            user.permits(PermChange::Owner(0, u32::MAX), &st),
            Err(libc::EPERM)
        );
        st.st_uid = 0;
        assert_eq!(user.permits(m, &st), Err(libc::EPERM));
        // Root with CAP_CHOWN and CAP_FOWNER: anything.
        let root = Creds::parse(
            &status
                .replace("1000", "0")
                .replace("0000000000000000", "000001ffffffffff"),
        )
        .unwrap();
        assert_eq!(
            root.permits(PermChange::Owner(5, 5), &st),
            Ok(PermChange::Owner(5, 5))
        );
        // setgid dropped outside the file's group without CAP_FSETID.
        st.st_uid = 1000;
        st.st_gid = 5;
        assert_eq!(
            user.permits(PermChange::Mode(0o2755), &st),
            Ok(PermChange::Mode(0o755))
        );
    }

    #[test]
    fn chmod_and_chown_arguments_are_ints() {
        let hi = 1u64 << 32;
        assert_eq!(
            perm_call(libc::SYS_fchmod, [3 | hi, 0o777 | hi, 0, 0, 0, 0]),
            Some((PermTarget::Fd(3), PermChange::Mode(0o777)))
        );
        let Some((PermTarget::Path { follow, empty, .. }, PermChange::Owner(u, g))) = perm_call(
            libc::SYS_fchownat,
            [
                libc::AT_FDCWD as u32 as u64,
                0x1000,
                7,
                u64::MAX,
                (libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) as u64,
                0,
            ],
        ) else {
            panic!("fchownat not decoded");
        };
        assert!(!follow && empty);
        assert_eq!((u, g), (7, u32::MAX));
        assert_eq!(owner_text(u, g), "7:-1");
    }

    #[test]
    fn other_processes_environ_is_a_secret() {
        assert!(is_other_environ("/proc/1/environ", 50));
        assert!(!is_other_environ("/proc/50/environ", 50));
        assert!(!is_other_environ("/proc/self/environ", 50));
        assert!(!is_other_environ("/home/u/environ", 50));
    }
}
