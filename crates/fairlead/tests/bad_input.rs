//! Bad input is reported in `/status` and never takes down what is good: malformed YAML, an
//! invalid regex, a missing Service, garbage endpoint addresses, and a document that breaks
//! after having been good.

mod support;

use serde_json::json;
use support::manifests::{endpoint_slice, http_route, rule, service, to, yaml};
use support::scenario::ROUTES_FILE;
use support::status::{find_object, problems, strings};
use support::{Echo, Scenario};

fn good_route() -> serde_json::Value {
    http_route(
        "good",
        &["good.example.com"],
        vec![rule(json!(null), vec![to("echo-a")])],
    )
}

/// A document that is not YAML at all (an unclosed flow sequence).
const NOT_YAML: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: \
                        broken\n  namespace: default\nspec: {hostnames: [\"broken.example.com\"\n";

fn mentions(errors: &[String], parts: &[&str]) -> bool {
    errors.iter().any(|e| parts.iter().all(|p| e.contains(p)))
}

#[tokio::test]
async fn malformed_yaml_is_reported_and_everything_else_serves() {
    let after = http_route(
        "after-bad",
        &["after.example.com"],
        vec![rule(json!(null), vec![to("echo-a")])],
    );
    // Document 1 of three is broken; documents 0 and 2 of the same file must still load.
    let bad_file = format!(
        "{}---\n{NOT_YAML}---\n{}",
        yaml(&[service("extra")]),
        yaml(&[after])
    );
    let s = Scenario::start_with_files(
        &["echo-a"],
        vec![(ROUTES_FILE, yaml(&[good_route()])), ("30-bad.yaml", bad_file)],
    )
    .await;

    let status = s.fairlead.status().await;
    let errors = strings(&status, "source_errors");
    // Documents are numbered from 0 in the file.
    assert!(
        mentions(&errors, &["30-bad.yaml", "document 1"]),
        "source_errors: {errors:?}"
    );
    assert_eq!(s.served_by("good.example.com", "/").await, "echo-a");
    assert_eq!(s.served_by("after.example.com", "/").await, "echo-a");

    // A malformed file appearing while running is reported too, and changes nothing else.
    s.fairlead.write("40-later.yaml", "kind: [oops\n");
    let status = s
        .fairlead
        .wait_status("40-later.yaml in source_errors", |st| {
            mentions(&strings(st, "source_errors"), &["40-later.yaml", "document 0"])
        })
        .await;
    assert!(
        mentions(&strings(&status, "source_errors"), &["30-bad.yaml"]),
        "{status}"
    );
    assert_eq!(s.served_by("good.example.com", "/").await, "echo-a");
    assert_eq!(s.served_by("after.example.com", "/").await, "echo-a");
}

#[tokio::test]
async fn invalid_regex_is_reported_on_its_route() {
    let bad = http_route(
        "bad-regex",
        &["regex.example.com"],
        vec![
            rule(
                json!([{"path": {"type": "RegularExpression", "value": "/items/(unclosed"}}]),
                vec![to("echo-a")],
            ),
            rule(
                json!([{"path": {"type": "PathPrefix", "value": "/ok"}}]),
                vec![to("echo-a")],
            ),
        ],
    );
    let s = Scenario::start(&["echo-a"], vec![good_route(), bad]).await;

    let status = s.fairlead.status().await;
    let found = problems(&status, "HTTPRoute", "bad-regex");
    assert!(
        found.iter().any(|c| {
            let message = c["message"].as_str().unwrap_or_default().to_ascii_lowercase();
            message.contains("regular expression") || message.contains("regex")
        }),
        "no problem condition naming the regex on HTTPRoute bad-regex: {:#}",
        find_object(&status, "HTTPRoute", "bad-regex")
            .cloned()
            .unwrap_or_default()
    );
    assert_eq!(s.served_by("good.example.com", "/").await, "echo-a");
    // The route's valid rule still serves; the invalid one matches nothing.
    assert_eq!(s.served_by("regex.example.com", "/ok").await, "echo-a");
    assert_eq!(s.status_of("regex.example.com", "/items/(unclosed").await, 404);
}

#[tokio::test]
async fn missing_service_is_reported_on_its_route() {
    let ghost = http_route(
        "ghost",
        &["ghost.example.com"],
        vec![rule(json!(null), vec![to("no-such-service")])],
    );
    let s = Scenario::start(&["echo-a"], vec![good_route(), ghost]).await;

    let status = s.fairlead.status().await;
    let found = problems(&status, "HTTPRoute", "ghost");
    assert!(
        found
            .iter()
            .any(|c| c["type"] == "ResolvedRefs" && c["reason"] == "BackendNotFound"),
        "expected ResolvedRefs=False BackendNotFound on HTTPRoute ghost: {:#}",
        find_object(&status, "HTTPRoute", "ghost")
            .cloned()
            .unwrap_or_default()
    );
    assert_eq!(s.served_by("good.example.com", "/").await, "echo-a");
    assert_eq!(s.status_of("ghost.example.com", "/").await, 500);
}

#[tokio::test]
async fn garbage_endpoint_addresses_are_reported() {
    let mixed_backend = Echo::start("mixed").await;
    let mut slice = endpoint_slice(
        "mixed",
        "mixed-1",
        mixed_backend.port(),
        &["not-an-ip", "127.0.0.1"],
    );
    slice["endpoints"][0]["addresses"] = json!(["not-an-ip"]);
    let mixed = vec![service("mixed"), slice];
    // A slice whose endpoints are not even a list cannot be read at all.
    let mut unreadable = endpoint_slice("mixed", "mixed-2", mixed_backend.port(), &["127.0.0.1"]);
    unreadable["endpoints"] = json!(42);
    let route = http_route(
        "mixed",
        &["mixed.example.com"],
        vec![rule(json!(null), vec![to("mixed")])],
    );
    let s = Scenario::start_with_files(
        &["echo-a"],
        vec![
            ("15-mixed.yaml", yaml(&mixed)),
            ("16-unreadable.yaml", yaml(&[unreadable])),
            (ROUTES_FILE, yaml(&[good_route(), route])),
        ],
    )
    .await;

    let status = s.fairlead.status().await;
    let found = problems(&status, "EndpointSlice", "mixed-1");
    assert!(
        found
            .iter()
            .any(|c| c["message"].as_str().is_some_and(|m| m.contains("not-an-ip"))),
        "expected a problem naming \"not-an-ip\" on EndpointSlice mixed-1: {status:#}"
    );
    let errors = strings(&status, "source_errors");
    assert!(
        mentions(&errors, &["16-unreadable.yaml", "document 0"]),
        "source_errors: {errors:?}"
    );

    // The valid endpoint of the slice serves; nothing else is disturbed.
    assert_eq!(s.served_by("mixed.example.com", "/").await, "mixed");
    assert_eq!(s.served_by("good.example.com", "/").await, "echo-a");
}

#[tokio::test]
async fn a_document_that_breaks_keeps_its_last_good_version() {
    let app = |backend: &str| {
        http_route(
            "app",
            &["app.example.com"],
            vec![rule(json!(null), vec![to(backend)])],
        )
    };
    let side = |backend: &str| {
        http_route(
            "side",
            &["side.example.com"],
            vec![rule(json!(null), vec![to(backend)])],
        )
    };
    let s = Scenario::start(&["echo-a", "echo-b"], vec![app("echo-a"), side("echo-a")]).await;
    assert_eq!(s.served_by("app.example.com", "/").await, "echo-a");

    // Document 0 (app, now meant for echo-b) breaks; document 1 (side) changes validly.
    let broken_app = NOT_YAML.replace("broken", "app");
    s.fairlead
        .write_and_wait(
            ROUTES_FILE,
            &format!("{broken_app}---\n{}", yaml(&[side("echo-b")])),
        )
        .await;

    assert_eq!(
        s.served_by("side.example.com", "/").await,
        "echo-b",
        "the valid document is applied"
    );
    assert_eq!(
        s.served_by("app.example.com", "/").await,
        "echo-a",
        "the last good version of app keeps serving"
    );
    let errors = strings(&s.fairlead.status().await, "source_errors");
    assert!(
        mentions(&errors, &[ROUTES_FILE, "document 0"]),
        "source_errors: {errors:?}"
    );

    // Fixed: the new version is served and the error is gone.
    s.fairlead
        .write_and_wait(ROUTES_FILE, &yaml(&[app("echo-b"), side("echo-b")]))
        .await;
    assert_eq!(s.served_by("app.example.com", "/").await, "echo-b");
    let errors = strings(&s.fairlead.status().await, "source_errors");
    assert!(
        !errors.iter().any(|e| e.contains(ROUTES_FILE)),
        "stale source_errors: {errors:?}"
    );
}
