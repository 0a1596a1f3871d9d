//! The `pkgwarden` command line (when not invoked through a shim).

use crate::exit;
use crate::invoke::{self as run, Invocation};
use crate::managers::Classified;
use crate::model::Tool;
use crate::policy::{self, Mode, Overrides};
use crate::shim::{self, Shell};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// pkgwarden: runs package installs in a sandbox and reports what they did.
#[derive(Debug, Parser)]
#[command(name = "pkgwarden", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a manager command as a shim would: `pkgwarden run -- pip install x`.
    Run {
        /// audit, protect or block (overrides every policy layer).
        #[arg(long)]
        mode: Option<ModeArg>,
        /// A policy file applied on top of the others.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Sandbox the install also where it would run unmonitored by default
        /// (bundle, mamba, micromamba, yarn 2+: where they write is not derived);
        /// every other manager is sandboxed by default. PKGWARDEN_SANDBOX=1/0.
        #[arg(long)]
        sandbox: bool,
        /// With --sandbox: write what the install did as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        events_json: Option<PathBuf>,
        /// The manager and its arguments.
        #[arg(required = true, last = true, value_name = "MANAGER ARGS")]
        argv: Vec<OsString>,
    },
    /// Show how pkgwarden understands a command: passthrough, or the install plan.
    Plan {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The manager and its arguments.
        #[arg(required = true, last = true, value_name = "MANAGER ARGS")]
        argv: Vec<OsString>,
    },
    /// Manage the shim directory.
    Shims {
        #[command(subcommand)]
        action: ShimsCmd,
    },
    /// Show or check the policy.
    Policy {
        #[command(subcommand)]
        action: PolicyCmd,
    },
    /// What block mode moved out of persistence locations.
    Quarantine {
        #[command(subcommand)]
        action: QuarantineCmd,
    },
    /// What stands in pkgwarden's way: kernel features, PATH order, the shell
    /// hook, the policy, its directories, the proxy, each manager's facts.
    Doctor {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The steps a CI job runs around its installs (README, "CI").
    Ci {
        #[command(subcommand)]
        action: CiCmd,
    },
    /// Why the findings of a report fired, and the smallest policy entry
    /// that would allow each (none for what is never legitimate).
    Explain {
        /// A report id (or a unique prefix of one), or `last`.
        report: String,
        /// One finding: its number in the report (1, 2 …) or a rule id.
        finding: Option<String>,
    },
    /// Known-malicious packages, offline: import OSV records, show what is held.
    Intel {
        #[command(subcommand)]
        action: IntelCmd,
    },
    /// List, show and export the reports of past installs.
    Report {
        #[command(subcommand)]
        action: ReportCmd,
    },
    /// The post-install watch window (started by an install, not by hand).
    #[command(hide = true)]
    Watch {
        /// The directory where installs leave their windows.
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum IntelCmd {
    /// Replace the index with the OSV records in FILE or DIR (`*.json`,
    /// recursively), e.g. a checkout of the OpenSSF malicious-packages data
    /// set's `osv/malicious` tree. Nothing is fetched.
    Import {
        /// OSV record files or directories of them.
        #[arg(required = true, value_name = "FILE|DIR")]
        sources: Vec<PathBuf>,
    },
    /// How many records the index holds, per ecosystem, and from when.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CiCmd {
    /// Install the shims and print the lines that put them first on PATH and
    /// set the mode: `eval "$(pkgwarden ci env)"`.
    Env {
        /// The shell to print for.
        #[arg(long, value_enum, default_value = "sh")]
        shell: crate::ci::CiShell,
        /// The mode of the job's installs.
        #[arg(long, value_enum, default_value = "block")]
        mode: ModeArg,
        /// Append to $GITHUB_PATH and $GITHUB_ENV instead of printing.
        #[arg(long)]
        github: bool,
        /// The shim directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The post step: fail when the shims were shadowed (exit 91) or an
    /// install of the job was blocked (exit 90); write the summary and SARIF.
    Check {
        /// Append a Markdown summary of the job's installs (e.g. $GITHUB_STEP_SUMMARY).
        #[arg(long, value_name = "FILE")]
        summary: Option<PathBuf>,
        /// Write the job's findings as a SARIF 2.1.0 log.
        #[arg(long, value_name = "FILE")]
        sarif: Option<PathBuf>,
        /// Write the job's findings as a GitLab Code Quality report.
        #[arg(long, value_name = "FILE")]
        codequality: Option<PathBuf>,
        /// The job's start (as for `report list`; default: $PKGWARDEN_CI_SINCE
        /// set by `ci env`, else every stored report).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// The shim directory.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Leave out the PATH check (for a step that runs without the job's
        /// PATH, as GitLab's after_script does).
        #[arg(long)]
        no_path_check: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ReportCmd {
    /// The stored reports, oldest first.
    List {
        /// Only reports started since then: a duration back from now (`1h`,
        /// `2days`) or an RFC 3339 time (`2026-01-31T12:00:00Z`).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// Only reports with findings.
        #[arg(long)]
        findings: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One report in full.
    Show {
        /// A report id, a unique prefix of one, or `last`.
        #[arg(value_name = "ID|last")]
        id: String,
        /// How to print it (the same formats as `report export`).
        #[arg(long, value_enum, default_value = "human")]
        format: ReportFormat,
    },
    /// Reports for a SIEM or a file, on stdout: JSON lines by default; the
    /// same formats as `report show` (json: one report a line; sarif: one
    /// report only, a SARIF log holds one run per tool invocation).
    Export {
        /// A report id, a unique prefix of one, or `last` (the default).
        #[arg(value_name = "ID|last", conflicts_with = "all")]
        id: Option<String>,
        /// Every stored report (with --since, those started since then).
        #[arg(long)]
        all: bool,
        /// With --all: only reports started since then (as for `list`).
        #[arg(long, value_name = "WHEN", requires = "all")]
        since: Option<String>,
        /// The output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ReportFormat,
    },
}

/// The formats of `report show` and `report export`, the same for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    /// For people (colour on a terminal).
    Human,
    /// The report as stored (pretty on `show`, one line a report on `export`).
    Json,
    /// JSON lines of events and alerts, for a SIEM.
    Jsonl,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// A Markdown summary, for a pull request or an issue.
    Markdown,
}

/// One report in `format`; `several` when it is one of many on one stream.
fn render_report(r: &crate::model::report::Report, format: ReportFormat, several: bool) -> String {
    use crate::report::{human, jsonl, markdown, sarif};
    match format {
        ReportFormat::Human => human::show(r, human::use_color_stdout()),
        ReportFormat::Json if several => serde_json::to_string(r).unwrap_or_default() + "\n",
        ReportFormat::Json => serde_json::to_string_pretty(r).unwrap_or_default() + "\n",
        ReportFormat::Jsonl => jsonl::render(r),
        ReportFormat::Sarif => {
            serde_json::to_string_pretty(&sarif::render(r)).unwrap_or_default() + "\n"
        }
        ReportFormat::Markdown => markdown::render(r),
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Audit,
    Protect,
    Block,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Audit => Mode::Audit,
            ModeArg::Protect => Mode::Protect,
            ModeArg::Block => Mode::Block,
        }
    }
}

#[derive(Debug, Subcommand)]
enum ShimsCmd {
    /// Create one shim per monitored manager and print the PATH line.
    Install {
        /// The shim directory (default: ~/.local/share/pkgwarden/shims).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Remove pkgwarden's shims.
    Uninstall {
        /// The shim directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// List the shims and the real manager behind each.
    List {
        /// The shim directory.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the line that puts the shims first on PATH, for `eval`.
    Env {
        /// The shell.
        #[arg(long, value_enum, default_value = "bash")]
        shell: Shell,
        /// The shim directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum QuarantineCmd {
    /// The quarantines held, per report.
    List,
    /// Put the files of a quarantine back where they were.
    Restore {
        /// The report id (or a unique prefix of it).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// The effective policy and where each value came from.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check one policy file; errors point at line and column.
    Check {
        /// The file.
        file: PathBuf,
    },
    /// Learn mode: the scoped allow entries that make the installs of past
    /// audit or protect runs pass in block mode.
    Suggest {
        /// Report ids (or `last`) to learn from.
        #[arg(long, value_name = "REPORT", num_args = 1.., conflicts_with = "last")]
        from: Vec<String>,
        /// Learn from the newest N reports (default: the newest one).
        #[arg(long, value_name = "N")]
        last: Option<usize>,
        /// For the project's .pkgwarden.toml (only hosts per package
        /// version may go there).
        #[arg(long)]
        project: bool,
        /// Append to the policy file (the project's with --project, else
        /// the user's) instead of printing; the result is checked.
        #[arg(long)]
        write: bool,
    },
}

/// Entry point for `pkgwarden …`; returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    if !matches!(cli.command, Cmd::Run { .. } | Cmd::Watch { .. }) {
        // A command that only prints ends quietly when its reader does
        // (`pkgwarden report show | head`), as other tools do; an install
        // and the watch window keep ignoring SIGPIPE, so a closed pipe
        // never kills a supervisor.
        crate::sys::default_sigpipe();
    }
    match cli.command {
        Cmd::Run {
            mode,
            policy,
            sandbox,
            events_json,
            argv,
        } => {
            let mut opts = run::SandboxOpts::from_env();
            if sandbox {
                opts.enabled = Some(true);
            }
            opts.events_json = events_json.or(opts.events_json);
            cmd_run(argv, mode.map(Mode::from), policy, opts)
        }
        Cmd::Plan { json, argv } => cmd_plan(argv, json),
        Cmd::Shims { action } => cmd_shims(action),
        Cmd::Policy { action } => cmd_policy(action),
        Cmd::Quarantine { action } => cmd_quarantine(action),
        Cmd::Doctor { json } => cmd_doctor(json),
        Cmd::Report { action } => cmd_report(action),
        Cmd::Intel { action } => cmd_intel(action),
        Cmd::Explain { report, finding } => cmd_explain(&report, finding.as_deref()),
        Cmd::Ci { action } => cmd_ci(action),
        Cmd::Watch { dir } => {
            // It outlives the install, beside later sandboxes.
            crate::sandbox::spawn::guard_self();
            crate::monitor::watch::run(&dir)
        }
    }
}

fn cmd_ci(action: CiCmd) -> i32 {
    use crate::ci;
    match action {
        CiCmd::Env {
            shell,
            mode,
            github,
            dir,
        } => ci::env(ci::EnvOpts {
            shell,
            mode: mode.into(),
            github,
            dir,
        }),
        CiCmd::Check {
            summary,
            sarif,
            codequality,
            since,
            dir,
            no_path_check,
        } => {
            let since = match since_or_usage(since.as_deref()) {
                Ok(s) => s,
                Err(c) => return c,
            };
            ci::check(ci::CheckOpts {
                summary,
                sarif,
                codequality,
                since,
                dir,
                skip_path: no_path_check,
            })
        }
    }
}

fn cmd_quarantine(action: QuarantineCmd) -> i32 {
    use crate::quarantine;
    match action {
        QuarantineCmd::List => match quarantine::list() {
            Ok(held) => {
                if held.iter().all(|(_, items)| items.is_empty()) {
                    println!("nothing is in quarantine");
                }
                for (id, items) in held {
                    println!("{id}");
                    for q in items {
                        let what = if q.stored.is_empty() {
                            "deleted file put back".to_string()
                        } else if q.restored_previous {
                            format!(
                                "earlier content put back; install's version held ({})",
                                short(&q.sha256)
                            )
                        } else {
                            format!("held ({})", short(&q.sha256))
                        };
                        println!("  {}  {what}", q.original);
                    }
                }
                0
            }
            Err(e) => {
                eprintln!("pkgwarden: {e}");
                exit::USAGE
            }
        },
        QuarantineCmd::Restore { id } => match quarantine::restore(&id) {
            Ok(paths) => {
                for p in paths {
                    println!("restored {p}");
                }
                0
            }
            Err(e) => {
                eprintln!("pkgwarden: {e}");
                exit::USAGE
            }
        },
    }
}

/// The first 12 hex digits of a hash.
fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}

/// Splits `MANAGER ARGS…` into the tool and its name.
fn manager_of(argv: &[OsString]) -> Result<(Tool, String), String> {
    let first = argv.first().map(|a| a.to_string_lossy().into_owned());
    let name = first.unwrap_or_default();
    let base = std::path::Path::new(&name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Tool::from_command(&base)
        .map(|t| (t, base.clone()))
        .ok_or_else(|| {
            format!(
                "pkgwarden: '{name}' is not a manager pkgwarden knows\n  hint: use one of {}",
                Tool::ALL.map(Tool::name).join(", ")
            )
        })
}

fn cmd_run(
    argv: Vec<OsString>,
    mode: Option<Mode>,
    policy: Option<PathBuf>,
    sandbox: run::SandboxOpts,
) -> i32 {
    let (tool, name) = match manager_of(&argv) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return exit::USAGE;
        }
    };
    // `pkgwarden run -- v/bin/pip …` means that pip, not the first on PATH.
    let explicit = argv
        .first()
        .map(PathBuf::from)
        .filter(|p| p.components().count() > 1);
    run::invoke(Invocation {
        tool,
        name,
        args: argv[1..].to_vec(),
        explicit,
        overrides: Overrides { file: policy, mode },
        sandbox,
    })
}

fn cmd_plan(argv: Vec<OsString>, json: bool) -> i32 {
    let (tool, name) = match manager_of(&argv) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return exit::USAGE;
        }
    };
    let words: Vec<String> = argv[1..]
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (real, classified) = match run::resolve(tool, &name, &words) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pkgwarden: {e}");
            return exit::NOT_FOUND;
        }
    };
    let value = match &classified {
        Classified::Passthrough { reason } => serde_json::json!({
            "tool": tool, "real_exe": real, "classified": classified,
            "note": format!("passthrough ({})", serde_json::to_value(reason).unwrap_or_default().as_str().unwrap_or("")),
        }),
        Classified::Install(req) => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
            match crate::managers::facts::plan(&real, req, &cwd) {
                Ok(mut p) => {
                    plan_cooldown(&mut p, &words, &cwd);
                    serde_json::json!({"tool": tool, "real_exe": real, "classified": classified, "plan": p})
                }
                Err(e) => {
                    eprintln!("pkgwarden: {e}");
                    return 1;
                }
            }
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        print_plan_human(&value);
    }
    0
}

/// The policy's cooldown as the install would get it (a broken policy
/// shows none: the install itself says what is wrong).
fn plan_cooldown(p: &mut crate::model::plan::InstallPlan, words: &[String], cwd: &Path) {
    let env: Vec<(String, String)> = std::env::vars().collect();
    if let Ok(eff) = policy::load(&policy::Locations::default(), &env, &Default::default()) {
        let now = std::time::SystemTime::now();
        crate::managers::cooldown::apply(p, &eff.policy, now, words, cwd);
    }
}

fn print_plan_human(v: &serde_json::Value) {
    let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).unwrap_or("");
    let list = |p: &str| {
        let items: Vec<&str> = v
            .pointer(p)
            .and_then(|x| x.as_array())
            .map(|a| a.iter().filter_map(|i| i.as_str()).collect())
            .unwrap_or_default();
        if items.is_empty() {
            "(none)".to_string()
        } else {
            items.join(", ")
        }
    };
    let tool = s("/tool");
    println!("{:<18} {}", format!("real {tool}"), s("/real_exe"));
    match v.pointer("/plan") {
        None => {
            let why = match s("/classified/reason") {
                "help" => "a help request",
                "version" => "a version query",
                "dry-run" => "a dry run that downloads and runs nothing",
                _ => "not an install",
            };
            println!("what happens       {why}: passed to the real {tool} untouched");
        }
        Some(_) => {
            let derived = v
                .pointer("/plan/facts/derived")
                .and_then(|x| x.as_bool())
                .unwrap_or(true);
            if derived {
                println!(
                    "what happens       an install (`{tool} {}`): run in the sandbox, watched, reported",
                    s("/plan/request/command")
                );
            } else {
                println!(
                    "what happens       an install (`{tool} {}`): run unmonitored, with a notice (where {tool} writes is not derived; `pkgwarden run --sandbox` sandboxes it)",
                    s("/plan/request/command")
                );
            }
            println!("packages           {}", list("/plan/request/packages"));
            println!("may download from  {}", list("/plan/registry_hosts"));
            println!("may write under    {}", list("/plan/write_roots"));
            println!("caches it may use  {}", list("/plan/cache_dirs"));
            println!("config it reads    {}", list("/plan/config_files"));
            let origin = match s("/plan/facts_origin") {
                "cache" => format!(
                    "asking {tool} earlier, cached (asked again when its config files change)"
                ),
                _ => format!("asking {tool} itself just now"),
            };
            println!("learned by         {origin}");
            if let Some(c) = v.pointer("/plan/cooldown") {
                let f = |k: &str| c.get(k).and_then(|x| x.as_str()).unwrap_or("");
                if c.get("enforced").and_then(|x| x.as_bool()) == Some(true) {
                    println!(
                        "cooldown           {}: nothing uploaded after {} ({})",
                        f("age"),
                        f("cutoff"),
                        f("mechanism")
                    );
                } else {
                    println!(
                        "cooldown           {} NOT ENFORCED: {}",
                        f("age"),
                        f("mechanism")
                    );
                }
            }
            for note in v
                .pointer("/plan/notes")
                .and_then(|x| x.as_array())
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str())
            {
                println!("note               {note}");
            }
        }
    }
}

