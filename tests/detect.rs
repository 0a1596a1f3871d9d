//! Detection end to end: inert packages that behave like real malware
//! (tests/fixtures/incidents), installed by real npm and pip from loopback
//! registries in every mode, and their benign twins. Each malicious fixture
//! must raise its rule with the right ATT&CK id, severity and attribution;
//! block mode must fail with the reserved code and leave nothing persistent;
//! benign twins must stay below medium.

use crate::support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::installs::{
    Installed, behind, check_finding, gem_install, install, npm_install, report_files,
    static_server, user_proxy,
};
use support::pypi::{build_requirements, build_sdist, build_wheel};
use support::*;

const BLOCKED: i32 = 90;

fn incident(name: &str) -> Vec<u8> {
    let p = crate_root().join("tests/fixtures/incidents").join(name);
    fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---------------------------------------------------------------------------
// npm
// ---------------------------------------------------------------------------

/// A stand-in C2 on loopback that counts connections and closes each one:
/// its port, and the count.
fn stand_in_c2() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let c2 = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = c2.local_addr().unwrap().port().to_string();
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = reached.clone();
    std::thread::spawn(move || {
        for conn in c2.incoming() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(conn);
        }
    });
    (port, reached)
}

/// Installs one package from a loopback registry into a fresh project.
fn install_one(
    pkg: NpmPackage,
    mode: &str,
    vars: &[(&str, String)],
) -> (ShimEnv, PathBuf, Installed) {
    let name = pkg.name().to_string();
    let registry = NpmRegistry::start_with(vec![pkg]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    let r = npm_install(&env, mode, &registry, &project, &name, vars);
    (env, project, r)
}

/// A project that installs one package whose `hook` runs `node incident.js`.
struct NpmCase {
    env: ShimEnv,
    registry: NpmRegistry,
    project: PathBuf,
    name: String,
}

fn npm_case(file: &str, hook: &str) -> NpmCase {
    let name = format!("pw-{}", file.trim_end_matches(".js"));
    let pkg = NpmPackage::new(
        serde_json::json!({
            "name": name, "version": "1.0.0",
            "scripts": {hook: "node incident.js"}
        }),
        &[
            ("incident.js", &incident(file)),
            ("index.js", b"module.exports = 1;\n"),
        ],
    );
    let registry = NpmRegistry::start_with(vec![pkg]);
    let env = ShimEnv::new(&[]);
    fs::write(env.home.path().join(".bashrc"), "# rc\n").unwrap();
    let project = env.home.subdir("proj");
    fs::create_dir_all(project.join(".git/hooks")).unwrap();
    NpmCase {
        env,
        registry,
        project,
        name,
    }
}

impl NpmCase {
    fn install(&self, mode: &str, vars: &[(&str, String)]) -> Installed {
        npm_install(
            &self.env,
            mode,
            &self.registry,
            &self.project,
            &self.name,
            vars,
        )
    }

    fn pkg(&self) -> String {
        format!("{}@1.0.0", self.name)
    }

    fn bashrc(&self) -> String {
        fs::read_to_string(self.env.home.path().join(".bashrc")).unwrap()
    }
}

/// A start-up file edit: refused in protect and block (block fails the
/// install), happens and is reported in audit.
fn rc_case(file: &str, hook: &str, rule: &str, attack: &str, target: &str) {
    let c = npm_case(file, hook);
    let path = c.env.home.path().join(target);
    let before = fs::read(&path).ok();

    let p = c.install("protect", &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let f = p.finding(rule);
    check_finding(f, attack, "high", Some(&c.pkg()), Some(hook));
    assert_eq!(f["action"], "blocked", "{f:#}");
    assert_eq!(
        fs::read(&path).ok(),
        before,
        "protect let the write through"
    );

    let b = c.install("block", &[]);
    assert_eq!(b.code, BLOCKED, "{}", b.stderr);
    assert_eq!(b.report["outcome"]["status"], "blocked");
    assert_eq!(b.report["outcome"]["exit_code"], BLOCKED);
    assert_eq!(b.finding(rule)["action"], "blocked");
    assert_eq!(fs::read(&path).ok(), before);

    let a = c.install("audit", &[]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let f = a.finding(rule);
    check_finding(f, attack, "high", Some(&c.pkg()), Some(hook));
    assert_eq!(f["action"], "observed");
    assert_ne!(fs::read(&path).ok(), before, "audit denies nothing");
    // The ground truth saw it too.
    assert!(
        a.report["snapshot"]
            .as_array()
            .unwrap()
            .iter()
            .any(|ch| ch["path"].as_str() == path.to_str()),
        "{:#}",
        a.report["snapshot"]
    );
}

#[test]
fn npm_postinstall_appending_to_bashrc() {
    rc_case(
        "rc-append.js",
        "postinstall",
        "persist.shell-rc",
        "T1546.004",
        ".bashrc",
    );
}

#[test]
fn npm_postinstall_renaming_a_file_onto_bashrc() {
    rc_case(
        "rc-rename.js",
        "postinstall",
        "persist.shell-rc",
        "T1546.004",
        ".bashrc",
    );
}

#[test]
fn npm_preinstall_writing_an_autostart_entry() {
    rc_case(
        "autostart.js",
        "preinstall",
        "persist.autostart",
        "T1547.013",
        ".config/autostart/pw-update.desktop",
    );
}

#[test]
fn npm_install_hook_writing_a_conda_block_is_still_persistence() {
    // The block `conda init` writes is the user's own doing only when the
    // user runs conda; from a dependency's hook it is persistence.
    let c = npm_case("conda-block.js", "install");
    let a = c.install("audit", &[]);
    assert!(c.bashrc().contains("conda initialize"));
    check_finding(
        a.finding("persist.shell-rc"),
        "T1546.004",
        "high",
        Some(&c.pkg()),
        Some("install"),
    );
}

#[test]
fn conda_init_run_on_purpose_is_not_an_install_and_stays_quiet() {
    // The benign twin: the user runs `conda init` (a stand-in that writes the
    // same block). Not an install: no sandbox, no report, the block lands.
    let bin = tempfile::tempdir().unwrap();
    let conda = bin.path().join("conda");
    fs::write(
        &conda,
        "#!/bin/sh\nprintf '\\n# >>> conda initialize >>>\\nexport PW_MARK=conda-init\\n# <<< conda initialize <<<\\n' >> \"$HOME/.bashrc\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&conda, fs::Permissions::from_mode(0o755)).unwrap();
    let env = ShimEnv::new(&[bin.path()]);
    let out = run(env.shim("conda").arg("init").arg("bash"));
    assert_success(&out, "conda init");
    assert!(
        fs::read_to_string(env.home.path().join(".bashrc"))
            .unwrap()
            .contains("conda initialize")
    );
    assert!(
        report_files(&env).is_empty(),
        "a passthrough leaves no report"
    );
    assert!(stderr_str(&out).is_empty(), "{}", stderr_str(&out));
}

#[test]
fn npm_postinstall_reading_a_token_then_calling_home() {
    let c = npm_case("cred-exfil.js", "postinstall");
    fs::write(
        c.env.home.path().join(".npmrc"),
        "//127.0.0.1/:_authToken=not-a-real-token\n",
    )
    .unwrap();
    let (port, reached) = stand_in_c2();
    let seen = || reached.load(std::sync::atomic::Ordering::SeqCst);
    for mode in ["protect", "block", "audit"] {
        let before = seen();
        let r = c.install(mode, &[("C2_PORT", port.clone())]);
        let read = r.finding("cred.read");
        check_finding(
            read,
            "T1552.001",
            "high",
            Some(&c.pkg()),
            Some("postinstall"),
        );
        assert!(
            read["evidence"]["paths"][0]
                .as_str()
                .unwrap()
                .ends_with("/.npmrc")
        );
        let direct = r.finding("net.direct");
        check_finding(direct, "T1571", "high", Some(&c.pkg()), Some("postinstall"));
        // A credential read and a connection elsewhere in one branch.
        assert_eq!(direct["severity"], "critical", "{mode}: {direct:#}");
        assert_eq!(direct["evidence"]["endpoint"], format!("127.0.0.1:{port}"));
        match mode {
            "audit" => {
                assert_eq!(direct["action"], "observed");
                assert!(seen() > before, "audit lets the connection through");
            }
            _ => {
                assert_eq!(direct["action"], "blocked", "{mode}");
                assert_eq!(seen(), before, "{mode}: the C2 was reached");
            }
        }
        assert_eq!(
            r.code,
            if mode == "block" { BLOCKED } else { 0 },
            "{mode}: {}",
            r.stderr
        );
    }
}

#[test]
fn npm_postinstall_leaving_a_detached_process() {
    let c = npm_case("detached.js", "postinstall");
    for mode in ["protect", "block", "audit"] {
        let r = c.install(mode, &[]);
        let f = r.finding("proc.lingering");
        check_finding(f, "T1564", "high", Some(&c.pkg()), Some("postinstall"));
        assert!(
            f["evidence"]["argv"][0].as_str().unwrap().contains("sleep"),
            "{f:#}"
        );
        let pid = f["pid"].as_i64().unwrap() as i32;
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        if mode == "block" {
            assert_eq!(r.code, BLOCKED);
            assert_eq!(f["action"], "blocked");
            assert!(!alive, "block mode leaves nothing running");
        } else {
            assert_eq!(f["action"], "observed");
            // SAFETY: a pid the test's own install started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// A dependency's write into the project outside its own package: the
/// project is writable only where the install writes (node_modules, the
/// manifest, the lockfile), so protect and block refuse it and report it;
/// audit lets it happen and reports it.
fn project_case(file: &str, rule: &str, attack: &str, target: &str) {
    let c = npm_case(file, "postinstall");
    let path = c.project.join(target);

    for mode in ["protect", "block"] {
        let r = c.install(mode, &[]);
        let f = r.finding(rule);
        check_finding(f, attack, "high", Some(&c.pkg()), Some("postinstall"));
        assert_eq!(f["action"], "blocked", "{mode}: {f:#}\n{}", r.stdout);
        assert!(r.stdout.contains("refused"), "{mode}: {}", r.stdout);
        assert!(!path.exists(), "{mode} let {} be written", path.display());
        let want = if mode == "block" { BLOCKED } else { 0 };
        assert_eq!(r.code, want, "{mode}: {}", r.stderr);
    }

    let a = c.install("audit", &[]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(a.finding(rule)["action"], "observed");
    assert!(path.exists());
}

#[test]
fn npm_postinstall_injecting_a_workflow() {
    project_case(
        "workflow.js",
        "persist.ci",
        "T1195.002",
        ".github/workflows/pw-discussion.yml",
    );
}

#[test]
fn npm_dependency_writing_a_git_hook() {
    project_case(
        "git-hook.js",
        "persist.git",
        "T1546",
        ".git/hooks/pre-commit",
    );
}

#[test]
fn husky_style_hooks_asked_for_by_the_root_project_stay_quiet() {
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    fs::create_dir_all(project.join(".git/hooks")).unwrap();
    fs::write(project.join("git-hook.js"), incident("git-hook.js")).unwrap();
    fs::write(
        project.join("package.json"),
        r#"{"name":"proj","version":"1.0.0","scripts":{"prepare":"node git-hook.js"}}"#,
    )
    .unwrap();
    let registry = NpmRegistry::start_with(vec![]);
    let r = install(
        &env,
        "protect",
        &[
            "npm",
            "install",
            "--foreground-scripts",
            "--registry",
            &registry.registry_url(),
        ],
        &project,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("git-hook wrote"), "{}", r.stdout);
    assert!(project.join(".git/hooks/pre-commit").is_file());
    assert!(r.serious().is_empty(), "{:#?}", r.serious());
}

#[test]
fn native_binary_downloads_into_the_package_and_a_tool_cache_stay_quiet() {
    let c = npm_case("native-download.js", "postinstall");
    for mode in ["protect", "audit"] {
        let r = c.install(mode, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("native-download done"), "{}", r.stdout);
        assert!(r.serious().is_empty(), "{mode}: {:#?}", r.serious());
    }
}

#[test]
fn a_node_gyp_style_build_stays_quiet() {
    let pkg = NpmPackage::new(
        serde_json::json!({
            "name": "pw-gyp", "version": "1.0.0",
            "scripts": {"install": "sh gyp-build.sh"}
        }),
        &[
            ("gyp-build.sh", &incident("gyp-build.sh")),
            ("index.js", b"module.exports = 1;\n"),
        ],
    );
    let (_env, project, r) = install_one(pkg, "protect", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        project
            .join("node_modules/pw-gyp/build/Release/addon.node")
            .is_file()
    );
    assert!(r.serious().is_empty(), "{:#?}", r.serious());
    // The compiler ran under the hook, and the tree says so.
    assert!(r.report["processes"].as_array().unwrap().iter().any(|p| {
        p["package"] == "pw-gyp@1.0.0" && p["argv"][0].as_str().is_some_and(|a| a.ends_with("cc"))
    }));
}

// ---------------------------------------------------------------------------
// pip
// ---------------------------------------------------------------------------

struct PipCase {
    env: ShimEnv,
    index: PypiIndex,
    _fixture: tempfile::TempDir,
    /// Holds the virtualenv.
    _venv_home: TestHome,
    venv: PathBuf,
    name: String,
}

/// A fixture directory with `files`, served as a wheel or an sdist.
fn pip_case(name: &str, files: &[(&str, Vec<u8>)], sdist: bool) -> PipCase {
    pip_case_with(name, files, sdist, Vec::new())
}

fn pip_case_with(name: &str, files: &[(&str, Vec<u8>)], sdist: bool, extra: Vec<Dist>) -> PipCase {
    let dir = tempfile::tempdir().unwrap();
    for (rel, data) in files {
        let p = dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    let fx = PipFixture {
        name: name.into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden detection fixture".into()),
        requires_dist: vec![],
        dir: dir.path().to_path_buf(),
    };
    let mut dists = vec![if sdist {
        build_sdist(&fx)
    } else {
        build_wheel(&fx)
    }];
    dists.extend(extra);
    let index = PypiIndex::start_with(dists);
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    fs::write(env.home.path().join(".bashrc"), "# rc\n").unwrap();
    PipCase {
        env,
        index,
        _fixture: dir,
        _venv_home: venv_home,
        venv,
        name: name.into(),
    }
}

impl PipCase {
    fn install(&self, mode: &str, extra: &[&str]) -> Installed {
        let url = self.index.index_url();
        // PEP 517 builds (what pip ≥ 23.1 does anyway): an older pip without
        // `wheel` installs an sdist by the legacy `setup.py install`, which is
        // the install itself and may write site-packages (README).
        let mut args = vec!["pip", "install", "--use-pep517", "--index-url", &url];
        args.extend_from_slice(extra);
        args.push(&self.name);
        let r = install(&self.env, mode, &args, self.env.home.path(), &[]);
        self.uninstall();
        r
    }

    /// Undoes an install for the next mode, unmonitored; forgets the wheel
    /// pip built, so that the next install builds (and runs the hook) again.
    fn uninstall(&self) {
        let _ = fs::remove_dir_all(self.env.home.path().join(".cache/pip/wheels"));
        let _ =
            run(self
                .env
                .bare(venv_bin(&self.venv, "pip"))
                .args(["uninstall", "-y", &self.name]));
    }
}

/// An in-tree PEP 517 backend that runs `behaviour` when pip imports it.
fn backend_files(name: &str, behaviour: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let template =
        fs::read_to_string(crate_root().join("tests/fixtures/pip/pwsdist/pwbackend.py")).unwrap();
    // The template's own module-level actions are replaced by the incident.
    let body = template.split("NAME, VERSION =").nth(1).unwrap();
    let backend = format!(
        "import base64, hashlib, os, zipfile\n{}\nNAME, VERSION ={}",
        String::from_utf8_lossy(behaviour),
        body.replace("\"pwsdist\"", &format!("\"{name}\""))
    );
    vec![
        ("pyproject.toml", b"[build-system]\nrequires = []\nbuild-backend = \"pwbackend\"\nbackend-path = [\".\"]\n".to_vec()),
        ("pwbackend.py", backend.into_bytes()),
        (Box::leak(format!("{name}/__init__.py").into_boxed_str()), b"".to_vec()),
    ]
}

#[test]
fn pip_wheel_shipping_a_pth_that_execs() {
    let c = pip_case(
        "pwpth",
        &[
            ("pwpth/__init__.py", b"".to_vec()),
            ("pwpth.pth", incident("pth-exec.pth")),
        ],
        false,
    );
    let p = c.install("protect", &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let f = p.finding("persist.python-startup");
    check_finding(f, "T1546.018", "high", Some("pwpth@1.0.0"), None);
    assert_eq!(f["evidence"]["line"], 1);
    assert!(f["evidence"]["excerpt"].as_str().unwrap().contains("exec("));
    assert_eq!(f["action"], "observed");

    let b = c.install("block", &[]);
    assert_eq!(b.code, BLOCKED, "{}", b.stderr);
    let f = b.finding("persist.python-startup");
    assert_eq!(f["action"], "quarantined");
    let pth = PathBuf::from(f["evidence"]["paths"][0].as_str().unwrap());
    assert!(!pth.exists(), "block mode left {}", pth.display());
    assert_eq!(b.report["outcome"]["status"], "blocked");

    let a = c.install("audit", &[]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(a.finding("persist.python-startup")["action"], "observed");
}

/// The stored report with `id`, read again.
fn reread(env: &ShimEnv, id: &str) -> Value {
    let path = report_files(env)
        .into_iter()
        .find(|p| p.to_string_lossy().contains(id))
        .unwrap_or_else(|| panic!("report {id} is gone"));
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_pth_that_acts_on_the_next_python_start_is_caught_by_the_watch_window() {
    let c = pip_case(
        "pwlate",
        &[
            ("pwlate_hook.py", incident("late-hook.py")),
            ("pwlate.pth", b"import pwlate_hook\n".to_vec()),
        ],
        false,
    );
    let url = c.index.index_url();
    let home = c.env.home.path();
    let window = [("PKGWARDEN_TIME_WINDOW", "4s".to_string())];
    let args = ["pip", "install", "--index-url", &url, "pwlate"];
    let r = install(&c.env, "protect", &args, home, &window);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The install itself is found now: an import line in a .pth is code at
    // every start, whoever ships the module; and the start-up detonation
    // saw the module try ~/.bashrc (refused in protect).
    let f = r.finding("persist.python-startup");
    check_finding(f, "T1546.018", "high", Some("pwlate@1.0.0"), None);
    assert!(
        r.findings("persist.shell-rc")
            .iter()
            .any(|f| f["hook"] == "start-up detonation"),
        "{:#?}",
        r.serious()
    );
    assert_eq!(r.report["watch"]["window_s"], 4, "{:#}", r.report["watch"]);
    let id = r.report["id"].as_str().unwrap().to_string();
    let rc = home.join(".bashrc");
    assert!(!fs::read_to_string(&rc).unwrap().contains("PWLATE"));

    // The user's next Python start, outside pkgwarden: the module acts.
    let py = run(c.env.bare(venv_bin(&c.venv, "python")).args(["-c", "pass"]));
    assert_success(&py, "python after the install");
    assert!(fs::read_to_string(&rc).unwrap().contains("PWLATE"));

    let late = |report: &Value| -> Vec<Value> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["after_ms"].is_u64())
            .cloned()
            .collect()
    };
    let seen = poll(Duration::from_secs(10), || {
        let report = reread(&c.env, &id);
        (!late(&report).is_empty()).then_some(report)
    })
    .expect("the watch window added nothing to the report");
    let found = late(&seen);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f["rule"], "persist.shell-rc", "{f:#}");
    // Unattributed (no process of the install did it): medium, not high.
    check_finding(f, "T1546.004", "medium", None, None);
    assert_eq!(f["evidence"]["paths"][0], rc.display().to_string());
    assert!(
        f["evidence"]["excerpt"]
            .as_str()
            .unwrap()
            .contains("PWLATE"),
        "{f:#}"
    );
    assert!(
        f["pid"].is_null(),
        "no process of the install did it: {f:#}"
    );
    let changes = seen["watch"]["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["path"] == rc.display().to_string()),
        "{:#}",
        seen["watch"]
    );

    // The window closes; what happens afterwards is not the install's.
    let closed = poll(Duration::from_secs(10), || {
        let report = reread(&c.env, &id);
        (report["watch"]["ended"] == true).then_some(report)
    })
    .expect("the watch window never closed");
    fs::write(&rc, "# rc\nexport AFTER_WINDOW=1\n").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let after = reread(&c.env, &id);
    assert_eq!(
        late(&after),
        late(&closed),
        "a write after the window was added"
    );
    c.uninstall();
}

/// Inert start-up payload: the module a `.pth` imports writes a marker into
/// `~/.config/<name>/marker` under the test's HOME.
fn marker_module(name: &str) -> Vec<u8> {
    format!(
        "import os\n_d = os.path.join(os.path.expanduser('~'), '.config', '{name}')\ntry:\n    os.makedirs(_d, exist_ok=True)\n    with open(os.path.join(_d, 'marker'), 'w') as _f:\n        _f.write('pkgwarden fixture')\nexcept OSError:\n    pass\n"
    )
    .into_bytes()
}

/// The 2026 wave: `x.pth` holding `import x`, x doing the work at import.
#[test]
fn pip_wheel_whose_pth_imports_its_own_module() {
    let c = pip_case(
        "pwown",
        &[
            ("pwown/__init__.py", marker_module("pwown")),
            ("pwown.pth", b"import pwown\n".to_vec()),
        ],
        false,
    );
    let marker = c.env.home.path().join(".config/pwown/marker");
    for mode in ["protect", "block"] {
        let r = c.install(mode, &[]);
        let statics: Vec<&Value> = r
            .findings("persist.python-startup")
            .into_iter()
            .filter(|f| f["hook"].is_null())
            .collect();
        assert_eq!(statics.len(), 1, "{mode}: {:#?}", r.serious());
        check_finding(statics[0], "T1546.018", "high", Some("pwown@1.0.0"), None);
        assert_eq!(statics[0]["evidence"]["excerpt"], "import pwown");
        // The detonation names what the start-up did.
        let det = r
            .findings("persist.python-startup")
            .into_iter()
            .find(|f| f["hook"] == "start-up detonation")
            .unwrap_or_else(|| panic!("{mode}: no detonation finding: {:#?}", r.serious()));
        assert!(
            det["title"].as_str().unwrap().contains(".config/pwown"),
            "{det:#}"
        );
        assert_eq!(det["package"], "pwown@1.0.0", "{det:#}");
        assert!(r.report["timings"]["detonation_ms"].is_u64());
        if mode == "block" {
            assert_eq!(r.code, BLOCKED, "{}", r.stderr);
            assert_eq!(statics[0]["action"], "quarantined");
            let pth = PathBuf::from(statics[0]["evidence"]["paths"][0].as_str().unwrap());
            assert!(!pth.exists(), "block mode left {}", pth.display());
            assert!(
                !marker.exists(),
                "the detonation's write got through in block"
            );
        } else {
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        let _ = fs::remove_dir_all(c.env.home.path().join(".config/pwown"));
    }
}

/// A file named like setuptools' with other content, and setuptools'
/// content shipped by someone else beside their own `_distutils_hack`.
#[test]
fn a_disguised_distutils_precedence_pth_is_caught() {
    let other = pip_case(
        "pwdisguise",
        &[
            ("pwdisguise/__init__.py", marker_module("pwdisguise")),
            ("distutils-precedence.pth", b"import pwdisguise\n".to_vec()),
        ],
        false,
    );
    let r = other.install("block", &[]);
    assert_eq!(r.code, BLOCKED, "{}", r.stderr);
    let f = r.finding("persist.python-startup");
    check_finding(f, "T1546.018", "high", Some("pwdisguise@1.0.0"), None);

    let twin = pip_case(
        "pwdistutils",
        &[
            ("_distutils_hack/__init__.py", marker_module("pwdistutils")),
            (
                "distutils-precedence.pth",
                incident("distutils-precedence.pth"),
            ),
        ],
        false,
    );
    let r = twin.install("block", &[]);
    assert_eq!(r.code, BLOCKED, "{}", r.stderr);
    let f = r.finding("persist.python-startup");
    check_finding(f, "T1546.018", "high", Some("pwdistutils@1.0.0"), None);
}

/// The real setuptools wheel, its distutils-precedence.pth included, from
/// the loopback index: quiet in block, though the detonation ran.
#[test]
fn real_setuptools_stays_quiet() {
    let c = pip_case_with(
        "pwplain",
        &[("pwplain/__init__.py", b"".to_vec())],
        false,
        build_requirements(),
    );
    let url = c.index.index_url();
    // The venv may hold an older setuptools (Python < 3.12): upgrade it.
    let args = ["pip", "install", "-U", "--index-url", &url, "setuptools"];
    let r = install(&c.env, "block", &args, c.env.home.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.serious().is_empty(), "{:#?}", r.serious());
    assert!(
        venv_site(&c.venv)
            .join("distutils-precedence.pth")
            .is_file()
    );
    assert!(
        r.report["timings"]["detonation_ms"].is_u64(),
        "{:#}",
        r.report["timings"]
    );
    // RECORD verification covered the environment (pip, setuptools).
    assert!(
        r.report["timings"]["record_check"]["dists"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

/// A dependency's setup.py that appends to another installed distribution
/// (the venv's own pip): the RECORD no longer vouches for the file.
#[test]
fn setup_py_appending_to_another_package_is_tamper() {
    let setup = "import os, sysconfig\n_p = os.path.join(sysconfig.get_paths()['purelib'], 'pip', '__init__.py')\ntry:\n    with open(_p, 'a') as _f:\n        _f.write('\\n# pkgwarden fixture: appended by pwtamper\\n')\nexcept OSError:\n    pass\nfrom setuptools import setup\nsetup(name='pwtamper', version='1.0.0', packages=['pwtamper'])\n";
    let c = pip_case_with(
        "pwtamper",
        &[
            ("setup.py", setup.as_bytes().to_vec()),
            ("pwtamper/__init__.py", b"".to_vec()),
        ],
        true,
        build_requirements(),
    );
    let pip_init = venv_site(&c.venv).join("pip/__init__.py");
    let original = fs::read(&pip_init).unwrap();
    // audit lets the write happen: the RECORD check finds it. protect and
    // block run setup.py in package code's nested domain, which refuses it:
    // the attempt is the finding, the file stays as it was.
    for mode in ["audit", "protect", "block"] {
        let r = c.install(mode, &[]);
        let f = r.finding("tamper.installed-package");
        check_finding(f, "T1195.002", "high", Some("pwtamper@1.0.0"), None);
        assert_eq!(f["evidence"]["paths"][0], pip_init.display().to_string());
        assert!(f["title"].as_str().unwrap().contains("pip@"), "{f:#}");
        let now = fs::read(&pip_init).unwrap();
        if mode == "audit" {
            assert_eq!(r.code, 0, "{}", r.stderr);
            assert_eq!(f["action"], "observed", "{f:#}");
            assert!(String::from_utf8_lossy(&now).contains("pwtamper"));
        } else {
            assert_eq!(now, original, "{mode}: the file changed");
            assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
            assert!(
                f["title"].as_str().unwrap().starts_with("tried to change"),
                "{f:#}"
            );
            let code = if mode == "block" { BLOCKED } else { 0 };
            assert_eq!(r.code, code, "{mode}: {}", r.stderr);
        }
        fs::write(&pip_init, &original).unwrap();
    }
}

#[test]
fn pip_setup_py_writing_a_systemd_unit_and_a_path_hijack() {
    let setup = format!(
        "{}\nfrom setuptools import setup\nfrom setuptools.command.build_py import build_py\n\nclass Build(build_py):\n    def run(self):\n{}\n        build_py.run(self)\n\nsetup(name='pwsetup', version='1.0.0', packages=['pwsetup'], cmdclass={{'build_py': Build}})\n",
        String::from_utf8_lossy(&incident("systemd.py")),
        String::from_utf8_lossy(&incident("path-hijack.py"))
            .lines()
            .map(|l| format!("        {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A plain setup.py sdist: pip builds it with setuptools in an isolated
    // build environment, fetched from the same loopback index.
    let c = pip_case_with(
        "pwsetup",
        &[
            ("setup.py", setup.into_bytes()),
            ("pwsetup/__init__.py", b"".to_vec()),
        ],
        true,
        build_requirements(),
    );
    let home = c.env.home.path().to_path_buf();
    // Most users have ~/.local/bin (and it is on PATH).
    fs::create_dir_all(home.join(".local/bin")).unwrap();
    for mode in ["protect", "block", "audit"] {
        let r = c.install(mode, &[]);
        let unit = home.join(".config/systemd/user/pw-sync.service");
        let sudo = home.join(".local/bin/sudo");
        let s = r.finding("persist.systemd");
        check_finding(s, "T1543.002", "high", Some("pwsetup@1.0.0"), None);
        let h = r.finding("persist.path-hijack");
        check_finding(h, "T1574.007", "high", Some("pwsetup@1.0.0"), None);
        if mode == "audit" {
            assert_eq!(r.code, 0, "{}", r.stderr);
            assert!(unit.is_file() && sudo.is_file());
            assert_eq!(s["action"], "observed");
            fs::remove_file(&unit).unwrap();
            fs::remove_file(&sudo).unwrap();
        } else {
            assert_eq!(s["action"], "blocked", "{mode}: {s:#}");
            assert_eq!(h["action"], "blocked", "{mode}: {h:#}");
            assert!(!unit.exists() && !sudo.exists(), "{mode}");
            assert_eq!(
                r.code,
                if mode == "block" { BLOCKED } else { 0 },
                "{mode}: {}",
                r.stderr
            );
        }
    }
}

/// Issue 9.10: another manager's credentials are not readable by a pip
/// install at all (npm's and yarn's tokens), and `~/.netrc` only when it
/// names the index pip uses.
/// A symlink beside a hidden credential store (planted in HOME by anything
/// earlier) is no way back into it: landlock grants are never made from a
/// link, whose rule would attach to the store itself.
#[test]
fn a_link_planted_beside_a_hidden_store_does_not_reopen_it() {
    let probe = "import os, pathlib\nh = os.environ['HOME']\nout = []\nfor f in ['pw-keys/id_pw', 'pw-npmrc']:\n    try:\n        out.append(f + '=' + open(os.path.join(h, f)).read().strip())\n    except OSError as e:\n        out.append(f + '=refused')\ntry:\n    pathlib.Path(h, '.cache', 'pw-out', 'pw-probe.txt').write_text(' '.join(out))\nexcept OSError:\n    pass\n";
    let setup = format!(
        "from setuptools import setup\n{probe}\nsetup(name='pwlinks', version='1.0.0', packages=['pwlinks'])\n"
    );
    let c = pip_case_with(
        "pwlinks",
        &[
            ("setup.py", setup.into_bytes()),
            ("pwlinks/__init__.py", b"".to_vec()),
        ],
        true,
        build_requirements(),
    );
    let home = c.env.home.path().to_path_buf();
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/id_pw"), "PW-NOT-A-REAL-KEY\n").unwrap();
    fs::write(
        home.join(".npmrc"),
        "//127.0.0.1/:_authToken=PW-NOT-A-REAL-TOKEN\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(home.join(".ssh"), home.join("pw-keys")).unwrap();
    std::os::unix::fs::symlink(home.join(".npmrc"), home.join("pw-npmrc")).unwrap();
    fs::create_dir_all(home.join(".cache/pw-out")).unwrap();
    let marker = home.join(".cache/pw-out/pw-probe.txt");
    for mode in ["protect", "block"] {
        let _ = fs::remove_file(&marker);
        let r = c.install(mode, &[]);
        let seen = fs::read_to_string(&marker).unwrap_or_default();
        assert!(
            !seen.contains("PW-NOT-A-REAL"),
            "{mode}: read through a link: {seen}"
        );
        if mode == "protect" {
            assert_eq!(
                seen, "pw-keys/id_pw=refused pw-npmrc=refused",
                "{}",
                r.stderr
            );
        }
        let reads = r.findings("cred.read");
        assert!(
            reads.iter().any(|f| f["action"] == "blocked"),
            "{mode}: the refused reads are reported: {reads:#?}"
        );
    }
}

#[test]
fn pip_setup_py_cannot_read_other_managers_tokens() {
    let probe = "import os, pathlib\nout = []\nfor f in ['.npmrc', '.yarnrc', '.netrc']:\n    try:\n        out.append(f + '=' + str(len(open(os.path.join(os.environ['HOME'], f)).read())))\n    except OSError as e:\n        out.append(f + '=refused')\ntry:\n    pathlib.Path(os.environ['HOME'], '.cache', 'pw-out', 'pw-probe.txt').write_text(' '.join(out))\nexcept OSError:\n    pass\n";
    let setup = format!(
        "from setuptools import setup\n{probe}\nsetup(name='pwtokens', version='1.0.0', packages=['pwtokens'])\n"
    );
    let c = pip_case_with(
        "pwtokens",
        &[
            ("setup.py", setup.into_bytes()),
            ("pwtokens/__init__.py", b"".to_vec()),
        ],
        true,
        build_requirements(),
    );
    let home = c.env.home.path().to_path_buf();
    fs::write(
        home.join(".npmrc"),
        "//127.0.0.1/:_authToken=not-a-real-token\n",
    )
    .unwrap();
    fs::write(home.join(".yarnrc"), "_authToken not-a-real-token\n").unwrap();
    fs::write(
        home.join(".netrc"),
        "machine elsewhere.invalid login u password p\n",
    )
    .unwrap();
    fs::create_dir_all(home.join(".cache/pw-out")).unwrap();
    let marker = home.join(".cache/pw-out/pw-probe.txt");
    for mode in ["protect", "block"] {
        let _ = fs::remove_file(&marker);
        let r = c.install(mode, &[]);
        let seen = fs::read_to_string(&marker).unwrap_or_default();
        // protect lets package code write its marker in ~/.cache; block does not, and
        // the refused reads are in the report either way.
        if mode == "protect" {
            assert_eq!(
                seen, ".npmrc=refused .yarnrc=refused .netrc=refused",
                "{}",
                r.stderr
            );
        }
        let reads = r.findings("cred.read");
        for f in [".npmrc", ".yarnrc", ".netrc"] {
            let read = reads
                .iter()
                .find(|x| {
                    x["evidence"]["paths"][0]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!("/{f}"))
                })
                .unwrap_or_else(|| panic!("{mode}: no cred.read of {f}: {reads:#?}"));
            assert_eq!(read["action"], "blocked", "{mode}: {read:#}");
        }
        assert!(
            !r.report["sandbox"].to_string().contains(".npmrc"),
            "{mode}: not left readable: {:#}",
            r.report["sandbox"]
        );
    }
    // A ~/.netrc that names the index is pip's own: pip may read it.
    fs::write(
        home.join(".netrc"),
        "machine 127.0.0.1 login u password p\n",
    )
    .unwrap();
    let _ = fs::remove_file(&marker);
    let r = c.install("protect", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // pip's, not package code's: setup.py runs in the nested domain, where
    // no credential is readable.
    let seen = fs::read_to_string(&marker).unwrap_or_default();
    assert_eq!(
        seen, ".npmrc=refused .yarnrc=refused .netrc=refused",
        "{}",
        r.stderr
    );
    assert!(
        r.report["sandbox"]["readable_secrets"]
            .to_string()
            .contains(".netrc"),
        "{:#}",
        r.report["sandbox"]
    );
}

#[test]
fn pip_build_backend_dropping_a_hidden_script_and_running_it() {
    let c = pip_case(
        "pwhidden",
        &backend_files("pwhidden", &incident("hidden-exec.py")),
        true,
    );
    let home = c.env.home.path().to_path_buf();
    let script = home.join(".config/sysmon/sysmon.py");
    // Protect: a new directory under ~/.config is refused; the attempt is
    // reported, attributed to the build backend of the package.
    let p = c.install("protect", &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let refused = p.finding("hidden.script");
    check_finding(
        refused,
        "T1564.001",
        "medium",
        Some("pwhidden@1.0.0"),
        Some("build-backend"),
    );
    assert_eq!(refused["action"], "blocked");
    assert!(!script.exists());

    let b = c.install("block", &[]);
    assert_eq!(b.code, BLOCKED, "{}", b.stderr);
    assert_eq!(b.report["outcome"]["status"], "blocked");

    // Audit: the script lands and runs; written then executed is critical.
    let a = c.install("audit", &[]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let hidden = a.finding("hidden.script");
    check_finding(
        hidden,
        "T1564.001",
        "medium",
        Some("pwhidden@1.0.0"),
        Some("build-backend"),
    );
    assert_eq!(hidden["evidence"]["paths"][0].as_str(), script.to_str());
    let ran = a.finding("exec.dropped");
    check_finding(ran, "T1059", "high", Some("pwhidden@1.0.0"), None);
    assert_eq!(ran["severity"], "critical", "{ran:#}");
    assert!(script.with_file_name("ran").is_file());
}

#[test]
fn pip_build_backend_dropping_a_packed_binary_in_tmp() {
    let c = pip_case(
        "pwpacked",
        &backend_files("pwpacked", &incident("packed-drop.py")),
        true,
    );
    let tag = format!("{}", std::process::id());
    let target = PathBuf::from(format!("/tmp/.X11-cache-{tag}/ld-linux"));
    let tagged = |mode: &str| {
        let mut args = vec!["pip", "install", "--index-url"];
        let url = c.index.index_url();
        args.push(&url);
        args.push("pwpacked");
        install(
            &c.env,
            mode,
            &args,
            c.env.home.path(),
            &[("PW_TAG", tag.clone())],
        )
    };
    let p = tagged("protect");
    // Protect refuses the hidden directory in /tmp before anything is written.
    let f = p.finding("hidden.script");
    check_finding(
        f,
        "T1564.001",
        "medium",
        Some("pwpacked@1.0.0"),
        Some("build-backend"),
    );
    assert_eq!(f["action"], "blocked");
    assert!(!target.exists());
    c.uninstall();
    let b = tagged("block");
    assert_eq!(b.code, BLOCKED, "{}", b.stderr);
    assert!(!target.exists());
    c.uninstall();
    let a = tagged("audit");
    let f = a.finding("drop.binary");
    assert_eq!(f["severity"], "high");
    assert!(
        f["evidence"]["detail"].as_str().unwrap().contains("UPX"),
        "{f:#}"
    );
    assert_eq!(f["action"], "observed");
    let _ = fs::remove_dir_all(target.parent().unwrap());
}

// ---------------------------------------------------------------------------
// Real installs stay quiet
// ---------------------------------------------------------------------------

#[test]
fn plain_installs_have_no_findings_of_medium_or_more() {
    let c = pip_case(
        "pwplain",
        &[("pwplain/__init__.py", b"x = 1\n".to_vec())],
        false,
    );
    // The managers read their own credentials: that is not theft.
    fs::write(
        c.env.home.path().join(".netrc"),
        "machine 127.0.0.1 login u password not-real\n",
    )
    .unwrap();
    for mode in ["protect", "block"] {
        let r = c.install(mode, &[]);
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        assert!(r.serious().is_empty(), "{mode}: {:#?}", r.serious());
        assert_eq!(r.report["outcome"]["status"], "completed");
        assert!(r.report["files"]["writes"].as_u64().unwrap() > 0);
    }
    let registry = NpmRegistry::start(&["pwdemo", "pwdemo-dep"]);
    let env = ShimEnv::new(&[]);
    fs::write(env.home.path().join(".npmrc"), "fund=false\n").unwrap();
    let project = env.home.subdir("proj");
    fs::write(
        project.join("package.json"),
        r#"{"name":"proj","version":"1.0.0"}"#,
    )
    .unwrap();
    for mode in ["protect", "block"] {
        let _ = fs::remove_dir_all(project.join("node_modules"));
        let r = install(
            &env,
            mode,
            &[
                "npm",
                "install",
                "--registry",
                &registry.registry_url(),
                "pwdemo",
            ],
            &project,
            &[],
        );
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        assert!(r.serious().is_empty(), "{mode}: {:#?}", r.serious());
    }
}

// ---------------------------------------------------------------------------
// Every install leaves a report
// ---------------------------------------------------------------------------

fn only_report(env: &ShimEnv) -> Value {
    let files = report_files(env);
    assert_eq!(files.len(), 1, "{files:?}");
    serde_json::from_slice(&fs::read(files.iter().next().unwrap()).unwrap()).unwrap()
}

#[test]
fn an_interrupted_install_still_leaves_a_complete_report() {
    let (env, _bin) = stand_in("#!/bin/sh\ntouch \"$HOME/work/started\"\nexec sleep 30\n");
    let mut cmd = env.pkgwarden();
    cmd.args(["run", "--sandbox", "--", "gem", "install", "x"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    wait_for(&env.home.path().join("work/started"), "the stand-in start");
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let r = only_report(&env);
    assert_eq!(r["outcome"]["status"], "interrupted");
    assert_eq!(r["outcome"]["signal"], libc::SIGINT);
    assert_eq!(r["outcome"]["exit_code"], 130);
    // The stand-in manager is in the tree (it may not have reached its
    // `exec sleep` when the signal came).
    assert!(
        r["processes"].as_array().unwrap().iter().any(|p| p["argv"]
            .as_array()
            .is_some_and(|a| a.iter().any(|w| w == "install"))),
        "{:#}",
        r["processes"]
    );
    assert_eq!(r["version"], 1);
}

#[test]
fn a_manager_crash_leaves_a_report_marked_crashed() {
    let (env, _bin) = stand_in("#!/bin/sh\nkill -SEGV $$\n");
    let out = run(env
        .pkgwarden()
        .args(["run", "--sandbox", "--", "gem", "install", "x"]));
    assert_eq!(out.status.code(), Some(128 + libc::SIGSEGV));
    let r = only_report(&env);
    assert_eq!(r["outcome"]["status"], "crashed");
    assert_eq!(r["outcome"]["signal"], libc::SIGSEGV);
    assert!(r["outcome"]["manager_exit"].is_null());
}

#[test]
fn sixteen_concurrent_installs_leave_sixteen_valid_reports() {
    let (env, _bin) = stand_in("#!/bin/sh\necho \"$1 $2\" > /dev/null\nexit 0\n");
    let children: Vec<std::process::Child> = (0..16)
        .map(|i| {
            env.pkgwarden()
                .args([
                    "run",
                    "--sandbox",
                    "--",
                    "gem",
                    "install",
                    &format!("pkg{i}"),
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().code(), Some(0));
    }
    let files = report_files(&env);
    assert_eq!(files.len(), 16, "{files:?}");
    let mut ids = BTreeSet::new();
    let mut packages = BTreeSet::new();
    for f in &files {
        let r: Value = serde_json::from_slice(&fs::read(f).unwrap()).unwrap();
        assert_eq!(r["outcome"]["status"], "completed");
        ids.insert(r["id"].as_str().unwrap().to_string());
        packages.insert(r["what"]["argv"][1].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 16);
    assert_eq!(packages.len(), 16);
    // The store's listing sees every one of them.
    let out = run(env.pkgwarden().args(["report", "list", "--json"]));
    assert_success(&out, "report list");
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 16, "{listed:#}");
}

#[test]
fn an_allow_entry_accepts_a_package_until_it_expires() {
    let c = npm_case("rc-append.js", "postinstall");
    let policy = c.env.home.config_dir().join("pkgwarden/policy.toml");
    fs::create_dir_all(policy.parent().unwrap()).unwrap();
    fs::write(
        &policy,
        "[[allow]]\npackage = \"pw-rc-append@1.0.0\"\nrules = [\"persist.shell-rc\"]\nexpires = \"2999-12-31\"\nreason = \"reviewed\"\n",
    )
    .unwrap();
    let r = c.install("block", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let f = r.finding("persist.shell-rc");
    assert_eq!(f["allowed_by"], "allow pw-rc-append@1.0.0: reviewed");
    assert_eq!(
        f["action"], "blocked",
        "the sandbox still refused the write"
    );

    fs::write(
        &policy,
        "[[allow]]\npackage = \"pw-rc-append@1.0.0\"\nexpires = \"2020-01-01\"\n",
    )
    .unwrap();
    let r = c.install("block", &[]);
    assert_eq!(r.code, BLOCKED, "{}", r.stderr);
    assert!(r.stderr.contains("expired on 2020-01-01"), "{}", r.stderr);
    assert!(r.finding("persist.shell-rc")["allowed_by"].is_null());
}

#[test]
fn a_malicious_install_renders_valid_sarif_markdown_and_jsonl() {
    let c = npm_case("cred-exfil.js", "postinstall");
    fs::write(
        c.env.home.path().join(".npmrc"),
        "//127.0.0.1/:_authToken=not-a-real-token\n",
    )
    .unwrap();
    let sarif_path = c.env.home.path().join("out.sarif");
    let md_path = c.env.home.path().join("summary.md");
    let r = c.install(
        "protect",
        &[
            ("C2_PORT", "9".into()),
            ("PKGWARDEN_SARIF", sarif_path.display().to_string()),
            ("PKGWARDEN_SUMMARY", md_path.display().to_string()),
        ],
    );
    assert!(!r.findings("cred.read").is_empty());
    let sarif: Value = serde_json::from_slice(&fs::read(&sarif_path).unwrap()).unwrap();
    let schema: Value = serde_json::from_slice(
        &fs::read(crate_root().join("tests/data/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|x| x["ruleId"] == "cred.read"));
    let md = fs::read_to_string(&md_path).unwrap();
    assert!(
        md.contains("cred.read") && md.contains("net.direct"),
        "{md}"
    );
    let out = run(c
        .env
        .pkgwarden()
        .args(["report", "export", "last", "--format", "jsonl"]));
    assert_success(&out, "export jsonl");
    let lines: Vec<Value> = stdout_str(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|l| {
        l["rule.id"] == "net.direct"
            && l["threat.technique.id"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x == "T1571"))
    }));
}

// ---------------------------------------------------------------------------
// gem
// ---------------------------------------------------------------------------

/// A static file server over `dir` (what `gem generate_index` wrote).
#[test]
fn gem_extconf_reading_credentials_then_calling_home() {
    // A real `gem build` and `gem generate_index`, served on loopback.
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let copy = run(std::process::Command::new("cp")
        .arg("-r")
        .arg(crate_root().join("tests/fixtures/gem/pwgem"))
        .arg(&src));
    assert_success(&copy, "copy the gem fixture");
    let built = run(std::process::Command::new("gem")
        .args(["build", "pwgem.gemspec"])
        .current_dir(&src));
    assert_success(&built, "gem build");
    let repo = work.path().join("repo");
    fs::create_dir_all(repo.join("gems")).unwrap();
    fs::copy(
        src.join("pwgem-1.0.0.gem"),
        repo.join("gems/pwgem-1.0.0.gem"),
    )
    .unwrap();
    let indexed = run(std::process::Command::new("gem")
        .args(["generate_index", "--directory"])
        .arg(&repo));
    assert_success(&indexed, "gem generate_index");
    let server = static_server(repo);
    let source = format!("{}/", server.base_url());

    let (port, reached) = stand_in_c2();
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    fs::create_dir_all(home.join(".gem")).unwrap();
    fs::write(
        home.join(".gem/credentials"),
        "---\n:rubygems_api_key: not-a-real-key\n",
    )
    .unwrap();
    let gems = home.join("gems");
    for mode in ["protect", "block"] {
        let _ = fs::remove_dir_all(&gems);
        // gem is sandboxed by default: its facts come from RubyGems itself.
        let vars = [("C2_PORT", port.clone())];
        let r = gem_install(&env, mode, &source, &gems, "pwgem", &home, &vars);
        let read = r.finding("cred.read");
        check_finding(
            read,
            "T1552.001",
            "high",
            Some("pwgem@1.0.0"),
            Some("extconf.rb"),
        );
        assert_eq!(read["action"], "blocked", "{read:#}");
        let direct = r.finding("net.direct");
        check_finding(
            direct,
            "T1571",
            "high",
            Some("pwgem@1.0.0"),
            Some("extconf.rb"),
        );
        assert_eq!(direct["severity"], "critical");
        assert_eq!(
            reached.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{mode}: the C2 was reached"
        );
        if mode == "block" {
            assert_eq!(r.code, BLOCKED, "{}", r.stderr);
        } else {
            assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
            assert!(gems.join("gems/pwgem-1.0.0/lib/pwgem.rb").is_file());
            // The registry came from `--source`, as a user would give it.
            assert!(
                r.report["endpoints"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e["verdict"] == "allowed")
            );
        }
    }
}

#[test]
fn npm_git_dependency_prepare_script_writing_bashrc() {
    // A git dependency: npm clones it and runs its `prepare` script.
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    fs::write(home.join(".bashrc"), "# rc\n").unwrap();
    let repo = home.join("src/pw-gitdep");
    fs::create_dir_all(&repo).unwrap();
    fs::write(
        repo.join("package.json"),
        r#"{"name":"pw-gitdep","version":"1.0.0","scripts":{"prepare":"node incident.js"}}"#,
    )
    .unwrap();
    fs::write(repo.join("incident.js"), incident("rc-append.js")).unwrap();
    for args in [
        vec!["init", "-q"],
        vec!["add", "."],
        vec![
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "x",
        ],
    ] {
        let out = run(env.bare("git").args(&args).current_dir(&repo));
        assert_success(&out, "git");
    }
    let project = env.home.subdir("proj");
    fs::write(
        project.join("package.json"),
        r#"{"name":"proj","version":"1.0.0"}"#,
    )
    .unwrap();
    let url = format!("git+file://{}", repo.display());
    let registry = NpmRegistry::start_with(vec![]);
    let r = install(
        &env,
        "protect",
        &[
            "npm",
            "install",
            "--foreground-scripts",
            "--registry",
            &registry.registry_url(),
            &url,
        ],
        &project,
        &[],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let f = r.finding("persist.shell-rc");
    check_finding(
        f,
        "T1546.004",
        "high",
        Some("pw-gitdep@1.0.0"),
        Some("prepare"),
    );
    assert_eq!(f["action"], "blocked");
    assert_eq!(fs::read_to_string(home.join(".bashrc")).unwrap(), "# rc\n");
    // git ran inside the sandbox, as part of the install.
    assert!(
        r.report["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["argv"][0].as_str().is_some_and(|a| a.ends_with("git")))
    );
}

#[test]
fn npm_binding_gyp_command_expansion_runs_under_an_implicit_node_gyp_rebuild() {
    // No install script at all: npm runs `node-gyp rebuild` because a
    // binding.gyp is there, and gyp runs `<!(…)` commands while configuring.
    let gyp = br#"{ "variables": { "pw_probe": "<!(node incident.js)" },
  "targets": [ { "target_name": "pwaddon", "sources": [ "addon.c" ] } ] }
"#;
    let pkg = NpmPackage::new(
        serde_json::json!({"name": "pw-gyp-evil", "version": "1.0.0"}),
        &[
            ("binding.gyp", gyp),
            ("addon.c", b"int pw_addon(void) { return 1; }\n"),
            ("incident.js", &incident("autostart.js")),
        ],
    );
    // The machine's own node headers: nothing to download.
    let (_env, project, r) = install_one(pkg, "protect", &[("npm_config_nodedir", "/usr".into())]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        project
            .join("node_modules/pw-gyp-evil/build/Release/pwaddon.node")
            .is_file()
    );
    let f = r.finding("persist.autostart");
    check_finding(
        f,
        "T1547.013",
        "high",
        Some("pw-gyp-evil@1.0.0"),
        Some("install"),
    );
    assert_eq!(f["action"], "blocked");
    assert!(
        f["chain"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("node-gyp")),
        "{f:#}"
    );
}

// ---------------------------------------------------------------------------
// Hosts outside the allowed set
// ---------------------------------------------------------------------------

fn check_unexpected(
    r: &Installed,
    mode: &str,
    package: &str,
    hook: Option<&str>,
    before: usize,
    seen: &std::sync::Mutex<Vec<String>>,
) {
    let f = r.finding("net.unexpected-host");
    check_finding(f, "T1071.001", "medium", Some(package), hook);
    assert_eq!(
        f["evidence"]["endpoint"], "unexpected-host.example:80",
        "{f:#}"
    );
    let asked = seen.lock().unwrap().len();
    if mode == "block" {
        assert_eq!(f["action"], "blocked");
        assert_eq!(asked, before, "block let the request out");
        assert_eq!(r.code, BLOCKED, "{}", r.stderr);
    } else {
        assert_eq!(f["action"], "observed");
        // pip imports a backend once per hook: as many requests.
        assert!(asked > before, "{mode}: the request did not go out");
        assert!(
            seen.lock()
                .unwrap()
                .last()
                .unwrap()
                .starts_with("GET http://unexpected-host.example/collect")
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
}

#[test]
fn npm_postinstall_asking_a_host_outside_the_allowed_set() {
    let (proxy, seen) = user_proxy();
    let c = npm_case("fetch-unexpected.js", "postinstall");
    for mode in ["protect", "block"] {
        let before = seen.lock().unwrap().len();
        let r = c.install(mode, &behind(&proxy));
        check_unexpected(&r, mode, &c.pkg(), Some("postinstall"), before, &seen);
        if mode == "protect" {
            assert!(
                r.stdout.contains("fetch-unexpected got 200"),
                "{}",
                r.stdout
            );
        } else {
            assert!(
                r.stdout.contains("fetch-unexpected got 403"),
                "{}",
                r.stdout
            );
        }
    }
}

#[test]
fn pip_build_backend_asking_a_host_outside_the_allowed_set() {
    let (proxy, seen) = user_proxy();
    let c = pip_case(
        "pwfetch",
        &backend_files("pwfetch", &incident("fetch-unexpected.py")),
        true,
    );
    for mode in ["protect", "block"] {
        let before = seen.lock().unwrap().len();
        let url = c.index.index_url();
        let r = install(
            &c.env,
            mode,
            &["pip", "install", "--index-url", &url, "pwfetch"],
            c.env.home.path(),
            &behind(&proxy),
        );
        c.uninstall();
        check_unexpected(
            &r,
            mode,
            "pwfetch@1.0.0",
            Some("build-backend"),
            before,
            &seen,
        );
    }
}

#[test]
fn npm_postinstall_piping_decoded_text_into_a_shell() {
    // `echo pwexec`, base64-encoded, decoded and piped into sh: inert.
    let pkg = NpmPackage::new(
        serde_json::json!({
            "name": "pw-pipe", "version": "1.0.0",
            "scripts": {"postinstall": "echo ZWNobyBwd2V4ZWMK | base64 -d | sh"}
        }),
        &[("index.js", b"module.exports = 1;\n")],
    );
    let (_env, _project, r) = install_one(pkg, "protect", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("pwexec"), "{}", r.stdout);
    let f = r.finding("exec.suspicious");
    check_finding(
        f,
        "T1059.004",
        "medium",
        Some("pw-pipe@1.0.0"),
        Some("postinstall"),
    );
    assert!(
        f["evidence"]["argv"].to_string().contains("base64 -d"),
        "{f:#}"
    );
}

/// The site-packages directory of the virtual environment at `venv`.
fn venv_site(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    let py = fs::read_dir(&lib)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("python"))
        .unwrap_or_else(|| panic!("no python* in {}", lib.display()));
    py.path().join("site-packages")
}

/// setuptools' namespace-package .pth, in its real shape: quiet in block.
#[test]
fn pip_wheel_with_a_namespace_package_pth_stays_quiet() {
    let line = "import sys, types, os;p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('pwns',));importlib = __import__('importlib.util');__import__('importlib.machinery');m = sys.modules.setdefault('pwns', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('pwns', [os.path.dirname(p)])));m = m or sys.modules.setdefault('pwns', types.ModuleType('pwns'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n";
    let c = pip_case(
        "pwnsx",
        &[
            ("pwns/x/__init__.py", b"".to_vec()),
            ("pwnsx-1.0.0-py3-nspkg.pth", line.as_bytes().to_vec()),
        ],
        false,
    );
    let r = c.install("block", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.serious().is_empty(), "{:#?}", r.serious());
}

/// setuptools' editable-install finder module, rendered from the template
/// of the real setuptools wheel in tests/.wheels.
fn setuptools_finder(finder: &str, package: &str, source: &Path) -> Vec<u8> {
    let wheel = build_requirements()
        .into_iter()
        .find(|w| w.project == "setuptools")
        .unwrap();
    let path = std::env::temp_dir().join(format!("pw-setuptools-{}.whl", std::process::id()));
    fs::write(&path, &wheel.bytes).unwrap();
    let script = "import sys, zipfile\nsrc = zipfile.ZipFile(sys.argv[1]).read('setuptools/command/editable_wheel.py').decode()\nstart = src.index('_FINDER_TEMPLATE = ')\nend = src.index('\"\"\"', src.index('\"\"\"', start) + 3) + 3\nns = {}\nexec(src[start:end], ns)\nsys.stdout.write(ns['_FINDER_TEMPLATE'].format(name=sys.argv[2], mapping={sys.argv[3]: sys.argv[4]}, namespaces={}))\n";
    let out = std::process::Command::new(python3())
        .args(["-c", script])
        .arg(&path)
        .args([finder, package])
        .arg(source)
        .output()
        .unwrap();
    let _ = fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("class _EditableFinder"));
    out.stdout
}

/// What `pip install -e` of a setuptools project installs (the
/// `__editable__` .pth and setuptools' own finder module, rendered from the
/// real wheel, pointing at a project directory), shipped in a wheel from
/// the index instead: no editable install made it, so it is a finding and
/// block refuses it, however faithful the finder (round 13, bypass 7). The
/// real `pip install -e` stays quiet: `tests/nest.rs`,
/// `a_local_editable_install_with_setuptools_finder_stays_clean`.
#[test]
fn setuptools_editable_finder_shipped_in_a_wheel_is_a_finding() {
    let source_home = TestHome::new();
    let source = source_home.subdir("pwedit");
    fs::write(source.join("__init__.py"), "X = 1\n").unwrap();
    let finder = "__editable___pwedit_1_0_0_finder";
    let c = pip_case(
        "pwedit",
        &[
            (
                "__editable__.pwedit-1.0.0.pth",
                format!("import {finder}; {finder}.install()").into_bytes(),
            ),
            (
                "__editable___pwedit_1_0_0_finder.py",
                setuptools_finder(finder, "pwedit", &source),
            ),
        ],
        false,
    );
    let r = c.install("block", &[]);
    assert_eq!(r.code, BLOCKED, "{}", r.stderr);
    assert!(
        !r.findings("persist.python-startup").is_empty(),
        "{:#}",
        r.report["findings"]
    );
}

/// Variation: the import line hidden behind a lone carriage return, which
/// Python's universal newlines split and a `\n` reader would not.
#[test]
fn a_pth_import_hidden_behind_a_carriage_return_is_caught() {
    let c = pip_case(
        "pwcr",
        &[
            ("pwcr/__init__.py", marker_module("pwcr")),
            ("pwcr.pth", b"/nonexistent/pwcr\rimport pwcr\n".to_vec()),
        ],
        false,
    );
    let r = c.install("block", &[]);
    assert_eq!(r.code, BLOCKED, "{}", r.stderr);
    let f = r
        .findings("persist.python-startup")
        .into_iter()
        .find(|f| f["hook"].is_null())
        .expect("no static finding");
    assert_eq!(f["evidence"]["line"], 2, "{f:#}");
    assert!(!c.env.home.path().join(".config/pwcr/marker").exists());
}

/// Variation: the setup.py also rewrites pip's RECORD so that it vouches for
/// the trojaned file. A changed RECORD is a reinstall only when the manager
/// wrote it; package code writing it is a forgery.
#[test]
fn setup_py_forging_the_record_of_the_package_it_trojans() {
    let setup = "import base64, glob, hashlib, os, sysconfig\n_site = sysconfig.get_paths()['purelib']\n_p = os.path.join(_site, 'pip', '__init__.py')\ntry:\n    with open(_p, 'a') as _f:\n        _f.write('\\n# pkgwarden fixture: appended by pwforge\\n')\n    _h = base64.urlsafe_b64encode(hashlib.sha256(open(_p, 'rb').read()).digest()).rstrip(b'=').decode()\n    _rec = glob.glob(os.path.join(_site, 'pip-*.dist-info', 'RECORD'))[0]\n    _lines = open(_rec).read().splitlines()\n    _lines = [('pip/__init__.py,sha256=%s,%d' % (_h, os.path.getsize(_p))) if l.startswith('pip/__init__.py,') else l for l in _lines]\n    with open(_rec, 'w') as _f:\n        _f.write('\\n'.join(_lines) + '\\n')\nexcept OSError:\n    pass\nfrom setuptools import setup\nsetup(name='pwforge', version='1.0.0', packages=['pwforge'])\n";
    let c = pip_case_with(
        "pwforge",
        &[
            ("setup.py", setup.as_bytes().to_vec()),
            ("pwforge/__init__.py", b"".to_vec()),
        ],
        true,
        build_requirements(),
    );
    let site = venv_site(&c.venv);
    let pip_init = site.join("pip/__init__.py");
    let record = fs::read_dir(&site)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("pip-") && n.ends_with(".dist-info")
        })
        .unwrap()
        .join("RECORD");
    let (init0, record0) = (fs::read(&pip_init).unwrap(), fs::read(&record).unwrap());
    // audit lets package code write both: the forged RECORD does not hide
    // the change. protect and block refuse both writes (nested domain).
    for mode in ["audit", "protect", "block"] {
        let r = c.install(mode, &[]);
        let f = r.finding("tamper.installed-package");
        check_finding(f, "T1195.002", "high", Some("pwforge@1.0.0"), None);
        assert_eq!(f["evidence"]["paths"][0], pip_init.display().to_string());
        let detail = f["evidence"]["detail"].as_str().unwrap();
        if mode == "audit" {
            assert!(detail.contains("rewrote its RECORD"), "{f:#}");
        } else {
            assert!(detail.contains("tried to write"), "{f:#}");
            assert_eq!(fs::read(&pip_init).unwrap(), init0, "{mode}");
            assert_eq!(fs::read(&record).unwrap(), record0, "{mode}");
        }
        let code = if mode == "block" { BLOCKED } else { 0 };
        assert_eq!(r.code, code, "{mode}: {}", r.stderr);
        fs::write(&pip_init, &init0).unwrap();
        fs::write(&record, &record0).unwrap();
    }
}

/// What varies from run to run in a report (ids, times, pids, syscall
/// counts, temporary names, the loopback port) taken out, the rest kept as
/// the report has it: the same install must give the same report whatever
/// the code inside looks like (issue 12's golden test).
fn normalized(report: &Value, places: &[(String, &str)]) -> Value {
    const VARYING: &[&str] = &[
        "id",
        "started",
        "duration_ms",
        "timings",
        "who",
        "ms",
        "seq",
        "pid",
        "ppid",
        "notifications",
        "snapshot_us",
        "supervisor_max_rss_kb",
        "until",
        "mtime",
        "mtime_ns",
        "report_id",
        "ctime_ns",
        "ino",
        "uid",
        "gid",
        "dev",
        // landlock's rule count follows what /tmp holds (split directories).
        "rules",
        // The supervisor's raw record: its order and count follow thread
        // scheduling; what the rules made of it is in `findings`.
        "processes",
        "network",
        "endpoints",
    ];
    fn walk(v: &Value, places: &[(String, &str)]) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| !VARYING.contains(&k.as_str()))
                    .map(|(k, v)| (text(k, places), walk(v, places)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|v| walk(v, places)).collect()),
            Value::String(s) => Value::String(text(s, places)),
            other => other.clone(),
        }
    }
    fn text(s: &str, places: &[(String, &str)]) -> String {
        {
            let mut s = s.to_string();
            for (from, to) in places {
                s = s.replace(from.as_str(), to);
            }
            // The private TMPDIR and the quarantine's per-report names.
            let re = |s: &str, prefix: &str, to: &str| -> String {
                let mut out = String::new();
                let mut rest = s;
                while let Some(i) = rest.find(prefix) {
                    out.push_str(&rest[..i]);
                    out.push_str(to);
                    let tail = &rest[i + prefix.len()..];
                    let end = tail
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                        .unwrap_or(tail.len());
                    rest = &tail[end..];
                }
                out.push_str(rest);
                out
            };
            // A process chain's entries start with their pid.
            let s = match s.split_once(' ') {
                Some((pid, rest)) if pid.bytes().all(|b| b.is_ascii_digit()) && !pid.is_empty() => {
                    format!("$PID {rest}")
                }
                _ => s,
            };
            re(&s, "pkgwarden-", "pkgwarden-$N")
        }
    }
    let id = report["id"].as_str().unwrap_or("-").to_string();
    let mut places = places.to_vec();
    places.push((id, "$ID"));
    walk(report, &places)
}

#[test]
fn the_report_of_a_fixture_install_is_the_golden_one() {
    let c = pip_case(
        "pwgold",
        &[
            ("pwgold/__init__.py", b"".to_vec()),
            ("pwgold.pth", incident("pth-exec.pth")),
        ],
        false,
    );
    // The interpreter's version names the venv's lib/pythonX.Y.
    let py = fs::read_dir(c.venv.join("lib"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|n| n.starts_with("python"))
        .unwrap();
    let places = [
        (c.index.base_url(), "$INDEX"),
        (c.venv.display().to_string(), "$VENV"),
        (py.clone(), "$PY"),
        (c.env.home.path().display().to_string(), "$HOME"),
        (std::env::temp_dir().display().to_string(), "$TMP"),
    ];
    let write = std::env::var_os("PKGWARDEN_GOLDEN_WRITE").map(PathBuf::from);
    // PATH as the unprivileged CI run has it: what the install finds on a
    // developer's PATH (version managers' shims, rustup's proxies) would
    // show in the report.
    let mut path = std::ffi::OsString::from(c.env.shims.as_os_str());
    path.push(":");
    path.push(c.venv.join("bin"));
    path.push(":/usr/local/bin:/usr/bin:/bin");
    let url = c.index.index_url();
    let args = [
        "pip",
        "install",
        "--use-pep517",
        "--index-url",
        &url,
        "pwgold",
    ];
    for mode in ["protect", "block"] {
        let path = path.to_string_lossy().into_owned();
        let r = install(&c.env, mode, &args, c.env.home.path(), &[("PATH", path)]);
        c.uninstall();
        let mut got = normalized(&r.report, &places);
        // The venv's pip is the interpreter's (root's and the test user's
        // python3 may differ).
        got["what"]["version"] = Value::from("$PIP");
        let name = format!("golden-pth-{mode}.json");
        if let Some(dir) = &write {
            fs::write(dir.join(&name), serde_json::to_string_pretty(&got).unwrap()).unwrap();
            continue;
        }
        let want: Value =
            serde_json::from_slice(&fs::read(crate_root().join("tests/data").join(&name)).unwrap())
                .unwrap();
        assert_eq!(
            got,
            want,
            "{mode}: the report differs from tests/data/{name} (PKGWARDEN_GOLDEN_WRITE=DIR writes the new one):\n{}",
            serde_json::to_string_pretty(&got).unwrap()
        );
    }
}
