//! The policy decision for one `host:port`: a plain function of the policy
//! and what the name resolves to, nothing of the transport.

use super::{ProxyPolicy, Verdict};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// Cloud metadata endpoints: refused in every mode.
fn is_metadata(host: &str, ip: Option<IpAddr>) -> bool {
    let names = ["metadata.google.internal", "metadata", "instance-data"];
    if names.contains(&host) {
        return true;
    }
    matches!(ip, Some(IpAddr::V4(v4)) if v4.octets()[..2] == [169, 254])
        || matches!(ip, Some(IpAddr::V6(v6)) if v6.segments()[..4] == [0xfd00, 0xec2, 0, 0])
}

/// Loopback, private and link-local addresses: a name that resolves there is
/// refused unless allowed (DNS rebinding onto local services).
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_loopback() || v.is_private() || v.is_link_local() || v.is_unspecified()
        }
        IpAddr::V6(v) => {
            v.is_loopback()
                || v.is_unspecified()
                || (v.segments()[0] & 0xfe00) == 0xfc00
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// The decision for `host:port`, why (when not plainly allowed), and the
/// addresses to connect to (resolved once, here: what was judged is what is
/// reached).
pub fn decide(
    policy: &ProxyPolicy,
    host: &str,
    port: u16,
) -> (Verdict, Option<String>, Vec<SocketAddr>) {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let literal: Option<IpAddr> = host.parse().ok();
    if is_metadata(&host, literal) {
        return (
            Verdict::Denied,
            Some("cloud metadata service".into()),
            Vec::new(),
        );
    }
    let key = |h: &str| {
        if h.contains(':') {
            format!("[{h}]:{port}")
        } else {
            format!("{h}:{port}")
        }
    };
    let allowed = policy.allowed.iter().any(|a| *a == key(&host));
    let tolerated = policy.tolerated.iter().any(|t| *t == key(&host));
    // A name nothing lets through is refused before it is looked up: the
    // lookup would carry the name to whichever server answers for its
    // domain (DNS exfiltration from block). Protect and audit look unknown
    // names up (to refuse internal and metadata addresses) and reach them.
    if !allowed && !tolerated && !policy.allow_unknown {
        let why = if literal.is_some() && policy.deny_raw_ip {
            "a literal IP address that is not a registry"
        } else {
            "not a configured registry or allowed host"
        };
        return (Verdict::Denied, Some(why.into()), Vec::new());
    }
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map(|a| a.collect())
        .unwrap_or_default();
    // Behind the user's proxy a name need not resolve here: the upstream
    // resolves it (and the rebinding check cannot apply).
    let via_upstream = policy.upstream.as_ref().is_some_and(|u| u.covers(&host));
    if addrs.is_empty() && !via_upstream {
        return (Verdict::Denied, Some("name does not resolve".into()), addrs);
    }
    if allowed {
        return (Verdict::Allowed, None, addrs);
    }
    if literal.is_some() && policy.deny_raw_ip {
        return (
            Verdict::Denied,
            Some("a literal IP address that is not a registry".into()),
            Vec::new(),
        );
    }
    if addrs.iter().any(|a| is_metadata(&host, Some(a.ip()))) {
        return (
            Verdict::Denied,
            Some("resolves to a cloud metadata address".into()),
            Vec::new(),
        );
    }
    // A host the policy allows one package version to reach: let through
    // and recorded (the verdict accepts only that package's requests), also
    // where it resolves inside, as an `endpoints.allow` host would be.
    if tolerated {
        return (
            Verdict::Unexpected,
            Some("allowed for one package version only".into()),
            addrs,
        );
    }
    if addrs.iter().any(|a| is_internal(a.ip())) {
        return (
            Verdict::Denied,
            Some("resolves to a loopback, private or link-local address".into()),
            Vec::new(),
        );
    }
    if policy.allow_unknown {
        (
            Verdict::Unexpected,
            Some("not a configured registry".into()),
            addrs,
        )
    } else {
        (
            Verdict::Denied,
            Some("not a configured registry or allowed host".into()),
            Vec::new(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_refuses_an_unknown_name_without_looking_it_up() {
        let block = ProxyPolicy {
            allowed: vec!["127.0.0.1:4873".into()],
            allow_unknown: false,
            ..ProxyPolicy::default()
        };
        // `.invalid` never resolves: a lookup would answer "does not
        // resolve"; the policy's answer comes first.
        let (v, why, addrs) = decide(&block, "pw-secret-6c65.exfil.invalid", 443);
        assert_eq!(v, Verdict::Denied);
        assert_eq!(
            why.as_deref(),
            Some("not a configured registry or allowed host")
        );
        assert!(addrs.is_empty());
        // Protect looks it up (and says so).
        let protect = ProxyPolicy {
            allow_unknown: true,
            ..block
        };
        let (v, why, _) = decide(&protect, "pw-secret-6c65.exfil.invalid", 443);
        assert_eq!(
            (v, why.as_deref()),
            (Verdict::Denied, Some("name does not resolve"))
        );
    }

    #[test]
    fn metadata_and_internal_addresses_are_refused_unless_allowed() {
        let p = ProxyPolicy {
            allowed: vec!["127.0.0.1:4873".into()],
            allow_unknown: true,
            tolerated: Vec::new(),
            deny_raw_ip: false,
            upstream: None,
            limits: Default::default(),
            ..ProxyPolicy::default()
        };
        assert_eq!(decide(&p, "127.0.0.1", 4873).0, Verdict::Allowed);
        assert_eq!(decide(&p, "127.0.0.1", 22).0, Verdict::Denied);
        assert_eq!(decide(&p, "localhost", 80).0, Verdict::Denied);
        assert_eq!(decide(&p, "169.254.169.254", 80).0, Verdict::Denied);
        assert_eq!(
            decide(&p, "metadata.google.internal", 80).0,
            Verdict::Denied
        );
        assert_eq!(decide(&p, "10.1.2.3", 443).0, Verdict::Denied);
        // An allowed metadata address is still refused.
        let q = ProxyPolicy {
            allowed: vec!["169.254.169.254:80".into()],
            allow_unknown: true,
            tolerated: Vec::new(),
            deny_raw_ip: true,
            upstream: None,
            limits: Default::default(),
            ..ProxyPolicy::default()
        };
        assert_eq!(decide(&q, "169.254.169.254", 80).0, Verdict::Denied);
        // A tolerated host passes, recorded, in block too, where it resolves
        // inside as well; a metadata name never does.
        let t = ProxyPolicy {
            allow_unknown: false,
            tolerated: vec!["localhost:8080".into(), "169.254.169.254:80".into()],
            ..q.clone()
        };
        assert_eq!(decide(&t, "localhost", 8080).0, Verdict::Unexpected);
        assert_eq!(decide(&t, "localhost", 8081).0, Verdict::Denied);
        assert_eq!(decide(&t, "169.254.169.254", 80).0, Verdict::Denied);
        let (v, reason, _) = decide(&q, "203.0.113.9", 443);
        assert_eq!(v, Verdict::Denied);
        assert!(reason.unwrap().contains("literal IP"));
    }
}
