//! The hook directories git runs hooks from instead of `.git/hooks`
//! (`core.hooksPath`): the repository's own (`.git/config`) and the user's
//! global ones (`$GIT_CONFIG_GLOBAL`, else `$XDG_CONFIG_HOME/git/config` or
//! `~/.config/git/config`, and `~/.gitconfig`, with the files they include),
//! the system file (`$GIT_CONFIG_SYSTEM` or `/etc/gitconfig`) too,
//! and, after the files as git reads them, the variables git takes
//! configuration from (`GIT_CONFIG_COUNT` with `GIT_CONFIG_KEY_<n>` /
//! `GIT_CONFIG_VALUE_<n>`, then `GIT_CONFIG_PARAMETERS`, what `git -c`
//! passes on), resolved as git resolves a path value: `~/` is HOME,
//! `%(prefix)/` the directory above git's `bin/`, a relative path is
//! relative to the repository's top. Read as text, never by running git (a
//! probe would run the user's configured programs).

use std::path::{Path, PathBuf};

/// Files included from an included file, at most this deep (git stops at 10).
const INCLUDE_DEPTH: usize = 10;

/// A config file, when it is a regular file (a FIFO planted there would
/// block; at most 1 MiB).
fn config_text(path: &Path) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    f.take(1 << 20).read_to_end(&mut bytes).ok()?;
    // Git reads bytes: a name that is not UTF-8 elsewhere in the file does
    // not make the file unread, and a byte-order mark is no header text.
    let text = String::from_utf8_lossy(&bytes);
    Some(text.strip_prefix('\u{feff}').unwrap_or(&text).to_string())
}

/// One `key = value` of a config file.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    /// The section's name, lower case (`core`, `include`, `includeif`).
    section: String,
    /// Whether the section has a subsection (`[remote "origin"]`).
    sub: bool,
    /// The key, lower case.
    key: String,
    /// The value, unquoted and unescaped, comments removed.
    value: String,
}

/// The entries of a config file's text, in order.
fn entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let (mut section, mut sub) = (String::new(), false);
    // A backslash at the end of a line continues the value on the next.
    let text = text.replace("\\\r\n", "").replace("\\\n", "");
    for line in text.lines() {
        let mut line = line.trim_start();
        if let Some(rest) = line.strip_prefix('[') {
            let Some((header, after)) = rest.split_once(']') else {
                continue;
            };
            let header = header.trim();
            let name = header
                .split(|c: char| c.is_whitespace() || c == '"')
                .next()
                .unwrap_or("");
            // `[section "sub"]`, and the old `[section.sub]`.
            sub = header.contains('"') || name.contains('.');
            section = name.to_ascii_lowercase();
            // A key may follow the header on the same line.
            line = after.trim_start();
        }
        if line.starts_with(['#', ';']) || line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        out.push(Entry {
            section: section.clone(),
            sub,
            key: key.trim().to_ascii_lowercase(),
            value: unquote(value),
        });
    }
    out
}

/// A value as git reads it: quotes removed, `\` escapes applied, a `#` or
/// `;` outside quotes starting a comment, outer blanks trimmed.
fn unquote(raw: &str) -> String {
    let mut out = String::new();
    // Blanks outside quotes are kept only between words.
    let mut pending = String::new();
    let mut quoted = false;
    let mut chars = raw.trim_start().chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => {
                out.push_str(&pending);
                pending.clear();
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => {}
                }
            }
            '#' | ';' if !quoted => break,
            c if c.is_whitespace() && !quoted => pending.push(c),
            c => {
                out.push_str(&pending);
                pending.clear();
                out.push(c);
            }
        }
    }
    out
}

/// A path value as git expands it: `~/…` and `~` are HOME, `%(prefix)/…`
/// the installation prefix of the `git` on PATH; `None` for an empty value,
/// `~user/…` and a prefix that cannot be found.
fn expand(value: &str, home: Option<&Path>) -> Option<PathBuf> {
    if let Some(rest) = value.strip_prefix("%(prefix)/") {
        return git_prefix().map(|p| p.join(rest));
    }
    if value.is_empty() || value.starts_with("%(") {
        return None;
    }
    if value == "~" {
        return home.map(Path::to_path_buf);
    }
    if let Some(rest) = value.strip_prefix("~/") {
        return home.map(|h| h.join(rest));
    }
    if value.starts_with('~') {
        return None;
    }
    Some(PathBuf::from(value))
}

/// The directory above the `bin/` of the `git` on PATH (its links
/// followed): where git's runtime prefix is for a relocatable build, and
/// its compiled-in prefix for a usual one (`/usr/bin/git` → `/usr`).
fn git_prefix() -> Option<PathBuf> {
    let git = which::which("git").ok()?.canonicalize().ok()?;
    Some(git.parent()?.parent()?.to_path_buf())
}

