//! The install as pkgwarden understood and will run it: the command line as
//! the adapter read it, the facts of the manager, and the plan built from
//! both (what `sandbox`, `monitor` and `detect` read, so they need not
//! import `managers`).

use crate::model::nest_spec::Shape;
use crate::model::tool::{Family, Tool};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// An option the user gave, with its canonical long name where the adapter
/// knows it (`-i` → `index-url`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Opt {
    /// Canonical option name without dashes.
    pub name: String,
    /// Its value, for options that take one.
    pub value: Option<String>,
}

/// An install, as the adapter understood it from the command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstallRequest {
    /// The tool invoked.
    pub tool: Tool,
    /// The canonical verb: `install`, `exec`, `dlx`, `env create`, `-m pip install`…
    pub command: String,
    /// Package specs, requirement files or project words named on the line (best effort).
    pub packages: Vec<String>,
    /// The options the adapter recognised, in order.
    pub options: Vec<Opt>,
}

impl InstallRequest {
    /// The last value given for option `name`.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|o| o.name == name)
            .and_then(|o| o.value.as_deref())
    }

    /// Every value given for option `name`, in order.
    pub fn option_values(&self, name: &str) -> Vec<&str> {
        self.options
            .iter()
            .filter(|o| o.name == name)
            .filter_map(|o| o.value.as_deref())
            .collect()
    }

    /// True when flag `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|o| o.name == name)
    }
}

/// Where the facts came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Read from the facts cache.
    Cache,
    /// Derived by asking the manager now.
    Probe,
}

/// The install as pkgwarden will run it: the facts applied to this command line.
#[derive(Clone, Debug, Serialize)]
pub struct InstallPlan {
    /// The tool invoked.
    pub tool: Tool,
    /// The real manager.
    pub real_exe: PathBuf,
    /// The request as classified.
    pub request: InstallRequest,
    /// Directories this install may write beneath.
    pub write_roots: Vec<PathBuf>,
    /// Single files this install may write (a project's manifest and lockfile).
    pub write_files: Vec<PathBuf>,
    /// Write roots and caches pkgwarden makes before the install so that
    /// they can be granted (a local project's build outputs, node-gyp's
    /// devdir); removed after it when the install left them empty.
    pub transient_dirs: Vec<PathBuf>,
    /// What the plan could not derive and therefore does not grant.
    pub notes: Vec<String>,
    /// Those of `write_files` the install creates when they are missing (its
    /// own lockfile). Landlock grants only existing files, so they are
    /// created empty before the sandbox closes (npm, yarn and pnpm read an
    /// empty lockfile as none) and removed afterwards if still empty.
    pub create_files: Vec<PathBuf>,
    /// Directories where the manager writes a file through a temporary one
    /// beside it (pnpm's lockfile): regular files may be created, written
    /// and removed there, nothing else (see README, "The sandbox").
    pub file_dirs: Vec<PathBuf>,
    /// Cache directories.
    pub cache_dirs: Vec<PathBuf>,
    /// Every package manager's cache in the home cache and corepack's home
    /// (`policy/manager_caches.toml`), whichever manager this is: package
    /// code may not write them. Neither made nor granted to the install.
    pub guarded_caches: Vec<PathBuf>,
    /// Directories outside the write roots where the manager itself runs
    /// what it wrote (its build environments, ephemeral tool environments):
    /// executing a file written there is not `exec.dropped`. A cache as a
    /// whole never is one.
    pub build_dirs: Vec<PathBuf>,
    /// Log directories.
    pub log_dirs: Vec<PathBuf>,
    /// Configuration files the manager reads.
    pub config_files: Vec<PathBuf>,
    /// Registry base URLs for this install.
    pub registries: Vec<String>,
    /// `host[:port]` of every registry and download host: the allowed endpoints.
    pub registry_hosts: Vec<String>,
    /// A proxy the manager is configured with.
    pub proxy: Option<String>,
    /// The full facts.
    pub facts: ManagerFacts,
    /// Cache or probe.
    pub facts_origin: Origin,
    /// Credential files this manager itself reads (its rc file with a token,
    /// `~/.netrc` for its index): readable by the install, hidden from every
    /// other manager's installs and from package code.
    pub readable_credentials: Vec<PathBuf>,
    /// How the manager starts package code, when it does so through a shell
    /// it lets the environment choose: the sandbox puts its hook wrapper
    /// there, so lifecycle scripts run in a tighter, nested domain.
    pub hook_shell: Option<HookShell>,
    /// How the manager starts package code as a plain child process (build
    /// backends, `setup.py`, `extconf.rb`): the preload library confines
    /// processes of these shapes in a nested domain.
    pub package_code: Vec<Shape>,
    /// What such package code may write besides the private TMPDIR and
    /// `~/.cache`: a local project's build outputs.
    pub package_code_writes: Vec<PathBuf>,
    /// Programs the manager runs later that load code an install can add
    /// (RubyGems loads every plugin when `gem` starts): each is started
    /// once after the install, in the sandbox, when a file it loads is new
    /// or changed (the start-up detonation).
    pub startup_probes: Vec<StartupProbe>,
    /// Variables set in the install's environment (uv links copies, not
    /// hard links, into build environments package code may write).
    pub env: Vec<(String, String)>,
    /// Start-up locations only this manager has (RubyGems' plugin loaders,
    /// conda's activation scripts in the target prefix), as snapshot
    /// patterns: watched like the policy's `startup_paths`.
    pub watch_patterns: Vec<String>,
    /// Files whose `${VAR}` references keep a secret variable in the
    /// install's environment: the manager's configuration and the
    /// project's `.npmrc` (a build of any family may run npm).
    pub secret_refs: Vec<PathBuf>,
}

