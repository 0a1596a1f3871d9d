//! Issue 15 over TLS: with a feed present, the manager's own registries
//! reached over TLS are terminated by the proxy (a per-install CA the
//! sandboxed manager trusts through its own settings), so a known-malicious
//! archive is refused before the registry is asked, as over plain HTTP.
//! Without a feed nothing is terminated. The registries here are loopback
//! ones behind a TLS front whose CA the bare manager trusts through its own
//! configuration (npm's `cafile`, pip's `PIP_CERT`).

use crate::support;

use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use support::installs::{Installed, fresh_npm_project, gem_install, install};
use support::intel::{import, record};
use support::tls::{TestCa, TlsFront};
use support::*;

/// An npm registry over TLS: `pwapp@1.0.0` depending on `pwdep@^1.0.0`.
struct NpmTls {
    registry: NpmRegistry,
    front: TlsFront,
    ca: PathBuf,
}

fn npm_tls(home: &Path) -> NpmTls {
    let ca = TestCa::new(&home.join("ca"));
    let mut front = TlsFront::bind(&ca);
    let dep = NpmPackage::new(
        json!({"name": "pwdep", "version": "1.0.0", "license": "MIT"}),
        &[("index.js", b"module.exports = 1;\n")],
    );
    let app = NpmPackage::new(
        json!({"name": "pwapp", "version": "1.0.0", "license": "MIT",
               "dependencies": {"pwdep": "^1.0.0"}}),
        &[("index.js", b"module.exports = require('pwdep');\n")],
    );
    let registry = NpmRegistry::start_at(vec![dep, app], Some(front.named_url()));
    front.start(registry.port());
    NpmTls {
        registry,
        front,
        ca: ca.pem,
    }
}

/// `npm install pwapp` from the TLS registry, npm trusting the test CA
/// through its own `cafile` setting.
fn npm_app(env: &ShimEnv, r: &NpmTls, mode: &str, project: &Path) -> Installed {
    fresh_npm_project(project);
    let registry = format!("{}/", r.front.named_url());
    install(
        env,
        mode,
        &["npm", "install", "--registry", &registry, "pwapp"],
        project,
        &[("npm_config_cafile", r.ca.display().to_string())],
    )
}

/// The proxy's record of `CONNECT`s to `port`, with their reasons.
fn connects(report: &Value, port: u16) -> Vec<String> {
    report["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["method"] == "CONNECT" && e["port"] == port)
        .map(|e| e["reason"].as_str().unwrap_or("").to_string())
        .collect()
}

fn tarball_asked(registry: &NpmRegistry, name: &str) -> bool {
    registry
        .requests()
        .iter()
        .any(|q| q.path.contains(&format!("/{name}/-/")))
}

#[test]
fn npm_over_tls_a_known_malicious_dependency_is_refused_before_it_is_asked() {
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let r = npm_tls(env.home.path());
        import(&env, &[record("MAL-TLS-1", "npm", "pwdep", &["1.0.0"])]);
        let project = env.home.path().join("proj");
        fs::create_dir_all(&project).unwrap();
        let out = npm_app(&env, &r, mode, &project);
        assert_eq!(out.code, 90, "{mode}: blocked exit code\n{}", out.stderr);
        assert!(
            r.registry.tarball_fetched("pwapp", "1.0.0"),
            "{mode}: the clean package downloads through the terminated TLS: {:?}",
            r.registry.requests()
        );
        assert!(
            !tarball_asked(&r.registry, "pwdep"),
            "{mode}: the registry was asked for the malicious tarball: {:?}",
            r.registry.requests()
        );
        let f = out.finding("intel.known-malicious");
        assert_eq!(f["severity"], "critical", "{f:#}");
        let detail = f["evidence"]["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("MAL-TLS-1") && detail.contains("refused before"),
            "{detail}"
        );
        let intel = &out.report["sandbox"]["intel"];
        assert_eq!(intel["consulted"], true, "{intel:#}");
        let port = r.front.port().to_string();
        assert!(
            intel["tls_inspected"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h.as_str().unwrap_or("").ends_with(&format!(":{port}"))),
            "{intel:#}"
        );
        let port: u16 = port.parse().unwrap();
        assert!(
            connects(&out.report, port)
                .iter()
                .all(|reason| reason.contains("TLS terminated")),
            "{:?}",
            connects(&out.report, port)
        );
        assert!(!project.join("node_modules/pwdep").exists());
    }
}