/// The `core.hooksPath` values of git's configuration variables, in the
/// order git applies them (after every file): `GIT_CONFIG_COUNT` pairs,
/// then `GIT_CONFIG_PARAMETERS`. `Err` names what git itself refuses
/// ("bogus format", a missing key): git then runs nothing, so no hook.
fn variable_values(var: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let wanted = |k: &str| k.eq_ignore_ascii_case("core.hookspath");
    if let Some(count) = var("GIT_CONFIG_COUNT") {
        let n: usize = match count.trim() {
            "" => 0,
            c => c
                .parse()
                .map_err(|_| format!("GIT_CONFIG_COUNT `{count}` is not a count"))?,
        };
        for i in 0..n {
            let key = var(&format!("GIT_CONFIG_KEY_{i}"))
                .ok_or_else(|| format!("GIT_CONFIG_KEY_{i} is missing"))?;
            let value = var(&format!("GIT_CONFIG_VALUE_{i}"))
                .ok_or_else(|| format!("GIT_CONFIG_VALUE_{i} is missing"))?;
            if wanted(&key) {
                out.push(value);
            }
        }
    }
    if let Some(params) = var("GIT_CONFIG_PARAMETERS") {
        for (key, value) in parameters(&params)? {
            if wanted(&key) {
                out.extend(value);
            }
        }
    }
    Ok(out)
}

/// The `key=value` pairs of `GIT_CONFIG_PARAMETERS` as git's
/// `parse_config_env_list` reads them: shell-quoted items separated by
/// blanks, each `'key'='value'`, `'key'` (no value) or the old
/// `'key=value'`; `'\''` inside a quoted word is a quote.
fn parameters(text: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let bad = || "GIT_CONFIG_PARAMETERS is not in git's quoting".to_string();
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (key, after) = sq_word(rest).ok_or_else(bad)?;
        rest = after;
        if let Some(v) = rest.strip_prefix('=') {
            // The new form: the value is its own quoted word (or empty).
            match v.starts_with('\'') {
                true => {
                    let (value, after) = sq_word(v).ok_or_else(bad)?;
                    out.push((key, Some(value)));
                    rest = after;
                }
                false => {
                    out.push((key, Some(String::new())));
                    rest = v;
                }
            }
        } else {
            match key.split_once('=') {
                Some((k, v)) => out.push((k.to_string(), Some(v.to_string()))),
                None => out.push((key, None)),
            }
        }
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            return Err(bad());
        }
        rest = rest.trim_start();
    }
    Ok(out)
}

/// One shell-quoted word at the start of `s` (git's `sq_dequote_step`)
/// and what follows it.
fn sq_word(s: &str) -> Option<(String, &str)> {
    let mut rest = s.strip_prefix('\'')?;
    let mut word = String::new();
    loop {
        let end = rest.find('\'')?;
        word.push_str(&rest[..end]);
        rest = &rest[end + 1..];
        // `'\''` and `'\!'`: a quoted quote or bang, then quoting again.
        match rest.strip_prefix('\\') {
            Some(r) if r.starts_with(['\'', '!']) && r[1..].starts_with('\'') => {
                word.push_str(&r[..1]);
                rest = &r[2..];
            }
            _ => return Some((word, rest)),
        }
    }
}

/// Every `core.hooksPath` value of `file` and of the files it includes
/// (`include.path`, and `includeIf.*.path` whatever its condition: a hook
/// directory watched in vain costs little), in order.
fn hooks_values(file: &Path, home: Option<&Path>, depth: usize, out: &mut Vec<String>) {
    let Some(text) = config_text(file) else {
        return;
    };
    for e in entries(&text) {
        if e.section == "core" && !e.sub && e.key == "hookspath" {
            out.push(e.value);
        } else if (e.section == "include" || e.section == "includeif")
            && e.key == "path"
            && depth < INCLUDE_DEPTH
        {
            // A relative include is relative to the including file.
            let Some(p) = expand(&e.value, home) else {
                continue;
            };
            let p = match (p.is_relative(), file.parent()) {
                (true, Some(dir)) => dir.join(p),
                _ => p,
            };
            hooks_values(&p, home, depth + 1, out);
        }
    }
}

/// `core.hooksPath` of the repository at `root`, relative to `root` when
/// relative (git runs hooks from the working tree's top); the last value
/// wins, as in git.
pub fn hooks_path(root: &Path) -> Option<PathBuf> {
    let home = crate::paths::home();
    // With the files it includes (a relative include is relative to
    // `.git/`, where the including file is).
    let mut values = Vec::new();
    hooks_values(&root.join(".git/config"), home.as_deref(), 0, &mut values);
    expand(&values.pop()?, home.as_deref()).map(|p| root.join(p))
}

