//! Facts about a manager, read from the manager itself, and the install plan
//! built from them and the command line.
//!
//! Nothing here names a registry: the default index of pip comes from the
//! installed pip, npm's registry from `npm config`. Facts are cached per
//! manager binary, its configuration files and the environment that changes
//! them, so the common path runs no probe.

use super::{Family, InstallRequest, Tool};
pub use crate::model::plan::{Dep, HookShell, InstallPlan, ManagerFacts, Origin, StartupProbe};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

impl Dep {
    /// The file `path` as it is now.
    pub(crate) fn of(path: &Path) -> Dep {
        Dep {
            path: path.to_path_buf(),
            stamp: stamp(path),
        }
    }

    fn unchanged(&self) -> bool {
        stamp(&self.path) == self.stamp
    }
}

fn stamp(path: &Path) -> Option<(i128, u64)> {
    std::fs::metadata(path).ok().map(|m| {
        (
            i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            m.size(),
        )
    })
}

impl ManagerFacts {
    /// Facts that only name the binary: not derived.
    pub(crate) fn skeleton(family: Family, real_exe: &Path) -> ManagerFacts {
        ManagerFacts {
            family,
            real_exe: real_exe.to_path_buf(),
            version: None,
            interpreter: None,
            write_roots: Vec::new(),
            cache_dirs: Vec::new(),
            log_dirs: Vec::new(),
            config_files: Vec::new(),
            registries: Vec::new(),
            download_hosts: Vec::new(),
            proxy: None,
            values: BTreeMap::new(),
            derived: false,
            not_derived: Some("pkgwarden does not derive this manager's facts yet".into()),
            deps: vec![Dep::of(real_exe)],
        }
    }
}

/// Why facts could not be derived.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    /// The probe could not be started or failed.
    #[error(
        "cannot ask {exe} about its configuration: {why}\n  hint: check that `{exe}` runs on its own"
    )]
    Probe {
        /// What was run.
        exe: String,
        /// What went wrong.
        why: String,
    },
    /// The probe could not be sandboxed: it was not run.
    #[error(
        "cannot ask {exe} about its configuration: the probe's sandbox cannot be set up ({why}); nothing was run\n  hint: `pkgwarden doctor` shows what this kernel gives; PKGWARDEN_SANDBOX=0 runs the install unmonitored on purpose"
    )]
    Sandbox {
        /// What was to be run.
        exe: String,
        /// What went wrong.
        why: String,
    },
}

impl FactsError {
    /// For families whose facts may stay a skeleton (a stand-in that is not
    /// the real manager): the skeleton when the manager answered badly, the
    /// error when the probe could not be sandboxed.
    fn or_skeleton(self, family: Family, real: &Path) -> Result<ManagerFacts, FactsError> {
        match self {
            FactsError::Probe { why, .. } => {
                let mut f = ManagerFacts::skeleton(family, real);
                // The probe's own words, shortened: a stand-in may answer
                // with anything.
                let short: String = why.lines().next().unwrap_or("").chars().take(120).collect();
                f.not_derived = Some(format!("it did not answer as this manager does ({short})"));
                Ok(f)
            }
            e @ FactsError::Sandbox { .. } => Err(e),
        }
    }
}

/// Derives (or reads from cache) the facts, then applies the command line.
pub fn plan(real: &Path, request: &InstallRequest, cwd: &Path) -> Result<InstallPlan, FactsError> {
    let interpreter = match request.tool.family() {
        Family::Pip => pip_target_interpreter(real, request),
        _ => None,
    };
    let (facts, origin) = facts(real, request.tool, interpreter.as_deref(), cwd)?;
    let mut p = InstallPlan {
        tool: request.tool,
        real_exe: real.to_path_buf(),
        request: request.clone(),
        write_roots: facts.write_roots.clone(),
        write_files: Vec::new(),
        transient_dirs: Vec::new(),
        notes: Vec::new(),
        create_files: Vec::new(),
        file_dirs: Vec::new(),
        cache_dirs: facts.cache_dirs.clone(),
        guarded_caches: Vec::new(),
        build_dirs: Vec::new(),
        log_dirs: facts.log_dirs.clone(),
        config_files: facts.config_files.clone(),
        registries: facts.registries.clone(),
        registry_hosts: Vec::new(),
        proxy: facts.proxy.clone(),
        facts: facts.clone(),
        facts_origin: origin,
        readable_credentials: Vec::new(),
        env: Vec::new(),
        hook_shell: None,
        startup_probes: Vec::new(),
        package_code: Vec::new(),
        package_code_writes: Vec::new(),
        watch_patterns: Vec::new(),
        secret_refs: Vec::new(),
    };
    match request.tool.family() {
        Family::Pip => apply_pip(&mut p, cwd),
        Family::Npm if super::yarn_pnpm::handles(request.tool) => {
            super::yarn_pnpm::apply(&mut p, cwd)
        }
        Family::Npm => apply_npm(&mut p, cwd),
        Family::Gem if request.tool == Tool::Gem => apply_gem(&mut p, cwd),
        Family::Conda if request.tool == Tool::Conda => super::conda::apply(&mut p, cwd),
        Family::PyTools if p.facts.derived => super::pytools_facts::apply(&mut p, cwd),
        Family::Brew => super::brew::apply(&mut p),
        _ => {}
    }
    if builds_local_projects(&p) {
        apply_local_projects(&mut p, cwd);
    }
    // A version manager rehashes its shims after the install.
    if let Some(d) = super::shimdirs::shim_dir(real)
        && !p.write_roots.contains(&d)
    {
        p.write_roots.push(d);
    }
    let mut hosts: Vec<String> = p.registries.iter().filter_map(|u| host_port(u)).collect();
    hosts.extend(p.facts.download_hosts.iter().cloned());
    hosts.sort();
    hosts.dedup();
    p.registry_hosts = hosts;
    let home = crate::paths::home();
    apply_credentials(&mut p, cwd, home.as_deref());
    apply_guarded_caches(&mut p, home.as_deref());
    apply_package_code(&mut p);
    p.watch_patterns = super::gem::watch_patterns(&p);
    p.watch_patterns.extend(super::conda::watched(&p));
    let extra = super::yarn_pnpm::sandbox_env(&p);
    p.env
        .extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
    p.secret_refs = p.config_files.clone();
    p.secret_refs.push(cwd.join(".npmrc"));
    Ok(p)
}

