//! The origin side: where an allowed request's connection goes. Straight to
//! the addresses the decision resolved (never resolved again: what was judged
//! is what is reached), or through the user's own proxy. Plain HTTP goes
//! through hyper's HTTP/1 client on connections each client connection
//! keeps for itself, left idle for the next client connection when it
//! closes; tunnels get a bare stream.

use super::Upstream;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A relayed body, either way.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// How long connecting to a host (or to the user's proxy) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where connections go: the user's proxy, the addresses each judged
/// `host:port` resolved to, and the idle origin connections that client
/// connections left behind.
pub struct Routes {
    upstream: Option<Upstream>,
    resolved: Mutex<HashMap<String, Vec<SocketAddr>>>,
    /// Idle HTTP/1 connections by `host:port`, for the next client
    /// connection: managers open many short client connections, and a fresh
    /// origin handshake for each doubled a new connection's latency.
    idle: Mutex<HashMap<String, Vec<SendRequest<Body>>>>,
}

/// `host:port` as the routes key it (lowercase, no brackets).
fn key(host: &str, port: u16) -> String {
    format!(
        "{}:{port}",
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    )
}

impl Routes {
    /// Routes through `upstream` (the user's proxy), if any.
    pub fn new(upstream: Option<Upstream>) -> Routes {
        Routes {
            upstream,
            resolved: Mutex::new(HashMap::new()),
            idle: Mutex::new(HashMap::new()),
        }
    }

    /// The user's proxy, when `host` goes through it.
    pub fn chain(&self, host: &str) -> Option<&Upstream> {
        self.upstream
            .as_ref()
            .filter(|u| u.covers(&host.to_ascii_lowercase()))
    }

    /// Keeps the addresses an allowed `host:port` was judged on.
    pub fn remember(&self, host: &str, port: u16, addrs: Vec<SocketAddr>) {
        if let Ok(mut r) = self.resolved.lock() {
            r.insert(key(host, port), addrs);
        }
    }

    fn addrs(&self, host: &str, port: u16) -> Vec<SocketAddr> {
        self.resolved
            .lock()
            .ok()
            .and_then(|r| r.get(&key(host, port)).cloned())
            .unwrap_or_default()
    }

    /// A tunnel's far end: a stream to `host:port`, directly or through a
    /// `CONNECT` to the user's proxy.
    pub async fn tunnel(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        match self.chain(host) {
            None => connect_any(&self.addrs(host, port)).await,
            Some(u) => {
                let mut s = connect_named(&u.addr).await?;
                let auth = u
                    .auth
                    .as_ref()
                    .map(|a| format!("Proxy-Authorization: {a}\r\n"))
                    .unwrap_or_default();
                s.write_all(
                    format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n")
                        .as_bytes(),
                )
                .await?;
                let head = read_head(&mut s).await?;
                let ok = head
                    .split(|&b| b == b' ')
                    .nth(1)
                    .is_some_and(|code| code == b"200");
                if ok {
                    Ok(s)
                } else {
                    Err(io::Error::other(format!(
                        "the upstream proxy refused the tunnel: {}",
                        String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or(b""))
                    )))
                }
            }
        }
    }
}

/// Why reaching a host failed, in a few words a user can act on
/// (`connection refused`, `DNS lookup failed`, `TLS failed`, `timed out`),
/// from the first I/O error in `e`'s chain, then its message.
pub fn failure_cause(e: &io::Error) -> String {
    let mut kinds = vec![e.kind()];
    let mut text = e.to_string();
    // The wrapped error's display is `e`'s own; its sources add to it.
    let mut src: Option<&(dyn std::error::Error + 'static)> = match e.get_ref() {
        Some(inner) => Some(inner),
        None => None,
    };
    let mut first = true;
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            kinds.push(io.kind());
        }
        if !first {
            text.push_str(&format!(": {s}"));
        }
        first = false;
        src = s.source();
    }
    let lower = text.to_ascii_lowercase();
    let kind = kinds.into_iter().find(|k| *k != io::ErrorKind::Other);
    let words = match kind {
        Some(io::ErrorKind::ConnectionRefused) => "connection refused",
        Some(io::ErrorKind::TimedOut) => "timed out",
        Some(io::ErrorKind::ConnectionReset) => "connection reset",
        Some(io::ErrorKind::HostUnreachable) => "host unreachable",
        Some(io::ErrorKind::NetworkUnreachable) => "network unreachable",
        _ if lower.contains("lookup")
            || lower.contains("name or service")
            || lower.contains("dns") =>
        {
            "DNS lookup failed"
        }
        _ if lower.contains("tls")
            || lower.contains("certificate")
            || lower.contains("handshake") =>
        {
            "TLS failed"
        }
        _ => return text,
    };
    format!("{words} ({text})")
}

/// Reads a response head byte by byte: nothing past it is consumed, so the
/// tunnel's first bytes stay in the stream.
async fn read_head(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return Err(io::Error::other("the upstream proxy's answer is too long"));
        }
        head.push(s.read_u8().await?);
    }
    Ok(head)
}

