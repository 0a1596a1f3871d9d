//! The install's only way out: a loopback HTTP proxy that sees host names.
//!
//! `CONNECT host:port` tunnels and absolute-URI plain HTTP requests, parsed
//! with httparse. No TLS interception: the proxy sees names and byte counts,
//! never content. Each request carries a per-install token in its proxy
//! credentials; other local processes cannot use the proxy. The supervisor
//! tells the proxy which sandboxed pid opened each connection (it performs
//! those connects itself), so every request is attributed.
//!
//! One thread per connection: an install opens tens of connections, not
//! thousands.

use base64::Engine as _;
use serde::Serialize;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Refuse literal IP addresses that are not allowed (policy `raw-ip`).
    pub deny_raw_ip: bool,
    /// The user's own proxy, which the allowed requests go through.
    pub upstream: Option<Upstream>,
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

/// What the proxy decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// A registry or an allowed host.
    Allowed,
    /// Not expected, let through (protect, audit).
    Unexpected,
    /// Refused.
    Denied,
}

/// One request through the proxy.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Request {
    /// Milliseconds since the install started.
    pub ms: u64,
    /// The sandboxed process that opened the connection, when known.
    pub pid: Option<i32>,
    /// `CONNECT`, `GET`, …
    pub method: String,
    /// The host asked for.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The decision.
    pub verdict: Verdict,
    /// Why, when not plainly allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Bytes from the client.
    pub bytes_up: u64,
    /// Bytes to the client.
    pub bytes_down: u64,
    /// How long the connection lasted.
    pub duration_ms: u64,
}

/// A running proxy.
pub struct Proxy {
    /// Where it listens (always 127.0.0.1).
    pub addr: SocketAddr,
    /// The credential clients must present.
    pub token: String,
    /// Local port of a connection → the sandboxed pid that opened it.
    pub peers: Arc<Mutex<HashMap<u16, i32>>>,
    records: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts the proxy on an ephemeral loopback port.
    pub fn start(policy: ProxyPolicy, start: Instant) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let token = random_token()?;
        let records = Arc::new(Mutex::new(Vec::new()));
        let peers = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = Arc::new(Ctx {
            policy,
            expected_auth: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("pkgwarden:{token}"))
            ),
            records: records.clone(),
            peers: peers.clone(),
            start,
        });
        let stop2 = stop.clone();
        let accept = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        let ctx = ctx.clone();
                        std::thread::spawn(move || serve(&ctx, stream, peer));
                    }
                    // Wait for the next connection, not a fixed nap: sleeping
                    // made every new connection wait up to 5 ms (measured by
                    // the bench below). The timeout keeps `stop` checked.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        wait_readable(&listener, 5);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Proxy {
            addr,
            token,
            peers,
            records,
            stop,
            accept: Some(accept),
        })
    }

    /// The proxy URL with its credentials, for the child's environment.
    pub fn url(&self) -> String {
        format!("http://pkgwarden:{}@{}", self.token, self.addr)
    }

    /// Stops accepting and returns what was recorded (connections still
    /// open are recorded when they end, if before this call).
    pub fn finish(mut self) -> Vec<Request> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let mut r = self.records.lock().map(|r| r.clone()).unwrap_or_default();
        r.sort_by_key(|x| x.ms);
        r
    }
}

struct Ctx {
    policy: ProxyPolicy,
    expected_auth: String,
    records: Arc<Mutex<Vec<Request>>>,
    peers: Arc<Mutex<HashMap<u16, i32>>>,
    start: Instant,
}

impl Ctx {
    /// The request carries this install's proxy credentials.
    fn authorized(&self, headers: &[httparse::Header<'_>]) -> bool {
        headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("proxy-authorization")
                && std::str::from_utf8(h.value).is_ok_and(|v| v.trim() == self.expected_auth)
        })
    }

    /// Decides on `host:port` and starts the request's record; also returns
    /// the addresses to connect to when allowed.
    fn judge(
        &self,
        pid: Option<i32>,
        method: &str,
        host: &str,
        port: u16,
    ) -> (Request, Vec<SocketAddr>) {
        let (verdict, reason, addrs) = decide(&self.policy, host, port);
        let record = Request {
            ms: self.start.elapsed().as_millis() as u64,
            pid,
            method: method.to_string(),
            host: host.to_string(),
            port,
            verdict,
            reason,
            bytes_up: 0,
            bytes_down: 0,
            duration_ms: 0,
        };
        (record, addrs)
    }

    /// The user's proxy, when `host` goes through it.
    fn chain(&self, host: &str) -> Option<&Upstream> {
        self.policy
            .upstream
            .as_ref()
            .filter(|u| u.covers(&host.to_ascii_lowercase()))
    }

    /// Opens the connection for an allowed request: through the user's proxy
    /// or directly to the first address that answers.
    fn open(&self, method: &str, host: &str, port: u16, addrs: &[SocketAddr]) -> Option<TcpStream> {
        match self.chain(host) {
            Some(u) => open_via(u, method, host, port),
            None => addrs
                .iter()
                .find_map(|a| TcpStream::connect_timeout(a, Duration::from_secs(30)).ok()),
        }
    }

    /// Keeps a finished request's record.
    fn store(&self, mut record: Request, began: Instant) {
        record.duration_ms = began.elapsed().as_millis() as u64;
        if let Ok(mut all) = self.records.lock() {
            all.push(record);
        }
    }
}

