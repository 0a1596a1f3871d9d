//! Log pipelines (policy `[log.jsonl]`, `[log.syslog]`): every stored
//! report, and every later addition of its watch window, also goes where a
//! fleet collects logs.
//!
//! - The stored report stays the source of truth: sinks run after it is
//!   stored, each in a thread of its own under one deadline, and a sink
//!   that fails (or does not finish in time) costs one warning line naming
//!   the sink and its policy key, never the install's exit code.
//! - JSON lines are the SIEM export's ([`super::jsonl`]) plus one summary
//!   line per report, appended under an `flock` on `<file>.lock` with one
//!   `O_APPEND` write per batch; a batch that would take the file past
//!   `max_bytes` first rotates it by renames (`file` → `file.1` … →
//!   `file.<keep>`, the oldest removed), so two pkgwarden processes never
//!   interleave, split or lose lines, and a tailer follows the rename.
//! - Syslog messages are RFC 5424, one per finding and one summary per
//!   report, with the same ECS field names as structured data; over a unix
//!   datagram socket, UDP (RFC 5426), or TCP with octet counting (RFC
//!   6587). Hand-written: the format is a few lines, and no light crate
//!   does RFC 5424 with octet-counted TCP and timeouts.

use super::jsonl;
use super::model::Report;
use crate::model::log::{JsonlSink, LogSinks, SyslogSink, SyslogTarget};
use crate::model::{Finding, Severity};
use serde_json::{Map, Value};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

/// Connect and write timeout of one socket operation.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// How long all sinks together may take after an install.
const DEADLINE: Duration = Duration::from_secs(5);
/// How long a writer waits for another one's lock on the JSONL file.
const LOCK_WAIT: Duration = Duration::from_secs(3);
/// Longest structured-data value, in characters.
const SD_VALUE_MAX: usize = 256;
/// Longest MSG, in characters.
const MSG_MAX: usize = 1024;
/// The SD-ID of pkgwarden's structured data. 32473 is the private
/// enterprise number IANA reserves for examples (RFC 5612).
const SD_ID: &str = "pkgwarden@32473";

/// What one delivery carries.
enum Batch<'a> {
    /// A report just stored: its summary, alerts and events.
    Report(&'a Report),
    /// Findings the watch window just added to a stored report.
    Window(&'a Report, &'a [Finding]),
}

/// Sends a stored report to the policy's sinks; prints one warning per
/// sink that failed.
pub fn send_report(r: &Report, sinks: &LogSinks) {
    for w in deliver(&Batch::Report(r), sinks) {
        eprintln!("{w}");
    }
}

/// Sends the findings the watch window added to `r` (already stored) to
/// the sinks; the warnings are returned (the watcher has no terminal).
pub fn send_window(r: &Report, added: &[Finding], sinks: &LogSinks) -> Vec<String> {
    if added.is_empty() {
        return Vec::new();
    }
    deliver(&Batch::Window(r, added), sinks)
}

