//! Proves the loopback registries of `tests/support` work with the real pip
//! and npm (no pkgwarden involved).

use crate::support;

use std::io::Read;

use support::{
    NpmRegistry, PypiIndex, TestHome, assert_success, npm, run, stderr_str, stdout_str, venv,
    venv_bin,
};

/// Raw HTTP GET against the loopback server; returns (status, body).
fn http_get(url: &str) -> (u16, Vec<u8>) {
    use std::io::Write;
    let rest = url
        .strip_prefix("http://")
        .expect("loopback URLs are plain http");
    let (authority, path) = rest.split_once('/').expect("URL has a path");
    let mut stream = std::net::TcpStream::connect(authority).expect("connect to test server");
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response has a header block");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    (status, raw[split + 4..].to_vec())
}

#[test]
fn pip_installs_from_loopback_index() {
    let index = PypiIndex::start(&["pwdemo"]);
    let home = TestHome::new();
    let venv = venv(&home);

    let mut cmd = home.command(venv_bin(&venv, "pip"));
    cmd.args(["install", "--index-url", &index.index_url(), "pwdemo"]);
    let out = run(&mut cmd);
    assert_success(&out, "pip install pwdemo");
    assert!(
        stdout_str(&out).contains("Successfully installed pwdemo-1.0.0"),
        "unexpected pip output: {}",
        stdout_str(&out)
    );
    assert!(index.was_requested("/simple/pwdemo/"));
    assert!(index.was_downloaded("pwdemo"));

    let mut cmd = home.command(venv_bin(&venv, "python"));
    cmd.args(["-c", "import pwdemo; print(pwdemo.greeting())"]);
    let out = run(&mut cmd);
    assert_success(&out, "import pwdemo");
    assert_eq!(stdout_str(&out).trim(), "pwdemo says hello");

    // pip's own view of the install: the RECORD we wrote must be coherent
    // enough for `pip show --files` and a clean uninstall.
    let mut cmd = home.command(venv_bin(&venv, "pip"));
    cmd.args(["show", "--files", "pwdemo"]);
    let out = run(&mut cmd);
    assert_success(&out, "pip show pwdemo");
    let shown = stdout_str(&out);
    assert!(shown.contains("Version: 1.0.0"), "{shown}");
    assert!(shown.contains("pwdemo/__init__.py"), "{shown}");

    let mut cmd = home.command(venv_bin(&venv, "pip"));
    cmd.args(["uninstall", "-y", "pwdemo"]);
    assert_success(&run(&mut cmd), "pip uninstall pwdemo");
    let mut cmd = home.command(venv_bin(&venv, "python"));
    cmd.args(["-c", "import pwdemo"]);
    assert!(!run(&mut cmd).status.success(), "pwdemo still importable");
}

#[test]
fn pip_reports_missing_project() {
    let index = PypiIndex::start(&["pwdemo"]);
    let home = TestHome::new();
    let venv = venv(&home);

    let mut cmd = home.command(venv_bin(&venv, "pip"));
    cmd.args([
        "install",
        "--index-url",
        &index.index_url(),
        "does-not-exist",
    ]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_str(&out));
    assert!(
        stderr_str(&out).contains("No matching distribution found for does-not-exist"),
        "unexpected pip stderr: {}",
        stderr_str(&out)
    );
    // The miss was answered by our index, not by anything else.
    assert!(
        index
            .requests()
            .iter()
            .any(|r| r.path == "/simple/does-not-exist/" && r.status == 404),
        "{:?}",
        index.requests()
    );
}

#[test]
fn simple_index_pages_are_well_formed() {
    let index = PypiIndex::start(&["pwdemo"]);
    index.add_sdist("pwdemo");

    let (status, body) = http_get(&index.index_url());
    assert_eq!(status, 200);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("<a href=\"/simple/pwdemo/\">pwdemo</a>"),
        "{body}"
    );

    // Non-normalized names resolve to the same project page.
    let (status, body) = http_get(&format!("{}PwDemo/", index.index_url()));
    assert_eq!(status, 200);
    let body = String::from_utf8_lossy(&body).into_owned();
    for file in ["pwdemo-1.0.0-py3-none-any.whl", "pwdemo-1.0.0.tar.gz"] {
        let (_, after) = body
            .split_once(&format!("/files/pwdemo/{file}#sha256="))
            .unwrap_or_else(|| panic!("no link for {file} in {body}"));
        let hash: String = after
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        let (status, bytes) = http_get(&index.file_url("pwdemo", file));
        assert_eq!(status, 200);
        assert_eq!(hash, support::sha256_hex(&bytes), "{file}");
    }

    let (status, _) = http_get(&format!("{}nope/", index.index_url()));
    assert_eq!(status, 404);
    assert_eq!(index.request_count(), 5);
}

