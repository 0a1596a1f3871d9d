//! The kernel sandbox of an install: landlock rules, the seccomp filter, and
//! the child setup between `fork` and `execve`.

pub mod bpf;
pub mod landlock;
pub mod probe;
pub mod seccomp;
pub mod spawn;

use crate::managers::facts::InstallPlan;
use crate::policy::{Mode, Policy};
use std::path::{Path, PathBuf};

/// Credential stores under `$HOME` nobody in the sandbox may read (THREATS.md
/// `cred.read`). The managers' own configuration (`~/.npmrc`, pip's files,
/// `~/.netrc`) stays readable: they need it.
pub const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".config/gh",
    ".config/gcloud",
    ".azure",
    ".kube",
    ".docker/config.json",
    ".git-credentials",
    ".vault-token",
    ".pypirc",
    ".gem/credentials",
    ".cargo/credentials.toml",
    ".cargo/credentials",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    ".local/share/keyrings",
    ".bitcoin",
    ".ethereum",
    ".electrum",
    ".config/Exodus",
];

/// Credential files below `$HOME` that stay readable because the managers
/// read them (npm its token, pip's HTTP client `~/.netrc`): a package's
/// code reading them is the finding.
pub const READABLE_CREDENTIALS: &[&str] = &[".npmrc", ".netrc"];

/// System-wide secrets.
pub const SYSTEM_SECRETS: &[&str] = &["/etc/shadow", "/etc/gshadow", "/etc/sudoers"];

/// Persistence locations inside a project directory (THREATS.md).
pub const PROJECT_PERSISTENCE: &[&str] = &[
    ".git/hooks",
    ".git/config",
    ".github/workflows",
    ".gitlab-ci.yml",
    ".vscode/tasks.json",
    ".claude",
    ".cursor",
];

/// The secrets that exist for this user.
pub fn secrets(home: Option<&Path>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = SYSTEM_SECRETS.iter().map(PathBuf::from).collect();
    if let Some(h) = home {
        out.extend(HOME_SECRETS.iter().map(|s| h.join(s)));
    }
    out
}

/// The fixed part of a glob: `~/.config/fish/**` → `~/.config/fish`.
fn glob_base(pattern: &str) -> &str {
    let cut = pattern.find(['*', '?', '[']).unwrap_or(pattern.len());
    pattern[..cut].trim_end_matches('/')
}

/// Where the install may write, per mode. `tmp` is the install's private
/// temporary directory; `cwd` the directory the manager runs in.
pub fn fs_spec(
    plan: &InstallPlan,
    policy: &Policy,
    home: Option<&Path>,
    cwd: &Path,
    tmp: &Path,
) -> landlock::FsSpec {
    let secrets = secrets(home);
    let mut write_dirs: Vec<PathBuf> = Vec::new();
    let mut write_files: Vec<PathBuf> = ["/dev/null", "/dev/tty", "/dev/zero", "/dev/full"]
        .iter()
        .map(PathBuf::from)
        .collect();
    write_dirs.extend(
        plan.write_roots
            .iter()
            .chain(&plan.cache_dirs)
            .chain(&plan.log_dirs)
            .cloned(),
    );
    write_files.extend(plan.write_files.iter().cloned());
    write_dirs.push(tmp.to_path_buf());
    // The user's own additions; a relative entry means nothing here.
    write_dirs.extend(
        policy
            .extra_write_paths
            .iter()
            .map(|p| crate::paths::expand_tilde(p))
            .filter(|p| p.is_absolute()),
    );
    // An npm-style local install writes its lockfile and manifest beside
    // node_modules: the project directory.
    if plan
        .write_roots
        .iter()
        .any(|r| r.file_name().is_some_and(|n| n == "node_modules") && r.parent() == Some(cwd))
        && home != Some(cwd)
    {
        write_dirs.push(cwd.to_path_buf());
    }
    for fd in 0..3 {
        if let Ok(p) = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            && p.starts_with("/dev/pts")
        {
            write_files.push(p);
        }
    }
    let writable_tree = match (policy.mode, home) {
        (Mode::Protect, Some(h)) => {
            let mut keep: Vec<PathBuf> = policy
                .startup_paths
                .linux
                .iter()
                .filter_map(|p| p.strip_prefix("~/"))
                .map(|p| h.join(glob_base(p)))
                .collect();
            keep.extend(["bin", ".local/bin"].iter().map(|p| h.join(p)));
            keep.extend(PROJECT_PERSISTENCE.iter().map(|p| cwd.join(p)));
            Some((h.to_path_buf(), keep))
        }
        _ => None,
    };
    landlock::FsSpec {
        secrets,
        write_dirs,
        write_files,
        writable_tree,
    }
}

