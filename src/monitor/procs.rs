//! Processes as /proc shows them: the parent chain of the current process.

pub use crate::model::process::{Lingering, ProcNode};
use crate::procfs::stat;
pub use crate::procfs::{Proc, ancestors, file_id, self_id};
use std::path::Path;

/// True when an entry of `allowed` matches a parent: an entry holding a `/`
/// is compared with the parent's executable path, any other with its name.
pub fn allowed_parent<'a>(allowed: &'a [String], chain: &[Proc]) -> Option<&'a str> {
    allowed
        .iter()
        .find(|a| {
            chain.iter().any(|p| {
                if a.contains('/') {
                    p.exe.as_deref() == Some(Path::new(a.as_str()))
                } else {
                    p.comm == **a
                        || p.exe
                            .as_deref()
                            .and_then(Path::file_name)
                            .is_some_and(|n| n == a.as_str())
                }
            })
        })
        .map(String::as_str)
}

/// The install's descendants still running shortly after the manager
/// exited (a job forked just before the exit is given a moment to become
/// what it is). With `stop` (block mode, which leaves nothing running) they
/// get SIGTERM, a short grace, then SIGKILL; the list is what lingered.
pub fn settle(stop: bool) -> Vec<Lingering> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let me = std::process::id() as i32;
    let mut lingering = Vec::new();
    for _ in 0..10 {
        reap_zombies();
        lingering = descendants(me);
        if lingering.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if stop && !lingering.is_empty() {
        for l in &lingering {
            let _ = kill(Pid::from_raw(l.pid), Signal::SIGTERM);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        for l in descendants(me) {
            let _ = kill(Pid::from_raw(l.pid), Signal::SIGKILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        reap_zombies();
    }
    lingering
}

/// Every live descendant of `root`, found through /proc (with pkgwarden a
/// child subreaper, detached grandchildren are re-parented to it and stay in
/// its tree).
pub fn descendants(root: i32) -> Vec<Lingering> {
    let mut parent_of = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Some((_, ppid)) = stat(pid) {
            parent_of.push((pid, ppid));
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &parent_of {
            if ppid == p && pid != root {
                frontier.push(pid);
                let argv = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| {
                        b.split(|c| *c == 0)
                            .filter(|w| !w.is_empty())
                            .map(|w| String::from_utf8_lossy(w).into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Lingering { pid, ppid, argv });
            }
        }
    }
    out
}

/// Makes this process the reaper of its orphaned descendants.
pub fn become_subreaper() -> bool {
    nix::sys::prctl::set_child_subreaper(true).is_ok()
}

/// Reaps exited children without blocking (orphans re-parented to us).
pub fn reap_zombies() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    // Until none is left (StillAlive) or there is no child at all (ECHILD).
    while let Ok(s) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if s == WaitStatus::StillAlive {
            break;
        }
    }
}

/// The process tree of an install, from its exec events (a process that
/// execs twice is two nodes with one pid, in order).
pub fn tree(events: &[crate::model::Event]) -> Vec<ProcNode> {
    let mut nodes: Vec<ProcNode> = Vec::new();
    for e in events
        .iter()
        .filter(|e| e.kind == crate::model::EventKind::Exec)
    {
        // A hook's sub-processes inherit its attribution.
        let inherited = e.ppid.and_then(|pp| {
            nodes
                .iter()
                .rev()
                .find(|n| n.pid == pp || n.pid == e.pid)
                .and_then(|n| n.package.clone().map(|p| (p, n.hook.clone())))
        });
        let (package, hook) = match (&e.package, inherited) {
            (Some(p), _) => (Some(p.clone()), e.hook.clone()),
            (None, Some((p, h))) => (Some(p), h),
            (None, None) => match build_attribution(e.cwd.as_deref(), e.argv.as_deref()) {
                Some((p, h)) => (Some(p), Some(h)),
                None => (None, None),
            },
        };
        nodes.push(ProcNode {
            pid: e.pid,
            ppid: e.ppid,
            exe: e.paths.first().cloned().unwrap_or_default(),
            argv: e.argv.clone().unwrap_or_default(),
            cwd: e.cwd.clone(),
            package,
            hook,
        });
    }
    nodes
}

/// The package and hook of a build process, from its directory: pip's
/// unpacked sdists and RubyGems' extension directories. The supervisor asks
/// at exec time, while pip's temporary directory (and its PKG-INFO) exists.
pub fn build_attribution(cwd: Option<&str>, argv: Option<&[String]>) -> Option<(String, String)> {
    pip_build(cwd, argv)
        .or_else(|| uv_build(cwd))
        .or_else(|| gem_build(cwd, argv))
        .or_else(|| crate::managers::brew::post_install_attribution(argv))
}

/// pip runs an sdist's build (`setup.py`, a PEP 517 backend) with its cwd in
/// the unpacked source, `…/pip-install-XXXX/<name>_<hash>` (or
/// `pip-req-build-XXXX` for a local path): the package and the hook.
fn pip_build(cwd: Option<&str>, argv: Option<&[String]>) -> Option<(String, String)> {
    let cwd = cwd?;
    let mut parts = cwd.split('/');
    let name = loop {
        let part = parts.next()?;
        if part.starts_with("pip-install-") {
            let dir = parts.next()?;
            break dir.rsplit_once('_').map_or(dir, |(n, _)| n).to_string();
        }
        if part.starts_with("pip-req-build-") {
            break part.to_string();
        }
    };
    let argv = argv.unwrap_or_default();
    let hook = if argv.iter().any(|a| a.ends_with("setup.py")) {
        "setup.py"
    } else if argv.iter().any(|a| a.ends_with("_in_process.py")) {
        "build-backend"
    } else {
        "build"
    };
    // The sdist's own PKG-INFO names the version (`name@version`, as the
    // policy's allow entries and npm's attribution spell it).
    // Package code may have made it a FIFO: never a blocking read.
    let version = crate::detect::read_regular_text(&Path::new(cwd).join("PKG-INFO"), 1 << 20)
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Version:"))
                .map(|v| v.trim().to_string())
        });
    let package = match version {
        Some(v) if !v.is_empty() => format!("{name}@{v}"),
        _ => name,
    };
    Some((package, hook.to_string()))
}

