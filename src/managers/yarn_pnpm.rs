//! Facts for yarn (classic, 1.x) and pnpm, read from the tools themselves,
//! and their command-line options applied to the install plan.
//!
//! yarn: `yarn config list --json` (yarn's own configuration and the npm
//! configuration it reads), `yarn cache dir`. pnpm: `pnpm config list
//! --json`, `pnpm store path`. Versions come from each tool's own
//! `package.json` (no extra start-up). Global directories are asked for only
//! when the command is a global add. yarn 2+ ("berry") keeps the skeleton:
//! its configuration is a different tool's.

use super::facts::{Dep, FactsError, InstallPlan, ManagerFacts, probe};
use super::npm_facts::{apply_registry_options, npm_local_prefix};
use super::{Family, Tool};
use crate::model::plan::Precreate;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// True for the tools this module derives facts for.
pub fn handles(tool: Tool) -> bool {
    matches!(tool, Tool::Yarn | Tool::Pnpm | Tool::Pnpx)
}

/// Per-project configuration files yarn and pnpm read in `dir`.
const PROJECT_CONFIGS: &[&str] = &[".npmrc", ".yarnrc", ".yarnrc.yml", "pnpm-workspace.yaml"];

/// The configuration files yarn classic reads in the project and every
/// directory above it.
const YARN_PROJECT_CONFIGS: &[&str] = &[".yarnrc", ".npmrc"];

/// The configuration files pnpm reads in the project.
const PNPM_PROJECT_CONFIGS: &[&str] = &["pnpm-workspace.yaml", ".npmrc"];

/// The project whose own configuration makes its facts its own: one with a
/// config file at or above it (below HOME), or one on another filesystem
/// than HOME (pnpm puts its store on the project's filesystem). Other
/// projects share the facts.
pub fn cache_project(cwd: &Path) -> Option<PathBuf> {
    let project = npm_local_prefix(cwd);
    let home = crate::paths::home();
    let own_config = project
        .ancestors()
        .take_while(|d| Some(*d) != home.as_deref())
        .any(|d| PROJECT_CONFIGS.iter().any(|f| d.join(f).exists()));
    let dev = |p: &Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).ok().map(|m| m.dev())
    };
    let other_fs = home.as_deref().is_some_and(|h| dev(h) != dev(&project));
    (own_config || other_fs).then_some(project)
}

/// Facts for yarn or pnpm at `real`, asked in `cwd`.
pub fn facts(real: &Path, tool: Tool, cwd: &Path) -> Result<ManagerFacts, FactsError> {
    match tool {
        Tool::Yarn => yarn_facts(real, cwd),
        // pnpx is pnpm's `dlx`: pnpm's configuration is what it uses.
        _ => pnpm_facts(real, &real.with_file_name("pnpm"), cwd),
    }
}

/// The root of the npm package named `name` that `exe` belongs to, and its version.
fn package_root(exe: &Path, name: &str) -> Option<(PathBuf, Option<String>)> {
    let exe = exe.canonicalize().ok()?;
    exe.ancestors().find_map(|a| {
        let b = std::fs::read(a.join("package.json")).ok()?;
        let v: Value = serde_json::from_slice(&b).ok()?;
        (v["name"] == name).then(|| (a.to_path_buf(), v["version"].as_str().map(String::from)))
    })
}

/// Every config file of this kind in `cwd` and its ancestors (yarn reads them all).
fn ancestor_files(cwd: &Path, names: &[&str]) -> Vec<PathBuf> {
    cwd.ancestors()
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .collect()
}

fn probe_err(exe: &Path, why: String) -> FactsError {
    FactsError::Probe {
        exe: exe.display().to_string(),
        why,
    }
}

// --------------------------------------------------------------- yarn ----

/// The `cache-folder` the yarnrc files name (nearest project file first,
/// then the user's, root's and yarn's own), when absolute.
fn rc_cache_folder(cwd: &Path, yarn_root: &Path) -> Option<PathBuf> {
    let mut files = ancestor_files(cwd, &[".yarnrc"]);
    files.extend(crate::paths::home().map(|h| h.join(".yarnrc")));
    files.push(PathBuf::from("/usr/local/share/.yarnrc"));
    files.push(yarn_root.join(".yarnrc"));
    files.iter().find_map(|f| {
        let text = std::fs::read_to_string(f).ok()?;
        text.lines().find_map(|l| {
            let rest = l
                .trim()
                .trim_start_matches("--")
                .strip_prefix("cache-folder")?;
            let v = rest
                .trim_start_matches([' ', '\t', '='])
                .trim()
                .trim_matches('"');
            Some(PathBuf::from(v)).filter(|p| p.is_absolute())
        })
    })
}

