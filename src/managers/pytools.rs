//! uv, uvx, poetry and pipx: which command lines install.

use super::args::{self, Spec, Token};
use super::{Classified, Opt, PassReason, Tool, to_opts};
use super::{install, owned, wants_help};

/// One option grammar: which options take a value, and the canonical names
/// of the short letters and aliases.
struct Grammar {
    spec: Spec,
    names: &'static [(&'static str, &'static str)],
}

// ---------------------------------------------------------------- uv

/// uv's options that may come before the subcommand and take a value.
/// Kept to the true global ones: a flag listed here would swallow the
/// subcommand.
const UV_GLOBAL: Grammar = Grammar {
    spec: Spec {
        value_long: &[
            "color",
            "cache-dir",
            "directory",
            "project",
            "config-file",
            "python-preference",
            "allow-insecure-host",
            "trusted-host",
            "preview-features",
            "python",
            "index",
            "default-index",
            "index-url",
            "extra-index-url",
            "find-links",
        ],
        value_short: &['p', 'i', 'f'],
    },
    names: &[
        ("p", "python"),
        ("i", "index-url"),
        ("f", "find-links"),
        ("q", "quiet"),
        ("v", "verbose"),
        ("n", "no-cache"),
        ("V", "version"),
        ("h", "help"),
        ("trusted-host", "allow-insecure-host"),
    ],
};

/// `uv run`, `uv tool run` and `uvx`. This list must hold only options that
/// really take a value there: one that is a flag (`--no-binary`, `-m`,
/// `-s`) would swallow the package word and make the package's own options
/// look like uv's (`uvx --no-binary ruff --help` would read as uv's help).
const UV_RUN: Grammar = Grammar {
    spec: Spec {
        value_long: &[
            "color",
            "cache-dir",
            "directory",
            "project",
            "config-file",
            "python-preference",
            "allow-insecure-host",
            "trusted-host",
            "preview-features",
            "python",
            "index",
            "default-index",
            "index-url",
            "extra-index-url",
            "find-links",
            "with",
            "with-editable",
            "with-requirements",
            "extra",
            "no-extra",
            "group",
            "no-group",
            "only-group",
            "package",
            "env-file",
            "from",
            "constraints",
            "constraint",
            "overrides",
            "override",
            "build-constraints",
            "build-constraint",
            "index-strategy",
            "keyring-provider",
            "resolution",
            "prerelease",
            "fork-strategy",
            "exclude-newer",
            "exclude-newer-package",
            "link-mode",
            "config-setting",
            "config-settings-package",
            "no-build-isolation-package",
            "no-build-package",
            "no-binary-package",
            "refresh-package",
            "upgrade-package",
            "reinstall-package",
            "python-platform",
            "torch-backend",
        ],
        value_short: &['p', 'i', 'f', 'w', 'c', 'b', 'C', 'P'],
    },
    names: &[
        ("p", "python"),
        ("i", "index-url"),
        ("f", "find-links"),
        ("q", "quiet"),
        ("v", "verbose"),
        ("n", "no-cache"),
        ("V", "version"),
        ("h", "help"),
        ("w", "with"),
        ("c", "constraints"),
        ("b", "build-constraints"),
        ("C", "config-setting"),
        ("P", "upgrade-package"),
        ("U", "upgrade"),
        ("m", "module"),
        ("s", "script"),
        ("trusted-host", "allow-insecure-host"),
        ("constraint", "constraints"),
        ("override", "overrides"),
        ("build-constraint", "build-constraints"),
    ],
};

/// Value options of the project commands (`sync`, `add`, `lock`, `tree`,
/// `tool install`, …). Here `-m` is `add --marker` and `--script` takes a
/// path, unlike in `uv run`.
const UV_PROJECT_SPEC: Spec = Spec {
    value_long: &[
        "color",
        "cache-dir",
        "directory",
        "project",
        "config-file",
        "python-preference",
        "allow-insecure-host",
        "trusted-host",
        "preview-features",
        "python",
        "index",
        "default-index",
        "index-url",
        "extra-index-url",
        "find-links",
        "with",
        "with-editable",
        "with-requirements",
        "with-executables-from",
        "extra",
        "no-extra",
        "group",
        "no-group",
        "only-group",
        "package",
        "env-file",
        "from",
        "script",
        "requirements",
        "requirement",
        "constraints",
        "constraint",
        "overrides",
        "override",
        "build-constraints",
        "build-constraint",
        "marker",
        "branch",
        "tag",
        "rev",
        "optional",
        "bounds",
        "index-strategy",
        "keyring-provider",
        "resolution",
        "prerelease",
        "fork-strategy",
        "exclude-newer",
        "exclude-newer-package",
        "link-mode",
        "config-setting",
        "config-settings-package",
        "no-build-isolation-package",
        "no-build-package",
        "no-binary-package",
        "refresh-package",
        "upgrade-package",
        "reinstall-package",
        "python-platform",
        "torch-backend",
        "output-file",
        "out-dir",
        "format",
        "depth",
        "prune",
        "no-emit-package",
        "bump",
    ],
    value_short: &['p', 'i', 'f', 'w', 'c', 'b', 'C', 'P', 'r', 'm', 'o', 'd'],
};

/// Short names shared by the project commands; `-o` is resolved per command.
const UV_PROJECT: Grammar = Grammar {
    spec: UV_PROJECT_SPEC,
    names: &[
        ("p", "python"),
        ("i", "index-url"),
        ("f", "find-links"),
        ("q", "quiet"),
        ("v", "verbose"),
        ("n", "no-cache"),
        ("V", "version"),
        ("h", "help"),
        ("w", "with"),
        ("c", "constraints"),
        ("b", "build-constraints"),
        ("C", "config-setting"),
        ("P", "upgrade-package"),
        ("U", "upgrade"),
        ("r", "requirements"),
        ("m", "marker"),
        ("o", "output-file"),
        ("d", "depth"),
        ("e", "editable"),
        ("trusted-host", "allow-insecure-host"),
        ("requirement", "requirements"),
        ("constraint", "constraints"),
        ("override", "overrides"),
        ("build-constraint", "build-constraints"),
    ],
};

