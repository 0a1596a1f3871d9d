//! Benchmark (not a test): a sandboxed install against the bare manager, in
//! the same run, from loopback registries. Run with
//!
//!     cargo test --release --test integration bench_sandbox:: -- --ignored --nocapture
//!
//! pip installs 20 generated wheels (`--target`, a fresh directory each run);
//! npm installs a generated tree of 300 packages into a fresh project each
//! run, with a warm cache. Runs alternate bare / sandboxed; medians are
//! reported, with the ratio, the notifications handled and the cost per
//! notification.

use crate::support;

use std::fs;
use std::time::{Duration, Instant};
use support::pypi::build_wheel;
use support::*;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Times `bare` and `sandboxed` alternately, `n` times each, after one warm-up of each.
/// The CPU time each side used (user + system, the process and everything
/// it waited for) is kept too, for [`report`]: on a busy machine it says
/// what pkgwarden costs better than the wall clock.
fn compare(
    n: usize,
    mut bare: impl FnMut(usize) -> Duration,
    mut sandboxed: impl FnMut(usize) -> (Duration, u64),
) -> (Duration, Duration, u64) {
    bare(1000);
    sandboxed(1001);
    let (mut b, mut s, mut notes) = (Vec::new(), Vec::new(), 0);
    let (mut bc, mut sc) = (Vec::new(), Vec::new());
    for i in 0..n {
        b.push(bare(i));
        bc.push(LAST_CPU.get());
        let (d, k) = sandboxed(i);
        s.push(d);
        sc.push(LAST_CPU.get());
        notes = k;
    }
    CPU_MEDIANS.set(Some((median(bc), median(sc))));
    (median(b), median(s), notes)
}

thread_local! {
    /// The CPU time of the last [`timed`] command.
    static LAST_CPU: std::cell::Cell<Duration> = const { std::cell::Cell::new(Duration::ZERO) };
    /// The medians of the last [`compare`]'s CPU times (bare, sandboxed).
    static CPU_MEDIANS: std::cell::Cell<Option<(Duration, Duration)>> = const { std::cell::Cell::new(None) };
}

fn report(what: &str, bare: Duration, sandboxed: Duration, notes: u64) {
    let added = sandboxed.as_secs_f64() - bare.as_secs_f64();
    println!(
        "{what:<28} bare {:>8.1} ms  sandboxed {:>8.1} ms  ratio {:.3}  notifications {notes}  added per notification {:.1} µs",
        bare.as_secs_f64() * 1e3,
        sandboxed.as_secs_f64() * 1e3,
        sandboxed.as_secs_f64() / bare.as_secs_f64(),
        if notes > 0 {
            added / notes as f64 * 1e6
        } else {
            0.0
        },
    );
    if let Some((b, s)) = CPU_MEDIANS.take() {
        println!(
            "{:<28} cpu  {:>8.1} ms  sandboxed {:>8.1} ms  ratio {:.3}",
            "",
            b.as_secs_f64() * 1e3,
            s.as_secs_f64() * 1e3,
            s.as_secs_f64() / b.as_secs_f64().max(1e-9),
        );
    }
}

/// User + system CPU time of this process's waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn timed(cmd: &mut std::process::Command) -> Duration {
    let c = children_cpu();
    let t = Instant::now();
    let out = run(cmd);
    assert_success(&out, "benchmark run");
    let d = t.elapsed();
    LAST_CPU.set(children_cpu().saturating_sub(c));
    d
}

