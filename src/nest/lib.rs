//! pkgwarden's preload library (DESIGN.md principle 9, "package code is not
//! the manager"). The supervisor puts it in `LD_PRELOAD` of installs whose
//! manager starts package code as a plain child process (pip's build
//! backends, `setup.py`, gem's `extconf.rb` and `make`). Its constructor runs
//! in every dynamically linked process of the install before any of the
//! program's own code; in a process whose command line has one of the
//! shapes the install plan names, it stacks a nested landlock domain on the
//! install's (reads: all but the credentials; writes: the private TMPDIR,
//! the build outputs, `~/.cache` but every manager's caches, with
//! `XDG_CACHE_HOME` moved to a private directory), then opens the spec's `ack` path so that
//! the supervisor knows. The domain is inherited and can only remove rights.
//! A `hook` shape (yarn 1's `/bin/sh -c <script>`) is run under the hook
//! wrapper instead, which gives it the domain npm's scripts get.
//!
//! Nothing here may crash the host: every failure of the spec in a process
//! that is not package code leaves the process alone; in one that is, the
//! process exits with 126 before its code runs (fail closed, like the hook
//! wrapper of npm's scripts).

mod spec;

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus,
};
use spec::{NestSpec, Shape};
use std::ffi::{CStr, OsStr, OsString, c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Runs before the program's `main` (and before a Python or Ruby
/// interpreter reads its first line of code).
#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn(c_int, *const *const c_char, *const *const c_char) = init;

extern "C" fn init(argc: c_int, argv: *const *const c_char, _env: *const *const c_char) {
    // A panic must not unwind into the C runtime.
    let _ = std::panic::catch_unwind(|| confine(argc, argv));
}

fn confine(argc: c_int, argv: *const *const c_char) {
    let Some(var) = std::env::var_os(spec::VAR) else {
        return;
    };
    let raw = raw_args(argc, argv);
    let args: Vec<String> = raw
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let spec = match load(var.as_bytes()) {
        Ok(s) => s,
        Err(why) => {
            // Without an intact spec no process can be told apart: a
            // changed spec means package code already tried to loosen it.
            refuse(&args, &why);
        }
    };
    if std::os::unix::process::parent_id() as i32 == spec.manager_parent {
        return;
    }
    let Some(shape) = spec.shape(&args) else {
        return;
    };
    if shape.hook {
        return under_wrapper(&spec, &raw, &args);
    }
    without_dropped(&spec, &raw, &args);
    let cwd = std::env::current_dir().unwrap_or_default();
    // Judged by what they resolve to; one that does not exist is not granted.
    let dests: Vec<PathBuf> = shape
        .dest_dirs(&args)
        .iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .collect();
    if let Err(why) = restrict(&spec, shape, &cwd, &dests) {
        refuse(&args, &why);
    }
    let current = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from);
    if let Some(private) = spec.cache_redirect(current.as_deref()) {
        // SAFETY: a constructor runs before the program's code, so no other
        // thread reads the environment yet.
        unsafe { std::env::set_var("XDG_CACHE_HOME", private) };
    }
    // Opened (O_RDONLY | O_CLOEXEC) and closed at once.
    let _ = std::fs::File::open(&spec.ack);
}

/// Package code gets none of the manager's own credentials: a process
/// started with one is started again without them, the same program with
/// the same arguments (unsetting it here would leave the value in its
/// memory and in `/proc/self/environ`). The new process finds none and
/// goes on to be confined. Returns only when there is nothing to drop.
fn without_dropped(spec: &NestSpec, raw: &[OsString], args: &[String]) {
    use std::os::unix::process::CommandExt;
    let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    if !vars
        .iter()
        .any(|(k, _)| spec::dropped(&spec.drop_env, k.as_bytes()))
    {
        return;
    }
    let Some(arg0) = raw.first() else {
        refuse(
            args,
            "no command line to start again without the manager's credentials",
        );
    };
    let err = std::process::Command::new("/proc/self/exe")
        .arg0(arg0)
        .args(raw.iter().skip(1))
        .env_clear()
        .envs(
            vars.iter()
                .filter(|(k, _)| !spec::dropped(&spec.drop_env, k.as_bytes()))
                .map(|(k, v)| (k, v)),
        )
        .exec();
    refuse(
        args,
        &format!("cannot start again without the manager's credentials: {err}"),
    );
}

