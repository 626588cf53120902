//! Service types and ports as backends: ClusterIP, headless, selector-less Services with manual
//! EndpointSlices, NodePort and LoadBalancer, several ports, named target ports, appProtocol,
//! ExternalName, readiness, and weights.

mod common;

use common::*;
use fairlead_route::{Backend, BackendTarget, ServiceBackend, UpstreamProtocol};
use fairlead_translate::Translation;
use std::net::SocketAddr;

/// HTTPRoute `default/r` whose one rule has the given backendRefs (a YAML flow list).
fn route_to(backend_refs: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: web}}]\n  rules: [{{backendRefs: {backend_refs}}}]\n"
    )
}

fn backends(t: &Translation) -> &[Backend] {
    &route(
        listener(t, "gateway/default/web/http"),
        "httproute/default/r/rule/0",
    )
    .backends
}

fn service(b: &Backend) -> &ServiceBackend {
    match &b.target {
        BackendTarget::Service(s) => s,
        other => panic!("expected a resolved Service, got {other:?}"),
    }
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

fn resolved_refs(t: &Translation) -> (bool, String, String) {
    let c = condition(&parent(t, "r").conditions, "ResolvedRefs");
    (c.status, c.reason.clone(), c.message.clone())
}

/// A Service `default/<name>` with the given spec body (flow mapping contents) and one
/// EndpointSlice with one ready endpoint `<ip>` on slice port `first-port: 3000`.
fn service_with_slice(name: &str, spec: &str, ip: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec: {{{spec}, ports: [{{name: first-port, protocol: TCP, port: 8080, targetPort: 3000}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-abc, namespace: default, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
ports: [{{name: first-port, port: 3000, protocol: TCP}}]
endpoints: [{{addresses: ["{ip}"], conditions: {{ready: true}}}}]
"#
    )
}

#[test]
fn every_service_type_but_external_name_resolves_through_its_slices() {
    let objects = [
        service_with_slice("cluster-ip", "type: ClusterIP, selector: {app: a}", "10.0.1.1"),
        service_with_slice("headless", "clusterIP: None, selector: {app: a}", "10.0.1.2"),
        service_with_slice("manual", "type: ClusterIP", "10.0.1.3"),
        service_with_slice("headless-manual", "clusterIP: None", "10.0.1.4"),
        service_with_slice("node-port", "type: NodePort, selector: {app: a}", "10.0.1.5"),
        service_with_slice(
            "load-balancer",
            "type: LoadBalancer, selector: {app: a}",
            "10.0.1.6",
        ),
    ];
    let refs = "[{name: cluster-ip, port: 8080}, {name: headless, port: 8080}, {name: manual, port: 8080}, \
                {name: headless-manual, port: 8080}, {name: node-port, port: 8080}, {name: load-balancer, port: 8080}]";
    let mut docs: Vec<&str> = vec![GATEWAY];
    docs.extend(objects.iter().map(String::as_str));
    let route = route_to(refs);
    docs.push(&route);
    let t = run(&docs);
    let got: Vec<(&str, Vec<SocketAddr>)> = backends(&t)
        .iter()
        .map(|b| (service(b).name.as_str(), service(b).endpoints.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("default/cluster-ip:8080", addrs(&["10.0.1.1:3000"])),
            ("default/headless:8080", addrs(&["10.0.1.2:3000"])),
            ("default/manual:8080", addrs(&["10.0.1.3:3000"])),
            ("default/headless-manual:8080", addrs(&["10.0.1.4:3000"])),
            ("default/node-port:8080", addrs(&["10.0.1.5:3000"])),
            ("default/load-balancer:8080", addrs(&["10.0.1.6:3000"])),
        ]
    );
    assert!(resolved_refs(&t).0);
}

#[test]
fn selector_less_service_with_a_slice_without_endpoints_has_none() {
    let objects = r#"
apiVersion: v1
kind: Service
metadata: {name: manual-endpointslices, namespace: default}
spec: {ports: [{name: first-port, protocol: TCP, port: 8080, targetPort: 3000}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: manual-endpointslices, namespace: default, labels: {kubernetes.io/service-name: manual-endpointslices}}
addressType: IPv4
ports: [{name: first-port, port: 3000, protocol: TCP}]
"#;
    let t = run(&[
        GATEWAY,
        objects,
        &route_to("[{name: manual-endpointslices, port: 8080}]"),
    ]);
    assert!(service(&backends(&t)[0]).endpoints.is_empty());
    assert!(
        resolved_refs(&t).0,
        "a Service without endpoints is resolved; it answers 503"
    );
}

/// A Service with three ports, two of them with named target ports, split over two slices.
const MULTI_PORT: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: multi, namespace: default}
spec:
  selector: {app: multi}
  ports:
    - {name: http, port: 80, targetPort: web}
    - {name: admin, port: 81, targetPort: admin-port}
    - {name: dns, port: 53, protocol: UDP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: multi-a, namespace: default, labels: {kubernetes.io/service-name: multi}}
addressType: IPv4
ports: [{name: admin, port: 9901}, {name: http, port: 8080}]
endpoints:
  - addresses: ["10.0.2.1"]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: multi-b, namespace: default, labels: {kubernetes.io/service-name: multi}}
addressType: IPv4
ports: [{name: http, port: 8081}, {name: admin, port: 9902}]
endpoints:
  - addresses: ["10.0.2.2"]
  - addresses: ["10.0.2.1"]
"#;

#[test]
fn each_service_port_takes_the_slice_port_of_the_same_name() {
    let t = run(&[
        GATEWAY,
        MULTI_PORT,
        &route_to("[{name: multi, port: 80}, {name: multi, port: 81}, {name: multi, port: 53}]"),
    ]);
    let b = backends(&t);
    assert_eq!(service(&b[0]).name, "default/multi:80");
    assert_eq!(
        service(&b[0]).endpoints,
        addrs(&["10.0.2.1:8080", "10.0.2.1:8081", "10.0.2.2:8081"]),
        "slices merge; the same pod on two target ports counts once per port"
    );
    assert_eq!(
        service(&b[1]).endpoints,
        addrs(&["10.0.2.1:9901", "10.0.2.1:9902", "10.0.2.2:9902"])
    );
    assert!(
        matches!(&b[2].target, BackendTarget::Invalid { reason } if reason.contains("no TCP port 53")),
        "a UDP port cannot carry HTTP: {:?}",
        b[2].target
    );
    let (ok, reason, _) = resolved_refs(&t);
    assert_eq!((ok, reason.as_str()), (false, "BackendNotFound"));
}

#[test]
fn a_port_number_the_service_does_not_expose_is_not_found() {
    // 8080 is the target port, not the Service port the backendRef must name.
    let t = run(&[GATEWAY, MULTI_PORT, &route_to("[{name: multi, port: 8080}]")]);
    assert!(matches!(backends(&t)[0].target, BackendTarget::Invalid { .. }));
    let (ok, reason, message) = resolved_refs(&t);
    assert_eq!((ok, reason.as_str()), (false, "BackendNotFound"));
    assert!(message.contains("no TCP port 8080"), "{message}");
}

fn app_protocol_service(app_protocol: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: p, namespace: default}}\n\
         spec: {{ports: [{{name: web, port: 80, appProtocol: \"{app_protocol}\"}}]}}\n"
    )
}

#[test]
fn app_protocols_we_can_speak_choose_the_upstream_protocol() {
    for (app_protocol, expected) in [
        ("kubernetes.io/h2c", UpstreamProtocol::H2c),
        ("kubernetes.io/ws", UpstreamProtocol::Http1),
        ("http", UpstreamProtocol::Http1),
        ("example.com/custom", UpstreamProtocol::Http1),
    ] {
        let t = run(&[
            GATEWAY,
            &app_protocol_service(app_protocol),
            &route_to("[{name: p, port: 80}]"),
        ]);
        assert_eq!(service(&backends(&t)[0]).protocol, expected, "{app_protocol}");
        assert!(resolved_refs(&t).0, "{app_protocol}");
    }
}

#[test]
fn app_protocols_that_need_tls_are_unsupported_protocols() {
    for app_protocol in ["kubernetes.io/wss", "https", "tls"] {
        let t = run(&[
            GATEWAY,
            &app_protocol_service(app_protocol),
            &route_to("[{name: p, port: 80}]"),
        ]);
        assert!(
            matches!(&backends(&t)[0].target, BackendTarget::Invalid { reason } if reason.contains(app_protocol)),
            "{app_protocol}"
        );
        let (ok, reason, message) = resolved_refs(&t);
        assert_eq!(
            (ok, reason.as_str()),
            (false, "UnsupportedProtocol"),
            "{app_protocol}"
        );
        assert!(message.contains("needs TLS"), "{message}");
        let accepted = condition(&parent(&t, "r").conditions, "Accepted");
        assert_eq!(sr(accepted), (true, "Accepted"));
    }
}

#[test]
fn external_name_services_are_not_resolved() {
    let objects = "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: default}\n\
                   spec: {type: ExternalName, externalName: example.com, ports: [{port: 80}]}\n";
    let t = run(&[GATEWAY, objects, &route_to("[{name: ext, port: 80}]")]);
    let (ok, reason, message) = resolved_refs(&t);
    assert_eq!((ok, reason.as_str()), (false, "BackendNotFound"));
    assert!(message.contains("ExternalName"), "{message}");
}

#[test]
fn weight_zero_backends_are_kept_and_never_an_error() {
    let t = run(&[
        GATEWAY,
        &app_service(),
        &route_to(
            "[{name: app, port: 80, weight: 0}, {name: app, port: 80, weight: 3}, {name: app, port: 80}]",
        ),
    ]);
    let weights: Vec<u32> = backends(&t).iter().map(|b| b.weight).collect();
    assert_eq!(weights, [0, 3, 1], "unset weight is 1");
    assert!(resolved_refs(&t).0);

    // Every weight 0: the rule stays, with nothing to pick, so the proxy answers 500.
    let t = run(&[
        GATEWAY,
        &app_service(),
        &route_to("[{name: app, port: 80, weight: 0}, {name: app, port: 80, weight: 0}]"),
    ]);
    assert!(backends(&t).iter().all(|b| b.weight == 0));
    assert!(resolved_refs(&t).0);
    assert!(!has_condition(&parent(&t, "r").conditions, "PartiallyInvalid"));
}

#[test]
fn not_ready_endpoints_are_used_only_while_terminating_and_only_as_a_last_resort() {
    let slice = |endpoints: &str| {
        format!(
            r#"
apiVersion: v1
kind: Service
metadata: {{name: app, namespace: default}}
spec: {{ports: [{{name: http, port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: app-1, namespace: default, labels: {{kubernetes.io/service-name: app}}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints:
{endpoints}
"#
        )
    };
    let none_ready = r#"  - {addresses: ["10.0.0.1"], conditions: {ready: false, serving: true}}
  - {addresses: ["10.0.0.2"], conditions: {ready: false, terminating: true}}
  - {addresses: ["10.0.0.3"], conditions: {ready: false, serving: false, terminating: true}}
  - {addresses: ["10.0.0.4"], conditions: {ready: false}}"#;
    let t = run(&[GATEWAY, &slice(none_ready), &route_to("[{name: app, port: 80}]")]);
    assert_eq!(
        service(&backends(&t)[0]).endpoints,
        addrs(&["10.0.0.2:8080"]),
        "unset serving reads as true; not terminating means failing readiness"
    );
    let one_ready = format!(
        "{none_ready}\n  - {{addresses: [\"10.0.0.5\"], conditions: {{ready: true, terminating: false}}}}"
    );
    let t = run(&[GATEWAY, &slice(&one_ready), &route_to("[{name: app, port: 80}]")]);
    assert_eq!(service(&backends(&t)[0]).endpoints, addrs(&["10.0.0.5:8080"]));
}
