//! `persist.*`: writes to persistence locations (THREATS.md), from the
//! snapshot diff (what happened) and the supervisor's write events (who did
//! it, and what the sandbox refused); and commands that install persistence
//! (`systemctl --user enable`, `crontab`, `launchctl load`, `git config
//! --global core.hooksPath`).

use super::data;
use super::{Evidence, Finding, Input, Procs, Taken, finding};
use crate::model::ChangeKind;
use crate::model::EventKind;
use crate::model::RuleId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The persistence locations of one install, expanded once: checking a
/// path is then a prefix comparison per place, and a glob match only below
/// the literal start of a wildcard place (an npm install writes thousands
/// of paths).
pub struct Classifier {
    table: Vec<Place>,
}

/// One persistence place, expanded.
struct Place {
    /// The literal start.
    base: PathBuf,
    /// The pattern and the pattern with `/**`; `None` for a literal place.
    glob: Option<(String, String)>,
    rule: RuleId,
}

impl Classifier {
    /// Expands the families of `policy/persistence.toml` and the policy's
    /// `startup_paths`.
    pub fn new(home: Option<&Path>, cwd: &Path, extra: &[String]) -> Classifier {
        Classifier::with_envs(home, cwd, &[], extra)
    }

    /// [`Classifier::new`] with the install's target Python environments
    /// (`{env}/` places).
    pub fn with_envs(
        home: Option<&Path>,
        cwd: &Path,
        envs: &[PathBuf],
        extra: &[String],
    ) -> Classifier {
        let mut table = Vec::new();
        let mut add = |text: String, rule: RuleId| {
            let cut = text.find(['*', '?', '[']).unwrap_or(text.len());
            if cut == text.len() {
                table.push(Place {
                    base: PathBuf::from(text),
                    glob: None,
                    rule,
                });
            } else {
                let base = PathBuf::from(text[..cut].rsplit_once('/').map_or("/", |(b, _)| b));
                let below = format!("{text}/**");
                table.push(Place {
                    base,
                    glob: Some((text, below)),
                    rule,
                });
            }
        };
        for fam in &data::persistence().family {
            for pat in &fam.paths {
                for text in data::expand_place(pat, home, cwd, envs) {
                    add(text, fam.rule);
                }
            }
        }
        // The hook directory the project's repository configures
        // (`core.hooksPath`): git runs the hooks there, not in `.git/hooks`.
        // So do the ones the user's global config names, in every
        // repository (`~/.githooks`).
        let hooks = crate::sandbox::hooks_path(cwd)
            .into_iter()
            .chain(crate::sandbox::user_hooks_paths(home, cwd));
        for dir in hooks {
            add(dir.to_string_lossy().into_owned(), RuleId::PersistGit);
        }
        // The places a variable of the environment names (`GITHUB_ENV`,
        // `GIT_CONFIG_GLOBAL`); a name with a wildcard would read as one.
        for (place, rule) in crate::sandbox::startup_vars::places() {
            if let Some(p) = place.to_str().filter(|p| !p.contains(['*', '?', '['])) {
                add(p.to_string(), *rule);
            }
        }
        // The policy's own start-up paths: persistence the families lack.
        for pat in extra {
            for text in data::expand_place(pat, home, cwd, envs) {
                add(text, RuleId::PersistSystem);
            }
        }
        Classifier { table }
    }

    /// The `persist.*` rule `path` belongs to, if it is a persistence location.
    pub fn classify(&self, path: &Path) -> Option<RuleId> {
        let mut text: Option<std::borrow::Cow<str>> = None;
        for Place { base, glob, rule } in &self.table {
            if !path.starts_with(base) {
                continue;
            }
            let hit = match glob {
                None => true,
                Some((g, below)) => {
                    let t = text.get_or_insert_with(|| path.to_string_lossy());
                    crate::glob::glob_match(g, t) || crate::glob::glob_match(below, t)
                }
            };
            if hit {
                return Some(*rule);
            }
        }
        if super::gemplugin::is_plugin_file(path) {
            return Some(RuleId::PersistPmConfig);
        }
        None
    }
}

/// The `persist.*` rule a path belongs to, if it is a persistence location
/// (one path; [`Classifier`] for many).
pub fn classify(path: &Path, home: Option<&Path>, cwd: &Path, extra: &[String]) -> Option<RuleId> {
    Classifier::new(home, cwd, extra).classify(path)
}

