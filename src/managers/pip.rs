//! pip adapter: classifies `pip`/`pip3` command lines and `python` lines
//! (`-m pip`, `-m ensurepip`, and the managers `pyrun` finds in them).
//!
//! pip parses its general options up to the subcommand (optparse with
//! interspersed arguments disabled), then hands everything else to the
//! subcommand's parser, which accepts the general options again. optparse also
//! accepts any unambiguous prefix of a long option (`--index` for
//! `--index-url`), so long names are expanded before tokenizing.
//!
//! Dry runs are deliberately not a passthrough here: `pip install --dry-run`
//! and `pip download` still fetch distributions and build sdists (running
//! their `setup.py` / build backend) to learn their metadata.

use super::args::{self, Spec, Token};
use super::pyrun;
use super::{Classified, InstallRequest, Opt, PassReason, Tool, to_opts};

/// pip's general options that take a value.
const GENERAL_VALUE: &[&str] = &[
    "python",
    "log",
    "log-file",
    "local-log",
    "keyring-provider",
    "proxy",
    "retries",
    "timeout",
    "default-timeout",
    "exists-action",
    "trusted-host",
    "cert",
    "client-cert",
    "cache-dir",
    "use-feature",
    "use-deprecated",
    "resume-retries",
];

/// pip's general options that are flags.
const GENERAL_FLAGS: &[&str] = &[
    "help",
    "debug",
    "isolated",
    "require-virtualenv",
    "require-venv",
    "verbose",
    "version",
    "quiet",
    "no-input",
    "no-cache-dir",
    "disable-pip-version-check",
    "no-color",
    "no-python-version-warning",
];

/// None of pip's general short options (-h -v -V -q) takes a value.
const GENERAL_SPEC: Spec = Spec {
    value_long: GENERAL_VALUE,
    value_short: &[],
};

/// Options of install/download/wheel/lock that take a value (plus the general
/// ones, which the subcommand parser accepts too). Erring towards listing more
/// only costs a misread package name, never the classification.
const COMMAND_VALUE: &[&str] = &[
    "python",
    "log",
    "log-file",
    "local-log",
    "keyring-provider",
    "proxy",
    "retries",
    "timeout",
    "default-timeout",
    "exists-action",
    "trusted-host",
    "cert",
    "client-cert",
    "cache-dir",
    "use-feature",
    "use-deprecated",
    "resume-retries",
    "requirement",
    "constraint",
    "build-constraint",
    "editable",
    "target",
    "prefix",
    "root",
    "index-url",
    "pypi-url",
    "extra-index-url",
    "find-links",
    "platform",
    "python-version",
    "implementation",
    "abi",
    "src",
    "source",
    "source-dir",
    "source-directory",
    "upgrade-strategy",
    "progress-bar",
    "report",
    "only-binary",
    "no-binary",
    "config-settings",
    "global-option",
    "install-option",
    "build-option",
    "dest",
    "destination-dir",
    "destination-directory",
    "wheel-dir",
    "root-user-action",
    "group",
    "output",
    "requirements-from-script",
    "uploaded-prior-to",
];

/// Flags of install/download/wheel/lock, for expanding abbreviations.
const COMMAND_FLAGS: &[&str] = &[
    "no-deps",
    "pre",
    "dry-run",
    "user",
    "upgrade",
    "force-reinstall",
    "ignore-installed",
    "ignore-requires-python",
    "no-build-isolation",
    "use-pep517",
    "no-use-pep517",
    "check-build-dependencies",
    "break-system-packages",
    "compile",
    "no-compile",
    "no-warn-script-location",
    "no-warn-conflicts",
    "prefer-binary",
    "require-hashes",
    "no-clean",
    "no-index",
    "no-verify",
];

const COMMAND_SPEC: Spec = Spec {
    value_long: COMMAND_VALUE,
    value_short: &['r', 'c', 'e', 't', 'i', 'f', 'C', 'd', 'w', 'o'],
};

/// Short letters and aliases mapped to canonical long names.
const NAMES: &[(&str, &str)] = &[
    ("h", "help"),
    ("v", "verbose"),
    ("V", "version"),
    ("q", "quiet"),
    ("i", "index-url"),
    ("pypi-url", "index-url"),
    ("t", "target"),
    ("r", "requirement"),
    ("c", "constraint"),
    ("e", "editable"),
    ("f", "find-links"),
    ("U", "upgrade"),
    ("I", "ignore-installed"),
    ("C", "config-settings"),
    ("d", "dest"),
    ("destination-dir", "dest"),
    ("destination-directory", "dest"),
    ("w", "wheel-dir"),
    ("o", "output"),
    ("log-file", "log"),
    ("local-log", "log"),
    ("default-timeout", "timeout"),
    ("require-venv", "require-virtualenv"),
    ("source", "src"),
    ("source-dir", "src"),
    ("source-directory", "src"),
];

/// Every pip subcommand (pip refuses anything else).
const COMMANDS: &[&str] = &[
    "install",
    "download",
    "uninstall",
    "freeze",
    "inspect",
    "list",
    "show",
    "check",
    "config",
    "search",
    "cache",
    "index",
    "wheel",
    "hash",
    "completion",
    "debug",
    "help",
    "lock",
];

/// The subcommands that fetch distributions (and may build them).
const INSTALLS: &[&str] = &["install", "download", "wheel", "lock"];

