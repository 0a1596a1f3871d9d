//! RubyGems (`gem`) and Bundler (`bundle`): which command lines install.

use super::args::{self, Spec};
use super::bundle_settings::{self, AUTO_INSTALL_CMDS};
use super::facts::InstallPlan;
use super::{Classified, PassReason, Tool, to_opts};
use super::{install, owned, wants_help};

/// Every RubyGems command. RubyGems runs any unambiguous prefix of one, so a
/// command word is resolved against the whole list, not only the installs.
const GEM_COMMANDS: &[&str] = &[
    "build",
    "cert",
    "check",
    "cleanup",
    "contents",
    "dependency",
    "environment",
    "exec",
    "fetch",
    "generate_index",
    "help",
    "info",
    "install",
    "list",
    "lock",
    "mirror",
    "open",
    "outdated",
    "owner",
    "pristine",
    "push",
    "query",
    "rdoc",
    "rebuild",
    "search",
    "signin",
    "signout",
    "sources",
    "specification",
    "stale",
    "uninstall",
    "unpack",
    "update",
    "which",
    "yank",
];

/// RubyGems' aliases, applied before prefix matching.
const GEM_ALIASES: &[(&str, &str)] =
    &[("i", "install"), ("login", "signin"), ("logout", "signout")];

/// Commands that download gems or run their code (extension builds, hooks).
/// `exec` is handled apart: it is run-style.
const GEM_INSTALLS: &[&str] = &["install", "update", "pristine", "fetch", "rebuild"];

/// What `gem` accepts before the command: `--config-file FILE` and `-C DIR`
/// take a value; `-v`/`--version` are flags here (print the version).
const GEM_GLOBAL: Spec = Spec {
    value_long: &["config-file"],
    value_short: &['C'],
};

/// Options after the command. `-v`/`--version` take a gem version here, and
/// `-g`/`--file`, `-p`/`--http-proxy`, `--document` take an optional value
/// that RubyGems reads from the next word when it is not an option.
const GEM_COMMAND: Spec = Spec {
    value_long: &[
        "config-file",
        "install-dir",
        "bindir",
        "document",
        "source",
        "version",
        "trust-policy",
        "platform",
        "file",
        "build-root",
        "http-proxy",
        "gem",
        "target-rbconfig",
    ],
    value_short: &['i', 'n', 's', 'v', 'P', 'g', 'p'],
};

/// Canonical names for gem's short options (install and friends).
const GEM_NAMES: &[(&str, &str)] = &[
    ("i", "install-dir"),
    ("n", "bindir"),
    ("s", "source"),
    ("v", "version"),
    ("P", "trust-policy"),
    ("g", "file"),
    ("p", "http-proxy"),
    ("V", "verbose"),
    ("q", "quiet"),
    ("h", "help"),
    ("N", "no-document"),
    ("E", "env-shebang"),
    ("f", "force"),
    ("w", "wrappers"),
    ("l", "local"),
    ("r", "remote"),
    ("b", "both"),
    ("C", "directory"),
];

/// `gem exec` reads `-g` as `--gem`, not `--file`.
const GEM_EXEC_NAMES: &[(&str, &str)] = &[
    ("g", "gem"),
    ("v", "version"),
    ("V", "verbose"),
    ("q", "quiet"),
    ("h", "help"),
    ("C", "directory"),
];

/// Bundler's commands; Thor accepts any unambiguous prefix of these or of an
/// alias.
const BUNDLE_COMMANDS: &[&str] = &[
    "add", "binstubs", "cache", "check", "clean", "config", "console", "doctor", "exec", "fund",
    "gem", "help", "info", "init", "inject", "install", "issue", "licenses", "list", "lock",
    "open", "outdated", "platform", "plugin", "pristine", "remove", "show", "update", "version",
    "viz",
];

/// Bundler's aliases (Thor `map`s).
const BUNDLE_ALIASES: &[(&str, &str)] = &[
    ("i", "install"),
    ("c", "check"),
    ("ls", "list"),
    ("e", "exec"),
    ("ex", "exec"),
    ("exe", "exec"),
    ("package", "cache"),
    ("pack", "cache"),
];

/// Bundler commands that download gems or build them: `cache` fetches every
/// gem of the bundle, `pristine` rebuilds extensions, `inject` installs what
/// it adds to the Gemfile, `remove` installs the bundle left (`cli/remove.rb`
/// runs `Installer.install`).
const BUNDLE_INSTALLS: &[&str] = &[
    "install", "update", "add", "cache", "pristine", "inject", "remove",
];

