//! Loopback listeners that count what reaches them while an install runs
//! (the race tests: nothing may arrive).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A thread that counts the datagrams `recv` gets (it must time out now
/// and then, so that [`Datagrams::finish`] can stop it).
pub struct Datagrams {
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Datagrams {
    pub fn count(
        mut recv: impl FnMut(&mut [u8]) -> std::io::Result<usize> + Send + 'static,
    ) -> Self {
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st) = (count.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            loop {
                match recv(&mut buf) {
                    Ok(_) => {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) if st.load(Ordering::SeqCst) => break,
                    Err(_) => {}
                }
            }
        });
        Datagrams {
            count,
            stop,
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.count.load(Ordering::SeqCst)
    }
}

/// A loopback UDP listener that counts the datagrams it gets.
pub struct CountingUdp {
    pub port: u16,
    got: Datagrams,
}

impl CountingUdp {
    pub fn start() -> CountingUdp {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_millis(20)))
            .unwrap();
        let port = s.local_addr().unwrap().port();
        CountingUdp {
            port,
            got: Datagrams::count(move |buf| s.recv(buf)),
        }
    }

    pub fn finish(self) -> usize {
        self.got.finish()
    }
}

/// A unix datagram socket that counts the datagrams it gets.
pub struct CountingDgram {
    pub path: PathBuf,
    got: Datagrams,
}

impl CountingDgram {
    pub fn start(dir: &std::path::Path) -> CountingDgram {
        let path = dir.join("dgram.sock");
        let s = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_millis(20)))
            .unwrap();
        CountingDgram {
            path,
            got: Datagrams::count(move |buf| s.recv(buf)),
        }
    }

    pub fn finish(self) -> usize {
        self.got.finish()
    }
}

/// A loopback "registry" that answers 401 (a Basic challenge) to a request
/// without credentials and 404 to one with, and keeps the `Authorization`
/// headers it was sent.
pub fn header_sink() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heard = Arc::new(Mutex::new(Vec::<String>::new()));
    let h = heard.clone();
    // Never joined: it waits for clients that may not come.
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let mut buf = vec![0u8; 8192];
            let n = c.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let mut authorized = false;
            for line in req.lines() {
                if line.to_ascii_lowercase().starts_with("authorization:") {
                    h.lock().unwrap().push(line.to_string());
                    authorized = true;
                }
            }
            // A client that sends credentials only when challenged gets
            // the challenge first.
            let answer: &[u8] = match authorized {
                true => b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                false => b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"pkgwarden-test\"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            };
            let _ = c.write_all(answer);
        }
    });
    (port, heard)
}
