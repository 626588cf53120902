//! TLS to backends (BackendTLSPolicy): the backend's certificate verified against the policy's
//! CA and names, h2 by ALPN, failures as 502, and pools that never mix plain and TLS
//! connections. Real TLS backends on 127.0.0.1.

mod support;
mod tls_support;

use fairlead_route::{Backend, BackendTarget, ServiceBackend, TlsMaterial, UpstreamProtocol, UpstreamTls};
use http::{StatusCode, Version};
use support::*;
use tls_support::*;

const BACKEND_CA: &str = "configmap/default/backend-ca";

fn tls_backend(addr: std::net::SocketAddr, protocol: UpstreamProtocol, tls: UpstreamTls) -> Backend {
    Backend {
        weight: 1,
        target: BackendTarget::Service(ServiceBackend {
            name: "default/secure:443".into(),
            protocol,
            endpoints: vec![addr],
            tls: Some(tls),
        }),
        filters: Vec::new(),
    }
}

fn upstream_tls(server_name: &str, sans: &[&str]) -> UpstreamTls {
    UpstreamTls {
        server_name: server_name.into(),
        ca: vec![BACKEND_CA.into()],
        subject_alt_names: sans.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[tokio::test]
async fn backend_tls_verifies_the_backend_name_and_ca() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["secure.internal"], Alg::Ecdsa);
    let (addr, _stop, mut seen) = tls_recorder("secure", &leaf).await;
    let mut material = TlsMaterial::default();
    material
        .ca_bundles
        .insert(BACKEND_CA.into(), ca.pem.clone().into_bytes());
    let make = |port: u16, tls: UpstreamTls, protocol| {
        config(port, vec![route("r", vec![tls_backend(addr, protocol, tls)])])
    };
    let proxy = start_tls_proxy(
        |port| {
            make(
                port,
                upstream_tls("secure.internal", &[]),
                UpstreamProtocol::Http1,
            )
        },
        &material,
    )
    .await;

    let resp = get(proxy.port, "app.example", "/").await;
    assert_eq!((resp.status, resp.text().as_str()), (StatusCode::OK, "secure"));
    let (req, sni) = next_seen(&mut seen, "request at the TLS backend").await;
    assert_eq!(sni.as_deref(), Some("secure.internal"));
    assert_eq!(req.version, Version::HTTP_11);

    // h2 over TLS, negotiated by ALPN.
    proxy.proxy.apply(
        &make(
            proxy.port,
            upstream_tls("secure.internal", &[]),
            UpstreamProtocol::H2c,
        ),
        &material,
    );
    let resp = get(proxy.port, "app.example", "/").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let (req, _) = next_seen(&mut seen, "h2 request at the TLS backend").await;
    assert_eq!(req.version, Version::HTTP_2);
    assert_eq!(req.headers["x-seen-scheme"], "https");

    // subjectAltNames replace the hostname for verification; the hostname stays the SNI.
    proxy.proxy.apply(
        &make(
            proxy.port,
            upstream_tls("sni-only.internal", &["secure.internal"]),
            UpstreamProtocol::Http1,
        ),
        &material,
    );
    let resp = get(proxy.port, "app.example", "/").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let (_, sni) = next_seen(&mut seen, "request verified by SAN").await;
    assert_eq!(sni.as_deref(), Some("sni-only.internal"));
}

#[tokio::test]
async fn a_backend_certificate_that_does_not_verify_is_a_502() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["secure.internal"], Alg::Ecdsa);
    let (addr, _stop, mut seen) = tls_recorder("secure", &leaf).await;
    let mut material = TlsMaterial::default();
    material
        .ca_bundles
        .insert(BACKEND_CA.into(), ca.pem.clone().into_bytes());
    let make = |port: u16, tls: UpstreamTls| {
        config(
            port,
            vec![route("r", vec![tls_backend(addr, UpstreamProtocol::Http1, tls)])],
        )
    };
    let proxy = start_tls_proxy(|port| make(port, upstream_tls("wrong.internal", &[])), &material).await;
    let resp = get(proxy.port, "app.example", "/").await;
    assert_eq!(resp.status, StatusCode::BAD_GATEWAY, "{}", resp.text());
    let failures = r#"fairlead_upstream_connect_failures_total{backend="default/secure:443"}"#;
    assert_eq!(metric(&proxy, failures), 1);

    // A SAN list without the certificate's name fails the same way.
    proxy.proxy.apply(
        &make(proxy.port, upstream_tls("secure.internal", &["other.internal"])),
        &material,
    );
    assert_eq!(
        get(proxy.port, "app.example", "/").await.status,
        StatusCode::BAD_GATEWAY
    );

    // Roots that did not sign the certificate.
    let mut other = TlsMaterial::default();
    other
        .ca_bundles
        .insert(BACKEND_CA.into(), TestCa::new(Alg::Ecdsa).pem.into_bytes());
    proxy
        .proxy
        .apply(&make(proxy.port, upstream_tls("secure.internal", &[])), &other);
    assert_eq!(
        get(proxy.port, "app.example", "/").await.status,
        StatusCode::BAD_GATEWAY
    );

    // A missing CA bundle: no connection is attempted, still a 5xx.
    proxy.proxy.apply(
        &make(proxy.port, upstream_tls("secure.internal", &[])),
        &TlsMaterial::default(),
    );
    assert_eq!(
        get(proxy.port, "app.example", "/").await.status,
        StatusCode::BAD_GATEWAY
    );
    assert!(seen.try_recv().is_err(), "no request reached the backend");

    // Back to roots that signed it.
    proxy
        .proxy
        .apply(&make(proxy.port, upstream_tls("secure.internal", &[])), &material);
    assert_eq!(get(proxy.port, "app.example", "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn plain_and_tls_connections_to_one_address_never_mix() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["secure.internal"], Alg::Ecdsa);
    let (addr, _stop, _seen) = tls_recorder("secure", &leaf).await;
    let mut material = TlsMaterial::default();
    material
        .ca_bundles
        .insert(BACKEND_CA.into(), ca.pem.clone().into_bytes());
    let with_tls = |port: u16| {
        config(
            port,
            vec![route(
                "r",
                vec![tls_backend(
                    addr,
                    UpstreamProtocol::Http1,
                    upstream_tls("secure.internal", &[]),
                )],
            )],
        )
    };
    let proxy = start_tls_proxy(with_tls, &material).await;
    // Leaves an idle TLS connection in the pool.
    assert_eq!(get(proxy.port, "app.example", "/").await.status, StatusCode::OK);
    // The same endpoint without TLS must open a cleartext connection, which the TLS backend
    // cannot answer, instead of borrowing the idle TLS one.
    let mut plain = with_tls(proxy.port);
    plain.version = 2;
    if let BackendTarget::Service(svc) = &mut plain.listeners[0].routes[0].backends[0].target {
        svc.tls = None;
    }
    proxy.proxy.apply(&plain, &material);
    assert_eq!(
        get(proxy.port, "app.example", "/").await.status,
        StatusCode::BAD_GATEWAY
    );
}