fn notifications(events: &std::path::Path) -> u64 {
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(events).unwrap()).unwrap();
    doc["notifications"].as_u64().unwrap_or(0)
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_pip_20_wheels() {
    let src = tempfile::tempdir().unwrap();
    let mut dists = Vec::new();
    let mut names = Vec::new();
    for i in 0..20 {
        let name = format!("pwbench{i}");
        let dir = src.path().join(&name);
        fs::create_dir_all(dir.join(&name)).unwrap();
        for f in 0..8 {
            fs::write(
                dir.join(&name).join(format!("m{f}.py")),
                format!("X = {f}\n").repeat(50),
            )
            .unwrap();
        }
        fs::write(dir.join(&name).join("__init__.py"), "").unwrap();
        dists.push(build_wheel(&PipFixture {
            name: name.clone(),
            version: "1.0.0".into(),
            summary: None,
            requires_dist: Vec::new(),
            dir,
        }));
        names.push(name);
    }
    let index = PypiIndex::start_with(dists);
    let probe = TestHome::new();
    let venv = venv(&probe);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let pip = venv_bin(&venv, "pip");
    let args = |target: &std::path::Path| {
        let mut a = vec![
            "install".to_string(),
            "--index-url".into(),
            index.index_url(),
            "--target".into(),
            target.display().to_string(),
        ];
        a.extend(names.iter().cloned());
        a
    };
    let home = env.home.path().to_path_buf();
    let (b, s, n) = compare(
        5,
        |i| timed(env.bare(&pip).args(args(&home.join(format!("t-bare-{i}"))))),
        |i| {
            let ev = home.join(format!("ev-{i}.json"));
            let d = timed(
                env.pkgwarden()
                    .args(["run", "--sandbox", "--events-json"])
                    .arg(&ev)
                    .arg("--")
                    .arg("pip")
                    .args(args(&home.join(format!("t-sb-{i}")))),
            );
            (d, notifications(&ev))
        },
    );
    report("pip install (20 wheels)", b, s, n);
    timings(&env);
}

/// A loopback registry holding a generated tree of 300 packages (root → 30
/// middles → 9 leaves each), and the root's dependencies.
fn npm_300_registry() -> (NpmRegistry, serde_json::Map<String, serde_json::Value>) {
    let mut pkgs = Vec::new();
    let mut root_deps = serde_json::Map::new();
    for m in 0..30 {
        let mut deps = serde_json::Map::new();
        for l in 0..9 {
            let leaf = format!("pwb-leaf-{m}-{l}");
            deps.insert(leaf.clone(), "1.0.0".into());
            pkgs.push(NpmPackage::new(
                serde_json::json!({"name": leaf, "version": "1.0.0"}),
                &[
                    ("index.js", b"module.exports = 1;\n"),
                    ("README.md", b"leaf\n"),
                ],
            ));
        }
        let mid = format!("pwb-mid-{m}");
        root_deps.insert(mid.clone(), "1.0.0".into());
        pkgs.push(NpmPackage::new(
            serde_json::json!({"name": mid, "version": "1.0.0", "dependencies": deps}),
            &[("index.js", b"module.exports = 2;\n")],
        ));
    }
    (NpmRegistry::start_with(pkgs), root_deps)
}

