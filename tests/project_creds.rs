//! Secrets a project's configuration would direct (issue 9, round 15's
//! bypasses 11 and 12), and the ways the user's own configuration keeps
//! them working: a token the user binds to a registry reaches it, with or
//! without the project's same line; a token only the project's file sends
//! is removed and said, until the user's policy lists it in
//! `project_credentials`.

use crate::support;
use crate::support::ShimEnv;
use std::fs;

/// What the registry heard after one block-mode `npm install` with
/// `user` as `~/.npmrc`, `project` as the project's `.npmrc`, `policy` as
/// the user's policy and `own` as the project's `.pkgwarden.toml` (`{P}`
/// is the registry's port).
fn npm_heard(
    user: &str,
    project: &str,
    policy: &str,
    own: &str,
) -> (Vec<String>, support::installs::Installed) {
    let (port, heard) = support::listeners::header_sink();
    let fill = |t: &str| t.replace("{P}", &port.to_string());
    let env = ShimEnv::new(&[]);
    let dir = env.home.subdir("proj");
    fs::write(
        dir.join("package.json"),
        support::probes::deps(&["pw-anything"]).to_string(),
    )
    .unwrap();
    fs::write(dir.join(".npmrc"), fill(project)).unwrap();
    fs::write(env.home.path().join(".npmrc"), fill(user)).unwrap();
    let policy_file = env.home.path().join(".config/pkgwarden/policy.toml");
    fs::create_dir_all(policy_file.parent().unwrap()).unwrap();
    fs::write(&policy_file, policy).unwrap();
    fs::write(dir.join(".pkgwarden.toml"), own).unwrap();
    let r = support::installs::install(
        &env,
        "block",
        &["npm", "install"],
        &dir,
        &[("NPM_TOKEN", "PW-TWIN-TOKEN".to_string())],
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    let heard = heard.lock().unwrap().clone();
    (heard, r)
}

#[test]
fn an_npm_token_goes_where_the_user_binds_it_and_nowhere_a_project_chooses() {
    let registry = "registry=http://127.0.0.1:{P}/\n";
    let bound = "//127.0.0.1:{P}/:_authToken=${NPM_TOKEN}\n";
    let sent = |heard: &[String]| heard.iter().any(|h| h.contains("PW-TWIN-TOKEN"));
    // The user's ~/.npmrc binds it; the project only names the registry,
    // or repeats the user's line.
    for project in [registry.to_string(), format!("{registry}{bound}")] {
        let (heard, r) = npm_heard(bound, &project, "", "");
        assert!(sent(&heard), "{project}: {heard:?}\n{}", r.stderr);
        assert!(!r.stderr.contains("project_credentials"), "{}", r.stderr);
    }
    // Only the project's file binds it: removed, and said with the key.
    let (heard, r) = npm_heard("", &format!("{registry}{bound}"), "", "");
    assert!(!sent(&heard), "{heard:?}");
    assert!(
        r.stderr.contains("removed NPM_TOKEN") && r.stderr.contains("project_credentials"),
        "{}",
        r.stderr
    );
    let removed = r.report["env"]["removed"].to_string();
    assert!(removed.contains("NPM_TOKEN"), "{removed}");
    // The user lets the project have it.
    let (heard, r) = npm_heard(
        "",
        &format!("{registry}{bound}"),
        "project_credentials = [\"NPM_TOKEN\"]\n",
        "",
    );
    assert!(sent(&heard), "{heard:?}\n{}", r.stderr);
    // A project's own policy file may not.
    let (heard, r) = npm_heard(
        "",
        &format!("{registry}{bound}"),
        "",
        "project_credentials = [\"NPM_TOKEN\"]\n",
    );
    assert!(!sent(&heard), "{}", r.stderr);
    assert!(
        r.stderr.contains("ignored `project_credentials`"),
        "{}",
        r.stderr
    );
}

/// uv: the index the project names is the user's when the user's own
/// `uv.toml` gives the same name the same URL; then its login is sent.
#[test]
fn a_uv_index_login_reaches_the_index_the_user_configured() {
    if which::which("uv").is_err() {
        eprintln!("skipped: no uv");
        return;
    }
    for (user_url, sent) in [(true, true), (false, false)] {
        let (heard, r) =
            support::installs::uv_index_login_sent("twin", "PW-TWIN-UV", |env, url| {
                if user_url {
                    let conf = env.home.config_dir().join("uv/uv.toml");
                    fs::create_dir_all(conf.parent().unwrap()).unwrap();
                    fs::write(
                        &conf,
                        format!("[[index]]\nname = \"internal\"\nurl = \"{url}\"\n"),
                    )
                    .unwrap();
                }
            });
        assert_eq!(
            heard, sent,
            "user's uv.toml names it: {user_url}\n{}",
            r.stderr
        );
        assert_eq!(
            r.stderr.contains("removed UV_INDEX_INTERNAL_PASSWORD"),
            !sent,
            "{}",
            r.stderr
        );
    }
}
