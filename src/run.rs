//! Wires the stages of one manager invocation: find the real manager, classify,
//! pass through, or read the policy and run the install.

use crate::exit;
use crate::managers::{self, Classified, InstallRequest, Tool};
use crate::monitor::procs;
use crate::policy::{self, Mode, Overrides};
use crate::shim;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

/// One call of a manager, through a shim or `pkgwarden run`.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The tool it stands for.
    pub tool: Tool,
    /// The command name to look up on PATH (`pip3.11`, `python3`, …).
    pub name: String,
    /// The arguments after argv[0].
    pub args: Vec<OsString>,
    /// The manager named by its path (`pkgwarden run -- v/bin/pip …`): that
    /// one, not the first on PATH.
    pub explicit: Option<PathBuf>,
    /// Policy flags of `pkgwarden run`.
    pub overrides: Overrides,
    /// Sandbox options (`--sandbox`, `PKGWARDEN_SANDBOX`).
    pub sandbox: SandboxOpts,
}

/// Options of the sandboxed install.
#[derive(Debug, Clone, Default)]
pub struct SandboxOpts {
    /// Run installs inside the sandbox: `Some(true)` forces it (`--sandbox`,
    /// `PKGWARDEN_SANDBOX=1`), `Some(false)` turns it off
    /// (`PKGWARDEN_SANDBOX=0`), `None` leaves it to the family (on where the
    /// manager's facts are derived: every family but the skeletons).
    pub enabled: Option<bool>,
    /// Write the events as JSON here.
    pub events_json: Option<PathBuf>,
}

impl SandboxOpts {
    /// From `PKGWARDEN_SANDBOX` and `PKGWARDEN_EVENTS_JSON` (for shims).
    pub fn from_env() -> SandboxOpts {
        SandboxOpts {
            enabled: match std::env::var("PKGWARDEN_SANDBOX").as_deref() {
                Ok("1") => Some(true),
                Ok("0") => Some(false),
                _ => None,
            },
            events_json: std::env::var_os("PKGWARDEN_EVENTS_JSON").map(PathBuf::from),
        }
    }
}

/// Runs one invocation to completion and returns the exit code. Passthrough
/// never returns: the process becomes the real manager.
pub fn invoke(inv: Invocation) -> i32 {
    let shims = shim::shims_dir();
    let path_var = std::env::var_os("PATH");
    // Named by its path (`pkgwarden run -- v/bin/pip`, or a shim in a
    // shimmed virtualenv called as `v/bin/pip`): that manager, wherever PATH
    // points; a pkgwarden link there hands off to what it moved aside.
    let by_path = inv
        .explicit
        .clone()
        .or_else(|| {
            std::env::args_os().next().map(PathBuf::from).filter(|p| {
                p.file_name().is_some_and(|n| *n == *inv.name)
                    && p.parent().is_some_and(|d| !d.as_os_str().is_empty())
            })
        })
        .and_then(|p| {
            let p = std::env::current_dir().map(|c| c.join(&p)).unwrap_or(p);
            if procs::file_id(&p).is_some() && procs::file_id(&p) == procs::self_id() {
                shim::moved_real(&p, &inv.name)
            } else {
                p.is_file().then_some(p)
            }
        });
    let Some(real) =
        by_path.or_else(|| shim::find_real(&inv.name, path_var.as_deref(), shims.as_deref()))
    else {
        // The interpreter's shim exists whether or not a real one does: it
        // answers as the shell would have.
        if inv.tool == Tool::Python {
            eprintln!("{}", shim::not_found_message(&inv.name));
        } else {
            eprintln!(
                "pkgwarden: no real '{}' found on PATH (shims dir skipped)",
                inv.name
            );
        }
        return exit::NOT_FOUND;
    };
    let words: Vec<String> = inv
        .args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let new_venvs = managers::new_venvs(inv.tool, &words);
    let request = match managers::classify(inv.tool, &words) {
        Classified::Passthrough { .. } => match new_venvs {
            Some(dirs) if !shim::inside_monitored_install() => {
                return create_venvs(&real, &inv, &dirs);
            }
            _ => return passthrough(&real, &inv),
        },
        Classified::Install(req) => req,
    };
    // Inside a monitored install, the manager calling itself is already watched.
    if shim::inside_monitored_install() {
        return passthrough(&real, &inv);
    }
    let code = install(&inv, &real, &request);
    if let Some(dirs) = new_venvs
        && code == 0
    {
        shim_new_venvs(&inv, &dirs);
    }
    code
}

/// `python -m venv DIR`, `uv venv`: with `shim_new_venvs = true`, run it as a
/// child and put shims into the new virtualenvs; else pass it through.
fn create_venvs(real: &Path, inv: &Invocation, dirs: &[String]) -> i32 {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let wanted = policy::load(&policy::Locations::default(), &env, &inv.overrides)
        .is_ok_and(|e| e.policy.shim_new_venvs && e.policy.monitors(inv.tool));
    if !wanted {
        return passthrough(real, inv);
    }
    let code = run_child(real, real.as_os_str(), &inv.args);
    if code == 0 {
        shim_new_venvs(inv, dirs);
    }
    code
}

