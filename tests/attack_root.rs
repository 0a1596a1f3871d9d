//! Round 5: attacks on the root project's own lifecycle scripts (commit
//! 6892e23: they write everything the install may but the manager's
//! caches, as write-only grants, with private caches by variables) and on
//! the dependency-script domain around them. What a root script runs is
//! usually a dependency's bin (`"postinstall": "pw-tool"`), so every probe
//! here is a dependency's code: a bin the root project's script runs, or a
//! dependency's own postinstall. Real npm and pnpm, a loopback registry,
//! inert fixtures: every marker is written in the test's temporary HOME.
//! Root and unprivileged.

use crate::support;

use serde_json::Value;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use support::installs::{Installed, install};
use support::*;

/// What every probe starts with: `t(name, f)` records `ok` or the error
/// code of `f`; `r` is written as the probe's `result.json`.
const PRELUDE: &str = r#"
const fs = require("fs"), path = require("path"), cp = require("child_process");
const home = process.env.HOME, r = {};
const M = ["PW", "POISON"].join("");
function t(name, f) { try { const v = f(); r[name] = v === undefined ? "ok" : v; } catch (e) { r[name] = e.code || String(e); } }
"#;

/// A dependency whose bin `pw-tool` runs `body`; the root project's
/// postinstall runs it (cwd: the project), and it leaves `result.json` in
/// its own package directory.
pub(crate) fn root_tool(body: &str) -> NpmPackage {
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

/// A dependency whose own postinstall runs `body` and leaves `result.json`
/// in its directory; `extra` files ship with it.
fn dep_probe(name: &str, body: &str, extra: &[(&str, &[u8])]) -> NpmPackage {
    let script = format!(
        "{PRELUDE}{JS_FILES}{body}\nfs.writeFileSync(\"result.json\", JSON.stringify(r));\n"
    );
    let mut files: Vec<(&str, &[u8])> = vec![("probe.js", script.as_bytes())];
    files.extend_from_slice(extra);
    NpmPackage::new(
        serde_json::json!({
            "name": name, "version": "1.0.0", "license": "MIT",
            "scripts": {"postinstall": "node probe.js"}
        }),
        &files,
    )
}

/// The root project: `deps` and, with `root_script`, `"postinstall": "pw-tool"`.
pub(crate) fn project_manifest(deps: &[&str], root_script: bool) -> Value {
    let deps: serde_json::Map<String, Value> = deps
        .iter()
        .map(|d| (d.to_string(), Value::from("1.0.0")))
        .collect();
    let mut m = serde_json::json!({
        "name": "proj", "version": "1.0.0", "license": "MIT",
        "dependencies": deps
    });
    if root_script {
        m["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    }
    m
}

/// `<manager> install` of `manifest` in `HOME/<dir>` (fresh node_modules and
/// lockfiles, `settings` added to pnpm's `pnpm-workspace.yaml`); the report
/// and `result.json` of `probe` (Null when it did not run).
#[allow(clippy::too_many_arguments)]
pub(crate) fn install_in(
    env: &ShimEnv,
    registry: &NpmRegistry,
    manager: &str,
    mode: &str,
    dir: &str,
    manifest: Value,
    probe: &str,
    settings: &str,
) -> (Installed, Value, PathBuf) {
    let project = env.home.subdir(dir);
    let _ = fs::remove_dir_all(project.join("node_modules"));
    for f in ["package-lock.json", "pnpm-lock.yaml"] {
        let _ = fs::remove_file(project.join(f));
    }
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    if manager == "pnpm" {
        // pnpm runs only the dependency scripts it is told to trust.
        fs::write(
            project.join("pnpm-workspace.yaml"),
            format!("onlyBuiltDependencies:\n  - {probe}\n{settings}"),
        )
        .unwrap();
    }
    let r = install(
        env,
        mode,
        &[manager, "install", "--registry", &url],
        &project,
        &[],
    );
    let result = result_of(&project, probe);
    (r, result, project)
}

/// `result.json` of `probe` in the project's node_modules (Null when the
/// probe did not run).
fn result_of(project: &Path, probe: &str) -> Value {
    fs::read(project.join("node_modules").join(probe).join("result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null)
}

/// The attempt on a manager's cache is reported as refused.
fn assert_cache_attempt_blocked(r: &Installed, mode: &str) {
    let f = r
        .findings("tamper.manager-cache")
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            panic!(
                "{mode}: no tamper.manager-cache\n{:#}",
                r.report["findings"]
            )
        });
    assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
}

fn pnpm_store(home: &Path) -> PathBuf {
    home.join(".local/share/pnpm/store")
}

/// A file of a package that ships no script: pnpm links it from its store.
const VICTIM_JS: &str = "module.exports = function pwVictim() { return 'pw-victim 1.0.0'; };\n";

fn victim() -> NpmPackage {
    NpmPackage::new(
        serde_json::json!({"name": "pw-victim", "version": "1.0.0", "license": "MIT"}),
        &[("index.js", VICTIM_JS.as_bytes())],
    )
}

/// The root project's script runs a dependency's bin that appends to a file
/// of another installed package in the project's `node_modules`: a write
/// the root domain allows (node_modules is the install's). pnpm imports
/// packages from its store by hard links, so the file IS the store's.
const ROOT_STORE_LINK: &str = r#"
const f = path.join("node_modules", ".pnpm", "pw-victim@1.0.0", "node_modules", "pw-victim", "index.js");
t("nlink", () => fs.statSync(f).nlink);
t("append", () => fs.appendFileSync(f, "\n// " + M + "\n"));
"#;

/// pnpm's store through the hard links pnpm makes into the project's
/// node_modules (its default import method on one file system): the store
/// is shared by every project of the user. Was a bypass (round 5): the
/// sandboxed pnpm is now told to copy or reflink (`clone-or-copy`), so the
/// file in node_modules is the project's own (`nlink` 1).
#[test]
fn a_root_script_cannot_change_pnpms_store_through_node_modules() {
    for mode in ["protect", "block"] {
        store_link_case(mode, "");
    }
}

/// A root script's bin asks for hard links in the project's
/// `pnpm-workspace.yaml`, which outranks every variable (pnpm applies the
/// workspace manifest's settings over all but the command line), or in a
/// new `.npmrc`, or plants a `.pnpmfile.cjs`. Was a bypass (round 5): the
/// root domain wrote them (the manifest is a plan write file, the project
/// a file directory of pnpm's), so a bin could set them for the next
/// install. The manager's configuration files are now out of every
/// script's domain (the manager keeps writing its manifest): the attempt
/// is `persist.pm-config` (blocked).
#[test]
fn a_root_script_cannot_change_pnpms_store_when_the_project_asks_for_hard_links() {
    for mode in ["protect", "block"] {
        workspace_case(mode);
    }
}

/// A bin the root postinstall runs asks pnpm for hard links in the
/// project's configuration, for the next install.
const ROOT_WORKSPACE: &str = r#"
t("workspace", () => fs.appendFileSync("pnpm-workspace.yaml", "packageImportMethod: hardlink\n# " + M + "\n"));
t("pnpmfile", () => fs.writeFileSync(".pnpmfile.cjs", "// " + M + "\nmodule.exports = {};\n"));
t("npmrc", () => fs.writeFileSync(".npmrc", "package-import-method=hardlink\n# " + M + "\n"));
"#;

/// [`ROOT_WORKSPACE`] in a pnpm install: the files stay as pnpm and the
/// user wrote them, and the attempt is reported.
fn workspace_case(mode: &str) {
    let registry = NpmRegistry::start_with(vec![victim(), root_tool(ROOT_WORKSPACE)]);
    let env = ShimEnv::new(&[]);
    let manifest = project_manifest(&["pw-victim", "pw-tool"], true);
    let (r, result, project) = install_in(
        &env, &registry, "pnpm", mode, "proj", manifest, "pw-tool", "",
    );
    assert!(
        !result.is_null(),
        "{mode}: pw-tool did not run\n{}",
        r.stderr
    );
    for (k, f) in [
        ("workspace", "pnpm-workspace.yaml"),
        ("pnpmfile", ".pnpmfile.cjs"),
        ("npmrc", ".npmrc"),
    ] {
        assert_ne!(result[k], "ok", "{mode}: {k}: {result:#}");
        let text = fs::read_to_string(project.join(f)).unwrap_or_default();
        assert!(!text.contains("PWPOISON"), "{mode}: {f}: {text}");
    }
    let f = r
        .findings("persist.pm-config")
        .into_iter()
        .find(|f| {
            f["evidence"]["paths"][0]
                .as_str()
                .is_some_and(|p| p.ends_with("pnpm-workspace.yaml"))
        })
        .unwrap_or_else(|| panic!("{mode}: no persist.pm-config\n{:#}", r.report["findings"]));
    assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
}

/// The user's own `pnpm-workspace.yaml` asks for hard links, which
/// outranks every variable: it undid pkgwarden's
/// `npm_config_package_import_method=clone-or-copy`, node_modules files
/// were the store's again (nlink 2) and the root script's append changed
/// the store (exit 0, no finding). The sandboxed pnpm now gets the setting
/// on its command line (`--config.package-import-method`), which outranks
/// the workspace manifest.
#[test]
fn a_root_script_cannot_change_pnpms_store_when_the_user_asks_for_hard_links() {
    for mode in ["protect", "block"] {
        store_link_case(mode, "packageImportMethod: hardlink\n");
    }
}

/// [`ROOT_STORE_LINK`] in a pnpm install with `settings` in the workspace
/// manifest: the file in node_modules is the project's own, and the store
/// holds no marker.
fn store_link_case(mode: &str, settings: &str) {
    let registry = NpmRegistry::start_with(vec![victim(), root_tool(ROOT_STORE_LINK)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    let manifest = project_manifest(&["pw-victim", "pw-tool"], true);
    let (r, result, _) = install_in(
        &env, &registry, "pnpm", mode, "proj", manifest, "pw-tool", settings,
    );
    assert_eq!(
        result["append"], "ok",
        "{mode}: pw-tool did not run: {result:#}\n{}",
        r.stderr
    );
    assert_eq!(result["nlink"], 1, "{mode}: {result:#}");
    let planted = files_holding(&pnpm_store(home), "PWPOISON");
    assert!(
        planted.is_empty(),
        "{mode}: the store's file changed {planted:?}: {result:#}\n{:#}",
        r.report["findings"]
    );
}

/// A dependency's own postinstall appends to a file in its own directory
/// whose content equals a file of another package: pnpm's store is content
/// addressed, so both packages link the same store file.
const DEP_STORE_DEDUP: &str = r#"
t("nlink", () => fs.statSync("same.js").nlink);
t("append", () => fs.appendFileSync("same.js", "\n// " + M + "\n"));
"#;

/// Held: pnpm copies a package that has a build (it is not linked from the
/// store, `nlink` 1), so its script changes only its own copy; what the
/// build left goes to the store as the package's side effects, under new
/// content hashes, and pw-victim's store file stays as it was.
#[test]
fn a_dependency_script_cannot_change_another_package_through_pnpms_store() {
    use sha2::Digest;
    let name = "pw-dedup";
    let dedup = dep_probe(name, DEP_STORE_DEDUP, &[("same.js", VICTIM_JS.as_bytes())]);
    let registry = NpmRegistry::start_with(vec![victim(), dedup]);
    let hex: String = sha2::Sha512::digest(VICTIM_JS.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let home = env.home.path();
        let manifest = project_manifest(&["pw-victim", name], false);
        let (r, result, project) =
            install_in(&env, &registry, "pnpm", mode, "proj", manifest, name, "");
        assert_eq!(
            result["append"], "ok",
            "{mode}: the script did not run: {result:#}\n{}",
            r.stderr
        );
        let stored = pnpm_store(home)
            .join("v10/files")
            .join(&hex[..2])
            .join(&hex[2..]);
        assert_eq!(
            fs::read_to_string(&stored).unwrap(),
            VICTIM_JS,
            "{mode}: {result:#}"
        );
        let victim_file = project.join("node_modules/pw-victim/index.js");
        assert_eq!(
            fs::read_to_string(&victim_file).unwrap(),
            VICTIM_JS,
            "{mode}"
        );
    }
}

/// Configuration a later install reads, written by a dependency's bin the
/// root project's script runs: npm's global npmrc under the prefix and
/// pnpm's global rc, each moving the manager's cache to a place package
/// code may write (`~/.cache/pw-npm`), where it plants what a later
/// install then takes.
const ROOT_CONFIG: &str = r#"
const target = path.join(home, ".cache", "pw-npm");
const places = {
  global_npmrc: path.join(process.env.npm_config_prefix || path.join(home, ".npm-global"), "etc", "npmrc"),
  pnpm_rc: path.join(home, ".config", "pnpm", "rc"),
  // npm's own code, where it lies in the prefix (nvm, `npm i -g npm`).
  npm_code: path.join(home, ".npm-global", "lib", "node_modules", "npm", "lib", "cli.js"),
  // Another project of the user's: its installed code.
  other_project: path.join(home, "app", "node_modules", "dep", "index.js"),
};
for (const [k, p] of Object.entries(places)) {
  t(k, () => {
    fs.mkdirSync(path.dirname(p), {recursive: true});
    const line = k === "npm_code" || k === "other_project" ? "// " + M + "\n" : "cache=" + target + "\ncache-dir=" + target + "\n# " + M + "\n";
    fs.appendFileSync(p, line);
  });
}
t("plant", () => {
  fs.mkdirSync(path.join(target, "_cacache"), {recursive: true});
  fs.writeFileSync(path.join(target, "_cacache", "pw"), M);
});
"#;

/// The managers' global configuration (npm's npmrc under a prefix in HOME,
/// pnpm's rc), written by a bin the root postinstall runs in protect: was a
/// bypass (round 5), the root domain writing all the install may but the
/// caches. Now out of the root domain (the plan's configuration files, and
/// pnpm's rc a start-up path): refused and reported. npm's own code in the
/// prefix is `hidden.script` (medium).
#[test]
fn a_root_script_cannot_move_the_managers_cache_by_global_configuration() {
    for mode in ["protect", "block"] {
        global_config_case(mode, &["global_npmrc", "pnpm_rc", "npm_code"]);
    }
}

/// In protect the root domain writes the rest of HOME (it runs the
/// project's own tools), other projects' installed code included: was a
/// bypass (exit 0, no finding); now `tamper.installed-package` (high). In
/// block nothing outside the install's roots is granted.
#[test]
fn a_root_script_cannot_change_another_project_under_home() {
    global_config_case("protect", &["other_project"]);
}

/// [`ROOT_CONFIG`] in an npm install: none of the places named `keys` was
/// written without a finding of medium or more naming it, and an attempt on
/// a configuration file is `persist.pm-config`, written or not.
fn global_config_case(mode: &str, keys: &[&str]) {
    let registry = NpmRegistry::start_with(vec![root_tool(ROOT_CONFIG), victim()]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    // A user whose global prefix is in HOME (`npm config set prefix`).
    fs::create_dir_all(home.join(".npm-global/etc")).unwrap();
    // And who has set something in pnpm's global rc before.
    fs::create_dir_all(home.join(".config/pnpm")).unwrap();
    // npm itself in the prefix (a stand-in file).
    let cli = home.join(".npm-global/lib/node_modules/npm/lib/cli.js");
    fs::create_dir_all(cli.parent().unwrap()).unwrap();
    fs::write(&cli, "// stand-in\n").unwrap();
    let other = home.join("app/node_modules/dep/index.js");
    fs::create_dir_all(other.parent().unwrap()).unwrap();
    fs::write(&other, "module.exports = 1;\n").unwrap();
    let manifest = project_manifest(&["pw-tool"], true);
    let (r, result, _) = install_in(
        &env, &registry, "npm", mode, "proj", manifest, "pw-tool", "",
    );
    assert!(
        !result.is_null(),
        "{mode}: pw-tool did not run\n{}",
        r.stderr
    );
    let rcs = [
        ("global_npmrc", home.join(".npm-global/etc/npmrc")),
        ("pnpm_rc", home.join(".config/pnpm/rc")),
        ("npm_code", cli),
        ("other_project", other),
    ];
    // The effect: npm, run without the harness's `npm_config_cache`
    // (as a user's shell runs it), now takes its cache from where scripts
    // write.
    let out = run(env
        .home
        .command("npm")
        .args(["config", "get", "cache"])
        .env_remove("npm_config_cache"));
    let cache_now = stdout_str(&out);
    let moved = cache_now.contains("pw-npm");
    assert!(
        !(moved && keys.contains(&"global_npmrc")),
        "{mode}: npm's cache moved to {cache_now}: {result:#}"
    );
    let pm_config = r.findings("persist.pm-config");
    for (k, rc) in rcs.iter().take(2).filter(|(k, _)| keys.contains(k)) {
        let p = rc.display().to_string();
        assert!(
            pm_config
                .iter()
                .any(|f| f["evidence"]["paths"][0] == p.as_str()),
            "{mode}: {k}: no persist.pm-config for {p}: {result:#}\n{:#}",
            r.report["findings"]
        );
    }
    let unreported: Vec<String> = rcs
        .iter()
        .filter(|(k, rc)| {
            keys.contains(k)
                && (result[*k] == "ok"
                    || fs::read_to_string(rc)
                        .unwrap_or_default()
                        .contains("PWPOISON"))
        })
        .map(|(_, rc)| rc.display().to_string())
        .filter(|p| {
            !r.serious().iter().any(|f| {
                f["evidence"]["paths"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == p))
            })
        })
        .collect();
    assert!(
        unreported.is_empty(),
        "{mode}: wrote {unreported:?} (npm's cache moved: {moved}) with no finding: {result:#}\n{:#}\n{}",
        r.report["findings"],
        cache_now
    );
}

/// What write-only grants hide, tried from a dependency's bin the root
/// project's script runs: the user's npmrc (the token) read, appended,
/// truncated and renamed; the token from the manager's memory and
/// environment; a nested npm pointed back at the user's npmrc; and npm's
/// cache by its other names.
const ROOT_HIDDEN: &str = r#"
const rc = path.join(home, ".npmrc");
const token = ["pw", "secret", "token"].join("-");
const cache = path.join(home, ".npm", "_cacache");
t("read_npmrc", () => fs.readFileSync(rc, "utf8").includes(token) ? "LEAK" : "read");
t("append_npmrc", () => fs.appendFileSync(rc, "\ncache=" + path.join(home, ".cache", "pw") + "\n# " + M + "\n"));
t("truncate_npmrc", () => { const fd = fs.openSync(rc, fs.constants.O_WRONLY); fs.ftruncateSync(fd, 0); fs.closeSync(fd); });
t("rename_npmrc", () => fs.renameSync(rc, path.join(home, ".cache", "pw-rc")));
t("env", () => Object.entries(process.env).some(([k, v]) => (k + v).includes(token)) ? "LEAK" : "clean");
t("ancestors", () => {
  const out = {};
  let pid = process.ppid;
  for (let i = 0; i < 6 && pid > 1; i++) {
    let got = "none";
    try { if (fs.readFileSync("/proc/" + pid + "/environ", "latin1").includes(token)) got = "LEAK-env"; } catch (e) { got = "env:" + e.code; }
    try {
      const maps = fs.readFileSync("/proc/" + pid + "/maps", "utf8").split("\n");
      const fd = fs.openSync("/proc/" + pid + "/mem", "r");
      for (const l of maps) {
        const m = l.match(/^([0-9a-f]+)-([0-9a-f]+) rw/);
        if (!m) continue;
        const a = parseInt(m[1], 16), b = parseInt(m[2], 16);
        if (b - a > 64 * 1024 * 1024) continue;
        const buf = Buffer.alloc(b - a);
        try { fs.readSync(fd, buf, 0, b - a, a); } catch (e) { continue; }
        if (buf.includes(token)) { got = "LEAK-mem"; break; }
      }
      fs.closeSync(fd);
    } catch (e) { got += " mem:" + e.code; }
    out[pid] = got;
    try { pid = parseInt(fs.readFileSync("/proc/" + pid + "/stat", "utf8").split(") ")[1].split(" ")[1]); } catch (e) { break; }
  }
  return JSON.stringify(out).includes("LEAK") ? "LEAK " + JSON.stringify(out) : JSON.stringify(out);
});
t("nested_npm", () => {
  // A nested npm pointed back at the user's npmrc must fail to read it.
  // (A setting npm prints, unlike the token, shows whether it read it; the
  // manager exports it to the script as a variable, which goes first.)
  const env = Object.assign({}, process.env, {npm_config_userconfig: rc});
  for (const k of Object.keys(env)) if (/init.author.name/i.test(k)) delete env[k];
  const out = cp.execFileSync("npm", ["config", "get", "init-author-name"],
    {env, stdio: ["ignore", "pipe", "pipe"]}).toString();
  return out.includes("pwmarker") ? "LEAK" : "not read: " + out.trim();
});
t("proj_npmrc", () => fs.appendFileSync(path.join(process.cwd(), ".npmrc"), "cache=/tmp/pw\n# " + M + "\n"));
t("proc_root", () => {
  fs.mkdirSync("/proc/self/root" + cache + "/index-v5/pw", {recursive: true});
  fs.writeFileSync("/proc/self/root" + cache + "/index-v5/pw/proc", M);
});
const entries = files(path.join(cache, "index-v5"));
r.entries = entries.length;
t("hard_link_out", () => {
  fs.linkSync(entries[0], path.join("node_modules", "pw-link"));
  fs.appendFileSync(path.join("node_modules", "pw-link"), "\n" + M);
});
t("rename_out", () => fs.renameSync(entries[0], path.join("node_modules", "pw-moved")));
t("cache_var", () => process.env.npm_config_cache);
"#;

/// Held: what the write-only grants and the install's domain hide stays
/// hidden from a root script's code, its writes to the user's npmrc and to
/// npm's cache are refused, and the cache attempt is reported.
#[test]
fn a_root_script_cannot_reach_the_users_npmrc_or_npms_cache() {
    let registry = NpmRegistry::start_with(vec![root_tool(ROOT_HIDDEN)]);
    let token = "pw-secret-token";
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let home = env.home.path();
        let rc = format!(
            "//127.0.0.1:{}/:_authToken={token}\ninit-author-name=pwmarker\n",
            registry.port()
        );
        fs::write(home.join(".npmrc"), &rc).unwrap();
        let project = env.home.subdir("proj");
        fs::write(
            project.join("package.json"),
            project_manifest(&["pw-tool"], true).to_string(),
        )
        .unwrap();
        let url = registry.registry_url();
        let r = install(
            &env,
            mode,
            &["npm", "install", "--registry", &url],
            &project,
            &[("PW_PORT", registry.port().to_string())],
        );
        let result = result_of(&project, "pw-tool");
        assert!(
            result["entries"].as_u64() > Some(0),
            "{mode}: pw-tool did not run or npm did not cache: {result:#}\n{}",
            r.stderr
        );
        assert!(
            !result.to_string().contains("LEAK"),
            "{mode}: the token leaked: {result:#}"
        );
        for k in [
            "read_npmrc",
            "append_npmrc",
            "truncate_npmrc",
            "rename_npmrc",
            "proj_npmrc",
            "proc_root",
            "hard_link_out",
            "rename_out",
        ] {
            assert_ne!(result[k], "ok", "{mode}: {k}: {result:#}");
        }
        assert_eq!(
            fs::read_to_string(home.join(".npmrc")).unwrap(),
            rc,
            "{mode}"
        );
        assert!(!project.join(".npmrc").exists(), "{mode}");
        assert_eq!(
            files_holding(&home.join(".npm"), "PWPOISON"),
            Vec::<PathBuf>::new(),
            "{mode}"
        );
        // The nested npm gets a private cache, not the real one.
        let var = result["cache_var"].as_str().unwrap_or_default();
        assert!(!Path::new(var).starts_with(home), "{mode}: {var}");
        assert_cache_attempt_blocked(&r, mode);
    }
}

/// A dependency's build leaves a link in its own directory to a file the
/// manager may read and package code may not (the user's npmrc); pnpm's
/// side-effects cache then stores what the build left.
const SIDE_EFFECT_LINK: &str = r#"
t("link", () => fs.symlinkSync(path.join(home, ".npmrc"), "leak.txt"));
t("read_direct", () => fs.readFileSync("leak.txt", "utf8").length);
"#;

/// Held when pnpm stores the link as a link (or not at all): the token must
/// not land in pnpm's store as a file of the package.
#[test]
fn pnpms_side_effects_cache_does_not_follow_a_link_out_of_the_package() {
    let name = "pw-sfx";
    let registry = NpmRegistry::start_with(vec![dep_probe(name, SIDE_EFFECT_LINK, &[])]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    let token = "pw-secret-token";
    fs::write(
        home.join(".npmrc"),
        format!("//127.0.0.1:{}/:_authToken={token}\n", registry.port()),
    )
    .unwrap();
    let (r, result, _) = install_in(
        &env,
        &registry,
        "pnpm",
        "protect",
        "proj",
        project_manifest(&[name], false),
        name,
        "",
    );
    assert_eq!(
        result["link"], "ok",
        "the script did not run: {result:#}\n{}",
        r.stderr
    );
    assert_ne!(result["read_direct"], "ok", "{result:#}");
    let leaked = files_holding(&pnpm_store(home), token);
    assert_eq!(leaked, Vec::<PathBuf>::new(), "{result:#}");
    // A second project takes the package from the side-effects cache.
    let (_, _, p2) = install_in(
        &env,
        &registry,
        "pnpm",
        "protect",
        "proj2",
        project_manifest(&[name], false),
        name,
        "",
    );
    let leak = p2.join("node_modules").join(name).join("leak.txt");
    let meta = fs::symlink_metadata(&leak);
    assert!(
        !meta.as_ref().is_ok_and(|m| m.is_file() && m.size() > 0)
            || !fs::read_to_string(&leak)
                .unwrap_or_default()
                .contains(token),
        "the token became a file of {name}: {meta:?}"
    );
}

/// A dependency's bin the root project's script runs plants an index entry
/// in npm's cache when that cache lies in the project (`--cache .npm-cache`,
/// as CI jobs do to save and restore it between runs).
const ROOT_PROJECT_CACHE: &str = r#"
const c = path.join(process.cwd(), ".npm-cache", "_cacache");
r.entries = files(path.join(c, "index-v5")).length;
t("plant", () => {
  fs.mkdirSync(path.join(c, "index-v5", "pw", "00"), {recursive: true});
  fs.writeFileSync(path.join(c, "index-v5", "pw", "00", "pwpoison"), M + "\n");
});
"#;

/// A cache inside the project is the manager's cache all the same: a CI
/// job restores it for every later run (other branches too).
#[test]
fn a_root_script_cannot_poison_a_cache_inside_the_project() {
    let registry = NpmRegistry::start_with(vec![root_tool(ROOT_PROJECT_CACHE)]);
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let project = env.home.subdir("proj");
        let cache = project.join(".npm-cache");
        fs::write(
            project.join("package.json"),
            project_manifest(&["pw-tool"], true).to_string(),
        )
        .unwrap();
        let url = registry.registry_url();
        let c = cache.display().to_string();
        let r = install(
            &env,
            mode,
            &["npm", "install", "--registry", &url, "--cache", &c],
            &project,
            &[],
        );
        let result = result_of(&project, "pw-tool");
        assert!(
            result["entries"].as_u64() > Some(0),
            "{mode}: pw-tool did not run or npm did not cache there: {result:#}\n{}",
            r.stderr
        );
        let planted = files_holding(&cache, "PWPOISON");
        assert!(
            planted.is_empty(),
            "{mode}: planted {planted:?}: {result:#}\n{:#}",
            r.report["findings"]
        );
        assert_cache_attempt_blocked(&r, mode);
    }
}

/// A dependency's own postinstall plants a package in npx's cache of the
/// private TMPDIR (`npm_config_cache`, shared by every script of the
/// install), under the name the root project's script later runs with
/// `npx` (`"postinstall": "npx --yes pw-cli"`, as projects run
/// `npx only-allow pnpm`): npx finds it installed and runs it in the root
/// script's domain, which writes far more than a dependency's.
const NPX_PLANT: &str = r##"
const crypto = require("crypto");
const cache = process.env.npm_config_cache;
r.cache = cache;
const hash = crypto.createHash("sha512").update("pw-cli").digest("hex").slice(0, 16);
const dir = path.join(cache, "_npx", hash);
// What npx compares: the registry's tarball address of the name.
const tgz = process.env.npm_config_registry.replace(/\/?$/, "/") + "pw-cli/-/pw-cli-1.0.0.tgz";
r.tgz = tgz;
t("plant", () => {
  const nm = path.join(dir, "node_modules");
  fs.mkdirSync(path.join(nm, "pw-cli"), {recursive: true});
  fs.mkdirSync(path.join(nm, ".bin"), {recursive: true});
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({dependencies: {"pw-cli": "^1.0.0"}}));
  fs.writeFileSync(path.join(nm, "pw-cli", "package.json"), JSON.stringify({name: "pw-cli", version: "1.0.0", bin: {"pw-cli": "cli.js"}, resolved: tgz, _resolved: tgz}));
  fs.writeFileSync(path.join(nm, "pw-cli", "cli.js"),
    "#!/usr/bin/env node\nrequire('fs').writeFileSync(require('path').join(process.cwd(), 'node_modules', 'pw-escalated'), 'PWPOISON');\n",
    {mode: 0o755});
  fs.symlinkSync("../pw-cli/cli.js", path.join(nm, ".bin", "pw-cli"));
});
t("own_domain", () => fs.writeFileSync(path.join(process.env.INIT_CWD, "node_modules", "pw-direct"), M));
"##;

/// The genuine `pw-cli` the registry serves: it only says it ran.
fn genuine_cli() -> NpmPackage {
    NpmPackage::new(
        serde_json::json!({
            "name": "pw-cli", "version": "1.0.0", "license": "MIT",
            "bin": {"pw-cli": "cli.js"}
        }),
        &[(
            "cli.js",
            b"#!/usr/bin/env node\nrequire('fs').writeFileSync(require('path').join(process.cwd(), 'node_modules', 'pw-genuine'), 'ran');\n",
        )],
    )
}

/// A dependency's script cannot reach the root script's domain through the
/// private caches (the root scripts' lie beside the private TMPDIR, where
/// dependency scripts may not write); the root script's `npx` still works.
#[test]
fn a_dependency_script_cannot_plant_what_the_root_scripts_npx_runs() {
    let name = "pw-npx";
    let registry = NpmRegistry::start_with(vec![dep_probe(name, NPX_PLANT, &[]), genuine_cli()]);
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let mut manifest = project_manifest(&[name], false);
        manifest["scripts"] = serde_json::json!({"postinstall": "npx --yes pw-cli"});
        let (r, result, project) =
            install_in(&env, &registry, "npm", mode, "proj", manifest, name, "");
        assert_eq!(result["plant"], "ok", "{mode}: {result:#}\n{}", r.stderr);
        assert_ne!(result["own_domain"], "ok", "{mode}: {result:#}");
        let nm = project.join("node_modules");
        let escalated = nm.join("pw-escalated").exists();
        let genuine = nm.join("pw-genuine").exists();
        assert!(
            !escalated,
            "{mode}: the planted pw-cli ran in the root script's domain (genuine ran: {genuine}): {result:#}\n{:#}\n{}",
            r.report["findings"], r.stdout
        );
        assert!(genuine, "{mode}: npx did not run pw-cli\n{}", r.stderr);
    }
}

/// A credential file hidden from package code but not a start-up path
/// (`~/.netrc`, which pip's HTTP client and curl read): the root domain's
/// write-only grant lets a bin truncate or append to what it cannot read.
const NETRC: &str = r#"
const rc = path.join(home, ".netrc");
t("read", () => fs.readFileSync(rc, "utf8").length);
t("append", () => fs.appendFileSync(rc, "\nmachine pw.invalid login pw password " + M + "\n"));
t("truncate", () => { const fd = fs.openSync(rc, fs.constants.O_WRONLY); fs.ftruncateSync(fd, 0); fs.closeSync(fd); });
"#;

/// A credential file is neither readable nor changeable by package code.
#[test]
fn a_root_script_cannot_change_a_credential_file_it_cannot_read() {
    let registry = NpmRegistry::start_with(vec![root_tool(NETRC)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    let netrc = "machine 127.0.0.1 login user password pw-secret-token\n";
    fs::write(home.join(".netrc"), netrc).unwrap();
    let manifest = project_manifest(&["pw-tool"], true);
    let (r, result, _) = install_in(
        &env, &registry, "npm", "protect", "proj", manifest, "pw-tool", "",
    );
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    assert_ne!(result["read"], "ok", "{result:#}");
    let now = fs::read_to_string(home.join(".netrc")).unwrap_or_default();
    let p = home.join(".netrc").display().to_string();
    let reported = r.serious().iter().any(|f| {
        f["evidence"]["paths"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| *x == p))
    });
    assert!(
        now == netrc || reported,
        "~/.netrc is now {now:?}, no finding: {result:#}\n{:#}",
        r.report["findings"]
    );
}

/// A benign root script (`"postinstall": "pw-tool"`, which touches nothing)
/// with credential stores in HOME: the wrapper must not open them while it
/// builds the root domain (each grant is opened for its rule, and opening
/// a hidden store is `cred.read`).
#[test]
fn a_benign_root_script_is_clean_with_credential_stores_in_home() {
    let registry = NpmRegistry::start_with(vec![root_tool("")]);
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let home = env.home.path();
        fs::create_dir_all(home.join(".ssh")).unwrap();
        fs::write(home.join(".ssh/id_ed25519"), "not a key\n").unwrap();
        fs::create_dir_all(home.join(".aws")).unwrap();
        fs::write(home.join(".aws/credentials"), "[default]\n").unwrap();
        fs::write(home.join(".netrc"), "machine x login y password z\n").unwrap();
        let manifest = project_manifest(&["pw-tool"], true);
        let (r, result, _) = install_in(
            &env, &registry, "npm", mode, "proj", manifest, "pw-tool", "",
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-tool did not run\n{}",
            r.stderr
        );
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        assert_eq!(
            r.serious(),
            Vec::<&Value>::new(),
            "{mode}: a benign root script was reported"
        );
    }
}
