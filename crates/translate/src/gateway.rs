//! GatewayClasses and Gateways: which are ours, their listeners, and their status.
//!
//! Listeners are modelled first ([`GatewayModel`]); HTTPRoutes then attach to them; finally
//! [`GatewayModel::finish`] emits the programmed listeners into the config and the status
//! with attachedRoutes counted.

use crate::conditions::{reason, ACCEPTED, CONFLICTED, PROGRAMMED, RESOLVED_REFS};
use crate::meta;
use crate::resources::ResourceSet;
use crate::Options;
use fairlead_route::{Condition, Listener, ListenerProtocol, ListenerStatus, ObjectStatus, Route};
use gateway_api::gateways::{
    Gateway, GatewayListeners, GatewayListenersAllowedRoutesNamespacesFrom as FromNamespaces,
};
use std::collections::{BTreeMap, BTreeSet};

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// Names of the GatewayClasses whose controllerName is ours, with their status.
pub(crate) fn our_classes(
    resources: &ResourceSet,
    options: &Options,
) -> (BTreeSet<String>, Vec<ObjectStatus>) {
    let mut names = BTreeSet::new();
    let mut statuses = Vec::new();
    for class in resources
        .gateway_classes()
        .filter(|c| c.spec.controller_name == options.controller_name)
    {
        names.insert(meta::name(&class.metadata).to_string());
        let message = format!("GatewayClass is accepted by {}", options.controller_name);
        statuses.push(ObjectStatus {
            object: meta::cluster_ref("GatewayClass", &class.metadata),
            generation: class.metadata.generation,
            conditions: vec![Condition::new(ACCEPTED, true, reason::ACCEPTED, message)],
            ..ObjectStatus::default()
        });
    }
    (names, statuses)
}

/// One of our Gateways, with its listeners as routes attach to them.
pub(crate) struct GatewayModel<'a> {
    pub gateway: &'a Gateway,
    pub listeners: Vec<ListenerModel<'a>>,
    /// Listener names that appear more than once; only the first of each is used.
    duplicates: Vec<String>,
}

/// Which namespaces may attach routes to a listener.
pub(crate) enum AllowedNamespaces<'a> {
    Same,
    All,
    Selector(Option<&'a gateway_api::gateways::GatewayListenersAllowedRoutesNamespacesSelector>),
}

pub(crate) struct ListenerModel<'a> {
    pub spec: &'a GatewayListeners,
    pub id: String,
    /// `None` when the port is out of range.
    pub port: Option<u16>,
    /// Lowercased.
    pub hostname: Option<String>,
    pub allowed_namespaces: AllowedNamespaces<'a>,
    /// allowedRoutes.kinds admits HTTPRoute.
    pub allows_http_route: bool,
    /// Accepted, not conflicted, and able to take HTTPRoutes: it goes into the config.
    pub programmed: bool,
    /// Why it is not programmed, for route status messages.
    pub problem: Option<String>,
    supported_kinds: Vec<String>,
    conditions: Vec<Condition>,
    /// (namespace, name) of the HTTPRoutes attached, for attachedRoutes and to attach a route's
    /// rules once even when several parentRefs select the listener.
    pub attached: BTreeSet<(String, String)>,
    pub routes: Vec<Route>,
}

/// Models every Gateway whose class is one of ours, keyed by (namespace, name).
pub(crate) fn our_gateways<'a>(
    resources: &'a ResourceSet,
    classes: &BTreeSet<String>,
) -> BTreeMap<(String, String), GatewayModel<'a>> {
    resources
        .gateways()
        .filter(|g| classes.contains(&g.spec.gateway_class_name))
        .map(|g| {
            let key = (
                meta::namespace(&g.metadata).to_string(),
                meta::name(&g.metadata).to_string(),
            );
            (key, GatewayModel::new(g))
        })
        .collect()
}

impl<'a> GatewayModel<'a> {
    fn new(gateway: &'a Gateway) -> Self {
        let ns = meta::namespace(&gateway.metadata);
        let name = meta::name(&gateway.metadata);
        let mut seen = BTreeSet::new();
        let mut duplicates = Vec::new();
        let mut listeners = Vec::new();
        for spec in &gateway.spec.listeners {
            if !seen.insert(spec.name.as_str()) {
                duplicates.push(spec.name.clone());
                continue;
            }
            listeners.push(ListenerModel::new(
                spec,
                format!("gateway/{ns}/{name}/{}", spec.name),
            ));
        }
        mark_conflicts(&mut listeners);
        for listener in &mut listeners {
            listener.settle();
        }
        GatewayModel {
            gateway,
            listeners,
            duplicates,
        }
    }

