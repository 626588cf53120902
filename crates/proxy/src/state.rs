//! The routing state requests read: the compiled [`Table`] plus everything per route that can be
//! prepared off the request path (parsed filters, mirror targets, retry policy, weighted backend
//! choice, endpoint pools, backend TLS configs, metric handles), and the TLS store new
//! connections are handshaken with. Built whole by `apply`, published with one atomic store, so a
//! handshake and the requests after it never see a certificate from one config and routes from
//! another.

use crate::filters::{BuildCtx, CompiledFilters, Level};
use crate::metrics::{RequestHandles, RetryCounter};
use crate::pool::EndpointPool;
use crate::retry::RetryPolicy;
use fairlead_route::{
    BackendTarget, CompiledRoute, CompiledTarget, Config, Route, RouteKind, Table, UpstreamProtocol,
    UpstreamTls,
};
use fairlead_tls::TlsStore;
use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One published routing state.
pub(crate) struct State {
    pub(crate) table: Table,
    /// Indexed by `CompiledRoute::index`.
    pub(crate) routes: Vec<RouteState>,
    /// Handles for requests that reached a listener but matched no route (route label "").
    pub(crate) listeners: HashMap<String, RequestHandles>,
    /// Handles for requests no listener accepted (listener and route labels "").
    pub(crate) unmatched: RequestHandles,
    /// Certificates and server configs of the HTTPS ports.
    pub(crate) tls: TlsStore,
}

/// Per-route data prepared when the state is built.
pub(crate) struct RouteState {
    pub(crate) id: Arc<str>,
    /// A GRPCRoute rule: errors the proxy answers itself are gRPC statuses.
    pub(crate) grpc: bool,
    pub(crate) filters: CompiledFilters,
    pub(crate) backends: Vec<BackendState>,
    /// Running sums of the backend weights, for a binary-search weighted pick.
    cumulative: Vec<u32>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) backend_timeout: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
    /// Metric handles per listener the route is attached to (usually one).
    handles: Vec<(String, RequestHandles)>,
}

pub(crate) enum BackendState {
    Service(ServiceState),
    Invalid(Arc<str>),
}

/// A resolved Service backend of a rule, with its backendRef-level filters.
pub(crate) struct ServiceState {
    pub(crate) upstream: Upstream,
    /// Applied after the rule's filters when this backend is picked. Boxed: most backends have
    /// none, and the backend list stays compact.
    pub(crate) filters: Box<CompiledFilters>,
    pub(crate) retries: RetryCounter,
}

/// A Service's endpoints as pools, in endpoint order, with a round-robin cursor: what requests
/// and mirror copies are sent to.
pub(crate) struct Upstream {
    pub(crate) name: Arc<str>,
    pub(crate) protocol: UpstreamProtocol,
    /// Connections are TLS (BackendTLSPolicy); HTTP/2 requests then carry `:scheme https`.
    pub(crate) tls: bool,
    pub(crate) endpoints: Vec<Arc<EndpointPool>>,
    /// Round-robin cursor over `endpoints`.
    cursor: AtomicUsize,
    pub(crate) connect_failures: Counter,
}

impl Upstream {
    pub(crate) fn new(
        name: &str,
        protocol: UpstreamProtocol,
        endpoints: &[SocketAddr],
        tls: Option<&UpstreamTls>,
        ctx: &BuildCtx<'_>,
    ) -> Upstream {
        let client = tls.map(|tls| ctx.upstream_tls.client(tls, protocol));
        Upstream {
            name: name.into(),
            protocol,
            tls: client.is_some(),
            endpoints: endpoints
                .iter()
                .map(|addr| ctx.pools.get(*addr, protocol, client.as_ref()))
                .collect(),
            // Start each new state at a random endpoint so frequent table swaps do not keep
            // sending the first request after each swap to the same endpoint.
            cursor: AtomicUsize::new(fastrand::usize(..)),
            connect_failures: ctx.metrics.connect_failures(name),
        }
    }

    /// Starting index for the next request's round-robin walk.
    pub(crate) fn next_start(&self) -> usize {
        self.cursor.fetch_add(1, Ordering::Relaxed)
    }
}

