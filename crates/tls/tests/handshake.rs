//! Server config behaviour through real handshakes: ALPN, the minimum TLS version, and
//! frontend mTLS (client certificates checked against the listeners' CA bundles).

mod support;

use fairlead_route::TlsMaterial;
use fairlead_tls::{CertificateError, TlsOptions, TlsProblem, TlsStore, TlsVersion};
use support::*;

const PORT: u16 = 443;
const CERT: &str = "secret/ns/web";
const CLIENT_CA: &str = "configmap/ns/clients";

fn web_material() -> (TestCa, TlsMaterial) {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["web.example.com"], Alg::Ecdsa);
    (ca, material(&[(CERT, &leaf)]))
}

/// Protocols the client offers, and the one expected to be negotiated.
type AlpnCase = (&'static [&'static [u8]], Option<&'static [u8]>);

#[tokio::test]
async fn alpn_offers_h2_then_http11() {
    let (_ca, material) = web_material();
    let config = config(vec![https("gw/web", PORT, None, &[CERT], &[])]);
    let (store, _) = TlsStore::build(&config, &material, None, &TlsOptions::default(), now());
    let mut server = TestServer::start(store.server_config(PORT).unwrap()).await;
    let cases: [AlpnCase; 4] = [
        (&[b"h2", b"http/1.1"], Some(b"h2")),
        (&[b"http/1.1", b"h2"], Some(b"h2")),
        (&[b"http/1.1"], Some(b"http/1.1")),
        (&[], None),
    ];
    for (offered, expected) in cases {
        let client = ClientSpec {
            alpn: offered.iter().map(|p| p.to_vec()).collect(),
            ..ClientSpec::default()
        };
        let served = connect(client.build(), server.addr, "web.example.com")
            .await
            .unwrap();
        assert_eq!(served.alpn.as_deref(), expected);
        assert_eq!(served.body, b"ok");
        let ServerSide::Accepted { alpn, .. } = server.next_outcome().await else {
            panic!("refused")
        };
        assert_eq!(alpn.as_deref(), expected);
    }
    // A client that speaks neither protocol is refused rather than guessed at.
    let client = ClientSpec {
        alpn: vec![b"spdy/3".to_vec()],
        ..ClientSpec::default()
    };
    assert!(connect(client.build(), server.addr, "web.example.com")
        .await
        .is_err());
}

#[tokio::test]
async fn minimum_version_tls13_refuses_tls12_clients() {
    let (_ca, material) = web_material();
    let config = config(vec![https("gw/web", PORT, None, &[CERT], &[])]);
    for (min_version, tls12_accepted) in [(TlsVersion::Tls12, true), (TlsVersion::Tls13, false)] {
        let options = TlsOptions {
            min_version,
            ..TlsOptions::default()
        };
        let (store, _) = TlsStore::build(&config, &material, None, &options, now());
        let mut server = TestServer::start(store.server_config(PORT).unwrap()).await;
        let tls12 = ClientSpec {
            tls12_only: true,
            ..ClientSpec::default()
        };
        let result = connect(tls12.build(), server.addr, "web.example.com").await;
        assert_eq!(result.is_ok(), tls12_accepted, "{min_version:?}: {result:?}");
        server.next_outcome().await;
        let tls13 = connect(ClientSpec::default().build(), server.addr, "web.example.com").await;
        assert!(tls13.is_ok(), "{tls13:?}");
    }
}

fn mtls_store(client_ca: &TestCa, tls12_only: bool) -> (TlsStore, Vec<TlsProblem>) {
    let (_ca, mut material) = web_material();
    material
        .ca_bundles
        .insert(CLIENT_CA.into(), client_ca.pem.clone().into_bytes());
    let config = config(vec![https("gw/web", PORT, None, &[CERT], &[CLIENT_CA])]);
    let options = TlsOptions {
        min_version: if tls12_only {
            TlsVersion::Tls12
        } else {
            TlsVersion::Tls13
        },
        ..TlsOptions::default()
    };
    TlsStore::build(&config, &material, None, &options, now())
}

#[tokio::test]
async fn mtls_accepts_clients_with_a_certificate_from_the_ca() {
    let client_ca = TestCa::new(Alg::Ecdsa);
    let client = client_ca.leaf(&["client.example.com"], Alg::Ecdsa);
    let rsa_client = client_ca.leaf(&["rsa-client.example.com"], Alg::Rsa);
    let (store, problems) = mtls_store(&client_ca, false);
    assert!(problems.is_empty(), "{problems:?}");
    let mut server = TestServer::start(store.server_config(PORT).unwrap()).await;
    for leaf in [&client, &rsa_client] {
        let spec = ClientSpec {
            client_cert: Some(leaf.client_auth()),
            ..ClientSpec::default()
        };
        let served = connect(spec.build(), server.addr, "web.example.com")
            .await
            .unwrap();
        assert_eq!(served.body, b"ok");
        let ServerSide::Accepted { client_cert, .. } = server.next_outcome().await else {
            panic!("refused")
        };
        assert!(client_cert);
    }
}

