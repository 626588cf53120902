//! Small builders of Kubernetes manifests, rendered as block-style multi-document YAML like the
//! files users write.
//!
//! Objects live in namespace `default` unless a builder takes a namespace. Every Service has one
//! port, `http` 80; its EndpointSlices name their port `http` too, so they match.

use super::echo::Echo;
use serde_json::{json, Value};

pub const NS: &str = "default";
/// Name of the Gateway every [`http_route`] attaches to.
pub const GATEWAY: &str = "web";

/// Renders documents as one multi-document YAML file.
pub fn yaml(docs: &[Value]) -> String {
    docs.iter()
        .map(|doc| {
            let mut out = String::new();
            emit(doc, 0, &mut out);
            out
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Scalars and empty collections as YAML flow text; strings double-quoted (a JSON string is a
/// valid YAML double-quoted scalar).
fn flow(value: &Value) -> Option<String> {
    match value {
        Value::Array(items) if items.is_empty() => Some("[]".into()),
        Value::Object(map) if map.is_empty() => Some("{}".into()),
        Value::Array(_) | Value::Object(_) => None,
        scalar => Some(scalar.to_string()),
    }
}

fn key(k: &str) -> String {
    let plain = k.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if plain && !k.is_empty() {
        k.to_owned()
    } else {
        Value::from(k).to_string()
    }
}

fn emit(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                match flow(v) {
                    Some(text) => out.push_str(&format!("{pad}{}: {text}\n", key(k))),
                    None => {
                        out.push_str(&format!("{pad}{}:\n", key(k)));
                        emit(v, indent + 2, out);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                match flow(item) {
                    Some(text) => out.push_str(&format!("{pad}- {text}\n")),
                    None => {
                        // Render the item two columns in, then put the dash in its first line's
                        // indentation: `- key: value` followed by the other keys aligned.
                        let mut inner = String::new();
                        emit(item, indent + 2, &mut inner);
                        out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                    }
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", flow(other).unwrap_or_default())),
    }
}

/// The GatewayClass `fairlead`, controlled by fairlead.
pub fn gateway_class() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": "fairlead"},
        "spec": {"controllerName": "fairlead.dev/gateway-controller"},
    })
}

/// Gateway `name` with one HTTP listener `http` on `port`, accepting routes from every namespace.
pub fn gateway(name: &str, port: u16) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "gatewayClassName": "fairlead",
            "listeners": [{
                "name": "http",
                "protocol": "HTTP",
                "port": port,
                "allowedRoutes": {"namespaces": {"from": "All"}},
            }],
        },
    })
}

/// The GatewayClass and the Gateway [`GATEWAY`] listening on `port`.
pub fn gateway_setup(port: u16) -> Vec<Value> {
    vec![gateway_class(), gateway(GATEWAY, port)]
}

/// Service `namespace/name` with port `http` 80.
pub fn service_in(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
        },
    })
}

pub fn service(name: &str) -> Value {
    service_in(NS, name)
}

/// Service whose port declares `appProtocol: kubernetes.io/h2c`.
pub fn h2c_service(name: &str) -> Value {
    let mut svc = service(name);
    svc["spec"]["ports"][0]["appProtocol"] = "kubernetes.io/h2c".into();
    svc
}

/// EndpointSlice `slice` of Service `namespace/service`: ready endpoints at `addresses`, target
/// port `port`.
pub fn endpoint_slice_in(
    namespace: &str,
    service: &str,
    slice: &str,
    port: u16,
    addresses: &[&str],
) -> Value {
    let endpoints: Vec<Value> = addresses
        .iter()
        .map(|a| json!({"addresses": [a], "conditions": {"ready": true}}))
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": slice,
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": endpoints,
    })
}

pub fn endpoint_slice(service: &str, slice: &str, port: u16, addresses: &[&str]) -> Value {
    endpoint_slice_in(NS, service, slice, port, addresses)
}

/// Service named after the echo backend, and its EndpointSlice pointing at it.
pub fn backend(echo: &Echo) -> Vec<Value> {
    vec![
        service(&echo.name),
        endpoint_slice(
            &echo.name,
            &format!("{}-1", echo.name),
            echo.port(),
            &["127.0.0.1"],
        ),
    ]
}

/// Service `name` and its EndpointSlice pointing at 127.0.0.1:`port` (any backend).
pub fn backend_at(name: &str, port: u16) -> Vec<Value> {
    vec![
        service(name),
        endpoint_slice(name, &format!("{name}-1"), port, &["127.0.0.1"]),
    ]
}

/// HTTPRoute `name` attached to the Gateway [`GATEWAY`].
pub fn http_route(name: &str, hostnames: &[&str], rules: Vec<Value>) -> Value {
    http_route_in(NS, name, hostnames, rules)
}

pub fn http_route_in(namespace: &str, name: &str, hostnames: &[&str], rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": GATEWAY, "namespace": NS}],
            "hostnames": hostnames,
            "rules": rules,
        },
    })
}

/// A rule sending everything it matches to `backend_refs`; no `matches` means PathPrefix `/`.
pub fn rule(matches: Value, backend_refs: Vec<Value>) -> Value {
    if matches.is_null() {
        json!({"backendRefs": backend_refs})
    } else {
        json!({"matches": matches, "backendRefs": backend_refs})
    }
}

/// A backendRef to port 80 of Service `name` (same namespace as the route).
pub fn to(name: &str) -> Value {
    json!({"name": name, "port": 80})
}

pub fn to_weighted(name: &str, weight: u32) -> Value {
    json!({"name": name, "port": 80, "weight": weight})
}

/// Ingress `name` of class `fairlead` with the given `spec.rules`.
pub fn ingress(name: &str, rules: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"ingressClassName": "fairlead", "rules": rules},
    })
}

/// An Ingress rule for `host` (`None`: every host) with `(path, pathType, service)` paths.
pub fn ingress_rule(host: Option<&str>, paths: &[(&str, &str, &str)]) -> Value {
    let paths: Vec<Value> = paths
        .iter()
        .map(|(path, path_type, svc)| {
            json!({
                "path": path,
                "pathType": path_type,
                "backend": {"service": {"name": svc, "port": {"number": 80}}},
            })
        })
        .collect();
    let mut rule = json!({"http": {"paths": paths}});
    if let Some(host) = host {
        rule["host"] = host.into();
    }
    rule
}

/// Lets HTTPRoutes in `from_namespace` reference Services in `to_namespace`.
pub fn reference_grant(to_namespace: &str, from_namespace: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": format!("from-{from_namespace}"), "namespace": to_namespace},
        "spec": {
            "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": from_namespace}],
            "to": [{"group": "", "kind": "Service"}],
        },
    })
}
