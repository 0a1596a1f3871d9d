//! `pkgwarden explain`: why each finding of a report fired, and the smallest
//! policy entry that would accept it. The entry is built only from what the
//! supervisor, the kernel and the proxy observed (the finding's rule, the
//! package and hook its process ran, the endpoint the proxy was asked for,
//! the files the kernel saw written): never from what the package manager
//! printed or a file's content (DESIGN.md principle 6).

use crate::model::report::Report;
use crate::model::{Finding, RuleId};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Why pkgwarden never suggests accepting a finding of `rule`, or `None`
/// when a scoped entry may accept it.
pub fn never_legitimate(rule: RuleId) -> Option<&'static str> {
    use RuleId::*;
    Some(match rule {
        _ if rule.family() == "persist" => {
            "no install needs to write a persistence location: remove the package or report it"
        }
        _ if rule.family() == "tamper" => {
            "an install that changes another package, the manager's cache or pkgwarden itself is an attack"
        }
        CredRead | CredPerm => {
            "no install needs the user's credentials: rotate what it could have read"
        }
        NetMetadata => "cloud metadata serves machine credentials; no install needs it",
        NetExfilService => "paste, tunnel and exfiltration services are where stolen data goes",
        NetLocalSocket => "the Docker, SSH-agent and D-Bus sockets hand out the machine",
        NetDirect => {
            "traffic around the proxy cannot be scoped; a host an install needs goes through the proxy by name"
        }
        SandboxEscape | PermSetuid => "only an escape or a privilege grab needs this",
        ProcLingering => "an install leaves no process behind",
        ExecDropped => "running a file the install just wrote is how droppers work",
        _ => return None,
    })
}

/// The policy key a finding of `rule` is governed by, in a few words.
pub fn policy_key(rule: RuleId) -> &'static str {
    match rule {
        RuleId::NetUnexpectedHost => {
            "endpoints.allow (per manager) or a scoped [[allow]] with `endpoints`"
        }
        RuleId::HiddenScript | RuleId::DropBinary | RuleId::PermOutside => {
            "[[allow]] with `paths` (accept), extra_write_paths (grant)"
        }
        _ if never_legitimate(rule).is_some() => "none: never accepted by suggestion",
        _ => "[[allow]] (accepted findings per package version), block_severity",
    }
}

/// A string as a TOML basic string.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A TOML array of strings.
fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let v: Vec<String> = items.into_iter().map(|s| q(s)).collect();
    format!("[{}]", v.join(", "))
}

/// What one scoped allow entry holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scope {
    /// `name@version`.
    pub package: String,
    /// The lifecycle hook, when known.
    pub hook: Option<String>,
    /// The rule.
    pub rule: Option<RuleId>,
    /// `host:port` endpoints.
    pub endpoints: BTreeSet<String>,
    /// Directories the files lie in.
    pub paths: BTreeSet<String>,
}

impl Scope {
    /// The `[[allow]]` table, with `comment` lines above it.
    pub fn toml(&self, comment: &[String]) -> String {
        let mut out = String::new();
        for c in comment {
            let _ = writeln!(out, "# {c}");
        }
        out.push_str("[[allow]]\n");
        let _ = writeln!(out, "package = {}", q(&self.package));
        if let Some(h) = &self.hook {
            let _ = writeln!(out, "hook = {}", q(h));
        }
        if let Some(r) = self.rule {
            let _ = writeln!(out, "rules = [{}]", q(r.as_str()));
        }
        if !self.endpoints.is_empty() {
            let _ = writeln!(out, "endpoints = {}", list(&self.endpoints));
        }
        if !self.paths.is_empty() {
            let _ = writeln!(out, "paths = {}", list(&self.paths));
        }
        out
    }
}

