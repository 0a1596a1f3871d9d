//! Learn mode, `pkgwarden policy suggest`: merges what audit or protect runs
//! observed into `[[allow]]` entries that block mode passes with. Every entry
//! is scoped (package version, hook, rule, and the endpoints or directories
//! seen) and names the reports it came from; what is never legitimate is
//! listed as refused, never suggested. Built from findings only, which hold
//! what the supervisor, kernel and proxy observed (DESIGN.md principle 6).

use crate::explain::{self, Scope};
use crate::model::Severity;
use crate::model::report::Report;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// An entry and the reports it came from.
type Sourced = (Scope, BTreeSet<String>);

/// Entries merged by package, hook and rule.
type Merged = BTreeMap<(String, Option<String>, String), Sourced>;

/// The merged suggestion.
#[derive(Debug, Default)]
pub struct Suggestion {
    /// Scoped entries, each with the reports it came from.
    pub entries: Vec<Sourced>,
    /// Entries a project file may not hold (`--project` only): they belong
    /// in the user's or the system's policy.
    pub elsewhere: Vec<Sourced>,
    /// Findings not suggested, with why: one line each.
    pub refused: Vec<String>,
    /// The reports read.
    pub reports: Vec<String>,
}

/// Merges the findings of `reports` that would fail block mode (severity at
/// least `min`, not already accepted). With `project`, only what a
/// project's `.pkgwarden.toml` may hold goes into `entries`.
pub fn suggest(reports: &[Report], min: Severity, project: bool) -> Suggestion {
    let mut merged = Merged::new();
    let mut out = Suggestion::default();
    for r in reports {
        out.reports.push(r.id.clone());
        for f in &r.findings {
            if f.allowed_by.is_some() || f.severity < min {
                continue;
            }
            let s = match explain::scope(f) {
                Ok(s) => s,
                Err(why) => {
                    let line = format!(
                        "{} by {} (report {}): {why}",
                        f.rule.as_str(),
                        f.package.as_deref().unwrap_or("an unknown package"),
                        r.id
                    );
                    if !out.refused.contains(&line) {
                        out.refused.push(line);
                    }
                    continue;
                }
            };
            let key = (
                s.package.clone(),
                s.hook.clone(),
                f.rule.as_str().to_string(),
            );
            let slot = merged.entry(key).or_insert_with(|| {
                (
                    Scope {
                        endpoints: BTreeSet::new(),
                        paths: BTreeSet::new(),
                        ..s.clone()
                    },
                    BTreeSet::new(),
                )
            });
            slot.0.endpoints.extend(s.endpoints);
            slot.0.paths.extend(s.paths);
            slot.1.insert(r.id.clone());
        }
    }
    for (_, (scope, from)) in merged {
        let fits = scope.rule == Some(crate::model::RuleId::NetUnexpectedHost)
            && !scope.endpoints.is_empty();
        if project && !fits {
            out.elsewhere.push((scope, from));
        } else {
            out.entries.push((scope, from));
        }
    }
    out
}

/// The suggestion as a policy file's text.
pub fn render(s: &Suggestion, project: bool) -> String {
    let mut out = String::new();
    let target = if project {
        "the project's .pkgwarden.toml"
    } else {
        "your user policy (~/.config/pkgwarden/policy.toml) or the system one"
    };
    let _ = writeln!(
        out,
        "# pkgwarden policy suggest: from report(s) {}\n# for {target}; every entry is scoped to what was observed.",
        s.reports.join(", ")
    );
    if s.entries.is_empty() {
        out.push_str("# nothing to allow: no finding of these reports would fail block mode, or none may be allowed\n");
    }
    for (scope, from) in &s.entries {
        out.push('\n');
        let ids: Vec<&str> = from.iter().map(String::as_str).collect();
        out.push_str(&scope.toml(&[format!("from report {}", ids.join(", "))]));
    }
    if !s.elsewhere.is_empty() {
        out.push_str(
            "\n# A project file may only allow hosts for a package version; these belong in your user\n# or system policy (`pkgwarden policy suggest` without --project prints them):\n",
        );
        for (scope, from) in &s.elsewhere {
            let ids: Vec<&str> = from.iter().map(String::as_str).collect();
            let _ = writeln!(
                out,
                "#   {} {} (report {})",
                scope.package,
                scope.rule.map(|r| r.as_str()).unwrap_or(""),
                ids.join(", ")
            );
        }
    }
    if !s.refused.is_empty() {
        out.push_str("\n# Not suggested (never legitimate, or not scopable):\n");
        for line in &s.refused {
            let _ = writeln!(out, "#   {line}");
        }
    }
    out
}

/// Appends `text` to the policy file `path` (created when missing, its
/// directory too), then checks the result; a file that no longer parses is
/// put back as it was and the error returned.
pub fn append(path: &std::path::Path, text: &str) -> Result<(), String> {
    let before = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(format!(
                "cannot read {}: {e}\n  hint: fix its permissions",
                path.display()
            ));
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create {}: {e}\n  hint: create it or print the suggestion without --write",
                dir.display()
            )
        })?;
    }
    let mut all = before.clone().unwrap_or_default();
    if !all.is_empty() && !all.ends_with('\n') {
        all.push('\n');
    }
    if !all.is_empty() {
        all.push('\n');
    }
    all.push_str(text);
    std::fs::write(path, &all).map_err(|e| {
        format!(
            "cannot write {}: {e}\n  hint: print the suggestion without --write and add it by hand",
            path.display()
        )
    })?;
    if let Err(e) = crate::policy::check_file(path) {
        let _ = match &before {
            Some(t) => std::fs::write(path, t),
            None => std::fs::remove_file(path),
        };
        return Err(format!(
            "{} would not be a valid policy with the suggestion (left as it was): {e}\n  hint: merge the printed suggestion by hand (an `allow = [...]` list cannot take [[allow]] tables)",
            path.display()
        ));
    }
    Ok(())
}
