//! RubyGems' facts, read from the gem's own Ruby, and `gem`'s command-line
//! options applied to the plan.

use super::Family;
use super::facts::{Dep, FactsError, InstallPlan, ManagerFacts, probe};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What RubyGems itself says, printed as JSON by the gem's own Ruby.
const GEM_PROBE: &str = r#"require "rubygems"; require "json"
puts JSON.generate({"dir" => Gem.dir, "user_dir" => Gem.user_dir, "bindir" => Gem.bindir,
  "spec_cache" => Gem.spec_cache_dir, "sources" => Gem.sources.to_a.map(&:to_s),
  "version" => Gem::VERSION, "config_file" => Gem.config_file,
  "ssl_ca_cert" => Gem.configuration.ssl_ca_cert})"#;

#[derive(Deserialize)]
struct GemProbe {
    dir: String,
    user_dir: String,
    bindir: String,
    spec_cache: String,
    sources: Vec<String>,
    version: String,
    config_file: String,
    /// `ssl_ca_cert` of the gemrc files: a CA file or directory.
    #[serde(default)]
    ssl_ca_cert: Option<String>,
}

/// The Ruby that runs `gem`, from its shebang (`#!/usr/bin/ruby3.1`,
/// `#!/usr/bin/env ruby`).
fn gem_interpreter(real: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(real).ok()?.read(&mut head).ok()?;
    let first = std::str::from_utf8(&head[..n]).ok()?.lines().next()?;
    let mut words = first.strip_prefix("#!")?.split_whitespace();
    let interp = words.next()?;
    if interp.ends_with("/env") {
        let name = words.find(|w| !w.starts_with('-'))?;
        return which::which(name).ok();
    }
    Some(PathBuf::from(interp))
}

pub(super) fn gem_facts(real: &Path) -> Result<ManagerFacts, FactsError> {
    let ruby = gem_interpreter(real).ok_or_else(|| FactsError::Probe {
        exe: real.display().to_string(),
        why: "no Ruby interpreter named in its first line".into(),
    })?;
    // RUBYOPT could load code before the probe: not outside the sandbox.
    let out = probe(
        Command::new(&ruby)
            .args(["-e", GEM_PROBE])
            .env_remove("RUBYOPT")
            .env_remove("RUBYLIB"),
        &ruby,
    )?;
    let pr: GemProbe = serde_json::from_slice(&out).map_err(|e| FactsError::Probe {
        exe: ruby.display().to_string(),
        why: format!("unexpected probe output: {e}"),
    })?;
    let mut f = ManagerFacts::skeleton(Family::Gem, real);
    f.version = Some(pr.version);
    f.interpreter = Some(ruby.clone());
    f.write_roots = vec![PathBuf::from(&pr.dir), PathBuf::from(&pr.bindir)];
    f.cache_dirs = vec![PathBuf::from(&pr.spec_cache)];
    let home_rc = crate::paths::home().map(|h| h.join(".gemrc"));
    f.config_files = [
        Some(PathBuf::from(&pr.config_file)),
        home_rc,
        Some(PathBuf::from("/etc/gemrc")),
    ]
    .into_iter()
    .flatten()
    .collect();
    f.registries = pr.sources;
    f.values.insert("user_dir".into(), pr.user_dir);
    if let Some(ca) = pr.ssl_ca_cert {
        f.values.insert("ssl_ca_cert".into(), ca);
    }
    f.derived = true;
    f.deps.push(Dep::of(&ruby));
    f.deps.extend(f.config_files.iter().map(|c| Dep::of(c)));
    Ok(f)
}

/// `gem install` options on top of the facts: `--install-dir`,
/// `--user-install`, `--bindir`, `--source`.
pub(super) fn apply_gem(p: &mut InstallPlan, cwd: &Path) {
    let req = &p.request;
    let abs = |s: &str| {
        let path = Path::new(s);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            cwd.join(path)
        }
    };
    if let Some(dir) = req.option("install-dir") {
        p.write_roots = vec![abs(dir), abs(dir).join("bin")];
    } else if req.flag("user-install")
        && let Some(u) = p.facts.values.get("user_dir")
    {
        p.write_roots = vec![PathBuf::from(u)];
    }
    if let Some(b) = req.option("bindir") {
        p.write_roots.push(abs(b));
    }
    let sources: Vec<String> = req
        .option_values("source")
        .into_iter()
        .map(str::to_string)
        .collect();
    if req.flag("clear-sources") {
        p.registries = sources;
    } else {
        p.registries.extend(sources);
    }
    p.startup_probes = super::gem::startup_probes(p);
    p.trust = trust(p);
}

/// How gem is told to trust another CA. RubyGems verifies with a store of
/// OpenSSL's default paths (`SSL_CERT_FILE`, else the build's
/// `OpenSSL::X509::DEFAULT_CERT_FILE`, `/usr/lib/ssl/cert.pem` here; and the
/// default directory), RubyGems' own bundled roots, and the gemrc's
/// `ssl_ca_cert` (`Gem::Request.configure_connection_for_https`, RubyGems
/// 3.3): `SSL_CERT_FILE` replaces only the default file, so the bundle is
/// the system bundle (the user's `SSL_CERT_FILE` when set) plus the
/// install's CA, and `ssl_ca_cert`, which gem keeps reading itself, is what
/// the proxy trusts besides the system store.
fn trust(p: &InstallPlan) -> crate::model::plan::Trust {
    let ca_file = p
        .facts
        .values
        .get("ssl_ca_cert")
        .map(PathBuf::from)
        .filter(|f| f.is_file());
    crate::model::plan::Trust {
        ca_file,
        replaces_store: true,
        keeps_system: true,
        bundle_vars: vec!["SSL_CERT_FILE".into()],
        set: Vec::new(),
    }
}
