//! Log pipelines (issue 14, part 5) end to end, through real npm installs
//! from a loopback registry: RFC 5424 messages received by UDP and TCP
//! listeners the test starts, the JSON lines file rotated across installs,
//! a window addition sent after the install, failing sinks that cost one
//! warning each and change neither the stored report nor the exit code,
//! and broken or project-set sink keys.

use crate::support;

use serde_json::Value;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::installs::{Installed, install};
use support::*;

const BLOCKED: i32 = 90;
const USAGE: i32 = 92;

/// The benign `pw-plain` and `pw-rc-append`, whose postinstall appends to
/// `~/.bashrc` (inert: inside the test HOME).
struct Case {
    env: ShimEnv,
    registry: NpmRegistry,
    project: PathBuf,
}

fn case() -> Case {
    let incident =
        fs::read(crate_root().join("tests/fixtures/incidents/rc-append.js")).expect("fixture");
    let registry = NpmRegistry::start_with(vec![
        NpmPackage::new(
            serde_json::json!({"name": "pw-plain", "version": "1.0.0"}),
            &[("index.js", b"module.exports = 1;\n")],
        ),
        NpmPackage::new(
            serde_json::json!({
                "name": "pw-rc-append", "version": "1.0.0",
                "scripts": {"postinstall": "node incident.js"}
            }),
            &[
                ("incident.js", &incident),
                ("index.js", b"module.exports = 1;\n"),
            ],
        ),
    ]);
    let env = ShimEnv::new(&[]);
    fs::write(env.home.path().join(".bashrc"), "# rc\n").unwrap();
    let project = env.home.subdir("proj");
    Case {
        env,
        registry,
        project,
    }
}

impl Case {
    /// Writes `policy` (TOML) as the file `PKGWARDEN_POLICY` names.
    fn policy(&self, policy: &str) -> PathBuf {
        let p = self.env.home.path().join("sinks-policy.toml");
        fs::write(&p, policy).unwrap();
        p
    }

    /// `npm install PKG` in a fresh project under the policy file `policy`.
    fn install(&self, pkg: &str, mode: &str, policy: &Path) -> Installed {
        fresh(&self.project);
        let url = self.registry.registry_url();
        install(
            &self.env,
            mode,
            &[
                "npm",
                "install",
                "--foreground-scripts",
                "--registry",
                &url,
                pkg,
            ],
            &self.project,
            &[("PKGWARDEN_POLICY", policy.display().to_string())],
        )
    }
}

fn fresh(project: &Path) {
    let _ = fs::remove_dir_all(project.join("node_modules"));
    let _ = fs::remove_file(project.join("package-lock.json"));
    fs::write(
        project.join("package.json"),
        r#"{"name":"proj","version":"1.0.0"}"#,
    )
    .unwrap();
}

fn id(r: &Installed) -> String {
    r.report["id"].as_str().unwrap().to_string()
}

