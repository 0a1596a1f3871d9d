//! The post-install watch window (policy `time_window`): one watcher per
//! user that keeps looking at the persistence locations after installs have
//! ended, and adds what changes to the report of the install it belongs to.
//!
//! Some packages act after the install: a process the install left running,
//! or a `.pth` that imports a module its own distribution ships and runs it
//! the next time Python starts. The window observes and records; it never
//! undoes (it cannot always tell the package's later write from the user's).
//!
//! - One watcher per user: `pkgwarden watch <dir>` holds an `flock` on
//!   `<dir>/watcher.lock`. An install writes its window as `<dir>/<id>.json`
//!   and starts a watcher only when the lock is free; a running watcher picks
//!   new windows up (the directory is watched). The handover is by file, not
//!   by a new watcher taking over, so a window is never lost between two
//!   watchers and the baselines stay with the windows that own them.
//! - The kernel says when to look (inotify through the `notify` crate on the
//!   watched directories); the snapshot diff stays the ground truth, taken
//!   at once after each event and every [`SAFETY_TICK`] (every [`POLL_TICK`]
//!   when some directory could not be watched). A watched path that an event
//!   named and that is gone by the snapshot is kept as a transient change.
//! - A change belongs to one report only. It is linked to an install when a
//!   process that install left running (or a child of one) was alive when
//!   it was seen, when the path is one the install itself changed, or when
//!   an added line is text of a file the install planted (a changed watched
//!   file, or a module its `.pth` imports). A linked change goes to the
//!   newest install it is linked to, with the rule's severity; a change
//!   linked to none is recorded once, as info, on the newest open window.
//! - A window finding above info leaves a one-line notice that the next shim
//!   call or `pkgwarden report list` prints once ([`print_notices`]).

use crate::detect;
use crate::model::Mode;
pub use crate::model::watch::WatchReport;
use crate::model::{Change, ChangeKind};
use crate::model::{Finding, Severity};
use crate::monitor::snapshot::{self, Scope, Snapshot};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Snapshot period when every watched directory has a kernel watch: a
/// safety net for what inotify does not report (e.g. a bind mount).
const SAFETY_TICK: Duration = Duration::from_secs(10);
/// Snapshot period when some directory could not be watched (inotify
/// limits): plain polling, as before the kernel watches.
const POLL_TICK: Duration = Duration::from_secs(1);
/// How often processes the installs left running are checked while some
/// still are: a write is linked to one that was alive within [`PROC_SLACK`].
const PROC_TICK: Duration = Duration::from_millis(200);
/// See [`PROC_TICK`].
const PROC_SLACK: Duration = Duration::from_millis(600);
/// Events that come together are one look.
const SETTLE: Duration = Duration::from_millis(15);
/// An added line shorter than this proves nothing about where it came from.
const LINK_LINE_MIN: usize = 12;
/// Largest planted file read to link content.
const PLANTED_MAX: u64 = 256 * 1024;
/// The lock the one watcher of a user holds.
const LOCK: &str = "watcher.lock";

/// One window, handed from the install to the watcher in a file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WatchSpec {
    /// The report the window adds to.
    pub report_id: String,
    /// When the install ended (ms since the epoch).
    pub ended_ms: u64,
    /// When the window closes (ms since the epoch).
    pub until_ms: u64,
    /// What to snapshot: the install's own scope.
    pub scope: Scope,
    /// The snapshot taken after the install: what the window compares
    /// with, so nothing written between the install and the watcher's
    /// start is missed.
    pub baseline: Snapshot,
    /// The baseline's kept file contents (base64), which a snapshot never
    /// serialises itself: the window's changes show their lines with them.
    #[serde(default)]
    pub contents: BTreeMap<PathBuf, String>,
    /// The install's mode.
    pub mode: Mode,
    /// The install's expected roots.
    pub expected: Vec<PathBuf>,
    /// The manager's configuration files.
    pub manager_configs: Vec<PathBuf>,
    /// Policy `startup_paths.linux`.
    pub startup_patterns: Vec<String>,
    /// Policy `executable_entropy_threshold`.
    pub entropy_threshold: f64,
    /// Policy `unsigned_binary_alerting`.
    pub unsigned_binary_alerting: bool,
    /// The root project's package, for hooks the project asks for.
    pub project_package: Option<String>,
    /// Processes of the install still running when it ended.
    #[serde(default)]
    pub lingering: Vec<Tracked>,
    /// Files the install planted: the watched paths it changed and the
    /// modules its `.pth` files import ([`planted`]).
    #[serde(default)]
    pub planted: Vec<PathBuf>,
    /// The install's log sinks: what the window adds goes there too.
    #[serde(default)]
    pub log: crate::model::log::LogSinks,
}

/// A process, named so that a reused pid is not taken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tracked {
    /// Process id.
    pub pid: i32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start: u64,
}

impl Tracked {
    /// The live process `pid`, `None` when it is gone.
    pub fn of(pid: i32) -> Option<Tracked> {
        proc_stat(pid).map(|(_, start, _)| Tracked { pid, start })
    }

    fn alive(&self) -> bool {
        proc_stat(self.pid).is_some_and(|(_, start, zombie)| start == self.start && !zombie)
    }
}

/// `(ppid, start time, zombie)` of `pid`.
fn proc_stat(pid: i32) -> Option<(i32, u64, bool)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may hold spaces or parentheses: the fields start after the last ')'.
    let rest = text.get(text.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let zombie = matches!(f.first(), Some(&"Z" | &"X"));
    Some((f.get(1)?.parse().ok()?, f.get(19)?.parse().ok()?, zombie))
}

/// Where windows wait for the watcher.
fn spec_dir() -> Option<PathBuf> {
    crate::paths::state_dir().map(|d| d.join("watch"))
}

