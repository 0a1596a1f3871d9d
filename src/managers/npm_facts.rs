//! npm's facts, read from `npm config`, and npm's and npx's command-line
//! options applied to the plan.

use super::facts::{Dep, FactsError, HookShell, InstallPlan, ManagerFacts, host_port, probe};
use super::{Family, Tool};
use crate::model::plan::{Precreate, ScriptPath, ScriptVar};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// npm's local prefix: the nearest directory at or above `cwd` holding a
/// `package.json` or `node_modules`, else `cwd` itself.
pub fn npm_local_prefix(cwd: &Path) -> PathBuf {
    cwd.ancestors()
        .find(|d| d.join("package.json").is_file() || d.join("node_modules").is_dir())
        .unwrap_or(cwd)
        .to_path_buf()
}

pub(super) fn npm_facts(real: &Path, tool: Tool, cwd: &Path) -> Result<ManagerFacts, FactsError> {
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
            .env("npm_config_update_notifier", "false")
            // npm makes its log directory at start-up, and the project's
            // `.npmrc` may name it anywhere (`~/.config/systemd/user`): the
            // probe writes no log, so makes none; the install judges it.
            .env("npm_config_logs_max", "0"),
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
        .filter(|u| !u.is_empty());
    // The node that runs npm: its version names the headers node-gyp
    // builds against (package code may only read them once they are there).
    let node = node_release(&npm);
    let disturl = disturl.or_else(|| node.as_ref().and_then(|n| n.headers_url.clone()));
    let download_hosts: Vec<String> = disturl.as_deref().and_then(host_port).into_iter().collect();
    let mut values = BTreeMap::new();
    values.insert("global_prefix".into(), global_prefix);
    // The CA file npm verifies registries with, when configured.
    if let Some(f) = s("cafile").filter(|v| !v.is_empty()) {
        values.insert("cafile".into(), f);
    }
    if let Some(shell) = s("script-shell").filter(|v| !v.is_empty()) {
        values.insert("script_shell".into(), shell);
    }
    if let Some(u) = &disturl {
        values.insert("headers_url".into(), u.clone());
    }
    if let Some(v) = node.as_ref().map(|n| n.version.clone()) {
        values.insert("node_version".into(), v);
    }
    let mut deps: Vec<Dep> = config_files.iter().map(|p| Dep::of(p)).collect();
    deps.push(Dep::of(real));
    // A new node (same npm) has other headers.
    if let Some(n) = &node {
        deps.push(Dep::of(&n.exe));
    }
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

/// The node that runs npm (by npm's `#!` line): where it is, its version
/// (`20.20.2`: the name of node-gyp's headers directory) and where it says
/// its headers are.
struct NodeRelease {
    exe: PathBuf,
    version: String,
    headers_url: Option<String>,
}

fn node_release(npm: &Path) -> Option<NodeRelease> {
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
            .args([
                "-p",
                "process.version + '\\n' + (process.release.headersUrl || '')",
            ])
            .env_remove("NODE_OPTIONS"),
        &node,
    )
    .ok()?;
    let text = String::from_utf8_lossy(&out);
    let mut lines = text.lines();
    let version = lines.next()?.trim().trim_start_matches('v').to_string();
    let url = lines.next().unwrap_or("").trim().to_string();
    (!version.is_empty()).then(|| NodeRelease {
        exe: node,
        version,
        headers_url: (!url.is_empty()).then_some(url),
    })
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
pub(super) fn apply_npm(p: &mut InstallPlan, cwd: &Path) {
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
            p.create_files = vec![Precreate::empty(project.join("package-lock.json"))];
        }
        // So must the manifest, which npm makes in a directory that has none
        // (`npm install x` in a new one, or in HOME): as `{}`, which npm
        // reads as an empty manifest, where an empty file is a parse error.
        p.create_files.push(Precreate {
            path: project.join("package.json"),
            seed: "{}\n".into(),
        });
        vec![project.join("node_modules")]
    };
    p.write_roots.extend(local);
    // node-gyp keeps the headers it downloads in its devdir: the
    // configured one, else its default cache directory. Made for the grant
    // and removed again when no build used it.
    if let Some(dev) = crate::paths::node_gyp_devdir().filter(|_| p.facts.derived) {
        // The running node's headers when they are not complete: the
        // scripts' own to download (node_gyp_headers), made for the grant.
        let missing = running_headers(p, &dev).filter(|h| !h.join("installVersion").is_file());
        for d in std::iter::once(dev).chain(missing) {
            if !d.exists() {
                p.transient_dirs.push(d.clone());
            }
            p.cache_dirs.push(d);
        }
    }
    // npx / npm exec install into the cache's _npx directory.
    if matches!(req.command.as_str(), "exec") {
        let npx: Vec<PathBuf> = p.cache_dirs.iter().map(|c| c.join("_npx")).collect();
        p.write_roots.extend(npx);
    }
}

