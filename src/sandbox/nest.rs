//! Package code started as a plain child process (pip's build backends and
//! `setup.py`, gem's `extconf.rb` and `make`, yarn 1's lifecycle scripts,
//! which it runs under the hook wrapper) runs in a nested landlock domain
//! (DESIGN.md principle 9). Such managers offer no hook to put a
//! wrapper in, so pkgwarden's preload library (`src/nest/`, in `LD_PRELOAD`)
//! confines, from its constructor, every process whose command line has one
//! of the shapes the install plan names. This module prepares its spec and
//! finds the library.

use super::landlock;
use super::nest_spec::NestSpec;
use crate::model::plan::InstallPlan;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The library's file name, beside pkgwarden's executable.
pub const LIBRARY: &str = "libpkgwarden_nest.so";

/// The preload library that goes with the executable `exe`: beside it
/// (install.sh, `target/debug`), or in `../lib/pkgwarden/`.
pub fn library(exe: &Path) -> Option<PathBuf> {
    let dir = exe.parent()?;
    [
        dir.join(LIBRARY),
        dir.join("../lib/pkgwarden").join(LIBRARY),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// The spec for this install, or `None` when its manager starts no package
/// code as a plain child process.
pub fn spec(
    plan: &InstallPlan,
    fs: &landlock::FsSpec,
    reads: &super::hook::Reads,
    home: Option<&Path>,
    tmp: &Path,
    supervisor: i32,
    hook_wrapper: Option<&Path>,
) -> Option<NestSpec> {
    // Scripts run under the hook wrapper only where the install has one
    // (without it they keep the install's rights, and hooks() says so).
    let shapes: Vec<_> = plan
        .package_code
        .iter()
        .filter(|s| !s.hook || hook_wrapper.is_some())
        .cloned()
        .collect();
    if shapes.is_empty() {
        return None;
    }
    // Grants split inside /proc name other processes' entries (opening
    // them is refused by the supervisor, and they are gone by the time the
    // library runs): /proc is one grant, and the supervisor keeps judging
    // which process's entry is opened.
    let whole_proc = |grants: &[PathBuf]| {
        let proc = Path::new("/proc");
        let mut read = grants.to_vec();
        if read.iter().any(|r| r.starts_with(proc)) {
            read.retain(|r| !r.starts_with(proc));
            read.push(proc.to_path_buf());
        }
        read
    };
    let (read, dep_read) = (whole_proc(&reads.read), whole_proc(&reads.dep_read));
    let mut writes = vec![tmp.to_path_buf()];
    writes.extend(plan.package_code_writes.iter().cloned());
    let mut cache_home = None;
    if let Some(cache) = home.map(|h| h.join(".cache"))
        && cache.is_dir()
    {
        // `~/.cache` but every manager's caches: a wheel or archive planted
        // there is installed by a later install without a build, whichever
        // manager runs this one.
        // And the credentials inside it (`package_code_hidden`).
        let inside = home.map(super::package_code_secrets).unwrap_or_default();
        let caches: Vec<PathBuf> = plan
            .cache_dirs
            .iter()
            .chain(&plan.guarded_caches)
            .chain(&inside)
            .cloned()
            .collect();
        let (real, own) = caches_within(&cache, &caches);
        if own.is_empty() {
            writes.push(real);
        } else {
            writes.extend(landlock::allow_all_except(&real, &own));
            // No new entry can be made in `~/.cache` then: build tools that
            // make theirs where `XDG_CACHE_HOME` says get a private one.
            cache_home = Some((cache, private_cache(tmp)));
        }
    }
    Some(NestSpec {
        shapes,
        read,
        dep_read,
        projects: reads.projects.clone(),
        writes,
        write_files: fs
            .write_files
            .iter()
            .filter(|f| f.starts_with("/dev"))
            .cloned()
            .collect(),
        // A hook's own directory may lie in the manager's cache (uv unpacks
        // an sdist there): strictly beneath it, never the cache itself.
        own_roots: plan.write_roots.clone(),
        cache_roots: plan.cache_dirs.clone(),
        ack: ack_path(tmp),
        manager_parent: supervisor,
        cache_home,
        hook_wrapper: hook_wrapper.map(Path::to_path_buf),
        drop_env: Vec::new(),
    })
}

/// `cache` (the home cache) and those of `caches` that lie in it, all as
/// real paths: rules attach to inodes, so a split is made on real paths.
/// A missing cache counts too: its nearest existing parent is split, so it
/// cannot be made.
pub fn caches_within(cache: &Path, caches: &[PathBuf]) -> (PathBuf, Vec<PathBuf>) {
    let real = cache.canonicalize().unwrap_or_else(|_| cache.to_path_buf());
    let mut own: Vec<PathBuf> = caches
        .iter()
        .map(|c| real_path(c))
        .filter(|c| c.starts_with(&real))
        .collect();
    own.sort();
    own.dedup();
    (real, own)
}

/// `p` by its real path, cut after its first missing component (what
/// landlock must keep from being made: `~/.cache/node` when corepack's
/// `~/.cache/node/corepack` has no parent yet).
pub fn real_path(p: &Path) -> PathBuf {
    let mut existing = p;
    let mut first_missing = None;
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                first_missing = Some(name);
                existing = parent;
            }
            _ => break,
        }
    }
    let base = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    match first_missing {
        Some(name) => base.join(name),
        None => base,
    }
}

