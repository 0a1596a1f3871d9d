//! `sandbox.escape`: syscalls a package install never needs (the seccomp
//! deny list). Probes ordinary runtimes make (libuv trying io_uring) are
//! info; anything else is high.

use super::{Evidence, Finding, Input, Procs, Severity, finding};
use crate::model::EventKind;
use crate::model::RuleId;
use std::collections::BTreeSet;

/// One finding per (syscall, process).
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    // A refused executable memfd is fileless execution prevented
    // (`exec.dropped`, `super::exec`), not an escape.
    for e in input
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Denied && e.syscall != "memfd_create")
    {
        if !seen.insert((e.syscall.clone(), e.pid)) {
            continue;
        }
        let ev = Evidence {
            detail: Some(format!(
                "{}{}",
                e.syscall,
                e.errno
                    .map(|n| format!(", refused with errno {n}"))
                    .unwrap_or_default()
            )),
            ..Evidence::default()
        };
        let title = format!("Syscall a package install never needs: {}", e.syscall);
        let mut f = finding(
            RuleId::SandboxEscape,
            title,
            Some(e.pid),
            procs,
            ev,
            super::taken_of(e),
        );
        if super::data::benign().probe_syscalls.contains(&e.syscall) {
            f.severity = Severity::Info;
        }
        out.push(f);
    }
    out
}
