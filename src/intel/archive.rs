//! Which package and version a registry URL downloads, from its path.
//!
//! Each ecosystem names its archives its own way; a name that can be split
//! more than one way gives every reading (each is looked up: a feed hit on
//! any of them refuses the download, the closed side).

use super::osv::Ecosystem;

/// The file name endings of Python source distributions.
pub const SDIST_SUFFIXES: [&str; 11] = [
    ".tar.gz",
    ".tgz",
    ".zip",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tlz",
    ".tar",
    ".tar.lz",
    ".tar.lzma",
];
/// The `(name, version)` readings of the archive `path` fetches (a URL path,
/// percent-encoded); none when it is not an archive (an index page, a
/// packument, metadata). The path is decoded and normalized first, as an
/// origin would before serving it.
pub fn readings(ecosystem: Ecosystem, path: &str) -> Vec<(String, String)> {
    let path = normalize(&decode(path));
    match ecosystem {
        Ecosystem::Npm => npm(&path),
        Ecosystem::Pypi => python(&path),
        Ecosystem::RubyGems => gem(&path),
        Ecosystem::Conda => conda(&path).into_iter().collect(),
        Ecosystem::Homebrew => Vec::new(),
    }
}

/// True when `path` has the shape of an npm tarball, whatever the install's
/// manager (a Python build that runs npm fetches through the same proxy).
pub fn npm_shaped(path: &str) -> bool {
    tarball_shaped(&normalize(&decode(path)))
}

/// [`npm_shaped`] of a decoded, normalized path.
fn tarball_shaped(path: &str) -> bool {
    path.contains("/-/") && path.to_ascii_lowercase().ends_with(".tgz")
}

/// True when `path` has a shape of `ecosystem`'s archives that no other
/// ecosystem's archives have: an npm tarball under `/-/`, a wheel or egg,
/// a `.gem`, a `.conda`.
pub fn exclusive(ecosystem: Ecosystem, path: &str) -> bool {
    let path = normalize(&decode(path));
    let file = path.rsplit('/').next().unwrap_or("");
    let ends = |ext: &str| strip_ext(file, ext).is_some();
    match ecosystem {
        Ecosystem::Npm => tarball_shaped(&path),
        Ecosystem::Pypi => ends(".whl") || ends(".egg"),
        Ecosystem::RubyGems => ends(".gem"),
        Ecosystem::Conda => ends(".conda"),
        Ecosystem::Homebrew => false,
    }
}

/// `/a//b/./c;x=1/../d/` as an origin serves it: each segment cut at `;`,
/// empty and `.` segments dropped, `..` resolved.
fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        let seg = seg.split(';').next().unwrap_or("");
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// `stem` without `ext`, compared without case.
fn strip_ext<'a>(file: &'a str, ext: &str) -> Option<&'a str> {
    let cut = file.len().checked_sub(ext.len())?;
    (file.is_char_boundary(cut) && file[cut..].eq_ignore_ascii_case(ext)).then(|| &file[..cut])
}

/// `/<name>/-/<base>-<version>.tgz`, `/@scope/<name>/-/…` (also with `%2f`),
/// and the file named with its scope (`/@s/x/-/@s/x-1.0.0.tgz`), under any
/// path prefix of the registry. A file that does not carry the directory's
/// name (`/x/-/evil-1.0.0.tgz`: no registry names its tarballs so, but an
/// origin that serves by file name serves it) is read by the file name
/// alone, every way it splits, with the directory's scope and without.
fn npm(path: &str) -> Vec<(String, String)> {
    let Some((before, file)) = path.rsplit_once("/-/") else {
        return Vec::new();
    };
    let file = file.rsplit('/').next().unwrap_or("");
    let Some(stem) = strip_ext(file, ".tgz") else {
        return Vec::new();
    };
    let mut parts = before.rsplit('/');
    let last = parts.next().unwrap_or("");
    let scope = parts.next().filter(|s| s.starts_with('@'));
    let name = match scope {
        Some(scope) => format!("{scope}/{last}"),
        None => last.to_string(),
    };
    let cut = last.len();
    let version = (stem.len() > cut + 1
        && stem.is_char_boundary(cut)
        && stem[..cut].eq_ignore_ascii_case(last))
    .then(|| &stem[cut..])
    .and_then(|v| v.strip_prefix('-'))
    .filter(|v| !v.is_empty());
    if let Some(version) = version {
        return vec![(name, version.to_string())];
    }
    let mut out = Vec::new();
    for (base, version) in splits(stem, |_| true) {
        if let Some(scope) = scope {
            out.push((format!("{scope}/{base}"), version.clone()));
        }
        out.push((base, version));
    }
    out
}

