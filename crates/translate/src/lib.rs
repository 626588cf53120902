//! fairlead-translate: Kubernetes objects (Gateway API, Ingress, Services, EndpointSlices) to
//! the fairlead routing [`Config`] and a [`StatusReport`], as one pure function.
//!
//! Every source (a manifests directory, the Kubernetes API, `fairlead check`) builds a
//! [`ResourceSet`] and calls [`translate`], so the modes can never disagree. This crate does no
//! I/O and reads no clock: the same objects always give byte-identical output.
//!
//! ```
//! use fairlead_translate::{parse_documents, translate, Options, ResourceSet};
//!
//! let (objects, errors) = parse_documents("app.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: app}\n");
//! assert!(errors.is_empty());
//! let set: ResourceSet = objects.into_iter().collect();
//! let translation = translate(&set, &Options::default());
//! assert!(translation.config.listeners.is_empty());
//! ```

mod attach;
mod backends;
mod conditions;
mod endpoints;
mod features;
mod gateway;
mod grants;
mod grpcroute;
mod hostnames;
mod httproute;
mod ingress;
mod meta;
mod objects;
mod parse;
mod resources;
mod selector;
mod tls;

pub use objects::{Kind, Object, ObjectKey, DEFAULT_NAMESPACE};
pub use parse::{parse_documents, parse_value, ParseError};
pub use resources::ResourceSet;

use backends::Resolver;
use fairlead_route::{Config, ObjectStatus, StatusReport, TlsMaterial};

/// What translation treats as ours, and the ports of the shared listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// GatewayClasses with this `spec.controllerName` are ours.
    pub controller_name: String,
    /// Ingresses naming this class (field or legacy annotation) are ours.
    pub ingress_class: String,
    /// IngressClasses with this `spec.controller` are ours.
    pub ingress_controller: String,
    /// Port of the listener shared by all Ingresses.
    pub http_port: u16,
    /// Port of the HTTPS listener shared by all Ingresses with `spec.tls`.
    pub https_port: u16,
    /// The time certificates are checked against (seconds since the Unix epoch): an expired or
    /// not yet valid certificate is reported and not served. `None` skips the validity-period
    /// check. Passed in rather than read, so translation stays a pure function of its inputs.
    pub now_unix: Option<i64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            controller_name: "fairlead.dev/gateway-controller".to_string(),
            ingress_class: "fairlead".to_string(),
            ingress_controller: "fairlead.dev/ingress-controller".to_string(),
            http_port: 8080,
            https_port: 8443,
            now_unix: None,
        }
    }
}

/// The result of [`translate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translation {
    /// Listeners sorted by (port, id), routes in each sorted by id; `version` is 0.
    pub config: Config,
    /// Status of every object that is ours (and of EndpointSlices with problems), sorted by
    /// (kind, namespace, name).
    pub status: StatusReport,
    /// Certificates and CA bundles the config refers to by id.
    pub tls: TlsMaterial,
}

/// Translates a set of objects into routing config and status. Pure and deterministic.
pub fn translate(resources: &ResourceSet, options: &Options) -> Translation {
    let mut resolver = Resolver::new(resources);
    let mut statuses: Vec<ObjectStatus> = Vec::new();
    let mut listeners = Vec::new();
    let mut material = TlsMaterial::default();

    // Ingress first: the ports its listeners use are taken before any Gateway's, since they come
    // from the operator's flags, and a Gateway wanting another protocol there must be told.
    let (ingress_listeners, ingress_statuses) =
        ingress::translate(resources, options, &mut resolver, &mut material);
    let reserved: Vec<gateway::ReservedPort> = ingress_listeners
        .iter()
        .map(|l| gateway::ReservedPort::ingress(l.port, l.protocol))
        .collect();

    let (classes, class_statuses) = gateway::our_classes(resources, options);
    statuses.extend(class_statuses);
    let mut tls_inputs = gateway::TlsInputs {
        resources,
        now_unix: options.now_unix,
        material: &mut material,
    };
    let mut gateways = gateway::our_gateways(resources, &classes, &mut tls_inputs, &reserved);
    let mut routes = httproute::inputs(resources, &mut resolver, &gateways);
    routes.extend(grpcroute::inputs(resources, &mut resolver, &gateways));
    let route_statuses = attach::attach_all(resources, &routes, &mut gateways);
    record_policy_ancestors(&mut resolver, &routes, &route_statuses);
    statuses.extend(route_statuses);
    for model in gateways.into_values() {
        let (gateway_listeners, status) = model.finish();
        listeners.extend(gateway_listeners);
        statuses.push(status);
    }

    listeners.extend(ingress_listeners);
    statuses.extend(ingress_statuses);

    let (policy_statuses, policy_material) = resolver.backend_tls.finish();
    statuses.extend(policy_statuses);
    material.ca_bundles.extend(policy_material.ca_bundles);
    statuses.extend(resolver.endpoints.into_statuses());

    listeners.sort_by(|a, b| (a.port, &a.id).cmp(&(b.port, &b.id)));
    statuses.sort_by(|a, b| a.object.cmp(&b.object));
    Translation {
        config: Config {
            version: 0,
            listeners,
        },
        status: StatusReport { objects: statuses },
        tls: material,
    }
}

/// A BackendTLSPolicy's status ancestors are the Gateways that accepted a route using it.
fn record_policy_ancestors(
    resolver: &mut Resolver<'_>,
    routes: &[attach::RouteInput<'_>],
    statuses: &[ObjectStatus],
) {
    for (route, status) in routes.iter().zip(statuses) {
        if route.rules.backend_tls.is_empty() {
            continue;
        }
        let accepted_by = status.parents.iter().filter(|p| {
            p.conditions
                .iter()
                .any(|c| c.type_ == conditions::ACCEPTED && c.status)
        });
        for parent in accepted_by {
            resolver.backend_tls.add_ancestor(
                &route.rules.backend_tls,
                &parent.parent.namespace,
                &parent.parent.name,
            );
        }
    }
}
