//! The shim executable (`pkgwarden-shim`, what the shims link to): a
//! non-install becomes the real manager without starting the full
//! `pkgwarden`; an install, a `PKGWARDEN_*` variable it does not know, a
//! pending watch notice or a missing manager go to the full `pkgwarden`
//! beside it, which decides as it always did.

use crate::support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::*;

/// The shim executable built beside the pkgwarden under test.
fn shim_bin() -> PathBuf {
    let p = pkgwarden_bin().with_file_name("pkgwarden-shim");
    assert!(
        p.is_file(),
        "{} is missing: cargo build --release builds it; a copy of pkgwarden elsewhere needs it beside (tests/run.sh copies both)",
        p.display()
    );
    p
}

fn script(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A copy of the shim executable whose "full pkgwarden" beside it is a
/// script that records it was called; `conda`, `pip`, `python3` and `npm` stand-ins
/// that say they ran.
struct Fake {
    home: TestHome,
    shims: PathBuf,
    real: PathBuf,
}

impl Fake {
    fn new() -> Fake {
        let home = TestHome::new();
        let bin = home.subdir("pwbin");
        fs::copy(shim_bin(), bin.join("pkgwarden-shim")).unwrap();
        script(
            &bin.join("pkgwarden"),
            "#!/bin/sh\nprintf '%s\\n' \"$*\" > \"$HOME/deferred\"\necho full pkgwarden\nexit 42\n",
        );
        let shims = home.subdir("shims");
        let real = home.subdir("real");
        for n in ["conda", "pip", "python3", "npm"] {
            std::os::unix::fs::symlink(bin.join("pkgwarden-shim"), shims.join(n)).unwrap();
            script(&real.join(n), &format!("#!/bin/sh\necho real {n} \"$*\"\n"));
        }
        Fake { home, shims, real }
    }

    fn shim(&self, name: &str, args: &[&str]) -> Command {
        let mut cmd = self.home.command(self.shims.join(name));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PKGWARDEN_") {
                cmd.env_remove(&k);
            }
        }
        let path = std::env::join_paths([&self.shims, &self.real]).unwrap();
        cmd.env("PATH", path)
            .env("PKGWARDEN_SHIMS_DIR", &self.shims)
            .args(args);
        std::os::unix::process::CommandExt::arg0(&mut cmd, name);
        cmd
    }

    /// The arguments the full pkgwarden got, when it was called.
    fn deferred(&self) -> Option<String> {
        let f = self.home.path().join("deferred");
        let text = fs::read_to_string(&f).ok()?;
        fs::remove_file(&f).unwrap();
        Some(text.trim_end().to_string())
    }
}

fn ran_real(out: &Output, line: &str) {
    assert_success(out, line);
    assert_eq!(stdout_str(out).trim_end(), line);
}

#[test]
fn a_non_install_execs_the_real_manager_without_the_full_binary() {
    let f = Fake::new();
    ran_real(
        &run(&mut f.shim("conda", &["--version"])),
        "real conda --version",
    );
    ran_real(&run(&mut f.shim("pip", &["list"])), "real pip list");
    ran_real(
        &run(&mut f.shim("python3", &["-c", "print(1)"])),
        "real python3 -c print(1)",
    );
    // fix14: the twins of the installs below stay direct.
    fs::write(f.home.path().join("script.py"), "print(1)\n").unwrap();
    for (name, args) in [
        ("python3", &["script.py", "install", "x"][..]),
        ("python3", &["-m", "pytest", "-x"]),
        ("python3", &["-m", "pipx", "list"]),
        ("python3", &["-m", "uv", "pip", "list"]),
        ("npm", &["ls"]),
        ("npm", &["run", "build"]),
    ] {
        let line = format!("real {name} {}", args.join(" "));
        ran_real(&run(f.shim(name, args).current_dir(f.home.path())), &line);
    }
    // Policy variables do not change a non-install: still direct.
    let out = run(f
        .shim("conda", &["list"])
        .env("PKGWARDEN_MODE", "block")
        .env("PKGWARDEN_SYSTEM_POLICY", "/nonexistent"));
    ran_real(&out, "real conda list");
    assert_eq!(f.deferred(), None);
}

