//! The per-request path: one load of the routing state, lookup, filters, backend choice,
//! forwarding, and the response back, with one metric update and one access-log event.
//!
//! Phases, in order: host check (400) → lookup (404; 421 when TLS was terminated for another
//! listener than the one the host selects) → rule filters that fail closed (500) →
//! CORS (preflights answered here) → redirect (3xx) → weighted backend pick (500 for invalid
//! backends or backendRef filters that fail closed, 503 without endpoints) → request headers
//! (hop-by-hop, X-Forwarded-*, rule then backendRef modifiers and rewrite) → the exchange with
//! the backend (mirrors, retries, failover; 502 / 504, see [`crate::exchange`]) → response
//! headers (CORS, rule then backendRef modifiers) → upgrade tunnel when the backend switched
//! protocols. On GRPCRoute rules the proxy's own errors are gRPC statuses ([`crate::grpc`]).

use crate::body::{ProxyBody, UpstreamBody};
use crate::cors::{CompiledCors, CorsDecision};
use crate::error::ProxyError;
use crate::exchange::{self, Outgoing};
use crate::filters::{CompiledRewrite, RedirectInput};
use crate::forward;
use crate::grpc;
use crate::headers::{add_forwarded, is_upgrade_request, remove_hop_by_hop};
use crate::metrics::RequestHandles;
use crate::proxy::Shared;
use crate::state::{BackendState, State};
use fairlead_route::{normalize_host, Lookup, RequestInfo, UpstreamProtocol};
use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What the request path needs to know about the connection a request arrived on.
pub(crate) struct ConnCtx {
    pub(crate) shared: Arc<Shared>,
    /// The listening port (what the table routes by).
    pub(crate) port: u16,
    /// The client's IP as an `X-Forwarded-For` value.
    pub(crate) remote_ip: HeaderValue,
    /// `https` when TLS terminated here, else `http`.
    pub(crate) scheme: &'static str,
    /// On TLS connections, the listener the SNI selected: a request whose host belongs to
    /// another listener is misdirected (421).
    pub(crate) tls_listener: Option<Arc<str>>,
    /// Set by the first request, so the connection task can drop connections that never send one.
    pub(crate) seen_request: AtomicBool,
}

/// What the access log and metrics report about a finished request.
struct Outcome<'s> {
    route: Option<&'s str>,
    upstream: Option<SocketAddr>,
    handles: Cow<'s, RequestHandles>,
    /// Answer errors as gRPC statuses (a GRPCRoute rule, or an unrouted gRPC request).
    grpc: bool,
    /// The route's CORS policy and the origin it allows, once decided: the proxy's own error
    /// answers carry the CORS headers too, or a browser would hide the status behind a CORS
    /// error.
    cors: Option<(&'s CompiledCors, Option<HeaderValue>)>,
}

/// hyper service entry point: never fails, every problem becomes a response.
pub(crate) async fn handle(
    ctx: Arc<ConnCtx>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let start = Instant::now();
    ctx.seen_request.store(true, Ordering::Relaxed);
    // The one load of the routing state for this request; in-flight requests keep theirs.
    let state = ctx.shared.state.load_full();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let host = request_host(&req);

    let mut outcome = Outcome {
        route: None,
        upstream: None,
        handles: Cow::Borrowed(&state.unmatched),
        grpc: false,
        cors: None,
    };
    let resp = match proxy(&ctx, &state, req, host.clone(), start, &mut outcome).await {
        Ok(resp) => resp,
        Err(err) => {
            tracing::debug!(error = %err, method = %method, path = uri.path(), "request answered by the proxy");
            let mut resp = if outcome.grpc {
                grpc::error_response(&err)
            } else {
                error_response(&err)
            };
            if let Some((cors, allow_origin)) = outcome.cors.take() {
                cors.apply(allow_origin, resp.headers_mut());
            }
            resp
        }
    };
    let status = resp.status();
    let elapsed = start.elapsed();
    outcome.handles.record(status, elapsed);
    if ctx.shared.access_log {
        let host = host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or("");
        tracing::info!(
            target: "access",
            method = %method,
            host,
            path = uri.path(),
            status = status.as_u16(),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            route = outcome.route.unwrap_or(""),
            upstream = %UpstreamField(outcome.upstream),
            bytes = %BytesField(http_body::Body::size_hint(resp.body()).exact()),
        );
    }
    Ok(resp)
}

/// The host as the client sent it: the request-target's authority when there is one (HTTP/2
/// `:authority`, or an HTTP/1.1 absolute-form target, which RFC 9112 §3.2.2 says wins over
/// `Host`), else the `Host` header.
fn request_host(req: &Request<Incoming>) -> Option<HeaderValue> {
    match req.uri().authority() {
        Some(authority) => HeaderValue::from_str(authority.as_str()).ok(),
        None => req.headers().get(header::HOST).cloned(),
    }
}