/// Where notices wait for the next shim call.
fn notice_dir(dir: &Path) -> PathBuf {
    dir.join("notices")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// The processes of `pids` that are alive, with their start times.
pub fn tracked(pids: impl IntoIterator<Item = i32>) -> Vec<Tracked> {
    pids.into_iter().filter_map(Tracked::of).collect()
}

/// What an install planted among the watched files: the paths of its own
/// snapshot diff that it added or changed, and for each `.pth` among them
/// the modules its `import` lines name, found next to it.
pub fn planted(changes: &[Change]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for c in changes.iter().filter(|c| c.kind != ChangeKind::Removed) {
        let p = PathBuf::from(&c.path);
        if p.extension().is_some_and(|e| e == "pth")
            // Never a blocking read: a FIFO named x.pth would hang the watcher.
            && let (Some(dir), Some(text)) = (
                p.parent(),
                crate::detect::read_regular_text(&p, crate::detect::TEXT_MAX),
            )
        {
            for line in text.lines() {
                let Some(rest) = line.trim_start().strip_prefix("import ") else {
                    continue;
                };
                for m in rest
                    .split([',', ';'])
                    .filter_map(|m| m.split_whitespace().next())
                {
                    let rel = m.split('.').collect::<PathBuf>();
                    for cand in [
                        dir.join(&rel).with_extension("py"),
                        dir.join(&rel).join("__init__.py"),
                    ] {
                        if cand.is_file() && !out.contains(&cand) {
                            out.push(cand);
                        }
                    }
                }
            }
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

impl WatchSpec {
    /// Keeps the baseline's contents in [`WatchSpec::contents`].
    pub fn keep_contents(&mut self) {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.contents = self
            .baseline
            .entries
            .iter()
            .filter_map(|(p, e)| Some((p.clone(), b64.encode(e.content.as_ref()?))))
            .collect();
    }

    /// Puts [`WatchSpec::contents`] back into the baseline.
    fn restore_contents(&mut self) {
        let b64 = base64::engine::general_purpose::STANDARD;
        for (p, c) in std::mem::take(&mut self.contents) {
            if let (Some(e), Ok(bytes)) = (self.baseline.entries.get_mut(&p), b64.decode(c)) {
                e.content = Some(bytes);
            }
        }
    }
}

/// Opens (creating) the watcher lock of `dir`.
fn open_lock(dir: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(LOCK))
}

/// Takes the lock without waiting; false when another process holds it.
fn try_lock(f: &std::fs::File) -> bool {
    f.try_lock().is_ok()
}

fn unlock(f: &std::fs::File) {
    let _ = f.unlock();
}

/// True when a watcher holds the lock of `dir`.
fn watcher_running(dir: &Path) -> bool {
    match open_lock(dir) {
        Ok(f) if try_lock(&f) => {
            unlock(&f);
            false
        }
        Ok(_) => true,
        Err(_) => false,
    }
}

/// The windows waiting in `dir`.
fn spec_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

/// Hands `spec` to the user's watcher: writes it as a window file, and
/// starts `pkgwarden watch <dir>` when no watcher holds the lock. The
/// watcher runs in a session of its own, with no terminal, no inherited
/// output and a minimal environment (none of the user's secrets).
pub fn spawn(spec: &WatchSpec) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    use std::os::unix::process::CommandExt;
    let dir = spec_dir().ok_or("no state directory: set HOME or XDG_STATE_HOME")?;
    // Private: the spec holds the content of start-up files.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let file = dir.join(format!("{}.json", spec.report_id));
    let part = dir.join(format!(".{}.part", spec.report_id));
    let json = serde_json::to_vec(spec).map_err(|e| format!("cannot encode the watch: {e}"))?;
    // Written aside, then renamed: the watcher never reads half a window.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&part)
        .and_then(|mut f| f.write_all(&json))
        .and_then(|()| std::fs::rename(&part, &file))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    if watcher_running(&dir) {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find pkgwarden itself: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("watch")
        .arg(&dir)
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // The watcher lives past the install: it keeps none of the user's
        // environment (tokens, keys), only what locates pkgwarden's files.
        .env_clear()
        .envs(watcher_env(std::env::vars_os()));
    // SAFETY: setsid and close_range are thin syscall wrappers that
    // allocate nothing (async-signal-safe between fork and execve).
    unsafe {
        cmd.pre_exec(|| {
            let _ = nix::unistd::setsid();
            // No descriptor of the install's caller (a pipe someone reads
            // to its end) stays open in the watcher: close-on-exec for all
            // (CLOSE_RANGE_CLOEXEC), so spawn's own error pipe still works.
            let _ = crate::sys::cloexec_from(3);
            Ok(())
        });
    }
    cmd.spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the watcher: {e}"))
}

/// The variables the watcher keeps: where pkgwarden's files are, and the
/// locale and time zone its report dates use.
fn watcher_env(
    env: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    const KEEP: &[&str] = &[
        "HOME",
        "PATH",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        "PKGWARDEN_SYSTEM_POLICY",
        "LANG",
        "LC_ALL",
        "TZ",
    ];
    env.filter(|(k, _)| KEEP.iter().any(|n| k.as_os_str() == *n))
        .collect()
}

/// A monitored install in progress, marked in `watch/running/` for the
/// watcher; the mark goes when this is dropped.
pub struct Running(Option<PathBuf>);

impl Running {
    /// Marks this process's install as running (best effort).
    pub fn mark() -> Running {
        let me = std::process::id() as i32;
        let file = spec_dir().zip(Tracked::of(me)).and_then(|(d, t)| {
            let d = running_dir(&d);
            std::fs::create_dir_all(&d).ok()?;
            let f = d.join(format!("{}.{}", t.pid, t.start));
            std::fs::write(&f, b"").ok()?;
            Some(f)
        });
        Running(file)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn running_dir(dir: &Path) -> PathBuf {
    dir.join("running")
}

/// True while a monitored install runs (a mark whose process is alive);
/// marks of processes that are gone are removed.
fn installs_running(dir: &Path) -> bool {
    let mut any = false;
    for e in std::fs::read_dir(running_dir(dir))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name();
        let t = name.to_str().and_then(|n| {
            let (pid, start) = n.split_once('.')?;
            Some(Tracked {
                pid: pid.parse().ok()?,
                start: start.parse().ok()?,
            })
        });
        if t.is_some_and(|t| t.alive()) {
            any = true;
        } else {
            let _ = std::fs::remove_file(e.path());
        }
    }
    any
}

/// True when a notice waits for [`print_notices`] (the shim executable
/// hands the call to the full pkgwarden then, which prints it). One
/// directory read; no directory, no notice.
pub fn notices_pending() -> bool {
    let Some(dir) = spec_dir().map(|d| notice_dir(&d)) else {
        return false;
    };
    std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| !e.file_name().as_encoded_bytes().starts_with(b"."))
}

/// Prints, once each, the notices the watcher left: one line per report
/// that gained findings above info after its install ended.
pub fn print_notices() {
    let Some(dir) = spec_dir().map(|d| notice_dir(&d)) else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.as_encoded_bytes().starts_with(b"."))
        })
        .collect();
    files.sort();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        // Removing claims it: of two shims at once, one prints it.
        if std::fs::remove_file(&f).is_ok() {
            eprintln!("{}", text.trim_end());
        }
    }
}

