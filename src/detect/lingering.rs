//! `proc.lingering`: processes of the install still running after the
//! manager exited (detached by `setsid`, `nohup`, a double fork …).

use super::{Evidence, Finding, Input, Procs, Taken, finding};
use crate::model::Mode;
use crate::model::RuleId;

/// One finding per process left running. An ssh ControlPersist master that
/// git started for an ssh dependency is the user's own tooling.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    input
        .lingering
        .iter()
        .filter(|l| {
            let name = l
                .argv
                .first()
                .map(|a| a.rsplit('/').next().unwrap_or(a))
                .unwrap_or("");
            !(name == "ssh"
                && l.argv
                    .iter()
                    .any(|a| a.contains("ControlPersist") || a == "-M"))
        })
        .map(|l| {
            let ev = Evidence {
                argv: Some(l.argv.clone()),
                ..Evidence::default()
            };
            // Block mode kills what is left; the others leave it running.
            let action = if input.mode == Mode::Block {
                Taken::Blocked
            } else {
                Taken::Observed
            };
            let title = format!(
                "Process left running after the install: {}",
                super::pth::shorten(&l.argv.join(" "))
            );
            finding(RuleId::ProcLingering, title, Some(l.pid), procs, ev, action)
        })
        .collect()
}
