//! The processes of an install.

use serde::Serialize;

/// One exec of the install: a node of its process tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ProcNode {
    /// Process id.
    pub pid: i32,
    /// Parent process id.
    pub ppid: Option<i32>,
    /// The executable.
    pub exe: String,
    /// Its arguments.
    pub argv: Vec<String>,
    /// Its working directory.
    pub cwd: Option<String>,
    /// The package whose hook it runs, when known.
    pub package: Option<String>,
    /// The hook.
    pub hook: Option<String>,
}

/// A process still running in the install's tree after the manager exited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Lingering {
    /// Process id.
    pub pid: i32,
    /// Parent process id.
    pub ppid: i32,
    /// Its command line.
    pub argv: Vec<String>,
}
