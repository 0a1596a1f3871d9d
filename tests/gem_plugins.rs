//! RubyGems plugins, end to end with the real `gem`: a gem that ships
//! `lib/rubygems_plugin.rb` gets a loader in `<gem home>/plugins/`, which
//! RubyGems loads at the start of every later `gem` command (RubyGems 3.3:
//! `Gem.load_plugins` in gem_runner.rb, before the command runs). A
//! `Gem.post_install` hook it registers therefore fires on the *next*
//! install, in the gem process itself, never during its own install.

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use support::gems::{build_gem, gem_install, real_gem};
use support::installs::check_finding;
use support::*;

const BLOCKED: i32 = 90;
const RC: &str = "# rc\n";
const MARKER: &str = "pkgwarden-test marker: pwplugin post_install";

/// A test HOME with `~/.bashrc`, both fixture gems built, and the gem home
/// the installs use.
fn setup() -> (ShimEnv, PathBuf, PathBuf, PathBuf) {
    let env = ShimEnv::new(&[]);
    let work = env.home.subdir("src");
    let plugin = build_gem(&env, &work, "pwplugin");
    let quiet = build_gem(&env, &work, "pwquiet");
    fs::write(env.home.path().join(".bashrc"), RC).unwrap();
    let gems = env.home.path().join("gems");
    (env, plugin, quiet, gems)
}

/// `gem install --local FILE` into `gems` with the real gem, unmonitored.
fn bare_install(env: &ShimEnv, gems: &Path, file: &Path) -> std::process::Output {
    run(env
        .bare(real_gem())
        .args(["install", "--local", "--no-document"])
        .arg(file)
        .env("GEM_HOME", gems))
}

/// The shape of the finding the plugin's hook leaves.
fn plugin_wrote_bashrc(f: &serde_json::Value) {
    check_finding(
        f,
        "T1546.004",
        "high",
        Some("pwplugin@1.0.0"),
        Some("rubygems_plugin.rb"),
    );
}

fn bashrc(env: &ShimEnv) -> String {
    fs::read_to_string(env.home.path().join(".bashrc")).unwrap()
}

#[test]
fn rubygems_plugin_post_install_hook_fires_on_the_next_gem_command_and_is_caught() {
    let (env, plugin, quiet, gems) = setup();

    // Its own install: the plugin is written, not loaded; the hook is not run.
    let first = gem_install(&env, "protect", &gems, &plugin);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let loader = gems.join("plugins/pwplugin_plugin.rb");
    assert!(loader.is_file(), "RubyGems wrote no plugin loader");
    let found = first.findings("persist.pm-config");
    let on_loader = found
        .iter()
        .find(|f| f["evidence"]["paths"][0] == loader.display().to_string())
        .unwrap_or_else(|| panic!("no persist.pm-config for the loader: {found:#?}"));
    check_finding(on_loader, "T1574", "high", Some("pwplugin@1.0.0"), None);
    assert!(first.findings("persist.shell-rc").is_empty());
    assert_eq!(bashrc(&env), RC);

    // The next install of another gem loads the plugin; its hook writes
    // ~/.bashrc from the gem process, and is attributed to the plugin.
    let next = gem_install(&env, "protect", &gems, &quiet);
    let rc = next.finding("persist.shell-rc");
    plugin_wrote_bashrc(rc);
    assert_eq!(rc["action"], "blocked", "{rc:#}");
    assert_eq!(bashrc(&env), RC, "protect: ~/.bashrc changed");
    assert!(loader.is_file(), "protect mode removed the plugin");

    // Control: without pkgwarden the same command runs the hook, so the
    // checks above would fail if pkgwarden let it through.
    let bare = bare_install(&env, &gems, &quiet);
    assert_success(&bare, "unmonitored gem install");
    assert!(
        bashrc(&env).contains(MARKER),
        "the fixture's hook did not run"
    );
    fs::write(env.home.path().join(".bashrc"), RC).unwrap();

    // Block mode fails the install and quarantines the plugin's loader,
    // installed earlier but loaded now: no later gem command loads it.
    let blocked = gem_install(&env, "block", &gems, &quiet);
    assert_eq!(blocked.code, BLOCKED, "{}", blocked.stderr);
    let rc = blocked.finding("persist.shell-rc");
    plugin_wrote_bashrc(rc);
    assert_eq!(bashrc(&env), RC, "block: ~/.bashrc changed");
    assert!(!loader.exists(), "block mode left the plugin loader");
    assert!(
        blocked.report["quarantine"]
            .to_string()
            .contains("pwplugin_plugin.rb"),
        "{:#}",
        blocked.report["quarantine"]
    );
    assert_success(
        &bare_install(&env, &gems, &quiet),
        "gem install after the blocked one",
    );
    assert_eq!(bashrc(&env), RC, "the plugin still ran");
}

#[test]
fn block_mode_quarantines_a_new_rubygems_plugin_loader() {
    let (env, plugin, quiet, gems) = setup();

    let r = gem_install(&env, "block", &gems, &plugin);
    assert_eq!(r.code, BLOCKED, "{}\n{}", r.stdout, r.stderr);
    let loader = gems.join("plugins/pwplugin_plugin.rb");
    assert!(!loader.exists(), "the plugin loader was left in place");
    let q = r
        .findings("persist.pm-config")
        .into_iter()
        .find(|f| f["evidence"]["paths"][0] == loader.display().to_string())
        .unwrap_or_else(|| panic!("no finding for the loader: {:#}", r.report["findings"]));
    assert_eq!(q["action"], "quarantined", "{q:#}");

    // The next gem command, even unmonitored, loads no plugin: the hook
    // never runs.
    let next = bare_install(&env, &gems, &quiet);
    assert_success(&next, "gem install after the blocked one");
    assert_eq!(bashrc(&env), RC);
}

#[test]
fn a_gem_without_a_plugin_stays_quiet() {
    let env = ShimEnv::new(&[]);
    let work = env.home.subdir("src");
    let quiet = build_gem(&env, &work, "pwquiet");
    let gems = env.home.path().join("gems");
    // Through the shim, as a user types it: gem is sandboxed by default.
    let out = run(env
        .shim("gem")
        .args(["install", "--local", "--no-document"])
        .arg(&quiet)
        .env("GEM_HOME", &gems)
        .env("PKGWARDEN_MODE", "block"));
    assert_success(&out, "gem install of a benign gem in block mode");
    assert!(stderr_str(&out).contains(SANDBOXED), "{}", stderr_str(&out));
    assert!(gems.join("gems/pwquiet-1.0.0/lib/pwquiet.rb").is_file());
    assert!(!gems.join("plugins/pwquiet_plugin.rb").exists());
}
