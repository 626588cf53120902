//! Listener conflicts: inside one Gateway (the spec's "distinct listeners" rules), and between
//! Gateways of our class that share this process's ports.
//!
//! Inside a Gateway, listeners on one port must agree on the protocol (else every one of them is
//! Conflicted with ProtocolConflict), and listeners with the same port and protocol must differ
//! in hostname (else HostnameConflict; for protocols without hostnames, the port alone must
//! differ). None of a conflicted set is served: the spec forbids picking a winner.
//!
//! Across Gateways, every Gateway of our class is served by this one process, so a port is one
//! socket for all of them. Listeners of different Gateways with the same protocol on one port
//! are merged: the route table puts them into one precedence order, by listener hostname and
//! then route precedence. When the protocols differ the socket cannot speak both, so the port
//! belongs to the oldest accepted Gateway (creationTimestamp, then namespace/name) holding a
//! listener on it, and the other Gateways' listeners there are Conflicted with ProtocolConflict.
//! A listener whose protocol fairlead does not serve (TCP, UDP, TLS) still holds its port, as
//! it does inside a Gateway, so that supporting the protocol later does not move ports around.
//! The Ingress ports (`--http-port`, `--https-port`, when an Ingress of ours uses them) are held
//! before any Gateway: a Gateway listener there with the same protocol is merged with the
//! Ingress rules, one with another protocol is Conflicted.
//!
//! HTTPS listeners of one Gateway on one port whose hostnames overlap (one covers the other,
//! or one has none) get OverlappingTLSConfig=True, as the spec requires: a client may reuse a
//! connection made for one of them for the other's hosts.

use super::listener::ListenerModel;
use super::Gateways;
use crate::conditions::reason;
use crate::conditions::reason_ext::PROTOCOL_CONFLICT;
use crate::{hostnames, meta};
use std::collections::{BTreeMap, BTreeSet};

/// Protocols whose listeners are told apart by hostname as well as by port.
const HOSTNAME_PROTOCOLS: [&str; 3] = ["HTTP", "HTTPS", "TLS"];

/// Marks the listeners of one Gateway that are not distinct.
pub(super) fn within_gateway(listeners: &mut [ListenerModel<'_>]) {
    let mut by_port: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, l) in listeners.iter().enumerate() {
        if let Some(port) = l.port {
            by_port.entry(port).or_default().push(i);
        }
    }
    for (port, members) in by_port.into_iter().filter(|(_, m)| m.len() > 1) {
        let protocols: BTreeSet<&str> = members
            .iter()
            .filter_map(|i| listeners.get(*i))
            .map(ListenerModel::protocol)
            .collect();
        if protocols.len() > 1 {
            let message = format!(
                "listeners {} share port {port} with different protocols ({})",
                names(listeners, &members),
                protocols.into_iter().collect::<Vec<_>>().join(", ")
            );
            mark(listeners, &members, PROTOCOL_CONFLICT, &message);
            continue;
        }
        let mut by_hostname: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
        for i in members {
            if let Some(l) = listeners.get(i) {
                let key = if HOSTNAME_PROTOCOLS.contains(&l.protocol()) {
                    l.hostname.clone()
                } else {
                    None
                };
                by_hostname.entry(key).or_default().push(i);
            }
        }
        for (hostname, same) in by_hostname.into_iter().filter(|(_, m)| m.len() > 1) {
            let message = format!(
                "listeners {} share port {port} and hostname {}",
                names(listeners, &same),
                hostname.as_deref().unwrap_or("(none)")
            );
            mark(listeners, &same, reason::HOSTNAME_CONFLICT, &message);
        }
    }
}

/// Gives each port to the oldest accepted Gateway with a usable listener on it, and marks the
/// listeners of later Gateways that want another protocol there.
pub(super) fn across_gateways(gateways: &mut Gateways<'_>, reserved: &[super::ReservedPort]) {
    let mut order: Vec<(bool, i64, String, String)> = gateways
        .iter()
        .map(|((ns, name), g)| {
            let (missing, created) = meta::age_key(meta::created(&g.gateway.metadata));
            (missing, created, ns.clone(), name.clone())
        })
        .collect();
    order.sort();
    // port -> (protocol, "listener x of Gateway ns/name"); reserved ports are held already.
    let mut owners: BTreeMap<u16, (String, String)> = reserved
        .iter()
        .map(|r| (r.port, (r.protocol.to_string(), r.holder.clone())))
        .collect();
    for (_, _, ns, name) in order {
        let Some(gateway) = gateways.get_mut(&(ns.clone(), name.clone())) else {
            continue;
        };
        if !gateway.accepted() {
            continue;
        }
        for l in gateway.listeners.iter_mut().filter(|l| l.conflict.is_none()) {
            let Some(port) = l.port else {
                continue;
            };
            match owners.get(&port) {
                None => {
                    let owner = format!("listener {} of Gateway {ns}/{name}", l.spec.name);
                    owners.insert(port, (l.protocol().to_string(), owner));
                }
                Some((protocol, owner)) if protocol != l.protocol() => {
                    let message = format!(
                        "port {port} already serves {protocol} for {owner}; one port speaks one \
                         protocol"
                    );
                    l.conflict = Some((PROTOCOL_CONFLICT, message));
                }
                Some(_) => {}
            }
        }
    }
}

/// Marks the HTTPS listeners whose hostnames overlap another HTTPS listener's on the same port.
pub(super) fn overlapping_tls(listeners: &mut [ListenerModel<'_>]) {
    let https: Vec<(usize, u16, Vec<String>)> = listeners
        .iter()
        .enumerate()
        .filter(|(_, l)| l.protocol() == "HTTPS")
        .filter_map(|(i, l)| Some((i, l.port?, l.hostname.iter().cloned().collect())))
        .collect();
    for (i, port, hosts) in &https {
        let others: Vec<&str> = https
            .iter()
            .filter(|(j, p, h)| j != i && p == port && hostnames::overlap(hosts, h))
            .filter_map(|(j, _, _)| listeners.get(*j))
            .map(|l| l.spec.name.as_str())
            .collect();
        if others.is_empty() {
            continue;
        }
        let message = format!(
            "hostname {} overlaps the hostnames of HTTPS listener(s) {} on port {port}",
            hosts.first().map_or("(none)", String::as_str),
            others.join(", ")
        );
        if let Some(l) = listeners.get_mut(*i) {
            l.overlapping = Some(message);
        }
    }
}

fn names(listeners: &[ListenerModel<'_>], members: &[usize]) -> String {
    members
        .iter()
        .filter_map(|i| listeners.get(*i))
        .map(|l| l.spec.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn mark(listeners: &mut [ListenerModel<'_>], members: &[usize], why: &'static str, message: &str) {
    for i in members {
        if let Some(l) = listeners.get_mut(*i) {
            l.conflict = Some((why, message.to_string()));
        }
    }
}
