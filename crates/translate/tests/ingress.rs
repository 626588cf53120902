//! Ingress v1: class selection, paths to routes on the shared listener, merge and conflicts,
//! default backends and status.

mod common;

use common::*;
use fairlead_route::{BackendTarget, ListenerProtocol, PathMatch, RouteKind};
use fairlead_translate::Options;

/// An Ingress `<ns>/<name>` with extra metadata (flow-mapping entries) and a spec body.
fn ingress(name: &str, meta: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: default{meta}}}\nspec:\n{spec}\n"
    )
}

/// A spec with one rule for `host` and one path to Service app:80.
fn simple(class: Option<&str>, host: &str, path: &str, path_type: &str) -> String {
    let class = class
        .map(|c| format!("  ingressClassName: {c}\n"))
        .unwrap_or_default();
    format!(
        "{class}  rules:\n    - host: {host}\n      http:\n        paths:\n          - {{path: {path}, pathType: {path_type}, \
         backend: {{service: {{name: app, port: {{number: 80}}}}}}}}"
    )
}

fn class(name: &str, controller: &str, default: bool) -> String {
    let annotation = if default {
        ", annotations: {ingressclass.kubernetes.io/is-default-class: \"true\"}"
    } else {
        ""
    };
    format!("apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: {name}{annotation}}}\nspec: {{controller: {controller}}}\n")
}

const OURS: &str = "fairlead.dev/ingress-controller";

fn served(t: &fairlead_translate::Translation) -> Vec<String> {
    t.config
        .listeners
        .iter()
        .filter(|l| l.id == "ingress/http")
        .flat_map(|l| l.routes.iter().map(|r| r.order.name.clone()))
        .collect()
}

#[test]
fn class_selection_follows_the_four_rules() {
    let objects = [
        // 1. ingressClassName equal to ours, without an IngressClass object.
        ingress(
            "by-name",
            "",
            &simple(Some("fairlead"), "a.example.com", "/", "Prefix"),
        ),
        // 2. ingressClassName naming an IngressClass whose controller is ours.
        class("custom", OURS, false),
        ingress(
            "by-class",
            "",
            &simple(Some("custom"), "b.example.com", "/", "Prefix"),
        ),
        // 3. No class field, legacy annotation equal to ours.
        ingress(
            "by-annotation",
            ", annotations: {kubernetes.io/ingress.class: fairlead}",
            &simple(None, "c.example.com", "/", "Prefix"),
        ),
        // Negative: another class name, another controller, another annotation.
        class("nginx", "k8s.io/ingress-nginx", false),
        ingress(
            "other-class",
            "",
            &simple(Some("nginx"), "x.example.com", "/", "Prefix"),
        ),
        ingress(
            "unknown-class",
            "",
            &simple(Some("missing"), "y.example.com", "/", "Prefix"),
        ),
        ingress(
            "other-annotation",
            ", annotations: {kubernetes.io/ingress.class: nginx}",
            &simple(None, "z.example.com", "/", "Prefix"),
        ),
        // The field wins over the annotation.
        ingress(
            "field-wins",
            ", annotations: {kubernetes.io/ingress.class: fairlead}",
            &simple(Some("nginx"), "w.example.com", "/", "Prefix"),
        ),
        // 4 does not apply: no default class of ours.
        ingress("classless", "", &simple(None, "d.example.com", "/", "Prefix")),
    ];
    let docs: Vec<&str> = objects.iter().map(String::as_str).collect();
    let t = run(&docs);
    let mut names = served(&t);
    names.sort();
    assert_eq!(names, ["by-annotation", "by-class", "by-name"]);
    for theirs in [
        "other-class",
        "unknown-class",
        "other-annotation",
        "field-wins",
        "classless",
    ] {
        assert!(
            t.status.get("Ingress", Some("default"), theirs).is_none(),
            "{theirs} is not ours"
        );
    }
}

#[test]
fn classless_ingress_is_ours_when_our_class_is_the_default() {
    let ing = ingress("classless", "", &simple(None, "d.example.com", "/", "Prefix"));
    let t = run(&[&class("fairlead", OURS, true), &ing]);
    assert_eq!(served(&t), ["classless"]);

    // Another controller's default class does not make it ours.
    let t = run(&[&class("nginx", "k8s.io/ingress-nginx", true), &ing]);
    assert!(t.config.listeners.is_empty());
    // Nor does our class without the default annotation.
    let t = run(&[&class("fairlead", OURS, false), &ing]);
    assert!(t.config.listeners.is_empty());
}

