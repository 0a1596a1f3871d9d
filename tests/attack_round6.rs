//! Round 6: attacks on the last session's fixes (every manager's cache in
//! `~/.cache` guarded, yarn 1's scripts under the hook wrapper, root
//! scripts' private caches, the managers' configuration out of every
//! script's reach). Real npm, yarn 1 and pnpm, a loopback registry, inert
//! fixtures: every marker is written in the test's temporary HOME. Root and
//! unprivileged.

use crate::support;

use std::fs;
use std::path::PathBuf;
use support::installs::Installed;
use support::probes::{deps, install_in, probe, root_tool};
use support::*;

/// A finding of `rule` at high or critical severity.
fn assert_high(r: &Installed, rule: &str, what: &str) {
    let f = r.finding(rule);
    assert!(
        matches!(f["severity"].as_str(), Some("high" | "critical")),
        "{what}: {f:#}"
    );
}

/// npm's cache where the XDG layout puts it (`cache=~/.cache/npm`, the
/// usual advice for a clean HOME): an index entry rewritten, a new one
/// made. A later `npm install` takes metadata and tarballs from there.
const NPM_XDG_CACHE: &str = r#"
const c = path.join(home, ".cache", "npm", "_cacache");
t("rewrite_entry", () => fs.appendFileSync(path.join(c, "index-v5", "00", "00", "pw-entry"), "\n" + M));
t("new_entry", () => {
  fs.mkdirSync(path.join(c, "index-v5", "ff", "ff"), {recursive: true});
  fs.writeFileSync(path.join(c, "index-v5", "ff", "ff", "pw-new"), M);
});
"#;

