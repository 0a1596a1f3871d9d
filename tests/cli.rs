//! The `pkgwarden` command line: shims, policy, install.sh.

use crate::support;

use std::fs;
use support::*;

#[test]
fn shims_install_is_idempotent_lists_and_uninstalls() {
    let env = ShimEnv::new(&[]);
    let again = run(env
        .pkgwarden()
        .args(["shims", "install", "--dir"])
        .arg(&env.shims));
    assert_success(&again, "second shims install");
    let text = stdout_str(&again);
    assert!(text.contains("created 0, updated 0"), "{text}");
    assert!(text.contains(&format!("export PATH=\"{}:$PATH\"", env.shims.display())));
    assert!(text.contains("shims env --shell bash)\""), "{text}");
    assert!(text.contains("shims env --shell fish | source"), "{text}");
    for name in [
        "pip",
        "pip3",
        "npm",
        "npx",
        "yarn",
        "pnpm",
        "gem",
        "bundle",
        "brew",
        "conda",
        "mamba",
        "micromamba",
        "uv",
        "uvx",
        "poetry",
        "pipx",
    ] {
        let link = env.shims.join(name);
        assert_eq!(fs::canonicalize(&link).unwrap(), shim_target(), "{name}");
    }
    // The interpreter names get a shim whether or not a real one is on PATH.
    for name in ["python", "python3"] {
        assert_eq!(
            fs::canonicalize(env.shims.join(name)).unwrap(),
            shim_target(),
            "{name}"
        );
    }
    let list = run(env
        .pkgwarden()
        .args(["shims", "list", "--json", "--dir"])
        .arg(&env.shims));
    assert_success(&list, "shims list");
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v["first_on_path"], true);
    let npm = v["shims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "npm")
        .unwrap();
    assert_eq!(npm["real"], which::which("npm").unwrap().to_str().unwrap());

    let envline = run(env
        .pkgwarden()
        .args(["shims", "env", "--shell", "fish", "--dir"])
        .arg(&env.shims));
    assert!(stdout_str(&envline).contains(&format!("'{}'", env.shims.display())));

    let un = run(env
        .pkgwarden()
        .args(["shims", "uninstall", "--dir"])
        .arg(&env.shims));
    assert_success(&un, "shims uninstall");
    assert!(!env.shims.exists());
}

#[test]
fn policy_check_points_at_line_and_column() {
    let home = TestHome::new();
    let bad = home.path().join("bad.toml");
    fs::write(
        &bad,
        "mode = \"block\"\n\n[endpoints]\ndeny = [\"raw-ip\", \"carrier-pigeon\"]\n",
    )
    .unwrap();
    let out = run(home
        .command(pkgwarden_bin())
        .args(["policy", "check"])
        .arg(&bad));
    assert_eq!(out.status.code(), Some(92));
    let err = stderr_str(&out);
    assert!(err.contains(&format!("{}:4:", bad.display())), "{err}");
    assert!(
        err.contains("carrier-pigeon") && err.contains("hint:"),
        "{err}"
    );
    assert!(err.contains("   4 | deny = "), "{err}");

    let good = crate_root().join("policy/ci.toml");
    let out = run(home
        .command(pkgwarden_bin())
        .args(["policy", "check"])
        .arg(&good));
    assert_success(&out, "policy check ci.toml");
}

#[test]
fn policy_show_names_the_source_of_each_key() {
    let home = TestHome::new();
    let cfg = home.config_dir().join("pkgwarden");
    fs::create_dir_all(&cfg).unwrap();
    fs::write(cfg.join("policy.toml"), "time_window = \"90s\"\n").unwrap();
    let project = home.subdir("proj");
    fs::write(
        project.join(".pkgwarden.toml"),
        "mode = \"block\"\nallowed_parents = [\"make\"]\n",
    )
    .unwrap();
    let out = run(home
        .command(pkgwarden_bin())
        .args(["policy", "show"])
        .current_dir(&project)
        .env("PKGWARDEN_EXECUTABLE_ENTROPY_THRESHOLD", "7.5"));
    assert_success(&out, "policy show");
    let text = stdout_str(&out);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in\n{text}"))
            .to_string()
    };
    assert!(
        line("mode").contains("\"block\"")
            && line("mode").contains(&format!(
                "# project {}",
                project.join(".pkgwarden.toml").display()
            ))
    );
    assert!(line("time_window").contains("1m 30s") && line("time_window").contains("# user "));
    assert!(
        line("executable_entropy_threshold")
            .contains("# env PKGWARDEN_EXECUTABLE_ENTROPY_THRESHOLD")
    );
    assert!(line("package_managers").contains("# built-in"));
    // The project may not add allowed parents: ignored, and said so.
    assert!(line("allowed_parents").contains("[]"));
    assert!(
        text.contains("# warning:") && text.contains("allowed_parents"),
        "{text}"
    );

    let out = run(home
        .command(pkgwarden_bin())
        .args(["policy", "show", "--json"])
        .current_dir(&project));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["policy"]["mode"], "block");
    assert_eq!(v["sources"]["time_window"]["kind"], "user");
}

