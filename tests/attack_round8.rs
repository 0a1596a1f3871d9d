//! Round 8: attacks on round 7's fixes by an attacker who has read the
//! source. A project's configuration names the manager's log directory
//! (npm's `logs-dir` in the project's `.npmrc`), and the root project's
//! scripts may write it: round 7b refused one that is, holds or lies in a
//! persistence place of the project or HOME or `~/bin`/`~/.local/bin`.
//! Real npm, a loopback registry, inert fixtures: every marker is written
//! in the test's temporary HOME. Root and unprivileged.

use crate::support;

use std::fs;
use std::path::Path;
use support::installs::{Installed, install};
use support::listeners::{CountingDgram, CountingUdp};
use support::probes::{deps, root_tool};
use support::*;

/// The root project's postinstall runs `pw-tool` (cwd: the project),
/// which plants a git hook in the sibling repository `webapp` and a
/// command in `~/.cargo/bin`.
const INTO_THE_LOG_DIR: &str = r##"
t("hook", () => fs.writeFileSync(path.join(process.cwd(), "..", "webapp", ".git", "hooks", "pre-commit"), "#!/bin/sh\necho " + M + "\n", {mode: 0o755}));
t("bin", () => fs.writeFileSync(path.join(home, ".cargo", "bin", "pw-planted"), "#!/bin/sh\necho " + M + "\n", {mode: 0o755}));
t("cargo", () => fs.appendFileSync(path.join(home, ".cargo", "bin", "cargo"), "\necho " + M + "\n"));
"##;

const CARGO: &str = "#!/bin/sh\necho the user's cargo\n";

