//! Real pip through pkgwarden's proxy against origins of the shapes private
//! mirrors have: `python3 -m http.server` (HTTP/1.0, closing after each
//! response), an HTTP/1.1 registry closing idle kept-alive connections, and
//! a registry redirecting its downloads to a second loopback origin that no
//! policy names (allowed because the registry sent the client there).

use crate::support;

use std::fs;
use support::installs::{install, npm_install};
use support::origins::{PythonHttpServer, keep_alive_origin, keep_alive_origin_on};
use support::pypi::build_wheel;
use support::{PipFixture, ShimEnv, TestHome, venv};

/// A PEP 503 index of one wheel, as files: `simple/pwdemo/index.html` and
/// `files/<wheel>`.
fn index_dir() -> (tempfile::TempDir, String) {
    let dist = build_wheel(&PipFixture::load("pwdemo"));
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("simple/pwdemo")).unwrap();
    fs::create_dir_all(dir.path().join("files")).unwrap();
    fs::write(dir.path().join("files").join(&dist.filename), &dist.bytes).unwrap();
    fs::write(
        dir.path().join("simple/pwdemo/index.html"),
        format!(
            "<!DOCTYPE html><html><body><a href=\"/files/{0}#sha256={1}\">{0}</a></body></html>\n",
            dist.filename,
            dist.sha256()
        ),
    )
    .unwrap();
    (dir, dist.filename)
}

fn pip_env() -> (ShimEnv, TestHome, std::path::PathBuf) {
    let venv_home = TestHome::new();
    let v = venv(&venv_home);
    let env = ShimEnv::new(&[&v.join("bin")]);
    (env, venv_home, v)
}

fn endpoints(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["endpoints"].as_array().cloned().unwrap_or_default()
}

#[test]
fn pip_installs_from_an_http_1_0_index() {
    let (dir, _) = index_dir();
    let server = PythonHttpServer::start(dir.path());
    let (env, _venv_home, _v) = pip_env();
    let url = format!("http://{}/simple/", server.addr);
    for mode in ["protect", "block"] {
        let r = install(
            &env,
            mode,
            &[
                "pip",
                "install",
                "--no-cache-dir",
                "--index-url",
                &url,
                "pwdemo",
            ],
            env.home.path(),
            &[],
        );
        assert_eq!(r.code, 0, "{mode}\n{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("Successfully installed pwdemo"),
            "{}",
            r.stdout
        );
        let eps = endpoints(&r.report);
        // The page and the wheel, both through the proxy, both allowed.
        assert!(eps.len() >= 2, "{eps:#?}");
        assert!(eps.iter().all(|e| e["verdict"] == "allowed"), "{eps:#?}");
        let _ = support::run(
            env.bare(_v.join("bin/pip"))
                .args(["uninstall", "-y", "pwdemo"]),
        );
    }
}

#[test]
fn pip_follows_a_registry_redirect_to_a_second_origin() {
    let (dir, filename) = index_dir();
    // The files on a second origin, HTTP/1.0; named by no policy.
    let files = PythonHttpServer::start(dir.path());
    let page = fs::read(dir.path().join("simple/pwdemo/index.html")).unwrap();
    let files_addr = files.addr;
    // The registry: HTTP/1.1, kept alive, idle connections closed after 1 s;
    // its downloads redirect to the files origin.
    let registry = keep_alive_origin(move |path| {
        if path.starts_with("/simple/pwdemo") {
            (
                "200 OK".into(),
                "Content-Type: text/html\r\n".into(),
                page.clone(),
            )
        } else if let Some(f) = path.strip_prefix("/files/") {
            (
                "302 Found".into(),
                format!("Location: http://{files_addr}/files/{f}\r\n"),
                Vec::new(),
            )
        } else {
            ("404 Not Found".into(), String::new(), Vec::new())
        }
    });
    let (env, _venv_home, v) = pip_env();
    let url = format!("http://{registry}/simple/");
    for mode in ["protect", "block"] {
        let r = install(
            &env,
            mode,
            &[
                "pip",
                "install",
                "--no-cache-dir",
                "--index-url",
                &url,
                "pwdemo",
            ],
            env.home.path(),
            &[],
        );
        assert_eq!(r.code, 0, "{mode}\n{}\n{}", r.stdout, r.stderr);
        let eps = endpoints(&r.report);
        let to_files: Vec<_> = eps
            .iter()
            .filter(|e| e["port"] == files_addr.port())
            .collect();
        assert!(!to_files.is_empty(), "{mode}: {eps:#?}");
        assert!(
            to_files.iter().all(|e| e["verdict"] == "allowed"
                && e["reason"].as_str().is_some_and(|x| x.contains("redirect"))),
            "{mode}: {eps:#?}"
        );
        assert!(r.serious().is_empty(), "{mode}: {:#?}", r.serious());
        let _ = support::run(
            env.bare(v.join("bin/pip"))
                .args(["uninstall", "-y", "pwdemo"]),
        );
    }
    let _ = filename;
}

