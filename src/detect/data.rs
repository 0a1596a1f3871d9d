//! The rules' data: known-benign behaviour and endpoint classes, read from
//! `policy/benign.toml` and `policy/endpoints.toml` (compiled in).

use serde::Deserialize;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// Known-benign install behaviour.
#[derive(Debug, Default, Deserialize)]
pub struct Benign {
    /// Tool caches (`~/`-relative prefixes).
    pub tool_caches: Vec<String>,
    /// `.pth` files of well-known tools, by name, content shape and owner.
    #[serde(default)]
    pub pth_benign: Vec<PthShape>,
    /// Tokens that make a `.pth` line malicious.
    pub pth_bad_tokens: Vec<String>,
    /// Longest acceptable `.pth` line.
    pub pth_max_line: usize,
    /// Start-up file blocks written by tools the user runs on purpose.
    pub rc_blocks: Vec<(String, String)>,
    /// Syscalls runtimes probe harmlessly.
    pub probe_syscalls: Vec<String>,
    /// Programs that run the script file they are handed.
    #[serde(default)]
    pub interpreters: Vec<String>,
    /// Scratch directories every program shares (`/tmp` …).
    #[serde(default)]
    pub scratch_dirs: Vec<String>,
}

/// True when the program `argv0` (a path or a name) runs the script file it
/// is handed (`policy/benign.toml` `interpreters`).
pub fn is_interpreter(argv0: &str) -> bool {
    let name = argv0.rsplit('/').next().unwrap_or(argv0);
    benign().interpreters.iter().any(|p| wildcard(p, name))
}

/// One known-benign `.pth` file: every executing line matches one of
/// `lines` (templates, see `policy/benign.toml`), and `owner` names the
/// distribution whose RECORD lists it (`none`: none does).
#[derive(Debug, Default, Deserialize)]
pub struct PthShape {
    /// File name, with `*`.
    pub name: String,
    /// The distribution that must own it, or `none`.
    #[serde(default)]
    pub owner: Option<String>,
    /// Line templates.
    pub lines: Vec<String>,
}

/// Endpoint classes.
#[derive(Debug, Default, Deserialize)]
pub struct Endpoints {
    /// Exfiltration, paste and tunnel services (a name covers its subdomains).
    pub exfil_hosts: Vec<String>,
    /// Top-level domains of throwaway infrastructure.
    pub suspicious_tlds: Vec<String>,
    /// Cloud metadata names and addresses.
    pub metadata: Vec<String>,
    /// System services an install may reach by unix socket in protect
    /// (files, or directories whose sockets count).
    #[serde(default)]
    pub unix_services: Vec<String>,
}

/// One persistence family of THREATS.md (`policy/persistence.toml`).
#[derive(Debug, Deserialize)]
pub struct Family {
    /// The rule id (`persist.shell-rc` …).
    pub rule: crate::model::RuleId,
    /// A refused directory on the way to one of its directories is evidence.
    #[serde(default)]
    pub leads: bool,
    /// Patterns: `~/`, `./`, `{env}/` or absolute; `*`, `?`, `**`.
    pub paths: Vec<String>,
}

/// The persistence families.
#[derive(Debug, Default, Deserialize)]
pub struct Persistence {
    /// In THREATS.md's order.
    pub family: Vec<Family>,
}

/// The compiled-in persistence families (a broken file is caught by the
/// tests; at run time it would degrade to none).
pub fn persistence() -> &'static Persistence {
    static P: OnceLock<Persistence> = OnceLock::new();
    P.get_or_init(|| {
        toml::from_str(include_str!("../../policy/persistence.toml")).unwrap_or_default()
    })
}

/// Directories of installed code (`policy/installed_code.toml`).
#[derive(Debug, Default, Deserialize)]
pub struct InstalledCode {
    /// Whole path components (`node_modules`, `site-packages` …).
    pub dirs: Vec<String>,
    /// Patterns of package directories in other stores (`~/.gem/ruby/*/gems/*`):
    /// one match is one package, judged as a whole.
    #[serde(default)]
    pub packages: Vec<String>,
}

/// The package directory of another store that `path` is or lies in: the
/// prefix of `path` one of [`InstalledCode::packages`] matches, component for
/// component (`~/` is `home`).
pub fn package_dir(path: &Path, home: Option<&Path>) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    package_patterns(home).iter().find_map(|pattern| {
        // Most paths lie under no store: a byte comparison of the fixed part
        // rules them out before the component-wise match.
        let fixed = &pattern.fixed;
        let at_boundary =
            fixed.ends_with(b"/") || matches!(bytes.get(fixed.len()), None | Some(b'/'));
        if !bytes.starts_with(fixed) || !at_boundary {
            return None;
        }
        let mut out = PathBuf::new();
        let mut tc = path.components();
        for pc in pattern.path.components() {
            let tc = tc.next()?;
            match (pc, tc) {
                (Component::Normal(p), Component::Normal(t))
                    if wildcard(&p.to_string_lossy(), &t.to_string_lossy()) => {}
                (p, t) if p == t && !matches!(p, Component::Normal(_)) => {}
                _ => return None,
            }
            out.push(tc);
        }
        Some(out)
    })
}

