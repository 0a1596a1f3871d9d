//! brew, through a faithful stand-in (tests/standins/brew: Homebrew itself
//! does not run on the test machines). The stand-in is copied to a prefix of
//! its own, as Homebrew lives in one; pkgwarden derives the facts from its
//! answers (`--prefix`, `--cellar`, `--cache`, `--repository`, `config`),
//! so brew installs are sandboxed by default. Bottles are served on loopback
//! (HOMEBREW_BOTTLE_DOMAIN) and downloaded by curl through pkgwarden's proxy.

use crate::support;

use std::fs;
use std::path::PathBuf;
use support::installs::{check_finding, install, static_server};
use support::*;

const BLOCKED: i32 = 90;
const RC: &str = "# rc\n";

/// A Homebrew prefix holding the stand-in and a tap, a loopback bottle
/// server, and a test HOME with the prefix's bin on PATH after the shims.
struct Brew {
    env: ShimEnv,
    prefix: PathBuf,
    server: HttpServer,
    _dirs: tempfile::TempDir,
}

/// The bottle tag the stand-in (like Homebrew) pours on this machine.
fn tag() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "arm64_linux"
    } else {
        "x86_64_linux"
    }
}

impl Brew {
    /// Sets up the prefix with the fixture formulae `names`
    /// (tests/fixtures/brew/NAME.rb), each with a bottle holding `bin/NAME`.
    fn new(names: &[&str]) -> Brew {
        for tool in ["ruby", "curl", "tar"] {
            let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .any(|d| d.join(tool).is_file());
            assert!(found, "`{tool}` is not on PATH: .ci/run installs it");
        }
        let dirs = tempfile::tempdir().unwrap();
        let prefix = dirs.path().join("linuxbrew");
        let copy = run(std::process::Command::new("cp")
            .arg("-r")
            .arg(crate_root().join("tests/standins/brew"))
            .arg(&prefix));
        assert_success(&copy, "copy the brew stand-in");
        let bottles = dirs.path().join("bottles");
        let stage = dirs.path().join("stage");
        let formulae = prefix.join("Library/Taps/pkgwarden/homebrew-test/Formula");
        fs::create_dir_all(&formulae).unwrap();
        fs::create_dir_all(&bottles).unwrap();
        for name in names {
            let bin = stage.join(name).join("1.0.0/bin");
            fs::create_dir_all(&bin).unwrap();
            let exe = bin.join(name);
            fs::write(&exe, format!("#!/bin/sh\necho {name}\n")).unwrap();
            fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            let file = format!("{name}-1.0.0.{}.bottle.tar.gz", tag());
            let tar = run(std::process::Command::new("tar")
                .arg("-czf")
                .arg(bottles.join(&file))
                .arg("-C")
                .arg(&stage)
                .arg(name));
            assert_success(&tar, "tar (the bottle)");
            let sum = sha256_hex(&fs::read(bottles.join(&file)).unwrap());
            let text = String::from_utf8(
                fs::read(fixtures_root().join("brew").join(format!("{name}.rb"))).unwrap(),
            )
            .unwrap()
            .replace("@TAG@", tag())
            .replace("@BOTTLE_SHA256@", &sum)
            .replace("@SOURCE_SHA256@", &"0".repeat(64));
            fs::write(formulae.join(format!("{name}.rb")), text).unwrap();
        }
        let server = static_server(bottles);
        let env = ShimEnv::new(&[&prefix.join("bin")]);
        fs::write(env.home.path().join(".bashrc"), RC).unwrap();
        Brew {
            env,
            prefix,
            server,
            _dirs: dirs,
        }
    }

    /// Homebrew's setting for where bottles come from: the loopback server.
    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![("HOMEBREW_BOTTLE_DOMAIN", self.server.base_url())]
    }

    fn bashrc(&self) -> String {
        fs::read_to_string(self.env.home.path().join(".bashrc")).unwrap()
    }

    fn bottle_fetched(&self, name: &str) -> bool {
        self.server
            .was_requested(&format!("/{name}-1.0.0.{}.bottle.tar.gz", tag()))
    }
}

