//! Choosing backends and endpoints: weighted splits, round-robin over endpoints, failover past
//! endpoints that refuse connections, and h2c upstreams.

mod support;

use serde_json::{json, Value};
use support::manifests::{
    endpoint_slice, gateway_setup, h2c_service, http_route, rule, service, to, to_weighted, yaml,
};
use support::{free_port, tally, Echo, Fairlead, Http, Scenario};

#[tokio::test]
async fn weights_split_traffic_and_weight_zero_is_never_chosen() {
    let s = Scenario::start(
        &["echo-a", "echo-b", "echo-c"],
        vec![http_route(
            "split",
            &["split.example.com"],
            vec![rule(
                json!(null),
                vec![
                    to_weighted("echo-a", 3),
                    to_weighted("echo-b", 1),
                    to_weighted("echo-c", 0),
                ],
            )],
        )],
    )
    .await;

    let counts = tally(&s.http, s.port, "split.example.com", "/", 800).await;
    let a = counts.get("echo-a").copied().unwrap_or(0);
    let b = counts.get("echo-b").copied().unwrap_or(0);
    assert_eq!(
        a + b,
        800,
        "every request must reach echo-a or echo-b: {counts:?}"
    );
    // Expected 600 / 200; the bounds are more than six standard deviations wide.
    assert!(
        (520..=680).contains(&a),
        "echo-a got {a} of 800 (expected about 600): {counts:?}"
    );
    assert!(
        (120..=280).contains(&b),
        "echo-b got {b} of 800 (expected about 200): {counts:?}"
    );
    assert!(!counts.contains_key("echo-c"), "weight 0 was chosen: {counts:?}");
}

/// fairlead with one route for `host` to Service `svc`, defined by `backend_docs`.
async fn serve_service(host: &str, svc: &str, backend_docs: Vec<Value>) -> (Fairlead, u16) {
    let port = free_port();
    let route = http_route("route", &[host], vec![rule(json!(null), vec![to(svc)])]);
    let files = [
        ("00-gateway.yaml", yaml(&gateway_setup(port))),
        ("10-backends.yaml", yaml(&backend_docs)),
        ("20-routes.yaml", yaml(&[route])),
    ];
    (Fairlead::start(&files).await, port)
}

#[tokio::test]
async fn round_robin_reaches_every_endpoint() {
    let echoes = [
        Echo::start("pod-1").await,
        Echo::start("pod-2").await,
        Echo::start("pod-3").await,
    ];
    // Every backend listens on 127.0.0.1 with its own port, and a slice has one port list, so
    // each endpoint gets its own slice, as Kubernetes does for endpoints on different ports.
    let mut docs = vec![service("pool")];
    for (i, echo) in echoes.iter().enumerate() {
        docs.push(endpoint_slice(
            "pool",
            &format!("pool-{i}"),
            echo.port(),
            &["127.0.0.1"],
        ));
    }
    let (fl, port) = serve_service("pool.example.com", "pool", docs).await;
    let http = Http::new();

    let counts = tally(&http, port, "pool.example.com", "/", 30).await;
    for echo in &echoes {
        assert!(
            counts.contains_key(&echo.name),
            "{} never reached in 30 requests: {counts:?}",
            echo.name
        );
    }
    assert_eq!(counts.values().sum::<usize>(), 30, "{counts:?}");
    drop(fl);
}

#[tokio::test]
async fn endpoints_refusing_connections_are_skipped() {
    let live = Echo::start("live").await;
    let refused = free_port();
    let docs = vec![
        service("mixed"),
        endpoint_slice("mixed", "mixed-dead", refused, &["127.0.0.1"]),
        endpoint_slice("mixed", "mixed-live", live.port(), &["127.0.0.1"]),
    ];
    let (_fl, port) = serve_service("mixed.example.com", "mixed", docs).await;
    let http = Http::new();

    let counts = tally(&http, port, "mixed.example.com", "/", 40).await;
    assert_eq!(
        counts.get("live"),
        Some(&40),
        "every request must fail over to the live endpoint: {counts:?}"
    );
}

#[tokio::test]
async fn h2c_app_protocol_speaks_http2_upstream() {
    let h2 = Echo::start("h2-backend").await;
    let h1 = Echo::start("h1-backend").await;
    let port = free_port();
    let backends = vec![
        h2c_service("h2-backend"),
        endpoint_slice("h2-backend", "h2-backend-1", h2.port(), &["127.0.0.1"]),
        service("h1-backend"),
        endpoint_slice("h1-backend", "h1-backend-1", h1.port(), &["127.0.0.1"]),
    ];
    let routes = vec![
        http_route(
            "h2",
            &["h2.example.com"],
            vec![rule(json!(null), vec![to("h2-backend")])],
        ),
        http_route(
            "h1",
            &["h1.example.com"],
            vec![rule(json!(null), vec![to("h1-backend")])],
        ),
    ];
    let files = [
        ("00-gateway.yaml", yaml(&gateway_setup(port))),
        ("10-backends.yaml", yaml(&backends)),
        ("20-routes.yaml", yaml(&routes)),
    ];
    let _fl = Fairlead::start(&files).await;
    let http = Http::new();

    let reply = http.get(port, "h2.example.com", "/grpc-ish").await;
    assert_eq!(reply.echo_name(), "h2-backend");
    assert_eq!(
        reply.json()["protocol"],
        "HTTP/2.0",
        "appProtocol kubernetes.io/h2c must use h2c"
    );
    assert_eq!(reply.json()["path"], "/grpc-ish");

    let reply = http.get(port, "h1.example.com", "/").await;
    assert_eq!(reply.echo_name(), "h1-backend");
    assert_eq!(reply.json()["protocol"], "HTTP/1.1");
}