/// The user's global config files, as git picks them: `$GIT_CONFIG_GLOBAL`
/// alone when set, else `$XDG_CONFIG_HOME/git/config` (`~/.config/git/config`
/// without it) and `~/.gitconfig`.
fn global_files(
    home: Option<&Path>,
    xdg_config: Option<&Path>,
    git_global: Option<&Path>,
) -> Vec<PathBuf> {
    if let Some(g) = git_global.filter(|g| !g.as_os_str().is_empty()) {
        return vec![g.to_path_buf()];
    }
    let xdg = xdg_config
        .filter(|x| x.is_absolute())
        .map(Path::to_path_buf)
        .or_else(|| home.map(|h| h.join(".config")));
    let mut out: Vec<PathBuf> = xdg.into_iter().map(|x| x.join("git/config")).collect();
    out.extend(home.map(|h| h.join(".gitconfig")));
    out
}

/// The top of the repository `cwd` lies in (the nearest ancestor holding
/// `.git`), or `cwd` itself outside one.
fn repository_top(cwd: &Path) -> &Path {
    cwd.ancestors()
        .find(|a| a.join(".git").symlink_metadata().is_ok())
        .unwrap_or(cwd)
}

/// Every hook directory the user's global git configuration names
/// (`core.hooksPath`), for an install run in `cwd`: git runs those hooks
/// in every repository of the user. A relative one is the project's
/// repository's (git takes it relative to the repository it runs in).
/// With them, those git's configuration variables name (the install runs
/// with pkgwarden's environment, and the user's git with the same).
pub fn user_hooks_paths(home: Option<&Path>, cwd: &Path) -> Vec<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from);
    let global = std::env::var_os("GIT_CONFIG_GLOBAL").map(PathBuf::from);
    let var = |k: &str| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned());
    user_hooks_paths_in(home, cwd, xdg.as_deref(), global.as_deref(), &var)
}

/// Said once per run: a variable git would refuse.
static UNREADABLE: std::sync::Once = std::sync::Once::new();

