//! `pkgwarden report list/show/export` over reports written by hand into a
//! temporary XDG_STATE_HOME.

use crate::support;

use serde_json::{Value, json};
use std::fs;
use std::path::PathBuf;
use support::*;

/// A report in the stored format (version 1), as `Report` serialises it.
fn report(id: &str, started: &str, manager: &str, findings: Vec<Value>) -> Value {
    let status = if findings.is_empty() {
        "completed"
    } else {
        "blocked"
    };
    json!({
        "version": 1,
        "id": id,
        "started": started,
        "duration_ms": 2500,
        "who": {"user": "alice", "uid": 1000, "host": "devbox", "parents": ["100 bash"]},
        "what": {
            "manager": manager,
            "real_exe": format!("/usr/bin/{manager}"),
            "version": "1.0",
            "argv": ["install", "thing"],
            "command": "install",
            "cwd": "/home/alice/proj",
            "mode": "protect",
            "policy_sources": ["built-in"],
            "policy_hash": "00ff"
        },
        "sandbox": {
            "enforced": ["landlock-fs", "seccomp-notify", "proxy"],
            "observed_only": [],
            "landlock": null,
            "readable_secrets": [],
            "filter_still_held": false,
            "notifications": 42
        },
        "outcome": {
            "status": status,
            "manager_exit": 0,
            "signal": null,
            "exit_code": if findings.is_empty() { 0 } else { 90 }
        },
        "processes": [
            {"pid": 10, "ppid": 1, "exe": "/usr/bin/node", "argv": ["npm", "install", "thing"],
             "cwd": "/home/alice/proj", "package": null, "hook": null},
            {"pid": 20, "ppid": 10, "exe": "/bin/sh", "argv": ["sh", "-c", "node x.js"],
             "cwd": null, "package": "thing@1.0.0", "hook": "postinstall"}
        ],
        "lingering": [],
        "files": {
            "per_root": {"/home/alice/proj/node_modules": 57},
            "outside": [{
                "seq": 7, "ms": 900, "pid": 20, "ppid": 10, "syscall": "openat",
                "kind": "open-write", "paths": ["/home/alice/.bashrc"], "flags": 577,
                "action": "observed"
            }],
            "secret_reads": [],
            "writes": 58
        },
        "endpoints": [{
            "ms": 100, "pid": 10, "method": "CONNECT", "host": "registry.pkg.test", "port": 443,
            "verdict": "allowed", "bytes_up": 1000, "bytes_down": 50000, "duration_ms": 200
        }],
        "network": [{
            "seq": 9, "ms": 1200, "pid": 20, "syscall": "connect", "kind": "connect",
            "addr": "198.51.100.7:4444", "flags": 0, "action": "denied", "errno": 13
        }],
        "env": {"removed": ["NPM_TOKEN"], "kept": []},
        "snapshot": [],
        "findings": findings,
        "quarantine": []
    })
}

fn finding(rule: &str, severity: &str, attack: &[&str], evidence: Value) -> Value {
    json!({
        "rule": rule,
        "title": format!("{rule} seen"),
        "severity": severity,
        "attack": attack,
        "pid": 20,
        "chain": ["10 npm", "20 sh"],
        "package": "thing@1.0.0",
        "hook": "postinstall",
        "evidence": evidence,
        "action": "blocked"
    })
}

struct Store {
    home: TestHome,
    dir: PathBuf,
    reports: Vec<Value>,
}

