//! Glob matching of watched paths (`*`, `?`, `**`), shared by the snapshot
//! (which walks them) and the rules (which judge paths by them): a leaf, so
//! that neither stage imports the other for it.

/// One pattern component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Comp {
    /// A name taken as written.
    Lit(String),
    /// A name with `*` or `?`.
    Wild(String),
    /// `**`: zero or more directories.
    Any,
}

/// The components of a pattern, split on `/` (empty and `.` ones dropped).
pub fn parse(pattern: &str) -> Vec<Comp> {
    pattern
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(|c| {
            if c == "**" {
                Comp::Any
            } else if c.contains(['*', '?']) {
                Comp::Wild(c.to_string())
            } else {
                Comp::Lit(c.to_string())
            }
        })
        .collect()
}

/// True when `path` matches `pattern`, component by component: `*` is any
/// run of characters and `?` one character, within one component (both
/// match a leading `.`); a `**` component is zero or more components. Both
/// must be absolute or both relative; `~` is not expanded here.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    if pattern.starts_with('/') != path.starts_with('/') {
        return false;
    }
    let names: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect();
    match_comps(&parse(pattern), &names)
}

/// Dynamic programming over (pattern, path) suffixes, so that patterns
/// with many `**` stay linear in their length times the path's.
fn match_comps(pat: &[Comp], names: &[String]) -> bool {
    let (np, ns) = (pat.len(), names.len());
    // ok[i][j]: pat[i..] matches names[j..].
    let mut ok = vec![vec![false; ns + 1]; np + 1];
    if let Some(last) = ok.get_mut(np).and_then(|row| row.get_mut(ns)) {
        *last = true;
    }
    for i in (0..np).rev() {
        for j in (0..=ns).rev() {
            let at = |a: usize, b: usize| ok.get(a).and_then(|r| r.get(b)).copied() == Some(true);
            let v = match (pat.get(i), names.get(j)) {
                (Some(Comp::Any), _) => at(i + 1, j) || (j < ns && at(i, j + 1)),
                (Some(Comp::Lit(l)), Some(n)) => l == n && at(i + 1, j + 1),
                (Some(Comp::Wild(w)), Some(n)) => match_name(w, n) && at(i + 1, j + 1),
                _ => false,
            };
            if let Some(cell) = ok.get_mut(i).and_then(|r| r.get_mut(j)) {
                *cell = v;
            }
        }
    }
    ok.first().and_then(|r| r.first()).copied() == Some(true)
}

/// `*` and `?` within one name; greedy with one backtrack point, linear in
/// practice.
pub fn match_name(pat: &str, name: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let s: Vec<char> = name.chars().collect();
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = s.get(j) {
        match p.get(i) {
            Some('*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(&pc) if pc == '?' || pc == c => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    i = si + 1;
                    j = sj + 1;
                    star = Some((si, sj + 1));
                }
                None => return false,
            },
        }
    }
    p.get(i..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}
