//! HTTPRoute: attachment (allowedRoutes, sectionName, port, hostnames), rule conversion and
//! every status reason.

mod common;

use common::*;
use fairlead_route::{
    BackendTarget, Filter, HeaderMatch, HeaderModifier, PathMatch, PathModifier, QueryMatch, Redirect,
    RouteKind, RouteMatch, RouteOrder, StringMatch, Timeouts, UrlRewrite,
};

/// An HTTPRoute `<ns>/<name>` with the given spec body (indented two spaces).
fn route(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: {ns}, \
         creationTimestamp: \"2024-01-02T03:04:05Z\", generation: 7}}\nspec:\n{spec}\n"
    )
}

#[test]
fn rule_is_converted_with_matches_filters_timeouts_and_order() {
    let spec = r#"  parentRefs: [{name: web}]
  hostnames: [App.Example.com]
  rules:
    - matches:
        - path: {type: Exact, value: /login}
          headers: [{name: X-Canary, value: "true"}, {name: X-Version, type: RegularExpression, value: "v[0-9]+"}]
          queryParams: [{name: Debug, value: "1"}]
          method: POST
        - headers: [{name: x-any, value: a}]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {set: [{name: x-a, value: "1"}], add: [{name: x-b, value: "2"}], remove: [x-c]}
        - type: ResponseHeaderModifier
          responseHeaderModifier: {remove: [server]}
        - type: URLRewrite
          urlRewrite: {hostname: backend.internal, path: {type: ReplaceFullPath, replaceFullPath: /signin}}
      timeouts: {request: 10s, backendRequest: 500ms}
      backendRefs: [{name: app, port: 80, weight: 3}]
    - filters:
        - type: RequestRedirect
          requestRedirect: {scheme: https, port: 443, statusCode: 301, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}"#;
    let t = run(&[GATEWAY, &app_service(), &route("default", "app", spec)]);
    let l = listener(&t, "gateway/default/web/http");
    let r0 = route_of(l, "httproute/default/app/rule/0");
    assert_eq!(r0.kind, RouteKind::HttpRoute);
    assert_eq!(r0.hostnames, ["app.example.com"]);
    assert_eq!(
        r0.matches,
        [
            RouteMatch {
                path: PathMatch::Exact("/login".into()),
                headers: vec![
                    HeaderMatch {
                        name: "x-canary".into(),
                        value: StringMatch::Exact("true".into())
                    },
                    HeaderMatch {
                        name: "x-version".into(),
                        value: StringMatch::RegularExpression("v[0-9]+".into())
                    },
                ],
                query: vec![QueryMatch {
                    name: "Debug".into(),
                    value: StringMatch::Exact("1".into())
                }],
                method: Some("POST".into()),
            },
            RouteMatch {
                path: PathMatch::Prefix("/".into()),
                headers: vec![HeaderMatch {
                    name: "x-any".into(),
                    value: StringMatch::Exact("a".into())
                }],
                ..RouteMatch::default()
            },
        ]
    );
    assert_eq!(
        r0.filters,
        [
            Filter::RequestHeaderModifier(HeaderModifier {
                set: vec![("x-a".into(), "1".into())],
                add: vec![("x-b".into(), "2".into())],
                remove: vec!["x-c".into()],
            }),
            Filter::ResponseHeaderModifier(HeaderModifier {
                remove: vec!["server".into()],
                ..Default::default()
            }),
            Filter::UrlRewrite(UrlRewrite {
                hostname: Some("backend.internal".into()),
                path: Some(PathModifier::ReplaceFullPath("/signin".into())),
            }),
        ]
    );
    assert_eq!(
        r0.timeouts,
        Timeouts {
            request_ms: Some(10_000),
            backend_request_ms: Some(500)
        }
    );
    assert_eq!(r0.backends.len(), 1);
    assert_eq!(r0.backends[0].weight, 3);
    assert_eq!(
        r0.order,
        RouteOrder {
            created: Some(1_704_164_645),
            namespace: "default".into(),
            name: "app".into(),
            rule: 0
        }
    );

    let r1 = route_of(l, "httproute/default/app/rule/1");
    assert!(r1.matches.is_empty(), "no matches means the default PathPrefix /");
    assert!(r1.backends.is_empty());
    assert_eq!(
        r1.filters,
        [Filter::RequestRedirect(Redirect {
            scheme: Some("https".into()),
            hostname: None,
            port: Some(443),
            path: Some(PathModifier::ReplacePrefixMatch("/new".into())),
            status_code: 301,
        })]
    );
    assert_eq!(r1.order.rule, 1);
    let p = parent(&t, "app");
    assert_eq!(sr(condition(&p.conditions, "Accepted")), (true, "Accepted"));
    assert_eq!(
        sr(condition(&p.conditions, "ResolvedRefs")),
        (true, "ResolvedRefs")
    );
    assert!(!has_condition(&p.conditions, "PartiallyInvalid"));
    assert_eq!(
        status(&t, "HTTPRoute", Some("default"), "app").generation,
        Some(7)
    );
}

