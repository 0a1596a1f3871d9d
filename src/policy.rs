//! The policy: its keys, the layers it is read from, merging and validation.
//!
//! Layers, lowest first: the built-in `policy/default.toml`, `/etc/pkgwarden/policy.toml`,
//! `~/.config/pkgwarden/policy.toml`, the project files (every `.pkgwarden.toml` from `/`
//! down to the working directory, the nearest last), `PKGWARDEN_POLICY` (a file),
//! `PKGWARDEN_*` variables, then flags (`--policy FILE`, `--mode`). A later layer
//! replaces single keys of the ones below it; `endpoints.allow` merges per manager. Any
//! error in any layer stops everything: a broken policy runs nothing.
//!
//! A project file comes with the code being installed, so it may only make the policy
//! stricter: it can raise `mode` and lengthen `time_window` and the cooldowns, lower
//! `block_severity` and `executable_entropy_threshold`, turn `unsigned_binary_alerting`
//! and `shim_new_venvs` on, and add to `startup_paths` and `endpoints.deny` (never
//! replace them); it cannot set `allowed_parents`, `user_scope`, `package_managers`,
//! `extra_write_paths`, `log`, `cooldown_exempt`, `project_credentials`. Such lines are ignored and reported as
//! warnings naming the key and the file. Of `allow` it keeps only host entries scoped to
//! a package version ([`AllowEntry::endpoint_only`]); `endpoints.allow` and
//! `artifact_paths` (informational) it may set. Every project file above the working
//! directory is read, each under the same rule, so a nearer file planted by an install
//! cannot shadow a stricter one higher up.

use crate::model::Tool;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The built-in layer, compiled in.
pub const BUILTIN: &str = include_str!("../policy/default.toml");

pub use crate::model::Mode;

/// UserContextScope: which accounts are monitored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserScope {
    /// Lowest uid of an interactive account.
    pub min_uid: u32,
    /// Highest uid of an interactive account.
    pub max_uid: u32,
    /// Whether root is monitored.
    pub root: bool,
    /// Account names never monitored.
    #[serde(default)]
    pub exclude_users: Vec<String>,
}

impl UserScope {
    /// True when the account `uid`/`name` is monitored.
    pub fn includes(&self, uid: u32, name: Option<&str>) -> bool {
        if name.is_some_and(|n| self.exclude_users.iter().any(|e| e == n)) {
            return false;
        }
        if uid == 0 {
            return self.root;
        }
        (self.min_uid..=self.max_uid).contains(&uid)
    }
}

/// StartupAgentPaths, per platform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartupPaths {
    /// Linux persistence locations (globs; `~` is the home directory).
    pub linux: Vec<String>,
    /// macOS persistence locations, for reports of a future macOS port.
    pub macos: Vec<String>,
}

/// Classes of endpoints refused in every mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DenyClass {
    /// Connections to literal IP addresses that are not a configured registry.
    RawIp,
    /// Cloud metadata services.
    Metadata,
    /// Known exfiltration, paste and tunnel services.
    ExfilService,
}

/// Endpoint policy. Registry hosts are derived from each manager at run time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    /// Extra allowed hosts, per manager name.
    #[serde(default)]
    pub allow: BTreeMap<String, Vec<String>>,
    /// Endpoint classes denied in every mode.
    #[serde(default)]
    pub deny: Vec<DenyClass>,
    /// Unix sockets (files, or directories whose sockets count) an install
    /// may connect to besides its own; privileged ones stay refused.
    #[serde(
        default,
        deserialize_with = "de_sockets",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub unix: Vec<String>,
}

/// The effective policy: every key has a value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Policy {
    /// audit · protect · block.
    pub mode: Mode,
    /// PackageManagerList.
    pub package_managers: Vec<String>,
    /// InstallWritePaths, renamed: places outside the install's target where
    /// its leftovers are expected. Not a write grant (`extra_write_paths`).
    pub artifact_paths: Vec<String>,
    /// UserContextScope.
    pub user_scope: UserScope,
    /// TimeWindow.
    #[serde(serialize_with = "ser_duration")]
    pub time_window: Duration,
    /// AllowedParentProcesses.
    pub allowed_parents: Vec<String>,
    /// ExecutableEntropyThreshold (bits/byte).
    pub executable_entropy_threshold: f64,
    /// StartupAgentPaths.
    pub startup_paths: StartupPaths,
    /// UnsignedBinaryAlerting.
    pub unsigned_binary_alerting: bool,
    /// Endpoint policy.
    pub endpoints: Endpoints,
    /// Block mode fails an install on findings of this severity and above.
    pub block_severity: crate::model::Severity,
    /// Findings accepted for a package version (`name@version`).
    pub allow: Vec<AllowEntry>,
    /// Directories every sandboxed install may also write beneath (`~/`
    /// expanded); the credential stores stay refused. The remedy pkgwarden
    /// names when a refused write made an install fail.
    pub extra_write_paths: Vec<String>,
    /// Put pkgwarden shims into the `bin/` of a virtualenv created through a
    /// shim (`python -m venv`, `virtualenv`, `uv venv`), so its `pip` called
    /// by absolute path is monitored too.
    pub shim_new_venvs: bool,
    /// Log sinks (`[log.jsonl]`, `[log.syslog]`): where every stored report
    /// also goes. Left out of the JSON when none is set, so that the
    /// policy's hash stays what it was for policies without sinks.
    #[serde(skip_serializing_if = "crate::model::log::LogSinks::is_empty")]
    pub log: crate::model::log::LogSinks,
    /// The release-age cooldown: versions younger than this are not
    /// installed (zero: off). Left out of the JSON when off, like the
    /// other cooldown keys, so that the policy's hash stays what it was.
    #[serde(
        serialize_with = "ser_duration",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub cooldown: Duration,
    /// The cooldown per manager (`npm`, `uv` …), replacing `cooldown` for it.
    #[serde(
        serialize_with = "ser_durations",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub cooldown_managers: BTreeMap<String, Duration>,
    /// Package names (npm globs like `@myorg/*` too) the cooldown lets
    /// through at their newest version.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cooldown_exempt: Vec<String>,
    /// In block mode, run an install whose manager has no date gate (the
    /// cooldown is then not enforced) instead of refusing it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cooldown_allow_unenforced: bool,
    /// In block mode, with a feed imported, run an install whose registries
    /// over TLS cannot be inspected (the feed then checks nothing there)
    /// instead of refusing it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub intel_allow_unchecked: bool,
    /// Secret variables a project's own configuration may have the manager
    /// send to the registry it names (`${NPM_TOKEN}` in a project
    /// `.npmrc`, a uv index the project defines). Left out of the JSON
    /// when empty, so that the policy's hash stays what it was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub project_credentials: Vec<String>,
}

/// An accepted finding: a package version (and optionally some rules) whose
/// findings are reported but do not fail a block-mode install.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// `name@version` as the report names it.
    pub package: String,
    /// Rule ids; empty means every rule. An unknown id is an error (it
    /// would accept nothing, silently).
    #[serde(default)]
    pub rules: Vec<crate::model::RuleId>,
    /// `YYYY-MM-DD`: the entry stops applying after this day.
    #[serde(default, deserialize_with = "de_date")]
    pub expires: Option<String>,
    /// Why it is accepted.
    #[serde(default)]
    pub reason: Option<String>,
    /// Only findings of this lifecycle hook (`postinstall`, `setup.py` …).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_hook"
    )]
    pub hook: Option<String>,
    /// Only findings about these `host:port` endpoints. In block mode the
    /// proxy lets them through (recorded), and only this package's findings
    /// about them are accepted: another package asking fails the install.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "de_endpoints"
    )]
    pub endpoints: Vec<String>,
    /// Only findings whose files all lie under these directories (absolute
    /// or `~/`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "de_roots"
    )]
    pub paths: Vec<String>,
}

/// True when `e` is `host:port` with a host and a port number.
pub fn is_host_port(e: &str) -> bool {
    e.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty()
            && !h.contains('/')
            && !h.contains(char::is_whitespace)
            && p.parse::<u16>().is_ok_and(|p| p > 0)
    })
}

