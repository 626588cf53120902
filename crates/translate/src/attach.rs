//! Route attachment, shared by HTTPRoute and GRPCRoute: which listeners of our Gateways a
//! route's parentRefs select, whether they admit it (allowedRoutes kinds and namespaces,
//! hostname intersection), the HTTPRoute/GRPCRoute hostname conflict rule, and the status per
//! parentRef.
//!
//! Attachment runs in passes so that the conflict rule is decided by age, not by the order
//! routes happen to be read in: every parentRef is first matched against listeners, then each
//! listener keeps, of an HTTPRoute and a GRPCRoute whose hostnames overlap on it, only the one
//! the spec prefers (oldest creationTimestamp, then `namespace/name`), and only then are rules
//! added to listeners and conditions written.

use crate::backends::{resolved_refs, RefProblem};
use crate::conditions::reason_ext::ROUTE_HOSTNAME_CONFLICT;
use crate::conditions::{reason, ACCEPTED, PARTIALLY_INVALID};
use crate::gateway::{AllowedNamespaces, GatewayModel, Gateways, ListenerModel};
use crate::resources::ResourceSet;
use crate::{hostnames, meta, selector};
use fairlead_route::{Condition, ObjectStatus, ParentRef, ParentStatus, Route};
use gateway_api::experimental::httproutes::HttpRoute;
use gateway_api::grpcroutes::GrpcRoute;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
/// The label the API server puts on every Namespace, commonly used in selectors.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

pub(crate) const HTTP_ROUTE: &str = "HTTPRoute";
pub(crate) const GRPC_ROUTE: &str = "GRPCRoute";

/// (namespace, name) of a Gateway.
pub(crate) type GatewayKey = (String, String);

/// A parentRef as written, borrowed from whichever generated type holds it.
pub(crate) struct ParentRefSpec<'a> {
    pub group: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub section_name: Option<&'a str>,
    pub port: Option<i32>,
}

/// What attachment reads of a route object.
pub(crate) trait RouteObject {
    fn meta(&self) -> &ObjectMeta;
    fn hostnames(&self) -> &[String];
    fn parent_refs(&self) -> impl Iterator<Item = ParentRefSpec<'_>>;
}

/// The generated HTTPRoute and GRPCRoute types are distinct but share these fields.
macro_rules! route_object {
    ($($route:ty),*) => {$(
        impl RouteObject for $route {
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn hostnames(&self) -> &[String] {
                self.spec.hostnames.as_deref().unwrap_or_default()
            }

            fn parent_refs(&self) -> impl Iterator<Item = ParentRefSpec<'_>> {
                self.spec.parent_refs.iter().flatten().map(|p| ParentRefSpec {
                    group: p.group.as_deref(),
                    kind: p.kind.as_deref(),
                    namespace: p.namespace.as_deref(),
                    name: &p.name,
                    section_name: p.section_name.as_deref(),
                    port: p.port,
                })
            }
        }
    )*};
}
route_object!(HttpRoute, GrpcRoute);

/// A route's rules, converted once and attached to every listener the route reaches.
#[derive(Default)]
pub(crate) struct Rules {
    /// One route per valid rule, without hostnames (those depend on the listener).
    pub routes: Vec<Route>,
    /// `rule N: why` for every dropped rule.
    pub invalid: Vec<String>,
    /// `rule N: ...` for every kept rule carrying something that answers with an error.
    pub unsupported: Vec<String>,
    pub ref_problems: Vec<RefProblem>,
    /// BackendTLSPolicies (indexes in [`crate::tls::backend::BackendTls`]) the backends use.
    pub backend_tls: Vec<usize>,
}

/// One HTTPRoute or GRPCRoute that names at least one of our Gateways.
pub(crate) struct RouteInput<'a> {
    /// [`HTTP_ROUTE`] or [`GRPC_ROUTE`].
    pub kind: &'static str,
    pub meta: &'a ObjectMeta,
    pub hostnames: &'a [String],
    /// The parentRefs naming one of our Gateways, with that Gateway's key.
    pub parents: Vec<(ParentRefSpec<'a>, GatewayKey)>,
    pub rules: Rules,
}

