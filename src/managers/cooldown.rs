//! The release-age cooldown, per manager: each manager's own date gate
//! (npm's `before`, pnpm's `minimumReleaseAge`, uv's `exclude-newer`, pip's
//! `--uploaded-prior-to`), set by pkgwarden in the sandboxed manager's
//! environment or command line through the plan. A manager without a gate
//! gets none, and the plan says why (the run says so loudly; block refuses
//! unless the policy allows it).
//!
//! The gates were measured here against loopback registries whose metadata
//! carry upload times (tests/cooldown.rs): what each one lets a project's own
//! configuration undo, and how pkgwarden keeps it from doing so, is noted
//! beside each.

use super::Tool;
use crate::model::cooldown::{Cooldown, Cutoff, DateGate};
use crate::model::plan::InstallPlan;
use crate::policy::Policy;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Names no registry can publish (npm and PyPI names never start with `_`
/// and `.` together): an exclude list made only of them exempts nothing,
/// and overrides a project's own list.
const NONE: [&str; 2] = ["_pkgwarden-none", "_pkgwarden-none-2"];

/// A date far after any upload: a per-package cut-off that exempts it.
const FAR: &str = "2999-12-31T00:00:00Z";

/// Applies the policy's cooldown for this install's manager to the plan:
/// the gate's variables and options, and the record for the report. No
/// cooldown for this manager: the plan is left as it is.
pub fn apply(p: &mut InstallPlan, policy: &Policy, now: SystemTime, args: &[String], cwd: &Path) {
    let age = policy.cooldown_for(p.tool);
    if age.is_zero() {
        return;
    }
    let at = now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH);
    let cut = Cutoff {
        age_secs: age.as_secs(),
        rfc3339: humantime::format_rfc3339_seconds(at).to_string(),
        exempt: policy.cooldown_exempt.clone(),
    };
    let mut record = Cooldown {
        age: humantime::format_duration(Duration::from_secs(age.as_secs())).to_string(),
        cutoff: cut.rfc3339.clone(),
        enforced: false,
        mechanism: String::new(),
        exempt: cut.exempt.clone(),
        ..Cooldown::default()
    };
    let adapter = super::adapter(p.tool);
    match adapter.date_gate(p, &cut, args, cwd) {
        Ok(gate) => {
            p.env.extend(gate.env);
            // Added to the adapter's own (pnpm's import method), which go
            // where the gate's do: before the command.
            p.extra_args_at = gate.args_at;
            p.extra_args.extend(gate.args);
            record.enforced = true;
            record.mechanism = gate.mechanism;
            record.notes = gate.notes;
        }
        Err(why) => {
            // No gate of its own: pkgwarden's proxy filters what the
            // registry says, where it can read it.
            let docs = adapter.registry_docs(p.tool);
            match proxy_reads(p, &docs) {
                Ok(()) => {
                    record.enforced = true;
                    record.mechanism = format!(
                        "pkgwarden's proxy: versions released after the cut-off are removed from the registry's metadata ({why})"
                    );
                    record.proxy_filters = docs;
                }
                Err(no) => record.mechanism = format!("{why}; {no}"),
            }
        }
    }
    if record.proxy_filters.is_empty() {
        record.notes.push(
            "the report cannot say which versions the gate held back: only the manager saw the registry's dates, and its output is not evidence".into(),
        );
    }
    p.cooldown = Some(record);
}

/// Whether pkgwarden's proxy can read this install's registry metadata:
/// the adapter names the documents, and every registry is plain HTTP or
/// reached over TLS the proxy terminates (the manager can be told to trust
/// the install's CA). `Err` says why not.
fn proxy_reads(p: &InstallPlan, docs: &[crate::model::cooldown::DocKind]) -> Result<(), String> {
    if docs.is_empty() {
        return Err("pkgwarden's proxy does not read its registries' metadata".into());
    }
    if p.registries.is_empty() {
        return Err("no registry is known for this install".into());
    }
    let over_tls = p
        .registries
        .iter()
        .any(|u| u.to_ascii_lowercase().starts_with("https://"));
    if over_tls && p.trust.bundle_vars.is_empty() {
        return Err(format!(
            "its registry is reached over TLS and {} cannot be told to trust pkgwarden's proxy",
            p.tool
        ));
    }
    Ok(())
}

/// The leading numbers of a version (`10.34.9` → [10, 34, 9]).
fn numbers(v: &str) -> Vec<u64> {
    v.trim_start_matches('v')
        .split(['.', '-', '+', ' '])
        .map_while(|n| n.parse().ok())
        .collect()
}

/// True when `version` is at least `min` (unknown: false).
pub fn at_least(version: Option<&str>, min: &[u64]) -> bool {
    version.is_some_and(|v| numbers(v).as_slice() >= min)
}