fn yarn_facts(real: &Path, cwd: &Path) -> Result<ManagerFacts, FactsError> {
    let mut f = ManagerFacts::skeleton(Family::Npm, real);
    let (root, version) = package_root(real, "yarn").unwrap_or((PathBuf::new(), None));
    // yarn 2+ is another tool, and a project's `.yarnrc.yml` makes yarn
    // classic hand the command to it: not derived here.
    let berry = version.as_deref().is_some_and(|v| !v.starts_with("1."))
        || cwd.ancestors().any(|d| d.join(".yarnrc.yml").exists());
    if berry {
        f.deps.extend(
            ancestor_files(cwd, &[".yarnrc.yml"])
                .iter()
                .map(|p| Dep::of(p)),
        );
        return Ok(f);
    }
    let quiet = |args: &[&str]| {
        let mut c = Command::new(real);
        c.args(args)
            .current_dir(cwd)
            .env("YARN_DISABLE_SELF_UPDATE_CHECK", "true")
            // A project's `yarn-path` would run the project's code as the
            // probe: ask the yarn found on PATH (the install itself runs
            // the project's yarn inside the install's sandbox).
            .env("YARN_IGNORE_PATH", "1");
        c
    };
    let list = ["config", "list", "--json", "--silent"];
    // yarn creates its cache folder before it answers anything: a configured
    // folder that does not exist yet is refused by the read-only probe, so
    // it is asked again with a cache folder in the probe's scratch.
    let out = match probe(&mut quiet(&list), real) {
        Ok(out) => out,
        Err(_) => {
            super::probe::run_with_scratch_vars(&mut quiet(&list), real, &["YARN_CACHE_FOLDER"])?
        }
    };
    // One JSON object per line: an "inspect" for yarn's config, then one for npm's.
    let sections: Vec<BTreeMap<String, Value>> = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "inspect")
        .filter_map(|v| serde_json::from_value(v["data"].clone()).ok())
        .collect();
    let [yarn, npm] = sections.as_slice() else {
        return Err(probe_err(
            real,
            "`yarn config list --json` did not print yarn's and npm's configuration".into(),
        ));
    };
    let s =
        |m: &BTreeMap<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(String::from);
    // `yarn cache dir` creates the cache folder it names, which the
    // read-only probe refuses: a configured folder is then taken as is.
    let configured = std::env::var_os("YARN_CACHE_FOLDER")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| rc_cache_folder(cwd, &root));
    let cache = match probe(&mut quiet(&["cache", "dir"]), real) {
        Ok(out) => {
            let cache = PathBuf::from(String::from_utf8_lossy(&out).trim());
            // yarn falls back to `$TMPDIR/.yarn-cache-<uid>` when it cannot
            // make its preferred folder, which the read-only probe never
            // lets it: that answer names the probe's scratch, gone after
            // it. The preferred folder is what the install will use (made
            // before the sandbox starts, as for every cache that is missing).
            let cache = if fallback_cache(&cache) {
                configured.clone().unwrap_or_else(yarn_preferred_cache)
            } else {
                cache
            };
            // `yarn cache dir` names the versioned folder (`…/v6`); yarn
            // writes its parent, the cache folder, too.
            let versioned = cache.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.len() > 1 && n.starts_with('v') && n[1..].bytes().all(|b| b.is_ascii_digit())
            });
            match cache.parent() {
                Some(parent) if versioned => parent.to_path_buf(),
                _ => cache,
            }
        }
        Err(e) => match configured {
            Some(c) if c.is_absolute() => c,
            _ => return Err(e),
        },
    };
    let registries = yarn_registries(yarn, npm);
    let config_files = yarn_user_configs(&root);
    // The project's own files (those of `cwd` and its ancestors) are its
    // plan's, not the facts' (shared by projects without configuration of
    // their own): they only decide when the facts are asked again.
    f.deps.extend(
        ancestor_files(cwd, YARN_PROJECT_CONFIGS)
            .iter()
            .map(|p| Dep::of(p)),
    );
    f.version = version;
    f.registries = registries;
    f.cache_dirs = vec![cache];
    f.write_roots = vec![npm_local_prefix(cwd).join("node_modules")];
    f.proxy = s(yarn, "https-proxy")
        .or_else(|| s(npm, "https-proxy"))
        .or_else(|| s(yarn, "proxy"))
        .or_else(|| s(npm, "proxy"));
    f.deps.extend(config_files.iter().map(|p| Dep::of(p)));
    f.config_files = config_files;
    f.derived = true;
    Ok(f)
}

