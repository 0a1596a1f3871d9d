//! Probe packages for the attack rounds: a dependency whose postinstall,
//! or a bin the root project's postinstall runs, tries what an attacker
//! would and records each attempt's outcome in `result.json`; and the
//! install of a project with npm, yarn 1 or pnpm from a loopback registry.

use super::installs::{Installed, install};
use super::{JS_FILES, NpmPackage, NpmRegistry, ShimEnv};
use serde_json::Value;
use std::fs;
use std::path::Path;

/// What every probe starts with: `t(name, f)` records `ok` or the error
/// code of `f`; `r` is written as the probe's `result.json`.
pub const PRELUDE: &str = r#"
const fs = require("fs"), path = require("path");
const home = process.env.HOME, r = {};
const M = ["PW", "POISON"].join("");
function t(name, f) { try { f(); r[name] = "ok"; } catch (e) { r[name] = e.code || String(e); } }
"#;

/// A package whose postinstall runs `body` (after [`PRELUDE`]) and leaves
/// `result.json` in its own directory.
pub fn probe(name: &str, body: &str) -> NpmPackage {
    let script = format!(
        "{PRELUDE}{JS_FILES}{body}\nfs.writeFileSync(\"result.json\", JSON.stringify(r));\n"
    );
    NpmPackage::new(
        serde_json::json!({
            "name": name, "version": "1.0.0", "license": "MIT",
            "scripts": {"postinstall": "node probe.js"}
        }),
        &[
            ("probe.js", script.as_bytes()),
            ("index.js", b"module.exports = 1;\n"),
        ],
    )
}

/// A dependency whose bin `pw-tool` runs `body`; the root project's
/// postinstall runs it (cwd: the project), and it leaves `result.json` in
/// its own package directory.
pub fn root_tool(body: &str) -> NpmPackage {
    let script = format!(
        "#!/usr/bin/env node\n{PRELUDE}{JS_FILES}{body}\nfs.writeFileSync(path.join(__dirname, \"result.json\"), JSON.stringify(r));\n"
    );
    NpmPackage::new(
        serde_json::json!({
            "name": "pw-tool", "version": "1.0.0", "license": "MIT",
            "bin": {"pw-tool": "cli.js"}
        }),
        &[("cli.js", script.as_bytes())],
    )
}

/// `<manager> install` of `manifest` in `project` (fresh node_modules and
/// lockfiles; pnpm trusts `probe`'s build when `trust`); the report and
/// `probe`'s `result.json` (Null when it did not run).
pub fn install_in(
    env: &ShimEnv,
    registry: &NpmRegistry,
    manager: &str,
    mode: &str,
    project: &Path,
    manifest: &Value,
    probe: &str,
) -> (Installed, Value) {
    let _ = fs::remove_dir_all(project.join("node_modules"));
    for f in ["package-lock.json", "pnpm-lock.yaml", "yarn.lock"] {
        let _ = fs::remove_file(project.join(f));
    }
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let args: Vec<&str> = match manager {
        "yarn" => {
            let cache = env.home.path().join(".cache/yarn");
            fs::write(
                project.join(".yarnrc"),
                format!("registry \"{url}\"\ncache-folder \"{}\"\n", cache.display()),
            )
            .unwrap();
            vec!["yarn", "install", "--non-interactive"]
        }
        m => vec![m, "install", "--registry", &url],
    };
    let r = install(env, mode, &args, project, &[]);
    let result = fs::read(project.join("node_modules").join(probe).join("result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    (r, result)
}

pub fn deps(names: &[&str]) -> Value {
    let deps: serde_json::Map<String, Value> = names
        .iter()
        .map(|d| (d.to_string(), Value::from("1.0.0")))
        .collect();
    serde_json::json!({"name": "proj", "version": "1.0.0", "license": "MIT", "dependencies": deps})
}
