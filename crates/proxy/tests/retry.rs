//! Retries (HTTPRouteRetry): listed status codes and backend request timeouts are retried for
//! requests that are safe to send again; the client gets the last answer otherwise.

mod support;

use bytes::Bytes;
use fairlead_route::Retry;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::*;
use tokio_util::sync::CancellationToken;

/// A backend answering its n-th request (from 0) with `statuses[n]` (the last one repeats) and
/// a body naming the attempt; it records every request body it got.
struct Scripted {
    backend: TestBackend,
    count: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

async fn scripted(statuses: &'static [u16]) -> Scripted {
    let count = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (c, b) = (Arc::clone(&count), Arc::clone(&bodies));
    let backend = serve_fn(move |req: Request<Incoming>| {
        let (count, bodies) = (Arc::clone(&c), Arc::clone(&b));
        async move {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            bodies.lock().unwrap().push(body);
            let n = count.fetch_add(1, Ordering::SeqCst);
            let status = statuses.get(n).or(statuses.last()).copied().unwrap_or(200);
            let mut resp = Response::new(Full::new(Bytes::from(format!("attempt-{}", n + 1))));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap();
            resp
        }
    })
    .await;
    Scripted {
        backend,
        count,
        bodies,
    }
}

fn retry(codes: &[u16], attempts: u32) -> Option<Retry> {
    Some(Retry {
        codes: codes.to_vec(),
        attempts,
        backoff_ms: Some(1),
    })
}

async fn proxy_with(backend: &Scripted, policy: Option<Retry>) -> TestProxy {
    let addr = backend.backend.addr;
    start_proxy(move |port| {
        let mut r = route("r", vec![service("flaky", 1, &[addr])]);
        r.retry = policy.clone();
        config(port, vec![r])
    })
    .await
}

fn with_body(method: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri("/")
        .header("host", "retry.example")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

#[tokio::test]
async fn listed_codes_are_retried_until_success() {
    let backend = scripted(&[503, 503, 200]).await;
    let proxy = proxy_with(&backend, retry(&[503], 2)).await;
    let resp = get(proxy.port, "retry.example", "/").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.text(), "attempt-3");
    assert_eq!(backend.count.load(Ordering::SeqCst), 3);
    assert_eq!(
        metric(&proxy, r#"fairlead_upstream_retries_total{backend="flaky"}"#),
        2
    );
}

#[tokio::test]
async fn exhausted_attempts_pass_the_last_answer_through() {
    let backend = scripted(&[503]).await;
    let proxy = proxy_with(&backend, retry(&[503], 2)).await;
    let resp = get(proxy.port, "retry.example", "/").await;
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.text(), "attempt-3", "the backend's own last answer");
    assert_eq!(backend.count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn codes_not_listed_are_not_retried() {
    let backend = scripted(&[502, 200]).await;
    let proxy = proxy_with(&backend, retry(&[503, 504], 3)).await;
    let resp = get(proxy.port, "retry.example", "/").await;
    assert_eq!(resp.status, StatusCode::BAD_GATEWAY);
    assert_eq!(backend.count.load(Ordering::SeqCst), 1);
    assert_eq!(
        metric(&proxy, r#"fairlead_upstream_retries_total{backend="flaky"}"#),
        0
    );
}

#[tokio::test]
async fn without_a_policy_nothing_is_retried() {
    let backend = scripted(&[503, 200]).await;
    let proxy = proxy_with(&backend, None).await;
    assert_eq!(
        get(proxy.port, "retry.example", "/").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(backend.count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_post_is_not_retried() {
    let backend = scripted(&[503, 200]).await;
    let proxy = proxy_with(&backend, retry(&[503], 3)).await;
    let resp = H1Client::connect(proxy.port)
        .await
        .send(with_body("POST", "form=1"))
        .await;
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(backend.count.load(Ordering::SeqCst), 1);
    assert_eq!(
        backend.bodies.lock().unwrap().as_slice(),
        [Bytes::from_static(b"form=1")]
    );
}

#[tokio::test]
async fn a_put_with_a_small_body_is_retried_with_the_same_body() {
    let backend = scripted(&[503, 200]).await;
    let proxy = proxy_with(&backend, retry(&[503], 1)).await;
    let resp = H1Client::connect(proxy.port)
        .await
        .send(with_body("PUT", "same bytes"))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        backend.bodies.lock().unwrap().as_slice(),
        [
            Bytes::from_static(b"same bytes"),
            Bytes::from_static(b"same bytes")
        ]
    );
}

#[tokio::test]
async fn a_put_with_a_body_too_big_to_hold_is_not_retried() {
    let backend = scripted(&[503, 200]).await;
    let proxy = proxy_with(&backend, retry(&[503], 1)).await;
    let big: &'static str = Box::leak("x".repeat(64 * 1024 + 1).into_boxed_str());
    let resp = H1Client::connect(proxy.port)
        .await
        .send(with_body("PUT", big))
        .await;
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(backend.count.load(Ordering::SeqCst), 1);
    assert_eq!(backend.bodies.lock().unwrap()[0].len(), 64 * 1024 + 1);
}

#[tokio::test]
async fn a_retry_goes_to_the_next_endpoint() {
    let bad = scripted(&[503]).await;
    let good = scripted(&[200]).await;
    let (bad_addr, good_addr) = (bad.backend.addr, good.backend.addr);
    let proxy = start_proxy(move |port| {
        let mut r = route("r", vec![service("pair", 1, &[bad_addr, good_addr])]);
        r.retry = retry(&[503], 1);
        config(port, vec![r])
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    for i in 0..6 {
        assert_eq!(
            client.get("retry.example", "/").await.status,
            StatusCode::OK,
            "request {i}"
        );
    }
    assert!(
        bad.count.load(Ordering::SeqCst) >= 1,
        "round-robin reached the failing endpoint"
    );
}

/// A backend whose first request never gets an answer (until the test ends) and whose later
/// requests are answered at once.
async fn first_request_hangs(release: CancellationToken) -> (TestBackend, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let backend = serve_fn(move |_req: Request<Incoming>| {
        let (count, release) = (Arc::clone(&c), release.clone());
        async move {
            if count.fetch_add(1, Ordering::SeqCst) == 0 {
                release.cancelled().await;
            }
            Response::new(Full::new(Bytes::from_static(b"answered")))
        }
    })
    .await;
    (backend, count)
}

#[tokio::test]
async fn a_backend_request_timeout_is_retried() {
    let release = CancellationToken::new();
    let (backend, count) = first_request_hangs(release.clone()).await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("slow", 1, &[backend.addr])]);
        r.timeouts.backend_request_ms = Some(200);
        // No codes: only timeouts are retried.
        r.retry = retry(&[], 1);
        config(port, vec![r])
    })
    .await;
    let resp = get(proxy.port, "retry.example", "/").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.text(), "answered");
    assert_eq!(count.load(Ordering::SeqCst), 2);
    release.cancel();
}

#[tokio::test]
async fn a_backend_request_timeout_on_the_last_attempt_is_504() {
    let release = CancellationToken::new();
    let (backend, _rx) = holding(release.clone()).await;
    let proxy = start_proxy(|port| {
        let mut r = route("r", vec![service("slow", 1, &[backend.addr])]);
        r.timeouts.backend_request_ms = Some(100);
        r.retry = retry(&[], 1);
        config(port, vec![r])
    })
    .await;
    let resp = get(proxy.port, "retry.example", "/").await;
    assert_eq!(resp.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        metric(&proxy, r#"fairlead_upstream_retries_total{backend="slow"}"#),
        1
    );
    release.cancel();
}

#[tokio::test]
async fn the_request_timeout_bounds_all_attempts() {
    let backend = scripted(&[503]).await;
    let addr = backend.backend.addr;
    let proxy = start_proxy(move |port| {
        let mut r = route("r", vec![service("flaky", 1, &[addr])]);
        r.timeouts.request_ms = Some(300);
        // Far more waiting than the request timeout allows.
        r.retry = Some(Retry {
            codes: vec![503],
            attempts: 1000,
            backoff_ms: Some(100),
        });
        config(port, vec![r])
    })
    .await;
    let resp = get(proxy.port, "retry.example", "/").await;
    assert_eq!(resp.status, StatusCode::GATEWAY_TIMEOUT, "{}", resp.text());
    assert!(backend.count.load(Ordering::SeqCst) >= 1);
}
