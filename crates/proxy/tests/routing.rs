//! End-to-end routing: matches, listener isolation, 404/400, weights, round-robin and filters.

mod support;

use fairlead_route::{
    Filter, HeaderMatch, HeaderModifier, PathMatch, PathModifier, QueryMatch, Redirect, RouteMatch,
    StringMatch, UrlRewrite,
};
use http::StatusCode;
use support::*;

fn with_match(mut r: fairlead_route::Route, m: RouteMatch) -> fairlead_route::Route {
    r.matches = vec![m];
    r
}

#[tokio::test]
async fn routes_by_host_path_header_query_and_method() {
    let names = ["host", "path", "header", "query", "method", "default"];
    let mut backends = Vec::new();
    for name in names {
        backends.push(echo(name).await);
    }
    let addr = |i: usize| [backends[i].addr];
    let proxy = start_proxy(|port| {
        let mut by_host = route("r-host", vec![service("host", 1, &addr(0))]);
        by_host.hostnames = vec!["host.example".into()];
        config(
            port,
            vec![
                by_host,
                with_match(
                    route("r-path", vec![service("path", 1, &addr(1))]),
                    RouteMatch {
                        path: PathMatch::Prefix("/api".into()),
                        ..Default::default()
                    },
                ),
                with_match(
                    route("r-header", vec![service("header", 1, &addr(2))]),
                    RouteMatch {
                        headers: vec![HeaderMatch {
                            name: "x-env".into(),
                            value: StringMatch::Exact("canary".into()),
                        }],
                        ..Default::default()
                    },
                ),
                with_match(
                    route("r-query", vec![service("query", 1, &addr(3))]),
                    RouteMatch {
                        query: vec![QueryMatch {
                            name: "v".into(),
                            value: StringMatch::Exact("2".into()),
                        }],
                        ..Default::default()
                    },
                ),
                with_match(
                    route("r-method", vec![service("method", 1, &addr(4))]),
                    RouteMatch {
                        method: Some("POST".into()),
                        ..Default::default()
                    },
                ),
                route("r-default", vec![service("default", 1, &addr(5))]),
            ],
        )
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;

    let resp = client.get("host.example", "/").await;
    assert_eq!(resp.name(), "host");

    let resp = client.get("app.example", "/api/users?id=7").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.name(), "path");
    let json = resp.json();
    assert_eq!(json["path"], "/api/users", "path forwarded unchanged");
    assert_eq!(json["query"], "id=7", "query forwarded unchanged");

    // `/apix` is not under the element-wise prefix `/api`.
    assert_eq!(client.get("app.example", "/apix").await.name(), "default");

    let mut req = request("GET", "app.example", "/");
    req.headers_mut().insert("x-env", "canary".parse().unwrap());
    assert_eq!(client.send(req).await.name(), "header");

    assert_eq!(client.get("app.example", "/?v=2").await.name(), "query");

    let resp = client.send(request("POST", "app.example", "/")).await;
    assert_eq!(resp.name(), "method");
    assert_eq!(resp.json()["method"], "POST");

    assert_eq!(client.get("app.example", "/").await.name(), "default");
}

#[tokio::test]
async fn unknown_host_or_unmatched_path_is_404() {
    let backend = echo("only").await;
    let proxy = start_proxy(|port| {
        let mut cfg = config(
            port,
            vec![with_match(
                route("r-exact", vec![service("only", 1, &[backend.addr])]),
                RouteMatch {
                    path: PathMatch::Exact("/x".into()),
                    ..Default::default()
                },
            )],
        );
        cfg.listeners[0].hostname = Some("only.example".into());
        cfg
    })
    .await;

    let resp = get(proxy.port, "only.example", "/x").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.name(), "only");

    let resp = get(proxy.port, "other.example", "/x").await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(resp.text(), "no route\n");

    let resp = get(proxy.port, "only.example", "/y").await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);

    let metrics = proxy.metrics();
    assert!(
        metrics.contains(r#"fairlead_requests_total{listener="test/http",route="",code_class="4xx"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"fairlead_requests_total{listener="",route="",code_class="4xx"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"fairlead_requests_total{listener="test/http",route="r-exact",code_class="2xx"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn http11_request_without_host_is_400() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let backend = echo("any").await;
    let proxy =
        start_proxy(|port| config(port, vec![route("r", vec![service("any", 1, &[backend.addr])])])).await;

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port))
        .await
        .unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = bounded("400 response", stream.read(&mut buf)).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");

    // HTTP/1.0 may omit Host and is still routed.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port))
        .await
        .unwrap();
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut raw = Vec::new();
    bounded("HTTP/1.0 response", stream.read_to_end(&mut raw))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.0 200"), "{text}");
}

