//! Issue 9, classes 1 and 7: traffic that skips the proxy, and secrets
//! nobody listed. Inert fixtures try each trick against loopback listeners
//! this test starts; in block nothing arrives, in protect what is let
//! through is reported (medium or more).

use crate::support;

use serde_json::Value;
use std::fs;
use std::net::UdpSocket;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::PathBuf;
use support::installs::{Installed, install, npm_install, serious};
use support::*;

/// A stand-in `gem` that runs one of the fixtures in tests/fixtures/netsec.
fn fixture_env(script: &str) -> (ShimEnv, tempfile::TempDir) {
    let path = crate_root().join("tests/fixtures/netsec").join(script);
    stand_in(&format!("#!/bin/sh\nexec \"$PY\" {}\n", path.display()))
}

/// The listeners the tricks aim at.
struct Listeners {
    udp: UdpSocket,
    sink: UnixDatagram,
    sink_path: PathBuf,
    agent: UnixListener,
    agent_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Listeners {
    fn start() -> Listeners {
        let dir = tempfile::tempdir().unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_nonblocking(true).unwrap();
        let sink_path = dir.path().join("sink.sock");
        let sink = UnixDatagram::bind(&sink_path).unwrap();
        sink.set_nonblocking(true).unwrap();
        let agent_path = dir.path().join("agent.sock");
        let agent = UnixListener::bind(&agent_path).unwrap();
        agent.set_nonblocking(true).unwrap();
        Listeners {
            udp,
            sink,
            sink_path,
            agent,
            agent_path,
            _dir: dir,
        }
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PY", python3().display().to_string()),
            (
                "UDP_PORT",
                self.udp.local_addr().unwrap().port().to_string(),
            ),
            ("UNIX_SINK", self.sink_path.display().to_string()),
            ("AGENT_PATH", self.agent_path.display().to_string()),
            ("SSH_AUTH_SOCK", self.agent_path.display().to_string()),
        ]
    }

    /// Everything that reached the UDP listener and the unix sink.
    fn received(&self) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let mut buf = [0u8; 2048];
        let udp = std::iter::from_fn(|| self.udp.recv(&mut buf).ok().map(|n| buf[..n].to_vec()))
            .collect();
        let unix = std::iter::from_fn(|| self.sink.recv(&mut buf).ok().map(|n| buf[..n].to_vec()))
            .collect();
        (udp, unix)
    }
}

fn has(r: &Installed, line: &str) {
    assert!(
        r.stdout.lines().any(|l| l == line),
        "missing `{line}` in\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
}

fn titles(r: &Installed) -> Vec<String> {
    serious(&r.report)
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["rule"].as_str().unwrap(),
                f["title"].as_str().unwrap()
            )
        })
        .collect()
}

fn reported(r: &Installed, rule: &str, needle: &str) {
    let t = titles(r);
    assert!(
        t.iter().any(|x| x.starts_with(rule) && x.contains(needle)),
        "no {rule} finding (medium or more) naming `{needle}`: {t:#?}"
    );
}

const LABEL: &str = "c2VjcmV0LXRva2VuLXZhbHVlLXRoYXQtaXMtbG9uZy1lbm91Z2gtdG8tbm90";

#[test]
fn traffic_that_skips_the_proxy_is_refused_or_reported() {
    // protect: every IP datagram and the agent's aliases refused; a unix
    // datagram to a socket outside the install's own places too (round
    // 13: sockets are judged by place, not by a list of names), reported.
    let l = Listeners::start();
    let (env, _bin) = fixture_env("tricks.py");
    let work = env.home.path().join("work");
    let r = install(&env, "protect", &["gem", "install", "x"], &work, &l.vars());
    for line in [
        "unspec blocked 1",
        "sendmmsg blocked 111",
        "agentalias blocked 13",
        "dnsudp blocked 111",
        "v6mapped blocked 111",
        "agentlink blocked 13",
        "unixdgram blocked 13",
        "dnsunix blocked 13",
    ] {
        has(&r, line);
    }
    let (udp, unix) = l.received();
    assert!(udp.is_empty(), "protect: the UDP listener got {udp:?}");
    assert!(unix.is_empty(), "protect: {unix:?}");
    assert!(l.agent.accept().is_err(), "protect: the agent was reached");
    reported(&r, "net.direct", "unspec");
    reported(&r, "net.dns", &format!("{LABEL}.udp.example"));
    reported(&r, "net.local-socket", &l.sink_path.display().to_string());
    reported(&r, "net.local-socket", &l.agent_path.display().to_string());

    // block: nothing arrives anywhere, and the install fails.
    let l = Listeners::start();
    let r = install(&env, "block", &["gem", "install", "x"], &work, &l.vars());
    assert_eq!(r.code, 90, "{}\n{}", r.stdout, r.stderr);
    for line in [
        "unspec blocked 1",
        "sendmmsg blocked 1",
        "unixdgram blocked 13",
        "agentalias blocked 13",
        "dnsudp blocked 1",
        "dnsunix blocked 13",
        "v6mapped blocked 1",
        "agentlink blocked 13",
    ] {
        has(&r, line);
    }
    let (udp, unix) = l.received();
    assert!(udp.is_empty() && unix.is_empty(), "block: {udp:?} {unix:?}");
    assert!(l.agent.accept().is_err(), "block: the agent was reached");
    // The query refused on the unix datagram still shows its name.
    reported(&r, "net.dns", &format!("{LABEL}.unix.example"));
    reported(&r, "sandbox.escape", "socket");
}

