//! The exchange with the picked backend, once the request is ready to go: decide how the body
//! travels (streamed through, teed to mirrors, or buffered so a retry can resend it), start the
//! mirror copies, adapt the request to the backend's protocol, and send it — with retries when
//! the rule has a retry policy and the request is safe to send twice.

use crate::body::UpstreamBody;
use crate::error::ProxyError;
use crate::forward;
use crate::handler::ConnCtx;
use crate::mirror::{self, Runner, Source, SourceBody, DEFAULT_MIRROR_TIMEOUT};
use crate::retry::{self, Replayable, MAX_BUFFERED_BODY};
use crate::state::{RouteState, ServiceState};
use crate::tee::Tee;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response};
use http_body::Body;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::net::SocketAddr;

/// The client request, with its filters applied, and where it goes.
pub(crate) struct Outgoing {
    pub(crate) req: Request<Incoming>,
    /// What the backend sees as the host.
    pub(crate) host: HeaderValue,
    /// The path and query the backend gets when a rewrite changed them (else the request's).
    pub(crate) path: Option<PathAndQuery>,
    /// A protocol upgrade is under way: the exchange is not repeatable.
    pub(crate) upgrade: bool,
}

/// True when the rule and the backendRef have neither mirrors nor a retry policy: the request
/// then goes straight to [`forward::send`] (not split, the body not wrapped beyond
/// [`UpstreamBody::Stream`]) and nothing of the mirror and retry machinery is paid for.
pub(crate) fn is_plain(route: &RouteState, backend: &ServiceState) -> bool {
    route.retry.is_none() && route.filters.mirrors.is_empty() && backend.filters.mirrors.is_empty()
}

/// Sends `out` to `backend` and copies to the mirrors of the rule and the backendRef, retrying
/// as the rule's policy says; returns the backend's response and the endpoint that gave it.
/// For rules that are not [`is_plain`]; callers box this future so that plain requests do not
/// carry its state.
pub(crate) async fn exchange(
    ctx: &ConnCtx,
    route: &RouteState,
    backend: &ServiceState,
    out: Outgoing,
) -> Result<(Response<Incoming>, SocketAddr), ProxyError> {
    let Outgoing {
        req,
        host,
        path,
        upgrade,
    } = out;
    let (parts, body) = req.into_parts();
    let mut parts = Request::from_parts(parts, ());
    let path = match path {
        Some(path) => path,
        None => parts
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
    };
    let upstream = &backend.upstream;
    let retry = route
        .retry
        .as_ref()
        .filter(|_| !upgrade && retry::is_idempotent(parts.method()) && fits_in_memory(&body));
    let payload = match retry {
        Some(_) => {
            let (data, trailers) = read_whole(body).await?;
            Payload::Held(data, trailers)
        }
        None => Payload::Streaming(body),
    };
    let mut feeds = Vec::new();
    if !route.filters.mirrors.is_empty() || !backend.filters.mirrors.is_empty() {
        let source_body = match &payload {
            Payload::Held(data, trailers) => SourceBody::Buffered(data, trailers.as_ref()),
            Payload::Streaming(body) if body.is_end_stream() => SourceBody::Empty,
            Payload::Streaming(body) => SourceBody::Streaming(body.size_hint()),
        };
        let runner = Runner {
            slots: &ctx.shared.mirror_slots,
            stop: &ctx.shared.hard_stop,
            timeout: route
                .request_timeout
                .or(route.backend_timeout)
                .unwrap_or(DEFAULT_MIRROR_TIMEOUT),
        };
        let source = Source {
            method: parts.method(),
            version: parts.version(),
            headers: parts.headers(),
            path: &path,
            host: &host,
        };
        let targets = route.filters.mirrors.iter().chain(backend.filters.mirrors.iter());
        feeds = mirror::start(&runner, targets, &source, &source_body);
    }

    forward::prepare(&mut parts, upstream, &host, Some(path))?;
    match (retry, payload) {
        (Some(policy), Payload::Held(data, trailers)) => {
            let (parts, ()) = parts.into_parts();
            let replay = Replayable {
                method: parts.method,
                uri: parts.uri,
                version: parts.version,
                headers: parts.headers,
                body: data,
                trailers,
            };
            retry::send(upstream, policy, &replay, route.backend_timeout, &backend.retries).await
        }
        // Held without a policy does not happen; sending it once is still right.
        (None, Payload::Held(data, trailers)) => {
            let body = UpstreamBody::full(data, trailers);
            forward::send(upstream, parts.map(|()| body), route.backend_timeout).await
        }
        (_, Payload::Streaming(body)) => {
            let body = if feeds.is_empty() {
                UpstreamBody::Stream(body)
            } else {
                UpstreamBody::Tee(Box::new(Tee::new(body, feeds)))
            };
            forward::send(upstream, parts.map(|()| body), route.backend_timeout).await
        }
    }
}

/// How the request body travels.
enum Payload {
    /// Frame by frame from the client (possibly teed to mirrors).
    Streaming(Incoming),
    /// Read whole first, so a retry can send it again.
    Held(Bytes, Option<HeaderMap>),
}

/// A body that can be held in memory for a retry: none at all, or a known length within
/// [`MAX_BUFFERED_BODY`]. A body of unknown length (chunked, or HTTP/2 without
/// `content-length`) streams instead and is not retried.
fn fits_in_memory(body: &Incoming) -> bool {
    body.is_end_stream() || body.size_hint().upper().is_some_and(|n| n <= MAX_BUFFERED_BODY)
}

/// Reads a body whose length [`fits_in_memory`] (hyper holds the client to its
/// `content-length`, so this cannot grow past the limit).
async fn read_whole(body: Incoming) -> Result<(Bytes, Option<HeaderMap>), ProxyError> {
    let collected = body.collect().await.map_err(ProxyError::ClientBody)?;
    let trailers = collected.trailers().cloned();
    Ok((collected.to_bytes(), trailers))
}
