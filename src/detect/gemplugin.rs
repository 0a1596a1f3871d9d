//! RubyGems plugins: a gem's `rubygems_plugin.rb` runs inside every later
//! `gem` command, so what that process does after loading one (a
//! `Gem.post_install` hook writing `~/.bashrc`) is the plugin's doing, not
//! the manager's. Findings of such a process are attributed to the plugin's
//! gem and name the loader in `<gem home>/plugins/`, which block mode then
//! quarantines; findings about a plugin file name the gem it belongs to.

use super::{Finding, Input, Procs, Severity};
use crate::model::EventKind;
use crate::model::{Change, ChangeKind};
use std::collections::HashMap;
use std::path::Path;

/// The hook name findings of a loaded plugin carry.
pub const HOOK: &str = "rubygems_plugin.rb";

/// True for the loader RubyGems writes into `<gem home>/plugins/` (what
/// `gem` loads at start-up), as opposed to the gem's own file.
fn is_loader(p: &Path) -> bool {
    is_plugin_file(p) && p.file_name().is_some_and(|n| n != HOOK)
}

/// Attributes findings that have no package yet to the RubyGems plugin
/// behind them.
pub fn attribute(input: &Input, procs: &Procs, findings: &mut [Finding]) {
    // pid → the plugin files it loaded, in order.
    let mut loaded: HashMap<i32, Vec<&str>> = HashMap::new();
    for e in input
        .events
        .iter()
        .filter(|e| e.kind == EventKind::OpenRead)
    {
        if let Some(p) = e.paths.first()
            && is_plugin_file(Path::new(p))
        {
            let files = loaded.entry(e.pid).or_default();
            if !files.contains(&p.as_str()) {
                files.push(p);
            }
        }
    }
    for f in findings.iter_mut().filter(|f| f.package.is_none()) {
        let by_process = f.pid.and_then(|pid| {
            std::iter::once(pid)
                .chain(procs.ancestors(pid))
                .find_map(|p| loaded.get(&p))
        });
        if let Some(files) = by_process {
            f.package = files.iter().find_map(|p| plugin_gem(Path::new(p)));
            f.hook = Some(HOOK.to_string());
            for l in files.iter().filter(|p| is_loader(Path::new(p))) {
                if !f.evidence.paths.iter().any(|x| x == l) {
                    f.evidence.paths.push(l.to_string());
                }
            }
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

/// The plugin loaders behind failing findings that this install did not
/// write (installed earlier, loaded now): block mode holds them too, so no
/// later `gem` command loads the plugin again.
pub fn loaders_to_hold(findings: &[Finding], min: Severity, changes: &[Change]) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    for f in findings
        .iter()
        .filter(|f| f.hook.as_deref() == Some(HOOK) && f.severity >= min && f.allowed_by.is_none())
    {
        for p in f.evidence.paths.iter().filter(|p| is_loader(Path::new(p))) {
            if !changes.iter().chain(&out).any(|c| &c.path == p) {
                out.push(Change {
                    path: p.clone(),
                    kind: ChangeKind::Added,
                    before: None,
                    after: None,
                    added_lines: Vec::new(),
                });
            }
        }
    }
    out
}

// A rule truly about one manager's file format: which files RubyGems loads
// as plugins.

/// True for a file RubyGems loads at the start of every later `gem`
/// command: a gem's own `rubygems_plugin.rb`, or the loader RubyGems writes
/// for it as `<gem home>/plugins/<name>_plugin.rb` (RubyGems 3.2 and later).
pub fn is_plugin_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name == "rubygems_plugin.rb" {
        return true;
    }
    let loader_name = name.ends_with("_plugin.rb") || name.ends_with("_plugin.so");
    // Only a `plugins` directory beside `specifications` is a gem home's: a
    // file of that name elsewhere (a Rails app, a package's sources) is not.
    loader_name
        && path
            .parent()
            .filter(|d| d.file_name().is_some_and(|n| n == "plugins"))
            .and_then(Path::parent)
            .is_some_and(|home| home.join("specifications").is_dir())
}

/// The gem (`name@version`) a plugin file belongs to: from the
/// `gems/<name>-<version>/` directory it lies in, or, for a loader in
/// `plugins/`, from the file it requires (else its name alone).
pub fn plugin_gem(path: &Path) -> Option<String> {
    if let Some(g) = gem_of_path(path) {
        return Some(g);
    }
    let name = path.file_stem()?.to_str()?.strip_suffix("_plugin")?;
    let head = super::binary::read_head(path, 4096).unwrap_or_default();
    let text = String::from_utf8_lossy(&head);
    let target = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("require_relative"))
        .map(|r| {
            r.trim()
                .trim_matches(|c| c == '\'' || c == '"' || c == '(' || c == ')')
        });
    target
        .and_then(|t| gem_of_path(Path::new(t)))
        .or_else(|| Some(name.to_string()))
}

/// `name@version` of the `gems/<name>-<version>[-<platform>]` component of
/// `path`.
fn gem_of_path(path: &Path) -> Option<String> {
    let comps: Vec<&str> = path.iter().filter_map(|c| c.to_str()).collect();
    let full = comps
        .windows(2)
        .rev()
        .find(|w| w[0] == "gems")
        .map(|w| w[1])?;
    // The version starts at the first `-` followed by a digit (names may
    // hold dashes; versions start with a digit).
    let cut = full
        .char_indices()
        .find(|(i, c)| *c == '-' && full[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(i, _)| i)?;
    let version = full[cut + 1..].split('-').next()?;
    Some(format!("{}@{version}", &full[..cut]))
}
