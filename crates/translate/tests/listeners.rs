//! Listener and Gateway semantics: conflicts inside a Gateway and between Gateways sharing a
//! port, the conditions every listener carries, attachedRoutes, spec.addresses, parentRef
//! selection by port and section, listener isolation, and the rule that an HTTPRoute and a
//! GRPCRoute may not share a hostname on a listener.

mod common;

use common::*;

/// An HTTPRoute `default/<name>` with the given spec body.
fn http_route(name: &str, spec: &str) -> String {
    route_at("HTTPRoute", "default", name, "2024-01-01T00:00:00Z", spec)
}

#[test]
fn every_listener_carries_all_four_conditions() {
    let listeners = r#"    - {name: ok, protocol: HTTP, port: 80}
    - {name: udp, protocol: UDP, port: 53}
    - {name: bad-port, protocol: HTTP, port: 70000}"#;
    let t = run(&[&gateway(listeners)]);
    for name in ["ok", "udp", "bad-port"] {
        let l = listener_status(&t, "default", "web", name);
        let types: Vec<&str> = l.conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types,
            ["Accepted", "ResolvedRefs", "Conflicted", "Programmed"],
            "{name}"
        );
    }
    let udp = listener_status(&t, "default", "web", "udp");
    assert_eq!(
        sr(condition(&udp.conditions, "Accepted")),
        (false, "UnsupportedProtocol")
    );
    assert_eq!(
        sr(condition(&udp.conditions, "Conflicted")),
        (false, "NoConflicts")
    );
    let port = listener_status(&t, "default", "web", "bad-port");
    assert_eq!(
        sr(condition(&port.conditions, "Accepted")),
        (false, "PortUnavailable")
    );
    assert_eq!(listener_ids(&t), ["gateway/default/web/ok"]);
}

#[test]
fn different_protocols_on_one_port_conflict_and_other_ports_still_serve() {
    let listeners = r#"    - {name: http, protocol: HTTP, port: 80}
    - {name: https, protocol: HTTPS, port: 80, hostname: secure.example.com}
    - {name: plain, protocol: HTTP, port: 81}
    - {name: tcp, protocol: TCP, port: 81}
    - {name: other, protocol: HTTP, port: 82}"#;
    let t = run(&[&gateway(listeners)]);
    for name in ["http", "https", "plain", "tcp"] {
        let l = listener_status(&t, "default", "web", name);
        let conflicted = condition(&l.conditions, "Conflicted");
        assert_eq!(sr(conflicted), (true, "ProtocolConflict"), "{name}");
        assert!(
            conflicted.message.contains("different protocols"),
            "{}",
            conflicted.message
        );
        assert_eq!(
            sr(condition(&l.conditions, "Programmed")),
            (false, "Invalid"),
            "{name}"
        );
    }
    // A listener already refused for its own protocol keeps that reason on Accepted.
    let tcp = listener_status(&t, "default", "web", "tcp");
    assert_eq!(
        sr(condition(&tcp.conditions, "Accepted")),
        (false, "UnsupportedProtocol")
    );
    for name in ["http", "https"] {
        let l = listener_status(&t, "default", "web", name);
        assert_eq!(
            sr(condition(&l.conditions, "Accepted")),
            (false, "Invalid"),
            "{name}"
        );
    }
    let other = listener_status(&t, "default", "web", "other");
    assert_eq!(
        sr(condition(&other.conditions, "Conflicted")),
        (false, "NoConflicts")
    );
    assert_eq!(listener_ids(&t), ["gateway/default/web/other"]);
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(
        sr(condition(&gw.conditions, "Accepted")),
        (true, "ListenersNotValid")
    );
}

#[test]
fn same_port_and_protocol_with_different_hostnames_do_not_conflict() {
    let listeners = r#"    - {name: a, protocol: HTTP, port: 80, hostname: a.example.com}
    - {name: wild, protocol: HTTP, port: 80, hostname: "*.example.com"}
    - {name: any, protocol: HTTP, port: 80}"#;
    let t = run(&[&gateway(listeners)]);
    assert_eq!(listener_ids(&t).len(), 3);
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert!(!gw.has_problems(), "{gw:#?}");
}

