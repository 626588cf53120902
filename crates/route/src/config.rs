//! The routing config IR: what the proxy needs to route, and nothing Kubernetes-specific.
//!
//! It is produced by translation (a pure function of Kubernetes objects), dumped by the admin
//! `/routes` endpoint, and later served by the route server and accepted by `PUT /config`. It is
//! therefore plain serde data with stable ordering: two translations of the same objects give
//! byte-identical JSON.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// A complete, versioned routing config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Config {
    /// Monotonically increasing version, set by whoever publishes the config (translation
    /// leaves it at 0; the source stamps it).
    #[serde(default)]
    pub version: u64,
    /// Listeners, sorted by (port, id).
    pub listeners: Vec<Listener>,
}

/// Application protocol a listener speaks to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ListenerProtocol {
    /// Cleartext HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on the same port.
    Http,
    /// TLS-terminated HTTP/1.1 and HTTP/2 (chosen by ALPN); certificates in `Listener::tls`.
    Https,
}

/// One logical listener. Several listeners may share a port; a request is matched only against
/// the routes of the most specific listener whose hostname matches the request host
/// (Gateway API listener isolation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Listener {
    /// Stable id, e.g. `gateway/default/web/http` or `ingress/http`.
    pub id: String,
    pub port: u16,
    pub protocol: ListenerProtocol,
    /// Listener hostname (exact, or `*.` wildcard covering one or more labels). `None` matches
    /// every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Routes attached to this listener, in a stable order (by id). Precedence is computed by
    /// the compiler, not by this order.
    pub routes: Vec<Route>,
    /// Termination settings; set exactly when `protocol` is `Https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tls::ListenerTls>,
}

/// Which API a route came from. It changes one matching rule: an Ingress `*.` wildcard host
/// covers exactly one DNS label, a Gateway API wildcard one or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RouteKind {
    HttpRoute,
    /// A GRPCRoute rule: matched like an HTTPRoute (service and method become the path), but
    /// errors the proxy answers itself are gRPC statuses (`UNAVAILABLE` for an invalid backend).
    GrpcRoute,
    Ingress,
}

/// One routing rule: an HTTPRoute rule (as attached to one listener), or one Ingress path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Route {
    /// Stable id for logs and metrics, e.g. `httproute/default/app/rule/0` or
    /// `ingress/default/web/host/example.com/path/1`.
    pub id: String,
    pub kind: RouteKind,
    /// Hostnames this rule answers for, already intersected with the listener hostname,
    /// lowercased. Empty means "every host the listener accepts".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// Alternatives (OR). Empty means a single match of PathPrefix `/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<RouteMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// Backends to split traffic between by weight. Empty means the rule answers 500
    /// (Gateway API: a rule with no valid backends).
    #[serde(default)]
    pub backends: Vec<Backend>,
    #[serde(default, skip_serializing_if = "Timeouts::is_empty")]
    pub timeouts: Timeouts,
    /// Gateway API `rules[].retry`; `None` means no retry on response codes (connect failures
    /// still fail over to the next endpoint, since nothing was sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Tie-breakers from the Gateway API precedence rules, after every match criterion.
    pub order: RouteOrder,
}

/// Gateway API tie-breakers: oldest creationTimestamp, then `namespace/name`
/// alphabetically, then rule index. (Match index is the position inside `matches`.)
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RouteOrder {
    /// creationTimestamp in seconds since the Unix epoch; objects without one sort last.
    pub created: Option<i64>,
    pub namespace: String,
    pub name: String,
    pub rule: u32,
}

/// All conditions of one match must hold (AND).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RouteMatch {
    pub path: PathMatch,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<QueryMatch>,
    /// HTTP method, uppercase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

