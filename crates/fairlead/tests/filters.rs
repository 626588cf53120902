//! HTTPRoute filters end to end, from manifests to real traffic: header modifiers, redirects,
//! rewrites, mirrors, CORS, retries, timeouts, and the fail-closed answer for filters fairlead
//! does not implement.

mod support;

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use serde_json::{json, Value};
use support::manifests::{backend_at, http_route, rule, to, yaml};
use support::recorder::Recorder;
use support::scenario::ROUTES_FILE;
use support::status::problems;
use support::{request, Scenario};

fn with_filters(mut rule: Value, filters: Value) -> Value {
    rule["filters"] = filters;
    rule
}

fn everything_to(backend: &str, filters: Value) -> Value {
    with_filters(rule(json!(null), vec![to(backend)]), filters)
}

#[tokio::test]
async fn header_modifiers_set_add_and_remove() {
    let route = http_route(
        "headers",
        &["headers.example.com"],
        vec![everything_to(
            "echo-a",
            json!([
                {"type": "RequestHeaderModifier", "requestHeaderModifier": {
                    "set": [{"name": "X-Set", "value": "set-value"}],
                    "add": [{"name": "X-Add", "value": "added"}],
                    "remove": ["X-Remove"],
                }},
                {"type": "ResponseHeaderModifier", "responseHeaderModifier": {
                    "set": [{"name": "X-Answer", "value": "modified"}],
                }},
            ]),
        )],
    );
    let s = Scenario::start(&["echo-a"], vec![route]).await;
    let req = request(Method::GET, s.port, "headers.example.com", "/")
        .header("x-set", "client-value")
        .header("X-ADD", "client")
        .header("x-remove", "gone")
        .body(Full::default())
        .unwrap();
    let reply = s.http.send(req).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.echoed_header("x-set"), ["set-value"]);
    // The spec's example: `add` appends to the existing value.
    assert_eq!(reply.echoed_header("x-add"), ["client,added"]);
    assert!(reply.echoed_header("x-remove").is_empty());
    assert_eq!(reply.headers["x-answer"], "modified");
}

#[tokio::test]
async fn redirects_follow_the_port_rules() {
    let redirect = |path: &str, spec: Value| {
        with_filters(
            rule(json!([{"path": {"type": "PathPrefix", "value": path}}]), vec![]),
            json!([{"type": "RequestRedirect", "requestRedirect": spec}]),
        )
    };
    let route = http_route(
        "redirects",
        &["redirect.example.com"],
        vec![
            redirect("/scheme", json!({"scheme": "https", "statusCode": 301})),
            redirect("/port", json!({"scheme": "https", "port": 8443})),
            redirect(
                "/old",
                json!({"hostname": "new.example.com", "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}),
            ),
        ],
    );
    let s = Scenario::start(&[], vec![route]).await;

    let reply = s.get("redirect.example.com", "/scheme/a?x=1").await;
    assert_eq!(reply.status, 301);
    // A scheme change without a port uses the scheme's well-known port, which is left out.
    assert_eq!(
        reply.headers["location"],
        "https://redirect.example.com/scheme/a?x=1"
    );

    let reply = s.get("redirect.example.com", "/port").await;
    assert_eq!(reply.status, 302, "302 is the default status");
    assert_eq!(
        reply.headers["location"],
        "https://redirect.example.com:8443/port"
    );

    let reply = s.get("redirect.example.com", "/old/page").await;
    // No scheme change: the listener's port stays in the Location.
    assert_eq!(
        reply.headers["location"],
        format!("http://new.example.com:{}/new/page", s.port).as_str()
    );
}

#[tokio::test]
async fn url_rewrite_changes_host_and_prefix() {
    let route = http_route(
        "rewrite",
        &["rewrite.example.com"],
        vec![with_filters(
            rule(
                json!([{"path": {"type": "PathPrefix", "value": "/v1"}}]),
                vec![to("echo-a")],
            ),
            json!([{"type": "URLRewrite", "urlRewrite": {
                "hostname": "internal.example.com",
                "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"},
            }}]),
        )],
    );
    let s = Scenario::start(&["echo-a"], vec![route]).await;
    let echoed = s.get("rewrite.example.com", "/v1/items?id=3").await.json();
    assert_eq!(echoed["path"], "/v2/items");
    assert_eq!(echoed["query"], "id=3");
    assert_eq!(echoed["host"], "internal.example.com");
}

#[tokio::test]
async fn request_mirror_sends_a_copy_and_answers_from_the_backend() {
    let mut mirror = Recorder::start("mirror", &[]).await;
    let route = http_route(
        "mirrored",
        &["mirror.example.com"],
        vec![everything_to(
            "echo-a",
            json!([{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "mirror", "port": 80}}}]),
        )],
    );
    let s = Scenario::start_with_files(
        &["echo-a"],
        vec![
            ("15-mirror.yaml", yaml(&backend_at("mirror", mirror.port()))),
            (ROUTES_FILE, yaml(&[route])),
        ],
    )
    .await;
    let req = request(Method::POST, s.port, "mirror.example.com", "/orders")
        .header("x-trace", "t-1")
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let reply = s.http.send(req).await;
    assert_eq!(reply.echo_name(), "echo-a");
    let copy = mirror.next().await;
    assert_eq!(copy.method, Method::POST);
    assert_eq!(copy.path, "/orders");
    assert_eq!(copy.headers["x-trace"], "t-1");
    assert_eq!(&copy.body[..], b"payload");
}

