//! Filesystem and network rules for landlock.
//!
//! Landlock only allows, so "everything but ~/.ssh" is spelled as grants on
//! each sibling along the way down to every protected path. The grants are
//! built as data by [`grants`] (it reads directory listings, nothing else),
//! turned into a ruleset by [`build`] in the supervisor before `fork`, and the
//! child only calls `landlock_restrict_self` on the inherited descriptor.

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
};
use serde::Serialize;
use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the sandboxed install may do with a path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "grant", content = "path", rename_all = "kebab-case")]
pub enum Grant {
    /// Read and execute everything beneath.
    Read(PathBuf),
    /// Read, execute, create, write, remove, rename beneath.
    Write(PathBuf),
    /// Read and write one existing file (a device such as /dev/null).
    WriteFile(PathBuf),
    /// Create directories beneath, nothing else (a fact probe's manager
    /// making its own home or cache directory at start-up).
    MakeDir(PathBuf),
    /// Create, write and remove regular files beneath (no directories,
    /// links or moves across directories): a manager that writes a file
    /// through a temporary one beside it (pnpm's lockfile).
    Files(PathBuf),
    /// List the entries of a directory and of every directory beneath,
    /// open no file (the directory a manager runs in when it is split
    /// around a credential store: [`list_where_run`]).
    ListDir(PathBuf),
}

/// The inputs of the filesystem rules.
#[derive(Clone, Debug, Default)]
pub struct FsSpec {
    /// Paths nobody in the sandbox may read (credential stores).
    pub secrets: Vec<PathBuf>,
    /// Directories the install may write beneath.
    pub write_dirs: Vec<PathBuf>,
    /// Single files the install may write (devices, lockfiles).
    pub write_files: Vec<PathBuf>,
    /// Directories where regular files may be created, written and
    /// removed ([`Grant::Files`]).
    pub file_dirs: Vec<PathBuf>,
    /// A directory whose children are writable except `keep` (protect mode's
    /// "the rest of $HOME"); the directory itself gains no new entries.
    pub writable_tree: Option<(PathBuf, Vec<PathBuf>)>,
    /// Paths no write grant may cover (pkgwarden's own policy, state,
    /// caches, shims and binary): a write directory that holds one is split
    /// around it, as the writable tree is around `keep`.
    pub protected: Vec<PathBuf>,
    /// Persistence places (start-up files, the project's hooks): a write
    /// grant named through a link may not be, hold, or lie in one.
    pub guarded: Vec<PathBuf>,
    /// Write grants not made because of what their name resolves to
    /// (filled by [`FsSpec::resolved`]).
    pub refused: Vec<Refused>,
    /// Persistence places of another repository a write root is (a
    /// `file:` dependency's `.git/hooks`): split out of write grants.
    pub kept_out: Vec<PathBuf>,
    /// The directory the install runs in: a link at or below it is the
    /// project's (git stores links), and a grant named through one may
    /// only lead where the install could write anyway.
    pub project: Option<PathBuf>,
    /// Where the install reads only through the supervisor (the procfs
    /// mounts): landlock grants nothing there, and the supervisor opens
    /// what it allows and hands the descriptor over, so a path rewritten
    /// after the supervisor read it meets the kernel's refusal.
    pub through_supervisor: Vec<PathBuf>,
}

/// A write grant the plan named through a symbolic link, or a file with a
/// second hard link, that is not made: landlock would grant what the name
/// leads to, and the name is the project's (git stores links), not the
/// plan's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// The name the plan gave.
    pub name: PathBuf,
    /// What it resolves to.
    pub target: PathBuf,
    /// Why the target may not be granted.
    pub why: &'static str,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name == self.target {
            write!(f, "{}: {}", self.name.display(), self.why)
        } else {
            write!(
                f,
                "{} (a link to {}): {}",
                self.name.display(),
                self.target.display(),
                self.why
            )
        }
    }
}

/// `p` by what it resolves to: its longest existing prefix by its real path
/// (every symbolic link on the way followed), the missing rest as named. A
/// dangling link stays as named (it resolves to nothing that exists).
pub fn resolve(p: &Path) -> PathBuf {
    let mut base = p;
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = base.canonicalize() {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                base = parent;
            }
            _ => return p.to_path_buf(),
        }
    }
}

/// `set` with the real path of each entry added where it differs: rules
/// attach to inodes, so what a protected name leads to is protected too.
pub fn with_real_paths(set: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = set.to_vec();
    out.extend(set.iter().map(|p| resolve(p)).filter(|r| !set.contains(r)));
    out.sort();
    out.dedup();
    out
}

