//! The report as JSON lines for a SIEM: one object per finding (an alert)
//! and per notable event (each exec, direct network call, proxied request,
//! write outside the expected places, credential read and lingering
//! process), with ECS field names as flat dotted keys.

use super::model::Report;
use super::{shell_join, taken_name};
use crate::model::RuleId;
use crate::model::request::Verdict;
use crate::model::{Action, Event, EventKind};
use crate::model::{Finding, Severity, Taken};
use crate::model::{Lingering, ProcNode, Request};
use serde_json::{Map, Value, json};
use std::net::IpAddr;

/// ECS `event.severity` of a severity (higher is worse).
pub(crate) fn severity_number(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Low => 21,
        Severity::Medium => 47,
        Severity::High => 73,
        Severity::Critical => 99,
    }
}

/// `name@version` → (name, version); a scoped npm name's leading `@` is part
/// of the name.
fn split_package(p: &str) -> (&str, Option<&str>) {
    match p.rfind('@') {
        Some(i) if i > 0 => (&p[..i], Some(&p[i + 1..])),
        _ => (p, None),
    }
}

/// `host:port`, `[v6]:port` or `ip:port` → (address, port); a unix socket
/// path or a bare name → (it, None).
fn split_endpoint(ep: &str) -> (String, Option<u16>) {
    if let Some(rest) = ep.strip_prefix('[')
        && let Some((host, port)) = rest.split_once("]:")
    {
        return (host.to_string(), port.parse().ok());
    }
    if !ep.starts_with('/')
        && let Some((host, port)) = ep.rsplit_once(':')
        && !host.contains(':')
        && let Ok(port) = port.parse()
    {
        return (host.to_string(), Some(port));
    }
    (ep.to_string(), None)
}

/// Builds one line's fields on top of the report-wide ones.
struct Line(Map<String, Value>);

impl Line {
    fn set(&mut self, key: &str, v: impl Into<Value>) -> &mut Self {
        self.0.insert(key.to_string(), v.into());
        self
    }

    fn opt<T: Into<Value>>(&mut self, key: &str, v: Option<T>) -> &mut Self {
        if let Some(v) = v {
            self.0.insert(key.to_string(), v.into());
        }
        self
    }

    /// `destination.*` and `url.domain` from an endpoint string; a unix
    /// socket goes to `file.path`.
    fn endpoint(&mut self, ep: &str) -> &mut Self {
        if ep.starts_with('/') || ep.starts_with('@') {
            return self.set("file.path", ep).set("network.type", "unix");
        }
        let (host, port) = split_endpoint(ep);
        if host.parse::<IpAddr>().is_err() && !host.is_empty() {
            self.set("url.domain", host.clone());
        }
        self.set("destination.address", host)
            .opt("destination.port", port)
    }

    fn package(&mut self, p: Option<&str>) -> &mut Self {
        if let Some(p) = p {
            let (name, version) = split_package(p);
            self.set("package.name", name)
                .opt("package.version", version);
        }
        self
    }
}

/// The process facts of `pid` that the report knows: parent, executable,
/// command line.
fn process(r: &Report, line: &mut Line, pid: i32, ppid: Option<i32>) {
    line.set("process.pid", pid);
    let node = r.processes.iter().rev().find(|n| n.pid == pid);
    let ppid = ppid
        .or_else(|| node.and_then(|n| n.ppid))
        .or_else(|| r.lingering.iter().find(|l| l.pid == pid).map(|l| l.ppid));
    line.opt("process.parent.pid", ppid);
    if let Some(n) = node {
        line.set("process.executable", n.exe.as_str())
            .set("process.command_line", shell_join(&n.argv));
    }
}

/// A line for one syscall event.
fn event_line(r: &Report, base: &Line, ts: &dyn Fn(u64) -> String, e: &Event) -> Line {
    let mut l = Line(base.0.clone());
    l.set("@timestamp", ts(e.ms))
        .set("event.kind", "event")
        .set("event.action", e.kind.as_str())
        .set("pkgwarden.syscall", e.syscall.as_str())
        .set(
            "pkgwarden.decision",
            format!("{:?}", e.action).to_lowercase(),
        )
        .set(
            "event.outcome",
            if e.action == Action::Denied {
                "failure"
            } else {
                "success"
            },
        )
        .opt("error.code", e.errno.map(|n| n.to_string()))
        .opt("dns.question.name", e.dns_query.as_deref());
    process(r, &mut l, e.pid, e.ppid);
    l.package(e.package.as_deref())
        .opt("pkgwarden.hook", e.hook.as_deref());
    if let Some(a) = &e.addr {
        l.endpoint(a);
    }
    if let Some(p) = e.paths.last() {
        l.set("file.path", p.as_str());
    }
    if e.paths.len() > 1 {
        l.set("pkgwarden.paths", e.paths.clone());
    }
    l
}

