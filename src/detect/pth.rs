//! `persist.python-startup`: `.pth` files with executable lines and
//! `sitecustomize.py`/`usercustomize.py` in site-packages directories.
//!
//! A `.pth` line starting with `import` runs at every interpreter start, so
//! it is a finding unless the file is one of the known ones of
//! `policy/benign.toml`, recognised by name, by the shape of every executing
//! line and by the distribution that owns it. Trusting an import because the
//! same distribution ships the module (the earlier rule) is exactly what the
//! `.pth` malware wave relied on: the module does the work at import. Lines
//! that carry `exec(`, `base64`, `subprocess` … say why in the evidence.

use super::data;
use super::{Evidence, Finding, Input, Procs, Severity, Taken, finding};
use crate::model::EventKind;
use crate::model::RuleId;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What a `.pth` file's content says.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Path lines only, or a known tool's file in its known shape.
    Benign,
    /// A line Python executes at every start (line number, line).
    Executes(u32, String),
    /// A line that executes code it hides or fetches (line number, line, why).
    Malicious(u32, String, String),
}

/// The lines of a `.pth` file as Python's `site` module reads them: universal
/// newlines (a lone `\r` ends a line too) and a UTF-8 byte-order mark
/// dropped, so a line hidden behind either is still seen.
fn pth_lines(content: &str) -> impl Iterator<Item = &str> {
    content
        .strip_prefix('\u{feff}')
        .unwrap_or(content)
        .split(['\n', '\r'])
}

/// True when Python executes `line` (after trimming, to be safe).
fn executes(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("import ") || t.starts_with("import\t")
}

/// The native extension module that an executing line of `content` names
/// by a quoted, possibly dotted, name and that `importlib` would load from
/// `site` for it: for `a.b`, `a.*.so` and `a/__init__.*.so` at the top,
/// then `a/b.*.so` and `a/b/__init__.*.so` (`FileFinder` tries a package
/// directory's `__init__` with the extension suffixes first, and
/// `module_from_spec` dlopens what it found: a namespace line's shape).
fn native_named(site: &Path, content: &str) -> Option<String> {
    let names: Vec<&str> = pth_lines(content)
        .filter(|l| executes(l))
        .flat_map(|l| l.split(['\'', '"']).skip(1).step_by(2))
        .filter(|q| {
            q.split('.').all(|part| {
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        })
        .collect();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    for name in names {
        let mut dir = site.to_path_buf();
        for part in name.split('.') {
            let package = dir.join(part);
            if seen.insert(package.clone()) {
                let found =
                    native_module(&dir, part).or_else(|| native_module(&package, "__init__"));
                if found.is_some() {
                    return found;
                }
            }
            dir = package;
        }
    }
    None
}

/// The extension module `stem` in `dir` (`stem.so`, `stem.<tag>.so`,
/// `.pyd`), its path.
fn native_module(dir: &Path, stem: &str) -> Option<String> {
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let n = e.file_name().to_string_lossy().into_owned();
        let native = n.ends_with(".so") || n.ends_with(".pyd");
        (native && n.strip_prefix(stem).is_some_and(|r| r.starts_with('.')))
            .then(|| dir.join(&n).display().to_string())
    })
}

/// Judges a `.pth` file's content. `owner`: the distribution (`name@version`)
/// whose RECORD lists it, installed from an index or a file (not editable).
pub fn judge(name: &str, content: &str, owner: Option<&str>) -> Verdict {
    judge_owned(name, content, owner, false)
}