fn shims_dir_or(dir: Option<PathBuf>) -> Result<PathBuf, i32> {
    dir.or_else(shim::shims_dir).ok_or_else(|| {
        eprintln!(
            "pkgwarden: cannot tell where the shims go: HOME is not set\n  hint: pass --dir DIR"
        );
        exit::USAGE
    })
}

fn cmd_shims(action: ShimsCmd) -> i32 {
    match action {
        ShimsCmd::Install { dir } => in_shims_dir(dir, shims_install),
        ShimsCmd::Uninstall { dir } => in_shims_dir(dir, shims_uninstall),
        ShimsCmd::List { dir, json } => in_shims_dir(dir, |d| shims_list(d, json)),
        ShimsCmd::Env { shell, dir } => in_shims_dir(dir, |d| {
            print!("{}", shim::activation(shell, d));
            0
        }),
    }
}

/// Runs `step` on the shims directory (`--dir`, or the default one).
fn in_shims_dir(dir: Option<PathBuf>, step: impl FnOnce(&Path) -> i32) -> i32 {
    match shims_dir_or(dir) {
        Ok(d) => step(&d),
        Err(c) => c,
    }
}

/// `shims install`: the shims the policy wants, then how to put them first.
fn shims_install(dir: &Path) -> i32 {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let eff = match policy::load(&policy::Locations::default(), &env, &Overrides::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("pkgwarden: policy error, no shims changed\n{e}");
            return exit::USAGE;
        }
    };
    let target = match std::env::current_exe().and_then(|p| p.canonicalize()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pkgwarden: cannot find my own binary: {e}");
            return 1;
        }
    };
    let path_var = std::env::var_os("PATH");
    let names = shim::wanted_names(&eff.policy.package_managers, path_var.as_deref(), dir);
    let link_to = shim::shim_target_or_self(&target);
    match shim::install_shims(dir, &link_to, &names) {
        Ok(changes) => {
            let count = |c: shim::Change| changes.iter().filter(|(_, x)| *x == c).count();
            println!(
                "pkgwarden: {} shims in {} (created {}, updated {}, unchanged {}, removed {})",
                names.len() - count(shim::Change::Skipped),
                dir.display(),
                count(shim::Change::Created),
                count(shim::Change::Updated),
                count(shim::Change::Unchanged),
                count(shim::Change::Removed),
            );
            for (name, _) in changes.iter().filter(|(_, c)| *c == shim::Change::Skipped) {
                eprintln!(
                    "pkgwarden: left {} alone: it is not a pkgwarden shim",
                    dir.join(name).display()
                );
            }
            print_shims_hints(&target, dir);
            0
        }
        Err(e) => {
            eprintln!("pkgwarden: cannot write shims in {}: {e}", dir.display());
            1
        }
    }
}