#[test]
fn installs_and_new_virtualenvs_go_to_the_full_binary() {
    let f = Fake::new();
    for (name, args) in [
        ("conda", &["install", "numpy"][..]),
        ("pip", &["install", "requests"]),
        ("python3", &["-m", "pip", "install", "x"]),
        ("python3", &["-m", "venv", "v"]),
        // fix14: other managers through python, pip run another way,
        // removals that reify the tree.
        ("python3", &["-m", "pipx", "install", "x"]),
        ("python3", &["-m", "uv", "tool", "install", "x"]),
        ("python3", &["-m", "pip.__pip-runner__", "install", "x"]),
        ("npm", &["uninstall", "x"]),
        ("npm", &["prune"]),
    ] {
        let out = run(&mut f.shim(name, args));
        assert_eq!(out.status.code(), Some(42), "{name} {args:?}");
        assert_eq!(stdout_str(&out).trim_end(), "full pkgwarden");
        assert_eq!(f.deferred().as_deref(), Some(args.join(" ").as_str()));
    }
}

#[test]
fn an_unknown_pkgwarden_variable_or_a_monitored_install_defers() {
    let f = Fake::new();
    for var in [
        "PKGWARDEN_SUPERVISOR",
        "PKGWARDEN_SOMETHING_NEW",
        "PKGWARDEN_HOOK",
    ] {
        let out = run(f.shim("conda", &["--version"]).env(var, "1"));
        assert_eq!(out.status.code(), Some(42), "{var}");
        assert_eq!(f.deferred().as_deref(), Some("--version"), "{var}");
    }
}

#[test]
fn a_pending_watch_notice_or_a_missing_manager_defers() {
    let f = Fake::new();
    let notices = f.home.state_dir().join("pkgwarden/watch/notices");
    fs::create_dir_all(&notices).unwrap();
    // A hidden file (a notice being written) is not one.
    fs::write(notices.join(".tmp"), "half").unwrap();
    ran_real(&run(&mut f.shim("conda", &["info"])), "real conda info");
    assert_eq!(f.deferred(), None);
    fs::write(notices.join("n1"), "pkgwarden: watch found x\n").unwrap();
    let out = run(&mut f.shim("conda", &["info"]));
    assert_eq!(out.status.code(), Some(42));
    assert_eq!(f.deferred().as_deref(), Some("info"));
    fs::remove_file(notices.join("n1")).unwrap();
    fs::remove_file(f.real.join("pip")).unwrap();
    let out = run(&mut f.shim("pip", &["list"]));
    assert_eq!(out.status.code(), Some(42));
    assert_eq!(f.deferred().as_deref(), Some("list"));
}

#[test]
fn the_real_full_binary_still_prints_a_due_notice_once() {
    let real = tempfile::tempdir().unwrap();
    script(
        &real.path().join("conda"),
        "#!/bin/sh\necho real conda \"$*\"\n",
    );
    let env = ShimEnv::new(&[real.path()]);
    let link = fs::read_link(env.shims.join("conda")).unwrap();
    assert_eq!(
        link.file_name().unwrap(),
        "pkgwarden-shim",
        "shims install links to the shim executable"
    );
    let notices = env.home.state_dir().join("pkgwarden/watch/notices");
    fs::create_dir_all(&notices).unwrap();
    fs::write(notices.join("n1"), "pkgwarden: the watch found something\n").unwrap();
    let out = run(env.shim("conda").arg("--version"));
    ran_real(&out, "real conda --version");
    assert!(
        stderr_str(&out).contains("pkgwarden: the watch found something"),
        "{}",
        stderr_str(&out)
    );
    let again = run(env.shim("conda").arg("--version"));
    ran_real(&again, "real conda --version");
    assert_eq!(stderr_str(&again), "");
}