#[test]
fn brew_path_questions_pass_through_and_facts_come_from_brew() {
    let b = Brew::new(&[]);
    let out = run(b.env.shim("brew").arg("--cellar"));
    assert_success(&out, "brew --cellar");
    assert_eq!(
        stdout_str(&out).trim(),
        b.prefix.join("Cellar").display().to_string()
    );
    // The plan pkgwarden would run an install with, from brew's answers.
    let mut plan = b.env.pkgwarden();
    plan.args(["plan", "--json", "--", "brew", "install", "pwbrew"]);
    for (k, v) in b.vars() {
        plan.env(k, v);
    }
    let out = run(&mut plan);
    assert_success(&out, "pkgwarden plan");
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_str(&out)));
    let p = &doc["plan"];
    let home = b.env.home.path();
    let facts = &p["facts"];
    assert_eq!(facts["derived"], true, "{p:#}");
    assert_eq!(
        facts["write_roots"][0],
        b.prefix.display().to_string(),
        "{p:#}"
    );
    assert_eq!(
        facts["cache_dirs"][0],
        home.join(".cache/Homebrew").display().to_string()
    );
    assert_eq!(
        facts["log_dirs"][0],
        home.join(".cache/Homebrew/Logs").display().to_string()
    );
    let hosts = p["registry_hosts"].as_array().unwrap();
    let bottle_host = format!("127.0.0.1:{}", b.server.port());
    assert!(hosts.iter().any(|h| *h == bottle_host), "{p:#}");
    // The API's default domain, read from the stand-in's brew.sh.
    assert!(hosts.iter().any(|h| h == "127.0.0.1:9"), "{p:#}");
}

#[test]
fn brew_benign_formula_installs_sandboxed_through_the_shim() {
    let b = Brew::new(&["pwbrew"]);
    let mut cmd = b.env.shim("brew");
    cmd.args(["install", "pwbrew"])
        .env("PKGWARDEN_MODE", "block");
    for (k, v) in b.vars() {
        cmd.env(k, v);
    }
    let out = run(&mut cmd);
    assert_success(&out, "brew install pwbrew (block mode)");
    let err = stderr_str(&out);
    assert!(err.contains(SANDBOXED), "not sandboxed:\n{err}");
    assert!(b.bottle_fetched("pwbrew"), "the bottle was not downloaded");
    let link = b.prefix.join("bin/pwbrew");
    assert!(link.is_file(), "not linked into the prefix");
    assert!(b.prefix.join("Cellar/pwbrew/1.0.0/bin/pwbrew").is_file());
    let reports = support::installs::report_files(&b.env);
    assert_eq!(reports.len(), 1, "{err}");
    let r: serde_json::Value =
        serde_json::from_slice(&fs::read(reports.iter().next().unwrap()).unwrap()).unwrap();
    assert_eq!(r["what"]["manager"], "brew");
    let serious: Vec<_> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("medium" | "high" | "critical")))
        .collect();
    assert!(serious.is_empty(), "{serious:#?}");
    // curl went through the proxy to the configured bottle host.
    let endpoints = r["endpoints"].as_array().unwrap();
    assert!(
        endpoints
            .iter()
            .any(|e| e["port"] == b.server.port() && e["verdict"] == "allowed"),
        "{endpoints:#?}"
    );
}

#[test]
fn brew_post_install_writing_bashrc() {
    let b = Brew::new(&["pwbrew-rc"]);
    let home = b.env.home.path().to_path_buf();
    for mode in ["protect", "block"] {
        let r = install(
            &b.env,
            mode,
            &["brew", "install", "pwbrew-rc"],
            &home,
            &b.vars(),
        );
        let f = r.finding("persist.shell-rc");
        check_finding(
            f,
            "T1546.004",
            "high",
            Some("pwbrew-rc@1.0.0"),
            Some("post_install"),
        );
        assert_eq!(b.bashrc(), RC, "{mode}: ~/.bashrc changed");
        if mode == "block" {
            assert_eq!(r.code, BLOCKED, "{}", r.stderr);
        }
    }
    assert!(b.bottle_fetched("pwbrew-rc"));
    // Control: the stand-in alone runs the post_install, so the checks above
    // would fail if pkgwarden let it through.
    let mut bare = b.env.bare(b.prefix.join("bin/brew"));
    bare.args(["install", "pwbrew-rc"]);
    for (k, v) in b.vars() {
        bare.env(k, v);
    }
    assert_success(&run(&mut bare), "brew install without pkgwarden");
    assert!(
        b.bashrc().contains("pwbrew-rc post_install"),
        "the fixture's post_install did not run"
    );
}
