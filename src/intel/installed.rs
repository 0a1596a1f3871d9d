//! Which packages an install put on disk, read from the paths it wrote.
//!
//! The proxy refuses a known-malicious archive as it is downloaded, but an
//! archive the proxy never sees still installs: one taken from the
//! manager's cache (downloaded before the feed knew it), a lockfile's
//! integrity hit, a tunnel the proxy could not read. After the install,
//! each package directory it wrote is named here and looked up too.
//!
//! Names come from where the manager put the package (the directory it chose
//! from the dependency's name), never from the package's own metadata alone;
//! versions from every place that states one (the package's manifest, the
//! manager's hidden lockfile, pnpm's store path). A package whose version
//! cannot be read is looked up as any version: the closed side.

use super::archive;
use super::osv::Ecosystem;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// A package an install wrote, with the versions the disk states for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// Its ecosystem (the layout it was read from).
    pub ecosystem: Ecosystem,
    /// The package's names: where the manager put it, and what the disk
    /// records for it besides (an npm alias's real name, the core metadata's
    /// `Name:`); each is looked up.
    pub names: Vec<String>,
    /// Every version stated for it (empty: none could be read).
    pub versions: Vec<String>,
    /// Its directory (or the metadata directory that names it).
    pub dir: PathBuf,
}

/// Largest manifest or lockfile read (far above real ones; a bound on memory).
const MANIFEST_MAX: u64 = 16 << 20;

/// The packages of `ecosystem` among the paths an install wrote, in the
/// order first written.
pub fn packages<'p>(
    ecosystem: Ecosystem,
    written: impl Iterator<Item = &'p Path>,
) -> Vec<Installed> {
    let mut found: BTreeMap<PathBuf, (usize, Installed)> = BTreeMap::new();
    for (i, p) in written.enumerate() {
        let hit = match ecosystem {
            Ecosystem::Npm => npm_dir(p).map(|(dir, name)| (dir, name, Vec::new())),
            Ecosystem::Pypi => named_dir(p, |c| {
                let url = match c.strip_suffix(".dist-info") {
                    Some(stem) => format!("/{stem}-py3-none-any.whl"),
                    None => format!("/{}.egg", c.strip_suffix(".egg-info")?),
                };
                Some(archive::readings(ecosystem, &url))
            }),
            Ecosystem::RubyGems => gem_dir(p),
            Ecosystem::Conda => conda_meta(p),
            Ecosystem::Homebrew => None,
        };
        if let Some((dir, name, versions)) = hit {
            found.entry(dir.clone()).or_insert((
                i,
                Installed {
                    ecosystem,
                    names: vec![name],
                    versions,
                    dir,
                },
            ));
        }
    }
    let mut out: Vec<(usize, Installed)> = found.into_values().collect();
    out.sort_by_key(|(i, _)| *i);
    let mut lockfiles = Lockfiles::default();
    out.into_iter()
        .map(|(_, mut p)| {
            let (names, versions) = match ecosystem {
                Ecosystem::Npm => npm_records(&p.dir, &p.names[0], &mut lockfiles),
                Ecosystem::Pypi => core_metadata(&p.dir),
                _ => (Vec::new(), Vec::new()),
            };
            for n in names {
                add(&mut p.names, n);
            }
            for v in versions {
                add(&mut p.versions, v);
            }
            p
        })
        .collect()
}

/// Adds `v` to `to` unless it is empty or already there.
fn add(to: &mut Vec<String>, v: String) {
    if !v.is_empty() && !to.contains(&v) {
        to.push(v);
    }
}

/// `Name:` and `Version:` of the core metadata in a `.dist-info`
/// (`METADATA`) or `.egg-info` (`PKG-INFO`) directory: the wheel names its
/// directory itself, so what its metadata says is looked up too.
fn core_metadata(dir: &Path) -> (Vec<String>, Vec<String>) {
    let file = if dir.extension().is_some_and(|e| e == "dist-info") {
        "METADATA"
    } else {
        "PKG-INFO"
    };
    let Some(text) = crate::detect::read_regular_text(&dir.join(file), MANIFEST_MAX) else {
        return (Vec::new(), Vec::new());
    };
    let (mut names, mut versions) = (Vec::new(), Vec::new());
    for line in text.lines().take_while(|l| !l.trim().is_empty()) {
        if let Some(v) = line.strip_prefix("Name:") {
            add(&mut names, v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Version:") {
            add(&mut versions, v.trim().to_string());
        }
    }
    (names, versions)
}

fn components(p: &Path) -> Vec<&str> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect()
}

