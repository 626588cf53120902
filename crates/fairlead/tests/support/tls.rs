//! TLS for the end-to-end tests: the Secrets carrying test certificates (made per test with
//! `fairlead-testpki`), a client that trusts exactly the test certificates, and a connect that
//! sets SNI and reports which certificate the server presented.

use bytes::Bytes;
use fairlead_testpki::{ClientSpec, Connected, Leaf, Verify};
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// A `kubernetes.io/tls` Secret in `default` holding `cert`.
pub fn tls_secret(name: &str, cert: &Leaf) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "default"},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert.chain, "tls.key": cert.key},
    })
}

/// A client trusting exactly `trusted`, offering ALPN `h2` and `http/1.1`.
pub fn client_config(trusted: &[&Leaf]) -> Arc<rustls::ClientConfig> {
    ClientSpec {
        verify: Verify::Roots(Leaf::roots_of(trusted)),
        alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        ..ClientSpec::default()
    }
    .build()
}

/// Connects to 127.0.0.1:`port` with SNI `sni`; `Err` when the handshake fails (one that hangs
/// fails the test).
pub async fn connect(port: u16, sni: &str, config: Arc<rustls::ClientConfig>) -> Result<Connected, String> {
    fairlead_testpki::connect(config, SocketAddr::from(([127, 0, 0, 1], port)), sni).await
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
