//! Runs one install in the sandbox by wiring the stages: plan → prepare →
//! monitor (snapshot, proxy, supervisor) → detect → verdict → report →
//! store → exit code. Each stage lives in its own module; nothing here
//! names a manager.

use crate::child;
use crate::detect;
use crate::exit::SetupError;
use crate::invocation::Invocation;
use crate::managers::InstallRequest;
use crate::monitor::detonate;
use crate::monitor::procs;
use crate::monitor::proxy::Proxy;
use crate::monitor::setup;
use crate::monitor::snapshot;
use crate::monitor::supervisor;
use crate::policy::{self, Mode};
use crate::report;
use crate::sandbox::landlock;
use crate::sandbox::prepare::{self, Place};
use crate::sandbox::{self, seccomp, spawn};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

/// The sandboxed install: returns the exit code (the manager's, or
/// pkgwarden's reserved ones).
pub fn sandboxed(
    inv: &Invocation,
    real: &Path,
    request: &InstallRequest,
    eff: &policy::Effective,
    what: &str,
    env: &[(String, String)],
) -> i32 {
    let p = &eff.policy;
    let (started, start) = (SystemTime::now(), Instant::now());
    // Open watch windows hold what changes while this install runs: its own
    // snapshot will say what it did.
    let _running = (!p.time_window.is_zero()).then(crate::monitor::watch::Running::mark);
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let (plan, proxy_policy) = match plan(inv, real, request, p, &cwd, env, what) {
        Ok(planned) => planned,
        Err(e) => return e.report(what),
    };
    prepare::make_dirs(&plan, p, &cwd);
    let tmp = match prepare::private_tmp() {
        Ok(t) => t,
        Err(e) => return SetupError::TempDir(e).report(what),
    };
    let at = Place::of(&tmp, cwd);
    let precreated = sandbox::Precreated::create(&plan.create_files);
    let reserved = reserve_ca(&proxy_policy, &at);
    let (fs, grants, ll_fd, landlock) = match close(&plan, p, &at, what) {
        Ok(c) => c,
        Err(Some(e)) => return e.report(what),
        Err(None) => return child::run(real, real.as_os_str(), &inv.args),
    };
    let audit = p.mode == Mode::Audit;
    let scope = setup::scope(&plan, p, &at, &fs);
    // Said now, not after the install: a reports directory made unusable
    // (by an earlier install, say) loses this report and every later one.
    report::store::warn_unwritable(what);
    let before = snapshot::take(&scope);
    // Ground truth for pkgwarden's own files the install's rights cover.
    let kept = setup::kept(p.mode, &fs);
    // The installed distributions' files, stat only: after the install, the
    // ones that changed are checked against their RECORD.
    let installed = detect::record::stat_installed(&scope.site_dirs);
    let rules = seccomp::for_mode(p.mode, landlock.abi);
    let program = rules.program();
    let (proxy, mut intel) = match start_proxy(proxy_policy, &plan, start) {
        Ok(started) => started,
        Err(e) => return SetupError::Proxy(e).report(what),
    };
    let end = setup::ProxyEnd::of(&proxy);
    let watch = setup::watch(&plan, p, &fs, &grants, &at, rules, end, start);
    let mut cmd = prepare::command(real, &inv.args, &plan, &at.tmp, &proxy.url());
    let (env_removed, env_kept) = prepare::scrub(&mut cmd, env, &plan, &p.project_credentials);
    let domains = prepare::package_code(&mut cmd, &plan, p.mode, &fs, &at, (env, &env_kept), what);
    let _ca = match trust_ca(&proxy, reserved, &plan, p, &mut cmd, &mut intel, what) {
        Ok(ca) => ca,
        Err(e) => return e.report(what),
    };
    child::install_forwarding();
    // Detached grandchildren stay in our tree, where they can be found.
    procs::become_subreaper();
    let prep = spawn::Prepared {
        landlock: ll_fd,
        program,
    };
    let setup_ms = start.elapsed().as_millis() as u64;
    let mut sup = match supervisor::start(&mut cmd, prep, watch.clone()) {
        Ok(s) => s,
        Err(err) => return spawn_failed(real, err, what),
    };
    child::track(sup.child.id());
    let (code, signal) = child::wait(&mut sup.child, real);
    drop(precreated);
    let manager_ms = start.elapsed().as_millis() as u64 - setup_ms;
    let detonations = match audit {
        true => detonate::Detonations::default(),
        false => detonate::after_install(
            &before,
            &scope.site_dirs,
            &plan,
            &at,
            &proxy.url(),
            &[&env_removed[..], &env_kept[..]].concat(),
            &grants,
            &watch,
        ),
    };
    let lingering = procs::settle(p.mode == Mode::Block);
    let (mut observed, supervisor_failed) = sup.finish(what);
    let detonation_pids = detonate::pids(&detonations.events);
    detonate::merge(&mut observed.events, detonations.events);
    let requests = proxy.finish();
    prepare::remove_transient(&plan, &domains);
    let ran = crate::judge::Ran {
        plan,
        fs,
        at,
        scope,
        before,
        kept,
        installed,
        landlock,
        observed,
        supervisor_failed,
        requests,
        lingering,
        code,
        signal,
        setup_ms,
        manager_ms,
        detonation_ms: detonations.ms,
        detonation_pids,
        env_removed,
        env_kept,
        domains,
        intel,
    };
    let code = crate::judge::judge(inv, real, eff, ran, started, start);
    drop(tmp);
    code
}

