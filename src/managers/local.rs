//! Local projects an install builds (`pip install .`, `pip install -e DIR`,
//! `uv pip install -e .`): where inside them their build backend writes.
//!
//! The backend is the one the project names (`[build-system] build-backend`
//! in its `pyproject.toml`); what each backend writes in the project is data
//! in `policy/build_outputs.toml`. The plan grants exactly those paths, made
//! before the install (landlock rules attach to existing files) and removed
//! after it when the build left them empty, never the project as a whole.

use super::InstallRequest;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Debug, Default, Deserialize)]
struct BuildOutputs {
    backends: BTreeMap<String, Backend>,
}

/// What one backend writes in the project, per kind of build.
#[derive(Debug, Default, Deserialize)]
struct Backend {
    wheel: Vec<String>,
    editable: Vec<String>,
}

fn data() -> &'static BuildOutputs {
    static D: OnceLock<BuildOutputs> = OnceLock::new();
    D.get_or_init(|| {
        toml::from_str(include_str!("../../policy/build_outputs.toml")).unwrap_or_default()
    })
}

/// What a local project's build writes in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outputs {
    /// Paths that exist already (an earlier build's egg-info).
    pub existing: Vec<PathBuf>,
    /// Paths that do not exist yet: made before the install, removed after
    /// when still empty.
    pub transient: Vec<PathBuf>,
    /// Why something could not be derived (an unknown backend, a name only
    /// `setup.py` computes), for the plan's notes.
    pub notes: Vec<String>,
}

/// The local project directories a pip-style request builds, each with
/// whether it is an editable build: positional paths (`.`, `./pkg`,
/// `/abs/dir`, `.[extra]`, `file:` URLs, `name @ file:///dir`) and
/// `-e`/`--editable` values, when they are directories holding a
/// `pyproject.toml` or `setup.py`.
pub fn python_projects(req: &InstallRequest, cwd: &Path) -> Vec<(PathBuf, bool)> {
    let mut out: Vec<(PathBuf, bool)> = Vec::new();
    let from_files: Vec<(String, bool)> = req
        .option_values("requirement")
        .into_iter()
        .flat_map(|f| requirement_lines(&cwd.join(crate::paths::expand_tilde(f))))
        .collect();
    let words = req
        .packages
        .iter()
        .map(|w| (w.as_str(), false))
        .chain(req.option_values("editable").into_iter().map(|w| (w, true)))
        .chain(from_files.iter().map(|(w, e)| (w.as_str(), *e)));
    for (w, editable) in words {
        if let Some(dir) = local_dir(w, cwd, editable)
            && (dir.join("pyproject.toml").is_file() || dir.join("setup.py").is_file())
            && !out.contains(&(dir.clone(), editable))
        {
            out.push((dir, editable));
        }
    }
    out
}

/// The requirements of a requirements file (`-r FILE`) that may name a
/// local project: `-e PATH`/`--editable PATH` lines (editable) and bare
/// lines (pip resolves both against the working directory).
fn requirement_lines(file: &Path) -> Vec<(String, bool)> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let editable = ["-e ", "-e\t", "--editable ", "--editable="]
            .iter()
            .find_map(|p| line.strip_prefix(p));
        match editable {
            Some(w) => out.push((w.trim().to_string(), true)),
            None if !line.starts_with('-') => out.push((line.to_string(), false)),
            None => {}
        }
    }
    out
}

/// The directory a requirement word names, when it names one on disk. A
/// positional word is a path only when it looks like one (pip's rule); an
/// editable one whenever it is a directory.
fn local_dir(word: &str, cwd: &Path, editable: bool) -> Option<PathBuf> {
    let spec = word.rsplit_once(" @ ").map_or(word, |(_, url)| url).trim();
    let path = if let Some(rest) = spec.strip_prefix("file://") {
        rest.to_string()
    } else if let Some(rest) = spec.strip_prefix("file:") {
        rest.to_string()
    } else if editable || spec.starts_with('.') || spec.contains('/') {
        spec.to_string()
    } else {
        return None;
    };
    // `.[dev]`: extras follow the path.
    let path = path
        .split('[')
        .next()
        .unwrap_or(&path)
        .trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    let dir = cwd.join(crate::paths::expand_tilde(path));
    let dir = dir.canonicalize().ok()?;
    dir.is_dir().then_some(dir)
}

