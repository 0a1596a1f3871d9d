//! A terminated `CONNECT` to one of the manager's registries (only while a
//! feed is present): the client's TLS is accepted with the install's leaf
//! for that host (HTTP/1.1 only), each request inside is judged as a plain
//! one is (the feed first: a known-malicious archive is refused before the
//! registry is asked), then sent to the registry over TLS, verified as the
//! manager would have verified it, directly or through the user's proxy.

use super::Verdict;
use super::record::Open;
use super::server::{Ctx, Metered, strip_hop, text, unreachable};
use super::tls::{self, Authority};
use super::upstream::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::io;
use std::sync::Arc;

/// One terminated client connection: where its requests go.
struct Conn {
    ctx: Arc<Ctx>,
    authority: Arc<Authority>,
    host: String,
    port: u16,
    pid: Option<i32>,
    verdict: Verdict,
    /// The registry connection this client connection keeps.
    sender: tokio::sync::Mutex<Option<SendRequest<Body>>>,
}

/// Answers the `CONNECT` and serves what comes inside it. A leaf that
/// cannot be made refuses the tunnel (fail closed) but in audit.
pub(super) fn terminate(
    ctx: Arc<Ctx>,
    authority: Arc<Authority>,
    pid: Option<i32>,
    req: Request<Incoming>,
    host: String,
    port: u16,
    open: Arc<Open>,
) -> Response<Body> {
    let server = match authority.server(&host) {
        Ok(s) => s,
        Err(e) => {
            let failure =
                format!("no certificate for {host}, the feed cannot check this registry ({e})");
            open.fail(&failure);
            eprintln!("pkgwarden: proxy: {}", crate::report::clean(&failure));
            return text(
                StatusCode::FORBIDDEN,
                format!("pkgwarden: {host}:{port} refused: {failure}\n"),
            );
        }
    };
    open.note("TLS terminated: the feed checks what this registry serves");
    let limits = ctx.limits().clone();
    let conn = Arc::new(Conn {
        ctx,
        authority,
        host,
        port,
        pid,
        verdict: open.verdict(),
        sender: tokio::sync::Mutex::new(None),
    });
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        let accepted =
            tokio::time::timeout(tls::ACCEPT_TIMEOUT, acceptor.accept(TokioIo::new(upgraded)))
                .await;
        let stream = match accepted {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                open.note(&format!("the client's TLS handshake failed ({e})"));
                return;
            }
            Err(_) => {
                open.note("the client's TLS handshake timed out");
                return;
            }
        };
        let svc = {
            let conn = conn.clone();
            hyper::service::service_fn(move |req| inner(conn.clone(), req))
        };
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.head_timeout)
            .max_buf_size(limits.max_head)
            .serve_connection(TokioIo::new(stream), svc)
            .await;
        // The registry connection waits for the next client connection: a
        // fresh TLS handshake each doubled a new connection's cost.
        if let Some(s) = conn.sender.lock().await.take() {
            conn.ctx.routes().park_one(conn.pool_key(), s);
        }
        drop(open);
    });
    Response::new(Full::new(Bytes::new()).map_err(|n| match n {}).boxed())
}

/// One request inside the terminated tunnel: recorded, checked against the
/// feed, relayed to the registry.
async fn inner(conn: Arc<Conn>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let ctx = &conn.ctx;
    let open = Arc::new(ctx.book().open(
        conn.pid,
        req.method().as_str(),
        &conn.host,
        conn.port,
        conn.verdict,
        Some("inside the registry's terminated TLS".into()),
    ));
    // The connection goes to the registry the tunnel named; a request that
    // names another host (Host header, absolute form) would reach that
    // host's virtual server on a shared origin.
    if let Some(shown) = another_host(&req, &conn.host, conn.port) {
        open.fail(&format!(
            "the request names {shown:?}, not the terminated registry (400)"
        ));
        return Ok(text(
            StatusCode::BAD_REQUEST,
            format!(
                "pkgwarden: {shown} is not {}:{}, the registry this tunnel reaches\n",
                conn.host, conn.port
            ),
        ));
    }
    if let Some(refused) = ctx.known_malicious(&open, req.uri().path()) {
        return Ok(refused);
    }
    if let Some(refused) = conn
        .cooldown_tarball(&open, req.method(), req.uri().path())
        .await
    {
        return Ok(refused);
    }
    let (mut parts, body) = req.into_parts();
    strip_hop(&mut parts.headers);
    parts.headers.remove(header::EXPECT);
    let asked = ctx.cooldown_asks(&conn.host, conn.port, &mut parts);
    // The registry gets origin-form, and its own name as Host when the
    // client sent none.
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    parts.uri = match path.parse::<Uri>() {
        Ok(u) => u,
        Err(_) => {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                "pkgwarden: malformed request path\n".into(),
            ));
        }
    };
    if !parts.headers.contains_key(header::HOST) {
        let named = match conn.port {
            443 => conn.host.clone(),
            p => format!("{}:{p}", conn.host),
        };
        if let Ok(v) = HeaderValue::from_str(&named) {
            parts.headers.insert(header::HOST, v);
        }
    }
    let body = Metered {
        inner: body,
        open: open.clone(),
        up: true,
    }
    .boxed();
    let resp = match conn.send(Request::from_parts(parts, body)).await {
        Ok(r) => r,
        Err(e) => return Ok(unreachable(&open, &conn.host, conn.port, &e)),
    };
    // Any success is a document to filter (a 203 from a mirror too; at a
    // file's URL, only a page).
    if let Some((filter, asked)) = asked
        && filter.reads(&asked, &resp)
    {
        let url = format!("https://{}:{}{path}", conn.host, conn.port);
        return Ok(filter.answer(asked, &open, &url, resp).await);
    }
    let (mut parts, body) = resp.into_parts();
    if parts.status.is_redirection()
        && let Some(location) = parts
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    {
        ctx.learn_redirect(
            &super::server::hostport(&conn.host, conn.port),
            location,
            true,
        );
    }
    strip_hop(&mut parts.headers);
    let body = Metered {
        inner: body,
        open,
        up: false,
    }
    .boxed();
    Ok(Response::from_parts(parts, body))
}

