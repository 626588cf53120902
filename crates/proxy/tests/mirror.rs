//! RequestMirror: copies reach the mirror backend with the request as the primary got it, and
//! nothing a mirror does changes or delays the client's response.

mod support;

use bytes::Bytes;
use fairlead_route::{Filter, HeaderModifier, Mirror, ServiceBackend, UpstreamProtocol};
use http::{Request, StatusCode};
use http_body_util::Full;
use std::net::SocketAddr;
use support::*;
use tokio_util::sync::CancellationToken;

fn mirror(name: &str, endpoints: &[SocketAddr], numerator: u32, denominator: u32) -> Filter {
    mirror_with(name, endpoints, numerator, denominator, UpstreamProtocol::Http1)
}

fn mirror_with(
    name: &str,
    endpoints: &[SocketAddr],
    numerator: u32,
    denominator: u32,
    protocol: UpstreamProtocol,
) -> Filter {
    Filter::RequestMirror(Mirror {
        backend: ServiceBackend {
            name: name.to_owned(),
            protocol,
            endpoints: endpoints.to_vec(),
            tls: None,
        },
        numerator,
        denominator,
    })
}

fn post(path: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "app.example")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

#[tokio::test]
async fn a_mirrored_get_reaches_the_mirror_as_the_primary_got_it() {
    let (primary, mut primary_seen) = recorder("primary").await;
    let (shadow, mut shadow_seen) = recorder("shadow").await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("primary", 1, &[primary.addr])]);
        r.filters = vec![
            Filter::RequestHeaderModifier(HeaderModifier {
                set: vec![("x-filtered".into(), "yes".into())],
                ..Default::default()
            }),
            mirror("shadow", &[shadow.addr], 100, 100),
        ];
        config(port, vec![r])
    })
    .await;
    let mut req = request("GET", "app.example", "/items?page=2");
    req.headers_mut().insert("x-client", "c".parse().unwrap());
    let resp = H1Client::connect(proxy.port).await.send(req).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.text(), "primary", "the client gets the primary's answer");

    let got = next_seen(&mut primary_seen, "primary request").await;
    let copy = next_seen(&mut shadow_seen, "mirror copy").await;
    assert_eq!(copy.method, "GET");
    assert_eq!(copy.target, "/items?page=2");
    assert_eq!(copy.host(), "app.example");
    for name in [
        "x-client",
        "x-filtered",
        "x-forwarded-for",
        "x-forwarded-proto",
        "host",
    ] {
        assert_eq!(copy.headers.get(name), got.headers.get(name), "{name}");
    }
    assert_eq!(
        copy.headers["x-filtered"], "yes",
        "headers are copied after the filters ran"
    );
    assert!(copy.body.is_empty());
    wait_for_metric(
        &proxy,
        r#"fairlead_mirror_requests_total{backend="shadow",result="sent"}"#,
        1,
    )
    .await;
}

#[tokio::test]
async fn a_post_body_arrives_at_the_primary_and_the_mirror() {
    let (primary, mut primary_seen) = recorder("primary").await;
    let (shadow, mut shadow_seen) = recorder("shadow").await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("primary", 1, &[primary.addr])]);
        r.filters = vec![mirror_with("shadow", &[shadow.addr], 1, 1, UpstreamProtocol::H2c)];
        config(port, vec![r])
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    for i in 0..3 {
        let resp = client.send(post("/upload", "the request body")).await;
        assert_eq!(resp.status, StatusCode::OK, "request {i}");
        let got = next_seen(&mut primary_seen, "primary request").await;
        let copy = next_seen(&mut shadow_seen, "mirror copy").await;
        assert_eq!(got.body, "the request body");
        assert_eq!(copy.body, "the request body");
        assert_eq!(copy.method, "POST");
        assert_eq!(copy.version, http::Version::HTTP_2, "the mirror's own protocol");
        assert_eq!(copy.host(), "app.example");
    }
}

#[tokio::test]
async fn a_refusing_mirror_changes_nothing_for_the_client() {
    let primary = echo("primary").await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("primary", 1, &[primary.addr])]);
        r.filters = vec![mirror("down", &[refused_addr()], 100, 100)];
        config(port, vec![r])
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    for _ in 0..5 {
        let resp = client.send(post("/x", "body")).await;
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.name(), "primary");
        assert_eq!(resp.json()["body_bytes"], 4);
    }
    wait_for_metric(
        &proxy,
        r#"fairlead_mirror_requests_total{backend="down",result="failed"}"#,
        5,
    )
    .await;
    assert_eq!(
        metric(
            &proxy,
            r#"fairlead_mirror_requests_total{backend="down",result="sent"}"#
        ),
        0
    );
}

