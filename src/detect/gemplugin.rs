//! RubyGems plugins: a gem's `rubygems_plugin.rb` runs inside every later
//! `gem` command, so what that process does after loading one (a
//! `Gem.post_install` hook writing `~/.bashrc`) is the plugin's doing, not
//! the manager's. Findings of such a process are attributed to the plugin's
//! gem; findings about a plugin file name the gem it belongs to.

use super::{Finding, Input, Procs};
use crate::managers::gem::{is_plugin_file, plugin_gem};
use std::collections::HashMap;
use std::path::Path;

/// The hook name findings of a loaded plugin carry.
pub const HOOK: &str = "rubygems_plugin.rb";

/// Attributes findings that have no package yet to the RubyGems plugin
/// behind them.
pub fn attribute(input: &Input, procs: &Procs, findings: &mut [Finding]) {
    // pid → the first plugin gem it loaded.
    let mut loaded: HashMap<i32, String> = HashMap::new();
    for e in input.events.iter().filter(|e| e.kind == "open-read") {
        if let Some(p) = e.paths.first().map(Path::new)
            && is_plugin_file(p)
            && let Some(gem) = plugin_gem(p)
        {
            loaded.entry(e.pid).or_insert(gem);
        }
    }
    for f in findings.iter_mut().filter(|f| f.package.is_none()) {
        let by_process = f.pid.and_then(|pid| {
            std::iter::once(pid)
                .chain(procs.ancestors(pid))
                .find_map(|p| loaded.get(&p).cloned())
        });
        if let Some(gem) = by_process {
            f.package = Some(gem);
            f.hook = Some(HOOK.to_string());
        } else if let Some(gem) = f
            .evidence
            .paths
            .iter()
            .map(Path::new)
            .filter(|p| is_plugin_file(p))
            .find_map(plugin_gem)
        {
            // Written by the manager: the gem is named, no hook ran.
            f.package = Some(gem);
        }
    }
}
