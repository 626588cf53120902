//! SIGTERM: fairlead stops accepting connections, lets the request in flight finish, and exits 0.

mod support;

use serde_json::json;
use support::manifests::{endpoint_slice, gateway_setup, http_route, rule, service, to, yaml};
use support::{eventually, free_port, Fairlead, Http, WAIT_AT_MOST};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// A backend that holds its first request until released, and says when that request has
/// arrived: the test then knows the request is in flight instead of guessing with a delay.
struct GatedBackend {
    port: u16,
    arrived: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

async fn gated_backend() -> GatedBackend {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let port = listener.local_addr().expect("backend address").port();
    let (arrived_tx, arrived) = oneshot::channel();
    let (release, release_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = arrived_tx.send(());
        let _ = release_rx.await;
        let body = br#"{"name":"slow"}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(body).await;
        let _ = stream.shutdown().await;
    });
    GatedBackend {
        port,
        arrived,
        release,
    }
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_and_exits_zero() {
    let backend = gated_backend().await;
    let port = free_port();
    let docs = vec![
        service("slow"),
        endpoint_slice("slow", "slow-1", backend.port, &["127.0.0.1"]),
        http_route(
            "slow",
            &["slow.example.com"],
            vec![rule(json!(null), vec![to("slow")])],
        ),
    ];
    let files = [
        ("00-gateway.yaml", yaml(&gateway_setup(port))),
        ("10-slow.yaml", yaml(&docs)),
    ];
    let mut fl = Fairlead::start_with(&files, &["--shutdown-grace", "5s"]).await;

    let in_flight = tokio::spawn(async move { Http::new().get(port, "slow.example.com", "/slow").await });
    tokio::time::timeout(WAIT_AT_MOST, backend.arrived)
        .await
        .expect("the request never reached the backend")
        .expect("backend task ended");

    fl.sigterm();
    // Shutdown has begun once the listener is closed: new connections are refused.
    eventually("the listener to stop accepting after SIGTERM", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
            .then_some(())
    })
    .await;

    let _ = backend.release.send(());
    let reply = tokio::time::timeout(WAIT_AT_MOST, in_flight)
        .await
        .expect("the request in flight never completed")
        .expect("client task panicked");
    assert_eq!(
        reply.status,
        200,
        "the request in flight must complete: {}",
        reply.text()
    );
    assert_eq!(reply.json()["name"], "slow");

    let exit = fl.wait_exit().await;
    assert!(
        exit.success(),
        "fairlead must exit 0 after a graceful shutdown, got {exit}"
    );
}
