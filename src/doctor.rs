//! `pkgwarden doctor`: what this machine gives pkgwarden and what stands in
//! its way: kernel features, PATH order per monitored name, the shell hook,
//! the policy and its sources, pkgwarden's own directories, the upstream
//! proxy, and whether each manager's facts can be read. Every problem is
//! one line with its fix; a broken policy is one of them, never the end.

use crate::exit;
use crate::managers::Tool;
use crate::policy::{self, Overrides};
use crate::sandbox::probe::Probe;
use crate::shim;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The variable the shell hooks (`shims/activate.*`) export when loaded.
pub const HOOK_VAR: &str = "PKGWARDEN_SHELL_INTEGRATION";

/// Where one monitored command name leads on the current PATH.
#[derive(Clone, Debug, Serialize)]
pub struct NameOnPath {
    /// The command name.
    pub name: String,
    /// True when typing it runs the shim.
    pub shim_first: bool,
    /// The real manager the shim hands off to.
    pub real: Option<PathBuf>,
}

/// The policy as read.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyState {
    /// True when every layer parses.
    pub valid: bool,
    /// The layers read, lowest first.
    pub sources: Vec<String>,
    /// The error (file:line:col), when invalid.
    pub error: Option<String>,
}

/// One of pkgwarden's own directories.
#[derive(Clone, Debug, Serialize)]
pub struct DirState {
    /// What it holds.
    pub what: &'static str,
    /// Where.
    pub path: Option<PathBuf>,
    /// Why it cannot be written, when it cannot.
    pub error: Option<String>,
}

/// The upstream proxy installs are chained to.
#[derive(Clone, Debug, Serialize)]
pub struct ProxyState {
    /// `host:port`.
    pub addr: String,
    /// True when its URL carries credentials (never shown).
    pub credentials: bool,
    /// Hosts reached directly.
    pub no_proxy: Vec<String>,
}

/// Whether one manager's facts could be read.
#[derive(Clone, Debug, Serialize)]
pub struct FactsState {
    /// The command name.
    pub manager: String,
    /// The real manager.
    pub real: PathBuf,
    /// How long reading them took (from the cache when unchanged).
    pub ms: u64,
    /// `probe` (asked just now) or `cache`.
    pub origin: Option<String>,
    /// Why they are not derived, when they are only a skeleton (README,
    /// "The sandbox", says which managers then run unmonitored).
    pub skeleton: Option<String>,
    /// Why they could not be read.
    pub error: Option<String>,
}

/// One problem and its fix.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    /// What is wrong.
    pub what: String,
    /// What to do.
    pub fix: String,
}

/// Everything `doctor` found.
#[derive(Clone, Debug, Serialize)]
pub struct Findings {
    /// The kernel's features.
    #[serde(flatten)]
    pub kernel: Probe,
    /// The shim directory.
    pub shims_dir: Option<PathBuf>,
    /// Per monitored name on PATH.
    pub path: Vec<NameOnPath>,
    /// The names that do not resolve to a shim.
    pub shadowed: Vec<shim::Shadow>,
    /// The loaded shell hook's shell, when one is loaded.
    pub shell_hook: Option<String>,
    /// The policy.
    pub policy: PolicyState,
    /// pkgwarden's directories.
    pub dirs: Vec<DirState>,
    /// The upstream proxy.
    pub proxy: Option<ProxyState>,
    /// Per manager on PATH.
    pub facts: Vec<FactsState>,
    /// Every problem, with its fix.
    pub problems: Vec<Problem>,
}

impl Findings {
    /// The exit code: 0, [`exit::SANDBOX_UNAVAILABLE`] for a kernel that
    /// cannot give the sandbox, [`exit::USAGE`] for a broken policy, 1 for
    /// any other problem.
    pub fn code(&self) -> i32 {
        if !self.kernel.complete() {
            exit::SANDBOX_UNAVAILABLE
        } else if !self.policy.valid {
            exit::USAGE
        } else if !self.problems.is_empty() {
            1
        } else {
            0
        }
    }
}

