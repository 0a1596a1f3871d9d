//! A tunnel's bytes: copied both ways between the client's socket and the
//! host's, counted into the tunnel's record, and closed when nothing has
//! crossed either way for the install's tunnel idle time.

use super::record::Open;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Bytes moved per read, each way: small reads made large downloads
/// syscall-bound (see the bench).
const RELAY_BUF: usize = 256 * 1024;

/// Copies `near` (the client, with `pending`: bytes hyper had already read
/// past the `CONNECT` head) and `far` (the host) both ways until either side
/// closes or the tunnel has been idle for `idle`.
pub async fn tunnel(
    mut near: TcpStream,
    pending: &[u8],
    far: TcpStream,
    open: Arc<Open>,
    idle: Duration,
) {
    let mut far = Counted {
        inner: far,
        open: open.clone(),
    };
    if !pending.is_empty() && far.write_all(pending).await.is_err() {
        return;
    }
    let copy = tokio::io::copy_bidirectional_with_sizes(&mut near, &mut far, RELAY_BUF, RELAY_BUF);
    tokio::pin!(copy);
    // Idle is judged from the byte counts, checked a few times per period:
    // a tunnel is closed between `idle` and 1.25 × `idle` after its last byte.
    let mut seen = open.moved();
    let mut quiet_since = Instant::now();
    loop {
        tokio::select! {
            _ = &mut copy => return,
            _ = tokio::time::sleep(idle / 4) => {
                let now = open.moved();
                if now != seen {
                    seen = now;
                    quiet_since = Instant::now();
                } else if quiet_since.elapsed() >= idle {
                    open.note(&format!(
                        "closed after {} s with no bytes either way",
                        idle.as_secs()
                    ));
                    return;
                }
            }
        }
    }
}

/// `Some(true)` when the client of a tunnel may be speaking plain HTTP:
/// its first bytes (from `pending`, or peeked) are neither a TLS record nor
/// an SSH banner, and the host did not speak first (SSH, SMTP). Fail closed:
/// an origin accepts more than a request line (leading empty lines, methods
/// it treats as GET), so whatever is not recognised as another protocol is
/// served as HTTP, and hyper refuses what is no HTTP at all.
///
/// `None` when neither side sent a byte within `wait` (the tunnel's idle
/// time): the caller closes the tunnel, as a relayed tunnel with no bytes
/// either way for that long is closed. Not a plain tunnel: a client could
/// otherwise wait out the bound and then send plain HTTP unread by the
/// feed's check. A host that speaks first, however late within `wait`,
/// still gets its plain tunnel (an SMTP server's delayed greeting).
pub async fn speaks_http(
    near: &TcpStream,
    pending: &[u8],
    far: &TcpStream,
    wait: Duration,
) -> Option<bool> {
    let mut buf = [0u8; 4];
    let got = if pending.is_empty() {
        // `peek` on the host's side too: `readable()` may wake without
        // data, which would let an HTTP client through unread.
        let mut one = [0u8; 1];
        tokio::select! {
            biased;
            r = near.peek(&mut buf) => r.unwrap_or(0),
            _ = far.peek(&mut one) => 0,
            _ = tokio::time::sleep(wait) => return None,
        }
    } else {
        let n = pending.len().min(buf.len());
        buf[..n].copy_from_slice(&pending[..n]);
        n
    };
    let head = &buf[..got];
    // 0x16: a TLS handshake record.
    Some(got > 0 && head[0] != 0x16 && !(got == 4 && head == b"SSH-"))
}

/// The client's socket with the bytes already read from it first.
pub struct Prefixed {
    pending: bytes::Bytes,
    inner: TcpStream,
}

impl Prefixed {
    /// `inner`, whose next bytes are `pending`.
    pub fn new(pending: bytes::Bytes, inner: TcpStream) -> Prefixed {
        Prefixed { pending, inner }
    }
}

impl AsyncRead for Prefixed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.pending.is_empty() {
            let n = this.pending.len().min(buf.remaining());
            buf.put_slice(&this.pending.split_to(n));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A tunnel's far end, counting what crosses it.
struct Counted {
    inner: TcpStream,
    open: Arc<Open>,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.open.add_down((buf.filled().len() - before) as u64);
        r
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            this.open.add_up(*n as u64);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// A connected pair: (the proxy's side, the peer's side).
    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (ours, _) = l.accept().await.unwrap();
        (ours, peer)
    }

    #[test]
    fn a_tunnel_client_is_read_as_http_only_when_it_sends_a_request_line() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            for (first, http) in [
                (&b"GET /x HTTP/1.1\r\n"[..], true),
                (b"HEA", true),
                // What an origin may still read as a request.
                (b"\r\nGET /x HTTP/1.1\r\n", true),
                (b"get /x HTTP/1.1\r\n", true),
                (b"FOO /x HTTP/1.1\r\n", true),
                (b"\x16\x03\x01\x02\x00", false),
                (b"SSH-2.0-OpenSSH_9.6\r\n", false),
            ] {
                let (near, mut client) = pair().await;
                let (far, _host) = pair().await;
                client.write_all(first).await.unwrap();
                let got = speaks_http(&near, &[], &far, WAIT).await;
                assert_eq!(got, Some(http), "{first:?}");
                // Bytes hyper had read already decide without a peek.
                let got = speaks_http(&near, first, &far, WAIT).await;
                assert_eq!(got, Some(http), "{first:?}");
            }
            // The host speaks first (an SSH server's banner): no HTTP.
            let (near, _client) = pair().await;
            let (far, mut host) = pair().await;
            host.write_all(b"SSH-2.0-server\r\n").await.unwrap();
            assert_eq!(speaks_http(&near, &[], &far, WAIT).await, Some(false));
        });
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[test]
    fn a_silent_tunnel_is_closed_after_the_wait_and_a_late_host_still_speaks_first() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let short = Duration::from_millis(300);
            let (near, _client) = pair().await;
            let (far, _host) = pair().await;
            let started = std::time::Instant::now();
            assert_eq!(speaks_http(&near, &[], &far, short).await, None);
            let took = started.elapsed();
            assert!(took >= short && took < Duration::from_secs(3), "{took:?}");
            // A host whose greeting comes late, within the wait: a tunnel.
            let (near, _client) = pair().await;
            let (far, mut host) = pair().await;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                host.write_all(b"220 mail ready\r\n").await.unwrap();
                tokio::time::sleep(WAIT).await;
            });
            assert_eq!(speaks_http(&near, &[], &far, WAIT).await, Some(false));
            // A client whose request comes late, within the wait: HTTP.
            let (near, mut client) = pair().await;
            let (far, _host) = pair().await;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
                tokio::time::sleep(WAIT).await;
            });
            assert_eq!(speaks_http(&near, &[], &far, WAIT).await, Some(true));
        });
    }
}
