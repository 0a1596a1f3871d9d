//! The proxy against loopback origins of every shape, with curl and raw
//! sockets as clients.

use super::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;

/// Reads one request or response head (byte by byte: nothing past it).
fn head(s: &mut TcpStream) -> Option<String> {
    let mut h = Vec::new();
    let mut b = [0u8; 1];
    while !h.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).ok()? == 0 {
            return None;
        }
        h.push(b[0]);
    }
    String::from_utf8(h).ok()
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// Reads a request: its head and its (Content-Length) body.
fn request(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let h = head(s)?;
    let mut body = vec![0u8; content_length(&h)];
    s.read_exact(&mut body).ok()?;
    Some((h, body))
}

/// A loopback origin: every connection is handed to `serve` on a thread.
fn origin(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let serve = serve.clone();
            std::thread::spawn(move || serve(s));
        }
    });
    addr
}

fn policy(allowed: &[SocketAddr]) -> ProxyPolicy {
    ProxyPolicy {
        allowed: allowed.iter().map(|a| a.to_string()).collect(),
        allow_unknown: false,
        tolerated: Vec::new(),
        deny_raw_ip: true,
        upstream: None,
        limits: Limits::default(),
        ..ProxyPolicy::default()
    }
}

fn auth(p: &Proxy) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("pkgwarden:{}", p.token))
}

