//! GatewayClass and Gateway: which are ours, listeners in the config, and their status.

mod common;

use common::*;
use fairlead_route::ListenerProtocol;

const ROUTE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: default}
spec:
  parentRefs: [{name: web}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
"#;

#[test]
fn our_class_is_accepted_and_others_are_left_alone() {
    let other = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: other}
spec: {controllerName: example.com/other}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: theirs, namespace: default}
spec:
  gatewayClassName: other
  listeners: [{name: http, protocol: HTTP, port: 81}]
"#;
    let t = run(&[GATEWAY, other]);
    let class = status(&t, "GatewayClass", None, "fairlead");
    assert_eq!(sr(condition(&class.conditions, "Accepted")), (true, "Accepted"));
    assert!(t.status.get("GatewayClass", None, "other").is_none());
    assert!(t.status.get("Gateway", Some("default"), "theirs").is_none());
    assert_eq!(
        t.config
            .listeners
            .iter()
            .map(|l| l.id.as_str())
            .collect::<Vec<_>>(),
        ["gateway/default/web/http"]
    );
}

#[test]
fn gateway_of_a_class_with_another_controller_name_is_not_ours() {
    let t = run_with(
        &[GATEWAY],
        &fairlead_translate::Options {
            controller_name: "example.com/else".into(),
            ..Default::default()
        },
    );
    assert!(t.config.listeners.is_empty());
    assert!(t.status.objects.is_empty(), "{:#?}", t.status);
}

#[test]
fn http_listener_becomes_a_config_listener_with_full_status() {
    let t = run(&[GATEWAY, &app_service(), ROUTE]);
    let l = listener(&t, "gateway/default/web/http");
    assert_eq!(
        (l.port, l.protocol, l.hostname.as_deref()),
        (80, ListenerProtocol::Http, None)
    );
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(gw.generation, Some(3));
    assert_eq!(sr(condition(&gw.conditions, "Accepted")), (true, "Accepted"));
    assert_eq!(sr(condition(&gw.conditions, "Programmed")), (true, "Programmed"));
    let ls = &gw.listeners[0];
    assert_eq!((ls.name.as_str(), ls.attached_routes), ("http", 1));
    assert_eq!(ls.supported_kinds, ["HTTPRoute", "GRPCRoute"]);
    assert_eq!(sr(condition(&ls.conditions, "Accepted")), (true, "Accepted"));
    assert_eq!(sr(condition(&ls.conditions, "Programmed")), (true, "Programmed"));
    assert_eq!(
        sr(condition(&ls.conditions, "ResolvedRefs")),
        (true, "ResolvedRefs")
    );
    assert_eq!(
        sr(condition(&ls.conditions, "Conflicted")),
        (false, "NoConflicts")
    );
    assert!(!t.status.has_problems(), "{:#?}", t.status);
}

#[test]
fn listener_hostname_is_lowercased_into_the_config() {
    let t = run(&[&gateway(
        "    - {name: http, protocol: HTTP, port: 80, hostname: \"*.Example.COM\"}",
    )]);
    assert_eq!(
        listener(&t, "gateway/default/web/http").hostname.as_deref(),
        Some("*.example.com")
    );
}

#[test]
fn unsupported_protocols_are_refused_and_the_rest_still_serve() {
    let listeners = r#"    - {name: http, protocol: HTTP, port: 80}
    - {name: tls, protocol: TLS, port: 443, tls: {mode: Passthrough}}
    - {name: tcp, protocol: TCP, port: 5432}"#;
    let t = run(&[&gateway(listeners)]);
    assert_eq!(
        t.config
            .listeners
            .iter()
            .map(|l| l.id.as_str())
            .collect::<Vec<_>>(),
        ["gateway/default/web/http"]
    );
    let gw = status(&t, "Gateway", Some("default"), "web");
    let accepted = condition(&gw.conditions, "Accepted");
    assert_eq!(sr(accepted), (true, "ListenersNotValid"));
    assert!(
        accepted.message.contains("tls (") && accepted.message.contains("tcp"),
        "{}",
        accepted.message
    );
    assert_eq!(sr(condition(&gw.conditions, "Programmed")), (true, "Programmed"));
    let tls = gw.listeners.iter().find(|l| l.name == "tls").unwrap();
    let c = condition(&tls.conditions, "Accepted");
    assert_eq!(sr(c), (false, "UnsupportedProtocol"));
    assert!(
        c.message.contains("HTTP and HTTPS"),
        "the message says what is served: {}",
        c.message
    );
    assert_eq!(sr(condition(&tls.conditions, "Programmed")), (false, "Invalid"));
    assert!(tls.supported_kinds.is_empty());
    let tcp = gw.listeners.iter().find(|l| l.name == "tcp").unwrap();
    assert_eq!(
        sr(condition(&tcp.conditions, "Accepted")),
        (false, "UnsupportedProtocol")
    );
    assert!(tcp.supported_kinds.is_empty());
}

#[test]
fn gateway_with_no_usable_listener_is_not_accepted() {
    let t = run(&[&gateway("    - {name: udp, protocol: UDP, port: 53}")]);
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(
        sr(condition(&gw.conditions, "Accepted")),
        (false, "ListenersNotValid")
    );
    assert_eq!(sr(condition(&gw.conditions, "Programmed")), (false, "Invalid"));
    assert!(t.config.listeners.is_empty());
}