/// The credential files npm-style managers read (their rc files, with
/// tokens), and how their package scripts start (`script-shell`).
pub(super) fn credentials(p: &mut InstallPlan, cwd: &Path, home: Option<&Path>) {
    if !p.facts.derived {
        return;
    }
    let project = npm_local_prefix(cwd);
    if let Some(h) = home {
        p.readable_credentials.push(h.join(".npmrc"));
        if matches!(p.tool, Tool::Yarn) {
            p.readable_credentials.push(h.join(".yarnrc"));
            p.readable_credentials.push(h.join(".yarnrc.yml"));
        }
    }
    p.readable_credentials.push(project.join(".npmrc"));
    // yarn 1 starts install scripts with node's `shell: true` (/bin/sh,
    // whatever is configured): the preload library runs them under the
    // wrapper (policy/package_code.toml), which then starts /bin/sh; a
    // nested npm reads the variable.
    let yarn = matches!(p.tool, Tool::Yarn);
    let cli = p
        .request
        .option("script-shell")
        .filter(|_| !yarn)
        .map(PathBuf::from);
    let configured = p
        .facts
        .values
        .get("script_shell")
        .filter(|_| !yarn)
        .map(PathBuf::from);
    let (mut env, own_caches) = node_gyp_headers(p);
    env.extend(script_env());
    p.hook_shell = Some(HookShell {
        var: "npm_config_script_shell".into(),
        overridden: cli.is_some(),
        shell: cli
            .or(configured)
            .unwrap_or_else(|| PathBuf::from("/bin/sh")),
        env,
        own_caches,
    });
}

/// What a confined script gets so that a nested `npm install`, `npx` or
/// `pnpm` works without the real caches and log directories, which it may
/// not write: every npm-family manager's cache and log directory in its
/// private directory (each variable
/// outranks the rc files: checked against npm 11, pnpm 10 and yarn 1.22),
/// and no user npmrc (it holds the token, is hidden from package code, and
/// npm refuses to start when it cannot read it; the settings npm exports to
/// scripts as `npm_config_*` still apply).
fn script_env() -> Vec<ScriptVar> {
    let private = |name: &str, rel: &str| ScriptVar {
        name: name.into(),
        value: ScriptPath::Private(PathBuf::from(rel)),
    };
    vec![
        private("npm_config_cache", ".npm"),
        private("npm_config_store_dir", ".pnpm-store"),
        private("npm_config_cache_dir", ".cache/pnpm"),
        private("YARN_CACHE_FOLDER", ".cache/yarn"),
        // The log and state directories, which no script may write (the
        // project's configuration can name any directory one).
        private("npm_config_logs_dir", ".npm/_logs"),
        private("npm_config_state_dir", ".local/state/pnpm"),
        ScriptVar {
            name: "npm_config_userconfig".into(),
            value: ScriptPath::Fixed(PathBuf::from("/dev/null")),
        },
    ]
}

/// node-gyp's headers are package code's cache, not the manager's: the
/// scripts that build native modules download them. Once the headers of
/// the node that builds are there, scripts only read them: a changed
/// `common.gypi` runs its `<!(...)` commands in every later native build,
/// the root project's own included. Scripts' `XDG_CACHE_HOME` is private,
/// so the devdir is then named outright (`npm_config_devdir`), else node-gyp
/// would download the headers again. Returns that variable, or the devdir
/// as the scripts' own cache.
fn node_gyp_headers(p: &InstallPlan) -> (Vec<ScriptVar>, Vec<PathBuf>) {
    let Some(devdir) = crate::paths::node_gyp_devdir().filter(|_| p.facts.derived) else {
        return (Vec::new(), Vec::new());
    };
    let var = ScriptVar {
        name: "npm_config_devdir".into(),
        value: ScriptPath::Fixed(devdir.clone()),
    };
    // Only the running node's missing headers are the scripts' to write:
    // the complete headers of other nodes beside them (a previous version,
    // one `nvm use` picks) feed those nodes' later builds.
    match running_headers(p, &devdir) {
        Some(h) if h.join("installVersion").is_file() => (vec![var], Vec::new()),
        Some(h) => (vec![var], vec![h]),
        None => (Vec::new(), vec![devdir]),
    }
}

