//! Package code is not the manager (issue 9.10, DESIGN.md principle 9): npm
//! runs its dependencies' lifecycle scripts through pkgwarden's hook wrapper,
//! which confines each in a nested landlock domain. A dependency's script can
//! read no credential (not even npm's own token, which npm itself reads) and
//! write only its own package directory, the private TMPDIR and `~/.cache`,
//! never npm's cache (a nested npm in it gets a private one);
//! the root project's own scripts keep the install's rights. Real npm, a
//! loopback registry, as root and unprivileged, in protect and block.

use crate::support;

use serde_json::Value;
use std::fs;
use support::installs::install;
use support::*;

/// A dependency's postinstall that tries each thing and writes what
/// happened to `result.json` in its own directory (inert: files in the
/// test's HOME and project only).
const PROBE: &str = r#"
const fs = require("fs"), path = require("path"), os = require("os");
const cp = require("child_process");
const home = process.env.HOME, r = {};
function t(name, f) { try { f(); r[name] = "ok"; } catch (e) { r[name] = e.code || "failed"; } }
t("read_npmrc", () => fs.readFileSync(home + "/.npmrc"));
t("read_project_npmrc", () => fs.readFileSync(path.resolve("../../.npmrc")));
t("write_home", () => fs.writeFileSync(home + "/pw-stray.txt", "PW"));
t("write_project", () => fs.writeFileSync(path.resolve("../../pw-stolen.txt"), "PW"));
t("write_other_package", () => fs.writeFileSync(path.resolve("../pw-other/index.js"), "PW"));
t("write_own", () => fs.writeFileSync("own.txt", "PW"));
t("write_tmp", () => fs.writeFileSync(path.join(os.tmpdir(), "pw-tmp.txt"), "PW"));
// A variation: a grandchild that drops the wrapper's variable and asks a
// fresh shell; the domain is inherited, not chosen.
t("child_read_npmrc", () => cp.execFileSync("/bin/sh", ["-c", "env -u PKGWARDEN_HOOK -u npm_config_script_shell cat \"$HOME/.npmrc\""], {stdio: "pipe"}));
fs.writeFileSync("result.json", JSON.stringify(r));
"#;

/// The user's npm token, which no dependency script may read.
fn with_npm_token(home: &std::path::Path) {
    fs::write(
        home.join(".npmrc"),
        "//127.0.0.1/:_authToken=not-a-real-token\n",
    )
    .unwrap();
}

struct Case {
    env: ShimEnv,
    registry: NpmRegistry,
    project: std::path::PathBuf,
}

