//! TLS termination on HTTPS ports: the handshake of an accepted connection, with the server
//! config the routing state published last for that port.
//!
//! The ClientHello is read first (rustls's lazy acceptor) so the SNI is known even when the
//! handshake then fails; that is what tells an unknown name apart from other failures in
//! `fairlead_tls_handshake_errors_total`. The connection keeps the config it was accepted with:
//! a later swap changes the certificate for new connections only.

use crate::proxy::Shared;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::LazyConfigAcceptor;

/// Longest a client may take from connecting to finishing the TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection whose handshake succeeded.
pub(crate) struct Terminated {
    pub(crate) stream: TlsStream<TcpStream>,
    /// ALPN chose HTTP/2.
    pub(crate) h2: bool,
    /// The listener the SNI selected (the certificate's listener); requests whose host belongs
    /// to another listener are answered 421.
    pub(crate) listener: Option<Arc<str>>,
}

/// Why a handshake failed; the `reason` label of the handshake error counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No listener of the port accepts the SNI, and none accepts every name.
    UnknownSni,
    /// The port has no usable certificate at all.
    NoCertificate,
    /// The client certificate was missing or did not verify (frontend mTLS).
    ClientCertificate,
    Timeout,
    /// Anything else: not TLS, no common version or cipher suite, a reset, ...
    Other,
}

impl Failure {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Failure::UnknownSni => "unknown_sni",
            Failure::NoCertificate => "no_certificate",
            Failure::ClientCertificate => "client_certificate",
            Failure::Timeout => "timeout",
            Failure::Other => "other",
        }
    }
}

/// Runs the server handshake on `tcp`, bounded by [`HANDSHAKE_TIMEOUT`].
pub(crate) async fn accept(shared: &Shared, tcp: TcpStream, port: u16) -> Result<Terminated, Failure> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(shared, tcp, port)).await {
        Ok(result) => result,
        Err(_) => Err(Failure::Timeout),
    }
}

async fn handshake(shared: &Shared, tcp: TcpStream, port: u16) -> Result<Terminated, Failure> {
    let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp)
        .await
        .map_err(|err| {
            tracing::debug!(port, %err, "no TLS ClientHello");
            Failure::Other
        })?;
    let sni = start.client_hello().server_name().map(str::to_owned);
    // Read from the newest state, and not held across the handshake.
    let (config, listener) = {
        let state = shared.state.load();
        (
            state.tls.server_config(port),
            state.tls.listener_for(port, sni.as_deref()).map(Arc::<str>::from),
        )
    };
    let Some(config) = config else {
        return Err(Failure::NoCertificate);
    };
    match start.into_stream(config).await {
        Ok(stream) => {
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
            Ok(Terminated { stream, h2, listener })
        }
        Err(err) => {
            tracing::debug!(port, sni = sni.as_deref().unwrap_or(""), %err, "TLS handshake failed");
            Err(classify(&err, listener.is_none()))
        }
    }
}

fn classify(err: &std::io::Error, no_listener: bool) -> Failure {
    if no_listener {
        return Failure::UnknownSni;
    }
    match err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        // On the server side, a certificate error is about the client's certificate.
        Some(rustls::Error::NoCertificatesPresented | rustls::Error::InvalidCertificate(_)) => {
            Failure::ClientCertificate
        }
        _ => Failure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_by_listener_then_by_rustls_error() {
        let other = std::io::Error::other("reset");
        assert_eq!(classify(&other, true), Failure::UnknownSni);
        assert_eq!(classify(&other, false), Failure::Other);
        let no_cert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::NoCertificatesPresented,
        );
        assert_eq!(classify(&no_cert, false), Failure::ClientCertificate);
        let bad = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(classify(&bad, false), Failure::ClientCertificate);
        let version = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered),
        );
        assert_eq!(classify(&version, false), Failure::Other);
    }
}
