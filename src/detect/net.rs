//! `net.*`: requests through the proxy to hosts outside the allowed set,
//! exfiltration services and metadata services; traffic that bypasses the
//! proxy; DNS resolved by the install itself; privileged local sockets.

use super::data;
use super::{Evidence, Finding, Input, Procs, Severity, Taken, finding};
use crate::model::RuleId;
use crate::model::request::Verdict;
use crate::model::{Action, Event, EventKind, Request};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// systemd-resolved's sockets: they answer host lookups only, so a connect
/// is DNS by the install itself.
const RESOLVER_SOCKETS: &[&str] = &[
    "/run/systemd/resolve/io.systemd.Resolve",
    "/run/systemd/resolve/io.systemd.Resolve.Monitor",
];

/// nscd's socket: glibc asks it for users and groups as well as hosts (bash
/// does at start when `SHELL` is unset), so a connect alone is no DNS. The
/// sandbox refuses it; a host lookup then falls through to a DNS query,
/// which is seen with its name.
const NSCD_SOCKETS: &[&str] = &["/var/run/nscd/socket", "/run/nscd/socket"];

/// True when a DNS name looks like data: a label over 40 characters, or a
/// long high-entropy label.
pub fn encoded_name(name: &str) -> bool {
    name.split('.')
        .any(|l| l.len() > 40 || (l.len() >= 20 && super::binary::entropy(l.as_bytes()) > 3.8))
}

/// Findings already made: one per rule, endpoint and process.
type Seen = BTreeSet<(RuleId, String, Option<i32>)>;

/// Finds endpoint findings.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen = Seen::new();
    for r in input.requests {
        if let Some(f) = request_finding(r, procs, &mut seen) {
            out.push(f);
        }
    }
    for e in input.events {
        if let Some(f) = event_finding(e, input, procs, &mut seen) {
            out.push(f);
        }
    }
    out
}

/// The finding of one request through the proxy, unless it is allowed and
/// unremarkable or already found.
fn request_finding(r: &Request, procs: &Procs, seen: &mut Seen) -> Option<Finding> {
    let endpoint = format!("{}:{}", r.host, r.port);
    let action = if r.verdict == Verdict::Denied {
        Taken::Blocked
    } else {
        Taken::Observed
    };
    let reason = r.reason.clone().unwrap_or_default();
    if let Some(known) = &r.known_malicious {
        return known_malicious(r, known, endpoint, action, procs, seen);
    }
    let (rule, title) = request_rule(r, &endpoint, &reason)?;
    if !seen.insert((rule, endpoint.clone(), r.pid)) {
        return None;
    }
    let ev = Evidence {
        endpoint: Some(endpoint),
        detail: Some(request_detail(r, &reason)),
        ..Evidence::default()
    };
    let mut f = finding(rule, title, r.pid, procs, ev, action);
    // What pkgwarden could not derive from the tools is one policy line.
    if rule == RuleId::NetUnexpectedHost
        && r.verdict == Verdict::Denied
        && let Some(d) = f.evidence.detail.as_mut()
    {
        d.push_str(&format!(
            "; no tool configuration names this host: to allow it, add `[endpoints.allow] <manager> = [\"{}\"]` to the policy",
            r.host
        ));
    }
    let tld = r.host.rsplit('.').next().unwrap_or("");
    if rule == RuleId::NetUnexpectedHost
        && (data::endpoints().suspicious_tlds.iter().any(|t| t == tld)
            || reason.contains("loopback, private"))
    {
        f.severity = Severity::High;
    }
    Some(f)
}

/// `intel.known-malicious`: one finding per package version and process.
fn known_malicious(
    r: &Request,
    known: &crate::model::request::KnownMalicious,
    endpoint: String,
    action: Taken,
    procs: &Procs,
    seen: &mut Seen,
) -> Option<Finding> {
    let what = format!("{}@{}", known.package, known.version);
    if !seen.insert((
        RuleId::IntelKnownMalicious,
        format!("{endpoint} {what}"),
        r.pid,
    )) {
        return None;
    }
    let ev = Evidence {
        endpoint: Some(endpoint),
        detail: Some(format!(
            "{} {what}: {} ({}); {}",
            known.ecosystem,
            known.id,
            known.summary,
            if action == Taken::Blocked {
                "refused before its archive was downloaded"
            } else {
                "audit: downloaded"
            }
        )),
        ..Evidence::default()
    };
    let mut f = finding(
        RuleId::IntelKnownMalicious,
        format!("Known malicious package: {what} ({})", known.id),
        r.pid,
        procs,
        ev,
        action,
    );
    // The package is the one the feed names, not the process that asked.
    f.package = Some(what);
    Some(f)
}

