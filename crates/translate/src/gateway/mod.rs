//! GatewayClasses and Gateways: which are ours, their listeners, and their status.
//!
//! Listeners are modelled first ([`GatewayModel`]), conflicts inside each Gateway and between
//! Gateways sharing a port are marked ([`conflicts`]), routes then attach to them
//! ([`crate::attach`]), and [`GatewayModel::finish`] emits the programmed listeners into the
//! config and the status with attachedRoutes counted.

mod conflicts;
mod listener;
mod tls;

pub(crate) use listener::{AllowedNamespaces, ListenerModel};
pub(crate) use tls::TlsInputs;

use crate::conditions::reason_ext::UNSUPPORTED_ADDRESS;
use crate::conditions::{reason, ACCEPTED, PROGRAMMED};
use crate::resources::ResourceSet;
use crate::{features, meta, Options};
use fairlead_route::{Condition, Listener, ListenerProtocol, ListenerStatus, ObjectStatus};
use gateway_api::gateways::Gateway;
use std::collections::{BTreeMap, BTreeSet};

/// Our Gateways keyed by (namespace, name).
pub(crate) type Gateways<'a> = BTreeMap<(String, String), GatewayModel<'a>>;

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
            supported_features: features::SUPPORTED_FEATURES
                .iter()
                .map(|f| f.to_string())
                .collect(),
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
    /// Why the Gateway as a whole is not accepted.
    refused: Option<String>,
}

/// Models every Gateway whose class is one of ours, with listener conflicts marked and the
/// TLS settings of HTTPS listeners resolved (their PEM goes into `inputs.material`).
pub(crate) fn our_gateways<'a>(
    resources: &'a ResourceSet,
    classes: &BTreeSet<String>,
    inputs: &mut TlsInputs<'_, '_>,
    reserved: &[ReservedPort],
) -> Gateways<'a> {
    let mut gateways: Gateways<'a> = resources
        .gateways()
        .filter(|g| classes.contains(&g.spec.gateway_class_name))
        .map(|g| {
            let key = (
                meta::namespace(&g.metadata).to_string(),
                meta::name(&g.metadata).to_string(),
            );
            (key, GatewayModel::new(g, inputs))
        })
        .collect();
    conflicts::across_gateways(&mut gateways, reserved);
    gateways
}

/// A port taken before any Gateway's, with the protocol it speaks and who holds it.
#[derive(Debug, Clone)]
pub(crate) struct ReservedPort {
    pub port: u16,
    /// `HTTP` or `HTTPS`, as Gateway listeners name protocols.
    pub protocol: &'static str,
    pub holder: String,
}

impl ReservedPort {
    /// The port of the Ingress listener speaking `protocol`.
    pub(crate) fn ingress(port: u16, protocol: ListenerProtocol) -> Self {
        let (protocol, flag) = match protocol {
            ListenerProtocol::Http => ("HTTP", "--http-port"),
            ListenerProtocol::Https => ("HTTPS", "--https-port"),
        };
        ReservedPort {
            port,
            protocol,
            holder: format!("Ingress rules ({flag})"),
        }
    }
}

