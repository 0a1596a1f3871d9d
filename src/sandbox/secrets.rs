//! The credential stores and secret-shaped variables of `policy/secrets.toml`
//! (compiled in): which files the sandbox hides or watches, which variables
//! never reach the install.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `policy/secrets.toml`.
#[derive(Debug, Default, Deserialize)]
pub struct Secrets {
    /// Stores under `$HOME` the sandbox hides.
    pub home_hidden: Vec<String>,
    /// Credential files under `$HOME` the managers need readable.
    pub home_readable: Vec<String>,
    /// System-wide secrets.
    pub system_hidden: Vec<String>,
    /// Credential files under `$HOME` hidden from package code only: they
    /// lie in a place the install writes.
    #[serde(default)]
    pub package_code_hidden: Vec<String>,
    /// Per manager name: which of `home_readable` it reads besides the
    /// configuration files its facts name.
    #[serde(default)]
    pub manager_credentials: std::collections::BTreeMap<String, Vec<String>>,
    /// Secret-shaped variables.
    pub env: SecretEnv,
    /// Variables that move a credential store.
    #[serde(default)]
    pub moved: Vec<Moved>,
    /// A project's secret files, by name.
    #[serde(default)]
    pub project: ProjectSecrets,
}

/// The names of a project's secret files (`policy/secrets.toml` `project`).
#[derive(Debug, Default, Deserialize)]
pub struct ProjectSecrets {
    /// Whole names.
    pub names: Vec<String>,
    /// Name beginnings.
    pub prefixes: Vec<String>,
    /// Name endings.
    pub suffixes: Vec<String>,
}

/// True when a file of this name in a project's tree holds its secrets
/// (`.env.local`, `config/master.key`, `prod.tfvars`).
pub fn is_project_secret(name: &str) -> bool {
    let p = &data().project;
    p.names.iter().any(|n| n == name)
        || p.prefixes.iter().any(|x| name.starts_with(x.as_str()))
        || p.suffixes.iter().any(|x| name.ends_with(x.as_str()))
}

/// A variable that moves a credential store (`policy/secrets.toml` `moved`).
#[derive(Debug, Default, Deserialize)]
pub struct Moved {
    /// The variable.
    pub var: String,
    /// The stores inside the place it names; none: the place itself.
    #[serde(default)]
    pub entries: Vec<String>,
    /// Its value is a `:`-separated list of places.
    #[serde(default)]
    pub list: bool,
    /// A manager reads the store: hidden from package code only.
    #[serde(default)]
    pub readable: bool,
    /// The directory of HOME the variable stands for, for every listed
    /// store beneath it.
    #[serde(default)]
    pub home: Option<String>,
}

/// The credential stores that `env` (a variable's value by name) moved:
/// `(hidden, readable)`, those hidden from the whole install and those a
/// manager reads (hidden from package code only). Relative values are
/// ignored, as the tools ignore them.
pub fn moved_stores(
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let d = data();
    let (mut hidden, mut readable) = (Vec::new(), Vec::new());
    for m in &d.moved {
        let Some(value) = env(&m.var).or_else(|| env(&m.var.to_ascii_lowercase())) else {
            continue;
        };
        for place in crate::paths::named_by(&value, m.list) {
            if let Some(dir) = &m.home {
                // Every store listed beneath HOME's `dir`, at its new place.
                let under = |list: &[String]| -> Vec<PathBuf> {
                    list.iter()
                        .filter_map(|c| c.strip_prefix(dir.as_str())?.strip_prefix('/'))
                        .map(|rest| place.join(rest))
                        .collect()
                };
                hidden.extend(under(&d.home_hidden));
                readable.extend(under(&d.home_readable));
                continue;
            }
            let stores: Vec<PathBuf> = match m.entries.is_empty() {
                true => vec![place.clone()],
                false => m.entries.iter().map(|e| place.join(e)).collect(),
            };
            match m.readable {
                true => readable.extend(stores),
                false => hidden.extend(stores),
            }
        }
    }
    (hidden, readable)
}

