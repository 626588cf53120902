//! The CORS filter, after the HTTPCORSFilter field docs and the `HTTPRouteCORS` and
//! `CORSAllowCredentialsBehavior` conformance tests: preflights are answered by the proxy,
//! actual requests are forwarded and get the CORS response headers.

mod support;

use bytes::Bytes;
use fairlead_route::{Cors, Filter, PathMatch, RouteMatch};
use http::{Request, StatusCode};
use http_body_util::Full;
use support::*;

fn cors_route(id: &str, prefix: &str, backend: std::net::SocketAddr, cors: Cors) -> fairlead_route::Route {
    let mut r = route(id, vec![service("app", 1, &[backend])]);
    r.matches = vec![RouteMatch {
        path: PathMatch::Prefix(prefix.into()),
        ..Default::default()
    }];
    r.filters = vec![Filter::Cors(cors)];
    r
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// The routes of the conformance manifests.
fn routes(backend: std::net::SocketAddr) -> Vec<fairlead_route::Route> {
    vec![
        cors_route(
            "cors-1",
            "/cors-1",
            backend,
            Cors {
                allow_origins: strings(&["https://www.foo.com", "https://*.bar.com"]),
                allow_methods: strings(&["GET", "OPTIONS"]),
                allow_headers: strings(&["x-header-1", "x-header-2"]),
                expose_headers: strings(&["x-header-3", "x-header-4"]),
                max_age: Some(3600),
                allow_credentials: true,
            },
        ),
        cors_route(
            "cors-2",
            "/cors-2",
            backend,
            Cors {
                allow_origins: strings(&["https://www.foo.com"]),
                allow_methods: strings(&["*"]),
                ..Default::default()
            },
        ),
        cors_route(
            "cors-wildcard-origin",
            "/cors-wildcard-origin",
            backend,
            Cors {
                allow_origins: strings(&["*"]),
                allow_methods: strings(&["*"]),
                allow_headers: strings(&["*"]),
                expose_headers: strings(&["*"]),
                ..Default::default()
            },
        ),
        cors_route(
            "cors-credentials",
            "/cors-credentials",
            backend,
            Cors {
                allow_origins: strings(&["*"]),
                allow_methods: strings(&["*"]),
                allow_headers: strings(&["*"]),
                expose_headers: strings(&["*", "x-exposed"]),
                allow_credentials: true,
                ..Default::default()
            },
        ),
        cors_route(
            "cors-no-origins",
            "/cors-no-origins",
            backend,
            Cors {
                allow_credentials: true,
                ..Default::default()
            },
        ),
    ]
}

fn with_headers(method: &str, path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "cors.example");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(Full::new(Bytes::new())).unwrap()
}

fn preflight(path: &str, origin: &str, method: &str, headers: Option<&str>) -> Request<Full<Bytes>> {
    let mut h = vec![("origin", origin), ("access-control-request-method", method)];
    if let Some(requested) = headers {
        h.push(("access-control-request-headers", requested));
    }
    with_headers("OPTIONS", path, &h)
}

fn header<'a>(resp: &'a Resp, name: &str) -> Option<&'a str> {
    resp.headers.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn preflights_from_allowed_origins_are_answered_with_the_configured_headers() {
    let (backend, mut seen) = recorder("app").await;
    let proxy = start_proxy(|port| config(port, routes(backend.addr))).await;
    let mut client = H1Client::connect(proxy.port).await;
    for origin in [
        "https://www.foo.com",
        "https://www.bar.com",
        "https://xpto.www.bar.com",
    ] {
        let resp = client
            .send(preflight(
                "/cors-1",
                origin,
                "GET",
                Some("x-header-1, x-header-2"),
            ))
            .await;
        assert_eq!(resp.status, StatusCode::OK, "{origin}");
        assert_eq!(header(&resp, "access-control-allow-origin"), Some(origin));
        assert_eq!(
            header(&resp, "access-control-allow-methods"),
            Some("GET, OPTIONS")
        );
        assert_eq!(
            header(&resp, "access-control-allow-headers"),
            Some("x-header-1, x-header-2")
        );
        assert_eq!(
            header(&resp, "access-control-expose-headers"),
            Some("x-header-3, x-header-4")
        );
        assert_eq!(header(&resp, "access-control-max-age"), Some("3600"));
        assert_eq!(header(&resp, "access-control-allow-credentials"), Some("true"));
        assert_eq!(header(&resp, "vary"), Some("origin"));
        assert!(resp.body.is_empty());
    }
    // Preflights never reached the backend: the first request it sees is this one.
    client.get("cors.example", "/cors-1/after").await;
    assert_eq!(next_seen(&mut seen, "backend").await.target, "/cors-1/after");
}

