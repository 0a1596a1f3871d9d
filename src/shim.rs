//! Shims: finding the real manager behind a shim, and handing a command to it.
//!
//! This is the hot path of every `pip`/`npm`/… call: no policy is read and no
//! process is started before a non-install command is `execve`d.

use crate::procfs as procs;
use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The variable that marks processes started by a monitored install; its value
/// is the supervisor's pid. A manager that calls itself inside a monitored
/// install goes straight to the real one (it is already watched).
pub const SUPERVISOR_VAR: &str = "PKGWARDEN_SUPERVISOR";

/// The variable naming the shim directory (set by `shims install` users who
/// put it elsewhere); it is skipped when looking for the real manager.
pub const SHIMS_DIR_VAR: &str = "PKGWARDEN_SHIMS_DIR";

/// The shim directory in effect: `$PKGWARDEN_SHIMS_DIR` or the default.
pub fn shims_dir() -> Option<PathBuf> {
    std::env::var_os(SHIMS_DIR_VAR)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(crate::paths::default_shims_dir)
}

/// Finds the real `name` on `path_var`: the first executable that is neither
/// in the shim directory nor pkgwarden itself (a symlink or copy of it
/// anywhere on PATH would otherwise call us again, forever).
pub fn find_real(name: &str, path_var: Option<&OsStr>, shims: Option<&Path>) -> Option<PathBuf> {
    let path_var = path_var?;
    let shims_id = shims.and_then(procs::file_id);
    let dirs = std::env::split_paths(path_var).filter(|d| {
        !(shims.is_some_and(|s| d == s) || (shims_id.is_some() && procs::file_id(d) == shims_id))
    });
    let filtered = std::env::join_paths(dirs).ok()?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    which::which_in_all(name, Some(filtered), cwd)
        .ok()?
        .find_map(|cand| {
            if !procs::is_self(&cand) {
                Some(cand)
            } else {
                // A shimmed virtualenv's bin/: its own manager moved aside.
                moved_real(&cand, name)
            }
        })
}

/// The real manager a shim called as `argv0` (with arguments for `name`)
/// hands off to: the one named by path (`explicit`, as `pkgwarden run --
/// v/bin/pip` gives it, or `argv0` itself when it has a directory: a shim in
/// a shimmed virtualenv called as `v/bin/pip`), wherever PATH points (a
/// pkgwarden link there hands off to what it moved aside); else the first
/// on PATH that is not a shim.
pub fn real_for(name: &str, argv0: Option<&OsStr>, explicit: Option<PathBuf>) -> Option<PathBuf> {
    let by_path = explicit
        .or_else(|| {
            argv0.map(PathBuf::from).filter(|p| {
                p.file_name().is_some_and(|n| *n == *name)
                    && p.parent().is_some_and(|d| !d.as_os_str().is_empty())
            })
        })
        .and_then(|p| {
            let p = std::env::current_dir().map(|c| c.join(&p)).unwrap_or(p);
            if procs::is_self(&p) {
                moved_real(&p, name)
            } else {
                p.is_file().then_some(p)
            }
        });
    let shims = shims_dir();
    let path_var = std::env::var_os("PATH");
    by_path.or_else(|| find_real(name, path_var.as_deref(), shims.as_deref()))
}

/// The name of the small executable the shims link to: it classifies the
/// command and execs the real manager, or the full `pkgwarden` beside it.
pub const SHIM_BIN: &str = "pkgwarden-shim";

/// What the shims link to, for the pkgwarden binary at `exe`: the shim
/// executable beside it; `Err` says why not and what to do (the caller
/// links to `exe` itself, which behaves the same, only slower).
pub fn shim_target(exe: &Path) -> Result<PathBuf, String> {
    let sibling = exe.with_file_name(SHIM_BIN);
    match sibling.canonicalize() {
        Ok(p) if p.is_file() => Ok(p),
        _ => Err(format!(
            "no {SHIM_BIN} beside {}: the shims link to pkgwarden itself, and each non-install call pays its full start-up (about 0.6 ms more); fix: install both executables (install.sh does; `cargo build --release` builds both into target/release)",
            exe.display()
        )),
    }
}

/// What the shims link to: [`shim_target`] of `exe`, or `exe` itself with
/// the reason printed as a warning.
pub fn shim_target_or_self(exe: &Path) -> PathBuf {
    shim_target(exe).unwrap_or_else(|why| {
        eprintln!("pkgwarden: warning: {why}");
        exe.to_path_buf()
    })
}

