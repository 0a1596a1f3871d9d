//! Adapter stub: replaced by the real classifier.

use super::{Classified, PassReason, Tool};

/// Classifies a command line (stub).
pub fn classify(_tool: Tool, _args: &[String]) -> Classified {
    Classified::pass(PassReason::NotAnInstall)
}