fn route_of<'a>(l: &'a fairlead_route::Listener, id: &str) -> &'a fairlead_route::Route {
    common::route(l, id)
}

#[test]
fn route_without_rules_gets_the_api_default_rule() {
    let t = run(&[GATEWAY, &route("default", "bare", "  parentRefs: [{name: web}]")]);
    let r = route_of(
        listener(&t, "gateway/default/web/http"),
        "httproute/default/bare/rule/0",
    );
    assert!(r.matches.is_empty() && r.backends.is_empty());
}

#[test]
fn allowed_routes_same_namespace_is_the_default() {
    let spec = "  parentRefs: [{name: web, namespace: default}]\n  rules: [{}]";
    let t = run(&[
        GATEWAY,
        &route("default", "mine", spec),
        &route("other", "theirs", spec),
    ]);
    let l = listener(&t, "gateway/default/web/http");
    assert_eq!(route_ids(l), ["httproute/default/mine/rule/0"]);
    let theirs = &status(&t, "HTTPRoute", Some("other"), "theirs").parents[0];
    let c = condition(&theirs.conditions, "Accepted");
    assert_eq!(sr(c), (false, "NotAllowedByListeners"));
    assert!(c.message.contains("namespace other"), "{}", c.message);
    assert_eq!(theirs.parent.namespace, "default");
    // allowedRoutes decides attachment: the refused route is not counted.
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(gw.listeners[0].attached_routes, 1);
}

#[test]
fn allowed_routes_all_admits_every_namespace() {
    let gw =
        gateway("    - {name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}");
    let spec = "  parentRefs: [{name: web, namespace: default}]\n  rules: [{}]";
    let t = run(&[&gw, &route("other", "theirs", spec)]);
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/http")),
        ["httproute/other/theirs/rule/0"]
    );
}

#[test]
fn allowed_routes_selector_reads_namespace_labels() {
    let gw = gateway(
        r#"    - name: http
      protocol: HTTP
      port: 80
      allowedRoutes:
        namespaces:
          from: Selector
          selector:
            matchLabels: {team: web}
            matchExpressions: [{key: env, operator: In, values: [prod, staging]}]"#,
    );
    let namespaces = r#"
apiVersion: v1
kind: Namespace
metadata: {name: good, labels: {team: web, env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: wrongenv, labels: {team: web, env: dev}}
"#;
    let spec = "  parentRefs: [{name: web, namespace: default}]\n  rules: [{}]";
    let t = run(&[
        &gw,
        namespaces,
        &route("good", "r", spec),
        &route("wrongenv", "r", spec),
        // No Namespace object: no labels, so the selector does not match.
        &route("unknown", "r", spec),
        &route("default", "r", spec),
    ]);
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/http")),
        ["httproute/good/r/rule/0"]
    );
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(
        gw.listeners[0].attached_routes, 1,
        "only the selected namespace's route"
    );
    for ns in ["wrongenv", "unknown", "default"] {
        let p = &status(&t, "HTTPRoute", Some(ns), "r").parents[0];
        assert_eq!(
            sr(condition(&p.conditions, "Accepted")),
            (false, "NotAllowedByListeners"),
            "{ns}"
        );
    }
}

