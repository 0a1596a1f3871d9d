//! npm-family adapter: classifies `npm`, `npx`, `yarn` (v1 and berry), `pnpm`
//! and `pnpx` command lines.
//!
//! npm does not use getopt: its option parser (nopt) reads options anywhere
//! before `--`, accepts one or two dashes, expands shorthands (`-reg`,
//! `-gD`), unambiguous prefixes (`--regis`) and `--no-` prefixes, and lets a
//! flag swallow a following `true`/`false`. A naive scan would take the value
//! of `--reg` for the subcommand, so npm lines go through a small nopt
//! emulation built on npm's own option table. yarn and pnpm are scanned with
//! the shared getopt tokenizer.

use std::borrow::Cow;
use std::collections::VecDeque;

use super::args::{self, Spec, Token};
use super::install;
use super::{Classified, Opt, PassReason, Tool, to_opts};

/// Classifies a command line for `tool` (npm, npx, yarn, pnpm or pnpx).
pub fn classify(tool: Tool, args: &[String]) -> Classified {
    match tool {
        Tool::Npm => npm(args),
        Tool::Npx => npx(args),
        Tool::Yarn => yarn(args),
        Tool::Pnpm => pnpm(args, 0, Vec::new()),
        // pnpx is `pnpm dlx`.
        Tool::Pnpx => run_style(Tool::Pnpx, "dlx", args, &PNPM_DLX_SPEC, Vec::new()),
        // Not an npm-family tool: nothing here can judge it.
        _ => Classified::pass(PassReason::NotAnInstall),
    }
}

/// The effective value of boolean option `name` among `opts` (the last of
/// `name`, `name=false` and `no-name` wins).
fn opt_bool(opts: &[Opt], name: &str) -> bool {
    let negated = format!("no-{name}");
    opts.iter()
        .rev()
        .find_map(|o| {
            if o.name == name {
                Some(!matches!(o.value.as_deref(), Some("false" | "null")))
            } else if o.name == negated {
                Some(false)
            } else {
                None
            }
        })
        .unwrap_or(false)
}

/// Nesting limit for `yarn workspace … workspace …` and `pnpm recursive …`.
const MAX_DEPTH: usize = 8;

// ---------------------------------------------------------------------------
// npm
// ---------------------------------------------------------------------------

/// npm's options that take a value (npm 11's config definitions).
const NPM_VALUE: &[&str] = &[
    "_auth",
    "access",
    "allow-directory",
    "allow-file",
    "allow-git",
    "allow-remote",
    "allow-scripts",
    "also",
    "audit-level",
    "auth-type",
    "before",
    "ca",
    "cache",
    "cache-max",
    "cache-min",
    "cafile",
    "call",
    "cert",
    "cidr",
    "cpu",
    "depth",
    "diff",
    "diff-dst-prefix",
    "diff-src-prefix",
    "diff-unified",
    "editor",
    "expect-result-count",
    "expires",
    "fetch-retries",
    "fetch-retry-factor",
    "fetch-retry-maxtimeout",
    "fetch-retry-mintimeout",
    "fetch-timeout",
    "git",
    "globalconfig",
    "heading",
    "https-proxy",
    "include",
    "init-author-email",
    "init-author-name",
    "init-author-url",
    "init-license",
    "init-module",
    "init-type",
    "init-version",
    "init.author.email",
    "init.author.name",
    "init.author.url",
    "init.license",
    "init.module",
    "init.version",
    "install-strategy",
    "key",
    "libc",
    "local-address",
    "location",
    "lockfile-version",
    "loglevel",
    "logs-dir",
    "logs-max",
    "maxsockets",
    "message",
    "min-release-age",
    "min-release-age-exclude",
    "name",
    "node-gyp",
    "node-options",
    "noproxy",
    "omit",
    "only",
    "orgs",
    "orgs-permission",
    "os",
    "otp",
    "pack-destination",
    "package",
    "packages",
    "packages-and-scopes-permission",
    "password",
    "prefix",
    "preid",
    "provenance-file",
    "proxy",
    "registry",
    "replace-registry-host",
    "save-prefix",
    "sbom-format",
    "sbom-type",
    "scope",
    "scopes",
    "script-shell",
    "searchexclude",
    "searchlimit",
    "searchopts",
    "searchstaleness",
    "shell",
    "tag",
    "tag-version-prefix",
    "token-description",
    "umask",
    "user-agent",
    "userconfig",
    "viewer",
    "which",
    "workspace",
];

/// npm's options whose type is exactly String: only they refuse a following
/// word that looks like an option (`--tag --global`). Typed values (paths,
/// URLs, numbers, enumerations) take whatever follows.
const NPM_STRING: &[&str] = &[
    "call",
    "diff-dst-prefix",
    "diff-src-prefix",
    "editor",
    "git",
    "heading",
    "init-author-email",
    "init-author-name",
    "init-license",
    "init-type",
    "init.author.email",
    "init.author.name",
    "init.license",
    "message",
    "pack-destination",
    "preid",
    "save-prefix",
    "scope",
    "searchexclude",
    "searchopts",
    "shell",
    "tag",
    "tag-version-prefix",
    "user-agent",
    "viewer",
];

/// Boolean options that also accept `null` (`--yes null`).
const NPM_NULLABLE: &[&str] = &[
    "browser",
    "expect-results",
    "optional",
    "production",
    "workspaces",
    "yes",
];

/// npm's boolean options (their prefixes matter for abbreviations).
const NPM_BOOL: &[&str] = &[
    "all",
    "allow-same-version",
    "allow-scripts-pending",
    "allow-scripts-pin",
    "audit",
    "bin-links",
    "browser",
    "bypass-2fa",
    "color",
    "commit-hooks",
    "dangerously-allow-all-scripts",
    "description",
    "dev",
    "diff-ignore-all-space",
    "diff-name-only",
    "diff-no-prefix",
    "diff-text",
    "dry-run",
    "engine-strict",
    "expect-results",
    "force",
    "foreground-scripts",
    "format-package-lock",
    "fund",
    "git-tag-version",
    "global",
    "global-style",
    "if-present",
    "ignore-scripts",
    "include-attestations",
    "include-staged",
    "include-workspace-root",
    "init-private",
    "install-links",
    "json",
    "legacy-bundling",
    "legacy-peer-deps",
    "link",
    "long",
    "offline",
    "omit-lockfile-registry-resolved",
    "optional",
    "package-lock",
    "package-lock-only",
    "packages-all",
    "parseable",
    "prefer-dedupe",
    "prefer-offline",
    "prefer-online",
    "production",
    "progress",
    "provenance",
    "read-only",
    "rebuild-bundle",
    "save",
    "save-bundle",
    "save-dev",
    "save-exact",
    "save-optional",
    "save-peer",
    "save-prod",
    "shrinkwrap",
    "sign-git-commit",
    "sign-git-tag",
    "strict-allow-scripts",
    "strict-peer-deps",
    "strict-ssl",
    "timing",
    "unicode",
    "update-notifier",
    "usage",
    "version",
    "versions",
    "workspaces",
    "workspaces-update",
    "yes",
];

/// npm's shorthands: `-g`, `--reg`, `-d` and friends.
const NPM_SHORTHANDS: &[(&str, &[&str])] = &[
    ("enjoy-by", &["--before"]),
    ("d", &["--loglevel", "info"]),
    ("dd", &["--loglevel", "verbose"]),
    ("ddd", &["--loglevel", "silly"]),
    ("quiet", &["--loglevel", "warn"]),
    ("q", &["--loglevel", "warn"]),
    ("s", &["--loglevel", "silent"]),
    ("silent", &["--loglevel", "silent"]),
    ("verbose", &["--loglevel", "verbose"]),
    ("desc", &["--description"]),
    ("help", &["--usage"]),
    ("local", &["--no-global"]),
    ("n", &["--no-yes"]),
    ("no", &["--no-yes"]),
    ("porcelain", &["--parseable"]),
    ("readonly", &["--read-only"]),
    ("reg", &["--registry"]),
    ("iwr", &["--include-workspace-root"]),
    ("ws", &["--workspaces"]),
    ("a", &["--all"]),
    ("c", &["--call"]),
    ("f", &["--force"]),
    ("g", &["--global"]),
    ("L", &["--location"]),
    ("l", &["--long"]),
    ("m", &["--message"]),
    ("p", &["--parseable"]),
    ("C", &["--prefix"]),
    ("S", &["--save"]),
    ("B", &["--save-bundle"]),
    ("D", &["--save-dev"]),
    ("E", &["--save-exact"]),
    ("O", &["--save-optional"]),
    ("P", &["--save-prod"]),
    ("?", &["--usage"]),
    ("H", &["--usage"]),
    ("h", &["--usage"]),
    ("v", &["--version"]),
    ("w", &["--workspace"]),
    ("y", &["--yes"]),
];

/// npm's commands (npm 11).
const NPM_COMMANDS: &[&str] = &[
    "access",
    "adduser",
    "approve-scripts",
    "audit",
    "bugs",
    "cache",
    "ci",
    "completion",
    "config",
    "dedupe",
    "deny-scripts",
    "deprecate",
    "diff",
    "dist-tag",
    "docs",
    "doctor",
    "edit",
    "exec",
    "explain",
    "explore",
    "find-dupes",
    "fund",
    "get",
    "help",
    "help-search",
    "init",
    "install",
    "install-ci-test",
    "install-scripts",
    "install-test",
    "link",
    "ll",
    "login",
    "logout",
    "ls",
    "org",
    "outdated",
    "owner",
    "pack",
    "ping",
    "pkg",
    "prefix",
    "profile",
    "prune",
    "publish",
    "query",
    "rebuild",
    "repo",
    "restart",
    "root",
    "run",
    "sbom",
    "search",
    "set",
    "shrinkwrap",
    "stage",
    "star",
    "stars",
    "start",
    "stop",
    "team",
    "test",
    "token",
    "trust",
    "undeprecate",
    "uninstall",
    "unpublish",
    "unstar",
    "update",
    "version",
    "view",
    "whoami",
];

