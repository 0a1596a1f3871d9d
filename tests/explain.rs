//! `pkgwarden explain` and learn mode (`pkgwarden policy suggest`), issue 14
//! parts 3 and 4, over real npm installs from a loopback registry: a benign
//! postinstall that asks a host outside the allowed set fails in block, is
//! observed in audit, and passes in block with the suggested policy, which
//! stays scoped to that package version; a malicious fixture's findings are
//! explained but never suggested.

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::Path;
use support::installs::{Installed, behind, npm_install, user_proxy};
use support::*;

const BLOCKED: i32 = 90;
const USAGE: i32 = 92;

fn incident(name: &str) -> Vec<u8> {
    let p = crate_root().join("tests/fixtures/incidents").join(name);
    fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// An npm package whose `postinstall` runs the incident `file`.
fn package(name: &str, file: &str) -> NpmPackage {
    NpmPackage::new(
        serde_json::json!({
            "name": name, "version": "1.0.0",
            "scripts": {"postinstall": "node incident.js"}
        }),
        &[
            ("incident.js", &incident(file)),
            ("index.js", b"module.exports = 1;\n"),
        ],
    )
}

/// `pkgwarden ARGS` in `env`, from `cwd`.
fn pw(env: &ShimEnv, cwd: &Path, args: &[&str]) -> std::process::Output {
    run(env.pkgwarden().args(args).current_dir(cwd))
}

fn text(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout_str(out),
        stderr_str(out)
    )
}