/// One open window in the watcher.
struct Window {
    spec: WatchSpec,
    file: PathBuf,
    /// Key of its scope: windows with the same scope share a snapshot.
    scope_key: String,
    /// Text of the files it planted.
    planted_text: Vec<(PathBuf, String)>,
    /// Processes of its tree: when each was last seen alive.
    procs: HashMap<Tracked, Instant>,
    /// The changes given to this report (current state).
    owned: Vec<Change>,
    /// Transient changes given to it (written and gone): kept.
    transient: Vec<Change>,
    /// Change keys already judged for this report.
    judged: BTreeSet<String>,
}

impl Window {
    fn load(file: &Path) -> Result<Window, String> {
        let mut spec: WatchSpec = std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))?;
        spec.restore_contents();
        let planted_text = spec
            .planted
            .iter()
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= PLANTED_MAX))
            .filter_map(|p| Some((p.clone(), crate::detect::read_regular_text(p, PLANTED_MAX)?)))
            .collect();
        let now = Instant::now();
        Ok(Window {
            scope_key: serde_json::to_string(&spec.scope).unwrap_or_default(),
            procs: spec.lingering.iter().map(|t| (*t, now)).collect(),
            spec,
            file: file.to_path_buf(),
            planted_text,
            owned: Vec::new(),
            transient: Vec::new(),
            judged: BTreeSet::new(),
        })
    }

    /// Why `c`, seen at `seen`, is this install's; `None` when nothing
    /// links it.
    fn link(&self, c: &Change, seen: Instant) -> Option<Link> {
        let path = Path::new(&c.path);
        if let Some((t, _)) = self
            .procs
            .iter()
            .filter(|(_, last)| **last + PROC_SLACK >= seen)
            .min_by_key(|(t, _)| t.pid)
        {
            return Some(Link {
                why: format!(
                    "while process {} that the install left running was alive",
                    t.pid
                ),
                pid: Some(t.pid),
            });
        }
        if self.spec.planted.iter().any(|p| p == path) {
            return Some(Link {
                why: "in a file the install itself wrote".into(),
                pid: None,
            });
        }
        for (_, line) in &c.added_lines {
            let line = line.trim();
            if line.chars().count() < LINK_LINE_MIN {
                continue;
            }
            if let Some((p, _)) = self.planted_text.iter().find(|(_, t)| t.contains(line)) {
                return Some(Link {
                    why: format!(
                        "its added text is in {}, which the install planted",
                        p.display()
                    ),
                    pid: None,
                });
            }
        }
        None
    }
}

/// What ties a change to an install.
#[derive(Clone, Debug)]
struct Link {
    /// In a few words, for the finding's detail.
    why: String,
    /// The install's process that was alive then, when that is the link.
    pid: Option<i32>,
}

/// True when `entry` (a baseline's, at the change's path) is what the
/// change left there (nothing, for a removal).
fn same_entry(entry: Option<&snapshot::Entry>, c: &Change) -> bool {
    match (entry, &c.after) {
        (Some(e), Some(a)) => e.ino == a.ino && e.ctime_ns == a.ctime_ns && e.size == a.size,
        (None, None) => c.kind == ChangeKind::Removed,
        _ => false,
    }
}

/// The identity of one change: the path and what is there now.
fn change_key(c: &Change) -> String {
    match &c.after {
        Some(a) => format!("{}\0{}\0{}\0{}", c.path, a.ino, a.ctime_ns, a.size),
        None if c.kind == ChangeKind::Removed => format!("{}\0removed", c.path),
        None => format!("{}\0transient", c.path),
    }
}

/// True when `path` is a file `scope` watches (a pattern matches it or its
/// directory, or it is a start-up hook in a site dir, or any file of a
/// PATH dir).
fn covers(scope: &Scope, path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let parent = path.parent().unwrap_or(Path::new("/"));
    if scope.site_dirs.iter().any(|d| d == parent)
        && (name.ends_with(".pth") || name == "sitecustomize.py" || name == "usercustomize.py")
    {
        return true;
    }
    if scope.path_dirs.iter().any(|d| d == parent) {
        return true;
    }
    let (Some(p), Some(par)) = (path.to_str(), parent.to_str()) else {
        return false;
    };
    expanded(scope)
        .iter()
        .any(|pat| snapshot::glob_match(pat, p) || snapshot::glob_match(pat, par))
}

