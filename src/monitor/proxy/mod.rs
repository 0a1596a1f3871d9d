//! The install's only way out: a loopback HTTP proxy that sees host names.
//!
//! `CONNECT host:port` tunnels and absolute-URI plain HTTP requests, served by
//! hyper on a tokio runtime of its own (one thread, started by
//! [`Proxy::start`] only, so a shim that passes through never starts it).
//! No TLS interception but one: when a feed of known-malicious packages is
//! present, `CONNECT`s to the manager's own registries are terminated with a
//! per-install CA (`tls`, `intercept`) so archive paths can be checked;
//! every other tunnel carries bytes the proxy never reads.
//! Each request carries a per-install token in its proxy credentials; other
//! local processes cannot use the proxy. The supervisor tells the proxy which
//! sandboxed pid opened each connection (it performs those connects itself),
//! so every request is attributed.
//!
//! - [`decide`]: the pure policy decision for one `host:port`;
//! - `record`: what was decided, kept the moment it is decided;
//! - `server`: the client side (hyper server, `CONNECT` upgrades);
//! - `upstream`: the origin side (hyper-util's pooled client, tunnels, the
//!   user's own proxy).

mod cooldown;
mod decide;
mod intercept;
mod record;
mod relay;
mod server;
mod tls;
mod upstream;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;

pub use cooldown::CooldownFilter;
pub use decide::decide;

pub use crate::model::request::{Request, Verdict};
use base64::Engine as _;
use std::collections::HashMap;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Which hosts the proxy lets through.
#[derive(Clone, Debug, Default)]
pub struct ProxyPolicy {
    /// `host:port` (lowercase) of the registries and the policy's extra hosts.
    pub allowed: Vec<String>,
    /// Let unknown hosts through (recorded as unexpected): protect and audit.
    pub allow_unknown: bool,
    /// `host:port` let through in every mode but recorded as unexpected:
    /// the policy accepts them for one package only, which the verdict on
    /// the findings checks.
    pub tolerated: Vec<String>,
    /// Refuse literal IP addresses that are not allowed (policy `raw-ip`).
    pub deny_raw_ip: bool,
    /// The user's own proxy, which the allowed requests go through.
    pub upstream: Option<Upstream>,
    /// Timeouts and sizes; `Limits::default()` unless a test needs others.
    pub limits: Limits,
    /// The offline feed of known-malicious packages, checked against each
    /// archive an allowed plain-HTTP request downloads; `None`: no feed.
    pub intel: Option<Arc<crate::intel::Check>>,
    /// Refuse (403) what the feed names: every mode but audit.
    pub intel_refuses: bool,
    /// `host:port` of the manager's registries reached over TLS: their
    /// `CONNECT`s are terminated when a feed is present (`intel`), so the
    /// feed sees what they download. Never the policy's extra hosts.
    pub inspect: Vec<String>,
    /// The CA file the manager is configured with: trusted, besides the
    /// system store, when the proxy verifies a registry.
    pub manager_ca: Option<std::path::PathBuf>,
    /// The release-age cooldown the proxy enforces (the manager has no date
    /// gate of its own): its registries' metadata filtered at the cut-off.
    pub cooldown: Option<Arc<CooldownFilter>>,
}

impl ProxyPolicy {
    /// True when the `CONNECT`s to the manager's registries over TLS are
    /// terminated: something must read them (the feed, the cooldown's
    /// filter) and there are some.
    pub fn terminates_tls(&self) -> bool {
        (self.intel.is_some() || self.cooldown.is_some()) && !self.inspect.is_empty()
    }
}

/// The proxy's bounds: what a slow, huge or numerous client gets refused.
#[derive(Clone, Debug)]
pub struct Limits {
    /// A request head must arrive within this long. hyper starts the same
    /// timer when a kept-alive connection waits for its next request, so it
    /// is also the client side's idle timeout.
    pub head_timeout: Duration,
    /// Largest request head, in bytes (over it: 431).
    pub max_head: usize,
    /// Client connections open at once (over it: 503).
    pub max_connections: usize,
    /// A `CONNECT` tunnel with no byte either way for this long is closed
    /// (and its record says so). Longer than the longest default timeout of
    /// the managers' own clients, so only a tunnel they have given up on is
    /// cut; a long download is never idle.
    pub tunnel_idle: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            head_timeout: Duration::from_secs(30),
            max_head: 64 * 1024,
            max_connections: 256,
            tunnel_idle: Duration::from_secs(300),
        }
    }
}

