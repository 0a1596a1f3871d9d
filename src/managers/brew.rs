//! Homebrew (`brew`): which command lines install, and where Homebrew
//! installs, caches and downloads from, as `brew` itself says.

use super::args::{self, Spec, Token};
use super::facts::{Dep, FactsError, InstallPlan, ManagerFacts, probe};
use super::{Classified, PassReason, Tool, to_opts};
use super::{Family, install, owned};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Options of brew commands that take a value (Homebrew declares them as
/// `--name=`, and its parser also reads `--name VALUE`).
const BREW_COMMAND: Spec = Spec {
    value_long: &[
        "cc",
        "appdir",
        "keyboard-layoutdir",
        "colorpickerdir",
        "prefpanedir",
        "qlplugindir",
        "mdimporterdir",
        "dictionarydir",
        "fontdir",
        "servicedir",
        "input-methoddir",
        "internet-plugindir",
        "audio-unit-plugindir",
        "vst-plugindir",
        "vst3-plugindir",
        "screen-saverdir",
        "language",
        "file",
        "os",
        "arch",
        "bottle-tag",
    ],
    value_short: &[],
};

/// Canonical names for brew's short options.
const BREW_NAMES: &[(&str, &str)] = &[
    ("n", "dry-run"),
    ("v", "verbose"),
    ("d", "debug"),
    ("f", "force"),
    ("s", "build-from-source"),
    ("i", "interactive"),
    ("g", "git"),
    ("q", "quiet"),
    ("h", "help"),
];

/// Commands that brew spells as options (`brew --cache wget` prints a path).
const DASH_COMMANDS: &[&str] = &[
    "--prefix",
    "--cache",
    "--cellar",
    "--caskroom",
    "--env",
    "--repo",
    "--repository",
    "--config",
    "--taps",
    "-S",
];

/// Commands that download bottles, casks or taps, or run formula code.
/// `vendor-install` and `install-bundler-gems` are developer commands that
/// download a Ruby or gems.
const BREW_INSTALLS: &[&str] = &[
    "install",
    "reinstall",
    "upgrade",
    "tap",
    "fetch",
    "postinstall",
    "vendor-install",
    "install-bundler-gems",
];

/// `brew bundle` subcommands that neither install nor upgrade anything.
const BUNDLE_PASS: &[&str] = &[
    "dump", "check", "list", "cleanup", "exec", "env", "sh", "edit", "add", "remove",
];

/// Classifies a `brew` command line (`args` without argv[0]).
pub fn classify(tool: Tool, args: &[String]) -> Classified {
    // brew.sh moves a leading `-v` to the end when more words follow:
    // `brew -v install wget` is a verbose install, `brew -v` the version.
    let moved: Vec<String>;
    let args = if args.len() > 1 && args[0] == "-v" {
        moved = [&args[1..], &args[..1]].concat();
        &moved[..]
    } else {
        args
    };
    // brew.sh looks for a help flag anywhere before `--`.
    let all = args::scan(args, &BREW_COMMAND, false);
    if args::has(&all, &["help", "usage"], &['h', '?']) {
        return Classified::pass(PassReason::Help);
    }
    let Some(first) = args.first() else {
        return Classified::pass(PassReason::Help);
    };
    if first == "--version" || first == "-v" {
        return Classified::pass(PassReason::Version);
    }
    if DASH_COMMANDS.contains(&first.as_str()) {
        return Classified::pass(PassReason::NotAnInstall);
    }
    // brew has no global options; any other leading option would make brew
    // fail, but skipping it errs towards treating the line as an install.
    let (before, word, rest) = args::split_command(args, &BREW_COMMAND);
    let Some(word) = word else {
        return Classified::pass(PassReason::NotAnInstall);
    };
    let command = match word {
        "instal" => "install",
        "post_install" => "postinstall",
        w => w,
    };
    if command == "help" {
        return Classified::pass(PassReason::Help);
    }
    if command == "bundle" {
        return classify_bundle(tool, &before, rest);
    }
    if !BREW_INSTALLS.contains(&command) {
        return Classified::pass(PassReason::NotAnInstall);
    }
    let tokens = args::scan(rest, &BREW_COMMAND, false);
    let packages = owned(args::positionals(&tokens));
    // Homebrew's dry run only resolves and prints what it would do.
    if matches!(command, "install" | "upgrade") && args::has(&tokens, &["dry-run"], &['n']) {
        return Classified::pass(PassReason::DryRun);
    }
    // Bare `brew tap` (or `--repair`) lists or fixes the taps already there.
    if command == "tap" && packages.is_empty() {
        return Classified::pass(PassReason::NotAnInstall);
    }
    let mut options = to_opts(&before, BREW_NAMES);
    options.extend(to_opts(&tokens, BREW_NAMES));
    install(tool, command, packages, options)
}

/// `brew bundle [subcommand]`: bare, `install` and `upgrade` install the
/// Brewfile. A subcommand brew does not know is kept as an install, since
/// brew rejects it anyway.
fn classify_bundle(tool: Tool, before: &[Token<'_>], rest: &[String]) -> Classified {
    let (bundle_opts, sub, sub_rest) = args::split_command(rest, &BREW_COMMAND);
    if sub.is_some_and(|s| BUNDLE_PASS.contains(&s)) {
        return Classified::pass(PassReason::NotAnInstall);
    }
    let command = match sub {
        None | Some("install") => "bundle install".to_string(),
        Some(s) => format!("bundle {s}"),
    };
    let tokens = args::scan(sub_rest, &BREW_COMMAND, false);
    let mut options = to_opts(before, BREW_NAMES);
    options.extend(to_opts(&bundle_opts, BREW_NAMES));
    options.extend(to_opts(&tokens, BREW_NAMES));
    install(tool, &command, owned(args::positionals(&tokens)), options)
}

// -------------------------------------------------------------- facts ----

/// Homebrew's answer to one path question (`brew --prefix` …), which
/// brew.sh answers without starting Ruby.
fn ask(real: &Path, arg: &str) -> Result<PathBuf, FactsError> {
    let out = probe(brew(real).arg(arg), real)?;
    let text = String::from_utf8_lossy(&out);
    let line = text.lines().next().map(str::trim).unwrap_or_default();
    if !line.starts_with('/') {
        return Err(FactsError::Probe {
            exe: real.display().to_string(),
            why: format!("`brew {arg}` did not print an absolute path"),
        });
    }
    Ok(PathBuf::from(line))
}

/// `brew` with no auto-update, no analytics and no hints: a probe changes
/// nothing and prints only the answer.
fn brew(real: &Path) -> Command {
    let mut cmd = Command::new(real);
    cmd.env("HOMEBREW_NO_AUTO_UPDATE", "1")
        .env("HOMEBREW_NO_ANALYTICS", "1")
        .env("HOMEBREW_NO_ENV_HINTS", "1");
    cmd
}

/// `KEY: value` lines of `brew config`.
fn parse_config(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Homebrew's own default domains (`HOMEBREW_BOTTLE_DEFAULT_DOMAIN` …), as
/// brew.sh in its repository assigns them; every assignment counts (older
/// versions pick one per platform).
fn default_domains(brew_sh: &str, key: &str) -> Vec<String> {
    brew_sh
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).strip_prefix(key))
        .filter_map(|rest| rest.strip_prefix('='))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| v.starts_with("http"))
        .collect()
}

