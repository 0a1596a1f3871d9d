//! `hidden.script`: a script dropped in a hidden directory below `$HOME` or
//! in a scratch place (`/tmp`, `/var/tmp`, `/dev/shm`, `~/.local`,
//! `~/.cache`, `~/.config`) outside the expected roots.

use super::{Evidence, Finding, Input, Procs, finding};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

/// Extensions of scripts.
const SCRIPT_EXT: &[&str] = &[
    "py", "sh", "bash", "zsh", "js", "mjs", "cjs", "pl", "rb", "php", "ps1", "lua",
];

/// True when `p` is a hidden or scratch place for this install.
pub fn hidden_place(input: &Input, p: &Path) -> bool {
    if input.expected_path(p) || input.tool_cache(p) {
        return false;
    }
    if ["/tmp", "/var/tmp", "/dev/shm"]
        .iter()
        .any(|s| p.starts_with(s))
    {
        return true;
    }
    let Some(rel) = input.home.as_deref().and_then(|h| p.strip_prefix(h).ok()) else {
        return false;
    };
    // Every component but the file's own name.
    let dirs: Vec<Component> = rel.components().collect();
    dirs.iter()
        .take(dirs.len().saturating_sub(1))
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}

/// True when `p` is a script: by extension, shebang, or execute bit.
pub fn is_script(p: &Path) -> bool {
    if p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| SCRIPT_EXT.contains(&e.to_ascii_lowercase().as_str()))
    {
        return true;
    }
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    if meta.permissions().mode() & 0o111 != 0 {
        return true;
    }
    let mut head = [0u8; 2];
    super::open_regular(p).is_some_and(|mut f| f.read_exact(&mut head).is_ok() && &head == b"#!")
}

/// Finds scripts the install dropped in hidden or scratch places.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut out = Vec::new();
    for (p, e) in input.written() {
        if e.kind == "mkdir" {
            if let Some(f) = refused_dir(input, procs, &p, e.pid) {
                out.push(f);
            }
            continue;
        }
        if e.kind == "symlink"
            || !hidden_place(input, &p)
            || !is_script(&p)
            || super::persist::classify(
                &p,
                input.home.as_deref(),
                &input.cwd,
                &input.startup_patterns,
            )
            .is_some()
        {
            continue;
        }
        let ev = Evidence {
            paths: vec![p.display().to_string()],
            sha256: sha256_file(&p),
            ..Evidence::default()
        };
        let title = format!(
            "Script dropped in a hidden or scratch place: {}",
            p.display()
        );
        out.push(finding(
            "hidden.script",
            title,
            Some(e.pid),
            procs,
            ev,
            input.write_taken(&p),
        ));
    }
    out
}

/// A hidden directory the sandbox refused to create: the first step of a
/// drop that never happened. Medium from a package's code, low otherwise.
fn refused_dir(input: &Input, procs: &Procs, p: &Path, pid: i32) -> Option<Finding> {
    if p.exists()
        || !hidden_place(input, &p.join("x"))
        || input.write_taken(p) != super::Taken::Blocked
        || super::persist::classify(
            p,
            input.home.as_deref(),
            &input.cwd,
            &input.startup_patterns,
        )
        .is_some()
        || super::persist::leads_to(p, input.home.as_deref(), &input.cwd).is_some()
    {
        return None;
    }
    let ev = Evidence {
        paths: vec![p.display().to_string()],
        detail: Some("creating this directory was refused; nothing was written in it".into()),
        ..Evidence::default()
    };
    let title = format!("Hidden directory creation refused: {}", p.display());
    let mut f = finding(
        "hidden.script",
        title,
        Some(pid),
        procs,
        ev,
        super::Taken::Blocked,
    );
    if !procs.is_hook(pid) {
        f.severity = super::Severity::Low;
    }
    Some(f)
}

/// SHA-256 of a file's content (up to 64 MiB), lowercase hex.
pub fn sha256_file(p: &Path) -> Option<String> {
    use sha2::Digest;
    let f = super::open_regular(p)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut r = f.take(64 << 20);
    loop {
        let n = r.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
