//! The client side: hyper's HTTP/1 server on each connection from the
//! sandbox, one task per connection on the proxy's runtime. Each request is
//! checked (credentials, `Host` agreeing with the URI), judged by
//! [`decide`](super::decide), recorded at once, then relayed: plain HTTP
//! through the pooled client, `CONNECT` as an upgrade copied both ways.

use super::cooldown::{Asked, CooldownFilter};
use super::intercept;
use super::record::{Book, Open};
use super::relay;
use super::tls::Authority;
use super::upstream::{Body, Kept, Routes};
use super::{Limits, ProxyPolicy, Verdict, decide};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;

/// A verdict, why, and the addresses it was judged on.
type Decision = (Verdict, Option<String>, Vec<SocketAddr>);

/// Everything the connections share.
pub struct Ctx {
    /// The policy; redirect targets learned from registries are added to
    /// its `allowed` (copy on write: a request judges on one version).
    policy: Mutex<Arc<ProxyPolicy>>,
    /// Redirect targets learned: `host:port` → the registry that sent it.
    redirected: Mutex<HashMap<String, String>>,
    /// Decisions already made, by `host:port`: a name is resolved once per
    /// install, not once per request (a lookup per request doubled a kept-
    /// alive request's cost, and what was judged stays what is reached).
    decided: Mutex<HashMap<String, Decision>>,
    limits: Limits,
    expected_auth: String,
    book: Arc<Book>,
    peers: Arc<Mutex<HashMap<u16, i32>>>,
    routes: Arc<Routes>,
    /// The install's CA when registries over TLS are inspected (a feed is
    /// present), or why it could not be made.
    tls: Option<Result<Arc<Authority>, String>>,
}

impl Ctx {
    /// The shared state of one proxy.
    pub fn new(
        policy: ProxyPolicy,
        expected_auth: String,
        book: Arc<Book>,
        peers: Arc<Mutex<HashMap<u16, i32>>>,
        tls: Option<Result<Arc<Authority>, String>>,
    ) -> Ctx {
        Ctx {
            limits: policy.limits.clone(),
            routes: Arc::new(Routes::new(policy.upstream.clone())),
            policy: Mutex::new(Arc::new(policy)),
            redirected: Mutex::new(HashMap::new()),
            decided: Mutex::new(HashMap::new()),
            expected_auth,
            book,
            peers,
            tls,
        }
    }

    /// The proxy's record.
    pub(super) fn book(&self) -> &Arc<Book> {
        &self.book
    }

    /// Where connections go.
    pub(super) fn routes(&self) -> &Routes {
        &self.routes
    }

    /// The proxy's bounds.
    pub(super) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether a `CONNECT` to `host:port` is terminated: `None` for a plain
    /// tunnel (no feed, or not one of the manager's registries over TLS),
    /// else the install's CA or why there is none.
    fn inspects(&self, host: &str, port: u16) -> Option<Result<Arc<Authority>, String>> {
        let tls = self.tls.as_ref()?;
        let policy = self.policy.lock().ok()?.clone();
        policy
            .inspect
            .contains(&hostport(host, port))
            .then(|| tls.clone())
    }

    fn pid(&self, peer_port: u16) -> Option<i32> {
        self.peers
            .lock()
            .ok()
            .and_then(|p| p.get(&peer_port).copied())
    }

    /// When the feed names the archive `path` downloads: the request is
    /// marked, and, unless the mode is audit, refused with this answer
    /// before a byte of it is asked of the registry.
    pub(super) fn known_malicious(&self, open: &Open, path: &str) -> Option<Response<Body>> {
        let policy = self.policy.lock().ok()?.clone();
        let known = policy.intel.as_ref()?.archive(path)?;
        open.flag(&known, policy.intel_refuses);
        policy.intel_refuses.then(|| {
            text(
                StatusCode::FORBIDDEN,
                format!(
                    "pkgwarden: {} {}@{} is known malicious ({}: {}); refused before download\n",
                    known.ecosystem, known.package, known.version, known.id, known.summary
                ),
            )
        })
    }

