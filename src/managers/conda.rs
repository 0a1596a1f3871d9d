//! conda, mamba and micromamba: which command lines install.

use super::args::{self, Spec, Token};
use super::{Classified, PassReason, Tool, to_opts};
use super::{install, wants_help};

/// Options before the subcommand that take a value (micromamba's
/// `-r/--root-prefix`, `--rc-file`, `--log-level`). `-V/--version`, `-h`,
/// `-v`, `--no-plugins` are flags.
const CONDA_GLOBAL: Spec = Spec {
    value_long: &["root-prefix", "rc-file", "log-level"],
    value_short: &['r'],
};

/// Options after the subcommand that take a value.
const CONDA_COMMAND: Spec = Spec {
    value_long: &[
        "name",
        "prefix",
        "channel",
        "file",
        "repodata-fn",
        "platform",
        "subdir",
        "solver",
        "clone",
        "revision",
        "root-prefix",
        "rc-file",
        "log-level",
        "channel-priority",
        "console",
        "cacert-path",
        "ssl-verify",
        "relocate-prefix",
    ],
    value_short: &['n', 'p', 'c', 'f', 'r'],
};

/// Canonical names for the short options.
const CONDA_NAMES: &[(&str, &str)] = &[
    ("n", "name"),
    ("p", "prefix"),
    ("c", "channel"),
    ("f", "file"),
    ("d", "dry-run"),
    ("y", "yes"),
    ("q", "quiet"),
    ("v", "verbose"),
    ("r", "root-prefix"),
    ("V", "version"),
    ("h", "help"),
    ("C", "use-index-cache"),
    ("k", "insecure"),
    ("S", "satisfied-skip-solve"),
];

/// Subcommands that download packages (and run their link scripts).
/// `self-update` (mamba, micromamba) replaces the manager with a download;
/// conda-build's `build`, `mambabuild` and `debug` fill build environments
/// from channels and run the recipe's scripts. `remove`/`uninstall` run the
/// removed packages' `pre-unlink` scripts, and the solver may update others.
const CONDA_INSTALLS: &[&str] = &[
    "install",
    "remove",
    "uninstall",
    "create",
    "update",
    "env create",
    "env update",
    "self-update",
    "build",
    "mambabuild",
    "debug",
];

/// Subcommands whose `--dry-run`/`-d` only solves: it reads channel indexes
/// but neither downloads packages nor runs their scripts.
const CONDA_DRY_RUNS: &[&str] = &[
    "install",
    "create",
    "update",
    "remove",
    "uninstall",
    "env create",
    "env update",
];

/// Classifies a conda, mamba or micromamba command line (`args` without argv[0]).
pub fn classify(tool: Tool, args: &[String]) -> Classified {
    let (global, word, rest) = args::split_command(args, &CONDA_GLOBAL);
    if wants_help(&global) {
        return Classified::pass(PassReason::Help);
    }
    if args::has(&global, &["version"], &['V']) {
        return Classified::pass(PassReason::Version);
    }
    // Bare `conda` prints its usage.
    let Some(word) = word else {
        return Classified::pass(PassReason::Help);
    };
    let mut env_opts: Vec<Token<'_>> = Vec::new();
    let (command, rest) = match word {
        "env" => {
            let (opts, sub, sub_rest) = args::split_command(rest, &CONDA_COMMAND);
            if wants_help(&opts) {
                return Classified::pass(PassReason::Help);
            }
            env_opts = opts;
            match sub {
                Some("create") => ("env create", sub_rest),
                Some("update") => ("env update", sub_rest),
                Some(_) => ("env", sub_rest),
                None => return Classified::pass(PassReason::Help),
            }
        }
        // `upgrade` is an alias of `update`.
        "upgrade" => ("update", rest),
        "help" => return Classified::pass(PassReason::Help),
        w => (w, rest),
    };
    // `conda run -n env tool --help` is the tool's help: only options before
    // the program are conda's.
    let tokens = args::scan(rest, &CONDA_COMMAND, command == "run");
    if wants_help(&tokens) {
        return Classified::pass(PassReason::Help);
    }
    if !CONDA_INSTALLS.contains(&command) {
        return Classified::pass(PassReason::NotAnInstall);
    }
    if CONDA_DRY_RUNS.contains(&command) && args::has(&tokens, &["dry-run"], &['d']) {
        return Classified::pass(PassReason::DryRun);
    }
    let mut options = to_opts(&global, CONDA_NAMES);
    options.extend(to_opts(&env_opts, CONDA_NAMES));
    options.extend(to_opts(&tokens, CONDA_NAMES));
    let packages = args::positionals(&tokens)
        .into_iter()
        .map(str::to_string)
        .collect();
    install(tool, command, packages, options)
}

