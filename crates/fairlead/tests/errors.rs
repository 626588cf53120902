//! The status codes fairlead answers itself: 404 no route, 500 unresolvable backend, 503 no
//! ready endpoints, 502 nothing accepts a connection, 504 request timeout, 400 no Host.

mod support;

use serde_json::json;
use support::manifests::{
    endpoint_slice, endpoint_slice_in, http_route, reference_grant, rule, service, service_in, to,
    to_weighted,
};
use support::{free_port, raw_exchange, tally, Echo, Scenario};

#[tokio::test]
async fn no_route_is_404() {
    let s = Scenario::start(
        &["echo-a"],
        vec![http_route(
            "only-api",
            &["app.example.com"],
            vec![rule(
                json!([{"path": {"type": "PathPrefix", "value": "/api"}}]),
                vec![to("echo-a")],
            )],
        )],
    )
    .await;

    assert_eq!(s.served_by("app.example.com", "/api").await, "echo-a");
    assert_eq!(s.status_of("app.example.com", "/web").await, 404);
    assert_eq!(s.status_of("unknown.example.com", "/api").await, 404);
}

#[tokio::test]
async fn unresolvable_backend_refs_answer_500() {
    let elsewhere = Echo::start("elsewhere").await;
    let granted = Echo::start("granted").await;
    let routes = vec![
        http_route(
            "missing",
            &["missing.example.com"],
            vec![rule(json!(null), vec![to("no-such-service")])],
        ),
        // A Service in another namespace needs a ReferenceGrant there.
        http_route(
            "cross",
            &["cross.example.com"],
            vec![rule(
                json!(null),
                vec![json!({"name": "elsewhere", "namespace": "other", "port": 80})],
            )],
        ),
        http_route(
            "granted",
            &["granted.example.com"],
            vec![rule(
                json!(null),
                vec![json!({"name": "granted", "namespace": "trusting", "port": 80})],
            )],
        ),
    ];
    let others = vec![
        service_in("other", "elsewhere"),
        endpoint_slice_in(
            "other",
            "elsewhere",
            "elsewhere-1",
            elsewhere.port(),
            &["127.0.0.1"],
        ),
        service_in("trusting", "granted"),
        endpoint_slice_in("trusting", "granted", "granted-1", granted.port(), &["127.0.0.1"]),
        reference_grant("trusting", "default"),
    ];
    let s = Scenario::start_with_files(
        &[],
        vec![
            ("15-other-namespaces.yaml", support::manifests::yaml(&others)),
            ("20-routes.yaml", support::manifests::yaml(&routes)),
        ],
    )
    .await;

    assert_eq!(s.status_of("missing.example.com", "/").await, 500);
    assert_eq!(s.status_of("cross.example.com", "/").await, 500);
    assert_eq!(s.served_by("granted.example.com", "/").await, "granted");
}

#[tokio::test]
async fn an_unresolvable_backend_fails_only_its_share_of_requests() {
    let s = Scenario::start(
        &["echo-a"],
        vec![http_route(
            "half",
            &["half.example.com"],
            vec![rule(
                json!(null),
                vec![to_weighted("echo-a", 1), to_weighted("no-such-service", 1)],
            )],
        )],
    )
    .await;

    let counts = tally(&s.http, s.port, "half.example.com", "/", 400).await;
    let ok = counts.get("echo-a").copied().unwrap_or(0);
    let failed = counts.get("500").copied().unwrap_or(0);
    assert_eq!(
        ok + failed,
        400,
        "only 200 from echo-a or 500 expected: {counts:?}"
    );
    // Expected 200 each; the bounds are eight standard deviations wide.
    assert!(
        (120..=280).contains(&failed),
        "500s: {failed} of 400 (expected about 200): {counts:?}"
    );
}

#[tokio::test]
async fn no_ready_endpoints_is_503() {
    let mut not_ready = endpoint_slice("not-ready", "not-ready-1", free_port(), &["127.0.0.1"]);
    not_ready["endpoints"][0]["conditions"] = json!({"ready": false, "serving": false});
    let backends = vec![service("no-slices"), service("not-ready"), not_ready];
    let routes = vec![
        http_route(
            "empty",
            &["empty.example.com"],
            vec![rule(json!(null), vec![to("no-slices")])],
        ),
        http_route(
            "down",
            &["down.example.com"],
            vec![rule(json!(null), vec![to("not-ready")])],
        ),
    ];
    let s = Scenario::start_with_files(
        &[],
        vec![
            ("15-services.yaml", support::manifests::yaml(&backends)),
            ("20-routes.yaml", support::manifests::yaml(&routes)),
        ],
    )
    .await;

    assert_eq!(s.status_of("empty.example.com", "/").await, 503);
    assert_eq!(s.status_of("down.example.com", "/").await, 503);
}

#[tokio::test]
async fn every_endpoint_refusing_is_502() {
    let backends = vec![
        service("gone"),
        endpoint_slice("gone", "gone-1", free_port(), &["127.0.0.1"]),
    ];
    let routes = vec![http_route(
        "gone",
        &["gone.example.com"],
        vec![rule(json!(null), vec![to("gone")])],
    )];
    let s = Scenario::start_with_files(
        &[],
        vec![
            ("15-services.yaml", support::manifests::yaml(&backends)),
            ("20-routes.yaml", support::manifests::yaml(&routes)),
        ],
    )
    .await;

    assert_eq!(s.status_of("gone.example.com", "/").await, 502);
}

#[tokio::test]
async fn exceeding_the_request_timeout_is_504() {
    let mut timed = rule(json!(null), vec![to("echo-a")]);
    timed["timeouts"] = json!({"request": "200ms"});
    let s = Scenario::start(
        &["echo-a"],
        vec![http_route("timed", &["timed.example.com"], vec![timed])],
    )
    .await;

    assert_eq!(s.status_of("timed.example.com", "/delay/5000").await, 504);
    assert_eq!(s.served_by("timed.example.com", "/delay/0").await, "echo-a");
}

#[tokio::test]
async fn http11_request_without_host_is_400() {
    let s = Scenario::start(
        &["echo-a"],
        vec![http_route(
            "any",
            &[],
            vec![rule(json!(null), vec![to("echo-a")])],
        )],
    )
    .await;
    // Sanity: the route serves every host.
    assert_eq!(s.served_by("whatever.example.com", "/").await, "echo-a");

    let response = raw_exchange(s.port, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(
        response.starts_with("HTTP/1.1 400"),
        "expected 400, got: {response:?}"
    );
}
