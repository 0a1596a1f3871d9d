//! Which package (and hook) a process of the install runs for, from the
//! attribution shapes the plan carries: one generic matcher; the managers'
//! own words (directory prefixes, variables, runner names) are data their
//! adapters fill.

use crate::model::plan::{ArgHooks, Attribution};
use std::path::Path;

/// Reads the named variables of the process's environment, in order (`None`
/// where one is unset); absent when the environment is no longer readable.
pub type EnvReader<'a> = Option<&'a dyn Fn(&[&str]) -> Vec<Option<String>>>;

/// The package (`name@version`, or `name`) and hook of a process: the first
/// of `rules` its working directory, arguments or environment match.
pub fn attribute(
    rules: &[Attribution],
    cwd: Option<&str>,
    argv: Option<&[String]>,
    env: EnvReader<'_>,
) -> Option<(String, String)> {
    rules.iter().find_map(|r| one(r, cwd, argv, env))
}

fn one(
    rule: &Attribution,
    cwd: Option<&str>,
    argv: Option<&[String]>,
    env: EnvReader<'_>,
) -> Option<(String, String)> {
    match rule {
        Attribution::Env {
            name,
            version,
            hook,
        } => {
            let v = env?(&[name.as_str(), version.as_str(), hook.as_str()]);
            let get = |i: usize| v.get(i).cloned().flatten();
            Some((with_version(get(0)?, get(1)), get(2)?))
        }
        Attribution::BuildDir {
            after,
            cut,
            whole,
            metadata,
            hooks,
        } => build_dir(cwd?, argv, after, *cut, whole, metadata, hooks),
        Attribution::MetadataDir {
            marker,
            metadata,
            hook,
        } => metadata_dir(cwd?, marker, metadata, hook),
        Attribution::InstalledDir {
            before,
            after,
            hooks,
        } => {
            let parts: Vec<&str> = cwd?.split('/').collect();
            let dir = parts
                .windows(3)
                .find(|w| w[0] == before && w[2] == after)
                .map(|w| w[1])?;
            let (name, version) = dir.rsplit_once('-')?;
            Some((format!("{name}@{version}"), hook_of(hooks, argv)))
        }
        Attribution::RunnerFile {
            runner,
            suffix,
            version_key,
            hook,
        } => runner_file(argv?, runner, suffix, version_key, hook),
        Attribution::Script { trigger, .. } => {
            let argv = argv?;
            if !argv
                .iter()
                .any(|a| trigger.iter().any(|t| a.ends_with(t.as_str())))
            {
                return None;
            }
            script(rule, argv, env?)
        }
    }
}

/// `name@version`, or `name` without a version.
fn with_version(name: String, version: Option<String>) -> String {
    match version {
        Some(v) => format!("{name}@{v}"),
        None => name,
    }
}

fn hook_of(hooks: &ArgHooks, argv: Option<&[String]>) -> String {
    let argv = argv.unwrap_or_default();
    hooks
        .by_arg
        .iter()
        .find(|(suffix, _)| argv.iter().any(|a| a.ends_with(suffix.as_str())))
        .map_or(&hooks.default, |(_, h)| h)
        .clone()
}

/// A field (`Name:`) of a metadata text, trimmed, when not empty.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn build_dir(
    cwd: &str,
    argv: Option<&[String]>,
    after: &str,
    cut: char,
    whole: &str,
    metadata: &str,
    hooks: &ArgHooks,
) -> Option<(String, String)> {
    let mut parts = cwd.split('/');
    let name = loop {
        let part = parts.next()?;
        if part.starts_with(after) {
            let dir = parts.next()?;
            break dir.rsplit_once(cut).map_or(dir, |(n, _)| n).to_string();
        }
        if part.starts_with(whole) {
            break part.to_string();
        }
    };
    // The source's own metadata names the version (`name@version`, as the
    // policy's allow entries spell it). Package code may have made it a
    // FIFO: never a blocking read.
    let version = crate::detect::read_regular_text(&Path::new(cwd).join(metadata), 1 << 20)
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Version:"))
                .map(|v| v.trim().to_string())
        })
        .filter(|v| !v.is_empty());
    Some((with_version(name, version), hook_of(hooks, argv)))
}

fn metadata_dir(cwd: &str, marker: &str, metadata: &str, hook: &str) -> Option<(String, String)> {
    if !cwd.split('/').any(|p| p.starts_with(marker)) {
        return None;
    }
    // Package code may have made it a FIFO: never a blocking read.
    let text = crate::detect::read_regular_text(&Path::new(cwd).join(metadata), 1 << 20)?;
    let name = field(&text, "Name:")?;
    Some((
        with_version(name, field(&text, "Version:")),
        hook.to_string(),
    ))
}

