//! The hook directories git runs hooks from instead of `.git/hooks`
//! (`core.hooksPath`): the repository's own (`.git/config`) and the user's
//! global ones (`$GIT_CONFIG_GLOBAL`, else `$XDG_CONFIG_HOME/git/config` or
//! `~/.config/git/config`, and `~/.gitconfig`, with the files they include),
//! the system file (`$GIT_CONFIG_SYSTEM` or `/etc/gitconfig`) too,
//! resolved as git resolves a path value: `~/` is HOME, a relative path is
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

/// A path value as git expands it: `~/…` and `~` are HOME; `None` for an
/// empty value, `~user/…` and `%(prefix)/…` (not expanded here).
fn expand(value: &str, home: Option<&Path>) -> Option<PathBuf> {
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
pub fn user_hooks_paths(home: Option<&Path>, cwd: &Path) -> Vec<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from);
    let global = std::env::var_os("GIT_CONFIG_GLOBAL").map(PathBuf::from);
    user_hooks_paths_in(home, cwd, xdg.as_deref(), global.as_deref())
}

/// [`user_hooks_paths`] with the variables given.
fn user_hooks_paths_in(
    home: Option<&Path>,
    cwd: &Path,
    xdg_config: Option<&Path>,
    git_global: Option<&Path>,
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
        let none = |cwd: &Path| user_hooks_paths_in(h, cwd, None, None);
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
        let got = user_hooks_paths_in(h, &proj, Some(&xdg), None);
        assert_eq!(got[0], home.join("xdg-hooks"), "{got:?}");
        assert!(!got.contains(&proj.join(".hooks")), "{got:?}");
        // $GIT_CONFIG_GLOBAL replaces both.
        let g = t.path().join("global");
        fs::write(&g, "[core]\nhooksPath = ~/g-hooks\n").unwrap();
        assert_eq!(
            user_hooks_paths_in(h, &proj, Some(&xdg), Some(&g)),
            vec![home.join("g-hooks")]
        );
    }
}
