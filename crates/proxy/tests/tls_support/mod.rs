//! TLS test support: certificates made with rcgen, HTTPS listener configs, a proxy started with
//! TLS material, a tokio-rustls client that reports the certificate it was served, and a TLS
//! backend. Every network wait is bounded (see `support::bounded`).
#![allow(dead_code)]

use crate::support::{bounded, free_port, options, Seen, TestProxy};
use bytes::Bytes;
use fairlead_proxy::{Proxy, ProxyOptions};
use fairlead_route::{CertificatePem, Config, Listener, ListenerProtocol, ListenerTls, Route, TlsMaterial};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::registry::Registry;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SerialNumber};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_util::sync::{CancellationToken, DropGuard};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A certificate authority signing test certificates.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
}

/// A leaf certificate and its key, as a `kubernetes.io/tls` Secret holds them.
#[derive(Clone)]
pub struct Leaf {
    pub pem: CertificatePem,
    pub der: CertificateDer<'static>,
    pub key_der: Vec<u8>,
    pub not_after_unix: i64,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "fairlead proxy test CA");
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            issuer: Issuer::new(params, key),
            pem: cert.pem(),
        }
    }

    /// An ECDSA leaf for `names`, valid from a day ago until `days` days from now, with a serial
    /// of its own.
    pub fn leaf(&self, names: &[&str], days: u32) -> Leaf {
        static SERIAL: AtomicU8 = AtomicU8::new(1);
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let day = std::time::Duration::from_secs(86_400);
        let now = rcgen::date_time_ymd(1970, 1, 1) + std::time::Duration::from_secs(unix_now() as u64);
        params.not_before = now - day;
        params.not_after = now + day * days;
        params.serial_number = Some(SerialNumber::from_slice(&[
            0x40,
            SERIAL.fetch_add(1, Ordering::Relaxed),
        ]));
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            pem: CertificatePem {
                chain: cert.pem().into_bytes(),
                key: key.serialize_pem().into_bytes(),
            },
            der: cert.der().clone(),
            key_der: key.serialize_der(),
            not_after_unix: params.not_after.unix_timestamp(),
        }
    }
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An HTTPS listener serving `certs` (ids) with `routes`.
pub fn https(id: &str, port: u16, hostname: Option<&str>, certs: &[&str], routes: Vec<Route>) -> Listener {
    Listener {
        id: id.into(),
        port,
        protocol: ListenerProtocol::Https,
        hostname: hostname.map(str::to_owned),
        routes,
        tls: Some(ListenerTls {
            certificates: certs.iter().map(|c| (*c).to_owned()).collect(),
            client_ca: Vec::new(),
        }),
    }
}

pub fn material(certs: &[(&str, &Leaf)]) -> TlsMaterial {
    let mut material = TlsMaterial::default();
    for (id, leaf) in certs {
        material.certificates.insert((*id).to_owned(), leaf.pem.clone());
    }
    material
}

/// Starts a proxy with `opts` serving `make(port)` with `material` on a free port.
pub async fn start_tls_proxy_with(
    opts: ProxyOptions,
    make: impl Fn(u16) -> Config,
    material: &TlsMaterial,
) -> TestProxy {
    let mut registry = Registry::default();
    let proxy = Proxy::new(opts, &mut registry).expect("proxy workers start");
    for _ in 0..10 {
        let port = free_port();
        let report = proxy.apply(&make(port), material);
        assert!(report.compile_errors.is_empty(), "{:?}", report.compile_errors);
        if report.bind_errors.is_empty() {
            return TestProxy {
                proxy,
                port,
                registry,
            };
        }
    }
    panic!("no free port found for the proxy");
}

pub async fn start_tls_proxy(make: impl Fn(u16) -> Config, material: &TlsMaterial) -> TestProxy {
    start_tls_proxy_with(options(), make, material).await
}