#[test]
fn selector_can_use_the_namespace_name_label() {
    let gw = gateway(
        r#"    - name: http
      protocol: HTTP
      port: 80
      allowedRoutes:
        namespaces:
          from: Selector
          selector: {matchLabels: {kubernetes.io/metadata.name: apps}}"#,
    );
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n";
    let spec = "  parentRefs: [{name: web, namespace: default}]\n  rules: [{}]";
    let t = run(&[&gw, ns, &route("apps", "r", spec)]);
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/http")),
        ["httproute/apps/r/rule/0"]
    );
}

const TWO_LISTENERS: &str = r#"    - {name: a, protocol: HTTP, port: 80}
    - {name: b, protocol: HTTP, port: 8080}"#;

#[test]
fn section_name_and_port_select_listeners() {
    let gw = gateway(TWO_LISTENERS);
    let t = run(&[
        &gw,
        &route(
            "default",
            "by-name",
            "  parentRefs: [{name: web, sectionName: b}]\n  rules: [{}]",
        ),
        &route(
            "default",
            "by-port",
            "  parentRefs: [{name: web, port: 80}]\n  rules: [{}]",
        ),
        &route("default", "both", "  parentRefs: [{name: web}]\n  rules: [{}]"),
    ]);
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/a")),
        [
            "httproute/default/both/rule/0",
            "httproute/default/by-port/rule/0"
        ]
    );
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/b")),
        [
            "httproute/default/both/rule/0",
            "httproute/default/by-name/rule/0"
        ]
    );
    let by_name = parent(&t, "by-name");
    assert_eq!(by_name.parent.section_name.as_deref(), Some("b"));
    let by_port = parent(&t, "by-port");
    assert_eq!(by_port.parent.port, Some(80));
}

#[test]
fn section_name_or_port_naming_nothing_is_no_matching_parent() {
    let gw = gateway(TWO_LISTENERS);
    let t = run(&[
        &gw,
        &route(
            "default",
            "bad-name",
            "  parentRefs: [{name: web, sectionName: nope}]\n  rules: [{}]",
        ),
        &route(
            "default",
            "bad-port",
            "  parentRefs: [{name: web, port: 9999}]\n  rules: [{}]",
        ),
        &route(
            "default",
            "mismatch",
            "  parentRefs: [{name: web, sectionName: a, port: 8080}]\n  rules: [{}]",
        ),
    ]);
    for name in ["bad-name", "bad-port", "mismatch"] {
        let c = condition(&parent(&t, name).conditions, "Accepted");
        assert_eq!(sr(c), (false, "NoMatchingParent"), "{name}");
    }
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert!(gw.listeners.iter().all(|l| l.attached_routes == 0));
}

#[test]
fn refs_to_gateways_that_are_not_ours_get_no_status() {
    let spec = "  parentRefs: [{name: elsewhere}, {name: web, kind: Service, group: \"\"}]\n  rules: [{}]";
    let t = run(&[GATEWAY, &route("default", "r", spec)]);
    assert!(t.status.get("HTTPRoute", Some("default"), "r").is_none());
}

#[test]
fn hostnames_are_intersected_with_the_listener() {
    let gw = gateway(
        r#"    - {name: wild, protocol: HTTP, port: 80, hostname: "*.example.com"}
    - {name: exact, protocol: HTTP, port: 81, hostname: foo.example.com}
    - {name: any, protocol: HTTP, port: 82}"#,
    );
    let spec = r#"  parentRefs: [{name: web}]
  hostnames: ["foo.example.com", "*.bar.example.com", "other.org", "*.com"]
  rules: [{}]"#;
    let t = run(&[&gw, &route("default", "r", spec)]);
    let hosts = |id: &str| {
        route_of(listener(&t, id), "httproute/default/r/rule/0")
            .hostnames
            .clone()
    };
    assert_eq!(
        hosts("gateway/default/web/wild"),
        ["*.bar.example.com", "*.example.com", "foo.example.com"]
    );
    assert_eq!(hosts("gateway/default/web/exact"), ["foo.example.com"]);
    assert_eq!(
        hosts("gateway/default/web/any"),
        ["*.bar.example.com", "*.com", "foo.example.com", "other.org"]
    );
}

