//! ReferenceGrant checks: may an object of one kind and namespace refer to an object in another
//! namespace? Used for route backendRefs (Services), listener certificateRefs (Secrets) and
//! frontend CA certificate refs (ConfigMaps, Secrets).

use crate::meta;
use crate::resources::ResourceSet;

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// The referring side: a Gateway API kind (`Gateway`, `HTTPRoute`, ...) in a namespace.
pub(crate) struct From<'a> {
    pub kind: &'a str,
    pub namespace: &'a str,
}

/// The referenced object: a core kind (`Service`, `Secret`, `ConfigMap`) by namespace and name.
pub(crate) struct To<'a> {
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// True when a ReferenceGrant (v1 or v1beta1, both stored alike) in the target's namespace lets
/// `from` refer to `to`. A grant's `to` without a name covers every object of that kind.
pub(crate) fn permits(resources: &ResourceSet, from: &From<'_>, to: &To<'_>) -> bool {
    resources
        .reference_grants()
        .filter(|g| meta::namespace(&g.metadata) == to.namespace)
        .any(|grant| {
            let from_ok =
                grant.spec.from.iter().any(|f| {
                    f.group == GATEWAY_GROUP && f.kind == from.kind && f.namespace == from.namespace
                });
            let to_ok = grant.spec.to.iter().any(|t| {
                t.group.is_empty()
                    && t.kind == to.kind
                    && t.name.as_deref().is_none_or(|n| n.is_empty() || n == to.name)
            });
            from_ok && to_ok
        })
}