/// `uv build`, where `-o` is `--out-dir`.
const UV_BUILD: Grammar = Grammar {
    spec: UV_PROJECT_SPEC,
    names: &[
        ("p", "python"),
        ("i", "index-url"),
        ("f", "find-links"),
        ("q", "quiet"),
        ("v", "verbose"),
        ("n", "no-cache"),
        ("h", "help"),
        ("b", "build-constraints"),
        ("c", "constraints"),
        ("C", "config-setting"),
        ("P", "upgrade-package"),
        ("o", "out-dir"),
        ("trusted-host", "allow-insecure-host"),
        ("build-constraint", "build-constraints"),
    ],
};

/// `uv pip install/sync/compile`, where `--no-binary`/`--only-binary` take a
/// package list and `-e` an editable path.
const UV_PIP: Grammar = Grammar {
    spec: Spec {
        value_long: &[
            "color",
            "cache-dir",
            "directory",
            "project",
            "config-file",
            "python-preference",
            "allow-insecure-host",
            "trusted-host",
            "preview-features",
            "python",
            "index",
            "default-index",
            "index-url",
            "extra-index-url",
            "find-links",
            "requirements",
            "requirement",
            "constraints",
            "constraint",
            "overrides",
            "override",
            "build-constraints",
            "build-constraint",
            "editable",
            "extra",
            "group",
            "target",
            "prefix",
            "output-file",
            "no-binary",
            "only-binary",
            "python-version",
            "python-platform",
            "config-setting",
            "config-settings-package",
            "upgrade-package",
            "reinstall-package",
            "refresh-package",
            "resolution",
            "prerelease",
            "fork-strategy",
            "exclude-newer",
            "exclude-newer-package",
            "index-strategy",
            "keyring-provider",
            "link-mode",
            "annotation-style",
            "custom-compile-command",
            "torch-backend",
            "no-build-isolation-package",
            "no-emit-package",
        ],
        value_short: &['p', 'i', 'f', 'r', 'c', 'b', 'e', 'o', 'C', 'P', 't'],
    },
    names: &[
        ("p", "python"),
        ("i", "index-url"),
        ("f", "find-links"),
        ("q", "quiet"),
        ("v", "verbose"),
        ("n", "no-cache"),
        ("h", "help"),
        ("r", "requirements"),
        ("c", "constraints"),
        ("b", "build-constraints"),
        ("e", "editable"),
        ("o", "output-file"),
        ("C", "config-setting"),
        ("P", "upgrade-package"),
        ("U", "upgrade"),
        ("t", "target"),
        ("trusted-host", "allow-insecure-host"),
        ("requirement", "requirements"),
        ("constraint", "constraints"),
        ("override", "overrides"),
        ("build-constraint", "build-constraints"),
    ],
};

/// `uv python install/upgrade`: `-i` is `--install-dir`, `-r` and `-f` are
/// the flags `--reinstall` and `--force`.
const UV_PYTHON: Grammar = Grammar {
    spec: Spec {
        value_long: &[
            "color",
            "cache-dir",
            "directory",
            "project",
            "config-file",
            "python-preference",
            "allow-insecure-host",
            "preview-features",
            "install-dir",
            "mirror",
            "pypy-mirror",
            "python-downloads-json-url",
        ],
        value_short: &['i'],
    },
    names: &[
        ("i", "install-dir"),
        ("r", "reinstall"),
        ("f", "force"),
        ("q", "quiet"),
        ("v", "verbose"),
        ("n", "no-cache"),
        ("h", "help"),
    ],
};

/// uv commands that lock, sync, build or download. `run` syncs the project
/// first; `export` and `tree` may lock; `build` installs build requirements;
/// `format` downloads and runs a formatter.
const UV_PROJECT_INSTALLS: &[&str] = &[
    "sync", "add", "remove", "lock", "export", "tree", "build", "format",
];

fn classify_uv(args: &[String]) -> Classified {
    let (global, word, rest) = args::split_command(args, &UV_GLOBAL.spec);
    if wants_help(&global) {
        return Classified::pass(PassReason::Help);
    }
    if args::has(&global, &["version"], &['V']) {
        return Classified::pass(PassReason::Version);
    }
    // Bare `uv` prints its usage.
    let Some(word) = word else {
        return Classified::pass(PassReason::Help);
    };
    let lead = to_opts(&global, UV_GLOBAL.names);
    let tool = Tool::Uv;
    // uv never gets the dry-run passthrough: to resolve, uv builds source
    // distributions to read their metadata, which runs their build code, so
    // even `uv pip install --dry-run` may run a package's code.
    match word {
        "help" => Classified::pass(PassReason::Help),
        "run" => run_command(tool, "run", lead, rest, &UV_RUN, true),
        "build" => options_command(tool, "build", lead, rest, &UV_BUILD, false),
        w if UV_PROJECT_INSTALLS.contains(&w) => {
            options_command(tool, w, lead, rest, &UV_PROJECT, false)
        }
        "pip" => nested(rest, &UV_PIP, lead, |sub, lead, rest| match sub {
            "install" | "sync" | "compile" => {
                options_command(tool, &format!("pip {sub}"), lead, rest, &UV_PIP, false)
            }
            _ => pass_command(rest, &UV_PIP, false),
        }),
        "tool" => nested(rest, &UV_PROJECT, lead, |sub, lead, rest| match sub {
            "install" | "upgrade" => {
                options_command(tool, &format!("tool {sub}"), lead, rest, &UV_PROJECT, false)
            }
            "run" => run_command(tool, "tool run", lead, rest, &UV_RUN, false),
            _ => pass_command(rest, &UV_PROJECT, false),
        }),
        "python" => nested(rest, &UV_PYTHON, lead, |sub, lead, rest| match sub {
            "install" | "upgrade" => options_command(
                tool,
                &format!("python {sub}"),
                lead,
                rest,
                &UV_PYTHON,
                false,
            ),
            _ => pass_command(rest, &UV_PYTHON, false),
        }),
        "venv" => {
            // `--seed` installs pip (and setuptools/wheel) from the index.
            let tokens = args::scan(rest, &UV_PROJECT.spec, false);
            if wants_help(&tokens) {
                return Classified::pass(PassReason::Help);
            }
            if !args::has(&tokens, &["seed"], &[]) {
                return Classified::pass(PassReason::NotAnInstall);
            }
            options_command(tool, "venv", lead, rest, &UV_PROJECT, false)
        }
        "version" => {
            // Reading the project version is harmless; setting or bumping
            // it re-locks and syncs the project.
            let tokens = args::scan(rest, &UV_PROJECT.spec, false);
            if wants_help(&tokens) {
                return Classified::pass(PassReason::Help);
            }
            let sets = !args::positionals(&tokens).is_empty() || args::has(&tokens, &["bump"], &[]);
            if !sets {
                return Classified::pass(PassReason::NotAnInstall);
            }
            // With --dry-run the new version is only printed.
            options_command(tool, "version", lead, rest, &UV_PROJECT, true)
        }
        _ => pass_command(rest, &UV_PROJECT, false),
    }
}

