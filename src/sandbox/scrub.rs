//! Which secret variables of the environment the install keeps, and which
//! of them a project's own files would send where the project chooses.
//!
//! A secret stays when the user's configuration of the manager binds it to
//! a registry (`//host/:_authToken=${NPM_TOKEN}` in `~/.npmrc`), or when it
//! is a manager's own credential setting. A cloned repository's files may
//! name a registry and the variable to send it (`${AWS_SECRET_ACCESS_KEY}`
//! as its `.npmrc`'s token; a uv index named like the user's private one):
//! such a variable is removed unless the user's policy lists it in
//! `project_credentials`.

use super::secrets;
use crate::model::plan::Directed;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What the scrub decided, by variable name (each list sorted).
#[derive(Debug, Default, PartialEq)]
pub struct Scrubbed {
    /// Removed from the install's environment.
    pub removed: Vec<String>,
    /// Kept although secret (the manager needs them).
    pub kept: Vec<String>,
    /// Removed because a project file directed them (a subset of
    /// `removed`), with that file.
    pub directed: Vec<Directed>,
}

/// The files whose references decide, and the project's directions.
pub struct Refs<'a> {
    /// The user's own configuration files.
    pub user: &'a [PathBuf],
    /// The project's configuration files.
    pub project: &'a [PathBuf],
    /// Variables the adapter found directed by a project file.
    pub directed: &'a [Directed],
}

/// True when `file` comes with the project in `cwd`: it lies in `cwd`, in
/// one of its parents or below it, but for HOME and `/` themselves (the
/// user's `~/.npmrc` is the user's even when the project sits in HOME).
pub fn is_project_file(file: &Path, cwd: &Path, home: Option<&Path>) -> bool {
    let Some(dir) = file.parent() else {
        return false;
    };
    let near = cwd.starts_with(dir) || dir.starts_with(cwd);
    near && dir != Path::new("/") && Some(dir) != home
}

/// The `${NAME}` references of a configuration text, each with the
/// registry it is bound to: `//host/path/` for npm's `//host/path/:key=`
/// lines, empty when the line binds it to no host (a default registry,
/// which a project's own `registry=` line may move).
pub fn references(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        // Comments name nothing the manager sends.
        if line.starts_with(['#', ';']) {
            continue;
        }
        let scope = line
            .strip_prefix("//")
            .and_then(|_| line.split_once('='))
            .and_then(|(key, _)| key.rsplit_once(':'))
            .map(|(scope, _)| scope.trim().to_string())
            .unwrap_or_default();
        let mut rest = line;
        while let Some(at) = rest.find("${") {
            let after = &rest[at + 2..];
            let Some(end) = after.find('}') else { break };
            // `${NAME?}` and `${NAME:-default}` name NAME too.
            let name: String = after[..end]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push((scope.clone(), name));
            }
            rest = &after[end..];
        }
    }
    out
}

fn references_of(files: &[PathBuf]) -> Vec<(PathBuf, String, String)> {
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok().map(|t| (f, t)))
        .flat_map(|(f, t)| {
            references(&t)
                .into_iter()
                .map(move |(scope, name)| (f.clone(), scope, name))
        })
        .collect()
}

/// The variables a project file references other than as the user's own
/// files do: bound to no host, or to a host no user file binds it to.
fn directed_by_references(
    user: &[(PathBuf, String, String)],
    project: &[(PathBuf, String, String)],
) -> Vec<Directed> {
    let user: BTreeSet<(&str, &str)> = user
        .iter()
        .map(|(_, scope, name)| (scope.as_str(), name.as_str()))
        .collect();
    project
        .iter()
        .filter(|(_, scope, name)| {
            scope.is_empty() || !user.contains(&(scope.as_str(), name.as_str()))
        })
        .map(|(file, _, var)| Directed {
            var: var.clone(),
            file: file.clone(),
        })
        .collect()
}

