//! The compiled routing table and the types the proxy sees per request.
//!
//! A [`Table`] is built by [`Table::compile`] (see `compile.rs`) off the request path, published
//! with one atomic swap and read lock-free. [`Table::lookup`] picks, for a port and a request,
//! the listener (Gateway API listener isolation) and then the route by Gateway API precedence.

use crate::backends::Backends;
use crate::config::{Config, Filter, ListenerProtocol, Retry, RouteKind, Timeouts};
use crate::host::{normalize_host, FastMap, HostMap};
use crate::matcher::{CompiledMatch, CompiledPath};
use crate::path::PathTier;
use std::sync::Arc;

/// A route that could not be compiled (e.g. an invalid regex). It is left out of the table; the
/// rest of the table is served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route {route_id} on listener {listener_id}: {reason}")]
pub struct CompileError {
    pub listener_id: String,
    pub route_id: String,
    pub reason: String,
}

/// What the proxy needs to know about a request to route it.
#[derive(Debug)]
pub struct RequestInfo<'a> {
    /// Host as received (Host header or :authority), possibly with port / trailing dot / upper case.
    pub host: &'a str,
    pub path: &'a str,
    /// Raw query string without the `?`.
    pub query: Option<&'a str>,
    pub method: &'a http::Method,
    pub headers: &'a http::HeaderMap,
}

/// The compiled, immutable routing table. Built off the request path, published with one atomic
/// swap, read lock-free.
#[derive(Debug)]
pub struct Table {
    pub(crate) version: u64,
    pub(crate) ports: Vec<(u16, ListenerProtocol)>,
    /// Per port: listener hostname → index into `groups`.
    pub(crate) port_hosts: FastMap<u16, HostMap<usize>>,
    pub(crate) groups: Vec<ListenerGroup>,
    pub(crate) listeners: Vec<CompiledListener>,
    pub(crate) routes: Vec<Arc<CompiledRoute>>,
    pub(crate) matches: Vec<CompiledMatch>,
}

/// The listeners of one port that share one hostname. Normally a single listener; when several
/// (say an Ingress listener and a Gateway listener, both without hostname, on port 80) share a
/// hostname, their routes compete in one precedence order rather than one silently shadowing
/// the other.
#[derive(Debug)]
pub(crate) struct ListenerGroup {
    /// The first of these listeners in config order, reported by `Lookup::NoRoute`.
    pub(crate) listener: usize,
    /// Route hostname → candidates.
    pub(crate) routes: HostMap<PathTier>,
}

/// Result of routing one request.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// No listener on this port accepts the request host.
    NoListener,
    /// A listener accepted the host but no route matched → 404.
    NoRoute {
        listener: &'a CompiledListener,
    },
    Matched(Match<'a>),
}

#[derive(Debug)]
pub struct Match<'a> {
    pub listener: &'a CompiledListener,
    pub route: &'a CompiledRoute,
    /// For PathPrefix matches: the prefix that matched (as configured, without trailing slash),
    /// needed by URLRewrite / RequestRedirect ReplacePrefixMatch. Prefix `/` gives `""`.
    pub matched_prefix: Option<&'a str>,
}

#[derive(Debug)]
pub struct CompiledListener {
    pub id: String,
    pub port: u16,
    pub protocol: ListenerProtocol,
}

#[derive(Debug)]
pub struct CompiledRoute {
    /// Dense index in `0..table.route_count()`, for per-route state such as metric handles.
    pub index: usize,
    pub id: String,
    pub kind: RouteKind,
    pub filters: Vec<Filter>,
    pub timeouts: Timeouts,
    pub retry: Option<Retry>,
    pub backends: Backends,
}

impl Table {
    /// Compiles a config. Routes that cannot be compiled are left out and returned as errors.
    pub fn compile(config: &Config) -> (Table, Vec<CompileError>) {
        crate::compile::compile(config)
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Every (port, protocol) the table has listeners on, sorted, deduplicated.
    pub fn ports(&self) -> Vec<(u16, ListenerProtocol)> {
        self.ports.clone()
    }

    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// All routes, indexed by `CompiledRoute::index`.
    pub fn routes(&self) -> &[Arc<CompiledRoute>] {
        &self.routes
    }

    /// Routes one request arriving on `port`. No allocation unless the host needs lowercasing.
    pub fn lookup<'a>(&'a self, port: u16, req: &RequestInfo<'_>) -> Lookup<'a> {
        let Some(hosts) = self.port_hosts.get(&port) else {
            return Lookup::NoListener;
        };
        let host = normalize_host(req.host);
        // Listener isolation: only the most specific listener hostname is ever considered.
        let Some(group) = hosts.find_map(&host, |&g, _| self.groups.get(g)) else {
            return Lookup::NoListener;
        };
        let Some(listener) = self.listeners.get(group.listener) else {
            return Lookup::NoListener;
        };
        let found = group.routes.find_map(&host, |tier, multi_label| {
            let m = tier.find(&self.matches, req, multi_label)?;
            Some(Match {
                listener: self.listeners.get(m.listener)?,
                route: self.routes.get(m.route)?,
                matched_prefix: match &m.path {
                    CompiledPath::Prefix(p) => Some(p),
                    CompiledPath::Exact(_) | CompiledPath::Regex(_) | CompiledPath::Any => None,
                },
            })
        });
        match found {
            Some(m) => Lookup::Matched(m),
            None => Lookup::NoRoute { listener },
        }
    }
}
