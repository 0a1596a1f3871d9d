//! Round 9: an attacker who knows their package is in the offline feed
//! (`pkgwarden intel import`) and has read how the proxy reads archive
//! paths. The check judged a path only in the install's own ecosystem and
//! compared versions as strings. Real npm and pip, loopback registries,
//! inert fixtures: nothing runs from the flagged archives (they are only
//! asked for), markers stay in the test's temporary HOME. Root and
//! unprivileged.

use crate::support;

use serde_json::{Value, json};
use std::fs;
use support::installs::{Installed, install, npm_install};
use support::intel::{import, record};
use support::*;

/// A dependency whose postinstall asks the proxy (the `http_proxy` the
/// sandbox gives it, as a nested `pip install`, `gem install` or `npm
/// install` would) for each of `urls`, and records each status in
/// `result.json`.
fn fetcher(urls: &[String]) -> NpmPackage {
    let script = r#"
const http = require("http"), fs = require("fs");
const p = new URL(process.env.http_proxy || process.env.HTTP_PROXY);
const auth = "Basic " + Buffer.from(decodeURIComponent(p.username) + ":" + decodeURIComponent(p.password)).toString("base64");
const urls = JSON.parse(fs.readFileSync("urls.json", "utf8")), r = {};
let left = urls.length;
const done = () => { if (--left === 0) fs.writeFileSync("result.json", JSON.stringify(r)); };
for (const u of urls) {
  const q = http.request({host: p.hostname, port: p.port, path: u,
    headers: {"Proxy-Authorization": auth, Host: new URL(u).host}},
    res => { r[u] = res.statusCode; res.resume(); res.on("end", done); });
  q.on("error", e => { r[u] = e.code || String(e); done(); });
  q.end();
}
"#;
    NpmPackage::new(
        json!({"name": "pw-fetch", "version": "1.0.0", "license": "MIT",
               "scripts": {"postinstall": "node fetch.js"}}),
        &[
            ("fetch.js", script.as_bytes()),
            ("urls.json", serde_json::to_string(urls).unwrap().as_bytes()),
            ("index.js", b"module.exports = 1;\n"),
        ],
    )
}

