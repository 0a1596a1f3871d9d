//! Bundler's `auto_install` setting, read as Bundler reads it: with it set,
//! `bundle exec`, `show`, `outdated` … install the missing gems first
//! (`cli.rb` `AUTO_INSTALL_CMDS`), so those commands are installs.
//!
//! Bundler takes a setting from the first source that has it: the app's
//! config (`$BUNDLE_APP_CONFIG/config`, else `<root>/.bundle/config`), the
//! `BUNDLE_*` environment, then the user's config (`$BUNDLE_CONFIG`,
//! `$BUNDLE_USER_CONFIG`, `$BUNDLE_USER_HOME/config`, `~/.bundle/config`);
//! `BUNDLE_IGNORE_CONFIG` drops both files.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The commands Bundler runs `auto_install` before (`cli.rb`).
pub const AUTO_INSTALL_CMDS: &[&str] = &[
    "show", "binstubs", "outdated", "exec", "open", "console", "licenses", "clean",
];

/// True when Bundler, run in `cwd` with the environment `env`, has
/// `auto_install` set. A Gemfile a config file moves (`BUNDLE_GEMFILE` in
/// it) is followed once, and either root setting it counts.
pub fn auto_install(cwd: &Path, env: &dyn Fn(&str) -> Option<OsString>) -> bool {
    let first = Settings::read(cwd, env, None);
    if first.truthy("BUNDLE_AUTO_INSTALL") {
        return true;
    }
    // Bundler's CLI re-reads its settings from the Gemfile a setting names.
    match first.get("BUNDLE_GEMFILE").filter(|g| !g.is_empty()) {
        Some(g) => Settings::read(cwd, env, Some(cwd.join(g))).truthy("BUNDLE_AUTO_INSTALL"),
        None => false,
    }
}

/// The sources of one Bundler run, in precedence order.
struct Settings {
    local: String,
    env: Vec<(String, String)>,
    global: String,
}

impl Settings {
    fn read(
        cwd: &Path,
        env: &dyn Fn(&str) -> Option<OsString>,
        gemfile: Option<PathBuf>,
    ) -> Settings {
        let var = |k: &str| {
            env(k)
                .map(|v| v.to_string_lossy().into_owned())
                .filter(|v| !v.is_empty())
        };
        // `ENV["BUNDLE_IGNORE_CONFIG"]`: any value, the empty one too.
        let ignore = env("BUNDLE_IGNORE_CONFIG").is_some();
        let read = |p: Option<PathBuf>| match (ignore, p) {
            (false, Some(p)) => std::fs::read_to_string(p).unwrap_or_default(),
            _ => String::new(),
        };
        let gemfile = gemfile.or_else(|| var("BUNDLE_GEMFILE").map(|g| cwd.join(g)));
        let app_config = app_config(cwd, gemfile, var("BUNDLE_APP_CONFIG"));
        let global = var("BUNDLE_CONFIG")
            .or_else(|| var("BUNDLE_USER_CONFIG"))
            .map(PathBuf::from)
            .or_else(|| var("BUNDLE_USER_HOME").map(|h| Path::new(&h).join("config")))
            .or_else(|| var("HOME").map(|h| Path::new(&h).join(".bundle/config")));
        let env = ["BUNDLE_AUTO_INSTALL", "BUNDLE_GEMFILE"]
            .iter()
            .filter_map(|k| Some((k.to_string(), env(k)?.to_string_lossy().into_owned())))
            .collect();
        Settings {
            local: read(Some(app_config.join("config"))),
            env,
            global: read(global),
        }
    }

    /// The value of `key` from the first source that has it.
    fn get(&self, key: &str) -> Option<String> {
        file_value(&self.local, key)
            .or_else(|| {
                self.env
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            })
            .or_else(|| file_value(&self.global, key))
    }

    /// Bundler's `to_bool`: false for none, ``, `false`, `f`, `no`, `n`, `0`.
    fn truthy(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| {
            !["", "false", "f", "no", "n", "0"]
                .iter()
                .any(|f| v.eq_ignore_ascii_case(f))
        })
    }
}

/// Bundler's app config directory: `BUNDLE_APP_CONFIG` (relative to the
/// root), else `<root>/.bundle`; the root is the Gemfile's directory (the
/// one given, else `gems.rb` or `Gemfile` found upward), else the parent
/// of a `.bundle` directory found upward, else `cwd/.bundle` itself.
fn app_config(cwd: &Path, gemfile: Option<PathBuf>, app: Option<String>) -> PathBuf {
    let upward = |f: &dyn Fn(&Path) -> bool| cwd.ancestors().find(|d| f(d)).map(Path::to_path_buf);
    let root = gemfile
        .and_then(|g| g.parent().map(Path::to_path_buf))
        .or_else(|| upward(&|d| d.join("gems.rb").is_file() || d.join("Gemfile").is_file()))
        .or_else(|| upward(&|d| d.join(".bundle").is_dir()));
    match (root, app) {
        (Some(r), Some(a)) => r.join(a),
        (Some(r), None) => r.join(".bundle"),
        (None, _) => cwd.join(".bundle"),
    }
}

