//! `pkgwarden ci`: the two steps a CI job runs around its installs.
//! `ci env` puts the shims first on PATH, sets the mode and notes when the
//! job started; `ci check` (the post step) fails the job when a later step
//! put another manager ahead of the shims or when an install of the job was
//! blocked, and writes the job's step summary, SARIF and Code Quality files.
//! CI has no terminal: nothing here ever asks; every stop is one line
//! saying what to fix and a reserved exit code.

use crate::exit;
use crate::policy::{self, Mode, Overrides};
use crate::report::model::Report;
use crate::report::{codequality, markdown, sarif, store};
use crate::shim;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The variable `ci env` sets to the job's start (RFC 3339): `ci check`
/// reads the reports stored since then.
pub const SINCE_VAR: &str = "PKGWARDEN_CI_SINCE";

/// The shell `ci env` prints for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CiShell {
    /// POSIX sh, bash, zsh (`eval "$(pkgwarden ci env)"`).
    Sh,
    /// fish (`pkgwarden ci env --shell fish | source`).
    Fish,
}

/// What `ci env` was asked for.
#[derive(Clone, Debug)]
pub struct EnvOpts {
    /// The shell to print for.
    pub shell: CiShell,
    /// The mode the job's installs run in.
    pub mode: Mode,
    /// Append to `$GITHUB_PATH` and `$GITHUB_ENV` instead of printing.
    pub github: bool,
    /// The shim directory (default: the usual one).
    pub dir: Option<PathBuf>,
}

/// What `ci check` was asked for.
#[derive(Clone, Debug, Default)]
pub struct CheckOpts {
    /// Append the Markdown summary here (`$GITHUB_STEP_SUMMARY`).
    pub summary: Option<PathBuf>,
    /// Write the SARIF log here.
    pub sarif: Option<PathBuf>,
    /// Write the GitLab Code Quality report here.
    pub codequality: Option<PathBuf>,
    /// The job's start (default: `$PKGWARDEN_CI_SINCE`, else every report).
    pub since: Option<SystemTime>,
    /// The shim directory (default: the usual one).
    pub dir: Option<PathBuf>,
    /// Leave out the precedence check (GitLab's `after_script` runs in a new
    /// shell, without the job's PATH: the check belongs in `script`).
    pub skip_path: bool,
}

/// The shim directory, or the usage exit code (said on stderr).
fn dir_or_usage(dir: Option<PathBuf>) -> Result<PathBuf, i32> {
    dir.or_else(shim::shims_dir).ok_or_else(|| {
        eprintln!(
            "pkgwarden: cannot tell where the shims go: HOME is not set\n  hint: set HOME or pass --dir DIR"
        );
        exit::USAGE
    })
}

/// The effective policy, or the usage exit code with the error's file:line:col.
fn policy_or_usage() -> Result<policy::Effective, i32> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    policy::load(&policy::Locations::default(), &env, &Overrides::default()).map_err(|e| {
        eprintln!("pkgwarden: policy error, the job's installs cannot be checked\n{e}");
        exit::USAGE
    })
}