/// [`user_hooks_paths`] with the variables given.
fn user_hooks_paths_in(
    home: Option<&Path>,
    cwd: &Path,
    xdg_config: Option<&Path>,
    git_global: Option<&Path>,
    var: &dyn Fn(&str) -> Option<String>,
) -> Vec<PathBuf> {
    let mut values = Vec::new();
    // The system file too (`$GIT_CONFIG_SYSTEM`, else `/etc/gitconfig`),
    // unless git is told to skip it.
    let system = match std::env::var_os("GIT_CONFIG_NOSYSTEM") {
        Some(_) => None,
        None => Some(
            std::env::var_os("GIT_CONFIG_SYSTEM")
                .map_or_else(|| PathBuf::from("/etc/gitconfig"), PathBuf::from),
        ),
    };
    for f in system
        .into_iter()
        .chain(global_files(home, xdg_config, git_global))
    {
        hooks_values(&f, home, 0, &mut values);
    }
    // What git cannot parse it refuses to start with ("bogus format"):
    // no git runs a hook under it, so it names no place; said, not hidden.
    match variable_values(var) {
        Ok(v) => values.extend(v),
        Err(e) => UNREADABLE.call_once(|| {
            eprintln!(
                "pkgwarden: {e}: git refuses to run with it, so no hook directory is taken from it; fix or unset it"
            )
        }),
    }
    let top = repository_top(cwd);
    let mut out: Vec<PathBuf> = Vec::new();
    for v in values {
        if let Some(p) = expand(&v, home) {
            let p = if p.is_relative() { top.join(p) } else { p };
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn continuations_a_byte_order_mark_and_foreign_bytes_do_not_hide_a_value() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("config");
        let bytes =
            b"\xef\xbb\xbf[user]\n\tname = Jos\xe9\n[core]\n\thooksPath = ~/.git\\\nhooks\n"
                .to_vec();
        fs::write(&f, &bytes).unwrap();
        let got: Vec<(String, String)> = entries(&config_text(&f).unwrap())
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect();
        assert!(
            got.contains(&("hookspath".into(), "~/.githooks".into())),
            "{got:?}"
        );
    }

    #[test]
    fn values_are_read_as_git_reads_them() {
        let text = "[core]\n\thooksPath = \"~/my hooks\" ; comment\n\
                    [Core] editor = vi # x\n[remote \"core\"]\n\thooksPath = no\n\
                    [core.sub]\nhookspath = no\n[core]\n  HooksPath=a\\\"b  \n";
        let got: Vec<(String, bool, String, String)> = entries(text)
            .into_iter()
            .map(|e| (e.section, e.sub, e.key, e.value))
            .collect();
        let row = |s: &str, sub, k: &str, v: &str| (s.into(), sub, k.into(), v.to_string());
        assert_eq!(
            got,
            vec![
                row("core", false, "hookspath", "~/my hooks"),
                row("core", false, "editor", "vi"),
                row("remote", true, "hookspath", "no"),
                row("core.sub", true, "hookspath", "no"),
                row("core", false, "hookspath", "a\"b"),
            ]
        );
    }

    #[test]
    fn the_users_global_hook_directories_as_git_resolves_them() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let proj = home.join("src/proj");
        fs::create_dir_all(proj.join(".git")).unwrap();
        fs::create_dir_all(proj.join("sub")).unwrap();
        fs::create_dir_all(home.join(".config/git")).unwrap();
        let h = Some(home.as_path());
        let none = |cwd: &Path| user_hooks_paths_in(h, cwd, None, None, &|_| None);
        assert!(none(&proj).is_empty());
        // ~/.gitconfig with a `~` path, and an include naming another.
        fs::write(
            home.join(".gitconfig"),
            "[core]\n\thooksPath = ~/.githooks\n[include]\n\tpath = .gitconfig.local\n",
        )
        .unwrap();
        fs::write(
            home.join(".gitconfig.local"),
            "[core]\nhooksPath = /opt/hooks\n",
        )
        .unwrap();
        // The XDG file with a relative path: the repository's, from its top.
        fs::write(
            home.join(".config/git/config"),
            "[core]\nhooksPath = .hooks\n",
        )
        .unwrap();
        assert_eq!(
            none(&proj.join("sub")),
            vec![
                proj.join(".hooks"),
                home.join(".githooks"),
                PathBuf::from("/opt/hooks")
            ]
        );
        // $XDG_CONFIG_HOME moves the XDG file.
        let xdg = t.path().join("xdg");
        fs::create_dir_all(xdg.join("git")).unwrap();
        fs::write(xdg.join("git/config"), "[core]\nhooksPath = ~/xdg-hooks\n").unwrap();
        let got = user_hooks_paths_in(h, &proj, Some(&xdg), None, &|_| None);
        assert_eq!(got[0], home.join("xdg-hooks"), "{got:?}");
        assert!(!got.contains(&proj.join(".hooks")), "{got:?}");
        // $GIT_CONFIG_GLOBAL replaces both.
        let g = t.path().join("global");
        fs::write(&g, "[core]\nhooksPath = ~/g-hooks\n").unwrap();
        assert_eq!(
            user_hooks_paths_in(h, &proj, Some(&xdg), Some(&g), &|_| None),
            vec![home.join("g-hooks")]
        );
    }

    #[test]
    fn git_config_variables_name_hook_directories_after_the_files() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let proj = home.join("proj");
        fs::create_dir_all(proj.join(".git")).unwrap();
        fs::write(
            home.join(".gitconfig"),
            "[core]\nhooksPath = ~/file-hooks\n",
        )
        .unwrap();
        let vars = [
            ("GIT_CONFIG_COUNT", "2"),
            ("GIT_CONFIG_KEY_0", "user.name"),
            ("GIT_CONFIG_VALUE_0", "x"),
            ("GIT_CONFIG_KEY_1", "Core.HooksPath"),
            ("GIT_CONFIG_VALUE_1", "~/counted"),
            (
                "GIT_CONFIG_PARAMETERS",
                "'core.hooksPath'='/opt/it'\\''s' 'user.email'='a@b' 'core.hookspath=rel' 'core.bare'",
            ),
        ];
        let var = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let h = Some(home.as_path());
        assert_eq!(
            user_hooks_paths_in(h, &proj, None, None, &var),
            vec![
                home.join("file-hooks"),
                home.join("counted"),
                PathBuf::from("/opt/it's"),
                proj.join("rel"),
            ]
        );
        // What git refuses names nothing (git runs no hook with it).
        let broken =
            |k: &str| (k == "GIT_CONFIG_PARAMETERS").then(|| "'core.hooksPath".to_string());
        assert_eq!(
            user_hooks_paths_in(h, &proj, None, None, &broken),
            vec![home.join("file-hooks")]
        );
        let missing = |k: &str| (k == "GIT_CONFIG_COUNT").then(|| "1".to_string());
        assert!(variable_values(&missing).is_err());
    }

    #[test]
    fn parameters_are_dequoted_as_git_does() {
        assert_eq!(
            parameters("'a.b'='x y' 'c.d=e=f'  'g.h' 'i.j'=").unwrap(),
            vec![
                ("a.b".into(), Some("x y".into())),
                ("c.d".into(), Some("e=f".into())),
                ("g.h".into(), None),
                ("i.j".into(), Some(String::new())),
            ]
        );
        for bad in ["a.b=c", "'a.b'x", "'a.b"] {
            assert!(parameters(bad).is_err(), "{bad}");
        }
    }
}
