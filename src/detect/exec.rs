//! `exec.dropped` (a file written during the install is executed, or code
//! runs from a scratch place or an anonymous memory file) and
//! `exec.suspicious` (an install script runs a tool no install needs).

use super::{Evidence, Finding, Input, Procs, Taken, finding};
use crate::model::RuleId;
use crate::model::{Event, EventKind};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Finds executions of dropped files and suspicious commands.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut out = Vec::new();
    let written: Vec<(PathBuf, u64)> = input
        .written()
        .into_iter()
        .map(|(p, e)| (p, e.seq))
        .collect();
    let memfd_pids: BTreeSet<i32> = input
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Memfd)
        .map(|e| e.pid)
        .collect();
    let mut seen = BTreeSet::new();
    out.extend(refused_memfds(input, procs));
    for e in input.events.iter().filter(|e| e.kind == EventKind::Exec) {
        let exe = e.paths.first().map(PathBuf::from).unwrap_or_default();
        let argv = e.argv.clone().unwrap_or_default();
        let targets = exec_targets(&exe, e.raw_paths.first(), &argv, e.cwd.as_deref());
        let dropped = targets
            .iter()
            .find(|t| is_dropped(input, t, &written, e.seq));
        let memfd = exe.to_string_lossy().starts_with("/memfd:")
            || (e.syscall == "execveat" && memfd_pids.contains(&e.pid));
        // Run through a descriptor after its file was unlinked: fileless too.
        let deleted = !memfd && exe.to_string_lossy().ends_with(" (deleted)");
        let memfd = memfd || deleted;
        if let Some(t) = dropped.cloned().or(memfd.then_some(exe.clone())) {
            if !seen.insert((t.clone(), e.pid)) {
                continue;
            }
            let fileless = memfd.then_some(deleted);
            out.push(dropped_finding(input, procs, e, &t, &argv, fileless));
        }
        if procs.is_hook(e.pid)
            && let Some(why) = suspicious(&argv)
        {
            let ev = Evidence {
                argv: Some(argv.clone()),
                detail: Some(why.to_string()),
                ..Evidence::default()
            };
            let title = format!("Install script ran `{}`", shorten_cmd(&argv));
            out.push(finding(
                RuleId::ExecSuspicious,
                title,
                Some(e.pid),
                procs,
                ev,
                super::taken_of(e),
            ));
        }
    }
    out
}

/// Block refuses a memfd that could be executed (made without
/// `MFD_NOEXEC_SEAL`, in the seccomp filter): fileless execution
/// prevented, one finding per process.
fn refused_memfds(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut seen = BTreeSet::new();
    input
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Denied && e.syscall == "memfd_create")
        .filter(|e| seen.insert(e.pid))
        .map(|e| {
            let ev = Evidence {
                detail: Some(
                    "an executable anonymous memory file (memfd_create without \
                     MFD_NOEXEC_SEAL), refused"
                        .into(),
                ),
                ..Evidence::default()
            };
            let title = "Made an anonymous memory file that could be executed".to_string();
            finding(
                RuleId::ExecDropped,
                title,
                Some(e.pid),
                procs,
                ev,
                super::taken_of(e),
            )
        })
        .collect()
}

/// What an exec runs: the program (resolved, and as named: a symlink
/// written during the install is dropped too), and, for an interpreter
/// (the dynamic loader is one), every operand that may be the script or
/// program it is handed ([`program_operands`]), resolved against the
/// exec's working directory. Files handed to any other program (`diff a
/// b`, `chmod 755 p`, `tar xf`) are not programs it runs.
fn exec_targets(
    exe: &Path,
    raw: Option<&String>,
    argv: &[String],
    cwd: Option<&str>,
) -> Vec<PathBuf> {
    let mut targets = vec![exe.to_path_buf()];
    targets.extend(raw.map(PathBuf::from));
    if super::data::is_interpreter(&exe.to_string_lossy())
        || argv.first().is_some_and(|a| super::data::is_interpreter(a))
    {
        for op in program_operands(argv) {
            targets.extend(resolve_operand(cwd, op));
        }
    }
    targets
}