#[tokio::test]
async fn preflights_from_other_origins_get_no_cors_headers() {
    let (backend, mut seen) = recorder("app").await;
    let proxy = start_proxy(|port| config(port, routes(backend.addr))).await;
    let mut client = H1Client::connect(proxy.port).await;
    for origin in [
        "https://foobar.com",
        "https://bar.com",
        "http://www.foo.com",
        "https://www.foo.com:8443",
        "null",
    ] {
        let resp = client.send(preflight("/cors-1", origin, "GET", None)).await;
        assert_eq!(resp.status, StatusCode::OK, "{origin}");
        for name in [
            "access-control-allow-origin",
            "access-control-allow-methods",
            "access-control-allow-credentials",
            "access-control-max-age",
        ] {
            assert!(resp.headers.get(name).is_none(), "{origin}: {name}");
        }
    }
    client.get("cors.example", "/cors-1/after").await;
    assert_eq!(next_seen(&mut seen, "backend").await.target, "/cors-1/after");
}

#[tokio::test]
async fn actual_requests_are_forwarded_and_get_cors_headers_when_allowed() {
    let (backend, mut seen) = recorder("app").await;
    let proxy = start_proxy(|port| config(port, routes(backend.addr))).await;
    let mut client = H1Client::connect(proxy.port).await;

    let resp = client
        .send(with_headers(
            "GET",
            "/cors-1",
            &[("origin", "https://www.bar.com")],
        ))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.text(), "app");
    assert_eq!(
        header(&resp, "access-control-allow-origin"),
        Some("https://www.bar.com")
    );
    assert_eq!(header(&resp, "access-control-allow-credentials"), Some("true"));
    assert_eq!(
        header(&resp, "access-control-expose-headers"),
        Some("x-header-3, x-header-4")
    );
    assert_eq!(header(&resp, "vary"), Some("origin"));
    assert!(
        resp.headers.get("access-control-allow-methods").is_none(),
        "preflight only"
    );
    assert_eq!(
        next_seen(&mut seen, "backend").await.headers["origin"],
        "https://www.bar.com"
    );

    let resp = client
        .send(with_headers(
            "GET",
            "/cors-1",
            &[("origin", "https://foobar.com")],
        ))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.headers.get("access-control-allow-origin").is_none());
    assert!(resp.headers.get("access-control-allow-credentials").is_none());
    assert_eq!(
        header(&resp, "vary"),
        Some("origin"),
        "the answer still depends on the origin"
    );
    next_seen(&mut seen, "backend").await;

    // Without Origin it is not a CORS request at all; OPTIONS without a requested method is
    // not a preflight: both are forwarded.
    let resp = client.get("cors.example", "/cors-1").await;
    assert!(resp.headers.get("access-control-allow-origin").is_none());
    next_seen(&mut seen, "backend").await;
    let resp = client
        .send(with_headers(
            "OPTIONS",
            "/cors-1/options",
            &[("origin", "https://www.foo.com")],
        ))
        .await;
    assert_eq!(resp.text(), "app");
    assert_eq!(
        header(&resp, "access-control-allow-origin"),
        Some("https://www.foo.com")
    );
    assert_eq!(next_seen(&mut seen, "backend").await.target, "/cors-1/options");
}

#[tokio::test]
async fn wildcards_without_credentials_answer_star() {
    let (backend, _seen) = recorder("app").await;
    let proxy = start_proxy(|port| config(port, routes(backend.addr))).await;
    let mut client = H1Client::connect(proxy.port).await;

    let resp = client
        .send(preflight("/cors-2", "https://www.foo.com", "POST", None))
        .await;
    assert_eq!(
        header(&resp, "access-control-allow-origin"),
        Some("https://www.foo.com")
    );
    assert_eq!(header(&resp, "access-control-allow-methods"), Some("*"));
    assert!(resp.headers.get("access-control-allow-credentials").is_none());
    assert_eq!(
        header(&resp, "access-control-max-age"),
        Some("5"),
        "the default max age"
    );

    for origin in ["https://foobar.com", "https://foobar.com:12345"] {
        let resp = client
            .send(preflight("/cors-wildcard-origin", origin, "PUT", Some("x-a")))
            .await;
        assert_eq!(
            header(&resp, "access-control-allow-origin"),
            Some("*"),
            "{origin}"
        );
        assert_eq!(header(&resp, "access-control-allow-methods"), Some("*"));
        assert_eq!(header(&resp, "access-control-allow-headers"), Some("*"));
        assert!(resp.headers.get("access-control-allow-credentials").is_none());
        let resp = client
            .send(with_headers(
                "PUT",
                "/cors-wildcard-origin",
                &[("origin", origin)],
            ))
            .await;
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&resp, "access-control-expose-headers"), Some("*"));
    }
}

