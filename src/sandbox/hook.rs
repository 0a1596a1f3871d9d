//! The hook wrapper: package scripts run in a nested, tighter landlock domain
//! (DESIGN.md principle 9, "package code is not the manager").
//!
//! A manager that starts lifecycle scripts through a shell the environment
//! may choose (npm, yarn and pnpm read `npm_config_script_shell`) is pointed
//! at pkgwarden itself. Called as `<shell> -c <script>` with [`VAR`] set, it
//! confines itself — the manager's own credentials become unreadable, and a
//! dependency's script may write only its own directory, the private TMPDIR
//! and `~/.cache` but every manager's caches — then execs the shell the
//! manager would have used. The domain stacks on the install's: it can only
//! take rights away.

use super::landlock;
use super::prepare::Place;
use crate::model::plan::{InstallPlan, ScriptPath, ScriptVar};
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
    /// What a dependency's script may read, when it is less than `read`
    /// (the repository's git configuration holds a token); empty: `read`.
    #[serde(default)]
    pub dep_read: Vec<PathBuf>,
    /// The root project: its own scripts keep the install's write rights.
    pub project: PathBuf,
    /// Directories a dependency's script may write besides its own.
    pub writes: Vec<PathBuf>,
    /// Single files (devices, the terminal) any script may write.
    pub write_files: Vec<PathBuf>,
    /// Variables a dependency's script gets: every npm-family manager's
    /// cache (and `XDG_CACHE_HOME`, `~/.cache` being split) in the private
    /// TMPDIR, so a nested `npm install` or `npx` works without the real
    /// caches, which the script may not write; no user npmrc.
    #[serde(default)]
    pub env: Vec<(String, PathBuf)>,
    /// Tool caches (`~/.cache/puppeteer`) the wrapper makes, when missing,
    /// before it confines a dependency's script: with the managers' caches
    /// split out of `~/.cache`, the script may not make new entries there.
    #[serde(default)]
    pub make_dirs: Vec<PathBuf>,
    /// `(link, tool cache)`: links the wrapper puts in the private
    /// `XDG_CACHE_HOME` to the tool caches in `~/.cache`, so that a tool
    /// that follows it (playwright) keeps its download after the install.
    #[serde(default)]
    pub cache_links: Vec<(PathBuf, PathBuf)>,
    /// [`env`](Self::env) and [`cache_links`](Self::cache_links) for the
    /// root project's scripts: their private caches lie beside the private
    /// TMPDIR, where dependency scripts cannot plant what a root script's
    /// `npx` or nested install would run with the root domain's rights.
    #[serde(default)]
    pub root_env: Vec<(String, PathBuf)>,
    /// See [`root_env`](Self::root_env).
    #[serde(default)]
    pub root_cache_links: Vec<(PathBuf, PathBuf)>,
    /// The managers' caches the root project's own scripts may not write
    /// either: what they run is often a dependency's code (`patch-package`,
    /// `husky`, `prisma generate` from `node_modules/.bin`).
    #[serde(default)]
    pub root_deny: Vec<PathBuf>,
    /// What the root project's scripts may write (the install's domain
    /// narrows it further): everything but `root_deny`, as write-only
    /// grants, so that what `read` hides stays hidden.
    #[serde(default)]
    pub root_writes: Vec<PathBuf>,
    /// Variables the manager keeps (its own credentials) that no script
    /// gets, the root project's included: what those run is often a
    /// dependency's code.
    #[serde(default)]
    pub drop_env: Vec<String>,
}

/// The tool caches package scripts make for themselves in `~/.cache`
/// (THREATS.md's benign downloads and builds, `policy/benign.toml`'s
/// `tool_caches`; not a package manager's, so not `~/.cache/node`, which
/// holds corepack's managers). Every manager's cache in `~/.cache` is split
/// out, so a script cannot make new entries there: the wrapper makes these
/// first when they are missing.
const SCRIPT_TOOL_CACHES: &[&str] = &[
    "puppeteer",
    "ms-playwright",
    "Cypress",
    "electron",
    "electron-builder",
    "node-gyp",
    "prisma",
    "esbuild",
    "sharp",
];

