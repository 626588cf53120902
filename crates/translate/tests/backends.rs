//! Backend resolution: ReferenceGrants for cross-namespace refs, Service ports, and endpoints
//! from EndpointSlices.

mod common;

use common::*;
use fairlead_route::{Backend, BackendTarget, ServiceBackend, UpstreamProtocol};
use std::net::SocketAddr;

/// A route `default/r` whose one rule sends to the given backendRef (YAML flow mapping).
fn route_to(backend_ref: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: web}}]\n  rules: [{{backendRefs: [{backend_ref}]}}]\n"
    )
}

fn backend(t: &fairlead_translate::Translation) -> &Backend {
    let r = route(
        listener(t, "gateway/default/web/http"),
        "httproute/default/r/rule/0",
    );
    assert_eq!(r.backends.len(), 1, "{r:#?}");
    &r.backends[0]
}

fn service(t: &fairlead_translate::Translation) -> &ServiceBackend {
    match &backend(t).target {
        BackendTarget::Service(s) => s,
        other => panic!("expected a resolved Service, got {other:?}"),
    }
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

const OTHER_SERVICE: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: db, namespace: other}
spec: {ports: [{port: 5432}]}
"#;

fn grant(api_version: &str, from_ns: &str, to_name: Option<&str>) -> String {
    let name = to_name.map(|n| format!(", name: {n}")).unwrap_or_default();
    format!(
        "apiVersion: gateway.networking.k8s.io/{api_version}\nkind: ReferenceGrant\nmetadata: {{name: g, namespace: other}}\n\
         spec:\n  from: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: {from_ns}}}]\n  \
         to: [{{group: \"\", kind: Service{name}}}]\n"
    )
}

#[test]
fn cross_namespace_backend_without_a_grant_is_not_permitted() {
    let t = run(&[
        GATEWAY,
        OTHER_SERVICE,
        &route_to("{name: db, namespace: other, port: 5432}"),
    ]);
    assert!(
        matches!(&backend(&t).target, BackendTarget::Invalid { reason } if reason.contains("ReferenceGrant"))
    );
    let refs = condition(&parent(&t, "r").conditions, "ResolvedRefs");
    assert_eq!(sr(refs), (false, "RefNotPermitted"));
}

#[test]
fn reference_grants_v1_and_v1beta1_both_permit() {
    for version in ["v1", "v1beta1"] {
        for to_name in [None, Some("db")] {
            let t = run(&[
                GATEWAY,
                OTHER_SERVICE,
                &grant(version, "default", to_name),
                &route_to("{name: db, namespace: other, port: 5432}"),
            ]);
            assert_eq!(service(&t).name, "other/db:5432", "{version} {to_name:?}");
            assert_eq!(
                sr(condition(&parent(&t, "r").conditions, "ResolvedRefs")),
                (true, "ResolvedRefs")
            );
        }
    }
}

#[test]
fn grants_for_another_namespace_or_service_do_not_permit() {
    for g in [
        grant("v1", "elsewhere", None),
        grant("v1beta1", "default", Some("cache")),
    ] {
        let t = run(&[
            GATEWAY,
            OTHER_SERVICE,
            &g,
            &route_to("{name: db, namespace: other, port: 5432}"),
        ]);
        assert_eq!(
            sr(condition(&parent(&t, "r").conditions, "ResolvedRefs")),
            (false, "RefNotPermitted")
        );
    }
    // A grant must live in the target namespace: one in the route's own namespace is useless.
    let misplaced = grant("v1", "default", None).replace("namespace: other}", "namespace: default}");
    let t = run(&[
        GATEWAY,
        OTHER_SERVICE,
        &misplaced,
        &route_to("{name: db, namespace: other, port: 5432}"),
    ]);
    assert_eq!(
        sr(condition(&parent(&t, "r").conditions, "ResolvedRefs")),
        (false, "RefNotPermitted")
    );
}

#[test]
fn named_target_port_is_resolved_through_the_slice_port_name() {
    let objects = r#"
apiVersion: v1
kind: Service
metadata: {name: api, namespace: default}
spec:
  ports:
    - {name: http, port: 80, targetPort: web}
    - {name: metrics, port: 9000, targetPort: 9090}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-a, namespace: default, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: metrics, port: 9090}, {name: http, port: 8080}]
endpoints:
  - addresses: ["10.0.0.2"]
  - addresses: ["10.0.0.1"]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-b, namespace: default, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: http, port: 8081}]
endpoints:
  - addresses: ["10.0.0.3"]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-elsewhere, namespace: other, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
  - addresses: ["10.9.9.9"]
"#;
    let t = run(&[GATEWAY, objects, &route_to("{name: api, port: 80}")]);
    let s = service(&t);
    assert_eq!(s.name, "default/api:80");
    assert_eq!(s.protocol, UpstreamProtocol::Http1);
    assert_eq!(
        s.endpoints,
        addrs(&["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8081"]),
        "sorted, other namespaces ignored"
    );
}

