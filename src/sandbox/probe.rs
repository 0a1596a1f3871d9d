//! What protection this kernel gives, found by trying it (principle 4: probe,
//! then trust).

use super::bpf::{Action, Filter};
use super::spawn::{set_sync_wakeup, take_fd};
use crate::sys;
use nix::fcntl::OFlag;
use nix::sys::prctl;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::{self, ForkResult};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::os::fd::AsRawFd;

/// The protections available here.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Probe {
    /// The landlock ABI (0: none).
    pub landlock_abi: u32,
    /// A process may set no_new_privs and install a seccomp filter.
    pub seccomp_filter: bool,
    /// Seccomp user notification (a listener fd).
    pub user_notification: bool,
    /// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (cheap round trips).
    pub sync_wakeup: bool,
    /// `pidfd_getfd` on a child (how the supervisor takes the listener).
    pub pidfd_getfd: bool,
    /// Yama's ptrace scope (2 and 3 forbid what the supervisor does unprivileged).
    pub yama_ptrace_scope: Option<u8>,
}

impl Probe {
    /// True when the sandbox can be set up in full.
    pub fn complete(&self) -> bool {
        self.landlock_abi >= 1 && self.seccomp_filter && self.user_notification && self.pidfd_getfd
    }

    /// The mechanisms an install needs that this kernel lacks, by name,
    /// for a message (`pkgwarden doctor` says more).
    pub fn missing(&self) -> String {
        let mut v = Vec::new();
        if self.landlock_abi == 0 {
            v.push("landlock");
        }
        if !self.seccomp_filter {
            v.push("seccomp filters");
        }
        if !self.user_notification {
            v.push("seccomp user notification");
        }
        if !self.pidfd_getfd {
            v.push("pidfd_getfd");
        }
        if v.is_empty() {
            // The probe passed but building the ruleset found no landlock.
            v.push("landlock");
        }
        v.join(", ")
    }
}

/// The probe, cached per boot (the kernel cannot change without one). Only a
/// cached "everything works" is trusted: a cache saying a mechanism is
/// missing is probed again (a forged one would otherwise turn the sandbox
/// off), and one saying more than the kernel has fails when the sandbox is
/// built, which refuses to run the install.
pub fn probe_cached() -> Probe {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let file = crate::paths::own_cache_dir().map(|d| {
        d.join(format!(
            "probe-{}-{}.json",
            boot.trim(),
            env!("CARGO_PKG_VERSION")
        ))
    });
    if let Some(f) = &file
        && let Some(p) = crate::paths::read_trusted(f)
            .and_then(|b| serde_json::from_slice::<Probe>(&b).ok())
            .filter(Probe::complete)
    {
        return p;
    }
    let p = probe();
    if let Some(f) = &file
        && let Some(dir) = f.parent()
        && std::fs::create_dir_all(dir).is_ok()
    {
        // Written whole then renamed: a concurrent install reads all or nothing.
        let tmp = dir.join(format!(".probe.{}", std::process::id()));
        if std::fs::write(&tmp, serde_json::to_vec(&p).unwrap_or_default()).is_ok() {
            let _ = std::fs::rename(&tmp, f);
        }
    }
    p
}

/// Tries each mechanism in a short-lived child.
pub fn probe() -> Probe {
    let yama = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let mut p = Probe {
        landlock_abi: super::landlock::kernel_abi(),
        seccomp_filter: false,
        user_notification: false,
        sync_wakeup: false,
        pidfd_getfd: false,
        yama_ptrace_scope: yama,
    };
    let program = Filter::default().compile(Action::Allow);
    let Ok((r, w)) = unistd::pipe2(OFlag::O_CLOEXEC) else {
        return p;
    };
    // SAFETY: the child only makes async-signal-safe system calls (thin
    // wrappers that allocate nothing) on values prepared before the fork,
    // then waits to be killed.
    let pid = match unsafe { unistd::fork() } {
        Ok(ForkResult::Parent { child }) => child,
        Ok(ForkResult::Child) => {
            // An undumpable parent (a supervisor already guarded) must
            // still be able to take the listener, as it will from a sandbox.
            let _ = prctl::set_dumpable(true);
            let nnp = prctl::set_no_new_privs().is_ok();
            // Held open until the parent kills us.
            let listener = nnp.then(|| sys::seccomp_install_listener(&program.0));
            let ok = if nnp { 1i32 } else { -1 };
            let fd = match &listener {
                Some(Ok(l)) => l.as_raw_fd(),
                _ => -1,
            };
            let (a, b) = (ok.to_ne_bytes(), fd.to_ne_bytes());
            let _ = unistd::write(&w, &[a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]);
            // Wait until the parent has tried to take the listener and kills us.
            loop {
                unistd::pause();
            }
        }
        Err(_) => return p,
    };
    drop(w);
    let mut buf = [0u8; 8];
    let mut file = std::fs::File::from(r);
    if file.read_exact(&mut buf).is_ok() {
        let ok = i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let fd = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
        p.seccomp_filter = ok == 1;
        p.user_notification = fd >= 0;
        if fd >= 0
            && let Ok(listener) = take_fd(pid.as_raw(), fd)
        {
            p.pidfd_getfd = true;
            p.sync_wakeup = set_sync_wakeup(&listener);
        }
    }
    // The child waits in pause(): kill it, then reap it.
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_finds_what_the_sandbox_tests_rely_on() {
        let p = probe();
        // The machines this project runs on have all of it; a kernel without
        // one of these must show it here rather than fail obscurely later.
        assert!(p.seccomp_filter, "{p:?}");
        assert!(p.user_notification, "{p:?}");
        assert!(p.pidfd_getfd, "{p:?}");
        assert!(p.landlock_abi >= 1, "{p:?}");
        assert!(p.complete());
    }
}