/// An upstream proxy (a corporate proxy the user already had).
#[derive(Clone, Debug, Default)]
pub struct Upstream {
    /// `host:port` of the upstream proxy.
    pub addr: String,
    /// `Proxy-Authorization` value for it, from its URL's credentials.
    pub auth: Option<String>,
    /// The user's NO_PROXY entries: hosts reached directly, not through it.
    pub no_proxy: Vec<String>,
}

impl Upstream {
    /// From the user's environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
    /// either case, and `NO_PROXY`); `None` when there is no proxy.
    pub fn from_env(env: &[(String, String)]) -> Option<Upstream> {
        let get = |k: &str| {
            env.iter()
                .find(|(n, v)| n.eq_ignore_ascii_case(k) && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        let url = get("HTTPS_PROXY")
            .or_else(|| get("HTTP_PROXY"))
            .or_else(|| get("ALL_PROXY"))?;
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let authority = rest.split('/').next()?;
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let addr = if hostport
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        };
        Some(Upstream {
            addr,
            auth: userinfo.map(|u| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(u)
                )
            }),
            no_proxy: get("NO_PROXY")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().trim_start_matches('.').to_ascii_lowercase())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// True when `host` goes through this upstream (not in NO_PROXY).
    fn covers(&self, host: &str) -> bool {
        !self
            .no_proxy
            .iter()
            .any(|n| n == "*" || host == n || host.ends_with(&format!(".{n}")))
    }
}

/// A running proxy.
pub struct Proxy {
    /// Where it listens (always 127.0.0.1).
    pub addr: SocketAddr,
    /// The credential clients must present.
    pub token: String,
    /// Local port of a connection → the sandboxed pid that opened it.
    pub peers: Arc<Mutex<HashMap<u16, i32>>>,
    book: Arc<record::Book>,
    /// The install's CA certificate (public part), when registries over TLS
    /// are inspected; or why they could not be.
    inspection: Option<Result<String, String>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts the proxy on an ephemeral loopback port, on a thread running
    /// its own single-threaded tokio runtime.
    pub fn start(policy: ProxyPolicy, start: Instant) -> io::Result<Proxy> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let token = random_token()?;
        let book = Arc::new(record::Book::new(start));
        let peers = Arc::new(Mutex::new(HashMap::new()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        // Only with a feed or the cooldown's filter, and a registry over
        // TLS: nothing of TLS is made otherwise.
        let authority = policy.terminates_tls().then(|| {
            tls::Authority::new(policy.manager_ca.as_deref())
                .map(Arc::new)
                .map_err(|e| e.to_string())
        });
        let inspection = authority.as_ref().map(|a| {
            a.as_ref()
                .map(|a| a.ca_pem().to_string())
                .map_err(Clone::clone)
        });
        let ctx = server::Ctx::new(
            policy,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("pkgwarden:{token}"))
            ),
            book.clone(),
            peers.clone(),
            authority,
        );
        let thread = std::thread::Builder::new()
            .name("pkgwarden-proxy".into())
            .spawn(move || {
                runtime.block_on(server::run(ctx, listener, stopped));
                // Dropping the runtime ends the tasks still running (tunnels
                // kept by detached processes): `finish` recorded them first.
                drop(runtime);
            })?;
        Ok(Proxy {
            addr,
            token,
            peers,
            book,
            inspection,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The install's CA certificate (PEM, public part) when the registries
    /// over TLS are inspected; `Err(why)` when they should be and cannot be
    /// (their `CONNECT`s are then refused but in audit); `None` when there
    /// is nothing to inspect (no feed, or no registry over TLS).
    pub fn inspection(&self) -> Option<Result<&str, &str>> {
        self.inspection
            .as_ref()
            .map(|r| r.as_deref().map_err(String::as_str))
    }

    /// The proxy URL with its credentials, for the child's environment.
    pub fn url(&self) -> String {
        format!("http://pkgwarden:{}@{}", self.token, self.addr)
    }

    /// Stops the proxy and returns what was recorded; requests and tunnels
    /// still open are closed and marked `open_at_end`.
    pub fn finish(mut self) -> Vec<Request> {
        let records = self.book.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        records
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn random_token() -> io::Result<String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