/// A fresh project in `env`'s HOME that depends on `deps`.
fn npm_project(
    env: &ShimEnv,
    tag: &str,
    deps: &serde_json::Map<String, serde_json::Value>,
) -> std::path::PathBuf {
    let p = env.home.subdir(tag);
    fs::write(
        p.join("package.json"),
        serde_json::to_vec(
            &serde_json::json!({"name": "bench", "version": "1.0.0", "dependencies": deps}),
        )
        .unwrap(),
    )
    .unwrap();
    p
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_npm_300_packages() {
    let (registry, root_deps) = npm_300_registry();
    let env = ShimEnv::new(&[]);
    let npm = npm();
    let args = ["install", "--no-audit", "--no-fund", "--registry"];
    let home = env.home.path().to_path_buf();
    let (b, s, n) = compare(
        3,
        |i| {
            timed(
                env.bare(&npm)
                    .args(args)
                    .arg(registry.registry_url())
                    .current_dir(npm_project(&env, &format!("bare-{i}"), &root_deps)),
            )
        },
        |i| {
            let ev = home.join(format!("npm-ev-{i}.json"));
            let d = timed(
                env.pkgwarden()
                    .args(["run", "--sandbox", "--events-json"])
                    .arg(&ev)
                    .args(["--", "npm"])
                    .args(args)
                    .arg(registry.registry_url())
                    .current_dir(npm_project(&env, &format!("sb-{i}"), &root_deps)),
            );
            (d, notifications(&ev))
        },
    );
    report("npm install (300 packages)", b, s, n);
    timings(&env);
}

/// `n` inert OSV malicious-package records: npm and PyPI names the install
/// never asks for, plus the benchmark's own leaves at a version it does not
/// install (so lookups find the name and compare versions).
fn synthetic_feed(dir: &std::path::Path, n: usize) {
    // 256 directories: no one directory of 200,000 entries.
    for d in 0..256 {
        fs::create_dir_all(dir.join(d.to_string())).unwrap();
    }
    for i in 0..n {
        let (eco, name, version) = match i % 4 {
            0 => ("PyPI", format!("pwfeed-py-{i}"), "1.0.0".to_string()),
            1 if i < 1200 => (
                "npm",
                format!("pwb-leaf-{}-{}", (i / 9) % 30, i % 9),
                "9.9.9".into(),
            ),
            _ => ("npm", format!("pwfeed-{i:07}"), format!("1.{}.0", i % 7)),
        };
        let rec = serde_json::json!({
            "id": format!("MAL-BENCH-{i}"),
            "summary": "inert benchmark record",
            "modified": "2026-11-30T00:00:00Z",
            "affected": [{"package": {"ecosystem": eco, "name": name}, "versions": [version]}],
        });
        fs::write(dir.join(format!("{}/r{i}.json", i % 256)), rec.to_string()).unwrap();
    }
}

/// Issue 15's cost: the same npm install, each run with a fresh cache (so
/// every tarball passes the proxy's feed check), bare, sandboxed without a
/// feed, and sandboxed with a 200,000-record feed; the order of the three
/// rotates each round.
#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_npm_300_packages_intel_feed() {
    let (registry, root_deps) = npm_300_registry();
    let off = ShimEnv::new(&[]);
    let on = ShimEnv::new(&[]);
    let feed = on.home.path().join("feed");
    synthetic_feed(&feed, 200_000);
    let t = Instant::now();
    let out = run(on.pkgwarden().args(["intel", "import"]).arg(&feed));
    assert_success(&out, "pkgwarden intel import");
    println!(
        "{:<28} 200,000 records imported in {:.1} s",
        "intel import",
        t.elapsed().as_secs_f64()
    );
    let _ = fs::remove_dir_all(&feed);
    let npm = npm();
    let install = |env: &ShimEnv, cmd: &mut std::process::Command, tag: String| {
        let cache = env.home.path().join(format!("cache-{tag}"));
        timed(
            cmd.args(["install", "--no-audit", "--no-fund", "--registry"])
                .arg(registry.registry_url())
                .arg("--cache")
                .arg(&cache)
                .current_dir(npm_project(env, &tag, &root_deps)),
        )
    };
    let rounds = 5;
    let mut times: [Vec<Duration>; 3] = Default::default();
    for i in 0..=rounds {
        for k in 0..3 {
            let arm = (i + k) % 3;
            let d = match arm {
                0 => install(&off, &mut off.bare(&npm), format!("bare-{i}")),
                1 => install(
                    &off,
                    off.pkgwarden().args(["run", "--", "npm"]),
                    format!("off-{i}"),
                ),
                _ => install(
                    &on,
                    on.pkgwarden().args(["run", "--", "npm"]),
                    format!("on-{i}"),
                ),
            };
            // Round 0 warms up every arm.
            if i > 0 {
                times[arm].push(d);
            }
        }
    }
    let [bare, off_t, on_t] = times.map(median);
    report("npm 300, no feed", bare, off_t, 0);
    report("npm 300, 200,000-record feed", bare, on_t, 0);
    println!(
        "{:<28} feed on / feed off {:.3}",
        "intel",
        on_t.as_secs_f64() / off_t.as_secs_f64()
    );
    phases(&off, "no feed");
    phases(&on, "feed");
}

