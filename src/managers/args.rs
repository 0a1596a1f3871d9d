//! A small tokenizer for manager command lines.
//!
//! Every manager has its own grammar, but all of them share the getopt shape:
//! `--long`, `--long=value`, `--long value` (when the option takes a value),
//! `-s`, `-sVALUE`, `-abc` (clustered flags) and `--` ending options. Adapters
//! describe which options take a value; everything else is a flag. An adapter
//! that misses a value option can only misread that option's value as the
//! subcommand, so the lists in the adapters err on the side of listing more.

/// Which options of one grammar take a value.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Long option names (without `--`) that take a value.
    pub value_long: &'static [&'static str],
    /// Short option letters that take a value.
    pub value_short: &'static [char],
}

impl Spec {
    /// A grammar in which no option takes a value.
    pub const FLAGS_ONLY: Spec = Spec {
        value_long: &[],
        value_short: &[],
    };
}

/// One token of a command line, with its index in the argument list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    /// `--name`, `--name=value` or `--name value`.
    Long {
        /// The option name without dashes.
        name: &'a str,
        /// The value, when the option takes one or was written with `=`.
        value: Option<&'a str>,
    },
    /// `-x` or `-xVALUE` / `-x VALUE`.
    Short {
        /// The option letter.
        flag: char,
        /// The value, when the letter takes one.
        value: Option<&'a str>,
    },
    /// A word that is not an option.
    Positional(&'a str),
    /// Everything after `--`, verbatim.
    AfterDoubleDash(&'a [String]),
}

/// Tokenizes `args` according to `spec`. With `stop_at_positional`, the first
/// positional word and everything after it are returned as one `Positional`
/// each without further option parsing (for `npx pkg --help`, where the options
/// after the package belong to the package).
pub fn scan<'a>(args: &'a [String], spec: &Spec, stop_at_positional: bool) -> Vec<Token<'a>> {
    let (mut out, stopped) = scan_options(args, spec);
    if let Some(i) = stopped {
        if stop_at_positional {
            out.extend(args[i..].iter().map(|a| Token::Positional(a.as_str())));
        } else {
            out.push(Token::Positional(args[i].as_str()));
            out.extend(scan(&args[i + 1..], spec, false));
        }
    }
    out
}

/// Splits a command line at its first positional word (the subcommand): the
/// options before it, the subcommand, and the words after it.
pub fn split_command<'a>(
    args: &'a [String],
    spec: &Spec,
) -> (Vec<Token<'a>>, Option<&'a str>, &'a [String]) {
    match scan_options(args, spec) {
        (before, Some(i)) => (before, Some(args[i].as_str()), &args[i + 1..]),
        (before, None) => (before, None, &[]),
    }
}

/// Reads options up to the first positional word; returns the tokens and the
/// index of that word, if any.
fn scan_options<'a>(args: &'a [String], spec: &Spec) -> (Vec<Token<'a>>, Option<usize>) {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        if arg == "--" {
            out.push(Token::AfterDoubleDash(&args[i + 1..]));
            return (out, None);
        }
        if let Some(long) = arg.strip_prefix("--") {
            if let Some((name, value)) = long.split_once('=') {
                out.push(Token::Long {
                    name,
                    value: Some(value),
                });
            } else if spec.value_long.contains(&long) {
                i += 1;
                let value = args.get(i).map(String::as_str);
                out.push(Token::Long { name: long, value });
            } else {
                out.push(Token::Long {
                    name: long,
                    value: None,
                });
            }
        } else if arg.len() > 1 && arg.starts_with('-') {
            // A cluster of short flags; the first letter that takes a value
            // swallows the rest of the word, or the next word.
            let letters = &arg[1..];
            for (pos, flag) in letters.char_indices() {
                if spec.value_short.contains(&flag) {
                    let rest = &letters[pos + flag.len_utf8()..];
                    let value = if rest.is_empty() {
                        i += 1;
                        args.get(i).map(String::as_str)
                    } else {
                        Some(rest)
                    };
                    out.push(Token::Short { flag, value });
                    break;
                }
                out.push(Token::Short { flag, value: None });
            }
        } else {
            return (out, Some(i));
        }
        i += 1;
    }
    (out, None)
}

/// True when the tokens hold a long option `name` or a short option `flag`.
pub fn has(tokens: &[Token<'_>], long: &[&str], short: &[char]) -> bool {
    tokens.iter().any(|t| match t {
        Token::Long { name, .. } => long.contains(name),
        Token::Short { flag, .. } => short.contains(flag),
        _ => false,
    })
}

/// The positional words among the tokens, in order.
pub fn positionals<'a>(tokens: &[Token<'a>]) -> Vec<&'a str> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Positional(p) => Some(*p),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    const SPEC: Spec = Spec {
        value_long: &["registry", "prefix"],
        value_short: &['C'],
    };

    #[test]
    fn split_skips_value_options_before_the_command() {
        let args = v(&[
            "--registry",
            "http://x",
            "-C",
            "dir",
            "--loglevel=silly",
            "install",
            "a",
        ]);
        let (before, cmd, rest) = split_command(&args, &SPEC);
        assert_eq!(cmd, Some("install"));
        assert_eq!(rest, &v(&["a"])[..]);
        assert_eq!(
            before,
            vec![
                Token::Long {
                    name: "registry",
                    value: Some("http://x")
                },
                Token::Short {
                    flag: 'C',
                    value: Some("dir")
                },
                Token::Long {
                    name: "loglevel",
                    value: Some("silly")
                },
            ]
        );
    }

    #[test]
    fn split_handles_attached_short_values_and_clusters() {
        let args = v(&["-qCdir", "run"]);
        let (before, cmd, _) = split_command(&args, &SPEC);
        assert_eq!(cmd, Some("run"));
        assert_eq!(before.len(), 2);
        let args = v(&["-qv", "run"]);
        let (before, cmd, _) = split_command(&args, &SPEC);
        assert_eq!(cmd, Some("run"));
        assert_eq!(before.len(), 2);
    }

    #[test]
    fn split_stops_at_double_dash() {
        let args = v(&["--", "install"]);
        let (_, cmd, _) = split_command(&args, &SPEC);
        assert_eq!(cmd, None);
    }

    #[test]
    fn scan_stop_at_positional_keeps_package_options() {
        let args = v(&["--yes", "cowsay", "--help"]);
        let toks = scan(&args, &Spec::FLAGS_ONLY, true);
        assert!(!has(&toks[..1], &["help"], &[]));
        assert_eq!(positionals(&toks), vec!["cowsay", "--help"]);
    }

    #[test]
    fn scan_reads_values_and_double_dash() {
        let args = v(&["--prefix", "/p", "pkg", "--", "-x"]);
        let toks = scan(&args, &SPEC, false);
        assert_eq!(positionals(&toks), vec!["pkg"]);
        assert!(matches!(toks.last(), Some(Token::AfterDoubleDash(r)) if r.len() == 1));
    }
}