/// True for yarn's fallback cache folder in a temporary directory
/// (`.yarn-cache-<uid>`, `.yarn-cache`, with or without its `v6`).
fn fallback_cache(cache: &Path) -> bool {
    cache
        .ancestors()
        .take(2)
        .filter_map(Path::file_name)
        .any(|n| n.to_string_lossy().starts_with(".yarn-cache"))
}

/// yarn classic's preferred cache folder: `$XDG_CACHE_HOME/yarn`, else
/// `<home>/.cache/yarn`, where root's home is `/usr/local/share` (yarn's
/// own choice for uid 0).
fn yarn_preferred_cache() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("yarn");
    }
    let home = if nix::unistd::getuid().is_root() {
        Some(PathBuf::from("/usr/local/share"))
    } else {
        crate::paths::home()
    };
    home.unwrap_or_else(std::env::temp_dir).join(".cache/yarn")
}

/// The registries yarn classic asks: npm's when `.npmrc` names one, its own
/// otherwise, and every scope's.
fn yarn_registries(yarn: &BTreeMap<String, Value>, npm: &BTreeMap<String, Value>) -> Vec<String> {
    let s =
        |m: &BTreeMap<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(String::from);
    let mut registries: Vec<String> = s(npm, "registry")
        .or_else(|| s(yarn, "registry"))
        .into_iter()
        .collect();
    for m in [yarn, npm] {
        registries.extend(
            m.iter()
                .filter(|(k, _)| k.starts_with('@') && k.ends_with(":registry"))
                .filter_map(|(_, v)| v.as_str().map(String::from)),
        );
    }
    registries.dedup();
    registries
}

/// yarn's and npm's rc files of the user (and of root, whose yarn keeps its
/// own in /usr/local/share, not HOME) and of yarn's own package `root`.
fn yarn_user_configs(root: &Path) -> Vec<PathBuf> {
    let home = crate::paths::home();
    let root_home = PathBuf::from("/usr/local/share");
    let mut config_files: Vec<PathBuf> = Vec::new();
    for h in home.iter().chain(std::iter::once(&root_home)) {
        config_files.extend([h.join(".yarnrc"), h.join(".npmrc")]);
    }
    if !root.as_os_str().is_empty() {
        config_files.push(root.join(".yarnrc"));
    }
    config_files.sort();
    config_files.dedup();
    config_files
}

// --------------------------------------------------------------- pnpm ----

/// The store pnpm uses for `project` when none is configured: `<pnpm
/// home>/store/<v>` when the project is on the home's file system (hard
/// links work), else `.pnpm-store/<v>` at the highest writable directory
/// of the project's file system. `answer` is what pnpm said from the probe's
/// scratch directory; its last component is the store layout version.
fn pnpm_default_store(project: &Path, answer: &Path) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let version = answer
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("v10"));
    let dev = |p: &Path| {
        p.ancestors()
            .find_map(|a| std::fs::metadata(a).ok())
            .map(|m| m.dev())
    };
    let home = std::env::var_os("PNPM_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_DATA_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| crate::paths::home().map(|h| h.join(".local/share")))
                .map(|d| d.join("pnpm"))
        });
    if let Some(h) = &home
        && dev(h).is_some()
        && dev(h) == dev(project)
    {
        return h.join("store").join(version);
    }
    let writable = |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok();
    let top = project
        .ancestors()
        .take_while(|a| dev(a) == dev(project))
        .filter(|a| writable(a))
        .last()
        .unwrap_or(project);
    top.join(".pnpm-store").join(version)
}

