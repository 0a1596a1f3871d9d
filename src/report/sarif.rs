//! The report as SARIF 2.1.0, for code-scanning dashboards and security
//! tools: one run, the rules that fired, one result per finding.

use super::model::Report;
use super::{clean, command_line, evidence_line, taken_name, who_did_it};
use crate::detect::{Finding, Severity};
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

/// The schema the output conforms to (OASIS SARIF 2.1.0, errata 01).
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// What one rule family of THREATS.md is about.
struct RuleInfo {
    id: &'static str,
    short: &'static str,
    full: &'static str,
    severity: Severity,
    attack: &'static [&'static str],
}

const fn rule(
    id: &'static str,
    short: &'static str,
    full: &'static str,
    severity: Severity,
    attack: &'static [&'static str],
) -> RuleInfo {
    RuleInfo {
        id,
        short,
        full,
        severity,
        attack,
    }
}

/// The rule families of THREATS.md with their default severities.
const RULES: &[RuleInfo] = &[
    rule(
        "persist.shell-rc",
        "Shell start-up file written or replaced",
        "An install wrote, replaced, linked or truncated a shell start-up file (~/.bashrc, ~/.profile, ~/.zshrc, fish config, /etc/profile.d …), which runs code in every new shell.",
        Severity::High,
        &["T1546.004"],
    ),
    rule(
        "persist.systemd",
        "systemd unit or timer created",
        "An install created a systemd unit or timer, or ran systemctl to enable or start one.",
        Severity::High,
        &["T1543.002"],
    ),
    rule(
        "persist.autostart",
        "XDG autostart entry created",
        "An install created a desktop autostart entry that runs at the next login.",
        Severity::High,
        &["T1547.013"],
    ),
    rule(
        "persist.cron",
        "cron or at job created",
        "An install ran crontab or at, or wrote to the cron spool or /etc/cron*.",
        Severity::High,
        &["T1053.003"],
    ),
    rule(
        "persist.python-startup",
        "Python start-up hook added",
        "A .pth file with an executable line, or sitecustomize.py / usercustomize.py, was added or changed: it runs every time Python starts.",
        Severity::High,
        &["T1546.018"],
    ),
    rule(
        "tamper.installed-package",
        "Installed package modified",
        "A file of a distribution the install did not install (pip/__init__.py …) no longer matches the sha256 its RECORD lists: code added to another package runs wherever it is imported.",
        Severity::High,
        &["T1195.002", "T1554"],
    ),
    rule(
        "persist.path-hijack",
        "Executable placed ahead of system commands",
        "A new executable appeared in a PATH entry searched before /usr/bin that the package does not declare, or that shadows a common command.",
        Severity::High,
        &["T1574.007"],
    ),
    rule(
        "persist.ssh",
        "SSH access or start-up file written",
        "An install wrote ~/.ssh/authorized_keys, ~/.ssh/rc or ~/.ssh/config.",
        Severity::High,
        &["T1098.004"],
    ),
    rule(
        "persist.pm-config",
        "Package-manager configuration tampered with",
        "An install changed a package manager's configuration (.npmrc, pip.conf, .pypirc, .condarc, .gemrc …) or added a rubygems plugin.",
        Severity::High,
        &["T1574", "T1546"],
    ),
    rule(
        "persist.git",
        "Git hooks or git configuration written",
        "An install wrote git hooks, ~/.gitconfig settings that run programs, or git template directories.",
        Severity::High,
        &["T1546"],
    ),
    rule(
        "persist.ci",
        "CI pipeline or runner files written",
        "An install wrote CI workflow files or self-hosted runner files.",
        Severity::High,
        &["T1195.002", "T1219"],
    ),
    rule(
        "persist.agent-hook",
        "AI agent or editor auto-run hook written",
        "An install wrote settings of an AI agent, editor task or MCP configuration that run commands automatically.",
        Severity::High,
        &["T1546"],
    ),
    rule(
        "persist.system",
        "System-wide boot, loader or privilege file written",
        "An install wrote /etc/ld.so.preload, sudoers, rc.local, init scripts, motd scripts or udev rules.",
        Severity::High,
        &["T1574.006", "T1548.003", "T1037.004"],
    ),
    rule(
        "persist.launchd",
        "macOS launch agent or daemon created",
        "An install created a LaunchAgent or LaunchDaemon, or ran launchctl to load one.",
        Severity::High,
        &["T1543.001", "T1543.004"],
    ),
    rule(
        "hidden.script",
        "Script dropped in a hidden or scratch directory",
        "A new script or executable file appeared in a hidden directory of the home directory, or in ~/.local, ~/.cache, ~/.config, /tmp, /var/tmp or /dev/shm outside the places the install may write.",
        Severity::Medium,
        &["T1564.001", "T1059"],
    ),
    rule(
        "drop.binary",
        "Native executable written outside the package payload",
        "A native executable (ELF, Mach-O, PE, also under a misleading name) was written outside the package's own files; packed or high-entropy ones are worse.",
        Severity::Medium,
        &["T1105", "T1027.002"],
    ),
    rule(
        "exec.dropped",
        "A file written during the install was executed",
        "A process executed a file the install had just written, or ran from a scratch directory or anonymous memory.",
        Severity::High,
        &["T1059", "T1620"],
    ),
    rule(
        "exec.suspicious",
        "An install script ran a tool no install needs",
        "A lifecycle script ran a downloader, a network tool, a credential helper, a secret scanner, a publish command, a privilege tool or a miner.",
        Severity::Medium,
        &["T1059.004", "T1528", "T1080", "T1548.003", "T1496"],
    ),
    rule(
        "cred.read",
        "Credential store opened",
        "Something other than the package manager reading its own configuration opened SSH keys, cloud or registry credentials, tokens, browser profiles or wallets.",
        Severity::High,
        &["T1552.001", "T1552.004"],
    ),
    rule(
        "cred.env",
        "Secrets exposed in the install's environment",
        "Variables named like tokens or keys stayed in the environment the install scripts ran with.",
        Severity::Low,
        &["T1552.001"],
    ),
    rule(
        "net.unexpected-host",
        "Connection to a host outside the allowed set",
        "The install asked the proxy for a host that is neither a configured registry nor allowed by policy.",
        Severity::Medium,
        &["T1071.001", "T1041"],
    ),
    rule(
        "net.direct",
        "Network traffic that bypassed the proxy",
        "A process connected or sent to an address other than pkgwarden's proxy: a raw IP, a non-standard port.",
        Severity::High,
        &["T1571", "T1095"],
    ),
    rule(
        "net.exfil-service",
        "Connection to an exfiltration, paste or tunnel service",
        "The install contacted a service known for receiving stolen data, pastes or tunnels.",
        Severity::High,
        &["T1567"],
    ),
    rule(
        "net.metadata",
        "Cloud metadata service contacted",
        "The install contacted a cloud instance metadata address, where machine credentials are served.",
        Severity::High,
        &["T1552.005"],
    ),
    rule(
        "net.dns",
        "DNS resolved by the install itself",
        "A process sent DNS queries itself instead of going through the proxy; long or random-looking names suggest data smuggled out in DNS.",
        Severity::Medium,
        &["T1071.004", "T1048"],
    ),
    rule(
        "net.local-socket",
        "Privileged local socket opened",
        "A process connected to the Docker or containerd socket, the SSH or GPG agent, or the D-Bus session bus.",
        Severity::High,
        &["T1611", "T1552"],
    ),
    rule(
        "proc.lingering",
        "Processes still running after the install",
        "Descendants of the install were still alive when the package manager exited (detached, daemonised, double-forked).",
        Severity::High,
        &["T1059", "T1564"],
    ),
    rule(
        "sandbox.escape",
        "System call a package install never needs",
        "A process called ptrace, bpf, mount, namespace or module calls, or other syscalls that only an escape attempt needs; harmless runtime probes are informational.",
        Severity::High,
        &["T1611", "T1055"],
    ),
    rule(
        "cred.perm",
        "Credential store's permissions or owner changed",
        "A chmod that opens a credential store (~/.ssh and its keys, cloud and registry tokens) to other users, or a chown of one, tried or done. The sandbox refuses it outside the install's write grants.",
        Severity::High,
        &["T1222.002", "T1552.004"],
    ),
    rule(
        "perm.setuid",
        "Setuid or setgid bit asked for on a file",
        "A chmod asking for a setuid or setgid bit on a file: a program that would run with its owner's rights after the install. No install needs one; the sandbox refuses it.",
        Severity::High,
        &["T1548.001"],
    ),
    rule(
        "perm.outside",
        "Permissions or owner changed outside the install's places",
        "A chmod or chown of a file outside the install's write grants, refused by the sandbox (landlock has no right for them; the supervisor judges and performs them).",
        Severity::Medium,
        &["T1222.002"],
    ),
    rule(
        "tamper.manager-cache",
        "Package code wrote into the manager's cache",
        "Package code (a build backend, setup.py, extconf.rb) tried to write the manager's own cache, where a later install takes a built wheel or a downloaded archive without building or checking it. The nested domain refuses it.",
        Severity::High,
        &["T1195.002", "T1554"],
    ),
    rule(
        "tamper.pkgwarden",
        "pkgwarden's own files tampered with",
        "An install wrote, replaced or removed pkgwarden's policy, cache (kernel probe, manager facts), state (reports), shims or binary, which would blind or weaken the next install. The sandbox refuses it in every mode but audit.",
        Severity::High,
        &["T1562.001"],
    ),
];