/// The backend module a project names; setuptools' legacy backend when it
/// names none (PEP 517).
pub fn backend(project: &Path) -> String {
    let named = std::fs::read_to_string(project.join("pyproject.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| {
            t.get("build-system")?
                .get("build-backend")?
                .as_str()
                .map(String::from)
        });
    let b = named.unwrap_or_else(|| "setuptools.build_meta".into());
    b.split(':').next().unwrap_or(&b).trim().to_string()
}

/// What building `project` (an editable build when `editable`) writes in
/// it, per its backend.
pub fn build_outputs(project: &Path, editable: bool) -> Outputs {
    let mut out = Outputs::default();
    let backend = backend(project);
    let Some(b) = data().backends.get(&backend) else {
        out.notes.push(format!(
            "{}: build backend `{backend}` is not in policy/build_outputs.toml: what it writes in the project is not granted (extra_write_paths adds it)",
            project.display()
        ));
        return out;
    };
    let mut wanted: Vec<PathBuf> = Vec::new();
    let paths = if editable { &b.editable } else { &b.wheel };
    for rel in paths {
        if rel == "{egg_info}" {
            let base = egg_base(project);
            if base != project {
                // The directory the packages live in (`src/`): setuptools
                // makes the egg-info there. Granted as it is: an empty
                // egg-info made beforehand beside the packages is read as
                // an installed distribution while the build runs.
                wanted.push(base);
                continue;
            }
            // An earlier build's egg-info, whatever its name.
            wanted.extend(
                std::fs::read_dir(&base)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir() && p.extension().is_some_and(|x| x == "egg-info")),
            );
            match setuptools_name(project) {
                Some(name) => wanted.push(base.join(format!("{}.egg-info", egg_name(&name)))),
                None if !wanted.iter().any(|w| w.extension().is_some_and(|x| x == "egg-info")) => {
                    out.notes.push(format!(
                        "{}: the project's name is computed by its setup.py: its egg-info directory is not granted (extra_write_paths adds it)",
                        project.display()
                    ))
                }
                None => {}
            }
        } else {
            wanted.push(project.join(rel));
        }
    }
    for p in wanted {
        let list = if p.exists() {
            &mut out.existing
        } else {
            &mut out.transient
        };
        if !list.contains(&p) {
            list.push(p);
        }
    }
    out
}

/// Where setuptools puts the egg-info: the directory a project declares
/// for its root package (`package-dir`), else `src/` (the src layout
/// setuptools discovers), else the project.
fn egg_base(project: &Path) -> PathBuf {
    let declared = std::fs::read_to_string(project.join("pyproject.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| {
            t.get("tool")?
                .get("setuptools")?
                .get("package-dir")?
                .get("")?
                .as_str()
                .map(String::from)
        })
        .or_else(|| {
            setup_cfg(project, "options", "package_dir").and_then(|v| {
                v.lines()
                    .map(str::trim)
                    .find_map(|l| l.strip_prefix('=').map(|d| d.trim().to_string()))
            })
        });
    [declared.map(|d| project.join(d)), Some(project.join("src"))]
        .into_iter()
        .flatten()
        .find(|d| d.is_dir())
        .unwrap_or_else(|| project.to_path_buf())
}

/// The project's name as setuptools reads it: `[project] name`, setup.cfg's
/// `[metadata] name`, or a literal `name="…"` in setup.py.
fn setuptools_name(project: &Path) -> Option<String> {
    let from_toml = std::fs::read_to_string(project.join("pyproject.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("project")?.get("name")?.as_str().map(String::from));
    from_toml
        .or_else(|| setup_cfg(project, "metadata", "name"))
        .or_else(|| setup_py_name(project))
}

/// `key` of `[section]` in the project's setup.cfg (continuation lines kept).
fn setup_cfg(project: &Path, section: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(project.join("setup.cfg")).ok()?;
    let mut in_section = false;
    let mut value: Option<String> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            if value.is_some() {
                break;
            }
            in_section = t == format!("[{section}]");
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) && !t.is_empty() {
                v.push('\n');
                v.push_str(t);
                continue;
            }
            break;
        }
        if let Some((k, v)) = t.split_once(['=', ':'])
            && k.trim() == key
        {
            value = Some(v.trim().to_string());
        }
    }
    value
}

