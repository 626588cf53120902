//! HTTPRoutes: attachment to our Gateways' listeners, and per-parent status.

mod filters;
mod rules;

use crate::backends::{resolved_refs, Resolver};
use crate::conditions::{reason, ACCEPTED, PARTIALLY_INVALID};
use crate::gateway::{AllowedNamespaces, GatewayModel, ListenerModel};
use crate::resources::ResourceSet;
use crate::{hostnames, meta, selector};
use fairlead_route::{Condition, ObjectStatus, ParentRef, ParentStatus};
use gateway_api::experimental::httproutes::{HttpRoute, HttpRouteParentRefs};
use rules::ConvertedRules;
use std::collections::BTreeMap;

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
/// The label the API server puts on every Namespace, commonly used in selectors.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

type Gateways<'a> = BTreeMap<(String, String), GatewayModel<'a>>;

/// Attaches every HTTPRoute that names one of our Gateways and returns their status.
pub(crate) fn translate(
    resources: &ResourceSet,
    resolver: &mut Resolver<'_>,
    gateways: &mut Gateways<'_>,
) -> Vec<ObjectStatus> {
    let mut statuses = Vec::new();
    for route in resources.http_routes() {
        let ns = meta::namespace(&route.metadata);
        let ours: Vec<(&HttpRouteParentRefs, (String, String))> = route
            .spec
            .parent_refs
            .iter()
            .flatten()
            .filter(|p| p.group.as_deref().unwrap_or(GATEWAY_GROUP) == GATEWAY_GROUP)
            .filter(|p| p.kind.as_deref().unwrap_or("Gateway") == "Gateway")
            .map(|p| {
                (
                    p,
                    (
                        p.namespace.clone().unwrap_or_else(|| ns.to_string()),
                        p.name.clone(),
                    ),
                )
            })
            .filter(|(_, key)| gateways.contains_key(key))
            .collect();
        if ours.is_empty() {
            continue;
        }
        let rules = rules::convert(route, resolver);
        let labels = namespace_labels(resources, ns);
        let mut parents = Vec::new();
        for (parent, key) in ours {
            let Some(gateway) = gateways.get_mut(&key) else {
                continue;
            };
            let accepted = attach(route, parent, gateway, &labels, &rules);
            let mut conditions = vec![accepted];
            conditions.extend(partially_invalid(&rules));
            conditions.push(resolved_refs(&rules.ref_problems));
            parents.push(ParentStatus {
                parent: ParentRef {
                    namespace: key.0,
                    name: key.1,
                    section_name: parent.section_name.clone(),
                    port: parent.port.and_then(|p| u16::try_from(p).ok()),
                },
                conditions,
            });
        }
        statuses.push(ObjectStatus {
            object: meta::namespaced_ref("HTTPRoute", &route.metadata),
            generation: route.metadata.generation,
            parents,
            ..ObjectStatus::default()
        });
    }
    statuses
}

/// Labels of the route's namespace as a selector sees them. A namespace without a Namespace
/// object has none; one with an object also has the `kubernetes.io/metadata.name` label the
/// API server adds to every Namespace.
fn namespace_labels(resources: &ResourceSet, ns: &str) -> BTreeMap<String, String> {
    let Some(namespace) = resources.namespace(ns) else {
        return BTreeMap::new();
    };
    let mut labels = namespace.metadata.labels.clone().unwrap_or_default();
    labels
        .entry(NAMESPACE_NAME_LABEL.to_string())
        .or_insert_with(|| ns.to_string());
    labels
}