/// Accepts any server certificate (signatures are still checked): the tests look at which one
/// was served.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// How a test client connects.
pub struct Client {
    /// `None`: no SNI is sent.
    pub sni: Option<&'static str>,
    pub alpn: &'static [&'static [u8]],
    /// Verify against this CA's certificate instead of accepting anything.
    pub ca: Option<String>,
    pub tls12_only: bool,
    /// Presented when the server asks for a client certificate.
    pub client_cert: Option<Leaf>,
}

impl Client {
    pub fn sni(name: &'static str) -> Client {
        Client {
            sni: Some(name),
            alpn: &[b"http/1.1"],
            ca: None,
            tls12_only: false,
            client_cert: None,
        }
    }

    pub fn no_sni() -> Client {
        Client {
            sni: None,
            ..Client::sni("unused.invalid")
        }
    }

    fn config(&self) -> Arc<ClientConfig> {
        let versions: &[&rustls::SupportedProtocolVersion] = if self.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            rustls::DEFAULT_VERSIONS
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .unwrap();
        let builder = match &self.ca {
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes()) {
                    roots.add(cert.unwrap()).unwrap();
                }
                builder.with_root_certificates(roots)
            }
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider()))),
        };
        let mut config = match &self.client_cert {
            Some(leaf) => builder
                .with_client_auth_cert(
                    vec![leaf.der.clone()],
                    PrivateKeyDer::Pkcs8(leaf.key_der.clone().into()),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.iter().map(|p| p.to_vec()).collect();
        config.enable_sni = self.sni.is_some();
        Arc::new(config)
    }

    /// Handshakes with the proxy on `port`; the error is the client's view of a refusal.
    pub async fn connect(&self, port: u16) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = bounded("connect", TcpStream::connect(("127.0.0.1", port))).await?;
        let name = ServerName::try_from(self.sni.unwrap_or("unused.invalid").to_owned()).unwrap();
        let connector = tokio_rustls::TlsConnector::from(self.config());
        bounded("TLS handshake", connector.connect(name, tcp)).await
    }
}

/// The certificate the server presented on `stream`.
pub fn served(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

/// HTTP/1.1 over an established TLS connection.
pub async fn h1_over(stream: TlsStream<TcpStream>) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let (sender, conn) = bounded(
        "h1 handshake",
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    sender
}

/// HTTP/2 over an established TLS connection.
pub async fn h2_over(stream: TlsStream<TcpStream>) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    let (sender, conn) = bounded(
        "h2 handshake",
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    sender
}

/// A TLS backend serving `leaf` (ALPN h2 and http/1.1) that reports each request and answers
/// 200 with `name`.
pub async fn tls_recorder(
    name: &'static str,
    leaf: &Leaf,
) -> (
    SocketAddr,
    DropGuard,
    tokio::sync::mpsc::UnboundedReceiver<(Seen, Option<String>)>,
) {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der.clone()],
            PrivateKeyDer::Pkcs8(leaf.key_der.clone().into()),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        loop {
            let tcp = tokio::select! {
                _ = token.cancelled() => return,
                accepted = listener.accept() => match accepted { Ok((tcp, _)) => tcp, Err(_) => continue },
            };
            let (acceptor, tx, token) = (acceptor.clone(), tx.clone(), token.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let sni = stream.get_ref().1.server_name().map(str::to_owned);
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (tx, sni) = (tx.clone(), sni.clone());
                    async move {
                        let scheme = req.uri().scheme_str().map(str::to_owned);
                        let (parts, body) = req.into_parts();
                        let _ = body.collect().await;
                        let mut headers = parts.headers;
                        if let Some(scheme) = scheme {
                            headers.insert("x-seen-scheme", scheme.parse().unwrap());
                        }
                        let seen = Seen {
                            method: parts.method,
                            target: parts.uri.path().to_owned(),
                            version: parts.version,
                            headers,
                            body: Bytes::new(),
                        };
                        let _ = tx.send((seen, sni));
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(name.as_bytes()))))
                    }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                tokio::select! {
                    _ = builder.serve_connection(TokioIo::new(stream), service) => {}
                    _ = token.cancelled() => {}
                }
            });
        }
    });
    (addr, stop.drop_guard(), rx)
}