// -------------------------------------------------------------- facts ----

use super::Family;
use super::facts::{Dep, FactsError, InstallPlan, ManagerFacts, probe, writable};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `conda config --show --json` says, under conda's own key names.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct CondaConfig {
    channels: Vec<String>,
    channel_alias: Option<String>,
    default_channels: Vec<String>,
    custom_channels: BTreeMap<String, String>,
    custom_multichannels: BTreeMap<String, Vec<String>>,
    pkgs_dirs: Vec<String>,
    envs_dirs: Vec<String>,
    root_prefix: Option<String>,
    proxy_servers: BTreeMap<String, String>,
}

/// Channel settings kept in the facts, to resolve `-c NAME` the way conda does.
#[derive(serde::Serialize, serde::Deserialize, Default)]
#[serde(default)]
struct Channels {
    alias: String,
    defaults: Vec<String>,
    custom: BTreeMap<String, String>,
    multi: BTreeMap<String, Vec<String>>,
}

impl Channels {
    /// conda's resolution of a channel name to base URLs: a URL as is,
    /// `defaults` to default_channels, custom (multi)channels, else
    /// channel_alias/NAME.
    fn urls(&self, name: &str, depth: usize) -> Vec<String> {
        let name = name.trim_end_matches('/');
        if name.contains("://") {
            return vec![name.to_string()];
        }
        if name == "defaults" {
            return self
                .defaults
                .iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect();
        }
        if let Some(members) = self.multi.get(name).filter(|_| depth < 4) {
            return members
                .iter()
                .flat_map(|m| self.urls(m, depth + 1))
                .collect();
        }
        if let Some(base) = self.custom.get(name) {
            return vec![format!("{}/{name}", base.trim_end_matches('/'))];
        }
        if self.alias.is_empty() {
            return Vec::new();
        }
        vec![format!("{}/{name}", self.alias.trim_end_matches('/'))]
    }
}

/// The files conda reads its configuration from, in its search order.
fn condarc_files(root_prefix: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = vec![
        PathBuf::from("/etc/conda/.condarc"),
        PathBuf::from("/etc/conda/condarc"),
        root_prefix.join(".condarc"),
    ];
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME") {
        v.push(PathBuf::from(x).join("conda/.condarc"));
    }
    if let Some(h) = crate::paths::home() {
        v.push(h.join(".config/conda/.condarc"));
        v.push(h.join(".conda/.condarc"));
        v.push(h.join(".condarc"));
    }
    if let Some(c) = std::env::var_os("CONDARC") {
        v.push(PathBuf::from(c));
    }
    v.dedup();
    v
}

