//! Same objects, same bytes: translation output does not depend on run or insertion order.

mod common;

use common::*;
use fairlead_translate::{parse_documents, translate, Options, ResourceSet};

const ROUTES: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: b, namespace: default}
spec:
  parentRefs: [{name: web}]
  hostnames: [b.example.com, a.example.com]
  rules:
    - backendRefs: [{name: app, port: 80}, {name: missing, port: 80}]
    - matches: [{path: {type: RegularExpression, value: "("}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: a, namespace: default}
spec:
  parentRefs: [{name: web}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: z, namespace: default}
spec:
  ingressClassName: fairlead
  defaultBackend: {service: {name: app, port: {number: 80}}}
  rules:
    - host: a.example.com
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: y, namespace: default}
spec:
  ingressClassName: fairlead
  rules:
    - host: a.example.com
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-2, namespace: default, labels: {kubernetes.io/service-name: app}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: ["10.0.0.9"]}, {addresses: ["x"]}, {addresses: ["10.0.0.3"]}]
"#;

fn to_json(t: &fairlead_translate::Translation) -> String {
    let config = serde_json::to_string(&t.config).unwrap();
    let status = serde_json::to_string(&t.status).unwrap();
    format!("{config}\n{status}")
}

#[test]
fn translating_twice_gives_identical_json() {
    let set = load(&[GATEWAY, &app_service(), ROUTES]);
    let first = to_json(&translate(&set, &Options::default()));
    let second = to_json(&translate(&set, &Options::default()));
    assert_eq!(first, second);
    assert!(
        first.contains("httproute/default/a/rule/0") && first.contains("ingress/default/z/default"),
        "{first}"
    );
}

#[test]
fn insertion_order_does_not_matter() {
    let text = [GATEWAY, &app_service(), ROUTES].join("\n---\n");
    let (objects, errors) = parse_documents("all.yaml", &text);
    assert!(errors.is_empty());
    let forward: ResourceSet = objects.iter().cloned().collect();
    let backward: ResourceSet = objects.into_iter().rev().collect();
    assert_eq!(
        to_json(&translate(&forward, &Options::default())),
        to_json(&translate(&backward, &Options::default()))
    );
}

#[test]
fn output_is_sorted_as_documented() {
    let t = run(&[GATEWAY, &app_service(), ROUTES]);
    let keys: Vec<(u16, &str)> = t
        .config
        .listeners
        .iter()
        .map(|l| (l.port, l.id.as_str()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    for l in &t.config.listeners {
        let ids = route_ids(l);
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
    let refs: Vec<_> = t.status.objects.iter().map(|o| o.object.clone()).collect();
    let mut sorted = refs.clone();
    sorted.sort();
    assert_eq!(refs, sorted);
    assert_eq!(t.config.version, 0);
}