fn case() -> Case {
    let probe = NpmPackage::new(
        serde_json::json!({
            "name": "pw-hookprobe", "version": "1.0.0",
            "scripts": {"postinstall": "node probe.js"}
        }),
        &[
            ("probe.js", PROBE.as_bytes()),
            ("index.js", b"module.exports = 1;\n"),
        ],
    );
    let other = NpmPackage::new(
        serde_json::json!({"name": "pw-other", "version": "1.0.0"}),
        &[("index.js", b"module.exports = 2;\n")],
    );
    let registry = NpmRegistry::start_with(vec![probe, other]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    with_npm_token(home);
    let project = env.home.subdir("proj");
    fs::write(project.join(".npmrc"), "fund=false\n").unwrap();
    Case {
        env,
        registry,
        project,
    }
}

impl Case {
    fn install(
        &self,
        mode: &str,
        root_scripts: serde_json::Value,
    ) -> (support::installs::Installed, Value) {
        let _ = fs::remove_dir_all(self.project.join("node_modules"));
        let _ = fs::remove_file(self.project.join("package-lock.json"));
        fs::write(
            self.project.join("package.json"),
            serde_json::json!({
                "name": "proj", "version": "1.0.0",
                "dependencies": {"pw-other": "1.0.0", "pw-hookprobe": "1.0.0"},
                "scripts": root_scripts,
            })
            .to_string(),
        )
        .unwrap();
        let r = install(
            &self.env,
            mode,
            &[
                "npm",
                "install",
                "--registry",
                &self.registry.registry_url(),
            ],
            &self.project,
            &[],
        );
        let result = fs::read(self.project.join("node_modules/pw-hookprobe/result.json"))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or(Value::Null);
        (r, result)
    }
}

#[test]
fn a_dependency_script_reads_no_credential_and_writes_only_its_own_directory() {
    let c = case();
    let home = c.env.home.path();
    for mode in ["protect", "block"] {
        let (r, result) = c.install(mode, serde_json::json!({}));
        let denied = |k: &str| {
            assert_eq!(result[k], "EACCES", "{mode}: {k}: {result:#}\n{}", r.stderr);
        };
        // npm itself read ~/.npmrc (the install worked); its dependency's
        // script could not, nor the project's .npmrc.
        denied("read_npmrc");
        denied("read_project_npmrc");
        // protect lets the install write most of HOME; a dependency's
        // script is kept to its own directory.
        denied("write_home");
        denied("write_project");
        denied("write_other_package");
        assert_eq!(result["write_own"], "ok", "{mode}: {result:#}");
        assert_eq!(result["write_tmp"], "ok", "{mode}: {result:#}");
        assert_ne!(result["child_read_npmrc"], "ok", "{mode}: {result:#}");
        assert!(!home.join("pw-stray.txt").exists(), "{mode}");
        assert!(!c.project.join("pw-stolen.txt").exists(), "{mode}");
        assert_eq!(
            fs::read_to_string(c.project.join("node_modules/pw-other/index.js")).unwrap(),
            "module.exports = 2;\n",
            "{mode}"
        );
        // The read is reported, as refused, and attributed to the package.
        let read = r
            .findings("cred.read")
            .into_iter()
            .find(|f| f["evidence"]["paths"][0] == home.join(".npmrc").display().to_string())
            .unwrap_or_else(|| panic!("{mode}: no cred.read: {:#}", r.report["findings"]))
            .clone();
        assert_eq!(read["action"], "blocked", "{mode}: {read:#}");
        assert_eq!(read["package"], "pw-hookprobe@1.0.0", "{mode}: {read:#}");
        // npm's token stays npm's: readable by the manager, so listed.
        assert!(
            r.report["sandbox"]["readable_secrets"]
                .as_array()
                .is_some_and(|a| a
                    .iter()
                    .any(|s| *s == home.join(".npmrc").display().to_string())),
            "{mode}: {:#}",
            r.report["sandbox"]
        );
    }
}

#[test]
fn the_root_projects_own_scripts_keep_the_installs_rights() {
    let c = case();
    // The project's own script writes where protect lets the install write
    // (a directory of HOME), which a dependency's script may not.
    let out = c.env.home.path().join("outdir");
    fs::create_dir_all(&out).unwrap();
    let scripts = serde_json::json!({
        "postinstall": "node -e \"require('fs').writeFileSync(process.env.HOME + '/outdir/generated.txt', 'ok')\""
    });
    let (r, result) = c.install("protect", scripts);
    assert_eq!(result["write_own"], "ok", "{result:#}\n{}", r.stderr);
    assert_eq!(
        fs::read_to_string(out.join("generated.txt")).unwrap_or_default(),
        "ok",
        "{}",
        r.stderr
    );
}

/// A dependency's postinstall that tries to poison npm's cache (inert: the
/// test's HOME only): a new cacache index bucket and content file, and an
/// appended line in every index entry the install just wrote (a later
/// install would take the planted tarball without a check).
const POISON: &str = r#"
const fs = require("fs"), path = require("path");
const cache = path.join(process.env.HOME, ".npm", "_cacache"), r = {};
const M = ["PW", "POISON"].join("");
function t(name, f) { try { f(); r[name] = "ok"; } catch (e) { r[name] = e.code || "failed"; } }
t("new_index", () => {
  fs.mkdirSync(path.join(cache, "index-v5", "pw", "00"), {recursive: true});
  fs.writeFileSync(path.join(cache, "index-v5", "pw", "00", "pwpoison"), M + "\n");
});
t("new_content", () => {
  fs.mkdirSync(path.join(cache, "content-v2", "sha512", "pw", "00"), {recursive: true});
  fs.writeFileSync(path.join(cache, "content-v2", "sha512", "pw", "00", "pwpoison"), M);
});
// Variations: npx's installs in the cache (a later `npx pw` runs what
// lies there), and the cache reached through a link in its own directory.
t("npx_cache", () => {
  fs.mkdirSync(path.join(cache, "..", "_npx", "pw", "node_modules", "pw"), {recursive: true});
  fs.writeFileSync(path.join(cache, "..", "_npx", "pw", "node_modules", "pw", "index.js"), M);
});
t("via_link", () => {
  fs.symlinkSync(path.join(cache, "index-v5"), "cachelink");
  fs.mkdirSync(path.join("cachelink", "pw"), {recursive: true});
  fs.writeFileSync(path.join("cachelink", "pw", "linked"), M);
});
const entries = [];
(function walk(d) {
  for (const e of fs.readdirSync(d, {withFileTypes: true})) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p); else entries.push(p);
  }
})(path.join(cache, "index-v5"));
r.index_entries = entries.length;
t("append_index", () => { for (const p of entries) fs.appendFileSync(p, "\n" + M); });
fs.writeFileSync("result.json", JSON.stringify(r));
"#;

