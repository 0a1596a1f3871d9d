//! The offline feed in tests: inert OSV malicious-package records, and
//! their import into a test HOME.

use super::{ShimEnv, assert_success, run, stdout_str};
use serde_json::{Value, json};
use std::fs;

/// An OSV record naming `name` (all versions when `versions` is empty).
pub fn record(id: &str, ecosystem: &str, name: &str, versions: &[&str]) -> Value {
    let mut affected = json!({"package": {"ecosystem": ecosystem, "name": name}});
    if versions.is_empty() {
        affected["ranges"] = json!([{"type": "SEMVER", "events": [{"introduced": "0"}]}]);
    } else {
        affected["versions"] = json!(versions);
    }
    json!({
        "id": id,
        "summary": format!("Malicious code in {name} (inert test record)"),
        "modified": "2026-11-30T00:00:00Z",
        "affected": [affected],
    })
}

/// Imports `records` with `pkgwarden intel import` in `env`'s HOME.
pub fn import(env: &ShimEnv, records: &[Value]) {
    let dir = env.home.path().join("feed");
    fs::create_dir_all(dir.join("nested")).unwrap();
    for (i, r) in records.iter().enumerate() {
        fs::write(dir.join(format!("nested/r{i}.json")), r.to_string()).unwrap();
    }
    let out = run(env.pkgwarden().args(["intel", "import"]).arg(&dir));
    assert_success(&out, "pkgwarden intel import");
    let status = run(env.pkgwarden().args(["intel", "status"]));
    assert!(
        stdout_str(&status).contains(&format!("intel: {} records", records.len())),
        "{}",
        stdout_str(&status)
    );
}
