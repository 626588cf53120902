//! Table swaps under load, listener changes, bind errors and graceful shutdown.

mod support;

use bytes::Bytes;
use fairlead_route::{Config, Listener};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;
use tokio::sync::{mpsc, watch, Notify};

fn named(port: u16, name: &str, addr: SocketAddr, version: u64) -> Config {
    let mut cfg = config(port, vec![route("r", vec![service(name, 1, &[addr])])]);
    cfg.version = version;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_swaps_under_load_drop_no_request() {
    let a = echo("a").await;
    let b = echo("b").await;
    let (a_addr, b_addr) = (a.addr, b.addr);
    let proxy = start_proxy(|port| named(port, "a", a_addr, 1)).await;
    let port = proxy.port;
    let stop = Arc::new(AtomicBool::new(false));
    let (progress_tx, mut progress) = watch::channel(0usize);
    let progress_tx = Arc::new(progress_tx);

    // Two clients, HTTP/1.1 and h2c, each sending requests back to back (bounded in count).
    let mut clients = Vec::new();
    for h2 in [false, true] {
        let stop = stop.clone();
        let progress_tx = progress_tx.clone();
        clients.push(tokio::spawn(async move {
            let mut h1 = H1Client::connect(port).await;
            let mut h2c = h2_client(port).await;
            let mut failures = Vec::new();
            let mut names = std::collections::BTreeSet::new();
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed) && sent < 20_000 {
                let resp = if h2 {
                    let req = Request::builder()
                        .uri("http://swap.example/")
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    bounded("ready", h2c.ready()).await.unwrap();
                    read(bounded("response", h2c.send_request(req)).await.unwrap()).await
                } else {
                    h1.get("swap.example", "/").await
                };
                if resp.status == StatusCode::OK {
                    names.insert(resp.name());
                } else {
                    failures.push((resp.status, resp.text()));
                }
                sent += 1;
                progress_tx.send_modify(|n| *n += 1);
            }
            (sent, failures, names)
        }));
    }

    let mut version = 1;
    for _ in 0..40 {
        // Let a few requests through between swaps so swaps land among requests in flight.
        let seen = *progress.borrow();
        bounded("client progress", progress.wait_for(|&n| n >= seen + 4))
            .await
            .unwrap();
        version += 1;
        let (name, addr) = if version % 2 == 0 {
            ("b", b_addr)
        } else {
            ("a", a_addr)
        };
        let report = proxy
            .proxy
            .apply(&named(port, name, addr, version), &Default::default());
        assert!(report.bind_errors.is_empty(), "{:?}", report.bind_errors);
        assert_eq!(report.bound, vec![port]);
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let (sent, failures, names) = bounded("client end", client).await.unwrap();
        assert!(
            failures.is_empty(),
            "{} of {sent} requests failed: {failures:?}",
            failures.len()
        );
        // Each client saw both configs: swaps took effect under its feet.
        assert_eq!(names.len(), 2, "{names:?} after {sent} requests");
    }
    assert_eq!(proxy.proxy.version(), 41);
    // Version 41 is odd: the final config routes to "a".
    for _ in 0..5 {
        assert_eq!(get(port, "swap.example", "/").await.name(), "a");
    }
    assert!(
        proxy.metrics().contains("fairlead_table_version 41"),
        "{}",
        proxy.metrics()
    );
}

#[tokio::test]
async fn listeners_follow_the_table_and_bind_errors_are_reported() {
    let backend = echo("p").await;
    let occupied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = occupied.local_addr().unwrap().port();
    let two_ports = |port: u16, other: u16| {
        let mut cfg = config(port, vec![route("r", vec![service("p", 1, &[backend.addr])])]);
        let mut second = cfg.listeners[0].clone();
        second.id = "test/other".into();
        second.port = other;
        cfg.listeners.push(second);
        cfg.listeners.sort_by_key(|l: &Listener| l.port);
        cfg
    };
    let proxy =
        start_proxy(|port| config(port, vec![route("r", vec![service("p", 1, &[backend.addr])])])).await;
    let port = proxy.port;

    let report = proxy
        .proxy
        .apply(&two_ports(port, busy_port), &Default::default());
    assert_eq!(report.bind_errors, vec![(busy_port, "address in use".to_owned())]);
    assert_eq!(report.bound, vec![port]);
    assert_eq!(
        get(port, "x.example", "/").await.status,
        StatusCode::OK,
        "other ports keep serving"
    );

    // Once the port is free, the next apply binds it.
    drop(occupied);
    let report = proxy
        .proxy
        .apply(&two_ports(port, busy_port), &Default::default());
    assert!(report.bind_errors.is_empty(), "{:?}", report.bind_errors);
    let mut expected = vec![port, busy_port];
    expected.sort();
    assert_eq!(report.bound, expected);
    assert_eq!(get(busy_port, "x.example", "/").await.status, StatusCode::OK);

    // Removing the port from the table stops accepting on it.
    let report = proxy.proxy.apply(
        &config(port, vec![route("r", vec![service("p", 1, &[backend.addr])])]),
        &Default::default(),
    );
    assert_eq!(report.bound, vec![port]);
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", busy_port))
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        // The accept task closes the socket when it next runs; nothing signals that moment.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "port {busy_port} still accepts connections");
    assert_eq!(get(port, "x.example", "/").await.status, StatusCode::OK);
}

/// A backend that signals when a request arrives and answers only when released.
async fn gated() -> (TestBackend, mpsc::Receiver<()>, Arc<Notify>) {
    let (arrived_tx, arrived_rx) = mpsc::channel(4);
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    let backend = serve_fn(move |_req: Request<Incoming>| {
        let arrived = arrived_tx.clone();
        let gate = gate.clone();
        async move {
            let _ = arrived.send(()).await;
            gate.notified().await;
            Response::new(Full::new(Bytes::from_static(b"finished")))
        }
    })
    .await;
    (backend, arrived_rx, release)
}

#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_request_finish() {
    let (backend, mut arrived, release) = gated().await;
    let proxy =
        start_proxy(|port| config(port, vec![route("r", vec![service("g", 1, &[backend.addr])])])).await;
    let port = proxy.port;
    let client = tokio::spawn(async move { get(port, "g.example", "/slow").await });
    bounded("request reaches the backend", arrived.recv())
        .await
        .unwrap();

    let shutdown = proxy.proxy.shutdown(Duration::from_secs(10));
    tokio::pin!(shutdown);
    // While the request is in flight, shutdown must keep waiting (this can only fail, never
    // flake, if shutdown stops waiting for in-flight requests).
    let early = tokio::time::timeout(Duration::from_millis(200), &mut shutdown).await;
    assert!(early.is_err(), "shutdown returned with a request in flight");

    release.notify_one();
    let resp = bounded("in-flight response", client).await.unwrap();
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.text(), "finished");
    bounded("shutdown", &mut shutdown).await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "no longer accepting after shutdown"
    );
}

#[tokio::test]
async fn shutdown_gives_up_after_the_grace_period() {
    let (backend, mut arrived, _release) = gated().await;
    let proxy =
        start_proxy(|port| config(port, vec![route("r", vec![service("g", 1, &[backend.addr])])])).await;
    let port = proxy.port;
    let _client = tokio::spawn(async move { get(port, "g.example", "/never").await });
    bounded("request reaches the backend", arrived.recv())
        .await
        .unwrap();
    // The backend never answers; shutdown still returns once the grace period is over.
    bounded("shutdown", proxy.proxy.shutdown(Duration::from_millis(200))).await;
}
