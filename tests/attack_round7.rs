//! Round 7: a grant is judged by what it resolves to. The files and
//! directories an install may write are named by the plan (a project's
//! lockfiles, yarn's error log, node_modules); a project can ship any of
//! them as a symbolic link (git stores links), and a rule made from the
//! name would land on the link's target. Real yarn 1 and npm, a loopback
//! registry, inert fixtures: every marker is written in the test's
//! temporary HOME. Root and unprivileged.

use crate::support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use support::probes::{deps, install_in, root_tool};
use support::*;

const USER_RC: &str = "# the user's own rc\n";

/// The root project's postinstall runs `pw-tool` (cwd: the project),
/// which writes through the project's `yarn-error.log`, whatever it is.
const THROUGH_THE_LOG: &str = r#"
const log = path.join(process.cwd(), "yarn-error.log");
t("append", () => fs.appendFileSync(log, "\n# " + M + "\n"));
t("rc_beneath", () => fs.appendFileSync(path.join(log, ".bashrc"), "\n# " + M + "\n"));
t("keys_beneath", () => fs.appendFileSync(path.join(log, ".ssh", "authorized_keys"), M + "\n"));
"#;

/// The user's start-up file and SSH keys after the install: untouched.
fn assert_home_untouched(home: &Path, what: &str) {
    assert_eq!(
        fs::read_to_string(home.join(".bashrc")).unwrap(),
        USER_RC,
        "{what}: ~/.bashrc changed"
    );
    let keys = fs::read_to_string(home.join(".ssh/authorized_keys")).unwrap();
    assert!(
        !keys.contains("PWPOISON"),
        "{what}: authorized_keys changed"
    );
}

