//! yarn (classic) and pnpm installs through the shims, sandboxed by default
//! with facts read from the tools themselves: real installs from a loopback
//! registry configured as a user would, a benign one that must stay quiet
//! (also in block mode, where only the derived roots are writable), and a
//! dependency whose postinstall appends to `~/.bashrc`.

use crate::support;

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
        self.add_with(name, mode, extra_manifest, &[])
    }

    /// [`Case::add`] with variables for the install.
    fn add_with(
        &self,
        name: &str,
        mode: &str,
        extra_manifest: Value,
        vars: &[(&str, &str)],
    ) -> Installed {
        self.run_with(&["add", name], mode, extra_manifest, vars)
    }

    /// `<manager> install` of the project with `pwdemo` as its dependency
    /// and `scripts` as its own (a root `postinstall` runs on install, not
    /// on add).
    fn install_with_scripts(&self, mode: &str, scripts: Value) -> Installed {
        let extra = serde_json::json!({
            "dependencies": {"pwdemo": "1.0.0"},
            "scripts": scripts,
        });
        self.run_with(&["install"], mode, extra, &[])
    }

    /// `<manager> <args>` through the shim in a fresh project.
    fn run_with(
        &self,
        args: &[&str],
        mode: &str,
        extra_manifest: Value,
        vars: &[(&str, &str)],
    ) -> Installed {
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
            .args(args)
            .env("PKGWARDEN_MODE", mode)
            .envs(vars.iter().copied())
            .current_dir(&self.project));
        let text = format!(
            "{} {} ({mode}): {}\nstdout:\n{}\nstderr:\n{}",
            self.manager,
            args.join(" "),
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

/// A pnpm dependency's postinstall against pnpm's store and cache (inert:
/// the test's HOME only): appending to a stored file, a new file in the
/// store, a new metadata file in the cache; then what benign scripts do: a
/// browser download into a new `~/.cache/puppeteer` (protect only) and a
/// nested `npm install` from the same registry.
const PNPM_CACHE: &str = r##"
const fs = require("fs"), path = require("path"), os = require("os");
const cp = require("child_process");
const home = process.env.HOME, r = {};
const data = path.join(home, ".local", "share", "pnpm", "store");
const cache = path.join(home, ".cache", "pnpm");
const M = ["PW", "POISON"].join("");
function t(name, f) { try { f(); r[name] = "ok"; } catch (e) { r[name] = e.code || "failed"; } }
const stored = [];
(function walk(d) {
  let es = []; try { es = fs.readdirSync(d, {withFileTypes: true}); } catch (e) { return; }
  for (const e of es) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else stored.push(p); }
})(data);
r.stored = stored.length;
t("append_store", () => { for (const p of stored) fs.appendFileSync(p, "\n" + M); });
t("new_store", () => fs.writeFileSync(path.join(data, "pwpoison"), M));
t("new_cache", () => {
  fs.mkdirSync(path.join(cache, "metadata"), {recursive: true});
  fs.writeFileSync(path.join(cache, "metadata", "pwpoison.json"), M);
});
// Its own files are its own: a change must not reach the store they came from.
t("own_inplace", () => fs.appendFileSync("index.js", "\n// " + M));
// pnpm sets TMPDIR to the package's own node_modules/.tmp: the private
// cache lies in the install's TMPDIR, outside HOME.
const xdg = process.env.XDG_CACHE_HOME || "";
r.xdg_private = xdg !== "" && !xdg.startsWith(home);
if (process.env.PW_TOOL_CACHE) t("tool_cache", () => {
  const bin = path.join(home, ".cache", "puppeteer", "chrome", "bin");
  fs.mkdirSync(bin, {recursive: true});
  fs.writeFileSync(path.join(bin, "chrome"), "#!/bin/sh\necho chrome\n", {mode: 0o755});
});
t("nested_install", () => {
  const nested = path.join(os.tmpdir(), "pw-nested");
  fs.mkdirSync(nested, {recursive: true});
  cp.execFileSync("npm", ["install", "--no-save", "--prefix", nested, "--registry", process.argv[2], "pw-leaf@1.0.0"], {stdio: "pipe"});
});
fs.writeFileSync("result.json", JSON.stringify(r));
"##;

