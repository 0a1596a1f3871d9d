//! Before/after snapshot of the persistence locations: ground truth that a
//! race on syscall arguments cannot fake.
//!
//! [`take`] stats every watched file (the policy's `startup_paths`, a fixed
//! set that is always watched, Python start-up hooks in site dirs, and every
//! file of the PATH directories that come before the system ones). It keeps
//! the content of small text files so that [`diff`] can show added lines and
//! a report can undo a change; it hashes nothing. [`diff`] hashes only what
//! stat (size, mtime, ctime, mode, inode, symlink target) says may have
//! changed; ctime is in the comparison because, unlike mtime, a process
//! cannot set it back.
//!
//! Sharp edges, on purpose:
//! - stat is `lstat`: a symlink planted at `~/.bashrc` is a symlink, never
//!   the file it points at; walks never descend into symlinked directories.
//! - `*` and `?` also match names that start with `.` (unlike a shell): a
//!   hidden file in a watched directory is exactly what an attacker would use.
//! - walks are bounded ([`WALK_DEPTH`], [`WALK_ENTRIES`], [`FLAT_ENTRIES`]);
//!   where a bound cut a walk short, [`Snapshot::incomplete`] says so.

use crate::glob::{Comp, parse};
pub use crate::glob::{glob_match, match_name};
pub use crate::model::change::{Change, ChangeKind, Entry, Snapshot};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs::{self, DirEntry, File, Metadata};
use std::io::{ErrorKind, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Largest file whose content a snapshot keeps (and whose lines a diff shows).
pub const KEEP_MAX: u64 = 256 * 1024;
/// Largest file whose content a snapshot keeps when a `**` walk found it:
/// such trees (`~/.claude/**`) also hold large data files, and reading them
/// would cost more than the rest of the snapshot.
pub const KEEP_WALKED: u64 = 32 * 1024;
/// Content kept by one snapshot in all, so a huge watched tree cannot make
/// the snapshot slow or large; files past it are stat-only.
pub const KEEP_TOTAL: u64 = 4 * 1024 * 1024;
/// Largest file [`diff`] hashes.
pub const HASH_MAX: u64 = 64 * 1024 * 1024;
/// Directory levels a `**` walks below the point where it appears.
pub const WALK_DEPTH: usize = 4;
/// Directory entries one pattern may visit.
pub const WALK_ENTRIES: usize = 5000;
/// Directory entries one site or PATH directory may list.
pub const FLAT_ENTRIES: usize = 20_000;
/// Added lines reported per change.
pub const LINES_MAX: usize = 50;
/// Characters kept of one added line (the last one becomes `…` when cut).
pub const LINE_CHARS: usize = 300;

/// Python runs these from a site directory at every start-up.
const SITE_HOOKS: &[&str] = &["sitecustomize.py", "usercustomize.py"];

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;

impl Entry {
    /// The entry for `meta` (from `lstat` or `fstat`), nothing hashed or kept.
    fn from_meta(meta: &Metadata, link_target: Option<String>) -> Entry {
        Entry {
            size: meta.size(),
            mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
            mode: meta.mode(),
            ino: meta.ino(),
            ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
            uid: meta.uid(),
            gid: meta.gid(),
            link_target,
            sha256: None,
            content: None,
        }
    }

    fn is_regular(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }

    /// Same stat: the file is taken as unchanged without reading it.
    fn same_stat(&self, other: &Entry) -> bool {
        self.size == other.size
            && self.mtime_ns == other.mtime_ns
            && self.ctime_ns == other.ctime_ns
            && self.mode == other.mode
            && self.uid == other.uid
            && self.gid == other.gid
            && self.ino == other.ino
            && self.link_target == other.link_target
    }
}

fn nanos(secs: i64, nsec: i64) -> i128 {
    i128::from(secs) * 1_000_000_000 + i128::from(nsec)
}

/// What to watch for one install.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scope {
    /// The home directory that `~` stands for; `~` patterns are skipped
    /// without one.
    pub home: Option<PathBuf>,
    /// The project directory that relative patterns start from.
    pub cwd: PathBuf,
    /// Globs (`*`, `?`, `**`); a matched directory stands for the files
    /// directly in it.
    pub patterns: Vec<String>,
    /// Directories scanned (not recursively) for `*.pth`,
    /// `sitecustomize.py` and `usercustomize.py`.
    pub site_dirs: Vec<PathBuf>,
    /// Directories whose every file is watched, stat only.
    pub path_dirs: Vec<PathBuf>,
    /// The target Python environments (virtualenvs) as they were when the
    /// scope was made: their `{env}/` persistence places are watched.
    #[serde(default)]
    pub envs: Vec<PathBuf>,
    /// Paths whose own stat (type, mode, owner, inode) is watched, nothing
    /// below them: pkgwarden's own directories and files and the roots of
    /// the credential stores. A mode or owner changed behind the event
    /// stream's back (a state directory made unreadable, a loosened
    /// `~/.ssh`) is still found.
    #[serde(default)]
    pub stat_only: Vec<PathBuf>,
    /// Patterns of package directories in other ecosystems' stores
    /// (`policy/installed_code.toml`, made absolute): each match is recorded
    /// by its own stat, nothing below it, so a package directory replaced
    /// or removed behind the event stream's back is still found.
    #[serde(default)]
    pub packages: Vec<String>,
}