/// Where [`shim_venv`] moves a virtualenv's own manager: `bin/.pkgwarden-real/`.
pub const REAL_SUBDIR: &str = ".pkgwarden-real";

/// The real `name` that [`shim_venv`] moved aside from `link`'s directory.
pub fn moved_real(link: &Path, name: &str) -> Option<PathBuf> {
    let real = link.parent()?.join(REAL_SUBDIR).join(name);
    real.is_file().then_some(real)
}

/// Puts pkgwarden shims into a new virtualenv's `bin/` for the monitored
/// `pip` names (`pip`, `pip3`, `pip3.N`), moving the venv's own scripts to
/// `bin/.pkgwarden-real/` where the shim finds them. The interpreter stays
/// (it locates its virtualenv from its own path). Returns the names shimmed;
/// a directory without `pyvenv.cfg` is not a virtualenv and is left alone.
pub fn shim_venv(
    venv: &Path,
    target: &Path,
    monitored: impl Fn(&str) -> bool,
) -> std::io::Result<Vec<String>> {
    let bin = venv.join("bin");
    if !venv.join("pyvenv.cfg").is_file() || !bin.is_dir() {
        return Ok(Vec::new());
    }
    let is_pip = |n: &str| {
        n == "pip"
            || n == "pip3"
            || n.strip_prefix("pip3.")
                .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut done = Vec::new();
    for e in std::fs::read_dir(&bin)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if !is_pip(&name) || !monitored(&name) || is_our_link(&path) || !path.is_file() {
            continue;
        }
        let aside = bin.join(REAL_SUBDIR);
        std::fs::create_dir_all(&aside)?;
        std::fs::rename(&path, aside.join(&name))?;
        std::os::unix::fs::symlink(target, &path)?;
        done.push(name);
    }
    done.sort();
    Ok(done)
}

/// Replaces this process with the real manager: same argv[0] as typed, same
/// arguments, environment, file descriptors and signal dispositions. Returns
/// only on failure.
pub fn exec(real: &Path, argv0: &OsStr, args: &[OsString]) -> std::io::Error {
    Command::new(real).arg0(argv0).args(args).exec()
}

/// True when this process runs inside an install that a pkgwarden supervisor
/// is already watching (the marker is set and its pid is a live parent running
/// pkgwarden; a marker copied into an unrelated shell counts for nothing).
pub fn inside_monitored_install() -> bool {
    std::env::var(SUPERVISOR_VAR)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .is_some_and(procs::is_supervising_ancestor)
}

/// The shell a PATH line is printed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

/// The activation snippet for `shell`, with the shim directory filled in
/// (inside single quotes in the template, so only `'` needs escaping).
pub fn activation(shell: Shell, dir: &Path) -> String {
    let dir = dir.display().to_string();
    let (template, quoted) = match shell {
        Shell::Bash => (
            include_str!("../shims/activate.bash"),
            dir.replace('\'', "'\\''"),
        ),
        Shell::Zsh => (
            include_str!("../shims/activate.zsh"),
            dir.replace('\'', "'\\''"),
        ),
        Shell::Fish => (
            include_str!("../shims/activate.fish"),
            dir.replace('\\', "\\\\").replace('\'', "\\'"),
        ),
    };
    template.replace("@SHIMS_DIR@", &quoted)
}

/// What `shims install` did to one entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// A new link.
    Created,
    /// A link to an older pkgwarden binary, pointed at this one.
    Updated,
    /// Already right.
    Unchanged,
    /// A file that is not a pkgwarden shim is in the way; left alone.
    Skipped,
    /// A link to pkgwarden for a manager no longer monitored.
    Removed,
}

/// True when `link` is a symlink to a pkgwarden binary (this one or another,
/// the full one or the shim executable).
fn is_our_link(link: &Path) -> bool {
    std::fs::read_link(link).is_ok_and(|t| {
        t.file_name()
            .is_some_and(|n| procs::BINARIES.iter().any(|b| n == *b))
            || procs::is_self(&t)
    })
}

/// What a shell prints for a command it cannot find, for an interpreter
/// name whose shim has no real one behind it: a script probing `python`
/// sees the same words and exit code (127) as without pkgwarden. The form
/// follows the shell that started the shim, when it is one.
pub fn not_found_message(name: &str) -> String {
    let parent = std::fs::read_to_string(format!(
        "/proc/{}/comm",
        std::os::unix::process::parent_id()
    ))
    .map(|c| c.trim().to_string())
    .unwrap_or_default();
    match parent.as_str() {
        "zsh" => format!("zsh: command not found: {name}"),
        "fish" => format!("fish: Unknown command: {name}"),
        "bash" | "sh" | "dash" | "ksh" | "mksh" => format!("{parent}: {name}: command not found"),
        _ => format!("{name}: command not found"),
    }
}

