//! The run's part of the release-age cooldown: the adapter sets its
//! manager's date gate on the plan (`managers::cooldown`); here a manager
//! without one is said loudly, and block mode refuses to run it unless the
//! policy allows it (`cooldown_allow_unenforced`).

use crate::exit::SetupError;
use crate::model::cooldown::Cooldown;
use crate::model::plan::InstallPlan;
use crate::policy::{Mode, Policy};
use std::ffi::OsString;
use std::path::Path;

/// Applies the policy's cooldown to the plan. `Err`: block mode refuses an
/// install whose manager cannot enforce it.
pub fn apply(
    plan: &mut InstallPlan,
    p: &Policy,
    args: &[OsString],
    cwd: &Path,
    what: &str,
) -> Result<(), SetupError> {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    crate::managers::cooldown::apply(plan, p, std::time::SystemTime::now(), &words, cwd);
    let Some(c) = plan.cooldown.as_ref().filter(|c| !c.enforced) else {
        return Ok(());
    };
    if p.mode == Mode::Block && !p.cooldown_allow_unenforced {
        return Err(SetupError::CooldownUnenforced {
            cutoff: c.cutoff.clone(),
            why: c.mechanism.clone(),
        });
    }
    eprintln!(
        "pkgwarden: WARNING: {what}: cooldown {} NOT ENFORCED: {}; versions uploaded after {} may install",
        c.age, c.mechanism, c.cutoff
    );
    Ok(())
}

/// The cooldown as the install ran under it: the plan's record, with what
/// the proxy saw when it enforced it (the versions it held back, each once;
/// the documents it could not filter, which make it not enforced when they
/// were passed on).
pub fn observed(
    planned: Option<&Cooldown>,
    requests: &[crate::model::request::Request],
) -> Option<Cooldown> {
    let mut c = planned?.clone();
    for r in requests {
        for h in &r.held_back {
            if !c
                .held_back
                .iter()
                .any(|k| k.package == h.package && k.version == h.version)
            {
                c.held_back.push(h.clone());
            }
        }
        if let Some(why) = &r.cooldown_unfiltered {
            if why.ends_with("passed unfiltered") {
                c.enforced = false;
            }
            c.notes.push(why.clone());
        }
    }
    Some(c)
}

/// One line when the proxy held versions back (none otherwise): which, and
/// when they were released.
pub fn held_back_line(c: Option<&Cooldown>) -> Option<String> {
    let c = c.filter(|c| !c.held_back.is_empty())?;
    let shown: Vec<String> = c
        .held_back
        .iter()
        .take(5)
        .map(|h| format!("{} {} ({})", h.package, h.version, h.released))
        .collect();
    let more = match c.held_back.len() {
        n if n > 5 => format!(" and {} more", n - 5),
        _ => String::new(),
    };
    Some(format!(
        "pkgwarden: cooldown {} held back {}{more}: released after {}",
        c.age,
        shown.join(", "),
        c.cutoff
    ))
}
