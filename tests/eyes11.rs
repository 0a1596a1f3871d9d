//! Helper `eyes11`: round 11 of the fresh-eyes attack (issue 9), first on
//! a12dcb1 (the supervisor opens procfs files for the install and hands the
//! descriptor over). Each test is one attempt with an inert fixture (a
//! stand-in `gem` running a Python hook, or a small C program it runs);
//! markers stay in the test's HOME; no network. A test marked
//! `ignore = "round 11: …"` fails on the binary it was written against.

use crate::support;

use serde_json::Value;
use std::fs;
use support::*;

/// A hook that compiles nothing but runs `prog` (C source `src`, built
/// here with `cc`) with `args` (Python expressions), printing its output.
fn c_hook(src: &str, args: &str) -> (ShimEnv, tempfile::TempDir) {
    let cc = which::which("cc").expect("a C compiler (cc) for the fixture");
    let (env, bin) = python_hook(&format!(
        r#"
import os, subprocess
prog = os.path.dirname(os.path.abspath(__file__)) + "/prog"
r = subprocess.run([prog{args}], capture_output=True, text=True, timeout=90)
print(r.stdout, r.stderr)
"#
    ));
    let file = bin.path().join("prog.c");
    fs::write(&file, src).unwrap();
    let out = run(std::process::Command::new(cc)
        .args(["-O1", "-pthread", "-o"])
        .arg(bin.path().join("prog"))
        .arg(&file));
    assert_success(&out, "cc prog.c");
    (env, bin)
}

/// A C program racing the supervisor's reopen of a descriptor
/// (`monitor::procopen::open`): the supervisor reads `/proc/<pid>/fd/100`
/// (a pipe: a reopen of the caller's own object, with write access), then
/// opens it; a second thread puts an `O_PATH` descriptor of `argv[1]` at
/// 100 in between. The supervisor, unsandboxed, opens that file with the
/// caller's `O_WRONLY|O_TRUNC` before its check of what it opened.
const TRUNC_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
static int pw, tfd;
static void *flip(void *a) { (void)a; for (;;) { dup2(pw, 100); dup2(tfd, 100); } return NULL; }
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    tfd = open(argv[1], O_PATH);
    if (tfd < 0) { perror("O_PATH"); return 2; }
    int p[2]; if (pipe(p)) return 2;
    pw = p[1];
    dup2(pw, 100);
    pthread_t t; pthread_create(&t, NULL, flip, NULL);
    int ok = 0, errs[200] = {0};
    for (int i = 0; i < 50000; i++) {
        int fd = open("/proc/self/fd/100", O_WRONLY | O_TRUNC);
        if (fd >= 0) { ok++; close(fd); } else errs[errno < 200 ? errno : 0]++;
        struct stat st;
        if (stat(argv[1], &st) == 0 && st.st_size == 0) {
            printf("EYES11-TRUNCATED after %d tries\n", i);
            return 0;
        }
    }
    printf("not truncated: %d opened, EACCES %d, EPERM %d\n", ok, errs[13], errs[1]);
    return 1;
}
"#;

/// Class: the supervisor as a confused deputy (a12dcb1). A reopen of the
/// caller's own pipe through `/proc/self/fd/N` may ask for write access
/// and `O_TRUNC`; `procopen::open` reads the link (a pipe), then opens it
/// with the caller's flags, then checks what it opened. A descriptor
/// swapped in between (`dup2` of an `O_PATH` descriptor of `~/.bashrc`,
/// which landlock refuses the install to write) is opened by the
/// unsandboxed supervisor with `O_TRUNC`: the file is emptied although
/// the descriptor is then refused. Fixed: the object is pinned with
/// `O_PATH`, checked, and only it is opened.
#[test]
fn a_descriptor_swapped_under_a_reopen_does_not_truncate_a_refused_file() {
    let (env, _bin) = c_hook(TRUNC_C, ", os.environ[\"HOME\"] + \"/.bashrc\"");
    let work = env.home.path().join("work");
    let (_, text, _) = gem_install(&env, "protect", &work, &[]);
    let rc = fs::read_to_string(env.home.path().join(".bashrc")).unwrap();
    assert_eq!(rc, "# rc\n", "{text}");
    assert!(!text.contains("EYES11-TRUNCATED"), "{text}");
}

