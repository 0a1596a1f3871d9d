//! Issue 15, part 3: the release-age cooldown. Loopback registries serve
//! two versions of `pwcool` with their publication times (npm's `time`,
//! PEP 691 JSON `upload-time`): 1.0.0 long ago, 1.1.0 yesterday. With
//! `cooldown = "3d"` the older one installs, through each manager's own date
//! gate set by pkgwarden; without it the newer one; a package the policy
//! exempts gets its newest; a project cannot undo the cooldown; a manager
//! without a gate says so loudly (and block refuses it); a broken value runs
//! nothing.

use crate::support;

use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use support::pypi::build_wheel;
use support::*;

const OLD: &str = "1.0.0";
const NEW: &str = "1.1.0";

/// RFC 3339 of `days` ago.
fn days_ago(days: u64) -> String {
    let at = SystemTime::now() - Duration::from_secs(days * 24 * 3600);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// An npm registry with `pwcool` 1.0.0 (400 days old) and 1.1.0 (a day old).
fn npm_registry() -> NpmRegistry {
    let pkg = |v: &str| {
        NpmPackage::new(
            json!({"name": "pwcool", "version": v, "license": "MIT"}),
            &[("index.js", format!("module.exports = '{v}';\n").as_bytes())],
        )
    };
    let r = NpmRegistry::start_with(vec![pkg(OLD), pkg(NEW)]);
    r.set_time("pwcool", OLD, &days_ago(400));
    r.set_time("pwcool", NEW, &days_ago(1));
    r
}

/// A PEP 691 index with `pwcool` wheels 1.0.0 (400 days old) and 1.1.0 (a
/// day old).
fn pypi_index() -> PypiIndex {
    let wheel = |v: &str| {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("pwcool")).unwrap();
        fs::write(
            dir.path().join("pwcool/__init__.py"),
            format!("V = '{v}'\n"),
        )
        .unwrap();
        build_wheel(&PipFixture {
            name: "pwcool".into(),
            version: v.into(),
            summary: Some("Inert pkgwarden fixture".into()),
            requires_dist: vec![],
            dir: dir.path().to_path_buf(),
        })
    };
    let (old, new) = (wheel(OLD), wheel(NEW));
    let (old_name, new_name) = (old.filename.clone(), new.filename.clone());
    let index = PypiIndex::start_with(vec![old, new]);
    index.set_upload_time(&old_name, &days_ago(400));
    index.set_upload_time(&new_name, &days_ago(1));
    index
}

/// The system policy of `env` (the layer the tests own).
fn policy(env: &ShimEnv, text: &str) {
    fs::write(env.home.path().join("etc-pkgwarden-policy.toml"), text).unwrap();
}

/// One install through a shim: exit code, stderr, and its report (when it
/// left one).
struct Ran {
    code: i32,
    stderr: String,
    report: Option<Value>,
}

impl Ran {
    fn cooldown(&self) -> &Value {
        let r = self
            .report
            .as_ref()
            .unwrap_or_else(|| panic!("no report\n{}", self.stderr));
        &r["what"]["cooldown"]
    }
}

/// `tool ARGS` typed in `cwd` through the shim, in `mode`.
fn shim(env: &ShimEnv, mode: &str, tool: &str, args: &[&str], cwd: &Path) -> Ran {
    let before = env.report_files();
    let out = run(env
        .shim(tool)
        .args(args)
        .current_dir(cwd)
        .env("PKGWARDEN_MODE", mode)
        .env("UV_NO_PROGRESS", "1"));
    let new = env.reports_since(&before);
    assert!(new.len() <= 1, "{new:?}");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stderr: stderr_str(&out),
        report: new
            .first()
            .map(|p| serde_json::from_slice(&fs::read(p).unwrap()).unwrap()),
    }
}

/// A fresh npm project at `dir`.
fn npm_project(dir: &Path) {
    let _ = fs::remove_dir_all(dir.join("node_modules"));
    for f in ["package-lock.json", "pnpm-lock.yaml"] {
        let _ = fs::remove_file(dir.join(f));
    }
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("package.json"),
        r#"{"name":"proj","version":"1.0.0","license":"MIT"}"#,
    )
    .unwrap();
}