impl Scope {
    /// The scope of one install.
    ///
    /// `patterns` are the policy's `startup_paths.linux`; every place of the
    /// persistence families (`policy/persistence.toml`, with the target
    /// virtualenvs for `{env}/`) is added, and so is the hooks
    /// directory of a linked worktree whose `.git` is a file. `site_dirs` are
    /// the install's target site-packages; the user site dirs
    /// `~/.local/lib/python3*/site-packages` that exist are added. The PATH
    /// directories are those before the system command directory (`/usr/bin`,
    /// or `/bin`, the same place on merged-/usr systems), plus `~/.local/bin`
    /// and `~/bin`; entries that are not absolute are skipped.
    pub fn new(
        home: Option<PathBuf>,
        cwd: PathBuf,
        patterns: &[String],
        site_dirs: Vec<PathBuf>,
        path_var: Option<&OsStr>,
    ) -> Scope {
        let home = home.filter(|h| h.is_absolute());
        let mut all: Vec<String> = Vec::new();
        let mut add = |p: &str| {
            if !all.iter().any(|q| q == p) {
                all.push(p.to_string());
            }
        };
        let mut sites: Vec<PathBuf> = Vec::new();
        for d in &site_dirs {
            let d = if d.is_absolute() {
                d.clone()
            } else {
                cwd.join(d)
            };
            if !sites.contains(&d) {
                sites.push(d);
            }
        }
        // Patterns are made absolute here, so that the policy's and the
        // families' spellings of one place are walked once.
        let envs = crate::detect::data::python_envs(&sites);
        let place = |p: &str| crate::detect::data::expand_place(p, home.as_deref(), &cwd, &envs);
        for p in patterns {
            for full in place(p) {
                add(&full);
            }
        }
        // Every place a `persist.*` rule classifies, whatever the policy
        // says: a file, or a directory and everything below it.
        for fam in &crate::detect::data::persistence().family {
            for pat in &fam.paths {
                for full in place(pat) {
                    add(&full);
                    add(&format!("{full}/**"));
                }
            }
        }
        // The places a variable of the environment names (`GITHUB_ENV`,
        // `GIT_CONFIG_GLOBAL`), as the classifier has them.
        for (place, _) in crate::sandbox::startup_vars::places() {
            if let Some(p) = place
                .to_str()
                .filter(|p| p.starts_with('/') && !p.contains(['*', '?', '[']))
            {
                add(p);
                add(&format!("{p}/**"));
            }
        }
        // A pattern string would read `*` or `?` in the path as wildcards.
        if let Some(hooks) = linked_hooks_dir(&cwd)
            .as_deref()
            .and_then(Path::to_str)
            .filter(|h| h.starts_with('/') && !h.contains(['*', '?']))
        {
            add(&format!("{hooks}/*"));
        }
        // The hook directories git runs instead of `.git/hooks`: the one
        // the repository's config names and those of the user's global
        // config (`core.hooksPath = ~/.githooks`), wherever they are.
        let hooks_dirs = crate::sandbox::hooks_path(&cwd)
            .into_iter()
            .chain(crate::sandbox::user_hooks_paths(home.as_deref(), &cwd));
        for dir in hooks_dirs {
            if let Some(d) = dir
                .to_str()
                .filter(|d| d.starts_with('/') && !d.contains(['*', '?', '[']))
            {
                add(d);
                add(&format!("{d}/**"));
            }
        }

        let user_sites = home.as_deref().map(user_site_dirs).unwrap_or_default();
        for d in site_dirs.into_iter().chain(user_sites) {
            let d = if d.is_absolute() { d } else { cwd.join(d) };
            if !sites.contains(&d) {
                sites.push(d);
            }
        }

        // Each store also through its real path (a linked `~/.cargo`).
        let packages = crate::detect::data::package_patterns(home.as_deref())
            .iter()
            .filter_map(|p| p.path.to_str())
            .flat_map(place)
            .collect();
        Scope {
            path_dirs: path_dirs(home.as_deref(), path_var),
            home,
            cwd,
            patterns: all,
            site_dirs: sites,
            envs,
            stat_only: Vec::new(),
            packages,
        }
    }

    /// True when a snapshot of this scope records the file `path`: a
    /// pattern matches it, or matches the directory it is directly in (the
    /// walk bounds aside). The coverage test's measure.
    #[cfg(test)]
    pub fn covers(&self, path: &Path) -> bool {
        let text = path.to_string_lossy();
        let dir = path.parent().map(|d| d.to_string_lossy());
        let in_dirs = |dirs: &[PathBuf]| path.parent().is_some_and(|d| dirs.iter().any(|x| x == d));
        in_dirs(&self.path_dirs)
            || self.patterns.iter().any(|p| {
                let Some((base, _)) = self.resolve(p) else {
                    return false;
                };
                let rest = p.strip_prefix("~/").unwrap_or(p);
                let full = if p.starts_with('/') {
                    p.clone()
                } else {
                    format!("{}/{rest}", base.display())
                };
                glob_match(&full, &text) || dir.as_deref().is_some_and(|d| glob_match(&full, d))
            })
    }

    /// Splits a pattern into the literal directory it starts from (home,
    /// project or `/`) and the components after it. `None` for `~` patterns
    /// without a home and for `~user/…`, which pkgwarden does not expand.
    fn resolve(&self, pattern: &str) -> Option<(PathBuf, Vec<Comp>)> {
        let (base, rest) = if pattern == "~" {
            (self.home.clone()?, "")
        } else if let Some(rest) = pattern.strip_prefix("~/") {
            (self.home.clone()?, rest)
        } else if pattern.starts_with('~') {
            return None;
        } else if let Some(rest) = pattern.strip_prefix('/') {
            (PathBuf::from("/"), rest)
        } else {
            (self.cwd.clone(), pattern)
        };
        Some((base, parse(rest)))
    }
}

/// The hooks directory of a linked worktree (or submodule) whose `.git` is
/// a file `gitdir: …`: git reads hooks from the common git directory.
fn linked_hooks_dir(cwd: &Path) -> Option<PathBuf> {
    let dotgit = cwd.join(".git");
    if !fs::symlink_metadata(&dotgit).ok()?.is_file() {
        return None;
    }
    let (_, text) = read_regular(&dotgit, 4096)?;
    let text = String::from_utf8(text).ok()?;
    let gitdir = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
    let gitdir = cwd.join(gitdir);
    let common = match read_regular(&gitdir.join("commondir"), 4096)
        .and_then(|(_, c)| String::from_utf8(c).ok())
    {
        Some(c) => gitdir.join(c.trim()),
        None => gitdir,
    };
    // One name per file: `worktrees/wt/../..` is the repository's own.
    let common = common.canonicalize().unwrap_or(common);
    Some(common.join("hooks"))
}

