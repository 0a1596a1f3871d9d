//! How much an install is allowed to do.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How much an install is allowed to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Observe and report; deny nothing.
    Audit,
    /// Deny never-legitimate actions; report the rest.
    #[default]
    Protect,
    /// Allow only what the policy expects; any finding fails the install.
    Block,
}

impl Mode {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Audit => "audit",
            Mode::Protect => "protect",
            Mode::Block => "block",
        }
    }

    /// Parses a mode name (for flags and variables).
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "audit" => Some(Mode::Audit),
            "protect" => Some(Mode::Protect),
            "block" => Some(Mode::Block),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
