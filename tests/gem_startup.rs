//! The start-up detonation for RubyGems (issue 9 class 4): after a gem
//! install that added or changed a plugin, `gem --version` (named by the gem
//! adapter's plan) runs once in the same sandbox, so a plugin that does its
//! work when loaded is caught by the install that brought it, not by the
//! next `gem` command. Real `gem`, inert fixture gems, protect and block.

use crate::support;

use std::fs;
use support::gems::{build_gem, gem_install};
use support::*;

const RC: &str = "# rc\n";

#[test]
fn a_plugin_that_acts_when_loaded_is_caught_by_its_own_install() {
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let work = env.home.subdir("src");
        let gem = build_gem(&env, &work, "pwloadrc");
        fs::write(env.home.path().join(".bashrc"), RC).unwrap();
        let gems = env.home.path().join("gems");
        let r = gem_install(&env, mode, &gems, &gem);
        assert_eq!(
            fs::read_to_string(env.home.path().join(".bashrc")).unwrap(),
            RC,
            "{mode}: ~/.bashrc changed"
        );
        let f = r.finding("persist.shell-rc");
        assert!(
            matches!(f["severity"].as_str(), Some("medium" | "high" | "critical")),
            "{mode}: {f:#}"
        );
        // Block also holds the plugin's loader: no later `gem` loads it.
        let want = if mode == "block" {
            "quarantined"
        } else {
            "blocked"
        };
        assert_eq!(f["action"], want, "{mode}: {f:#}");
        assert_eq!(f["package"], "pwloadrc@1.0.0", "{mode}: {f:#}");
        assert!(
            r.report["timings"]["detonation_ms"].is_u64(),
            "{mode}: {:#}",
            r.report["timings"]
        );
        if mode == "block" {
            assert_eq!(r.code, 90, "{}", r.stderr);
            assert!(!gems.join("plugins/pwloadrc_plugin.rb").exists());
        }
    }
}

#[test]
fn a_plugin_without_side_effects_adds_nothing_at_start_up() {
    let env = ShimEnv::new(&[]);
    let work = env.home.subdir("src");
    let gem = build_gem(&env, &work, "pwbenignplugin");
    fs::write(env.home.path().join(".bashrc"), RC).unwrap();
    let gems = env.home.path().join("gems");
    let r = gem_install(&env, "protect", &gems, &gem);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The detonation ran (a plugin loader is new) and saw nothing.
    assert!(
        r.report["timings"]["detonation_ms"].is_u64(),
        "{:#}",
        r.report["timings"]
    );
    // Writing the plugin and its loader is the install's own finding (a
    // plugin is persistence); nothing may come from the start-up.
    let noisy: Vec<_> = r
        .serious()
        .into_iter()
        .filter(|f| {
            f["rule"] != "persist.pm-config"
                || f["hook"].as_str().is_some_and(|h| h.contains("detonation"))
                || f.to_string().contains("--version")
        })
        .collect();
    assert!(noisy.is_empty(), "{noisy:#?}");
}