/// Attaches the route's rules to the listeners the parentRef selects and returns the
/// `Accepted` condition.
fn attach(
    route: &HttpRoute,
    parent: &HttpRouteParentRefs,
    gateway: &mut GatewayModel<'_>,
    labels: &BTreeMap<String, String>,
    rules: &ConvertedRules,
) -> Condition {
    let route_ns = meta::namespace(&route.metadata);
    let gateway_name = format!("{}/{}", gateway.namespace(), gateway.name());
    let candidates: Vec<usize> = gateway
        .listeners
        .iter()
        .enumerate()
        .filter(|(_, l)| parent.section_name.as_ref().is_none_or(|s| *s == l.spec.name))
        .filter(|(_, l)| parent.port.is_none_or(|p| p == l.spec.port))
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        let mut wanted = Vec::new();
        if let Some(section) = &parent.section_name {
            wanted.push(format!("named {section:?}"));
        }
        if let Some(port) = parent.port {
            wanted.push(format!("on port {port}"));
        }
        let message = format!("Gateway {gateway_name} has no listener {}", wanted.join(" "));
        return Condition::new(ACCEPTED, false, reason::NO_MATCHING_PARENT, message);
    }
    let mut refusals = Vec::new();
    let mut allowed = Vec::new();
    for i in candidates {
        let Some(listener) = gateway.listeners.get(i) else {
            continue;
        };
        match refusal(listener, route_ns, gateway.namespace(), labels) {
            Some(why) => refusals.push(format!("listener {}: {why}", listener.spec.name)),
            None => allowed.push(i),
        }
    }
    if allowed.is_empty() {
        let message = format!(
            "no listener of Gateway {gateway_name} allows this route: {}",
            refusals.join("; ")
        );
        return Condition::new(ACCEPTED, false, reason::NOT_ALLOWED_BY_LISTENERS, message);
    }
    let route_hostnames = route.spec.hostnames.as_deref().unwrap_or_default();
    let matched: Vec<(usize, Vec<String>)> = allowed
        .into_iter()
        .filter_map(|i| {
            let listener = gateway.listeners.get(i)?;
            hostnames::intersect(listener.hostname.as_deref(), route_hostnames).map(|h| (i, h))
        })
        .collect();
    if matched.is_empty() {
        let message = format!("no hostname of the route matches a listener of Gateway {gateway_name}");
        return Condition::new(ACCEPTED, false, reason::NO_MATCHING_LISTENER_HOSTNAME, message);
    }
    if rules.routes.is_empty() && !rules.invalid.is_empty() {
        let message = format!("no valid rule: {}", rules.invalid.join("; "));
        return Condition::new(ACCEPTED, false, reason::UNSUPPORTED_VALUE, message);
    }
    let key = (route_ns.to_string(), meta::name(&route.metadata).to_string());
    let mut names = Vec::new();
    for (i, hosts) in matched {
        let Some(listener) = gateway.listeners.get_mut(i) else {
            continue;
        };
        names.push(listener.spec.name.clone());
        // A second parentRef selecting the same listener must not add the rules twice.
        if listener.attached.insert(key.clone()) {
            listener.routes.extend(rules.routes.iter().cloned().map(|mut r| {
                r.hostnames = hosts.clone();
                r
            }));
        }
    }
    let message = format!(
        "accepted by listener(s) {} of Gateway {gateway_name}",
        names.join(", ")
    );
    Condition::new(ACCEPTED, true, reason::ACCEPTED, message)
}

/// Why a listener does not take this route, or `None` when it does.
fn refusal(
    listener: &ListenerModel<'_>,
    route_ns: &str,
    gateway_ns: &str,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    if let Some(problem) = &listener.problem {
        return Some(format!("not programmed ({problem})"));
    }
    if !listener.allows_http_route {
        return Some("allowedRoutes.kinds does not include HTTPRoute".to_string());
    }
    let (allowed, rule) = match &listener.allowed_namespaces {
        AllowedNamespaces::All => (true, "All"),
        AllowedNamespaces::Same => (route_ns == gateway_ns, "Same"),
        AllowedNamespaces::Selector(None) => (false, "Selector without a selector"),
        AllowedNamespaces::Selector(Some(sel)) => {
            let expressions: Vec<selector::Expression<'_>> = sel
                .match_expressions
                .iter()
                .flatten()
                .map(|e| selector::Expression {
                    key: &e.key,
                    operator: &e.operator,
                    values: e.values.as_deref().unwrap_or_default(),
                })
                .collect();
            (
                selector::matches(labels, sel.match_labels.as_ref(), &expressions),
                "Selector",
            )
        }
    };
    (!allowed).then(|| format!("routes from namespace {route_ns} are not allowed (from: {rule})"))
}

/// `PartiallyInvalid=True` when some rules were dropped or carry a filter we cannot apply.
///
/// The spec names this condition (reason UnsupportedValue) for routes mixing valid and invalid
/// rules. Unsupported filters are reported the same way rather than with `Accepted=False`: the
/// route is attached and its other rules serve, and only the affected rule answers 500, which
/// is what the spec asks for unresolvable filters.
fn partially_invalid(rules: &ConvertedRules) -> Option<Condition> {
    let mut problems: Vec<String> = Vec::new();
    if !rules.routes.is_empty() {
        problems.extend(rules.invalid.iter().map(|r| format!("dropped {r}")));
    }
    problems.extend(rules.unsupported.iter().cloned());
    (!problems.is_empty()).then(|| {
        Condition::new(
            PARTIALLY_INVALID,
            true,
            reason::UNSUPPORTED_VALUE,
            problems.join("; "),
        )
    })
}