fn de_hook<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom("empty hook name"));
    }
    Ok(Some(s))
}

fn de_endpoints<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    if let Some(bad) = v.iter().find(|e| !is_host_port(e)) {
        return Err(serde::de::Error::custom(format!(
            "endpoint `{bad}` is not host:port; write it like \"mirror.example:443\""
        )));
    }
    Ok(v.into_iter().map(|e| e.to_ascii_lowercase()).collect())
}

fn de_sockets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    if let Some(bad) = v
        .iter()
        .find(|e| !(e.starts_with('/') || e.starts_with("~/")))
    {
        return Err(serde::de::Error::custom(format!(
            "unix socket `{bad}` is not an absolute path; write it like \"/run/user/1000/app.sock\" or \"~/.cache/app/\""
        )));
    }
    Ok(v)
}

fn de_roots<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    if let Some(bad) = v
        .iter()
        .find(|p| !(p.starts_with('/') || p.starts_with("~/")) || p.split('/').any(|c| c == ".."))
    {
        return Err(serde::de::Error::custom(format!(
            "path `{bad}` is not a directory under a root; write it absolute or from `~/`, without `..`"
        )));
    }
    Ok(v)
}

impl AllowEntry {
    /// True when the entry accepts only `net.unexpected-host` for named
    /// endpoints: what a project file may hold.
    pub fn endpoint_only(&self) -> bool {
        !self.endpoints.is_empty() && self.rules == [crate::model::RuleId::NetUnexpectedHost]
    }

    /// True when the entry has expired at `now`.
    pub fn expired(&self, now: std::time::SystemTime) -> bool {
        self.expires
            .as_deref()
            .and_then(|d| humantime::parse_rfc3339(&format!("{d}T23:59:59Z")).ok())
            .is_some_and(|end| now > end)
    }
}

fn de_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    if humantime::parse_rfc3339(&format!("{s}T00:00:00Z")).is_err() {
        return Err(serde::de::Error::custom(format!(
            "invalid date `{s}`; write it as YYYY-MM-DD"
        )));
    }
    Ok(Some(s))
}

impl Policy {
    /// True when `command` (`pip3.11`, `npm` …) is in `package_managers`.
    pub fn monitors(&self, tool: Tool) -> bool {
        self.package_managers.iter().any(|m| m == tool.name())
    }

    /// The cooldown for installs of `tool` (zero: none): its entry in
    /// `cooldown_managers`, else the entry of the command it is another
    /// spelling of (`pip3` and `python -m pip` are pip's, `npx` npm's,
    /// `uvx` uv's, `bundle` gem's, `mamba` conda's), else `cooldown`.
    pub fn cooldown_for(&self, tool: Tool) -> Duration {
        let main = match tool {
            Tool::Pip3 | Tool::Python => Some(Tool::Pip),
            Tool::Npx => Some(Tool::Npm),
            Tool::Pnpx => Some(Tool::Pnpm),
            Tool::Uvx => Some(Tool::Uv),
            Tool::Bundle => Some(Tool::Gem),
            Tool::Mamba | Tool::Micromamba => Some(Tool::Conda),
            _ => None,
        };
        self.cooldown_managers
            .get(tool.name())
            .or_else(|| self.cooldown_managers.get(main?.name()))
            .copied()
            .unwrap_or(self.cooldown)
    }
}

fn ser_durations<S: serde::Serializer>(
    m: &BTreeMap<String, Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(m.len()))?;
    for (k, d) in m {
        map.serialize_entry(k, &humantime::format_duration(*d).to_string())?;
    }
    map.end()
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

/// One layer as written: every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    mode: Option<Mode>,
    package_managers: Option<Vec<toml::Spanned<ManagerName>>>,
    artifact_paths: Option<Vec<String>>,
    /// The old name of `artifact_paths`, accepted with a warning: it read
    /// as a write grant, which it never was.
    install_write_paths: Option<Vec<String>>,
    user_scope: Option<UserScope>,
    #[serde(default, deserialize_with = "de_duration")]
    time_window: Option<Duration>,
    allowed_parents: Option<Vec<NonEmpty>>,
    #[serde(default, deserialize_with = "de_entropy")]
    executable_entropy_threshold: Option<f64>,
    startup_paths: Option<StartupPaths>,
    unsigned_binary_alerting: Option<bool>,
    endpoints: Option<Endpoints>,
    block_severity: Option<crate::model::Severity>,
    allow: Option<Vec<AllowEntry>>,
    extra_write_paths: Option<Vec<NonEmpty>>,
    shim_new_venvs: Option<bool>,
    log: Option<crate::model::log::LogSinks>,
    cooldown: Option<CooldownAge>,
    cooldown_managers: Option<BTreeMap<toml::Spanned<ManagerName>, CooldownAge>>,
    cooldown_exempt: Option<Vec<NonEmpty>>,
    cooldown_allow_unenforced: Option<bool>,
    intel_allow_unchecked: Option<bool>,
    project_credentials: Option<Vec<NonEmpty>>,
}

/// A cooldown as written: a duration (`"3d"`, `"72h"`, `"1w"`), or `"off"`
/// (also `"0"`).
#[derive(Debug, Clone, Copy)]
struct CooldownAge(Duration);

/// The longest cooldown accepted: a longer one is a typo more likely than
/// a policy (it would freeze every dependency for years).
const MAX_COOLDOWN: Duration = Duration::from_secs(366 * 24 * 3600);

impl<'de> Deserialize<'de> for CooldownAge {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = s.trim();
        if t == "off" || t == "0" {
            return Ok(CooldownAge(Duration::ZERO));
        }
        let dur = humantime::parse_duration(t).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid cooldown `{s}` ({e}); write it like \"3d\", \"72h\" or \"1w\", or \"off\""
            ))
        })?;
        if dur > MAX_COOLDOWN {
            return Err(serde::de::Error::custom(format!(
                "cooldown `{s}` is longer than a year"
            )));
        }
        Ok(CooldownAge(dur))
    }
}

/// A manager name as written; checked against the known tools after parsing,
/// so that the error can point at the element rather than the whole list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(transparent)]
struct ManagerName(String);

impl ManagerName {
    fn known(&self) -> bool {
        Tool::from_command(&self.0).is_some_and(|t| t.name() == self.0)
    }
}

/// A string that must not be empty.
#[derive(Debug, Clone)]
struct NonEmpty(String);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(serde::de::Error::custom("empty entry"));
        }
        Ok(NonEmpty(s))
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    let dur = humantime::parse_duration(&s).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration `{s}` ({e}); write it like \"30s\", \"5m\" or \"1h\""
        ))
    })?;
    if dur > Duration::from_secs(24 * 3600) {
        return Err(serde::de::Error::custom(format!(
            "time window `{s}` is longer than 24h"
        )));
    }
    Ok(Some(dur))
}

fn de_entropy<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    if !(v > 0.0 && v <= 8.0) {
        return Err(serde::de::Error::custom(format!(
            "entropy threshold {v} is out of range: bits per byte lie in (0, 8]"
        )));
    }
    Ok(Some(v))
}

/// Where a layer or a key's value came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "at", rename_all = "lowercase")]
pub enum Source {
    /// The compiled-in `policy/default.toml`.
    Builtin,
    /// The system file.
    System(PathBuf),
    /// The user's file.
    User(PathBuf),
    /// The project's `.pkgwarden.toml`.
    Project(PathBuf),
    /// A file named by `PKGWARDEN_POLICY` or `--policy`.
    File(PathBuf),
    /// A `PKGWARDEN_*` variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builtin => f.write_str("built-in"),
            Source::System(p) => write!(f, "system {}", p.display()),
            Source::User(p) => write!(f, "user {}", p.display()),
            Source::Project(p) => write!(f, "project {}", p.display()),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(v) => write!(f, "flag {v}"),
        }
    }
}

/// The effective policy with the origin of every key.
#[derive(Clone, Debug, Serialize)]
pub struct Effective {
    /// The merged policy.
    pub policy: Policy,
    /// For each key, the layer that set it last.
    pub sources: BTreeMap<String, Source>,
    /// The layers read, lowest first.
    pub layers: Vec<Source>,
    /// Lines ignored because a project file may not weaken the policy.
    pub warnings: Vec<String>,
}