/// What a dependency's script may write and the variables it gets. Never a
/// manager's cache (`caches`: the plan's and every manager's in `~/.cache`):
/// what lies there (npm's cacache index, pnpm's store, pip's wheels,
/// corepack's managers) is installed or run by a later install without a
/// check, in this project or another. Of `~/.cache` it may write the
/// existing entries but those caches, the [`SCRIPT_TOOL_CACHES`] the wrapper
/// makes, and a private `XDG_CACHE_HOME` for tools that follow it, with
/// links to those tool caches in it.
fn dependency_writes(
    caches: &[PathBuf],
    script_caches: &[PathBuf],
    script_env: &[ScriptVar],
    home: Option<&Path>,
    tmp: &Path,
) -> DependencyWrites {
    let mut writes = vec![tmp.to_path_buf()];
    writes.extend(script_caches.iter().cloned());
    // The plan's variables (a nested manager's private caches, no user
    // configuration), their private paths in this script's TMPDIR.
    let mut env: Vars = script_env
        .iter()
        .map(|v| {
            let path = match &v.value {
                ScriptPath::Private(rel) => tmp.join(rel),
                ScriptPath::Fixed(p) => p.clone(),
            };
            (v.name.clone(), path)
        })
        .collect();
    let mut make_dirs = Vec::new();
    let mut links = Vec::new();
    if let Some(cache) = home.map(|h| h.join(".cache"))
        && cache.is_dir()
    {
        let (real, own) = super::nest::caches_within(&cache, caches);
        if own.is_empty() {
            writes.push(real);
        } else {
            writes.extend(landlock::allow_all_except(&real, &own));
            let private = super::nest::private_cache(tmp);
            for name in SCRIPT_TOOL_CACHES {
                let d = real.join(name);
                if own.iter().any(|c| c.starts_with(&d) || d.starts_with(c)) {
                    continue;
                }
                links.push((private.join(name), d.clone()));
                if d.symlink_metadata().is_err() {
                    writes.push(d.clone());
                    make_dirs.push(d);
                }
            }
            env.push(("XDG_CACHE_HOME".into(), private));
        }
    }
    (writes, env, make_dirs, links)
}

/// What [`dependency_writes`] decides: the writes, the variables, the tool
/// caches to make and the links to them in the private cache.
type DependencyWrites = (Vec<PathBuf>, Vars, Vec<PathBuf>, Links);

/// Variables naming directories.
type Vars = Vec<(String, PathBuf)>;

/// `(link, target)` pairs.
type Links = Vec<(PathBuf, PathBuf)>;