/// How to put the shims in `dir` first on PATH, per shell.
fn print_shims_hints(target: &Path, dir: &Path) {
    println!(
        "Put the shims first on PATH, and keep them first after `activate`, `nvm use`, `conda activate` …; pkgwarden never edits start-up files itself."
    );
    let me = target.display();
    println!("bash (~/.bashrc):");
    println!("  eval \"$('{me}' shims env --shell bash)\"");
    println!("zsh (~/.zshrc):");
    println!("  eval \"$('{me}' shims env --shell zsh)\"");
    println!("fish (~/.config/fish/config.fish):");
    println!("  '{me}' shims env --shell fish | source");
    println!("CI jobs and plain sh (no prompt to hook):");
    println!("  export PATH=\"{}:$PATH\"", dir.display());
}

/// `shims uninstall`.
fn shims_uninstall(dir: &Path) -> i32 {
    match shim::uninstall_shims(dir) {
        Ok(removed) => {
            println!(
                "pkgwarden: removed {} shims from {}; remove the PATH line from your start-up file",
                removed.len(),
                dir.display()
            );
            0
        }
        Err(e) => {
            eprintln!("pkgwarden: cannot remove shims in {}: {e}", dir.display());
            1
        }
    }
}

/// `shims list`: each shim and the real manager behind it.
fn shims_list(dir: &Path, json: bool) -> i32 {
    let path_var = std::env::var_os("PATH");
    let entries = shim::list_shims(dir, path_var.as_deref());
    let first = path_var
        .as_deref()
        .and_then(|p| std::env::split_paths(p).next())
        .is_some_and(|p| p == dir);
    if json {
        let v = serde_json::json!({"dir": dir, "first_on_path": first, "shims": entries});
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return 0;
    }
    println!(
        "{} ({})",
        dir.display(),
        if first {
            "first on PATH"
        } else {
            "NOT first on PATH: run `pkgwarden shims env`"
        }
    );
    for e in entries {
        let real = e
            .real
            .map(|r| r.display().to_string())
            .unwrap_or_else(|| "no real manager on PATH".into());
        println!("  {:<12} -> {real}", e.name);
    }
    0
}