#[test]
fn routes_are_refused_by_conflicted_listeners() {
    let listeners = r#"    - {name: a, protocol: HTTP, port: 80}
    - {name: b, protocol: HTTP, port: 80}"#;
    let route = http_route("r", "  parentRefs: [{name: web}]\n  rules: [{}]");
    let t = run(&[&gateway(listeners), &route]);
    let c = condition(&parent(&t, "r").conditions, "Accepted");
    assert_eq!(sr(c), (false, "NotAllowedByListeners"));
    assert!(c.message.contains("share port 80"), "{}", c.message);
    // "the AttachedRoutes field count MUST be set for Listeners with condition Accepted: false"
    // (ListenerStatus.attachedRoutes): listener problems do not undo attachment.
    for name in ["a", "b"] {
        assert_eq!(listener_status(&t, "default", "web", name).attached_routes, 1);
    }
}

#[test]
fn gateways_sharing_a_port_with_one_protocol_are_merged() {
    let a = gateway_named(
        "default",
        "a",
        "",
        "    - {name: http, protocol: HTTP, port: 80, hostname: a.example.com}",
    );
    let b = gateway_named("other", "b", "", "    - {name: http, protocol: HTTP, port: 80}");
    let t = run(&[CLASS, &a, &b]);
    assert_eq!(
        listener_ids(&t),
        ["gateway/default/a/http", "gateway/other/b/http"],
        "both listeners reach the config; the table orders them by hostname"
    );
    for (ns, name) in [("default", "a"), ("other", "b")] {
        let l = listener_status(&t, ns, name, "http");
        assert_eq!(sr(condition(&l.conditions, "Conflicted")), (false, "NoConflicts"));
    }
}

#[test]
fn the_older_gateway_keeps_a_port_when_protocols_differ() {
    // `z` is older than `a`, so it owns port 80 despite sorting after it by name.
    let z = gateway_named(
        "default",
        "z",
        "creationTimestamp: \"2023-01-01T00:00:00Z\"",
        "    - {name: http, protocol: HTTP, port: 80}",
    );
    let a = gateway_named(
        "default",
        "a",
        "creationTimestamp: \"2024-01-01T00:00:00Z\"",
        "    - {name: tcp, protocol: TCP, port: 80}\n    - {name: http, protocol: HTTP, port: 81}",
    );
    let t = run(&[CLASS, &z, &a]);
    let tcp = listener_status(&t, "default", "a", "tcp");
    let conflicted = condition(&tcp.conditions, "Conflicted");
    assert_eq!(sr(conflicted), (true, "ProtocolConflict"));
    assert!(
        conflicted.message.contains("Gateway default/z"),
        "{}",
        conflicted.message
    );
    let owner = listener_status(&t, "default", "z", "http");
    assert_eq!(
        sr(condition(&owner.conditions, "Conflicted")),
        (false, "NoConflicts")
    );
    assert_eq!(
        listener_ids(&t),
        ["gateway/default/z/http", "gateway/default/a/http"]
    );
}

#[test]
fn without_timestamps_namespace_and_name_decide_the_port_owner() {
    let a = gateway_named("default", "a", "", "    - {name: web, protocol: HTTP, port: 80}");
    let b = gateway_named("default", "b", "", "    - {name: web, protocol: HTTPS, port: 80}");
    let t = run(&[CLASS, &b, &a]);
    let lost = listener_status(&t, "default", "b", "web");
    assert_eq!(
        sr(condition(&lost.conditions, "Conflicted")),
        (true, "ProtocolConflict")
    );
    let kept = listener_status(&t, "default", "a", "web");
    assert_eq!(
        sr(condition(&kept.conditions, "Programmed")),
        (true, "Programmed")
    );
}

#[test]
fn a_gateway_that_is_not_accepted_does_not_hold_its_ports() {
    let old = gateway_named(
        "default",
        "old",
        "creationTimestamp: \"2020-01-01T00:00:00Z\"",
        "    - {name: tcp, protocol: TCP, port: 80}",
    )
    .replace(
        "  listeners:",
        "  addresses: [{type: IPAddress, value: 10.1.1.1}]\n  listeners:",
    );
    let new = gateway_named(
        "default",
        "new",
        "",
        "    - {name: http, protocol: HTTP, port: 80}",
    );
    let t = run(&[CLASS, &old, &new]);
    let l = listener_status(&t, "default", "new", "http");
    assert_eq!(sr(condition(&l.conditions, "Conflicted")), (false, "NoConflicts"));
    assert_eq!(listener_ids(&t), ["gateway/default/new/http"]);
}

