//! `hidden.script`: a script dropped in a hidden directory below `$HOME`
//! (`~/.local`, `~/.config` …) or in a shared scratch directory (`/tmp`,
//! `/var/tmp`, `/dev/shm`, from `policy/benign.toml`) outside the expected
//! roots, the project and the target environments.

use super::{Evidence, Finding, Input, Procs, data, finding};
use crate::model::EventKind;
use crate::model::RuleId;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Extensions of scripts.
const SCRIPT_EXT: &[&str] = &[
    "py", "sh", "bash", "zsh", "js", "mjs", "cjs", "pl", "rb", "php", "ps1", "lua",
];

/// Why a path is a place scripts are dropped to hide them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// Inside this hidden directory (a name starting with `.`) of the home
    /// directory or of a scratch directory.
    Hidden(PathBuf),
    /// Inside this scratch directory every program shares (`/tmp` …), and
    /// neither in the project, the home directory, the target environment
    /// nor the install's private temporary directory.
    Scratch(PathBuf),
}

impl Place {
    /// The place in words: `the hidden directory ~/.x`, `the shared
    /// scratch directory /tmp`.
    pub fn words(&self) -> String {
        match self {
            Place::Hidden(d) => format!("the hidden directory {}", d.display()),
            Place::Scratch(d) => format!("the shared scratch directory {}", d.display()),
        }
    }
}

/// Where `p` lies when it is a hidden or scratch place for this install;
/// `None` for the places the install may write, the tool caches, the
/// project and the target environments.
pub fn place(input: &Input, p: &Path) -> Option<Place> {
    if input.expected_path(p) || input.tool_cache(p) {
        return None;
    }
    if let Some(home) = input.home.as_deref().filter(|h| p.starts_with(h)) {
        // A home directory under /tmp is a home directory, not scratch.
        return hidden_dir(home, p).map(Place::Hidden);
    }
    let root = data::benign()
        .scratch_dirs
        .iter()
        .map(PathBuf::from)
        .find(|s| p.starts_with(s))?;
    // A project or an environment kept under /tmp is what the user asked
    // to install into or from, not a hiding place.
    let own = |d: &Path| d.is_absolute() && d != root && p.starts_with(d);
    if own(&input.cwd) || input.envs.iter().any(|e| own(e)) {
        return None;
    }
    Some(hidden_dir(&root, p).map_or(Place::Scratch(root), Place::Hidden))
}

/// The first directory of `p` below `base` whose name starts with `.` (the
/// file's own name is not a directory).
fn hidden_dir(base: &Path, p: &Path) -> Option<PathBuf> {
    let rel = p.strip_prefix(base).ok()?;
    let comps: Vec<Component> = rel.components().collect();
    let mut dir = base.to_path_buf();
    for c in comps.iter().take(comps.len().saturating_sub(1)) {
        dir.push(c);
        if c.as_os_str().to_string_lossy().starts_with('.') {
            return Some(dir);
        }
    }
    None
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
        if e.kind == EventKind::Mkdir {
            if let Some(f) = refused_dir(input, procs, &p, e.pid) {
                out.push(f);
            }
            continue;
        }
        if e.kind == EventKind::Symlink {
            continue;
        }
        let Some(place) = place(input, &p) else {
            continue;
        };
        if !is_script(&p)
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
        let title = match &place {
            Place::Hidden(_) => format!("Script dropped in a hidden directory: {}", p.display()),
            Place::Scratch(_) => format!(
                "Script dropped in a shared scratch directory: {}",
                p.display()
            ),
        };
        let ev = Evidence {
            detail: Some(format!(
                "{} lies outside where this install writes its files",
                place.words()
            )),
            ..ev
        };
        out.push(finding(
            RuleId::HiddenScript,
            title,
            Some(e.pid),
            procs,
            ev,
            input.write_taken(&p),
        ));
    }
    out
}

