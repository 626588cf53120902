//! The resource kinds the fake serves: group, versions, plural, scope and whether `.status` is
//! a subresource. One storage per group and plural, shared by all of its versions, as the real
//! server converts between served versions of one resource.

/// A resource kind the fake serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindInfo {
    /// API group; `""` for the core group (`/api/v1`).
    pub group: &'static str,
    /// Served versions; the first is the preferred one, used for storage and discovery.
    pub versions: &'static [&'static str],
    /// `kind`, e.g. `"HTTPRoute"`.
    pub kind: &'static str,
    /// Resource name in paths, e.g. `"httproutes"`.
    pub plural: &'static str,
    /// Namespaced (true) or cluster-scoped (false).
    pub namespaced: bool,
    /// `.status` is a subresource: main writes ignore it and `/status` writes change only it.
    pub status_subresource: bool,
    /// Field selector labels supported besides `metadata.name` and `metadata.namespace`, as
    /// dotted JSON paths (e.g. `"type"` for Secrets).
    pub field_labels: &'static [&'static str],
}

impl KindInfo {
    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// The preferred version (the first served one).
    pub fn preferred_version(&self) -> &'static str {
        self.versions.first().copied().unwrap_or("v1")
    }

    /// `plural.group` as the real server names a resource in messages (`plural` for core).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether `version` is served.
    pub fn serves(&self, version: &str) -> bool {
        self.versions.contains(&version)
    }
}

const GW: &str = "gateway.networking.k8s.io";

const fn kind(
    group: &'static str,
    versions: &'static [&'static str],
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    status_subresource: bool,
) -> KindInfo {
    KindInfo {
        group,
        versions,
        kind,
        plural,
        namespaced,
        status_subresource,
        field_labels: &[],
    }
}

/// The kinds fairlead reads and writes, registered by default.
pub const DEFAULT_KINDS: &[KindInfo] = &[
    kind(GW, &["v1"], "GatewayClass", "gatewayclasses", false, true),
    kind(GW, &["v1"], "Gateway", "gateways", true, true),
    kind(GW, &["v1"], "HTTPRoute", "httproutes", true, true),
    kind(GW, &["v1"], "GRPCRoute", "grpcroutes", true, true),
    kind(
        GW,
        &["v1", "v1beta1"],
        "ReferenceGrant",
        "referencegrants",
        true,
        false,
    ),
    kind(GW, &["v1"], "BackendTLSPolicy", "backendtlspolicies", true, true),
    kind(GW, &["v1"], "ListenerSet", "listenersets", true, true),
    kind(GW, &["v1", "v1alpha2"], "TLSRoute", "tlsroutes", true, true),
    kind(GW, &["v1alpha2"], "TCPRoute", "tcproutes", true, true),
    kind(GW, &["v1alpha2"], "UDPRoute", "udproutes", true, true),
    kind("networking.k8s.io", &["v1"], "Ingress", "ingresses", true, true),
    kind(
        "networking.k8s.io",
        &["v1"],
        "IngressClass",
        "ingressclasses",
        false,
        false,
    ),
    kind("", &["v1"], "Service", "services", true, true),
    kind("", &["v1"], "ConfigMap", "configmaps", true, false),
    KindInfo {
        field_labels: &["type"],
        ..kind("", &["v1"], "Secret", "secrets", true, false)
    },
    kind("", &["v1"], "Namespace", "namespaces", false, true),
    kind(
        "discovery.k8s.io",
        &["v1"],
        "EndpointSlice",
        "endpointslices",
        true,
        false,
    ),
    kind("coordination.k8s.io", &["v1"], "Lease", "leases", true, false),
];

/// The registered kinds.
#[derive(Clone, Debug)]
pub(crate) struct Registry {
    kinds: Vec<KindInfo>,
}

impl Registry {
    pub(crate) fn new(kinds: Vec<KindInfo>) -> Self {
        Registry { kinds }
    }

    pub(crate) fn all(&self) -> &[KindInfo] {
        &self.kinds
    }

    /// The kind served at `group/version/plural`.
    pub(crate) fn by_path(&self, group: &str, version: &str, plural: &str) -> Option<&KindInfo> {
        self.kinds
            .iter()
            .find(|k| k.group == group && k.plural == plural && k.serves(version))
    }

    /// The kind an object's `apiVersion` and `kind` name.
    pub(crate) fn by_type(&self, api_version: &str, kind: &str) -> Option<(&KindInfo, String)> {
        let (group, version) = split_api_version(api_version);
        self.kinds
            .iter()
            .find(|k| k.group == group && k.kind == kind && k.serves(version))
            .map(|k| (k, version.to_string()))
    }

    /// Groups in registration order, each with its versions in preference order.
    pub(crate) fn groups(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for k in &self.kinds {
            let idx = match out.iter().position(|(g, _)| *g == k.group) {
                Some(i) => i,
                None => {
                    out.push((k.group, Vec::new()));
                    out.len() - 1
                }
            };
            for v in k.versions {
                if !out[idx].1.contains(v) {
                    out[idx].1.push(v);
                }
            }
        }
        out
    }
}

/// `"group/version"` → `("group", "version")`; `"v1"` → `("", "v1")`.
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let r = Registry::new(DEFAULT_KINDS.to_vec());
        let (k, v) = r
            .by_type("gateway.networking.k8s.io/v1beta1", "ReferenceGrant")
            .unwrap();
        assert_eq!((k.plural, v.as_str()), ("referencegrants", "v1beta1"));
        assert!(r
            .by_type("gateway.networking.k8s.io/v1beta1", "Gateway")
            .is_none());
        assert_eq!(r.by_path("", "v1", "secrets").unwrap().kind, "Secret");
        assert!(r.by_path("", "v2", "secrets").is_none());
        assert_eq!(r.by_path("", "v1", "services").unwrap().qualified(), "services");
        let groups = r.groups();
        assert_eq!(groups[0].0, GW);
        assert_eq!(groups[0].1, vec!["v1", "v1beta1", "v1alpha2"]);
    }
}
