//! The leaf value types the stages share (classify, sandbox, monitor,
//! detect, report, policy): data with serde, and no logic that calls
//! another stage, so that every stage may depend on this module and this
//! module on none of them.

pub mod mode;
pub mod rule;
pub mod severity;

pub use mode::Mode;
pub use rule::RuleId;
pub use severity::Severity;
