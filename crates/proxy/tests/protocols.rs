//! Protocols through the proxy: WebSocket upgrade, h2c on either side, streaming bodies.

mod support;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use std::pin::Pin;
use std::task::{Context, Poll};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

#[tokio::test]
async fn websocket_upgrade_is_tunnelled() {
    let backend = echo("ws").await;
    let proxy =
        start_proxy(|port| config(port, vec![route("r", vec![service("ws", 1, &[backend.addr])])])).await;
    let mut client = H1Client::connect(proxy.port).await;
    let mut req = request("GET", "ws.example", "/chat");
    let h = req.headers_mut();
    h.insert("connection", "Upgrade".parse().unwrap());
    h.insert("upgrade", "websocket".parse().unwrap());
    h.insert("sec-websocket-version", "13".parse().unwrap());
    h.insert("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap());
    let resp = client.send_raw(req).await;
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(resp.headers()["upgrade"], "websocket");
    let upgraded = bounded("upgrade", hyper::upgrade::on(resp)).await.unwrap();
    let mut io = TokioIo::new(upgraded);
    for message in [&b"hello through the tunnel"[..], &b"second frame"[..]] {
        io.write_all(message).await.unwrap();
        let mut buf = vec![0u8; message.len()];
        bounded("echoed bytes", io.read_exact(&mut buf)).await.unwrap();
        assert_eq!(buf, message);
    }
}

#[tokio::test]
async fn h2c_client_to_http1_backend() {
    let backend = echo("h1").await;
    let proxy =
        start_proxy(|port| config(port, vec![route("r", vec![service("h1", 1, &[backend.addr])])])).await;
    let mut client = h2_client(proxy.port).await;
    for i in 0..3 {
        let req = Request::builder()
            .uri(format!("http://h2.example/items?n={i}"))
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .body(Full::new(Bytes::new()))
            .unwrap();
        bounded("ready", client.ready()).await.unwrap();
        let resp = read(bounded("response", client.send_request(req)).await.unwrap()).await;
        assert_eq!(resp.status, StatusCode::OK);
        let json = resp.json();
        assert_eq!(json["protocol"], "HTTP/1.1");
        assert_eq!(json["host"], "h2.example", ":authority becomes Host");
        assert_eq!(json["path"], "/items");
        assert_eq!(json["query"], format!("n={i}"));
        assert_eq!(json["headers"]["cookie"], "a=1; b=2");
    }
}

#[tokio::test]
async fn h2c_client_to_h2c_backend() {
    let backend = echo("h2").await;
    let proxy = start_proxy(|port| {
        config(
            port,
            vec![route("r", vec![h2c_service("h2", 1, &[backend.addr])])],
        )
    })
    .await;
    let mut client = h2_client(proxy.port).await;
    let req = Request::builder()
        .uri("http://grpc.example/svc/Method")
        .method("POST")
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let resp = read(bounded("response", client.send_request(req)).await.unwrap()).await;
    assert_eq!(resp.status, StatusCode::OK);
    let json = resp.json();
    assert_eq!(json["protocol"], "HTTP/2.0");
    assert_eq!(json["host"], "grpc.example");
    assert_eq!(json["body_bytes"], 7);
}

#[tokio::test]
async fn http1_client_to_h2c_backend() {
    let backend = echo("h2").await;
    let proxy = start_proxy(|port| {
        config(
            port,
            vec![route("r", vec![h2c_service("h2", 1, &[backend.addr])])],
        )
    })
    .await;
    let mut client = H1Client::connect(proxy.port).await;
    for _ in 0..3 {
        let json = client.get("app.example:8080", "/x").await.json();
        assert_eq!(json["protocol"], "HTTP/2.0");
        assert_eq!(json["host"], "app.example:8080");
        assert_eq!(json["path"], "/x");
    }
}

/// A request body fed chunk by chunk from a channel.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

/// A backend that streams the request body straight back as the response body.
async fn stream_echo() -> TestBackend {
    serve_fn(|req: Request<Incoming>| async move { Response::new(req.into_body()) }).await
}

/// Each chunk must come back before the next one is sent: neither direction may buffer the body
/// whole (if one did, the first read would never complete and the test would time out).
async fn round_trip_chunks(port: u16, h2: bool) {
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    let req = if h2 {
        Request::builder().method("POST").uri("http://stream.example/up")
    } else {
        Request::builder()
            .method("POST")
            .uri("/up")
            .header("host", "stream.example")
    };
    let req = req.body(ChannelBody(rx)).unwrap();
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let resp = if h2 {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let pending = tokio::spawn(async move { sender.send_request(req).await });
        tx.send(Bytes::from_static(b"chunk-0")).await.unwrap();
        bounded("response headers", pending).await.unwrap().unwrap()
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let pending = tokio::spawn(async move { sender.send_request(req).await });
        tx.send(Bytes::from_static(b"chunk-0")).await.unwrap();
        bounded("response headers", pending).await.unwrap().unwrap()
    };
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    for i in 0..5 {
        let expected = format!("chunk-{i}");
        let mut got = Vec::new();
        while got.len() < expected.len() {
            let frame = bounded("echoed chunk", body.frame())
                .await
                .expect("body ended early")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                got.extend_from_slice(&data);
            }
        }
        assert_eq!(String::from_utf8_lossy(&got), expected);
        if i < 4 {
            tx.send(Bytes::from(format!("chunk-{}", i + 1))).await.unwrap();
        }
    }
    drop(tx);
    let rest = bounded("end of body", body.collect()).await.unwrap().to_bytes();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn bodies_stream_both_ways_over_http1() {
    let backend = stream_echo().await;
    let proxy =
        start_proxy(|port| config(port, vec![route("r", vec![service("s", 1, &[backend.addr])])])).await;
    round_trip_chunks(proxy.port, false).await;
}

#[tokio::test]
async fn bodies_stream_both_ways_from_h2c_client_to_h2c_backend() {
    let backend = stream_echo().await;
    let proxy =
        start_proxy(|port| config(port, vec![route("r", vec![h2c_service("s", 1, &[backend.addr])])])).await;
    round_trip_chunks(proxy.port, true).await;
}

/// The backend's view of the proxy's address for each of `n` sequential requests.
async fn upstream_sources(port: u16, n: usize) -> std::collections::BTreeSet<String> {
    let mut client = H1Client::connect(port).await;
    let mut remotes = std::collections::BTreeSet::new();
    for _ in 0..n {
        let json = client.get("pool.example", "/").await.json();
        remotes.insert(json["remote"].as_str().unwrap().to_owned());
    }
    remotes
}

#[tokio::test]
async fn http1_upstream_connections_are_kept_alive_and_reused() {
    let backend = echo("pooled").await;
    let proxy =
        start_proxy(|port| config(port, vec![route("r", vec![service("p", 1, &[backend.addr])])])).await;
    let remotes = upstream_sources(proxy.port, 20).await;
    // A connection goes back to the pool once its response is done; the next request may race
    // that, but over 20 sequential requests most must reuse one.
    assert!(
        remotes.len() < 10,
        "{} upstream connections for 20 requests",
        remotes.len()
    );
}

#[tokio::test]
async fn h2c_upstream_shares_one_connection() {
    let backend = echo("pooled").await;
    let proxy =
        start_proxy(|port| config(port, vec![route("r", vec![h2c_service("p", 1, &[backend.addr])])])).await;
    let remotes = upstream_sources(proxy.port, 10).await;
    assert_eq!(remotes.len(), 1, "{remotes:?}");
}