/// ECS categories of a finding, by its rule family.
fn finding_category(rule: RuleId) -> Value {
    let family = match rule.family() {
        "net" => "network",
        "exec" | "proc" | "sandbox" => "process",
        _ if rule == RuleId::CredEnv => "process",
        _ => "file",
    };
    json!(["intrusion_detection", family])
}

/// A line for one finding.
fn finding_line(r: &Report, base: &Line, start: &str, f: &Finding) -> Line {
    let mut l = Line(base.0.clone());
    // ATT&CK ids: techniques, and sub-techniques (`T1546.004`) apart, as ECS
    // has them.
    let mut techniques: Vec<String> = Vec::new();
    let mut subs: Vec<String> = Vec::new();
    for a in &f.attack {
        let parent = a.split('.').next().unwrap_or(a).to_string();
        if !techniques.contains(&parent) {
            techniques.push(parent);
        }
        if a.contains('.') && !subs.contains(a) {
            subs.push(a.clone());
        }
    }
    l.set("@timestamp", start)
        .set("event.kind", "alert")
        .set("event.category", finding_category(f.rule))
        .set(
            "event.type",
            json!([if f.action == Taken::Blocked {
                "denied"
            } else {
                "indicator"
            }]),
        )
        .set("event.action", f.rule.as_str())
        .set("event.severity", severity_number(f.severity))
        .set("message", f.title.as_str())
        .set("rule.id", f.rule.as_str())
        .set("rule.name", f.rule.meta().short)
        .set("rule.ruleset", "pkgwarden")
        .set("threat.framework", "MITRE ATT&CK")
        .set("threat.technique.id", techniques)
        .set("pkgwarden.severity", f.severity.name())
        .set("pkgwarden.action", taken_name(f.action))
        .opt("pkgwarden.hook", f.hook.as_deref())
        .opt("pkgwarden.after_ms", f.after_ms);
    if !subs.is_empty() {
        l.set("threat.technique.subtechnique.id", subs);
    }
    if let Some(pid) = f.pid {
        process(r, &mut l, pid, None);
    }
    if !f.chain.is_empty() {
        l.set("pkgwarden.chain", f.chain.clone());
    }
    l.package(f.package.as_deref());
    let e = &f.evidence;
    if let Some(p) = e.paths.first() {
        l.set("file.path", p.as_str());
    }
    if e.paths.len() > 1 {
        l.set("pkgwarden.paths", e.paths.clone());
    }
    if let Some(ep) = &e.endpoint {
        l.endpoint(ep);
    }
    if let Some(argv) = &e.argv {
        // The command the finding is about, when it is not the process's own.
        l.set("pkgwarden.command_line", shell_join(argv));
        if !l.0.contains_key("process.command_line") {
            l.set("process.command_line", shell_join(argv));
        }
    }
    l.opt("file.hash.sha256", e.sha256.as_deref())
        .opt("pkgwarden.excerpt", e.excerpt.as_deref())
        .opt("pkgwarden.line", e.line)
        .opt("pkgwarden.detail", e.detail.as_deref());
    l
}

/// The report as JSON lines: first one alert per finding, then one event
/// per exec, direct network call, proxied request, write outside the
/// expected places, credential read and lingering process. Every line
/// carries `@timestamp`, `event.kind`, `event.category`, `event.action`,
/// `labels.report_id` and `labels.manager`.
pub fn render(r: &Report) -> String {
    to_text(objects(r))
}

