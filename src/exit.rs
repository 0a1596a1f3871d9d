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
}
