//! Facts of uv, uvx, pipx and poetry, read from the tools themselves, and
//! their command-line options applied to the plan.
//!
//! uv names its cache (`uv cache dir`), the configuration files it read
//! (`uv -v`), its Python and tool directories (`uv python dir`, `uv tool
//! dir`), the interpreter an install targets (`uv python find`) and its
//! built-in default index (its own `--help` text). The host that index hands
//! downloads to is not something uv reports: pip's model of the same index
//! names it, so it is taken from pip when both defaults agree. pipx reports
//! its directories and backend (`pipx environment`); its installs then run uv
//! or pip, whose configuration applies. poetry reports its settings (`poetry
//! config --list`); its sources are the project's `[[tool.poetry.source]]`.

use super::Tool;
use super::facts::{Dep, FactsError, InstallPlan, ManagerFacts, host_port, probe};
use super::index_names;
use super::pip_facts::{pip_facts, shebang_python};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// True for environment variables that change what these tools do.
pub(super) fn relevant_env(key: &str) -> bool {
    ["UV_", "PIPX_", "POETRY_", "PIP_", "PYTHON", "VIRTUALENV_"]
        .iter()
        .any(|p| key.starts_with(p))
        || matches!(key, "VIRTUAL_ENV" | "CONDA_PREFIX")
}

/// Facts for the tool at `real`, as the tool itself reports them in `cwd`.
pub(super) fn facts(real: &Path, tool: Tool, cwd: &Path) -> Result<ManagerFacts, FactsError> {
    match tool {
        Tool::Uv => uv_facts(real, real, cwd),
        // uvx is `uv tool run`: the uv beside it answers.
        Tool::Uvx => {
            let uv = real
                .canonicalize()
                .unwrap_or_else(|_| real.to_path_buf())
                .with_file_name("uv");
            uv_facts(real, &uv, cwd)
        }
        Tool::Pipx => pipx_facts(real, cwd),
        Tool::Poetry => poetry_facts(real, cwd),
        _ => Err(FactsError::Probe {
            exe: real.display().to_string(),
            why: "not a uv, pipx or poetry command".into(),
        }),
    }
}

/// How each tool is told to trust another CA bundle, and what it trusts
/// now. uv: `SSL_CERT_FILE` replaces its roots (bundled or native). poetry:
/// requests' `REQUESTS_CA_BUNDLE` (a repository's own `cert` setting
/// outranks it). pipx: pip's variables, and uv's for its uv backend.
fn trust(tool: Tool) -> crate::model::plan::Trust {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let requests = || env("REQUESTS_CA_BUNDLE").or_else(|| env("CURL_CA_BUNDLE"));
    let (ca_file, vars): (Option<PathBuf>, &[&str]) = match tool {
        Tool::Uv | Tool::Uvx => (env("SSL_CERT_FILE"), &["SSL_CERT_FILE"]),
        Tool::Poetry => (requests(), &["REQUESTS_CA_BUNDLE"]),
        _ => (
            requests().or_else(|| env("PIP_CERT")),
            &["PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"],
        ),
    };
    crate::model::plan::Trust {
        ca_file,
        replaces_store: true,
        keeps_system: false,
        bundle_vars: vars.iter().map(|v| v.to_string()).collect(),
        set: Vec::new(),
    }
}

/// Applies the command line to the plan.
pub(super) fn apply(p: &mut InstallPlan, cwd: &Path) {
    match p.tool {
        Tool::Uv | Tool::Uvx => apply_uv(p, cwd),
        Tool::Pipx => apply_pipx(p, cwd),
        Tool::Poetry => apply_poetry(p, cwd),
        _ => {}
    }
    p.trust = trust(p.tool);
    // uv builds sdists and runs ephemeral tools from directories of its
    // cache (also as pipx's backend); pipx runs apps from its venv cache.
    let uv =
        matches!(p.tool, Tool::Uv | Tool::Uvx) || p.facts.values.contains_key("backend.tool_dir");
    if uv {
        for c in p.cache_dirs.clone() {
            for d in UV_BUILD_DIRS {
                p.build_dirs.push(c.join(d));
            }
            // uv runs a build's hooks in the source tree it unpacked in its
            // cache (their own directory) and has them write their outputs
            // in a build directory: package code gets that bucket, never
            // the rest (the archives installs are linked from, other
            // sdists' built wheels), which a later install would trust.
            p.package_code_writes.push(c.join("builds-v0"));
        }
        // uv hard-links its unpacked wheels (archive-v0) into the build
        // environments in builds-v0, which package code may write: a write
        // in place would change the cache every later install links from.
        // Copies (or reflinks, or links that resolve into the cache, which
        // package code may not write) keep the cache out of reach.
        let mode = std::env::var("UV_LINK_MODE").unwrap_or_default();
        if mode.is_empty() || mode == "hardlink" {
            p.env.push(("UV_LINK_MODE".into(), "copy".into()));
        }
    }
    if let Some(d) = p.facts.values.get("venv_cache") {
        p.build_dirs.push(PathBuf::from(d));
    }
}

/// Directories of uv's cache it builds in and runs tools from.
const UV_BUILD_DIRS: &[&str] = &["builds-v0", "archive-v0", "environments-v2"];

/// `path` relative to `cwd`, `~` expanded.
fn abs(cwd: &Path, path: &str) -> PathBuf {
    cwd.join(crate::paths::expand_tilde(path))
}

fn text(out: Vec<u8>) -> String {
    String::from_utf8_lossy(&out).trim().to_string()
}

// ------------------------------------------------------------------- uv ----

/// Where uv's indexes come from: its configuration files and `UV_*`.
#[derive(Default)]
struct UvIndexes {
    /// The index that replaces the built-in default, if one is configured.
    default: Option<String>,
    /// Further indexes and find-links URLs.
    extra: Vec<String>,
    /// `no-index`: no index at all.
    no_index: bool,
}

