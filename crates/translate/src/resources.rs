//! [`ResourceSet`]: the typed objects translation reads, keyed by (kind, namespace, name).

use crate::objects::{Kind, Object, ObjectKey, DEFAULT_NAMESPACE};
use gateway_api::backendtlspolicies::BackendTlsPolicy;
use gateway_api::experimental::httproutes::HttpRoute;
use gateway_api::gatewayclasses::GatewayClass;
use gateway_api::gateways::Gateway;
use gateway_api::grpcroutes::GrpcRoute;
use gateway_api::referencegrants::ReferenceGrant;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use std::collections::BTreeMap;

/// (namespace, name) of a namespaced object.
type NsName = (String, String);

/// Every object translation reads. A later object with the same (kind, namespace, name)
/// replaces an earlier one; iteration is always sorted by (namespace, name), so the same
/// objects give the same translation whatever order they were inserted in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceSet {
    gateway_classes: BTreeMap<String, GatewayClass>,
    gateways: BTreeMap<NsName, Gateway>,
    http_routes: BTreeMap<NsName, HttpRoute>,
    grpc_routes: BTreeMap<NsName, GrpcRoute>,
    reference_grants: BTreeMap<NsName, ReferenceGrant>,
    ingresses: BTreeMap<NsName, Ingress>,
    ingress_classes: BTreeMap<String, IngressClass>,
    services: BTreeMap<NsName, Service>,
    endpoint_slices: BTreeMap<NsName, EndpointSlice>,
    secrets: BTreeMap<NsName, Secret>,
    config_maps: BTreeMap<NsName, ConfigMap>,
    namespaces: BTreeMap<String, Namespace>,
    backend_tls_policies: BTreeMap<NsName, BackendTlsPolicy>,
}

/// Accessors for one namespaced kind: sorted iteration and lookup by namespace and name.
macro_rules! namespaced {
    ($field:ident, $get:ident, $ty:ty) => {
        #[doc = concat!("All `", stringify!($ty), "` objects, sorted by (namespace, name).")]
        pub fn $field(&self) -> impl Iterator<Item = &$ty> + '_ {
            self.$field.values()
        }

        #[doc = concat!("The `", stringify!($ty), "` with this namespace and name.")]
        pub fn $get(&self, namespace: &str, name: &str) -> Option<&$ty> {
            self.$field.get(&(namespace.to_string(), name.to_string()))
        }
    };
}

/// Accessors for one cluster-scoped kind.
macro_rules! cluster_scoped {
    ($field:ident, $get:ident, $ty:ty) => {
        #[doc = concat!("All `", stringify!($ty), "` objects, sorted by name.")]
        pub fn $field(&self) -> impl Iterator<Item = &$ty> + '_ {
            self.$field.values()
        }

        #[doc = concat!("The `", stringify!($ty), "` with this name.")]
        pub fn $get(&self, name: &str) -> Option<&$ty> {
            self.$field.get(name)
        }
    };
}