/// Every manager's cache is guarded from package code; corepack's home is
/// the npm family's own cache too (it starts the yarn or pnpm it keeps
/// there, and may download one during the install).
fn apply_guarded_caches(p: &mut InstallPlan, home: Option<&Path>) {
    let var = |k: &str| std::env::var(k).ok();
    p.guarded_caches = super::caches::guarded(var, home);
    if p.tool.family() == Family::Npm
        && let Some(c) = super::caches::corepack_home(var, home).filter(|c| c.is_dir())
        && !p.cache_dirs.contains(&c)
    {
        p.cache_dirs.push(c);
    }
}

/// Which credential files the manager itself reads, and how its package
/// scripts start: npm-style managers read their rc files (tokens) and run
/// scripts through `script-shell`; Python managers read `~/.netrc` only when
/// it holds an entry for one of their registries (or a `default` one).
fn apply_credentials(p: &mut InstallPlan, cwd: &Path, home: Option<&Path>) {
    match p.tool.family() {
        Family::Npm if p.facts.derived => {
            let project = npm_local_prefix(cwd);
            if let Some(h) = home {
                p.readable_credentials.push(h.join(".npmrc"));
                if matches!(p.tool, Tool::Yarn) {
                    p.readable_credentials.push(h.join(".yarnrc"));
                    p.readable_credentials.push(h.join(".yarnrc.yml"));
                }
            }
            p.readable_credentials.push(project.join(".npmrc"));
            // yarn 1 starts scripts with node's `shell: true` (/bin/sh,
            // whatever is configured): no place for the wrapper.
            if matches!(p.tool, Tool::Yarn) {
                return;
            }
            let cli = p.request.option("script-shell").map(PathBuf::from);
            let configured = p.facts.values.get("script_shell").map(PathBuf::from);
            p.hook_shell = Some(HookShell {
                var: "npm_config_script_shell".into(),
                overridden: cli.is_some(),
                shell: cli
                    .or(configured)
                    .unwrap_or_else(|| PathBuf::from("/bin/sh")),
            });
        }
        Family::Pip | Family::PyTools => {
            if let Some(netrc) = home.map(|h| h.join(".netrc"))
                && let Ok(text) = std::fs::read_to_string(&netrc)
            {
                let hosts: Vec<String> = p
                    .registries
                    .iter()
                    .filter_map(|u| host_port(u))
                    .map(|h| strip_port(&h).to_ascii_lowercase())
                    .collect();
                if netrc_names_any(&text, &hosts) {
                    p.readable_credentials.push(netrc);
                }
            }
        }
        _ => {}
    }
}

/// How the manager starts package code as a plain child process.
fn apply_package_code(p: &mut InstallPlan) {
    let key = match p.tool.family() {
        Family::Pip => "pip",
        Family::PyTools if p.facts.derived => "pytools",
        Family::Gem if p.tool == Tool::Gem => "gem",
        _ => return,
    };
    p.package_code = super::package_code::shapes(key);
}

/// `host` of `host[:port]` (IPv6 literals keep their brackets).
fn strip_port(hp: &str) -> &str {
    match hp.rsplit_once(':') {
        Some((h, port)) if port.parse::<u16>().is_ok() && !h.ends_with(':') => h,
        _ => hp,
    }
}