impl UvIndexes {
    /// Reads the index settings of one uv settings table (a `uv.toml`, or
    /// `[tool.uv]` of a `pyproject.toml`), including its `[pip]` section.
    fn read_table(&mut self, t: &toml::Table) {
        for table in [Some(t), t.get("pip").and_then(|v| v.as_table())]
            .into_iter()
            .flatten()
        {
            for key in ["default-index", "index-url"] {
                if let Some(u) = table.get(key).and_then(|v| v.as_str()) {
                    self.default.get_or_insert_with(|| u.to_string());
                }
            }
            for key in ["extra-index-url", "find-links"] {
                let urls = table.get(key).and_then(|v| v.as_array());
                self.extra.extend(
                    urls.into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(String::from)),
                );
            }
            for index in table
                .get("index")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_table())
            {
                let Some(url) = index.get("url").and_then(|v| v.as_str()) else {
                    continue;
                };
                if index.get("default").and_then(|v| v.as_bool()) == Some(true) {
                    self.default.get_or_insert_with(|| url.to_string());
                } else {
                    self.extra.push(url.to_string());
                }
            }
            if table.get("no-index").and_then(|v| v.as_bool()) == Some(true) {
                self.no_index = true;
            }
        }
    }

    /// A configuration file uv said it read.
    fn read_file(&mut self, path: &Path) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let Ok(t) = toml::from_str::<toml::Table>(&text) else {
            return;
        };
        if path.file_name().is_some_and(|n| n == "pyproject.toml") {
            if let Some(uv) = t
                .get("tool")
                .and_then(|v| v.get("uv"))
                .and_then(|v| v.as_table())
            {
                self.read_table(uv);
            }
        } else {
            self.read_table(&t);
        }
    }

    /// `UV_*` variables, which take precedence over the files.
    fn read_env(&mut self) {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        if let Some(d) = var("UV_DEFAULT_INDEX").or_else(|| var("UV_INDEX_URL")) {
            self.default = Some(d);
        }
        for k in ["UV_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS"] {
            if let Some(v) = var(k) {
                self.extra
                    .extend(v.split([' ', ',']).filter(|s| !s.is_empty()).map(index_url));
            }
        }
        if var("UV_NO_INDEX").is_some_and(|v| v != "0" && v != "false") {
            self.no_index = true;
        }
    }
}

/// The URL of an `--index` value, which may be `name=url`.
fn index_url(v: &str) -> String {
    match v.split_once('=') {
        Some((name, url)) if !name.contains(['/', ':']) => url.to_string(),
        _ => v.to_string(),
    }
}

