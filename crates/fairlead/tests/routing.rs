//! HTTPRoute matching end to end: hostnames, every path match type, headers, query parameters,
//! methods, and Gateway API precedence across rules.

mod support;

use http::Method;
use serde_json::json;
use support::manifests::{http_route, rule, to};
use support::{request, Scenario};

#[tokio::test]
async fn hostnames_exact_and_wildcard() {
    let s = Scenario::start(
        &["echo-a", "echo-b"],
        vec![
            http_route(
                "exact",
                &["exact.example.com"],
                vec![rule(json!(null), vec![to("echo-a")])],
            ),
            http_route(
                "wild",
                &["*.wild.example.com"],
                vec![rule(json!(null), vec![to("echo-b")])],
            ),
        ],
    )
    .await;

    assert_eq!(s.served_by("exact.example.com", "/").await, "echo-a");
    // Clients put the port in Host when it is not the default one; hostnames match without it.
    let with_port = format!("exact.example.com:{}", s.port);
    assert_eq!(s.served_by(&with_port, "/").await, "echo-a");
    // DNS names are case-insensitive.
    assert_eq!(s.served_by("EXACT.Example.com", "/").await, "echo-a");

    // A Gateway API wildcard covers one or more labels, never the bare suffix.
    assert_eq!(s.served_by("a.wild.example.com", "/x").await, "echo-b");
    assert_eq!(s.served_by("a.b.wild.example.com", "/x").await, "echo-b");
    assert_eq!(s.status_of("wild.example.com", "/").await, 404);

    assert_eq!(s.status_of("other.example.com", "/").await, 404);
    assert_eq!(s.status_of("example.com", "/").await, 404);
}

#[tokio::test]
async fn path_prefix_exact_and_regular_expression() {
    let s = Scenario::start(
        &["echo-a", "echo-b", "echo-c"],
        vec![http_route(
            "paths",
            &["paths.example.com"],
            vec![
                rule(
                    json!([{"path": {"type": "PathPrefix", "value": "/pre"}}]),
                    vec![to("echo-a")],
                ),
                rule(
                    json!([{"path": {"type": "Exact", "value": "/exact"}}]),
                    vec![to("echo-b")],
                ),
                rule(
                    json!([{"path": {"type": "RegularExpression", "value": "/items/[0-9]+"}}]),
                    vec![to("echo-c")],
                ),
            ],
        )],
    )
    .await;
    let host = "paths.example.com";

    // PathPrefix matches whole path segments.
    assert_eq!(s.served_by(host, "/pre").await, "echo-a");
    assert_eq!(s.served_by(host, "/pre/").await, "echo-a");
    assert_eq!(s.served_by(host, "/pre/x/y").await, "echo-a");
    assert_eq!(s.status_of(host, "/prefix").await, 404);

    assert_eq!(s.served_by(host, "/exact").await, "echo-b");
    assert_eq!(s.status_of(host, "/exact/").await, 404);
    assert_eq!(s.status_of(host, "/exact/more").await, 404);

    // The regular expression must match the whole path.
    assert_eq!(s.served_by(host, "/items/42").await, "echo-c");
    assert_eq!(s.status_of(host, "/items/abc").await, 404);
    assert_eq!(s.status_of(host, "/items/42/x").await, 404);
    assert_eq!(s.status_of(host, "/x/items/42").await, 404);

    // The query string is not part of the path.
    assert_eq!(s.served_by(host, "/exact?x=1").await, "echo-b");
}

/// The echo backend that answered `method path` on `host`, sending `header` if given.
async fn served(
    s: &Scenario,
    method: Method,
    host: &str,
    path: &str,
    header: Option<(&str, &str)>,
) -> String {
    let mut req = request(method, s.port, host, path);
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    s.http
        .send(req.body(Default::default()).expect("valid request"))
        .await
        .echo_name()
}

#[tokio::test]
async fn header_query_and_method_matches() {
    let regex = "RegularExpression";
    let s = Scenario::start(
        &["echo-a", "echo-b", "echo-c", "echo-d"],
        vec![http_route(
            "conditions",
            &["cond.example.com"],
            vec![
                rule(
                    json!([{"headers": [{"name": "x-env", "value": "canary"}]}]),
                    vec![to("echo-b")],
                ),
                rule(
                    json!([{"headers": [{"type": regex, "name": "x-build", "value": "[0-9]+"}]}]),
                    vec![to("echo-b")],
                ),
                rule(
                    json!([{"queryParams": [{"name": "version", "value": "2"}]}]),
                    vec![to("echo-c")],
                ),
                rule(
                    json!([{"queryParams": [{"type": regex, "name": "page", "value": "[0-9]+"}]}]),
                    vec![to("echo-c")],
                ),
                rule(json!([{"method": "POST"}]), vec![to("echo-d")]),
                rule(json!(null), vec![to("echo-a")]),
            ],
        )],
    )
    .await;
    let host = "cond.example.com";
    let get = |path: &'static str, header: Option<(&'static str, &'static str)>| {
        served(&s, Method::GET, host, path, header)
    };

    assert_eq!(get("/", None).await, "echo-a");

    // Header names are case-insensitive; values match exactly, or the whole value the regex.
    assert_eq!(get("/", Some(("X-Env", "canary"))).await, "echo-b");
    assert_eq!(get("/", Some(("x-env", "canary-2"))).await, "echo-a");
    assert_eq!(get("/", Some(("x-build", "1234"))).await, "echo-b");
    assert_eq!(get("/", Some(("x-build", "1234a"))).await, "echo-a");

    // Query parameters, among others, exact and regex.
    assert_eq!(get("/any?version=2", None).await, "echo-c");
    assert_eq!(get("/any?a=b&version=2", None).await, "echo-c");
    assert_eq!(get("/any?version=3", None).await, "echo-a");
    assert_eq!(get("/any?page=17", None).await, "echo-c");
    assert_eq!(get("/any?page=last", None).await, "echo-a");

    assert_eq!(served(&s, Method::POST, host, "/", None).await, "echo-d");
    assert_eq!(served(&s, Method::PUT, host, "/", None).await, "echo-a");
}

#[tokio::test]
async fn precedence_falls_through_to_less_specific_rules() {
    let s = Scenario::start(
        &["echo-a", "echo-b", "echo-c"],
        vec![http_route(
            "precedence",
            &["prec.example.com"],
            vec![
                // Listed first but least specific: order of rules must not decide.
                rule(json!([{"path": {"type": "PathPrefix", "value": "/"}}]), vec![to("echo-a")]),
                rule(
                    json!([{"path": {"type": "PathPrefix", "value": "/api"}, "headers": [{"name": "x", "value": "1"}]}]),
                    vec![to("echo-b")],
                ),
                rule(json!([{"path": {"type": "PathPrefix", "value": "/static"}}]), vec![to("echo-c")]),
            ],
        )],
    )
    .await;
    let host = "prec.example.com";
    let with_header = |path: &'static str| served(&s, Method::GET, host, path, Some(("x", "1")));

    // The /api rule needs the header; without it the request falls through to `/`.
    assert_eq!(s.served_by(host, "/api/x").await, "echo-a");
    assert_eq!(with_header("/api/x").await, "echo-b");
    assert_eq!(with_header("/other").await, "echo-a");

    // The longest matching prefix wins over the catch-all listed before it.
    assert_eq!(s.served_by(host, "/static/app.js").await, "echo-c");
    assert_eq!(s.served_by(host, "/").await, "echo-a");
}
