//! The report as GitHub-flavoured Markdown, for CI step summaries: a
//! heading, a status line, a findings table, an endpoints table.
//!
//! Everything from the install is escaped: it cannot add table cells, links,
//! HTML or headings to the page it lands in.

use super::model::Report;
use super::{command_line, evidence_line, hosts, short_id, shorten, taken_name, who_did_it};
use crate::model::Severity;
use std::fmt::Write as _;

/// How many table rows one table shows at most.
const MAX_ROWS: usize = 200;

/// Escapes text for a Markdown table cell (or any inline text): control
/// characters are dropped, newlines become `<br>`, and every character
/// Markdown or HTML could read as syntax is backslash-escaped.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push_str("<br>");
                }
            }
            '\n' => out.push_str("<br>"),
            c if c.is_control() => {}
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!' | '('
            | ')' | '{' | '}' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A coloured marker so severities stand out in a rendered table.
fn marker(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "🟥",
        Severity::High => "🔴",
        Severity::Medium => "🟠",
        Severity::Low => "🔵",
        Severity::Info => "⚪",
    }
}

/// The report as Markdown: heading, status line, findings table
/// (severity | rule | ATT&CK | what | process | action), endpoints table,
/// and the report id with the command that shows it in full.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let cmd = escape(&shorten(&command_line(r), 80));
    let verdict = if r.findings.is_empty() {
        "clean".to_string()
    } else {
        let n = r.findings.len();
        format!("{n} finding{}", if n == 1 { "" } else { "s" })
    };
    let _ = writeln!(out, "## pkgwarden: {cmd} — {verdict}\n");

    let mut status = vec![format!("**Status:** {}", escape(&r.outcome.status))];
    if let Some(c) = r.outcome.manager_exit {
        status.push(format!("manager exit {c}"));
    }
    status.push(format!("pkgwarden exit {}", r.outcome.exit_code));
    status.push(format!("mode {}", escape(&r.what.mode)));
    status.push(format!("{} file writes", r.files.writes));
    status.push(format!("{} hosts", hosts(r).len()));
    if let Some(w) = r.worst() {
        status.push(format!("worst **{w}**"));
    }
    let _ = writeln!(out, "{}\n", status.join(" · "));
    if !r.sandbox.observed_only.is_empty() {
        let _ = writeln!(
            out,
            "> **Not enforced, only observed:** {}\n",
            escape(&r.sandbox.observed_only.join(", "))
        );
    }

    if !r.findings.is_empty() {
        let _ = writeln!(out, "### Findings\n");
        let _ = writeln!(
            out,
            "| Severity | Rule | ATT&CK | What | Process | Action |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        let mut ranked: Vec<_> = r.findings.iter().collect();
        ranked.sort_by_key(|f| std::cmp::Reverse(f.severity));
        for f in ranked.iter().take(MAX_ROWS) {
            let mut what = f.title.clone();
            let ev = evidence_line(&f.evidence);
            if !ev.is_empty() {
                what.push_str(" — ");
                what.push_str(&shorten(&ev, 200));
            }
            let _ = writeln!(
                out,
                "| {} {} | {} | {} | {} | {} | {} |",
                marker(f.severity),
                f.severity,
                escape(f.rule.as_str()),
                escape(&f.attack.join(", ")),
                escape(&what),
                escape(&who_did_it(f)),
                taken_name(f.action),
            );
        }
        if ranked.len() > MAX_ROWS {
            let _ = writeln!(out, "\n… {} more findings.", ranked.len() - MAX_ROWS);
        }
        out.push('\n');
    }

    if !r.endpoints.is_empty() {
        let _ = writeln!(out, "### Endpoints\n");
        let _ = writeln!(
            out,
            "| Verdict | Method | Host | Port | PID | Up | Down | Reason |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        for e in r.endpoints.iter().take(MAX_ROWS) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                format!("{:?}", e.verdict).to_lowercase(),
                escape(&e.method),
                escape(&e.host),
                e.port,
                e.pid.map(|p| p.to_string()).unwrap_or_default(),
                e.bytes_up,
                e.bytes_down,
                escape(&match (e.reason.as_deref(), e.open_at_end) {
                    _ if e.upstream_failure.is_some() => format!(
                        "unreachable: {}",
                        e.upstream_failure.as_deref().unwrap_or_default()
                    ),
                    (Some(r), true) => format!("{r}; open at end"),
                    (None, true) => "open at end".to_string(),
                    (r, false) => r.unwrap_or("").to_string(),
                }),
            );
        }
        if r.endpoints.len() > MAX_ROWS {
            let _ = writeln!(out, "\n… {} more requests.", r.endpoints.len() - MAX_ROWS);
        }
        out.push('\n');
    }

    // Code spans show backslashes literally: keep ids to what ids are made of.
    let plain = |s: &str| -> String { s.chars().filter(char::is_ascii_alphanumeric).collect() };
    let _ = writeln!(
        out,
        "Report `{}` · full details: `pkgwarden report show {}`",
        plain(&r.id),
        plain(short_id(&r.id))
    );
    out
}

