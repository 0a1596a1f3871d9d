//! Wires the stages of one manager invocation: find the real manager, classify,
//! pass through, or read the policy and run the install.

use crate::exit;
use crate::managers::{self, Classified, InstallRequest, Tool};
use crate::monitor::procs;
use crate::policy::{self, Mode, Overrides};
use crate::shim;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

/// One call of a manager, through a shim or `pkgwarden run`.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The tool it stands for.
    pub tool: Tool,
    /// The command name to look up on PATH (`pip3.11`, `python3`, …).
    pub name: String,
    /// The arguments after argv[0].
    pub args: Vec<OsString>,
    /// Policy flags of `pkgwarden run`.
    pub overrides: Overrides,
}

/// Runs one invocation to completion and returns the exit code. Passthrough
/// never returns: the process becomes the real manager.
pub fn invoke(inv: Invocation) -> i32 {
    let shims = shim::shims_dir();
    let path_var = std::env::var_os("PATH");
    let Some(real) = shim::find_real(&inv.name, path_var.as_deref(), shims.as_deref()) else {
        eprintln!(
            "pkgwarden: no real '{}' found on PATH (shims dir skipped)",
            inv.name
        );
        return exit::NOT_FOUND;
    };
    let words: Vec<String> = inv
        .args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let request = match managers::classify(inv.tool, &words) {
        Classified::Passthrough { .. } => return passthrough(&real, &inv),
        Classified::Install(req) => req,
    };
    // Inside a monitored install, the manager calling itself is already watched.
    if shim::inside_monitored_install() {
        return passthrough(&real, &inv);
    }
    install(&inv, &real, &request)
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
        Err(e) => {
            eprintln!("pkgwarden: policy error, nothing was run\n{e}");
            return exit::USAGE;
        }
    };
    for w in &eff.warnings {
        eprintln!("pkgwarden: warning: {w}");
    }
    let p = &eff.policy;
    if !p.monitors(inv.tool) {
        return passthrough(real, inv);
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    if !p.user_scope.includes(uid, user_name(uid).as_deref()) {
        return passthrough(real, inv);
    }
    if !p.allowed_parents.is_empty()
        && procs::allowed_parent(&p.allowed_parents, &procs::ancestors()).is_some()
    {
        return passthrough(real, inv);
    }
    let what = format!("{} {}", inv.tool, request.command);
    if p.mode == Mode::Block {
        eprintln!(
            "pkgwarden: {what}: block mode needs the sandbox, and this build of pkgwarden has none yet; nothing was run\n  hint: use --mode protect or audit to run it unmonitored, or install a pkgwarden with sandbox support"
        );
        return exit::SANDBOX_UNAVAILABLE;
    }
    let code = run_child(real, real.as_os_str(), &inv.args);
    eprintln!(
        "pkgwarden: {what} ran unmonitored ({} mode): this build has no sandbox yet; no report was written",
        p.mode
    );
    code
}

/// The child's pid, for the signal handler (0: none yet).
static CHILD: AtomicI32 = AtomicI32::new(0);

/// Forwards a signal that was sent to pkgwarden alone. A signal the terminal
/// sent (Ctrl-C, Ctrl-\) reached the whole foreground process group, the
/// manager included, and is not sent twice.
extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let child = CHILD.load(Ordering::SeqCst);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let from_kernel = !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL;
    if child > 0 && !from_kernel {
        // SAFETY: kill is async-signal-safe.
        unsafe {
            libc::kill(child, sig);
        }
    }
}

/// Installs `forward` for the signals a manager must see. Handlers, not
/// SIG_IGN: caught signals reset to default in the child at execve, ignored
/// ones would stay ignored.
fn install_forwarding() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: a zeroed sigaction is a valid starting value; the handler
        // only reads an atomic and calls kill.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Runs the real manager as a child with the terminal untouched and returns
/// its exit code (`128+n` when a signal ended it).
fn run_child(real: &Path, argv0: &OsStr, args: &[OsString]) -> i32 {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    install_forwarding();
    let mut cmd = Command::new(real);
    cmd.arg0(argv0)
        .args(args)
        .env(shim::SUPERVISOR_VAR, std::process::id().to_string());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pkgwarden: cannot run {}: {e}", real.display());
            return 126;
        }
    };
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    match child.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => exit::from_manager(code),
            (None, Some(sig)) => 128 + sig,
            (None, None) => 1,
        },
        Err(e) => {
            eprintln!("pkgwarden: lost track of {}: {e}", real.display());
            1
        }
    }
}

/// The account name of `uid`, from the password database.
fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: a zeroed passwd is a valid out-parameter for getpwuid_r.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the sizes given.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points at a NUL-terminated string inside buf.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// What `pkgwarden plan` reports: how pkgwarden understands a command line.
pub fn resolve(tool: Tool, name: &str, args: &[String]) -> Result<(PathBuf, Classified), String> {
    let shims = shim::shims_dir();
    let path_var = std::env::var_os("PATH");
    let real = shim::find_real(name, path_var.as_deref(), shims.as_deref())
        .ok_or_else(|| format!("no real '{name}' found on PATH (shims dir skipped)"))?;
    Ok((real, managers::classify(tool, args)))
}