/// The rule of the persistence location a new directory `path` leads to
/// (`~/.config/systemd` on the way to `~/.config/systemd/user`).
pub fn leads_to(path: &Path, home: Option<&Path>, cwd: &Path) -> Option<RuleId> {
    for fam in data::persistence().family.iter().filter(|f| f.leads) {
        for pat in &fam.paths {
            // Only literal places: a wildcard names no directory to lead to.
            if pat.contains(['*', '?', '[']) || pat.starts_with("{env}/") {
                continue;
            }
            for text in data::expand_place(pat, home, cwd, &[]) {
                let expanded = PathBuf::from(text);
                if expanded != path && expanded.starts_with(path) {
                    let depth = expanded.components().count() - path.components().count();
                    if depth <= 2
                        && path.components().count() > home.map_or(1, |h| h.components().count())
                    {
                        return Some(fam.rule);
                    }
                }
            }
        }
    }
    None
}

/// True when every added line lies inside a block that a tool the user runs
/// on purpose writes (`conda init` …).
fn tool_block(content: &str, added: &[(u32, String)]) -> bool {
    if added.is_empty() {
        return false;
    }
    let lines: Vec<&str> = content.lines().collect();
    added.iter().all(|(n, _)| {
        let i = (*n as usize).saturating_sub(1);
        data::benign().rc_blocks.iter().any(|(begin, end)| {
            let start = lines[..(i + 1).min(lines.len())]
                .iter()
                .rposition(|l| l.trim() == begin);
            let stop = lines.iter().skip(i).position(|l| l.trim() == end);
            start.is_some() && stop.is_some()
        })
    })
}

/// Finds the persistence writes and commands of an install.
pub fn check(input: &Input, procs: &Procs) -> Vec<Finding> {
    let home = input.home.as_deref();
    let cls = Classifier::with_envs(home, &input.cwd, &input.envs, &input.startup_patterns);
    // Path → (rule, first writer event pid, kind of write).
    let mut hits: BTreeMap<PathBuf, (RuleId, Option<i32>, String)> = BTreeMap::new();
    // A chmod or chown of a persistence file is a change of it too.
    for (path, e) in input.written().into_iter().chain(input.perm_changes()) {
        // A directory that exists: what lands in it is the evidence.
        if e.kind == EventKind::Mkdir && path.exists() {
            continue;
        }
        let rule = cls.classify(&path).or_else(|| {
            // A directory on the way there, refused: the attempt is the evidence.
            (e.kind == EventKind::Mkdir)
                .then(|| leads_to(&path, home, &input.cwd))
                .flatten()
        });
        // The manager's own configuration written by a script (the manager
        // itself may: pnpm updates its workspace manifest).
        let rule = rule.or_else(|| {
            (input.hooks.configs.iter().any(|c| path.starts_with(c))
                && input.hooks.confines(e.pid, input.tree, procs))
            .then_some(RuleId::PersistPmConfig)
        });
        if let Some(rule) = rule {
            hits.entry(path)
                .or_insert((rule, Some(e.pid), super::how(e)));
        }
    }
    // A symlink planted to a persistence location: the write through it
    // may have raced the supervisor's resolution; the link is evidence.
    for (target, e) in input.symlinked() {
        if let Some(rule) = cls.classify(&target) {
            hits.entry(target)
                .or_insert((rule, Some(e.pid), EventKind::Symlink.to_string()));
        }
    }
    for c in input.changes {
        let p = PathBuf::from(&c.path);
        if let Some(rule) = cls.classify(&p) {
            hits.entry(p)
                .or_insert((rule, None, format!("{:?}", c.kind).to_lowercase()));
        }
    }
    let mut out = Vec::new();
    for (path, (rule, pid, how)) in hits {
        // Executables in PATH directories have their own rule; not what a
        // shell or Python starts from one (a virtualenv's `bin/activate*`,
        // and `bin/pyvenv.cfg`: start-up files of its shells and Python).
        if !matches!(rule, RuleId::PersistShellRc | RuleId::PersistPythonStartup)
            && path
                .parent()
                .is_some_and(|d| input.path_dirs.iter().any(|x| x == d))
        {
            continue;
        }
        let change = input.changed(&path);
        let mut ev = Evidence {
            paths: vec![path.display().to_string()],
            ..Evidence::default()
        };
        if let Some(c) = change {
            ev.sha256 = c.after.as_ref().and_then(|a| a.sha256.clone());
            if let Some((n, line)) = c.added_lines.first() {
                ev.line = Some(*n);
                ev.excerpt = Some(line.clone());
            }
            if c.kind == ChangeKind::Removed {
                ev.detail = Some("removed".into());
            }
            if let Some(t) = c.after.as_ref().and_then(|a| a.link_target.clone()) {
                ev.detail = Some(format!("now a symlink to {t}"));
            }
        } else {
            ev.detail = Some(format!("attempted ({how})"));
        }
        let hook = pid.is_some_and(|p| procs.is_hook(p));
        // A tool-managed block written by the manager itself (never by a
        // package's hook) is the user's own doing.
        if rule == RuleId::PersistShellRc
            && !hook
            && let Some(c) = change
            && let Some(text) = super::read_regular_text(&path, super::TEXT_MAX)
            && tool_block(&text, &c.added_lines)
        {
            continue;
        }
        // Git hooks the root project asks for from its own `prepare` script.
        if rule == RuleId::PersistGit
            && path.starts_with(input.cwd.join(".git/hooks"))
            && let Some(p) = pid
            && project_hook(input, procs, p)
        {
            continue;
        }
        let action = if change.is_some() {
            Taken::Observed
        } else if pid.is_some_and(|p| input.hooks.refuses_write(p, &path, input.tree, procs)) {
            Taken::Blocked
        } else {
            input.write_taken(&path)
        };
        if pid.is_none() {
            // Changed, but by nobody the sandbox saw: perhaps the user, in
            // another terminal. Still worth a look, with less certainty.
            ev.detail =
                Some("changed during the install; no sandboxed process was seen writing it".into());
        }
        let what = rule.meta().title;
        let title = format!("{what}: {}", path.display());
        let mut f = finding(rule, title, pid, procs, ev, action);
        if pid.is_none() {
            f.severity = super::Severity::Medium;
        }
        out.push(f);
    }
    out.extend(commands(input, procs));
    out.extend(path_hijack(input, procs));
    out
}

