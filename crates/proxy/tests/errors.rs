//! Failure handling: failover, and the status code for each kind of failure.

mod support;

use http::StatusCode;
use support::*;

#[tokio::test]
async fn failover_skips_an_endpoint_that_refuses_connections() {
    let up = echo("up").await;
    let down = refused_addr();
    let proxy = start_proxy(|port| {
        config(
            port,
            vec![route("r", vec![service("ns/svc:80", 1, &[down, up.addr])])],
        )
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    for _ in 0..20 {
        let resp = client.get("failover.example", "/").await;
        assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
        assert_eq!(resp.name(), "up");
    }
    let metrics = proxy.metrics();
    let failures = metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"fairlead_upstream_connect_failures_total{backend="ns/svc:80"} "#))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    // Round-robin starts at the refusing endpoint for about half of the requests.
    assert!(failures >= 1, "{metrics}");
}

#[tokio::test]
async fn every_endpoint_refusing_is_502() {
    let proxy = start_proxy(|port| {
        config(
            port,
            vec![route(
                "r",
                vec![service("down", 1, &[refused_addr(), refused_addr()])],
            )],
        )
    })
    .await;
    let resp = get(proxy.port, "down.example", "/").await;
    assert_eq!(resp.status, StatusCode::BAD_GATEWAY);
    assert_eq!(resp.text(), "backend unavailable\n");
}

#[tokio::test]
async fn invalid_backend_is_500() {
    let proxy = start_proxy(|port| config(port, vec![route("r", vec![invalid("Service not found")])])).await;
    let resp = get(proxy.port, "x.example", "/").await;
    assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(resp.text(), "route misconfigured\n");
}

#[tokio::test]
async fn route_without_backends_is_500() {
    let proxy = start_proxy(|port| config(port, vec![route("r", Vec::new())])).await;
    let resp = get(proxy.port, "x.example", "/").await;
    assert_eq!(resp.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn service_without_endpoints_is_503() {
    let proxy = start_proxy(|port| config(port, vec![route("r", vec![service("empty", 1, &[])])])).await;
    let resp = get(proxy.port, "x.example", "/").await;
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.text(), "no endpoints available\n");
}

#[tokio::test]
async fn request_timeout_is_504() {
    let slow = echo("slow").await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("slow", 1, &[slow.addr])]);
        r.timeouts.request_ms = Some(200);
        config(port, vec![r])
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    let resp = client.get("slow.example", "/delay/5000").await;
    assert_eq!(resp.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(resp.text(), "gateway timeout\n");
    // A request within the limit on the same client connection still succeeds.
    assert_eq!(client.get("slow.example", "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn backend_request_timeout_is_504() {
    let slow = echo("slow").await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("slow", 1, &[slow.addr])]);
        r.timeouts.backend_request_ms = Some(200);
        config(port, vec![r])
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    let resp = client.get("slow.example", "/delay/5000").await;
    assert_eq!(resp.status, StatusCode::GATEWAY_TIMEOUT);
    // An answer within the limit passes.
    let resp = client.get("slow.example", "/delay/1").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.name(), "slow");
}

#[tokio::test]
async fn backend_error_status_passes_through() {
    let backend = echo("e").await;
    let proxy =
        start_proxy(|port| config(port, vec![route("r", vec![service("e", 1, &[backend.addr])])])).await;
    let resp = get(proxy.port, "x.example", "/status/503").await;
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.name(), "e", "the backend's own response, not a proxy error");
}

#[tokio::test]
async fn backend_closing_mid_response_is_502() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A backend that reads the request and hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(b"HTTP/1.1 2").await;
        }
    });
    let proxy = start_proxy(|port| config(port, vec![route("r", vec![service("broken", 1, &[addr])])])).await;
    let resp = get(proxy.port, "x.example", "/").await;
    assert_eq!(resp.status, StatusCode::BAD_GATEWAY);
    assert_eq!(resp.text(), "bad gateway\n");
    server.abort();
}