/// One request on a fresh connection; the whole answer (the proxy closes
/// after `Connection: close`).
fn ask(proxy: &Proxy, request: String) -> String {
    let mut c = TcpStream::connect(proxy.addr).unwrap();
    c.write_all(request.as_bytes()).unwrap();
    // One response: its head, then its `Content-Length` body when it has
    // one (a refused CONNECT keeps the connection open until the idle
    // timeout), else everything until the proxy closes.
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = c.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        if length.is_some_and(|len| out.len() >= end + 4 + len) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// curl through the proxy; (exit success, stdout).
fn curl(proxy: &Proxy, args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-x", &proxy.url()])
        .args(args)
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// An HTTP/1.1 origin keeping connections alive: answers `hello <path>` to
/// each request; closes a connection idle for `idle`.
fn keep_alive_origin(idle: Duration) -> SocketAddr {
    counted_origin(idle, Arc::default())
}

/// [`keep_alive_origin`], counting the connections it accepts.
fn counted_origin(idle: Duration, accepted: Arc<std::sync::atomic::AtomicUsize>) -> SocketAddr {
    origin(move |mut s| {
        accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _ = s.set_read_timeout(Some(idle));
        while let Some((h, _)) = request(&mut s) {
            let path = h.split(' ').nth(1).unwrap_or("").to_string();
            let body = format!("hello {path}");
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    })
}

/// `GET path` on `c` through the proxy; asserts the origin's `hello path`.
fn get_hello(c: &mut TcpStream, auth: &str, origin_addr: SocketAddr, path: &str) {
    write!(
        c,
        "GET http://{origin_addr}{path} HTTP/1.1\r\nHost: {origin_addr}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
    )
    .unwrap();
    let h = head(c).unwrap();
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    let mut body = vec![0u8; content_length(&h)];
    c.read_exact(&mut body).unwrap();
    assert_eq!(body, format!("hello {path}").as_bytes());
}

#[test]
fn requests_need_the_token_and_go_to_allowed_hosts_only() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let origin_addr = origin(move |mut s| {
        if let Some((h, _)) = request(&mut s) {
            seen2.lock().unwrap().push(h);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        }
    });
    let proxy = Proxy::start(policy(&[origin_addr]), Instant::now()).unwrap();
    let out = ask(
        &proxy,
        format!(
            "GET http://{origin_addr}/x HTTP/1.1\r\nHost: {origin_addr}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(out.starts_with("HTTP/1.1 407"), "{out}");
    let auth = auth(&proxy);
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
    let h = seen.lock().unwrap()[0].clone();
    assert!(h.starts_with("GET /x HTTP/1.1\r\n"), "{h}");
    assert!(
        !h.to_ascii_lowercase().contains("proxy-authorization"),
        "{h}"
    );
    // Another loopback port is not a registry: 403, never connected.
    let out = ask(
        &proxy,
        format!(
            "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        ),
    );
    assert!(
        out.starts_with("HTTP/1.1 403") && out.contains("pkgwarden"),
        "{out}"
    );
    // The Host header must name the host the policy judged.
    let out = ask(
        &proxy,
        format!(
            "GET http://{origin_addr}/x HTTP/1.1\r\nHost: other.invalid\r\nConnection: close\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        ),
    );
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    let records = proxy.finish();
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(
        records
            .iter()
            .any(|r| r.verdict == Verdict::Allowed && r.bytes_down == 5 && !r.open_at_end)
    );
    assert!(
        records
            .iter()
            .any(|r| r.verdict == Verdict::Denied && r.port == 1)
    );
    assert!(records.iter().any(|r| {
        r.verdict == Verdict::Denied
            && r.reason
                .as_deref()
                .is_some_and(|x| x.contains("Host header"))
    }));
}

#[test]
fn allowed_requests_go_through_the_users_upstream_proxy() {
    let origin_addr = keep_alive_origin(Duration::from_secs(5));
    let inner = Proxy::start(policy(&[origin_addr]), Instant::now()).unwrap();
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
        !up.covers("a.corp.example") && !up.covers("internal.example") && up.covers("x.example")
    );
    let mut p = policy(&[origin_addr]);
    p.upstream = Some(up);
    let outer = Proxy::start(p, Instant::now()).unwrap();
    let (ok, out) = curl(&outer, &[&format!("http://{origin_addr}/y")]);
    assert!(ok && out == "hello /y", "{out}");
    let (ok, out) = curl(
        &outer,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-p",
            &format!("https://{origin_addr}/"),
        ],
    );
    // A tunnel through both proxies reaches the origin (which speaks no
    // TLS: curl fails the handshake, after the tunnel was made).
    assert!(!ok, "{out}");
    // The inner proxy (the user's) saw both, with its own credentials.
    let seen = inner.finish();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|r| r.verdict == Verdict::Allowed));
    assert_eq!(outer.finish().len(), 2);
}

#[test]
fn http_1_0_origins_closing_after_each_response_serve_every_request() {
    // python3 -m http.server's shape: HTTP/1.0, no Connection header, the
    // connection closed after the body.
    let origin_addr = origin(|mut s| {
        if let Some((h, _)) = request(&mut s) {
            let path = h.split(' ').nth(1).unwrap_or("").to_string();
            let _ = write!(s, "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nold {path}");
        }
    });
    let proxy = Proxy::start(policy(&[origin_addr]), Instant::now()).unwrap();
    // One curl, three URLs: one proxy connection kept alive.
    let (ok, out) = curl(
        &proxy,
        &[
            &format!("http://{origin_addr}/a"),
            &format!("http://{origin_addr}/b"),
            &format!("http://{origin_addr}/c"),
        ],
    );
    assert!(ok && out == "old /aold /bold /c", "{out}");
    let r = proxy.finish();
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(
        r.iter().all(|x| x.bytes_down == 6 && !x.open_at_end),
        "{r:?}"
    );
}

#[test]
fn an_origin_closing_idle_connections_is_retried_on_a_fresh_one() {
    let origin_addr = keep_alive_origin(Duration::from_secs(1));
    let proxy = Proxy::start(policy(&[origin_addr]), Instant::now()).unwrap();
    let auth = auth(&proxy);
    let mut c = TcpStream::connect(proxy.addr).unwrap();
    for (i, path) in ["/1", "/2", "/3"].iter().enumerate() {
        if i > 0 {
            // Past the origin's idle timeout: it closed its side.
            std::thread::sleep(Duration::from_millis(1500));
        }
        get_hello(&mut c, &auth, origin_addr, path);
    }
    drop(c);
    assert_eq!(proxy.finish().len(), 3);
}

#[test]
fn client_connections_share_idle_origin_connections() {
    // Managers open many short client connections: the origin connection
    // one leaves idle serves the next, and one the origin closed meanwhile
    // is replaced without an error.
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let origin_addr = counted_origin(Duration::from_secs(1), accepted.clone());
    let proxy = Proxy::start(policy(&[origin_addr]), Instant::now()).unwrap();
    let auth = auth(&proxy);
    let get = |path: &str| {
        let mut c = TcpStream::connect(proxy.addr).unwrap();
        get_hello(&mut c, &auth, origin_addr, path);
        // The client closes; the proxy parks the origin connection.
        drop(c);
        std::thread::sleep(Duration::from_millis(200));
    };
    get("/1");
    get("/2");
    get("/3");
    let used = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        used, 1,
        "three client connections, {used} origin connections"
    );
    // Past the origin's idle timeout: the parked connection is closed.
    std::thread::sleep(Duration::from_millis(1500));
    get("/4");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(proxy.finish().len(), 4);
}

#[test]
fn chunked_bodies_with_trailers_and_100_continue_uploads_pass() {
    let origin_addr = origin(|mut s| {
        while let Some((h, body)) = request(&mut s) {
            if h.starts_with("POST") {
                let b = format!("got {}", body.len());
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{b}",
                    b.len()
                );
            } else {
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Sum: 7\r\n\r\n",
                );
            }
        }
    });
    let proxy = Proxy::start(policy(&[origin_addr]), Instant::now()).unwrap();
    let (ok, out) = curl(&proxy, &[&format!("http://{origin_addr}/chunked")]);
    assert!(ok && out == "abcdefg", "{out}");
    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("up");
    std::fs::write(&upload, vec![7u8; 10 << 20]).unwrap();
    let began = Instant::now();
    let (ok, out) = curl(
        &proxy,
        &[
            "-H",
            "Expect: 100-continue",
            "--expect100-timeout",
            "15",
            "--data-binary",
            &format!("@{}", upload.display()),
            &format!("http://{origin_addr}/up"),
        ],
    );
    assert!(ok && out == format!("got {}", 10 << 20), "{out}");
    // The proxy answered 100 itself: curl did not wait out its timeout.
    assert!(began.elapsed() < Duration::from_secs(10));
    let r = proxy.finish();
    assert!(
        r.iter()
            .any(|x| x.method == "POST" && x.bytes_up == 10 << 20),
        "{r:?}"
    );
}

