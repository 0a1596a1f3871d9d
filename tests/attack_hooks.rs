//! Attacks on the hook wrapper's nested domain (DESIGN.md principle 9: the
//! manager's caches are not package code's): a dependency's lifecycle
//! script, or a build it starts, that tries to leave something in a cache
//! a later install (or run of the manager) trusts, by another name than
//! the one the domain refuses, or from a place the domain does not cover.
//! Real npm, pnpm and yarn, a loopback registry, inert fixtures: every
//! marker is written in the test's temporary HOME. Root and unprivileged.

use crate::support;

use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use support::installs::{Installed, install};
use support::*;

/// What every probe starts with: `t(name, f)` records `ok` or the error
/// code of `f` in `result.json` of the script's own directory.
const PRELUDE: &str = r#"
const fs = require("fs"), path = require("path");
const home = process.env.HOME, r = {};
const M = ["PW", "POISON"].join("");
function t(name, f) { try { f(); r[name] = "ok"; } catch (e) { r[name] = e.code || String(e); } }
"#;

const EPILOGUE: &str = r#"
fs.writeFileSync("result.json", JSON.stringify(r));
"#;

/// A package whose postinstall runs `body` (after [`PRELUDE`]).
fn probe(name: &str, body: &str) -> NpmPackage {
    let script = format!("{PRELUDE}{JS_FILES}{body}{EPILOGUE}");
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

/// A loopback registry serving [`probe`]`(name, body)` and a fresh HOME.
fn probe_case(name: &str, body: &str) -> (NpmRegistry, ShimEnv) {
    (
        NpmRegistry::start_with(vec![probe(name, body)]),
        ShimEnv::new(&[]),
    )
}

/// `<manager> install|add` of `deps` in a fresh project, with `vars` in the
/// user's environment; the report and the probe's `result.json` (Null when
/// the script did not run).
fn install_in(
    env: &ShimEnv,
    registry: &NpmRegistry,
    manager: &str,
    mode: &str,
    manifest: Value,
    probe_name: &str,
    vars: &[(&str, String)],
) -> (Installed, Value, PathBuf) {
    let project = env.home.subdir("proj");
    let _ = fs::remove_dir_all(project.join("node_modules"));
    for f in ["package-lock.json", "pnpm-lock.yaml", "yarn.lock"] {
        let _ = fs::remove_file(project.join(f));
    }
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let args: Vec<&str> = match manager {
        "npm" => vec!["npm", "install", "--registry", &url],
        "pnpm" => {
            // pnpm runs only the scripts it is told to trust.
            fs::write(
                project.join("pnpm-workspace.yaml"),
                format!("onlyBuiltDependencies:\n  - {probe_name}\n"),
            )
            .unwrap();
            vec!["pnpm", "install", "--registry", &url]
        }
        _ => {
            let cache = env.home.path().join(".cache/yarn");
            fs::write(
                project.join(".yarnrc"),
                format!("registry \"{url}\"\ncache-folder \"{}\"\n", cache.display()),
            )
            .unwrap();
            vec!["yarn", "install", "--non-interactive"]
        }
    };
    let r = install(env, mode, &args, &project, vars);
    let result = fs::read(
        project
            .join("node_modules")
            .join(probe_name)
            .join("result.json"),
    )
    .map(|b| serde_json::from_slice(&b).unwrap())
    .unwrap_or(Value::Null);
    (r, result, project)
}

fn deps(name: &str) -> Value {
    serde_json::json!({
        "name": "proj", "version": "1.0.0", "license": "MIT",
        "dependencies": {name: "1.0.0"}
    })
}

fn assert_cache_finding(r: &Installed, package: &str, what: &str) {
    let f = r.finding("tamper.manager-cache");
    assert_eq!(f["package"], package, "{what}: {f:#}");
    assert!(
        matches!(f["severity"].as_str(), Some("high" | "critical")),
        "{what}: {f:#}"
    );
}

/// Nothing of the probe's marker in `dir`, and the attempt reported.
fn assert_unpoisoned_and_reported(
    r: &Installed,
    result: &Value,
    dir: &Path,
    name: &str,
    what: &str,
) {
    let planted = files_holding(dir, "PWPOISON");
    assert_eq!(planted, Vec::<PathBuf>::new(), "{what}: {result:#}");
    assert_cache_finding(r, &format!("{name}@1.0.0"), what);
}

fn mode_of(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A chmod of a cache is no landlock right, so the nested domain cannot
/// refuse it: it must then be reported, as done (`observed`).
fn assert_chmod_refused_or_reported(r: &Installed, done: &Value, path: &Path, what: &str) {
    if *done != "ok" {
        assert_ne!(mode_of(path) & 0o022, 0o022, "{what}: made writable");
        return;
    }
    let p = path.display().to_string();
    let f = r
        .findings("tamper.manager-cache")
        .into_iter()
        .find(|f| {
            f["evidence"]["paths"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| *x == p))
        })
        .unwrap_or_else(|| {
            panic!(
                "{what}: chmod {p} with no finding: {:#}\n{}",
                r.report["findings"], r.stderr
            )
        });
    assert_eq!(f["action"], "observed", "{what}: {f:#}");
}

/// npm's cache by other names: `/proc/self/root`, a hard link or a rename
/// of an index entry into `~/.cache` (its existing entries are writable), a chmod
/// that would let anyone write the index later.
const NPM_ALIASES: &str = r#"
const cache = path.join(home, ".npm", "_cacache");
const entries = files(path.join(cache, "index-v5"));
r.entries = entries.length;
t("proc_root", () => {
  fs.mkdirSync("/proc/self/root" + cache + "/index-v5/pw", {recursive: true});
  fs.writeFileSync("/proc/self/root" + cache + "/index-v5/pw/proc", M);
});
t("hard_link", () => {
  fs.linkSync(entries[0], path.join(home, ".cache", "pw-link"));
  fs.appendFileSync(path.join(home, ".cache", "pw-link"), "\n" + M);
});
t("rename_out", () => {
  fs.renameSync(entries[0], path.join(home, ".cache", "pw-moved"));
  fs.writeFileSync(path.join(home, ".cache", "pw-moved"), M);
});
t("chmod_index", () => fs.chmodSync(path.join(cache, "index-v5"), 0o777));
"#;

/// Held: each other name of npm's cache is refused, the cache unchanged,
/// and the attempt is `tamper.manager-cache`.
#[test]
fn npm_cache_by_another_name_is_refused() {
    let name = "pw-npmalias";
    let (registry, env) = probe_case(name, NPM_ALIASES);
    let home = env.home.path();
    let index = home.join(".npm/_cacache/index-v5");
    for mode in ["protect", "block"] {
        let (r, result, _) = install_in(&env, &registry, "npm", mode, deps(name), name, &[]);
        assert!(
            result["entries"].as_u64() > Some(0),
            "{mode}: the script did not run: {result:#}\n{}",
            r.stderr
        );
        for k in ["proc_root", "hard_link", "rename_out"] {
            assert_ne!(result[k], "ok", "{mode}: {k}: {result:#}");
        }
        assert_eq!(
            files_holding(&home.join(".npm"), "PWPOISON"),
            Vec::<PathBuf>::new(),
            "{mode}"
        );
        assert!(!home.join(".cache/pw-link").exists(), "{mode}");
        assert!(!home.join(".cache/pw-moved").exists(), "{mode}");
        assert_chmod_refused_or_reported(&r, &result["chmod_index"], &index, mode);
        let _ = fs::set_permissions(&index, fs::Permissions::from_mode(0o755));
        assert_cache_finding(&r, &format!("{name}@1.0.0"), mode);
    }
}

/// pnpm's cache through its neighbours in `~/.cache`: a hard link into an
/// existing entry, links named like the tool caches the wrapper makes
/// (planted earlier, by the user's tools or by an install before
/// pkgwarden), `/proc/self/root`, a rename into it, a chmod.
const PNPM_NEIGHBOURS: &str = r#"
const cache = path.join(home, ".cache"), pn = path.join(cache, "pnpm");
const meta = files(pn);
r.meta = meta.length;
t("hard_link", () => {
  fs.linkSync(meta[0], path.join(cache, "pw-other", "l"));
  fs.appendFileSync(path.join(cache, "pw-other", "l"), M);
});
t("planted_cache_link", () => {
  fs.mkdirSync(path.join(cache, "puppeteer", "pw"), {recursive: true});
  fs.writeFileSync(path.join(cache, "puppeteer", "pw", "x"), M);
});
t("planted_store_link", () => {
  fs.writeFileSync(path.join(cache, "sharp", "pw-store"), M);
});
t("proc_root", () => fs.writeFileSync("/proc/self/root" + pn + "/pw-proc", M));
t("rename_in", () => fs.renameSync(path.join(cache, "pw-other"), path.join(pn, "pw-other")));
t("new_entry", () => fs.mkdirSync(path.join(cache, "pw-new")));
t("chmod_cache", () => fs.chmodSync(pn, 0o777));
t("xdg_private", () => { if (process.env.XDG_CACHE_HOME === cache) throw new Error("shared"); });
"#;

/// Held: every way into pnpm's cache and store through `~/.cache` is
/// refused, and the attempt is `tamper.manager-cache`.
#[test]
fn pnpm_cache_through_its_neighbours_is_refused() {
    let name = "pw-pnpmalias";
    let (registry, env) = probe_case(name, PNPM_NEIGHBOURS);
    let home = env.home.path();
    let cache = home.join(".cache");
    let store = home.join(".local/share/pnpm/store");
    fs::create_dir_all(cache.join("pw-other")).unwrap();
    fs::create_dir_all(&store).unwrap();
    // What an earlier install could leave: tool-cache names that are links
    // into the caches.
    std::os::unix::fs::symlink(cache.join("pnpm"), cache.join("puppeteer")).unwrap();
    std::os::unix::fs::symlink(&store, cache.join("sharp")).unwrap();
    for mode in ["protect", "block"] {
        // pnpm keeps what a build left (its side effects) in the store and
        // does not run that postinstall again: each run starts empty.
        let _ = fs::remove_dir_all(&store);
        fs::create_dir_all(&store).unwrap();
        let (r, result, _) = install_in(&env, &registry, "pnpm", mode, deps(name), name, &[]);
        assert!(
            result["meta"].as_u64() > Some(0),
            "{mode}: the script did not run: {result:#}\n{}",
            r.stderr
        );
        for k in [
            "hard_link",
            "planted_cache_link",
            "planted_store_link",
            "proc_root",
            "rename_in",
            "new_entry",
        ] {
            assert_ne!(result[k], "ok", "{mode}: {k}: {result:#}\n{}", r.stderr);
        }
        assert_eq!(result["xdg_private"], "ok", "{mode}: {result:#}");
        for d in [&cache, &store] {
            assert_eq!(
                files_holding(d, "PWPOISON"),
                Vec::<PathBuf>::new(),
                "{mode}"
            );
        }
        assert!(cache.join("pw-other").is_dir(), "{mode}");
        assert!(!cache.join("pw-new").exists(), "{mode}");
        let pn = cache.join("pnpm");
        assert_chmod_refused_or_reported(&r, &result["chmod_cache"], &pn, mode);
        let _ = fs::set_permissions(&pn, fs::Permissions::from_mode(0o755));
        assert_cache_finding(&r, &format!("{name}@1.0.0"), mode);
    }
}

/// A dependency's bin that the root project's own script runs (`"postinstall":
/// "pw-tool"`, as projects run `patch-package` or `husky`): package code
/// that is started from the root project's script.
const ROOT_BIN: &str = r#"#!/usr/bin/env node
const fs = require("fs"), path = require("path");
const M = ["PW", "POISON"].join("");
for (const d of [
  path.join(process.env.HOME, ".npm", "_cacache", "index-v5", "pw", "00"),
  path.join(process.env.HOME, ".cache", "yarn", "v6", "npm-pw-root-1.0.0-integrity", "node_modules", "pw"),
]) {
  try {
    fs.mkdirSync(d, {recursive: true});
    fs.writeFileSync(path.join(d, "pwpoison"), M + "\n");
  } catch (e) {}
}
"#;

/// The root project's scripts keep the install's rights but the manager's
/// caches: what they run is often a dependency's code (`node_modules/.bin`),
/// which must not plant entries in npm's (or yarn's) cache. Was a bypass
/// (round 4).
#[test]
fn a_dependency_bin_run_by_the_root_projects_script_cannot_poison_npms_cache() {
    root_bin_case("npm", ".npm", "_cacache/index-v5");
}

/// [`a_dependency_bin_run_by_the_root_projects_script_cannot_poison_npms_cache`]
/// under yarn 1, whose root scripts reach the wrapper through the preload
/// library.
#[test]
fn a_dependency_bin_run_by_the_root_projects_script_cannot_poison_yarns_cache() {
    root_bin_case("yarn", ".cache/yarn", "v6");
}

fn root_bin_case(manager: &str, cache: &str, cached: &str) {
    let tool = NpmPackage::new(
        serde_json::json!({
            "name": "pw-tool", "version": "1.0.0", "license": "MIT",
            "bin": {"pw-tool": "cli.js"}
        }),
        &[("cli.js", ROOT_BIN.as_bytes())],
    );
    let registry = NpmRegistry::start_with(vec![tool]);
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let home = env.home.path();
        let manifest = serde_json::json!({
            "name": "proj", "version": "1.0.0", "license": "MIT",
            "dependencies": {"pw-tool": "1.0.0"},
            "scripts": {"postinstall": "pw-tool"}
        });
        let (r, _, _) = install_in(&env, &registry, manager, mode, manifest, "pw-tool", &[]);
        assert!(
            home.join(cache).join(cached).is_dir(),
            "{mode}: {manager} did not cache: {}",
            r.stderr
        );
        let planted = files_holding(&home.join(cache), "PWPOISON");
        assert!(
            planted.is_empty(),
            "{mode}: planted {planted:?}\n{}",
            r.stderr
        );
        let f = r
            .findings("tamper.manager-cache")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{mode}: no tamper.manager-cache finding\n{}", r.stderr));
        assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
    }
}