/// A wheel (`<name>-<version>-….whl`), an egg, or an sdist in any archive
/// format pip reads, the last path component.
fn python(path: &str) -> Vec<(String, String)> {
    let file = path.rsplit('/').next().unwrap_or("");
    if let Some(stem) = strip_ext(file, ".whl").or_else(|| strip_ext(file, ".egg")) {
        let mut parts = stem.split('-');
        return match (parts.next(), parts.next()) {
            (Some(n), Some(v)) if !n.is_empty() && !v.is_empty() => {
                vec![(n.to_string(), v.to_string())]
            }
            _ => Vec::new(),
        };
    }
    SDIST_SUFFIXES
        .iter()
        .find_map(|ext| strip_ext(file, ext))
        .map(|stem| splits(stem, pep440ish))
        .unwrap_or_default()
}

/// Whether `v` reads as a PEP 440 version (`1.0`, `v2.0rc1`, `1.0.post1`,
/// `1.0-1`, `1.0+local`): its letters (before a local part) are only the
/// standard's tags. Keeps `foo-2fa-1.0.tar.gz` from also reading as `foo`.
fn pep440ish(v: &str) -> bool {
    const TAGS: [&str; 12] = [
        "a", "b", "c", "rc", "alpha", "beta", "pre", "preview", "post", "rev", "r", "dev",
    ];
    let public = v.split('+').next().unwrap_or("").to_ascii_lowercase();
    let public = public.strip_prefix('v').unwrap_or(&public);
    public.starts_with(|c: char| c.is_ascii_digit())
        && public
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
            .all(|w| TAGS.contains(&w))
        && public
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '!'))
}

/// `<name>-<version>[-<platform>].gem`.
fn gem(path: &str) -> Vec<(String, String)> {
    let file = path.rsplit('/').next().unwrap_or("");
    let Some(stem) = strip_ext(file, ".gem") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, version) in splits(stem, |_| true) {
        match version.split_once('-') {
            // The version without the platform it was built for.
            Some((head, platform)) if platform_like(platform) => {
                out.push((name.clone(), head.to_string()));
                out.push((name, version));
            }
            Some(_) => {}
            None => out.push((name, version)),
        }
    }
    out
}

/// `x86_64-linux`, `java`, `arm64-darwin-21`: a gem platform, not more name.
fn platform_like(s: &str) -> bool {
    const WORDS: [&str; 14] = [
        "x86",
        "x64",
        "i386",
        "i686",
        "amd64",
        "arm",
        "aarch64",
        "universal",
        "java",
        "linux",
        "darwin",
        "mingw",
        "mswin",
        "freebsd",
    ];
    let s = s.to_ascii_lowercase();
    WORDS.iter().any(|w| s.contains(w))
}

/// `<name>-<version>-<build>.conda` or `.tar.bz2`.
fn conda(path: &str) -> Option<(String, String)> {
    let file = path.rsplit('/').next()?;
    let stem = strip_ext(file, ".conda").or_else(|| strip_ext(file, ".tar.bz2"))?;
    let (rest, _build) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    (!name.is_empty() && !version.is_empty()).then(|| (name.to_string(), version.to_string()))
}