/// Where Homebrew installs, caches and downloads from, asked of `brew`
/// itself: `--prefix`, `--cellar`, `--cache`, `--repository`, and `brew
/// config` for the configured domains and logs; the default domains come
/// from brew.sh in its repository.
pub fn facts(real: &Path) -> Result<ManagerFacts, FactsError> {
    let prefix = ask(real, "--prefix")?;
    let cellar = ask(real, "--cellar")?;
    let cache = ask(real, "--cache")?;
    let repository = ask(real, "--repository")?;
    let config = parse_config(&String::from_utf8_lossy(&probe(
        brew(real).arg("config"),
        real,
    )?));
    if !config.contains_key("HOMEBREW_PREFIX") {
        return Err(FactsError::Probe {
            exe: real.display().to_string(),
            why: "`brew config` did not print HOMEBREW_PREFIX".into(),
        });
    }
    let cache_home = crate::paths::cache_dir().and_then(|c| c.parent().map(Path::to_path_buf));
    let logs = config
        .get("HOMEBREW_LOGS")
        .map(PathBuf::from)
        .or_else(|| cache_home.map(|c| c.join("Homebrew/Logs")));
    let brew_sh = repository.join("Library/Homebrew/brew.sh");
    let sh = std::fs::read_to_string(&brew_sh).unwrap_or_default();
    let mut registries = Vec::new();
    for (set, default) in [
        ("HOMEBREW_BOTTLE_DOMAIN", "HOMEBREW_BOTTLE_DEFAULT_DOMAIN"),
        ("HOMEBREW_API_DOMAIN", "HOMEBREW_API_DEFAULT_DOMAIN"),
    ] {
        match config.get(set) {
            Some(v) => registries.push(v.clone()),
            None => registries.extend(default_domains(&sh, default)),
        }
    }
    registries.extend(config.get("HOMEBREW_ARTIFACT_DOMAIN").cloned());
    let mut f = ManagerFacts::skeleton(Family::Brew, real);
    f.version = config.get("HOMEBREW_VERSION").cloned();
    f.write_roots = vec![prefix.clone()];
    if !cellar.starts_with(&prefix) {
        f.write_roots.push(cellar.clone());
    }
    f.cache_dirs = vec![cache];
    f.log_dirs = logs.into_iter().collect();
    // Homebrew reads HOMEBREW_* settings from these files.
    let home = crate::paths::home();
    f.config_files = [
        Some(PathBuf::from("/etc/homebrew/brew.env")),
        Some(prefix.join("etc/homebrew/brew.env")),
        crate::paths::config_dir().and_then(|c| c.parent().map(|x| x.join("homebrew/brew.env"))),
        home.map(|h| h.join(".homebrew/brew.env")),
    ]
    .into_iter()
    .flatten()
    .collect();
    f.registries = registries;
    f.values
        .insert("prefix".into(), prefix.display().to_string());
    f.values
        .insert("cellar".into(), cellar.display().to_string());
    f.values
        .insert("repository".into(), repository.display().to_string());
    f.derived = true;
    f.deps.push(Dep::of(&brew_sh));
    f.deps.extend(f.config_files.iter().map(|c| Dep::of(c)));
    Ok(f)
}