#[test]
fn secrets_nobody_listed_stay_out_of_reach() {
    for mode in ["protect", "block"] {
        let (env, _bin) = fixture_env("secrets.py");
        let home = env.home.path().to_path_buf();
        fs::create_dir_all(home.join(".config/git")).unwrap();
        fs::write(
            home.join(".config/git/credentials"),
            "https://u:not-a-real-token@127.0.0.1\n",
        )
        .unwrap();
        fs::write(home.join(".bash_history"), "export X=not-real\n").unwrap();
        let work = home.join("work");
        let mut vars = vec![("PY", python3().display().to_string())];
        vars.extend([
            (
                "DATABASE_URL",
                "postgres://u:not-real@127.0.0.1/db".to_string(),
            ),
            ("DEPLOY_PAT", "not-real".to_string()),
            ("SENTRY_DSN", "https://not-real@127.0.0.1/1".to_string()),
            ("MIRROR", "https://u:not-real@127.0.0.1/simple".to_string()),
        ]);
        let r = install(&env, mode, &["gem", "install", "x"], &work, &vars);
        for line in [
            "gitcred blocked 13",
            "history blocked 13",
            "supenviron blocked 1",
            "supalias blocked 1",
            "supdirfd blocked 1",
            "suplink blocked 1",
            "ownenviron ESCAPED",
            "env DATABASE_URL absent",
            "env DEPLOY_PAT absent",
            "env SENTRY_DSN absent",
            "env MIRROR absent",
        ] {
            has(&r, line);
        }
        reported(&r, "cred.read", ".config/git/credentials");
        reported(&r, "cred.read", ".bash_history");
        reported(&r, "cred.read", "/environ");
        if mode == "block" {
            assert_eq!(r.code, 90, "{}", r.stderr);
        }
        let text = serde_json::to_string(&r.report).unwrap();
        assert!(
            !text.contains("not-real"),
            "a secret value reached the report"
        );
        let _: &Value = &r.report;
    }
}

#[test]
fn an_npm_postinstall_sending_udp_reaches_nothing() {
    let hook = fs::read(crate_root().join("tests/fixtures/netsec/udp-hook.js")).unwrap();
    let pkg = NpmPackage::new(
        serde_json::json!({
            "name": "pw-udp", "version": "1.0.0",
            "scripts": {"postinstall": "node hook.js"}
        }),
        &[("hook.js", &hook), ("index.js", b"module.exports = 1;\n")],
    );
    let registry = NpmRegistry::start_with(vec![pkg]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    for mode in ["protect", "block"] {
        let l = Listeners::start();
        let r = npm_install(&env, mode, &registry, &project, "pw-udp", &l.vars());
        assert!(
            r.stdout.contains("npmudp blocked"),
            "{mode}: {}\n{}",
            r.stdout,
            r.stderr
        );
        let (udp, _) = l.received();
        assert!(udp.is_empty(), "{mode}: the UDP listener got {udp:?}");
        if mode == "protect" {
            reported(&r, "net.dns", &format!("{LABEL}.npm.example"));
        } else {
            assert_eq!(r.code, 90, "{}", r.stderr);
            reported(&r, "sandbox.escape", "socket");
        }
    }
}

/// A process listing (what `ps -A` reads: every `/proc/<pid>/stat`) is
/// refused for processes outside the sandbox, as every entry of theirs is,
/// but it is no credential read: one info finding, nothing that fails a
/// block install. Another process's environment stays a high `cred.read`.
#[test]
fn a_process_listing_is_refused_quietly_and_an_environment_is_not() {
    let script = "#!/bin/sh\nn=0\nfor d in /proc/[0-9]*; do cat \"$d/stat\" >/dev/null 2>&1 && n=$((n+1)); done\n\
                  echo \"listed $n\"\nexit 0\n";
    let (env, _bin) = support::stand_in(script);
    for mode in ["protect", "block"] {
        let r = install(
            &env,
            mode,
            &["gem", "install", "x"],
            &env.home.path().join("work"),
            &[],
        );
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        assert!(
            support::installs::serious(&r.report).is_empty(),
            "{mode}: {:#}",
            r.report["findings"]
        );
        let listing: Vec<&Value> = r.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "cred.read")
            .collect();
        assert_eq!(listing.len(), 1, "{mode}: {listing:#?}");
        assert_eq!(listing[0]["severity"], "info", "{mode}: {:#}", listing[0]);
        assert_eq!(listing[0]["action"], "blocked", "{mode}: {:#}", listing[0]);
    }
    let script = "#!/bin/sh\ncat /proc/1/environ >/dev/null 2>&1\nexit 0\n";
    let (env, _bin) = support::stand_in(script);
    let r = install(
        &env,
        "block",
        &["gem", "install", "x"],
        &env.home.path().join("work"),
        &[],
    );
    let f = r.finding("cred.read");
    assert_eq!(f["severity"], "high", "{f:#}");
    assert_eq!(r.code, 90, "{}", r.stderr);
}
