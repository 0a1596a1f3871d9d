//! Every package manager's cache in the home cache
//! (`policy/manager_caches.toml`) and corepack's home: package code may not
//! write them in any install, not only the running manager's.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Default, Deserialize)]
struct Data {
    home_cache: Vec<String>,
    /// Code the user's shell runs from the home cache; `*` within a name.
    #[serde(default)]
    start_up: Vec<String>,
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    // Compiled in and checked by a unit test: a parse error cannot reach users.
    DATA.get_or_init(|| {
        toml::from_str(include_str!("../../policy/manager_caches.toml")).unwrap_or_default()
    })
}

/// Corepack's home, where it keeps the package managers it runs and the
/// `lastKnownGood.json` that picks their version: `$COREPACK_HOME`, else
/// `$XDG_CACHE_HOME/node/corepack`, else `~/.cache/node/corepack`.
pub fn corepack_home(var: impl Fn(&str) -> Option<String>, home: Option<&Path>) -> Option<PathBuf> {
    let abs = |k: &str| var(k).map(PathBuf::from).filter(|p| p.is_absolute());
    abs("COREPACK_HOME").or_else(|| {
        abs("XDG_CACHE_HOME")
            .or_else(|| home.map(|h| h.join(".cache")))
            .map(|c| c.join("node/corepack"))
    })
}

/// Every manager's cache in `~/.cache` (and in `$XDG_CACHE_HOME` when that
/// is another place), corepack's home, and the existing entries there that
/// the user's shell runs at its start (powerlevel10k's instant prompt).
pub fn guarded(var: impl Fn(&str) -> Option<String>, home: Option<&Path>) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = home.map(|h| h.join(".cache")).into_iter().collect();
    if let Some(x) = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && !roots.contains(p))
    {
        roots.push(x);
    }
    let mut out: Vec<PathBuf> = roots
        .iter()
        .flat_map(|r| data().home_cache.iter().map(move |n| r.join(n)))
        .collect();
    out.extend(corepack_home(&var, home).filter(|c| !out.contains(c)));
    for root in &roots {
        out.extend(start_up(root, &data().start_up));
    }
    out
}

/// The entries of `root` that `patterns` name: a plain name as is (the
/// split keeps a missing one from being made), a pattern by the existing
/// names it matches (package code cannot make new entries in the home
/// cache once it is split, which the names above always make it).
fn start_up(root: &Path, patterns: &[String]) -> Vec<PathBuf> {
    let names: Vec<String> = std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for p in patterns {
        if !p.contains(['*', '?']) {
            out.push(root.join(p));
            continue;
        }
        out.extend(
            names
                .iter()
                .filter(|n| crate::glob::match_name(p, n))
                .map(|n| root.join(n)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_parses_and_names_every_managers_cache_but_script_tool_caches() {
        let d: Data = toml::from_str(include_str!("../../policy/manager_caches.toml")).unwrap();
        for n in ["pip", "uv", "yarn", "pnpm", "node/corepack", "Homebrew"] {
            assert!(d.home_cache.iter().any(|c| c == n), "{n}");
        }
        assert!(!d.home_cache.iter().any(|c| c == "node-gyp" || c == "node"));
        let home = Path::new("/h");
        let none = |_: &str| None;
        let g = guarded(none, Some(home));
        assert!(g.contains(&home.join(".cache/pip")));
        assert!(g.contains(&home.join(".cache/node/corepack")));
        // The plain start-up names; a pattern matches nothing under a missing home.
        assert_eq!(g.len(), d.home_cache.len() + 4);
        assert!(g.contains(&home.join(".cache/npm")));
        assert!(g.contains(&home.join(".cache/gitstatus")));
        // A moved home cache and corepack home are guarded too.
        let var = |k: &str| match k {
            "XDG_CACHE_HOME" => Some("/x".to_string()),
            "COREPACK_HOME" => Some("/cp".to_string()),
            _ => None,
        };
        let g = guarded(var, Some(home));
        for p in ["/h/.cache/yarn", "/x/yarn", "/cp"] {
            assert!(g.contains(&PathBuf::from(p)), "{p}: {g:?}");
        }
        let rel = |k: &str| (k == "COREPACK_HOME").then(|| "rel".to_string());
        assert_eq!(
            corepack_home(rel, Some(home)),
            Some(home.join(".cache/node/corepack"))
        );
    }

    #[test]
    fn shell_start_up_code_in_the_home_cache_is_guarded_by_its_existing_names() {
        let d: Data = toml::from_str(include_str!("../../policy/manager_caches.toml")).unwrap();
        assert!(d.start_up.iter().any(|p| p == "p10k-*"));
        let home = tempfile::tempdir().unwrap();
        let cache = home.path().join(".cache");
        std::fs::create_dir_all(cache.join("gitstatus")).unwrap();
        for f in [
            "p10k-instant-prompt-u.zsh",
            "p10k-instant-prompt-u.zsh.zwc",
            "other",
        ] {
            std::fs::write(cache.join(f), "").unwrap();
        }
        let got = start_up(&cache, &d.start_up);
        assert!(got.contains(&cache.join("p10k-instant-prompt-u.zsh")));
        assert!(got.contains(&cache.join("p10k-instant-prompt-u.zsh.zwc")));
        assert!(got.contains(&cache.join("gitstatus")));
        assert!(!got.contains(&cache.join("other")));
        assert!(!got.iter().any(|p| p.to_string_lossy().contains('*')));
    }
}
