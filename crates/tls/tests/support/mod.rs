//! Test support: certificates made with rcgen, configs with HTTPS listeners, a TLS server on
//! 127.0.0.1 and a tokio-rustls client that reports what it was served.
#![allow(dead_code)]

use fairlead_route::{CertificatePem, Config, Listener, ListenerProtocol, ListenerTls, TlsMaterial};
use rcgen::{
    BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType, SerialNumber, SignatureAlgorithm,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Bound for any single network step, so a broken handshake fails the test instead of hanging.
pub const STEP: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rsa,
    Ecdsa,
    Ed25519,
}

/// RSA key generation is slow in debug builds; tests share one RSA key.
fn rsa_key() -> KeyPair {
    static PEM: OnceLock<String> = OnceLock::new();
    let pem = PEM.get_or_init(|| {
        KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            .unwrap()
            .serialize_pem()
    });
    KeyPair::from_pem(pem).unwrap()
}

pub fn key_pair(alg: Alg) -> KeyPair {
    match alg {
        Alg::Rsa => rsa_key(),
        Alg::Ecdsa => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
        Alg::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
    }
}

fn sign_alg(alg: Alg) -> &'static SignatureAlgorithm {
    match alg {
        Alg::Rsa => &rcgen::PKCS_RSA_SHA256,
        Alg::Ecdsa => &rcgen::PKCS_ECDSA_P256_SHA256,
        Alg::Ed25519 => &rcgen::PKCS_ED25519,
    }
}

/// A unique serial per certificate, with a non-zero first byte so its hex is unambiguous.
fn next_serial() -> (SerialNumber, String) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut bytes = vec![0x42];
    bytes.extend_from_slice(&n.to_be_bytes());
    let hex = bytes.iter().map(|b| format!("{b:02x}")).collect();
    (SerialNumber::from_slice(&bytes), hex)
}

/// A certificate authority that signs test leaves.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
    pub der: CertificateDer<'static>,
}

impl TestCa {
    pub fn new(alg: Alg) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "fairlead test CA");
        let key = key_pair(alg);
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            issuer: Issuer::new(params, key),
            pem: cert.pem(),
            der: cert.der().clone(),
        }
    }

    /// An intermediate CA signed by this one; its `pem` is the intermediate alone.
    pub fn intermediate(&self, alg: Alg) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "fairlead test intermediate");
        let key = key_pair(alg);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        TestCa {
            issuer: Issuer::new(params, key),
            pem: cert.pem(),
            der: cert.der().clone(),
        }
    }

    pub fn leaf(&self, names: &[&str], alg: Alg) -> Leaf {
        self.leaf_with(dns_params(names), alg)
    }

    /// A leaf from explicit params (validity, URI SANs); the serial is always set here.
    pub fn leaf_with(&self, mut params: CertificateParams, alg: Alg) -> Leaf {
        let (serial, serial_hex) = next_serial();
        params.serial_number = Some(serial);
        let key = key_pair(alg);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain: cert.pem(),
            key: key.serialize_pem(),
            key_pkcs8_der: key.serialize_der(),
            der: cert.der().clone(),
            serial_hex,
        }
    }

    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        roots
    }
}

pub fn dns_params(names: &[&str]) -> CertificateParams {
    CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap()
}

pub fn uri_params(uris: &[&str]) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = uris
        .iter()
        .map(|u| SanType::URI(u.to_string().try_into().unwrap()))
        .collect();
    params
}

/// A certificate and key as a `kubernetes.io/tls` Secret holds them.
#[derive(Clone)]
pub struct Leaf {
    pub chain: String,
    /// PKCS#8 PEM.
    pub key: String,
    pub key_pkcs8_der: Vec<u8>,
    pub der: CertificateDer<'static>,
    pub serial_hex: String,
}

impl Leaf {
    pub fn pem(&self) -> CertificatePem {
        CertificatePem {
            chain: self.chain.clone().into_bytes(),
            key: self.key.clone().into_bytes(),
        }
    }

    /// The private key re-encoded as PKCS#1 (RSA) or SEC1 (EC): the structure inside PKCS#8.
    pub fn legacy_key_pem(&self, label: &str) -> String {
        pem_encode(label, &pkcs8_inner_key(&self.key_pkcs8_der))
    }

    pub fn client_auth(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (
            vec![self.der.clone()],
            PrivateKeyDer::Pkcs8(self.key_pkcs8_der.clone().into()),
        )
    }
}

/// PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm SEQUENCE, privateKey OCTET STRING }
fn pkcs8_inner_key(der: &[u8]) -> Vec<u8> {
    let (body, _) = tlv(der, 0x30);
    let (_, rest) = tlv(body, 0x02);
    let (_, rest) = tlv(rest, 0x30);
    let (key, _) = tlv(rest, 0x04);
    key.to_vec()
}

