//! A tiny loopback HTTP server shared by the fake registries.
//!
//! The server binds `127.0.0.1:0` (an ephemeral port), answers every request
//! on one background thread through a handler closure, keeps a log of the
//! requests it served, and is shut down (thread joined) on `Drop`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What a handler returns for one request.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Extra response headers (name, value).
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    pub fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(200, content_type, body)
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply::new(status, "application/json", value.to_string())
    }

    pub fn not_found_text() -> Reply {
        Reply::new(404, "text/plain; charset=utf-8", "not found\n")
    }
}

/// One request as the handler sees it.
pub struct Incoming<'a> {
    pub method: &'a str,
    /// Percent-decoded path, without the query string.
    pub path: &'a str,
    /// The raw request target as sent (path and query, not decoded).
    pub raw_url: &'a str,
    /// The `Accept` header ("" when none): a PEP 691 client asks for JSON.
    pub accept: &'a str,
}

/// One served request, as recorded in the log.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub method: String,
    /// Percent-decoded path, without the query string.
    pub path: String,
    pub status: u16,
}

pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    port: u16,
    log: Arc<Mutex<Vec<LoggedRequest>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds 127.0.0.1 on an ephemeral port, then calls `make_handler` with
    /// that port (so content can embed absolute URLs) and serves with the
    /// handler it returns.
    pub fn start<F, H>(make_handler: F) -> HttpServer
    where
        F: FnOnce(u16) -> H,
        H: Fn(&Incoming<'_>) -> Reply + Send + 'static,
    {
        let server = match tiny_http::Server::http("127.0.0.1:0") {
            Ok(s) => Arc::new(s),
            Err(e) => panic!("cannot bind a loopback test server: {e}"),
        };
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .expect("test server is bound to an IP address");
        let handler = make_handler(port);
        let log: Arc<Mutex<Vec<LoggedRequest>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));

        let thread = {
            let server = Arc::clone(&server);
            let log = Arc::clone(&log);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("test-registry-{port}"))
                .spawn(move || serve(&server, &handler, &log, &stop))
                .expect("spawn test server thread")
        };

        HttpServer {
            server,
            port,
            log,
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Number of requests answered so far (any status).
    pub fn request_count(&self) -> usize {
        self.lock_log().len()
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.lock_log().clone()
    }

    /// Whether a request for exactly this (decoded) path was answered.
    pub fn was_requested(&self, path: &str) -> bool {
        self.lock_log().iter().any(|r| r.path == path)
    }

    fn lock_log(&self) -> std::sync::MutexGuard<'_, Vec<LoggedRequest>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // `unblock` queues a wake-up, so it works even if the thread is busy
        // answering a request right now.
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve<H>(
    server: &tiny_http::Server,
    handler: &H,
    log: &Mutex<Vec<LoggedRequest>>,
    stop: &AtomicBool,
) where
    H: Fn(&Incoming<'_>) -> Reply,
{
    loop {
        let request = match server.recv() {
            Ok(r) => r,
            // Either we were unblocked by Drop, or the listener reported an
            // error (e.g. a client reset); only the former ends the loop.
            Err(_) if stop.load(Ordering::SeqCst) => return,
            Err(_) => continue,
        };
        let raw_url = request.url().to_string();
        let method = request.method().as_str().to_string();
        let raw_path = raw_url.split(['?', '#']).next().unwrap_or("");
        let path = percent_decode(raw_path);
        let accept = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("Accept"))
            .map(|h| h.value.as_str().to_string())
            .unwrap_or_default();
        let reply = handler(&Incoming {
            method: &method,
            path: &path,
            raw_url: &raw_url,
            accept: &accept,
        });
        log.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(LoggedRequest {
                method,
                path,
                status: reply.status,
            });
        let mut response =
            tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
        if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", reply.content_type) {
            response = response.with_header(h);
        }
        for (name, value) in &reply.headers {
            if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response = response.with_header(h);
            }
        }
        // One request per connection: a keep-alive connection to this
        // single-threaded server can stall a client that opened several, and
        // the benchmarks compare bare and sandboxed installs on equal terms
        // (pkgwarden's proxy also closes plain-HTTP connections per request).
        if let Ok(h) = tiny_http::Header::from_bytes("Connection", "close") {
            response = response.with_header(h);
        }
        // A client that went away mid-response is not our problem.
        let _ = request.respond(response);
    }
}

/// Decodes `%XX` escapes (invalid escapes are kept verbatim).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A server for the files under `dir`, by path (a gem source made by
/// `gem generate_index`, a channel …); anything else is a 404.
pub fn static_dir(dir: std::path::PathBuf) -> HttpServer {
    HttpServer::start(move |_port| {
        move |rq: &Incoming<'_>| {
            let rel = rq.path.trim_start_matches('/');
            let p = dir.join(rel);
            if rel.contains("..") || !p.is_file() {
                return Reply::not_found_text();
            }
            Reply::ok("application/octet-stream", std::fs::read(&p).unwrap())
        }
    })
}