#[test]
fn npm_over_tls_audit_downloads_and_reports() {
    let env = ShimEnv::new(&[]);
    let r = npm_tls(env.home.path());
    import(&env, &[record("MAL-TLS-2", "npm", "pwdep", &["1.0.0"])]);
    let project = env.home.path().join("proj");
    fs::create_dir_all(&project).unwrap();
    let out = npm_app(&env, &r, "audit", &project);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(r.registry.tarball_fetched("pwdep", "1.0.0"));
    let f = out.finding("intel.known-malicious");
    assert!(
        f["evidence"]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("audit: downloaded"),
        "{f:#}"
    );
}

#[test]
fn npm_over_tls_without_a_feed_is_a_tunnel_and_a_clean_feed_installs() {
    let env = ShimEnv::new(&[]);
    let r = npm_tls(env.home.path());
    let project = env.home.path().join("proj");
    fs::create_dir_all(&project).unwrap();
    let port = r.front.port();
    let bare = npm_app(&env, &r, "block", &project);
    assert_eq!(bare.code, 0, "{}", bare.stderr);
    assert!(project.join("node_modules/pwdep/index.js").is_file());
    let tunnels = connects(&bare.report, port);
    assert!(
        !tunnels.is_empty(),
        "npm reached the registry through CONNECT"
    );
    assert!(
        tunnels
            .iter()
            .all(|reason| !reason.contains("TLS terminated")),
        "no feed, no termination: {tunnels:?}"
    );
    assert!(bare.report["sandbox"]["intel"].is_null());
    // A feed that names another version: terminated, and all installs.
    import(&env, &[record("MAL-TLS-3", "npm", "pwdep", &["0.9.0"])]);
    let handshakes = r.front.handshakes();
    let out = npm_app(&env, &r, "block", &project);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(project.join("node_modules/pwdep/index.js").is_file());
    assert!(out.findings("intel.known-malicious").is_empty());
    assert!(
        connects(&out.report, port)
            .iter()
            .any(|reason| reason.contains("TLS terminated")),
        "{:?}",
        connects(&out.report, port)
    );
    assert!(r.front.handshakes() > handshakes);
}

/// A PEP 503 index over TLS serving `pwdemo`.
fn pypi_tls(home: &Path) -> (PypiIndex, TlsFront, PathBuf) {
    let ca = TestCa::new(&home.join("ca"));
    let mut front = TlsFront::bind(&ca);
    let index = PypiIndex::start(&["pwdemo"]);
    front.start(index.port());
    (index, front, ca.pem)
}

/// pip told to trust `ca` through `PIP_CERT`; the HTTP library's own
/// variables, which outrank it, emptied (this machine may set them).
fn pip_trusts(ca: &Path) -> [(&'static str, String); 3] {
    [
        ("PIP_CERT", ca.display().to_string()),
        ("REQUESTS_CA_BUNDLE", String::new()),
        ("CURL_CA_BUNDLE", String::new()),
    ]
}

fn pip_install(env: &ShimEnv, mode: &str, front: &TlsFront, ca: &Path) -> Installed {
    let venv = venv(&env.home);
    let pip = venv_bin(&venv, "pip");
    let index_url = format!("{}/simple/", front.base_url());
    install(
        env,
        mode,
        &[
            pip.to_str().unwrap(),
            "install",
            "--no-cache-dir",
            "--index-url",
            &index_url,
            "pwdemo",
        ],
        env.home.path(),
        &pip_trusts(ca),
    )
}

#[test]
fn pip_over_tls_a_known_malicious_wheel_is_refused_before_download() {
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let (index, front, ca) = pypi_tls(env.home.path());
        import(&env, &[record("MAL-TLS-5", "PyPI", "PwDemo", &["1.0.0"])]);
        let out = pip_install(&env, mode, &front, &ca);
        assert_eq!(out.code, 90, "{mode}: {}", out.stderr);
        assert!(
            index.was_requested("/simple/pwdemo/"),
            "the index page is read"
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
            out.finding("intel.known-malicious")["evidence"]["detail"]
                .as_str()
                .unwrap_or("")
                .contains("MAL-TLS-5")
        );
    }
}