/// The configuration files uv reports reading (or looking for) in its
/// debug output: `Found user configuration in: PATH`, `Found workspace
/// configuration at `PATH``.
fn uv_config_files(stderr: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for line in stderr.lines().filter(|l| l.contains("configuration")) {
        let path = if let Some((_, rest)) = line.split_once('`') {
            rest.split('`').next()
        } else {
            line.split_once(" in: ").map(|(_, p)| p.trim())
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            let p = PathBuf::from(p);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// uv's built-in default index, as its help text states it
/// (`(by default: <URL>)`).
fn uv_builtin_index(help: &str) -> Option<String> {
    let (_, rest) = help.split_once("by default: <")?;
    let url = rest.split('>').next()?;
    host_port(url).map(|_| url.to_string())
}

/// Runs `uv ARGS` in `cwd` and returns stdout (and stderr).
fn uv(uv: &Path, cwd: &Path, args: &[&str]) -> Result<(String, String), FactsError> {
    // uv keeps what it learns about interpreters in its cache, which the
    // read-only probe cannot write: every question but where the cache is
    // gets a scratch one.
    let scratch: &[&str] = if args.contains(&"cache") {
        &[]
    } else {
        &["UV_CACHE_DIR"]
    };
    let (out, err) = super::probe::output(
        Command::new(uv)
            .args(args)
            .current_dir(cwd)
            .env("UV_NO_PROGRESS", "1"),
        uv,
        scratch,
    )?;
    Ok((text(out), String::from_utf8_lossy(&err).into_owned()))
}

/// The start of the probes run in an interpreter without its site hooks
/// (`-I -S`), so nothing of the environment runs outside the sandbox:
/// without `site` Python does not know it runs in a virtualenv, so its
/// `pyvenv.cfg` is found the way `site` finds it, and `paths` are that
/// environment's.
const VENV_PATHS: &str = r#"
import json, os, sys, sysconfig
exe_dir = os.path.dirname(os.path.abspath(sys.executable))
venv = next((d for d in (exe_dir, os.path.dirname(exe_dir))
             if os.path.isfile(os.path.join(d, "pyvenv.cfg"))), None)
if venv:
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else "posix_prefix"
    paths = sysconfig.get_paths(scheme=scheme, vars={"base": venv, "platbase": venv})
else:
    paths = sysconfig.get_paths()
"#;

/// Where an interpreter installs.
const SITE_PROBE: &str = r#"
# A virtualenv's own root holds uv's lock and temporary files.
# The data path (the environment's root or prefix) takes a wheel's data files.
print(json.dumps([paths["purelib"], paths["platlib"], paths["scripts"], paths["data"]] + ([venv] if venv else [])))
"#;

/// The site-packages, scripts and data directories of `python`, and its
/// virtualenv's root when it runs in one.
fn site_dirs(python: &Path) -> Result<Vec<PathBuf>, FactsError> {
    let out = probe(
        Command::new(python).args(["-I", "-S", "-c", &format!("{VENV_PATHS}{SITE_PROBE}")]),
        python,
    )?;
    let dirs: Vec<String> = serde_json::from_slice(&out).map_err(|e| FactsError::Probe {
        exe: python.display().to_string(),
        why: format!("unexpected probe output: {e}"),
    })?;
    let mut v: Vec<PathBuf> = dirs.into_iter().map(PathBuf::from).collect();
    v.dedup();
    Ok(v)
}

/// The host pip says its default index hands downloads to, when pip's
/// default index is `index` (uv does not report it; both name the same
/// index by default). Asks the Python beside `tool`, else `python3`.
fn file_host_for(index: &str, tool: &Path) -> Option<String> {
    let beside = tool
        .canonicalize()
        .ok()
        .map(|t| t.with_file_name("python"))
        .filter(|p| p.is_file());
    let python = beside.or_else(|| {
        let path = std::env::var_os("PATH");
        crate::shim::find_real(
            "python3",
            path.as_deref(),
            crate::shim::shims_dir().as_deref(),
        )
    })?;
    let pip = pip_facts(&python, Some(&python)).ok()?;
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    let default = pip.values.get("default_index")?;
    same(default, index)
        .then(|| pip.values.get("file_host").cloned())
        .flatten()
}

fn uv_facts(real: &Path, uv_exe: &Path, cwd: &Path) -> Result<ManagerFacts, FactsError> {
    let (cache, debug) = uv(uv_exe, cwd, &["-v", "cache", "dir"])?;
    let version = debug
        .lines()
        .find_map(|l| l.strip_prefix("DEBUG uv "))
        .and_then(|l| l.split_whitespace().next())
        .map(String::from);
    let config_files = uv_config_files(&debug);
    let mut idx = UvIndexes::default();
    idx.read_env();
    for f in &config_files {
        idx.read_file(f);
    }
    let (help, _) = uv(uv_exe, cwd, &["pip", "install", "--help"])?;
    let builtin = uv_builtin_index(&help);
    let mut registries = Vec::new();
    let mut download_hosts = Vec::new();
    if !idx.no_index {
        match (&idx.default, &builtin) {
            (Some(d), _) => registries.push(d.clone()),
            (None, Some(b)) => {
                registries.push(b.clone());
                download_hosts.extend(file_host_for(b, uv_exe));
            }
            (None, None) => {}
        }
        registries.extend(idx.extra.iter().filter(|u| host_port(u).is_some()).cloned());
    }
    let mut values = BTreeMap::new();
    if !idx.no_index
        && let Some(d) = idx.default.as_ref().or(builtin.as_ref())
    {
        values.insert("default_index".into(), d.clone());
    }
    if let Some(b) = &builtin {
        values.insert("builtin_index".into(), b.clone());
    }
    for (key, args) in [
        ("python_dir", &["python", "dir"][..]),
        ("python_bin", &["python", "dir", "--bin"]),
        ("tool_dir", &["tool", "dir"]),
        ("tool_bin", &["tool", "dir", "--bin"]),
    ] {
        if let Ok((dir, _)) = uv(uv_exe, cwd, args) {
            values.insert(key.into(), dir);
        }
    }
    // The environment `uv pip` installs into: the active or nearest
    // virtualenv, else the first Python on PATH.
    let mut write_roots = Vec::new();
    if let Ok((python, _)) = uv(uv_exe, cwd, &["python", "find"]) {
        write_roots = site_dirs(Path::new(&python)).unwrap_or_default();
        values.insert("target_python".into(), python);
    }
    let mut deps: Vec<Dep> = config_files.iter().map(|f| Dep::of(f)).collect();
    deps.push(Dep::of(real));
    deps.push(Dep::of(uv_exe));
    // A virtualenv or pinned Python appearing here changes the target.
    for a in cwd.ancestors() {
        deps.push(Dep::of(&a.join(".venv/pyvenv.cfg")));
        deps.push(Dep::of(&a.join(".python-version")));
        deps.push(Dep::of(&a.join("pyproject.toml")));
        deps.push(Dep::of(&a.join("uv.toml")));
    }
    let mut f = ManagerFacts::skeleton(super::Family::PyTools, real);
    f.version = version;
    f.write_roots = write_roots;
    f.cache_dirs = vec![PathBuf::from(cache)];
    f.config_files = config_files;
    f.registries = registries;
    f.download_hosts = download_hosts;
    f.values = values;
    f.derived = true;
    f.deps = deps;
    Ok(f)
}

/// The index options every uv (and `uv pip`) command takes.
fn apply_uv_indexes(p: &mut InstallPlan) {
    let req = p.request.clone();
    let default = req
        .option("default-index")
        .or(req.option("index-url"))
        .map(String::from);
    if let Some(d) = default {
        // The index replaces whichever default was configured.
        if p.facts.values.contains_key("default_index")
            && p.facts.values.get("default_index") == p.registries.first()
        {
            p.registries.remove(0);
        }
        p.facts.download_hosts.clear();
        p.registries.insert(0, d);
    }
    for v in req.option_values("index") {
        p.registries.push(index_url(v));
    }
    for key in ["extra-index-url", "find-links"] {
        for v in req.option_values(key) {
            if host_port(v).is_some() {
                p.registries.push(v.to_string());
            }
        }
    }
    if req.flag("no-index") {
        p.registries.clear();
        p.facts.download_hosts.clear();
    }
}

/// The index logins (`UV_INDEX_<NAME>_*`) that the project's index names
/// would send to the project's own URLs (`index_names`).
fn uv_directed(p: &InstallPlan, cwd: &Path, dir: &Path) -> Vec<crate::model::plan::Directed> {
    let home = crate::paths::home();
    let project = uv_project(dir, p.request.option("project"));
    let mut files = p.config_files.clone();
    for d in index_names::project_dirs(&project, home.as_deref())
        .into_iter()
        .chain(index_names::project_dirs(cwd, home.as_deref()))
    {
        files.extend([d.join("pyproject.toml"), d.join("uv.toml")]);
    }
    files.sort();
    files.dedup();
    let theirs = |f: &Path| {
        f.starts_with(&project) || crate::sandbox::scrub::is_project_file(f, cwd, home.as_deref())
    };
    let table = |f: &Path| match f.file_name().is_some_and(|n| n == "pyproject.toml") {
        true => index_names::table_at(f, &["tool", "uv"]),
        false => index_names::table_at(f, &[]),
    };
    let mut projects = Vec::new();
    let mut user = Vec::new();
    for f in &files {
        let named = index_names::in_table(&table(f), "index");
        match theirs(f) {
            true => projects.extend(named.into_iter().map(|n| (f.clone(), n))),
            false => user.extend(named),
        }
    }
    for k in ["UV_INDEX", "UV_DEFAULT_INDEX"] {
        if let Ok(v) = std::env::var(k) {
            user.extend(index_names::from_list(&v));
        }
    }
    for k in ["index", "default-index"] {
        for v in p.request.option_values(k) {
            user.extend(index_names::from_list(v));
        }
    }
    index_names::directed(
        &projects,
        &user,
        &["UV_INDEX_{}_USERNAME", "UV_INDEX_{}_PASSWORD"],
    )
}

/// The source logins (`POETRY_HTTP_BASIC_<NAME>_*`) that the project's
/// sources would send to the project's own URLs: poetry's sources are the
/// project's, so a name is the user's only where the user's configuration
/// (`repositories.<name>.url`, `POETRY_REPOSITORIES_<NAME>_URL`) gives it
/// the same URL.
fn poetry_directed(
    p: &InstallPlan,
    cwd: &Path,
    values: &BTreeMap<String, String>,
) -> Vec<crate::model::plan::Directed> {
    let Some(project) = values.get("project").map(PathBuf::from) else {
        return Vec::new();
    };
    let home = crate::paths::home();
    let manifest = project.join("pyproject.toml");
    let projects: Vec<_> = index_names::in_table(
        &index_names::table_at(&manifest, &["tool", "poetry"]),
        "source",
    )
    .into_iter()
    .map(|n| (manifest.clone(), n))
    .collect();
    let mut user = Vec::new();
    for f in &p.config_files {
        if f.starts_with(&project)
            || crate::sandbox::scrub::is_project_file(f, cwd, home.as_deref())
        {
            continue;
        }
        let repos = index_names::table_at(f, &["repositories"]);
        user.extend(repos.iter().filter_map(|(name, v)| {
            Some(index_names::Named {
                name: name.clone(),
                url: v.get("url")?.as_str()?.to_string(),
            })
        }));
    }
    for (k, v) in std::env::vars() {
        if let Some(name) = k
            .strip_prefix("POETRY_REPOSITORIES_")
            .and_then(|r| r.strip_suffix("_URL"))
        {
            user.push(index_names::Named {
                name: name.to_string(),
                url: v,
            });
        }
    }
    index_names::directed(
        &projects,
        &user,
        &[
            "POETRY_HTTP_BASIC_{}_USERNAME",
            "POETRY_HTTP_BASIC_{}_PASSWORD",
        ],
    )
}

/// The project a uv project command works on: `--project`, else the
/// nearest directory holding a `pyproject.toml`, else `dir`.
fn uv_project(dir: &Path, project: Option<&str>) -> PathBuf {
    if let Some(p) = project {
        return abs(dir, p);
    }
    dir.ancestors()
        .find(|d| d.join("pyproject.toml").is_file())
        .unwrap_or(dir)
        .to_path_buf()
}

fn apply_uv(p: &mut InstallPlan, cwd: &Path) {
    apply_uv_indexes(p);
    let req = p.request.clone();
    let dir = req
        .option("directory")
        .map(|d| abs(cwd, d))
        .unwrap_or_else(|| cwd.to_path_buf());
    p.directed = uv_directed(p, cwd, &dir);
    if let Some(c) = req.option("cache-dir") {
        p.cache_dirs = vec![abs(cwd, c)];
    }
    let value = |k: &str| p.facts.values.get(k).map(PathBuf::from);
    let uv_exe = p.real_exe.clone();
    let command = if p.tool == Tool::Uvx {
        "tool run"
    } else {
        req.command.as_str()
    };
    p.write_roots = match command {
        "pip install" | "pip sync" => {
            if let Some(t) = req.option("target").or(req.option("prefix")) {
                vec![abs(cwd, t)]
            } else if req.flag("system") || req.option("python").is_some() || dir != cwd {
                let mut args = vec!["python", "find"];
                if req.flag("system") {
                    args.push("--system");
                }
                if let Some(py) = req.option("python") {
                    args.push(py);
                }
                uv(&uv_exe, &dir, &args)
                    .ok()
                    .and_then(|(py, _)| site_dirs(Path::new(&py)).ok())
                    .unwrap_or_else(|| p.write_roots.clone())
            } else {
                p.write_roots.clone()
            }
        }
        "pip compile" => req
            .option("output-file")
            .map(|o| abs(&dir, o))
            .and_then(|o| o.parent().map(Path::to_path_buf))
            .into_iter()
            .collect(),
        "tool install" | "tool upgrade" => [value("tool_dir"), value("tool_bin")]
            .into_iter()
            .flatten()
            .collect(),
        // Ephemeral environments live in the cache; uv locks the tools
        // directory while it looks for an installed tool.
        "tool run" => value("tool_dir").into_iter().collect(),
        "python install" | "python upgrade" => {
            let dir = req
                .option("install-dir")
                .map(|d| abs(cwd, d))
                .or(value("python_dir"));
            [dir, value("python_bin")].into_iter().flatten().collect()
        }
        "venv" => {
            let words: Vec<&String> = req.packages.iter().collect();
            vec![
                words
                    .first()
                    .map_or_else(|| dir.join(".venv"), |w| abs(&dir, w)),
            ]
        }
        "build" => {
            let project = uv_project(&dir, req.option("project"));
            vec![
                req.option("out-dir")
                    .map_or_else(|| project.join("dist"), |o| abs(&dir, o)),
            ]
        }
        _ => {
            // Project commands lock and sync the project's environment,
            // downloading a Python there when none fits.
            let project = uv_project(&dir, req.option("project"));
            let env = std::env::var("UV_PROJECT_ENVIRONMENT")
                .map(|e| abs(&project, &e))
                .unwrap_or_else(|_| project.join(".venv"));
            p.write_files = vec![project.join("pyproject.toml"), project.join("uv.lock")];
            // uv installs the project (and its workspace members, below it)
            // editable.
            p.editable_projects.push(project.clone());
            p.config_files.push(project.join("uv.toml"));
            // uv replaces the manifest and lockfile by renaming a temporary
            // file from the project directory onto them, so the directory
            // itself is written (as for an npm project). An environment
            // inside it is not named apart: creating it empty beforehand
            // would leave a `.venv` behind where uv makes none (`uv run`
            // outside a project).
            let outside = (!env.starts_with(&project)).then_some(env);
            let mut roots: Vec<PathBuf> = [Some(project.clone()), outside, value("python_dir")]
                .into_iter()
                .flatten()
                .collect();
            // Its site-packages, when it exists, for the snapshot.
            let env_dir = std::env::var("UV_PROJECT_ENVIRONMENT")
                .map(|e| abs(&project, &e))
                .unwrap_or_else(|_| project.join(".venv"));
            if let (Some(parent), Some(name)) = (env_dir.parent(), env_dir.file_name()) {
                roots.extend(env_sites(parent, &name.to_string_lossy()));
            }
            roots
        }
    };
}

// ----------------------------------------------------------------- pipx ----

/// `pipx environment`: its own variables, then the values it derived.
fn pipx_environment(real: &Path) -> Result<BTreeMap<String, String>, FactsError> {
    // pipx opens a log file in its state directory before it answers; the
    // read-only probe refuses that, so it is asked with a scratch state
    // directory and its log directory is put back where pipx keeps it
    // (platformdirs: `$XDG_STATE_HOME/pipx/log`).
    let state = "XDG_STATE_HOME";
    let out = match probe(Command::new(real).arg("environment"), real) {
        Ok(out) => out,
        Err(_) => super::probe::run_with_scratch_vars(
            Command::new(real).arg("environment"),
            real,
            &[state],
        )?,
    };
    let real_log = std::env::var_os(state)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| crate::paths::home().map(|h| h.join(".local/state")))
        .map(|d| d.join("pipx/log"));
    let mut vars = BTreeMap::new();
    for line in String::from_utf8_lossy(&out).lines() {
        if let Some((k, v)) = line.split_once('=')
            && k.starts_with("PIPX_")
            && !v.is_empty()
        {
            let v = match (&real_log, k == "PIPX_LOG_DIR" && v.contains(state)) {
                (Some(l), true) => l.display().to_string(),
                _ => v.to_string(),
            };
            vars.insert(k.to_string(), v);
        }
    }
    Ok(vars)
}

fn pipx_facts(real: &Path, cwd: &Path) -> Result<ManagerFacts, FactsError> {
    let env = pipx_environment(real)?;
    let get = |k: &str| env.get(k).map(PathBuf::from);
    // The backend that installs: uv or pip, with its own configuration.
    let backend = match (
        env.get("PIPX_RESOLVED_BACKEND").map(String::as_str),
        get("PIPX_UV_BINARY"),
    ) {
        (Some("uv"), Some(uv_exe)) => uv_facts(real, &uv_exe, cwd)?,
        _ => {
            let python = shebang_python(real).ok_or_else(|| FactsError::Probe {
                exe: real.display().to_string(),
                why: "no Python named in its first line".into(),
            })?;
            pip_facts(real, Some(&python))?
        }
    };
    let mut f = ManagerFacts::skeleton(super::Family::PyTools, real);
    f.version = probe(Command::new(real).arg("--version"), real)
        .ok()
        .map(text);
    f.write_roots = [
        "PIPX_HOME",
        "PIPX_LOCAL_VENVS",
        "PIPX_BIN_DIR",
        "PIPX_MAN_DIR",
    ]
    .iter()
    .filter_map(|k| get(k))
    .collect();
    f.write_roots.dedup();
    f.cache_dirs = backend.cache_dirs.clone();
    f.cache_dirs.extend(get("PIPX_VENV_CACHEDIR"));
    if let Some(d) = get("PIPX_VENV_CACHEDIR") {
        f.values
            .insert("venv_cache".into(), d.display().to_string());
    }
    f.log_dirs = get("PIPX_LOG_DIR").into_iter().collect();
    f.config_files = backend.config_files.clone();
    f.registries = backend.registries.clone();
    f.download_hosts = backend.download_hosts.clone();
    f.proxy = backend.proxy.clone();
    f.values = env.clone();
    // The Python pipx creates environments with, for their layout.
    if let Some(python) = get("PIPX_DEFAULT_PYTHON") {
        let out = probe(
            Command::new(&python).args([
                "-I",
                "-S",
                "-c",
                "import sys; print('%d.%d' % sys.version_info[:2])",
            ]),
            &python,
        );
        if let Ok(v) = out {
            f.values.insert("python_version".into(), text(v));
        }
    }
    f.values.extend(
        backend
            .values
            .iter()
            .map(|(k, v)| (format!("backend.{k}"), v.clone())),
    );
    f.derived = true;
    f.deps.extend(backend.deps);
    Ok(f)
}

/// Index options inside `--pip-args` (pip's own spelling).
fn pip_arg_indexes(args: &str) -> (Option<String>, Vec<String>) {
    let words: Vec<&str> = args.split_whitespace().collect();
    let mut default = None;
    let mut extra = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (name, inline) = match words[i].split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (words[i], None),
        };
        let value = inline.or_else(|| words.get(i + 1).copied());
        match name {
            "-i" | "--index-url" => default = value.map(String::from),
            "--extra-index-url" | "-f" | "--find-links" => extra.extend(value.map(String::from)),
            _ => {}
        }
        i += 1;
    }
    (default, extra)
}

