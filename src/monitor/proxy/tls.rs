//! Registry-only TLS termination (issue 15), set up only when a feed of
//! known-malicious packages is present. A certificate authority made for
//! this install in the supervisor's memory (its key is never written
//! anywhere) signs, on demand, one leaf per registry host the install asks
//! for; the sandboxed manager trusts it through its own configuration
//! variables. The origin side verifies the registry as the manager would
//! have: the system store plus the CA file the manager is configured with,
//! never without verification.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Why termination could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The install's authority or a leaf could not be made.
    #[error("cannot make the install's certificates: {0}")]
    Cert(#[from] rcgen::Error),
    /// rustls refused a configuration.
    #[error("cannot configure TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The manager's own CA file could not be read.
    #[error(
        "cannot read the CA file the manager is configured with ({path}): {source}; fix or unset that setting"
    )]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No certificate to verify registries with.
    #[error(
        "no trusted certificate found (system store empty, no CA file configured): registries cannot be verified"
    )]
    NoRoots,
}

/// The install's certificate authority and what it made.
pub struct Authority {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// One key for every leaf of this install.
    leaf_key: rcgen::KeyPair,
    ca_pem: String,
    leaves: Mutex<HashMap<String, Arc<rustls::ServerConfig>>>,
    /// The CA file the manager is configured with (trusted besides the
    /// system store).
    manager_ca: Option<PathBuf>,
    /// Built on the first terminated connection (reading the system store
    /// costs milliseconds no install without a registry over TLS pays).
    client: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Authority")
            .field("manager_ca", &self.manager_ca)
            .finish_non_exhaustive()
    }
}

/// Validity of the install's certificates: from a day before now (clocks
/// disagree) to a week after (an install never lasts that long).
fn validity(params: &mut rcgen::CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(7);
}

impl Authority {
    /// A fresh authority; `manager_ca` is the CA file the manager is
    /// configured with (read now: a broken one fails here, before the
    /// install, not in the middle of it).
    pub fn new(manager_ca: Option<&Path>) -> Result<Authority, TlsError> {
        if let Some(p) = manager_ca {
            std::fs::metadata(p).map_err(|source| TlsError::CaFile {
                path: p.to_path_buf(),
                source,
            })?;
        }
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!(
                "pkgwarden install {} (registry inspection)",
                std::process::id()
            ),
        );
        validity(&mut params);
        let cert = params.self_signed(&key)?;
        // ring, not aws-lc (which needs cmake to build); ring's provider
        // lacks only the post-quantum key exchange.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(Authority {
            ca_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
            leaf_key: rcgen::KeyPair::generate()?,
            leaves: Mutex::new(HashMap::new()),
            manager_ca: manager_ca.map(Path::to_path_buf),
            client: OnceLock::new(),
            provider,
        })
    }

    /// The authority's certificate (public part only), PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server side for `host` (a DNS name, or an IP address as the
    /// client named it): a leaf made once per host, HTTP/1.1 only.
    pub fn server(&self, host: &str) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if let Some(c) = self.leaves.lock().ok().and_then(|l| l.get(&host).cloned()) {
            return Ok(c);
        }
        let mut params = rcgen::CertificateParams::new(vec![host.clone()])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, host.clone());
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params);
        let leaf = params.signed_by(&self.leaf_key, &self.issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        if let Ok(mut l) = self.leaves.lock() {
            l.insert(host, config.clone());
        }
        Ok(config)
    }

    /// The client side towards registries: the system store (which honours
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR`) plus the manager's CA file.
    /// Built once; blocking (it reads the store).
    pub fn client(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.client
            .get_or_init(|| self.build_client().map_err(|e| e.to_string()))
            .clone()
    }

    fn build_client(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = &self.manager_ca {
            let ca_err = |source| TlsError::CaFile {
                path: path.clone(),
                source,
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| ca_err(std::io::Error::other(e.to_string())))?
                .filter_map(Result::ok)
                .collect();
            if certs.is_empty() {
                return Err(ca_err(std::io::Error::other("no PEM certificate in it")));
            }
            roots.add_parsable_certificates(certs);
        }
        if roots.is_empty() {
            return Err(TlsError::NoRoots);
        }
        let mut config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// How long the client's TLS handshake with the proxy may take.
pub const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The name the origin's certificate must carry: `host` as the client named
/// it (a DNS name or an IP address).
pub fn server_name(host: &str) -> Result<ServerName<'static>, std::io::Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string())
        .map_err(|e| std::io::Error::other(format!("{host} is no TLS server name: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_are_made_once_per_host_and_chain_to_the_authority() {
        let a = Authority::new(None).unwrap();
        assert!(a.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!a.ca_pem().contains("PRIVATE"));
        let one = a.server("127.0.0.1").unwrap();
        let again = a.server("127.0.0.1").unwrap();
        assert!(Arc::ptr_eq(&one, &again));
        assert!(!Arc::ptr_eq(&one, &a.server("registry.test").unwrap()));
        assert_eq!(one.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(server_name("[::1]").is_ok());
    }

    #[test]
    fn a_missing_manager_ca_file_fails_before_the_install() {
        let err = Authority::new(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(err.to_string().contains("fix or unset"), "{err}");
    }
}