impl State {
    pub(crate) fn build(table: Table, config: &Config, tls: TlsStore, ctx: &BuildCtx<'_>) -> State {
        // Which listeners each route id is attached to, for the listener metric label, and the
        // config route behind each id (the compiled table does not carry backend TLS).
        let mut route_listeners: HashMap<&str, (Vec<&str>, &Route)> = HashMap::new();
        for listener in &config.listeners {
            for route in &listener.routes {
                let (ids, _) = route_listeners
                    .entry(route.id.as_str())
                    .or_insert_with(|| (Vec::new(), route));
                if !ids.contains(&listener.id.as_str()) {
                    ids.push(listener.id.as_str());
                }
            }
        }
        let routes = table
            .routes()
            .iter()
            .map(|route| {
                let (listener_ids, source) = match route_listeners.get(route.id.as_str()) {
                    Some((ids, source)) => (ids.as_slice(), Some(*source)),
                    None => (&[][..], None),
                };
                RouteState::build(route, source, listener_ids, ctx)
            })
            .collect();
        let listeners = config
            .listeners
            .iter()
            .map(|l| (l.id.clone(), ctx.metrics.request_handles(&l.id, "")))
            .collect();
        State {
            table,
            routes,
            listeners,
            unmatched: ctx.metrics.request_handles("", ""),
            tls,
        }
    }
}

/// The TLS settings of backend `index` of the config route the compiled one came from (the
/// table keeps the config's backend order). The name check guards against a mismatch.
fn backend_tls<'c>(source: Option<&'c Route>, index: usize, name: &str) -> Option<&'c UpstreamTls> {
    match &source?.backends.get(index)?.target {
        BackendTarget::Service(svc) if svc.name == name => svc.tls.as_ref(),
        _ => None,
    }
}

impl RouteState {
    fn build(
        route: &CompiledRoute,
        source: Option<&Route>,
        listener_ids: &[&str],
        ctx: &BuildCtx<'_>,
    ) -> RouteState {
        let mut backends = Vec::new();
        let mut cumulative = Vec::new();
        let mut total: u32 = 0;
        for (index, backend) in route.backends.iter().enumerate() {
            total = total.saturating_add(backend.weight);
            cumulative.push(total);
            backends.push(match &backend.target {
                CompiledTarget::Service(svc) => BackendState::Service(ServiceState {
                    upstream: Upstream::new(
                        &svc.name,
                        svc.protocol,
                        &svc.endpoints,
                        backend_tls(source, index, &svc.name),
                        ctx,
                    ),
                    filters: Box::new(CompiledFilters::compile(&backend.filters, Level::Backend, ctx)),
                    retries: ctx.metrics.retries(&svc.name),
                }),
                CompiledTarget::Invalid { reason } => BackendState::Invalid(reason.as_str().into()),
            });
        }
        let ms = |v: Option<u64>| v.filter(|&ms| ms > 0).map(Duration::from_millis);
        RouteState {
            id: route.id.as_str().into(),
            grpc: route.kind == RouteKind::GrpcRoute,
            filters: CompiledFilters::compile(&route.filters, Level::Rule, ctx),
            backends,
            cumulative,
            request_timeout: ms(route.timeouts.request_ms),
            backend_timeout: ms(route.timeouts.backend_request_ms),
            retry: route.retry.as_ref().and_then(RetryPolicy::compile),
            handles: listener_ids
                .iter()
                .map(|l| ((*l).to_owned(), ctx.metrics.request_handles(l, &route.id)))
                .collect(),
        }
    }

    /// Picks a backend by weight; `None` when the route has no backend with a positive weight.
    pub(crate) fn pick_backend(&self) -> Option<&BackendState> {
        let total = *self.cumulative.last()?;
        if total == 0 {
            return None;
        }
        let r = fastrand::u32(0..total);
        // First backend whose running sum exceeds r; zero-weight backends never qualify.
        let index = self.cumulative.partition_point(|&sum| sum <= r);
        self.backends.get(index)
    }

    /// Metric handles for this route on `listener`, if resolved when the state was built.
    pub(crate) fn handles(&self, listener: &str) -> Option<&RequestHandles> {
        self.handles.iter().find(|(id, _)| id == listener).map(|(_, h)| h)
    }
}