/// `~/.local/lib/python3*/site-packages` that exist, sorted.
fn user_site_dirs(home: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(home.join(".local/lib")) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = rd
        .take(1000)
        .flatten()
        .filter(|e| e.file_name().as_bytes().starts_with(b"python3"))
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// PATH entries before the system command directory, then `~/.local/bin`
/// and `~/bin`; a command placed there shadows the system one.
fn path_dirs(home: Option<&Path>, path_var: Option<&OsStr>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut push = |d: PathBuf| {
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    };
    for d in path_var.map(std::env::split_paths).into_iter().flatten() {
        if d == Path::new("/usr/bin") || d == Path::new("/bin") {
            break;
        }
        if d.is_absolute() {
            push(d);
        }
    }
    if let Some(h) = home {
        push(h.join(".local/bin"));
        push(h.join("bin"));
    }
    dirs
}

/// Stats every watched file of `scope`; see the module doc.
pub fn take(scope: &Scope) -> Snapshot {
    let start = Instant::now();
    let mut w = Walker::default();
    for pattern in &scope.patterns {
        let Some((base, comps)) = scope.resolve(pattern) else {
            continue;
        };
        w.walk(pattern, &base, &comps, false);
    }
    for pattern in &scope.packages {
        if let Some((base, comps)) = scope.resolve(pattern) {
            w.walk(pattern, &base, &comps, true);
        }
    }
    for dir in &scope.site_dirs {
        w.flat(dir, KEEP_MAX, |name| {
            name.as_bytes().ends_with(b".pth") || SITE_HOOKS.iter().any(|h| name == *h)
        });
    }
    // Executables: stat only (they can be large and binary).
    for dir in &scope.path_dirs {
        w.flat(dir, 0, |_| true);
    }
    for p in &scope.stat_only {
        if let Ok(meta) = fs::symlink_metadata(p)
            && !w.entries.contains_key(p)
        {
            w.entries.insert(p.clone(), Entry::from_meta(&meta, None));
        }
    }
    Snapshot {
        entries: w.entries,
        took_us: u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
        incomplete: w.incomplete,
    }
}

/// The bounds of one pattern's walk.
struct Walk {
    /// Directory entries it may still visit.
    left: usize,
    /// A `**` walk met a directory below [`WALK_DEPTH`].
    deep: bool,
    /// A match is recorded by its own stat, a directory too (package
    /// directories), instead of standing for the files in it.
    whole: bool,
}

#[derive(Default)]
struct Walker {
    entries: BTreeMap<PathBuf, Entry>,
    kept: u64,
    incomplete: Vec<String>,
}

impl Walker {
    /// One pattern's walk from `base`, noting where a bound cut it short.
    fn walk(&mut self, pattern: &str, base: &Path, comps: &[Comp], whole: bool) {
        let mut walk = Walk {
            left: WALK_ENTRIES,
            deep: false,
            whole,
        };
        self.expand(base, comps, 0, &mut walk);
        if walk.left == 0 {
            self.incomplete.push(format!(
                "{pattern}: stopped after {WALK_ENTRIES} directory entries"
            ));
        }
        if walk.deep {
            self.incomplete
                .push(format!("{pattern}: not walked below {WALK_DEPTH} levels"));
        }
    }

    /// Every file that `comps` matches below `path`.
    fn expand(&mut self, path: &Path, comps: &[Comp], depth: usize, walk: &mut Walk) {
        match comps.split_first() {
            None => {
                if let Ok(meta) = fs::symlink_metadata(path) {
                    self.matched(path.to_path_buf(), meta, walk);
                }
            }
            Some((Comp::Lit(name), rest)) => self.expand(&path.join(name), rest, depth, walk),
            Some((Comp::Wild(pat), rest)) => {
                for e in list(path, &mut walk.left) {
                    if !match_name(pat, &e.file_name().to_string_lossy()) {
                        continue;
                    }
                    if rest.is_empty() {
                        if let Ok(meta) = e.metadata() {
                            self.matched(e.path(), meta, walk);
                        }
                    } else if e.file_type().is_ok_and(|t| t.is_dir()) {
                        self.expand(&e.path(), rest, depth, walk);
                    }
                }
            }
            Some((Comp::Any, [])) => self.below(path, depth, walk),
            Some((Comp::Any, rest)) => {
                // Looking for places (`~/**/.git/hooks`) below a tree: a
                // branch where the rest begins is not searched further, and
                // hidden directories and `node_modules` are not entered
                // (they hold caches and dependencies, not the user's work).
                if depth > 0
                    && let Some(Comp::Lit(first)) = rest.first()
                    && fs::symlink_metadata(path.join(first)).is_ok()
                {
                    self.expand(path, rest, depth, walk);
                    return;
                }
                self.expand(path, rest, depth, walk);
                for e in list(path, &mut walk.left) {
                    let name = e.file_name();
                    let skip = name.as_bytes().starts_with(b".") || name == "node_modules";
                    if !skip && e.file_type().is_ok_and(|t| t.is_dir()) {
                        if depth >= WALK_DEPTH {
                            walk.deep = true;
                        } else {
                            self.expand(&e.path(), comps, depth + 1, walk);
                        }
                    }
                }
            }
        }
    }

    /// A pattern's last component matched `path`: a file is recorded, a
    /// directory stands for the files directly in it (`/etc/cron*` →
    /// `/etc/cron.d/*`).
    fn matched(&mut self, path: PathBuf, meta: Metadata, walk: &mut Walk) {
        if walk.whole {
            self.record(path, &meta, 0);
            return;
        }
        if !meta.is_dir() {
            self.record(path, &meta, KEEP_MAX);
            return;
        }
        for e in list(&path, &mut walk.left) {
            if let Ok(m) = e.metadata()
                && !m.is_dir()
            {
                self.record(e.path(), &m, KEEP_MAX);
            }
        }
    }

    /// Every file below `path`, [`WALK_DEPTH`] directory levels deep.
    fn below(&mut self, path: &Path, depth: usize, walk: &mut Walk) {
        for e in list(path, &mut walk.left) {
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_dir() {
                self.record(e.path(), &meta, KEEP_WALKED);
            } else if depth >= WALK_DEPTH {
                walk.deep = true;
            } else {
                self.below(&e.path(), depth + 1, walk);
            }
        }
    }

    /// Files directly in `dir` whose name passes `want`.
    fn flat(&mut self, dir: &Path, keep: u64, want: impl Fn(&OsStr) -> bool) {
        let mut left = FLAT_ENTRIES;
        for e in list(dir, &mut left) {
            if !want(&e.file_name()) {
                continue;
            }
            if let Ok(meta) = e.metadata()
                && !meta.is_dir()
            {
                self.record(e.path(), &meta, keep);
            }
        }
        if left == 0 {
            self.incomplete.push(format!(
                "{}: stopped after {FLAT_ENTRIES} directory entries",
                dir.display()
            ));
        }
    }

    /// Adds one non-directory; keeps the content of a text file of at most
    /// `keep` bytes while the snapshot's content budget allows.
    fn record(&mut self, path: PathBuf, meta: &Metadata, keep: u64) {
        if self.entries.contains_key(&path) {
            return;
        }
        let ft = meta.file_type();
        let target = ft
            .is_symlink()
            .then(|| fs::read_link(&path).ok())
            .flatten()
            .map(|t| t.to_string_lossy().into_owned());
        let mut entry = Entry::from_meta(meta, target);
        if keep > 0 && ft.is_file() && meta.len() <= keep && self.kept + meta.len() <= KEEP_TOTAL {
            // The stat of the inode actually read, so content and stat agree
            // even if the file was replaced since the lstat.
            if let Some((m, bytes)) = read_regular(&path, keep) {
                entry = Entry::from_meta(&m, None);
                if is_text(&bytes) {
                    self.kept += m.len();
                    entry.content = Some(bytes);
                }
            }
        }
        self.entries.insert(path, entry);
    }
}

/// The entries of `dir`, at most `left` of them (which it counts down);
/// nothing when it cannot be read.
fn list(dir: &Path, left: &mut usize) -> Vec<DirEntry> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        if *left == 0 {
            break;
        }
        *left -= 1;
        out.push(e);
    }
    out
}

