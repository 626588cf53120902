//! TLS test support: HTTPS listener configs, a proxy started with TLS material, a client that
//! connects to it by SNI, HTTP over TLS, and a TLS backend that records requests. Certificates,
//! the rustls client and the TLS server come from `fairlead-testpki`. Every network wait is
//! bounded (see `support::bounded`).
#![allow(dead_code, unused_imports)] // each test file uses a different subset

pub use fairlead_testpki::{dns_params_for_days, material, unix_now, Alg, Leaf, TestCa};

use crate::support::{bounded, free_port, options, Seen, TestProxy};
use bytes::Bytes;
use fairlead_proxy::{Proxy, ProxyOptions};
use fairlead_route::{Config, Listener, ListenerProtocol, ListenerTls, Route, TlsMaterial};
use fairlead_testpki::{roots_from_pem, server_config, ClientSpec, TestServer, Verify};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::registry::Registry;
use rustls::pki_types::CertificateDer;
use rustls::ClientConfig;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

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
        ClientSpec {
            verify: self
                .ca
                .as_deref()
                .map_or(Verify::Any, |pem| Verify::Roots(roots_from_pem(pem))),
            alpn: self.alpn.iter().map(|p| p.to_vec()).collect(),
            client_cert: self.client_cert.as_ref().map(Leaf::client_auth),
            tls12_only: self.tls12_only,
            send_sni: self.sni.is_some(),
            ..ClientSpec::default()
        }
        .build()
    }

    /// Handshakes with the proxy on `port`; the error is the client's view of a refusal.
    pub async fn connect(&self, port: u16) -> Result<TlsStream<TcpStream>, String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let name = self.sni.unwrap_or("unused.invalid");
        Ok(fairlead_testpki::connect(self.config(), addr, name).await?.stream)
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

/// A TLS backend serving `leaf` (ALPN h2 and http/1.1) that reports each request with the SNI
/// it came with and answers 200 with `name`. It stops when the returned server is dropped.
pub async fn tls_recorder(
    name: &'static str,
    leaf: &Leaf,
) -> (
    SocketAddr,
    TestServer,
    tokio::sync::mpsc::UnboundedReceiver<(Seen, Option<String>)>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let config = server_config(leaf, &[b"h2", b"http/1.1"]);
    let server = TestServer::serve(config, move |stream| {
        let tx = tx.clone();
        async move {
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
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        }
    })
    .await;
    (server.addr, server, rx)
}
