//! An https listener for test servers: a fresh self-signed certificate for
//! `127.0.0.1` and `localhost` (made with `rcgen`, on the `ring` provider that
//! reqwest's rustls already uses, so rustls is not duplicated), and an
//! [`axum::serve::Listener`] that hands axum finished TLS streams.
//!
//! A test's client trusts the server by adding [`SelfSignedCert::pem`] as a
//! root certificate (`reqwest::Certificate::from_pem`).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

/// How long one client may take over its TLS handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes finished but not yet taken by axum.
const ACCEPT_QUEUE: usize = 64;

/// A self-signed certificate valid for `127.0.0.1`, `::1` and `localhost`.
#[derive(Clone)]
pub struct SelfSignedCert {
    pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for SelfSignedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key stays out of debug output.
        f.debug_struct("SelfSignedCert").finish_non_exhaustive()
    }
}

impl SelfSignedCert {
    /// Makes a new key pair and certificate.
    pub fn generate() -> io::Result<Self> {
        let names = vec![
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
            "localhost".to_owned(),
        ];
        let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
        Ok(Self {
            pem: certified.cert.pem(),
            cert_der: certified.cert.der().clone(),
            key_der: certified.signing_key.serialize_der(),
        })
    }

    /// The certificate in PEM form, for a client's trust store.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    fn server_config(&self) -> io::Result<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)
            .map_err(io::Error::other)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// A TLS listener on `127.0.0.1`: a background task accepts TCP connections
/// (with `TCP_NODELAY`), runs each handshake in its own task with a timeout,
/// and queues the finished streams, so one slow client cannot hold up others.
pub struct TlsListener {
    addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl TlsListener {
    /// Binds `127.0.0.1` on a free port and serves `cert`.
    pub async fn bind(cert: &SelfSignedCert) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(Arc::new(cert.server_config()?));
        let (tx, ready) = mpsc::channel(ACCEPT_QUEUE);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::debug!(%error, "tls listener: accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::warn!(%error, "tls listener: cannot set TCP_NODELAY");
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%error, "tls listener: handshake failed"),
                        Err(_) => tracing::debug!("tls listener: handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            addr,
            ready,
            acceptor_task,
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Some(accepted) = self.ready.recv().await {
                return accepted;
            }
            // The acceptor task is gone (its runtime is shutting down): never
            // hand out another connection.
            std::future::pending::<()>().await;
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