#[tokio::test]
async fn weights_split_traffic() {
    let heavy = echo("heavy").await;
    let light = echo("light").await;
    let proxy = start_proxy(|port| {
        config(
            port,
            vec![route(
                "r-split",
                vec![
                    service("heavy", 80, &[heavy.addr]),
                    service("light", 20, &[light.addr]),
                    service("never", 0, &[refused_addr()]),
                ],
            )],
        )
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    let mut names = Vec::new();
    for _ in 0..2000 {
        let resp = client.get("split.example", "/").await;
        assert_eq!(resp.status, StatusCode::OK);
        names.push(resp.name());
    }
    let counts = tally(names);
    let heavy_count = counts.get("heavy").copied().unwrap_or(0);
    let light_count = counts.get("light").copied().unwrap_or(0);
    assert_eq!(
        heavy_count + light_count,
        2000,
        "weight 0 is never chosen: {counts:?}"
    );
    // Expected 1600 / 400; the tolerance is over ten standard deviations.
    assert!((1400..=1800).contains(&heavy_count), "{counts:?}");
}

#[tokio::test]
async fn round_robin_reaches_every_endpoint() {
    let a = echo("a").await;
    let b = echo("b").await;
    let c = echo("c").await;
    let proxy = start_proxy(|port| {
        config(
            port,
            vec![route("r", vec![service("abc", 1, &[a.addr, b.addr, c.addr])])],
        )
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    let mut names = Vec::new();
    for _ in 0..30 {
        names.push(client.get("rr.example", "/").await.name());
    }
    let counts = tally(names);
    // Requests from one client connection still spread: upstream connections are per endpoint.
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(
        counts.values().all(|&n| n == 10),
        "strict rotation expected: {counts:?}"
    );
}

#[tokio::test]
async fn header_modifiers_change_request_and_response_headers() {
    let backend = echo("mod").await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("mod", 1, &[backend.addr])]);
        r.filters = vec![
            Filter::RequestHeaderModifier(HeaderModifier {
                set: vec![("x-set".into(), "set-value".into())],
                add: vec![("x-add".into(), "added".into())],
                remove: vec!["x-remove".into()],
            }),
            Filter::ResponseHeaderModifier(HeaderModifier {
                set: vec![("x-response".into(), "yes".into())],
                add: Vec::new(),
                remove: vec!["x-echo-name".into()],
            }),
        ];
        config(port, vec![r])
    })
    .await;
    let mut req = request("GET", "mod.example", "/");
    req.headers_mut().insert("x-set", "client".parse().unwrap());
    req.headers_mut().insert("x-add", "client".parse().unwrap());
    req.headers_mut().insert("x-remove", "gone".parse().unwrap());
    let resp = H1Client::connect(proxy.port).await.send(req).await;
    let seen = &resp.json()["headers"];
    assert_eq!(seen["x-set"], "set-value");
    // `add` appends to the client's value on the same line (HTTPHeaderFilter).
    assert_eq!(seen["x-add"], "client,added");
    assert!(seen.get("x-remove").is_none(), "{seen}");
    assert_eq!(resp.headers["x-response"], "yes");
    assert!(!resp.headers.contains_key("x-echo-name"));
}

#[tokio::test]
async fn redirect_answers_without_a_backend() {
    let proxy = start_proxy(|port| {
        let mut r = route("r-redirect", Vec::new());
        r.matches = vec![RouteMatch {
            path: PathMatch::Prefix("/old".into()),
            ..Default::default()
        }];
        r.filters = vec![Filter::RequestRedirect(Redirect {
            scheme: Some("https".into()),
            hostname: Some("new.example".into()),
            port: None,
            path: Some(PathModifier::ReplacePrefixMatch("/new".into())),
            status_code: 301,
        })];
        config(port, vec![r])
    })
    .await;
    let resp = get(proxy.port, "old.example", "/old/page?x=1").await;
    assert_eq!(resp.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(resp.headers["location"], "https://new.example/new/page?x=1");
}

#[tokio::test]
async fn url_rewrite_changes_path_and_host() {
    let backend = echo("rw").await;
    let proxy = start_proxy(|port| {
        let mut r = route("r-rewrite", vec![service("rw", 1, &[backend.addr])]);
        r.matches = vec![RouteMatch {
            path: PathMatch::Prefix("/v1".into()),
            ..Default::default()
        }];
        r.filters = vec![Filter::UrlRewrite(UrlRewrite {
            hostname: Some("internal.example".into()),
            path: Some(PathModifier::ReplacePrefixMatch("/".into())),
        })];
        config(port, vec![r])
    })
    .await;
    let json = get(proxy.port, "public.example", "/v1/items?page=2").await.json();
    assert_eq!(json["path"], "/items");
    assert_eq!(json["query"], "page=2");
    assert_eq!(json["host"], "internal.example");
    assert_eq!(json["headers"]["x-forwarded-host"], "public.example");
}

#[tokio::test]
async fn unsupported_filter_fails_closed_with_500() {
    let backend = echo("never").await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("never", 1, &[backend.addr])]);
        r.filters = vec![Filter::Unsupported {
            name: "ExtensionRef example.com/Foo".into(),
        }];
        config(port, vec![r])
    })
    .await;
    let resp = get(proxy.port, "x.example", "/").await;
    assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(resp.text(), "route misconfigured\n");
}