/// yarn 1's plan grants the project's `yarn-error.log`; a project that
/// ships it as a link to `~/.bashrc`, or to HOME itself, gains nothing:
/// the grant is made from what the name resolves to, and a target that is
/// or holds a protected place is not granted. pkgwarden says which grant
/// it refused and why.
#[test]
fn a_linked_lockfile_or_log_grants_nothing_outside_the_project() {
    let registry = NpmRegistry::start_with(vec![root_tool(THROUGH_THE_LOG)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    fs::write(home.join(".bashrc"), USER_RC).unwrap();
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/authorized_keys"), "ssh-ed25519 AAAA user\n").unwrap();
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    for (target, attempt) in [
        (home.join(".bashrc"), "append"),
        (home.clone(), "rc_beneath"),
    ] {
        let log = project.join("yarn-error.log");
        let _ = fs::remove_file(&log);
        symlink(&target, &log).unwrap();
        for mode in ["protect", "block"] {
            let what = format!("yarn-error.log -> {} ({mode})", target.display());
            let (r, result) = install_in(
                &env, &registry, "yarn", mode, &project, &manifest, "pw-tool",
            );
            assert!(
                !result.is_null(),
                "{what}: pw-tool did not run\n{}",
                r.stderr
            );
            assert_ne!(result[attempt], "ok", "{what}: {result:#}");
            assert_ne!(result["keys_beneath"], "ok", "{what}: {result:#}");
            assert_home_untouched(&home, &what);
            assert!(
                r.stderr.contains("yarn-error.log") && r.stderr.contains("link"),
                "{what}: the refused grant is not named\n{}",
                r.stderr
            );
        }
    }
}

/// The root project's postinstall runs `pw-tool`, which plants a program
/// beneath whatever the project's `yarn-error.log` names.
const BENEATH_THE_LOG: &str = r##"
const log = path.join(process.cwd(), "yarn-error.log");
t("plant", () => fs.writeFileSync(path.join(log, "pw-planted"), "#!/bin/sh\necho " + M + "\n", {mode: 0o755}));
t("tamper", () => fs.appendFileSync(path.join(log, "tool"), "\necho " + M + "\n"));
// A second name for ~/.bashrc in node_modules would be granted with it.
t("hardlink", () => fs.linkSync(path.join(home, ".bashrc"), path.join(process.cwd(), "node_modules", "pw-rc")));
"##;

/// A program of the user's in a `bin` directory.
const TOOL: &str = "#!/bin/sh\necho the user's tool\n";

/// Round 7b: a link to a place no persistence list names is still judged.
/// `yarn-error.log -> ~/.local/bin` (or `~/bin`, where a planted `git`
/// runs before the real one) would grant a directory protect keeps out of
/// the writable HOME; in block a link to any directory outside the project
/// (`~/tools/bin`, a version manager's `bin`) would grant what block never
/// grants. Refused, and said.
#[test]
fn a_linked_log_grants_no_directory_the_mode_keeps_out() {
    let registry = NpmRegistry::start_with(vec![root_tool(BENEATH_THE_LOG)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    fs::write(home.join(".bashrc"), USER_RC).unwrap();
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    let cases = [
        (home.join(".local/bin"), "protect"),
        (home.join(".local/bin"), "block"),
        (home.join("bin"), "protect"),
        (home.join("tools/bin"), "block"),
    ];
    for (target, mode) in cases {
        fs::create_dir_all(&target).unwrap();
        fs::write(target.join("tool"), TOOL).unwrap();
        let log = project.join("yarn-error.log");
        let _ = fs::remove_file(&log);
        symlink(&target, &log).unwrap();
        let what = format!("yarn-error.log -> {} ({mode})", target.display());
        let (r, result) = install_in(
            &env, &registry, "yarn", mode, &project, &manifest, "pw-tool",
        );
        assert!(
            !result.is_null(),
            "{what}: pw-tool did not run\n{}",
            r.stderr
        );
        assert_ne!(result["plant"], "ok", "{what}: {result:#}");
        assert_ne!(result["tamper"], "ok", "{what}: {result:#}");
        assert_ne!(result["hardlink"], "ok", "{what}: {result:#}");
        assert_eq!(
            fs::read_to_string(target.join("tool")).unwrap(),
            TOOL,
            "{what}"
        );
        assert!(
            !target.join("pw-planted").exists(),
            "{what}: a program was planted"
        );
        assert!(
            r.stderr.contains("yarn-error.log") && r.stderr.contains("link"),
            "{what}: the refused grant is not named\n{}",
            r.stderr
        );
    }
}

/// The root project's postinstall runs `pw-tool`, which plants a program
/// in `~/.local/bin` and a user unit in `~/.config/systemd/user`.
const INTO_THE_LOG_DIR: &str = r#"
t("bin", () => fs.writeFileSync(path.join(home, ".local/bin/pw-planted"), M + "\n", {mode: 0o755}));
t("unit", () => fs.writeFileSync(path.join(home, ".config/systemd/user/pw.service"), M + "\n"));
"#;

/// Round 7b: a grant can be named by the project's configuration too, no
/// link needed: npm's `logs-dir` (and pnpm's `state-dir`) come from the
/// project's `.npmrc`, and the log directory is the root project's scripts'
/// to write. A cache or log directory that is, holds or lies in a
/// persistence place or a PATH directory of HOME is not granted.
#[test]
fn a_project_npmrc_names_no_log_dir_in_a_persistence_place() {
    let registry = NpmRegistry::start_with(vec![root_tool(INTO_THE_LOG_DIR)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    for d in [".local/bin", ".config/systemd/user"] {
        fs::create_dir_all(home.join(d)).unwrap();
    }
    for (dir, attempt) in [(".local/bin", "bin"), (".config/systemd/user", "unit")] {
        fs::write(
            project.join(".npmrc"),
            format!("logs-dir={}\n", home.join(dir).display()),
        )
        .unwrap();
        for mode in ["protect", "block"] {
            let what = format!("logs-dir={dir} ({mode})");
            let (r, result) =
                install_in(&env, &registry, "npm", mode, &project, &manifest, "pw-tool");
            assert!(
                !result.is_null(),
                "{what}: pw-tool did not run\n{}",
                r.stderr
            );
            assert_ne!(result[attempt], "ok", "{what}: {result:#}");
            assert!(!home.join(".local/bin/pw-planted").exists(), "{what}");
            assert!(
                !home.join(".config/systemd/user/pw.service").exists(),
                "{what}"
            );
        }
    }
}

/// The root project's postinstall runs `pw-tool`, which writes a git hook
/// into the sibling project `webapp` (the project's `file:` dependency).
const INTO_A_SIBLING_REPO: &str = r##"
const hooks = path.join(process.cwd(), "..", "webapp", ".git", "hooks");
t("hook", () => fs.writeFileSync(path.join(hooks, "pre-commit"), "#!/bin/sh\necho " + M + "\n", {mode: 0o755}));
t("workflow", () => fs.writeFileSync(path.join(hooks, "..", "..", ".github", "workflows", "pw.yml"), M + "\n"));
"##;

/// Round 7b: a write root can be a whole project named by the project
/// (npm builds a `file:` dependency in place; poetry writes its project):
/// its persistence places (`.git/hooks`, workflows, editor and agent
/// hooks) are split out of the grant like the install's own project's.
#[test]
fn a_file_dependency_grants_no_persistence_place_of_its_project() {
    let registry = NpmRegistry::start_with(vec![root_tool(INTO_A_SIBLING_REPO)]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    let webapp = env.home.subdir("webapp");
    fs::create_dir_all(webapp.join(".git/hooks")).unwrap();
    fs::create_dir_all(webapp.join(".github/workflows")).unwrap();
    fs::write(
        webapp.join("package.json"),
        r#"{"name": "webapp", "version": "1.0.0", "license": "MIT"}"#,
    )
    .unwrap();
    let mut manifest = deps(&["pw-tool"]);
    manifest["dependencies"]["webapp"] = "file:../webapp".into();
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    for mode in ["protect", "block"] {
        let (r, result) = install_in(&env, &registry, "npm", mode, &project, &manifest, "pw-tool");
        assert!(
            !result.is_null(),
            "{mode}: pw-tool did not run\n{}",
            r.stderr
        );
        assert_ne!(result["hook"], "ok", "{mode}: {result:#}");
        assert_ne!(result["workflow"], "ok", "{mode}: {result:#}");
        assert!(!webapp.join(".git/hooks/pre-commit").exists(), "{mode}");
        assert!(!webapp.join(".github/workflows/pw.yml").exists(), "{mode}");
    }
}