/// ensurepip's argparse options.
const ENSUREPIP_NAMES: &[&str] = &[
    "help",
    "version",
    "verbose",
    "root",
    "user",
    "upgrade",
    "default-pip",
    "altinstall",
];

const ENSUREPIP_SPEC: Spec = Spec {
    value_long: &["root"],
    value_short: &[],
};

/// Classifies a `pip`/`pip3` command line.
pub fn classify(tool: Tool, args: &[String]) -> Classified {
    classify_pip(args).request(tool, "")
}

/// Classifies a `python`/`python3` command line: a manager it runs
/// (`-m pip`, `-m ensurepip`, `-m pipx`, `-m uv`, a module of their
/// packages, a script operand that is one: see `pyrun`) is read with that
/// manager's grammar; anything else is the interpreter's own business.
pub fn classify_python(args: &[String]) -> Classified {
    let mut version = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        // `-` (stdin) ends the interpreter options; `--` or a script path
        // too, the script then runs with the words after it.
        if arg == "-" {
            break;
        }
        if arg == "--" || !arg.starts_with('-') {
            let at = if arg == "--" { i + 1 } else { i };
            return match args.get(at) {
                Some(script) if !version => classify_script(script, &args[at + 1..]),
                _ => interpreter_only(version),
            };
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            match name {
                "help" | "help-env" | "help-xoptions" | "help-all" => {
                    return Classified::pass(PassReason::Help);
                }
                "version" => version = true,
                "check-hash-based-pycs" if value.is_none() => i += 1,
                // Anything else makes the interpreter refuse to start.
                _ => {}
            }
            i += 1;
            continue;
        }
        // A cluster of short options: `-I`, `-Bm pip`, `-Xdev`, `-mpip`.
        let letters = &arg[1..];
        for (pos, flag) in letters.char_indices() {
            let rest = &letters[pos + flag.len_utf8()..];
            match flag {
                // Help is printed as soon as the option is seen.
                'h' | '?' => return Classified::pass(PassReason::Help),
                'V' => version = true,
                'c' => {
                    // The code, attached or next; the words after it are
                    // its `sys.argv`.
                    let (code, after) = if rest.is_empty() {
                        (args.get(i + 1), args.get(i + 2..).unwrap_or(&[]))
                    } else {
                        (None, args.get(i + 1..).unwrap_or(&[]))
                    };
                    let code = code.map(String::as_str).unwrap_or(rest);
                    return match super::pyrun::imports(code.as_bytes()) {
                        Some(m) if !version => classify_as(m, after),
                        _ => interpreter_only(version),
                    };
                }
                'm' => {
                    // The version is printed before any module runs.
                    if version {
                        return Classified::pass(PassReason::Version);
                    }
                    let (module, module_args) = if rest.is_empty() {
                        match args.get(i + 1) {
                            Some(m) => (m.as_str(), args.get(i + 2..).unwrap_or(&[])),
                            // `python -m` with no module is an error.
                            None => return Classified::pass(PassReason::NotAnInstall),
                        }
                    } else {
                        (rest, args.get(i + 1..).unwrap_or(&[]))
                    };
                    return classify_module(module, module_args);
                }
                // `-W arg` / `-X opt` take a value, attached or not.
                'W' | 'X' => {
                    if rest.is_empty() {
                        i += 1;
                    }
                    break;
                }
                _ => {}
            }
        }
        i += 1;
    }
    interpreter_only(version)
}

/// The directories `python -m venv|virtualenv DIR…` creates (as written,
/// relative to the working directory), or `None` for any other command line.
pub fn new_venvs(args: &[String]) -> Option<Vec<String>> {
    let m = args.iter().position(|a| a == "-m" || a.starts_with("-m"))?;
    // Only interpreter options may come before `-m`.
    if args[..m].iter().any(|a| !a.starts_with('-')) {
        return None;
    }
    let (module, rest) = match args[m].strip_prefix("-m") {
        Some("") => (args.get(m + 1)?.as_str(), args.get(m + 2..).unwrap_or(&[])),
        Some(attached) => (attached, args.get(m + 1..).unwrap_or(&[])),
        None => return None,
    };
    if module != "venv" && module != "virtualenv" {
        return None;
    }
    // The options of venv and virtualenv that take a value.
    const SPEC: super::args::Spec = super::args::Spec {
        value_long: &[
            "prompt",
            "python",
            "activators",
            "app-data",
            "discovery",
            "creator",
            "seeder",
            "pip",
            "setuptools",
            "wheel",
            "extra-search-dir",
        ],
        value_short: &['p'],
    };
    Some(
        super::args::scan(rest, &SPEC, false)
            .into_iter()
            .filter_map(|t| match t {
                super::args::Token::Positional(p) => Some(p.to_string()),
                _ => None,
            })
            .collect(),
    )
}

/// The result for a python command line that runs no module of interest.
fn interpreter_only(version: bool) -> Classified {
    if version {
        Classified::pass(PassReason::Version)
    } else {
        Classified::pass(PassReason::NotAnInstall)
    }
}

/// `python -m <module> <args>`: any module of a manager's package is that
/// manager (`pip.__pip-runner__` runs pip's main too).
fn classify_module(module: &str, args: &[String]) -> Classified {
    match module {
        // Uninstalls what ensurepip installed.
        "ensurepip._uninstall" => Classified::pass(PassReason::NotAnInstall),
        _ => match pyrun::module_manager(module) {
            Some(m) => classify_as(m, args),
            None => Classified::pass(PassReason::NotAnInstall),
        },
    }
}

