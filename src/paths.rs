//! Where pkgwarden keeps its files: the XDG base directories of the user.

use std::env;
use std::path::PathBuf;

/// The user's home directory (`$HOME`), if set and absolute.
pub fn home() -> Option<PathBuf> {
    env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// `$<var>` when set to an absolute path, else `$HOME/<fallback>`.
fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home().map(|h| h.join(fallback)))
}

/// `$XDG_CONFIG_HOME/pkgwarden`.
pub fn config_dir() -> Option<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config").map(|p| p.join("pkgwarden"))
}

/// `$XDG_CACHE_HOME/pkgwarden`.
pub fn cache_dir() -> Option<PathBuf> {
    xdg("XDG_CACHE_HOME", ".cache").map(|p| p.join("pkgwarden"))
}

/// `$XDG_DATA_HOME/pkgwarden`.
pub fn data_dir() -> Option<PathBuf> {
    xdg("XDG_DATA_HOME", ".local/share").map(|p| p.join("pkgwarden"))
}

/// `$XDG_STATE_HOME/pkgwarden` (fallback `$HOME/.local/state/pkgwarden`):
/// what pkgwarden keeps between runs that is neither configuration nor
/// cache, such as install reports.
pub fn state_dir() -> Option<PathBuf> {
    xdg("XDG_STATE_HOME", ".local/state").map(|p| p.join("pkgwarden"))
}

/// The default shim directory, `$XDG_DATA_HOME/pkgwarden/shims`.
pub fn default_shims_dir() -> Option<PathBuf> {
    data_dir().map(|p| p.join("shims"))
}

/// Expands a leading `~/` (or a lone `~`) to `$HOME`.
pub fn expand_tilde(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), path == "~", home()) {
        (Some(rest), _, Some(h)) => h.join(rest),
        (_, true, Some(h)) => h,
        _ => PathBuf::from(path),
    }
}
