//! Manager adapters: one per family. Each adapter classifies a command line
//! (install or not) and derives, from the real manager itself, where an install
//! may write and which registries it talks to (see `facts`).

pub mod args;
pub mod brew;
pub mod bundle_settings;
pub mod caches;
pub mod conda;
pub mod cooldown;
pub mod facts;
pub mod gem;
pub mod gem_facts;
pub mod index_names;
pub mod local;
pub mod npm;
pub mod npm_facts;
pub mod package_code;
pub mod pip;
pub mod pip_core;
pub mod pip_facts;
pub mod probe;
pub mod pyrun;
pub mod pytools;
pub mod pytools_facts;
pub mod shimdirs;
#[cfg(test)]
mod testkit;
pub mod wheel_data;
pub mod yarn_pnpm;

pub use crate::model::plan::{
    ArgHooks, Attribution, InstallRequest, Opt, ProjectManifest, ProxyVars,
};
pub use crate::model::tool::{Family, Tool};
use facts::{FactsError, InstallPlan, ManagerFacts};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One family's adapter: everything shared code asks of a manager. Each
/// family's module has one ([`ADAPTERS`]); callers reach it through
/// [`adapter`], so nothing outside `managers` dispatches on the tool.
pub trait Adapter: Sync {
    /// The family (it keeps the families' cached facts apart).
    fn family(&self) -> Family;
    /// The tools (command names) this adapter stands in for.
    fn tools(&self) -> &'static [Tool];
    /// What a command line (without argv[0]) asks for; pure, but for a
    /// `python` line's script operand (`pyrun` reads its start) and
    /// Bundler's `auto_install` (`bundle_settings` reads its config). Never
    /// fails: an unknown shape is a passthrough only when nothing is
    /// installed.
    fn classify(&self, tool: Tool, args: &[String]) -> Classified;
    /// The virtualenvs a command line creates, as written; `None` when it
    /// creates none.
    fn new_venvs(&self, _tool: Tool, _args: &[String]) -> Option<Vec<String>> {
        None
    }
    /// True when installs of `tool` are sandboxed without asking its facts
    /// first; every other tool is sandboxed when its facts are derived.
    fn always_sandboxed(&self, _tool: Tool) -> bool {
        false
    }
    /// The interpreter an install targets when it is not the one that runs
    /// the manager (`pip --python X`, `python -m pip`).
    fn target_interpreter(&self, _real: &Path, _request: &InstallRequest) -> Option<PathBuf> {
        None
    }
    /// The project whose own configuration the facts depend on (part of
    /// the facts cache key); `None` when they do not depend on one.
    fn facts_project(&self, _tool: Tool, _cwd: &Path) -> Option<PathBuf> {
        None
    }
    /// True for environment variables that change what this family's
    /// managers do (besides HOME, PATH and the XDG directories).
    fn relevant_env(&self, key: &str) -> bool;
    /// The facts of the manager at `real`, asked of the manager itself
    /// through the sandboxed prober.
    fn facts(
        &self,
        real: &Path,
        tool: Tool,
        interpreter: Option<&Path>,
        cwd: &Path,
    ) -> Result<ManagerFacts, FactsError>;
    /// Applies the command line to the plan built from the facts: write
    /// roots, registries, the credentials the manager reads, how it starts
    /// package code, its extra environment. Runs nothing (it may read the
    /// project's files).
    fn plan(&self, p: &mut InstallPlan, cwd: &Path);
    /// Snapshot patterns for start-up locations only this family has, from
    /// the finished plan.
    fn watch_patterns(&self, _p: &InstallPlan) -> Vec<String> {
        Vec::new()
    }
    /// How a process of an install is attributed to one of this family's
    /// packages and its hook (the shapes `monitor::attribution` matches).
    fn attribution(&self) -> Vec<Attribution> {
        Vec::new()
    }
    /// The manager's own proxy variables (those it reads besides the
    /// generic `HTTP_PROXY` family).
    fn proxy_vars(&self) -> ProxyVars {
        ProxyVars::default()
    }
    /// The manager's own date gate for the release-age cooldown: what the
    /// install's environment and command line (`args`, after argv[0]) need
    /// so that no version uploaded after `cut` is installed; `Err` says why
    /// this manager has none.
    fn date_gate(
        &self,
        p: &InstallPlan,
        _cut: &crate::model::cooldown::Cutoff,
        _args: &[String],
        _cwd: &Path,
    ) -> Result<crate::model::cooldown::DateGate, String> {
        Err(format!("{} has no date gate pkgwarden can set", p.tool))
    }
    /// The kinds of metadata document this tool's registries serve, with
    /// release dates pkgwarden's proxy can filter by: it enforces the
    /// cooldown for a tool without a date gate of its own. Empty: none.
    fn registry_docs(&self, _tool: Tool) -> Vec<crate::model::cooldown::DocKind> {
        Vec::new()
    }
    /// Where a project in `cwd` names its own package, when this family's
    /// projects have such a manifest.
    fn project_manifest(&self, _cwd: &Path) -> Option<ProjectManifest> {
        None
    }
}