/// Runs every configured sink under [`DEADLINE`]; the warnings of those
/// that failed.
fn deliver(batch: &Batch, sinks: &LogSinks) -> Vec<String> {
    let id = match batch {
        Batch::Report(r) | Batch::Window(r, _) => r.id.clone(),
    };
    let (tx, rx) = mpsc::channel::<(&'static str, String, Result<(), String>)>();
    let mut pending: Vec<(&'static str, String)> = Vec::new();
    if let Some(cfg) = &sinks.jsonl {
        let path = expand(&cfg.path);
        let text = jsonl::to_text(jsonl_objects(batch));
        let (cfg, tx) = (cfg.clone(), tx.clone());
        let shown = path.display().to_string();
        pending.push(("log.jsonl", shown.clone()));
        std::thread::spawn(move || {
            let res = append_rotating(&path, text.as_bytes(), &cfg).map_err(|e| e.to_string());
            let _ = tx.send(("log.jsonl", shown, res));
        });
    }
    if let Some(cfg) = &sinks.syslog {
        let msgs = syslog_messages(batch, cfg, SystemTime::now());
        let (target, tx) = (cfg.target.clone(), tx.clone());
        let shown = target.to_string();
        pending.push(("log.syslog", shown.clone()));
        std::thread::spawn(move || {
            let res = send_syslog(&target, &msgs).map_err(|e| e.to_string());
            let _ = tx.send(("log.syslog", shown, res));
        });
    }
    drop(tx);
    let until = Instant::now() + DEADLINE;
    let mut warnings = Vec::new();
    while !pending.is_empty() {
        let left = until.saturating_duration_since(Instant::now());
        let (key, shown, res) = match rx.recv_timeout(left) {
            Ok(done) => done,
            Err(_) => {
                // Not done in time: the thread is left to its own timeouts.
                for (key, shown) in pending.drain(..) {
                    let why = format!("no answer within {} s", DEADLINE.as_secs());
                    warnings.push(warning(key, &shown, &why, &id));
                }
                break;
            }
        };
        pending.retain(|(k, _)| *k != key);
        if let Err(e) = res {
            warnings.push(warning(key, &shown, &e, &id));
        }
    }
    warnings
}

/// The one line a failed sink costs.
fn warning(key: &str, shown: &str, why: &str, id: &str) -> String {
    super::clean(&format!(
        "pkgwarden: warning: log sink {key} ({shown}) failed: {why}; the report is stored (pkgwarden report show {}); fix the collector or policy key {key}",
        super::short_id(id)
    ))
}

/// `~/` as the home directory.
fn expand(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), crate::paths::home()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// The JSON objects of a batch: a report's summary, then what the SIEM
/// export holds; a window's added alerts, marked `pkgwarden.window`.
fn jsonl_objects(batch: &Batch) -> Vec<Map<String, Value>> {
    match batch {
        Batch::Report(r) => {
            let mut out = vec![jsonl::summary(r)];
            out.extend(jsonl::objects(r));
            out
        }
        Batch::Window(r, added) => {
            let now = super::rfc3339(SystemTime::now(), 0, true);
            let mut out = jsonl::alerts(r, added, now.as_deref());
            for o in &mut out {
                o.insert("pkgwarden.window".into(), Value::Bool(true));
            }
            out
        }
    }
}

// ---------------------------------------------------------------------------
// JSON lines, rotated
// ---------------------------------------------------------------------------

/// `<path>.<suffix>` beside `path`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{suffix}"));
    PathBuf::from(s)
}

/// Appends `bytes` (whole lines) to the file, rotating it first when they
/// would take it past `max_bytes`. Every pkgwarden writer holds the lock
/// on `<path>.lock` from the size check to the write, so the check, the
/// renames and the one `O_APPEND` write are one step for all of them.
pub(crate) fn append_rotating(path: &Path, bytes: &[u8], cfg: &JsonlSink) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let lock = open_lock(&beside(path, "lock"))?;
    take_lock(&lock)?;
    let size = match std::fs::symlink_metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    if size > 0 && size.saturating_add(bytes.len() as u64) > cfg.max_bytes {
        rotate(path, cfg.keep)?;
    }
    use std::os::unix::fs::OpenOptionsExt;
    // Not through a symlink: a root install must not append where a link
    // planted in a shared log directory points. Non-blocking open: a FIFO
    // put there fails instead of waiting for a reader.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o660)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    f.write_all(bytes)
    // The lock goes with its descriptor.
}

/// The lock file, opened read-only when it exists (a lock file another
/// account created still locks), created otherwise.
fn open_lock(lock: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = libc::O_NOFOLLOW | libc::O_CLOEXEC;
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(lock)
    {
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o644)
            .custom_flags(flags)
            .open(lock),
        other => other,
    }
}

