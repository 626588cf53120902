//! What the backend sees of a proxied request (X-Forwarded-*, Host, hop-by-hop headers), and the
//! protocols clients use: WebSocket upgrades and HTTP/2 cleartext.

mod support;

use serde_json::json;
use support::manifests::{backend, gateway_setup, http_route, ingress, ingress_rule, rule, to, yaml};
use support::{free_port, h2c_get, request, Echo, Fairlead, Scenario};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn forwarded_headers_are_set_and_host_is_kept() {
    let s = Scenario::start(
        &["echo-a"],
        vec![http_route(
            "fwd",
            &["fwd.example.com"],
            vec![rule(json!(null), vec![to("echo-a")])],
        )],
    )
    .await;

    let req = request(http::Method::GET, s.port, "fwd.example.com", "/who")
        .header("x-forwarded-for", "203.0.113.7")
        // `Connection` names the hop-by-hop headers of this hop; none of them may reach the backend.
        .header("connection", "x-hop-secret")
        .header("x-hop-secret", "do not forward")
        .header("keep-alive", "timeout=5")
        .header("x-end-to-end", "keep me")
        .body(Default::default())
        .expect("valid request");
    let reply = s.http.send(req).await;
    assert_eq!(reply.echo_name(), "echo-a");
    let seen = reply.json();

    let xff: Vec<String> = reply
        .echoed_header("x-forwarded-for")
        .iter()
        .flat_map(|v| v.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>())
        .collect();
    assert_eq!(
        xff,
        ["203.0.113.7", "127.0.0.1"],
        "the client address is appended to the incoming list"
    );
    assert_eq!(reply.echoed_header("x-forwarded-proto"), ["http"]);
    assert_eq!(reply.echoed_header("x-forwarded-host"), ["fwd.example.com"]);
    assert_eq!(seen["host"], "fwd.example.com", "the Host header is kept");
    assert_eq!(reply.echoed_header("x-end-to-end"), ["keep me"]);
    for hop in ["x-hop-secret", "keep-alive"] {
        assert!(
            reply.echoed_header(hop).is_empty(),
            "hop-by-hop header {hop} was forwarded: {seen}"
        );
    }
}

#[tokio::test]
async fn websocket_upgrade_is_tunnelled() {
    let s = Scenario::start(
        &["echo-a"],
        vec![http_route(
            "ws",
            &["ws.example.com"],
            vec![rule(json!(null), vec![to("echo-a")])],
        )],
    )
    .await;

    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", s.port))
            .await
            .expect("connect");
        stream
            .write_all(
                b"GET /chat HTTP/1.1\r\nHost: ws.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                  Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            )
            .await
            .expect("send upgrade request");

        // Read the response head; nothing else can arrive before we send data.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert!(
                head.len() < 16 * 1024,
                "response head too long: {}",
                String::from_utf8_lossy(&head)
            );
            let n = stream.read(&mut byte).await.expect("read response head");
            assert_eq!(
                n,
                1,
                "connection closed in the response head: {}",
                String::from_utf8_lossy(&head)
            );
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        assert!(
            head.starts_with("HTTP/1.1 101"),
            "expected 101 Switching Protocols, got: {head}"
        );
        assert!(head.to_ascii_lowercase().contains("upgrade: websocket"), "{head}");

        // Raw bytes through the tunnel, in two round trips.
        for payload in [&b"\x81\x05hello"[..], &[0u8, 1, 2, 254, 255][..]] {
            stream.write_all(payload).await.expect("write through the tunnel");
            let mut echoed = vec![0u8; payload.len()];
            stream.read_exact(&mut echoed).await.expect("read echoed bytes");
            assert_eq!(echoed, payload);
        }
    };
    tokio::time::timeout(support::WAIT_AT_MOST, exchange)
        .await
        .expect("WebSocket exchange timed out");
}

#[tokio::test]
async fn h2c_clients_are_served_on_every_listener() {
    let echo = Echo::start("echo-a").await;
    let gateway_port = free_port();
    let route = http_route(
        "h2",
        &["h2.example.com"],
        vec![rule(json!(null), vec![to("echo-a")])],
    );
    let legacy = ingress(
        "legacy",
        json!([ingress_rule(
            Some("legacy.example.com"),
            &[("/", "Prefix", "echo-a")]
        )]),
    );
    let files = [
        ("00-gateway.yaml", yaml(&gateway_setup(gateway_port))),
        ("10-backends.yaml", yaml(&backend(&echo))),
        ("20-routes.yaml", yaml(&[route, legacy])),
    ];
    let fl = Fairlead::start(&files).await;

    for (port, host) in [
        (gateway_port, "h2.example.com"),
        (fl.http_port, "legacy.example.com"),
    ] {
        let reply = h2c_get(port, host, "/over-h2?x=1").await;
        assert_eq!(reply.version, http::Version::HTTP_2);
        assert_eq!(reply.echo_name(), "echo-a", "port {port}");
        let seen = reply.json();
        assert_eq!(seen["path"], "/over-h2");
        assert_eq!(seen["query"], "x=1");
        assert_eq!(
            seen["host"], host,
            "the backend sees the client's authority as Host"
        );
    }
    // And a host nobody serves is still a 404 over h2.
    assert_eq!(h2c_get(gateway_port, "nobody.example.com", "/").await.status, 404);
}