#[test]
fn spec_addresses_make_the_gateway_unaccepted() {
    let gw = gateway_named(
        "default",
        "web",
        "generation: 4",
        "    - {name: http, protocol: HTTP, port: 80}",
    )
    .replace(
        "  listeners:",
        "  addresses: [{type: IPAddress, value: 192.0.2.7}, {type: Hostname}]\n  listeners:",
    );
    let route = http_route("r", "  parentRefs: [{name: web}]\n  rules: [{}]");
    let t = run(&[CLASS, &gw, &route]);
    let status = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(status.generation, Some(4));
    let accepted = condition(&status.conditions, "Accepted");
    assert_eq!(sr(accepted), (false, "UnsupportedAddress"));
    assert!(
        accepted.message.contains("IPAddress 192.0.2.7") && accepted.message.contains("Hostname (no value)"),
        "{}",
        accepted.message
    );
    assert_eq!(
        sr(condition(&status.conditions, "Programmed")),
        (false, "Invalid")
    );
    let l = listener_status(&t, "default", "web", "http");
    assert_eq!(sr(condition(&l.conditions, "Programmed")), (false, "Invalid"));
    // Counted all the same: attachment depends on allowedRoutes and parentRefs only.
    assert_eq!(l.attached_routes, 1);
    assert!(t.config.listeners.is_empty());
    assert_eq!(
        accepted_of(&t, "HTTPRoute", "r"),
        (false, "NotAllowedByListeners")
    );
}

#[test]
fn empty_spec_addresses_are_fine() {
    let gw = gateway_named(
        "default",
        "web",
        "",
        "    - {name: http, protocol: HTTP, port: 80}",
    )
    .replace("  listeners:", "  addresses: []\n  listeners:");
    let t = run(&[CLASS, &gw]);
    let status = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(sr(condition(&status.conditions, "Accepted")), (true, "Accepted"));
}

#[test]
fn attached_routes_count_http_and_grpc_routes_once_each() {
    let web = http_route(
        "web",
        "  parentRefs: [{name: web}]\n  hostnames: [web.example.com]\n  rules: [{}]",
    );
    let api = route_at(
        "GRPCRoute",
        "default",
        "api",
        "2024-01-01T00:00:00Z",
        "  parentRefs: [{name: web}, {name: web, sectionName: http}]\n  hostnames: [api.example.com]\n  \
         rules: [{matches: [{method: {service: a.A}}]}, {matches: [{method: {service: b.B}}]}]",
    );
    let t = run(&[GATEWAY, &web, &api]);
    assert_eq!(listener_status(&t, "default", "web", "http").attached_routes, 2);
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/http")),
        [
            "grpcroute/default/api/rule/0",
            "grpcroute/default/api/rule/1",
            "httproute/default/web/rule/0"
        ]
    );
    assert_eq!(status(&t, "GRPCRoute", Some("default"), "api").parents.len(), 2);
}

#[test]
fn parent_ref_port_selects_the_listeners_on_that_port() {
    let listeners = r#"    - {name: http, protocol: HTTP, port: 80}
    - {name: http-8080, protocol: HTTP, port: 8080}
    - {name: other-8080, protocol: HTTP, port: 8080, hostname: other.example.com}"#;
    let by_port = http_route(
        "by-port",
        "  parentRefs: [{name: web, port: 8080}]\n  rules: [{}]",
    );
    let both = http_route(
        "both",
        "  parentRefs: [{name: web, port: 8080, sectionName: http-8080}]\n  rules: [{}]",
    );
    let t = run(&[&gateway(listeners), &by_port, &both]);
    assert!(listener(&t, "gateway/default/web/http").routes.is_empty());
    assert_eq!(listener_status(&t, "default", "web", "http").attached_routes, 0);
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/http-8080")),
        [
            "httproute/default/both/rule/0",
            "httproute/default/by-port/rule/0"
        ]
    );
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/other-8080")),
        ["httproute/default/by-port/rule/0"]
    );
    assert_eq!(parent(&t, "by-port").parent.port, Some(8080));
    assert_eq!(accepted_of(&t, "HTTPRoute", "both"), (true, "Accepted"));
}