/// The objects [`render`] writes, one per line.
pub(crate) fn objects(r: &Report) -> Vec<Map<String, Value>> {
    let base = base_line(r);
    // Event times are offsets from the start; unparsable starts are kept as
    // they are rather than invented.
    let start = humantime::parse_rfc3339_weak(&r.started).ok();
    let ts = |ms: u64| -> String {
        start
            .and_then(|t| super::rfc3339(t, ms, true))
            .unwrap_or_else(|| r.started.clone())
    };
    let start_ts = ts(0);

    let mut lines: Vec<Line> = Vec::new();
    for f in &r.findings {
        lines.push(finding_line(r, &base, &start_ts, f));
    }
    for n in &r.processes {
        lines.push(process_line(&base, &start_ts, n));
    }
    for e in &r.network {
        lines.push(network_line(r, &base, &ts, e));
    }
    for q in &r.endpoints {
        lines.push(request_line(r, &base, &ts(q.ms), q));
    }
    for e in &r.files.outside {
        lines.push(outside_write_line(r, &base, &ts, e));
    }
    for e in &r.files.secret_reads {
        let mut l = event_line(r, &base, &ts, e);
        l.set("event.category", json!(["file"]))
            .set("event.type", json!(["access"]))
            .set("pkgwarden.credential", true);
        lines.push(l);
    }
    for p in &r.lingering {
        lines.push(lingering_line(&base, &ts(r.duration_ms), p));
    }

    lines.into_iter().map(|l| l.0).collect()
}

/// Objects as JSON lines.
pub(crate) fn to_text(objects: impl IntoIterator<Item = Map<String, Value>>) -> String {
    let mut out = String::new();
    for o in objects {
        // serde_json escapes newlines inside strings: one object, one line.
        if let Ok(s) = serde_json::to_string(&Value::Object(o)) {
            out.push_str(&s);
            out.push('\n');
        }
    }
    out
}

/// The alerts of `findings` (of `r`), as [`render`] writes them, stamped
/// `at` (the report's start when `None`).
pub(crate) fn alerts(
    r: &Report,
    findings: &[Finding],
    at: Option<&str>,
) -> Vec<Map<String, Value>> {
    let base = base_line(r);
    let start = humantime::parse_rfc3339_weak(&r.started)
        .ok()
        .and_then(|t| super::rfc3339(t, 0, true))
        .unwrap_or_else(|| r.started.clone());
    findings
        .iter()
        .map(|f| finding_line(r, &base, at.unwrap_or(&start), f).0)
        .collect()
}

