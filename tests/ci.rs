//! The CI recipes as files (issue 14): the GitHub composite actions' `run:`
//! steps and the GitLab template's scripts, executed outside GitHub and
//! GitLab by a harness that plays the runner (fake `$GITHUB_PATH`,
//! `$GITHUB_ENV`, `$GITHUB_STEP_SUMMARY`; `before_script` and `script` in one
//! shell, `after_script` in another) over benign and malicious installs from
//! a loopback npm registry.

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::*;

const BLOCKED: i32 = 90;
const NOT_MONITORED: i32 = 91;

// ---------------------------------------------------------------------------
// A small reader of the YAML the recipes use (no YAML crate is a dependency):
// block maps by indentation, `- ` list items, `|` block scalars, plain and
// quoted scalars. Anything else in a recipe fails a test here.
// ---------------------------------------------------------------------------

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        return v[1..v.len() - 1].replace("''", "'");
    }
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        return v[1..v.len() - 1].replace("\\\"", "\"");
    }
    v.to_string()
}

/// Lines without comments and blank lines, keeping those inside block scalars.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The lines under the key `path` (a chain of keys, each nested in the
/// previous), with the key's own indentation.
fn section(lines: &[String], path: &[&str]) -> (Vec<String>, usize) {
    let mut scope: Vec<String> = lines.to_vec();
    let mut at = 0;
    for key in path {
        let start = scope
            .iter()
            .position(|l| {
                l.trim_start()
                    .strip_prefix(key)
                    .is_some_and(|r| r.starts_with(':'))
                    && indent(l) >= at
            })
            .unwrap_or_else(|| panic!("no key {key} in {scope:#?}"));
        let own = indent(&scope[start]);
        let inner: Vec<String> = scope[start + 1..]
            .iter()
            .take_while(|l| indent(l) > own)
            .cloned()
            .collect();
        at = own + 1;
        scope = inner;
    }
    (scope, at)
}

/// The items of a list of strings (`- plain`, `- 'quoted'`, `- |` blocks).
fn string_list(items: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let l = &items[i];
        let col = indent(l);
        let v = l.trim_start().strip_prefix("- ").expect("a list item");
        i += 1;
        if v.trim() == "|" {
            let mut block = String::new();
            while i < items.len() && indent(&items[i]) > col {
                let body = indent(&items[i]).min(col + 2);
                block.push_str(&items[i][body..]);
                block.push('\n');
                i += 1;
            }
            out.push(block);
        } else {
            out.push(unquote(v));
        }
    }
    out
}

/// One step of a composite action.
struct Step {
    env: Vec<(String, String)>,
    run: String,
}

/// The inputs of an action with their defaults, overridden by `given`.
fn action_inputs(text: &[String], given: &[(&str, &str)]) -> Vec<(String, String)> {
    let (inputs, _) = section(text, &["inputs"]);
    let names: Vec<(String, usize)> = inputs
        .iter()
        .enumerate()
        .filter(|(_, l)| indent(l) == indent(&inputs[0]))
        .map(|(i, l)| (l.trim().trim_end_matches(':').to_string(), i))
        .collect();
    names
        .iter()
        .map(|(name, i)| {
            let default = inputs[i + 1..]
                .iter()
                .take_while(|l| indent(l) > indent(&inputs[*i]))
                .find_map(|l| l.trim().strip_prefix("default:").map(unquote))
                .unwrap_or_default();
            let value = given
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.to_string())
                .unwrap_or(default);
            (name.clone(), value)
        })
        .collect()
}

/// `${{ inputs.NAME }}` filled in; any other expression fails the test.
fn fill(v: &str, inputs: &[(String, String)]) -> String {
    let mut out = v.to_string();
    for (k, val) in inputs {
        out = out.replace(&format!("${{{{ inputs.{k} }}}}"), val);
    }
    assert!(
        !out.contains("${{"),
        "an expression the harness cannot fill: {v}"
    );
    out
}

