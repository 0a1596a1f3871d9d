//! Detection: rules over what one install did (events, process tree,
//! endpoints, snapshot diff, plan), one file per rule family of THREATS.md.
//! Each rule is a plain function from [`Input`] to findings.

pub use crate::model::finding::{Evidence, Finding, Taken};
pub use crate::model::{RuleId, Severity};
pub use crate::sandbox::prepare::{HookDomain, NestDomain};

pub mod binary;
pub mod cache;
pub mod conda;
pub mod cred;
pub mod data;
pub mod escape;
pub mod exec;
pub mod foreign;
pub mod gemplugin;
pub mod hidden;
pub mod intel;
pub mod lingering;
pub mod nested;
pub mod net;
pub mod perm;
pub mod persist;
pub mod pth;
pub mod record;
pub mod tamper;

use crate::model::Mode;
use crate::model::Request;
use crate::model::{Action, Event, EventKind};
use crate::model::{Change, ChangeKind};
use crate::model::{Lingering, ProcNode};
use crate::sandbox::landlock::FsSpec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Everything the rules look at for one install.
#[derive(Debug, Default)]
pub struct Input<'a> {
    /// audit · protect · block.
    pub mode: Mode,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// The directory the manager ran in.
    pub cwd: PathBuf,
    /// The expected roots: where this install may write (target, caches,
    /// logs, lockfiles, the private temporary directory).
    pub expected: Vec<PathBuf>,
    /// The private temporary directory.
    pub tmp: PathBuf,
    /// Where the install may run what it wrote: the package payload (the
    /// plan's write roots and files, the target environments) and the build
    /// directories the plan names and the root scripts' private caches
    /// (their `npx`); the private temporary directory too. The managers'
    /// caches are not among them.
    pub exec_roots: Vec<PathBuf>,
    /// The filesystem rules the sandbox applied (what was refused).
    pub fs: FsSpec,
    /// The manager's own configuration files (reading them is its business).
    pub manager_configs: Vec<PathBuf>,
    /// Site-packages directories of the install (`.pth` files).
    pub site_dirs: Vec<PathBuf>,
    /// PATH entries ahead of `/usr/bin`, plus `~/.local/bin` and `~/bin`.
    pub path_dirs: Vec<PathBuf>,
    /// The target Python environments that existed before the install
    /// (their `pip.conf` and activation scripts are persistence).
    pub envs: Vec<PathBuf>,
    /// Unix sockets of privileged services (docker, ssh-agent, D-Bus …).
    pub privileged_unix: Vec<PathBuf>,
    /// Extra persistence patterns from the policy (`startup_paths`).
    pub startup_patterns: Vec<String>,
    /// `executable_entropy_threshold`.
    pub entropy_threshold: f64,
    /// `unsigned_binary_alerting`.
    pub unsigned_binary_alerting: bool,
    /// The root project's package name (`package.json`), for hooks the
    /// project asks for itself.
    pub project_package: Option<String>,
    /// Supervisor events.
    pub events: &'a [Event],
    /// Process tree.
    pub tree: &'a [ProcNode],
    /// Proxy requests.
    pub requests: &'a [Request],
    /// Processes left running.
    pub lingering: &'a [Lingering],
    /// Snapshot diff.
    pub changes: &'a [Change],
    /// Secret-like variables kept in the environment.
    pub env_kept: &'a [String],
    /// Files of installed distributions that no longer match their RECORD.
    pub tampered: &'a [record::Tampered],
    /// When the install started (files older than this were not dropped by
    /// it).
    pub started: Option<std::time::SystemTime>,
    /// The manager's own caches and every other manager's in the home
    /// cache (a later install takes what lies there without building it).
    pub caches: Vec<PathBuf>,
    /// Local projects the install installs editable (the plan's
    /// `editable_projects`): an editable `.pth` of any other distribution
    /// was shipped, not made by an editable install.
    pub editable_projects: Vec<PathBuf>,
    /// The nested domain package scripts ran in, when there was one.
    pub hooks: HookDomain,
    /// The nested domain of package code the preload library confines.
    pub nest: NestDomain,
    /// Packages the install wrote that the offline feed names, with the
    /// directory of each (looked up by the judging stage).
    pub installed_known: &'a [(crate::model::request::KnownMalicious, PathBuf)],
    /// pkgwarden's own files that changed past the supervisor and were
    /// put back from their copy (`monitor::keep`).
    pub restored: &'a [crate::model::change::Restored],
    /// Other stores' package directories before the install, and those
    /// replaced or removed since (from the snapshots).
    pub packages: foreign::Packages,
}