    /// The cooldown's filter, when this request asks one of the manager's
    /// registries for metadata (its headers are then rewritten to ask for
    /// the dated form).
    pub(super) fn cooldown_asks(
        &self,
        host: &str,
        port: u16,
        parts: &mut hyper::http::request::Parts,
    ) -> Option<(Arc<CooldownFilter>, Asked)> {
        let filter = self.policy.lock().ok()?.cooldown.clone()?;
        let asked = filter.ask(
            &hostport(host, port),
            &parts.method,
            parts.uri.path(),
            &mut parts.headers,
        )?;
        Some((filter, asked))
    }

    /// The cooldown's filter, when the proxy enforces one.
    pub(super) fn cooldown(&self) -> Option<Arc<CooldownFilter>> {
        self.policy.lock().ok()?.cooldown.clone()
    }

    /// The cooldown's check of a tarball asked of one of the registries
    /// over plain HTTP ([`CooldownFilter::tarball`]), its document asked
    /// on the client's kept connections when no filtered one dated it: the
    /// refusal, if any.
    async fn cooldown_tarball(
        &self,
        open: &Open,
        kept: &Mutex<Kept>,
        (host, port): (&str, u16),
        method: &Method,
        path: &str,
    ) -> Option<Response<Body>> {
        let filter = self.cooldown()?;
        let t = filter.tarball(&hostport(host, port), method, path)?;
        if let Some(judged) = filter.judged(&t, open) {
            return judged;
        }
        let named = match port {
            80 => host.to_string(),
            p => format!("{host}:{p}"),
        };
        let answer = match CooldownFilter::doc_request(&t, &format!("http://{named}"), &named) {
            Some(mut req) => {
                // Through the user's proxy, with its credentials.
                if let Some(auth) = self.routes.chain(host).and_then(|u| u.auth.clone())
                    && let Ok(v) = HeaderValue::from_str(&auth)
                {
                    req.headers_mut().insert(header::PROXY_AUTHORIZATION, v);
                }
                self.routes.send(kept, host, port, req).await
            }
            None => Err(std::io::Error::other("its path is not a URL path")),
        };
        let url = format!("http://{named}{path}");
        filter.judge_tarball(&t, open, &url, answer).await
    }

    /// True when the feed's hits are refused (every mode but audit).
    fn policy_refuses_intel(&self) -> bool {
        self.policy.lock().is_ok_and(|p| p.intel_refuses)
    }

    /// Judges `host:port` and records the verdict now; allowed addresses are
    /// kept for the connection.
    async fn judge(&self, pid: Option<i32>, method: &str, host: &str, port: u16) -> Arc<Open> {
        let (verdict, mut reason, addrs) = self.decision(host, port).await;
        if verdict != Verdict::Denied {
            if let Some(from) = self
                .redirected
                .lock()
                .ok()
                .and_then(|r| r.get(&hostport(host, port)).cloned())
            {
                reason = Some(format!("redirect target sent by {from}"));
            }
            self.routes.remember(host, port, addrs);
        }
        Arc::new(self.book.open(pid, method, host, port, verdict, reason))
    }