    pub(crate) fn namespace(&self) -> &str {
        meta::namespace(&self.gateway.metadata)
    }

    pub(crate) fn name(&self) -> &str {
        meta::name(&self.gateway.metadata)
    }

    /// Emits the programmed listeners (with their routes, sorted by id) and the status.
    pub(crate) fn finish(self) -> (Vec<Listener>, ObjectStatus) {
        let total = self.listeners.len() + self.duplicates.len();
        let mut invalid: Vec<String> = self
            .listeners
            .iter()
            .filter(|l| !l.programmed)
            .map(|l| l.spec.name.clone())
            .collect();
        invalid.extend(self.duplicates.iter().map(|d| format!("{d} (duplicate name)")));
        let valid = total.saturating_sub(invalid.len());
        let accepted = if invalid.is_empty() {
            Condition::new(ACCEPTED, true, reason::ACCEPTED, "Gateway is accepted")
        } else {
            let message = format!(
                "{} of {total} listeners are not valid: {}",
                invalid.len(),
                invalid.join(", ")
            );
            Condition::new(ACCEPTED, valid > 0, reason::LISTENERS_NOT_VALID, message)
        };
        let programmed = if valid > 0 {
            Condition::new(
                PROGRAMMED,
                true,
                reason::PROGRAMMED,
                format!("{valid} of {total} listeners are programmed"),
            )
        } else {
            Condition::new(
                PROGRAMMED,
                false,
                reason::INVALID,
                "no listener can be programmed",
            )
        };
        let mut listeners = Vec::new();
        let mut statuses = Vec::new();
        for listener in self.listeners {
            statuses.push(ListenerStatus {
                name: listener.spec.name.clone(),
                attached_routes: u32::try_from(listener.attached.len()).unwrap_or(u32::MAX),
                supported_kinds: listener.supported_kinds,
                conditions: listener.conditions,
            });
            if let (true, Some(port)) = (listener.programmed, listener.port) {
                let mut routes = listener.routes;
                routes.sort_by(|a, b| a.id.cmp(&b.id));
                routes.dedup_by(|a, b| a.id == b.id);
                listeners.push(Listener {
                    id: listener.id,
                    port,
                    protocol: ListenerProtocol::Http,
                    hostname: listener.hostname,
                    routes,
                });
            }
        }
        let status = ObjectStatus {
            object: meta::namespaced_ref("Gateway", &self.gateway.metadata),
            generation: self.gateway.metadata.generation,
            conditions: vec![accepted, programmed],
            listeners: statuses,
            ..ObjectStatus::default()
        };
        (listeners, status)
    }
}

