//! What one install's sandbox is made of, prepared before the child starts:
//! the directories that must exist, the private TMPDIR, landlock's grants,
//! the child's command and environment, and the nested domains of package
//! code (the hook wrapper, the preload library).

use super::landlock::{self, FsSpec, Grant};
use crate::model::plan::{InstallPlan, ProxyVars};
use crate::policy::Mode;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Creates what landlock must find existing before the sandbox closes over
/// it (rules attach to existing files): the install's write roots, caches
/// and logs, and pkgwarden's own state directory (a missing one would cost
/// its parent the right to gain entries when the grants split around it).
/// Not a directory named in the project `cwd` that a link leads out of it
/// (`vendor -> /etc` for `vendor/bundle`): the project's link would choose
/// where pkgwarden, outside the sandbox, makes it.
pub fn make_dirs(plan: &InstallPlan, policy: &crate::policy::Policy, cwd: &Path) {
    let home = crate::paths::home();
    // Judged before made: a cache or log directory that will not be
    // granted (one in a persistence place) is not made either, nor a
    // write root inside it.
    let (granted, refused) = super::manager_dirs(plan, policy, home.as_deref(), cwd);
    let dirs = super::unrefused(&plan.write_roots, &refused)
        .into_iter()
        .chain(granted);
    // An install run in HOME or above it has no project: its links are
    // the user's (`~/.cache -> /data/cache`).
    let project = home
        .is_none_or(|h| !landlock::resolve(&h).starts_with(cwd))
        .then_some(cwd);
    for d in dirs.filter(|d| !project.is_some_and(|p| through_project_link(d, p))) {
        // The site-packages of an environment the install itself creates
        // (a pipx app's) is left to it: an empty one would look like an
        // existing environment.
        let env_root = d.ancestors().nth(3);
        if d.file_name().is_some_and(|n| n == "site-packages")
            && env_root.is_some_and(|e| !e.exists())
        {
            continue;
        }
        let _ = std::fs::create_dir_all(&d);
    }
    if let Some(d) = crate::paths::state_dir() {
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(d);
    }
}

/// True when `d` is named in the project `cwd` but resolves out of it: a
/// link of the project's on the way.
fn through_project_link(d: &Path, cwd: &Path) -> bool {
    d.starts_with(cwd) && !landlock::resolve(d).starts_with(landlock::resolve(cwd))
}

/// Removes the build outputs made for the grant and the tool caches made
/// for package scripts, when they were left unused (rmdir removes only
/// empty directories).
pub fn remove_transient(plan: &InstallPlan, code: &PackageCode) {
    for d in plan.transient_dirs.iter().rev().chain(&code.made) {
        let _ = std::fs::remove_dir(d);
    }
}

/// The install's private directories, removed when dropped.
pub struct PrivateTmp {
    /// The TMPDIR of every process of the install.
    pub tmp: PathBuf,
    /// Beside it, the private caches of the root project's scripts: not in
    /// `tmp`, which dependency scripts write whole.
    pub root_caches: PathBuf,
}

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
        let _ = std::fs::remove_dir_all(&self.root_caches);
    }
}

/// Makes the install's private directories (mode 0700), under names no
/// one had taken.
pub fn private_tmp() -> std::io::Result<PrivateTmp> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let make = |p: &Path| std::fs::DirBuilder::new().mode(0o700).create(p);
    let taken = |e: &std::io::Error| e.kind() == std::io::ErrorKind::AlreadyExists;
    for n in 0..100u32 {
        let p = base.join(format!("pkgwarden-{}-{n}", std::process::id()));
        match make(&p) {
            Ok(()) => {}
            Err(e) if taken(&e) => continue,
            Err(e) => return Err(e),
        }
        let root = p.with_file_name(format!("pkgwarden-{}-{n}-root", std::process::id()));
        match make(&root) {
            Ok(()) => {
                return Ok(PrivateTmp {
                    tmp: p,
                    root_caches: root,
                });
            }
            Err(e) => {
                let _ = std::fs::remove_dir(&p);
                if !taken(&e) {
                    return Err(e);
                }
            }
        }
    }
    Err(std::io::Error::other("no free name"))
}

