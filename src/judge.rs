//! After the install: the snapshot's diff and the rules (detect), the
//! verdict, the report (built, stored, published, summarised) and the watch
//! window. Wires those stages as `run` wires the ones before.

use crate::child;
use crate::detect::{self, Input};
use crate::exit;
use crate::invocation::Invocation;
use crate::model::Lingering;
use crate::model::Observed;
use crate::model::Request;
use crate::model::plan::InstallPlan;
use crate::monitor::detonate;
use crate::monitor::procs;
use crate::monitor::setup;
use crate::monitor::snapshot::{self, Scope, Snapshot};
use crate::policy::{self, Mode};
use crate::report::{self, build, model};
use crate::sandbox::landlock::{FsSpec, LandlockStatus};
use crate::sandbox::prepare::{PackageCode, Place};
use std::path::Path;
use std::time::{Instant, SystemTime};

/// What the install left for the judging stages.
pub struct Ran {
    pub plan: InstallPlan,
    pub fs: FsSpec,
    pub at: Place,
    pub scope: Scope,
    pub before: Snapshot,
    /// pkgwarden's own files the install's rights covered, as they were.
    pub kept: crate::monitor::keep::Kept,
    pub installed: detect::record::Installed,
    pub landlock: LandlockStatus,
    pub observed: Observed,
    pub supervisor_failed: Option<String>,
    pub requests: Vec<Request>,
    pub lingering: Vec<Lingering>,
    pub code: i32,
    pub signal: Option<i32>,
    pub setup_ms: u64,
    pub manager_ms: u64,
    pub detonation_ms: Option<u64>,
    pub detonation_pids: std::collections::BTreeSet<i32>,
    pub env_removed: Vec<String>,
    pub env_kept: Vec<String>,
    pub domains: PackageCode,
    pub intel: Option<crate::model::report::IntelUse>,
}

/// After the install: the snapshot's diff and the rules, the verdict, the
/// report (stored, published, summarised) and the watch window.
pub fn judge(
    inv: &Invocation,
    real: &Path,
    eff: &policy::Effective,
    r: Ran,
    started: SystemTime,
    start: Instant,
) -> i32 {
    let p = &eff.policy;
    let analysis = Instant::now();
    // Before the snapshot: the watch window starts from what was put back.
    let restored = r.kept.restore();
    let after = snapshot::take(&r.scope);
    let changes = crate::monitor::keep::unrestored(snapshot::diff(&r.before, &after), &restored);
    let (mut tampered, verify_us) = detect::record::verify(&r.installed);
    let attempted = detect::record::attempted(&r.installed, &r.observed.events, &tampered);
    tampered.extend(attempted);
    let tree = procs::tree(&r.observed.events, &r.plan.attribution);
    let mut input = input(p, &r, &tree, (&changes, &restored), &tampered, started);
    input.packages = detect::foreign::Packages::of(&r.before, &after, r.at.home.as_deref());
    // The feed, once more, over what the install put on disk: archives the
    // proxy never saw (a cache) are judged too.
    let (installed_known, intel_us) = feed_check(&r, &input);
    input.installed_known = &installed_known;
    let mut findings = detect::run(&input);
    detonate::attribute(&mut findings, &r.detonation_pids);
    let id = report::store::new_id();
    let verdict = crate::verdict::decide(&mut findings, p, started, &id, &changes, &tampered);
    let failed_unwatched = p.mode == Mode::Block && r.supervisor_failed.is_some();
    let exit_code = match (verdict.blocked, failed_unwatched) {
        (true, _) => exit::BLOCKED,
        (false, true) => exit::SANDBOX_UNAVAILABLE,
        _ => r.code,
    };
    let timings = model::Timings {
        setup_ms: r.setup_ms,
        manager_ms: r.manager_ms,
        analysis_ms: analysis.elapsed().as_millis() as u64,
        record_check: Some(model::RecordCheck {
            dists: r.installed.dists(),
            files: r.installed.files(),
            stat_us: r.installed.took_us,
            verify_us,
        }),
        detonation_ms: r.detonation_ms,
        intel_us,
    };
    let parts = build::Parts {
        id,
        started,
        duration_ms: start.elapsed().as_millis() as u64,
        timings,
        what: build::what(
            build::Command {
                manager: inv.tool.name(),
                typed: &inv.name,
                real,
                version: r.plan.facts.version.clone(),
                args: &inv.args,
                command: &r.plan.request.command,
                cwd: &r.at.cwd,
                cooldown: crate::cooldown::observed(r.plan.cooldown.as_ref(), &r.requests),
            },
            eff,
        ),
        sandbox: build::Sandboxing {
            landlock: &r.landlock,
            observed: &r.observed,
            before: &r.before,
            after: &after,
            readable_credentials: &r.plan.readable_credentials,
            supervisor_failed: r.supervisor_failed.clone(),
            intel: r.intel.clone(),
        },
        input: &input,
        env_removed: &r.env_removed,
        findings,
        quarantine: verdict.quarantined,
        outcome: model::Outcome {
            status: child::outcome_status(verdict.blocked, r.signal).into(),
            manager_exit: r.signal.is_none().then_some(r.code),
            signal: r.signal,
            exit_code,
        },
        window: p.time_window,
    };
    if let Some(path) = &inv.sandbox.events_json {
        let doc = build::events_json(&parts, r.code);
        if let Err(e) = std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap_or_default()) {
            eprintln!("pkgwarden: cannot write {}: {e}", path.display());
        }
    }
    let report = build::report(parts);
    let stored = report::store::write(&report)
        .map_err(|e| eprintln!("pkgwarden: cannot store the report: {e}"))
        .is_ok();
    // The watch window goes on after the install, adding to the report.
    if stored && report.watch.is_some() {
        crate::monitor::watch::start_window(&report, &r.scope, &after, &input, p);
    }
    if let Err(errors) = report::publish(&report) {
        for e in errors {
            eprintln!("pkgwarden: {e}");
        }
    }
    eprint!(
        "{}",
        report::human::summary(&report, report::human::use_color())
    );
    if let Some(line) = crate::cooldown::held_back_line(report.what.cooldown.as_ref()) {
        eprintln!("{}", report::clean(&line));
    }
    // After the summary, so that a slow collector never delays it; a sink's
    // failure is a warning and leaves the exit code alone.
    report::sink::send_report(&report, &p.log);
    exit_code
}