impl ResourceSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores an object, replacing any earlier one with the same key. Namespaced objects
    /// without a namespace are stored (and their metadata rewritten) as `default`.
    /// Returns false for [`Object::Ignored`], which is not stored.
    pub fn insert(&mut self, object: Object) -> bool {
        let Some(ObjectKey { namespace, name, .. }) = object.key() else {
            return false;
        };
        let ns = namespace.unwrap_or_default();
        let key = (ns.clone(), name.clone());
        // The namespace written back is the one the object is keyed under, so readers never
        // have to repeat the `default` rule.
        let set_ns = |meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            if meta.namespace.as_deref().is_none_or(str::is_empty) {
                meta.namespace = Some(ns.clone());
            }
        };
        match object {
            Object::GatewayClass(o) => {
                self.gateway_classes.insert(name, *o);
            }
            Object::Gateway(mut o) => {
                set_ns(&mut o.metadata);
                self.gateways.insert(key, *o);
            }
            Object::HttpRoute(mut o) => {
                set_ns(&mut o.metadata);
                self.http_routes.insert(key, *o);
            }
            Object::GrpcRoute(mut o) => {
                set_ns(&mut o.metadata);
                self.grpc_routes.insert(key, *o);
            }
            Object::ReferenceGrant(mut o) => {
                set_ns(&mut o.metadata);
                self.reference_grants.insert(key, *o);
            }
            Object::Ingress(mut o) => {
                set_ns(&mut o.metadata);
                self.ingresses.insert(key, *o);
            }
            Object::IngressClass(o) => {
                self.ingress_classes.insert(name, *o);
            }
            Object::Service(mut o) => {
                set_ns(&mut o.metadata);
                self.services.insert(key, *o);
            }
            Object::EndpointSlice(mut o) => {
                set_ns(&mut o.metadata);
                self.endpoint_slices.insert(key, *o);
            }
            Object::Secret(mut o) => {
                set_ns(&mut o.metadata);
                self.secrets.insert(key, *o);
            }
            Object::ConfigMap(mut o) => {
                set_ns(&mut o.metadata);
                self.config_maps.insert(key, *o);
            }
            Object::BackendTlsPolicy(mut o) => {
                set_ns(&mut o.metadata);
                self.backend_tls_policies.insert(key, *o);
            }
            Object::Namespace(o) => {
                self.namespaces.insert(name, *o);
            }
            Object::Ignored { .. } => return false,
        }
        true
    }

    /// Removes the object with this key; true when there was one. A namespaced key without a
    /// namespace means `default`.
    pub fn remove(&mut self, key: &ObjectKey) -> bool {
        let ns = key
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        let nk = (ns, key.name.clone());
        match key.kind {
            Kind::GatewayClass => self.gateway_classes.remove(&key.name).is_some(),
            Kind::Gateway => self.gateways.remove(&nk).is_some(),
            Kind::HttpRoute => self.http_routes.remove(&nk).is_some(),
            Kind::GrpcRoute => self.grpc_routes.remove(&nk).is_some(),
            Kind::ReferenceGrant => self.reference_grants.remove(&nk).is_some(),
            Kind::Ingress => self.ingresses.remove(&nk).is_some(),
            Kind::IngressClass => self.ingress_classes.remove(&key.name).is_some(),
            Kind::Service => self.services.remove(&nk).is_some(),
            Kind::EndpointSlice => self.endpoint_slices.remove(&nk).is_some(),
            Kind::Secret => self.secrets.remove(&nk).is_some(),
            Kind::ConfigMap => self.config_maps.remove(&nk).is_some(),
            Kind::BackendTlsPolicy => self.backend_tls_policies.remove(&nk).is_some(),
            Kind::Namespace => self.namespaces.remove(&key.name).is_some(),
        }
    }

    /// Number of stored objects of every kind.
    pub fn len(&self) -> usize {
        self.gateway_classes.len()
            + self.gateways.len()
            + self.http_routes.len()
            + self.grpc_routes.len()
            + self.reference_grants.len()
            + self.ingresses.len()
            + self.ingress_classes.len()
            + self.services.len()
            + self.endpoint_slices.len()
            + self.secrets.len()
            + self.config_maps.len()
            + self.namespaces.len()
            + self.backend_tls_policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    cluster_scoped!(gateway_classes, gateway_class, GatewayClass);
    namespaced!(gateways, gateway, Gateway);
    namespaced!(http_routes, http_route, HttpRoute);
    namespaced!(grpc_routes, grpc_route, GrpcRoute);
    namespaced!(reference_grants, reference_grant, ReferenceGrant);
    namespaced!(ingresses, ingress, Ingress);
    cluster_scoped!(ingress_classes, ingress_class, IngressClass);
    namespaced!(services, service, Service);
    namespaced!(endpoint_slices, endpoint_slice, EndpointSlice);
    namespaced!(secrets, secret, Secret);
    namespaced!(config_maps, config_map, ConfigMap);
    namespaced!(backend_tls_policies, backend_tls_policy, BackendTlsPolicy);
    cluster_scoped!(namespaces, namespace, Namespace);
}

impl Extend<Object> for ResourceSet {
    fn extend<I: IntoIterator<Item = Object>>(&mut self, objects: I) {
        for object in objects {
            self.insert(object);
        }
    }
}

impl FromIterator<Object> for ResourceSet {
    fn from_iter<I: IntoIterator<Item = Object>>(objects: I) -> Self {
        let mut set = ResourceSet::new();
        set.extend(objects);
        set
    }
}
