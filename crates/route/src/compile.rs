//! Config → [`Table`]: validates and compiles every route, indexes the candidates by listener
//! hostname, route hostname and path, and sorts each candidate list by precedence once.

use crate::backends::Backends;
use crate::config::{Config, Listener, ListenerProtocol, PathMatch, Route, RouteKind, RouteMatch};
use crate::host::{FastMap, HostMap, HostPattern};
use crate::matcher::{normalize_prefix, CompiledMatch, CompiledPath, Conditions, RouteError};
use crate::path::PathTierBuilder;
use crate::precedence::{OrderKey, PathRank, Precedence};
use crate::table::{CompileError, CompiledListener, CompiledRoute, ListenerGroup, Table};
use std::cmp::Reverse;
use std::collections::btree_map::{BTreeMap, Entry};
use std::sync::Arc;

pub(crate) fn compile(config: &Config) -> (Table, Vec<CompileError>) {
    let mut builder = Builder::default();
    for listener in &config.listeners {
        builder.add_listener(listener);
    }
    builder.finish(config.version)
}

#[derive(Default)]
struct Builder<'c> {
    errors: Vec<CompileError>,
    /// Protocol of the first listener on each port.
    port_protocols: BTreeMap<u16, (ListenerProtocol, &'c str)>,
    port_hosts: BTreeMap<u16, HostMap<usize>>,
    groups: Vec<GroupBuilder<'c>>,
    listeners: Vec<CompiledListener>,
    routes: Vec<Arc<CompiledRoute>>,
    matches: Vec<CompiledMatch>,
}

struct GroupBuilder<'c> {
    listener: usize,
    routes: HostMap<PathTierBuilder<'c>>,
}

impl<'c> Builder<'c> {
    fn add_listener(&mut self, listener: &'c Listener) {
        match self.port_protocols.entry(listener.port) {
            Entry::Occupied(first) => {
                let (protocol, first_id) = *first.get();
                if protocol != listener.protocol {
                    // One socket speaks one protocol: the first listener defines it.
                    self.errors.push(CompileError {
                        listener_id: listener.id.clone(),
                        route_id: String::new(),
                        reason: format!(
                            "port {} already serves {protocol:?} for listener {first_id}; \
                             this {:?} listener is ignored",
                            listener.port, listener.protocol
                        ),
                    });
                    return;
                }
            }
            Entry::Vacant(slot) => {
                slot.insert((listener.protocol, &listener.id));
            }
        }

        let listener_index = self.listeners.len();
        self.listeners.push(CompiledListener {
            id: listener.id.clone(),
            port: listener.port,
            protocol: listener.protocol,
        });

        let hosts = self.port_hosts.entry(listener.port).or_default();
        let pattern = HostPattern::parse(listener.hostname.as_deref());
        let group = match hosts.get(&pattern) {
            Some(&group) => group,
            None => {
                let group = self.groups.len();
                self.groups.push(GroupBuilder {
                    listener: listener_index,
                    routes: HostMap::default(),
                });
                hosts.insert(pattern, group);
                group
            }
        };

        for route in &listener.routes {
            if let Err(err) = self.add_route(listener_index, group, route) {
                self.errors.push(CompileError {
                    listener_id: listener.id.clone(),
                    route_id: route.id.clone(),
                    reason: err.to_string(),
                });
            }
        }
    }

    /// Compiles every match of the route first, so a bad one leaves nothing behind.
    fn add_route(&mut self, listener: usize, group: usize, route: &'c Route) -> Result<(), RouteError> {
        let default_match;
        let route_matches: &[RouteMatch] = if route.matches.is_empty() {
            default_match = [RouteMatch::default()];
            &default_match
        } else {
            &route.matches
        };
        let compiled = route_matches
            .iter()
            .map(|m| {
                let catch_all = matches!(&m.path, PathMatch::Prefix(p) if normalize_prefix(p).is_empty());
                let (rank, path) = if route.kind == RouteKind::GrpcRoute && catch_all {
                    (PathRank::Any, CompiledPath::Any)
                } else {
                    (PathRank::of(&m.path), CompiledPath::compile(&m.path)?)
                };
                Ok((rank, path, Conditions::compile(m)?))
            })
            .collect::<Result<Vec<_>, RouteError>>()?;

        // `group` always exists: the listener created it just before adding its routes.
        let Builder {
            groups,
            routes,
            matches,
            ..
        } = self;
        let Some(tiers) = groups.get_mut(group).map(|g| &mut g.routes) else {
            return Ok(());
        };
        let route_index = routes.len();
        routes.push(Arc::new(CompiledRoute {
            index: route_index,
            id: route.id.clone(),
            kind: route.kind,
            filters: route.filters.clone(),
            timeouts: route.timeouts.clone(),
            retry: route.retry.clone(),
            backends: Backends::compile(&route.backends),
        }));

        let mut hostnames: Vec<HostPattern> = Vec::with_capacity(route.hostnames.len().max(1));
        for pattern in route.hostnames.iter().map(|h| HostPattern::parse(Some(h))) {
            if !hostnames.contains(&pattern) {
                hostnames.push(pattern);
            }
        }
        if hostnames.is_empty() {
            hostnames.push(HostPattern::Any);
        }

        for (match_index, (path_rank, path, conditions)) in compiled.into_iter().enumerate() {
            let seq = matches.len();
            for pattern in &hostnames {
                let precedence = Precedence {
                    host: pattern.rank(),
                    path: path_rank,
                    method: Reverse(conditions.has_method()),
                    headers: Reverse(conditions.header_count()),
                    query: Reverse(conditions.query_count()),
                    order: OrderKey::of(&route.order),
                    match_index,
                    seq,
                };
                tiers.get_or_default(pattern).add(&path, precedence, seq);
            }
            matches.push(CompiledMatch {
                route: route_index,
                listener,
                one_label: route.kind == RouteKind::Ingress,
                path,
                conditions,
            });
        }
        Ok(())
    }

    fn finish(self, version: u64) -> (Table, Vec<CompileError>) {
        let ports = self
            .port_protocols
            .iter()
            .map(|(&port, &(protocol, _))| (port, protocol))
            .collect();
        let port_hosts: FastMap<u16, HostMap<usize>> = self.port_hosts.into_iter().collect();
        let groups = self
            .groups
            .into_iter()
            .map(|g| ListenerGroup {
                listener: g.listener,
                routes: g.routes.map(PathTierBuilder::finish),
            })
            .collect();
        let table = Table {
            version,
            ports,
            port_hosts,
            groups,
            listeners: self.listeners,
            routes: self.routes,
            matches: self.matches,
        };
        (table, self.errors)
    }
}