fn apply_pipx(p: &mut InstallPlan, _cwd: &Path) {
    let req = p.request.clone();
    let (pip_default, pip_extra) = req
        .option_values("pip-args")
        .iter()
        .map(|a| pip_arg_indexes(a))
        .fold((None, Vec::new()), |(d, mut e), (d2, e2)| {
            e.extend(e2);
            (d2.or(d), e)
        });
    if let Some(d) = req.option("index-url").map(String::from).or(pip_default) {
        p.registries = vec![d];
        p.facts.download_hosts.clear();
    }
    p.registries
        .extend(pip_extra.into_iter().filter(|u| host_port(u).is_some()));
    let get = |k: &str| p.facts.values.get(k).map(PathBuf::from);
    if req.flag("global") {
        p.write_roots = [
            "PIPX_GLOBAL_HOME",
            "PIPX_GLOBAL_BIN_DIR",
            "PIPX_GLOBAL_MAN_DIR",
        ]
        .iter()
        .filter_map(|k| get(k))
        .collect();
    }
    // The site-packages of each app's environment, named before it exists,
    // so the persistence snapshot covers its `.pth` files.
    let venvs = if req.flag("global") {
        get("PIPX_GLOBAL_HOME").map(|h| h.join("venvs"))
    } else {
        get("PIPX_LOCAL_VENVS")
    };
    if let (Some(venvs), Some(version)) = (venvs, p.facts.values.get("python_version")) {
        let suffix = req.option("suffix").unwrap_or("");
        let apps: Vec<String> = match req.command.as_str() {
            "install" | "upgrade" | "reinstall" => req.packages.clone(),
            "inject" => req.packages.first().cloned().into_iter().collect(),
            _ => Vec::new(),
        };
        for app in apps {
            let name = format!("{}{suffix}", canonical_name(&app));
            p.write_roots.push(
                venvs
                    .join(name)
                    .join(format!("lib/python{version}/site-packages")),
            );
        }
    }
}

