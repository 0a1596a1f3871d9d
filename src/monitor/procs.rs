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
pub fn tree(
    events: &[crate::model::Event],
    attribution: &[crate::model::plan::Attribution],
) -> Vec<ProcNode> {
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
            // The environment is gone by now: only its directory and
            // command line can name a build's package.
            (None, None) => match super::attribution::attribute(
                attribution,
                e.cwd.as_deref(),
                e.argv.as_deref(),
                None,
            ) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::is_supervising_ancestor;
    use std::path::PathBuf;

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