fn cmd_policy(action: PolicyCmd) -> i32 {
    match action {
        PolicyCmd::Suggest {
            from,
            last,
            project,
            write,
        } => cmd_suggest(&from, last, project, write),
        PolicyCmd::Check { file } => match policy::check_file(&file) {
            Ok(()) => {
                println!("pkgwarden: {}: ok", file.display());
                0
            }
            Err(e) => {
                eprintln!("pkgwarden: {e}");
                exit::USAGE
            }
        },
        PolicyCmd::Show { json } => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            let eff = match policy::load(&policy::Locations::default(), &env, &Overrides::default())
            {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("pkgwarden: policy error\n{e}");
                    return exit::USAGE;
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&eff).unwrap_or_default());
                return 0;
            }
            let value = serde_json::to_value(&eff.policy).unwrap_or_default();
            for key in policy::KEYS {
                let v = value.pointer(&format!("/{}", key.replace('.', "/")));
                let shown = v
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| policy::unset(key).to_string());
                let shown = if shown.len() > 70 {
                    format!("{}…", &shown[..shown.floor_char_boundary(69)])
                } else {
                    shown
                };
                let src = eff
                    .sources
                    .get(key)
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                println!("# {key}: {}", policy::explain(key));
                println!("{key:<30} {shown:<72} # {src}");
            }
            println!(
                "# layers: {}",
                eff.layers
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join(" < ")
            );
            for w in &eff.warnings {
                println!("# warning: {w}");
            }
            0
        }
    }
}