/// `set` with the targets of the links inside its directories added (a
/// dotfiles repository's `~/.aws/credentials -> ~/dotfiles/aws/…`): walking
/// a path through a hidden directory is no access landlock restricts, so
/// what a link there leads to must be hidden where it lies. Files only (a
/// link to a directory such as `/usr` would hide what installs need); two
/// levels deep, at most 2,000 entries per hidden directory (stores are
/// small; a browser profile is cut short).
pub fn with_link_targets(set: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = with_real_paths(set);
    let mut found = Vec::new();
    for top in set
        .iter()
        .filter(|p| p.symlink_metadata().is_ok_and(|m| m.is_dir()))
    {
        let mut dirs = vec![(top.clone(), 0)];
        let mut budget = 2000usize;
        while let Some((dir, depth)) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if budget == 0 {
                    break;
                }
                budget -= 1;
                let Ok(t) = e.file_type() else { continue };
                // A dangling link's target is hidden where it would be made.
                let target = || match std::fs::read_link(e.path()) {
                    Ok(to) if !e.path().exists() => resolve(&dir.join(to)),
                    _ => resolve(&e.path()),
                };
                if t.is_symlink() && !e.path().is_dir() {
                    found.push(target());
                } else if t.is_dir() && depth < 2 {
                    dirs.push((e.path(), depth + 1));
                }
            }
        }
    }
    out.extend(found);
    out.sort();
    out.dedup();
    out
}

impl FsSpec {
    /// True when the rules this spec makes let the install write `path`,
    /// judged after the fact for reports (the tree is split again as it is
    /// now; what the refused install did not create is not there).
    pub fn allows_write(&self, path: &Path) -> bool {
        let path = &resolve(path);
        if is_within_any(path, &self.secrets) || is_within_any(path, &self.protected) {
            return false;
        }
        // A project's policy file, anywhere: the supervisor refuses it.
        if path.file_name() == Some(crate::paths::PROJECT_POLICY.as_ref()) {
            return false;
        }
        let write_deny = self.write_denied();
        if self.write_files.iter().any(|f| f == path) && !is_within_any(path, &write_deny)
            || is_within_any(path, &self.file_dirs)
        {
            return true;
        }
        // A write directory is split around what it must not cover, as in
        // `grants`.
        if self.write_dirs.iter().any(|d| {
            path.starts_with(d)
                && !is_within_any(d, &write_deny)
                && allow_all_except(d, &write_deny)
                    .iter()
                    .any(|g| path.starts_with(g))
        }) {
            return true;
        }
        // The same split of the tree that `grants` made: a new entry is
        // allowed only beneath one of the granted paths.
        match &self.writable_tree {
            Some((root, keep)) if path.starts_with(root) => {
                let mut keep = keep.clone();
                keep.extend(write_deny);
                allow_all_except(root, &keep)
                    .iter()
                    .any(|g| g != root && path.starts_with(g))
            }
            _ => false,
        }
    }
}

impl FsSpec {
    /// The spec judged by what its names resolve to: every protected,
    /// secret and guarded place also by its real path, every write grant
    /// by its real path. A write grant whose name passes through a link to
    /// a target that is, holds or lies in a secret, protected or guarded
    /// place, and a single file with a second hard link, is not made (it
    /// goes to `refused`).
    pub fn resolved(mut self) -> FsSpec {
        self.secrets = with_link_targets(&self.secrets);
        self.protected = with_real_paths(&self.protected);
        self.guarded = with_real_paths(&self.guarded);
        self.kept_out = with_real_paths(&self.kept_out);
        if let Some((root, keep)) = self.writable_tree.take() {
            self.writable_tree = Some((resolve(&root), with_real_paths(&keep)));
        }
        let within = self.reach();
        let mut off_limits = self.denied();
        off_limits.extend(self.guarded.iter().cloned());
        let mut refused = Vec::new();
        let mut judge = |paths: Vec<PathBuf>, files: bool| -> Vec<PathBuf> {
            let mut kept = Vec::new();
            for name in paths {
                let target = resolve(&name);
                // A link in the name's last component is the project's
                // (or a previous install's) choice of what the grant is:
                // its target may not even hold a place no install may
                // write. A link further up (a home directory on another
                // disk) is the user's: its target may only not lie in one.
                let lies_in = off_limits.iter().any(|o| target.starts_with(o));
                let holds = off_limits.iter().any(|o| o.starts_with(&target));
                let why = if target != name && (lies_in || (last_is_link(&name) && holds)) {
                    Some("it leads to a place no install may write")
                } else if within.project_link(&name, &target) && !within.reaches(&target) {
                    Some("the project's link leads out of what this install may write")
                } else if files && target.is_dir() {
                    Some("it is a directory: a file grant on it grants every file beneath")
                } else if files && other_links(&target) {
                    Some("the file has another hard link, which could be anything")
                } else {
                    None
                };
                match why {
                    Some(why) => refused.push(Refused { name, target, why }),
                    None => kept.push(target),
                }
            }
            kept
        };
        self.write_dirs = judge(std::mem::take(&mut self.write_dirs), false);
        // A file that is not there when the sandbox closes gets no rule
        // (landlock attaches rules to inodes, `grants` skips it): judged as
        // writable after the fact, a refused write of it would read as done.
        let mut files = std::mem::take(&mut self.write_files);
        files.retain(|f| f.symlink_metadata().is_ok());
        self.write_files = judge(files, true);
        self.file_dirs = judge(std::mem::take(&mut self.file_dirs), false);
        self.refused.extend(refused);
        self
    }