/// True when a netrc text has a `default` entry or a `machine` entry for one
/// of `hosts` (lower case).
fn netrc_names_any(text: &str, hosts: &[String]) -> bool {
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        match w {
            "default" => return true,
            "machine"
                if words
                    .next()
                    .is_some_and(|m| hosts.iter().any(|h| h.eq_ignore_ascii_case(m))) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// True when the install builds what its command line names, so local
/// project paths on it are built in place: pip's and `uv pip`'s installs.
fn builds_local_projects(p: &InstallPlan) -> bool {
    match p.tool.family() {
        // install, download, wheel and lock all build a local project.
        Family::Pip => true,
        Family::PyTools => p.facts.derived && p.request.command == "pip install",
        _ => false,
    }
}

/// Grants the build outputs of the local projects the command line names.
fn apply_local_projects(p: &mut InstallPlan, cwd: &Path) {
    for (project, editable) in super::local::python_projects(&p.request, cwd) {
        let out = super::local::build_outputs(&project, editable);
        p.package_code_writes
            .extend(out.existing.iter().chain(&out.transient).cloned());
        for d in out.existing {
            if !p.write_roots.contains(&d) {
                p.write_roots.push(d);
            }
        }
        for d in out.transient {
            if !p.write_roots.contains(&d) {
                p.write_roots.push(d.clone());
                p.transient_dirs.push(d);
            }
        }
        p.notes.extend(out.notes);
    }
}

/// `Ok(None)` when the facts of this manager are derived (read from the
/// manager itself), so that its installs can be sandboxed by default;
/// `Ok(Some(why))` when they are a skeleton. A probe that could not be
/// sandboxed is an error, never "not derived" (which would run the install
/// unmonitored); families that may stay a skeleton say so in [`facts`].
pub fn not_derived(real: &Path, tool: Tool, cwd: &Path) -> Result<Option<String>, FactsError> {
    facts(real, tool, None, cwd).map(|(f, _)| {
        (!f.derived).then(|| {
            f.not_derived
                .unwrap_or_else(|| "its facts are not derived".into())
        })
    })
}

/// `host[:port]` of an http(s) URL; `None` for other schemes and paths.
pub fn host_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit('@').next()?;
    (!hostport.is_empty()).then(|| hostport.to_ascii_lowercase())
}

/// Facts for the manager at `real`, from the cache when nothing they depend on changed.
pub fn facts(
    real: &Path,
    tool: Tool,
    interpreter: Option<&Path>,
    cwd: &Path,
) -> Result<(ManagerFacts, Origin), FactsError> {
    let family = tool.family();
    let project = match family {
        // npm's configuration depends on the project only through its own
        // `.npmrc`; projects without one share the facts (the project's
        // own paths are applied to the plan, not cached).
        Family::Npm if super::yarn_pnpm::handles(tool) => super::yarn_pnpm::cache_project(cwd),
        Family::Npm => Some(npm_local_prefix(cwd)).filter(|p| p.join(".npmrc").exists()),
        // uv, pipx and poetry read the project's configuration and environment.
        Family::PyTools => Some(cwd.to_path_buf()),
        _ => None,
    };
    let key = cache_key(real, family, interpreter, project.as_deref());
    let file =
        crate::paths::own_cache_dir().map(|d| d.join("facts").join(format!("{key:016x}.json")));
    if let Some(f) = &file
        && let Some(cached) = read_cached(f)
    {
        return Ok((cached, Origin::Cache));
    }
    let facts = match family {
        Family::Pip => pip_facts(real, interpreter)?,
        Family::Npm if super::yarn_pnpm::handles(tool) => super::yarn_pnpm::facts(real, tool, cwd)?,
        Family::Npm => npm_facts(real, tool, cwd)?,
        // A `gem` that is not RubyGems (a wrapper, a stand-in) keeps the
        // skeleton: not derived, so not sandboxed by default.
        Family::Gem if tool == Tool::Gem => {
            gem_facts(real).or_else(|e| e.or_skeleton(family, real))?
        }
        // A `conda` whose configuration cannot be read (a wrapper, a stub)
        // keeps the skeleton, as gem does.
        Family::Conda if tool == Tool::Conda => {
            super::conda::facts(real).or_else(|e| e.or_skeleton(family, real))?
        }
        // A tool that cannot tell its facts keeps the skeleton (unmonitored).
        Family::PyTools => {
            super::pytools_facts::facts(real, tool, cwd).or_else(|e| e.or_skeleton(family, real))?
        }
        // A `brew` that does not answer like Homebrew keeps the skeleton.
        Family::Brew => super::brew::facts(real).or_else(|e| e.or_skeleton(family, real))?,
        _ => ManagerFacts::skeleton(family, real),
    };
    if let Some(f) = &file {
        // A cache that cannot be written only costs the next call a probe.
        let _ = write_cached(f, &facts);
    }
    Ok((facts, Origin::Probe))
}

/// The environment variables that change what a family's manager does.
fn relevant_env(family: Family) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            let k = k.as_str();
            matches!(k, "HOME" | "XDG_CONFIG_HOME" | "XDG_CACHE_HOME" | "PATH")
                || match family {
                    Family::Pip => {
                        k.starts_with("PIP_")
                            || k == "NETRC"
                            || k.starts_with("PYTHON")
                            || k == "VIRTUAL_ENV"
                            || k == "CONDA_PREFIX"
                    }
                    Family::Npm => {
                        let l = k.to_ascii_lowercase();
                        l.starts_with("npm_config_") || l.starts_with("yarn_") || l == "prefix"
                            // pnpm's configuration, data, state and store.
                            || l.starts_with("pnpm_")
                            || matches!(k, "XDG_DATA_HOME" | "XDG_STATE_HOME")
                    }
                    Family::Gem => k.starts_with("GEM_") || k.starts_with("RUBY"),
                    Family::Conda => k.starts_with("CONDA"),
                    Family::PyTools => super::pytools_facts::relevant_env(k),
                    Family::Brew => k.starts_with("HOMEBREW_"),
                }
        })
        .collect();
    v.sort();
    v
}

fn cache_key(real: &Path, family: Family, interp: Option<&Path>, project: Option<&Path>) -> u64 {
    // DefaultHasher is stable for one pkgwarden build, which is all a cache key needs.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    real.hash(&mut h);
    stamp(real).hash(&mut h);
    (family as u8).hash(&mut h);
    interp.hash(&mut h);
    interp.map(stamp).hash(&mut h);
    project.hash(&mut h);
    relevant_env(family).hash(&mut h);
    h.finish()
}

fn read_cached(file: &Path) -> Option<ManagerFacts> {
    // Facts decide where the sandbox lets an install write: only a file
    // pkgwarden itself could have written is read.
    let text = crate::paths::read_trusted(file)?;
    let facts: ManagerFacts = serde_json::from_slice(&text).ok()?;
    facts.deps.iter().all(Dep::unchanged).then_some(facts)
}