/// A directory in a hidden or scratch place the sandbox refused to create:
/// the first step of a drop that never happened. Medium from a package's
/// code, low otherwise.
fn refused_dir(input: &Input, procs: &Procs, p: &Path, pid: i32) -> Option<Finding> {
    // Judged as a file inside it: `~/.x` itself is hidden.
    let place = place(input, &p.join("x"))?;
    if p.exists()
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
    let (title, why) = match &place {
        Place::Hidden(d) if d == p => (
            format!("Creating a hidden directory refused: {}", p.display()),
            "its name starts with a dot, which hides it from listings".to_string(),
        ),
        Place::Hidden(_) => (
            format!(
                "Creating a directory in a hidden directory refused: {}",
                p.display()
            ),
            format!("it lies in {}", place.words()),
        ),
        Place::Scratch(_) => (
            format!(
                "Creating a directory in a shared scratch directory refused: {}",
                p.display()
            ),
            format!("it lies in {}", place.words()),
        ),
    };
    let ev = Evidence {
        paths: vec![p.display().to_string()],
        detail: Some(format!(
            "{why}, outside where this install may write; creating it was refused and nothing was written in it"
        )),
        ..Evidence::default()
    };
    let mut f = finding(
        RuleId::HiddenScript,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Event;

    const HOME: &str = "/nonexistent-pw-home";
    const PROJECT: &str = "/tmp/nonexistent-pw-project";
    const VENV: &str = "/tmp/nonexistent-pw-venv";

    fn event(seq: u64, kind: EventKind, path: &str) -> Event {
        Event {
            seq,
            pid: 9,
            kind,
            paths: vec![path.into()],
            ..Default::default()
        }
    }

    /// The findings for `kind` events on `paths`, as (title, detail).
    fn findings(home: &str, kind: EventKind, paths: &[&str]) -> Vec<(String, String)> {
        let events: Vec<Event> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| event(i as u64, kind, p))
            .collect();
        let input = Input {
            home: Some(PathBuf::from(home)),
            cwd: PathBuf::from(PROJECT),
            envs: vec![PathBuf::from(VENV)],
            tmp: PathBuf::from("/tmp/nonexistent-pw-private-tmp"),
            events: &events,
            ..Input::default()
        };
        check(&input, &Procs::new(&[]))
            .into_iter()
            .map(|f| (f.title, f.evidence.detail.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn the_project_and_the_environment_under_tmp_are_not_hiding_places() {
        let f = findings(
            HOME,
            EventKind::Mkdir,
            &[
                "/tmp/nonexistent-pw-project/src/tinypkg.egg-info",
                "/tmp/nonexistent-pw-venv/share",
                "/tmp/nonexistent-pw-private-tmp/build",
            ],
        );
        assert!(f.is_empty(), "{f:#?}");
        let f = findings(
            HOME,
            EventKind::OpenWrite,
            &[
                "/tmp/nonexistent-pw-project/build/run.sh",
                "/tmp/nonexistent-pw-venv/share/tool/run.sh",
            ],
        );
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn a_home_under_tmp_is_judged_as_a_home() {
        let home = "/tmp/nonexistent-pw-home";
        let f = findings(
            home,
            EventKind::Mkdir,
            &["/tmp/nonexistent-pw-home/work/build"],
        );
        assert!(f.is_empty(), "{f:#?}");
        let f = findings(home, EventKind::Mkdir, &["/tmp/nonexistent-pw-home/.stash"]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(f[0].0.starts_with("Creating a hidden directory refused: "));
    }

    #[test]
    fn each_refusal_says_what_and_why_in_true_words() {
        let f = findings(
            HOME,
            EventKind::Mkdir,
            &[
                "/nonexistent-pw-home/.stash",
                "/nonexistent-pw-home/.config/stash",
                "/tmp/nonexistent-pw-drop",
                "/tmp/.nonexistent-pw-cache",
            ],
        );
        assert_eq!(f.len(), 4, "{f:#?}");
        assert_eq!(
            f[0].0,
            "Creating a hidden directory refused: /nonexistent-pw-home/.stash"
        );
        assert!(f[0].1.starts_with("its name starts with a dot"));
        assert_eq!(
            f[1].0,
            "Creating a directory in a hidden directory refused: /nonexistent-pw-home/.config/stash"
        );
        assert!(
            f[1].1
                .contains("the hidden directory /nonexistent-pw-home/.config")
        );
        assert_eq!(
            f[2].0,
            "Creating a directory in a shared scratch directory refused: /tmp/nonexistent-pw-drop"
        );
        assert!(f[2].1.contains("the shared scratch directory /tmp"));
        // A dot-directory in /tmp is hidden, and said to be for its name.
        assert_eq!(
            f[3].0,
            "Creating a hidden directory refused: /tmp/.nonexistent-pw-cache"
        );
        for (title, detail) in &f {
            assert!(detail.contains("was refused"), "{title}: {detail}");
        }
        // Nothing under /tmp is called hidden.
        assert!(!f[2].0.to_lowercase().contains("hidden"));
        assert!(!f[2].1.contains("hidden"));
    }

    #[test]
    fn dropped_scripts_name_their_place() {
        let f = findings(
            HOME,
            EventKind::OpenWrite,
            &[
                "/tmp/nonexistent-pw-drop/run.sh",
                "/nonexistent-pw-home/.x/run.py",
            ],
        );
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!(
            f[0].0,
            "Script dropped in a shared scratch directory: /tmp/nonexistent-pw-drop/run.sh"
        );
        assert_eq!(
            f[1].0,
            "Script dropped in a hidden directory: /nonexistent-pw-home/.x/run.py"
        );
        assert!(
            f[1].1
                .contains("the hidden directory /nonexistent-pw-home/.x")
        );
    }
}
