//! Where pkgwarden keeps its files: the XDG base directories of the user.

use std::env;
use std::path::PathBuf;

/// The name of a project's policy file. Every one from the project's
/// directory up to `/` is read (`policy::project_files`), so no install may
/// create, change or remove one anywhere (`monitor::keep::Guard`).
pub const PROJECT_POLICY: &str = ".pkgwarden.toml";

/// The user's home directory (`$HOME`), if set and absolute.
pub fn home() -> Option<PathBuf> {
    env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// The places a variable's value names: each entry of a `:`-separated list
/// when `list` (`KUBECONFIG`), else the whole value; only absolute paths
/// (the tools resolve a relative one against a working directory that
/// changes, so it names no fixed place).
pub fn named_by(value: &std::ffi::OsStr, list: bool) -> Vec<PathBuf> {
    let named: Vec<PathBuf> = match list {
        true => env::split_paths(value).collect(),
        false => vec![PathBuf::from(value)],
    };
    named.into_iter().filter(|p| p.is_absolute()).collect()
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

/// Where pkgwarden caches what it learned (the kernel probe, managers'
/// facts): `<state dir>/cache`, not `$XDG_CACHE_HOME/pkgwarden`. The sandbox
/// never lets an install write pkgwarden's files, and landlock can only keep
/// a directory out of a writable tree by splitting its parent, which then
/// gains no new entries: `~/.cache` must stay open to the tool caches an
/// install creates in protect (node-gyp's, a browser download's).
pub fn own_cache_dir() -> Option<PathBuf> {
    state_dir().map(|p| p.join("cache"))
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

/// Reads a file of pkgwarden's own cache only when it can be trusted: a
/// regular file (not a symlink) owned by this user and writable by nobody
/// else. The sandbox never grants the cache; this catches a file planted by
/// other means (an audit-mode install, another user).
pub fn read_trusted(path: &std::path::Path) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let m = f.metadata().ok()?;
    let me = nix::unistd::geteuid().as_raw();
    if !m.is_file() || m.uid() != me || m.mode() & 0o022 != 0 {
        return None;
    }
    let mut out = Vec::new();
    f.read_to_end(&mut out).ok()?;
    Some(out)
}

/// node-gyp's devdir: `devdir` from npm's configuration (passed on as
/// `npm_config_devdir`), else node-gyp's default, `node-gyp` in the user's
/// cache directory.
pub fn node_gyp_devdir() -> Option<std::path::PathBuf> {
    let configured = std::env::var("npm_config_devdir")
        .ok()
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from);
    let cache_home = || cache_dir().and_then(|d| d.parent().map(|c| c.join("node-gyp")));
    configured.or_else(cache_home)
}
