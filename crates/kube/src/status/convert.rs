//! Pure conversion of one [`ObjectStatus`] into the Kubernetes `status` it stands for, merged
//! into the status already stored: what belongs to other controllers (route parent entries of
//! another `controllerName`, fields we do not manage) is kept as it is, and a condition keeps its
//! `lastTransitionTime` while its type and status stay the same. No I/O and no clock: the caller
//! passes the current time in.

use std::net::IpAddr;

use fairlead_route::{Condition, ObjectStatus, ParentRef};
use serde_json::{json, Map, Value};

/// API group of every Gateway API kind.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// metav1.Condition caps `message` at 32768 bytes; a longer one would fail validation forever.
const MAX_MESSAGE_BYTES: usize = 32_768;

/// One address a Gateway or an Ingress is reachable at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResolvedAddress {
    Ip(String),
    Hostname(String),
}

impl ResolvedAddress {
    /// An IP literal becomes [`ResolvedAddress::Ip`], anything else a hostname.
    pub fn parse(value: &str) -> Self {
        match value.parse::<IpAddr>() {
            Ok(ip) => ResolvedAddress::Ip(ip.to_string()),
            Err(_) => ResolvedAddress::Hostname(value.to_string()),
        }
    }

    fn gateway_entry(&self) -> Value {
        match self {
            ResolvedAddress::Ip(ip) => json!({"type": "IPAddress", "value": ip}),
            ResolvedAddress::Hostname(h) => json!({"type": "Hostname", "value": h}),
        }
    }

    fn ingress_entry(&self) -> Value {
        match self {
            ResolvedAddress::Ip(ip) => json!({ "ip": ip }),
            ResolvedAddress::Hostname(h) => json!({ "hostname": h }),
        }
    }
}

/// What is known about the addresses to publish.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressState {
    /// None configured: Gateways carry no `status.addresses`, Ingress status is left alone.
    NotConfigured,
    /// Configured but not known yet (the Service could not be read): what is stored stays.
    Unknown,
    /// The addresses to publish (possibly none, e.g. a Service without a load balancer yet).
    Known(Vec<ResolvedAddress>),
}

/// Everything the conversion needs besides the object and its stored status.
#[derive(Debug, Clone, Copy)]
pub struct ConvertContext<'a> {
    /// Our `controllerName` in route parent and policy ancestor entries.
    pub controller_name: &'a str,
    /// RFC 3339 time for conditions that changed.
    pub now: &'a str,
    pub addresses: &'a AddressState,
}

/// Whether fairlead writes the status of objects of this kind (EndpointSlices, for one, have no
/// status; they appear in reports only to explain skipped endpoints).
pub fn writes_status(kind: &str) -> bool {
    matches!(
        kind,
        "GatewayClass" | "Gateway" | "HTTPRoute" | "GRPCRoute" | "BackendTLSPolicy" | "Ingress"
    )
}

/// Whether the kind's status depends on the published addresses.
pub fn uses_addresses(kind: &str) -> bool {
    matches!(kind, "Gateway" | "Ingress")
}

/// Whether the kind carries per-parent entries that must be removed when the object leaves the
/// report (a route detached from our Gateway must not keep our stale `Accepted=True`).
pub fn is_route(kind: &str) -> bool {
    matches!(kind, "HTTPRoute" | "GRPCRoute")
}