/// The wrapper's spec for this install, or `None` when the manager starts
/// its scripts some other way.
pub fn spec(
    plan: &InstallPlan,
    fs: &landlock::FsSpec,
    at: &Place,
    reads: &Reads,
) -> Option<HookSpec> {
    let (home, cwd, tmp) = (at.home.as_deref(), at.cwd.as_path(), at.tmp.as_path());
    let h = plan.hook_shell.as_ref()?;
    let (hide, read) = (reads.hide.clone(), reads.read.clone());
    // The adapter says which of the plan's caches are package code's own
    // (node-gyp's headers while they are missing); the rest are not.
    let (mut caches, script_caches): (Vec<PathBuf>, Vec<PathBuf>) = plan
        .cache_dirs
        .iter()
        .cloned()
        .partition(|c| !h.own_caches.contains(c));
    // The manager's log directories too: the project's configuration can
    // name any directory one (`logs-dir=~/app/node_modules/dep`), and the
    // adapter gives scripts private ones.
    caches.extend(
        plan.guarded_caches
            .iter()
            .chain(&plan.log_dirs)
            .filter(|c| !caches.contains(c))
            .cloned()
            .collect::<Vec<_>>(),
    );
    // The manager's configuration steers later installs (`cache=`,
    // `packageImportMethod`): no script writes it, the manager itself may.
    let configs = config_files(plan);
    // The credentials inside `~/.cache` are split out like the caches.
    let inside: Vec<PathBuf> = home.map(super::package_code_secrets).unwrap_or_default();
    let guarded: Vec<PathBuf> = caches
        .iter()
        .chain(&configs)
        .chain(&inside)
        .cloned()
        .collect();
    let (writes, env, make_dirs, cache_links) =
        dependency_writes(&guarded, &script_caches, &h.env, home, tmp);
    let project = plan
        .write_roots
        .iter()
        .find(|r| r.file_name().is_some_and(|n| n == "node_modules"))
        .and_then(|r| r.parent())
        .unwrap_or(cwd)
        .to_path_buf();
    let (root_env, root_cache_links) = root_private(&env, &cache_links, tmp, &at.root_caches);
    let unread: Vec<PathBuf> = hide.iter().chain(&fs.secrets).cloned().collect();
    // The project's persistence places (`.git/hooks`, workflows, editor
    // and agent hooks, a hook directory the user's global git config
    // names relative to the repository): the install's domain may give the project file
    // rights beneath (pnpm's lockfile), which would reach them. Not those
    // the mode grants the root project's hooks by name (husky's
    // `.git/hooks` in protect).
    let persistence: Vec<PathBuf> = [project.as_path(), cwd]
        .iter()
        .flat_map(|d| super::project_persistence(d))
        .chain(super::user_hooks_paths(home, cwd))
        .filter(|p| {
            let real = landlock::resolve(p);
            !fs.write_dirs.iter().any(|w| real.starts_with(w))
        })
        .collect();
    let (root_deny, mut root_writes) = root_writes(&caches, &configs, &persistence, &unread, home);
    if !root_deny.is_empty() {
        // The tool caches and the scripts' own caches (the running node's
        // headers to download) are the root project's scripts' too.
        root_writes.extend(make_dirs.iter().chain(&script_caches).cloned());
    }
    Some(HookSpec {
        shell: h.shell.clone(),
        hide,
        read,
        dep_read: reads.dep_read.clone(),
        project,
        writes,
        write_files: fs
            .write_files
            .iter()
            .filter(|f| f.starts_with("/dev"))
            .cloned()
            .collect(),
        env,
        make_dirs,
        cache_links,
        root_env,
        root_cache_links,
        root_deny,
        root_writes,
        drop_env: Vec::new(),
    })
}

/// A dependency's private caches (`env`, and the `links` in its
/// `XDG_CACHE_HOME`) moved from the private TMPDIR to `root`: the root
/// project's scripts' own.
fn root_private(
    env: &[(String, PathBuf)],
    links: &[(PathBuf, PathBuf)],
    tmp: &Path,
    root: &Path,
) -> (Vars, Links) {
    let moved = |p: &PathBuf| match p.strip_prefix(tmp) {
        Ok(rest) => root.join(rest),
        Err(_) => p.clone(),
    };
    let env = env.iter().map(|(k, v)| (k.clone(), moved(v))).collect();
    let links = links.iter().map(|(l, t)| (moved(l), t.clone())).collect();
    (env, links)
}

/// The caches the root project's scripts may not write, by their real
/// paths, and everything else as the places they may write: the existing
/// ones, and in `~/.cache` the missing ones too (as for a dependency's
/// script, no new entry is made there but the tool caches). A cache inside
/// the project is split out too (`--cache .npm-cache`, which CI jobs save
/// and restore for later runs): the install's own domain gives the project
/// no new entries at its top anyway. What package code may not read
/// (`unread`) is left out of the grants as well: the install may not write
/// it either, and the wrapper opens each grant, which for a hidden store is
/// a `cred.read` finding. The manager's configuration files (`configs`)
/// are split out too, a missing one at its first missing component, so
/// that no script makes it.
fn root_writes(
    caches: &[PathBuf],
    configs: &[PathBuf],
    persistence: &[PathBuf],
    unread: &[PathBuf],
    home: Option<&Path>,
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut deny: Vec<PathBuf> = caches
        .iter()
        .filter_map(|c| c.canonicalize().ok())
        .collect();
    deny.extend(
        configs
            .iter()
            .chain(persistence)
            .map(|c| super::nest::real_path(c)),
    );
    if let Some(cache) = home.map(|h| h.join(".cache"))
        && cache.is_dir()
    {
        deny.extend(super::nest::caches_within(&cache, caches).1);
    }
    deny.sort();
    deny.dedup();
    if deny.is_empty() {
        return (deny, Vec::new());
    }
    let mut out: Vec<PathBuf> = deny.clone();
    out.extend(
        unread
            .iter()
            .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone())),
    );
    let writes = landlock::allow_all_except(Path::new("/"), &out);
    (deny, writes)
}