/// `uvx ...` is `uv tool run ...`.
/// The directory `uv venv [DIR]` creates (as written, relative to the working
/// directory; `.venv` when none is given), or `None` for any other command.
pub fn new_venvs_uv(args: &[String]) -> Option<Vec<String>> {
    let (_, word, rest) = args::split_command(args, &UV_GLOBAL.spec);
    if word != Some("venv") {
        return None;
    }
    let mut dirs: Vec<String> = args::scan(rest, &UV_PROJECT.spec, false)
        .into_iter()
        .filter_map(|t| match t {
            args::Token::Positional(p) => Some(p.to_string()),
            _ => None,
        })
        .collect();
    if dirs.is_empty() {
        dirs.push(".venv".into());
    }
    Some(dirs)
}

fn classify_uvx(args: &[String]) -> Classified {
    let tokens = args::scan(args, &UV_RUN.spec, true);
    if wants_help(&tokens) {
        return Classified::pass(PassReason::Help);
    }
    // Only options before the package are uvx's: `uvx ruff --version` runs ruff.
    if args::has(&tokens, &["version"], &['V']) {
        return Classified::pass(PassReason::Version);
    }
    run_command(Tool::Uvx, "tool run", Vec::new(), args, &UV_RUN, false)
}

// ---------------------------------------------------------------- poetry

/// Poetry's options before the command that take a value.
const POETRY_GLOBAL: Spec = Spec {
    value_long: &["directory", "project"],
    value_short: &['C', 'P'],
};

/// Poetry's command options that take a value, global ones included
/// (cleo accepts them anywhere).
const POETRY: Grammar = Grammar {
    spec: Spec {
        value_long: &[
            "directory",
            "project",
            "group",
            "extras",
            "source",
            "python",
            "platform",
            "markers",
            "without",
            "with",
            "only",
        ],
        value_short: &['C', 'P', 'G', 'E'],
    },
    names: &[
        ("C", "directory"),
        ("P", "project"),
        ("G", "group"),
        ("E", "extras"),
        ("q", "quiet"),
        ("v", "verbose"),
        ("n", "no-interaction"),
        ("V", "version"),
        ("h", "help"),
        ("D", "dev"),
        ("e", "editable"),
        ("l", "lock"),
    ],
};

/// Poetry commands that lock (resolving may download and build
/// distributions to read their metadata) or install. `remove` re-locks and
/// syncs the environment like `add`.
const POETRY_INSTALLS: &[&str] = &["add", "install", "update", "sync", "lock", "remove"];

fn classify_poetry(args: &[String]) -> Classified {
    let (global, word, rest) = args::split_command(args, &POETRY_GLOBAL);
    if wants_help(&global) {
        return Classified::pass(PassReason::Help);
    }
    if args::has(&global, &["version"], &['V']) {
        return Classified::pass(PassReason::Version);
    }
    // Bare `poetry` lists its commands.
    let Some(word) = word else {
        return Classified::pass(PassReason::Help);
    };
    let lead = to_opts(&global, POETRY.names);
    let tool = Tool::Poetry;
    // Poetry's resolver builds sdists that lack static metadata, running
    // their build backend, so even `--dry-run` stays an install.
    match word {
        "help" => Classified::pass(PassReason::Help),
        w if POETRY_INSTALLS.contains(&w) => options_command(tool, w, lead, rest, &POETRY, false),
        "self" => nested(rest, &POETRY, lead, |sub, lead, rest| {
            if POETRY_INSTALLS.contains(&sub) {
                options_command(tool, &format!("self {sub}"), lead, rest, &POETRY, false)
            } else {
                pass_command(rest, &POETRY, false)
            }
        }),
        // Poetry 2 downloads managed Python builds.
        "python" => nested(rest, &POETRY, lead, |sub, lead, rest| match sub {
            "install" => options_command(tool, "python install", lead, rest, &POETRY, false),
            _ => pass_command(rest, &POETRY, false),
        }),
        // `poetry run pytest --help` is pytest's help.
        "run" => pass_command(rest, &POETRY, true),
        _ => pass_command(rest, &POETRY, false),
    }
}

// ---------------------------------------------------------------- pipx

/// pipx's subcommand options that take a value.
const PIPX: Grammar = Grammar {
    spec: Spec {
        value_long: &[
            "python",
            "index-url",
            "pip-args",
            "suffix",
            "spec",
            "preinstall",
            "requirement",
            "skip",
            "backend",
        ],
        value_short: &['i', 'r'],
    },
    names: &[
        ("i", "index-url"),
        ("r", "requirement"),
        ("q", "quiet"),
        ("v", "verbose"),
        ("h", "help"),
        ("e", "editable"),
        ("f", "force"),
    ],
};

/// pipx commands that create or change app environments with pip.
const PIPX_INSTALLS: &[&str] = &[
    "install",
    "install-all",
    "inject",
    "upgrade",
    "upgrade-all",
    "upgrade-shared",
    "reinstall",
    "reinstall-all",
];

