//! Homebrew (`brew`): which command lines install.

use super::args::{self, Spec, Token};
use super::{Classified, PassReason, Tool, to_opts};
use super::{install, owned};

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
}
