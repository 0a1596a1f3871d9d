//! The kernel sandbox of an install: landlock rules, the seccomp filter, and
//! the child setup between `fork` and `execve`.

pub mod bpf;
pub mod gitconfig;
pub mod hook;
pub mod landlock;
pub mod nest;
pub use crate::model::nest_spec;
pub mod prepare;
pub mod probe;
pub mod scrub;
pub mod seccomp;
pub mod secrets;
pub mod spawn;
pub mod startup_vars;
pub mod trust;

use crate::model::plan::{InstallPlan, Precreate};
use crate::policy::{Mode, Policy};
pub use gitconfig::{hooks_path, user_hooks_paths};
use std::path::{Path, PathBuf};

/// Credential stores under `$HOME` nobody in the sandbox may read (THREATS.md
/// `cred.read`; `policy/secrets.toml` `home_hidden`). The managers' own
/// configuration (`~/.npmrc`, pip's files, `~/.netrc`) stays readable: they
/// need it.
pub fn home_secrets() -> &'static [String] {
    &secrets::data().home_hidden
}

/// Credential files below `$HOME` that stay readable because the managers
/// read them (`home_readable`): a package's code reading them is the finding.
pub fn readable_credentials() -> &'static [String] {
    &secrets::data().home_readable
}

/// The credential files of `package_code_hidden` that exist: hidden from
/// package code, whose write grants are split around them.
pub fn package_code_secrets(home: &Path) -> Vec<PathBuf> {
    secrets::data()
        .package_code_hidden
        .iter()
        .map(|c| home.join(c))
        .filter(|c| c.symlink_metadata().is_ok())
        .collect()
}

/// The credential files of `home_readable` that the install of `tool`
/// (its name) reads itself: those its configuration files name, and those
/// `manager_credentials` gives it. Readable to that manager's install only,
/// never to its package code.
pub fn own_credentials(tool: &str, home: &Path, config_files: &[PathBuf]) -> Vec<PathBuf> {
    let named = secrets::data().manager_credentials.get(tool);
    readable_credentials()
        .iter()
        // `~/.netrc` is any host's: readable only when it names one of the
        // install's registries (the Python adapters decide).
        .filter(|c| c.as_str() != ".netrc")
        .filter(|c| named.is_some_and(|n| n.contains(c)) || config_files.contains(&home.join(c)))
        .map(|c| home.join(c))
        .collect()
}

/// System-wide secrets (`system_hidden`).
pub fn system_secrets() -> &'static [String] {
    &secrets::data().system_hidden
}

/// Persistence locations inside a project directory (THREATS.md), and the
/// git hook managers' sources: husky's `.husky/<hook>` (its `.husky/_`
/// shims source them), pre-commit's and lefthook's configuration (their
/// local hooks are commands run at the next commit).
pub const PROJECT_PERSISTENCE: &[&str] = &[
    ".git/hooks",
    ".git/config",
    ".github/workflows",
    ".gitlab-ci.yml",
    ".vscode/tasks.json",
    ".claude",
    ".cursor",
    ".husky",
    ".pre-commit-config.yaml",
    "lefthook.yml",
    ".lefthook.yml",
];

/// The persistence places of the project (or repository) at `root`:
/// [`PROJECT_PERSISTENCE`], and the hook directory its `.git/config` names
/// (`core.hooksPath`: git runs the hooks there instead of `.git/hooks`).
pub fn project_persistence(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = PROJECT_PERSISTENCE.iter().map(|p| root.join(p)).collect();
    out.extend(hooks_path(root));
    out
}

/// The secrets that exist for this user: the default places, and those a
/// variable of this environment moved them to.
pub fn secrets(home: Option<&Path>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = system_secrets().iter().map(PathBuf::from).collect();
    if let Some(h) = home {
        out.extend(home_secrets().iter().map(|s| h.join(s)));
    }
    out.extend(moved().0.iter().cloned());
    out
}