/// `…/node_modules/<name>` or `…/node_modules/@scope/<name>`: the deepest
/// package directory `p` lies in (or is), with the package's name.
fn npm_dir(p: &Path) -> Option<(PathBuf, String)> {
    let parts = components(p);
    let at = parts.iter().rposition(|c| *c == "node_modules")?;
    let first = *parts.get(at + 1)?;
    // `.bin`, `.package-lock.json`, `.pnpm`, `.cache`: the manager's own.
    if first.starts_with('.') {
        return None;
    }
    let (name, len) = if first.starts_with('@') {
        (format!("{first}/{}", parts.get(at + 2)?), at + 3)
    } else {
        (first.to_string(), at + 2)
    };
    let dir: PathBuf = std::iter::once("/")
        .chain(parts[..len].iter().copied())
        .collect();
    Some((dir, name))
}

/// The other names and the versions the disk states for the npm package
/// in `dir`, installed as `name`: its `package.json` (an alias, `"x":
/// "npm:evil@1"`, installs `evil`'s manifest under `x`), the hidden
/// lockfile of the outermost `node_modules`, and pnpm's store directory
/// (`.pnpm/<name>@<version>…/node_modules/<name>`, only when that entry is
/// this package: its dependencies lie beside it as links).
fn npm_records(dir: &Path, name: &str, lockfiles: &mut Lockfiles) -> (Vec<String>, Vec<String>) {
    let (mut names, mut versions) = (Vec::new(), Vec::new());
    let manifest = crate::detect::read_regular(&dir.join("package.json"), MANIFEST_MAX)
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let field = |doc: Option<&serde_json::Value>, k: &str| {
        doc.and_then(|d| d.get(k)?.as_str().map(str::to_string))
    };
    names.extend(field(manifest.as_ref(), "name"));
    versions.extend(field(manifest.as_ref(), "version"));
    let parts = components(dir);
    if let Some(root) = parts.iter().position(|c| *c == "node_modules") {
        let base: PathBuf = std::iter::once("/")
            .chain(parts[..root].iter().copied())
            .collect();
        let entry = lockfiles.entry(&base, &parts[root..].join("/"));
        names.extend(field(entry, "name"));
        versions.extend(field(entry, "version"));
    }
    if let Some(store) = parts.iter().rposition(|c| *c == ".pnpm")
        && let Some(entry) = parts.get(store + 1)
    {
        // `name@1.0.0`, `@scope+name@1.0.0_peer`, `name@1.0.0(peer@2)`.
        let at = entry.get(1..).and_then(|s| s.find('@')).map(|i| i + 1);
        if let Some(i) = at
            && entry[..i].replace('+', "/") == name
        {
            let v = &entry[i + 1..];
            versions.push(v.split(['_', '(']).next().unwrap_or(v).to_string());
        }
    }
    (names, versions)
}

/// The hidden lockfiles read so far, by project directory.
#[derive(Default)]
struct Lockfiles(BTreeMap<PathBuf, Option<serde_json::Value>>);

impl Lockfiles {
    /// What `node_modules/.package-lock.json` under `base` records for the
    /// package at `key` (`node_modules/a/node_modules/b`).
    fn entry(&mut self, base: &Path, key: &str) -> Option<&serde_json::Value> {
        let doc = self.0.entry(base.to_path_buf()).or_insert_with(|| {
            crate::detect::read_regular(&base.join("node_modules/.package-lock.json"), MANIFEST_MAX)
                .and_then(|b| serde_json::from_slice(&b).ok())
        });
        doc.as_ref()?.get("packages")?.get(key)
    }
}