/// landlock's grants for `spec`, and the right to list `cwd` where the
/// split around the stores left it none (the manager lists where it runs:
/// `cd ~ && pnpm add -g x`); audit denies nothing (read and write
/// everywhere, observe all).
pub fn grants(spec: &FsSpec, mode: Mode, cwd: &Path) -> Vec<Grant> {
    if mode == Mode::Audit {
        return vec![Grant::Write(PathBuf::from("/"))];
    }
    let mut g = landlock::grants(spec);
    g.extend(landlock::list_where_run(&g, cwd, &spec.secrets));
    g
}

/// The child's command: the real manager with the typed arguments, the
/// private TMPDIR, the plan's variables, and every client pointed at the
/// proxy.
pub fn command(
    real: &Path,
    args: &[OsString],
    plan: &InstallPlan,
    tmp: &Path,
    proxy: &str,
) -> Command {
    let mut cmd = Command::new(real);
    // The plan's own options (a date gate) go where the adapter said.
    let at = plan.extra_args_at.min(args.len());
    cmd.arg0(real.as_os_str())
        .args(&args[..at])
        .args(&plan.extra_args)
        .args(&args[at..])
        .env(crate::shim::SUPERVISOR_VAR, std::process::id().to_string())
        .env("TMPDIR", tmp);
    for (k, v) in &plan.env {
        cmd.env(k, v);
    }
    proxy_env(&mut cmd, proxy, &plan.proxy_vars);
    cmd
}

/// Points every client in the sandbox at the proxy: the generic variables in
/// both cases (Ruby's Net::HTTP reads only `http_proxy`, even for https) and
/// the managers' own (the plan's `proxy_vars`). No host bypasses it:
/// NO_PROXY is cleared. CA settings pass through untouched.
pub fn proxy_env(cmd: &mut Command, url: &str, own: &ProxyVars) {
    let generic = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ];
    for var in generic
        .iter()
        .copied()
        .chain(own.set.iter().map(String::as_str))
    {
        cmd.env(var, url);
    }
    for var in ["NO_PROXY", "no_proxy"]
        .into_iter()
        .chain(own.clear.iter().map(String::as_str))
    {
        cmd.env_remove(var);
    }
}

/// Where the install's package code runs: the places the nested domains
/// need, for the detectors to judge by.
#[derive(Default)]
pub struct PackageCode {
    /// Package scripts started through the hook wrapper.
    pub hooks: HookDomain,
    /// Package code confined by the preload library.
    pub nest: NestDomain,
    /// Tool caches the hook wrapper may make for package scripts (missing
    /// before the install): removed after it when they stayed empty.
    pub made: Vec<PathBuf>,
}

/// Sets up both nested domains of package code in `cmd` (none in audit).
/// A domain that cannot be set up leaves that code with the install's
/// rights, and says so on stderr and in the report. `env` is the install's
/// environment; `kept`, the secrets in it the manager keeps and package
/// code does not get.
pub fn package_code(
    cmd: &mut Command,
    plan: &InstallPlan,
    mode: Mode,
    fs: &FsSpec,
    at: &Place,
    (env, kept): (&[(String, String)], &[String]),
    what: &str,
) -> PackageCode {
    // The preload library's mark is the wrapper's alone: one the install
    // inherited would leave yarn's scripts unconfined.
    cmd.env_remove(super::nest_spec::HOOKED);
    if mode == Mode::Audit {
        return PackageCode::default();
    }
    if plan.hook_shell.is_none() && plan.package_code.is_empty() {
        return PackageCode::default();
    }
    // Both domains read alike: one walk of the project for `.env*` files.
    let reads = super::hook::package_code_reads(plan, fs, at.home.as_deref(), &at.cwd);
    let (hooks, made) = hooks(cmd, plan, fs, at, &reads, kept, what);
    let nest = match plan.package_code.is_empty() {
        true => NestDomain::default(),
        false => nest(
            cmd,
            plan,
            (fs, &reads),
            at,
            (env, kept),
            what,
            hooks.exe.as_deref(),
        ),
    };
    PackageCode { hooks, made, nest }
}

/// Where an install runs: HOME, the working directory, the private TMPDIR.
pub struct Place {
    /// The user's home directory.
    pub home: Option<PathBuf>,
    /// The working directory.
    pub cwd: PathBuf,
    /// The install's private temporary directory.
    pub tmp: PathBuf,
    /// The root project's scripts' private caches ([`PrivateTmp`]).
    pub root_caches: PathBuf,
}

impl Place {
    /// The install run in `cwd` with the private directories `tmp`.
    pub fn of(tmp: &PrivateTmp, cwd: PathBuf) -> Place {
        Place {
            home: crate::paths::home(),
            cwd,
            tmp: tmp.tmp.clone(),
            root_caches: tmp.root_caches.clone(),
        }
    }
}

