//! The report as SARIF 2.1.0, for code-scanning dashboards and security
//! tools: one run, the rules that fired, one result per finding.

use super::model::Report;
use super::{clean, command_line, evidence_line, taken_name, who_did_it};
use crate::model::RuleId;
use crate::model::{Finding, Severity};
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

/// The schema the output conforms to (OASIS SARIF 2.1.0, errata 01).
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// SARIF `level` of a severity.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning's `security-severity` score of a severity.
fn score(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// `persist.shell-rc` → `PersistShellRc`.
fn camel(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            cs.next()
                .map(|c| c.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A `file://` URI for an absolute path (relative ones are taken from
/// `cwd`), every byte outside the unreserved set percent-encoded.
fn file_uri(path: &str, cwd: &str) -> String {
    let full = if path.starts_with('/') {
        path.to_string()
    } else if cwd.starts_with('/') {
        format!("{}/{path}", cwd.trim_end_matches('/'))
    } else {
        format!("/{path}")
    };
    let mut out = String::from("file://");
    for b in full.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// FNV-1a, for stable fingerprints without a hashing dependency.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The rule descriptor of `id` from the catalog, with any further ATT&CK
/// techniques its `findings` name.
fn descriptor(id: RuleId, findings: &[&Finding]) -> Value {
    let info = id.meta();
    let mut attack: Vec<String> = info.attack.iter().map(|a| a.to_string()).collect();
    for f in findings {
        for a in &f.attack {
            if !attack.contains(a) {
                attack.push(a.clone());
            }
        }
    }
    let mut tags = vec!["security".to_string(), "supply-chain".to_string()];
    tags.extend(attack.iter().map(|a| format!("external/attack/{a}")));
    json!({
        "id": id,
        "name": camel(id.as_str()),
        "shortDescription": {"text": info.short},
        "fullDescription": {"text": info.full},
        "defaultConfiguration": {"level": level(info.severity)},
        "properties": {
            "tags": tags,
            "security-severity": score(info.severity),
            "attack": attack,
        },
    })
}

/// A physical location for `path`, with the finding's line (1 when
/// unknown) and, when the line is known, the excerpt as its snippet.
fn physical(path: &str, cwd: &str, line: Option<u32>, excerpt: Option<&str>) -> Value {
    let mut region = Map::new();
    region.insert("startLine".into(), json!(line.unwrap_or(1).max(1)));
    if let (Some(_), Some(x)) = (line, excerpt) {
        region.insert("snippet".into(), json!({"text": x}));
    }
    json!({
        "artifactLocation": {"uri": file_uri(path, cwd)},
        "region": region,
    })
}

/// The SARIF result of one finding.
fn result(r: &Report, f: &Finding, rule_index: usize) -> Value {
    let e = &f.evidence;
    let cwd = r.what.cwd.as_str();
    let mut location = Map::new();
    if let Some(path) = e.paths.first() {
        location.insert(
            "physicalLocation".into(),
            physical(path, cwd, e.line, e.excerpt.as_deref()),
        );
    } else {
        // Nothing on disk to point at: the project directory the install ran
        // in, and what was involved as a logical location.
        if !cwd.is_empty() {
            location.insert(
                "physicalLocation".into(),
                json!({
                    "artifactLocation": {"uri": format!("{}/", file_uri(cwd, "").trim_end_matches('/'))},
                    "region": {"startLine": 1},
                }),
            );
        }
        let logical = if let Some(ep) = &e.endpoint {
            json!({"name": ep, "kind": "resource"})
        } else if let Some(argv) = &e.argv {
            json!({"name": argv.first().cloned().unwrap_or_default(), "fullyQualifiedName": super::shell_join(argv), "kind": "process"})
        } else if let Some(pid) = f.pid {
            json!({"name": format!("pid {pid}"), "kind": "process"})
        } else {
            json!({"name": r.what.manager, "kind": "process"})
        };
        location.insert("logicalLocations".into(), json!([logical]));
    }
    let mut text = clean(&f.title);
    let ev = evidence_line(e);
    if !ev.is_empty() {
        let _ = write!(text, ": {ev}");
    }
    let who = who_did_it(f);
    let _ = write!(
        text,
        " ({}{})",
        if who.is_empty() {
            String::new()
        } else {
            format!("{who}; ")
        },
        taken_name(f.action)
    );
    let mut props = Map::new();
    props.insert("severity".into(), json!(f.severity.name()));
    props.insert("action".into(), json!(taken_name(f.action)));
    props.insert("attack".into(), json!(f.attack));
    props.insert("report".into(), json!(r.id));
    for (k, v) in [
        ("pid", f.pid.map(|p| json!(p))),
        ("package", f.package.as_ref().map(|p| json!(p))),
        ("hook", f.hook.as_ref().map(|h| json!(h))),
        ("endpoint", e.endpoint.as_ref().map(|x| json!(x))),
        ("sha256", e.sha256.as_ref().map(|x| json!(x))),
        ("detail", e.detail.as_ref().map(|x| json!(x))),
        ("command", e.argv.as_ref().map(|x| json!(x))),
    ] {
        if let Some(v) = v {
            props.insert(k.into(), v);
        }
    }
    if !f.chain.is_empty() {
        props.insert("chain".into(), json!(f.chain));
    }
    let where_ = e
        .paths
        .first()
        .or(e.endpoint.as_ref())
        .cloned()
        .unwrap_or_default();
    let print = fnv(&format!(
        "{}|{}|{}",
        f.rule,
        where_,
        f.package.as_deref().unwrap_or("")
    ));
    let mut res = json!({
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {"pkgwardenFinding/v1": format!("{print:016x}")},
        "properties": props,
    });
    if e.paths.len() > 1 {
        let related: Vec<Value> = e
            .paths
            .iter()
            .skip(1)
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "id": i + 1,
                    "physicalLocation": physical(p, cwd, None, None),
                })
            })
            .collect();
        // relatedLocations must hold distinct items.
        let mut seen = std::collections::HashSet::new();
        let related: Vec<Value> = related
            .into_iter()
            .filter(|v| seen.insert(v["physicalLocation"].to_string()))
            .collect();
        res["relatedLocations"] = json!(related);
    }
    res
}

/// The report as a SARIF 2.1.0 log: one run of the `pkgwarden` driver, a
/// rule descriptor for every rule that fired (with its ATT&CK techniques as
/// `external/attack/…` tags), one result per finding.
pub fn render(r: &Report) -> Value {
    // Rules in order of first appearance; results point at them by index.
    let mut order: Vec<RuleId> = Vec::new();
    for f in &r.findings {
        if !order.contains(&f.rule) {
            order.push(f.rule);
        }
    }
    let rules: Vec<Value> = order
        .iter()
        .map(|id| {
            let of: Vec<&Finding> = r.findings.iter().filter(|f| f.rule == *id).collect();
            descriptor(*id, &of)
        })
        .collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let index = order.iter().position(|id| *id == f.rule).unwrap_or(0);
            result(r, f, index)
        })
        .collect();

    let mut invocation = Map::new();
    invocation.insert(
        "executionSuccessful".into(),
        json!(matches!(r.outcome.status.as_str(), "completed" | "blocked")),
    );
    invocation.insert("commandLine".into(), json!(command_line(r)));
    invocation.insert("exitCode".into(), json!(r.outcome.exit_code));
    // date-time fields must be RFC 3339: re-format what parses, drop the rest.
    if let Ok(start) = humantime::parse_rfc3339_weak(&r.started) {
        if let Some(s) = super::rfc3339(start, 0, true) {
            invocation.insert("startTimeUtc".into(), json!(s));
        }
        if let Some(s) = super::rfc3339(start, r.duration_ms, true) {
            invocation.insert("endTimeUtc".into(), json!(s));
        }
    }
    if r.what.cwd.starts_with('/') {
        invocation.insert(
            "workingDirectory".into(),
            json!({"uri": format!("{}/", file_uri(&r.what.cwd, "").trim_end_matches('/'))}),
        );
    }
    if let Some(h) = &r.who.host {
        invocation.insert("machine".into(), json!(h));
    }
    if let Some(u) = &r.who.user {
        invocation.insert("account".into(), json!(u));
    }
    invocation.insert(
        "properties".into(),
        json!({
            "status": r.outcome.status,
            "managerExit": r.outcome.manager_exit,
            "mode": r.what.mode,
            "enforced": r.sandbox.enforced,
            "observedOnly": r.sandbox.observed_only,
        }),
    );

    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "pkgwarden",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "automationDetails": {"id": format!("pkgwarden/{}/{}", r.what.manager, r.id)},
            "invocations": [invocation],
            "results": results,
            "properties": {
                "report": r.id,
                "manager": r.what.manager,
                "managerVersion": r.what.version,
            },
        }],
    })
}

