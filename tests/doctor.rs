//! `pkgwarden doctor` (issue 14): one line per problem with its fix, a
//! non-zero exit when there is one, and a broken policy reported without
//! stopping the rest of the examination.

use crate::support;

use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use support::{ShimEnv, run, stdout_str};

/// `doctor` (and `doctor --json`) in `env` with `first` ahead of the shims.
fn doctor(env: &ShimEnv, first: Option<&std::path::Path>, json: bool) -> (i32, String) {
    let mut cmd = env.pkgwarden();
    cmd.arg("doctor");
    if json {
        cmd.arg("--json");
    }
    if let Some(dir) = first {
        let mut path: Vec<PathBuf> = std::env::split_paths(&env.path).collect();
        path.insert(0, dir.to_path_buf());
        cmd.env("PATH", std::env::join_paths(path).unwrap());
    }
    let out = run(&mut cmd);
    (out.status.code().unwrap_or(-1), stdout_str(&out))
}

#[test]
fn a_shadowing_pip_is_one_problem_line_with_its_fix() {
    let env = ShimEnv::new(&[]);
    let other = env.home.subdir("toolcache/bin");
    let pip = other.join("pip");
    fs::write(&pip, "#!/bin/sh\necho other pip\n").unwrap();
    fs::set_permissions(&pip, fs::Permissions::from_mode(0o755)).unwrap();

    let (code, text) = doctor(&env, Some(&other), false);
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("PROBLEM: pip resolves to {}", pip.display())))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains(&format!(
            "; fix: {} was put ahead of the shims",
            other.display()
        )),
        "{line}"
    );
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("  pip "), "the per-name PATH line: {text}");

    let (_, json) = doctor(&env, Some(&other), true);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert!(
        v["problems"].as_array().unwrap().iter().any(|p| p["what"]
            .as_str()
            .unwrap()
            .starts_with("pip resolves to")
            && p["fix"].as_str().unwrap().contains("shell hook")),
        "{v:#}"
    );
    assert!(
        v["path"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == "pip" && n["shim_first"] == false),
        "{v:#}"
    );

    // With the shims first, no name is a problem.
    let (_, text) = doctor(&env, None, false);
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("PROBLEM:") && l.contains(" resolves to ")),
        "{text}"
    );
    assert!(
        text.contains("every monitored name resolves to a shim"),
        "{text}"
    );
}

#[test]
fn a_broken_policy_is_reported_with_its_place_and_the_rest_still_runs() {
    let env = ShimEnv::new(&[]);
    let file = env.home.config_dir().join("pkgwarden/policy.toml");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, "mode = \"block\"\nno_such_key = 1\n").unwrap();

    let (code, text) = doctor(&env, None, false);
    assert_eq!(code, 92, "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("PROBLEM: the policy is broken: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(&format!("{}:2:1", file.display())), "{line}");
    assert!(line.contains("fix: "), "{line}");
    // The rest of the examination ran.
    assert!(text.contains("landlock ABI"), "{text}");
    assert!(
        text.contains("every monitored name resolves to a shim"),
        "{text}"
    );
    assert!(text.contains("policy                BROKEN"), "{text}");

    let (_, json) = doctor(&env, None, true);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["policy"]["valid"], false, "{v:#}");
    assert!(v["policy"]["error"].as_str().unwrap().contains(":2:1"));

    // Repaired, the policy is valid and names its sources.
    fs::write(&file, "mode = \"block\"\n").unwrap();
    let (_, text) = doctor(&env, None, false);
    assert!(
        text.contains(&format!(
            "policy                valid: built-in < user {}",
            file.display()
        )),
        "{text}"
    );
}

#[test]
fn own_directories_and_the_upstream_proxy_are_shown() {
    let env = ShimEnv::new(&[]);
    let mut cmd = env.pkgwarden();
    cmd.args(["doctor", "--json"])
        .env("HTTPS_PROXY", "http://user:secret@127.0.0.1:3128")
        .env("NO_PROXY", "internal.test");
    let v: Value = serde_json::from_slice(&run(&mut cmd).stdout).unwrap();
    assert_eq!(v["proxy"]["addr"], "127.0.0.1:3128", "{v:#}");
    assert_eq!(v["proxy"]["credentials"], true);
    assert!(
        !v.to_string().contains("secret"),
        "credentials leaked: {v:#}"
    );
    let dirs = v["dirs"].as_array().unwrap();
    assert!(
        dirs.iter()
            .any(|d| d["what"] == "reports" && d["error"].is_null()),
        "{v:#}"
    );
    // yarn's facts are derived by its adapter (on a skeleton it fills):
    // read, not a skeleton.
    let yarn = v["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["manager"] == "yarn")
        .unwrap_or_else(|| panic!("no yarn facts: {v:#}"));
    assert!(
        yarn["error"].is_null() && yarn["skeleton"].is_null(),
        "{yarn:#}"
    );

    // A reports directory that cannot be written is a problem with its fix.
    if nix_is_root() {
        return; // root writes through any mode
    }
    let reports = env.home.state_dir().join("pkgwarden/reports");
    fs::create_dir_all(&reports).unwrap();
    fs::set_permissions(&reports, fs::Permissions::from_mode(0o500)).unwrap();
    let out = run(env.pkgwarden().arg("doctor"));
    fs::set_permissions(&reports, fs::Permissions::from_mode(0o700)).unwrap();
    let text = stdout_str(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("PROBLEM: the reports directory")
                && l.contains("fix: repair its owner and mode")),
        "{text}"
    );
}

#[test]
fn the_loaded_shell_hook_is_seen() {
    let env = ShimEnv::new(&[]);
    let bin = support::pkgwarden_bin();
    let script = format!(
        "eval \"$('{0}' shims env --shell bash --dir '{1}')\"; '{0}' doctor --json",
        bin.display(),
        env.shims.display()
    );
    let out = run(env.bare("bash").args(["--norc", "-c", &script]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["shell_hook"], "bash", "{v:#}");
    let out = run(env.pkgwarden().arg("doctor"));
    assert!(
        stdout_str(&out).contains("shell hook            not loaded in this shell"),
        "{}",
        stdout_str(&out)
    );
}

fn nix_is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}