/// The table of adapters, one per family, in the order their attribution
/// shapes are tried (a lifecycle script's own variables first).
pub static ADAPTERS: [&dyn Adapter; 6] = [
    &npm::NpmAdapter,
    &pip::PipAdapter,
    &pytools::PyToolsAdapter,
    &gem::GemAdapter,
    &brew::BrewAdapter,
    &conda::CondaAdapter,
];

/// The adapter of `tool`'s family.
pub fn adapter(tool: Tool) -> &'static dyn Adapter {
    // Total by construction; a test checks it agrees with `tools()`.
    match tool.family() {
        Family::Npm => ADAPTERS[0],
        Family::Pip => ADAPTERS[1],
        Family::PyTools => ADAPTERS[2],
        Family::Gem => ADAPTERS[3],
        Family::Brew => ADAPTERS[4],
        Family::Conda => ADAPTERS[5],
    }
}

/// Every family's attribution shapes, in the table's order: an install of
/// one family may run another's manager (pipx runs pip, a conda
/// environment's pip section, a build that runs npm).
pub fn attribution() -> Vec<Attribution> {
    ADAPTERS.iter().flat_map(|a| a.attribution()).collect()
}

/// The root project's manifest in `cwd`: the first family's that has one.
pub fn project_manifest(cwd: &Path) -> Option<ProjectManifest> {
    ADAPTERS.iter().find_map(|a| a.project_manifest(cwd))
}

/// Every family's proxy variables: an install of one family may run
/// another's manager, which must reach the registries through the proxy too.
pub fn proxy_vars() -> ProxyVars {
    let mut all = ProxyVars::default();
    for a in ADAPTERS {
        all.extend(a.proxy_vars());
    }
    all
}

/// The virtualenvs a command line creates (`python -m venv DIR`, `python -m
/// virtualenv DIR`, `uv venv [DIR]`), as written; `None` when it creates none.
pub fn new_venvs(tool: Tool, args: &[String]) -> Option<Vec<String>> {
    adapter(tool).new_venvs(tool, args)
}

/// Why a command line is handed to the real manager untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PassReason {
    /// The subcommand neither downloads a package nor runs a package's code.
    NotAnInstall,
    /// `--help`, `-h`, `help …`.
    Help,
    /// `--version`, `-V`, `-v`.
    Version,
    /// A dry run that resolves but neither downloads packages nor runs their code.
    DryRun,
}

/// What the adapter made of a command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Classified {
    /// Hand the command to the real manager untouched.
    Passthrough {
        /// Why.
        reason: PassReason,
    },
    /// Run the command as a monitored install.
    Install(InstallRequest),
}

impl Classified {
    /// Shorthand for a passthrough.
    pub fn pass(reason: PassReason) -> Self {
        Classified::Passthrough { reason }
    }
}

/// Classifies `args` (without argv[0]) for `tool`. Never fails: an unknown
/// shape is a passthrough only when the adapter is sure nothing is installed.
pub fn classify(tool: Tool, args: &[String]) -> Classified {
    adapter(tool).classify(tool, args)
}

/// True when installs of `tool` are sandboxed without asking its facts first.
pub fn always_sandboxed(tool: Tool) -> bool {
    adapter(tool).always_sandboxed(tool)
}

/// An install of `command` with these packages and options.
pub(crate) fn install(
    tool: Tool,
    command: &str,
    packages: Vec<String>,
    options: Vec<Opt>,
) -> Classified {
    Classified::Install(InstallRequest {
        tool,
        command: command.to_string(),
        packages,
        options,
    })
}

/// Owned copies of borrowed words.
pub(crate) fn owned(words: Vec<&str>) -> Vec<String> {
    words.into_iter().map(str::to_string).collect()
}

