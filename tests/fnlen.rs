//! No function outside tests is longer than 120 lines (issue 12): a long
//! function is split into named steps that each do one job. A function that
//! is only a data table may be longer; it is named in `DATA_TABLES`.
//!
//! The test reads the sources: each `fn` item's length runs from the line of
//! `fn` to the line of its closing brace. Comments, string literals and
//! `#[cfg(test)]` items are left out (see `support/source.rs`).
//! `cargo test --test integration fnlen:: -- --nocapture` prints the longest functions.

use crate::support::source;

use source::{blank_comments_and_strings, ident_at, is_ident, non_test_files, without_cfg_test};
use std::path::Path;

/// The longest a function outside tests may be, in lines.
const MAX_LINES: usize = 120;

/// Functions (file below `src/`, name) that may be longer because they are
/// only data: a table written as code. The list may only shrink: an entry
/// that is no longer over the limit fails the test, so it cannot rot.
const DATA_TABLES: &[(&str, &str)] = &[];

/// One function item: where it is and how many lines it spans.
#[derive(Debug, PartialEq)]
struct FnSpan {
    name: String,
    line: usize,
    lines: usize,
}

#[test]
fn no_function_outside_tests_is_longer_than_the_limit() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    for file in non_test_files(&src) {
        let rel = file.strip_prefix(&src).expect("below src");
        let rel = rel.display().to_string();
        let text = std::fs::read_to_string(&file).expect("readable source");
        for f in fn_spans(&text) {
            all.push((rel.clone(), f));
        }
    }
    all.sort_by_key(|(_, f)| std::cmp::Reverse(f.lines));
    for (file, f) in all.iter().take(15) {
        println!("{:>4} {file}:{} {}", f.lines, f.line, f.name);
    }
    let allowed = |file: &str, name: &str| DATA_TABLES.contains(&(file, name));
    let stale: Vec<_> = DATA_TABLES
        .iter()
        .filter(|(file, name)| {
            !all.iter()
                .any(|(f, s)| f == file && s.name == *name && s.lines > MAX_LINES)
        })
        .collect();
    assert!(
        stale.is_empty(),
        "DATA_TABLES names functions no longer over {MAX_LINES} lines; \
         remove them: {stale:?}"
    );
    let long: Vec<String> = all
        .iter()
        .filter(|(file, f)| f.lines > MAX_LINES && !allowed(file, &f.name))
        .map(|(file, f)| format!("{file}:{} {} ({} lines)", f.line, f.name, f.lines))
        .collect();
    assert!(
        long.is_empty(),
        "functions longer than {MAX_LINES} lines; split them into named steps \
         (or, if one is only a data table, list it in DATA_TABLES):\n  {}",
        long.join("\n  ")
    );
}

/// Every `fn` item with a body in a file's non-test code, nested ones too.
fn fn_spans(text: &str) -> Vec<FnSpan> {
    let code = without_cfg_test(&blank_comments_and_strings(text));
    let b = code.as_bytes();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = code[i..].find("fn") {
        let at = i + k;
        i = at + 2;
        let word_start = at == 0 || !is_ident(b[at - 1]);
        let word_end = b.get(at + 2).is_some_and(|c| c.is_ascii_whitespace());
        if !word_start || !word_end {
            continue;
        }
        let name_at = (at + 2..b.len()).find(|&j| !b[j].is_ascii_whitespace());
        let Some(name_at) = name_at else { break };
        let name = ident_at(b, name_at);
        if name.is_empty() {
            continue; // `fn(..)`, a pointer type
        }
        let Some(open) = body_start(b, name_at) else {
            continue; // a declaration without a body (trait item, extern)
        };
        let Some(close) = matching_brace(b, open) else {
            continue;
        };
        let line = line_of(at);
        out.push(FnSpan {
            name,
            line,
            lines: line_of(close) - line + 1,
        });
    }
    out
}

/// The `{` that opens the body of the function whose signature starts at
/// `from`, or `None` when the signature ends in `;` first. Parentheses and
/// brackets are skipped, so a default const-generic block does not count.
fn body_start(b: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, &c) in b.iter().enumerate().skip(from) {
        match c {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            b'{' if depth == 0 => return Some(j),
            b';' if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// The `}` that closes the `{` at `open`.
fn matching_brace(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

#[test]
fn spans_count_from_fn_to_the_closing_brace_and_skip_tests() {
    let text = "/// doc fn fake() {\nfn a(x: fn(u8) -> u8) -> u8 {\n    let s = \"}\";\n    \
                fn inner() {}\n    x(1)\n}\ntrait T { fn d(&self); }\n\
                #[cfg(test)]\nmod tests {\n    fn t() {\n    }\n}\n\
                pub(crate) async fn b<const N: usize>()\nwhere\n    [u8; N]: Sized,\n{\n}\n";
    let got = fn_spans(text);
    let want = vec![
        FnSpan {
            name: "a".into(),
            line: 2,
            lines: 5,
        },
        FnSpan {
            name: "inner".into(),
            line: 4,
            lines: 1,
        },
        FnSpan {
            name: "b".into(),
            line: 13,
            lines: 5,
        },
    ];
    assert_eq!(got, want);
}