/// The scope's patterns as absolute globs.
fn expanded(scope: &Scope) -> Vec<String> {
    scope
        .patterns
        .iter()
        .filter_map(|pat| {
            if let Some(rest) = pat.strip_prefix("~/") {
                Some(format!("{}/{rest}", scope.home.as_ref()?.display()))
            } else if pat.starts_with('~') {
                None
            } else if pat.starts_with('/') {
                Some(pat.clone())
            } else {
                Some(format!("{}/{pat}", scope.cwd.display()))
            }
        })
        .collect()
}

/// The directories the kernel should watch for `scope`, each with whether
/// below it too: the literal start of each pattern (its nearest existing
/// ancestor while it does not exist), the site and PATH dirs.
fn watch_dirs(scope: &Scope) -> Vec<(PathBuf, bool)> {
    let mut out: Vec<(PathBuf, bool)> = Vec::new();
    let mut push = |d: PathBuf, deep: bool| {
        let mut d = d;
        let mut deep = deep;
        while !d.is_dir() {
            deep = false;
            match d.parent() {
                Some(p) => d = p.to_path_buf(),
                None => return,
            }
        }
        if !out.iter().any(|(o, od)| *o == d && (*od || !deep)) {
            out.push((d, deep));
        }
    };
    for pat in expanded(scope) {
        let mut base = PathBuf::from("/");
        let mut wild = false;
        let mut deep = false;
        for comp in pat.split('/').filter(|c| !c.is_empty()) {
            if comp.contains(['*', '?']) {
                wild = true;
                deep = comp == "**" || pat.contains("/**");
                break;
            }
            base.push(comp);
        }
        if wild {
            push(base, deep);
        } else {
            // A file, or a directory standing for the files in it.
            if base.is_dir() {
                push(base.clone(), false);
            }
            if let Some(p) = base.parent() {
                push(p.to_path_buf(), false);
            }
        }
    }
    for d in scope.site_dirs.iter().chain(&scope.path_dirs) {
        push(d.clone(), false);
    }
    out
}

/// The watcher: all open windows of one user.
struct Watcher {
    dir: PathBuf,
    windows: Vec<Window>,
    /// Change key → the report it was given to.
    claimed: HashMap<String, String>,
    kernel: Option<notify::INotifyWatcher>,
    /// Directories with a kernel watch (and whether recursive).
    watched: HashMap<PathBuf, bool>,
    /// True when some directory could not be given a kernel watch.
    polling: bool,
}

/// The watcher's body (`pkgwarden watch <dir>`): returns at once when
/// another watcher holds the lock, else runs until no window is open.
pub fn run(dir: &Path) -> i32 {
    // Low priority: the window must not slow down what the user does next.
    let _ = crate::sys::set_nice(10);
    let lock = match open_lock(dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "pkgwarden: watch: cannot open {}: {e}",
                dir.join(LOCK).display()
            );
            return 1;
        }
    };
    if !try_lock(&lock) {
        return 0;
    }
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let kernel = notify::Watcher::new(
        move |ev| {
            let _ = tx.send(ev);
        },
        notify::Config::default(),
    )
    .ok();
    let mut w = Watcher {
        dir: dir.to_path_buf(),
        windows: Vec::new(),
        claimed: HashMap::new(),
        kernel,
        watched: HashMap::new(),
        polling: false,
    };
    w.add_watch(dir, false);
    let _ = std::fs::create_dir_all(running_dir(dir));
    w.add_watch(&running_dir(dir), false);
    let mut last_look = Instant::now() - POLL_TICK;
    let mut again = false;
    loop {
        // A new window is looked at once: what changed between its
        // install's end and now is in its diff already.
        let added = w.load_new();
        if w.windows.is_empty() {
            // A window written after the scan above but before the unlock
            // saw the lock held and started no watcher: look once more.
            unlock(&lock);
            if spec_files(dir).is_empty() || !try_lock(&lock) {
                return 0;
            }
            continue;
        }
        w.ensure_watches();
        let tick = if w.polling || w.kernel.is_none() {
            POLL_TICK
        } else {
            SAFETY_TICK
        };
        let next_close = w
            .windows
            .iter()
            .map(|x| x.spec.until_ms)
            .min()
            .unwrap_or(0)
            .saturating_sub(now_ms());
        let mut wait = tick
            .saturating_sub(last_look.elapsed())
            .min(Duration::from_millis(next_close));
        if w.windows.iter().any(|x| !x.procs.is_empty()) {
            wait = wait.min(PROC_TICK);
        }
        if added || again {
            wait = Duration::ZERO;
        }
        let mut paths: Vec<PathBuf> = Vec::new();
        let mut woke = false;
        if let Ok(ev) = rx.recv_timeout(wait) {
            woke = true;
            let settle = Instant::now() + SETTLE;
            collect(ev, &mut paths);
            while let Ok(ev) = rx.recv_timeout(settle.saturating_duration_since(Instant::now())) {
                collect(ev, &mut paths);
            }
        }
        // Windows written before these events: the change may be theirs.
        let added = w.load_new() || added;
        let seen = Instant::now();
        w.check_procs(seen);
        let ran = paths.iter().any(|p| p.starts_with(running_dir(dir)));
        paths.retain(|p| {
            p.parent() != Some(dir)
                && !p.starts_with(notice_dir(dir))
                && !p.starts_with(running_dir(dir))
        });
        let due = w.windows.iter().any(|x| now_ms() >= x.spec.until_ms);
        if again
            || added
            || ran
            || (woke && !paths.is_empty())
            || last_look.elapsed() >= tick
            || due
        {
            again = !w.look(&paths, seen);
            last_look = Instant::now();
        }
        w.close_due();
    }
}