/// npm's cache in `~/.cache/npm` is a manager's cache like yarn's or
/// pip's: a yarn 1 or pnpm dependency's script may not write it either.
#[test]
fn npms_cache_in_the_home_cache_is_guarded_from_yarn_and_pnpm_scripts() {
    let name = "pw-npmxdg";
    let registry = NpmRegistry::start_with(vec![probe(name, NPM_XDG_CACHE)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let cache = home.join(".cache/npm");
    fs::create_dir_all(cache.join("_cacache/index-v5/00/00")).unwrap();
    fs::write(cache.join("_cacache/index-v5/00/00/pw-entry"), "x\n").unwrap();
    fs::write(home.join(".npmrc"), format!("cache={}\n", cache.display())).unwrap();
    let project = env.home.subdir("proj");
    for manager in ["yarn", "pnpm"] {
        for mode in ["protect", "block"] {
            let what = format!("{manager} {mode}");
            if manager == "pnpm" {
                fs::write(
                    project.join("pnpm-workspace.yaml"),
                    format!("onlyBuiltDependencies:\n  - {name}\n"),
                )
                .unwrap();
            }
            let (r, result) = install_in(
                &env,
                &registry,
                manager,
                mode,
                &project,
                &deps(&[name]),
                name,
            );
            assert!(
                !result.is_null(),
                "{what}: script did not run\n{}",
                r.stderr
            );
            for k in ["rewrite_entry", "new_entry"] {
                assert_ne!(result[k], "ok", "{what}: {k}: {result:#}");
            }
            assert_eq!(
                files_holding(&cache, "PWPOISON"),
                Vec::<PathBuf>::new(),
                "{what}"
            );
            if mode == "protect" {
                assert_high(&r, "tamper.manager-cache", &what);
            }
        }
        let _ = fs::remove_file(project.join(".yarnrc"));
        let _ = fs::remove_file(project.join("pnpm-workspace.yaml"));
    }
}

/// The user's name, as zsh's `%n` gives it.
fn user_name() -> String {
    let out = run(std::process::Command::new("id").arg("-un"));
    stdout_str(&out).trim().to_string()
}

/// Code in `~/.cache` that the user's shell runs at every start:
/// powerlevel10k's instant prompt (`~/.zshrc` sources
/// `~/.cache/p10k-instant-prompt-<user>.zsh` first thing) and its
/// `gitstatusd` binary.
const SHELL_CODE_IN_CACHE: &str = r#"
const c = path.join(home, ".cache");
t("instant_prompt", () => fs.appendFileSync(path.join(c, "p10k-instant-prompt-" + process.env.PW_USER + ".zsh"), "\necho " + M + "\n"));
t("gitstatusd", () => fs.appendFileSync(path.join(c, "gitstatus", "gitstatusd-linux-x86_64"), "\necho " + M + "\n"));
"#;

/// `~/.cache` holds code the user's shell runs: a dependency's script may
/// not write it (the split of `~/.cache` granted every existing entry but
/// the managers' caches), and the attempt is persistence.
#[test]
fn a_dependency_script_cannot_plant_shell_start_up_code_in_the_home_cache() {
    let name = "pw-p10k";
    let body = SHELL_CODE_IN_CACHE.replace("process.env.PW_USER", &format!("{:?}", user_name()));
    let registry = NpmRegistry::start_with(vec![probe(name, &body)]);
    let env = ShimEnv::new(&[]);
    let cache = env.home.path().join(".cache");
    fs::create_dir_all(cache.join("gitstatus")).unwrap();
    fs::write(
        cache.join(format!("p10k-instant-prompt-{}.zsh", user_name())),
        "# p10k\n",
    )
    .unwrap();
    fs::write(
        cache.join("gitstatus/gitstatusd-linux-x86_64"),
        "#!/bin/sh\n",
    )
    .unwrap();
    let project = env.home.subdir("proj");
    for mode in ["protect", "block"] {
        let (r, result) = install_in(&env, &registry, "npm", mode, &project, &deps(&[name]), name);
        assert!(
            !result.is_null(),
            "{mode}: script did not run\n{}",
            r.stderr
        );
        for k in ["instant_prompt", "gitstatusd"] {
            assert_ne!(result[k], "ok", "{mode}: {k}: {result:#}");
        }
        assert_eq!(
            files_holding(&cache, "PWPOISON"),
            Vec::<PathBuf>::new(),
            "{mode}"
        );
        if mode == "protect" {
            assert_high(&r, "persist.shell-rc", mode);
        }
    }
}

/// A bin the root project's postinstall runs leaves pnpm configuration in
/// the project's parent: pnpm looks for `pnpm-workspace.yaml` upwards and
/// loads the workspace's `.pnpmfile.cjs` in the manager's own process, so
/// the next `pnpm install` here runs it as the manager (outside the
/// scripts' domain: the user's npmrc and its token are readable there).
const PARENT_WORKSPACE: &str = r#"
const up = path.dirname(process.cwd());
t("workspace", () => fs.writeFileSync(path.join(up, "pnpm-workspace.yaml"), "packages:\n  - " + path.basename(process.cwd()) + "\n"));
t("pnpmfile", () => fs.writeFileSync(path.join(up, ".pnpmfile.cjs"),
  "require('fs').writeFileSync(require('path').join(process.env.HOME, 'pw-pnpmfile-ran'), '" + M + "');\nmodule.exports = {hooks: {}};\n"));
t("npmrc", () => fs.writeFileSync(path.join(up, ".npmrc"), "store-dir=" + path.join(home, ".cache", "pw-store") + "\n"));
"#;

/// Held: no script makes configuration pnpm would read in the project's
/// ancestors (a workspace there is this project's workspace).
#[test]
fn a_root_script_cannot_make_the_project_part_of_a_workspace_above_it() {
    let registry = NpmRegistry::start_with(vec![root_tool(PARENT_WORKSPACE)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let src = env.home.subdir("src");
    let project = src.join("proj");
    fs::create_dir_all(&project).unwrap();
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    for mode in ["protect", "block"] {
        let (r, result) = install_in(
            &env, &registry, "pnpm", mode, &project, &manifest, "pw-tool",
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-tool did not run\n{}",
            r.stderr
        );
        for k in ["workspace", "pnpmfile", "npmrc"] {
            assert_ne!(result[k], "ok", "{mode}: {k}: {result:#}");
        }
        for f in ["pnpm-workspace.yaml", ".pnpmfile.cjs", ".npmrc"] {
            assert!(!src.join(f).exists(), "{mode}: {f} made in the parent");
        }
        // Refused by the install's own domain (no new entries beside a
        // project in protect either), reported as refused writes.
        assert!(r.code == 0, "{mode}: {}", r.stderr);
        // The next install does not run what a script left.
        let _ = install_in(
            &env, &registry, "pnpm", mode, &project, &manifest, "pw-tool",
        );
        assert!(
            !home.join("pw-pnpmfile-ran").exists(),
            "{mode}: pnpmfile ran"
        );
    }
}

/// node-gyp's headers of another node (the user's previous version, or
/// one `nvm use` picks for another project), complete, while the running
/// node's are not there yet: the build that downloads the missing ones
/// must not reach the others' `common.gypi`, whose `<!(...)` commands run
/// in every later native build of that node, the user's own outside any
/// sandbox included.
const OTHER_NODES_HEADERS: &str = r#"
const dev = path.join(home, ".cache", "node-gyp");
t("other_common_gypi", () => fs.appendFileSync(path.join(dev, "20.0.0", "include", "node", "common.gypi"), "\n# " + M + "\n"));
t("other_install_version", () => fs.writeFileSync(path.join(dev, "20.0.0", "installVersion"), M));
t("download", () => {
  const d = path.join(dev, process.version.slice(1));
  fs.mkdirSync(path.join(d, "include", "node"), {recursive: true});
  fs.writeFileSync(path.join(d, "include", "node", "common.gypi"), "{}\n");
  fs.writeFileSync(path.join(d, "installVersion"), "11\n");
});
"#;

/// Only the running node's missing headers are package code's to
/// download; the headers of other nodes stay as they are, and the attempt
/// is reported.
#[test]
fn a_script_downloading_node_gyps_headers_cannot_rewrite_another_nodes() {
    let name = "pw-gypother";
    let registry = NpmRegistry::start_with(vec![probe(name, OTHER_NODES_HEADERS)]);
    let env = ShimEnv::new(&[]);
    let dev = env.home.path().join(".cache/node-gyp");
    let other = dev.join("20.0.0");
    fs::create_dir_all(other.join("include/node")).unwrap();
    fs::write(other.join("include/node/common.gypi"), "{}\n").unwrap();
    fs::write(other.join("installVersion"), "11\n").unwrap();
    let project = env.home.subdir("proj");
    for mode in ["protect", "block"] {
        let current = dev.join(node_version());
        let _ = fs::remove_dir_all(&current);
        let (r, result) = install_in(&env, &registry, "npm", mode, &project, &deps(&[name]), name);
        assert!(
            !result.is_null(),
            "{mode}: script did not run\n{}",
            r.stderr
        );
        for k in ["other_common_gypi", "other_install_version"] {
            assert_ne!(result[k], "ok", "{mode}: {k}: {result:#}");
        }
        assert_eq!(
            files_holding(&dev, "PWPOISON"),
            Vec::<PathBuf>::new(),
            "{mode}"
        );
        assert_high(&r, "tamper.manager-cache", mode);
        // The running node's headers are still the build's to download.
        assert_eq!(result["download"], "ok", "{mode}: {result:#}\n{}", r.stderr);
        assert!(current.join("installVersion").is_file(), "{mode}");
    }
}

/// The running node's version without its `v` (node-gyp's directory name).
fn node_version() -> String {
    let out = run(std::process::Command::new(support::node()).args(["-p", "process.version"]));
    stdout_str(&out).trim().trim_start_matches('v').to_string()
}
