//! The start-up detonation: after an install that changed what an
//! interpreter runs at start-up (a `.pth` file or `sitecustomize.py` in a
//! site directory), that interpreter is started once (`python -c pass`)
//! inside the same sandbox, under its own supervisor, and its events join
//! the install's. What the start-up does (writes, runs, connects) is then
//! judged by the same rules as the install: observed behaviour beats a guess
//! from the text of the file.

use super::notify::Event;
use super::snapshot::Snapshot;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use crate::model::event::HOOK;

/// The hook name of a manager's own start-up detonation (the plan's
/// [`StartupProbe`](crate::model::plan::StartupProbe)s): its events are
/// judged by the ordinary rules, not as an interpreter's start-up.
pub const MANAGER_HOOK: &str = "start-up detonation of the manager";

/// Longest a detonation may run; then it is killed (and what it left
/// running is lingering).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// One interpreter start to observe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The interpreter.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The start-up files that made it necessary.
    pub because: Vec<PathBuf>,
    /// The hook name its events carry ([`HOOK`] or [`MANAGER_HOOK`]).
    pub hook: &'static str,
}

/// True when `name` is a file Python runs from a site directory at start-up.
fn startup_file(name: &str) -> bool {
    name.ends_with(".pth") || name == "sitecustomize.py" || name == "usercustomize.py"
}

/// The start-up files of `site` that are new or changed since `before`.
fn changed_startup(site: &Path, before: &Snapshot) -> Vec<PathBuf> {
    changed_files(site, before, startup_file)
}

/// The files of `dir` named as `loaded` says that are new or changed
/// since `before`.
fn changed_files(dir: &Path, before: &Snapshot, loaded: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| loaded(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| {
            let Ok(m) = std::fs::symlink_metadata(p) else {
                return false;
            };
            let mtime = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
            let ctime = i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec());
            match before.entries.get(p) {
                Some(b) => {
                    b.size != m.size()
                        || b.mtime_ns != mtime
                        || b.ctime_ns != ctime
                        || b.ino != m.ino()
                }
                None => true,
            }
        })
        .collect();
    out.sort();
    out
}

/// The interpreter that reads `site` (`<prefix>/lib/pythonX.Y/site-packages`):
/// `<prefix>/bin/pythonX.Y` (or `python3`, `python`) when the prefix has one,
/// as a virtual environment does; else `pythonX.Y` from PATH, shims skipped
/// (a user site directory is read by the system's interpreter).
pub fn interpreter(site: &Path, path_var: Option<&OsStr>, shims: Option<&Path>) -> Option<PathBuf> {
    let versioned = site.parent()?.file_name()?.to_str()?.to_string();
    if !versioned.starts_with("python") {
        return None;
    }
    let prefix = site.parent()?.parent()?.parent()?;
    for name in [versioned.as_str(), "python3", "python"] {
        let p = prefix.join("bin").join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    crate::shim::find_real(&versioned, path_var, shims)
}

/// The interpreter starts the install made necessary: one per site directory
/// whose start-up files changed.
pub fn python_probes(
    before: &Snapshot,
    site_dirs: &[PathBuf],
    path_var: Option<&OsStr>,
    shims: Option<&Path>,
) -> Vec<Probe> {
    let mut out: Vec<Probe> = Vec::new();
    for site in site_dirs {
        let because = changed_startup(site, before);
        if because.is_empty() {
            continue;
        }
        let Some(program) = interpreter(site, path_var, shims) else {
            continue;
        };
        match out.iter_mut().find(|p| p.program == program) {
            Some(p) => p.because.extend(because),
            None => out.push(Probe {
                program,
                args: vec!["-c".into(), "pass".into()],
                because,
                hook: HOOK,
            }),
        }
    }
    out
}

/// The manager start-ups the plan names whose loaded files the install
/// added or changed (a new RubyGems plugin: `gem --version`).
pub fn plan_probes(before: &Snapshot, startup: &[crate::model::plan::StartupProbe]) -> Vec<Probe> {
    startup
        .iter()
        .filter_map(|s| {
            let because = changed_files(&s.dir, before, |name| {
                s.suffixes.iter().any(|x| name.ends_with(x.as_str()))
            });
            (!because.is_empty()).then(|| Probe {
                program: s.program.clone(),
                args: s.args.clone(),
                because,
                hook: MANAGER_HOOK,
            })
        })
        .collect()
}

/// Waits for `child` up to `TIMEOUT`, then kills it.
pub fn wait_bounded(child: &mut std::process::Child) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Runs `cmd` sandboxed by `prep` under a supervisor of its own that
/// watches as `watch` says; returns what it saw once the interpreter exited
/// (or was killed after [`TIMEOUT`]).
pub fn run(
    cmd: &mut Command,
    prep: crate::sandbox::spawn::Prepared,
    watch: super::notify::Watch,
) -> std::io::Result<Vec<Event>> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let grace = Duration::from_millis(500);
    let (mut child, handle) = crate::sandbox::spawn::spawn(cmd, prep, move |listener| {
        super::notify::supervise(listener, watch, stop2, grace)
    })?;
    wait_bounded(&mut child);
    stop.store(true, Ordering::SeqCst);
    Ok(handle
        .join()
        .ok()
        .flatten()
        .map(|o| o.events)
        .unwrap_or_default())
}