#[test]
fn a_redirect_from_a_registry_allows_its_target() {
    let files = keep_alive_origin(Duration::from_secs(5));
    let registry = origin(move |mut s| {
        while request(&mut s).is_some() {
            let _ = write!(
                s,
                "HTTP/1.1 302 Found\r\nLocation: http://{files}/pkg.tgz\r\nContent-Length: 0\r\n\r\n"
            );
        }
    });
    let proxy = Proxy::start(policy(&[registry]), Instant::now()).unwrap();
    // Named nowhere, the target is refused.
    let (_, out) = curl(
        &proxy,
        &["-w", "%{http_code}", &format!("http://{files}/x")],
    );
    assert!(out.ends_with("403"), "{out}");
    let (ok, out) = curl(&proxy, &["-L", &format!("http://{registry}/dl")]);
    assert!(ok && out == "hello /pkg.tgz", "{out}");
    let r = proxy.finish();
    assert!(
        r.iter().any(|x| x.port == files.port()
            && x.verdict == Verdict::Allowed
            && x.reason.as_deref().is_some_and(|w| w.contains("redirect"))),
        "{r:?}"
    );
}

#[test]
fn a_tunnel_still_open_at_the_end_is_in_the_records() {
    let origin_addr = origin(|mut s| {
        let mut b = [0u8; 4];
        if s.read_exact(&mut b).is_ok() {
            let _ = s.write_all(b"pong");
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let proxy = Proxy::start(policy(&[origin_addr]), Instant::now()).unwrap();
    let auth = auth(&proxy);
    let mut c = TcpStream::connect(proxy.addr).unwrap();
    write!(
        c,
        "CONNECT {origin_addr} HTTP/1.1\r\nHost: {origin_addr}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
    )
    .unwrap();
    let h = head(&mut c).unwrap();
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    c.write_all(b"ping").unwrap();
    let mut b = [0u8; 4];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"pong");
    let r = proxy.finish();
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].open_at_end && r[0].verdict == Verdict::Allowed,
        "{r:?}"
    );
    assert_eq!((r[0].bytes_up, r[0].bytes_down), (4, 4));
    // finish() closed it.
    assert_eq!(c.read(&mut b).unwrap_or(0), 0);
}

