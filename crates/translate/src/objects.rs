//! The typed Kubernetes objects translation reads, and the keys that identify them.

use gateway_api::backendtlspolicies::BackendTlsPolicy;
use gateway_api::experimental::httproutes::HttpRoute;
use gateway_api::gatewayclasses::GatewayClass;
use gateway_api::gateways::Gateway;
use gateway_api::grpcroutes::GrpcRoute;
use gateway_api::referencegrants::ReferenceGrant;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// One parsed object. Typed objects are boxed: they differ a lot in size.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    GatewayClass(Box<GatewayClass>),
    Gateway(Box<Gateway>),
    HttpRoute(Box<HttpRoute>),
    GrpcRoute(Box<GrpcRoute>),
    /// `gateway.networking.k8s.io/v1` or `v1beta1` (same schema).
    ReferenceGrant(Box<ReferenceGrant>),
    Ingress(Box<Ingress>),
    IngressClass(Box<IngressClass>),
    Service(Box<Service>),
    EndpointSlice(Box<EndpointSlice>),
    Secret(Box<Secret>),
    /// CA bundles (`ca.crt`) for client certificate and backend TLS validation.
    ConfigMap(Box<ConfigMap>),
    Namespace(Box<Namespace>),
    /// `gateway.networking.k8s.io/v1` (or `v1alpha3`, same fields).
    BackendTlsPolicy(Box<BackendTlsPolicy>),
    /// A kind (or API version) translation does not read.
    Ignored {
        api_version: String,
        kind: String,
        name: String,
    },
}

/// The kinds a [`crate::ResourceSet`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    GatewayClass,
    Gateway,
    HttpRoute,
    GrpcRoute,
    ReferenceGrant,
    Ingress,
    IngressClass,
    Service,
    EndpointSlice,
    Secret,
    ConfigMap,
    Namespace,
    BackendTlsPolicy,
}

impl Kind {
    /// The Kubernetes kind name, as used in status (`HTTPRoute`, `EndpointSlice`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::GatewayClass => "GatewayClass",
            Kind::Gateway => "Gateway",
            Kind::HttpRoute => "HTTPRoute",
            Kind::GrpcRoute => "GRPCRoute",
            Kind::ReferenceGrant => "ReferenceGrant",
            Kind::Ingress => "Ingress",
            Kind::IngressClass => "IngressClass",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
            Kind::Namespace => "Namespace",
            Kind::BackendTlsPolicy => "BackendTLSPolicy",
        }
    }

    /// Cluster-scoped kinds have no namespace.
    pub fn is_namespaced(self) -> bool {
        !matches!(self, Kind::GatewayClass | Kind::IngressClass | Kind::Namespace)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies an object in a [`crate::ResourceSet`]. `namespace` is `None` for cluster-scoped
/// kinds; for namespaced kinds `None` means `default`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn new(kind: Kind, namespace: Option<&str>, name: &str) -> Self {
        ObjectKey {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }
}

impl Object {
    /// The object's metadata, `None` for [`Object::Ignored`].
    pub fn metadata(&self) -> Option<&ObjectMeta> {
        Some(match self {
            Object::GatewayClass(o) => &o.metadata,
            Object::Gateway(o) => &o.metadata,
            Object::HttpRoute(o) => &o.metadata,
            Object::GrpcRoute(o) => &o.metadata,
            Object::ReferenceGrant(o) => &o.metadata,
            Object::Ingress(o) => &o.metadata,
            Object::IngressClass(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::EndpointSlice(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Namespace(o) => &o.metadata,
            Object::BackendTlsPolicy(o) => &o.metadata,
            Object::Ignored { .. } => return None,
        })
    }

    /// The kind, `None` for [`Object::Ignored`].
    pub fn kind(&self) -> Option<Kind> {
        Some(match self {
            Object::GatewayClass(_) => Kind::GatewayClass,
            Object::Gateway(_) => Kind::Gateway,
            Object::HttpRoute(_) => Kind::HttpRoute,
            Object::GrpcRoute(_) => Kind::GrpcRoute,
            Object::ReferenceGrant(_) => Kind::ReferenceGrant,
            Object::Ingress(_) => Kind::Ingress,
            Object::IngressClass(_) => Kind::IngressClass,
            Object::Service(_) => Kind::Service,
            Object::EndpointSlice(_) => Kind::EndpointSlice,
            Object::Secret(_) => Kind::Secret,
            Object::ConfigMap(_) => Kind::ConfigMap,
            Object::Namespace(_) => Kind::Namespace,
            Object::BackendTlsPolicy(_) => Kind::BackendTlsPolicy,
            Object::Ignored { .. } => return None,
        })
    }

    /// metadata.name (or the ignored object's name); empty when missing.
    pub fn name(&self) -> &str {
        match self {
            Object::Ignored { name, .. } => name,
            other => other
                .metadata()
                .and_then(|m| m.name.as_deref())
                .unwrap_or_default(),
        }
    }

    /// The key this object is stored under, with the `default` namespace filled in for
    /// namespaced kinds. `None` for [`Object::Ignored`].
    pub fn key(&self) -> Option<ObjectKey> {
        let kind = self.kind()?;
        let namespace = kind.is_namespaced().then(|| {
            self.metadata()
                .and_then(|m| m.namespace.clone())
                .filter(|ns| !ns.is_empty())
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
        });
        Some(ObjectKey {
            kind,
            namespace,
            name: self.name().to_string(),
        })
    }
}

/// The namespace of namespaced objects that do not name one, as `kubectl apply` would use.
pub const DEFAULT_NAMESPACE: &str = "default";