/// The steps of the composite action at `file`, with `given` inputs.
fn action_steps(file: &Path, given: &[(&str, &str)]) -> Vec<Step> {
    let text = lines(&fs::read_to_string(file).expect("action.yml"));
    assert!(
        text.iter().any(|l| l.trim() == "using: composite"),
        "not a composite action"
    );
    let inputs = action_inputs(&text, given);
    let (steps, _) = section(&text, &["runs", "steps"]);
    let item = indent(&steps[0]);
    let mut out: Vec<Step> = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        assert!(steps[i].trim_start().starts_with("- "), "{}", steps[i]);
        let mut body = vec![format!(
            "{}{}",
            " ".repeat(item + 2),
            &steps[i].trim_start()[2..]
        )];
        i += 1;
        while i < steps.len() && indent(&steps[i]) > item {
            body.push(steps[i].clone());
            i += 1;
        }
        let shell = body.iter().find_map(|l| l.trim().strip_prefix("shell:"));
        assert_eq!(shell.map(str::trim), Some("bash"), "{body:#?}");
        let env = if body.iter().any(|l| l.trim() == "env:") {
            let (vars, _) = section(&body, &["env"]);
            vars.iter()
                .map(|l| {
                    let (k, v) = l.trim().split_once(':').expect("KEY: value");
                    (k.to_string(), fill(&unquote(v), &inputs))
                })
                .collect()
        } else {
            Vec::new()
        };
        let (run, _) = section(&body, &["run"]);
        let col = indent(&run[0]);
        let script: String = run.iter().map(|l| format!("{}\n", &l[col..])).collect();
        out.push(Step {
            env,
            run: fill(&script, &inputs),
        });
    }
    out
}

// ---------------------------------------------------------------------------
// The runners
// ---------------------------------------------------------------------------

/// A job: its HOME, the runner's own directories, and the environment the
/// steps so far left for the next ones.
struct Job {
    home: TestHome,
    tmp: PathBuf,
    /// `$GITHUB_PATH` lines so far, oldest first.
    prepend: Vec<String>,
    /// `$GITHUB_ENV` settings so far.
    vars: Vec<(String, String)>,
    summary: PathBuf,
    steps: usize,
}

impl Job {
    fn new() -> Job {
        let home = TestHome::new();
        let tmp = home.subdir("runner-temp");
        let summary = tmp.join("step-summary.md");
        Job {
            home,
            tmp,
            prepend: Vec::new(),
            vars: Vec::new(),
            summary,
            steps: 0,
        }
    }

    /// PATH as the runner builds it: the last `$GITHUB_PATH` line first.
    fn path(&self) -> String {
        let outer = std::env::var("PATH").unwrap_or_default();
        let mut parts: Vec<String> = self.prepend.iter().rev().cloned().collect();
        parts.push(outer);
        parts.join(":")
    }

    /// `bash` with the job's environment, as a runner starts a step.
    fn bash(&self, script: &str, cwd: &Path) -> std::process::Command {
        let file = self.tmp.join(format!("step-{}.sh", self.steps));
        fs::write(&file, script).unwrap();
        let mut cmd = self.home.command("bash");
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PKGWARDEN_") {
                cmd.env_remove(&k);
            }
        }
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&file)
            .current_dir(cwd)
            .env("PATH", self.path())
            .env("RUNNER_TEMP", &self.tmp)
            .env("NO_COLOR", "1")
            .envs(self.vars.iter().cloned());
        cmd
    }

    /// Runs one GitHub step; what it wrote to `$GITHUB_PATH` and
    /// `$GITHUB_ENV` applies to the steps after it.
    fn github_step(
        &mut self,
        run: &str,
        env: &[(String, String)],
        action: Option<&Path>,
    ) -> Output {
        self.steps += 1;
        let gp = self.tmp.join(format!("path-{}", self.steps));
        let ge = self.tmp.join(format!("env-{}", self.steps));
        fs::write(&gp, "").unwrap();
        fs::write(&ge, "").unwrap();
        let cwd = self.home.subdir("proj");
        let mut cmd = self.bash(run, &cwd);
        cmd.env("GITHUB_PATH", &gp)
            .env("GITHUB_ENV", &ge)
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .envs(env.iter().cloned());
        if let Some(dir) = action {
            cmd.env("GITHUB_ACTION_PATH", dir);
        }
        let out = run_cmd(&mut cmd);
        for line in fs::read_to_string(&gp).unwrap().lines() {
            self.prepend.retain(|p| p != line);
            self.prepend.push(line.to_string());
        }
        for line in fs::read_to_string(&ge).unwrap().lines() {
            let (k, v) = line.split_once('=').expect("KEY=VALUE");
            self.vars.retain(|(n, _)| n != k);
            self.vars.push((k.to_string(), v.to_string()));
        }
        out
    }

    /// Every step of the action at `dir`; the last one's output.
    fn uses(&mut self, dir: &Path, inputs: &[(&str, &str)]) -> Output {
        let steps = action_steps(&dir.join("action.yml"), inputs);
        assert!(!steps.is_empty());
        let mut last = None;
        for s in steps {
            last = Some(self.github_step(&s.run, &s.env, Some(dir)));
        }
        last.unwrap()
    }
}