/// A literal `name="…"` keyword argument in setup.py.
fn setup_py_name(project: &Path) -> Option<String> {
    let text = std::fs::read_to_string(project.join("setup.py")).ok()?;
    let mut rest = text.as_str();
    while let Some(i) = rest.find("name") {
        let before = rest[..i].chars().next_back();
        let after = rest[i + 4..].trim_start();
        rest = &rest[i + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(v) = after.strip_prefix('=') else {
            continue;
        };
        let v = v.trim_start();
        let Some(q) = v.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        let body = &v[1..];
        if let Some(end) = body.find(q) {
            return Some(body[..end].to_string());
        }
    }
    None
}

/// The egg-info file name setuptools derives from a project name: runs of
/// characters other than letters, digits and `.` become `_`.
fn egg_name(name: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

/// The local package directories an npm install links and builds in place:
/// path specs on the command line (`./pkg`, `../pkg`, `/abs`, `~/pkg`,
/// `file:…`, `name@file:…`) and, for a plain `npm install`, the project's
/// `file:` and `link:` dependencies. npm runs their lifecycle scripts
/// (node-gyp's `build/` included) in their own directory and installs their
/// dependencies into their `node_modules`, as for the project itself.
pub fn npm_packages(req: &InstallRequest, cwd: &Path, project: &Path) -> Vec<PathBuf> {
    let mut specs: Vec<(String, PathBuf)> = req
        .packages
        .iter()
        .map(|w| (w.clone(), cwd.to_path_buf()))
        .collect();
    if req.packages.is_empty()
        && let Some(manifest) = std::fs::read(project.join("package.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    {
        for key in [
            "dependencies",
            "devDependencies",
            "optionalDependencies",
            "peerDependencies",
        ] {
            if let Some(deps) = manifest[key].as_object() {
                specs.extend(
                    deps.values()
                        .filter_map(|v| v.as_str())
                        .map(|v| (v.to_string(), project.to_path_buf())),
                );
            }
        }
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for (spec, base) in specs {
        // `name@file:../x`: the part after the name's `@`.
        let spec = match spec.find("@file:").or(spec.find("@link:")) {
            Some(i) if i > 0 => spec[i + 1..].to_string(),
            _ => spec,
        };
        let path = if let Some(rest) = spec.strip_prefix("file:").or(spec.strip_prefix("link:")) {
            rest.trim_start_matches("//").to_string()
        } else if spec.starts_with('.') || spec.starts_with('/') || spec.starts_with("~/") {
            spec
        } else {
            continue;
        };
        let dir = base.join(crate::paths::expand_tilde(&path));
        if let Ok(dir) = dir.canonicalize()
            && dir.join("package.json").is_file()
            && !out.contains(&dir)
        {
            out.push(dir);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managers::Opt;
    use crate::model::Tool;

    fn req(packages: &[&str], editable: &[&str]) -> InstallRequest {
        InstallRequest {
            tool: Tool::Pip,
            command: "install".into(),
            packages: packages.iter().map(|s| s.to_string()).collect(),
            options: editable
                .iter()
                .map(|e| Opt {
                    name: "editable".into(),
                    value: Some(e.to_string()),
                })
                .collect(),
        }
    }

    #[test]
    fn npm_local_packages_from_the_line_and_the_manifest() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        for d in ["app", "a", "b", "c"] {
            std::fs::create_dir(root.join(d)).unwrap();
            std::fs::write(root.join(d).join("package.json"), "{}").unwrap();
        }
        let app = root.join("app");
        let r = |pkgs: &[&str]| InstallRequest {
            tool: Tool::Npm,
            command: "install".into(),
            packages: pkgs.iter().map(|s| s.to_string()).collect(),
            options: Vec::new(),
        };
        assert_eq!(
            npm_packages(&r(&["../a", "left-pad", "b@file:../b"]), &app, &app),
            vec![root.join("a"), root.join("b")]
        );
        std::fs::write(
            app.join("package.json"),
            r#"{"dependencies": {"c": "file:../c", "x": "^1"}, "devDependencies": {"a": "link:../a"}}"#,
        )
        .unwrap();
        assert_eq!(
            npm_packages(&r(&[]), &app, &app),
            vec![root.join("c"), root.join("a")]
        );
    }

    #[test]
    fn egg_names_follow_setuptools() {
        assert_eq!(egg_name("St-Pkg"), "St_Pkg");
        assert_eq!(egg_name("st.two"), "st.two");
        assert_eq!(egg_name("a -- b"), "a_b");
    }

    #[test]
    fn local_paths_are_found_in_every_spelling() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        for d in ["a", "b", "c", "d"] {
            std::fs::create_dir(root.join(d)).unwrap();
        }
        std::fs::write(root.join("a/setup.py"), "").unwrap();
        std::fs::write(root.join("b/pyproject.toml"), "").unwrap();
        std::fs::write(root.join("c/pyproject.toml"), "").unwrap();
        let r = req(
            &["./a[dev]", "requests", "x @ file:///nonexistent", "d/"],
            &["b", &format!("file://{}/c", root.display())],
        );
        assert_eq!(
            python_projects(&r, &root),
            vec![
                (root.join("a"), false),
                (root.join("b"), true),
                (root.join("c"), true)
            ]
        );
        let r = req(&["."], &[]);
        assert_eq!(
            python_projects(&r, &root.join("a")),
            vec![(root.join("a"), false)]
        );
        // A requirements file naming local projects.
        std::fs::write(
            root.join("dev.txt"),
            "# dev\n-e ./b\nrequests>=2\n./a  # the app\n--index-url http://x/\n",
        )
        .unwrap();
        let mut r = req(&[], &[]);
        r.options.push(Opt {
            name: "requirement".into(),
            value: Some("dev.txt".into()),
        });
        assert_eq!(
            python_projects(&r, &root),
            vec![(root.join("b"), true), (root.join("a"), false)]
        );
    }

    #[test]
    fn setuptools_outputs_name_the_egg_info_where_it_goes() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        std::fs::create_dir(p.join("src")).unwrap();
        std::fs::write(
            p.join("pyproject.toml"),
            "[build-system]\nbuild-backend = \"setuptools.build_meta\"\n[project]\nname = \"St-Pkg\"\n",
        )
        .unwrap();
        // A src layout: setuptools writes its egg-info in src/.
        let o = build_outputs(p, true);
        assert_eq!(o.existing, vec![p.join("src")]);
        assert!(!o.transient.contains(&p.join("build")));
        assert!(o.notes.is_empty());
        let o = build_outputs(p, false);
        assert!(o.transient.contains(&p.join("build")));
        // A flat layout: the egg-info, named as setuptools names it, is made
        // in the project; nothing else of the project is granted.
        std::fs::remove_dir(p.join("src")).unwrap();
        let o = build_outputs(p, true);
        assert_eq!(o.existing, Vec::<PathBuf>::new());
        assert_eq!(
            o.transient,
            vec![p.join("St_Pkg.egg-info"), p.join(".eggs")]
        );
        // An earlier build's egg-info exists and is granted as it is.
        std::fs::create_dir(p.join("St_Pkg.egg-info")).unwrap();
        assert_eq!(
            build_outputs(p, true).existing,
            vec![p.join("St_Pkg.egg-info")]
        );
    }

    #[test]
    fn names_come_from_setup_cfg_and_setup_py() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        std::fs::write(
            p.join("setup.py"),
            "from setuptools import setup\nsetup(version='1', name = 'st.two')\n",
        )
        .unwrap();
        assert_eq!(backend(p), "setuptools.build_meta");
        assert_eq!(setuptools_name(p).as_deref(), Some("st.two"));
        std::fs::write(
            p.join("setup.cfg"),
            "[metadata]\nname = from-cfg\n[options]\npackage_dir =\n    =lib\n",
        )
        .unwrap();
        std::fs::create_dir(p.join("lib")).unwrap();
        assert_eq!(setuptools_name(p).as_deref(), Some("from-cfg"));
        assert_eq!(egg_base(p), p.join("lib"));
        std::fs::write(p.join("setup.py"), "setup(name=NAME)\n").unwrap();
        std::fs::remove_file(p.join("setup.cfg")).unwrap();
        let o = build_outputs(p, true);
        assert_eq!(o.notes.len(), 1, "{o:?}");
    }

    #[test]
    fn flit_writes_nothing_and_an_unknown_backend_is_a_note() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        std::fs::write(
            p.join("pyproject.toml"),
            "[build-system]\nbuild-backend = \"flit_core.buildapi\"\n",
        )
        .unwrap();
        assert_eq!(build_outputs(p, true), Outputs::default());
        assert_eq!(build_outputs(p, false), Outputs::default());
        std::fs::write(
            p.join("pyproject.toml"),
            "[build-system]\nbuild-backend = \"mybackend:api\"\n",
        )
        .unwrap();
        let o = build_outputs(p, false);
        assert!(o.existing.is_empty() && o.transient.is_empty());
        assert!(o.notes[0].contains("mybackend"), "{o:?}");
    }
}