/// The git configuration of the repository `cwd` lies in, when it holds a
/// credential (a CI checkout's `http.extraHeader = AUTHORIZATION: basic …`,
/// a remote URL with a password): the root project's own scripts and
/// builds run git there, a dependency's code has no need of it. For a
/// worktree or submodule (`.git` a file naming the git directory), that
/// directory's `config` and its common directory's.
pub fn repo_token_configs(cwd: &Path) -> Vec<PathBuf> {
    let Some(top) = cwd.ancestors().find(|a| a.join(".git").exists()) else {
        return Vec::new();
    };
    let dot = top.join(".git");
    let mut dirs = Vec::new();
    if dot.is_dir() {
        dirs.push(dot);
    } else if let Ok(text) = std::fs::read_to_string(&dot)
        && let Some(dir) = text.trim().strip_prefix("gitdir:")
    {
        let dir = top.join(dir.trim());
        if let Ok(common) = std::fs::read_to_string(dir.join("commondir")) {
            dirs.push(dir.join(common.trim()));
        }
        dirs.push(dir);
    }
    dirs.iter()
        .flat_map(|d| [d.join("config"), d.join("config.worktree")])
        .filter(|c| std::fs::read_to_string(c).is_ok_and(|t| t.lines().any(is_secret_value)))
        .collect()
}

/// The credential stores the user's configuration files name (round 15):
/// git's `credential.helper = store --file <path>`, and the client keys and
/// token files a kubeconfig names (`client-key: ~/.minikube/…`). Read from
/// `home`'s git configuration (and the file `git_global` names, git's
/// `GIT_CONFIG_GLOBAL`) and the kubeconfigs `kubeconfig` lists (the
/// default one when `None`); only absolute (or `~/`) paths, and a
/// kubeconfig's relative ones against its directory. A directory is no
/// store (a typo would hide all of it).
pub fn config_named_stores(
    home: &Path,
    kubeconfig: Option<&std::ffi::OsStr>,
    git_global: Option<&std::ffi::OsStr>,
) -> Vec<PathBuf> {
    let expand = |p: &str, base: &Path| -> Option<PathBuf> {
        let p = p.trim().trim_matches(['"', '\'']);
        match p.strip_prefix("~/") {
            Some(rest) => Some(home.join(rest)),
            None if p.is_empty() || p.starts_with('~') => None,
            None => Some(base.join(p)),
        }
    };
    let mut out = Vec::new();
    let mut gits = vec![home.join(".gitconfig"), home.join(".config/git/config")];
    gits.extend(git_global.map(PathBuf::from).filter(|g| g.is_absolute()));
    for git in gits {
        let Ok(text) = std::fs::read_to_string(git) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("helper") {
                continue;
            }
            let words: Vec<&str> = value.split_whitespace().collect();
            for (i, w) in words.iter().enumerate() {
                let file = match w.strip_prefix("--file=") {
                    Some(f) => Some(f),
                    None if *w == "--file" => words.get(i + 1).copied(),
                    None => None,
                };
                out.extend(file.and_then(|f| expand(f, home).filter(|p| p.is_absolute())));
            }
        }
    }
    let kubeconfigs: Vec<PathBuf> = match kubeconfig {
        Some(list) => std::env::split_paths(list).collect(),
        None => vec![home.join(".kube/config")],
    };
    for k in kubeconfigs.iter().filter(|k| k.is_absolute()) {
        let Ok(text) = std::fs::read_to_string(k) else {
            continue;
        };
        let dir = k.parent().unwrap_or(home);
        for line in text.lines() {
            let Some((key, value)) = line.trim().trim_start_matches("- ").split_once(':') else {
                continue;
            };
            if matches!(
                key.trim(),
                "client-key" | "client-certificate" | "tokenFile" | "token-file"
            ) {
                out.extend(expand(value, dir));
            }
        }
    }
    out.retain(|p| !p.is_dir());
    out
}