/// The version of `pwcool` installed in the npm project at `dir`.
fn npm_installed(dir: &Path) -> String {
    let m = dir.join("node_modules/pwcool/package.json");
    let text = fs::read_to_string(&m).unwrap_or_else(|e| panic!("{}: {e}", m.display()));
    serde_json::from_str::<Value>(&text).unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `npm install pwcool` (or pnpm add) from `registry` in a fresh project.
fn js_install(env: &ShimEnv, tool: &str, mode: &str, registry: &NpmRegistry, dir: &Path) -> Ran {
    npm_project(dir);
    // pnpm keeps what it fetched in its store: each run starts empty.
    let _ = fs::remove_dir_all(env.home.data_dir().join("pnpm"));
    let verb = if tool == "pnpm" { "add" } else { "install" };
    let url = registry.registry_url();
    shim(env, mode, tool, &[verb, "--registry", &url, "pwcool"], dir)
}

/// `pkgwarden report show` of the install's report.
fn show(env: &ShimEnv, r: &Ran) -> String {
    let id = r.report.as_ref().expect("a report")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = run(env.pkgwarden().args(["report", "show", &id]));
    assert_success(&out, "pkgwarden report show");
    stdout_str(&out)
}

fn check_enforced(r: &Ran, what: &str, gate: &str) {
    let c = r.cooldown();
    assert_eq!(c["enforced"], true, "{what}: {c:#}\n{}", r.stderr);
    assert!(
        c["mechanism"].as_str().unwrap_or("").contains(gate),
        "{what}: {c:#}"
    );
    assert_eq!(c["age"], "3days", "{what}: {c:#}");
    assert!(
        !r.stderr.contains("NOT ENFORCED"),
        "{what}: silent when enforced\n{}",
        r.stderr
    );
}

fn js_manager(tool: &str, gate: &str) {
    let registry = npm_registry();
    let env = ShimEnv::new(&[]);
    let dir = env.home.path().join("proj");
    for mode in ["protect", "block"] {
        policy(&env, "cooldown = \"3d\"\n");
        let r = js_install(&env, tool, mode, &registry, &dir);
        assert_eq!(r.code, 0, "{tool} {mode}: {}", r.stderr);
        assert_eq!(npm_installed(&dir), OLD, "{tool} {mode}: the older one");
        check_enforced(&r, &format!("{tool} {mode}"), gate);
        assert!(!registry.tarball_fetched("pwcool", NEW), "{tool} {mode}");
        let shown = show(&env, &r);
        assert!(
            shown.contains("cooldown  3days · nothing uploaded after"),
            "{shown}"
        );
    }
    // A per-package exemption lets the newest in.
    policy(&env, "cooldown = \"3d\"\ncooldown_exempt = [\"pwcool\"]\n");
    let r = js_install(&env, tool, "block", &registry, &dir);
    assert_eq!(r.code, 0, "{tool} exempt: {}", r.stderr);
    assert_eq!(npm_installed(&dir), NEW, "{tool}: exempt");
    assert_eq!(r.cooldown()["exempt"], json!(["pwcool"]));
    // Without a cooldown, the newest; the report has no cooldown.
    policy(&env, "");
    let r = js_install(&env, tool, "protect", &registry, &dir);
    assert_eq!(r.code, 0, "{tool} no cooldown: {}", r.stderr);
    assert_eq!(npm_installed(&dir), NEW, "{tool}: no cooldown");
    assert!(r.cooldown().is_null(), "{:#}", r.cooldown());
}

#[test]
fn npm_installs_the_older_version_under_a_cooldown() {
    js_manager("npm", "npm_config_before=");
}

#[test]
fn pnpm_installs_the_older_version_under_a_cooldown() {
    js_manager("pnpm", "minimum-release-age=4320");
}

/// A project's own files that would exempt `pwcool` or shorten the
/// cooldown (its `.pkgwarden.toml`, the manager's project settings) change
/// nothing: the user's cooldown holds.
#[test]
fn a_project_cannot_undo_the_users_cooldown() {
    let registry = npm_registry();
    let env = ShimEnv::new(&[]);
    policy(&env, "cooldown = \"3d\"\n");
    let dir = env.home.path().join("proj");
    npm_project(&dir);
    fs::write(
        dir.join(".pkgwarden.toml"),
        "cooldown = \"off\"\ncooldown_exempt = [\"pwcool\"]\ncooldown_allow_unenforced = true\n[cooldown_managers]\nnpm = \"0\"\npnpm = \"1h\"\n",
    )
    .unwrap();
    // pnpm reads the same `.npmrc` keys (its `pnpm-workspace.yaml` outranks
    // them, and is outranked by the `--config.` options pkgwarden passes:
    // measured by hand; an install in a pnpm workspace is not sandboxed
    // cleanly yet, see README).
    fs::write(
        dir.join(".npmrc"),
        "before=2999-01-01\nmin-release-age=0\nmin-release-age-exclude=pwcool\nminimum-release-age=0\nminimum-release-age-exclude=pwcool\n",
    )
    .unwrap();
    let r = js_install(&env, "npm", "protect", &registry, &dir);
    assert_eq!(r.code, 0, "npm: {}", r.stderr);
    assert_eq!(npm_installed(&dir), OLD, "npm: the project undid it");
    assert_eq!(r.cooldown()["enforced"], true, "{:#}", r.cooldown());
    for key in [
        "cooldown",
        "cooldown_exempt",
        "cooldown_allow_unenforced",
        "cooldown_managers.npm",
        "cooldown_managers.pnpm",
    ] {
        assert!(
            r.stderr.contains(&format!("ignored `{key}")),
            "{key} not said\n{}",
            r.stderr
        );
    }
    // pnpm, with the project's `.npmrc` alone: a `.pkgwarden.toml` beside a
    // pnpm project makes its lockfile unwritable in the sandbox (an issue of
    // its own, found here).
    fs::remove_file(dir.join(".pkgwarden.toml")).unwrap();
    let r = js_install(&env, "pnpm", "protect", &registry, &dir);
    assert_eq!(r.code, 0, "pnpm: {}", r.stderr);
    assert_eq!(npm_installed(&dir), OLD, "pnpm: the project undid it");
}

/// uv's project in a new directory, with a venv made by `uv venv`.
fn uv_project(env: &ShimEnv) -> PathBuf {
    which::which("uv").expect("uv on PATH (.ci/run installs it)");
    let project = env.home.subdir("uvproj");
    let out = run(env
        .shim("uv")
        .args(["venv", "-q", "--python"])
        .arg(python3())
        .current_dir(&project));
    assert_success(&out, "uv venv");
    project
}

/// The version of `pwcool` in the venv at `venv`, and uninstalls it.
fn py_installed(venv: &Path) -> Option<String> {
    let lib = venv.join("lib");
    let py = fs::read_dir(&lib)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("python"))?;
    let init = py.path().join("site-packages/pwcool/__init__.py");
    let text = fs::read_to_string(init).ok()?;
    let _ = fs::remove_dir_all(py.path().join("site-packages/pwcool"));
    for v in [OLD, NEW] {
        let _ = fs::remove_dir_all(
            py.path()
                .join(format!("site-packages/pwcool-{v}.dist-info")),
        );
    }
    text.split('\'').nth(1).map(str::to_string)
}

