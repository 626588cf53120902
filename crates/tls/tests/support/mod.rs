//! Test support: listener configs for the store, and a connect that also reads the answer of a
//! [`TestServer`]. Certificates, the client and the server come from `fairlead-testpki`.
#![allow(dead_code, unused_imports)] // each test file uses a different subset

/// Seconds since the epoch now, as the caller of the store passes it.
pub use fairlead_testpki::unix_now as now;
pub use fairlead_testpki::{
    bounded, dns_params_between, material, pem_encode, uri_params, Alg, ClientSpec, Leaf, ServerSide, TestCa,
    TestServer, Verify,
};

use fairlead_route::{Config, Listener, ListenerProtocol, ListenerTls};
use rustls::ClientConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncReadExt;

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

/// What the client got from one connection to a [`TestServer`].
#[derive(Debug)]
pub struct Served {
    pub serial_hex: String,
    pub alpn: Option<Vec<u8>>,
    pub resumed: bool,
    pub body: Vec<u8>,
}

/// Connects, completes the handshake, reads the server's answer to the end.
pub async fn connect(config: Arc<ClientConfig>, addr: SocketAddr, name: &str) -> Result<Served, String> {
    let mut conn = fairlead_testpki::connect(config, addr, name).await?;
    let mut body = Vec::new();
    // TLS 1.3 reports a refused client certificate only here, after the handshake.
    bounded("the server's answer", conn.stream.read_to_end(&mut body))
        .await
        .map_err(|e| format!("read: {e}"))?;
    Ok(Served {
        serial_hex: conn.serial_hex,
        alpn: conn.alpn,
        resumed: conn.resumed,
        body,
    })
}
