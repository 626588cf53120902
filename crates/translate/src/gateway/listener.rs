//! One Gateway listener as routes see it: what it admits, why it is not served, and the
//! conditions its status carries.

use crate::backends::RefProblem;
use crate::conditions::{reason, ACCEPTED, CONFLICTED, OVERLAPPING_TLS_CONFIG, PROGRAMMED, RESOLVED_REFS};
use fairlead_route::{Condition, ListenerTls, Route};
use gateway_api::gateways::{
    GatewayListeners, GatewayListenersAllowedRoutesNamespacesFrom as FromNamespaces,
    GatewayListenersAllowedRoutesNamespacesSelector as NamespaceSelector, GatewayListenersTlsMode,
};
use std::collections::BTreeSet;

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
/// The route kinds an HTTP or HTTPS listener serves, in the order supportedKinds lists them.
pub(crate) const ROUTE_KINDS: [&str; 2] = ["HTTPRoute", "GRPCRoute"];

/// Which namespaces may attach routes to a listener.
pub(crate) enum AllowedNamespaces<'a> {
    Same,
    All,
    Selector(Option<&'a NamespaceSelector>),
}

/// A route attached to a listener: (kind, namespace, name).
pub(crate) type AttachedRoute = (&'static str, String, String);

pub(crate) struct ListenerModel<'a> {
    pub spec: &'a GatewayListeners,
    pub id: String,
    /// `None` when the port is out of range.
    pub port: Option<u16>,
    /// Lowercased.
    pub hostname: Option<String>,
    pub allowed_namespaces: AllowedNamespaces<'a>,
    /// Route kinds admitted; reported as supportedKinds on HTTP and HTTPS listeners.
    kinds: Vec<&'static str>,
    /// Kinds named in allowedRoutes.kinds that we do not serve, as `group/kind`.
    invalid_kinds: Vec<String>,
    /// Why the listener itself cannot be accepted: (Accepted reason, message).
    refused: Option<(&'static str, String)>,
    /// Conflicted=True: (reason, message). Set by `super::conflicts`.
    pub conflict: Option<(&'static str, String)>,
    /// Why the Gateway as a whole is not accepted; no listener of it is served then.
    pub gateway_refused: Option<String>,
    /// HTTPS: the certificate and client CA ids the listener terminates with.
    pub tls: Option<ListenerTls>,
    /// certificateRefs and CA certificate refs that did not resolve, for ResolvedRefs.
    pub tls_problems: Vec<RefProblem>,
    /// HTTPS: why no certificate can be served as written. The listener still goes into the
    /// config with its certificate ids, so the proxy keeps serving the last good certificate it
    /// had under them, but it is not Programmed.
    pub no_valid_certificate: Option<String>,
    /// HTTPS: why the listener cannot be served at all (no certificate id to serve).
    pub unservable: Option<String>,
    /// Said on Accepted when the listener is accepted with a caveat.
    pub accepted_note: Option<String>,
    /// OverlappingTLSConfig=True message. Set by `super::conflicts`.
    pub overlapping: Option<String>,
    /// Routes whose rules were added, so several parentRefs selecting the listener add them once.
    pub attached: BTreeSet<AttachedRoute>,
    /// Routes counted in `attachedRoutes`. The spec bases attachment "solely on" allowedRoutes
    /// and the parentRef: listener problems, hostnames and the route's own acceptance do not
    /// matter, so this is a superset of `attached`.
    pub counted: BTreeSet<AttachedRoute>,
    pub routes: Vec<Route>,
}

impl<'a> ListenerModel<'a> {
    pub(crate) fn new(spec: &'a GatewayListeners, id: String) -> Self {
        let allowed = spec.allowed_routes.as_ref();
        let namespaces = allowed.and_then(|a| a.namespaces.as_ref());
        let allowed_namespaces = match namespaces.and_then(|n| n.from.as_ref()) {
            None | Some(FromNamespaces::Same) => AllowedNamespaces::Same,
            Some(FromNamespaces::All) => AllowedNamespaces::All,
            Some(FromNamespaces::Selector) => {
                AllowedNamespaces::Selector(namespaces.and_then(|n| n.selector.as_ref()))
            }
        };
        let (kinds, invalid_kinds) = route_kinds(spec);
        let port = u16::try_from(spec.port).ok().filter(|p| *p != 0);
        let refused = if port.is_none() {
            Some((
                reason::PORT_UNAVAILABLE,
                format!("port {} is out of range", spec.port),
            ))
        } else if spec.protocol == "HTTPS" && is_passthrough(spec) {
            let message = "tls.mode Passthrough is not supported on an HTTPS listener: HTTPS \
                           listeners terminate TLS (mode Terminate); passthrough needs protocol TLS \
                           and TLSRoute, which fairlead does not serve";
            Some((reason::UNSUPPORTED_VALUE, message.to_string()))
        } else if spec.protocol != "HTTP" && spec.protocol != "HTTPS" {
            let message = format!(
                "protocol {} is not supported; fairlead serves HTTP and HTTPS listeners",
                spec.protocol
            );
            Some((reason::UNSUPPORTED_PROTOCOL, message))
        } else {
            None
        };
        ListenerModel {
            spec,
            id,
            port,
            hostname: spec.hostname.as_deref().map(str::to_ascii_lowercase),
            allowed_namespaces,
            kinds,
            invalid_kinds,
            refused,
            conflict: None,
            gateway_refused: None,
            tls: None,
            tls_problems: Vec::new(),
            no_valid_certificate: None,
            unservable: None,
            accepted_note: None,
            overlapping: None,
            attached: BTreeSet::new(),
            counted: BTreeSet::new(),
            routes: Vec::new(),
        }
    }

    pub(crate) fn protocol(&self) -> &str {
        &self.spec.protocol
    }

    /// True for an HTTPS listener that terminates TLS (and is not refused for its settings).
    pub(crate) fn terminates_tls(&self) -> bool {
        self.spec.protocol == "HTTPS" && self.refused.is_none()
    }

    /// Refuses the listener (Accepted=False) unless it is already refused for another reason.
    pub(crate) fn refuse(&mut self, reason: &'static str, message: String) {
        if self.refused.is_none() {
            self.refused = Some((reason, message));
        }
    }

    /// True when allowedRoutes.kinds admits routes of this kind.
    pub(crate) fn allows(&self, kind: &str) -> bool {
        self.kinds.contains(&kind)
    }

    /// Why the listener is not programmed (for its status and for routes it refuses), or `None`
    /// when it goes into the config.
    pub(crate) fn problem(&self) -> Option<String> {
        if let Some((_, message)) = &self.refused {
            return Some(message.clone());
        }
        if let Some((_, message)) = &self.conflict {
            return Some(message.clone());
        }
        if let Some(message) = &self.gateway_refused {
            return Some(message.clone());
        }
        if let Some(message) = &self.unservable {
            return Some(message.clone());
        }
        self.kinds
            .is_empty()
            .then(|| "allowedRoutes.kinds admits no supported route kind".to_string())
    }

    /// Why the listener is Programmed=False: a [`Self::problem`], or no certificate that is
    /// valid as written (the listener is then still in the config, see `no_valid_certificate`).
    pub(crate) fn not_programmed(&self) -> Option<String> {
        self.problem().or_else(|| self.no_valid_certificate.clone())
    }

    /// Accepted, ResolvedRefs, Conflicted and Programmed, always all four, then
    /// OverlappingTLSConfig when it is True (the spec never sets it to False).
    pub(crate) fn conditions(&self) -> Vec<Condition> {
        let accepted = match (&self.refused, &self.conflict) {
            (Some((why, message)), _) => Condition::new(ACCEPTED, false, why, message.clone()),
            // The spec forbids serving any of a set of indistinct listeners; conformance
            // (GatewayListenerProtocolAndRouteKindConflicts) expects reason Invalid here.
            (None, Some((_, message))) => Condition::new(ACCEPTED, false, reason::INVALID, message.clone()),
            (None, None) => {
                let message = match &self.accepted_note {
                    Some(note) => format!("Listener is accepted; {note}"),
                    None => "Listener is accepted".to_string(),
                };
                Condition::new(ACCEPTED, true, reason::ACCEPTED, message)
            }
        };
        // TLS references come first: the spec names their reasons for HTTPS listeners, and the
        // message lists every problem whatever the reason shown.
        let mut problems: Vec<String> = self.tls_problems.iter().map(|p| p.message.clone()).collect();
        let mut first_reason = self.tls_problems.first().map(|p| p.reason);
        if !self.invalid_kinds.is_empty() {
            problems.push(format!(
                "unsupported route kinds: {}; only {} are supported",
                self.invalid_kinds.join(", "),
                ROUTE_KINDS.join(" and ")
            ));
            first_reason.get_or_insert(reason::INVALID_ROUTE_KINDS);
        }
        let resolved_refs = match first_reason {
            None => Condition::new(
                RESOLVED_REFS,
                true,
                reason::RESOLVED_REFS,
                "All references resolved",
            ),
            Some(why) => Condition::new(RESOLVED_REFS, false, why, problems.join("; ")),
        };
        let conflicted = match &self.conflict {
            Some((why, message)) => Condition::new(CONFLICTED, true, why, message.clone()),
            None => Condition::new(CONFLICTED, false, reason::NO_CONFLICTS, "No conflicts"),
        };
        let programmed = match self.not_programmed() {
            Some(problem) => Condition::new(PROGRAMMED, false, reason::INVALID, problem),
            None => Condition::new(PROGRAMMED, true, reason::PROGRAMMED, "Listener is programmed"),
        };
        let mut conditions = vec![accepted, resolved_refs, conflicted, programmed];
        if let Some(message) = &self.overlapping {
            conditions.push(Condition::new(
                OVERLAPPING_TLS_CONFIG,
                true,
                reason::OVERLAPPING_HOSTNAMES,
                message.clone(),
            ));
        }
        conditions
    }

    /// supportedKinds: the admitted kinds on listeners whose protocol carries HTTP routes.
    pub(crate) fn supported_kinds(&self) -> Vec<String> {
        if matches!(self.protocol(), "HTTP" | "HTTPS") {
            self.kinds.iter().map(|k| k.to_string()).collect()
        } else {
            Vec::new()
        }
    }
}

/// `tls.mode: Passthrough` (the default is Terminate).
fn is_passthrough(spec: &GatewayListeners) -> bool {
    spec.tls
        .as_ref()
        .and_then(|t| t.mode.as_ref())
        .is_some_and(|m| *m == GatewayListenersTlsMode::Passthrough)
}

/// The route kinds a listener admits (default: every kind we serve) and the ones it names that
/// we do not serve. An empty list means the default, as the spec says.
fn route_kinds(spec: &GatewayListeners) -> (Vec<&'static str>, Vec<String>) {
    let kinds = spec
        .allowed_routes
        .as_ref()
        .and_then(|a| a.kinds.as_deref())
        .unwrap_or_default();
    if kinds.is_empty() {
        return (ROUTE_KINDS.to_vec(), Vec::new());
    }
    let mut supported = Vec::new();
    let mut invalid = Vec::new();
    for kind in kinds {
        let group = kind.group.as_deref().unwrap_or(GATEWAY_GROUP);
        let known = ROUTE_KINDS.iter().find(|k| **k == kind.kind);
        match known {
            Some(known) if group == GATEWAY_GROUP => {
                if !supported.contains(known) {
                    supported.push(*known);
                }
            }
            _ => invalid.push(format!("{group}/{}", kind.kind)),
        }
    }
    (supported, invalid)
}