/// The detectors' input: what the install did, where, and under which
/// policy.
fn input<'a>(
    p: &policy::Policy,
    r: &'a Ran,
    tree: &'a [procs::ProcNode],
    (changes, restored): (&'a [snapshot::Change], &'a [crate::model::change::Restored]),
    tampered: &'a [detect::record::Tampered],
    started: SystemTime,
) -> Input<'a> {
    Input {
        mode: p.mode,
        home: r.at.home.clone(),
        cwd: r.at.cwd.clone(),
        expected: setup::expected(&r.plan, &r.fs),
        tmp: r.at.tmp.clone(),
        exec_roots: setup::exec_roots(&r.plan)
            .into_iter()
            .chain([r.at.root_caches.clone()])
            .collect(),
        fs: r.fs.clone(),
        manager_configs: setup::manager_configs(&r.plan),
        site_dirs: setup::site_dirs(&r.plan),
        path_dirs: r.scope.path_dirs.clone(),
        envs: r.scope.envs.clone(),
        privileged_unix: setup::privileged_sockets(r.at.home.as_deref()),
        startup_patterns: p.startup_paths.linux.clone(),
        entropy_threshold: p.executable_entropy_threshold,
        unsigned_binary_alerting: p.unsigned_binary_alerting,
        project_package: setup::project_package(r.plan.project_manifest.as_ref()),
        events: &r.observed.events,
        tree,
        requests: &r.requests,
        lingering: &r.lingering,
        changes,
        env_kept: &r.env_kept,
        tampered,
        started: Some(started),
        editable_projects: r.plan.editable_projects.clone(),
        caches: r
            .plan
            .cache_dirs
            .iter()
            .chain(&r.plan.guarded_caches)
            .cloned()
            .collect(),
        hooks: r.domains.hooks.clone(),
        nest: r.domains.nest.clone(),
        installed_known: &[],
        restored,
        packages: detect::foreign::Packages::default(),
    }
}

/// The feed's check of the packages the install wrote, and its time in
/// microseconds (`None`, and nothing read, without a feed).
fn feed_check(
    r: &Ran,
    input: &Input,
) -> (
    Vec<(crate::intel::KnownMalicious, std::path::PathBuf)>,
    Option<u64>,
) {
    let start = Instant::now();
    let Some(check) = crate::intel::dir().and_then(|d| {
        crate::intel::Check::open(&d, crate::intel::ecosystem_of(r.plan.tool.family()))
    }) else {
        return (Vec::new(), None);
    };
    let written = input.written();
    let known = check.installed(&written.iter().map(|(p, _)| p.as_path()).collect::<Vec<_>>());
    (known, Some(start.elapsed().as_micros() as u64))
}