/// The first component of `p` that `read` names, with the directory it is.
fn named_dir(
    p: &Path,
    read: impl Fn(&str) -> Option<Vec<(String, String)>>,
) -> Option<(PathBuf, String, Vec<String>)> {
    let parts = components(p);
    parts.iter().enumerate().find_map(|(i, c)| {
        let (name, _) = read(c)?.into_iter().next()?;
        let versions = read(c)?.into_iter().map(|(_, v)| v).collect();
        let dir = std::iter::once("/")
            .chain(parts[..=i].iter().copied())
            .collect();
        Some((dir, name, versions))
    })
}

/// `…/specifications/<name>-<version>[-<platform>].gemspec`, which RubyGems
/// writes for every gem it installs (a `gems/` directory alone is too
/// common a name to read as RubyGems').
fn gem_dir(p: &Path) -> Option<(PathBuf, String, Vec<String>)> {
    let parts = components(p);
    let at = parts.iter().rposition(|c| *c == "specifications")?;
    let stem = parts.get(at + 1)?.strip_suffix(".gemspec")?;
    let readings = archive::readings(Ecosystem::RubyGems, &format!("/{stem}.gem"));
    let (name, _) = readings.first()?.clone();
    let dir = std::iter::once("/")
        .chain(parts[..=at + 1].iter().copied())
        .collect();
    Some((dir, name, readings.into_iter().map(|(_, v)| v).collect()))
}