#[test]
fn same_port_and_hostname_conflict_and_neither_is_programmed() {
    let listeners = r#"    - {name: a, protocol: HTTP, port: 80, hostname: foo.example.com}
    - {name: b, protocol: HTTP, port: 80, hostname: foo.example.com}
    - {name: c, protocol: HTTP, port: 80, hostname: bar.example.com}
    - {name: d, protocol: HTTP, port: 8080}"#;
    let t = run(&[&gateway(listeners)]);
    let ids: Vec<_> = t.config.listeners.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(
        ids,
        ["gateway/default/web/c", "gateway/default/web/d"],
        "sorted by (port, id)"
    );
    let gw = status(&t, "Gateway", Some("default"), "web");
    for name in ["a", "b"] {
        let l = gw.listeners.iter().find(|l| l.name == name).unwrap();
        assert_eq!(
            sr(condition(&l.conditions, "Conflicted")),
            (true, "HostnameConflict")
        );
        assert_eq!(sr(condition(&l.conditions, "Accepted")), (false, "Invalid"));
        assert_eq!(sr(condition(&l.conditions, "Programmed")), (false, "Invalid"));
    }
    let accepted = condition(&gw.conditions, "Accepted");
    assert_eq!(sr(accepted), (true, "ListenersNotValid"));
    assert!(accepted.message.contains("share port 80"), "{}", accepted.message);
    let c = gw.listeners.iter().find(|l| l.name == "c").unwrap();
    assert_eq!(sr(condition(&c.conditions, "Conflicted")), (false, "NoConflicts"));
}

#[test]
fn unsupported_route_kinds_are_reported_on_the_listener() {
    let listeners = r#"    - name: http
      protocol: HTTP
      port: 80
      allowedRoutes:
        kinds: [{kind: HTTPRoute}, {kind: TCPRoute}]
    - name: grpc
      protocol: HTTP
      port: 81
      allowedRoutes:
        kinds: [{kind: GRPCRoute}]"#;
    let t = run(&[&gateway(listeners), &app_service(), ROUTE]);
    let gw = status(&t, "Gateway", Some("default"), "web");
    let http = gw.listeners.iter().find(|l| l.name == "http").unwrap();
    let refs = condition(&http.conditions, "ResolvedRefs");
    assert_eq!(sr(refs), (false, "InvalidRouteKinds"));
    assert!(refs.message.contains("TCPRoute"), "{}", refs.message);
    assert_eq!(http.supported_kinds, ["HTTPRoute"]);
    assert_eq!(http.attached_routes, 1, "HTTPRoute is still admitted");
    let grpc = gw.listeners.iter().find(|l| l.name == "grpc").unwrap();
    assert_eq!(grpc.supported_kinds, ["GRPCRoute"]);
    assert_eq!(grpc.attached_routes, 0, "the HTTPRoute is refused there");
    assert_eq!(
        sr(condition(&grpc.conditions, "Programmed")),
        (true, "Programmed")
    );
}

#[test]
fn listener_with_only_unsupported_kinds_supports_nothing_and_is_not_programmed() {
    let listeners = r#"    - name: tcp-only
      protocol: HTTP
      port: 80
      allowedRoutes:
        kinds: [{kind: TCPRoute}, {group: example.com, kind: HTTPRoute}]"#;
    let t = run(&[&gateway(listeners), &app_service(), ROUTE]);
    let l = listener_status(&t, "default", "web", "tcp-only");
    assert!(l.supported_kinds.is_empty());
    let refs = condition(&l.conditions, "ResolvedRefs");
    assert_eq!(sr(refs), (false, "InvalidRouteKinds"));
    assert!(refs.message.contains("example.com/HTTPRoute"), "{}", refs.message);
    assert_eq!(sr(condition(&l.conditions, "Programmed")), (false, "Invalid"));
    assert_eq!(
        accepted_of(&t, "HTTPRoute", "app"),
        (false, "NotAllowedByListeners")
    );
    assert!(t.config.listeners.is_empty());
}

#[test]
fn gateway_class_lists_supported_features_sorted_and_unique() {
    let t = run(&[GATEWAY]);
    let class = status(&t, "GatewayClass", None, "fairlead");
    let features = &class.supported_features;
    assert!(features.windows(2).all(|w| w[0] < w[1]), "{features:?}");
    for name in [
        "Gateway",
        "GatewayHTTPListenerIsolation",
        "GatewayPort8080",
        "GRPCRoute",
        "HTTPRoute",
        "ReferenceGrant",
    ] {
        assert!(
            features.iter().any(|f| f == name),
            "{name} missing from {features:?}"
        );
    }
    // Names the conformance suite does not define, or that fairlead does not implement.
    for name in ["TLSRoute", "GatewayStaticAddresses", "HTTPRouteRetries", "Mesh"] {
        assert!(!features.iter().any(|f| f == name), "{name} must not be claimed");
    }
    assert!(
        status(&t, "Gateway", Some("default"), "web")
            .supported_features
            .is_empty(),
        "only the GatewayClass carries supportedFeatures"
    );
}

#[test]
fn attached_routes_counts_routes_not_rules_or_parent_refs() {
    let two_refs = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: twice, namespace: default}
spec:
  parentRefs: [{name: web}, {name: web, sectionName: http}]
  rules:
    - matches: [{path: {value: /a}}]
    - matches: [{path: {value: /b}}]
"#;
    let t = run(&[GATEWAY, &app_service(), ROUTE, two_refs]);
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(gw.listeners[0].attached_routes, 2);
    let l = listener(&t, "gateway/default/web/http");
    assert_eq!(
        route_ids(l),
        [
            "httproute/default/app/rule/0",
            "httproute/default/twice/rule/0",
            "httproute/default/twice/rule/1"
        ],
        "each rule once, even when two parentRefs select the listener"
    );
}
