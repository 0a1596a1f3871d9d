//! One manager invocation: find the real manager, classify the command,
//! pass it through, or decide (policy, user scope, allowed parents, whether
//! the manager can be sandboxed) how its install runs.

use crate::child;
use crate::exit::{self, SetupError};
pub use crate::invocation::{Invocation, SandboxOpts};
use crate::managers::{self, Classified, InstallRequest};
use crate::model::Tool;
use crate::monitor::procs;
use crate::policy::{self, Mode};
use crate::shim;
use std::path::{Path, PathBuf};

/// Runs one invocation to completion and returns the exit code. Passthrough
/// never returns: the process becomes the real manager.
pub fn invoke(inv: Invocation) -> i32 {
    let argv0 = std::env::args_os().next();
    let Some(real) = shim::real_for(&inv.name, argv0.as_deref(), inv.explicit.clone()) else {
        // The interpreter's shim exists whether or not a real one does: it
        // answers as the shell would have.
        if inv.tool == Tool::Python {
            eprintln!("{}", shim::not_found_message(&inv.name));
        } else {
            eprintln!(
                "pkgwarden: no real '{}' found on PATH (shims dir skipped)",
                inv.name
            );
        }
        return exit::NOT_FOUND;
    };
    let words: Vec<String> = inv
        .args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let new_venvs = managers::new_venvs(inv.tool, &words);
    let request = match managers::classify(inv.tool, &words) {
        Classified::Passthrough { .. } => match new_venvs {
            Some(dirs) if !shim::inside_monitored_install() => {
                return create_venvs(&real, &inv, &dirs);
            }
            _ => return passthrough(&real, &inv),
        },
        Classified::Install(req) => req,
    };
    // Inside a monitored install, the manager calling itself is already watched.
    if shim::inside_monitored_install() {
        return passthrough(&real, &inv);
    }
    let code = install(&inv, &real, &request);
    if let Some(dirs) = new_venvs
        && code == 0
    {
        shim_new_venvs(&inv, &dirs);
    }
    code
}

/// `python -m venv DIR`, `uv venv`: with `shim_new_venvs = true`, run it as a
/// child and put shims into the new virtualenvs; else pass it through.
fn create_venvs(real: &Path, inv: &Invocation, dirs: &[String]) -> i32 {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let wanted = policy::load(&policy::Locations::default(), &env, &inv.overrides)
        .is_ok_and(|e| e.policy.shim_new_venvs && e.policy.monitors(inv.tool));
    if !wanted {
        return passthrough(real, inv);
    }
    let code = child::run(real, real.as_os_str(), &inv.args);
    if code == 0 {
        shim_new_venvs(inv, dirs);
    }
    code
}

/// Puts pkgwarden shims into the `bin/` of the virtualenvs `dirs` when the
/// policy asks (`shim_new_venvs`), so their `pip` called by absolute path is
/// monitored too.
fn shim_new_venvs(inv: &Invocation, dirs: &[String]) {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let Ok(eff) = policy::load(&policy::Locations::default(), &env, &inv.overrides) else {
        return;
    };
    let p = &eff.policy;
    if !p.shim_new_venvs {
        return;
    }
    let Ok(exe) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return;
    };
    let target = shim::shim_target_or_self(&exe);
    let cwd = std::env::current_dir().unwrap_or_default();
    let monitored = |n: &str| Tool::from_command(n).is_some_and(|t| p.monitors(t));
    for d in dirs {
        let venv = cwd.join(d);
        match shim::shim_venv(&venv, &target, monitored) {
            Ok(names) if !names.is_empty() => eprintln!(
                "pkgwarden: shimmed {} in {}/bin (shim_new_venvs): installs through them are monitored",
                names.join(", "),
                venv.display()
            ),
            Ok(_) => {}
            Err(e) => eprintln!(
                "pkgwarden: warning: could not shim {}/bin: {e}; its pip runs unmonitored when called by path",
                venv.display()
            ),
        }
    }
}

/// Becomes the real manager; returns only when `execve` failed.
///
/// argv[0] is the real manager's path (same base name as typed): an
/// interpreter that locates itself through argv[0] (Python finding its
/// virtualenv) would otherwise search PATH, find the shim, and lose its prefix.
fn passthrough(real: &Path, inv: &Invocation) -> i32 {
    let err = shim::exec(real, real.as_os_str(), &inv.args);
    eprintln!("pkgwarden: cannot run {}: {err}", real.display());
    // A shell answers 126 for a command found but not executable.
    126
}

/// The install path: the policy decides whether this install is monitored.
fn install(inv: &Invocation, real: &Path, request: &InstallRequest) -> i32 {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let eff = match policy::load(&policy::Locations::default(), &env, &inv.overrides) {
        Ok(e) => e,
        Err(e) => return SetupError::Policy(e.to_string()).report(""),
    };
    for w in &eff.warnings {
        eprintln!("pkgwarden: warning: {w}");
    }
    let p = &eff.policy;
    if !p.monitors(inv.tool) {
        return passthrough(real, inv);
    }
    let uid = nix::unistd::getuid().as_raw();
    if !p
        .user_scope
        .includes(uid, crate::sys::user_name(uid).as_deref())
    {
        return passthrough(real, inv);
    }
    if !p.allowed_parents.is_empty()
        && procs::allowed_parent(&p.allowed_parents, &procs::ancestors()).is_some()
    {
        return passthrough(real, inv);
    }
    let what = format!("{} {}", inv.tool, request.command);
    // The sandbox needs the manager's facts (where it writes, its registries);
    // families whose facts are still a skeleton run unmonitored by default.
    // Any other family is sandboxed when its facts say they are derived.
    // Why this install is not sandboxed by default, if it is not.
    let not_derived = if managers::always_sandboxed(inv.tool) {
        None
    } else {
        match inv.sandbox.enabled {
            Some(_) => None,
            // A probe that cannot run sandboxed runs nothing at all.
            None => match crate::managers::facts::not_derived(
                real,
                inv.tool,
                &std::env::current_dir().unwrap_or_default(),
            ) {
                Ok(d) => d,
                Err(e) => return SetupError::from(e).report(&what),
            },
        }
    };
    if inv.sandbox.enabled.unwrap_or(not_derived.is_none()) {
        return crate::run::sandboxed(inv, real, request, &eff, &what, &env);
    }
    let why = match (&inv.sandbox.enabled, &not_derived) {
        (Some(false), _) => "PKGWARDEN_SANDBOX=0 (or --no-sandbox) asked for it".to_string(),
        (_, Some(why)) => format!(
            "where {} writes and downloads from is not known: {why}",
            real.display()
        ),
        _ => "its facts are not derived".to_string(),
    };
    if p.mode == Mode::Block {
        return SetupError::NeedsSandbox(why).report(&what);
    }
    let code = child::run(real, real.as_os_str(), &inv.args);
    eprintln!(
        "pkgwarden: {what} ran unmonitored ({} mode): {why}; no report was written\n  hint: `pkgwarden run --sandbox` (or PKGWARDEN_SANDBOX=1) sandboxes it anyway; mode = \"block\" refuses such installs",
        p.mode
    );
    code
}

/// What `pkgwarden plan` reports: how pkgwarden understands a command line.
pub fn resolve(tool: Tool, name: &str, args: &[String]) -> Result<(PathBuf, Classified), String> {
    let shims = shim::shims_dir();
    let path_var = std::env::var_os("PATH");
    let real = shim::find_real(name, path_var.as_deref(), shims.as_deref())
        .ok_or_else(|| format!("no real '{name}' found on PATH (shims dir skipped)"))?;
    Ok((real, managers::classify(tool, args)))
}