/// The rule and title of a request, or `None` for an allowed request to no
/// metadata or exfiltration service.
fn request_rule(r: &Request, endpoint: &str, reason: &str) -> Option<(RuleId, String)> {
    Some(
        if data::is_metadata(&r.host) || reason.contains("metadata") {
            (
                RuleId::NetMetadata,
                format!("Cloud metadata service asked: {endpoint}"),
            )
        } else if let Some(svc) = data::exfil_service(&r.host, None) {
            (
                RuleId::NetExfilService,
                format!("Known exfiltration service contacted: {endpoint} ({svc})"),
            )
        } else if r.verdict == Verdict::Allowed {
            return None;
        } else if reason.contains("literal IP") {
            (
                RuleId::NetDirect,
                format!("Request to a raw IP address: {endpoint}"),
            )
        } else {
            (
                RuleId::NetUnexpectedHost,
                format!("Request to a host outside the allowed set: {endpoint}"),
            )
        },
    )
}

/// What was asked and what became of it: method, verdict, bytes, reason.
fn request_detail(r: &Request, reason: &str) -> String {
    format!(
        "{} {}, {} bytes up, {} down{}",
        r.method,
        match r.verdict {
            Verdict::Allowed => "allowed",
            Verdict::Unexpected => "let through",
            Verdict::Denied => "refused",
        },
        r.bytes_up,
        r.bytes_down,
        if reason.is_empty() {
            String::new()
        } else {
            format!("; {reason}")
        }
    )
}

/// The finding of one network event the supervisor saw, unless it was
/// allowed, is unremarkable or is already found.
fn event_finding(e: &Event, input: &Input, procs: &Procs, seen: &mut Seen) -> Option<Finding> {
    if !e.kind.is_network() || e.action == Action::Allowed {
        return None;
    }
    let addr = e.addr.clone().unwrap_or_default();
    let action = super::taken_of(e);
    let (rule, title, detail) = event_rule(e, &addr, &input.privileged_unix)?;
    let nscd = NSCD_SOCKETS
        .iter()
        .any(|p| addr.strip_prefix("unix:") == Some(*p));
    // nscd is asked by every process that looks up a user: one finding
    // per install, not one per process.
    let pid = if nscd { None } else { Some(e.pid) };
    if !seen.insert((rule, addr.clone(), pid)) {
        return None;
    }
    let ev = Evidence {
        endpoint: Some(addr.clone()),
        detail: detail.or_else(|| e.errno.map(|n| format!("refused with errno {n}"))),
        ..Evidence::default()
    };
    let mut f = finding(rule, title, Some(e.pid), procs, ev, action);
    if rule == RuleId::NetDns && e.dns_query.as_deref().is_some_and(encoded_name) {
        f.severity = Severity::High;
    }
    if nscd {
        f.severity = Severity::Info;
    }
    if rule == RuleId::NetLocalSocket && e.kind != EventKind::Connect && e.action != Action::Denied
    {
        f.severity = Severity::Medium;
    }
    Some(f)
}

/// A rule, a title and maybe a detail.
type Judged = (RuleId, String, Option<String>);

/// What a network event to `addr` is: a DNS query, a local socket, an IP
/// address, or an address that cannot be read; `None` when unremarkable.
fn event_rule(e: &Event, addr: &str, privileged_unix: &[PathBuf]) -> Option<Judged> {
    Some(if let Some(q) = &e.dns_query {
        let sev = if encoded_name(q) {
            "a long encoded label"
        } else {
            "a query"
        };
        (
            RuleId::NetDns,
            format!("DNS query sent by the install itself: {q}"),
            Some(sev.to_string()),
        )
    } else if let Some(path) = addr.strip_prefix("unix:") {
        return unix_rule(e, path, privileged_unix);
    } else if let Ok(sa) = addr.parse::<SocketAddr>() {
        return ip_rule(e.kind, addr, sa);
    } else if e.action == Action::Denied {
        // An address the supervisor could not read or does not know
        // (AF_UNSPEC, another family, a truncated one): refused.
        (
            RuleId::NetDirect,
            format!("Socket address the sandbox cannot judge, refused: {addr}"),
            None,
        )
    } else {
        return None;
    })
}

/// A unix socket at `path`: a name service, a privileged socket, a refusal
/// or a datagram; `None` for other connections.
fn unix_rule(e: &Event, path: &str, privileged_unix: &[PathBuf]) -> Option<Judged> {
    Some(if NSCD_SOCKETS.contains(&path) {
        (
            RuleId::NetDns,
            format!("Name service cache asked: {path}"),
            Some(
                "nscd also answers user and group lookups; a host lookup it \
                 could not answer shows as a DNS query"
                    .to_string(),
            ),
        )
    } else if RESOLVER_SOCKETS.contains(&path) {
        (
            RuleId::NetDns,
            format!("Name lookup through the resolver socket {path}"),
            None,
        )
    } else if privileged_unix.iter().any(|p| Path::new(path) == p) {
        (
            RuleId::NetLocalSocket,
            format!("Privileged local socket used: {path}"),
            None,
        )
    } else if e.action == Action::Denied {
        (
            RuleId::NetLocalSocket,
            format!("Local socket refused: {path}"),
            Some(
                "protect and block refuse sockets outside the install's own directories                  (a server there runs what any client of the user asks); if an install                  needs this one, name it in `endpoints.unix` of your user policy"
                    .to_string(),
            ),
        )
    } else if e.kind == EventKind::Send {
        // A datagram to a named socket: a way out of the sandbox
        // that no install needs (protect lets it through).
        (
            RuleId::NetLocalSocket,
            format!("Datagram sent to a local socket: {path}"),
            Some("a unix datagram with a destination".to_string()),
        )
    } else {
        return None;
    })
}