/// The paths an event names (writes, creations, renames, removals).
fn collect(ev: notify::Result<notify::Event>, out: &mut Vec<PathBuf>) {
    let Ok(ev) = ev else { return };
    if matches!(ev.kind, notify::EventKind::Access(_)) {
        return;
    }
    for p in ev.paths {
        if !out.contains(&p) {
            out.push(p);
        }
    }
}

impl Watcher {
    fn add_watch(&mut self, d: &Path, deep: bool) {
        use notify::Watcher as _;
        if self.watched.get(d).is_some_and(|had| *had || !deep) {
            return;
        }
        let Some(k) = self.kernel.as_mut() else {
            self.polling = true;
            return;
        };
        let mode = if deep {
            notify::RecursiveMode::Recursive
        } else {
            notify::RecursiveMode::NonRecursive
        };
        match k.watch(d, mode) {
            Ok(()) => {
                self.watched.insert(d.to_path_buf(), deep);
            }
            // What pkgwarden cannot read, the snapshot cannot see either.
            Err(notify::Error {
                kind: notify::ErrorKind::Io(e),
                ..
            }) if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::NotFound
            ) => {}
            Err(_) => self.polling = true,
        }
    }

    /// Kernel watches for every open window's directories (again after
    /// events: a directory may have been created).
    fn ensure_watches(&mut self) {
        let mut want: Vec<(PathBuf, bool)> = Vec::new();
        let mut scopes: BTreeSet<&str> = BTreeSet::new();
        for x in &self.windows {
            if scopes.insert(&x.scope_key) {
                want.extend(watch_dirs(&x.spec.scope));
            }
        }
        for (d, deep) in want {
            self.add_watch(&d, deep);
        }
    }

    /// Reads the windows written since the last look; true when there
    /// were any.
    fn load_new(&mut self) -> bool {
        let mut added = false;
        for f in spec_files(&self.dir) {
            if self.windows.iter().any(|x| x.file == f) {
                continue;
            }
            match Window::load(&f) {
                Ok(x) => {
                    self.windows.push(x);
                    added = true;
                }
                Err(e) => {
                    eprintln!("pkgwarden: watch: cannot read {}: {e}", f.display());
                    let _ = std::fs::remove_file(&f);
                }
            }
        }
        // Newest install first: ownership goes to the newest window.
        self.windows
            .sort_by_key(|x| std::cmp::Reverse(x.spec.ended_ms));
        added
    }

    /// Notes which processes of each install are alive, adding the children
    /// they have started since.
    fn check_procs(&mut self, now: Instant) {
        if self.windows.iter().all(|x| x.procs.is_empty()) {
            return;
        }
        let mut parent_of: Vec<(i32, i32)> = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if let Some((ppid, _, _)) = proc_stat(pid) {
                parent_of.push((pid, ppid));
            }
        }
        for x in &mut self.windows {
            let alive: Vec<Tracked> = x.procs.keys().filter(|t| t.alive()).copied().collect();
            for t in &alive {
                x.procs.insert(*t, now);
            }
            for &(pid, ppid) in &parent_of {
                if alive.iter().any(|t| t.pid == ppid)
                    && let Some(t) = Tracked::of(pid)
                {
                    x.procs.insert(t, now);
                }
            }
            // Forget the long dead.
            x.procs.retain(|_, last| *last + PROC_SLACK * 4 >= now);
        }
    }

    /// One look: a snapshot per scope, each window's diff, each new change
    /// given to one report and judged there. False when a window arrived
    /// while the snapshots were taken: nothing was given, look again.
    fn look(&mut self, events: &[PathBuf], seen: Instant) -> bool {
        // An install marks itself running before it writes anything and
        // writes its window before it unmarks. So a change the snapshots
        // below see was made by an install that was marked before or after
        // them, or whose window is loaded by the time the marks are read
        // again (its own snapshot then says whether the change is its own).
        let running_before = installs_running(&self.dir);
        let diffs = self.diffs(events);
        // While an install runs, only a process link decides: the rest
        // waits for that install's window (its snapshot covers it).
        let running = running_before || installs_running(&self.dir);
        if self.load_new() {
            return false;
        }
        self.claim(&diffs, running, seen);
        self.give(diffs, seen);
        true
    }

    /// Each window's changes now, transients included: a snapshot per
    /// scope against each window's baseline, and the paths of `events`
    /// that are gone again by the snapshot.
    fn diffs(&self, events: &[PathBuf]) -> Vec<Vec<Change>> {
        let mut snaps: HashMap<String, Snapshot> = HashMap::new();
        for x in &self.windows {
            if !snaps.contains_key(&x.scope_key) {
                snaps.insert(x.scope_key.clone(), snapshot::take(&x.spec.scope));
            }
        }
        let mut diffs: Vec<Vec<Change>> = Vec::new();
        for x in &self.windows {
            let Some(snap) = snaps.get(&x.scope_key) else {
                diffs.push(Vec::new());
                continue;
            };
            let mut d = snapshot::diff(&x.spec.baseline, snap);
            for p in events {
                if snap.entries.contains_key(p)
                    || d.iter().any(|c| Path::new(&c.path) == p)
                    || !covers(&x.spec.scope, p)
                    || p.is_dir()
                {
                    continue;
                }
                let before = x.spec.baseline.entries.get(p).cloned();
                // Gone again by the snapshot: removed, or written and removed.
                if before.is_some() {
                    continue;
                }
                d.push(Change {
                    path: p.display().to_string(),
                    kind: ChangeKind::Added,
                    before,
                    after: None,
                    added_lines: Vec::new(),
                });
            }
            diffs.push(d);
        }
        diffs
    }

    /// Gives each change not yet given to a report an owner: the window
    /// (newest first) whose install's process made it, else the newest
    /// that holds it; nothing while an install runs or a newer install's
    /// own snapshot already had it, unless a process links it.
    fn claim(&mut self, diffs: &[Vec<Change>], running: bool, seen: Instant) {
        for (i, d) in diffs.iter().enumerate() {
            for c in d {
                let key = change_key(c);
                if self.claimed.contains_key(&key) {
                    continue;
                }
                let holders: Vec<usize> = (0..self.windows.len())
                    .filter(|&j| {
                        j == i
                            || diffs
                                .get(j)
                                .is_some_and(|dj| dj.iter().any(|cj| change_key(cj) == key))
                    })
                    .collect();
                let by_process = holders.iter().copied().find(|&j| {
                    self.windows
                        .get(j)
                        .and_then(|x| x.link(c, seen))
                        .is_some_and(|l| l.pid.is_some())
                });
                // Seen by a newer install's own snapshot (it ended with this
                // there): that install's, or from before it; not a window's.
                let covered = c.after.is_some() || c.kind == ChangeKind::Removed;
                let seen_by_newer = covered
                    && self.windows.iter().enumerate().any(|(j, x)| {
                        !holders.contains(&j)
                            && holders.first().is_some_and(|&h| j < h)
                            && same_entry(x.spec.baseline.entries.get(Path::new(&c.path)), c)
                    });
                if by_process.is_none() && (running || seen_by_newer) {
                    continue;
                }
                // Windows are newest first: the first linked, else the first.
                let owner = by_process
                    .or_else(|| {
                        holders
                            .iter()
                            .copied()
                            .find(|&j| {
                                self.windows
                                    .get(j)
                                    .is_some_and(|x| x.link(c, seen).is_some())
                            })
                            .or_else(|| holders.first().copied())
                    })
                    .unwrap_or(i);
                if let Some(x) = self.windows.get(owner) {
                    self.claimed.insert(key, x.spec.report_id.clone());
                }
            }
        }
    }

    /// Gives each window the changes it owns: the new ones are judged and
    /// its report updated; a window whose report is gone is dropped.
    fn give(&mut self, diffs: Vec<Vec<Change>>, seen: Instant) {
        let mut gone: Vec<usize> = Vec::new();
        for (i, d) in diffs.into_iter().enumerate() {
            let Some(x) = self.windows.get_mut(i) else {
                continue;
            };
            let mine: Vec<Change> = d
                .into_iter()
                .filter(|c| self.claimed.get(&change_key(c)) == Some(&x.spec.report_id))
                .collect();
            let mut fresh: Vec<(Change, Option<Link>)> = Vec::new();
            for c in &mine {
                let key = change_key(c);
                if x.judged.insert(key) {
                    fresh.push((c.clone(), x.link(c, seen)));
                }
            }
            let (now_transient, now_owned): (Vec<Change>, Vec<Change>) = mine
                .into_iter()
                .partition(|c| c.after.is_none() && c.kind != ChangeKind::Removed);
            x.transient.extend(now_transient);
            if fresh.is_empty() && now_owned == x.owned {
                continue;
            }
            x.owned = now_owned;
            match update(x, &fresh, false, &self.dir) {
                Ok(true) => {}
                Ok(false) => gone.push(i),
                Err(e) => eprintln!("pkgwarden: watch: {e}"),
            }
        }
        for i in gone.into_iter().rev() {
            let x = self.windows.remove(i);
            let _ = std::fs::remove_file(&x.file);
        }
    }

    /// Closes the windows whose time is up (or whose home is gone).
    fn close_due(&mut self) {
        let now = now_ms();
        let mut i = 0;
        while i < self.windows.len() {
            let done = self.windows.get(i).is_some_and(|x| {
                now >= x.spec.until_ms || x.spec.scope.home.as_ref().is_some_and(|h| !h.exists())
            });
            if !done {
                i += 1;
                continue;
            }
            let mut x = self.windows.remove(i);
            if let Err(e) = update(&mut x, &[], true, &self.dir) {
                eprintln!("pkgwarden: watch: {e}");
            }
            let _ = std::fs::remove_file(&x.file);
        }
    }
}