#[test]
fn no_hostname_intersection_is_reported() {
    let gw = gateway("    - {name: http, protocol: HTTP, port: 80, hostname: foo.example.com}");
    let spec = "  parentRefs: [{name: web}]\n  hostnames: [bar.example.com]\n  rules: [{}]";
    let t = run(&[&gw, &route("default", "r", spec)]);
    let c = condition(&parent(&t, "r").conditions, "Accepted");
    assert_eq!(sr(c), (false, "NoMatchingListenerHostname"));
    assert!(listener(&t, "gateway/default/web/http").routes.is_empty());
    // Attachment is "based solely on" allowedRoutes and parentRefs, not hostnames: counted,
    // though nothing of it is served.
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(gw.listeners[0].attached_routes, 1);
}

#[test]
fn listener_that_is_not_programmed_does_not_take_routes() {
    // An HTTPS listener without certificateRefs has no certificate to serve.
    let gw = gateway("    - {name: https, protocol: HTTPS, port: 443}");
    let t = run(&[
        &gw,
        &route("default", "r", "  parentRefs: [{name: web}]\n  rules: [{}]"),
    ]);
    let c = condition(&parent(&t, "r").conditions, "Accepted");
    assert_eq!(sr(c), (false, "NotAllowedByListeners"));
    assert!(c.message.contains("certificateRefs"), "{}", c.message);
    assert!(t.config.listeners.is_empty());
    // "MUST be set for Listeners with condition Accepted: false".
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(gw.listeners[0].attached_routes, 1);
}

#[test]
fn invalid_regex_drops_only_that_rule() {
    let spec = r#"  parentRefs: [{name: web}]
  rules:
    - matches: [{path: {type: RegularExpression, value: "/(unclosed"}}]
    - matches: [{path: {type: RegularExpression, value: "/ok/[0-9]+"}}]
    - matches: [{headers: [{name: x, type: RegularExpression, value: "*"}]}]"#;
    let t = run(&[GATEWAY, &route("default", "r", spec)]);
    assert_eq!(
        route_ids(listener(&t, "gateway/default/web/http")),
        ["httproute/default/r/rule/1"]
    );
    let p = parent(&t, "r");
    assert_eq!(sr(condition(&p.conditions, "Accepted")), (true, "Accepted"));
    let partial = condition(&p.conditions, "PartiallyInvalid");
    assert_eq!(sr(partial), (true, "UnsupportedValue"));
    assert!(
        partial.message.contains("rule 0") && partial.message.contains("rule 2"),
        "{}",
        partial.message
    );
    assert!(partial.message.contains("/(unclosed"), "{}", partial.message);
    assert!(t.status.has_problems());
}

#[test]
fn route_with_no_valid_rule_is_not_accepted() {
    let spec = r#"  parentRefs: [{name: web}]
  rules:
    - matches: [{queryParams: [{name: q, type: RegularExpression, value: "(?P<"}]}]"#;
    let t = run(&[GATEWAY, &route("default", "r", spec)]);
    let c = condition(&parent(&t, "r").conditions, "Accepted");
    assert_eq!(sr(c), (false, "UnsupportedValue"));
    assert!(c.message.contains("rule 0"), "{}", c.message);
    assert!(listener(&t, "gateway/default/web/http").routes.is_empty());
    // attachedRoutes counts routes that allowedRoutes and the parentRef attach, "that may
    // themselves have Accepted: false conditions" (ListenerStatus.attachedRoutes).
    assert_eq!(
        status(&t, "Gateway", Some("default"), "web").listeners[0].attached_routes,
        1
    );
}

#[test]
fn invalid_timeouts_and_redirects_drop_the_rule() {
    let spec = r#"  parentRefs: [{name: web}]
  rules:
    - timeouts: {request: 10 seconds}
    - timeouts: {request: 1s, backendRequest: 2s}
    - filters: [{type: RequestRedirect, requestRedirect: {statusCode: 305}}]
    - matches: [{path: {type: Exact, value: /x}}]
      filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /y}}}]
    - timeouts: {request: 1h30m, backendRequest: 0s}"#;
    let t = run(&[GATEWAY, &route("default", "r", spec)]);
    let l = listener(&t, "gateway/default/web/http");
    assert_eq!(route_ids(l), ["httproute/default/r/rule/4"]);
    assert_eq!(
        route_of(l, "httproute/default/r/rule/4").timeouts,
        Timeouts {
            request_ms: Some(5_400_000),
            backend_request_ms: None
        }
    );
    let partial = condition(&parent(&t, "r").conditions, "PartiallyInvalid");
    for expected in [
        "rule 0",
        "rule 1",
        "rule 2",
        "rule 3",
        "10 seconds",
        "305",
        "ReplacePrefixMatch",
    ] {
        assert!(
            partial.message.contains(expected),
            "{expected:?} missing from {}",
            partial.message
        );
    }
}

