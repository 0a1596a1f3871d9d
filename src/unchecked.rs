//! The run's part of the feed over TLS (issue 15): when a feed is present
//! and the install's registries over TLS cannot be inspected (the manager
//! cannot be told to trust the install's CA, or the CA or its bundle could
//! not be made), block mode refuses to run the install unless the policy
//! allows it (`intel_allow_unchecked`); the other modes run it, loudly.

use crate::exit::SetupError;
use crate::policy::{Mode, Policy};

/// Known from the plan: `Err` when block mode refuses an install whose
/// registries over TLS the feed cannot check, for `why`. Otherwise the
/// install runs, its registries tunnelled unchecked, and `why` is said
/// loudly (the report's `sandbox.intel.tls_not_inspected` says it too).
pub fn before(p: &Policy, why: &str, what: &str) -> Result<(), SetupError> {
    at_start(p, why)?;
    eprintln!(
        "pkgwarden: WARNING: {what}: the feed of known-malicious packages does NOT check this install's registries over TLS: {why}"
    );
    Ok(())
}

/// Known once the proxy started (the install's CA or its bundle could not
/// be made): `Err` in block mode unless the policy allows it. Otherwise the
/// caller says it; the connections to those registries are then refused
/// (but in audit), never tunnelled unchecked.
pub fn at_start(p: &Policy, why: &str) -> Result<(), SetupError> {
    if p.mode == Mode::Block && !p.intel_allow_unchecked {
        return Err(SetupError::IntelUnchecked {
            why: why.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_refuses_unless_allowed_and_the_other_modes_run() {
        let d = tempfile::tempdir().unwrap();
        let loc = crate::policy::Locations {
            system: d.path().join("none.toml"),
            user: None,
            cwd: None,
        };
        let mut p = crate::policy::load(&loc, &[], &Default::default())
            .unwrap()
            .policy;
        p.mode = Mode::Block;
        let e = before(&p, "conda has no setting", "conda create").unwrap_err();
        assert_eq!(e.code(), crate::exit::SANDBOX_UNAVAILABLE);
        assert!(e.to_string().contains("intel_allow_unchecked"), "{e}");
        assert!(at_start(&p, "no CA").is_err());
        p.intel_allow_unchecked = true;
        assert!(before(&p, "x", "y").is_ok() && at_start(&p, "x").is_ok());
        p.intel_allow_unchecked = false;
        p.mode = Mode::Protect;
        assert!(before(&p, "x", "y").is_ok() && at_start(&p, "x").is_ok());
    }
}
