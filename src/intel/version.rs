//! Versions as each registry compares them, so that a feed's `1.0` and an
//! archive's `1.0.0` are one version where the registry says so.

use super::osv::Ecosystem;

/// `version` in the form two spellings of one version share: PEP 440's
/// normal form for Python (`V1.0.0-RC1` and `1.0rc1` agree, trailing zero
/// release parts dropped: PyPI files a `1.0.0` upload under an existing
/// `1.0` release), npm's without a `v`/`=` prefix or build metadata (semver
/// ignores it; the registry keeps one of `1.0.0` and `1.0.0+b`); as written
/// elsewhere. A Python version that does not parse is compared lowercased.
pub fn canonical(ecosystem: Ecosystem, version: &str) -> String {
    let v = version.trim();
    match ecosystem {
        Ecosystem::Pypi => {
            let lower = v.to_ascii_lowercase();
            pep440(&lower).unwrap_or(lower)
        }
        Ecosystem::Npm => {
            let v = v.trim_start_matches(['v', '=', ' ']);
            v.split('+').next().unwrap_or(v).to_string()
        }
        _ => v.to_string(),
    }
}

/// The PEP 440 normal form of a lowercased version, trailing zeros of the
/// release dropped; `None` when it is not a PEP 440 version.
fn pep440(v: &str) -> Option<String> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let (public, local) = match v.split_once('+') {
        Some((p, l)) => (p, Some(l)),
        None => (v, None),
    };
    let mut s = Scanner { rest: public };
    let epoch = match public.split_once('!') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            s.rest = rest;
            e.trim_start_matches('0').to_string()
        }
        _ => String::new(),
    };
    let mut release = vec![s.number()?];
    while s.rest.starts_with('.') && s.rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
        s.rest = &s.rest[1..];
        release.push(s.number()?);
    }
    while release.len() > 1 && release.last().is_some_and(|n| n == "0") {
        release.pop();
    }
    let mut out = String::new();
    if !epoch.is_empty() {
        out.push_str(&epoch);
        out.push('!');
    }
    out.push_str(&release.join("."));
    // Pre-release: a, b, rc and their spellings.
    const PRE: [(&str, &str); 7] = [
        ("alpha", "a"),
        ("beta", "b"),
        ("preview", "rc"),
        ("pre", "rc"),
        ("rc", "rc"),
        ("a", "a"),
        ("b", "b"),
    ];
    if let Some(tag) = s.tag(&PRE).or_else(|| s.tag(&[("c", "rc")])) {
        out.push_str(tag);
        out.push_str(&s.optional_number());
    }
    // Post-release: `.post1`, `-r1`, `-1`.
    let implicit = s.rest.starts_with('-') && s.rest[1..].starts_with(|c: char| c.is_ascii_digit());
    if implicit {
        s.rest = &s.rest[1..];
        out.push_str(".post");
        out.push_str(&s.number()?);
    } else if s
        .tag(&[("post", "post"), ("rev", "post"), ("r", "post")])
        .is_some()
    {
        out.push_str(".post");
        out.push_str(&s.optional_number());
    }
    if s.tag(&[("dev", "dev")]).is_some() {
        out.push_str(".dev");
        out.push_str(&s.optional_number());
    }
    if !s.rest.is_empty() {
        return None;
    }
    if let Some(local) = local {
        let parts: Vec<&str> = local.split(['.', '-', '_']).collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return None;
        }
        out.push('+');
        out.push_str(&parts.join("."));
    }
    Some(out)
}

/// What is left of a version being read.
struct Scanner<'a> {
    rest: &'a str,
}

impl Scanner<'_> {
    /// Leading digits, without leading zeros (`007` is `7`).
    fn number(&mut self) -> Option<String> {
        let end = self
            .rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let n = self.rest[..end].trim_start_matches('0');
        self.rest = &self.rest[end..];
        Some(if n.is_empty() { "0" } else { n }.to_string())
    }

    /// A number after an optional separator; `0` when there is none.
    fn optional_number(&mut self) -> String {
        let save = self.rest;
        let after = self.rest.trim_start_matches(['.', '-', '_']);
        if after.len() + 1 >= self.rest.len() && after.starts_with(|c: char| c.is_ascii_digit()) {
            self.rest = after;
            if let Some(n) = self.number() {
                return n;
            }
        }
        self.rest = save;
        "0".to_string()
    }

    /// One of `tags` (the first that fits) after an optional separator: its
    /// normal spelling.
    fn tag(&mut self, tags: &[(&str, &'static str)]) -> Option<&'static str> {
        let after = self.rest.strip_prefix(['.', '-', '_']).unwrap_or(self.rest);
        let (word, normal) = tags.iter().find(|(w, _)| after.starts_with(w))?;
        self.rest = &after[word.len()..];
        Some(normal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(v: &str) -> String {
        canonical(Ecosystem::Pypi, v)
    }

    #[test]
    fn python_spellings_of_one_version_agree() {
        for (a, b) in [
            ("1.0", "1.0.0"),
            ("1", "1.0.0.0"),
            ("v1.0", "1.0"),
            ("1.0RC1", "1.0rc1"),
            ("1.0-rc.1", "1.0rc1"),
            ("1.0c1", "1.0rc1"),
            ("1.0.0alpha", "1.0a0"),
            ("1.0-beta2", "1.0b2"),
            ("1.0-1", "1.0.post1"),
            ("1.0-post1", "1.0.post1"),
            ("1.0.rev", "1.0.post0"),
            ("1.0_dev3", "1.0.dev3"),
            ("01.002", "1.2"),
            ("0!1.0", "1.0"),
            ("1.0+Local-1", "1.0+local.1"),
        ] {
            assert_eq!(py(a), py(b), "{a} vs {b}");
        }
        for (a, b) in [
            ("1.0", "1.0.1"),
            ("1.0", "1.0+local"),
            ("1.0", "1.0.post0"),
            ("1.0a1", "1.0b1"),
            ("1!1.0", "1.0"),
            ("1.0.dev1", "1.0"),
        ] {
            assert_ne!(py(a), py(b), "{a} vs {b}");
        }
        // Not PEP 440: compared as written, without case.
        assert_eq!(py("Weird_Thing"), "weird_thing");
        assert_ne!(py("1.0x"), py("1.0"));
    }

    #[test]
    fn npm_versions_without_prefix_or_build_metadata() {
        let npm = |v| canonical(Ecosystem::Npm, v);
        assert_eq!(npm("v1.0.0"), npm("1.0.0"));
        assert_eq!(npm("=1.0.0"), "1.0.0");
        assert_eq!(npm("1.0.0+build.5"), "1.0.0");
        assert_ne!(npm("1.0.0-beta"), npm("1.0.0"));
        assert_eq!(canonical(Ecosystem::RubyGems, "1.0"), "1.0");
    }
}