fn write_cached(file: &Path, facts: &ManagerFacts) -> std::io::Result<()> {
    let dir = file.parent().ok_or(std::io::ErrorKind::NotFound)?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    std::fs::write(
        &tmp,
        serde_json::to_vec(facts).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, file)
}

/// Runs a probe command with no input and returns its stdout: the one probe
/// runner, sandboxed ([`super::probe::run`]).
pub(crate) fn probe(cmd: &mut Command, what: &Path) -> Result<Vec<u8>, FactsError> {
    super::probe::run(cmd, what)
}

// ---------------------------------------------------------------- pip ----

/// The Python that runs pip, found without running anything when possible.
fn pip_interpreter(real: &Path) -> Result<PathBuf, FactsError> {
    if let Some(p) = shebang_python(real) {
        return Ok(p);
    }
    // A wrapper script (pyenv, asdf): pip itself says which Python it runs on.
    let out = probe(
        Command::new(real)
            .arg("debug")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
        real,
    )?;
    String::from_utf8_lossy(&out)
        .lines()
        .find_map(|l| l.strip_prefix("sys.executable:"))
        .map(|p| PathBuf::from(p.trim()))
        .ok_or_else(|| FactsError::Probe {
            exe: real.display().to_string(),
            why: "`pip debug` did not name sys.executable".into(),
        })
}

/// Reads the interpreter from a pip script's first lines: `#!/path/python`,
/// `#!/usr/bin/env python3`, or pip's `'''exec' "/path/python"` form for long paths.
pub(super) fn shebang_python(script: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 1024];
    let n = std::fs::File::open(script).ok()?.read(&mut head).ok()?;
    let text = std::str::from_utf8(&head[..n]).ok()?;
    let first = text.lines().next()?.strip_prefix("#!")?.trim();
    let mut words = first.split_whitespace();
    let interp = words.next()?;
    let is_python = |p: &str| {
        Path::new(p)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("python"))
    };
    if is_python(interp) {
        return Some(PathBuf::from(interp));
    }
    if interp.ends_with("/env") {
        let name = words.find(|w| !w.starts_with('-'))?;
        if is_python(name) {
            let shims = crate::shim::shims_dir();
            let path = std::env::var_os("PATH");
            return crate::shim::find_real(name, path.as_deref(), shims.as_deref());
        }
    }
    if interp.ends_with("/sh") {
        let line = text.lines().nth(1)?;
        let rest = line.strip_prefix("'''exec' \"")?;
        let end = rest.find('"')?;
        return Some(PathBuf::from(&rest[..end]));
    }
    None
}

/// The interpreter an install targets: `python -m pip` runs in that Python;
/// `pip --python X` installs into X.
fn pip_target_interpreter(real: &Path, req: &InstallRequest) -> Option<PathBuf> {
    if let Some(p) = req.option("python") {
        let p = Path::new(p);
        if p.is_dir() {
            return Some(p.join("bin/python"));
        }
        return Some(p.to_path_buf());
    }
    (req.tool == Tool::Python).then(|| real.to_path_buf())
}

/// Asks the interpreter (isolated, without site hooks, so a project's files
/// and `.pth` hooks run nothing here) where it installs and what pip's own
/// configuration says.
const PIP_PROBE: &str = r#"
import json, os, site, sys, sysconfig
# Without site (-S) the interpreter does not know it runs in a virtualenv:
# find pyvenv.cfg the way site.venv() does, without processing .pth files.
exe_dir = os.path.dirname(os.path.abspath(sys.executable))
venv = next((os.path.dirname(exe_dir) for c in (os.path.join(exe_dir, "pyvenv.cfg"),
             os.path.join(os.path.dirname(exe_dir), "pyvenv.cfg")) if os.path.isfile(c)), None)
if venv:
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else "posix_prefix"
    paths = sysconfig.get_paths(scheme=scheme, vars={"base": venv, "platbase": venv})
    prefix = sys.prefix = sys.exec_prefix = venv
else:
    paths = sysconfig.get_paths()
    prefix = sys.prefix
out = {"executable": sys.executable, "prefix": prefix, "base_prefix": sys.base_prefix,
       "version": sys.version.split()[0], "in_venv": venv is not None}
for k in ("purelib", "platlib", "scripts", "data"):
    out[k] = paths[k]
out["user_site"] = site.getusersitepackages()
out["user_base"] = site.getuserbase()
for p in [out["purelib"], out["platlib"]] + ([] if venv else site.getsitepackages()):
    if p not in sys.path:
        sys.path.append(p)
try:
    import pip
    out["pip_version"] = pip.__version__
    from pip._internal.models.index import PyPI
    out["default_index"] = PyPI.simple_url
    out["file_host"] = PyPI.file_storage_domain
    from pip._internal.locations import USER_CACHE_DIR
    out["cache_dir"] = USER_CACHE_DIR
    from pip._internal.configuration import Configuration
    c = Configuration(isolated=False)
    c.load()
    out["config"] = {k: str(v) for k, v in c.items()}
    out["config_files"] = [f for _, files in c.iter_config_files() for f in files]
except Exception as e:
    out["pip_error"] = repr(e)
print(json.dumps(out))
"#;

#[derive(Deserialize)]
struct PipProbe {
    executable: String,
    prefix: String,
    version: String,
    in_venv: bool,
    purelib: String,
    platlib: String,
    scripts: String,
    data: String,
    user_site: String,
    user_base: String,
    pip_version: Option<String>,
    default_index: Option<String>,
    file_host: Option<String>,
    cache_dir: Option<String>,
    #[serde(default)]
    config: BTreeMap<String, String>,
    #[serde(default)]
    config_files: Vec<String>,
    pip_error: Option<String>,
}

