//! The supervisor of one install: the seccomp listener's thread, started
//! with the sandboxed child and stopped once the install is over.

use super::notify::{self, Observed, Watch};
use crate::sandbox::spawn;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A sandboxed child and the thread that supervises it.
pub struct Supervised {
    /// The manager's process.
    pub child: Child,
    handle: JoinHandle<Option<Observed>>,
    stop: Arc<AtomicBool>,
}

/// Starts `cmd` in the sandbox `prep`, supervised as `watch` says.
pub fn start(
    cmd: &mut Command,
    prep: spawn::Prepared,
    watch: Watch,
) -> std::io::Result<Supervised> {
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    // Processes left behind keep the filter this long after the stop.
    let grace = Duration::from_secs(2);
    let (child, handle) = spawn::spawn(cmd, prep, move |listener| {
        notify::supervise(listener, watch, stop2, grace)
    })?;
    Ok(Supervised {
        child,
        handle,
        stop,
    })
}

impl Supervised {
    /// Stops the supervisor and returns its record, and why it is missing
    /// when the thread failed (said on stderr: the report then rests on the
    /// snapshots alone, and block mode fails the install).
    pub fn finish(self, what: &str) -> (Observed, Option<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let (observed, failed) = match self.handle.join() {
            Ok(Some(o)) => (o, None),
            Ok(None) => (Observed::default(), Some("it never received the filter")),
            Err(_) => (Observed::default(), Some("its thread panicked")),
        };
        if let Some(why) = failed {
            eprintln!(
                "pkgwarden: WARNING: {what}: the supervisor failed ({why}): this report rests on the snapshots alone"
            );
        }
        (observed, failed.map(str::to_string))
    }
}
