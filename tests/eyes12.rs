//! Helper `eyes12`: round 12 of the fresh-eyes attack (issue 9), at
//! 2c172dc. Each test is one attempt with an inert fixture; markers stay in
//! the test's HOME; no network but the loopback index the test starts. A
//! test marked `ignore = "round 12: …"` fails on the binary it was written
//! against.

use crate::support;

use std::fs;
use support::*;

/// An sdist's setup.py that records its parent (pip: setuptools runs
/// setup.py in pip's hook process), then orphans a grandchild (double
/// fork) which, once reparented, reads that pid's command line and prints
/// whether it held the password. It opens nothing outside the sandbox.
const ORPHAN_SETUP: &str = r#"import os, sys, time
want = b"EYES12-PIP-TOKEN"
# Only the parent (pip): nothing outside the sandbox is touched.
chain = [os.getppid()]
me = os.getpid()
if os.fork() == 0:
    if os.fork() == 0:
        for _ in range(500):
            if os.getppid() != me and os.getppid() != os.getpid():
                break
            time.sleep(0.01)
        time.sleep(0.2)
        found = []
        for p in chain:
            try:
                with open("/proc/%d/cmdline" % p, "rb") as f:
                    if want in f.read():
                        found.append(p)
            except OSError as e:
                found.append("errno %d" % e.errno)
        print("EYES12-ORPHAN ppid=%d chain=%r cmdline=%r" % (os.getppid(), chain, found), file=sys.stderr, flush=True)
        os._exit(0)
    os._exit(0)
os.wait()
from setuptools import setup
setup(name="pwtok", version="1.0.0", packages=["pwtok"])
"#;

/// Round 11's fix refuses an *ancestor's* `cmdline` (pip's, with the
/// password of `--index-url`). A process that orphans itself has no
/// ancestor left but its reaper: pip, still a member of the install,
/// is then "another member", whose `cmdline` is world-readable. Measured at
/// 2c172dc: `cmdline=[<pip's pid>]`, the report has no finding.
#[test]
fn an_orphaned_build_backend_does_not_read_the_index_password() {
    let r =
        support::pypi::pip_sdist_with_password(ORPHAN_SETUP, "eyes12:EYES12-PIP-TOKEN", "protect");
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .chain(r.stdout.lines())
        .filter(|l| l.contains("EYES12-ORPHAN "))
        .collect();
    assert!(
        !lines.is_empty(),
        "the orphan did not report: {}\n{}",
        r.stdout,
        r.stderr
    );
    eprintln!("findings: {:#}", r.report["findings"]);
    for line in lines {
        let found = line.split("cmdline=").nth(1).unwrap_or("");
        assert!(
            !found
                .split(['[', ']', ',', ' '])
                .any(|t| t.parse::<i32>().is_ok()),
            "{line}"
        );
    }
}

/// Installed code of other ecosystems in HOME, each run later by another
/// tool: a gem's library (`ruby`, `rake`, `bundle exec`), a crate's
/// `build.rs` in cargo's registry sources (run by the next `cargo build` of
/// any project that depends on it), a Go module in the module cache.
const OTHER_CODE: &[(&str, &str)] = &[
    ("gem", ".gem/ruby/3.1.0/gems/rake-13.0.6/lib/rake.rb"),
    (
        "cargo",
        ".cargo/registry/src/index.example-1ecc/serde-1.0.200/build.rs",
    ),
    ("gomod", "go/pkg/mod/example.com/lib@v1.0.0/lib.go"),
    ("pyenv", ".pyenv/versions/3.12.1/lib/python3.12/site.py"),
];

/// A whole gem swapped: the old directory renamed away, a new one made
/// under its name (the event stream sees only writes into a directory
/// that did not exist before; the snapshot sees another inode).
const SWAP_GEM: &str = r##"
t("swap", () => {
  const g = path.join(home, ".gem/ruby/3.1.0/gems/rack-3.0.0");
  fs.renameSync(g, g + ".old");
  fs.mkdirSync(path.join(g, "lib"), {recursive: true});
  fs.writeFileSync(path.join(g, "lib", "rack.rb"), "# " + M + "\n");
});
"##;

/// What a build does legitimately: a new crate extracted into cargo's
/// registry sources, a new Go module into the module cache.
const NEW_PACKAGES: &str = r#"
t("new", () => {
  for (const d of [".cargo/registry/src/index.example-1ecc/itoa-1.0.11",
                   "go/pkg/mod/example.com/other@v0.2.0"]) {
    fs.mkdirSync(path.join(home, d), {recursive: true});
    fs.writeFileSync(path.join(home, d, "lib.rs"), "// new\n");
  }
});
"#;

