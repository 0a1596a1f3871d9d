//! The post-install watch window end to end, through real npm installs from
//! a loopback registry: one watcher per user for overlapping windows, a
//! foreign write recorded once and only as info, a write by a process the
//! install left behind caught at full severity and announced once by the
//! next shim call, and a file written and removed at once still seen.

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::installs::{Installed, install};
use support::*;

fn incident(name: &str) -> Vec<u8> {
    let p = crate_root().join("tests/fixtures/incidents").join(name);
    fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A loopback registry with one plain package and, when `hook` is given,
/// one whose postinstall runs that incident file.
struct Case {
    env: ShimEnv,
    registry: NpmRegistry,
    project: PathBuf,
}

fn case(hook: Option<&str>) -> Case {
    let mut pkgs = vec![NpmPackage::new(
        serde_json::json!({"name": "pw-plain", "version": "1.0.0"}),
        &[("index.js", b"module.exports = 1;\n")],
    )];
    if let Some(file) = hook {
        pkgs.push(NpmPackage::new(
            serde_json::json!({
                "name": "pw-late", "version": "1.0.0",
                "scripts": {"postinstall": "node incident.js"}
            }),
            &[
                ("incident.js", &incident(file)),
                ("index.js", b"module.exports = 1;\n"),
            ],
        ));
    }
    let registry = NpmRegistry::start_with(pkgs);
    let env = ShimEnv::new(&[]);
    fs::write(env.home.path().join(".bashrc"), "# rc\n").unwrap();
    let project = env.home.subdir("proj");
    Case {
        env,
        registry,
        project,
    }
}

impl Case {
    /// `npm install PKG` in a fresh project, with the window `window`.
    fn install(&self, pkg: &str, mode: &str, window: &str) -> Installed {
        let _ = fs::remove_dir_all(self.project.join("node_modules"));
        let _ = fs::remove_file(self.project.join("package-lock.json"));
        fs::write(
            self.project.join("package.json"),
            r#"{"name":"proj","version":"1.0.0"}"#,
        )
        .unwrap();
        let url = self.registry.registry_url();
        let r = install(
            &self.env,
            mode,
            &[
                "npm",
                "install",
                "--foreground-scripts",
                "--registry",
                &url,
                pkg,
            ],
            &self.project,
            &[("PKGWARDEN_TIME_WINDOW", window.to_string())],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        r
    }

    /// The stored report `id`, read again.
    fn reread(&self, id: &str) -> Value {
        let path = self
            .env
            .report_files()
            .into_iter()
            .find(|p| p.to_string_lossy().contains(id))
            .unwrap_or_else(|| panic!("report {id} is gone"));
        serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
    }

    /// The live watcher processes of this HOME.
    fn watchers(&self) -> usize {
        let dir = self.env.home.state_dir().join("pkgwarden/watch");
        let dir = dir.to_string_lossy().into_owned();
        fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
            .filter(|c| {
                let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
                args.get(1) == Some(&&b"watch"[..]) && args.get(2) == Some(&dir.as_bytes())
            })
            .count()
    }
}

/// Findings the window added (they carry `after_ms`).
fn late(report: &Value) -> Vec<Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["after_ms"].is_u64())
        .cloned()
        .collect()
}

fn on_path<'a>(findings: &'a [Value], path: &Path) -> Vec<&'a Value> {
    let p = path.display().to_string();
    findings
        .iter()
        .filter(|f| f["evidence"]["paths"][0] == p.as_str())
        .collect()
}

fn id(r: &Installed) -> String {
    r.report["id"].as_str().unwrap().to_string()
}

fn watch_changes(report: &Value, path: &Path) -> usize {
    let p = path.display().to_string();
    report["watch"]["changes"]
        .as_array()
        .map(|a| a.iter().filter(|c| c["path"] == p.as_str()).count())
        .unwrap_or(0)
}

