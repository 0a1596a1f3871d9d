//! One call of a manager as pkgwarden received it (through a shim or
//! `pkgwarden run`): the value `invoke` decides on and `run`/`judge` carry
//! out, kept apart so that those three do not import one another for it.

use crate::model::Tool;
use crate::policy::Overrides;
use std::ffi::OsString;
use std::path::PathBuf;

/// One call of a manager, through a shim or `pkgwarden run`.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The tool it stands for.
    pub tool: Tool,
    /// The command name to look up on PATH (`pip3.11`, `python3`, …).
    pub name: String,
    /// The arguments after argv[0].
    pub args: Vec<OsString>,
    /// The manager named by its path (`pkgwarden run -- v/bin/pip …`): that
    /// one, not the first on PATH.
    pub explicit: Option<PathBuf>,
    /// Policy flags of `pkgwarden run`.
    pub overrides: Overrides,
    /// Sandbox options (`--sandbox`, `PKGWARDEN_SANDBOX`).
    pub sandbox: SandboxOpts,
}

/// Options of the sandboxed install.
#[derive(Debug, Clone, Default)]
pub struct SandboxOpts {
    /// Run installs inside the sandbox: `Some(true)` forces it (`--sandbox`,
    /// `PKGWARDEN_SANDBOX=1`), `Some(false)` turns it off
    /// (`PKGWARDEN_SANDBOX=0`), `None` leaves it to the family (on where the
    /// manager's facts are derived: every family but the skeletons).
    pub enabled: Option<bool>,
    /// Write the events as JSON here.
    pub events_json: Option<PathBuf>,
}

impl SandboxOpts {
    /// From `PKGWARDEN_SANDBOX` and `PKGWARDEN_EVENTS_JSON` (for shims).
    pub fn from_env() -> SandboxOpts {
        SandboxOpts {
            enabled: match std::env::var("PKGWARDEN_SANDBOX").as_deref() {
                Ok("1") => Some(true),
                Ok("0") => Some(false),
                _ => None,
            },
            events_json: std::env::var_os("PKGWARDEN_EVENTS_JSON").map(PathBuf::from),
        }
    }
}
