//! Real pip and npm through the shims: non-install commands behave exactly as
//! the bare managers; installs from loopback registries work through the shim.

use crate::support;

use std::fs;
use support::*;

fn same(shim: &std::process::Output, bare: &std::process::Output) {
    assert_eq!(shim.status.code(), bare.status.code(), "exit codes differ");
    assert_eq!(stdout_str(shim), stdout_str(bare), "stdout differs");
    assert_eq!(stderr_str(shim), stderr_str(bare), "stderr differs");
}

#[test]
fn pip_version_and_list_are_untouched() {
    let probe_home = TestHome::new();
    let venv = venv(&probe_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let pip = venv_bin(&venv, "pip");
    for args in [
        &["--version"][..],
        &["list"],
        &["list", "--format=json"],
        &["show", "pip"],
    ] {
        let shim = run(env.shim("pip").args(args));
        let bare = run(env.bare(&pip).args(args));
        assert!(bare.status.success());
        same(&shim, &bare);
    }
    // A failing non-install command keeps its code and message.
    let shim = run(env.shim("pip").args(["show", "no-such-dist"]));
    let bare = run(env.bare(&pip).args(["show", "no-such-dist"]));
    assert_eq!(bare.status.code(), Some(1));
    same(&shim, &bare);
}

#[test]
fn npm_version_and_run_are_untouched() {
    let env = ShimEnv::new(&[]);
    let npm = npm();
    let shim = run(env.shim("npm").arg("--version"));
    let bare = run(env.bare(&npm).arg("--version"));
    assert!(bare.status.success());
    same(&shim, &bare);

    let project = env.home.subdir("proj");
    fs::write(
        project.join("package.json"),
        r#"{"name":"proj","version":"1.0.0","scripts":{"hello":"node -e \"console.log('hi from script')\"","fail":"node -e \"process.exit(3)\""}}"#,
    )
    .unwrap();
    let shim = run(env.shim("npm").args(["run", "hello"]).current_dir(&project));
    let bare = run(env.bare(&npm).args(["run", "hello"]).current_dir(&project));
    assert!(stdout_str(&bare).contains("hi from script"));
    same(&shim, &bare);

    // npm's error output names a timestamped log file; the code and stdout must match.
    let shim = run(env.shim("npm").args(["run", "fail"]).current_dir(&project));
    let bare = run(env.bare(&npm).args(["run", "fail"]).current_dir(&project));
    assert_eq!(bare.status.code(), Some(3));
    assert_eq!(shim.status.code(), bare.status.code());
    assert_eq!(stdout_str(&shim), stdout_str(&bare));
    assert!(!stderr_str(&shim).contains("pkgwarden"));
}

#[test]
fn pip_install_from_loopback_index_through_the_shim() {
    let index = PypiIndex::start(&["pwdemo"]);
    let probe_home = TestHome::new();
    let venv = venv(&probe_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let pip = venv_bin(&venv, "pip");

    let out = run(env
        .shim("pip")
        .args(["install", "--index-url", &index.index_url(), "pwdemo"]));
    assert_success(&out, "pip install pwdemo through the shim");
    assert!(index.was_downloaded("pwdemo"));
    assert!(stderr_str(&out).contains(SANDBOXED), "{}", stderr_str(&out));
    let py = run(env.bare(venv_bin(&venv, "python")).args([
        "-c",
        "import pwdemo, sys; sys.stdout.write(pwdemo.__name__)",
    ]));
    assert_success(&py, "import pwdemo");
    assert_eq!(stdout_str(&py), "pwdemo");

    // A missing package: pip's own exit code and message, then pkgwarden's one line.
    let args = [
        "install",
        "--index-url",
        &index.index_url(),
        "does-not-exist",
    ];
    let shim = run(env.shim("pip").args(args));
    let bare = run(env.bare(&pip).args(args));
    assert_eq!(bare.status.code(), Some(1));
    assert_eq!(shim.status.code(), bare.status.code());
    assert_eq!(stdout_str(&shim), stdout_str(&bare));
    let (shim_err, bare_err) = (stderr_str(&shim), stderr_str(&bare));
    assert!(bare_err.contains("No matching distribution found for does-not-exist"));
    let extra = shim_err
        .strip_prefix(bare_err.as_str())
        .unwrap_or_else(|| panic!("pip's stderr is not kept as is:\n{shim_err}"));
    assert_eq!(extra.lines().count(), 1, "{extra}");
    assert!(extra.starts_with("pkgwarden: pip install ") && extra.contains(SANDBOXED));
}

#[test]
fn npm_install_from_loopback_registry_through_the_shim() {
    let registry = NpmRegistry::start(&["pwdemo", "pwdemo-dep"]);
    let env = ShimEnv::new(&[]);
    // Configured as a user would: `npm config set` (a passthrough) writes ~/.npmrc.
    let set = run(env
        .shim("npm")
        .args(["config", "set", "registry", &registry.registry_url()])
        .env_remove("npm_config_registry"));
    assert_success(&set, "npm config set registry");
    assert!(!stderr_str(&set).contains("pkgwarden"));
    assert!(
        fs::read_to_string(env.home.path().join(".npmrc"))
            .unwrap()
            .contains("127.0.0.1")
    );

    let project = env.home.subdir("proj");
    fs::write(
        project.join("package.json"),
        r#"{"name":"proj","version":"1.0.0"}"#,
    )
    .unwrap();
    let out = run(env
        .shim("npm")
        .args(["install", "pwdemo"])
        .current_dir(&project));
    assert_success(&out, "npm install pwdemo through the shim");
    let err = stderr_str(&out);
    assert!(
        err.starts_with("pkgwarden: npm install") && err.contains(SANDBOXED),
        "{err}"
    );
    assert!(registry.tarball_fetched("pwdemo", "1.0.0"));
    assert!(project.join("node_modules/pwdemo/package.json").is_file());
    assert!(
        project
            .join("node_modules/pwdemo-dep/package.json")
            .is_file()
    );
    let lock = fs::read_to_string(project.join("package-lock.json")).unwrap();
    assert!(lock.contains(&registry.tarball_url("pwdemo", "1.0.0")));

    // An alias is an install too, and the summary shows it as typed, not
    // as `npm install i …`.
    let out = run(env.shim("npm").args(["i", "pwdemo"]).current_dir(&project));
    assert_success(&out, "npm i pwdemo through the shim");
    let err = stderr_str(&out);
    assert!(
        err.starts_with("pkgwarden: npm i pwdemo — ") && err.contains(SANDBOXED),
        "{err}"
    );
}

#[test]
fn python_shim_routes_only_pip() {
    let probe_home = TestHome::new();
    let venv = venv(&probe_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let py = venv_bin(&venv, "python3");
    let shim = run(env.shim("python3").args(["-c", "print(6 * 7)"]));
    assert_eq!(stdout_str(&shim), "42\n");
    assert!(stderr_str(&shim).is_empty());
    let shim = run(env.shim("python3").args(["-m", "pip", "--version"]));
    let bare = run(env.bare(&py).args(["-m", "pip", "--version"]));
    same(&shim, &bare);

    let index = PypiIndex::start(&["pwdemo"]);
    let out = run(env.shim("python3").args([
        "-m",
        "pip",
        "install",
        "--index-url",
        &index.index_url(),
        "pwdemo",
    ]));
    assert_success(&out, "python3 -m pip install");
    // The summary shows the command as typed: `python3`, not `python`.
    assert!(
        stderr_str(&out).contains("pkgwarden: python3 -m pip install --index-url")
            && stderr_str(&out).contains(SANDBOXED),
        "{}",
        stderr_str(&out)
    );
    assert!(index.was_downloaded("pwdemo"));
}

#[test]
fn plan_derives_registries_and_roots_from_the_managers() {
    let index = PypiIndex::start(&["pwdemo"]);
    let probe_home = TestHome::new();
    let venv = venv(&probe_home);
    let env = ShimEnv::new(&[&venv.join("bin")]);
    let plan = |args: &[&str]| -> serde_json::Value {
        let out = run(env.pkgwarden().args(["plan", "--json", "--"]).args(args));
        assert_success(&out, "pkgwarden plan");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let purelib = stdout_str(&run(env.bare(venv_bin(&venv, "python")).args([
        "-c",
        "import sysconfig; print(sysconfig.get_path('purelib'))",
    ])))
    .trim()
    .to_string();

    let v = plan(&["pip", "install", "-i", &index.index_url(), "pwdemo"]);
    let hosts = v["plan"]["registry_hosts"].as_array().unwrap();
    assert_eq!(
        hosts,
        &vec![serde_json::json!(format!("127.0.0.1:{}", index.port()))]
    );
    let roots: Vec<&str> = v["plan"]["write_roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        roots.contains(&purelib.as_str()),
        "{roots:?} lacks {purelib}"
    );
    assert_eq!(v["plan"]["facts_origin"], "probe");
    // The second time the facts come from the cache.
    let v = plan(&["pip", "install", "-i", &index.index_url(), "pwdemo"]);
    assert_eq!(v["plan"]["facts_origin"], "cache");

    // Without an index option the registry is pip's own default, as the installed pip says.
    let default = stdout_str(&run(env.bare(venv_bin(&venv, "python")).args([
        "-c",
        "from pip._internal.models.index import PyPI; print(PyPI.simple_url)",
    ])))
    .trim()
    .to_string();
    let conf = stdout_str(&run(env
        .bare(venv_bin(&venv, "pip"))
        .args(["config", "list"])));
    if !conf.contains("index-url") {
        let v = plan(&["pip", "install", "pwdemo"]);
        assert_eq!(v["plan"]["registries"][0], default.as_str());
    }

    // A target directory replaces site-packages.
    let v = plan(&["pip", "install", "--target", "/tmp/pw-target", "pwdemo"]);
    assert_eq!(
        v["plan"]["write_roots"],
        serde_json::json!(["/tmp/pw-target"])
    );

    // npm: the registry a user configured becomes the endpoint.
    let registry = NpmRegistry::start(&["pwdemo", "pwdemo-dep"]);
    fs::write(
        env.home.path().join(".npmrc"),
        format!("registry={}\n", registry.registry_url()),
    )
    .unwrap();
    let project = env.home.subdir("proj");
    fs::write(project.join("package.json"), "{}").unwrap();
    let out = run(env
        .pkgwarden()
        .args(["plan", "--json", "--", "npm", "i", "pwdemo"])
        .env_remove("npm_config_registry")
        .current_dir(project.join(".")));
    assert_success(&out, "pkgwarden plan npm");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hosts: Vec<&str> = v["plan"]["registry_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.as_str())
        .collect();
    let ours = format!("127.0.0.1:{}", registry.port());
    assert!(hosts.contains(&ours.as_str()), "{hosts:?}");
    // Any other host is where node-gyp fetches the running node's headers,
    // as that node says (process.release.headersUrl).
    let headers = v["plan"]["facts"]["values"]["headers_url"]
        .as_str()
        .unwrap_or("");
    for h in hosts.iter().filter(|h| **h != ours) {
        assert!(
            headers.contains(&format!("://{h}/")),
            "{h} is neither the registry nor the headers host ({headers})"
        );
    }
    assert_eq!(
        v["plan"]["write_roots"][0],
        project.join("node_modules").to_str().unwrap()
    );

    // A passthrough is reported as such.
    let v = plan(&["npm", "run", "build"]);
    assert_eq!(v["classified"]["kind"], "passthrough");
}