/// Package scripts start through the hook wrapper, in a nested domain.
fn hooks(
    cmd: &mut Command,
    plan: &InstallPlan,
    fs: &FsSpec,
    at: &Place,
    reads: &super::hook::Reads,
    kept: &[String],
    what: &str,
) -> (HookDomain, Vec<PathBuf>) {
    let Some(h) = &plan.hook_shell else {
        return Default::default();
    };
    let hook = super::hook::spec(plan, fs, at, reads).map(|mut s| {
        s.drop_env = kept.to_vec();
        s
    });
    let written = hook.as_ref().map(|s| super::hook::write(s, &at.tmp));
    match (h.overridden, std::env::current_exe(), hook, written) {
        (false, Ok(exe), Some(hook), Some(Ok(var))) => {
            cmd.env(&h.var, &exe).env(super::hook::VAR, var);
            let domain = HookDomain {
                exe: Some(exe),
                hidden: hook.hide,
                project: hook.project,
                writes: hook.writes,
                root_deny: hook.root_deny,
                configs: super::hook::config_files(plan),
            };
            (domain, hook.make_dirs)
        }
        (true, ..) => {
            eprintln!(
                "pkgwarden: WARNING: {what}: package scripts run with the install's rights: the command line chose their shell (--script-shell)"
            );
            Default::default()
        }
        (_, exe, _, written) => {
            eprintln!(
                "pkgwarden: WARNING: {what}: package scripts run with the install's rights: cannot set up their domain ({})",
                match (exe, written) {
                    (Err(e), _) | (_, Some(Err(e))) => e.to_string(),
                    _ => "no spec".into(),
                }
            );
            Default::default()
        }
    }
}

/// Package code the manager starts as a plain child process (build
/// backends, setup.py, extconf.rb) is confined by the preload library: its
/// path and spec go into the install's environment. Without the library (or
/// its spec) that code runs with the install's rights, and the report says so.
fn nest(
    cmd: &mut Command,
    plan: &InstallPlan,
    (fs, reads): (&FsSpec, &super::hook::Reads),
    at: &Place,
    (env, kept): (&[(String, String)], &[String]),
    what: &str,
    hook_wrapper: Option<&Path>,
) -> NestDomain {
    let spec = super::nest::spec(
        plan,
        fs,
        reads,
        at.home.as_deref(),
        &at.tmp,
        std::process::id() as i32,
        hook_wrapper,
    )
    .map(|mut s| {
        s.drop_env = kept.to_vec();
        s
    });
    if spec.is_none() {
        // No shape applies: yarn's needs the wrapper, and hooks() already
        // said that scripts keep the install's rights.
        return NestDomain::default();
    }
    let lib = std::env::current_exe()
        .map_err(|e| e.to_string())
        .and_then(|exe| {
            super::nest::library(&exe).ok_or_else(|| {
                format!(
                    "{} not found beside {} (reinstall with install.sh)",
                    super::nest::LIBRARY,
                    exe.display()
                )
            })
        });
    let written = spec
        .as_ref()
        .map(|s| super::nest::write(s, &at.tmp).map_err(|e| e.to_string()));
    match (lib, spec, written) {
        (Ok(lib), Some(spec), Some(Ok(var))) => {
            let existing = env
                .iter()
                .find(|(k, _)| k == "LD_PRELOAD")
                .map(|(_, v)| OsString::from(v));
            cmd.env("LD_PRELOAD", super::nest::preload(&lib, existing))
                .env(super::nest_spec::VAR, var);
            NestDomain {
                spec: Some(spec),
                missing: None,
            }
        }
        (lib, spec, written) => {
            let why = match (lib, written) {
                (Err(e), _) | (_, Some(Err(e))) => e,
                _ => "no spec".into(),
            };
            eprintln!(
                "pkgwarden: WARNING: {what}: build backends and other package code run with the install's rights: {why}"
            );
            NestDomain {
                spec: spec.map(|mut s| {
                    // Nothing acknowledges: every run is reported unnested.
                    s.ack = PathBuf::new();
                    s
                }),
                missing: Some(why),
            }
        }
    }
}

