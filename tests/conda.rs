//! conda installs through the shim, sandboxed and judged. conda itself cannot
//! be installed on these machines: the `conda` on PATH is the stand-in in
//! tests/standins/conda (py-rattler really solves, downloads and links; link
//! scripts run as conda runs them). The channel is served on loopback by the
//! test, with `.tar.bz2` packages built here; the channel's host reaches
//! pkgwarden only through the stand-in's `conda config --show --json`.

use crate::support;

use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use support::*;

const BLOCKED: i32 = 90;

/// The stand-in's interpreter (py-rattler and PyYAML inside).
const CONDA_PYTHON: &str = "/opt/pkgwarden-conda/bin/python";

fn require_standin() {
    let ok = Path::new(CONDA_PYTHON).is_file()
        && std::process::Command::new(CONDA_PYTHON)
            .args(["-c", "import rattler, yaml"])
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{CONDA_PYTHON} with py-rattler and PyYAML is missing: `bash .ci/run` installs it"
    );
}

/// One file of a package: prefix-relative path, content, mode.
type File = (&'static str, Vec<u8>, u32);

/// A noarch conda package: its file name and repodata entry, and the archive.
struct CondaPackage {
    file_name: String,
    record: Value,
    archive: Vec<u8>,
}

fn bz2(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new(CONDA_PYTHON)
        .args([
            "-c",
            "import bz2, sys; sys.stdout.buffer.write(bz2.compress(sys.stdin.buffer.read()))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run the stand-in's python for bz2");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("feed bz2");
    let out = child.wait_with_output().expect("bz2 output");
    assert!(out.status.success(), "bz2 compression failed");
    out.stdout
}

fn package(name: &str, version: &str, files: Vec<File>) -> CondaPackage {
    let index = json!({
        "name": name, "version": version, "build": "0", "build_number": 0,
        "depends": [], "noarch": "generic", "subdir": "noarch",
    });
    let paths: Vec<Value> = files
        .iter()
        .map(|(p, c, _)| {
            json!({"_path": p, "path_type": "hardlink", "sha256": sha256_hex(c),
                   "size_in_bytes": c.len()})
        })
        .collect();
    let listed: String = files.iter().map(|(p, _, _)| format!("{p}\n")).collect();
    let mut entries: Vec<(String, Vec<u8>, u32)> = vec![
        (
            "info/index.json".into(),
            index.to_string().into_bytes(),
            0o644,
        ),
        (
            "info/paths.json".into(),
            json!({"paths": paths, "paths_version": 1})
                .to_string()
                .into_bytes(),
            0o644,
        ),
        ("info/files".into(), listed.into_bytes(), 0o644),
    ];
    entries.extend(files.into_iter().map(|(p, c, m)| (p.to_string(), c, m)));
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data, mode) in &entries {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(499_162_500);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, path, data.as_slice())
            .expect("tar entry");
    }
    let archive = bz2(&tar.into_inner().expect("tar"));
    let mut record = index;
    record["sha256"] = json!(sha256_hex(&archive));
    record["size"] = json!(archive.len());
    CondaPackage {
        file_name: format!("{name}-{version}-0.tar.bz2"),
        record,
        archive,
    }
}

/// What the channel answers for one path: status, content type, body.
fn answer(path: &str, noarch: &Value, packages: &[CondaPackage]) -> (u16, &'static str, Vec<u8>) {
    let missing = (404, "text/plain", b"not found\n".to_vec());
    let Some((subdir, file)) = path.strip_prefix("/pw/").and_then(|r| r.split_once('/')) else {
        return missing;
    };
    match (subdir, file) {
        ("noarch", "repodata.json") => (200, "application/json", noarch.to_string().into_bytes()),
        (sub, "repodata.json") => (
            200,
            "application/json",
            json!({"info": {"subdir": sub}, "packages": {}, "packages.conda": {}})
                .to_string()
                .into_bytes(),
        ),
        ("noarch", f) => match packages.iter().find(|p| p.file_name == f) {
            Some(p) => (200, "application/x-tar", p.archive.clone()),
            None => missing,
        },
        _ => missing,
    }
}