    /// The decision for `host:port`: made once, then kept (a name that did
    /// not resolve or was refused is asked again next time).
    async fn decision(&self, host: &str, port: u16) -> Decision {
        let key = hostport(host, port);
        if let Some(d) = self.decided.lock().ok().and_then(|d| d.get(&key).cloned()) {
            return d;
        }
        let policy = match self.policy.lock() {
            Ok(p) => p.clone(),
            Err(_) => Arc::new(ProxyPolicy::default()),
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let literal = bare.parse::<IpAddr>().is_ok();
        // Resolving a name blocks: off the runtime's only thread.
        let d = if literal {
            decide(&policy, host, port)
        } else {
            let h = host.to_string();
            tokio::task::spawn_blocking(move || decide(&policy, &h, port))
                .await
                .unwrap_or((
                    Verdict::Denied,
                    Some("the name could not be resolved".into()),
                    Vec::new(),
                ))
        };
        if (literal || d.0 != Verdict::Denied)
            && let Ok(mut cache) = self.decided.lock()
        {
            cache.insert(key, d.clone());
        }
        d
    }

    /// An allowed registry redirected to `location`: its host is allowed too,
    /// because the registry sent it there (a mirror's download host). From a
    /// terminated registry (`terminated`), an `https` target is terminated
    /// too for this install's later `CONNECT`s: the registry chose it, and
    /// an archive served there is the registry's as much as its own.
    pub(super) fn learn_redirect(&self, from: &str, location: &str, terminated: bool) {
        let Ok(uri) = location.parse::<Uri>() else {
            return;
        };
        let (Some(host), Some(scheme)) = (uri.host(), uri.scheme_str()) else {
            return;
        };
        let port = uri.port_u16().unwrap_or(match scheme {
            "https" => 443,
            _ => 80,
        });
        let target = hostport(host, port);
        // A registry's metadata answered from elsewhere is filtered there
        // too: a redirect must not carry it past the cooldown.
        if let Ok(mut p) = self.policy.lock()
            && let Some(c) = p.cooldown.as_ref()
            && c.hosts.iter().any(|h| h == from)
            && !c.hosts.contains(&target)
        {
            let mut filter = (**c).clone();
            filter.hosts.push(target.clone());
            let mut next = (**p).clone();
            next.cooldown = Some(Arc::new(filter));
            *p = Arc::new(next);
        }
        if terminated
            && scheme == "https"
            && let Ok(mut p) = self.policy.lock()
            && !p.inspect.contains(&target)
        {
            let mut next = (**p).clone();
            next.inspect.push(target.clone());
            *p = Arc::new(next);
        }
        if let Ok(mut p) = self.policy.lock()
            && !p.allowed.contains(&target)
        {
            let mut next = (**p).clone();
            next.allowed.push(target.clone());
            *p = Arc::new(next);
            // Judged again under the new policy.
            if let Ok(mut d) = self.decided.lock() {
                d.remove(&target);
            }
            if let Ok(mut r) = self.redirected.lock() {
                r.insert(target, from.to_string());
            }
        }
    }
}

/// `host:port` as the policy lists it (lowercase, IPv6 in brackets).
pub(super) fn hostport(host: &str, port: u16) -> String {
    let h = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if h.contains(':') {
        format!("[{h}]:{port}")
    } else {
        format!("{h}:{port}")
    }
}

/// Accepts connections until `stop`.
pub async fn run(
    ctx: Ctx,
    listener: std::net::TcpListener,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let ctx = Arc::new(ctx);
    let slots = Arc::new(Semaphore::new(ctx.limits.max_connections));
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Out of descriptors, most likely: wait, do not spin.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let ctx = ctx.clone();
                        tokio::spawn(async move {
                            serve(ctx, stream, peer).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        ctx.book.refusal(
                            ctx.pid(peer.port()),
                            "connect",
                            format!(
                                "over {} proxy connections at once (503)",
                                ctx.limits.max_connections
                            ),
                        );
                        tokio::spawn(busy(stream));
                    }
                }
            }
        }
    }
}

/// The answer to a connection over the cap.
async fn busy(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let body = "pkgwarden: too many connections through the proxy\n";
    let _ = stream
        .write_all(
            format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await;
}

/// One client connection: requests until it closes.
async fn serve(ctx: Arc<Ctx>, stream: tokio::net::TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let served = Arc::new(AtomicU64::new(0));
    let kept = Arc::new(Mutex::new(Kept::default()));
    let svc = {
        let (ctx, served, kept) = (ctx.clone(), served.clone(), kept.clone());
        hyper::service::service_fn(move |req| {
            served.fetch_add(1, Ordering::Relaxed);
            handle(ctx.clone(), kept.clone(), peer.port(), req)
        })
    };
    let result = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.limits.head_timeout)
        .max_buf_size(ctx.limits.max_head)
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades()
        .await;
    ctx.routes.park(&kept);
    let Err(e) = result else {
        return;
    };
    // The same timer closes an idle kept-alive connection: that is no
    // refusal, only a first head that never came is.
    let reason = if e.is_timeout() && served.load(Ordering::Relaxed) == 0 {
        format!(
            "no complete request head within {} s (connection closed)",
            ctx.limits.head_timeout.as_secs()
        )
    } else if e.is_parse_too_large() {
        format!("request head over {} bytes (431)", ctx.limits.max_head)
    } else if e.is_parse() {
        "malformed request (400)".to_string()
    } else {
        return;
    };
    ctx.book.refusal(ctx.pid(peer.port()), "-", reason);
}