#[test]
fn uv_installs_the_older_version_under_a_cooldown() {
    let index = pypi_index();
    let env = ShimEnv::new(&[]);
    let project = uv_project(&env);
    let venv = project.join(".venv");
    let url = index.index_url();
    let args = [
        "pip",
        "install",
        "--no-cache",
        "--index-url",
        &url,
        "pwcool",
    ];
    for mode in ["protect", "block"] {
        policy(&env, "cooldown = \"3d\"\n");
        let r = shim(&env, mode, "uv", &args, &project);
        assert_eq!(r.code, 0, "uv {mode}: {}", r.stderr);
        assert_eq!(py_installed(&venv).as_deref(), Some(OLD), "uv {mode}");
        check_enforced(&r, &format!("uv {mode}"), "UV_EXCLUDE_NEWER=");
    }
    // The project's uv.toml exempting it changes nothing.
    fs::write(
        project.join("uv.toml"),
        "exclude-newer-package = { pwcool = \"2999-01-01T00:00:00Z\" }\n",
    )
    .unwrap();
    let r = shim(&env, "block", "uv", &args, &project);
    assert_eq!(r.code, 0, "uv, project exemption: {}", r.stderr);
    assert_eq!(
        py_installed(&venv).as_deref(),
        Some(OLD),
        "uv: the project undid it"
    );
    fs::remove_file(project.join("uv.toml")).unwrap();
    // The policy's exemption lets the newest in.
    policy(&env, "cooldown = \"3d\"\ncooldown_exempt = [\"pwcool\"]\n");
    let r = shim(&env, "protect", "uv", &args, &project);
    assert_eq!(r.code, 0, "uv exempt: {}", r.stderr);
    assert_eq!(py_installed(&venv).as_deref(), Some(NEW), "uv exempt");
    // No cooldown: the newest.
    policy(&env, "");
    let r = shim(&env, "protect", "uv", &args, &project);
    assert_eq!(r.code, 0, "uv: {}", r.stderr);
    assert_eq!(py_installed(&venv).as_deref(), Some(NEW), "uv, no cooldown");
}