#[tokio::test]
async fn mtls_refuses_clients_without_a_certificate_or_with_a_foreign_one() {
    let client_ca = TestCa::new(Alg::Ecdsa);
    let stranger_ca = TestCa::new(Alg::Ecdsa);
    let stranger = stranger_ca.leaf(&["client.example.com"], Alg::Ecdsa);
    for tls12_only in [false, true] {
        let (store, _) = mtls_store(&client_ca, tls12_only);
        let mut server = TestServer::start(store.server_config(PORT).unwrap()).await;
        let specs = [
            ClientSpec {
                tls12_only,
                ..ClientSpec::default()
            },
            ClientSpec {
                tls12_only,
                client_cert: Some(stranger.client_auth()),
                ..ClientSpec::default()
            },
        ];
        for spec in specs {
            // TLS 1.3 clients learn of the refusal on their first read; either way no answer.
            let result = connect(spec.build(), server.addr, "web.example.com").await;
            assert!(result.is_err(), "tls12_only={tls12_only}: {result:?}");
            let outcome = server.next_outcome().await;
            assert!(matches!(outcome, ServerSide::Refused(_)), "{outcome:?}");
        }
    }
}

#[tokio::test]
async fn mtls_with_no_usable_ca_bundle_does_not_serve_the_port() {
    let (_ca, mut material) = web_material();
    let config = config(vec![https("gw/web", PORT, None, &[CERT], &[CLIENT_CA])]);
    let options = TlsOptions::default();
    let (store, problems) = TlsStore::build(&config, &material, None, &options, now());
    assert_eq!(
        problems,
        vec![TlsProblem {
            id: CLIENT_CA.into(),
            error: CertificateError::Missing,
            kept_previous: false
        }]
    );
    assert!(store.server_config(PORT).is_none());

    // A bad bundle after a good one keeps the good one, so mTLS keeps working.
    let client_ca = TestCa::new(Alg::Ecdsa);
    let client = client_ca.leaf(&["client.example.com"], Alg::Ecdsa);
    material
        .ca_bundles
        .insert(CLIENT_CA.into(), client_ca.pem.clone().into_bytes());
    let (good, problems) = TlsStore::build(&config, &material, None, &options, now());
    assert!(problems.is_empty());
    material.ca_bundles.insert(CLIENT_CA.into(), b"garbage".to_vec());
    let (kept, problems) = TlsStore::build(&config, &material, Some(&good), &options, now());
    assert_eq!(
        problems,
        vec![TlsProblem {
            id: CLIENT_CA.into(),
            error: CertificateError::NoCaCertificate,
            kept_previous: true
        }]
    );
    let mut server = TestServer::start(kept.server_config(PORT).unwrap()).await;
    let spec = ClientSpec {
        client_cert: Some(client.client_auth()),
        ..ClientSpec::default()
    };
    assert!(connect(spec.build(), server.addr, "web.example.com")
        .await
        .is_ok());
    server.next_outcome().await;
    let anonymous = connect(ClientSpec::default().build(), server.addr, "web.example.com").await;
    assert!(anonymous.is_err());
}

#[tokio::test]
async fn client_ca_on_one_listener_applies_to_its_whole_port() {
    let client_ca = TestCa::new(Alg::Ecdsa);
    let (_ca, mut material) = web_material();
    material
        .ca_bundles
        .insert(CLIENT_CA.into(), client_ca.pem.clone().into_bytes());
    let config = config(vec![
        https("gw/open", PORT, Some("open.example.com"), &[CERT], &[]),
        https("gw/web", PORT, Some("web.example.com"), &[CERT], &[CLIENT_CA]),
        https("gw/other-port", PORT + 1, None, &[CERT], &[]),
    ]);
    let (store, problems) = TlsStore::build(&config, &material, None, &TlsOptions::default(), now());
    assert!(problems.is_empty());
    // One ServerConfig per port: the check cannot be per listener without a second handshake.
    let mut server = TestServer::start(store.server_config(PORT).unwrap()).await;
    assert!(
        connect(ClientSpec::default().build(), server.addr, "open.example.com")
            .await
            .is_err()
    );
    server.next_outcome().await;
    let server = TestServer::start(store.server_config(PORT + 1).unwrap()).await;
    assert!(
        connect(ClientSpec::default().build(), server.addr, "open.example.com")
            .await
            .is_ok()
    );
}