    /// Where a link the project made may lead a grant: the project itself
    /// and, in protect, the writable tree (what the mode grants by name).
    fn reach(&self) -> Reach {
        Reach {
            project: self.project.as_ref().map(|p| (p.clone(), resolve(p))),
            tree: self.writable_tree.clone(),
        }
    }

    /// pkgwarden's own files that a file grant covers (a project's
    /// `.pkgwarden.toml` beside the lockfile pnpm writes through a
    /// temporary file): landlock cannot keep one file out of a directory's
    /// rights, so the grant is made and the supervisor refuses every change
    /// to these (`monitor::keep`), their copy from before the install
    /// being ground truth. Only files and links: a protected directory in a
    /// file grant's directory still costs the grant.
    pub fn supervised(&self) -> Vec<PathBuf> {
        self.protected
            .iter()
            .filter(|p| self.file_dirs.iter().any(|d| p.starts_with(d) && *p != d))
            .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| !m.is_dir()))
            .cloned()
            .collect()
    }

    /// What no write grant may cover: the secrets and the protected paths.
    fn denied(&self) -> Vec<PathBuf> {
        self.secrets
            .iter()
            .chain(&self.protected)
            .cloned()
            .collect()
    }

    /// What no write directory or file grant may cover: the secrets, the
    /// protected paths and `kept_out`.
    fn write_denied(&self) -> Vec<PathBuf> {
        let mut out = self.denied();
        out.extend(self.kept_out.iter().cloned());
        out
    }
}

/// Turns the spec into grants: read on `/` minus the secrets, write on the
/// write dirs and on the writable tree, each split around the secrets, the
/// protected paths and (for the tree) what it must keep.
pub fn grants(spec: &FsSpec) -> Vec<Grant> {
    let mut out = BTreeSet::new();
    let mut unread = spec.secrets.clone();
    unread.extend(spec.through_supervisor.iter().cloned());
    for p in allow_all_except(Path::new("/"), &unread) {
        out.insert(Grant::Read(p));
    }
    let deny = spec.denied();
    let write_deny = spec.write_denied();
    for d in &spec.write_dirs {
        if d.exists() && !is_within_any(d, &write_deny) {
            for p in allow_all_except(d, &write_deny) {
                out.insert(Grant::Write(p));
            }
        }
    }
    for f in &spec.write_files {
        if f.exists() && !is_within_any(f, &write_deny) {
            out.insert(Grant::WriteFile(f.clone()));
        }
    }
    // A protected file in a file grant's directory does not cost the grant:
    // the supervisor keeps it (`FsSpec::supervised`). A protected
    // directory there does.
    let supervised = spec.supervised();
    for d in &spec.file_dirs {
        let holds = deny
            .iter()
            .any(|p| p.starts_with(d) && !supervised.contains(p));
        if d.is_dir() && !is_within_any(d, &deny) && !holds {
            out.insert(Grant::Files(d.clone()));
        }
    }
    if let Some((root, keep)) = &spec.writable_tree {
        let mut keep = keep.clone();
        keep.extend(write_deny);
        for p in allow_all_except(root, &keep) {
            if p != *root {
                out.insert(Grant::Write(p));
            }
        }
    }
    out.into_iter().collect()
}

/// The grant that lets a manager list the directory it runs in (`cwd`)
/// when `grants` give it no right there: a directory split around a
/// credential store (HOME, or one above it) gets no rule of its own, so
/// `pnpm` run from `~` fails on `scandir(~)` where it works bare. None when
/// `cwd` is already readable, or is or lies in a secret.
///
/// Only `ReadDir`, and only on `cwd`: landlock inherits a right to every
/// directory beneath, so this lets the stores' own directories (`~/.ssh`)
/// be listed too (their files' names), but no file anywhere beneath can
/// be opened that could not be before (no `ReadFile`). Granting it on HOME
/// itself, or on every directory split around a store (`/`, then all of
/// them), would list more than the one directory the manager works in.
pub fn list_where_run(grants: &[Grant], cwd: &Path, secrets: &[PathBuf]) -> Option<Grant> {
    let cwd = resolve(cwd);
    let covered = grants.iter().any(|g| match g {
        Grant::Read(p) | Grant::Write(p) | Grant::ListDir(p) => cwd.starts_with(p),
        _ => false,
    });
    let secret = secrets
        .iter()
        .any(|s| cwd.starts_with(s) || cwd.starts_with(resolve(s)));
    (cwd.is_dir() && !covered && !secret).then_some(Grant::ListDir(cwd))
}

/// Where the links a project ships may lead a write grant.
struct Reach {
    /// The project as named and as resolved.
    project: Option<(PathBuf, PathBuf)>,
    /// Protect's writable tree and what it keeps out.
    tree: Option<(PathBuf, Vec<PathBuf>)>,
}

