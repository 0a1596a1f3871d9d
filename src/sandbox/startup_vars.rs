//! Persistence places that a variable of the environment names
//! (`[[moved]]` of `policy/persistence.toml`): a CI runner's command files
//! (`GITHUB_ENV`, `GITHUB_PATH` …: a line there sets the environment or
//! PATH of every later step), the file a shell sources by `BASH_ENV` or
//! `ENV`, the global git configuration `GIT_CONFIG_GLOBAL` names. Resolved
//! as `secrets::moved_stores` resolves the credential stores: data, not
//! code per variable. The detection, the snapshot and protect's grants all
//! take them from here.

use crate::model::RuleId;
use serde::Deserialize;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One variable naming a persistence place.
#[derive(Debug, Deserialize)]
struct Moved {
    /// The variable.
    var: String,
    /// The rule a write there is.
    rule: RuleId,
    /// The value is a `:`-separated list of places.
    #[serde(default)]
    list: bool,
    /// Places beneath the one named (the variable names a directory);
    /// empty: the place named itself.
    #[serde(default)]
    entries: Vec<String>,
}

/// The part of `policy/persistence.toml` read here (the families are the
/// detection's).
#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    moved: Vec<Moved>,
}

fn data() -> &'static File {
    static D: OnceLock<File> = OnceLock::new();
    D.get_or_init(|| {
        toml::from_str(include_str!("../../policy/persistence.toml")).unwrap_or_default()
    })
}

/// The persistence places the variables of `env` name, each with its rule;
/// a value that is not an absolute path names nothing (the manager and its
/// scripts may run elsewhere), and neither does a directory where a file
/// is meant (`ENV=/home/u` would keep all of HOME out of protect's grant).
pub fn places_in(env: impl Fn(&str) -> Option<OsString>) -> Vec<(PathBuf, RuleId)> {
    let mut out = Vec::new();
    for m in &data().moved {
        let Some(value) = env(&m.var).filter(|v| !v.is_empty()) else {
            continue;
        };
        for place in crate::paths::named_by(&value, m.list) {
            match m.entries.is_empty() {
                true if place.is_dir() => {}
                true => out.push((place, m.rule)),
                false => out.extend(m.entries.iter().map(|e| (place.join(e), m.rule))),
            }
        }
    }
    out
}

/// [`places_in`] for this process's environment (its variables do not
/// change while pkgwarden runs).
pub fn places() -> &'static [(PathBuf, RuleId)] {
    static P: OnceLock<Vec<(PathBuf, RuleId)>> = OnceLock::new();
    P.get_or_init(|| places_in(|k| std::env::var_os(k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ci_files_and_the_moved_git_config_are_places() {
        let env = |k: &str| match k {
            "GITHUB_ENV" => Some(OsString::from("/runner/_temp/set_env_1")),
            "GITHUB_PATH" => Some(OsString::from("relative/add_path")),
            "GIT_CONFIG_GLOBAL" => Some(OsString::from("/home/u/dotfiles/gitconfig")),
            "BASH_ENV" => Some(OsString::new()),
            "ENV" => Some(OsString::from("/")),
            _ => None,
        };
        let got = places_in(env);
        assert!(got.contains(&(PathBuf::from("/runner/_temp/set_env_1"), RuleId::PersistCi)));
        assert!(got.contains(&(
            PathBuf::from("/home/u/dotfiles/gitconfig"),
            RuleId::PersistGit
        )));
        // Relative and empty values, and a directory, name nothing.
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn every_entry_parses() {
        let text = include_str!("../../policy/persistence.toml");
        let f: File = toml::from_str(text).expect("policy/persistence.toml");
        assert!(f.moved.iter().any(|m| m.var == "GITHUB_ENV"));
    }
}