#[test]
fn run_rejects_an_unknown_manager() {
    let home = TestHome::new();
    let out = run(home
        .command(pkgwarden_bin())
        .args(["run", "--", "cargo", "install", "x"]));
    assert_eq!(out.status.code(), Some(92));
    assert!(stderr_str(&out).contains("'cargo' is not a manager pkgwarden knows"));
    let out = run(home.command(pkgwarden_bin()).args(["frobnicate"]));
    assert_eq!(out.status.code(), Some(92));
}

#[test]
fn install_sh_installs_idempotently_and_uninstalls() {
    let home = TestHome::new();
    let prefix = home.path().join("prefix");
    let script = crate_root().join("install.sh");
    let install = |extra: &[&str]| {
        let mut c = home.command("bash");
        c.arg(&script)
            .arg("--bin")
            .arg(pkgwarden_bin())
            .arg("--prefix")
            .arg(&prefix)
            .args(extra);
        run(&mut c)
    };
    let first = install(&[]);
    assert_success(&first, "install.sh");
    let shims = home.data_dir().join("pkgwarden/shims");
    assert!(stdout_str(&first).contains(&format!("export PATH=\"{}:$PATH\"", shims.display())));
    assert!(prefix.join("bin/pkgwarden").is_file());
    assert!(shims.join("pip").exists());
    let second = install(&["--ci"]);
    assert_success(&second, "install.sh again");
    let text = stdout_str(&second);
    assert!(
        text.contains("is up to date") && text.contains("created 0, updated 0"),
        "{text}"
    );
    assert!(text.contains("GITHUB_PATH") && text.contains(&shims.display().to_string()));
    assert!(
        text.contains("ci env") && text.contains("ci check"),
        "{text}"
    );
    let un = install(&["--uninstall"]);
    assert_success(&un, "install.sh --uninstall");
    assert!(!prefix.join("bin/pkgwarden").exists());
    assert!(!shims.exists());
}

#[test]
fn policy_show_explains_each_key_and_the_old_write_paths_name_warns() {
    let home = TestHome::new();
    let cfg = home.config_dir().join("pkgwarden");
    fs::create_dir_all(&cfg).unwrap();
    fs::write(
        cfg.join("policy.toml"),
        "install_write_paths = [\"/srv\"]\n",
    )
    .unwrap();
    let out = run(home.command(pkgwarden_bin()).args(["policy", "show"]));
    assert_success(&out, "policy show");
    let text = stdout_str(&out);
    let lines: Vec<&str> = text.lines().collect();
    // Each key's line follows one line that says what it does.
    for key in ["mode", "artifact_paths", "extra_write_paths", "time_window"] {
        let at = lines
            .iter()
            .position(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in\n{text}"));
        let explained = lines[at - 1];
        assert!(
            explained.starts_with(&format!("# {key}: ")) && explained.len() > key.len() + 10,
            "{explained}"
        );
    }
    // The old name still works, under the new one, with a one-line warning.
    let line = lines
        .iter()
        .find(|l| l.starts_with("artifact_paths "))
        .unwrap();
    assert!(
        line.contains("\"/srv\"") && line.contains("# user "),
        "{line}"
    );
    assert!(!text.contains("\ninstall_write_paths "), "{text}");
    let warning = lines
        .iter()
        .find(|l| l.contains("install_write_paths"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        warning.starts_with("# warning: ") && warning.contains("deprecated"),
        "{warning}"
    );
    // What the old name sounded like it did is what extra_write_paths does.
    let explained = lines
        .iter()
        .find(|l| l.starts_with("# artifact_paths: "))
        .unwrap();
    assert!(explained.contains("not a write grant"), "{explained}");
}

/// A command that only prints, read by a reader that stops early (`| head`),
/// ends quietly: no panic, no "Broken pipe" message.
#[test]
fn output_into_a_pipe_closed_early_ends_quietly() {
    let home = TestHome::new();
    for args in [
        &["policy", "show"][..],
        &["plan", "--json", "--", "pip", "install", "x"],
    ] {
        let mut child = home
            .command(pkgwarden_bin())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closing the read end at once: every write the command makes fails.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
}