/// `ci env`: installs the shims (idempotent), then prints (or, with
/// `--github`, appends to the runner's files) PATH, `PKGWARDEN_MODE`,
/// `PKGWARDEN_SHIMS_DIR` and [`SINCE_VAR`]. Block mode on a kernel that
/// cannot give the sandbox stops here, before any install.
pub fn env(o: EnvOpts) -> i32 {
    let dir = match dir_or_usage(o.dir) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let eff = match policy_or_usage() {
        Ok(e) => e,
        Err(c) => return c,
    };
    if o.mode == Mode::Block {
        let p = crate::sandbox::probe::probe();
        if !p.complete() {
            eprintln!(
                "pkgwarden: block mode needs {} on this runner, which its kernel does not give; fix: run the job on a runner whose kernel has them (`pkgwarden doctor` lists what is there), or set the mode to audit",
                p.missing()
            );
            return exit::SANDBOX_UNAVAILABLE;
        }
    }
    let target = match std::env::current_exe().and_then(|p| p.canonicalize()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pkgwarden: cannot find my own binary: {e}");
            return exit::USAGE;
        }
    };
    let path_var = std::env::var_os("PATH");
    let names = shim::wanted_names(&eff.policy.package_managers, path_var.as_deref(), &dir);
    if let Err(e) = shim::install_shims(&dir, &shim::shim_target_or_self(&target), &names) {
        eprintln!(
            "pkgwarden: cannot write shims in {}: {e}; fix: pass --dir with a writable directory",
            dir.display()
        );
        return exit::USAGE;
    }
    let since = crate::report::rfc3339(SystemTime::now(), 0, false).unwrap_or_default();
    let vars = [
        ("PKGWARDEN_MODE", o.mode.name().to_string()),
        (shim::SHIMS_DIR_VAR, dir.display().to_string()),
        (SINCE_VAR, since),
    ];
    if o.github {
        return github_env(&dir, &vars);
    }
    print!("{}", env_lines(o.shell, &dir, &vars));
    0
}

/// The lines `ci env` prints for `shell`.
pub fn env_lines(shell: CiShell, dir: &Path, vars: &[(&str, String)]) -> String {
    let dir = dir.display().to_string();
    let mut out = String::new();
    match shell {
        CiShell::Sh => {
            let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
            out.push_str(&format!("export PATH={}:\"$PATH\"\n", q(&dir)));
            for (k, v) in vars {
                out.push_str(&format!("export {k}={}\n", q(v)));
            }
        }
        CiShell::Fish => {
            let q = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
            out.push_str(&format!("set -gx PATH {} $PATH\n", q(&dir)));
            for (k, v) in vars {
                out.push_str(&format!("set -gx {k} {}\n", q(v)));
            }
        }
    }
    out
}

/// Appends `dir` to `$GITHUB_PATH` and `vars` to `$GITHUB_ENV`.
fn github_env(dir: &Path, vars: &[(&str, String)]) -> i32 {
    let (Some(path_file), Some(env_file)) = (
        std::env::var_os("GITHUB_PATH"),
        std::env::var_os("GITHUB_ENV"),
    ) else {
        eprintln!(
            "pkgwarden: --github needs GITHUB_PATH and GITHUB_ENV, which GitHub Actions sets; fix: elsewhere use eval \"$(pkgwarden ci env)\""
        );
        return exit::USAGE;
    };
    let dir_line = format!("{}\n", dir.display());
    let env_lines: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    for (file, text) in [(&path_file, dir_line), (&env_file, env_lines)] {
        if let Err(e) = append(Path::new(file), &text) {
            eprintln!(
                "pkgwarden: cannot append to {}: {e}",
                Path::new(file).display()
            );
            return exit::USAGE;
        }
    }
    eprintln!(
        "pkgwarden: shims {} first on PATH for the next steps, mode {}",
        dir.display(),
        vars[0].1
    );
    0
}

/// Appends `text` to `file`, creating it.
fn append(file: &Path, text: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?
        .write_all(text.as_bytes())
}

/// The monitored names that no longer resolve to a shim, each with the
/// CI fix: one line each.
pub fn precedence_problems(dir: &Path, managers: &[String]) -> Vec<String> {
    let path_var = std::env::var_os("PATH");
    let names = shim::wanted_names(managers, path_var.as_deref(), dir);
    shim::shadowed(&names, path_var.as_deref(), dir)
        .into_iter()
        .map(|s| {
            let ahead = s
                .resolves_to
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            format!(
                "{} resolves to {}, not to the shim in {}: the job's installs with it ran unmonitored; fix: run the pkgwarden setup step (`pkgwarden ci env --github`, or eval \"$(pkgwarden ci env)\") after the step that put {ahead} on PATH (setup-python, setup-node, an activation …)",
                s.name,
                s.resolves_to.display(),
                dir.display()
            )
        })
        .collect()
}