/// Commands a planted executable would shadow to catch credentials or run
/// with the user's authority (THREATS.md's list; the managers among them are
/// commands the user types, not the install's manager).
const SHADOWED: &[&str] = &[
    "sudo",
    "su",
    "doas",
    "git",
    "ssh",
    "scp",
    "gpg",
    "ls",
    "cd",
    "cat",
    "curl",
    "wget",
    "bash",
    "sh",
    "zsh",
    "python",
    "python3",
    "node",
    "npm",
    "npx",
    "pip",
    "pip3",
    "gem",
    "docker",
    "kubectl",
    "aws",
    "gh",
    // Round 14: the build tools, system managers and core utilities a user
    // or a script runs by name (no package of the supported registries
    // ships one as its own command).
    "make",
    "cargo",
    "rustc",
    "rustup",
    "go",
    "gcc",
    "cc",
    "g++",
    "c++",
    "ld",
    "apt",
    "apt-get",
    "dpkg",
    "yum",
    "dnf",
    "rpm",
    "apk",
    "systemctl",
    "service",
    "journalctl",
    "crontab",
    "passwd",
    "chsh",
    "login",
    "mount",
    "umount",
    "chmod",
    "chown",
    "cp",
    "mv",
    "rm",
    "ln",
    "env",
    "ps",
    "kill",
    "id",
    "whoami",
    "grep",
    "find",
    "xargs",
    "sed",
    "awk",
    "tar",
    "rsync",
    "ssh-add",
    "ssh-agent",
    "ssh-keygen",
    "openssl",
    "vi",
    "vim",
    "nano",
    "less",
    "more",
    "man",
    "fish",
    "ruby",
    "perl",
    "java",
    "yarn",
    "pnpm",
    "bundle",
    "brew",
    "conda",
    "mamba",
    "uv",
    "poetry",
    "pipx",
    "code",
    "claude",
    "codex",
];

/// System directories of administrative commands: a new entry point that
/// takes the name of one of theirs shadows it as much as one [`SHADOWED`]
/// lists.
const ADMIN_DIRS: &[&str] = &["/usr/sbin", "/sbin", "/usr/local/sbin"];

/// True when an entry point named `name` would shadow a command the user
/// relies on: a listed one, or any administrative command.
fn shadows_command(name: &str) -> bool {
    SHADOWED.contains(&name)
        || (!name.is_empty()
            && ADMIN_DIRS
                .iter()
                .any(|d| Path::new(d).join(name).symlink_metadata().is_ok()))
}

