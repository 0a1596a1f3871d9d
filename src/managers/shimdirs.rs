//! Version managers' shim directories (pyenv, rbenv, nodenv, asdf …): when
//! the real manager is such a shim, the version manager rewrites its shim
//! directory after the install (`pyenv rehash`, `asdf reshim`), so that
//! directory is a write root of the install.
//!
//! Recognised by shape, not by name: a shim is a small script whose last
//! command hands its own name to a version manager's `exec` subcommand
//! (`exec "/root/.pyenv/libexec/pyenv" exec "$program" "$@"`,
//! `exec asdf exec "pip" "$@"`).

use std::path::{Path, PathBuf};

/// Largest script read as a possible shim.
const MAX_SHIM: u64 = 16 * 1024;

/// The shim directory `real` lives in, when `real` is a version manager's shim.
pub fn shim_dir(real: &Path) -> Option<PathBuf> {
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
}