/// A policy error: says where and what to do; nothing runs.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file that exists could not be read.
    #[error("cannot read policy file {path}: {source}\n  hint: fix its permissions or remove it")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file does not parse or holds a bad key or value.
    #[error("{path}:{line}:{column}: {message}\n{excerpt}  hint: {hint}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
        /// The offending line with a caret.
        excerpt: String,
        /// What to do.
        hint: String,
    },
    /// A `PKGWARDEN_*` variable or flag holds a bad value.
    #[error("{name}: {message}\n  hint: {hint}")]
    Value {
        /// The variable or flag.
        name: String,
        /// What is wrong.
        message: String,
        /// What to do.
        hint: String,
    },
}

/// Where the layers live; `Default` reads the real locations.
#[derive(Clone, Debug)]
pub struct Locations {
    /// `/etc/pkgwarden/policy.toml` (or `PKGWARDEN_SYSTEM_POLICY`).
    pub system: PathBuf,
    /// `$XDG_CONFIG_HOME/pkgwarden/policy.toml`.
    pub user: Option<PathBuf>,
    /// The directory to start the search for `.pkgwarden.toml` from.
    pub cwd: Option<PathBuf>,
}

impl Default for Locations {
    fn default() -> Self {
        Locations {
            system: std::env::var_os("PKGWARDEN_SYSTEM_POLICY")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/etc/pkgwarden/policy.toml")),
            user: crate::paths::config_dir().map(|d| d.join("policy.toml")),
            cwd: std::env::current_dir().ok(),
        }
    }
}

/// Flags that override the policy.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--policy FILE`.
    pub file: Option<PathBuf>,
    /// `--mode`.
    pub mode: Option<Mode>,
}

/// Finds the nearest `.pkgwarden.toml` at or above `start`.
pub fn find_project_file(start: &Path) -> Option<PathBuf> {
    project_files(start).pop()
}

/// Every `.pkgwarden.toml` (a regular file, or a link to one) at or above
/// `start`, the farthest first: the order they are applied in.
pub fn project_files(start: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = start
        .ancestors()
        .map(|d| d.join(crate::paths::PROJECT_POLICY))
        .filter(|p| p.is_file())
        .collect();
    out.reverse();
    out
}

/// Reads every layer and merges them. `env` is the process environment (passed in
/// so tests can supply their own).
pub fn load(
    loc: &Locations,
    env: &[(String, String)],
    flags: &Overrides,
) -> Result<Effective, PolicyError> {
    let mut m = Merger::new()?;
    if let Some(layer) = read_file(&loc.system)? {
        m.apply(layer, Source::System(loc.system.clone()));
    }
    if let Some(user) = &loc.user
        && let Some(layer) = read_file(user)?
    {
        m.apply(layer, Source::User(user.clone()));
    }
    // Each may only tighten, so none of them can undo another.
    for project in loc.cwd.as_deref().map(project_files).unwrap_or_default() {
        if let Some(layer) = read_file(&project)? {
            m.apply_project(layer, project);
        }
    }
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if let Some(p) = var("PKGWARDEN_POLICY").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(p);
        let layer = read_file(&path)?.ok_or_else(|| PolicyError::Value {
            name: "PKGWARDEN_POLICY".into(),
            message: format!("no such file: {p}"),
            hint: "point it at an existing policy file or unset it".into(),
        })?;
        m.apply(layer, Source::File(path));
    }
    for (name, layer) in env_layers(&var)? {
        m.apply(layer, Source::Env(name));
    }
    if let Some(path) = &flags.file {
        let layer = read_file(path)?.ok_or_else(|| PolicyError::Value {
            name: "--policy".into(),
            message: format!("no such file: {}", path.display()),
            hint: "name an existing policy file".into(),
        })?;
        m.apply(layer, Source::File(path.clone()));
    }
    if let Some(mode) = flags.mode {
        m.apply(
            Layer {
                mode: Some(mode),
                ..Layer::default()
            },
            Source::Flag("--mode".into()),
        );
    }
    Ok(m.finish())
}

/// Checks one policy file on its own (`pkgwarden policy check FILE`).
pub fn check_file(path: &Path) -> Result<(), PolicyError> {
    match read_file(path)? {
        Some(_) => Ok(()),
        None => Err(PolicyError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }),
    }
}

/// Reads and parses a file; `None` when it does not exist.
fn read_file(path: &Path) -> Result<Option<Layer>, PolicyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PolicyError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse(&text, &path.display().to_string()).map(Some)
}

