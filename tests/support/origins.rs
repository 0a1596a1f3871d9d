//! Loopback origins shaped like real servers, unlike the `Connection: close`
//! servers of `http.rs`: `python3 -m http.server` (HTTP/1.0, closes after
//! each response), and an HTTP/1.1 origin that keeps connections alive and
//! closes them after an idle second.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// `python3 -m http.server` serving `dir`; killed on drop.
pub struct PythonHttpServer {
    pub addr: SocketAddr,
    child: Child,
}

impl PythonHttpServer {
    pub fn start(dir: &Path) -> PythonHttpServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        for _ in 0..100 {
            if TcpStream::connect(addr).is_ok() {
                return PythonHttpServer { addr, child };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("python3 -m http.server did not start");
    }
}

impl Drop for PythonHttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request's head, byte by byte (nothing past it is read).
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

/// An HTTP/1.1 origin keeping connections alive, closing one idle for a
/// second. `answer(path)` gives (status line, extra headers, body).
pub fn keep_alive_origin(
    answer: impl Fn(&str) -> (String, String, Vec<u8>) + Send + Sync + 'static,
) -> SocketAddr {
    keep_alive_origin_on(TcpListener::bind("127.0.0.1:0").unwrap(), answer)
}

/// `keep_alive_origin` on a listener bound beforehand, for an origin whose
/// answers name its own address.
pub fn keep_alive_origin_on(
    l: TcpListener,
    answer: impl Fn(&str) -> (String, String, Vec<u8>) + Send + Sync + 'static,
) -> SocketAddr {
    let addr = l.local_addr().unwrap();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let answer = answer.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                while let Some(h) = head(&mut s) {
                    let path = h.split(' ').nth(1).unwrap_or("/").to_string();
                    let (status, headers, body) = answer(&path);
                    let mut out = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{headers}\r\n",
                        body.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(&body);
                    if s.write_all(&out).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}
