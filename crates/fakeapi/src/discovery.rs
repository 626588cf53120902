//! Discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}`,
//! `/version`) built from the registered kinds, leaving out groups switched off as "CRD not
//! installed".

use serde_json::{json, Value};

use crate::kinds::{KindInfo, Registry};

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `/api`.
pub(crate) fn core_versions(addr: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": addr }],
    })
}

fn group_doc(name: &str, versions: &[&str]) -> Value {
    let gv = |v: &str| json!({ "groupVersion": format!("{name}/{v}"), "version": v });
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": versions.iter().map(|v| gv(v)).collect::<Vec<_>>(),
        "preferredVersion": gv(versions.first().copied().unwrap_or("v1")),
    })
}

/// `/apis`, or `/apis/{group}` when `only` names one; `None` when that group is not served.
pub(crate) fn groups(
    registry: &Registry,
    installed: impl Fn(&str) -> bool,
    only: Option<&str>,
) -> Option<Value> {
    let docs: Vec<Value> = registry
        .groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty() && installed(g))
        .filter(|(g, _)| only.is_none_or(|o| o == *g))
        .map(|(g, vs)| group_doc(g, &vs))
        .collect();
    match only {
        Some(_) => docs.into_iter().next(),
        None => Some(json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": docs })),
    }
}

fn resource_doc(k: &KindInfo) -> Vec<Value> {
    let mut out = vec![json!({
        "name": k.plural,
        "singularName": k.kind.to_lowercase(),
        "namespaced": k.namespaced,
        "kind": k.kind,
        "verbs": VERBS,
    })];
    if k.status_subresource {
        out.push(json!({
            "name": format!("{}/status", k.plural),
            "singularName": "",
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": ["get", "patch", "update"],
        }));
    }
    out
}

/// `/api/v1` or `/apis/{group}/{version}`; `None` when nothing is served there.
pub(crate) fn resources(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<&KindInfo> = registry
        .all()
        .iter()
        .filter(|k| k.group == group && k.serves(version))
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": kinds.into_iter().flat_map(resource_doc).collect::<Vec<_>>(),
    }))
}

/// `/version`.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-fairlead-fakeapi",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}
