//! Ingress v1: our Ingresses share one HTTP listener; each path becomes a route, identical
//! paths across Ingresses go to the oldest Ingress. When any of them has `spec.tls`, an HTTPS
//! listener on `Options::https_port` serves the same routes with their certificates ([`tls`]).

mod class;
mod tls;

use crate::backends::{resolved_refs, BackendRef, PortRef, RefProblem, Resolver};
use crate::conditions::{reason, ACCEPTED, CONFLICTED, PARTIALLY_INVALID};
use crate::meta;
use crate::resources::ResourceSet;
use crate::Options;
use class::ClassFilter;
use fairlead_route::{
    Backend, BackendTarget, Condition, Listener, ListenerProtocol, ListenerTls, ObjectStatus, PathMatch,
    Route, RouteKind, RouteMatch, RouteOrder, TlsMaterial,
};
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};
use std::collections::BTreeMap;

/// The id of the listener every Ingress route goes to.
pub(crate) const LISTENER_ID: &str = "ingress/http";
/// The id of the HTTPS listener serving the same routes when an Ingress has `spec.tls`.
pub(crate) const HTTPS_LISTENER_ID: &str = "ingress/https";

/// One Ingress path (or default backend) before conflicts are settled.
struct Candidate {
    /// Index into the per-Ingress state.
    owner: usize,
    /// Path index inside its rule, the last tie-breaker.
    position: usize,
    /// (host, path kind, normalized path): two candidates with the same key conflict.
    key: (String, u8, String),
    /// Human description for conflict messages.
    what: String,
    route: Route,
}

struct IngressState<'a> {
    ingress: &'a Ingress,
    /// The Ingress has `spec.tls` entries.
    has_tls: bool,
    ref_problems: Vec<RefProblem>,
    invalid: Vec<String>,
    conflicts: Vec<String>,
}

/// Translates our Ingresses: the shared HTTP listener (when any Ingress is ours), the HTTPS
/// one (when any has `spec.tls`; certificates go into `material`) and their status.
pub(crate) fn translate(
    resources: &ResourceSet,
    options: &Options,
    resolver: &mut Resolver<'_>,
    material: &mut TlsMaterial,
) -> (Vec<Listener>, Vec<ObjectStatus>) {
    let filter = ClassFilter::new(resources, options);
    let mut states: Vec<IngressState<'_>> = resources
        .ingresses()
        .filter(|i| filter.is_ours(i))
        .map(|ingress| IngressState {
            ingress,
            has_tls: false,
            ref_problems: Vec::new(),
            invalid: Vec::new(),
            conflicts: Vec::new(),
        })
        .collect();
    if states.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let mut candidates = Vec::new();
    for (owner, state) in states.iter_mut().enumerate() {
        collect(owner, state, resolver, &mut candidates);
    }
    // Oldest first (no creationTimestamp last), then namespace/name, then position.
    candidates.sort_by(|a, b| {
        order_key(&a.route.order)
            .cmp(&order_key(&b.route.order))
            .then(a.position.cmp(&b.position))
    });
    let mut winners: BTreeMap<(String, u8, String), String> = BTreeMap::new();
    let mut routes = Vec::new();
    for candidate in candidates {
        let owner_name = states
            .get(candidate.owner)
            .map(|s| ingress_name(s.ingress))
            .unwrap_or_default();
        if let Some(winner) = winners.get(&candidate.key) {
            if let Some(state) = states.get_mut(candidate.owner) {
                state.conflicts.push(format!(
                    "{} is already served by Ingress {winner}",
                    candidate.what
                ));
            }
            continue;
        }
        winners.insert(candidate.key, owner_name);
        routes.push(candidate.route);
    }
    routes.sort_by(|a, b| a.id.cmp(&b.id));
    let certificates = tls::certificates(resources, &mut states, options.now_unix, material);
    let mut listeners = Vec::new();
    let https = !certificates.is_empty();
    if https {
        listeners.push(Listener {
            id: HTTPS_LISTENER_ID.to_string(),
            port: options.https_port,
            protocol: ListenerProtocol::Https,
            hostname: None,
            routes: routes.clone(),
            tls: Some(ListenerTls {
                certificates,
                client_ca: Vec::new(),
            }),
        });
    }
    listeners.push(Listener {
        id: LISTENER_ID.to_string(),
        port: options.http_port,
        protocol: ListenerProtocol::Http,
        hostname: None,
        routes,
        tls: None,
    });
    let statuses = states.into_iter().map(|s| status(s, options, https)).collect();
    (listeners, statuses)
}

fn order_key(order: &RouteOrder) -> ((bool, i64), &str, &str, u32) {
    (
        meta::age_key(order.created),
        &order.namespace,
        &order.name,
        order.rule,
    )
}

fn ingress_name(ingress: &Ingress) -> String {
    format!(
        "{}/{}",
        meta::namespace(&ingress.metadata),
        meta::name(&ingress.metadata)
    )
}