#[test]
fn a_foreign_write_after_two_installs_is_info_on_one_report_only() {
    let c = case(None);
    let a = id(&c.install("pw-plain", "protect", "8s"));
    let b = id(&c.install("pw-plain", "protect", "8s"));
    // The user's own write, after both installs ended.
    let npmrc = c.env.home.path().join(".npmrc");
    fs::write(&npmrc, "registry=http://127.0.0.1:9/\n").unwrap();
    let seen = poll(Duration::from_secs(10), || {
        let (ra, rb) = (c.reread(&a), c.reread(&b));
        (watch_changes(&ra, &npmrc) + watch_changes(&rb, &npmrc) > 0).then_some((ra, rb))
    })
    .expect("the window never saw ~/.npmrc change");
    // Let the other window look too, then check again.
    std::thread::sleep(Duration::from_millis(1500));
    let (ra, rb) = (c.reread(&a), c.reread(&b));
    assert_eq!(
        watch_changes(&ra, &npmrc) + watch_changes(&rb, &npmrc),
        1,
        "the change is on exactly one report: {:#} {:#}",
        ra["watch"],
        rb["watch"]
    );
    // It went to the newest open window.
    assert_eq!(watch_changes(&rb, &npmrc), 1, "{:#}", seen.1["watch"]);
    let fa = late(&ra);
    let fb = late(&rb);
    assert!(on_path(&fa, &npmrc).is_empty(), "{fa:#?}");
    for f in on_path(&fb, &npmrc) {
        assert_eq!(f["severity"], "info", "{f:#}");
        assert!(
            f["evidence"]["detail"]
                .as_str()
                .unwrap()
                .contains("not linked"),
            "{f:#}"
        );
    }
    // Info is not announced.
    let out = run(c.env.shim("npm").arg("--version"));
    assert!(
        !stderr_str(&out).contains("after `npm"),
        "{}",
        stderr_str(&out)
    );
}

#[test]
fn a_write_by_a_detached_process_of_the_install_is_caught_and_announced_once() {
    let c = case(Some("late-detached.js"));
    let rc = c.env.home.path().join(".bashrc");
    // audit: the sleeper may open ~/.bashrc (protect's landlock refuses it).
    let r = c.install("pw-late", "audit", "8s");
    let id = id(&r);
    assert!(
        !r.report["lingering"].as_array().unwrap().is_empty(),
        "the sleeper outlived the install: {:#}",
        r.report["lingering"]
    );
    let seen = poll(Duration::from_secs(15), || {
        let report = c.reread(&id);
        (!on_path(&late(&report), &rc).is_empty()).then_some(report)
    })
    .unwrap_or_else(|| {
        panic!(
            "the window added nothing for ~/.bashrc: {:#}\nrc: {:?}",
            c.reread(&id)["watch"],
            fs::read_to_string(&rc)
        )
    });
    assert!(fs::read_to_string(&rc).unwrap().contains("PWDETACHED"));
    let found = late(&seen);
    let f = on_path(&found, &rc)[0];
    assert_eq!(f["rule"], "persist.shell-rc", "{f:#}");
    // Linked through the sleeper: the rule's severity, and its pid.
    assert_eq!(f["severity"], "high", "linked to the install: {f:#}");
    let sleeper = f["pid"].as_i64().expect("the sleeper's pid") as i32;
    assert!(
        r.report["lingering"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["pid"] == sleeper),
        "{f:#}"
    );
    assert!(
        f["evidence"]["detail"]
            .as_str()
            .unwrap()
            .contains("left running"),
        "{f:#}"
    );
    assert!(
        f["evidence"]["excerpt"]
            .as_str()
            .unwrap()
            .contains("PWDETACHED"),
        "{f:#}"
    );
    // The next shim call says so, in one line, once.
    let first = stderr_str(&run(c.env.shim("npm").arg("--version")));
    let lines: Vec<&str> = first.lines().filter(|l| l.contains(&id)).collect();
    assert_eq!(lines.len(), 1, "{first}");
    assert!(
        lines[0].starts_with("pkgwarden: after `npm install"),
        "{first}"
    );
    assert!(lines[0].contains("pkgwarden report show"), "{first}");
    let second = stderr_str(&run(c.env.shim("npm").arg("--version")));
    assert!(!second.contains(&id), "announced twice: {second}");
    let list = run(c.env.pkgwarden().args(["report", "list"]));
    assert!(!stderr_str(&list).contains(&id), "{}", stderr_str(&list));
}