/// The body of a 403: what was refused and why.
fn refusal(r: &Request) -> String {
    format!(
        "pkgwarden: {}:{} refused ({}); see the install's report\n",
        r.host,
        r.port,
        r.reason.as_deref().unwrap_or("policy")
    )
}

/// Waits until `listener` has a connection to accept, or `ms` milliseconds.
fn wait_readable(listener: &TcpListener, ms: i32) {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for a descriptor the listener keeps open.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        // Interrupted or failing: do not spin.
        std::thread::sleep(Duration::from_millis(ms as u64));
    }
}

/// Bytes moved per read/write when relaying bodies and tunnels: reads of 8
/// or 16 KiB made large downloads through the proxy syscall-bound (the bench
/// below measures it); 128 KiB gets most of what larger buffers would.
const RELAY_BUF: usize = 128 * 1024;

/// Copies `from` to `to` until `from` ends or either fails; returns the bytes
/// moved (`io::copy` would use 8 KiB reads between two sockets).
fn pump(from: &mut TcpStream, to: &mut TcpStream) -> u64 {
    let mut buf = vec![0u8; RELAY_BUF];
    let mut moved = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return moved,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return moved,
        };
        if to.write_all(&buf[..n]).is_err() {
            return moved;
        }
        moved += n as u64;
    }
}

fn random_token() -> io::Result<String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

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

/// The decision for `host:port`, and the address to connect to.
fn decide(
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

fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{body}",
        body.len(),
        if status.starts_with("407") {
            "Proxy-Authenticate: Basic realm=\"pkgwarden\"\r\n"
        } else {
            ""
        }
    );
    let _ = stream.flush();
}

/// Reads the request head (up to the blank line); returns it and any bytes
/// already read past it.
fn read_head(stream: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((buf, rest));
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn serve(ctx: &Ctx, mut client: TcpStream, peer: SocketAddr) {
    let began = Instant::now();
    let _ = client.set_nonblocking(false);
    // Heads and bodies go out in separate writes: without this, Nagle's
    // algorithm and delayed ACKs stall every kept-alive response.
    let _ = client.set_nodelay(true);
    let Some((head, rest)) = read_head(&mut client) else {
        return;
    };
    // The supervisor registered the connection before the client could send.
    let pid = ctx
        .peers
        .lock()
        .ok()
        .and_then(|p| p.get(&peer.port()).copied());
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(&head), Ok(httparse::Status::Complete(_))) {
        respond(
            &mut client,
            "400 Bad Request",
            "pkgwarden: malformed proxy request\n",
        );
        return;
    }
    let method = req.method.unwrap_or("").to_string();
    let target = req.path.unwrap_or("").to_string();
    if !ctx.authorized(req.headers) {
        respond(
            &mut client,
            "407 Proxy Authentication Required",
            "pkgwarden: this proxy serves one sandboxed install only\n",
        );
        return;
    }
    if method != "CONNECT" {
        // Uploads with a chunked body are not something an install sends.
        if req
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
        {
            respond(
                &mut client,
                "411 Length Required",
                "pkgwarden: send a Content-Length\n",
            );
            return;
        }
        serve_plain(ctx, client, head, rest, pid);
        return;
    }
    let (host, port) = match target.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(443)),
        None => (target.clone(), 443),
    };
    let (mut record, addrs) = ctx.judge(pid, &method, &host, port);
    let upstream = if record.verdict == Verdict::Denied {
        None
    } else {
        ctx.open(&method, &host, port, &addrs)
    };
    let Some(mut upstream) = upstream else {
        if record.verdict == Verdict::Denied {
            respond(&mut client, "403 Forbidden", &refusal(&record));
        } else {
            respond(
                &mut client,
                "502 Bad Gateway",
                "pkgwarden: cannot reach the host\n",
            );
        }
        ctx.store(record, began);
        return;
    };
    // A tunnel: bytes both ways until either side closes.
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
        || upstream.write_all(&rest).is_err()
    {
        return;
    }
    let up = Arc::new(AtomicU64::new(rest.len() as u64));
    let (mut c2, mut u2) = match (client.try_clone(), upstream.try_clone()) {
        (Ok(c), Ok(u)) => (c, u),
        _ => return,
    };
    let up2 = up.clone();
    let pump_up = std::thread::spawn(move || {
        let n = pump(&mut c2, &mut u2);
        up2.fetch_add(n, Ordering::SeqCst);
        let _ = u2.shutdown(Shutdown::Write);
    });
    let down = pump(&mut upstream, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = pump_up.join();
    record.bytes_up = up.load(Ordering::SeqCst);
    record.bytes_down = down;
    ctx.store(record, began);
}

