//! The shim executable's one decision: exec the real manager now, or hand
//! the call to the full `pkgwarden`.
//!
//! Every `pip`, `npm`, `python` … call goes through a shim, so the common
//! case (not an install) must cost no more than one `execve` of a small
//! binary: the shim executable (`src/bin/pkgwarden-shim.rs`) asks [`decide`],
//! which uses the same classification and PATH walk as the full binary, and
//! reads no policy. Whenever it is not sure the full binary would pass the
//! command straight through, it defers, and the full binary decides as it
//! always did: behaviour is the same either way, only the cost differs.

use crate::managers::{self, Classified, Tool};
use crate::monitor::watch;
use crate::shim;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// What the shim executable does with one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Exec this real manager (argv[0] = its path, as the full binary does).
    Exec(PathBuf),
    /// Exec the full `pkgwarden` with the same argv; the reason, for tests.
    Defer(&'static str),
}

/// `PKGWARDEN_*` variables that the full binary does not read for a command
/// that is not an install: the shim directory (which [`shim::real_for`]
/// reads here too), the shell hook's markers, and the policy's locations,
/// overrides and install options (the policy is read for installs and for
/// new virtualenvs only, and both defer). Any other one defers: being
/// inside a monitored install (`PKGWARDEN_SUPERVISOR`), the hook wrapper's
/// and the nested domain's markers, and any variable newer than this list.
const UNDERSTOOD: &[&str] = &[
    shim::SHIMS_DIR_VAR,
    "PKGWARDEN_SHELL_INTEGRATION",
    "PKGWARDEN_SHELL_HOOK",
    "PKGWARDEN_SYSTEM_POLICY",
    "PKGWARDEN_POLICY",
    "PKGWARDEN_MODE",
    "PKGWARDEN_PACKAGE_MANAGERS",
    "PKGWARDEN_ALLOWED_PARENTS",
    "PKGWARDEN_TIME_WINDOW",
    "PKGWARDEN_COOLDOWN",
    "PKGWARDEN_UNSIGNED_BINARY_ALERTING",
    "PKGWARDEN_EXECUTABLE_ENTROPY_THRESHOLD",
    "PKGWARDEN_INSTALL_WRITE_PATHS",
    "PKGWARDEN_SANDBOX",
    "PKGWARDEN_EVENTS_JSON",
    "PKGWARDEN_SUMMARY",
    "PKGWARDEN_SARIF",
    "PKGWARDEN_CI_SINCE",
];

/// The first `PKGWARDEN_*` variable name among `keys` that the shim
/// executable does not understand (see [`UNDERSTOOD`]).
pub fn foreign_var<'a>(keys: impl IntoIterator<Item = &'a OsStr>) -> Option<&'a OsStr> {
    keys.into_iter().find(|k| {
        k.as_encoded_bytes().starts_with(b"PKGWARDEN_")
            && !UNDERSTOOD.iter().any(|u| *k == OsStr::new(u))
    })
}

/// Decides one call: `argv0` as the shim was called, `args` after it.
/// Reads the environment, one directory (pending watch notices) and the
/// PATH entries; starts nothing and reads no policy.
pub fn decide(argv0: &OsStr, args: &[OsString]) -> Decision {
    let name = Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let Some(tool) = Tool::from_command(&name) else {
        return Decision::Defer("not called by a manager's name");
    };
    let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    if foreign_var(vars.iter().map(|(k, _)| k.as_os_str())).is_some() {
        return Decision::Defer("a PKGWARDEN_* variable it does not understand");
    }
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if managers::new_venvs(tool, &words).is_some() {
        return Decision::Defer("creates a virtualenv (the policy may shim it)");
    }
    if let Classified::Install(_) = managers::classify(tool, &words) {
        return Decision::Defer("an install");
    }
    if watch::notices_pending() {
        return Decision::Defer("a watch notice to print");
    }
    match shim::real_for(&name, Some(argv0), None) {
        Some(real) => Decision::Exec(real),
        None => Decision::Defer("no real manager found (the full binary says so)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_understood_pkgwarden_variables_pass() {
        let keys = |ks: &[&'static str]| -> Vec<&'static OsStr> {
            ks.iter().map(|k| OsStr::new(*k)).collect()
        };
        let calm = keys(&[
            "PATH",
            "PKGWARDEN_SHIMS_DIR",
            "PKGWARDEN_SHELL_HOOK",
            "HOME",
        ]);
        assert_eq!(foreign_var(calm), None);
        let odd = keys(&["PATH", "PKGWARDEN_MODE", "PKGWARDEN_SUPERVISOR"]);
        assert_eq!(foreign_var(odd), Some(OsStr::new("PKGWARDEN_SUPERVISOR")));
        assert!(foreign_var(keys(&["PKGWARDEN_NEW_THING"])).is_some());
        // A variable named like one, without the prefix, counts for nothing.
        assert_eq!(foreign_var(keys(&["MY_PKGWARDEN_X"])), None);
    }

    #[test]
    fn installs_and_odd_names_defer_before_any_lookup() {
        let args = |a: &[&str]| -> Vec<OsString> { a.iter().map(OsString::from).collect() };
        assert_eq!(
            decide(OsStr::new("pkgwarden-shim"), &args(&["--version"])),
            Decision::Defer("not called by a manager's name")
        );
        // Unless the test's own environment has a PKGWARDEN_* variable, the
        // classification decides next.
        if foreign_var(
            std::env::vars_os()
                .map(|(k, _)| k)
                .collect::<Vec<_>>()
                .iter()
                .map(|k| k.as_os_str()),
        )
        .is_none()
        {
            assert_eq!(
                decide(OsStr::new("/x/pip"), &args(&["install", "requests"])),
                Decision::Defer("an install")
            );
            assert_eq!(
                decide(OsStr::new("python3"), &args(&["-m", "venv", "v"])),
                Decision::Defer("creates a virtualenv (the policy may shim it)")
            );
        }
    }
}