/// The `XDG_CACHE_HOME` of package code when `~/.cache` is split.
pub fn private_cache(tmp: &Path) -> PathBuf {
    tmp.join(".cache")
}

/// The path a confined process opens to say so.
pub fn ack_path(tmp: &Path) -> PathBuf {
    tmp.join(".pkgwarden-nested")
}

/// Writes the spec into the private TMPDIR and returns the value of
/// `PKGWARDEN_NEST`: the file's sha256 and path (a changed spec is refused).
pub fn write(spec: &NestSpec, tmp: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    let json = serde_json::to_vec(spec).map_err(std::io::Error::other)?;
    let path = tmp.join(".pkgwarden-nest.json");
    std::fs::write(&path, &json)?;
    if let Some((_, private)) = &spec.cache_home {
        std::fs::create_dir_all(private)?;
    }
    let sum = super::nest_spec::hex(&sha2::Sha256::digest(&json));
    Ok(format!("{sum}:{}", path.display()))
}

/// `LD_PRELOAD` with the library first, the user's own entries kept.
pub fn preload(lib: &Path, existing: Option<OsString>) -> OsString {
    let mut v = lib.as_os_str().to_os_string();
    if let Some(e) = existing.filter(|e| !e.is_empty()) {
        v.push(":");
        v.push(e);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::nest_spec::Shape;

    #[test]
    fn only_the_projects_own_builds_read_what_dependencies_may_not() {
        let spec = NestSpec {
            read: vec![PathBuf::from("/all")],
            dep_read: vec![PathBuf::from("/less")],
            projects: vec![PathBuf::from("/p")],
            ..NestSpec::default()
        };
        let read = |cwd: &str| spec.read_for(Path::new(cwd))[0].display().to_string();
        assert_eq!(read("/p"), "/all");
        assert_eq!(read("/p/sub/pkg"), "/all");
        assert_eq!(read("/p/node_modules/dep"), "/less");
        assert_eq!(read("/p/.venv/lib/x"), "/less");
        assert_eq!(read("/tmp/pip-install-x/dep"), "/less");
        assert_eq!(read("/pother"), "/less");
        // Nothing more to hide: everyone reads alike.
        let spec = NestSpec {
            dep_read: Vec::new(),
            ..spec
        };
        assert_eq!(spec.read_for(Path::new("/tmp/x"))[0], PathBuf::from("/all"));
    }

    #[test]
    fn own_dir_is_granted_only_strictly_below_a_write_root() {
        let spec = NestSpec {
            writes: vec![PathBuf::from("/t")],
            own_roots: vec![PathBuf::from("/g")],
            ..NestSpec::default()
        };
        let own = Shape {
            own_dir: true,
            ..Shape::default()
        };
        assert_eq!(
            spec.write_dirs(&own, Path::new("/g/gems/x/ext/x"), &[]),
            vec![PathBuf::from("/t"), PathBuf::from("/g/gems/x/ext/x")]
        );
        assert_eq!(
            spec.write_dirs(&own, Path::new("/g"), &[]),
            vec![PathBuf::from("/t")]
        );
        assert_eq!(
            spec.write_dirs(&own, Path::new("/home/u"), &[]),
            vec![PathBuf::from("/t")]
        );
        // A dest argument counts only strictly beneath a write root.
        let rake = Shape {
            dest_arg: vec!["RUBYARCHDIR=".into()],
            ..Shape::default()
        };
        let argv: Vec<String> = [
            "ruby",
            "rake",
            "RUBYARCHDIR=/g/ext/x",
            "RUBYARCHDIR=/home/u",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let dests = rake.dest_dirs(&argv);
        assert_eq!(
            dests,
            vec![PathBuf::from("/g/ext/x"), PathBuf::from("/home/u")]
        );
        assert_eq!(
            spec.write_dirs(&rake, Path::new("/home/u"), &dests),
            vec![PathBuf::from("/t"), PathBuf::from("/g/ext/x")]
        );
        // The manager's caches: a hook's own directory strictly beneath
        // one, never the caches themselves, even for a shape that writes
        // the install's roots (legacy `setup.py develop`).
        let spec = NestSpec {
            cache_roots: vec![PathBuf::from("/c")],
            ..spec
        };
        assert_eq!(
            spec.write_dirs(&own, Path::new("/c/sdists/x/src"), &[]),
            vec![PathBuf::from("/t"), PathBuf::from("/c/sdists/x/src")]
        );
        let legacy = Shape {
            writes_roots: true,
            ..Shape::default()
        };
        assert_eq!(
            spec.write_dirs(&legacy, Path::new("/c/x"), &[PathBuf::from("/c/x")]),
            vec![PathBuf::from("/t"), PathBuf::from("/g")]
        );
        let plain = Shape::default();
        assert_eq!(
            spec.write_dirs(&plain, Path::new("/g/gems/x"), &[]),
            vec![PathBuf::from("/t")]
        );
    }

    #[test]
    fn preload_keeps_the_users_entries() {
        assert_eq!(preload(Path::new("/l.so"), None), "/l.so");
        assert_eq!(
            preload(Path::new("/l.so"), Some("/u.so".into())),
            "/l.so:/u.so"
        );
    }
}