/// The first of `addrs` that answers.
async fn connect_any(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::other("no address to connect to");
    for a in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(a)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = io::Error::new(io::ErrorKind::TimedOut, format!("connecting to {a}")),
        }
    }
    Err(last)
}

/// The user's proxy, by its `host:port`.
async fn connect_named(addr: &str) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(addr).await?.collect();
    connect_any(&addrs).await
}

/// Plain-HTTP connections to hosts that one client connection has used,
/// kept for its next requests: hyper's HTTP/1 client on each, one per
/// `host:port`, parked for other client connections when this one closes.
#[derive(Default)]
pub struct Kept {
    senders: Vec<(String, SendRequest<Body>)>,
}

/// Hosts one client connection keeps connections to (a client asking more
/// hosts than this through one connection reconnects to the oldest).
const KEPT_HOSTS: usize = 8;

/// Idle origin connections kept per `host:port` after their client
/// connections closed (more are closed).
const IDLE_PER_HOST: usize = 8;

/// Largest read buffer of an upstream connection: a large body comes
/// through in big chunks, few reads and writes.
const UPSTREAM_BUF: usize = 1024 * 1024;

impl Routes {
    /// Sends a plain-HTTP request to `host:port`: on the connection `kept`
    /// for this client, or a fresh one (also when the kept one turns out
    /// closed before the request went out: the origin closed it while idle).
    pub async fn send(
        &self,
        kept: &Mutex<Kept>,
        host: &str,
        port: u16,
        mut req: Request<Body>,
    ) -> io::Result<Response<Incoming>> {
        let k = key(host, port);
        let proxied = self.chain(host).is_some();
        if !req.headers().contains_key(header::HOST)
            && let Some(a) = req.uri().authority()
            && let Ok(v) = HeaderValue::from_str(a.as_str())
        {
            req.headers_mut().insert(header::HOST, v);
        }
        if !proxied {
            // Origins get origin-form (`/path?query`); the user's proxy the
            // absolute form.
            let mut parts = std::mem::take(req.uri_mut()).into_parts();
            parts.scheme = None;
            parts.authority = None;
            if parts.path_and_query.is_none() {
                parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
            }
            *req.uri_mut() = Uri::from_parts(parts).map_err(io::Error::other)?;
        }
        let reused = kept.lock().ok().and_then(|mut kept| {
            let i = kept.senders.iter().position(|(key, _)| *key == k)?;
            Some(kept.senders.swap_remove(i).1)
        });
        let mut ready = None;
        if let Some(mut s) = reused
            && !s.is_closed()
            && s.ready().await.is_ok()
        {
            ready = Some(s);
        }
        if ready.is_none() {
            ready = self.unpark(&k);
        }
        let fresh = ready.is_none();
        let mut sender = match ready {
            Some(s) => s,
            None => self.open(host, port).await?,
        };
        let resp = match sender.try_send_request(req).await {
            Ok(r) => r,
            Err(mut e) => match e.take_message() {
                // Never written: the kept connection had closed.
                Some(req) if !fresh => {
                    sender = self.open(host, port).await?;
                    sender.send_request(req).await.map_err(io::Error::other)?
                }
                _ => return Err(io::Error::other(e.into_error())),
            },
        };
        if let Ok(mut kept) = kept.lock() {
            if kept.senders.len() >= KEPT_HOSTS {
                kept.senders.remove(0);
            }
            kept.senders.push((k, sender));
        }
        Ok(resp)
    }

    /// Hands the connections a closed client connection kept to the next
    /// client connections: only those idle and open (one still carrying a
    /// response, or closed by its origin, is dropped).
    pub fn park(&self, kept: &Mutex<Kept>) {
        let senders = match kept.lock() {
            Ok(mut k) => std::mem::take(&mut k.senders),
            Err(_) => return,
        };
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        for (k, s) in senders {
            if s.is_ready() && !s.is_closed() {
                let list = idle.entry(k).or_default();
                if list.len() < IDLE_PER_HOST {
                    list.push(s);
                }
            }
        }
    }

    /// Keeps one idle connection under `k` for the next client connection
    /// (a terminated registry's: its key is apart from plain HTTP's).
    pub fn park_one(&self, k: String, s: SendRequest<Body>) {
        if !s.is_ready() || s.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(k).or_default();
            if list.len() < IDLE_PER_HOST {
                list.push(s);
            }
        }
    }

    /// An idle connection to `host:port` a closed client connection left.
    pub fn unpark(&self, k: &str) -> Option<SendRequest<Body>> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(k)?;
        while let Some(s) = list.pop() {
            if s.is_ready() && !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    /// A fresh HTTP/1 connection to `host:port` (or to the user's proxy),
    /// its connection task on the runtime.
    async fn open(&self, host: &str, port: u16) -> io::Result<SendRequest<Body>> {
        let stream = match self.chain(host) {
            Some(u) => connect_named(&u.addr).await?,
            None => connect_any(&self.addrs(host, port)).await?,
        };
        handshake(stream).await
    }
}

/// An HTTP/1 client connection over `stream` (plain or TLS), its
/// connection task on the runtime.
pub(super) async fn handshake<S>(stream: S) -> io::Result<SendRequest<Body>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(UPSTREAM_BUF)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