#[test]
fn npm_installs_from_an_http_1_0_registry() {
    let pkg = support::NpmPackage::new(
        serde_json::json!({"name": "pwplain", "version": "1.0.0", "main": "index.js"}),
        &[("index.js", b"module.exports = 'plain';\n")],
    );
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("tarballs")).unwrap();
    fs::write(dir.path().join("tarballs/pwplain-1.0.0.tgz"), &pkg.tarball).unwrap();
    let server = PythonHttpServer::start(dir.path());
    let mut version = pkg.manifest.clone();
    version["dist"] = serde_json::json!({
        "tarball": format!("http://{}/tarballs/pwplain-1.0.0.tgz", server.addr),
        "shasum": pkg.shasum(),
        "integrity": pkg.integrity(),
    });
    // The packument as a file named like the package: what a registry
    // mirrored onto a static server looks like.
    fs::write(
        dir.path().join("pwplain"),
        serde_json::json!({
            "name": "pwplain",
            "dist-tags": {"latest": "1.0.0"},
            "versions": {"1.0.0": version},
        })
        .to_string(),
    )
    .unwrap();
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    fs::write(
        project.join("package.json"),
        r#"{"name":"proj","version":"1.0.0"}"#,
    )
    .unwrap();
    let url = format!("http://{}/", server.addr);
    for mode in ["protect", "block"] {
        let _ = fs::remove_dir_all(project.join("node_modules"));
        let r = install(
            &env,
            mode,
            &[
                "npm",
                "install",
                "--prefer-online",
                "--registry",
                &url,
                "pwplain",
            ],
            &project,
            &[],
        );
        assert_eq!(r.code, 0, "{mode}\n{}\n{}", r.stdout, r.stderr);
        assert!(project.join("node_modules/pwplain/index.js").exists());
        let eps = endpoints(&r.report);
        assert!(!eps.is_empty(), "{eps:#?}");
        assert!(eps.iter().all(|e| e["verdict"] == "allowed"), "{eps:#?}");
    }
}

