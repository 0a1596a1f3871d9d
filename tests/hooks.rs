//! Package code is not the manager (issue 9.10, DESIGN.md principle 9): npm
//! runs its dependencies' lifecycle scripts through pkgwarden's hook wrapper,
//! which confines each in a nested landlock domain. A dependency's script can
//! read no credential (not even npm's own token, which npm itself reads) and
//! write only its own package directory, the private TMPDIR and the caches;
//! the root project's own scripts keep the install's rights. Real npm, a
//! loopback registry, as root and unprivileged, in protect and block.

mod support;

use serde_json::Value;
use std::fs;
use support::installs::install;
use support::*;

/// A dependency's postinstall that tries each thing and writes what
/// happened to `result.json` in its own directory (inert: files in the
/// test's HOME and project only).
const PROBE: &str = r#"
const fs = require("fs"), path = require("path"), os = require("os");
const cp = require("child_process");
const home = process.env.HOME, r = {};
function t(name, f) { try { f(); r[name] = "ok"; } catch (e) { r[name] = e.code || "failed"; } }
t("read_npmrc", () => fs.readFileSync(home + "/.npmrc"));
t("read_project_npmrc", () => fs.readFileSync(path.resolve("../../.npmrc")));
t("write_home", () => fs.writeFileSync(home + "/pw-stray.txt", "PW"));
t("write_project", () => fs.writeFileSync(path.resolve("../../pw-stolen.txt"), "PW"));
t("write_other_package", () => fs.writeFileSync(path.resolve("../pw-other/index.js"), "PW"));
t("write_own", () => fs.writeFileSync("own.txt", "PW"));
t("write_tmp", () => fs.writeFileSync(path.join(os.tmpdir(), "pw-tmp.txt"), "PW"));
// A variation: a grandchild that drops the wrapper's variable and asks a
// fresh shell; the domain is inherited, not chosen.
t("child_read_npmrc", () => cp.execFileSync("/bin/sh", ["-c", "env -u PKGWARDEN_HOOK -u npm_config_script_shell cat \"$HOME/.npmrc\""], {stdio: "pipe"}));
fs.writeFileSync("result.json", JSON.stringify(r));
"#;

struct Case {
    env: ShimEnv,
    registry: NpmRegistry,
    project: std::path::PathBuf,
}

fn case() -> Case {
    let probe = NpmPackage::new(
        serde_json::json!({
            "name": "pw-hookprobe", "version": "1.0.0",
            "scripts": {"postinstall": "node probe.js"}
        }),
        &[
            ("probe.js", PROBE.as_bytes()),
            ("index.js", b"module.exports = 1;\n"),
        ],
    );
    let other = NpmPackage::new(
        serde_json::json!({"name": "pw-other", "version": "1.0.0"}),
        &[("index.js", b"module.exports = 2;\n")],
    );
    let registry = NpmRegistry::start_with(vec![probe, other]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path();
    fs::write(
        home.join(".npmrc"),
        "//127.0.0.1/:_authToken=not-a-real-token\n",
    )
    .unwrap();
    let project = env.home.subdir("proj");
    fs::write(project.join(".npmrc"), "fund=false\n").unwrap();
    Case {
        env,
        registry,
        project,
    }
}

impl Case {
    fn install(
        &self,
        mode: &str,
        root_scripts: serde_json::Value,
    ) -> (support::installs::Installed, Value) {
        let _ = fs::remove_dir_all(self.project.join("node_modules"));
        let _ = fs::remove_file(self.project.join("package-lock.json"));
        fs::write(
            self.project.join("package.json"),
            serde_json::json!({
                "name": "proj", "version": "1.0.0",
                "dependencies": {"pw-other": "1.0.0", "pw-hookprobe": "1.0.0"},
                "scripts": root_scripts,
            })
            .to_string(),
        )
        .unwrap();
        let r = install(
            &self.env,
            mode,
            &[
                "npm",
                "install",
                "--registry",
                &self.registry.registry_url(),
            ],
            &self.project,
            &[],
        );
        let result = fs::read(self.project.join("node_modules/pw-hookprobe/result.json"))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or(Value::Null);
        (r, result)
    }
}

#[test]
fn a_dependency_script_reads_no_credential_and_writes_only_its_own_directory() {
    let c = case();
    let home = c.env.home.path();
    for mode in ["protect", "block"] {
        let (r, result) = c.install(mode, serde_json::json!({}));
        let denied = |k: &str| {
            assert_eq!(result[k], "EACCES", "{mode}: {k}: {result:#}\n{}", r.stderr);
        };
        // npm itself read ~/.npmrc (the install worked); its dependency's
        // script could not, nor the project's .npmrc.
        denied("read_npmrc");
        denied("read_project_npmrc");
        // protect lets the install write most of HOME; a dependency's
        // script is kept to its own directory.
        denied("write_home");
        denied("write_project");
        denied("write_other_package");
        assert_eq!(result["write_own"], "ok", "{mode}: {result:#}");
        assert_eq!(result["write_tmp"], "ok", "{mode}: {result:#}");
        assert_ne!(result["child_read_npmrc"], "ok", "{mode}: {result:#}");
        assert!(!home.join("pw-stray.txt").exists(), "{mode}");
        assert!(!c.project.join("pw-stolen.txt").exists(), "{mode}");
        assert_eq!(
            fs::read_to_string(c.project.join("node_modules/pw-other/index.js")).unwrap(),
            "module.exports = 2;\n",
            "{mode}"
        );
        // The read is reported, as refused, and attributed to the package.
        let read = r
            .findings("cred.read")
            .into_iter()
            .find(|f| f["evidence"]["paths"][0] == home.join(".npmrc").display().to_string())
            .unwrap_or_else(|| panic!("{mode}: no cred.read: {:#}", r.report["findings"]))
            .clone();
        assert_eq!(read["action"], "blocked", "{mode}: {read:#}");
        assert_eq!(read["package"], "pw-hookprobe@1.0.0", "{mode}: {read:#}");
        // npm's token stays npm's: readable by the manager, so listed.
        assert!(
            r.report["sandbox"]["readable_secrets"]
                .as_array()
                .is_some_and(|a| a
                    .iter()
                    .any(|s| *s == home.join(".npmrc").display().to_string())),
            "{mode}: {:#}",
            r.report["sandbox"]
        );
    }
}

#[test]
fn the_root_projects_own_scripts_keep_the_installs_rights() {
    let c = case();
    // The project's own script writes where protect lets the install write
    // (a directory of HOME), which a dependency's script may not.
    let out = c.env.home.path().join("outdir");
    fs::create_dir_all(&out).unwrap();
    let scripts = serde_json::json!({
        "postinstall": "node -e \"require('fs').writeFileSync(process.env.HOME + '/outdir/generated.txt', 'ok')\""
    });
    let (r, result) = c.install("protect", scripts);
    assert_eq!(result["write_own"], "ok", "{result:#}\n{}", r.stderr);
    assert_eq!(
        fs::read_to_string(out.join("generated.txt")).unwrap_or_default(),
        "ok",
        "{}",
        r.stderr
    );
}