/// conda's facts, from `conda config --show --json` (and `conda --version`).
pub fn facts(real: &Path) -> Result<ManagerFacts, FactsError> {
    let out = probe(
        Command::new(real).args(["config", "--show", "--json"]),
        real,
    )?;
    let c: CondaConfig = serde_json::from_slice(&out).map_err(|e| FactsError::Probe {
        exe: real.display().to_string(),
        why: format!("unexpected `conda config --show --json` output: {e}"),
    })?;
    let version = probe(Command::new(real).arg("--version"), real)
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o)
                .split_whitespace()
                .nth(1)
                .map(str::to_string)
        });
    let channels = Channels {
        alias: c.channel_alias.unwrap_or_default(),
        defaults: c.default_channels,
        custom: c.custom_channels,
        multi: c.custom_multichannels,
    };
    let mut registries: Vec<String> = Vec::new();
    for name in &c.channels {
        for u in channels.urls(name, 0) {
            if !registries.contains(&u) {
                registries.push(u);
            }
        }
    }
    let root = c.root_prefix.map(PathBuf::from).unwrap_or_default();
    let mut f = ManagerFacts::skeleton(Family::Conda, real);
    f.version = version;
    f.registries = registries;
    f.cache_dirs = c.pkgs_dirs.iter().map(PathBuf::from).collect();
    // conda keeps environments.txt and its tokens in ~/.conda, and its
    // notices in the user cache.
    if let Some(h) = crate::paths::home() {
        f.cache_dirs.push(h.join(".conda"));
    }
    if let Some(cache) = crate::paths::cache_dir().and_then(|d| d.parent().map(Path::to_path_buf)) {
        f.cache_dirs.push(cache.join("conda"));
    }
    f.config_files = condarc_files(&root);
    f.proxy = c
        .proxy_servers
        .get("https")
        .or_else(|| c.proxy_servers.get("http"))
        .cloned();
    f.values
        .insert("root_prefix".into(), root.display().to_string());
    f.values.insert(
        "envs_dirs".into(),
        serde_json::to_string(&c.envs_dirs).unwrap_or_default(),
    );
    f.values.insert(
        "channels".into(),
        serde_json::to_string(&channels).unwrap_or_default(),
    );
    f.derived = true;
    f.deps.extend(f.config_files.iter().map(|p| Dep::of(p)));
    Ok(f)
}

/// The prefix an install targets: `-p`, `-n` (in the first writable
/// envs_dirs entry; `base` is the root prefix), else the active environment,
/// else the root prefix.
fn target_prefix(p: &InstallPlan, cwd: &Path) -> PathBuf {
    let req = &p.request;
    let root = PathBuf::from(
        p.facts
            .values
            .get("root_prefix")
            .cloned()
            .unwrap_or_default(),
    );
    if let Some(pre) = req.option("prefix") {
        return cwd.join(crate::paths::expand_tilde(pre));
    }
    if let Some(name) = req.option("name") {
        if matches!(name, "base" | "root") {
            return root;
        }
        let envs: Vec<PathBuf> = p
            .facts
            .values
            .get("envs_dirs")
            .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
            .unwrap_or_default()
            .into_iter()
            .map(PathBuf::from)
            .collect();
        // conda creates the first envs dir it can write to.
        let usable = |d: &Path| d.ancestors().find(|a| a.exists()).is_some_and(writable);
        if let Some(d) = envs.iter().find(|d| usable(d)).or(envs.first()) {
            return d.join(name);
        }
    }
    std::env::var_os("CONDA_PREFIX")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or(root)
}

/// conda's command line on top of the facts: the target prefix, `-c`
/// channels and `--override-channels`.
pub fn apply(p: &mut InstallPlan, cwd: &Path) {
    if !p.facts.derived {
        return;
    }
    let channels: Channels = p
        .facts
        .values
        .get("channels")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let mut registries: Vec<String> = Vec::new();
    for name in p.request.option_values("channel") {
        // A local directory channel needs no network.
        if name.starts_with('/') || name.starts_with('.') {
            continue;
        }
        registries.extend(channels.urls(name, 0));
    }
    if !p.request.flag("override-channels") {
        registries.extend(p.registries.iter().cloned());
    }
    registries.dedup();
    p.registries = registries;
    p.write_roots = vec![target_prefix(p, cwd)];
}

/// Snapshot patterns for a conda install: the activation directories of
/// the target prefixes (conda sources their scripts on every activate).
pub fn watched(p: &InstallPlan) -> Vec<String> {
    if !p.facts.derived {
        return Vec::new();
    }
    let dirs = &crate::detect::conda::data().activation_dirs;
    p.write_roots
        .iter()
        .filter_map(|r| r.to_str())
        // A pattern string would read `*` or `?` in the path as wildcards.
        .filter(|r| r.starts_with('/') && !r.contains(['*', '?']))
        .flat_map(|r| {
            dirs.iter()
                .map(move |d| format!("{}/{d}", r.trim_end_matches('/')))
        })
        .collect()
}