#[test]
fn slow_huge_and_numerous_clients_are_refused_and_recorded() {
    let origin_addr = keep_alive_origin(Duration::from_secs(5));
    let mut p = policy(&[origin_addr]);
    p.limits.head_timeout = Duration::from_secs(1);
    p.limits.max_connections = 3;
    let proxy = Proxy::start(p, Instant::now()).unwrap();
    // A slow-loris client: one byte now and then, never a whole head.
    let mut slow = TcpStream::connect(proxy.addr).unwrap();
    slow.write_all(b"GET http://").unwrap();
    // Meanwhile another client is served at once.
    let began = Instant::now();
    let (ok, out) = curl(&proxy, &[&format!("http://{origin_addr}/fast")]);
    assert!(ok && out == "hello /fast", "{out}");
    assert!(began.elapsed() < Duration::from_millis(900));
    // A head over the limit: 431.
    let auth = auth(&proxy);
    let big = "a".repeat(80 * 1024);
    let out = ask(
        &proxy,
        format!(
            "GET http://{origin_addr}/ HTTP/1.1\r\nHost: {origin_addr}\r\nX-Big: {big}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        ),
    );
    assert!(
        out.starts_with("HTTP/1.1 431"),
        "{}",
        &out[..out.len().min(200)]
    );
    // The slow one was cut off.
    std::thread::sleep(Duration::from_millis(1500));
    let mut b = [0u8; 64];
    assert_eq!(slow.read(&mut b).unwrap_or(0), 0);
    // Over the cap: 503.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(proxy.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let out = ask(&proxy, "GET / HTTP/1.1\r\n\r\n".into());
    assert!(out.starts_with("HTTP/1.1 503"), "{out}");
    drop(held);
    let r = proxy.finish();
    let reasons: Vec<&str> = r.iter().filter_map(|x| x.reason.as_deref()).collect();
    assert!(reasons.iter().any(|x| x.contains("431")), "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|x| x.contains("no complete request head")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|x| x.contains("503")), "{reasons:?}");
}

#[test]
fn an_idle_tunnel_is_closed_and_a_trickling_one_is_not() {
    // The origin echoes each byte it gets.
    let origin_addr = origin(|mut s| {
        let mut b = [0u8; 1];
        while s.read_exact(&mut b).is_ok() {
            if s.write_all(&b).is_err() {
                return;
            }
        }
    });
    let mut p = policy(&[origin_addr]);
    p.limits.tunnel_idle = Duration::from_secs(1);
    let proxy = Proxy::start(p, Instant::now()).unwrap();
    let auth = auth(&proxy);
    let open_tunnel = || {
        let mut c = TcpStream::connect(proxy.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            c,
            "CONNECT {origin_addr} HTTP/1.1\r\nHost: {origin_addr}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        )
        .unwrap();
        let h = head(&mut c).unwrap();
        assert!(h.starts_with("HTTP/1.1 200"), "{h}");
        c
    };
    let mut idle = open_tunnel();
    let mut trickle = open_tunnel();
    let mut b = [0u8; 1];
    // A byte every 400 ms for 2.4 s: never idle for 1 s, stays open.
    for _ in 0..6 {
        trickle.write_all(b"t").unwrap();
        trickle.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"t");
        std::thread::sleep(Duration::from_millis(400));
    }
    // The other one said nothing for 2.4 s: closed.
    assert_eq!(idle.read(&mut b).unwrap_or(0), 0);
    drop((idle, trickle));
    std::thread::sleep(Duration::from_millis(100));
    let r = proxy.finish();
    assert_eq!(r.len(), 2, "{r:?}");
    let closed: Vec<_> = r
        .iter()
        .filter(|x| {
            x.reason
                .as_deref()
                .is_some_and(|x| x.contains("closed after 1 s with no bytes"))
        })
        .collect();
    assert_eq!(closed.len(), 1, "{r:?}");
    assert!(!closed[0].open_at_end && closed[0].bytes_up == 0, "{r:?}");
    assert!(
        r.iter().any(|x| x.bytes_up == 6 && x.bytes_down == 6),
        "{r:?}"
    );
}

/// A loopback port with nothing listening on it.
fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

#[test]
fn an_unreachable_host_is_recorded_with_its_cause() {
    let dead = closed_port();
    let proxy = Proxy::start(policy(&[dead]), Instant::now()).unwrap();
    let auth = auth(&proxy);
    let out = ask(
        &proxy,
        format!(
            "CONNECT {dead} HTTP/1.1\r\nHost: {dead}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        ),
    );
    assert!(out.starts_with("HTTP/1.1 502"), "{out}");
    assert!(
        out.contains("connection refused") && out.contains(&dead.to_string()),
        "{out}"
    );
    let out = ask(
        &proxy,
        format!(
            "GET http://{dead}/x HTTP/1.1\r\nHost: {dead}\r\nConnection: close\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        ),
    );
    assert!(out.starts_with("HTTP/1.1 502"), "{out}");
    assert!(out.contains("connection refused"), "{out}");
    let records = proxy.finish();
    assert_eq!(records.len(), 2, "{records:#?}");
    for r in &records {
        assert_eq!(r.verdict, Verdict::Allowed);
        let f = r.upstream_failure.as_deref().unwrap_or_default();
        assert!(
            f.starts_with("connection refused") && f.contains(&format!("to {dead} (502)")),
            "{r:#?}"
        );
    }
    // The report says it in words, not `allowed … 0 B`.
    let mut report = crate::report::testdata::clean_report("0123456789abcdef");
    report.endpoints = records;
    let text = crate::report::human::show(&report, false);
    let line = text
        .lines()
        .find(|l| l.contains(&format!("CONNECT {dead}")))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.trim_start().starts_with("failed"), "{line}");
    assert!(
        line.contains("connection refused") && line.contains("(502)"),
        "{line}"
    );
}

#[test]
fn failure_causes_are_named() {
    use super::upstream::failure_cause;
    use std::io::{Error, ErrorKind};
    let refused = Error::from(ErrorKind::ConnectionRefused);
    assert!(failure_cause(&refused).starts_with("connection refused"));
    let timed = Error::new(ErrorKind::TimedOut, "connecting to 127.0.0.1:9");
    assert!(failure_cause(&timed).starts_with("timed out"));
    let dns = Error::other("failed to lookup address information: Name or service not known");
    assert!(failure_cause(&dns).starts_with("DNS lookup failed"));
    let tls = Error::other("invalid peer certificate: UnknownIssuer");
    assert!(failure_cause(&tls).starts_with("TLS failed"));
    // Wrapped: the I/O error in the chain decides.
    let wrapped = Error::other(Error::from(ErrorKind::ConnectionRefused));
    assert!(
        failure_cause(&wrapped).starts_with("connection refused"),
        "{}",
        failure_cause(&wrapped)
    );
}

/// A feed naming npm's `pwdep` (any version), in a temporary state dir.
fn feed() -> (tempfile::TempDir, Arc<crate::intel::Check>) {
    let src = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let record = r#"{"id":"MAL-UNIT-1","summary":"inert","modified":"2026-11-30T00:00:00Z",
        "affected":[{"package":{"ecosystem":"npm","name":"pwdep"},
        "ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}"#;
    std::fs::write(src.path().join("r.json"), record).unwrap();
    crate::intel::import(&[src.path().to_path_buf()], state.path()).unwrap();
    let check = crate::intel::Check::open(state.path(), crate::intel::osv::Ecosystem::Npm).unwrap();
    (state, Arc::new(check))
}

#[test]
fn with_a_feed_only_registries_are_terminated_and_other_hosts_stay_tunnels() {
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let asked2 = asked.clone();
    let registry = origin(move |_s| {
        asked2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let extra = origin(|mut s| {
        let mut b = [0u8; 4];
        if s.read_exact(&mut b).is_ok() {
            let _ = s.write_all(b"pong");
        }
    });
    let (_state, check) = feed();
    let mut p = policy(&[registry, extra]);
    p.intel = Some(check);
    p.intel_refuses = true;
    p.inspect = vec![registry.to_string()];
    let proxy = Proxy::start(p, Instant::now()).unwrap();
    let Some(Ok(ca)) = proxy.inspection() else {
        panic!("no CA with a feed and a registry over TLS");
    };
    assert!(!ca.contains("PRIVATE"));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    // The registry: TLS from the install's CA (IP SAN as named), the
    // archive refused inside it before the registry is asked.
    let (ok, out) = curl(
        &proxy,
        &[
            "--cacert",
            ca_file.to_str().unwrap(),
            "-w",
            "%{http_code}",
            &format!("https://{registry}/pwdep/-/pwdep-1.0.0.tgz"),
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("known malicious") && out.ends_with("403"),
        "{out}"
    );
    // Another host named inside the registry's TLS (a shared origin's
    // other virtual server) is refused before the registry is asked.
    let (_, out) = curl(
        &proxy,
        &[
            "--cacert",
            ca_file.to_str().unwrap(),
            "-w",
            "%{http_code}",
            "-H",
            "Host: elsewhere.example",
            &format!("https://{registry}/pwok/"),
        ],
    );
    assert!(out.ends_with("400"), "{out}");
    // The other host: the client's own bytes (a TLS record's start; with a
    // feed, a tunnel whose client speaks plain HTTP is served request by
    // request instead), both ways, untouched.
    let auth = auth(&proxy);
    let mut c = TcpStream::connect(proxy.addr).unwrap();
    write!(
        c,
        "CONNECT {extra} HTTP/1.1\r\nHost: {extra}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
    )
    .unwrap();
    assert!(head(&mut c).unwrap().starts_with("HTTP/1.1 200"));
    c.write_all(&[0x16, 0x03, 0x01, 0x00]).unwrap();
    let mut b = [0u8; 4];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"pong");
    drop(c);
    let r = proxy.finish();
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 0, "{r:?}");
    let reason = |port: u16| {
        r.iter()
            .filter(|q| q.method == "CONNECT" && q.port == port)
            .map(|q| q.reason.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert!(
        reason(registry.port())[0].contains("TLS terminated"),
        "{r:?}"
    );
    assert!(!reason(extra.port())[0].contains("TLS terminated"), "{r:?}");
    assert!(
        r.iter()
            .any(|q| q.method == "GET" && q.known_malicious.is_some()),
        "{r:?}"
    );
}

#[test]
fn without_a_feed_nothing_of_tls_is_made() {
    let registry = origin(|_s| {});
    let mut p = policy(&[registry]);
    p.inspect = vec![registry.to_string()];
    let proxy = Proxy::start(p, Instant::now()).unwrap();
    assert!(proxy.inspection().is_none());
}

#[test]
fn a_registry_certificate_the_manager_would_not_trust_fails_the_request() {
    // A TLS registry whose certificate no trusted CA issued.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap(),
    );
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let served2 = served.clone();
    let registry = origin(move |s| {
        let conn = rustls::ServerConnection::new(server.clone()).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, s);
        let mut b = [0u8; 1];
        if tls.read(&mut b).is_ok_and(|n| n > 0) {
            served2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let (_state, check) = feed();
    let mut p = policy(&[registry]);
    p.intel = Some(check);
    p.intel_refuses = true;
    p.inspect = vec![registry.to_string()];
    let proxy = Proxy::start(p, Instant::now()).unwrap();
    let Some(Ok(ca)) = proxy.inspection() else {
        panic!("no CA");
    };
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let (_, out) = curl(
        &proxy,
        &[
            "--cacert",
            ca_file.to_str().unwrap(),
            "-w",
            "%{http_code}",
            &format!("https://{registry}/clean/-/clean-1.0.0.tgz"),
        ],
    );
    assert!(out.ends_with("502") && out.contains("TLS failed"), "{out}");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 0);
    let r = proxy.finish();
    assert!(
        r.iter().any(|q| q
            .upstream_failure
            .as_deref()
            .is_some_and(|f| f.contains("TLS failed"))),
        "{r:?}"
    );
}

/// A test CA (its PEM) and a TLS server config for `127.0.0.1` it issued.
fn test_ca() -> (String, Arc<rustls::ServerConfig>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf.signed_by(&key, &issuer).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (ca_cert.pem(), Arc::new(server))
}

#[test]
fn an_https_redirect_from_a_terminated_registry_is_terminated_too() {
    let (ca_pem, server) = test_ca();
    // The redirect's host: any connection to it is the archive asked.
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let asked2 = asked.clone();
    let mirror = origin(move |_s| {
        asked2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    // The registry over TLS sends its tarballs to the mirror.
    let registry = origin(move |s| {
        let conn = rustls::ServerConnection::new(server.clone()).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, s);
        let mut h = Vec::new();
        let mut b = [0u8; 1];
        while !h.ends_with(b"\r\n\r\n") {
            if tls.read(&mut b).unwrap_or(0) == 0 {
                return;
            }
            h.push(b[0]);
        }
        let _ = write!(
            tls,
            "HTTP/1.1 302 Found\r\nLocation: https://{mirror}/pwdep/-/pwdep-1.0.0.tgz\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = tls.flush();
    });
    let dir = tempfile::tempdir().unwrap();
    let manager_ca = dir.path().join("registry-ca.pem");
    std::fs::write(&manager_ca, ca_pem).unwrap();
    let (_state, check) = feed();
    let mut p = policy(&[registry]);
    p.intel = Some(check);
    p.intel_refuses = true;
    p.inspect = vec![registry.to_string()];
    p.manager_ca = Some(manager_ca);
    let proxy = Proxy::start(p, Instant::now()).unwrap();
    let Some(Ok(ca)) = proxy.inspection() else {
        panic!("no CA");
    };
    let ca_file = dir.path().join("install-ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let (_, out) = curl(
        &proxy,
        &[
            "--cacert",
            ca_file.to_str().unwrap(),
            "-L",
            "-w",
            "%{http_code}",
            &format!("https://{registry}/pwdep"),
        ],
    );
    assert!(
        out.contains("known malicious") && out.ends_with("403"),
        "{out}"
    );
    let r = proxy.finish();
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the mirror was asked: {r:?}"
    );
    let mirror_connects: Vec<_> = r
        .iter()
        .filter(|q| q.method == "CONNECT" && q.port == mirror.port())
        .collect();
    assert!(
        !mirror_connects.is_empty()
            && mirror_connects.iter().all(|q| q
                .reason
                .as_deref()
                .is_some_and(|w| w.contains("TLS terminated"))),
        "{r:?}"
    );
}

/// An origin that answers every request with `body` (gzip-encoded, with an
/// ETag) as `ctype`, and keeps the request heads it got.
fn packument_origin(ctype: &'static str, body: Vec<u8>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use flate2::write::GzEncoder;
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body).unwrap();
    let gz = gz.finish().unwrap();
    let heads: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = heads.clone();
    let addr = origin(move |mut s| {
        while let Some((h, _)) = request(&mut s) {
            seen.lock().unwrap().push(h);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Encoding: gzip\r\nETag: \"v1\"\r\nContent-Length: {}\r\n\r\n",
                gz.len()
            );
            if s.write_all(head.as_bytes()).is_err() || s.write_all(&gz).is_err() {
                return;
            }
        }
    });
    (addr, heads)
}

fn a_packument() -> Vec<u8> {
    serde_json::json!({
        "name": "pwcool",
        "dist-tags": {"latest": "1.1.0"},
        "versions": {"1.0.0": {}, "1.1.0": {}},
        "time": {"1.0.0": "2020-01-01T00:00:00.000Z", "1.1.0": "2030-01-01T00:00:00.000Z"}
    })
    .to_string()
    .into_bytes()
}

fn with_cooldown(addr: SocketAddr, refuses: bool) -> ProxyPolicy {
    ProxyPolicy {
        cooldown: Some(Arc::new(CooldownFilter {
            cut: crate::docfilter::Cut {
                at: crate::docfilter::parse_time("2025-01-01T00:00:00Z").unwrap(),
                exempt: Vec::new(),
            },
            age: "3days".into(),
            cutoff: "2025-01-01T00:00:00Z".into(),
            docs: vec![crate::model::cooldown::DocKind::Packument],
            hosts: vec![addr.to_string()],
            refuses,
            dated: Default::default(),
        })),
        ..policy(&[addr])
    }
}

fn get_packument(proxy: &Proxy, addr: SocketAddr) -> String {
    ask(
        proxy,
        format!(
            "GET http://{addr}/pwcool HTTP/1.1\r\nHost: {addr}\r\nProxy-Authorization: Basic {}\r\nAccept: application/vnd.npm.install-v1+json\r\nAccept-Encoding: gzip\r\nIf-None-Match: \"v0\"\r\nConnection: close\r\n\r\n",
            auth(proxy)
        ),
    )
}

#[test]
fn without_a_cooldown_a_packument_passes_byte_for_byte() {
    let (addr, heads) = packument_origin("application/json", a_packument());
    let proxy = Proxy::start(policy(&[addr]), Instant::now()).unwrap();
    let answer = get_packument(&proxy, addr);
    let head = heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(
        head.contains("application/vnd.npm.install-v1+json"),
        "{head}"
    );
    assert!(head.contains("if-none-match"), "{head}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&a_packument()).unwrap();
    let want = gz.finish().unwrap();
    let body = answer.find("\r\n\r\n").unwrap() + 4;
    assert!(
        answer.to_ascii_lowercase().contains("etag: \"v1\""),
        "{answer}"
    );
    // The lossy text of the gzip bytes: the same bytes came through.
    assert_eq!(&answer[body..], String::from_utf8_lossy(&want));
    assert!(proxy.finish().iter().all(|r| r.held_back.is_empty()));
}

#[test]
fn under_a_cooldown_a_packument_is_asked_whole_and_filtered() {
    let (addr, heads) = packument_origin("application/json", a_packument());
    let proxy = Proxy::start(with_cooldown(addr, true), Instant::now()).unwrap();
    let answer = get_packument(&proxy, addr);
    let head = heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(head.contains("accept: application/json\r\n"), "{head}");
    assert!(head.contains("accept-encoding: identity"), "{head}");
    assert!(!head.contains("if-none-match"), "{head}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{answer}");
    assert!(
        !lower.contains("etag") && !lower.contains("content-encoding"),
        "{answer}"
    );
    let (h, body) = answer.split_once("\r\n\r\n").unwrap();
    assert_eq!(content_length(h), body.len(), "{answer}");
    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
    assert!(doc["versions"].get("1.1.0").is_none(), "{doc}");
    let records = proxy.finish();
    let held: Vec<_> = records.iter().flat_map(|r| r.held_back.clone()).collect();
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].version.as_str(), held[0].released.as_str()),
        ("1.1.0", "2030-01-01T00:00:00.000Z")
    );
}

#[test]
fn under_a_cooldown_what_cannot_be_filtered_is_refused_or_passed_with_a_note() {
    let (addr, _) = packument_origin("text/html", b"<html>busy</html>".to_vec());
    let proxy = Proxy::start(with_cooldown(addr, true), Instant::now()).unwrap();
    let answer = get_packument(&proxy, addr);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        answer.contains("pkgwarden: refused") && answer.contains("cooldown_allow_unenforced"),
        "{answer}"
    );
    let records = proxy.finish();
    assert!(records.iter().any(|r| {
        r.verdict == Verdict::Denied
            && r.cooldown_unfiltered
                .as_deref()
                .is_some_and(|w| w.contains("refused"))
    }));
    // Protect: passed as it came (decoded), and said.
    let proxy = Proxy::start(with_cooldown(addr, false), Instant::now()).unwrap();
    let answer = get_packument(&proxy, addr);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("<html>busy</html>"),
        "{answer}"
    );
    let records = proxy.finish();
    assert!(records.iter().any(|r| {
        r.cooldown_unfiltered
            .as_deref()
            .is_some_and(|w| w.contains("passed unfiltered"))
    }));
}

/// poetry's default source: a JSON project document at `/pypi/<name>/json`
/// is filtered in its one form (its `Accept` left as the client sent it).
#[test]
fn under_a_cooldown_a_json_project_document_is_filtered() {
    let doc = serde_json::json!({
        "info": {"name": "pwcool", "version": "1.1"},
        "releases": {
            "1.0": [{"filename": "pwcool-1.0.tar.gz", "upload_time_iso_8601": "2020-01-01T00:00:00Z"}],
            "1.1": [{"filename": "pwcool-1.1.tar.gz", "upload_time_iso_8601": "2030-01-01T00:00:00Z"}]
        },
        "urls": []
    });
    let (addr, heads) = packument_origin("application/json", doc.to_string().into_bytes());
    let mut policy = with_cooldown(addr, true);
    if let Some(c) = policy.cooldown.as_mut() {
        Arc::get_mut(c).unwrap().docs = vec![crate::model::cooldown::DocKind::ProjectJson];
    }
    let proxy = Proxy::start(policy, Instant::now()).unwrap();
    let answer = ask(
        &proxy,
        format!(
            "GET http://{addr}/pypi/pwcool/json HTTP/1.1\r\nHost: {addr}\r\nProxy-Authorization: Basic {}\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
            auth(&proxy)
        ),
    );
    let head = heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(head.contains("accept: application/json\r\n"), "{head}");
    assert!(head.contains("accept-encoding: identity"), "{head}");
    let (h, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(h.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(content_length(h), body.len(), "{answer}");
    let got: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(got["releases"].get("1.1").is_none(), "{got}");
    assert_eq!(got["info"]["version"], "1.0");
    let held: Vec<_> = proxy
        .finish()
        .iter()
        .flat_map(|r| r.held_back.clone())
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
}

/// A cooldown for an index (`docs`), refusing what it cannot filter.
fn with_index_cooldown(addr: SocketAddr, docs: &[crate::model::cooldown::DocKind]) -> ProxyPolicy {
    let mut policy = with_cooldown(addr, true);
    if let Some(c) = policy.cooldown.as_mut() {
        Arc::get_mut(c).unwrap().docs = docs.to_vec();
    }
    policy
}

/// `GET http://addr{path}` through the proxy, as pip asks for a page.
fn get_page(proxy: &Proxy, addr: SocketAddr, path: &str) -> String {
    ask(
        proxy,
        format!(
            "GET http://{addr}{path} HTTP/1.1\r\nHost: {addr}\r\nProxy-Authorization: Basic {}\r\nAccept: application/vnd.pypi.simple.v1+json, text/html; q=0.01\r\nConnection: close\r\n\r\n",
            auth(proxy)
        ),
    )
}

const LINKS: &str = "<html><body><a href=\"/f/pwcool-1.1.0-py3-none-any.whl\">pwcool-1.1.0-py3-none-any.whl</a></body></html>";

/// atk15: an index page is a page whatever the index calls its HTML (PEP
/// 691's `application/vnd.pypi.simple.v1+html`, which pip reads, or no
/// type at all): it has no dates, so it is refused, not passed as a file.
#[test]
fn an_index_page_in_any_html_type_is_not_passed_unfiltered() {
    use crate::model::cooldown::DocKind;
    for ctype in [
        "application/vnd.pypi.simple.v1+html",
        "application/xhtml+xml",
        "text/plain",
    ] {
        let (addr, _) = packument_origin(ctype, LINKS.as_bytes().to_vec());
        let proxy = Proxy::start(
            with_index_cooldown(addr, &[DocKind::SimpleIndex]),
            Instant::now(),
        )
        .unwrap();
        let answer = get_page(&proxy, addr, "/simple/pwcool/");
        assert!(answer.starts_with("HTTP/1.1 403"), "{ctype}: {answer}");
        assert!(answer.contains("cooldown_allow_unenforced"), "{answer}");
    }
}

/// atk15: a page whose URL names a file (`index.html`, a `--find-links`
/// page) lists archives as an index page does; read as one (refused: HTML
/// has no dates), while an archive on the same host goes as it came.
#[test]
fn a_page_at_a_file_name_on_an_index_is_read_as_an_index_page() {
    use crate::model::cooldown::DocKind;
    let (addr, _) = packument_origin("text/html", LINKS.as_bytes().to_vec());
    let proxy = Proxy::start(
        with_index_cooldown(addr, &[DocKind::SimpleIndex]),
        Instant::now(),
    )
    .unwrap();
    for path in ["/simple/pwcool/index.html", "/links/all.htm"] {
        let answer = get_page(&proxy, addr, path);
        assert!(answer.starts_with("HTTP/1.1 403"), "{path}: {answer}");
    }
    let (addr, _) = packument_origin("application/octet-stream", b"PK\x03\x04wheel".to_vec());
    let proxy = Proxy::start(
        with_index_cooldown(addr, &[DocKind::SimpleIndex]),
        Instant::now(),
    )
    .unwrap();
    let answer = get_page(&proxy, addr, "/f/pwcool-1.0.0-py3-none-any.whl");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A file's PEP 658 metadata, served as text, is not a page.
    let (addr, _) = packument_origin("text/plain", b"Metadata-Version: 2.1\n".to_vec());
    let proxy2 = Proxy::start(
        with_index_cooldown(addr, &[DocKind::SimpleIndex]),
        Instant::now(),
    )
    .unwrap();
    let answer = get_page(&proxy2, addr, "/f/pwcool-1.0.0-py3-none-any.whl.metadata");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        proxy
            .finish()
            .iter()
            .all(|r| r.cooldown_unfiltered.is_none())
    );
}

/// atk15: poetry's one-release JSON document (`/pypi/<name>/<version>/json`,
/// which it reads for each package it locks or installs): an old release
/// goes as it came; a young one (a lockfile's pin) loses its files, so it
/// cannot be installed past the cooldown.
#[test]
fn a_release_json_document_is_passed_when_old_and_emptied_when_young() {
    use crate::model::cooldown::DocKind;
    let doc = |v: &str, at: &str| {
        serde_json::json!({
            "info": {"name": "pwcool", "version": v},
            "urls": [{"filename": format!("pwcool-{v}.tar.gz"), "url": "/f/x", "upload_time_iso_8601": at}]
        })
        .to_string()
        .into_bytes()
    };
    let docs = [DocKind::SimpleIndex, DocKind::ProjectJson];
    let (addr, _) = packument_origin("application/json", doc("1.0", "2020-01-01T00:00:00Z"));
    let proxy = Proxy::start(with_index_cooldown(addr, &docs), Instant::now()).unwrap();
    let answer = get_page(&proxy, addr, "/pypi/pwcool/1.0/json");
    let (h, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(h.starts_with("HTTP/1.1 200"), "{answer}");
    let got: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(got["urls"].as_array().map(Vec::len), Some(1), "{got}");
    let (addr, _) = packument_origin("application/json", doc("1.1", "2030-01-01T00:00:00Z"));
    let proxy = Proxy::start(with_index_cooldown(addr, &docs), Instant::now()).unwrap();
    let answer = get_page(&proxy, addr, "/pypi/pwcool/1.1/json");
    let (h, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(h.starts_with("HTTP/1.1 200"), "{answer}");
    let got: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(got["urls"], serde_json::json!([]), "{got}");
    let held: Vec<_> = proxy
        .finish()
        .iter()
        .flat_map(|r| r.held_back.clone())
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
}

/// atk15: a tarball asked of the registry without its package document
/// (a lockfile's pin) is dated by the document the proxy asks itself: a
/// version released after the cut-off is refused, an older one fetched.
#[test]
fn a_tarball_is_dated_by_its_package_document() {
    let (addr, heads) = packument_origin("application/json", a_packument());
    let proxy = Proxy::start(with_cooldown(addr, true), Instant::now()).unwrap();
    let get = |path: &str| {
        ask(
            &proxy,
            format!(
                "GET http://{addr}{path} HTTP/1.1\r\nHost: {addr}\r\nProxy-Authorization: Basic {}\r\nConnection: close\r\n\r\n",
                auth(&proxy)
            ),
        )
    };
    let answer = get("/pwcool/-/pwcool-1.1.0.tgz");
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("released after the cut-off"), "{answer}");
    let asked: Vec<String> = heads.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].starts_with("GET /pwcool HTTP/1.1"), "{asked:?}");
    let answer = get("/pwcool/-/pwcool-1.0.0.tgz");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Dated by the document already read: not asked again.
    assert_eq!(heads.lock().unwrap().len(), 2);
    let records = proxy.finish();
    let held: Vec<_> = records.iter().flat_map(|r| r.held_back.clone()).collect();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].version, "1.1.0");
}