fn known(r: &Installed) -> Vec<String> {
    r.findings("intel.known-malicious")
        .iter()
        .map(|f| f["evidence"]["detail"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The feed names a PyPI wheel, a gem and an npm tarball; an npm install's
/// lifecycle script fetches each from the install's own registry host (a
/// single-host mirror serving every ecosystem, as Nexus or Artifactory
/// do). The check read every path as npm, the install's ecosystem, so the
/// wheel and the gem were asked of the registry. An archive is judged by
/// every ecosystem whose archive it can be.
#[test]
fn an_archive_of_another_ecosystem_is_checked_against_the_feed() {
    for mode in ["protect", "block"] {
        let registry = NpmRegistry::start_with(vec![]);
        let base = registry.base_url();
        let urls = vec![
            format!("{base}/repository/pypi/packages/pw_evil-1.0-py3-none-any.whl"),
            format!("{base}/repository/pypi/packages/pw-evil-sdist-2.0.tar.gz"),
            format!("{base}/repository/gems/gems/pw-evil-gem-3.0.gem"),
            format!("{base}/repository/npm/pw-evil-npm/-/pw-evil-npm-4.0.0.tgz"),
        ];
        registry.add(fetcher(&urls));
        let env = ShimEnv::new(&[]);
        import(
            &env,
            &[
                record("MAL-R9-1", "PyPI", "pw-evil", &["1.0"]),
                record("MAL-R9-2", "PyPI", "pw.evil.sdist", &["2.0"]),
                record("MAL-R9-3", "RubyGems", "pw-evil-gem", &["3.0"]),
                record("MAL-R9-4", "npm", "pw-evil-npm", &["4.0.0"]),
            ],
        );
        let project = env.home.subdir("proj");
        let r = npm_install(&env, mode, &registry, &project, "pw-fetch", &[]);
        let result: Value = serde_json::from_slice(
            &fs::read(project.join("node_modules/pw-fetch/result.json")).unwrap_or_default(),
        )
        .unwrap_or(Value::Null);
        let asked: Vec<String> = registry
            .requests()
            .iter()
            .map(|q| q.path.clone())
            .filter(|p| p.starts_with("/repository/"))
            .collect();
        assert!(
            asked.is_empty(),
            "{mode}: the registry was asked for flagged archives: {asked:?}\nresult: {result}\n{}",
            r.stderr
        );
        let details = known(&r);
        for id in ["MAL-R9-1", "MAL-R9-2", "MAL-R9-3", "MAL-R9-4"] {
            assert!(
                details.iter().any(|d| d.contains(id)),
                "{mode}: no finding for {id}: {details:?}"
            );
        }
        assert_eq!(r.code, 90, "{mode}: blocked exit code\n{}", r.stderr);
    }
}

/// The feed lists the PyPI release as `1.0`; the index serves the wheel as
/// `pwdemo-1.0.0-….whl`. PEP 440 makes them one version (PyPI files an
/// upload of `1.0.0` under an existing `1.0` release), but the check
/// compared the strings. Versions are compared in their canonical form.
#[test]
fn a_python_version_spelled_another_way_is_the_same_version() {
    for mode in ["protect", "block"] {
        let index = PypiIndex::start(&["pwdemo"]);
        let env = ShimEnv::new(&[]);
        import(&env, &[record("MAL-R9-5", "PyPI", "PwDemo", &["1.0"])]);
        let venv = venv(&env.home);
        let pip = venv_bin(&venv, "pip");
        let r = install(
            &env,
            mode,
            &[
                pip.to_str().unwrap(),
                "install",
                "--no-cache-dir",
                "--index-url",
                &index.index_url(),
                "pwdemo",
            ],
            env.home.path(),
            &[],
        );
        assert!(
            !index
                .requests()
                .iter()
                .any(|q| q.path.starts_with("/files/pwdemo/")),
            "{mode}: the wheel was asked for: {:?}",
            index.requests()
        );
        assert!(
            known(&r).iter().any(|d| d.contains("MAL-R9-5")),
            "{mode}: {:?}",
            known(&r)
        );
        assert_eq!(r.code, 90, "{mode}\n{}", r.stderr);
    }
}

/// The benign twin: the same lifecycle fetches and install with a feed
/// that names other versions stay quiet (no finding of medium or more in
/// block, exit 0).
#[test]
fn archives_the_feed_does_not_name_pass_from_any_ecosystem() {
    let registry = NpmRegistry::start_with(vec![]);
    let base = registry.base_url();
    let urls = vec![
        format!("{base}/repository/pypi/packages/pw_evil-1.0.1-py3-none-any.whl"),
        format!("{base}/repository/gems/gems/pw-evil-gem-3.0.1.gem"),
        format!("{base}/repository/npm/pw-evil-npm/-/pw-evil-npm-4.0.1.tgz"),
    ];
    registry.add(fetcher(&urls));
    let env = ShimEnv::new(&[]);
    import(
        &env,
        &[
            record("MAL-R9-1", "PyPI", "pw-evil", &["1.0"]),
            record("MAL-R9-3", "RubyGems", "pw-evil-gem", &["3.0"]),
            record("MAL-R9-4", "npm", "pw-evil-npm", &["4.0.0"]),
        ],
    );
    let project = env.home.subdir("proj");
    let r = npm_install(&env, "block", &registry, &project, "pw-fetch", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(known(&r).is_empty(), "{:?}", known(&r));
    assert!(r.serious().is_empty(), "{:#?}", r.serious());
    let asked = registry
        .requests()
        .iter()
        .filter(|q| q.path.starts_with("/repository/"))
        .count();
    assert_eq!(asked, 3, "{:?}", registry.requests());
}

/// `pwapp@1.0.0`, which depends on `pwdep@^1.0.0`.
fn app_and_dep() -> NpmRegistry {
    let dep = NpmPackage::new(
        json!({"name": "pwdep", "version": "1.0.0", "license": "MIT"}),
        &[("index.js", b"module.exports = 1;\n")],
    );
    let app = NpmPackage::new(
        json!({"name": "pwapp", "version": "1.0.0", "license": "MIT",
               "dependencies": {"pwdep": "^1.0.0"}}),
        &[("index.js", b"module.exports = require('pwdep');\n")],
    );
    NpmRegistry::start_with(vec![dep, app])
}

/// The flagged version was installed before the feed named it, so npm's
/// cache holds its tarball; the next install takes it from there and the
/// proxy never sees a download to refuse. What the install put in place
/// is checked against the feed too.
#[test]
fn a_flagged_package_taken_from_the_managers_cache_is_still_found() {
    for mode in ["protect", "block"] {
        let registry = app_and_dep();
        let env = ShimEnv::new(&[]);
        let first = env.home.subdir("first");
        let r = npm_install(&env, mode, &registry, &first, "pwapp", &[]);
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        import(&env, &[record("MAL-R9-6", "npm", "pwdep", &["1.0.0"])]);
        let project = env.home.subdir("proj");
        let r = npm_install(&env, mode, &registry, &project, "pwapp", &[]);
        let tarballs = registry
            .requests()
            .iter()
            .filter(|q| q.path.contains("/pwdep/-/"))
            .count();
        assert!(
            known(&r).iter().any(|d| d.contains("MAL-R9-6")),
            "{mode}: no intel finding; pwdep's tarball was asked {tarballs} times\n{}",
            r.stderr
        );
        assert_eq!(r.code, 90, "{mode}\n{}", r.stderr);
    }
}

/// The same for a wheel installed from a local file: nothing is
/// downloaded, so only what the install put in place (its `.dist-info`)
/// tells which package it is.
#[test]
fn a_flagged_wheel_installed_from_a_file_is_found() {
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        import(&env, &[record("MAL-R9-7", "PyPI", "PwDemo", &["1.0"])]);
        let wheel = support::pypi::build_wheel(&PipFixture::load("pwdemo"));
        let file = env.home.path().join(&wheel.filename);
        fs::write(&file, &wheel.bytes).unwrap();
        let venv = venv(&env.home);
        let pip = venv_bin(&venv, "pip");
        let r = install(
            &env,
            mode,
            &[
                pip.to_str().unwrap(),
                "install",
                "--no-index",
                file.to_str().unwrap(),
            ],
            env.home.path(),
            &[],
        );
        assert!(
            known(&r).iter().any(|d| d.contains("MAL-R9-7")),
            "{mode}: {:?}\n{}",
            known(&r),
            r.stderr
        );
        assert_eq!(r.code, 90, "{mode}\n{}", r.stderr);
    }
}

/// A dependency whose postinstall opens a `CONNECT` tunnel to the
/// registry's own host and port (allowed: it is the registry) and asks
/// plain HTTP inside it for each of `paths`, recording each status line.
fn tunneller(registry: &NpmRegistry, paths: &[&str]) -> NpmPackage {
    let script = r#"
const http = require("http"), fs = require("fs");
const p = new URL(process.env.http_proxy || process.env.HTTP_PROXY);
const auth = "Basic " + Buffer.from(decodeURIComponent(p.username) + ":" + decodeURIComponent(p.password)).toString("base64");
const [target, paths] = JSON.parse(fs.readFileSync("target.json", "utf8"));
const r = {};
const q = http.request({host: p.hostname, port: p.port, method: "CONNECT", path: target,
  headers: {"Proxy-Authorization": auth, Host: target}});
q.on("connect", (res, socket) => {
  r.connect = res.statusCode;
  let got = "";
  socket.on("data", d => { got += d.toString("latin1"); });
  socket.on("close", () => { r.lines = got.split("\r\n").filter(l => l.startsWith("HTTP/1.1 ")); fs.writeFileSync("result.json", JSON.stringify(r)); });
  socket.on("error", e => { r.error = e.code; });
  paths.forEach((path, i) => socket.write("GET " + path + " HTTP/1.1\r\nHost: " + target +
    (i === paths.length - 1 ? "\r\nConnection: close" : "") + "\r\n\r\n"));
});
q.on("error", e => { r.error = e.code; fs.writeFileSync("result.json", JSON.stringify(r)); });
q.end();
"#;
    let target = format!("127.0.0.1:{}", registry.port());
    NpmPackage::new(
        json!({"name": "pw-tunnel", "version": "1.0.0", "license": "MIT",
               "scripts": {"postinstall": "node tunnel.js"}}),
        &[
            ("tunnel.js", script.as_bytes()),
            ("target.json", json!([target, paths]).to_string().as_bytes()),
            ("index.js", b"module.exports = 1;\n"),
        ],
    )
}

/// Plain HTTP inside a `CONNECT` tunnel to the registry's own host:port
/// reached the registry unread: the check reads only absolute-form
/// requests. With a feed imported, a tunnel whose client speaks plain HTTP
/// is served request by request like any plain request (checked,
/// recorded); a flagged archive is refused, the others pass.
#[test]
fn plain_http_inside_a_tunnel_to_the_registry_is_checked() {
    for mode in ["protect", "block"] {
        let registry = app_and_dep();
        registry.add(tunneller(
            &registry,
            &[
                "/pwapp",
                "/pwdep/-/pwdep-1.0.0.tgz",
                "/pwapp/-/pwapp-1.0.0.tgz",
            ],
        ));
        let env = ShimEnv::new(&[]);
        import(&env, &[record("MAL-R9-8", "npm", "pwdep", &["1.0.0"])]);
        let project = env.home.subdir("proj");
        let r = npm_install(&env, mode, &registry, &project, "pw-tunnel", &[]);
        let result: Value = serde_json::from_slice(
            &fs::read(project.join("node_modules/pw-tunnel/result.json")).unwrap_or_default(),
        )
        .unwrap_or(Value::Null);
        assert!(
            !registry
                .requests()
                .iter()
                .any(|q| q.path.contains("/pwdep/-/")),
            "{mode}: the flagged tarball was asked through the tunnel: {result}\n{:?}",
            registry.requests()
        );
        assert!(
            known(&r).iter().any(|d| d.contains("MAL-R9-8")),
            "{mode}: {:?}\n{result}\n{}",
            known(&r),
            r.stderr
        );
        // The other requests of the same tunnel were served.
        assert!(
            registry.tarball_fetched("pwapp", "1.0.0"),
            "{mode}: {result}\n{:?}",
            registry.requests()
        );
        assert_eq!(r.code, 90, "{mode}\n{}", r.stderr);
    }
}

/// The root project's postinstall runs `pw-tool`, which writes the git
/// hooks the project really runs: the directory its `.git/config` names
/// as `core.hooksPath` (husky 9's `.husky/_` sources `.husky/<hook>`), and
/// pre-commit's configuration (its `repo: local` hooks run at the next
/// commit).
const INTO_THE_HOOKS_PATH: &str = r##"
const proj = process.cwd();
t("husky", () => fs.writeFileSync(path.join(proj, ".husky", "pre-commit"), "echo " + M + "\n"));
t("githooks", () => fs.writeFileSync(path.join(proj, ".githooks", "pre-commit"), "#!/bin/sh\necho " + M + "\n", {mode: 0o755}));
t("precommit", () => fs.appendFileSync(path.join(proj, ".pre-commit-config.yaml"), "\n# " + M + "\n"));
t("elsewhere", () => fs.writeFileSync(path.join(proj, "src", "pw.txt"), M + "\n"));
"##;

/// pnpm's `Files(project)` grant reaches every existing directory of the
/// project; leftovers9 split the root scripts' domain around the fixed
/// persistence places only, so a dependency's bin run by the root
/// postinstall wrote the hooks git really runs: the `core.hooksPath`
/// directory, husky's `.husky/`, pre-commit's configuration (block and
/// protect, exit 0, no finding). Now the repository's hook directory and
/// the hook managers' sources are persistence places too (npm held
/// already: its root scripts do not write the project).
#[test]
fn root_scripts_write_no_hook_the_project_really_runs() {
    use support::probes::{deps, install_in, root_tool};
    let registry = NpmRegistry::start_with(vec![root_tool(INTO_THE_HOOKS_PATH)]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    for d in [".git/hooks", ".husky/_", ".githooks", "src"] {
        fs::create_dir_all(project.join(d)).unwrap();
    }
    let config = "[core]\n\tbare = false\n\thooksPath = .githooks\n";
    fs::write(project.join(".git/config"), config).unwrap();
    let precommit = "repos: []\n";
    fs::write(project.join(".pre-commit-config.yaml"), precommit).unwrap();
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = json!({"postinstall": "pw-tool"});
    for manager in ["pnpm", "npm"] {
        for mode in ["block", "protect"] {
            let what = format!("{manager} {mode}");
            let (r, result) = install_in(
                &env, &registry, manager, mode, &project, &manifest, "pw-tool",
            );
            assert!(
                !result.is_null(),
                "{what}: pw-tool did not run\n{}",
                r.stderr
            );
            if manager == "pnpm" {
                // The control: the root project's script did write the project.
                assert_eq!(result["elsewhere"], "ok", "{what}: {result:#}");
            }
            for attempt in ["husky", "githooks", "precommit"] {
                assert_ne!(result[attempt], "ok", "{what}: {attempt}: {result:#}");
            }
            assert!(!project.join(".husky/pre-commit").exists(), "{what}");
            assert!(!project.join(".githooks/pre-commit").exists(), "{what}");
            assert_eq!(
                fs::read_to_string(project.join(".pre-commit-config.yaml")).unwrap(),
                precommit,
                "{what}"
            );
            if manager == "pnpm" && mode == "block" {
                // The attempt on the configured hook directory is named.
                let git: Vec<String> = r
                    .findings("persist.git")
                    .iter()
                    .map(|f| f["evidence"]["paths"].to_string())
                    .collect();
                assert!(
                    git.iter().any(|p| p.contains(".githooks/pre-commit")),
                    "{what}: {git:?}"
                );
            }
            let _ = fs::remove_file(project.join("src/pw.txt"));
        }
    }
}

/// `pw-tool` (run by the root project's postinstall) writes a hook into
/// the directory the user's global git config names as `core.hooksPath`
/// (`~/.githooks`: git runs it in every repository of the user), another
/// into the one the XDG config names relative to the repository, and a
/// file in another directory of HOME (the control: protect lets HOME's
/// directories be written).
const INTO_THE_USERS_HOOKS_PATH: &str = r##"
t("global", () => fs.writeFileSync(path.join(home, ".githooks", "pre-commit"), "#!/bin/sh\necho " + M + "\n", {mode: 0o755}));
t("relative", () => fs.writeFileSync(path.join(process.cwd(), ".hooks-rel", "post-checkout"), "#!/bin/sh\necho " + M + "\n", {mode: 0o755}));
t("elsewhere", () => fs.writeFileSync(path.join(home, "notes", "pw-elsewhere.txt"), M + "\n"));
"##;

/// A hook directory outside the project, named by the user's global git
/// config, was neither watched by the snapshot nor a persistence place:
/// protect let an install write `~/.githooks/pre-commit` with no finding.
/// Now it is kept out of protect's writable HOME and judged `persist.git`
/// (npm, the root project's script, protect and block).
#[test]
fn a_hook_written_into_the_users_global_hooks_path_is_persist_git() {
    use support::probes::{deps, install_in, root_tool};
    let registry = NpmRegistry::start_with(vec![root_tool(INTO_THE_USERS_HOOKS_PATH)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let project = env.home.subdir("proj");
    fs::create_dir_all(project.join(".git")).unwrap();
    fs::create_dir_all(project.join(".hooks-rel")).unwrap();
    for d in [".githooks", ".config/git", "notes"] {
        fs::create_dir_all(home.join(d)).unwrap();
    }
    fs::write(
        home.join(".gitconfig"),
        "[core]\n\thooksPath = ~/.githooks\n",
    )
    .unwrap();
    fs::write(
        home.join(".config/git/config"),
        "[core]\n\thooksPath = .hooks-rel\n",
    )
    .unwrap();
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = json!({"postinstall": "pw-tool"});
    for mode in ["protect", "block"] {
        let (r, result) = install_in(&env, &registry, "npm", mode, &project, &manifest, "pw-tool");
        assert!(
            !result.is_null(),
            "{mode}: pw-tool did not run\n{}",
            r.stderr
        );
        if mode == "protect" {
            assert_eq!(result["elsewhere"], "ok", "{mode}: {result:#}");
        }
        for attempt in ["global", "relative"] {
            assert_ne!(result[attempt], "ok", "{mode}: {attempt}: {result:#}");
        }
        assert!(!home.join(".githooks/pre-commit").exists(), "{mode}");
        assert!(!project.join(".hooks-rel/post-checkout").exists(), "{mode}");
        let git: Vec<String> = r
            .findings("persist.git")
            .iter()
            .map(|f| f["evidence"]["paths"].to_string())
            .collect();
        for hook in [".githooks/pre-commit", ".hooks-rel/post-checkout"] {
            assert!(
                git.iter().any(|p| p.contains(hook)),
                "{mode}: {hook}: {git:?}"
            );
        }
        let _ = fs::remove_file(home.join("notes/pw-elsewhere.txt"));
    }
}