/// npm and npx: `npm_config_before` (npm's config from the environment
/// outranks every `.npmrc`, so a project's `before` or `min-release-age`
/// cannot undo it), and `npm_config_min_release_age_exclude` always set
/// (an empty value would let a project's `.npmrc` exclude list apply).
pub fn npm(p: &InstallPlan, cut: &Cutoff, cwd: &Path) -> DateGate {
    let exclude: Vec<&str> = cut.exempt.iter().map(String::as_str).chain(NONE).collect();
    let mut notes = Vec::new();
    let locks = ["package-lock.json", "npm-shrinkwrap.json"];
    if let Some(lock) = locks.iter().find(|l| cwd.join(l).is_file()) {
        notes.push(format!(
            "{lock} is present: npm installs the versions a lockfile pins without checking their dates (measured with npm 11), so only versions it resolves anew are held back"
        ));
    }
    if !cut.exempt.is_empty() && !at_least(p.facts.version.as_deref(), &[11]) {
        notes.push("exemptions need npm's min-release-age-exclude (npm 11 has it); an older npm holds every package back".into());
    }
    DateGate {
        env: vec![
            ("npm_config_before".into(), cut.rfc3339.clone()),
            (
                "npm_config_min_release_age_exclude".into(),
                exclude.join(","),
            ),
        ],
        mechanism: format!("npm's before: npm_config_before={}", cut.rfc3339),
        notes,
        ..DateGate::default()
    }
}

/// pnpm: `minimumReleaseAge` (minutes) and its exclude list as
/// `--config.` options before the command. Measured with pnpm 10.34: a
/// project's `pnpm-workspace.yaml` outranks `npm_config_*` variables, not
/// the command line; the exclude list is read as a list only when given at
/// least twice, hence the placeholders.
pub fn pnpm(p: &InstallPlan, cut: &Cutoff, cwd: &Path) -> Result<DateGate, String> {
    let version = p.facts.version.as_deref();
    if version.is_some() && !at_least(version, &[10, 16]) {
        return Err(format!(
            "pnpm {} has no minimumReleaseAge (pnpm 10.16 added it)",
            version.unwrap_or("?")
        ));
    }
    let minutes = cut.age_secs.div_ceil(60);
    let mut args = vec![format!("--config.minimum-release-age={minutes}")];
    for name in cut.exempt.iter().map(String::as_str).chain(NONE) {
        args.push(format!("--config.minimum-release-age-exclude={name}"));
    }
    let mut notes = Vec::new();
    if cwd.join("pnpm-lock.yaml").is_file() {
        notes.push("pnpm-lock.yaml is present: the versions a lockfile pins are installed as locked (not checked against the cut-off)".into());
    }
    Ok(DateGate {
        args,
        args_at: 0,
        mechanism: format!(
            "pnpm's minimumReleaseAge: --config.minimum-release-age={minutes} (minutes)"
        ),
        notes,
        ..DateGate::default()
    })
}

/// uv: `UV_EXCLUDE_NEWER` (it outranks uv.toml and pyproject.toml), and
/// per package `--exclude-newer-package` after the subcommand: for the
/// policy's exemptions, and for every package the project's own uv
/// configuration exempts (uv merges a project's per-package dates with the
/// variable; the command line's entry for a name replaces the project's).
pub fn uv(p: &InstallPlan, cut: &Cutoff, args: &[String], cwd: &Path) -> DateGate {
    let line = args;
    let mut args = Vec::new();
    let mut notes = Vec::new();
    let overridden = project_uv_exemptions(cwd);
    for name in &overridden {
        if !cut.exempt.iter().any(|e| same_python_name(e, name)) {
            args.push(format!("--exclude-newer-package={name}={}", cut.rfc3339));
        }
    }
    if !overridden.is_empty() {
        notes.push(format!(
            "the project's uv configuration sets exclude-newer-package for {}: held to the cut-off unless the policy exempts them",
            overridden.join(", ")
        ));
    }
    for name in &cut.exempt {
        args.push(format!("--exclude-newer-package={name}={FAR}"));
    }
    let at = if p.tool == Tool::Uvx {
        Some(0)
    } else {
        subcommand_end(&p.request.command, line)
    };
    let args_at = match at {
        Some(at) => at,
        None => {
            if !args.is_empty() {
                notes.push(format!(
                    "`uv {}` takes no per-package dates: exemptions and the project's exclude-newer-package are not applied",
                    p.request.command
                ));
            }
            args.clear();
            0
        }
    };
    DateGate {
        env: vec![("UV_EXCLUDE_NEWER".into(), cut.rfc3339.clone())],
        args,
        args_at,
        mechanism: format!("uv's exclude-newer: UV_EXCLUDE_NEWER={}", cut.rfc3339),
        notes,
    }
}