/// A requirement's project name as pipx names its environment: up to the
/// first version or extras character, normalized like PEP 503.
fn canonical_name(spec: &str) -> String {
    let name = spec
        .split(|c: char| "=<>!~[;@ (".contains(c))
        .next()
        .unwrap_or(spec);
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

// --------------------------------------------------------------- poetry ----

/// Asks poetry, in its own Python without site hooks, for its settings, the
/// project's sources (the implicit default index included) and where the
/// project's environment lives. Loads the project as poetry itself would.
const POETRY_PROBE: &str = r#"
for p in (paths["purelib"], paths["platlib"]):
    if p not in sys.path:
        sys.path.append(p)
from pathlib import Path
from poetry.__version__ import __version__
from poetry.config.config import Config
from poetry.locations import CONFIG_DIR
out = {"version": __version__, "own_env": venv or sys.prefix,
       "config_files": [str(CONFIG_DIR / "config.toml"), str(CONFIG_DIR / "auth.toml")]}
config = Config.create()
cwd = Path.cwd()
project = next((d for d in [cwd, *cwd.parents] if (d / "pyproject.toml").is_file()), None)
out["repos"] = []
if project:
    from poetry.factory import Factory
    from poetry.utils.env import EnvManager
    poetry = Factory().create_poetry(project)
    config = poetry.config
    out["project"] = str(project)
    out["repos"] = [[r.name, r.url] for r in poetry.pool.all_repositories if getattr(r, "url", None)]
    manager = EnvManager(poetry)
    out["in_project"] = manager.use_in_project_venv()
    out["env_name"] = manager.base_env_name
    out["config_files"].append(str(project / "poetry.toml"))
# poetry creates environments with virtualenv, which caches its seed wheels.
out["app_data"] = []
try:
    from virtualenv.app_data.cache_migration import _default_dirs
    out["app_data"] = [d for d in (_default_dirs() or ()) if d]
except Exception:
    pass
override = os.environ.get("VIRTUALENV_OVERRIDE_APP_DATA", "").strip()
if override:
    out["app_data"] = [override]
out["cache_dir"] = str(config.get("cache-dir"))
out["data_dir"] = str(config.get("data-dir"))
out["venvs"] = str(config.virtualenvs_path)
print(json.dumps(out))
"#;

#[derive(serde::Deserialize)]
struct PoetryProbe {
    version: String,
    own_env: String,
    config_files: Vec<String>,
    repos: Vec<(String, String)>,
    project: Option<String>,
    #[serde(default)]
    in_project: bool,
    env_name: Option<String>,
    cache_dir: String,
    data_dir: String,
    venvs: String,
    #[serde(default)]
    app_data: Vec<String>,
}

/// The site-packages directories of the environments under `root` whose
/// names start with `prefix` (`<root>/<prefix>*/lib/python*/site-packages`).
fn env_sites(root: &Path, prefix: &str) -> Vec<PathBuf> {
    let dirs = |d: &Path, start: &str| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(start))
            .map(|e| e.path())
            .collect()
    };
    dirs(root, prefix)
        .iter()
        .flat_map(|env| dirs(&env.join("lib"), "python"))
        .map(|lib| lib.join("site-packages"))
        .filter(|s| s.is_dir())
        .collect()
}

