//! An attacker who has read `src/`: variations on issue 9's classes that the
//! fixes were not written for. Each test is an inert fixture (markers in the
//! temporary HOME, loopback only) asserting the secure behaviour.

use crate::support;

use std::fs;
use support::*;

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

/// The findings of the one report stored since `before`: `(rule, first
/// evidence path)`.
fn findings_since(
    env: &ShimEnv,
    before: &std::collections::BTreeSet<std::path::PathBuf>,
    text: &str,
) -> Vec<(String, String)> {
    let new = env.reports_since(before);
    assert_eq!(new.len(), 1, "one report expected:\n{text}");
    let doc: serde_json::Value =
        serde_json::from_slice(&fs::read(&new[0]).unwrap()).expect("report JSON");
    doc["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["evidence"]["paths"][0].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Class: chmod and chown were not judged (landlock has no right for them;
/// the filter trapped only a chmod with an execute bit). A hook made
/// pkgwarden's state unreadable (every later report lost), opened `~/.ssh`
/// and a key to every local user, made `~/.bashrc` world-writable, in
/// block too; directly, through a descriptor it held read-only, and
/// through a symlink flipped by a second thread between the check and the
/// change. Now the supervisor performs the change on the file it opened
/// itself, only inside the write grants.
#[test]
fn chmod_and_chown_take_effect_only_inside_the_grants() {
    let (env, bin) = python_hook(
        r#"
import os, threading
H = os.environ["HOME"]
T = os.environ["TMPDIR"]
def attempt(name, f):
    try:
        f()
        print(name, "ESCAPED")
    except OSError as e:
        print(name, "blocked", e.errno)
attempt("state", lambda: os.chmod(H + "/.local/state/pkgwarden", 0))
attempt("ssh-dir", lambda: os.chmod(H + "/.ssh", 0o777))
attempt("ssh-key", lambda: os.chmod(H + "/.ssh/id_rsa", 0o644))
attempt("bashrc", lambda: os.chmod(H + "/.bashrc", 0o666))
fd = os.open(H + "/.bashrc", os.O_RDONLY)
attempt("fchmod", lambda: os.fchmod(fd, 0o666))
# A POSIX ACL needs only ownership, like chmod: user 65534 may read the key.
acl = bytes.fromhex("02000000" "0100" "0600" "ffffffff" "0200" "0400" "feff0000" "0400" "0000" "ffffffff" "1000" "0400" "ffffffff" "2000" "0000" "ffffffff")
attempt("acl", lambda: os.setxattr(H + "/.ssh/id_rsa", "system.posix_acl_access", acl))
if os.getuid() == 0:
    attempt("chown", lambda: os.chown(os.environ["OUTSIDE"], 65534, 65534))
# Its own files: performed.
own = T + "/own"
open(own, "w").write("x")
os.chmod(own, 0o600)
g = os.open(own, os.O_RDONLY)
os.fchmod(g, 0o640)
print("own", oct(os.stat(own).st_mode & 0o777))
# The race: a link flipped between its own file and ~/.bashrc.
ok = T + "/ok"
open(ok, "w").write("x")
link = T + "/link"
stop = False
def flip():
    while not stop:
        for target in (ok, H + "/.bashrc"):
            try:
                os.symlink(target, link + ".new")
                os.replace(link + ".new", link)
            except OSError:
                pass
th = threading.Thread(target=flip)
th.start()
done = 0
for i in range(400):
    try:
        os.chmod(link, 0o666 if i % 2 else 0o606)
        done += 1
    except OSError:
        pass
stop = True
th.join()
print("race done", done)
"#,
    );
    let outside = bin.path().join("outside.txt");
    fs::write(&outside, "x\n").unwrap();
    let h = env.home.path().to_path_buf();
    let state = env.home.state_dir().join("pkgwarden");
    fs::create_dir_all(state.join("reports")).unwrap();
    fs::create_dir_all(h.join(".ssh")).unwrap();
    fs::write(h.join(".ssh/id_rsa"), "inert key\n").unwrap();
    fs::write(h.join(".bashrc"), "# rc\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    for (p, m) in [
        (h.join(".ssh"), 0o700),
        (h.join(".ssh/id_rsa"), 0o600),
        (h.join(".bashrc"), 0o644),
        (state.clone(), 0o700),
    ] {
        fs::set_permissions(&p, fs::Permissions::from_mode(m)).unwrap();
    }
    let root = unsafe { libc::geteuid() } == 0;
    for mode in ["protect", "block"] {
        let before = env.report_files();
        let out = run(env
            .pkgwarden()
            .env("PY", python3())
            .env("OUTSIDE", &outside)
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
        let text = format!("{}{}", stdout_str(&out), stderr_str(&out));
        for name in ["state", "ssh-dir", "ssh-key", "bashrc", "fchmod"] {
            assert!(
                text.contains(&format!("{name} blocked 1")),
                "{mode}: {name}:\n{text}"
            );
        }
        assert!(
            text.contains(&format!("acl blocked {}", libc::EOPNOTSUPP)),
            "{mode}:\n{text}"
        );
        assert!(text.contains("own 0o640"), "{mode}:\n{text}");
        assert!(text.contains("race done"), "{mode}:\n{text}");
        assert!(!text.contains("ESCAPED"), "{mode}:\n{text}");
        assert_eq!(mode_of(&state), 0o700, "{mode}");
        assert_eq!(mode_of(&h.join(".ssh")), 0o700, "{mode}");
        assert_eq!(mode_of(&h.join(".ssh/id_rsa")), 0o600, "{mode}");
        assert_eq!(
            mode_of(&h.join(".bashrc")),
            0o644,
            "{mode}: the race got through"
        );
        let f = findings_since(&env, &before, &text);
        let has = |rule: &str, path: &std::path::Path| {
            f.iter()
                .any(|(r, p)| r == rule && std::path::Path::new(p) == path)
        };
        assert!(has("tamper.pkgwarden", &state), "{mode}: {f:?}\n{text}");
        assert!(has("cred.perm", &h.join(".ssh")), "{mode}: {f:?}");
        assert!(has("cred.perm", &h.join(".ssh/id_rsa")), "{mode}: {f:?}");
        assert!(has("persist.shell-rc", &h.join(".bashrc")), "{mode}: {f:?}");
        if root {
            use std::os::unix::fs::MetadataExt;
            assert!(text.contains("chown blocked 1"), "{mode}:\n{text}");
            assert_eq!(fs::metadata(&outside).unwrap().uid(), 0, "{mode}");
            assert!(has("perm.outside", &outside), "{mode}: {f:?}");
        }
    }
}

/// Class: a setuid or setgid bit set at creation. `perm.setuid` refused the
/// bit on chmod only; `open(O_CREAT)`, `creat`, `mknod(S_IFREG)` and
/// `openat2` take a mode too, and the kernel keeps the set-id bits of it
/// (umask clears only what it names). As root that is a root-owned setuid
/// program left in a write root any local user can reach.
#[test]
fn a_setuid_bit_cannot_be_set_at_creation() {
    let (env, _bin) = python_hook(
        r#"
import os, stat, ctypes, struct
T = os.environ["TMPDIR"]
libc = ctypes.CDLL(None, use_errno=True)
os.umask(0)
def attempt(name, f):
    p = T + "/" + name
    try:
        f(p)
    except OSError as e:
        print(name, "blocked", e.errno)
        return
    try:
        m = os.lstat(p).st_mode
    except OSError:
        print(name, "blocked missing")
        return
    print(name, "ESCAPED" if m & 0o6000 else "clean", oct(m & 0o7777))
def sys(nr, args):
    def f(p):
        r = libc.syscall(nr, *args(p))
        if r < 0:
            raise OSError(ctypes.get_errno(), "")
        os.close(r) if nr != 133 and nr != 259 else None
    return f
AT = ctypes.c_int(-100)
attempt("open", lambda p: os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o4755)))
attempt("openat", sys(257, lambda p: (AT, p.encode(), os.O_CREAT | os.O_WRONLY, 0o6755)))
attempt("creat", sys(85, lambda p: (p.encode(), 0o4755)))
attempt("mknod", lambda p: os.mknod(p, stat.S_IFREG | 0o4755))
attempt("mknodat", sys(259, lambda p: (AT, p.encode(), stat.S_IFREG | 0o2755, 0)))
how = ctypes.create_string_buffer(struct.pack("QQQ", os.O_CREAT | os.O_WRONLY, 0o4755, 0))
attempt("openat2", sys(437, lambda p: (AT, p.encode(), how, ctypes.c_size_t(24))))
"#,
    );
    for mode in ["protect", "block"] {
        let before = env.report_files();
        let (text, _) = install(&env, mode);
        for name in ["open", "openat", "creat", "mknod", "mknodat", "openat2"] {
            assert!(
                text.contains(&format!("{name} blocked"))
                    || text.contains(&format!("{name} clean")),
                "{mode}: {name}:\n{text}"
            );
        }
        assert!(!text.contains("ESCAPED"), "{mode}:\n{text}");
        let f = findings_since(&env, &before, &text);
        assert!(
            f.iter().any(|(r, _)| r == "perm.setuid"),
            "{mode}: {f:?}\n{text}"
        );
    }
}
