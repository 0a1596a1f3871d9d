//! The one way a manager is asked about its configuration (`npm config
//! list`, `pip`'s interpreter, `gem env`, `yarn cache dir` …): under a
//! read-only, no-network sandbox, with nothing trapped and nothing to watch.
//!
//! A probe runs the manager, and the manager runs what the project tells it
//! to (a `.yarnrc` `yarn-path`, an `.npmrc` `node-options`, a `pyvenv.cfg`
//! home): that code runs before any install sandbox exists, so it gets one of
//! its own. Landlock: read everything but the credential stores, write only
//! a scratch `TMPDIR` and `/dev/null`, no TCP at all. Seccomp (kernel-only,
//! no listener): the install's deny list, and no sockets. A kernel that
//! cannot give this makes the probe a clear error, never an unsandboxed run.

use super::facts::FactsError;
use crate::sandbox::{self, landlock};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a probe may take before it is killed (a manager answering
/// about its configuration needs a few seconds at most; conda needs more).
const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `cmd` sandboxed with no input and returns its stdout; `what` names
/// the manager in errors. A non-zero exit is an error carrying the last line
/// of its stderr.
pub fn run(cmd: &mut Command, what: &Path) -> Result<Vec<u8>, FactsError> {
    output(cmd, what, &[]).map(|(out, _)| out)
}

/// [`run`] with the scratch directory as the working directory, for a
/// question a manager answers by writing a test file where it runs (`pnpm
/// store path` hard-links one from there to see whether its home store is on
/// the same file system): the project stays read-only.
pub fn run_in_scratch(cmd: &mut Command, what: &Path) -> Result<Vec<u8>, FactsError> {
    exec(cmd, what, true, &[], crate::paths::home()).map(|(out, _)| out)
}

/// [`run`] with each variable of `vars` set to a directory in the scratch,
/// for a manager that creates a directory before it answers anything (yarn
/// its cache folder, `YARN_CACHE_FOLDER`).
pub fn run_with_scratch_vars(
    cmd: &mut Command,
    what: &Path,
    vars: &[&str],
) -> Result<Vec<u8>, FactsError> {
    exec(cmd, what, false, vars, crate::paths::home()).map(|(out, _)| out)
}

/// [`run`], returning stderr too (uv says where its cache is there), with
/// each variable of `scratch_vars` set as in [`run_with_scratch_vars`].
pub fn output(
    cmd: &mut Command,
    what: &Path,
    scratch_vars: &[&str],
) -> Result<(Vec<u8>, Vec<u8>), FactsError> {
    exec(cmd, what, false, scratch_vars, crate::paths::home())
}

fn exec(
    cmd: &mut Command,
    what: &Path,
    in_scratch: bool,
    scratch_vars: &[&str],
    home: Option<PathBuf>,
) -> Result<(Vec<u8>, Vec<u8>), FactsError> {
    let fail = |why: String| FactsError::Probe {
        exe: what.display().to_string(),
        why,
    };
    let sandbox_fail = |why: String| FactsError::Sandbox {
        exe: what.display().to_string(),
        why,
    };
    let scratch = Scratch::new().map_err(|e| sandbox_fail(format!("scratch directory: {e}")))?;
    if in_scratch {
        cmd.current_dir(&scratch.0);
    }
    // Where the manager runs: the command's directory, else ours.
    let cwd = std::env::current_dir()
        .map(|here| match cmd.get_current_dir() {
            Some(d) => here.join(d),
            None => here,
        })
        .ok();
    let grants = grants(&scratch.0, home.as_deref(), cwd.as_deref());
    let (ll, status) =
        landlock::build(&grants, None, true).map_err(|e| sandbox_fail(format!("landlock: {e}")))?;
    let Some(ll) = ll else {
        return Err(sandbox_fail(format!(
            "this kernel has no landlock (ABI {})",
            status.abi
        )));
    };
    let program = sandbox::seccomp::probe_rules().program();
    let ll_fd: RawFd = ll.as_raw_fd();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("TMPDIR", &scratch.0);
    for v in scratch_vars {
        cmd.env(v, scratch.0.join(v));
    }
    // The probe must not read pkgwarden's memory either.
    crate::sandbox::spawn::guard_self();
    // SAFETY: the closure runs in the child between fork and execve. It
    // allocates nothing and makes only async-signal-safe system calls
    // (nix's and crate::sys's thin wrappers) on values prepared above (the
    // program is the child's copy of the closure's own).
    unsafe {
        cmd.pre_exec(move || {
            crate::sandbox::spawn::child_without_ptrace();
            nix::sys::prctl::set_no_new_privs()?;
            crate::sys::landlock_restrict_self(ll_fd)?;
            crate::sys::seccomp_install(&program.0)?;
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot start it sandboxed: {e}")))?;
    drop(ll);
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "it did not answer within {} s and was stopped",
                    TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if !status.success() {
        let err = String::from_utf8_lossy(&err);
        return Err(fail(format!(
            "{status} ({})",
            err.lines().last().unwrap_or("no message")
        )));
    }
    Ok((out, err))
}

/// Read everything but the credential stores; write the scratch directory
/// and the null device; create (empty) directories under `$HOME`, which
/// pipx (its home and bin dirs), uv (its cache) and yarn (its cache folder)
/// do before they answer anything. A directory runs no code; pkgwarden's
/// own readers skip directories where they expect files. And list `cwd`,
/// where the manager runs, when the split around the stores left it no
/// rule (pnpm lists it: `cd ~ && pnpm add -g x`).
fn grants(scratch: &Path, home: Option<&Path>, cwd: Option<&Path>) -> Vec<landlock::Grant> {
    let spec = landlock::FsSpec {
        secrets: sandbox::secrets(home),
        write_dirs: vec![scratch.to_path_buf()],
        write_files: vec![PathBuf::from("/dev/null")],
        file_dirs: Vec::new(),
        writable_tree: None,
        protected: Vec::new(),
        guarded: Vec::new(),
        refused: Vec::new(),
        kept_out: Vec::new(),
        project: None,
        // No supervisor answers a probe: procfs is read as landlock allows.
        through_supervisor: Vec::new(),
    }
    .resolved();
    let mut g = landlock::grants(&spec);
    g.extend(cwd.and_then(|c| landlock::list_where_run(&g, c, &spec.secrets)));
    g.extend(
        home.filter(|h| h.is_dir())
            .map(|h| landlock::Grant::MakeDir(landlock::resolve(h))),
    );
    g
}

/// Reads a pipe to its end on a thread of its own (two pipes read in turn
/// could deadlock on a full one).
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// The probe's private `TMPDIR`, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> io::Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let mut last = io::Error::other("no name was free");
        for n in 0..100u32 {
            let dir = base.join(format!("pkgwarden-probe-{}-{n}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(Scratch(dir)),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_reads_but_cannot_write_or_connect() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("written");
        let script = format!(
            "cat /etc/hostname >/dev/null && echo read; \
             (echo x > {0}) 2>/dev/null || echo refused; \
             echo y > \"$TMPDIR/scratch\" && echo scratch",
            target.display()
        );
        let out = run(
            Command::new("/bin/sh").args(["-c", &script]),
            Path::new("sh"),
        )
        .unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("read"), "{text}");
        assert!(text.contains("refused"), "{text}");
        assert!(text.contains("scratch"), "{text}");
        assert!(!target.exists());
        // No sockets at all: python is there wherever the managers are.
        let py = run(
            Command::new("python3").args([
                "-c",
                "import socket\ntry:\n socket.socket()\n print('open')\nexcept OSError as e:\n print('refused', e.errno)",
            ]),
            Path::new("python3"),
        )
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&py).trim(), "refused 1");
    }

    #[test]
    fn a_probe_run_in_home_lists_it_but_reads_no_credential() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().to_path_buf();
        std::fs::create_dir(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/id_pw"), "PW-KEY-MATERIAL").unwrap();
        std::fs::write(home.join("notes"), "").unwrap();
        // HOME is split around `.ssh`: without its own rule, not even
        // listable (pnpm's `scandir` of where it runs).
        let script = "ls . | tr '\\n' ' '; echo; cat .ssh/id_pw 2>/dev/null || echo refused";
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", script]).current_dir(&home);
        let (out, _) = exec(&mut cmd, Path::new("sh"), false, &[], Some(home.clone())).unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("notes"), "{text}");
        assert!(text.contains("refused"), "{text}");
        assert!(!text.contains("PW-KEY-MATERIAL"), "{text}");
    }

    #[test]
    fn a_failing_probe_is_an_error_with_its_last_line() {
        let e = run(
            Command::new("/bin/sh").args(["-c", "echo first >&2; echo last >&2; exit 3"]),
            Path::new("sh"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("last") && e.contains('3'), "{e}");
    }
}