/// Bundler's class options before the command: `-r`/`--retry N`.
const BUNDLE_GLOBAL: Spec = Spec {
    value_long: &["retry"],
    value_short: &['r'],
};

/// Options after a Bundler command that take a value.
const BUNDLE_COMMAND: Spec = Spec {
    value_long: &[
        "retry",
        "path",
        "gemfile",
        "jobs",
        "without",
        "with",
        "shebang",
        "trust-policy",
        "target-rbconfig",
        "group",
        "source",
        "version",
        "git",
        "github",
        "branch",
        "ref",
        "glob",
        "require",
    ],
    value_short: &['r', 'j', 'g', 's', 'v'],
};

/// Canonical names for Bundler's short options.
const BUNDLE_NAMES: &[(&str, &str)] = &[
    ("V", "verbose"),
    ("r", "retry"),
    ("j", "jobs"),
    ("g", "group"),
    ("s", "source"),
    ("v", "version"),
    ("h", "help"),
];

/// Classifies a `gem` or `bundle` command line (`args` without argv[0]).
pub fn classify(tool: Tool, args: &[String]) -> Classified {
    match tool {
        Tool::Bundle => classify_bundle(args),
        _ => classify_gem(tool, args),
    }
}

fn classify_gem(tool: Tool, args: &[String]) -> Classified {
    let (global, word, rest) = args::split_command(args, &GEM_GLOBAL);
    if wants_help(&global) {
        return Classified::pass(PassReason::Help);
    }
    if args::has(&global, &["version"], &['v']) {
        return Classified::pass(PassReason::Version);
    }
    // Bare `gem` prints its usage.
    let Some(word) = word else {
        return Classified::pass(PassReason::Help);
    };
    // Unknown or ambiguous (`gem in`: info or install) is an error in RubyGems.
    let Some(command) = resolve_gem_command(word) else {
        return Classified::pass(PassReason::NotAnInstall);
    };
    if command == "help" {
        return Classified::pass(PassReason::Help);
    }
    // `gem exec` stops reading its own options at the gem to run, so
    // `gem exec rubocop --help` runs rubocop.
    let run_style = command == "exec";
    let tokens = args::scan(rest, &GEM_COMMAND, run_style);
    if wants_help(&tokens) {
        return Classified::pass(PassReason::Help);
    }
    if run_style {
        let mut options = to_opts(&global, GEM_NAMES);
        options.extend(to_opts(&tokens, GEM_EXEC_NAMES));
        let packages = args::positionals(&tokens)
            .first()
            .map(|p| vec![(*p).to_string()])
            .unwrap_or_default();
        return install(tool, command, packages, options);
    }
    if !GEM_INSTALLS.contains(&command) {
        return Classified::pass(PassReason::NotAnInstall);
    }
    let mut options = to_opts(&global, GEM_NAMES);
    options.extend(to_opts(&tokens, GEM_NAMES));
    install(tool, command, owned(args::positionals(&tokens)), options)
}