/// Class: the supervisor as a confused deputy (a12dcb1), by its
/// credentials. procfs decides some things by the credentials of whoever
/// opened the file (`file->f_cred`), not of whoever reads it:
/// `/proc/<pid>/pagemap` shows page frame numbers (physical addresses,
/// what a rowhammer or kernel exploit looks for) only to an opener with
/// `CAP_SYS_ADMIN`. A root install holds none (`spawn::INSPECTING_CAPS`);
/// the supervisor, which now opens the install's own entries for it,
/// holds it: the install reads its physical addresses. As
/// pkgwarden-test neither holds it, and the test passes. Fixed: the
/// supervisor opens procfs files without those capabilities in effect.
#[test]
fn the_supervisor_does_not_lend_its_capabilities_to_a_procfs_open() {
    let (env, _bin) = python_hook(
        r##"
import ctypes, mmap, struct
m = mmap.mmap(-1, 4096)
m[0:1] = b"x"
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
try:
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(addr // 4096 * 8)
        v = struct.unpack("Q", f.read(8))[0]
    print("EYES11-PAGEMAP present=%d pfn=%#x" % (v >> 63, v & ((1 << 55) - 1)))
except OSError as e:
    print("EYES11-PAGEMAP refused", e.errno)
"##,
    );
    let work = env.home.path().join("work");
    let (_, text, _) = gem_install(&env, "protect", &work, &[]);
    assert!(text.contains("EYES11-PAGEMAP"), "{text}");
    assert!(
        text.contains("pfn=0x0\n") || text.contains("pfn=0x0 ") || text.contains("refused"),
        "{text}"
    );
}

/// A dependency's postinstall (nested domain) that looks for `TOKEN` in
/// every ancestor's command line and environment, and in its own
/// environment, and writes what it found to `result.json`.
const CMDLINE_PROBE: &str = r#"
const fs = require("fs");
const want = process.env.EYES11_WANT || "EYES11-CMDLINE-TOKEN";
const r = {env: JSON.stringify(process.env).includes(want), cmdline: [], environ: []};
let pid = process.pid;
for (let i = 0; i < 16 && pid > 1; i++) {
  try { if (fs.readFileSync(`/proc/${pid}/cmdline`, "latin1").includes(want)) r.cmdline.push(pid); }
  catch (e) { r.cmdline.push(e.code); }
  try { if (fs.readFileSync(`/proc/${pid}/environ`, "latin1").includes(want)) r.environ.push(pid); }
  catch (e) { r.environ.push(e.code); }
  try { pid = parseInt(fs.readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1].split(" ")[1]); }
  catch (e) { break; }
}
fs.writeFileSync("result.json", JSON.stringify(r));
"#;

/// Class: credentials readable by the wrong install (package code is not
/// the manager, README "Package scripts in a nested domain": "no
/// credential is readable, not even the manager's own token"). A token
/// given on npm's command line (`--//host/:_authToken=…`, as CI jobs do)
/// is not exported to scripts, and `/proc/<npm>/cmdline` is one of the
/// world-readable files `procopen::judge` opens for any member, the
/// nested domain's too. Held, by npm: it overwrites its arguments with
/// its title (`npm install`). pip does not (next test).
#[test]
fn a_dependency_script_does_not_read_a_token_from_the_managers_command_line() {
    let probe = NpmPackage::new(
        serde_json::json!({
            "name": "pw-cmdline", "version": "1.0.0",
            "scripts": {"postinstall": "node probe.js"}
        }),
        &[("probe.js", CMDLINE_PROBE.as_bytes())],
    );
    let registry = NpmRegistry::start_with(vec![probe]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    fs::write(
        project.join("package.json"),
        serde_json::json!({"name": "proj", "version": "1.0.0",
            "dependencies": {"pw-cmdline": "1.0.0"}})
        .to_string(),
    )
    .unwrap();
    let url = registry.registry_url();
    let auth = format!(
        "--{}:_authToken=EYES11-CMDLINE-TOKEN",
        url.trim_start_matches("http:")
    );
    let r = support::installs::install(
        &env,
        "protect",
        &["npm", "install", "--registry", &url, &auth],
        &project,
        &[],
    );
    let result: Value = serde_json::from_slice(
        &fs::read(project.join("node_modules/pw-cmdline/result.json")).unwrap(),
    )
    .unwrap_or(Value::Null);
    let found = |k: &str| {
        result[k]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v.is_number()))
    };
    assert_eq!(result["env"], false, "{result:#}\n{}", r.stderr);
    assert!(!found("environ"), "{result:#}");
    assert!(!found("cmdline"), "{result:#}\n{}", r.stderr);
}