/// The manager's configuration files as the plan knows them, by real path
/// (a missing one cut at its first missing component).
pub fn config_files(plan: &InstallPlan) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = plan
        .config_files
        .iter()
        .map(|c| super::nest::real_path(c))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Directories a project's `.env*` search does not enter: installed code,
/// environments, build outputs, version control.
pub const NOT_PROJECT: &[&str] = &[
    "node_modules",
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "target",
    ".tox",
    ".nox",
    "site-packages",
    "dist-packages",
    // Build caches of thousands of files (round 16: a `.next/cache` spent
    // the whole budget before another app's `.env` was reached).
    ".next",
    ".nuxt",
    ".turbo",
    ".parcel-cache",
    ".svelte-kit",
    ".angular",
];

/// The secret files of the project at `root` (`.env*` and the other
/// shapes of `policy/secrets.toml` `project`), at most eight directories
/// deep and 10,000 directory entries read (a project's own tree, not what
/// it installed), linked directories followed.
pub fn env_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut budget = 10_000usize;
    let mut dirs = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if budget == 0 {
                // Said, not silent: what lies beyond stays readable.
                eprintln!(
                    "pkgwarden: WARNING: the search for {}'s secret files stopped after 10,000 entries (in {}): secret files beyond stay readable to package code",
                    root.display(),
                    dir.display()
                );
                return out;
            }
            budget -= 1;
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Ok(t) = e.file_type() else { continue };
            // A linked directory is searched too (a release's
            // `config/credentials -> ../shared/…`): the depth and the
            // budget bound a link that loops.
            let dir = t.is_dir() || (t.is_symlink() && e.path().is_dir());
            if !dir && super::secrets::is_project_secret(&name) {
                out.push(e.path());
            } else if dir && depth < 8 && !NOT_PROJECT.contains(&name.as_ref()) {
                dirs.push((e.path(), depth + 1));
            }
        }
    }
    out
}

