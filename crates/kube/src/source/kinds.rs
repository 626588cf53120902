//! The resources the source watches: API group, version, kind, plural and scope, and which of
//! them belong to the Gateway API (whose CRDs may be missing).

use fairlead_translate::Kind;
use kube::discovery::ApiResource;

/// One watched resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watched {
    pub kind: Kind,
    /// API group; `""` for the core group.
    pub group: &'static str,
    pub version: &'static str,
    /// An older version to watch when `version` is not served (a cluster with older CRDs).
    pub older_version: Option<&'static str>,
    /// `kind` as the API names it.
    pub api_kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// Served by a Gateway API CRD: a 404 means "not installed", not an error.
    pub gateway_api: bool,
    /// Field selector narrowing what is listed (Secrets: only TLS ones).
    pub field_selector: Option<&'static str>,
}

const GW: &str = "gateway.networking.k8s.io";

const fn core(kind: Kind, api_kind: &'static str, plural: &'static str, namespaced: bool) -> Watched {
    Watched {
        kind,
        group: "",
        version: "v1",
        older_version: None,
        api_kind,
        plural,
        namespaced,
        gateway_api: false,
        field_selector: None,
    }
}

const fn gateway(kind: Kind, api_kind: &'static str, plural: &'static str, namespaced: bool) -> Watched {
    Watched {
        kind,
        group: GW,
        version: "v1",
        older_version: None,
        api_kind,
        plural,
        namespaced,
        gateway_api: true,
        field_selector: None,
    }
}

/// Everything translation reads. Secrets are only ever read as certificates, so only
/// `kubernetes.io/tls` ones are fetched: a cluster's other Secrets never reach this process's
/// memory.
pub const WATCHED: &[Watched] = &[
    gateway(Kind::GatewayClass, "GatewayClass", "gatewayclasses", false),
    gateway(Kind::Gateway, "Gateway", "gateways", true),
    gateway(Kind::HttpRoute, "HTTPRoute", "httproutes", true),
    gateway(Kind::GrpcRoute, "GRPCRoute", "grpcroutes", true),
    gateway(Kind::ReferenceGrant, "ReferenceGrant", "referencegrants", true),
    // v1 since Gateway API 1.4; clusters with older CRDs serve only v1alpha3 (same fields).
    Watched {
        older_version: Some("v1alpha3"),
        ..gateway(
            Kind::BackendTlsPolicy,
            "BackendTLSPolicy",
            "backendtlspolicies",
            true,
        )
    },
    Watched {
        group: "networking.k8s.io",
        ..core(Kind::Ingress, "Ingress", "ingresses", true)
    },
    Watched {
        group: "networking.k8s.io",
        ..core(Kind::IngressClass, "IngressClass", "ingressclasses", false)
    },
    core(Kind::Service, "Service", "services", true),
    Watched {
        group: "discovery.k8s.io",
        ..core(Kind::EndpointSlice, "EndpointSlice", "endpointslices", true)
    },
    Watched {
        field_selector: Some("type=kubernetes.io/tls"),
        ..core(Kind::Secret, "Secret", "secrets", true)
    },
    core(Kind::ConfigMap, "ConfigMap", "configmaps", true),
    core(Kind::Namespace, "Namespace", "namespaces", false),
];

impl Watched {
    pub fn api_version(&self) -> String {
        self.api_version_of(self.version)
    }

    /// `group/version` (just `version` for core) for one of the versions watched.
    pub fn api_version_of(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// `plural.group` as the API server names resources in messages (`plural` for core).
    pub fn resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn api_resource(&self, version: &str) -> ApiResource {
        ApiResource {
            group: self.group.to_string(),
            version: version.to_string(),
            api_version: self.api_version_of(version),
            kind: self.api_kind.to_string(),
            plural: self.plural.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_translated_kind_is_watched_once() {
        let mut kinds: Vec<Kind> = WATCHED.iter().map(|w| w.kind).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), WATCHED.len(), "a kind is watched twice");
        assert_eq!(kinds.len(), 13);
        for w in WATCHED {
            assert_eq!(w.namespaced, w.kind.is_namespaced(), "{}", w.api_kind);
            assert_eq!(w.api_kind, w.kind.as_str());
        }
    }

    #[test]
    fn resource_names_read_like_the_api_servers() {
        let gw = WATCHED.iter().find(|w| w.kind == Kind::Gateway).unwrap();
        assert_eq!(gw.resource(), "gateways.gateway.networking.k8s.io");
        assert_eq!(gw.api_version(), "gateway.networking.k8s.io/v1");
        let svc = WATCHED.iter().find(|w| w.kind == Kind::Service).unwrap();
        assert_eq!(svc.resource(), "services");
        assert_eq!(svc.api_version(), "v1");
    }
}