/// RubyGems' lookup: alias, then exact name, then the single command the word
/// is a prefix of.
fn resolve_gem_command(word: &str) -> Option<&'static str> {
    let word = GEM_ALIASES
        .iter()
        .find(|(alias, _)| *alias == word)
        .map_or(word, |(_, target)| *target);
    if let Some(exact) = GEM_COMMANDS.iter().find(|c| **c == word) {
        return Some(exact);
    }
    let mut hits = GEM_COMMANDS.iter().filter(|c| c.starts_with(word));
    match (hits.next(), hits.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

fn classify_bundle(args: &[String]) -> Classified {
    let tool = Tool::Bundle;
    let (global, word, rest) = args::split_command(args, &BUNDLE_GLOBAL);
    if wants_help(&global) {
        return Classified::pass(PassReason::Help);
    }
    if args::has(&global, &["version"], &['v']) {
        return Classified::pass(PassReason::Version);
    }
    // Bare `bundle` (options only) runs the default command, `install`.
    let command = match word {
        None => "install",
        Some(w) => match resolve_bundle_command(w) {
            Some(c) => c,
            None => return Classified::pass(PassReason::NotAnInstall),
        },
    };
    match command {
        "help" => return Classified::pass(PassReason::Help),
        "version" => return Classified::pass(PassReason::Version),
        _ => {}
    }
    // `bundle exec rspec --help` is rspec's help; only options before the
    // program are Bundler's.
    let tokens = args::scan(rest, &BUNDLE_COMMAND, command == "exec");
    if wants_help(&tokens) {
        return Classified::pass(PassReason::Help);
    }
    let mut packages = owned(args::positionals(&tokens));
    let command = if command == "remove" {
        // The gems named are taken out; the rest of the bundle is installed.
        packages.clear();
        command
    } else if command == "plugin" {
        // `bundle plugin install NAME` downloads a plugin gem.
        if packages.first().map(String::as_str) != Some("install") {
            return Classified::pass(PassReason::NotAnInstall);
        }
        packages.remove(0);
        "plugin install"
    } else if BUNDLE_INSTALLS.contains(&command) {
        command
    } else if AUTO_INSTALL_CMDS.contains(&command)
        && auto_install_here(gemfile_option(&tokens).or(gemfile_option(&global)))
    {
        // Bundler installs the missing gems of the bundle first; the words
        // are the program to run or the gems to show, not what it installs.
        packages.clear();
        command
    } else {
        return Classified::pass(PassReason::NotAnInstall);
    };
    let mut options = to_opts(&global, BUNDLE_NAMES);
    options.extend(to_opts(&tokens, BUNDLE_NAMES));
    install(tool, command, packages, options)
}

/// The Gemfile a command's `--gemfile` names (`bundle exec --gemfile=…`):
/// Bundler sets `BUNDLE_GEMFILE` from it before it reads its settings.
fn gemfile_option<'a>(tokens: &[args::Token<'a>]) -> Option<&'a str> {
    tokens.iter().find_map(|t| match t {
        args::Token::Long {
            name: "gemfile",
            value,
        } => *value,
        _ => None,
    })
}

/// True when Bundler run here (with the Gemfile `gemfile` names, if any)
/// has `auto_install` set (see [`bundle_settings`]); a working directory
/// that cannot be read counts as its root.
fn auto_install_here(gemfile: Option<&str>) -> bool {
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("/"));
    match gemfile {
        Some(g) => bundle_settings::auto_install(&cwd, &|k| match k {
            "BUNDLE_GEMFILE" => Some(g.into()),
            _ => std::env::var_os(k),
        }),
        None => bundle_settings::auto_install(&cwd, &|k| std::env::var_os(k)),
    }
}

/// Thor's lookup: an exact command or alias wins; otherwise the prefix must
/// lead to a single command (`pack` and `package` both mean `cache`).
fn resolve_bundle_command(word: &str) -> Option<&'static str> {
    let entries = || {
        BUNDLE_COMMANDS
            .iter()
            .map(|c| (*c, *c))
            .chain(BUNDLE_ALIASES.iter().copied())
    };
    if let Some((_, to)) = entries().find(|(name, _)| *name == word) {
        return Some(to);
    }
    let mut targets = entries()
        .filter(|(name, _)| name.starts_with(word))
        .map(|(_, to)| to);
    let first = targets.next()?;
    targets.all(|t| t == first).then_some(first)
}

// ------------------------------------------------------------ plugins ----

/// Snapshot patterns for what a gem install adds that RubyGems runs later:
/// the `plugins` directory of the gem home the plan writes to, so that block
/// mode can quarantine a loader written there.
pub fn watch_patterns(plan: &InstallPlan) -> Vec<String> {
    plan.write_roots
        .first()
        .map(|home| home.join("plugins"))
        .and_then(|d| d.to_str().map(str::to_string))
        // A pattern reads `*`, `?` and `[` as wildcards.
        .filter(|d| d.starts_with('/') && !d.contains(['*', '?', '[']))
        .into_iter()
        .collect()
}

/// The start-up to observe after an install that added or changed a
/// plugin: `gem --version` loads every plugin of the gem home (its loaders
/// in `<gem home>/plugins/`) before it answers.
pub fn startup_probes(plan: &InstallPlan) -> Vec<super::facts::StartupProbe> {
    plan.write_roots
        .first()
        .map(|home| super::facts::StartupProbe {
            program: plan.real_exe.clone(),
            args: vec!["--version".into()],
            dir: home.join("plugins"),
            suffixes: vec!["_plugin.rb".into()],
        })
        .into_iter()
        .collect()
}