/// Turns every path and the default backend of one Ingress into candidates.
fn collect(
    owner: usize,
    state: &mut IngressState<'_>,
    resolver: &mut Resolver<'_>,
    out: &mut Vec<Candidate>,
) {
    let ingress = state.ingress;
    let ns = meta::namespace(&ingress.metadata);
    let name = meta::name(&ingress.metadata);
    let order = |rule: u32| RouteOrder {
        created: meta::created(&ingress.metadata),
        namespace: ns.to_string(),
        name: name.to_string(),
        rule,
    };
    let Some(spec) = ingress.spec.as_ref() else {
        return;
    };
    for (r, rule) in spec.rules.iter().flatten().enumerate() {
        let host = rule.host.as_deref().unwrap_or_default().to_ascii_lowercase();
        for (p, path) in rule.http.iter().flat_map(|h| h.paths.iter()).enumerate() {
            let value = path
                .path
                .clone()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "/".to_string());
            let (kind, matched) = match path.path_type.as_str() {
                "Exact" => (0, PathMatch::Exact(value.clone())),
                "Prefix" | "ImplementationSpecific" => (1, PathMatch::Prefix(value.clone())),
                other => {
                    state.invalid.push(format!(
                        "rules[{r}].paths[{p}]: pathType {other:?} is not supported"
                    ));
                    continue;
                }
            };
            if !value.starts_with('/') {
                state.invalid.push(format!(
                    "rules[{r}].paths[{p}]: path {value:?} must start with '/'"
                ));
                continue;
            }
            let backend = backend(ns, &path.backend, resolver, &mut state.ref_problems);
            let rule_index = u32::try_from(r).unwrap_or(u32::MAX - 1);
            // `/foo` and `/foo/` are the same prefix for the proxy, so they conflict too.
            let normalized = if kind == 1 && value.len() > 1 {
                value.trim_end_matches('/')
            } else {
                &value
            };
            let what = format!(
                "path {} {value:?} on {}",
                path.path_type,
                if host.is_empty() {
                    "every host".to_string()
                } else {
                    format!("host {host}")
                }
            );
            out.push(Candidate {
                owner,
                position: p,
                key: (host.clone(), kind, normalized.to_string()),
                what,
                route: Route {
                    id: format!("ingress/{ns}/{name}/rule/{r}/path/{p}"),
                    kind: RouteKind::Ingress,
                    hostnames: if host.is_empty() {
                        Vec::new()
                    } else {
                        vec![host.clone()]
                    },
                    matches: vec![RouteMatch {
                        path: matched,
                        ..RouteMatch::default()
                    }],
                    filters: Vec::new(),
                    backends: vec![backend],
                    timeouts: Default::default(),
                    retry: None,
                    order: order(rule_index),
                },
            });
        }
    }
    if let Some(default) = &spec.default_backend {
        let backend = backend(ns, default, resolver, &mut state.ref_problems);
        out.push(Candidate {
            owner,
            position: 0,
            key: (String::new(), 2, String::new()),
            what: "the default backend".to_string(),
            route: Route {
                id: format!("ingress/{ns}/{name}/default"),
                kind: RouteKind::Ingress,
                hostnames: Vec::new(),
                matches: vec![RouteMatch::default()],
                filters: Vec::new(),
                backends: vec![backend],
                timeouts: Default::default(),
                retry: None,
                // Loses every tie against a path rule.
                order: order(u32::MAX),
            },
        });
    }
}

fn backend(
    ns: &str,
    backend: &IngressBackend,
    resolver: &mut Resolver<'_>,
    problems: &mut Vec<RefProblem>,
) -> Backend {
    let (resolved, problem) = if let Some(service) = &backend.service {
        let port = match service.port.as_ref() {
            Some(p) if p.name.as_deref().is_some_and(|n| !n.is_empty()) => {
                PortRef::Name(p.name.as_deref().unwrap_or_default())
            }
            Some(p) => p.number.map_or(PortRef::Missing, PortRef::Number),
            None => PortRef::Missing,
        };
        let reference = BackendRef {
            group: "",
            kind: "Service",
            namespace: ns,
            name: &service.name,
            port,
            weight: 1,
        };
        resolver.ingress_backend(&reference)
    } else if let Some(resource) = &backend.resource {
        let reference = BackendRef {
            group: resource.api_group.as_deref().unwrap_or_default(),
            kind: &resource.kind,
            namespace: ns,
            name: &resource.name,
            port: PortRef::Missing,
            weight: 1,
        };
        resolver.ingress_backend(&reference)
    } else {
        let message = "backend names neither a service nor a resource".to_string();
        let target = BackendTarget::Invalid {
            reason: message.clone(),
        };
        (
            Backend {
                weight: 1,
                target,
                filters: Vec::new(),
            },
            Some(RefProblem {
                reason: reason::BACKEND_NOT_FOUND,
                message,
            }),
        )
    };
    problems.extend(problem);
    resolved
}

fn status(state: IngressState<'_>, options: &Options, https: bool) -> ObjectStatus {
    let message = if state.has_tls && https {
        format!(
            "served by {} on port {} and over HTTPS on port {}",
            options.ingress_controller, options.http_port, options.https_port
        )
    } else {
        format!(
            "served by {} on port {}",
            options.ingress_controller, options.http_port
        )
    };
    let mut conditions = vec![Condition::new(ACCEPTED, true, reason::ACCEPTED, message)];
    if !state.invalid.is_empty() {
        let message = format!("skipped {}", state.invalid.join("; "));
        conditions.push(Condition::new(
            PARTIALLY_INVALID,
            true,
            reason::UNSUPPORTED_VALUE,
            message,
        ));
    }
    conditions.push(resolved_refs(&state.ref_problems));
    if !state.conflicts.is_empty() {
        conditions.push(Condition::new(
            CONFLICTED,
            true,
            reason::PATH_CONFLICT,
            state.conflicts.join("; "),
        ));
    }
    ObjectStatus {
        object: meta::namespaced_ref("Ingress", &state.ingress.metadata),
        generation: state.ingress.metadata.generation,
        conditions,
        ..ObjectStatus::default()
    }
}
