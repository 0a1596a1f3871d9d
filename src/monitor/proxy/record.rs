//! What the proxy decided, kept the moment it decided: a request is in the
//! book before a byte goes to its host, and its bytes and duration are added
//! when it ends. What never ends before the install does (a tunnel a detached
//! process keeps open) is still in the report, marked `open_at_end`.

use super::{Request, Verdict};
use crate::model::cooldown::HeldBack;
use crate::model::request::KnownMalicious;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// All requests of one install.
pub struct Book {
    start: Instant,
    inner: Mutex<Inner>,
}

struct Inner {
    entries: Vec<Entry>,
    /// `finish` has taken the records: later ends change nothing.
    closed: bool,
}

struct Entry {
    request: Request,
    began: Instant,
    open: bool,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl Book {
    /// An empty book; times count from `start` (the install's start).
    pub fn new(start: Instant) -> Book {
        Book {
            start,
            inner: Mutex::new(Inner {
                entries: Vec::new(),
                closed: false,
            }),
        }
    }

    /// Records a verdict now; the returned handle completes the entry when
    /// the request ends (or is dropped).
    pub fn open(
        self: &Arc<Self>,
        pid: Option<i32>,
        method: &str,
        host: &str,
        port: u16,
        verdict: Verdict,
        reason: Option<String>,
    ) -> Open {
        let kept = (verdict, reason.clone());
        let request = Request {
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
            open_at_end: false,
            upstream_failure: None,
            known_malicious: None,
            held_back: Vec::new(),
            cooldown_unfiltered: None,
        };
        let up = Arc::new(AtomicU64::new(0));
        let down = Arc::new(AtomicU64::new(0));
        let index = match self.inner.lock() {
            Ok(mut inner) => {
                inner.entries.push(Entry {
                    request,
                    began: Instant::now(),
                    open: true,
                    up: up.clone(),
                    down: down.clone(),
                });
                Some(inner.entries.len() - 1)
            }
            Err(_) => None,
        };
        Open {
            book: self.clone(),
            index,
            up,
            down,
            verdict: kept.0,
            reason: kept.1,
        }
    }

    /// A refusal that is not about a host (a head too large or too slow, too
    /// many connections): one line of its own, closed at once.
    pub fn refusal(self: &Arc<Self>, pid: Option<i32>, what: &str, reason: String) {
        drop(self.open(pid, what, "-", 0, Verdict::Denied, Some(reason)));
    }

    /// Adds `reason` to an entry's reason (what happened after the verdict).
    fn note(&self, index: usize, reason: &str) {
        if let Ok(mut inner) = self.inner.lock()
            && !inner.closed
            && let Some(e) = inner.entries.get_mut(index)
        {
            e.request.reason = Some(match e.request.reason.take() {
                Some(r) => format!("{r}; {reason}"),
                None => reason.to_string(),
            });
        }
    }

    /// Marks an entry as downloading what the feed names; a refused one
    /// becomes denied.
    fn flag(&self, index: usize, known: &KnownMalicious, refused: bool) {
        if let Ok(mut inner) = self.inner.lock()
            && !inner.closed
            && let Some(e) = inner.entries.get_mut(index)
        {
            e.request.known_malicious = Some(known.clone());
            let why = format!(
                "{} {}@{} is known malicious ({})",
                known.ecosystem, known.package, known.version, known.id
            );
            if refused {
                e.request.verdict = Verdict::Denied;
                e.request.reason = Some(format!("{why} (403)"));
            } else {
                e.request.reason = Some(match e.request.reason.take() {
                    Some(r) => format!("{r}; {why}; audit: let through"),
                    None => format!("{why}; audit: let through"),
                });
            }
        }
    }

    /// Records the versions the cooldown held back from this response.
    fn hold(&self, index: usize, held: &[HeldBack]) {
        if let Ok(mut inner) = self.inner.lock()
            && !inner.closed
            && let Some(e) = inner.entries.get_mut(index)
        {
            e.request.held_back.extend(held.iter().cloned());
        }
    }

    /// Records a metadata response the cooldown could not filter; a refused
    /// one becomes denied.
    fn unfiltered(&self, index: usize, why: &str, refused: bool) {
        if let Ok(mut inner) = self.inner.lock()
            && !inner.closed
            && let Some(e) = inner.entries.get_mut(index)
        {
            e.request.cooldown_unfiltered = Some(why.to_string());
            if refused {
                e.request.verdict = Verdict::Denied;
            }
        }
    }

    /// Records why the host of an allowed request could not be reached.
    fn fail(&self, index: usize, failure: &str) {
        if let Ok(mut inner) = self.inner.lock()
            && !inner.closed
            && let Some(e) = inner.entries.get_mut(index)
        {
            e.request.upstream_failure = Some(failure.to_string());
        }
    }

    fn end(&self, index: usize) {
        if let Ok(mut inner) = self.inner.lock()
            && !inner.closed
            && let Some(e) = inner.entries.get_mut(index)
        {
            e.open = false;
            e.request.bytes_up = e.up.load(Ordering::Relaxed);
            e.request.bytes_down = e.down.load(Ordering::Relaxed);
            e.request.duration_ms = e.began.elapsed().as_millis() as u64;
        }
    }

    /// Closes the book: entries still open are marked `open_at_end`, with
    /// what they had moved so far; returns all, in time order.
    pub fn close(&self) -> Vec<Request> {
        let Ok(mut inner) = self.inner.lock() else {
            return Vec::new();
        };
        inner.closed = true;
        let mut out: Vec<Request> = inner
            .entries
            .iter()
            .map(|e| {
                let mut r = e.request.clone();
                if e.open {
                    r.open_at_end = true;
                    r.bytes_up = e.up.load(Ordering::Relaxed);
                    r.bytes_down = e.down.load(Ordering::Relaxed);
                    r.duration_ms = e.began.elapsed().as_millis() as u64;
                }
                r
            })
            .collect();
        out.sort_by_key(|r| r.ms);
        out
    }
}

/// A recorded request in flight: counts its bytes, and ends its entry when
/// dropped.
pub struct Open {
    book: Arc<Book>,
    index: Option<usize>,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    verdict: Verdict,
    reason: Option<String>,
}

impl Open {
    /// The verdict recorded.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// Why, as recorded with the verdict.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Bytes from the client.
    pub fn add_up(&self, n: u64) {
        self.up.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes to the client.
    pub fn add_down(&self, n: u64) {
        self.down.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes moved so far, both ways.
    pub fn moved(&self) -> u64 {
        self.up.load(Ordering::Relaxed) + self.down.load(Ordering::Relaxed)
    }

    /// Adds to the entry's reason.
    pub fn note(&self, reason: &str) {
        if let Some(i) = self.index {
            self.book.note(i, reason);
        }
    }

    /// Records that the archive is in the feed ([`Book::flag`]); the
    /// caller answers a refused one.
    pub fn flag(&self, known: &KnownMalicious, refused: bool) {
        if let Some(i) = self.index {
            self.book.flag(i, known, refused);
        }
    }

    /// Records the versions the cooldown held back ([`Book::hold`]).
    pub fn hold(&self, held: &[HeldBack]) {
        if let Some(i) = self.index
            && !held.is_empty()
        {
            self.book.hold(i, held);
        }
    }

    /// Records a response the cooldown could not filter
    /// ([`Book::unfiltered`]); the caller answers a refused one.
    pub fn unfiltered(&self, why: &str, refused: bool) {
        if let Some(i) = self.index {
            self.book.unfiltered(i, why, refused);
        }
    }

    /// Records that the host could not be reached (`upstream_failure`).
    pub fn fail(&self, failure: &str) {
        if let Some(i) = self.index {
            self.book.fail(i, failure);
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(i) = self.index {
            self.book.end(i);
        }
    }
}