/// An sdist's setup.py (package code, pip's build backend in its nested
/// domain) that looks for the index password in every ancestor's command
/// line and in its own environment.
const PIP_CMDLINE_SETUP: &str = r#"import os, sys
want = "EYES11-PIP-TOKEN"
found, pid = [], os.getpid()
for _ in range(16):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if want.encode() in f.read():
                found.append(pid)
        with open("/proc/%d/stat" % pid) as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError as e:
        found.append("errno %d" % e.errno)
        break
env = any(want in v for v in os.environ.values())
print("EYES11-PIP cmdline=%r env=%r" % (found, env), file=sys.stderr)
from setuptools import setup
setup(name="pwtok", version="1.0.0", packages=["pwtok"])
"#;

/// The same with pip: `--index-url http://user:TOKEN@host/simple/` (how a
/// private index's password is often given in CI) is on pip's command
/// line; the build backend running the sdist's setup.py reads it there
/// (its environment does not carry it).
#[test]
fn a_build_backend_does_not_read_the_index_password_from_pips_command_line() {
    let r = support::pypi::pip_sdist_with_password(
        PIP_CMDLINE_SETUP,
        "eyes11:EYES11-PIP-TOKEN",
        "protect",
    );
    let line = r
        .stderr
        .lines()
        .chain(r.stdout.lines())
        .find(|l| l.contains("EYES11-PIP cmdline="))
        .unwrap_or_else(|| panic!("setup.py did not run: {}\n{}", r.stdout, r.stderr))
        .to_string();
    assert!(line.contains("env=False"), "{line}");
    assert!(
        line.contains("cmdline=[]") || line.contains("cmdline=['errno"),
        "{line}"
    );
}

/// Start-up files of programs a developer runs every day, each of which
/// runs commands or code it names when that program starts (none is in
/// `policy/persistence.toml` or protect's `startup_paths` at a12dcb1): tmux's
/// `run-shell`, lesspipe's `~/.lessfilter` (Debian and Ubuntu's default
/// `.bashrc` sets `LESSOPEN` to lesspipe, which runs it for every file
/// `less`, `man` and `git log` page), gdb's init file, irb's and pry's
/// rc, IPython's startup directory, R's profile, psql's `\!`, the AWS
/// CLI's `credential_process`, kubectl's `exec` credential plugin, the
/// Debian X session's `~/.xsessionrc`, GNU screen's `exec`, direnv's
/// `direnvrc`.
const UNLISTED_STARTUP: &[(&str, &str)] = &[
    (".tmux.conf", "run-shell 'touch ~/EYES11-TMUX'\n"),
    (
        ".config/tmux/tmux.conf",
        "run-shell 'touch ~/EYES11-TMUX'\n",
    ),
    (".lessfilter", "#!/bin/sh\ntouch ~/EYES11-LESS\nexit 1\n"),
    (".gdbinit", "shell touch ~/EYES11-GDB\n"),
    (
        ".irbrc",
        "File.write(File.expand_path('~/EYES11-IRB'), '')\n",
    ),
    (
        ".pryrc",
        "File.write(File.expand_path('~/EYES11-PRY'), '')\n",
    ),
    (
        ".ipython/profile_default/startup/00-eyes11.py",
        "open(__import__('os').path.expanduser('~/EYES11-IPY'), 'w')\n",
    ),
    (".Rprofile", "file.create('~/EYES11-R')\n"),
    (".psqlrc", "\\! touch ~/EYES11-PSQL\n"),
    (
        ".aws/config",
        "[default]\ncredential_process = sh -c 'touch ~/EYES11-AWS'\n",
    ),
    (".xsessionrc", "touch ~/EYES11-X\n"),
    (".screenrc", "exec sh -c 'touch ~/EYES11-SCREEN'\n"),
    (".config/direnv/direnvrc", "touch ~/EYES11-DIRENV\n"),
];

