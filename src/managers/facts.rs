//! Facts about a manager, read from the manager itself, and the install plan
//! built from them and the command line.
//!
//! Nothing here names a registry: the default index of pip comes from the
//! installed pip, npm's registry from `npm config`. Facts are cached per
//! manager binary, its configuration files and the environment that changes
//! them, so the common path runs no probe.

use super::{Family, InstallRequest, Tool};
pub use crate::model::plan::{Dep, HookShell, InstallPlan, ManagerFacts, Origin, StartupProbe};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

impl Dep {
    /// The file `path` as it is now.
    pub(crate) fn of(path: &Path) -> Dep {
        Dep {
            path: path.to_path_buf(),
            stamp: stamp(path),
        }
    }

    pub(super) fn unchanged(&self) -> bool {
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
    pub(super) fn or_skeleton(
        self,
        family: Family,
        real: &Path,
    ) -> Result<ManagerFacts, FactsError> {
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
    let adapter = super::adapter(request.tool);
    let interpreter = adapter.target_interpreter(real, request);
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
        editable_projects: Vec::new(),
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
        project_refs: Vec::new(),
        directed: Vec::new(),
        attribution: super::attribution(),
        proxy_vars: super::proxy_vars(),
        project_manifest: super::project_manifest(cwd),
        root_script_dirs: Vec::new(),
        extra_args: Vec::new(),
        extra_args_at: 0,
        cooldown: None,
        trust: Default::default(),
    };
    // The family's part: the command line, the credentials its manager
    // reads, how it starts package code, its extra environment.
    adapter.plan(&mut p, cwd);
    // The credential files this manager reads as its own configuration
    // (pip's pip.conf with an index password, poetry's auth.toml): readable
    // to its install, hidden from every other install and from package code.
    if let Some(home) = crate::paths::home() {
        for c in crate::sandbox::own_credentials(request.tool.name(), &home, &p.config_files) {
            if !p.readable_credentials.contains(&c) {
                p.readable_credentials.push(c);
            }
        }
    }
    // Every manager's cache is guarded from package code, not only this
    // manager's own.
    let var = |k: &str| std::env::var(k).ok();
    p.guarded_caches = super::caches::guarded(var, crate::paths::home().as_deref());
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
    p.watch_patterns = adapter.watch_patterns(&p);
    // The user's own files bind a secret to a registry; the project's
    // files (a cloned repository's) only where the user's agree.
    let home = crate::paths::home();
    let mut refs = p.config_files.clone();
    refs.push(cwd.join(".npmrc"));
    refs.sort();
    refs.dedup();
    (p.project_refs, p.secret_refs) = refs
        .into_iter()
        .partition(|f| crate::sandbox::scrub::is_project_file(f, cwd, home.as_deref()));
    Ok(p)
}

/// Grants the build outputs of the local projects the command line names
/// (pip's and `uv pip`'s installs build them in place).
pub(super) fn apply_local_projects(p: &mut InstallPlan, cwd: &Path) {
    for (project, editable) in super::local::python_projects(&p.request, cwd) {
        grant_build_outputs(p, &project, editable);
    }
}

/// Grants what building `project` writes in it (made beforehand when
/// missing, removed after when left empty).
pub(super) fn grant_build_outputs(p: &mut InstallPlan, project: &Path, editable: bool) {
    let out = super::local::build_outputs(project, editable);
    if editable && !p.editable_projects.iter().any(|e| e == project) {
        p.editable_projects.push(project.to_path_buf());
    }
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
    let adapter = super::adapter(tool);
    let project = adapter.facts_project(tool, cwd);
    let key = cache_key(real, adapter, interpreter, project.as_deref());
    let file = facts_dir().map(|d| d.join(format!("{key:016x}.json")));
    if let Some(f) = &file
        && let Some(cached) = read_cached(f)
    {
        return Ok((cached, Origin::Cache));
    }
    let facts = adapter.facts(real, tool, interpreter, cwd)?;
    if let Some(f) = &file {
        // A cache that cannot be written only costs the next call a probe.
        let _ = write_cached(f, &facts);
    }
    Ok((facts, Origin::Probe))
}

/// The environment variables that change what the adapter's manager does.
fn relevant_env(adapter: &dyn super::Adapter) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "HOME" | "XDG_CONFIG_HOME" | "XDG_CACHE_HOME" | "PATH"
            ) || adapter.relevant_env(k)
        })
        .collect();
    v.sort();
    v
}

fn cache_key(
    real: &Path,
    adapter: &dyn super::Adapter,
    interp: Option<&Path>,
    project: Option<&Path>,
) -> u64 {
    // DefaultHasher is stable for one pkgwarden build, which is all a cache key needs.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    real.hash(&mut h);
    stamp(real).hash(&mut h);
    (adapter.family() as u8).hash(&mut h);
    interp.hash(&mut h);
    interp.map(stamp).hash(&mut h);
    project.hash(&mut h);
    relevant_env(adapter).hash(&mut h);
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
    write_json(file, facts)
}

/// Writes `value` as JSON to `file` in the facts directory, atomically.
pub(super) fn write_json<T: serde::Serialize>(file: &Path, value: &T) -> std::io::Result<()> {
    let dir = file.parent().ok_or(std::io::ErrorKind::NotFound)?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    std::fs::write(
        &tmp,
        serde_json::to_vec(value).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, file)
}

/// The directory facts are cached in.
pub(super) fn facts_dir() -> Option<std::path::PathBuf> {
    crate::paths::own_cache_dir().map(|d| d.join("facts"))
}

/// Runs a probe command with no input and returns its stdout: the one probe
/// runner, sandboxed ([`super::probe::run`]).
pub(crate) fn probe(cmd: &mut Command, what: &Path) -> Result<Vec<u8>, FactsError> {
    super::probe::run(cmd, what)
}

/// True when the current user may create files in `dir`.
pub(super) fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
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