#[tokio::test]
async fn cors_preflight_and_actual_requests() {
    let route = http_route(
        "cors",
        &["cors.example.com"],
        vec![everything_to(
            "echo-a",
            json!([{"type": "CORS", "cors": {
                "allowOrigins": ["https://app.example.com"],
                "allowMethods": ["GET", "PUT"],
                "allowHeaders": ["x-token"],
                "exposeHeaders": ["x-request-id"],
                "maxAge": 600,
            }}]),
        )],
    );
    let s = Scenario::start(&["echo-a"], vec![route]).await;
    let preflight = |origin: &str| {
        request(Method::OPTIONS, s.port, "cors.example.com", "/data")
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "x-token")
            .body(Full::default())
            .unwrap()
    };
    let allowed = s.http.send(preflight("https://app.example.com")).await;
    assert!(allowed.status.is_success(), "{}", allowed.status);
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let methods = allowed.headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("PUT"), "{methods}");
    assert_eq!(allowed.headers["access-control-max-age"], "600");

    let refused = s.http.send(preflight("https://evil.example.com")).await;
    assert!(refused.headers.get("access-control-allow-origin").is_none());

    let actual = request(Method::GET, s.port, "cors.example.com", "/data")
        .header("origin", "https://app.example.com")
        .body(Full::default())
        .unwrap();
    let reply = s.http.send(actual).await;
    assert_eq!(reply.echo_name(), "echo-a");
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(reply.headers["access-control-expose-headers"], "x-request-id");
}

#[tokio::test]
async fn retries_listed_codes_for_idempotent_requests_only() {
    let mut flaky = Recorder::start("flaky", &[503, 503]).await;
    let route = http_route(
        "retry",
        &["retry.example.com"],
        vec![{
            let mut r = rule(json!(null), vec![to("flaky")]);
            r["retry"] = json!({"codes": [503], "attempts": 2, "backoff": "1ms"});
            r
        }],
    );
    let s = Scenario::start_with_files(
        &[],
        vec![
            ("15-flaky.yaml", yaml(&backend_at("flaky", flaky.port()))),
            (ROUTES_FILE, yaml(&[route])),
        ],
    )
    .await;
    let reply = s.get("retry.example.com", "/").await;
    assert_eq!(reply.status, 200, "two 503s then a 200 within 2 retries");
    assert_eq!(reply.text(), "flaky");
    let seen: Vec<_> = [flaky.next().await, flaky.next().await, flaky.next().await].into();
    assert!(seen.iter().all(|r| r.method == Method::GET));
    assert!(flaky.drain().is_empty());

    // A POST whose body went out is never sent twice.
    let mut once = Recorder::start("once", &[503]).await;
    s.fairlead
        .write_and_wait("15-flaky.yaml", &yaml(&backend_at("flaky", once.port())))
        .await;
    let post = request(Method::POST, s.port, "retry.example.com", "/")
        .body(Full::new(Bytes::from_static(b"charge")))
        .unwrap();
    assert_eq!(s.http.send(post).await.status, 503);
    assert_eq!(once.next().await.method, Method::POST);
    // Another request proves the first one was not retried in the meantime: the recorder
    // answers in order, so a retried POST would show up before this GET.
    assert_eq!(s.get("retry.example.com", "/after").await.status, 200);
    assert_eq!(once.next().await.path, "/after");
}

#[tokio::test]
async fn backend_request_timeout_is_504() {
    let mut slow = rule(json!(null), vec![to("echo-a")]);
    slow["timeouts"] = json!({"backendRequest": "100ms"});
    let route = http_route("slow", &["slow.example.com"], vec![slow]);
    let s = Scenario::start(&["echo-a"], vec![route]).await;
    assert_eq!(s.status_of("slow.example.com", "/delay/5000").await, 504);
    assert_eq!(s.status_of("slow.example.com", "/fast").await, 200);
}

#[tokio::test]
async fn an_unsupported_filter_fails_its_rule_closed_and_is_reported() {
    let route = http_route(
        "ext",
        &["ext.example.com"],
        vec![
            with_filters(
                rule(
                    json!([{"path": {"type": "PathPrefix", "value": "/ext"}}]),
                    vec![to("echo-a")],
                ),
                json!([{"type": "ExtensionRef", "extensionRef": {"group": "example.com", "kind": "Auth", "name": "x"}}]),
            ),
            rule(json!(null), vec![to("echo-a")]),
        ],
    );
    let s = Scenario::start(&["echo-a"], vec![route]).await;
    assert_eq!(s.status_of("ext.example.com", "/ext").await, 500);
    assert_eq!(s.served_by("ext.example.com", "/other").await, "echo-a");
    let status = s.fairlead.status().await;
    let found = problems(&status, "HTTPRoute", "ext");
    assert!(
        found.iter().any(|c| c["type"] == "PartiallyInvalid"
            && c["message"].as_str().unwrap_or("").contains("ExtensionRef")),
        "{found:#?}"
    );
}