/// npm's install of `manifest` in `project` with `PATH` as given; the
/// report and pw-tool's `result.json` (Null when it did not run).
fn npm_install(
    env: &ShimEnv,
    registry: &NpmRegistry,
    mode: &str,
    project: &Path,
    manifest: &serde_json::Value,
    path: &std::ffi::OsStr,
) -> (Installed, serde_json::Value) {
    let _ = fs::remove_dir_all(project.join("node_modules"));
    let _ = fs::remove_file(project.join("package-lock.json"));
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let path = path.to_string_lossy().into_owned();
    let r = install(
        env,
        mode,
        &["npm", "install", "--registry", &url],
        project,
        &[("PATH", path)],
    );
    let result = fs::read(project.join("node_modules/pw-tool/result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (r, result)
}

/// Round 8: the project's `.npmrc` names as npm's log directory a place
/// round 7b's list did not name: another repository's `.git/hooks` (a
/// sibling checkout, by a relative path), or a directory of the user's
/// PATH other than `~/bin` and `~/.local/bin` (`~/.cargo/bin`). The root
/// project's scripts may write the log directory; neither is granted.
#[test]
fn a_project_npmrc_names_no_log_dir_in_another_repo_or_a_path_dir() {
    let registry = NpmRegistry::start_with(vec![root_tool(INTO_THE_LOG_DIR)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let project = env.home.subdir("proj");
    let webapp = env.home.subdir("webapp");
    fs::create_dir_all(webapp.join(".git/hooks")).unwrap();
    let cargo_bin = home.join(".cargo/bin");
    fs::create_dir_all(&cargo_bin).unwrap();
    fs::write(cargo_bin.join("cargo"), CARGO).unwrap();
    let mut entries = vec![cargo_bin.clone()];
    entries.extend(std::env::split_paths(&env.path));
    let path = std::env::join_paths(entries).unwrap();
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    // Protect's writable tree is HOME but what it keeps out: another
    // repository under HOME is in it whatever npm's logs-dir says (round
    // 5's "other projects" trade-off), a PATH directory is kept out.
    let cargo = cargo_bin.display().to_string();
    let mut landed = Vec::new();
    for (logs, attempt, modes) in [
        ("../webapp/.git/hooks", "hook", &["block"][..]),
        ("../webapp", "hook", &["block"][..]),
        (cargo.as_str(), "bin", &["protect", "block"][..]),
        (cargo.as_str(), "cargo", &["protect", "block"][..]),
    ] {
        fs::write(project.join(".npmrc"), format!("logs-dir={logs}\n")).unwrap();
        for &mode in modes {
            let what = format!("logs-dir={logs} ({mode}, {attempt})");
            let (r, result) = npm_install(&env, &registry, mode, &project, &manifest, &path);
            assert!(
                !result.is_null(),
                "{what}: pw-tool did not run\n{}",
                r.stderr
            );
            let planted = match attempt {
                "hook" => webapp.join(".git/hooks/pre-commit").exists(),
                "bin" => cargo_bin.join("pw-planted").exists(),
                _ => fs::read_to_string(cargo_bin.join("cargo")).unwrap() != CARGO,
            };
            if result[attempt] == "ok" || planted {
                landed.push(format!("{what}: {result}"));
            }
            let _ = fs::remove_file(webapp.join(".git/hooks/pre-commit"));
            let _ = fs::remove_file(cargo_bin.join("pw-planted"));
            fs::write(cargo_bin.join("cargo"), CARGO).unwrap();
        }
    }
    assert!(landed.is_empty(), "written:\n{}", landed.join("\n"));
}

/// The root project's postinstall runs `pw-tool`, which rewrites the code
/// of another project of the user's (`~/app`).
const INTO_ANOTHER_PROJECT: &str = r##"
t("code", () => fs.appendFileSync(path.join(home, "app", "node_modules", "dep", "index.js"), "\nconsole.log('" + M + "');\n"));
"##;

const DEP_CODE: &str = "module.exports = 1;\n";

/// Round 8: in block, the log directory named by the project's `.npmrc`
/// was the root project's scripts' to write wherever it is: another
/// project's `node_modules` (code the user runs later) is neither a
/// persistence place nor a PATH directory. The root project's scripts no
/// longer write the manager's log directories (their nested npm logs to
/// its private cache, as it caches there).
#[test]
fn a_project_npmrc_names_no_log_dir_that_root_scripts_write() {
    let registry = NpmRegistry::start_with(vec![root_tool(INTO_ANOTHER_PROJECT)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let project = env.home.subdir("proj");
    let dep = home.join("app/node_modules/dep");
    fs::create_dir_all(&dep).unwrap();
    fs::write(home.join("app/package.json"), r#"{"name":"app"}"#).unwrap();
    fs::write(dep.join("index.js"), DEP_CODE).unwrap();
    fs::write(
        project.join(".npmrc"),
        format!("logs-dir={}\n", dep.display()),
    )
    .unwrap();
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    // Protect's writable tree holds another project under HOME anyway
    // (round 5's "other projects" trade-off): block only.
    let (r, result) = npm_install(&env, &registry, "block", &project, &manifest, &env.path);
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    assert_ne!(result["code"], "ok", "{result:#}");
    assert_eq!(fs::read_to_string(dep.join("index.js")).unwrap(), DEP_CODE);
}

/// The benign twin: a project that names its own log directory and whose
/// postinstall runs a nested `npm run` installs clean in block.
#[test]
fn a_root_scripts_nested_npm_works_with_a_configured_log_dir() {
    let registry = NpmRegistry::start_with(vec![root_tool("")]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    let logs = env.home.subdir("npm-logs");
    fs::write(
        project.join(".npmrc"),
        format!("logs-dir={}\n", logs.display()),
    )
    .unwrap();
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({
        "postinstall": "npm run hello",
        "hello": "echo PW-HELLO-RAN"
    });
    let (r, _) = npm_install(&env, &registry, "block", &project, &manifest, &env.path);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("PW-HELLO-RAN") || r.stderr.contains("PW-HELLO-RAN"),
        "the nested npm run did not run\n{}\n{}",
        r.stdout,
        r.stderr
    );
    let findings = r.report["findings"].as_array().cloned().unwrap_or_default();
    assert!(findings.is_empty(), "{findings:#?}");
}

/// Runs fdrace.py's `races` in protect and block; what reached the test's
/// listeners (unix datagrams count in block only: protect lets datagrams
/// reach unprivileged unix sockets by design).
fn fd_races(races: &str) -> Vec<String> {
    let fixture = crate_root().join("tests/fixtures/races/fdrace.py");
    let (env, _bin) = stand_in(&format!("#!/bin/sh\nexec \"$PY\" {}\n", fixture.display()));
    let work = env.home.path().join("work");
    let mut landed = Vec::new();
    for mode in ["protect", "block"] {
        let dir = tempfile::tempdir().unwrap();
        let dgram = CountingDgram::start(dir.path());
        let udp = CountingUdp::start();
        let vars = vec![
            ("PY", python3().display().to_string()),
            ("DGRAM_SOCK", dgram.path.display().to_string()),
            ("UDP_PORT", udp.port.to_string()),
            ("ROUNDS", "3000".to_string()),
            ("RACES", races.to_string()),
        ];
        let r = install(&env, mode, &["gem", "install", "x"], &work, &vars);
        assert!(
            r.stdout.contains("done"),
            "{mode}: {}\n{}",
            r.stdout,
            r.stderr
        );
        let unix = dgram.finish();
        let datagrams = udp.finish();
        let unix = if mode == "block" { unix } else { 0 };
        if unix + datagrams > 0 {
            landed.push(format!(
                "{mode}: unix {unix}, udp {datagrams}\n{}",
                r.stdout
            ));
        }
    }
    landed
}

/// Round 8: the supervisor judged a datagram to a unix name by the socket
/// it found at the descriptor number (it had to be a unix one) and let the
/// kernel continue; the kernel looks the number and the name up again, so a
/// second thread `dup2`-ing a UDP socket onto the number and writing a
/// loopback address into the name sent UDP in protect (47 of 3,000 as
/// root, unfixed). The supervisor now sends it on its copy.
#[test]
fn a_udp_socket_moved_onto_a_unix_senders_descriptor_reaches_nothing() {
    let landed = fd_races("named-udp");
    assert!(landed.is_empty(), "{}", landed.join("\n"));
}

/// Round 8: a `sendmsg` without a name on a stream socket was continued
/// (the kernel ignores a stream socket's name). A second thread `dup2`-ing
/// a datagram socket onto the number and adding a name sent it where the
/// sandbox refuses: a unix datagram socket outside it in block, UDP in
/// protect (unfixed, as root: 34 unix datagrams in block, 44 UDP ones in
/// protect of 3,000). The supervisor now sends stream messages on its copy.
#[test]
fn a_datagram_socket_moved_onto_a_stream_senders_descriptor_reaches_nothing() {
    let landed = fd_races("stream-unix,stream-udp");
    assert!(landed.is_empty(), "{}", landed.join("\n"));
}

/// The benign twin: in protect, datagrams to a unix name (absolute or
/// relative to the cwd, by `sendto` and `sendmsg`) still arrive now that
/// the supervisor sends them.
#[test]
fn datagrams_to_a_unix_name_still_arrive_in_protect() {
    let fixture = crate_root().join("tests/fixtures/races/unixnamed.py");
    let (env, _bin) = stand_in(&format!("#!/bin/sh\nexec \"$PY\" {}\n", fixture.display()));
    let work = env.home.path().join("work");
    let vars = vec![("PY", python3().display().to_string())];
    let r = install(&env, "protect", &["gem", "install", "x"], &work, &vars);
    assert!(r.stdout.contains("done"), "{}\n{}", r.stdout, r.stderr);
    for how in ["sendto-abs", "sendto-rel"] {
        assert!(
            r.stdout.contains(&format!("{how} sent 11 got 11")),
            "{how}: {}",
            r.stdout
        );
    }
    assert!(r.stdout.contains("sendmsg sent 11 got 11"), "{}", r.stdout);
}

/// The benign twin: descriptors passed over stream sockets without a name
/// (`SCM_RIGHTS`), now sent by the supervisor with its copies, still
/// arrive: Python's `send_fds` to a forked child, two rights messages in
/// one call, a 1 MiB send looped over short counts, and node's
/// child_process passing a listening server to a child over its 'ipc'
/// channel; in protect, Python's multiprocessing forkserver too (block
/// refuses every unix connect, the forkserver's included).
#[test]
fn descriptors_passed_over_stream_sockets_still_arrive() {
    let dir = crate_root().join("tests/fixtures/races");
    let script = format!(
        "#!/bin/sh\n\"$PY\" {py} $FORKSERVER\n\"$NODE\" {js}\n",
        py = dir.join("fdpass.py").display(),
        js = dir.join("fdpass.js").display()
    );
    let (env, _bin) = stand_in(&script);
    let work = env.home.path().join("work");
    for mode in ["protect", "block"] {
        let forkserver = if mode == "protect" { "forkserver" } else { "" };
        let vars = vec![
            ("PY", python3().display().to_string()),
            ("NODE", node().display().to_string()),
            ("FORKSERVER", forkserver.to_string()),
        ];
        let r = install(&env, mode, &["gem", "install", "x"], &work, &vars);
        let mut want = vec![
            "pair sent 8 child 1 through the pipe",
            "several sent 1 fds 3",
            "big sent 1048576",
            "node child got the server handle Server listening true",
            "node child exit 0",
        ];
        if mode == "protect" {
            want.push("forkserver got 'hello from the child' exit 0");
        }
        for line in want {
            assert!(
                r.stdout.lines().any(|l| l == line),
                "{mode}: missing `{line}`\n{}\n{}",
                r.stdout,
                r.stderr
            );
        }
        assert_eq!(r.stdout.matches("done").count(), 2, "{mode}: {}", r.stdout);
        let refused: Vec<_> = r.report["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f.to_string().contains("sendmsg"))
            .collect();
        assert!(refused.is_empty(), "{mode}: {refused:#?}");
    }
}