pub(super) fn pip_facts(
    real: &Path,
    interpreter: Option<&Path>,
) -> Result<ManagerFacts, FactsError> {
    let interp = match interpreter {
        Some(p) => p.to_path_buf(),
        None => pip_interpreter(real)?,
    };
    let out = probe(
        Command::new(&interp)
            .args(["-I", "-S", "-c", PIP_PROBE])
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
        &interp,
    )?;
    let pr: PipProbe = serde_json::from_slice(&out).map_err(|e| FactsError::Probe {
        exe: interp.display().to_string(),
        why: format!("unexpected probe output: {e}"),
    })?;
    if let Some(err) = pr.pip_error {
        return Err(FactsError::Probe {
            exe: interp.display().to_string(),
            why: format!("pip cannot be imported there: {err}"),
        });
    }
    // pip's own option precedence: environment, then the install section, then global.
    let conf = |key: &str| -> Option<String> {
        [
            format!(":env:.{key}"),
            format!("install.{key}"),
            format!("global.{key}"),
        ]
        .iter()
        .find_map(|k| pr.config.get(k).cloned())
    };
    let mut registries = vec![
        conf("index-url")
            .or(pr.default_index.clone())
            .unwrap_or_default(),
    ];
    if let Some(extra) = conf("extra-index-url") {
        registries.extend(extra.split_whitespace().map(String::from));
    }
    if let Some(links) = conf("find-links") {
        registries.extend(links.split_whitespace().map(String::from));
    }
    registries.retain(|r| !r.is_empty());
    let uses_default_index = conf("index-url").is_none();
    let cache = conf("cache-dir").or(pr.cache_dir.clone());
    let mut values = BTreeMap::new();
    values.insert("user_site".into(), pr.user_site.clone());
    values.insert("user_scripts".into(), format!("{}/bin", pr.user_base));
    values.insert("in_venv".into(), pr.in_venv.to_string());
    values.insert("prefix".into(), pr.prefix.clone());
    values.insert("python_version".into(), pr.version.clone());
    if let Some(i) = &pr.default_index {
        values.insert("default_index".into(), i.clone());
    }
    if let Some(h) = &pr.file_host {
        values.insert("file_host".into(), h.clone());
    }
    // The scheme's data path (a virtualenv's root, the interpreter's
    // prefix) is where a wheel's data files go (`share/man/…`, jupyter
    // kernels, desktop files) and pip's headers beneath `include/`.
    let mut write_roots: Vec<PathBuf> = [&pr.purelib, &pr.platlib, &pr.scripts, &pr.data]
        .iter()
        .map(PathBuf::from)
        .collect();
    write_roots.dedup();
    let mut config_files: Vec<PathBuf> = pr.config_files.iter().map(PathBuf::from).collect();
    let mut deps: Vec<Dep> = config_files.iter().map(|p| Dep::of(p)).collect();
    deps.push(Dep::of(real));
    deps.push(Dep::of(&interp));
    // pip's HTTP client reads ~/.netrc (or $NETRC) for every index request.
    let netrc = std::env::var_os("NETRC")
        .map(PathBuf::from)
        .or_else(|| crate::paths::home().map(|h| h.join(".netrc")));
    config_files.extend(netrc);
    Ok(ManagerFacts {
        family: Family::Pip,
        real_exe: real.to_path_buf(),
        version: pr.pip_version,
        interpreter: Some(PathBuf::from(pr.executable)),
        write_roots,
        cache_dirs: cache.map(PathBuf::from).into_iter().collect(),
        log_dirs: Vec::new(),
        config_files,
        registries,
        download_hosts: if uses_default_index {
            pr.file_host.into_iter().collect()
        } else {
            Vec::new()
        },
        proxy: conf("proxy"),
        values,
        derived: true,
        not_derived: None,
        deps,
    })
}