/// Splits one DER element with the expected tag into (contents, rest).
fn tlv(input: &[u8], tag: u8) -> (&[u8], &[u8]) {
    assert_eq!(input[0], tag, "unexpected DER tag");
    let (len, header) = if input[1] & 0x80 == 0 {
        (input[1] as usize, 2)
    } else {
        let n = (input[1] & 0x7f) as usize;
        let len = input[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, 2 + n)
    };
    (&input[header..header + len], &input[header + len..])
}

pub fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// An HTTPS listener with the given certificate and client CA ids.
pub fn https(id: &str, port: u16, hostname: Option<&str>, certs: &[&str], client_ca: &[&str]) -> Listener {
    Listener {
        id: id.to_string(),
        port,
        protocol: ListenerProtocol::Https,
        hostname: hostname.map(str::to_string),
        routes: Vec::new(),
        tls: Some(ListenerTls {
            certificates: certs.iter().map(|c| c.to_string()).collect(),
            client_ca: client_ca.iter().map(|c| c.to_string()).collect(),
        }),
    }
}

pub fn config(listeners: Vec<Listener>) -> Config {
    Config {
        version: 1,
        listeners,
    }
}

pub fn material(certs: &[(&str, &Leaf)]) -> TlsMaterial {
    let mut material = TlsMaterial::default();
    for (id, leaf) in certs {
        material.certificates.insert(id.to_string(), leaf.pem());
    }
    material
}

/// Seconds since the epoch now, as the caller of the store passes it.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// What the server side of one connection saw.
#[derive(Debug)]
pub enum ServerSide {
    Accepted {
        sni: Option<String>,
        alpn: Option<Vec<u8>>,
        client_cert: bool,
    },
    Refused(String),
}

/// A TLS server on 127.0.0.1 that answers `ok` on every accepted connection and reports each
/// handshake's outcome.
pub struct TestServer {
    pub addr: SocketAddr,
    outcomes: mpsc::UnboundedReceiver<ServerSide>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Binds before returning, so a client may connect at once.
    pub async fn start(config: Arc<ServerConfig>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, outcomes) = mpsc::unbounded_channel();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(mut stream) => {
                            let (_, conn) = stream.get_ref();
                            let seen = ServerSide::Accepted {
                                sni: conn.server_name().map(str::to_string),
                                alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
                                client_cert: conn.peer_certificates().is_some(),
                            };
                            let _ = stream.write_all(b"ok").await;
                            let _ = stream.shutdown().await;
                            let _ = tx.send(seen);
                        }
                        Err(e) => {
                            let _ = tx.send(ServerSide::Refused(e.to_string()));
                        }
                    }
                });
            }
        });
        TestServer { addr, outcomes, task }
    }

    /// The server's view of the next connection.
    pub async fn next_outcome(&mut self) -> ServerSide {
        tokio::time::timeout(STEP, self.outcomes.recv())
            .await
            .expect("server reported no handshake in time")
            .expect("server task ended")
    }
}

/// What the client got from one connection.
#[derive(Debug)]
pub struct Served {
    pub serial_hex: String,
    pub alpn: Option<Vec<u8>>,
    pub resumed: bool,
    pub body: Vec<u8>,
}

/// How the client verifies the server.
pub enum Verify {
    /// Accept any certificate (signatures still checked): used to see which one was served.
    Any,
    /// webpki against these roots and the SNI name.
    Roots(RootCertStore),
}

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

/// Connects, completes the handshake, reads the server's answer to the end.
pub async fn connect(config: Arc<ClientConfig>, addr: SocketAddr, name: &str) -> Result<Served, String> {
    let step = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let name = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
        let mut stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let (_, conn) = stream.get_ref();
        let serial_hex = conn
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(|leaf| serial_of(leaf))
            .ok_or("no server certificate")?;
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let mut body = Vec::new();
        // TLS 1.3 reports a refused client certificate only here, after the handshake.
        stream
            .read_to_end(&mut body)
            .await
            .map_err(|e| format!("read: {e}"))?;
        Ok(Served {
            serial_hex,
            alpn,
            resumed,
            body,
        })
    };
    tokio::time::timeout(STEP, step)
        .await
        .map_err(|_| "timed out".to_string())?
}

/// The leaf serial as the store reports it, read by x509-parser from what was served.
pub fn serial_of(der: &CertificateDer<'_>) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    let raw = cert.raw_serial();
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    raw[start..].iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
struct AcceptAny {
    provider: Arc<rustls::crypto::CryptoProvider>,
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}