/// The input of every route of `kind` with a parentRef naming one of our Gateways. `convert`
/// converts (and resolves the backends of) a route's rules, and runs only for those routes, so
/// routes of other controllers leave no trace in the status.
pub(crate) fn inputs<'a, R: RouteObject + 'a>(
    kind: &'static str,
    routes: impl Iterator<Item = &'a R>,
    gateways: &Gateways<'_>,
    mut convert: impl FnMut(&'a R) -> Rules,
) -> Vec<RouteInput<'a>> {
    routes
        .filter_map(|route| {
            let parents = our_parents(route.parent_refs(), meta::namespace(route.meta()), gateways);
            (!parents.is_empty()).then(|| RouteInput {
                kind,
                meta: route.meta(),
                hostnames: route.hostnames(),
                parents,
                rules: convert(route),
            })
        })
        .collect()
}

/// The parentRefs that name one of our Gateways. A parentRef to any other object (another
/// controller's Gateway, a Gateway that does not exist, a Service) is not ours to report on.
fn our_parents<'a>(
    refs: impl Iterator<Item = ParentRefSpec<'a>>,
    route_ns: &str,
    gateways: &Gateways<'_>,
) -> Vec<(ParentRefSpec<'a>, GatewayKey)> {
    refs.filter(|p| p.group.unwrap_or(GATEWAY_GROUP) == GATEWAY_GROUP)
        .filter(|p| p.kind.unwrap_or("Gateway") == "Gateway")
        .map(|p| {
            let key = (p.namespace.unwrap_or(route_ns).to_string(), p.name.to_string());
            (p, key)
        })
        .filter(|(_, key)| gateways.contains_key(key))
        .collect()
}

/// A listener of one of our Gateways: (Gateway key, index in its listeners).
type ListenerKey = (GatewayKey, usize);

/// What one parentRef selected: a refusal, or listeners with the route's hostnames on each.
type Selection = Result<Vec<(usize, Vec<String>)>, Condition>;

/// A route claiming a listener, before the HTTPRoute/GRPCRoute conflict rule is applied.
struct Claim<'h> {
    route: usize,
    hostnames: &'h [String],
}

