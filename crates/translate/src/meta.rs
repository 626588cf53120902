//! Small readers over `ObjectMeta` shared by every translator.

use crate::objects::DEFAULT_NAMESPACE;
use fairlead_route::ObjectRef;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub(crate) fn name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// The namespace, `default` when unset (objects from a [`crate::ResourceSet`] always have one).
pub(crate) fn namespace(meta: &ObjectMeta) -> &str {
    meta.namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
}

/// creationTimestamp in seconds since the Unix epoch.
pub(crate) fn created(meta: &ObjectMeta) -> Option<i64> {
    meta.creation_timestamp.as_ref().map(|t| t.0.as_second())
}

pub(crate) fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels.as_ref().and_then(|l| l.get(key)).map(String::as_str)
}

pub(crate) fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

pub(crate) fn namespaced_ref(kind: &str, meta: &ObjectMeta) -> ObjectRef {
    ObjectRef {
        kind: kind.to_string(),
        namespace: Some(namespace(meta).to_string()),
        name: name(meta).to_string(),
    }
}

pub(crate) fn cluster_ref(kind: &str, meta: &ObjectMeta) -> ObjectRef {
    ObjectRef {
        kind: kind.to_string(),
        namespace: None,
        name: name(meta).to_string(),
    }
}

/// Sort key that puts objects without a creationTimestamp last, as the Gateway API
/// tie-breakers and Ingress conflict resolution want.
pub(crate) fn age_key(created: Option<i64>) -> (bool, i64) {
    (created.is_none(), created.unwrap_or_default())
}