/// Which environment variables hold secrets.
#[derive(Debug, Default, Deserialize)]
pub struct SecretEnv {
    /// Whole names.
    pub exact: Vec<String>,
    /// Name endings.
    pub suffixes: Vec<String>,
    /// Words anywhere in the name.
    pub contains: Vec<String>,
    /// Name beginnings.
    pub prefixes: Vec<String>,
    /// Names the patterns match that are configuration.
    pub not_secret: Vec<String>,
    /// The managers' own configuration variables.
    pub manager_prefixes: Vec<String>,
    /// Beginnings of a manager's own credential settings: kept although
    /// their name says secret.
    #[serde(default)]
    pub manager_auth: Vec<String>,
    /// Variables pkgwarden replaces inside the sandbox.
    pub replaced: Vec<String>,
    /// Settings keyed by a host name that hold its credentials.
    #[serde(default)]
    pub per_host: Vec<PerHost>,
    /// Markers of a secret inside a value (`password=`), lower case.
    #[serde(default)]
    pub value_markers: Vec<String>,
}

/// A manager's per-host credential settings, recognised by name.
#[derive(Debug, Default, Deserialize)]
pub struct PerHost {
    /// What the name starts with.
    pub prefix: String,
    /// How a dot of the host is written in the name.
    pub dot: String,
    /// Beginnings of the settings of the same shape that are not credentials.
    #[serde(default)]
    pub not: Vec<String>,
}

impl PerHost {
    /// True when `name` (upper case) is such a setting.
    fn matches(&self, name: &str) -> bool {
        name.strip_prefix(self.prefix.as_str())
            .is_some_and(|host| host.contains(self.dot.as_str()))
            && !self.not.iter().any(|n| name.starts_with(n.as_str()))
    }
}

/// The compiled-in lists. A broken file is a build-time mistake the tests
/// catch (`the_policy_file_parses`).
pub fn data() -> &'static Secrets {
    static S: OnceLock<Secrets> = OnceLock::new();
    S.get_or_init(|| toml::from_str(include_str!("../../policy/secrets.toml")).unwrap_or_default())
}

/// True when the variable's name says it holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    let e = &data().env;
    if e.not_secret.contains(&n) {
        return false;
    }
    e.exact.contains(&n)
        || e.contains.iter().any(|s| n.contains(s.as_str()))
        || e.suffixes.iter().any(|s| n.ends_with(s.as_str()))
        || e.prefixes.iter().any(|s| n.starts_with(s.as_str()))
        || e.per_host.iter().any(|h| h.matches(&n))
}

/// True when the value carries credentials in a URL (`scheme://user:pass@`),
/// anywhere in it (a list of URLs, a connection string).
pub fn is_secret_value(value: &str) -> bool {
    // An HTTP `Authorization` header handed to git (`GIT_CONFIG_VALUE_0`
    // of an `http.extraHeader`) or to any other tool.
    let lower = value.to_ascii_lowercase();
    if lower.contains("authorization:") && (lower.contains("basic ") || lower.contains("bearer ")) {
        return true;
    }
    // A private key by value, under any name (PEM's `PRIVATE KEY-----`,
    // an armored PGP key's `PRIVATE KEY BLOCK-----`).
    if lower.contains("-----begin") && lower.contains("private key") {
        return true;
    }
    // A whole `.env` in one variable: a line that assigns a secret name.
    if value.contains('\n')
        && value.lines().any(|l| {
            l.split_once('=').is_some_and(|(k, v)| {
                let k = k.trim().trim_start_matches("export ");
                !v.trim().is_empty()
                    && !k.is_empty()
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && is_secret_name(k)
            })
        })
    {
        return true;
    }
    // A connection string's password or key (`…;AccountKey=…`, `?password=…`).
    let marked = data().env.value_markers.iter().any(|m| {
        lower.match_indices(m.as_str()).any(|(i, _)| {
            let starts = i == 0 || matches!(lower.as_bytes()[i - 1], b';' | b'&' | b'?' | b' ');
            let rest = &lower[i + m.len()..];
            starts && !rest.is_empty() && !rest.starts_with([';', '&', ' '])
        })
    });
    if marked {
        return true;
    }
    value.match_indices("://").any(|(i, _)| {
        let rest = &value[i + 3..];
        let authority = rest
            .split(['/', '?', '#', ' ', ',', ';'])
            .next()
            .unwrap_or("");
        authority
            .rsplit_once('@')
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
            // A password with no user name (`redis://:pw@host`) too.
            .is_some_and(|(_, pass)| !pass.is_empty())
    })
}

