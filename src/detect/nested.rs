//! `sandbox.unnested`: a process that ran package code (a build backend,
//! `setup.py`, `extconf.rb` … by its command line) without acknowledging
//! the nested domain the preload library puts it in: a statically linked
//! or setuid interpreter, a missing library, an `LD_PRELOAD` the install
//! removed. Its code had the install's rights, not package code's.

use super::{Evidence, Finding, Input, Procs, Taken, finding};
use crate::model::RuleId;

/// One finding per package-code process that ran unconfined.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut out = Vec::new();
    for (node, shape, acked) in input.nest.runs(input) {
        // A descendant of a confined process inherits its domain.
        let inherited = procs.ancestors(node.pid).iter().any(|a| {
            input
                .nest
                .runs(input)
                .iter()
                .any(|(n, _, ok)| n.pid == *a && *ok)
        });
        if acked || inherited {
            continue;
        }
        let ev = Evidence {
            argv: Some(node.argv.clone()),
            detail: Some(match &input.nest.missing {
                Some(why) => format!("not confined: {why}"),
                None => "not confined: the process never loaded pkgwarden's preload library (a static or setuid program, or LD_PRELOAD removed)".into(),
            }),
            ..Evidence::default()
        };
        let title = format!("Package code ({shape}) ran with the install's rights");
        out.push(finding(
            RuleId::SandboxUnnested,
            title,
            Some(node.pid),
            procs,
            ev,
            Taken::Observed,
        ));
    }
    out
}