/// `python <script> <args>`: a script operand that is a manager is read
/// with its grammar; a directory or archive nothing can read is an install
/// when any manager would install with these words (fail closed).
fn classify_script(script: &str, args: &[String]) -> Classified {
    match pyrun::operand(script) {
        pyrun::Operand::Manager(m) => classify_as(m, args),
        pyrun::Operand::Script => Classified::pass(PassReason::NotAnInstall),
        pyrun::Operand::Unknown => pyrun::ANY
            .iter()
            .map(|m| classify_as(*m, args))
            .find(|c| matches!(c, Classified::Install(r) if !pyrun::runs_a_program(r)))
            .unwrap_or(Classified::pass(PassReason::NotAnInstall)),
    }
}

/// `args` read by manager `m`'s grammar, as an install of the interpreter.
fn classify_as(m: pyrun::PyManager, args: &[String]) -> Classified {
    let pip_args: Vec<String>;
    let args = match m {
        pyrun::PyManager::Ensurepip => return classify_ensurepip(args),
        pyrun::PyManager::Pip => args,
        // get-pip.py takes pip install's options and packages, no verb.
        pyrun::PyManager::GetPip => {
            pip_args = std::iter::once("install".to_string())
                .chain(args.iter().cloned())
                .collect();
            &pip_args
        }
        other => {
            return pyrun::classify_other(other, args)
                .unwrap_or(Classified::pass(PassReason::NotAnInstall));
        }
    };
    classify_pip(args).request(Tool::Python, "-m pip ")
}

/// `python -m ensurepip [options]`: installs the bundled pip wheel, which
/// runs pip's code.
fn classify_ensurepip(args: &[String]) -> Classified {
    // argparse accepts unambiguous prefixes of long options too.
    let (norm, _) = expand_long(args, ENSUREPIP_NAMES, &ENSUREPIP_SPEC, false);
    let tokens = args::scan(&norm, &ENSUREPIP_SPEC, false);
    if args::has(&tokens, &["help"], &['h']) {
        return Classified::pass(PassReason::Help);
    }
    if args::has(&tokens, &["version"], &[]) {
        return Classified::pass(PassReason::Version);
    }
    Classified::Install(InstallRequest {
        tool: Tool::Python,
        command: "-m ensurepip".to_string(),
        packages: Vec::new(),
        options: to_opts(&tokens, &[("U", "upgrade"), ("v", "verbose")]),
    })
}

/// What the pip grammar made of a line, before the tool is known.
enum Pip {
    Pass(PassReason),
    Install {
        command: &'static str,
        packages: Vec<String>,
        options: Vec<Opt>,
    },
}

impl Pip {
    /// The install request of `tool` (its command written after `prefix`),
    /// or the pass-through.
    fn request(self, tool: Tool, prefix: &str) -> Classified {
        match self {
            Pip::Pass(reason) => Classified::pass(reason),
            Pip::Install {
                command,
                packages,
                options,
            } => Classified::Install(InstallRequest {
                tool,
                command: format!("{prefix}{command}"),
                packages,
                options,
            }),
        }
    }
}

/// Classifies pip's own arguments (after `pip` or `python -m pip`).
fn classify_pip(args: &[String]) -> Pip {
    let general_names: Vec<&str> = GENERAL_VALUE.iter().chain(GENERAL_FLAGS).copied().collect();
    let (norm, _) = expand_long(args, &general_names, &GENERAL_SPEC, true);
    let split = split_known(&norm, &GENERAL_SPEC);

    // optparse prints help the moment it meets -h; --version is checked
    // once the general options are parsed. Neither is looked at again after
    // the subcommand (`pip install --version x` installs x).
    if args::has(&split.before, &["help"], &['h']) {
        return Pip::Pass(PassReason::Help);
    }
    if args::has(&split.before, &["version"], &['V']) {
        return Pip::Pass(PassReason::Version);
    }
    let Some(command) = split.command else {
        // Bare `pip` prints its help.
        return Pip::Pass(PassReason::Help);
    };
    let Some(command) = INSTALLS.iter().copied().find(|c| *c == command) else {
        return Pip::Pass(if command == "help" {
            PassReason::Help
        } else {
            PassReason::NotAnInstall
        });
    };

    let mut options = to_opts(&split.before, NAMES);
    let mut packages = Vec::new();
    if split.verbatim {
        // `pip -- install x`: everything after the command is an argument.
        packages.extend(split.rest.iter().cloned());
    } else {
        let all_names: Vec<&str> = COMMAND_VALUE
            .iter()
            .chain(COMMAND_FLAGS)
            .chain(GENERAL_FLAGS)
            .copied()
            .collect();
        let (rest, _) = expand_long(split.rest, &all_names, &COMMAND_SPEC, false);
        let tokens = args::scan(&rest, &COMMAND_SPEC, false);
        if args::has(&tokens, &["help"], &['h']) {
            return Pip::Pass(PassReason::Help);
        }
        options.extend(to_opts(&tokens, NAMES));
        for t in &tokens {
            match t {
                Token::Positional(p) => packages.push((*p).to_string()),
                Token::AfterDoubleDash(words) => packages.extend(words.iter().cloned()),
                _ => {}
            }
        }
    }
    Pip::Install {
        command,
        packages,
        options,
    }
}

