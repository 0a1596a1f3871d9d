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
