//! Integration-test harness: loopback package registries that the real pip
//! and npm install from, an isolated HOME, and helpers to run the managers.
//!
//! Rules for tests using it: pip is always given `--index-url
//! <PypiIndex::index_url()>` and npm `--registry <NpmRegistry::registry_url()>`
//! (or `npm_config_registry`), and commands are built with
//! [`TestHome::command`] so that inherited `PIP_*` / `npm_config_*` settings
//! cannot point the managers anywhere else.
#![allow(dead_code)]
#![allow(unused_imports)]

pub mod gems;
pub mod http;
pub mod installs;
pub mod intel;
pub mod listeners;
pub mod npm;
pub mod origins;
pub mod probes;
pub mod pypi;
pub mod shimenv;
pub mod source;
pub mod tls;

pub use http::{HttpServer, LoggedRequest, Reply};
pub use npm::{JS_FILES, NpmFixture, NpmPackage, NpmRegistry};
pub use pypi::{Dist, PipFixture, PypiIndex};
pub use shimenv::{
    SANDBOXED, ShimEnv, UNMONITORED, gem_install, python_hook, shim_target, stand_in, wait_for,
};

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// Default limit for [`run`]: generous, but a hung manager fails the test
/// instead of hanging the suite.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// The crate's directory: `$PKGWARDEN_TEST_ROOT` when set (tests/run.sh sets it
/// when it runs the suite as an unprivileged user from a readable mirror).
pub fn crate_root() -> PathBuf {
    std::env::var_os("PKGWARDEN_TEST_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The pkgwarden binary under test (`$PKGWARDEN_TEST_BIN` overrides, as above).
pub fn pkgwarden_bin() -> PathBuf {
    std::env::var_os("PKGWARDEN_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_pkgwarden")))
}

/// `<crate>/tests/fixtures`
pub fn fixtures_root() -> PathBuf {
    crate_root().join("tests").join("fixtures")
}

// ---------------------------------------------------------------------------
// Isolated HOME
// ---------------------------------------------------------------------------

/// A temporary directory used as HOME, with the XDG base directories inside
/// it. Removed on Drop.
pub struct TestHome {
    dir: tempfile::TempDir,
}

impl Default for TestHome {
    fn default() -> Self {
        TestHome::new()
    }
}

impl TestHome {
    pub fn new() -> TestHome {
        let dir = tempfile::Builder::new()
            .prefix("pkgwarden-home-")
            .tempdir()
            .expect("create temp HOME");
        let home = TestHome { dir };
        for d in [
            home.config_dir(),
            home.cache_dir(),
            home.data_dir(),
            home.state_dir(),
        ] {
            std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("creating {}: {e}", d.display()));
        }
        home
    }

    /// The HOME directory itself.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.path().join(".config")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.path().join(".cache")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path().join(".local").join("share")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path().join(".local").join("state")
    }

    /// npm's global prefix (`npm install -g` lands here, not in /usr).
    pub fn npm_prefix(&self) -> PathBuf {
        self.path().join(".npm-global")
    }

    /// Creates (if needed) and returns `HOME/<name>`, e.g. an npm project dir.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
        p
    }

    /// Environment for every command run in a test.
    ///
    /// Besides HOME and the XDG dirs this pins npm's cache and global prefix
    /// inside HOME, so nothing a test does writes outside it.
    pub fn env(&self) -> Vec<(String, String)> {
        let s = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            ("HOME".into(), s(self.path())),
            ("XDG_CONFIG_HOME".into(), s(&self.config_dir())),
            ("XDG_CACHE_HOME".into(), s(&self.cache_dir())),
            ("XDG_DATA_HOME".into(), s(&self.data_dir())),
            ("XDG_STATE_HOME".into(), s(&self.state_dir())),
            ("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()),
            ("PIP_NO_INPUT".into(), "1".into()),
            ("npm_config_update_notifier".into(), "false".into()),
            ("npm_config_fund".into(), "false".into()),
            ("npm_config_audit".into(), "false".into()),
            ("npm_config_cache".into(), s(&self.path().join(".npm"))),
            ("npm_config_prefix".into(), s(&self.npm_prefix())),
            // The machine's own /etc/pkgwarden/policy.toml must not leak in.
            (
                "PKGWARDEN_SYSTEM_POLICY".into(),
                s(&self.path().join("etc-pkgwarden-policy.toml")),
            ),
        ]
    }

    /// A `Command` for `program` with inherited package-manager settings
    /// removed (see [`scrub_env`]) and [`TestHome::env`] applied. The
    /// working directory is HOME unless changed.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        scrub_env(&mut cmd);
        cmd.envs(self.env());
        cmd.current_dir(self.path());
        cmd
    }
}