fn cmd_doctor(json: bool) -> i32 {
    let found = crate::doctor::examine();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&found).unwrap_or_default()
        );
    } else {
        print!("{}", crate::doctor::render(&found));
    }
    found.code()
}

/// `--since`: a duration back from now, or an RFC 3339 time.
fn parse_since(s: &str) -> Result<std::time::SystemTime, String> {
    if let Ok(d) = humantime::parse_duration(s) {
        return std::time::SystemTime::now().checked_sub(d).ok_or_else(|| {
            format!("pkgwarden: --since {s} is too far back\n  hint: give a shorter duration")
        });
    }
    humantime::parse_rfc3339_weak(s).map_err(|_| {
        format!(
            "pkgwarden: cannot read --since '{s}'\n  hint: give a duration like 1h or 2days, or a time like 2026-01-31T12:00:00Z"
        )
    })
}

/// Writes report output to stdout; a closed pipe (`| head`) ends it quietly
/// instead of panicking as `print!` would.
fn emit(text: &str) -> i32 {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    0
}

/// Prints a report error and returns the usage exit code.
fn report_error(e: impl std::fmt::Display) -> i32 {
    eprintln!("pkgwarden: {e}");
    exit::USAGE
}

fn cmd_report(action: ReportCmd) -> i32 {
    match action {
        ReportCmd::List {
            since,
            findings,
            json,
        } => report_list(since.as_deref(), findings, json),
        ReportCmd::Show { id, format } => {
            let r = match crate::report::store::load(&id) {
                Ok(r) => r,
                Err(e) => return report_error(e),
            };
            emit(&render_report(&r, format, false))
        }
        ReportCmd::Export {
            id,
            all,
            since,
            format,
        } => report_export(id.as_deref(), all, since.as_deref(), format),
    }
}