fn pnpm_facts(real: &Path, pnpm: &Path, cwd: &Path) -> Result<ManagerFacts, FactsError> {
    let mut f = ManagerFacts::skeleton(Family::Npm, real);
    let run = |args: &[&str]| {
        let mut c = Command::new(pnpm);
        c.args(args)
            .current_dir(cwd)
            .env("npm_config_update_notifier", "false")
            // `packageManager: pnpm@x` would fetch and run another pnpm.
            .env("npm_config_manage_package_manager_versions", "false");
        c
    };
    let out = probe(&mut run(&["config", "list", "--json"]), pnpm)?;
    let conf: BTreeMap<String, Value> = serde_json::from_slice(&out).map_err(|e| {
        probe_err(
            pnpm,
            format!("unexpected `pnpm config list --json` output: {e}"),
        )
    })?;
    let s = |k: &str| conf.get(k).and_then(Value::as_str).map(String::from);
    let store = match probe(&mut run(&["store", "path"]), pnpm) {
        Ok(out) => String::from_utf8_lossy(&out).trim().to_string(),
        // Without a configured store pnpm picks one by hard-linking a test
        // file from the project: the probe's project is read-only, so the
        // same choice is made here, from the file systems.
        Err(_) => {
            let out = super::probe::run_in_scratch(&mut run(&["store", "path"]), pnpm)?;
            let answer = PathBuf::from(String::from_utf8_lossy(&out).trim());
            pnpm_default_store(&npm_local_prefix(cwd), &answer)
                .display()
                .to_string()
        }
    };
    let mut registries: Vec<String> = s("registry").into_iter().collect();
    registries.extend(
        conf.iter()
            .filter(|(k, _)| k.starts_with('@') && k.ends_with(":registry"))
            .filter_map(|(_, v)| v.as_str().map(String::from)),
    );
    // pnpm's own defaults for its cache and state (XDG, else under HOME),
    // unless its configuration names them.
    let env_dir = |var: &str, fallback: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| crate::paths::home().map(|h| h.join(fallback)))
            .map(|d| d.join("pnpm"))
    };
    let cache = s("cache-dir")
        .map(PathBuf::from)
        .or_else(|| env_dir("XDG_CACHE_HOME", ".cache"));
    let state = s("state-dir")
        .map(PathBuf::from)
        .or_else(|| env_dir("XDG_STATE_HOME", ".local/state"));
    let mut config_files: Vec<PathBuf> = ["globalconfig", "npm-globalconfig", "userconfig"]
        .iter()
        .filter_map(|k| s(k).map(PathBuf::from))
        .collect();
    if let Some(h) = crate::paths::home() {
        config_files.push(h.join(".npmrc"));
    }
    let project = npm_local_prefix(cwd);
    // The project's own files are its plan's, not the facts' (shared by
    // projects without configuration of their own): they only decide when
    // the facts are asked again.
    f.deps.extend(
        PNPM_PROJECT_CONFIGS
            .iter()
            .map(|n| Dep::of(&project.join(n))),
    );
    if let Some((root, _)) = package_root(pnpm, "pnpm") {
        config_files.push(root.join("pnpmrc"));
    }
    config_files.sort();
    config_files.dedup();
    f.version = package_root(pnpm, "pnpm").and_then(|(_, v)| v);
    f.registries = registries;
    f.cache_dirs = [Some(PathBuf::from(&store)), cache]
        .into_iter()
        .flatten()
        .collect();
    // pnpm's update check and its list of installs live in the state dir.
    f.log_dirs = state.into_iter().collect();
    f.write_roots = vec![project.join("node_modules")];
    f.proxy = s("https-proxy").or_else(|| s("proxy"));
    f.deps.push(Dep::of(pnpm));
    f.deps.extend(config_files.iter().map(|p| Dep::of(p)));
    f.config_files = config_files;
    for k in ["global-dir", "global-bin-dir"] {
        if let Some(v) = s(k) {
            f.values.insert(k.into(), v);
        }
    }
    f.derived = true;
    Ok(f)
}

/// pnpm's setting for how packages come from its store into node_modules.
const IMPORT_METHOD: &str = "npm_config_package_import_method";