/// The scope of the smallest entry that accepts `f`, or why there is none.
pub fn scope(f: &Finding) -> Result<Scope, String> {
    if let Some(why) = never_legitimate(f.rule) {
        return Err(format!(
            "pkgwarden will not suggest allowing {}: {why}",
            f.rule.as_str()
        ));
    }
    let Some(package) = f.package.clone().filter(|p| p.contains('@')) else {
        return Err(
            "no package version was seen doing this, so no allowance could be scoped to one: look at the process chain"
                .into(),
        );
    };
    let mut s = Scope {
        package,
        hook: f.hook.clone(),
        rule: Some(f.rule),
        ..Scope::default()
    };
    if f.rule == RuleId::NetUnexpectedHost {
        let e = f
            .evidence
            .endpoint
            .clone()
            .filter(|e| crate::policy::is_host_port(e));
        s.endpoints.extend(e.map(|e| e.to_ascii_lowercase()));
        if s.endpoints.is_empty() {
            return Err(
                "the proxy recorded no host:port for it, so no endpoint could be named".into(),
            );
        }
    }
    if matches!(
        f.rule,
        RuleId::HiddenScript | RuleId::DropBinary | RuleId::PermOutside
    ) {
        for p in &f.evidence.paths {
            let dir = std::path::Path::new(p).parent().and_then(|d| d.to_str());
            if let Some(d) = dir.filter(|d| d.starts_with('/') && *d != "/") {
                s.paths.insert(from_home(d));
            }
        }
        if s.paths.is_empty() {
            return Err("no file under a directory was recorded for it".into());
        }
    }
    Ok(s)
}

/// `dir` written from `~/` when it lies under the home directory, so the
/// entry still fits when the same user's HOME is mounted elsewhere.
fn from_home(dir: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    let home = home.trim_end_matches('/');
    match dir.strip_prefix(home).and_then(|r| r.strip_prefix('/')) {
        Some(rest) if home.starts_with('/') && !rest.is_empty() => format!("~/{rest}"),
        _ => dir.to_string(),
    }
}

/// The findings `which` names: all when `None`, else a 1-based index or a
/// rule id.
pub fn select<'a>(r: &'a Report, which: Option<&str>) -> Result<Vec<(usize, &'a Finding)>, String> {
    let all = r.findings.iter().enumerate().map(|(i, f)| (i + 1, f));
    let Some(w) = which else {
        return Ok(all.collect());
    };
    let picked: Vec<_> = match w.parse::<usize>() {
        Ok(n) => all.filter(|(i, _)| *i == n).collect(),
        Err(_) => all.filter(|(_, f)| f.rule.as_str() == w).collect(),
    };
    if picked.is_empty() {
        return Err(format!(
            "report {} has no finding '{w}' (it has {} finding(s))\n  hint: give a number from 1 to {}, or a rule id it shows; `pkgwarden explain {}` lists them",
            r.id,
            r.findings.len(),
            r.findings.len(),
            r.id
        ));
    }
    Ok(picked)
}

/// The explanation of the findings `which` names in `r`, as text.
pub fn render(r: &Report, which: Option<&str>) -> Result<String, String> {
    let picked = select(r, which)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "report {} · {} {} · mode {} · {} finding(s)",
        r.id,
        r.what.manager,
        r.what.command,
        r.what.mode,
        r.findings.len()
    );
    if picked.is_empty() {
        out.push_str("nothing to explain: this install had no findings\n");
    }
    for (i, f) in picked {
        out.push('\n');
        out.push_str(&one(r, i, f));
    }
    Ok(out)
}

