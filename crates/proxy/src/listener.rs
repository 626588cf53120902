//! Listening sockets and the per-connection HTTP server.
//!
//! The accept loop hands each connection, as any `AsyncRead + AsyncWrite` stream, to
//! [`serve_connection`]: on cleartext ports it speaks HTTP/1.1 or HTTP/2 with prior knowledge
//! (detected from the first bytes); on HTTPS ports the stream is the TLS session
//! ([`crate::tls`]) and ALPN has chosen the protocol.

use crate::handler::{handle, ConnCtx};
use crate::proxy::Shared;
use crate::tls;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A connection that has not delivered a complete first request by then is closed, so idle or
/// trickling clients cannot hold sockets forever (later requests are bounded by hyper's header
/// read timeout).
pub(crate) const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

const BACKLOG: i32 = 1024;

/// A port being served.
pub(crate) struct ListenerHandle {
    pub(crate) local_addr: SocketAddr,
    /// Connections are TLS-terminated.
    pub(crate) tls: bool,
    stop: CancellationToken,
}

impl ListenerHandle {
    /// Stops accepting; connections already accepted carry on.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }
}

/// Binds `addr` with SO_REUSEADDR (so a restart does not wait for old connections in TIME_WAIT)
/// and SO_REUSEPORT (so every worker has its own accept queue on the port).
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// A short reason for a port that cannot be listened on.
pub(crate) fn describe_bind_error(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::AddrInUse => "address in use".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::AddrNotAvailable => "address not available".into(),
        _ => err.to_string(),
    }
}

/// Binds `addr` once per worker and starts accepting on each; the table routes the requests
/// by `port`. With `tls`, every connection is handshaken first.
pub(crate) fn start(shared: &Arc<Shared>, addr: SocketAddr, tls: bool) -> std::io::Result<ListenerHandle> {
    let first = bind(addr)?;
    let local_addr = first.local_addr()?;
    let mut sockets = vec![first];
    // With port 0 the first bind picked the port; the others must share it.
    for _ in 1..shared.workers.count() {
        sockets.push(bind(local_addr)?);
    }
    let stop = shared.shutdown.child_token();
    let handle = ListenerHandle {
        local_addr,
        tls,
        stop: stop.clone(),
    };
    let mut sockets = sockets.into_iter();
    shared.workers.spawn_on_each(|_| {
        let socket = sockets.next();
        let shared = Arc::clone(shared);
        let stop = stop.clone();
        let tracker = shared.tracker.clone();
        tracker.track_future(async move {
            let Some(socket) = socket else { return };
            // Registering with the reactor must happen on the worker that will poll it.
            match TcpListener::from_std(socket) {
                Ok(listener) => accept_loop(shared, listener, local_addr.port(), tls, stop).await,
                Err(err) => tracing::error!(port = local_addr.port(), %err, "cannot register listener"),
            }
        })
    });
    Ok(handle)
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    port: u16,
    tls: bool,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, remote)) => {
                // Small writes (headers) must not wait for Nagle.
                let _ = stream.set_nodelay(true);
                let tracker = shared.tracker.clone();
                if tls {
                    tracker.spawn(serve_tls(Arc::clone(&shared), stream, port, remote));
                } else {
                    tracker.spawn(serve_connection(
                        Arc::clone(&shared),
                        stream,
                        port,
                        remote,
                        Session::Cleartext,
                    ));
                }
            }
            Err(err) => {
                tracing::warn!(port, %err, "accept failed");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
}

/// What is known about a connection before HTTP runs on it.
pub(crate) enum Session {
    Cleartext,
    Tls {
        h2: bool,
        /// The listener the SNI selected.
        listener: Option<Arc<str>>,
    },
}

/// Handshakes a connection to an HTTPS port, then serves it; a failed handshake is counted and
/// the connection closed. A shutdown abandons handshakes in progress.
async fn serve_tls(shared: Arc<Shared>, stream: TcpStream, port: u16, remote: SocketAddr) {
    let accepted = tokio::select! {
        accepted = tls::accept(&shared, stream, port) => accepted,
        _ = shared.shutdown.cancelled() => return,
    };
    match accepted {
        Ok(terminated) => {
            let session = Session::Tls {
                h2: terminated.h2,
                listener: terminated.listener,
            };
            serve_connection(Arc::clone(&shared), terminated.stream, port, remote, session).await;
        }
        Err(failure) => {
            tracing::debug!(%remote, port, reason = failure.label(), "TLS handshake refused");
            shared.metrics.handshake_error(port, failure.label());
        }
    }
}

/// Serves HTTP/1.1 and HTTP/2 on one client connection until it closes, the client idles before
/// its first request, or a graceful shutdown finishes the requests in flight.
pub(crate) async fn serve_connection<I>(
    shared: Arc<Shared>,
    io: I,
    port: u16,
    remote: SocketAddr,
    session: Session,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (scheme, server, tls_listener) = match session {
        Session::Cleartext => ("http", &shared.server, None),
        Session::Tls { h2: true, listener } => ("https", &shared.tls_http2, listener),
        Session::Tls { h2: false, listener } => ("https", &shared.tls_http1, listener),
    };
    let ctx = Arc::new(ConnCtx {
        shared: Arc::clone(&shared),
        port,
        remote_ip: crate::headers::client_address_value(remote.ip()),
        scheme,
        tls_listener,
        seen_request: AtomicBool::new(false),
    });
    let service_ctx = Arc::clone(&ctx);
    let service = service_fn(move |req| handle(Arc::clone(&service_ctx), req));
    let conn = server.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let first_request = tokio::time::sleep(FIRST_REQUEST_TIMEOUT);
    tokio::pin!(first_request);
    let mut first_checked = false;
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%remote, %err, "client connection ended with an error");
                }
                return;
            }
            _ = &mut first_request, if !first_checked => {
                first_checked = true;
                if !ctx.seen_request.load(Ordering::Relaxed) {
                    tracing::debug!(%remote, "closing connection that sent no request");
                    return;
                }
            }
            _ = shared.shutdown.cancelled(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