/// The credential stores a variable of this environment moved (its
/// variables do not change while pkgwarden runs), and those the user's git
/// and kube configuration name: `(hidden, readable)`.
pub fn moved() -> &'static (Vec<PathBuf>, Vec<PathBuf>) {
    static MOVED: std::sync::OnceLock<(Vec<PathBuf>, Vec<PathBuf>)> = std::sync::OnceLock::new();
    MOVED.get_or_init(|| {
        let (mut hidden, readable) = secrets::moved_stores(|k| std::env::var_os(k));
        // And those the user's configuration files name.
        if let Some(home) = crate::paths::home() {
            let kube = std::env::var_os("KUBECONFIG");
            let git = std::env::var_os("GIT_CONFIG_GLOBAL");
            hidden.extend(secrets::config_named_stores(
                &home,
                kube.as_deref(),
                git.as_deref(),
            ));
        }
        (hidden, readable)
    })
}

/// The credential files a manager reads at the place a variable of this
/// environment moved them to (`NPM_CONFIG_USERCONFIG`, `NETRC`): hidden
/// from package code.
pub fn moved_readable() -> Vec<PathBuf> {
    moved().1.clone()
}

/// The fixed part of a glob: `~/.config/fish/**` → `~/.config/fish`.
fn glob_base(pattern: &str) -> &str {
    let cut = pattern.find(['*', '?', '[']).unwrap_or(pattern.len());
    pattern[..cut].trim_end_matches('/')
}