/// The reports of one CI job as one table (install | mode | status |
/// findings | what was blocked | report), under a heading that counts them:
/// what `pkgwarden ci check --summary` appends to the job's step summary.
pub fn job_summary(reports: &[Report]) -> String {
    let mut out = String::new();
    let blocked = reports.iter().filter(|r| is_blocked(r)).count();
    let findings: usize = reports.iter().map(|r| r.findings.len()).sum();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let _ = writeln!(
        out,
        "## pkgwarden: {}, {}, {} blocked\n",
        plural(reports.len(), "install", "installs"),
        plural(findings, "finding", "findings"),
        blocked
    );
    if reports.is_empty() {
        let _ = writeln!(out, "No install was monitored in this job.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "| Install | Mode | Status | Findings | Blocked | Report |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for r in reports.iter().take(MAX_ROWS) {
        let status = if is_blocked(r) {
            format!("🟥 blocked (exit {})", r.outcome.exit_code)
        } else {
            format!(
                "{} (exit {})",
                escape(&r.outcome.status),
                r.outcome.exit_code
            )
        };
        let found = match r.worst() {
            Some(w) => {
                let mut rules: Vec<&str> = r.findings.iter().map(|f| f.rule.as_str()).collect();
                rules.dedup();
                format!(
                    "{} {} ({w}): {}",
                    marker(w),
                    r.findings.len(),
                    escape(&shorten(&rules.join(", "), 120))
                )
            }
            None => "none".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {status} | {found} | {} | {} |",
            escape(&shorten(&command_line(r), 80)),
            escape(&r.what.mode),
            what_was_blocked(r),
            escape(short_id(&r.id)),
        );
    }
    if reports.len() > MAX_ROWS {
        let _ = writeln!(out, "\n… {} more installs.", reports.len() - MAX_ROWS);
    }
    let _ = writeln!(out, "\n`pkgwarden report show ID` shows one in full.\n");
    out
}

/// True when block mode failed the install.
fn is_blocked(r: &Report) -> bool {
    r.outcome.status == "blocked"
}

/// The table cell naming what the sandbox or block mode stopped: the
/// findings refused or quarantined, else the install itself when it was
/// failed, else nothing.
fn what_was_blocked(r: &Report) -> String {
    let stopped: Vec<String> = r
        .findings
        .iter()
        .filter(|f| !matches!(f.action, crate::model::Taken::Observed))
        .map(|f| {
            let ev = evidence_line(&f.evidence);
            let what = if ev.is_empty() { f.title.clone() } else { ev };
            format!(
                "{} {}: {}",
                taken_name(f.action),
                f.rule.as_str(),
                shorten(&what, 80)
            )
        })
        .collect();
    if !stopped.is_empty() {
        let more = stopped.len().saturating_sub(5);
        let mut cell: Vec<String> = stopped.iter().take(5).map(|s| escape(s)).collect();
        if more > 0 {
            cell.push(format!("… {more} more"));
        }
        return cell.join("<br>");
    }
    if is_blocked(r) {
        "the install failed".to_string()
    } else {
        "—".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{clean_report, dirty_report};
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

    /// The tables of `md`: each a list of rows, each a list of cell texts.
    fn tables(md: &str) -> Vec<Vec<Vec<String>>> {
        let mut tables = Vec::new();
        let mut cell: Option<String> = None;
        for ev in Parser::new_ext(md, Options::ENABLE_TABLES) {
            match ev {
                Event::Start(Tag::Table(_)) => tables.push(Vec::new()),
                Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => {
                    if let Some(t) = tables.last_mut() {
                        t.push(Vec::new());
                    }
                }
                Event::Start(Tag::TableCell) => cell = Some(String::new()),
                Event::End(TagEnd::TableCell) => {
                    if let (Some(t), Some(c)) = (tables.last_mut(), cell.take())
                        && let Some(row) = t.last_mut()
                    {
                        row.push(c);
                    }
                }
                Event::Text(s) | Event::Code(s) => {
                    if let Some(c) = cell.as_mut() {
                        c.push_str(&s);
                    }
                }
                Event::InlineHtml(h) | Event::Html(h) => {
                    if let Some(c) = cell.as_mut() {
                        c.push_str(&h);
                    }
                }
                _ => {}
            }
        }
        tables
    }

    #[test]
    fn findings_and_endpoints_tables_have_a_row_each() {
        let r = dirty_report("7f3a12c4e5d6f7a8");
        let md = render(&r);
        assert!(
            md.starts_with("## pkgwarden: npm install evil-pkg — 7 findings\n"),
            "{md}"
        );
        assert!(md.contains("**Status:** blocked"), "{md}");
        let t = tables(&md);
        assert_eq!(t.len(), 2, "{md}");
        let findings = &t[0];
        assert_eq!(
            findings[0],
            ["Severity", "Rule", "ATT&CK", "What", "Process", "Action"]
        );
        assert_eq!(findings.len(), 1 + r.findings.len());
        assert!(findings.iter().all(|row| row.len() == 6), "{findings:?}");
        assert_eq!(findings[1][0], "🟥 critical");
        assert_eq!(findings[1][1], "cred.read");
        assert_eq!(findings[1][2], "T1552.001, T1552.004");
        assert_eq!(findings[1][4], "pid 4242 (evil-pkg@1.0.0 postinstall)");
        assert_eq!(findings[1][5], "blocked");
        // Pipes stay inside their cell; newlines become line breaks.
        let hostile = findings
            .iter()
            .find(|row| row[1] == "exec.suspicious")
            .expect("row");
        assert!(hostile[3].contains("curl | sh"), "{hostile:?}");
        assert!(hostile[3].contains("<br>from a hook"), "{hostile:?}");
        let env = findings
            .iter()
            .find(|row| row[1] == "cred.env")
            .expect("row");
        assert!(env[3].contains("NPM_TOKEN kept | exposed"), "{env:?}");
        let endpoints = &t[1];
        assert_eq!(endpoints.len(), 1 + r.endpoints.len());
        assert_eq!(endpoints[4][2], "webhook.exfil.test");
        assert_eq!(endpoints[4][0], "denied");
        assert!(md.contains("Report `7f3a12c4e5d6f7a8`"));
    }

    #[test]
    fn a_clean_report_has_no_findings_table() {
        let md = render(&clean_report("0011223344556677"));
        assert!(md.starts_with("## pkgwarden: pip install requests — clean"));
        let t = tables(&md);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0][0][0], "Verdict");
    }

    #[test]
    fn escaping_blocks_markup() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("x\r\ny\rz"), "x<br>y<br>z");
        assert_eq!(escape("<script>"), "\\<script\\>");
        assert_eq!(escape("[l](u)"), "\\[l\\]\\(u\\)");
        assert_eq!(escape("\u{1b}[2J"), "\\[2J");
        let md = format!("| {} |\n|---|\n", escape("`a` **b** <i>c</i> ![x](y)"));
        let t = tables(&md);
        assert_eq!(t[0][0][0], "`a` **b** <i>c</i> ![x](y)");
    }
}