/// Opens `path` without following a symlink and without blocking (a FIFO
/// planted where a file was must not hang the supervisor); `None` unless it
/// is a regular file.
fn open_regular(path: &Path) -> Option<(File, Metadata)> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    meta.is_file().then_some((file, meta))
}

/// The whole content of a regular file of at most `max` bytes.
fn read_regular(path: &Path, max: u64) -> Option<(Metadata, Vec<u8>)> {
    let (file, meta) = open_regular(path)?;
    if meta.len() > max {
        return None;
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut buf).ok()?;
    (u64::try_from(buf.len()).unwrap_or(u64::MAX) <= max).then_some((meta, buf))
}

/// SHA-256 of a regular file of at most [`HASH_MAX`] bytes, streamed.
fn hash_file(path: &Path) -> Option<String> {
    let (file, meta) = open_regular(path)?;
    if meta.len() > HASH_MAX {
        return None;
    }
    let mut reader = file.take(HASH_MAX + 1);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        total += u64::try_from(n).unwrap_or(u64::MAX);
        hasher.update(buf.get(..n)?);
    }
    (total <= HASH_MAX).then(|| hex(&hasher.finalize()))
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Text for our purpose: no NUL byte (rc files, configs, `.pth`, scripts).
fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0)
}

/// Fills `sha256` (and `content`, for a small text file read now): from the
/// kept content when there is one, else from the file when `read`.
fn fill(entry: &mut Entry, path: &Path, read: bool) {
    if entry.sha256.is_some() {
        return;
    }
    if let Some(c) = &entry.content {
        entry.sha256 = Some(sha256_hex(c));
        return;
    }
    if !read || !entry.is_regular() {
        return;
    }
    if entry.size <= KEEP_MAX
        && let Some((_, bytes)) = read_regular(path, KEEP_MAX)
    {
        entry.sha256 = Some(sha256_hex(&bytes));
        if is_text(&bytes) {
            entry.content = Some(bytes);
        }
        return;
    }
    entry.sha256 = hash_file(path);
}

/// Whether a path whose stat changed really changed: its type or mode, its
/// inode (replaced, e.g. renamed into place), its symlink target, or its
/// content. Equal hashes after an mtime change are no change; a regular file
/// whose hashes are not both known is taken as changed.
fn really_changed(before: &Entry, after: &Entry) -> bool {
    if before.mode != after.mode
        || (before.uid, before.gid) != (after.uid, after.gid)
        || before.ino != after.ino
        || before.link_target != after.link_target
    {
        return true;
    }
    if !after.is_regular() {
        // Symlinks, FIFOs, devices: identity is mode, inode and target.
        return false;
    }
    match (&before.sha256, &after.sha256) {
        (Some(b), Some(a)) => b != a,
        _ => true,
    }
}

/// Compares two snapshots of the same scope; see the module doc. Reads the
/// files whose stat changed (to hash them), so call it right after the
/// second [`take`]. Changes come sorted by path.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    // A directory stands for its own mode, owner and inode: its coming and
    // going is told by the files in it.
    let dir = |e: &Entry| e.mode & S_IFMT == S_IFDIR;
    for (path, b) in &before.entries {
        if !after.entries.contains_key(path) && !dir(b) {
            let mut b = b.clone();
            fill(&mut b, path, false);
            out.push(Change {
                path: path.to_string_lossy().into_owned(),
                kind: ChangeKind::Removed,
                before: Some(b),
                after: None,
                added_lines: Vec::new(),
            });
        }
    }
    for (path, a) in &after.entries {
        let b = before.entries.get(path);
        if b.is_some_and(|b| b.same_stat(a)) {
            continue;
        }
        let mut a = a.clone();
        let (kind, before, added_lines) = match b {
            None if dir(&a) => continue,
            None => {
                fill(&mut a, path, true);
                let lines = a
                    .content
                    .as_deref()
                    .map(|c| added_lines(None, c))
                    .unwrap_or_default();
                (ChangeKind::Added, None, lines)
            }
            Some(b) => {
                let mut b = b.clone();
                fill(&mut b, path, false);
                fill(&mut a, path, true);
                if !really_changed(&b, &a) {
                    continue;
                }
                let lines = match (&b.content, &a.content) {
                    (Some(old), Some(new)) => added_lines(Some(old), new),
                    _ => Vec::new(),
                };
                (ChangeKind::Modified, Some(b), lines)
            }
        };
        out.push(Change {
            path: path.to_string_lossy().into_owned(),
            kind,
            before,
            after: Some(a),
            added_lines,
        });
    }
    out.sort_by(|x, y| x.path.cmp(&y.path));
    out
}