/// `npm install` of the probe `name` in protect and block: it ran, each of
/// `keys` was refused, nothing of its marker is in `dir`, and the attempt
/// is reported.
fn npm_refuses_and_reports(
    env: &ShimEnv,
    registry: &NpmRegistry,
    name: &str,
    keys: &[&str],
    dir: &Path,
) {
    for mode in ["protect", "block"] {
        let (r, result, _) = install_in(env, registry, "npm", mode, deps(name), name, &[]);
        assert!(
            !result.is_null(),
            "{mode}: the script did not run\n{}",
            r.stderr
        );
        for k in keys {
            assert_ne!(result[*k], "ok", "{mode}: {k}: {result:#}");
        }
        assert_unpoisoned_and_reported(&r, &result, dir, name, mode);
    }
}

/// Corepack's cache (`~/.cache/node/corepack`): the package managers
/// corepack runs (its `lastKnownGood.json` names the version, the files
/// beside it are the manager's code). Stand-ins only: a fake `pnpm.cjs`.
const COREPACK: &str = r#"
const cp = path.join(home, ".cache", "node", "corepack");
t("manager_code", () => fs.appendFileSync(path.join(cp, "v1", "pnpm", "10.0.0", "dist", "pnpm.cjs"), "\n// " + M + "\n"));
t("last_known_good", () => fs.writeFileSync(path.join(cp, "lastKnownGood.json"), JSON.stringify({pnpm: M})));
"#;

