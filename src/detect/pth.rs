//! `persist.python-startup`: `.pth` files with executable lines and
//! `sitecustomize.py`/`usercustomize.py` in site-packages directories.
//!
//! A `.pth` line starting with `import` runs at every interpreter start.
//! Benign ones are path lines, or imports of a module that the same
//! distribution ships (its RECORD lists both); malicious ones carry `exec(`,
//! `base64`, `subprocess`, `urllib` … or one very long line.

use super::data;
use super::{Evidence, Finding, Input, Procs, Severity, Taken, finding};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What a `.pth` file's content says.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Path lines, or imports of modules its distribution ships.
    Benign,
    /// An import of a module nobody vouches for (line number, line).
    Unverified(u32, String),
    /// A line that executes code it hides or fetches (line number, line, why).
    Malicious(u32, String, String),
}

/// Judges a `.pth` file's content. `shipped`: top-level modules its
/// distribution's RECORD lists.
pub fn judge(name: &str, content: &str, shipped: &BTreeSet<String>) -> Verdict {
    let b = data::benign();
    let known_name = b.pth_names.iter().any(|p| data::wildcard(p, name));
    let mut unverified = None;
    for (i, line) in content.lines().enumerate() {
        let n = i as u32 + 1;
        let t = line.trim();
        let exec_line = t.starts_with("import ") || t.starts_with("import\t");
        if line.len() > b.pth_max_line {
            return Verdict::Malicious(
                n,
                line.to_string(),
                format!("a {}-character line", line.len()),
            );
        }
        if !exec_line {
            continue;
        }
        let lower = t.to_ascii_lowercase();
        if let Some(tok) = b
            .pth_bad_tokens
            .iter()
            .find(|tok| lower.contains(tok.as_str()))
        {
            return Verdict::Malicious(n, line.to_string(), format!("contains `{tok}`"));
        }
        let modules = imported(t);
        let vouched =
            known_name || (!modules.is_empty() && modules.iter().all(|m| shipped.contains(m)));
        if !vouched && unverified.is_none() {
            unverified = Some((n, line.to_string()));
        }
    }
    match unverified {
        Some((n, l)) => Verdict::Unverified(n, l),
        None => Verdict::Benign,
    }
}

/// Top-level module names a `.pth` import line names (`import a, b.c; …`
/// and `__import__('x')`).
fn imported(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for stmt in line.split(';') {
        let s = stmt.trim();
        if let Some(rest) = s.strip_prefix("import ") {
            for m in rest.split(',') {
                let m = m.split_whitespace().next().unwrap_or("");
                if let Some(top) = m.split('.').next().filter(|t| !t.is_empty()) {
                    out.push(top.to_string());
                }
            }
        }
        let mut rest = s;
        while let Some(i) = rest.find("__import__(") {
            let after = &rest[i + 11..];
            let name: String = after
                .trim_start_matches(['\'', '"'])
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            if let Some(top) = name.split('.').next().filter(|t| !t.is_empty()) {
                out.push(top.to_string());
            }
            rest = after;
        }
    }
    out
}

/// The distribution (`name@version`) whose RECORD lists `file`, and the
/// top-level modules it ships.
pub fn owner(site: &Path, file: &Path) -> Option<(String, BTreeSet<String>)> {
    let rel = file.strip_prefix(site).ok()?.to_string_lossy().into_owned();
    for e in std::fs::read_dir(site).ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".dist-info") else {
            continue;
        };
        let Ok(record) = std::fs::read_to_string(e.path().join("RECORD")) else {
            continue;
        };
        let files: Vec<&str> = record.lines().filter_map(|l| l.split(',').next()).collect();
        if !files.contains(&rel.as_str()) {
            continue;
        }
        let modules = files
            .iter()
            .filter_map(|f| {
                let top = f.split('/').next()?;
                if f.contains('/') {
                    (!top.ends_with(".dist-info") && !top.ends_with(".data"))
                        .then(|| top.to_string())
                } else {
                    top.strip_suffix(".py").map(str::to_string)
                }
            })
            .collect();
        let pkg = match stem.rsplit_once('-') {
            Some((n, v)) => format!("{n}@{v}"),
            None => stem.to_string(),
        };
        return Some((pkg, modules));
    }
    None
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
        let content = std::fs::read_to_string(&p).ok();
        let action = if content.is_some() {
            Taken::Observed
        } else {
            input.write_taken(&p)
        };
        let (dist, shipped) = owner(&site, &p).unwrap_or_default();
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
            match content.as_deref().map(|c| judge(&name, c, &shipped)) {
                Some(Verdict::Benign) => continue,
                Some(Verdict::Unverified(n, l)) => {
                    ev.line = Some(n);
                    ev.excerpt = Some(shorten(&l));
                    ev.detail = Some("imports a module its distribution does not ship".into());
                    (
                        Severity::Medium,
                        format!("{name}: an import line runs at every start"),
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
        let mut f = finding("persist.python-startup", title, pid, procs, ev, action);
        f.severity = severity;
        if f.package.is_none() && !dist.is_empty() {
            f.package = Some(dist);
        }
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

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pth_lines_are_judged() {
        assert_eq!(
            judge("x.pth", "/opt/lib\n../src\n", &set(&[])),
            Verdict::Benign
        );
        let dp = "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n";
        assert_eq!(
            judge("distutils-precedence.pth", dp, &set(&[])),
            Verdict::Benign
        );
        assert_eq!(
            judge(
                "__editable__.foo-1.0.pth",
                "import __editable___foo_1_0_finder; __editable___foo_1_0_finder.install()\n",
                &set(&[])
            ),
            Verdict::Benign
        );
        assert_eq!(
            judge("foo.pth", "import foo_hook\n", &set(&["foo_hook"])),
            Verdict::Benign
        );
        assert!(matches!(
            judge("foo.pth", "import foo_hook\n", &set(&[])),
            Verdict::Unverified(1, _)
        ));
        assert!(matches!(
            judge(
                "evil.pth",
                "/x\nimport os;exec(__import__('base64').b64decode('cHJpbnQ='))\n",
                &set(&[])
            ),
            Verdict::Malicious(2, _, _)
        ));
        assert!(matches!(
            judge(
                "e.pth",
                "import subprocess; subprocess.Popen(['sh'])\n",
                &set(&["subprocess"])
            ),
            Verdict::Malicious(1, _, _)
        ));
        let long = format!("/{}\n", "a".repeat(5000));
        assert!(matches!(
            judge("l.pth", &long, &set(&[])),
            Verdict::Malicious(1, _, _)
        ));
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
        let (pkg, mods) = owner(site, &site.join("foo.pth")).unwrap();
        assert_eq!(pkg, "foo@1.0");
        assert_eq!(mods, set(&["foo", "foo_hook"]));
        assert!(owner(site, &site.join("other.pth")).is_none());
    }
}