/// Class: locations the snapshot does not cover (code that runs at the
/// next start of a program). In protect, a hook appends to each of
/// [`UNLISTED_STARTUP`] that the user already has (new entries directly
/// in HOME and new hidden directories are refused): every write lands,
/// with no finding that names it. Fixed: they are `persist.agent-hook`
/// (`policy/persistence.toml`) and refused in protect (`startup_paths`).
#[test]
fn startup_files_of_everyday_programs_are_persistence() {
    let places: Vec<String> = UNLISTED_STARTUP
        .iter()
        .map(|(p, c)| format!("({p:?}, {c:?})"))
        .collect();
    let (env, _bin) = python_hook(&format!(
        r##"
import os
home = os.environ["HOME"]
for rel, text in [{}]:
    p = os.path.join(home, rel)
    try:
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "a") as f:
            f.write(text)
        print("EYES11-WROTE", rel)
    except OSError as e:
        print("EYES11-REFUSED", rel, e.errno)
"##,
        places.join(", ")
    ));
    // The user has them already (a developer's HOME).
    for (rel, _) in UNLISTED_STARTUP {
        let p = env.home.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "# the user's\n").unwrap();
    }
    let work = env.home.path().join("work");
    let (_, text, report) = gem_install(&env, "protect", &work, &[]);
    let named = report["findings"].to_string();
    let mut missed = Vec::new();
    for (rel, _) in UNLISTED_STARTUP {
        let wrote = text.contains(&format!("EYES11-WROTE {rel}\n"));
        if wrote && !named.contains(rel) {
            missed.push(*rel);
        }
    }
    assert!(missed.is_empty(), "written, no finding: {missed:?}\n{text}");
}

/// Credential stores `policy/secrets.toml` did not list at a12dcb1: the
/// tokens of AI coding agents (Claude Code, Codex, Gemini CLI, GitHub
/// Copilot), database passwords (`~/.pgpass`, `~/.my.cnf`), Maven's and
/// Gradle's repository passwords, Composer's, Terraform's, rclone's,
/// s3cmd's, boto's, glab's, hub's, doctl's, flyctl's, Databricks', OCI's
/// and podman's.
const UNLISTED_STORES: &[&str] = &[
    ".claude/.credentials.json",
    ".codex/auth.json",
    ".gemini/oauth_creds.json",
    ".config/github-copilot/hosts.json",
    ".config/github-copilot/apps.json",
    ".pgpass",
    ".my.cnf",
    ".m2/settings.xml",
    ".gradle/gradle.properties",
    ".config/composer/auth.json",
    ".composer/auth.json",
    ".terraform.d/credentials.tfrc.json",
    ".config/rclone/rclone.conf",
    ".s3cfg",
    ".boto",
    ".config/glab-cli/config.yml",
    ".config/hub",
    ".config/doctl/config.yaml",
    ".fly/config.yml",
    ".databrickscfg",
    ".oci/config",
    ".config/containers/auth.json",
];

/// Class: secrets nobody listed. Each store of [`UNLISTED_STORES`] holds a
/// marker token; a hook reads them in protect: every one is read, with
/// no `cred.read` finding. Fixed: they are in `home_hidden`.
#[test]
fn credential_stores_nobody_listed_are_hidden() {
    let (env, _bin) = python_hook(&format!(
        r##"
import os
home = os.environ["HOME"]
for rel in {:?}:
    try:
        with open(os.path.join(home, rel)) as f:
            if "EYES11-CRED" in f.read():
                print("EYES11-READ", rel)
    except OSError as e:
        print("EYES11-HIDDEN", rel, e.errno)
"##,
        UNLISTED_STORES
    ));
    for rel in UNLISTED_STORES {
        let p = env.home.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "token = EYES11-CRED\n").unwrap();
    }
    let work = env.home.path().join("work");
    let (_, text, _) = gem_install(&env, "protect", &work, &[]);
    let read: Vec<&str> = UNLISTED_STORES
        .iter()
        .copied()
        .filter(|rel| text.contains(&format!("EYES11-READ {rel}\n")))
        .collect();
    assert!(read.is_empty(), "read: {read:?}\n{text}");
}

