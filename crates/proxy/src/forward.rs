//! Sending a request to a Service backend: adapting it to the upstream protocol, round-robin over
//! endpoints with failover on connect failure, and tunnelling protocol upgrades.

use crate::body::UpstreamBody;
use crate::error::{ConnectError, ProxyError};
use crate::pool::{EndpointPool, SendError};
use crate::state::Upstream;
use fairlead_route::UpstreamProtocol;
use http::header::{self, HeaderValue};
use http::uri::{PathAndQuery, Scheme, Uri};
use http::{Request, Response, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Most endpoints tried for one request (the first plus two failovers).
const MAX_ATTEMPTS: usize = 3;

/// Rewrites the request line and `Host` for the upstream's protocol. `host` is what the backend
/// should see as the host (the client's, or a URLRewrite hostname); `path` replaces the path and
/// query when a rewrite changed them.
pub(crate) fn prepare<B>(
    req: &mut Request<B>,
    upstream: &Upstream,
    host: &HeaderValue,
    path: Option<PathAndQuery>,
) -> Result<(), ProxyError> {
    let pq = match path {
        Some(pq) => pq,
        None => req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
    };
    match upstream.protocol {
        UpstreamProtocol::Http1 => {
            // An HTTP/2 request forwarded unchanged to an HTTP/1 connection is refused by hyper;
            // HTTP/1.0 clients get HTTP/1.1 upstream so keep-alive works.
            if req.version() == Version::HTTP_2 {
                crate::headers::join_cookies(req.headers_mut());
            }
            *req.version_mut() = Version::HTTP_11;
            *req.uri_mut() = Uri::from(pq);
            req.headers_mut().insert(header::HOST, host.clone());
        }
        UpstreamProtocol::H2c => {
            *req.version_mut() = Version::HTTP_2;
            let authority = host
                .to_str()
                .ok()
                .and_then(|h| h.parse::<http::uri::Authority>().ok())
                .ok_or(ProxyError::BadRequest("host is not a valid authority"))?;
            let mut parts = http::uri::Parts::default();
            // `:scheme` says how the proxy reaches the backend.
            parts.scheme = Some(if upstream.tls { Scheme::HTTPS } else { Scheme::HTTP });
            parts.authority = Some(authority);
            parts.path_and_query = Some(pq);
            *req.uri_mut() =
                Uri::from_parts(parts).map_err(|_| ProxyError::BadRequest("cannot build upstream URI"))?;
            // :authority carries the host on HTTP/2.
            req.headers_mut().remove(header::HOST);
        }
    }
    Ok(())
}

/// Sends `req` to one of the backend's endpoints, starting at the next round-robin position.
/// Connect failures move on to the next endpoint (at most [`MAX_ATTEMPTS`] in all): no byte of
/// the request has been sent then. `attempt_timeout` bounds each attempt, including connect.
pub(crate) async fn send(
    backend: &Upstream,
    mut req: Request<UpstreamBody>,
    attempt_timeout: Option<Duration>,
) -> Result<(Response<Incoming>, SocketAddr), ProxyError> {
    let count = backend.endpoints.len();
    if count == 0 {
        return Err(ProxyError::NoEndpoints(backend.name.clone()));
    }
    let start = backend.next_start();
    let mut last_error = None;
    for attempt in 0..count.min(MAX_ATTEMPTS) {
        let Some(pool) = backend.endpoints.get(start.wrapping_add(attempt) % count) else {
            break;
        };
        let result = match attempt_timeout {
            Some(limit) => match tokio::time::timeout(limit, send_to(pool, req)).await {
                Ok(result) => result,
                Err(_) => return Err(ProxyError::Timeout(limit)),
            },
            None => send_to(pool, req).await,
        };
        match result {
            Attempt::Done(resp) => return Ok((resp, pool.addr())),
            Attempt::Failed(source) => {
                return Err(ProxyError::Upstream {
                    addr: pool.addr(),
                    source,
                })
            }
            Attempt::ConnectFailed(r, err) => {
                backend.connect_failures.inc();
                tracing::debug!(backend = %backend.name, %err, "upstream connect failed");
                req = *r;
                last_error = Some(err);
            }
        }
    }
    match last_error {
        Some(source) => Err(ProxyError::Unavailable {
            backend: backend.name.clone(),
            source,
        }),
        None => Err(ProxyError::NoEndpoints(backend.name.clone())),
    }
}

enum Attempt {
    Done(Response<Incoming>),
    /// Nothing was sent: the request comes back for another endpoint.
    ConnectFailed(Box<Request<UpstreamBody>>, ConnectError),
    Failed(hyper::Error),
}

/// One endpoint. A pooled connection the peer closed just before we used it gives the request
/// back unsent; it is then retried once on a fresh connection.
async fn send_to(pool: &Arc<EndpointPool>, req: Request<UpstreamBody>) -> Attempt {
    let mut req = req;
    let mut fresh = false;
    loop {
        let conn = match pool.checkout(fresh).await {
            Ok(conn) => conn,
            Err(err) => return Attempt::ConnectFailed(Box::new(req), err),
        };
        let reused = conn.reused;
        match conn.send(pool, req).await {
            Ok(resp) => return Attempt::Done(resp),
            Err(SendError::NotSent(r)) if reused => {
                req = *r;
                fresh = true;
            }
            Err(SendError::NotSent(r)) => {
                return Attempt::ConnectFailed(r, ConnectError::ClosedBeforeSend { addr: pool.addr() })
            }
            Err(SendError::Failed(err)) => return Attempt::Failed(err),
        }
    }
}

/// Joins the client's and the upstream's upgraded connections and copies bytes both ways until
/// either side closes.
pub(crate) async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    let (client, upstream) = tokio::join!(client, upstream);
    match (client, upstream) {
        (Ok(client), Ok(upstream)) => {
            let mut client = TokioIo::new(client);
            let mut upstream = TokioIo::new(upstream);
            if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                tracing::debug!(%err, "upgraded connection ended with an error");
            }
        }
        (Err(err), _) | (_, Err(err)) => tracing::debug!(%err, "protocol upgrade failed"),
    }
}