fn poetry_facts(real: &Path, cwd: &Path) -> Result<ManagerFacts, FactsError> {
    let python = shebang_python(real).ok_or_else(|| FactsError::Probe {
        exe: real.display().to_string(),
        why: "no Python named in its first line".into(),
    })?;
    let out = probe(
        Command::new(&python)
            .args(["-I", "-S", "-c", &format!("{VENV_PATHS}{POETRY_PROBE}")])
            .current_dir(cwd),
        &python,
    )?;
    let pr: PoetryProbe = serde_json::from_slice(&out).map_err(|e| FactsError::Probe {
        exe: python.display().to_string(),
        why: format!("unexpected probe output: {e}"),
    })?;
    let mut f = ManagerFacts::skeleton(super::Family::PyTools, real);
    f.version = Some(pr.version);
    f.interpreter = Some(python.clone());
    let venvs = PathBuf::from(&pr.venvs);
    if let Some(project) = pr.project.as_ref().map(PathBuf::from) {
        // poetry rewrites pyproject.toml and poetry.lock in the project
        // (narrowed to them by `project_grants` once both exist).
        f.write_roots.push(project.clone());
        if pr.in_project {
            // Inside the project, which is a root already; its
            // site-packages, when it exists, for the snapshot.
            f.write_roots.extend(env_sites(&project, ".venv"));
        } else {
            // Named by configuration the project may ship (`poetry.toml`
            // `virtualenvs.path`): judged as the managers' caches are
            // (poetry's default lies in its cache), granted only when it
            // is no persistence place.
            f.cache_dirs.push(venvs.clone());
            if let Some(name) = &pr.env_name {
                f.write_roots
                    .extend(env_sites(&venvs, &format!("{name}-py")));
            }
        }
        f.deps.push(Dep::of(&project.join("pyproject.toml")));
        f.deps.push(Dep::of(&project.join(".venv/pyvenv.cfg")));
        f.values
            .insert("project".into(), project.display().to_string());
        f.values
            .insert("in_project".into(), pr.in_project.to_string());
    }
    // An environment made since (`poetry env use`) is a new target.
    f.deps.push(Dep::of(&venvs.join("envs.toml")));
    f.cache_dirs.insert(0, PathBuf::from(&pr.cache_dir));
    f.cache_dirs.extend(pr.app_data.iter().map(PathBuf::from));
    f.config_files = pr.config_files.iter().map(PathBuf::from).collect();
    for (name, url) in &pr.repos {
        f.registries.push(url.clone());
        // The implicit default index hands downloads to another host,
        // which poetry does not name: pip's model of that index does.
        if name == "PyPI" {
            f.download_hosts.extend(file_host_for(url, real));
        }
    }
    f.values.insert("data_dir".into(), pr.data_dir);
    f.values.insert("own_env".into(), pr.own_env);
    f.values.insert("venvs".into(), pr.venvs);
    f.derived = true;
    f.deps.push(Dep::of(&python));
    f.deps.extend(f.config_files.iter().map(|c| Dep::of(c)));
    Ok(f)
}

