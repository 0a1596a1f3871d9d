//! Credentials bound to an index's name, and the projects that would
//! redirect them.
//!
//! uv takes an index's login from `UV_INDEX_<NAME>_USERNAME`/`_PASSWORD`
//! and poetry a source's from `POETRY_HTTP_BASIC_<NAME>_*`, whatever URL
//! the configuration gives that name. A cloned project that names an index
//! like the user's private one, at its own URL, would receive that login.
//! A name the project defines counts as the user's only where the user's
//! own configuration (its files outside the project, the environment, the
//! command line) gives the same name the same URL; every other such
//! variable is directed by the project (`sandbox::scrub` removes it unless
//! the policy's `project_credentials` names it).

use crate::model::plan::Directed;
use std::path::{Path, PathBuf};

/// One named index, where it was defined.
#[derive(Clone, Debug, PartialEq)]
pub struct Named {
    /// The name as written.
    pub name: String,
    /// Its URL.
    pub url: String,
}

/// The name as the tools spell it in a variable: upper case, every other
/// character than a letter or digit an underscore.
pub fn var_part(name: &str) -> String {
    name.chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_uppercase(),
            false => '_',
        })
        .collect()
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
}

/// The variables that carry credentials for `project`'s names that the
/// user's definitions `user` do not give the same URL. `vars` spells the
/// variables of one name's part (`UV_INDEX_{}_PASSWORD`).
pub fn directed(project: &[(PathBuf, Named)], user: &[Named], vars: &[&str]) -> Vec<Directed> {
    let mut out = Vec::new();
    for (file, n) in project {
        let part = var_part(&n.name);
        let theirs = user
            .iter()
            .any(|u| var_part(&u.name) == part && same_url(&u.url, &n.url));
        if theirs {
            continue;
        }
        for v in vars {
            let var = v.replace("{}", &part);
            if !out.iter().any(|d: &Directed| d.var == var) {
                out.push(Directed {
                    var,
                    file: file.clone(),
                });
            }
        }
    }
    out
}

/// The `[[index]]` (uv) or `[[source]]` (poetry) entries with a name and a
/// URL in `table`'s array `key`.
pub fn in_table(table: &toml::Table, key: &str) -> Vec<Named> {
    table
        .get(key)
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_table())
        .filter_map(|t| {
            Some(Named {
                name: t.get("name")?.as_str()?.to_string(),
                url: t.get("url")?.as_str()?.to_string(),
            })
        })
        .collect()
}

/// The table at `path` (`["tool", "uv"]`) of the TOML file `file`; empty
/// when the file is missing or not TOML (the tool refuses such a file).
pub fn table_at(file: &Path, path: &[&str]) -> toml::Table {
    let Ok(text) = std::fs::read_to_string(file) else {
        return toml::Table::new();
    };
    let Ok(mut t) = toml::from_str::<toml::Table>(&text) else {
        return toml::Table::new();
    };
    for key in path {
        match t.remove(*key) {
            Some(toml::Value::Table(inner)) => t = inner,
            _ => return toml::Table::new(),
        }
    }
    t
}

/// `name=url` entries of an index list (`UV_INDEX`, `--index`); a bare URL
/// has no name.
pub fn from_list(value: &str) -> Vec<Named> {
    value
        .split([' ', ','])
        .filter_map(|e| {
            let (name, url) = e.split_once('=')?;
            (!name.is_empty() && !name.contains(['/', ':'])).then(|| Named {
                name: name.to_string(),
                url: url.to_string(),
            })
        })
        .collect()
}

/// The directories a project's configuration may sit in: `project` and its
/// parents, but for HOME and `/`.
pub fn project_dirs(project: &Path, home: Option<&Path>) -> Vec<PathBuf> {
    project
        .ancestors()
        .take_while(|d| *d != Path::new("/") && Some(*d) != home)
        .map(Path::to_path_buf)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str, url: &str) -> Named {
        Named {
            name: name.into(),
            url: url.into(),
        }
    }

    #[test]
    fn a_projects_name_is_the_users_only_at_the_users_url() {
        let vars = ["UV_INDEX_{}_USERNAME", "UV_INDEX_{}_PASSWORD"];
        let f = PathBuf::from("/p/pyproject.toml");
        let project = vec![
            (f.clone(), n("internal", "http://127.0.0.1:9/simple/")),
            (f.clone(), n("my-mirror", "http://127.0.0.1:8/simple")),
        ];
        let user = [
            n("INTERNAL", "http://127.0.0.1:7/simple"),
            n("my_mirror", "http://127.0.0.1:8/simple/"),
        ];
        let got: Vec<String> = directed(&project, &user, &vars)
            .into_iter()
            .map(|d| d.var)
            .collect();
        assert_eq!(
            got,
            ["UV_INDEX_INTERNAL_USERNAME", "UV_INDEX_INTERNAL_PASSWORD"]
        );
        // No user definition at all: the project's name is its own.
        assert_eq!(directed(&project, &[], &vars).len(), 4);
    }

    #[test]
    fn names_come_from_tables_and_lists() {
        let t: toml::Table = toml::from_str(
            "[[index]]\nname = \"a\"\nurl = \"http://h/a\"\n[[index]]\nurl = \"http://h/b\"\n",
        )
        .unwrap();
        assert_eq!(in_table(&t, "index"), [n("a", "http://h/a")]);
        assert_eq!(
            from_list("x=http://h/x http://h/y,z=https://h/z"),
            [n("x", "http://h/x"), n("z", "https://h/z")]
        );
        assert_eq!(var_part("my.index-1"), "MY_INDEX_1");
    }
}