fn rules(r: &Installed) -> Vec<String> {
    r.report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

/// One RFC 5424 message as a collector reads it.
#[derive(Debug)]
struct Syslog {
    pri: u16,
    version: String,
    timestamp: String,
    app: String,
    msgid: String,
    params: Vec<(String, String)>,
    msg: String,
}

impl Syslog {
    fn get(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP
/// MSGID SP STRUCTURED-DATA SP MSG` (RFC 5424 section 6), strictly.
fn parse_5424(m: &str) -> Syslog {
    let rest = m.strip_prefix('<').unwrap_or_else(|| panic!("no PRI: {m}"));
    let (pri, rest) = rest.split_once('>').expect("PRI end");
    assert!(
        pri.len() <= 3 && pri.bytes().all(|b| b.is_ascii_digit()),
        "{m}"
    );
    let mut head = rest.splitn(7, ' ');
    let mut next = || head.next().unwrap_or_else(|| panic!("short header: {m}"));
    let (version, timestamp, host, app, procid, msgid) =
        (next(), next(), next(), next(), next(), next());
    let sd = next();
    for (field, max) in [(host, 255), (app, 48), (procid, 128), (msgid, 32)] {
        assert!(!field.is_empty() && field.len() <= max, "{m}");
        assert!(field.bytes().all(|b| (33..=126).contains(&b)), "{m}");
    }
    let mut params = Vec::new();
    let mut rest = sd.strip_prefix('[').unwrap_or_else(|| panic!("no SD: {m}"));
    let (sd_id, after) = rest.split_once(' ').expect("SD-ID");
    assert_eq!(sd_id, "pkgwarden@32473");
    rest = after;
    let msg = loop {
        if let Some(after) = rest.strip_prefix("] ") {
            break after.to_string();
        }
        let (name, after) = rest
            .trim_start()
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad param in {m}"));
        assert!(
            name.len() <= 32 && !name.contains([' ', '=', ']', '"']),
            "{name}"
        );
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars
                .next()
                .unwrap_or_else(|| panic!("unclosed value: {m}"))
            {
                (_, '\\') => value.push(chars.next().expect("escaped").1),
                (i, '"') => break i,
                (_, c) => {
                    assert!(c != ']', "unescaped ] in {m}");
                    value.push(c)
                }
            }
        };
        params.push((name.to_string(), value));
        rest = &after[end + 1..];
    };
    Syslog {
        pri: pri.parse().unwrap(),
        version: version.into(),
        timestamp: timestamp.into(),
        app: app.into(),
        msgid: msgid.into(),
        params,
        msg,
    }
}

/// Checks the messages of one install: a message per finding, then one
/// summary, each under `local4` with the configured APP-NAME.
fn check_messages(msgs: &[Syslog], r: &Installed) {
    let want = rules(r);
    assert!(!want.is_empty(), "the fixture has findings: {:#}", r.report);
    assert_eq!(msgs.len(), want.len() + 1, "{msgs:#?}");
    for m in msgs {
        assert_eq!(m.version, "1");
        assert_eq!(m.pri / 8, 20, "facility local4: {m:?}");
        assert_eq!(m.app, "pw-sink-test");
        humantime::parse_rfc3339(&m.timestamp).expect("RFC 3339 timestamp");
        assert_eq!(m.get("labels.report_id"), Some(id(r).as_str()));
        assert_eq!(m.get("labels.manager"), Some("npm"));
    }
    let (findings, summary) = msgs.split_at(want.len());
    let got: Vec<&str> = findings.iter().filter_map(|m| m.get("rule.id")).collect();
    assert_eq!(got, want);
    for (m, f) in findings
        .iter()
        .zip(r.report["findings"].as_array().unwrap())
    {
        assert_eq!(m.msgid, "finding");
        assert_eq!(m.get("event.kind"), Some("alert"));
        let sev = match f["severity"].as_str().unwrap() {
            "critical" => 2,
            "high" => 3,
            "medium" => 4,
            "low" => 5,
            _ => 6,
        };
        assert_eq!(m.pri % 8, sev, "{m:?}");
        assert!(!m.msg.is_empty());
    }
    let s = &summary[0];
    assert_eq!(s.msgid, "report");
    assert_eq!(s.get("event.action"), Some("install"));
    assert_eq!(
        s.get("process.exit_code"),
        Some(r.code.to_string().as_str())
    );
    assert!(s.msg.contains("npm install"), "{}", s.msg);
}

#[test]
fn syslog_over_udp_and_tcp_carries_every_finding_and_a_summary() {
    let c = case();
    // UDP: one datagram per message.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let policy = c.policy(&format!(
        "time_window = \"0s\"\n[log.syslog]\ntarget = \"udp:{}\"\nfacility = \"local4\"\napp_name = \"pw-sink-test\"\n",
        udp.local_addr().unwrap()
    ));
    let r = c.install("pw-rc-append", "protect", &policy);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("log sink"), "{}", r.stderr);
    let want = rules(&r).len() + 1;
    let mut msgs = Vec::new();
    let mut buf = vec![0u8; 65536];
    while msgs.len() < want {
        let n = udp.recv(&mut buf).expect("a datagram within 10 s");
        msgs.push(parse_5424(std::str::from_utf8(&buf[..n]).unwrap()));
    }
    check_messages(&msgs, &r);

    // TCP: octet-counted frames on one connection (RFC 6587 3.4.1).
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let policy = c.policy(&format!(
        "time_window = \"0s\"\n[log.syslog]\ntarget = \"tcp:{}\"\nfacility = \"local4\"\napp_name = \"pw-sink-test\"\n",
        tcp.local_addr().unwrap()
    ));
    let reader = std::thread::spawn(move || {
        // Fails rather than hangs when nothing connects.
        tcp.set_nonblocking(true).unwrap();
        let (mut s, _) = poll(Duration::from_secs(120), || tcp.accept().ok())
            .expect("the install never connected to the collector");
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all
    });
    let r = c.install("pw-rc-append", "protect", &policy);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bytes = reader.join().unwrap();
    let mut msgs = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let sp = rest.iter().position(|b| *b == b' ').expect("MSG-LEN SP");
        let len: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
        let frame = &rest[sp + 1..sp + 1 + len];
        msgs.push(parse_5424(std::str::from_utf8(frame).unwrap()));
        rest = &rest[sp + 1 + len..];
    }
    check_messages(&msgs, &r);
}