/// pip: `PIP_UPLOADED_PRIOR_TO` where the pip has `--uploaded-prior-to`
/// (pip 26); older pips have no gate.
pub fn pip(p: &InstallPlan, cut: &Cutoff) -> Result<DateGate, String> {
    let version = p.facts.version.as_deref();
    if !at_least(version, &[26]) {
        return Err(format!(
            "pip {} has no upload-date option (pip 26 adds --uploaded-prior-to)",
            version.unwrap_or("(version unknown)")
        ));
    }
    let mut notes = Vec::new();
    if !cut.exempt.is_empty() {
        notes.push(
            "pip's --uploaded-prior-to has no per-package exceptions: the exemptions do not apply to pip"
                .into(),
        );
    }
    Ok(DateGate {
        env: vec![("PIP_UPLOADED_PRIOR_TO".into(), cut.rfc3339.clone())],
        mechanism: format!(
            "pip's uploaded-prior-to: PIP_UPLOADED_PRIOR_TO={}",
            cut.rfc3339
        ),
        notes,
        ..DateGate::default()
    })
}

/// Where the words of `command` (`pip install`, `tool run`) end in `args`:
/// the per-package options go right after them. `None` for commands that
/// take no resolver options.
fn subcommand_end(command: &str, args: &[String]) -> Option<usize> {
    const RESOLVING: [&str; 11] = [
        "pip install",
        "pip sync",
        "pip compile",
        "sync",
        "add",
        "lock",
        "run",
        "tool install",
        "tool upgrade",
        "tool run",
        "export",
    ];
    if !RESOLVING.contains(&command) {
        return None;
    }
    let words: Vec<&str> = command.split(' ').collect();
    (0..args.len().saturating_sub(words.len() - 1))
        .find(|&i| {
            args[i..i + words.len()]
                .iter()
                .zip(&words)
                .all(|(a, w)| a == w)
        })
        .map(|i| i + words.len())
}

/// PEP 503 names compare normalized.
fn same_python_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.to_ascii_lowercase()
            .replace(['_', '.'], "-")
            .split('-')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("-")
    };
    norm(a) == norm(b)
}

/// The package names the project's nearest uv configuration (`uv.toml`,
/// else `pyproject.toml`'s `[tool.uv]`, at or above `cwd`) gives its own
/// `exclude-newer-package` dates.
fn project_uv_exemptions(cwd: &Path) -> Vec<String> {
    for dir in cwd.ancestors() {
        let table = if let Ok(text) = std::fs::read_to_string(dir.join("uv.toml")) {
            text.parse::<toml::Table>().ok()
        } else if let Ok(text) = std::fs::read_to_string(dir.join("pyproject.toml")) {
            text.parse::<toml::Table>().ok().and_then(|t| {
                t.get("tool")?
                    .get("uv")
                    .and_then(toml::Value::as_table)
                    .cloned()
            })
        } else {
            continue;
        };
        let Some(t) = table else { continue };
        // uv reads the pip section's own key too.
        let sections = [Some(&t), t.get("pip").and_then(toml::Value::as_table)];
        let mut names: Vec<String> = sections
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("exclude-newer-package")?.as_table())
            .flat_map(|m| m.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        return names;
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn per_package_options_go_after_the_subcommand() {
        let a = s(&["--quiet", "pip", "install", "-r", "req.txt"]);
        assert_eq!(subcommand_end("pip install", &a), Some(3));
        assert_eq!(subcommand_end("sync", &s(&["sync", "--frozen"])), Some(1));
        assert_eq!(
            subcommand_end("tool run", &s(&["tool", "run", "black"])),
            Some(2)
        );
        assert_eq!(
            subcommand_end("python install", &s(&["python", "install"])),
            None
        );
    }

    #[test]
    fn versions_compare_by_their_numbers() {
        assert!(at_least(Some("10.34.9"), &[10, 16]));
        assert!(!at_least(Some("10.9.0"), &[10, 16]));
        assert!(at_least(Some("26.0"), &[26]));
        assert!(!at_least(Some("23.2.1"), &[26]));
        assert!(!at_least(None, &[26]));
    }

    #[test]
    fn a_projects_uv_exemptions_are_found() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("pyproject.toml"),
            "[tool.uv]\nexclude-newer-package = { Evil_Pkg = \"2999-01-01T00:00:00Z\" }\n",
        )
        .unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        assert_eq!(project_uv_exemptions(&d.path().join("sub")), ["Evil_Pkg"]);
        assert!(same_python_name("evil-pkg", "Evil_Pkg"));
    }
}