/// The one-line description of a rule family, when pkgwarden knows it.
pub(crate) fn rule_name(id: &str) -> Option<&'static str> {
    RULES.iter().find(|r| r.id == id).map(|r| r.short)
}

/// SARIF `level` of a severity.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning's `security-severity` score of a severity.
fn score(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// `persist.shell-rc` → `PersistShellRc`.
fn camel(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            cs.next()
                .map(|c| c.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A `file://` URI for an absolute path (relative ones are taken from
/// `cwd`), every byte outside the unreserved set percent-encoded.
fn file_uri(path: &str, cwd: &str) -> String {
    let full = if path.starts_with('/') {
        path.to_string()
    } else if cwd.starts_with('/') {
        format!("{}/{path}", cwd.trim_end_matches('/'))
    } else {
        format!("/{path}")
    };
    let mut out = String::from("file://");
    for b in full.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// FNV-1a, for stable fingerprints without a hashing dependency.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The rule descriptor of `id`, as found in `findings`.
fn descriptor(id: &str, findings: &[&Finding]) -> Value {
    let info = RULES.iter().find(|r| r.id == id);
    let worst = findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Medium);
    let severity = info.map_or(worst, |i| i.severity);
    let mut attack: Vec<String> = info
        .map(|i| i.attack.iter().map(|a| a.to_string()).collect())
        .unwrap_or_default();
    for f in findings {
        for a in &f.attack {
            if !attack.contains(a) {
                attack.push(a.clone());
            }
        }
    }
    let mut tags = vec!["security".to_string(), "supply-chain".to_string()];
    tags.extend(attack.iter().map(|a| format!("external/attack/{a}")));
    let short = info.map_or_else(|| clean(id), |i| i.short.to_string());
    let full = info.map_or_else(
        || clean(findings.first().map(|f| f.title.as_str()).unwrap_or(id)),
        |i| i.full.to_string(),
    );
    json!({
        "id": id,
        "name": camel(id),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": level(severity)},
        "properties": {
            "tags": tags,
            "security-severity": score(severity),
            "attack": attack,
        },
    })
}

/// A physical location for `path`, with the finding's line (1 when
/// unknown) and, when the line is known, the excerpt as its snippet.
fn physical(path: &str, cwd: &str, line: Option<u32>, excerpt: Option<&str>) -> Value {
    let mut region = Map::new();
    region.insert("startLine".into(), json!(line.unwrap_or(1).max(1)));
    if let (Some(_), Some(x)) = (line, excerpt) {
        region.insert("snippet".into(), json!({"text": x}));
    }
    json!({
        "artifactLocation": {"uri": file_uri(path, cwd)},
        "region": region,
    })
}

/// The SARIF result of one finding.
fn result(r: &Report, f: &Finding, rule_index: usize) -> Value {
    let e = &f.evidence;
    let cwd = r.what.cwd.as_str();
    let mut location = Map::new();
    if let Some(path) = e.paths.first() {
        location.insert(
            "physicalLocation".into(),
            physical(path, cwd, e.line, e.excerpt.as_deref()),
        );
    } else {
        // Nothing on disk to point at: the project directory the install ran
        // in, and what was involved as a logical location.
        if !cwd.is_empty() {
            location.insert(
                "physicalLocation".into(),
                json!({
                    "artifactLocation": {"uri": format!("{}/", file_uri(cwd, "").trim_end_matches('/'))},
                    "region": {"startLine": 1},
                }),
            );
        }
        let logical = if let Some(ep) = &e.endpoint {
            json!({"name": ep, "kind": "resource"})
        } else if let Some(argv) = &e.argv {
            json!({"name": argv.first().cloned().unwrap_or_default(), "fullyQualifiedName": super::shell_join(argv), "kind": "process"})
        } else if let Some(pid) = f.pid {
            json!({"name": format!("pid {pid}"), "kind": "process"})
        } else {
            json!({"name": r.what.manager, "kind": "process"})
        };
        location.insert("logicalLocations".into(), json!([logical]));
    }
    let mut text = clean(&f.title);
    let ev = evidence_line(e);
    if !ev.is_empty() {
        let _ = write!(text, ": {ev}");
    }
    let who = who_did_it(f);
    let _ = write!(
        text,
        " ({}{})",
        if who.is_empty() {
            String::new()
        } else {
            format!("{who}; ")
        },
        taken_name(f.action)
    );
    let mut props = Map::new();
    props.insert("severity".into(), json!(f.severity.name()));
    props.insert("action".into(), json!(taken_name(f.action)));
    props.insert("attack".into(), json!(f.attack));
    props.insert("report".into(), json!(r.id));
    for (k, v) in [
        ("pid", f.pid.map(|p| json!(p))),
        ("package", f.package.as_ref().map(|p| json!(p))),
        ("hook", f.hook.as_ref().map(|h| json!(h))),
        ("endpoint", e.endpoint.as_ref().map(|x| json!(x))),
        ("sha256", e.sha256.as_ref().map(|x| json!(x))),
        ("detail", e.detail.as_ref().map(|x| json!(x))),
        ("command", e.argv.as_ref().map(|x| json!(x))),
    ] {
        if let Some(v) = v {
            props.insert(k.into(), v);
        }
    }
    if !f.chain.is_empty() {
        props.insert("chain".into(), json!(f.chain));
    }
    let where_ = e
        .paths
        .first()
        .or(e.endpoint.as_ref())
        .cloned()
        .unwrap_or_default();
    let print = fnv(&format!(
        "{}|{}|{}",
        f.rule,
        where_,
        f.package.as_deref().unwrap_or("")
    ));
    let mut res = json!({
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {"pkgwardenFinding/v1": format!("{print:016x}")},
        "properties": props,
    });
    if e.paths.len() > 1 {
        let related: Vec<Value> = e
            .paths
            .iter()
            .skip(1)
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "id": i + 1,
                    "physicalLocation": physical(p, cwd, None, None),
                })
            })
            .collect();
        // relatedLocations must hold distinct items.
        let mut seen = std::collections::HashSet::new();
        let related: Vec<Value> = related
            .into_iter()
            .filter(|v| seen.insert(v["physicalLocation"].to_string()))
            .collect();
        res["relatedLocations"] = json!(related);
    }
    res
}

