//! How each manager starts package code as a plain child process
//! (`policy/package_code.toml`): the shapes the preload library confines.

use crate::sandbox::nest_spec::Shape;
use std::collections::BTreeMap;
use std::sync::OnceLock;

fn data() -> &'static BTreeMap<String, Vec<Shape>> {
    static DATA: OnceLock<BTreeMap<String, Vec<Shape>>> = OnceLock::new();
    // Compiled in and checked by a unit test: a parse error cannot reach users.
    DATA.get_or_init(|| {
        toml::from_str(include_str!("../../policy/package_code.toml")).unwrap_or_default()
    })
}

/// The shapes of the adapter `key` (`pip`, `pytools`, `gem`).
pub fn shapes(key: &str) -> Vec<Shape> {
    data().get(key).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_data_parses_and_recognises_each_managers_package_code() {
        let pip = shapes("pip");
        let any = |s: &[Shape], a: &[&str]| s.iter().any(|x| x.matches(&argv(a)));
        assert!(any(
            &pip,
            &[
                "/venv/bin/python",
                "/venv/lib/python3.11/site-packages/pip/_vendor/pyproject_hooks/_in_process/_in_process.py",
                "build_wheel",
                "/tmp/tmpx"
            ]
        ));
        assert!(any(
            &pip,
            &[
                "python",
                "-c",
                "exec(compile(open('/tmp/pip-install-1/x/setup.py').read()))",
                "egg_info"
            ]
        ));
        assert!(any(&pip, &["python", "setup.py", "develop"]));
        // The legacy `setup.py install` is the install itself: it may write
        // the install's roots; a build command is package code only.
        let first = |a: &[&str]| pip.iter().find(|x| x.matches(&argv(a))).cloned();
        let legacy = first(&[
            "python",
            "-u",
            "-c",
            "exec(compile(open('/t/x/setup.py').read()))",
            "install",
            "--record",
            "/t/r",
        ])
        .unwrap();
        assert!(legacy.writes_roots, "{legacy:?}");
        let build = first(&[
            "python",
            "-c",
            "exec(compile(open('/t/x/setup.py').read()))",
            "bdist_wheel",
        ])
        .unwrap();
        assert!(!build.writes_roots, "{build:?}");
        assert!(!any(&pip, &["python", "-m", "pip", "install", "x"]));
        assert!(!any(&pip, &["/usr/bin/git", "clone", "setup.pyx"]));
        // argv[0] alone never matches.
        assert!(!any(&pip, &["/tmp/setup.py"]));
        let gem = shapes("gem");
        assert!(any(
            &gem,
            &["/usr/bin/ruby", "-I", "/usr/lib/ruby", "extconf.rb"]
        ));
        assert!(any(&gem, &["make", "DESTDIR=", "sitearchdir=./.gem.2026"]));
        // RubyGems < 3.4: `make DESTDIR= install`, no sitearchdir.
        assert!(any(&gem, &["make", "DESTDIR=", "install"]));
        // RubyGems' rake, mkrf_conf, cmake and configure builders.
        let gem_first = |a: &[&str]| gem.iter().find(|x| x.matches(&argv(a))).cloned();
        let rake = gem_first(&[
            "/usr/bin/ruby3.1",
            "-I/usr/lib/ruby/vendor_ruby",
            "-rrubygems",
            "/usr/bin/rake",
            "RUBYARCHDIR=/g/extensions/x86_64-linux/3.1.0/x-1",
            "RUBYLIBDIR=/g/extensions/x86_64-linux/3.1.0/x-1",
        ])
        .unwrap();
        assert!(rake.dest_dirs(&argv(&["rake", "RUBYARCHDIR=/g/e"])) == [PathBuf::from("/g/e")]);
        assert!(any(&gem, &["/usr/bin/ruby3.1", "mkrf_conf.rb"]));
        assert!(any(&gem, &["cmake", ".", "-DCMAKE_INSTALL_PREFIX=/g/e"]));
        assert!(any(&gem, &["sh", "./configure", "--prefix=/g/e"]));
        // The manager itself is never one of them.
        assert!(!any(
            &gem,
            &[
                "/usr/bin/ruby3.1",
                "/usr/bin/gem",
                "install",
                "--install-dir",
                "/g",
                "x"
            ]
        ));
        assert!(gem.iter().all(|s| s.own_dir));
        let pytools = shapes("pytools");
        // uv's hook script, as uv writes it; uv's own `-c` probes are not
        // package code.
        let uv_hook = "import sys\n\nif sys.path[0] == \"\":\n    sys.path.pop(0)\n\nimport setuptools.build_meta as backend\n\nwheel_filename = backend.build_wheel(\"/c/builds-v0/.tmpd\", {}, None)\n";
        let uv = pytools
            .iter()
            .find(|x| x.matches(&argv(&["/c/builds-v0/.tmpk/bin/python", "-c", uv_hook])))
            .unwrap();
        assert!(uv.own_dir && !uv.writes_roots, "{uv:?}");
        assert!(!any(
            &pytools,
            &[
                "/v/bin/python",
                "-I",
                "-B",
                "-c",
                "import sys; from python.get_interpreter_info import main; main()"
            ]
        ));
        // yarn 1's scripts: node's `shell: true`, exactly; they go through
        // the hook wrapper. git's `sh -c` (an ssh command) and yarn itself
        // are not scripts.
        let yarn = shapes("yarn");
        let script = yarn
            .iter()
            .find(|x| x.matches(&argv(&["/bin/sh", "-c", "node probe.js"])))
            .unwrap();
        assert!(script.hook, "{script:?}");
        assert!(!any(&yarn, &["sh", "-c", "ssh git@host"]));
        assert!(!any(&yarn, &["/bin/sh", "./build.sh"]));
        assert!(!any(&yarn, &["/bin/sh"]));
        assert!(!any(&yarn, &["/usr/bin/node", "/usr/bin/yarn", "install"]));
        assert!(
            ["pip", "pytools", "gem"]
                .iter()
                .all(|k| shapes(k).iter().all(|s| !s.hook && s.command.is_empty()))
        );
    }
}