/// The status `object` should have, given the stored one (`current`, `Null` when absent).
/// `None` when nothing of this object's status is ours to write (a kind without status, or an
/// Ingress while no addresses are configured or known). The result equals `current` when
/// nothing needs to change, so `==` decides whether to write.
///
/// For a route that left the report, pass an [`ObjectStatus`] without parents: our entries are
/// removed and the others kept.
pub fn desired_status(current: &Value, object: &ObjectStatus, ctx: &ConvertContext<'_>) -> Option<Value> {
    let mut status = current.as_object().cloned().unwrap_or_default();
    match object.object.kind.as_str() {
        "GatewayClass" => {
            status.insert(
                "conditions".into(),
                conditions(&status, object, &object.conditions, ctx),
            );
            let features: Vec<Value> = object
                .supported_features
                .iter()
                .map(|f| json!({ "name": f }))
                .collect();
            set_list(&mut status, "supportedFeatures", features);
        }
        "Gateway" => gateway(&mut status, object, ctx),
        "HTTPRoute" | "GRPCRoute" => {
            let namespace = object.object.namespace.as_deref().unwrap_or_default();
            let entries = merge_parents(&status, "parents", "parentRef", namespace, object, ctx);
            set_list(&mut status, "parents", entries);
        }
        "BackendTLSPolicy" => {
            let namespace = object.object.namespace.as_deref().unwrap_or_default();
            let entries = merge_parents(&status, "ancestors", "ancestorRef", namespace, object, ctx);
            set_list(&mut status, "ancestors", entries);
        }
        "Ingress" => {
            let AddressState::Known(addresses) = ctx.addresses else {
                return None;
            };
            let mut lb = status
                .get("loadBalancer")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if addresses.is_empty() {
                lb.remove("ingress");
            } else {
                let entries = addresses.iter().map(ResolvedAddress::ingress_entry).collect();
                lb.insert("ingress".into(), Value::Array(entries));
            }
            if !lb.is_empty() || status.contains_key("loadBalancer") {
                status.insert("loadBalancer".into(), Value::Object(lb));
            }
        }
        _ => return None,
    }
    if status.is_empty() && !current.is_object() {
        // Nothing to say about an object without status: leave it without one.
        return Some(current.clone());
    }
    Some(Value::Object(status))
}

fn gateway(status: &mut Map<String, Value>, object: &ObjectStatus, ctx: &ConvertContext<'_>) {
    let conds = conditions(status, object, &object.conditions, ctx);
    status.insert("conditions".into(), conds);
    let stored_listeners = status.get("listeners").and_then(Value::as_array);
    let listeners: Vec<Value> = object
        .listeners
        .iter()
        .map(|l| {
            let stored = stored_listeners
                .and_then(|ls| {
                    ls.iter()
                        .find(|s| s.get("name").and_then(Value::as_str) == Some(&l.name))
                })
                .and_then(Value::as_object);
            let empty = Map::new();
            let kinds: Vec<Value> = l
                .supported_kinds
                .iter()
                .map(|k| json!({"group": GATEWAY_GROUP, "kind": k}))
                .collect();
            json!({
                "name": l.name,
                "attachedRoutes": l.attached_routes,
                "supportedKinds": kinds,
                "conditions": conditions(stored.unwrap_or(&empty), object, &l.conditions, ctx),
            })
        })
        .collect();
    set_list(status, "listeners", listeners);
    match ctx.addresses {
        AddressState::NotConfigured => {
            status.remove("addresses");
        }
        AddressState::Unknown => {}
        AddressState::Known(list) if list.is_empty() => {
            status.remove("addresses");
        }
        AddressState::Known(list) => {
            let entries = list.iter().map(ResolvedAddress::gateway_entry).collect();
            status.insert("addresses".into(), Value::Array(entries));
        }
    }
}

/// Sets `key` to `list`, except that an empty list is not added where the key is absent.
fn set_list(status: &mut Map<String, Value>, key: &str, list: Vec<Value>) {
    if list.is_empty() && !status.contains_key(key) {
        return;
    }
    status.insert(key.into(), Value::Array(list));
}