impl NestDomain {
    /// The processes that ran package code (a shape's command line, not
    /// the manager itself), each with its shape's name and whether it
    /// acknowledged its domain.
    pub fn runs<'t>(&self, input: &Input<'t>) -> Vec<(&'t ProcNode, String, bool)> {
        let Some(spec) = &self.spec else {
            return Vec::new();
        };
        let manager = input.tree.first().map(|n| n.pid);
        let ack = spec.ack.to_string_lossy();
        let mut seen = std::collections::HashSet::new();
        input
            .tree
            .iter()
            .filter(|n| Some(n.pid) != manager)
            .filter_map(|n| {
                let shape = spec.shape(&n.argv)?;
                // A yarn script's shell starts again under the wrapper:
                // one run.
                if !seen.insert((n.pid, &shape.name)) {
                    return None;
                }
                let acked = input.events.iter().any(|e| {
                    e.pid == n.pid
                        && e.kind == EventKind::OpenRead
                        && e.paths.first().is_some_and(|p| *p == ack)
                });
                Some((n, shape.name.clone(), acked))
            })
            .collect()
    }

    /// True when the nested domain refused `pid` a write to `path`: `pid`
    /// (or an ancestor) acknowledged its domain, and `path` is outside what
    /// that domain writes.
    pub fn refuses_write(&self, pid: i32, path: &Path, input: &Input, procs: &Procs) -> bool {
        let Some(spec) = &self.spec else {
            return false;
        };
        let ack = spec.ack.to_string_lossy();
        let acked = |p: i32| {
            input.events.iter().any(|e| {
                e.pid == p
                    && e.kind == EventKind::OpenRead
                    && e.paths.first().is_some_and(|x| *x == ack)
            })
        };
        // Stacked domains only narrow: the write is refused when any
        // confined process on the way up refuses it (a child of package code
        // with another shape's command line gains nothing).
        std::iter::once(pid)
            .chain(procs.ancestors(pid))
            .filter(|p| acked(*p))
            .any(|confined| {
                let (Some(node), Some(shape)) = (
                    procs.node(confined),
                    procs.node(confined).and_then(|n| spec.shape(&n.argv)),
                ) else {
                    return false;
                };
                // The hook wrapper's domain: HookDomain judges it.
                if shape.hook {
                    return false;
                }
                let cwd = node.cwd.as_deref().map(PathBuf::from).unwrap_or_default();
                // Resolved as the library resolved them (relative to cwd).
                let dests: Vec<PathBuf> = shape
                    .dest_dirs(&node.argv)
                    .iter()
                    .filter_map(|d| std::fs::canonicalize(cwd.join(d)).ok())
                    .collect();
                !spec
                    .write_dirs(shape, &cwd, &dests)
                    .iter()
                    .chain(&spec.write_files)
                    .any(|w| path.starts_with(w))
            })
    }
}