/// `…/conda-meta/<name>-<version>-<build>.json`.
fn conda_meta(p: &Path) -> Option<(PathBuf, String, Vec<String>)> {
    let parts = components(p);
    let at = parts.iter().rposition(|c| *c == "conda-meta")?;
    let stem = parts.get(at + 1)?.strip_suffix(".json")?;
    let (name, version) = archive::readings(Ecosystem::Conda, &format!("/{stem}.conda"))
        .into_iter()
        .next()?;
    let dir = std::iter::once("/")
        .chain(parts[..=at + 1].iter().copied())
        .collect();
    Some((dir, name, vec![version]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn names(e: Ecosystem, paths: &[&str]) -> Vec<(String, Vec<String>)> {
        let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        packages(e, paths.iter().map(PathBuf::as_path))
            .into_iter()
            .map(|p| (p.names.join(" "), p.versions))
            .collect()
    }

    #[test]
    fn npm_packages_are_named_by_their_directory_and_versioned_by_every_source() {
        let d = tempfile::tempdir().unwrap();
        let nm = d.path().join("proj/node_modules");
        fs::create_dir_all(nm.join("pwdep")).unwrap();
        fs::create_dir_all(nm.join("@s/x/node_modules/inner")).unwrap();
        // The package's own manifest lies about its name and version; the
        // manager's hidden lockfile states the version it installed.
        fs::write(
            nm.join("pwdep/package.json"),
            r#"{"name":"innocent","version":"0.0.1-safe"}"#,
        )
        .unwrap();
        // An alias (`"pwalias": "npm:evil@3.0.0"`): the lockfile names the
        // real package.
        fs::create_dir_all(nm.join("pwalias")).unwrap();
        fs::write(
            nm.join(".package-lock.json"),
            r#"{"packages":{"node_modules/pwdep":{"version":"1.0.0"},
               "node_modules/pwalias":{"name":"evil","version":"3.0.0"},
               "node_modules/@s/x/node_modules/inner":{"version":"2.0.0"}}}"#,
        )
        .unwrap();
        let p = |s: &str| nm.join(s).display().to_string();
        let got = names(
            Ecosystem::Npm,
            &[
                &p("pwdep/index.js"),
                &p("pwdep/package.json"),
                &p(".bin/pwdep"),
                &p(".package-lock.json"),
                &p("@s/x/node_modules/inner/lib/a.js"),
                &p("pwalias/index.js"),
            ],
        );
        assert_eq!(
            got,
            vec![
                (
                    "pwdep innocent".into(),
                    vec!["0.0.1-safe".into(), "1.0.0".into()]
                ),
                ("inner".into(), vec!["2.0.0".into()]),
                ("pwalias evil".into(), vec!["3.0.0".into()]),
            ]
        );
        // No manifest and no lockfile entry: no version, looked up as any.
        assert_eq!(
            names(Ecosystem::Npm, &[&p("@s/x/index.js")]),
            vec![("@s/x".into(), vec![])]
        );
    }

    #[test]
    fn pnpm_store_paths_state_the_version() {
        let got = names(
            Ecosystem::Npm,
            &[
                "/p/node_modules/.pnpm/pwdep@1.2.3/node_modules/pwdep/index.js",
                "/p/node_modules/.pnpm/@s+x@4.0.0_peer@1/node_modules/@s/x/a.js",
                "/p/node_modules/.pnpm/lock.yaml",
            ],
        );
        assert_eq!(
            got,
            vec![
                ("pwdep".into(), vec!["1.2.3".into()]),
                ("@s/x".into(), vec!["4.0.0".into()]),
            ]
        );
    }

    /// pnpm links a package's dependencies beside it in its store entry:
    /// `.pnpm/a@1.0.0/node_modules/b -> ../../b@2.0.0/node_modules/b`. `b`
    /// is not at `a`'s version.
    #[test]
    fn a_dependency_linked_into_a_pnpm_store_entry_has_its_own_version() {
        let d = tempfile::tempdir().unwrap();
        let store = d.path().join("p/node_modules/.pnpm");
        let b = store.join("b@2.0.0/node_modules/b");
        fs::create_dir_all(&b).unwrap();
        fs::write(b.join("package.json"), r#"{"name":"b","version":"2.0.0"}"#).unwrap();
        fs::create_dir_all(store.join("a@1.0.0/node_modules")).unwrap();
        let link = store.join("a@1.0.0/node_modules/b");
        std::os::unix::fs::symlink("../../b@2.0.0/node_modules/b", &link).unwrap();
        let got = names(Ecosystem::Npm, &[&link.display().to_string()]);
        assert_eq!(got, vec![("b".into(), vec!["2.0.0".into()])]);
    }

    /// A wheel names its `.dist-info` itself: its metadata's name and
    /// version are looked up too.
    #[test]
    fn a_dist_info_is_read_by_its_name_and_its_metadata() {
        let d = tempfile::tempdir().unwrap();
        let info = d.path().join("site-packages/evil-1.0.1.dist-info");
        fs::create_dir_all(&info).unwrap();
        fs::write(
            info.join("METADATA"),
            "Metadata-Version: 2.1\nName: Evil\nVersion: 1.0.0\n\nVersion: 9\n",
        )
        .unwrap();
        let got = names(
            Ecosystem::Pypi,
            &[&info.join("RECORD").display().to_string()],
        );
        assert_eq!(
            got,
            vec![("evil Evil".into(), vec!["1.0.1".into(), "1.0.0".into()])]
        );
    }

    #[test]
    fn python_gem_and_conda_metadata_directories() {
        assert_eq!(
            names(
                Ecosystem::Pypi,
                &[
                    "/v/lib/python3.11/site-packages/pw_dep-1.0.0.dist-info/METADATA",
                    "/v/lib/python3.11/site-packages/pw_dep/__init__.py",
                    "/v/lib/python3.11/site-packages/pwegg-2.0-py3.11.egg-info/PKG-INFO",
                ]
            ),
            vec![
                ("pw_dep".into(), vec!["1.0.0".into()]),
                ("pwegg".into(), vec!["2.0".into()]),
            ]
        );
        assert_eq!(
            names(
                Ecosystem::RubyGems,
                &[
                    "/g/gems/nokogiri-1.16.0-x86_64-linux/lib/n.rb",
                    "/g/specifications/nokogiri-1.16.0-x86_64-linux.gemspec",
                    "/g/specifications/pwgem-2.0.gemspec",
                ]
            ),
            vec![
                (
                    "nokogiri".into(),
                    vec!["1.16.0".into(), "1.16.0-x86_64-linux".into()]
                ),
                ("pwgem".into(), vec!["2.0".into()]),
            ]
        );
        assert_eq!(
            names(
                Ecosystem::Conda,
                &["/env/conda-meta/pwconda-1.0-h123_0.json"]
            ),
            vec![("pwconda".into(), vec!["1.0".into()])]
        );
    }
}