/// Applies pip's command-line options to the plan.
fn apply_pip(p: &mut InstallPlan, cwd: &Path) {
    let req = &p.request;
    let abs = |v: &str| cwd.join(crate::paths::expand_tilde(v));
    if let Some(index) = req.option("index-url") {
        p.registries
            .retain(|r| Some(r.as_str()) != p.facts.registries.first().map(String::as_str));
        p.registries.insert(0, index.to_string());
        // pip's file host serves only its default index.
        p.facts.download_hosts.clear();
    }
    if req.flag("no-index") {
        p.registries.clear();
        p.facts.download_hosts.clear();
    }
    for v in req.option_values("extra-index-url") {
        p.registries.push(v.to_string());
    }
    for v in req.option_values("find-links") {
        if host_port(v).is_some() {
            p.registries.push(v.to_string());
        }
    }
    if let Some(proxy) = req.option("proxy") {
        p.proxy = Some(proxy.to_string());
    }
    if let Some(c) = req.option("cache-dir") {
        p.cache_dirs = vec![abs(c)];
    }
    if req.flag("no-cache-dir") {
        p.cache_dirs.clear();
    }
    let roots = if let Some(t) = req.option("target") {
        vec![abs(t)]
    } else if let Some(pre) = req.option("prefix") {
        vec![abs(pre)]
    } else if let Some(root) = req.option("root") {
        vec![abs(root)]
    } else if req.flag("user")
        || (p.facts.values.get("in_venv").map(String::as_str) == Some("false")
            && !p.write_roots.iter().all(|r| writable(r)))
    {
        // pip falls back to a user install when site-packages is not writable.
        let mut roots: Vec<PathBuf> = ["user_site", "user_scripts"]
            .iter()
            .filter_map(|k| p.facts.values.get(*k).map(PathBuf::from))
            .collect();
        // The user scheme's data path (`~/.local`, the parent of its
        // scripts) is granted only where wheels' data files go.
        let base = p
            .facts
            .values
            .get("user_scripts")
            .and_then(|s| Path::new(s).parent().map(Path::to_path_buf));
        if let Some(base) = base {
            let home = crate::paths::home();
            let (dirs, notes) = super::wheel_data::user_data_dirs(&base, req, cwd, home.as_deref());
            for d in dirs {
                // Made for the grant, removed after when left empty, with
                // the directories made on the way to it.
                let mut made: Vec<PathBuf> = d
                    .ancestors()
                    .take_while(|a| a.starts_with(&base) && *a != base && !a.exists())
                    .map(Path::to_path_buf)
                    .collect();
                made.reverse();
                for m in made {
                    if !p.transient_dirs.contains(&m) {
                        p.transient_dirs.push(m);
                    }
                }
                roots.push(d);
            }
            p.notes.extend(notes);
        }
        roots
    } else {
        p.write_roots.clone()
    };
    p.write_roots = roots;
    if let Some(d) = req.option("dest").or(req.option("wheel-dir")) {
        p.write_roots.push(abs(d));
    }
    if matches!(
        req.command.as_str(),
        "download" | "wheel" | "-m pip download" | "-m pip wheel"
    ) && req.option("dest").is_none()
        && req.option("wheel-dir").is_none()
    {
        p.write_roots = vec![cwd.to_path_buf()];
    }
}

/// True when the current user may create files in `dir`.
pub(super) fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

// ---------------------------------------------------------------- gem ----

/// What RubyGems itself says, printed as JSON by the gem's own Ruby.
const GEM_PROBE: &str = r#"require "rubygems"; require "json"
puts JSON.generate({"dir" => Gem.dir, "user_dir" => Gem.user_dir, "bindir" => Gem.bindir,
  "spec_cache" => Gem.spec_cache_dir, "sources" => Gem.sources.to_a.map(&:to_s),
  "version" => Gem::VERSION, "config_file" => Gem.config_file})"#;

#[derive(Deserialize)]
struct GemProbe {
    dir: String,
    user_dir: String,
    bindir: String,
    spec_cache: String,
    sources: Vec<String>,
    version: String,
    config_file: String,
}

/// The Ruby that runs `gem`, from its shebang (`#!/usr/bin/ruby3.1`,
/// `#!/usr/bin/env ruby`).
fn gem_interpreter(real: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(real).ok()?.read(&mut head).ok()?;
    let first = std::str::from_utf8(&head[..n]).ok()?.lines().next()?;
    let mut words = first.strip_prefix("#!")?.split_whitespace();
    let interp = words.next()?;
    if interp.ends_with("/env") {
        let name = words.find(|w| !w.starts_with('-'))?;
        return which::which(name).ok();
    }
    Some(PathBuf::from(interp))
}

fn gem_facts(real: &Path) -> Result<ManagerFacts, FactsError> {
    let ruby = gem_interpreter(real).ok_or_else(|| FactsError::Probe {
        exe: real.display().to_string(),
        why: "no Ruby interpreter named in its first line".into(),
    })?;
    // RUBYOPT could load code before the probe: not outside the sandbox.
    let out = probe(
        Command::new(&ruby)
            .args(["-e", GEM_PROBE])
            .env_remove("RUBYOPT")
            .env_remove("RUBYLIB"),
        &ruby,
    )?;
    let pr: GemProbe = serde_json::from_slice(&out).map_err(|e| FactsError::Probe {
        exe: ruby.display().to_string(),
        why: format!("unexpected probe output: {e}"),
    })?;
    let mut f = ManagerFacts::skeleton(Family::Gem, real);
    f.version = Some(pr.version);
    f.interpreter = Some(ruby.clone());
    f.write_roots = vec![PathBuf::from(&pr.dir), PathBuf::from(&pr.bindir)];
    f.cache_dirs = vec![PathBuf::from(&pr.spec_cache)];
    let home_rc = crate::paths::home().map(|h| h.join(".gemrc"));
    f.config_files = [
        Some(PathBuf::from(&pr.config_file)),
        home_rc,
        Some(PathBuf::from("/etc/gemrc")),
    ]
    .into_iter()
    .flatten()
    .collect();
    f.registries = pr.sources;
    f.values.insert("user_dir".into(), pr.user_dir);
    f.derived = true;
    f.deps.push(Dep::of(&ruby));
    f.deps.extend(f.config_files.iter().map(|c| Dep::of(c)));
    Ok(f)
}

/// `gem install` options on top of the facts: `--install-dir`,
/// `--user-install`, `--bindir`, `--source`.
fn apply_gem(p: &mut InstallPlan, cwd: &Path) {
    let req = &p.request;
    let abs = |s: &str| {
        let path = Path::new(s);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            cwd.join(path)
        }
    };
    if let Some(dir) = req.option("install-dir") {
        p.write_roots = vec![abs(dir), abs(dir).join("bin")];
    } else if req.flag("user-install")
        && let Some(u) = p.facts.values.get("user_dir")
    {
        p.write_roots = vec![PathBuf::from(u)];
    }
    if let Some(b) = req.option("bindir") {
        p.write_roots.push(abs(b));
    }
    let sources: Vec<String> = req
        .option_values("source")
        .into_iter()
        .map(str::to_string)
        .collect();
    if req.flag("clear-sources") {
        p.registries = sources;
    } else {
        p.registries.extend(sources);
    }
    p.startup_probes = super::gem::startup_probes(p);
}