/// The medians of the report's phases over every sandboxed run in `env`
/// (where a difference between two arms is spent).
fn phases(env: &ShimEnv, what: &str) {
    let dir = env.home.state_dir().join("pkgwarden/reports");
    let reports: Vec<serde_json::Value> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| serde_json::from_slice(&fs::read(p).unwrap()).unwrap())
        .collect();
    let median_of = |key: &str| {
        let mut v: Vec<u64> = reports
            .iter()
            .filter_map(|r| r["timings"][key].as_u64())
            .collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    println!(
        "{:<28} medians of {} runs: setup {} ms  manager {} ms  analysis {} ms (the feed's check {} µs)",
        format!("  {what}"),
        reports.len(),
        median_of("setup_ms"),
        median_of("manager_ms"),
        median_of("analysis_ms"),
        median_of("intel_us"),
    );
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_gem_20_gems() {
    // 20 pure-Ruby gems, built with `gem build` and indexed with
    // `gem generate_index`, installed into a fresh directory each run.
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    fs::create_dir_all(repo.join("gems")).unwrap();
    let mut names = Vec::new();
    for i in 0..20 {
        let name = format!("pwbench{i}");
        let dir = work.path().join(&name);
        fs::create_dir_all(dir.join("lib")).unwrap();
        for f in 0..8 {
            fs::write(
                dir.join("lib").join(format!("{name}_{f}.rb")),
                format!("X{f} = {f}\n").repeat(50),
            )
            .unwrap();
        }
        fs::write(
            dir.join(format!("{name}.gemspec")),
            format!(
                "Gem::Specification.new do |s|\n  s.name = '{name}'\n  s.version = '1.0.0'\n  s.summary = 'bench'\n  s.authors = ['pkgwarden']\n  s.files = Dir['lib/*.rb']\n  s.license = 'MIT'\nend\n"
            ),
        )
        .unwrap();
        let built = run(std::process::Command::new("gem")
            .args(["build", &format!("{name}.gemspec")])
            .current_dir(&dir));
        assert_success(&built, "gem build");
        fs::copy(
            dir.join(format!("{name}-1.0.0.gem")),
            repo.join(format!("gems/{name}-1.0.0.gem")),
        )
        .unwrap();
        names.push(name);
    }
    let indexed = run(std::process::Command::new("gem")
        .args(["generate_index", "--directory"])
        .arg(&repo));
    assert_success(&indexed, "gem generate_index");
    let server = support::http::static_dir(repo);
    let source = format!("{}/", server.base_url());
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let args = |dir: &std::path::Path| {
        let mut a = vec![
            "install".to_string(),
            "--clear-sources".into(),
            "--source".into(),
            source.clone(),
            "--install-dir".into(),
            dir.display().to_string(),
            "--no-document".into(),
        ];
        a.extend(names.iter().cloned());
        a
    };
    let gem = which_gem();
    let (b, s, n) = compare(
        5,
        |i| timed(env.bare(&gem).args(args(&home.join(format!("g-bare-{i}"))))),
        |i| {
            let ev = home.join(format!("gev-{i}.json"));
            let d = timed(
                env.pkgwarden()
                    .args(["run", "--events-json"])
                    .arg(&ev)
                    .arg("--")
                    .arg("gem")
                    .args(args(&home.join(format!("g-sb-{i}")))),
            );
            (d, notifications(&ev))
        },
    );
    report("gem install (20 gems)", b, s, n);
    timings(&env);
}

/// The real `gem` on PATH.
fn which_gem() -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("gem"))
        .find(|p| p.is_file())
        .expect("no gem on PATH: .ci/run installs ruby")
}

/// Where the time of the newest report went (setup, manager, analysis).
fn timings(env: &ShimEnv) {
    let dir = env.home.state_dir().join("pkgwarden/reports");
    let newest = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .max()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&fs::read(newest).unwrap()).unwrap();
    let t = &r["timings"];
    println!(
        "{:<28} setup {} ms  manager {} ms  analysis {} ms (snapshots {} µs)  supervisor peak RSS {} KiB",
        "  last sandboxed run",
        t["setup_ms"],
        t["manager_ms"],
        t["analysis_ms"],
        r["sandbox"]["snapshot_us"],
        r["sandbox"]["supervisor_max_rss_kb"]
    );
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_notification_round_trip() {
    // 20,000 opens of an existing file, bare and sandboxed: the difference
    // divided by the opens is the cost of one trapped syscall.
    round_trip("/dev/null", "20,000 opens");
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_procfs_open_round_trip() {
    // The same on a procfs file, which the supervisor opens itself and
    // hands over (`monitor::procopen`).
    round_trip("/proc/self/stat", "20,000 procfs opens");
}

/// 20,000 opens of `path` from Python, bare and sandboxed (5 runs each).
fn round_trip(path: &str, what: &str) {
    let bin = tempfile::tempdir().unwrap();
    let gem = bin.path().join("gem");
    fs::write(
        &gem,
        format!("#!/bin/sh\nexec \"$PY\" -c 'import os\nfor _ in range(20000): os.close(os.open(\"{path}\", os.O_RDONLY))'\n"),
    )
    .unwrap();
    fs::set_permissions(&gem, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let env = ShimEnv::new(&[bin.path()]);
    let home = env.home.path().to_path_buf();
    let (b, s, n) = compare(
        5,
        |_| timed(env.bare(&gem).env("PY", python3())),
        |i| {
            let ev = home.join(format!("rt-{i}.json"));
            let d = timed(
                env.pkgwarden()
                    .args(["run", "--sandbox", "--events-json"])
                    .arg(&ev)
                    .args(["--", "gem", "install", "x"])
                    .env("PY", python3()),
            );
            (d, notifications(&ev))
        },
    );
    report(what, b, s, n);
}