fn classify_pipx(args: &[String]) -> Classified {
    // pipx takes only flags before the subcommand.
    let (global, word, rest) = args::split_command(args, &Spec::FLAGS_ONLY);
    if wants_help(&global) {
        return Classified::pass(PassReason::Help);
    }
    if args::has(&global, &["version"], &[]) {
        return Classified::pass(PassReason::Version);
    }
    // Bare `pipx` prints its usage.
    let Some(word) = word else {
        return Classified::pass(PassReason::Help);
    };
    let lead = to_opts(&global, PIPX.names);
    let tool = Tool::Pipx;
    match word {
        "help" => Classified::pass(PassReason::Help),
        "run" => run_command(tool, "run", lead, rest, &PIPX, false),
        "runpip" => classify_runpip(lead, rest),
        w if PIPX_INSTALLS.contains(&w) => options_command(tool, w, lead, rest, &PIPX, false),
        // Upgrades the standalone Pythons pipx downloaded.
        "interpreter" => nested(rest, &PIPX, lead, |sub, lead, rest| match sub {
            "upgrade" => options_command(tool, "interpreter upgrade", lead, rest, &PIPX, false),
            _ => pass_command(rest, &PIPX, false),
        }),
        _ => pass_command(rest, &PIPX, false),
    }
}

/// pip's options before its command that take a value.
const PIP_GLOBAL: Spec = Spec {
    value_long: &[
        "python",
        "log",
        "cache-dir",
        "proxy",
        "retries",
        "timeout",
        "exists-action",
        "trusted-host",
        "cert",
        "client-cert",
        "use-feature",
        "use-deprecated",
        "keyring-provider",
    ],
    value_short: &[],
};

/// pip's command options that take a value.
const PIP_COMMAND: Grammar = Grammar {
    spec: Spec {
        value_long: &[
            "python",
            "log",
            "cache-dir",
            "proxy",
            "retries",
            "timeout",
            "exists-action",
            "trusted-host",
            "cert",
            "client-cert",
            "use-feature",
            "use-deprecated",
            "keyring-provider",
            "requirement",
            "constraint",
            "editable",
            "target",
            "platform",
            "python-version",
            "implementation",
            "abi",
            "root",
            "prefix",
            "src",
            "upgrade-strategy",
            "global-option",
            "config-settings",
            "index-url",
            "extra-index-url",
            "find-links",
            "progress-bar",
            "report",
            "only-binary",
            "no-binary",
            "dest",
            "wheel-dir",
            "output",
            "group",
        ],
        value_short: &['r', 'c', 'e', 't', 'i', 'f', 'C', 'd', 'w', 'o'],
    },
    names: &[
        ("r", "requirement"),
        ("c", "constraint"),
        ("e", "editable"),
        ("t", "target"),
        ("i", "index-url"),
        ("f", "find-links"),
        ("C", "config-settings"),
        ("d", "dest"),
        ("w", "wheel-dir"),
        ("o", "output"),
        ("q", "quiet"),
        ("v", "verbose"),
        ("U", "upgrade"),
        ("h", "help"),
        ("V", "version"),
    ],
};

/// pip commands that download distributions or build them.
const PIP_INSTALLS: &[&str] = &["install", "download", "wheel", "lock"];

/// `pipx runpip [options] VENV PIP_ARGS...`: the pip arguments decide.
fn classify_runpip(mut lead: Vec<Opt>, rest: &[String]) -> Classified {
    let tokens = args::scan(rest, &PIPX.spec, true);
    if wants_help(&tokens) {
        return Classified::pass(PassReason::Help);
    }
    let words = args::positionals(&tokens);
    let Some((venv, pip_words)) = words.split_first() else {
        return Classified::pass(PassReason::NotAnInstall);
    };
    let pip_args: Vec<String> = pip_words.iter().map(|w| (*w).to_string()).collect();
    let (pip_global, sub, sub_rest) = args::split_command(&pip_args, &PIP_GLOBAL);
    if wants_help(&pip_global) {
        return Classified::pass(PassReason::Help);
    }
    if args::has(&pip_global, &["version"], &['V']) {
        return Classified::pass(PassReason::Version);
    }
    // Bare pip prints its usage.
    let Some(sub) = sub else {
        return Classified::pass(PassReason::Help);
    };
    if sub == "help" {
        return Classified::pass(PassReason::Help);
    }
    let pip_tokens = args::scan(sub_rest, &PIP_COMMAND.spec, false);
    if wants_help(&pip_tokens) {
        return Classified::pass(PassReason::Help);
    }
    if !PIP_INSTALLS.contains(&sub) {
        return Classified::pass(PassReason::NotAnInstall);
    }
    lead.extend(to_opts(&tokens, PIPX.names));
    lead.extend(to_opts(&pip_global, PIP_COMMAND.names));
    lead.extend(to_opts(&pip_tokens, PIP_COMMAND.names));
    let mut packages = vec![(*venv).to_string()];
    packages.extend(owned(args::positionals(&pip_tokens)));
    install(Tool::Pipx, &format!("runpip {sub}"), packages, lead)
}

// ---------------------------------------------------------------- shared

/// Classifies a uv, uvx, poetry or pipx command line (`args` without argv[0]).
pub fn classify(tool: Tool, args: &[String]) -> Classified {
    match tool {
        Tool::Uvx => classify_uvx(args),
        Tool::Poetry => classify_poetry(args),
        Tool::Pipx => classify_pipx(args),
        _ => classify_uv(args),
    }
}

/// A command with its own subcommands (`uv pip install`): options between the
/// two words are read with `grammar`, then `then` decides on the subcommand.
/// Without a subcommand the manager prints its usage.
fn nested(
    rest: &[String],
    grammar: &Grammar,
    mut lead: Vec<Opt>,
    then: impl FnOnce(&str, Vec<Opt>, &[String]) -> Classified,
) -> Classified {
    let (between, sub, sub_rest) = args::split_command(rest, &grammar.spec);
    if wants_help(&between) {
        return Classified::pass(PassReason::Help);
    }
    let Some(sub) = sub else {
        return Classified::pass(PassReason::Help);
    };
    if sub == "help" {
        return Classified::pass(PassReason::Help);
    }
    lead.extend(to_opts(&between, grammar.names));
    then(sub, lead, sub_rest)
}