/// A lifecycle script the manager started as `/bin/sh -c <script>` runs
/// under the hook wrapper: it confines the script as npm's are (a
/// dependency's to its own directory, the root project's but the caches,
/// told apart by the working directory the manager set) and execs the shell
/// again, marked with its own id: that shell, confined, says so. A process
/// with another id in the mark descends from a confined script (a nested
/// `sh -c`, a nested manager's scripts) and inherits its domain. Only what
/// the manager starts lacks the mark: it builds a script's environment from
/// its own, and package code can set the mark only in what it starts
/// itself, inside its domain.
fn under_wrapper(spec: &NestSpec, raw: &[OsString], args: &[String]) {
    use std::os::unix::process::CommandExt;
    if let Some(mark) = std::env::var_os(spec::HOOKED) {
        if mark.as_bytes() == std::process::id().to_string().as_bytes() {
            let _ = std::fs::File::open(&spec.ack);
        }
        return;
    }
    let Some(wrapper) = &spec.hook_wrapper else {
        refuse(args, "the install has no hook wrapper for package scripts");
    };
    let err = std::process::Command::new(wrapper)
        .arg0(wrapper)
        .args(raw.iter().skip(1))
        .exec();
    refuse(
        args,
        &format!("cannot run the hook wrapper {}: {err}", wrapper.display()),
    );
}

fn raw_args(argc: c_int, argv: *const *const c_char) -> Vec<OsString> {
    let mut out = Vec::new();
    if argv.is_null() {
        return out;
    }
    for i in 0..usize::try_from(argc).unwrap_or(0) {
        // SAFETY: the C runtime passes argc valid pointers in argv.
        let p = unsafe { *argv.add(i) };
        if p.is_null() {
            break;
        }
        // SAFETY: each is a NUL-terminated string.
        out.push(OsStr::from_bytes(unsafe { CStr::from_ptr(p) }.to_bytes()).to_os_string());
    }
    out
}

fn refuse(args: &[String], why: &str) -> ! {
    eprintln!(
        "pkgwarden: package code not run ({}): {why}",
        args.first().map(String::as_str).unwrap_or("?")
    );
    // SAFETY: _exit ends the process without running the host's handlers.
    unsafe { libc::_exit(126) }
}

fn load(var: &[u8]) -> Result<NestSpec, String> {
    use sha2::Digest;
    let var = String::from_utf8_lossy(var);
    let (sum, path) = var
        .split_once(':')
        .ok_or_else(|| format!("{} is malformed", spec::VAR))?;
    let json = std::fs::read(path).map_err(|e| format!("the spec cannot be read: {e}"))?;
    if spec::hex(&sha2::Sha256::digest(&json)) != sum {
        return Err("the spec was changed after the install started".into());
    }
    serde_json::from_slice(&json).map_err(|e| format!("not a spec: {e}"))
}

fn restrict(spec: &NestSpec, shape: &Shape, cwd: &Path, dests: &[PathBuf]) -> Result<(), String> {
    let abi = ABI::V6;
    let read = AccessFs::from_read(abi);
    let all = AccessFs::from_all(abi);
    let file = AccessFs::from_file(abi);
    let mut created = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .and_then(|r| r.create())
        .map_err(|e| e.to_string())?;
    let mut rules: Vec<(&Path, _)> = spec
        .read_for(cwd)
        .iter()
        .map(|p| (p.as_path(), read))
        .collect();
    let dirs: Vec<PathBuf> = spec.write_dirs(shape, cwd, dests);
    rules.extend(dirs.iter().map(|d| (d.as_path(), all)));
    rules.extend(spec.write_files.iter().map(|f| (f.as_path(), file)));
    for (path, access) in rules {
        let Ok(fd) = PathFd::new(path) else {
            continue;
        };
        let access = if path.is_dir() { access } else { access & file };
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(|e| e.to_string())?;
    }
    let status = created.restrict_self().map_err(|e| e.to_string())?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err("landlock is not available".into());
    }
    Ok(())
}