/// Class: tampering with code another program runs later
/// (`tamper.installed-package`, `policy/installed_code.toml`). In protect
/// the root project's postinstall may write most of HOME; a write into
/// another project's `node_modules` or an environment's `site-packages` is
/// reported (round 5), but the list names only those: the same write into
/// a gem, a crate's sources or a Go module passes with no finding.
///
/// Fixed: the stores' package directories are `packages` in
/// `policy/installed_code.toml`; one that existed before the install is
/// judged (written beneath, or replaced: the snapshot records its inode),
/// one the install adds is not (the variation and the benign twin below).
#[test]
fn a_root_script_cannot_change_other_ecosystems_installed_code_unseen() {
    use support::probes::{deps, install_in, root_tool};
    let mut body: String = OTHER_CODE
        .iter()
        .map(|(k, p)| {
            format!("t({k:?}, () => fs.appendFileSync(path.join(home, {p:?}), \"// \" + M + \"\\n\"));\n")
        })
        .collect();
    body.push_str(SWAP_GEM);
    body.push_str(NEW_PACKAGES);
    let registry = NpmRegistry::start_with(vec![root_tool(&body)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    for (_, p) in OTHER_CODE {
        let f = home.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, "// installed\n").unwrap();
    }
    let rack = home.join(".gem/ruby/3.1.0/gems/rack-3.0.0/lib/rack.rb");
    fs::create_dir_all(rack.parent().unwrap()).unwrap();
    fs::write(&rack, "# installed\n").unwrap();
    fs::create_dir_all(home.join(".cargo/registry/src/index.example-1ecc")).unwrap();
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    let (r, result) = install_in(
        &env, &registry, "npm", "protect", &project, &manifest, "pw-tool",
    );
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    let serious = r.serious();
    let mut unseen = Vec::new();
    for (k, p) in OTHER_CODE {
        let f = home.join(p);
        let written = fs::read_to_string(&f)
            .unwrap_or_default()
            .contains("PWPOISON");
        let named = serious
            .iter()
            .any(|x| x.to_string().contains(&f.display().to_string()));
        if written && !named {
            unseen.push(*k);
        }
    }
    assert!(
        unseen.is_empty(),
        "written without a finding of medium or more: {unseen:?}\n{result:#}\n{:#}",
        r.report["findings"]
    );
    // The swapped gem: found by the snapshot, named as replaced.
    assert_eq!(result["swap"], "ok", "{result:#}");
    let rack_dir = rack
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .display()
        .to_string();
    assert!(
        serious.iter().any(|x| x["title"]
            .as_str()
            .is_some_and(|t| t.contains("replaced") && t.ends_with(&rack_dir))),
        "the swapped gem is not named\n{:#}",
        r.report["findings"]
    );
    // Packages the script added are a build's doing: nothing names them.
    assert_eq!(result["new"], "ok", "{result:#}");
    for new in ["itoa-1.0.11", "other@v0.2.0"] {
        assert!(
            !r.report["findings"].to_string().contains(new),
            "a new package was reported\n{:#}",
            r.report["findings"]
        );
    }
}

/// A dependency's postinstall that asks the docker API socket of Docker
/// Desktop for Linux (`~/.docker/desktop/docker.sock`, what its
/// `desktop-linux` context names; no `DOCKER_HOST` is set) for `/_ping`.
const DOCKER_DESKTOP_PROBE: &str = r#"
const cp = require("child_process");
const sock = path.join(home, ".docker", "desktop", "docker.sock");
const js = `const s = require("net").connect(${JSON.stringify(sock)}, () => s.write("GET /_ping HTTP/1.0\\r\\n\\r\\n"));
s.on("data", d => { process.stdout.write(String(d)); s.end(); });
s.on("error", e => process.stdout.write("ERR " + e.code));`;
t("docker_desktop", () => {
  const out = cp.execFileSync(process.execPath, ["-e", js], {timeout: 10000}).toString();
  if (!out.includes("PW-PONG")) throw new Error(out);
});
"#;

/// Class: servers that run what a client asks, outside the sandbox
/// (`privileged_sockets`). The list names docker's sockets by fixed paths,
/// `$DOCKER_HOST` and `~/.docker/run/docker.sock`, but not Docker Desktop
/// for Linux's `~/.docker/desktop/docker.sock` (docker finds it through
/// its context, not the environment); in protect a stream connect to an
/// unlisted socket is allowed and reported by nothing. A container there
/// bind-mounts the shared HOME and writes what the sandbox refused.
#[test]
fn a_dependency_script_does_not_reach_docker_desktops_socket_unseen() {
    use std::io::{Read, Write};
    use support::probes::{deps, install_in, probe};
    let registry = NpmRegistry::start_with(vec![probe("pw-dd", DOCKER_DESKTOP_PROBE)]);
    let env = ShimEnv::new(&[]);
    let sock = env.home.path().join(".docker/desktop/docker.sock");
    fs::create_dir_all(sock.parent().unwrap()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = asked.clone();
    // Never joined: it waits for a client that may not come.
    std::thread::spawn(move || {
        if let Ok((mut c, _)) = listener.accept() {
            let mut buf = [0u8; 256];
            let n = c.read(&mut buf).unwrap_or(0);
            *seen.lock().unwrap() = String::from_utf8_lossy(&buf[..n]).into_owned();
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\n\r\nPW-PONG");
        }
    });
    let project = env.home.subdir("proj");
    let (r, result) = install_in(
        &env,
        &registry,
        "npm",
        "protect",
        &project,
        &deps(&["pw-dd"]),
        "pw-dd",
    );
    assert!(!result.is_null(), "pw-dd did not run\n{}", r.stderr);
    let reached = asked.lock().unwrap().contains("_ping");
    let named = r
        .serious()
        .iter()
        .any(|f| f.to_string().contains("docker.sock"));
    assert!(
        !reached || named,
        "the socket was asked {:?} with no finding\n{result:#}\n{:#}",
        asked.lock().unwrap(),
        r.report["findings"]
    );
}