/// Whether an inherited environment variable could redirect or reconfigure
/// pip, npm or Python (indexes, find-links, registries, user config,
/// virtualenv activation).
pub fn is_manager_env_var(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    k.starts_with("PIP_")
        || k.starts_with("NPM_CONFIG_")
        || k.starts_with("PYTHON")
        || k.starts_with("UV_")
        || k.starts_with("PYENV_VERSION")
        || matches!(
            k.as_str(),
            "VIRTUAL_ENV" | "CONDA_PREFIX" | "NODE_OPTIONS" | "NODE_PATH"
        )
}

/// Removes every inherited variable matching [`is_manager_env_var`], and
/// `SHELL`.
pub fn scrub_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if let Some(key) = k.to_str()
            && is_manager_env_var(key)
        {
            cmd.env_remove(&k);
        }
    }
    // CI runs without SHELL, and bash then looks the user up (through nscd
    // when glibc finds it): the tests see what CI sees, wherever they run.
    cmd.env_remove("SHELL");
}

// ---------------------------------------------------------------------------
// Executables
// ---------------------------------------------------------------------------

/// The real `python3` interpreter found on PATH.
///
/// PATH usually holds a launcher (e.g. a version-manager shim) rather than
/// the interpreter itself; this asks it for `sys.executable` once, so later
/// runs don't depend on HOME or the working directory. Panics if there is
/// no python3.
pub fn python3() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let launcher =
            which::which("python3").unwrap_or_else(|e| panic!("python3 not found on PATH: {e}"));
        let mut cmd = Command::new(&launcher);
        scrub_env(&mut cmd);
        cmd.args(["-c", "import sys; print(sys.executable)"]);
        let out = run(&mut cmd);
        assert_success(&out, "python3 -c 'print(sys.executable)'");
        let exe = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if exe.as_os_str().is_empty() || !exe.is_file() {
            launcher
        } else {
            exe
        }
    })
    .clone()
}

/// `npm` on PATH (panics if absent).
pub fn npm() -> PathBuf {
    which::which("npm").unwrap_or_else(|e| panic!("npm not found on PATH: {e}"))
}

/// `node` on PATH (panics if absent).
pub fn node() -> PathBuf {
    which::which("node").unwrap_or_else(|e| panic!("node not found on PATH: {e}"))
}

/// Creates a fresh virtualenv (`python3 -m venv`, with pip) inside `home`
/// and returns its directory. Each call makes a new one (`venv`, `venv-2`,
/// ...).
pub fn venv(home: &TestHome) -> PathBuf {
    let mut path = home.path().join("venv");
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = home.path().join(format!("venv-{n}"));
    }
    make_venv(&path, &[]);
    path
}

/// Makes at `path` the virtualenv `python3 -m venv [extra] <path>` makes,
/// with pip, in a fraction of the time: ensurepip costs about 5 s of CPU
/// per venv here, so the packages it installs are copied from a template
/// venv made once (see `make_venv.py`).
pub fn make_venv(path: &Path, extra: &[&str]) {
    let (template, script) = venv_template();
    let mut cmd = Command::new(python3());
    scrub_env(&mut cmd);
    cmd.arg("-I")
        .arg(script)
        .arg(template)
        .arg(path)
        .args(extra);
    let out = run(&mut cmd);
    assert_success(&out, "make_venv.py");
    let pip = venv_bin(path, "pip");
    assert!(
        pip.is_file(),
        "venv at {} has no {}",
        path.display(),
        pip.display()
    );
}

/// A venv made by `python3 -m venv` (with ensurepip), once per user and
/// interpreter, under the temporary directory; [`make_venv`] copies its
/// packages. Made under a private name and renamed into place, so a
/// half-made template is never used. Returns the template and where
/// `make_venv.py` was written beside it.
fn venv_template() -> &'static (PathBuf, PathBuf) {
    static TEMPLATE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let python = python3();
        let stamp = std::fs::metadata(&python)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let key = Sha256::digest(format!("{}\0{stamp}", python.display()).as_bytes());
        let uid = nix::unistd::getuid();
        let key: String = key[..6].iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("pkgwarden-test-venv-{uid}-{key}"));
        let script = dir.with_extension("py");
        let written = dir.with_extension(format!("py-{}", std::process::id()));
        std::fs::write(&written, include_str!("make_venv.py"))
            .and_then(|()| std::fs::rename(&written, &script))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", script.display()));
        if venv_bin(&dir, "pip").is_file() {
            return (dir, script);
        }
        let part = dir.with_extension(format!("part-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&part);
        let mut cmd = Command::new(&python);
        scrub_env(&mut cmd);
        cmd.arg("-m").arg("venv").arg(&part);
        let out = run(&mut cmd);
        assert_success(&out, "python3 -m venv (the template venv)");
        if std::fs::rename(&part, &dir).is_err() {
            // Another test binary made it first: use theirs.
            let _ = std::fs::remove_dir_all(&part);
        }
        assert!(
            venv_bin(&dir, "pip").is_file(),
            "no template venv at {}",
            dir.display()
        );
        (dir, script)
    })
}