/// Parses one layer's text; errors point at `name:line:column`.
fn parse(text: &str, name: &str) -> Result<Layer, PolicyError> {
    let invalid = |span: Option<std::ops::Range<usize>>, message: String| {
        let start = span.as_ref().map_or(0, |s| s.start).min(text.len());
        let end = span.map_or(start, |s| s.end).min(text.len());
        let (line, column) = line_col(text, start);
        PolicyError::Invalid {
            path: name.to_string(),
            line,
            column,
            hint: hint_for(&message),
            excerpt: excerpt(text, line, column, end.saturating_sub(start)),
            message,
        }
    };
    let layer = toml::from_str::<Layer>(text)
        .map_err(|e| invalid(e.span(), e.message().trim().to_string()))?;
    let named = layer
        .package_managers
        .iter()
        .flatten()
        .chain(layer.cooldown_managers.iter().flat_map(|m| m.keys()));
    for m in named {
        if !m.get_ref().known() {
            return Err(invalid(
                Some(m.span()),
                format!(
                    "unknown package manager `{}`, expected one of {}",
                    m.get_ref().0,
                    Tool::ALL.map(Tool::name).join(", ")
                ),
            ));
        }
    }
    Ok(layer)
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The offending line with a caret under the error.
fn excerpt(text: &str, line: usize, column: usize, width: usize) -> String {
    let Some(src) = text.lines().nth(line - 1) else {
        return String::new();
    };
    let width = width.clamp(1, src.chars().count().saturating_sub(column - 1).max(1));
    format!(
        "  {line:>4} | {src}\n       | {}{}\n",
        " ".repeat(column - 1),
        "^".repeat(width)
    )
}

fn hint_for(message: &str) -> String {
    if message.contains("unknown field") {
        "remove or rename the key; `pkgwarden policy show` lists the keys".into()
    } else if message.contains("unknown variant") || message.contains("expected one of") {
        "use one of the values listed".into()
    } else if message.contains("invalid type") {
        "write the value with the type the key takes (see policy/default.toml)".into()
    } else {
        "fix the line, then run `pkgwarden policy check FILE`".into()
    }
}

/// The `PKGWARDEN_*` variables that set keys, each as a one-key layer.
fn env_layers<'a>(
    var: &dyn Fn(&str) -> Option<&'a str>,
) -> Result<Vec<(String, Layer)>, PolicyError> {
    let mut out = Vec::new();
    let bad = |name: &str, message: String, hint: &str| PolicyError::Value {
        name: name.into(),
        message,
        hint: hint.into(),
    };
    let list = |v: &str, sep: char| -> Vec<String> {
        v.split(sep)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    if let Some(v) = var("PKGWARDEN_MODE") {
        let mode = Mode::parse(v).ok_or_else(|| {
            bad(
                "PKGWARDEN_MODE",
                format!("unknown mode `{v}`"),
                "use audit, protect or block",
            )
        })?;
        out.push((
            "PKGWARDEN_MODE".into(),
            Layer {
                mode: Some(mode),
                ..Layer::default()
            },
        ));
    }
    // The remaining variables go through the same deserializers as files, so
    // their values are validated exactly alike.
    let typed: [(&str, &str, Option<char>); 7] = [
        ("PKGWARDEN_COOLDOWN", "cooldown", None),
        ("PKGWARDEN_PACKAGE_MANAGERS", "package_managers", Some(',')),
        ("PKGWARDEN_INSTALL_WRITE_PATHS", "artifact_paths", Some(':')),
        ("PKGWARDEN_ALLOWED_PARENTS", "allowed_parents", Some(':')),
        ("PKGWARDEN_TIME_WINDOW", "time_window", None),
        (
            "PKGWARDEN_EXECUTABLE_ENTROPY_THRESHOLD",
            "executable_entropy_threshold",
            None,
        ),
        (
            "PKGWARDEN_UNSIGNED_BINARY_ALERTING",
            "unsigned_binary_alerting",
            None,
        ),
    ];
    for (name, key, sep) in typed {
        let Some(v) = var(name) else { continue };
        let value = match (sep, key) {
            (Some(sep), _) => {
                toml::Value::Array(list(v, sep).into_iter().map(toml::Value::String).collect())
            }
            (None, "executable_entropy_threshold") => {
                toml::Value::Float(v.trim().parse::<f64>().map_err(|_| {
                    bad(
                        name,
                        format!("`{v}` is not a number"),
                        "write bits per byte, e.g. 7.2",
                    )
                })?)
            }
            (None, "unsigned_binary_alerting") => match v.trim() {
                "1" | "true" | "on" | "yes" => toml::Value::Boolean(true),
                "0" | "false" | "off" | "no" => toml::Value::Boolean(false),
                _ => {
                    return Err(bad(
                        name,
                        format!("`{v}` is not a boolean"),
                        "use true or false",
                    ));
                }
            },
            _ => toml::Value::String(v.to_string()),
        };
        let mut table = toml::Table::new();
        table.insert(key.to_string(), value);
        let text = toml::to_string(&table)
            .map_err(|e| bad(name, e.to_string(), "fix or unset the variable"))?;
        let layer = parse(&text, name).map_err(|e| match e {
            PolicyError::Invalid { message, .. } => bad(name, message, "fix or unset the variable"),
            other => other,
        })?;
        out.push((name.to_string(), layer));
    }
    Ok(out)
}

/// Folds layers onto the built-in one, remembering where each key came from.
struct Merger {
    policy: Policy,
    sources: BTreeMap<String, Source>,
    layers: Vec<Source>,
    warnings: Vec<String>,
}

impl Merger {
    fn new() -> Result<Self, PolicyError> {
        let b = parse(BUILTIN, "<built-in policy>")?;
        let missing = |key: &str| PolicyError::Value {
            name: "<built-in policy>".into(),
            message: format!("key `{key}` is missing"),
            hint: "this is a bug in pkgwarden's build; please report it".into(),
        };
        let policy = Policy {
            mode: b.mode.ok_or_else(|| missing("mode"))?,
            package_managers: b
                .package_managers
                .ok_or_else(|| missing("package_managers"))?
                .into_iter()
                .map(|m| m.into_inner().0)
                .collect(),
            artifact_paths: b.artifact_paths.ok_or_else(|| missing("artifact_paths"))?,
            user_scope: b.user_scope.ok_or_else(|| missing("user_scope"))?,
            time_window: b.time_window.ok_or_else(|| missing("time_window"))?,
            allowed_parents: b
                .allowed_parents
                .ok_or_else(|| missing("allowed_parents"))?
                .into_iter()
                .map(|p| p.0)
                .collect(),
            executable_entropy_threshold: b
                .executable_entropy_threshold
                .ok_or_else(|| missing("executable_entropy_threshold"))?,
            startup_paths: b.startup_paths.ok_or_else(|| missing("startup_paths"))?,
            unsigned_binary_alerting: b
                .unsigned_binary_alerting
                .ok_or_else(|| missing("unsigned_binary_alerting"))?,
            endpoints: b.endpoints.ok_or_else(|| missing("endpoints"))?,
            block_severity: b.block_severity.ok_or_else(|| missing("block_severity"))?,
            allow: b.allow.unwrap_or_default(),
            extra_write_paths: Vec::new(),
            project_credentials: Vec::new(),
            shim_new_venvs: b.shim_new_venvs.unwrap_or(false),
            log: b.log.unwrap_or_default(),
            cooldown: b.cooldown.map_or(Duration::ZERO, |c| c.0),
            cooldown_managers: BTreeMap::new(),
            cooldown_exempt: Vec::new(),
            cooldown_allow_unenforced: b.cooldown_allow_unenforced.unwrap_or(false),
            intel_allow_unchecked: b.intel_allow_unchecked.unwrap_or(false),
        };
        let sources = KEYS
            .iter()
            .map(|k| (k.to_string(), Source::Builtin))
            .collect();
        Ok(Merger {
            policy,
            sources,
            layers: vec![Source::Builtin],
            warnings: Vec::new(),
        })
    }

    /// A project layer: only keys that tighten the policy take effect.
    fn apply_project(&mut self, mut layer: Layer, path: PathBuf) {
        let shown = path.display().to_string();
        if let Some(mode) = layer.mode
            && mode < self.policy.mode
        {
            self.warnings.push(format!(
                "{shown}: ignored `mode = \"{mode}\"`: a project file may raise the mode, not lower it (now {})",
                self.policy.mode
            ));
            layer.mode = None;
        }
        let mut refuse = |key: &str, set: bool| {
            if set {
                self.warnings.push(format!(
                    "{shown}: ignored `{key}`: a project file may not set it; put it in your user or system policy"
                ));
            }
        };
        refuse("allowed_parents", layer.allowed_parents.take().is_some());
        refuse("user_scope", layer.user_scope.take().is_some());
        refuse("package_managers", layer.package_managers.take().is_some());
        // A socket is a way out of the sandbox (an agent, an editor's
        // server): the user names them, never a project they cloned.
        refuse(
            "endpoints.unix",
            layer
                .endpoints
                .as_mut()
                .is_some_and(|e| !std::mem::take(&mut e.unix).is_empty()),
        );
        // A project may not accept its own dependencies' findings, except
        // a host scoped to one package version: narrower than the
        // `endpoints.allow` it may already set.
        if let Some(all) = layer.allow.take() {
            let (scoped, other): (Vec<_>, Vec<_>) =
                all.into_iter().partition(AllowEntry::endpoint_only);
            refuse("allow", !other.is_empty());
            if !scoped.is_empty() {
                self.policy.allow.extend(scoped);
                self.sources
                    .insert("allow".into(), Source::Project(path.clone()));
            }
        }
        // Nor widen the sandbox it runs its own dependencies in.
        refuse(
            "extra_write_paths",
            layer.extra_write_paths.take().is_some(),
        );
        // Nor choose a file pkgwarden appends to, or where reports are sent.
        refuse("log", layer.log.take().is_some());
        // Nor hand its own configuration the user's secrets.
        refuse(
            "project_credentials",
            layer.project_credentials.take().is_some(),
        );
        self.project_cooldown(&mut layer, &shown);
        self.project_detection(&mut layer, &shown);
        if let Some(sev) = layer.block_severity
            && sev > self.policy.block_severity
        {
            self.warnings.push(format!(
                "{shown}: ignored `block_severity = \"{sev}\"`: a project file may lower the threshold, not raise it (now {})",
                self.policy.block_severity
            ));
            layer.block_severity = None;
        }
        self.apply(layer, Source::Project(path));
    }

    /// A project may lengthen the cooldown, never shorten it, exempt
    /// packages from it, or let block run without it: the project is what
    /// the cooldown protects the user from.
    fn project_cooldown(&mut self, layer: &mut Layer, shown: &str) {
        let p = &self.policy;
        let mut ignored = Vec::new();
        if let Some(age) = layer.cooldown
            && age.0 < p.cooldown
        {
            ignored.push(format!(
                "ignored `cooldown = \"{}\"`: a project file may lengthen the cooldown, not shorten it (now {})",
                humantime::format_duration(age.0),
                humantime::format_duration(p.cooldown)
            ));
            layer.cooldown = None;
        }
        // Compared with what each manager would get once this layer's
        // `cooldown` applies.
        let base = layer.cooldown.map_or(p.cooldown, |c| c.0);
        if let Some(map) = layer.cooldown_managers.as_mut() {
            map.retain(|m, age| {
                let now = p.cooldown_managers.get(&m.get_ref().0).copied().unwrap_or(base);
                let keep = age.0 >= now;
                if !keep {
                    ignored.push(format!(
                        "ignored `cooldown_managers.{} = \"{}\"`: a project file may lengthen a cooldown, not shorten it (now {})",
                        m.get_ref().0,
                        humantime::format_duration(age.0),
                        humantime::format_duration(now)
                    ));
                }
                keep
            });
        }
        if layer
            .cooldown_managers
            .as_ref()
            .is_some_and(BTreeMap::is_empty)
        {
            layer.cooldown_managers = None;
        }
        if layer.cooldown_exempt.take().is_some() {
            ignored.push("ignored `cooldown_exempt`: a project file may not exempt packages from the cooldown; put it in your user or system policy".into());
        }
        if layer.cooldown_allow_unenforced == Some(true) {
            ignored.push("ignored `cooldown_allow_unenforced = true`: a project file may not let block mode run without the cooldown".into());
            layer.cooldown_allow_unenforced = None;
        }
        if layer.intel_allow_unchecked == Some(true) {
            ignored.push("ignored `intel_allow_unchecked = true`: a project file may not let block mode run without the feed's check".into());
            layer.intel_allow_unchecked = None;
        }
        self.warnings
            .extend(ignored.into_iter().map(|w| format!("{shown}: {w}")));
    }

    /// What a project may do to detection: watch longer, alert on more,
    /// add persistence places and denied endpoint classes; never the
    /// reverse. A list it gives is added to the policy's.
    fn project_detection(&mut self, layer: &mut Layer, shown: &str) {
        let p = &self.policy;
        let mut ignored = Vec::new();
        if let Some(w) = layer.time_window
            && w < p.time_window
        {
            ignored.push(format!(
                "ignored `time_window = \"{}\"`: a project file may lengthen the window, not shorten it (now {})",
                humantime::format_duration(w),
                humantime::format_duration(p.time_window)
            ));
            layer.time_window = None;
        }
        if let Some(t) = layer.executable_entropy_threshold
            && t > p.executable_entropy_threshold
        {
            ignored.push(format!(
                "ignored `executable_entropy_threshold = {t}`: a project file may lower the threshold, not raise it (now {})",
                p.executable_entropy_threshold
            ));
            layer.executable_entropy_threshold = None;
        }
        for (key, on, now) in [
            (
                "unsigned_binary_alerting",
                &mut layer.unsigned_binary_alerting,
                p.unsigned_binary_alerting,
            ),
            (
                "shim_new_venvs",
                &mut layer.shim_new_venvs,
                p.shim_new_venvs,
            ),
        ] {
            if *on == Some(false) && now {
                ignored.push(format!(
                    "ignored `{key} = false`: a project file may turn it on, not off"
                ));
                *on = None;
            }
        }
        if let Some(sp) = layer.startup_paths.as_mut() {
            let dropped = union(&mut sp.linux, &p.startup_paths.linux)
                | union(&mut sp.macos, &p.startup_paths.macos);
            if dropped {
                ignored.push("ignored the removals from `startup_paths`: a project file may add persistence places, not drop them; its entries were added".into());
            }
        }
        if let Some(ep) = layer.endpoints.as_mut()
            && !ep.deny.is_empty()
            && union(&mut ep.deny, &p.endpoints.deny)
        {
            ignored.push("ignored the removals from `endpoints.deny`: a project file may add denied classes, not drop them; its entries were added".into());
        }
        self.warnings
            .extend(ignored.into_iter().map(|w| format!("{shown}: {w}")));
    }

    fn apply(&mut self, mut layer: Layer, source: Source) {
        if let Some(old) = layer.install_write_paths.take() {
            self.warnings.push(format!(
                "{source}: `install_write_paths` is deprecated (it never granted writes): rename it `artifact_paths`; `extra_write_paths` grants writes"
            ));
            layer.artifact_paths.get_or_insert(old);
        }
        let p = &mut self.policy;
        let mut set = Vec::new();
        if let Some(v) = layer.mode {
            p.mode = v;
            set.push("mode");
        }
        if let Some(v) = layer.package_managers {
            p.package_managers = v.into_iter().map(|m| m.into_inner().0).collect();
            set.push("package_managers");
        }
        if let Some(v) = layer.artifact_paths {
            p.artifact_paths = v;
            set.push("artifact_paths");
        }
        if let Some(v) = layer.user_scope {
            p.user_scope = v;
            set.push("user_scope");
        }
        if let Some(v) = layer.time_window {
            p.time_window = v;
            set.push("time_window");
        }
        if let Some(v) = layer.allowed_parents {
            p.allowed_parents = v.into_iter().map(|a| a.0).collect();
            set.push("allowed_parents");
        }
        if let Some(v) = layer.executable_entropy_threshold {
            p.executable_entropy_threshold = v;
            set.push("executable_entropy_threshold");
        }
        if let Some(v) = layer.startup_paths {
            p.startup_paths = v;
            set.push("startup_paths");
        }
        if let Some(v) = layer.unsigned_binary_alerting {
            p.unsigned_binary_alerting = v;
            set.push("unsigned_binary_alerting");
        }
        if let Some(v) = layer.block_severity {
            p.block_severity = v;
            set.push("block_severity");
        }
        if let Some(v) = layer.allow {
            p.allow = v;
            set.push("allow");
        }
        if let Some(v) = layer.extra_write_paths {
            p.extra_write_paths = v.into_iter().map(|a| a.0).collect();
            set.push("extra_write_paths");
        }
        if let Some(v) = layer.project_credentials {
            p.project_credentials = v.into_iter().map(|a| a.0).collect();
            set.push("project_credentials");
        }
        if let Some(v) = layer.shim_new_venvs {
            p.shim_new_venvs = v;
            set.push("shim_new_venvs");
        }
        if let Some(v) = layer.cooldown {
            p.cooldown = v.0;
            set.push("cooldown");
        }
        if let Some(v) = layer.cooldown_managers {
            // Per manager: a layer that names one keeps the others from below.
            for (m, age) in v {
                p.cooldown_managers.insert(m.into_inner().0, age.0);
            }
            set.push("cooldown_managers");
        }
        if let Some(v) = layer.cooldown_exempt {
            p.cooldown_exempt = v.into_iter().map(|a| a.0).collect();
            set.push("cooldown_exempt");
        }
        if let Some(v) = layer.cooldown_allow_unenforced {
            p.cooldown_allow_unenforced = v;
            set.push("cooldown_allow_unenforced");
        }
        if let Some(v) = layer.intel_allow_unchecked {
            p.intel_allow_unchecked = v;
            set.push("intel_allow_unchecked");
        }
        if let Some(v) = layer.log {
            // Per sink: a layer that sets one keeps the other from below.
            if v.jsonl.is_some() {
                p.log.jsonl = v.jsonl;
                set.push("log.jsonl");
            }
            if v.syslog.is_some() {
                p.log.syslog = v.syslog;
                set.push("log.syslog");
            }
        }
        if let Some(v) = layer.endpoints {
            if !v.deny.is_empty() {
                p.endpoints.deny = v.deny;
                set.push("endpoints.deny");
            }
            if !v.allow.is_empty() {
                p.endpoints.allow.extend(v.allow);
                set.push("endpoints.allow");
            }
            if !v.unix.is_empty() {
                p.endpoints.unix.extend(v.unix);
                set.push("endpoints.unix");
            }
        }
        for key in set {
            self.sources.insert(key.to_string(), source.clone());
        }
        self.layers.push(source);
    }

    fn finish(self) -> Effective {
        Effective {
            policy: self.policy,
            sources: self.sources,
            layers: self.layers,
            warnings: self.warnings,
        }
    }
}

/// Makes `list` the entries of `base` followed by its own new ones; true
/// when `list` left out one of `base`'s.
fn union<T: Clone + PartialEq>(list: &mut Vec<T>, base: &[T]) -> bool {
    let dropped = base.iter().any(|b| !list.contains(b));
    let mut out = base.to_vec();
    for x in std::mem::take(list) {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    *list = out;
    dropped
}

/// Every key, as `policy show` lists them.
pub const KEYS: [&str; 24] = [
    "mode",
    "package_managers",
    "artifact_paths",
    "user_scope",
    "time_window",
    "allowed_parents",
    "executable_entropy_threshold",
    "startup_paths",
    "unsigned_binary_alerting",
    "endpoints.allow",
    "endpoints.deny",
    "endpoints.unix",
    "block_severity",
    "allow",
    "extra_write_paths",
    "shim_new_venvs",
    "log.jsonl",
    "log.syslog",
    "cooldown",
    "cooldown_managers",
    "cooldown_exempt",
    "cooldown_allow_unenforced",
    "intel_allow_unchecked",
    "project_credentials",
];

/// How `policy show` writes a key left out of the policy's JSON (the
/// cooldown's keys when they are off).
pub fn unset(key: &str) -> &'static str {
    match key {
        "cooldown" => "\"off\"",
        "cooldown_managers" => "{}",
        "cooldown_exempt" | "endpoints.unix" | "project_credentials" => "[]",
        "cooldown_allow_unenforced" | "intel_allow_unchecked" => "false",
        _ => "",
    }
}

/// What a key does, in one line (`policy show`).
pub fn explain(key: &str) -> &'static str {
    match key {
        "mode" => {
            "audit: observe only; protect: refuse what no install needs, report the rest; block: only what the plan expects"
        }
        "package_managers" => "commands whose installs are monitored; others run as they are",
        "artifact_paths" => {
            "where an install's leftovers are expected (informational); not a write grant, see extra_write_paths"
        }
        "user_scope" => {
            "which accounts' installs are monitored (interactive uids and root); others pass through"
        }
        "time_window" => {
            "how long after an install later writes and connections are still tied to it"
        }
        "allowed_parents" => "installs started under one of these run unmonitored",
        "executable_entropy_threshold" => {
            "bits per byte above which a new executable counts as packed"
        }
        "startup_paths" => {
            "persistence places added to the built-in ones: watched, and in protect refused under $HOME"
        }
        "unsigned_binary_alerting" => "flag new native executables outside the package's payload",
        "endpoints.allow" => {
            "hosts each manager may reach through the proxy, besides its registries"
        }
        "endpoints.deny" => "endpoint classes refused in every mode",
        "endpoints.unix" => {
            "unix sockets an install may connect to besides its own (protect refuses the others, block all others); privileged sockets stay refused"
        }
        "block_severity" => "in block mode, findings of this severity and above fail the install",
        "allow" => {
            "accepted findings per package version (scoped by hook, endpoints, paths): reported, but they do not fail a block-mode install"
        }
        "extra_write_paths" => "directories every sandboxed install may also write beneath",
        "project_credentials" => {
            "secret variables a project's own configuration may have the manager send to the registry it names"
        }
        "shim_new_venvs" => "put pkgwarden shims in virtualenvs created through a shim",
        "log.jsonl" => {
            "also append every report as JSON lines (ECS fields) to this file, rotated by size"
        }
        "log.syslog" => "also send every report as RFC 5424 syslog messages (unix, udp or tcp)",
        "cooldown" => {
            "release-age cooldown: versions younger than this are not installed, through each manager's own date gate or, where it has none, pkgwarden's proxy's filter of the registry's metadata (off by default)"
        }
        "cooldown_managers" => {
            "the cooldown per manager (`npm = \"7d\"`, `pip = \"off\"`), replacing `cooldown` for it"
        }
        "cooldown_exempt" => {
            "package names (npm globs too) the cooldown lets through at their newest version"
        }
        "cooldown_allow_unenforced" => {
            "in block mode, run an install whose cooldown cannot be enforced (no date gate or filter, a registry document the proxy cannot filter) instead of refusing it"
        }
        "intel_allow_unchecked" => {
            "in block mode, with a feed, run an install whose registries over TLS cannot be inspected instead of refusing it"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn the_old_key_name_is_accepted_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let l = locs(dir.path());
        fs::write(
            l.user.as_ref().unwrap(),
            "install_write_paths = [\"~/.local\"]\n",
        )
        .unwrap();
        let eff = load(&l, &[], &Overrides::default()).unwrap();
        assert_eq!(eff.policy.artifact_paths, vec!["~/.local".to_string()]);
        assert_eq!(eff.warnings.len(), 1, "{:?}", eff.warnings);
        assert!(eff.warnings[0].contains("`install_write_paths` is deprecated"));
        assert!(eff.warnings[0].contains("`artifact_paths`"));
        assert!(!eff.warnings[0].contains('\n'));
        assert!(matches!(eff.sources["artifact_paths"], Source::User(_)));
        // The new name: no warning.
        fs::write(l.user.as_ref().unwrap(), "artifact_paths = [\"/srv\"]\n").unwrap();
        let eff = load(&l, &[], &Overrides::default()).unwrap();
        assert_eq!(eff.policy.artifact_paths, vec!["/srv".to_string()]);
        assert!(eff.warnings.is_empty(), "{:?}", eff.warnings);
    }

    #[test]
    fn every_key_is_explained() {
        for key in KEYS {
            assert!(!explain(key).is_empty(), "{key}");
        }
    }

    fn locs(dir: &Path) -> Locations {
        Locations {
            system: dir.join("etc.toml"),
            user: Some(dir.join("user.toml")),
            cwd: Some(dir.join("project")),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn builtin_alone_is_protect_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let eff = load(&locs(dir.path()), &[], &Overrides::default()).unwrap();
        assert_eq!(eff.policy.mode, Mode::Protect);
        assert_eq!(eff.policy.time_window, Duration::from_secs(300));
        assert_eq!(eff.policy.executable_entropy_threshold, 7.2);
        assert!(eff.policy.monitors(Tool::Pip));
        assert!(eff.sources.values().all(|s| *s == Source::Builtin));
        assert_eq!(eff.sources.len(), KEYS.len());
    }

    #[test]
    fn shipped_policies_parse() {
        for (f, text) in [
            ("ci.toml", include_str!("../policy/ci.toml")),
            ("audit.toml", include_str!("../policy/audit.toml")),
            ("default.toml", BUILTIN),
        ] {
            parse(text, f).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
        assert_eq!(
            parse(include_str!("../policy/ci.toml"), "ci").unwrap().mode,
            Some(Mode::Block)
        );
        assert_eq!(
            parse(include_str!("../policy/audit.toml"), "a")
                .unwrap()
                .mode,
            Some(Mode::Audit)
        );
    }

    #[test]
    fn layers_override_in_order_and_record_sources() {
        let dir = tempfile::tempdir().unwrap();
        let l = locs(dir.path());
        fs::create_dir_all(dir.path().join("project/sub")).unwrap();
        fs::write(&l.system, "mode = \"audit\"\ntime_window = \"10m\"\n").unwrap();
        fs::write(l.user.as_ref().unwrap(), "time_window = \"1m\"\n").unwrap();
        fs::write(
            dir.path().join("project/.pkgwarden.toml"),
            "mode = \"block\"\n[endpoints.allow]\nnpm = [\"127.0.0.1\"]\n",
        )
        .unwrap();
        let mut l2 = l.clone();
        l2.cwd = Some(dir.path().join("project/sub"));
        let eff = load(
            &l2,
            &env(&[("PKGWARDEN_EXECUTABLE_ENTROPY_THRESHOLD", "6.5")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(eff.policy.mode, Mode::Block);
        assert_eq!(eff.policy.time_window, Duration::from_secs(60));
        assert_eq!(eff.policy.executable_entropy_threshold, 6.5);
        assert_eq!(eff.policy.endpoints.allow["npm"], vec!["127.0.0.1"]);
        assert_eq!(
            eff.sources["mode"],
            Source::Project(dir.path().join("project/.pkgwarden.toml"))
        );
        assert_eq!(
            eff.sources["time_window"],
            Source::User(dir.path().join("user.toml"))
        );
        assert_eq!(
            eff.sources["executable_entropy_threshold"],
            Source::Env("PKGWARDEN_EXECUTABLE_ENTROPY_THRESHOLD".into())
        );
        assert_eq!(eff.sources["package_managers"], Source::Builtin);
        assert_eq!(eff.layers.len(), 5);

        // Flags beat everything.
        let eff = load(
            &l2,
            &env(&[("PKGWARDEN_MODE", "block")]),
            &Overrides {
                mode: Some(Mode::Audit),
                file: None,
            },
        )
        .unwrap();
        assert_eq!(eff.policy.mode, Mode::Audit);
        assert_eq!(eff.sources["mode"], Source::Flag("--mode".into()));
    }

    #[test]
    fn project_file_cannot_weaken() {
        let dir = tempfile::tempdir().unwrap();
        let l = locs(dir.path());
        fs::create_dir_all(dir.path().join("project")).unwrap();
        fs::write(
            dir.path().join("project/.pkgwarden.toml"),
            "mode = \"audit\"\nallowed_parents = [\"bash\"]\npackage_managers = [\"gem\"]\n[user_scope]\nmin_uid = 5\nmax_uid = 6\nroot = false\n",
        )
        .unwrap();
        let eff = load(&l, &[], &Overrides::default()).unwrap();
        assert_eq!(eff.policy.mode, Mode::Protect);
        assert!(eff.policy.allowed_parents.is_empty());
        assert!(eff.policy.monitors(Tool::Npm));
        assert!(eff.policy.user_scope.root);
        assert_eq!(eff.warnings.len(), 4, "{:?}", eff.warnings);
        assert_eq!(eff.sources["mode"], Source::Builtin);
    }

    /// One project file `text` over a user file `user`: the policy and
    /// the warnings.
    fn with_project(user: &str, text: &str) -> Effective {
        let dir = tempfile::tempdir().unwrap();
        let l = locs(dir.path());
        fs::create_dir_all(dir.path().join("project")).unwrap();
        fs::write(l.user.as_ref().unwrap(), user).unwrap();
        fs::write(dir.path().join("project/.pkgwarden.toml"), text).unwrap();
        load(&l, &[], &Overrides::default()).unwrap()
    }

    /// Every key: what a project file may do to it (tighten) takes effect,
    /// the reverse is ignored with one warning naming the key and the file.
    #[test]
    fn a_project_file_may_only_tighten_every_key() {
        let user = "time_window = \"20m\"\nexecutable_entropy_threshold = 7.0\nshim_new_venvs = true\nunsigned_binary_alerting = false\n";
        // (project line, what must hold, warned key or "" for none)
        type Check = fn(&Policy) -> bool;
        let cases: &[(&str, Check, &str)] = &[
            ("mode = \"audit\"", |p| p.mode == Mode::Protect, "mode"),
            ("mode = \"block\"", |p| p.mode == Mode::Block, ""),
            (
                "time_window = \"1m\"",
                |p| p.time_window.as_secs() == 1200,
                "time_window",
            ),
            (
                "time_window = \"1h\"",
                |p| p.time_window.as_secs() == 3600,
                "",
            ),
            (
                "executable_entropy_threshold = 7.9",
                |p| p.executable_entropy_threshold == 7.0,
                "executable_entropy_threshold",
            ),
            (
                "executable_entropy_threshold = 6.0",
                |p| p.executable_entropy_threshold == 6.0,
                "",
            ),
            (
                "shim_new_venvs = false",
                |p| p.shim_new_venvs,
                "shim_new_venvs",
            ),
            (
                "unsigned_binary_alerting = true",
                |p| p.unsigned_binary_alerting,
                "",
            ),
            (
                "unsigned_binary_alerting = false",
                |p| !p.unsigned_binary_alerting,
                "",
            ),
            (
                "block_severity = \"critical\"",
                |p| p.block_severity == crate::model::Severity::Medium,
                "block_severity",
            ),
            (
                "block_severity = \"low\"",
                |p| p.block_severity == crate::model::Severity::Low,
                "",
            ),
            (
                "[startup_paths]\nlinux = [\"~/.x\"]\nmacos = []",
                |p| {
                    p.startup_paths.linux.iter().any(|s| s == "~/.bashrc")
                        && p.startup_paths.linux.last().is_some_and(|s| s == "~/.x")
                },
                "startup_paths",
            ),
            (
                "[endpoints]\ndeny = [\"metadata\"]",
                |p| p.endpoints.deny.len() == 3,
                "endpoints.deny",
            ),
            (
                "allowed_parents = [\"make\"]",
                |p| p.allowed_parents.is_empty(),
                "allowed_parents",
            ),
            (
                "[endpoints]\nunix = [\"~/.ssh/agent.sock\"]",
                |p| p.endpoints.unix.is_empty(),
                "endpoints.unix",
            ),
            (
                "package_managers = [\"gem\"]",
                |p| p.monitors(Tool::Npm),
                "package_managers",
            ),
            (
                "[user_scope]\nmin_uid = 5\nmax_uid = 6\nroot = false",
                |p| p.user_scope.root,
                "user_scope",
            ),
            (
                "extra_write_paths = [\"/tmp\"]",
                |p| p.extra_write_paths.is_empty(),
                "extra_write_paths",
            ),
            (
                "project_credentials = [\"AWS_SECRET_ACCESS_KEY\"]",
                |p| p.project_credentials.is_empty(),
                "project_credentials",
            ),
            (
                "[[allow]]\npackage = \"a@1\"",
                |p| p.allow.is_empty(),
                "allow",
            ),
            (
                "[log.jsonl]\npath = \"/tmp/x.jsonl\"",
                |p| p.log.jsonl.is_none(),
                "log",
            ),
            (
                "cooldown_exempt = [\"a\"]",
                |p| p.cooldown_exempt.is_empty(),
                "cooldown_exempt",
            ),
            (
                "cooldown_allow_unenforced = true",
                |p| !p.cooldown_allow_unenforced,
                "cooldown_allow_unenforced",
            ),
            (
                "intel_allow_unchecked = true",
                |p| !p.intel_allow_unchecked,
                "intel_allow_unchecked",
            ),
            ("cooldown = \"1d\"", |p| p.cooldown.as_secs() == 86400, ""),
            // Informational, and a host list per manager (documented).
            (
                "artifact_paths = [\"/opt/x\"]",
                |p| p.artifact_paths == ["/opt/x"],
                "",
            ),
            (
                "[endpoints.allow]\nnpm = [\"mirror.test\"]",
                |p| p.endpoints.allow["npm"] == ["mirror.test"],
                "",
            ),
        ];
        for (line, holds, warned) in cases {
            let eff = with_project(user, line);
            assert!(holds(&eff.policy), "{line}: {:#?}", eff.policy);
            let named: Vec<_> = eff
                .warnings
                .iter()
                .filter(|w| w.contains(".pkgwarden.toml:") && w.contains("ignored"))
                .collect();
            match *warned {
                "" => assert!(named.is_empty(), "{line}: {named:?}"),
                key => {
                    assert_eq!(named.len(), 1, "{line}: {named:?}");
                    assert!(named[0].contains(&format!("`{key}")), "{line}: {named:?}");
                }
            }
        }
        // Every key has a case above (or in the cooldown test).
        for key in KEYS {
            let top = key.split('.').next().unwrap_or(key);
            let covered = cases.iter().any(|(l, _, _)| l.contains(top))
                || key.starts_with("log.")
                || key == "cooldown_managers";
            assert!(covered, "no tighten-only case for {key}");
        }
    }

    /// Every project file from `/` down is read, the nearest last, and
    /// none can loosen what one above it set.
    #[test]
    fn every_project_file_above_is_read_and_none_loosens_another() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = locs(dir.path());
        let deep = dir.path().join("project/pkg/sub");
        fs::create_dir_all(&deep).unwrap();
        fs::write(
            dir.path().join("project/.pkgwarden.toml"),
            "mode = \"block\"\ntime_window = \"30m\"\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("project/pkg/.pkgwarden.toml"),
            "mode = \"audit\"\ntime_window = \"10m\"\nexecutable_entropy_threshold = 6.0\n",
        )
        .unwrap();
        l.cwd = Some(deep.clone());
        assert_eq!(
            project_files(&deep),
            vec![
                dir.path().join("project/.pkgwarden.toml"),
                dir.path().join("project/pkg/.pkgwarden.toml")
            ]
        );
        let eff = load(&l, &[], &Overrides::default()).unwrap();
        assert_eq!(eff.policy.mode, Mode::Block);
        assert_eq!(eff.policy.time_window, Duration::from_secs(1800));
        assert_eq!(eff.policy.executable_entropy_threshold, 6.0);
        assert_eq!(eff.warnings.len(), 2, "{:?}", eff.warnings);
        assert_eq!(
            eff.sources["executable_entropy_threshold"],
            Source::Project(dir.path().join("project/pkg/.pkgwarden.toml"))
        );
    }

    #[test]
    fn cooldown_layers_per_manager_and_a_project_may_only_lengthen_it() {
        let dir = tempfile::tempdir().unwrap();
        let l = locs(dir.path());
        fs::create_dir_all(dir.path().join("project")).unwrap();
        fs::write(
            l.user.as_ref().unwrap(),
            "cooldown = \"3d\"\ncooldown_exempt = [\"@myorg/*\"]\n[cooldown_managers]\npip = \"off\"\nuv = \"1d\"\n",
        )
        .unwrap();
        let eff = load(&l, &[], &Overrides::default()).unwrap();
        let p = &eff.policy;
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(p.cooldown_for(Tool::Npm), 3 * day);
        assert_eq!(p.cooldown_for(Tool::Pip), Duration::ZERO);
        // Other spellings of pip take pip's entry.
        assert_eq!(p.cooldown_for(Tool::Pip3), Duration::ZERO);
        assert_eq!(p.cooldown_for(Tool::Python), Duration::ZERO);
        assert_eq!(p.cooldown_for(Tool::Uv), day);
        assert_eq!(p.cooldown_exempt, ["@myorg/*"]);
        assert!(eff.warnings.is_empty(), "{:?}", eff.warnings);
        // The project: lengthening npm's is kept; shortening, exempting,
        // switching off and letting block run without are not.
        fs::write(
            dir.path().join("project/.pkgwarden.toml"),
            "cooldown = \"1h\"\ncooldown_exempt = [\"evil\"]\ncooldown_allow_unenforced = true\n[cooldown_managers]\nnpm = \"7d\"\npip = \"2d\"\nuv = \"off\"\n",
        )
        .unwrap();
        let eff = load(&l, &[], &Overrides::default()).unwrap();
        let p = &eff.policy;
        assert_eq!(p.cooldown, 3 * day);
        assert_eq!(p.cooldown_for(Tool::Npm), 7 * day);
        assert_eq!(p.cooldown_for(Tool::Pip), 2 * day, "lengthened from off");
        assert_eq!(p.cooldown_for(Tool::Uv), day, "not shortened");
        assert_eq!(p.cooldown_exempt, ["@myorg/*"]);
        assert!(!p.cooldown_allow_unenforced);
        assert_eq!(eff.warnings.len(), 4, "{:?}", eff.warnings);
        // The variable, validated like the file.
        let eff = load(
            &locs(dir.path()),
            &env(&[("PKGWARDEN_COOLDOWN", "72h")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(eff.policy.cooldown, 3 * day);
        let e = load(
            &locs(dir.path()),
            &env(&[("PKGWARDEN_COOLDOWN", "soon")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("PKGWARDEN_COOLDOWN:") && e.contains("\"3d\""),
            "{e}"
        );
    }

    #[test]
    fn a_policy_without_a_cooldown_hashes_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let eff = load(&locs(dir.path()), &[], &Overrides::default()).unwrap();
        let json = serde_json::to_string(&eff.policy).unwrap();
        assert!(!json.contains("cooldown"), "{json}");
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.toml");
        fs::write(&f, "# comment\ntime_window = \"5m\"\nmode = \"blok\"\n").unwrap();
        let e = check_file(&f).unwrap_err().to_string();
        assert!(e.contains("bad.toml:3:8:"), "{e}");
        assert!(e.contains("blok"), "{e}");
        assert!(e.contains("hint:"), "{e}");

        fs::write(&f, "mode = \"block\"\ncolour = true\n").unwrap();
        let e = check_file(&f).unwrap_err().to_string();
        assert!(e.contains("bad.toml:2:1:"), "{e}");
        assert!(e.contains("unknown field"), "{e}");

        fs::write(&f, "executable_entropy_threshold = 9.5\n").unwrap();
        let e = check_file(&f).unwrap_err().to_string();
        assert!(e.contains("bad.toml:1:32:") && e.contains("(0, 8]"), "{e}");

        fs::write(&f, "time_window = \"5 parsecs\"\n").unwrap();
        let e = check_file(&f).unwrap_err().to_string();
        assert!(e.contains("bad.toml:1:15:") && e.contains("5m"), "{e}");

        fs::write(&f, "package_managers = [\"pip\", \"cargo\"]\n").unwrap();
        let e = check_file(&f).unwrap_err().to_string();
        assert!(e.contains("bad.toml:1:28:") && e.contains("cargo"), "{e}");

        fs::write(
            &f,
            "[[allow]]\npackage = \"a@1\"\nrules = [\"cred.read\", \"cred.reads\"]\n",
        )
        .unwrap();
        let e = check_file(&f).unwrap_err().to_string();
        assert!(
            e.contains("bad.toml:3:9:") && e.contains("`cred.reads`"),
            "{e}"
        );
        assert!(e.contains("cred.read, cred.env"), "{e}");

        fs::write(&f, "cooldown = \"3 fortnights\"\n").unwrap();
        let e = check_file(&f).unwrap_err().to_string();
        assert!(e.contains("bad.toml:1:12:") && e.contains("\"3d\""), "{e}");
        fs::write(&f, "[cooldown_managers]\nnpm = \"1d\"\ncargo = \"1d\"\n").unwrap();
        let e = check_file(&f).unwrap_err().to_string();
        assert!(e.contains("bad.toml:3:1:") && e.contains("cargo"), "{e}");

        fs::write(&f, "mode = \n").unwrap();
        let e = check_file(&f).unwrap_err().to_string();
        assert!(e.contains("bad.toml:1:"), "{e}");
    }

    #[test]
    fn a_broken_layer_stops_the_load() {
        let dir = tempfile::tempdir().unwrap();
        let l = locs(dir.path());
        fs::write(l.user.as_ref().unwrap(), "mode = 3\n").unwrap();
        assert!(matches!(
            load(&l, &[], &Overrides::default()),
            Err(PolicyError::Invalid { line: 1, .. })
        ));
        let l = locs(dir.path());
        fs::remove_file(l.user.as_ref().unwrap()).unwrap();
        let e = load(
            &l,
            &env(&[("PKGWARDEN_TIME_WINDOW", "soon")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("PKGWARDEN_TIME_WINDOW:"), "{e}");
        let e = load(
            &l,
            &env(&[("PKGWARDEN_POLICY", "/nonexistent/p.toml")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
    }

    #[test]
    fn user_scope_decides_monitoring() {
        let s = UserScope {
            min_uid: 1000,
            max_uid: 60000,
            root: true,
            exclude_users: vec!["builder".into()],
        };
        assert!(s.includes(0, Some("root")));
        assert!(s.includes(1000, Some("dev")));
        assert!(!s.includes(999, Some("www-data")));
        assert!(!s.includes(65534, Some("nobody")));
        assert!(!s.includes(1001, Some("builder")));
    }

    #[test]
    fn env_lists_and_bools() {
        let dir = tempfile::tempdir().unwrap();
        let eff = load(
            &locs(dir.path()),
            &env(&[
                ("PKGWARDEN_PACKAGE_MANAGERS", "pip, npm"),
                ("PKGWARDEN_UNSIGNED_BINARY_ALERTING", "off"),
                (
                    "PKGWARDEN_ALLOWED_PARENTS",
                    "/usr/bin/unattended-upgrade:ansible",
                ),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(eff.policy.package_managers, vec!["pip", "npm"]);
        assert!(!eff.policy.unsigned_binary_alerting);
        assert_eq!(eff.policy.allowed_parents.len(), 2);
        let e = load(
            &locs(dir.path()),
            &env(&[("PKGWARDEN_PACKAGE_MANAGERS", "pip,cargo")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("cargo"), "{e}");
    }
}