fn run_cmd(cmd: &mut std::process::Command) -> Output {
    support::run(cmd)
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn says(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout_str(out),
        stderr_str(out)
    )
}

/// A registry with the benign `pwdemo` and `pw-rc-append`, whose
/// postinstall appends to `~/.bashrc` (inert: inside the test HOME).
fn registry() -> NpmRegistry {
    let incident =
        fs::read(crate_root().join("tests/fixtures/incidents/rc-append.js")).expect("fixture");
    let bad = NpmPackage::new(
        serde_json::json!({
            "name": "pw-rc-append", "version": "1.0.0",
            "scripts": {"postinstall": "node incident.js"}
        }),
        &[
            ("incident.js", &incident),
            ("index.js", b"module.exports = 1;\n"),
        ],
    );
    let r = NpmRegistry::start_with(vec![bad]);
    r.add_fixture("pwdemo");
    r.add_fixture("pwdemo-dep");
    r
}

/// The user's install step: `npm install NAME` in a fresh project.
fn npm_step(registry: &NpmRegistry, name: &str) -> String {
    format!(
        "printf '%s' '{{\"name\":\"proj\",\"version\":\"1.0.0\"}}' > package.json\nrm -rf node_modules package-lock.json\nnpm install --registry {} {name}\n",
        registry.registry_url()
    )
}

fn schema_errors(sarif: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_slice(
        &fs::read(crate_root().join("tests/data/sarif-schema-2.1.0.json")).expect("schema"),
    )
    .expect("schema json");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles");
    validator
        .iter_errors(sarif)
        .map(|e| e.to_string())
        .collect()
}

fn read_sarif(path: &Path) -> Value {
    let sarif: Value = serde_json::from_slice(&fs::read(path).expect("sarif written")).unwrap();
    let errors = schema_errors(&sarif);
    assert!(errors.is_empty(), "{errors:#?}");
    sarif
}