/// A channel named `pw` on loopback (`/pw/noarch/…`, and an empty repodata
/// for every other subdir): its port. A thread per connection, one request
/// each: rattler opens several connections at once.
fn channel(packages: Vec<CondaPackage>) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let mut records = serde_json::Map::new();
    for p in &packages {
        records.insert(p.file_name.clone(), p.record.clone());
    }
    let noarch = Arc::new(json!({"info": {"subdir": "noarch"}, "packages": records,
                                 "packages.conda": {}}));
    let packages = Arc::new(packages);
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the channel");
    let port = l.local_addr().expect("channel address").port();
    std::thread::spawn(move || {
        for mut conn in l.incoming().flatten() {
            let (noarch, packages) = (noarch.clone(), packages.clone());
            std::thread::spawn(move || {
                let Ok(read) = conn.try_clone() else { return };
                let mut r = BufReader::new(read);
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    return;
                }
                let mut h = String::new();
                while r.read_line(&mut h).is_ok_and(|n| n > 2) {
                    h.clear();
                }
                let mut words = line.split_whitespace();
                let method = words.next().unwrap_or("");
                let path = words.next().unwrap_or("").split('?').next().unwrap_or("");
                let (status, kind, body) = answer(path, &noarch, &packages);
                let head = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    if status == 200 { "OK" } else { "Not Found" },
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                if method != "HEAD" {
                    let _ = conn.write_all(&body);
                }
            });
        }
    });
    port
}

/// A test HOME with the shims first, then a directory holding `conda` (the
/// stand-in), and a `~/.condarc` naming the channel through `channel_alias`.
struct Case {
    env: ShimEnv,
    _bin: tempfile::TempDir,
    port: u16,
    prefix: PathBuf,
}

fn case(packages: Vec<CondaPackage>) -> Case {
    case_with(packages, "")
}

/// [`case`], with more `.condarc` lines.
fn case_with(packages: Vec<CondaPackage>, condarc: &str) -> Case {
    require_standin();
    let port = channel(packages);
    let bin = tempfile::tempdir().expect("bin dir");
    let conda = bin.path().join("conda");
    fs::copy(crate_root().join("tests/standins/conda/conda"), &conda)
        .expect("copy the conda stand-in");
    let env = ShimEnv::new(&[bin.path()]);
    fs::write(
        env.home.path().join(".condarc"),
        format!("channels:\n  - pw\nchannel_alias: http://127.0.0.1:{port}\n{condarc}"),
    )
    .expect("write .condarc");
    let prefix = env.home.path().join("envs/pw");
    Case {
        port,
        env,
        _bin: bin,
        prefix,
    }
}

/// One install through the shim, and the report it left.
struct Installed {
    code: i32,
    stderr: String,
    report: Value,
}

impl Installed {
    fn finding(&self, rule: &str, path_end: &str) -> &Value {
        self.report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| {
                f["rule"] == rule
                    && f["evidence"]["paths"]
                        .as_array()
                        .is_some_and(|p| p.iter().any(|x| x.as_str().is_some_and(|s| s.ends_with(path_end))))
            })
            .unwrap_or_else(|| {
                panic!(
                    "no {rule} finding for {path_end}\nstderr:\n{}\nfindings: {:#}\nprocesses: {:#}",
                    self.stderr, self.report["findings"], self.report["processes"]
                )
            })
    }

    fn serious(&self) -> Vec<&Value> {
        support::installs::serious(&self.report)
    }
}

impl Case {
    /// `conda create -y -p PREFIX <packages>` through the shim, in `mode`.
    fn create(&self, mode: &str, packages: &[&str]) -> Installed {
        self.create_with(mode, packages, &[])
    }

    /// [`Case::create`] with more variables for pkgwarden.
    fn create_with(&self, mode: &str, packages: &[&str], vars: &[(&str, &str)]) -> Installed {
        let _ = fs::remove_dir_all(&self.prefix);
        let before = self.env.report_files();
        let mut cmd = self.env.shim("conda");
        cmd.args(["create", "-y", "-p"])
            .arg(&self.prefix)
            .args(packages)
            .env("PKGWARDEN_MODE", mode)
            .envs(vars.iter().copied());
        let out = run(&mut cmd);
        let stderr = stderr_str(&out);
        let new = self.env.reports_since(&before);
        assert_eq!(
            new.len(),
            1,
            "{mode}: one new report expected (the install must be sandboxed), got {new:?}\nstdout:\n{}\nstderr:\n{stderr}",
            stdout_str(&out)
        );
        let report = serde_json::from_slice(&fs::read(&new[0]).expect("read report"))
            .expect("report is JSON");
        Installed {
            code: out.status.code().unwrap_or(-1),
            stderr,
            report,
        }
    }