#[tokio::test]
async fn with_credentials_wildcards_echo_the_request() {
    let (backend, _seen) = recorder("app").await;
    let proxy = start_proxy(|port| config(port, routes(backend.addr))).await;
    let mut client = H1Client::connect(proxy.port).await;

    let resp = client
        .send(preflight(
            "/cors-credentials",
            "https://other.foo.com",
            "PUT",
            Some("x-header-1, x-header-2"),
        ))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        header(&resp, "access-control-allow-origin"),
        Some("https://other.foo.com")
    );
    assert_eq!(header(&resp, "access-control-allow-methods"), Some("PUT"));
    assert_eq!(
        header(&resp, "access-control-allow-headers"),
        Some("x-header-1, x-header-2")
    );
    assert_eq!(header(&resp, "access-control-allow-credentials"), Some("true"));
    assert_eq!(
        header(&resp, "access-control-expose-headers"),
        Some("x-exposed"),
        "no `*` with credentials"
    );

    // No requested headers: nothing to echo, and `*` is not allowed.
    let resp = client
        .send(preflight(
            "/cors-credentials",
            "https://other.foo.com",
            "PUT",
            None,
        ))
        .await;
    assert!(resp.headers.get("access-control-allow-headers").is_none());

    let resp = client
        .send(with_headers(
            "GET",
            "/cors-credentials",
            &[
                ("origin", "https://other.foo.com"),
                ("authorization", "Bearer test"),
            ],
        ))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        header(&resp, "access-control-allow-origin"),
        Some("https://other.foo.com")
    );
    assert_eq!(header(&resp, "access-control-allow-credentials"), Some("true"));
}

#[tokio::test]
async fn credentials_without_allow_origins_echo_the_origin() {
    // CORSAllowCredentialsBehavior: a filter with only `allowCredentials: true`.
    let (backend, _seen) = recorder("app").await;
    let proxy = start_proxy(|port| config(port, routes(backend.addr))).await;
    let resp = H1Client::connect(proxy.port)
        .await
        .send(with_headers(
            "GET",
            "/cors-no-origins",
            &[("origin", "https://app.example"), ("cookie", "sid=abc123")],
        ))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        header(&resp, "access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(header(&resp, "access-control-allow-credentials"), Some("true"));
}

#[tokio::test]
async fn the_proxys_own_errors_carry_the_cors_headers() {
    // A backend without endpoints (503) and an unreachable one (502): a browser reads those
    // statuses only when the CORS headers are on the error answer too.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let allow = Cors {
        allow_origins: strings(&["https://www.foo.com"]),
        allow_methods: strings(&["GET"]),
        ..Default::default()
    };
    let proxy = start_proxy(|port| {
        let no_endpoints = {
            let mut r = cors_route("empty", "/empty", closed, allow.clone());
            r.backends = vec![service("empty", 1, &[])];
            r
        };
        config(
            port,
            vec![no_endpoints, cors_route("down", "/down", closed, allow.clone())],
        )
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    for (path, status) in [
        ("/empty", StatusCode::SERVICE_UNAVAILABLE),
        ("/down", StatusCode::BAD_GATEWAY),
    ] {
        let resp = client
            .send(with_headers("GET", path, &[("origin", "https://www.foo.com")]))
            .await;
        assert_eq!(resp.status, status, "{path}");
        assert_eq!(
            header(&resp, "access-control-allow-origin"),
            Some("https://www.foo.com"),
            "{path}"
        );
        assert_eq!(header(&resp, "vary"), Some("origin"), "{path}");
    }
    // Other origins still get none.
    let resp = client
        .send(with_headers(
            "GET",
            "/empty",
            &[("origin", "https://evil.example")],
        ))
        .await;
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers.get("access-control-allow-origin").is_none());
}
