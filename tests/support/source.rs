//! Reading the crate's own sources as text, for tests that check their shape
//! (`tests/imports.rs`, `tests/fnlen.rs`): the files below `src/`, which of
//! them are test-only, and the code with comments, literals and
//! `#[cfg(test)]` items blanked out (newlines kept, so offsets and line
//! numbers stay those of the file).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The `.rs` files below `src/` (without the preload library's own crate)
/// that are not `#[cfg(test)] mod x;` modules.
pub fn non_test_files(src: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    collect_files(src, &mut files);
    let test_only = test_only_files(&files);
    files.retain(|f| !test_only.iter().any(|t| f.starts_with(t)));
    files
}

pub fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.join("Cargo.toml").exists() {
        return; // another crate (src/nest)
    }
    for e in std::fs::read_dir(dir).expect("readable dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
}

/// The files and directories of modules declared `#[cfg(test)] mod x;`.
pub fn test_only_files(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("readable source");
        let code = blank_comments_and_strings(&text);
        let dir = match file.file_name().and_then(|n| n.to_str()) {
            Some("mod.rs" | "main.rs" | "lib.rs") => file.parent().map(Path::to_path_buf),
            _ => Some(file.with_extension("")),
        };
        let Some(dir) = dir else { continue };
        for name in cfg_test_mod_decls(&code) {
            out.push(dir.join(format!("{name}.rs")));
            out.push(dir.join(&name));
        }
    }
    out
}

pub fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

pub fn ident_at(b: &[u8], i: usize) -> String {
    let end = (i..b.len()).find(|&j| !is_ident(b[j])).unwrap_or(b.len());
    String::from_utf8_lossy(&b[i.min(end)..end]).into_owned()
}

pub fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The source with comments, string and char literals turned into spaces
/// (newlines kept), so that only code is searched.
pub fn blank_comments_and_strings(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = (i..b.len()).find(|&j| b[j] == b'\n').unwrap_or(b.len());
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            // Block comments nest.
            let (mut depth, mut j) = (1, i + 2);
            while j < b.len() && depth > 0 {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if (rest.starts_with(b"r\"") || rest.starts_with(b"r#"))
            && (i == 0 || !is_ident(b[i - 1]))
        {
            let hashes = rest[1..].iter().take_while(|&&c| c == b'#').count();
            if rest.get(1 + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let start = i + 2 + hashes;
            let end = (start..b.len())
                .find(|&j| b[j..].starts_with(&close))
                .map_or(b.len(), |j| j + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\u{..}'); else a lifetime.
            let end = if rest.get(1) == Some(&b'\\') {
                (i + 2..b.len()).find(|&j| b[j] == b'\'').map(|j| j + 1)
            } else {
                let len = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + len) == Some(&b'\'')).then_some(i + 2 + len)
            };
            match end {
                Some(e) => {
                    blank(&mut out, i, e);
                    i = e;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where `#[cfg(test)]` items start and end in cleaned code: the attribute,
/// further attributes, then the item up to its `;` or its closing brace.
pub fn cfg_test_items(code: &str) -> Vec<(usize, usize)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(k) = code[from..].find("#[cfg(test)]") {
        let start = from + k;
        let mut j = start + "#[cfg(test)]".len();
        let mut depth = 0usize;
        while j < b.len() {
            match b[j] {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        j += 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    j += 1;
                    break;
                }
                b'[' if depth == 0 => {
                    // Another attribute on the same item.
                    j = (j..b.len()).find(|&x| b[x] == b']').unwrap_or(b.len());
                }
                _ => {}
            }
            j += 1;
        }
        out.push((start, j.min(b.len())));
        from = j.min(b.len()).max(start + 1);
    }
    out
}

pub fn without_cfg_test(code: &str) -> String {
    let mut out = code.as_bytes().to_vec();
    for (s, e) in cfg_test_items(code) {
        for c in &mut out[s..e] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The names of `#[cfg(test)] mod x;` declarations (modules in their own
/// files).
pub fn cfg_test_mod_decls(code: &str) -> Vec<String> {
    cfg_test_items(code)
        .into_iter()
        .filter_map(|(s, e)| {
            let item = code[s + "#[cfg(test)]".len()..e].trim();
            let item = item.strip_suffix(';')?.trim();
            let name = item.strip_prefix("pub ").unwrap_or(item).trim();
            let name = name.strip_prefix("mod ")?.trim();
            name.bytes().all(is_ident).then(|| name.to_string())
        })
        .collect()
}