impl HookDomain {
    /// The wrapper process `pid` runs under: itself or its nearest
    /// ancestor that started as the wrapper (`<pkgwarden> -c <script>`).
    fn wrapper<'t>(&self, pid: i32, tree: &'t [ProcNode], procs: &Procs) -> Option<&'t ProcNode> {
        let exe = self.exe.as_deref()?;
        std::iter::once(pid)
            .chain(procs.ancestors(pid))
            .find_map(|p| {
                tree.iter().find(|n| {
                    n.pid == p
                        && Path::new(&n.exe) == exe
                        && n.argv.get(1).is_some_and(|a| a == "-c")
                })
            })
    }

    /// True when `pid` (or an ancestor) started as the wrapper.
    pub fn confines(&self, pid: i32, tree: &[ProcNode], procs: &Procs) -> bool {
        self.wrapper(pid, tree, procs).is_some()
    }

    /// True when the nested domain refused `pid` a write to `path`: `pid`
    /// runs a dependency's script (started outside the root project) and
    /// `path` is outside its own directory and the shared write places, or
    /// runs the root project's script and `path` is in a manager cache.
    pub fn refuses_write(&self, pid: i32, path: &Path, tree: &[ProcNode], procs: &Procs) -> bool {
        let Some(own) = self
            .wrapper(pid, tree, procs)
            .and_then(|n| n.cwd.as_deref())
            .map(PathBuf::from)
        else {
            return false;
        };
        if own == self.project {
            return self.root_deny.iter().any(|c| path.starts_with(c));
        }
        !path.starts_with(&own)
            && !path.starts_with("/dev")
            && !self.writes.iter().any(|w| path.starts_with(w))
    }
}

impl Input<'_> {
    /// True when `p` lies under one of the expected roots.
    pub fn expected_path(&self, p: &Path) -> bool {
        self.expected.iter().any(|r| p.starts_with(r)) || p.starts_with(&self.tmp)
    }

    /// True when running `p`, written during the install, is what the
    /// install does: it lies in the payload or a build directory.
    pub fn exec_root(&self, p: &Path) -> bool {
        self.exec_roots.iter().any(|r| p.starts_with(r)) || p.starts_with(&self.tmp)
    }

    /// True when `p` lies in a tool cache the benign list names.
    pub fn tool_cache(&self, p: &Path) -> bool {
        data::benign()
            .tool_caches
            .iter()
            .any(|c| data::under_pattern(p, c, self.home.as_deref()))
    }

    /// What happened to a write attempt on `p`, judged after the fact: it
    /// happened when the file changed or exists; else the sandbox refused it
    /// unless the rules allowed it (then it was undone by the install).
    pub fn write_taken(&self, p: &Path) -> Taken {
        if self.mode == Mode::Audit || self.changed(p).is_some() {
            return Taken::Observed;
        }
        if self.fs.allows_write(p) && !self.nest_refused(p) {
            Taken::Observed
        } else {
            Taken::Blocked
        }
    }

    /// True when every attempt to write `p` came from package code whose
    /// nested domain refuses it (and `p` did not change).
    fn nest_refused(&self, p: &Path) -> bool {
        if self.nest.spec.is_none() {
            return false;
        }
        let procs = Procs::new(self.tree);
        let mut pids = self
            .events
            .iter()
            .filter(|e| !matches!(e.kind, EventKind::OpenRead | EventKind::Exec))
            .filter(|e| e.paths.iter().any(|x| Path::new(x) == p))
            .map(|e| e.pid)
            .peekable();
        pids.peek().is_some() && pids.all(|pid| self.nest.refuses_write(pid, p, self, &procs))
    }

    /// The snapshot change of `p`, if any.
    pub fn changed(&self, p: &Path) -> Option<&Change> {
        self.changes.iter().find(|c| Path::new(&c.path) == p)
    }

    /// Every path the install wrote or tried to write, with the first event
    /// that did: open for writing, rename/link target, symlink, chmod +x,
    /// truncate, mknod, mkdir. Paths are the resolved ones the supervisor
    /// recorded; a hard link is the file it links to: linking a file is
    /// judged as writing it (it becomes writable under the new name), and a
    /// later write through the new name is a write of that file.
    pub fn written(&self) -> Vec<(PathBuf, &Event)> {
        let mut seen: HashMap<PathBuf, usize> = HashMap::new();
        let mut out: Vec<(PathBuf, &Event)> = Vec::new();
        // New name → the file it is a hard link of.
        let mut links: HashMap<PathBuf, PathBuf> = HashMap::new();
        for e in self.events {
            let mut targets: Vec<PathBuf> = Vec::new();
            match e.kind {
                EventKind::Link => {
                    if let (Some(src), Some(dst)) = (e.paths.first(), e.paths.get(1)) {
                        let src = without_dot_dot(PathBuf::from(src));
                        let dst = without_dot_dot(PathBuf::from(dst));
                        let src = links.get(&src).cloned().unwrap_or(src);
                        links.insert(dst.clone(), src.clone());
                        targets.push(src);
                        targets.push(dst);
                    }
                }
                k => targets.extend(
                    k.written_index()
                        .and_then(|i| e.paths.get(i))
                        .map(PathBuf::from),
                ),
            }
            for t in targets {
                let p = without_dot_dot(t);
                let p = if e.kind == EventKind::Link {
                    p
                } else {
                    links.get(&p).cloned().unwrap_or(p)
                };
                if !seen.contains_key(&p) {
                    seen.insert(p.clone(), out.len());
                    out.push((p, e));
                }
            }
        }
        out
    }

    /// Every chmod and chown without an execute bit (those are in
    /// [`Input::written`]), with the file they named: a mode or an owner is
    /// a change of the file, judged by the same places as a write.
    pub fn perm_changes(&self) -> Vec<(PathBuf, &Event)> {
        self.events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Chmod | EventKind::Chown))
            .filter_map(|e| Some((without_dot_dot(PathBuf::from(e.paths.first()?)), e)))
            .collect()
    }

    /// The files the install made symlinks to (the link's target resolved
    /// against its directory), with the event: a link planted in an allowed
    /// place that points at a persistence location is how a write gets
    /// there under another name.
    pub fn symlinked(&self) -> Vec<(PathBuf, &Event)> {
        self.events
            .iter()
            .filter(|e| e.kind == EventKind::Symlink)
            .filter_map(|e| {
                let target = Path::new(e.paths.first()?);
                let link = Path::new(e.paths.get(1)?);
                let full = if target.is_absolute() {
                    target.to_path_buf()
                } else {
                    link.parent()?.join(target)
                };
                Some((lexical(&full), e))
            })
            .collect()
    }
}