/// Class: transient execution outside the sandbox. The user's tmux server
/// (its socket in `$TMUX_TMPDIR/tmux-<uid>/default`, `/tmp` by default)
/// runs whatever a client of the same user sends (`send-keys`): protect
/// connects only privileged unix sockets for the install's refusal
/// (`monitor::setup::privileged_sockets`: docker, containerd, agents,
/// D-Bus, resolvers), so a hook types a command into the user's shell,
/// which runs it unsandboxed (here it makes a file directly in HOME,
/// which protect refuses the install itself). No finding. Fixed: tmux's
/// socket (and systemd's user manager's, rootless podman's) is privileged.
#[test]
fn an_install_cannot_type_into_the_users_tmux() {
    let tmux = which::which("tmux").expect("tmux for the fixture");
    let (env, _bin) = python_hook(
        r##"
import os, subprocess, time
marker = os.path.join(os.environ["HOME"], "EYES11-TMUX")
r = subprocess.run(["tmux", "send-keys", "-t", "eyes11", "touch " + marker, "Enter"],
                   capture_output=True, text=True)
print("send-keys", r.returncode, r.stderr.strip())
for _ in range(50):
    if os.path.exists(marker):
        break
    time.sleep(0.1)
print("EYES11-TMUX-RAN" if os.path.exists(marker) else "EYES11-TMUX-NOT-RAN")
"##,
    );
    let dir = env.home.path().join("tmuxdir");
    fs::create_dir_all(&dir).unwrap();
    let out = run(env
        .bare(&tmux)
        .env("TMUX_TMPDIR", &dir)
        .env("SHELL", "/bin/sh")
        .args(["new-session", "-d", "-s", "eyes11", "/bin/sh"]));
    assert_success(&out, "tmux new-session");
    let work = env.home.path().join("work");
    let dir_text = dir.display().to_string();
    let (_, text, _) = gem_install(
        &env,
        "protect",
        &work,
        &[("TMUX_TMPDIR", dir_text.as_str())],
    );
    let _ = run(env
        .bare(&tmux)
        .env("TMUX_TMPDIR", &dir)
        .args(["kill-server"]));
    assert!(!env.home.path().join("EYES11-TMUX").exists(), "{text}");
}

/// Secret variables whose names `policy/secrets.toml` `[env]` did not match
/// at a12dcb1: libpq's `PGPASSWORD` (no `_` before `PASSWORD`), Rails'
/// `RAILS_MASTER_KEY`, `*_PASS`, `*_PASSPHRASE`, signing and storage keys.
const UNLISTED_ENV: &[&str] = &[
    "PGPASSWORD",
    "RAILS_MASTER_KEY",
    "DB_PASS",
    "SMTP_PASS",
    "GPG_PASSPHRASE",
    "COSIGN_PASSPHRASE",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "APP_SIGNING_KEY",
    "DATA_ENCRYPTION_KEY",
];

/// Class: secrets nobody listed, in the environment. Each of
/// [`UNLISTED_ENV`] holds a marker; the hook prints those it sees: all
/// ten. Fixed: `PGPASSWORD` and the suffixes are in `[env]`.
#[test]
fn secret_variables_nobody_listed_are_removed() {
    let (env, _bin) = python_hook(
        r##"
import os
for k, v in sorted(os.environ.items()):
    if v == "EYES11-ENV":
        print("EYES11-SEEN", k)
"##,
    );
    let work = env.home.path().join("work");
    let vars: Vec<(&str, &str)> = UNLISTED_ENV.iter().map(|k| (*k, "EYES11-ENV")).collect();
    let (_, text, _) = gem_install(&env, "protect", &work, &vars);
    let seen: Vec<&str> = UNLISTED_ENV
        .iter()
        .copied()
        .filter(|k| text.contains(&format!("EYES11-SEEN {k}\n")))
        .collect();
    assert!(seen.is_empty(), "seen: {seen:?}\n{text}");
}

/// Variation of the tmux case: GNU screen (and X11, tmux on another `-L`
/// name) keep every session's socket in one directory, under names
/// nobody can list in advance. A listener stands in for a screen session
/// in `$SCREENDIR`; the hook connects to whatever it finds there. Fixed:
/// every socket already in those directories is privileged.
#[test]
fn an_install_cannot_reach_a_screen_session_by_any_name() {
    use std::io::Read;
    let (env, _bin) = python_hook(
        r##"
import os, socket
d = os.environ["SCREENDIR"]
for name in sorted(os.listdir(d)):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(os.path.join(d, name))
        s.sendall(b"EYES11-SCREEN")
        print("EYES11-SCREEN-REACHED", name)
    except OSError as e:
        print("EYES11-SCREEN-REFUSED", name, e.errno)
    finally:
        s.close()
"##,
    );
    let dir = env.home.path().join("screens");
    fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("4242.pts-0.host");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let work = env.home.path().join("work");
    let dir_text = dir.display().to_string();
    for mode in ["protect", "block"] {
        let (_, text, report) = gem_install(&env, mode, &work, &[("SCREENDIR", dir_text.as_str())]);
        let mut got = Vec::new();
        while let Ok((mut c, _)) = listener.accept() {
            let mut b = Vec::new();
            let _ = c.read_to_end(&mut b);
            got.extend(b);
        }
        assert!(got.is_empty(), "{mode}: the session was reached: {text}");
        assert!(text.contains("EYES11-SCREEN-REFUSED"), "{text}");
        let local = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "net.local-socket");
        assert!(
            local || mode == "block",
            "{mode}: no net.local-socket: {text}"
        );
    }
}
