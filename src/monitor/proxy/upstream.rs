//! The origin side: where an allowed request's connection goes. Straight to
//! the addresses the decision resolved (never resolved again: what was judged
//! is what is reached), or through the user's own proxy. Plain HTTP goes
//! through hyper-util's pooled client with this connector; tunnels get a
//! bare stream.

use super::Upstream;
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long connecting to a host (or to the user's proxy) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where connections go: the user's proxy, and the addresses each judged
/// `host:port` resolved to.
pub struct Routes {
    upstream: Option<Upstream>,
    resolved: Mutex<HashMap<String, Vec<SocketAddr>>>,
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

/// hyper-util's connector for plain HTTP: the pool asks it for a connection
/// to a URI's authority.
#[derive(Clone)]
pub struct Connector(pub Arc<Routes>);

impl tower_service::Service<Uri> for Connector {
    type Response = Stream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let routes = self.0.clone();
        Box::pin(async move {
            let host = uri.host().unwrap_or_default().to_string();
            let port = uri.port_u16().unwrap_or(80);
            if let Some(u) = routes.chain(&host) {
                let s = connect_named(&u.addr).await?;
                return Ok(Stream {
                    io: TokioIo::new(s),
                    proxied: true,
                });
            }
            let s = connect_any(&routes.addrs(&host, port)).await?;
            Ok(Stream {
                io: TokioIo::new(s),
                proxied: false,
            })
        })
    }
}

/// A pooled connection; `proxied` makes hyper send requests in absolute form
/// (to the user's proxy).
pub struct Stream {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new().proxy(self.proxied)
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
