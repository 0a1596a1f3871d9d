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
    /// The package's name.
    pub name: String,
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
                    name,
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
            if ecosystem == Ecosystem::Npm {
                p.versions = npm_versions(&p.dir, &mut lockfiles);
            }
            p
        })
        .collect()
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

/// The versions the disk states for the npm package in `dir`: its
/// `package.json`, the hidden lockfile of the outermost `node_modules`, and
/// pnpm's store directory (`.pnpm/<name>@<version>…/node_modules/<name>`).
fn npm_versions(dir: &Path, lockfiles: &mut Lockfiles) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty())
            && !out.contains(&v)
        {
            out.push(v);
        }
    };
    push(
        crate::detect::read_regular(&dir.join("package.json"), MANIFEST_MAX)
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("version")?.as_str().map(str::to_string)),
    );
    let parts = components(dir);
    if let Some(root) = parts.iter().position(|c| *c == "node_modules") {
        let base: PathBuf = std::iter::once("/")
            .chain(parts[..root].iter().copied())
            .collect();
        let key = parts[root..].join("/");
        push(lockfiles.version(&base, &key));
    }
    if let Some(store) = parts.iter().rposition(|c| *c == ".pnpm")
        && let Some(entry) = parts.get(store + 1)
    {
        // `name@1.0.0`, `@scope+name@1.0.0_peer`, `name@1.0.0(peer@2)`.
        let at = entry.get(1..).and_then(|s| s.find('@')).map(|i| i + 1);
        if let Some(v) = at.map(|i| &entry[i + 1..]) {
            push(Some(v.split(['_', '(']).next().unwrap_or(v).to_string()));
        }
    }
    out
}

/// The hidden lockfiles read so far, by project directory.
#[derive(Default)]
struct Lockfiles(BTreeMap<PathBuf, Option<serde_json::Value>>);

impl Lockfiles {
    /// The version `node_modules/.package-lock.json` under `base` records
    /// for the package at `key` (`node_modules/a/node_modules/b`).
    fn version(&mut self, base: &Path, key: &str) -> Option<String> {
        let doc = self.0.entry(base.to_path_buf()).or_insert_with(|| {
            crate::detect::read_regular(&base.join("node_modules/.package-lock.json"), MANIFEST_MAX)
                .and_then(|b| serde_json::from_slice(&b).ok())
        });
        doc.as_ref()?
            .get("packages")?
            .get(key)?
            .get("version")?
            .as_str()
            .map(str::to_string)
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
            .map(|p| (p.name, p.versions))
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
        fs::write(
            nm.join(".package-lock.json"),
            r#"{"packages":{"node_modules/pwdep":{"version":"1.0.0"},
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
            ],
        );
        assert_eq!(
            got,
            vec![
                ("pwdep".into(), vec!["0.0.1-safe".into(), "1.0.0".into()]),
                ("inner".into(), vec!["2.0.0".into()]),
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