#[test]
fn unnamed_single_port_service_matches_unnamed_slice_port_and_dedups() {
    let objects = r#"
apiVersion: v1
kind: Service
metadata: {name: one, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: one-a, namespace: default, labels: {kubernetes.io/service-name: one}}
addressType: IPv6
ports: [{port: 8080}]
endpoints:
  - addresses: ["fd00::1"]
  - addresses: ["fd00::1"]
"#;
    let t = run(&[GATEWAY, objects, &route_to("{name: one, port: 80}")]);
    assert_eq!(service(&t).endpoints, addrs(&["[fd00::1]:8080"]));
}

const READINESS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: app, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-1, namespace: default, labels: {kubernetes.io/service-name: app}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
"#;

#[test]
fn ready_endpoints_are_used_and_unset_ready_means_ready() {
    let endpoints = r#"  - {addresses: ["10.0.0.1"], conditions: {ready: true}}
  - {addresses: ["10.0.0.2"]}
  - {addresses: ["10.0.0.3"], conditions: {ready: false, serving: true, terminating: true}}
  - {addresses: ["10.0.0.4"], conditions: {ready: false, serving: false}}"#;
    let t = run(&[
        GATEWAY,
        &format!("{READINESS}{endpoints}"),
        &route_to("{name: app, port: 80}"),
    ]);
    assert_eq!(service(&t).endpoints, addrs(&["10.0.0.1:8080", "10.0.0.2:8080"]));
}

#[test]
fn when_none_is_ready_serving_terminating_endpoints_are_used() {
    let endpoints = r#"  - {addresses: ["10.0.0.3"], conditions: {ready: false, serving: true, terminating: true}}
  - {addresses: ["10.0.0.4"], conditions: {ready: false, serving: false, terminating: true}}
  - {addresses: ["10.0.0.5"], conditions: {ready: false}}"#;
    let t = run(&[
        GATEWAY,
        &format!("{READINESS}{endpoints}"),
        &route_to("{name: app, port: 80}"),
    ]);
    assert_eq!(service(&t).endpoints, addrs(&["10.0.0.3:8080"]));
}

#[test]
fn garbage_addresses_are_skipped_and_reported_on_the_slice() {
    let endpoints = r#"  - {addresses: ["not-an-ip"]}
  - {addresses: ["10.0.0.7"]}
  - {addresses: ["999.1.1.1", "10.0.0.8"]}"#;
    let t = run(&[
        GATEWAY,
        &format!("{READINESS}{endpoints}"),
        &route_to("{name: app, port: 80}"),
    ]);
    assert_eq!(service(&t).endpoints, addrs(&["10.0.0.7:8080", "10.0.0.8:8080"]));
    let slice = status(&t, "EndpointSlice", Some("default"), "app-1");
    let c = condition(&slice.conditions, "Valid");
    assert_eq!(sr(c), (false, "InvalidAddress"));
    assert!(
        c.message.contains("not-an-ip") && c.message.contains("999.1.1.1"),
        "{}",
        c.message
    );
}

#[test]
fn fqdn_slices_are_skipped_and_reported() {
    let objects = r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-fqdn, namespace: default, labels: {kubernetes.io/service-name: app}}
addressType: FQDN
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [db.example.com]}]
"#;
    let t = run(&[
        GATEWAY,
        &app_service(),
        objects,
        &route_to("{name: app, port: 80}"),
    ]);
    assert_eq!(service(&t).endpoints, addrs(&["10.0.0.1:8080"]));
    let c = condition(
        &status(&t, "EndpointSlice", Some("default"), "app-fqdn").conditions,
        "Valid",
    );
    assert_eq!(sr(c), (false, "UnsupportedAddressType"));
}

#[test]
fn slices_no_backend_reads_are_not_reported() {
    let objects = r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: unrelated, namespace: default, labels: {kubernetes.io/service-name: unrelated}}
addressType: IPv4
endpoints: [{addresses: [garbage]}]
"#;
    let t = run(&[GATEWAY, objects]);
    assert!(t
        .status
        .get("EndpointSlice", Some("default"), "unrelated")
        .is_none());
}

#[test]
fn h2c_app_protocol_selects_http2_cleartext() {
    let objects = r#"
apiVersion: v1
kind: Service
metadata: {name: grpc, namespace: default}
spec: {ports: [{name: h2, port: 50051, appProtocol: kubernetes.io/h2c}]}
"#;
    let t = run(&[GATEWAY, objects, &route_to("{name: grpc, port: 50051}")]);
    assert_eq!(service(&t).protocol, UpstreamProtocol::H2c);
}

#[test]
fn service_without_slices_has_no_endpoints() {
    let objects = "apiVersion: v1\nkind: Service\nmetadata: {name: lonely, namespace: default}\nspec: {ports: [{port: 80}]}\n";
    let t = run(&[GATEWAY, objects, &route_to("{name: lonely, port: 80}")]);
    let s = service(&t);
    assert!(s.endpoints.is_empty());
    assert_eq!(
        sr(condition(&parent(&t, "r").conditions, "ResolvedRefs")),
        (true, "ResolvedRefs")
    );
}