/// A command line split at its subcommand.
struct Split<'a> {
    /// The options before the subcommand.
    before: Vec<Token<'a>>,
    /// The subcommand, if any.
    command: Option<&'a str>,
    /// The words after it.
    rest: &'a [String],
    /// True when the subcommand came after `--`, so `rest` holds arguments only.
    verbatim: bool,
}

/// Splits at the subcommand like `args::split_command`, with two differences
/// that keep an install from being mistaken for something else: a word that
/// is not a pip command and directly follows an unknown long option is read
/// as that option's value (a newer pip may have added a value option), and
/// a subcommand after `--` still counts (optparse just stops reading
/// options there).
fn split_known<'a>(args: &'a [String], spec: &Spec) -> Split<'a> {
    let mut before = Vec::new();
    let mut rest = args;
    loop {
        let (tokens, command, after) = args::split_command(rest, spec);
        before.extend(tokens);
        let Some(word) = command else { break };
        if !COMMANDS.contains(&word)
            && let Some(Token::Long { name, value }) = before.last_mut()
            && value.is_none()
            && !GENERAL_FLAGS.contains(name)
        {
            *value = Some(word);
            rest = after;
            continue;
        }
        return Split {
            before,
            command: Some(word),
            rest: after,
            verbatim: false,
        };
    }
    if let Some(Token::AfterDoubleDash(words)) = before.last() {
        let words = *words;
        if let Some((first, tail)) = words.split_first() {
            before.pop();
            return Split {
                before,
                command: Some(first.as_str()),
                rest: tail,
                verbatim: true,
            };
        }
    }
    Split {
        before,
        command: None,
        rest: &[],
        verbatim: false,
    }
}

/// Rewrites unambiguous prefixes of the long options in `names` to their full
/// names (`--index` → `--index-url`), leaving option values untouched. With
/// `stop`, stops at the first positional word and returns its index. The
/// result has one word per input word.
fn expand_long(
    args: &[String],
    names: &[&str],
    spec: &Spec,
    stop: bool,
) -> (Vec<String>, Option<usize>) {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            out.extend(args[i..].iter().cloned());
            return (out, None);
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let full = unique_prefix(name, names).unwrap_or(name);
            out.push(match value {
                Some(v) => format!("--{full}={v}"),
                None => format!("--{full}"),
            });
            if value.is_none()
                && spec.value_long.contains(&full)
                && let Some(v) = args.get(i + 1)
            {
                out.push(v.clone());
                i += 1;
            }
        } else if arg.len() > 1 && arg.starts_with('-') {
            out.push(arg.clone());
            // A value letter ending the cluster takes the next word.
            let letters = &arg[1..];
            let first_value = letters
                .char_indices()
                .find(|(_, c)| spec.value_short.contains(c));
            if let Some((pos, c)) = first_value
                && pos + c.len_utf8() == letters.len()
                && let Some(v) = args.get(i + 1)
            {
                out.push(v.clone());
                i += 1;
            }
        } else if stop {
            out.extend(args[i..].iter().cloned());
            return (out, Some(i));
        } else {
            out.push(arg.clone());
        }
        i += 1;
    }
    (out, None)
}

/// The one name in `names` that `word` is, or is an unambiguous prefix of
/// (optparse's abbreviation rule).
fn unique_prefix<'n>(word: &str, names: &[&'n str]) -> Option<&'n str> {
    if word.is_empty() {
        return None;
    }
    if let Some(exact) = names.iter().find(|n| **n == word) {
        return Some(exact);
    }
    let mut found = names.iter().filter(|n| n.starts_with(word));
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

// ------------------------------------------------------------ adapter ----

/// The adapter of pip, pip3 and `python -m pip`.
pub struct PipAdapter;

