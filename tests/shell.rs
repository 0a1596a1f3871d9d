//! Where developers are: an interactive bash with the shell hook loaded, an
//! activated virtualenv, version managers prepending their own bin
//! directories; `pkgwarden doctor` naming what the hook cannot reach; the
//! summary of refused writes; Ctrl-C during an install.

use crate::support;

use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use support::{
    PypiIndex, ShimEnv, assert_success, pkgwarden_bin, run, run_with_timeout, shim_target,
    stderr_str, stdout_str, venv, venv_bin,
};

/// What an interactive session printed: the values of the `mark NAME VALUE`
/// lines, in order.
struct Session {
    marks: Vec<(String, String)>,
    raw: String,
}

impl Session {
    fn get(&self, name: &str) -> Vec<&str> {
        self.marks
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn one(&self, name: &str) -> &str {
        let v = self.get(name);
        assert_eq!(v.len(), 1, "{name}: {v:?}\n{}", self.raw);
        v[0]
    }
}

/// Runs `lines` in `bash -i` on a pseudo-terminal (`script`), after loading
/// the pkgwarden snippet the way ~/.bashrc would (`eval "$(pkgwarden shims
/// env)"`). A line `mark NAME WORDS` prints `@@2 NAME=WORDS`; the marker is
/// computed by the shell, so the echo of the typed line never matches.
fn interactive(env: &ShimEnv, cwd: &Path, vars: &[(&str, &str)], lines: &[String]) -> Session {
    interactive_in("bash", env, cwd, vars, lines)
}

/// [`interactive`] in `shell` (bash, zsh or fish), each started without the
/// user's own start-up files.
fn interactive_in(
    shell: &str,
    env: &ShimEnv,
    cwd: &Path,
    vars: &[(&str, &str)],
    lines: &[String],
) -> Session {
    let rc = env.home.path().join(format!("session.{shell}"));
    let bin = pkgwarden_bin().display().to_string();
    let dir = env.shims.display().to_string();
    let (start, mut text) = match shell {
        "fish" => (
            "fish --no-config -i",
            format!(
                "function mark; printf '@@%s %s=%s\\n' (math 1+1) $argv[1] \"$argv[2..-1]\"; end\n'{bin}' shims env --shell fish --dir '{dir}' | source\n"
            ),
        ),
        "zsh" => (
            "zsh -f -i",
            format!(
                "PS1='$ '\nmark() {{ local n=$1; shift; printf '@@%s %s=%s\\n' $((1+1)) \"$n\" \"$*\"; }}\neval \"$('{bin}' shims env --shell zsh --dir '{dir}')\"\n"
            ),
        ),
        _ => (
            "bash --norc --noprofile -i",
            format!(
                "PS1='$ '\nmark() {{ local n=$1; shift; printf '@@%s %s=%s\\n' $((1+1)) \"$n\" \"$*\"; }}\neval \"$('{bin}' shims env --shell bash --dir '{dir}')\"\n"
            ),
        ),
    };
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    text.push_str("exit\n");
    fs::write(&rc, text).unwrap();
    let mut cmd = env.bare("bash");
    cmd.arg("-c")
        .arg(format!("exec script -qec '{start}' /dev/null < \"$1\""))
        .arg("session")
        .arg(&rc)
        .current_dir(cwd)
        .env("TERM", "dumb");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = run_with_timeout(&mut cmd, std::time::Duration::from_secs(300));
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    let marks = raw
        .split(['\r', '\n'])
        .filter_map(|l| l.split_once("@@2 ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    Session { marks, raw }
}

fn first_on_path(path: &str) -> &str {
    path.split(':').next().unwrap_or_default()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

fn fake_tool(dir: &Path, name: &str) {
    fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    fs::write(
        &p,
        format!(
            "#!/bin/sh\necho \"fake {name} from {} $*\"\n",
            dir.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
}

fn site_has(venv: &Path, module: &str) -> bool {
    let lib = venv.join("lib");
    fs::read_dir(&lib).unwrap().flatten().any(|py| {
        py.path()
            .join("site-packages")
            .join(module)
            .join("__init__.py")
            .is_file()
    })
}

#[test]
fn an_activated_virtualenv_stays_monitored_and_installs_into_the_venv() {
    let index = PypiIndex::start(&["pwdemo"]);
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let v = venv(&env.home);
        let before = env.report_files();
        let url = index.index_url();
        let s = interactive(
            &env,
            env.home.path(),
            &[("PKGWARDEN_MODE", mode)],
            &[
                format!(". '{}/bin/activate'", v.display()),
                "mark PATH \"$PATH\"".into(),
                "mark PIP \"$(type -P pip)\"".into(),
                format!("pip install --index-url {url} pwdemo"),
                "mark PIPRC $?".into(),
                // `python3 -m pip` in the venv: the python3 shim hands it to
                // the venv's interpreter, monitored.
                format!(
                    "python3 -m pip install --force-reinstall --no-deps --index-url {url} pwdemo"
                ),
                "mark PYRC $?".into(),
                "mark PYEXE \"$(python3 -c 'import sys; print(sys.prefix)')\"".into(),
            ],
        );
        // The next prompt put the shims back in front of the venv.
        let path = s.one("PATH");
        assert_eq!(
            first_on_path(path),
            env.shims.to_str().unwrap(),
            "{}",
            s.raw
        );
        assert!(path.contains(&format!("{}/bin", v.display())), "{path}");
        assert_eq!(s.one("PIP"), env.shims.join("pip").to_str().unwrap());
        assert_eq!(s.one("PIPRC"), "0", "{mode}: {}", s.raw);
        assert_eq!(s.one("PYRC"), "0", "{mode}: {}", s.raw);
        // The interpreter behind the shim is still the venv's.
        assert_eq!(
            fs::canonicalize(s.one("PYEXE")).unwrap(),
            fs::canonicalize(&v).unwrap()
        );
        // It landed in the venv, and each install left a report naming the
        // venv's own pip and python as the real manager.
        assert!(site_has(&v, "pwdemo"), "{mode}: not in the venv");
        let reports: Vec<Value> = env
            .reports_since(&before)
            .iter()
            .map(|p| read_json(p))
            .collect();
        assert_eq!(reports.len(), 2, "{mode}: {}", s.raw);
        let real: Vec<&str> = reports
            .iter()
            .map(|r| r["what"]["real_exe"].as_str().unwrap())
            .collect();
        assert!(
            real.contains(&venv_bin(&v, "pip").to_str().unwrap()),
            "{real:?}"
        );
        assert!(
            real.iter()
                .any(|r| r.starts_with(v.to_str().unwrap()) && r.contains("python3")),
            "{real:?}"
        );
        for r in &reports {
            assert_eq!(r["what"]["mode"], mode);
            assert_eq!(r["outcome"]["status"], "completed");
        }
    }
}

#[test]
fn version_manager_prepends_are_undone_at_the_next_prompt() {
    let env = ShimEnv::new(&[]);
    let nvm = env.home.path().join(".nvm/versions/node/v99/bin");
    let conda = env.home.path().join("miniconda/envs/x/bin");
    let later = env.home.path().join("later/bin");
    fake_tool(&nvm, "npm");
    fake_tool(&conda, "conda");
    fake_tool(&later, "npm");
    let s = interactive(
        &env,
        env.home.path(),
        &[],
        &[
            // `nvm use`: its bin first.
            format!("export PATH=\"{}:$PATH\"", nvm.display()),
            "mark NVMPATH \"$PATH\"".into(),
            "mark NPM \"$(npm --version)\"".into(),
            // `conda activate`: its bin first.
            format!("export PATH=\"{}:$PATH\"", conda.display()),
            "mark CONDAPATH \"$PATH\"".into(),
            "mark CONDA \"$(conda --version)\"".into(),
            // Loading the snippet again adds nothing.
            format!(
                "eval \"$('{}' shims env --shell bash --dir '{}')\"",
                pkgwarden_bin().display(),
                env.shims.display()
            ),
            "mark HOOKS \"$(printf '%s' \"$PROMPT_COMMAND\" | grep -c _pkgwarden_hook)\"".into(),
            "mark COPIES \"$(printf '%s' \"$PATH\" | tr ':' '\\n' | grep -cx \"$_pkgwarden_shims\")\""
                .into(),
            // Off: PATH is left as the user set it.
            "export PKGWARDEN_SHELL_HOOK=0".into(),
            format!("export PATH=\"{}:$PATH\"", later.display()),
            "mark OFFPATH \"$PATH\"".into(),
            "mark OFFNPM \"$(npm --version)\"".into(),
        ],
    );
    let shims = env.shims.to_str().unwrap();
    assert_eq!(first_on_path(s.one("NVMPATH")), shims, "{}", s.raw);
    // The shim ran the prepended real one (a non-install passes through).
    assert_eq!(
        s.one("NPM"),
        format!("fake npm from {} --version", nvm.display())
    );
    assert_eq!(first_on_path(s.one("CONDAPATH")), shims, "{}", s.raw);
    assert_eq!(
        s.one("CONDA"),
        format!("fake conda from {} --version", conda.display())
    );
    assert_eq!(s.one("HOOKS"), "1");
    assert_eq!(s.one("COPIES"), "1");
    assert_eq!(
        first_on_path(s.one("OFFPATH")),
        later.to_str().unwrap(),
        "{}",
        s.raw
    );
    assert_eq!(
        s.one("OFFNPM"),
        format!("fake npm from {} --version", later.display())
    );
}

#[test]
fn zsh_and_fish_hooks_undo_a_prepend_and_can_be_turned_off() {
    let env = ShimEnv::new(&[]);
    let nvm = env.home.path().join(".nvm/versions/node/v99/bin");
    let later = env.home.path().join("later/bin");
    fake_tool(&nvm, "npm");
    fake_tool(&later, "npm");
    let shims = env.shims.to_str().unwrap();
    for shell in ["zsh", "fish"] {
        let (prepend, prepend_later, off) = if shell == "fish" {
            (
                format!("set -gx PATH '{}' $PATH", nvm.display()),
                format!("set -gx PATH '{}' $PATH", later.display()),
                "set -gx PKGWARDEN_SHELL_HOOK 0".to_string(),
            )
        } else {
            (
                format!("export PATH=\"{}:$PATH\"", nvm.display()),
                format!("export PATH=\"{}:$PATH\"", later.display()),
                "export PKGWARDEN_SHELL_HOOK=0".to_string(),
            )
        };
        // fish prints PATH as a list: join it the same way in both.
        let show = if shell == "fish" {
            "mark P (string join : $PATH)"
        } else {
            "mark P \"$PATH\""
        };
        let s = interactive_in(
            shell,
            &env,
            env.home.path(),
            &[],
            &[
                show.into(),
                prepend,
                show.into(),
                if shell == "fish" {
                    "mark NPM (npm --version)".into()
                } else {
                    "mark NPM \"$(npm --version)\"".into()
                },
                off,
                prepend_later,
                show.into(),
            ],
        );
        let p = s.get("P");
        assert_eq!(p.len(), 3, "{shell}: {}", s.raw);
        assert_eq!(first_on_path(p[0]), shims, "{shell}: {}", s.raw);
        assert_eq!(first_on_path(p[1]), shims, "{shell}: {}", s.raw);
        assert!(p[1].contains(nvm.to_str().unwrap()), "{shell}: {}", p[1]);
        assert_eq!(
            s.one("NPM"),
            format!("fake npm from {} --version", nvm.display()),
            "{shell}"
        );
        assert_eq!(
            first_on_path(p[2]),
            later.to_str().unwrap(),
            "{shell}: {}",
            s.raw
        );
    }
}

#[test]
fn doctor_names_a_pip_that_shadows_the_shims_and_the_fix() {
    let env = ShimEnv::new(&[]);
    let v = venv(&env.home);
    let mut cmd = env.pkgwarden();
    let mut path = std::env::split_paths(&env.path).collect::<Vec<PathBuf>>();
    path.insert(0, v.join("bin"));
    cmd.arg("doctor")
        .env("PATH", std::env::join_paths(path).unwrap());
    let out = run(&mut cmd);
    let text = stdout_str(&out);
    let pip = venv_bin(&v, "pip");
    let line = text
        .lines()
        .find(|l| l.starts_with("NOT MONITORED"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains(&format!(" in {}", v.join("bin").display()))
            && line.split([' ', ',']).any(|w| w == "pip"),
        "{text}"
    );
    assert!(
        text.contains(&format!("fix: the virtualenv {} is activated", v.display()))
            && text.contains("eval \"$(pkgwarden shims env --shell bash)\"")
            && text.contains("shim_new_venvs = true"),
        "{text}"
    );
    // The json form says the same.
    let mut cmd = env.pkgwarden();
    let mut path = std::env::split_paths(&env.path).collect::<Vec<PathBuf>>();
    path.insert(0, v.join("bin"));
    cmd.args(["doctor", "--json"])
        .env("PATH", std::env::join_paths(path).unwrap());
    let doc: Value = serde_json::from_slice(&run(&mut cmd).stdout).unwrap();
    assert!(
        doc["shadowed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "pip" && s["resolves_to"] == pip.to_str().unwrap()),
        "{doc:#}"
    );
    // With the shims first, nothing is shadowed.
    let out = run(env.pkgwarden().arg("doctor"));
    assert!(
        stdout_str(&out).contains("every monitored name resolves to a shim"),
        "{}",
        stdout_str(&out)
    );
}

#[test]
fn a_refused_write_is_counted_and_named_with_the_key_that_allows_it() {
    let outside = tempfile::tempdir().unwrap();
    fs::set_permissions(outside.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let target = outside.path().join("out.txt");
    let script = format!(
        "#!/bin/sh\necho data > '{}' || exit 3\nexit 0\n",
        target.display()
    );
    let (env, _bin) = support::stand_in(&script);
    for mode in ["protect", "block"] {
        let before = env.report_files();
        let out = run(env
            .shim("gem")
            .args(["install", "x"])
            .env("PKGWARDEN_SANDBOX", "1")
            .env("PKGWARDEN_MODE", mode));
        let err = stderr_str(&out);
        assert_eq!(out.status.code(), Some(3), "{mode}: {err}");
        assert!(
            err.contains("— no findings, install failed · ")
                && err.contains(" · 1 write refused · "),
            "{mode}: {err}"
        );
        assert!(
            err.contains("gem exited 3 after pkgwarden refused a write")
                && err.contains("likely cause"),
            "{mode}: {err}"
        );
        assert!(
            err.contains(&format!(
                "extra_write_paths = [\"{}\"]",
                outside.path().display()
            )),
            "{mode}: {err}"
        );
        let new = env.reports_since(&before);
        assert_eq!(new.len(), 1);
        let r = read_json(&new[0]);
        assert_eq!(r["files"]["refused"], 1, "{mode}: {:#}", r["files"]);
        let denied: Vec<&Value> = r["files"]["outside"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["paths"][0] == target.to_str().unwrap())
            .collect();
        assert!(!denied.is_empty(), "{:#}", r["files"]);
        assert!(denied.iter().all(|e| e["action"] == "denied"), "{denied:?}");
        assert!(!target.exists());
    }
    // The key named does allow it.
    fs::write(
        env.home.path().join("etc-pkgwarden-policy.toml"),
        format!("extra_write_paths = [\"{}\"]\n", outside.path().display()),
    )
    .unwrap();
    let out = run(env
        .shim("gem")
        .args(["install", "x"])
        .env("PKGWARDEN_SANDBOX", "1"));
    assert_success(&out, "gem install with extra_write_paths");
    assert!(
        !stderr_str(&out).contains("refused"),
        "{}",
        stderr_str(&out)
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "data\n");
}

#[test]
fn ctrl_c_during_a_pip_install_marks_the_report_interrupted() {
    use std::os::unix::process::CommandExt;
    // An index that accepts and never answers: pip waits in the download.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c);
            let _ = tx.send(());
        }
    });
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let v = venv(&env.home);
        let mut path = std::env::split_paths(&env.path).collect::<Vec<PathBuf>>();
        path.insert(1, v.join("bin"));
        let before = env.report_files();
        let mut cmd = env.shim("pip");
        cmd.args([
            "install",
            "--timeout",
            "60",
            "--retries",
            "0",
            "--index-url",
            &format!("http://127.0.0.1:{port}/simple/"),
            "pwdemo",
        ])
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("PKGWARDEN_MODE", mode)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        // Its own process group, as a terminal's foreground job is.
        .process_group(0);
        let mut child = cmd.spawn().unwrap();
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("pip never reached the index");
        std::thread::sleep(std::time::Duration::from_millis(300));
        // Ctrl-C: SIGINT to the whole foreground process group.
        // SAFETY: signalling the process group this test started.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "pip ignored Ctrl-C");
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let mut err = String::new();
        use std::io::Read;
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(!status.success(), "{mode}: {err}");
        let new = env.reports_since(&before);
        assert_eq!(new.len(), 1, "{mode}: {err}");
        let r = read_json(&new[0]);
        assert_eq!(
            r["outcome"]["status"], "interrupted",
            "{mode}: {:#}",
            r["outcome"]
        );
        assert!(err.contains("(interrupted)"), "{mode}: {err}");
    }
}

#[test]
fn shim_new_venvs_monitors_a_venv_pip_called_by_its_path() {
    let index = PypiIndex::start(&["pwdemo"]);
    let env = ShimEnv::new(&[]);
    let policy = env.home.path().join("etc-pkgwarden-policy.toml");
    // Off (the default): a venv made through the shim is left as it is.
    let out = run(env
        .shim("python3")
        .args(["-m", "venv", "plain"])
        .current_dir(env.home.path()));
    assert_success(&out, "python3 -m venv plain");
    let plain = env.home.path().join("plain/bin/pip");
    assert!(plain.is_file() && !plain.is_symlink());
    fs::write(&policy, "shim_new_venvs = true\n").unwrap();
    let out = run(env
        .shim("python3")
        .args(["-m", "venv", "v"])
        .current_dir(env.home.path()));
    assert_success(&out, "python3 -m venv v");
    let v = env.home.path().join("v");
    assert!(
        stderr_str(&out).contains("shimmed pip"),
        "{}",
        stderr_str(&out)
    );
    assert_eq!(fs::read_link(v.join("bin/pip")).unwrap(), shim_target());
    // A script calling v/bin/pip by its path, shims nowhere on PATH.
    let before = env.report_files();
    let mut cmd = env.bare(v.join("bin/pip"));
    cmd.args(["install", "--index-url", &index.index_url(), "pwdemo"])
        .env("PATH", "/usr/local/bin:/usr/bin:/bin");
    let out = run(&mut cmd);
    assert_success(&out, "v/bin/pip install");
    assert!(
        stderr_str(&out).contains(support::SANDBOXED),
        "{}",
        stderr_str(&out)
    );
    assert!(site_has(&v, "pwdemo"));
    let new = env.reports_since(&before);
    assert_eq!(new.len(), 1);
    let r = read_json(&new[0]);
    assert_eq!(
        r["what"]["real_exe"],
        v.join("bin/.pkgwarden-real/pip").to_str().unwrap()
    );
    // `pkgwarden run -- v/bin/pip` (the fix doctor gives) means that pip,
    // not the first on PATH: the plain venv's, which has no shims.
    let before = env.report_files();
    let out = run(env.pkgwarden().arg("run").arg("--").arg(&plain).args([
        "install",
        "--index-url",
        &index.index_url(),
        "pwdemo",
    ]));
    assert_success(&out, "pkgwarden run -- plain/bin/pip install");
    assert!(site_has(&env.home.path().join("plain"), "pwdemo"));
    let new = env.reports_since(&before);
    assert_eq!(new.len(), 1);
    assert_eq!(
        read_json(&new[0])["what"]["real_exe"],
        plain.to_str().unwrap()
    );
    // A non-install passes through to the venv's own pip.
    let mut cmd = env.bare(v.join("bin/pip"));
    cmd.args(["show", "pwdemo"])
        .env("PATH", "/usr/local/bin:/usr/bin:/bin");
    let out = run(&mut cmd);
    assert_success(&out, "v/bin/pip show");
    assert!(stdout_str(&out).contains("Version: 1.0.0"));
}
