//! GRPCRoute: rule conversion (method and header matches, filters, backends), attachment to
//! listeners like HTTPRoute, and every Accepted reason. The HTTPRoute/GRPCRoute hostname
//! conflict rule is tested in `listeners.rs`.

mod common;

use common::*;
use fairlead_route::{
    BackendTarget, Filter, HeaderMatch, HeaderModifier, PathMatch, Route, RouteKind, RouteMatch, RouteOrder,
    StringMatch, UpstreamProtocol,
};
use fairlead_translate::{parse_documents, Translation};

/// A GRPCRoute `default/<name>` created at 2024-01-02T03:04:05Z.
fn grpc(name: &str, spec: &str) -> String {
    route_at("GRPCRoute", "default", name, "2024-01-02T03:04:05Z", spec)
}

const TO_WEB: &str = "  parentRefs: [{name: web}]\n";

/// Rule `index` of GRPCRoute `default/<name>` on listener `web/http`.
fn rule<'a>(t: &'a Translation, name: &str, index: usize) -> &'a Route {
    route(
        listener(t, "gateway/default/web/http"),
        &format!("grpcroute/default/{name}/rule/{index}"),
    )
}

fn rule_ids(t: &Translation) -> Vec<&str> {
    route_ids(listener(t, "gateway/default/web/http"))
}

/// The PartiallyInvalid message of GRPCRoute `default/r`, failing when the condition is absent.
fn partially_invalid(t: &Translation) -> String {
    let c = condition(&parent_of(t, "GRPCRoute", "r").conditions, "PartiallyInvalid");
    assert_eq!(sr(c), (true, "UnsupportedValue"));
    c.message.clone()
}

fn path_of(t: &Translation, name: &str, index: usize) -> Vec<PathMatch> {
    rule(t, name, index)
        .matches
        .iter()
        .map(|m| m.path.clone())
        .collect()
}

