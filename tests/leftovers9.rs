//! Leftovers of issue 9's round 7: grants a project's files or
//! configuration could still widen. Real npm, pnpm and poetry, loopback
//! registries, inert fixtures: every marker is written in the test's
//! temporary HOME. Root and unprivileged.

use crate::support;

use std::fs;
use std::path::Path;
use support::installs::Installed;
use support::probes::{deps, install_in, root_tool};
use support::pypi::poetry_project;
use support::*;

/// The report's refused grants, one line each.
fn refused(r: &Installed) -> Vec<String> {
    r.report["sandbox"]["refused_grants"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The root project's postinstall runs `pw-tool` (cwd: the project), which
/// writes into the project's own persistence places.
const INTO_THE_PROJECTS_PERSISTENCE: &str = r##"
const proj = process.cwd();
t("hook", () => fs.writeFileSync(path.join(proj, ".git", "hooks", "pre-commit"), "#!/bin/sh\necho " + M + "\n", {mode: 0o755}));
t("config", () => fs.appendFileSync(path.join(proj, ".git", "config"), "\n# " + M + "\n"));
t("workflow", () => fs.writeFileSync(path.join(proj, ".github", "workflows", "pw.yml"), M + "\n"));
t("agent", () => fs.writeFileSync(path.join(proj, ".claude", "settings.json"), M + "\n"));
t("elsewhere", () => fs.writeFileSync(path.join(proj, "src", "pw.txt"), M + "\n"));
"##;

/// pnpm writes its lockfile through a temporary file beside it, so its
/// plan gives the project file rights (`Files`), which landlock grants
/// beneath: every existing directory of the project, `.git/hooks` and
/// `.github/workflows` included. The root project's scripts (and what they
/// run) are kept out of the project's persistence places as under npm:
/// in block all of them, in protect all but the `.git/hooks` a root
/// project with install scripts gets (husky).
#[test]
fn pnpm_root_scripts_write_no_persistence_place_of_the_project() {
    let registry = NpmRegistry::start_with(vec![root_tool(INTO_THE_PROJECTS_PERSISTENCE)]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    for d in [".git/hooks", ".github/workflows", ".claude", "src"] {
        fs::create_dir_all(project.join(d)).unwrap();
    }
    let config = "[core]\n\tbare = false\n";
    fs::write(project.join(".git/config"), config).unwrap();
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    for mode in ["block", "protect"] {
        let (r, result) = install_in(
            &env, &registry, "pnpm", mode, &project, &manifest, "pw-tool",
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-tool did not run\n{}",
            r.stderr
        );
        // The control: the root project's script did write the project.
        assert_eq!(result["elsewhere"], "ok", "{mode}: {result:#}");
        for attempt in ["config", "workflow", "agent"] {
            assert_ne!(result[attempt], "ok", "{mode}: {attempt}: {result:#}");
        }
        if mode == "block" {
            assert_ne!(result["hook"], "ok", "{mode}: {result:#}");
            assert!(!project.join(".git/hooks/pre-commit").exists(), "{mode}");
        }
        assert_eq!(
            fs::read_to_string(project.join(".git/config")).unwrap(),
            config,
            "{mode}"
        );
        assert!(!project.join(".github/workflows/pw.yml").exists(), "{mode}");
        assert!(!project.join(".claude/settings.json").exists(), "{mode}");
        let _ = fs::remove_file(project.join(".git/hooks/pre-commit"));
    }
}

/// A cache or log directory the project's configuration names in a
/// persistence place is refused, and pkgwarden makes nothing there either:
/// it judges before it creates.
#[test]
fn a_refused_log_dir_is_not_made() {
    let registry = NpmRegistry::start_with(vec![]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let project = env.home.subdir("proj");
    for (dir, made) in [
        (".config/systemd/user/pw-logs", ".config/systemd"),
        (".local/bin/pw-logs", ".local/bin"),
    ] {
        fs::write(
            project.join(".npmrc"),
            format!("logs-dir={}\n", home.join(dir).display()),
        )
        .unwrap();
        for mode in ["protect", "block"] {
            let what = format!("logs-dir={dir} ({mode})");
            let (r, _) = install_in(&env, &registry, "npm", mode, &project, &deps(&[]), "none");
            // npm's own attempt to make its log directory is a finding,
            // which block answers by blocking.
            if mode == "protect" {
                assert_eq!(r.code, 0, "{what}: {}", r.stderr);
            }
            assert!(
                r.stderr.contains("not granting") && r.stderr.contains("extra_write_paths"),
                "{what}: {}",
                r.stderr
            );
            let named = home.join(dir).display().to_string();
            assert!(
                refused(&r).iter().any(|l| l.contains(&named)),
                "{what}: {:?}",
                refused(&r)
            );
            assert!(!home.join(made).exists(), "{what}: {made} was made");
        }
    }
}

/// `poetry ARGS` through the shim in `project`, in `mode`; its report.
fn poetry(env: &ShimEnv, mode: &str, args: &[&str], project: &Path) -> Installed {
    let before = env.report_files();
    let out = run(env
        .shim("poetry")
        .args(args)
        .current_dir(project)
        .env("PKGWARDEN_MODE", mode));
    let new = env.reports_since(&before);
    assert_eq!(new.len(), 1, "{mode}: one new report expected, got {new:?}");
    Installed {
        code: out.status.code().unwrap_or(-1),
        stdout: stdout_str(&out),
        stderr: stderr_str(&out),
        report: serde_json::from_slice(&fs::read(&new[0]).unwrap()).unwrap(),
    }
}

/// poetry's `virtualenvs.path` comes from the project's `poetry.toml` too
/// (a file the repository ships); the environments directory it names is
/// judged as the managers' caches are: in `~/.local/bin` or a systemd
/// user directory it is refused (said on stderr, in `refused_grants`),
/// and nothing is made there.
#[test]
fn a_project_poetry_toml_puts_no_environment_in_a_persistence_place() {
    let index = PypiIndex::start_with(vec![]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    fs::create_dir_all(home.join(".local/bin")).unwrap();
    for (i, (dir, made)) in [
        (".local/bin", ".local/bin"),
        (".config/systemd/user", ".config/systemd"),
    ]
    .iter()
    .enumerate()
    {
        let target = home.join(dir).display().to_string();
        let settings = [
            ("virtualenvs.in-project", "false"),
            ("virtualenvs.use-poetry-python", "true"),
            ("virtualenvs.path", target.as_str()),
        ];
        let project = poetry_project(&env, &format!("venvs{i}"), &index, &settings);
        for mode in ["protect", "block"] {
            let what = format!("virtualenvs.path={dir} ({mode})");
            let r = poetry(&env, mode, &["install"], &project);
            assert!(
                r.stderr.contains("not granting") && r.stderr.contains("extra_write_paths"),
                "{what}: {}",
                r.stderr
            );
            assert!(
                refused(&r).iter().any(|l| l.contains(&target)),
                "{what}: {:?}",
                refused(&r)
            );
            let entries: Vec<_> = fs::read_dir(home.join(made))
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            let expect_dir = *made == ".local/bin";
            assert_eq!(home.join(made).exists(), expect_dir, "{what}");
            assert!(entries.is_empty(), "{what}: made {entries:?}");
        }
    }
}

/// Once its lock and in-project environment exist, poetry is granted those
/// and `pyproject.toml`, not the whole project: a `.pth` in the
/// environment (left by an earlier install in protect) runs in every
/// Python poetry starts there, and writes no git hook of the project.
#[test]
fn poetry_writes_only_its_lock_manifest_and_environment_in_the_project() {
    let index = PypiIndex::start_with(vec![]);
    let env = ShimEnv::new(&[]);
    let settings = [
        ("virtualenvs.in-project", "true"),
        ("virtualenvs.use-poetry-python", "true"),
    ];
    let project = poetry_project(&env, "narrow", &index, &settings);
    let r = poetry(&env, "block", &["install"], &project);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(project.join("poetry.lock").is_file());
    fs::create_dir_all(project.join(".git/hooks")).unwrap();
    let lib = project.join(".venv/lib");
    let py = fs::read_dir(&lib)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("python"))
        .unwrap();
    let pth = py.path().join("site-packages/pw-left.pth");
    let code = format!(
        "import os\nfor p in ({:?}, {:?}):\n    try: open(p, 'a').write('PW' + 'POISON')\n    except OSError: pass\n",
        project.join(".venv/pw-ran").display().to_string(),
        project.join(".git/hooks/pre-commit").display().to_string(),
    );
    fs::write(&pth, format!("import sys; exec({code:?})\n")).unwrap();
    for mode in ["block", "protect"] {
        let _ = fs::remove_file(project.join(".venv/pw-ran"));
        let r = poetry(&env, mode, &["install"], &project);
        // The control: the planted file ran, and wrote the environment.
        assert!(
            project.join(".venv/pw-ran").is_file(),
            "{mode}: {}",
            r.stderr
        );
        assert!(
            !project.join(".git/hooks/pre-commit").exists(),
            "{mode}: the .pth wrote a git hook\n{}",
            r.stderr
        );
    }
}