/// Attaches every route to the listeners it reaches and returns the routes' status.
pub(crate) fn attach_all(
    resources: &ResourceSet,
    routes: &[RouteInput<'_>],
    gateways: &mut Gateways<'_>,
) -> Vec<ObjectStatus> {
    let selections: Vec<Vec<Selection>> = routes
        .iter()
        .map(|route| {
            let labels = namespace_labels(resources, meta::namespace(route.meta));
            route
                .parents
                .iter()
                .map(|(parent, key)| match gateways.get(key) {
                    Some(gateway) => select(route, parent, gateway, &labels),
                    None => Err(Condition::new(
                        ACCEPTED,
                        false,
                        reason::NO_MATCHING_PARENT,
                        format!("Gateway {}/{} not found", key.0, key.1),
                    )),
                })
                .collect()
        })
        .collect();

    let mut claims: BTreeMap<ListenerKey, Vec<Claim<'_>>> = BTreeMap::new();
    for (r, (route, per_parent)) in routes.iter().zip(&selections).enumerate() {
        for ((_, key), selection) in route.parents.iter().zip(per_parent) {
            for (listener, hosts) in selection.iter().flatten() {
                let list = claims.entry((key.clone(), *listener)).or_default();
                // Two parentRefs selecting the same listener claim it once.
                if !list.iter().any(|c| c.route == r) {
                    list.push(Claim {
                        route: r,
                        hostnames: hosts,
                    });
                }
            }
        }
    }
    let rejected = kind_conflicts(routes, claims);
    count_attachments(resources, routes, gateways);

    let mut statuses = Vec::new();
    for (r, (route, per_parent)) in routes.iter().zip(selections).enumerate() {
        let mut parents = Vec::new();
        for ((parent, key), selection) in route.parents.iter().zip(per_parent) {
            let accepted = match (selection, gateways.get_mut(key)) {
                (Err(refusal), _) => refusal,
                (Ok(listeners), Some(gateway)) => attach(route, r, key, listeners, gateway, &rejected),
                (Ok(_), None) => continue,
            };
            let mut conditions = vec![accepted];
            conditions.extend(partially_invalid(&route.rules));
            conditions.push(resolved_refs(&route.rules.ref_problems));
            parents.push(ParentStatus {
                parent: ParentRef {
                    namespace: key.0.clone(),
                    name: key.1.clone(),
                    section_name: parent.section_name.map(str::to_string),
                    port: parent.port.and_then(|p| u16::try_from(p).ok()),
                },
                conditions,
            });
        }
        statuses.push(ObjectStatus {
            object: meta::namespaced_ref(route.kind, route.meta),
            generation: route.meta.generation,
            parents,
            ..ObjectStatus::default()
        });
    }
    statuses
}

/// The spec's HTTPRoute/GRPCRoute rule: of two routes of different kinds on one listener whose
/// hostnames intersect, only the oldest (then first by `namespace/name`) is accepted there.
/// Routes are taken in that order and each is checked against those already kept, so a route
/// rejected on a listener never pushes out another. Returns the rejected (listener, route)
/// pairs with the route that won, as `kind namespace/name`.
fn kind_conflicts(
    routes: &[RouteInput<'_>],
    claims: BTreeMap<ListenerKey, Vec<Claim<'_>>>,
) -> BTreeMap<(ListenerKey, usize), String> {
    let order = |r: usize| {
        let route = &routes[r];
        (
            meta::age_key(meta::created(route.meta)),
            meta::namespace(route.meta),
            meta::name(route.meta),
            route.kind,
        )
    };
    let mut rejected = BTreeMap::new();
    for (listener, mut list) in claims {
        list.sort_by(|a, b| order(a.route).cmp(&order(b.route)));
        let mut kept: Vec<&Claim<'_>> = Vec::new();
        for claim in &list {
            let winner = kept.iter().find(|k| {
                routes[k.route].kind != routes[claim.route].kind
                    && hostnames::overlap(k.hostnames, claim.hostnames)
            });
            match winner {
                Some(winner) => {
                    let w = &routes[winner.route];
                    let name = format!("{} {}/{}", w.kind, meta::namespace(w.meta), meta::name(w.meta));
                    rejected.insert((listener.clone(), claim.route), name);
                }
                None => kept.push(claim),
            }
        }
    }
    rejected
}

/// Counts each route on every listener its parentRefs select and whose allowedRoutes admit it,
/// whatever the listener's or the route's condition: that is `attachedRoutes` in the spec.
fn count_attachments(resources: &ResourceSet, routes: &[RouteInput<'_>], gateways: &mut Gateways<'_>) {
    for route in routes {
        let route_ns = meta::namespace(route.meta);
        let labels = namespace_labels(resources, route_ns);
        let key = (
            route.kind,
            route_ns.to_string(),
            meta::name(route.meta).to_string(),
        );
        for (parent, gateway_key) in &route.parents {
            let Some(gateway) = gateways.get_mut(gateway_key) else {
                continue;
            };
            let gateway_ns = gateway.namespace().to_string();
            for listener in gateway.listeners.iter_mut() {
                let selected = parent.section_name.is_none_or(|s| s == listener.spec.name)
                    && parent.port.is_none_or(|p| p == listener.spec.port);
                if selected && not_allowed(listener, route.kind, route_ns, &gateway_ns, &labels).is_none() {
                    listener.counted.insert(key.clone());
                }
            }
        }
    }
}

/// The listeners of `gateway` that the parentRef selects and that admit the route, with the
/// route's hostnames on each; or the `Accepted=False` condition saying why there are none.
fn select(
    route: &RouteInput<'_>,
    parent: &ParentRefSpec<'_>,
    gateway: &GatewayModel<'_>,
    labels: &BTreeMap<String, String>,
) -> Selection {
    let route_ns = meta::namespace(route.meta);
    let gateway_name = format!("{}/{}", gateway.namespace(), gateway.name());
    let candidates: Vec<(usize, &ListenerModel<'_>)> = gateway
        .listeners
        .iter()
        .enumerate()
        .filter(|(_, l)| parent.section_name.is_none_or(|s| s == l.spec.name))
        .filter(|(_, l)| parent.port.is_none_or(|p| p == l.spec.port))
        .collect();
    if candidates.is_empty() {
        let mut wanted = Vec::new();
        if let Some(section) = parent.section_name {
            wanted.push(format!("named {section:?}"));
        }
        if let Some(port) = parent.port {
            wanted.push(format!("on port {port}"));
        }
        let message = format!("Gateway {gateway_name} has no listener {}", wanted.join(" "));
        return Err(Condition::new(
            ACCEPTED,
            false,
            reason::NO_MATCHING_PARENT,
            message,
        ));
    }
    let mut refusals = Vec::new();
    let mut allowed = Vec::new();
    for (index, listener) in candidates {
        match refusal(listener, route.kind, route_ns, gateway.namespace(), labels) {
            Some(why) => refusals.push(format!("listener {}: {why}", listener.spec.name)),
            None => allowed.push((index, listener)),
        }
    }
    if allowed.is_empty() {
        let message = format!(
            "no listener of Gateway {gateway_name} allows this route: {}",
            refusals.join("; ")
        );
        return Err(Condition::new(
            ACCEPTED,
            false,
            reason::NOT_ALLOWED_BY_LISTENERS,
            message,
        ));
    }
    let matched: Vec<(usize, Vec<String>)> = allowed
        .into_iter()
        .filter_map(|(index, l)| {
            hostnames::intersect(l.hostname.as_deref(), route.hostnames).map(|h| (index, h))
        })
        .collect();
    if matched.is_empty() {
        let message = format!("no hostname of the route matches a listener of Gateway {gateway_name}");
        return Err(Condition::new(
            ACCEPTED,
            false,
            reason::NO_MATCHING_LISTENER_HOSTNAME,
            message,
        ));
    }
    if route.rules.routes.is_empty() && !route.rules.invalid.is_empty() {
        let message = format!("no valid rule: {}", route.rules.invalid.join("; "));
        return Err(Condition::new(
            ACCEPTED,
            false,
            reason::UNSUPPORTED_VALUE,
            message,
        ));
    }
    Ok(matched)
}

/// Adds the route's rules to the selected listeners that kept it and returns `Accepted`.
fn attach(
    route: &RouteInput<'_>,
    index: usize,
    key: &GatewayKey,
    listeners: Vec<(usize, Vec<String>)>,
    gateway: &mut GatewayModel<'_>,
    rejected: &BTreeMap<(ListenerKey, usize), String>,
) -> Condition {
    let gateway_name = format!("{}/{}", key.0, key.1);
    let attached_key = (
        route.kind,
        meta::namespace(route.meta).to_string(),
        meta::name(route.meta).to_string(),
    );
    let mut names = Vec::new();
    let mut losses = Vec::new();
    for (i, hosts) in listeners {
        let Some(listener) = gateway.listeners.get_mut(i) else {
            continue;
        };
        if let Some(winner) = rejected.get(&((key.clone(), i), index)) {
            losses.push(format!(
                "listener {} keeps {winner}, whose hostnames overlap this route's",
                listener.spec.name
            ));
            continue;
        }
        names.push(listener.spec.name.clone());
        // A second parentRef selecting the same listener must not add the rules twice.
        if listener.attached.insert(attached_key.clone()) {
            listener
                .routes
                .extend(route.rules.routes.iter().cloned().map(|mut r| {
                    r.hostnames = hosts.clone();
                    r
                }));
        }
    }
    if names.is_empty() {
        let message = format!(
            "an HTTPRoute and a GRPCRoute may not share a hostname on a listener, and the older \
             route keeps it; on Gateway {gateway_name}, {}",
            losses.join("; ")
        );
        return Condition::new(ACCEPTED, false, ROUTE_HOSTNAME_CONFLICT, message);
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
    kind: &str,
    route_ns: &str,
    gateway_ns: &str,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    if let Some(problem) = listener.problem() {
        return Some(format!("not programmed ({problem})"));
    }
    not_allowed(listener, kind, route_ns, gateway_ns, labels)
}

/// Why the listener's allowedRoutes (kinds and namespaces) exclude the route, or `None`.
fn not_allowed(
    listener: &ListenerModel<'_>,
    kind: &str,
    route_ns: &str,
    gateway_ns: &str,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    if !listener.allows(kind) {
        return Some(format!("allowedRoutes.kinds does not include {kind}"));
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

/// `PartiallyInvalid=True` when some rules were dropped or carry a filter we cannot apply.
///
/// The spec names this condition (reason UnsupportedValue) for routes mixing valid and invalid
/// rules. Unsupported filters are reported the same way rather than with `Accepted=False`: the
/// route is attached and its other rules serve, and only the affected rule answers with an
/// error, which is what the spec asks for filters that cannot be applied.
fn partially_invalid(rules: &Rules) -> Option<Condition> {
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