#[test]
fn paths_become_routes_on_the_shared_listener() {
    let spec = r#"  ingressClassName: fairlead
  rules:
    - host: Shop.Example.com
      http:
        paths:
          - {path: /cart, pathType: Exact, backend: {service: {name: app, port: {number: 80}}}}
          - {path: /api, pathType: Prefix, backend: {service: {name: app, port: {name: http}}}}
          - {path: /x, pathType: ImplementationSpecific, backend: {service: {name: app, port: {number: 80}}}}
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}"#;
    let options = Options {
        http_port: 9000,
        ..Options::default()
    };
    let t = run_with(
        &[&app_service(), &ingress("shop", ", generation: 2", spec)],
        &options,
    );
    assert_eq!(t.config.listeners.len(), 1);
    let l = listener(&t, "ingress/http");
    assert_eq!(
        (l.port, l.protocol, l.hostname.as_deref()),
        (9000, ListenerProtocol::Http, None)
    );
    assert_eq!(
        route_ids(l),
        [
            "ingress/default/shop/rule/0/path/0",
            "ingress/default/shop/rule/0/path/1",
            "ingress/default/shop/rule/0/path/2",
            "ingress/default/shop/rule/1/path/0"
        ]
    );
    let cart = route(l, "ingress/default/shop/rule/0/path/0");
    assert_eq!(cart.kind, RouteKind::Ingress);
    assert_eq!(cart.hostnames, ["shop.example.com"]);
    assert_eq!(cart.matches[0].path, PathMatch::Exact("/cart".into()));
    assert_eq!(
        route(l, "ingress/default/shop/rule/0/path/1").matches[0].path,
        PathMatch::Prefix("/api".into())
    );
    assert_eq!(
        route(l, "ingress/default/shop/rule/0/path/2").matches[0].path,
        PathMatch::Prefix("/x".into())
    );
    let any_host = route(l, "ingress/default/shop/rule/1/path/0");
    assert!(any_host.hostnames.is_empty());
    assert_eq!(any_host.order.rule, 1);
    for r in &l.routes {
        match &r.backends[0].target {
            BackendTarget::Service(s) => assert_eq!(s.name, "default/app:80", "by number and by name"),
            other => panic!("{other:?}"),
        }
    }
    let s = status(&t, "Ingress", Some("default"), "shop");
    assert_eq!(s.generation, Some(2));
    assert_eq!(sr(condition(&s.conditions, "Accepted")), (true, "Accepted"));
    assert_eq!(
        sr(condition(&s.conditions, "ResolvedRefs")),
        (true, "ResolvedRefs")
    );
    assert!(!t.status.has_problems(), "{:#?}", t.status);
}

#[test]
fn default_backend_loses_every_tie() {
    let spec = "  ingressClassName: fairlead\n  defaultBackend: {service: {name: app, port: {number: 80}}}";
    let t = run(&[&app_service(), &ingress("fallback", "", spec)]);
    let r = route(listener(&t, "ingress/http"), "ingress/default/fallback/default");
    assert_eq!(r.matches[0].path, PathMatch::Prefix("/".into()));
    assert!(r.hostnames.is_empty());
    assert_eq!(r.order.rule, u32::MAX);
}

#[test]
fn ingresses_on_the_same_host_merge() {
    let t = run(&[
        &app_service(),
        &ingress(
            "a",
            "",
            &simple(Some("fairlead"), "shop.example.com", "/a", "Prefix"),
        ),
        &ingress(
            "b",
            "",
            &simple(Some("fairlead"), "shop.example.com", "/b", "Prefix"),
        ),
        // Same path, different type: not a conflict.
        &ingress(
            "c",
            "",
            &simple(Some("fairlead"), "shop.example.com", "/a", "Exact"),
        ),
    ]);
    assert_eq!(served(&t), ["a", "b", "c"]);
    assert!(!t.status.has_problems(), "{:#?}", t.status);
}