/// An installing command whose words after it are all its own: options
/// anywhere before `--`, positionals as packages.
fn options_command(
    tool: Tool,
    command: &str,
    mut lead: Vec<Opt>,
    rest: &[String],
    grammar: &Grammar,
    dry_run_passes: bool,
) -> Classified {
    let tokens = args::scan(rest, &grammar.spec, false);
    if wants_help(&tokens) {
        return Classified::pass(PassReason::Help);
    }
    if dry_run_passes && args::has(&tokens, &["dry-run"], &[]) {
        return Classified::pass(PassReason::DryRun);
    }
    lead.extend(to_opts(&tokens, grammar.names));
    install(tool, command, owned(args::positionals(&tokens)), lead)
}

/// A command that runs a package or program: only the options before the
/// program word are the manager's; the rest belong to the program.
fn run_command(
    tool: Tool,
    command: &str,
    mut lead: Vec<Opt>,
    rest: &[String],
    grammar: &Grammar,
    bare_installs: bool,
) -> Classified {
    let tokens = args::scan(rest, &grammar.spec, true);
    if wants_help(&tokens) {
        return Classified::pass(PassReason::Help);
    }
    let target = args::positionals(&tokens).first().copied().or_else(|| {
        tokens.iter().find_map(|t| match t {
            Token::AfterDoubleDash(words) => words.first().map(String::as_str),
            _ => None,
        })
    });
    // Bare `uv tool run`/`uvx` lists the installed tools; a missing app is
    // an error in pipx.
    if target.is_none() && !bare_installs && !args::has(&tokens, &["from", "spec"], &[]) {
        return Classified::pass(PassReason::NotAnInstall);
    }
    lead.extend(to_opts(&tokens, grammar.names));
    let packages = target.map(|t| vec![t.to_string()]).unwrap_or_default();
    install(tool, command, packages, lead)
}

/// A command that installs nothing; `--help` among its options makes it Help.
fn pass_command(rest: &[String], grammar: &Grammar, run_style: bool) -> Classified {
    let tokens = args::scan(rest, &grammar.spec, run_style);
    if wants_help(&tokens) {
        Classified::pass(PassReason::Help)
    } else {
        Classified::pass(PassReason::NotAnInstall)
    }
}

// ------------------------------------------------------------ adapter ----

/// The adapter of uv, uvx, poetry and pipx (facts and plans in
/// `pytools_facts`). A tool that cannot tell its facts keeps the skeleton
/// (unmonitored).
pub struct PyToolsAdapter;

