//! A TLS server on 127.0.0.1 for tests: it reports every handshake's outcome, then hands the
//! accepted connection to the test's handler (by default it answers `ok` and closes).

use crate::certs::Leaf;
use crate::client::bounded;
use rustls::ServerConfig;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::server::TlsStream;

/// A rustls server config (aws-lc-rs, default versions, no client authentication) serving
/// `leaf` for every name and offering `alpn`.
pub fn server_config(leaf: &Leaf, alpn: &[&[u8]]) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der.clone()], leaf.private_key())
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
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

/// A TLS server on 127.0.0.1; it stops, with every connection it holds, when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    outcomes: mpsc::UnboundedReceiver<ServerSide>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Answers `ok` on every accepted connection and closes it. Binds before returning, so a
    /// client may connect at once.
    pub async fn start(config: Arc<ServerConfig>) -> TestServer {
        TestServer::serve(config, |mut stream| async move {
            let _ = stream.write_all(b"ok").await;
            let _ = stream.shutdown().await;
        })
        .await
    }

    /// Hands every accepted connection to `handle`. Binds before returning.
    pub async fn serve<F, Fut>(config: Arc<ServerConfig>, handle: F) -> TestServer
    where
        F: Fn(TlsStream<TcpStream>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, outcomes) = mpsc::unbounded_channel();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let handle = Arc::new(handle);
        let task = tokio::spawn(async move {
            // Owned by this task, so aborting it (on drop) ends the connections too.
            let mut connections = JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                let (acceptor, tx, handle) = (acceptor.clone(), tx.clone(), handle.clone());
                connections.spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(stream) => {
                            let (_, conn) = stream.get_ref();
                            let _ = tx.send(ServerSide::Accepted {
                                sni: conn.server_name().map(str::to_string),
                                alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
                                client_cert: conn.peer_certificates().is_some(),
                            });
                            handle(stream).await;
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
        bounded("server reporting a handshake", self.outcomes.recv())
            .await
            .expect("server task ended")
    }
}