/// `poetry self …` changes poetry's own environment; `poetry python
/// install` writes its Python directory; `--directory`/`--project` name
/// another project, whose facts are asked there.
fn apply_poetry(p: &mut InstallPlan, cwd: &Path) {
    let req = p.request.clone();
    let value = |k: &str| p.facts.values.get(k).map(PathBuf::from);
    if req.command.starts_with("self ") {
        p.write_roots = value("own_env").into_iter().collect();
        return;
    }
    if req.command == "python install" {
        p.write_roots = value("data_dir")
            .map(|d| d.join("python"))
            .into_iter()
            .collect();
        return;
    }
    let mut values = p.facts.values.clone();
    if let Some(dir) = req.option("project").or(req.option("directory")) {
        let dir = abs(cwd, dir);
        if let Ok(f) = poetry_facts(&p.real_exe, &dir) {
            p.write_roots = f.write_roots.clone();
            p.cache_dirs = f.cache_dirs.clone();
            p.registries = f.registries.clone();
            p.config_files = f.config_files.clone();
            p.facts.download_hosts = f.download_hosts.clone();
            values = f.values;
        }
    }
    p.directed = poetry_directed(p, cwd, &values);
    project_grants(p, &values);
}

/// poetry writes in its project `pyproject.toml` and `poetry.lock` (in
/// place) and, in-project, its `.venv`: once the lock and the environment
/// exist, those are the grants instead of the whole project (whose
/// `.git/hooks` a whole-project grant would reach). A missing one is
/// created in the project directory, which landlock can grant only with
/// everything beneath: then the project stays the write root.
fn project_grants(p: &mut InstallPlan, values: &BTreeMap<String, String>) {
    let (Some(project), Some(in_project)) = (values.get("project"), values.get("in_project"))
    else {
        return;
    };
    let project = PathBuf::from(project);
    let (lock, env) = (project.join("poetry.lock"), project.join(".venv"));
    let env_made = in_project != "true" || env.join("pyvenv.cfg").is_file();
    if !lock.is_file() || !env_made {
        return;
    }
    p.write_roots.retain(|r| *r != project);
    if in_project == "true" {
        p.write_roots.insert(0, env);
    }
    p.write_files.extend([project.join("pyproject.toml"), lock]);
    // The root package, installed editable, is built in the project by its
    // backend (setuptools' egg-info; poetry-core writes nothing there).
    if !p.request.flag("no-root") && builds_root(&project) {
        super::facts::grant_build_outputs(p, &project, true);
    }
}