pub(super) fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)).map_err(|n| match n {}).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
        r.headers_mut().insert(
            header::PROXY_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"pkgwarden\""),
        );
    }
    r
}

/// The body of a 403: what was refused and why.
fn refusal(host: &str, port: u16, reason: Option<&str>) -> String {
    format!(
        "pkgwarden: {host}:{port} refused ({}); see the install's report\n",
        reason.unwrap_or("policy")
    )
}

async fn handle(
    ctx: Arc<Ctx>,
    kept: Arc<Mutex<Kept>>,
    peer_port: u16,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    // hyper's buffer limit bounds what it reads at once, not a head that
    // arrived whole: measure the head as parsed too.
    let head_size = req.uri().to_string().len()
        + req
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if head_size > ctx.limits.max_head {
        ctx.book.refusal(
            ctx.pid(peer_port),
            req.method().as_str(),
            format!("request head over {} bytes (431)", ctx.limits.max_head),
        );
        let mut r = text(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "pkgwarden: request head too large\n".into(),
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Ok(r);
    }
    let authorized = req
        .headers()
        .get(header::PROXY_AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == ctx.expected_auth);
    if !authorized {
        return Ok(text(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "pkgwarden: this proxy serves one sandboxed install only\n".into(),
        ));
    }
    let pid = ctx.pid(peer_port);
    if req.method() == Method::CONNECT {
        return Ok(connect(ctx, pid, req).await);
    }
    Ok(plain(ctx, &kept, pid, req).await)
}

/// An allowed request whose host could not be reached: 504 when it timed
/// out, else 502; the cause and `host:port` go to the record, to stderr
/// and to the client.
pub(super) fn unreachable(
    open: &Open,
    host: &str,
    port: u16,
    e: &std::io::Error,
) -> Response<Body> {
    let cause = super::upstream::failure_cause(e);
    let status = if cause.starts_with("timed out") {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::BAD_GATEWAY
    };
    let failure = format!("{cause} to {host}:{port} ({})", status.as_u16());
    open.fail(&failure);
    eprintln!("pkgwarden: proxy: {}", crate::report::clean(&failure));
    text(
        status,
        format!("pkgwarden: cannot reach the host: {failure}\n"),
    )
}

/// `CONNECT host:port`: judged, recorded, then the upgraded connection is
/// copied both ways until either side closes (or the install ends).
async fn connect(ctx: Arc<Ctx>, pid: Option<i32>, req: Request<Incoming>) -> Response<Body> {
    let Some(authority) = req.uri().authority().cloned() else {
        ctx.book
            .refusal(pid, "CONNECT", "no host:port to connect to (400)".into());
        return text(
            StatusCode::BAD_REQUEST,
            "pkgwarden: CONNECT needs host:port\n".into(),
        );
    };
    let host = authority.host().to_string();
    let port = authority.port_u16().unwrap_or(443);
    let open = ctx.judge(pid, "CONNECT", &host, port).await;
    if open.verdict() == Verdict::Denied {
        return denied(&host, port, &open);
    }
    match ctx.inspects(&host, port) {
        Some(Ok(authority)) => {
            return intercept::terminate(ctx, authority, pid, req, host, port, open);
        }
        Some(Err(why)) => {
            // Fail closed: the feed cannot be checked on this registry.
            let failure =
                format!("the registry's TLS could not be terminated for the feed's check ({why})");
            if ctx.policy_refuses_intel() {
                open.fail(&failure);
                eprintln!(
                    "pkgwarden: proxy: {host}:{port}: {}; refused",
                    crate::report::clean(&failure)
                );
                return text(
                    StatusCode::FORBIDDEN,
                    format!("pkgwarden: {host}:{port} refused: {failure}\n"),
                );
            }
            open.note(&format!("{failure}; audit: tunnelled unchecked"));
        }
        None => {}
    }
    let far = match ctx.routes.tunnel(&host, port).await {
        Ok(s) => s,
        Err(e) => return unreachable(&open, &host, port, &e),
    };
    let idle = ctx.limits.tunnel_idle;
    let checked = ctx
        .policy
        .lock()
        .is_ok_and(|p| p.intel.is_some() || p.cooldown.is_some());
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        // The client's own socket back from hyper: the relay reads and
        // writes it directly, with what hyper had read past the head first.
        match upgraded.downcast::<TokioIo<tokio::net::TcpStream>>() {
            Ok(parts) => {
                let near = parts.io.into_inner();
                // Plain HTTP inside a tunnel would reach the host unread by
                // the known-malicious check: with a feed, it is served
                // request by request like absolute-form requests.
                let http = match checked {
                    true => relay::speaks_http(&near, &parts.read_buf, &far, idle).await,
                    false => Some(false),
                };
                match http {
                    Some(true) => {
                        drop(far);
                        open.note("plain HTTP inside the tunnel: served request by request");
                        tunnelled(ctx, near, parts.read_buf, format!("{host}:{port}"), pid)
                            .await;
                    }
                    Some(false) => relay::tunnel(near, &parts.read_buf, far, open, idle).await,
                    None => open.note(&format!(
                        "closed after {} s with no bytes either way (before the first bytes said how to read it)",
                        idle.as_secs()
                    )),
                }
            }
            Err(_) => open.note("the client connection could not be taken over"),
        }
    });
    Response::new(Full::new(Bytes::new()).map_err(|n| match n {}).boxed())
}