/// uv runs an sdist's hooks with its cwd in the source it unpacked in its
/// cache, `…/sdists-vN/…/src`: the package is what that source's PKG-INFO
/// names (its own claim, as pip's directory name is).
fn uv_build(cwd: Option<&str>) -> Option<(String, String)> {
    let cwd = cwd?;
    if !cwd.split('/').any(|p| p.starts_with("sdists-v")) {
        return None;
    }
    // Package code may have made it a FIFO: never a blocking read.
    let text = crate::detect::read_regular_text(&Path::new(cwd).join("PKG-INFO"), 1 << 20)?;
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let name = field("Name:")?;
    let package = match field("Version:") {
        Some(v) => format!("{name}@{v}"),
        None => name,
    };
    Some((package, "build-backend".to_string()))
}

/// RubyGems builds an extension with its cwd in the installed gem,
/// `…/gems/<name>-<version>/ext/…`: `extconf.rb`, then `make`.
fn gem_build(cwd: Option<&str>, argv: Option<&[String]>) -> Option<(String, String)> {
    let parts: Vec<&str> = cwd?.split('/').collect();
    let dir = parts
        .windows(3)
        .find(|w| w[0] == "gems" && w[2] == "ext")
        .map(|w| w[1])?;
    let (name, version) = dir.rsplit_once('-')?;
    let argv = argv.unwrap_or_default();
    let hook = if argv.iter().any(|a| a.ends_with("extconf.rb")) {
        "extconf.rb"
    } else {
        "ext-build"
    };
    Some((format!("{name}@{version}"), hook.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::is_supervising_ancestor;
    use std::path::PathBuf;

    #[test]
    fn build_processes_are_attributed_by_their_directory() {
        let argv = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            pip_build(
                Some("/tmp/pkgwarden-1-0/pip-install-ab12/pwsetup_0f9e"),
                Some(&argv("python setup.py egg_info"))
            ),
            Some(("pwsetup".into(), "setup.py".into()))
        );
        assert_eq!(
            gem_build(
                Some("/h/gems/gems/pwgem-1.0.0/ext/pwgem"),
                Some(&argv("/usr/bin/ruby3.1 -I /x extconf.rb"))
            ),
            Some(("pwgem@1.0.0".into(), "extconf.rb".into()))
        );
        assert_eq!(
            gem_build(
                Some("/h/gems/gems/pwgem-1.0.0/ext/pwgem"),
                Some(&argv("make"))
            ),
            Some(("pwgem@1.0.0".into(), "ext-build".into()))
        );
        assert_eq!(gem_build(Some("/h/gems/gems/pwgem-1.0.0/lib"), None), None);
        assert_eq!(pip_build(Some("/home/u/proj"), None), None);
        // uv: the unpacked source's PKG-INFO, only in uv's sdist cache.
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("uv/sdists-v11/index/ab/pwuv/1.0.0/xy/src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("PKG-INFO"),
            "Metadata-Version: 2.1\nName: pwuv\nVersion: 1.0.0\n",
        )
        .unwrap();
        assert_eq!(
            uv_build(src.to_str()),
            Some(("pwuv@1.0.0".into(), "build-backend".into()))
        );
        let elsewhere = d.path().join("proj");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("PKG-INFO"), "Name: x\n").unwrap();
        assert_eq!(uv_build(elsewhere.to_str()), None);
    }

    #[test]
    fn ancestors_reach_our_parent() {
        let chain = ancestors();
        let ppid = std::os::unix::process::parent_id() as i32;
        assert_eq!(chain.first().map(|p| p.pid), Some(ppid));
        assert!(chain.windows(2).all(|w| w[0].ppid == w[1].pid));
    }

    #[test]
    fn allowed_parent_matches_by_path_or_name() {
        let chain = vec![Proc {
            pid: 10,
            ppid: 1,
            comm: "ansible-playboo".into(),
            exe: Some(PathBuf::from("/usr/bin/python3.11")),
        }];
        let yes = vec!["/usr/bin/python3.11".to_string()];
        assert_eq!(allowed_parent(&yes, &chain), Some("/usr/bin/python3.11"));
        let by_name = vec!["python3.11".to_string()];
        assert!(allowed_parent(&by_name, &chain).is_some());
        let by_comm = vec!["ansible-playboo".to_string()];
        assert!(allowed_parent(&by_comm, &chain).is_some());
        let no = vec!["/usr/bin/python3".to_string(), "bash".to_string()];
        assert_eq!(allowed_parent(&no, &chain), None);
    }

    #[test]
    fn a_non_ancestor_is_not_a_supervisor() {
        assert!(!is_supervising_ancestor(std::process::id() as i32));
        assert!(!is_supervising_ancestor(i32::MAX));
    }
}
