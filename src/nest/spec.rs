//! The nested domain's spec, shared by the supervisor (which writes it) and
//! the preload library (which reads it in every process of the install and
//! confines those that run package code). Plain data and pure functions: the
//! library includes this file by path, without the rest of pkgwarden.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The variable naming the spec as `<sha256 of the file>:<path>`.
pub const VAR: &str = "PKGWARDEN_NEST";

/// Set by the hook wrapper in the shell it starts, to that process's id:
/// a process of a `hook` shape carrying it runs a script the wrapper
/// already confined (itself, or a process the script started).
pub const HOOKED: &str = "PKGWARDEN_HOOKED";

/// Directories of a project that hold installed packages, not its own code.
const INSTALLED: &[&str] = &[
    "node_modules",
    "site-packages",
    "dist-packages",
    "vendor",
    ".venv",
    "venv",
];

/// How a manager starts package code, recognised by its command line.
/// Produced by the manager's adapter (policy/package_code.toml).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// What it is, for the report (`PEP 517 hook`, `extconf.rb`).
    pub name: String,
    /// Matches when an argument after argv[0] ends with one of these.
    #[serde(default)]
    pub arg_ends_with: Vec<String>,
    /// Matches when an argument after argv[0] contains one of these.
    #[serde(default)]
    pub arg_contains: Vec<String>,
    /// The process may also write its working directory, when that lies
    /// strictly beneath one of the spec's `own_roots` (a gem's extension
    /// directory, where `make` builds).
    #[serde(default)]
    pub own_dir: bool,
    /// When not empty, matches only if one argument is one of these (the
    /// command of a legacy `setup.py`: `install`, `develop`).
    #[serde(default)]
    pub with_arg: Vec<String>,
    /// The process is the install itself (pip's legacy `setup.py install`
    /// writes the package into site-packages): it may also write the
    /// install's write roots, still without credentials.
    #[serde(default)]
    pub writes_roots: bool,
    /// An argument starting with one of these names, after the prefix, a
    /// directory the process may also write when it lies strictly beneath
    /// one of the spec's `own_roots` (RubyGems' rake builder installs the
    /// built extension into `RUBYARCHDIR=<the gem's extension dir>`).
    #[serde(default)]
    pub dest_arg: Vec<String>,
    /// When not empty, matches only a command line that starts with exactly
    /// these (argv[0] included: `/bin/sh`, `-c`, as node starts a command
    /// with `shell: true`); the argument patterns above are then optional.
    #[serde(default)]
    pub command: Vec<String>,
    /// The process is a lifecycle script the manager started through a
    /// shell it does not let the environment choose (yarn 1): the library
    /// runs it under the hook wrapper (`NestSpec::hook_wrapper`), which
    /// gives it the domain npm's scripts get, instead of confining it by
    /// the fields above.
    #[serde(default)]
    pub hook: bool,
}

impl Shape {
    /// True when `argv` has this shape (the patterns look at the arguments
    /// after argv[0], `command` at the start of the whole line).
    pub fn matches(&self, argv: &[String]) -> bool {
        let rest = || argv.iter().skip(1);
        let pattern = rest().any(|a| {
            self.arg_ends_with.iter().any(|s| a.ends_with(s.as_str()))
                || self.arg_contains.iter().any(|s| a.contains(s.as_str()))
        });
        let patterns = !self.arg_ends_with.is_empty() || !self.arg_contains.is_empty();
        let head = match self.command.is_empty() {
            true => pattern,
            false => argv.starts_with(&self.command) && (pattern || !patterns),
        };
        head && (self.with_arg.is_empty() || rest().any(|a| self.with_arg.contains(a)))
    }

    /// The directories `argv` names through `dest_arg`, as written: the
    /// caller resolves them before they reach `NestSpec::write_dirs`.
    pub fn dest_dirs(&self, argv: &[String]) -> Vec<PathBuf> {
        argv.iter()
            .skip(1)
            .filter_map(|a| {
                self.dest_arg
                    .iter()
                    .find_map(|p| a.strip_prefix(p.as_str()))
            })
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect()
    }
}