/// True unless the project says it is no package (`[tool.poetry]
/// package-mode = false`): then poetry installs no root package.
fn builds_root(project: &Path) -> bool {
    let table = std::fs::read_to_string(project.join("pyproject.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok());
    let mode = table
        .as_ref()
        .and_then(|t| t.get("tool")?.get("poetry")?.get("package-mode")?.as_bool());
    mode != Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uv_debug_output_names_its_config_files() {
        let err = "DEBUG Found workspace root: /p\n\
                   DEBUG Found workspace configuration at `/p/pyproject.toml`\n\
                   DEBUG Searching for user configuration in: /h/.config/uv/uv.toml\n\
                   DEBUG Found user configuration in: /h/.config/uv/uv.toml\n\
                   DEBUG uv 0.13.9 (x86_64-unknown-linux-gnu)\n";
        assert_eq!(
            uv_config_files(err),
            vec![
                PathBuf::from("/p/pyproject.toml"),
                PathBuf::from("/h/.config/uv/uv.toml")
            ]
        );
    }

    #[test]
    fn uv_help_names_the_builtin_index() {
        let help = "      --default-index <DEFAULT_INDEX>\n          The default package index (by default: <http://127.0.0.1:9/simple>) [env: UV_DEFAULT_INDEX]\n";
        assert_eq!(
            uv_builtin_index(help),
            Some("http://127.0.0.1:9/simple".into())
        );
        assert_eq!(uv_builtin_index("no default here"), None);
    }

    #[test]
    fn uv_config_tables_give_indexes() {
        let t: toml::Table = toml::from_str(
            "index-url = \"http://127.0.0.1:1/simple\"\n\
             extra-index-url = [\"http://127.0.0.1:2/simple\"]\n\
             [[index]]\nurl = \"http://127.0.0.1:3/simple\"\n\
             [pip]\nfind-links = [\"http://127.0.0.1:4/links\"]\n",
        )
        .unwrap();
        let mut idx = UvIndexes::default();
        idx.read_table(&t);
        assert_eq!(idx.default.as_deref(), Some("http://127.0.0.1:1/simple"));
        assert_eq!(
            idx.extra,
            vec![
                "http://127.0.0.1:2/simple",
                "http://127.0.0.1:3/simple",
                "http://127.0.0.1:4/links"
            ]
        );
        assert_eq!(
            index_url("local=http://127.0.0.1:5/s"),
            "http://127.0.0.1:5/s"
        );
        assert_eq!(
            index_url("http://127.0.0.1:5/s?a=b"),
            "http://127.0.0.1:5/s?a=b"
        );
    }

    #[test]
    fn pip_args_give_indexes() {
        let (d, e) = pip_arg_indexes(
            "--index-url http://127.0.0.1:1/simple --extra-index-url=http://127.0.0.1:2/s -q",
        );
        assert_eq!(d.as_deref(), Some("http://127.0.0.1:1/simple"));
        assert_eq!(e, vec!["http://127.0.0.1:2/s"]);
    }

    /// The plan for `tool ARGS` over facts naming a default index with a
    /// download host of its own.
    fn plan_for(tool: Tool, args: &[&str], cwd: &Path) -> InstallPlan {
        let words: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let super::super::Classified::Install(request) = super::super::classify(tool, &words)
        else {
            panic!("{args:?} is not an install");
        };
        let mut facts = ManagerFacts::skeleton(super::super::Family::PyTools, Path::new("/x/uv"));
        facts.registries = vec!["http://127.0.0.1:1/simple".into()];
        facts.download_hosts = vec!["127.0.0.1:9".into()];
        facts.write_roots = vec![PathBuf::from("/env/site-packages")];
        facts
            .values
            .insert("default_index".into(), "http://127.0.0.1:1/simple".into());
        facts.derived = true;
        let mut p = InstallPlan {
            tool,
            real_exe: PathBuf::from("/x/uv"),
            request,
            write_roots: facts.write_roots.clone(),
            write_files: Vec::new(),
            transient_dirs: Vec::new(),
            notes: Vec::new(),
            create_files: Vec::new(),
            file_dirs: Vec::new(),
            cache_dirs: vec![PathBuf::from("/c")],
            guarded_caches: Vec::new(),
            build_dirs: Vec::new(),
            editable_projects: Vec::new(),
            log_dirs: Vec::new(),
            config_files: Vec::new(),
            registries: facts.registries.clone(),
            registry_hosts: Vec::new(),
            proxy: None,
            facts,
            facts_origin: super::super::facts::Origin::Probe,
            readable_credentials: Vec::new(),
            env: Vec::new(),
            hook_shell: None,
            startup_probes: Vec::new(),
            package_code: Vec::new(),
            package_code_writes: Vec::new(),
            watch_patterns: Vec::new(),
            attribution: Vec::new(),
            proxy_vars: Default::default(),
            project_manifest: None,
            root_script_dirs: Vec::new(),
            extra_args: Vec::new(),
            extra_args_at: 0,
            cooldown: None,
            trust: Default::default(),
            secret_refs: Vec::new(),
            project_refs: Vec::new(),
            directed: Vec::new(),
        };
        apply(&mut p, cwd);
        p
    }

    #[test]
    fn uv_options_move_indexes_and_roots() {
        let p = plan_for(
            Tool::Uv,
            &[
                "pip",
                "install",
                "--default-index",
                "http://127.0.0.1:2/simple",
                "--index",
                "local=http://127.0.0.1:3/s",
                "--target",
                "t",
                "--cache-dir",
                "/cache",
                "x",
            ],
            Path::new("/work"),
        );
        assert_eq!(
            p.registries,
            vec!["http://127.0.0.1:2/simple", "http://127.0.0.1:3/s"]
        );
        assert!(p.facts.download_hosts.is_empty());
        assert_eq!(p.write_roots, vec![PathBuf::from("/work/t")]);
        assert_eq!(p.cache_dirs, vec![PathBuf::from("/cache")]);

        // An extra index keeps the default and its download host.
        let p = plan_for(
            Tool::Uv,
            &[
                "pip",
                "install",
                "--extra-index-url",
                "http://127.0.0.1:4/s",
                "x",
            ],
            Path::new("/work"),
        );
        assert_eq!(
            p.registries,
            vec!["http://127.0.0.1:1/simple", "http://127.0.0.1:4/s"]
        );
        assert_eq!(p.facts.download_hosts, vec!["127.0.0.1:9"]);
        assert_eq!(p.write_roots, vec![PathBuf::from("/env/site-packages")]);

        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("pyproject.toml"), "").unwrap();
        let sub = t.path().join("src");
        std::fs::create_dir(&sub).unwrap();
        let p = plan_for(Tool::Uv, &["add", "x"], &sub);
        assert!(p.write_roots.contains(&t.path().to_path_buf()));
        assert_eq!(
            p.write_files,
            vec![t.path().join("pyproject.toml"), t.path().join("uv.lock")]
        );
        let p = plan_for(Tool::Uv, &["pip", "install", "--no-index", "x"], &sub);
        assert!(p.registries.is_empty());
    }

    #[test]
    fn pipx_options_move_indexes() {
        let p = plan_for(
            Tool::Pipx,
            &["install", "--index-url", "http://127.0.0.1:2/simple", "x"],
            Path::new("/work"),
        );
        assert_eq!(p.registries, vec!["http://127.0.0.1:2/simple"]);
        assert!(p.facts.download_hosts.is_empty());
        let p = plan_for(
            Tool::Pipx,
            &[
                "install",
                "--pip-args=--extra-index-url http://127.0.0.1:3/s",
                "x",
            ],
            Path::new("/work"),
        );
        assert_eq!(
            p.registries,
            vec!["http://127.0.0.1:1/simple", "http://127.0.0.1:3/s"]
        );
    }

    #[test]
    fn pipx_environment_names() {
        assert_eq!(canonical_name("Black_Formatter[d]>=24"), "black-formatter");
        assert_eq!(canonical_name("pwapp"), "pwapp");
    }

    #[test]
    fn poetry_is_granted_its_lock_manifest_and_environment_once_they_exist() {
        let t = tempfile::tempdir().unwrap();
        let project = t.path().to_path_buf();
        let manifest = project.join("pyproject.toml");
        std::fs::write(&manifest, "[tool.poetry]\npackage-mode = false\n").unwrap();
        let values = |in_project: &str| -> BTreeMap<String, String> {
            [
                ("project".to_string(), project.display().to_string()),
                ("in_project".to_string(), in_project.to_string()),
            ]
            .into_iter()
            .collect()
        };
        let granted = |in_project: &str| {
            let mut p = plan_for(Tool::Poetry, &["install"], &project);
            p.write_roots = vec![project.clone()];
            project_grants(&mut p, &values(in_project));
            (p.write_roots, p.write_files)
        };
        // Nothing made yet: poetry creates them in the project.
        assert_eq!(granted("true").0, vec![project.clone()]);
        std::fs::write(project.join("poetry.lock"), "# lock").unwrap();
        assert_eq!(granted("true").0, vec![project.clone()]);
        std::fs::create_dir_all(project.join(".venv")).unwrap();
        std::fs::write(project.join(".venv/pyvenv.cfg"), "home = /usr").unwrap();
        let files = vec![project.join("pyproject.toml"), project.join("poetry.lock")];
        assert_eq!(
            granted("true"),
            (vec![project.join(".venv")], files.clone())
        );
        // The environment elsewhere (judged as a cache): the project
        // grants its two files only.
        assert_eq!(granted("false"), (Vec::new(), files));
        // A root package is built in the project by its backend:
        // poetry-core writes nothing there, setuptools its egg-info.
        std::fs::write(
            &manifest,
            "[project]\nname = \"pw-app\"\n[build-system]\nbuild-backend = \"poetry.core.masonry.api\"\n",
        )
        .unwrap();
        assert_eq!(granted("true").0, vec![project.join(".venv")]);
        std::fs::write(
            &manifest,
            "[project]\nname = \"pw-app\"\n[build-system]\nbuild-backend = \"setuptools.build_meta\"\n",
        )
        .unwrap();
        assert!(granted("true").0.contains(&project.join("pw_app.egg-info")));
        // Facts cached before `in_project` was recorded: unchanged.
        let mut p = plan_for(Tool::Poetry, &["install"], &project);
        p.write_roots = vec![project.clone()];
        let mut old = values("true");
        old.remove("in_project");
        project_grants(&mut p, &old);
        assert_eq!(p.write_roots, vec![project.clone()]);
    }
}
