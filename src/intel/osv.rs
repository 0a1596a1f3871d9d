//! OSV records (the OSV JSON schema) read into index entries.
//!
//! Only what the index needs is read: the id, the summary, and each affected
//! package's ecosystem, name and versions. A file that is not an OSV record
//! is refused (the import then changes nothing); a range this reader cannot
//! evaluate counts as every version, the closed side for a feed of known
//! malicious packages.

use serde::Deserialize;
use std::fmt;

/// The package ecosystems the index keeps (OSV's names, matched without case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    /// Python packages (pip, uv, poetry, pipx).
    Pypi,
    /// npm packages (npm, yarn, pnpm).
    Npm,
    /// Ruby gems (gem, bundle).
    RubyGems,
    /// conda packages.
    Conda,
    /// Homebrew formulas and casks.
    Homebrew,
}

impl Ecosystem {
    /// Every ecosystem the index keeps.
    pub const ALL: [Ecosystem; 5] = [
        Self::Pypi,
        Self::Npm,
        Self::RubyGems,
        Self::Conda,
        Self::Homebrew,
    ];

    /// The ecosystem OSV calls `name` (case-insensitive), if the index keeps it.
    pub fn from_osv(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "pypi" => Some(Self::Pypi),
            "npm" => Some(Self::Npm),
            "rubygems" => Some(Self::RubyGems),
            "conda" => Some(Self::Conda),
            "homebrew" => Some(Self::Homebrew),
            _ => None,
        }
    }

    /// The key the index file uses.
    pub fn key(self) -> &'static str {
        match self {
            Self::Pypi => "pypi",
            Self::Npm => "npm",
            Self::RubyGems => "rubygems",
            Self::Conda => "conda",
            Self::Homebrew => "homebrew",
        }
    }

    /// The ecosystem of an index key.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::from_osv(key)
    }

    /// A package name as the registry compares it: PEP 503 for Python
    /// (`Foo_Bar.baz` is `foo-bar-baz`), lower case for npm, conda and
    /// Homebrew, as written for gems (whose names are case-sensitive).
    pub fn normalize(self, name: &str) -> String {
        let name = name.trim();
        match self {
            Self::Pypi => {
                let mut out = String::with_capacity(name.len());
                let mut sep = false;
                for c in name.chars() {
                    if matches!(c, '-' | '_' | '.') {
                        sep = true;
                    } else {
                        if sep && !out.is_empty() {
                            out.push('-');
                        }
                        sep = false;
                        out.extend(c.to_lowercase());
                    }
                }
                out
            }
            Self::RubyGems => name.to_string(),
            Self::Npm | Self::Conda | Self::Homebrew => name.to_ascii_lowercase(),
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Which versions of a package a record names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Versions {
    /// Every version (an open range from 0, or a range not evaluated here).
    All,
    /// These versions only.
    Listed(Vec<String>),
}

/// One affected package of one record: a line of the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The package's ecosystem.
    pub ecosystem: Ecosystem,
    /// The package name, normalized ([`Ecosystem::normalize`]).
    pub name: String,
    /// The versions the record names.
    pub versions: Versions,
    /// The OSV id (`MAL-2025-1234`).
    pub id: String,
    /// The record's summary (or the start of its details).
    pub summary: String,
}

/// What one OSV document gave.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The entries of kept ecosystems.
    pub entries: Vec<Entry>,
    /// Affected packages of ecosystems the index does not keep.
    pub skipped: usize,
    /// The record's `modified` time, as written (RFC 3339).
    pub modified: Option<String>,
    /// Not a malicious-package record (no `MAL-` id or alias: an ordinary
    /// vulnerability advisory of a full OSV export), so not indexed.
    pub not_malicious: bool,
}

#[derive(Deserialize)]
struct Record {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    affected: Vec<Affected>,
}

#[derive(Deserialize)]
struct Affected {
    package: Option<Package>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    ranges: Vec<Range>,
}

#[derive(Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct Range {
    #[serde(default)]
    events: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Parses one OSV record. A withdrawn record gives no entries.
pub fn parse(text: &str) -> Result<Parsed, serde_json::Error> {
    let record: Record = serde_json::from_str(text)?;
    let mut parsed = Parsed {
        modified: record.modified.clone(),
        ..Parsed::default()
    };
    if record.withdrawn.is_some() {
        return Ok(parsed);
    }
    // A vulnerable version is not a malicious package: a full OSV export
    // holds every advisory, and only the malicious-packages ones belong here.
    let malicious = std::iter::once(&record.id)
        .chain(&record.aliases)
        .any(|id| id.starts_with("MAL-"));
    if !malicious {
        parsed.not_malicious = true;
        return Ok(parsed);
    }
    let summary = one_line(
        record
            .summary
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .or(record.details.as_deref())
            .unwrap_or(""),
    );
    for affected in &record.affected {
        let Some(package) = &affected.package else {
            continue;
        };
        let Some(ecosystem) = Ecosystem::from_osv(base_ecosystem(&package.ecosystem)) else {
            parsed.skipped += 1;
            continue;
        };
        let name = ecosystem.normalize(&package.name);
        if name.is_empty() {
            continue;
        }
        parsed.entries.push(Entry {
            ecosystem,
            name,
            versions: versions(affected),
            id: record.id.clone(),
            summary: summary.clone(),
        });
    }
    Ok(parsed)
}