/// npm's command aliases and accepted typos.
const NPM_ALIASES: &[(&str, &str)] = &[
    ("author", "owner"),
    ("home", "docs"),
    ("issues", "bugs"),
    ("info", "view"),
    ("show", "view"),
    ("find", "search"),
    ("add", "install"),
    ("unlink", "uninstall"),
    ("remove", "uninstall"),
    ("rm", "uninstall"),
    ("r", "uninstall"),
    ("un", "uninstall"),
    ("rb", "rebuild"),
    ("list", "ls"),
    ("ln", "link"),
    ("create", "init"),
    ("i", "install"),
    ("it", "install-test"),
    ("cit", "install-ci-test"),
    ("u", "update"),
    ("up", "update"),
    ("c", "config"),
    ("s", "search"),
    ("se", "search"),
    ("tst", "test"),
    ("t", "test"),
    ("ddp", "dedupe"),
    ("v", "view"),
    ("run-script", "run"),
    ("clean-install", "ci"),
    ("clean-install-test", "install-ci-test"),
    ("x", "exec"),
    ("why", "explain"),
    ("la", "ll"),
    ("verison", "version"),
    ("ic", "ci"),
    ("innit", "init"),
    ("in", "install"),
    ("ins", "install"),
    ("inst", "install"),
    ("insta", "install"),
    ("instal", "install"),
    ("isnt", "install"),
    ("isnta", "install"),
    ("isntal", "install"),
    ("isntall", "install"),
    ("install-clean", "ci"),
    ("isntall-clean", "ci"),
    ("hlep", "help"),
    ("dist-tags", "dist-tag"),
    ("upgrade", "update"),
    ("udpate", "update"),
    ("rum", "run"),
    ("sit", "install-ci-test"),
    ("urn", "run"),
    ("ogr", "org"),
    ("add-user", "adduser"),
];

/// The npm commands that honour `--dry-run` by not touching node_modules
/// (arborist's reify returns early). `rebuild`, `exec`, `init` and `pack`
/// ignore it.
const NPM_DRY_RUN: &[&str] = &[
    "install",
    "ci",
    "update",
    "dedupe",
    "link",
    "install-test",
    "install-ci-test",
];

/// Guards against shorthand expansions feeding each other forever.
const MAX_EXPANSIONS: usize = 1024;

/// How npm's parser treats an option.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Takes the next word as its value.
    Value,
    /// A flag; may swallow a following `true`/`false`.
    Bool,
    /// A flag that also takes a following word that does not look like an
    /// option (`--browser firefox`).
    BoolOrString,
    /// Not in npm's table: a flag unless written with `=`.
    Unknown,
}

fn npm_kind(name: &str) -> Kind {
    if name == "browser" {
        Kind::BoolOrString
    } else if NPM_VALUE.contains(&name) {
        Kind::Value
    } else if NPM_BOOL.contains(&name) {
        Kind::Bool
    } else {
        Kind::Unknown
    }
}

fn npm_is_known(name: &str) -> bool {
    NPM_VALUE.contains(&name) || NPM_BOOL.contains(&name)
}

/// The option `word` names, exactly or as an unambiguous prefix.
fn npm_abbrev(word: &str) -> Option<&'static str> {
    unique_prefix(word, &[NPM_VALUE, NPM_BOOL])
}

fn npm_shorthand_exact(word: &str) -> Option<&'static [&'static str]> {
    NPM_SHORTHANDS
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, exp)| *exp)
}

/// What nopt's `resolveShort` makes of an option word (dashes removed):
/// the words it expands to, or None when it is an option name in itself.
fn npm_shorthand(key: &str) -> Option<Vec<&'static str>> {
    if npm_is_known(key) {
        return None;
    }
    if let Some(exp) = npm_shorthand_exact(key) {
        return Some(exp.to_vec());
    }
    // A cluster of one-letter shorthands (`-gD`); the empty word counts as one.
    let mut cluster = Vec::new();
    let all_single = key.chars().all(|c| {
        let mut buf = [0u8; 4];
        match npm_shorthand_exact(c.encode_utf8(&mut buf)) {
            Some(exp) => {
                cluster.extend_from_slice(exp);
                true
            }
            None => false,
        }
    });
    if all_single {
        return Some(cluster);
    }
    if npm_abbrev(key).is_some() {
        return None;
    }
    let names: Vec<&'static str> = NPM_SHORTHANDS.iter().map(|(n, _)| *n).collect();
    unique_prefix(key, &[&names])
        .and_then(npm_shorthand_exact)
        .map(<[&str]>::to_vec)
}