/// Variables set for the sandboxed tool.
///
/// yarn classic's daily update check (only at a terminal) asks a host
/// outside the registry and then writes `lastUpdateCheck` into `~/.yarnrc`,
/// a persistence location: both would be findings for every interactive
/// install, so the sandbox turns it off. pnpm, when no store is configured,
/// creates and links a scratch directory in its data directory (next to
/// global packages and, by default, its global bin directory) to choose the
/// store; it is told the store it would have chosen, which it then uses as is.
/// pnpm is told to copy (or reflink) packages from its store, never to
/// hard-link them (see below).
pub fn sandbox_env(plan: &InstallPlan) -> Vec<(&'static str, String)> {
    match plan.tool {
        Tool::Yarn if plan.facts.derived => {
            vec![("YARN_DISABLE_SELF_UPDATE_CHECK", "true".into())]
        }
        Tool::Pnpm | Tool::Pnpx if plan.facts.derived => {
            let mut env: Vec<(&'static str, String)> = plan
                .cache_dirs
                .first()
                .map(|s| ("npm_config_store_dir", s.display().to_string()))
                .into_iter()
                .collect();
            // pnpm hard-links packages from its store into node_modules,
            // which the root project's scripts may write: a write in place
            // would change the store every project of the user links.
            // Reflinks or copies keep the store out of reach. The variable
            // is for pnpx; pnpm itself gets `sandbox_args`, which a
            // project's `pnpm-workspace.yaml` cannot outrank.
            env.push((IMPORT_METHOD, import_method()));
            env
        }
        _ => Vec::new(),
    }
}

/// The import method the sandboxed pnpm uses: the user's own when it
/// copies or reflinks, else `clone-or-copy`.
fn import_method() -> String {
    let chosen = std::env::var(IMPORT_METHOD).unwrap_or_default();
    match chosen.as_str() {
        "copy" | "clone" | "clone-or-copy" => chosen,
        _ => "clone-or-copy".into(),
    }
}

/// Options put before the sandboxed pnpm's command: the import method
/// (see `sandbox_env`) on the command line, the one place that outranks a
/// project's `pnpm-workspace.yaml` (`packageImportMethod: hardlink` there
/// beats every `npm_config_*` variable; measured with pnpm 10.34), as the
/// cooldown's `--config.minimum-release-age` is.
pub fn sandbox_args(plan: &InstallPlan) -> Vec<String> {
    match plan.tool {
        Tool::Pnpm if plan.facts.derived => {
            vec![format!(
                "--config.package-import-method={}",
                import_method()
            )]
        }
        _ => Vec::new(),
    }
}

// -------------------------------------------------------------- plans ----

/// Applies yarn's or pnpm's command-line options to the plan.
pub fn apply(p: &mut InstallPlan, cwd: &Path) {
    if !p.facts.derived {
        return;
    }
    let req = p.request.clone();
    let abs = |v: &str| cwd.join(crate::paths::expand_tilde(v));
    apply_registry_options(p);
    let dir = req
        .option("cwd")
        .or(req.option("dir"))
        .map(abs)
        .unwrap_or_else(|| cwd.to_path_buf());
    let project = npm_local_prefix(&dir);
    match p.tool {
        Tool::Yarn => {
            if let Some(c) = req
                .option("cache-folder")
                .or(req.option("preferred-cache-folder"))
            {
                p.cache_dirs = vec![abs(c)];
            }
            // `yarn create x` is a global add of `create-x`, then its run.
            if req.command.starts_with("global ") || req.command == "create" {
                p.write_roots = yarn_global(p, &req, cwd);
            } else {
                let modules = req.option("modules-folder").map(abs);
                let files = ["package.json", "yarn.lock", "yarn-error.log"];
                local(
                    p,
                    &project,
                    modules,
                    &files,
                    &[".yarnrc", ".yarnrc.yml", ".npmrc"],
                );
                p.create_files = ["yarn.lock", "yarn-error.log"]
                    .iter()
                    .map(|f| Precreate::empty(project.join(f)))
                    .collect();
                // yarn makes the manifest in a directory that has none.
                p.create_files.push(Precreate {
                    path: project.join("package.json"),
                    seed: "{}\n".into(),
                });
            }
        }
        _ => {
            if let Some(s) = req.option("store-dir")
                && let Some(first) = p.cache_dirs.first_mut()
            {
                *first = abs(s);
            }
            if let Some(c) = req.option("cache-dir") {
                p.cache_dirs.push(abs(c));
            }
            if req.flag("global") {
                p.write_roots = pnpm_global(p);
            } else if matches!(req.command.as_str(), "dlx" | "create") || p.tool == Tool::Pnpx {
                // dlx installs into its cache (cache-dir/dlx).
                p.write_roots = Vec::new();
            } else {
                let modules = req.option("modules-dir").map(abs);
                let files = ["package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml"];
                // pnpm runs `.pnpmfile.cjs` and applies the workspace manifest's
                // settings over every variable: configuration, like `.npmrc`.
                let configs = [".npmrc", ".pnpmfile.cjs", "pnpm-workspace.yaml"];
                local(p, &project, modules, &files, &configs);
                // pnpm writes its lockfile through a temporary file beside
                // it: the project gets file rights, not the whole tree's.
                p.file_dirs = vec![project.clone()];
            }
        }
    }
    // The project's configuration, from this project (never in the facts,
    // which other projects share).
    match p.tool {
        Tool::Yarn => p
            .config_files
            .extend(ancestor_files(&dir, YARN_PROJECT_CONFIGS)),
        _ => p
            .config_files
            .extend(PNPM_PROJECT_CONFIGS.iter().map(|n| project.join(n))),
    }
    p.config_files.sort();
    p.config_files.dedup();
}

/// A project install: its modules folder (`node_modules` unless an option
/// moves it), the manifest and lockfile the command updates, and the
/// project's own configuration files.
fn local(
    p: &mut InstallPlan,
    project: &Path,
    modules: Option<PathBuf>,
    files: &[&str],
    configs: &[&str],
) {
    p.write_roots = vec![modules.unwrap_or_else(|| project.join("node_modules"))];
    p.write_files = files.iter().map(|f| project.join(f)).collect();
    p.config_files
        .extend(configs.iter().map(|f| project.join(f)));
}

/// First line of a probe's output, or `None` when the probe fails.
fn ask(cmd: &mut Command, exe: &Path) -> Option<PathBuf> {
    let out = probe(cmd, exe).ok()?;
    let line = String::from_utf8_lossy(&out)
        .lines()
        .next()?
        .trim()
        .to_string();
    (!line.is_empty()).then(|| PathBuf::from(line))
}

/// `yarn global add`: yarn's global folder and bin directory, asked now
/// (only global adds pay for it); `--global-folder` and `--prefix` apply.
fn yarn_global(p: &InstallPlan, req: &super::InstallRequest, cwd: &Path) -> Vec<PathBuf> {
    let abs = |v: &str| cwd.join(crate::paths::expand_tilde(v));
    let yarn = |args: &[&str]| {
        let mut c = Command::new(&p.real_exe);
        c.args(args)
            .args(req.option("prefix").map(|v| format!("--prefix={v}")))
            .current_dir(cwd)
            .env("YARN_DISABLE_SELF_UPDATE_CHECK", "true")
            .env("YARN_IGNORE_PATH", "1");
        c
    };
    let folder = req
        .option("global-folder")
        .map(abs)
        .or_else(|| ask(&mut yarn(&["global", "dir"]), &p.real_exe));
    let bin = ask(&mut yarn(&["global", "bin"]), &p.real_exe);
    let mut roots: Vec<PathBuf> = [folder, bin].into_iter().flatten().collect();
    if let Some(l) = req.option("link-folder") {
        roots.push(abs(l));
    }
    roots
}

/// `pnpm add -g`: pnpm's global directory and its global bin directory
/// (`PNPM_HOME` unless configured), asked now.
fn pnpm_global(p: &InstallPlan) -> Vec<PathBuf> {
    let pnpm = p.real_exe.with_file_name("pnpm");
    let mut roots = Vec::new();
    // `pnpm root -g` is `<global-dir>/<layout version>/node_modules`.
    let root = p
        .facts
        .values
        .get("global-dir")
        .map(PathBuf::from)
        .or_else(|| {
            ask(Command::new(&pnpm).args(["root", "-g"]), &pnpm)
                .and_then(|r| r.ancestors().nth(2).map(Path::to_path_buf))
        });
    roots.extend(root);
    let bin = p
        .facts
        .values
        .get("global-bin-dir")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("PNPM_HOME").map(PathBuf::from));
    roots.extend(bin);
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_root_finds_the_named_package() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("lib/node_modules/yarn");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(
            root.join("package.json"),
            r#"{"name":"yarn","version":"1.22.22"}"#,
        )
        .unwrap();
        std::fs::write(root.join("bin/yarn.js"), "").unwrap();
        let link = t.path().join("yarn");
        std::os::unix::fs::symlink(root.join("bin/yarn.js"), &link).unwrap();
        let (r, v) = package_root(&link, "yarn").unwrap();
        assert_eq!(r, root.canonicalize().unwrap());
        assert_eq!(v.as_deref(), Some("1.22.22"));
        assert!(package_root(&link, "pnpm").is_none());
    }

    #[test]
    fn a_project_with_its_own_config_has_its_own_facts() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("proj");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("package.json"), "{}").unwrap();
        let plain = cache_project(&p);
        std::fs::write(p.join(".yarnrc"), "registry \"http://127.0.0.1:1/\"\n").unwrap();
        assert_eq!(cache_project(&p), Some(p.clone()));
        // Without a config file, only another filesystem than HOME's
        // separates it (the temporary directory may be one).
        assert!(plain.is_none() || plain == Some(p));
    }
}