// ------------------------------------------------------------ adapter ----

/// The adapter of conda, mamba and micromamba. Only `conda`'s facts are
/// derived; a `conda` whose configuration cannot be read (a wrapper, a
/// stub) keeps the skeleton, as gem does.
pub struct CondaAdapter;

impl super::Adapter for CondaAdapter {
    fn family(&self) -> Family {
        Family::Conda
    }
    fn tools(&self) -> &'static [Tool] {
        &[Tool::Conda, Tool::Mamba, Tool::Micromamba]
    }
    fn classify(&self, tool: Tool, args: &[String]) -> Classified {
        classify(tool, args)
    }
    fn relevant_env(&self, k: &str) -> bool {
        k.starts_with("CONDA")
    }
    fn facts(
        &self,
        real: &Path,
        tool: Tool,
        _interpreter: Option<&Path>,
        _cwd: &Path,
    ) -> Result<ManagerFacts, FactsError> {
        if tool != Tool::Conda {
            return Ok(ManagerFacts::skeleton(Family::Conda, real));
        }
        facts(real).or_else(|e| e.or_skeleton(Family::Conda, real))
    }
    fn plan(&self, p: &mut InstallPlan, cwd: &Path) {
        if p.tool == Tool::Conda {
            apply(p, cwd);
        }
    }
    fn watch_patterns(&self, p: &InstallPlan) -> Vec<String> {
        watched(p)
    }
    fn attribution(&self) -> Vec<super::Attribution> {
        // conda runs link scripts as `bash -x $PREFIX/bin/.NAME-post-link.sh`
        // with PKG_NAME and PKG_VERSION set; the two names must agree.
        let owned = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        vec![super::Attribution::Script {
            trigger: owned(&["-link.sh", "-unlink.sh"]),
            dir: "bin".into(),
            prefix: ".".into(),
            suffix: ".sh".into(),
            hooks: owned(&["post-link", "pre-unlink", "pre-link"]),
            name_var: "PKG_NAME".into(),
            version_var: "PKG_VERSION".into(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managers::testkit::{request, v, verb};

    const TOOLS: [Tool; 3] = [Tool::Conda, Tool::Mamba, Tool::Micromamba];

    #[test]
    fn verbs_for_every_conda_flavour() {
        let table: &[(&[&str], Option<&str>)] = &[
            (&["install", "numpy"], Some("install")),
            (&["install", "-n", "install", "numpy"], Some("install")),
            (&["create", "-n", "work", "python=3.12"], Some("create")),
            (&["update", "--all"], Some("update")),
            (&["upgrade", "numpy"], Some("update")),
            (
                &["env", "create", "-f", "environment.yml"],
                Some("env create"),
            ),
            (
                &["env", "update", "-n", "work", "--prune"],
                Some("env update"),
            ),
            (&["self-update"], Some("self-update")),
            (&["build", "recipe/"], Some("build")),
            (&["-v", "install", "numpy"], Some("install")),
            (
                &["-vv", "--no-plugins", "create", "-n", "x"],
                Some("create"),
            ),
            (&["install", "--download-only", "numpy"], Some("install")),
            (&["install", "numpy", "--", "--help"], Some("install")),
            (&["run", "-n", "work", "python"], None),
            (&["run", "pip", "install", "x"], None),
            (&["init"], None),
            (&["activate", "work"], None),
            (&["list"], None),
            (&["info"], None),
            (
                &["config", "--add", "channels", "http://127.0.0.1:8000/ch"],
                None,
            ),
            (&["env", "list"], None),
            (&["env", "list"], None),
            (&["env", "export", "-n", "create"], None),
            (&["search", "numpy"], None),
            (&["clean", "--all"], None),
            (&["nonsense"], None),
            (&["-"], None),
            (&["--"], None),
            (&["--", "install", "numpy"], None),
            (&[], None),
        ];
        for tool in TOOLS {
            for (words, want) in table {
                assert_eq!(verb(tool, words).as_deref(), *want, "{tool} {words:?}");
            }
        }
    }

    #[test]
    fn micromamba_global_value_options() {
        let table: &[(&[&str], Option<&str>)] = &[
            (
                &["-r", "/tmp/mm", "install", "-n", "x", "numpy"],
                Some("install"),
            ),
            (
                &["--root-prefix", "/tmp/mm", "create", "-n", "x"],
                Some("create"),
            ),
            (
                &["--rc-file", "/tmp/rc", "self-update"],
                Some("self-update"),
            ),
            (&["-r", "install", "list"], None),
            (&["--root-prefix=/tmp/mm", "list"], None),
        ];
        for (words, want) in table {
            assert_eq!(verb(Tool::Micromamba, words).as_deref(), *want, "{words:?}");
        }
    }

    #[test]
    fn pass_reasons() {
        let table: &[(&[&str], PassReason)] = &[
            (&[], PassReason::Help),
            (&["--help"], PassReason::Help),
            (&["-h"], PassReason::Help),
            (&["help"], PassReason::Help),
            (&["install", "--help"], PassReason::Help),
            (&["install", "numpy", "-h"], PassReason::Help),
            (&["env", "--help"], PassReason::Help),
            (&["env", "create", "--help"], PassReason::Help),
            (&["env"], PassReason::Help),
            (&["run", "--help"], PassReason::Help),
            (
                &["run", "-n", "x", "python", "--help"],
                PassReason::NotAnInstall,
            ),
            (&["list", "--help"], PassReason::Help),
            (&["--version"], PassReason::Version),
            (&["-V"], PassReason::Version),
            (&["install", "--dry-run", "numpy"], PassReason::DryRun),
            (&["install", "-d", "numpy"], PassReason::DryRun),
            (&["create", "-n", "x", "-yd", "python"], PassReason::DryRun),
            (&["update", "--all", "--dry-run"], PassReason::DryRun),
            (
                &["env", "create", "-f", "e.yml", "--dry-run"],
                PassReason::DryRun,
            ),
            (&["-v", "list"], PassReason::NotAnInstall),
        ];
        for tool in TOOLS {
            for (words, want) in table {
                assert_eq!(
                    classify(tool, &v(words)),
                    Classified::pass(*want),
                    "{tool} {words:?}"
                );
            }
        }
    }

    #[test]
    fn canonical_option_names() {
        let req = request(
            Tool::Conda,
            &[
                "install",
                "-n",
                "work",
                "-c",
                "http://127.0.0.1:8000/ch",
                "--override-channels",
                "-p",
                "/tmp/env",
                "--file",
                "/tmp/req.txt",
                "numpy",
                "scipy>=1",
            ],
        );
        assert_eq!(req.tool, Tool::Conda);
        assert_eq!(req.command, "install");
        assert_eq!(req.packages, v(&["numpy", "scipy>=1"]));
        assert_eq!(req.option("name"), Some("work"));
        assert_eq!(req.option("channel"), Some("http://127.0.0.1:8000/ch"));
        assert_eq!(req.option("prefix"), Some("/tmp/env"));
        assert_eq!(req.option("file"), Some("/tmp/req.txt"));
        assert!(req.flag("override-channels"));

        let req = request(
            Tool::Micromamba,
            &[
                "-r", "/tmp/mm", "create", "-pfoo", "-c", "a", "-c", "b", "x",
            ],
        );
        assert_eq!(req.option("root-prefix"), Some("/tmp/mm"));
        assert_eq!(req.option("prefix"), Some("foo"));
        assert_eq!(req.option_values("channel"), vec!["a", "b"]);
        assert_eq!(req.packages, v(&["x"]));

        let req = request(
            Tool::Mamba,
            &["env", "create", "--name=x", "-f", "/tmp/e.yml"],
        );
        assert_eq!(req.command, "env create");
        assert_eq!(req.option("name"), Some("x"));
        assert_eq!(req.option("file"), Some("/tmp/e.yml"));
        assert!(req.packages.is_empty());
    }

    #[test]
    fn odd_input_never_panics() {
        let vocab = [
            "",
            "-",
            "--",
            "-h",
            "-V",
            "-n",
            "-r",
            "--name",
            "--prefix=",
            "install",
            "env",
            "create",
            "é",
            "-é",
            "--é=ü",
        ];
        for a in vocab {
            for b in vocab {
                for c in vocab {
                    for tool in TOOLS {
                        let _ = classify(tool, &v(&[a, b, c]));
                        let _ = classify(tool, &v(&[a, b]));
                        let _ = classify(tool, &v(&[a]));
                    }
                }
            }
        }
    }

    #[test]
    fn remove_runs_unlink_scripts_so_it_is_an_install() {
        let words: Vec<String> = ["remove", "-n", "work", "numpy"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        match classify(Tool::Conda, &words) {
            Classified::Install(r) => assert_eq!(r.command, "remove"),
            other => panic!("{other:?}"),
        }
        let dry: Vec<String> = ["remove", "--dry-run", "numpy"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            classify(Tool::Mamba, &dry),
            Classified::pass(PassReason::DryRun)
        );
    }

    #[test]
    fn channel_names_resolve_like_conda() {
        let c = Channels {
            alias: "http://127.0.0.1:9/".into(),
            defaults: vec![
                "http://127.0.0.1:8/main/".into(),
                "http://127.0.0.1:8/r".into(),
            ],
            custom: [("corp".to_string(), "http://127.0.0.1:7".to_string())].into(),
            multi: [(
                "both".to_string(),
                vec!["corp".to_string(), "x".to_string()],
            )]
            .into(),
        };
        assert_eq!(c.urls("pw", 0), vec!["http://127.0.0.1:9/pw"]);
        assert_eq!(
            c.urls("defaults", 0),
            vec!["http://127.0.0.1:8/main", "http://127.0.0.1:8/r"]
        );
        assert_eq!(c.urls("corp", 0), vec!["http://127.0.0.1:7/corp"]);
        assert_eq!(
            c.urls("both", 0),
            vec!["http://127.0.0.1:7/corp", "http://127.0.0.1:9/x"]
        );
        assert_eq!(
            c.urls("http://127.0.0.1:6/ch/", 0),
            vec!["http://127.0.0.1:6/ch"]
        );
        assert!(Channels::default().urls("pw", 0).is_empty());
    }

    #[test]
    fn link_scripts_are_attributed_by_name_and_version() {
        // conda's shapes alone, with this environment.
        fn attribute(argv: &[String], env: &[Option<String>]) -> Option<(String, String)> {
            use crate::managers::Adapter;
            let rules = CondaAdapter.attribution();
            let read = |_: &[&str]| env.to_vec();
            crate::monitor::attribution::attribute(&rules, None, Some(argv), Some(&read))
        }
        let argv = v(&["/usr/bin/bash", "-x", "/e/env/bin/.pw-evil-post-link.sh"]);
        assert_eq!(
            attribute(&argv, &[Some("pw-evil".into()), Some("1.0".into())]),
            Some(("pw-evil@1.0".into(), "post-link".into()))
        );
        let argv = v(&["bash", "-x", "/e/env/bin/.pw-evil-pre-unlink.sh"]);
        assert_eq!(
            attribute(&argv, &[Some("pw-evil".into()), None]),
            Some(("pw-evil".into(), "pre-unlink".into()))
        );
        // A PKG_NAME that disagrees with the script, or no PKG_NAME: no claim.
        assert_eq!(attribute(&argv, &[Some("other".into()), None]), None);
        assert_eq!(attribute(&argv, &[None, None]), None);
        let argv = v(&["bash", "/e/env/share/.pw-evil-post-link.sh"]);
        assert_eq!(attribute(&argv, &[Some("pw-evil".into()), None]), None);
    }
}