/// One pattern of [`InstalledCode::packages`], made concrete.
#[derive(Debug)]
pub struct PackagePattern {
    /// The pattern, `~/` expanded (wildcards stay).
    pub path: PathBuf,
    /// Its components before the first wildcard: a path it matches starts
    /// with these bytes, then ends or goes on with `/`.
    fixed: Vec<u8>,
}

/// The home a pattern list was made for, and the list.
type PatternCache = (Option<PathBuf>, std::sync::Arc<Vec<PackagePattern>>);

/// [`InstalledCode::packages`] with `~/` expanded, each also through its
/// fixed part's real path when that differs (`~/.cargo` a link to another
/// disk: what the supervisor records are resolved paths). Made once per
/// home.
pub fn package_patterns(home: Option<&Path>) -> std::sync::Arc<Vec<PackagePattern>> {
    use std::os::unix::ffi::OsStrExt;
    use std::sync::{Arc, Mutex};
    static CACHE: Mutex<Option<PatternCache>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((h, list)) = cache.as_ref()
        && h.as_deref() == home
    {
        return list.clone();
    }
    let made = |path: PathBuf, fixed: &Path| PackagePattern {
        path,
        fixed: fixed.as_os_str().as_bytes().to_vec(),
    };
    let mut list = Vec::new();
    for pattern in &installed_code().packages {
        let expanded = match (pattern.strip_prefix("~/"), home) {
            (Some(rest), Some(h)) => h.join(rest),
            (Some(_), None) => continue,
            (None, _) => PathBuf::from(pattern),
        };
        let fixed: PathBuf = expanded
            .components()
            .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?']))
            .collect();
        let real = std::fs::canonicalize(&fixed).ok().filter(|r| *r != fixed);
        let alias = real.and_then(|r| {
            let path = r.join(expanded.strip_prefix(&fixed).ok()?);
            Some(made(path, &r))
        });
        list.push(made(expanded.clone(), &fixed));
        list.extend(alias);
    }
    let list = Arc::new(list);
    *cache = Some((home.map(Path::to_path_buf), list.clone()));
    list
}

/// The compiled-in installed-code directories.
pub fn installed_code() -> &'static InstalledCode {
    static C: OnceLock<InstalledCode> = OnceLock::new();
    C.get_or_init(|| {
        toml::from_str(include_str!("../../policy/installed_code.toml")).unwrap_or_default()
    })
}

/// A persistence pattern made concrete for one install: `~/` is `home`,
/// `./` is `cwd`, `{env}/` each of `envs`; `None`s are left out (no home,
/// no environment). Wildcards stay; a place whose own name holds `*`, `?`
/// or `[` is skipped (it would read as a pattern).
pub fn expand_place(
    pattern: &str,
    home: Option<&Path>,
    cwd: &Path,
    envs: &[PathBuf],
) -> Vec<String> {
    let literal = |p: &Path| {
        let s = p.to_string_lossy().into_owned();
        (!s.contains(['*', '?', '['])).then_some(s)
    };
    let join = |base: &Path, rest: &str| {
        literal(base).map(|b| format!("{}/{rest}", b.trim_end_matches('/')))
    };
    if let Some(rest) = pattern.strip_prefix("~/") {
        home.and_then(|h| join(h, rest)).into_iter().collect()
    } else if let Some(rest) = pattern.strip_prefix("./") {
        join(cwd, rest).into_iter().collect()
    } else if let Some(rest) = pattern.strip_prefix("{env}/") {
        envs.iter().filter_map(|e| join(e, rest)).collect()
    } else if pattern.starts_with('/') {
        vec![pattern.to_string()]
    } else {
        join(cwd, pattern).into_iter().collect()
    }
}

/// The Python environments (virtualenvs: a `pyvenv.cfg` a few levels up)
/// that hold `site_dirs`, as they are now.
pub fn python_envs(site_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for d in site_dirs {
        if let Some(env) = d
            .ancestors()
            .skip(1)
            .take(4)
            .find(|a| a.join("pyvenv.cfg").is_file())
            && !out.iter().any(|e| e == env)
        {
            out.push(env.to_path_buf());
        }
    }
    out
}

/// The compiled-in benign list. A broken file is a build-time mistake caught
/// by the tests; at run time it degrades to an empty list.
pub fn benign() -> &'static Benign {
    static B: OnceLock<Benign> = OnceLock::new();
    B.get_or_init(|| toml::from_str(include_str!("../../policy/benign.toml")).unwrap_or_default())
}

