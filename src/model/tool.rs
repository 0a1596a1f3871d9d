//! The command a shim stands for.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A command pkgwarden can stand in for, by the name it is invoked as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    Pip,
    Pip3,
    Npm,
    Npx,
    Yarn,
    Pnpm,
    Pnpx,
    Gem,
    Bundle,
    Brew,
    Conda,
    Mamba,
    Micromamba,
    Uv,
    Uvx,
    Poetry,
    Pipx,
    /// `python`/`python3`: only `-m pip` and `-m ensurepip` are installs.
    Python,
}

/// The adapter family a tool belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Pip,
    Npm,
    Gem,
    Conda,
    Brew,
    /// uv, poetry and pipx.
    PyTools,
}

impl Tool {
    /// Every tool, in the order `shims install` creates them.
    pub const ALL: [Tool; 18] = [
        Tool::Pip,
        Tool::Pip3,
        Tool::Npm,
        Tool::Npx,
        Tool::Yarn,
        Tool::Pnpm,
        Tool::Pnpx,
        Tool::Gem,
        Tool::Bundle,
        Tool::Brew,
        Tool::Conda,
        Tool::Mamba,
        Tool::Micromamba,
        Tool::Uv,
        Tool::Uvx,
        Tool::Poetry,
        Tool::Pipx,
        Tool::Python,
    ];

    /// The command name (`pip3`, `micromamba`, …).
    pub fn name(self) -> &'static str {
        match self {
            Tool::Pip => "pip",
            Tool::Pip3 => "pip3",
            Tool::Npm => "npm",
            Tool::Npx => "npx",
            Tool::Yarn => "yarn",
            Tool::Pnpm => "pnpm",
            Tool::Pnpx => "pnpx",
            Tool::Gem => "gem",
            Tool::Bundle => "bundle",
            Tool::Brew => "brew",
            Tool::Conda => "conda",
            Tool::Mamba => "mamba",
            Tool::Micromamba => "micromamba",
            Tool::Uv => "uv",
            Tool::Uvx => "uvx",
            Tool::Poetry => "poetry",
            Tool::Pipx => "pipx",
            Tool::Python => "python",
        }
    }

    /// Other names a manager is installed as: yarn's `yarnpkg` (Debian's
    /// only name for it), Bundler's `bundler`. Each gets a shim wherever
    /// its tool does.
    pub const ALIASES: [(&'static str, Tool); 2] =
        [("yarnpkg", Tool::Yarn), ("bundler", Tool::Bundle)];

    /// The tool a command name stands for: exact names, the
    /// [`ALIASES`](Self::ALIASES), plus versioned spellings of pip and
    /// python (`pip3.11`, `python3`, `python3.12`).
    pub fn from_command(name: &str) -> Option<Tool> {
        if let Some(t) = Tool::ALL.iter().copied().find(|t| t.name() == name) {
            return Some(t);
        }
        if let Some((_, t)) = Tool::ALIASES.iter().find(|(a, _)| *a == name) {
            return Some(*t);
        }
        if name == "python3" || is_versioned(name, "python3.") {
            return Some(Tool::Python);
        }
        if is_versioned(name, "pip3.") {
            return Some(Tool::Pip3);
        }
        None
    }

    /// The adapter family.
    pub fn family(self) -> Family {
        match self {
            Tool::Pip | Tool::Pip3 | Tool::Python => Family::Pip,
            Tool::Npm | Tool::Npx | Tool::Yarn | Tool::Pnpm | Tool::Pnpx => Family::Npm,
            Tool::Gem | Tool::Bundle => Family::Gem,
            Tool::Brew => Family::Brew,
            Tool::Conda | Tool::Mamba | Tool::Micromamba => Family::Conda,
            Tool::Uv | Tool::Uvx | Tool::Poetry | Tool::Pipx => Family::PyTools,
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `prefix` followed by one or more digits (`pip3.11`, `python3.12`).
fn is_versioned(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
}