/// Takes the exclusive lock, waiting at most [`LOCK_WAIT`].
fn take_lock(f: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let until = Instant::now() + LOCK_WAIT;
    loop {
        // SAFETY: flock on a descriptor this function borrows.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::WouldBlock && e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
        if Instant::now() >= until {
            return Err(io::Error::other("another writer holds its lock file"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `path` → `path.1` → … → `path.<keep>`; the oldest goes. With `keep`
/// 0 the file is removed.
fn rotate(path: &Path, keep: u32) -> io::Result<()> {
    let gone_ok = |r: io::Result<()>| match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    if keep == 0 {
        return gone_ok(std::fs::remove_file(path));
    }
    gone_ok(std::fs::remove_file(beside(path, &keep.to_string())))?;
    for i in (1..keep).rev() {
        let from = beside(path, &i.to_string());
        gone_ok(std::fs::rename(&from, beside(path, &(i + 1).to_string())))?;
    }
    std::fs::rename(path, beside(path, "1"))
}

// ---------------------------------------------------------------------------
// Syslog
// ---------------------------------------------------------------------------

/// Syslog severity of a finding's severity.
fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

/// The messages of a batch: one per finding (MSGID `finding`, or `window`
/// for a window's), then for a report one summary (MSGID `report`).
fn syslog_messages(batch: &Batch, cfg: &SyslogSink, now: SystemTime) -> Vec<String> {
    let (r, findings, msgid) = match batch {
        Batch::Report(r) => (*r, r.findings.as_slice(), "finding"),
        Batch::Window(r, added) => (*r, *added, "window"),
    };
    let ts = super::rfc3339(now, 0, true);
    let host = r.who.host.as_deref();
    let one = |o: &Map<String, Value>, msgid: &str, sev: u8| {
        format_5424(cfg, ts.as_deref(), host, msgid, sev, o)
    };
    let mut out: Vec<String> = jsonl::alerts(r, findings, ts.as_deref())
        .iter()
        .zip(findings)
        .map(|(o, f)| one(o, msgid, syslog_severity(f.severity)))
        .collect();
    if let Batch::Report(r) = batch {
        let mut sev = r.worst().map_or(6, syslog_severity);
        if r.outcome.exit_code != 0 {
            sev = sev.min(4);
        }
        out.push(one(&jsonl::summary(r), "report", sev));
    }
    out
}

/// One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
/// [pkgwarden@32473 field="value" …] MSG`, the fields being the JSON
/// object's (ECS names; arrays joined with commas) but `@timestamp` and
/// `message`, which is the MSG.
pub(crate) fn format_5424(
    cfg: &SyslogSink,
    ts: Option<&str>,
    host: Option<&str>,
    msgid: &str,
    severity: u8,
    o: &Map<String, Value>,
) -> String {
    let pri = u16::from(cfg.facility.code()) * 8 + u16::from(severity);
    let host = host.map(header_field).filter(|h| !h.is_empty());
    let mut sd = format!("[{SD_ID}");
    for (k, v) in o {
        // PARAM-NAME: 1 to 32 printable ASCII but `=`, space, `]` and `"`.
        let name_ok = k.len() <= 32
            && k.bytes()
                .all(|b| (33..=126).contains(&b) && !b"=]\"".contains(&b));
        if !name_ok || k == "@timestamp" || k == "message" {
            continue;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        sd.push_str(&format!(" {k}=\"{}\"", sd_escape(&text)));
    }
    sd.push(']');
    let msg = o.get("message").and_then(Value::as_str).unwrap_or("");
    format!(
        "<{pri}>1 {} {} {} {} {msgid} {sd} {}",
        ts.unwrap_or("-"),
        host.as_deref().unwrap_or("-"),
        cfg.app_name,
        std::process::id(),
        super::clean(&super::shorten(msg, MSG_MAX)),
    )
}

/// A header field: printable ASCII without spaces, at most 255 bytes.
fn header_field(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect()
}

/// A PARAM-VALUE: cut, control characters made visible, and `"`, `\` and
/// `]` escaped as RFC 5424 requires.
fn sd_escape(s: &str) -> String {
    let mut out = String::new();
    for c in super::clean(&super::shorten(s, SD_VALUE_MAX)).chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Sends the messages: datagrams to a unix socket or over UDP, one TCP
/// connection with octet-counted frames. Every step has a timeout.
fn send_syslog(target: &SyslogTarget, msgs: &[String]) -> io::Result<()> {
    match target {
        SyslogTarget::Unix(path) => {
            let s = std::os::unix::net::UnixDatagram::unbound()?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            for m in msgs {
                s.send_to(m.as_bytes(), path)?;
            }
        }
        SyslogTarget::Udp(addr) => {
            let to = resolve(addr)?;
            let any = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
            let s = std::net::UdpSocket::bind(any)?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            // Connected: a refused port shows as an error on later sends.
            s.connect(to)?;
            for m in msgs {
                s.send(m.as_bytes())?;
            }
        }
        SyslogTarget::Tcp(addr) => {
            let to = resolve(addr)?;
            let mut s = std::net::TcpStream::connect_timeout(&to, IO_TIMEOUT)?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            let mut frames = Vec::new();
            for m in msgs {
                frames.extend_from_slice(format!("{} ", m.len()).as_bytes());
                frames.extend_from_slice(m.as_bytes());
            }
            s.write_all(&frames)?;
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
    }
    Ok(())
}

/// The first address of `host:port`.
fn resolve(addr: &str) -> io::Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other(format!("{addr} has no address")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::log::Facility;
    use crate::report::testdata::{clean_report, dirty_report};

    fn syslog_cfg(target: SyslogTarget) -> SyslogSink {
        SyslogSink {
            target,
            facility: Facility::Local3,
            app_name: "pkgw-test".into(),
        }
    }

    /// (PRI, VERSION, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID,
    /// params, MSG) of one message, parsed as a collector would.
    pub(crate) type Parsed = (
        u16,
        String,
        String,
        String,
        String,
        String,
        String,
        Vec<(String, String)>,
        String,
    );

    /// A strict reader of what [`format_5424`] writes.
    pub(crate) fn parse_5424(m: &str) -> Parsed {
        let rest = m.strip_prefix('<').expect("PRI");
        let (pri, rest) = rest.split_once('>').expect("PRI end");
        let mut head = rest.splitn(7, ' ');
        let mut next = || head.next().expect("header field").to_string();
        let (ver, ts, host, app, pid, msgid) = (next(), next(), next(), next(), next(), next());
        let rest = next();
        let sd = rest.strip_prefix('[').expect("SD element");
        let (id, mut sd) = sd.split_once(' ').expect("SD-ID");
        assert_eq!(id, SD_ID);
        let mut params = Vec::new();
        loop {
            if let Some(after) = sd.strip_prefix("] ") {
                sd = after;
                break;
            }
            let (name, after) = sd.split_once("=\"").expect("param");
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next().expect("closing quote") {
                    (_, '\\') => value.push(chars.next().expect("escaped").1),
                    (i, '"') => break i,
                    (_, c) => value.push(c),
                }
            };
            params.push((name.trim_start().to_string(), value));
            sd = &after[end + 1..];
        }
        (
            pri.parse().expect("PRI number"),
            ver,
            ts,
            host,
            app,
            pid,
            msgid,
            params,
            sd.to_string(),
        )
    }

    #[test]
    fn one_message_per_finding_and_a_summary_that_parse_back() {
        let r = dirty_report("7f3a12c4e5d6f7a8");
        let cfg = syslog_cfg(SyslogTarget::Unix("/dev/log".into()));
        let msgs = syslog_messages(&Batch::Report(&r), &cfg, SystemTime::UNIX_EPOCH);
        assert_eq!(msgs.len(), r.findings.len() + 1);
        for (m, f) in msgs.iter().zip(&r.findings) {
            let (pri, ver, ts, host, app, _, msgid, params, msg) = parse_5424(m);
            assert_eq!(pri, 19 * 8 + u16::from(syslog_severity(f.severity)), "{m}");
            assert_eq!(ver, "1");
            assert_eq!(ts, "1970-01-01T00:00:00.000Z");
            assert_eq!((host.as_str(), app.as_str()), ("devbox", "pkgw-test"));
            assert_eq!(msgid, "finding");
            let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            assert_eq!(get("rule.id"), Some(f.rule.as_str()));
            assert_eq!(get("event.kind"), Some("alert"));
            assert_eq!(get("labels.report_id"), Some("7f3a12c4e5d6f7a8"));
            assert_eq!(msg, super::super::clean(&f.title));
        }
        let (pri, .., msgid, params, msg) = parse_5424(msgs.last().unwrap());
        assert_eq!(msgid, "report");
        assert!(
            pri % 8 <= 4,
            "a failing install's summary is a warning or worse"
        );
        assert!(params.contains(&("event.action".into(), "install".into())));
        assert!(msg.contains("finding(s)"), "{msg}");
    }

    #[test]
    fn hostile_text_cannot_break_the_frame_or_the_structured_data() {
        let mut r = dirty_report("00");
        r.findings.truncate(1);
        r.findings[0].title = "x\"] [evil@1 a=\"b\"]\n<13>1 forged".into();
        r.findings[0].evidence.paths = vec!["/h/a\"]\\b\nc".into()];
        r.who.host = Some("bad host\n".into());
        let cfg = syslog_cfg(SyslogTarget::Unix("/dev/log".into()));
        for m in syslog_messages(&Batch::Report(&r), &cfg, SystemTime::now()) {
            assert!(!m.contains('\n'), "{m}");
            let (.., host, _, _, _, params, _) = parse_5424(&m);
            assert_eq!(host, "badhost");
            assert!(
                params.iter().all(|(n, _)| !n.contains("evil")),
                "{params:?}"
            );
        }
        let first = &syslog_messages(&Batch::Report(&r), &cfg, SystemTime::now())[0];
        let (.., params, _) = parse_5424(first);
        let path = params.iter().find(|(n, _)| n == "file.path").unwrap();
        assert_eq!(path.1, "/h/a\"]\\b\\u{a}c");
    }

    #[test]
    fn a_clean_report_sends_only_its_summary_at_info() {
        let r = clean_report("11");
        let cfg = syslog_cfg(SyslogTarget::Udp("127.0.0.1:514".into()));
        let msgs = syslog_messages(&Batch::Report(&r), &cfg, SystemTime::now());
        assert_eq!(msgs.len(), 1);
        assert_eq!(parse_5424(&msgs[0]).0, 19 * 8 + 6);
        let none = send_window(&r, &[], &LogSinks::default());
        assert!(none.is_empty());
    }

    fn lines_of(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn rotation_keeps_n_files_of_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.jsonl");
        let cfg = JsonlSink {
            path: path.display().to_string(),
            max_bytes: 300,
            keep: 2,
        };
        for i in 0..20 {
            // 80 bytes: {"n":NN,"pad":"…"} and the newline.
            let line = format!("{{\"n\":{i:02},\"pad\":\"{}\"}}\n", "x".repeat(62));
            assert_eq!(line.len(), 80);
            append_rotating(&path, line.as_bytes(), &cfg).unwrap();
        }
        let files = [path.clone(), beside(&path, "1"), beside(&path, "2")];
        let mut seen = Vec::new();
        for f in files.iter().rev() {
            let size = std::fs::metadata(f).unwrap().len();
            assert!(size <= 300, "{} is {size} bytes", f.display());
            for l in lines_of(f) {
                let v: Value = serde_json::from_str(&l).expect("a whole line");
                seen.push(v["n"].as_u64().unwrap());
            }
        }
        assert!(!beside(&path, "3").exists());
        // The newest lines, in order, none lost between the kept files.
        let want: Vec<u64> = (20 - seen.len() as u64..20).collect();
        assert_eq!(seen, want);
        // Each full file holds as many lines as fit; the live one the rest.
        let per_file = 300 / 80;
        assert_eq!(seen.len(), 2 * per_file + 19 % per_file + 1, "{seen:?}");
    }

    #[test]
    fn keep_zero_starts_over_and_a_big_batch_is_never_split() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.jsonl");
        let cfg = JsonlSink {
            path: path.display().to_string(),
            max_bytes: 50,
            keep: 0,
        };
        append_rotating(&path, b"{\"a\":1}\n", &cfg).unwrap();
        let big = format!("{{\"b\":\"{}\"}}\n", "y".repeat(100));
        append_rotating(&path, big.as_bytes(), &cfg).unwrap();
        assert_eq!(lines_of(&path), vec![big.trim_end().to_string()]);
        assert!(!beside(&path, "1").exists());
    }

    #[test]
    fn concurrent_writers_lose_and_split_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.jsonl");
        let cfg = JsonlSink {
            path: path.display().to_string(),
            max_bytes: 4000,
            keep: 50,
        };
        std::thread::scope(|s| {
            for t in 0..4 {
                let (path, cfg) = (&path, &cfg);
                s.spawn(move || {
                    for i in 0..50 {
                        let line =
                            format!("{{\"t\":{t},\"i\":{i},\"p\":\"{}\"}}\n", "z".repeat(40));
                        append_rotating(path, line.as_bytes(), cfg).unwrap();
                    }
                });
            }
        });
        let mut count = 0;
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if name.ends_with(".lock") {
                continue;
            }
            for l in lines_of(&f.path()) {
                serde_json::from_str::<Value>(&l).expect("a whole line");
                count += 1;
            }
        }
        assert_eq!(count, 200);
    }

    #[test]
    fn a_symlinked_or_fifo_log_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, "keep\n").unwrap();
        let path = dir.path().join("pw.jsonl");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let cfg = JsonlSink {
            path: path.display().to_string(),
            max_bytes: 1 << 20,
            keep: 1,
        };
        assert!(append_rotating(&path, b"{}\n", &cfg).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
        // A FIFO with no reader fails at once rather than hang.
        let fifo = dir.path().join("fifo.jsonl");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(append_rotating(&fifo, b"{}\n", &cfg).is_err());
    }

    #[test]
    fn a_unix_datagram_socket_receives_one_message_each() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("log");
        let rx = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let r = dirty_report("5e5e5e5e5e5e5e5e");
        let sinks = LogSinks {
            jsonl: None,
            syslog: Some(syslog_cfg(SyslogTarget::Unix(sock.display().to_string()))),
        };
        assert!(deliver(&Batch::Report(&r), &sinks).is_empty());
        let mut buf = vec![0u8; 65536];
        let mut ids = Vec::new();
        for _ in 0..=r.findings.len() {
            let n = rx.recv(&mut buf).unwrap();
            let (pri, ver, .., app, _, msgid, params, _) =
                parse_5424(std::str::from_utf8(&buf[..n]).unwrap());
            assert_eq!(
                (pri / 8, ver.as_str(), app.as_str()),
                (19, "1", "pkgw-test")
            );
            assert!(params.contains(&("labels.report_id".into(), "5e5e5e5e5e5e5e5e".into())));
            ids.push(msgid);
        }
        assert_eq!(
            ids.iter().filter(|m| *m == "finding").count(),
            r.findings.len()
        );
        assert_eq!(ids.last().map(String::as_str), Some("report"));
    }

    #[test]
    fn a_collector_that_accepts_and_never_reads_cannot_hang_the_sender() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        // Accepted by the kernel's backlog, never read.
        let big = "m".repeat(64 * 1024);
        let msgs: Vec<String> = (0..1024).map(|_| big.clone()).collect();
        let err = send_syslog(&SyslogTarget::Tcp(addr), &msgs).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err}"
        );
        drop(listener);
    }

    #[test]
    fn failures_are_one_warning_each_naming_the_key() {
        let r = dirty_report("abcdef0123456789");
        let dir = tempfile::tempdir().unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let sinks = LogSinks {
            jsonl: Some(JsonlSink {
                path: dir.path().join("no/such/dir/x.jsonl").display().to_string(),
                max_bytes: 1000,
                keep: 1,
            }),
            syslog: Some(syslog_cfg(SyslogTarget::Tcp(format!("127.0.0.1:{port}")))),
        };
        let w = deliver(&Batch::Report(&r), &sinks);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w.iter().any(|l| l.contains("log.jsonl")), "{w:?}");
        assert!(w.iter().any(|l| l.contains("log.syslog")), "{w:?}");
        assert!(
            w.iter()
                .all(|l| !l.contains('\n') && l.contains("abcdef01"))
        );
    }
}
