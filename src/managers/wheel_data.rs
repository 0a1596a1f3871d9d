//! A wheel's data files (`<name>-<ver>.data/data/<rel>`) in a user install
//! (`pip install --user`): they go beneath the user scheme's data path,
//! `~/.local`, which also holds `~/.local/bin` and start-up locations
//! (`~/.local/share/systemd/user`, `~/.local/share/applications`), so that
//! path is never granted whole. Granted instead: the directories the local
//! wheels on the command line name (read from their zip directory), and the
//! common data directories of `policy/wheel_data.toml`; each only when it
//! neither lies in nor holds a persistence location.

use super::InstallRequest;
use serde::Deserialize;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

#[derive(Debug, Default, Deserialize)]
struct WheelData {
    dirs: Vec<String>,
}

fn data() -> &'static WheelData {
    static D: OnceLock<WheelData> = OnceLock::new();
    D.get_or_init(|| {
        toml::from_str(include_str!("../../policy/wheel_data.toml")).unwrap_or_default()
    })
}

/// Largest zip central directory read from a local wheel.
const MAX_CENTRAL_DIR: u64 = 16 * 1024 * 1024;

/// The directories beneath `base` (the user scheme's data path) a user
/// install may write data files to, and notes on what a named wheel holds
/// that is not granted.
pub fn user_data_dirs(
    base: &Path,
    req: &InstallRequest,
    cwd: &Path,
    home: Option<&Path>,
) -> (Vec<PathBuf>, Vec<String>) {
    let mut rels: Vec<PathBuf> = data().dirs.iter().map(PathBuf::from).collect();
    let mut notes = Vec::new();
    for wheel in local_wheels(req, cwd) {
        match wheel_data_dirs(&wheel) {
            Some(dirs) => rels.extend(dirs),
            None => notes.push(format!(
                "{}: its zip directory could not be read: its data files are granted only where policy/wheel_data.toml says",
                wheel.display()
            )),
        }
    }
    let persist = crate::detect::persist::Classifier::new(home, cwd, &[]);
    let places = persistence_bases(home, cwd);
    let mut out: Vec<PathBuf> = Vec::new();
    for rel in rels {
        // The data path itself (a file directly in `.data/data/`) is not
        // granted: it holds `bin/` and the start-up locations.
        if rel.as_os_str().is_empty() {
            notes.push(format!(
                "a wheel puts data files directly in {}: not granted (extra_write_paths adds it)",
                base.display()
            ));
            continue;
        }
        let dir = base.join(&rel);
        if persist.classify(&dir).is_some() || places.iter().any(|p| p.starts_with(&dir)) {
            notes.push(format!(
                "{}: a wheel's data directory holding start-up locations: not granted",
                dir.display()
            ));
            continue;
        }
        // A granted tree covers what lies beneath it.
        if !out.iter().any(|o| dir.starts_with(o)) {
            out.retain(|o| !o.starts_with(&dir));
            out.push(dir);
        }
    }
    (out, notes)
}

/// The literal part of every persistence place (`~/.local/share/systemd/user`,
/// the directory before a wildcard).
fn persistence_bases(home: Option<&Path>, cwd: &Path) -> Vec<PathBuf> {
    crate::detect::data::persistence()
        .family
        .iter()
        .flat_map(|f| &f.paths)
        .flat_map(|p| crate::detect::data::expand_place(p, home, cwd, &[]))
        .map(|t| {
            let cut = t.find(['*', '?', '[']).unwrap_or(t.len());
            let lit = &t[..cut];
            if cut == t.len() {
                PathBuf::from(lit)
            } else {
                PathBuf::from(lit.rsplit_once('/').map_or("/", |(b, _)| b))
            }
        })
        .collect()
}

/// The wheel files the command line names: positional `*.whl` paths and
/// `file:` URLs that exist.
fn local_wheels(req: &InstallRequest, cwd: &Path) -> Vec<PathBuf> {
    req.packages
        .iter()
        .filter_map(|w| {
            let spec = w
                .rsplit_once(" @ ")
                .map_or(w.as_str(), |(_, url)| url)
                .trim();
            let path = spec
                .strip_prefix("file://")
                .or_else(|| spec.strip_prefix("file:"))
                .unwrap_or(spec);
            let path = path.split(['#', ';']).next().unwrap_or(path).trim();
            path.ends_with(".whl")
                .then(|| cwd.join(crate::paths::expand_tilde(path)))
        })
        .filter(|p| p.is_file())
        .collect()
}

/// The directories (relative to the data path) holding the files of a
/// wheel's `.data/data/` tree; `None` when its zip directory cannot be read.
fn wheel_data_dirs(wheel: &Path) -> Option<Vec<PathBuf>> {
    let mut out = Vec::new();
    for name in zip_names(wheel)? {
        if name.ends_with('/') {
            continue;
        }
        let mut parts = name.splitn(3, '/');
        let (Some(top), Some("data"), Some(rel)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if !top.ends_with(".data") {
            continue;
        }
        let rel = Path::new(rel);
        // A name climbing out of the data path is refused by pip; it is
        // never a grant here.
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            continue;
        }
        let dir = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        if !out.contains(&dir) {
            out.push(dir);
        }
    }
    Some(out)
}