/// Opens a connection to `host:port` through the upstream proxy: a CONNECT
/// tunnel for CONNECT requests, a plain connection for absolute-URI ones.
fn open_via(u: &Upstream, method: &str, host: &str, port: u16) -> Option<TcpStream> {
    let addr = u.addr.to_socket_addrs().ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(30)).ok()?;
    if method != "CONNECT" {
        return Some(s);
    }
    let auth = u
        .auth
        .as_ref()
        .map(|a| format!("Proxy-Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n"
    )
    .ok()?;
    let (head, rest) = read_head(&mut s)?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(&head) {
        Ok(httparse::Status::Complete(_)) if resp.code == Some(200) && rest.is_empty() => Some(s),
        _ => None,
    }
}

/// A connection with what has been read from it but not used yet.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Reads more; false at end of stream.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next head (through the blank line), or None at end of stream.
    fn head(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let rest = self.buf.split_off(end + 4);
                return Some(std::mem::replace(&mut self.buf, rest));
            }
            if self.buf.len() > 64 * 1024 || !self.fill() {
                return None;
            }
        }
    }

    /// Moves exactly `n` bytes to `out`; false if the stream ended first.
    fn relay(&mut self, mut n: u64, out: &mut TcpStream) -> bool {
        if !self.buf.is_empty() {
            let take = (n as usize).min(self.buf.len());
            if out.write_all(&self.buf[..take]).is_err() {
                return false;
            }
            self.buf.drain(..take);
            n -= take as u64;
        }
        if n == 0 {
            return true;
        }
        // The rest straight through one large buffer (not `fill`'s small
        // chunks copied into `buf`), never reading past the `n` bytes.
        let mut chunk = vec![0u8; (n as usize).min(RELAY_BUF)];
        while n > 0 {
            let want = chunk.len().min(n as usize);
            match self.stream.read(&mut chunk[..want]) {
                Ok(0) | Err(_) => return false,
                Ok(k) => {
                    if out.write_all(&chunk[..k]).is_err() {
                        return false;
                    }
                    n -= k as u64;
                }
            }
        }
        true
    }

    /// Moves a chunked body (through its trailers) to `out`; returns bytes moved.
    fn relay_chunked(&mut self, out: &mut TcpStream) -> Option<u64> {
        let mut moved = 0u64;
        loop {
            let (idx, size) = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete(v)) => break v,
                    Ok(httparse::Status::Partial) if self.buf.len() < 4096 && self.fill() => {}
                    _ => return None,
                }
            };
            out.write_all(&self.buf[..idx]).ok()?;
            self.buf.drain(..idx);
            moved += idx as u64;
            if size == 0 {
                // Trailers end with an empty line.
                loop {
                    if self.buf.starts_with(b"\r\n") {
                        out.write_all(b"\r\n").ok()?;
                        self.buf.drain(..2);
                        return Some(moved + 2);
                    }
                    if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        out.write_all(&self.buf[..end + 4]).ok()?;
                        self.buf.drain(..end + 4);
                        return Some(moved + end as u64 + 4);
                    }
                    if !self.fill() {
                        return None;
                    }
                }
            }
            // The chunk's data and its CRLF.
            if !self.relay(size + 2, out) {
                return None;
            }
            moved += size + 2;
        }
    }
}