/// The `conditions` list for `wanted`, keeping each stored condition's `lastTransitionTime`
/// when the same type has the same status. `holder` is the JSON object holding the stored list.
fn conditions(
    holder: &Map<String, Value>,
    object: &ObjectStatus,
    wanted: &[Condition],
    ctx: &ConvertContext<'_>,
) -> Value {
    let stored = holder.get("conditions").and_then(Value::as_array);
    let list = wanted
        .iter()
        .map(|c| {
            let status = if c.status { "True" } else { "False" };
            let kept = stored
                .and_then(|s| {
                    s.iter().find(|old| {
                        old.get("type").and_then(Value::as_str) == Some(c.type_.as_str())
                            && old.get("status").and_then(Value::as_str) == Some(status)
                    })
                })
                .and_then(|old| old.get("lastTransitionTime"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty());
            // metav1.Condition requires a non-empty reason.
            let reason = if c.reason.is_empty() { &c.type_ } else { &c.reason };
            let mut out = Map::new();
            out.insert("type".into(), json!(c.type_));
            out.insert("status".into(), json!(status));
            out.insert("reason".into(), json!(reason));
            out.insert("message".into(), json!(truncate(&c.message)));
            out.insert("lastTransitionTime".into(), json!(kept.unwrap_or(ctx.now)));
            if let Some(g) = object.generation {
                out.insert("observedGeneration".into(), json!(g));
            }
            Value::Object(out)
        })
        .collect();
    Value::Array(list)
}

fn truncate(message: &str) -> &str {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message;
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// Route `parents` (or policy `ancestors`): entries of other controllers stay untouched and in
/// place; ours are replaced by the report's in place, ours for parents no longer reported are
/// dropped, and new ones are appended.
fn merge_parents(
    status: &Map<String, Value>,
    list_key: &str,
    ref_key: &str,
    namespace: &str,
    object: &ObjectStatus,
    ctx: &ConvertContext<'_>,
) -> Vec<Value> {
    let stored: &[Value] = status
        .get(list_key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut placed = vec![false; object.parents.len()];
    let mut out = Vec::with_capacity(stored.len() + object.parents.len());
    for entry in stored {
        if entry.get("controllerName").and_then(Value::as_str) != Some(ctx.controller_name) {
            out.push(entry.clone());
            continue;
        }
        let stored_ref = entry.get(ref_key).map(|r| NormalRef::from_json(r, namespace));
        let found =
            object.parents.iter().enumerate().find(|(i, p)| {
                !placed[*i] && stored_ref.as_ref() == Some(&NormalRef::from_report(&p.parent))
            });
        if let Some((i, parent)) = found {
            placed[i] = true;
            let holder = entry.as_object().cloned().unwrap_or_default();
            out.push(parent_entry(
                ref_key,
                &parent.parent,
                &parent.conditions,
                &holder,
                object,
                ctx,
            ));
        }
    }
    for (parent, _) in object.parents.iter().zip(&placed).filter(|(_, done)| !**done) {
        let fresh = Map::new();
        out.push(parent_entry(
            ref_key,
            &parent.parent,
            &parent.conditions,
            &fresh,
            object,
            ctx,
        ));
    }
    out
}

fn parent_entry(
    ref_key: &str,
    parent: &ParentRef,
    wanted: &[Condition],
    stored: &Map<String, Value>,
    object: &ObjectStatus,
    ctx: &ConvertContext<'_>,
) -> Value {
    let mut reference = Map::new();
    reference.insert("group".into(), json!(GATEWAY_GROUP));
    reference.insert("kind".into(), json!("Gateway"));
    reference.insert("namespace".into(), json!(parent.namespace));
    reference.insert("name".into(), json!(parent.name));
    if let Some(section) = &parent.section_name {
        reference.insert("sectionName".into(), json!(section));
    }
    if let Some(port) = parent.port {
        reference.insert("port".into(), json!(port));
    }
    let mut entry = Map::new();
    entry.insert(ref_key.into(), Value::Object(reference));
    entry.insert("controllerName".into(), json!(ctx.controller_name));
    entry.insert("conditions".into(), conditions(stored, object, wanted, ctx));
    Value::Object(entry)
}

/// A parent reference with the API's defaults filled in, to match stored entries (which may
/// leave group, kind or namespace out) against the report's.
#[derive(Debug, PartialEq, Eq)]
struct NormalRef {
    group: String,
    kind: String,
    namespace: String,
    name: String,
    section_name: Option<String>,
    port: Option<i64>,
}

impl NormalRef {
    fn from_json(r: &Value, route_namespace: &str) -> Self {
        let text = |key: &str| r.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
        NormalRef {
            group: text("group").unwrap_or(GATEWAY_GROUP).to_string(),
            kind: text("kind").unwrap_or("Gateway").to_string(),
            namespace: text("namespace").unwrap_or(route_namespace).to_string(),
            name: text("name").unwrap_or_default().to_string(),
            section_name: text("sectionName").map(str::to_string),
            port: r.get("port").and_then(Value::as_i64),
        }
    }

    fn from_report(p: &ParentRef) -> Self {
        NormalRef {
            group: GATEWAY_GROUP.to_string(),
            kind: "Gateway".to_string(),
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            section_name: p.section_name.clone(),
            port: p.port.map(i64::from),
        }
    }
}
