//! The project's Markdown links point at files inside the repository.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The checkout holding README.md: the test root when it has one (tests/run.sh
/// mirrors README.md and docs/), else the source tree.
fn repo() -> PathBuf {
    let root = support::crate_root();
    if root.join("README.md").is_file() {
        root
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }
}

fn markdown_files(repo: &Path) -> Vec<PathBuf> {
    let mut files = vec![repo.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    assert!(!docs.is_empty(), "no docs/*.md");
    files.extend(docs);
    files
}

/// Text outside fenced code blocks and inline code spans.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// The targets of `[text](target)` links.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            found.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
    found
}

/// GitHub's anchors for a Markdown file's headings.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut set = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim().to_lowercase();
        let slug: String = title
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        set.insert(slug);
    }
    set
}

#[test]
fn every_relative_markdown_link_resolves_inside_the_repository() {
    let repo = repo();
    let top = repo.canonicalize().unwrap();
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in markdown_files(&repo) {
        let text = std::fs::read_to_string(&file).unwrap();
        for target in links(&prose(&text)) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let inside = resolved
                .canonicalize()
                .map(|p| p.starts_with(&top))
                .unwrap_or(false);
            if !inside {
                broken.push(format!(
                    "{}: {target} (not a file in the repository)",
                    file.display()
                ));
                continue;
            }
            if let Some(anchor) = anchor
                && resolved.extension().is_some_and(|e| e == "md")
            {
                let headings = anchors(&std::fs::read_to_string(&resolved).unwrap());
                if !headings.contains(anchor) {
                    broken.push(format!("{}: {target} (no such heading)", file.display()));
                }
            }
        }
        // A path outside the repository named as text is a broken link too.
        assert!(
            !text.contains("../shared/"),
            "{} names ../shared/, outside the repository",
            file.display()
        );
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    // README and both docs link to each other: at least these four.
    assert!(checked >= 4, "only {checked} links found");
}

#[test]
fn the_link_checker_finds_a_broken_link() {
    let text = "see [x](docs/NOPE.md) and `[y](ignored.md)`\n```\n[z](fenced.md)\n```\n";
    assert_eq!(links(&prose(text)), vec!["docs/NOPE.md".to_string()]);
    assert!(anchors("# First ten minutes\n").contains("first-ten-minutes"));
}