/// The JSON objects of a JSONL file; every line one whole object.
fn objects(path: &Path) -> Vec<serde_json::Map<String, Value>> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("not one object per line: {l}: {other:?}"),
        })
        .collect()
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}.{suffix}", path.display()))
}

#[test]
fn the_jsonl_file_rotates_across_installs_and_keeps_n_files_of_whole_reports() {
    let c = case();
    let log = c.env.home.path().join("logs/pkgwarden.jsonl");
    fs::create_dir_all(log.parent().unwrap()).unwrap();
    // Smaller than one report's lines: every install rotates.
    let policy = c.policy(&format!(
        "time_window = \"0s\"\n[log.jsonl]\npath = \"{}\"\nmax_bytes = 1000\nkeep = 2\n",
        log.display()
    ));
    let mut ids = Vec::new();
    for pkg in ["pw-plain", "pw-rc-append", "pw-plain", "pw-plain"] {
        let r = c.install(pkg, "protect", &policy);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(!r.stderr.contains("log sink"), "{}", r.stderr);
        ids.push(id(&r));
    }
    // Newest in the file itself, then .1, .2; the first install's rotated out.
    for (file, want) in [
        (log.clone(), &ids[3]),
        (beside(&log, "1"), &ids[2]),
        (beside(&log, "2"), &ids[1]),
    ] {
        let objs = objects(&file);
        assert!(objs.len() > 1, "{}", file.display());
        assert!(
            objs.iter().all(|o| o["labels.report_id"] == want.as_str()),
            "{} holds exactly one report's lines",
            file.display()
        );
        assert_eq!(objs[0]["event.action"], "install", "the summary first");
        assert_eq!(objs[0]["event.kind"], "event");
        for o in &objs {
            for key in [
                "@timestamp",
                "event.kind",
                "event.category",
                "host.hostname",
            ] {
                assert!(o.contains_key(key), "{key} in {o:?}");
            }
        }
    }
    assert!(!beside(&log, "3").exists(), "keep = 2");
    // The malicious install's alerts are in its batch.
    let alerts: Vec<_> = objects(&beside(&log, "2"))
        .into_iter()
        .filter(|o| o["event.kind"] == "alert")
        .collect();
    assert!(
        alerts.iter().any(|a| a["rule.id"] == "persist.shell-rc"
            && a["package.name"] == "pw-rc-append"
            && a["package.version"] == "1.0.0"
            && a["process.pid"].is_i64()),
        "{alerts:#?}"
    );
}

#[test]
fn a_window_addition_is_appended_after_the_install() {
    let c = case();
    let log = c.env.home.path().join("pkgwarden.jsonl");
    let policy = c.policy(&format!(
        "time_window = \"8s\"\n[log.jsonl]\npath = \"{}\"\n",
        log.display()
    ));
    let r = c.install("pw-plain", "protect", &policy);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = objects(&log).len();
    // The user's own write during the window: an info finding the window
    // adds to the stored report, and sends.
    let npmrc = c.env.home.path().join(".npmrc");
    fs::write(&npmrc, "registry=http://127.0.0.1:9/\n").unwrap();
    let added = poll(Duration::from_secs(15), || {
        let objs = objects(&log);
        let added: Vec<_> = objs[before..]
            .iter()
            .filter(|o| o.get("pkgwarden.window") == Some(&Value::Bool(true)))
            .cloned()
            .collect();
        (!added.is_empty()).then_some(added)
    })
    .expect("the window's finding never reached the JSONL file");
    let a = &added[0];
    assert_eq!(a["labels.report_id"], id(&r).as_str());
    assert_eq!(a["event.kind"], "alert");
    assert_eq!(a["file.path"], npmrc.display().to_string().as_str());
    assert!(a["pkgwarden.after_ms"].is_u64(), "{a:?}");
}