#[test]
fn pip_over_tls_without_a_feed_and_with_a_clean_one_installs() {
    let env = ShimEnv::new(&[]);
    let (index, front, ca) = pypi_tls(env.home.path());
    let bare = pip_install(&env, "block", &front, &ca);
    assert_eq!(bare.code, 0, "{}", bare.stderr);
    assert!(index.was_downloaded("pwdemo"));
    import(&env, &[record("MAL-TLS-6", "PyPI", "pwdemo", &["0.1"])]);
    let out = pip_install(&env, "block", &front, &ca);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.report["sandbox"]["intel"]["consulted"], true);
    assert!(out.findings("intel.known-malicious").is_empty());
    assert!(
        connects(&out.report, front.port())
            .iter()
            .any(|reason| reason.contains("TLS terminated")),
        "{:?}",
        connects(&out.report, front.port())
    );
    assert!(
        connects(&bare.report, front.port())
            .iter()
            .all(|reason| !reason.contains("TLS terminated"))
    );
}

/// `uv pip install pwdemo` from the TLS index, uv trusting the test CA
/// through `SSL_CERT_FILE`.
fn uv_install(env: &ShimEnv, mode: &str, front: &TlsFront, ca: &Path) -> Installed {
    let venv = venv(&env.home);
    let python = venv_bin(&venv, "python");
    let index_url = format!("{}/simple/", front.base_url());
    install(
        env,
        mode,
        &[
            "uv",
            "pip",
            "install",
            "--no-cache",
            "--python",
            python.to_str().unwrap(),
            "--index-url",
            &index_url,
            "pwdemo",
        ],
        env.home.path(),
        &[
            ("SSL_CERT_FILE", ca.display().to_string()),
            ("SSL_CERT_DIR", String::new()),
        ],
    )
}

#[test]
fn uv_over_tls_a_known_malicious_wheel_is_refused_and_a_clean_feed_installs() {
    if which::which("uv").is_err() {
        eprintln!("uv not installed: skipped");
        return;
    }
    let env = ShimEnv::new(&[]);
    let (index, front, ca) = pypi_tls(env.home.path());
    let bare = uv_install(&env, "block", &front, &ca);
    assert_eq!(bare.code, 0, "{}", bare.stderr);
    assert!(index.was_downloaded("pwdemo"));
    import(&env, &[record("MAL-TLS-7", "PyPI", "pwdemo", &["0.1"])]);
    let clean = uv_install(&env, "block", &front, &ca);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    assert!(
        connects(&clean.report, front.port())
            .iter()
            .any(|reason| reason.contains("TLS terminated")),
        "{:?}",
        connects(&clean.report, front.port())
    );
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let (index, front, ca) = pypi_tls(env.home.path());
        import(&env, &[record("MAL-TLS-8", "PyPI", "pwdemo", &["1.0.0"])]);
        let out = uv_install(&env, mode, &front, &ca);
        assert_eq!(out.code, 90, "{mode}: {}", out.stderr);
        assert!(
            !index
                .requests()
                .iter()
                .any(|q| q.path.starts_with("/files/pwdemo/")),
            "{mode}: the wheel was asked for: {:?}",
            index.requests()
        );
        assert!(!out.findings("intel.known-malicious").is_empty());
    }
}