/// `--since WHEN`, or the exit code of a usage error (said on stderr).
fn since_or_usage(since: Option<&str>) -> Result<Option<std::time::SystemTime>, i32> {
    since.map(parse_since).transpose().map_err(|e| {
        eprintln!("{e}");
        exit::USAGE
    })
}

/// `report list`: the stored reports as a table or JSON.
fn report_list(since: Option<&str>, findings: bool, json: bool) -> i32 {
    use crate::report::store;
    let since = match since_or_usage(since) {
        Ok(s) => s,
        Err(c) => return c,
    };
    crate::monitor::watch::print_notices();
    let all = match store::list(since, findings) {
        Ok(a) => a,
        Err(e) => return report_error(e),
    };
    if json {
        return emit(&(serde_json::to_string_pretty(&all).unwrap_or_default() + "\n"));
    }
    if all.is_empty() {
        let dir = store::reports_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        let which = if findings {
            "reports with findings"
        } else {
            "reports"
        };
        eprintln!("pkgwarden: no {which} in {dir}");
        return 0;
    }
    emit(&report_table(all))
}

/// One line per stored report, under a header.
fn report_table(all: Vec<crate::report::store::Summary>) -> String {
    let mut table = format!(
        "{:<16}  {:<20}  {:<8} {:<9} {:<8} {:<11} {:>4}  FINDINGS\n",
        "ID", "STARTED", "MANAGER", "COMMAND", "MODE", "STATUS", "EXIT"
    );
    for s in all {
        let started = humantime::parse_rfc3339_weak(&s.started)
            .ok()
            .and_then(|t| crate::report::rfc3339(t, 0, false))
            .unwrap_or(s.started);
        let found = match s.worst {
            Some(w) if s.findings > 0 => format!("{} (worst {w})", s.findings),
            _ => s.findings.to_string(),
        };
        let cell = |v: &str, n: usize| crate::report::shorten(&crate::report::clean(v), n);
        table.push_str(&format!(
            "{:<16}  {:<20}  {:<8} {:<9} {:<8} {:<11} {:>4}  {found}\n",
            cell(&s.id, 16),
            cell(&started, 20),
            cell(&s.manager, 8),
            cell(&s.command, 9),
            cell(&s.mode, 8),
            cell(&s.status, 11),
            s.exit_code,
        ));
    }
    table
}