/// The shim names to create for `managers` (policy names): each name, plus
/// `python3` with `python`, each tool's other names (`yarnpkg`), plus the versioned `pip3.N`/`python3.N` found on
/// PATH. `python` and `python3` get a shim whether or not a real one is on
/// PATH now: a virtualenv activated later brings its own `python` (where the
/// system has only `python3`), and `python -m pip` there must be monitored;
/// with no real one behind it the shim says "command not found" as a shell
/// would and exits 127 ([`not_found_message`]).
pub fn wanted_names(managers: &[String], path_var: Option<&OsStr>, dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = managers.to_vec();
    if managers.iter().any(|m| m == "python") {
        names.push("python3".into());
    }
    for (alias, tool) in crate::model::Tool::ALIASES {
        if managers.iter().any(|m| m == tool.name()) {
            names.push(alias.into());
        }
    }
    let versioned = |n: &str, prefix: &str| {
        n.strip_prefix(prefix)
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    };
    for d in path_var.map(std::env::split_paths).into_iter().flatten() {
        if d == dir {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let family = if versioned(&n, "pip3.") {
                "pip3"
            } else if versioned(&n, "python3.") {
                "python"
            } else {
                continue;
            };
            if managers.iter().any(|m| m == family) {
                names.push(n);
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Creates (or refreshes) one link per name in `dir` pointing at `target`, and
/// removes pkgwarden links for names no longer wanted. Idempotent.
pub fn install_shims(
    dir: &Path,
    target: &Path,
    names: &[String],
) -> std::io::Result<Vec<(String, Change)>> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for name in names {
        let link = dir.join(name);
        let change = match std::fs::read_link(&link) {
            Ok(t) if t == target => Change::Unchanged,
            Ok(_) if is_our_link(&link) => {
                std::fs::remove_file(&link)?;
                std::os::unix::fs::symlink(target, &link)?;
                Change::Updated
            }
            Ok(_) => Change::Skipped,
            Err(_) if link.symlink_metadata().is_ok() => Change::Skipped,
            Err(_) => {
                std::os::unix::fs::symlink(target, &link)?;
                Change::Created
            }
        };
        out.push((name.clone(), change));
    }
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !names.contains(&name) && is_our_link(&e.path()) {
            std::fs::remove_file(e.path())?;
            out.push((name, Change::Removed));
        }
    }
    Ok(out)
}

/// Removes every pkgwarden link from `dir`, then `dir` itself when empty.
pub fn uninstall_shims(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for e in entries.flatten() {
        if is_our_link(&e.path()) {
            std::fs::remove_file(e.path())?;
            removed.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    // Only an empty directory goes; anything else in it is the user's.
    let _ = std::fs::remove_dir(dir);
    removed.sort();
    Ok(removed)
}

/// One row of `shims list`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ShimEntry {
    /// The command name.
    pub name: String,
    /// Where the link points.
    pub target: Option<PathBuf>,
    /// The real manager behind it on the current PATH.
    pub real: Option<PathBuf>,
}

/// The pkgwarden links in `dir` and the real manager each one hands off to.
pub fn list_shims(dir: &Path, path_var: Option<&OsStr>) -> Vec<ShimEntry> {
    let mut out: Vec<ShimEntry> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| is_our_link(&e.path()))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            ShimEntry {
                real: find_real(&name, path_var, Some(dir)),
                target: std::fs::read_link(e.path()).ok(),
                name,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A monitored command name whose first hit on PATH is not a shim: typing it
/// runs the manager unmonitored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shadow {
    /// The command name (`pip`, `npm` …).
    pub name: String,
    /// What the name resolves to.
    pub resolves_to: PathBuf,
    /// Why it is ahead of the shims, and how to fix it.
    pub fix: String,
}

/// The names in `names` whose first executable on `path_var` is neither in
/// the shim directory nor a link to pkgwarden, with the fix for each.
pub fn shadowed(names: &[String], path_var: Option<&OsStr>, dir: &Path) -> Vec<Shadow> {
    let dirs: Vec<PathBuf> = path_var
        .map(std::env::split_paths)
        .into_iter()
        .flatten()
        .collect();
    let dir_id = procs::file_id(dir);
    let is_shims = |d: &Path| d == dir || (dir_id.is_some() && procs::file_id(d) == dir_id);
    let on_path = dirs.iter().any(|d| is_shims(d));
    let mut out = Vec::new();
    for name in names {
        let Some(hit) = dirs.iter().find_map(|d| {
            let p = d.join(name);
            let exe = std::fs::metadata(&p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            });
            exe.then(|| (d.clone(), p))
        }) else {
            continue;
        };
        let (hit_dir, path) = hit;
        if is_shims(&hit_dir) || is_our_link(&path) {
            continue;
        }
        let venv = hit_dir
            .parent()
            .filter(|root| root.join("pyvenv.cfg").is_file());
        let fix = match venv {
            _ if !on_path => format!(
                "the shim directory {} is not on PATH: load the shell hook",
                dir.display()
            ),
            Some(root) => format!(
                "the virtualenv {} is activated ahead of the shims: load the shell hook; called by its path (a script, a Makefile, an IDE) its pip stays unmonitored: use `pkgwarden run -- {}/pip install …`, or set shim_new_venvs = true in the policy before creating virtualenvs",
                root.display(),
                hit_dir.display()
            ),
            None => format!(
                "{} was put ahead of the shims (a version manager or an activation): load the shell hook",
                hit_dir.display()
            ),
        };
        out.push(Shadow {
            name: name.clone(),
            resolves_to: path,
            fix,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn exe(path: &Path) {
        fs::write(path, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn skips_the_shims_dir_and_ourselves() {
        let t = tempfile::tempdir().unwrap();
        let shims = t.path().join("shims");
        let a = t.path().join("a");
        let b = t.path().join("b");
        for d in [&shims, &a, &b] {
            fs::create_dir(d).unwrap();
        }
        exe(&shims.join("conda"));
        // A link to the running binary elsewhere on PATH must be skipped too.
        std::os::unix::fs::symlink(std::env::current_exe().unwrap(), a.join("conda")).unwrap();
        exe(&b.join("conda"));
        let path = std::env::join_paths([&shims, &a, &b]).unwrap();
        assert_eq!(
            find_real("conda", Some(&path), Some(&shims)),
            Some(b.join("conda"))
        );
        // Without the shims dir named, its entry is a plain candidate.
        assert_eq!(
            find_real("conda", Some(&path), None),
            Some(shims.join("conda"))
        );
        fs::remove_file(b.join("conda")).unwrap();
        assert_eq!(find_real("conda", Some(&path), Some(&shims)), None);
    }

    #[test]
    fn a_shimmed_venv_hands_off_to_its_own_pip() {
        let t = tempfile::tempdir().unwrap();
        let v = t.path().join("v");
        fs::create_dir_all(v.join("bin")).unwrap();
        for n in ["pip", "pip3", "pip3.12", "python3", "activate"] {
            exe(&v.join("bin").join(n));
        }
        let me = std::env::current_exe().unwrap();
        // Not a virtualenv yet: nothing changes.
        assert!(shim_venv(&v, &me, |_| true).unwrap().is_empty());
        fs::write(v.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let done = shim_venv(&v, &me, |n| n != "pip3").unwrap();
        assert_eq!(done, vec!["pip", "pip3.12"]);
        assert!(is_our_link(&v.join("bin/pip")));
        assert!(!is_our_link(&v.join("bin/pip3")));
        assert!(!is_our_link(&v.join("bin/python3")));
        // Idempotent.
        assert!(shim_venv(&v, &me, |_| true).unwrap() == vec!["pip3"]);
        // Found by PATH (an activated venv) and by its own path.
        let path = std::env::join_paths([v.join("bin")]).unwrap();
        let real = v.join("bin").join(REAL_SUBDIR).join("pip");
        assert_eq!(find_real("pip", Some(&path), None), Some(real.clone()));
        assert_eq!(moved_real(&v.join("bin/pip"), "pip"), Some(real));
    }

    #[test]
    fn shims_install_is_idempotent_and_uninstall_keeps_foreign_files() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("shims");
        let me = std::env::current_exe().unwrap();
        let names: Vec<String> = ["pip", "npm"].iter().map(|s| s.to_string()).collect();
        let first = install_shims(&dir, &me, &names).unwrap();
        assert!(first.iter().all(|(_, c)| *c == Change::Created));
        let again = install_shims(&dir, &me, &names).unwrap();
        assert!(again.iter().all(|(_, c)| *c == Change::Unchanged));
        // A user's own file in the way is never clobbered.
        fs::write(dir.join("gem"), "mine").unwrap();
        let with_gem: Vec<String> = ["gem", "pip"].iter().map(|s| s.to_string()).collect();
        let third = install_shims(&dir, &me, &with_gem).unwrap();
        assert!(third.contains(&("gem".to_string(), Change::Skipped)));
        assert!(third.contains(&("npm".to_string(), Change::Removed)));
        assert_eq!(fs::read_to_string(dir.join("gem")).unwrap(), "mine");
        let removed = uninstall_shims(&dir).unwrap();
        assert_eq!(removed, vec!["pip".to_string()]);
        assert!(dir.join("gem").exists());
    }

    #[test]
    fn wanted_names_add_versioned_spellings_found_on_path() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        fs::create_dir(&bin).unwrap();
        exe(&bin.join("pip3.11"));
        exe(&bin.join("python3.11"));
        exe(&bin.join("python3"));
        exe(&bin.join("pip3.x"));
        let path = std::env::join_paths([&bin]).unwrap();
        let managers: Vec<String> = ["pip3", "python"].iter().map(|s| s.to_string()).collect();
        let names = wanted_names(&managers, Some(&path), &t.path().join("shims"));
        // No real `python` on PATH: its shim all the same.
        assert_eq!(
            names,
            vec!["pip3", "pip3.11", "python", "python3", "python3.11"]
        );
    }

    #[test]
    fn shadowed_names_are_those_ahead_of_the_shims() {
        let t = tempfile::tempdir().unwrap();
        let shims = t.path().join("shims");
        let venv = t.path().join("v");
        let nvm = t.path().join("nvm");
        let sys = t.path().join("sys");
        for d in [&shims, &venv.join("bin"), &nvm, &sys] {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        for n in ["pip", "npm", "gem"] {
            std::os::unix::fs::symlink(std::env::current_exe().unwrap(), shims.join(n)).unwrap();
            exe(&sys.join(n));
        }
        exe(&venv.join("bin/pip"));
        exe(&nvm.join("npm"));
        let names: Vec<String> = ["gem", "npm", "pip", "conda"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let path = std::env::join_paths([&venv.join("bin"), &nvm, &shims, &sys]).unwrap();
        let found = shadowed(&names, Some(&path), &shims);
        let got: Vec<(&str, &Path)> = found
            .iter()
            .map(|s| (s.name.as_str(), s.resolves_to.as_path()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("npm", nvm.join("npm").as_path()),
                ("pip", venv.join("bin/pip").as_path())
            ]
        );
        assert!(found[1].fix.contains("virtualenv"), "{}", found[1].fix);
        assert!(found[0].fix.contains("shell hook"), "{}", found[0].fix);
        // Shims first: nothing shadowed.
        let path = std::env::join_paths([&shims, &venv.join("bin"), &nvm, &sys]).unwrap();
        assert!(shadowed(&names, Some(&path), &shims).is_empty());
        // Shims absent from PATH: every name that resolves is shadowed.
        let path = std::env::join_paths([&sys]).unwrap();
        let all = shadowed(&names, Some(&path), &shims);
        assert_eq!(all.len(), 3);
        assert!(all[0].fix.contains("not on PATH"));
    }

    #[test]
    fn activation_snippets_name_the_dir() {
        let d = Path::new("/home/u/.local/share/pkgwarden/shims");
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = activation(shell, d);
            assert!(
                text.contains("_pkgwarden_shims '/home/u/.local/share/pkgwarden/shims'")
                    || text.contains("_pkgwarden_shims='/home/u/.local/share/pkgwarden/shims'"),
                "{shell:?}: {text}"
            );
            assert!(text.contains("PKGWARDEN_SHELL_HOOK"), "{shell:?}");
            assert!(!text.contains("@SHIMS_DIR@"), "{shell:?}");
        }
        assert!(activation(Shell::Bash, d).contains("PROMPT_COMMAND"));
        assert!(activation(Shell::Zsh, d).contains("add-zsh-hook precmd"));
        assert!(activation(Shell::Fish, d).contains("--on-event fish_prompt"));
        // A quote in the directory cannot end the string early.
        let odd = Path::new("/home/o'x/shims");
        assert!(activation(Shell::Bash, odd).contains("_pkgwarden_shims='/home/o'\\''x/shims'"));
        assert!(activation(Shell::Fish, odd).contains("_pkgwarden_shims '/home/o\\'x/shims'"));
    }
}