fn results(sarif: &Value) -> Vec<&Value> {
    sarif["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["results"].as_array().unwrap().iter())
        .collect()
}

/// A directory holding a stand-in `pip` (what setup-python would add).
fn other_pip(job: &Job) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = job.home.subdir("hostedtoolcache/python/bin");
    let pip = dir.join("pip");
    fs::write(&pip, "#!/bin/sh\necho stand-in pip\n").unwrap();
    fs::set_permissions(&pip, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn github_dir() -> PathBuf {
    crate_root().join("ci/github")
}

fn binary_input() -> String {
    pkgwarden_bin().display().to_string()
}

// ---------------------------------------------------------------------------
// GitHub Actions
// ---------------------------------------------------------------------------

#[test]
fn github_action_benign_install_passes_with_a_summary_and_an_empty_sarif() {
    let registry = registry();
    let mut job = Job::new();
    // The top-level action.yml, as `uses: OWNER/pkgwarden@REF` runs it.
    let bin = binary_input();
    let out = job.uses(&crate_root(), &[("binary", &bin)]);
    assert_eq!(code(&out), 0, "setup: {}", says(&out));
    assert!(
        job.vars
            .iter()
            .any(|(k, v)| k == "PKGWARDEN_MODE" && v == "block"),
        "{:?}",
        job.vars
    );
    let install = job.github_step(&npm_step(&registry, "pwdemo"), &[], None);
    assert_eq!(code(&install), 0, "install: {}", says(&install));
    assert!(
        stderr_str(&install).contains(SANDBOXED),
        "not monitored: {}",
        says(&install)
    );
    let sarif = job.tmp.join("out.sarif");
    let s = sarif.display().to_string();
    let out = job.uses(&github_dir().join("check"), &[("sarif", &s)]);
    assert_eq!(code(&out), 0, "check: {}", says(&out));
    let summary = fs::read_to_string(&job.summary).expect("summary written");
    assert!(summary.contains("## pkgwarden: 1 install, "), "{summary}");
    assert!(summary.contains("| Install | Mode | Status |"), "{summary}");
    assert!(summary.contains("pwdemo"), "{summary}");
    assert!(summary.contains("0 blocked"), "{summary}");
    let sarif = read_sarif(&sarif);
    assert_eq!(sarif["runs"].as_array().unwrap().len(), 1);
    assert!(
        results(&sarif).iter().all(|r| r["level"] != "error"),
        "{sarif:#}"
    );
}

#[test]
fn github_action_fails_a_malicious_install_with_the_block_code() {
    let registry = registry();
    let mut job = Job::new();
    let bashrc = job.home.path().join(".bashrc");
    fs::write(&bashrc, "# rc\n").unwrap();
    let bin = binary_input();
    let out = job.uses(&github_dir(), &[("binary", &bin)]);
    assert_eq!(code(&out), 0, "setup: {}", says(&out));
    let install = job.github_step(&npm_step(&registry, "pw-rc-append"), &[], None);
    assert_eq!(code(&install), BLOCKED, "install: {}", says(&install));
    assert_eq!(fs::read_to_string(&bashrc).unwrap(), "# rc\n");
    // The post step runs after a failed step (`if: always()`).
    let sarif = job.tmp.join("out.sarif");
    let s = sarif.display().to_string();
    let out = job.uses(&github_dir().join("check"), &[("sarif", &s)]);
    assert_eq!(code(&out), BLOCKED, "check: {}", says(&out));
    assert!(
        stdout_str(&out).contains("blocked: npm install"),
        "{}",
        says(&out)
    );
    let summary = fs::read_to_string(&job.summary).expect("summary written");
    assert!(summary.contains("1 blocked"), "{summary}");
    assert!(summary.contains("🟥 blocked (exit 90)"), "{summary}");
    assert!(summary.contains("persist.shell-rc"), "{summary}");
    let sarif = read_sarif(&sarif);
    let found = results(&sarif);
    assert!(
        found.iter().any(|r| r["ruleId"] == "persist.shell-rc"),
        "{sarif:#}"
    );
}

#[test]
fn github_check_fails_when_a_later_step_puts_another_pip_first() {
    let mut job = Job::new();
    let bin = binary_input();
    let out = job.uses(&github_dir(), &[("binary", &bin), ("mode", "audit")]);
    assert_eq!(code(&out), 0, "setup: {}", says(&out));
    // Right after the setup every monitored name is a shim.
    let out = job.uses(&github_dir().join("check"), &[]);
    assert_eq!(code(&out), 0, "check before: {}", says(&out));
    // What setup-python does after it.
    let dir = other_pip(&job);
    let add = format!("echo '{}' >> \"$GITHUB_PATH\"\n", dir.display());
    let out = job.github_step(&add, &[], None);
    assert_eq!(code(&out), 0);
    let out = job.uses(&github_dir().join("check"), &[]);
    assert_eq!(code(&out), NOT_MONITORED, "check after: {}", says(&out));
    let err = stderr_str(&out);
    assert!(
        err.contains(&format!("pip resolves to {}", dir.join("pip").display())),
        "{err}"
    );
    assert!(err.contains("fix: run the pkgwarden setup step"), "{err}");
    let summary = fs::read_to_string(&job.summary).unwrap();
    assert!(summary.contains("**Not monitored:**"), "{summary}");
}

// ---------------------------------------------------------------------------
// GitLab CI
// ---------------------------------------------------------------------------

/// The template's `before_script`, `after_script` and the check's `script`.
struct GitlabTemplate {
    before: Vec<String>,
    after: Vec<String>,
    check: Vec<String>,
}

fn gitlab_template() -> GitlabTemplate {
    let text =
        lines(&fs::read_to_string(crate_root().join("ci/gitlab/pkgwarden.yml")).expect("template"));
    let list = |path: &[&str]| string_list(&section(&text, path).0);
    GitlabTemplate {
        before: list(&[".pkgwarden", "before_script"]),
        after: list(&[".pkgwarden", "after_script"]),
        check: list(&[".pkgwarden-check", "script"]),
    }
}

/// One GitLab job: `before_script` and `script` (ending with the template's
/// check) in one shell, then `after_script` in a new one, as the runner
/// does. Returns both outputs.
fn gitlab_job(job: &Job, script: &[String]) -> (Output, Output) {
    let t = gitlab_template();
    let project = job.home.subdir("proj");
    let vars = [
        ("CI_PROJECT_DIR", project.display().to_string()),
        ("PKGWARDEN_BINARY", binary_input()),
        ("PKGWARDEN_MODE", "block".to_string()),
    ];
    let main: String = t
        .before
        .iter()
        .chain(script)
        .chain(&t.check)
        .map(|s| format!("{s}\n"))
        .collect();
    let out = run_cmd(job.bash(&main, &project).envs(vars.clone()));
    let after: String = t.after.iter().map(|s| format!("{s}\n")).collect();
    let post = run_cmd(job.bash(&after, &project).envs(vars));
    (out, post)
}

#[test]
fn gitlab_template_benign_and_malicious_jobs() {
    let registry = registry();
    let job = Job::new();
    let project = job.home.subdir("proj");
    let (out, post) = gitlab_job(&job, &[npm_step(&registry, "pwdemo")]);
    assert_eq!(code(&out), 0, "script: {}", says(&out));
    assert_eq!(code(&post), 0, "after_script: {}", says(&post));
    let summary = fs::read_to_string(project.join("pkgwarden-summary.md")).unwrap();
    assert!(summary.contains("1 install, "), "{summary}");
    assert!(summary.contains("0 blocked"), "{summary}");
    read_sarif(&project.join("pkgwarden.sarif"));
    let cq: Value =
        serde_json::from_slice(&fs::read(project.join("gl-code-quality-report.json")).unwrap())
            .unwrap();
    assert!(cq.as_array().is_some(), "{cq:#}");

    // A new job (its own start): only its install is in its files. Reports
    // keep whole seconds: the next job starts in a later one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let bashrc = job.home.path().join(".bashrc");
    fs::write(&bashrc, "# rc\n").unwrap();
    let (out, post) = gitlab_job(&job, &[npm_step(&registry, "pw-rc-append")]);
    assert_eq!(code(&out), BLOCKED, "script: {}", says(&out));
    assert_eq!(fs::read_to_string(&bashrc).unwrap(), "# rc\n");
    assert_eq!(code(&post), BLOCKED, "after_script: {}", says(&post));
    let summary = fs::read_to_string(project.join("pkgwarden-summary.md")).unwrap();
    assert!(summary.contains("1 install, "), "{summary}");
    assert!(summary.contains("1 blocked"), "{summary}");
    let sarif = read_sarif(&project.join("pkgwarden.sarif"));
    assert!(
        results(&sarif)
            .iter()
            .any(|r| r["ruleId"] == "persist.shell-rc")
    );
    let cq: Value =
        serde_json::from_slice(&fs::read(project.join("gl-code-quality-report.json")).unwrap())
            .unwrap();
    let issues = cq.as_array().unwrap();
    assert!(
        issues
            .iter()
            .any(|i| i["check_name"] == "persist.shell-rc" && i["severity"] != "info"),
        "{cq:#}"
    );
    for i in issues {
        assert!(i["fingerprint"].as_str().is_some_and(|f| f.len() == 64));
        assert!(i["location"]["path"].as_str().is_some());
    }
}

#[test]
fn gitlab_template_check_fails_when_another_pip_is_put_first() {
    let job = Job::new();
    let dir = other_pip(&job);
    let (out, _) = gitlab_job(&job, &["true".to_string()]);
    assert_eq!(code(&out), 0, "script: {}", says(&out));
    let shadow = format!("export PATH='{}':\"$PATH\"", dir.display());
    let (out, _) = gitlab_job(&job, &[shadow]);
    assert_eq!(code(&out), NOT_MONITORED, "script: {}", says(&out));
    assert!(
        stderr_str(&out).contains("pip resolves to"),
        "{}",
        says(&out)
    );
}

#[test]
fn the_yaml_reader_reads_what_the_recipes_use() {
    // The harness must not pass by reading nothing.
    let steps = action_steps(&github_dir().join("action.yml"), &[("mode", "audit")]);
    assert_eq!(steps.len(), 1);
    assert!(steps[0].run.contains("setup.sh"));
    assert!(
        steps[0]
            .env
            .contains(&("PKGWARDEN_INPUT_MODE".into(), "audit".into()))
    );
    let t = gitlab_template();
    assert!(t.before[0].contains("ci env"), "{:?}", t.before);
    assert!(t.after[0].contains("ci check"), "{:?}", t.after);
    assert_eq!(t.check, vec!["\"$PKGWARDEN_BIN\" ci check".to_string()]);
}