/// True when the tokens ask for help (`--help`, `-h`).
pub(crate) fn wants_help(tokens: &[args::Token<'_>]) -> bool {
    args::has(tokens, &["help"], &['h'])
}

/// Converts the tokens an adapter scanned into `Opt`s, mapping short letters
/// and aliases to canonical long names through `names` (`("i", "index-url")`).
pub fn to_opts(tokens: &[args::Token<'_>], names: &[(&str, &str)]) -> Vec<Opt> {
    let canon = |n: &str| -> String {
        names
            .iter()
            .find(|(from, _)| *from == n)
            .map(|(_, to)| (*to).to_string())
            .unwrap_or_else(|| n.to_string())
    };
    tokens
        .iter()
        .filter_map(|t| match t {
            args::Token::Long { name, value } => Some(Opt {
                name: canon(name),
                value: value.map(str::to_string),
            }),
            args::Token::Short { flag, value } => Some(Opt {
                name: canon(&flag.to_string()),
                value: value.map(str::to_string),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_map_to_tools() {
        assert_eq!(Tool::from_command("pip3.11"), Some(Tool::Pip3));
        assert_eq!(Tool::from_command("python3.12"), Some(Tool::Python));
        assert_eq!(Tool::from_command("python3"), Some(Tool::Python));
        assert_eq!(Tool::from_command("micromamba"), Some(Tool::Micromamba));
        assert_eq!(Tool::from_command("pip3."), None);
        assert_eq!(Tool::from_command("pip3.x"), None);
        assert_eq!(Tool::from_command("cargo"), None);
        for t in Tool::ALL {
            assert_eq!(Tool::from_command(t.name()), Some(t));
        }
    }

    #[test]
    fn every_tool_has_one_adapter_and_it_is_its_familys() {
        for t in Tool::ALL {
            let owners: Vec<Family> = ADAPTERS
                .iter()
                .filter(|a| a.tools().contains(&t))
                .map(|a| a.family())
                .collect();
            assert_eq!(owners, vec![t.family()], "{t}");
            assert_eq!(adapter(t).family(), t.family(), "{t}");
        }
    }

    #[test]
    fn only_pip_and_npm_are_sandboxed_before_their_facts() {
        let always: Vec<Tool> = Tool::ALL
            .into_iter()
            .filter(|t| always_sandboxed(*t))
            .collect();
        assert_eq!(
            always,
            [Tool::Pip, Tool::Pip3, Tool::Npm, Tool::Npx, Tool::Python]
        );
    }

    #[test]
    fn every_install_points_every_managers_own_proxy_variables_at_the_proxy() {
        let v = proxy_vars();
        for var in [
            "npm_config_proxy",
            "npm_config_https_proxy",
            "YARN_HTTP_PROXY",
            "YARN_HTTPS_PROXY",
            "PIP_PROXY",
        ] {
            assert!(v.set.iter().any(|s| s == var), "{var}");
        }
        for var in ["npm_config_noproxy", "NPM_CONFIG_NOPROXY"] {
            assert!(v.clear.iter().any(|s| s == var), "{var}");
        }
    }

    #[test]
    fn the_root_projects_manifest_is_its_package_json_for_every_family() {
        let m = project_manifest(Path::new("/p"));
        assert_eq!(
            m,
            Some(ProjectManifest {
                file: PathBuf::from("/p/package.json"),
                name_key: "name".into()
            })
        );
    }

    #[test]
    fn venv_creations_name_their_directories() {
        let w = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            new_venvs(Tool::Python, &w(&["-m", "venv", "--prompt", "x", "v"])),
            Some(vec!["v".to_string()])
        );
        assert_eq!(
            new_venvs(
                Tool::Python,
                &w(&["-I", "-mvirtualenv", "-p", "3.12", "a", "b"])
            ),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            new_venvs(Tool::Python, &w(&["-m", "pip", "install", "x"])),
            None
        );
        assert_eq!(
            new_venvs(Tool::Python, &w(&["script.py", "-m", "venv", "v"])),
            None
        );
        assert_eq!(
            new_venvs(Tool::Uv, &w(&["venv", "-p", "3.12"])),
            Some(vec![".venv".to_string()])
        );
        assert_eq!(
            new_venvs(Tool::Uv, &w(&["--quiet", "venv", "env", "--seed"])),
            Some(vec!["env".to_string()])
        );
        assert_eq!(new_venvs(Tool::Uv, &w(&["pip", "install", "x"])), None);
        assert_eq!(new_venvs(Tool::Npm, &w(&["venv"])), None);
    }
}
