//! In-process echo backends on 127.0.0.1, each answering with its own name.

use std::net::SocketAddr;
use tokio_util::sync::{CancellationToken, DropGuard};

/// A running echo backend; it stops when dropped.
pub struct Echo {
    pub name: String,
    pub addr: SocketAddr,
    _stop: DropGuard,
}

impl Echo {
    pub async fn start(name: &str) -> Echo {
        Echo::start_at(name, "127.0.0.1:0").await
    }

    /// An echo backend on a given address (e.g. `127.0.0.7:41000`, to play one of several pods
    /// behind the same port).
    pub async fn start_at(name: &str, addr: &str) -> Echo {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind echo backend {addr}: {e}"));
        let addr = listener.local_addr().expect("echo address");
        let stop = CancellationToken::new();
        tokio::spawn(fairlead_echo::serve(listener, name.to_owned(), stop.clone()));
        Echo {
            name: name.to_owned(),
            addr,
            _stop: stop.drop_guard(),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}