impl Reach {
    /// True when `name` leads to `target` through a link the project
    /// chose: one at or below the project's directory.
    fn project_link(&self, name: &Path, target: &Path) -> bool {
        let Some((named, real)) = &self.project else {
            return false;
        };
        [named, real].iter().any(|p| {
            name.strip_prefix(p)
                .is_ok_and(|rest| target != real.join(rest).as_path())
        })
    }

    /// True when the install may write `target` by its name anyway: it
    /// lies in the project, or in the writable tree (not the tree's root,
    /// not in or around what the tree keeps out).
    fn reaches(&self, target: &Path) -> bool {
        let in_project = self
            .project
            .as_ref()
            .is_some_and(|(_, real)| target.starts_with(real));
        let in_tree = self.tree.as_ref().is_some_and(|(root, keep)| {
            target != root
                && target.starts_with(root)
                && !keep
                    .iter()
                    .any(|k| target.starts_with(k) || k.starts_with(target))
        });
        in_project || in_tree
    }
}

/// True when the last component of `p` (its parent resolved) is a
/// symbolic link.
fn last_is_link(p: &Path) -> bool {
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => resolve(parent)
            .join(name)
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink()),
        _ => false,
    }
}

/// True when `p` is a regular file with more than one name: a grant on it
/// grants every other name too.
fn other_links(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file() && m.nlink() > 1)
}

fn is_within_any(p: &Path, set: &[PathBuf]) -> bool {
    set.iter().any(|s| p.starts_with(s))
}

/// The smallest set of paths under `root` whose union is everything beneath
/// `root` except `deny` (and what lies beneath them). Directories on the way
/// down to a denied path are split into their children.
pub fn allow_all_except(root: &Path, deny: &[PathBuf]) -> Vec<PathBuf> {
    let relevant: Vec<&PathBuf> = deny.iter().filter(|d| d.starts_with(root)).collect();
    if relevant.iter().any(|d| d.as_path() == root) {
        return Vec::new();
    }
    if relevant.is_empty() {
        return vec![root.to_path_buf()];
    }
    // A symlinked directory is not descended: its target is reached by its
    // real path, and rules attach to inodes, not names.
    if !root.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // A symlink among the children is no place of its own: a rule made from
    // it would attach to its target (landlock opens what it names), so a
    // link planted beside a split-out path (`~/x -> ~/.ssh`, a link in /tmp
    // to another process's /proc entry) would grant or open the target.
    // What it points to is granted, or not, where it lies.
    let mut children: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| !e.file_type().is_ok_and(|t| t.is_symlink()))
        .map(|e| e.path())
        .collect();
    children.sort();
    for child in children {
        out.extend(allow_all_except(&child, deny));
    }
    out
}

/// What landlock enforces for this install.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LandlockStatus {
    /// The kernel's landlock ABI (0: none).
    pub abi: u32,
    /// Filesystem rules enforced.
    pub filesystem: bool,
    /// TCP connect/bind rules enforced (ABI ≥ 4).
    pub network: bool,
    /// Abstract unix socket and signal scoping (ABI ≥ 6).
    pub scoping: bool,
    /// Number of path rules.
    pub rules: usize,
    /// The kernel's ABI, when [`ABI_CAP_VAR`] made the sandbox use less.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capped_from: Option<u32>,
}

/// The kernel's landlock ABI version (0 when landlock is off).
pub fn kernel_abi() -> u32 {
    crate::sys::landlock_abi()
}

/// Caps the landlock ABI the sandbox uses, for tests of what older kernels
/// leave open. Never silent: a capped install warns, and its report lists
/// the cap among what was not enforced.
pub const ABI_CAP_VAR: &str = "PKGWARDEN_TEST_LANDLOCK_ABI_MAX";

/// The landlock ABI the sandbox uses: the kernel's, or less under
/// [`ABI_CAP_VAR`] (which can only lower it).
pub fn sandbox_abi() -> u32 {
    let cap = std::env::var(ABI_CAP_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok());
    let k = kernel_abi();
    cap.map_or(k, |c| k.min(c))
}