#[test]
fn npm_follows_a_registry_redirect_to_a_second_origin() {
    let pkg = support::NpmPackage::new(
        serde_json::json!({"name": "pwredir", "version": "1.0.0", "main": "index.js"}),
        &[("index.js", b"module.exports = 'redirected';\n")],
    );
    // The tarball on a second origin, HTTP/1.0; named by no policy.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("tarballs")).unwrap();
    fs::write(dir.path().join("tarballs/pwredir-1.0.0.tgz"), &pkg.tarball).unwrap();
    let files = PythonHttpServer::start(dir.path());
    let files_addr = files.addr;
    // The registry: HTTP/1.1, kept alive, idle connections closed after 1 s;
    // its packument names tarballs on itself, which redirect to the files
    // origin (what a Verdaccio- or Nexus-like mirror with a blob store does).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let registry_port = listener.local_addr().unwrap().port();
    let manifest = pkg.manifest.clone();
    let (shasum, integrity) = (pkg.shasum(), pkg.integrity());
    let registry = keep_alive_origin_on(listener, move |path| {
        if path == "/pwredir" {
            let mut version = manifest.clone();
            version["dist"] = serde_json::json!({
                "tarball": format!("http://127.0.0.1:{registry_port}/pwredir/-/pwredir-1.0.0.tgz"),
                "shasum": shasum,
                "integrity": integrity,
            });
            let body = serde_json::json!({
                "name": "pwredir",
                "dist-tags": {"latest": "1.0.0"},
                "versions": {"1.0.0": version},
            })
            .to_string()
            .into_bytes();
            (
                "200 OK".into(),
                "Content-Type: application/json\r\n".into(),
                body,
            )
        } else if path == "/pwredir/-/pwredir-1.0.0.tgz" {
            (
                "302 Found".into(),
                format!("Location: http://{files_addr}/tarballs/pwredir-1.0.0.tgz\r\n"),
                Vec::new(),
            )
        } else {
            ("404 Not Found".into(), String::new(), Vec::new())
        }
    });
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    fs::write(
        project.join("package.json"),
        r#"{"name":"proj","version":"1.0.0"}"#,
    )
    .unwrap();
    let url = format!("http://{registry}/");
    for mode in ["protect", "block"] {
        let _ = fs::remove_dir_all(project.join("node_modules"));
        let _ = fs::remove_file(project.join("package-lock.json"));
        let r = install(
            &env,
            mode,
            &[
                "npm",
                "install",
                "--prefer-online",
                "--registry",
                &url,
                "pwredir",
            ],
            &project,
            &[],
        );
        assert_eq!(r.code, 0, "{mode}\n{}\n{}", r.stdout, r.stderr);
        assert_eq!(
            fs::read_to_string(project.join("node_modules/pwredir/index.js")).unwrap(),
            "module.exports = 'redirected';\n"
        );
        let eps = endpoints(&r.report);
        let to_files: Vec<_> = eps
            .iter()
            .filter(|e| e["port"] == files_addr.port())
            .collect();
        assert!(!to_files.is_empty(), "{mode}: {eps:#?}");
        assert!(
            to_files.iter().all(|e| e["verdict"] == "allowed"
                && e["reason"].as_str().is_some_and(|x| x.contains("redirect"))),
            "{mode}: {eps:#?}"
        );
        assert!(
            eps.iter().all(|e| e["verdict"] == "allowed"),
            "{mode}: {eps:#?}"
        );
        assert!(r.serious().is_empty(), "{mode}: {:#?}", r.serious());
    }
}

/// Inert: a detached node process opens a CONNECT tunnel through the
/// install's proxy to the registry and keeps it open past the install; it
/// exits when the tunnel closes or after 20 s.
const HOLD_TUNNEL: &str = r#"
const { spawn } = require('child_process');
const child = spawn(process.execPath, ['-e', `
  const net = require('net');
  const p = new URL(process.env.HTTP_PROXY || process.env.http_proxy);
  const r = new URL(process.env.npm_config_registry);
  const auth = Buffer.from(decodeURIComponent(p.username) + ':' + decodeURIComponent(p.password)).toString('base64');
  const s = net.connect(Number(p.port), p.hostname, () => {
    s.write('CONNECT ' + r.host + ' HTTP/1.1\\r\\nHost: ' + r.host + '\\r\\nProxy-Authorization: Basic ' + auth + '\\r\\n\\r\\n');
  });
  s.on('data', () => {});
  s.on('close', () => process.exit(0));
  s.on('error', () => process.exit(0));
  setTimeout(() => process.exit(0), 20000);
`], { detached: true, stdio: 'ignore', env: process.env });
child.unref();
// Give the tunnel time to be made before the install ends.
setTimeout(() => {}, 1500);
"#;

#[test]
fn a_tunnel_kept_open_by_a_detached_process_is_in_the_report() {
    let pkg = support::NpmPackage::new(
        serde_json::json!({
            "name": "pwhold", "version": "1.0.0",
            "scripts": {"install": "node hold.js"}
        }),
        &[("hold.js", HOLD_TUNNEL.as_bytes())],
    );
    let registry = support::NpmRegistry::start_with(vec![pkg]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    let r = npm_install(&env, "protect", &registry, &project, "pwhold", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let eps = endpoints(&r.report);
    let tunnel = eps
        .iter()
        .find(|e| e["method"] == "CONNECT" && e["port"] == registry.port())
        .unwrap_or_else(|| panic!("no tunnel in the report: {eps:#?}"));
    assert_eq!(tunnel["verdict"], "allowed", "{tunnel:#}");
    assert_eq!(tunnel["open_at_end"], true, "{tunnel:#}");
    assert!(tunnel["pid"].as_i64().is_some_and(|p| p > 0), "{tunnel:#}");
}