/// A top-level key's value in Bundler's YAML subset (`KEY: "value"`).
fn file_value(text: &str, key: &str) -> Option<String> {
    text.split(['\n', '\r']).find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            return None;
        }
        let v = rest.trim();
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|q| v.strip_prefix(*q)?.strip_suffix(*q))
            .unwrap_or(v);
        Some(unquoted.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_environment_and_each_config_file_set_it() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let proj = t.path().join("proj");
        let sub = proj.join("lib/deep");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::create_dir_all(home.join(".bundle")).unwrap();
        std::fs::write(proj.join("Gemfile"), "").unwrap();
        let h = home.to_str().unwrap();
        assert!(!auto_install(&sub, &env_of(&[("HOME", h)])));
        assert!(auto_install(
            &sub,
            &env_of(&[("HOME", h), ("BUNDLE_AUTO_INSTALL", "true")])
        ));
        assert!(!auto_install(
            &sub,
            &env_of(&[("HOME", h), ("BUNDLE_AUTO_INSTALL", "false")])
        ));
        assert!(!auto_install(
            &sub,
            &env_of(&[("HOME", h), ("BUNDLE_AUTO_INSTALL", "")])
        ));
        // The user's config.
        std::fs::write(
            home.join(".bundle/config"),
            "---\nBUNDLE_AUTO_INSTALL: \"1\"\n",
        )
        .unwrap();
        assert!(auto_install(&sub, &env_of(&[("HOME", h)])));
        // The environment outranks it; BUNDLE_IGNORE_CONFIG drops it.
        assert!(!auto_install(
            &sub,
            &env_of(&[("HOME", h), ("BUNDLE_AUTO_INSTALL", "no")])
        ));
        assert!(!auto_install(
            &sub,
            &env_of(&[("HOME", h), ("BUNDLE_IGNORE_CONFIG", "")])
        ));
        std::fs::remove_file(home.join(".bundle/config")).unwrap();
        // The project's config, found from a subdirectory, outranks the
        // environment.
        std::fs::create_dir_all(proj.join(".bundle")).unwrap();
        std::fs::write(
            proj.join(".bundle/config"),
            "---\nBUNDLE_AUTO_INSTALL: 'yes'\n",
        )
        .unwrap();
        assert!(auto_install(
            &sub,
            &env_of(&[("HOME", h), ("BUNDLE_AUTO_INSTALL", "0")])
        ));
        // BUNDLE_APP_CONFIG moves it (relative to the root).
        let moved = env_of(&[("HOME", h), ("BUNDLE_APP_CONFIG", "cfg")]);
        assert!(!auto_install(&sub, &moved));
        std::fs::create_dir_all(proj.join("cfg")).unwrap();
        std::fs::write(proj.join("cfg/config"), "BUNDLE_AUTO_INSTALL: true\n").unwrap();
        assert!(auto_install(&sub, &moved));
        // BUNDLE_USER_CONFIG names the user's file.
        let other = t.path().join("other.yml");
        std::fs::write(&other, "BUNDLE_AUTO_INSTALL: \"true\"\n").unwrap();
        assert!(auto_install(
            &home,
            &env_of(&[("HOME", h), ("BUNDLE_USER_CONFIG", other.to_str().unwrap())])
        ));
    }

    #[test]
    fn a_gemfile_a_config_names_is_followed() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::create_dir_all(a.join(".bundle")).unwrap();
        std::fs::create_dir_all(b.join(".bundle")).unwrap();
        std::fs::write(a.join("Gemfile"), "").unwrap();
        std::fs::write(b.join("Gemfile"), "").unwrap();
        std::fs::write(
            a.join(".bundle/config"),
            "BUNDLE_GEMFILE: \"../b/Gemfile\"\n",
        )
        .unwrap();
        let env = env_of(&[]);
        assert!(!auto_install(&a, &env));
        std::fs::write(b.join(".bundle/config"), "BUNDLE_AUTO_INSTALL: \"true\"\n").unwrap();
        assert!(auto_install(&a, &env));
    }

    #[test]
    fn keys_are_whole_top_level_names() {
        assert_eq!(
            file_value("BUNDLE_AUTO_INSTALL: \"x\"", "BUNDLE_AUTO_INSTALL").as_deref(),
            Some("x")
        );
        assert_eq!(
            file_value("BUNDLE_AUTO_INSTALL_X: \"x\"", "BUNDLE_AUTO_INSTALL"),
            None
        );
        assert_eq!(
            file_value("  BUNDLE_AUTO_INSTALL: \"x\"", "BUNDLE_AUTO_INSTALL"),
            None
        );
    }
}