async fn proxy<'s>(
    ctx: &ConnCtx,
    state: &'s State,
    mut req: Request<Incoming>,
    host: Option<HeaderValue>,
    start: Instant,
    outcome: &mut Outcome<'s>,
) -> Result<Response<ProxyBody>, ProxyError> {
    if req.headers().get_all(header::HOST).iter().nth(1).is_some() {
        return Err(ProxyError::BadRequest("several Host headers"));
    }
    let host_str = match &host {
        Some(h) => h
            .to_str()
            .map_err(|_| ProxyError::BadRequest("Host is not visible ASCII"))?,
        // HTTP/1.0 may omit Host; it can still match a listener and route for every host.
        None if matches!(req.version(), Version::HTTP_09 | Version::HTTP_10) => "",
        None => return Err(ProxyError::BadRequest("missing Host")),
    };
    let uri = req.uri().clone();
    let lookup = state.table.lookup(
        ctx.port,
        &RequestInfo {
            host: host_str,
            path: uri.path(),
            query: uri.query(),
            method: req.method(),
            headers: req.headers(),
        },
    );
    let matched = match lookup {
        Lookup::NoListener => {
            outcome.grpc = grpc::is_grpc(req.headers());
            return Err(ProxyError::NoRoute);
        }
        Lookup::NoRoute { listener } => {
            if let Some(handles) = state.listeners.get(&listener.id) {
                outcome.handles = Cow::Borrowed(handles);
            }
            check_sni_listener(ctx, &listener.id)?;
            outcome.grpc = grpc::is_grpc(req.headers());
            return Err(ProxyError::NoRoute);
        }
        Lookup::Matched(m) => {
            if let Err(err) = check_sni_listener(ctx, &m.listener.id) {
                if let Some(handles) = state.listeners.get(&m.listener.id) {
                    outcome.handles = Cow::Borrowed(handles);
                }
                return Err(err);
            }
            m
        }
    };
    let route = state
        .routes
        .get(matched.route.index)
        .ok_or_else(|| ProxyError::Misconfigured("route missing from the routing state".into()))?;
    outcome.route = Some(&route.id);
    outcome.grpc = route.grpc;
    outcome.handles = match route.handles(&matched.listener.id) {
        Some(handles) => Cow::Borrowed(handles),
        // A route the config did not list under this listener: resolve the labels now (rare).
        None => Cow::Owned(
            ctx.shared
                .metrics
                .request_handles(&matched.listener.id, &route.id),
        ),
    };
    let filters = &route.filters;
    if let Some(reason) = &filters.failure {
        return Err(ProxyError::Misconfigured(reason.clone()));
    }

    // CORS answers preflights itself; other requests learn what to add to their response.
    let cors = match &filters.cors {
        None => None,
        Some(cors) => match cors.decide(req.method(), req.headers()) {
            CorsDecision::Preflight(mut resp) => {
                for modifier in &filters.response_headers {
                    modifier.apply(resp.headers_mut());
                }
                return Ok(resp);
            }
            CorsDecision::Forward(allow_origin) => {
                outcome.cors = Some((cors, allow_origin.clone()));
                Some((cors, allow_origin))
            }
        },
    };

    if let Some(redirect) = &filters.redirect {
        let normalized = normalize_host(host_str);
        let location = redirect
            .location(&RedirectInput {
                scheme: ctx.scheme,
                host: &normalized,
                listener_port: ctx.port,
                path: uri.path(),
                query: uri.query(),
                matched_prefix: matched.matched_prefix,
            })
            .ok_or_else(|| ProxyError::Misconfigured("redirect Location is not a valid header".into()))?;
        let mut resp = Response::new(ProxyBody::empty());
        *resp.status_mut() = redirect.status;
        resp.headers_mut().insert(header::LOCATION, location);
        if let Some((cors, allow_origin)) = outcome.cors.take() {
            cors.apply(allow_origin, resp.headers_mut());
        }
        for modifier in &filters.response_headers {
            modifier.apply(resp.headers_mut());
        }
        return Ok(resp);
    }

    let backend = match route.pick_backend() {
        Some(BackendState::Service(svc)) => svc,
        Some(BackendState::Invalid(reason)) => return Err(ProxyError::InvalidBackend(reason.clone())),
        None => return Err(ProxyError::Misconfigured("route has no backends".into())),
    };
    if let Some(reason) = &backend.filters.failure {
        return Err(ProxyError::Misconfigured(reason.clone()));
    }
    let protocol = backend.upstream.protocol;
    if backend.upstream.endpoints.is_empty() {
        return Err(ProxyError::NoEndpoints(backend.upstream.name.clone()));
    }

    // Only HTTP/1.1 upstreams can switch protocols; for h2c the upgrade headers are dropped.
    let upgrade = is_upgrade_request(req.version(), req.headers()) && protocol == UpstreamProtocol::Http1;
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    remove_hop_by_hop(req.headers_mut(), upgrade);
    add_forwarded(req.headers_mut(), &ctx.remote_ip, ctx.scheme, host.clone());
    // backendRef filters apply after the rule's.
    for modifier in filters
        .request_headers
        .iter()
        .chain(&backend.filters.request_headers)
    {
        modifier.apply(req.headers_mut());
    }
    let (upstream_host, path) = rewrite(
        filters.rewrite.as_ref(),
        backend.filters.rewrite.as_ref(),
        &uri,
        matched.matched_prefix,
        host,
    )?;
    // The route's timeout covers the whole exchange (retries included) and is measured from
    // the request's arrival.
    macro_rules! within_request_timeout {
        ($send:expr) => {
            match route.request_timeout {
                Some(limit) => match tokio::time::timeout_at((start + limit).into(), $send).await {
                    Ok(result) => result?,
                    Err(_) => return Err(ProxyError::Timeout(limit)),
                },
                None => $send.await?,
            }
        };
    }
    let (mut resp, addr) = if exchange::is_plain(route, backend) {
        forward::prepare(&mut req, &backend.upstream, &upstream_host, path)?;
        let req = req.map(UpstreamBody::Stream);
        within_request_timeout!(forward::send(&backend.upstream, req, route.backend_timeout))
    } else {
        let out = Outgoing {
            req,
            host: upstream_host,
            path,
            upgrade,
        };
        // Boxed so that plain requests do not carry the mirror and retry state.
        within_request_timeout!(Box::pin(exchange::exchange(ctx, route, backend, out)))
    };
    outcome.upstream = Some(addr);

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return Err(ProxyError::UnexpectedUpgrade(addr));
        };
        let upstream_upgrade = hyper::upgrade::on(&mut resp);
        let stop = ctx.shared.hard_stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = forward::tunnel(client_upgrade, upstream_upgrade) => {}
                _ = stop.cancelled() => {}
            }
        });
        remove_hop_by_hop(resp.headers_mut(), true);
    } else {
        remove_hop_by_hop(resp.headers_mut(), false);
    }
    if let Some((cors, allow_origin)) = cors {
        outcome.cors = None;
        cors.apply(allow_origin, resp.headers_mut());
    }
    for modifier in filters
        .response_headers
        .iter()
        .chain(&backend.filters.response_headers)
    {
        modifier.apply(resp.headers_mut());
    }
    Ok(resp.map(ProxyBody::Upstream))
}