/// The one word in `lists` that `word` is, or is an unambiguous prefix of
/// (the rule of the `abbrev` package nopt uses).
fn unique_prefix(word: &str, lists: &[&[&'static str]]) -> Option<&'static str> {
    if word.is_empty() {
        return None;
    }
    let all = || lists.iter().flat_map(|l| l.iter().copied());
    if let Some(exact) = all().find(|n| *n == word) {
        return Some(exact);
    }
    let mut found = all().filter(|n| n.starts_with(word));
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

/// npm's command for `word` (aliases, typos, unique prefixes and camelCase
/// resolved), as npm's `deref` does.
fn npm_deref(word: &str) -> Option<&'static str> {
    if word.is_empty() {
        return None;
    }
    let word: Cow<'_, str> = if word.bytes().any(|b| b.is_ascii_uppercase()) {
        let mut s = String::with_capacity(word.len() + 4);
        for c in word.chars() {
            if c.is_ascii_uppercase() {
                s.push('-');
                s.push(c.to_ascii_lowercase());
            } else {
                s.push(c);
            }
        }
        Cow::Owned(s)
    } else {
        Cow::Borrowed(word)
    };
    let alias = |w: &str| NPM_ALIASES.iter().find(|(a, _)| *a == w).map(|(_, t)| *t);
    if let Some(c) = NPM_COMMANDS.iter().find(|c| **c == word) {
        return Some(c);
    }
    if let Some(target) = alias(&word) {
        return Some(target);
    }
    let names: Vec<&'static str> = NPM_ALIASES.iter().map(|(a, _)| *a).collect();
    let mut found = unique_prefix(&word, &[NPM_COMMANDS, &names])?;
    for _ in 0..4 {
        match alias(found) {
            Some(next) => found = next,
            None => break,
        }
    }
    NPM_COMMANDS.contains(&found).then_some(found)
}

/// A positional word as npm's parser leaves it.
struct Word {
    text: String,
    /// Directly after an unknown option written without `=` (which may in
    /// truth take this word as its value).
    after_unknown: bool,
}

/// A command line as npm's parser reads it.
#[derive(Default)]
struct Parsed {
    /// Options, canonical names; a false flag is `no-<name>`.
    opts: Vec<Opt>,
    /// Positional words, in order (including those after `--`).
    words: Vec<Word>,
}

impl Parsed {
    /// Adds a word; true when it was the word to stop at.
    fn push_word(&mut self, text: String, after_unknown: bool, stop_at: Option<usize>) -> bool {
        self.words.push(Word {
            text,
            after_unknown,
        });
        stop_at.is_some_and(|n| self.words.len() > n)
    }
}

/// Reads `args` the way npm's option parser (nopt) does. With `stop_at`,
/// reading ends at positional word number `stop_at` (0-based): what follows
/// belongs to the package `npm exec` runs.
fn nopt(args: &[String], stop_at: Option<usize>) -> Parsed {
    let mut queue: VecDeque<String> = args.iter().cloned().collect();
    let mut out = Parsed::default();
    let mut expansions = 0;
    let mut after_unknown = false;
    while let Some(arg) = queue.pop_front() {
        // `--` (or more dashes) ends the options.
        if arg.len() >= 2 && arg.bytes().all(|b| b == b'-') {
            while let Some(word) = queue.pop_front() {
                if out.push_word(word, false, stop_at) {
                    break;
                }
            }
            return out;
        }
        if !(arg.len() > 1 && arg.starts_with('-')) {
            if out.push_word(arg, after_unknown, stop_at) {
                return out;
            }
            after_unknown = false;
            continue;
        }
        after_unknown = false;
        let (raw, eq) = match arg.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let key = raw.trim_start_matches('-');
        if expansions < MAX_EXPANSIONS
            && let Some(exp) = npm_shorthand(key)
        {
            // Re-read the expansion (and a `=value`) in place of the word.
            expansions += 1;
            if let Some(v) = eq {
                queue.push_front(v);
            }
            for e in exp.iter().rev() {
                queue.push_front((*e).to_string());
            }
            continue;
        }
        let mut key = key;
        let mut no: Option<bool> = None;
        while let Some(head) = key.get(..3) {
            if !head.eq_ignore_ascii_case("no-") {
                break;
            }
            no = Some(!no.unwrap_or(false));
            key = &key[3..];
        }
        let name = npm_abbrev(key).unwrap_or(key).to_string();
        let kind = npm_kind(&name);
        let had_eq = eq.is_some();
        // nopt splits `--x=v` into `--x v`: an unused value stays a word.
        if let Some(v) = eq {
            queue.push_front(v);
        }
        let la = queue.front().map(String::as_str);
        let is_bool = no.is_some()
            || matches!(kind, Kind::Bool | Kind::BoolOrString)
            || (kind == Kind::Unknown && !had_eq);
        if is_bool {
            let mut on = no != Some(true);
            let mut value = None;
            match la {
                Some(l @ ("true" | "false")) => {
                    on = (l == "true") != (no == Some(true));
                    queue.pop_front();
                }
                Some("always") if name == "color" => value = queue.pop_front(),
                Some("null") if NPM_NULLABLE.contains(&name.as_str()) => {
                    value = queue.pop_front();
                }
                Some(l) if kind == Kind::BoolOrString && !looks_like_short_option(l) => {
                    value = queue.pop_front();
                }
                _ => after_unknown = kind == Kind::Unknown && no.is_none(),
            }
            let name = if on { name } else { format!("no-{name}") };
            out.opts.push(Opt { name, value });
            continue;
        }
        // A value option, or an unknown one written with `=`.
        let value = match la {
            None => None,
            Some(l) if l.len() >= 2 && l.bytes().all(|b| b == b'-') => None,
            // A String option does not take a word that looks like an option.
            Some(l) if NPM_STRING.contains(&name.as_str()) && looks_like_option(l) => None,
            Some(_) => queue.pop_front(),
        };
        out.opts.push(Opt { name, value });
    }
    out
}

/// `-x…` but not `--…` (nopt's `/^-[^-]/`).
fn looks_like_short_option(word: &str) -> bool {
    word.len() > 1 && word.starts_with('-') && !word[1..].starts_with('-')
}

/// `-x…` or `--x…` (nopt's `/^-{1,2}[^-]+/`).
fn looks_like_option(word: &str) -> bool {
    let rest = word.strip_prefix("--").or_else(|| word.strip_prefix('-'));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('-'))
}

/// The subcommand among npm's words: the first one, unless it is no command
/// and follows an unknown option that may have taken it as its value.
fn npm_command(words: &[Word]) -> Option<(usize, &'static str)> {
    for (i, w) in words.iter().enumerate() {
        if let Some(c) = npm_deref(&w.text) {
            return Some((i, c));
        }
        if !w.after_unknown {
            return None;
        }
    }
    None
}

fn npm(args: &[String]) -> Classified {
    let parsed = nopt(args, None);
    let command = npm_command(&parsed.words);
    if let Some((index, "exec")) = command {
        // `npm exec pkg --help`: the options after the package are the package's.
        let parsed = nopt(args, Some(index + 1));
        if let Some(reason) = npm_help_or_version(&parsed.opts) {
            return Classified::pass(reason);
        }
        let package = parsed.words.get(index + 1).map(|w| w.text.clone());
        return install(
            Tool::Npm,
            "exec",
            package.into_iter().collect(),
            parsed.opts,
        );
    }
    if let Some(reason) = npm_help_or_version(&parsed.opts) {
        return Classified::pass(reason);
    }
    let Some((index, command)) = command else {
        // npm prints its usage for a missing or unknown command.
        return Classified::pass(if parsed.words.is_empty() {
            PassReason::Help
        } else {
            PassReason::NotAnInstall
        });
    };
    let rest: Vec<String> = parsed
        .words
        .iter()
        .skip(index + 1)
        .map(|w| w.text.clone())
        .collect();
    let dry_run = opt_bool(&parsed.opts, "dry-run");
    let (verb, packages) = match command {
        "help" | "help-search" => return Classified::pass(PassReason::Help),
        "install" | "ci" | "update" | "dedupe" | "link" | "install-test" | "install-ci-test"
        | "rebuild" => {
            if dry_run && NPM_DRY_RUN.contains(&command) {
                return Classified::pass(PassReason::DryRun);
            }
            (command, rest)
        }
        // `npm init <initializer>` runs `npm exec create-<initializer>`;
        // bare `npm init` only writes package.json.
        "init" if !rest.is_empty() => ("init", rest.into_iter().take(1).collect()),
        "audit" if rest.first().is_some_and(|w| w == "fix") => {
            if dry_run {
                return Classified::pass(PassReason::DryRun);
            }
            ("audit fix", rest.into_iter().skip(1).collect())
        }
        // Both fetch packages; pack also runs a git dependency's `prepare`.
        "cache" if rest.first().is_some_and(|w| w == "add") => {
            ("cache add", rest.into_iter().skip(1).collect())
        }
        "pack" if !rest.is_empty() => ("pack", rest),
        // Both reify the whole tree as `install` does (a fresh clone's
        // dependencies fetched, their scripts run); the words name what
        // goes, not what comes.
        "uninstall" | "prune" => {
            if dry_run && command == "prune" {
                return Classified::pass(PassReason::DryRun);
            }
            (command, Vec::new())
        }
        _ => return Classified::pass(PassReason::NotAnInstall),
    };
    install(Tool::Npm, verb, packages, parsed.opts)
}

/// npm checks `--version` (and `--versions`) before anything else, then
/// `--usage` (`-h`, `--help`).
fn npm_help_or_version(opts: &[Opt]) -> Option<PassReason> {
    if opt_bool(opts, "version") || opt_bool(opts, "versions") {
        Some(PassReason::Version)
    } else if opt_bool(opts, "usage") {
        Some(PassReason::Help)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// npx
// ---------------------------------------------------------------------------

/// Options npx itself knows to take a value.
const NPX_OPTS: &[&str] = &[
    "npm",
    "node-arg",
    "n",
    "package",
    "p",
    "cache",
    "userconfig",
    "call",
    "c",
    "shell",
];

/// Removed npx options, dropped with a warning.
const NPX_REMOVED_SWITCHES: &[&str] = &["always-spawn", "ignore-existing", "shell-auto-fallback"];
const NPX_REMOVED_OPTS: &[&str] = &["npm", "node-arg", "n"];

fn npx_is_switch(key: &str) -> bool {
    NPM_BOOL.contains(&key)
        || NPX_REMOVED_SWITCHES.contains(&key)
        || matches!(
            key,
            "no-install" | "quiet" | "q" | "version" | "v" | "help" | "h"
        )
}

/// npx's own pre-scan, step for step: it expands shorthands in place,
/// rewrites npx-only spellings (`-p`, `--shell`, `--no-install`) and drops
/// removed options, up to the first word that is not an option value. npx
/// puts `--` before that word, so it and everything after belong to the
/// package. Returns the rewritten options and the package with its arguments.
fn npx_scan(args: &[String]) -> (Vec<String>, Vec<String>) {
    let mut argv: Vec<String> = args.to_vec();
    let mut expansions = 0;
    let mut i = 0;
    while i < argv.len() {
        let arg = argv[i].clone();
        if arg == "--" {
            return (argv, Vec::new());
        }
        if !arg.starts_with('-') {
            let package = argv.split_off(i);
            return (argv, package);
        }
        let body = arg.trim_start_matches('-');
        let (key, value) = match body.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (body, None),
        };
        let with_value = |name: &str| match value {
            Some(v) => format!("--{name}={v}"),
            None => format!("--{name}"),
        };
        let removed = NPX_REMOVED_SWITCHES.contains(&key) || NPX_REMOVED_OPTS.contains(&key);
        match key {
            "p" => argv[i] = with_value("package"),
            "shell" => argv[i] = with_value("script-shell"),
            "no-install" => argv[i] = "--yes=false".to_string(),
            _ => {
                if let Some(exp) = npm_shorthand_exact(key)
                    && !removed
                    && expansions < MAX_EXPANSIONS
                {
                    // Re-read the expansion in place of the word.
                    expansions += 1;
                    let mut words: Vec<String> = exp.iter().map(|e| (*e).to_string()).collect();
                    words.extend(value.map(str::to_string));
                    argv.splice(i..=i, words);
                    continue;
                }
            }
        }
        // Whether the option takes the following word as its value.
        let takes = |next: Option<&String>| {
            value.is_none()
                && !npx_is_switch(key)
                && (NPX_OPTS.contains(&key) || next.is_none_or(|n| !n.starts_with('-')))
        };
        if removed {
            // Dropped, with its value.
            argv.remove(i);
            if takes(argv.get(i)) && i < argv.len() {
                argv.remove(i);
            }
            continue;
        }
        if takes(argv.get(i + 1)) {
            i += 1;
        }
        i += 1;
    }
    (argv, Vec::new())
}

fn npx(args: &[String]) -> Classified {
    let (mut line, package) = npx_scan(args);
    // npx hands npm `exec <options> -- <package> <its arguments>`.
    if !package.is_empty() {
        line.push("--".to_string());
        line.extend(package);
    }
    let parsed = nopt(&line, None);
    if let Some(reason) = npm_help_or_version(&parsed.opts) {
        return Classified::pass(reason);
    }
    let package = parsed.words.first().map(|w| w.text.clone());
    install(
        Tool::Npx,
        "exec",
        package.into_iter().collect(),
        parsed.opts,
    )
}

// ---------------------------------------------------------------------------
// Shared by yarn and pnpm
// ---------------------------------------------------------------------------

/// A command line split at its subcommand.
struct Split<'a> {
    /// The options before the subcommand.
    before: Vec<Token<'a>>,
    /// The subcommand, if any.
    command: Option<&'a str>,
    /// The words after it.
    rest: &'a [String],
    /// The subcommand and the words after it.
    from_command: &'a [String],
    /// True when the subcommand came after `--`, so `rest` holds arguments only.
    verbatim: bool,
}

/// Splits at the subcommand like `args::split_command`, with two differences
/// that keep an install from being mistaken for something else: a word that
/// is no known command and directly follows an option that is not a known
/// flag is read as that option's value (an option we do not know may take
/// one, or be an abbreviation), and a subcommand after `--` still counts.
fn split_known<'a>(
    args: &'a [String],
    spec: &Spec,
    is_command: fn(&str) -> bool,
    is_flag: fn(&Token<'_>) -> bool,
) -> Split<'a> {
    let mut before: Vec<Token<'a>> = Vec::new();
    let mut rest = args;
    loop {
        let (tokens, command, after) = args::split_command(rest, spec);
        before.extend(tokens);
        let Some(word) = command else { break };
        let start = rest.len().saturating_sub(after.len() + 1);
        let from_command = rest.get(start..).unwrap_or(&[]);
        if !is_command(word)
            && let Some(last) = before.last_mut()
            && !is_flag(last)
            && let Token::Long { value, .. } | Token::Short { value, .. } = last
            && value.is_none()
        {
            *value = Some(word);
            rest = after;
            continue;
        }
        return Split {
            before,
            command: Some(word),
            rest: after,
            from_command,
            verbatim: false,
        };
    }
    if let Some(Token::AfterDoubleDash(words)) = before.last() {
        let words: &'a [String] = words;
        if let Some((first, tail)) = words.split_first() {
            before.pop();
            return Split {
                before,
                command: Some(first.as_str()),
                rest: tail,
                from_command: words,
                verbatim: true,
            };
        }
    }
    Split {
        before,
        command: None,
        rest: &[],
        from_command: &[],
        verbatim: false,
    }
}