/// Plain-HTTP requests on one client connection, kept alive: each request is
/// checked and recorded on its own, and the upstream connection is reused
/// while requests go to the same host.
fn serve_plain(ctx: &Ctx, client: TcpStream, first: Vec<u8>, rest: Vec<u8>, pid: Option<i32>) {
    let mut out = match client.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut client = Conn {
        stream: client,
        buf: rest,
    };
    let mut head = first;
    let mut upstream: Option<(String, Conn)> = None;
    loop {
        let began = Instant::now();
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        if !matches!(req.parse(&head), Ok(httparse::Status::Complete(_))) {
            respond(
                &mut out,
                "400 Bad Request",
                "pkgwarden: malformed proxy request\n",
            );
            return;
        }
        if !ctx.authorized(req.headers) {
            respond(
                &mut out,
                "407 Proxy Authentication Required",
                "pkgwarden: this proxy serves one sandboxed install only\n",
            );
            return;
        }
        let method = req.method.unwrap_or("").to_string();
        let target = req.path.unwrap_or("").to_string();
        // The client may ask to close after this response (or speak HTTP/1.0).
        let client_closes = req.version == Some(0)
            || req.headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case("connection")
                    && std::str::from_utf8(h.value)
                        .is_ok_and(|v| v.to_ascii_lowercase().contains("close"))
            });
        let Some((host, port, path)) = split_absolute(&target) else {
            respond(
                &mut out,
                "400 Bad Request",
                "pkgwarden: only absolute URIs and CONNECT\n",
            );
            return;
        };
        let (mut record, addrs) = ctx.judge(pid, &method, &host, port);
        let push = |r: Request| ctx.store(r, began);
        if record.verdict == Verdict::Denied {
            respond(&mut out, "403 Forbidden", &refusal(&record));
            push(record);
            return;
        }
        let key = format!("{host}:{port}");
        let chain = ctx.chain(&host);
        if upstream.as_ref().is_none_or(|(k, _)| *k != key) {
            let Some(stream) = ctx.open(&method, &host, port, &addrs) else {
                respond(
                    &mut out,
                    "502 Bad Gateway",
                    "pkgwarden: cannot reach the host\n",
                );
                push(record);
                return;
            };
            let _ = stream.set_nodelay(true);
            upstream = Some((
                key,
                Conn {
                    stream,
                    buf: Vec::new(),
                },
            ));
        }
        let Some((_, up)) = upstream.as_mut() else {
            return;
        };
        // The request, in origin form (absolute form to the user's proxy, with
        // its credentials), without our own proxy headers.
        let mut msg = match chain {
            Some(_) => format!("{method} {target} HTTP/1.1\r\n"),
            None => format!("{method} {path} HTTP/1.1\r\n"),
        }
        .into_bytes();
        if let Some(auth) = chain.and_then(|u| u.auth.as_ref()) {
            msg.extend_from_slice(format!("Proxy-Authorization: {auth}\r\n").as_bytes());
        }
        let mut body_len = 0u64;
        for h in req.headers.iter() {
            let n = h.name.to_ascii_lowercase();
            if n.starts_with("proxy-") || n == "connection" || n == "keep-alive" {
                continue;
            }
            if n == "content-length" {
                body_len = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
            }
            msg.extend_from_slice(h.name.as_bytes());
            msg.extend_from_slice(b": ");
            msg.extend_from_slice(h.value);
            msg.extend_from_slice(b"\r\n");
        }
        msg.extend_from_slice(b"\r\n");
        if up.stream.write_all(&msg).is_err() || !client.relay(body_len, &mut up.stream) {
            respond(
                &mut out,
                "502 Bad Gateway",
                "pkgwarden: the host closed the connection\n",
            );
            push(record);
            return;
        }
        record.bytes_up = msg.len() as u64 + body_len;
        // The response: its head as it came, its body framed as it says.
        let Some(resp_head) = up.head() else {
            respond(
                &mut out,
                "502 Bad Gateway",
                "pkgwarden: no response from the host\n",
            );
            push(record);
            return;
        };
        let mut rh = [httparse::EMPTY_HEADER; 96];
        let mut resp = httparse::Response::new(&mut rh);
        if !matches!(resp.parse(&resp_head), Ok(httparse::Status::Complete(_))) {
            respond(
                &mut out,
                "502 Bad Gateway",
                "pkgwarden: malformed response\n",
            );
            push(record);
            return;
        }
        let code = resp.code.unwrap_or(0);
        let header = |name: &str| {
            resp.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .map(|v| v.trim().to_ascii_lowercase())
        };
        let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        let length: Option<u64> = header("content-length").and_then(|v| v.parse().ok());
        let upstream_closes = header("connection").is_some_and(|v| v.contains("close"));
        let no_body = method == "HEAD" || code / 100 == 1 || code == 204 || code == 304;
        let close_delimited = !no_body && !chunked && length.is_none();
        // Our connection to the client outlives the upstream's: its
        // connection headers stay on its side.
        let head_out = if close_delimited || client_closes {
            close_response(&resp_head).unwrap_or(resp_head.clone())
        } else {
            strip_connection(&resp_head).unwrap_or(resp_head.clone())
        };
        if out.write_all(&head_out).is_err() {
            return;
        }
        let moved = if no_body {
            Some(0)
        } else if chunked {
            up.relay_chunked(&mut out)
        } else if let Some(n) = length {
            up.relay(n, &mut out).then_some(n)
        } else {
            // Delimited by the end of the connection: relay until it ends.
            let mut n = up.buf.len() as u64;
            let _ = out.write_all(&up.buf);
            up.buf.clear();
            n += pump(&mut up.stream, &mut out);
            Some(n)
        };
        record.bytes_down = head_out.len() as u64 + moved.unwrap_or(0);
        push(record);
        if moved.is_none() || close_delimited || client_closes {
            let _ = out.shutdown(Shutdown::Both);
            return;
        }
        if upstream_closes {
            upstream = None;
        }
        match client.head() {
            Some(next) => head = next,
            None => return,
        }
    }
}

/// A response head without its connection headers.
fn strip_connection(head: &[u8]) -> Option<Vec<u8>> {
    let mut out = close_response(head)?;
    let close = b"Connection: close\r\n\r\n";
    out.truncate(out.len() - close.len());
    out.extend_from_slice(b"\r\n");
    Some(out)
}