/// Corepack's cache holds package managers' code that the next `pnpm` or
/// `yarn` started through corepack runs as the manager (with the install's
/// rights and its token): corepack's home is a manager cache of every
/// npm-family install, and `~/.cache/node` no script tool cache. Was a
/// bypass (round 4).
#[test]
fn a_dependency_script_cannot_rewrite_corepacks_managers() {
    let name = "pw-corepack";
    let (registry, env) = probe_case(name, COREPACK);
    let cp = env.home.path().join(".cache/node/corepack");
    let code = cp.join("v1/pnpm/10.0.0/dist/pnpm.cjs");
    fs::create_dir_all(code.parent().unwrap()).unwrap();
    fs::write(&code, "// stand-in\n").unwrap();
    fs::write(cp.join("lastKnownGood.json"), r#"{"pnpm":"10.0.0"}"#).unwrap();
    npm_refuses_and_reports(
        &env,
        &registry,
        name,
        &["manager_code", "last_known_good"],
        &cp,
    );
}

/// node-gyp's headers of the node that builds, complete (`installVersion`
/// is written last): every later native build reads their `common.gypi`,
/// the root project's own `node-gyp rebuild` too, and its `<!(...)`
/// expansions run commands there.
const GYP_HEADERS: &str = r#"
const dev = path.join(home, ".cache", "node-gyp"), v = process.version.slice(1);
const inc = path.join(dev, v, "include", "node");
t("common_gypi", () => fs.appendFileSync(path.join(inc, "common.gypi"), "\n# " + M + "\n"));
t("new_gypi", () => fs.writeFileSync(path.join(inc, "pw.gypi"), M));
t("other_version", () => fs.mkdirSync(path.join(dev, "0.0.1", "include"), {recursive: true}));
"#;

/// The running node's version without its `v` (node-gyp's directory name).
fn node_version() -> String {
    let out = run(std::process::Command::new(support::node()).args(["-p", "process.version"]));
    stdout_str(&out).trim().trim_start_matches('v').to_string()
}

/// Once the headers are there, package code only reads them: a planted
/// command in `common.gypi` would run in every later native build (an
/// untested lead of round 4, now a test).
#[test]
fn a_dependency_script_cannot_rewrite_node_gyps_headers_once_they_are_there() {
    let name = "pw-gypi";
    let (registry, env) = probe_case(name, GYP_HEADERS);
    let dev = env.home.path().join(".cache/node-gyp");
    let version = dev.join(node_version());
    fs::create_dir_all(version.join("include/node")).unwrap();
    fs::write(version.join("include/node/common.gypi"), "{}\n").unwrap();
    fs::write(version.join("installVersion"), "11\n").unwrap();
    npm_refuses_and_reports(
        &env,
        &registry,
        name,
        &["common_gypi", "new_gypi", "other_version"],
        &dev,
    );
}

/// The benign twin: headers that are not there yet are downloaded by the
/// build that needs them, as before.
#[test]
fn a_dependency_script_still_downloads_node_gyps_missing_headers() {
    const DOWNLOAD: &str = r#"
const d = path.join(home, ".cache", "node-gyp", process.version.slice(1));
t("download", () => {
  fs.mkdirSync(path.join(d, "include", "node"), {recursive: true});
  fs.writeFileSync(path.join(d, "include", "node", "common.gypi"), "{}\n");
  fs.writeFileSync(path.join(d, "installVersion"), "11\n");
});
"#;
    let name = "pw-gypdl";
    let (registry, env) = probe_case(name, DOWNLOAD);
    let (r, result, _) = install_in(&env, &registry, "npm", "protect", deps(name), name, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(result["download"], "ok", "{result:#}\n{}", r.stderr);
    assert!(r.serious().is_empty(), "{:#?}", r.serious());
}

/// Another manager's cache in `~/.cache`: pip's built wheels and yarn's
/// unpacked packages, which a later `pip install` or `yarn` takes without
/// a build or a check.
const OTHER_MANAGERS: &str = r#"
const c = path.join(home, ".cache");
t("pip_wheel", () => {
  fs.mkdirSync(path.join(c, "pip", "wheels", "pw"), {recursive: true});
  fs.writeFileSync(path.join(c, "pip", "wheels", "pw", "pw-1.0-py3-none-any.whl"), M);
});
t("yarn_package", () => {
  const d = path.join(c, "yarn", "v6", "npm-pw-1.0.0-integrity", "node_modules", "pw");
  fs.mkdirSync(d, {recursive: true});
  fs.writeFileSync(path.join(d, "index.js"), M);
});
"#;

/// The caches of the managers the install did not start lie in
/// `~/.cache` too: every manager's cache there is kept from package code,
/// whichever manager runs the install, and the attempt is reported. Was a
/// bypass (round 4, README "Left").
#[test]
fn a_dependency_script_cannot_poison_another_managers_cache() {
    let name = "pw-othercaches";
    let (registry, env) = probe_case(name, OTHER_MANAGERS);
    let cache = env.home.path().join(".cache");
    fs::create_dir_all(cache.join("pip/wheels")).unwrap();
    fs::create_dir_all(cache.join("yarn/v6")).unwrap();
    npm_refuses_and_reports(
        &env,
        &registry,
        name,
        &["pip_wheel", "yarn_package"],
        &cache,
    );
}

/// Other managers' caches by ways the fix was not written for: uv's cache
/// that does not exist yet (made whole by the script), pip's through a link
/// planted earlier in `~/.cache`, pnpm's swapped (renamed away, a new one
/// made in its place), corepack's home made under an existing `~/.cache/node`.
const OTHER_MANAGERS_SIDEWAYS: &str = r#"
const c = path.join(home, ".cache");
t("uv_missing", () => {
  fs.mkdirSync(path.join(c, "uv", "wheels-v5", "pw"), {recursive: true});
  fs.writeFileSync(path.join(c, "uv", "wheels-v5", "pw", "pw-1.0-py3-none-any.whl"), M);
});
t("pip_by_link", () => {
  fs.mkdirSync(path.join(c, "pw-pip", "wheels", "pw"), {recursive: true});
  fs.writeFileSync(path.join(c, "pw-pip", "wheels", "pw", "pw-1.0-py3-none-any.whl"), M);
});
t("pnpm_swapped", () => {
  fs.renameSync(path.join(c, "pnpm"), path.join(c, "pw-old-pnpm"));
  fs.mkdirSync(path.join(c, "pnpm"));
  fs.writeFileSync(path.join(c, "pnpm", "pw"), M);
});
t("corepack_made", () => {
  fs.mkdirSync(path.join(c, "node", "corepack", "v1"), {recursive: true});
  fs.writeFileSync(path.join(c, "node", "corepack", "lastKnownGood.json"), JSON.stringify({pnpm: M}));
});
"#;

/// Held: none of those ways reaches another manager's cache (refused by
/// the split of `~/.cache`, which neither makes new entries nor grants a
/// link), and the attempt is reported.
#[test]
fn another_managers_cache_missing_linked_or_swapped_is_refused() {
    let name = "pw-sideways";
    let (registry, env) = probe_case(name, OTHER_MANAGERS_SIDEWAYS);
    let cache = env.home.path().join(".cache");
    fs::create_dir_all(cache.join("pip/wheels")).unwrap();
    fs::create_dir_all(cache.join("pnpm/metadata")).unwrap();
    fs::create_dir_all(cache.join("node/pw-other")).unwrap();
    std::os::unix::fs::symlink(cache.join("pip"), cache.join("pw-pip")).unwrap();
    npm_refuses_and_reports(
        &env,
        &registry,
        name,
        &["uv_missing", "pip_by_link", "pnpm_swapped", "corepack_made"],
        &cache,
    );
    assert!(!cache.join("uv").exists());
    assert!(!cache.join("node/corepack").exists());
    assert!(cache.join("pnpm/metadata").is_dir());
    assert!(!cache.join("pw-old-pnpm").exists());
}

/// yarn 1's own cache, from its dependency's script.
const YARN_CACHE: &str = r#"
const c = path.join(home, ".cache", "yarn");
const entries = files(c).filter((p) => p.endsWith("index.js"));
r.entries = entries.length;
t("rewrite_cached", () => { for (const p of entries) fs.appendFileSync(p, "\n// " + M + "\n"); });
t("new_cached", () => {
  fs.mkdirSync(path.join(c, "v6", "npm-pw-1.0.0-x-integrity", "node_modules", "pw"), {recursive: true});
  fs.writeFileSync(path.join(c, "v6", "npm-pw-1.0.0-x-integrity", "node_modules", "pw", "index.js"), M);
});
"#;

/// yarn 1 starts scripts with node's `shell: true`, always `/bin/sh`: the
/// preload library runs them under the hook wrapper. Was a bypass (round 4).
#[test]
fn a_yarn_dependency_script_cannot_poison_yarns_cache() {
    let name = "pw-yarncache";
    let (registry, env) = probe_case(name, YARN_CACHE);
    let cache = env.home.path().join(".cache/yarn");
    for mode in ["protect", "block"] {
        let (r, result, _) = install_in(&env, &registry, "yarn", mode, deps(name), name, &[]);
        assert_yarn_cache_held(&r, &result, &cache, name, mode);
    }
}

/// [`YARN_CACHE`] ran, each of its writes was refused, the cache holds
/// none of them, and the attempt was reported.
fn assert_yarn_cache_held(r: &Installed, result: &Value, cache: &Path, name: &str, mode: &str) {
    assert!(
        result["entries"].as_u64() > Some(0),
        "{mode}: the script did not run or yarn did not cache: {result:#}\n{}",
        r.stderr
    );
    for k in ["rewrite_cached", "new_cached"] {
        assert_ne!(result[k], "ok", "{mode}: {k}: {result:#}");
    }
    assert_unpoisoned_and_reported(r, result, cache, name, mode);
}

/// What the yarn fix was not written for: a `preinstall` that is `node -e`
/// itself, and an `install` that starts its work again through `env` with
/// neither the preload library nor the wrapper's mark (a shell that then
/// does not know it is confined). The domain is inherited all the same.
/// The user's environment carries a stale mark (say, from a shell started
/// by a script): only the wrapper's counts.
#[test]
fn a_yarn_dependency_script_restarted_without_the_library_stays_confined() {
    let name = "pw-yarnvariant";
    let pre = "node -e \"const fs=require('fs'),p=require('path');\
const d=p.join(process.env.HOME,'.cache','yarn','v6','npm-pw-pre-1.0.0-integrity','node_modules','pw');\
let r='ok';try{fs.mkdirSync(d,{recursive:true});fs.writeFileSync(p.join(d,'index.js'),['PW','POISON'].join(''))}\
catch(e){r=e.code}fs.writeFileSync('pre.json',JSON.stringify(r))\"";
    let script = format!("{PRELUDE}{JS_FILES}{YARN_CACHE}{EPILOGUE}");
    let pkg = NpmPackage::new(
        serde_json::json!({
            "name": name, "version": "1.0.0", "license": "MIT",
            "scripts": {
                "preinstall": pre,
                "install": "env -u LD_PRELOAD -u PKGWARDEN_HOOKED -u PKGWARDEN_NEST /bin/sh -c 'node probe.js'"
            }
        }),
        &[
            ("probe.js", script.as_bytes()),
            ("index.js", b"module.exports = 1;\n"),
        ],
    );
    let registry = NpmRegistry::start_with(vec![pkg]);
    let env = ShimEnv::new(&[]);
    let cache = env.home.path().join(".cache/yarn");
    for mode in ["protect", "block"] {
        let stale = [("PKGWARDEN_HOOKED", "1".to_string())];
        let (r, result, project) =
            install_in(&env, &registry, "yarn", mode, deps(name), name, &stale);
        let pre = fs::read_to_string(project.join("node_modules").join(name).join("pre.json"))
            .unwrap_or_default();
        assert!(
            !pre.is_empty(),
            "{mode}: preinstall did not run\n{}",
            r.stderr
        );
        assert_ne!(pre, "\"ok\"", "{mode}: preinstall");
        assert_yarn_cache_held(&r, &result, &cache, name, mode);
    }
}

/// The benign twin: a dependency's postinstall that writes its own
/// directory, the private TMPDIR and a tool cache, and the root project's
/// husky-style `prepare` (a git hook in the project) stay quiet under yarn
/// 1; in block (no tool cache there), the root's `postinstall` writes into
/// `node_modules`.
#[test]
fn yarn_scripts_writing_their_own_places_stay_quiet() {
    let name = "pw-yarnbenign";
    const BENIGN: &str = r#"
t("own", () => fs.writeFileSync("built.txt", "built"));
t("tmp", () => fs.writeFileSync(path.join(require("os").tmpdir(), "pw-build"), "x"));
t("tool_cache", () => {
  fs.mkdirSync(path.join(home, ".cache", "puppeteer", "chrome"), {recursive: true});
  fs.writeFileSync(path.join(home, ".cache", "puppeteer", "chrome", "v"), "1");
});
"#;
    let (registry, env) = probe_case(name, BENIGN);
    // A git checkout, as husky expects.
    fs::create_dir_all(env.home.subdir("proj").join(".git/hooks")).unwrap();
    let hook = "require('fs').writeFileSync('.git/hooks/pre-commit','#!/bin/sh\\nexit 0\\n')";
    for mode in ["protect", "block"] {
        let mut manifest = deps(name);
        manifest["scripts"] = match mode {
            "protect" => serde_json::json!({"prepare": format!("node -e \"{hook}\"")}),
            _ => {
                serde_json::json!({"postinstall": "node -e \"require('fs').writeFileSync('node_modules/.pw-root', 'x')\""})
            }
        };
        let (r, result, project) = install_in(&env, &registry, "yarn", mode, manifest, name, &[]);
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        // Block keeps the install itself out of `~/.cache` (the plan's roots).
        let wrote: &[&str] = match mode {
            "protect" => &["own", "tmp", "tool_cache"],
            _ => &["own", "tmp"],
        };
        for k in wrote {
            assert_eq!(result[k], "ok", "{mode}: {k}: {result:#}\n{}", r.stderr);
        }
        assert!(
            project
                .join("node_modules")
                .join(name)
                .join("built.txt")
                .is_file(),
            "{mode}"
        );
        let root = match mode {
            "protect" => project.join(".git/hooks/pre-commit"),
            _ => project.join("node_modules/.pw-root"),
        };
        assert!(
            root.is_file(),
            "{mode}: the root's script did not run\n{}",
            r.stderr
        );
        assert!(r.serious().is_empty(), "{mode}: {:#?}", r.serious());
        assert!(
            r.findings("sandbox.unnested").is_empty(),
            "{mode}: {:#}",
            r.report["findings"]
        );
        // Both scripts ran under the wrapper, each counted once.
        let pc = &r.report["sandbox"]["package_code"];
        assert_eq!(pc["runs"], 2, "{mode}: {pc:#}");
        assert_eq!(pc["nested"], 2, "{mode}: {pc:#}");
    }
}

/// A nested `yarn install` in a dependency's script (into its private
/// TMPDIR): its own scripts inherit the script's domain, and it works with
/// the private cache the wrapper names (`YARN_CACHE_FOLDER`).
const NESTED_YARN: &str = r#"
const cp = require("child_process"), os = require("os");
const d = path.join(os.tmpdir(), "pw-nested");
fs.mkdirSync(d, {recursive: true});
const rc = fs.readFileSync("../../.yarnrc", "utf8").split("\n").filter((l) => l.startsWith("registry"));
fs.writeFileSync(path.join(d, ".yarnrc"), rc.join("\n") + "\n");
fs.writeFileSync(path.join(d, "package.json"), JSON.stringify({
  name: "nested", version: "1.0.0", license: "MIT", dependencies: {"pw-leaf": "1.0.0"},
}));
const out = cp.spawnSync("yarn", ["install", "--non-interactive", "--no-lockfile"], {cwd: d, encoding: "utf8"});
r.nested = out.status;
r.nested_err = String(out.stderr).slice(-1500);
const leaf = path.join(d, "node_modules", "pw-leaf", "leaf.json");
r.leaf = fs.existsSync(leaf) ? JSON.parse(fs.readFileSync(leaf, "utf8")) : "missing";
"#;

/// The nested install's dependency: writes its own directory, tries yarn's
/// real cache.
const LEAF: &str = r#"
const fs = require("fs"), path = require("path");
const r = {};
try {
  const d = path.join(process.env.HOME, ".cache", "yarn", "v6", "npm-pw-leaf-x-integrity");
  fs.mkdirSync(d, {recursive: true});
  fs.writeFileSync(path.join(d, "index.js"), ["PW", "POISON"].join(""));
  r.cache = "ok";
} catch (e) { r.cache = e.code; }
fs.writeFileSync("leaf.json", JSON.stringify(r));
"#;

#[test]
fn a_nested_yarn_install_in_a_yarn_script_works_and_stays_confined() {
    let name = "pw-yarnnested";
    let leaf = NpmPackage::new(
        serde_json::json!({
            "name": "pw-leaf", "version": "1.0.0", "license": "MIT",
            "scripts": {"postinstall": "node leaf.js"}
        }),
        &[
            ("leaf.js", LEAF.as_bytes()),
            ("index.js", b"module.exports = 1;\n"),
        ],
    );
    let registry = NpmRegistry::start_with(vec![probe(name, NESTED_YARN), leaf]);
    let env = ShimEnv::new(&[]);
    let cache = env.home.path().join(".cache/yarn");
    let (r, result, _) = install_in(&env, &registry, "yarn", "protect", deps(name), name, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(result["nested"], 0, "{result:#}\n{}", r.stderr);
    assert!(result["leaf"].is_object(), "{result:#}");
    assert_ne!(result["leaf"]["cache"], "ok", "{result:#}");
    assert_eq!(
        files_holding(&cache, "PWPOISON"),
        Vec::<PathBuf>::new(),
        "{result:#}"
    );
}

/// Configuration a later install reads, planted to move its cache (or its
/// registry) somewhere package code may write: the project's `.npmrc`,
/// the user's, npm's global one under the prefix, pnpm's rc in
/// `XDG_CONFIG_HOME`, yarn's `.yarnrc` in HOME and the project.
const CONFIG: &str = r#"
const line = "cache=" + path.join(home, ".cache", "pw-npm") + "\n# " + M + "\n";
const places = {
  project_npmrc: path.resolve("../../.npmrc"),
  user_npmrc: path.join(home, ".npmrc"),
  global_npmrc: path.join(home, ".npm-global", "etc", "npmrc"),
  pnpm_rc: path.join(home, ".config", "pnpm", "rc"),
  user_yarnrc: path.join(home, ".yarnrc"),
  project_yarnrc: path.resolve("../../.yarnrc"),
};
for (const [k, p] of Object.entries(places)) {
  t(k, () => { fs.mkdirSync(path.dirname(p), {recursive: true}); fs.appendFileSync(p, line); });
}
"#;

/// Held: a dependency's script can leave no configuration that a later
/// install reads (its writes are its own directory, the private TMPDIR
/// and `~/.cache`, where no manager reads its configuration).
#[test]
fn a_dependency_script_cannot_leave_configuration_for_a_later_install() {
    let name = "pw-config";
    let (registry, env) = probe_case(name, CONFIG);
    let home = env.home.path();
    for mode in ["protect", "block"] {
        let (r, result, project) = install_in(&env, &registry, "npm", mode, deps(name), name, &[]);
        assert!(
            !result.is_null(),
            "{mode}: the script did not run\n{}",
            r.stderr
        );
        for k in [
            "project_npmrc",
            "user_npmrc",
            "global_npmrc",
            "pnpm_rc",
            "user_yarnrc",
            "project_yarnrc",
        ] {
            assert_ne!(result[k], "ok", "{mode}: {k}: {result:#}");
        }
        for p in [
            project.join(".npmrc"),
            home.join(".npmrc"),
            home.join(".npm-global/etc/npmrc"),
            home.join(".config/pnpm/rc"),
            home.join(".yarnrc"),
            project.join(".yarnrc"),
        ] {
            let text = fs::read_to_string(&p).unwrap_or_default();
            assert!(!text.contains("PWPOISON"), "{mode}: {}", p.display());
        }
    }
}