#[test]
fn listener_isolation_keeps_each_listeners_routes_apart() {
    // The GatewayHTTPListenerIsolation layout: one route per listener, selected by sectionName.
    let listeners = r#"    - {name: empty-hostname, protocol: HTTP, port: 80}
    - {name: wildcard-example-com, protocol: HTTP, port: 80, hostname: "*.example.com"}
    - {name: wildcard-foo-example-com, protocol: HTTP, port: 80, hostname: "*.foo.example.com"}
    - {name: abc-foo-example-com, protocol: HTTP, port: 80, hostname: abc.foo.example.com}"#;
    let names = [
        "empty-hostname",
        "wildcard-example-com",
        "wildcard-foo-example-com",
        "abc-foo-example-com",
    ];
    let mut docs = vec![gateway(listeners)];
    for name in names {
        docs.push(http_route(
            &format!("attaches-to-{name}"),
            &format!("  parentRefs: [{{name: web, sectionName: {name}}}]\n  rules: [{{}}]"),
        ));
    }
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let t = run(&refs);
    for name in names {
        let l = listener(&t, &format!("gateway/default/web/{name}"));
        assert_eq!(
            route_ids(l),
            [format!("httproute/default/attaches-to-{name}/rule/0")],
            "{name} holds only its own route"
        );
        assert_eq!(listener_status(&t, "default", "web", name).attached_routes, 1);
    }
    let wild = route(
        listener(&t, "gateway/default/web/wildcard-example-com"),
        "httproute/default/attaches-to-wildcard-example-com/rule/0",
    );
    assert_eq!(
        wild.hostnames,
        ["*.example.com"],
        "the listener hostname bounds the route"
    );
}

#[test]
fn parent_refs_to_missing_or_foreign_gateways_are_not_reported() {
    let route = http_route(
        "r",
        "  parentRefs: [{name: missing}, {name: web, namespace: elsewhere}, {name: web}]\n  rules: [{}]",
    );
    let lonely = http_route("lonely", "  parentRefs: [{name: missing}]\n  rules: [{}]");
    let t = run(&[GATEWAY, &route, &lonely]);
    let s = status(&t, "HTTPRoute", Some("default"), "r");
    assert_eq!(s.parents.len(), 1, "{s:#?}");
    assert_eq!(
        (
            s.parents[0].parent.namespace.as_str(),
            s.parents[0].parent.name.as_str()
        ),
        ("default", "web")
    );
    assert!(t.status.get("HTTPRoute", Some("default"), "lonely").is_none());
}

#[test]
fn route_status_carries_the_route_generation() {
    let route = http_route("r", "  parentRefs: [{name: web}]\n  rules: [{}]");
    let t = run(&[GATEWAY, &route]);
    assert_eq!(status(&t, "HTTPRoute", Some("default"), "r").generation, Some(2));
}

const TO_WEB: &str = "  parentRefs: [{name: web}]\n";

/// An HTTPRoute `default/<name>` created at `created`, on Gateway web with these hostnames.
fn http_at(name: &str, created: &str, hostnames: &str) -> String {
    route_at(
        "HTTPRoute",
        "default",
        name,
        created,
        &format!("{TO_WEB}  hostnames: {hostnames}\n  rules: [{{}}]"),
    )
}

/// A GRPCRoute `default/<name>` created at `created`, on Gateway web with these hostnames.
fn grpc_at(name: &str, created: &str, hostnames: &str) -> String {
    route_at(
        "GRPCRoute",
        "default",
        name,
        created,
        &format!("{TO_WEB}  hostnames: {hostnames}\n  rules: [{{}}]"),
    )
}

#[test]
fn http_and_grpc_routes_sharing_a_hostname_keep_only_the_older() {
    let older_http = http_at("web", "2024-01-01T00:00:00Z", "[a.example.com]");
    let newer_grpc = grpc_at("api", "2024-02-01T00:00:00Z", "[\"*.example.com\"]");
    let t = run(&[GATEWAY, &older_http, &newer_grpc]);
    assert_eq!(accepted_of(&t, "HTTPRoute", "web"), (true, "Accepted"));
    let c = condition(&parent_of(&t, "GRPCRoute", "api").conditions, "Accepted");
    assert_eq!(sr(c), (false, "HostnameConflict"));
    assert!(c.message.contains("HTTPRoute default/web"), "{}", c.message);
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/http")),
        ["httproute/default/web/rule/0"]
    );
    // attachedRoutes counts routes that allowedRoutes and the parentRef attach, "that may
    // themselves have Accepted: false conditions" (ListenerStatus.attachedRoutes).
    assert_eq!(listener_status(&t, "default", "web", "http").attached_routes, 2);

    // The other way round: the GRPCRoute is older, so it wins.
    let newer_http = http_at("web", "2024-03-01T00:00:00Z", "[a.example.com]");
    let t = run(&[GATEWAY, &newer_http, &newer_grpc]);
    assert_eq!(accepted_of(&t, "GRPCRoute", "api"), (true, "Accepted"));
    assert_eq!(accepted_of(&t, "HTTPRoute", "web"), (false, "HostnameConflict"));
}