/// Where node-gyp keeps the running node's headers in `devdir` (named by
/// its version), when the facts know that version.
fn running_headers(p: &InstallPlan, devdir: &Path) -> Option<PathBuf> {
    p.facts
        .values
        .get("node_version")
        .filter(|v| !v.is_empty() && !v.contains('/') && *v != "." && *v != "..")
        .map(|v| devdir.join(v))
}

/// What the root projects of this install (the directories of the manifest
/// and lockfiles it writes, never HOME itself) need for their own
/// install-time scripts.
pub(super) fn root_script_dirs(p: &mut InstallPlan, home: Option<&Path>) {
    p.root_script_dirs = p
        .local_projects(home)
        .iter()
        .flat_map(|d| root_hook_dirs(d))
        .collect();
}

/// Directories of a node project that its own install-time scripts write
/// (husky and simple-git-hooks install `.git/hooks` from `prepare`), granted
/// in protect only when the project's `package.json` has such a script.
/// Dependencies' scripts run in a nested domain that does not write there.
fn root_hook_dirs(project: &Path) -> Vec<PathBuf> {
    let scripts = std::fs::read(project.join("package.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("scripts").cloned());
    let runs_at_install = scripts.is_some_and(|s| {
        ROOT_INSTALL_SCRIPTS
            .iter()
            .any(|n| s.get(n).is_some_and(|c| c.is_string()))
    });
    if !runs_at_install {
        return Vec::new();
    }
    ROOT_HOOK_DIRS.iter().map(|d| project.join(d)).collect()
}

/// The root project's scripts npm, yarn and pnpm run on a plain install.
const ROOT_INSTALL_SCRIPTS: &[&str] = &[
    "preinstall",
    "install",
    "postinstall",
    "preprepare",
    "prepare",
    "postprepare",
];

/// What those scripts may write in protect (relative to the project).
const ROOT_HOOK_DIRS: &[&str] = &[".git/hooks"];

/// How node's managers are told to trust another CA. `NODE_EXTRA_CA_CERTS`
/// adds to node's own roots (keeping what the user had there); a `cafile`
/// the configuration names replaces them for npm, yarn and pnpm, so the
/// bundle (that file's certificates and the install's CA) goes there too,
/// through `npm_config_cafile`, which outranks every `.npmrc`.
pub(super) fn trust(p: &InstallPlan, cwd: &Path) -> crate::model::plan::Trust {
    let cafile = p
        .request
        .option("cafile")
        .map(str::to_string)
        .or_else(|| p.facts.values.get("cafile").cloned())
        // yarn's and pnpm's facts do not read npm's configuration: its
        // variable, which they read too.
        .or_else(|| {
            std::env::vars()
                .find(|(k, v)| k.eq_ignore_ascii_case("npm_config_cafile") && !v.is_empty())
                .map(|(_, v)| v)
        })
        .map(|f| cwd.join(crate::paths::expand_tilde(&f)));
    let extra = std::env::var_os("NODE_EXTRA_CA_CERTS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    match cafile {
        Some(f) => crate::model::plan::Trust {
            ca_file: Some(f),
            replaces_store: true,
            keeps_system: false,
            bundle_vars: vec!["npm_config_cafile".into(), "NODE_EXTRA_CA_CERTS".into()],
            set: Vec::new(),
        },
        None => crate::model::plan::Trust {
            ca_file: extra,
            replaces_store: false,
            keeps_system: false,
            bundle_vars: vec!["NODE_EXTRA_CA_CERTS".into()],
            set: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn only_a_root_project_with_install_scripts_gets_its_git_hooks() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        std::fs::write(
            p.join("package.json"),
            r#"{"name":"p","scripts":{"test":"x"}}"#,
        )
        .unwrap();
        assert!(root_hook_dirs(p).is_empty());
        std::fs::write(
            p.join("package.json"),
            r#"{"name":"p","scripts":{"prepare":"husky install"}}"#,
        )
        .unwrap();
        assert_eq!(root_hook_dirs(p), vec![p.join(".git/hooks")]);
        std::fs::write(p.join("package.json"), "not json").unwrap();
        assert!(root_hook_dirs(p).is_empty());
    }
}
