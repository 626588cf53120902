//! What the backend sees of the client's headers: X-Forwarded-*, Host, and no hop-by-hop headers.

mod support;

use support::*;

async fn proxy_to_echo() -> (TestProxy, TestBackend) {
    let backend = echo("hdr").await;
    let addr = backend.addr;
    let proxy = start_proxy(|port| config(port, vec![route("r", vec![service("hdr", 1, &[addr])])])).await;
    (proxy, backend)
}

#[tokio::test]
async fn x_forwarded_for_is_appended_to_existing_values() {
    let (proxy, _backend) = proxy_to_echo().await;
    let mut req = request("GET", "app.example", "/");
    req.headers_mut()
        .insert("x-forwarded-for", "203.0.113.7, 198.51.100.2".parse().unwrap());
    let json = H1Client::connect(proxy.port).await.send(req).await.json();
    assert_eq!(
        json["headers"]["x-forwarded-for"],
        "203.0.113.7, 198.51.100.2, 127.0.0.1"
    );

    let json = get(proxy.port, "app.example", "/").await.json();
    assert_eq!(json["headers"]["x-forwarded-for"], "127.0.0.1");
}

#[tokio::test]
async fn x_forwarded_proto_and_host_and_the_client_host_are_passed() {
    let (proxy, _backend) = proxy_to_echo().await;
    let mut req = request("GET", "App.Example:8443", "/");
    req.headers_mut()
        .insert("x-forwarded-proto", "https".parse().unwrap());
    req.headers_mut()
        .insert("x-forwarded-host", "spoofed.example".parse().unwrap());
    let json = H1Client::connect(proxy.port).await.send(req).await.json();
    assert_eq!(json["headers"]["x-forwarded-proto"], "http");
    assert_eq!(json["headers"]["x-forwarded-host"], "App.Example:8443");
    assert_eq!(
        json["host"], "App.Example:8443",
        "Host is kept as the client sent it"
    );
}

#[tokio::test]
async fn hop_by_hop_headers_are_not_forwarded() {
    let (proxy, _backend) = proxy_to_echo().await;
    let mut req = request("GET", "app.example", "/");
    let h = req.headers_mut();
    h.insert("connection", "keep-alive, x-hop-custom".parse().unwrap());
    h.insert("x-hop-custom", "1".parse().unwrap());
    h.insert("keep-alive", "timeout=5".parse().unwrap());
    h.insert("proxy-connection", "keep-alive".parse().unwrap());
    h.insert("te", "gzip".parse().unwrap());
    h.insert("trailer", "x-checksum".parse().unwrap());
    h.insert("upgrade", "h2c".parse().unwrap());
    h.insert("x-end-to-end", "kept".parse().unwrap());
    let json = H1Client::connect(proxy.port).await.send(req).await.json();
    let seen = json["headers"].as_object().unwrap();
    for name in [
        "connection",
        "x-hop-custom",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    ] {
        assert!(!seen.contains_key(name), "{name} was forwarded: {seen:?}");
    }
    assert_eq!(seen["x-end-to-end"], "kept");
}
