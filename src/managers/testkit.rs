//! Helpers shared by the adapters' classification tables.

use super::{Classified, InstallRequest, Tool, classify};

/// Owned words.
pub fn v(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// The install verb, or None for a passthrough.
pub fn verb(tool: Tool, words: &[&str]) -> Option<String> {
    match classify(tool, &v(words)) {
        Classified::Install(req) => Some(req.command),
        Classified::Passthrough { .. } => None,
    }
}

/// The install request; panics on a passthrough.
pub fn request(tool: Tool, words: &[&str]) -> InstallRequest {
    match classify(tool, &v(words)) {
        Classified::Install(req) => req,
        other => panic!("{tool} {words:?} should be an install, got {other:?}"),
    }
}