/// `pnpm add pwapp` from the TLS registry, pnpm trusting the test CA
/// through npm's `cafile` setting (which pnpm reads).
fn pnpm_app(env: &ShimEnv, r: &NpmTls, mode: &str, project: &Path) -> Installed {
    fresh_npm_project(project);
    let _ = fs::remove_dir_all(env.home.data_dir().join("pnpm"));
    let registry = format!("{}/", r.front.named_url());
    install(
        env,
        mode,
        &["pnpm", "add", "--registry", &registry, "pwapp"],
        project,
        &[("npm_config_cafile", r.ca.display().to_string())],
    )
}

#[test]
fn pnpm_over_tls_a_known_malicious_dependency_is_refused_before_it_is_asked() {
    if which::which("pnpm").is_err() {
        eprintln!("pnpm not installed: skipped");
        return;
    }
    let env = ShimEnv::new(&[]);
    let r = npm_tls(env.home.path());
    let project = env.home.path().join("proj");
    fs::create_dir_all(&project).unwrap();
    let bare = pnpm_app(&env, &r, "block", &project);
    assert_eq!(bare.code, 0, "{}", bare.stderr);
    assert!(r.registry.tarball_fetched("pwdep", "1.0.0"));
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let r = npm_tls(env.home.path());
        import(&env, &[record("MAL-TLS-9", "npm", "pwdep", &["1.0.0"])]);
        let project = env.home.path().join("proj");
        fs::create_dir_all(&project).unwrap();
        let out = pnpm_app(&env, &r, mode, &project);
        assert_eq!(out.code, 90, "{mode}: {}", out.stderr);
        assert!(
            r.registry.tarball_fetched("pwapp", "1.0.0"),
            "{mode}: {:?}",
            r.registry.requests()
        );
        assert!(
            !tarball_asked(&r.registry, "pwdep"),
            "{mode}: the registry was asked for the malicious tarball: {:?}",
            r.registry.requests()
        );
        assert!(!out.findings("intel.known-malicious").is_empty());
    }
}

