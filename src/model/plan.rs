//! The install as pkgwarden understood and will run it: the command line as
//! the adapter read it, the facts of the manager, and the plan built from
//! both (what `sandbox`, `monitor` and `detect` read, so they need not
//! import `managers`).

use crate::model::nest_spec::Shape;
use crate::model::tool::{Family, Tool};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// A secret variable a project's file directs: the manager would send it
/// to a place that file names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Directed {
    /// The variable.
    pub var: String,
    /// The project's file that names the place.
    pub file: PathBuf,
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
    /// own lockfile, the project's manifest). Landlock grants only existing
    /// files, so they are created before the sandbox closes, holding their
    /// seed (empty for a lockfile, which npm, yarn and pnpm read as none;
    /// `{}` for a manifest), and removed afterwards if still the seed.
    pub create_files: Vec<Precreate>,
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
    /// Local projects this install installs editable (`pip install -e
    /// DIR`, a uv or poetry project's root): the only distributions whose
    /// editable `.pth` (setuptools' `__editable__.*.pth`) is expected.
    pub editable_projects: Vec<PathBuf>,
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
    /// install's environment: the user's own configuration of the manager
    /// (`~/.npmrc`, the global rc, the file `NPM_CONFIG_USERCONFIG` names).
    pub secret_refs: Vec<PathBuf>,
    /// The project's files that reference variables the same way (its
    /// `.npmrc`, `.yarnrc.yml`: a build of any family may run npm). A
    /// cloned repository wrote them, so a reference there keeps a secret
    /// only where the user's own files bind it to the same registry.
    pub project_refs: Vec<PathBuf>,
    /// Secret variables the project's configuration would have the manager
    /// send where the project chooses (a uv index the project names like
    /// the user's private one): removed unless the policy's
    /// `project_credentials` names them.
    pub directed: Vec<Directed>,
    /// How the supervisor attributes a process to a package and its hook,
    /// tried in order (every family's: one family's build may run another
    /// family's manager). Not shown by `pkgwarden plan`: the same for every
    /// install.
    #[serde(skip)]
    pub attribution: Vec<Attribution>,
    /// The managers' own proxy variables, besides the generic ones: every
    /// family's (a build may run another family's manager). Not shown by
    /// `pkgwarden plan`: the same for every install.
    #[serde(skip)]
    pub proxy_vars: ProxyVars,
    /// Where the root project names its own package (read after the
    /// install): a JSON manifest in the working directory, whichever the
    /// install's family (its scripts may be any family's).
    #[serde(skip)]
    pub project_manifest: Option<ProjectManifest>,
    /// Directories the root project's own install-time scripts write, granted
    /// in protect only (husky's `prepare` installs `.git/hooks`): the
    /// adapter names them when the project's manifest has such a script.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub root_script_dirs: Vec<PathBuf>,
    /// Options inserted into the manager's arguments (after argv[0]) at
    /// `extra_args_at`: a date gate only the command line can set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<String>,
    /// Where `extra_args` go.
    #[serde(default)]
    pub extra_args_at: usize,
    /// The release-age cooldown applied to this install, when the policy
    /// sets one for this manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<crate::model::cooldown::Cooldown>,
    /// Which certificates the manager trusts and how it is told to trust
    /// another bundle (the adapter's data): used only when the registries
    /// over TLS are inspected (a feed is present).
    pub trust: Trust,
}

/// How a manager decides which certificates to trust.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Trust {
    /// The CA file the manager is configured with (its own setting, or the
    /// variable it reads), if any: the proxy trusts it, besides the system
    /// store, when it verifies a registry for this manager.
    pub ca_file: Option<PathBuf>,
    /// True when the bundle the manager is given replaces its whole store
    /// (pip's `cert`): with no CA file configured, the system bundle goes
    /// into it too. False when it adds to the manager's own roots (node's
    /// `NODE_EXTRA_CA_CERTS`).
    pub replaces_store: bool,
    /// True when the bundle starts from the system bundle even though a CA
    /// file is configured: the manager reads that file itself besides the
    /// bundle (gem's `ssl_ca_cert`), the proxy trusts it towards the
    /// registry.
    pub keeps_system: bool,
    /// Variables set to the bundle's path in the install's environment.
    pub bundle_vars: Vec<String>,
    /// Variables set to fixed values beside them.
    pub set: Vec<(String, String)>,
}

impl InstallPlan {
    /// The projects a local install writes into: the directories of the
    /// manifest and lockfiles the plan writes (npm, yarn, pnpm). Only the plan's
    /// entries are writable there; the rest of the project (`.git/`,
    /// `.github/`, `.npmrc`, editor and agent hooks, sources) is not, in any mode
    /// but audit.
    pub fn local_projects(&self, home: Option<&Path>) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .write_files
            .iter()
            .filter_map(|f| f.parent())
            .filter(|p| home != Some(*p))
            .map(Path::to_path_buf)
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// A file made before the sandbox closes so that it can be granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Precreate {
    /// The file.
    pub path: PathBuf,
    /// What it holds until the install writes it.
    pub seed: String,
}