impl super::Adapter for PipAdapter {
    fn family(&self) -> super::Family {
        super::Family::Pip
    }
    fn date_gate(
        &self,
        p: &super::facts::InstallPlan,
        cut: &crate::model::cooldown::Cutoff,
        _args: &[String],
        _cwd: &std::path::Path,
    ) -> Result<crate::model::cooldown::DateGate, String> {
        super::cooldown::pip(p, cut)
    }
    fn registry_docs(&self, _tool: Tool) -> Vec<crate::model::cooldown::DocKind> {
        vec![crate::model::cooldown::DocKind::SimpleIndex]
    }
    fn tools(&self) -> &'static [Tool] {
        &[Tool::Pip, Tool::Pip3, Tool::Python]
    }
    fn classify(&self, tool: Tool, args: &[String]) -> Classified {
        match tool {
            Tool::Python => classify_python(args),
            _ => classify(tool, args),
        }
    }
    fn new_venvs(&self, tool: Tool, args: &[String]) -> Option<Vec<String>> {
        (tool == Tool::Python).then(|| new_venvs(args)).flatten()
    }
    fn always_sandboxed(&self, _tool: Tool) -> bool {
        true
    }
    fn target_interpreter(
        &self,
        real: &std::path::Path,
        request: &InstallRequest,
    ) -> Option<std::path::PathBuf> {
        super::pip_facts::pip_target_interpreter(real, request)
    }
    fn relevant_env(&self, k: &str) -> bool {
        k.starts_with("PIP_")
            || k == "NETRC"
            || k.starts_with("PYTHON")
            || k == "VIRTUAL_ENV"
            || k == "CONDA_PREFIX"
    }
    fn facts(
        &self,
        real: &std::path::Path,
        _tool: Tool,
        interpreter: Option<&std::path::Path>,
        _cwd: &std::path::Path,
    ) -> Result<super::facts::ManagerFacts, super::facts::FactsError> {
        super::pip_facts::pip_facts(real, interpreter)
    }
    fn plan(&self, p: &mut super::facts::InstallPlan, cwd: &std::path::Path) {
        super::pip_facts::apply_pip(p, cwd);
        // install, download, wheel and lock all build a local project.
        super::facts::apply_local_projects(p, cwd);
        super::pip_facts::netrc_credentials(p, crate::paths::home().as_deref());
        p.package_code = super::package_code::shapes("pip");
    }
    fn attribution(&self) -> Vec<super::Attribution> {
        // pip runs an sdist's build (`setup.py`, a PEP 517 backend) in the
        // unpacked source, `…/pip-install-XXXX/<name>_<hash>` (or
        // `pip-req-build-XXXX` for a local path); its PKG-INFO has the
        // version. The supervisor asks at exec time, while it exists.
        vec![super::Attribution::BuildDir {
            after: "pip-install-".into(),
            cut: '_',
            whole: "pip-req-build-".into(),
            metadata: "PKG-INFO".into(),
            hooks: super::ArgHooks {
                by_arg: vec![
                    ("setup.py".into(), "setup.py".into()),
                    ("_in_process.py".into(), "build-backend".into()),
                ],
                default: "build".into(),
            },
        }]
    }
    fn proxy_vars(&self) -> super::ProxyVars {
        super::ProxyVars {
            set: vec!["PIP_PROXY".into()],
            clear: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managers::testkit::v;

    fn install(c: &Classified) -> &InstallRequest {
        match c {
            Classified::Install(r) => r,
            other => panic!("expected an install, got {other:?}"),
        }
    }

    /// The canonical command of an install, or None for a passthrough.
    fn command(c: &Classified) -> Option<String> {
        match c {
            Classified::Install(r) => Some(r.command.clone()),
            Classified::Passthrough { .. } => None,
        }
    }

    fn reason(c: &Classified) -> Option<PassReason> {
        match c {
            Classified::Passthrough { reason } => Some(*reason),
            Classified::Install(_) => None,
        }
    }

    #[test]
    fn pip_commands() {
        let table: &[(&[&str], Option<&str>)] = &[
            (&["install", "requests"], Some("install")),
            (&["install", "-r", "requirements.txt"], Some("install")),
            (&["install", "-e", "."], Some("install")),
            (&["install", "--dry-run", "requests"], Some("install")),
            (&["download", "requests"], Some("download")),
            (&["wheel", "-w", "wheels", "requests"], Some("wheel")),
            (&["lock", "-r", "req.in"], Some("lock")),
            (&["-q", "install", "x"], Some("install")),
            (
                &["--isolated", "--no-cache-dir", "install", "x"],
                Some("install"),
            ),
            (&["--cache-dir", "/tmp/c", "install", "x"], Some("install")),
            (&["--cache-dir=/tmp/c", "install", "x"], Some("install")),
            (
                &["--python", "/usr/bin/python3", "install", "x"],
                Some("install"),
            ),
            (&["--log", "install", "install", "x"], Some("install")),
            (
                &["--proxy", "http://127.0.0.1:3128", "download", "x"],
                Some("download"),
            ),
            (
                &["--timeout", "5", "--retries", "1", "install", "x"],
                Some("install"),
            ),
            (&["--exists-action", "w", "install", "x"], Some("install")),
            (
                &["--trusted-host", "127.0.0.1", "install", "x"],
                Some("install"),
            ),
            (
                &[
                    "--cert",
                    "/c.pem",
                    "--client-cert",
                    "/k.pem",
                    "install",
                    "x",
                ],
                Some("install"),
            ),
            (
                &["--keyring-provider", "auto", "install", "x"],
                Some("install"),
            ),
            (
                &["--use-feature", "truststore", "install", "x"],
                Some("install"),
            ),
            (
                &["--use-deprecated", "legacy-certs", "install", "x"],
                Some("install"),
            ),
            (
                &["--log-file", "/l", "--local-log", "/l", "install", "x"],
                Some("install"),
            ),
            // An abbreviated general option still takes its value.
            (&["--cache", "/tmp/c", "install", "x"], Some("install")),
            // An unknown value option before the subcommand.
            (
                &["--some-new-option", "val", "install", "x"],
                Some("install"),
            ),
            // optparse stops at `--`, but the subcommand still follows.
            (&["--", "install", "x"], Some("install")),
            (&["install", "x", "-V"], Some("install")),
            (&["install", "--version", "x"], Some("install")),
            (&["uninstall", "-y", "x"], None),
            (&["list"], None),
            (&["show", "x"], None),
            (&["freeze"], None),
            (&["config", "list"], None),
            (&["cache", "purge"], None),
            (&["debug"], None),
            (&["check"], None),
            (&["inspect"], None),
            (&["hash", "x.whl"], None),
            (&["search", "x"], None),
            (&["index", "versions", "x"], None),
            (&["completion", "--bash"], None),
            (&["help"], None),
            (&["help", "install"], None),
            (&["notacommand"], None),
            (&[], None),
            (&["-"], None),
            (&["--"], None),
            (&["--cache-dir"], None),
            (&["-h"], None),
            (&["--help", "install", "x"], None),
            (&["-V"], None),
            (&["--version"], None),
            (&["install", "-h"], None),
            (&["install", "x", "--help"], None),
            (&["download", "--hel"], None),
            (&["ïnstall", "ü"], None),
        ];
        for (words, want) in table {
            let got = classify(Tool::Pip, &v(words));
            assert_eq!(command(&got).as_deref(), *want, "pip {words:?}: {got:?}");
        }
    }

    #[test]
    fn pip_pass_reasons() {
        let table: &[(&[&str], PassReason)] = &[
            (&[], PassReason::Help),
            (&["-h"], PassReason::Help),
            (&["--help"], PassReason::Help),
            (&["help", "install"], PassReason::Help),
            (&["install", "--help"], PassReason::Help),
            (&["-V"], PassReason::Version),
            (&["--version"], PassReason::Version),
            (&["-q", "--version", "install", "x"], PassReason::Version),
            (&["list"], PassReason::NotAnInstall),
            (&["uninstall", "x"], PassReason::NotAnInstall),
        ];
        for (words, want) in table {
            let got = classify(Tool::Pip3, &v(words));
            assert_eq!(reason(&got), Some(*want), "pip {words:?}");
        }
    }

    #[test]
    fn pip_options_are_canonical() {
        let got = classify(
            Tool::Pip3,
            &v(&[
                "--cache-dir",
                "/tmp/cache",
                "--proxy=http://127.0.0.1:3128",
                "install",
                "-i",
                "http://127.0.0.1:8080/simple",
                "--extra-index-url",
                "http://127.0.0.1:8081/simple",
                "-f",
                "/wheels",
                "-t",
                "/target",
                "--prefix",
                "/prefix",
                "--root=/root",
                "--user",
                "-Ur",
                "req.txt",
                "-e",
                "./local",
                "--python",
                "/usr/bin/python3",
                "requests",
                "flask==3.0",
            ]),
        );
        let r = install(&got);
        assert_eq!(r.tool, Tool::Pip3);
        assert_eq!(r.command, "install");
        assert_eq!(r.packages, v(&["requests", "flask==3.0"]));
        assert_eq!(r.option("cache-dir"), Some("/tmp/cache"));
        assert_eq!(r.option("proxy"), Some("http://127.0.0.1:3128"));
        assert_eq!(r.option("index-url"), Some("http://127.0.0.1:8080/simple"));
        assert_eq!(
            r.option("extra-index-url"),
            Some("http://127.0.0.1:8081/simple")
        );
        assert_eq!(r.option("find-links"), Some("/wheels"));
        assert_eq!(r.option("target"), Some("/target"));
        assert_eq!(r.option("prefix"), Some("/prefix"));
        assert_eq!(r.option("root"), Some("/root"));
        assert_eq!(r.option("requirement"), Some("req.txt"));
        assert_eq!(r.option("editable"), Some("./local"));
        assert_eq!(r.option("python"), Some("/usr/bin/python3"));
        assert!(r.flag("user"));
        assert!(r.flag("upgrade"));
    }

    #[test]
    fn pip_abbreviations_expand() {
        let got = classify(
            Tool::Pip,
            &v(&[
                "install",
                "--index",
                "http://127.0.0.1:8080/simple",
                "--tar",
                "/t",
                "x",
            ]),
        );
        let r = install(&got);
        assert_eq!(r.option("index-url"), Some("http://127.0.0.1:8080/simple"));
        assert_eq!(r.option("target"), Some("/t"));
        assert_eq!(r.packages, v(&["x"]));
        // Attached values and aliases.
        let got = classify(
            Tool::Pip,
            &v(&[
                "download",
                "-d/out",
                "--pypi-url=http://127.0.0.1:1/simple",
                "x",
            ]),
        );
        let r = install(&got);
        assert_eq!(r.option("dest"), Some("/out"));
        assert_eq!(r.option("index-url"), Some("http://127.0.0.1:1/simple"));
        // An ambiguous prefix is left alone.
        let got = classify(Tool::Pip, &v(&["install", "--no-c", "x"]));
        assert!(install(&got).flag("no-c"));
    }

    #[test]
    fn pip_unknown_value_option_keeps_its_value() {
        let got = classify(Tool::Pip, &v(&["--brand-new", "val", "install", "x"]));
        let r = install(&got);
        assert_eq!(r.option("brand-new"), Some("val"));
        assert_eq!(r.packages, v(&["x"]));
    }

    #[test]
    fn pip_double_dash_arguments_are_packages() {
        let got = classify(Tool::Pip, &v(&["install", "--", "-weird", "x"]));
        assert_eq!(install(&got).packages, v(&["-weird", "x"]));
        let got = classify(Tool::Pip, &v(&["--", "install", "-h"]));
        assert_eq!(install(&got).packages, v(&["-h"]));
    }

    #[test]
    fn python_lines() {
        let table: &[(&[&str], Option<&str>)] = &[
            (&["-m", "pip", "install", "x"], Some("-m pip install")),
            (&["-mpip", "install", "x"], Some("-m pip install")),
            (
                &["-m", "pip.__main__", "install", "x"],
                Some("-m pip install"),
            ),
            (
                &["-I", "-m", "pip", "download", "x"],
                Some("-m pip download"),
            ),
            (&["-Im", "pip", "wheel", "x"], Some("-m pip wheel")),
            (&["-Impip", "install", "x"], Some("-m pip install")),
            (
                &["-X", "dev", "-m", "pip", "install", "x"],
                Some("-m pip install"),
            ),
            (
                &["-Xdev", "-m", "pip", "install", "x"],
                Some("-m pip install"),
            ),
            (
                &["-W", "ignore", "-m", "pip", "install", "x"],
                Some("-m pip install"),
            ),
            (
                &["-Wignore", "-B", "-u", "-m", "pip", "install", "x"],
                Some("-m pip install"),
            ),
            (
                &[
                    "-E", "-s", "-S", "-O", "-OO", "-q", "-b", "-bb", "-d", "-i", "-P", "-R", "-v",
                    "-x", "-m", "pip", "install", "x",
                ],
                Some("-m pip install"),
            ),
            (
                &[
                    "--check-hash-based-pycs",
                    "always",
                    "-m",
                    "pip",
                    "install",
                    "x",
                ],
                Some("-m pip install"),
            ),
            (
                &["-m", "pip", "--cache-dir", "/c", "install", "x"],
                Some("-m pip install"),
            ),
            (&["-m", "pip", "lock", "x"], Some("-m pip lock")),
            (&["-m", "ensurepip"], Some("-m ensurepip")),
            (
                &["-m", "ensurepip", "--upgrade", "--root", "/r"],
                Some("-m ensurepip"),
            ),
            (&["-m", "pip", "list"], None),
            (&["-m", "pip", "--version"], None),
            (&["-m", "pip", "install", "-h"], None),
            (&["-m", "pip"], None),
            (&["-m", "ensurepip", "--help"], None),
            (&["-m", "ensurepip", "--version"], None),
            (&["-m", "venv", "env"], None),
            (&["-m", "http.server"], None),
            (&["-m"], None),
            (&["-c", "import pip; pip.main(['install', 'x'])"], None),
            (&["-cprint(1)"], None),
            (&["script.py", "-m", "pip", "install", "x"], None),
            (&["-", "-m", "pip", "install", "x"], None),
            (&["--", "-m", "pip", "install", "x"], None),
            (&["-X"], None),
            (&["-W"], None),
            (&[], None),
            (&["--version"], None),
            (&["-V", "-m", "pip", "install", "x"], None),
            (&["-h"], None),
            (&["-?"], None),
            (&["--help-all"], None),
            (&["-é", "-m", "pip", "install", "x"], Some("-m pip install")),
            (&["-m", "pïp", "install", "x"], None),
        ];
        for (words, want) in table {
            let got = classify_python(&v(words));
            assert_eq!(command(&got).as_deref(), *want, "python {words:?}: {got:?}");
            if let Classified::Install(r) = &got {
                assert_eq!(r.tool, Tool::Python);
            }
        }
    }

    #[test]
    fn python_runs_other_managers_by_their_grammars() {
        let table: &[(&[&str], Option<&str>)] = &[
            (&["-m", "pipx", "install", "x"], Some("-m pipx install")),
            (
                &["-m", "pipx.__main__", "inject", "a", "b"],
                Some("-m pipx inject"),
            ),
            (
                &["-m", "uv", "pip", "install", "x"],
                Some("-m uv pip install"),
            ),
            (
                &["-m", "uv", "tool", "install", "x"],
                Some("-m uv tool install"),
            ),
            (&["-m", "uv", "sync"], Some("-m uv sync")),
            (&["-m", "poetry", "install"], Some("-m poetry install")),
            (&["-m", "poetry", "add", "x"], Some("-m poetry add")),
            (&["-m", "conda", "install", "x"], Some("-m conda install")),
            (
                &["-m", "conda", "create", "-n", "e", "x"],
                Some("-m conda create"),
            ),
            (&["-Impipx", "install", "x"], Some("-m pipx install")),
            (
                &["-m", "pip.__pip-runner__", "install", "x"],
                Some("-m pip install"),
            ),
            (
                &["-m", "pip._internal.cli.main", "install", "x"],
                Some("-m pip install"),
            ),
            (
                &[
                    "-c",
                    "from pip._internal.cli.main import main; main()",
                    "install",
                    "x",
                ],
                Some("-m pip install"),
            ),
            // Their non-install twins.
            (&["-m", "pipx", "list"], None),
            (&["-m", "pipx", "--version"], None),
            (&["-m", "uv", "pip", "list"], None),
            (&["-m", "uv", "--help"], None),
            (&["-m", "poetry", "show"], None),
            (&["-m", "conda", "list"], None),
            (&["-m", "conda", "info"], None),
            (&["-m", "pip.__pip-runner__", "list"], None),
            (&["-m", "ensurepip._uninstall"], None),
            (&["-m", "pytest", "install", "x"], None),
            (&["-m", "flask", "run"], None),
            (&["-m", "pipenv", "install"], None),
            (&["-c", "import pip; print(pip.__version__)"], None),
            (&["-c", "import json", "install", "x"], None),
            (&["-V", "-m", "pipx", "install", "x"], None),
        ];
        for (words, want) in table {
            let got = classify_python(&v(words));
            assert_eq!(command(&got).as_deref(), *want, "python {words:?}: {got:?}");
            if let Classified::Install(r) = &got {
                assert_eq!(r.tool, Tool::Python);
            }
        }
        // The tool's own `--python` names its interpreter, not the target.
        let got = classify_python(&v(&["-m", "pipx", "install", "--python", "3.12", "x"]));
        assert_eq!(install(&got).option("python"), None);
        assert_eq!(install(&got).packages, vec!["x".to_string()]);
    }

    #[test]
    fn python_script_operands_that_are_managers_install() {
        let d = tempfile::tempdir().unwrap();
        let site = d.path().join("lib/python3.11/site-packages");
        let pip = site.join("pip");
        std::fs::create_dir_all(&pip).unwrap();
        std::fs::write(pip.join("__main__.py"), "import sys\n").unwrap();
        std::fs::write(pip.join("__pip-runner__.py"), "import sys\n").unwrap();
        let app = d.path().join("app");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("__main__.py"), "print(1)\n").unwrap();
        let pyz = d.path().join("tool.pyz");
        std::fs::write(&pyz, b"PK\x03\x04").unwrap();
        let script = d.path().join("script.py");
        std::fs::write(&script, "print(1)\n").unwrap();
        let getpip = d.path().join("get-pip.py");
        std::fs::write(&getpip, "print(1)\n").unwrap();
        let s = |p: &std::path::Path| p.display().to_string();
        let runner = s(&pip.join("__pip-runner__.py"));
        let table: Vec<(Vec<String>, Option<&str>)> = vec![
            (v(&[&s(&pip), "install", "x"]), Some("-m pip install")),
            (
                v(&[&s(&pip.join("__main__.py")), "install", "x"]),
                Some("-m pip install"),
            ),
            (v(&[&runner, "install", "x"]), Some("-m pip install")),
            (
                v(&["-I", "--", &s(&pip), "install", "x"]),
                Some("-m pip install"),
            ),
            (v(&[&s(&getpip)]), Some("-m pip install")),
            (v(&[&s(&getpip), "--user"]), Some("-m pip install")),
            // A directory or archive nothing reads: any manager's install.
            (v(&[&s(&app), "install", "x"]), Some("-m pip install")),
            (v(&[&s(&pyz), "install", "x"]), Some("-m pip install")),
            (
                v(&[&s(&pyz), "tool", "install", "x"]),
                Some("-m uv tool install"),
            ),
            // Their non-install twins.
            (v(&[&s(&pip), "list"]), None),
            (v(&[&s(&pip), "--version"]), None),
            (v(&[&s(&getpip), "--help"]), None),
            (v(&[&s(&app)]), None),
            (v(&[&s(&app), "serve", "--port", "8000"]), None),
            (v(&[&s(&pyz), "run", "x"]), None),
            (v(&[&s(&script), "install", "x"]), None),
            (v(&[&s(&script)]), None),
            (v(&["-V", &s(&pip), "install", "x"]), None),
        ];
        for (words, want) in table {
            let got = classify_python(&words);
            assert_eq!(command(&got).as_deref(), want, "python {words:?}: {got:?}");
        }
    }

    #[test]
    fn python_pass_reasons() {
        let table: &[(&[&str], PassReason)] = &[
            (&["--version"], PassReason::Version),
            (&["-V"], PassReason::Version),
            (&["-VV"], PassReason::Version),
            (&["-V", "-m", "pip", "install", "x"], PassReason::Version),
            (&["-V", "-c", "1"], PassReason::Version),
            (&["-h"], PassReason::Help),
            (&["--help"], PassReason::Help),
            (&["-m", "pip", "install", "--help"], PassReason::Help),
            (&["-m", "pip", "-V"], PassReason::Version),
            (&["-c", "pass"], PassReason::NotAnInstall),
            (&["script.py"], PassReason::NotAnInstall),
            (&[], PassReason::NotAnInstall),
            (&["-m", "other"], PassReason::NotAnInstall),
        ];
        for (words, want) in table {
            let got = classify_python(&v(words));
            assert_eq!(reason(&got), Some(*want), "python {words:?}");
        }
    }

    #[test]
    fn odd_input_never_panics() {
        let words = [
            "",
            "-",
            "--",
            "---",
            "=",
            "--=",
            "-=",
            "-m",
            "-mpip",
            "pip",
            "ensurepip",
            "install",
            "download",
            "-c",
            "-X",
            "-W",
            "-Wü",
            "--check-hash-based-pycs",
            "ü",
            "-ü",
            "--ü=ü",
            "-r",
            "-Ur",
            "--index",
            "--root",
            "-h",
            "-V",
            "--log",
            "--",
        ];
        let _ = classify(Tool::Pip, &[]);
        let _ = classify_python(&[]);
        for a in words {
            for b in words {
                for c in words {
                    let line = v(&[a, b, c]);
                    let _ = classify(Tool::Pip, &line);
                    let _ = classify_python(&line);
                }
            }
        }
    }

    #[test]
    fn python_pip_options_come_through() {
        let got = classify_python(&v(&[
            "-I",
            "-m",
            "pip",
            "install",
            "--index-url=http://127.0.0.1:8080/simple",
            "--target",
            "/t",
            "x",
        ]));
        let r = install(&got);
        assert_eq!(r.tool, Tool::Python);
        assert_eq!(r.option("index-url"), Some("http://127.0.0.1:8080/simple"));
        assert_eq!(r.option("target"), Some("/t"));
        assert_eq!(r.packages, v(&["x"]));
        let got = classify_python(&v(&["-m", "ensurepip", "--user", "--ro", "/r"]));
        let r = install(&got);
        assert!(r.flag("user"));
        assert_eq!(r.option("root"), Some("/r"));
    }
}
