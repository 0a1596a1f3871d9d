//! The leaf value types the stages share (classify, sandbox, monitor,
//! detect, report, policy): data with serde, and no logic that calls
//! another stage, so that every stage may depend on this module and this
//! module on none of them.

pub mod change;
pub mod cooldown;
pub mod event;
pub mod finding;
pub mod log;
pub mod mode;
/// The nested domain's spec, shared with the preload library.
#[path = "../nest/spec.rs"]
pub mod nest_spec;
pub mod plan;
pub mod process;
pub mod report;
pub mod request;
pub mod rule;
pub mod severity;
pub mod tool;
pub mod watch;

pub use change::{Change, ChangeKind};
pub use event::{Action, Event, EventKind, Observed};
pub use finding::{Evidence, Finding, Taken};
pub use mode::Mode;
pub use process::{Lingering, ProcNode};
pub use request::Request;
pub use rule::RuleId;
pub use severity::Severity;
pub use tool::Tool;
pub use watch::WatchReport;
