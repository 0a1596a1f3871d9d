//! The top-level modules of `src/` form no import circle (issue 12): each
//! stage depends on `model` and on the stages before it, never back.
//!
//! The test reads the sources: every `crate::` path (with `use crate::{a,
//! b::c}` groups, over several lines) and every `super::` chain that climbs
//! to the crate root names a top-level module. Comments, string literals and
//! `#[cfg(test)]` items (inline test modules and `#[cfg(test)] mod x;` files)
//! are left out: a test may reach anywhere.

use crate::support::source;

use source::{
    blank_comments_and_strings, cfg_test_mod_decls, ident_at, is_ident, non_test_files, skip_ws,
    without_cfg_test,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Edges (importer, imported) that still close a circle, left out of the
/// check until they are broken. The list may only shrink: an edge listed
/// here that the sources no longer have fails the test, so it cannot rot.
const ALLOWED: &[(&str, &str)] = &[];

/// Where each edge comes from: (importer, imported) → files.
type Edges = BTreeMap<(String, String), BTreeSet<String>>;

#[test]
fn top_level_modules_import_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = module_edges(&src);
    let mut stale = Vec::new();
    for (from, to) in ALLOWED {
        if !edges.contains_key(&(from.to_string(), to.to_string())) {
            stale.push(format!("{from} -> {to}"));
        }
    }
    assert!(
        stale.is_empty(),
        "ALLOWED lists edges the sources no longer have; remove them: {stale:?}"
    );
    let checked: Edges = edges
        .into_iter()
        .filter(|((f, t), _)| !ALLOWED.contains(&(f.as_str(), t.as_str())))
        .collect();
    if let Some(cycle) = find_cycle(&checked) {
        let mut msg = format!("import circle: {}\n", cycle.join(" -> "));
        for w in cycle.windows(2) {
            let files = &checked[&(w[0].clone(), w[1].clone())];
            msg.push_str(&format!("  {} -> {} in {:?}\n", w[0], w[1], files));
        }
        panic!("{msg}");
    }
}

/// The edges between top-level modules, from every source file of the crate.
fn module_edges(src: &Path) -> Edges {
    let tops = top_modules(src);
    let mut edges = Edges::new();
    for file in &non_test_files(src) {
        let rel = file.strip_prefix(src).expect("below src");
        let path = module_path(rel);
        let Some(top) = path.first().cloned() else {
            continue; // main.rs and lib.rs: the crate root, which nothing imports.
        };
        let text = std::fs::read_to_string(file).expect("readable source");
        for name in imported_tops(&text, path.len()) {
            if name != top && tops.contains(&name) {
                edges
                    .entry((top.clone(), name))
                    .or_default()
                    .insert(rel.display().to_string());
            }
        }
    }
    edges
}

/// `x.rs` and `x/` under `src/`, except the crate roots (`main.rs`,
/// `lib.rs`) and the preload library's own crate.
fn top_modules(src: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(src).expect("src/").flatten() {
        let p = e.path();
        let name = p.file_stem().map(|s| s.to_string_lossy().into_owned());
        let Some(name) = name else { continue };
        let module_dir = p.is_dir() && !p.join("Cargo.toml").exists();
        let module_file =
            p.extension().is_some_and(|x| x == "rs") && !matches!(name.as_str(), "main" | "lib");
        if module_dir || module_file {
            out.insert(name);
        }
    }
    out
}

/// The module path of a file below `src/` (`detect/net.rs` → `[detect,
/// net]`, `detect/mod.rs` → `[detect]`, `main.rs` and `lib.rs` → `[]`).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        match last.as_str() {
            "mod.rs" | "main.rs" | "lib.rs" => {}
            other => parts.push(other.trim_end_matches(".rs").to_string()),
        }
    }
    parts
}