/// Marks a detonation's events as its own (the hook, and the package that
/// shipped the start-up file when known).
pub fn mark(events: &mut [Event], package: Option<&str>, hook: &str) {
    for e in events.iter_mut() {
        e.hook = Some(hook.to_string());
        if e.package.is_none() {
            e.package = package.map(str::to_string);
        }
    }
}

/// Appends a detonation's events to the install's, numbered after them.
pub fn merge(into: &mut Vec<Event>, events: Vec<Event>) {
    let base = into.iter().map(|e| e.seq).max().map_or(0, |m| m + 1);
    into.extend(events.into_iter().map(|mut e| {
        e.seq += base;
        e
    }));
}

/// Findings of a detonation's processes carry its hook name when the rules
/// gave them none.
pub fn attribute(findings: &mut [crate::model::Finding], pids: &BTreeSet<i32>) {
    for f in findings.iter_mut() {
        if f.hook.is_none() && f.pid.is_some_and(|p| pids.contains(&p)) {
            f.hook = Some(HOOK.to_string());
        }
    }
}

/// The pids a detonation's events name.
pub fn pids(events: &[Event]) -> BTreeSet<i32> {
    events.iter().map(|e| e.pid).collect()
}

/// A command for `probe` with the program as argv[0].
pub fn command(probe: &Probe) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(&probe.program);
    cmd.arg0(probe.program.as_os_str()).args(&probe.args);
    cmd
}

/// What the start-up detonations saw, and how long they took (`None`: none
/// ran).
#[derive(Default)]
pub struct Detonations {
    /// Their events, marked with the hook and package they belong to.
    pub events: Vec<Event>,
    /// Milliseconds spent, when one ran.
    pub ms: Option<u64>,
}