impl Default for RouteMatch {
    fn default() -> Self {
        RouteMatch {
            path: PathMatch::Prefix("/".into()),
            headers: Vec::new(),
            query: Vec::new(),
            method: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum PathMatch {
    /// The whole path equals this value (case-sensitive).
    Exact(String),
    /// Element-wise prefix: `/foo` matches `/foo`, `/foo/`, `/foo/bar`, not `/foobar`. A
    /// trailing slash on the prefix is ignored.
    Prefix(String),
    /// A regular expression that must match the whole path.
    RegularExpression(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum StringMatch {
    Exact(String),
    /// Must match the whole value.
    RegularExpression(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HeaderMatch {
    /// Header name, compared case-insensitively (stored lowercase).
    pub name: String,
    pub value: StringMatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueryMatch {
    /// Query parameter name, compared exactly (case-sensitive, as Gateway API says).
    pub name: String,
    pub value: StringMatch,
}

/// Per-rule timeouts in milliseconds (Gateway API `rules[].timeouts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timeouts {
    /// Whole request, from the proxy receiving it to the response headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_ms: Option<u64>,
    /// One attempt to a backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_request_ms: Option<u64>,
}

impl Timeouts {
    pub fn is_empty(&self) -> bool {
        self.request_ms.is_none() && self.backend_request_ms.is_none()
    }
}

/// Gateway API `rules[].retry`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Retry {
    /// Response status codes (500-599) that make the proxy retry. Empty means none: only
    /// backend request timeouts are retried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<u16>,
    /// Most retries after the first attempt.
    pub attempts: u32,
    /// Minimum wait before a retry; jitter and exponential growth only ever lengthen it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_ms: Option<u64>,
}

/// Request and response filters. The proxy must fail closed (answer 500) on a variant it does
/// not implement, never ignore it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Filter {
    RequestHeaderModifier(HeaderModifier),
    ResponseHeaderModifier(HeaderModifier),
    RequestRedirect(Redirect),
    UrlRewrite(UrlRewrite),
    RequestMirror(Mirror),
    Cors(Cors),
    /// A filter translation could not express (e.g. an unknown ExtensionRef): the rule answers
    /// 500 and the route's status says why.
    Unsupported {
        name: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HeaderModifier {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum PathModifier {
    ReplaceFullPath(String),
    ReplacePrefixMatch(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Redirect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathModifier>,
    /// 301, 302, 303, 307 or 308; default 302.
    pub status_code: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UrlRewrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathModifier>,
}

/// Gateway API `RequestMirror`: a copy of each selected request goes to one endpoint of
/// `backend`, fire-and-forget. A mirror whose backendRef cannot be resolved is left out by
/// translation (and reported in ResolvedRefs), never turned into this filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mirror {
    pub backend: ServiceBackend,
    /// Share of requests mirrored, `numerator / denominator` (100/100 mirrors every request;
    /// `percent: P` is P/100). `denominator` is never 0.
    pub numerator: u32,
    pub denominator: u32,
}

/// Gateway API `CORS` filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cors {
    /// Origins as written: `*`, `scheme://host[:port]`, or with a `*.` wildcard host label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_origins: Vec<String>,
    /// Methods, or `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_methods: Vec<String>,
    /// Header names, or `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    /// `Access-Control-Max-Age` in seconds for preflight answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
    #[serde(default)]
    pub allow_credentials: bool,
}

/// One weighted backend of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Backend {
    /// Relative weight; 0 is never chosen.
    pub weight: u32,
    pub target: BackendTarget,
    /// backendRef-level filters, applied after the rule's filters when this backend is picked
    /// (Gateway API allows header modifiers, mirrors, ... here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum BackendTarget {
    /// A resolved Service port.
    Service(ServiceBackend),
    /// A backendRef that could not be resolved (missing Service, unsupported kind, cross-namespace
    /// without a ReferenceGrant, ...). Its share of the traffic answers 500.
    Invalid { reason: String },
}

/// Protocol the proxy speaks to a backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UpstreamProtocol {
    #[default]
    Http1,
    /// HTTP/2 cleartext with prior knowledge (Service port `appProtocol: kubernetes.io/h2c`).
    H2c,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceBackend {
    /// `namespace/name:port`, for logs and metrics.
    pub name: String,
    pub protocol: UpstreamProtocol,
    /// Ready endpoints, sorted. Empty means the backend answers 503.
    pub endpoints: Vec<SocketAddr>,
    /// Connect over TLS (BackendTLSPolicy); `protocol` then says what runs inside (`H2c` means
    /// HTTP/2 negotiated by ALPN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tls::UpstreamTls>,
}
