//! The test client: a rustls [`ClientSpec`] (which roots, ALPN, client certificate, versions,
//! SNI) and [`connect`], which reports what the server presented and chose.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Bound for any single network step: a handshake that neither completes nor fails in this
/// time fails the test instead of hanging it.
pub const STEP: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test (naming `what`) if it takes longer than [`STEP`].
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: nothing within {STEP:?}"),
    }
}

/// How the client verifies the server.
pub enum Verify {
    /// Accept any certificate (handshake signatures are still checked): used to see which one
    /// was served.
    Any,
    /// webpki against these roots and the name connected to.
    Roots(RootCertStore),
}

/// What a test client offers; [`ClientSpec::build`] makes the rustls config.
pub struct ClientSpec {
    pub verify: Verify,
    pub alpn: Vec<Vec<u8>>,
    /// Signature schemes offered; `None` offers all the provider verifies.
    pub schemes: Option<Vec<SignatureScheme>>,
    pub client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    pub tls12_only: bool,
    pub send_sni: bool,
}

impl Default for ClientSpec {
    fn default() -> Self {
        ClientSpec {
            verify: Verify::Any,
            alpn: Vec::new(),
            schemes: None,
            client_cert: None,
            tls12_only: false,
            send_sni: true,
        }
    }
}

impl ClientSpec {
    pub fn build(self) -> Arc<ClientConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = if self.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .unwrap();
        let builder = match self.verify {
            Verify::Roots(roots) => builder.with_root_certificates(roots),
            Verify::Any => {
                let schemes = self
                    .schemes
                    .unwrap_or_else(|| provider.signature_verification_algorithms.supported_schemes());
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AcceptAny { provider, schemes }))
            }
        };
        let mut config = match self.client_cert {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn;
        config.enable_sni = self.send_sni;
        Arc::new(config)
    }
}

/// An established TLS connection and what its handshake settled.
pub struct Connected {
    pub stream: TlsStream<TcpStream>,
    /// The leaf certificate the server presented.
    pub served: CertificateDer<'static>,
    /// Its serial, as [`serial_of`] reads it.
    pub serial_hex: String,
    pub alpn: Option<Vec<u8>>,
    pub resumed: bool,
}

/// Connects to `addr` and completes the handshake for `name` (sent as SNI unless the config
/// disables it). `Err` when the server or the client refuses; a handshake that hangs past
/// [`STEP`] fails the test.
pub async fn connect(config: Arc<ClientConfig>, addr: SocketAddr, name: &str) -> Result<Connected, String> {
    let name = ServerName::try_from(name.to_owned()).map_err(|e| format!("server name: {e}"))?;
    let tcp = bounded("TCP connect", TcpStream::connect(addr))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let stream = bounded(
        "TLS handshake",
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|e| format!("handshake: {e}"))?;
    let (_, conn) = stream.get_ref();
    let served = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|leaf| leaf.clone().into_owned())
        .ok_or("no server certificate")?;
    Ok(Connected {
        serial_hex: serial_of(&served),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        resumed: conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        served,
        stream,
    })
}

/// A certificate's serial as lowercase hex without leading zero bytes, read by x509-parser.
pub fn serial_of(der: &CertificateDer<'_>) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    let raw = cert.raw_serial();
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    raw[start..].iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
struct AcceptAny {
    provider: Arc<CryptoProvider>,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}