/// [`judge`], where `editable` says that the owner was installed editable
/// from a project this install names (see [`editable_install`]).
pub fn judge_owned(name: &str, content: &str, owner: Option<&str>, editable: bool) -> Verdict {
    let b = data::benign();
    let known = known_shape(name, content, owner, editable);
    let mut first_exec = None;
    for (i, line) in pth_lines(content).enumerate() {
        let n = i as u32 + 1;
        if line.len() > b.pth_max_line {
            return Verdict::Malicious(
                n,
                line.to_string(),
                format!("a {}-character line", line.len()),
            );
        }
        if known || !executes(line) {
            continue;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(tok) = b
            .pth_bad_tokens
            .iter()
            .find(|tok| lower.contains(tok.as_str()))
        {
            return Verdict::Malicious(n, line.to_string(), format!("contains `{tok}`"));
        }
        if first_exec.is_none() {
            first_exec = Some((n, line.to_string()));
        }
    }
    match first_exec {
        Some((n, l)) => Verdict::Executes(n, l),
        None => Verdict::Benign,
    }
}

/// True when `content` is a known tool's file: its name, owner and every
/// executing line match one entry of the benign list.
fn known_shape(name: &str, content: &str, owner: Option<&str>, editable: bool) -> bool {
    data::benign().pth_benign.iter().any(|shape| {
        data::wildcard(&shape.name, name)
            && owner_matches(shape.owner.as_deref(), owner, editable)
            && pth_lines(content).filter(|l| executes(l)).all(|l| {
                shape
                    .lines
                    .iter()
                    .any(|t| template_matches(t.trim(), l.trim()))
            })
    })
}

/// True when the owner the shape asks for is the one the RECORD names
/// (`editable`: an editable install of a project the install names).
fn owner_matches(wanted: Option<&str>, owner: Option<&str>, editable: bool) -> bool {
    match (wanted, owner) {
        (None, _) => true,
        (Some("none"), o) => o.is_none(),
        (Some("editable"), o) => o.is_some() && editable,
        (Some(w), Some(o)) => {
            let name = o.rsplit_once('@').map_or(o, |(n, _)| n);
            normalize(w) == normalize(name)
        }
        (Some(_), None) => false,
    }
}

/// A distribution name as PEP 503 compares them.
fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// One piece of a line template.
#[derive(Debug)]
enum Piece<'a> {
    Lit(&'a str),
    /// Kind (`ident`, `str`, `tuple`) and an optional label.
    Hole(&'a str, Option<&'a str>),
}

/// Splits a template at its `{kind}` / `{kind:label}` holes.
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        let inner = &rest[open + 1..close];
        let kind = inner.split(':').next().unwrap_or("");
        if !matches!(kind, "ident" | "str" | "tuple") {
            // Not a hole: a literal brace.
            out.push(Piece::Lit(&rest[..=open]));
            rest = &rest[open + 1..];
            continue;
        }
        if open > 0 {
            out.push(Piece::Lit(&rest[..open]));
        }
        out.push(Piece::Hole(kind, inner.split_once(':').map(|(_, l)| l)));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Lit(rest));
    }
    out
}

/// True when `line` is exactly `template` with its holes filled.
pub fn template_matches(template: &str, line: &str) -> bool {
    fill(&pieces(template), line, &BTreeMap::new())
}