    fn bashrc(&self) -> Option<Vec<u8>> {
        fs::read(self.env.home.path().join(".bashrc")).ok()
    }
}

fn incident(name: &str) -> Vec<u8> {
    let p = crate_root().join("tests/fixtures/incidents").join(name);
    fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A plain package with a post-link script that stays in its prefix, and one
/// with an ordinary activation script (JAVA_HOME).
fn benign_packages() -> Vec<CondaPackage> {
    vec![
        package(
            "pw-plain",
            "1.0",
            vec![
                ("share/pw-plain/data.txt", b"plain data\n".to_vec(), 0o644),
                (
                    "bin/.pw-plain-post-link.sh",
                    b"echo \"$PKG_NAME $PKG_VERSION\" > \"$PREFIX/share/pw-plain/linked.txt\"\n"
                        .to_vec(),
                    0o755,
                ),
            ],
        ),
        package(
            "pw-jdk",
            "2.1",
            vec![(
                "etc/conda/activate.d/pw-jdk.sh",
                b"export _PW_OLD_JAVA_HOME=\"${JAVA_HOME:-}\"\nexport JAVA_HOME=\"$CONDA_PREFIX/lib/jvm\"\n"
                    .to_vec(),
                0o644,
            )],
        ),
    ]
}

#[test]
fn a_benign_conda_create_is_sandboxed_and_quiet() {
    let c = case(benign_packages());
    let r = c.create("protect", &["pw-plain", "pw-jdk"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains(SANDBOXED), "{}", r.stderr);
    assert_eq!(r.report["what"]["manager"], "conda");
    // The stand-in really linked both packages and ran the post-link script.
    assert_eq!(
        fs::read_to_string(c.prefix.join("share/pw-plain/linked.txt")).ok(),
        Some("pw-plain 1.0\n".to_string())
    );
    assert!(c.prefix.join("etc/conda/activate.d/pw-jdk.sh").is_file());
    assert!(c.prefix.join("conda-meta").is_dir());
    // The channel's host came from the stand-in's configuration and was let
    // through as a registry.
    let endpoints = r.report["endpoints"].as_array().expect("endpoints");
    assert!(
        endpoints
            .iter()
            .any(|e| e["port"] == c.port && e["method"] == "GET"),
        "{endpoints:#?}"
    );
    for e in endpoints.iter().filter(|e| e["port"] == c.port) {
        assert_eq!(e["verdict"], "allowed", "{e:#}");
    }
    assert!(
        r.serious().is_empty(),
        "a benign conda install raised {:#?}",
        r.serious()
    );
}

#[test]
fn a_post_link_script_appending_to_bashrc_is_caught_and_blocked() {
    let c = case(vec![package(
        "pw-rcpost",
        "1.0",
        vec![
            (
                "share/pw-rcpost/readme.txt",
                b"nothing here\n".to_vec(),
                0o644,
            ),
            (
                "bin/.pw-rcpost-post-link.sh",
                incident("conda-post-link-rc.sh"),
                0o755,
            ),
        ],
    )]);
    fs::write(c.env.home.path().join(".bashrc"), "# user's own\n").expect("bashrc");
    let before = c.bashrc();

    let p = c.create("protect", &["pw-rcpost"]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let f = p.finding("persist.shell-rc", "/.bashrc");
    assert_eq!(f["package"], "pw-rcpost@1.0", "{f:#}");
    assert_eq!(f["hook"], "post-link", "{f:#}");
    assert!(
        f["attack"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "T1546.004"))
    );
    assert_eq!(f["severity"], "high");
    assert_eq!(f["action"], "blocked", "{f:#}");
    assert_eq!(c.bashrc(), before, "protect let the write through");

    let b = c.create("block", &["pw-rcpost"]);
    assert_eq!(b.code, BLOCKED, "{}", b.stderr);
    assert_eq!(b.report["outcome"]["status"], "blocked");
    assert_eq!(
        b.finding("persist.shell-rc", "/.bashrc")["package"],
        "pw-rcpost@1.0"
    );
    assert_eq!(c.bashrc(), before, "block mode left .bashrc changed");

    // Audit lets it happen: the ground truth sees the same package.
    let a = c.create("audit", &["pw-rcpost"]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let f = a.finding("persist.shell-rc", "/.bashrc");
    assert_eq!(f["package"], "pw-rcpost@1.0", "{f:#}");
    assert_eq!(f["action"], "observed");
    assert_ne!(c.bashrc(), before, "audit denies nothing");
}

#[test]
fn a_malicious_activation_script_is_a_shell_start_up_hook() {
    let c = case(vec![package(
        "pw-activate",
        "3.0",
        vec![(
            "etc/conda/activate.d/pw-activate.sh",
            incident("conda-activate-fetch.sh"),
            0o644,
        )],
    )]);
    let script = c.prefix.join("etc/conda/activate.d/pw-activate.sh");

    let p = c.create("protect", &["pw-activate"]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let f = p.finding("persist.shell-rc", "/etc/conda/activate.d/pw-activate.sh");
    assert_eq!(f["package"], "pw-activate@3.0", "{f:#}");
    assert_eq!(f["hook"], "activate.d", "{f:#}");
    assert_eq!(f["severity"], "high");
    assert!(
        f["evidence"]["excerpt"]
            .as_str()
            .is_some_and(|e| e.contains("curl")),
        "{f:#}"
    );
    assert!(script.is_file());

    let b = c.create("block", &["pw-activate"]);
    assert_eq!(b.code, BLOCKED, "{}", b.stderr);
    let f = b.finding("persist.shell-rc", "/etc/conda/activate.d/pw-activate.sh");
    assert_eq!(f["action"], "quarantined", "{f:#}\n{}", b.stderr);
    assert!(!script.exists(), "block mode left {}", script.display());
}

/// The user's own proxy on loopback: answers every request `200 ok` and
/// keeps the request lines.
fn user_proxy() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the user's proxy");
    let url = format!("http://{}", l.local_addr().expect("its address"));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut conn in l.incoming().flatten() {
            let Ok(read) = conn.try_clone() else { continue };
            let mut r = BufReader::new(read);
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            if let Ok(mut l) = log.lock() {
                l.push(line.trim().to_string());
            }
            let mut h = String::new();
            while r.read_line(&mut h).is_ok_and(|n| n > 2) {
                h.clear();
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (url, seen)
}

#[test]
fn the_proxy_servers_of_the_condarc_are_chained() {
    // conda's own proxy setting lives in the condarc, not in the
    // environment: pkgwarden's proxy must still go out through it.
    let (proxy, seen) = user_proxy();
    let c = case_with(
        vec![package(
            "pw-fetch",
            "1.0",
            vec![
                (
                    "share/pw-fetch/fetch.py",
                    incident("fetch-unexpected.py"),
                    0o644,
                ),
                (
                    "bin/.pw-fetch-post-link.sh",
                    b"/usr/bin/python3 \"$PREFIX/share/pw-fetch/fetch.py\" > \"$PREFIX/share/pw-fetch/out.txt\"\n"
                        .to_vec(),
                    0o755,
                ),
            ],
        )],
        &format!("proxy_servers:\n  http: {proxy}\n  https: {proxy}\n"),
    );
    let r = c.create_with(
        "protect",
        &["pw-fetch"],
        &[("NO_PROXY", "127.0.0.1,localhost")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fs::read_to_string(c.prefix.join("share/pw-fetch/out.txt")).ok(),
        Some("fetch-unexpected got 200\n".to_string()),
        "{}",
        r.stderr
    );
    let lines = seen.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("GET http://unexpected-host.example/collect")),
        "the condarc's proxy saw {lines:?}"
    );
    let f = r.report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "net.unexpected-host")
        .unwrap_or_else(|| panic!("no net.unexpected-host: {:#}", r.report["findings"]));
    assert_eq!(f["package"], "pw-fetch@1.0", "{f:#}");
    assert_eq!(f["hook"], "post-link", "{f:#}");
}