#[test]
fn external_name_services_are_invalid_for_now() {
    let objects = "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: default}\nspec: {type: ExternalName, externalName: example.com, ports: [{port: 80}]}\n";
    let t = run(&[GATEWAY, objects, &route_to("{name: ext, port: 80}")]);
    assert!(
        matches!(&backend(&t).target, BackendTarget::Invalid { reason } if reason.contains("ExternalName"))
    );
    let refs = condition(&parent(&t, "r").conditions, "ResolvedRefs");
    assert_eq!(sr(refs), (false, "BackendNotFound"));
}

/// A ReferenceGrant in `other` with the given `from` and `to` entries (YAML flow mappings).
fn grant_with(from: &str, to: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: g, namespace: other}}\n\
         spec:\n  from: [{from}]\n  to: [{to}]\n"
    )
}

const FROM_DEFAULT_ROUTES: &str = "{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}";
const TO_SERVICES: &str = "{group: \"\", kind: Service}";

#[test]
fn grants_for_another_kind_or_group_do_not_permit() {
    let cases = [
        (
            "{group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: default}",
            TO_SERVICES,
            "a grant for GRPCRoutes does nothing for an HTTPRoute",
        ),
        (
            "{group: example.com, kind: HTTPRoute, namespace: default}",
            TO_SERVICES,
            "from must be the Gateway API group",
        ),
        (
            FROM_DEFAULT_ROUTES,
            "{group: \"\", kind: Secret}",
            "to must be Services",
        ),
        (
            FROM_DEFAULT_ROUTES,
            "{group: example.com, kind: Service}",
            "to must be the core group",
        ),
    ];
    for (from, to, why) in cases {
        let t = run(&[
            GATEWAY,
            OTHER_SERVICE,
            &grant_with(from, to),
            &route_to("{name: db, namespace: other, port: 5432}"),
        ]);
        assert_eq!(
            sr(condition(&parent(&t, "r").conditions, "ResolvedRefs")),
            (false, "RefNotPermitted"),
            "{why}"
        );
        assert!(
            matches!(backend(&t).target, BackendTarget::Invalid { .. }),
            "{why}"
        );
    }
}

#[test]
fn any_matching_entry_of_a_grant_permits() {
    let from = format!(
        "{{group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: default}}, {FROM_DEFAULT_ROUTES}"
    );
    let to = format!("{{group: \"\", kind: Service, name: cache}}, {TO_SERVICES}");
    let t = run(&[
        GATEWAY,
        OTHER_SERVICE,
        &grant_with(&from, &to),
        &route_to("{name: db, namespace: other, port: 5432}"),
    ]);
    assert_eq!(service(&t).name, "other/db:5432");
}

#[test]
fn a_grant_does_not_make_a_missing_service_exist() {
    let t = run(&[
        GATEWAY,
        &grant_with(FROM_DEFAULT_ROUTES, TO_SERVICES),
        &route_to("{name: db, namespace: other, port: 5432}"),
    ]);
    assert_eq!(
        sr(condition(&parent(&t, "r").conditions, "ResolvedRefs")),
        (false, "BackendNotFound")
    );
}

#[test]
fn same_namespace_refs_need_no_grant_even_when_spelled_out() {
    let t = run(&[
        GATEWAY,
        &app_service(),
        &route_to("{name: app, namespace: default, port: 80}"),
    ]);
    assert_eq!(service(&t).name, "default/app:80");
}

#[test]
fn mirrors_follow_the_same_reference_grant_rules() {
    let mirror_route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: default}\n\
                 spec:\n  parentRefs: [{name: web}]\n  rules: [{filters: [{type: RequestMirror, requestMirror: \
                 {backendRef: {name: db, namespace: other, port: 5432}}}]}]\n";
    let mirrors = |t: &fairlead_translate::Translation| {
        route(
            listener(t, "gateway/default/web/http"),
            "httproute/default/r/rule/0",
        )
        .filters
        .iter()
        .filter_map(|f| match f {
            fairlead_route::Filter::RequestMirror(m) => Some(m.backend.name.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
    };
    let t = run(&[GATEWAY, OTHER_SERVICE, mirror_route]);
    assert!(mirrors(&t).is_empty());
    assert_eq!(
        sr(condition(&parent(&t, "r").conditions, "ResolvedRefs")),
        (false, "RefNotPermitted")
    );
    let t = run(&[
        GATEWAY,
        OTHER_SERVICE,
        &grant("v1", "default", Some("db")),
        mirror_route,
    ]);
    assert_eq!(mirrors(&t), ["other/db:5432"]);
    assert_eq!(
        sr(condition(&parent(&t, "r").conditions, "ResolvedRefs")),
        (true, "ResolvedRefs")
    );
}
