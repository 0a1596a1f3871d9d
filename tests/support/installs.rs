//! One monitored install as the detection tests run it: `pkgwarden run
//! --sandbox --mode MODE -- ARGS`, its exit code and the report it left.

use super::http::{HttpServer, Incoming, Reply};
use super::{NpmRegistry, ShimEnv, run, stderr_str, stdout_str};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// One monitored install: its output, exit code and report.
pub struct Installed {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub report: Value,
}

impl Installed {
    pub fn findings(&self, rule: &str) -> Vec<&Value> {
        self.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == rule)
            .collect()
    }

    pub fn finding(&self, rule: &str) -> &Value {
        self.findings(rule).into_iter().next().unwrap_or_else(|| {
            panic!(
                "no {rule} finding\nstdout:\n{}\nstderr:\n{}\nfindings: {:#}\nwrites outside the expected roots: {:#}\nprocesses: {:#}",
                self.stdout, self.stderr, self.report["findings"], self.report["files"], self.report["processes"]
            )
        })
    }

    /// Findings of medium severity or more.
    pub fn serious(&self) -> Vec<&Value> {
        serious(&self.report)
    }
}

/// The findings of `report` of medium severity or more.
pub fn serious(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("medium" | "high" | "critical")))
        .collect()
}

pub fn report_files(env: &ShimEnv) -> BTreeSet<PathBuf> {
    env.report_files()
}

/// `gem install <name>` from `source` only, into the gem directory `gems`,
/// without documentation, run in `cwd` with `vars` set.
pub fn gem_install(
    env: &ShimEnv,
    mode: &str,
    source: &str,
    gems: &Path,
    name: &str,
    cwd: &Path,
    vars: &[(&str, String)],
) -> Installed {
    let gems = gems.to_str().expect("a UTF-8 gem directory");
    let args = [
        "gem",
        "install",
        "--clear-sources",
        "--source",
        source,
        "--install-dir",
        gems,
        "--no-document",
        name,
    ];
    install(env, mode, &args, cwd, vars)
}

/// `pkgwarden run --sandbox --mode MODE -- ARGS` in `cwd`; the report it left.
pub fn install(
    env: &ShimEnv,
    mode: &str,
    args: &[&str],
    cwd: &Path,
    vars: &[(&str, String)],
) -> Installed {
    let before = report_files(env);
    let mut cmd = env.pkgwarden();
    cmd.args(["run", "--sandbox", "--mode", mode, "--"])
        .args(args)
        .current_dir(cwd);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = run(&mut cmd);
    let new = env.reports_since(&before);
    assert_eq!(
        new.len(),
        1,
        "{mode}: one new report expected, got {new:?}\nstderr:\n{}",
        stderr_str(&out)
    );
    let report: Value = serde_json::from_slice(&fs::read(&new[0]).unwrap()).unwrap();
    Installed {
        code: out.status.code().unwrap_or(-1),
        stdout: stdout_str(&out),
        stderr: stderr_str(&out),
        report,
    }
}

/// Makes `project` a fresh npm project: a bare `package.json`, no
/// `node_modules` and no lockfile (the same install again would be a no-op).
pub fn fresh_npm_project(project: &Path) {
    let _ = fs::remove_dir_all(project.join("node_modules"));
    let _ = fs::remove_file(project.join("package-lock.json"));
    fs::write(
        project.join("package.json"),
        r#"{"name":"proj","version":"1.0.0"}"#,
    )
    .unwrap();
}

/// `npm install --foreground-scripts NAME` from `registry` in `project`,
/// made fresh first, monitored in `mode`.
pub fn npm_install(
    env: &ShimEnv,
    mode: &str,
    registry: &NpmRegistry,
    project: &Path,
    name: &str,
    vars: &[(&str, String)],
) -> Installed {
    fresh_npm_project(project);
    install(
        env,
        mode,
        &[
            "npm",
            "install",
            "--foreground-scripts",
            "--registry",
            &registry.registry_url(),
            name,
        ],
        project,
        vars,
    )
}

/// Checks the common shape of a finding.
pub fn check_finding(
    f: &Value,
    attack: &str,
    min_severity: &str,
    package: Option<&str>,
    hook: Option<&str>,
) {
    let order = ["info", "low", "medium", "high", "critical"];
    let sev = f["severity"].as_str().unwrap();
    assert!(
        order.iter().position(|s| *s == sev) >= order.iter().position(|s| *s == min_severity),
        "severity {sev} < {min_severity}: {f:#}"
    );
    assert!(
        f["attack"].as_array().unwrap().iter().any(|a| a == attack),
        "{attack} missing: {f:#}"
    );
    if let Some(p) = package {
        assert_eq!(f["package"].as_str(), Some(p), "{f:#}");
        assert!(f["pid"].as_i64().is_some_and(|p| p > 0), "{f:#}");
    }
    if let Some(h) = hook {
        assert_eq!(f["hook"].as_str(), Some(h), "{f:#}");
    }
}

/// Serves the files below `dir` on loopback.
pub fn static_server(dir: PathBuf) -> HttpServer {
    super::http::static_dir(dir)
}

/// The user's own proxy, on loopback: answers every plain request `200 ok`
/// and keeps the request lines. Names behind it need not resolve here, which
/// lets a test ask for a host outside the allowed set without DNS.
pub fn user_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    return;
                }
                log.lock().unwrap().push(line.trim().to_string());
                // The rest of the head.
                let mut h = String::new();
                while r.read_line(&mut h).is_ok_and(|n| n > 2) {
                    h.clear();
                }
                let mut w = conn;
                let _ = w.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    (url, seen)
}

/// The variables that make pkgwarden chain to the user's proxy, loopback
/// registries excepted.
pub fn behind(proxy: &str) -> Vec<(&'static str, String)> {
    vec![
        ("HTTP_PROXY", proxy.to_string()),
        ("HTTPS_PROXY", proxy.to_string()),
        ("NO_PROXY", "127.0.0.1,localhost".to_string()),
    ]
}

/// What a loopback index heard of the login `user`:`password` (as
/// `UV_INDEX_INTERNAL_*`) after a block-mode `uv sync` of a project that
/// names the index `internal` at that index's URL, with `setup` run on the
/// environment and the URL first (a user's `uv.toml`). True when the login
/// was sent; the install's result with it.
pub fn uv_index_login_sent(
    user: &str,
    password: &str,
    setup: impl FnOnce(&ShimEnv, &str),
) -> (bool, Installed) {
    use base64::Engine as _;
    let (port, heard) = super::listeners::header_sink();
    let env = ShimEnv::new(&[]);
    let url = format!("http://127.0.0.1:{port}/simple/");
    setup(&env, &url);
    let project = env.home.subdir("uvproj");
    fs::write(
        project.join("pyproject.toml"),
        format!(
            "[project]\nname = \"uvproj\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"pwanything\"]\n\n[[tool.uv.index]]\nname = \"internal\"\nurl = \"{url}\"\ndefault = true\n"
        ),
    )
    .unwrap();
    let py = which::which("python3")
        .expect("python3")
        .display()
        .to_string();
    let r = install(
        &env,
        "block",
        &["uv", "sync", "--no-cache", "--python", &py],
        &project,
        &[
            ("UV_INDEX_INTERNAL_USERNAME", user.to_string()),
            ("UV_INDEX_INTERNAL_PASSWORD", password.to_string()),
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    let want = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let sent = heard.lock().unwrap().iter().any(|h| h.contains(&want));
    (sent, r)
}