/// The host a request inside the tunnel names, when it is not `host:port`
/// (the default port: 443).
fn another_host<B>(req: &Request<B>, host: &str, port: u16) -> Option<String> {
    let want = (
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
        port,
    );
    let same = |a: &http::uri::Authority| {
        let h = a
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        (h, a.port_u16().unwrap_or(443)) == want
    };
    if let Some(a) = req.uri().authority()
        && !same(a)
    {
        return Some(a.to_string());
    }
    let v = req.headers().get(header::HOST)?;
    let named = v
        .to_str()
        .ok()
        .and_then(|t| t.trim().parse::<http::uri::Authority>().ok());
    match named {
        Some(a) if same(&a) => None,
        _ => Some(String::from_utf8_lossy(v.as_bytes()).into_owned()),
    }
}

impl Conn {
    /// Where idle registry connections of this host wait (apart from plain
    /// HTTP's, which are not TLS).
    fn pool_key(&self) -> String {
        format!("tls:{}:{}", self.host.to_ascii_lowercase(), self.port)
    }

    /// Sends on the kept registry connection, or a fresh one (also when the
    /// kept one had closed before the request went out).
    async fn send(&self, req: Request<Body>) -> io::Result<Response<Incoming>> {
        let mut slot = self.sender.lock().await;
        let mut kept = None;
        if let Some(mut s) = slot.take()
            && !s.is_closed()
            && s.ready().await.is_ok()
        {
            kept = Some(s);
        }
        if kept.is_none() {
            kept = self.ctx.routes().unpark(&self.pool_key());
        }
        let fresh = kept.is_none();
        let mut sender = match kept {
            Some(s) => s,
            None => self.open().await?,
        };
        let resp = match sender.try_send_request(req).await {
            Ok(r) => r,
            Err(mut e) => match e.take_message() {
                Some(req) if !fresh => {
                    sender = self.open().await?;
                    sender.send_request(req).await.map_err(io::Error::other)?
                }
                _ => return Err(io::Error::other(e.into_error())),
            },
        };
        *slot = Some(sender);
        Ok(resp)
    }

    /// The cooldown's check of a tarball asked inside the tunnel
    /// ([`super::cooldown::CooldownFilter::tarball`]), its document asked on
    /// this connection when no filtered one dated it: the refusal, if any.
    async fn cooldown_tarball(
        &self,
        open: &Open,
        method: &hyper::Method,
        path: &str,
    ) -> Option<Response<Body>> {
        let filter = self.ctx.cooldown()?;
        let t = filter.tarball(
            &super::server::hostport(&self.host, self.port),
            method,
            path,
        )?;
        if let Some(judged) = filter.judged(&t, open) {
            return judged;
        }
        let named = match self.port {
            443 => self.host.clone(),
            p => format!("{}:{p}", self.host),
        };
        let answer = match super::cooldown::CooldownFilter::doc_request(&t, "", &named) {
            Some(req) => self.send(req).await,
            None => Err(io::Error::other("its path is not a URL path")),
        };
        let url = format!("https://{named}{path}");
        filter.judge_tarball(&t, open, &url, answer).await
    }

    /// A fresh verified TLS connection to the registry. A certificate the
    /// manager would not have trusted fails it: never unverified.
    async fn open(&self) -> io::Result<SendRequest<Body>> {
        let authority = self.authority.clone();
        let client = tokio::task::spawn_blocking(move || authority.client())
            .await
            .map_err(io::Error::other)?
            .map_err(|e| io::Error::other(format!("TLS failed: {e}")))?;
        let tcp = self.ctx.routes().tunnel(&self.host, self.port).await?;
        let name = tls::server_name(&self.host)?;
        let stream = tokio_rustls::TlsConnector::from(client)
            .connect(name, tcp)
            .await
            .map_err(|e| io::Error::other(format!("TLS failed: {e}")))?;
        super::upstream::handshake(stream).await
    }
}
