//! `intel.known-malicious` for what the install put in place: a package
//! the offline feed names that arrived without a download the proxy could
//! refuse (from the manager's cache, filled before the feed named it; a
//! local file; a TLS registry).
//!
//! About the installed-package records of each ecosystem (`package.json`
//! under `node_modules`, a `.dist-info`'s `METADATA`, a gem specification,
//! conda's `conda-meta` records), so it names their formats.

use super::{Input, Procs, finding, read_regular};
use crate::intel::KnownMalicious;
use crate::intel::osv::Ecosystem;
use crate::model::{Evidence, Finding, RuleId, Taken};
use std::collections::HashSet;
use std::path::Path;

/// Largest record read (a `package.json`, a `METADATA`).
const MAX_RECORD: u64 = 1 << 20;

/// One finding per installed package version the feed names, unless the
/// proxy already saw (and refused, or in audit reported) its download.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let Some(feed) = &input.intel else {
        return Vec::new();
    };
    let key = |eco: Ecosystem, name: &str, version: &str| {
        (
            eco,
            eco.normalize(name),
            crate::intel::version::canonical(eco, version),
        )
    };
    let mut seen: HashSet<(Ecosystem, String, String)> = input
        .requests
        .iter()
        .filter_map(|r| r.known_malicious.as_ref())
        .filter_map(|k| {
            let eco = Ecosystem::from_key(&k.ecosystem)?;
            Some(key(eco, &k.package, &k.version))
        })
        .collect();
    let mut out = Vec::new();
    for (path, event) in input.written() {
        let Some((eco, name, version)) = installed(&path) else {
            continue;
        };
        if !seen.insert(key(eco, &name, &version)) {
            continue;
        }
        let Some(known) = feed.package(eco, &name, &version) else {
            continue;
        };
        out.push(placed(&known, &path, event.pid, input, procs));
    }
    out
}

/// The finding for `known`, put in place at `path` by `pid`.
fn placed(known: &KnownMalicious, path: &Path, pid: i32, input: &Input, procs: &Procs) -> Finding {
    let what = format!("{}@{}", known.package, known.version);
    let ev = Evidence {
        paths: vec![path.display().to_string()],
        detail: Some(format!(
            "{} {what}: {} ({}); installed without a download the proxy saw (the manager's cache, a local file or a TLS registry), so its install code may have run",
            known.ecosystem, known.id, known.summary
        )),
        ..Evidence::default()
    };
    let action = if input.mode == crate::policy::Mode::Audit {
        Taken::Observed
    } else {
        Taken::Blocked
    };
    let mut f = finding(
        RuleId::IntelKnownMalicious,
        format!("Known malicious package installed: {what} ({})", known.id),
        Some(pid),
        procs,
        ev,
        action,
    );
    f.package = Some(what);
    f
}

/// The package and version an installed-package record at `path` names.
fn installed(path: &Path) -> Option<(Ecosystem, String, String)> {
    let file = path.file_name()?.to_str()?;
    let parent = path.parent()?;
    let dir = parent.file_name()?.to_str()?;
    match file {
        "package.json" if in_node_modules(parent) => {
            let v: serde_json::Value =
                serde_json::from_slice(&read_regular(path, MAX_RECORD)?).ok()?;
            let name = v["name"].as_str()?.to_string();
            let version = v["version"].as_str()?.to_string();
            Some((Ecosystem::Npm, name, version))
        }
        "METADATA" if dir.ends_with(".dist-info") => python(path),
        "PKG-INFO" if dir.ends_with(".egg-info") => python(path),
        _ if dir == "specifications" => {
            let stem = file.strip_suffix(".gemspec")?;
            let (name, version) =
                crate::intel::archive::readings(Ecosystem::RubyGems, &format!("/{stem}.gem"))
                    .into_iter()
                    .next()?;
            Some((Ecosystem::RubyGems, name, version))
        }
        _ if dir == "conda-meta" && file.ends_with(".json") => {
            let v: serde_json::Value =
                serde_json::from_slice(&read_regular(path, MAX_RECORD)?).ok()?;
            let name = v["name"].as_str()?.to_string();
            let version = v["version"].as_str()?.to_string();
            Some((Ecosystem::Conda, name, version))
        }
        _ => None,
    }
}

/// `node_modules/<name>` or `node_modules/@scope/<name>`.
fn in_node_modules(dir: &Path) -> bool {
    let up = |p: &Path| p.parent().and_then(|q| q.file_name().map(|n| n.to_owned()));
    match up(dir) {
        Some(n) if n == "node_modules" => true,
        Some(n) if n.to_string_lossy().starts_with('@') => dir
            .parent()
            .and_then(up)
            .is_some_and(|n| n == "node_modules"),
        _ => false,
    }
}

/// `Name:` and `Version:` of a core-metadata file's headers.
fn python(path: &Path) -> Option<(Ecosystem, String, String)> {
    let text = String::from_utf8_lossy(&read_regular(path, MAX_RECORD)?).into_owned();
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Name:") {
            name.get_or_insert_with(|| v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Version:") {
            version.get_or_insert_with(|| v.trim().to_string());
        }
    }
    Some((Ecosystem::Pypi, name?, version?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_records_name_their_package() {
        let d = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            p
        };
        let p = write(
            "node_modules/@s/x/package.json",
            r#"{"name":"@s/x","version":"1.0.0"}"#,
        );
        assert_eq!(
            installed(&p),
            Some((Ecosystem::Npm, "@s/x".into(), "1.0.0".into()))
        );
        let p = write(
            "node_modules/x/lib/package.json",
            r#"{"name":"x","version":"1.0.0"}"#,
        );
        assert_eq!(installed(&p), None, "a file inside a package");
        let p = write(
            "site-packages/Evil_Pkg-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: Evil_Pkg\nVersion: 1.0\n\nName: not this\n",
        );
        assert_eq!(
            installed(&p),
            Some((Ecosystem::Pypi, "Evil_Pkg".into(), "1.0".into()))
        );
        let p = write("gems/specifications/evil-gem-1.2.0.gemspec", "");
        assert_eq!(
            installed(&p),
            Some((Ecosystem::RubyGems, "evil-gem".into(), "1.2.0".into()))
        );
        let p = write(
            "env/conda-meta/evil-1.0-py_0.json",
            r#"{"name":"evil","version":"1.0"}"#,
        );
        assert_eq!(
            installed(&p),
            Some((Ecosystem::Conda, "evil".into(), "1.0".into()))
        );
    }
}