/// `report export`: one report, or every one since a time, on stdout.
fn report_export(id: Option<&str>, all: bool, since: Option<&str>, format: ReportFormat) -> i32 {
    use crate::report::store;
    if all && format == ReportFormat::Sarif {
        eprintln!(
            "pkgwarden: a SARIF log holds one report here\n  hint: export one id with --format sarif, or use --format jsonl with --all"
        );
        return exit::USAGE;
    }
    let reports = if all {
        match load_all_since(since) {
            Ok(l) => l,
            Err(c) => return c,
        }
    } else {
        match store::load(id.unwrap_or("last")) {
            Ok(r) => vec![r],
            Err(e) => return report_error(e),
        }
    };
    let mut out = std::io::stdout().lock();
    for r in &reports {
        use std::io::Write as _;
        // A closed pipe (`| head`) ends the export quietly.
        if out
            .write_all(render_report(r, format, all).as_bytes())
            .is_err()
        {
            return 0;
        }
    }
    0
}

/// Every stored report started since `since`, or the exit code of the
/// error (said on stderr).
fn load_all_since(since: Option<&str>) -> Result<Vec<crate::model::report::Report>, i32> {
    use crate::report::store;
    let since = since_or_usage(since)?;
    let listed = store::list(since, false).map_err(report_error)?;
    let mut loaded = Vec::new();
    for s in listed {
        loaded.push(store::load(&s.id).map_err(report_error)?);
    }
    Ok(loaded)
}

/// A report lookup failed: the store's message, and how to get a report.
fn no_report(e: crate::report::store::StoreError) -> i32 {
    use crate::report::store::StoreError;
    if matches!(e, StoreError::Empty { .. }) {
        eprintln!(
            "pkgwarden: no reports yet\n  hint: run the install once in audit mode (`PKGWARDEN_MODE=audit npm install …`), then ask again"
        );
        return exit::USAGE;
    }
    report_error(e)
}

