//! The bundle that makes the sandboxed manager trust the install's CA (only
//! when registries over TLS are inspected): the manager's previous trust
//! (its configured CA file, or the system bundle when the bundle replaces its
//! store) plus the install's CA certificate, public part only. Written in a
//! directory of its own beside the private TMPDIR, which the sandbox may
//! read but is not granted to write, and removed after the install.

use crate::model::plan::Trust;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the bundle could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The manager's CA file (or the system bundle) could not be read.
    #[error("cannot read {path}, the manager's current trust: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The bundle could not be written.
    #[error("cannot write the install's CA bundle in {dir}: {source}")]
    Write {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The written bundle; its directory is removed when dropped.
#[derive(Debug)]
pub struct Bundle {
    dir: PathBuf,
    /// The bundle file.
    pub path: PathBuf,
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The system's CA bundle file, as OpenSSL finds it (`SSL_CERT_FILE` first).
pub fn system_bundle() -> Option<PathBuf> {
    openssl_probe::probe().cert_file
}

/// Makes the bundle's directory, `<tmp>-ca/`, before the sandbox's rules
/// are built (landlock grants reads on what exists then; the file is written
/// once the proxy has made the CA).
pub fn reserve(tmp: &Path) -> Result<Bundle, BundleError> {
    let mut name = tmp.as_os_str().to_owned();
    name.push("-ca");
    let dir = PathBuf::from(name);
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|source| BundleError::Write {
            dir: dir.clone(),
            source,
        })?;
    Ok(Bundle {
        path: dir.join("ca-bundle.pem"),
        dir,
    })
}

impl Bundle {
    /// Writes the bundle for `trust` with `ca_pem`.
    pub fn write(&self, trust: &Trust, ca_pem: &str) -> Result<(), BundleError> {
        let previous = match (&trust.ca_file, trust.replaces_store) {
            _ if trust.keeps_system => system_bundle(),
            (Some(f), _) => Some(f.clone()),
            (None, true) => system_bundle(),
            (None, false) => None,
        };
        let mut text = match &previous {
            Some(p) => std::fs::read(p).map_err(|source| BundleError::Read {
                path: p.clone(),
                source,
            })?,
            None => Vec::new(),
        };
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        text.extend_from_slice(ca_pem.as_bytes());
        let write_err = |source| BundleError::Write {
            dir: self.dir.clone(),
            source,
        };
        let mut f = std::fs::File::create(&self.path).map_err(write_err)?;
        f.write_all(&text).map_err(write_err)
    }
}

/// Points the manager at `bundle` through its own variables.
pub fn apply(cmd: &mut Command, trust: &Trust, bundle: &Bundle) {
    for var in &trust.bundle_vars {
        cmd.env(var, &bundle.path);
    }
    for (k, v) in &trust.set {
        cmd.env(k, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_keeps_the_previous_trust_and_adds_the_ca() {
        let d = tempfile::tempdir().unwrap();
        let own = d.path().join("own.pem");
        std::fs::write(&own, "OWN").unwrap();
        let tmp = d.path().join("t");
        let trust = Trust {
            ca_file: Some(own.clone()),
            replaces_store: true,
            keeps_system: false,
            bundle_vars: vec!["X_CERT".into()],
            set: Vec::new(),
        };
        let b = reserve(&tmp).unwrap();
        b.write(&trust, "CA\n").unwrap();
        assert_eq!(std::fs::read_to_string(&b.path).unwrap(), "OWN\nCA\n");
        let dir = b.path.parent().unwrap().to_path_buf();
        drop(b);
        assert!(!dir.exists());
        let adds = Trust {
            replaces_store: false,
            ..Trust::default()
        };
        let b = reserve(&d.path().join("u")).unwrap();
        b.write(&adds, "CA\n").unwrap();
        assert_eq!(std::fs::read_to_string(&b.path).unwrap(), "CA\n");
        // gem: its own CA file is read by gem itself; the bundle starts
        // from the system bundle.
        if let Some(system) = system_bundle().filter(|s| s.is_file()) {
            let keeps = Trust {
                ca_file: Some(own),
                keeps_system: true,
                ..trust
            };
            let b = reserve(&d.path().join("v")).unwrap();
            b.write(&keeps, "CA\n").unwrap();
            let text = std::fs::read_to_string(&b.path).unwrap();
            assert!(text.ends_with("CA\n") && !text.contains("OWN"));
            assert!(text.len() > std::fs::metadata(system).unwrap().len() as usize);
        }
    }
}