/// The top-level module names a file's non-test code reaches through
/// `crate::` and through `super::` chains that climb to the root. `depth`
/// is the file's module depth (1 for `src/x.rs` and `src/x/mod.rs`).
fn imported_tops(text: &str, depth: usize) -> BTreeSet<String> {
    let code = without_cfg_test(&blank_comments_and_strings(text));
    let b = code.as_bytes();
    let mut out = BTreeSet::new();
    // Inline `mod x { … }` blocks deepen `super::`: (brace depth inside).
    let mut inline: Vec<usize> = Vec::new();
    let mut braces = 0usize;
    let mut pending_mod = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'{' {
            braces += 1;
            if pending_mod {
                inline.push(braces);
                pending_mod = false;
            }
            i += 1;
            continue;
        }
        if c == b'}' {
            if inline.last() == Some(&braces) {
                inline.pop();
            }
            braces = braces.saturating_sub(1);
            i += 1;
            continue;
        }
        if c == b';' {
            pending_mod = false;
        }
        if !is_ident(c) || (i > 0 && (is_ident(b[i - 1]) || b[i - 1] == b'$')) {
            i += 1;
            continue;
        }
        let word = ident_at(b, i);
        let after = i + word.len();
        if word == "mod" {
            pending_mod = true;
        } else if word == "crate" && b[after..].starts_with(b"::") {
            tree_heads(b, after + 2, &mut out);
        } else if word == "super"
            && b[after..].starts_with(b"::")
            && (i < 2 || &b[i - 2..i] != b"::")
        {
            // Count the chain.
            let mut k = 0;
            let mut j = i;
            while ident_at(b, j) == "super" && b[j + 5..].starts_with(b"::") {
                k += 1;
                j += 7;
            }
            if k == depth + inline.len() {
                tree_heads(b, j, &mut out);
            }
            i = j;
            continue;
        }
        i = after;
    }
    out
}

/// The first segment of the use tree at `at`: one name, or each item's first
/// name in a `{…}` group.
fn tree_heads(b: &[u8], at: usize, out: &mut BTreeSet<String>) {
    let mut j = skip_ws(b, at);
    if b.get(j) != Some(&b'{') {
        let w = ident_at(b, j);
        if !w.is_empty() {
            out.insert(w);
        }
        return;
    }
    j += 1;
    loop {
        j = skip_ws(b, j);
        let w = ident_at(b, j);
        if !w.is_empty() && w != "self" {
            out.insert(w);
        }
        // To the next item of this group, over nested groups.
        let mut depth = 0;
        while j < b.len() {
            match b[j] {
                b'{' => depth += 1,
                b'}' if depth == 0 => return,
                b'}' => depth -= 1,
                b',' if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        if j >= b.len() {
            return;
        }
        j += 1;
    }
}

/// The first circle found in `edges`, as a path that ends where it starts.
fn find_cycle(edges: &Edges) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (f, t) in edges.keys() {
        next.entry(f).or_default().push(t);
    }
    // 0 unvisited, 1 on the stack, 2 done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(n, 1);
        stack.push(n);
        for &m in next.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|&s| s == m).unwrap_or(0);
                    let mut c: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
                    c.push(m.to_string());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, next, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    let nodes: Vec<&str> = next.keys().copied().collect();
    for n in nodes {
        if state.get(n).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, &next, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn groups_multi_line_uses_and_super_chains_are_read() {
    let text = "use crate::{a, b::c,\n    d::{e, f}};\nuse crate::g::h;\n\
                fn x() { super::super::i::j(); super::k(); }\n";
    let got = imported_tops(text, 2);
    let want: BTreeSet<String> = ["a", "b", "d", "g", "i"].map(String::from).into();
    assert_eq!(got, want);
    // From a depth-1 file, one `super` is the root.
    assert_eq!(
        imported_tops("use super::m::n;", 1),
        BTreeSet::from(["m".to_string()])
    );
    // An inline module deepens the chain.
    assert_eq!(
        imported_tops("mod inner { use super::super::p; }", 1),
        BTreeSet::from(["p".to_string()])
    );
}

#[test]
fn comments_strings_and_test_code_are_not_imports() {
    let text = "// crate::a\n/* crate::b */ let s = \"crate::c\"; let ch = '\"';\n\
                use crate::d;\n#[cfg(test)]\nmod tests {\n    use crate::e;\n}\n\
                #[cfg(test)]\nuse crate::f;\n";
    assert_eq!(imported_tops(text, 1), BTreeSet::from(["d".to_string()]));
    let decls = cfg_test_mod_decls(&blank_comments_and_strings("#[cfg(test)]\nmod testkit;\n"));
    assert_eq!(decls, vec!["testkit".to_string()]);
}

#[test]
fn a_circle_is_found_and_named() {
    let mut edges = Edges::new();
    for (f, t) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        edges.entry((f.into(), t.into())).or_default();
    }
    assert_eq!(
        find_cycle(&edges),
        Some(["a", "b", "c", "a"].map(String::from).to_vec())
    );
    edges.remove(&("c".to_string(), "a".to_string()));
    assert_eq!(find_cycle(&edges), None);
}
