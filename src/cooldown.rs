//! The run's part of the release-age cooldown: the adapter sets its
//! manager's date gate on the plan (`managers::cooldown`); here a manager
//! without one is said loudly, and block mode refuses to run it unless the
//! policy allows it (`cooldown_allow_unenforced`).

use crate::exit::SetupError;
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
