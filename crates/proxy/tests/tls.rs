//! TLS termination on HTTPS ports: certificate choice by SNI, refusals (counted), 421 for another
//! listener's host, ALPN, hot swap, minimum version and the expiry metric, through real
//! handshakes on 127.0.0.1. TLS to backends is in `backend_tls.rs`.

mod support;
mod tls_support;

use bytes::Bytes;
use fairlead_route::{Config, TlsMaterial};
use http::{Request, StatusCode, Version};
use http_body_util::Full;
use support::*;
use tls_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const A: &str = "secret/default/a";
const WILD: &str = "secret/default/wild";
const DEFAULT: &str = "secret/default/default";

/// Certificates for three HTTPS listeners on one port: `a.example` exactly, `*.example`, and
/// one without hostname (the port's default).
struct Certs {
    a: Leaf,
    wild: Leaf,
    default: Leaf,
}

fn certs(ca: &TestCa) -> Certs {
    Certs {
        a: ca.leaf(&["a.example"], Alg::Ecdsa),
        wild: ca.leaf(&["*.example"], Alg::Ecdsa),
        default: ca.leaf(&["default.test"], Alg::Ecdsa),
    }
}

fn three_listeners(port: u16, backend: std::net::SocketAddr) -> Config {
    let r = |id: &str| route(id, vec![service(id, 1, &[backend])]);
    Config {
        version: 1,
        listeners: vec![
            https("gw/a", port, Some("a.example"), &[A], vec![r("route-a")]),
            https("gw/wild", port, Some("*.example"), &[WILD], vec![r("route-wild")]),
            https("gw/default", port, None, &[DEFAULT], vec![r("route-default")]),
        ],
    }
}

fn get_req(host: &str) -> Request<Full<Bytes>> {
    request("GET", host, "/")
}

#[tokio::test]
async fn sni_picks_exact_then_wildcard_then_default_certificate() {
    let ca = TestCa::new(Alg::Ecdsa);
    let c = certs(&ca);
    let (backend, mut seen) = recorder("b").await;
    let material = material(&[(A, &c.a), (WILD, &c.wild), (DEFAULT, &c.default)]);
    let proxy = start_tls_proxy(|port| three_listeners(port, backend.addr), &material).await;

    let cases = [
        (Client::sni("a.example"), &c.a, "a.example"),
        (Client::sni("b.example"), &c.wild, "b.example"),
        (Client::sni("deep.b.example"), &c.wild, "deep.b.example"),
        (Client::sni("other.test"), &c.default, "other.test"),
        (Client::no_sni(), &c.default, "other.test"),
    ];
    for (client, want, host) in cases {
        let stream = client.connect(proxy.port).await.unwrap();
        assert_eq!(served(&stream), want.der, "SNI {:?}", client.sni);
        let resp = read(
            bounded("response", h1_over(stream).await.send_request(get_req(host)))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            resp.status,
            StatusCode::OK,
            "SNI {:?}: {}",
            client.sni,
            resp.text()
        );
        let req = next_seen(&mut seen, "request at the backend").await;
        assert_eq!(req.headers["x-forwarded-proto"], "https");
    }
}

#[tokio::test]
async fn the_served_chain_verifies_against_its_ca() {
    let ca = TestCa::new(Alg::Ecdsa);
    let c = certs(&ca);
    let backend = echo("b").await;
    let material = material(&[(A, &c.a), (WILD, &c.wild), (DEFAULT, &c.default)]);
    let proxy = start_tls_proxy(|port| three_listeners(port, backend.addr), &material).await;
    let verifying = Client {
        ca: Some(ca.pem.clone()),
        ..Client::sni("a.example")
    };
    verifying.connect(proxy.port).await.unwrap();
    let other_ca = TestCa::new(Alg::Ecdsa);
    let wrong_roots = Client {
        ca: Some(other_ca.pem.clone()),
        ..Client::sni("a.example")
    };
    assert!(wrong_roots.connect(proxy.port).await.is_err());
}