/// `npm install` of `deps` in a fresh project of `env`'s HOME.
fn npm_install(
    env: &ShimEnv,
    registry: &NpmRegistry,
    mode: &str,
    deps: serde_json::Value,
    vars: &[(&str, String)],
) -> (support::installs::Installed, std::path::PathBuf) {
    let project = env.home.subdir("cacheproj");
    let _ = fs::remove_dir_all(project.join("node_modules"));
    let _ = fs::remove_file(project.join("package-lock.json"));
    fs::write(
        project.join("package.json"),
        serde_json::json!({"name": "cacheproj", "version": "1.0.0", "dependencies": deps})
            .to_string(),
    )
    .unwrap();
    let url = registry.registry_url();
    let r = install(
        env,
        mode,
        &["npm", "install", "--registry", &url],
        &project,
        vars,
    );
    (r, project)
}

#[test]
fn a_dependency_script_cannot_poison_npms_cache() {
    let poison = NpmPackage::new(
        serde_json::json!({
            "name": "pw-cachepoison", "version": "1.0.0",
            "scripts": {"postinstall": "node poison.js"}
        }),
        &[("poison.js", POISON.as_bytes())],
    );
    let registry = NpmRegistry::start_with(vec![poison]);
    let env = ShimEnv::new(&[]);
    let cache = env.home.path().join(".npm/_cacache");
    for mode in ["protect", "block"] {
        let (r, project) = npm_install(
            &env,
            &registry,
            mode,
            serde_json::json!({"pw-cachepoison": "1.0.0"}),
            &[],
        );
        let result: Value = fs::read(project.join("node_modules/pw-cachepoison/result.json"))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or_else(|_| panic!("{mode}: the script did not run\n{}", r.stderr));
        // npm wrote its index for the package before the script ran; the
        // script could neither change it nor add to the cache.
        assert!(
            result["index_entries"].as_u64() > Some(0),
            "{mode}: {result:#}"
        );
        for k in [
            "new_index",
            "new_content",
            "append_index",
            "npx_cache",
            "via_link",
        ] {
            assert_eq!(result[k], "EACCES", "{mode}: {k}: {result:#}\n{}", r.stderr);
        }
        assert_eq!(
            files_holding(&cache, "PWPOISON"),
            Vec::<std::path::PathBuf>::new(),
            "{mode}"
        );
        assert!(!cache.join("index-v5/pw").exists(), "{mode}");
        let f = r.finding("tamper.manager-cache");
        assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
        assert_eq!(f["package"], "pw-cachepoison@1.0.0", "{mode}: {f:#}");
        // Block fails the install on it (90); protect keeps npm's code.
        assert_eq!(
            r.code,
            if mode == "block" { 90 } else { 0 },
            "{mode}: {}",
            r.stderr
        );
        assert!(
            matches!(f["severity"].as_str(), Some("high" | "critical")),
            "{mode}: {f:#}"
        );
    }
}