#[test]
fn npm_installs_from_loopback_registry() {
    let registry = NpmRegistry::start(&["pwdemo", "pwdemo-dep"]);
    let home = TestHome::new();
    let project = home.subdir("project");
    std::fs::write(
        project.join("package.json"),
        r#"{"name":"pw-test-project","version":"0.0.0","private":true}"#,
    )
    .expect("write project package.json");

    let mut cmd = home.command(npm());
    cmd.current_dir(&project)
        .args(["install", "--registry", &registry.registry_url(), "pwdemo"]);
    let out = run(&mut cmd);
    assert_success(&out, "npm install pwdemo");

    for (name, path) in [
        ("pwdemo", "node_modules/pwdemo"),
        ("pwdemo-dep", "node_modules/pwdemo-dep"),
    ] {
        let manifest = std::fs::read_to_string(project.join(path).join("package.json"))
            .unwrap_or_else(|e| panic!("{path}/package.json: {e}"));
        let manifest: serde_json::Value =
            serde_json::from_str(&manifest).expect("installed package.json parses");
        assert_eq!(manifest["name"], name);
        assert_eq!(manifest["version"], "1.0.0");
        assert!(registry.was_requested(&format!("/{name}")), "{name}");
        assert!(registry.tarball_fetched(name, "1.0.0"), "{name}");
    }

    // The lockfile records our loopback tarball URLs and integrity.
    let lock = std::fs::read_to_string(project.join("package-lock.json")).expect("lockfile");
    let lock: serde_json::Value = serde_json::from_str(&lock).expect("lockfile parses");
    let entry = &lock["packages"]["node_modules/pwdemo"];
    assert_eq!(entry["version"], "1.0.0");
    assert_eq!(entry["resolved"], registry.tarball_url("pwdemo", "1.0.0"));
    assert!(
        entry["integrity"]
            .as_str()
            .is_some_and(|s| s.starts_with("sha512-")),
        "{entry}"
    );

    let mut cmd = home.command(support::node());
    cmd.current_dir(&project).args([
        "-e",
        "const p = require('pwdemo'); console.log(p.greeting + ' / ' + p.dep)",
    ]);
    let out = run(&mut cmd);
    assert_success(&out, "node require('pwdemo')");
    assert_eq!(stdout_str(&out).trim(), "pwdemo says hello / pwdemo-dep");
}

#[test]
fn npm_reports_missing_package() {
    let registry = NpmRegistry::start(&["pwdemo", "pwdemo-dep"]);
    let home = TestHome::new();
    let project = home.subdir("project");
    std::fs::write(
        project.join("package.json"),
        r#"{"name":"pw-test-project","version":"0.0.0","private":true}"#,
    )
    .expect("write project package.json");

    let mut cmd = home.command(npm());
    cmd.current_dir(&project).args([
        "install",
        "--registry",
        &registry.registry_url(),
        "does-not-exist",
    ]);
    let out = run(&mut cmd);
    assert!(
        !out.status.success(),
        "npm install of a missing package succeeded"
    );
    assert!(stderr_str(&out).contains("E404"), "{}", stderr_str(&out));
    assert!(registry.was_requested("/does-not-exist"));
    assert!(!project.join("node_modules/does-not-exist").exists());
}

#[test]
fn npm_registry_serves_packuments_and_404s() {
    let registry = NpmRegistry::start(&["pwdemo", "pwdemo-dep"]);

    let (status, body) = http_get(&format!("{}pwdemo", registry.registry_url()));
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_slice(&body).expect("packument is JSON");
    assert_eq!(doc["name"], "pwdemo");
    assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
    let v = &doc["versions"]["1.0.0"];
    assert_eq!(v["dependencies"]["pwdemo-dep"], "1.0.0");
    let tarball_url = v["dist"]["tarball"].as_str().expect("dist.tarball");
    assert_eq!(tarball_url, registry.tarball_url("pwdemo", "1.0.0"));
    assert!(tarball_url.starts_with("http://127.0.0.1:"));

    let (status, tgz) = http_get(tarball_url);
    assert_eq!(status, 200);
    assert_eq!(v["dist"]["shasum"], support::sha1_hex(&tgz));
    assert_eq!(
        v["dist"]["integrity"],
        format!("sha512-{}", support::sha512_b64(&tgz))
    );
    // Every entry sits under `package/`.
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz.as_slice()));
    let mut names = Vec::new();
    for entry in archive.entries().expect("tar entries") {
        let entry = entry.expect("tar entry");
        names.push(
            entry
                .path()
                .expect("entry path")
                .to_string_lossy()
                .into_owned(),
        );
    }
    assert_eq!(names, ["package/index.js", "package/package.json"]);

    let (status, body) = http_get(&format!("{}does-not-exist", registry.registry_url()));
    assert_eq!(status, 404);
    let body: serde_json::Value = serde_json::from_slice(&body).expect("404 body is JSON");
    assert_eq!(body, serde_json::json!({"error": "not found"}));
}

#[test]
fn npm_installs_scoped_package_from_loopback_registry() {
    let scoped = support::NpmPackage::new(
        serde_json::json!({
            "name": "@pwtest/scoped",
            "version": "2.0.0",
            "main": "index.js",
            "dependencies": {"pwdemo-dep": "1.0.0"}
        }),
        &[("index.js", b"module.exports = 'scoped';\n")],
    );
    let registry = NpmRegistry::start(&["pwdemo-dep"]);
    registry.add(scoped);
    let home = TestHome::new();
    let project = home.subdir("project");
    std::fs::write(
        project.join("package.json"),
        r#"{"name":"pw-test-project","version":"0.0.0","private":true}"#,
    )
    .expect("write project package.json");

    let mut cmd = home.command(npm());
    cmd.current_dir(&project).args([
        "install",
        "--registry",
        &registry.registry_url(),
        "@pwtest/scoped",
    ]);
    assert_success(&run(&mut cmd), "npm install @pwtest/scoped");

    assert!(registry.was_requested("/@pwtest/scoped"));
    assert!(registry.tarball_fetched("@pwtest/scoped", "2.0.0"));
    assert!(registry.tarball_fetched("pwdemo-dep", "1.0.0"));
    assert_eq!(
        std::fs::read_to_string(project.join("node_modules/@pwtest/scoped/index.js"))
            .expect("scoped package installed"),
        "module.exports = 'scoped';\n"
    );
    assert!(
        project
            .join("node_modules/pwdemo-dep/package.json")
            .is_file()
    );
}