fn with_policy(vars: &[(&'static str, String)], file: &Path) -> Vec<(&'static str, String)> {
    let mut v = vars.to_vec();
    v.push(("PKGWARDEN_POLICY", file.display().to_string()));
    v
}

fn unexpected(r: &Installed) -> &Value {
    r.finding("net.unexpected-host")
}

#[test]
fn audit_then_suggest_makes_the_same_install_pass_in_block_and_only_it() {
    let (proxy, seen) = user_proxy();
    let vars = behind(&proxy);
    let registry = NpmRegistry::start_with(vec![
        package("pw-fetch-unexpected", "fetch-unexpected.js"),
        package("pw-fetch-twin", "fetch-unexpected.js"),
    ]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    let name = "pw-fetch-unexpected";

    // 1. Block: the host is outside the allowed set, the install fails.
    let r = npm_install(&env, "block", &registry, &project, name, &vars);
    assert_eq!(r.code, BLOCKED, "{}", r.stderr);
    assert_eq!(unexpected(&r)["action"], "blocked");
    // The summary of a blocked install points at explain.
    let blocked_id = r.report["id"].as_str().unwrap();
    assert!(
        r.stderr
            .contains(&format!("`pkgwarden explain {}`", &blocked_id[..8])),
        "{}",
        r.stderr
    );

    // 2. Audit: the same install, observed.
    let r = npm_install(&env, "audit", &registry, &project, name, &vars);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.report["id"].as_str().unwrap().to_string();
    let f = unexpected(&r);
    assert_eq!(f["package"], "pw-fetch-unexpected@1.0.0", "{f:#}");
    assert_eq!(f["hook"], "postinstall", "{f:#}");

    // `explain last` names rule, evidence, process, package, hook and the
    // snippet scoped to them.
    let out = pw(&env, &project, &["explain", "last"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ex = stdout_str(&out);
    println!("{ex}");
    for want in [
        "rule:     net.unexpected-host",
        "evidence: endpoint unexpected-host.example:80",
        &format!("process:  pid {}", f["pid"]),
        "package:  pw-fetch-unexpected@1.0.0 · hook: postinstall",
        "policy:   endpoints.allow",
        "[[allow]]",
        "package = \"pw-fetch-unexpected@1.0.0\"",
        "hook = \"postinstall\"",
        "rules = [\"net.unexpected-host\"]",
        "endpoints = [\"unexpected-host.example:80\"]",
        &format!("# from report {id}"),
    ] {
        assert!(ex.contains(want), "missing {want:?} in\n{ex}");
    }
    // One finding, by rule id; a finding it does not have is a short error.
    let out = pw(
        &env,
        &project,
        &["explain", &id[..8], "net.unexpected-host"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = pw(&env, &project, &["explain", "last", "99"]);
    assert_eq!(out.status.code(), Some(USAGE), "{}", text(&out));
    assert!(
        stderr_str(&out).contains("hint: give a number from 1 to"),
        "{}",
        text(&out)
    );

    // 3. Suggest from the audit run: a policy file that checks.
    let out = pw(&env, &project, &["policy", "suggest", "--last", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let suggested = stdout_str(&out);
    println!("{suggested}");
    assert!(
        suggested.contains(&format!("# from report {id}")),
        "{suggested}"
    );
    assert!(
        suggested.contains("endpoints = [\"unexpected-host.example:80\"]"),
        "{suggested}"
    );
    let file = env.home.path().join("suggested.toml");
    fs::write(&file, &suggested).unwrap();
    let out = pw(&env, &project, &["policy", "check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // 4. Block with the suggestion: the same install passes, the request
    // went out, and the finding is reported as accepted.
    let asked = seen.lock().unwrap().len();
    let r = npm_install(
        &env,
        "block",
        &registry,
        &project,
        name,
        &with_policy(&vars, &file),
    );
    assert_eq!(r.code, 0, "{}\n{:#}", r.stderr, r.report["findings"]);
    assert!(
        r.stdout.contains("fetch-unexpected got 200"),
        "{}",
        r.stdout
    );
    assert!(
        seen.lock().unwrap().len() > asked,
        "the request did not go out"
    );
    assert!(
        r.stderr
            .contains("accepted (allow pw-fetch-unexpected@1.0.0"),
        "{}",
        r.stderr
    );
    assert!(
        unexpected(&r)["allowed_by"].is_string(),
        "{:#}",
        unexpected(&r)
    );

    // 5. The allowance is scoped: another package asking the same host
    // still fails block mode.
    let r = npm_install(
        &env,
        "block",
        &registry,
        &project,
        "pw-fetch-twin",
        &with_policy(&vars, &file),
    );
    assert_eq!(r.code, BLOCKED, "{}", r.stderr);
    assert!(
        unexpected(&r)["allowed_by"].is_null(),
        "{:#}",
        unexpected(&r)
    );

    // And to the hook: the same entry for another hook accepts nothing.
    let other_hook = suggested.replace("hook = \"postinstall\"", "hook = \"preinstall\"");
    let hooked = env.home.path().join("other-hook.toml");
    fs::write(&hooked, other_hook).unwrap();
    let r = npm_install(
        &env,
        "block",
        &registry,
        &project,
        name,
        &with_policy(&vars, &hooked),
    );
    assert_eq!(r.code, BLOCKED, "{}", r.stderr);

    // 6. `--project --write`: the host entry goes into the project's
    // .pkgwarden.toml (a project may hold it), which block mode honours.
    let out = pw(
        &env,
        &project,
        &["policy", "suggest", "--from", &id, "--project", "--write"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = fs::read_to_string(project.join(".pkgwarden.toml")).unwrap();
    assert!(
        written.contains(&format!("# from report {id}")),
        "{written}"
    );
    let r = npm_install(&env, "block", &registry, &project, name, &vars);
    assert_eq!(r.code, 0, "{}\n{:#}", r.stderr, r.report["findings"]);
    assert!(
        unexpected(&r)["allowed_by"].is_string(),
        "{:#}",
        unexpected(&r)
    );
}

#[test]
fn malicious_findings_are_explained_but_never_suggested() {
    let registry = NpmRegistry::start_with(vec![
        package("pw-rc-append", "rc-append.js"),
        package("pw-cred-exfil", "cred-exfil.js"),
    ]);
    let env = ShimEnv::new(&[]);
    fs::write(env.home.path().join(".bashrc"), "# rc\n").unwrap();
    fs::write(
        env.home.path().join(".npmrc"),
        "//127.0.0.1/:_authToken=not-a-real-token\n",
    )
    .unwrap();
    let project = env.home.subdir("proj");
    let vars = [("C2_PORT", "9".to_string())];
    let rc = npm_install(&env, "audit", &registry, &project, "pw-rc-append", &vars);
    assert!(
        !rc.findings("persist.shell-rc").is_empty(),
        "{:#}",
        rc.report["findings"]
    );
    let cred = npm_install(&env, "audit", &registry, &project, "pw-cred-exfil", &vars);
    assert!(
        !cred.findings("cred.read").is_empty(),
        "{:#}",
        cred.report["findings"]
    );

    let out = pw(&env, &project, &["explain", "last", "cred.read"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ex = stdout_str(&out);
    assert!(ex.contains("rule:     cred.read"), "{ex}");
    assert!(
        ex.contains("evidence: file ") && ex.contains("/.npmrc"),
        "{ex}"
    );
    assert!(
        ex.contains("no allow snippet: pkgwarden will not suggest allowing cred.read"),
        "{ex}"
    );
    assert!(!ex.contains("[[allow]]"), "{ex}");

    let out = pw(&env, &project, &["policy", "suggest", "--last", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = stdout_str(&out);
    println!("{ex}\n{s}");
    assert!(!s.contains("[[allow]]"), "{s}");
    for rule in ["persist.shell-rc", "cred.read"] {
        assert!(
            s.lines().any(|l| l.starts_with("#")
                && l.contains(&format!("{rule} by pw-"))
                && l.contains("will not suggest")),
            "{rule} not listed as refused:\n{s}"
        );
    }
    // Named reports give the same answer; --write adds nothing that allows.
    let from = [
        rc.report["id"].as_str().unwrap(),
        cred.report["id"].as_str().unwrap(),
    ];
    let out = pw(
        &env,
        &project,
        &["policy", "suggest", "--from", from[0], from[1], "--write"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout_str(&out).contains("cred.read by pw-cred-exfil@1.0.0"),
        "{}",
        text(&out)
    );
    assert!(
        stderr_str(&out).contains("nothing to allow"),
        "{}",
        text(&out)
    );
    let user = env.home.config_dir().join("pkgwarden/policy.toml");
    assert!(
        !user.exists(),
        "{}",
        fs::read_to_string(&user).unwrap_or_default()
    );
}

#[test]
fn without_reports_explain_and_suggest_say_what_to_do() {
    let env = ShimEnv::new(&[]);
    let cwd = env.home.path().to_path_buf();
    for args in [&["explain", "last"][..], &["policy", "suggest"][..]] {
        let out = pw(&env, &cwd, args);
        assert_eq!(out.status.code(), Some(USAGE), "{}", text(&out));
        let e = stderr_str(&out);
        assert!(
            e.contains("no reports yet") && e.contains("audit"),
            "{args:?}: {e}"
        );
        assert!(e.lines().count() <= 3, "{e}");
    }
    let out = pw(&env, &cwd, &["explain", "0123abcd"]);
    assert_eq!(out.status.code(), Some(USAGE), "{}", text(&out));
    assert!(
        stderr_str(&out).contains("pkgwarden report list"),
        "{}",
        text(&out)
    );
}

/// The new allow keys are validated like the others, and a project file
/// keeps only a host scoped to a package version.
#[test]
fn scoped_allow_keys_are_validated_and_a_project_may_only_scope_hosts() {
    let env = ShimEnv::new(&[]);
    let dir = env.home.subdir("p");
    let cases = [
        ("endpoints = [\"no-port.example\"]", "is not host:port"),
        (
            "paths = [\"relative/dir\"]",
            "is not a directory under a root",
        ),
        (
            "paths = [\"/srv/../etc\"]",
            "is not a directory under a root",
        ),
        ("hook = \"\"", "empty hook name"),
    ];
    for (line, says) in cases {
        let f = dir.join("bad.toml");
        fs::write(&f, format!("[[allow]]\npackage = \"a@1\"\n{line}\n")).unwrap();
        let out = pw(&env, &dir, &["policy", "check", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(USAGE), "{}", text(&out));
        let e = stderr_str(&out);
        assert!(
            e.contains(&format!("{}:3:", f.display())) && e.contains(says),
            "{line}: {e}"
        );
    }
    fs::write(
        dir.join(".pkgwarden.toml"),
        "[[allow]]\npackage = \"a@1\"\nrules = [\"net.unexpected-host\"]\nendpoints = [\"h.example:443\"]\n\n[[allow]]\npackage = \"b@2\"\nrules = [\"hidden.script\"]\n",
    )
    .unwrap();
    let out = pw(&env, &dir, &["policy", "show", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_str(&stdout_str(&out)).unwrap();
    let allow = v["policy"]["allow"].as_array().unwrap();
    assert_eq!(allow.len(), 1, "{allow:#?}");
    assert_eq!(allow[0]["package"], "a@1");
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("ignored `allow`")),
        "{:#}",
        v["warnings"]
    );
}

/// The brief's first case: a benign postinstall asking a loopback host by
/// name (refused in every mode: a name that resolves inside). Audit records
/// it with the package; the suggested entry lets exactly that `host:port`
/// through for that package in block.
#[test]
fn a_postinstall_asking_a_loopback_host_is_learned_and_then_passes_block() {
    let (service, seen) = user_proxy();
    let port = service.rsplit(':').next().unwrap().to_string();
    let vars = vec![("PW_HOST", format!("localhost:{port}"))];
    let registry = NpmRegistry::start_with(vec![package("pw-fetch-local", "fetch-unexpected.js")]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    let name = "pw-fetch-local";
    let endpoint = format!("localhost:{port}");

    let r = npm_install(&env, "block", &registry, &project, name, &vars);
    assert_eq!(r.code, BLOCKED, "{}", r.stderr);
    assert_eq!(unexpected(&r)["evidence"]["endpoint"], endpoint.as_str());
    let r = npm_install(&env, "audit", &registry, &project, name, &vars);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(unexpected(&r)["package"], "pw-fetch-local@1.0.0");
    assert!(
        seen.lock().unwrap().is_empty(),
        "reached before it was allowed"
    );

    let out = pw(&env, &project, &["policy", "suggest"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let suggested = stdout_str(&out);
    assert!(
        suggested.contains(&format!("endpoints = [\"{endpoint}\"]")),
        "{suggested}"
    );
    let file = env.home.path().join("suggested.toml");
    fs::write(&file, &suggested).unwrap();
    let r = npm_install(
        &env,
        "block",
        &registry,
        &project,
        name,
        &with_policy(&vars, &file),
    );
    assert_eq!(r.code, 0, "{}\n{:#}", r.stderr, r.report["findings"]);
    assert!(
        r.stdout.contains("fetch-unexpected got 200"),
        "{}",
        r.stdout
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the loopback host was not reached once"
    );
}