/// The pip of the venv template has no upload-date option (pip < 26): the
/// cooldown is said not to be enforced, in one line and in the report;
/// block refuses to run the install unless the policy allows it.
#[test]
fn a_pip_without_a_date_gate_says_so_and_block_refuses_it() {
    let index = pypi_index();
    let env = ShimEnv::new(&[]);
    let venv = venv(&env.home);
    let pip = venv_bin(&venv, "pip");
    let version = stdout_str(&run(env.bare(&pip).arg("--version")));
    if version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').next()?.parse::<u32>().ok())
        >= Some(26)
    {
        panic!("this test needs a pip without --uploaded-prior-to; the template's is {version}");
    }
    let url = index.index_url();
    let pip = pip.to_str().unwrap();
    let args = ["install", "--no-cache-dir", "--index-url", &url, "pwcool"];
    let typed = |mode: &str| {
        let before = env.report_files();
        let out = run(env
            .pkgwarden()
            .args(["run", "--mode", mode, "--", pip])
            .args(args)
            .current_dir(env.home.path()));
        let new = env.reports_since(&before);
        Ran {
            code: out.status.code().unwrap_or(-1),
            stderr: stderr_str(&out),
            report: new
                .first()
                .map(|p| serde_json::from_slice(&fs::read(p).unwrap()).unwrap()),
        }
    };
    policy(&env, "cooldown = \"3d\"\n");
    let r = typed("protect");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let loud: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("NOT ENFORCED"))
        .collect();
    assert_eq!(loud.len(), 1, "one line\n{}", r.stderr);
    assert!(loud[0].contains("has no upload-date option"), "{}", loud[0]);
    let c = r.cooldown();
    assert_eq!(c["enforced"], false, "{c:#}");
    assert!(c["mechanism"].as_str().unwrap().contains("pip 26"), "{c:#}");
    assert_eq!(py_installed(&venv).as_deref(), Some(NEW), "not held back");
    assert!(show(&env, &r).contains("3days NOT ENFORCED: pip "));
    // Block refuses, before anything runs.
    let asked = index.request_count();
    let r = typed("block");
    assert_eq!(r.code, 91, "{}", r.stderr);
    assert!(
        r.stderr.contains("cooldown_allow_unenforced"),
        "{}",
        r.stderr
    );
    assert!(r.report.is_none(), "nothing ran");
    assert_eq!(index.request_count(), asked, "nothing ran");
    // Unless the policy allows it, or turns the cooldown off for pip.
    for text in [
        "cooldown = \"3d\"\ncooldown_allow_unenforced = true\n",
        "cooldown = \"3d\"\n[cooldown_managers]\npip = \"off\"\n",
    ] {
        policy(&env, text);
        let r = typed("block");
        assert_eq!(r.code, 0, "{text}: {}", r.stderr);
        assert_eq!(py_installed(&venv).as_deref(), Some(NEW), "{text}");
    }
}

/// A broken cooldown is an error with file, line and column; nothing runs.
#[test]
fn a_broken_cooldown_runs_nothing() {
    let registry = npm_registry();
    let env = ShimEnv::new(&[]);
    let dir = env.home.path().join("proj");
    for (text, want) in [
        ("mode = \"protect\"\ncooldown = \"3 parsecs\"\n", ":2:12:"),
        ("cooldown = \"400d\"\n", ":1:12:"),
        ("[cooldown_managers]\ncargo = \"3d\"\n", ":2:1:"),
        ("cooldown = 3\n", ":1:12:"),
    ] {
        policy(&env, text);
        let r = js_install(&env, "npm", "protect", &registry, &dir);
        assert_eq!(r.code, 92, "{text}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("etc-pkgwarden-policy.toml{want}")),
            "{text}: {}",
            r.stderr
        );
        assert!(r.report.is_none(), "{text}: nothing ran");
        assert_eq!(registry.request_count(), 0, "{text}: nothing ran");
    }
}

/// A venv whose pip is pip 26 (from tests/.wheels, which `.ci/run` fills):
/// the one pip with a date gate.
fn venv_with_pip26(env: &ShimEnv) -> PathBuf {
    let wheels = crate_root().join("tests/.wheels");
    let wheel = fs::read_dir(&wheels)
        .unwrap_or_else(|e| panic!("{}: {e} (.ci/run downloads it)", wheels.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            let major = n
                .strip_prefix("pip-")
                .and_then(|r| r.split('.').next()?.parse::<u32>().ok());
            n.ends_with(".whl") && major >= Some(26)
        })
        .unwrap_or_else(|| {
            panic!(
                "no pip 26+ wheel in {}: .ci/run downloads it",
                wheels.display()
            )
        });
    let venv = venv(&env.home);
    // The venv's own interpreter by path, outside pkgwarden: setting up.
    let out = run(std::process::Command::new(venv_bin(&venv, "python"))
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--disable-pip-version-check",
        ])
        .arg(&wheel));
    assert_success(&out, "pip install pip 26 into the test venv");
    venv
}