fn has_help(tokens: &[Token<'_>]) -> bool {
    args::has(tokens, &["help"], &['h'])
}

fn has_version(tokens: &[Token<'_>]) -> bool {
    args::has(tokens, &["version"], &['v'])
}

/// Options as canonical `Opt`s; pnpm's `--config.<key>=v` sets `<key>`.
fn opts_of(tool: Tool, tokens: &[Token<'_>], names: &[(&str, &str)]) -> Vec<Opt> {
    let mut opts = to_opts(tokens, names);
    if matches!(tool, Tool::Pnpm | Tool::Pnpx) {
        for o in &mut opts {
            if let Some(key) = o.name.strip_prefix("config.")
                && !key.is_empty()
            {
                o.name = key.to_string();
            }
        }
    }
    opts
}

fn names_for(tool: Tool) -> &'static [(&'static str, &'static str)] {
    match tool {
        Tool::Yarn => YARN_NAMES,
        _ => PNPM_NAMES,
    }
}

/// An install-type command whose words are packages: help, version and
/// (when the command honours it, `dry_ok`) a dry run pass through.
fn plain(
    tool: Tool,
    command: &str,
    rest: &[String],
    verbatim: bool,
    spec: &Spec,
    mut options: Vec<Opt>,
    dry_ok: bool,
) -> Classified {
    let tokens: Vec<Token<'_>> = if verbatim {
        rest.iter().map(|w| Token::Positional(w.as_str())).collect()
    } else {
        args::scan(rest, spec, false)
    };
    if has_help(&tokens) {
        return Classified::pass(PassReason::Help);
    }
    if has_version(&tokens) {
        return Classified::pass(PassReason::Version);
    }
    options.extend(opts_of(tool, &tokens, names_for(tool)));
    if dry_ok && opt_bool(&options, "dry-run") {
        return Classified::pass(PassReason::DryRun);
    }
    let mut packages = Vec::new();
    for t in &tokens {
        match t {
            Token::Positional(p) => packages.push((*p).to_string()),
            Token::AfterDoubleDash(words) => packages.extend(words.iter().cloned()),
            _ => {}
        }
    }
    install(tool, command, packages, options)
}

/// A command that removes or unlinks packages and then reifies the rest of
/// the tree (`yarn remove`, `pnpm remove`, `pnpm unlink`): an install of
/// the project's dependencies; the words name what goes, so they are no
/// packages to fetch.
fn removal(
    tool: Tool,
    command: &str,
    rest: &[String],
    verbatim: bool,
    spec: &Spec,
    options: Vec<Opt>,
) -> Classified {
    match plain(tool, command, rest, verbatim, spec, options, false) {
        Classified::Install(mut req) => {
            req.packages.clear();
            Classified::Install(req)
        }
        pass => pass,
    }
}

/// A run-a-package command (`yarn dlx`, `pnpm dlx`, `create`, pnpx): only
/// the options before the package are the manager's.
fn run_style(
    tool: Tool,
    command: &str,
    rest: &[String],
    spec: &Spec,
    mut options: Vec<Opt>,
) -> Classified {
    let tokens = args::scan(rest, spec, true);
    if has_help(&tokens) {
        return Classified::pass(PassReason::Help);
    }
    if has_version(&tokens) {
        return Classified::pass(PassReason::Version);
    }
    let names = match tool {
        Tool::Yarn => YARN_DLX_NAMES,
        _ => PNPM_DLX_NAMES,
    };
    options.extend(opts_of(tool, &tokens, names));
    let package = tokens.iter().find_map(|t| match t {
        Token::Positional(p) => Some((*p).to_string()),
        Token::AfterDoubleDash(words) => words.first().cloned(),
        _ => None,
    });
    install(tool, command, package.into_iter().collect(), options)
}

/// A passthrough for a known non-install subcommand: `Help` when its own
/// options ask for help.
fn pass_for(rest: &[String], spec: &Spec, options_are_ours: bool) -> Classified {
    if options_are_ours && has_help(&args::scan(rest, spec, false)) {
        Classified::pass(PassReason::Help)
    } else {
        Classified::pass(PassReason::NotAnInstall)
    }
}

// ---------------------------------------------------------------------------
// yarn
// ---------------------------------------------------------------------------

/// yarn options that take a value (v1 and berry).
const YARN_VALUE: &[&str] = &[
    "cwd",
    "registry",
    "cache-folder",
    "preferred-cache-folder",
    "modules-folder",
    "global-folder",
    "link-folder",
    "network-timeout",
    "network-concurrency",
    "child-concurrency",
    "mutex",
    "use-yarnrc",
    "proxy",
    "https-proxy",
    "otp",
    "mode",
    "prefix",
    "package",
];

/// yarn v1 options with an optional value: they take the next word when it
/// is not an option (`yarn --prod build` installs, with `prod=build`).
const YARN_OPTIONAL_VALUE: &[&str] = &["prod", "production", "emoji", "scripts-prepend-node-path"];

/// yarn's global flags, which never take the next word.
const YARN_FLAGS: &[&str] = &[
    "verbose",
    "offline",
    "prefer-offline",
    "strict-semver",
    "json",
    "ignore-scripts",
    "har",
    "ignore-platform",
    "ignore-engines",
    "ignore-optional",
    "force",
    "skip-integrity-check",
    "check-files",
    "no-bin-links",
    "flat",
    "no-lockfile",
    "pure-lockfile",
    "frozen-lockfile",
    "link-duplicates",
    "silent",
    "no-progress",
    "non-interactive",
    "no-default-rc",
    "no-node-version-check",
    "focus",
    "immutable",
    "immutable-cache",
    "check-cache",
    "inline-builds",
    "refresh-lockfile",
    "update-checksums",
    "no-emoji",
    "help",
    "version",
    "dry-run",
];

/// yarn commands (v1 and berry); any other word runs a project script.
const YARN_COMMANDS: &[&str] = &[
    "access",
    "add",
    "audit",
    "autoclean",
    "bin",
    "cache",
    "check",
    "config",
    "constraints",
    "create",
    "dedupe",
    "dlx",
    "exec",
    "explain",
    "generate-lock-entry",
    "global",
    "help",
    "import",
    "info",
    "init",
    "install",
    "licenses",
    "link",
    "list",
    "login",
    "logout",
    "node",
    "npm",
    "outdated",
    "owner",
    "pack",
    "patch",
    "patch-commit",
    "plugin",
    "policies",
    "publish",
    "rebuild",
    "remove",
    "run",
    "search",
    "set",
    "stage",
    "tag",
    "team",
    "unlink",
    "unplug",
    "up",
    "upgrade",
    "upgrade-interactive",
    "version",
    "versions",
    "why",
    "workspace",
    "workspaces",
];

const YARN_SPEC: Spec = Spec {
    value_long: YARN_VALUE,
    value_short: &[],
};

/// `yarn dlx` / `yarn create`: `-p` is `--package`.
const YARN_DLX_SPEC: Spec = Spec {
    value_long: YARN_VALUE,
    value_short: &['p'],
};

/// `yarn workspaces foreach` options taking a value.
const YARN_FOREACH_SPEC: Spec = Spec {
    value_long: &["from", "include", "exclude", "jobs"],
    value_short: &['j'],
};

const YARN_NAMES: &[(&str, &str)] = &[
    ("h", "help"),
    ("v", "version"),
    ("s", "silent"),
    ("prod", "production"),
    ("D", "dev"),
    ("P", "peer"),
    ("O", "optional"),
    ("E", "exact"),
    ("T", "tilde"),
    ("C", "caret"),
    ("W", "ignore-workspace-root-check"),
    ("i", "interactive"),
    ("R", "recursive"),
    ("A", "all"),
    ("j", "jobs"),
];

const YARN_DLX_NAMES: &[(&str, &str)] = &[
    ("h", "help"),
    ("v", "version"),
    ("p", "package"),
    ("q", "quiet"),
];

fn yarn_is_command(word: &str) -> bool {
    YARN_COMMANDS.contains(&word)
}

fn yarn_is_flag(t: &Token<'_>) -> bool {
    match t {
        Token::Long { name, .. } => YARN_FLAGS.contains(name),
        Token::Short { flag, .. } => matches!(flag, 's' | 'h' | 'v'),
        _ => false,
    }
}

fn foreach_is_flag(t: &Token<'_>) -> bool {
    match t {
        Token::Long { name, .. } => matches!(
            *name,
            "all"
                | "recursive"
                | "worktree"
                | "verbose"
                | "parallel"
                | "interlaced"
                | "topological"
                | "topological-dev"
                | "no-private"
                | "private"
                | "dry-run"
                | "help"
        ),
        Token::Short { flag, .. } => {
            matches!(flag, 'A' | 'R' | 'W' | 'v' | 'p' | 'i' | 't' | 'n' | 'h')
        }
        _ => false,
    }
}

/// Joins yarn v1's optional values to their option (`--prod x` → `--prod=x`),
/// as yarn itself binds them.
fn yarn_join_optional(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            out.extend(args[i..].iter().cloned());
            break;
        }
        let optional = arg
            .strip_prefix("--")
            .is_some_and(|n| YARN_OPTIONAL_VALUE.contains(&n));
        match args.get(i + 1) {
            Some(next) if optional && !next.starts_with('-') => {
                out.push(format!("{arg}={next}"));
                i += 2;
            }
            _ => {
                out.push(arg.clone());
                i += 1;
            }
        }
    }
    out
}

fn yarn(args: &[String]) -> Classified {
    let args = yarn_join_optional(args);
    yarn_line(&args, 0, Vec::new())
}

/// Classifies a yarn line; `outer` holds options of enclosing
/// `workspace`/`workspaces foreach` commands.
fn yarn_line(args: &[String], depth: usize, outer: Vec<Opt>) -> Classified {
    const TOOL: Tool = Tool::Yarn;
    let split = split_known(args, &YARN_SPEC, yarn_is_command, yarn_is_flag);
    if has_help(&split.before) {
        return Classified::pass(PassReason::Help);
    }
    if has_version(&split.before) {
        return Classified::pass(PassReason::Version);
    }
    let mut options = outer;
    options.extend(opts_of(TOOL, &split.before, YARN_NAMES));
    // Bare `yarn` installs the project; yarn v1 only looks for the command
    // before `--`, so `yarn -- x` is a bare install too.
    let command = match split.command {
        Some(c) if !split.verbatim => c,
        // yarn has no dry run for installs; the option is not a way out.
        _ => return install(TOOL, "install", Vec::new(), options),
    };
    let rest = split.rest;
    match command {
        "help" => Classified::pass(PassReason::Help),
        "install" | "add" | "up" | "upgrade" | "upgrade-interactive" | "import" | "rebuild" => {
            plain(TOOL, command, rest, false, &YARN_SPEC, options, false)
        }
        // Installs the rest of the tree as `install` does.
        "remove" => removal(TOOL, command, rest, false, &YARN_SPEC, options),
        // Options after the package belong to it.
        "dlx" | "create" => run_style(TOOL, command, rest, &YARN_DLX_SPEC, options),
        "global" | "set" | "policies" | "plugin" | "workspaces" => {
            let (before, sub, after) = args::split_command(rest, &YARN_SPEC);
            if has_help(&before) {
                return Classified::pass(PassReason::Help);
            }
            options.extend(opts_of(TOOL, &before, YARN_NAMES));
            let verb = match (command, sub) {
                ("global", Some("add")) => "global add",
                ("global", Some("upgrade")) => "global upgrade",
                ("global", Some("upgrade-interactive")) => "global upgrade-interactive",
                ("global", Some("remove")) => {
                    return removal(TOOL, "global remove", after, false, &YARN_SPEC, options);
                }
                // The package manager itself or a plugin: code yarn will run.
                ("set", Some("version")) => "set version",
                ("policies", Some("set-version")) => "policies set-version",
                ("plugin", Some("import")) => "plugin import",
                ("workspaces", Some("focus")) => "workspaces focus",
                ("workspaces", Some("foreach")) => {
                    return yarn_foreach(after, depth, options);
                }
                _ => return pass_for(after, &YARN_SPEC, true),
            };
            plain(TOOL, verb, after, false, &YARN_SPEC, options, false)
        }
        "workspace" => {
            // `yarn workspace <name> <command…>`
            let (before, name, inner) = args::split_command(rest, &YARN_SPEC);
            if has_help(&before) {
                return Classified::pass(PassReason::Help);
            }
            options.extend(opts_of(TOOL, &before, YARN_NAMES));
            if name.is_none() || inner.is_empty() {
                return Classified::pass(PassReason::NotAnInstall);
            }
            if depth >= MAX_DEPTH {
                return install(TOOL, "install", Vec::new(), options);
            }
            yarn_line(inner, depth + 1, options)
        }
        // Scripts and binaries of the project, and read-only commands.
        "run" | "exec" | "node" => Classified::pass(PassReason::NotAnInstall),
        _ if yarn_is_command(command) => pass_for(rest, &YARN_SPEC, true),
        _ => Classified::pass(PassReason::NotAnInstall),
    }
}

