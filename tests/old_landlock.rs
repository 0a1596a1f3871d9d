//! Round 7, lead 3: landlock before ABI 3 has no truncate right. The
//! sandbox is capped to an older ABI with `PKGWARDEN_TEST_LANDLOCK_ABI_MAX`
//! (a test setting the report and stderr both name); an inert fixture then
//! tries to truncate files of the test's temporary HOME it may only read.

use crate::support;

use support::installs::{Installed, install};
use support::*;

/// A stand-in `gem` that runs one fixture of tests/fixtures/oldabi.
fn fixture_env(script: &str) -> (ShimEnv, tempfile::TempDir) {
    let path = crate_root().join("tests/fixtures/oldabi").join(script);
    stand_in(&format!("#!/bin/sh\nexec \"$PY\" {}\n", path.display()))
}

/// The `(result, size)` of the fixture's line for `what` on `name`.
fn outcome(r: &Installed, what: &str, name: &str) -> (String, u64) {
    let prefix = format!("{what} {name} ");
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in\n{}\n{}", r.stdout, r.stderr));
    let w: Vec<&str> = line.split_whitespace().collect();
    let size = w[w.len() - 1].parse().unwrap();
    (w[2..w.len() - 2].join(" "), size)
}

const BODY: &str = "# marker: the user's own start-up file\n";

#[test]
fn below_abi_3_no_readable_file_is_truncated() {
    let (env, _bin) = fixture_env("trunc.py");
    let work = env.home.path().join("work");
    for cap in ["2", "1", ""] {
        for mode in ["protect", "block"] {
            let home = env.home.path();
            for name in [".bashrc", "notes.txt"] {
                std::fs::write(home.join(name), BODY).unwrap();
            }
            let mut vars = vec![("PY", python3().display().to_string())];
            if !cap.is_empty() {
                vars.push(("PKGWARDEN_TEST_LANDLOCK_ABI_MAX", cap.to_string()));
            }
            let r = install(&env, mode, &["gem", "install", "x"], &work, &vars);
            let at = format!("{mode}, ABI cap {cap:?}");
            assert!(
                r.stdout.contains("done"),
                "{at}: {}\n{}",
                r.stdout,
                r.stderr
            );
            // In protect, plain files of HOME are writable (README, "What
            // each mode lets through"): only the start-up file is kept.
            let kept: &[&str] = match mode {
                "block" => &[".bashrc", "notes.txt"],
                _ => &[".bashrc"],
            };
            for &name in kept {
                for what in ["rdonly", "accmode3", "wronly", "truncate"] {
                    let (res, size) = outcome(&r, what, name);
                    assert_eq!(
                        size,
                        BODY.len() as u64,
                        "{at}: {what} {name}: {res}\n{}",
                        r.stdout
                    );
                    assert!(res.starts_with("refused"), "{at}: {what} {name}: {res}");
                }
                assert_eq!(
                    std::fs::read_to_string(home.join(name)).unwrap(),
                    BODY,
                    "{at}"
                );
            }
            // A file the sandbox may write is still truncated on open.
            assert_eq!(outcome(&r, "wronly", "scratch"), ("done".into(), 0), "{at}");
            // Never silent: the cap is said on stderr and in the report.
            let not_enforced = r.report["sandbox"]["observed_only"].to_string();
            let enforced = r.report["sandbox"]["enforced"].to_string();
            if cap.is_empty() {
                assert!(!r.stderr.contains("capped"), "{at}: {}", r.stderr);
                assert!(!not_enforced.contains("capped"), "{at}: {not_enforced}");
            } else {
                assert!(
                    r.stderr.contains("landlock ABI capped at"),
                    "{at}: {}",
                    r.stderr
                );
                assert!(not_enforced.contains("capped at"), "{at}: {not_enforced}");
                assert!(enforced.contains("seccomp-truncate"), "{at}: {enforced}");
                // Each refusal is evidence (the attempt, with its errno).
                let escapes = r.report["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["rule"] == "sandbox.escape")
                    .map(|f| f["evidence"]["detail"].to_string())
                    .collect::<Vec<_>>();
                for call in ["openat", "truncate"] {
                    assert!(
                        escapes
                            .iter()
                            .any(|d| d.contains(call) && d.contains("errno 13")),
                        "{at}: {call}: {escapes:?}"
                    );
                }
                assert_eq!(
                    r.report["sandbox"]["landlock"]["abi"],
                    cap.parse::<u32>().unwrap()
                );
            }
        }
    }
}