/// The operands of an interpreter's command line that may name the program
/// it runs: each one up to the first that follows no option. An option's
/// value is one too, since whether an option takes a value is each
/// interpreter's business (`python3 -W ignore x.py` runs `x.py`, `node -r
/// ./x.js y.js` and `ld.so --preload x.so tool` run both), and an applet's
/// name does not end the search (`busybox sh x`). Later operands are the
/// program's arguments (gyp's `-I common.gypi`, pip's backend's control
/// directory), which it reads, not runs.
pub fn program_operands(argv: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut after_option = false;
    for a in argv.iter().skip(1) {
        // A lone `-` is standard input, an operand.
        if a.starts_with('-') && a.len() > 1 {
            after_option = true;
            continue;
        }
        out.push(a.as_str());
        if !after_option && !super::data::is_interpreter(a) {
            break;
        }
        after_option = false;
    }
    out
}

/// The files operand `op` names, as the exec's working directory `cwd`
/// resolves it (a relative name: `sh run.sh`), with `.` and `..` and the
/// symlinks of its directories resolved as the recorded paths are, and
/// the file it names when that is a symlink.
pub fn resolve_operand(cwd: Option<&str>, op: &str) -> Vec<PathBuf> {
    let p = match cwd {
        _ if op.starts_with('/') => PathBuf::from(op),
        Some(c) => Path::new(c).join(op),
        None => return Vec::new(),
    };
    let mut out = Vec::new();
    if let (Some(Ok(dir)), Some(name)) = (p.parent().map(Path::canonicalize), p.file_name()) {
        out.push(dir.join(name));
    }
    out.extend(p.canonicalize().ok());
    if out.is_empty() {
        out.push(p);
    }
    out.dedup();
    out
}

/// Whether `t`, run at event `seq`, is a dropped file.
fn is_dropped(input: &Input, t: &Path, written: &[(PathBuf, u64)], seq: u64) -> bool {
    // A device handed as an argument (`ld -o /dev/null`, as Python's
    // ctypes.util.find_library runs it) is written, never run.
    let device = std::fs::metadata(t).is_ok_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_char_device() || m.file_type().is_block_device()
    });
    // Written then run: dropped wherever it was written (a tool
    // cache too), unless it is the payload or a build directory.
    // Found fresh in a scratch place without a write seen: the
    // caches of tools that download binaries are their business.
    !device
        && !input.exec_root(t)
        && (written.iter().any(|(w, s)| w == t && *s < seq)
            || (is_fresh_scratch(input, t)
                && t.is_file()
                && !input.expected_path(t)
                && !input.tool_cache(t)))
}

/// A scratch place outside $HOME (a home directory may itself live under
/// /tmp), or the user's cache; and a file that changed since the install
/// began (the shims and tools that were already there are not dropped).
fn is_fresh_scratch(input: &Input, p: &Path) -> bool {
    let home = input.home.as_deref();
    let place = (super::data::benign()
        .scratch_dirs
        .iter()
        .any(|s| p.starts_with(s))
        && !home.is_some_and(|h| p.starts_with(h)))
        || home.is_some_and(|h| p.starts_with(h.join(".cache")));
    let fresh = std::fs::symlink_metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .zip(input.started)
        .is_some_and(|(m, s)| m >= s);
    place && fresh
}

/// The `exec.dropped` finding of running `t`; `fileless` is `Some(deleted)`
/// when it ran from an anonymous memory file or a deleted one.
fn dropped_finding(
    input: &Input,
    procs: &Procs,
    e: &Event,
    t: &Path,
    argv: &[String],
    fileless: Option<bool>,
) -> Finding {
    let ev = Evidence {
        paths: vec![t.display().to_string()],
        argv: Some(argv.to_vec()),
        detail: fileless.map(|deleted| {
            if deleted {
                "executed from a file deleted before it ran".into()
            } else {
                "executed from an anonymous memory file".into()
            }
        }),
        ..Evidence::default()
    };
    // The program started; whether the dropped file was there to run
    // is what the sandbox decided.
    let action = if e.action == crate::model::Action::Denied {
        Taken::Blocked
    } else if fileless.is_some() || t.exists() {
        Taken::Observed
    } else {
        input.write_taken(t)
    };
    let title = format!(
        "Executed a file written during the install: {}",
        t.display()
    );
    finding(RuleId::ExecDropped, title, Some(e.pid), procs, ev, action)
}