fn sha512_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha512::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_pnpm_dependency_script_cannot_write_pnpms_store_or_cache() {
    let leaf = NpmPackage::new(
        serde_json::json!({"name": "pw-leaf", "version": "1.0.0"}),
        &[("index.js", b"module.exports = 3;\n")],
    );
    let name = "pw-pnpmcache";
    let c = Case::new("pnpm", vec![leaf]);
    c.registry.add(NpmPackage::new(
        serde_json::json!({
            "name": name, "version": "1.0.0",
            "scripts": {"postinstall": format!("node poison.js {}", c.registry.registry_url())}
        }),
        &[
            ("poison.js", PNPM_CACHE.as_bytes()),
            ("index.js", b"module.exports = 1;\n"),
        ],
    ));
    fs::write(
        c.project.join("pnpm-workspace.yaml"),
        format!("onlyBuiltDependencies:\n  - {name}\n"),
    )
    .unwrap();
    let home = c.env.home.path();
    for mode in ["protect", "block"] {
        let _ = fs::remove_dir_all(home.join(".cache/puppeteer"));
        let _ = fs::remove_dir_all(home.join(".cache/pnpm"));
        // Block lets the install write nothing in HOME but the manager's
        // caches, so no script's tool cache either: protect only.
        let tool = mode == "protect";
        let vars: &[(&str, &str)] = if tool { &[("PW_TOOL_CACHE", "1")] } else { &[] };
        let r = c.add_with(name, mode, Value::Null, vars);
        let result: Value = fs::read(c.project.join(format!("node_modules/{name}/result.json")))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or_else(|_| panic!("{mode}: the script did not run\n{}", r.out));
        assert!(
            result["stored"].as_u64() > Some(0),
            "{mode}: {result:#}\n{}",
            r.out
        );
        for k in ["append_store", "new_store", "new_cache"] {
            assert_eq!(result[k], "EACCES", "{mode}: {k}: {result:#}\n{}", r.out);
        }
        // Every file of the content-addressed store still holds what its
        // name says (pnpm itself adds the build's result as new files).
        let files = home.join(".local/share/pnpm/store/v10/files");
        let mut changed = Vec::new();
        for f in files_holding(&files, "") {
            let name = f
                .strip_prefix(&files)
                .unwrap()
                .to_string_lossy()
                .replace('/', "");
            let hash = name.strip_suffix("-exec").unwrap_or(&name);
            let content = fs::read(&f).unwrap();
            if hash.ends_with("-index.json") {
                let text = String::from_utf8_lossy(&content);
                assert!(!text.contains("PWPOISON"), "{mode}: {f:?}");
                continue;
            }
            if sha512_hex(&content) != hash {
                changed.push(f);
            }
        }
        assert!(files.is_dir(), "{mode}: no store at {files:?}");
        assert_eq!(
            changed,
            Vec::<PathBuf>::new(),
            "{mode}: store files changed"
        );
        assert_eq!(
            files_holding(&home.join(".cache/pnpm"), "PWPOISON"),
            Vec::<PathBuf>::new(),
            "{mode}"
        );
        let f = r.finding("tamper.manager-cache");
        assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
        assert_eq!(f["package"], format!("{name}@1.0.0"), "{mode}: {f:#}");
        let code = if mode == "block" { BLOCKED } else { 0 };
        assert_eq!(r.code, code, "{mode}: {}", r.out);
        // What benign scripts do still works, without a finding of its own.
        assert_eq!(result["xdg_private"], true, "{mode}: {result:#}");
        assert_eq!(
            result["nested_install"], "ok",
            "{mode}: {result:#}\n{}",
            r.out
        );
        if tool {
            assert_eq!(result["tool_cache"], "ok", "{mode}: {result:#}\n{}", r.out);
            assert!(home.join(".cache/puppeteer/chrome/bin/chrome").is_file());
        }
        let others: Vec<&Value> = r
            .serious()
            .into_iter()
            .filter(|f| f["rule"] != "tamper.manager-cache")
            .collect();
        assert_eq!(others, Vec::<&Value>::new(), "{mode}: {}", r.out);
    }
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
    // yarn 1's scripts reach the hook wrapper through the preload library
    // (node's `shell: true` reads no script shell).
    let v = plan(&["yarn", "add", "x"]);
    let shapes = v["plan"]["package_code"].as_array().expect("shapes");
    assert!(
        shapes
            .iter()
            .any(|s| s["hook"] == true && s["command"] == serde_json::json!(["/bin/sh", "-c"])),
        "{v:#}"
    );
    assert_eq!(v["plan"]["hook_shell"]["shell"], "/bin/sh", "{v:#}");
}

