//! Helper `eyes14`: round 14 of the fresh-eyes attack (issue 9), at
//! d9e1ac4. Each test is one attempt with an inert fixture; markers stay in
//! the test's HOME; no network but the loopback registry or index the test
//! starts, and unix listeners the test binds in its HOME. A test marked
//! `ignore = "round 14: …"` fails on the binary it was written against.

use crate::support;

use serde_json::Value;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use support::*;

/// `npm install` of `manifest` in `project` from `registry`, with `vars`
/// set for pkgwarden: the report and `probe`'s `result.json` (Null when it
/// did not run).
fn npm_install_with(
    env: &ShimEnv,
    registry: &NpmRegistry,
    mode: &str,
    project: &Path,
    manifest: &Value,
    probe: &str,
    vars: &[(&str, String)],
) -> (support::installs::Installed, Value) {
    let _ = fs::remove_dir_all(project.join("node_modules"));
    let _ = fs::remove_file(project.join("package-lock.json"));
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let r = support::installs::install(
        env,
        mode,
        &["npm", "install", "--registry", &url],
        project,
        vars,
    );
    let result = fs::read(project.join("node_modules").join(probe).join("result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    (r, result)
}

/// Unix listeners at `socks` (name, path); the names of those a client
/// wrote a line containing "EYES14" to.
fn listen(socks: &[(&str, PathBuf)]) -> Arc<Mutex<Vec<String>>> {
    let heard = Arc::new(Mutex::new(Vec::<String>::new()));
    for (name, sock) in socks {
        fs::create_dir_all(sock.parent().unwrap()).unwrap();
        let listener = std::os::unix::net::UnixListener::bind(sock).unwrap();
        let heard = heard.clone();
        let name = name.to_string();
        // Never joined: it waits for a client that may not come.
        std::thread::spawn(move || {
            for mut c in listener.incoming().flatten() {
                let mut buf = [0u8; 64];
                let n = c.read(&mut buf).unwrap_or(0);
                let line = String::from_utf8_lossy(&buf[..n]).to_string();
                if line.contains("EYES14") {
                    heard
                        .lock()
                        .unwrap()
                        .push(format!("{name}: {}", line.trim()));
                }
            }
        });
    }
    heard
}

/// A dependency's postinstall that connects to every socket of the JSON
/// object in `$PW_SOCKS` (name → path) and writes a line: `r[name]` is `ok`
/// or the error code.
const CONNECT_PROBE: &str = r#"
const cp = require("child_process");
const socks = JSON.parse(process.env.PW_SOCKS || "{}");
const js = `const net = require("net"); const socks = ${JSON.stringify(socks)}; const out = {};
let left = Object.keys(socks).length;
const done = () => { if (--left === 0) process.stdout.write(JSON.stringify(out)); };
for (const [k, p] of Object.entries(socks)) {
  const s = net.connect(p, () => { s.write("EYES14 " + k + "\\n"); out[k] = "ok"; s.end(); done(); });
  s.on("error", e => { out[k] = e.code; done(); });
}`;
const got = JSON.parse(cp.execFileSync(process.execPath, ["-e", js], {timeout: 10000}).toString());
for (const [k, v] of Object.entries(got)) r[k] = v;
"#;

/// The names in `heard` whose socket no finding of medium or more names.
fn unseen(
    heard: &Arc<Mutex<Vec<String>>>,
    socks: &[(&str, PathBuf)],
    r: &support::installs::Installed,
) -> Vec<String> {
    let serious = r.serious();
    heard
        .lock()
        .unwrap()
        .iter()
        .filter(|line| {
            let name = line.split(':').next().unwrap();
            let p = &socks.iter().find(|(n, _)| *n == name).unwrap().1;
            !serious
                .iter()
                .any(|f| f.to_string().contains(&p.display().to_string()))
        })
        .cloned()
        .collect()
}

/// Round 13's fix for unix sockets is by place: protect connects only to
/// sockets below the install's own places, the plan's write roots, caches
/// and logs among them (`setup::unix_allowed`). The plan's log directory
/// comes from the project's `.npmrc` (`logs-dir`), a file of the cloned
/// repository: `logs-dir=${XDG_RUNTIME_DIR}` makes the user's runtime
/// directory one of the install's own places, and a dependency's
/// postinstall reaches the editors', terminals' and ssh agents' sockets
/// there (round 13's bypasses 2 and 5 again). A second install shows that
/// even a grant pkgwarden refuses (`logs-dir=~/.ssh`, a secret store, in
/// `refused_grants`) still counts as a place for sockets: `~/.ssh/agent.sock`.
#[test]
fn a_project_npmrc_makes_no_place_for_sockets() {
    use support::probes::{deps, probe};
    let registry = NpmRegistry::start_with(vec![probe("pw-sock", CONNECT_PROBE)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let run = home.join("run");
    let socks: Vec<(&str, PathBuf)> = vec![
        ("nvim", run.join("nvim.4242.0")),
        ("gcr_ssh", run.join("gcr/ssh")),
        ("ssh_agent", home.join(".ssh/agent.sock")),
    ];
    let heard = listen(&socks);
    let project = env.home.subdir("proj");
    let json = |s: &[(&str, PathBuf)]| {
        let m: serde_json::Map<String, Value> = s
            .iter()
            .map(|(k, p)| (k.to_string(), Value::from(p.display().to_string())))
            .collect();
        Value::Object(m).to_string()
    };
    let mut failures = Vec::new();
    for (npmrc, wanted) in [
        ("logs-dir=${XDG_RUNTIME_DIR}\n", &socks[..2]),
        ("logs-dir=~/.ssh\n", &socks[2..]),
    ] {
        fs::write(project.join(".npmrc"), npmrc).unwrap();
        heard.lock().unwrap().clear();
        let vars = [
            ("XDG_RUNTIME_DIR", run.display().to_string()),
            ("PW_SOCKS", json(wanted)),
        ];
        let (r, result) = npm_install_with(
            &env,
            &registry,
            "protect",
            &project,
            &deps(&["pw-sock"]),
            "pw-sock",
            &vars,
        );
        assert!(!result.is_null(), "pw-sock did not run\n{}", r.stderr);
        // The listeners read what was written before the install ended.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let missed = unseen(&heard, wanted, &r);
        if !missed.is_empty() {
            failures.push(format!(
                "{npmrc:?}: reached with no finding of medium or more: {missed:?}\n{result:#}\n{:#}",
                r.report["findings"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A bin the root project's postinstall runs: hard-links the socket
/// `~/app/app.sock` into its own package directory (below the write root
/// `node_modules`), into the private TMPDIR and into HOME, symlinks it (a
/// control), and connects to each name and to the socket itself (a
/// control).
const LINK_PROBE: &str = r#"
const cp = require("child_process");
const sock = path.join(home, "app", "app.sock");
const here = __dirname;
const tmp = require("os").tmpdir();
t("hardlink", () => fs.linkSync(sock, path.join(here, "hard.sock")));
t("hardlink_tmp", () => fs.linkSync(sock, path.join(tmp, "hard.sock")));
t("hardlink_home", () => fs.linkSync(sock, path.join(home, "hard.sock")));
t("symlink", () => fs.symlinkSync(sock, path.join(here, "soft.sock")));
const socks = {direct: sock, hard: path.join(here, "hard.sock"), hard_tmp: path.join(tmp, "hard.sock"), hard_home: path.join(home, "hard.sock"), soft: path.join(here, "soft.sock")};
const js = `const net = require("net"); const socks = ${JSON.stringify(socks)}; const out = {};
let left = Object.keys(socks).length;
const done = () => { if (--left === 0) process.stdout.write(JSON.stringify(out)); };
for (const [k, p] of Object.entries(socks)) {
  const s = net.connect(p, () => { s.write("EYES14 " + k + "\\n"); out[k] = "ok"; s.end(); done(); });
  s.on("error", e => { out[k] = e.code; done(); });
}`;
const got = JSON.parse(cp.execFileSync(process.execPath, ["-e", js], {timeout: 10000}).toString());
for (const [k, v] of Object.entries(got)) r["connect_" + k] = v;
"#;

/// Round 13's socket rule judges the socket file by the place its path
/// resolves to. A hard link is a second name for the same inode in
/// another place: in protect, HOME's writable tree, the write roots and
/// the private TMPDIR all carry landlock's `REFER` right for the root
/// project's scripts, so its postinstall links a socket of the user's
/// (`~/app/app.sock` here; 1Password's `~/.1password/agent.sock`,
/// Bitwarden's `~/.bitwarden-ssh-agent.sock`, podman machine's below
/// `~/.local/share/containers`, … in life) into `node_modules` or TMPDIR
/// and connects to that name: reached, no finding (the link is no write
/// pkgwarden reports; the direct connect and the symlink are refused,
/// high). A dependency's postinstall (nested domain) gets EXDEV for the
/// link.
#[test]
fn a_hard_link_does_not_bring_a_socket_into_the_install() {
    use support::probes::{deps, install_in, root_tool};
    let registry = NpmRegistry::start_with(vec![root_tool(LINK_PROBE)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let socks: Vec<(&str, PathBuf)> = vec![("app", home.join("app/app.sock"))];
    let heard = listen(&socks);
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    let (r, result) = install_in(
        &env, &registry, "npm", "protect", &project, &manifest, "pw-tool",
    );
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The direct connect is refused (the control); any line heard came
    // through a link.
    assert_eq!(result["connect_direct"], "EACCES", "{result:#}");
    let heard = heard.lock().unwrap().clone();
    assert!(
        heard.is_empty(),
        "~/app/app.sock reached through a hard link: {heard:?}\n{result:#}\n{:#}",
        r.report["findings"]
    );
}

/// Code other programs of the user's load later, outside the sandbox, that
/// no list of pkgwarden's names (`policy/installed_code.toml`,
/// `persistence.toml`): VS Code's extensions, Neovim's plugin manager's
/// plugins (lazy.nvim) and the Lua modules `init.lua` requires, Vim 8's
/// packages, Emacs' ELPA packages, uv's tool environments and the Pythons
/// uv installs, a Jupyter kernel's `kernel.json` (its `argv` is what a
/// notebook starts), a browser Playwright downloaded (a tool cache, run by
/// the user's tests), and a conda base environment's standard library.
const LOADED_LATER: &[&str] = &[
    ".vscode/extensions/eyes14.ext-1.0.0/out/extension.js",
    ".local/share/nvim/lazy/eyes14.nvim/lua/eyes14/init.lua",
    ".config/nvim/lua/config/options.lua",
    ".vim/pack/plugins/start/eyes14/plugin/eyes14.vim",
    ".emacs.d/elpa/eyes14-20240101.1000/eyes14.el",
    ".local/share/uv/tools/black/bin/black",
    ".local/share/uv/python/cpython-3.12.3-linux-x86_64-gnu/lib/python3.12/os.py",
    ".local/share/jupyter/kernels/python3/kernel.json",
    ".cache/ms-playwright/chromium-1105/chrome-linux/chrome",
    "miniconda3/lib/python3.11/os.py",
];

/// Class 3/4 (persistence, installed code). The root project's postinstall
/// (protect: HOME's writable tree) appends a line to each existing file of
/// [`LOADED_LATER`]: each is code (or a command line) another program of
/// the user's runs at its next start. Round 12's and 13's fixes list
/// package stores and start-up files by name; these are not among them.
/// Held on d9e1ac4 (EACCES, protect's start-up places): the Lua modules
/// below `~/.config/nvim`, Vim's `pack/`, Emacs' `elpa/`. Written with no
/// finding at all: the Jupyter kernel, the Playwright browser, conda's
/// `os.py`; with `hidden.script` medium only: the other four.
///
/// Fixed: each but the browser is an installed-code package
/// (`policy/installed_code.toml`), `tamper.installed-package` high.
#[test]
fn code_other_programs_load_later_is_not_changed_unseen() {
    use support::probes::{deps, install_in, root_tool};
    let body: String = LOADED_LATER
        .iter()
        .map(|p| {
            format!(
                "t({p:?}, () => fs.appendFileSync(path.join(home, {p:?}), \"\\n// \" + M + \"\\n\"));\n"
            )
        })
        .collect();
    let registry = NpmRegistry::start_with(vec![root_tool(&body)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    for p in LOADED_LATER {
        let f = home.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        if p.contains("/bin/") || p.ends_with("/chrome") {
            use std::os::unix::fs::PermissionsExt;
            fs::write(&f, "#!/bin/sh\n# installed\n").unwrap();
            fs::set_permissions(&f, fs::Permissions::from_mode(0o755)).unwrap();
        } else {
            fs::write(&f, "// installed\n").unwrap();
        }
    }
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    let (r, result) = install_in(
        &env, &registry, "npm", "protect", &project, &manifest, "pw-tool",
    );
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    let findings = r.report["findings"].as_array().cloned().unwrap_or_default();
    let mut landed = Vec::new();
    for p in LOADED_LATER {
        let f = home.join(p);
        let written = fs::read_to_string(&f)
            .unwrap_or_default()
            .contains("PWPOISON");
        let said: Vec<String> = findings
            .iter()
            .filter(|x| x.to_string().contains(&f.display().to_string()))
            .map(|x| format!("{} {}", x["rule"], x["severity"]))
            .collect();
        let high = said
            .iter()
            .any(|x| x.contains("high") || x.contains("critical"));
        // Left: a browser a tool cache holds is rewritten the same way by a
        // benign re-download (puppeteer's, a second install's), so it is
        // not judged as installed code.
        let known_left = p.starts_with(".cache/ms-playwright/");
        if written && !high && !known_left {
            landed.push(format!("{p} (findings: {said:?})"));
        }
    }
    assert!(
        landed.is_empty(),
        "written in protect with no high finding: {landed:#?}\n{result:#}"
    );
}

/// Installed code in the stores round 12's fix lists, at places its
/// patterns (`packages` in `policy/installed_code.toml`) do not cover, and
/// in stores of the same kind it does not list: RubyGems' gemspecs (Ruby
/// code `Gem::Specification.load` evaluates when RubyGems loads its
/// specifications) and Bundler's git checkouts beside `gems/`, a Go module
/// five components deep (the AWS SDK v2's `service/s3`), a crate's
/// sources when `~/.cargo` is a link to another disk, fnm's and Volta's
/// Node installs, a jar in Maven's and Gradle's caches.
const STORE_CODE: &[&str] = &[
    ".gem/ruby/3.1.0/specifications/rake-13.0.6.gemspec",
    ".gem/ruby/3.1.0/bundler/gems/rails-0123456789ab/railties/lib/rails.rb",
    "go/pkg/mod/github.com/aws/aws-sdk-go-v2/service/s3@v1.50.0/api_client.go",
    ".cargo/registry/src/index.crates.io-6f17d22bba15001f/serde-1.0.200/build.rs",
    ".local/share/fnm/node-versions/v20.11.0/installation/lib/node_modules/npm/index.js",
    ".volta/tools/image/node/20.11.0/lib/node_modules/npm/index.js",
    ".local/share/fnm/node-versions/v20.11.0/installation/bin/npx",
    ".volta/tools/image/node/20.11.0/bin/npx",
    ".m2/repository/org/example/lib/1.0/lib-1.0.jar",
    ".gradle/caches/modules-2/files-2.1/org.example/lib/1.0/0123abcd/lib-1.0.jar",
];

/// Class 4 (installed code), round 12's fix from its edges. The root
/// project's postinstall (protect) appends a line to each existing file of
/// [`STORE_CODE`] (with `~/.cargo` a link to `~/disk/cargo`, as a user
/// with a big cache on another disk has it). Each runs later, outside the
/// sandbox. A control, `~/.gem/ruby/3.1.0/gems/rake-13.0.6/lib/rake.rb`,
/// is `tamper.installed-package` high.
#[test]
fn store_code_at_the_patterns_edges_is_not_changed_unseen() {
    use support::probes::{deps, install_in, root_tool};
    let control = ".gem/ruby/3.1.0/gems/rake-13.0.6/lib/rake.rb";
    let all: Vec<&str> = STORE_CODE.iter().copied().chain([control]).collect();
    let body: String = all
        .iter()
        .map(|p| {
            format!(
                "t({p:?}, () => fs.appendFileSync(path.join(home, {p:?}), \"\\n# \" + M + \"\\n\"));\n"
            )
        })
        .collect();
    let registry = NpmRegistry::start_with(vec![root_tool(&body)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    fs::create_dir_all(home.join("disk/cargo")).unwrap();
    std::os::unix::fs::symlink(home.join("disk/cargo"), home.join(".cargo")).unwrap();
    for p in &all {
        let f = home.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        if p.contains("/bin/") {
            use std::os::unix::fs::PermissionsExt;
            fs::write(&f, "#!/usr/bin/env node\n// installed\n").unwrap();
            fs::set_permissions(&f, fs::Permissions::from_mode(0o755)).unwrap();
        } else {
            fs::write(&f, "# installed\n").unwrap();
        }
    }
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    let (r, result) = install_in(
        &env, &registry, "npm", "protect", &project, &manifest, "pw-tool",
    );
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    let findings = r.report["findings"].as_array().cloned().unwrap_or_default();
    let said = |f: &Path| -> Vec<String> {
        let real = f.canonicalize().unwrap_or(f.to_path_buf());
        findings
            .iter()
            .filter(|x| {
                let s = x.to_string();
                s.contains(&f.display().to_string()) || s.contains(&real.display().to_string())
            })
            .map(|x| format!("{} {}", x["rule"], x["severity"]))
            .collect()
    };
    let high = |s: &[String]| {
        s.iter()
            .any(|x| x.contains("high") || x.contains("critical"))
    };
    let ctl = said(&home.join(control));
    assert!(high(&ctl), "the control is not high: {ctl:?}\n{result:#}");
    let mut landed = Vec::new();
    for p in STORE_CODE {
        let f = home.join(p);
        let written = fs::read_to_string(&f)
            .unwrap_or_default()
            .contains("PWPOISON");
        let s = said(&f);
        if written && !high(&s) {
            landed.push(format!("{p} (findings: {s:?})"));
        }
    }
    assert!(
        landed.is_empty(),
        "written in protect with no high finding: {landed:#?}\n{result:#}"
    );
}

/// A dependency whose postinstall leaves `~/eyes14-ran/<n>` (the
/// command that installed it, from `$PW_CMD`); refused in a sandbox, it
/// says nothing.
fn marking(name: &str) -> NpmPackage {
    NpmPackage::new(
        serde_json::json!({
            "name": name, "version": "1.0.0", "license": "MIT",
            "scripts": {"postinstall": "node mark.js"}
        }),
        &[(
            "mark.js",
            b"const fs = require('fs'), path = require('path');\nconst d = path.join(process.env.HOME, 'eyes14-ran');\ntry {\n  fs.mkdirSync(d, {recursive: true});\n  fs.writeFileSync(path.join(d, process.env.PW_CMD || 'unknown'), 'ran\\n');\n} catch (e) {}\n",
        )],
    )
}

/// Issue 9 focus: the shim (`passthrough::decide`, the full binary's own
/// classification). A fresh clone has its lockfile and no `node_modules`
/// (here: made by a monitored `install` through the shim, then
/// `node_modules` removed); removing one
/// dependency (`npm uninstall`, `yarn remove`, `pnpm remove`) or pruning
/// (`npm prune`) reifies the rest of the tree: every other dependency is
/// fetched and its install scripts run. The shim classifies these as
/// non-installs and execs the real manager: the dependency's postinstall
/// runs with no sandbox and no report.
#[test]
fn removing_one_dependency_does_not_install_the_rest_unmonitored() {
    let registry = NpmRegistry::start_with(vec![marking("pw-mark"), marking("pw-gone")]);
    let env = ShimEnv::new(&[]);
    let url = registry.registry_url();
    let mut ran = Vec::new();
    for (tag, manager, args) in [
        ("npm-uninstall", "npm", vec!["uninstall", "pw-gone"]),
        ("npm-prune", "npm", vec!["prune"]),
        ("yarn-remove", "yarn", vec!["remove", "pw-gone"]),
        ("pnpm-remove", "pnpm", vec!["remove", "pw-gone"]),
    ] {
        let project = env.home.subdir(tag);
        fs::write(
            project.join("package.json"),
            serde_json::json!({
                "name": tag, "version": "1.0.0",
                "dependencies": {"pw-mark": "1.0.0", "pw-gone": "1.0.0"},
                "pnpm": {"onlyBuiltDependencies": ["pw-mark", "pw-gone"]}
            })
            .to_string(),
        )
        .unwrap();
        fs::write(project.join(".npmrc"), format!("registry={url}\n")).unwrap();
        fs::write(project.join(".yarnrc"), format!("registry \"{url}\"\n")).unwrap();
        // The clone: its lockfile, made by a monitored install, and no
        // node_modules (yarn 1 removes only with a lockfile).
        let mut install = env.shim(manager);
        install
            .arg("install")
            .current_dir(&project)
            .env("PW_CMD", "clone")
            .env("npm_config_registry", &url)
            // pnpm would keep the build's result and not run it again.
            .env("npm_config_side_effects_cache", "false");
        assert_success(&run(&mut install), &format!("{manager} install"));
        fs::remove_dir_all(project.join("node_modules")).unwrap();
        let before = env.report_files();
        let mut cmd = env.shim(manager);
        cmd.args(&args)
            .current_dir(&project)
            .env("PW_CMD", tag)
            .env("npm_config_registry", &url)
            .env("npm_config_side_effects_cache", "false");
        let out = run(&mut cmd);
        let marker = env.home.path().join("eyes14-ran").join(tag);
        let reports = env.report_files().len() - before.len();
        // fix14: monitored, and it still works there.
        assert_success(&out, &format!("{manager} {}", args.join(" ")));
        if marker.exists() && reports == 0 {
            ran.push(format!(
                "{manager} {}: pw-mark's postinstall ran, no report (exit {:?})",
                args.join(" "),
                out.status.code()
            ));
        }
    }
    assert!(ran.is_empty(), "{ran:#?}");
}

/// An sdist's setup.py that leaves `~/eyes14-ran/<$PW_CMD>` when it can.
const MARK_SETUP: &str = r#"import os
d = os.path.join(os.environ["HOME"], "eyes14-ran")
try:
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, os.environ.get("PW_CMD", "unknown")), "w") as f:
        f.write("ran\n")
except OSError:
    pass
from setuptools import setup
setup(name="pwrun", version="1.0.0", packages=["pwrun"])
"#;

/// Issue 9 focus: the shim and `python` shapes. `classify_python` counts
/// only `-m pip`/`-m pip.__main__`/`-m ensurepip` as installs. pip ships
/// `pip/__pip-runner__.py` (pip ≥ 22.3; what pip itself runs for build
/// dependencies), which runs pip's main: `python -m pip.__pip-runner__
/// install X` installs; and a script operand that is pip's own directory
/// (`python …/site-packages/pip install X`, the shape of pip's zipapp
/// `python pip.pyz install X`) runs `pip/__main__.py`. Through the
/// `python3` shim both exec the real interpreter directly: the sdist's
/// setup.py runs with no sandbox, no report. Control: `-m pip install`
/// is monitored (a report).
#[test]
fn pip_run_another_way_is_still_an_install() {
    let index = support::pypi::sdist_index("pwrun", MARK_SETUP);
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let site = fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.join("pip/__pip-runner__.py").is_file())
        .expect("a pip with __pip-runner__.py in the test venv");
    let pip_dir = site.join("pip").display().to_string();
    let url = index.index_url();
    let target = |t: &str| {
        env.home
            .path()
            .join("targets")
            .join(t)
            .display()
            .to_string()
    };
    let mut unmonitored = Vec::new();
    for (tag, lead) in [
        ("control", vec!["-m", "pip"]),
        ("runner", vec!["-m", "pip.__pip-runner__"]),
        ("pip_dir", vec![pip_dir.as_str()]),
    ] {
        let before = env.report_files();
        let t = target(tag);
        let mut cmd = env.shim("python3");
        cmd.args(&lead)
            .args([
                "install",
                "--no-cache-dir",
                "--use-pep517",
                "--index-url",
                &url,
                "--target",
                &t,
                "pwrun",
            ])
            .current_dir(env.home.path())
            .env("PW_CMD", tag);
        let out = run(&mut cmd);
        let ran = env.home.path().join("eyes14-ran").join(tag).exists();
        let reports = env.report_files().len() - before.len();
        // fix14: monitored, and it still installs there.
        assert_success(&out, &format!("python3 {} install", lead.join(" ")));
        assert!(Path::new(&t).join("pwrun").is_dir(), "{tag}: not installed");
        if tag == "control" {
            assert_eq!(reports, 1, "the control is monitored\n{}", stderr_str(&out));
            continue;
        }
        let installed = Path::new(&t).join("pwrun").is_dir();
        if reports == 0 && (ran || installed) {
            unmonitored.push(format!(
                "python3 {} install: setup.py ran: {ran}, installed: {installed}, no report",
                lead.join(" ")
            ));
        }
    }
    assert!(unmonitored.is_empty(), "{unmonitored:#?}");
}

/// A bin the root project's postinstall runs: drops programs in
/// `~/eyes14-drop` and runs each once in a way that names no dropped file
/// as the program or an interpreter's operand: a shell sourcing it from a
/// command string, node requiring it from an inline script, python
/// exec-ing its text, make running a dropped makefile's recipe, a dropped
/// shared library preloaded into `echo`, and a dropped directory run by
/// node (its `index.js`) and by python (its `__main__.py`). A control:
/// `sh <abs>/ctl.sh`.
const DROP_PROBE14: &str = r#"
const cp = require("child_process");
const dir = path.join(home, "eyes14-drop");
fs.mkdirSync(path.join(dir, "nodeapp"), {recursive: true});
fs.mkdirSync(path.join(dir, "pyapp"), {recursive: true});
fs.writeFileSync(path.join(dir, "ctl.sh"), "echo EYES14-RAN\n");
fs.writeFileSync(path.join(dir, "src.sh"), "echo EYES14-RAN\n");
fs.writeFileSync(path.join(dir, "req.js"), "console.log('EYES14-RAN');\n");
fs.writeFileSync(path.join(dir, "exec.py"), "print('EYES14-RAN')\n");
fs.writeFileSync(path.join(dir, "drop.mk"), "all:\n\t@echo EYES14-RAN\n");
fs.copyFileSync("/lib/x86_64-linux-gnu/libm.so.6", path.join(dir, "pre.so"));
fs.writeFileSync(path.join(dir, "nodeapp", "index.js"), "console.log('EYES14-RAN');\n");
fs.writeFileSync(path.join(dir, "pyapp", "__main__.py"), "print('EYES14-RAN')\n");
const ran = (cmd, args, opts) => {
  const out = cp.execFileSync(cmd, args, Object.assign({timeout: 10000}, opts || {})).toString();
  if (!out.includes("EYES14-RAN")) throw new Error(out);
};
t("control", () => ran("sh", [path.join(dir, "ctl.sh")]));
t("source_c", () => ran("sh", ["-c", ". " + path.join(dir, "src.sh")]));
t("node_require", () => ran("node", ["-e", "require(" + JSON.stringify(path.join(dir, "req.js")) + ")"]));
t("python_exec", () => ran("python3", ["-c", "exec(open(" + JSON.stringify(path.join(dir, "exec.py")) + ").read())"]));
t("make_f", () => ran("make", ["-s", "-f", path.join(dir, "drop.mk")]));
t("ld_preload", () => ran("/bin/echo", ["EYES14-RAN"], {env: Object.assign({}, process.env, {LD_PRELOAD: path.join(dir, "pre.so")})}));
t("node_dir", () => ran("node", [path.join(dir, "nodeapp")]));
t("python_dir", () => ran("python3", [path.join(dir, "pyapp")]));
"#;

/// Class 8 (transient execution), past round 13's fix: `exec.dropped`
/// judges the executable and an interpreter's operands. The root
/// project's postinstall (protect) runs each program of [`DROP_PROBE14`]:
/// the control is `exec.dropped`; the others run what was dropped with no
/// `exec.dropped` finding (in a hidden or scratch place a `hidden.script`
/// would still say the write; here, a plain directory of HOME, nothing
/// does but `drop.binary` for the library).
#[test]
#[ignore = "round 14: a dropped file sourced, required, exec'd from -c/-e, run as a makefile, preloaded, or run as a directory is no exec.dropped"]
fn a_dropped_program_run_without_naming_it_is_dropped() {
    use support::probes::{deps, install_in, root_tool};
    let registry = NpmRegistry::start_with(vec![root_tool(DROP_PROBE14)]);
    let env = ShimEnv::new(&[]);
    // A directory of the user's, already there (protect lets no new
    // top-level entry of HOME be made).
    let dir = env.home.subdir("eyes14-drop");
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    let (r, result) = install_in(
        &env, &registry, "npm", "protect", &project, &manifest, "pw-tool",
    );
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    let dropped: Vec<String> = r.report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str() == Some("exec.dropped"))
        .map(|f| f.to_string())
        .collect();
    let seen = |file: &str| {
        let p = dir.join(file).display().to_string();
        dropped.iter().any(|f| f.contains(&p))
    };
    assert_eq!(result["control"], "ok", "{result:#}");
    assert!(
        seen("ctl.sh"),
        "the control is not exec.dropped\n{:#}",
        r.report["findings"]
    );
    let unseen: Vec<&str> = [
        ("source_c", "src.sh"),
        ("node_require", "req.js"),
        ("python_exec", "exec.py"),
        ("make_f", "drop.mk"),
        ("ld_preload", "pre.so"),
        ("node_dir", "nodeapp"),
        ("python_dir", "pyapp"),
    ]
    .into_iter()
    .filter(|(k, file)| result[*k] == "ok" && !seen(file))
    .map(|(k, _)| k)
    .collect();
    assert!(
        unseen.is_empty(),
        "ran with no exec.dropped: {unseen:?}\n{result:#}\n{:#}",
        r.report["findings"]
    );
}

/// A CPython extension module whose constructor does nothing where
/// `/proc/self/status` shows a seccomp filter or `no_new_privs` (the
/// start-up detonation runs in the sandbox) and otherwise writes
/// `~/.config/pwns/marker`; `PyInit_pwns` makes an empty module, so the
/// import succeeds quietly.
const DORMANT_EXT: &str = r#"
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

__attribute__((constructor)) static void pw_start(void) {
    char buf[8192];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    if (!strstr(buf, "Seccomp:\t0") || strstr(buf, "NoNewPrivs:\t1")) return;
    const char *home = getenv("HOME");
    if (!home) return;
    char p[4096];
    snprintf(p, sizeof p, "%s/.config", home); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/.config/pwns", home); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/.config/pwns/marker", home);
    FILE *m = fopen(p, "w");
    if (m) { fputs("pkgwarden fixture\n", m); fclose(m); }
}

static struct PyModuleDef pw_def = {PyModuleDef_HEAD_INIT, "pwns", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_pwns(void) { return PyModule_Create(&pw_def); }
"#;

/// Class 4 (code at every Python start), block. `policy/benign.toml`
/// accepts `*-nspkg.pth` of setuptools' namespace shape with no owner
/// (round 13: "its lines import only stdlib modules"). The line calls
/// `importlib.util.module_from_spec(PathFinder.find_spec(<name>,
/// [sitedir]))`: when `<name>` is an extension module in site-packages
/// (`pwns.so`), `module_from_spec` runs its loader's `create_module`, which
/// dlopens it (constructor) and calls its `PyInit_`. A wheel ships
/// `pwns-nspkg.pth` of exactly that shape and `pwns.so`, a native
/// constructor dormant under seccomp. Block: exit 0, no finding; the
/// user's next `python -c pass` writes the marker.
#[test]
fn a_namespace_pth_loads_no_native_code_a_wheel_ships() {
    use support::pypi::{PipFixture, build_wheel};
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let py = venv_bin(&venv, "python");
    let include = run(std::process::Command::new(&py).args([
        "-c",
        "import sysconfig; print(sysconfig.get_paths()['include'])",
    ]));
    let include = stdout_str(&include).trim().to_string();
    if !Path::new(&include).join("Python.h").is_file() {
        eprintln!("skipped: no Python.h for {}", py.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("pwns.c");
    fs::write(&src, DORMANT_EXT).unwrap();
    let pkg = tempfile::tempdir().unwrap();
    let cc = run(std::process::Command::new("cc").args([
        "-shared",
        "-fPIC",
        "-O1",
        "-I",
        &include,
        "-o",
        &pkg.path().join("pwns.so").display().to_string(),
        &src.display().to_string(),
    ]));
    assert_success(&cc, "cc pwns.so");
    let line = "import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('pwns',));importlib = has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('pwns', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('pwns', [os.path.dirname(p)])));m = m or sys.modules.setdefault('pwns', types.ModuleType('pwns'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)";
    fs::write(
        pkg.path().join("pwns-1.0.0-py3.11-nspkg.pth"),
        format!("{line}\n"),
    )
    .unwrap();
    let index = PypiIndex::start_with(vec![build_wheel(&PipFixture {
        name: "pwns".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture".into()),
        requires_dist: vec![],
        dir: pkg.path().to_path_buf(),
    })]);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let url = index.index_url();
    let r = support::installs::install(
        &env,
        "block",
        &["pip", "install", "--index-url", &url, "pwns"],
        env.home.path(),
        &[],
    );
    let marker = env.home.path().join(".config/pwns/marker");
    assert!(!marker.exists(), "the constructor acted during the install");
    let serious: Vec<String> = r.serious().iter().map(|f| f.to_string()).collect();
    eprintln!(
        "exit {}; detonation_ms {}; findings {:#}",
        r.code, r.report["timings"]["detonation_ms"], r.report["findings"]
    );
    let next = run(env.bare(&py).args(["-c", "pass"]));
    assert_success(&next, "python after the install");
    assert!(
        !serious.is_empty() || !marker.exists(),
        "block let it in (exit {}, no finding of medium or more) and the next python start ran it\n{:#}",
        r.code,
        r.report["findings"]
    );
}

/// `_distutils_hack/__init__.py` as a wheel replaces it: `add_shim()`,
/// what setuptools' own `distutils-precedence.pth` calls at every Python
/// start, does nothing under seccomp or `no_new_privs` (the start-up
/// detonation) and otherwise writes `~/.config/pwhack/marker`.
const DORMANT_HACK: &str = r#"import os

def _sandboxed():
    try:
        with open("/proc/self/status") as f:
            s = f.read()
    except OSError:
        return True
    return "Seccomp:\t0" not in s or "NoNewPrivs:\t1" in s

def add_shim():
    if _sandboxed():
        return
    d = os.path.join(os.path.expanduser("~"), ".config", "pwhack")
    try:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "marker"), "w") as f:
            f.write("pkgwarden fixture")
    except OSError:
        pass

def remove_shim():
    pass
"#;

/// Class 4, block, through a benign `.pth` that is already there.
/// setuptools' `distutils-precedence.pth` (benign, owner setuptools, in
/// every venv ensurepip makes) imports `_distutils_hack` at every Python
/// start. A wheel (`pwhack`) ships `_distutils_hack/__init__.py`, replacing
/// setuptools' file, and setuptools' own `RECORD` with that file's new
/// hash, under `pwhack-1.0.0.data/purelib/` (pip refuses a second
/// `.dist-info` at the wheel's top; ensurepip's setuptools version is
/// fixed per Python: guessable).
/// `detect::record` takes a distribution whose RECORD changed as
/// reinstalled ("its own business"), no `.pth` is new, and the module is
/// dormant under the detonation. Block: exit 0, no finding; the user's
/// next `python -c pass` writes the marker.
#[test]
fn a_wheel_does_not_replace_what_a_benign_pth_imports() {
    use support::pypi::{PipFixture, build_wheel};
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let py = venv_bin(&venv, "python");
    let site = fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.join("distutils-precedence.pth").is_file());
    let Some(site) = site else {
        eprintln!("skipped: the test venv has no setuptools");
        return;
    };
    let info = fs::read_dir(&site)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with("setuptools-") && n.ends_with(".dist-info")
        })
        .unwrap();
    let info_name = info.file_name().unwrap().to_string_lossy().to_string();
    let hash = support::sha256_urlsafe_nopad(DORMANT_HACK.as_bytes());
    let record: String = fs::read_to_string(info.join("RECORD"))
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("_distutils_hack/__init__.py,") {
                format!(
                    "_distutils_hack/__init__.py,sha256={hash},{}\n",
                    DORMANT_HACK.len()
                )
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let pkg = tempfile::tempdir().unwrap();
    for (rel, data) in [
        (
            "_distutils_hack/__init__.py".to_string(),
            DORMANT_HACK.to_string(),
        ),
        // A wheel may hold one .dist-info; its `.data/purelib/` lands in
        // site-packages as is.
        (
            format!("pwhack-1.0.0.data/purelib/{info_name}/RECORD"),
            record,
        ),
        ("pwhack/__init__.py".to_string(), String::new()),
    ] {
        let p = pkg.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    let index = PypiIndex::start_with(vec![build_wheel(&PipFixture {
        name: "pwhack".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture".into()),
        requires_dist: vec![],
        dir: pkg.path().to_path_buf(),
    })]);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let url = index.index_url();
    let r = support::installs::install(
        &env,
        "block",
        &["pip", "install", "--index-url", &url, "pwhack"],
        env.home.path(),
        &[],
    );
    let marker = env.home.path().join(".config/pwhack/marker");
    assert!(!marker.exists(), "the module acted during the install");
    let serious: Vec<String> = r.serious().iter().map(|f| f.to_string()).collect();
    eprintln!("exit {}; findings {:#}", r.code, r.report["findings"]);
    let next = run(env.bare(&py).args(["-c", "pass"]));
    assert_success(&next, "python after the install");
    assert!(
        !serious.is_empty() || !marker.exists(),
        "block let it in (exit {}, no finding of medium or more) and the next python start ran it\n{:#}",
        r.code,
        r.report["findings"]
    );
}

/// Class 3, block: a wheel's `.data/scripts/` lands in the environment's
/// `bin/` as is (pip rewrites only a `#!python` first line). `pwact` ships
/// `activate`, replacing the venv's own (what the user's shell sources:
/// `. venv/bin/activate`; no distribution's RECORD lists it), with a line
/// first that writes `~/.config/pwact/activate` outside a sandbox. (A
/// wheel replacing `bin/pip` the same way is `tamper.installed-package`:
/// pip's RECORD lists it.)
#[test]
fn a_wheel_does_not_replace_the_venvs_activate() {
    use support::pypi::{PipFixture, build_wheel};
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let original = fs::read_to_string(venv.join("bin/activate")).unwrap();
    let activate = format!(
        "grep -q 'Seccomp:\t0' /proc/self/status 2>/dev/null && ! grep -q 'NoNewPrivs:\t1' /proc/self/status && mkdir -p \"$HOME/.config/pwact\" && echo fixture > \"$HOME/.config/pwact/activate\"\n{original}"
    );
    let pkg = tempfile::tempdir().unwrap();
    for (rel, data) in [
        ("pwact-1.0.0.data/scripts/activate", activate),
        ("pwact/__init__.py", String::new()),
    ] {
        let p = pkg.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    let index = PypiIndex::start_with(vec![build_wheel(&PipFixture {
        name: "pwact".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture".into()),
        requires_dist: vec![],
        dir: pkg.path().to_path_buf(),
    })]);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let url = index.index_url();
    let r = support::installs::install(
        &env,
        "block",
        &["pip", "install", "--index-url", &url, "pwact"],
        env.home.path(),
        &[],
    );
    let marker = env.home.path().join(".config/pwact/activate");
    assert!(!marker.exists(), "activate ran during the install");
    let serious: Vec<String> = r.serious().iter().map(|f| f.to_string()).collect();
    eprintln!("exit {}; findings {:#}", r.code, r.report["findings"]);
    // The user, later, activates the venv.
    let act = run(env
        .bare("bash")
        .args(["-c", &format!(". {}/bin/activate; true", venv.display())]));
    assert_success(&act, "activate");
    assert!(
        !serious.is_empty() || !marker.exists(),
        "block let it in (exit {}, no finding of medium or more) and the next activate ran it\n{:#}",
        r.code,
        r.report["findings"]
    );
}

/// Class 3/8, block: npm puts `node_modules/.bin` first on PATH for every
/// script the user runs later (`npm test`, `npm run build`: passed through
/// by the shim, no sandbox). A dependency declaring a bin named `node`
/// (`"bin": {"node": "shadow.sh"}`) gets `node_modules/.bin/node`: the
/// project's next `npm test` whose script calls `node` runs it. pkgwarden's
/// `persist.path-hijack` judges names like `node` only in the user's PATH
/// directories. The bin writes `~/.config/pwshadow/marker` outside a
/// sandbox and execs the real node.
#[test]
#[ignore = "round 14: a dependency's bin named node shadows node in node_modules/.bin for the project's later npm scripts; block lets it in"]
fn a_dependency_bin_does_not_shadow_node_for_later_scripts() {
    use support::probes::deps;
    let node = String::from_utf8(
        run(std::process::Command::new("sh").args(["-c", "command -v node"])).stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let shadow = format!(
        "#!/bin/sh\nif grep -q 'Seccomp:\t0' /proc/self/status 2>/dev/null && ! grep -q 'NoNewPrivs:\t1' /proc/self/status; then mkdir -p \"$HOME/.config/pwshadow\"; echo fixture > \"$HOME/.config/pwshadow/marker\"; fi\nexec {node} \"$@\"\n"
    );
    let registry = NpmRegistry::start_with(vec![NpmPackage::new(
        serde_json::json!({
            "name": "pw-shadow", "version": "1.0.0", "license": "MIT",
            "bin": {"node": "shadow.sh"}
        }),
        &[
            ("shadow.sh", shadow.as_bytes()),
            ("index.js", b"module.exports = 1;\n"),
        ],
    )]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-shadow"]);
    manifest["scripts"] = serde_json::json!({"test": "node -e 0"});
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let r = support::installs::install(
        &env,
        "block",
        &["npm", "install", "--registry", &url],
        &project,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let marker = env.home.path().join(".config/pwshadow/marker");
    assert!(!marker.exists(), "the bin ran during the install");
    let serious: Vec<String> = r.serious().iter().map(|f| f.to_string()).collect();
    // The user, later: `npm test` (the shim passes it through).
    let t = run(env.shim("npm").arg("test").current_dir(&project));
    assert_success(&t, "npm test");
    assert!(
        !serious.is_empty() || !marker.exists(),
        "block let it in (no finding of medium or more) and the next npm test ran it\n{:#}",
        r.report["findings"]
    );
}

/// Secret variables round 13's patterns miss: Azure Pipelines' job token
/// (`SYSTEM_ACCESSTOKEN`: `TOKEN` without `_` before it), GitLab's job
/// JWTs (`CI_JOB_JWT`, `CI_JOB_JWT_V2`), a Slack webhook (the URL is the
/// secret), a Redis URL whose password has no user name, `*_CREDS`; and,
/// as controls (removed on d9e1ac4), lower-case spellings of listed shapes.
const MISSED_VARS: &[(&str, &str)] = &[
    ("SYSTEM_ACCESSTOKEN", "EYES14-ENV"),
    ("CI_JOB_JWT", "eyJhbGciOi.EYES14-ENV"),
    ("CI_JOB_JWT_V2", "eyJhbGciOi.EYES14-ENV"),
    (
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.test/services/T0/B0/EYES14-ENV",
    ),
    (
        "REDIS_URL",
        "redis://:EYES14-ENV@cache.internal.test:6379/0",
    ),
    ("DOCKER_CREDS", "eyes14:EYES14-ENV"),
    ("github_token", "EYES14-ENV"),
    ("my_api_key", "EYES14-ENV"),
];

/// Class 7 (secrets nobody listed), the environment's half, after round
/// 13's fix: each of [`MISSED_VARS`] but the controls, set for pkgwarden,
/// is in an npm dependency's postinstall's environment, in protect and
/// block, with no `cred.env` finding.
#[test]
fn secret_variables_round_13_missed_are_removed() {
    use support::probes::{deps, probe};
    let names: Vec<&str> = MISSED_VARS.iter().map(|(k, _)| *k).collect();
    let body = format!(
        r#"
for (const k of {names:?}) {{
  t(k, () => {{ if (!(process.env[k] || "").includes("EYES14-ENV")) throw new Error("absent"); }});
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-env", &body)]);
    let vars: Vec<(&str, String)> = MISSED_VARS
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let project = env.home.subdir("proj");
        let (r, result) = npm_install_with(
            &env,
            &registry,
            mode,
            &project,
            &deps(&["pw-env"]),
            "pw-env",
            &vars,
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-env did not run\n{}",
            r.stderr
        );
        let seen: Vec<&str> = names
            .iter()
            .copied()
            .filter(|k| result[*k] == "ok")
            .collect();
        if !seen.is_empty() {
            failed.push(format!(
                "{mode}: in a dependency script's environment: {seen:?}; findings {}",
                r.report["findings"]
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Credential stores where a variable of the user's moves them (the XDG
/// layouts dotfile guides recommend): `(variable, value below HOME, file
/// below HOME that holds the secret)`. `policy/secrets.toml` names each
/// store by its default place only.
const MOVED_STORES: &[(&str, &str, &str)] = &[
    (
        "DOCKER_CONFIG",
        ".config/docker",
        ".config/docker/config.json",
    ),
    (
        "NPM_CONFIG_USERCONFIG",
        ".config/npm/npmrc",
        ".config/npm/npmrc",
    ),
    (
        "CARGO_HOME",
        ".local/share/cargo",
        ".local/share/cargo/credentials.toml",
    ),
    (
        "GNUPGHOME",
        ".local/share/gnupg",
        ".local/share/gnupg/private-keys-v1.d/EYES14.key",
    ),
    (
        "AWS_SHARED_CREDENTIALS_FILE",
        ".config/aws/credentials",
        ".config/aws/credentials",
    ),
    ("KUBECONFIG", ".config/kube/config", ".config/kube/config"),
    ("NETRC", ".config/netrc", ".config/netrc"),
    ("XDG_CONFIG_HOME", ".xdgconfig", ".xdgconfig/gh/hosts.yml"),
    (
        "HISTFILE",
        ".local/state/bash/history",
        ".local/state/bash/history",
    ),
];

/// Class 10 (credentials), the stores' places. With each variable of
/// [`MOVED_STORES`] set for pkgwarden, as the user's shell sets it, an npm
/// dependency's postinstall reads the moved store (docker's registry
/// auths, npm's own token, cargo's and AWS's credentials, GnuPG's private
/// keys, the kubeconfig, the netrc, gh's token under a moved
/// `XDG_CONFIG_HOME`, the shell history), in protect and block.
#[test]
fn credential_stores_a_variable_moves_are_hidden() {
    use support::probes::{deps, probe};
    let files: Vec<&str> = MOVED_STORES.iter().map(|(_, _, f)| *f).collect();
    let body = format!(
        r#"
for (const f of {files:?}) {{
  t(f, () => {{ if (!fs.readFileSync(path.join(home, f), "utf8").includes("EYES14-CRED")) throw new Error("other"); }});
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-moved", &body)]);
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let home = env.home.path().to_path_buf();
        let mut vars: Vec<(&str, String)> = Vec::new();
        for (var, value, file) in MOVED_STORES {
            let f = home.join(file);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(&f, "secret = EYES14-CRED\n").unwrap();
            vars.push((var, home.join(value).display().to_string()));
        }
        let project = env.home.subdir("proj");
        let (r, result) = npm_install_with(
            &env,
            &registry,
            mode,
            &project,
            &deps(&["pw-moved"]),
            "pw-moved",
            &vars,
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-moved did not run\n{}",
            r.stderr
        );
        let read: Vec<&str> = files
            .iter()
            .copied()
            .filter(|f| result[*f] == "ok")
            .collect();
        if !read.is_empty() {
            let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
            failed.push(format!("{mode}: read {read:?}; serious findings {said:?}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Issue 9 focus: `python -m <tool>` shapes. pipx's, uv's, poetry's and
/// conda's own modules install as their commands do (`python3 -m pipx
/// install X` is how pipx's documentation installs tools where pipx is a
/// pip package; `python -m uv pip install`, `python -m poetry install`),
/// but `classify_module` knows only pip and ensurepip: the `python3` shim
/// execs the real interpreter. Measured with a copy of the shim executable
/// whose "full pkgwarden" is a stand-in that says it was called, and a
/// stand-in `python3` (tests/shim_exec.rs' harness).
#[test]
fn python_m_other_managers_is_an_install() {
    let home = TestHome::new();
    let bin = home.subdir("pwbin");
    let shim = pkgwarden_bin().with_file_name("pkgwarden-shim");
    fs::copy(&shim, bin.join("pkgwarden-shim")).unwrap();
    let script = |p: &Path, text: &str| {
        use std::os::unix::fs::PermissionsExt;
        fs::write(p, text).unwrap();
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    };
    script(&bin.join("pkgwarden"), "#!/bin/sh\necho full pkgwarden\n");
    let shims = home.subdir("shims");
    let real = home.subdir("real");
    std::os::unix::fs::symlink(bin.join("pkgwarden-shim"), shims.join("python3")).unwrap();
    script(&real.join("python3"), "#!/bin/sh\necho real python3\n");
    let mut direct = Vec::new();
    for args in [
        &["-m", "pip", "install", "x"][..],
        &["-m", "pipx", "install", "x"],
        &["-m", "uv", "pip", "install", "x"],
        &["-m", "uv", "tool", "install", "x"],
        &["-m", "poetry", "install"],
        &["-m", "conda", "install", "x"],
    ] {
        let mut cmd = home.command(shims.join("python3"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PKGWARDEN_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env("PATH", std::env::join_paths([&shims, &real]).unwrap())
            .env("PKGWARDEN_SHIMS_DIR", &shims)
            .args(args);
        std::os::unix::process::CommandExt::arg0(&mut cmd, "python3");
        let out = run(&mut cmd);
        if stdout_str(&out).trim() == "real python3" {
            direct.push(args.join(" "));
        }
    }
    assert!(
        !direct.contains(&"-m pip install x".to_string()),
        "the control went to the real python3"
    );
    assert!(direct.is_empty(), "went to the real python3: {direct:#?}");
}

/// Class 10, the project's own secrets. `hook::package_code_reads` hides
/// the `.env*` files of the working directory from package code. A
/// monorepo keeps one per application (`apps/web/.env.local`,
/// `packages/api/.env`), and npm run in a subdirectory of the project
/// (`proj/src`) installs the project above it. A dependency's postinstall
/// reads `.env` files by path from the project root (its cwd is its own
/// package directory: `../../` is the project).
#[test]
fn the_projects_env_files_are_hidden_wherever_they_lie() {
    use support::probes::{deps, probe};
    let rels = [".env", "apps/web/.env.local", "packages/api/.env"];
    let body = format!(
        r#"
const root = path.resolve(process.cwd(), "..", "..");
for (const f of {rels:?}) {{
  t(f, () => {{ if (!fs.readFileSync(path.join(root, f), "utf8").includes("EYES14-ENVFILE")) throw new Error("other"); }});
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-dotenv", &body)]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    for r in rels {
        let f = project.join(r);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, "API_KEY=EYES14-ENVFILE\n").unwrap();
    }
    fs::create_dir_all(project.join("src")).unwrap();
    let mut failed = Vec::new();
    for (tag, cwd) in [("root", project.clone()), ("subdir", project.join("src"))] {
        let _ = fs::remove_dir_all(project.join("node_modules"));
        let _ = fs::remove_file(project.join("package-lock.json"));
        fs::write(
            project.join("package.json"),
            deps(&["pw-dotenv"]).to_string(),
        )
        .unwrap();
        let url = registry.registry_url();
        let r = support::installs::install(
            &env,
            "block",
            &["npm", "install", "--registry", &url],
            &cwd,
            &[],
        );
        let result: Value = fs::read(project.join("node_modules/pw-dotenv/result.json"))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or(Value::Null);
        assert!(
            !result.is_null(),
            "{tag}: pw-dotenv did not run\n{}",
            r.stderr
        );
        let read: Vec<&str> = rels
            .iter()
            .copied()
            .filter(|f| result[*f] == "ok")
            .collect();
        if tag == "root" {
            assert!(
                !read.contains(&".env"),
                "the control: the cwd's .env was read"
            );
        }
        if !read.is_empty() {
            failed.push(format!(
                "{tag}: read {read:?}; findings {}",
                r.report["findings"]
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Class 3 (PATH hijack), block. `persist::path_hijack` passes a console
/// script the manager writes into a PATH directory unless its name is in
/// `SHADOWED` (sudo, git, ssh, node, pip, docker, …). A wheel declaring
/// console scripts named `make`, `cargo`, `apt` and `systemctl` (none
/// listed) gets them into the environment's `bin/`, on PATH when the venv is
/// active (and `~/.local/bin` for `--user`, `/usr/local/bin` for root,
/// both ahead of `/usr/bin`): the user's next `make` runs the package.
#[test]
fn a_wheel_does_not_shadow_system_commands() {
    use support::pypi::{PipFixture, build_wheel};
    let names = ["make", "cargo", "apt", "systemctl"];
    let pkg = tempfile::tempdir().unwrap();
    let ep: String = names
        .iter()
        .map(|n| format!("{n} = pwmake:main\n"))
        .collect();
    for (rel, data) in [
        (
            "pwmake/__init__.py".to_string(),
            "import os, sys\ndef main():\n    d = os.path.join(os.path.expanduser('~'), '.config', 'pwmake')\n    os.makedirs(d, exist_ok=True)\n    open(os.path.join(d, os.path.basename(sys.argv[0])), 'w').write('fixture')\n".to_string(),
        ),
        (
            "pwmake-1.0.0.dist-info/entry_points.txt".to_string(),
            format!("[console_scripts]\n{ep}"),
        ),
    ] {
        let p = pkg.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    let index = PypiIndex::start_with(vec![build_wheel(&PipFixture {
        name: "pwmake".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture".into()),
        requires_dist: vec![],
        dir: pkg.path().to_path_buf(),
    })]);
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let url = index.index_url();
    let r = support::installs::install(
        &env,
        "block",
        &["pip", "install", "--index-url", &url, "pwmake"],
        env.home.path(),
        &[],
    );
    eprintln!("exit {}; findings {:#}", r.code, r.report["findings"]);
    let serious: Vec<String> = r.serious().iter().map(|f| f.to_string()).collect();
    let planted: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| venv.join("bin").join(n).is_file())
        .collect();
    // The user, later, in the activated venv: `make`.
    let out = run(env.bare("sh").args(["-c", "make >/dev/null 2>&1; true"]));
    assert_success(&out, "make");
    let ran = env.home.path().join(".config/pwmake/make").exists();
    assert!(
        !serious.is_empty() || planted.is_empty(),
        "block let in {planted:?} (exit {}, no finding of medium or more); the next `make` ran the package: {ran}\n{:#}",
        r.code,
        r.report["findings"]
    );
}