#[tokio::test]
async fn an_unknown_sni_without_a_default_listener_is_refused_and_counted() {
    let ca = TestCa::new(Alg::Ecdsa);
    let a = ca.leaf(&["a.example"], Alg::Ecdsa);
    let backend = echo("b").await;
    let proxy = start_tls_proxy(
        |port| Config {
            version: 1,
            listeners: vec![https(
                "gw/a",
                port,
                Some("a.example"),
                &[A],
                vec![route("r", vec![service("b", 1, &[backend.addr])])],
            )],
        },
        &material(&[(A, &a)]),
    )
    .await;
    assert!(Client::sni("b.example").connect(proxy.port).await.is_err());
    let series = format!(
        "fairlead_tls_handshake_errors_total{{port=\"{}\",reason=\"unknown_sni\"}}",
        proxy.port
    );
    wait_for_metric(&proxy, &series, 1).await;
    // The known name still works.
    Client::sni("a.example").connect(proxy.port).await.unwrap();
    assert_eq!(metric(&proxy, &series), 1);
}

#[tokio::test]
async fn a_host_of_another_https_listener_is_misdirected() {
    let ca = TestCa::new(Alg::Ecdsa);
    let c = certs(&ca);
    let backend = echo("b").await;
    let material = material(&[(A, &c.a), (WILD, &c.wild), (DEFAULT, &c.default)]);
    let proxy = start_tls_proxy(|port| three_listeners(port, backend.addr), &material).await;

    let mut h1 = h1_over(Client::sni("a.example").connect(proxy.port).await.unwrap()).await;
    for (host, want) in [
        ("b.example", StatusCode::MISDIRECTED_REQUEST),
        ("a.example", StatusCode::OK),
        ("elsewhere.test", StatusCode::MISDIRECTED_REQUEST),
    ] {
        bounded("ready", h1.ready()).await.unwrap();
        let resp = read(bounded("response", h1.send_request(get_req(host))).await.unwrap()).await;
        assert_eq!(resp.status, want, "Host {host} on a connection for a.example");
    }

    // HTTP/2 connection reuse for another listener's host is the case 421 exists for.
    let stream = Client {
        alpn: &[b"h2"],
        ..Client::sni("b.example")
    }
    .connect(proxy.port)
    .await
    .unwrap();
    let mut h2 = h2_over(stream).await;
    let req = |authority: &str| {
        Request::builder()
            .uri(format!("https://{authority}/"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let resp = read(
        bounded("response", h2.send_request(req("c.example")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK, "same wildcard listener");
    let resp = read(
        bounded("response", h2.send_request(req("a.example")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status, StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn alpn_chooses_http2_or_http11() {
    let ca = TestCa::new(Alg::Ecdsa);
    let c = certs(&ca);
    let (backend, mut seen) = recorder("b").await;
    let material = material(&[(A, &c.a), (WILD, &c.wild), (DEFAULT, &c.default)]);
    let proxy = start_tls_proxy(|port| three_listeners(port, backend.addr), &material).await;

    let h2_client = Client {
        alpn: &[b"h2", b"http/1.1"],
        ..Client::sni("a.example")
    };
    let stream = h2_client.connect(proxy.port).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(b"h2".as_slice()));
    let mut h2 = h2_over(stream).await;
    let req = Request::builder()
        .uri("https://a.example/")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = read(bounded("response", h2.send_request(req)).await.unwrap()).await;
    assert_eq!(
        (resp.status, resp.body.as_ref()),
        (StatusCode::OK, b"b".as_slice())
    );
    let req = next_seen(&mut seen, "h2 request at the backend").await;
    assert_eq!(req.headers["x-forwarded-proto"], "https");

    let stream = Client::sni("a.example").connect(proxy.port).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(b"http/1.1".as_slice()));
    let resp = h1_over(stream).await.send_request(get_req("a.example"));
    let resp = bounded("response", resp).await.unwrap();
    assert_eq!(resp.version(), Version::HTTP_11);
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn cleartext_http_on_a_tls_port_gets_no_http_answer() {
    let ca = TestCa::new(Alg::Ecdsa);
    let c = certs(&ca);
    let backend = echo("b").await;
    let material = material(&[(A, &c.a), (WILD, &c.wild), (DEFAULT, &c.default)]);
    let proxy = start_tls_proxy(|port| three_listeners(port, backend.addr), &material).await;
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port))
        .await
        .unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nhost: a.example\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = bounded("close", tcp.read_to_end(&mut answer)).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    let series = format!(
        "fairlead_tls_handshake_errors_total{{port=\"{}\",reason=\"other\"}}",
        proxy.port
    );
    wait_for_metric(&proxy, &series, 1).await;
}

#[tokio::test]
async fn a_port_without_a_usable_certificate_refuses_handshakes() {
    let backend = echo("b").await;
    let proxy = start_tls_proxy(
        |port| Config {
            version: 1,
            listeners: vec![https(
                "gw/a",
                port,
                None,
                &[A],
                vec![route("r", vec![service("b", 1, &[backend.addr])])],
            )],
        },
        &TlsMaterial::default(),
    )
    .await;
    // Applied again to read the report (start_tls_proxy only checks binding).
    let config = Config {
        version: 2,
        listeners: vec![https("gw/a", proxy.port, None, &[A], Vec::new())],
    };
    let problems = proxy.proxy.apply(&config, &TlsMaterial::default()).tls_problems;
    assert!(
        problems.iter().any(|p| p.id == A && !p.kept_previous),
        "{problems:?}"
    );
    assert!(Client::sni("a.example").connect(proxy.port).await.is_err());
    let series = format!(
        "fairlead_tls_handshake_errors_total{{port=\"{}\",reason=\"no_certificate\"}}",
        proxy.port
    );
    wait_for_metric(&proxy, &series, 1).await;
}

#[tokio::test]
async fn a_new_certificate_serves_new_connections_while_open_ones_keep_working() {
    let ca = TestCa::new(Alg::Ecdsa);
    let old = ca.leaf(&["a.example"], Alg::Ecdsa);
    let new = ca.leaf(&["a.example"], Alg::Ecdsa);
    let backend = echo("b").await;
    let make = |port: u16, version: u64| Config {
        version,
        listeners: vec![https(
            "gw/a",
            port,
            None,
            &[A],
            vec![route("r", vec![service("b", 1, &[backend.addr])])],
        )],
    };
    let proxy = start_tls_proxy(|port| make(port, 1), &material(&[(A, &old)])).await;
    let before = Client::sni("a.example").connect(proxy.port).await.unwrap();
    assert_eq!(served(&before), old.der);
    let mut open = h1_over(before).await;

    let report = proxy.proxy.apply(&make(proxy.port, 2), &material(&[(A, &new)]));
    assert!(report.tls_problems.is_empty(), "{:?}", report.tls_problems);
    let after = Client::sni("a.example").connect(proxy.port).await.unwrap();
    assert_eq!(
        served(&after),
        new.der,
        "a new connection gets the new certificate"
    );
    let resp = read(
        bounded("response", open.send_request(get_req("a.example")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        resp.status,
        StatusCode::OK,
        "the connection opened before still works"
    );

    // Bad new material keeps the last good certificate.
    let mut broken = material(&[(A, &new)]);
    broken.certificates.get_mut(A).unwrap().key = b"not a key".to_vec();
    let report = proxy.proxy.apply(&make(proxy.port, 3), &broken);
    assert!(
        report.tls_problems.iter().any(|p| p.id == A && p.kept_previous),
        "{:?}",
        report.tls_problems
    );
    let still = Client::sni("a.example").connect(proxy.port).await.unwrap();
    assert_eq!(served(&still), new.der);
}

#[tokio::test]
async fn certificate_expiry_is_exported_in_seconds() {
    let ca = TestCa::new(Alg::Ecdsa);
    let a = ca.leaf_with(dns_params_for_days(&["a.example"], 10), Alg::Ecdsa);
    let backend = echo("b").await;
    let proxy = start_tls_proxy(
        |port| Config {
            version: 1,
            listeners: vec![https(
                "gw/a",
                port,
                None,
                &[A],
                vec![route("r", vec![service("b", 1, &[backend.addr])])],
            )],
        },
        &material(&[(A, &a)]),
    )
    .await;
    let prefix = format!("fairlead_tls_certificate_expiry_seconds{{certificate=\"{A}\"}} ");
    let text = proxy.metrics();
    let value: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no expiry series:\n{text}"))
        .trim()
        .parse()
        .unwrap();
    let expected = a.not_after_unix - unix_now();
    // Scrape and this computation are moments apart; a minute is far more than that.
    assert!((value - expected).abs() < 60, "{value} vs {expected}");
    assert!(value > 9 * 86_400, "{value}");
}

#[tokio::test]
async fn tls_min_version_1_3_refuses_tls_1_2_clients() {
    let ca = TestCa::new(Alg::Ecdsa);
    let a = ca.leaf(&["a.example"], Alg::Ecdsa);
    let backend = echo("b").await;
    let opts = fairlead_proxy::ProxyOptions {
        tls_min_version: fairlead_proxy::TlsVersion::Tls13,
        ..options()
    };
    let proxy = start_tls_proxy_with(
        opts,
        |port| Config {
            version: 1,
            listeners: vec![https(
                "gw/a",
                port,
                None,
                &[A],
                vec![route("r", vec![service("b", 1, &[backend.addr])])],
            )],
        },
        &material(&[(A, &a)]),
    )
    .await;
    let old_client = Client {
        tls12_only: true,
        ..Client::sni("a.example")
    };
    assert!(old_client.connect(proxy.port).await.is_err());
    let stream = Client::sni("a.example").connect(proxy.port).await.unwrap();
    assert_eq!(
        stream.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
}

#[tokio::test]
async fn with_a_client_ca_only_clients_with_a_certificate_it_signed_are_served() {
    const CLIENT_CA: &str = "configmap/default/client-ca";
    let ca = TestCa::new(Alg::Ecdsa);
    let server = ca.leaf(&["a.example"], Alg::Ecdsa);
    let clients = TestCa::new(Alg::Ecdsa);
    let backend = echo("b").await;
    let mut material = material(&[(A, &server)]);
    material
        .ca_bundles
        .insert(CLIENT_CA.into(), clients.pem.clone().into_bytes());
    let proxy = start_tls_proxy(
        |port| {
            let mut listener = https(
                "gw/a",
                port,
                None,
                &[A],
                vec![route("r", vec![service("b", 1, &[backend.addr])])],
            );
            if let Some(tls) = &mut listener.tls {
                tls.client_ca = vec![CLIENT_CA.into()];
            }
            Config {
                version: 1,
                listeners: vec![listener],
            }
        },
        &material,
    )
    .await;

    let signed = Client {
        client_cert: Some(clients.leaf(&["client.example"], Alg::Ecdsa)),
        ..Client::sni("a.example")
    };
    let stream = signed.connect(proxy.port).await.unwrap();
    let resp = h1_over(stream).await.send_request(get_req("a.example"));
    assert_eq!(bounded("response", resp).await.unwrap().status(), StatusCode::OK);

    // Without a certificate, or with one from another CA, no request is answered. With TLS 1.3
    // the client may finish its side of the handshake before the server refuses, so the refusal
    // can show on the first request instead.
    let unsigned = Client {
        client_cert: Some(TestCa::new(Alg::Ecdsa).leaf(&["client.example"], Alg::Ecdsa)),
        ..Client::sni("a.example")
    };
    for client in [Client::sni("a.example"), unsigned] {
        let answered = match client.connect(proxy.port).await {
            Err(_) => false,
            Ok(stream) => {
                let (mut sender, conn) =
                    match hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await {
                        Ok(pair) => pair,
                        Err(_) => continue,
                    };
                tokio::spawn(conn);
                bounded("response", sender.send_request(get_req("a.example")))
                    .await
                    .is_ok()
            }
        };
        assert!(!answered, "a client without a valid certificate was served");
    }
    let series = format!(
        "fairlead_tls_handshake_errors_total{{port=\"{}\",reason=\"client_certificate\"}}",
        proxy.port
    );
    wait_for_metric(&proxy, &series, 2).await;
}
