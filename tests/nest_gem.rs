//! A gem's extension built by RubyGems' rake builder (`ext/<name>/Rakefile`,
//! run as `ruby … rake RUBYARCHDIR=<dest> RUBYLIBDIR=<dest>`) is package
//! code: it runs in the nested domain (issue 9), writing its own extension
//! directory, the extension directory RubyGems names, and TMPDIR, but not
//! HOME, the gem home's bin directory or another installed gem. Real `gem
//! build` / `gem generate_index` / `gem install` against a loopback source,
//! in protect and block, as root and unprivileged. The same for the
//! Makefile an `extconf.rb` writes, which `make` runs.

use crate::support;

use serde_json::Value;
use std::fs;
use support::installs::{check_finding, gem_install, static_server};
use support::*;

const RC: &str = "# rc\n";
/// pkgwarden's exit code for an install it blocked.
const BLOCKED: i32 = 90;

#[test]
fn a_gems_rakefile_writes_neither_home_nor_the_gem_home_outside_its_own_dirs() {
    confined_build("pwrake", "rake");
}

/// RubyGems before 3.4 runs the Makefile extconf.rb wrote as `make DESTDIR=
/// [clean|install]`, without `sitearchdir=`: the Makefile's recipes are
/// package code too.
#[test]
fn a_makefile_written_by_extconf_runs_confined() {
    confined_build("pwmake", "make");
}

/// Installs the fixture gem `name` (its probe results in
/// `ext/<name>/pw-<probe>-result.json`) in protect and block and checks
/// where its build could write.
fn confined_build(name: &str, probe: &str) {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let copy = run(std::process::Command::new("cp")
        .arg("-r")
        .arg(crate_root().join(format!("tests/fixtures/gem/{name}")))
        .arg(&src));
    assert_success(&copy, "copy the gem fixture");
    let built = run(std::process::Command::new("gem")
        .args(["build", &format!("{name}.gemspec")])
        .current_dir(&src));
    assert_success(&built, "gem build");
    let repo = work.path().join("repo");
    fs::create_dir_all(repo.join("gems")).unwrap();
    let gem = format!("{name}-1.0.0.gem");
    fs::copy(src.join(&gem), repo.join("gems").join(&gem)).unwrap();
    let indexed = run(std::process::Command::new("gem")
        .args(["generate_index", "--directory"])
        .arg(&repo));
    assert_success(&indexed, "gem generate_index");
    let server = static_server(repo);
    let source = format!("{}/", server.base_url());

    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    let gems = home.join("gems");
    for mode in ["protect", "block"] {
        let _ = fs::remove_dir_all(&gems);
        fs::write(home.join(".bashrc"), RC).unwrap();
        // Another gem, installed before.
        let other = gems.join("gems/pwother-1.0.0/lib/pwother.rb");
        fs::create_dir_all(other.parent().unwrap()).unwrap();
        fs::write(&other, "# pwother\n").unwrap();
        let r = gem_install(&env, mode, &source, &gems, name, &home, &[]);
        let result = gems.join(format!(
            "gems/{name}-1.0.0/ext/{name}/pw-{probe}-result.json"
        ));
        let probes: Value = serde_json::from_slice(&fs::read(&result).unwrap_or_else(|e| {
            panic!(
                "{mode}: the build never ran ({e})\n{}\n{}",
                r.stdout, r.stderr
            )
        }))
        .unwrap();
        for refused in ["home", "bin", "other_gem"] {
            assert_eq!(
                probes[refused], "EACCES",
                "{mode}: {probes:#}\n{}",
                r.stderr
            );
        }
        let dest = if probe == "rake" { "dest" } else { "tmp" };
        for allowed in ["own", dest, "tmp"] {
            assert_eq!(probes[allowed], "ok", "{mode}: {probes:#}\n{}", r.stderr);
        }
        assert_eq!(fs::read_to_string(home.join(".bashrc")).unwrap(), RC);
        assert_eq!(fs::read_to_string(&other).unwrap(), "# pwother\n");
        assert!(!gems.join(format!("bin/{name}-planted")).exists());
        // Every package-code process (the rake run) was nested.
        let pc = &r.report["sandbox"]["package_code"];
        assert_eq!(pc["mechanism"], "preload", "{pc:#}\n{}", r.stderr);
        let runs = pc["runs"].as_u64().unwrap();
        assert!(runs >= 1, "{mode}: no package code recognised: {pc:#}");
        assert_eq!(pc["nested"].as_u64(), Some(runs), "{mode}: {pc:#}");
        // The refused ~/.bashrc append is reported, attributed to the gem.
        let rc = r.finding("persist.shell-rc");
        check_finding(
            rc,
            "T1546.004",
            "high",
            Some(&format!("{name}@1.0.0")),
            None,
        );
        if mode == "block" {
            assert_eq!(r.code, BLOCKED, "{}", r.stderr);
        } else {
            assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
            assert!(
                gems.join(format!("gems/{name}-1.0.0/lib/{name}.rb"))
                    .is_file()
            );
        }
        if mode == "protect" {
            // What the build installed reached the gem's extension dir.
            let dest = walk(&gems.join("extensions"))
                .into_iter()
                .any(|p| p.ends_with(format!("pw-{probe}-dest.txt")));
            assert!(dest, "{mode}: the built extension was not installed");
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
