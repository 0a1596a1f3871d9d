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
}
