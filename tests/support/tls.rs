//! TLS in front of the loopback registries: a test CA made in the test (with
//! rcgen), its certificate written where the bare manager is told to trust
//! it (npm's `cafile`, pip's `PIP_CERT`), as a user with a private registry
//! over TLS would; a front that accepts TLS on `127.0.0.1` and relays each
//! connection to a plain-HTTP registry, whose own log stays the proof of
//! what was asked.

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The test's certificate authority and its leaf for `127.0.0.1` and `localhost`.
pub struct TestCa {
    /// The CA certificate, PEM, in a file.
    pub pem: PathBuf,
    server: Arc<rustls::ServerConfig>,
}

impl TestCa {
    /// A CA written to `dir/test-ca.pem`, with a leaf for 127.0.0.1.
    pub fn new(dir: &Path) -> TestCa {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "pkgwarden test registry CA");
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let mut leaf =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .unwrap();
        leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
        std::fs::create_dir_all(dir).unwrap();
        let pem = dir.join("test-ca.pem");
        std::fs::write(&pem, ca_cert.pem()).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .unwrap();
        TestCa {
            pem,
            server: Arc::new(server),
        }
    }
}

/// A TLS listener on `127.0.0.1:<port>` relaying to a plain registry.
pub struct TlsFront {
    port: u16,
    handshakes: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    listener: Option<TcpListener>,
    server: Arc<rustls::ServerConfig>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsFront {
    /// Binds the front's port (the registry behind it needs its URL first).
    pub fn bind(ca: &TestCa) -> TlsFront {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        TlsFront {
            port: listener.local_addr().unwrap().port(),
            handshakes: Arc::default(),
            connections: Arc::default(),
            listener: Some(listener),
            server: ca.server.clone(),
            stop: None,
            thread: None,
        }
    }

    /// `https://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// `https://localhost:PORT`: npm behind a proxy checks an IP-named
    /// registry's certificate against `localhost` (its agent passes no
    /// server name), so npm's registry is named.
    pub fn named_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// The front's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// TLS handshakes completed so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far (a TLS handshake or not).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Starts relaying to `127.0.0.1:backend`.
    pub fn start(&mut self, backend: u16) {
        let listener = self.listener.take().expect("started once");
        listener.set_nonblocking(true).unwrap();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let acceptor = tokio_rustls::TlsAcceptor::from(self.server.clone());
        let handshakes = self.handshakes.clone();
        let connections = self.connections.clone();
        self.stop = Some(stop);
        self.thread = Some(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stopped => return,
                        Ok((tcp, _)) = listener.accept() => {
                            connections.fetch_add(1, Ordering::SeqCst);
                            let acceptor = acceptor.clone();
                            let handshakes = handshakes.clone();
                            tokio::spawn(async move {
                                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                                handshakes.fetch_add(1, Ordering::SeqCst);
                                let Ok(mut back) =
                                    tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                                else {
                                    return;
                                };
                                let _ = tokio::io::copy_bidirectional(&mut tls, &mut back).await;
                            });
                        }
                    }
                }
            });
        }));
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