fn fill(pieces: &[Piece], text: &str, bound: &BTreeMap<&str, String>) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return text.is_empty();
    };
    match first {
        Piece::Lit(l) => text.strip_prefix(l).is_some_and(|t| fill(rest, t, bound)),
        Piece::Hole(kind, label) => hole_ends(kind, text).into_iter().any(|end| {
            let got = &text[..end];
            match label {
                Some(l) => match bound.get(l) {
                    Some(prev) => prev == got && fill(rest, &text[end..], bound),
                    None => {
                        let mut b = bound.clone();
                        b.insert(l, got.to_string());
                        fill(rest, &text[end..], &b)
                    }
                },
                None => fill(rest, &text[end..], bound),
            }
        }),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Where a quoted dotted name at the start of `text` ends.
fn str_end(text: &str) -> Option<usize> {
    let q = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = &text[1..];
    let len = body.find(|c: char| !(is_name_char(c) || c == '.'))?;
    (len > 0 && body[len..].starts_with(q)).then_some(len + 2)
}

/// The possible ends of a hole of `kind` at the start of `text`, longest
/// first.
fn hole_ends(kind: &str, text: &str) -> Vec<usize> {
    match kind {
        "ident" => {
            let max = text.find(|c: char| !is_name_char(c)).unwrap_or(text.len());
            (1..=max).rev().collect()
        }
        "str" => str_end(text).into_iter().collect(),
        "tuple" => {
            let Some(mut rest) = text.strip_prefix('(') else {
                return Vec::new();
            };
            let mut items = 0;
            loop {
                if let Some(r) = rest.strip_prefix(')') {
                    return if items > 0 {
                        vec![text.len() - r.len()]
                    } else {
                        Vec::new()
                    };
                }
                let Some(e) = str_end(rest) else {
                    return Vec::new();
                };
                items += 1;
                rest = &rest[e..];
                rest = rest
                    .strip_prefix(", ")
                    .or_else(|| rest.strip_prefix(','))
                    .unwrap_or(rest);
                if !rest.starts_with(')') && !rest.starts_with(['\'', '"']) {
                    return Vec::new();
                }
            }
        }
        _ => Vec::new(),
    }
}

/// The distribution (`name@version`) whose RECORD lists `file`.
pub fn owner(site: &Path, file: &Path) -> Option<String> {
    let info = record_owner(site, file)?;
    let name = info.file_name()?.to_string_lossy().into_owned();
    let stem = name.strip_suffix(".dist-info")?;
    Some(match stem.rsplit_once('-') {
        Some((n, v)) => format!("{n}@{v}"),
        None => stem.to_string(),
    })
}

/// The `.dist-info` directory whose RECORD lists `file`.
fn record_owner(site: &Path, file: &Path) -> Option<PathBuf> {
    let rel = file.strip_prefix(site).ok()?.to_string_lossy().into_owned();
    std::fs::read_dir(site).ok()?.flatten().find_map(|e| {
        let dir = e.path();
        let is_info = e.file_name().to_string_lossy().ends_with(".dist-info");
        let record = super::read_regular_text(&dir.join("RECORD"), super::TEXT_MAX)?;
        let listed = record
            .lines()
            .filter_map(|l| l.split(',').next())
            .any(|f| f == rel);
        (is_info && listed).then_some(dir)
    })
}

/// True when `file` is listed in the RECORD of a distribution installed
/// editable (its PEP 610 `direct_url.json` says `dir_info.editable`) from
/// one of `projects`, the local projects the install names as editable,
/// and, where that project's `pyproject.toml` names it, under that name.
/// A wheel from an index is none: pip keeps a `direct_url.json` the wheel
/// ships, so the claim alone is no proof; it must name a project of this
/// install, whose own distribution is the only one installed from it.
pub fn editable_install(site: &Path, file: &Path, projects: &[PathBuf]) -> bool {
    let Some(info) = record_owner(site, file) else {
        return false;
    };
    let Some(text) = super::read_regular_text(&info.join("direct_url.json"), super::TEXT_MAX)
    else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let editable = v["dir_info"]["editable"].as_bool() == Some(true);
    let Some(dir) = v["url"].as_str().and_then(|u| u.strip_prefix("file://")) else {
        return false;
    };
    let dir = PathBuf::from(percent_decoded(dir));
    let dir = dir.canonicalize().unwrap_or(dir);
    let named = projects.iter().any(|p| {
        let p = p.canonicalize().unwrap_or_else(|_| p.clone());
        dir.starts_with(&p)
    });
    let dist = info
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .and_then(|n| {
            Some(
                n.strip_suffix(".dist-info")?
                    .rsplit_once('-')?
                    .0
                    .to_string(),
            )
        });
    let declared = declared_names(&dir);
    let same_name = declared.is_empty()
        || dist.is_some_and(|n| declared.iter().any(|d| normalize(d) == normalize(&n)));
    editable && named && same_name
}

/// The distribution names project `dir` declares: `[project] name` in its
/// `pyproject.toml`, and the `Name:` of the egg-info setuptools' build
/// writes in it (a `setup.py`-only project).
fn declared_names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_to_string(dir.join("pyproject.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| Some(t.get("project")?.get("name")?.as_str()?.to_string()))
        .into_iter()
        .collect();
    let infos = std::fs::read_dir(dir).into_iter().flatten().flatten();
    for e in infos.filter(|e| e.file_name().to_string_lossy().ends_with(".egg-info")) {
        let pkg_info = super::read_regular_text(&e.path().join("PKG-INFO"), super::TEXT_MAX);
        out.extend(pkg_info.and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Name:").map(|n| n.trim().to_string()))
        }));
    }
    out
}

/// `s` with its `%XX` escapes decoded (a file URL's path).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(c)) => {
                out.push(c);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The site-packages directory a path lies directly in.
fn site_of(input: &Input, p: &Path) -> Option<PathBuf> {
    let parent = p.parent()?;
    let named = parent
        .file_name()
        .is_some_and(|n| n == "site-packages" || n == "dist-packages");
    (input.site_dirs.iter().any(|s| s == parent) || named).then(|| parent.to_path_buf())
}

