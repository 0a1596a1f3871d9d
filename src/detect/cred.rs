//! `cred.read` (a credential store opened by anything but the manager
//! reading its own configuration) and `cred.env` (secret-like variables the
//! policy kept in the install's environment).

use super::{Evidence, Finding, Input, Procs, Taken, finding};
use crate::model::RuleId;
use crate::sandbox::{home_secrets, readable_credentials, system_secrets};
use std::collections::BTreeSet;
use std::path::Path;

/// True when `p` is a credential store (`cwd` for the project's `.env*`).
pub fn is_credential(p: &Path, home: Option<&Path>, cwd: &Path) -> bool {
    let s = p.to_string_lossy();
    if system_secrets().iter().any(|x| x == s.as_ref()) {
        return true;
    }
    if s.starts_with("/proc/") && s.ends_with("/environ") && !s.starts_with("/proc/self/") {
        return true;
    }
    // A project's secret files (`.env*`, `master.key`): beneath the working directory (not in what it
    // installed), or beside one of its parents inside HOME (the project
    // above a subdirectory the manager ran in).
    if p.file_name()
        .is_some_and(|n| crate::sandbox::secrets::is_project_secret(&n.to_string_lossy()))
        && p.parent().is_some_and(|dir| {
            (dir.starts_with(cwd)
                && !p.components().any(|c| {
                    let c = c.as_os_str().to_string_lossy();
                    crate::sandbox::hook::NOT_PROJECT.contains(&c.as_ref())
                }))
                || (cwd.starts_with(dir) && home.is_some_and(|h| dir.starts_with(h) && dir != h))
        })
    {
        return true;
    }
    // Where a variable moved a store.
    let (hidden, readable) = crate::sandbox::moved();
    if hidden.iter().chain(readable).any(|m| p.starts_with(m)) {
        return true;
    }
    // The stores the sandbox hides, and those the managers need readable.
    home.is_some_and(|h| {
        home_secrets()
            .iter()
            .chain(readable_credentials())
            .chain(&crate::sandbox::secrets::data().package_code_hidden)
            .any(|c| p.starts_with(h.join(c)))
    })
}

