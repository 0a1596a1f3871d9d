//! The manager as a child process: the signals pkgwarden forwards to it, how
//! pkgwarden waits for it, and how the install ended.

use crate::exit;
use crate::shim;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, sigaction};
use nix::unistd::Pid;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

/// The child's pid, for the signal handler (0: none yet).
static CHILD: AtomicI32 = AtomicI32::new(0);

/// The last stop signal pkgwarden received while the manager ran (0: none).
/// pip and npm catch SIGINT and exit 1: the report says `interrupted` from
/// this, not from how the manager ended.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Forwards a signal that was sent to pkgwarden alone. A signal the terminal
/// sent (Ctrl-C, Ctrl-\) reached the whole foreground process group, the
/// manager included, and is not sent twice.
extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let child = CHILD.load(Ordering::SeqCst);
    RECEIVED.store(sig, Ordering::SeqCst);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let from_kernel = !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL;
    if child > 0
        && !from_kernel
        && let Ok(sig) = Signal::try_from(sig)
    {
        // kill(2) is async-signal-safe; nix's wrapper only converts.
        let _ = kill(Pid::from_raw(child), sig);
    }
}

/// Installs `forward` for the signals a manager must see. Handlers, not
/// SIG_IGN: caught signals reset to default in the child at execve, ignored
/// ones would stay ignored.
pub fn install_forwarding() {
    let sa = SigAction::new(
        SigHandler::SigAction(forward),
        SaFlags::SA_SIGINFO | SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        // SAFETY: the handler is async-signal-safe: it reads and stores
        // atomics and calls kill.
        let _ = unsafe { sigaction(sig, &sa) };
    }
}

/// Makes `pid` the process forwarded signals go to.
pub fn track(pid: u32) {
    CHILD.store(pid as i32, Ordering::SeqCst);
}

/// Runs the real manager as a child with the terminal untouched and returns
/// its exit code (`128+n` when a signal ended it).
pub fn run(real: &Path, argv0: &OsStr, args: &[OsString]) -> i32 {
    use std::os::unix::process::CommandExt;
    install_forwarding();
    crate::sandbox::spawn::unguard_self();
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
    track(child.id());
    wait(&mut child, real).0
}

/// Waits for the manager: its exit code (`128+n` for a signal) and the
/// signal that ended it.
pub fn wait(child: &mut std::process::Child, real: &Path) -> (i32, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    match child.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => (exit::from_manager(code), None),
            (None, Some(sig)) => (128 + sig, Some(sig)),
            (None, None) => (1, None),
        },
        Err(e) => {
            eprintln!("pkgwarden: lost track of {}: {e}", real.display());
            (1, None)
        }
    }
}

/// How the install ended: `blocked` by the policy, else `interrupted` when
/// pkgwarden received (and forwarded) a stop signal or one ended the manager,
/// whatever the manager's exit code; `crashed` for any other signal.
pub fn outcome_status(blocked: bool, signal: Option<i32>) -> &'static str {
    status_of(blocked, signal, RECEIVED.load(Ordering::SeqCst))
}

fn status_of(blocked: bool, signal: Option<i32>, received: i32) -> &'static str {
    let stop = |s: i32| {
        matches!(
            s,
            libc::SIGINT | libc::SIGTERM | libc::SIGHUP | libc::SIGQUIT
        )
    };
    match signal {
        _ if blocked => "blocked",
        _ if stop(received) => "interrupted",
        Some(s) if stop(s) => "interrupted",
        Some(_) => "crashed",
        None => "completed",
    }
}

#[cfg(test)]
mod tests {
    use super::status_of;

    #[test]
    fn a_received_stop_signal_makes_the_install_interrupted() {
        // pip caught the forwarded SIGINT and exited 1.
        assert_eq!(status_of(false, None, libc::SIGINT), "interrupted");
        assert_eq!(status_of(false, None, libc::SIGHUP), "interrupted");
        assert_eq!(status_of(false, Some(libc::SIGTERM), 0), "interrupted");
        assert_eq!(status_of(false, Some(libc::SIGSEGV), 0), "crashed");
        assert_eq!(status_of(false, None, 0), "completed");
        assert_eq!(status_of(true, None, libc::SIGINT), "blocked");
    }
}