/// Landlock errors: a ruleset that cannot be built is reported, never
/// silently skipped.
#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    /// The crate or kernel refused the ruleset.
    #[error("cannot build the landlock ruleset: {0}")]
    Ruleset(#[from] landlock::RulesetError),
    /// The kernel enforces no landlock rules.
    #[error("this kernel enforces no landlock rules")]
    Unavailable,
    /// A path to grant could not be opened.
    #[error("cannot open {path} for a landlock rule: {why}")]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

/// Builds the ruleset (in the supervisor, before `fork`) and returns its
/// descriptor for the child, or `None` when the kernel has no landlock.
/// With `restrict_net`, the sandbox may not bind TCP ports nor connect to
/// any but `proxy_port` itself (the supervisor connects on its behalf).
pub fn build(
    grants: &[Grant],
    proxy_port: Option<u16>,
    restrict_net: bool,
) -> Result<(Option<OwnedFd>, LandlockStatus), LandlockError> {
    let abi_n = sandbox_abi();
    let abi = match abi_n {
        0 => ABI::Unsupported,
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        _ => ABI::V6,
    };
    let mut status = LandlockStatus {
        abi: abi_n,
        filesystem: abi_n >= 1,
        network: restrict_net && abi_n >= 4,
        scoping: abi_n >= 6,
        rules: 0,
        capped_from: Some(kernel_abi()).filter(|k| *k > abi_n),
    };
    if abi_n == 0 {
        return Ok((None, status));
    }
    let read = AccessFs::from_read(abi);
    let all = AccessFs::from_all(abi);
    let file_rw = AccessFs::from_file(abi);
    let files = file_rw | AccessFs::MakeReg | AccessFs::RemoveFile;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)?;
    if status.network {
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?;
    }
    if status.scoping {
        ruleset = ruleset.scope(Scope::AbstractUnixSocket | Scope::Signal)?;
    }
    let mut created = ruleset.create()?;
    for g in grants {
        let (path, access) = match g {
            Grant::Read(p) => (p, read),
            Grant::Write(p) => (p, all),
            Grant::WriteFile(p) => (p, file_rw),
            Grant::Files(p) => (p, files),
            Grant::MakeDir(p) => (p, AccessFs::MakeDir.into()),
            Grant::ListDir(p) => (p, AccessFs::ReadDir.into()),
        };
        let fd = match PathFd::new(path) {
            Ok(fd) => fd,
            // A path that vanished since it was listed grants nothing, also
            // when a new one of the same name has appeared since (another
            // process's scratch directory, removed and made again): that is
            // not what was listed.
            Err(_) if !path.exists() => continue,
            Err(landlock::PathFdError::OpenCall { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                continue;
            }
            Err(e) => {
                return Err(LandlockError::Path {
                    path: path.clone(),
                    why: e.to_string(),
                });
            }
        };
        // The grant is made from what was judged: a name that leads
        // elsewhere now (a link swapped in since) grants nothing.
        if !opened_as(&fd, path) {
            continue;
        }
        // A file cannot carry directory rights: keep only the file ones.
        let access = if path.is_dir() {
            access
        } else {
            access & AccessFs::from_file(abi)
        };
        created = created.add_rule(PathBeneath::new(fd, access))?;
        status.rules += 1;
    }
    if status.network
        && let Some(port) = proxy_port
    {
        created = created.add_rule(NetPort::new(port, AccessNet::ConnectTcp))?;
    }
    Ok((Option::<OwnedFd>::from(created), status))
}

/// True when `fd` (an `O_PATH` descriptor) is the file `path` names, by
/// the path the kernel keeps for it.
fn opened_as(fd: &PathFd, path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
        .is_ok_and(|real| real == path)
}

/// Restricts the calling process further, in a domain stacked on the one it
/// runs in (the hook wrapper's): only `read` stays readable; with `writes`
/// (directories, single files) nothing else is writable either. With
/// `write_only` (directories), those may be written but grant no read: a
/// domain that writes all but a few places without reopening what `read`
/// hides.
pub fn restrict_nested(
    read_grants: &[PathBuf],
    writes: Option<(&[PathBuf], &[PathBuf])>,
    write_only: &[PathBuf],
) -> Result<(), LandlockError> {
    let abi = match sandbox_abi() {
        0 => return Err(LandlockError::Unavailable),
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        _ => ABI::V6,
    };
    let read = AccessFs::from_read(abi);
    let all = AccessFs::from_all(abi);
    let handled = if writes.is_some() || !write_only.is_empty() {
        all
    } else {
        read
    };
    let mut created = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(handled)?
        .create()?;
    let mut rules: Vec<(PathBuf, landlock::BitFlags<AccessFs>)> =
        read_grants.iter().map(|p| (p.clone(), read)).collect();
    if let Some((dirs, files)) = writes {
        rules.extend(dirs.iter().map(|d| (d.clone(), all)));
        rules.extend(files.iter().map(|f| (f.clone(), AccessFs::from_file(abi))));
    }
    rules.extend(write_only.iter().map(|d| (d.clone(), all & !read)));
    for (path, access) in rules {
        let Ok(fd) = PathFd::new(&path) else {
            continue;
        };
        let access = if path.is_dir() {
            access
        } else {
            access & AccessFs::from_file(abi)
        };
        created = created.add_rule(PathBeneath::new(fd, access))?;
    }
    let status = created.restrict_self()?;
    if status.ruleset == landlock::RulesetStatus::NotEnforced {
        return Err(LandlockError::Unavailable);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_inside_hidden_directories_are_hidden_where_they_point() {
        let t = tempfile::tempdir().unwrap();
        let (store, dots) = (t.path().join(".aws"), t.path().join("dotfiles"));
        std::fs::create_dir_all(store.join("sso")).unwrap();
        std::fs::create_dir_all(&dots).unwrap();
        std::fs::write(dots.join("credentials"), "x").unwrap();
        std::os::unix::fs::symlink(dots.join("credentials"), store.join("credentials")).unwrap();
        std::os::unix::fs::symlink(dots.join("gone"), store.join("sso/cache")).unwrap();
        // A link to a directory is left alone.
        std::os::unix::fs::symlink("/usr", store.join("usr")).unwrap();
        let got = with_link_targets(std::slice::from_ref(&store));
        let real = |p: &Path| resolve(p);
        assert!(got.contains(&real(&dots.join("credentials"))), "{got:?}");
        assert!(got.contains(&real(&dots.join("gone"))), "{got:?}");
        assert!(!got.iter().any(|p| p == Path::new("/usr")), "{got:?}");
    }
    use std::fs;

    #[test]
    fn allow_all_except_splits_only_the_way_down() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path();
        for d in [".ssh", ".config/gh", ".config/pip", ".cache", "proj"] {
            fs::create_dir_all(home.join(d)).unwrap();
        }
        fs::write(home.join(".bashrc"), "").unwrap();
        let deny = vec![home.join(".ssh"), home.join(".config/gh")];
        let got = allow_all_except(home, &deny);
        assert!(got.contains(&home.join(".cache")));
        assert!(got.contains(&home.join(".bashrc")));
        assert!(got.contains(&home.join(".config/pip")));
        assert!(!got.iter().any(|p| p.starts_with(home.join(".ssh"))));
        assert!(!got.iter().any(|p| p.starts_with(home.join(".config/gh"))));
        assert!(!got.contains(&home.to_path_buf()));
        assert!(!got.contains(&home.join(".config")));
        // A link beside a split-out path is not a way back into it.
        std::os::unix::fs::symlink(home.join(".ssh"), home.join("keys")).unwrap();
        std::os::unix::fs::symlink(home.join(".bashrc"), home.join("rc")).unwrap();
        let got = allow_all_except(home, &deny);
        assert!(!got.contains(&home.join("keys")), "{got:?}");
        assert!(!got.contains(&home.join("rc")), "{got:?}");
        assert!(got.contains(&home.join(".bashrc")));
        // Nothing denied below: one grant for the whole tree.
        assert_eq!(
            allow_all_except(&home.join("proj"), &deny),
            vec![home.join("proj")]
        );
    }

    #[test]
    fn protected_paths_are_split_out_of_every_write_grant() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().to_path_buf();
        for d in [
            "bin",
            "state/pkgwarden/reports",
            "state/other",
            "proj/node_modules",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::write(root.join("bin/pkgwarden"), "").unwrap();
        fs::write(root.join("bin/tool"), "").unwrap();
        fs::write(root.join("proj/.npmrc"), "").unwrap();
        let spec = FsSpec {
            write_dirs: vec![root.join("bin"), root.join("state/pkgwarden/reports")],
            file_dirs: vec![root.join("proj")],
            writable_tree: Some((root.clone(), vec![root.join("proj")])),
            protected: vec![root.join("bin/pkgwarden"), root.join("state/pkgwarden")],
            ..FsSpec::default()
        };
        let g = grants(&spec);
        assert!(g.contains(&Grant::Write(root.join("bin/tool"))));
        assert!(g.contains(&Grant::Write(root.join("state/other"))));
        assert!(g.contains(&Grant::Files(root.join("proj"))));
        for p in [
            root.join("bin"),
            root.join("bin/pkgwarden"),
            root.join("state"),
        ] {
            assert!(
                !g.iter().any(|x| matches!(x, Grant::Write(q) if *q == p)),
                "{p:?}"
            );
        }
        assert!(!g.iter().any(|x| matches!(x, Grant::Write(q) | Grant::Files(q) if q.starts_with(root.join("state/pkgwarden")))));
        assert!(!spec.allows_write(&root.join("bin/pkgwarden")));
        assert!(!spec.allows_write(&root.join("state/pkgwarden/reports/x.json")));
        assert!(spec.allows_write(&root.join("bin/tool")));
        // A protected file in a file grant's directory is the supervisor's
        // to keep: the grant is made, the file is still no place to write.
        let mut inside = spec.clone();
        inside.protected.push(root.join("proj/.pkgwarden.toml"));
        fs::write(root.join("proj/.pkgwarden.toml"), "").unwrap();
        assert!(grants(&inside).contains(&Grant::Files(root.join("proj"))));
        assert_eq!(inside.supervised(), vec![root.join("proj/.pkgwarden.toml")]);
        assert!(!inside.allows_write(&root.join("proj/.pkgwarden.toml")));
        assert!(inside.allows_write(&root.join("proj/pnpm-lock.yaml")));
        // A protected directory there still costs the grant.
        fs::create_dir_all(root.join("proj/.state")).unwrap();
        inside.protected.push(root.join("proj/.state"));
        assert!(!grants(&inside).contains(&Grant::Files(root.join("proj"))));
        assert_eq!(inside.supervised(), vec![root.join("proj/.pkgwarden.toml")]);
    }

    #[test]
    fn grants_keep_secrets_out_of_writable_trees() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().to_path_buf();
        for d in [".ssh", ".cache", "work"] {
            fs::create_dir_all(home.join(d)).unwrap();
        }
        fs::write(home.join(".bashrc"), "").unwrap();
        let spec = FsSpec {
            secrets: vec![home.join(".ssh")],
            write_dirs: vec![home.join(".cache"), home.join(".ssh/inner")],
            write_files: vec![PathBuf::from("/dev/null")],
            file_dirs: Vec::new(),
            writable_tree: Some((home.clone(), vec![home.join(".bashrc")])),
            protected: Vec::new(),
            guarded: Vec::new(),
            refused: Vec::new(),
            kept_out: Vec::new(),
            project: None,
            through_supervisor: vec![PathBuf::from("/proc")],
        };
        let g = grants(&spec);
        // The supervisor opens on procfs for the install: no right there.
        assert!(!g.iter().any(
            |x| matches!(x, Grant::Read(p) if p.starts_with("/proc") || *p == Path::new("/"))
        ));
        assert!(g.contains(&Grant::Read(PathBuf::from("/etc"))));
        assert!(g.contains(&Grant::Write(home.join(".cache"))));
        assert!(g.contains(&Grant::Write(home.join("work"))));
        assert!(g.contains(&Grant::WriteFile(PathBuf::from("/dev/null"))));
        assert!(!g.iter().any(|x| matches!(x, Grant::Write(p) if p.starts_with(home.join(".ssh")) || *p == home.join(".bashrc") || *p == home)));
    }

    /// A write file missing when the sandbox closes gets no rule, so the
    /// report may not judge a write of it as allowed (an `npm install`
    /// refused its new `package.json`, and the summary said clean).
    #[test]
    fn a_missing_write_file_is_not_judged_writable() {
        let t = tempfile::tempdir().unwrap();
        let proj = t.path().canonicalize().unwrap();
        fs::write(proj.join("package-lock.json"), "").unwrap();
        let spec = FsSpec {
            secrets: Vec::new(),
            write_dirs: Vec::new(),
            write_files: vec![proj.join("package.json"), proj.join("package-lock.json")],
            file_dirs: Vec::new(),
            writable_tree: None,
            protected: Vec::new(),
            guarded: Vec::new(),
            refused: Vec::new(),
            kept_out: Vec::new(),
            project: Some(proj.clone()),
            through_supervisor: Vec::new(),
        }
        .resolved();
        assert!(!spec.allows_write(&proj.join("package.json")));
        assert!(spec.allows_write(&proj.join("package-lock.json")));
        assert!(!grants(&spec).contains(&Grant::WriteFile(proj.join("package.json"))));
    }

    /// A home with a start-up file, a secret, a dotfiles directory holding
    /// the real `~/.zshrc`, and a project.
    fn linked_home() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().canonicalize().unwrap();
        for d in [".ssh", "dotfiles", "proj/node_modules", "elsewhere"] {
            fs::create_dir_all(home.join(d)).unwrap();
        }
        fs::write(home.join(".bashrc"), "").unwrap();
        fs::write(home.join("dotfiles/zshrc"), "").unwrap();
        fs::write(home.join("dotfiles/notes"), "").unwrap();
        std::os::unix::fs::symlink("dotfiles/zshrc", home.join(".zshrc")).unwrap();
        (t, home)
    }

    #[test]
    fn a_write_grant_named_through_a_link_is_judged_by_its_target() {
        let (_t, home) = linked_home();
        let proj = home.join("proj");
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, proj.join(name)).unwrap();
            proj.join(name)
        };
        let to_rc = link(&home.join(".bashrc"), "yarn-error.log");
        let to_home = link(&home, "home-link");
        let to_keys = link(&home.join(".ssh"), "keys-link");
        let harmless = link(&home.join("elsewhere"), "cache-link");
        fs::write(proj.join("package.json"), "").unwrap();
        fs::hard_link(proj.join("package.json"), home.join("elsewhere/second")).unwrap();
        fs::write(proj.join("package-lock.json"), "").unwrap();
        let spec = FsSpec {
            secrets: vec![home.join(".ssh")],
            write_dirs: vec![to_home.clone(), to_keys.clone(), harmless.clone()],
            write_files: vec![
                to_rc.clone(),
                proj.join("package.json"),
                proj.join("package-lock.json"),
            ],
            guarded: vec![home.join(".bashrc"), home.join(".zshrc")],
            ..FsSpec::default()
        }
        .resolved();
        let refused: Vec<&Path> = spec.refused.iter().map(|r| r.name.as_path()).collect();
        assert_eq!(
            refused,
            [
                to_home.as_path(),
                &to_keys,
                &to_rc,
                &proj.join("package.json")
            ]
        );
        assert_eq!(spec.refused[2].target, home.join(".bashrc"));
        let g = grants(&spec);
        assert!(g.contains(&Grant::Write(home.join("elsewhere"))), "{g:#?}");
        assert!(g.contains(&Grant::WriteFile(proj.join("package-lock.json"))));
        for p in [
            home.clone(),
            home.join(".bashrc"),
            proj.join("package.json"),
        ] {
            assert!(
                !g.iter().any(
                    |x| matches!(x, Grant::Write(q) | Grant::WriteFile(q) if p.starts_with(q))
                ),
                "{p:?}: {g:#?}"
            );
        }
        assert!(!spec.allows_write(&to_rc));
        assert!(!spec.allows_write(&home.join(".bashrc")));
        assert!(spec.allows_write(&harmless.join("x")));
    }

    #[test]
    fn a_linked_start_up_file_is_kept_out_of_the_tree_where_it_lies() {
        let (_t, home) = linked_home();
        let spec = FsSpec {
            writable_tree: Some((home.clone(), vec![home.join(".zshrc")])),
            ..FsSpec::default()
        }
        .resolved();
        let g = grants(&spec);
        assert!(
            g.contains(&Grant::Write(home.join("dotfiles/notes"))),
            "{g:#?}"
        );
        assert!(
            !g.iter().any(
                |x| matches!(x, Grant::Write(q) if home.join("dotfiles/zshrc").starts_with(q))
            ),
            "{g:#?}"
        );
        assert!(!spec.allows_write(&home.join("dotfiles/zshrc")));
        assert!(!spec.allows_write(&home.join(".zshrc")));
    }

    /// Round 7b: a link the project ships, in any component at or below
    /// it, may lead a grant only where the install could write by name.
    #[test]
    fn a_project_link_leads_a_grant_only_where_the_mode_writes() {
        let (_t, home) = linked_home();
        let proj = home.join("proj");
        for d in [".local/bin", "tools/bin", "proj/real"] {
            fs::create_dir_all(home.join(d)).unwrap();
        }
        std::os::unix::fs::symlink(home.join(".local"), proj.join("prefix")).unwrap();
        std::os::unix::fs::symlink(home.join("tools"), proj.join("venv")).unwrap();
        std::os::unix::fs::symlink("real", proj.join("inside")).unwrap();
        std::os::unix::fs::symlink(home.join("tools/bin"), proj.join("yarn-error.log")).unwrap();
        let names = [
            proj.join("prefix/bin"),
            proj.join("venv/bin"),
            proj.join("inside/x"),
        ];
        let spec = |tree: bool, project: &Path| {
            FsSpec {
                write_dirs: names.to_vec(),
                write_files: vec![proj.join("yarn-error.log")],
                writable_tree: tree.then(|| (home.clone(), vec![home.join(".local/bin")])),
                project: Some(project.to_path_buf()),
                ..FsSpec::default()
            }
            .resolved()
        };
        let refused =
            |s: &FsSpec| -> Vec<PathBuf> { s.refused.iter().map(|r| r.name.clone()).collect() };
        // block: only the link that stays in the project grants.
        let block = spec(false, &proj);
        assert_eq!(
            refused(&block),
            [
                names[0].clone(),
                names[1].clone(),
                proj.join("yarn-error.log")
            ]
        );
        assert_eq!(block.write_dirs, [proj.join("real/x")]);
        // protect: HOME is writable by name, but not what it keeps out,
        // and a file grant never names a directory.
        let protect = spec(true, &proj);
        assert_eq!(
            refused(&protect),
            [names[0].clone(), proj.join("yarn-error.log")]
        );
        assert_eq!(
            protect.write_dirs,
            [home.join("tools/bin"), proj.join("real/x")]
        );
        // A user's link outside the project is the user's (a cache moved
        // to another disk): judged by what it leads to only.
        let elsewhere = spec(false, &home.join("elsewhere"));
        assert_eq!(refused(&elsewhere), [proj.join("yarn-error.log")]);
        // Outside HOME (`/usr/local/bin` for a root install) protect grants
        // nothing by name either.
        let outside = tempfile::tempdir().unwrap();
        let outside = outside.path().canonicalize().unwrap();
        fs::remove_file(proj.join("venv")).unwrap();
        std::os::unix::fs::symlink(&outside, proj.join("venv")).unwrap();
        fs::create_dir(outside.join("bin")).unwrap();
        let protect = spec(true, &proj);
        assert!(
            protect
                .refused
                .iter()
                .any(|r| r.name == names[1] && r.target == outside.join("bin")),
            "{:#?}",
            protect.refused
        );
    }

    #[test]
    fn resolve_follows_links_and_keeps_the_missing_rest() {
        let (_t, home) = linked_home();
        std::os::unix::fs::symlink(home.join("dotfiles"), home.join("df")).unwrap();
        assert_eq!(resolve(&home.join("df/zshrc")), home.join("dotfiles/zshrc"));
        assert_eq!(resolve(&home.join("df/new/x")), home.join("dotfiles/new/x"));
        assert_eq!(resolve(&home.join(".zshrc")), home.join("dotfiles/zshrc"));
    }
}
