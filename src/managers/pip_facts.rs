//! pip's facts, read from the Python that runs it, and pip's command-line
//! options applied to the plan.

use super::facts::{Dep, FactsError, InstallPlan, ManagerFacts, host_port, probe, writable};
use super::{Family, InstallRequest, Tool};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

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
pub(super) fn pip_target_interpreter(real: &Path, req: &InstallRequest) -> Option<PathBuf> {
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
/// and `.pth` hooks run nothing here) where it installs, where pip is
/// imported from, and — unless the argument `where` stops it before pip
/// is imported, which is most of its time — what pip's own configuration
/// says.
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
# Where `import pip` finds pip, and the distribution installed there.
home = next((p for p in sys.path if os.path.isfile(os.path.join(p or ".", "pip", "__init__.py"))), None)
dists = sorted(n for n in os.listdir(home) if n.startswith("pip-") and n.endswith(".dist-info")) if home else []
out["pip_dist"] = dists[0] if len(dists) == 1 else None
out["site_config"] = os.path.join(prefix, "pip.conf")
if sys.argv[1:] == ["where"]:
    print(json.dumps(out))
    sys.exit(0)
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

/// Where an interpreter installs, and where its pip comes from (the
/// probe's `where` part).
#[derive(Deserialize)]
pub(super) struct PipWhere {
    executable: String,
    prefix: String,
    /// The Python version.
    pub(super) version: String,
    in_venv: bool,
    purelib: String,
    platlib: String,
    scripts: String,
    data: String,
    user_site: String,
    user_base: String,
    /// The `pip-<version>.dist-info` beside the pip it imports, when there
    /// is exactly one.
    pub(super) pip_dist: Option<String>,
    /// The environment's own pip configuration file (`<prefix>/pip.conf`).
    pub(super) site_config: String,
}

/// The whole probe's answer: the place, and pip's own part.
#[derive(Deserialize)]
struct PipProbe {
    #[serde(flatten)]
    place: PipWhere,
    #[serde(flatten)]
    core: super::pip_core::PipCore,
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
    let ask = |args: &[&str]| -> Result<Vec<u8>, FactsError> {
        probe(
            Command::new(&interp)
                .args(["-I", "-S", "-c", PIP_PROBE])
                .args(args)
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
            &interp,
        )
    };
    let bad = |e: serde_json::Error| FactsError::Probe {
        exe: interp.display().to_string(),
        why: format!("unexpected probe output: {e}"),
    };
    // pip's own part is the same for every environment with the same pip
    // and configuration (a fresh virtualenv each CI job): asked once.
    let place: PipWhere = serde_json::from_slice(&ask(&["where"])?).map_err(bad)?;
    let (place, core) = match super::pip_core::cached(&place) {
        Some(core) => (place, core),
        None => {
            let pr: PipProbe = serde_json::from_slice(&ask(&[])?).map_err(bad)?;
            if let Some(err) = pr.pip_error {
                return Err(FactsError::Probe {
                    exe: interp.display().to_string(),
                    why: format!("pip cannot be imported there: {err}"),
                });
            }
            super::pip_core::keep(&pr.place, &pr.core);
            (pr.place, pr.core)
        }
    };
    Ok(facts_of(real, &interp, place, core))
}

/// pip's facts from the place its interpreter installs to and pip's own
/// part.
fn facts_of(
    real: &Path,
    interp: &Path,
    pr: PipWhere,
    core: super::pip_core::PipCore,
) -> ManagerFacts {
    // pip's own option precedence: environment, then the install section, then global.
    let conf = |key: &str| -> Option<String> {
        [
            format!(":env:.{key}"),
            format!("install.{key}"),
            format!("global.{key}"),
        ]
        .iter()
        .find_map(|k| core.config.get(k).cloned())
    };
    let mut registries = vec![
        conf("index-url")
            .or(core.default_index.clone())
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
    let cache = conf("cache-dir").or(core.cache_dir.clone());
    let mut values = BTreeMap::new();
    values.insert("user_site".into(), pr.user_site.clone());
    values.insert("user_scripts".into(), format!("{}/bin", pr.user_base));
    values.insert("in_venv".into(), pr.in_venv.to_string());
    values.insert("prefix".into(), pr.prefix.clone());
    values.insert("python_version".into(), pr.version.clone());
    if let Some(i) = &core.default_index {
        values.insert("default_index".into(), i.clone());
    }
    if let Some(h) = &core.file_host {
        values.insert("file_host".into(), h.clone());
    }
    // The CA bundle pip verifies its index with, when configured.
    if let Some(c) = conf("cert") {
        values.insert("cert".into(), c);
    }
    // The scheme's data path (a virtualenv's root, the interpreter's
    // prefix) is where a wheel's data files go (`share/man/…`, jupyter
    // kernels, desktop files) and pip's headers beneath `include/`.
    let mut write_roots: Vec<PathBuf> = [&pr.purelib, &pr.platlib, &pr.scripts, &pr.data]
        .iter()
        .map(PathBuf::from)
        .collect();
    write_roots.dedup();
    let mut config_files: Vec<PathBuf> = core.config_files.iter().map(PathBuf::from).collect();
    let mut deps: Vec<Dep> = config_files.iter().map(|p| Dep::of(p)).collect();
    deps.push(Dep::of(real));
    deps.push(Dep::of(interp));
    // pip's HTTP client reads ~/.netrc (or $NETRC) for every index request.
    let netrc = std::env::var_os("NETRC")
        .map(PathBuf::from)
        .or_else(|| crate::paths::home().map(|h| h.join(".netrc")));
    config_files.extend(netrc);
    ManagerFacts {
        family: Family::Pip,
        real_exe: real.to_path_buf(),
        version: core.pip_version,
        interpreter: Some(PathBuf::from(pr.executable)),
        write_roots,
        cache_dirs: cache.map(PathBuf::from).into_iter().collect(),
        log_dirs: Vec::new(),
        config_files,
        registries,
        download_hosts: if uses_default_index {
            core.file_host.into_iter().collect()
        } else {
            Vec::new()
        },
        proxy: conf("proxy"),
        values,
        derived: true,
        not_derived: None,
        deps,
    }
}

/// Applies pip's command-line options to the plan.
pub(super) fn apply_pip(p: &mut InstallPlan, cwd: &Path) {
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
    // pip verifies with one bundle: `REQUESTS_CA_BUNDLE` (or
    // `CURL_CA_BUNDLE`) when set, which its HTTP library lets outrank even
    // `--cert`; else `cert`; else its default store. Given another bundle,
    // it trusts only that one.
    let env_bundle = ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
    p.trust = crate::model::plan::Trust {
        ca_file: env_bundle
            .map(|b| abs(&b))
            .or_else(|| req.option("cert").map(abs))
            .or_else(|| p.facts.values.get("cert").map(|c| abs(c))),
        replaces_store: true,
        keeps_system: false,
        bundle_vars: vec!["PIP_CERT".into(), "REQUESTS_CA_BUNDLE".into()],
        set: Vec::new(),
    };
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

/// Python managers (pip, uv, pipx, poetry) read `~/.netrc` only when it
/// holds an entry for one of their registries (or a `default` one): then the
/// install may read it.
pub(super) fn netrc_credentials(p: &mut InstallPlan, home: Option<&Path>) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