impl<'a> GatewayModel<'a> {
    fn new(gateway: &'a Gateway, inputs: &mut TlsInputs<'_, '_>) -> Self {
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
            let mut listener = ListenerModel::new(spec, format!("gateway/{ns}/{name}/{}", spec.name));
            tls::configure(&mut listener, gateway, inputs);
            listeners.push(listener);
        }
        conflicts::within_gateway(&mut listeners);
        conflicts::overlapping_tls(&mut listeners);
        let refused = unsupported_addresses(gateway);
        if let Some(why) = &refused {
            for listener in &mut listeners {
                listener.gateway_refused = Some(format!("the Gateway is not accepted: {why}"));
            }
        }
        GatewayModel {
            gateway,
            listeners,
            duplicates,
            refused,
        }
    }

    pub(crate) fn namespace(&self) -> &str {
        meta::namespace(&self.gateway.metadata)
    }

    pub(crate) fn name(&self) -> &str {
        meta::name(&self.gateway.metadata)
    }

    pub(crate) fn accepted(&self) -> bool {
        self.refused.is_none()
    }

    /// Emits the programmed listeners (with their routes, sorted by id) and the status.
    pub(crate) fn finish(self) -> (Vec<Listener>, ObjectStatus) {
        let (accepted, programmed) = self.gateway_conditions();
        let mut listeners = Vec::new();
        let mut statuses = Vec::new();
        for listener in self.listeners {
            statuses.push(ListenerStatus {
                name: listener.spec.name.clone(),
                attached_routes: u32::try_from(listener.counted.len()).unwrap_or(u32::MAX),
                supported_kinds: listener.supported_kinds(),
                conditions: listener.conditions(),
            });
            if let (None, Some(port)) = (listener.problem(), listener.port) {
                let mut routes = listener.routes;
                routes.sort_by(|a, b| a.id.cmp(&b.id));
                routes.dedup_by(|a, b| a.id == b.id);
                let protocol = if listener.tls.is_some() {
                    ListenerProtocol::Https
                } else {
                    ListenerProtocol::Http
                };
                listeners.push(Listener {
                    id: listener.id,
                    port,
                    protocol,
                    hostname: listener.hostname,
                    routes,
                    tls: listener.tls,
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

    /// The Gateway's Accepted and Programmed conditions.
    fn gateway_conditions(&self) -> (Condition, Condition) {
        if let Some(why) = &self.refused {
            return (
                Condition::new(ACCEPTED, false, UNSUPPORTED_ADDRESS, why.clone()),
                Condition::new(
                    PROGRAMMED,
                    false,
                    reason::INVALID,
                    "the Gateway is not accepted, so none of its listeners is programmed",
                ),
            );
        }
        let total = self.listeners.len() + self.duplicates.len();
        let mut invalid: Vec<String> = self
            .listeners
            .iter()
            .filter_map(|l| l.problem().map(|p| format!("{} ({p})", l.spec.name)))
            .collect();
        invalid.extend(self.duplicates.iter().map(|d| format!("{d} (duplicate name)")));
        let valid = total.saturating_sub(invalid.len());
        // A listener served without a valid certificate (the proxy keeps its last good one) is
        // valid but not programmed as written.
        let programmed_count = self
            .listeners
            .iter()
            .filter(|l| l.not_programmed().is_none())
            .count();
        let accepted = if invalid.is_empty() {
            Condition::new(ACCEPTED, true, reason::ACCEPTED, "Gateway is accepted")
        } else {
            let message = format!(
                "{} of {total} listeners are not valid: {}",
                invalid.len(),
                invalid.join("; ")
            );
            Condition::new(ACCEPTED, valid > 0, reason::LISTENERS_NOT_VALID, message)
        };
        let programmed = if programmed_count > 0 {
            Condition::new(
                PROGRAMMED,
                true,
                reason::PROGRAMMED,
                format!("{programmed_count} of {total} listeners are programmed"),
            )
        } else {
            Condition::new(
                PROGRAMMED,
                false,
                reason::INVALID,
                "no listener can be programmed",
            )
        };
        (accepted, programmed)
    }
}

/// `spec.addresses` asks for addresses this process cannot provide: it serves on the ports of
/// the host it runs on and can neither assign nor claim an address. The spec's reason for an
/// address that cannot be supported is UnsupportedAddress (on Accepted).
fn unsupported_addresses(gateway: &Gateway) -> Option<String> {
    let addresses = gateway.spec.addresses.as_deref().unwrap_or_default();
    if addresses.is_empty() {
        return None;
    }
    let listed: Vec<String> = addresses
        .iter()
        .map(|a| {
            let kind = a.r#type.as_deref().unwrap_or("IPAddress");
            match a.value.as_deref() {
                Some(value) if !value.is_empty() => format!("{kind} {value}"),
                _ => format!("{kind} (no value)"),
            }
        })
        .collect();
    Some(format!(
        "spec.addresses ({}) cannot be honoured: fairlead serves on the ports of the host it runs \
         on and cannot assign or claim addresses; remove spec.addresses",
        listed.join(", ")
    ))
}