/// Finds start-up hooks the install added or changed.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut candidates: BTreeSet<PathBuf> = BTreeSet::new();
    for c in super::added_or_modified(input.changes) {
        candidates.insert(PathBuf::from(&c.path));
    }
    for (p, _) in input.written() {
        // pip's isolated build environments put their own sitecustomize.py
        // in the private temporary directory: not the user's interpreter.
        if !p.starts_with(&input.tmp) {
            candidates.insert(p);
        }
    }
    let mut out = Vec::new();
    for p in candidates {
        let Some(name) = p.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let customize = name == "sitecustomize.py" || name == "usercustomize.py";
        if !(name.ends_with(".pth") || customize) {
            continue;
        }
        let Some(site) = site_of(input, &p) else {
            continue;
        };
        // A temporary build environment (uv's, in its cache) that the tool
        // removed again: its start-up files start nothing. A refused write
        // leaves its site directory in place and is judged below.
        if !site.exists() {
            continue;
        }
        let pid = super::writer_of(input, &p);
        let content = super::read_regular_text(&p, super::TEXT_MAX);
        let action = if content.is_some() {
            Taken::Observed
        } else {
            input.write_taken(&p)
        };
        let dist = owner(&site, &p);
        let editable = editable_install(&site, &p, &input.editable_projects);
        let mut ev = Evidence {
            paths: vec![p.display().to_string()],
            sha256: input
                .changed(&p)
                .and_then(|c| c.after.as_ref())
                .and_then(|a| a.sha256.clone()),
            ..Evidence::default()
        };
        let (severity, title) = if customize {
            ev.detail = Some("runs at every interpreter start".into());
            (
                Severity::High,
                format!("{name} written in {}", site.display()),
            )
        } else {
            match content.as_deref().map(|c| {
                let v = judge_owned(&name, c, dist.as_deref(), editable);
                match (v, native_named(&site, c)) {
                    // A known shape that would load native code the site
                    // directory holds (a namespace line's `module_from_spec`
                    // dlopens an extension module of that name).
                    (Verdict::Benign, Some(m)) => Verdict::Malicious(
                        1,
                        c.lines()
                            .find(|l| executes(l))
                            .unwrap_or_default()
                            .to_string(),
                        format!("names the native extension module {m}: loading it runs its code"),
                    ),
                    (v, _) => v,
                }
            }) {
                Some(Verdict::Benign) => continue,
                Some(Verdict::Executes(n, l)) => {
                    ev.line = Some(n);
                    ev.excerpt = Some(shorten(&l));
                    ev.detail = Some(
                        "an import line runs code at every Python start, and the file is none of the known ones (policy/benign.toml)"
                            .into(),
                    );
                    (
                        Severity::High,
                        format!("{name}: an import line runs at every Python start"),
                    )
                }
                Some(Verdict::Malicious(n, l, why)) => {
                    ev.line = Some(n);
                    ev.excerpt = Some(shorten(&l));
                    ev.detail = Some(why);
                    (
                        Severity::High,
                        format!("{name}: executable line runs at every Python start"),
                    )
                }
                None => (Severity::High, format!("{name}: start-up file written")),
            }
        };
        let mut f = finding(RuleId::PersistPythonStartup, title, pid, procs, ev, action);
        f.severity = severity;
        if f.package.is_none() {
            f.package = dist;
        }
        out.push(f);
    }
    out
}

