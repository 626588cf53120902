//! fairlead-proxy: the L7 data plane.
//!
//! A [`Proxy`] listens on every port of the routing table (HTTP/1.1 and h2c on the same port;
//! on HTTPS ports TLS terminated with the certificate the SNI selects, then HTTP/2 or HTTP/1.1 as
//! ALPN chose), routes each request with [`fairlead_route::Table::lookup`] against the state published by the
//! last [`Proxy::apply`], applies the rule's filters (header modifiers, redirect, rewrite, CORS,
//! mirrors), picks a backend by weight and applies its backendRef filters, picks an endpoint
//! round-robin, and forwards over pooled upstream connections (HTTP/1.1 or HTTP/2, cleartext or
//! TLS as the backend's BackendTLSPolicy says), failing over to
//! the next endpoint when connecting fails and retrying as the rule's retry policy says.
//! Problems become short plain-text responses (400, 404, 421, 500, 502, 503, 504) — or gRPC
//! trailers-only statuses on GRPCRoute rules — never panics.
//!
//! Hot-path rules: one atomic load of the routing state per request; everything that can be
//! prepared when a table is published (parsed filters, weighted choice, endpoint pools, metric
//! handles) is prepared then.

mod body;
mod cors;
mod error;
mod exchange;
mod filters;
mod forward;
mod grpc;
mod handler;
mod headers;
mod listener;
mod metrics;
mod mirror;
mod modifier;
mod pool;
mod proxy;
mod retry;
mod state;
mod tee;
mod tls;
mod upstream_tls;
mod workers;

pub use fairlead_tls::{TlsProblem, TlsVersion};
pub use proxy::Proxy;

use std::net::IpAddr;
use std::time::Duration;

/// How the proxy listens and talks to backends.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Address every listener binds on (ports come from the routing table).
    pub bind_address: IpAddr,
    /// Longest wait for a TCP connection to a backend endpoint before trying the next one.
    pub connect_timeout: Duration,
    /// Idle upstream connections older than this are closed.
    pub upstream_idle_timeout: Duration,
    /// Emit one `access` tracing event per request.
    pub access_log: bool,
    /// Worker threads, each with its own single-threaded runtime and accept socket per port;
    /// 0 means one per CPU.
    pub workers: usize,
    /// Lowest TLS version HTTPS listeners accept (`--tls-min-version`).
    pub tls_min_version: TlsVersion,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            bind_address: IpAddr::from([0, 0, 0, 0]),
            connect_timeout: Duration::from_secs(5),
            upstream_idle_timeout: Duration::from_secs(90),
            access_log: true,
            workers: 0,
            tls_min_version: TlsVersion::Tls12,
        }
    }
}

/// What [`Proxy::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Version of the table now in use.
    pub version: u64,
    /// Routes left out of the table; the rest is served.
    pub compile_errors: Vec<fairlead_route::CompileError>,
    /// Every port being served after this apply, sorted.
    pub bound: Vec<u16>,
    /// Ports of the table that are not served, with a short reason (e.g. "address in use").
    pub bind_errors: Vec<(u16, String)>,
    /// Certificates that could not be used (missing, invalid or expired material); those whose
    /// id had a good certificate before keep serving it (`kept_previous`).
    pub tls_problems: Vec<TlsProblem>,
}