/// `path` with `.` and `..` applied to the text (for a place that may not
/// exist).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// `path` with `..` resolved through its existing parent (uv links tool
/// entry points as `~/.local/share/../bin/x`), so it compares with the
/// places the rules watch; other paths are kept as recorded.
fn without_dot_dot(path: PathBuf) -> PathBuf {
    if !path
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return path;
    }
    match (path.parent().map(Path::canonicalize), path.file_name()) {
        (Some(Ok(dir)), Some(name)) => dir.join(name),
        _ => path,
    }
}

/// The process tree, for attribution.
pub struct Procs<'a> {
    nodes: HashMap<i32, &'a ProcNode>,
    root: Option<i32>,
}

impl<'a> Procs<'a> {
    /// Indexes the tree (the last exec of each pid wins).
    pub fn new(tree: &'a [ProcNode]) -> Procs<'a> {
        let mut nodes = HashMap::new();
        for n in tree {
            nodes.insert(n.pid, n);
        }
        Procs {
            nodes,
            root: tree.first().map(|n| n.pid),
        }
    }

    /// The node of `pid`.
    pub fn node(&self, pid: i32) -> Option<&'a ProcNode> {
        self.nodes.get(&pid).copied()
    }

    /// Package and hook whose code `pid` runs.
    pub fn attribution(&self, pid: i32) -> (Option<String>, Option<String>) {
        match self.node(pid) {
            Some(n) => (n.package.clone(), n.hook.clone()),
            None => (None, None),
        }
    }

