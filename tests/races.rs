//! Issue 9 leftovers: what a second thread can do between the supervisor's
//! check and the kernel's own walk. Inert fixtures race a symlink (or a
//! descriptor number behind `/proc/self/fd/N`) between something harmless
//! and something the sandbox must keep out of reach; many rounds each.

use crate::support;

use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use support::installs::{Installed, install};
use support::listeners::{CountingDgram, CountingUdp};
use support::*;

/// A stand-in `gem` that runs one of the fixtures in tests/fixtures/races.
fn fixture_env(script: &str) -> (ShimEnv, tempfile::TempDir) {
    let path = crate_root().join("tests/fixtures/races").join(script);
    stand_in(&format!("#!/bin/sh\nexec \"$PY\" {}\n", path.display()))
}

/// A unix listener that accepts (and counts) every connection on a thread
/// of its own, so a full backlog never blocks the fixture.
struct Counting {
    path: PathBuf,
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Counting {
    fn start(dir: &std::path::Path, name: &str) -> Counting {
        let path = dir.join(name);
        let l = UnixListener::bind(&path).unwrap();
        l.set_nonblocking(true).unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (count.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok(_) => {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
                }
            }
            while l.accept().is_ok() {
                c.fetch_add(1, Ordering::SeqCst);
            }
        });
        Counting {
            path,
            count,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops accepting; the connections it got.
    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.count.load(Ordering::SeqCst)
    }
}

fn line_count(r: &Installed, prefix: &str, word: &str) -> usize {
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in\n{}\n{}", r.stdout, r.stderr));
    let w: Vec<&str> = line.split_whitespace().collect();
    let i = w.iter().position(|x| *x == word).unwrap();
    w[i + 1].parse().unwrap()
}

#[test]
fn a_unix_socket_swapped_after_the_check_is_never_the_agent() {
    let (env, _bin) = fixture_env("unixrace.py");
    let work = env.home.path().join("work");
    for mode in ["protect", "block"] {
        let dir = tempfile::tempdir().unwrap();
        let harmless = Counting::start(dir.path(), "harmless.sock");
        let agent = Counting::start(dir.path(), "agent.sock");
        let vars = vec![
            ("PY", python3().display().to_string()),
            ("HARMLESS", harmless.path.display().to_string()),
            ("SSH_AUTH_SOCK", agent.path.display().to_string()),
            ("ROUNDS", "400".to_string()),
        ];
        // In protect the user names the harmless socket (`endpoints.unix`):
        // the race is between a socket the install may reach and the agent.
        let policy = env.home.path().join(".config/pkgwarden/policy.toml");
        std::fs::create_dir_all(policy.parent().unwrap()).unwrap();
        let unix = format!(
            "[endpoints]\nunix = [{:?}]\n",
            harmless.path.display().to_string()
        );
        std::fs::write(&policy, if mode == "protect" { unix.as_str() } else { "" }).unwrap();
        let r = install(&env, mode, &["gem", "install", "x"], &work, &vars);
        assert!(
            r.stdout.contains("done"),
            "{mode}: {}\n{}",
            r.stdout,
            r.stderr
        );
        let reached = agent.finish();
        let served = harmless.finish();
        assert_eq!(reached, 0, "{mode}: the agent got {reached} connections");
        let ok = line_count(&r, "link ", "connected") + line_count(&r, "fd ", "connected");
        if mode == "protect" {
            // The harmless socket stays usable (the race is real: both
            // targets were named), and every success landed there.
            assert!(ok > 0, "protect: nothing connected\n{}", r.stdout);
            assert_eq!(ok, served, "protect: {}", r.stdout);
        } else {
            assert_eq!(ok, 0, "block: {}", r.stdout);
            assert_eq!(served, 0);
        }
    }
}

/// The `(opened, foreign, first foreign bytes)` a procrace line reports.
fn proc_line(r: &Installed, entry: &str) -> (usize, usize, Vec<u8>) {
    let prefix = format!("{entry} opened");
    let opened = line_count(r, &prefix, "opened");
    let foreign = line_count(r, &prefix, "foreign");
    let line = r.stdout.lines().find(|l| l.starts_with(&prefix)).unwrap();
    let hex = line.split_whitespace().nth(6).unwrap_or("");
    let bytes = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    (opened, foreign, bytes)
}