/// A response head with its connection headers replaced by `Connection: close`.
fn close_response(head: &[u8]) -> Option<Vec<u8>> {
    let mut headers = [httparse::EMPTY_HEADER; 96];
    let mut resp = httparse::Response::new(&mut headers);
    if !matches!(resp.parse(head), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.code?, resp.reason.unwrap_or("")).into_bytes();
    for h in resp.headers.iter() {
        let n = h.name.to_ascii_lowercase();
        if n == "connection" || n == "keep-alive" || n == "proxy-connection" {
            continue;
        }
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    Some(out)
}

/// `http://host[:port]/path` → (host, port, `/path`).
fn split_absolute(target: &str) -> Option<(String, u16, String)> {
    let rest = target.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let authority = authority.rsplit('@').next()?;
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        let (h, after) = h.split_once(']')?;
        (
            h.to_string(),
            after
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(80),
        )
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), 80),
        }
    };
    Some((host, port, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uris_split() {
        assert_eq!(
            split_absolute("http://127.0.0.1:8080/simple/x/"),
            Some(("127.0.0.1".into(), 8080, "/simple/x/".into()))
        );
        assert_eq!(
            split_absolute("http://h"),
            Some(("h".into(), 80, "/".into()))
        );
        assert_eq!(
            split_absolute("http://[::1]:9/p"),
            Some(("::1".into(), 9, "/p".into()))
        );
        assert_eq!(split_absolute("/relative"), None);
        assert_eq!(split_absolute("https://h/x"), None);
    }

    #[test]
    fn metadata_and_internal_addresses_are_refused_unless_allowed() {
        let p = ProxyPolicy {
            allowed: vec!["127.0.0.1:4873".into()],
            allow_unknown: true,
            deny_raw_ip: false,
            upstream: None,
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
            deny_raw_ip: true,
            upstream: None,
        };
        assert_eq!(decide(&q, "169.254.169.254", 80).0, Verdict::Denied);
        let (v, reason, _) = decide(&q, "203.0.113.9", 443);
        assert_eq!(v, Verdict::Denied);
        assert!(reason.unwrap().contains("literal IP"));
    }

    /// A tiny origin server on loopback answering one request.
    fn origin() -> (SocketAddr, JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let (head, _) = read_head(&mut s).unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .unwrap();
            head
        });
        (addr, h)
    }

    fn ask(proxy: &Proxy, request: String) -> String {
        let mut c = TcpStream::connect(proxy.addr).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        out
    }

    #[test]
    fn requests_need_the_token_and_go_to_allowed_hosts_only() {
        let (origin_addr, served) = origin();
        let proxy = Proxy::start(
            ProxyPolicy {
                allowed: vec![origin_addr.to_string()],
                allow_unknown: false,
                deny_raw_ip: true,
                upstream: None,
            },
            Instant::now(),
        )
        .unwrap();
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("pkgwarden:{}", proxy.token));
        // Without the token: refused, and the origin never sees it.
        let out = ask(
            &proxy,
            format!("GET http://{origin_addr}/x HTTP/1.1\r\nHost: {origin_addr}\r\n\r\n"),
        );
        assert!(out.starts_with("HTTP/1.1 407"), "{out}");
        let out = ask(
            &proxy,
            format!(
                "GET http://{origin_addr}/x HTTP/1.1\r\nProxy-Authorization: Basic d3Jvbmc6dG9rZW4=\r\n\r\n"
            ),
        );
        assert!(out.starts_with("HTTP/1.1 407"), "{out}");
        // With it: forwarded in origin form, without the proxy's headers.
        let out = ask(
            &proxy,
            format!(
                "GET http://{origin_addr}/x HTTP/1.1\r\nHost: {origin_addr}\r\nConnection: close\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
            ),
        );
        assert!(
            out.starts_with("HTTP/1.1 200") && out.ends_with("hello"),
            "{out}"
        );
        let head = String::from_utf8(served.join().unwrap()).unwrap();
        assert!(head.starts_with("GET /x HTTP/1.1\r\n"), "{head}");
        assert!(
            !head.to_ascii_lowercase().contains("proxy-authorization"),
            "{head}"
        );
        // Another loopback port is not a registry: 403, never connected.
        let out = ask(
            &proxy,
            format!("CONNECT 127.0.0.1:1 HTTP/1.1\r\nProxy-Authorization: Basic {auth}\r\n\r\n"),
        );
        assert!(
            out.starts_with("HTTP/1.1 403") && out.contains("pkgwarden"),
            "{out}"
        );
        let records = proxy.finish();
        assert_eq!(records.len(), 2, "{records:?}");
        assert!(
            records
                .iter()
                .any(|r| r.verdict == Verdict::Allowed && r.bytes_down > 0)
        );
        assert!(
            records
                .iter()
                .any(|r| r.verdict == Verdict::Denied && r.port == 1)
        );
    }

    #[test]
    fn allowed_requests_go_through_the_users_upstream_proxy() {
        let (origin_addr, served) = origin();
        let policy = |upstream| ProxyPolicy {
            allowed: vec![origin_addr.to_string()],
            allow_unknown: false,
            deny_raw_ip: true,
            upstream,
        };
        let inner = Proxy::start(policy(None), Instant::now()).unwrap();
        let env = vec![
            ("HTTPS_PROXY".to_string(), inner.url()),
            (
                "NO_PROXY".to_string(),
                "internal.example, .corp.example".to_string(),
            ),
        ];
        let up = Upstream::from_env(&env).unwrap();
        assert_eq!(up.addr, inner.addr.to_string());
        assert!(
            !up.covers("a.corp.example")
                && !up.covers("internal.example")
                && up.covers("other.example")
        );
        let outer = Proxy::start(policy(Some(up)), Instant::now()).unwrap();
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("pkgwarden:{}", outer.token));
        let out = ask(
            &outer,
            format!(
                "GET http://{origin_addr}/y HTTP/1.1\r\nHost: {origin_addr}\r\nConnection: close\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
            ),
        );
        assert!(out.ends_with("hello"), "{out}");
        assert!(
            String::from_utf8(served.join().unwrap())
                .unwrap()
                .starts_with("GET /y ")
        );
        // The inner proxy (the user's) saw the request, with its own credentials.
        let seen = inner.finish();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].verdict, Verdict::Allowed);
        assert_eq!(outer.finish().len(), 1);
    }

    #[test]
    fn plain_requests_keep_the_connection_alive_and_relay_chunked_bodies() {
        // An origin answering two requests on one connection: a sized body,
        // then a chunked one.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin_addr = l.local_addr().unwrap();
        let served = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut c = Conn {
                stream: s,
                buf: Vec::new(),
            };
            let mut out = c.stream.try_clone().unwrap();
            let first = c.head().unwrap();
            out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .unwrap();
            let second = c.head().unwrap();
            out.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            )
            .unwrap();
            (first, second)
        });
        let proxy = Proxy::start(
            ProxyPolicy {
                allowed: vec![origin_addr.to_string()],
                allow_unknown: false,
                deny_raw_ip: true,
                upstream: None,
            },
            Instant::now(),
        )
        .unwrap();
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("pkgwarden:{}", proxy.token));
        let mut c = Conn {
            stream: TcpStream::connect(proxy.addr).unwrap(),
            buf: Vec::new(),
        };
        let mut w = c.stream.try_clone().unwrap();
        let req = |p: &str| {
            format!(
                "GET http://{origin_addr}{p} HTTP/1.1\r\nHost: {origin_addr}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
            )
        };
        w.write_all(req("/a").as_bytes()).unwrap();
        let h1 = String::from_utf8(c.head().unwrap()).unwrap();
        assert!(
            h1.starts_with("HTTP/1.1 200") && h1.contains("Content-Length: 5"),
            "{h1}"
        );
        while c.buf.len() < 5 {
            assert!(c.fill());
        }
        assert_eq!(&c.buf[..5], b"hello");
        c.buf.drain(..5);
        // Same client connection, second request.
        w.write_all(req("/b").as_bytes()).unwrap();
        let h2 = String::from_utf8(c.head().unwrap()).unwrap();
        assert!(h2.contains("chunked"), "{h2}");
        while !c.buf.ends_with(b"0\r\n\r\n") {
            assert!(c.fill());
        }
        assert_eq!(c.buf, b"3\r\nabc\r\n0\r\n\r\n");
        let (first, second) = served.join().unwrap();
        assert!(first.starts_with(b"GET /a HTTP/1.1"));
        assert!(second.starts_with(b"GET /b HTTP/1.1"));
        drop(w);
        drop(c);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(proxy.finish().len(), 2);
    }
}