/// Serves the plain HTTP a client speaks inside its tunnel to `authority`:
/// each request, made absolute for that host, goes the way of an
/// absolute-form request ([`plain`]: judged, recorded, checked against the
/// feed, relayed).
async fn tunnelled(
    ctx: Arc<Ctx>,
    near: tokio::net::TcpStream,
    pending: Bytes,
    authority: String,
    pid: Option<i32>,
) {
    let kept = Arc::new(Mutex::new(Kept::default()));
    let svc = {
        let (ctx, kept) = (ctx.clone(), kept.clone());
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let (ctx, kept, authority) = (ctx.clone(), kept.clone(), authority.clone());
            async move {
                let (mut parts, body) = req.into_parts();
                let path = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                let Ok(uri) = format!("http://{authority}{path}").parse::<Uri>() else {
                    return Ok::<_, Infallible>(text(
                        StatusCode::BAD_REQUEST,
                        "pkgwarden: unreadable request target\n".into(),
                    ));
                };
                parts.uri = uri;
                Ok(plain(ctx, &kept, pid, Request::from_parts(parts, body)).await)
            }
        })
    };
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.limits.head_timeout)
        .max_buf_size(ctx.limits.max_head)
        .serve_connection(TokioIo::new(relay::Prefixed::new(pending, near)), svc)
        .await;
    ctx.routes.park(&kept);
}

/// The 403 for a refused request.
fn denied(host: &str, port: u16, open: &Open) -> Response<Body> {
    text(StatusCode::FORBIDDEN, refusal(host, port, open.reason()))
}

/// Headers that belong to one hop (RFC 9110 §7.6.1), and our own.
const HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub(super) fn strip_hop(headers: &mut HeaderMap) {
    // Headers the Connection header names are hop-by-hop too.
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    for n in HOP.iter().map(|s| s.to_string()).chain(named) {
        headers.remove(n.as_str());
    }
}

/// The host and port a `Host` header names (port 80 when it names none).
fn host_header(v: &str) -> Option<(String, u16)> {
    let a: http::uri::Authority = v.trim().parse().ok()?;
    Some((
        a.host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
        a.port_u16().unwrap_or(80),
    ))
}