/// Environment variable names that hold secrets (THREATS.md `cred.env`).
pub fn is_secret_var(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    const EXACT: &[&str] = &[
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "NPM_TOKEN",
        "NODE_AUTH_TOKEN",
        "TWINE_PASSWORD",
        "GEM_HOST_API_KEY",
        "CI_JOB_TOKEN",
        "VAULT_TOKEN",
        "DOCKER_AUTH_CONFIG",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "AZURE_CLIENT_SECRET",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "PYPI_TOKEN",
        "UV_PUBLISH_TOKEN",
        "POETRY_PYPI_TOKEN_PYPI",
    ];
    const SUFFIXES: &[&str] = &[
        "_TOKEN",
        "_PASSWORD",
        "_PASSWD",
        "_API_KEY",
        "_APIKEY",
        "_ACCESS_KEY",
        "_PRIVATE_KEY",
        "_CREDENTIALS",
    ];
    // AWS_REGION and friends are configuration; keys and session tokens are not.
    const AWS_CONFIG: &[&str] = &[
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_CA_BUNDLE",
    ];
    EXACT.contains(&n.as_str())
        || n.contains("SECRET")
        || SUFFIXES.iter().any(|s| n.ends_with(s))
        || (n.starts_with("AWS_") && !AWS_CONFIG.contains(&n.as_str()))
}

/// Which secret-looking variables of `env` the install keeps: those the
/// manager's own configuration files reference as `${NAME}` (an `.npmrc`
/// with `_authToken=${NPM_TOKEN}` needs it). Returns (removed, kept) names.
pub fn scrub_env(env: &[(String, String)], config_files: &[PathBuf]) -> (Vec<String>, Vec<String>) {
    let referenced: String = config_files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect::<Vec<_>>()
        .join("\n");
    let mut removed = Vec::new();
    let mut kept = Vec::new();
    for (k, _) in env {
        if !is_secret_var(k) {
            continue;
        }
        if referenced.contains(&format!("${{{k}}}")) {
            kept.push(k.clone());
        } else {
            removed.push(k.clone());
        }
    }
    removed.sort();
    kept.sort();
    (removed, kept)
}

#[cfg(test)]
mod env_tests {
    use super::*;

    #[test]
    fn secret_variables_are_recognised() {
        for s in [
            "GITHUB_TOKEN",
            "npm_token",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "MY_API_KEY",
            "DB_PASSWORD",
            "CLIENT_SECRET_X",
        ] {
            assert!(is_secret_var(s), "{s}");
        }
        for s in [
            "PATH",
            "HOME",
            "AWS_REGION",
            "AWS_CA_BUNDLE",
            "TERM",
            "NPM_CONFIG_REGISTRY",
            "TOKENIZERS_PARALLELISM",
        ] {
            assert!(!is_secret_var(s), "{s}");
        }
    }

    #[test]
    fn variables_the_managers_config_references_are_kept() {
        let t = tempfile::tempdir().unwrap();
        let npmrc = t.path().join(".npmrc");
        std::fs::write(&npmrc, "//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n").unwrap();
        let env: Vec<(String, String)> =
            [("NPM_TOKEN", "x"), ("GITHUB_TOKEN", "y"), ("PATH", "/bin")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let (removed, kept) = scrub_env(&env, &[npmrc]);
        assert_eq!(removed, vec!["GITHUB_TOKEN"]);
        assert_eq!(kept, vec!["NPM_TOKEN"]);
    }
}
