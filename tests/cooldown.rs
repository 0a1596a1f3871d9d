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

pub(crate) const OLD: &str = "1.0.0";
pub(crate) const NEW: &str = "1.1.0";

/// RFC 3339 of `days` ago.
pub(crate) fn days_ago(days: u64) -> String {
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
pub(crate) fn policy(env: &ShimEnv, text: &str) {
    fs::write(env.home.path().join("etc-pkgwarden-policy.toml"), text).unwrap();
}

/// One install through a shim: exit code, stderr, and its report (when it
/// left one).
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) stderr: String,
    pub(crate) report: Option<Value>,
}

impl Ran {
    pub(crate) fn cooldown(&self) -> &Value {
        let r = self
            .report
            .as_ref()
            .unwrap_or_else(|| panic!("no report\n{}", self.stderr));
        &r["what"]["cooldown"]
    }
}

/// `tool ARGS` typed in `cwd` through the shim, in `mode`.
pub(crate) fn shim(env: &ShimEnv, mode: &str, tool: &str, args: &[&str], cwd: &Path) -> Ran {
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

/// gem has no date gate and its registry's metadata is not filtered by the
/// proxy: the cooldown is said not to be enforced, in one line and in the
/// report; block refuses to run the install unless the policy allows it.
#[test]
fn a_manager_without_a_date_gate_says_so_and_block_refuses_it() {
    let env = ShimEnv::new(&[]);
    let gems = env.home.subdir("gems");
    let missing = env.home.path().join("pwcool-1.0.0.gem");
    let typed = |mode: &str| {
        let before = env.report_files();
        let out = run(env
            .shim("gem")
            .args(["install", "--local", "--no-document"])
            .arg(&missing)
            .env("GEM_HOME", &gems)
            .env("PKGWARDEN_MODE", mode)
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
    let loud: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("NOT ENFORCED"))
        .collect();
    assert_eq!(loud.len(), 1, "one line\n{}", r.stderr);
    assert!(loud[0].contains("gem has no date gate"), "{}", loud[0]);
    let c = r.cooldown();
    assert_eq!(c["enforced"], false, "{c:#}");
    assert!(show(&env, &r).contains("3days NOT ENFORCED: gem "));
    // Block refuses, before anything runs.
    let r = typed("block");
    assert_eq!(r.code, 91, "{}", r.stderr);
    assert!(
        r.stderr.contains("cooldown_allow_unenforced"),
        "{}",
        r.stderr
    );
    assert!(r.report.is_none(), "nothing ran");
    // Unless the policy allows it, or turns the cooldown off for gem.
    for text in [
        "cooldown = \"3d\"\ncooldown_allow_unenforced = true\n",
        "cooldown = \"3d\"\n[cooldown_managers]\ngem = \"off\"\n",
    ] {
        policy(&env, text);
        let r = typed("block");
        assert_ne!(r.code, 91, "{text}: {}", r.stderr);
        assert!(r.report.is_some(), "{text}: it ran\n{}", r.stderr);
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
/// get none and why (RubyGems has none; yarn 1 gets pkgwarden's proxy).
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
    let gem = plan(&["gem", "install", "x"]);
    assert!(
        gem.contains("cooldown           3days NOT ENFORCED: ")
            && gem.contains("gem has no date gate"),
        "{gem}"
    );
    // yarn 1 has no gate: pkgwarden's proxy filters its registry's
    // documents, over TLS too (yarn is told to trust the install's CA).
    for registry in ["http://127.0.0.1:1/", "https://127.0.0.1:1/"] {
        let yarn = plan(&["yarn", "add", "--registry", registry, "x"]);
        assert!(
            yarn.contains("cooldown           3days: nothing uploaded after")
                && yarn.contains("pkgwarden's proxy"),
            "{registry}: {yarn}"
        );
    }
    assert!(!plan(&["npx", "x"]).contains("cooldown"), "off for npx");
}

// ---- managers without a gate: pkgwarden's proxy filters the metadata ----

/// An npm registry where `pwcool` and `pwdep` each have 1.0.0 (400 days
/// old) and 1.1.0 (a day old); both `pwcool`s depend on `pwdep ^1.0.0`.
pub(crate) fn npm_registry_with_dep() -> NpmRegistry {
    let pkg = |name: &str, v: &str, deps: Value| {
        NpmPackage::new(
            json!({"name": name, "version": v, "license": "MIT", "dependencies": deps}),
            &[("index.js", format!("module.exports = '{v}';\n").as_bytes())],
        )
    };
    let dep = json!({"pwdep": "^1.0.0"});
    let r = NpmRegistry::start_with(vec![
        pkg("pwcool", OLD, dep.clone()),
        pkg("pwcool", NEW, dep),
        pkg("pwdep", OLD, json!({})),
        pkg("pwdep", NEW, json!({})),
    ]);
    for name in ["pwcool", "pwdep"] {
        r.set_time(name, OLD, &days_ago(400));
        r.set_time(name, NEW, &days_ago(1));
    }
    r
}

/// A PEP 691 index with `pwcool` and `pwdep` wheels 1.0.0 (400 days old)
/// and 1.1.0 (a day old); `pwcool` requires `pwdep`. `dated`: false serves
/// PEP 503 HTML only (no upload times).
pub(crate) fn pypi_index_with_dep(dated: bool) -> (PypiIndex, Vec<String>) {
    let wheel = |name: &str, v: &str, requires: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(name)).unwrap();
        fs::write(
            dir.path().join(format!("{name}/__init__.py")),
            format!("V = '{v}'\ndef main():\n    print(V)\n"),
        )
        .unwrap();
        // A console script: pipx installs only packages with apps.
        let info = dir.path().join(format!("{name}-{v}.dist-info"));
        fs::create_dir_all(&info).unwrap();
        fs::write(
            info.join("entry_points.txt"),
            format!("[console_scripts]\n{name} = {name}:main\n"),
        )
        .unwrap();
        build_wheel(&PipFixture {
            name: name.into(),
            version: v.into(),
            summary: Some("Inert pkgwarden fixture".into()),
            requires_dist: requires.iter().map(|r| r.to_string()).collect(),
            dir: dir.path().to_path_buf(),
        })
    };
    let dists = vec![
        wheel("pwcool", OLD, &["pwdep"]),
        wheel("pwcool", NEW, &["pwdep"]),
        wheel("pwdep", OLD, &[]),
        wheel("pwdep", NEW, &[]),
    ];
    let names: Vec<String> = dists.iter().map(|d| d.filename.clone()).collect();
    let index = PypiIndex::start_with(dists);
    if dated {
        for (i, n) in names.iter().enumerate() {
            let age = if i % 2 == 0 { 400 } else { 1 };
            index.set_upload_time(n, &days_ago(age));
        }
    }
    (index, names)
}

/// The version of `name` in the npm project at `dir`.
pub(crate) fn npm_version(dir: &Path, name: &str) -> String {
    let m = dir.join(format!("node_modules/{name}/package.json"));
    let text = fs::read_to_string(&m).unwrap_or_else(|e| panic!("{}: {e}", m.display()));
    serde_json::from_str::<Value>(&text).unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The versions the report says the proxy held back, as `name version`.
pub(crate) fn held_back(r: &Ran) -> Vec<String> {
    let mut v: Vec<String> = r.cooldown()["held_back"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    format!(
                        "{} {}",
                        h["package"].as_str().unwrap(),
                        h["version"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Enforced by the proxy, and what it held back, with release dates; one
/// summary line on stderr.
fn check_proxy(r: &Ran, what: &str, held: &[&str]) {
    check_enforced(r, what, "pkgwarden's proxy");
    assert_eq!(held_back(r), held, "{what}: {:#}", r.cooldown());
    let day_old = SystemTime::now() - Duration::from_secs(24 * 3600);
    for h in r.cooldown()["held_back"].as_array().unwrap() {
        // The registry's own date: a day ago (when the registry started).
        let at = humantime::parse_rfc3339(h["released"].as_str().unwrap()).unwrap();
        let off = day_old.duration_since(at).unwrap_or_default();
        assert!(off < Duration::from_secs(600), "{what}: {h}");
    }
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("pkgwarden: cooldown 3days held back "))
        .collect();
    assert_eq!(lines.len(), 1, "{what}: one summary line\n{}", r.stderr);
}

/// `yarn add pwcool` (yarn 1) from `registry` in a fresh project, with a
/// fresh cache.
pub(crate) fn yarn_add(env: &ShimEnv, mode: &str, registry: &NpmRegistry, dir: &Path) -> Ran {
    npm_project(dir);
    let _ = fs::remove_file(dir.join("yarn.lock"));
    let cache = env.home.path().join(".cache/yarn");
    let _ = fs::remove_dir_all(&cache);
    fs::write(
        dir.join(".yarnrc"),
        format!(
            "registry \"{}\"\ncache-folder \"{}\"\n",
            registry.registry_url(),
            cache.display()
        ),
    )
    .unwrap();
    shim(
        env,
        mode,
        "yarn",
        &["add", "--non-interactive", "pwcool"],
        dir,
    )
}

#[test]
fn yarn_1_installs_the_older_versions_through_the_proxys_filter() {
    let registry = npm_registry_with_dep();
    let env = ShimEnv::new(&[]);
    let dir = env.home.path().join("proj");
    for mode in ["protect", "block"] {
        policy(&env, "cooldown = \"3d\"\n");
        let r = yarn_add(&env, mode, &registry, &dir);
        assert_eq!(r.code, 0, "yarn {mode}: {}", r.stderr);
        assert_eq!(npm_version(&dir, "pwcool"), OLD, "yarn {mode}");
        assert_eq!(npm_version(&dir, "pwdep"), OLD, "yarn {mode}: transitive");
        check_proxy(
            &r,
            &format!("yarn {mode}"),
            &["pwcool 1.1.0", "pwdep 1.1.0"],
        );
        assert!(!registry.tarball_fetched("pwcool", NEW), "yarn {mode}");
        assert!(!registry.tarball_fetched("pwdep", NEW), "yarn {mode}");
        let shown = show(&env, &r);
        assert!(
            shown.contains("held back: pwcool 1.1.0 (released "),
            "{shown}"
        );
    }
    // An exempt package gets its newest; its dependency is still held back.
    policy(&env, "cooldown = \"3d\"\ncooldown_exempt = [\"pwcool\"]\n");
    let r = yarn_add(&env, "block", &registry, &dir);
    assert_eq!(r.code, 0, "yarn exempt: {}", r.stderr);
    assert_eq!(npm_version(&dir, "pwcool"), NEW, "yarn: exempt");
    assert_eq!(npm_version(&dir, "pwdep"), OLD, "yarn: exempt by name only");
    assert_eq!(held_back(&r), ["pwdep 1.1.0"]);
    // No cooldown: the newest, and no line.
    policy(&env, "");
    let r = yarn_add(&env, "protect", &registry, &dir);
    assert_eq!(r.code, 0, "yarn: {}", r.stderr);
    assert_eq!(npm_version(&dir, "pwcool"), NEW, "yarn, no cooldown");
    assert_eq!(npm_version(&dir, "pwdep"), NEW, "yarn, no cooldown");
    assert!(!r.stderr.contains("held back"), "{}", r.stderr);
}

/// `pip install pwcool` through the shim (the venv's pip: pip < 26, no date
/// gate) from `url`, in `mode`.
pub(crate) fn pip_shim(env: &ShimEnv, mode: &str, url: &str) -> Ran {
    shim(
        env,
        mode,
        "pip",
        &["install", "--no-cache-dir", "--index-url", url, "pwcool"],
        env.home.path(),
    )
}

/// The version of `name` in `venv` (and uninstalls it).
pub(crate) fn py_version(venv: &Path, name: &str) -> Option<String> {
    let lib = venv.join("lib");
    let py = fs::read_dir(&lib)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("python"))?;
    let site = py.path().join("site-packages");
    let text = fs::read_to_string(site.join(format!("{name}/__init__.py"))).ok()?;
    let _ = fs::remove_dir_all(site.join(name));
    for v in [OLD, NEW] {
        let _ = fs::remove_dir_all(site.join(format!("{name}-{v}.dist-info")));
    }
    text.split('\'').nth(1).map(str::to_string)
}

/// A venv whose pip has no date gate, on the PATH after the shims.
pub(crate) fn pip_env() -> (ShimEnv, PathBuf, tempfile::TempDir) {
    let place = tempfile::tempdir().unwrap();
    let venv = place.path().join("venv");
    make_venv(&venv, &[]);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let version = stdout_str(&run(env.bare(venv_bin(&venv, "pip")).arg("--version")));
    let major = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').next()?.parse::<u32>().ok());
    assert!(major < Some(26), "this test needs a pip < 26: {version}");
    (env, venv, place)
}

#[test]
fn pip_without_a_gate_installs_the_older_versions_through_the_proxys_filter() {
    let (index, files) = pypi_index_with_dep(true);
    let (env, venv, _place) = pip_env();
    let url = index.index_url();
    for mode in ["protect", "block"] {
        policy(&env, "cooldown = \"3d\"\n");
        let r = pip_shim(&env, mode, &url);
        assert_eq!(r.code, 0, "pip {mode}: {}", r.stderr);
        assert_eq!(
            py_version(&venv, "pwcool").as_deref(),
            Some(OLD),
            "pip {mode}"
        );
        assert_eq!(
            py_version(&venv, "pwdep").as_deref(),
            Some(OLD),
            "pip {mode}: transitive"
        );
        check_proxy(&r, &format!("pip {mode}"), &["pwcool 1.1.0", "pwdep 1.1.0"]);
        for new in [&files[1], &files[3]] {
            assert!(
                !index
                    .requests()
                    .iter()
                    .any(|q| q.path.ends_with(new.as_str())),
                "pip {mode}: {new} downloaded"
            );
        }
    }
    policy(&env, "cooldown = \"3d\"\ncooldown_exempt = [\"PWCool\"]\n");
    let r = pip_shim(&env, "block", &url);
    assert_eq!(r.code, 0, "pip exempt: {}", r.stderr);
    assert_eq!(
        py_version(&venv, "pwcool").as_deref(),
        Some(NEW),
        "pip exempt"
    );
    assert_eq!(
        py_version(&venv, "pwdep").as_deref(),
        Some(OLD),
        "pip exempt"
    );
    assert_eq!(held_back(&r), ["pwdep 1.1.0"]);
    policy(&env, "");
    let r = pip_shim(&env, "protect", &url);
    assert_eq!(r.code, 0, "pip: {}", r.stderr);
    assert_eq!(
        py_version(&venv, "pwcool").as_deref(),
        Some(NEW),
        "pip, no cooldown"
    );
    assert_eq!(
        py_version(&venv, "pwdep").as_deref(),
        Some(NEW),
        "pip, no cooldown"
    );
    assert!(r.cooldown().is_null(), "{:#}", r.cooldown());
}

/// An index that serves only PEP 503 HTML (no upload times): block refuses
/// the page (403 naming pkgwarden and the policy key), protect passes it
/// with a warning and the report says the cooldown was not enforced.
#[test]
fn an_index_without_dates_fails_closed_in_block() {
    let (index, _) = pypi_index_with_dep(false);
    let (env, venv, _place) = pip_env();
    let url = index.index_url();
    policy(&env, "cooldown = \"3d\"\n");
    let r = pip_shim(&env, "block", &url);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot be enforced") && r.stderr.contains("PEP 503 HTML"),
        "{}",
        r.stderr
    );
    assert_eq!(py_version(&venv, "pwcool"), None, "block installed it");
    let r = pip_shim(&env, "protect", &url);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("passed UNFILTERED"), "{}", r.stderr);
    assert_eq!(r.cooldown()["enforced"], false, "{:#}", r.cooldown());
    assert_eq!(py_version(&venv, "pwcool").as_deref(), Some(NEW));
}

/// Over TLS, without a feed: the proxy terminates the index's TLS for the
/// cooldown alone (pip told to trust the install's CA), and filters there.
#[test]
fn pip_without_a_gate_over_tls_installs_the_older_versions() {
    let (index, _) = pypi_index_with_dep(true);
    let (env, venv, place) = pip_env();
    let ca = support::tls::TestCa::new(&place.path().join("ca"));
    let mut front = support::tls::TlsFront::bind(&ca);
    front.start(index.port());
    let url = format!("{}/simple/", front.base_url());
    for mode in ["protect", "block"] {
        policy(&env, "cooldown = \"3d\"\n");
        let before = env.report_files();
        let out = run(env
            .shim("pip")
            .args(["install", "--no-cache-dir", "--index-url", &url, "pwcool"])
            .current_dir(env.home.path())
            .env("PKGWARDEN_MODE", mode)
            .env("PIP_CERT", &ca.pem)
            .env("REQUESTS_CA_BUNDLE", "")
            .env("CURL_CA_BUNDLE", ""));
        let new = env.reports_since(&before);
        let r = Ran {
            code: out.status.code().unwrap_or(-1),
            stderr: stderr_str(&out),
            report: new
                .first()
                .map(|p| serde_json::from_slice(&fs::read(p).unwrap()).unwrap()),
        };
        assert_eq!(r.code, 0, "pip over TLS {mode}: {}", r.stderr);
        assert_eq!(py_version(&venv, "pwcool").as_deref(), Some(OLD), "{mode}");
        assert_eq!(py_version(&venv, "pwdep").as_deref(), Some(OLD), "{mode}");
        check_proxy(
            &r,
            &format!("pip over TLS {mode}"),
            &["pwcool 1.1.0", "pwdep 1.1.0"],
        );
        assert!(
            front.handshakes() > 0,
            "{mode}: the index was reached over TLS"
        );
    }
}

/// The filter's cost (README, "Release-age cooldown"): one install of a
/// project of `n` packages (each with an old and a young version), cooldown
/// on vs off, alternating (ABBA), fresh caches; medians printed.
/// `cargo test --test integration bench_cooldown -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_cooldown_proxy_filter_on_vs_off() {
    let n = 40;
    let pkg = |name: &str, v: &str| {
        NpmPackage::new(
            json!({"name": name, "version": v, "license": "MIT"}),
            &[("index.js", format!("module.exports = '{v}';\n").as_bytes())],
        )
    };
    let names: Vec<String> = (0..n).map(|i| format!("pwbench{i}")).collect();
    let registry = NpmRegistry::start_with(
        names
            .iter()
            .flat_map(|name| [pkg(name, OLD), pkg(name, NEW)])
            .collect(),
    );
    for name in &names {
        registry.set_time(name, OLD, &days_ago(400));
        registry.set_time(name, NEW, &days_ago(1));
    }
    let env = ShimEnv::new(&[]);
    let dir = env.home.path().join("proj");
    let deps: serde_json::Map<String, Value> = names
        .iter()
        .map(|d| (d.clone(), Value::from("^1.0.0")))
        .collect();
    let (index, _) = pypi_index_with_dep(true);
    let (penv, venv, _place) = pip_env();
    let url = index.index_url();
    let mut yarn: [Vec<u128>; 2] = Default::default();
    let mut pip: [Vec<u128>; 2] = Default::default();
    for round in 0..6 {
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for on in order {
            let text = if on { "cooldown = \"3d\"\n" } else { "" };
            policy(&env, text);
            policy(&penv, text);
            npm_project(&dir);
            fs::write(
                dir.join("package.json"),
                json!({"name": "proj", "version": "1.0.0", "license": "MIT", "dependencies": deps})
                    .to_string(),
            )
            .unwrap();
            let _ = fs::remove_file(dir.join("yarn.lock"));
            let cache = env.home.path().join(".cache/yarn");
            let _ = fs::remove_dir_all(&cache);
            fs::write(
                dir.join(".yarnrc"),
                format!(
                    "registry \"{}\"\ncache-folder \"{}\"\n",
                    registry.registry_url(),
                    cache.display()
                ),
            )
            .unwrap();
            let t = std::time::Instant::now();
            let r = shim(
                &env,
                "protect",
                "yarn",
                &["install", "--non-interactive"],
                &dir,
            );
            yarn[on as usize].push(t.elapsed().as_millis());
            assert_eq!(r.code, 0, "{}", r.stderr);
            let t = std::time::Instant::now();
            let r = pip_shim(&penv, "protect", &url);
            pip[on as usize].push(t.elapsed().as_millis());
            assert_eq!(r.code, 0, "{}", r.stderr);
            let want = if on { OLD } else { NEW };
            assert_eq!(py_version(&venv, "pwcool").as_deref(), Some(want));
            let _ = py_version(&venv, "pwdep");
        }
    }
    let median = |v: &mut Vec<u128>| {
        v.sort();
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2
    };
    for (what, runs) in [
        ("yarn, 40 packages", &mut yarn),
        ("pip, 2 packages", &mut pip),
    ] {
        println!(
            "{what}: cooldown off {:?} ms (median {}), on {:?} ms (median {})",
            runs[0].clone(),
            median(&mut runs[0]),
            runs[1].clone(),
            median(&mut runs[1])
        );
    }
}

/// poetry (no gate; its legacy source's pages go through the filter):
/// `poetry add pwcool` locks and installs the older versions.
#[test]
fn poetry_without_a_gate_locks_the_older_versions_through_the_proxys_filter() {
    which::which("poetry").expect("poetry on PATH (.ci/run installs it)");
    let (index, _) = pypi_index_with_dep(true);
    let env = ShimEnv::new(&[]);
    let settings = [
        ("virtualenvs.in-project", "true"),
        ("virtualenvs.use-poetry-python", "true"),
    ];
    for mode in ["protect", "block"] {
        let project =
            support::pypi::poetry_project(&env, &format!("poetry{mode}"), &index, &settings);
        policy(&env, "cooldown = \"3d\"\n");
        let r = shim(&env, mode, "poetry", &["add", "pwcool"], &project);
        assert_eq!(r.code, 0, "poetry {mode}: {}", r.stderr);
        let lock = fs::read_to_string(project.join("poetry.lock")).unwrap();
        for name in ["pwcool", "pwdep"] {
            assert!(
                lock.contains(&format!("name = \"{name}\"\nversion = \"{OLD}\"")),
                "poetry {mode}: {name}\n{lock}"
            );
        }
        check_proxy(
            &r,
            &format!("poetry {mode}"),
            &["pwcool 1.1.0", "pwdep 1.1.0"],
        );
    }
}

/// pipx (no gate of its own; the pip it runs is not given one): the app and
/// its dependency are installed at their older versions.
#[test]
fn pipx_without_a_gate_installs_the_older_versions_through_the_proxys_filter() {
    which::which("pipx").expect("pipx on PATH (.ci/run installs it)");
    let (index, _) = pypi_index_with_dep(true);
    let env = ShimEnv::new(&[]);
    let local = env.home.path().join(".local/bin");
    fs::create_dir_all(&local).unwrap();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&env.path).collect();
    dirs.insert(1, local);
    let path = std::env::join_paths(dirs).unwrap();
    let url = index.index_url();
    let venv = env.home.data_dir().join("pipx/venvs/pwcool");
    for mode in ["protect", "block"] {
        policy(&env, "cooldown = \"3d\"\n");
        let before = env.report_files();
        let out = run(env
            .shim("pipx")
            .args(["install", "--index-url", &url, "pwcool"])
            .current_dir(env.home.path())
            .env("PKGWARDEN_MODE", mode)
            .env("PATH", &path));
        let new = env.reports_since(&before);
        let r = Ran {
            code: out.status.code().unwrap_or(-1),
            stderr: stderr_str(&out),
            report: new
                .first()
                .map(|p| serde_json::from_slice(&fs::read(p).unwrap()).unwrap()),
        };
        assert_eq!(r.code, 0, "pipx {mode}: {}", r.stderr);
        check_proxy(
            &r,
            &format!("pipx {mode}"),
            &["pwcool 1.1.0", "pwdep 1.1.0"],
        );
        assert_eq!(
            py_version(&venv, "pwcool").as_deref(),
            Some(OLD),
            "pipx {mode}"
        );
        assert_eq!(
            py_version(&venv, "pwdep").as_deref(),
            Some(OLD),
            "pipx {mode}"
        );
        policy(&env, "");
        let out = run(env
            .shim("pipx")
            .args(["uninstall", "pwcool"])
            .env("PATH", &path));
        assert_success(&out, "pipx uninstall");
    }
}