/// Removes from `cmd` the secrets in the environment that the install
/// never gets (unless the user's configuration of the manager names them,
/// or `project_credentials` lets a project's file direct them); says each
/// one a project file directed, and returns the names removed and kept.
pub fn scrub(
    cmd: &mut Command,
    env: &[(String, String)],
    plan: &InstallPlan,
    project_credentials: &[String],
) -> (Vec<String>, Vec<String>) {
    let refs = super::scrub::Refs {
        user: &plan.secret_refs,
        project: &plan.project_refs,
        directed: &plan.directed,
    };
    let s = super::scrub::scrub_env(env, &refs, project_credentials);
    for name in &s.removed {
        cmd.env_remove(name);
    }
    for d in &s.directed {
        eprintln!(
            "pkgwarden: removed {} from the install: {} (the project's) would have the manager send it where that file says; if that is your own registry, add \"{}\" to `project_credentials` in your user policy",
            d.var,
            d.file.display(),
            d.var
        );
    }
    (s.removed, s.kept)
}

/// The hook wrapper's domain (`sandbox::hook`): which processes it confined
/// and what it hid from them.
#[derive(Clone, Debug, Default)]
pub struct HookDomain {
    /// The wrapper's executable (pkgwarden itself), as the manager ran it.
    pub exe: Option<PathBuf>,
    /// Files hidden from confined processes although the install reads them.
    pub hidden: Vec<PathBuf>,
    /// The root project (its own scripts are not write-confined).
    pub project: PathBuf,
    /// Where a dependency's script may write besides its own directory.
    pub writes: Vec<PathBuf>,
    /// The manager's caches the root project's scripts may not write.
    pub root_deny: Vec<PathBuf>,
    /// The manager's configuration files (real paths): no script writes
    /// them, the manager itself may.
    pub configs: Vec<PathBuf>,
}

/// The preload library's domain (`sandbox::nest`): which command lines are
/// package code, what they may write, and how a confined one says so.
#[derive(Clone, Debug, Default)]
pub struct NestDomain {
    /// The spec the library read; `None` when the install had none.
    pub spec: Option<super::nest_spec::NestSpec>,
    /// Why package code could not be confined at all (no library).
    pub missing: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_directory_is_made_through_a_link_of_the_project() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().canonicalize().unwrap();
        let (proj, outside) = (base.join("proj"), base.join("outside"));
        std::fs::create_dir_all(&proj).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, proj.join("vendor")).unwrap();
        std::fs::create_dir_all(proj.join("build")).unwrap();
        std::os::unix::fs::symlink("build", proj.join("inside")).unwrap();
        assert!(through_project_link(&proj.join("vendor/bundle"), &proj));
        assert!(!through_project_link(&proj.join("build/out"), &proj));
        assert!(!through_project_link(&outside.join("cache"), &proj));
        // A link that stays in the project (a venv's `lib64 -> lib`) is
        // followed.
        assert!(!through_project_link(&proj.join("inside/out"), &proj));
    }

    #[test]
    fn the_private_directories_are_separate_private_and_removed_together() {
        use std::os::unix::fs::PermissionsExt;
        let t = private_tmp().unwrap();
        let (tmp, root) = (t.tmp.clone(), t.root_caches.clone());
        // Beside, not inside: a dependency's script writes `tmp` whole.
        assert_eq!(tmp.parent(), root.parent());
        for d in [&tmp, &root] {
            let mode = std::fs::metadata(d).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", d.display());
        }
        std::fs::create_dir_all(root.join(".npm/_npx")).unwrap();
        drop(t);
        assert!(!tmp.exists() && !root.exists());
    }

    #[test]
    fn the_proxy_variables_are_the_generic_ones_and_the_plans() {
        let own = ProxyVars {
            set: vec!["OWN_PROXY".into()],
            clear: vec!["OWN_NOPROXY".into()],
        };
        let mut cmd = Command::new("/bin/true");
        proxy_env(&mut cmd, "http://127.0.0.1:9", &own);
        let envs: Vec<(String, Option<String>)> = cmd
            .get_envs()
            .map(|(k, v)| {
                let s = |o: &std::ffi::OsStr| o.to_string_lossy().into_owned();
                (s(k), v.map(s))
            })
            .collect();
        let url = Some("http://127.0.0.1:9".to_string());
        for set in ["HTTPS_PROXY", "http_proxy", "OWN_PROXY"] {
            assert!(envs.contains(&(set.to_string(), url.clone())), "{set}");
        }
        for cleared in ["NO_PROXY", "OWN_NOPROXY"] {
            assert!(envs.contains(&(cleared.to_string(), None)), "{cleared}");
        }
    }
}