/// What the library needs to confine package code, decided by the supervisor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NestSpec {
    /// The command lines of package code.
    pub shapes: Vec<Shape>,
    /// What package code may read (everything but the credential stores and
    /// the manager's own credentials), as landlock grants.
    pub read: Vec<PathBuf>,
    /// What a dependency's code may read, when it is less than `read` (the
    /// repository's git configuration holds a token); empty: `read`.
    #[serde(default)]
    pub dep_read: Vec<PathBuf>,
    /// The project's directories: package code running in one, outside
    /// the packages installed there, is the root project's own build.
    #[serde(default)]
    pub projects: Vec<PathBuf>,
    /// Directories package code may write (the private TMPDIR, a local
    /// project's build outputs, `~/.cache` but every manager's caches).
    pub writes: Vec<PathBuf>,
    /// Single files it may write (devices, the terminal).
    pub write_files: Vec<PathBuf>,
    /// Where a shape with `own_dir` may write its working directory (the
    /// install's write roots; a `writes_roots` shape writes them whole).
    pub own_roots: Vec<PathBuf>,
    /// The manager's caches: a shape with `own_dir` may also write its
    /// working directory strictly beneath one (uv unpacks an sdist there),
    /// but nothing else in them, whatever the shape.
    #[serde(default)]
    pub cache_roots: Vec<PathBuf>,
    /// Opened (read, and missing) by a process once it is confined: the
    /// supervisor sees the open, so a package-code process that never opens
    /// it ran unconfined (a static interpreter, no library).
    pub ack: PathBuf,
    /// The process id of the manager itself, which is never confined.
    pub manager_parent: i32,
    /// `(home cache, private cache)`: package code may not write a
    /// manager's cache inside `~/.cache`, so nor create new entries there;
    /// a confined process whose `XDG_CACHE_HOME` is unset or names the home
    /// cache gets the private one instead (build tools make their caches
    /// where `XDG_CACHE_HOME` says).
    #[serde(default)]
    pub cache_home: Option<(PathBuf, PathBuf)>,
    /// The hook wrapper (pkgwarden's executable), which a process of a
    /// `hook` shape is run under; `None` when the install has none (those
    /// shapes are then left out).
    #[serde(default)]
    pub hook_wrapper: Option<PathBuf>,
    /// Variables the manager keeps (its own credentials) that package code
    /// must not get: a confined process holding one is started again
    /// without them, since its own memory and `/proc/self/environ` would
    /// still show a value it merely unset.
    #[serde(default)]
    pub drop_env: Vec<String>,
}

impl NestSpec {
    /// The shape `argv` has, if any.
    pub fn shape(&self, argv: &[String]) -> Option<&Shape> {
        self.shapes.iter().find(|s| s.matches(argv))
    }

    /// The read grants of package code running in `cwd`: a dependency's,
    /// unless `cwd` lies in the project outside what is installed there.
    pub fn read_for(&self, cwd: &Path) -> &[PathBuf] {
        let installed = |rest: &Path| {
            rest.components()
                .any(|c| INSTALLED.contains(&c.as_os_str().to_str().unwrap_or_default()))
        };
        let root = self
            .projects
            .iter()
            .any(|p| cwd.strip_prefix(p).is_ok_and(|rest| !installed(rest)));
        match root || self.dep_read.is_empty() {
            true => &self.read,
            false => &self.dep_read,
        }
    }

    /// The directories a process of `shape` running in `cwd` may write;
    /// `dests` are its `dest_arg` directories, resolved.
    pub fn write_dirs(&self, shape: &Shape, cwd: &Path, dests: &[PathBuf]) -> Vec<PathBuf> {
        let mut w = self.writes.clone();
        if shape.writes_roots {
            w.extend(self.own_roots.iter().cloned());
        }
        let strictly = |d: &Path, roots: &[PathBuf]| {
            roots.iter().any(|r| d.starts_with(r) && d != r.as_path())
        };
        let beneath = |d: &Path| strictly(d, &self.own_roots);
        if shape.own_dir && (beneath(cwd) || strictly(cwd, &self.cache_roots)) {
            w.push(cwd.to_path_buf());
        }
        w.extend(dests.iter().filter(|d| beneath(d)).cloned());
        w
    }

    /// The `XDG_CACHE_HOME` a confined process gets, given its own value:
    /// `None` keeps it.
    #[allow(dead_code)] // the preload library's; the supervisor only writes the spec
    pub fn cache_redirect(&self, current: Option<&Path>) -> Option<&Path> {
        let (home, private) = self.cache_home.as_ref()?;
        match current {
            None => Some(private),
            Some(c) if c.as_os_str().is_empty() || c == home.as_path() => Some(private),
            Some(_) => None,
        }
    }
}

/// True when `name` is one of `drop` (compared without case: a manager
/// may pass its setting on under another case).
pub fn dropped(drop: &[String], name: &[u8]) -> bool {
    drop.iter().any(|d| d.as_bytes().eq_ignore_ascii_case(name))
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}