/// The report as a SARIF 2.1.0 log: one run of the `pkgwarden` driver, a
/// rule descriptor for every rule that fired (with its ATT&CK techniques as
/// `external/attack/…` tags), one result per finding.
pub fn render(r: &Report) -> Value {
    // Rules in order of first appearance; results point at them by index.
    let mut order: Vec<&str> = Vec::new();
    for f in &r.findings {
        if !order.contains(&f.rule.as_str()) {
            order.push(&f.rule);
        }
    }
    let rules: Vec<Value> = order
        .iter()
        .map(|id| {
            let of: Vec<&Finding> = r.findings.iter().filter(|f| f.rule == *id).collect();
            descriptor(id, &of)
        })
        .collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let index = order.iter().position(|id| *id == f.rule).unwrap_or(0);
            result(r, f, index)
        })
        .collect();

    let mut invocation = Map::new();
    invocation.insert(
        "executionSuccessful".into(),
        json!(matches!(r.outcome.status.as_str(), "completed" | "blocked")),
    );
    invocation.insert("commandLine".into(), json!(command_line(r)));
    invocation.insert("exitCode".into(), json!(r.outcome.exit_code));
    // date-time fields must be RFC 3339: re-format what parses, drop the rest.
    if let Ok(start) = humantime::parse_rfc3339_weak(&r.started) {
        if let Some(s) = super::rfc3339(start, 0, true) {
            invocation.insert("startTimeUtc".into(), json!(s));
        }
        if let Some(s) = super::rfc3339(start, r.duration_ms, true) {
            invocation.insert("endTimeUtc".into(), json!(s));
        }
    }
    if r.what.cwd.starts_with('/') {
        invocation.insert(
            "workingDirectory".into(),
            json!({"uri": format!("{}/", file_uri(&r.what.cwd, "").trim_end_matches('/'))}),
        );
    }
    if let Some(h) = &r.who.host {
        invocation.insert("machine".into(), json!(h));
    }
    if let Some(u) = &r.who.user {
        invocation.insert("account".into(), json!(u));
    }
    invocation.insert(
        "properties".into(),
        json!({
            "status": r.outcome.status,
            "managerExit": r.outcome.manager_exit,
            "mode": r.what.mode,
            "enforced": r.sandbox.enforced,
            "observedOnly": r.sandbox.observed_only,
        }),
    );

    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "pkgwarden",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "automationDetails": {"id": format!("pkgwarden/{}/{}", r.what.manager, r.id)},
            "invocations": [invocation],
            "results": results,
            "properties": {
                "report": r.id,
                "manager": r.what.manager,
                "managerVersion": r.what.version,
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{clean_report, dirty_report};

    /// The official OASIS schema, vendored.
    const SCHEMA: &str = include_str!("../../tests/data/sarif-schema-2.1.0.json");

    fn assert_valid(v: &Value) {
        let schema: Value = serde_json::from_str(SCHEMA).expect("schema parses");
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(v)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}\n{v:#}");
    }

    #[test]
    fn findings_with_and_without_paths_validate_against_the_schema() {
        let r = dirty_report("7f3a12c4e5d6f7a8");
        let v = render(&r);
        assert_valid(&v);
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "pkgwarden");
        assert_eq!(run["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), 7);
        let results = run["results"].as_array().expect("results");
        assert_eq!(results.len(), 7);
        for res in results {
            let idx = res["ruleIndex"].as_u64().expect("index") as usize;
            assert_eq!(rules[idx]["id"], res["ruleId"]);
            let line = &res["locations"][0]["physicalLocation"]["region"]["startLine"];
            assert!(line.as_u64().is_some_and(|l| l >= 1), "{res}");
        }
        let shell = &results[0];
        assert_eq!(shell["level"], "error");
        assert_eq!(
            shell["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "file:///home/alice/.bashrc"
        );
        assert_eq!(
            shell["locations"][0]["physicalLocation"]["region"]["startLine"],
            12
        );
        assert_eq!(shell["properties"]["action"], "quarantined");
        assert_eq!(shell["properties"]["package"], "evil-pkg@1.0.0");
        assert_eq!(shell["properties"]["hook"], "postinstall");
        assert_eq!(shell["properties"]["pid"], 4242);
        let tags = rules[0]["properties"]["tags"].as_array().expect("tags");
        assert!(tags.contains(&json!("external/attack/T1546.004")));
        assert!(tags.contains(&json!("security")));
        // cred.read: two paths, one of them a related location.
        assert_eq!(results[1]["level"], "error");
        assert_eq!(
            results[1]["relatedLocations"].as_array().map(Vec::len),
            Some(1)
        );
        // No path: the cwd (percent-encoded) and a logical location.
        let exfil = &results[2];
        assert_eq!(
            exfil["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "file:///home/alice/my%20proj/"
        );
        assert_eq!(
            exfil["locations"][0]["logicalLocations"][0]["name"],
            "webhook.exfil.test:443"
        );
        assert_eq!(results[4]["level"], "warning");
        assert_eq!(results[5]["level"], "note");
        assert_eq!(results[6]["level"], "note");
    }

    #[test]
    fn clean_reports_and_odd_inputs_still_validate() {
        assert_valid(&render(&clean_report("0000000000000001")));
        let mut r = dirty_report("0000000000000002");
        r.started = "yesterday".into();
        r.what.cwd = String::new();
        r.who.host = None;
        r.findings[0].evidence.paths = vec!["relative/päth with #?.txt".into()];
        r.findings[0].evidence.line = Some(0);
        r.findings[1].evidence.paths = vec!["/same".into(), "/same".into(), "/same".into()];
        r.findings[2].rule = "future.rule".into();
        r.findings[2].attack = vec![];
        let v = render(&r);
        assert_valid(&v);
        let res = &v["runs"][0]["results"];
        assert_eq!(
            res[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "file:///relative/p%C3%A4th%20with%20%23%3F.txt"
        );
        assert_eq!(
            res[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            1
        );
        assert_eq!(res[2]["locations"][0].get("physicalLocation"), None);
    }

    #[test]
    fn the_schema_check_is_not_vacuous() {
        let schema: Value = serde_json::from_str(SCHEMA).expect("schema parses");
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles");
        let mut v = render(&dirty_report("7f3a12c4e5d6f7a8"));
        assert!(validator.is_valid(&v));
        v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
            json!(0);
        assert!(!validator.is_valid(&v));
        let mut v = render(&dirty_report("7f3a12c4e5d6f7a8"));
        v["runs"][0]["results"][0]["level"] = json!("critical");
        assert!(!validator.is_valid(&v));
        let mut v = render(&dirty_report("7f3a12c4e5d6f7a8"));
        v["runs"][0]["invocations"][0]["startTimeUtc"] = json!("yesterday");
        assert!(!validator.is_valid(&v), "date-time formats are checked");
    }

    #[test]
    fn camel_case_names() {
        assert_eq!(camel("persist.shell-rc"), "PersistShellRc");
        assert_eq!(camel("net.exfil-service"), "NetExfilService");
        assert_eq!(camel(""), "");
    }
}