/// The start-up detonation: each interpreter or manager whose start-up the
/// install changed is started once in the same sandbox (never in audit,
/// which would let its start-up do whatever it does).
#[allow(clippy::too_many_arguments)]
pub fn after_install(
    before: &Snapshot,
    site_dirs: &[PathBuf],
    plan: &crate::model::plan::InstallPlan,
    at: &crate::sandbox::prepare::Place,
    proxy_url: &str,
    env_removed: &[String],
    grants: &[crate::sandbox::landlock::Grant],
    watch: &super::notify::Watch,
) -> Detonations {
    use crate::sandbox::{landlock, seccomp, spawn};
    let started = Instant::now();
    let mut probes = python_probes(
        before,
        site_dirs,
        std::env::var_os("PATH").as_deref(),
        crate::shim::shims_dir().as_deref(),
    );
    probes.extend(plan_probes(before, &plan.startup_probes));
    let ran = !probes.is_empty();
    let mut events = Vec::new();
    for probe in probes {
        let mut cmd = command(&probe);
        cmd.current_dir(&at.cwd)
            .env(crate::shim::SUPERVISOR_VAR, std::process::id().to_string())
            .env("TMPDIR", &at.tmp);
        crate::sandbox::prepare::proxy_env(&mut cmd, proxy_url, &plan.proxy_vars);
        for name in env_removed {
            cmd.env_remove(name);
        }
        let prep = match landlock::build(grants, None, true) {
            Ok((fd, status)) if fd.is_some() => spawn::Prepared {
                landlock: fd,
                program: seccomp::for_mode(crate::policy::Mode::Protect, status.abi).program(),
            },
            Ok(_) | Err(_) => {
                eprintln!(
                    "pkgwarden: warning: no start-up detonation of {}: the sandbox could not be built again",
                    probe.program.display()
                );
                continue;
            }
        };
        // A manager's start-up is attributed by the rules (the plugin a
        // process loaded); Python's by the distribution of the file.
        let package = (probe.hook == HOOK)
            .then(|| {
                probe
                    .because
                    .iter()
                    .find_map(|f| crate::detect::pth::owner(f.parent()?, f))
            })
            .flatten();
        match run(&mut cmd, prep, watch.clone()) {
            Ok(mut seen) => {
                mark(&mut seen, package.as_deref(), probe.hook);
                events.extend(seen);
            }
            Err(e) => eprintln!(
                "pkgwarden: warning: no start-up detonation of {}: {e}",
                probe.program.display()
            ),
        }
    }
    Detonations {
        events,
        ms: ran.then(|| started.elapsed().as_millis() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_venv_that_gained_a_pth_is_probed_with_its_own_python() {
        let t = tempfile::tempdir().unwrap();
        let site = t.path().join("lib/python3.12/site-packages");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::create_dir_all(t.path().join("bin")).unwrap();
        std::fs::write(t.path().join("bin/python3.12"), "").unwrap();
        std::fs::write(site.join("old.pth"), "/x\n").unwrap();
        std::fs::write(site.join("mod.py"), "").unwrap();
        let mut before = Snapshot::default();
        let m = std::fs::symlink_metadata(site.join("old.pth")).unwrap();
        before.entries.insert(
            site.join("old.pth"),
            crate::model::change::Entry {
                size: m.size(),
                mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
                mode: m.mode(),
                ino: m.ino(),
                ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
                uid: 0,
                gid: 0,
                link_target: None,
                sha256: None,
                content: None,
            },
        );
        let sites = vec![site.clone()];
        assert!(python_probes(&before, &sites, None, None).is_empty());
        std::fs::write(site.join("new.pth"), "import new\n").unwrap();
        let p = python_probes(&before, &sites, None, None);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].program, t.path().join("bin/python3.12"));
        assert_eq!(p[0].args, ["-c", "pass"]);
        assert_eq!(p[0].because, vec![site.join("new.pth")]);
    }

    #[test]
    fn a_new_loader_in_the_plans_directory_starts_the_plans_program() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("plugins");
        std::fs::create_dir_all(&dir).unwrap();
        let startup = vec![crate::model::plan::StartupProbe {
            program: PathBuf::from("/usr/bin/tool"),
            args: vec!["--version".into()],
            dir: dir.clone(),
            suffixes: vec!["_plugin.rb".into()],
        }];
        let before = Snapshot::default();
        assert!(plan_probes(&before, &startup).is_empty());
        std::fs::write(dir.join("notes.txt"), "").unwrap();
        assert!(plan_probes(&before, &startup).is_empty());
        std::fs::write(dir.join("x_plugin.rb"), "").unwrap();
        let p = plan_probes(&before, &startup);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].program, PathBuf::from("/usr/bin/tool"));
        assert_eq!(p[0].args, ["--version"]);
        assert_eq!(p[0].because, vec![dir.join("x_plugin.rb")]);
        assert_eq!(p[0].hook, MANAGER_HOOK);
    }
}