/// The reports stored since the job's start, oldest first.
fn job_reports(since: Option<SystemTime>) -> Result<Vec<Report>, String> {
    let since = since.or_else(|| {
        std::env::var(SINCE_VAR)
            .ok()
            .and_then(|s| humantime::parse_rfc3339_weak(&s).ok())
    });
    let listed = store::list(since, false).map_err(|e| e.to_string())?;
    listed
        .iter()
        .map(|s| store::load(&s.id).map_err(|e| e.to_string()))
        .collect()
}

/// `ci check`: the precedence check, then the job's summary, SARIF and
/// Code Quality files; exits [`exit::BLOCKED`] when an install of the job
/// was blocked, else [`exit::SANDBOX_UNAVAILABLE`] when a monitored name
/// no longer resolves to a shim, else 0.
pub fn check(o: CheckOpts) -> i32 {
    let dir = match dir_or_usage(o.dir.clone()) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let eff = match policy_or_usage() {
        Ok(e) => e,
        Err(c) => return c,
    };
    let problems = if o.skip_path {
        Vec::new()
    } else {
        precedence_problems(&dir, &eff.policy.package_managers)
    };
    for p in &problems {
        eprintln!("pkgwarden: {p}");
    }
    let reports = match job_reports(o.since) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pkgwarden: cannot read the job's reports: {e}");
            return exit::USAGE;
        }
    };
    if let Err(c) = write_outputs(&o, &reports, &problems) {
        return c;
    }
    let blocked: Vec<&Report> = reports
        .iter()
        .filter(|r| r.outcome.status == "blocked")
        .collect();
    println!(
        "pkgwarden: {} installs in this job, {} with findings, {} blocked",
        reports.len(),
        reports.iter().filter(|r| !r.findings.is_empty()).count(),
        blocked.len()
    );
    for r in &blocked {
        println!(
            "pkgwarden: blocked: {} {} (report {}; `pkgwarden report show {}`)",
            r.what.typed_name(),
            r.what.argv.join(" "),
            r.id,
            r.id
        );
    }
    if !blocked.is_empty() {
        exit::BLOCKED
    } else if !problems.is_empty() {
        exit::SANDBOX_UNAVAILABLE
    } else {
        0
    }
}

/// Writes the files `o` asks for; the usage exit code when one cannot be.
fn write_outputs(o: &CheckOpts, reports: &[Report], problems: &[String]) -> Result<(), i32> {
    let fail = |p: &Path, e: std::io::Error| {
        eprintln!("pkgwarden: cannot write {}: {e}", p.display());
        exit::USAGE
    };
    if let Some(p) = &o.summary {
        let mut text = markdown::job_summary(reports);
        for line in problems {
            text.push_str(&format!(
                "> **Not monitored:** {}\n\n",
                markdown::escape(line)
            ));
        }
        append(p, &text).map_err(|e| fail(p, e))?;
    }
    let json = |v: serde_json::Value| serde_json::to_string_pretty(&v).unwrap_or_default() + "\n";
    if let Some(p) = &o.sarif {
        std::fs::write(p, json(sarif::render_all(reports))).map_err(|e| fail(p, e))?;
    }
    if let Some(p) = &o.codequality {
        std::fs::write(p, json(codequality::render(reports))).map_err(|e| fail(p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_and_fish_lines_quote_the_directory() {
        let vars = [("PKGWARDEN_MODE", "block".to_string())];
        let sh = env_lines(CiShell::Sh, Path::new("/t/it's"), &vars);
        assert_eq!(
            sh,
            "export PATH='/t/it'\\''s':\"$PATH\"\nexport PKGWARDEN_MODE='block'\n"
        );
        let fish = env_lines(CiShell::Fish, Path::new("/t/it's"), &vars);
        assert_eq!(
            fish,
            "set -gx PATH '/t/it\\'s' $PATH\nset -gx PKGWARDEN_MODE 'block'\n"
        );
    }
}
