//! `net.*`: requests through the proxy to hosts outside the allowed set,
//! exfiltration services and metadata services; traffic that bypasses the
//! proxy; DNS resolved by the install itself; privileged local sockets.

use super::data;
use super::{Evidence, Finding, Input, Procs, Severity, Taken, finding};
use crate::model::RuleId;
use crate::model::request::Verdict;
use crate::model::{Action, EventKind};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

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

/// Finds endpoint findings.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for r in input.requests {
        let endpoint = format!("{}:{}", r.host, r.port);
        let action = if r.verdict == Verdict::Denied {
            Taken::Blocked
        } else {
            Taken::Observed
        };
        let reason = r.reason.clone().unwrap_or_default();
        let (rule, title) = if data::is_metadata(&r.host) || reason.contains("metadata") {
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
            continue;
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
        };
        if !seen.insert((rule, endpoint.clone(), r.pid)) {
            continue;
        }
        let ev = Evidence {
            endpoint: Some(endpoint),
            detail: Some(format!(
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
            )),
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
        out.push(f);
    }
    for e in input.events {
        if !e.kind.is_network() || e.action == Action::Allowed {
            continue;
        }
        let addr = e.addr.clone().unwrap_or_default();
        let action = super::taken_of(e);
        let (rule, title, detail) = if let Some(q) = &e.dns_query {
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
            if NSCD_SOCKETS.contains(&path) {
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
            } else if input.privileged_unix.iter().any(|p| Path::new(path) == p) {
                (
                    RuleId::NetLocalSocket,
                    format!("Privileged local socket used: {path}"),
                    None,
                )
            } else if e.action == Action::Denied {
                (
                    RuleId::NetLocalSocket,
                    format!("Local socket refused: {path}"),
                    None,
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
                continue;
            }
        } else if let Ok(sa) = addr.parse::<SocketAddr>() {
            if data::is_metadata(&sa.ip().to_string()) {
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
            } else if matches!(e.kind, EventKind::Bind | EventKind::Listen) {
                continue;
            } else {
                (
                    RuleId::NetDirect,
                    format!("Connection that bypasses the proxy: {addr}"),
                    None,
                )
            }
        } else if e.action == Action::Denied {
            // An address the supervisor could not read or does not know
            // (AF_UNSPEC, another family, a truncated one): refused.
            (
                RuleId::NetDirect,
                format!("Socket address the sandbox cannot judge, refused: {addr}"),
                None,
            )
        } else {
            continue;
        };
        let nscd = NSCD_SOCKETS
            .iter()
            .any(|p| addr.strip_prefix("unix:") == Some(*p));
        // nscd is asked by every process that looks up a user: one finding
        // per install, not one per process.
        let pid = if nscd { None } else { Some(e.pid) };
        if !seen.insert((rule, addr.clone(), pid)) {
            continue;
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
        if rule == RuleId::NetLocalSocket
            && e.kind != EventKind::Connect
            && e.action != Action::Denied
        {
            f.severity = Severity::Medium;
        }
        out.push(f);
    }
    out
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
