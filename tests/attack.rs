//! An attacker who has read `src/`: variations on issue 9's classes that the
//! fixes were not written for. Each test is an inert fixture (markers in the
//! temporary HOME, loopback only) asserting the secure behaviour.

mod support;

use std::fs;
use support::*;

/// A stand-in `gem` whose install runs `code` with python3.
fn python_hook(code: &str) -> (ShimEnv, tempfile::TempDir) {
    let (env, bin) = stand_in("#!/bin/sh\nexec \"$PY\" \"$(dirname \"$0\")/hook.py\"\n");
    fs::write(bin.path().join("hook.py"), code).unwrap();
    (env, bin)
}

/// Runs `pkgwarden run --mode <mode> -- gem install x` on a terminal, the
/// way a user types it in an interactive shell, and then lets that shell
/// read one line for up to 3 s: what the install typed into the terminal
/// would be the shell's next command. Returns everything the terminal showed.
fn on_a_terminal(env: &ShimEnv, mode: &str) -> String {
    let driver = r#"
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execv("/bin/bash", ["bash", "-c",
        '"$@"; echo "exit=$?"; read -t 3 line; echo "shell-read=[$line]"', "bash"] + sys.argv[1:])
out = b""
deadline = time.time() + 60
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 1)
    if not r:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
"#;
    let out = run(env
        .bare(python3())
        .env("PY", python3())
        .arg("-c")
        .arg(driver)
        .arg(pkgwarden_bin())
        .args([
            "run",
            "--sandbox",
            "--mode",
            mode,
            "--",
            "gem",
            "install",
            "x",
        ]));
    stdout_str(&out)
}

/// Class: writes through fds inherited from the manager. The terminal was
/// opened before the sandbox existed; TIOCSTI on it queues input that the
/// user's shell runs after the install, outside every sandbox.
#[test]
fn a_hook_cannot_type_into_the_users_terminal() {
    let (env, _bin) = python_hook(
        r#"
import fcntl, os, termios
fd = os.open("/dev/tty", os.O_RDWR)
try:
    for c in b"echo INJECTED\n":
        fcntl.ioctl(fd, termios.TIOCSTI, bytes([c]))
    print("tiocsti ESCAPED")
except OSError as e:
    print("tiocsti blocked", e.errno)
"#,
    );
    for mode in ["protect", "block"] {
        let text = on_a_terminal(&env, mode);
        assert!(text.contains("tiocsti blocked 1"), "{mode}: {text}");
        assert!(text.contains("shell-read=[]"), "{mode}: {text}");
        assert!(
            text.contains("sandbox.escape") && text.contains("ioctl"),
            "{mode}: {text}"
        );
        if mode == "block" {
            assert!(text.contains("exit=90"), "{mode}: {text}");
        }
    }
}