#[cfg(test)]
mod bench {
    //! Benchmark (not a test): what the proxy adds, against the same requests
    //! sent straight to a loopback origin, in the same run. Run it with
    //! `benches/proxy.sh`, or
    //!
    //!     cargo test --release --bin pkgwarden bench_proxy -- --ignored --nocapture
    //!
    //! Latency: small GETs timed one by one, in rounds that alternate direct
    //! (kept alive; a new connection each) and through the proxy (plain HTTP
    //! kept alive; plain HTTP with a new connection each; inside one CONNECT
    //! tunnel; plain HTTP kept alive to a host name, which the proxy resolves
    //! for every request). Throughput: one large generated body, direct /
    //! plain / tunnel, alternating. Medians, with the time added per request
    //! and ratios.

    use super::*;

    /// Body of the small responses (a registry's metadata answer is of this order).
    const SMALL: usize = 1024;
    /// Small requests per mode, measured.
    const REQUESTS: usize = 2000;
    /// The requests of each mode are split into this many alternating rounds,
    /// so that noise from other work on the machine falls on every mode.
    const ROUNDS: usize = 20;
    /// The large body (a big tarball), generated as it is sent.
    const LARGE: u64 = 256 << 20;
    /// Large downloads per mode, measured.
    const LARGE_RUNS: usize = 5;