/// Where the install may write, per mode. `private` are the install's
/// private directories (`prepare::PrivateTmp`); `cwd` the directory the
/// manager runs in.
pub fn fs_spec(
    plan: &InstallPlan,
    policy: &Policy,
    home: Option<&Path>,
    cwd: &Path,
    private: &[&Path],
) -> landlock::FsSpec {
    let mut secrets = secrets(home);
    // Another manager's credentials are as secret as any other store.
    if let Some(h) = home {
        secrets.extend(
            readable_credentials()
                .iter()
                .map(|c| h.join(c))
                .filter(|c| !plan.readable_credentials.contains(c)),
        );
    }
    let mut write_dirs: Vec<PathBuf> = Vec::new();
    let mut write_files: Vec<PathBuf> = ["/dev/null", "/dev/tty", "/dev/zero", "/dev/full"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let (kept, refused) = manager_dirs(plan, policy, home, cwd);
    write_dirs.extend(unrefused(&plan.write_roots, &refused));
    write_dirs.extend(kept);
    write_files.extend(plan.write_files.iter().cloned());
    write_dirs.extend(private.iter().map(|p| p.to_path_buf()));
    let projects = plan.local_projects(home);
    // The user's own additions; a relative entry means nothing here.
    write_dirs.extend(
        policy
            .extra_write_paths
            .iter()
            .map(|p| crate::paths::expand_tilde(p))
            .filter(|p| p.is_absolute()),
    );
    for fd in 0..3 {
        if let Ok(p) = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            && p.starts_with("/dev/pts")
        {
            write_files.push(p);
        }
    }
    let writable_tree = match (policy.mode, home) {
        (Mode::Protect, Some(h)) => {
            let mut keep: Vec<PathBuf> = policy
                .startup_paths
                .linux
                .iter()
                .filter_map(|p| p.strip_prefix("~/"))
                .map(|p| h.join(glob_base(p)))
                .collect();
            keep.extend(["bin", ".local/bin"].iter().map(|p| h.join(p)));
            // Every other command directory of the user's PATH in HOME
            // (`~/.cargo/bin`, a version manager's): a new or changed file
            // there is a command the user runs.
            keep.extend(path_dirs(std::env::var_os("PATH").as_deref(), Some(h)));
            keep.extend(project_persistence(cwd));
            // The hook directories the user's global git config names.
            keep.extend(user_hooks_paths(Some(h), cwd));
            // The places a variable names (`GITHUB_ENV`, `GIT_CONFIG_GLOBAL`).
            keep.extend(startup_vars::places().iter().map(|(p, _)| p.clone()));
            // A node project is writable only where its install writes
            // (granted above), plus what its own hooks need (below).
            keep.extend(projects.iter().cloned());
            Some((h.to_path_buf(), keep))
        }
        _ => None,
    };
    if policy.mode == Mode::Protect {
        // What the root project's own hooks need (the adapter's data).
        write_dirs.extend(plan.root_script_dirs.iter().cloned());
    }
    landlock::FsSpec {
        secrets,
        write_dirs,
        write_files,
        file_dirs: plan.file_dirs.clone(),
        writable_tree,
        protected: own_paths(cwd),
        guarded: guarded(policy, home, cwd),
        kept_out: foreign_persistence(plan, cwd),
        refused,
        // Read by the supervisor on the install's behalf (audit grants
        // everything and never looks at this).
        through_supervisor: crate::procfs::procfs_mounts(),
        // An install run in HOME (or above it) has no project of its own:
        // the links there are the user's (`~/.npm -> /data/npm`).
        project: Some(cwd.to_path_buf())
            .filter(|c| home.is_none_or(|h| !landlock::resolve(h).starts_with(c))),
    }
    .resolved()
}

/// The persistence places (`.git/hooks`, workflows, editor and agent
/// hooks) that exist in a write root outside the project which is itself
/// a repository: npm builds a `file:` dependency in place, and
/// `file:../webapp` would otherwise grant the sibling repository's hooks.
/// Split out of the write grants (the root then gains no new entries).
fn foreign_persistence(plan: &InstallPlan, cwd: &Path) -> Vec<PathBuf> {
    plan.write_roots
        .iter()
        .filter(|r| !r.starts_with(cwd) && r.join(".git").exists())
        .flat_map(|r| project_persistence(r))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect()
}

/// The write roots `roots` but those inside a refused manager directory
/// (an environment's site-packages in poetry's refused `virtualenvs.path`).
fn unrefused(roots: &[PathBuf], refused: &[landlock::Refused]) -> Vec<PathBuf> {
    roots
        .iter()
        .filter(|r| !refused.iter().any(|x| r.starts_with(&x.name)))
        .cloned()
        .collect()
}

/// The manager's caches and log directories, but those that are, hold or
/// lie in a persistence place, a PATH directory of HOME, a secret or
/// pkgwarden's own files (refused). Their names come from configuration
/// the project may ship (npm's `logs-dir` and `cache`, pnpm's `state-dir`,
/// yarn's `cache-folder`, poetry's `virtualenvs.path`), and the log
/// directory is the root project's scripts' to write: no manager keeps
/// its cache in `~/.local/bin`. Judged by name, before anything is made.
fn manager_dirs(
    plan: &InstallPlan,
    policy: &Policy,
    home: Option<&Path>,
    cwd: &Path,
) -> (Vec<PathBuf>, Vec<landlock::Refused>) {
    let mut places = guarded(policy, home, cwd);
    places.extend(
        home.iter()
            .flat_map(|h| [h.join("bin"), h.join(".local/bin")]),
    );
    places.extend(secrets(home));
    places.extend(own_paths(cwd));
    let places: Vec<PathBuf> = places
        .iter()
        .flat_map(|p| [p.clone(), landlock::resolve(p)])
        .collect();
    // The user's command directories anywhere (`/usr/local/bin` for root):
    // one may not be or lie beneath such a directory (pnpm keeps its store
    // under PNPM_HOME, a PATH directory).
    let commands: Vec<PathBuf> = path_dirs(std::env::var_os("PATH").as_deref(), None)
        .iter()
        .flat_map(|p| [p.clone(), landlock::resolve(p)])
        .collect();
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for d in plan.cache_dirs.iter().chain(&plan.log_dirs) {
        let target = landlock::resolve(d);
        // Another repository's persistence places count as the project's
        // do: `logs-dir=../webapp/.git/hooks`, or `../webapp` itself.
        let repos: Vec<PathBuf> = [d.as_path(), target.as_path()]
            .iter()
            .flat_map(|t| t.ancestors())
            .filter(|a| a.join(".git").symlink_metadata().is_ok())
            .flat_map(project_persistence)
            .collect();
        let near = |t: &Path| {
            places
                .iter()
                .chain(&repos)
                .any(|p| t.starts_with(p) || p.starts_with(t))
                || commands.iter().any(|p| p.starts_with(t))
        };
        if near(d) || near(&target) {
            refused.push(landlock::Refused {
                name: d.clone(),
                target,
                why: "a manager's cache, log or environment directory may not be, hold or lie in a persistence place, a PATH directory, a secret or pkgwarden's own files",
            });
        } else {
            kept.push(d.clone());
        }
    }
    (kept, refused)
}

/// The absolute directories of `path_var` (PATH), only those strictly
/// inside `home` when it is given; pkgwarden's shims directory is one too.
fn path_dirs(path_var: Option<&std::ffi::OsStr>, home: Option<&Path>) -> Vec<PathBuf> {
    path_var
        .map(std::env::split_paths)
        .into_iter()
        .flatten()
        .filter(|d| d.is_absolute() && d.parent().is_some())
        .filter(|d| home.is_none_or(|h| d.starts_with(h) && d != h))
        .collect()
}

/// The persistence places of the policy's `startup_paths` and of the
/// project, each as the directory or file its pattern starts from
/// (`/etc/cron*` → `/etc`).
fn guarded(policy: &Policy, home: Option<&Path>, cwd: &Path) -> Vec<PathBuf> {
    let mut out = project_persistence(cwd);
    out.extend(user_hooks_paths(home, cwd));
    out.extend(startup_vars::places().iter().map(|(p, _)| p.clone()));
    for pattern in &policy.startup_paths.linux {
        let base = glob_base(pattern);
        // A wildcard inside the last component: the place is its parent.
        let base = match pattern.len() > base.len() && !pattern[base.len()..].starts_with('/') {
            true => base.rsplit_once('/').map_or("", |(parent, _)| parent),
            false => base,
        };
        let place = match (base.strip_prefix("~/"), home) {
            (Some(rest), Some(h)) => h.join(rest),
            (Some(_), None) => continue,
            (None, _) if base.starts_with('/') => PathBuf::from(base),
            (None, _) if base.is_empty() => continue,
            (None, _) => cwd.join(base),
        };
        out.push(place);
    }
    out
}

/// Files created before the sandbox closes so that it can grant them (the
/// plan's `create_files`), holding their seed; on drop, those still holding
/// it are removed, so an install that did not write them leaves the
/// project as it was.
#[derive(Debug, Default)]
pub struct Precreated(Vec<Precreate>);

impl Precreated {
    /// Creates each missing file of `files` with its seed (never replacing
    /// one: O_EXCL).
    pub fn create(files: &[Precreate]) -> Precreated {
        use std::io::Write;
        let made = files
            .iter()
            .filter(|f| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&f.path)
                    .and_then(|mut file| file.write_all(f.seed.as_bytes()))
                    .is_ok()
            })
            .cloned()
            .collect();
        Precreated(made)
    }
}

