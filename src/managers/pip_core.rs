//! pip's own part of its facts: its version, default index and file host,
//! cache directory and configuration. Every environment with the same pip
//! and the same configuration files shares it (a fresh virtualenv per CI
//! job, each with the `ensurepip` copy of one pip), and asking pip for it
//! means importing most of pip (a few hundred milliseconds), so it is kept
//! apart from the per-environment facts and asked once.
//!
//! Shared only where nothing that differs between environments can change
//! it: the key is the pip distribution's name and version, the Python
//! version and every variable pip's configuration reads; the configuration
//! files it read are dependencies (a change, a new file, is a new probe);
//! an environment with a `pip.conf` of its own is never shared.

use super::facts::{Dep, facts_dir, write_json};
use super::pip_facts::PipWhere;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// What pip says of itself (the probe's second part).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipCore {
    /// `pip.__version__`.
    pub pip_version: Option<String>,
    /// pip's default index.
    pub default_index: Option<String>,
    /// The host its default index serves files from.
    pub file_host: Option<String>,
    /// pip's own cache directory.
    pub cache_dir: Option<String>,
    /// pip's configuration, as `Configuration.items()` gives it.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Every configuration file pip reads, in its order (present or not).
    #[serde(default)]
    pub config_files: Vec<String>,
}

/// One kept answer.
#[derive(Serialize, Deserialize)]
struct Kept {
    core: PipCore,
    /// Where the environment's own `pip.conf` stands in `config_files`.
    site: usize,
    /// The other configuration files, as they were.
    deps: Vec<Dep>,
}

/// The variables pip's configuration and cache directory depend on (the
/// environment's own place is `sys.prefix`, never a variable).
fn relevant(k: &str) -> bool {
    k.starts_with("PIP_") || k.starts_with("XDG_") || k == "HOME" || k == "NETRC"
}

/// The file pip's part for `place` is kept in; `None` when it cannot be
/// shared (no single pip distribution beside the pip it imports).
fn file(place: &PipWhere) -> Option<PathBuf> {
    let dist = place.pip_dist.as_deref()?;
    let mut env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| relevant(k)).collect();
    env.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    dist.hash(&mut h);
    place.version.hash(&mut h);
    env.hash(&mut h);
    facts_dir().map(|d| d.join(format!("pip-core-{:016x}.json", h.finish())))
}

/// pip's part for `place`, from an earlier probe of the same pip, when the
/// environment has no `pip.conf` of its own and no configuration file
/// changed; its own `pip.conf` takes the place of the earlier one's.
pub(super) fn cached(place: &PipWhere) -> Option<PipCore> {
    if Path::new(&place.site_config).symlink_metadata().is_ok() {
        return None;
    }
    let text = crate::paths::read_trusted(&file(place)?)?;
    let kept: Kept = serde_json::from_slice(&text).ok()?;
    if !kept.deps.iter().all(Dep::unchanged) {
        return None;
    }
    let mut core = kept.core;
    *core.config_files.get_mut(kept.site)? = place.site_config.clone();
    Some(core)
}

/// Keeps pip's part just asked for `place`, when it can be shared.
pub(super) fn keep(place: &PipWhere, core: &PipCore) {
    let Some(file) = file(place) else { return };
    let Some(site) = core
        .config_files
        .iter()
        .position(|f| *f == place.site_config)
    else {
        return;
    };
    if Path::new(&place.site_config).symlink_metadata().is_ok() {
        return;
    }
    let deps = core
        .config_files
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != site)
        .map(|(_, f)| Dep::of(Path::new(f)))
        .collect();
    let kept = Kept {
        core: core.clone(),
        site,
        deps,
    };
    // A cache that cannot be written only costs the next environment a probe.
    let _ = write_json(&file, &kept);
}