/// What the start-up detonation did beyond starting the interpreter: each
/// write outside the private temporary directory and `__pycache__`, each
/// program run, each connection. Any of them is code that will run at every
/// start of that interpreter.
pub fn detonation(input: &Input, procs: &Procs) -> Vec<Finding> {
    use crate::model::event::HOOK;
    let mut out = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut interpreters: BTreeSet<i32> = BTreeSet::new();
    for e in input
        .events
        .iter()
        .filter(|e| e.hook.as_deref() == Some(HOOK))
    {
        let (what, target) = match e.kind {
            EventKind::Exec => {
                let argv = e.argv.clone().unwrap_or_default();
                // The interpreter the detonation started.
                if argv.ends_with(&["-c".into(), "pass".into()]) && interpreters.insert(e.pid) {
                    continue;
                }
                ("ran", Some(argv.join(" ")))
            }
            EventKind::Connect | EventKind::Send => ("connected to", e.addr.clone()),
            k => match k.written_index() {
                Some(i) => ("wrote", e.paths.get(i).cloned()),
                None => continue,
            },
        };
        let Some(target) = target else { continue };
        let mut ev = Evidence::default();
        let action = match what {
            "wrote" => {
                let p = Path::new(&target);
                if p.starts_with(&input.tmp)
                    || p.components().any(|c| c.as_os_str() == "__pycache__")
                    || p == Path::new("/dev/null")
                {
                    continue;
                }
                ev.paths = vec![target.clone()];
                if e.action == crate::model::Action::Denied {
                    Taken::Blocked
                } else {
                    input.write_taken(p)
                }
            }
            "ran" => {
                ev.argv = e.argv.clone();
                super::taken_of(e)
            }
            _ => {
                ev.endpoint = Some(target.clone());
                super::taken_of(e)
            }
        };
        if !seen.insert(format!("{what} {target}")) {
            continue;
        }
        ev.detail = Some(format!(
            "{HOOK}: the interpreter was started once after the install, in the sandbox, and its start-up {what} this"
        ));
        let mut f = finding(
            RuleId::PersistPythonStartup,
            format!("{HOOK}: Python's start-up {what} {}", shorten(&target)),
            Some(e.pid),
            procs,
            ev,
            action,
        );
        f.severity = Severity::High;
        if f.package.is_none() {
            f.package = e.package.clone();
        }
        f.hook = Some(HOOK.to_string());
        out.push(f);
    }
    out
}