#[tokio::test]
async fn a_hanging_mirror_does_not_hold_the_response() {
    let primary = echo("primary").await;
    let release = CancellationToken::new();
    // The mirror never reads the body and never answers until released.
    let (shadow, mut arrived) = holding(release.clone()).await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("primary", 1, &[primary.addr])]);
        r.filters = vec![mirror("hang", &[shadow.addr], 100, 100)];
        config(port, vec![r])
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    for path in ["/first", "/second"] {
        // `send` fails the test if no response comes within the bound: the mirror is still
        // holding every copy it got, so the response cannot have waited for it.
        let resp = client.send(post(path, "payload")).await;
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.json()["body_bytes"], 7);
        assert_eq!(next_seen(&mut arrived, "mirror copy").await, path);
    }
    assert!(!release.is_cancelled());
    release.cancel();
}

#[tokio::test]
async fn a_zero_share_mirrors_nothing() {
    let primary = echo("primary").await;
    let (never, mut never_seen) = recorder("never").await;
    let (always, mut always_seen) = recorder("always").await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("primary", 1, &[primary.addr])]);
        r.filters = vec![
            mirror("never", &[never.addr], 0, 100),
            mirror("always", &[always.addr], 100, 100),
        ];
        config(port, vec![r])
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    for _ in 0..20 {
        assert_eq!(client.get("app.example", "/").await.status, StatusCode::OK);
    }
    // Both copies of a request are started together: once every copy of the 100% mirror
    // arrived, copies to the 0% mirror would have too.
    for _ in 0..20 {
        next_seen(&mut always_seen, "copy to the 100% mirror").await;
    }
    assert!(never_seen.try_recv().is_err(), "the 0% mirror got a copy");
}

#[tokio::test]
async fn rule_and_backend_mirrors_all_receive() {
    let primary = echo("primary").await;
    let (a, mut a_seen) = recorder("a").await;
    let (b, mut b_seen) = recorder("b").await;
    let (c, mut c_seen) = recorder("c").await;
    let proxy = start_proxy(|port| {
        let mut backend = service("primary", 1, &[primary.addr]);
        backend.filters = vec![mirror("c", &[c.addr], 1, 1)];
        let mut r = route("r", vec![backend]);
        r.filters = vec![mirror("a", &[a.addr], 1, 1), mirror("b", &[b.addr], 1, 1)];
        config(port, vec![r])
    })
    .await;
    let resp = H1Client::connect(proxy.port).await.send(post("/all", "x")).await;
    assert_eq!(resp.status, StatusCode::OK);
    for (rx, name) in [(&mut a_seen, "a"), (&mut b_seen, "b"), (&mut c_seen, "c")] {
        let copy = next_seen(rx, name).await;
        assert_eq!(copy.target, "/all", "{name}");
        assert_eq!(copy.body, "x", "{name}");
    }
}

#[tokio::test]
async fn a_mirror_goes_to_one_endpoint_per_request() {
    let primary = echo("primary").await;
    let (one, mut one_seen) = recorder("one").await;
    let (two, mut two_seen) = recorder("two").await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("primary", 1, &[primary.addr])]);
        r.filters = vec![mirror("pair", &[one.addr, two.addr], 1, 1)];
        config(port, vec![r])
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    for i in 0..10 {
        client.get("app.example", &format!("/{i}")).await;
    }
    let mut paths = Vec::new();
    while paths.len() < 10 {
        tokio::select! {
            Some(s) = one_seen.recv() => paths.push(s.target),
            Some(s) = two_seen.recv() => paths.push(s.target),
            _ = tokio::time::sleep(WAIT) => panic!("only {} copies arrived", paths.len()),
        }
    }
    paths.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("/{i}")).collect();
    expected.sort();
    assert_eq!(paths, expected, "each request mirrored exactly once");
}

#[tokio::test]
async fn a_mirror_that_cannot_keep_up_is_abandoned_and_the_primary_gets_everything() {
    let primary = echo("primary").await;
    let release = CancellationToken::new();
    let (shadow, mut arrived) = holding(release.clone()).await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("primary", 1, &[primary.addr])]);
        r.filters = vec![mirror("slow", &[shadow.addr], 1, 1)];
        config(port, vec![r])
    })
    .await;
    // Far more than the socket buffers between the proxy and the mirror hold, so the mirror
    // falls behind by more frames than it may lag: it reads none of them.
    let body = Bytes::from(vec![b'x'; 32 << 20]);
    let req = Request::builder()
        .method("PUT")
        .uri("/big")
        .header("host", "app.example")
        .body(Full::new(body))
        .unwrap();
    let resp = H1Client::connect(proxy.port).await.send(req).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.json()["body_bytes"], 32 << 20);
    assert_eq!(next_seen(&mut arrived, "mirror copy").await, "/big");
    wait_for_metric(
        &proxy,
        r#"fairlead_mirror_requests_total{backend="slow",result="failed"}"#,
        1,
    )
    .await;
    release.cancel();
}