/// The manager could not be started: said, with pkgwarden's exit code.
fn spawn_failed(real: &Path, err: std::io::Error, what: &str) -> i32 {
    let real = real.to_path_buf();
    SetupError::Spawn { real, err }.report(what)
}

/// The plan: the manager's facts applied to the command line, with the
/// policy's cooldown as this manager's date gate; and the proxy's policy
/// for it (with a feed, block may refuse the plan: [`feed_gate`]).
fn plan(
    inv: &Invocation,
    real: &Path,
    request: &InstallRequest,
    p: &policy::Policy,
    cwd: &Path,
    env: &[(String, String)],
    what: &str,
) -> Result<(crate::model::plan::InstallPlan, setup::ProxyPolicy), SetupError> {
    let mut plan = crate::managers::facts::plan(real, request, cwd)?;
    crate::cooldown::apply(&mut plan, p, &inv.args, cwd, what)?;
    let proxy = feed_gate(&plan, p, env, what)?;
    Ok((plan, proxy))
}

/// The proxy's policy, decided from the plan before anything is set up:
/// with a feed, an install whose registries over TLS cannot be inspected is
/// refused in block mode unless the policy allows it (said loudly otherwise).
fn feed_gate(
    plan: &crate::model::plan::InstallPlan,
    p: &policy::Policy,
    env: &[(String, String)],
    what: &str,
) -> Result<setup::ProxyPolicy, SetupError> {
    let policy = setup::proxy_policy(plan, p, env);
    if let Some(why) = setup::uninspectable(&policy, plan) {
        crate::unchecked::before(p, &why, what)?;
    }
    Ok(policy)
}

/// When registries over TLS are to be inspected, the CA bundle's
/// directory: made before the sandbox's rules, which grant reads on what
/// exists then.
fn reserve_ca(
    policy: &setup::ProxyPolicy,
    at: &Place,
) -> Option<Result<sandbox::trust::Bundle, String>> {
    policy
        .terminates_tls()
        .then(|| sandbox::trust::reserve(&at.tmp).map_err(|e| e.to_string()))
}

/// Starts the proxy; with a feed, says how it is consulted.
fn start_proxy(
    policy: setup::ProxyPolicy,
    plan: &crate::model::plan::InstallPlan,
    start: Instant,
) -> std::io::Result<(Proxy, Option<crate::model::report::IntelUse>)> {
    let intel = policy.intel.is_some();
    let kept = intel.then(|| policy.clone());
    let proxy = Proxy::start(policy, start)?;
    let used = kept.and_then(|k| setup::intel_use(&k, plan, proxy.inspection()));
    Ok((proxy, used))
}

