//! The first ten minutes: install.sh on a clean machine, the `--help` texts
//! and `plan` as a newcomer reads them.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use support::*;

const CLEAN_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// install.sh with a clean environment: HOME `home`, PATH `path`.
fn install_sh(home: &Path, path: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(crate_root().join("install.sh"))
        .env_clear()
        .env("HOME", home)
        .env("PATH", path)
        .env("SHELL", "/bin/bash")
        .env("TMPDIR", "/tmp");
    cmd
}

#[test]
fn install_sh_says_when_its_bin_dir_is_not_on_path_and_the_line_fixes_it() {
    let home = tempfile::tempdir().unwrap();
    let out = run(install_sh(home.path(), CLEAN_PATH)
        .arg("--bin")
        .arg(pkgwarden_bin()));
    assert_success(&out, "install.sh --bin");
    let stdout = stdout_str(&out);
    let bin_dir = home.path().join(".local/bin");
    let said = format!("install.sh: {} is not on PATH", bin_dir.display());
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&said))
        .unwrap_or_else(|| panic!("no '{said}' line in:\n{stdout}"));
    let fix = lines
        .get(at + 1)
        .map(|l| l.trim())
        .unwrap_or_else(|| panic!("no fix line after '{said}':\n{stdout}"));
    assert_eq!(
        fix,
        format!(
            "echo 'export PATH=\"{}:$PATH\"' >> ~/.bashrc",
            bin_dir.display()
        ),
        "{stdout}"
    );
    // The printed line does what it says: a new bash that reads ~/.bashrc
    // then finds `pkgwarden` by name.
    let mut apply = Command::new("bash");
    apply
        .args(["-c", fix])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", CLEAN_PATH);
    assert_success(&run(&mut apply), "the fix line");
    let mut found = Command::new("bash");
    found
        .args(["-c", ". ~/.bashrc && command -v pkgwarden"])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", CLEAN_PATH);
    let out = run(&mut found);
    assert_success(&out, "command -v pkgwarden");
    assert_eq!(
        stdout_str(&out).trim(),
        bin_dir.join("pkgwarden").display().to_string()
    );

    // With the directory on PATH it says nothing about PATH.
    let on_path = format!("{}:{CLEAN_PATH}", bin_dir.display());
    let out = run(install_sh(home.path(), &on_path)
        .arg("--bin")
        .arg(pkgwarden_bin()));
    assert_success(&out, "install.sh --bin (bin dir on PATH)");
    assert!(
        !stdout_str(&out).contains("not on PATH"),
        "{}",
        stdout_str(&out)
    );
}

#[test]
fn install_sh_says_what_to_do_when_cargo_cannot_run() {
    let home = tempfile::tempdir().unwrap();
    let fake = home.path().join("fakebin");
    std::fs::create_dir(&fake).unwrap();
    let marker = home.path().join("cargo-was-asked");
    // A rustup proxy with no toolchain: every call fails with rustup's words.
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\necho 'error: rustup could not choose a version of cargo to run' >&2\nexit 1\n",
        marker.display()
    );
    let cargo = fake.join("cargo");
    std::fs::write(&cargo, script).unwrap();
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();

    let path = format!("{}:{CLEAN_PATH}", fake.display());
    let out = run(&mut install_sh(home.path(), &path));
    assert_eq!(out.status.code(), Some(1), "{}", stderr_str(&out));
    let stderr = stderr_str(&out);
    assert!(stderr.contains("rustup default stable"), "{stderr}");
    assert!(stderr.contains("--bin PATH"), "{stderr}");
    assert!(!stderr.contains("rustup could not choose"), "{stderr}");
    // It asked for the version only, and built nothing.
    let asked = std::fs::read_to_string(&marker).unwrap_or_default();
    assert_eq!(asked.trim(), "--version", "{asked}");
    assert!(!home.path().join(".local/bin/pkgwarden").exists());
}

/// `pkgwarden ARGS --help`.
fn help(args: &[&str]) -> String {
    let out = run(Command::new(pkgwarden_bin())
        .args(args)
        .arg("--help")
        .env_clear()
        .env("PATH", CLEAN_PATH));
    assert_success(&out, &format!("pkgwarden {} --help", args.join(" ")));
    stdout_str(&out)
}

/// The subcommands a help text lists under "Commands:".
fn subcommands(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| *w != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn no_help_text_calls_a_sandboxed_manager_not_yet_sandboxed() {
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(args) = todo.pop() {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = help(&refs);
        seen += 1;
        let lower = text.to_lowercase();
        for stale in ["not yet", "pip and npm", "only pip", "only npm"] {
            assert!(
                !lower.contains(stale),
                "`pkgwarden {} --help` says '{stale}':\n{text}",
                args.join(" ")
            );
        }
        for sub in subcommands(&text) {
            let mut next = args.clone();
            next.push(sub);
            todo.push(next);
        }
    }
    // top level, its seven commands and their subcommands.
    assert!(seen >= 15, "only {seen} help texts found");
    let run_help = help(&["run"]);
    assert!(
        run_help.contains("every other manager is sandboxed by default"),
        "{run_help}"
    );
}

#[test]
fn plan_output_speaks_in_plain_labels() {
    let home = TestHome::new();
    let plan = |args: &[&str]| {
        let out = run(home
            .command(pkgwarden_bin())
            .args(["plan", "--"])
            .args(args)
            .env("PATH", CLEAN_PATH));
        assert_success(&out, "pkgwarden plan");
        stdout_str(&out)
    };
    let install = plan(&["npm", "install", "pwdemo"]);
    for label in [
        "real npm ",
        "what happens       an install (`npm install`): run in the sandbox",
        "packages           pwdemo",
        "may download from ",
        "may write under ",
        "learned by         asking npm",
    ] {
        assert!(install.contains(label), "no '{label}' in:\n{install}");
    }
    for old in ["verdict", "facts     probe", "facts     cache"] {
        assert!(!install.contains(old), "'{old}' in:\n{install}");
    }
    let list = plan(&["npm", "ls"]);
    assert!(
        list.contains("what happens       not an install: passed to the real npm untouched"),
        "{list}"
    );
}