impl super::Adapter for PyToolsAdapter {
    fn family(&self) -> super::Family {
        super::Family::PyTools
    }
    fn date_gate(
        &self,
        p: &super::facts::InstallPlan,
        cut: &crate::model::cooldown::Cutoff,
        args: &[String],
        cwd: &std::path::Path,
    ) -> Result<crate::model::cooldown::DateGate, String> {
        match p.tool {
            Tool::Uv | Tool::Uvx => Ok(super::cooldown::uv(p, cut, args, cwd)),
            Tool::Poetry => Err("poetry has no date gate".into()),
            _ => Err("pipx has no date gate of its own (the pip it runs is not given one)".into()),
        }
    }
    fn registry_docs(&self, tool: Tool) -> Vec<crate::model::cooldown::DocKind> {
        use crate::model::cooldown::DocKind;
        match tool {
            // poetry reads its default source's JSON project documents.
            Tool::Poetry => vec![DocKind::SimpleIndex, DocKind::ProjectJson],
            _ => vec![DocKind::SimpleIndex],
        }
    }
    fn tools(&self) -> &'static [Tool] {
        &[Tool::Uv, Tool::Uvx, Tool::Poetry, Tool::Pipx]
    }
    fn classify(&self, tool: Tool, args: &[String]) -> Classified {
        classify(tool, args)
    }
    fn new_venvs(&self, tool: Tool, args: &[String]) -> Option<Vec<String>> {
        (tool == Tool::Uv).then(|| new_venvs_uv(args)).flatten()
    }
    fn facts_project(&self, _tool: Tool, cwd: &std::path::Path) -> Option<std::path::PathBuf> {
        // uv, pipx and poetry read the project's configuration and environment.
        Some(cwd.to_path_buf())
    }
    fn relevant_env(&self, k: &str) -> bool {
        super::pytools_facts::relevant_env(k)
    }
    fn facts(
        &self,
        real: &std::path::Path,
        tool: Tool,
        _interpreter: Option<&std::path::Path>,
        cwd: &std::path::Path,
    ) -> Result<super::facts::ManagerFacts, super::facts::FactsError> {
        super::pytools_facts::facts(real, tool, cwd)
            .or_else(|e| e.or_skeleton(super::Family::PyTools, real))
    }
    fn plan(&self, p: &mut super::facts::InstallPlan, cwd: &std::path::Path) {
        let derived = p.facts.derived;
        if derived {
            super::pytools_facts::apply(p, cwd);
        }
        // `uv pip install` builds the local projects it names in place.
        if derived && p.request.command == "pip install" {
            super::facts::apply_local_projects(p, cwd);
        }
        super::pip_facts::netrc_credentials(p, crate::paths::home().as_deref());
        if derived {
            p.package_code = super::package_code::shapes("pytools");
        }
    }
    fn attribution(&self) -> Vec<super::Attribution> {
        // uv runs an sdist's hooks in the source it unpacked in its cache,
        // `…/sdists-vN/…/src`: the package is what its PKG-INFO names.
        vec![super::Attribution::MetadataDir {
            marker: "sdists-v".into(),
            metadata: "PKG-INFO".into(),
            hook: "build-backend".into(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managers::testkit::{request, v, verb};

    fn check_verbs(tool: Tool, table: &[(&[&str], Option<&str>)]) {
        for (words, want) in table {
            assert_eq!(verb(tool, words).as_deref(), *want, "{tool} {words:?}");
        }
    }

    fn check_reasons(tool: Tool, table: &[(&[&str], PassReason)]) {
        for (words, want) in table {
            assert_eq!(
                classify(tool, &v(words)),
                Classified::pass(*want),
                "{tool} {words:?}"
            );
        }
    }

    #[test]
    fn uv_verbs() {
        check_verbs(
            Tool::Uv,
            &[
                (&["pip", "install", "requests"], Some("pip install")),
                (
                    &["pip", "install", "-r", "requirements.txt"],
                    Some("pip install"),
                ),
                (&["pip", "sync", "requirements.txt"], Some("pip sync")),
                (&["pip", "compile", "requirements.in"], Some("pip compile")),
                (&["sync"], Some("sync")),
                (&["add", "requests"], Some("add")),
                (&["remove", "requests"], Some("remove")),
                (&["lock"], Some("lock")),
                (&["run", "pytest"], Some("run")),
                (&["run"], Some("run")),
                (&["run", "--", "pytest"], Some("run")),
                (&["tool", "install", "ruff"], Some("tool install")),
                (&["tool", "run", "ruff"], Some("tool run")),
                (&["tool", "upgrade", "--all"], Some("tool upgrade")),
                (&["python", "install", "3.12"], Some("python install")),
                (&["python", "upgrade"], Some("python upgrade")),
                (&["build"], Some("build")),
                (&["export", "-o", "r.txt"], Some("export")),
                (&["tree"], Some("tree")),
                (&["format"], Some("format")),
                (&["venv", "--seed"], Some("venv")),
                (&["version", "--bump", "minor"], Some("version")),
                (&["version", "1.2.3"], Some("version")),
                // Global options before the subcommand, with values.
                (&["--directory", "/tmp/p", "sync"], Some("sync")),
                (&["--project=/tmp/p", "lock"], Some("lock")),
                (
                    &["--cache-dir", "/tmp/c", "-q", "pip", "install", "x"],
                    Some("pip install"),
                ),
                (
                    &["--color", "never", "--no-progress", "add", "x"],
                    Some("add"),
                ),
                (
                    &["--config-file", "/tmp/uv.toml", "--offline", "sync"],
                    Some("sync"),
                ),
                (&["-p", "3.12", "run", "x.py"], Some("run")),
                (
                    &["--python-preference", "only-managed", "-n", "sync"],
                    Some("sync"),
                ),
                (
                    &["--allow-insecure-host", "127.0.0.1", "pip", "install", "x"],
                    Some("pip install"),
                ),
                (&["--directory", "pip", "sync"], Some("sync")),
                (&["--color", "run", "pip", "list"], None),
                // Program options after `uv run PROG` belong to the program.
                (&["run", "pytest", "--help"], Some("run")),
                (&["run", "-m", "pytest", "--help"], Some("run")),
                (&["run", "--with", "rich", "script.py", "-h"], Some("run")),
                (&["run", "--", "python", "--version"], Some("run")),
                (&["tool", "run", "ruff", "--version"], Some("tool run")),
                (
                    &["tool", "run", "--from", "ruff", "ruff", "-h"],
                    Some("tool run"),
                ),
                // uv builds sdists to read metadata even in a dry run.
                (&["pip", "install", "--dry-run", "x"], Some("pip install")),
                (&["sync", "--dry-run"], Some("sync")),
                (&["lock", "--dry-run"], Some("lock")),
                (
                    &["pip", "install", "x", "--", "--help"],
                    Some("pip install"),
                ),
                (&["pip", "list"], None),
                (&["pip", "show", "x"], None),
                (&["pip", "freeze"], None),
                (&["pip", "uninstall", "x"], None),
                (&["pip", "check"], None),
                (&["pip", "tree"], None),
                (&["venv"], None),
                (&["venv", "/tmp/env", "-p", "3.12"], None),
                (&["cache", "clean"], None),
                (&["cache", "dir"], None),
                (&["self", "update"], None),
                (&["self", "version"], None),
                (&["tool", "list"], None),
                (&["tool", "uninstall", "ruff"], None),
                (&["tool", "run"], None),
                (&["python", "list"], None),
                (&["python", "find"], None),
                (&["python", "pin", "3.12"], None),
                (&["version"], None),
                (&["version", "--short"], None),
                (&["init"], None),
                (&["publish"], None),
                (&["help"], None),
                (&["--version"], None),
                (&["nonsense"], None),
                (&["-"], None),
                (&["--"], None),
                (&["--", "sync"], None),
                (&[], None),
            ],
        );
    }

    #[test]
    fn uv_pass_reasons() {
        check_reasons(
            Tool::Uv,
            &[
                (&[], PassReason::Help),
                (&["--help"], PassReason::Help),
                (&["-h"], PassReason::Help),
                (&["help"], PassReason::Help),
                (&["help", "pip"], PassReason::Help),
                (&["pip"], PassReason::Help),
                (&["pip", "--help"], PassReason::Help),
                (&["pip", "install", "--help"], PassReason::Help),
                (&["pip", "install", "x", "-h"], PassReason::Help),
                (&["sync", "--help"], PassReason::Help),
                (&["run", "--help"], PassReason::Help),
                (&["run", "--with", "x", "-h"], PassReason::Help),
                (&["tool", "--help"], PassReason::Help),
                (&["tool", "run", "--help"], PassReason::Help),
                (&["python", "install", "-h"], PassReason::Help),
                (&["venv", "--help"], PassReason::Help),
                (&["-V"], PassReason::Version),
                (&["--version"], PassReason::Version),
                (&["-q", "--version"], PassReason::Version),
                (
                    &["version", "--bump", "patch", "--dry-run"],
                    PassReason::DryRun,
                ),
                (&["pip", "list"], PassReason::NotAnInstall),
                (&["tool", "run"], PassReason::NotAnInstall),
            ],
        );
    }

    #[test]
    fn uv_canonical_options() {
        let req = request(
            Tool::Uv,
            &[
                "--directory",
                "/tmp/p",
                "--cache-dir",
                "/tmp/c",
                "pip",
                "install",
                "-p",
                "3.12",
                "-i",
                "http://127.0.0.1:3141/simple",
                "--extra-index-url",
                "http://127.0.0.1:3142/simple",
                "-f",
                "/tmp/wheels",
                "-r",
                "req.txt",
                "requests",
                "--no-binary",
                ":all:",
                "rich",
            ],
        );
        assert_eq!(req.tool, Tool::Uv);
        assert_eq!(req.command, "pip install");
        assert_eq!(req.packages, v(&["requests", "rich"]));
        assert_eq!(req.option("directory"), Some("/tmp/p"));
        assert_eq!(req.option("cache-dir"), Some("/tmp/c"));
        assert_eq!(req.option("python"), Some("3.12"));
        assert_eq!(
            req.option("index-url"),
            Some("http://127.0.0.1:3141/simple")
        );
        assert_eq!(
            req.option("extra-index-url"),
            Some("http://127.0.0.1:3142/simple")
        );
        assert_eq!(req.option("find-links"), Some("/tmp/wheels"));
        assert_eq!(req.option("requirements"), Some("req.txt"));

        let req = request(
            Tool::Uv,
            &[
                "--project",
                "/tmp/p",
                "sync",
                "--index",
                "http://127.0.0.1:3141/simple",
                "--default-index=http://127.0.0.1:3142/simple",
                "--python",
                "3.11",
            ],
        );
        assert_eq!(req.option("project"), Some("/tmp/p"));
        assert_eq!(req.option("index"), Some("http://127.0.0.1:3141/simple"));
        assert_eq!(
            req.option("default-index"),
            Some("http://127.0.0.1:3142/simple")
        );
        assert_eq!(req.option("python"), Some("3.11"));
        assert!(req.packages.is_empty());

        // The program's options are not uv's.
        let req = request(
            Tool::Uv,
            &["run", "-p", "3.12", "--with", "rich", "tool.py", "-i", "x"],
        );
        assert_eq!(req.packages, v(&["tool.py"]));
        assert_eq!(req.option("python"), Some("3.12"));
        assert_eq!(req.option("with"), Some("rich"));
        assert_eq!(req.option("index-url"), None);

        // `uv python install -i` is the install directory.
        let req = request(
            Tool::Uv,
            &["python", "install", "-i", "/tmp/py", "-f", "3.12"],
        );
        assert_eq!(req.option("install-dir"), Some("/tmp/py"));
        assert!(req.flag("force"));
        assert_eq!(req.packages, v(&["3.12"]));

        let req = request(Tool::Uv, &["build", "-o", "/tmp/dist"]);
        assert_eq!(req.option("out-dir"), Some("/tmp/dist"));
    }

    #[test]
    fn uvx_is_uv_tool_run() {
        check_verbs(
            Tool::Uvx,
            &[
                (&["ruff"], Some("tool run")),
                (&["ruff", "check", "."], Some("tool run")),
                (&["ruff", "--help"], Some("tool run")),
                (&["ruff", "--version"], Some("tool run")),
                (&["ruff", "-h"], Some("tool run")),
                (&["--from", "ruff==0.5", "ruff", "--help"], Some("tool run")),
                (&["--from", "ruff"], Some("tool run")),
                (&["-p", "3.12", "--with", "rich", "ruff"], Some("tool run")),
                (&["--no-binary", "ruff", "--help"], Some("tool run")),
                (&["--isolated", "-q", "ruff"], Some("tool run")),
                (&["--", "ruff"], Some("tool run")),
                (&["help"], Some("tool run")),
                (&[], None),
                (&["--"], None),
                (&["--help"], None),
                (&["--version"], None),
            ],
        );
        check_reasons(
            Tool::Uvx,
            &[
                (&["--help"], PassReason::Help),
                (&["-h"], PassReason::Help),
                (&["--with", "x", "--help"], PassReason::Help),
                (&["--version"], PassReason::Version),
                (&["-V"], PassReason::Version),
                (&[], PassReason::NotAnInstall),
            ],
        );
        let req = request(
            Tool::Uvx,
            &[
                "--index-url",
                "http://127.0.0.1:3141/simple",
                "--from",
                "ruff==0.5",
                "ruff",
                "-i",
                "y",
            ],
        );
        assert_eq!(req.tool, Tool::Uvx);
        assert_eq!(req.packages, v(&["ruff"]));
        assert_eq!(
            req.option("index-url"),
            Some("http://127.0.0.1:3141/simple")
        );
        assert_eq!(req.option("from"), Some("ruff==0.5"));
    }

    #[test]
    fn poetry_verbs() {
        check_verbs(
            Tool::Poetry,
            &[
                (&["add", "requests"], Some("add")),
                (&["install"], Some("install")),
                (&["update"], Some("update")),
                (&["sync"], Some("sync")),
                (&["lock"], Some("lock")),
                (&["remove", "requests"], Some("remove")),
                (&["self", "add", "poetry-plugin-x"], Some("self add")),
                (&["self", "install"], Some("self install")),
                (&["self", "update"], Some("self update")),
                (&["python", "install", "3.12"], Some("python install")),
                (&["-C", "/tmp/p", "install"], Some("install")),
                (&["--directory", "/tmp/p", "-n", "add", "x"], Some("add")),
                (&["-P", "/tmp/p", "--no-ansi", "sync"], Some("sync")),
                (
                    &["-vvv", "--no-plugins", "--no-cache", "lock"],
                    Some("lock"),
                ),
                (&["-C", "install", "show"], None),
                (&["run", "pytest"], None),
                (&["run", "pip", "install", "x"], None),
                (&["shell"], None),
                (&["build"], None),
                (&["show"], None),
                (&["check"], None),
                (&["config", "--list"], None),
                (&["env", "info"], None),
                (&["env", "use", "3.12"], None),
                (&["publish"], None),
                (&["version"], None),
                (&["version", "minor"], None),
                (&["self", "show"], None),
                (&["python", "list"], None),
                (&["nonsense"], None),
                (&["-"], None),
                (&["--"], None),
                (&[], None),
            ],
        );
    }

    #[test]
    fn poetry_pass_reasons() {
        check_reasons(
            Tool::Poetry,
            &[
                (&[], PassReason::Help),
                (&["--help"], PassReason::Help),
                (&["-h"], PassReason::Help),
                (&["help", "add"], PassReason::Help),
                (&["add", "--help"], PassReason::Help),
                (&["add", "x", "-h"], PassReason::Help),
                (&["self", "--help"], PassReason::Help),
                (&["self"], PassReason::Help),
                (&["run", "--help"], PassReason::Help),
                (&["run", "pytest", "--help"], PassReason::NotAnInstall),
                (&["--version"], PassReason::Version),
                (&["-V"], PassReason::Version),
            ],
        );
    }

    #[test]
    fn poetry_options() {
        let req = request(
            Tool::Poetry,
            &[
                "-C", "/tmp/p", "add", "-G", "dev", "--source", "local", "requests", "rich",
            ],
        );
        assert_eq!(req.command, "add");
        assert_eq!(req.packages, v(&["requests", "rich"]));
        assert_eq!(req.option("directory"), Some("/tmp/p"));
        assert_eq!(req.option("group"), Some("dev"));
        assert_eq!(req.option("source"), Some("local"));

        let req = request(
            Tool::Poetry,
            &["-P", "/tmp/q", "install", "--directory=/tmp/r"],
        );
        assert_eq!(req.option("project"), Some("/tmp/q"));
        assert_eq!(req.option("directory"), Some("/tmp/r"));
    }

    #[test]
    fn pipx_verbs() {
        check_verbs(
            Tool::Pipx,
            &[
                (&["install", "black"], Some("install")),
                (&["install-all", "/tmp/spec.json"], Some("install-all")),
                (&["inject", "black", "click"], Some("inject")),
                (&["upgrade", "black"], Some("upgrade")),
                (&["upgrade-all"], Some("upgrade-all")),
                (&["upgrade-shared"], Some("upgrade-shared")),
                (&["reinstall", "black"], Some("reinstall")),
                (&["reinstall-all"], Some("reinstall-all")),
                (&["run", "black"], Some("run")),
                (&["run", "black", "--help"], Some("run")),
                (&["run", "black", "--version"], Some("run")),
                (
                    &["run", "--spec", "black==24.1", "black", "-h"],
                    Some("run"),
                ),
                (
                    &["runpip", "black", "install", "click"],
                    Some("runpip install"),
                ),
                (
                    &["runpip", "black", "download", "click"],
                    Some("runpip download"),
                ),
                (&["runpip", "black", "wheel", "click"], Some("runpip wheel")),
                (&["runpip", "black", "lock", "click"], Some("runpip lock")),
                (
                    &["runpip", "black", "--timeout", "5", "install", "x"],
                    Some("runpip install"),
                ),
                (&["interpreter", "upgrade"], Some("interpreter upgrade")),
                (&["-v", "install", "black"], Some("install")),
                (&["--quiet", "run", "cowsay", "hi"], Some("run")),
                (&["runpip", "black", "list"], None),
                (&["runpip", "black", "show", "click"], None),
                (&["runpip", "black", "uninstall", "click"], None),
                (&["runpip", "black", "--timeout", "install", "list"], None),
                (&["runpip"], None),
                (&["run"], None),
                (&["list"], None),
                (&["environment"], None),
                (&["uninstall", "black"], None),
                (&["ensurepath"], None),
                (&["completion"], None),
                (&["interpreter", "list"], None),
                (&["nonsense"], None),
                (&["-"], None),
                (&["--"], None),
                (&[], None),
            ],
        );
    }

    #[test]
    fn pipx_pass_reasons() {
        check_reasons(
            Tool::Pipx,
            &[
                (&[], PassReason::Help),
                (&["--help"], PassReason::Help),
                (&["-h"], PassReason::Help),
                (&["install", "--help"], PassReason::Help),
                (&["install", "black", "-h"], PassReason::Help),
                (&["run", "--help"], PassReason::Help),
                (&["run", "--spec", "x", "-h"], PassReason::Help),
                (&["runpip", "--help"], PassReason::Help),
                (&["runpip", "black", "install", "--help"], PassReason::Help),
                (&["runpip", "black", "help", "install"], PassReason::Help),
                (&["runpip", "black"], PassReason::Help),
                (&["runpip", "black", "--version"], PassReason::Version),
                (&["--version"], PassReason::Version),
                (&["list"], PassReason::NotAnInstall),
            ],
        );
    }

    #[test]
    fn pipx_options() {
        let req = request(
            Tool::Pipx,
            &[
                "install",
                "-i",
                "http://127.0.0.1:3141/simple",
                "--python",
                "3.12",
                "black",
            ],
        );
        assert_eq!(req.packages, v(&["black"]));
        assert_eq!(
            req.option("index-url"),
            Some("http://127.0.0.1:3141/simple")
        );
        assert_eq!(req.option("python"), Some("3.12"));

        let req = request(
            Tool::Pipx,
            &[
                "runpip",
                "black",
                "install",
                "-i",
                "http://127.0.0.1:3141/simple",
                "click",
            ],
        );
        assert_eq!(req.command, "runpip install");
        assert_eq!(req.packages, v(&["black", "click"]));
        assert_eq!(
            req.option("index-url"),
            Some("http://127.0.0.1:3141/simple")
        );

        let req = request(
            Tool::Pipx,
            &[
                "run",
                "--index-url=http://127.0.0.1:3141/simple",
                "cowsay",
                "-i",
                "x",
            ],
        );
        assert_eq!(req.packages, v(&["cowsay"]));
        assert_eq!(
            req.option_values("index-url"),
            vec!["http://127.0.0.1:3141/simple"]
        );
    }

    #[test]
    fn odd_input_never_panics() {
        let vocab = [
            "",
            "-",
            "--",
            "-h",
            "-V",
            "--version",
            "-p",
            "-i",
            "--from",
            "--index-url=",
            "pip",
            "install",
            "run",
            "tool",
            "python",
            "self",
            "runpip",
            "é",
            "-é",
            "--é=ü",
        ];
        for a in vocab {
            for b in vocab {
                for c in vocab {
                    for tool in [Tool::Uv, Tool::Uvx, Tool::Poetry, Tool::Pipx] {
                        let _ = classify(tool, &v(&[a, b, c]));
                        let _ = classify(tool, &v(&[a, b]));
                        let _ = classify(tool, &v(&[a]));
                    }
                }
            }
        }
    }

    #[test]
    fn poetry_dry_runs_stay_installs() {
        for args in [
            &["add", "--dry-run", "x"][..],
            &["install", "--dry-run"],
            &["-C", "/tmp/p", "lock", "--dry-run"],
        ] {
            let words: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            assert!(
                matches!(classify(Tool::Poetry, &words), Classified::Install(_)),
                "{args:?}"
            );
        }
    }
}