fn shorten_cmd(argv: &[String]) -> String {
    super::pth::shorten(&argv.join(" "))
}

/// Why a command line is one no install needs, if it is.
pub fn suspicious(argv: &[String]) -> Option<&'static str> {
    let name = argv.first().map(|a| a.rsplit('/').next().unwrap_or(a))?;
    let has = |w: &str| argv.iter().skip(1).any(|a| a == w);
    let joined = argv.join(" ");
    let tool = match name {
        "curl" | "wget" => Some("downloads with curl/wget"),
        "nc" | "ncat" | "netcat" | "socat" | "nmap" | "telnet" => Some("raw network tool"),
        "ssh" | "scp" | "sftp" => Some("remote shell"),
        "sudo" | "su" | "doas" | "pkexec" => Some("privilege escalation"),
        "iptables" | "nft" | "shred" => Some("system tampering"),
        "trufflehog" | "gitleaks" | "detect-secrets" => Some("secret scanner"),
        "xmrig" | "minerd" | "cpuminer" => Some("cryptocurrency miner"),
        "gh" if has("auth") && has("token") => Some("reads the GitHub CLI token"),
        "git" if has("credential") && (has("fill") || has("get")) => Some("reads git credentials"),
        // Publishing is about managers' commands by nature (THREATS.md's
        // self-propagation list), not about the install's manager.
        "npm" | "yarn" | "pnpm" if has("publish") => Some("publishes a package (self-propagation)"),
        "twine" if has("upload") => Some("publishes a package (self-propagation)"),
        "gem" if has("push") => Some("publishes a package (self-propagation)"),
        "docker" | "podman" if has("--privileged") => Some("privileged container"),
        _ => None,
    };
    if tool.is_some() {
        return tool;
    }
    if [
        "--dangerously-skip-permissions",
        "--yolo",
        "--trust-all-tools",
        "--dangerously-bypass-approvals-and-sandbox",
    ]
    .iter()
    .any(|f| has(f))
    {
        return Some("AI agent CLI with permission checks off");
    }
    if joined.contains("stratum+tcp://") {
        return Some("mining pool address");
    }
    if matches!(name, "sh" | "bash" | "dash" | "zsh") && has("-c") {
        let script = argv.last().map(String::as_str).unwrap_or("");
        let piped = ["| sh", "|sh", "| bash", "|bash", "| python", "|python"]
            .iter()
            .any(|p| script.contains(p));
        if piped {
            return Some("pipes downloaded text into an interpreter");
        }
        if script.contains("base64 -d") || script.contains("base64 --decode") {
            return Some("decodes base64 in a shell");
        }
        if script
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == "eval")
        {
            return Some("eval in a shell");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Event;

    fn v(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    fn event(seq: u64, kind: EventKind, path: &str, argv: Option<&[&str]>) -> Event {
        Event {
            seq,
            pid: 9,
            kind,
            paths: vec![path.into()],
            argv: argv.map(|a| a.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn dropped(events: &[Event]) -> Vec<Finding> {
        let input = Input {
            home: Some(PathBuf::from("/nonexistent-home")),
            expected: vec![PathBuf::from("/nonexistent-home/.cache/pip")],
            exec_roots: vec![PathBuf::from("/nonexistent-venv/lib/site-packages")],
            tmp: PathBuf::from("/nonexistent-tmp"),
            events,
            ..Input::default()
        };
        check(&input, &Procs::new(&[]))
            .into_iter()
            .filter(|f| f.rule == RuleId::ExecDropped)
            .collect()
    }

    #[test]
    fn a_script_written_to_a_tool_cache_and_run_is_dropped() {
        for place in [
            "/nonexistent-home/.cache/pip/x.sh",
            "/nonexistent-home/.npm/_cacache/x.sh",
            "/nonexistent-home/.cache/other/x.sh",
        ] {
            let f = dropped(&[
                event(0, EventKind::OpenWrite, place, None),
                event(1, EventKind::Exec, "/bin/sh", Some(&["sh", place])),
            ]);
            assert_eq!(f.len(), 1, "{place}: {f:#?}");
            assert_eq!(f[0].evidence.paths, vec![place.to_string()]);
        }
        // The payload and the private TMPDIR (builds) are where installs run
        // what they wrote.
        for place in [
            "/nonexistent-venv/lib/site-packages/pkg/build/a.out",
            "/nonexistent-tmp/pip-build-env-1/overlay/bin/cmake",
        ] {
            let f = dropped(&[
                event(0, EventKind::OpenWrite, place, None),
                event(1, EventKind::Exec, place, Some(&[place, "--version"])),
            ]);
            assert!(f.is_empty(), "{place}: {f:#?}");
        }
    }

    #[test]
    fn a_dropped_file_is_seen_however_the_interpreter_is_handed_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().canonicalize().unwrap();
        let f = |n: &str| d.join(n).display().to_string();
        for n in ["run.sh", "run.py", "tool", "common.gypi", "ignore"] {
            std::fs::write(d.join(n), "x").unwrap();
        }
        std::fs::create_dir(d.join("sub")).unwrap();
        let cwd = Some(d.display().to_string());
        let run = |written: &str, argv: &[&str]| {
            let mut exec = event(1, EventKind::Exec, argv[0], Some(argv));
            exec.cwd = cwd.clone();
            dropped(&[event(0, EventKind::OpenWrite, &f(written), None), exec])
        };
        let (py, abs_py) = ("/usr/bin/python3", f("run.py"));
        for (written, argv) in [
            ("run.sh", vec!["/bin/sh", "run.sh"]),
            ("run.sh", vec!["/bin/sh", "./sub/../run.sh"]),
            ("run.py", vec![py, "-W", "ignore", &abs_py]),
            (
                "run.py",
                vec![py, "-X", "dev", "-W", "ignore", "run.py", "a"],
            ),
            ("run.sh", vec!["/bin/busybox", "sh", "run.sh"]),
            ("tool", vec!["/lib64/ld-linux-x86-64.so.2", "tool", "x"]),
            (
                "tool",
                vec!["/lib/ld-musl-x86_64.so.1", "--argv0", "t", "tool"],
            ),
        ] {
            let got = run(written, &argv);
            assert_eq!(got.len(), 1, "{argv:?}: {got:#?}");
            assert_eq!(got[0].evidence.paths, vec![f(written)], "{argv:?}");
        }
        // Arguments of the program, read and not run: gyp's include of the
        // headers a build just downloaded; a file handed to a non-interpreter.
        for (written, argv) in [
            ("common.gypi", vec![py, "gyp_main.py", "-I", "common.gypi"]),
            (
                "common.gypi",
                vec![py, "-W", "ignore", "gyp_main.py", "common.gypi"],
            ),
            ("tool", vec!["/usr/bin/strip", "tool"]),
        ] {
            let got = run(written, &argv);
            assert!(got.is_empty(), "{argv:?}: {got:#?}");
        }
    }

    #[test]
    fn suspicious_commands() {
        assert!(suspicious(&v("/usr/bin/curl -s http://x")).is_some());
        assert!(suspicious(&v("gh auth token")).is_some());
        assert!(suspicious(&v("npm publish")).is_some());
        assert!(suspicious(&["sh".into(), "-c".into(), "curl x | sh".into()]).is_some());
        assert!(suspicious(&["sh".into(), "-c".into(), "echo aGk= | base64 -d".into()]).is_some());
        assert!(suspicious(&v("claude --dangerously-skip-permissions -p x")).is_some());
        assert!(suspicious(&v("node install.js")).is_none());
        assert!(suspicious(&["sh".into(), "-c".into(), "node-gyp rebuild".into()]).is_none());
        assert!(suspicious(&v("make -j2")).is_none());
        assert!(suspicious(&v("git clone x")).is_none());
        assert!(
            suspicious(&["sh".into(), "-c".into(), "node scripts/evaluate.js".into()]).is_none()
        );
    }
}