#[test]
fn identical_paths_go_to_the_oldest_ingress() {
    let old = ", creationTimestamp: \"2023-01-01T00:00:00Z\"";
    let new = ", creationTimestamp: \"2024-01-01T00:00:00Z\"";
    let t = run(&[
        &app_service(),
        &ingress(
            "newer",
            new,
            &simple(Some("fairlead"), "shop.example.com", "/api/", "Prefix"),
        ),
        &ingress(
            "older",
            old,
            &simple(
                Some("fairlead"),
                "SHOP.example.com",
                "/api",
                "ImplementationSpecific",
            ),
        ),
        &ingress(
            "undated",
            "",
            &simple(Some("fairlead"), "shop.example.com", "/api", "Prefix"),
        ),
    ]);
    assert_eq!(served(&t), ["older"]);
    for loser in ["newer", "undated"] {
        let c = condition(
            &status(&t, "Ingress", Some("default"), loser).conditions,
            "Conflicted",
        );
        assert_eq!(sr(c), (true, "PathConflict"), "{loser}");
        assert!(c.message.contains("default/older"), "{}", c.message);
    }
    assert!(!has_condition(
        &status(&t, "Ingress", Some("default"), "older").conditions,
        "Conflicted"
    ));
}

#[test]
fn equal_age_conflicts_go_to_the_first_namespace_and_name() {
    let ts = ", creationTimestamp: \"2023-01-01T00:00:00Z\"";
    let t = run(&[
        &app_service(),
        &ingress("b", ts, &simple(Some("fairlead"), "h.example.com", "/", "Prefix")),
        &ingress("a", ts, &simple(Some("fairlead"), "h.example.com", "/", "Prefix")),
    ]);
    assert_eq!(served(&t), ["a"]);
    assert!(status(&t, "Ingress", Some("default"), "b").has_problems());
}

#[test]
fn unresolvable_backends_are_reported() {
    let spec = r#"  ingressClassName: fairlead
  rules:
    - http:
        paths:
          - {path: /a, pathType: Prefix, backend: {service: {name: missing, port: {number: 80}}}}
          - {path: /b, pathType: Prefix, backend: {service: {name: app, port: {name: grpc}}}}
          - {path: /c, pathType: Prefix, backend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: static}}}"#;
    let t = run(&[&app_service(), &ingress("broken", "", spec)]);
    let l = listener(&t, "ingress/http");
    assert!(l
        .routes
        .iter()
        .all(|r| matches!(r.backends[0].target, BackendTarget::Invalid { .. })));
    let refs = condition(
        &status(&t, "Ingress", Some("default"), "broken").conditions,
        "ResolvedRefs",
    );
    assert_eq!(sr(refs), (false, "BackendNotFound"));
    for expected in [
        "default/missing not found",
        "port named \"grpc\"",
        "StorageBucket",
    ] {
        assert!(
            refs.message.contains(expected),
            "{expected:?} missing from {}",
            refs.message
        );
    }
}

#[test]
fn no_listener_without_an_ingress_of_ours() {
    let t = run(&[
        &app_service(),
        &ingress(
            "theirs",
            "",
            &simple(Some("nginx"), "a.example.com", "/", "Prefix"),
        ),
    ]);
    assert!(t.config.listeners.is_empty());
    assert!(t.status.objects.is_empty());
}

#[test]
fn only_the_oldest_default_backend_is_served() {
    let spec = "  ingressClassName: fairlead\n  defaultBackend: {service: {name: app, port: {number: 80}}}";
    let t = run(&[
        &app_service(),
        &ingress("second", ", creationTimestamp: \"2024-01-01T00:00:00Z\"", spec),
        &ingress("first", ", creationTimestamp: \"2023-01-01T00:00:00Z\"", spec),
    ]);
    assert_eq!(
        route_ids(listener(&t, "ingress/http")),
        ["ingress/default/first/default"]
    );
    let c = condition(
        &status(&t, "Ingress", Some("default"), "second").conditions,
        "Conflicted",
    );
    assert_eq!(sr(c), (true, "PathConflict"));
    assert!(
        c.message.contains("default backend") && c.message.contains("default/first"),
        "{}",
        c.message
    );
}