// ---------------------------------------------------------------- npm ----

/// npm's local prefix: the nearest directory at or above `cwd` holding a
/// `package.json` or `node_modules`, else `cwd` itself.
pub fn npm_local_prefix(cwd: &Path) -> PathBuf {
    cwd.ancestors()
        .find(|d| d.join("package.json").is_file() || d.join("node_modules").is_dir())
        .unwrap_or(cwd)
        .to_path_buf()
}

fn npm_facts(real: &Path, tool: Tool, cwd: &Path) -> Result<ManagerFacts, FactsError> {
    // npm's config is what npx uses (yarn and pnpm have their own module).
    let npm = match tool {
        Tool::Npm => real.to_path_buf(),
        Tool::Npx => real.with_file_name("npm"),
        _ => return Ok(ManagerFacts::skeleton(Family::Npm, real)),
    };
    let out = probe(
        Command::new(&npm)
            .args(["config", "list", "--json"])
            .current_dir(cwd)
            .env("npm_config_update_notifier", "false"),
        &npm,
    )?;
    let conf: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&out).map_err(|e| FactsError::Probe {
            exe: npm.display().to_string(),
            why: format!("unexpected `npm config list --json` output: {e}"),
        })?;
    let s = |k: &str| conf.get(k).and_then(|v| v.as_str()).map(String::from);
    // npm's own package.json says its version: no second node start-up.
    let npm_root = npm.canonicalize().ok().and_then(|p| {
        p.ancestors()
            .find(|a| {
                std::fs::read(a.join("package.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .is_some_and(|v| v["name"] == "npm")
            })
            .map(Path::to_path_buf)
    });
    let version = npm_root.as_ref().and_then(|r| {
        let b = std::fs::read(r.join("package.json")).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&b).ok()?;
        v["version"].as_str().map(str::to_string)
    });
    let mut registries: Vec<String> = s("registry").into_iter().collect();
    registries.extend(
        conf.iter()
            .filter(|(k, _)| k.starts_with('@') && k.ends_with(":registry"))
            .filter_map(|(_, v)| v.as_str().map(String::from)),
    );
    let cache = s("cache").map(PathBuf::from);
    let logs = s("logs-dir")
        .map(PathBuf::from)
        .or_else(|| cache.as_ref().map(|c| c.join("_logs")));
    let global_prefix = s("prefix").unwrap_or_default();
    let project = npm_local_prefix(cwd);
    let mut config_files: Vec<PathBuf> = ["userconfig", "globalconfig"]
        .iter()
        .filter_map(|k| s(k).map(PathBuf::from))
        .collect();
    if let Some(root) = npm_root.filter(|r| r.join("npmrc").exists()) {
        config_files.push(root.join("npmrc"));
    }
    // node-gyp downloads the headers of the node that runs the build from
    // the `disturl` the configuration gives (npm passes it on as
    // `npm_config_disturl`), else from where that node says its headers are.
    let disturl = ["disturl", "dist-url"]
        .iter()
        .find_map(|k| s(k))
        .or_else(|| {
            ["npm_config_disturl", "npm_config_dist_url"]
                .iter()
                .find_map(|k| std::env::var(k).ok())
        })
        .filter(|u| !u.is_empty())
        .or_else(|| node_headers_url(&npm));
    let download_hosts: Vec<String> = disturl.as_deref().and_then(host_port).into_iter().collect();
    let mut values = BTreeMap::new();
    values.insert("global_prefix".into(), global_prefix);
    if let Some(shell) = s("script-shell").filter(|v| !v.is_empty()) {
        values.insert("script_shell".into(), shell);
    }
    if let Some(u) = &disturl {
        values.insert("headers_url".into(), u.clone());
    }
    let mut deps: Vec<Dep> = config_files.iter().map(|p| Dep::of(p)).collect();
    deps.push(Dep::of(real));
    // Only a project with its own .npmrc has facts of its own.
    let project_rc = project.join(".npmrc");
    if project_rc.exists() {
        deps.push(Dep::of(&project_rc));
    }
    Ok(ManagerFacts {
        family: Family::Npm,
        real_exe: real.to_path_buf(),
        version,
        interpreter: None,
        write_roots: vec![project.join("node_modules")],
        cache_dirs: cache.into_iter().collect(),
        log_dirs: logs.into_iter().collect(),
        config_files,
        registries,
        download_hosts,
        proxy: s("https-proxy").or_else(|| s("proxy")),
        values,
        derived: true,
        not_derived: None,
        deps,
    })
}

/// Where the node that runs npm says its headers are
/// (`process.release.headersUrl`): the node npm's first line names.
fn node_headers_url(npm: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let real = npm.canonicalize().ok()?;
    let n = std::fs::File::open(&real).ok()?.read(&mut head).ok()?;
    let first = std::str::from_utf8(&head[..n]).ok()?.lines().next()?;
    let mut words = first.strip_prefix("#!")?.split_whitespace();
    let interp = words.next()?;
    let node = if interp.ends_with("/env") {
        let name = words.find(|w| !w.starts_with('-'))?;
        let path = std::env::var_os("PATH");
        crate::shim::find_real(name, path.as_deref(), crate::shim::shims_dir().as_deref())?
    } else {
        PathBuf::from(interp)
    };
    let out = probe(
        Command::new(&node)
            .args(["-p", "process.release.headersUrl || ''"])
            .env_remove("NODE_OPTIONS"),
        &node,
    )
    .ok()?;
    let url = String::from_utf8_lossy(&out).trim().to_string();
    (!url.is_empty()).then_some(url)
}