/// With a feed: the manager told to trust the install's CA (the bundle,
/// kept until the install ends), or, when that cannot be, refused in block
/// mode unless the policy allows it, and said loudly otherwise.
fn trust_ca(
    proxy: &Proxy,
    reserved: Option<Result<sandbox::trust::Bundle, String>>,
    plan: &crate::model::plan::InstallPlan,
    p: &policy::Policy,
    cmd: &mut std::process::Command,
    intel: &mut Option<crate::model::report::IntelUse>,
    what: &str,
) -> Result<Option<sandbox::trust::Bundle>, SetupError> {
    let trust = &plan.trust;
    let (Some(inspection), Some(reserved)) = (proxy.inspection(), reserved) else {
        return Ok(None);
    };
    let written = match (inspection, reserved) {
        (Ok(pem), Ok(bundle)) => bundle
            .write(trust, pem)
            .map(|()| bundle)
            .map_err(|e| e.to_string()),
        (Err(why), _) => Err(why.to_string()),
        (_, Err(why)) => Err(why),
    };
    match written {
        Ok(bundle) => {
            sandbox::trust::apply(cmd, trust, &bundle);
            Ok(Some(bundle))
        }
        Err(why) => {
            crate::unchecked::at_start(
                p,
                &format!("the install's CA could not be set up ({why})"),
            )?;
            // Fail closed: the tunnels to the registries are refused (but in
            // audit) rather than let through unchecked.
            eprintln!(
                "pkgwarden: WARNING: {what}: the feed cannot be checked on the registries over TLS ({why})"
            );
            if let Some(i) = intel.as_mut() {
                i.tls_inspected.clear();
                i.tls_not_inspected = Some(why);
            }
            Ok(None)
        }
    }
}

/// The sandbox's file rules for this install, built into a landlock
/// ruleset. Probe, then trust: block refuses to run with less than it
/// requires (`Err(Some(error))`); the other modes run the install unmonitored,
/// and say so loudly (`Err(None)`).
#[allow(clippy::type_complexity)]
fn close(
    plan: &crate::model::plan::InstallPlan,
    p: &policy::Policy,
    at: &Place,
    what: &str,
) -> Result<
    (
        landlock::FsSpec,
        Vec<landlock::Grant>,
        Option<std::os::fd::OwnedFd>,
        landlock::LandlockStatus,
    ),
    Option<SetupError>,
> {
    let private = [at.tmp.as_path(), &at.root_caches];
    let fs = sandbox::fs_spec(plan, p, at.home.as_deref(), &at.cwd, &private);
    for r in &fs.refused {
        eprintln!(
            "pkgwarden: {what}: not granting {r}; to allow writing {}, add it to `extra_write_paths`",
            r.target.display()
        );
    }
    let grants = prepare::grants(&fs, p.mode, &at.cwd);
    let (ll_fd, status) =
        landlock::build(&grants, None, p.mode != Mode::Audit).map_err(|e| Some(e.into()))?;
    if let Some(kernel) = status.capped_from {
        eprintln!(
            "pkgwarden: WARNING: {what}: landlock ABI capped at {} (the kernel has {kernel}) by {}: a test setting, weaker than this kernel allows",
            status.abi,
            landlock::ABI_CAP_VAR
        );
    }
    let probe = sandbox::probe::probe_cached();
    if ll_fd.is_some() && probe.complete() {
        return Ok((fs, grants, ll_fd, status));
    }
    if p.mode == Mode::Block {
        return Err(Some(SetupError::Kernel {
            missing: probe.missing(),
        }));
    }
    eprintln!(
        "pkgwarden: WARNING: {what}: this kernel cannot sandbox installs ({}); running it UNMONITORED (`pkgwarden doctor` says more)",
        probe.missing()
    );
    Err(None)
}