/// True for a manager's own credential setting (`npm_config__authToken`).
pub fn is_manager_auth(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    data()
        .env
        .manager_auth
        .iter()
        .any(|p| n.starts_with(p.as_str()))
}

/// True for a manager's own configuration variable.
pub fn is_manager_var(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    data()
        .env
        .manager_prefixes
        .iter()
        .any(|p| n.starts_with(p.as_str()))
}

/// True for a variable pkgwarden sets itself inside the sandbox.
pub fn is_replaced(name: &str) -> bool {
    data()
        .env
        .replaced
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repositorys_config_is_a_store_when_it_holds_a_token() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("repo");
        let sub = repo.join("app/src");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        let config = repo.join(".git/config");
        std::fs::write(&config, "[core]\n\tbare = false\n").unwrap();
        assert!(repo_token_configs(&sub).is_empty());
        std::fs::write(
            &config,
            "[http \"https://h/\"]\n\textraheader = AUTHORIZATION: basic eDp5\n",
        )
        .unwrap();
        assert_eq!(repo_token_configs(&sub), std::slice::from_ref(&config));
        // A worktree: `.git` names its git directory, whose common
        // directory holds the shared config.
        let wt = t.path().join("wt");
        let gitdir = repo.join(".git/worktrees/wt");
        std::fs::create_dir_all(&gitdir).unwrap();
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join(".git"), format!("gitdir: {}\n", gitdir.display())).unwrap();
        std::fs::write(gitdir.join("commondir"), "../..\n").unwrap();
        let found = repo_token_configs(&wt);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].canonicalize().unwrap(),
            config.canonicalize().unwrap()
        );
    }

    #[test]
    fn stores_the_users_configuration_names_are_found() {
        let d = tempfile::tempdir().unwrap();
        let h = d.path();
        std::fs::create_dir_all(h.join(".kube")).unwrap();
        std::fs::write(
            h.join(".gitconfig"),
            "[credential]\n\thelper = store --file ~/.config/s/creds\n\thelper = store --file=/srv/c\n[core]\n\tpager = less\n",
        )
        .unwrap();
        std::fs::write(
            h.join(".kube/config"),
            "users:\n- name: m\n  user:\n    client-key: ~/.minikube/k.key\n    client-certificate: certs/c.crt\n    token: abc\n",
        )
        .unwrap();
        let found = config_named_stores(h, None, None);
        assert_eq!(
            found,
            vec![
                h.join(".config/s/creds"),
                PathBuf::from("/srv/c"),
                h.join(".minikube/k.key"),
                h.join(".kube/certs/c.crt"),
            ]
        );
        // A KUBECONFIG list replaces the default file.
        let other = h.join("other.yaml");
        std::fs::write(&other, "- client-key: /etc/k.key\n").unwrap();
        let found = config_named_stores(h, Some(other.as_os_str()), None);
        assert!(found.contains(&PathBuf::from("/etc/k.key")));
        assert!(!found.contains(&h.join(".minikube/k.key")));
        // The file GIT_CONFIG_GLOBAL names; a directory named is no store.
        let global = h.join("git-global");
        std::fs::write(
            &global,
            "[credential]\n\thelper = store --file /srv/g\n\thelper = store --file ~/\n",
        )
        .unwrap();
        let found = config_named_stores(h, None, Some(global.as_os_str()));
        assert!(found.contains(&PathBuf::from("/srv/g")));
        assert!(!found.contains(&h.to_path_buf()) && !found.contains(&h.join("")));
    }

    #[test]
    fn the_policy_file_parses() {
        let s: Secrets = toml::from_str(include_str!("../../policy/secrets.toml")).unwrap();
        assert!(s.home_hidden.iter().any(|p| p == ".config/git/credentials"));
        assert!(s.home_hidden.iter().any(|p| p == ".bash_history"));
        assert!(!s.env.exact.is_empty() && !s.env.suffixes.is_empty());
    }

    #[test]
    fn stores_a_variable_moves() {
        let env = |k: &str| -> Option<std::ffi::OsString> {
            match k {
                "XDG_CONFIG_HOME" => Some("/h/xdg".into()),
                "KUBECONFIG" => Some("/h/a:/h/b:rel".into()),
                "npm_config_userconfig" => Some("/h/npmrc".into()),
                "CARGO_HOME" => Some("relative".into()),
                _ => None,
            }
        };
        let (hidden, readable) = moved_stores(env);
        for p in ["/h/xdg/gh", "/h/xdg/git/credentials", "/h/a", "/h/b"] {
            assert!(hidden.contains(&PathBuf::from(p)), "{p}: {hidden:?}");
        }
        for p in ["/h/npmrc", "/h/xdg/pip/pip.conf"] {
            assert!(readable.contains(&PathBuf::from(p)), "{p}: {readable:?}");
        }
        assert!(
            !hidden
                .iter()
                .chain(&readable)
                .any(|p| p.ends_with("credentials.toml"))
        );
    }

    #[test]
    fn names_and_values() {
        for n in [
            "SYSTEM_ACCESSTOKEN",
            "CI_JOB_JWT_V2",
            "SLACK_WEBHOOK_URL",
            "DOCKER_CREDS",
            "DATABASE_URL",
            "DEPLOY_PAT",
            "SENTRY_DSN",
            "APP_DATABASE_URL",
            "gh_pat",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["BUNDLE_GEMS__INTERNAL__TEST", "bundle_my___gems__test"] {
            assert!(is_secret_name(n) && is_manager_auth(n), "{n}");
        }
        for n in [
            "PATH",
            "PATCH_LEVEL",
            "DSN_HOST",
            "AWS_REGION",
            "URL",
            "BUNDLE_PATH",
            "BUNDLE_BUILD__NOKOGIRI",
            "BUNDLE_MIRROR__HTTPS://GEMS__TEST",
            "BUNDLE_GEM__TEST",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
        for v in [
            "postgres://u:pw@127.0.0.1/db",
            "https://user:tok@127.0.0.1/simple",
            "a https://x:y@h b",
            "redis://default:pw@h:6379",
            "redis://:pw@h:6379/0",
            "jdbc:postgresql://127.0.0.1:5432/app?user=app&password=x",
            "Server=h;Database=d;User Id=u;Password=x;",
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=x",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----",
        ] {
            assert!(is_secret_value(v), "{v}");
        }
        for n in [
            "PASSWORD",
            "SSHPASS",
            "HONEYCOMB_WRITEKEY",
            "MYAPIKEY",
            "DB_PASSWORD_FILE",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for v in [
            "https://127.0.0.1/simple",
            "ssh://git@127.0.0.1/repo.git",
            "https://127.0.0.1/a@b:c",
            "mailto:someone@example",
            "OLDPWD=/tmp",
            "password=",
            "Password=;Server=h",
            "-----BEGIN CERTIFICATE-----",
            "",
        ] {
            assert!(!is_secret_value(v), "{v}");
        }
        for n in [
            ".env",
            ".env.local",
            "app.env",
            "master.key",
            "prod.tfvars",
            "token.json",
        ] {
            assert!(is_project_secret(n), "{n}");
        }
        for n in [
            "env.ts",
            "package.json",
            "README.md",
            "keys.ts",
            "environment.yml",
        ] {
            assert!(!is_project_secret(n), "{n}");
        }
        assert!(is_manager_var("PIP_INDEX_URL") && is_manager_var("npm_config_registry"));
        assert!(!is_manager_var("MIRROR"));
        assert!(is_replaced("https_proxy") && !is_replaced("PIP_PROXY"));
    }
}