#[test]
fn one_watcher_for_three_overlapping_installs() {
    let c = case(None);
    let ids: Vec<String> = (0..3)
        .map(|_| id(&c.install("pw-plain", "protect", "5s")))
        .collect();
    let n = c.watchers();
    assert_eq!(n, 1, "watchers alive after three installs");
    // Every window closes, and then the watcher is gone.
    for id in &ids {
        poll(Duration::from_secs(15), || {
            (c.reread(id)["watch"]["ended"] == true).then_some(())
        })
        .unwrap_or_else(|| panic!("window {id} never closed"));
    }
    poll(Duration::from_secs(5), || (c.watchers() == 0).then_some(()))
        .expect("the watcher outlived its windows");
    assert!(
        fs::read_dir(c.env.home.state_dir().join("pkgwarden/watch"))
            .unwrap()
            .flatten()
            .all(|e| e.path().extension().is_none_or(|x| x != "json")),
        "closed windows left their files"
    );
}

#[test]
fn a_file_written_and_removed_at_once_is_seen() {
    let c = case(None);
    let autostart = c.env.home.path().join(".config/autostart");
    fs::create_dir_all(&autostart).unwrap();
    let id = id(&c.install("pw-plain", "protect", "8s"));
    // The watcher is up once a lasting file shows in the report (written
    // again on each try: the watcher may start after the first write);
    // then a file that lives for microseconds: far less than any polling
    // period.
    let first = autostart.join("pw-first.desktop");
    let mut n = 0;
    poll(Duration::from_secs(6), || {
        n += 1;
        fs::write(&first, format!("[Desktop Entry]\nExec=true {n}\n")).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        (!on_path(&late(&c.reread(&id)), &first).is_empty()).then_some(())
    })
    .expect("the watcher never looked");
    let desktop = autostart.join("pw-flash.desktop");
    fs::write(&desktop, "[Desktop Entry]\nExec=true\n").unwrap();
    fs::remove_file(&desktop).unwrap();
    let seen = poll(Duration::from_secs(10), || {
        let report = c.reread(&id);
        (!on_path(&late(&report), &desktop).is_empty()).then_some(report)
    })
    .unwrap_or_else(|| panic!("not seen: {:#}", c.reread(&id)["watch"]));
    let found = late(&seen);
    let f = on_path(&found, &desktop)[0];
    assert_eq!(f["rule"], "persist.autostart", "{f:#}");
    // The test wrote it, not the install.
    assert_eq!(f["severity"], "info", "{f:#}");
    // Recorded as a change; usually as gone again (no `after`), but a look
    // whose snapshot ran in the microseconds it existed records it as it was.
    assert!(
        seen["watch"]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|ch| ch["path"] == desktop.display().to_string().as_str()),
        "{:#}",
        seen["watch"]
    );
}

#[test]
fn a_later_install_writing_what_an_earlier_one_planted_stays_its_own() {
    let c = case(Some("rc-append.js"));
    let rc = c.env.home.path().join(".bashrc");
    // audit: the hook may append to ~/.bashrc. The first install plants it.
    let first = c.install("pw-late", "audit", "10s");
    assert!(
        !first.findings("persist.shell-rc").is_empty(),
        "{:#}",
        first.report["findings"]
    );
    let a = id(&first);
    // The same package again: its write is in its own report, not a late
    // finding of the first install's window (linked by path otherwise).
    let second = c.install("pw-late", "audit", "10s");
    assert!(!second.findings("persist.shell-rc").is_empty());
    std::thread::sleep(Duration::from_millis(1500));
    let ra = c.reread(&a);
    assert!(on_path(&late(&ra), &rc).is_empty(), "{:#}", ra["findings"]);
    assert_eq!(watch_changes(&ra, &rc), 0, "{:#}", ra["watch"]);
}