    /// True when `pid` runs a package's code (a lifecycle hook, a build
    /// script, or anything they started).
    pub fn is_hook(&self, pid: i32) -> bool {
        self.node(pid).is_some_and(|n| n.package.is_some())
    }

    /// `pid`'s ancestors in the tree, nearest first.
    pub fn ancestors(&self, pid: i32) -> Vec<i32> {
        let mut out = Vec::new();
        let mut cur = self.node(pid).and_then(|n| n.ppid);
        while let Some(p) = cur {
            if out.contains(&p) || out.len() > 64 {
                break;
            }
            match self.node(p) {
                Some(n) => {
                    out.push(p);
                    cur = n.ppid;
                }
                None => break,
            }
        }
        out
    }

    /// `pid name` from the manager down to `pid`.
    pub fn chain(&self, pid: i32) -> Vec<String> {
        let mut v: Vec<i32> = self.ancestors(pid);
        v.reverse();
        v.push(pid);
        v.into_iter()
            .map(|p| match self.node(p) {
                Some(n) => format!("{p} {}", short_cmd(&n.argv, &n.exe)),
                None => format!("{p}"),
            })
            .collect()
    }

    /// True when `a` and `b` belong to one branch of the tree: the same
    /// process, one an ancestor of the other, or the same package's code.
    pub fn related(&self, a: i32, b: i32) -> bool {
        if a == b || self.ancestors(a).contains(&b) && Some(b) != self.root {
            return true;
        }
        if self.ancestors(b).contains(&a) && Some(a) != self.root {
            return true;
        }
        let (pa, _) = self.attribution(a);
        pa.is_some() && pa == self.attribution(b).0
    }
}

/// A command line shortened for a chain: the program's name and a few words.
fn short_cmd(argv: &[String], exe: &str) -> String {
    let name = argv
        .first()
        .map(String::as_str)
        .unwrap_or(exe)
        .rsplit('/')
        .next()
        .unwrap_or("");
    let rest: Vec<&str> = argv.iter().skip(1).take(3).map(String::as_str).collect();
    let mut s = if rest.is_empty() {
        name.to_string()
    } else {
        format!("{name} {}", rest.join(" "))
    };
    if s.len() > 80 {
        s.truncate(s.floor_char_boundary(77));
        s.push_str("...");
    }
    s
}

/// Builds a finding of `rule` for `pid` with the rule's defaults.
pub fn finding(
    rule: RuleId,
    title: String,
    pid: Option<i32>,
    procs: &Procs,
    evidence: Evidence,
    action: Taken,
) -> Finding {
    let meta = rule.meta();
    let (package, hook) = pid.map(|p| procs.attribution(p)).unwrap_or((None, None));
    Finding {
        rule,
        title,
        severity: meta.severity,
        attack: meta.attack.iter().map(|s| s.to_string()).collect(),
        pid,
        chain: pid.map(|p| procs.chain(p)).unwrap_or_default(),
        package,
        hook,
        evidence,
        action,
        allowed_by: None,
        after_ms: None,
    }
}

/// The action an event's own outcome implies.
pub fn taken_of(e: &Event) -> Taken {
    if e.action == Action::Denied {
        Taken::Blocked
    } else {
        Taken::Observed
    }
}

/// What an event did, for a finding's detail: the mode or owner of a
/// chmod or chown, else its kind.
pub fn how(e: &Event) -> String {
    match e.kind {
        EventKind::Chmod | EventKind::ChmodExec => format!("chmod {:04o}", e.flags & 0o7777),
        EventKind::Chown => format!("chown {}", e.owner.as_deref().unwrap_or("?")),
        k => k.to_string(),
    }
}

/// The pid of the first event that wrote `path`, if any.
pub fn writer_of(input: &Input, path: &Path) -> Option<i32> {
    input
        .written()
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, e)| e.pid)
}

