//! The watch window after an install.

use crate::model::change::Change;
use serde::{Deserialize, Serialize};

/// What the window saw, stored in the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchReport {
    /// The window's length in seconds.
    pub window_s: u64,
    /// When it closes (RFC 3339).
    pub until: String,
    /// True once the window has closed.
    pub ended: bool,
    /// Changes to persistence locations since the install ended that were
    /// given to this report (linked to it, or linked to no install and seen
    /// first here). A change with no `after` was written and gone before
    /// the snapshot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}