impl Drop for Precreated {
    fn drop(&mut self) {
        for f in &self.0 {
            let untouched = std::fs::symlink_metadata(&f.path).is_ok_and(|m| {
                m.is_file()
                    && m.len() == f.seed.len() as u64
                    && std::fs::read(&f.path).is_ok_and(|b| b == f.seed.as_bytes())
            });
            if untouched {
                let _ = std::fs::remove_file(&f.path);
            }
        }
    }
}

/// pkgwarden's own files, never writable from the sandbox: the policy files,
/// its configuration, cache, state (reports) and data directories, the shims,
/// the running binary and the shim executable beside it (every shim runs it). Each existing one is given by its real path too
/// (landlock rules attach to inodes; the grants compare real paths).
pub fn own_paths(cwd: &Path) -> Vec<PathBuf> {
    let loc = crate::policy::Locations::default();
    let mut raw: Vec<PathBuf> = [
        crate::paths::config_dir(),
        crate::paths::state_dir(),
        crate::paths::data_dir(),
        crate::shim::shims_dir(),
        std::env::current_exe().ok(),
        std::env::current_exe()
            .ok()
            .map(|e| e.with_file_name(crate::shim::SHIM_BIN)),
        Some(loc.system),
        loc.user,
        // `PKGWARDEN_POLICY` names a policy file too (`--policy` is read
        // before the plan and names one for this run only).
        std::env::var_os("PKGWARDEN_POLICY").map(PathBuf::from),
    ]
    .into_iter()
    .flatten()
    .collect();
    // Every project file read for this install (each only tightens, so
    // removing one would loosen): landlock keeps those that exist; a new
    // one anywhere is the supervisor's to refuse (`monitor::keep::Guard`).
    raw.extend(crate::policy::project_files(cwd));
    let real: Vec<PathBuf> = raw.iter().filter_map(|p| p.canonicalize().ok()).collect();
    raw.extend(real);
    raw.sort();
    raw.dedup();
    raw
}

/// Environment variable names that hold secrets (THREATS.md `cred.env`;
/// the patterns are `policy/secrets.toml` `[env]`).
pub fn is_secret_var(name: &str) -> bool {
    secrets::is_secret_name(name)
}

#[cfg(test)]
mod env_tests {
    use super::*;