fn runner_file(
    argv: &[String],
    runner: &str,
    suffix: &str,
    version_key: &str,
    hook: &str,
) -> Option<(String, String)> {
    let at = argv.iter().position(|a| a.ends_with(runner))?;
    let file = argv[at + 1..].last()?;
    let path = Path::new(file);
    let name = path
        .file_name()?
        .to_str()?
        .strip_suffix(suffix)?
        .to_string();
    let text = crate::detect::binary::read_head(path, 64 * 1024).unwrap_or_default();
    let version = String::from_utf8_lossy(&text).lines().find_map(|l| {
        let v = l.trim().strip_prefix(version_key)?.trim();
        Some(v.trim_matches(|c| c == '"' || c == '\'').to_string())
    });
    Some((
        with_version(name, version.filter(|v| !v.is_empty())),
        hook.to_string(),
    ))
}

fn script(
    rule: &Attribution,
    argv: &[String],
    env: &dyn Fn(&[&str]) -> Vec<Option<String>>,
) -> Option<(String, String)> {
    let Attribution::Script {
        dir,
        prefix,
        suffix,
        hooks,
        name_var,
        version_var,
        ..
    } = rule
    else {
        return None;
    };
    let stem = argv.iter().skip(1).find_map(|a| {
        let path = Path::new(a);
        let parent = path.parent()?.file_name()?;
        let file = path.file_name()?.to_str()?;
        let stem = file
            .strip_prefix(prefix.as_str())?
            .strip_suffix(suffix.as_str())?;
        (parent == dir.as_str()).then_some(stem.to_string())
    })?;
    let (name, hook) = hooks
        .iter()
        .find_map(|h| Some((stem.strip_suffix(&format!("-{h}"))?.to_string(), h)))?;
    let v = env(&[name_var.as_str(), version_var.as_str()]);
    // The environment must name the same package as the script.
    if v.first().cloned().flatten()? != name {
        return None;
    }
    Some((
        with_version(name, v.get(1).cloned().flatten()),
        hook.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_processes_are_attributed_by_their_directory() {
        let rules = crate::managers::attribution();
        let at = |cwd: Option<&str>, argv: Option<&[String]>| attribute(&rules, cwd, argv, None);
        let argv = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            at(
                Some("/tmp/pkgwarden-1-0/pip-install-ab12/pwsetup_0f9e"),
                Some(&*argv("python setup.py egg_info"))
            ),
            Some(("pwsetup".into(), "setup.py".into()))
        );
        assert_eq!(
            at(
                Some("/h/gems/gems/pwgem-1.0.0/ext/pwgem"),
                Some(&*argv("/usr/bin/ruby3.1 -I /x extconf.rb"))
            ),
            Some(("pwgem@1.0.0".into(), "extconf.rb".into()))
        );
        assert_eq!(
            at(
                Some("/h/gems/gems/pwgem-1.0.0/ext/pwgem"),
                Some(&*argv("make"))
            ),
            Some(("pwgem@1.0.0".into(), "ext-build".into()))
        );
        assert_eq!(at(Some("/h/gems/gems/pwgem-1.0.0/lib"), None), None);
        assert_eq!(at(Some("/home/u/proj"), None), None);
        // uv: the unpacked source's PKG-INFO, only in uv's sdist cache.
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("uv/sdists-v11/index/ab/pwuv/1.0.0/xy/src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("PKG-INFO"),
            "Metadata-Version: 2.1\nName: pwuv\nVersion: 1.0.0\n",
        )
        .unwrap();
        assert_eq!(
            at(src.to_str(), None),
            Some(("pwuv@1.0.0".into(), "build-backend".into()))
        );
        let elsewhere = d.path().join("proj");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("PKG-INFO"), "Name: x\n").unwrap();
        assert_eq!(at(elsewhere.to_str(), None), None);
    }

    #[test]
    fn a_lifecycle_scripts_own_variables_come_first_and_need_the_environment() {
        let rules = crate::managers::attribution();
        let argv: Vec<String> = ["python", "setup.py", "build"].map(String::from).to_vec();
        let cwd = Some("/tmp/pip-install-ab12/pwsetup_0f9e");
        let env = |names: &[&str]| {
            names
                .iter()
                .map(|n| match *n {
                    "npm_package_name" => Some("pwnpm".to_string()),
                    "npm_lifecycle_event" => Some("postinstall".to_string()),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            attribute(&rules, cwd, Some(&argv), Some(&env)),
            Some(("pwnpm".into(), "postinstall".into()))
        );
        // Without the environment (after the fact), the directory decides.
        assert_eq!(
            attribute(&rules, cwd, Some(&argv), None),
            Some(("pwsetup".into(), "setup.py".into()))
        );
        assert_eq!(attribute(&[], cwd, Some(&argv), Some(&env)), None);
    }
}