/// A dependency's postinstall that does what benign ones do with caches: a
/// nested `npm install` and an `npx` of a package from the same registry,
/// and a browser download into its own new `~/.cache/puppeteer`, and one
/// where `XDG_CACHE_HOME` says (playwright's `ms-playwright`), which must
/// outlive the install.
const NESTED: &str = r##"
const fs = require("fs"), path = require("path"), os = require("os");
const cp = require("child_process");
const home = process.env.HOME, registry = process.argv[2], r = {};
function t(name, f) { try { f(); r[name] = "ok"; } catch (e) { r[name] = (e.code || "failed") + " " + (e.stderr || ""); } }
const nested = path.join(os.tmpdir(), "pw-nested");
t("nested_install", () => {
  fs.mkdirSync(nested, {recursive: true});
  cp.execFileSync("npm", ["install", "--no-save", "--prefix", nested, "--registry", registry, "pw-leaf@1.0.0"], {stdio: "pipe"});
  if (!fs.existsSync(path.join(nested, "node_modules/pw-leaf/index.js"))) throw new Error("no pw-leaf");
});
t("npx", () => {
  const out = cp.execFileSync("npx", ["--yes", "--registry", registry, "pw-leaf@1.0.0"], {stdio: "pipe"}).toString();
  if (!out.includes("pw-leaf ran")) throw new Error("npx: " + out);
});
if (process.env.PW_TOOL_CACHE) t("tool_cache", () => {
  const bin = path.join(home, ".cache", "puppeteer", "chrome", "bin");
  fs.mkdirSync(bin, {recursive: true});
  fs.writeFileSync(path.join(bin, "chrome"), "#!/bin/sh\necho chrome\n", {mode: 0o755});
});
if (process.env.PW_TOOL_CACHE) t("xdg_tool_cache", () => {
  const xdg = process.env.XDG_CACHE_HOME || path.join(home, ".cache");
  const bin = path.join(xdg, "ms-playwright", "chromium-1", "chrome-linux");
  fs.mkdirSync(bin, {recursive: true});
  fs.writeFileSync(path.join(bin, "chrome"), "#!/bin/sh\necho chrome\n", {mode: 0o755});
});
fs.writeFileSync("result.json", JSON.stringify(r));
"##;

#[test]
fn a_dependency_script_runs_a_nested_npm_and_writes_its_own_tool_cache() {
    let leaf = NpmPackage::new(
        serde_json::json!({"name": "pw-leaf", "version": "1.0.0", "bin": {"pw-leaf": "cli.js"}}),
        &[
            ("index.js", b"module.exports = 3;\n"),
            (
                "cli.js",
                b"#!/usr/bin/env node\nconsole.log('pw-leaf ran');\n",
            ),
        ],
    );
    let registry = NpmRegistry::start_with(vec![leaf]);
    registry.add(NpmPackage::new(
        serde_json::json!({
            "name": "pw-nestedinstall", "version": "1.0.0",
            "scripts": {"postinstall": format!("node nested.js {}", registry.registry_url())}
        }),
        &[("nested.js", NESTED.as_bytes())],
    ));
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    // The user's token stays hidden from the script; npm inside it still works.
    with_npm_token(home);
    // A token hidden inside `~/.cache` (Hugging Face's) splits the grants
    // there: tool caches are still made.
    fs::create_dir_all(home.join(".cache/huggingface")).unwrap();
    fs::write(home.join(".cache/huggingface/token"), "hf_fixture\n").unwrap();
    for mode in ["protect", "block"] {
        for d in ["puppeteer", "ms-playwright"] {
            let _ = fs::remove_dir_all(home.join(".cache").join(d));
        }
        // Block lets the install write nothing in HOME but the manager's
        // caches, so no script's tool cache either: protect only.
        let tool = mode == "protect";
        let vars: Vec<(&str, String)> = if tool {
            vec![("PW_TOOL_CACHE", "1".into())]
        } else {
            Vec::new()
        };
        let (r, project) = npm_install(
            &env,
            &registry,
            mode,
            serde_json::json!({"pw-nestedinstall": "1.0.0"}),
            &vars,
        );
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        let result: Value = fs::read(project.join("node_modules/pw-nestedinstall/result.json"))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or_else(|_| panic!("{mode}: the script did not run\n{}", r.stderr));
        for k in ["nested_install", "npx"] {
            assert_eq!(result[k], "ok", "{mode}: {k}: {result:#}\n{}", r.stderr);
        }
        if tool {
            for k in ["tool_cache", "xdg_tool_cache"] {
                assert_eq!(result[k], "ok", "{mode}: {k}: {result:#}\n{}", r.stderr);
            }
            for f in [
                "puppeteer/chrome/bin/chrome",
                "ms-playwright/chromium-1/chrome-linux/chrome",
            ] {
                assert!(home.join(".cache").join(f).is_file(), "{mode}: {f}");
            }
        }
        // The nested npm used a private cache: npm's own has only what the
        // install itself fetched.
        assert_eq!(
            files_holding(&home.join(".npm/_cacache/index-v5"), "pw-leaf"),
            Vec::<std::path::PathBuf>::new(),
            "{mode}"
        );
        assert!(
            !files_holding(&home.join(".npm/_cacache/index-v5"), "pw-nestedinstall").is_empty(),
            "{mode}: the install's own cache entry is missing"
        );
        assert_eq!(r.serious(), Vec::<&Value>::new(), "{mode}: {}", r.stderr);
    }
}