/// Puts pkgwarden shims into the `bin/` of the virtualenvs `dirs` when the
/// policy asks (`shim_new_venvs`), so their `pip` called by absolute path is
/// monitored too.
fn shim_new_venvs(inv: &Invocation, dirs: &[String]) {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let Ok(eff) = policy::load(&policy::Locations::default(), &env, &inv.overrides) else {
        return;
    };
    let p = &eff.policy;
    if !p.shim_new_venvs {
        return;
    }
    let Ok(target) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return;
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let monitored = |n: &str| Tool::from_command(n).is_some_and(|t| p.monitors(t));
    for d in dirs {
        let venv = cwd.join(d);
        match shim::shim_venv(&venv, &target, monitored) {
            Ok(names) if !names.is_empty() => eprintln!(
                "pkgwarden: shimmed {} in {}/bin (shim_new_venvs): installs through them are monitored",
                names.join(", "),
                venv.display()
            ),
            Ok(_) => {}
            Err(e) => eprintln!(
                "pkgwarden: warning: could not shim {}/bin: {e}; its pip runs unmonitored when called by path",
                venv.display()
            ),
        }
    }
}

/// Becomes the real manager; returns only when `execve` failed.
///
/// argv[0] is the real manager's path (same base name as typed): an
/// interpreter that locates itself through argv[0] (Python finding its
/// virtualenv) would otherwise search PATH, find the shim, and lose its prefix.
fn passthrough(real: &Path, inv: &Invocation) -> i32 {
    let err = shim::exec(real, real.as_os_str(), &inv.args);
    eprintln!("pkgwarden: cannot run {}: {err}", real.display());
    // A shell answers 126 for a command found but not executable.
    126
}

/// The install path: the policy decides whether this install is monitored.
fn install(inv: &Invocation, real: &Path, request: &InstallRequest) -> i32 {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let eff = match policy::load(&policy::Locations::default(), &env, &inv.overrides) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("pkgwarden: policy error, nothing was run\n{e}");
            return exit::USAGE;
        }
    };
    for w in &eff.warnings {
        eprintln!("pkgwarden: warning: {w}");
    }
    let p = &eff.policy;
    if !p.monitors(inv.tool) {
        return passthrough(real, inv);
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    if !p.user_scope.includes(uid, user_name(uid).as_deref()) {
        return passthrough(real, inv);
    }
    if !p.allowed_parents.is_empty()
        && procs::allowed_parent(&p.allowed_parents, &procs::ancestors()).is_some()
    {
        return passthrough(real, inv);
    }
    let what = format!("{} {}", inv.tool, request.command);
    // The sandbox needs the manager's facts (where it writes, its registries);
    // families whose facts are still a skeleton run unmonitored by default.
    // Any other family is sandboxed when its facts say they are derived.
    let always = matches!(
        inv.tool,
        Tool::Pip | Tool::Pip3 | Tool::Python | Tool::Npm | Tool::Npx
    );
    // Why this install is not sandboxed by default, if it is not.
    let not_derived = if always {
        None
    } else {
        match inv.sandbox.enabled {
            Some(_) => None,
            // A probe that cannot run sandboxed runs nothing at all.
            None => match crate::managers::facts::not_derived(
                real,
                inv.tool,
                &std::env::current_dir().unwrap_or_default(),
            ) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("pkgwarden: {what}: {e}");
                    return exit::SANDBOX_UNAVAILABLE;
                }
            },
        }
    };
    if inv.sandbox.enabled.unwrap_or(not_derived.is_none()) {
        return sandboxed(inv, real, request, &eff, &what, &env);
    }
    let why = match (&inv.sandbox.enabled, &not_derived) {
        (Some(false), _) => "PKGWARDEN_SANDBOX=0 (or --no-sandbox) asked for it".to_string(),
        (_, Some(why)) => format!(
            "where {} writes and downloads from is not known: {why}",
            real.display()
        ),
        _ => "its facts are not derived".to_string(),
    };
    if p.mode == Mode::Block {
        eprintln!(
            "pkgwarden: {what}: block mode needs the sandbox, and this install cannot have one: {why}; nothing was run\n  hint: `pkgwarden run --sandbox` (or PKGWARDEN_SANDBOX=1) sandboxes it anyway, allowing writes only where the plan says"
        );
        return exit::SANDBOX_UNAVAILABLE;
    }
    let code = run_child(real, real.as_os_str(), &inv.args);
    eprintln!(
        "pkgwarden: {what} ran unmonitored ({} mode): {why}; no report was written\n  hint: `pkgwarden run --sandbox` (or PKGWARDEN_SANDBOX=1) sandboxes it anyway; mode = \"block\" refuses such installs",
        p.mode
    );
    code
}

