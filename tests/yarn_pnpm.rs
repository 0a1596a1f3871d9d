//! yarn (classic) and pnpm installs through the shims, sandboxed by default
//! with facts read from the tools themselves: real installs from a loopback
//! registry configured as a user would, a benign one that must stay quiet
//! (also in block mode, where only the derived roots are writable), and a
//! dependency whose postinstall appends to `~/.bashrc`.

mod support;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use support::*;

const BLOCKED: i32 = 90;

/// The real tool on PATH; a missing one fails the test (CI installs it).
fn tool(name: &str) -> PathBuf {
    which::which(name).unwrap_or_else(|e| {
        panic!("{name} not found on PATH ({e}): `.ci/run` installs it with `npm install -g`")
    })
}

fn incident(name: &str) -> Vec<u8> {
    let p = fixtures_root().join("incidents").join(name);
    fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// One install through a shim: exit code, stderr and the report it left.
struct Installed {
    code: i32,
    out: String,
    report: Value,
}

impl Installed {
    fn serious(&self) -> Vec<&Value> {
        support::installs::serious(&self.report)
    }

    fn finding(&self, rule: &str) -> &Value {
        self.report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap_or_else(|| {
                panic!(
                    "no {rule} finding\n{}\nfindings: {:#}\nprocesses: {:#}",
                    self.out, self.report["findings"], self.report["processes"]
                )
            })
    }
}

/// A test HOME with the shims, a loopback registry and a fresh project.
struct Case {
    env: ShimEnv,
    registry: NpmRegistry,
    project: PathBuf,
    manager: &'static str,
}

impl Case {
    fn new(manager: &'static str, packages: Vec<NpmPackage>) -> Case {
        tool(manager);
        let registry = NpmRegistry::start_with(packages);
        let env = ShimEnv::new(&[]);
        fs::write(env.home.path().join(".bashrc"), "# rc\n").unwrap();
        let project = env.home.subdir("proj");
        let case = Case {
            env,
            registry,
            project,
            manager,
        };
        case.configure();
        case
    }

    /// The registry, configured as a user would: pnpm with `pnpm config
    /// set` (a passthrough: it writes `~/.npmrc`); yarn classic in the
    /// project's `.yarnrc` (`yarn config set` as root writes
    /// /usr/local/share/.yarnrc, outside the test's HOME).
    fn configure(&self) {
        let url = self.registry.registry_url();
        match self.manager {
            "pnpm" => {
                let set = run(self
                    .env
                    .shim("pnpm")
                    .args(["config", "set", "registry", &url]));
                assert_success(&set, "pnpm config set registry");
                assert!(!stderr_str(&set).contains("pkgwarden"), "a passthrough");
            }
            _ => {
                let mut rc = format!("registry \"{url}\"\n");
                if is_root() {
                    // yarn run by root caches in /usr/local/share, not HOME.
                    let cache = self.env.home.path().join(".yarn-cache");
                    rc.push_str(&format!("cache-folder \"{}\"\n", cache.display()));
                }
                fs::write(self.project.join(".yarnrc"), rc).unwrap();
            }
        }
    }

    /// Runs `<manager> add <name>` through the shim in a fresh project.
    fn add(&self, name: &str, mode: &str, extra_manifest: Value) -> Installed {
        let _ = fs::remove_dir_all(self.project.join("node_modules"));
        for f in ["yarn.lock", "pnpm-lock.yaml"] {
            let _ = fs::remove_file(self.project.join(f));
        }
        // pnpm keeps what a build left (its side effects) in the store and
        // does not run that postinstall again: each run starts empty.
        let _ = fs::remove_dir_all(self.env.home.data_dir().join("pnpm"));
        let mut manifest =
            serde_json::json!({"name": "proj", "version": "1.0.0", "license": "MIT"});
        if let (Some(m), Value::Object(extra)) = (manifest.as_object_mut(), extra_manifest) {
            m.extend(extra);
        }
        fs::write(
            self.project.join("package.json"),
            serde_json::to_vec_pretty(&manifest).unwrap(),
        )
        .unwrap();
        let before = self.env.report_files();
        let out = run(self
            .env
            .shim(self.manager)
            .args(["add", name])
            .env("PKGWARDEN_MODE", mode)
            .current_dir(&self.project));
        let text = format!(
            "{} add {name} ({mode}): {}\nstdout:\n{}\nstderr:\n{}",
            self.manager,
            out.status,
            stdout_str(&out),
            stderr_str(&out)
        );
        assert!(
            stderr_str(&out).contains(SANDBOXED),
            "not sandboxed: {text}"
        );
        let new = self.env.reports_since(&before);
        assert_eq!(new.len(), 1, "one new report expected: {text}");
        let report: Value = serde_json::from_slice(&fs::read(&new[0]).unwrap()).unwrap();
        Installed {
            code: out.status.code().unwrap_or(-1),
            out: text,
            report,
        }
    }

    fn bashrc(&self) -> String {
        fs::read_to_string(self.env.home.path().join(".bashrc")).unwrap()
    }
}

fn benign(manager: &'static str) {
    let c = Case::new(
        manager,
        vec![
            NpmFixture::load("pwdemo").package(),
            NpmFixture::load("pwdemo-dep").package(),
        ],
    );
    // Protect, then block: block lets the install write only where the
    // derived plan says, so a missing root fails it.
    for mode in ["protect", "block"] {
        let r = c.add("pwdemo", mode, Value::Null);
        assert_eq!(r.code, 0, "{}", r.out);
        assert_eq!(r.report["outcome"]["status"], "completed", "{}", r.out);
        assert!(r.serious().is_empty(), "{}\n{:#?}", r.out, r.serious());
        // Every write landed where the derived plan said (a store or cache
        // it did not know of would be written, or probed for, elsewhere).
        assert_eq!(
            r.report["files"]["outside"],
            serde_json::json!([]),
            "{}",
            r.out
        );
        assert!(
            c.project.join("node_modules/pwdemo/package.json").is_file(),
            "{}",
            r.out
        );
        assert!(c.registry.tarball_fetched("pwdemo-dep", "1.0.0"));
        // The registry came from the tool's own configuration: the proxy
        // let it through with no host list written anywhere.
        let port = c.registry.port();
        let endpoints = r.report["endpoints"].as_array().expect("endpoints");
        assert!(
            endpoints
                .iter()
                .any(|e| e["host"] == "127.0.0.1" && e["port"] == port),
            "{}\n{endpoints:#?}",
            r.out
        );
        for e in endpoints {
            assert_eq!(e["verdict"], "allowed", "{}\n{e:#}", r.out);
        }
        assert_eq!(r.report["what"]["manager"], manager);
        assert!(
            r.report["what"]["version"].is_string(),
            "{:#}",
            r.report["what"]
        );
    }
}

fn malicious(manager: &'static str) {
    let name = "pw-rc-append";
    let pkg = NpmPackage::new(
        serde_json::json!({
            "name": name, "version": "1.0.0",
            "scripts": {"postinstall": "node incident.js"}
        }),
        &[
            ("incident.js", &incident("rc-append.js")),
            ("index.js", b"module.exports = 1;\n"),
        ],
    );
    let c = Case::new(manager, vec![pkg]);
    // pnpm 10 runs a dependency's build scripts only when the project
    // allows them, as `pnpm approve-builds` records it.
    if manager == "pnpm" {
        fs::write(
            c.project.join("pnpm-workspace.yaml"),
            format!("onlyBuiltDependencies:\n  - {name}\n"),
        )
        .unwrap();
    }
    let before = c.bashrc();
    let check = |r: &Installed| {
        let f = r.finding("persist.shell-rc");
        assert_eq!(f["package"], format!("{name}@1.0.0"), "{f:#}");
        assert_eq!(f["hook"], "postinstall", "{f:#}");
        assert!(
            f["attack"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "T1546.004"),
            "{f:#}"
        );
        assert!(f["pid"].as_i64().is_some_and(|p| p > 0), "{f:#}");
    };

    let a = c.add(name, "audit", Value::Null);
    assert_eq!(a.code, 0, "{}", a.out);
    check(&a);
    assert!(
        c.bashrc().contains("PW_MARK=rc-append"),
        "audit denies nothing"
    );
    fs::write(c.env.home.path().join(".bashrc"), &before).unwrap();

    let b = c.add(name, "block", Value::Null);
    assert_eq!(b.code, BLOCKED, "{}", b.out);
    assert_eq!(b.report["outcome"]["status"], "blocked", "{}", b.out);
    check(&b);
    assert_eq!(c.bashrc(), before, ".bashrc changed in block mode");
}

#[test]
fn yarn_add_from_a_loopback_registry_is_sandboxed_and_quiet() {
    benign("yarn");
}

#[test]
fn pnpm_add_from_a_loopback_registry_is_sandboxed_and_quiet() {
    benign("pnpm");
}

#[test]
fn yarn_dependency_postinstall_appending_to_bashrc() {
    malicious("yarn");
}

#[test]
fn pnpm_dependency_postinstall_appending_to_bashrc() {
    malicious("pnpm");
}

/// Options that move the registry and the directories reach the plan.
#[test]
fn command_line_options_reach_the_plan() {
    tool("yarn");
    tool("pnpm");
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    fs::write(
        project.join("package.json"),
        r#"{"name":"p","version":"1.0.0"}"#,
    )
    .unwrap();
    let plan = |args: &[&str]| -> Value {
        let out = run(env
            .pkgwarden()
            .args(["plan", "--json", "--"])
            .args(args)
            .current_dir(&project));
        assert_success(&out, &format!("pkgwarden plan {args:?}"));
        serde_json::from_slice(&out.stdout).expect("plan JSON")
    };
    let reg = "http://127.0.0.1:9/";
    let (c, m) = (project.join("c"), project.join("m"));
    let (lock, yarn_lock) = (project.join("pnpm-lock.yaml"), project.join("yarn.lock"));
    let modules = project.join("node_modules");
    // (command line, [(plan field, a value it must hold)])
    type Case<'a> = (&'a [&'a str], [(&'a str, &'a Path); 4]);
    let cases: [Case; 2] = [
        (
            &[
                "yarn",
                "--registry",
                reg,
                "--cache-folder",
                "c",
                "--modules-folder",
                "m",
                "add",
                "x",
            ],
            [
                ("registries", Path::new(reg)),
                ("cache_dirs", &c),
                ("write_roots", &m),
                ("write_files", &yarn_lock),
            ],
        ),
        (
            &["pnpm", "--registry", reg, "add", "--store-dir", "/s", "x"],
            [
                ("registries", Path::new(reg)),
                ("cache_dirs", Path::new("/s")),
                ("write_roots", &modules),
                ("write_files", &lock),
            ],
        ),
    ];
    for (args, wants) in cases {
        let v = plan(args);
        assert_eq!(v["plan"]["facts"]["derived"], true, "{v:#}");
        for (key, want) in wants {
            let list = v["plan"][key].as_array().expect("a list");
            assert!(
                list.iter().any(|x| x.as_str() == want.to_str()),
                "{args:?}: {key} lacks {}: {v:#}",
                want.display()
            );
        }
    }
}