#[test]
fn pip_26_installs_the_older_version_under_a_cooldown() {
    let index = pypi_index();
    let env = ShimEnv::new(&[]);
    let venv = venv_with_pip26(&env);
    let pip = venv_bin(&venv, "pip");
    let url = index.index_url();
    let typed = |mode: &str, spec: &str| {
        let before = env.report_files();
        let out = run(env
            .pkgwarden()
            .args(["run", "--mode", mode, "--"])
            .arg(&pip)
            .args(["install", "--no-cache-dir", "--index-url", &url, spec])
            .current_dir(env.home.path()));
        let new = env.reports_since(&before);
        Ran {
            code: out.status.code().unwrap_or(-1),
            stderr: stderr_str(&out),
            report: new
                .first()
                .map(|p| serde_json::from_slice(&fs::read(p).unwrap()).unwrap()),
        }
    };
    for mode in ["protect", "block"] {
        policy(&env, "cooldown = \"3d\"\n");
        let r = typed(mode, "pwcool");
        assert_eq!(r.code, 0, "pip {mode}: {}", r.stderr);
        assert_eq!(py_installed(&venv).as_deref(), Some(OLD), "pip {mode}");
        check_enforced(&r, &format!("pip {mode}"), "PIP_UPLOADED_PRIOR_TO=");
        // A pinned version newer than the cut-off fails pip's resolution.
        let r = typed(mode, "pwcool==1.1.0");
        assert_ne!(r.code, 0, "pip {mode}: the pinned new one\n{}", r.stderr);
        assert_eq!(py_installed(&venv), None, "pip {mode}");
    }
    policy(&env, "");
    let r = typed("protect", "pwcool");
    assert_eq!(r.code, 0, "pip: {}", r.stderr);
    assert_eq!(
        py_installed(&venv).as_deref(),
        Some(NEW),
        "pip, no cooldown"
    );
}

/// What the gate does not cover, as measured: npm installs what
/// `package-lock.json` pins, however young; the report notes the lockfile.
#[test]
fn npm_installs_a_locked_version_as_locked_and_the_report_says_so() {
    let registry = npm_registry();
    let env = ShimEnv::new(&[]);
    let dir = env.home.path().join("proj");
    policy(&env, "");
    let r = js_install(&env, "npm", "protect", &registry, &dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(npm_installed(&dir), NEW, "the lock pins the new one");
    fs::remove_dir_all(dir.join("node_modules")).unwrap();
    policy(&env, "cooldown = \"3d\"\n");
    let url = registry.registry_url();
    let r = shim(&env, "block", "npm", &["ci", "--registry", &url], &dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        npm_installed(&dir),
        NEW,
        "npm ci installs what the lock pins"
    );
    let notes = r.cooldown()["notes"].to_string();
    assert!(notes.contains("package-lock.json is present"), "{notes}");
}

/// `pkgwarden plan` says which gate an install would get, or that it would
/// get none and why (yarn 1 and RubyGems have none).
#[test]
fn plan_names_the_gate_or_says_there_is_none() {
    let env = ShimEnv::new(&[]);
    policy(
        &env,
        "cooldown = \"3d\"\n[cooldown_managers]\nnpx = \"off\"\n",
    );
    let dir = env.home.subdir("proj");
    let plan = |words: &[&str]| {
        let out = run(env
            .pkgwarden()
            .args(["plan", "--"])
            .args(words)
            .current_dir(&dir));
        assert_success(&out, "pkgwarden plan");
        stdout_str(&out)
    };
    let npm = plan(&["npm", "install", "x"]);
    assert!(
        npm.contains("cooldown           3days: nothing uploaded after")
            && npm.contains("npm_config_before="),
        "{npm}"
    );
    for (words, why) in [
        (
            &["yarn", "add", "x"][..],
            "has no date gate (yarn 1 has none",
        ),
        (&["gem", "install", "x"][..], "gem has no date gate"),
    ] {
        let out = plan(words);
        assert!(
            out.contains("cooldown           3days NOT ENFORCED: ") && out.contains(why),
            "{words:?}: {out}"
        );
    }
    assert!(!plan(&["npx", "x"]).contains("cooldown"), "off for npx");
}