/// `PyPI`, from `PyPI` or a qualified `Debian:12`-style name.
fn base_ecosystem(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

/// The versions an affected entry names. A range whose events end it (a
/// `fixed`, `last_affected` or `limit`) with a list of versions: those
/// versions (a hijacked package's bad releases). A range open to the end (an
/// `introduced` alone: later versions too), or no list: every version.
fn versions(affected: &Affected) -> Versions {
    let mut listed: Vec<String> = affected
        .versions
        .iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    listed.sort();
    listed.dedup();
    let ends = |r: &Range| {
        r.events.iter().any(|e| {
            e.contains_key("fixed") || e.contains_key("last_affected") || e.contains_key("limit")
        })
    };
    let open = affected.ranges.iter().any(|r| !ends(r));
    if listed.is_empty() || open {
        Versions::All
    } else {
        Versions::Listed(listed)
    }
}

/// Text on one line without tabs, at most 200 characters.
fn one_line(text: &str) -> String {
    let flat: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect();
    flat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_compared_as_each_registry_does() {
        assert_eq!(Ecosystem::Pypi.normalize("Foo_Bar..baz"), "foo-bar-baz");
        assert_eq!(Ecosystem::Npm.normalize("@Scope/Pkg"), "@scope/pkg");
        assert_eq!(Ecosystem::RubyGems.normalize("Rails"), "Rails");
    }

    #[test]
    fn an_open_range_from_zero_names_every_version() {
        let p = parse(
            r#"{"id":"MAL-1","summary":"Malicious code in evil (npm)",
                "affected":[{"package":{"ecosystem":"npm","name":"evil"},
                "ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}],
                "versions":["1.0.0"]}]}"#,
        )
        .unwrap();
        assert_eq!(p.entries.len(), 1);
        assert_eq!(p.entries[0].versions, Versions::All);
        assert_eq!(p.entries[0].summary, "Malicious code in evil (npm)");
    }

    #[test]
    fn listed_versions_stay_listed_and_unknown_ecosystems_are_counted() {
        let p = parse(
            r#"{"id":"MAL-2","details":"line one\n\tline two",
                "affected":[
                  {"package":{"ecosystem":"PyPI","name":"Evil_Pkg"},"versions":["2.0","1.0"]},
                  {"package":{"ecosystem":"Go","name":"x"},"versions":["1"]}]}"#,
        )
        .unwrap();
        assert_eq!(p.skipped, 1);
        assert_eq!(p.entries[0].name, "evil-pkg");
        assert_eq!(
            p.entries[0].versions,
            Versions::Listed(vec!["1.0".into(), "2.0".into()])
        );
        assert_eq!(p.entries[0].summary, "line one line two");
    }

    #[test]
    fn a_closed_range_names_its_versions_and_withdrawn_or_vulnerable_counts_nothing() {
        let p = parse(
            r#"{"id":"GHSA-x","aliases":["MAL-3"],"affected":[{"package":{"ecosystem":"npm","name":"a"},
                "versions":["1.0.0"],
                "ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"fixed":"1.0.1"}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            p.entries[0].versions,
            Versions::Listed(vec!["1.0.0".into()])
        );
        let open = parse(
            r#"{"id":"MAL-5","affected":[{"package":{"ecosystem":"npm","name":"a"},
                "versions":["1.0.0"],
                "ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(open.entries[0].versions, Versions::All);
        let cve = parse(
            r#"{"id":"GHSA-y","aliases":["CVE-1"],"affected":[{"package":{"ecosystem":"npm","name":"lodash"},
                "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"4.17.21"}]}]}]}"#,
        )
        .unwrap();
        assert!(cve.entries.is_empty() && cve.not_malicious);
        let w = parse(
            r#"{"id":"MAL-4","withdrawn":"2025-01-01T00:00:00Z",
                "affected":[{"package":{"ecosystem":"npm","name":"a"}}]}"#,
        )
        .unwrap();
        assert!(w.entries.is_empty());
    }

    #[test]
    fn what_is_not_an_osv_record_is_refused() {
        assert!(parse("{\"summary\":\"no id\"}").is_err());
        assert!(parse("[1,2]").is_err());
        assert!(parse("{\"id\":\"X\",\"affected\":{\"not\":\"a list\"}}").is_err());
    }
}