#[test]
fn a_window_sink_failure_is_told_once_by_the_next_shim_call() {
    let c = case();
    let policy =
        c.policy("time_window = \"8s\"\n[log.jsonl]\npath = \"/proc/pkgwarden-no-such/x.jsonl\"\n");
    let r = c.install("pw-plain", "protect", &policy);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("log sink log.jsonl").count(),
        1,
        "{}",
        r.stderr
    );
    fs::write(
        c.env.home.path().join(".npmrc"),
        "registry=http://127.0.0.1:9/\n",
    )
    .unwrap();
    // The watcher has no terminal: its warning waits for the next shim call.
    let told = poll(Duration::from_secs(15), || {
        let err = stderr_str(&run(c.env.shim("npm").arg("--version")));
        err.contains("log sink log.jsonl").then_some(err)
    })
    .expect("the window's sink failure was never told");
    assert_eq!(told.matches("log sink log.jsonl").count(), 1, "{told}");
    assert!(told.contains(&id(&r)[..8]), "{told}");
    let again = stderr_str(&run(c.env.shim("npm").arg("--version")));
    assert!(!again.contains("log sink"), "told twice: {again}");
}

#[test]
fn failing_sinks_cost_one_warning_each_and_change_nothing_else() {
    let c = case();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    // Nobody can create a file under /proc, root included.
    let policy = c.policy(&format!(
        "time_window = \"0s\"\n[log.jsonl]\npath = \"/proc/pkgwarden-no-such/x.jsonl\"\n[log.syslog]\ntarget = \"tcp:127.0.0.1:{port}\"\n"
    ));
    for (pkg, mode, code) in [
        ("pw-plain", "protect", 0),
        ("pw-rc-append", "block", BLOCKED),
    ] {
        // `install` asserts that the report was stored.
        let r = c.install(pkg, mode, &policy);
        assert_eq!(r.code, code, "{pkg}: {}", r.stderr);
        let warnings: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.contains("log sink"))
            .collect();
        assert_eq!(warnings.len(), 2, "{}", r.stderr);
        let jsonl: Vec<_> = warnings
            .iter()
            .filter(|w| w.contains("log.jsonl"))
            .collect();
        let syslog: Vec<_> = warnings
            .iter()
            .filter(|w| w.contains("log.syslog"))
            .collect();
        assert_eq!((jsonl.len(), syslog.len()), (1, 1), "{warnings:#?}");
        assert!(
            syslog[0].contains(&format!("tcp:127.0.0.1:{port}")),
            "{}",
            syslog[0]
        );
        let short = &id(&r)[..8];
        assert!(warnings.iter().all(|w| w.contains(short)), "{warnings:#?}");
        let shown = run(c.env.pkgwarden().args(["report", "show", &id(&r)]));
        assert_success(&shown, "the report is stored");
    }
}

#[test]
fn broken_sink_keys_stop_everything_and_a_project_cannot_set_them() {
    let c = case();
    let bad = c.policy("mode = \"protect\"\n\n[log.syslog]\ntarget = \"udp:127.0.0.1\"\n");
    let out = run(c.env.pkgwarden().arg("policy").arg("check").arg(&bad));
    assert_eq!(out.status.code(), Some(USAGE));
    let err = stderr_str(&out);
    assert!(
        err.contains(&format!("{}:4:10", bad.display())),
        "file, line and column: {err}"
    );
    assert!(err.contains("udp:HOST:PORT"), "{err}");
    // An install under it runs nothing and leaves no report.
    fresh(&c.project);
    let before = c.env.report_files();
    let mut cmd = c.env.pkgwarden();
    cmd.args(["run", "--sandbox", "--", "npm", "install", "--registry"])
        .arg(c.registry.registry_url())
        .arg("pw-plain")
        .current_dir(&c.project)
        .env("PKGWARDEN_POLICY", &bad);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(USAGE), "{}", stderr_str(&out));
    assert!(c.env.reports_since(&before).is_empty());
    assert!(!c.project.join("node_modules").exists());

    // A project's file may not choose where reports go.
    let log = c.env.home.path().join("from-project.jsonl");
    fs::write(
        c.project.join(".pkgwarden.toml"),
        format!("[log.jsonl]\npath = \"{}\"\n", log.display()),
    )
    .unwrap();
    let mut cmd = c.env.pkgwarden();
    cmd.args(["policy", "show"]).current_dir(&c.project);
    let out = run(&mut cmd);
    assert_success(&out, "policy show");
    assert!(
        stdout_str(&out).contains("ignored `log`"),
        "{}",
        stdout_str(&out)
    );
    let policy = c.policy("time_window = \"0s\"\n");
    let r = c.install("pw-plain", "protect", &policy);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!log.exists(), "the project's sink was used");
}
