//! Helper `eyes15`: round 15 of the fresh-eyes attack (issue 9), at
//! 3993bd8. Each test is one attempt with an inert fixture; markers stay in
//! the test's HOME; no network but the loopback registry the test starts.
//! A test marked `ignore = "round 15: …"` fails on the binary it was
//! written against.

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::Path;
use support::*;

/// `npm install` of `manifest` in `project` from `registry`, with `vars`
/// set for pkgwarden: the report and `probe`'s `result.json` (Null when it
/// did not run).
fn npm_install_with(
    env: &ShimEnv,
    registry: &NpmRegistry,
    mode: &str,
    project: &Path,
    manifest: &Value,
    probe: &str,
    vars: &[(&str, String)],
) -> (support::installs::Installed, Value) {
    let _ = fs::remove_dir_all(project.join("node_modules"));
    let _ = fs::remove_file(project.join("package-lock.json"));
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let r = support::installs::install(
        env,
        mode,
        &["npm", "install", "--registry", &url],
        project,
        vars,
    );
    let result = fs::read(project.join("node_modules").join(probe).join("result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    (r, result)
}

/// Secret variables of shapes `policy/secrets.toml` still misses after
/// round 14 (name, value). Every value carries `EYES15-ENV`.
const MISSED_VARS: &[(&str, &str)] = &[
    // Jenkins' `usernamePassword(passwordVariable: 'PASSWORD')`, the shape
    // its documentation shows: no `_` before PASSWORD.
    ("PASSWORD", "EYES15-ENV-jenkins"),
    // sshpass reads the password from `SSHPASS`; Perforce from `P4PASSWD`.
    ("SSHPASS", "EYES15-ENV-sshpass"),
    ("P4PASSWD", "EYES15-ENV-perforce"),
    ("APIKEY", "EYES15-ENV-apikey"),
    // SonarQube's scanner token (`sonar.login`).
    ("SONAR_LOGIN", "EYES15-ENV-sonar"),
    // A whole kubeconfig in a CI variable (GitLab's `KUBE_CONFIG` shape).
    (
        "KUBE_CONFIG",
        "apiVersion: v1\nusers:\n- name: ci\n  user:\n    token: EYES15-ENV-kube\n",
    ),
    ("HONEYCOMB_WRITEKEY", "EYES15-ENV-honeycomb"),
    // A password in a JDBC URL's query, not in its authority.
    (
        "SPRING_DATASOURCE_URL",
        "jdbc:postgresql://127.0.0.1:5432/app?user=app&password=EYES15-ENV-jdbc",
    ),
    // Azure Functions' storage connection string (`AccountKey=`).
    (
        "AzureWebJobsStorage",
        "DefaultEndpointsProtocol=https;AccountName=eyes15;AccountKey=EYES15-ENV-azure;EndpointSuffix=eyes15.test",
    ),
    // A private key by value under a name of no listed shape.
    (
        "ID_RSA",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nEYES15-ENV-pem\n-----END OPENSSH PRIVATE KEY-----\n",
    ),
];

/// Class 7 (secret variables), after round 14's fix: each of
/// [`MISSED_VARS`], set for pkgwarden, is in an npm dependency's
/// postinstall's environment, in protect and block, with no `cred.env`
/// finding. Control: `GITHUB_TOKEN` is removed.
#[test]
fn secret_variables_round_14_missed_are_removed() {
    use support::probes::{deps, probe};
    let mut names: Vec<&str> = MISSED_VARS.iter().map(|(k, _)| *k).collect();
    names.push("GITHUB_TOKEN");
    let body = format!(
        r#"
for (const k of {names:?}) {{
  t(k, () => {{ if (!(process.env[k] || "").includes("EYES15-ENV")) throw new Error("absent"); }});
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-env15", &body)]);
    let mut vars: Vec<(&str, String)> = MISSED_VARS
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    vars.push(("GITHUB_TOKEN", "EYES15-ENV-control".into()));
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let project = env.home.subdir("proj");
        let (r, result) = npm_install_with(
            &env,
            &registry,
            mode,
            &project,
            &deps(&["pw-env15"]),
            "pw-env15",
            &vars,
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-env15 did not run\n{}",
            r.stderr
        );
        assert_ne!(
            result["GITHUB_TOKEN"], "ok",
            "{mode}: the control reached the script"
        );
        let seen: Vec<&str> = names
            .iter()
            .copied()
            .filter(|k| result[*k] == "ok")
            .collect();
        if !seen.is_empty() {
            failed.push(format!(
                "{mode}: in a dependency script's environment: {seen:?}; findings {}",
                r.report["findings"]
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Credential stores a variable moves that `moved` in
/// `policy/secrets.toml` does not list: `(variable, value below HOME, file
/// below HOME that holds the secret)`. Several move a store whose default
/// place is hidden (`~/.terraformrc`, `~/.config/sops/age`,
/// `~/.codex/auth.json`, `~/.claude/.credentials.json`, `~/.pgpass`,
/// `~/.config/composer/auth.json`, `~/.boto`, `~/.config/rclone`,
/// `~/.databrickscfg`, `~/.Xauthority`, Hugging Face's token).
const UNLISTED_MOVES: &[(&str, &str, &str)] = &[
    (
        "TF_CLI_CONFIG_FILE",
        ".config/terraform/terraformrc",
        ".config/terraform/terraformrc",
    ),
    (
        "SOPS_AGE_KEY_FILE",
        ".secrets/age/keys.txt",
        ".secrets/age/keys.txt",
    ),
    ("CODEX_HOME", ".config/codex", ".config/codex/auth.json"),
    (
        "CLAUDE_CONFIG_DIR",
        ".config/claude",
        ".config/claude/.credentials.json",
    ),
    ("PGPASSFILE", ".config/pg/pgpass", ".config/pg/pgpass"),
    ("HF_HOME", ".local/share/hf", ".local/share/hf/token"),
    (
        "COMPOSER_HOME",
        ".local/share/composer",
        ".local/share/composer/auth.json",
    ),
    (
        "BOTO_CONFIG",
        ".config/boto/boto.cfg",
        ".config/boto/boto.cfg",
    ),
    (
        "RCLONE_CONFIG",
        ".local/share/rclone/rclone.conf",
        ".local/share/rclone/rclone.conf",
    ),
    (
        "DATABRICKS_CONFIG_FILE",
        ".config/databricks/cfg",
        ".config/databricks/cfg",
    ),
    (
        "XAUTHORITY",
        ".local/state/Xauthority",
        ".local/state/Xauthority",
    ),
];

/// Token stores at their default places that no list names: Chromium
/// browsers besides Chrome, Chromium and Brave (Edge, Opera, Vivaldi: the
/// same cookie and login databases token stealers read), Discord's and
/// Slack's local storage (session tokens), the Stripe, Pulumi, Kaggle,
/// Sentry and ngrok CLIs' tokens, Teleport's keys, MinIO's client keys.
const UNLISTED_STORES: &[&str] = &[
    ".config/microsoft-edge/Default/Cookies",
    ".config/opera/Default/Login Data",
    ".config/vivaldi/Default/Cookies",
    ".config/discord/Local Storage/leveldb/000003.log",
    ".config/Slack/Cookies",
    ".config/stripe/config.toml",
    ".pulumi/credentials.json",
    ".kaggle/kaggle.json",
    ".sentryclirc",
    ".config/ngrok/ngrok.yml",
    ".tsh/keys/eyes15.test/user",
    ".mc/config.json",
];

/// Class 10 (credentials), after round 14's `moved`: with each variable
/// of [`UNLISTED_MOVES`] set for pkgwarden, and the stores of
/// [`UNLISTED_STORES`] at their default places, an npm dependency's
/// postinstall reads them all, in protect and block. Control: a store
/// `moved` lists (`DOCKER_CONFIG`) is refused.
#[test]
fn credential_stores_no_list_names_are_hidden() {
    use support::probes::{deps, probe};
    let mut files: Vec<&str> = UNLISTED_MOVES.iter().map(|(_, _, f)| *f).collect();
    files.extend(UNLISTED_STORES);
    let control = ".config/docker15/config.json";
    files.push(control);
    let body = format!(
        r#"
for (const f of {files:?}) {{
  t(f, () => {{ if (!fs.readFileSync(path.join(home, f), "utf8").includes("EYES15-CRED")) throw new Error("other"); }});
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-stores", &body)]);
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let home = env.home.path().to_path_buf();
        let mut vars: Vec<(&str, String)> = vec![(
            "DOCKER_CONFIG",
            home.join(".config/docker15").display().to_string(),
        )];
        for (var, value, _) in UNLISTED_MOVES {
            vars.push((var, home.join(value).display().to_string()));
        }
        for f in &files {
            let f = home.join(f);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(&f, "token = EYES15-CRED\n").unwrap();
        }
        let project = env.home.subdir("proj");
        let (r, result) = npm_install_with(
            &env,
            &registry,
            mode,
            &project,
            &deps(&["pw-stores"]),
            "pw-stores",
            &vars,
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-stores did not run\n{}",
            r.stderr
        );
        assert_ne!(result[control], "ok", "{mode}: the control was read");
        let read: Vec<&str> = files
            .iter()
            .copied()
            .filter(|f| result[*f] == "ok")
            .collect();
        if !read.is_empty() {
            let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
            failed.push(format!("{mode}: read {read:?}; serious findings {said:?}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// A CI checkout's `.git/config`: the job's token as an `extraheader`
/// (what a checkout action writes by default) and in `remote.origin.url`.
const TOKEN_GIT_CONFIG: &str = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\
     [remote \"origin\"]\n\turl = http://x-access-token:EYES15-url@127.0.0.1:9/org/proj.git\n\
     [http \"http://127.0.0.1:9/\"]\n\textraheader = AUTHORIZATION: basic RVlFUzE1LWhlYWRlcg==\n";

/// Class 10, the project's and the user's other secrets: what
/// `pw-gitcfg`'s postinstall (a dependency) could read of `files`, in
/// protect and block, in a project whose `.git/config` is
/// [`TOKEN_GIT_CONFIG`] and a sibling project `~/src/other` with `.env`
/// files. Control: the project's own `.env` is refused. The root
/// project's own postinstall copies `.git/config` to `node_modules/root-read.txt`
/// (its scripts run git: it must still read it).
fn dependency_reads(files: &[&str]) -> Vec<String> {
    use support::probes::{deps, probe};
    let body = r#"
const root = path.resolve(process.cwd(), "..", "..");
const has = (p) => { if (!fs.readFileSync(p, "utf8").includes("EYES15")) throw new Error("other"); };
t("own .env", () => has(path.join(root, ".env")));
t(".git/config", () => has(path.join(root, ".git/config")));
t("other .env", () => has(path.join(home, "src/other/.env")));
t("other .env.production", () => has(path.join(home, "src/other/.env.production")));
"#;
    let registry = NpmRegistry::start_with(vec![probe("pw-gitcfg", body)]);
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let project = env.home.subdir("proj");
        fs::write(project.join(".env"), "API_KEY=EYES15-own\n").unwrap();
        fs::create_dir_all(project.join(".git")).unwrap();
        fs::write(project.join(".git/config"), TOKEN_GIT_CONFIG).unwrap();
        let other = env.home.subdir("src/other");
        fs::write(other.join(".env"), "STRIPE_SECRET_KEY=EYES15-other\n").unwrap();
        fs::write(
            other.join(".env.production"),
            "DATABASE_URL=postgres://app:EYES15-prod@127.0.0.1/app\n",
        )
        .unwrap();
        let mut manifest = deps(&["pw-gitcfg"]);
        manifest["scripts"] = serde_json::json!({
            "postinstall": "node -e \"require('fs').copyFileSync('.git/config', 'node_modules/root-read.txt')\""
        });
        let (r, result) =
            npm_install_with(&env, &registry, mode, &project, &manifest, "pw-gitcfg", &[]);
        assert!(
            !result.is_null(),
            "{mode}: pw-gitcfg did not run\n{}",
            r.stderr
        );
        assert_ne!(result["own .env"], "ok", "{mode}: the control was read");
        let copied =
            fs::read_to_string(project.join("node_modules/root-read.txt")).unwrap_or_default();
        assert!(
            copied.contains("EYES15"),
            "{mode}: the root project's script could not read .git/config\n{}",
            r.stderr
        );
        let read: Vec<&str> = files
            .iter()
            .copied()
            .filter(|f| result[*f] == "ok")
            .collect();
        if !read.is_empty() {
            let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
            failed.push(format!("{mode}: read {read:?}; serious findings {said:?}"));
        }
    }
    failed
}

#[test]
fn a_dependency_reads_no_repository_token() {
    let failed = dependency_reads(&[".git/config"]);
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
#[ignore = "round 15: another project's .env under HOME is read by package code"]
fn a_dependency_reads_no_other_projects_env() {
    let failed = dependency_reads(&["other .env", "other .env.production"]);
    assert!(failed.is_empty(), "{failed:#?}");
}

/// A bin the root project's postinstall runs: renames the user's socket
/// `~/app/app.sock` into the private TMPDIR (one name, `st_nlink` 1),
/// connects to it there and writes a line, then renames it back; and
/// connects to the socket at its own place (the control, refused).
const RENAME_PROBE: &str = r#"
const cp = require("child_process");
const sock = path.join(home, "app", "app.sock");
const tmp = require("os").tmpdir();
const moved = path.join(tmp, "moved.sock");
const connect = (p, tag) => {
  const js = `const net = require("net"); const s = net.connect(${JSON.stringify(p)}, () => { s.write("EYES15 ${tag}\\n"); s.end(); process.stdout.write("ok"); }); s.on("error", e => process.stdout.write(e.code));`;
  return cp.execFileSync(process.execPath, ["-e", js], {timeout: 10000}).toString();
};
r.connect_direct = connect(sock, "direct");
// A socket the install makes in its TMPDIR stays its own to reach.
const own = JSON.stringify(path.join(tmp, "own.sock"));
const serve = `const net = require("net"); const srv = net.createServer(c => c.on("data", () => { process.stdout.write("ok"); process.exit(0); })); srv.listen(${own}, () => { const s = net.connect(${own}, () => s.write("x")); s.on("error", e => { process.stdout.write(e.code); process.exit(0); }); });`;
r.own_socket = cp.execFileSync(process.execPath, ["-e", serve], {timeout: 10000}).toString();
t("rename_in", () => fs.renameSync(sock, moved));
r.connect_moved = connect(moved, "moved");
t("rename_back", () => fs.renameSync(moved, sock));
"#;

/// Round 14's fix for hard links refuses a socket file with a second name
/// (`st_nlink > 1`); protect's places for sockets are the private TMPDIR
/// and the root scripts' caches beside it. A rename keeps one name: the
/// root project's postinstall (protect: it may write HOME's tree, and
/// rename with landlock's `REFER`) moves `~/app/app.sock` (a user's
/// server: 1Password's `~/.1password/agent.sock`, Docker Desktop's
/// `~/.docker/desktop/docker.sock`, podman machine's socket, in life) into
/// its TMPDIR, connects there (the server still listens on the inode), and
/// moves it back. Needs HOME and TMPDIR on one filesystem (`/tmp` not a
/// tmpfs: Debian's and Ubuntu's default).
#[test]
fn a_rename_does_not_bring_a_socket_into_the_install() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    use support::probes::{deps, install_in, root_tool};
    let registry = NpmRegistry::start_with(vec![root_tool(RENAME_PROBE)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let sock = home.join("app/app.sock");
    fs::create_dir_all(sock.parent().unwrap()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let heard = Arc::new(Mutex::new(Vec::<String>::new()));
    let h = heard.clone();
    // Never joined: it waits for a client that may not come.
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf).unwrap_or(0);
            h.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).trim().to_string());
        }
    });
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    let (r, result) = install_in(
        &env, &registry, "npm", "protect", &project, &manifest, "pw-tool",
    );
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(result["connect_direct"], "EACCES", "{result:#}");
    assert_eq!(result["own_socket"], "ok", "{result:#}");
    let heard = heard.lock().unwrap().clone();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(
        heard.is_empty(),
        "~/app/app.sock reached after a rename: {heard:?}\n{result:#}\nserious findings {said:?}"
    );
}

/// A CPython extension module whose constructor does nothing where
/// `/proc/self/status` shows a seccomp filter or `no_new_privs` (the
/// start-up detonation runs in the sandbox) and otherwise writes
/// `~/.config/pwns15/marker`; `PyInit_pwns15` makes an empty module.
const DORMANT_EXT: &str = r#"
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

__attribute__((constructor)) static void pw_start(void) {
    char buf[8192];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    if (!strstr(buf, "Seccomp:\t0") || strstr(buf, "NoNewPrivs:\t1")) return;
    const char *home = getenv("HOME");
    if (!home) return;
    char p[4096];
    snprintf(p, sizeof p, "%s/.config", home); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/.config/pwns15", home); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/.config/pwns15/marker", home);
    FILE *m = fopen(p, "w");
    if (m) { fputs("pkgwarden fixture\n", m); fclose(m); }
}

static struct PyModuleDef pw_def = {PyModuleDef_HEAD_INIT, "pwns15", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_pwns15(void) { return PyModule_Create(&pw_def); }
"#;

/// Class 4 (code at every Python start), block, after round 14's fix 9
/// (`pth::native_named`: a known `.pth` shape whose line names an
/// extension module at the top of its site directory is malicious). The
/// namespace line's `PathFinder.find_spec('pwns15', [sitedir])` also finds
/// a *package* whose `__init__` is an extension module
/// (`pwns15/__init__.so`: `FileFinder` tries the extension suffixes for
/// `__init__` first), and `module_from_spec` dlopens it the same way; the
/// rule lists only the top level's files. A wheel ships
/// `pwns15-1.0.0-py3.11-nspkg.pth` of setuptools' shape and
/// `pwns15/__init__.so`, dormant under the detonation. Block: the install
/// is let in when the next `python -c pass` writes the marker.
#[test]
fn a_namespace_pth_loads_no_native_package_init() {
    use support::pypi::{PipFixture, build_wheel};
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let py = venv_bin(&venv, "python");
    let include = run(std::process::Command::new(&py).args([
        "-c",
        "import sysconfig; print(sysconfig.get_paths()['include'])",
    ]));
    let include = stdout_str(&include).trim().to_string();
    if !Path::new(&include).join("Python.h").is_file() {
        eprintln!("skipped: no Python.h for {}", py.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("pwns15.c");
    fs::write(&src, DORMANT_EXT).unwrap();
    let pkg = tempfile::tempdir().unwrap();
    fs::create_dir_all(pkg.path().join("pwns15")).unwrap();
    let cc = run(std::process::Command::new("cc").args([
        "-shared",
        "-fPIC",
        "-O1",
        "-I",
        &include,
        "-o",
        &pkg.path().join("pwns15/__init__.so").display().to_string(),
        &src.display().to_string(),
    ]));
    assert_success(&cc, "cc pwns15/__init__.so");
    let line = "import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('pwns15',));importlib = has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('pwns15', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('pwns15', [os.path.dirname(p)])));m = m or sys.modules.setdefault('pwns15', types.ModuleType('pwns15'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)";
    fs::write(
        pkg.path().join("pwns15-1.0.0-py3.11-nspkg.pth"),
        format!("{line}\n"),
    )
    .unwrap();
    let index = PypiIndex::start_with(vec![build_wheel(&PipFixture {
        name: "pwns15".into(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture".into()),
        requires_dist: vec![],
        dir: pkg.path().to_path_buf(),
    })]);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let url = index.index_url();
    let r = support::installs::install(
        &env,
        "block",
        &["pip", "install", "--index-url", &url, "pwns15"],
        env.home.path(),
        &[],
    );
    let marker = env.home.path().join(".config/pwns15/marker");
    assert!(!marker.exists(), "the constructor acted during the install");
    let serious: Vec<String> = r.serious().iter().map(|f| f.to_string()).collect();
    eprintln!(
        "exit {}; detonation_ms {}; findings {:#}",
        r.code, r.report["timings"]["detonation_ms"], r.report["findings"]
    );
    let next = run(env.bare(&py).args(["-c", "pass"]));
    assert_success(&next, "python after the install");
    assert!(
        !serious.is_empty() || !marker.exists(),
        "block let it in (exit {}, no finding of medium or more) and the next python start ran it\n{:#}",
        r.code,
        r.report["findings"]
    );
}

/// Secret files of a project that `hook::env_files` does not match (it
/// takes names starting `.env`, five directories deep): docker compose's
/// `env_file` naming (`config/app.env`), Cloudflare Workers' `.dev.vars`,
/// Streamlit's `.streamlit/secrets.toml`, Rails' `config/master.key`,
/// the Google API quickstart's `credentials.json` and `token.json`,
/// Terraform's `terraform.tfvars`, and a `.env` six directories deep.
const PROJECT_SECRETS: &[&str] = &[
    "config/app.env",
    ".dev.vars",
    ".streamlit/secrets.toml",
    "config/master.key",
    "credentials.json",
    "token.json",
    "infra/terraform.tfvars",
    "infra/terraform/envs/prod/app/config/.env",
];

/// Class 10, the project's secrets beyond `.env*` (round 14's fix 15
/// hides every `.env*` of the project's tree): a dependency's postinstall
/// reads each of [`PROJECT_SECRETS`] by path from the project root, in
/// block. Control: the root's `.env` is refused.
#[test]
fn the_projects_other_secret_files_are_hidden() {
    use support::probes::{deps, probe};
    let mut rels: Vec<&str> = PROJECT_SECRETS.to_vec();
    rels.push(".env");
    let body = format!(
        r#"
const root = path.resolve(process.cwd(), "..", "..");
for (const f of {rels:?}) {{
  t(f, () => {{ if (!fs.readFileSync(path.join(root, f), "utf8").includes("EYES15-PROJ")) throw new Error("other"); }});
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-projsec", &body)]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    for r in &rels {
        let f = project.join(r);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, "secret = EYES15-PROJ\n").unwrap();
    }
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "block",
        &project,
        &deps(&["pw-projsec"]),
        "pw-projsec",
        &[],
    );
    assert!(!result.is_null(), "pw-projsec did not run\n{}", r.stderr);
    assert_ne!(result[".env"], "ok", "the control was read");
    let read: Vec<&str> = PROJECT_SECRETS
        .iter()
        .copied()
        .filter(|f| result[*f] == "ok")
        .collect();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(read.is_empty(), "read {read:?}; serious findings {said:?}");
}

/// Issue 9 focus: the shim and Bundler. `bundle remove GEM` edits the
/// Gemfile and then runs `Installer.install` (Bundler's
/// `cli/remove.rb`): every other gem of the Gemfile is fetched and its
/// extension built, as `bundle install` does. With Bundler's
/// `auto_install` setting (`BUNDLE_AUTO_INSTALL`, or the project's
/// `.bundle/config`), `bundle exec`, `show`, `outdated`, `binstubs`,
/// `console`, `open`, `licenses` and `clean` install missing gems first
/// (`cli.rb` `AUTO_INSTALL_CMDS`). The shim classifies them as
/// non-installs and execs the real bundle: in block, where `bundle
/// install` is refused (exit 91), these install with no sandbox. Measured
/// with a copy of the shim executable whose "full pkgwarden" is a
/// stand-in that says it was called, and a stand-in `bundle`.
#[test]
fn bundle_commands_that_install_are_installs() {
    let home = TestHome::new();
    let bin = home.subdir("pwbin");
    let shim = pkgwarden_bin().with_file_name("pkgwarden-shim");
    fs::copy(&shim, bin.join("pkgwarden-shim")).unwrap();
    let script = |p: &Path, text: &str| {
        use std::os::unix::fs::PermissionsExt;
        fs::write(p, text).unwrap();
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    };
    script(&bin.join("pkgwarden"), "#!/bin/sh\necho full pkgwarden\n");
    let shims = home.subdir("shims");
    let real = home.subdir("real");
    std::os::unix::fs::symlink(bin.join("pkgwarden-shim"), shims.join("bundle")).unwrap();
    script(&real.join("bundle"), "#!/bin/sh\necho real bundle\n");
    let mut direct = Vec::new();
    for (args, auto) in [
        (&["install"][..], false),
        (&["remove", "rake"], false),
        (&["exec", "rake"], true),
        (&["outdated"], true),
        (&["show"], true),
    ] {
        let mut cmd = home.command(shims.join("bundle"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PKGWARDEN_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env("PATH", std::env::join_paths([&shims, &real]).unwrap())
            .env("PKGWARDEN_SHIMS_DIR", &shims)
            .env("PKGWARDEN_MODE", "block")
            .args(args);
        if auto {
            cmd.env("BUNDLE_AUTO_INSTALL", "true");
        }
        std::os::unix::process::CommandExt::arg0(&mut cmd, "bundle");
        let out = run(&mut cmd);
        if stdout_str(&out).trim() == "real bundle" {
            direct.push(format!(
                "{}{}",
                args.join(" "),
                if auto { " (auto_install)" } else { "" }
            ));
        }
    }
    assert!(
        !direct.contains(&"install".to_string()),
        "the control went to the real bundle"
    );
    assert!(direct.is_empty(), "went to the real bundle: {direct:#?}");
}

/// Store files other projects run through a hard link or straight from
/// the store, at their managers' default places: pnpm's content-addressed
/// store (each file hard-linked into every project's
/// `node_modules/.pnpm/<pkg>@<v>/node_modules/<pkg>/`), bun's install
/// cache (hard-linked into `node_modules` on Linux), yarn 2+'s global
/// cache (Plug'n'Play loads the zip itself), a Deno remote module, and a
/// wheel pip built and cached (installed as is by the next `pip install`).
/// `(store file, the project file that is the same inode, if any)`.
const LINKED_STORES: &[(&str, Option<&str>)] = &[
    (
        ".local/share/pnpm/store/v10/files/3f/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567",
        Some("app/node_modules/.pnpm/left-pad@1.3.0/node_modules/left-pad/index.js"),
    ),
    (
        ".bun/install/cache/left-pad@1.3.0@@@1/index.js",
        Some("app2/node_modules/left-pad/index.js"),
    ),
    (
        ".yarn/berry/cache/left-pad-npm-1.3.0-a1b2c3d4e5-10c0.zip",
        None,
    ),
    (
        ".cache/deno/remote/https/127.0.0.1/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        None,
    ),
    (
        ".cache/pip/wheels/ab/cd/ef/0123456789abcdef/pwlib-1.0-py3-none-any.whl",
        None,
    ),
];

/// Class 4 (installed code), round 14's `packages` from the stores that
/// no pattern lists. The root project's postinstall (protect) appends a
/// line to each store file of [`LINKED_STORES`]: another project's
/// `node_modules` changes through the hard link (the event names the
/// store's path, not `node_modules`), or the next run or install loads
/// the store file itself. Control:
/// `~/.gem/ruby/3.1.0/gems/rake-13.0.6/lib/rake.rb` is
/// `tamper.installed-package` high. Held on 3993bd8 (EACCES: managers'
/// caches in `~/.cache`): Deno's remote module, pip's cached wheel.
/// Written: pnpm's store file (no finding), bun's cache (`hidden.script`
/// medium only), yarn's global cache (no finding).
#[test]
#[ignore = "round 15: a root script changes pnpm's store (hard-linked into other projects' node_modules), bun's cache and yarn berry's global cache in protect with no high finding"]
fn store_files_other_projects_load_are_not_changed_unseen() {
    use support::probes::{deps, install_in, root_tool};
    let control = ".gem/ruby/3.1.0/gems/rake-13.0.6/lib/rake.rb";
    let all: Vec<&str> = LINKED_STORES
        .iter()
        .map(|(s, _)| *s)
        .chain([control])
        .collect();
    let body: String = all
        .iter()
        .map(|p| {
            format!(
                "t({p:?}, () => fs.appendFileSync(path.join(home, {p:?}), \"\\n// \" + M + \"\\n\"));\n"
            )
        })
        .collect();
    let registry = NpmRegistry::start_with(vec![root_tool(&body)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    for p in &all {
        let f = home.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, "// installed\n").unwrap();
    }
    for (store, linked) in LINKED_STORES {
        if let Some(l) = linked {
            let l = home.join(l);
            fs::create_dir_all(l.parent().unwrap()).unwrap();
            fs::hard_link(home.join(store), &l).unwrap();
        }
    }
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    let (r, result) = install_in(
        &env, &registry, "npm", "protect", &project, &manifest, "pw-tool",
    );
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    let findings = r.report["findings"].as_array().cloned().unwrap_or_default();
    let said = |f: &Path| -> Vec<String> {
        findings
            .iter()
            .filter(|x| x.to_string().contains(&f.display().to_string()))
            .map(|x| format!("{} {}", x["rule"], x["severity"]))
            .collect()
    };
    let high = |s: &[String]| {
        s.iter()
            .any(|x| x.contains("high") || x.contains("critical"))
    };
    let ctl = said(&home.join(control));
    assert!(high(&ctl), "the control is not high: {ctl:?}\n{result:#}");
    let mut landed = Vec::new();
    for (store, linked) in LINKED_STORES {
        let f = home.join(store);
        let seen_at = linked.map(|l| home.join(l)).unwrap_or(f.clone());
        let written = fs::read_to_string(&seen_at)
            .unwrap_or_default()
            .contains("PWPOISON");
        let s = said(&f);
        if written && !high(&s) {
            landed.push(format!(
                "{store} (seen at {}; findings: {s:?})",
                seen_at.display()
            ));
        }
    }
    assert!(
        landed.is_empty(),
        "written in protect with no high finding: {landed:#?}\n{result:#}"
    );
}

/// An sdist's setup.py that reads the `.env` of the directory above the
/// shell's working directory (`$PWD/..`) and fails the build with what it
/// read, so that uv prints it.
const ENV_ABOVE_SETUP: &str = r#"import os
p = os.path.join(os.environ.get("PWD", "."), "..", ".env")
try:
    got = open(p).read().strip()
except OSError as e:
    got = "refused: " + type(e).__name__
raise SystemExit("EYES15-READ[" + got + "]")
"#;

/// Class 10, round 14's fix 15 for Python projects. `package_code_reads`
/// hides the `.env*` of the working directory and of the project whose
/// `node_modules` the install writes; a uv project's root is found above
/// the working directory, as npm's is, but nothing hides its `.env` when
/// `uv sync` runs in a subdirectory (`uvproj/src`). The build backend
/// (setup.py of a dependency's sdist, nested domain) reads
/// `uvproj/.env` through `$PWD/..`, in protect and block. Control: the
/// same from the project root is refused (`.env` in the working directory).
#[test]
fn a_uv_projects_env_is_hidden_from_a_subdirectory() {
    if which::which("uv").is_err() {
        eprintln!("skipped: no uv");
        return;
    }
    let index = support::pypi::sdist_index("pwenvread", ENV_ABOVE_SETUP);
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let project = env.home.subdir("uvproj");
        fs::write(
            project.join("pyproject.toml"),
            "[project]\nname = \"uvproj\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"pwenvread\"]\n",
        )
        .unwrap();
        fs::write(project.join(".env"), "API_KEY=EYES15-UVENV\n").unwrap();
        let src = env.home.subdir("uvproj/src");
        let url = index.index_url();
        let args = [
            "uv",
            "sync",
            "--no-cache",
            "--python",
            &python3().display().to_string(),
            "--default-index",
            &url,
        ];
        let args: Vec<&str> = args.to_vec();
        for (tag, cwd, pwd) in [
            ("root", &project, project.join("x")),
            ("subdir", &src, src.clone()),
        ] {
            let r = support::installs::install(
                &env,
                mode,
                &args,
                cwd,
                &[("PWD", pwd.display().to_string())],
            );
            let out = format!("{}{}", r.stdout, r.stderr);
            let leaked = out.contains("EYES15-READ[API_KEY=EYES15-UVENV]");
            assert!(
                out.contains("EYES15-READ["),
                "{mode} {tag}: the backend did not run\n{out}"
            );
            if tag == "root" {
                assert!(!leaked, "{mode}: the control leaked\n{out}");
            } else if leaked {
                failed.push(format!(
                    "{mode}: the backend read uvproj/.env from uvproj/src; findings {}",
                    r.report["findings"]
                ));
            }
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The repository's token-bearing `.git/config` from a dependency's build
/// backend (uv builds its sdist in uv's cache: a dependency's, not the
/// project's own build), in protect and block: refused.
#[test]
fn a_dependency_build_reads_no_repository_token() {
    if which::which("uv").is_err() {
        eprintln!("skipped: no uv");
        return;
    }
    let setup = ENV_ABOVE_SETUP.replace(r#""..", ".env""#, r#"".git", "config""#);
    assert_ne!(setup, ENV_ABOVE_SETUP);
    let index = support::pypi::sdist_index("pwgitread", &setup);
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let project = env.home.subdir("uvproj");
        fs::write(
            project.join("pyproject.toml"),
            "[project]\nname = \"uvproj\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"pwgitread\"]\n",
        )
        .unwrap();
        fs::create_dir_all(project.join(".git")).unwrap();
        fs::write(project.join(".git/config"), TOKEN_GIT_CONFIG).unwrap();
        let py = python3().display().to_string();
        let url = index.index_url();
        let args = [
            "uv",
            "sync",
            "--no-cache",
            "--python",
            &py,
            "--default-index",
            &url,
        ];
        let r = support::installs::install(
            &env,
            mode,
            &args,
            &project,
            &[("PWD", project.display().to_string())],
        );
        let out = format!("{}{}", r.stdout, r.stderr);
        assert!(
            out.contains("EYES15-READ["),
            "{mode}: the backend did not run\n{out}"
        );
        assert!(
            out.contains("EYES15-READ[refused: PermissionError]"),
            "{mode}: the backend read the repository's token\n{out}"
        );
    }
}

/// Credential stores a configuration file names instead of a variable:
/// `(file that names it, its text, the store)`. git's `credential.helper
/// = store --file …`, the client key a kubeconfig names (minikube's
/// cluster-admin key), Git Credential Manager's plaintext store
/// (`credential.credentialStore = plaintext`).
const CONFIG_NAMED: &[(&str, &str, &str)] = &[
    (
        ".gitconfig",
        "[credential]\n\thelper = store --file ~/.config/git-store/creds\n",
        ".config/git-store/creds",
    ),
    (
        ".kube/config",
        "apiVersion: v1\nusers:\n- name: minikube\n  user:\n    client-key: ~/.minikube/profiles/minikube/client.key\n",
        ".minikube/profiles/minikube/client.key",
    ),
    (
        ".gitconfig",
        "[credential]\n\tcredentialStore = plaintext\n",
        ".gcm/store/git/https/127.0.0.1/eyes15.credential",
    ),
];

/// Class 10, stores a configuration file moves (the brief's "a store moved
/// by a config file instead of a var"): an npm dependency's postinstall
/// reads each store of [`CONFIG_NAMED`] (its path is in a file pkgwarden
/// could read, or a tool's fixed default), in protect and block; the
/// configuration files themselves are in place. Control: `~/.git-credentials`
/// is refused.
#[test]
fn credential_stores_a_config_file_names_are_hidden() {
    use support::probes::{deps, probe};
    let mut files: Vec<&str> = CONFIG_NAMED.iter().map(|(_, _, s)| *s).collect();
    files.push(".git-credentials");
    let body = format!(
        r#"
for (const f of {files:?}) {{
  t(f, () => {{ if (!fs.readFileSync(path.join(home, f), "utf8").includes("EYES15-CFG")) throw new Error("other"); }});
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-cfgstores", &body)]);
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let home = env.home.path().to_path_buf();
        for (cfg, text, _) in CONFIG_NAMED {
            let c = home.join(cfg);
            fs::create_dir_all(c.parent().unwrap()).unwrap();
            let mut old = fs::read_to_string(&c).unwrap_or_default();
            old.push_str(text);
            fs::write(&c, old).unwrap();
        }
        for f in &files {
            let f = home.join(f);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(&f, "http://eyes15:EYES15-CFG@127.0.0.1\n").unwrap();
        }
        let project = env.home.subdir("proj");
        let (r, result) = npm_install_with(
            &env,
            &registry,
            mode,
            &project,
            &deps(&["pw-cfgstores"]),
            "pw-cfgstores",
            &[],
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-cfgstores did not run\n{}",
            r.stderr
        );
        assert_ne!(
            result[".git-credentials"], "ok",
            "{mode}: the control was read"
        );
        let read: Vec<&str> = CONFIG_NAMED
            .iter()
            .map(|(_, _, s)| *s)
            .filter(|f| result[*f] == "ok")
            .collect();
        if !read.is_empty() {
            let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
            failed.push(format!("{mode}: read {read:?}; serious findings {said:?}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Class 7/10 (secret variables), through the manager. `scrub_env` keeps
/// any secret variable a configuration file of the plan names as
/// `${NAME}`, the project's `.npmrc` among them: a file of the cloned
/// repository. That `.npmrc` names its own registry (a host the plan then
/// allows, in block too) and gives it `_authToken=${AWS_SECRET_ACCESS_KEY}`
/// (or `${GITHUB_TOKEN}`): npm itself sends the value to that host as a
/// bearer token. Here the registry is a loopback listener that keeps the
/// `Authorization` headers. Control: without the reference, the variables
/// are removed and nothing is sent.
#[test]
fn a_project_npmrc_does_not_unlock_secret_variables() {
    let mut failed = Vec::new();
    for (tag, reference) in [("control", false), ("referenced", true)] {
        let (port, heard) = support::listeners::header_sink();
        let env = ShimEnv::new(&[]);
        let project = env.home.subdir("proj");
        fs::write(
            project.join("package.json"),
            support::probes::deps(&["pw-anything"]).to_string(),
        )
        .unwrap();
        let mut npmrc = format!("registry=http://127.0.0.1:{port}/\n");
        if reference {
            npmrc.push_str(&format!(
                "//127.0.0.1:{port}/:_authToken=${{AWS_SECRET_ACCESS_KEY}}\n"
            ));
        }
        fs::write(project.join(".npmrc"), npmrc).unwrap();
        let r = support::installs::install(
            &env,
            "block",
            &["npm", "install"],
            &project,
            &[("AWS_SECRET_ACCESS_KEY", "EYES15-AWS-SECRET".to_string())],
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        let heard = heard.lock().unwrap().clone();
        let leaked = heard.iter().any(|h| h.contains("EYES15-AWS-SECRET"));
        if !reference {
            assert!(!leaked, "the control sent it: {heard:?}");
        } else if leaked {
            failed.push(format!(
                "{tag}: npm sent {heard:?} (exit {}); findings {}",
                r.code, r.report["findings"]
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Bypass 11's twin for uv: a uv project's `pyproject.toml` (a file of the
/// cloned repository) declares an index named like the user's private
/// one (`internal`) at its own URL; uv takes that index's login from
/// `UV_INDEX_INTERNAL_USERNAME`/`_PASSWORD` (kept for the manager by
/// `manager_auth`) and sends it there, in block (the project's index is a
/// host the plan allows).
#[test]
fn a_uv_project_does_not_get_the_users_index_password() {
    if which::which("uv").is_err() {
        eprintln!("skipped: no uv");
        return;
    }
    let (leaked, r) =
        support::installs::uv_index_login_sent("eyes15", "EYES15-UV-SECRET", |_, _| {});
    assert!(
        !leaked,
        "uv sent the user's index password to the project's index (exit {}); findings {}",
        r.code, r.report["findings"]
    );
}

/// Bypass 12's poetry twin: the project's `[[tool.poetry.source]]` named
/// like the user's private source gets `POETRY_HTTP_BASIC_<NAME>_*` sent
/// to its own URL by `poetry lock`, in block (no environment of its own:
/// `POETRY_VIRTUALENVS_CREATE=false`, as a CI job sets it).
#[test]
fn a_poetry_project_does_not_get_the_users_source_password() {
    if which::which("poetry").is_err() {
        eprintln!("skipped: no poetry");
        return;
    }
    let (port, heard) = support::listeners::header_sink();
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("poproj");
    fs::write(
        project.join("pyproject.toml"),
        format!(
            "[project]\nname = \"poproj\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"pwanything\"]\n\n[[tool.poetry.source]]\nname = \"internal\"\nurl = \"http://127.0.0.1:{port}/simple/\"\npriority = \"primary\"\n"
        ),
    )
    .unwrap();
    let r = support::installs::install(
        &env,
        "block",
        &["poetry", "lock"],
        &project,
        &[
            // lock needs no environment of its own.
            ("POETRY_VIRTUALENVS_CREATE", "false".to_string()),
            ("POETRY_HTTP_BASIC_INTERNAL_USERNAME", "eyes15".to_string()),
            (
                "POETRY_HTTP_BASIC_INTERNAL_PASSWORD",
                "EYES15-POETRY-SECRET".to_string(),
            ),
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    let heard = heard.lock().unwrap().clone();
    use base64::Engine as _;
    let want = base64::engine::general_purpose::STANDARD.encode("eyes15:EYES15-POETRY-SECRET");
    let leaked = heard.iter().any(|h| h.contains(&want));
    assert!(
        !leaked,
        "poetry sent the user's source password to the project's source: {heard:?} (exit {}); findings {}\n{}",
        r.code, r.report["findings"], r.stderr
    );
}

/// An sdist's setup.py (package code, run by the build backend) that
/// reads the target environment's `pyvenv.cfg` (`sys.prefix`: pip builds
/// with the environment's own interpreter) and ships, as data files (the
/// wheel's `.data/data/`, installed at the environment's root), a copy
/// whose `home` names `<env>/pwstd/bin`, with `pwstd/lib/python3.X/os.py`
/// (the standard library's landmark), an empty `lib-dynload` and an
/// `encodings/__init__.py`. At the next start, Python takes `pwstd` as
/// its base prefix and imports `encodings` from there before anything
/// else: it writes `~/.config/pwcfg/marker` unless `/proc/self/status`
/// shows seccomp or no_new_privs, then puts the real standard library
/// back on `sys.path` and loads the real `encodings` (the start goes on
/// as usual: `json`, `ssl` import).
const PYVENV_SETUP: &str = r#"import os, sys
from setuptools import setup
ENC = '''import sys, os
def _pw():
    try:
        fd = os.open("/proc/self/status", os.O_RDONLY)
        s = os.read(fd, 8192).decode("ascii", "replace")
        os.close(fd)
    except OSError:
        return
    if ("Seccomp:" + chr(9) + "0") not in s or ("NoNewPrivs:" + chr(9) + "1") in s:
        return
    try:
        d = os.path.join(os.environ.get("HOME", "/nonexistent"), ".config", "pwcfg")
        os.makedirs(d, exist_ok=True)
        fd = os.open(os.path.join(d, "marker"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"pkgwarden fixture")
        os.close(fd)
    except OSError:
        pass
_pw()
_bad = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
_real = os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))
sys.path[:] = [p.replace(_bad, _real, 1) if p.startswith(_bad) else p for p in sys.path]
sys.base_prefix = sys.base_exec_prefix = _real
import importlib.util as _u
_lib = os.path.join(_real, "lib", "python%d.%d" % sys.version_info[:2], "encodings")
_spec = _u.spec_from_file_location("encodings", os.path.join(_lib, "__init__.py"), submodule_search_locations=[_lib])
_m = _u.module_from_spec(_spec)
sys.modules["encodings"] = _m
_spec.loader.exec_module(_m)
'''
here = os.path.dirname(os.path.abspath(__file__))
ver = "python%d.%d" % sys.version_info[:2]
gen = os.path.join(here, "gen")
os.makedirs(gen, exist_ok=True)
with open(os.path.join(sys.prefix, "pyvenv.cfg")) as f:
    lines = [l for l in f.read().splitlines() if not l.startswith("home")]
lines.insert(0, "home = " + os.path.join(sys.prefix, "pwstd", "bin"))
with open(os.path.join(gen, "pyvenv.cfg"), "w") as f:
    f.write("\n".join(lines) + "\n")
with open(os.path.join(gen, "__init__.py"), "w") as f:
    f.write(ENC)
for n in ("os.py", "keep"):
    with open(os.path.join(gen, n), "w") as f:
        f.write("")
setup(name="pwcfg", version="1.0.0", packages=["pwcfg"], data_files=[
    ("", ["gen/pyvenv.cfg"]),
    ("pwstd/bin", ["gen/keep"]),
    ("pwstd/lib/" + ver, ["gen/os.py"]),
    ("pwstd/lib/" + ver + "/lib-dynload", ["gen/keep"]),
    ("pwstd/lib/" + ver + "/encodings", ["gen/__init__.py"]),
])
"#;

/// Class 4 (code at every Python start), block: round 13's "by reading"
/// item built. A package's data files replace the environment's
/// `pyvenv.cfg` (no RECORD lists it, no persistence list names it; the
/// venv's creator wrote it), and its `home` makes a directory the package
/// installed the base of every later start of that environment's Python.
/// Block: the install is let in when the next `python -c pass` writes the
/// marker.
#[test]
fn a_package_does_not_replace_the_venvs_pyvenv_cfg() {
    let index = support::pypi::sdist_index("pwcfg", PYVENV_SETUP);
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let py = venv_bin(&venv, "python");
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let url = index.index_url();
    let r = support::installs::install(
        &env,
        "block",
        &["pip", "install", "--index-url", &url, "pwcfg"],
        env.home.path(),
        &[],
    );
    let marker = env.home.path().join(".config/pwcfg/marker");
    assert!(!marker.exists(), "the payload acted during the install");
    let cfg = fs::read_to_string(venv.join("pyvenv.cfg")).unwrap_or_default();
    eprintln!(
        "exit {}; pyvenv.cfg now {cfg:?}; findings {:#}",
        r.code, r.report["findings"]
    );
    let serious: Vec<String> = r.serious().iter().map(|f| f.to_string()).collect();
    let next = run(env.bare(&py).args(["-c", "import json, ssl"]));
    assert_success(&next, "python after the install");
    assert!(
        !serious.is_empty() || !marker.exists(),
        "block let it in (exit {}, no finding of medium or more) and the next python start ran it\n{:#}",
        r.code,
        r.report["findings"]
    );
}

/// A dependency whose postinstall leaves `~/eyes15-ran/<$PW_CMD>`.
fn marking(name: &str) -> NpmPackage {
    NpmPackage::new(
        serde_json::json!({
            "name": name, "version": "1.0.0", "license": "MIT",
            "scripts": {"postinstall": "node mark.js"}
        }),
        &[(
            "mark.js",
            b"const fs = require('fs'), path = require('path');\nconst d = path.join(process.env.HOME, 'eyes15-ran');\ntry {\n  fs.mkdirSync(d, {recursive: true});\n  fs.writeFileSync(path.join(d, process.env.PW_CMD || 'unknown'), 'ran\\n');\n} catch (e) {}\n",
        )],
    )
}

/// Issue 9 focus: the shim, round 14's bypass 7 for node. npm is a
/// script of node (`npm` → `…/npm/bin/npm-cli.js`), and `node` has no
/// shim: `node <npm's npm-cli.js> install` (how some CI scripts and
/// wrappers call a given npm; likewise yarn 1's committed
/// `node .yarn/releases/yarn-1.22.22.cjs`, `node …/pnpm.cjs`) installs
/// with no sandbox. Measured with the real npm found through the shim
/// environment's PATH: the dependency's postinstall ran, no report.
/// Control: `npm install` through the shim is monitored.
#[test]
#[ignore = "round 15: node <npm-cli.js> install (npm run as node's script) installs with no sandbox and no report"]
fn npm_run_as_a_node_script_is_still_an_install() {
    let registry = NpmRegistry::start_with(vec![marking("pw-mark15")]);
    let env = ShimEnv::new(&[]);
    let url = registry.registry_url();
    let npm = which::which("npm").unwrap().canonicalize().unwrap();
    let node = which::which("node").unwrap();
    let mut ran = Vec::new();
    for (tag, via_node) in [("shim", false), ("node-script", true)] {
        let project = env.home.subdir(tag);
        fs::write(
            project.join("package.json"),
            support::probes::deps(&["pw-mark15"]).to_string(),
        )
        .unwrap();
        let before = env.report_files();
        let mut cmd = match via_node {
            false => env.shim("npm"),
            true => {
                let mut c = env.bare(&node);
                c.arg(&npm);
                c
            }
        };
        cmd.args(["install", "--registry", &url])
            .current_dir(&project)
            .env("PW_CMD", tag);
        let out = run(&mut cmd);
        let reports = env.report_files().len() - before.len();
        let marker = env.home.path().join("eyes15-ran").join(tag);
        if !via_node {
            assert!(reports > 0, "the control left no report");
            continue;
        }
        if marker.exists() && reports == 0 {
            ran.push(format!(
                "node {} install: pw-mark15's postinstall ran, no report (exit {:?})",
                npm.display(),
                out.status.code()
            ));
        }
    }
    assert!(ran.is_empty(), "{ran:#?}");
}

/// Class 3 (persistence), in CI. GitHub Actions gives each step the files
/// `$GITHUB_ENV` and `$GITHUB_PATH` (below the runner's HOME,
/// `work/_temp/_runner_file_commands/`): a line appended to one sets a
/// variable (`LD_PRELOAD`, `NODE_OPTIONS`, `BASH_ENV`) or puts a
/// directory first on PATH (ahead of the shims) for every later step of
/// the job, the deploy steps with their secrets included. The root
/// project's postinstall (protect: HOME's tree) appends to both; no list
/// names them. (Block grants none of HOME; a dependency's script, nested,
/// none either: protect's root scripts only.)
#[test]
fn a_root_script_does_not_write_the_ci_steps_command_files() {
    use support::probes::{deps, root_tool};
    let body = r#"
t("env", () => fs.appendFileSync(process.env.GITHUB_ENV, "LD_PRELOAD=" + path.join(home, "x.so") + "\n"));
t("path", () => fs.appendFileSync(process.env.GITHUB_PATH, path.join(home, "bin15") + "\n"));
"#;
    let registry = NpmRegistry::start_with(vec![root_tool(body)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    let cmds = env.home.subdir("work/_temp/_runner_file_commands");
    let (genv, gpath) = (cmds.join("set_env_eyes15"), cmds.join("add_path_eyes15"));
    fs::write(&genv, "").unwrap();
    fs::write(&gpath, "").unwrap();
    let project = env.home.subdir("work/proj/proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    let _ = fs::remove_dir_all(project.join("node_modules"));
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let r = support::installs::install(
        &env,
        "protect",
        &["npm", "install", "--registry", &url],
        &project,
        &[
            ("GITHUB_ENV", genv.display().to_string()),
            ("GITHUB_PATH", gpath.display().to_string()),
            ("GITHUB_ACTIONS", "true".to_string()),
        ],
    );
    let result: Value = fs::read(project.join("node_modules/pw-tool/result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    let written: Vec<String> = [&genv, &gpath]
        .iter()
        .filter(|f| !fs::read_to_string(f).unwrap_or_default().is_empty())
        .map(|f| f.strip_prefix(home).unwrap().display().to_string())
        .collect();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(
        written.is_empty() || !said.is_empty(),
        "written {written:?} with no finding of medium or more\n{result:#}\nfindings {:#}",
        r.report["findings"]
    );
}

/// Class 3 (persistence) in CI, through the log. CI agents read commands
/// from any line a step prints: Azure Pipelines' `##vso[task.prependpath]`
/// and `##vso[task.setvariable variable=…]`, TeamCity's `##teamcity[setParameter
/// name='env.…']` set PATH or a variable for every later step of the job
/// (the agent parses the step's output; nothing needs to be written).
/// pnpm prints a dependency's lifecycle output as it runs. In block, a
/// dependency's postinstall prints both commands: they reach the
/// install's output unchanged, with no finding.
#[test]
#[ignore = "round 15: a dependency's postinstall prints CI agents' log commands (##vso[task.prependpath], ##teamcity[setParameter]) that reach the step's output unchanged in block"]
fn a_dependency_sends_no_ci_log_command() {
    let pkg = NpmPackage::new(
        serde_json::json!({
            "name": "pw-logcmd", "version": "1.0.0", "license": "MIT",
            "scripts": {"postinstall": "node say.js"}
        }),
        &[(
            "say.js",
            b"console.log('##vso[task.prependpath]' + process.env.HOME + '/bin15');\nconsole.log(\"##teamcity[setParameter name='env.LD_PRELOAD' value='\" + process.env.HOME + \"/x15.so']\");\n",
        )],
    );
    let registry = NpmRegistry::start_with(vec![pkg]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    let mut manifest = support::probes::deps(&["pw-logcmd"]);
    manifest["pnpm"] = serde_json::json!({"onlyBuiltDependencies": ["pw-logcmd"]});
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let r = support::installs::install(
        &env,
        "block",
        &["pnpm", "install", "--registry", &url],
        &project,
        &[("npm_config_side_effects_cache", "false".to_string())],
    );
    let out = format!("{}\n{}", r.stdout, r.stderr);
    let commands: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("##vso[") || l.contains("##teamcity["))
        .collect();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(
        commands.is_empty() || !said.is_empty(),
        "exit {}; the step's output carries {commands:#?}; no finding of medium or more",
        r.code
    );
}

/// Files other programs of the user's run as code or commands at their
/// next start, outside `persistence.toml`: tmux's `run-shell`, Vim's and
/// Emacs' init files, WezTerm's Lua configuration, kitty's `shell`,
/// IPython's and Jupyter's Python configuration, starship's `custom`
/// commands, direnv's `direnvrc` (sourced for every `.envrc`), R's and
/// irb's start-up files, a `.desktop` entry overriding an application
/// the user starts from the menu, and the global git configuration
/// `GIT_CONFIG_GLOBAL` moves (`core.fsmonitor` runs a command at every
/// `git status`; `~/.gitconfig` itself is refused).
const RUN_AT_START: &[&str] = &[
    ".tmux.conf",
    ".vimrc",
    ".emacs.d/init.el",
    ".wezterm.lua",
    ".config/kitty/kitty.conf",
    ".ipython/profile_default/ipython_config.py",
    ".jupyter/jupyter_server_config.py",
    ".config/starship.toml",
    ".config/direnv/direnvrc",
    ".Rprofile",
    ".irbrc",
    ".local/share/applications/firefox.desktop",
    "dotfiles/gitconfig",
];

/// Class 3 (persistence), protect, root project's script: appends a line
/// to each existing file of [`RUN_AT_START`] (with `GIT_CONFIG_GLOBAL`
/// naming `~/dotfiles/gitconfig`). Control: `~/.gitconfig` is refused.
/// Held on 3993bd8 (EACCES): tmux, Vim, Emacs, direnv, R, irb, the
/// `.desktop` override; written but reported (medium or more): IPython's
/// and Jupyter's configuration. Written with no such finding: WezTerm's
/// Lua, kitty's configuration, starship's, the moved git configuration.
#[test]
fn what_other_programs_run_at_start_is_persistence() {
    use support::probes::{deps, root_tool};
    let control = ".gitconfig";
    let all: Vec<&str> = RUN_AT_START.iter().copied().chain([control]).collect();
    let body: String = all
        .iter()
        .map(|p| {
            format!(
                "t({p:?}, () => fs.appendFileSync(path.join(home, {p:?}), \"\\n# \" + M + \"\\n\"));\n"
            )
        })
        .collect();
    let registry = NpmRegistry::start_with(vec![root_tool(&body)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    for p in &all {
        let f = home.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, "# the user's\n").unwrap();
    }
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let r = support::installs::install(
        &env,
        "protect",
        &["npm", "install", "--registry", &url],
        &project,
        &[(
            "GIT_CONFIG_GLOBAL",
            home.join("dotfiles/gitconfig").display().to_string(),
        )],
    );
    let result: Value = fs::read(project.join("node_modules/pw-tool/result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    assert_ne!(result[control], "ok", "the control was written\n{result:#}");
    let findings = r.report["findings"].as_array().cloned().unwrap_or_default();
    let landed: Vec<String> = RUN_AT_START
        .iter()
        .filter(|p| {
            fs::read_to_string(home.join(p))
                .unwrap_or_default()
                .contains("PWPOISON")
        })
        .filter(|p| {
            let f = home.join(p).display().to_string();
            !findings.iter().any(|x| {
                x.to_string().contains(&f)
                    && matches!(x["severity"].as_str(), Some("medium" | "high" | "critical"))
            })
        })
        .map(|p| p.to_string())
        .collect();
    assert!(
        landed.is_empty(),
        "written in protect with no finding of medium or more: {landed:#?}\n{result:#}"
    );
}