/// What inspecting a registry over TLS costs (benches/intel_tls.sh): one
/// `npm install` of 40 packages from the TLS registry, with a feed present
/// (terminated) and without (tunnelled), in order-balanced pairs (ABBA),
/// same run; prints the medians and their ratio.
#[test]
#[ignore = "benchmark: benches/intel_tls.sh"]
fn bench_npm_over_tls_with_and_without_a_feed() {
    let pairs: usize = std::env::var("PW_BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let env = ShimEnv::new(&[]);
    let ca = TestCa::new(&env.home.path().join("ca"));
    let mut front = TlsFront::bind(&ca);
    let mut packages = Vec::new();
    let mut deps = serde_json::Map::new();
    for i in 0..39 {
        let name = format!("pwb{i:02}");
        packages.push(NpmPackage::new(
            json!({"name": name, "version": "1.0.0", "license": "MIT"}),
            &[("index.js", format!("module.exports = {i};\n").as_bytes())],
        ));
        deps.insert(name, json!("^1.0.0"));
    }
    packages.push(NpmPackage::new(
        json!({"name": "pwbapp", "version": "1.0.0", "license": "MIT", "dependencies": deps}),
        &[("index.js", b"module.exports = 0;\n")],
    ));
    let registry = NpmRegistry::start_at(packages, Some(front.named_url()));
    front.start(registry.port());
    let url = format!("{}/", front.named_url());
    let project = env.home.path().join("proj");
    fs::create_dir_all(&project).unwrap();
    let feed_dir = env.home.state_dir().join("pkgwarden/intel");
    import(
        &env,
        &[record("MAL-BENCH", "npm", "not-installed", &["1.0.0"])],
    );
    let kept = env.home.path().join("intel-kept");
    let once = |with_feed: bool| -> f64 {
        // The feed is present or not: its directory moved aside.
        if with_feed && kept.exists() {
            fs::rename(&kept, &feed_dir).unwrap();
        } else if !with_feed && feed_dir.exists() {
            fs::rename(&feed_dir, &kept).unwrap();
        }
        fresh_npm_project(&project);
        let _ = fs::remove_dir_all(env.home.path().join(".npm/_cacache"));
        let t = std::time::Instant::now();
        let out = install(
            &env,
            "protect",
            &["npm", "install", "--registry", &url, "pwbapp"],
            &project,
            &[("npm_config_cafile", ca.pem.display().to_string())],
        );
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.report["sandbox"]["intel"].is_null(), !with_feed);
        ms
    };
    once(true);
    once(false);
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for i in 0..pairs {
        // ABBA: each pair's order alternates.
        if i % 2 == 0 {
            off.push(once(false));
            on.push(once(true));
        } else {
            on.push(once(true));
            off.push(once(false));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let ratios: Vec<f64> = on.iter().zip(&off).map(|(a, b)| a / b).collect();
    let (m_on, m_off) = (median(&mut on.clone()), median(&mut off.clone()));
    println!(
        "intel-tls npm 40 packages: feed (terminated) median {m_on:.0} ms, no feed (tunnel) median {m_off:.0} ms, ratio of medians {:.3}, median pair ratio {:.3}, pairs {pairs}",
        m_on / m_off,
        median(&mut ratios.clone())
    );
}

/// The conda stand-in's interpreter (py-rattler inside).
const CONDA_PYTHON: &str = "/opt/pkgwarden-conda/bin/python";

/// `pkgwarden run --sandbox --mode MODE -- conda create …` from a channel
/// over TLS (conda has no trust data: pkgwarden knows no setting to make
/// it trust the install's CA): exit code, stderr, and the report if any.
fn conda_create(env: &ShimEnv, mode: &str, prefix: &Path) -> (i32, String, Option<Value>) {
    let before = env.report_files();
    let out = run(env
        .pkgwarden()
        .args(["run", "--sandbox", "--mode", mode, "--", "conda", "create"])
        .args(["-y", "-p"])
        .arg(prefix)
        .arg("pwconda")
        .current_dir(env.home.path()));
    let new = env.reports_since(&before);
    assert!(new.len() <= 1, "{new:?}");
    let report = new
        .first()
        .map(|f| serde_json::from_slice(&fs::read(f).unwrap()).unwrap());
    (out.status.code().unwrap_or(-1), stderr_str(&out), report)
}

/// Item 1 of issue 15's follow-up: with a feed, block mode refuses, before
/// anything runs, an install whose registry is over TLS and whose manager
/// cannot be told to trust the install's CA; `intel_allow_unchecked = true`
/// lets it run; protect runs it, loudly, and the report says so.
#[test]
fn a_manager_without_trust_data_is_refused_in_block_with_a_feed() {
    assert!(
        Path::new(CONDA_PYTHON).is_file(),
        "{CONDA_PYTHON} is missing: `bash .ci/run` installs it"
    );
    let bin = tempfile::tempdir().unwrap();
    fs::copy(
        crate_root().join("tests/standins/conda/conda"),
        bin.path().join("conda"),
    )
    .unwrap();
    let env = ShimEnv::new(&[bin.path()]);
    let ca = TestCa::new(&env.home.path().join("ca"));
    let mut front = TlsFront::bind(&ca);
    front.start(1);
    fs::write(
        env.home.path().join(".condarc"),
        format!("channels:\n  - pw\nchannel_alias: {}\n", front.base_url()),
    )
    .unwrap();
    let prefix = env.home.path().join("envs/pw");
    // No feed: block runs it (the channel is reached, and fails TLS).
    let (_, stderr, report) = conda_create(&env, "block", &prefix);
    assert!(report.is_some(), "no feed: it runs\n{stderr}");
    assert!(front.connections() > 0, "{stderr}");
    import(&env, &[record("MAL-TLS-9", "conda", "pwconda", &[])]);
    let reached = front.connections();
    let (code, stderr, report) = conda_create(&env, "block", &prefix);
    assert_eq!(code, 91, "{stderr}");
    assert!(report.is_none(), "nothing ran: {report:?}");
    assert_eq!(front.connections(), reached, "nothing ran");
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("intel_allow_unchecked"))
        .collect();
    assert_eq!(said.len(), 1, "one line:\n{stderr}");
    assert!(
        said[0].starts_with("pkgwarden: ") && said[0].contains("refused in block mode"),
        "{}",
        said[0]
    );
    for (mode, policy) in [("protect", ""), ("block", "intel_allow_unchecked = true\n")] {
        fs::write(env.home.path().join("etc-pkgwarden-policy.toml"), policy).unwrap();
        let (code, stderr, report) = conda_create(&env, mode, &prefix);
        assert_ne!(code, 91, "{mode}: {stderr}");
        let report = report.unwrap_or_else(|| panic!("{mode}: it runs\n{stderr}"));
        assert!(
            stderr.contains("does NOT check") && stderr.contains("conda has no setting"),
            "{mode}: {stderr}"
        );
        let intel = &report["sandbox"]["intel"];
        assert!(
            intel["tls_not_inspected"]
                .as_str()
                .unwrap_or("")
                .contains("conda has no setting"),
            "{mode}: {intel:#}"
        );
        assert_eq!(intel["tls_inspected"], json!([]), "{mode}: {intel:#}");
    }
    // A project's file may not allow it.
    fs::write(env.home.path().join("etc-pkgwarden-policy.toml"), "").unwrap();
    fs::write(
        env.home.path().join(".pkgwarden.toml"),
        "intel_allow_unchecked = true\n",
    )
    .unwrap();
    let (code, stderr, _) = conda_create(&env, "block", &prefix);
    assert_eq!(code, 91, "{stderr}");
}

/// The install's CA cannot be set up (the manager's configured CA file is
/// missing): block refuses before anything runs. A CA file the proxy cannot
/// use towards the registry fails each terminated request at run time: the
/// registry is never asked, in block as in protect.
#[test]
fn a_termination_that_fails_is_refused_in_block() {
    let env = ShimEnv::new(&[]);
    let r = npm_tls(env.home.path());
    import(&env, &[record("MAL-TLS-10", "npm", "pwdep", &["0.1.0"])]);
    let project = env.home.path().join("proj");
    fs::create_dir_all(&project).unwrap();
    fresh_npm_project(&project);
    let registry = format!("{}/", r.front.named_url());
    let npm = |mode: &str, cafile: &Path| {
        let out = run(env
            .pkgwarden()
            .args(["run", "--sandbox", "--mode", mode, "--"])
            .args(["npm", "install", "--registry", &registry, "pwapp"])
            .env("npm_config_cafile", cafile)
            .env("npm_config_fetch_retries", "0")
            .current_dir(&project));
        (out.status.code().unwrap_or(-1), stderr_str(&out))
    };
    let before = env.report_files();
    let (code, stderr) = npm("block", &env.home.path().join("missing-ca.pem"));
    assert_eq!(code, 91, "{stderr}");
    assert!(stderr.contains("intel_allow_unchecked"), "{stderr}");
    assert!(env.reports_since(&before).is_empty(), "nothing ran");
    assert_eq!(r.front.connections(), 0, "nothing ran");
    // Readable, but no certificate in it: the proxy cannot verify the
    // registry, so the terminated request fails before it is sent.
    let empty = env.home.path().join("empty-ca.pem");
    fs::write(&empty, "").unwrap();
    for mode in ["protect", "block"] {
        let (code, stderr) = npm(mode, &empty);
        assert_ne!(code, 0, "{mode}: {stderr}");
        assert!(
            r.registry.requests().is_empty(),
            "{mode}: the registry was asked"
        );
    }
}

/// A gem source over TLS (the real `gem build` and `gem generate_index`
/// of the fixture `pwquiet`), which gem trusts through `~/.gemrc`'s
/// `ssl_ca_cert`, as a user with a private source over TLS would.
fn gem_tls(env: &ShimEnv) -> (HttpServer, TlsFront) {
    let work = env.home.path().join("gemwork");
    fs::create_dir_all(&work).unwrap();
    let built = support::gems::build_gem(env, &work, "pwquiet");
    let repo = work.join("repo");
    fs::create_dir_all(repo.join("gems")).unwrap();
    fs::copy(&built, repo.join("gems/pwquiet-1.0.0.gem")).unwrap();
    let indexed = run(env
        .bare(support::gems::real_gem())
        .args(["generate_index", "--directory"])
        .arg(&repo));
    assert_success(&indexed, "gem generate_index");
    let origin = support::installs::static_server(repo);
    let ca = TestCa::new(&env.home.path().join("ca"));
    let mut front = TlsFront::bind(&ca);
    front.start(origin.port());
    fs::write(
        env.home.path().join(".gemrc"),
        format!("---\n:ssl_ca_cert: {}\n", ca.pem.display()),
    )
    .unwrap();
    (origin, front)
}

/// `gem install pwquiet` from the source over TLS only, into a fresh gem
/// directory.
fn gem_tls_install(env: &ShimEnv, mode: &str, front: &TlsFront) -> (Installed, PathBuf) {
    let gems = env.home.path().join(format!("gems-{mode}"));
    let _ = fs::remove_dir_all(&gems);
    let source = format!("{}/", front.base_url());
    let out = gem_install(env, mode, &source, &gems, "pwquiet", env.home.path(), &[]);
    (out, gems)
}

/// gem is told to trust the install's CA through `SSL_CERT_FILE`: with a
/// feed, its source over TLS is terminated; a clean gem installs through
/// it, and a known-malicious one is refused before its `.gem` is asked of
/// the origin (its log is the proof), in protect and block.
#[test]
fn gem_over_tls_a_known_malicious_gem_is_refused_before_it_is_asked() {
    let env = ShimEnv::new(&[]);
    let (origin, front) = gem_tls(&env);
    let port = front.port();
    import(
        &env,
        &[record("MAL-TLS-11", "RubyGems", "pwquiet", &["0.9.0"])],
    );
    let (out, gems) = gem_tls_install(&env, "block", &front);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(gems.join("gems/pwquiet-1.0.0/lib/pwquiet.rb").is_file());
    assert!(origin.was_requested("/gems/pwquiet-1.0.0.gem"));
    let reasons = connects(&out.report, port);
    assert!(
        !reasons.is_empty() && reasons.iter().all(|r| r.contains("TLS terminated")),
        "{reasons:?}"
    );
    let intel = &out.report["sandbox"]["intel"];
    assert_eq!(
        intel["tls_inspected"],
        json!([format!("127.0.0.1:{port}")]),
        "{intel:#}"
    );
    import(
        &env,
        &[record("MAL-TLS-12", "RubyGems", "pwquiet", &["1.0.0"])],
    );
    for mode in ["protect", "block"] {
        let asked = origin.requests().len();
        let (out, gems) = gem_tls_install(&env, mode, &front);
        assert_eq!(out.code, 90, "{mode}: {}\n{}", out.stdout, out.stderr);
        let now = origin.requests();
        assert!(now.len() > asked, "{mode}: the index was read: {now:?}");
        assert!(
            !now[asked..].iter().any(|q| q.path.ends_with(".gem")),
            "{mode}: the .gem was asked for: {:?}",
            &now[asked..]
        );
        let detail = out.finding("intel.known-malicious")["evidence"]["detail"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(detail.contains("MAL-TLS-12"), "{detail}");
        assert!(!gems.join("gems/pwquiet-1.0.0").exists());
    }
}