impl<'a> ListenerModel<'a> {
    fn new(spec: &'a GatewayListeners, id: String) -> Self {
        let allowed = spec.allowed_routes.as_ref();
        let namespaces = allowed.and_then(|a| a.namespaces.as_ref());
        let allowed_namespaces = match namespaces.and_then(|n| n.from.as_ref()) {
            None | Some(FromNamespaces::Same) => AllowedNamespaces::Same,
            Some(FromNamespaces::All) => AllowedNamespaces::All,
            Some(FromNamespaces::Selector) => {
                AllowedNamespaces::Selector(namespaces.and_then(|n| n.selector.as_ref()))
            }
        };
        let (supported_kinds, invalid_kinds) = route_kinds(spec);
        let http = spec.protocol == "HTTP";
        let mut conditions = Vec::new();
        let port = u16::try_from(spec.port).ok().filter(|p| *p != 0);
        let mut problem = None;
        conditions.push(if port.is_none() {
            let message = format!("port {} is out of range", spec.port);
            problem = Some(message.clone());
            Condition::new(ACCEPTED, false, reason::PORT_UNAVAILABLE, message)
        } else if !http {
            let message = if spec.protocol == "HTTPS" {
                "HTTPS listeners are not supported yet: TLS termination arrives in a later release"
                    .to_string()
            } else {
                format!(
                    "protocol {} is not supported; fairlead serves HTTP listeners",
                    spec.protocol
                )
            };
            problem = Some(message.clone());
            Condition::new(ACCEPTED, false, reason::UNSUPPORTED_PROTOCOL, message)
        } else {
            Condition::new(ACCEPTED, true, reason::ACCEPTED, "Listener is accepted")
        });
        conditions.push(if invalid_kinds.is_empty() {
            Condition::new(
                RESOLVED_REFS,
                true,
                reason::RESOLVED_REFS,
                "All references resolved",
            )
        } else {
            let message = format!(
                "unsupported route kinds: {}; only HTTPRoute is supported",
                invalid_kinds.join(", ")
            );
            Condition::new(RESOLVED_REFS, false, reason::INVALID_ROUTE_KINDS, message)
        });
        let allows_http_route = supported_kinds.iter().any(|k| k == "HTTPRoute");
        if problem.is_none() && !allows_http_route {
            problem = Some("allowedRoutes.kinds admits no supported route kind".to_string());
        }
        ListenerModel {
            spec,
            id,
            port,
            hostname: spec.hostname.as_deref().map(str::to_ascii_lowercase),
            allowed_namespaces,
            allows_http_route,
            programmed: problem.is_none(),
            problem,
            supported_kinds: if http || spec.protocol == "HTTPS" {
                supported_kinds
            } else {
                Vec::new()
            },
            conditions,
            attached: BTreeSet::new(),
            routes: Vec::new(),
        }
    }

    /// Adds the Conflicted and Programmed conditions once conflicts are known.
    fn settle(&mut self) {
        if !self.conditions.iter().any(|c| c.type_ == CONFLICTED) {
            self.conditions.push(Condition::new(
                CONFLICTED,
                false,
                reason::NO_CONFLICTS,
                "No conflicts",
            ));
        }
        self.conditions.push(match &self.problem {
            None => Condition::new(PROGRAMMED, true, reason::PROGRAMMED, "Listener is programmed"),
            Some(problem) => Condition::new(PROGRAMMED, false, reason::INVALID, problem.clone()),
        });
    }
}

/// The route kinds a listener admits (default: HTTPRoute) and the ones it names that we do not
/// support. An empty list means the default, as the spec says.
fn route_kinds(spec: &GatewayListeners) -> (Vec<String>, Vec<String>) {
    let kinds = spec
        .allowed_routes
        .as_ref()
        .and_then(|a| a.kinds.as_deref())
        .unwrap_or_default();
    if kinds.is_empty() {
        return (vec!["HTTPRoute".to_string()], Vec::new());
    }
    let mut supported = Vec::new();
    let mut invalid = Vec::new();
    for kind in kinds {
        let group = kind.group.as_deref().unwrap_or(GATEWAY_GROUP);
        if group == GATEWAY_GROUP && kind.kind == "HTTPRoute" {
            if !supported.contains(&kind.kind) {
                supported.push(kind.kind.clone());
            }
        } else {
            invalid.push(format!("{group}/{}", kind.kind));
        }
    }
    (supported, invalid)
}

/// Two usable listeners of one Gateway on the same port with the same hostname cannot both be
/// served: both are marked Conflicted and neither is programmed.
fn mark_conflicts(listeners: &mut [ListenerModel<'_>]) {
    let mut groups: BTreeMap<(u16, Option<String>), Vec<usize>> = BTreeMap::new();
    for (i, l) in listeners.iter().enumerate() {
        if let (true, Some(port)) = (l.problem.is_none(), l.port) {
            groups.entry((port, l.hostname.clone())).or_default().push(i);
        }
    }
    for ((port, hostname), members) in groups.into_iter().filter(|(_, m)| m.len() > 1) {
        let names: Vec<String> = members
            .iter()
            .filter_map(|i| listeners.get(*i))
            .map(|l| l.spec.name.clone())
            .collect();
        let message = format!(
            "listeners {} share port {port} and hostname {}",
            names.join(", "),
            hostname.as_deref().unwrap_or("(none)")
        );
        for i in members {
            if let Some(l) = listeners.get_mut(i) {
                l.conditions.push(Condition::new(
                    CONFLICTED,
                    true,
                    reason::HOSTNAME_CONFLICT,
                    message.clone(),
                ));
                l.problem = Some(message.clone());
                l.programmed = false;
            }
        }
    }
}
