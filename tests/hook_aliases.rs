//! A dependency's lifecycle script in the nested hook domain writes to a
//! persistence location through an alias — `/proc/self/fd/N` of a directory
//! it opened, and a symlinked directory planted in its own package — and the
//! domain refuses it. The report must still show each as a refused write
//! with its persistence finding (medium or more). Real npm, a loopback
//! registry, protect and block, as root and unprivileged.

use crate::support;

use std::fs;
use support::installs::install;
use support::*;

/// Inert: marker text aimed at the test's HOME only.
const ALIASES: &str = r#"
const fs = require("fs"), cp = require("child_process"), home = process.env.HOME, r = {};
function t(name, f) { try { f(); r[name] = "ok"; } catch (e) { r[name] = e.code || "failed"; } }
// The home directory cannot be listed in the sandbox, but an O_PATH
// descriptor of it needs no right: the write goes through /proc/self/fd/N.
r.fd_alias = cp.execFileSync("python3", ["-c", `
import errno, os
d = os.open(os.environ["HOME"], os.O_PATH)
try:
    with open("/proc/self/fd/%d/.bashrc" % d, "a") as f:
        f.write("echo PW-MARKER\\n")
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
`]).toString().trim();
// Variations: a write relative to that descriptor (openat with a dirfd),
// and a file of its own renamed through the alias.
r.dirfd = cp.execFileSync("python3", ["-c", `
import errno, os
d = os.open(os.environ["HOME"], os.O_PATH)
try:
    fd = os.open(".profile", os.O_WRONLY | os.O_CREAT | os.O_APPEND, dir_fd=d)
    os.write(fd, b"echo PW-MARKER\\n")
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
`]).toString().trim();
r.rename_alias = cp.execFileSync("python3", ["-c", `
import errno, os
d = os.open(os.environ["HOME"], os.O_PATH)
with open("zshrc.new", "w") as f:
    f.write("echo PW-MARKER\\n")
try:
    os.rename("zshrc.new", "/proc/self/fd/%d/.zshrc" % d)
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
`]).toString().trim();
t("dir_alias", () => {
  fs.symlinkSync(home + "/.config/git", "gitdir");
  fs.appendFileSync("gitdir/config", "[core]\n\tpager = echo PW-MARKER\n");
});
fs.writeFileSync("result.json", JSON.stringify(r));
"#;

#[test]
fn a_refused_write_through_an_alias_is_still_a_finding() {
    let pkg = NpmPackage::new(
        serde_json::json!({
            "name": "pw-alias", "version": "1.0.0",
            "scripts": {"postinstall": "node aliases.js"}
        }),
        &[
            ("aliases.js", ALIASES.as_bytes()),
            ("index.js", b"module.exports = 1;\n"),
        ],
    );
    let registry = NpmRegistry::start_with(vec![pkg]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    fs::write(home.join(".bashrc"), "# rc\n").unwrap();
    fs::create_dir_all(home.join(".config/git")).unwrap();
    fs::write(home.join(".config/git/config"), "[user]\n\tname = t\n").unwrap();
    let project = env.home.subdir("proj");
    for mode in ["protect", "block"] {
        let _ = fs::remove_dir_all(project.join("node_modules"));
        let _ = fs::remove_file(project.join("package-lock.json"));
        fs::write(
            project.join("package.json"),
            serde_json::json!({
                "name": "proj", "version": "1.0.0",
                "dependencies": {"pw-alias": "1.0.0"},
            })
            .to_string(),
        )
        .unwrap();
        let r = install(
            &env,
            mode,
            &["npm", "install", "--registry", &registry.registry_url()],
            &project,
            &[],
        );
        let result: serde_json::Value = fs::read(project.join("node_modules/pw-alias/result.json"))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or_default();
        assert_eq!(
            result["fd_alias"], "EACCES",
            "{mode}: {result}\n{}",
            r.stderr
        );
        assert_eq!(
            result["dir_alias"], "EACCES",
            "{mode}: {result}\n{}",
            r.stderr
        );
        assert_eq!(result["dirfd"], "EACCES", "{mode}: {result}\n{}", r.stderr);
        assert_ne!(
            result["rename_alias"], "ok",
            "{mode}: {result}\n{}",
            r.stderr
        );
        assert!(!home.join(".profile").exists() && !home.join(".zshrc").exists());
        assert_eq!(fs::read_to_string(home.join(".bashrc")).unwrap(), "# rc\n");
        assert!(
            !fs::read_to_string(home.join(".config/git/config"))
                .unwrap()
                .contains("PW-MARKER")
        );
        for target in [
            home.join(".bashrc"),
            home.join(".config/git/config"),
            home.join(".profile"),
            home.join(".zshrc"),
        ] {
            let t = target.display().to_string();
            let f = r
                .serious()
                .into_iter()
                .find(|f| {
                    f["rule"]
                        .as_str()
                        .is_some_and(|x| x.starts_with("persist."))
                        && f["evidence"]["paths"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|p| *p == t))
                })
                .unwrap_or_else(|| {
                    panic!(
                        "{mode}: no persistence finding for {t}: {:#}",
                        r.report["findings"]
                    )
                })
                .clone();
            assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
            assert_eq!(f["package"], "pw-alias@1.0.0", "{mode}: {f:#}");
        }
    }
}