/// Lines of `text` without their `\n` (and a `\r` before it); no trailing
/// empty line for a final newline.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    body.split(|&c| c == b'\n')
        .take(if text.is_empty() { 0 } else { usize::MAX })
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Lines of `new` that `old` does not have, counted as a multiset (a line
/// that appears once more than before is added once; moving a line adds
/// nothing). Blank lines are left out; at most [`LINES_MAX`], each cut to
/// [`LINE_CHARS`] characters.
fn added_lines(old: Option<&[u8]>, new: &[u8]) -> Vec<(u32, String)> {
    let mut have: HashMap<&[u8], usize> = HashMap::new();
    for l in old.map(lines).into_iter().flatten() {
        *have.entry(l).or_default() += 1;
    }
    let mut out = Vec::new();
    for (i, l) in lines(new).enumerate() {
        if let Some(n) = have.get_mut(l)
            && *n > 0
        {
            *n -= 1;
            continue;
        }
        if l.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push((u32::try_from(i + 1).unwrap_or(u32::MAX), clip(l)));
        if out.len() >= LINES_MAX {
            break;
        }
    }
    out
}

fn clip(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    if s.chars().count() <= LINE_CHARS {
        return s.into_owned();
    }
    let mut cut: String = s.chars().take(LINE_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::time::{Duration, SystemTime};
    use tempfile::TempDir;

    /// A home and a project directory, and a scope over them.
    struct Fixture {
        home: TempDir,
        cwd: TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                home: tempfile::tempdir().unwrap(),
                cwd: tempfile::tempdir().unwrap(),
            }
        }
        fn h(&self, rel: &str) -> PathBuf {
            self.home.path().join(rel)
        }
        fn c(&self, rel: &str) -> PathBuf {
            self.cwd.path().join(rel)
        }
        fn scope(&self, patterns: &[&str], sites: Vec<PathBuf>, path: Option<&str>) -> Scope {
            let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
            Scope::new(
                Some(self.home.path().to_path_buf()),
                self.cwd.path().to_path_buf(),
                &patterns,
                sites,
                path.map(OsStr::new),
            )
        }
    }

    /// Writes `text` and dates the file in the past, so that any later
    /// write shows in its mtime whatever the clock's granularity.
    fn write_old(path: &Path, text: &str) {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).unwrap();
        }
        fs::write(path, text).unwrap();
        set_mtime(
            path,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000),
        );
    }

    fn set_mtime(path: &Path, t: SystemTime) {
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    fn find<'a>(changes: &'a [Change], path: &Path) -> &'a Change {
        let p = path.to_string_lossy();
        changes
            .iter()
            .find(|c| c.path == p)
            .unwrap_or_else(|| panic!("no change for {p}: {changes:#?}"))
    }

    #[test]
    fn matched_directories_stand_for_their_files() {
        let f = Fixture::new();
        // Like `/etc/cron*`: a file and directories matched by one glob.
        let etc = f.h("etc");
        write_old(&etc.join("crontab"), "* * * * * root x\n");
        write_old(&etc.join("cron.d/job"), "j\n");
        write_old(&etc.join("cron.daily/sub/deep"), "d\n");
        write_old(&etc.join("crypttab"), "not cron\n");
        write_old(&f.h(".config/autostart/a.desktop"), "[Desktop Entry]\n");
        write_old(&f.h(".config/autostart/a.txt"), "x\n");
        let scope = f.scope(
            &["~/etc/cron*", "~/.config/autostart/*.desktop"],
            vec![],
            None,
        );
        let snap = take(&scope);
        let mut got: Vec<PathBuf> = snap
            .entries
            .keys()
            .filter(|p| p.starts_with(f.home.path()))
            .cloned()
            .collect();
        // The autostart family covers its whole directory.
        got.retain(|p| *p != f.h(".config/autostart/a.txt"));
        assert_eq!(
            got,
            vec![
                f.h(".config/autostart/a.desktop"),
                etc.join("cron.d/job"),
                etc.join("crontab"),
            ]
        );
    }

    #[test]
    fn added_modified_removed() {
        let f = Fixture::new();
        write_old(&f.h(".bashrc"), "export A=1\n");
        write_old(&f.h(".profile"), "umask 022\n");
        write_old(&f.h(".zshenv"), "unchanged\n");
        let scope = f.scope(
            &["~/.bashrc", "~/.profile", "~/.zshrc", "~/.zshenv"],
            vec![],
            None,
        );
        let before = take(&scope);
        assert!(before.entries[&f.h(".bashrc")].content.is_some());

        fs::write(f.h(".bashrc"), "export A=1\ncurl x | sh\n").unwrap();
        fs::remove_file(f.h(".profile")).unwrap();
        fs::write(f.h(".zshrc"), "evil\n").unwrap();
        let after = take(&scope);
        let changes = diff(&before, &after);
        assert_eq!(changes.len(), 3, "{changes:#?}");

        let m = find(&changes, &f.h(".bashrc"));
        assert_eq!(m.kind, ChangeKind::Modified);
        assert_eq!(m.added_lines, vec![(2, "curl x | sh".to_string())]);
        let (b, a) = (m.before.as_ref().unwrap(), m.after.as_ref().unwrap());
        assert_eq!(
            b.sha256.as_deref(),
            Some(sha256_hex(b"export A=1\n").as_str())
        );
        assert_eq!(
            a.sha256.as_deref(),
            Some(sha256_hex(b"export A=1\ncurl x | sh\n").as_str())
        );
        // The old content travels with the change, so it can be undone.
        assert_eq!(b.content.as_deref(), Some(&b"export A=1\n"[..]));

        let r = find(&changes, &f.h(".profile"));
        assert_eq!(r.kind, ChangeKind::Removed);
        assert!(r.after.is_none());
        assert!(r.before.as_ref().unwrap().sha256.is_some());

        let n = find(&changes, &f.h(".zshrc"));
        assert_eq!(n.kind, ChangeKind::Added);
        assert_eq!(n.added_lines, vec![(1, "evil".to_string())]);
        assert_eq!(
            n.after.as_ref().unwrap().sha256.as_deref(),
            Some(sha256_hex(b"evil\n").as_str())
        );
    }

    #[test]
    fn rename_into_place_with_same_size_and_mtime_is_a_change() {
        let f = Fixture::new();
        write_old(&f.h(".bashrc"), "AAAA\n");
        let scope = f.scope(&["~/.bashrc"], vec![], None);
        let before = take(&scope);
        let old = &before.entries[&f.h(".bashrc")];

        let tmp = f.h(".bashrc.tmp");
        write_old(&tmp, "BBBB\n");
        fs::rename(&tmp, f.h(".bashrc")).unwrap();
        let after = take(&scope);
        let new = &after.entries[&f.h(".bashrc")];
        assert_eq!((old.size, old.mtime_ns), (new.size, new.mtime_ns));
        assert_ne!(old.ino, new.ino);

        let changes = diff(&before, &after);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].kind, ChangeKind::Modified);
        assert_eq!(changes[0].added_lines, vec![(1, "BBBB".to_string())]);
    }

    #[test]
    fn in_place_rewrite_that_restores_mtime_is_a_change() {
        let f = Fixture::new();
        write_old(&f.h(".bashrc"), "AAAA\n");
        let scope = f.scope(&["~/.bashrc"], vec![], None);
        let before = take(&scope);
        std::thread::sleep(Duration::from_millis(20));
        write_old(&f.h(".bashrc"), "BBBB\n");
        let changes = diff(&before, &take(&scope));
        assert_eq!(changes.len(), 1, "ctime must catch it");
        assert_eq!(changes[0].kind, ChangeKind::Modified);
    }

    #[test]
    fn identical_content_with_new_mtime_is_not_a_change() {
        let f = Fixture::new();
        write_old(&f.h(".bashrc"), "same\n");
        write_old(&f.h(".zshrc"), "same\n");
        let scope = f.scope(&["~/.bashrc", "~/.zshrc"], vec![], None);
        let before = take(&scope);
        set_mtime(&f.h(".bashrc"), SystemTime::now());
        fs::write(f.h(".zshrc"), "same\n").unwrap();
        let after = take(&scope);
        assert!(!before.entries[&f.h(".bashrc")].same_stat(&after.entries[&f.h(".bashrc")]));
        assert_eq!(diff(&before, &after), vec![]);
    }

    #[test]
    fn mode_change_is_a_change() {
        let f = Fixture::new();
        write_old(&f.h(".bashrc"), "x\n");
        let scope = f.scope(&["~/.bashrc"], vec![], None);
        let before = take(&scope);
        fs::set_permissions(f.h(".bashrc"), fs::Permissions::from_mode(0o777)).unwrap();
        let changes = diff(&before, &take(&scope));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].kind, ChangeKind::Modified);
        assert!(changes[0].added_lines.is_empty());
        assert_eq!(changes[0].after.as_ref().unwrap().mode & 0o777, 0o777);
    }

    #[test]
    fn stat_only_paths_show_a_new_mode_but_not_their_contents() {
        let f = Fixture::new();
        let state = f.h(".local/state/pkgwarden");
        fs::create_dir_all(state.join("reports")).unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
        let gone = f.h("gone");
        fs::create_dir_all(&gone).unwrap();
        let mut scope = f.scope(&[], vec![], None);
        scope.stat_only = vec![state.clone(), gone.clone(), f.h("later")];
        let before = take(&scope);
        fs::write(state.join("reports/r.json"), "{}").unwrap();
        fs::remove_dir(&gone).unwrap();
        fs::create_dir_all(f.h("later")).unwrap();
        assert!(diff(&before, &take(&scope)).is_empty());
        fs::set_permissions(&state, fs::Permissions::from_mode(0o0)).unwrap();
        let changes = diff(&before, &take(&scope));
        fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(find(&changes, &state).kind, ChangeKind::Modified);
    }

    #[test]
    fn planted_symlinks_are_seen_as_symlinks() {
        let f = Fixture::new();
        write_old(&f.h(".profile"), "umask 022\n");
        let evil = f.cwd.path().join("evil.sh");
        fs::write(&evil, "curl x | sh\n").unwrap();
        let scope = f.scope(&["~/.bashrc", "~/.profile"], vec![], None);
        let before = take(&scope);

        symlink(&evil, f.h(".bashrc")).unwrap();
        fs::remove_file(f.h(".profile")).unwrap();
        symlink(&evil, f.h(".profile")).unwrap();
        let changes = diff(&before, &take(&scope));
        assert_eq!(changes.len(), 2, "{changes:#?}");

        let target = Some(evil.to_string_lossy().into_owned());
        let added = find(&changes, &f.h(".bashrc"));
        assert_eq!(added.kind, ChangeKind::Added);
        let a = added.after.as_ref().unwrap();
        assert_eq!(a.mode & S_IFMT, 0o120_000);
        assert_eq!(a.link_target, target);
        // Never followed: no hash, no lines of the target.
        assert!(a.sha256.is_none() && added.added_lines.is_empty());

        let replaced = find(&changes, &f.h(".profile"));
        assert_eq!(replaced.kind, ChangeKind::Modified);
        assert_eq!(replaced.after.as_ref().unwrap().link_target, target);
    }

    #[test]
    fn pth_and_sitecustomize_in_site_dirs() {
        let f = Fixture::new();
        let site = f.c("venv/lib/python3.12/site-packages");
        write_old(
            &site.join("distutils-precedence.pth"),
            "import _distutils_hack\n",
        );
        write_old(&site.join("mod.py"), "x = 1\n");
        let scope = f.scope(&[], vec![site.clone()], None);
        let before = take(&scope);
        assert!(
            before
                .entries
                .contains_key(&site.join("distutils-precedence.pth"))
        );
        assert!(!before.entries.contains_key(&site.join("mod.py")));

        fs::write(site.join("zz.pth"), "import os; exec('evil')\n").unwrap();
        fs::write(site.join("sitecustomize.py"), "import evil\n").unwrap();
        fs::write(site.join("other.py"), "not watched\n").unwrap();
        fs::create_dir(site.join("pkg.pth")).unwrap();
        let changes = diff(&before, &take(&scope));
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                site.join("sitecustomize.py").to_str().unwrap(),
                site.join("zz.pth").to_str().unwrap()
            ]
        );
        assert_eq!(
            changes[1].added_lines,
            vec![(1, "import os; exec('evil')".to_string())]
        );
    }

    #[test]
    fn user_site_dirs_are_added() {
        let f = Fixture::new();
        let site = f.h(".local/lib/python3.11/site-packages");
        fs::create_dir_all(&site).unwrap();
        fs::create_dir_all(f.h(".local/lib/python2.7/site-packages")).unwrap();
        let scope = f.scope(&[], vec![PathBuf::from("rel/site")], None);
        assert_eq!(scope.site_dirs, vec![f.c("rel/site"), site.clone()]);
        let before = take(&scope);
        fs::write(site.join("x.pth"), "import y\n").unwrap();
        assert_eq!(diff(&before, &take(&scope)).len(), 1);
    }

    #[test]
    fn path_dirs_come_from_path_before_usr_bin() {
        let f = Fixture::new();
        let scope = f.scope(
            &[],
            vec![],
            Some("/opt/shims:relative/bin::/usr/local/bin:/opt/shims/:/usr/bin:/opt/late"),
        );
        assert_eq!(
            scope.path_dirs,
            vec![
                PathBuf::from("/opt/shims"),
                PathBuf::from("/usr/local/bin"),
                f.h(".local/bin"),
                f.h("bin"),
            ]
        );
        let no_home = Scope::new(None, f.c(""), &[], vec![], None);
        assert!(no_home.path_dirs.is_empty());
        // Without a home, `~` patterns are skipped, not read from `/`.
        assert!(no_home.resolve("~/.bashrc").is_none());
    }

    #[test]
    fn new_executable_on_path_is_hashed_not_kept() {
        let f = Fixture::new();
        let bin = f.h(".local/bin");
        write_old(&bin.join("tool"), "#!/bin/sh\necho tool\n");
        let scope = f.scope(&[], vec![], None);
        let before = take(&scope);
        assert!(before.entries[&bin.join("tool")].content.is_none());

        fs::write(bin.join("sudo"), "#!/bin/sh\nsteal \"$@\"\n").unwrap();
        fs::set_permissions(bin.join("sudo"), fs::Permissions::from_mode(0o755)).unwrap();
        let changes = diff(&before, &take(&scope));
        assert_eq!(changes.len(), 1);
        let c = &changes[0];
        assert_eq!(c.kind, ChangeKind::Added);
        assert_eq!(
            c.after.as_ref().unwrap().sha256.as_deref(),
            Some(sha256_hex(b"#!/bin/sh\nsteal \"$@\"\n").as_str())
        );
        assert_eq!(c.added_lines.len(), 2);
    }

    #[test]
    fn always_watched_paths_even_without_patterns() {
        let f = Fixture::new();
        let scope = f.scope(&[], vec![], None);
        let before = take(&scope);
        write_old(&f.h(".ssh/authorized_keys"), "ssh-ed25519 AAAA attacker\n");
        write_old(&f.h(".gitconfig"), "[core]\n\thooksPath = /tmp/h\n");
        write_old(&f.c(".git/hooks/pre-commit"), "#!/bin/sh\n");
        write_old(&f.c(".github/workflows/x.yml"), "on: push\n");
        write_old(&f.c(".gitlab-ci.yml"), "x: y\n");
        write_old(&f.c(".claude/settings.json"), "{}\n");
        write_old(&f.c(".vscode/tasks.json"), "{}\n");
        write_old(&f.c(".vscode/settings.json"), "{}\n");
        let changes = diff(&before, &take(&scope));
        assert_eq!(changes.len(), 8, "{changes:#?}");
        assert!(changes.iter().all(|c| c.kind == ChangeKind::Added));
    }

    #[test]
    fn the_hook_directories_git_config_names_are_watched() {
        let f = Fixture::new();
        // The user's global one (`~` expanded) and the repository's own
        // (relative to the working tree's top).
        write_old(&f.h(".gitconfig"), "[core]\n\thooksPath = ~/.githooks\n");
        fs::create_dir_all(f.h(".githooks")).unwrap();
        write_old(&f.c(".git/config"), "[core]\n\thooksPath = tools/hooks\n");
        fs::create_dir_all(f.c("tools/hooks")).unwrap();
        let scope = f.scope(&[], vec![], None);
        let before = take(&scope);
        write_old(&f.h(".githooks/pre-commit"), "#!/bin/sh\nevil\n");
        write_old(&f.c("tools/hooks/post-checkout"), "#!/bin/sh\nevil\n");
        let changes = diff(&before, &take(&scope));
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        let global = f.h(".githooks/pre-commit");
        if std::env::var_os("GIT_CONFIG_GLOBAL").is_none() {
            assert!(paths.contains(&global.to_str().unwrap()), "{paths:?}");
        }
        let own = f.c("tools/hooks/post-checkout");
        assert!(paths.contains(&own.to_str().unwrap()), "{paths:?}");
    }

    #[test]
    fn linked_worktree_hooks_are_watched() {
        let f = Fixture::new();
        let common = f.h("repo/.git");
        let gitdir = common.join("worktrees/wt");
        fs::create_dir_all(common.join("hooks")).unwrap();
        write_old(&gitdir.join("commondir"), "../..\n");
        write_old(&f.c(".git"), &format!("gitdir: {}\n", gitdir.display()));
        let scope = f.scope(&[], vec![], None);
        let before = take(&scope);
        fs::write(common.join("hooks/post-checkout"), "#!/bin/sh\nevil\n").unwrap();
        let changes = diff(&before, &take(&scope));
        assert_eq!(changes.len(), 1, "{changes:#?}");
        assert!(changes[0].path.ends_with("/hooks/post-checkout"));
    }

    #[test]
    fn recursive_walk_is_bounded_and_never_follows_dir_symlinks() {
        let f = Fixture::new();
        let root = f.h(".config/fish");
        write_old(&root.join("config.fish"), "set x\n");
        write_old(&root.join(".hidden"), "h\n");
        write_old(&root.join("a/b/c/d/four.fish"), "4\n");
        write_old(&root.join("a/b/c/d/e/five.fish"), "5\n");
        let outside = f.cwd.path().join("outside");
        write_old(&outside.join("secret"), "s\n");
        symlink(&outside, root.join("link")).unwrap();
        let scope = f.scope(&["~/.config/fish/**"], vec![], None);
        let snap = take(&scope);
        let got: Vec<PathBuf> = snap.entries.keys().cloned().collect();
        assert!(got.contains(&root.join("config.fish")));
        assert!(got.contains(&root.join(".hidden")));
        assert!(got.contains(&root.join("a/b/c/d/four.fish")));
        assert!(!got.contains(&root.join("a/b/c/d/e/five.fish")));
        // The symlink itself is watched; what it points into is not walked.
        assert!(got.contains(&root.join("link")));
        assert!(!got.iter().any(|p| p.ends_with("secret")));
        assert!(snap.incomplete.iter().any(|l| l.contains("levels")));
    }

    #[test]
    fn walk_stops_after_the_entry_budget() {
        let f = Fixture::new();
        let dir = f.h(".claude/many");
        fs::create_dir_all(&dir).unwrap();
        for i in 0..WALK_ENTRIES + 10 {
            File::create(dir.join(format!("f{i}"))).unwrap();
        }
        let snap = take(&f.scope(&["~/.claude/**"], vec![], None));
        let mine = snap.entries.keys().filter(|p| p.starts_with(&dir)).count();
        assert!(mine < WALK_ENTRIES);
        assert!(snap.incomplete.iter().any(|l| l.contains("stopped")));
    }

    #[test]
    fn fifo_in_a_watched_place_does_not_hang() {
        let f = Fixture::new();
        let scope = f.scope(&["~/.bashrc"], vec![], None);
        let before = take(&scope);
        let mode = nix::sys::stat::Mode::from_bits_retain(0o644);
        nix::unistd::mkfifo(&f.h(".bashrc"), mode).unwrap();
        let changes = diff(&before, &take(&scope));
        assert_eq!(changes.len(), 1);
        let a = changes[0].after.as_ref().unwrap();
        assert_eq!(a.mode & S_IFMT, 0o010_000);
        assert!(a.sha256.is_none() && a.content.is_none());
    }

    #[test]
    fn binary_and_large_files_are_not_kept() {
        let f = Fixture::new();
        write_old(&f.h(".bashrc"), "a\0b");
        write_old(
            &f.h(".zshrc"),
            &"x".repeat(usize::try_from(KEEP_MAX).unwrap() + 1),
        );
        let scope = f.scope(&["~/.bashrc", "~/.zshrc"], vec![], None);
        let before = take(&scope);
        assert!(
            before
                .entries
                .iter()
                .filter(|(p, _)| p.starts_with(f.home.path()))
                .all(|(_, e)| e.content.is_none())
        );
        fs::write(f.h(".zshrc"), "y").unwrap();
        let changes = diff(&before, &take(&scope));
        // Content before unknown: a stat change is a change, without lines.
        assert_eq!(changes.len(), 1);
        assert!(changes[0].before.as_ref().unwrap().sha256.is_none());
        assert!(changes[0].added_lines.is_empty());
    }

    #[test]
    fn walked_files_keep_less() {
        let f = Fixture::new();
        let big = "x\n".repeat(usize::try_from(KEEP_WALKED).unwrap());
        write_old(&f.h(".claude/settings.json"), "{}\n");
        write_old(&f.h(".claude/projects/p/s.jsonl"), &big);
        write_old(&f.h(".gemrc"), &big);
        let snap = take(&f.scope(&["~/.claude/**", "~/.gemrc"], vec![], None));
        let kept = |rel: &str| snap.entries[&f.h(rel)].content.is_some();
        assert!(kept(".claude/settings.json"));
        assert!(!kept(".claude/projects/p/s.jsonl"));
        assert!(kept(".gemrc"));
    }

    #[test]
    fn added_lines_table() {
        type Case<'a> = (Option<&'a str>, &'a str, &'a [(u32, &'a str)]);
        let cases: &[Case] = &[
            (
                Some("a\nb\nc\n"),
                "a\nX\nb\nc\nb\n\nY",
                &[(2, "X"), (5, "b"), (7, "Y")],
            ),
            (Some("a\nb\n"), "b\na\n", &[]),
            (Some("a\r\nb\r\n"), "a\r\nb\r\nc\r\n", &[(3, "c")]),
            (Some(""), "", &[]),
            (None, "one\ntwo", &[(1, "one"), (2, "two")]),
            (None, "\n  \n\tz\n", &[(3, "\tz")]),
            (Some("keep"), "keep\n", &[]),
        ];
        for (old, new, want) in cases {
            let got = added_lines(old.map(str::as_bytes), new.as_bytes());
            let want: Vec<(u32, String)> = want.iter().map(|(n, s)| (*n, s.to_string())).collect();
            assert_eq!(got, want, "old {old:?} new {new:?}");
        }
    }

    #[test]
    fn added_lines_are_capped_and_cut() {
        let new: String = (0..80).map(|i| format!("line {i}\n")).collect();
        let got = added_lines(None, new.as_bytes());
        assert_eq!(got.len(), LINES_MAX);
        assert_eq!(got[49], (50, "line 49".to_string()));

        let long = "é".repeat(1000);
        let got = added_lines(None, long.as_bytes());
        assert_eq!(got[0].1.chars().count(), LINE_CHARS);
        assert!(got[0].1.ends_with('…'));
        assert_eq!(added_lines(None, &[0xff, b'\n'])[0].1, "\u{fffd}");
    }

    #[test]
    fn glob_table() {
        let cases = [
            ("/etc/profile.d/*", "/etc/profile.d/x.sh", true),
            ("/etc/profile.d/*", "/etc/profile.d/.hidden", true),
            ("/etc/profile.d/*", "/etc/profile.d/a/b", false),
            ("/etc/profile.d/*", "/etc/profile.d", false),
            ("/etc/cron*", "/etc/crontab", true),
            ("/etc/cron*", "/etc/cron.d", true),
            ("/etc/cron*", "/etc/cron.d/x", false),
            ("/etc/cron*", "/etc/crypttab", false),
            ("/a/**", "/a", true),
            ("/a/**", "/a/b", true),
            ("/a/**", "/a/b/c/d", true),
            ("/a/**", "/b/a", false),
            ("/a/**/z", "/a/z", true),
            ("/a/**/z", "/a/b/c/z", true),
            ("/a/**/z", "/a/b/c/y", false),
            ("/**/*.pth", "/x/y/evil.pth", true),
            ("/a/?.sh", "/a/x.sh", true),
            ("/a/?.sh", "/a/xy.sh", false),
            ("/a/*.desktop", "/a/x.desktop", true),
            ("/a/*.desktop", "/a/x.desktop.bak", false),
            ("/a/x*y*z", "/a/xaaybbz", true),
            ("/a/x*y*z", "/a/xaaybb", false),
            ("/a/*", "/a/é", true),
            ("/a/?", "/a/é", true),
            ("/a/**b", "/a/xb", true),
            ("/a/b", "/a/b/", true),
            ("/a//b", "/a/b", true),
            (".git/hooks/*", ".git/hooks/pre-commit", true),
            (".git/hooks/*", "/x/.git/hooks/pre-commit", false),
            ("/*", "/", false),
            ("", "", true),
            (
                "/**/**/**/**/**/**/**/**/**/**/**/**/**/**/**/**/**/**/**/q",
                "/a/b/c/d/e/f/g/h/r",
                false,
            ),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(glob_match(pattern, path), want, "{pattern} vs {path}");
        }
    }

    #[test]
    fn entries_from_older_reports_still_load() {
        let e: Entry = serde_json::from_str(r#"{"size":1,"mtime_ns":2,"mode":33188}"#).unwrap();
        assert_eq!((e.ino, e.ctime_ns, &e.link_target), (0, 0, &None));
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("link_target") && !json.contains("content"));
    }

    /// The cost on this machine's real home directory with the built-in
    /// startup paths: `cargo test --release snapshot_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn snapshot_cost_on_real_home() {
        let policy: toml::Table = toml::from_str(crate::policy::BUILTIN).unwrap();
        let linux: Vec<String> = policy["startup_paths"]["linux"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let scope = Scope::new(
            crate::paths::home(),
            std::env::current_dir().unwrap(),
            &linux,
            vec![],
            std::env::var_os("PATH").as_deref(),
        );
        for run in 0..5 {
            let t = Instant::now();
            let before = take(&scope);
            let took = t.elapsed();
            let t = Instant::now();
            let changes = diff(&before, &take(&scope));
            let took2 = t.elapsed();
            let kept: usize = before
                .entries
                .values()
                .filter_map(|e| e.content.as_ref().map(Vec::len))
                .sum();
            println!(
                "run {run}: take {took:?} ({} entries, {} KiB kept), take+diff {took2:?} ({} changes), incomplete {:?}",
                before.entries.len(),
                kept / 1024,
                changes.len(),
                before.incomplete
            );
        }
        println!(
            "path dirs: {:?}\nsite dirs: {:?}",
            scope.path_dirs, scope.site_dirs
        );
    }
}