/// An IP address: a metadata service, a DNS server, or a way around the
/// proxy; `None` for a bind or listen.
fn ip_rule(kind: EventKind, addr: &str, sa: SocketAddr) -> Option<Judged> {
    Some(if data::is_metadata(&sa.ip().to_string()) {
        (
            RuleId::NetMetadata,
            format!("Cloud metadata address contacted: {addr}"),
            None,
        )
    } else if sa.port() == 53 {
        (
            RuleId::NetDns,
            format!("DNS server contacted directly: {addr}"),
            None,
        )
    } else if matches!(kind, EventKind::Bind | EventKind::Listen) {
        return None;
    } else {
        (
            RuleId::NetDirect,
            format!("Connection that bypasses the proxy: {addr}"),
            None,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Input;
    use crate::model::Request;

    fn req(host: &str, port: u16, verdict: Verdict, reason: Option<&str>) -> Request {
        Request {
            ms: 0,
            pid: Some(42),
            method: "CONNECT".into(),
            host: host.into(),
            port,
            verdict,
            reason: reason.map(str::to_string),
            bytes_up: 10,
            bytes_down: 0,
            duration_ms: 1,
            open_at_end: false,
            upstream_failure: None,
            known_malicious: None,
            held_back: Vec::new(),
            cooldown_unfiltered: None,
        }
    }

    #[test]
    fn endpoint_classes_become_their_rules() {
        let requests = vec![
            req(
                "abc.webhook.site",
                443,
                Verdict::Unexpected,
                Some("not a configured registry"),
            ),
            req(
                "169.254.169.254",
                80,
                Verdict::Denied,
                Some("cloud metadata service"),
            ),
            req(
                "evil.example.tk",
                443,
                Verdict::Unexpected,
                Some("not a configured registry"),
            ),
            req("registry.internal", 443, Verdict::Allowed, None),
            req(
                "10.1.2.3",
                443,
                Verdict::Denied,
                Some("a literal IP address that is not a registry"),
            ),
        ];
        let input = Input {
            requests: &requests,
            ..Input::default()
        };
        let procs = crate::detect::Procs::new(&[]);
        let f = check(&input, &procs);
        let rules: Vec<(RuleId, Severity, Taken)> =
            f.iter().map(|x| (x.rule, x.severity, x.action)).collect();
        assert_eq!(
            rules,
            vec![
                (RuleId::NetExfilService, Severity::High, Taken::Observed),
                (RuleId::NetMetadata, Severity::High, Taken::Blocked),
                (RuleId::NetUnexpectedHost, Severity::High, Taken::Observed),
                (RuleId::NetDirect, Severity::High, Taken::Blocked),
            ]
        );
        assert_eq!(f[0].pid, Some(42));
        assert_eq!(f[0].attack, vec!["T1567".to_string()]);
    }

    fn unix_connect(pid: i32, path: &str) -> crate::model::Event {
        crate::model::Event {
            pid,
            syscall: "connect".into(),
            kind: EventKind::Connect,
            addr: Some(format!("unix:{path}")),
            action: Action::Denied,
            errno: Some(13),
            ..Default::default()
        }
    }

    #[test]
    fn nscd_is_one_info_finding_and_resolved_stays_dns() {
        let events = vec![
            unix_connect(10, "/var/run/nscd/socket"),
            unix_connect(11, "/var/run/nscd/socket"),
            unix_connect(12, "/run/systemd/resolve/io.systemd.Resolve"),
        ];
        let input = Input {
            events: &events,
            ..Input::default()
        };
        let f = check(&input, &crate::detect::Procs::new(&[]));
        let got: Vec<(RuleId, Severity, Option<i32>)> =
            f.iter().map(|x| (x.rule, x.severity, x.pid)).collect();
        assert_eq!(
            got,
            vec![
                (RuleId::NetDns, Severity::Info, Some(10)),
                (RuleId::NetDns, Severity::Medium, Some(12)),
            ]
        );
        assert_eq!(f[0].action, Taken::Blocked);
    }

    #[test]
    fn encoded_dns_names() {
        assert!(!encoded_name("example.org"));
        assert!(encoded_name(
            "aGVsbG8gd29ybGQgdGhpcyBpcyBzZWNyZXQgZGF0YQ.x.example"
        ));
        assert!(encoded_name("k2j3h4g5f6d7s8a9q0w1e2r3.example"));
        assert!(!encoded_name("registry.example.internal"));
    }
}