#[test]
fn a_link_swapped_to_the_supervisors_proc_entries_reads_nothing_of_it() {
    let (env, _bin) = fixture_env("procrace.py");
    let work = env.home.path().join("work");
    // Removed from the sandbox's environment by its name (`*_TOKEN`), so
    // only the supervisor's own /proc/<pid>/environ holds it.
    let marker = format!("race-marker-{}", std::process::id());
    for mode in ["protect", "block"] {
        let vars = vec![
            ("PY", python3().display().to_string()),
            ("RACE_MARKER_TOKEN", marker.clone()),
            ("ROUNDS", "300".to_string()),
        ];
        let r = install(&env, mode, &["gem", "install", "x"], &work, &vars);
        assert!(
            r.stdout.contains("done"),
            "{mode}: {}\n{}",
            r.stdout,
            r.stderr
        );
        assert!(
            !r.stdout.contains(&marker) && !r.stdout.contains(&hex(marker.as_bytes())),
            "{mode}: the supervisor's environment was read\n{}",
            r.stdout
        );
        // The kernel refuses these to a landlocked reader (a ptrace check
        // across domains), as root too: however the race goes, nothing.
        for entry in ["environ", "maps", "mem"] {
            let (opened, foreign, first) = proc_line(&r, entry);
            assert_eq!(
                foreign,
                0,
                "{mode}: {entry} read: {:?}",
                String::from_utf8_lossy(&first)
            );
            assert!(
                opened > 0,
                "{mode}: {entry}: the harmless file never opened"
            );
        }
        for entry in ["environ", "cmdline", "status"] {
            assert!(
                r.stdout.contains(&format!("direct {entry} blocked 1")),
                "{mode}: direct {entry}\n{}",
                r.stdout
            );
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Round 7, lead 2: a `connect(AF_UNSPEC)` (a disconnect) used to be let
/// continue, so the kernel read the address again after the check and a
/// second thread could swap in the agent's socket or a UDP destination.
#[test]
fn an_unspec_connect_swapped_after_the_check_reaches_nothing() {
    let (env, _bin) = fixture_env("addrrace.py");
    let work = env.home.path().join("work");
    for mode in ["protect", "block"] {
        let dir = tempfile::tempdir().unwrap();
        let agent = Counting::start(dir.path(), "agent.sock");
        let udp = CountingUdp::start();
        let vars = vec![
            ("PY", python3().display().to_string()),
            ("SSH_AUTH_SOCK", agent.path.display().to_string()),
            ("UDP_PORT", udp.port.to_string()),
            ("ROUNDS", "3000".to_string()),
        ];
        let r = install(&env, mode, &["gem", "install", "x"], &work, &vars);
        assert!(
            r.stdout.contains("done"),
            "{mode}: {}\n{}",
            r.stdout,
            r.stderr
        );
        let reached = agent.finish();
        let datagrams = udp.finish();
        assert_eq!(
            (reached, datagrams),
            (0, 0),
            "{mode}: the agent got {reached} connections, the UDP listener {datagrams} datagrams\n{}",
            r.stdout
        );
        assert_eq!(line_count(&r, "unix ", "landed"), 0, "{mode}: {}", r.stdout);
        assert_eq!(
            line_count(&r, "abstract ", "landed"),
            0,
            "{mode}: {}",
            r.stdout
        );
        if mode == "protect" {
            assert_eq!(line_count(&r, "udp ", "landed"), 0, "{mode}: {}", r.stdout);
        }
    }
}

/// A variation of lead 2: a `sendmsg` whose header names no destination
/// when the supervisor reads it (a connected socket's peer was judged at
/// connect) used to be let continue; the kernel read the header again, so a
/// second thread could put a name there: any unix datagram socket (block
/// refuses every one), any UDP destination.
#[test]
fn a_message_name_added_after_the_check_reaches_nothing() {
    let (env, _bin) = fixture_env("namerace.py");
    let work = env.home.path().join("work");
    for mode in ["protect", "block"] {
        let dir = tempfile::tempdir().unwrap();
        let dgram = CountingDgram::start(dir.path());
        let udp = CountingUdp::start();
        let vars = vec![
            ("PY", python3().display().to_string()),
            ("DGRAM_SOCK", dgram.path.display().to_string()),
            ("UDP_PORT", udp.port.to_string()),
            ("ROUNDS", "3000".to_string()),
        ];
        let r = install(&env, mode, &["gem", "install", "x"], &work, &vars);
        assert!(
            r.stdout.contains("done"),
            "{mode}: {}\n{}",
            r.stdout,
            r.stderr
        );
        let unix = dgram.finish();
        let datagrams = udp.finish();
        // Protect lets datagrams reach unprivileged unix sockets by design.
        let unix = if mode == "block" { unix } else { 0 };
        assert_eq!(
            (unix, datagrams),
            (0, 0),
            "{mode}: the unix listener got {unix} datagrams, the UDP one {datagrams}\n{}",
            r.stdout
        );
        if mode == "block" {
            assert_eq!(line_count(&r, "unix ", "sent"), 0, "{mode}: {}", r.stdout);
        } else {
            assert_eq!(line_count(&r, "udp ", "sent"), 0, "{mode}: {}", r.stdout);
        }
    }
}

/// The benign twin: the C library's netlink queries (`getaddrinfo` with
/// `AI_ADDRCONFIG`, interface names), iproute's requests, a disconnect and
/// messages without a name still work now that the supervisor performs
/// them itself.
#[test]
fn quiet_calls_performed_by_the_supervisor_still_work() {
    let (env, _bin) = fixture_env("quietnet.py");
    let work = env.home.path().join("work");
    for mode in ["protect", "block"] {
        let vars = vec![("PY", python3().display().to_string())];
        let r = install(&env, mode, &["gem", "install", "x"], &work, &vars);
        assert!(
            r.stdout.contains("done"),
            "{mode}: {}\n{}",
            r.stdout,
            r.stderr
        );
        assert!(
            line_count(&r, "addrinfo ", "addrinfo") > 0,
            "{mode}: {}",
            r.stdout
        );
        assert!(
            line_count(&r, "ifaces ", "ifaces") > 0,
            "{mode}: {}",
            r.stdout
        );
        assert_eq!(line_count(&r, "ip ", "ip"), 0, "{mode}: {}", r.stdout);
        assert!(line_count(&r, "ip ", "links") > 0, "{mode}: {}", r.stdout);
        assert_eq!(
            line_count(&r, "unspec ", "unspec"),
            0,
            "{mode}: {}",
            r.stdout
        );
        // Messages without a name on connected pairs: both are sent by the
        // supervisor on its copy (a stream one since round 8).
        for kind in ["dgram", "stream"] {
            let prefix = format!("pair {kind} ");
            assert_eq!(line_count(&r, &prefix, "sent"), 13, "{mode}: {}", r.stdout);
            assert_eq!(line_count(&r, &prefix, "got"), 13, "{mode}: {}", r.stdout);
        }
    }
}