/// A start-up to observe after the install (data for `monitor::detonate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StartupProbe {
    /// The program to start.
    pub program: PathBuf,
    /// Its arguments (a command that does nothing but start).
    pub args: Vec<String>,
    /// The directory whose files it loads at start-up.
    pub dir: PathBuf,
    /// The names of the files it loads there (suffixes).
    pub suffixes: Vec<String>,
}

/// A manager's configurable shell for package scripts (npm's `script-shell`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HookShell {
    /// The environment variable that names the shell.
    pub var: String,
    /// The shell the manager would use without pkgwarden.
    pub shell: PathBuf,
    /// Set when the command line chose the shell itself (it outranks the
    /// environment): scripts then run unconfined, and the report says so.
    pub overridden: bool,
}

/// What one manager installation is and where it works, per its own config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManagerFacts {
    /// The adapter family.
    pub family: Family,
    /// The real manager executable.
    pub real_exe: PathBuf,
    /// The manager's version, as it reports it.
    pub version: Option<String>,
    /// For Python managers: the interpreter that runs them.
    pub interpreter: Option<PathBuf>,
    /// Where a default install writes (site-packages, scripts dir, global prefix …).
    pub write_roots: Vec<PathBuf>,
    /// Cache directories.
    pub cache_dirs: Vec<PathBuf>,
    /// Log directories.
    pub log_dirs: Vec<PathBuf>,
    /// Configuration files the manager reads (existing or not).
    pub config_files: Vec<PathBuf>,
    /// Registry base URLs the manager is configured to use.
    pub registries: Vec<String>,
    /// Hosts the registry hands downloads to (e.g. pip's own file host).
    pub download_hosts: Vec<String>,
    /// A proxy the manager's own configuration names.
    pub proxy: Option<String>,
    /// Named values the plan needs (`user_site`, `global_prefix`, …).
    pub values: BTreeMap<String, String>,
    /// False for families whose facts are not derived yet (a skeleton).
    pub derived: bool,
    /// Why a skeleton is one (what the probe answered), for the message
    /// that says an install ran unmonitored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_derived: Option<String>,
    /// Files whose change invalidates these facts.
    pub deps: Vec<Dep>,
}

/// A file the facts were derived from, with what it looked like then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dep {
    /// The file.
    pub path: PathBuf,
    /// `(mtime in ns, size)`, or `None` when it did not exist.
    pub stamp: Option<(i128, u64)>,
}