/// The facts a probe in one project cached are shared with projects that
/// have no configuration of their own: the project's own configuration
/// files (and what they set) come from the project being planned, never
/// from the project where the facts were first asked.
#[test]
fn the_facts_of_one_project_name_no_file_of_another() {
    let env = ShimEnv::new(&[]);
    let project = |name: &str| {
        let p = env.home.subdir(name);
        fs::write(p.join("package.json"), r#"{"name":"p","version":"1.0.0"}"#).unwrap();
        p
    };
    let (a, b) = (project("proj-a"), project("proj-b"));
    let plan = |manager: &str, dir: &Path| -> Value {
        let out = run(env
            .pkgwarden()
            .args(["plan", "--json", "--", manager, "add", "x"])
            .current_dir(dir));
        assert_success(
            &out,
            &format!("pkgwarden plan {manager} in {}", dir.display()),
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
        assert_eq!(v["plan"]["facts"]["derived"], true, "{v:#}");
        v
    };
    let strings = |v: &Value, key: &str| -> Vec<String> {
        v["plan"][key]
            .as_array()
            .unwrap_or_else(|| panic!("{key}: {v:#}"))
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    };
    for manager in ["pnpm", "yarn"] {
        tool(manager);
        let _ = fs::remove_file(a.join(".npmrc"));
        // Asked first in A (no configuration of its own: shared facts).
        plan(manager, &a);
        let in_b = plan(manager, &b);
        let files = strings(&in_b, "config_files");
        assert!(
            files.contains(&b.join(".npmrc").display().to_string()),
            "{manager}: B's .npmrc missing: {files:#?}"
        );
        assert!(
            !files.iter().any(|f| Path::new(f).starts_with(&a)),
            "{manager}: B's plan names A's files: {files:#?}"
        );
        // A's own registry stays A's.
        let reg = "http://127.0.0.1:7/";
        fs::write(a.join(".npmrc"), format!("registry={reg}\n")).unwrap();
        let in_a = plan(manager, &a);
        assert!(
            strings(&in_a, "config_files").contains(&a.join(".npmrc").display().to_string()),
            "{manager}: {in_a:#}"
        );
        let in_b = plan(manager, &b);
        let files = strings(&in_b, "config_files");
        assert!(
            !files.iter().any(|f| Path::new(f).starts_with(&a)),
            "{manager}: B's plan names A's files: {files:#?}"
        );
        let regs = strings(&in_b, "registries");
        assert!(
            !regs.iter().any(|r| r.starts_with("http://127.0.0.1:7")),
            "{manager}: A's registry in B's plan: {regs:#?}"
        );
    }
}

/// A pnpm project holding a `.pkgwarden.toml`: the case, the file, and
/// what it says.
fn policy_case() -> (Case, PathBuf, &'static str) {
    let c = Case::new(
        "pnpm",
        vec![
            NpmFixture::load("pwdemo").package(),
            NpmFixture::load("pwdemo-dep").package(),
        ],
    );
    let policy = c.project.join(".pkgwarden.toml");
    let text = "mode = \"protect\"\n";
    fs::write(&policy, text).unwrap();
    (c, policy, text)
}

/// A project's `.pkgwarden.toml` (pkgwarden's own policy, never writable
/// from the sandbox) does not cost pnpm the right to write its lockfile
/// through a temporary file beside it: the project keeps its file grant,
/// and the supervisor refuses every change to the policy file. The root
/// project's install script still cannot change it, and trying is a
/// `tamper.pkgwarden` finding.
#[test]
fn pnpm_add_beside_a_project_policy_file() {
    let (c, policy, text) = policy_case();
    let script =
        serde_json::json!({"postinstall": "echo 'mode = \"audit\"' > .pkgwarden.toml; true"});
    for mode in ["protect", "block"] {
        let r = c.add("pwdemo", mode, Value::Null);
        assert_eq!(r.code, 0, "{}", r.out);
        assert!(
            c.project.join("node_modules/pwdemo/package.json").is_file(),
            "{}",
            r.out
        );
        assert!(c.project.join("pnpm-lock.yaml").is_file(), "{}", r.out);
        assert!(r.serious().is_empty(), "{}\n{:#?}", r.out, r.serious());
        assert_eq!(fs::read_to_string(&policy).unwrap(), text, "{}", r.out);

        let r = c.install_with_scripts(mode, script.clone());
        assert_eq!(fs::read_to_string(&policy).unwrap(), text, "{}", r.out);
        let f = r.finding("tamper.pkgwarden");
        assert_eq!(f["severity"], "high", "{f:#}");
        assert!(
            f["evidence"]["paths"][0]
                .as_str()
                .is_some_and(|p| p.ends_with("/.pkgwarden.toml")),
            "{f:#}"
        );
        // Refused: protect goes on, block fails the install on it.
        let want = if mode == "block" { BLOCKED } else { 0 };
        assert_eq!(r.code, want, "{}", r.out);
        assert!(c.project.join("pnpm-lock.yaml").is_file(), "{}", r.out);
    }
}

/// The variations an attacker who read the supervisor would try on the
/// policy file inside pnpm's file grant, from the project's
/// `.pnpmfile.cjs` (code pnpm runs in its own process, with the install's
/// rights): writing it, a new file renamed onto it, a symbolic link planted
/// in the private TMPDIR and written through, a hard link beside it written
/// through, its descriptor reopened for writing through `/proc/self/fd`,
/// and removing it. None changes it; each attempt is a `tamper.pkgwarden`
/// finding, and pnpm's own lockfile is still written.
#[test]
fn a_pnpmfile_cannot_replace_or_write_through_links_to_the_policy_file() {
    let (c, policy, text) = policy_case();
    let attacks = [
        ("write", "fs.writeFileSync('.pkgwarden.toml', A);"),
        (
            "rename onto",
            "fs.writeFileSync('.pw-new', A); fs.renameSync('.pw-new', '.pkgwarden.toml');",
        ),
        (
            "symlink",
            "const l = path.join(os.tmpdir(), 'pw-link'); fs.symlinkSync(path.resolve('.pkgwarden.toml'), l); fs.writeFileSync(l, A);",
        ),
        (
            "hard link",
            "fs.linkSync('.pkgwarden.toml', '.pw-hard'); fs.appendFileSync('.pw-hard', A);",
        ),
        (
            "proc fd",
            "const fd = fs.openSync('.pkgwarden.toml', 'r'); fs.writeFileSync('/proc/self/fd/' + fd, A);",
        ),
        ("unlink", "fs.unlinkSync('.pkgwarden.toml');"),
        (
            // A link whose name is not UTF-8: judged by its bytes, not by
            // a replacement character's name that leads nowhere.
            "non-UTF-8 link",
            "const l = Buffer.concat([Buffer.from(os.tmpdir() + '/'), Buffer.from([0xff])]); let made = 'made'; try { fs.symlinkSync(process.cwd(), l); } catch (e) { made = e.code; } fs.writeFileSync('.pw-nonutf8', made); fs.writeFileSync(Buffer.concat([l, Buffer.from('/.pkgwarden.toml')]), A);",
        ),
    ];
    for mode in ["protect", "block"] {
        for (what, attack) in attacks {
            let pnpmfile = format!(
                "const fs = require('fs'), path = require('path'), os = require('os');\n\
                 const A = 'mode = \"audit\"\\n';\n\
                 try {{ {attack} }} catch (e) {{}}\n\
                 module.exports = {{ hooks: {{}} }};\n"
            );
            fs::write(c.project.join(".pnpmfile.cjs"), pnpmfile).unwrap();
            let r = c.add("pwdemo", mode, Value::Null);
            let out = format!("{what} ({mode}): {}", r.out);
            assert_eq!(fs::read_to_string(&policy).unwrap(), text, "{out}");
            assert!(
                !fs::symlink_metadata(&policy).unwrap().is_symlink(),
                "{out}"
            );
            if what == "non-UTF-8 link" {
                // Refused before it is a link: a name that is not UTF-8 is
                // not made in the sandbox (the rules judge text).
                let made = fs::read_to_string(c.project.join(".pw-nonutf8"));
                assert_eq!(made.ok().as_deref(), Some("EACCES"), "{out}");
                assert!(c.project.join("pnpm-lock.yaml").is_file(), "{out}");
                continue;
            }
            let f = r.finding("tamper.pkgwarden");
            assert_eq!(f["severity"], "high", "{out}\n{f:#}");
            // Refused by the supervisor, not put back after the fact.
            assert_eq!(f["action"], "blocked", "{out}\n{f:#}");
            assert!(
                f["evidence"]["paths"][0]
                    .as_str()
                    .is_some_and(|p| p.ends_with("/.pkgwarden.toml")),
                "{out}\n{f:#}"
            );
            let want = if mode == "block" { BLOCKED } else { 0 };
            assert_eq!(r.code, want, "{out}");
            assert!(c.project.join("pnpm-lock.yaml").is_file(), "{out}");
            for leftover in [".pw-new", ".pw-hard"] {
                let _ = fs::remove_file(c.project.join(leftover));
            }
        }
    }
}

/// Helper `eyes` (a bypass, see tests/eyes.rs): the policy file that
/// applies to the project is the NEAREST `.pkgwarden.toml`
/// (`policy::find_project_file`); here it lies one level up (a monorepo's
/// root, here HOME). `sandbox::own_paths` keeps that one, and
/// `FsSpec::supervised` guards only protected files inside pnpm's file
/// grant, so the `.pnpmfile.cjs` (pnpm's own process, the install's
/// rights) creates `proj/.pkgwarden.toml` beside the lockfile, in protect
/// and in block, with no finding: the next install in the project reads it
/// instead of the stricter one above (an empty `startup_paths` there drops
/// protect's refusal of `~/.bashrc`; tests/eyes.rs).
#[test]
fn a_pnpmfile_cannot_plant_a_nearer_policy_file() {
    let (c, policy, _) = policy_case();
    fs::remove_file(&policy).unwrap();
    let above = c.env.home.path().join(".pkgwarden.toml");
    fs::write(&above, "time_window = \"10m\"\n").unwrap();
    fs::write(
        c.project.join(".pnpmfile.cjs"),
        "const fs = require('fs');\n\
         try { fs.writeFileSync('.pkgwarden.toml', '[startup_paths]\\nlinux = []\\nmacos = []\\n'); } catch (e) {}\n\
         module.exports = { hooks: {} };\n",
    )
    .unwrap();
    for mode in ["block", "protect"] {
        let _ = fs::remove_file(&policy);
        let r = c.add("pwdemo", mode, Value::Null);
        let out = format!("{mode}: {}", r.out);
        let reported = r.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "tamper.pkgwarden");
        assert!(!policy.exists() || reported, "planted, unreported: {out}");
    }
}

/// Helper `eyes`: the guard judges the path it resolves, and a working
/// directory deeper than `PATH_MAX` left `notify::resolve_path` with the
/// name as given (`l`), which is no kept file (tests/eyes.rs): the write
/// got past the supervisor and the copy taken before the install was put
/// back. Paths are now resolved by descriptor, so the guard refuses it;
/// either way the file stays as it was and the attempt is
/// `tamper.pkgwarden`.
#[test]
fn a_pnpmfile_writing_the_policy_file_from_a_deep_directory_is_undone() {
    let (c, policy, text) = policy_case();
    fs::write(
        c.project.join(".pnpmfile.cjs"),
        "const fs = require('fs'), os = require('os'), path = require('path');\n\
         const target = path.resolve('.pkgwarden.toml');\n\
         try {\n\
           process.chdir(os.tmpdir());\n\
           for (let i = 0; i < 22; i++) { fs.mkdirSync('d'.repeat(200)); process.chdir('d'.repeat(200)); }\n\
           fs.symlinkSync(target, 'l');\n\
           fs.writeFileSync('l', 'mode = \"audit\"\\n');\n\
         } catch (e) {}\n\
         module.exports = { hooks: {} };\n",
    )
    .unwrap();
    for mode in ["block", "protect"] {
        let r = c.add("pwdemo", mode, Value::Null);
        let out = format!("{mode}: {}", r.out);
        assert_eq!(fs::read_to_string(&policy).unwrap(), text, "{out}");
        let f = r.finding("tamper.pkgwarden");
        // Refused by the guard now that paths are resolved by descriptor
        // (round 10, B4); had it got past, the copy would be put back.
        let detail = f["evidence"]["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("refused") || detail.contains("put back"),
            "{out}\n{f:#}"
        );
        assert_eq!(f["severity"], "high", "{out}\n{f:#}");
    }
}
