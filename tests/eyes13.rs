//! Helper `eyes13`: round 13 of the fresh-eyes attack (issue 9), at
//! b3251d3. Each test is one attempt with an inert fixture; markers stay in
//! the test's HOME; no network but the loopback registry or index the test
//! starts, and unix listeners the test binds in its HOME. A test marked
//! `ignore = "round 13: …"` fails on the binary it was written against.

use crate::support;

use serde_json::Value;
use std::fs;
use std::path::Path;
use support::*;

/// `npm install` of `manifest` in `project` from `registry`, with `vars`
/// set for pkgwarden (and so for the install): the report and `probe`'s
/// `result.json` (Null when it did not run). `support::probes::install_in`
/// with an environment.
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

/// Credential files of the Python, Ruby and JavaScript tool chains (and
/// two cloud CLIs that live beside them) that `policy/secrets.toml` does
/// not name, each as the tool writes it, with the secret it keeps there:
/// pip's index URL with a password (user and `~/.pip` places), uv's
/// `uv.toml` index and `uv auth login`'s store, poetry's `auth.toml`
/// (`poetry config http-basic.<repo>` without a keyring), PDM's repository
/// password, keyrings.alt's plain-text keyring, Bundler's private-source
/// credentials, RubyGems' API key in its XDG place (used when `~/.gem` does
/// not exist), pnpm's global rc, Hugging Face's token, Terraform's legacy
/// CLI configuration, Helm's repository passwords, the Firebase, Netlify and
/// Vercel CLIs' tokens, sops' age private keys.
const UNLISTED_CREDENTIALS: &[(&str, &str)] = &[
    (
        ".config/pip/pip.conf",
        "[global]\nindex-url = https://eyes13:EYES13-CRED@pypi.internal.test/simple/\n",
    ),
    (
        ".pip/pip.conf",
        "[global]\nextra-index-url = https://eyes13:EYES13-CRED@pypi.internal.test/simple/\n",
    ),
    (
        ".config/uv/uv.toml",
        "[[index]]\nname = \"corp\"\nurl = \"https://eyes13:EYES13-CRED@pypi.internal.test/simple/\"\n",
    ),
    (
        ".local/share/uv/credentials/credentials.toml",
        "[[credential]]\nservice = \"https://pypi.internal.test/\"\nusername = \"eyes13\"\npassword = \"EYES13-CRED\"\n",
    ),
    (
        ".config/pypoetry/auth.toml",
        "[http-basic.corp]\nusername = \"eyes13\"\npassword = \"EYES13-CRED\"\n",
    ),
    (
        ".config/pdm/config.toml",
        "[repository.corp]\nurl = \"https://pypi.internal.test/\"\nusername = \"eyes13\"\npassword = \"EYES13-CRED\"\n",
    ),
    (
        ".local/share/python_keyring/keyring_pass.cfg",
        "[https://pypi.internal.test/]\neyes13 = EYES13-CRED\n",
    ),
    (
        ".bundle/config",
        "---\nBUNDLE_GEMS__INTERNAL__TEST: \"eyes13:EYES13-CRED\"\n",
    ),
    (
        ".local/share/gem/credentials",
        "---\n:rubygems_api_key: rubygems_EYES13-CRED\n",
    ),
    (
        ".config/pnpm/rc",
        "//npm.internal.test/:_authToken=EYES13-CRED\n",
    ),
    (".cache/huggingface/token", "hf_EYES13-CRED\n"),
    (
        ".terraformrc",
        "credentials \"app.terraform.test\" {\n  token = \"EYES13-CRED\"\n}\n",
    ),
    (
        ".config/helm/repositories.yaml",
        "repositories:\n- name: corp\n  url: https://charts.internal.test\n  username: eyes13\n  password: EYES13-CRED\n",
    ),
    (
        ".config/configstore/firebase-tools.json",
        "{\"tokens\": {\"refresh_token\": \"EYES13-CRED\"}}\n",
    ),
    (
        ".config/netlify/config.json",
        "{\"users\": {\"u\": {\"auth\": {\"token\": \"EYES13-CRED\"}}}}\n",
    ),
    (
        ".local/share/com.vercel.cli/auth.json",
        "{\"token\": \"EYES13-CRED\"}\n",
    ),
    (
        ".config/sops/age/keys.txt",
        "# public key: age1eyes13\nAGE-SECRET-KEY-EYES13-CRED\n",
    ),
];

/// Class 10 (credentials readable by the wrong installs) and 7 (secrets
/// nobody listed). A dependency's postinstall (npm's nested hook domain,
/// where README says no credential is readable) reads each file of
/// [`UNLISTED_CREDENTIALS`]: every one is read, with no `cred.read`
/// finding, in protect and in block. pip's `pip.conf` is persistence for
/// writes (`policy/persistence.toml`) but no credential for reads; the
/// plan's `readable_credentials` names only npm's and yarn's rc files and
/// `~/.netrc`, so pip's, uv's, poetry's and Bundler's own credentials are
/// readable by every install's package code, their own manager's included.
#[test]
#[ignore = "round 13: a dependency script reads pip.conf's index password, poetry's auth.toml, uv's credentials, Bundler's and 13 other unlisted stores, no finding"]
fn a_dependency_script_reads_no_unlisted_credential_store() {
    use support::probes::{deps, probe};
    let body = format!(
        r#"
for (const rel of {:?}) {{
  t(rel, () => {{
    const s = fs.readFileSync(path.join(home, rel), "utf8");
    if (!s.includes("EYES13-CRED")) throw new Error("no marker");
  }});
}}
"#,
        UNLISTED_CREDENTIALS
            .iter()
            .map(|(p, _)| *p)
            .collect::<Vec<_>>()
    );
    let registry = NpmRegistry::start_with(vec![probe("pw-creds", &body)]);
    let mut failed = Vec::new();
    for mode in ["protect", "block"] {
        let env = ShimEnv::new(&[]);
        for (rel, text) in UNLISTED_CREDENTIALS {
            let p = env.home.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, text).unwrap();
        }
        let project = env.home.subdir("proj");
        let (r, result) = npm_install_with(
            &env,
            &registry,
            mode,
            &project,
            &deps(&["pw-creds"]),
            "pw-creds",
            &[],
        );
        assert!(
            !result.is_null(),
            "{mode}: pw-creds did not run\n{}",
            r.stderr
        );
        let read: Vec<&str> = UNLISTED_CREDENTIALS
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| result[*p] == "ok")
            .collect();
        eprintln!("{mode}: findings {:#}", r.report["findings"]);
        if !read.is_empty() {
            failed.push(format!(
                "{mode}: read by a dependency's script ({} of {}): {read:?}",
                read.len(),
                UNLISTED_CREDENTIALS.len()
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}
