//! Manager adapters: one per family. Each adapter classifies a command line
//! (install or not) and derives, from the real manager itself, where an install
//! may write and which registries it talks to (see `facts`).

pub mod args;
pub mod brew;
pub mod caches;
pub mod conda;
pub mod facts;
pub mod gem;
pub mod local;
pub mod npm;
pub mod package_code;
pub mod pip;
pub mod probe;
pub mod pytools;
pub mod pytools_facts;
pub mod shimdirs;
pub mod wheel_data;
/// The virtualenvs a command line creates (`python -m venv DIR`, `python -m
/// virtualenv DIR`, `uv venv [DIR]`), as written; `None` when it creates none.
pub fn new_venvs(tool: Tool, args: &[String]) -> Option<Vec<String>> {
    match tool {
        Tool::Python => pip::new_venvs(args),
        Tool::Uv => pytools::new_venvs_uv(args),
        _ => None,
    }
}

#[cfg(test)]
mod testkit;
pub mod yarn_pnpm;

pub use crate::model::plan::{InstallRequest, Opt};
pub use crate::model::tool::{Family, Tool};
use serde::Serialize;

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
    match tool {
        Tool::Pip | Tool::Pip3 => pip::classify(tool, args),
        Tool::Python => pip::classify_python(args),
        Tool::Npm | Tool::Npx | Tool::Yarn | Tool::Pnpm | Tool::Pnpx => npm::classify(tool, args),
        Tool::Gem | Tool::Bundle => gem::classify(tool, args),
        Tool::Brew => brew::classify(tool, args),
        Tool::Conda | Tool::Mamba | Tool::Micromamba => conda::classify(tool, args),
        Tool::Uv | Tool::Uvx | Tool::Poetry | Tool::Pipx => pytools::classify(tool, args),
    }
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