    /// A loopback origin, keeping connections alive: `/large` answers
    /// `LARGE` generated bytes, anything else `SMALL` bytes.
    fn origin() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut small = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {SMALL}\r\n\r\n"
        )
        .into_bytes();
        small.resize(small.len() + SMALL, b'x');
        let small = Arc::new(small);
        // Made once: per connection it would weigh on the new-connection modes.
        let pattern: Arc<Vec<u8>> = Arc::new((0..1usize << 20).map(|i| (i % 251) as u8).collect());
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let (small, pattern) = (small.clone(), pattern.clone());
                std::thread::spawn(move || serve_origin(s, &small, &pattern));
            }
        });
        addr
    }

    fn serve_origin(stream: TcpStream, small: &[u8], pattern: &[u8]) {
        let _ = stream.set_nodelay(true);
        let Ok(mut out) = stream.try_clone() else {
            return;
        };
        let mut c = Conn {
            stream,
            buf: Vec::new(),
        };
        while let Some(head) = c.head() {
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let sent = if head.starts_with("get /large ") {
                let mut left = LARGE as usize;
                let mut ok = out
                    .write_all(
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {LARGE}\r\n\r\n").as_bytes(),
                    )
                    .is_ok();
                while ok && left > 0 {
                    let n = left.min(pattern.len());
                    ok = out.write_all(&pattern[..n]).is_ok();
                    left -= n;
                }
                ok
            } else {
                out.write_all(small).is_ok()
            };
            if !sent || head.contains("\r\nconnection: close") {
                return;
            }
        }
    }

    fn connect(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Conn {
            stream: s,
            buf: Vec::new(),
        }
    }

    /// A minimal HTTP/1.1 client: sends `request`, reads the response through
    /// the end of its body (by Content-Length) and returns the body's length.
    fn fetch(c: &mut Conn, request: &[u8], scratch: &mut [u8]) -> u64 {
        c.stream.write_all(request).unwrap();
        let head = c.head().expect("a response head");
        let mut hs = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut hs);
        assert!(matches!(
            resp.parse(&head),
            Ok(httparse::Status::Complete(_))
        ));
        assert_eq!(resp.code, Some(200), "{}", String::from_utf8_lossy(&head));
        let len: u64 = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
            .expect("a Content-Length");
        let buffered = c.buf.len().min(len as usize);
        c.buf.drain(..buffered);
        // The rest straight into the scratch buffer, never past the body.
        let mut left = len - buffered as u64;
        while left > 0 {
            let want = scratch.len().min(left as usize);
            let n = c.stream.read(&mut scratch[..want]).unwrap();
            assert!(n > 0, "connection closed {left} bytes early");
            left -= n as u64;
        }
        len
    }

    /// One CONNECT tunnel through the proxy to `origin`.
    fn tunnel(proxy: SocketAddr, auth: &str, origin: SocketAddr) -> Conn {
        let mut c = connect(proxy);
        c.stream
            .write_all(
                format!(
                    "CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        let head = c.head().unwrap();
        assert!(
            head.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        c
    }

    /// One way of sending requests.
    struct Mode {
        name: &'static str,
        request: Vec<u8>,
        /// Where a new connection goes.
        target: SocketAddr,
        /// A new connection for every request (timed with it).
        fresh: bool,
        /// The kept-alive connection (or the tunnel).
        conn: Option<Conn>,
        times: Vec<Duration>,
    }

    impl Mode {
        fn new(name: &'static str, request: String, target: SocketAddr, fresh: bool) -> Mode {
            Mode {
                name,
                request: request.into_bytes(),
                target,
                fresh,
                conn: None,
                times: Vec::new(),
            }
        }

        /// One request, timed from the first byte written (or the connect) to
        /// the last byte of the body read.
        fn once(&mut self, scratch: &mut [u8]) -> (Duration, u64) {
            let t = Instant::now();
            if self.fresh {
                let mut c = connect(self.target);
                let n = fetch(&mut c, &self.request, scratch);
                return (t.elapsed(), n);
            }
            let target = self.target;
            let c = self.conn.get_or_insert_with(|| connect(target));
            let n = fetch(c, &self.request, scratch);
            (t.elapsed(), n)
        }
    }

    fn us(d: Duration) -> f64 {
        d.as_secs_f64() * 1e6
    }

    fn median(v: &[Duration]) -> Duration {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2]
    }

    fn mean(v: &[Duration]) -> Duration {
        v.iter().sum::<Duration>() / v.len() as u32
    }

    fn latency_line(m: &Mode, base: Option<&Mode>) {
        let (med, avg) = (median(&m.times), mean(&m.times));
        let mut line = format!(
            "latency    {:<36} median {:>8.1} µs  mean {:>8.1} µs",
            m.name,
            us(med),
            us(avg)
        );
        if let Some(b) = base {
            let (bmed, bavg) = (median(&b.times), mean(&b.times));
            line += &format!(
                "  added {:>+8.1} µs (mean {:>+8.1})  ratio {:.2}  vs {}",
                us(med) - us(bmed),
                us(avg) - us(bavg),
                med.as_secs_f64() / bmed.as_secs_f64(),
                b.name
            );
        }
        println!("{line}");
    }

    #[test]
    #[ignore = "benchmark: run with --ignored --nocapture (benches/proxy.sh)"]
    fn bench_proxy_latency_and_throughput() {
        // The harness has printed "test … " without a newline.
        println!();
        let origin = origin();
        let proxy = Proxy::start(
            ProxyPolicy {
                // The origin by address and by name (the name is resolved by
                // the proxy, as a registry's would be).
                allowed: vec![origin.to_string(), format!("localhost:{}", origin.port())],
                allow_unknown: false,
                deny_raw_ip: true,
                upstream: None,
            },
            Instant::now(),
        )
        .unwrap();
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("pkgwarden:{}", proxy.token));
        let direct = |path: &str, close: &str| {
            format!("GET {path} HTTP/1.1\r\nHost: {origin}\r\nUser-Agent: bench\r\n{close}\r\n")
        };
        let proxied = |path: &str, close: &str| {
            format!(
                "GET http://{origin}{path} HTTP/1.1\r\nHost: {origin}\r\nUser-Agent: bench\r\nProxy-Authorization: Basic {auth}\r\n{close}\r\n"
            )
        };
        let close = "Connection: close\r\n";
        let mut scratch = vec![0u8; 256 * 1024];

        // Latency.
        let mut modes = [
            Mode::new("direct, kept alive", direct("/small", ""), origin, false),
            Mode::new(
                "direct, new connection each",
                direct("/small", close),
                origin,
                true,
            ),
            Mode::new(
                "proxy plain HTTP, kept alive",
                proxied("/small", ""),
                proxy.addr,
                false,
            ),
            Mode::new(
                "proxy plain HTTP, new conn each",
                proxied("/small", close),
                proxy.addr,
                true,
            ),
            Mode::new(
                "proxy CONNECT, one tunnel",
                direct("/small", ""),
                proxy.addr,
                false,
            ),
            Mode::new(
                "proxy plain HTTP, kept alive, name",
                format!(
                    "GET http://localhost:{port}/small HTTP/1.1\r\nHost: localhost:{port}\r\nUser-Agent: bench\r\nProxy-Authorization: Basic {auth}\r\n\r\n",
                    port = origin.port()
                ),
                proxy.addr,
                false,
            ),
        ];
        modes[4].conn = Some(tunnel(proxy.addr, &auth, origin));
        let per_round = REQUESTS / ROUNDS;
        // Round 0 warms up (connections, threads, caches) and is not kept.
        for round in 0..=ROUNDS {
            for m in modes.iter_mut() {
                for _ in 0..per_round {
                    let (d, n) = m.once(&mut scratch);
                    assert_eq!(n, SMALL as u64);
                    if round > 0 {
                        m.times.push(d);
                    }
                }
            }
        }
        println!(
            "latency    {REQUESTS} GETs of {SMALL} bytes per mode, {ROUNDS} alternating rounds, loopback"
        );
        latency_line(&modes[0], None);
        latency_line(&modes[1], None);
        latency_line(&modes[2], Some(&modes[0]));
        latency_line(&modes[3], Some(&modes[1]));
        latency_line(&modes[3], Some(&modes[0]));
        latency_line(&modes[4], Some(&modes[0]));
        latency_line(&modes[5], Some(&modes[2]));
        drop(modes);

        // Throughput.
        let mut big = [
            Mode::new("direct", direct("/large", ""), origin, false),
            Mode::new("proxy plain HTTP", proxied("/large", ""), proxy.addr, false),
            Mode::new(
                "proxy CONNECT tunnel",
                direct("/large", ""),
                proxy.addr,
                false,
            ),
        ];
        big[2].conn = Some(tunnel(proxy.addr, &auth, origin));
        for run in 0..=LARGE_RUNS {
            for m in big.iter_mut() {
                let (d, n) = m.once(&mut scratch);
                assert_eq!(n, LARGE);
                if run > 0 {
                    m.times.push(d);
                }
            }
        }
        let mbs = |d: Duration| LARGE as f64 / d.as_secs_f64() / 1e6;
        let base = mbs(median(&big[0].times));
        for m in &big {
            let (lo, hi) = (
                m.times.iter().max().map_or(0.0, |d| mbs(*d)),
                m.times.iter().min().map_or(0.0, |d| mbs(*d)),
            );
            let med = mbs(median(&m.times));
            println!(
                "throughput {:<36} {} MiB  median {:>7.0} MB/s  (runs {lo:.0}–{hi:.0})  ratio {:.2}",
                m.name,
                LARGE >> 20,
                med,
                med / base
            );
        }
        drop(big);

        std::thread::sleep(Duration::from_millis(200));
        let records = proxy.finish();
        assert!(records.iter().all(|r| r.verdict == Verdict::Allowed));
        // Plain requests are recorded one by one, a tunnel once.
        let plain = 3 * (REQUESTS + per_round) + LARGE_RUNS + 1;
        println!(
            "recorded   {} requests by the proxy ({} expected: {plain} plain, 2 tunnels)",
            records.len(),
            plain + 2
        );
    }
}