fn u16_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?).into())
}

fn u32_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?).into())
}

/// The entry names of a zip file, from its central directory (no entry is
/// decompressed). `None` for what is not a plain zip (zip64 included).
fn zip_names(path: &Path) -> Option<Vec<String>> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    // The end record: 22 bytes plus a comment of at most 64 KiB.
    let tail_len = len.min(22 + 65_535);
    f.seek(SeekFrom::Start(len - tail_len)).ok()?;
    let mut tail = vec![0u8; usize::try_from(tail_len).ok()?];
    f.read_exact(&mut tail).ok()?;
    let end = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])?;
    let count = u16_at(&tail, end + 10)?;
    let size = u32_at(&tail, end + 12)?;
    let offset = u32_at(&tail, end + 16)?;
    if count == 0xffff || size == 0xffff_ffff || offset == 0xffff_ffff {
        return None;
    }
    if size > MAX_CENTRAL_DIR || offset + size > len {
        return None;
    }
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut cd = vec![0u8; usize::try_from(size).ok()?];
    f.read_exact(&mut cd).ok()?;
    let mut names = Vec::new();
    let mut i = 0usize;
    for _ in 0..count {
        if cd.get(i..i + 4)? != [0x50, 0x4b, 0x01, 0x02] {
            return None;
        }
        let n = usize::try_from(u16_at(&cd, i + 28)?).ok()?;
        let extra = usize::try_from(u16_at(&cd, i + 30)?).ok()?;
        let comment = usize::try_from(u16_at(&cd, i + 32)?).ok()?;
        names.push(String::from_utf8_lossy(cd.get(i + 46..i + 46 + n)?).into_owned());
        i += 46 + n + extra + comment;
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tool;

    fn req(packages: &[&str]) -> InstallRequest {
        InstallRequest {
            tool: Tool::Pip,
            command: "install".into(),
            packages: packages.iter().map(|s| s.to_string()).collect(),
            options: Vec::new(),
        }
    }

    /// A stored (uncompressed) zip of `names`, as Python's zipfile writes it.
    fn zip(path: &Path, names: &[&str]) {
        let script = format!(
            "import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1],'w')\nfor n in {names:?}: z.writestr(n, 'x')\nz.close()\n"
        );
        let ok = std::process::Command::new("python3")
            .args(["-c", &script])
            .arg(path)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    #[test]
    fn a_local_wheels_data_directories_are_granted_but_not_start_up_locations() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let base = home.join(".local");
        let wheel = t.path().join("x-1.0-py3-none-any.whl");
        zip(
            &wheel,
            &[
                "x/__init__.py",
                "x-1.0.data/data/share/man/man1/x.1",
                "x-1.0.data/data/share/x/tool/a.txt",
                "x-1.0.data/data/share/x/tool/b/c.txt",
                "x-1.0.data/data/share/systemd/user/x.service",
                "x-1.0.data/data/share/applications/x.desktop",
                "x-1.0.data/data/../../escape",
                "x-1.0.data/scripts/x",
            ],
        );
        let (dirs, notes) = user_data_dirs(
            &base,
            &req(&["./x-1.0-py3-none-any.whl"]),
            t.path(),
            Some(&home),
        );
        assert!(dirs.contains(&base.join("share/x/tool")), "{dirs:?}");
        assert!(!dirs.contains(&base.join("share/x/tool/b")), "{dirs:?}");
        assert!(dirs.contains(&base.join("share/man")), "{dirs:?}");
        assert!(
            !dirs
                .iter()
                .any(|d| d.starts_with(base.join("share/systemd")))
        );
        assert!(
            !dirs
                .iter()
                .any(|d| d.starts_with(base.join("share/applications")))
        );
        assert!(!dirs.iter().any(|d| !d.starts_with(&base)), "{dirs:?}");
        assert!(!dirs.contains(&base.join("share")) && !dirs.contains(&base));
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn without_a_local_wheel_the_common_data_directories_are_granted() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let base = home.join(".local");
        let (dirs, notes) = user_data_dirs(&base, &req(&["pipx"]), t.path(), Some(&home));
        assert!(dirs.contains(&base.join("share/man")));
        assert!(dirs.contains(&base.join("etc/jupyter")));
        assert!(!dirs.contains(&base.join("share")) && !dirs.contains(&base.join("bin")));
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn what_is_not_a_zip_gives_a_note() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("y-1.0-py3-none-any.whl"), b"not a zip").unwrap();
        let base = t.path().join(".local");
        let (_, notes) = user_data_dirs(
            &base,
            &req(&["y-1.0-py3-none-any.whl"]),
            t.path(),
            Some(t.path()),
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
    }
}