/// Looks at everything; never stops at the first problem.
pub fn examine() -> Findings {
    let kernel = crate::sandbox::probe::probe();
    let env: Vec<(String, String)> = std::env::vars().collect();
    let (policy, managers) = read_policy(&env);
    let dir = shim::shims_dir();
    let path_var = std::env::var_os("PATH");
    let (path, shadowed) = match &dir {
        Some(d) => {
            let names = shim::wanted_names(&managers, path_var.as_deref(), d);
            let shadowed = shim::shadowed(&names, path_var.as_deref(), d);
            (names_on_path(&names, d, &shadowed), shadowed)
        }
        None => (Vec::new(), Vec::new()),
    };
    let mut f = Findings {
        kernel,
        shims_dir: dir,
        path,
        shadowed,
        shell_hook: std::env::var(HOOK_VAR).ok().filter(|v| !v.is_empty()),
        policy,
        dirs: own_dirs(),
        proxy: crate::monitor::proxy::Upstream::from_env(&env).map(|u| ProxyState {
            addr: u.addr,
            credentials: u.auth.is_some(),
            no_proxy: u.no_proxy,
        }),
        facts: read_facts(&managers),
        problems: Vec::new(),
    };
    f.problems = problems(&f);
    f
}

/// The policy's state, and the monitored names to go on with (the built-in
/// policy's when a layer is broken: doctor still looks at the rest).
fn read_policy(env: &[(String, String)]) -> (PolicyState, Vec<String>) {
    match policy::load(&policy::Locations::default(), env, &Overrides::default()) {
        Ok(eff) => (
            PolicyState {
                valid: true,
                sources: eff.layers.iter().map(|l| l.to_string()).collect(),
                error: None,
            },
            eff.policy.package_managers,
        ),
        Err(e) => {
            let builtin = policy::Locations {
                system: PathBuf::from("/nonexistent/pkgwarden/policy.toml"),
                user: None,
                cwd: None,
            };
            let fallback = policy::load(&builtin, &[], &Overrides::default())
                .map(|b| b.policy.package_managers)
                .unwrap_or_default();
            (
                PolicyState {
                    valid: false,
                    sources: Vec::new(),
                    error: Some(e.to_string()),
                },
                fallback,
            )
        }
    }
}

/// Per name on PATH: whether its first hit is the shim (it is not one of
/// `shadowed`, the same test `ci check` makes), and the real one behind it.
fn names_on_path(names: &[String], dir: &Path, shadowed: &[shim::Shadow]) -> Vec<NameOnPath> {
    let path_var = std::env::var_os("PATH");
    names
        .iter()
        .filter_map(|n| {
            let real = shim::find_real(n, path_var.as_deref(), Some(dir));
            let on_path = which::which_in(n, path_var.as_ref(), "/").is_ok();
            let shim_first = on_path && !shadowed.iter().any(|s| s.name == *n);
            (shim_first || real.is_some()).then(|| NameOnPath {
                name: n.clone(),
                shim_first,
                real,
            })
        })
        .collect()
}

/// Whether a file can be made in `dir` (made first when missing).
fn writable(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The reports, state and cache directories.
fn own_dirs() -> Vec<DirState> {
    let dirs = [
        ("reports", crate::report::store::reports_dir()),
        ("state", crate::paths::state_dir()),
        ("cache", crate::paths::own_cache_dir()),
    ];
    dirs.into_iter()
        .map(|(what, path)| DirState {
            what,
            error: match &path {
                Some(p) => writable(p).err(),
                None => Some("neither XDG_*_HOME nor HOME is an absolute path".into()),
            },
            path,
        })
        .collect()
}

/// Reads the facts of every monitored manager on PATH as an install of a
/// package would (the same plan, cached the same way), timing each. A name
/// whose `install` is not an install (an interpreter) is left out: its
/// installs read the facts of what they run.
fn read_facts(managers: &[String]) -> Vec<FactsState> {
    let path_var = std::env::var_os("PATH");
    let dir = shim::shims_dir();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let words = ["install".to_string(), "pkgwarden-doctor".to_string()];
    let mut out = Vec::new();
    for tool in Tool::ALL
        .into_iter()
        .filter(|t| managers.iter().any(|m| m == t.name()))
    {
        let Some(real) = shim::find_real(tool.name(), path_var.as_deref(), dir.as_deref()) else {
            continue;
        };
        let crate::managers::Classified::Install(req) = crate::managers::classify(tool, &words)
        else {
            continue;
        };
        let start = Instant::now();
        let got = crate::managers::facts::plan(&real, &req, &cwd);
        let ms = start.elapsed().as_millis() as u64;
        let (origin, skeleton, error) = match got {
            Ok(p) => (
                serde_json::to_value(p.facts_origin)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string)),
                // An adapter builds its facts on a skeleton and marks them
                // derived: only underived facts are a skeleton.
                (!p.facts.derived).then(|| {
                    p.facts
                        .not_derived
                        .unwrap_or_else(|| "its facts are not derived".into())
                }),
                None,
            ),
            Err(e) => (None, None, Some(e.to_string())),
        };
        out.push(FactsState {
            manager: tool.name().to_string(),
            real,
            ms,
            origin,
            skeleton,
            error,
        });
    }
    out
}