/// The compiled-in endpoint classes.
pub fn endpoints() -> &'static Endpoints {
    static E: OnceLock<Endpoints> = OnceLock::new();
    E.get_or_init(|| {
        toml::from_str(include_str!("../../policy/endpoints.toml")).unwrap_or_default()
    })
}

/// `*` and `?` within one name (the snapshot's matcher).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    crate::glob::match_name(pattern, text)
}

/// True when `path` lies at or under `pattern` (`~/` expanded; `*` matches
/// within one component; a trailing `/**` is the same as the directory).
pub fn under_pattern(path: &Path, pattern: &str, home: Option<&Path>) -> bool {
    let pattern = pattern.trim_end_matches("/**");
    let expanded = match (pattern.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        (Some(_), None) => return false,
        (None, _) => Path::new(pattern).to_path_buf(),
    };
    let mut pc = expanded.components();
    let mut tc = path.components();
    loop {
        match (pc.next(), tc.next()) {
            (None, _) => return true,
            (Some(_), None) => return false,
            (Some(Component::Normal(p)), Some(Component::Normal(t))) => {
                if !wildcard(&p.to_string_lossy(), &t.to_string_lossy()) {
                    return false;
                }
            }
            (Some(p), Some(t)) if p == t => {}
            _ => return false,
        }
    }
}

/// True when `host` is `name` or one of its subdomains; `*` stands for one
/// label.
pub fn host_matches(host: &str, name: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let hl: Vec<&str> = host.split('.').collect();
    let nl: Vec<&str> = name.split('.').collect();
    if nl.len() > hl.len() {
        return false;
    }
    hl[hl.len() - nl.len()..]
        .iter()
        .zip(&nl)
        .all(|(h, n)| *n == "*" || h == n)
}

/// The exfiltration service `host` (with an optional URL path) belongs to.
pub fn exfil_service(host: &str, path: Option<&str>) -> Option<&'static str> {
    endpoints()
        .exfil_hosts
        .iter()
        .map(String::as_str)
        .find(|e| match e.split_once('/') {
            Some((h, p)) => {
                host_matches(host, h)
                    && path.is_some_and(|x| x.trim_start_matches('/').starts_with(p))
            }
            None => host_matches(host, e),
        })
}

/// True when `host` (a name or an address) is a cloud metadata service.
pub fn is_metadata(host: &str) -> bool {
    let h = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    endpoints().metadata.contains(&h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_parse() {
        let b: Benign = toml::from_str(include_str!("../../policy/benign.toml")).unwrap();
        assert!(b.tool_caches.iter().any(|c| c == "~/.cache/puppeteer"));
        assert!(b.pth_max_line > 0);
        assert!(is_interpreter("/usr/bin/python3.12") && is_interpreter("sh"));
        assert!(!is_interpreter("/usr/bin/tar") && !is_interpreter("ld"));
        assert!(is_interpreter("/lib64/ld-linux-x86-64.so.2") && is_interpreter("ld.so"));
        assert!(is_interpreter("ld-musl-x86_64.so.1") && !is_interpreter("ldconfig"));
        let e: Endpoints = toml::from_str(include_str!("../../policy/endpoints.toml")).unwrap();
        let p: Persistence = toml::from_str(include_str!("../../policy/persistence.toml")).unwrap();
        assert!(p.family.len() >= 11);
        assert!(
            p.family
                .iter()
                .all(|f| f.rule.family() == "persist" && !f.paths.is_empty())
        );
        assert!(e.exfil_hosts.iter().any(|h| h == "webhook.site"));
    }

    #[test]
    fn patterns_and_hosts() {
        let home = Path::new("/home/u");
        assert!(under_pattern(
            Path::new("/home/u/.cache/puppeteer/chrome/x"),
            "~/.cache/puppeteer",
            Some(home)
        ));
        assert!(!under_pattern(
            Path::new("/home/u/.cache/puppeteerx"),
            "~/.cache/puppeteer",
            Some(home)
        ));
        assert!(under_pattern(
            Path::new("/etc/profile.d/x.sh"),
            "/etc/profile.d/*",
            None
        ));
        assert!(wildcard(
            "__editable__*.pth",
            "__editable___foo_1_0_finder.pth"
        ));
        assert!(!wildcard("*-nspkg.pth", "evil.pth"));
        assert!(host_matches("abc.webhook.site", "webhook.site"));
        assert!(!host_matches("notwebhook.site", "webhook.site"));
        assert!(host_matches("x.burpcollaborator.net", "burpcollaborator.*"));
        assert_eq!(
            exfil_service("discord.com", Some("/api/webhooks/1/2")),
            Some("discord.com/api/webhooks")
        );
        assert_eq!(exfil_service("discord.com", Some("/channels")), None);
        assert!(is_metadata("169.254.169.254"));
        assert!(is_metadata("[fd00:ec2::254]"));
    }
}