/// What [`package_code_reads`] decides.
#[derive(Clone, Debug, Default)]
pub struct Reads {
    /// What package code may not read although the install may.
    pub hide: Vec<PathBuf>,
    /// Package code's read grants: everything but `hide` and the install's
    /// hidden stores.
    pub read: Vec<PathBuf>,
    /// A dependency's read grants, which also leave out the repository's
    /// git configuration when it holds a token (the root project's own
    /// scripts and builds run git there); empty when there is none (then
    /// `read`).
    pub dep_read: Vec<PathBuf>,
    /// The project's directories (the working directory, the projects the
    /// plan names, the enclosing repository): package code built there is
    /// the root project's own.
    pub projects: Vec<PathBuf>,
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
) -> Reads {
    let mut hide: Vec<PathBuf> = plan.readable_credentials.clone();
    if let Some(home) = home {
        hide.extend(super::readable_credentials().iter().map(|c| home.join(c)));
        hide.extend(super::package_code_secrets(home));
    }
    hide.extend(super::moved_readable());
    // The project's `.env*` files: the working directory's, and those
    // anywhere in the project the install runs in (a monorepo's
    // `apps/web/.env.local`; the project above a subdirectory npm ran in).
    let mut roots = vec![cwd.to_path_buf()];
    roots.extend(
        plan.write_roots
            .iter()
            .filter(|r| {
                r.file_name()
                    .is_some_and(|n| n == "node_modules" || n == ".venv")
            })
            .filter_map(|r| r.parent().map(Path::to_path_buf)),
    );
    // The projects the plan names above the working directory (a uv or
    // poetry project synced from a subdirectory: its manifest, lockfile and
    // editable root), and the repository the working directory lies in;
    // never HOME or `/` as a whole.
    let named = plan
        .write_files
        .iter()
        .filter_map(|f| f.parent())
        .chain(plan.editable_projects.iter().map(PathBuf::as_path));
    let repo = cwd.ancestors().skip(1).find(|a| a.join(".git").exists());
    for top in named.chain(repo) {
        if Some(top) != home && top.parent().is_some() {
            roots.push(top.to_path_buf());
        }
    }
    roots.sort();
    roots.dedup();
    for root in &roots {
        hide.extend(env_files(root));
    }
    hide.retain(|p| p.symlink_metadata().is_ok());
    // A hidden name that is a link (a dotfiles repository's `~/.npmrc`, a
    // release's linked `.env`) is hidden where it points too: landlock
    // judges the file a path resolves to.
    let hide = landlock::with_link_targets(&hide);
    // The grants leave out what the install's own domain hides too: the
    // wrapper opens each grant, and opening a hidden store is a finding.
    let mut unread = hide.clone();
    unread.extend(fs.secrets.iter().cloned());
    let read = landlock::allow_all_except(Path::new("/"), &unread);
    let dep_hide = super::secrets::repo_token_configs(cwd);
    let dep_read = match dep_hide.is_empty() {
        true => Vec::new(),
        false => {
            unread.extend(dep_hide.iter().cloned());
            landlock::allow_all_except(Path::new("/"), &unread)
        }
    };
    Reads {
        hide,
        read,
        dep_read,
        projects: roots,
    }
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
    // Made while the install's own domain still allows it (protect);
    // granted only as a real directory: a link planted there would grant
    // what it points to.
    for d in &spec.make_dirs {
        let _ = std::fs::create_dir(d);
        if !d.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            writes.retain(|w| w != d);
        }
    }
    // A tool that follows `XDG_CACHE_HOME` finds its real cache through a
    // link (only to a real directory; landlock judges what a write through
    // it reaches).
    let (env, links) = match own {
        true => (&spec.env, &spec.cache_links),
        false => (&spec.root_env, &spec.root_cache_links),
    };
    for (link, target) in links {
        if target.symlink_metadata().is_ok_and(|m| m.is_dir())
            && let Some(parent) = link.parent()
        {
            let _ = std::fs::create_dir_all(parent);
            let _ = std::os::unix::fs::symlink(target, link);
        }
    }
    // A dependency's script writes its own places; the root project's
    // writes all the install may but the managers' caches.
    let root_writes: Vec<PathBuf> = spec
        .root_writes
        .iter()
        .filter(|w| !spec.make_dirs.contains(w) || writes.contains(w))
        .cloned()
        .collect();
    let (confined, write_only) = match own {
        true => (
            Some((writes.as_slice(), spec.write_files.as_slice())),
            &[][..],
        ),
        false => (None, root_writes.as_slice()),
    };
    let read = match own && !spec.dep_read.is_empty() {
        true => &spec.dep_read,
        false => &spec.read,
    };
    landlock::restrict_nested(read, confined, write_only)?;
    // Both get private caches for a nested npm, pnpm or yarn (the real ones
    // are not theirs; nor are a dependency's the root's) and no user npmrc
    // (hidden from package code).
    let mut cmd = std::process::Command::new(&spec.shell);
    for (name, value) in std::env::vars_os() {
        if package_code_lacks(&spec.drop_env, &name, &value) {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    // The preload library's mark: this shell (same id) and what it starts
    // run a confined script (yarn 1 reaches the wrapper through it).
    cmd.env(super::nest_spec::HOOKED, std::process::id().to_string());
    let err = cmd.arg0(&spec.shell).args(args.iter().skip(1)).exec();
    Err(HookError::Exec(spec.shell, err))
}

/// True for a variable no script gets: one the manager keeps as its own
/// credential, or any other secret the manager passes on (yarn 1 exports
/// its configuration, tokens included, as `npm_config_*`).
fn package_code_lacks(drop: &[String], name: &std::ffi::OsStr, value: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (n, v) = (name.to_string_lossy(), value.to_string_lossy());
    super::nest_spec::dropped(drop, name.as_bytes())
        || (!super::secrets::is_replaced(&n)
            && (super::secrets::is_secret_name(&n) || super::secrets::is_secret_value(&v)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A nested manager's private caches, as the npm adapter names them.
    fn vars() -> Vec<ScriptVar> {
        [
            ("npm_config_cache", ".npm"),
            ("YARN_CACHE_FOLDER", ".cache/yarn"),
        ]
        .iter()
        .map(|(n, r)| ScriptVar {
            name: n.to_string(),
            value: ScriptPath::Private(PathBuf::from(r)),
        })
        .collect()
    }

    #[test]
    fn a_dependency_script_writes_no_manager_cache_but_keeps_tool_caches() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path().canonicalize().unwrap();
        let cache = home.join(".cache");
        for d in ["yarn/v6", "other"] {
            std::fs::create_dir_all(cache.join(d)).unwrap();
        }
        let tmp = Path::new("/t");
        let var = |env: &[(String, PathBuf)], k: &str| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        };
        // npm: its cache is not in ~/.cache, which stays writable whole.
        let npm = [home.join(".npm")];
        let (writes, env, make, _) = dependency_writes(&npm, &[], &vars(), Some(&home), tmp);
        assert_eq!(writes, vec![tmp.to_path_buf(), cache.clone()]);
        assert!(make.is_empty());
        assert_eq!(var(&env, "npm_config_cache"), Some(tmp.join(".npm")));
        assert_eq!(var(&env, "XDG_CACHE_HOME"), None);
        // yarn: its cache in ~/.cache is split out; the existing entries
        // and the tool caches to make are granted, XDG_CACHE_HOME is private.
        let yarn = [cache.join("yarn")];
        let (writes, env, make, links) = dependency_writes(&yarn, &[], &vars(), Some(&home), tmp);
        assert!(links.contains(&(tmp.join(".cache/puppeteer"), cache.join("puppeteer"))));
        assert!(!links.iter().any(|(_, t)| t.starts_with(cache.join("yarn"))));
        assert!(
            !writes
                .iter()
                .any(|w| w.starts_with(cache.join("yarn")) || *w == cache)
        );
        assert!(writes.contains(&cache.join("other")));
        assert!(make.contains(&cache.join("puppeteer")));
        assert!(make.iter().all(|d| writes.contains(d)));
        assert_eq!(var(&env, "XDG_CACHE_HOME"), Some(tmp.join(".cache")));
        assert_eq!(
            var(&env, "YARN_CACHE_FOLDER"),
            Some(tmp.join(".cache/yarn"))
        );
        // npm with every manager's cache guarded: `~/.cache` is split
        // around yarn's and the missing corepack home (its parent is not
        // made), `node` is no tool cache.
        let guarded = [
            home.join(".npm"),
            cache.join("yarn"),
            cache.join("node/corepack"),
        ];
        let (writes, env, make, _) = dependency_writes(&guarded, &[], &vars(), Some(&home), tmp);
        assert!(!writes.iter().any(|w| *w == cache
            || w.starts_with(cache.join("yarn"))
            || w.starts_with(cache.join("node"))));
        assert!(writes.contains(&cache.join("other")));
        assert!(!make.contains(&cache.join("node")));
        assert!(make.contains(&cache.join("esbuild")));
        assert_eq!(var(&env, "XDG_CACHE_HOME"), Some(tmp.join(".cache")));
        // A manager cache named like a tool cache is never made or granted.
        let odd = [cache.join("sharp")];
        let (writes, _, make, _) = dependency_writes(&odd, &[], &vars(), Some(&home), tmp);
        assert!(!make.contains(&cache.join("sharp")));
        assert!(!writes.contains(&cache.join("sharp")));
    }

    #[test]
    fn root_scripts_get_private_caches_outside_the_dependencies_writes() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path().canonicalize().unwrap();
        let cache = home.join(".cache");
        std::fs::create_dir_all(cache.join("yarn")).unwrap();
        let (tmp, root) = (Path::new("/t/pw-1"), Path::new("/t/pw-1-root"));
        let (writes, env, _, links) =
            dependency_writes(&[cache.join("yarn")], &[], &vars(), Some(&home), tmp);
        let (root_env, root_links) = root_private(&env, &links, tmp, root);
        let names = |e: &[(String, PathBuf)]| e.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(names(&root_env), names(&env));
        assert!(root_env.iter().any(|(k, _)| k == "XDG_CACHE_HOME"));
        // Every private cache moved (the user npmrc stays /dev/null), and
        // none where a dependency's script may write.
        for (k, v) in &root_env {
            assert!(v.starts_with(root) || v == Path::new("/dev/null"), "{k}");
            assert!(!writes.iter().any(|w| v.starts_with(w)), "{k}");
        }
        assert_eq!(root_links.len(), links.len());
        for ((l, t), (rl, rt)) in links.iter().zip(&root_links) {
            assert_eq!((rl, rt), (&root.join(l.strip_prefix(tmp).unwrap()), t));
        }
    }

    #[test]
    fn root_scripts_may_write_no_managers_cache_existing_or_not() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path().canonicalize().unwrap();
        let cache = home.join(".cache");
        for d in ["pip", "node/other", "pw-tool", "proj"] {
            std::fs::create_dir_all(cache.join(d)).unwrap();
        }
        let caches = [
            cache.join("pip"),
            cache.join("uv"),
            cache.join("node/corepack"),
            home.join(".npm"),
        ];
        let (deny, writes) = root_writes(&caches, &[], &[], &[], Some(&home));
        // The missing uv and corepack caches are kept from being made; a
        // missing cache outside `~/.cache` splits nothing.
        assert_eq!(
            deny,
            vec![
                cache.join("node/corepack"),
                cache.join("pip"),
                cache.join("uv")
            ]
        );
        assert!(writes.contains(&cache.join("pw-tool")));
        assert!(writes.contains(&cache.join("node/other")));
        assert!(
            !writes
                .iter()
                .any(|w| *w == cache || *w == cache.join("node"))
        );
    }

    #[test]
    fn root_scripts_may_write_no_persistence_place_of_the_project() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path().canonicalize().unwrap();
        let proj = home.join("proj");
        for d in [".git/hooks", "src"] {
            std::fs::create_dir_all(proj.join(d)).unwrap();
        }
        std::fs::write(proj.join(".git/config"), "").unwrap();
        let places = [
            proj.join(".git/hooks"),
            proj.join(".git/config"),
            proj.join(".github/workflows"),
        ];
        let (deny, writes) = root_writes(&[], &[], &places, &[], Some(&home));
        // A missing place is denied at its first missing component.
        for d in [&places[0], &places[1], &proj.join(".github")] {
            assert!(deny.contains(d), "{d:?} not denied: {deny:?}");
        }
        assert!(writes.contains(&proj.join("src")));
        assert!(
            !writes
                .iter()
                .any(|w| places[0].starts_with(w) || w.starts_with(proj.join(".github")))
        );
    }

    #[test]
    fn root_scripts_may_write_no_manager_configuration_existing_or_not() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path().canonicalize().unwrap();
        let proj = home.join("proj");
        for d in [".npm-global/etc", ".config/pnpm", "proj/node_modules"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::write(proj.join("pnpm-workspace.yaml"), "").unwrap();
        let configs = [
            home.join(".npm-global/etc/npmrc"),
            home.join(".config/pnpm/rc"),
            proj.join("pnpm-workspace.yaml"),
            proj.join(".pnpmfile.cjs"),
            home.join(".config/yarn/rc"),
        ];
        let (deny, writes) = root_writes(&[], &configs, &[], &[], Some(&home));
        // Missing files are kept from being made: their existing parent is
        // split; a missing directory on the way is denied itself.
        for c in &configs[..4] {
            assert!(deny.contains(c), "{c:?} not denied: {deny:?}");
        }
        assert!(deny.contains(&home.join(".config/yarn")));
        assert!(writes.contains(&proj.join("node_modules")));
        for w in &writes {
            assert!(
                !configs.iter().any(|c| c.starts_with(w)),
                "{w:?} grants a config"
            );
        }
    }
}
