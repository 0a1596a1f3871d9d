//! Version managers' shim directories (pyenv, rbenv, nodenv, asdf, mise): when
//! the real manager is such a shim, the version manager rewrites its shim
//! directory after the install (`pyenv rehash`, `asdf reshim`), so that
//! directory is a write root of the install.
//!
//! Two kinds of shim. A script shim is recognised by shape, not by name: a
//! small script whose last command hands its own name to a version
//! manager's `exec` subcommand (`exec "/root/.pyenv/libexec/pyenv" exec
//! "$program" "$@"`, `exec asdf exec "pip" "$@"`). A link shim (mise's) is a
//! link to the version manager's own binary, which dispatches on the name it
//! is started by; those binaries are named in `policy/version_managers.toml`.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Debug, Default, Deserialize)]
struct VersionManagers {
    multicall: Vec<String>,
}

fn data() -> &'static VersionManagers {
    static D: OnceLock<VersionManagers> = OnceLock::new();
    D.get_or_init(|| {
        toml::from_str(include_str!("../../policy/version_managers.toml")).unwrap_or_default()
    })
}

/// Largest script read as a possible shim.
const MAX_SHIM: u64 = 16 * 1024;

/// The shim directory `real` lives in, when `real` is a version manager's shim.
pub fn shim_dir(real: &Path) -> Option<PathBuf> {
    link_shim_dir(real).or_else(|| script_shim_dir(real))
}

/// `real` is a link to a multi-call version manager's binary (mise's
/// `shims/pip -> /usr/local/bin/mise`), under another name than its own.
fn link_shim_dir(real: &Path) -> Option<PathBuf> {
    if !real.symlink_metadata().ok()?.is_symlink() {
        return None;
    }
    let target = std::fs::canonicalize(real).ok()?;
    let target_name = target.file_name()?.to_str()?;
    let own_name = real.file_name()?.to_str()?;
    let multicall = |name: &str| {
        data().multicall.iter().any(|m| {
            name == m
                || name
                    .strip_prefix(m.as_str())
                    .is_some_and(|rest| rest.starts_with(['-', '.']))
        })
    };
    (target.is_file() && multicall(target_name) && !multicall(own_name))
        .then(|| real.parent().map(Path::to_path_buf))?
}

/// `real` is a script handing its own name to a version manager's `exec`.
fn script_shim_dir(real: &Path) -> Option<PathBuf> {
    let meta = std::fs::metadata(real).ok()?;
    if !meta.is_file() || meta.len() > MAX_SHIM {
        return None;
    }
    let text = std::fs::read_to_string(real).ok()?;
    if !text.starts_with("#!") {
        return None;
    }
    let last = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('#'))?;
    is_delegating_exec(last).then(|| real.parent().map(Path::to_path_buf))?
}

/// `exec <manager> exec <program> "$@"`: the shim's own name handed on.
fn is_delegating_exec(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    matches!(
        words.as_slice(),
        ["exec", _manager, "exec", program, "\"$@\""]
            if !program.starts_with('-')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_manager_shims_are_recognised_by_shape() {
        let t = tempfile::tempdir().unwrap();
        let shim = t.path().join("pip");
        std::fs::write(
            &shim,
            "#!/usr/bin/env bash\nset -e\nprogram=\"${0##*/}\"\nexport PYENV_ROOT=\"/x\"\nexec \"/x/libexec/pyenv\" exec \"$program\" \"$@\"\n",
        )
        .unwrap();
        assert_eq!(shim_dir(&shim), Some(t.path().to_path_buf()));
        std::fs::write(
            &shim,
            "#!/usr/bin/env bash\nexec asdf exec \"pip\" \"$@\"\n",
        )
        .unwrap();
        assert_eq!(shim_dir(&shim), Some(t.path().to_path_buf()));
        // A wrapper that runs something else, and a real pip, are not shims.
        std::fs::write(&shim, "#!/bin/sh\nexec /usr/bin/python3 -m pip \"$@\"\n").unwrap();
        assert_eq!(shim_dir(&shim), None);
        std::fs::write(
            &shim,
            "#!/venv/bin/python\nfrom pip._internal.cli.main import main\n",
        )
        .unwrap();
        assert_eq!(shim_dir(&shim), None);
    }

    #[test]
    fn links_to_a_multicall_version_manager_are_shims() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        let shims = t.path().join("shims");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&shims).unwrap();
        for name in ["mise", "mise-2026.1.0-linux-x64", "misery"] {
            std::fs::write(bin.join(name), "\x7fELF").unwrap();
        }
        let link = |target: &str, name: &str| {
            let l = shims.join(name);
            let _ = std::fs::remove_file(&l);
            std::os::unix::fs::symlink(bin.join(target), &l).unwrap();
            l
        };
        assert_eq!(shim_dir(&link("mise", "pip")), Some(shims.clone()));
        assert_eq!(
            shim_dir(&link("mise-2026.1.0-linux-x64", "npm")),
            Some(shims.clone())
        );
        // Another binary whose name only begins like it; mise by its own
        // name; a link to a missing target; the binary itself.
        assert_eq!(shim_dir(&link("misery", "pip")), None);
        assert_eq!(shim_dir(&link("mise", "mise")), None);
        assert_eq!(shim_dir(&link("gone", "gem")), None);
        assert_eq!(shim_dir(&bin.join("mise")), None);
    }
}
