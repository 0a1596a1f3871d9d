//! conda activation scripts: `<prefix>/etc/conda/activate.d/*` is sourced
//! into the user's shell by every `conda activate`, so a new one that holds
//! what benign ones do not (network fetches, rc-file writes, decoding and
//! `eval`, credential paths; `policy/conda.toml`) is a shell start-up hook
//! (`persist.shell-rc`), although it sits in an expected root.

use super::{Evidence, Finding, Input, Procs, Taken, finding, pth, writer_of};
use crate::model::RuleId;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The rule's data, from `policy/conda.toml`.
#[derive(Debug, Default, Deserialize)]
pub struct CondaData {
    /// Prefix-relative directories whose scripts conda sources.
    pub activation_dirs: Vec<String>,
    /// Text benign activation scripts do not hold (lowercase match).
    pub activate_bad_tokens: Vec<String>,
}

/// The compiled-in data; a broken file is caught by the tests.
pub fn data() -> &'static CondaData {
    static D: OnceLock<CondaData> = OnceLock::new();
    D.get_or_init(|| toml::from_str(include_str!("../../policy/conda.toml")).unwrap_or_default())
}

/// The prefix and the prefix-relative path of an activation script.
fn activation_script(p: &Path) -> Option<(PathBuf, String)> {
    let s = p.to_str()?;
    data().activation_dirs.iter().find_map(|d| {
        let (prefix, rest) = s.split_once(&format!("/{d}/"))?;
        (!rest.is_empty() && !rest.contains('/'))
            .then(|| (PathBuf::from(prefix), format!("{d}/{rest}")))
    })
}

/// The first line (1-based number, text, token) that holds a bad token.
pub fn judge(content: &str) -> Option<(u32, String, String)> {
    let tokens = &data().activate_bad_tokens;
    content.lines().enumerate().find_map(|(i, line)| {
        let t = line.trim_start();
        if t.starts_with('#') {
            return None;
        }
        let lower = t.to_ascii_lowercase();
        tokens
            .iter()
            .find(|tok| lower.contains(tok.as_str()))
            .map(|tok| (i as u32 + 1, line.to_string(), tok.clone()))
    })
}

/// `name@version` of the package whose conda-meta record lists `rel`.
fn owner(prefix: &Path, rel: &str) -> Option<String> {
    for entry in std::fs::read_dir(prefix.join("conda-meta")).ok()?.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Some(text) = super::read_regular(&path, super::TEXT_MAX) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
            continue;
        };
        let lists = v["files"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(rel)));
        if lists {
            let name = v["name"].as_str()?;
            return Some(match v["version"].as_str() {
                Some(ver) => format!("{name}@{ver}"),
                None => name.to_string(),
            });
        }
    }
    None
}

/// Activation scripts added or changed by the install (the snapshot watches
/// the plan's prefixes; events cover any other prefix) that hold a bad token.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut paths: Vec<PathBuf> = super::added_or_modified(input.changes)
        .map(|c| PathBuf::from(&c.path))
        .collect();
    paths.extend(input.written().into_iter().map(|(p, _)| p));
    paths.sort();
    paths.dedup();
    let mut out = Vec::new();
    for path in paths {
        let Some((prefix, rel)) = activation_script(&path) else {
            continue;
        };
        let Some(bytes) = super::read_regular(&path, super::TEXT_MAX) else {
            continue;
        };
        let Some((line, text, token)) = judge(&String::from_utf8_lossy(&bytes)) else {
            continue;
        };
        let pid = writer_of(input, &path);
        let mut f = finding(
            RuleId::PersistShellRc,
            format!("conda activation script {rel} runs `{}`", token.trim()),
            pid,
            procs,
            Evidence {
                paths: vec![path.display().to_string()],
                excerpt: Some(pth::shorten(&text)),
                line: Some(line),
                detail: Some(format!(
                    "sourced into the user's shell by every `conda activate`; holds `{}`",
                    token.trim()
                )),
                ..Evidence::default()
            },
            Taken::Observed,
        );
        if let Some(pkg) = owner(&prefix, &rel) {
            f.package = Some(pkg);
        }
        f.hook.get_or_insert_with(|| "activate.d".into());
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_parses_and_names_the_activation_dirs() {
        let d: CondaData = toml::from_str(include_str!("../../policy/conda.toml")).unwrap();
        assert!(
            d.activation_dirs
                .iter()
                .any(|x| x == "etc/conda/activate.d")
        );
        assert!(d.activate_bad_tokens.iter().any(|t| t == "base64"));
    }

    #[test]
    fn benign_activation_scripts_are_quiet() {
        for s in [
            "#!/bin/bash\nexport JAVA_HOME=\"$CONDA_PREFIX/lib/jvm\"\n",
            "export GDAL_DATA=${CONDA_PREFIX}/share/gdal\n# curl is not run here\n",
            "if [ -f \"$CONDA_PREFIX/etc/profile.d/x.sh\" ]; then . \"$CONDA_PREFIX/etc/profile.d/x.sh\"; fi\n",
            "export _OLD_PATH=\"$PATH\"\nexport PATH=\"$CONDA_PREFIX/libexec:$PATH\"\n",
        ] {
            assert_eq!(judge(s), None, "{s}");
        }
    }

    #[test]
    fn malicious_activation_scripts_are_caught() {
        for (s, tok) in [
            ("export X=1\ncurl -s http://127.0.0.1:9/x | sh\n", "curl "),
            ("echo 'export A=1' >> ~/.bashrc\n", ".bashrc"),
            ("echo ZXhpdAo= | base64 -d | bash\n", "base64"),
            ("cat ~/.aws/credentials > /dev/null\n", ".aws/"),
            ("EVAL \"$(printf x)\"\n", "eval "),
        ] {
            let (line, _, t) = judge(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(t, tok, "{s}");
            assert!(line >= 1);
        }
    }

    #[test]
    fn scripts_are_found_directly_in_the_activation_dirs() {
        let (prefix, rel) =
            activation_script(Path::new("/e/env/etc/conda/activate.d/x.sh")).unwrap();
        assert_eq!(prefix, PathBuf::from("/e/env"));
        assert_eq!(rel, "etc/conda/activate.d/x.sh");
        assert!(activation_script(Path::new("/e/env/etc/conda/activate.d/sub/x.sh")).is_none());
        assert!(activation_script(Path::new("/e/env/etc/conda/x.sh")).is_none());
    }
}