#[test]
fn method_matches_become_path_matches() {
    let spec = format!(
        "{TO_WEB}  rules:
    - matches: [{{method: {{service: grpc.health.v1.Health, method: Check}}}}]
    - matches: [{{method: {{service: grpc.health.v1.Health}}}}]
    - matches: [{{method: {{method: Check}}}}]
    - matches: [{{method: {{type: RegularExpression, service: \"grpc\\\\..*\", method: \"Check|Watch\"}}}}]
    - matches: [{{method: {{type: RegularExpression, method: \"W.*\"}}}}]
    - backendRefs: [{{name: grpc, port: 50051}}]"
    );
    let t = run(&[GATEWAY, &grpc_service(), &grpc("health", &spec)]);
    let p = |i: usize| path_of(&t, "health", i);
    assert_eq!(p(0), [PathMatch::Exact("/grpc.health.v1.Health/Check".into())]);
    assert_eq!(p(1), [PathMatch::Prefix("/grpc.health.v1.Health".into())]);
    assert_eq!(p(2), [PathMatch::RegularExpression("/[^/]+/Check".into())]);
    assert_eq!(
        p(3),
        [PathMatch::RegularExpression(
            "/(?:grpc\\..*)/(?:Check|Watch)".into()
        )]
    );
    assert_eq!(p(4), [PathMatch::RegularExpression("/[^/]+/(?:W.*)".into())]);
    let all = rule(&t, "health", 5);
    assert!(all.matches.is_empty(), "no matches means every call");
    assert_eq!(accepted_of(&t, "GRPCRoute", "health"), (true, "Accepted"));
    assert!(!t.status.has_problems(), "{:#?}", t.status);
}

#[test]
fn route_carries_kind_order_headers_and_h2c_backends() {
    let spec = format!(
        "{TO_WEB}  hostnames: [Api.Example.com]
  rules:
    - matches:
        - method: {{service: pkg.Svc, method: Get}}
          headers:
            - {{name: X-Tenant, value: a}}
            - {{name: x-tenant, value: ignored}}
            - {{name: X-Version, type: RegularExpression, value: \"v[0-9]+\"}}
      backendRefs: [{{name: grpc, port: 50051, weight: 3}}, {{name: app, port: 80}}]"
    );
    let t = run(&[GATEWAY, &grpc_service(), &app_service(), &grpc("api", &spec)]);
    let r = rule(&t, "api", 0);
    assert_eq!(r.kind, RouteKind::GrpcRoute);
    assert_eq!(r.hostnames, ["api.example.com"]);
    assert_eq!(
        r.matches,
        [RouteMatch {
            path: PathMatch::Exact("/pkg.Svc/Get".into()),
            headers: vec![
                HeaderMatch {
                    name: "x-tenant".into(),
                    value: StringMatch::Exact("a".into())
                },
                HeaderMatch {
                    name: "x-version".into(),
                    value: StringMatch::RegularExpression("v[0-9]+".into())
                },
            ],
            query: vec![],
            method: None,
        }],
        "names are lowercased and only the first entry of a name counts"
    );
    assert_eq!(
        r.order,
        RouteOrder {
            created: Some(1_704_164_645),
            namespace: "default".into(),
            name: "api".into(),
            rule: 0
        }
    );
    assert_eq!(r.backends.len(), 2);
    assert_eq!(r.backends[0].weight, 3);
    for b in &r.backends {
        let BackendTarget::Service(s) = &b.target else {
            panic!("unresolved backend {b:?}");
        };
        assert_eq!(s.protocol, UpstreamProtocol::H2c, "{}", s.name);
    }
    let BackendTarget::Service(s) = &r.backends[0].target else {
        unreachable!()
    };
    assert_eq!(s.endpoints, ["10.0.0.2:9000".parse().unwrap()]);
    let status = status(&t, "GRPCRoute", Some("default"), "api");
    assert_eq!(status.generation, Some(2));
}

#[test]
fn invalid_method_matches_and_regexes_drop_only_their_rule() {
    let spec = format!(
        "{TO_WEB}  rules:
    - matches: [{{method: {{}}}}]
    - matches: [{{method: {{service: \"bad/name\", method: M}}}}]
    - matches: [{{method: {{type: RegularExpression, service: \"(\"}}}}]
    - matches: [{{headers: [{{name: x, type: RegularExpression, value: \"*\"}}]}}]
    - matches: [{{method: {{service: ok.Svc}}}}]"
    );
    let t = run(&[GATEWAY, &grpc("r", &spec)]);
    assert_eq!(rule_ids(&t), ["grpcroute/default/r/rule/4"]);
    let p = parent_of(&t, "GRPCRoute", "r");
    assert_eq!(sr(condition(&p.conditions, "Accepted")), (true, "Accepted"));
    assert_mentions(
        &partially_invalid(&t),
        &[
            "rule 0: matches[0].method: one or both of service and method must be set",
            "rule 1: matches[0].method.service: \"bad/name\"",
            "rule 2: matches[0].method.service: invalid regular expression",
            "rule 3: matches[0].headers[0].value: invalid regular expression",
        ],
    );
}

#[test]
fn route_with_no_valid_rule_is_unsupported_value() {
    let spec = format!("{TO_WEB}  rules: [{{matches: [{{method: {{method: \"\"}}}}]}}]");
    let t = run(&[GATEWAY, &grpc("r", &spec)]);
    let c = condition(&parent_of(&t, "GRPCRoute", "r").conditions, "Accepted");
    assert_eq!(sr(c), (false, "UnsupportedValue"));
    assert!(c.message.contains("rule 0"), "{}", c.message);
    // attachedRoutes counts routes that allowedRoutes and the parentRef attach, "that may
    // themselves have Accepted: false conditions" (ListenerStatus.attachedRoutes).
    assert_eq!(listener_status(&t, "default", "web", "http").attached_routes, 1);
}

#[test]
fn header_modifiers_apply_at_rule_and_backend_level() {
    let spec = format!(
        "{TO_WEB}  rules:
    - filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {{set: [{{name: x-a, value: \"1\"}}], add: [{{name: x-b, value: \"2\"}}], remove: [x-c]}}
        - type: ResponseHeaderModifier
          responseHeaderModifier: {{add: [{{name: x-resp, value: r}}]}}
      backendRefs:
        - name: grpc
          port: 50051
          filters:
            - type: RequestHeaderModifier
              requestHeaderModifier: {{set: [{{name: x-backend, value: v1}}]}}"
    );
    let t = run(&[GATEWAY, &grpc_service(), &grpc("r", &spec)]);
    let r = rule(&t, "r", 0);
    assert_eq!(
        r.filters,
        [
            Filter::RequestHeaderModifier(HeaderModifier {
                set: vec![("x-a".into(), "1".into())],
                add: vec![("x-b".into(), "2".into())],
                remove: vec!["x-c".into()],
            }),
            Filter::ResponseHeaderModifier(HeaderModifier {
                add: vec![("x-resp".into(), "r".into())],
                ..Default::default()
            }),
        ]
    );
    assert_eq!(
        r.backends[0].filters,
        [Filter::RequestHeaderModifier(HeaderModifier {
            set: vec![("x-backend".into(), "v1".into())],
            ..Default::default()
        })]
    );
    assert!(!t.status.has_problems(), "{:#?}", t.status);
}

#[test]
fn request_mirror_resolves_its_backend_or_is_dropped() {
    let spec = format!(
        "{TO_WEB}  rules:
    - filters:
        - type: RequestMirror
          requestMirror: {{backendRef: {{name: app, port: 80}}, percent: 25}}
        - type: RequestMirror
          requestMirror: {{backendRef: {{name: nowhere, port: 80}}}}
      backendRefs: [{{name: grpc, port: 50051}}]"
    );
    let t = run(&[GATEWAY, &grpc_service(), &app_service(), &grpc("r", &spec)]);
    let r = rule(&t, "r", 0);
    assert_eq!(
        r.filters.len(),
        1,
        "the unresolved mirror is left out: {:?}",
        r.filters
    );
    let Filter::RequestMirror(m) = &r.filters[0] else {
        panic!("not a mirror: {:?}", r.filters[0]);
    };
    assert_eq!((m.numerator, m.denominator), (25, 100));
    assert_eq!(m.backend.name, "default/app:80");
    assert_eq!(m.backend.protocol, UpstreamProtocol::H2c);
    let p = parent_of(&t, "GRPCRoute", "r");
    assert_eq!(sr(condition(&p.conditions, "Accepted")), (true, "Accepted"));
    let refs = condition(&p.conditions, "ResolvedRefs");
    assert_eq!(sr(refs), (false, "BackendNotFound"));
    assert!(
        refs.message.contains("RequestMirror: Service default/nowhere"),
        "{}",
        refs.message
    );
}

#[test]
fn mirror_with_an_impossible_share_drops_the_rule() {
    let spec = format!(
        "{TO_WEB}  rules:
    - filters:
        - type: RequestMirror
          requestMirror: {{backendRef: {{name: app, port: 80}}, fraction: {{numerator: 3, denominator: 2}}}}
    - matches: [{{method: {{service: ok.Svc}}}}]"
    );
    let t = run(&[GATEWAY, &app_service(), &grpc("r", &spec)]);
    assert_eq!(rule_ids(&t), ["grpcroute/default/r/rule/1"]);
    assert_mentions(&partially_invalid(&t), &["rule 0: filters[0].requestMirror"]);
}

#[test]
fn extension_ref_is_kept_as_unsupported_and_reported() {
    let spec = format!(
        "{TO_WEB}  rules:
    - filters: [{{type: ExtensionRef, extensionRef: {{group: example.com, kind: Auth, name: a}}}}]
      backendRefs:
        - name: grpc
          port: 50051
          filters: [{{type: ExtensionRef, extensionRef: {{group: example.com, kind: Rate, name: b}}}}]"
    );
    let t = run(&[GATEWAY, &grpc_service(), &grpc("r", &spec)]);
    let r = rule(&t, "r", 0);
    let unsupported = Filter::Unsupported {
        name: "ExtensionRef".into(),
    };
    assert_eq!(r.filters, std::slice::from_ref(&unsupported));
    assert_eq!(r.backends[0].filters, [unsupported]);
    let p = parent_of(&t, "GRPCRoute", "r");
    assert_eq!(sr(condition(&p.conditions, "Accepted")), (true, "Accepted"));
    assert_mentions(
        &partially_invalid(&t),
        &["example.com/Auth a", "example.com/Rate b"],
    );
}

/// Service `other/svc` port 9000 with one ready endpoint 10.1.0.1:9000.
fn other_ns_service() -> String {
    service_with_endpoint("other", "svc", "grpc", 9000, "10.1.0.1", 9000)
}

/// A ReferenceGrant in `other` letting routes of `kind` in `default` reach its Services.
fn grant_from(kind: &str) -> String {
    format!(
        r#"
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {{name: from-{kind}, namespace: other}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: {kind}, namespace: default}}]
  to: [{{group: "", kind: Service}}]
"#
    )
}

#[test]
fn backends_need_a_reference_grant_for_grpc_routes() {
    let spec = format!("{TO_WEB}  rules: [{{backendRefs: [{{name: svc, namespace: other, port: 9000}}]}}]");
    let denied = run(&[
        GATEWAY,
        &other_ns_service(),
        &grant_from("HTTPRoute"),
        &grpc("r", &spec),
    ]);
    let refs = condition(&parent_of(&denied, "GRPCRoute", "r").conditions, "ResolvedRefs");
    assert_eq!(sr(refs), (false, "RefNotPermitted"));
    assert!(refs.message.contains("GRPCRoutes"), "{}", refs.message);

    let granted = run(&[
        GATEWAY,
        &other_ns_service(),
        &grant_from("GRPCRoute"),
        &grpc("r", &spec),
    ]);
    let refs = condition(&parent_of(&granted, "GRPCRoute", "r").conditions, "ResolvedRefs");
    assert_eq!(sr(refs), (true, "ResolvedRefs"));
    let r = rule(&granted, "r", 0);
    assert!(
        matches!(&r.backends[0].target, BackendTarget::Service(s) if s.protocol == UpstreamProtocol::H2c)
    );
}

#[test]
fn mirrors_need_a_reference_grant_for_grpc_routes() {
    let spec = format!(
        "{TO_WEB}  rules:
    - filters: [{{type: RequestMirror, requestMirror: {{backendRef: {{name: svc, namespace: other, port: 9000}}}}}}]
      backendRefs:
        - name: grpc
          port: 50051
          filters: [{{type: RequestMirror, requestMirror: {{backendRef: {{name: svc, namespace: other, port: 9000}}}}}}]"
    );
    let objects = |grant: &str| {
        [
            GATEWAY,
            &grpc_service(),
            &other_ns_service(),
            grant,
            &grpc("r", &spec),
        ]
        .join("\n---\n")
    };

    let denied = run(&[&objects(&grant_from("HTTPRoute"))]);
    let r = rule(&denied, "r", 0);
    assert!(r.filters.is_empty(), "{:?}", r.filters);
    assert!(r.backends[0].filters.is_empty(), "{:?}", r.backends[0].filters);
    let refs = condition(&parent_of(&denied, "GRPCRoute", "r").conditions, "ResolvedRefs");
    assert_eq!(sr(refs), (false, "RefNotPermitted"));
    assert_mentions(
        &refs.message,
        &["RequestMirror: backendRef to Service other/svc", "GRPCRoutes"],
    );

    let granted = run(&[&objects(&grant_from("GRPCRoute"))]);
    let r = rule(&granted, "r", 0);
    for filters in [&r.filters, &r.backends[0].filters] {
        let [Filter::RequestMirror(m)] = filters.as_slice() else {
            panic!("not one mirror: {filters:?}");
        };
        assert_eq!(m.backend.name, "other/svc:9000");
        assert_eq!(m.backend.protocol, UpstreamProtocol::H2c);
    }
    let refs = condition(&parent_of(&granted, "GRPCRoute", "r").conditions, "ResolvedRefs");
    assert_eq!(sr(refs), (true, "ResolvedRefs"));
}

#[test]
fn filters_the_spec_rejects_drop_only_their_rule() {
    let spec = format!(
        r#"{TO_WEB}  rules:
    - filters: [{{type: RequestHeaderModifier, requestHeaderModifier: {{add: [{{name: "bad header", value: "1"}}]}}}}]
    - filters: [{{type: ResponseHeaderModifier, responseHeaderModifier: {{set: [{{name: x-a, value: "1"}}], remove: [X-A]}}}}]
    - filters:
        - {{type: RequestHeaderModifier, requestHeaderModifier: {{add: [{{name: a, value: "1"}}]}}}}
        - {{type: RequestHeaderModifier, requestHeaderModifier: {{add: [{{name: b, value: "1"}}]}}}}
    - backendRefs:
        - name: grpc
          port: 50051
          filters:
            - {{type: ResponseHeaderModifier, responseHeaderModifier: {{add: [{{name: a, value: "1"}}]}}}}
            - {{type: ResponseHeaderModifier, responseHeaderModifier: {{add: [{{name: b, value: "1"}}]}}}}
    - filters: [{{type: ExtensionRef}}]
    - filters: [{{type: RequestHeaderModifier, requestHeaderModifier: {{add: [{{name: a, value: "1"}}]}}, requestMirror: {{backendRef: {{name: grpc, port: 50051}}}}}}]
    - filters:
        - {{type: RequestHeaderModifier, requestHeaderModifier: {{set: [{{name: X-Keep, value: "a b"}}]}}}}
        - {{type: ExtensionRef, extensionRef: {{group: example.com, kind: Auth, name: one}}}}
        - {{type: ExtensionRef, extensionRef: {{group: example.com, kind: Auth, name: two}}}}"#
    );
    let t = run(&[GATEWAY, &grpc_service(), &grpc("r", &spec)]);
    assert_eq!(
        rule_ids(&t),
        ["grpcroute/default/r/rule/6"],
        "ExtensionRef may repeat"
    );
    assert_eq!(accepted_of(&t, "GRPCRoute", "r"), (true, "Accepted"));
    assert_mentions(
        &partially_invalid(&t),
        &[
            "rule 0: filters[0].requestHeaderModifier: add: \"bad header\" is not a valid header name",
            "rule 1: filters[0].responseHeaderModifier: header \"X-A\" is named by both set and remove",
            "rule 2: filters: RequestHeaderModifier filter cannot be repeated",
            "rule 3: backendRefs[0].filters: ResponseHeaderModifier filter cannot be repeated",
            "rule 4: filters[0]: type ExtensionRef needs the extensionRef field",
            "rule 5: filters[0]: requestMirror must not be set when type is RequestHeaderModifier",
        ],
    );
}

#[test]
fn filter_types_grpcroute_does_not_allow_are_rejected() {
    for (level, filters) in [
        ("rule", "  rules: [{filters: [{type: URLRewrite, urlRewrite: {hostname: x.example.com}}]}]"),
        (
            "backendRef",
            "  rules: [{backendRefs: [{name: grpc, port: 50051, filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301}}]}]}]",
        ),
    ] {
        let text = grpc("r", &format!("{TO_WEB}{filters}"));
        let (objects, errors) = parse_documents("r.yaml", &text);
        assert!(objects.is_empty(), "{level}: {objects:?}");
        assert_eq!(errors.len(), 1, "{level}: {errors:?}");
        assert!(errors[0].to_string().contains("unknown variant"), "{level}: {}", errors[0]);
    }
}

#[test]
fn listeners_admit_grpc_routes_by_default_and_by_kind() {
    let listeners = r#"    - {name: default-kinds, protocol: HTTP, port: 80}
    - name: grpc-only
      protocol: HTTP
      port: 81
      allowedRoutes: {kinds: [{kind: GRPCRoute}]}
    - name: http-only
      protocol: HTTP
      port: 82
      allowedRoutes: {kinds: [{group: gateway.networking.k8s.io, kind: HTTPRoute}]}"#;
    let gw = gateway(listeners);
    let grpc_route = grpc("g", &format!("{TO_WEB}  rules: [{{}}]"));
    let http_route = route_at(
        "HTTPRoute",
        "default",
        "h",
        "2024-01-02T03:04:05Z",
        &format!("{TO_WEB}  rules: [{{}}]"),
    );
    // Each on a hostname of its own, so the HTTPRoute/GRPCRoute rule does not apply.
    let grpc_route = grpc_route.replace("  rules:", "  hostnames: [g.example.com]\n  rules:");
    let http_route = http_route.replace("  rules:", "  hostnames: [h.example.com]\n  rules:");
    let t = run(&[&gw, &grpc_route, &http_route]);
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/default-kinds")),
        ["grpcroute/default/g/rule/0", "httproute/default/h/rule/0"]
    );
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/grpc-only")),
        ["grpcroute/default/g/rule/0"]
    );
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/http-only")),
        ["httproute/default/h/rule/0"]
    );
    assert_eq!(
        listener_status(&t, "default", "web", "grpc-only").supported_kinds,
        ["GRPCRoute"]
    );

    // Selected only by a listener that does not admit its kind: NotAllowedByListeners.
    let pinned = grpc(
        "pinned",
        "  parentRefs: [{name: web, sectionName: http-only}]\n  rules: [{}]",
    );
    let t = run(&[&gw, &pinned]);
    let c = condition(&parent_of(&t, "GRPCRoute", "pinned").conditions, "Accepted");
    assert_eq!(sr(c), (false, "NotAllowedByListeners"));
    assert!(c.message.contains("does not include GRPCRoute"), "{}", c.message);
    let pinned_http = route_at(
        "HTTPRoute",
        "default",
        "pinned",
        "2024-01-02T03:04:05Z",
        "  parentRefs: [{name: web, sectionName: grpc-only}]\n  rules: [{}]",
    );
    let t = run(&[&gw, &pinned_http]);
    assert_eq!(
        accepted_of(&t, "HTTPRoute", "pinned"),
        (false, "NotAllowedByListeners")
    );
}

#[test]
fn grpc_routes_get_every_accepted_reason() {
    let gw = gateway(
        r#"    - {name: http, protocol: HTTP, port: 80, hostname: api.example.com}
    - name: same-ns
      protocol: HTTP
      port: 81
      hostname: api.example.com"#,
    );
    let other_ns = route_at(
        "GRPCRoute",
        "other",
        "foreign",
        "2024-01-02T03:04:05Z",
        "  parentRefs: [{name: web, namespace: default}]\n  rules: [{}]",
    );
    let t = run(&[
        &gw,
        &grpc("ok", &format!("{TO_WEB}  rules: [{{}}]")),
        &grpc(
            "no-parent",
            "  parentRefs: [{name: web, sectionName: nope}]\n  rules: [{}]",
        ),
        &grpc(
            "wrong-port",
            "  parentRefs: [{name: web, port: 9090}]\n  rules: [{}]",
        ),
        &grpc(
            "no-host",
            &format!("{TO_WEB}  hostnames: [other.example.org]\n  rules: [{{}}]"),
        ),
        &grpc(
            "no-rule",
            &format!("{TO_WEB}  rules: [{{matches: [{{method: {{}}}}]}}]"),
        ),
        &other_ns,
    ]);
    assert_eq!(accepted_of(&t, "GRPCRoute", "ok"), (true, "Accepted"));
    assert_eq!(
        accepted_of(&t, "GRPCRoute", "no-parent"),
        (false, "NoMatchingParent")
    );
    assert_eq!(
        accepted_of(&t, "GRPCRoute", "wrong-port"),
        (false, "NoMatchingParent")
    );
    assert_eq!(
        accepted_of(&t, "GRPCRoute", "no-host"),
        (false, "NoMatchingListenerHostname")
    );
    assert_eq!(
        accepted_of(&t, "GRPCRoute", "no-rule"),
        (false, "UnsupportedValue")
    );
    let foreign = status(&t, "GRPCRoute", Some("other"), "foreign");
    assert_eq!(
        sr(condition(&foreign.parents[0].conditions, "Accepted")),
        (false, "NotAllowedByListeners")
    );
    let ok = rule(&t, "ok", 0);
    assert_eq!(ok.hostnames, ["api.example.com"]);
}

#[test]
fn grpc_routes_naming_no_gateway_of_ours_get_no_status() {
    let t = run(&[
        GATEWAY,
        &grpc(
            "elsewhere",
            "  parentRefs: [{name: missing}, {name: web, kind: Service, group: \"\"}]\n  rules: [{}]",
        ),
        &grpc("none", "  rules: [{}]"),
    ]);
    assert!(t.status.get("GRPCRoute", Some("default"), "elsewhere").is_none());
    assert!(t.status.get("GRPCRoute", Some("default"), "none").is_none());
}
