//! pkgwarden's own exit codes. Everything else is the manager's exit code,
//! passed through unchanged.

/// The install was blocked by policy (block mode found something).
pub const BLOCKED: i32 = 90;
/// The sandbox could not be set up in a mode that requires it.
pub const SANDBOX_UNAVAILABLE: i32 = 91;
/// pkgwarden was used wrongly, or its configuration (policy) is broken.
pub const USAGE: i32 = 92;
/// No real manager was found on PATH (what a shell says for a missing command).
pub const NOT_FOUND: i32 = 127;

/// The manager's exit code as pkgwarden reports it after a monitored run: the
/// same, except that a code pkgwarden reserves becomes 1 so that a script
/// never mistakes the manager's failure for a pkgwarden verdict.
pub fn from_manager(code: i32) -> i32 {
    if (BLOCKED..=USAGE).contains(&code) {
        1
    } else {
        code
    }
}

/// Why an install did not run: each says what happened, the exit code it
/// ends with, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A policy file is broken (its error names file, line and column).
    #[error("policy error, nothing was run\n{0}")]
    Policy(String),
    /// The manager's facts could not be derived or asked for.
    #[error("{0}")]
    Facts(#[from] crate::managers::facts::FactsError),
    /// The install's private temporary directory could not be made.
    #[error("cannot make the install's private temporary directory: {0}")]
    TempDir(std::io::Error),
    /// landlock refused the ruleset.
    #[error("{0}")]
    Landlock(#[from] crate::sandbox::landlock::LandlockError),
    /// Block mode needs mechanisms this kernel lacks.
    #[error(
        "block mode requires landlock, seccomp user notification and pidfd_getfd, which this kernel does not give ({missing})"
    )]
    Kernel {
        /// The mechanisms missing, by name.
        missing: String,
    },
    /// The loopback proxy could not start.
    #[error("cannot start the proxy: {0}")]
    Proxy(std::io::Error),
    /// The sandboxed manager could not be started.
    #[error("starting {}: {err}", .real.display())]
    Spawn {
        /// The real manager.
        real: std::path::PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// Block mode, and this install cannot be sandboxed.
    #[error("block mode needs the sandbox, and this install cannot have one: {0}")]
    NeedsSandbox(String),
    /// Block mode, a cooldown, and a manager without a date gate.
    #[error("block mode enforces the cooldown (cut-off {cutoff}), and {why}")]
    CooldownUnenforced {
        /// The cut-off the policy asked for.
        cutoff: String,
        /// Why this manager has no gate.
        why: String,
    },
    /// Block mode, a feed, and registries over TLS it cannot check.
    #[error(
        "refused in block mode: {why}, so the feed of known-malicious packages cannot check its registries over TLS; nothing was run (`intel_allow_unchecked = true` in your user or system policy runs it unchecked)"
    )]
    IntelUnchecked {
        /// Why they cannot be checked.
        why: String,
    },
}

impl SetupError {
    /// The exit code the install ends with.
    pub fn code(&self) -> i32 {
        match self {
            SetupError::Policy(_) => USAGE,
            _ => SANDBOX_UNAVAILABLE,
        }
    }

    /// What to do about it, when there is more to say than the error.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            SetupError::Policy(_) | SetupError::Facts(_) | SetupError::IntelUnchecked { .. } => {
                None
            }
            SetupError::TempDir(_) => {
                Some("point TMPDIR at a writable directory on a local file system")
            }
            SetupError::Landlock(_) | SetupError::Kernel { .. } => {
                Some("`pkgwarden doctor` shows what this kernel gives and what is missing")
            }
            SetupError::Proxy(_) => {
                Some("the proxy listens on 127.0.0.1: check that loopback is up")
            }
            SetupError::Spawn { .. } => Some("check that the manager runs bare (`command -v` it)"),
            SetupError::NeedsSandbox(_) => Some(
                "`pkgwarden run --sandbox` (or PKGWARDEN_SANDBOX=1) sandboxes it anyway, allowing writes only where the plan says",
            ),
            SetupError::CooldownUnenforced { .. } => Some(
                "to run it without the cooldown, set `cooldown_allow_unenforced = true`, or `cooldown_managers.<manager> = \"off\"`, in your user or system policy",
            ),
        }
    }

    /// Says it on stderr for the install `what`; returns the exit code.
    pub fn report(&self, what: &str) -> i32 {
        let head = match self {
            SetupError::Policy(_) => format!("pkgwarden: {self}"),
            SetupError::Facts(_) | SetupError::IntelUnchecked { .. } => {
                format!("pkgwarden: {what}: {self}")
            }
            SetupError::NeedsSandbox(_) | SetupError::CooldownUnenforced { .. } => {
                format!("pkgwarden: {what}: {self}; nothing was run")
            }
            _ => format!("pkgwarden: {what}: cannot set up the sandbox, nothing was run: {self}"),
        };
        match self.hint() {
            Some(h) => eprintln!("{head}\n  hint: {h}"),
            None => eprintln!("{head}"),
        }
        self.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_codes_are_remapped_and_others_kept() {
        assert_eq!(from_manager(0), 0);
        assert_eq!(from_manager(1), 1);
        assert_eq!(from_manager(89), 89);
        assert_eq!(from_manager(90), 1);
        assert_eq!(from_manager(92), 1);
        assert_eq!(from_manager(93), 93);
        assert_eq!(from_manager(130), 130);
    }

    #[test]
    fn setup_errors_end_with_their_code_and_say_what_to_do() {
        let policy = SetupError::Policy("x.toml:3:1: bad".into());
        assert_eq!(policy.code(), USAGE);
        let kernel = SetupError::Kernel {
            missing: "landlock".into(),
        };
        assert_eq!(kernel.code(), SANDBOX_UNAVAILABLE);
        assert!(kernel.to_string().contains("(landlock)"));
        assert!(
            kernel
                .hint()
                .is_some_and(|h| h.contains("pkgwarden doctor"))
        );
        let block = SetupError::NeedsSandbox("facts unknown".into());
        assert_eq!(block.code(), SANDBOX_UNAVAILABLE);
        assert!(block.hint().is_some_and(|h| h.contains("--sandbox")));
    }
}