/// A plain-HTTP request in absolute form: judged, recorded, relayed through
/// the connections this client connection keeps.
async fn plain(
    ctx: Arc<Ctx>,
    kept: &Mutex<Kept>,
    pid: Option<i32>,
    req: Request<Incoming>,
) -> Response<Body> {
    let method = req.method().to_string();
    let uri = req.uri().clone();
    let (Some("http"), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        ctx.book.refusal(
            pid,
            &method,
            "not an absolute http:// URI nor a CONNECT (400)".into(),
        );
        return text(
            StatusCode::BAD_REQUEST,
            "pkgwarden: only absolute http:// URIs and CONNECT\n".into(),
        );
    };
    let host = authority.host().to_string();
    let port = authority.port_u16().unwrap_or(80);
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    // The policy judges the URI's host; the origin serves the Host header's.
    // They must be the same host.
    if let Some(v) = req.headers().get(header::HOST) {
        let named = v.to_str().ok().and_then(host_header);
        if named.as_ref() != Some(&(bare.clone(), port)) {
            let shown = String::from_utf8_lossy(v.as_bytes()).into_owned();
            let open = ctx.book.open(
                pid,
                &method,
                &host,
                port,
                Verdict::Denied,
                Some(format!(
                    "Host header {shown:?} is not the request's host (400)"
                )),
            );
            drop(open);
            return text(
                StatusCode::BAD_REQUEST,
                format!("pkgwarden: the Host header ({shown}) does not name {host}:{port}\n"),
            );
        }
    }
    let open = ctx.judge(pid, &method, &host, port).await;
    // Registries and the hosts let through unexpected alike: a tarball from
    // any host is checked.
    if open.verdict() != Verdict::Denied
        && let Some(refused) = ctx.known_malicious(&open, uri.path())
    {
        return refused;
    }
    if open.verdict() == Verdict::Denied {
        return denied(&host, port, &open);
    }
    if let Some(refused) = ctx
        .cooldown_tarball(&open, kept, (&host, port), req.method(), uri.path())
        .await
    {
        return refused;
    }
    let allowed = open.verdict() == Verdict::Allowed;
    let (mut parts, body) = req.into_parts();
    strip_hop(&mut parts.headers);
    // hyper answers `Expect: 100-continue` itself when the body is first
    // read; the origin gets the body without the wait.
    parts.headers.remove(header::EXPECT);
    let asked = ctx.cooldown_asks(&host, port, &mut parts);
    if let Some(auth) = ctx.routes.chain(&host).and_then(|u| u.auth.clone())
        && let Ok(v) = HeaderValue::from_str(&auth)
    {
        parts.headers.insert(header::PROXY_AUTHORIZATION, v);
    }
    let body = Metered {
        inner: body,
        open: open.clone(),
        up: true,
    }
    .boxed();
    let out = Request::from_parts(parts, body);
    let resp = match ctx.routes.send(kept, &host, port, out).await {
        Ok(r) => r,
        Err(e) => return unreachable(&open, &host, port, &e),
    };
    // Any success is a document to filter (a 203 from a mirror too; at a
    // file's URL, only a page).
    if let Some((filter, asked)) = asked
        && filter.reads(&asked, &resp)
    {
        let url = format!("http://{host}:{port}{}", uri.path());
        return filter.answer(asked, &open, &url, resp).await;
    }
    let (mut parts, body) = resp.into_parts();
    if allowed
        && parts.status.is_redirection()
        && let Some(location) = parts
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    {
        ctx.learn_redirect(&hostport(&host, port), location, false);
    }
    strip_hop(&mut parts.headers);
    let body = Metered {
        inner: body,
        open,
        up: false,
    }
    .boxed();
    Response::from_parts(parts, body)
}

/// A body whose data bytes count toward its request's record; the record
/// ends when the last body referring to it is dropped.
pub(super) struct Metered {
    pub(super) inner: Incoming,
    pub(super) open: Arc<Open>,
    pub(super) up: bool,
}

impl hyper::body::Body for Metered {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(d) = frame.data_ref()
        {
            if this.up {
                this.open.add_up(d.len() as u64);
            } else {
                this.open.add_down(d.len() as u64);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