/// `explain REPORT [FINDING]`.
fn cmd_intel(action: IntelCmd) -> i32 {
    use crate::intel;
    let Some(dir) = intel::dir() else {
        eprintln!("pkgwarden: {}", intel::IntelError::NoState);
        return exit::USAGE;
    };
    match action {
        IntelCmd::Import { sources } => match intel::import(&sources, &dir) {
            Ok(meta) => {
                println!(
                    "pkgwarden: intel: {} records, {} packages indexed in {} ({} records that are no malicious-package record and {} packages of other ecosystems left out)",
                    meta.records,
                    meta.entries,
                    dir.display(),
                    meta.not_malicious,
                    meta.skipped
                );
                0
            }
            Err(e) => {
                eprintln!("pkgwarden: intel import: {e}");
                exit::USAGE
            }
        },
        IntelCmd::Status { json } => {
            let meta = intel::status(&dir);
            if json {
                return emit(&(serde_json::to_string_pretty(&meta).unwrap_or_default() + "\n"));
            }
            let Some(meta) = meta else {
                return emit("intel: no feed imported (pkgwarden intel import FILE|DIR)\n");
            };
            // brew downloads bottles by digest: its entries are kept, not consulted.
            let per: Vec<String> = meta
                .per_ecosystem
                .iter()
                .map(|(e, n)| match e.as_str() {
                    "homebrew" => format!("{e} {n} (not consulted: bottles are fetched by digest)"),
                    _ => format!("{e} {n}"),
                })
                .collect();
            emit(&format!(
                "intel: {} records, {} packages ({}); newest record {}; imported {} from {}\n",
                meta.records,
                meta.entries,
                per.join(", "),
                meta.newest.as_deref().unwrap_or("undated"),
                meta.imported_at,
                meta.sources.join(", ")
            ))
        }
    }
}

fn cmd_explain(report: &str, finding: Option<&str>) -> i32 {
    let r = match crate::report::store::load(report) {
        Ok(r) => r,
        Err(e) => return no_report(e),
    };
    match crate::explain::render(&r, finding) {
        Ok(text) => emit(&text),
        Err(e) => report_error(e),
    }
}

/// `policy suggest`: the reports to learn from, merged, printed or appended.
fn cmd_suggest(from: &[String], last: Option<usize>, project: bool, write: bool) -> i32 {
    use crate::report::store;
    let ids: Vec<String> = if from.is_empty() {
        let n = last.unwrap_or(1).max(1);
        match store::list(None, false) {
            Ok(all) if all.is_empty() => {
                return no_report(store::StoreError::Empty {
                    dir: PathBuf::new(),
                });
            }
            Ok(all) => all
                .iter()
                .rev()
                .take(n)
                .map(|s| s.id.clone())
                .rev()
                .collect(),
            Err(e) => return report_error(e),
        }
    } else {
        from.to_vec()
    };
    let mut reports = Vec::new();
    for id in &ids {
        match store::load(id) {
            Ok(r) => reports.push(r),
            Err(e) => return no_report(e),
        }
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let min = policy::load(&policy::Locations::default(), &env, &Overrides::default())
        .map(|e| e.policy.block_severity)
        .unwrap_or(crate::model::Severity::Medium);
    let s = crate::suggest::suggest(&reports, min, project);
    let text = crate::suggest::render(&s, project);
    if !write {
        return emit(&text);
    }
    if s.entries.is_empty() {
        emit(&text);
        eprintln!("pkgwarden: nothing to allow; no policy file was changed");
        return 0;
    }
    let target = if project {
        std::env::current_dir()
            .ok()
            .map(|d| policy::find_project_file(&d).unwrap_or_else(|| d.join(".pkgwarden.toml")))
    } else {
        crate::paths::config_dir().map(|d| d.join("policy.toml"))
    };
    let Some(target) = target else {
        eprintln!(
            "pkgwarden: cannot tell which policy file to write\n  hint: set HOME, or print the suggestion without --write"
        );
        return exit::USAGE;
    };
    match crate::suggest::append(&target, &text) {
        Ok(()) => {
            eprintln!(
                "pkgwarden: {} entr(ies) appended to {}",
                s.entries.len(),
                target.display()
            );
            0
        }
        Err(e) => report_error(e),
    }
}