/// Runs every rule family and the correlations; findings come out worst
/// first.
pub fn run(input: &Input) -> Vec<Finding> {
    let procs = Procs::new(input.tree);
    let mut out = Vec::new();
    out.extend(persist::check(input, &procs));
    out.extend(pth::check(input, &procs));
    out.extend(pth::detonation(input, &procs));
    out.extend(record::check(input, &procs));
    out.extend(foreign::check(input, &procs));
    out.extend(hidden::check(input, &procs));
    out.extend(binary::check(input, &procs));
    out.extend(exec::check(input, &procs));
    out.extend(cred::check(input, &procs));
    out.extend(net::check(input, &procs));
    out.extend(intel::check(input, &procs));
    out.extend(lingering::check(input, &procs));
    out.extend(escape::check(input, &procs));
    out.extend(tamper::check(input, &procs));
    out.extend(perm::check(input, &procs));
    // About conda's own file format (activation scripts in a prefix), so it may name conda.
    out.extend(conda::check(input, &procs));
    out.extend(nested::check(input, &procs));
    out.extend(cache::check(input, &procs));
    // About RubyGems' own file format (plugin loaders), so it may name gem.
    gemplugin::attribute(input, &procs, &mut out);
    correlate(&mut out, &procs);
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// Raises severities where two signals meet in one branch of the process
/// tree: a credential read and then a request to a non-registry host; a
/// hidden script written and then executed.
pub fn correlate(findings: &mut [Finding], procs: &Procs) {
    let creds: Vec<(i32, String)> = findings
        .iter()
        .filter(|f| f.rule == RuleId::CredRead)
        .filter_map(|f| {
            Some((
                f.pid?,
                f.evidence.paths.first().cloned().unwrap_or_default(),
            ))
        })
        .collect();
    for f in findings.iter_mut() {
        let net = matches!(
            f.rule,
            RuleId::NetUnexpectedHost | RuleId::NetDirect | RuleId::NetExfilService
        );
        if let (true, Some(pid)) = (net, f.pid)
            && let Some((_, path)) = creds.iter().find(|(c, _)| procs.related(*c, pid))
        {
            f.severity = Severity::Critical;
            let note = format!("after reading {path} in the same process tree");
            f.evidence.detail = Some(match f.evidence.detail.take() {
                Some(d) => format!("{d}; {note}"),
                None => note,
            });
        }
    }
    let hidden: Vec<String> = findings
        .iter()
        .filter(|f| f.rule == RuleId::HiddenScript)
        .flat_map(|f| f.evidence.paths.clone())
        .collect();
    for f in findings
        .iter_mut()
        .filter(|f| f.rule == RuleId::ExecDropped)
    {
        if f.evidence.paths.iter().any(|p| hidden.contains(p)) {
            f.severity = Severity::Critical;
            f.evidence.detail = Some("a hidden script written and then executed".into());
        }
    }
}

/// Opens a file for reading only when it is a regular one, without
/// blocking on the way: a FIFO or device planted where a file was (by the
/// install, or by a process of it still running) must not hang the
/// analysis, and with it the report. Symlinks are followed.
pub fn open_regular(p: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
        .ok()?;
    f.metadata().ok()?.is_file().then_some(f)
}

/// At most `max` bytes of a regular file (see [`open_regular`]).
pub fn read_regular(p: &Path, max: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut v = Vec::new();
    open_regular(p)?.take(max).read_to_end(&mut v).ok()?;
    Some(v)
}

/// The text of a regular file of at most `max` bytes (see [`open_regular`]).
pub fn read_regular_text(p: &Path, max: u64) -> Option<String> {
    String::from_utf8(read_regular(p, max)?).ok()
}

/// Reading limit for the text files rules look into (RECORDs, `.pth`,
/// start-up files): far above any real one, and a bound on memory.
pub const TEXT_MAX: u64 = 64 << 20;

/// Changes of the snapshot that added or modified a file.
pub fn added_or_modified(changes: &[Change]) -> impl Iterator<Item = &Change> {
    changes
        .iter()
        .filter(|c| matches!(c.kind, ChangeKind::Added | ChangeKind::Modified))
}