impl Precreate {
    /// An empty file (a lockfile).
    pub fn empty(path: PathBuf) -> Precreate {
        Precreate {
            path,
            seed: String::new(),
        }
    }
}

/// A project's JSON manifest and the key of its package's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectManifest {
    /// The manifest file.
    pub file: PathBuf,
    /// The top-level key holding the package's name.
    pub name_key: String,
}

/// A manager's own proxy settings in the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyVars {
    /// Variables set to the proxy's URL.
    pub set: Vec<String>,
    /// Variables that exempt hosts from the proxy, removed.
    pub clear: Vec<String>,
}

impl ProxyVars {
    /// Both lists of `other` after this one's.
    pub fn extend(&mut self, other: ProxyVars) {
        self.set.extend(other.set);
        self.clear.extend(other.clear);
    }
}

/// A shape of process that names the package (and hook) it runs for: a
/// generic shape of its command line, working directory or environment,
/// with the manager's own words as data (`monitor::attribution` matches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attribution {
    /// The manager's variables in the process's environment name the
    /// package, its version and the hook (a lifecycle script).
    Env {
        /// The variable naming the package.
        name: String,
        /// The variable naming its version.
        version: String,
        /// The variable naming the hook.
        hook: String,
    },
    /// A build run in the unpacked source, a directory inside a temporary
    /// one: the first component of the working directory that starts with
    /// `after` is followed by `<name><cut>…`; one that starts with `whole`
    /// stands for the name itself. `Version:` of the `metadata` file there
    /// gives the version.
    BuildDir {
        /// Prefix of the temporary directory holding the source.
        after: String,
        /// What ends the name in the source's directory name.
        cut: char,
        /// Prefix of a temporary directory that is the source itself.
        whole: String,
        /// The metadata file in the source.
        metadata: String,
        /// The hook, by the arguments.
        hooks: ArgHooks,
    },
    /// A build in a cache directory (a component of the working directory
    /// starts with `marker`): `Name:` and `Version:` of the `metadata` file
    /// there name the package.
    MetadataDir {
        /// Prefix of a component of the working directory.
        marker: String,
        /// The metadata file in the working directory.
        metadata: String,
        /// The hook.
        hook: String,
    },
    /// A build inside the installed package: the working directory holds
    /// `<before>/<name>-<version>/<after>`.
    InstalledDir {
        /// The component before the package's directory.
        before: String,
        /// The component after it.
        after: String,
        /// The hook, by the arguments.
        hooks: ArgHooks,
    },
    /// A runner (an argument ending with `runner`) handed the package's
    /// file `<name><suffix>` as its last argument; the file's line
    /// `<version_key> "…"` gives the version.
    RunnerFile {
        /// The runner's path suffix.
        runner: String,
        /// The package file's suffix.
        suffix: String,
        /// The word that starts the file's version line.
        version_key: String,
        /// The hook.
        hook: String,
    },
    /// A hook script `<dir>/<prefix><name>-<hook><suffix>` among the
    /// arguments (when one ends with one of `trigger`), confirmed by the
    /// environment: `name_var` must name the same package; `version_var`
    /// gives its version.
    Script {
        /// Argument suffixes that make a process a candidate.
        trigger: Vec<String>,
        /// The name of the script's directory.
        dir: String,
        /// The script's file name prefix.
        prefix: String,
        /// Its suffix.
        suffix: String,
        /// The hooks, in the order tried.
        hooks: Vec<String>,
        /// The variable naming the package.
        name_var: String,
        /// The variable naming its version.
        version_var: String,
    },
}

/// The hook of a build, from its arguments: the hook of the first
/// `(suffix, hook)` some argument ends with, else `default`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgHooks {
    /// `(argument suffix, hook)`, in order.
    pub by_arg: Vec<(String, String)>,
    /// The hook otherwise.
    pub default: String,
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
    /// Variables a confined script gets so that a nested run of the manager
    /// uses private caches and no user configuration (the real ones are
    /// not package code's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<ScriptVar>,
    /// The plan's caches that are package code's own to write (node-gyp's
    /// headers while the running node's are missing), not the manager's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub own_caches: Vec<PathBuf>,
}

/// One variable of a confined script's environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScriptVar {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: ScriptPath,
}

/// A path a script variable names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptPath {
    /// Relative to the script's private directory (its TMPDIR).
    Private(PathBuf),
    /// As it is.
    Fixed(PathBuf),
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