#[test]
fn equal_age_conflicts_go_to_the_first_namespace_and_name() {
    let http = http_at("b-web", "2024-01-01T00:00:00Z", "[a.example.com]");
    let grpc = grpc_at("a-api", "2024-01-01T00:00:00Z", "[a.example.com]");
    let t = run(&[GATEWAY, &http, &grpc]);
    assert_eq!(accepted_of(&t, "GRPCRoute", "a-api"), (true, "Accepted"));
    assert_eq!(accepted_of(&t, "HTTPRoute", "b-web"), (false, "HostnameConflict"));
}

#[test]
fn no_conflict_without_shared_hostnames_or_between_routes_of_one_kind() {
    let t = run(&[
        GATEWAY,
        &http_at("web", "2024-01-01T00:00:00Z", "[a.example.com]"),
        &grpc_at("api", "2024-02-01T00:00:00Z", "[b.example.com]"),
        &grpc_at("api2", "2024-03-01T00:00:00Z", "[b.example.com]"),
    ]);
    for (kind, name) in [("HTTPRoute", "web"), ("GRPCRoute", "api"), ("GRPCRoute", "api2")] {
        assert_eq!(accepted_of(&t, kind, name), (true, "Accepted"), "{kind} {name}");
    }
    assert_eq!(listener_status(&t, "default", "web", "http").attached_routes, 3);
}

#[test]
fn routes_without_hostnames_conflict_with_every_route_of_the_other_kind() {
    let t = run(&[
        GATEWAY,
        &http_at("web", "2024-01-01T00:00:00Z", "[]"),
        &grpc_at("api", "2024-02-01T00:00:00Z", "[b.example.com]"),
    ]);
    assert_eq!(accepted_of(&t, "GRPCRoute", "api"), (false, "HostnameConflict"));
}

#[test]
fn a_rejected_route_does_not_push_out_a_third() {
    // api loses to the older web; then web2 shares a hostname only with api, which is not
    // attached, so web2 stays.
    let t = run(&[
        GATEWAY,
        &http_at("web", "2024-01-01T00:00:00Z", "[a.example.com]"),
        &grpc_at("api", "2024-02-01T00:00:00Z", "[\"*.example.com\"]"),
        &http_at("web2", "2024-03-01T00:00:00Z", "[b.example.com]"),
    ]);
    assert_eq!(accepted_of(&t, "GRPCRoute", "api"), (false, "HostnameConflict"));
    assert_eq!(accepted_of(&t, "HTTPRoute", "web2"), (true, "Accepted"));
}

#[test]
fn a_conflict_on_one_listener_leaves_the_others() {
    let gw = gateway(
        r#"    - {name: shared, protocol: HTTP, port: 80}
    - {name: grpc, protocol: HTTP, port: 81}"#,
    );
    let http = route_at(
        "HTTPRoute",
        "default",
        "web",
        "2024-01-01T00:00:00Z",
        "  parentRefs: [{name: web, sectionName: shared}]\n  rules: [{}]",
    );
    let t = run(&[
        &gw,
        &http,
        &grpc_at("api", "2024-02-01T00:00:00Z", "[api.example.com]"),
    ]);
    let c = condition(&parent_of(&t, "GRPCRoute", "api").conditions, "Accepted");
    assert_eq!(sr(c), (true, "Accepted"));
    assert_eq!(c.message, "accepted by listener(s) grpc of Gateway default/web");
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/shared")),
        ["httproute/default/web/rule/0"]
    );
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/grpc")),
        ["grpcroute/default/api/rule/0"]
    );
    // Both routes select `shared` and its allowedRoutes admit both: both count, though only the
    // HTTPRoute's rules are served there.
    assert_eq!(listener_status(&t, "default", "web", "shared").attached_routes, 2);
}