/// One finding explained.
fn one(r: &Report, i: usize, f: &Finding) -> String {
    let mut out = String::new();
    let meta = f.rule.meta();
    let _ = writeln!(
        out,
        "[{i}] {} ({}, {})",
        f.title,
        f.rule.as_str(),
        f.severity
    );
    let _ = writeln!(out, "  rule:     {} — {}", f.rule.as_str(), meta.full);
    let ev = &f.evidence;
    let mut evidence: Vec<String> = ev.paths.iter().map(|p| format!("file {p}")).collect();
    evidence.extend(ev.endpoint.iter().map(|e| format!("endpoint {e}")));
    evidence.extend(ev.argv.iter().map(|a| format!("command {}", a.join(" "))));
    evidence.extend(ev.detail.iter().map(|d| format!("detail {d}")));
    for e in &evidence {
        let _ = writeln!(out, "  evidence: {e}");
    }
    let process = match (f.pid, f.chain.is_empty()) {
        (Some(p), true) => format!("pid {p}"),
        (Some(p), false) => format!("pid {p} ({})", f.chain.join(" > ")),
        (None, false) => f.chain.join(" > "),
        (None, true) => "not known (seen after the install, or in a file only)".into(),
    };
    let _ = writeln!(out, "  process:  {process}");
    let _ = writeln!(
        out,
        "  package:  {} · hook: {}",
        f.package.as_deref().unwrap_or("not known"),
        f.hook.as_deref().unwrap_or("not known")
    );
    let action = match f.action {
        crate::model::Taken::Observed => "observed (it happened)",
        crate::model::Taken::Blocked => "blocked (the sandbox or the proxy refused it)",
        crate::model::Taken::Quarantined => "quarantined (what it left was moved away)",
    };
    let _ = writeln!(out, "  action:   {action}");
    let _ = writeln!(out, "  policy:   {}", policy_key(f.rule));
    if let Some(a) = &f.allowed_by {
        let _ = writeln!(out, "  accepted: {a}");
        return out;
    }
    match scope(f) {
        Ok(s) => {
            let note = [format!("from report {}, finding {i}", r.id)];
            let _ = writeln!(out, "  to allow it (user or system policy):");
            for l in s.toml(&note).lines() {
                let _ = writeln!(out, "    {l}");
            }
        }
        Err(why) => {
            let _ = writeln!(out, "  no allow snippet: {why}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Evidence, Severity, Taken};

    fn finding(rule: RuleId, package: Option<&str>, ev: Evidence) -> Finding {
        Finding {
            rule,
            title: "t".into(),
            severity: Severity::Medium,
            attack: Vec::new(),
            pid: Some(3),
            chain: Vec::new(),
            package: package.map(String::from),
            hook: Some("install".into()),
            evidence: ev,
            action: Taken::Observed,
            allowed_by: None,
            after_ms: None,
        }
    }

    #[test]
    fn never_legitimate_rules_get_no_scope_and_the_others_are_scoped() {
        for rule in RuleId::ALL {
            let f = finding(
                *rule,
                Some("a@1"),
                Evidence {
                    endpoint: Some("h.example:443".into()),
                    paths: vec!["/srv/x/y.sh".into()],
                    ..Evidence::default()
                },
            );
            match (never_legitimate(*rule), scope(&f)) {
                (Some(_), Ok(s)) => panic!("{rule:?} suggested: {s:?}"),
                (None, Err(e)) => panic!("{rule:?} not scoped: {e}"),
                (None, Ok(s)) => {
                    assert_eq!(s.package, "a@1");
                    assert_eq!(s.hook.as_deref(), Some("install"));
                    assert_eq!(s.rule, Some(*rule));
                }
                (Some(_), Err(e)) => assert!(e.contains("will not suggest"), "{e}"),
            }
        }
        for rule in [
            "persist.shell-rc",
            "cred.read",
            "net.metadata",
            "sandbox.escape",
            "tamper.pkgwarden",
        ] {
            let id: RuleId = rule.parse().unwrap();
            assert!(never_legitimate(id).is_some(), "{rule}");
        }
    }

    #[test]
    fn scopes_name_the_endpoint_or_the_directory_and_need_a_package() {
        let net = finding(
            RuleId::NetUnexpectedHost,
            Some("a@1"),
            Evidence {
                endpoint: Some("Mirror.Example:8080".into()),
                ..Evidence::default()
            },
        );
        let s = scope(&net).unwrap();
        assert_eq!(
            s.endpoints.iter().collect::<Vec<_>>(),
            ["mirror.example:8080"]
        );
        let toml = s.toml(&["from report r".into()]);
        let v: toml::Table = toml.parse().unwrap();
        assert_eq!(
            v["allow"][0]["endpoints"][0].as_str(),
            Some("mirror.example:8080")
        );
        let file = finding(
            RuleId::HiddenScript,
            Some("a@1"),
            Evidence {
                paths: vec!["/srv/cache/x.sh".into()],
                ..Evidence::default()
            },
        );
        assert_eq!(
            scope(&file).unwrap().paths.iter().collect::<Vec<_>>(),
            ["/srv/cache"]
        );
        let nameless = finding(RuleId::HiddenScript, None, file.evidence.clone());
        assert!(scope(&nameless).unwrap_err().contains("no package version"));
        let no_endpoint = finding(RuleId::NetUnexpectedHost, Some("a@1"), Evidence::default());
        assert!(scope(&no_endpoint).is_err());
    }
}
