//! Helpers shared by the translation tests: build inputs from YAML, find things in the output.
#![allow(dead_code)] // each test file uses a different subset

use fairlead_route::{Condition, Listener, ObjectStatus, ParentStatus, Route};
use fairlead_translate::{parse_documents, translate, Options, ResourceSet, Translation};

/// Our GatewayClass and a Gateway `default/web` with one HTTP listener `http` on port 80
/// (routes from the same namespace).
pub const GATEWAY: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: fairlead}
spec: {controllerName: fairlead.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: default, generation: 3}
spec:
  gatewayClassName: fairlead
  listeners:
    - {name: http, protocol: HTTP, port: 80}
"#;

/// A Service `<ns>/<name>` with one port `port` named `port_name` (no appProtocol), and an
/// EndpointSlice with one ready endpoint `<ip>:<target_port>` on the port of that name.
pub fn service_with_endpoint(
    ns: &str,
    name: &str,
    port_name: &str,
    port: u16,
    ip: &str,
    target_port: u16,
) -> String {
    format!(
        r#"
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  ports: [{{name: {port_name}, port: {port}, targetPort: {target_port}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: {ns}
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{name: {port_name}, port: {target_port}}}]
endpoints:
  - addresses: ["{ip}"]
"#
    )
}

/// Service `default/app` port 80 (named http) with one ready endpoint 10.0.0.1:8080.
pub fn app_service() -> String {
    service_with_endpoint("default", "app", "http", 80, "10.0.0.1", 8080)
}

/// Service `default/grpc` port 50051 (named grpc, no appProtocol) with one ready endpoint
/// 10.0.0.2:9000.
pub fn grpc_service() -> String {
    service_with_endpoint("default", "grpc", "grpc", 50051, "10.0.0.2", 9000)
}

/// Parses every document (joined with `---`), failing the test on any parse error.
pub fn load(docs: &[&str]) -> ResourceSet {
    let text = docs.join("\n---\n");
    let (objects, errors) = parse_documents("test.yaml", &text);
    assert!(errors.is_empty(), "parse errors: {errors:#?}");
    objects.into_iter().collect()
}

pub fn run(docs: &[&str]) -> Translation {
    translate(&load(docs), &Options::default())
}

pub fn run_with(docs: &[&str], options: &Options) -> Translation {
    translate(&load(docs), options)
}

pub fn listener<'a>(t: &'a Translation, id: &str) -> &'a Listener {
    t.config
        .listeners
        .iter()
        .find(|l| l.id == id)
        .unwrap_or_else(|| panic!("no listener {id} in {:#?}", t.config.listeners))
}

pub fn route<'a>(l: &'a Listener, id: &str) -> &'a Route {
    l.routes
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no route {id} in {:#?}", l.routes))
}

pub fn route_ids(l: &Listener) -> Vec<&str> {
    l.routes.iter().map(|r| r.id.as_str()).collect()
}

pub fn status<'a>(t: &'a Translation, kind: &str, ns: Option<&str>, name: &str) -> &'a ObjectStatus {
    t.status
        .get(kind, ns, name)
        .unwrap_or_else(|| panic!("no status for {kind} {ns:?}/{name}: {:#?}", t.status))
}

pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> &'a Condition {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {conditions:#?}"))
}

pub fn has_condition(conditions: &[Condition], type_: &str) -> bool {
    conditions.iter().any(|c| c.type_ == type_)
}

/// The only parent status of HTTPRoute `default/<name>`.
pub fn parent<'a>(t: &'a Translation, name: &str) -> &'a ParentStatus {
    let s = status(t, "HTTPRoute", Some("default"), name);
    assert_eq!(s.parents.len(), 1, "{s:#?}");
    &s.parents[0]
}

/// Fails unless `text` contains every one of `expected`.
pub fn assert_mentions(text: &str, expected: &[&str]) {
    for e in expected {
        assert!(text.contains(e), "{e:?} missing from {text}");
    }
}

/// (status, reason) of a condition, for compact assertions.
pub fn sr(c: &Condition) -> (bool, &str) {
    (c.status, c.reason.as_str())
}

/// A Gateway `default/web` of our class, with listeners given as YAML list items.
pub fn gateway(listeners: &str) -> String {
    format!(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: fairlead}}
spec: {{controllerName: fairlead.dev/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: web, namespace: default}}
spec:
  gatewayClassName: fairlead
  listeners:
{listeners}
"#
    )
}

/// The only parent status of the route `<kind> default/<name>`.
pub fn parent_of<'a>(t: &'a Translation, kind: &str, name: &str) -> &'a ParentStatus {
    let s = status(t, kind, Some("default"), name);
    assert_eq!(s.parents.len(), 1, "{s:#?}");
    &s.parents[0]
}

/// (status, reason) of the `Accepted` condition of the only parent of `<kind> default/<name>`.
pub fn accepted_of<'a>(t: &'a Translation, kind: &str, name: &str) -> (bool, &'a str) {
    sr(condition(&parent_of(t, kind, name).conditions, "Accepted"))
}

/// The status of listener `listener` of Gateway `<ns>/<gateway>`.
pub fn listener_status<'a>(
    t: &'a Translation,
    ns: &str,
    gateway: &str,
    listener: &str,
) -> &'a fairlead_route::ListenerStatus {
    let gw = status(t, "Gateway", Some(ns), gateway);
    gw.listeners
        .iter()
        .find(|l| l.name == listener)
        .unwrap_or_else(|| panic!("no listener {listener} in {gw:#?}"))
}

/// Ids of the listeners in the config, in config order.
pub fn listener_ids(t: &Translation) -> Vec<&str> {
    t.config.listeners.iter().map(|l| l.id.as_str()).collect()
}

/// A Gateway `<ns>/<name>` of class `fairlead` (the class itself is not included; see
/// [`CLASS`]). `meta` is extra metadata fields, e.g. `creationTimestamp: "2024-01-01T00:00:00Z"`.
pub fn gateway_named(ns: &str, name: &str, meta: &str, listeners: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {ns}{sep}{meta}}}\n\
         spec:\n  gatewayClassName: fairlead\n  listeners:\n{listeners}\n",
        sep = if meta.is_empty() { "" } else { ", " }
    )
}

/// Our GatewayClass alone.
pub const CLASS: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: fairlead}
spec: {controllerName: fairlead.dev/gateway-controller}
"#;

/// A route `<kind> <ns>/<name>` created at `created` (RFC 3339), with the given spec body
/// (indented two spaces).
pub fn route_at(kind: &str, ns: &str, name: &str, created: &str, spec: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: {kind}\nmetadata: {{name: {name}, namespace: {ns}, \
         creationTimestamp: \"{created}\", generation: 2}}\nspec:\n{spec}\n"
    )
}