impl Store {
    /// Three reports: two with findings, one clean; ids share prefixes.
    fn new() -> Store {
        let home = TestHome::new();
        let dir = home.state_dir().join("pkgwarden").join("reports");
        fs::create_dir_all(&dir).expect("reports dir");
        let dirty = vec![
            finding(
                "persist.shell-rc",
                "high",
                &["T1546.004"],
                json!({"paths": ["/home/alice/.bashrc"], "excerpt": "curl x | sh", "line": 3}),
            ),
            finding(
                "net.direct",
                "critical",
                &["T1571", "T1095"],
                json!({"endpoint": "198.51.100.7:4444", "detail": "errno 13"}),
            ),
            finding(
                "exec.suspicious",
                "medium",
                &["T1059.004"],
                json!({"argv": ["curl", "-s", "http://x.test/p|q"]}),
            ),
        ];
        let reports = vec![
            report("aa11000000000001", "2026-01-01T10:00:00.000Z", "npm", dirty),
            report("aa22000000000002", "2026-01-02T10:00:00Z", "pip", vec![]),
            report(
                "bb33000000000003",
                "2026-01-03T10:00:00Z",
                "npm",
                vec![finding(
                    "cred.read",
                    "high",
                    &["T1552.004"],
                    json!({"paths": ["/home/alice/.ssh/id_rsa"]}),
                )],
            ),
        ];
        for r in &reports {
            let stamp: String = r["started"]
                .as_str()
                .unwrap()
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == 'T')
                .take(15)
                .collect();
            let name = format!(
                "{stamp}Z-{}-{}.json",
                r["what"]["manager"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            );
            fs::write(dir.join(name), serde_json::to_vec_pretty(r).unwrap()).expect("write");
        }
        Store { home, dir, reports }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        run(self.home.command(pkgwarden_bin()).args(args))
    }
}

#[test]
fn list_orders_filters_and_prints_json() {
    let s = Store::new();
    let out = s.run(&["report", "list"]);
    assert_success(&out, "report list");
    let text = stdout_str(&out);
    let ids: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        ids,
        ["aa11000000000001", "aa22000000000002", "bb33000000000003"]
    );
    assert!(text.contains("3 (worst critical)"), "{text}");

    let out = s.run(&["report", "list", "--findings", "--json"]);
    assert_success(&out, "report list --findings --json");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let listed: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["aa11000000000001", "bb33000000000003"]);
    assert_eq!(v[0]["findings"], 3);
    assert_eq!(v[0]["worst"], "critical");

    let out = s.run(&[
        "report",
        "list",
        "--since",
        "2026-01-02T00:00:00Z",
        "--json",
    ]);
    assert_success(&out, "report list --since");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(2));

    // Everything is older than an hour.
    let out = s.run(&["report", "list", "--since", "1h"]);
    assert_success(&out, "report list --since 1h");
    assert!(
        stderr_str(&out).contains("no reports in"),
        "{}",
        stderr_str(&out)
    );

    let out = s.run(&["report", "list", "--since", "last tuesday"]);
    assert_eq!(out.status.code(), Some(92));
    assert!(stderr_str(&out).contains("hint: give a duration like 1h"));
}

