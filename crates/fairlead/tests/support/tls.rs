//! TLS for the end-to-end tests: certificates generated per test (rcgen), Secrets carrying
//! them, and a client that sets SNI, trusts exactly the test certificates, and reports which
//! certificate the server presented.

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A self-signed certificate for some DNS names, with its key.
#[derive(Clone)]
pub struct TestCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl TestCert {
    pub fn new(names: &[&str]) -> TestCert {
        let params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("certificate params");
        TestCert::sign(params)
    }

    /// A certificate whose validity ended in 2021.
    pub fn expired(names: &[&str]) -> TestCert {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("certificate params");
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        TestCert::sign(params)
    }

    fn sign(params: rcgen::CertificateParams) -> TestCert {
        let key = rcgen::KeyPair::generate().expect("generate key");
        let cert = params.self_signed(&key).expect("self-sign");
        TestCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

/// A `kubernetes.io/tls` Secret in `default` holding `cert`.
pub fn tls_secret(name: &str, cert: &TestCert) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "default"},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert.cert_pem, "tls.key": cert.key_pem},
    })
}

/// A client trusting exactly `trusted`, offering ALPN `h2` and `http/1.1`.
pub fn client_config(trusted: &[&TestCert]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add(cert.der.clone()).expect("add test root");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A TLS connection and what the handshake settled.
pub struct Connected {
    pub stream: TlsStream<TcpStream>,
    /// The leaf certificate the server presented.
    pub served: CertificateDer<'static>,
    pub alpn: Option<Vec<u8>>,
}

/// Connects to 127.0.0.1:`port` with SNI `sni`; `Err` when the handshake fails.
pub async fn connect(port: u16, sni: &str, config: Arc<rustls::ClientConfig>) -> Result<Connected, String> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let name = ServerName::try_from(sni.to_owned()).map_err(|e| format!("server name: {e}"))?;
    let stream = tokio::time::timeout(
        super::WAIT_AT_MOST,
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|_| "handshake timed out".to_string())?
    .map_err(|e| format!("handshake: {e}"))?;
    let (_, session) = stream.get_ref();
    let served = session
        .peer_certificates()
        .and_then(|c| c.first())
        .cloned()
        .ok_or("no server certificate")?;
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    Ok(Connected { stream, served, alpn })
}

/// One request over an established TLS connection, in the protocol ALPN chose. Returns status,
/// response headers and body.
pub async fn request(conn: Connected, host: &str, path: &str) -> Result<super::Reply, String> {
    let h2 = conn.alpn.as_deref() == Some(b"h2");
    let io = TokioIo::new(conn.stream);
    let exchange = async move {
        let resp = if h2 {
            let (mut sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .handshake::<_, Full<Bytes>>(io)
                .await
                .map_err(|e| format!("h2 handshake: {e}"))?;
            tokio::spawn(connection);
            let req = Request::get(format!("https://{host}{path}"))
                .version(Version::HTTP_2)
                .body(Full::default())
                .map_err(|e| e.to_string())?;
            sender
                .send_request(req)
                .await
                .map_err(|e| format!("h2 request: {e}"))?
        } else {
            let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io)
                .await
                .map_err(|e| format!("h1 handshake: {e}"))?;
            tokio::spawn(connection);
            let req = Request::get(path)
                .header("host", host)
                .body(Full::default())
                .map_err(|e| e.to_string())?;
            sender
                .send_request(req)
                .await
                .map_err(|e| format!("h1 request: {e}"))?
        };
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
        Ok(super::Reply {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(super::WAIT_AT_MOST, exchange)
        .await
        .map_err(|_| "no response in time".to_string())?
}
