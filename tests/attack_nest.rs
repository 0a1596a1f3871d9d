//! An attacker who has read `src/` against package code's nested domain
//! (src/nest/, src/sandbox/nest.rs): what an sdist's `setup.py` can reach
//! through the places that domain still lets it write. Real pip, a
//! loopback index, inert fixtures (markers in the temporary HOME).

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use support::installs::{Installed, install};
use support::pypi::{Dist, PipFixture, build_requirements, build_sdist};
use support::*;

/// An sdist named `name` whose setup.py is `setup`.
fn sdist(src: &Path, name: &str, setup: &str) -> Dist {
    let dir = src.join(name);
    fs::create_dir_all(dir.join(name)).unwrap();
    fs::write(dir.join("setup.py"), setup).unwrap();
    fs::write(dir.join(name).join("__init__.py"), "").unwrap();
    build_sdist(&PipFixture {
        name: name.to_string(),
        version: "1.0.0".into(),
        summary: Some("Inert pkgwarden fixture".into()),
        requires_dist: vec![],
        dir,
    })
}

fn benign_setup(name: &str) -> String {
    format!(
        "from setuptools import setup\nsetup(name='{name}', version='1.0.0', packages=['{name}'])\n"
    )
}

/// pwa's setup.py: finds pwb's wheel in pip's cache of built wheels
/// (`~/.cache/pip/wheels`, inside the `~/.cache` the nested domain grants
/// whole) and rewrites its `__init__.py` into one that leaves an inert
/// marker in HOME on import, with a RECORD to match.
const POISON: &str = r#"import base64, glob, hashlib, os, sys, zipfile
# Where pip keeps its cache, whatever XDG_CACHE_HOME package code is given.
caches = {os.environ.get("XDG_CACHE_HOME") or "", os.path.join(os.path.expanduser("~"), ".cache")}
done = []
found = [w for c in caches if c for w in glob.glob(os.path.join(c, "pip", "wheels", "**", "pwb-1.0.0-*.whl"), recursive=True)]
for whl in found:
    try:
        with zipfile.ZipFile(whl) as z:
            items = {n: z.read(n) for n in z.namelist()}
        items["pwb/__init__.py"] = (
            b"import os\n"
            b"open(os.path.join(os.path.expanduser('~'), 'PW-POISONED'), 'w')"
            b".write('inert marker: pwb replaced by pwa\\n')\n"
        )
        rec = [n for n in items if n.endswith(".dist-info/RECORD")][0]
        lines = []
        for n, d in items.items():
            if n != rec:
                h = base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode()
                lines.append("%s,sha256=%s,%d" % (n, h, len(d)))
        lines.append(rec + ",,")
        items[rec] = ("\n".join(lines) + "\n").encode()
        with zipfile.ZipFile(whl + ".tmp", "w") as z:
            for n, d in items.items():
                z.writestr(n, d)
        os.replace(whl + ".tmp", whl)
        done.append("ok")
    except OSError as e:
        done.append("refused %d" % e.errno)
print("PWPOISON " + " ".join(done or ["none"]), file=sys.stderr)
from setuptools import setup
setup(name="pwa", version="1.0.0", packages=["pwa"])
"#;

fn pip(env: &ShimEnv, index: &PypiIndex, mode: &str, what: &str) -> Installed {
    let url = index.index_url();
    install(
        env,
        mode,
        &[
            "pip",
            "install",
            "-v",
            "--use-pep517",
            "--index-url",
            &url,
            what,
        ],
        env.home.path(),
        &[],
    )
}

fn cached_wheels(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            cached_wheels(&p, out);
        } else if p.file_name().is_some_and(|n| {
            let n = n.to_string_lossy();
            n.starts_with("pwb-") && n.ends_with(".whl")
        }) {
            out.push(p);
        }
    }
}

/// Class: package code persists through the manager's cache. When the
/// nested domain granted `~/.cache` whole, pip's cache of built wheels
/// included, pwa's setup.py rewrote the wheel pip built earlier for pwb (another
/// distribution), and the next `pip install pwb` installs it from the cache
/// without building or checking it (pip checks the sdist's hash recorded in
/// the cache entry's origin.json, not the wheel). pwb's code then runs
/// unsandboxed at import. Secure: the cached wheel is not changed by
/// package code, and the attempt is reported (`tamper.manager-cache`).
#[test]
fn package_code_cannot_replace_another_packages_cached_wheel() {
    for mode in ["protect", "block"] {
        let src = tempfile::tempdir().unwrap();
        let mut dists = build_requirements();
        dists.push(sdist(src.path(), "pwb", &benign_setup("pwb")));
        dists.push(sdist(src.path(), "pwa", POISON));
        let index = PypiIndex::start_with(dists);
        let venv_home = TestHome::new();
        let venv = venv(&venv_home);
        let env = ShimEnv::new(&[&venv.join("bin")]);
        // pwb, built once from its sdist: pip keeps the wheel in its cache.
        let r = pip(&env, &index, mode, "pwb");
        assert_eq!(r.code, 0, "{mode}: {}", r.stderr);
        let mut wheels = Vec::new();
        cached_wheels(&env.home.path().join(".cache/pip/wheels"), &mut wheels);
        assert_eq!(wheels.len(), 1, "{mode}: {wheels:?}\n{}", r.stderr);
        let original = fs::read(&wheels[0]).unwrap();
        let _ = run(env
            .bare(venv_bin(&venv, "pip"))
            .args(["uninstall", "-y", "pwb"]));
        // pwa's setup.py, package code in the nested domain.
        let r = pip(&env, &index, mode, "pwa");
        let text = format!("{}\n{}", r.stdout, r.stderr);
        assert!(
            text.contains("PWPOISON"),
            "{mode}: setup.py never ran\n{text}"
        );
        let changed = fs::read(&wheels[0]).unwrap() != original;
        assert!(
            !changed,
            "{mode}: pwa's setup.py rewrote pwb's cached wheel\n{text}"
        );
        let f = r.finding("tamper.manager-cache");
        assert_eq!(f["action"], "blocked", "{mode}: {f:#}");
        assert_eq!(f["package"], "pwa@1.0.0", "{mode}: {f:#}");
        assert!(
            !changed || !r.serious().is_empty(),
            "{mode}: pwa's setup.py rewrote pwb's cached wheel, and the report is clean: {:#}\n{text}",
            r.report["findings"]
        );
        // pwb again: from the cache.
        let r3 = pip(&env, &index, mode, "pwb");
        let check = run(env
            .bare(venv_bin(&venv, "python"))
            .args(["-c", "import pwb"]));
        assert!(check.status.success(), "{mode}: {}", r3.stderr);
        assert!(
            !env.home.path().join("PW-POISONED").exists() || !r3.serious().is_empty(),
            "{mode}: the poisoned pwb was installed from the cache with a clean report: {:#}",
            r3.report["findings"]
        );
    }
}