/// `persist.path-hijack`: a new executable in a PATH directory ahead of
/// `/usr/bin`. The manager itself installing a package's declared entry
/// points (pip's console scripts, npm's bin links) is what installs do,
/// unless the name shadows a system or security-relevant command; anything a
/// package's hook puts there is not.
fn path_hijack(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let in_path_dir = |p: &Path| {
        p.parent()
            .is_some_and(|d| input.path_dirs.iter().any(|x| x == d))
    };
    let mut candidates: Vec<(PathBuf, Option<i32>)> = input
        .written()
        .into_iter()
        .filter(|(p, _)| in_path_dir(p))
        .map(|(p, e)| (p, Some(e.pid)))
        .collect();
    for c in super::added_or_modified(input.changes) {
        let p = PathBuf::from(&c.path);
        if in_path_dir(&p) && !candidates.iter().any(|(x, _)| *x == p) {
            candidates.push((p, None));
        }
    }
    for (p, pid) in candidates {
        if !seen.insert(p.clone()) {
            continue;
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A dot-name shadows no command; one that nobody in the sandbox
        // wrote is another tool's working file (pyenv's rehash keeps
        // `.pyenv-shim` in its shims directory while it runs).
        if pid.is_none() && name.starts_with('.') {
            continue;
        }
        let exists = std::fs::symlink_metadata(&p).is_ok();
        let executable = std::fs::metadata(&p)
            .map(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
            .unwrap_or(false);
        if exists && !executable {
            continue;
        }
        let shadows = shadows_command(&name);
        let hook = pid.is_some_and(|p| procs.is_hook(p));
        let unseen = pid.is_none();
        // The manager's own entry points: the manager process wrote them.
        let manager_own = pid.is_some() && !hook;
        if manager_own && !shadows {
            continue;
        }
        let mut detail = Vec::new();
        if shadows {
            detail.push(format!("shadows `{name}`"));
        }
        if hook {
            detail.push("written by a package's install script".to_string());
        }
        if unseen {
            detail.push(
                "appeared during the install; no sandboxed process was seen writing it".to_string(),
            );
        }
        let ev = Evidence {
            paths: vec![p.display().to_string()],
            sha256: super::hidden::sha256_file(&p),
            detail: Some(detail.join("; ")),
            ..Evidence::default()
        };
        let action = if exists {
            Taken::Observed
        } else {
            input.write_taken(&p)
        };
        let title = format!(
            "Executable placed ahead of system commands: {}",
            p.display()
        );
        let mut f = finding(RuleId::PersistPathHijack, title, pid, procs, ev, action);
        if unseen && !shadows {
            f.severity = super::Severity::Medium;
        }
        out.push(f);
    }
    out
}

/// True when `pid` runs the root project's own `prepare` (or `postinstall`)
/// script, or a git hook manager it started.
fn project_hook(input: &Input, procs: &Procs, pid: i32) -> bool {
    let (package, hook) = procs.attribution(pid);
    let Some(root) = &input.project_package else {
        return false;
    };
    let name = package
        .as_deref()
        .map(|p| p.rsplit_once('@').map_or(p, |(n, _)| n));
    name == Some(root.as_str())
        && matches!(hook.as_deref(), Some("prepare" | "postinstall" | "install"))
}

/// Commands that install persistence.
fn commands(input: &Input, procs: &Procs) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in input.events.iter().filter(|e| e.kind == EventKind::Exec) {
        let Some(argv) = &e.argv else { continue };
        let name = argv
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a))
            .unwrap_or("");
        let has = |w: &str| argv.iter().skip(1).any(|a| a == w);
        let rule = match name {
            "systemctl"
                if has("--user")
                    && (has("enable") || has("start") || has("daemon-reload") || has("link")) =>
            {
                RuleId::PersistSystemd
            }
            "crontab" if !has("-l") => RuleId::PersistCron,
            "at" | "batch" => RuleId::PersistCron,
            "launchctl" if has("load") || has("bootstrap") => RuleId::PersistLaunchd,
            "git"
                if has("config")
                    && (has("--global") || has("--system"))
                    && argv.iter().any(|a| {
                        a.starts_with("core.hooksPath")
                            || a.starts_with("credential.helper")
                            || a.starts_with("core.pager")
                            || a.starts_with("core.sshCommand")
                    }) =>
            {
                RuleId::PersistGit
            }
            _ => continue,
        };
        let ev = Evidence {
            argv: Some(argv.clone()),
            ..Evidence::default()
        };
        let title = format!("{}: `{}`", rule.meta().title, argv.join(" "));
        out.push(finding(
            rule,
            title,
            Some(e.pid),
            procs,
            ev,
            super::taken_of(e),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistence_paths_are_classified() {
        let home = Some(Path::new("/home/u"));
        let cwd = Path::new("/work/proj");
        let c = |p: &str| classify(Path::new(p), home, cwd, &[]);
        assert_eq!(c("/home/u/.bashrc"), Some(RuleId::PersistShellRc));
        assert_eq!(
            c("/home/u/.config/fish/conf.d/x.fish"),
            Some(RuleId::PersistShellRc)
        );
        assert_eq!(c("/etc/profile.d/evil.sh"), Some(RuleId::PersistShellRc));
        assert_eq!(
            c("/home/u/.config/systemd/user/x.service"),
            Some(RuleId::PersistSystemd)
        );
        assert_eq!(
            c("/home/u/.config/autostart/x.desktop"),
            Some(RuleId::PersistAutostart)
        );
        assert_eq!(c("/etc/cron.d/job"), Some(RuleId::PersistCron));
        assert_eq!(c("/home/u/.ssh/authorized_keys"), Some(RuleId::PersistSsh));
        assert_eq!(c("/work/proj/.npmrc"), Some(RuleId::PersistPmConfig));
        assert_eq!(
            c("/work/proj/.git/hooks/pre-commit"),
            Some(RuleId::PersistGit)
        );
        assert_eq!(
            c("/work/proj/.github/workflows/ci.yml"),
            Some(RuleId::PersistCi)
        );
        assert_eq!(
            c("/work/proj/.claude/settings.json"),
            Some(RuleId::PersistAgentHook)
        );
        assert_eq!(c("/etc/ld.so.preload"), Some(RuleId::PersistSystem));
        assert_eq!(
            c("/home/u/Library/LaunchAgents/x.plist"),
            Some(RuleId::PersistLaunchd)
        );
        assert_eq!(
            c("/x/lib/ruby/gems/3.1.0/gems/a/lib/rubygems_plugin.rb"),
            Some(RuleId::PersistPmConfig)
        );
        assert_eq!(
            c("/home/u/.config/homebrew/brew.env"),
            Some(RuleId::PersistPmConfig)
        );
        assert_eq!(c("/home/u/.bashrc.bak"), None);
        assert_eq!(c("/work/proj/node_modules/a/index.js"), None);
        assert_eq!(c("/home/u/.cache/pip/x"), None);
        let extra = vec!["~/.myrc".to_string()];
        assert_eq!(
            classify(Path::new("/home/u/.myrc"), home, cwd, &extra),
            Some(RuleId::PersistSystem)
        );
    }

    /// Every place of every persistence family, as a file and as a
    /// directory holding files, is classified by the rules and covered by
    /// the snapshot; where the place can be made in a test home, a write
    /// there that no event saw is found by the diff.
    #[test]
    fn every_place_a_persist_rule_classifies_is_in_the_snapshot_scope() {
        use crate::monitor::snapshot::{Scope, diff, take};
        for as_dir in [false, true] {
            let t = tempfile::tempdir().unwrap();
            let root = t.path().canonicalize().unwrap();
            let home = root.join("home");
            let cwd = home.join("proj");
            let env = root.join("venv");
            let site = env.join("lib/python3.12/site-packages");
            std::fs::create_dir_all(&cwd).unwrap();
            std::fs::create_dir_all(&site).unwrap();
            std::fs::write(env.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
            let scope = Scope::new(Some(home.clone()), cwd.clone(), &[], vec![site], None);
            assert_eq!(scope.envs, vec![env.clone()]);
            let cls = Classifier::with_envs(Some(&home), &cwd, &scope.envs, &[]);
            let before = take(&scope);
            let mut made = Vec::new();
            for fam in &data::persistence().family {
                for pat in &fam.paths {
                    let sample = pat
                        .replace("**", "src/repo")
                        .replace('*', "x")
                        .replace('?', "y");
                    for place in data::expand_place(&sample, Some(&home), &cwd, &scope.envs) {
                        let file = if as_dir {
                            PathBuf::from(format!("{place}/f"))
                        } else {
                            PathBuf::from(&place)
                        };
                        assert!(
                            cls.classify(&file).is_some(),
                            "{pat}: {} is not classified",
                            file.display()
                        );
                        assert!(
                            scope.covers(&file),
                            "{pat}: {} is outside the snapshot scope",
                            file.display()
                        );
                        // `{env}/pyvenv.cfg` is a file already: not a directory.
                        if file.starts_with(&root) && !file.parent().unwrap().is_file() {
                            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                            std::fs::write(&file, "planted\n").unwrap();
                            made.push(file);
                        }
                    }
                }
            }
            assert!(made.len() > 40, "{made:?}");
            let changes = diff(&before, &take(&scope));
            for f in &made {
                assert!(
                    changes.iter().any(|c| Path::new(&c.path) == f),
                    "a write to {} was not found by the diff",
                    f.display()
                );
            }
        }
    }

    #[test]
    fn tool_blocks_are_recognised() {
        let text = "a\n# >>> conda initialize >>>\nx\ny\n# <<< conda initialize <<<\n";
        assert!(tool_block(
            text,
            &[
                (2, String::new()),
                (3, "x".into()),
                (4, "y".into()),
                (5, String::new())
            ]
        ));
        assert!(!tool_block(
            "a\ncurl x | sh\n",
            &[(2, "curl x | sh".into())]
        ));
        assert!(!tool_block(text, &[]));
    }
}

#[cfg(test)]
mod check_tests {
    use super::*;
    use crate::model::{Change, ChangeKind};
    use crate::model::{Event, EventKind};

    fn ev(kind: EventKind, path: &str) -> Event {
        Event {
            pid: 7,
            kind,
            paths: vec![path.into()],
            ..Default::default()
        }
    }

    fn ev2(kind: EventKind, a: &str, b: &str, seq: u64) -> Event {
        let mut e = ev(kind, a);
        e.paths.push(b.into());
        e.seq = seq;
        e
    }

    #[test]
    fn another_tools_dot_file_in_a_path_dir_is_no_hijack_but_a_named_command_is() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let mut changes = Vec::new();
        for name in [".pyenv-shim", "ls"] {
            let p = bin.join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            changes.push(Change {
                path: p.to_string_lossy().into_owned(),
                kind: ChangeKind::Added,
                before: None,
                after: None,
                added_lines: Vec::new(),
            });
        }
        let input = Input {
            path_dirs: vec![bin.clone()],
            changes: &changes,
            ..Input::default()
        };
        let f = path_hijack(&input, &Procs::new(&[]));
        let paths: Vec<&str> = f.iter().map(|f| f.evidence.paths[0].as_str()).collect();
        assert_eq!(paths, vec![bin.join("ls").to_string_lossy()], "{f:#?}");
    }

    #[test]
    fn a_hard_link_to_a_protected_file_and_a_write_through_it_are_persistence() {
        let home = "/nonexistent-home";
        let events = vec![
            ev2(
                EventKind::Link,
                "/nonexistent-home/.config/git/config",
                "/nonexistent-tmp/h",
                0,
            ),
            ev(EventKind::OpenWrite, "/nonexistent-tmp/h"),
        ];
        let input = Input {
            home: Some(PathBuf::from(home)),
            cwd: PathBuf::from("/nonexistent-proj"),
            events: &events,
            ..Input::default()
        };
        let written: Vec<PathBuf> = input.written().into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            written,
            vec![
                PathBuf::from("/nonexistent-home/.config/git/config"),
                PathBuf::from("/nonexistent-tmp/h")
            ]
        );
        let f = check(&input, &Procs::new(&[]));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, RuleId::PersistGit);
        assert_eq!(f[0].severity, crate::model::Severity::High);
    }

    #[test]
    fn a_symlink_planted_to_a_persistence_location_is_evidence() {
        let events = vec![ev2(
            EventKind::Symlink,
            "../../nonexistent-home/.bash_logout",
            "/nonexistent-tmp/x/l",
            0,
        )];
        let input = Input {
            home: Some(PathBuf::from("/nonexistent-home")),
            cwd: PathBuf::from("/nonexistent-proj"),
            events: &events,
            ..Input::default()
        };
        let f = check(&input, &Procs::new(&[]));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, RuleId::PersistShellRc);
        assert_eq!(
            f[0].evidence.paths,
            vec!["/nonexistent-home/.bash_logout".to_string()]
        );
        // A link into the package's own tree is not.
        let events = vec![ev2(
            EventKind::Symlink,
            "../pkg/cli.js",
            "/nonexistent-proj/node_modules/.bin/cli",
            0,
        )];
        let input = Input {
            home: Some(PathBuf::from("/nonexistent-home")),
            cwd: PathBuf::from("/nonexistent-proj"),
            events: &events,
            ..Input::default()
        };
        assert!(check(&input, &Procs::new(&[])).is_empty());
    }

    #[test]
    fn other_repositories_and_editor_files_are_classified() {
        let home = Some(Path::new("/home/u"));
        let cwd = Path::new("/work/proj");
        let c = |p: &str| classify(Path::new(p), home, cwd, &[]);
        assert_eq!(
            c("/home/u/src/other/.git/hooks/pre-commit"),
            Some(RuleId::PersistGit)
        );
        assert_eq!(c("/home/u/src/other/.git/config"), Some(RuleId::PersistGit));
        assert_eq!(c("/home/u/src/other/.git/objects/ab"), None);
        assert_eq!(c("/home/u/.config/git/config"), Some(RuleId::PersistGit));
        assert_eq!(c("/home/u/.bash_logout"), Some(RuleId::PersistShellRc));
        assert_eq!(c("/home/u/.vimrc"), Some(RuleId::PersistAgentHook));
        assert_eq!(
            c("/home/u/.config/nvim/init.lua"),
            Some(RuleId::PersistAgentHook)
        );
        assert_eq!(
            c("/home/u/.cargo/config.toml"),
            Some(RuleId::PersistPmConfig)
        );
        assert_eq!(c("/home/u/.cargo/registry/x"), None);
        assert_eq!(
            c("/home/u/.config/environment.d/x.conf"),
            Some(RuleId::PersistSystemd)
        );
        assert_eq!(
            c("/home/u/.local/share/applications/x.desktop"),
            Some(RuleId::PersistAutostart)
        );
        assert_eq!(c("/home/u/.wezterm.lua"), Some(RuleId::PersistAgentHook));
        assert_eq!(
            c("/home/u/.config/kitty/kitty.conf"),
            Some(RuleId::PersistAgentHook)
        );
        assert_eq!(
            c("/home/u/.config/starship.toml"),
            Some(RuleId::PersistAgentHook)
        );
        let envs = [PathBuf::from("/v")];
        let cls = Classifier::with_envs(home, cwd, &envs, &[]);
        assert_eq!(
            cls.classify(Path::new("/v/pyvenv.cfg")),
            Some(RuleId::PersistPythonStartup)
        );
        assert_eq!(
            cls.classify(Path::new("/v/bin/pyvenv.cfg")),
            Some(RuleId::PersistPythonStartup)
        );
        assert_eq!(
            cls.classify(Path::new("/v/pip.conf")),
            Some(RuleId::PersistPmConfig)
        );
        assert_eq!(
            cls.classify(Path::new("/v/bin/activate.fish")),
            Some(RuleId::PersistShellRc)
        );
        assert_eq!(cls.classify(Path::new("/v/bin/pip")), None);
    }

    #[test]
    fn a_refused_directory_on_the_way_to_a_unit_is_persistence() {
        let events = vec![ev(EventKind::Mkdir, "/nonexistent-home/.config/systemd")];
        let input = Input {
            home: Some(PathBuf::from("/nonexistent-home")),
            cwd: PathBuf::from("/nonexistent-proj"),
            events: &events,
            ..Input::default()
        };
        let procs = Procs::new(&[]);
        let f = check(&input, &procs);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, RuleId::PersistSystemd);
        assert_eq!(f[0].action, Taken::Blocked);
    }

    #[test]
    fn the_users_global_hook_directory_is_persist_git() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let proj = home.join("proj");
        std::fs::create_dir_all(&proj).unwrap();
        std::fs::write(
            home.join(".gitconfig"),
            "[core]\n\thooksPath = ~/.githooks\n",
        )
        .unwrap();
        let hook = home.join(".githooks/pre-commit");
        let c = Classifier::new(Some(&home), &proj, &[]);
        if std::env::var_os("GIT_CONFIG_GLOBAL").is_none() {
            assert_eq!(c.classify(&hook), Some(RuleId::PersistGit));
        }
        assert_eq!(c.classify(&home.join(".githooks-not/x")), None);
    }
}