/// Which secret-looking variables of `env` the install keeps: those the
/// user's configuration of the manager references as `${NAME}`, the ones
/// a project file references the same way as the user's files do, and a
/// manager's own settings (a URL with credentials, `npm_config__authToken`).
/// A variable a project file directs elsewhere is removed unless `allowed`
/// (the policy's `project_credentials`) names it. The proxy variables are
/// replaced by pkgwarden, not removed.
pub fn scrub_env(env: &[(String, String)], refs: &Refs<'_>, allowed: &[String]) -> Scrubbed {
    // Each file read once: for what it binds, and for the names it uses.
    let (user, project) = (references_of(refs.user), references_of(refs.project));
    let mut directed: Vec<Directed> = refs.directed.to_vec();
    directed.extend(directed_by_references(&user, &project));
    let referenced: BTreeSet<&str> = user
        .iter()
        .chain(&project)
        .map(|(_, _, name)| name.as_str())
        .collect();
    let mut out = Scrubbed::default();
    for (k, v) in env {
        if secrets::is_replaced(k) {
            continue;
        }
        let steered = directed.iter().find(|d| &d.var == k);
        if let Some(d) = steered
            && !allowed.contains(k)
        {
            out.removed.push(k.clone());
            out.directed.push(d.clone());
            continue;
        }
        let by_name = secrets::is_secret_name(k);
        if !(by_name || secrets::is_secret_value(v)) {
            continue;
        }
        if referenced.contains(k.as_str())
            || (!by_name && secrets::is_manager_var(k))
            || (by_name && secrets::is_manager_auth(k))
        {
            out.kept.push(k.clone());
        } else {
            out.removed.push(k.clone());
        }
    }
    out.removed.sort();
    out.kept.sort();
    out.directed.sort_by(|a, b| a.var.cmp(&b.var));
    out.directed.dedup_by(|a, b| a.var == b.var);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn none() -> Refs<'static> {
        Refs {
            user: &[],
            project: &[],
            directed: &[],
        }
    }

    #[test]
    fn secret_shapes_are_removed_and_the_managers_own_kept() {
        let e = env(&[
            ("MIRROR", "https://u:not-real@127.0.0.1/simple"),
            ("PIP_INDEX_URL", "https://u:not-real@127.0.0.1/simple"),
            ("HTTPS_PROXY", "http://u:not-real@127.0.0.1:3128"),
            ("DATABASE_URL", "postgres://127.0.0.1/db"),
            ("HOMEPAGE", "https://127.0.0.1/"),
            ("GIT_CONFIG_VALUE_0", "AUTHORIZATION: basic bm90LXJlYWw="),
            ("BW_SESSION", "not-real"),
            ("npm_config__authToken", "not-real"),
        ]);
        let s = scrub_env(&e, &none(), &[]);
        assert_eq!(
            s.removed,
            vec!["BW_SESSION", "DATABASE_URL", "GIT_CONFIG_VALUE_0", "MIRROR"]
        );
        // npm's own token setting: npm needs it (kept, reported).
        assert_eq!(s.kept, vec!["PIP_INDEX_URL", "npm_config__authToken"]);
        assert!(s.directed.is_empty());
    }

    #[test]
    fn variables_the_users_config_references_are_kept() {
        let t = tempfile::tempdir().unwrap();
        let npmrc = t.path().join(".npmrc");
        std::fs::write(&npmrc, "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n").unwrap();
        let e = env(&[("NPM_TOKEN", "x"), ("GITHUB_TOKEN", "y"), ("PATH", "/bin")]);
        let user = [npmrc];
        let refs = Refs {
            user: &user,
            ..none()
        };
        let s = scrub_env(&e, &refs, &[]);
        assert_eq!(s.removed, vec!["GITHUB_TOKEN"]);
        assert_eq!(s.kept, vec!["NPM_TOKEN"]);
    }

    #[test]
    fn a_project_file_keeps_a_secret_only_where_the_user_binds_it() {
        let t = tempfile::tempdir().unwrap();
        let user = t.path().join("user.npmrc");
        std::fs::write(&user, "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n").unwrap();
        let project = t.path().join("project.npmrc");
        let e = env(&[
            ("NPM_TOKEN", "x"),
            ("AWS_SECRET_ACCESS_KEY", "y"),
            ("GITHUB_TOKEN", "z"),
        ]);
        let (u, pr) = ([user], [project.clone()]);
        let refs = Refs {
            user: &u,
            project: &pr,
            directed: &[],
        };
        // The same binding as the user's: kept.
        std::fs::write(&project, "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n").unwrap();
        let s = scrub_env(&e, &refs, &[]);
        assert_eq!(s.kept, vec!["NPM_TOKEN"]);
        assert!(s.directed.is_empty(), "{:?}", s.directed);
        // Another host, an unbound line, a secret the user never binds:
        // removed and said, unless the policy lets the project have it.
        std::fs::write(
            &project,
            "//127.0.0.1:9/:_authToken=${NPM_TOKEN}\n_auth=${GITHUB_TOKEN}\n//127.0.0.1:4873/:_password=${AWS_SECRET_ACCESS_KEY}\n",
        )
        .unwrap();
        let s = scrub_env(&e, &refs, &[]);
        assert_eq!(
            s.removed,
            vec!["AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "NPM_TOKEN"]
        );
        assert!(s.kept.is_empty());
        let named: Vec<&str> = s.directed.iter().map(|d| d.var.as_str()).collect();
        assert_eq!(
            named,
            ["AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "NPM_TOKEN"]
        );
        assert!(s.directed.iter().all(|d| d.file == project));
        let s = scrub_env(&e, &refs, &["NPM_TOKEN".to_string()]);
        assert_eq!(s.kept, vec!["NPM_TOKEN"]);
        assert_eq!(s.removed, vec!["AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN"]);
    }

    #[test]
    fn an_adapters_direction_removes_even_a_managers_own_setting() {
        let directed = [Directed {
            var: "UV_INDEX_INTERNAL_PASSWORD".into(),
            file: PathBuf::from("/p/pyproject.toml"),
        }];
        let refs = Refs {
            directed: &directed,
            ..none()
        };
        let e = env(&[
            ("UV_INDEX_INTERNAL_PASSWORD", "x"),
            ("UV_INDEX_OTHER_PASSWORD", "y"),
        ]);
        let s = scrub_env(&e, &refs, &[]);
        assert_eq!(s.removed, vec!["UV_INDEX_INTERNAL_PASSWORD"]);
        assert_eq!(s.kept, vec!["UV_INDEX_OTHER_PASSWORD"]);
        assert_eq!(s.directed, directed);
        let s = scrub_env(&e, &refs, &["UV_INDEX_INTERNAL_PASSWORD".into()]);
        assert!(s.removed.is_empty() && s.directed.is_empty());
    }

    #[test]
    fn references_carry_their_registry() {
        assert_eq!(
            references(
                "//r.test/npm/:_authToken=${TOKEN}\n  npmAuthToken: \"${YARN_TOKEN:-x}\"\n# ${C}\nregistry=http://r/${NOPE"
            ),
            [
                ("//r.test/npm/".to_string(), "TOKEN".to_string()),
                (String::new(), "YARN_TOKEN".to_string()),
            ]
        );
    }

    #[test]
    fn project_files_are_the_projects_directories_but_home_and_root() {
        let home = Path::new("/home/u");
        let cwd = Path::new("/home/u/src/app");
        let is = |f: &str| is_project_file(Path::new(f), cwd, Some(home));
        assert!(is("/home/u/src/app/.npmrc") && is("/home/u/src/.npmrc"));
        assert!(is("/home/u/src/app/sub/uv.toml"));
        assert!(!is("/home/u/.npmrc") && !is("/.npmrc"));
        assert!(!is("/home/u/.config/uv/uv.toml") && !is("/usr/etc/npmrc"));
    }
}
