//! Which package and version a registry URL downloads, from its path.
//!
//! Each ecosystem names its archives its own way; a name that can be split
//! more than one way gives every reading (each is looked up: a feed hit on
//! any of them refuses the download, the closed side).

use super::osv::Ecosystem;

/// The `(name, version)` readings of the archive `path` fetches (a URL path,
/// percent-encoded); none when it is not an archive (an index page, a
/// packument, metadata).
pub fn readings(ecosystem: Ecosystem, path: &str) -> Vec<(String, String)> {
    let path = decode(path);
    match ecosystem {
        Ecosystem::Npm => npm(&path).into_iter().collect(),
        Ecosystem::Pypi => python(&path),
        Ecosystem::RubyGems => gem(&path),
        Ecosystem::Conda => conda(&path).into_iter().collect(),
        Ecosystem::Homebrew => Vec::new(),
    }
}

/// `/<name>/-/<base>-<version>.tgz`, `/@scope/<name>/-/…` (also with `%2f`),
/// under any path prefix of the registry.
fn npm(path: &str) -> Option<(String, String)> {
    let (before, file) = path.rsplit_once("/-/")?;
    let stem = file.strip_suffix(".tgz")?;
    let mut parts = before.rsplit('/');
    let last = parts.next()?;
    let name = match parts.next() {
        Some(scope) if scope.starts_with('@') => format!("{scope}/{last}"),
        _ => last.to_string(),
    };
    let base = name.rsplit('/').next()?;
    let version = stem.strip_prefix(base)?.strip_prefix('-')?;
    (!version.is_empty()).then(|| (name, version.to_string()))
}

/// A wheel (`<name>-<version>-….whl`) or an sdist (`<name>-<version>.tar.gz`,
/// `.zip`, `.tar.bz2`, `.tgz`), the last path component.
fn python(path: &str) -> Vec<(String, String)> {
    let file = path.rsplit('/').next().unwrap_or("");
    if let Some(stem) = file.strip_suffix(".whl") {
        let mut parts = stem.split('-');
        return match (parts.next(), parts.next()) {
            (Some(n), Some(v)) if !n.is_empty() && !v.is_empty() => {
                vec![(n.to_string(), v.to_string())]
            }
            _ => Vec::new(),
        };
    }
    [".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz"]
        .iter()
        .find_map(|ext| file.strip_suffix(ext))
        .map(|stem| splits(stem, |_| true))
        .unwrap_or_default()
}

/// `<name>-<version>[-<platform>].gem`.
fn gem(path: &str) -> Vec<(String, String)> {
    let file = path.rsplit('/').next().unwrap_or("");
    let Some(stem) = file.strip_suffix(".gem") else {
        return Vec::new();
    };
    let mut out = splits(stem, |_| true);
    // The version without a platform suffix (`1.2.0-x86_64-linux`).
    let more: Vec<(String, String)> = out
        .iter()
        .filter_map(|(n, v)| {
            v.split_once('-')
                .map(|(head, _)| (n.clone(), head.to_string()))
        })
        .collect();
    out.extend(more);
    out
}

/// `<name>-<version>-<build>.conda` or `.tar.bz2`.
fn conda(path: &str) -> Option<(String, String)> {
    let file = path.rsplit('/').next()?;
    let stem = file
        .strip_suffix(".conda")
        .or_else(|| file.strip_suffix(".tar.bz2"))?;
    let (rest, _build) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    (!name.is_empty() && !version.is_empty()).then(|| (name.to_string(), version.to_string()))
}

/// Every split of `stem` at a `-` followed by a digit, as (name, version).
fn splits(stem: &str, keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let bytes = stem.as_bytes();
    (1..bytes.len())
        .filter(|&i| bytes[i - 1] == b'-' && bytes[i].is_ascii_digit())
        .map(|i| (stem[..i - 1].to_string(), stem[i..].to_string()))
        .filter(|(n, v)| !n.is_empty() && keep(v))
        .collect()
}

/// Percent-decoding (lossy: an invalid escape stays as written).
fn decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(e: Ecosystem, p: &str) -> Vec<(String, String)> {
        readings(e, p)
    }

    fn pair(n: &str, v: &str) -> (String, String) {
        (n.to_string(), v.to_string())
    }

    #[test]
    fn npm_tarballs_plain_scoped_and_under_a_prefix() {
        assert_eq!(
            one(Ecosystem::Npm, "/evil/-/evil-1.0.0.tgz"),
            [pair("evil", "1.0.0")]
        );
        assert_eq!(
            one(Ecosystem::Npm, "/r/npm/@s/x-y/-/x-y-2.0.0-beta.1.tgz"),
            [pair("@s/x-y", "2.0.0-beta.1")]
        );
        assert_eq!(
            one(Ecosystem::Npm, "/@s%2fx/-/x-1.0.0.tgz"),
            [pair("@s/x", "1.0.0")]
        );
        assert!(one(Ecosystem::Npm, "/evil").is_empty());
        assert!(one(Ecosystem::Npm, "/evil/-/other-1.0.0.tgz").is_empty());
    }

    #[test]
    fn python_wheels_and_sdists_give_every_reading() {
        assert_eq!(
            one(
                Ecosystem::Pypi,
                "/packages/ab/cd/Evil_Pkg-1.0-py3-none-any.whl"
            ),
            [pair("Evil_Pkg", "1.0")]
        );
        assert_eq!(
            one(Ecosystem::Pypi, "/files/foo-bar-2-1.0.tar.gz"),
            [pair("foo-bar", "2-1.0"), pair("foo-bar-2", "1.0")]
        );
        assert_eq!(
            one(Ecosystem::Pypi, "/f/x-1.0%2Blocal.zip"),
            [pair("x", "1.0+local")]
        );
        assert!(one(Ecosystem::Pypi, "/simple/evil/").is_empty());
    }

    #[test]
    fn gems_with_and_without_a_platform_and_conda_packages() {
        let r = one(Ecosystem::RubyGems, "/gems/evil-gem-1.2.0-x86_64-linux.gem");
        assert!(r.contains(&pair("evil-gem", "1.2.0")), "{r:?}");
        assert!(r.contains(&pair("evil-gem", "1.2.0-x86_64-linux")), "{r:?}");
        assert_eq!(
            one(
                Ecosystem::Conda,
                "/conda-forge/noarch/evil-pkg-1.0-py_0.conda"
            ),
            [pair("evil-pkg", "1.0")]
        );
    }
}