// ------------------------------------------------------------ adapter ----

/// The adapter of gem and bundle. A `gem` that is not RubyGems (a wrapper,
/// a stand-in) and `bundle` keep the skeleton: not derived, so not
/// sandboxed by default.
pub struct GemAdapter;

impl super::Adapter for GemAdapter {
    fn family(&self) -> super::Family {
        super::Family::Gem
    }
    fn tools(&self) -> &'static [Tool] {
        &[Tool::Gem, Tool::Bundle]
    }
    fn classify(&self, tool: Tool, args: &[String]) -> Classified {
        classify(tool, args)
    }
    fn relevant_env(&self, k: &str) -> bool {
        k.starts_with("GEM_") || k.starts_with("RUBY")
    }
    fn facts(
        &self,
        real: &std::path::Path,
        tool: Tool,
        _interpreter: Option<&std::path::Path>,
        _cwd: &std::path::Path,
    ) -> Result<super::facts::ManagerFacts, super::facts::FactsError> {
        let family = super::Family::Gem;
        if tool != Tool::Gem {
            return Ok(super::facts::ManagerFacts::skeleton(family, real));
        }
        super::gem_facts::gem_facts(real).or_else(|e| e.or_skeleton(family, real))
    }
    fn plan(&self, p: &mut InstallPlan, cwd: &std::path::Path) {
        if p.tool == Tool::Gem {
            super::gem_facts::apply_gem(p, cwd);
            p.package_code = super::package_code::shapes("gem");
        }
    }
    fn watch_patterns(&self, p: &InstallPlan) -> Vec<String> {
        watch_patterns(p)
    }
    fn attribution(&self) -> Vec<super::Attribution> {
        // RubyGems builds an extension in the installed gem,
        // `…/gems/<name>-<version>/ext/…`: `extconf.rb`, then `make`.
        vec![super::Attribution::InstalledDir {
            before: "gems".into(),
            after: "ext".into(),
            hooks: super::ArgHooks {
                by_arg: vec![("extconf.rb".into(), "extconf.rb".into())],
                default: "ext-build".into(),
            },
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::gemplugin::{is_plugin_file, plugin_gem};
    use crate::managers::testkit::{request, v, verb};

    #[test]
    fn gem_verbs() {
        let table: &[(&[&str], Option<&str>)] = &[
            (&["install", "rails"], Some("install")),
            (&["i", "rails"], Some("install")),
            (&["ins", "rails"], Some("install")),
            (&["inst", "rails"], Some("install")),
            (&["update"], Some("update")),
            (&["up", "--system"], Some("update")),
            (&["pristine", "--all"], Some("pristine")),
            (&["pr", "nokogiri"], Some("pristine")),
            (&["fetch", "rake"], Some("fetch")),
            (&["f", "rake"], Some("fetch")),
            (&["exec", "rubocop"], Some("exec")),
            (&["ex", "rubocop"], Some("exec")),
            (&["rebuild", "rake", "13.0"], Some("rebuild")),
            (&["reb", "rake"], Some("rebuild")),
            // Global options before the command, including valued ones.
            (&["--config-file", "install", "list"], None),
            (
                &["--config-file", "/tmp/gemrc", "install", "x"],
                Some("install"),
            ),
            (
                &["--config-file=/tmp/gemrc", "install", "x"],
                Some("install"),
            ),
            (&["-C", "/tmp/p", "install", "x"], Some("install")),
            (
                &["--norc", "-V", "--backtrace", "install", "x"],
                Some("install"),
            ),
            // Ambiguous prefixes are errors in RubyGems.
            (&["in", "rails"], None),
            (&["e"], None),
            (&["p", "x"], None),
            (&["u", "x"], None),
            (&["r", "x"], None),
            (&["", "x"], None),
            (&["list"], None),
            (&["li"], None),
            (&["uninstall", "rails"], None),
            (&["un", "rails"], None),
            (&["unp", "rails"], None),
            (&["build", "x.gemspec"], None),
            (&["env"], None),
            (&["sources", "--add", "http://127.0.0.1:8808/"], None),
            (&["search", "rails"], None),
            (&["nonsense"], None),
            (&["-"], None),
            (&["--"], None),
            (&["--", "install", "x"], None),
            (&[], None),
            // The gem's own options after `gem exec GEM` belong to it.
            (&["exec", "rubocop", "--help"], Some("exec")),
            (&["exec", "rubocop", "--version"], Some("exec")),
            (&["install", "-v", "1.0", "rails"], Some("install")),
            (&["install", "--version", "1.0", "rails"], Some("install")),
        ];
        for (words, want) in table {
            assert_eq!(verb(Tool::Gem, words).as_deref(), *want, "gem {words:?}");
        }
    }

    #[test]
    fn gem_pass_reasons() {
        let table: &[(&[&str], PassReason)] = &[
            (&[], PassReason::Help),
            (&["--help"], PassReason::Help),
            (&["-h"], PassReason::Help),
            (&["help", "install"], PassReason::Help),
            (&["he", "install"], PassReason::Help),
            (&["install", "--help"], PassReason::Help),
            (&["install", "rails", "-h"], PassReason::Help),
            (&["exec", "--help"], PassReason::Help),
            (&["list", "--help"], PassReason::Help),
            (&["--version"], PassReason::Version),
            (&["-v"], PassReason::Version),
            (&["in", "x"], PassReason::NotAnInstall),
            (&["list"], PassReason::NotAnInstall),
            (&["-"], PassReason::NotAnInstall),
        ];
        for (words, want) in table {
            assert_eq!(
                classify(Tool::Gem, &v(words)),
                Classified::pass(*want),
                "gem {words:?}"
            );
        }
    }

    #[test]
    fn gem_options_and_packages() {
        let req = request(
            Tool::Gem,
            &[
                "--config-file",
                "/tmp/gemrc",
                "install",
                "-i",
                "/tmp/gems",
                "-n",
                "/tmp/bin",
                "--clear-sources",
                "-s",
                "http://127.0.0.1:8808/",
                "rails",
                "-v",
                "7.1",
                "rake",
            ],
        );
        assert_eq!(req.tool, Tool::Gem);
        assert_eq!(req.packages, v(&["rails", "rake"]));
        assert_eq!(req.option("config-file"), Some("/tmp/gemrc"));
        assert_eq!(req.option("install-dir"), Some("/tmp/gems"));
        assert_eq!(req.option("bindir"), Some("/tmp/bin"));
        assert_eq!(req.option("source"), Some("http://127.0.0.1:8808/"));
        assert_eq!(req.option("version"), Some("7.1"));
        assert!(req.flag("clear-sources"));

        let req = request(
            Tool::Gem,
            &[
                "ins",
                "--install-dir=/tmp/g",
                "--source",
                "http://127.0.0.1:1/",
                "x",
            ],
        );
        assert_eq!(req.command, "install");
        assert_eq!(req.option("install-dir"), Some("/tmp/g"));
        assert_eq!(req.option("source"), Some("http://127.0.0.1:1/"));
        assert_eq!(req.packages, v(&["x"]));

        // exec: `-g` names the gem; the program's own options are not gem's.
        let req = request(
            Tool::Gem,
            &["exec", "-g", "rubocop-x", "rubocop", "-v", "--only", "x"],
        );
        assert_eq!(req.option("gem"), Some("rubocop-x"));
        assert_eq!(req.packages, v(&["rubocop"]));
        assert!(!req.flag("only"));
        assert_eq!(req.option("version"), None);
    }

    #[test]
    fn bundle_verbs() {
        let table: &[(&[&str], Option<&str>)] = &[
            (&[], Some("install")),
            (&["--verbose"], Some("install")),
            (&["-r", "3"], Some("install")),
            (&["install"], Some("install")),
            (&["i"], Some("install")),
            (&["ins"], Some("install")),
            (&["update", "rails"], Some("update")),
            (&["up"], Some("update")),
            (&["add", "rails"], Some("add")),
            (&["cache"], Some("cache")),
            (&["package"], Some("cache")),
            (&["pack"], Some("cache")),
            (&["pa"], Some("cache")),
            (&["pristine"], Some("pristine")),
            (&["plugin", "install", "bundler-x"], Some("plugin install")),
            (
                &["--no-color", "-V", "--retry", "2", "install"],
                Some("install"),
            ),
            (&["-r", "3", "update"], Some("update")),
            (&["remove", "rake"], Some("remove")),
            (&["rem", "rake"], Some("remove")),
            (&["plugin", "list"], None),
            (&["plugin"], None),
            (&["exec", "rake"], None),
            (&["e", "rake"], None),
            (&["exec", "rake", "install"], None),
            (&["check"], None),
            (&["c"], None),
            (&["list"], None),
            (&["ls"], None),
            (&["outdated"], None),
            (&["lock"], None),
            (&["config", "set", "path", "vendor"], None),
            (&["binstubs", "rake"], None),
            (&["show", "rails"], None),
            (&["info", "rails"], None),
            (&["open", "rails"], None),
            (&["in"], None),
            (&["p"], None),
            (&["nonsense"], None),
            (&["-"], None),
            (&["--", "install"], Some("install")),
        ];
        for (words, want) in table {
            assert_eq!(
                verb(Tool::Bundle, words).as_deref(),
                *want,
                "bundle {words:?}"
            );
        }
    }

    #[test]
    fn bundle_pass_reasons() {
        let table: &[(&[&str], PassReason)] = &[
            (&["--help"], PassReason::Help),
            (&["-h"], PassReason::Help),
            (&["help", "install"], PassReason::Help),
            (&["install", "--help"], PassReason::Help),
            (&["update", "-h"], PassReason::Help),
            (&["exec", "--help"], PassReason::Help),
            (&["exec", "rspec", "--help"], PassReason::NotAnInstall),
            (&["--version"], PassReason::Version),
            (&["-v"], PassReason::Version),
            (&["version"], PassReason::Version),
            (&["exec", "rake"], PassReason::NotAnInstall),
        ];
        for (words, want) in table {
            assert_eq!(
                classify(Tool::Bundle, &v(words)),
                Classified::pass(*want),
                "bundle {words:?}"
            );
        }
    }

    #[test]
    fn bundle_options() {
        let req = request(
            Tool::Bundle,
            &[
                "--retry",
                "3",
                "install",
                "--path",
                "vendor/bundle",
                "--gemfile=/tmp/p/Gemfile",
                "-j",
                "4",
            ],
        );
        assert_eq!(req.command, "install");
        assert_eq!(req.option("retry"), Some("3"));
        assert_eq!(req.option("path"), Some("vendor/bundle"));
        assert_eq!(req.option("gemfile"), Some("/tmp/p/Gemfile"));
        assert_eq!(req.option("jobs"), Some("4"));
        assert!(req.packages.is_empty());

        let req = request(
            Tool::Bundle,
            &[
                "add",
                "rails",
                "-v",
                "7.1",
                "--source",
                "http://127.0.0.1:9/",
            ],
        );
        assert_eq!(req.packages, v(&["rails"]));
        assert_eq!(req.option("version"), Some("7.1"));
        assert_eq!(req.option("source"), Some("http://127.0.0.1:9/"));
    }

    #[test]
    fn odd_input_never_panics() {
        let vocab = [
            "",
            "-",
            "--",
            "-h",
            "--help",
            "-v",
            "-i",
            "-g",
            "--source",
            "--source=",
            "install",
            "exec",
            "é",
            "-é",
            "--é=ü",
            "i",
            "plugin",
            "-r",
        ];
        for a in vocab {
            for b in vocab {
                for c in vocab {
                    for tool in [Tool::Gem, Tool::Bundle] {
                        let _ = classify(tool, &v(&[a, b, c]));
                        let _ = classify(tool, &v(&[a, b]));
                        let _ = classify(tool, &v(&[a]));
                    }
                }
            }
        }
    }

    #[test]
    fn plugin_files_and_their_gems() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("gems");
        std::fs::create_dir_all(home.join("specifications")).unwrap();
        std::fs::create_dir_all(home.join("plugins")).unwrap();
        let loader = home.join("plugins/pw-x_plugin.rb");
        std::fs::write(
            &loader,
            "require_relative '../gems/pw-x-1.2.0-x86_64-linux/lib/rubygems_plugin.rb'\n",
        )
        .unwrap();
        assert!(is_plugin_file(&loader));
        assert_eq!(plugin_gem(&loader).as_deref(), Some("pw-x@1.2.0"));
        let own = home.join("gems/pw-x-1.2.0/lib/rubygems_plugin.rb");
        assert!(is_plugin_file(&own));
        assert_eq!(plugin_gem(&own).as_deref(), Some("pw-x@1.2.0"));
        // A `plugins` directory that is not a gem home's.
        assert!(!is_plugin_file(
            &t.path().join("app/plugins/auth_plugin.rb")
        ));
        assert!(!is_plugin_file(&home.join("gems/a-1/lib/a.rb")));
    }
}