/// A line cut to a readable length.
pub fn shorten(line: &str) -> String {
    if line.len() <= 200 {
        line.to_string()
    } else {
        format!(
            "{}… ({} characters)",
            &line[..line.floor_char_boundary(200)],
            line.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISTUTILS: &str = "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n";

    #[test]
    fn a_named_package_whose_init_is_native_is_found_at_any_depth() {
        let site = tempfile::tempdir().unwrap();
        let s = site.path();
        let line = |name: &str| {
            format!(
                "import sys, types, os;m = importlib.machinery.PathFinder.find_spec('{name}', [os.path.dirname(p)])\n"
            )
        };
        std::fs::create_dir_all(s.join("zope/interface")).unwrap();
        std::fs::write(s.join("zope/interface/__init__.py"), "").unwrap();
        // Python packages and namespace directories load nothing native.
        assert_eq!(native_named(s, &line("zope")), None);
        assert_eq!(native_named(s, &line("zope.interface")), None);
        std::fs::create_dir_all(s.join("pwns")).unwrap();
        std::fs::write(s.join("pwns/__init__.so"), "").unwrap();
        assert!(native_named(s, &line("pwns")).is_some_and(|m| m.ends_with("pwns/__init__.so")));
        std::fs::write(
            s.join("zope/interface/__init__.cpython-311-x86_64-linux-gnu.so"),
            "",
        )
        .unwrap();
        assert!(native_named(s, &line("zope.interface")).is_some());
        std::fs::create_dir_all(s.join("a/b")).unwrap();
        std::fs::write(s.join("a/c.abi3.so"), "").unwrap();
        assert!(native_named(s, &line("a.c")).is_some_and(|m| m.ends_with("a/c.abi3.so")));
        assert_eq!(native_named(s, &line("a.b")), None);
        // A name in a line that does not execute is not followed.
        assert_eq!(native_named(s, "pwns\n'pwns'\n"), None);
    }

    #[test]
    fn path_lines_are_benign() {
        assert_eq!(
            judge("x.pth", "/opt/lib\n../src\n# c\n", None),
            Verdict::Benign
        );
    }

    #[test]
    fn an_import_of_its_own_module_is_a_finding() {
        // The 2026 wave: x.pth `import x`, x does the work at import.
        assert!(matches!(
            judge("foo.pth", "import foo_hook\n", Some("foo@1.0")),
            Verdict::Executes(1, _)
        ));
    }

    #[test]
    fn setuptools_distutils_precedence_is_benign_only_from_setuptools() {
        let own = Some("setuptools@84.2.1");
        assert_eq!(
            judge("distutils-precedence.pth", DISTUTILS, own),
            Verdict::Benign
        );
        let older = DISTUTILS.replace("'local') ==", "'stdlib') ==");
        assert_eq!(
            judge("distutils-precedence.pth", &older, own),
            Verdict::Benign
        );
        // The same content shipped by anyone else imports their own
        // `_distutils_hack`.
        assert!(matches!(
            judge("distutils-precedence.pth", DISTUTILS, Some("pwx@1.0")),
            Verdict::Executes(1, _)
        ));
        // The name with other content.
        assert!(matches!(
            judge("distutils-precedence.pth", "import pwx_hook\n", own),
            Verdict::Executes(1, _)
        ));
        // The known line, then one more.
        let more = format!("{DISTUTILS}import pwx_hook\n");
        assert!(matches!(
            judge("distutils-precedence.pth", &more, own),
            Verdict::Executes(1, _)
        ));
    }

    #[test]
    fn virtualenv_pth_is_benign_when_no_record_lists_it() {
        assert_eq!(
            judge("_virtualenv.pth", "import _virtualenv\n", None),
            Verdict::Benign
        );
        assert!(matches!(
            judge("_virtualenv.pth", "import _virtualenv\n", Some("pwx@1.0")),
            Verdict::Executes(1, _)
        ));
        assert!(matches!(
            judge("_virtualenv.pth", "import _virtualenv; import os\n", None),
            Verdict::Executes(1, _)
        ));
    }

    #[test]
    fn editable_finders_are_benign_in_their_shape_from_an_editable_install_only() {
        let ok = "import __editable___foo_1_0_finder; __editable___foo_1_0_finder.install()\n";
        assert_eq!(
            judge_owned("__editable__.foo-1.0.pth", ok, Some("foo@1.0"), true),
            Verdict::Benign
        );
        // A wheel shipping it (not installed editable), or no RECORD at all.
        for (owner, editable) in [(Some("foo@1.0"), false), (None, true), (None, false)] {
            assert!(matches!(
                judge_owned("__editable__.foo-1.0.pth", ok, owner, editable),
                Verdict::Executes(1, _)
            ));
        }
        let twisted = "import __editable___foo_1_0_finder; __editable___bar_finder.install()\n";
        assert!(matches!(
            judge("__editable__.foo-1.0.pth", twisted, None),
            Verdict::Executes(1, _)
        ));
        let extra = "import __editable___foo_finder; __editable___foo_finder.install(); import x\n";
        assert!(matches!(
            judge("__editable__.foo-1.0.pth", extra, None),
            Verdict::Executes(1, _)
        ));
        assert!(matches!(
            judge("foo.pth", ok, None),
            Verdict::Executes(1, _)
        ));
    }

    #[test]
    fn namespace_package_pth_is_benign() {
        let one = "import sys, types, os;p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('zope',));importlib = __import__('importlib.util');__import__('importlib.machinery');m = sys.modules.setdefault('zope', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('zope', [os.path.dirname(p)])));m = m or sys.modules.setdefault('zope', types.ModuleType('zope'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n";
        let two = "import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('a', 'b'));importlib = has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('a.b', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('a.b', [os.path.dirname(p)])));m = m or sys.modules.setdefault('a.b', types.ModuleType('a.b'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p);m and setattr(sys.modules['a'], 'b', m)\n";
        let both = format!("{one}{two}");
        assert_eq!(
            judge("zope.x-1.0-py3.12-nspkg.pth", &both, Some("zope.x@1.0")),
            Verdict::Benign
        );
        // The shape with one name changed to a call.
        let bent = one.replacen("'zope',)", "__import__('pwx'),)", 1);
        assert!(!matches!(
            judge("zope-nspkg.pth", &bent, None),
            Verdict::Benign
        ));
    }

    #[test]
    fn coverage_pth_is_benign_from_coverage_only() {
        let cov = "import sys; exec('import os\\n\\nif os.getenv(\"COVERAGE_PROCESS_START\") or os.getenv(\"COVERAGE_PROCESS_CONFIG\"):\\n try:\\n  import coverage\\n except:\\n  pass\\n else:\\n  coverage.process_startup(slug=\"pth\")')";
        assert_eq!(
            judge("a1_coverage.pth", cov, Some("coverage@7.18.0")),
            Verdict::Benign
        );
        assert!(matches!(
            judge("a1_coverage.pth", cov, Some("pwx@1.0")),
            Verdict::Malicious(1, _, _)
        ));
    }

    #[test]
    fn hidden_and_obfuscated_lines_are_malicious() {
        assert!(matches!(
            judge(
                "evil.pth",
                "/x\nimport os;exec(__import__('base64').b64decode('cHJpbnQ='))\n",
                None
            ),
            Verdict::Malicious(2, _, _)
        ));
        let long = format!("/{}\n", "a".repeat(5000));
        assert!(matches!(
            judge("l.pth", &long, None),
            Verdict::Malicious(1, _, _)
        ));
        // Python reads universal newlines: a lone CR starts a line.
        assert!(matches!(
            judge("cr.pth", "/opt/lib\rimport pwx_hook\n", None),
            Verdict::Executes(2, _)
        ));
        // ... and drops a UTF-8 byte-order mark.
        assert!(matches!(
            judge("bom.pth", "\u{feff}import pwx_hook\n", None),
            Verdict::Executes(1, _)
        ));
    }

    #[test]
    fn templates_bind_labels() {
        assert!(template_matches(
            "import {ident:a}; {ident:a}.go()",
            "import x_1; x_1.go()"
        ));
        assert!(!template_matches(
            "import {ident:a}; {ident:a}.go()",
            "import x_1; y.go()"
        ));
        assert!(template_matches("f({tuple})", "f(('a', 'b.c'))"));
        assert!(template_matches("f({tuple})", "f(('a',))"));
        assert!(!template_matches("f({tuple})", "f(('a', b))"));
        assert!(!template_matches("f({str})", "f('a'+x)"));
    }

    #[test]
    fn owner_reads_the_record() {
        let t = tempfile::tempdir().unwrap();
        let site = t.path();
        std::fs::create_dir(site.join("foo-1.0.dist-info")).unwrap();
        std::fs::write(
            site.join("foo-1.0.dist-info/RECORD"),
            "foo/__init__.py,sha256=x,1\nfoo_hook.py,sha256=y,2\nfoo.pth,sha256=z,3\nfoo-1.0.dist-info/RECORD,,\n",
        )
        .unwrap();
        assert_eq!(owner(site, &site.join("foo.pth")).unwrap(), "foo@1.0");
        assert!(owner(site, &site.join("other.pth")).is_none());
    }

    #[test]
    fn an_editable_install_is_one_of_a_project_the_install_names() {
        let t = tempfile::tempdir().unwrap();
        let site = t.path().join("site");
        let (proj, other) = (t.path().join("my proj"), t.path().join("other"));
        for d in [&site.join("foo-1.0.dist-info"), &proj, &other] {
            std::fs::create_dir_all(d).unwrap();
        }
        let info = site.join("foo-1.0.dist-info");
        std::fs::write(info.join("RECORD"), "__editable__.foo-1.0.pth,,\n").unwrap();
        let pth = site.join("__editable__.foo-1.0.pth");
        let url = |d: &Path, e: bool| {
            let u = format!("file://{}", d.display()).replace(' ', "%20");
            format!(r#"{{"url": "{u}", "dir_info": {{"editable": {e}}}}}"#)
        };
        let projects = vec![proj.clone()];
        assert!(
            !editable_install(&site, &pth, &projects),
            "no direct_url.json"
        );
        std::fs::write(info.join("direct_url.json"), url(&proj, true)).unwrap();
        assert!(editable_install(&site, &pth, &projects));
        assert!(
            !editable_install(&site, &pth, &[]),
            "a non-editable install"
        );
        assert!(!editable_install(&site, &site.join("x.pth"), &projects));
        std::fs::write(info.join("direct_url.json"), url(&proj, false)).unwrap();
        assert!(!editable_install(&site, &pth, &projects));
        // A wheel's forged claim names a project this install does not,
        // or this install's project under another distribution's name.
        std::fs::write(info.join("direct_url.json"), url(&other, true)).unwrap();
        assert!(!editable_install(&site, &pth, &projects));
        std::fs::write(info.join("direct_url.json"), url(&proj, true)).unwrap();
        let pyproject = proj.join("pyproject.toml");
        std::fs::write(&pyproject, "[project]\nname = \"my-proj\"\n").unwrap();
        assert!(!editable_install(&site, &pth, &projects));
        std::fs::write(&pyproject, "[project]\nname = \"Foo\"\n").unwrap();
        assert!(editable_install(&site, &pth, &projects));
        // A setup.py project: the name its build wrote in the egg-info.
        std::fs::remove_file(&pyproject).unwrap();
        std::fs::create_dir(proj.join("bar.egg-info")).unwrap();
        std::fs::write(proj.join("bar.egg-info/PKG-INFO"), "Name: bar\n").unwrap();
        assert!(!editable_install(&site, &pth, &projects));
    }
}