/// The reports of several installs (one CI job) as one SARIF 2.1.0 log:
/// each report's run, in order; with no report, one run of the driver with
/// no results, so that an upload still says "nothing found".
pub fn render_all(reports: &[Report]) -> Value {
    let mut runs: Vec<Value> = reports
        .iter()
        .flat_map(|r| match render(r)["runs"].take() {
            Value::Array(runs) => runs,
            _ => Vec::new(),
        })
        .collect();
    if runs.is_empty() {
        runs.push(json!({
            "tool": {"driver": {
                "name": "pkgwarden",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": [],
            }},
            "results": [],
        }));
    }
    json!({"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{clean_report, dirty_report};

    /// The official OASIS schema, vendored.
    const SCHEMA: &str = include_str!("../../tests/data/sarif-schema-2.1.0.json");

    fn assert_valid(v: &Value) {
        let schema: Value = serde_json::from_str(SCHEMA).expect("schema parses");
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(v)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}\n{v:#}");
    }

    #[test]
    fn findings_with_and_without_paths_validate_against_the_schema() {
        let r = dirty_report("7f3a12c4e5d6f7a8");
        let v = render(&r);
        assert_valid(&v);
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "pkgwarden");
        assert_eq!(run["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), 7);
        let results = run["results"].as_array().expect("results");
        assert_eq!(results.len(), 7);
        for res in results {
            let idx = res["ruleIndex"].as_u64().expect("index") as usize;
            assert_eq!(rules[idx]["id"], res["ruleId"]);
            let line = &res["locations"][0]["physicalLocation"]["region"]["startLine"];
            assert!(line.as_u64().is_some_and(|l| l >= 1), "{res}");
        }
        let shell = &results[0];
        assert_eq!(shell["level"], "error");
        assert_eq!(
            shell["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "file:///home/alice/.bashrc"
        );
        assert_eq!(
            shell["locations"][0]["physicalLocation"]["region"]["startLine"],
            12
        );
        assert_eq!(shell["properties"]["action"], "quarantined");
        assert_eq!(shell["properties"]["package"], "evil-pkg@1.0.0");
        assert_eq!(shell["properties"]["hook"], "postinstall");
        assert_eq!(shell["properties"]["pid"], 4242);
        let tags = rules[0]["properties"]["tags"].as_array().expect("tags");
        assert!(tags.contains(&json!("external/attack/T1546.004")));
        assert!(tags.contains(&json!("security")));
        // cred.read: two paths, one of them a related location.
        assert_eq!(results[1]["level"], "error");
        assert_eq!(
            results[1]["relatedLocations"].as_array().map(Vec::len),
            Some(1)
        );
        // No path: the cwd (percent-encoded) and a logical location.
        let exfil = &results[2];
        assert_eq!(
            exfil["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "file:///home/alice/my%20proj/"
        );
        assert_eq!(
            exfil["locations"][0]["logicalLocations"][0]["name"],
            "webhook.exfil.test:443"
        );
        assert_eq!(results[4]["level"], "warning");
        assert_eq!(results[5]["level"], "note");
        assert_eq!(results[6]["level"], "note");
    }

    #[test]
    fn clean_reports_and_odd_inputs_still_validate() {
        assert_valid(&render(&clean_report("0000000000000001")));
        let mut r = dirty_report("0000000000000002");
        r.started = "yesterday".into();
        r.what.cwd = String::new();
        r.who.host = None;
        r.findings[0].evidence.paths = vec!["relative/päth with #?.txt".into()];
        r.findings[0].evidence.line = Some(0);
        r.findings[1].evidence.paths = vec!["/same".into(), "/same".into(), "/same".into()];
        r.findings[2].rule = RuleId::SandboxUnnested;
        r.findings[2].attack = vec![];
        let v = render(&r);
        assert_valid(&v);
        let res = &v["runs"][0]["results"];
        assert_eq!(
            res[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "file:///relative/p%C3%A4th%20with%20%23%3F.txt"
        );
        assert_eq!(
            res[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            1
        );
        assert_eq!(res[2]["locations"][0].get("physicalLocation"), None);
    }

    #[test]
    fn the_schema_check_is_not_vacuous() {
        let schema: Value = serde_json::from_str(SCHEMA).expect("schema parses");
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles");
        let mut v = render(&dirty_report("7f3a12c4e5d6f7a8"));
        assert!(validator.is_valid(&v));
        v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
            json!(0);
        assert!(!validator.is_valid(&v));
        let mut v = render(&dirty_report("7f3a12c4e5d6f7a8"));
        v["runs"][0]["results"][0]["level"] = json!("critical");
        assert!(!validator.is_valid(&v));
        let mut v = render(&dirty_report("7f3a12c4e5d6f7a8"));
        v["runs"][0]["invocations"][0]["startTimeUtc"] = json!("yesterday");
        assert!(!validator.is_valid(&v), "date-time formats are checked");
    }

    #[test]
    fn the_rule_descriptors_are_the_catalogs() {
        // One finding of every rule, its own severity and ATT&CK ids unlike
        // the catalog's: the descriptors must still say the catalog's.
        let mut r = dirty_report("7f3a12c4e5d6f7a8");
        let template = r.findings[0].clone();
        r.findings = RuleId::ALL
            .iter()
            .map(|id| Finding {
                rule: *id,
                severity: Severity::Info,
                attack: Vec::new(),
                ..template.clone()
            })
            .collect();
        let v = render(&r);
        assert_valid(&v);
        let rules = v["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules");
        let ids: Vec<&str> = rules.iter().filter_map(|d| d["id"].as_str()).collect();
        let catalog: Vec<&str> = RuleId::ALL.iter().map(|id| id.as_str()).collect();
        assert_eq!(ids, catalog);
        for (d, id) in rules.iter().zip(RuleId::ALL) {
            let m = id.meta();
            assert_eq!(d["shortDescription"]["text"], m.short, "{id}");
            assert_eq!(d["fullDescription"]["text"], m.full, "{id}");
            assert_eq!(
                d["defaultConfiguration"]["level"],
                level(m.severity),
                "{id}"
            );
            assert_eq!(
                d["properties"]["security-severity"],
                score(m.severity),
                "{id}"
            );
            assert_eq!(d["properties"]["attack"], json!(m.attack), "{id}");
        }
        // Not the same answer for every rule (cred.env is low, the rest not).
        let env = RuleId::ALL.iter().position(|id| *id == RuleId::CredEnv);
        assert_eq!(
            env.map(|i| &rules[i]["defaultConfiguration"]["level"]),
            Some(&json!("note"))
        );
    }

    #[test]
    fn camel_case_names() {
        assert_eq!(camel("persist.shell-rc"), "PersistShellRc");
        assert_eq!(camel("net.exfil-service"), "NetExfilService");
        assert_eq!(camel(""), "");
    }
}