/// The command line on top of the facts: installing a formula named
/// `user/repo/name` taps it first, into the repository's `Library/Taps`.
pub fn apply(p: &mut InstallPlan) {
    if !p.facts.derived {
        return;
    }
    if let Some(repo) = p.facts.values.get("repository") {
        let taps = Path::new(repo).join("Library/Taps");
        if !p.write_roots.iter().any(|r| taps.starts_with(r)) {
            p.write_roots.push(taps);
        }
    }
}

// ------------------------------------------------------------ adapter ----

/// The adapter of brew. A `brew` that does not answer like Homebrew keeps
/// the skeleton.
pub struct BrewAdapter;

impl super::Adapter for BrewAdapter {
    fn family(&self) -> Family {
        Family::Brew
    }
    fn tools(&self) -> &'static [Tool] {
        &[Tool::Brew]
    }
    fn classify(&self, tool: Tool, args: &[String]) -> Classified {
        classify(tool, args)
    }
    fn relevant_env(&self, k: &str) -> bool {
        k.starts_with("HOMEBREW_")
    }
    fn facts(
        &self,
        real: &Path,
        _tool: Tool,
        _interpreter: Option<&Path>,
        _cwd: &Path,
    ) -> Result<ManagerFacts, FactsError> {
        facts(real).or_else(|e| e.or_skeleton(Family::Brew, real))
    }
    fn plan(&self, p: &mut InstallPlan, _cwd: &Path) {
        apply(p);
    }
    fn attribution(&self) -> Vec<super::Attribution> {
        // Homebrew runs a formula's `post_install` as `ruby …
        // Library/Homebrew/postinstall.rb <formula file>`; the formula's
        // `version "…"` line names the version.
        vec![super::Attribution::RunnerFile {
            runner: "/Library/Homebrew/postinstall.rb".into(),
            suffix: ".rb".into(),
            version_key: "version ".into(),
            hook: "post_install".into(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managers::testkit::v;

    fn run(words: &[&str]) -> Classified {
        classify(Tool::Brew, &v(words))
    }

    /// The install verb, or None for a passthrough.
    fn verb(words: &[&str]) -> Option<String> {
        match run(words) {
            Classified::Install(req) => Some(req.command),
            Classified::Passthrough { .. } => None,
        }
    }

    #[test]
    fn brew_verbs() {
        let table: &[(&[&str], Option<&str>)] = &[
            (&["install", "wget"], Some("install")),
            (&["instal", "wget"], Some("install")),
            (&["install", "--cask", "firefox"], Some("install")),
            (&["-v", "install", "wget"], Some("install")),
            (&["reinstall", "wget"], Some("reinstall")),
            (&["reinstall", "-n", "wget"], Some("reinstall")),
            (&["upgrade"], Some("upgrade")),
            (&["upgrade", "wget"], Some("upgrade")),
            (&["tap", "someone/tools"], Some("tap")),
            (
                &["tap", "someone/tools", "http://127.0.0.1/tools.git"],
                Some("tap"),
            ),
            (&["fetch", "wget"], Some("fetch")),
            (&["postinstall", "wget"], Some("postinstall")),
            (&["post_install", "wget"], Some("postinstall")),
            (&["bundle"], Some("bundle install")),
            (
                &["bundle", "--file", "/tmp/p/Brewfile"],
                Some("bundle install"),
            ),
            (&["bundle", "install"], Some("bundle install")),
            (&["bundle", "upgrade"], Some("bundle upgrade")),
            (&["vendor-install", "ruby"], Some("vendor-install")),
            (&["install-bundler-gems"], Some("install-bundler-gems")),
            (&["--debug", "install", "wget"], Some("install")),
            (&["install", "wget", "--", "--help"], Some("install")),
            (&["bundle", "dump"], None),
            (&["bundle", "check"], None),
            (&["bundle", "list"], None),
            (&["bundle", "cleanup", "--force"], None),
            (&["bundle", "exec", "make"], None),
            (&["bundle", "env"], None),
            (&["bundle", "sh"], None),
            (&["bundle", "edit"], None),
            (&["tap"], None),
            (&["tap", "--repair"], None),
            (&["list"], None),
            (&["ls"], None),
            (&["info", "wget"], None),
            (&["search", "wget"], None),
            (&["-S", "install"], None),
            (&["update"], None),
            (&["up"], None),
            (&["doctor"], None),
            (&["uninstall", "wget"], None),
            (&["uninstal", "wget"], None),
            (&["cleanup"], None),
            (&["config"], None),
            (&["--prefix"], None),
            (&["--prefix", "install"], None),
            (&["--cache", "install"], None),
            (&["--env"], None),
            (&["shellenv"], None),
            (&["nonsense"], None),
            (&["-"], None),
            (&["--"], None),
            (&["--", "install", "wget"], None),
            (&[], None),
        ];
        for (words, want) in table {
            assert_eq!(verb(words).as_deref(), *want, "brew {words:?}");
        }
    }

    #[test]
    fn brew_pass_reasons() {
        let table: &[(&[&str], PassReason)] = &[
            (&[], PassReason::Help),
            (&["--help"], PassReason::Help),
            (&["-h"], PassReason::Help),
            (&["help"], PassReason::Help),
            (&["help", "install"], PassReason::Help),
            (&["install", "--help"], PassReason::Help),
            (&["install", "wget", "-h"], PassReason::Help),
            (&["bundle", "--help"], PassReason::Help),
            (&["--version"], PassReason::Version),
            (&["-v"], PassReason::Version),
            (&["install", "-n", "wget"], PassReason::DryRun),
            (&["install", "--dry-run", "wget"], PassReason::DryRun),
            (&["upgrade", "--dry-run"], PassReason::DryRun),
            (&["install", "-vn", "wget"], PassReason::DryRun),
            (&["list"], PassReason::NotAnInstall),
        ];
        for (words, want) in table {
            assert_eq!(run(words), Classified::pass(*want), "brew {words:?}");
        }
    }

    #[test]
    fn brew_options_and_packages() {
        let Classified::Install(req) = run(&[
            "install",
            "--cask",
            "--appdir",
            "/tmp/apps",
            "firefox",
            "-v",
        ]) else {
            panic!("install expected");
        };
        assert_eq!(req.tool, Tool::Brew);
        assert_eq!(req.packages, v(&["firefox"]));
        assert!(req.flag("cask"));
        assert!(req.flag("verbose"));
        assert_eq!(req.option("appdir"), Some("/tmp/apps"));

        let Classified::Install(req) = run(&["-v", "install", "-s", "wget", "curl"]) else {
            panic!("install expected");
        };
        assert_eq!(req.packages, v(&["wget", "curl"]));
        assert!(req.flag("build-from-source"));
        assert!(req.flag("verbose"));

        let Classified::Install(req) = run(&["bundle", "install", "--file=/tmp/p/Brewfile"]) else {
            panic!("install expected");
        };
        assert_eq!(req.option("file"), Some("/tmp/p/Brewfile"));
    }

    #[test]
    fn odd_input_never_panics() {
        let vocab = [
            "", "-", "--", "-v", "-h", "-n", "--cask", "--appdir", "install", "bundle", "tap", "é",
            "-é", "--é=ü",
        ];
        for a in vocab {
            for b in vocab {
                for c in vocab {
                    let _ = run(&[a, b, c]);
                    let _ = run(&[a, b]);
                    let _ = run(&[a]);
                }
            }
        }
    }

    #[test]
    fn config_lines_and_default_domains() {
        let c = parse_config(
            "HOMEBREW_VERSION: 4.4.0\nHOMEBREW_PREFIX: /opt/hb\nHOMEBREW_BOTTLE_DOMAIN: http://127.0.0.1:8/b\nCPU: dual-core\n",
        );
        assert_eq!(c["HOMEBREW_PREFIX"], "/opt/hb");
        assert_eq!(c["HOMEBREW_BOTTLE_DOMAIN"], "http://127.0.0.1:8/b");
        let sh = "setup_curl\nHOMEBREW_API_DEFAULT_DOMAIN=\"http://127.0.0.1:1/api\"\n  export HOMEBREW_BOTTLE_DEFAULT_DOMAIN=\"http://127.0.0.1:2/b\"\nHOMEBREW_BOTTLE_DEFAULT_DOMAIN_X=\"http://no\"\n";
        assert_eq!(
            default_domains(sh, "HOMEBREW_API_DEFAULT_DOMAIN"),
            vec!["http://127.0.0.1:1/api".to_string()]
        );
        assert_eq!(
            default_domains(sh, "HOMEBREW_BOTTLE_DEFAULT_DOMAIN"),
            vec!["http://127.0.0.1:2/b".to_string()]
        );
    }

    /// The attribution of a process by brew's shapes alone.
    fn attribute(argv: Option<&[String]>) -> Option<(String, String)> {
        use crate::managers::Adapter;
        let rules = BrewAdapter.attribution();
        crate::monitor::attribution::attribute(&rules, None, argv, None)
    }

    #[test]
    fn post_install_runs_are_attributed_to_their_formula() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("Formula/pw-x.rb");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, "class PwX < Formula\n  version \"2.1\"\nend\n").unwrap();
        let argv = v(&[
            "/usr/bin/ruby",
            "-I",
            "/hb/Library/Homebrew",
            "--",
            "/hb/Library/Homebrew/postinstall.rb",
            f.to_str().unwrap(),
        ]);
        assert_eq!(
            attribute(Some(&argv)),
            Some(("pw-x@2.1".into(), "post_install".into()))
        );
        assert_eq!(
            attribute(Some(&v(&["/usr/bin/ruby", "/x/postinstall.rb", "a.rb"]))),
            None
        );
    }
}