/// The rules over the window's changes alone: no events, no process.
fn judge(spec: &WatchSpec, changes: &[Change]) -> Vec<Finding> {
    let input = detect::Input {
        mode: spec.mode,
        home: spec.scope.home.clone(),
        cwd: spec.scope.cwd.clone(),
        expected: spec.expected.clone(),
        manager_configs: spec.manager_configs.clone(),
        site_dirs: spec.scope.site_dirs.clone(),
        path_dirs: spec.scope.path_dirs.clone(),
        startup_patterns: spec.startup_patterns.clone(),
        entropy_threshold: spec.entropy_threshold,
        unsigned_binary_alerting: spec.unsigned_binary_alerting,
        project_package: spec.project_package.clone(),
        changes,
        ..detect::Input::default()
    };
    detect::run(&input)
}

/// Adds the window's state and the findings of its `fresh` changes (with
/// what links each to the install) to the stored report; leaves a notice
/// for findings above info. `Ok(false)` when the report no longer exists.
fn update(
    x: &mut Window,
    fresh: &[(Change, Option<Link>)],
    closing: bool,
    dir: &Path,
) -> Result<bool, String> {
    // Its file gone (the state directory removed): the window is over, and
    // writing now would create directories again.
    if !x.file.exists() {
        return Ok(false);
    }
    let mut report = match crate::report::store::load(&x.spec.report_id) {
        Ok(r) => r,
        Err(crate::report::store::StoreError::NotFound { .. }) => return Ok(false),
        Err(e) => return Err(e.to_string()),
    };
    let after = now_ms().saturating_sub(x.spec.ended_ms);
    let mut notable: Vec<Finding> = Vec::new();
    let mut added: Vec<Finding> = Vec::new();
    for (c, link) in fresh {
        for mut f in judge(&x.spec, std::slice::from_ref(c)) {
            let known = report.findings.iter().any(|g| {
                g.after_ms.is_some()
                    && g.rule == f.rule
                    && g.evidence.paths == f.evidence.paths
                    && g.evidence.sha256 == f.evidence.sha256
            });
            if known {
                continue;
            }
            f.after_ms = Some(after);
            let gone = if c.after.is_none() && c.kind != ChangeKind::Removed {
                ", written and gone before it could be read"
            } else {
                ""
            };
            let note = match link {
                Some(l) => {
                    // A process of the install's own tree: the rule's
                    // severity for an attributed write.
                    if let Some(pid) = l.pid {
                        f.pid = Some(pid);
                        f.severity = f.severity.max(f.rule.meta().severity);
                    }
                    format!(
                        "seen {} s after the install ended{gone}, {}",
                        after / 1000,
                        l.why
                    )
                }
                None => {
                    // Nothing ties it to this install: the user's own write,
                    // or another program's. Recorded once, as info.
                    f.severity = Severity::Info;
                    format!(
                        "seen {} s after the install ended{gone}; not linked to it (no process it left running was alive, and neither the path nor the text is one it planted)",
                        after / 1000
                    )
                }
            };
            // The rules' "during the install" wording does not apply here.
            f.evidence.detail = Some(match f.evidence.detail.take() {
                Some(d) if !d.contains("during the install") => format!("{d}; {note}"),
                _ => note,
            });
            if f.severity > Severity::Info {
                notable.push(f.clone());
            }
            added.push(f.clone());
            report.findings.push(f);
        }
    }
    report
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    let w = report.watch.get_or_insert_with(WatchReport::default);
    w.changes = x.owned.iter().chain(&x.transient).cloned().collect();
    w.ended = closing;
    // The notice first: whoever sees the finding in the report can also
    // be told of it.
    if !notable.is_empty() {
        let command = std::iter::once(report.what.typed_name())
            .chain(report.what.argv.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        notice(dir, &x.spec.report_id, &command, &notable);
    }
    crate::report::store::write(&report).map_err(|e| e.to_string())?;
    // The watcher has no terminal: a sink's failure is told by the next
    // shim call, as a notice.
    let warnings = crate::report::sink::send_window(&report, &added, &x.spec.log);
    for (i, w) in warnings.iter().enumerate() {
        // Named apart from the findings' notice of the same moment.
        let name = format!("{}-sink{i}", x.spec.report_id);
        leave_notice(dir, &name, &format!("{w}\n"));
    }
    Ok(true)
}

/// Leaves the one-line notice for `found`.
fn notice(dir: &Path, id: &str, command: &str, found: &[Finding]) {
    let Some(worst) = found.iter().max_by_key(|f| f.severity) else {
        return;
    };
    let more = match found.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    let severity = serde_json::to_value(worst.severity)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let line = format!(
        "pkgwarden: after `{command}` ended: {} [{severity}]{more}; see `pkgwarden report show {id}`\n",
        worst.title
    );
    leave_notice(dir, id, &line);
}

/// Leaves `line` for the next shim call to print once.
fn leave_notice(dir: &Path, id: &str, line: &str) {
    let nd = notice_dir(dir);
    // Only the last level: never re-create a state directory removed meanwhile.
    let _ = std::fs::create_dir(&nd);
    // Written aside, then renamed: a shim never prints half a line.
    let name = format!("{}-{id}", now_ms());
    let part = nd.join(format!(".{name}"));
    if std::fs::write(&part, line).is_ok() {
        let _ = std::fs::rename(&part, nd.join(name));
    }
}

/// Starts the watch window after an install whose report is stored: a
/// detached watcher adds later writes to that report until the window
/// closes. A watcher that cannot start leaves a report that says so (its
/// `watch` is removed) and a warning.
pub fn start_window(
    report: &crate::model::report::Report,
    scope: &super::snapshot::Scope,
    after: &super::snapshot::Snapshot,
    input: &crate::detect::Input,
    policy: &crate::policy::Policy,
) {
    let window = policy.time_window;
    let ended_ms = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let mut spec = WatchSpec {
        report_id: report.id.clone(),
        ended_ms,
        until_ms: ended_ms.saturating_add(window.as_millis() as u64),
        scope: scope.clone(),
        baseline: after.clone(),
        contents: Default::default(),
        mode: input.mode,
        expected: input.expected.clone(),
        manager_configs: input.manager_configs.clone(),
        startup_patterns: input.startup_patterns.clone(),
        entropy_threshold: input.entropy_threshold,
        unsigned_binary_alerting: input.unsigned_binary_alerting,
        project_package: input.project_package.clone(),
        lingering: tracked(input.lingering.iter().map(|l| l.pid)),
        planted: planted(input.changes),
        log: policy.log.clone(),
    };
    spec.keep_contents();
    if let Err(e) = spawn(&spec) {
        eprintln!("pkgwarden: warning: no watch window after this install: {e}");
        let mut r = report.clone();
        r.watch = None;
        let _ = crate::report::store::write(&r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(home: &Path) -> Scope {
        Scope {
            envs: Vec::new(),
            stat_only: Vec::new(),
            packages: Vec::new(),
            home: Some(home.to_path_buf()),
            cwd: home.join("proj"),
            patterns: vec![
                "~/.bashrc".into(),
                "~/.config/autostart/*.desktop".into(),
                "~/.config/fish/**".into(),
                ".git/hooks/*".into(),
            ],
            site_dirs: vec![home.join("site")],
            path_dirs: vec![home.join("bin")],
        }
    }

    #[test]
    fn covers_what_the_snapshot_watches_and_nothing_else() {
        let h = Path::new("/h");
        let s = scope(h);
        for yes in [
            "/h/.bashrc",
            "/h/.config/autostart/x.desktop",
            "/h/.config/fish/conf.d/a.fish",
            "/h/proj/.git/hooks/pre-commit",
            "/h/site/evil.pth",
            "/h/site/sitecustomize.py",
            "/h/bin/sudo",
        ] {
            assert!(covers(&s, Path::new(yes)), "{yes}");
        }
        for no in [
            "/h/.bash_history",
            "/h/.config/autostart/x.txt",
            "/h/site/module.py",
            "/h/proj/src/main.rs",
        ] {
            assert!(!covers(&s, Path::new(no)), "{no}");
        }
    }

    #[test]
    fn watch_dirs_start_where_the_patterns_do() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        std::fs::create_dir_all(h.join(".config/fish")).unwrap();
        let dirs = watch_dirs(&scope(h));
        // `~/.bashrc`: its directory; `autostart` does not exist yet: the
        // nearest ancestor; `fish/**`: recursively.
        assert!(dirs.contains(&(h.to_path_buf(), false)), "{dirs:?}");
        assert!(dirs.contains(&(h.join(".config"), false)), "{dirs:?}");
        assert!(dirs.contains(&(h.join(".config/fish"), true)), "{dirs:?}");
    }

    #[test]
    fn planted_names_a_pth_and_the_modules_it_imports() {
        let d = tempfile::tempdir().unwrap();
        let site = d.path();
        std::fs::write(site.join("x.pth"), "import x_hook, y\n./plain\n").unwrap();
        std::fs::write(site.join("x_hook.py"), "print(1)\n").unwrap();
        std::fs::create_dir(site.join("y")).unwrap();
        std::fs::write(site.join("y/__init__.py"), "").unwrap();
        let change = |p: PathBuf, kind| Change {
            path: p.display().to_string(),
            kind,
            before: None,
            after: None,
            added_lines: Vec::new(),
        };
        let got = planted(&[
            change(site.join("x.pth"), ChangeKind::Added),
            change(site.join("gone.pth"), ChangeKind::Removed),
        ]);
        assert_eq!(
            got,
            vec![
                site.join("x_hook.py"),
                site.join("y/__init__.py"),
                site.join("x.pth")
            ]
        );
    }

    #[test]
    fn a_window_links_by_process_path_or_planted_text_only() {
        let d = tempfile::tempdir().unwrap();
        let hook = d.path().join("hook.py");
        std::fs::write(&hook, "f.write('export PWLATE=1  # marker line\\n')\n").unwrap();
        let spec = WatchSpec {
            report_id: "ab".into(),
            ended_ms: 0,
            until_ms: 0,
            scope: scope(d.path()),
            baseline: Snapshot::default(),
            contents: BTreeMap::new(),
            mode: Mode::Protect,
            expected: Vec::new(),
            manager_configs: Vec::new(),
            startup_patterns: Vec::new(),
            entropy_threshold: 7.2,
            unsigned_binary_alerting: true,
            project_package: None,
            lingering: Vec::new(),
            planted: vec![hook.clone(), d.path().join("own.pth")],
            log: Default::default(),
        };
        let file = d.path().join("ab.json");
        std::fs::write(&file, serde_json::to_vec(&spec).unwrap()).unwrap();
        let mut w = Window::load(&file).unwrap();
        let rc = |lines: Vec<(u32, String)>| Change {
            path: d.path().join(".bashrc").display().to_string(),
            kind: ChangeKind::Modified,
            before: None,
            after: None,
            added_lines: lines,
        };
        let now = Instant::now();
        assert!(w.link(&rc(vec![(2, "export FOO=1".into())]), now).is_none());
        let text = w.link(&rc(vec![(2, "export PWLATE=1  # marker line".into())]), now);
        assert!(text.is_some_and(|l| l.pid.is_none() && l.why.contains("hook.py")));
        let own = Change {
            path: d.path().join("own.pth").display().to_string(),
            ..rc(Vec::new())
        };
        assert!(w.link(&own, now).is_some());
        // A process of the install alive just now links anything.
        let me = Tracked::of(std::process::id() as i32).unwrap();
        w.procs.insert(me, now);
        let l = w.link(&rc(Vec::new()), now).unwrap();
        assert_eq!(l.pid, Some(me.pid));
        assert!(
            w.link(&rc(Vec::new()), now + PROC_SLACK * 2).is_none(),
            "dead too long ago"
        );
    }

    #[test]
    fn a_change_is_known_by_what_is_there_now() {
        let c = |after: Option<u64>, kind| Change {
            path: "/h/.npmrc".into(),
            kind,
            before: None,
            after: after.map(|ino| snapshot::Entry {
                size: 1,
                mtime_ns: 0,
                mode: 0o100_644,
                ino,
                ctime_ns: 5,
                uid: 0,
                gid: 0,
                link_target: None,
                sha256: None,
                content: None,
            }),
            added_lines: Vec::new(),
        };
        assert_eq!(
            change_key(&c(Some(1), ChangeKind::Added)),
            change_key(&c(Some(1), ChangeKind::Modified))
        );
        assert_ne!(
            change_key(&c(Some(1), ChangeKind::Added)),
            change_key(&c(Some(2), ChangeKind::Added))
        );
        assert_ne!(
            change_key(&c(None, ChangeKind::Removed)),
            change_key(&c(None, ChangeKind::Added))
        );
    }

    #[test]
    fn the_watcher_keeps_no_secret() {
        let env = [
            ("HOME", "/home/u"),
            ("XDG_STATE_HOME", "/home/u/.local/state"),
            ("GITHUB_TOKEN", "not-real"),
            ("DATABASE_URL", "postgres://u:p@h/db"),
            ("SSH_AUTH_SOCK", "/tmp/agent"),
            ("PKGWARDEN_SUPERVISOR", "1"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let kept: Vec<String> = watcher_env(env.into_iter())
            .into_iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, vec!["HOME", "XDG_STATE_HOME"]);
    }
}
