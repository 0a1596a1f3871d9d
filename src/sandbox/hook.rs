//! The hook wrapper: package scripts run in a nested, tighter landlock domain
//! (DESIGN.md principle 9, "package code is not the manager").
//!
//! A manager that starts lifecycle scripts through a shell the environment
//! may choose (npm, yarn and pnpm read `npm_config_script_shell`) is pointed
//! at pkgwarden itself. Called as `<shell> -c <script>` with [`VAR`] set, it
//! confines itself — the manager's own credentials become unreadable, and a
//! dependency's script may write only its own directory, the private TMPDIR
//! and the caches — then execs the shell the manager would have used. The
//! domain stacks on the install's: it can only take rights away.

use super::landlock;
use crate::managers::facts::InstallPlan;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// The variable that tells the wrapper where its [`HookSpec`] is, as
/// `<sha256 of the file>:<path>`: the file is written by the supervisor
/// before the install starts, and a changed file is refused.
pub const VAR: &str = "PKGWARDEN_HOOK";

/// What the wrapper needs to confine one script, decided by the supervisor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSpec {
    /// The shell the manager would have used.
    pub shell: PathBuf,
    /// Files package code may not read although the install may.
    pub hide: Vec<PathBuf>,
    /// What package code may read: everything but `hide`, as landlock
    /// grants. Computed outside the sandbox, where every directory on the
    /// way to a hidden file can be listed (inside, it cannot).
    pub read: Vec<PathBuf>,
    /// The root project: its own scripts keep the install's write rights.
    pub project: PathBuf,
    /// Directories a dependency's script may write besides its own.
    pub writes: Vec<PathBuf>,
    /// Single files (devices, the terminal) any script may write.
    pub write_files: Vec<PathBuf>,
}

/// The wrapper's spec for this install, or `None` when the manager starts
/// its scripts some other way.
pub fn spec(
    plan: &InstallPlan,
    fs: &landlock::FsSpec,
    home: Option<&Path>,
    cwd: &Path,
    tmp: &Path,
) -> Option<HookSpec> {
    let h = plan.hook_shell.as_ref()?;
    let (hide, read) = package_code_reads(plan, fs, home, cwd);
    let mut writes = vec![tmp.to_path_buf()];
    writes.extend(plan.cache_dirs.iter().cloned());
    if let Some(home) = home {
        writes.push(home.join(".cache"));
    }
    Some(HookSpec {
        shell: h.shell.clone(),
        hide,
        read,
        project: plan
            .write_roots
            .iter()
            .find(|r| r.file_name().is_some_and(|n| n == "node_modules"))
            .and_then(|r| r.parent())
            .unwrap_or(cwd)
            .to_path_buf(),
        writes,
        write_files: fs
            .write_files
            .iter()
            .filter(|f| f.starts_with("/dev"))
            .cloned()
            .collect(),
    })
}

/// What package code may not read although the install may (the
/// manager's own credentials, the project's `.env*`), and what it may read
/// as landlock grants: everything but those and the install's hidden
/// stores.
pub fn package_code_reads(
    plan: &InstallPlan,
    fs: &landlock::FsSpec,
    home: Option<&Path>,
    cwd: &Path,
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut hide: Vec<PathBuf> = plan.readable_credentials.clone();
    if let Some(home) = home {
        hide.extend(super::readable_credentials().iter().map(|c| home.join(c)));
    }
    if let Ok(entries) = std::fs::read_dir(cwd) {
        hide.extend(
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(".env"))
                .map(|e| e.path()),
        );
    }
    hide.retain(|p| p.symlink_metadata().is_ok());
    hide.sort();
    hide.dedup();
    // The grants leave out what the install's own domain hides too: the
    // wrapper opens each grant, and opening a hidden store is a finding.
    let mut unread = hide.clone();
    unread.extend(fs.secrets.iter().cloned());
    let read = landlock::allow_all_except(Path::new("/"), &unread);
    (hide, read)
}

/// True when this process is the wrapper: [`VAR`] is set and it was called
/// the way a manager calls its script shell (`-c <script>`).
pub fn is_invocation(args: &[OsString]) -> bool {
    std::env::var_os(VAR).is_some() && args.get(1).is_some_and(|a| a == "-c")
}

/// Why a script could not be confined.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The spec is missing, changed, or not what the supervisor writes.
    #[error("the hook spec named by {VAR} {0}; reinstall pkgwarden if this persists")]
    Spec(String),
    /// The kernel refused the nested domain.
    #[error("{0}; run `pkgwarden doctor`")]
    Landlock(#[from] landlock::LandlockError),
    /// The shell could not be started.
    #[error("cannot run {0}: {1}")]
    Exec(PathBuf, std::io::Error),
}

/// The wrapper: confine, then exec the real shell with the same arguments.
/// Returns only on failure; the script is then not run at all.
pub fn main(args: Vec<OsString>) -> i32 {
    match confine_and_exec(args) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("pkgwarden: package script not run: {e}");
            126
        }
    }
}

fn confine_and_exec(args: Vec<OsString>) -> Result<std::convert::Infallible, HookError> {
    let spec = load(&std::env::var_os(VAR).unwrap_or_default())?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let own = !same_dir(&cwd, &spec.project);
    let mut writes = spec.writes.clone();
    if own {
        writes.push(cwd);
    }
    let writes = own.then_some((writes.as_slice(), spec.write_files.as_slice()));
    landlock::restrict_nested(&spec.read, writes)?;
    let err = std::process::Command::new(&spec.shell)
        .arg0(&spec.shell)
        .args(args.iter().skip(1))
        .exec();
    Err(HookError::Exec(spec.shell, err))
}

/// Writes the spec into the private TMPDIR (readable inside the sandbox,
/// and gone with it) and returns the value of [`VAR`]. The install may
/// write there too, so the value carries the file's hash: a changed spec is
/// refused and the script does not run.
pub fn write(spec: &HookSpec, tmp: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    let json = serde_json::to_vec(spec).map_err(std::io::Error::other)?;
    let path = tmp.join(".pkgwarden-hook.json");
    std::fs::write(&path, &json)?;
    let sum = hex(&sha2::Sha256::digest(&json));
    Ok(format!("{sum}:{}", path.display()))
}

fn load(var: &std::ffi::OsStr) -> Result<HookSpec, HookError> {
    use sha2::Digest;
    let var = var.to_string_lossy();
    let (sum, path) = var
        .split_once(':')
        .ok_or_else(|| HookError::Spec("is malformed".into()))?;
    let json = std::fs::read(path).map_err(|e| HookError::Spec(format!("cannot be read: {e}")))?;
    if hex(&sha2::Sha256::digest(&json)) != sum {
        return Err(HookError::Spec(
            "was changed after the install started".into(),
        ));
    }
    serde_json::from_slice(&json).map_err(|e| HookError::Spec(format!("is not a hook spec: {e}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