/// Every problem in `f`, one line each with its fix.
fn problems(f: &Findings) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut add = |what: String, fix: &str| {
        out.push(Problem {
            what,
            fix: fix.to_string(),
        })
    };
    if !f.kernel.complete() {
        add(
            format!("this kernel lacks {}", f.kernel.missing()),
            "run on a kernel with landlock, seccomp user notification and pidfd_getfd (5.13 or later, landlock enabled in the boot's lsm= list); block mode refuses to run installs until then",
        );
    }
    if let Some(e) = &f.policy.error {
        let first = e.lines().next().unwrap_or_default().to_string();
        add(
            format!("the policy is broken: {first}"),
            "correct that line (`pkgwarden policy check FILE` checks one file); until then every install stops with exit 92",
        );
    }
    if f.shims_dir.is_none() {
        add(
            "no shim directory: HOME is not set".into(),
            "set HOME, or PKGWARDEN_SHIMS_DIR to an absolute path",
        );
    }
    for s in &f.shadowed {
        add(
            format!(
                "{} resolves to {}, not to the shim: it runs unmonitored",
                s.name,
                s.resolves_to.display()
            ),
            &s.fix,
        );
    }
    for d in &f.dirs {
        if let Some(e) = &d.error {
            let at = d.path.as_ref().map(|p| p.display().to_string());
            add(
                format!(
                    "the {} directory {} is not writable: {e}",
                    d.what,
                    at.unwrap_or_default()
                ),
                "repair its owner and mode (`chown` it to you, `chmod 700`), or point XDG_STATE_HOME / XDG_CACHE_HOME elsewhere",
            );
        }
    }
    for m in &f.facts {
        if let Some(e) = &m.error {
            let first = e.lines().next().unwrap_or_default();
            add(
                format!(
                    "the facts of {} ({}) cannot be read: {first}",
                    m.manager,
                    m.real.display()
                ),
                "check that it runs on its own (`command -v` it and run it with --version); its installs run unmonitored, or not at all in block mode",
            );
        }
    }
    out
}