/// Every split of `stem` at a `-` followed by a digit (or by `v` and a
/// digit), as (name, version), where `keep` accepts the version.
fn splits(stem: &str, keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let bytes = stem.as_bytes();
    let digit_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    (1..bytes.len())
        .filter(|&i| {
            bytes[i - 1] == b'-'
                && (digit_at(i) || (matches!(bytes[i], b'v' | b'V') && digit_at(i + 1)))
        })
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
        // Verdaccio's and Artifactory's scoped file names.
        assert_eq!(
            one(Ecosystem::Npm, "/@s%2fx/-/@s/x-1.0.0.tgz"),
            [pair("@s/x", "1.0.0")]
        );
        assert!(one(Ecosystem::Npm, "/evil").is_empty());
        assert!(one(Ecosystem::Npm, "/evil/-/latest.tgz").is_empty());
        assert!(npm_shaped("/x/evil/-/evil-1.0.0.TGZ"));
        assert!(!npm_shaped("/files/evil-1.0.tar.gz"));
    }

    #[test]
    fn paths_are_read_as_an_origin_serves_them() {
        for p in [
            "/evil/-//evil-1.0.0.tgz",
            "/evil/-/evil-1.0.0.tgz/",
            "/evil/-/evil-1.0.0.tgz;x=1",
            "/x/../evil/./-/evil-1.0.0.tgz",
            "/evil/-/%2e/evil-1.0.0.TGZ",
            "/EVIL/-/Evil-1.0.0.tgz",
        ] {
            let r = one(Ecosystem::Npm, p);
            assert_eq!(r.len(), 1, "{p}: {r:?}");
            assert_eq!(r[0].1, "1.0.0", "{p}");
        }
    }

    #[test]
    fn python_wheels_and_sdists_give_every_plausible_reading() {
        assert_eq!(
            one(
                Ecosystem::Pypi,
                "/packages/ab/cd/Evil_Pkg-1.0-py3-none-any.WHL"
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
        assert_eq!(
            one(Ecosystem::Pypi, "/f/evil-v1.0.tbz"),
            [pair("evil", "v1.0")]
        );
        // `2fa-1.0` is no version: the benign `foo-2fa` is not read as `foo`.
        assert_eq!(
            one(Ecosystem::Pypi, "/f/foo-2fa-1.0.tar.gz"),
            [pair("foo-2fa", "1.0")]
        );
        assert!(one(Ecosystem::Pypi, "/simple/evil/").is_empty());
    }

    #[test]
    fn a_tarball_named_apart_from_its_directory_is_read_by_its_file_name() {
        assert_eq!(
            one(Ecosystem::Npm, "/innocent/-/evil-pkg-1.0.0.tgz"),
            [pair("evil-pkg", "1.0.0")]
        );
        assert_eq!(
            one(Ecosystem::Npm, "/@s/innocent/-/evil-1.0.0.tgz"),
            [pair("@s/evil", "1.0.0"), pair("evil", "1.0.0")]
        );
        assert_eq!(
            one(Ecosystem::Pypi, "/f/evil-1.0.tlz"),
            [pair("evil", "1.0")]
        );
        assert!(exclusive(Ecosystem::Npm, "/x/-/x-1.0.0.tgz"));
        assert!(!exclusive(Ecosystem::Pypi, "/x/-/x-1.0.0.tgz"));
        assert!(exclusive(Ecosystem::Pypi, "/f/x-1.0-py3-none-any.WHL"));
        assert!(!exclusive(Ecosystem::Pypi, "/f/x-1.0.tar.gz"));
        assert!(exclusive(Ecosystem::RubyGems, "/gems/x-1.0.gem"));
        assert!(exclusive(Ecosystem::Conda, "/c/x-1.0-0.conda"));
        assert!(!exclusive(Ecosystem::Conda, "/c/x-1.0-0.tar.bz2"));
    }

    #[test]
    fn gems_with_and_without_a_platform_and_conda_packages() {
        let r = one(Ecosystem::RubyGems, "/gems/evil-gem-1.2.0-x86_64-linux.gem");
        assert!(r.contains(&pair("evil-gem", "1.2.0")), "{r:?}");
        assert!(r.contains(&pair("evil-gem", "1.2.0-x86_64-linux")), "{r:?}");
        assert_eq!(
            one(Ecosystem::RubyGems, "/gems/foo-2fa-1.0.gem"),
            [pair("foo-2fa", "1.0")]
        );
        assert_eq!(
            one(
                Ecosystem::Conda,
                "/conda-forge/noarch/evil-pkg-1.0-py_0.conda"
            ),
            [pair("evil-pkg", "1.0")]
        );
    }
}