/// One event that sums the install up: its command, outcome, exit code and
/// findings (`event.action` `install`).
pub(crate) fn summary(r: &Report) -> Map<String, Value> {
    let mut l = base_line(r);
    let start = humantime::parse_rfc3339_weak(&r.started)
        .ok()
        .and_then(|t| super::rfc3339(t, 0, true))
        .unwrap_or_else(|| r.started.clone());
    let mut rules: Vec<&str> = r.findings.iter().map(|f| f.rule.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    let worst = r.worst();
    let command = super::command_line(r);
    l.set("@timestamp", start)
        .set("event.kind", "event")
        .set("event.category", json!(["package"]))
        .set("event.type", json!(["installation"]))
        .set("event.action", "install")
        .set(
            "event.outcome",
            if r.outcome.exit_code == 0 {
                "success"
            } else {
                "failure"
            },
        )
        .set("event.severity", worst.map_or(0, severity_number))
        .set("event.duration", r.duration_ms.saturating_mul(1_000_000))
        .set(
            "message",
            format!(
                "{command}: {}, {} finding(s)",
                r.outcome.status,
                r.findings.len()
            ),
        )
        .set("process.command_line", command)
        .set("process.executable", r.what.real_exe.as_str())
        .set("process.exit_code", r.outcome.exit_code)
        .set("process.working_directory", r.what.cwd.as_str())
        .set("pkgwarden.status", r.outcome.status.as_str())
        .set("pkgwarden.findings", r.findings.len())
        .set("pkgwarden.rules", rules)
        .opt("pkgwarden.severity", worst.map(|w| w.name()));
    l.0
}

/// The fields every line carries: the report, the install and the host.
fn base_line(r: &Report) -> Line {
    let mut base = Line(Map::new());
    base.set("labels.report_id", r.id.as_str())
        .set("labels.manager", r.what.manager.as_str())
        .set("labels.mode", r.what.mode.as_str())
        .set("event.module", "pkgwarden")
        .set("event.dataset", "pkgwarden.install")
        .set("observer.product", "pkgwarden")
        .set("observer.version", env!("CARGO_PKG_VERSION"))
        .set("user.id", r.who.uid.to_string())
        .opt("user.name", r.who.user.as_deref())
        .opt("host.hostname", r.who.host.as_deref());
    base
}

/// A line for one process of the install's tree.
fn process_line(base: &Line, start_ts: &str, n: &ProcNode) -> Line {
    let mut l = Line(base.0.clone());
    l.set("@timestamp", start_ts)
        .set("event.kind", "event")
        .set("event.category", json!(["process"]))
        .set("event.type", json!(["start"]))
        .set("event.action", "exec")
        .set("process.pid", n.pid)
        .opt("process.parent.pid", n.ppid)
        .set("process.executable", n.exe.as_str())
        .set("process.args", n.argv.clone())
        .set("process.command_line", shell_join(&n.argv))
        .opt("process.working_directory", n.cwd.as_deref())
        .opt("pkgwarden.hook", n.hook.as_deref());
    l.package(n.package.as_deref());
    l
}

/// A line for one direct network call.
fn network_line(r: &Report, base: &Line, ts: &dyn Fn(u64) -> String, e: &Event) -> Line {
    let mut l = event_line(r, base, ts, e);
    let mut types = vec!["connection"];
    match e.action {
        Action::Denied => types.push("denied"),
        Action::Allowed => types.push("allowed"),
        Action::Observed => {}
    }
    l.set("event.category", json!(["network"]))
        .set("event.type", json!(types));
    l
}

/// A line for one request through the proxy, at `at`.
fn request_line(r: &Report, base: &Line, at: &str, q: &Request) -> Line {
    let mut l = Line(base.0.clone());
    let verdict = match q.verdict {
        Verdict::Allowed => "allowed",
        Verdict::Unexpected => "unexpected",
        Verdict::Denied => "denied",
    };
    l.set("@timestamp", at)
        .set("event.kind", "event")
        .set("event.category", json!(["network", "web"]))
        .set(
            "event.type",
            json!([
                "connection",
                if q.verdict == Verdict::Denied {
                    "denied"
                } else {
                    "allowed"
                }
            ]),
        )
        .set("event.action", "proxy-request")
        .set(
            "event.outcome",
            if q.verdict == Verdict::Denied || q.upstream_failure.is_some() {
                "failure"
            } else {
                "success"
            },
        )
        .set("event.duration", q.duration_ms.saturating_mul(1_000_000))
        .opt("event.reason", q.reason.as_deref())
        .opt("error.message", q.upstream_failure.as_deref())
        .set("http.request.method", q.method.as_str())
        .set("source.bytes", q.bytes_up)
        .set("destination.bytes", q.bytes_down)
        .set("pkgwarden.verdict", verdict);
    l.endpoint(&format!("{}:{}", bracket(&q.host), q.port));
    if let Some(pid) = q.pid {
        process(r, &mut l, pid, None);
    }
    l
}

/// A line for one write outside the expected places.
fn outside_write_line(r: &Report, base: &Line, ts: &dyn Fn(u64) -> String, e: &Event) -> Line {
    let mut l = event_line(r, base, ts, e);
    let kind = match e.kind {
        EventKind::Mkdir | EventKind::Mknod | EventKind::Symlink | EventKind::Link => "creation",
        EventKind::Unlink => "deletion",
        _ => "change",
    };
    l.set("event.category", json!(["file"]))
        .set("event.type", json!([kind]))
        .set("pkgwarden.outside_expected", true);
    l
}

/// A line for one process still running when the install ended, at `at`.
fn lingering_line(base: &Line, at: &str, p: &Lingering) -> Line {
    let mut l = Line(base.0.clone());
    l.set("@timestamp", at)
        .set("event.kind", "event")
        .set("event.category", json!(["process"]))
        .set("event.type", json!(["info"]))
        .set("event.action", "lingering")
        .set("process.pid", p.pid)
        .set("process.parent.pid", p.ppid)
        .set("process.args", p.argv.clone())
        .set("process.command_line", shell_join(&p.argv));
    l
}

/// An IPv6 address in brackets, so that its port can be told apart.
fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{clean_report, dirty_report};

    fn parse(text: &str) -> Vec<Map<String, Value>> {
        text.lines()
            .map(|l| match serde_json::from_str::<Value>(l) {
                Ok(Value::Object(m)) => m,
                other => panic!("not an object: {l}: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn every_line_parses_and_has_the_required_fields() {
        let r = dirty_report("7f3a12c4e5d6f7a8");
        let text = render(&r);
        assert!(text.ends_with('\n'));
        let lines = parse(&text);
        // 7 findings, 3 execs, 1 direct connect, 4 proxied requests, 1 write
        // outside, 1 credential read, 1 lingering process.
        assert_eq!(lines.len(), 18, "{text}");
        for m in &lines {
            for key in [
                "@timestamp",
                "event.kind",
                "event.category",
                "event.action",
                "labels.report_id",
                "labels.manager",
                "user.name",
                "host.hostname",
            ] {
                assert!(m.contains_key(key), "{key} missing in {m:?}");
            }
            assert_eq!(m["labels.report_id"], "7f3a12c4e5d6f7a8");
            assert!(m["event.category"].is_array());
            let ts = m["@timestamp"].as_str().expect("timestamp");
            humantime::parse_rfc3339(ts).expect("RFC 3339 timestamp");
        }
        let alerts: Vec<_> = lines
            .iter()
            .filter(|m| m["event.kind"] == "alert")
            .collect();
        assert_eq!(alerts.len(), 7);
        for a in &alerts {
            for key in ["rule.id", "rule.name", "event.severity", "pkgwarden.action"] {
                assert!(a.contains_key(key), "{key} missing in {a:?}");
            }
            assert_eq!(a["threat.framework"], "MITRE ATT&CK");
            assert!(a["threat.technique.id"].is_array());
            assert!(a["event.severity"].is_u64());
        }
        let shell = alerts[0];
        assert_eq!(shell["rule.id"], "persist.shell-rc");
        assert_eq!(
            shell["rule.name"],
            "Shell start-up file written or replaced"
        );
        assert_eq!(shell["threat.technique.id"], json!(["T1546"]));
        assert_eq!(
            shell["threat.technique.subtechnique.id"],
            json!(["T1546.004"])
        );
        assert_eq!(shell["file.path"], "/home/alice/.bashrc");
        assert_eq!(shell["process.pid"], 4242);
        assert_eq!(shell["process.parent.pid"], 11);
        assert_eq!(shell["process.command_line"], "node postinstall.js");
        assert_eq!(shell["package.name"], "evil-pkg");
        assert_eq!(shell["package.version"], "1.0.0");
        assert_eq!(shell["event.severity"], 73);
        let exfil = alerts[2];
        assert_eq!(exfil["url.domain"], "webhook.exfil.test");
        assert_eq!(exfil["destination.port"], 443);
        let direct = alerts[3];
        assert_eq!(direct["destination.address"], "2001:db8::1");
        assert_eq!(direct["destination.port"], 8080);
        assert!(!direct.contains_key("url.domain"));

        let connect = lines
            .iter()
            .find(|m| m["event.action"] == "connect")
            .expect("connect");
        assert_eq!(connect["destination.address"], "203.0.113.9");
        assert_eq!(connect["event.outcome"], "failure");
        assert_eq!(connect["@timestamp"], "2026-03-04T05:06:08.750Z");
        let proxied: Vec<_> = lines
            .iter()
            .filter(|m| m["event.action"] == "proxy-request")
            .collect();
        assert_eq!(proxied.len(), 4);
        assert_eq!(proxied[3]["url.domain"], "webhook.exfil.test");
        let execs = lines.iter().filter(|m| m["event.action"] == "exec").count();
        assert_eq!(execs, 3);
    }

    #[test]
    fn odd_reports_still_give_one_object_per_line() {
        let mut r = clean_report("00");
        r.started = "garbage".into();
        r.who.user = None;
        r.processes[0].argv = vec!["a\nb".into()];
        let text = render(&r);
        let lines = parse(&text);
        assert_eq!(lines.len(), 2 + 3);
        assert!(lines.iter().all(|m| m["@timestamp"] == "garbage"));
        assert!(!lines[0].contains_key("user.name"));
    }

    #[test]
    fn endpoints_and_packages_split() {
        assert_eq!(split_endpoint("h.test:443"), ("h.test".into(), Some(443)));
        assert_eq!(split_endpoint("[::1]:53"), ("::1".into(), Some(53)));
        assert_eq!(split_endpoint("::1"), ("::1".into(), None));
        assert_eq!(
            split_endpoint("/run/docker.sock"),
            ("/run/docker.sock".into(), None)
        );
        assert_eq!(split_endpoint("h.test:x"), ("h.test:x".into(), None));
        assert_eq!(split_package("@scope/x@1.2.3"), ("@scope/x", Some("1.2.3")));
        assert_eq!(split_package("@scope/x"), ("@scope/x", None));
        assert_eq!(split_package("x"), ("x", None));
    }
}
