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

/// Runs `pkgwarden run --sandbox --mode <mode> -- gem install x` and returns
/// its stdout and stderr together, and its exit code.
fn install(env: &ShimEnv, mode: &str) -> (String, i32) {
    let out = run(env.pkgwarden().env("PY", python3()).args([
        "run",
        "--sandbox",
        "--mode",
        mode,
        "--",
        "gem",
        "install",
        "x",
    ]));
    (
        format!("{}{}", stdout_str(&out), stderr_str(&out)),
        out.status.code().unwrap_or(-1),
    )
}

/// Class: the kernel filter read `int` arguments as 64 bits. The kernel
/// reads socket()'s domain as an int, so AF_INET with a high bit set was a
/// UDP socket in block mode (and AF_PACKET, as root, a packet socket that
/// reads every loopback conversation), never seen by the filter.
#[test]
fn high_bits_in_the_socket_domain_do_not_pass_the_filter() {
    let (env, _bin) = python_hook(
        r#"
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
for name, dom, ty, proto in [("udp", 2, 2, 0), ("packet", 17, 3, 0), ("netlink-diag", 16, 3, 4)]:
    r = libc.syscall(41, ctypes.c_ulong(dom | (1 << 32)), ctypes.c_ulong(ty), ctypes.c_ulong(proto))
    print(name, "ESCAPED" if r >= 0 else "blocked %d" % ctypes.get_errno())
"#,
    );
    let (text, code) = install(&env, "block");
    for line in [
        "udp blocked 1",
        "packet blocked 1",
        "netlink-diag blocked 1",
    ] {
        assert!(text.contains(line), "missing `{line}`:\n{text}");
    }
    assert!(text.contains("sandbox.escape"), "{text}");
    assert_eq!(code, 90, "{text}");
}

/// Class: root keeps every capability in the sandbox, and landlock does not
/// stand in for most of them: `security.capability` on any file it can
/// reach (a persistent privilege), device nodes in the private TMPDIR,
/// packet sockets. Those no install needs are gone from the manager's
/// bounding set (for another user there were none to begin with).
#[test]
fn root_capabilities_no_install_needs_are_dropped() {
    let (env, _bin) = python_hook(
        r#"
import os, stat
caps = {l.split(":")[0]: int(l.split()[1], 16) for l in open("/proc/self/status") if l.startswith("Cap")}
dropped = sum(1 << c for c in (2, 12, 13, 19, 21, 27, 31))
print("caps", "ESCAPED" if (caps["CapEff"] | caps["CapPrm"]) & dropped else "dropped")
t = os.environ["TMPDIR"]
open(t + "/bin", "w").write("inert\n")
try:
    os.setxattr(t + "/bin", "security.capability", bytes.fromhex("0100000200000080000000000000000000000000"))
    print("setfcap ESCAPED")
except OSError as e:
    print("setfcap blocked")
try:
    os.mknod(t + "/null2", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    print("mknod ESCAPED")
except OSError as e:
    print("mknod blocked")
"#,
    );
    for mode in ["protect", "block"] {
        let (text, _) = install(&env, mode);
        for line in ["caps dropped", "setfcap blocked", "mknod blocked"] {
            assert!(text.contains(line), "{mode}: missing `{line}`:\n{text}");
        }
    }
}

/// Class: blinding the report. A FIFO named like a script in a hidden place
/// made the analysis open it for its hash and wait forever for a writer:
/// the install was over, no report was ever written, the user interrupts.
#[test]
fn a_fifo_planted_as_a_script_does_not_hang_the_analysis() {
    let (env, _bin) = python_hook(
        r#"
import os
d = os.environ["HOME"] + "/.cache/evil"
os.makedirs(d, exist_ok=True)
os.mkfifo(d + "/x.py")
print("fifo planted")
"#,
    );
    let before = env.report_files();
    let out = run_with_timeout(
        env.pkgwarden().env("PY", python3()).args([
            "run",
            "--sandbox",
            "--mode",
            "protect",
            "--",
            "gem",
            "install",
            "x",
        ]),
        std::time::Duration::from_secs(60),
    );
    let text = format!("{}{}", stdout_str(&out), stderr_str(&out));
    assert!(text.contains("fifo planted"), "{text}");
    assert_eq!(env.reports_since(&before).len(), 1, "{text}");
    assert!(text.contains("hidden.script"), "{text}");
}

/// Class: transient execution. Code run from a memfd (execveat on its
/// descriptor, or `/proc/self/fd/N`) or from a file unlinked after it was
/// opened names no file on disk, and the supervisor took such an exec for a
/// PATH search miss: not recorded, not refused, a clean report in block.
#[test]
fn fileless_execution_is_dropped_code() {
    let (env, _bin) = python_hook(
        r##"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def run(fd, how):
    pid = os.fork()
    if pid == 0:
        try:
            if how == "execveat":
                libc.syscall(322, fd, ctypes.c_char_p(b""), (ctypes.c_char_p * 2)(b"x", None),
                             (ctypes.c_char_p * 1)(None), 0x1000)
                os._exit(ctypes.get_errno())
            os.execv("/proc/self/fd/%d" % fd, ["x"])
        except OSError as e:
            os._exit(e.errno)
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st)
script = b"#!/bin/sh\necho FILELESS-RAN\n"
m = os.memfd_create("x", 0)
os.write(m, script)
t = os.environ["TMPDIR"] + "/stage"
with open(t, "wb") as f:
    f.write(script)
os.chmod(t, 0o755)
d = os.open(t, os.O_RDONLY)
os.unlink(t)
for name, fd in [("memfd", m), ("deleted", d)]:
    for how in ["execveat", "procfd"]:
        print(name, how, "exit", run(fd, how))
"##,
    );
    let (text, code) = install(&env, "block");
    assert!(!text.contains("FILELESS-RAN"), "{text}");
    assert!(text.contains("exec.dropped"), "{text}");
    assert_eq!(code, 90, "{text}");
    let (text, _) = install(&env, "protect");
    assert!(text.contains("anonymous memory file"), "{text}");
    assert!(text.contains("deleted before it ran"), "{text}");
}