/// The sandboxed install: plan, rules, child, supervisor, events.
fn sandboxed(
    inv: &Invocation,
    real: &Path,
    request: &InstallRequest,
    eff: &policy::Effective,
    what: &str,
    env: &[(String, String)],
) -> i32 {
    use crate::monitor::notify::{self, NetPolicy, Watch};
    use crate::monitor::snapshot;
    let p = &eff.policy;
    let started = std::time::SystemTime::now();
    // Open watch windows hold what changes while this install runs: its own
    // snapshot will say what it did.
    let _running = (!p.time_window.is_zero()).then(crate::monitor::watch::Running::mark);
    use crate::monitor::proxy::{Proxy, ProxyPolicy};
    use crate::sandbox::{self, landlock, seccomp, spawn};
    use std::os::unix::process::CommandExt;
    let unavailable = |why: String| {
        eprintln!("pkgwarden: {what}: cannot set up the sandbox, nothing was run: {why}");
        exit::SANDBOX_UNAVAILABLE
    };
    let start = std::time::Instant::now();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let plan = match crate::managers::facts::plan(real, request, &cwd) {
        Ok(plan) => plan,
        Err(e) => return unavailable(e.to_string()),
    };
    let home = crate::paths::home();
    // The directories the install writes to exist before the sandbox closes
    // over them (landlock rules attach to existing files): caches, logs, and
    // a target such as `pip install --target DIR`.
    for d in plan
        .write_roots
        .iter()
        .chain(&plan.cache_dirs)
        .chain(&plan.log_dirs)
    {
        // The site-packages of an environment the install itself creates
        // (a pipx app's) is left to it: an empty one would look like an
        // existing environment.
        let env_root = d.ancestors().nth(3);
        if d.file_name().is_some_and(|n| n == "site-packages")
            && env_root.is_some_and(|e| !e.exists())
        {
            continue;
        }
        let _ = std::fs::create_dir_all(d);
    }
    let tmp = match private_tmp() {
        Ok(t) => t,
        Err(e) => return unavailable(format!("private temporary directory: {e}")),
    };
    // pkgwarden's own directories exist before the grants split around them
    // (a missing one would cost its parent the right to gain entries).
    for d in [crate::paths::state_dir()].into_iter().flatten() {
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(d);
    }
    let precreated = sandbox::Precreated::create(&plan.create_files);
    let spec = sandbox::fs_spec(&plan, p, home.as_deref(), &cwd, &tmp.0);
    let audit = p.mode == Mode::Audit;
    let grants = if audit {
        // Audit denies nothing: read and write everywhere, observe all.
        vec![landlock::Grant::Write(PathBuf::from("/"))]
    } else {
        landlock::grants(&spec)
    };
    let (ll_fd, ll_status) = match landlock::build(&grants, None, !audit) {
        Ok(r) => r,
        Err(e) => return unavailable(e.to_string()),
    };
    // Probe, then trust: block refuses to run with less than it requires;
    // the other modes run unmonitored, and say so loudly.
    let probe = sandbox::probe::probe_cached();
    if ll_fd.is_none() || !probe.complete() {
        let have = serde_json::to_string(&probe).unwrap_or_default();
        if p.mode == Mode::Block {
            return unavailable(format!(
                "block mode requires landlock, seccomp user notification and pidfd_getfd; this kernel gives {have}"
            ));
        }
        eprintln!(
            "pkgwarden: WARNING: {what}: this kernel cannot sandbox installs ({have}); running it UNMONITORED"
        );
        return run_child(real, real.as_os_str(), &inv.args);
    }
    // Ground truth: the persistence locations before the install.
    let site_dirs: Vec<PathBuf> = plan
        .write_roots
        .iter()
        .filter(|r| {
            r.file_name()
                .is_some_and(|n| n == "site-packages" || n == "dist-packages")
        })
        .cloned()
        .collect();
    let mut watched = p.startup_paths.linux.clone();
    watched.extend(crate::managers::gem::watch_patterns(&plan));
    let mut scope = snapshot::Scope::new(
        home.clone(),
        cwd.clone(),
        &watched,
        site_dirs.clone(),
        std::env::var_os("PATH").as_deref(),
    );
    // conda's activation scripts in the target prefix are start-up hooks.
    scope
        .patterns
        .extend(crate::managers::conda::watched(&plan));
    // Said now, not after the install: a reports directory made unusable
    // (by an earlier install, say) loses this report and every later one.
    if let Err(e) = crate::report::store::check_writable() {
        eprintln!(
            "pkgwarden: WARNING: {what}: the report of this install cannot be stored ({e}); repair the directory's mode and owner (`chmod 700`, `chown` to you) or this install goes unrecorded"
        );
    }
    // pkgwarden's own places and the credential stores: their own mode
    // and owner (a chmod or chown that slipped past the supervisor).
    scope
        .stat_only
        .extend(spec.protected.iter().chain(&spec.secrets).cloned());
    if let Some(d) = crate::paths::state_dir() {
        scope.stat_only.push(d.join("reports"));
    }
    let before = snapshot::take(&scope);
    // The installed distributions' files, stat only: after the install, the
    // ones that changed are checked against their RECORD.
    let installed = crate::detect::record::stat_installed(&scope.site_dirs);
    let rules = if p.mode == Mode::Block {
        seccomp::block_rules()
    } else {
        seccomp::rules()
    };
    let program = rules.program();
    // The proxy: the install's only way out. It lets through the registries
    // and the hosts the policy allows for this manager; unknown hosts pass in
    // protect and audit (recorded as unexpected) and are refused in block.
    let mut allowed_hosts: Vec<String> = plan
        .registries
        .iter()
        .filter_map(|u| host_port_default(u))
        .collect();
    allowed_hosts.extend(plan.facts.download_hosts.iter().map(|h| with_port(h, 443)));
    for host in p.endpoints.allow.get(inv.tool.name()).into_iter().flatten() {
        if host
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
        {
            allowed_hosts.push(host.to_ascii_lowercase());
        } else {
            allowed_hosts.push(with_port(host, 443));
            allowed_hosts.push(with_port(host, 80));
        }
    }
    let proxy = match Proxy::start(
        ProxyPolicy {
            allowed: allowed_hosts,
            allow_unknown: p.mode != Mode::Block,
            deny_raw_ip: p.endpoints.deny.contains(&policy::DenyClass::RawIp),
            // The manager's own proxy setting (conda's proxy_servers, pip's
            // proxy …) is overridden inside the sandbox: chain to it.
            upstream: crate::monitor::proxy::Upstream::from_env(env).or_else(|| {
                let mut own: Vec<(String, String)> = env
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case("NO_PROXY"))
                    .cloned()
                    .collect();
                own.push(("HTTPS_PROXY".into(), plan.proxy.clone()?));
                crate::monitor::proxy::Upstream::from_env(&own)
            }),
            limits: Default::default(),
        },
        start,
    ) {
        Ok(proxy) => proxy,
        Err(e) => return unavailable(format!("cannot start the proxy: {e}")),
    };
    let net = NetPolicy {
        observe_only: audit,
        allowed: vec![proxy.addr],
        privileged_unix: privileged_sockets(home.as_deref()),
        deny_all_unix: p.mode == Mode::Block,
        peers: Some(proxy.peers.clone()),
    };
    // Reads recorded as evidence: the hidden stores, and the credentials the
    // managers need readable (a hook reading them is the finding).
    let mut read_watch = spec.secrets.clone();
    if let Some(h) = &home {
        read_watch.extend(sandbox::readable_credentials().iter().map(|f| h.join(f)));
    }
    read_watch.extend(
        [".env", ".env.local", ".env.production", ".env.development"]
            .iter()
            .map(|f| cwd.join(f)),
    );
    // A process confined by the preload library says so by opening this.
    if !audit && !plan.package_code.is_empty() {
        read_watch.push(sandbox::nest::ack_path(&tmp.0));
    }
    let privileged_unix = net.privileged_unix.clone();
    // The payload and the build directories: what the install runs from.
    let mut exec_roots: Vec<PathBuf> = plan
        .write_roots
        .iter()
        .chain(&plan.write_files)
        .chain(&plan.build_dirs)
        .cloned()
        .collect();
    exec_roots.extend(crate::detect::data::python_envs(&plan.write_roots));
    let watch = Watch {
        rules,
        observe_only: audit,
        secrets: read_watch,
        net,
        start,
        // Block runs nothing the install wrote outside them.
        exec_roots: (p.mode == Mode::Block).then(|| {
            let mut r = exec_roots.clone();
            r.push(tmp.0.clone());
            r
        }),
        // chmod and chown take effect only where landlock lets it write.
        perm: (!audit).then(|| notify::WriteGrants::from_grants(&grants)),
    };
    let detonation_watch = watch.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let mut cmd = Command::new(real);
    cmd.arg0(real.as_os_str())
        .args(&inv.args)
        .env(shim::SUPERVISOR_VAR, std::process::id().to_string())
        .env("TMPDIR", &tmp.0);
    for (k, v) in &plan.env {
        cmd.env(k, v);
    }
    proxy_env(&mut cmd, &proxy.url());
    cmd.envs(crate::managers::yarn_pnpm::sandbox_env(&plan));
    // Package scripts start through the hook wrapper, in a nested domain.
    let mut hook_domain = crate::detect::HookDomain::default();
    if !audit && let Some(h) = &plan.hook_shell {
        let hook = sandbox::hook::spec(&plan, &spec, home.as_deref(), &cwd, &tmp.0);
        let written = hook.as_ref().map(|s| sandbox::hook::write(s, &tmp.0));
        match (h.overridden, std::env::current_exe(), hook, written) {
            (false, Ok(exe), Some(hook), Some(Ok(var))) => {
                cmd.env(&h.var, &exe).env(sandbox::hook::VAR, var);
                hook_domain = crate::detect::HookDomain {
                    exe: Some(exe),
                    hidden: hook.hide,
                    project: hook.project,
                    writes: hook.writes,
                };
            }
            (true, ..) => eprintln!(
                "pkgwarden: WARNING: {what}: package scripts run with the install's rights: the command line chose their shell (--script-shell)"
            ),
            (_, exe, _, written) => eprintln!(
                "pkgwarden: WARNING: {what}: package scripts run with the install's rights: cannot set up their domain ({})",
                match (exe, written) {
                    (Err(e), _) | (_, Some(Err(e))) => e.to_string(),
                    _ => "no spec".into(),
                }
            ),
        }
    }
    // Package code the manager starts as a plain child process (build
    // backends, setup.py, extconf.rb) is confined by the preload library.
    let nest_domain = if !audit && !plan.package_code.is_empty() {
        nest_setup(
            &mut cmd,
            &plan,
            &spec,
            home.as_deref(),
            &cwd,
            &tmp.0,
            env,
            what,
        )
    } else {
        crate::detect::NestDomain::default()
    };
    // Secrets in the environment never reach the install's scripts, unless the
    // manager's own configuration asks for them.
    let mut config_files = plan.config_files.clone();
    config_files.push(cwd.join(".npmrc"));
    let (env_removed, env_kept) = sandbox::scrub_env(env, &config_files);
    for name in &env_removed {
        cmd.env_remove(name);
    }
    install_forwarding();
    // Detached grandchildren stay in our tree, where they can be found.
    procs::become_subreaper();
    let prep = spawn::Prepared {
        landlock: ll_fd,
        program,
    };
    let grace = std::time::Duration::from_secs(2);
    let setup_ms = start.elapsed().as_millis() as u64;
    let (mut child, handle) = match spawn::spawn(&mut cmd, prep, move |listener| {
        notify::supervise(listener, watch, stop2, grace)
    }) {
        Ok(r) => r,
        Err(e) => return unavailable(format!("starting {}: {e}", real.display())),
    };
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    let (code, signal) = wait_status(&mut child, real);
    drop(precreated);
    let manager_ms = start.elapsed().as_millis() as u64 - setup_ms;
    // The start-up detonation: an interpreter whose start-up the install
    // changed is started once in the same sandbox (not in audit, which
    // would let its start-up do whatever it does).
    let detonation = std::time::Instant::now();
    let mut detonation_events: Vec<notify::Event> = Vec::new();
    let mut detonated = false;
    if !audit {
        use crate::monitor::detonate;
        let mut probes = detonate::python_probes(
            &before,
            &scope.site_dirs,
            std::env::var_os("PATH").as_deref(),
            shim::shims_dir().as_deref(),
        );
        probes.extend(detonate::plan_probes(&before, &plan.startup_probes));
        for probe in probes {
            detonated = true;
            let mut dcmd = detonate::command(&probe);
            dcmd.current_dir(&cwd)
                .env(shim::SUPERVISOR_VAR, std::process::id().to_string())
                .env("TMPDIR", &tmp.0);
            proxy_env(&mut dcmd, &proxy.url());
            for name in &env_removed {
                dcmd.env_remove(name);
            }
            let prep = match landlock::build(&grants, None, true) {
                Ok((fd, _)) if fd.is_some() => spawn::Prepared {
                    landlock: fd,
                    program: seccomp::rules().program(),
                },
                Ok(_) | Err(_) => {
                    eprintln!(
                        "pkgwarden: warning: no start-up detonation of {}: the sandbox could not be built again",
                        probe.program.display()
                    );
                    continue;
                }
            };
            // A manager's start-up is attributed by the rules (the plugin
            // a process loaded); Python's by the distribution of the file.
            let package = (probe.hook == detonate::HOOK)
                .then(|| {
                    probe
                        .because
                        .iter()
                        .find_map(|f| crate::detect::pth::owner(f.parent()?, f))
                })
                .flatten();
            match detonate::run(&mut dcmd, prep, detonation_watch.clone()) {
                Ok(mut events) => {
                    detonate::mark(&mut events, package.as_deref(), probe.hook);
                    detonation_events.extend(events);
                }
                Err(e) => eprintln!(
                    "pkgwarden: warning: no start-up detonation of {}: {e}",
                    probe.program.display()
                ),
            }
        }
    }
    let detonation_ms = detonated.then(|| detonation.elapsed().as_millis() as u64);
    // What is still running shortly after the manager exited lingers (a job
    // forked just before the exit is given a moment to become what it is).
    let me = std::process::id() as i32;
    let mut lingering = Vec::new();
    for _ in 0..10 {
        procs::reap_zombies();
        lingering = procs::descendants(me);
        if lingering.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if p.mode == Mode::Block && !lingering.is_empty() {
        // Block mode leaves nothing running: a short grace, then SIGKILL.
        for l in &lingering {
            // SAFETY: signalling a pid from our own tree.
            unsafe { libc::kill(l.pid, libc::SIGTERM) };
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        for l in procs::descendants(std::process::id() as i32) {
            // SAFETY: as above.
            unsafe { libc::kill(l.pid, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        procs::reap_zombies();
    }
    stop.store(true, Ordering::SeqCst);
    let mut observed: notify::Observed = handle.join().ok().flatten().unwrap_or_default();
    let detonation_pids = crate::monitor::detonate::pids(&detonation_events);
    crate::monitor::detonate::merge(&mut observed.events, detonation_events);
    let requests = proxy.finish();
    if let Some(path) = &inv.sandbox.events_json {
        let doc = serde_json::json!({
            "manager": inv.tool,
            "command": request.command,
            "mode": p.mode,
            "exit_code": code,
            "landlock": ll_status,
            "seccomp": {"notify": true},
            "lingering": lingering,
            "filter_still_held": observed.still_held,
            "processes": procs::tree(&observed.events),
            "requests": requests,
            "env": {"removed": env_removed, "kept": env_kept},
            "notifications": observed.notifications,
            "supervisor_max_rss_kb": procs::max_rss_kb(),
            "events": observed.events,
        });
        if let Err(e) = std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap_or_default()) {
            eprintln!("pkgwarden: cannot write {}: {e}", path.display());
        }
    }
    // Build outputs made for the grant and left unused go again (rmdir
    // removes only empty directories).
    for d in plan.transient_dirs.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
    // Ground truth after, then the rules.
    let analysis = std::time::Instant::now();
    let after = snapshot::take(&scope);
    let changes = snapshot::diff(&before, &after);
    let (mut tampered, verify_us) = crate::detect::record::verify(&installed);
    let attempted = crate::detect::record::attempted(&installed, &observed.events, &tampered);
    tampered.extend(attempted);
    let tree = procs::tree(&observed.events);
    let mut expected: Vec<PathBuf> = plan
        .write_roots
        .iter()
        .chain(&plan.cache_dirs)
        .chain(&plan.log_dirs)
        .chain(&plan.write_files)
        .cloned()
        .collect();
    expected.extend(spec.write_dirs.iter().cloned());
    expected.extend(spec.file_dirs.iter().cloned());
    let input = crate::detect::Input {
        mode: p.mode,
        home: home.clone(),
        cwd: cwd.clone(),
        expected,
        tmp: tmp.0.clone(),
        exec_roots: exec_roots.clone(),
        fs: spec.clone(),
        manager_configs: plan
            .config_files
            .iter()
            .chain(&plan.readable_credentials)
            .cloned()
            .collect(),
        site_dirs,
        path_dirs: scope.path_dirs.clone(),
        envs: scope.envs.clone(),
        privileged_unix,
        startup_patterns: p.startup_paths.linux.clone(),
        entropy_threshold: p.executable_entropy_threshold,
        unsigned_binary_alerting: p.unsigned_binary_alerting,
        project_package: project_package(&cwd),
        events: &observed.events,
        tree: &tree,
        requests: &requests,
        lingering: &lingering,
        changes: &changes,
        env_kept: &env_kept,
        tampered: &tampered,
        started: Some(started),
        caches: plan.cache_dirs.clone(),
        hooks: hook_domain,
        nest: nest_domain,
    };
    let mut findings = crate::detect::run(&input);
    for f in findings.iter_mut() {
        if f.hook.is_none() && f.pid.is_some_and(|p| detonation_pids.contains(&p)) {
            f.hook = Some(crate::monitor::detonate::HOOK.to_string());
        }
    }
    for w in accept(&mut findings, &p.allow, started) {
        eprintln!("pkgwarden: warning: {w}");
    }
    let id = crate::report::store::new_id();
    let failing = findings
        .iter()
        .any(|f| f.allowed_by.is_none() && f.severity >= p.block_severity);
    let mut quarantined = Vec::new();
    let mut exit_code = code;
    if p.mode == Mode::Block && failing {
        exit_code = exit::BLOCKED;
        // What the failed install left in persistence locations goes.
        let evidence: std::collections::BTreeSet<&String> = findings
            .iter()
            .filter(|f| f.severity >= p.block_severity)
            .flat_map(|f| &f.evidence.paths)
            .collect();
        let loaders =
            crate::detect::gemplugin::loaders_to_hold(&findings, p.block_severity, &changes);
        // A tampered file of another package goes too: better a package that
        // fails to import than one that runs what was added to it.
        let trojaned = crate::detect::record::as_changes(&tampered);
        let held: Vec<&snapshot::Change> = changes
            .iter()
            .chain(&trojaned)
            .filter(|c| evidence.contains(&c.path))
            .chain(&loaders)
            .collect();
        let (q, errors) = crate::quarantine::isolate(&id, &held);
        for e in errors {
            eprintln!("pkgwarden: quarantine: {e}");
        }
        for f in findings.iter_mut() {
            if f.evidence
                .paths
                .iter()
                .any(|p| q.iter().any(|x| &x.original == p))
            {
                f.action = crate::detect::Taken::Quarantined;
            }
        }
        quarantined = q;
    }
    let timings = crate::report::model::Timings {
        setup_ms,
        manager_ms,
        analysis_ms: analysis.elapsed().as_millis() as u64,
        record_check: Some(crate::report::model::RecordCheck {
            dists: installed.dists(),
            files: installed.files(),
            stat_us: installed.took_us,
            verify_us,
        }),
        detonation_ms,
    };
    let status = outcome_status(
        p.mode == Mode::Block && failing,
        signal,
        RECEIVED.load(Ordering::SeqCst),
    );
    let report = crate::report::model::Report {
        version: crate::report::model::VERSION,
        id,
        started: humantime::format_rfc3339_seconds(started).to_string(),
        duration_ms: start.elapsed().as_millis() as u64,
        timings,
        who: who(),
        what: crate::report::model::What {
            manager: inv.tool.name().to_string(),
            typed: inv.name.clone(),
            real_exe: real.display().to_string(),
            version: plan.facts.version.clone(),
            argv: inv
                .args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            command: request.command.clone(),
            cwd: cwd.display().to_string(),
            mode: p.mode.to_string(),
            policy_sources: eff.layers.iter().map(|l| l.to_string()).collect(),
            policy_hash: policy_hash(p),
        },
        sandbox: crate::report::model::SandboxStatus {
            enforced: if audit {
                vec!["seccomp-deny-list (observed, not refused)".into()]
            } else {
                let mut v = Vec::new();
                if ll_status.filesystem {
                    v.push("landlock-fs".to_string());
                }
                if ll_status.network {
                    v.push("landlock-net".into());
                }
                if ll_status.scoping {
                    v.push("landlock-scope".into());
                }
                v.extend([
                    "seccomp-deny".into(),
                    "seccomp-notify".into(),
                    "proxy".into(),
                ]);
                v
            },
            observed_only: if audit {
                vec!["files".into(), "network".into(), "syscalls".into()]
            } else {
                Vec::new()
            },
            landlock: serde_json::to_value(&ll_status).ok(),
            readable_secrets: readable_secrets(&plan.readable_credentials, &cwd),
            filter_still_held: observed.still_held,
            notifications: observed.notifications,
            snapshot_us: before.took_us + after.took_us,
            snapshot_incomplete: after.incomplete.clone(),
            supervisor_max_rss_kb: procs::max_rss_kb(),
            package_code: crate::report::model::PackageCode::summarise(&input),
        },
        outcome: crate::report::model::Outcome {
            status: status.into(),
            manager_exit: signal.is_none().then_some(code),
            signal,
            exit_code,
        },
        files: crate::report::model::Files::summarise(&input),
        processes: tree.clone(),
        lingering: lingering.clone(),
        endpoints: requests.clone(),
        network: observed
            .events
            .iter()
            .filter(|e| e.kind.is_network())
            .cloned()
            .collect(),
        env: crate::report::model::EnvReport {
            removed: env_removed.clone(),
            kept: env_kept.clone(),
        },
        snapshot: changes.clone(),
        findings,
        quarantine: quarantined,
        watch: (!p.time_window.is_zero()).then(|| crate::monitor::watch::pending(p.time_window)),
    };
    let stored = match crate::report::store::write(&report) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("pkgwarden: cannot store the report: {e}");
            false
        }
    };
    // The watch window goes on after the install, adding to the report.
    if stored && report.watch.is_some() {
        let ended_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let mut spec = crate::monitor::watch::WatchSpec {
            report_id: report.id.clone(),
            ended_ms,
            until_ms: ended_ms.saturating_add(p.time_window.as_millis() as u64),
            scope: scope.clone(),
            baseline: after.clone(),
            contents: Default::default(),
            mode: p.mode,
            expected: input.expected.clone(),
            manager_configs: input.manager_configs.clone(),
            startup_patterns: input.startup_patterns.clone(),
            entropy_threshold: input.entropy_threshold,
            unsigned_binary_alerting: input.unsigned_binary_alerting,
            project_package: input.project_package.clone(),
            lingering: crate::monitor::watch::tracked(lingering.iter().map(|l| l.pid)),
            planted: crate::monitor::watch::planted(&changes),
        };
        spec.keep_contents();
        if let Err(e) = crate::monitor::watch::spawn(&spec) {
            eprintln!("pkgwarden: warning: no watch window after this install: {e}");
            let mut r = report.clone();
            r.watch = None;
            let _ = crate::report::store::write(&r);
        }
    }
    if let Err(errors) = crate::report::publish(&report) {
        for e in errors {
            eprintln!("pkgwarden: {e}");
        }
    }
    eprint!(
        "{}",
        crate::report::human::summary(&report, crate::report::human::use_color())
    );
    exit_code
}

/// How the install ended: `blocked` by the policy, else `interrupted` when
/// pkgwarden received (and forwarded) a stop signal or one ended the manager,
/// whatever the manager's exit code; `crashed` for any other signal.
/// Puts the preload library and its spec into the install's environment;
/// the domain the detectors judge by. Without the library (or its spec)
/// package code runs with the install's rights, and the report says so.
#[allow(clippy::too_many_arguments)]
fn nest_setup(
    cmd: &mut Command,
    plan: &crate::managers::facts::InstallPlan,
    fs: &crate::sandbox::landlock::FsSpec,
    home: Option<&Path>,
    cwd: &Path,
    tmp: &Path,
    env: &[(String, String)],
    what: &str,
) -> crate::detect::NestDomain {
    let spec = crate::sandbox::nest::spec(plan, fs, home, cwd, tmp, std::process::id() as i32);
    let lib = std::env::current_exe()
        .map_err(|e| e.to_string())
        .and_then(|exe| {
            crate::sandbox::nest::library(&exe).ok_or_else(|| {
                format!(
                    "{} not found beside {} (reinstall with install.sh)",
                    crate::sandbox::nest::LIBRARY,
                    exe.display()
                )
            })
        });
    let written = spec
        .as_ref()
        .map(|s| crate::sandbox::nest::write(s, tmp).map_err(|e| e.to_string()));
    match (lib, spec, written) {
        (Ok(lib), Some(spec), Some(Ok(var))) => {
            let existing = env
                .iter()
                .find(|(k, _)| k == "LD_PRELOAD")
                .map(|(_, v)| std::ffi::OsString::from(v));
            cmd.env("LD_PRELOAD", crate::sandbox::nest::preload(&lib, existing))
                .env(crate::sandbox::nest_spec::VAR, var);
            crate::detect::NestDomain {
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
            crate::detect::NestDomain {
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

fn outcome_status(blocked: bool, signal: Option<i32>, received: i32) -> &'static str {
    let stop = |s: i32| {
        matches!(
            s,
            libc::SIGINT | libc::SIGTERM | libc::SIGHUP | libc::SIGQUIT
        )
    };
    match signal {
        _ if blocked => "blocked",
        _ if stop(received) => "interrupted",
        Some(s) if stop(s) => "interrupted",
        Some(_) => "crashed",
        None => "completed",
    }
}

/// Marks the findings the policy's allow list accepts; returns warnings for
/// expired entries that would have matched.
fn accept(
    findings: &mut [crate::detect::Finding],
    allow: &[policy::AllowEntry],
    now: std::time::SystemTime,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for f in findings.iter_mut() {
        let Some(pkg) = &f.package else { continue };
        for a in allow {
            if &a.package != pkg || !(a.rules.is_empty() || a.rules.contains(&f.rule)) {
                continue;
            }
            if a.expired(now) {
                let w = format!(
                    "allow entry for {} expired on {}; its findings count again",
                    a.package,
                    a.expires.as_deref().unwrap_or("")
                );
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
                continue;
            }
            f.allowed_by = Some(match &a.reason {
                Some(r) => format!("allow {}: {r}", a.package),
                None => format!("allow {}", a.package),
            });
            break;
        }
    }
    warnings
}

/// The root project's package name, from `package.json` in `cwd`.
fn project_package(cwd: &Path) -> Option<String> {
    let text = std::fs::read_to_string(cwd.join("package.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("name")?.as_str().map(str::to_string)
}

/// Credential files that stayed readable inside the sandbox (the manager
/// of this install reads them; its package scripts do not see them).
fn readable_secrets(own: &[PathBuf], cwd: &Path) -> Vec<String> {
    own.iter()
        .cloned()
        .chain(std::iter::once(cwd.join(".env")))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect()
}

/// SHA-256 of the effective policy as JSON.
fn policy_hash(p: &policy::Policy) -> String {
    use sha2::Digest;
    let json = serde_json::to_vec(p).unwrap_or_default();
    sha2::Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Who runs this install.
fn who() -> crate::report::model::Who {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    crate::report::model::Who {
        user: user_name(uid),
        uid,
        host: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string()),
        parents: procs::ancestors()
            .iter()
            .map(|a| format!("{} {}", a.pid, a.comm))
            .collect(),
    }
}

/// The install's private temporary directory, removed when dropped.
struct PrivateTmp(PathBuf);

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn private_tmp() -> std::io::Result<PrivateTmp> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    for n in 0..100u32 {
        let p = base.join(format!("pkgwarden-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&p) {
            Ok(()) => return Ok(PrivateTmp(p)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free name"))
}

/// `host:port` of a registry URL, with the scheme's port when none is given.
fn host_port_default(url: &str) -> Option<String> {
    let hp = crate::managers::facts::host_port(url)?;
    let default = if url.starts_with("https") { 443 } else { 80 };
    Some(with_port(&hp, default))
}

/// `host` with `port` appended unless it has one.
fn with_port(host: &str, port: u16) -> String {
    let h = host.to_ascii_lowercase();
    let has_port = if let Some(rest) = h.strip_prefix('[') {
        rest.contains("]:")
    } else {
        h.rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    };
    if has_port { h } else { format!("{h}:{port}") }
}

/// Points every client in the sandbox at the proxy: the generic variables in
/// both cases (Ruby's Net::HTTP reads only `http_proxy`, even for https),
/// npm's, yarn's (yarn 4 ignores the generic ones) and pip's own. No host
/// bypasses it: NO_PROXY is cleared. CA settings pass through untouched.
fn proxy_env(cmd: &mut Command, url: &str) {
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "npm_config_proxy",
        "npm_config_https_proxy",
        "YARN_HTTP_PROXY",
        "YARN_HTTPS_PROXY",
        "PIP_PROXY",
    ] {
        cmd.env(var, url);
    }
    for var in [
        "NO_PROXY",
        "no_proxy",
        "npm_config_noproxy",
        "NPM_CONFIG_NOPROXY",
    ] {
        cmd.env_remove(var);
    }
}

/// Unix sockets no install may use.
fn privileged_sockets(home: Option<&Path>) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = [
        "/var/run/docker.sock",
        "/run/docker.sock",
        "/run/containerd/containerd.sock",
        "/run/systemd/resolve/io.systemd.Resolve",
        "/var/run/nscd/socket",
        "/run/dbus/system_bus_socket",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(s) = std::env::var_os("SSH_AUTH_SOCK") {
        v.push(PathBuf::from(s));
    }
    // The docker socket the user's docker client would use.
    if let Some(path) = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
    {
        v.push(path);
    }
    if let Some(h) = home {
        v.push(h.join(".docker/run/docker.sock"));
        v.push(h.join(".gnupg/S.gpg-agent"));
    }
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    v.push(PathBuf::from(format!("/run/user/{uid}/bus")));
    v.push(PathBuf::from(format!("/run/user/{uid}/docker.sock")));
    v.push(PathBuf::from(format!("/run/user/{uid}/gnupg/S.gpg-agent")));
    v
}

/// The child's pid, for the signal handler (0: none yet).
static CHILD: AtomicI32 = AtomicI32::new(0);

/// The last stop signal pkgwarden received while the manager ran (0: none).
/// pip and npm catch SIGINT and exit 1: the report says `interrupted` from
/// this, not from how the manager ended.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Forwards a signal that was sent to pkgwarden alone. A signal the terminal
/// sent (Ctrl-C, Ctrl-\) reached the whole foreground process group, the
/// manager included, and is not sent twice.
extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let child = CHILD.load(Ordering::SeqCst);
    RECEIVED.store(sig, Ordering::SeqCst);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let from_kernel = !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL;
    if child > 0 && !from_kernel {
        // SAFETY: kill is async-signal-safe.
        unsafe {
            libc::kill(child, sig);
        }
    }
}

/// Installs `forward` for the signals a manager must see. Handlers, not
/// SIG_IGN: caught signals reset to default in the child at execve, ignored
/// ones would stay ignored.
fn install_forwarding() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: a zeroed sigaction is a valid starting value; the handler
        // only reads an atomic and calls kill.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Runs the real manager as a child with the terminal untouched and returns
/// its exit code (`128+n` when a signal ended it).
fn run_child(real: &Path, argv0: &OsStr, args: &[OsString]) -> i32 {
    use std::os::unix::process::CommandExt;
    install_forwarding();
    crate::sandbox::spawn::unguard_self();
    let mut cmd = Command::new(real);
    cmd.arg0(argv0)
        .args(args)
        .env(shim::SUPERVISOR_VAR, std::process::id().to_string());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pkgwarden: cannot run {}: {e}", real.display());
            return 126;
        }
    };
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    wait_code(&mut child, real)
}

/// Waits for the manager: its exit code (`128+n` for a signal) and the
/// signal that ended it.
fn wait_status(child: &mut std::process::Child, real: &Path) -> (i32, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    match child.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => (exit::from_manager(code), None),
            (None, Some(sig)) => (128 + sig, Some(sig)),
            (None, None) => (1, None),
        },
        Err(e) => {
            eprintln!("pkgwarden: lost track of {}: {e}", real.display());
            (1, None)
        }
    }
}

/// Waits for the manager and returns its exit code (`128+n` for a signal).
fn wait_code(child: &mut std::process::Child, real: &Path) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match child.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => exit::from_manager(code),
            (None, Some(sig)) => 128 + sig,
            (None, None) => 1,
        },
        Err(e) => {
            eprintln!("pkgwarden: lost track of {}: {e}", real.display());
            1
        }
    }
}

/// The account name of `uid`, from the password database.
fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: a zeroed passwd is a valid out-parameter for getpwuid_r.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the sizes given.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points at a NUL-terminated string inside buf.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// What `pkgwarden plan` reports: how pkgwarden understands a command line.
pub fn resolve(tool: Tool, name: &str, args: &[String]) -> Result<(PathBuf, Classified), String> {
    let shims = shim::shims_dir();
    let path_var = std::env::var_os("PATH");
    let real = shim::find_real(name, path_var.as_deref(), shims.as_deref())
        .ok_or_else(|| format!("no real '{name}' found on PATH (shims dir skipped)"))?;
    Ok((real, managers::classify(tool, args)))
}

#[cfg(test)]
mod tests {
    use super::outcome_status;

    #[test]
    fn a_received_stop_signal_makes_the_install_interrupted() {
        // pip caught the forwarded SIGINT and exited 1.
        assert_eq!(outcome_status(false, None, libc::SIGINT), "interrupted");
        assert_eq!(outcome_status(false, None, libc::SIGHUP), "interrupted");
        assert_eq!(outcome_status(false, Some(libc::SIGTERM), 0), "interrupted");
        assert_eq!(outcome_status(false, Some(libc::SIGSEGV), 0), "crashed");
        assert_eq!(outcome_status(false, None, 0), "completed");
        assert_eq!(outcome_status(true, None, libc::SIGINT), "blocked");
    }
}