/// `<venv>/bin/<name>`
pub fn venv_bin(venv: &Path, name: &str) -> PathBuf {
    venv.join("bin").join(name)
}

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

/// Runs `cmd` to completion with [`DEFAULT_TIMEOUT`]; see [`run_with_timeout`].
pub fn run(cmd: &mut Command) -> Output {
    run_with_timeout(cmd, DEFAULT_TIMEOUT)
}

/// Runs `cmd` with stdin closed and stdout/stderr captured. If it is still
/// running after `timeout` it is killed and the test panics (with whatever
/// output it had produced). Also echoes the command and its output to the
/// test's stderr, which the test harness shows only on failure.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let shown = shown_command(cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {shown}: {e}"));
    let out_reader = reader_thread(child.stdout.take());
    let err_reader = reader_thread(child.stderr.take());

    let deadline = Instant::now() + timeout;
    let status: Option<ExitStatus> = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {shown}: {e}"),
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    // Short, so that CI's excerpt of a failing test still reaches its panic.
    eprintln!(
        "$ {shown}\n  status: {status:?}\n  stdout: {}\n  stderr: {}",
        tail_of(&stdout),
        tail_of(&stderr)
    );
    let Some(status) = status else {
        panic!("{shown} did not finish within {timeout:?}");
    };
    Output {
        status,
        stdout,
        stderr,
    }
}

/// The program, its arguments and its directory (the environment left out:
/// it is long and the same for every command of a test).
fn shown_command(cmd: &Command) -> String {
    let mut s = String::new();
    if let Some(dir) = cmd.get_current_dir() {
        s.push_str(&format!("(in {}) ", dir.display()));
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// At most the last 1,500 bytes of a command's output, on one line each.
fn tail_of(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end();
    let cut = text.len().saturating_sub(1500);
    let start = (cut..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    let shown = text[start..].replace('\n', "\n          ");
    if start > 0 {
        format!("…{shown}")
    } else {
        shown
    }
}

fn reader_thread<R: Read + Send + 'static>(src: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = src {
            let _ = r.read_to_end(&mut buf);
        }
        buf
    })
}

/// Panics with the command's output unless it exited 0.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stdout_str(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr_str(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---------------------------------------------------------------------------
// Packaging helpers shared by the registries
// ---------------------------------------------------------------------------

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Wheel `RECORD` hash encoding: urlsafe base64 without padding.
pub fn sha256_urlsafe_nopad(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data))
}

pub fn sha1_hex(data: &[u8]) -> String {
    hex(&Sha1::digest(data))
}

/// Standard (padded) base64 of the SHA-512, as in npm's `integrity`.
pub fn sha512_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha512::digest(data))
}

/// All regular files under `dir` (recursively) whose `/`-separated relative
/// path passes `keep`, sorted by path.
pub fn collect_files(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<(String, Vec<u8>)> {
    fn walk(
        base: &Path,
        dir: &Path,
        keep: &dyn Fn(&str) -> bool,
        out: &mut Vec<(String, Vec<u8>)>,
    ) {
        let entries = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading fixture dir {}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
            let path = entry.path();
            let ft = entry
                .file_type()
                .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
            if ft.is_dir() {
                walk(base, &path, keep, out);
            } else if ft.is_file() {
                let rel = path
                    .strip_prefix(base)
                    .expect("walked path is under its base")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                if keep(&rel) {
                    let data = std::fs::read(&path)
                        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                    out.push((rel, data));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, keep, &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A gzip'd tar of regular files (mode 0644, fixed mtime) at the given paths.
pub fn tar_gz(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, data) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        // 1985-10-26T08:15:00Z, the fixed mtime npm itself packs with.
        header.set_mtime(499_162_500);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, data.as_slice())
            .unwrap_or_else(|e| panic!("tar entry {path}: {e}"));
    }
    let gz = tar.into_inner().expect("finish tar stream");
    gz.finish().expect("finish gzip stream")
}

/// Calls `f` every 100 ms until it returns `Some`, for at most `timeout`.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every file under `dir` whose content holds `needle` (links are not
/// followed: pnpm's store links back to its projects).
pub fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_holding(&p, needle));
        } else if std::fs::read(&p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle)) {
            out.push(p);
        }
    }
    out
}