    #[test]
    fn the_repositorys_hook_directory_is_a_persistence_place() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir(root.join(".git")).unwrap();
        let has = |p: &str| project_persistence(root).contains(&root.join(p));
        assert!(has(".git/hooks") && has(".husky") && has(".pre-commit-config.yaml"));
        for (config, hooks) in [
            ("[core]\n\thooksPath = .githooks\n", Some(".githooks")),
            (
                "[user]\nname=x\n[Core]\n  hookspath=\"tools/hooks\"\n",
                Some("tools/hooks"),
            ),
            ("[remote \"core\"]\n\thooksPath = .nothere\n", None),
            ("[core]\n\tbare = false\n", None),
        ] {
            std::fs::write(root.join(".git/config"), config).unwrap();
            assert_eq!(hooks_path(root), hooks.map(|h| root.join(h)), "{config}");
        }
    }

    #[test]
    fn path_dirs_are_absolute_and_inside_home_when_asked() {
        let path =
            std::ffi::OsString::from("/h/.cargo/bin:.:node_modules/.bin:/h:/usr/bin:/:/h/x/bin");
        let home = Path::new("/h");
        assert_eq!(
            path_dirs(Some(&path), Some(home)),
            [PathBuf::from("/h/.cargo/bin"), PathBuf::from("/h/x/bin")]
        );
        // Anywhere: HOME and /usr/bin too, never a relative entry or `/`.
        assert_eq!(
            path_dirs(Some(&path), None),
            ["/h/.cargo/bin", "/h", "/usr/bin", "/h/x/bin"].map(PathBuf::from)
        );
        assert!(path_dirs(None, Some(home)).is_empty());
    }

    #[test]
    fn a_precreated_file_goes_when_left_empty_and_stays_when_written() {
        let t = tempfile::tempdir().unwrap();
        let (a, b, c) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
        std::fs::write(&c, "mine").unwrap();
        let (d, e) = (t.path().join("d"), t.path().join("e"));
        let seeded = |p: &PathBuf| Precreate {
            path: p.clone(),
            seed: "{}\n".into(),
        };
        let made = Precreated::create(&[
            Precreate::empty(a.clone()),
            Precreate::empty(b.clone()),
            Precreate::empty(c.clone()),
            seeded(&d),
            seeded(&e),
        ]);
        assert!(a.is_file() && b.is_file());
        assert_eq!(std::fs::read_to_string(&d).unwrap(), "{}\n");
        std::fs::write(&b, "lock").unwrap();
        std::fs::write(&e, "{\"dependencies\":{}}").unwrap();
        drop(made);
        assert!(!a.exists() && !d.exists());
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "lock");
        assert_eq!(
            std::fs::read_to_string(&e).unwrap(),
            "{\"dependencies\":{}}"
        );
        // An existing file was never created, so never removed.
        assert_eq!(std::fs::read_to_string(&c).unwrap(), "mine");
    }

    #[test]
    fn secret_variables_are_recognised() {
        for s in [
            "GITHUB_TOKEN",
            "npm_token",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "MY_API_KEY",
            "DB_PASSWORD",
            "CLIENT_SECRET_X",
            "COMPOSER_AUTH",
            "NGROK_AUTHTOKEN",
            "BW_SESSION",
            "OP_SESSION_acme",
            "TF_TOKEN_app_example",
            "SOPS_AGE_KEY",
            "DEPLOY_KEY",
            "npm_config__authToken",
        ] {
            assert!(is_secret_var(s), "{s}");
        }
        for s in [
            "PATH",
            "HOME",
            "AWS_REGION",
            "AWS_CA_BUNDLE",
            "TERM",
            "NPM_CONFIG_REGISTRY",
            "TOKENIZERS_PARALLELISM",
        ] {
            assert!(!is_secret_var(s), "{s}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shim_executable_beside_the_binary_is_one_of_our_own_paths() {
        // Every shim runs it: a package that rewrote it would run at every
        // later `pip`, `npm` or `python` call, outside any sandbox.
        let exe = std::env::current_exe().unwrap();
        let own = own_paths(Path::new("/nonexistent"));
        assert!(
            own.contains(&exe.with_file_name(crate::shim::SHIM_BIN)),
            "{own:?}"
        );
        assert!(own.contains(&exe), "{own:?}");
    }
}