#[test]
fn unsupported_filters_make_the_rule_answer_500_and_are_reported() {
    let spec = r#"  parentRefs: [{name: web}]
  rules:
    - filters:
        - {type: ExtensionRef, extensionRef: {group: example.com, kind: Auth, name: sso}}
    - backendRefs: [{name: app, port: 80, filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Rate, name: slow}}]}]
    - backendRefs: [{name: app, port: 80}]"#;
    let t = run(&[GATEWAY, &app_service(), &route("default", "r", spec)]);
    let l = listener(&t, "gateway/default/web/http");
    assert_eq!(
        route_of(l, "httproute/default/r/rule/0").filters,
        [Filter::Unsupported {
            name: "ExtensionRef".into()
        }]
    );
    let r1 = route_of(l, "httproute/default/r/rule/1");
    assert!(r1.filters.is_empty());
    assert_eq!(
        r1.backends[0].filters,
        [Filter::Unsupported {
            name: "ExtensionRef".into()
        }]
    );
    assert!(route_of(l, "httproute/default/r/rule/2").filters.is_empty());
    let p = parent(&t, "r");
    assert_eq!(sr(condition(&p.conditions, "Accepted")), (true, "Accepted"));
    let partial = condition(&p.conditions, "PartiallyInvalid");
    assert_eq!(sr(partial), (true, "UnsupportedValue"));
    assert!(
        partial
            .message
            .contains("rule 0: filters[0]: filter ExtensionRef to example.com/Auth sso")
            && partial
                .message
                .contains("rule 1: backendRefs[0].filters[0]: filter ExtensionRef to example.com/Rate slow"),
        "{}",
        partial.message
    );
}

#[test]
fn resolved_refs_reports_missing_services_and_invalid_kinds_together() {
    let spec = r#"  parentRefs: [{name: web}]
  rules:
    - backendRefs:
        - {name: missing, port: 80}
        - {name: bucket, kind: Bucket, group: storage.example.com}
        - {name: app, port: 80}
        - {name: app}
        - {name: app, port: 81}"#;
    let t = run(&[GATEWAY, &app_service(), &route("default", "r", spec)]);
    let r = route_of(
        listener(&t, "gateway/default/web/http"),
        "httproute/default/r/rule/0",
    );
    let kinds: Vec<bool> = r
        .backends
        .iter()
        .map(|b| matches!(b.target, BackendTarget::Invalid { .. }))
        .collect();
    assert_eq!(kinds, [true, true, false, true, true]);
    let p = parent(&t, "r");
    assert_eq!(
        sr(condition(&p.conditions, "Accepted")),
        (true, "Accepted"),
        "bad backends do not unattach a route"
    );
    let refs = condition(&p.conditions, "ResolvedRefs");
    assert_eq!(
        sr(refs),
        (false, "BackendNotFound"),
        "the first problem gives the reason"
    );
    for expected in [
        "default/missing not found",
        "Bucket",
        "needs a port",
        "no TCP port 81",
    ] {
        assert!(
            refs.message.contains(expected),
            "{expected:?} missing from {}",
            refs.message
        );
    }
}

#[test]
fn invalid_kind_alone_is_reported_as_invalid_kind() {
    let spec = "  parentRefs: [{name: web}]\n  rules: [{backendRefs: [{name: b, kind: Bucket, group: s.example.com, port: 1}]}]";
    let t = run(&[GATEWAY, &route("default", "r", spec)]);
    assert_eq!(
        sr(condition(&parent(&t, "r").conditions, "ResolvedRefs")),
        (false, "InvalidKind")
    );
}