/// The human form: kernel, shims and PATH, hook, policy, directories,
/// proxy, facts, then one line per problem with its fix.
pub fn render(f: &Findings) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let yes = |b: bool| if b { "yes" } else { "NO" };
    let p = &f.kernel;
    let _ = writeln!(o, "landlock ABI          {}", p.landlock_abi);
    let _ = writeln!(o, "seccomp filter        {}", yes(p.seccomp_filter));
    let _ = writeln!(o, "user notification     {}", yes(p.user_notification));
    let _ = writeln!(o, "sync wake-up          {}", yes(p.sync_wakeup));
    let _ = writeln!(o, "pidfd_getfd           {}", yes(p.pidfd_getfd));
    let yama = p
        .yama_ptrace_scope
        .map_or("absent".to_string(), |v| v.to_string());
    let _ = writeln!(o, "yama ptrace scope     {yama}");
    match &f.shims_dir {
        Some(d) => _ = writeln!(o, "shims                 {}", d.display()),
        None => _ = writeln!(o, "shims                 no shim directory (HOME unset)"),
    }
    render_path(f, &mut o);
    let hook = match &f.shell_hook {
        Some(s) => format!("loaded ({s})"),
        None => "not loaded in this shell".into(),
    };
    let _ = writeln!(o, "shell hook            {hook}");
    if f.policy.valid {
        let _ = writeln!(
            o,
            "policy                valid: {}",
            f.policy.sources.join(" < ")
        );
    } else {
        let _ = writeln!(
            o,
            "policy                BROKEN (the built-in policy is used below)"
        );
    }
    for d in &f.dirs {
        let at = d.path.as_ref().map(|p| p.display().to_string());
        let state = if d.error.is_some() {
            "NOT writable"
        } else {
            "writable"
        };
        let _ = writeln!(o, "{:<21} {} {state}", d.what, at.unwrap_or_default());
    }
    match &f.proxy {
        Some(u) => {
            let creds = if u.credentials {
                ", with credentials"
            } else {
                ""
            };
            let np = if u.no_proxy.is_empty() {
                String::new()
            } else {
                format!("; direct: {}", u.no_proxy.join(", "))
            };
            _ = writeln!(o, "upstream proxy        {}{creds}{np}", u.addr)
        }
        None => _ = writeln!(o, "upstream proxy        none"),
    }
    for m in &f.facts {
        let how = match (&m.error, m.origin.as_deref()) {
            (Some(_), _) => "NOT read".to_string(),
            (None, _) if m.skeleton.is_some() => format!(
                "a skeleton in {} ms: {}",
                m.ms,
                m.skeleton.as_deref().unwrap_or_default()
            ),
            (None, Some("cache")) => format!("read from the cache in {} ms", m.ms),
            (None, _) => format!("read in {} ms", m.ms),
        };
        let _ = writeln!(o, "facts {:<15} {how} ({})", m.manager, m.real.display());
    }
    if f.problems.is_empty() {
        let _ = writeln!(o, "no problems found");
    }
    for pr in &f.problems {
        let _ = writeln!(o, "PROBLEM: {}; fix: {}", pr.what, pr.fix);
    }
    if let Some(e) = &f.policy.error {
        let _ = writeln!(o, "{e}");
    }
    o
}

/// The PATH part of [`render`]: each name, then the shadowed ones grouped
/// per directory with the fix and the hook lines.
fn render_path(f: &Findings, o: &mut String) {
    use std::fmt::Write as _;
    if f.shadowed.is_empty() {
        let _ = writeln!(
            o,
            "PATH                  every monitored name resolves to a shim"
        );
    }
    for n in &f.path {
        let first = if n.shim_first {
            "shim first"
        } else {
            "NOT the shim"
        };
        let real = n
            .real
            .as_ref()
            .map_or("no real one on PATH".to_string(), |r| {
                format!("real {}", r.display())
            });
        let _ = writeln!(o, "  {:<19} {first}; {real}", n.name);
    }
    let mut groups: Vec<(PathBuf, Vec<&shim::Shadow>)> = Vec::new();
    for s in &f.shadowed {
        let d = s
            .resolves_to
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        match groups.iter_mut().find(|(g, _)| *g == d) {
            Some((_, v)) => v.push(s),
            None => groups.push((d, vec![s])),
        }
    }
    for (d, group) in &groups {
        let names: Vec<&str> = group.iter().map(|s| s.name.as_str()).collect();
        let _ = writeln!(
            o,
            "NOT MONITORED         {} in {}",
            names.join(", "),
            d.display()
        );
        let _ = writeln!(o, "  fix: {}", group[0].fix);
    }
    if !f.shadowed.is_empty() {
        let _ = writeln!(
            o,
            "  the shell hook keeps the shims first at every prompt (PKGWARDEN_SHELL_HOOK=0 turns it off):"
        );
        let _ = writeln!(
            o,
            "    bash: eval \"$(pkgwarden shims env --shell bash)\"   in ~/.bashrc"
        );
        let _ = writeln!(
            o,
            "    zsh:  eval \"$(pkgwarden shims env --shell zsh)\"    in ~/.zshrc"
        );
        let _ = writeln!(
            o,
            "    fish: pkgwarden shims env --shell fish | source    in ~/.config/fish/config.fish"
        );
        let _ = writeln!(
            o,
            "  in CI: `pkgwarden ci env` after the step that changed PATH (README, \"CI\")"
        );
    }
}