#[test]
fn show_renders_every_format() {
    let s = Store::new();
    // JSON round-trips.
    let out = s.run(&["report", "show", "aa11", "--format", "json"]);
    assert_success(&out, "show json");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v, s.reports[0]);

    // SARIF validates against the official schema.
    let out = s.run(&["report", "show", "aa11000000000001", "--format", "sarif"]);
    assert_success(&out, "show sarif");
    let sarif: Value = serde_json::from_slice(&out.stdout).expect("sarif json");
    let schema: Value = serde_json::from_slice(
        &fs::read(crate_root().join("tests/data/sarif-schema-2.1.0.json")).expect("schema"),
    )
    .expect("schema json");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    assert_eq!(results[1]["level"], "error");
    assert_eq!(results[2]["level"], "warning");

    // Markdown and the human rendering.
    let out = s.run(&["report", "show", "last", "--format", "markdown"]);
    assert_success(&out, "show markdown");
    let md = stdout_str(&out);
    assert!(md.contains("| Severity | Rule | ATT&CK | What | Process | Action |"));
    assert!(md.contains("cred.read"));
    let out = s.run(&["report", "show", "aa11"]);
    assert_success(&out, "show human");
    let text = stdout_str(&out);
    for want in [
        "report    aa11000000000001",
        "CRITICAL net.direct",
        "file /home/alice/.bashrc:3",
        "└ 20 sh -c 'node x.js'",
        "198.51.100.7:4444  denied errno 13",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // Not a terminal: no colour codes.
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn export_writes_one_json_object_per_line() {
    let s = Store::new();
    let out = s.run(&["report", "export", "--all", "--format", "jsonl"]);
    assert_success(&out, "export --all");
    let text = stdout_str(&out);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // Per report: findings + 2 execs + 1 connect + 1 request + 1 write.
    assert_eq!(lines.len(), (3 + 5) + 5 + (1 + 5));
    for l in &lines {
        for key in [
            "@timestamp",
            "event.kind",
            "event.category",
            "event.action",
            "labels.report_id",
            "labels.manager",
        ] {
            assert!(l.get(key).is_some(), "{key} missing in {l}");
        }
    }
    let alerts = lines.iter().filter(|l| l["event.kind"] == "alert").count();
    assert_eq!(alerts, 4);

    let out = s.run(&["report", "export"]);
    assert_success(&out, "export (last)");
    assert!(
        stdout_str(&out)
            .lines()
            .all(|l| l.contains("\"labels.report_id\":\"bb33000000000003\""))
    );
}

#[test]
fn unknown_ambiguous_and_missing_reports_say_what_to_do() {
    let s = Store::new();
    let out = s.run(&["report", "show", "ffff"]);
    assert_eq!(out.status.code(), Some(92));
    let err = stderr_str(&out);
    assert!(err.contains("no report matches 'ffff'"), "{err}");
    assert!(err.contains("pkgwarden report list"), "{err}");

    let out = s.run(&["report", "show", "aa"]);
    assert_eq!(out.status.code(), Some(92));
    let err = stderr_str(&out);
    assert!(
        err.contains("aa11000000000001") && err.contains("aa22000000000002"),
        "{err}"
    );
    assert!(err.contains("more digits"), "{err}");

    let out = s.run(&["report", "export", "aa", "--all"]);
    assert_eq!(out.status.code(), Some(92));

    // A file that is not a report is skipped by list and named by show.
    fs::write(
        s.dir.join("20260104T000000Z-npm-cc44000000000004.json"),
        "{\"version\": 1",
    )
    .expect("write");
    assert_success(&s.run(&["report", "list"]), "list with a broken file");
    let out = s.run(&["report", "show", "cc44"]);
    assert_eq!(out.status.code(), Some(92));
    assert!(stderr_str(&out).contains("is not a readable pkgwarden report"));

    let empty = TestHome::new();
    let out = run(empty
        .command(pkgwarden_bin())
        .args(["report", "show", "last"]));
    assert_eq!(out.status.code(), Some(92));
    assert!(
        stderr_str(&out).contains("no reports yet"),
        "{}",
        stderr_str(&out)
    );
}

#[test]
fn show_and_export_offer_the_same_formats() {
    let s = Store::new();
    // jsonl on show: the same lines as export gives for that report.
    let shown = s.run(&["report", "show", "bb33", "--format", "jsonl"]);
    assert_success(&shown, "show jsonl");
    let exported = s.run(&["report", "export", "bb33", "--format", "jsonl"]);
    assert_success(&exported, "export jsonl");
    assert!(!stdout_str(&shown).is_empty());
    assert_eq!(stdout_str(&shown), stdout_str(&exported));
    // json on export --all: one whole report a line.
    let out = s.run(&["report", "export", "--all", "--format", "json"]);
    assert_success(&out, "export json");
    let ids: Vec<String> = stdout_str(&out)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            v["id"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    // markdown and human on export, as show renders them.
    for format in ["markdown", "human"] {
        let shown = s.run(&["report", "show", "bb33", "--format", format]);
        let exported = s.run(&["report", "export", "bb33", "--format", format]);
        assert_success(&exported, format);
        assert_eq!(stdout_str(&shown), stdout_str(&exported), "{format}");
    }
    // sarif for one report, and refused for many with what to do instead.
    let out = s.run(&["report", "export", "bb33", "--format", "sarif"]);
    assert_success(&out, "export sarif");
    let v: Value = serde_json::from_slice(&out.stdout).expect("sarif json");
    assert_eq!(v["version"], "2.1.0");
    let out = s.run(&["report", "export", "--all", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(92), "{}", stderr_str(&out));
    assert!(stderr_str(&out).contains("--format jsonl"));
    // Both help texts list the five formats.
    for cmd in ["show", "export"] {
        let out = s.run(&["report", cmd, "--help"]);
        let help = stdout_str(&out);
        for f in ["human", "json", "jsonl", "sarif", "markdown"] {
            assert!(help.contains(f), "report {cmd} --help lacks {f}:\n{help}");
        }
    }
}

#[test]
fn an_empty_quarantine_says_so() {
    let s = Store::new();
    let out = s.run(&["quarantine", "list"]);
    assert_success(&out, "quarantine list");
    assert_eq!(stdout_str(&out), "nothing is in quarantine\n");
}