/// `yarn workspaces foreach [options] <command…>`.
fn yarn_foreach(args: &[String], depth: usize, mut options: Vec<Opt>) -> Classified {
    let split = split_known(args, &YARN_FOREACH_SPEC, yarn_is_command, foreach_is_flag);
    if has_help(&split.before) {
        return Classified::pass(PassReason::Help);
    }
    options.extend(opts_of(Tool::Yarn, &split.before, YARN_NAMES));
    // foreach's own --dry-run only prints the commands.
    if opt_bool(&options, "dry-run") {
        return Classified::pass(PassReason::DryRun);
    }
    if split.command.is_none() {
        return Classified::pass(PassReason::NotAnInstall);
    }
    if depth >= MAX_DEPTH {
        return install(Tool::Yarn, "install", Vec::new(), options);
    }
    yarn_line(split.from_command, depth + 1, options)
}

// ---------------------------------------------------------------------------
// pnpm
// ---------------------------------------------------------------------------

/// pnpm options that take a value.
const PNPM_VALUE: &[&str] = &[
    "dir",
    "filter",
    "filter-prod",
    "test-pattern",
    "changed-files-ignore-pattern",
    "store-dir",
    "virtual-store-dir",
    "modules-dir",
    "lockfile-dir",
    "global-dir",
    "global-bin-dir",
    "cache-dir",
    "state-dir",
    "registry",
    "reporter",
    "loglevel",
    "network-concurrency",
    "child-concurrency",
    "workspace-concurrency",
    "use-node-version",
    "node-version",
    "package-import-method",
    "node-linker",
    "resolution-mode",
    "hoist-pattern",
    "public-hoist-pattern",
    "fetch-timeout",
    "fetch-retries",
    "fetch-retry-factor",
    "fetch-retry-mintimeout",
    "fetch-retry-maxtimeout",
    "depth",
    "allow-build",
    "package",
    "cpu",
    "os",
    "libc",
    "npm-path",
    "save-catalog-name",
];

/// pnpm flags that never take the next word.
const PNPM_FLAGS: &[&str] = &[
    "recursive",
    "global",
    "workspace-root",
    "save-dev",
    "save-prod",
    "save-optional",
    "save-exact",
    "save-peer",
    "frozen-lockfile",
    "no-frozen-lockfile",
    "prefer-offline",
    "offline",
    "ignore-scripts",
    "prod",
    "production",
    "dev",
    "no-optional",
    "shamefully-hoist",
    "lockfile-only",
    "fix-lockfile",
    "force",
    "silent",
    "stream",
    "parallel",
    "sort",
    "no-sort",
    "reverse",
    "aggregate-output",
    "bail",
    "no-bail",
    "color",
    "no-color",
    "ignore-workspace",
    "include-workspace-root",
    "fail-if-no-match",
    "ignore-pnpmfile",
    "use-stderr",
    "strict-peer-dependencies",
    "resolution-only",
    "interactive",
    "latest",
    "help",
    "version",
    "dry-run",
];

/// pnpm commands; any other word runs a project script or local binary.
const PNPM_COMMANDS: &[&str] = &[
    "add",
    "approve-builds",
    "audit",
    "bin",
    "c",
    "cat-file",
    "cat-index",
    "completion",
    "config",
    "create",
    "dedupe",
    "deploy",
    "dislink",
    "dlx",
    "doctor",
    "env",
    "exec",
    "fetch",
    "find-hash",
    "get",
    "help",
    "i",
    "ignored-builds",
    "import",
    "init",
    "install",
    "install-test",
    "it",
    "la",
    "licenses",
    "link",
    "list",
    "ll",
    "ln",
    "ls",
    "m",
    "multi",
    "outdated",
    "pack",
    "patch",
    "patch-commit",
    "patch-remove",
    "prune",
    "publish",
    "rb",
    "rebuild",
    "recursive",
    "remove",
    "restart",
    "rm",
    "root",
    "run",
    "run-script",
    "self-update",
    "server",
    "set",
    "setup",
    "start",
    "stop",
    "store",
    "t",
    "test",
    "tst",
    "un",
    "uninstall",
    "unlink",
    "up",
    "update",
    "upgrade",
    "why",
];

const PNPM_SPEC: Spec = Spec {
    value_long: PNPM_VALUE,
    value_short: &['C', 'F'],
};

/// `pnpm dlx` / `pnpm create` / pnpx: the same value options (`-c` is
/// `--shell-mode` there, a flag).
const PNPM_DLX_SPEC: Spec = PNPM_SPEC;

const PNPM_NAMES: &[(&str, &str)] = &[
    ("C", "dir"),
    ("F", "filter"),
    ("w", "workspace-root"),
    ("r", "recursive"),
    ("g", "global"),
    ("D", "save-dev"),
    ("P", "save-prod"),
    ("O", "save-optional"),
    ("E", "save-exact"),
    ("h", "help"),
    ("v", "version"),
    ("s", "silent"),
    ("i", "interactive"),
    ("L", "latest"),
];

const PNPM_DLX_NAMES: &[(&str, &str)] = &[
    ("C", "dir"),
    ("F", "filter"),
    ("h", "help"),
    ("v", "version"),
    ("s", "silent"),
    ("c", "shell-mode"),
];

fn pnpm_is_command(word: &str) -> bool {
    PNPM_COMMANDS.contains(&word)
}

fn pnpm_is_flag(t: &Token<'_>) -> bool {
    match t {
        Token::Long { name, .. } => PNPM_FLAGS.contains(name),
        Token::Short { flag, .. } => {
            matches!(
                flag,
                'w' | 'r' | 'g' | 'D' | 'P' | 'O' | 'E' | 'h' | 'v' | 's' | 'i' | 'L'
            )
        }
        _ => false,
    }
}

/// Classifies a pnpm line; `outer` holds options of an enclosing
/// `pnpm recursive`.
fn pnpm(args: &[String], depth: usize, outer: Vec<Opt>) -> Classified {
    const TOOL: Tool = Tool::Pnpm;
    let split = split_known(args, &PNPM_SPEC, pnpm_is_command, pnpm_is_flag);
    if has_help(&split.before) {
        return Classified::pass(PassReason::Help);
    }
    if has_version(&split.before) {
        return Classified::pass(PassReason::Version);
    }
    let mut options = outer;
    options.extend(opts_of(TOOL, &split.before, PNPM_NAMES));
    let Some(command) = split.command else {
        // Bare `pnpm` prints its help.
        return Classified::pass(PassReason::Help);
    };
    let (rest, verbatim) = (split.rest, split.verbatim);
    let dry = |verb: &str| {
        plain(
            TOOL,
            verb,
            rest,
            verbatim,
            &PNPM_SPEC,
            options.clone(),
            // pnpm has no dry run for installs; an unknown option must not
            // turn an install into a passthrough.
            false,
        )
    };
    match command {
        "help" => Classified::pass(PassReason::Help),
        "install" | "i" => dry("install"),
        "update" | "up" | "upgrade" => dry("update"),
        "rebuild" | "rb" => dry("rebuild"),
        "install-test" | "it" => dry("install-test"),
        "link" | "ln" => dry("link"),
        "add" | "import" | "fetch" | "dedupe" | "deploy" => dry(command),
        // Each reifies the tree as `install` does: `unlink` reinstalls the
        // linked packages from the registry, `patch-commit` and
        // `patch-remove` install with the patch changed.
        "remove" | "rm" | "uninstall" | "un" => {
            removal(TOOL, "remove", rest, verbatim, &PNPM_SPEC, options)
        }
        "unlink" | "dislink" | "prune" | "patch-commit" | "patch-remove" => {
            let verb = if command == "dislink" {
                "unlink"
            } else {
                command
            };
            removal(TOOL, verb, rest, verbatim, &PNPM_SPEC, options)
        }
        // Runs the build scripts of the dependencies it approves.
        "approve-builds" | "self-update" => {
            plain(TOOL, command, rest, verbatim, &PNPM_SPEC, options, false)
        }
        // Options after the package belong to it.
        "dlx" | "create" => run_style(TOOL, command, rest, &PNPM_DLX_SPEC, options),
        "env" | "store" => {
            let (before, sub, after) = args::split_command(rest, &PNPM_SPEC);
            if has_help(&before) {
                return Classified::pass(PassReason::Help);
            }
            options.extend(opts_of(TOOL, &before, PNPM_NAMES));
            // `env use`/`env add` download Node.js; `store add` fetches packages.
            let verb = match (command, sub) {
                ("env", Some("use")) => "env use",
                ("env", Some("add")) => "env add",
                ("store", Some("add")) => "store add",
                _ => return pass_for(after, &PNPM_SPEC, true),
            };
            plain(TOOL, verb, after, false, &PNPM_SPEC, options, false)
        }
        "recursive" | "multi" | "m" => {
            if depth >= MAX_DEPTH || rest.is_empty() {
                return install(TOOL, "install", Vec::new(), options);
            }
            pnpm(rest, depth + 1, options)
        }
        "run" | "run-script" | "exec" | "test" | "t" | "tst" | "start" | "stop" | "restart" => {
            Classified::pass(PassReason::NotAnInstall)
        }
        _ if pnpm_is_command(command) => pass_for(rest, &PNPM_SPEC, !verbatim),
        _ => Classified::pass(PassReason::NotAnInstall),
    }
}

// ------------------------------------------------------------ adapter ----

/// The adapter of npm, npx, yarn, pnpm and pnpx (yarn's and pnpm's facts and
/// plans are in `yarn_pnpm`).
pub struct NpmAdapter;

