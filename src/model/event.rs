//! What the supervisor saw a sandboxed process do.

use serde::Serialize;

/// The hook name the start-up detonation's processes and their findings
/// carry (set by the monitor, judged by the rules).
pub const HOOK: &str = "start-up detonation";

/// What the supervisor did with a syscall.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let it run (landlock still applies).
    #[default]
    Observed,
    /// Performed or allowed on the supervisor's decision.
    Allowed,
    /// Refused.
    Denied,
}

/// What kind of thing a sandboxed process did. The names are the report's
/// and the events file's `kind` strings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// An execve.
    Exec,
    /// An open for writing, creating or truncating.
    OpenWrite,
    /// An open for reading only (kept for credentials and plugins).
    OpenRead,
    /// A rename: `paths` are the old and the new name.
    Rename,
    /// A hard link: `paths` are the file linked and the new name.
    Link,
    /// A symlink: `paths` are the target as written and the link.
    Symlink,
    /// An unlink or rmdir.
    Unlink,
    /// A mkdir.
    Mkdir,
    /// A mknod.
    Mknod,
    /// A chmod to a mode with an execute bit.
    ChmodExec,
    /// A chmod to any other mode.
    Chmod,
    /// A chown.
    Chown,
    /// A truncate by path.
    Truncate,
    /// A memfd_create (`paths` holds its name).
    Memfd,
    /// A connect.
    Connect,
    /// A bind.
    Bind,
    /// A listen.
    Listen,
    /// A datagram sent to an address.
    Send,
    /// A datagram that is a DNS query.
    Dns,
    /// A syscall the rules refuse outright.
    Denied,
    /// A kind this version does not know (a report written by a newer one):
    /// such a report still loads. Also the kind of an event not yet decoded.
    #[default]
    #[serde(other)]
    Unknown,
}

impl EventKind {
    /// The name as the report writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exec => "exec",
            Self::OpenWrite => "open-write",
            Self::OpenRead => "open-read",
            Self::Rename => "rename",
            Self::Link => "link",
            Self::Symlink => "symlink",
            Self::Unlink => "unlink",
            Self::Mkdir => "mkdir",
            Self::Mknod => "mknod",
            Self::ChmodExec => "chmod-exec",
            Self::Chmod => "chmod",
            Self::Chown => "chown",
            Self::Truncate => "truncate",
            Self::Memfd => "memfd",
            Self::Connect => "connect",
            Self::Bind => "bind",
            Self::Listen => "listen",
            Self::Send => "send",
            Self::Dns => "dns",
            Self::Denied => "denied",
            Self::Unknown => "unknown",
        }
    }

    /// A network event: what the report's `network` section lists and the
    /// network rules judge.
    pub fn is_network(self) -> bool {
        matches!(
            self,
            Self::Connect | Self::Send | Self::Dns | Self::Bind | Self::Listen
        )
    }

    /// Which of the event's `paths` names what it writes (creates, fills,
    /// makes executable or puts a new name on), or `None` when it writes
    /// nothing. A hard link's source is written too (it becomes writable
    /// under the new name); callers that judge that say so.
    pub fn written_index(self) -> Option<usize> {
        match self {
            Self::OpenWrite | Self::ChmodExec | Self::Truncate | Self::Mknod | Self::Mkdir => {
                Some(0)
            }
            Self::Rename | Self::Link | Self::Symlink => Some(1),
            _ => None,
        }
    }

    /// A change of mode or owner.
    pub fn is_perm(self) -> bool {
        matches!(self, Self::Chmod | Self::ChmodExec | Self::Chown)
    }

    /// An open of a file, for reading or writing.
    pub fn is_open(self) -> bool {
        matches!(self, Self::OpenRead | Self::OpenWrite)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that width and alignment in format strings apply.
        f.pad(self.as_str())
    }
}

/// One thing a sandboxed process did.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Event {
    /// Order of arrival.
    pub seq: u64,
    /// Milliseconds since the install started.
    pub ms: u64,
    /// Process id.
    pub pid: i32,
    /// Parent process id (exec events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppid: Option<i32>,
    /// The syscall.
    pub syscall: String,
    /// What it did.
    pub kind: EventKind,
    /// Paths involved, resolved to what they name (cwd or dirfd, symlinks,
    /// `..`, `/proc` aliases): what the rules judge. A symlink's own target
    /// text is kept as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The paths as the process gave them, when they differ from `paths`
    /// (evidence: the alias it went through).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raw_paths: Vec<String>,
    /// argv of an exec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    /// Working directory of an exec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The package whose lifecycle hook runs this exec, when the manager says
    /// so in the new program's environment (npm's `npm_package_name@version`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The hook (`preinstall`, `postinstall`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// A network address (`ip:port` or a unix socket path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Open flags or mode.
    pub flags: u64,
    /// The owner a chown asked for (`uid:gid`, `-1` for "unchanged").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The name asked for, when the datagram is a DNS query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_query: Option<String>,
    /// What was done.
    pub action: Action,
    /// The errno returned, when denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
}

/// What the loop saw.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Observed {
    /// Recorded events.
    pub events: Vec<Event>,
    /// Notifications handled (events plus unrecorded reads).
    pub notifications: u64,
    /// True when processes still held the filter after the grace period
    /// (their trapped syscalls fail from then on).
    pub still_held: bool,
}