/// `/proc/<digits>/…`.
fn is_proc_entry(path: &str) -> bool {
    path.split("/proc/").skip(1).any(|r| {
        let n = r.split('/').next().unwrap_or("");
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// True for what `ps`, `pgrep` or a runtime's process probe reads of
/// another process (`/proc/<pid>` itself, its `stat`, `status`, `statm`,
/// `comm`): refused like every entry of a process outside the sandbox, but
/// nothing secret. Any other entry (`environ`, `cmdline`, `mem`, `maps`,
/// descriptors, root …) is a credential read.
fn is_process_listing(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/proc/") else {
        return false;
    };
    let mut parts = rest.split('/');
    let pid = parts.next().unwrap_or("");
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match (parts.next(), parts.next()) {
        (None, _) | (Some(""), None) => true,
        (Some(entry), None) => matches!(entry, "stat" | "status" | "statm" | "comm"),
        _ => false,
    }
}

/// One finding for a whole refused process listing (`ps -A` reads
/// hundreds of entries): severity info, nothing secret was asked for.
fn listing(listed: &[(String, i32)], procs: &Procs) -> Option<Finding> {
    let (first, pid) = listed.first()?;
    let ev = Evidence {
        paths: listed.iter().take(20).map(|(p, _)| p.clone()).collect(),
        detail: Some(format!(
            "{} entries of processes outside the sandbox refused (process status only: no environment, memory or command line)",
            listed.len()
        )),
        ..Evidence::default()
    };
    let title = format!("Other processes' status read (a process listing, refused): {first}…");
    let mut f = finding(
        RuleId::CredRead,
        title,
        Some(*pid),
        procs,
        ev,
        Taken::Blocked,
    );
    f.severity = crate::model::Severity::Info;
    Some(f)
}

/// Finds credential reads and exposed secret variables.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut listed: Vec<(String, i32)> = Vec::new();
    for e in input.events {
        if !e.kind.is_open() {
            continue;
        }
        let Some(path) = e.paths.first() else {
            continue;
        };
        let p = Path::new(path);
        if e.action == crate::model::Action::Denied && is_process_listing(path) {
            listed.push((path.clone(), e.pid));
            continue;
        }
        if e.action == crate::model::Action::Denied && is_proc_entry(path) {
            // The supervisor refused an entry of a process outside the
            // sandbox (its environment, memory, descriptors, root).
            if seen.insert((path.clone(), e.pid)) {
                let ev = Evidence {
                    paths: vec![path.clone()],
                    detail: Some("a process outside the sandbox; refused".into()),
                    ..Evidence::default()
                };
                let title = format!("Another process's /proc entry opened: {path}");
                out.push(finding(
                    RuleId::CredRead,
                    title,
                    Some(e.pid),
                    procs,
                    ev,
                    Taken::Blocked,
                ));
            }
            continue;
        }
        if !is_credential(p, input.home.as_deref(), &input.cwd) {
            continue;
        }
        let hook = procs.is_hook(e.pid);
        // The manager (not a package's code) reading its own configuration,
        // and git's ssh reading keys for a git dependency.
        if !hook && input.manager_configs.iter().any(|c| c == p) {
            continue;
        }
        if !hook
            && p.starts_with(
                input
                    .home
                    .as_deref()
                    .unwrap_or(Path::new("/nonexistent"))
                    .join(".ssh"),
            )
            && procs.node(e.pid).is_some_and(|n| {
                n.exe.ends_with("/ssh")
                    && procs
                        .ancestors(e.pid)
                        .iter()
                        .any(|a| procs.node(*a).is_some_and(|n| n.exe.ends_with("/git")))
            })
        {
            continue;
        }
        if !seen.insert((path.clone(), e.pid)) {
            continue;
        }
        // Landlock refuses reads of the stores the sandbox hides.
        let hidden = input.fs.secrets.iter().any(|s| p.starts_with(s))
            || hook
                && input.hooks.hidden.iter().any(|s| p.starts_with(s))
                && input.hooks.confines(e.pid, input.tree, procs);
        let action = if input.mode != crate::model::Mode::Audit && hidden {
            Taken::Blocked
        } else {
            Taken::Observed
        };
        let ev = Evidence {
            paths: vec![path.clone()],
            ..Evidence::default()
        };
        let title = format!("Credential store opened: {path}");
        out.push(finding(
            RuleId::CredRead,
            title,
            Some(e.pid),
            procs,
            ev,
            action,
        ));
    }
    out.extend(listing(&listed, procs));
    if !input.env_kept.is_empty() {
        let ev = Evidence {
            detail: Some(format!("kept: {}", input.env_kept.join(", "))),
            ..Evidence::default()
        };
        let title = format!(
            "{} secret-like variable(s) stayed in the install's environment (the manager's configuration refers to them)",
            input.env_kept.len()
        );
        out.push(finding(
            RuleId::CredEnv,
            title,
            None,
            procs,
            ev,
            Taken::Observed,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_paths() {
        let h = Some(Path::new("/home/u"));
        let cwd = Path::new("/p");
        assert!(is_credential(Path::new("/home/u/.ssh/id_ed25519"), h, cwd));
        assert!(is_credential(Path::new("/home/u/.aws/credentials"), h, cwd));
        assert!(is_credential(Path::new("/home/u/.npmrc"), h, cwd));
        assert!(is_credential(Path::new("/p/.env.local"), h, cwd));
        assert!(is_credential(Path::new("/proc/1/environ"), h, cwd));
        assert!(!is_credential(Path::new("/proc/self/environ"), h, cwd));
        assert!(!is_credential(Path::new("/home/u/.bashrc"), h, cwd));
        assert!(!is_credential(Path::new("/p/src/.envrc/x"), h, cwd));
    }

    #[test]
    fn a_process_listing_is_status_only() {
        for p in [
            "/proc/12",
            "/proc/12/",
            "/proc/12/stat",
            "/proc/12/status",
            "/proc/9/comm",
        ] {
            assert!(is_process_listing(p), "{p}");
        }
        for p in [
            "/proc/12/environ",
            "/proc/12/cmdline",
            "/proc/12/mem",
            "/proc/12/fd/3",
            "/proc/12/root/home/u/.ssh/id_rsa",
            "/proc/12/task/12/environ",
            "/proc/12/task/12/stat",
            "/proc/self/stat",
            "/proc/x/stat",
        ] {
            assert!(!is_process_listing(p), "{p}");
        }
    }
}