impl super::Adapter for NpmAdapter {
    fn family(&self) -> super::Family {
        super::Family::Npm
    }
    fn date_gate(
        &self,
        p: &super::facts::InstallPlan,
        cut: &crate::model::cooldown::Cutoff,
        _args: &[String],
        cwd: &std::path::Path,
    ) -> Result<crate::model::cooldown::DateGate, String> {
        use super::cooldown;
        match p.tool {
            Tool::Npm | Tool::Npx => Ok(cooldown::npm(p, cut, cwd)),
            Tool::Pnpm => cooldown::pnpm(p, cut, cwd),
            Tool::Pnpx => Err(
                "pnpx: pnpm's minimumReleaseAge is not set for dlx (not verified); use `pnpm add`"
                    .into(),
            ),
            _ => Err(format!(
                "yarn {} has no date gate (yarn 1 has none; yarn 4.10's npmMinimalAgeGate is not wired yet)",
                p.facts.version.as_deref().unwrap_or("(version unknown)")
            )),
        }
    }
    fn registry_docs(&self, _tool: Tool) -> Vec<crate::model::cooldown::DocKind> {
        vec![crate::model::cooldown::DocKind::Packument]
    }
    fn tools(&self) -> &'static [Tool] {
        &[Tool::Npm, Tool::Npx, Tool::Yarn, Tool::Pnpm, Tool::Pnpx]
    }
    fn classify(&self, tool: Tool, args: &[String]) -> Classified {
        classify(tool, args)
    }
    fn always_sandboxed(&self, tool: Tool) -> bool {
        matches!(tool, Tool::Npm | Tool::Npx)
    }
    fn facts_project(&self, tool: Tool, cwd: &std::path::Path) -> Option<std::path::PathBuf> {
        // npm's configuration depends on the project only through its own
        // `.npmrc`; projects without one share the facts (the project's
        // own paths are applied to the plan, not cached).
        if super::yarn_pnpm::handles(tool) {
            return super::yarn_pnpm::cache_project(cwd);
        }
        Some(super::npm_facts::npm_local_prefix(cwd)).filter(|p| p.join(".npmrc").exists())
    }
    fn relevant_env(&self, k: &str) -> bool {
        let l = k.to_ascii_lowercase();
        l.starts_with("npm_config_") || l.starts_with("yarn_") || l == "prefix"
            // pnpm's configuration, data, state and store.
            || l.starts_with("pnpm_")
            || matches!(k, "XDG_DATA_HOME" | "XDG_STATE_HOME")
    }
    fn facts(
        &self,
        real: &std::path::Path,
        tool: Tool,
        _interpreter: Option<&std::path::Path>,
        cwd: &std::path::Path,
    ) -> Result<super::facts::ManagerFacts, super::facts::FactsError> {
        if super::yarn_pnpm::handles(tool) {
            return super::yarn_pnpm::facts(real, tool, cwd);
        }
        super::npm_facts::npm_facts(real, tool, cwd)
    }
    fn plan(&self, p: &mut super::facts::InstallPlan, cwd: &std::path::Path) {
        if super::yarn_pnpm::handles(p.tool) {
            super::yarn_pnpm::apply(p, cwd);
        } else {
            super::npm_facts::apply_npm(p, cwd);
        }
        let home = crate::paths::home();
        super::npm_facts::credentials(p, cwd, home.as_deref());
        // corepack's home is the family's own cache too: it starts the yarn
        // or pnpm it keeps there, and may download one during the install.
        let var = |k: &str| std::env::var(k).ok();
        if let Some(c) = super::caches::corepack_home(var, home.as_deref()).filter(|c| c.is_dir())
            && !p.cache_dirs.contains(&c)
        {
            p.cache_dirs.push(c);
        }
        // yarn 1's install scripts: /bin/sh started by yarn's node, run
        // under the hook wrapper by the preload library.
        if p.tool == Tool::Yarn && p.facts.derived {
            p.package_code = super::package_code::shapes("yarn");
        }
        super::npm_facts::root_script_dirs(p, home.as_deref());
        p.trust = super::npm_facts::trust(p, cwd);
        let extra = super::yarn_pnpm::sandbox_env(p);
        p.env
            .extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        // Before the command, where the cooldown's options go too.
        let args = super::yarn_pnpm::sandbox_args(p);
        if !args.is_empty() {
            p.extra_args_at = 0;
            p.extra_args.extend(args);
        }
    }
    fn attribution(&self) -> Vec<super::Attribution> {
        // npm, yarn and pnpm name a lifecycle script's package and event.
        vec![super::Attribution::Env {
            name: "npm_package_name".into(),
            version: "npm_package_version".into(),
            hook: "npm_lifecycle_event".into(),
        }]
    }
    fn proxy_vars(&self) -> super::ProxyVars {
        // npm's and yarn's own (yarn 4 ignores the generic ones).
        let owned = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        super::ProxyVars {
            set: owned(&[
                "npm_config_proxy",
                "npm_config_https_proxy",
                "YARN_HTTP_PROXY",
                "YARN_HTTPS_PROXY",
            ]),
            clear: owned(&["npm_config_noproxy", "NPM_CONFIG_NOPROXY"]),
        }
    }
    fn project_manifest(&self, cwd: &std::path::Path) -> Option<super::ProjectManifest> {
        Some(super::ProjectManifest {
            file: cwd.join("package.json"),
            name_key: "name".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managers::testkit::{request, v};

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

    fn check(tool: Tool, table: &[(&[&str], Option<&str>)]) {
        for (words, want) in table {
            let got = classify(tool, &v(words));
            assert_eq!(command(&got).as_deref(), *want, "{tool} {words:?}: {got:?}");
            if let Classified::Install(r) = &got {
                assert_eq!(r.tool, tool);
            }
        }
    }

    fn check_reasons(tool: Tool, table: &[(&[&str], PassReason)]) {
        for (words, want) in table {
            let got = classify(tool, &v(words));
            assert_eq!(reason(&got), Some(*want), "{tool} {words:?}: {got:?}");
        }
    }

    const REG: &str = "http://127.0.0.1:4873";

    #[test]
    fn npm_commands() {
        check(
            Tool::Npm,
            &[
                (&["install"], Some("install")),
                (&["install", "left-pad"], Some("install")),
                (&["i", "left-pad"], Some("install")),
                (&["in", "x"], Some("install")),
                (&["ins", "x"], Some("install")),
                (&["inst", "x"], Some("install")),
                (&["insta", "x"], Some("install")),
                (&["instal", "x"], Some("install")),
                (&["isnt", "x"], Some("install")),
                (&["isnta", "x"], Some("install")),
                (&["isntal", "x"], Some("install")),
                (&["isntall", "x"], Some("install")),
                (&["add", "x"], Some("install")),
                (&["ci"], Some("ci")),
                (&["clean-install"], Some("ci")),
                (&["ic"], Some("ci")),
                (&["install-clean"], Some("ci")),
                (&["isntall-clean"], Some("ci")),
                (&["install-test"], Some("install-test")),
                (&["it"], Some("install-test")),
                (&["installTest"], Some("install-test")),
                (&["install-ci-test"], Some("install-ci-test")),
                (&["cit"], Some("install-ci-test")),
                (&["update"], Some("update")),
                (&["up"], Some("update")),
                (&["upgrade", "x"], Some("update")),
                (&["udpate"], Some("update")),
                (&["exec", "cowsay"], Some("exec")),
                (&["x", "cowsay"], Some("exec")),
                (&["exec"], Some("exec")),
                (
                    &["exec", "--package=cowsay", "--", "cowsay", "hi"],
                    Some("exec"),
                ),
                (&["exec", "-c", "cowsay hi"], Some("exec")),
                (&["exec", "cowsay", "--help"], Some("exec")),
                (&["exec", "--", "cowsay", "--version"], Some("exec")),
                (&["rebuild"], Some("rebuild")),
                (&["rb"], Some("rebuild")),
                (&["rebuild", "--dry-run"], Some("rebuild")),
                (&["link"], Some("link")),
                (&["ln", "x"], Some("link")),
                (&["dedupe"], Some("dedupe")),
                (&["ddp"], Some("dedupe")),
                (&["audit", "fix"], Some("audit fix")),
                (&["audit", "--json", "fix", "--force"], Some("audit fix")),
                (&["init", "vite"], Some("init")),
                (&["init", "@scope"], Some("init")),
                (&["create", "vite", "my-app"], Some("init")),
                (&["innit", "vite"], Some("init")),
                (&["init", "-y", "vite"], Some("init")),
                (&["cache", "add", "x"], Some("cache add")),
                (&["pack", "x@1.0.0"], Some("pack")),
                // Unique prefixes of commands resolve like npm's deref.
                (&["install-cl"], Some("ci")),
                (&["upd"], Some("update")),
                (&["reb"], Some("rebuild")),
                // Options before the subcommand, with their values.
                (&["--registry", REG, "i", "left-pad"], Some("install")),
                (
                    &["--registry=http://127.0.0.1:4873", "install", "x"],
                    Some("install"),
                ),
                (&["--prefix", "/p", "-g", "install", "x"], Some("install")),
                (&["-C", "/p", "install", "x"], Some("install")),
                (&["-w", "packages/a", "install", "x"], Some("install")),
                (&["--cache", "/c", "--userconfig", "/u", "ci"], Some("ci")),
                (&["--loglevel", "silly", "install"], Some("install")),
                (&["-d", "install"], Some("install")),
                (&["--reg", REG, "install", "x"], Some("install")),
                (&["-reg", REG, "install", "x"], Some("install")),
                (&["--regis", REG, "install", "x"], Some("install")),
                (&["-registry", REG, "install", "x"], Some("install")),
                (&["--global", "true", "install", "x"], Some("install")),
                (&["--browser", "firefox", "install", "x"], Some("install")),
                (
                    &["--@scope:registry=http://127.0.0.1:4873", "install", "x"],
                    Some("install"),
                ),
                (&["--@scope:registry", REG, "install", "x"], Some("install")),
                (
                    &["--unknown-thing", "value", "install", "x"],
                    Some("install"),
                ),
                (&["--", "install", "x"], Some("install")),
                (&["install", "--dry-run=false", "x"], Some("install")),
                (&["install", "--no-dry-run", "x"], Some("install")),
                (&["install", "--dry-run", "false", "x"], Some("install")),
                // Passthroughs.
                (&["run", "build"], None),
                (&["run-script", "build"], None),
                (&["test"], None),
                (&["t"], None),
                (&["start"], None),
                (&["view", "x"], None),
                (&["info", "x"], None),
                (&["ls"], None),
                (&["config", "get", "registry"], None),
                (&["help", "install"], None),
                (&["hlep"], None),
                (&["uninstall", "x"], Some("uninstall")),
                (&["un", "x"], Some("uninstall")),
                (&["rm", "x"], Some("uninstall")),
                (&["r", "x"], Some("uninstall")),
                (&["remove", "x"], Some("uninstall")),
                (&["unlink", "x"], Some("uninstall")),
                (&["uni", "x"], Some("uninstall")),
                (&["uninstall", "-g", "x"], Some("uninstall")),
                (&["prune"], Some("prune")),
                (&["prune", "--omit=dev"], Some("prune")),
                (&["prune", "--dry-run"], None),
                (&["uninstall", "--help"], None),
                (&["audit"], None),
                (&["audit", "signatures"], None),
                (&["init"], None),
                (&["init", "-y"], None),
                (&["init", "--yes"], None),
                (&["create"], None),
                (&["cache", "clean"], None),
                (&["pack"], None),
                (&["publish"], None),
                (&["explain", "x"], None),
                (&["install-scripts", "ls"], None),
                (&["notacommand"], None),
                (&["ins-x"], None),
                (&[], None),
                (&["-"], None),
                (&["--"], None),
                (&["---"], None),
                // nopt drops the lone `-` and reads `x`, the `exec` alias.
                (&["-=x"], Some("exec")),
                (&["--registry"], None),
                (&["--reg"], None),
                (&["-v"], None),
                (&["--version"], None),
                (&["-v", "install", "x"], None),
                (&["install", "x", "--version"], None),
                (&["--versions", "install", "x"], None),
                (&["-h"], None),
                (&["--help"], None),
                (&["-?"], None),
                (&["install", "--help"], None),
                (&["i", "x", "-h"], None),
                (&["-H", "ci"], None),
                (&["--usage", "install"], None),
                (&["exec", "--help"], None),
                (&["x", "-h", "cowsay"], None),
                (&["install", "--dry-run", "x"], None),
                (&["--dry-run", "ci"], None),
                (&["update", "--dry-run=true"], None),
                (&["audit", "fix", "--dry-run"], None),
                (&["ïnstall", "ü"], None),
                (&["-ü", "--ü=ü"], None),
            ],
        );
    }

    #[test]
    fn npm_pass_reasons() {
        check_reasons(
            Tool::Npm,
            &[
                (&[], PassReason::Help),
                (&["--registry", REG], PassReason::Help),
                (&["-h"], PassReason::Help),
                (&["help"], PassReason::Help),
                (&["install", "--help"], PassReason::Help),
                (&["-v"], PassReason::Version),
                (&["--version"], PassReason::Version),
                (&["-v", "--help"], PassReason::Version),
                (&["install", "--dry-run"], PassReason::DryRun),
                (&["ci", "--dry-run"], PassReason::DryRun),
                (&["run", "build"], PassReason::NotAnInstall),
                (&["bogus"], PassReason::NotAnInstall),
                (&["init"], PassReason::NotAnInstall),
            ],
        );
    }

    #[test]
    fn npm_options_are_canonical() {
        let r = request(
            Tool::Npm,
            &[
                "--registry",
                REG,
                "-g",
                "--prefix=/opt/npm",
                "--cache",
                "/tmp/cache",
                "--userconfig",
                "/u/.npmrc",
                "i",
                "-D",
                "left-pad",
                "-w",
                "packages/a",
                "lodash@4",
            ],
        );
        assert_eq!(r.command, "install");
        assert_eq!(r.packages, v(&["left-pad", "lodash@4"]));
        assert_eq!(r.option("registry"), Some(REG));
        assert_eq!(r.option("prefix"), Some("/opt/npm"));
        assert_eq!(r.option("cache"), Some("/tmp/cache"));
        assert_eq!(r.option("userconfig"), Some("/u/.npmrc"));
        assert_eq!(r.option("workspace"), Some("packages/a"));
        assert!(r.flag("global"));
        assert!(r.flag("save-dev"));

        // Shorthands, abbreviations and single-dash long names.
        let r = request(Tool::Npm, &["-reg", REG, "-C", "/p", "install", "-gE", "x"]);
        assert_eq!(r.option("registry"), Some(REG));
        assert_eq!(r.option("prefix"), Some("/p"));
        assert!(r.flag("global"));
        assert!(r.flag("save-exact"));
        let r = request(Tool::Npm, &["--regis=http://127.0.0.1:1", "ci"]);
        assert_eq!(r.option("registry"), Some("http://127.0.0.1:1"));

        // Scoped registries keep their key.
        let r = request(
            Tool::Npm,
            &["--@acme:registry=http://127.0.0.1:2", "i", "@acme/x"],
        );
        assert_eq!(r.option("@acme:registry"), Some("http://127.0.0.1:2"));
        assert_eq!(r.packages, v(&["@acme/x"]));

        // A false flag is spelled no-<name>, so `flag` stays truthful.
        let r = request(Tool::Npm, &["install", "--global=false", "x"]);
        assert!(!r.flag("global"));
        assert!(r.flag("no-global"));
        let r = request(Tool::Npm, &["install", "--local", "x"]);
        assert!(!r.flag("global"));
        let r = request(Tool::Npm, &["install", "-g", "true", "x"]);
        assert!(r.flag("global"));
        assert_eq!(r.packages, v(&["x"]));
    }

    #[test]
    fn npm_exec_options_after_the_package_are_its_own() {
        let r = request(
            Tool::Npm,
            &[
                "exec",
                "--registry",
                REG,
                "-y",
                "cowsay",
                "--registry",
                "nope",
                "--help",
            ],
        );
        assert_eq!(r.command, "exec");
        assert_eq!(r.packages, v(&["cowsay"]));
        assert_eq!(r.option("registry"), Some(REG));
        assert!(r.flag("yes"));
        let r = request(
            Tool::Npm,
            &["--call", "cowsay hi", "exec", "--package", "cowsay"],
        );
        assert_eq!(r.option("call"), Some("cowsay hi"));
        assert_eq!(r.option("package"), Some("cowsay"));
        assert!(r.packages.is_empty());
    }

    #[test]
    fn npm_init_packages_are_the_initializer() {
        let r = request(Tool::Npm, &["init", "vite@latest", "my-app"]);
        assert_eq!(r.command, "init");
        assert_eq!(r.packages, v(&["vite@latest"]));
    }

    #[test]
    fn npm_deref_matches_npm() {
        assert_eq!(npm_deref("install"), Some("install"));
        assert_eq!(npm_deref("isntall"), Some("install"));
        assert_eq!(npm_deref("installCiTest"), Some("install-ci-test"));
        assert_eq!(npm_deref("install-cl"), Some("ci"));
        assert_eq!(npm_deref("ex"), None);
        assert_eq!(npm_deref("exe"), Some("exec"));
        assert_eq!(npm_deref(""), None);
        assert_eq!(npm_deref("Ü"), None);
    }

    #[test]
    fn npx_lines() {
        check(
            Tool::Npx,
            &[
                (&["cowsay"], Some("exec")),
                (&["cowsay", "--help"], Some("exec")),
                (&["cowsay", "-v"], Some("exec")),
                (&["cowsay", "--version"], Some("exec")),
                (&["-y", "cowsay", "-h"], Some("exec")),
                (&["--yes", "create-react-app", "app"], Some("exec")),
                (&["--no", "cowsay"], Some("exec")),
                (&["-p", "cowsay", "cowsay", "hi"], Some("exec")),
                (&["--package=cowsay", "-c", "cowsay hi"], Some("exec")),
                (&["-c", "cowsay --help"], Some("exec")),
                (&["--call", "echo", "--help"], None),
                (&["--registry", REG, "cowsay"], Some("exec")),
                (&["--cache", "/c", "--prefix", "/p", "cowsay"], Some("exec")),
                (&["--userconfig", "/u", "cowsay"], Some("exec")),
                (&["--", "cowsay", "--help"], Some("exec")),
                (&["--shell", "/bin/sh", "cowsay"], Some("exec")),
                (&["-n", "node-arg", "cowsay"], Some("exec")),
                (&["--ignore-existing", "cowsay"], Some("exec")),
                (&["-"], Some("exec")),
                (&[], Some("exec")),
                (&["ü"], Some("exec")),
                (&["--help"], None),
                (&["-h"], None),
                (&["--version"], None),
                (&["-v"], None),
                (&["--registry", REG, "--help"], None),
                (&["-y", "--version", "cowsay"], None),
            ],
        );
        check_reasons(
            Tool::Npx,
            &[
                (&["--help"], PassReason::Help),
                (&["-h", "cowsay"], PassReason::Help),
                (&["-v"], PassReason::Version),
                (&["--version"], PassReason::Version),
            ],
        );
    }

    #[test]
    fn npx_options_come_through() {
        let r = request(
            Tool::Npx,
            &[
                "--registry",
                REG,
                "-p",
                "cowsay@1",
                "--cache",
                "/c",
                "-y",
                "cowsay",
                "--prefix",
                "x",
            ],
        );
        assert_eq!(r.command, "exec");
        assert_eq!(r.packages, v(&["cowsay"]));
        assert_eq!(r.option("registry"), Some(REG));
        assert_eq!(r.option("package"), Some("cowsay@1"));
        assert_eq!(r.option("cache"), Some("/c"));
        assert_eq!(r.option("prefix"), None);
        assert!(r.flag("yes"));
        let r = request(Tool::Npx, &["-c", "cowsay hi"]);
        assert_eq!(r.option("call"), Some("cowsay hi"));
        assert!(r.packages.is_empty());
    }

    #[test]
    fn yarn_lines() {
        check(
            Tool::Yarn,
            &[
                (&[], Some("install")),
                (&["--frozen-lockfile"], Some("install")),
                (&["--cwd", "/p"], Some("install")),
                (&["--prod"], Some("install")),
                (&["--prod", "build"], Some("install")),
                (&["--", "build"], Some("install")),
                (&["install"], Some("install")),
                (&["install", "--immutable"], Some("install")),
                (&["add", "left-pad"], Some("add")),
                (&["add", "-D", "left-pad"], Some("add")),
                (&["up", "x"], Some("up")),
                (&["upgrade", "x"], Some("upgrade")),
                (&["upgrade-interactive"], Some("upgrade-interactive")),
                (&["import"], Some("import")),
                (&["rebuild"], Some("rebuild")),
                (&["dlx", "cowsay"], Some("dlx")),
                (&["dlx", "cowsay", "--help"], Some("dlx")),
                (&["dlx", "-p", "cowsay", "cowsay", "-v"], Some("dlx")),
                (&["create", "react-app", "my-app"], Some("create")),
                (&["create", "vite", "--help"], Some("create")),
                (&["global", "add", "x"], Some("global add")),
                (&["global", "upgrade"], Some("global upgrade")),
                (
                    &["global", "--prefix", "/p", "add", "x"],
                    Some("global add"),
                ),
                (&["workspace", "web", "add", "x"], Some("add")),
                (&["workspace", "web", "install"], Some("install")),
                (&["workspaces", "foreach", "-A", "install"], Some("install")),
                (
                    &[
                        "workspaces",
                        "foreach",
                        "--all",
                        "--from",
                        "web",
                        "add",
                        "x",
                    ],
                    Some("add"),
                ),
                (
                    &["workspaces", "foreach", "-j", "4", "-pt", "dlx", "cowsay"],
                    Some("dlx"),
                ),
                (&["workspaces", "focus"], Some("workspaces focus")),
                (&["set", "version", "stable"], Some("set version")),
                (
                    &["policies", "set-version", "1.22.0"],
                    Some("policies set-version"),
                ),
                (&["plugin", "import", "typescript"], Some("plugin import")),
                (&["--cwd", "/p", "--registry", REG, "add", "x"], Some("add")),
                (
                    &["--cache-folder", "/c", "--modules-folder", "/m", "install"],
                    Some("install"),
                ),
                (
                    &[
                        "--network-timeout",
                        "1000",
                        "--mutex",
                        "file:/tmp/m",
                        "add",
                        "x",
                    ],
                    Some("add"),
                ),
                (
                    &[
                        "--global-folder",
                        "/g",
                        "--link-folder",
                        "/l",
                        "global",
                        "add",
                        "x",
                    ],
                    Some("global add"),
                ),
                (&["--use-yarnrc", "/y", "install"], Some("install")),
                (&["--brand-new-option", "value", "add", "x"], Some("add")),
                (&["add", "x", "--dry-run=false"], Some("add")),
                (&["run", "build"], None),
                (&["build"], None),
                (&["test"], None),
                (&["why", "x"], None),
                (&["exec", "node", "x.js"], None),
                (&["node", "x.js"], None),
                (&["remove", "x"], Some("remove")),
                (&["remove", "--help"], None),
                (&["global", "list"], None),
                (&["global", "remove", "x"], Some("global remove")),
                (&["workspaces", "run", "build"], None),
                (&["workspaces", "info"], None),
                (&["workspaces", "foreach", "-A", "run", "build"], None),
                (&["workspaces", "foreach", "-A"], None),
                (&["workspace", "web", "run", "build"], None),
                (&["workspace", "web"], None),
                (&["workspace"], None),
                (&["set", "resolution", "x", "1"], None),
                (&["plugin", "list"], None),
                (&["config", "get", "registry"], None),
                (&["help"], None),
                (&["--help"], None),
                (&["-h"], None),
                (&["add", "--help"], None),
                (&["add", "x", "-h"], None),
                (&["dlx", "--help"], None),
                (&["dlx", "-h", "cowsay"], None),
                (&["-v"], None),
                (&["--version"], None),
                (&["add", "x", "--version"], None),
                (&["workspaces", "foreach", "--dry-run", "install"], None),
                (&["workspace", "web", "add", "--help"], None),
                (&["ü"], None),
            ],
        );
        check_reasons(
            Tool::Yarn,
            &[
                (&["--help"], PassReason::Help),
                (&["help", "add"], PassReason::Help),
                (&["why", "--help"], PassReason::Help),
                (&["-v"], PassReason::Version),
                (&["build"], PassReason::NotAnInstall),
            ],
        );
    }

    #[test]
    fn yarn_options_come_through() {
        let r = request(
            Tool::Yarn,
            &[
                "--cwd",
                "/proj",
                "--registry",
                REG,
                "workspace",
                "web",
                "add",
                "-D",
                "x",
                "--cache-folder",
                "/c",
            ],
        );
        assert_eq!(r.command, "add");
        assert_eq!(r.packages, v(&["x"]));
        assert_eq!(r.option("cwd"), Some("/proj"));
        assert_eq!(r.option("registry"), Some(REG));
        assert_eq!(r.option("cache-folder"), Some("/c"));
        assert!(r.flag("dev"));
        let r = request(Tool::Yarn, &["global", "add", "--prefix", "/p", "x"]);
        assert_eq!(r.option("prefix"), Some("/p"));
        let r = request(
            Tool::Yarn,
            &["dlx", "-p", "cowsay@1", "cowsay", "--cwd", "nope"],
        );
        assert_eq!(r.option("package"), Some("cowsay@1"));
        assert_eq!(r.option("cwd"), None);
        assert_eq!(r.packages, v(&["cowsay"]));
    }

    #[test]
    fn pnpm_lines() {
        check(
            Tool::Pnpm,
            &[
                (&["install"], Some("install")),
                (&["i"], Some("install")),
                (&["add", "left-pad"], Some("add")),
                (&["update"], Some("update")),
                (&["up", "-L"], Some("update")),
                (&["upgrade"], Some("update")),
                (&["rebuild"], Some("rebuild")),
                (&["rb"], Some("rebuild")),
                (&["import"], Some("import")),
                (&["fetch"], Some("fetch")),
                (&["install-test"], Some("install-test")),
                (&["it"], Some("install-test")),
                (&["link", "x"], Some("link")),
                (&["ln", "x"], Some("link")),
                (&["dedupe"], Some("dedupe")),
                (&["dlx", "cowsay"], Some("dlx")),
                (&["dlx", "cowsay", "--help"], Some("dlx")),
                (&["--package=cowsay", "dlx", "cowsay"], Some("dlx")),
                (
                    &["dlx", "--package", "cowsay", "-c", "cowsay hi"],
                    Some("dlx"),
                ),
                (&["create", "vite"], Some("create")),
                (&["create", "vite", "--version"], Some("create")),
                (&["env", "use", "--global", "20"], Some("env use")),
                (&["env", "add", "-g", "20"], Some("env add")),
                (&["store", "add", "x"], Some("store add")),
                (&["self-update"], Some("self-update")),
                (&["approve-builds"], Some("approve-builds")),
                (&["-r", "install"], Some("install")),
                (&["recursive", "add", "x"], Some("add")),
                (&["m", "i"], Some("install")),
                (&["-C", "/p", "install"], Some("install")),
                (&["--dir", "/p", "add", "x"], Some("add")),
                (&["--filter", "web", "add", "x"], Some("add")),
                (&["-F", "web", "add", "x"], Some("add")),
                (&["--store-dir", "/s", "install"], Some("install")),
                (&["--registry", REG, "add", "x"], Some("add")),
                (
                    &["--reporter", "silent", "--loglevel", "error", "i"],
                    Some("install"),
                ),
                (
                    &["--config.registry=http://127.0.0.1:4873", "add", "x"],
                    Some("add"),
                ),
                (&["-w", "add", "x"], Some("add")),
                (&["--reg", REG, "add", "x"], Some("add")),
                (&["--", "add", "x"], Some("add")),
                (&["add", "--dry-run=false", "x"], Some("add")),
                (&[], None),
                (&["run", "build"], None),
                (&["exec", "eslint"], None),
                (&["test"], None),
                (&["ls"], None),
                (&["why", "x"], None),
                (&["remove", "x"], Some("remove")),
                (&["rm", "x"], Some("remove")),
                (&["uninstall", "x"], Some("remove")),
                (&["un", "-g", "x"], Some("remove")),
                (&["unlink"], Some("unlink")),
                (&["dislink", "x"], Some("unlink")),
                (&["prune"], Some("prune")),
                (&["patch-commit", "/tmp/p"], Some("patch-commit")),
                (&["patch-remove", "x"], Some("patch-remove")),
                (&["remove", "--help"], None),
                (&["env", "list"], None),
                (&["store", "prune"], None),
                (&["build"], None),
                (&["help", "add"], None),
                (&["--help"], None),
                (&["-h"], None),
                (&["add", "--help"], None),
                (&["install", "-h"], None),
                (&["dlx", "--help"], None),
                (&["-v"], None),
                (&["--version"], None),
                (&["-C"], None),
                (&["ü"], None),
            ],
        );
        check_reasons(
            Tool::Pnpm,
            &[
                (&[], PassReason::Help),
                (&["--help"], PassReason::Help),
                (&["ls", "--help"], PassReason::Help),
                (&["--version"], PassReason::Version),
                (&["run", "build"], PassReason::NotAnInstall),
            ],
        );
    }

    #[test]
    fn pnpm_options_come_through() {
        let r = request(
            Tool::Pnpm,
            &[
                "-C",
                "/proj",
                "--registry",
                REG,
                "-r",
                "add",
                "-D",
                "x",
                "--store-dir",
                "/s",
            ],
        );
        assert_eq!(r.command, "add");
        assert_eq!(r.packages, v(&["x"]));
        assert_eq!(r.option("dir"), Some("/proj"));
        assert_eq!(r.option("registry"), Some(REG));
        assert_eq!(r.option("store-dir"), Some("/s"));
        assert!(r.flag("recursive"));
        assert!(r.flag("save-dev"));
        let r = request(
            Tool::Pnpm,
            &["--config.registry=http://127.0.0.1:1", "i", "-g", "x"],
        );
        assert_eq!(r.option("registry"), Some("http://127.0.0.1:1"));
        assert!(r.flag("global"));
    }

    #[test]
    fn pnpx_lines() {
        check(
            Tool::Pnpx,
            &[
                (&["cowsay"], Some("dlx")),
                (&["cowsay", "--help"], Some("dlx")),
                (&["--package", "cowsay", "cowsay", "-v"], Some("dlx")),
                (&[], Some("dlx")),
                (&["--help"], None),
                (&["-h"], None),
                (&["--version"], None),
            ],
        );
        let r = request(Tool::Pnpx, &["-C", "/p", "create-vite", "app"]);
        assert_eq!(r.option("dir"), Some("/p"));
        assert_eq!(r.packages, v(&["create-vite"]));
    }

    #[test]
    fn odd_input_never_panics() {
        let words: &[&str] = &[
            "",
            "-",
            "--",
            "---",
            "-=",
            "--=",
            "=",
            "-=x",
            "--=x",
            "ü",
            "-ü",
            "--ü",
            "--ü=ü",
            "-Cü",
            "-pü",
            "--no-",
            "--no-no-",
            "-n",
            "--reg",
            "install",
            "dlx",
            "exec",
            "workspace",
            "workspaces",
            "foreach",
            "global",
            "recursive",
            "env",
            "store",
            "true",
            "false",
            "--prod",
            "-c",
            "-p",
            "-w",
            "--help",
            "-v",
        ];
        let tools = [
            Tool::Npm,
            Tool::Npx,
            Tool::Yarn,
            Tool::Pnpm,
            Tool::Pnpx,
            Tool::Gem,
        ];
        for tool in tools {
            let _ = classify(tool, &[]);
            for a in words {
                let _ = classify(tool, &v(&[a]));
                for b in words {
                    let _ = classify(tool, &v(&[a, b]));
                    for c in ["--", "x", "-"] {
                        let _ = classify(tool, &v(&[a, b, c]));
                    }
                }
            }
        }
        // Deep nesting is bounded.
        let mut deep = Vec::new();
        for _ in 0..1000 {
            deep.extend(["workspace", "w"]);
        }
        deep.push("add");
        assert!(command(&classify(Tool::Yarn, &v(&deep))).is_some());
        let deep: Vec<&str> = std::iter::repeat_n("m", 1000).collect();
        assert!(command(&classify(Tool::Pnpm, &v(&deep))).is_some());
    }

    #[test]
    fn yarn_and_pnpm_dry_runs_stay_installs() {
        for (tool, args) in [
            (Tool::Yarn, &["install", "--dry-run"][..]),
            (Tool::Yarn, &["--dry-run"]),
            (Tool::Yarn, &["add", "x", "--dry-run"]),
            (Tool::Pnpm, &["install", "--dry-run"]),
            (Tool::Pnpm, &["add", "x", "--dry-run"]),
        ] {
            let words: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            assert!(
                matches!(classify(tool, &words), Classified::Install(_)),
                "{tool} {args:?}"
            );
        }
    }
}