/// On a TLS connection, the request must be for the listener whose certificate the handshake
/// served (the SNI's); otherwise, e.g. an HTTP/2 connection reused for a host another HTTPS
/// listener serves, the client is told to connect again (421, answered as HTTP even to gRPC
/// clients, which treat it as a connection-level problem).
fn check_sni_listener(ctx: &ConnCtx, host_listener: &str) -> Result<(), ProxyError> {
    match &ctx.tls_listener {
        Some(sni_listener) if **sni_listener != *host_listener => Err(ProxyError::Misdirected),
        _ => Ok(()),
    }
}

/// The host and path the backend gets (`None`: the request's own path and query). A backendRef
/// URLRewrite overrides the rule's, field by field (hostname and path separately).
fn rewrite(
    rule: Option<&CompiledRewrite>,
    backend: Option<&CompiledRewrite>,
    uri: &Uri,
    matched_prefix: Option<&str>,
    host: Option<HeaderValue>,
) -> Result<(HeaderValue, Option<PathAndQuery>), ProxyError> {
    if rule.is_none() && backend.is_none() {
        return Ok((host.unwrap_or_else(localhost), None));
    }
    let hostname = backend
        .and_then(|r| r.hostname.clone())
        .or_else(|| rule.and_then(|r| r.hostname.clone()));
    let path = backend
        .filter(|r| r.path.is_some())
        .or(rule)
        .and_then(|r| r.rewrite_path(uri.path(), matched_prefix));
    let host = hostname.or(host).unwrap_or_else(localhost);
    let path = match path {
        None => None,
        Some(path) => {
            let pq = match uri.query() {
                Some(q) => format!("{path}?{q}"),
                None => path,
            };
            Some(
                PathAndQuery::try_from(pq)
                    .map_err(|_| ProxyError::Misconfigured("rewritten path is not a valid URI".into()))?,
            )
        }
    };
    Ok((host, path))
}

/// The upstream host of an HTTP/1.0 request without `Host`: the upstream request still needs a
/// host (and h2c an authority).
fn localhost() -> HeaderValue {
    HeaderValue::from_static("localhost")
}

fn error_response(err: &ProxyError) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::from_static(err.body()));
    *resp.status_mut() = err.status();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Access-log rendering of the upstream address: `-` when none was reached.
struct UpstreamField(Option<SocketAddr>);

impl std::fmt::Display for UpstreamField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(addr) => write!(f, "{addr}"),
            None => f.write_str("-"),
        }
    }
}

/// Access-log rendering of the response size: `-` when not known up front (streamed bodies).
struct BytesField(Option<u64>);

impl std::fmt::Display for BytesField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("-"),
        }
    }
}