/// `--registry` replaces the default registry (scoped ones stay);
/// `--@scope:registry` adds one. npm, yarn and pnpm read them alike.
pub(super) fn apply_registry_options(p: &mut InstallPlan) {
    let req = &p.request;
    if let Some(r) = req.option("registry") {
        if let Some(first) = p.registries.first_mut() {
            *first = r.to_string();
        } else {
            p.registries.push(r.to_string());
        }
    }
    for o in &req.options {
        if o.name.starts_with('@')
            && o.name.ends_with(":registry")
            && let Some(v) = &o.value
        {
            p.registries.push(v.clone());
        }
    }
}

/// Applies npm's command-line options to the plan.
fn apply_npm(p: &mut InstallPlan, cwd: &Path) {
    if !p.facts.derived {
        return;
    }
    apply_registry_options(p);
    let req = &p.request;
    if let Some(c) = req.option("cache") {
        p.cache_dirs = vec![cwd.join(c)];
    }
    let global = req.flag("global") || req.option("location") == Some("global");
    let prefix = req.option("prefix").map(|v| cwd.join(v));
    let mut local = Vec::new();
    p.write_roots = if global {
        let g = prefix.unwrap_or_else(|| {
            PathBuf::from(
                p.facts
                    .values
                    .get("global_prefix")
                    .cloned()
                    .unwrap_or_default(),
            )
        });
        vec![g.join("lib/node_modules"), g.join("bin")]
    } else {
        let project = prefix.unwrap_or_else(|| npm_local_prefix(cwd));
        // Local packages linked into the project are built in place.
        local = super::local::npm_packages(req, cwd, &project);
        // The project's own .npmrc is the manager's configuration too.
        p.config_files.push(project.join(".npmrc"));
        p.write_files = ["package.json", "package-lock.json", "npm-shrinkwrap.json"]
            .iter()
            .map(|f| project.join(f))
            .collect();
        // npm writes its lockfile in place (open, truncate, write): a missing
        // one must exist before the sandbox closes. A shrinkwrap replaces it.
        if !project.join("npm-shrinkwrap.json").exists() {
            p.create_files = vec![project.join("package-lock.json")];
        }
        vec![project.join("node_modules")]
    };
    p.write_roots.extend(local);
    // node-gyp keeps the headers it downloads in its devdir: the
    // configured one, else its default cache directory. Made for the grant
    // and removed again when no build used it.
    if let Some(dev) = crate::paths::node_gyp_devdir().filter(|_| p.facts.derived) {
        if !dev.exists() {
            p.transient_dirs.push(dev.clone());
        }
        p.cache_dirs.push(dev);
    }
    // npx / npm exec install into the cache's _npx directory.
    if matches!(req.command.as_str(), "exec") {
        let npx: Vec<PathBuf> = p.cache_dirs.iter().map(|c| c.join("_npx")).collect();
        p.write_roots.extend(npx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_of_urls() {
        assert_eq!(
            host_port("http://127.0.0.1:8080/simple/"),
            Some("127.0.0.1:8080".into())
        );
        assert_eq!(
            host_port("https://user:pw@Mirror.Example:443/x"),
            Some("mirror.example:443".into())
        );
        assert_eq!(host_port("http://[::1]:9/"), Some("[::1]:9".into()));
        assert_eq!(host_port("/local/wheels"), None);
        assert_eq!(host_port("file:///x"), None);
    }

    #[test]
    fn shebangs_name_the_interpreter() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("pip");
        std::fs::write(&f, "#!/opt/venv/bin/python3.11\nimport sys\n").unwrap();
        assert_eq!(
            shebang_python(&f),
            Some(PathBuf::from("/opt/venv/bin/python3.11"))
        );
        std::fs::write(
            &f,
            "#!/bin/sh\n'''exec' \"/very/long/path/bin/python\" \"$0\" \"$@\"\n' '''\n",
        )
        .unwrap();
        assert_eq!(
            shebang_python(&f),
            Some(PathBuf::from("/very/long/path/bin/python"))
        );
        std::fs::write(&f, "#!/usr/bin/env bash\nexec pyenv\n").unwrap();
        assert_eq!(shebang_python(&f), None);
    }

    #[test]
    fn npm_local_prefix_walks_up() {
        let t = tempfile::tempdir().unwrap();
        let sub = t.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(npm_local_prefix(&sub), sub);
        std::fs::write(t.path().join("a/package.json"), "{}").unwrap();
        assert_eq!(npm_local_prefix(&sub), t.path().join("a"));
    }

    #[test]
    fn cached_facts_are_dropped_when_a_dep_changes() {
        let t = tempfile::tempdir().unwrap();
        let conf = t.path().join("pip.conf");
        let mut f = ManagerFacts::skeleton(Family::Pip, &conf);
        f.deps = vec![Dep::of(&conf)];
        let file = t.path().join("facts.json");
        write_cached(&file, &f).unwrap();
        assert_eq!(read_cached(&file), Some(f.clone()));
        std::fs::write(&conf, "[global]\n").unwrap();
        assert_eq!(read_cached(&file), None);
    }
}
