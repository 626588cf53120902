//! Certificate selection by SNI, through real handshakes on 127.0.0.1: the listener as the
//! route table picks it (exact hostname, most specific wildcard, hostname-less listener), then
//! the certificate within it (exact SAN, wildcard SAN, the listener's first), ECDSA preferred.

mod support;

use fairlead_tls::{TlsOptions, TlsStore};
use rustls::SignatureScheme;
use support::*;

const PORT: u16 = 443;

fn build(
    config: &fairlead_route::Config,
    material: &fairlead_route::TlsMaterial,
    options: &TlsOptions,
) -> TlsStore {
    let (store, problems) = TlsStore::build(config, material, None, options, now());
    assert!(problems.is_empty(), "{problems:?}");
    store
}

/// Handshakes with this SNI (or none) and returns the served certificate's serial.
async fn served(server: &mut TestServer, sni: Option<&str>, spec: ClientSpec) -> Result<String, String> {
    let spec = ClientSpec {
        send_sni: sni.is_some(),
        ..spec
    };
    let result = connect(spec.build(), server.addr, sni.unwrap_or("no-sni.invalid")).await;
    let outcome = server.next_outcome().await;
    match (&result, &outcome) {
        (Ok(_), ServerSide::Accepted { sni: seen, .. }) => {
            assert_eq!(seen.as_deref(), sni.map(str::to_ascii_lowercase).as_deref());
        }
        (Err(_), ServerSide::Refused(_)) => {}
        other => panic!("client and server disagree: {other:?}"),
    }
    result.map(|served| served.serial_hex)
}

#[tokio::test]
async fn listener_is_chosen_like_the_route_table() {
    let ca = TestCa::new(Alg::Ecdsa);
    let exact = ca.leaf(&["a.example.com"], Alg::Ecdsa);
    let wild = ca.leaf(&["*.example.com"], Alg::Ecdsa);
    let deep = ca.leaf(&["*.b.example.com"], Alg::Ecdsa);
    let any = ca.leaf(&["fallback.example.org"], Alg::Ecdsa);
    let config = config(vec![
        https("gw/any", PORT, None, &["secret/ns/any"], &[]),
        https("gw/deep", PORT, Some("*.b.example.com"), &["secret/ns/deep"], &[]),
        https("gw/exact", PORT, Some("a.example.com"), &["secret/ns/exact"], &[]),
        https("gw/wild", PORT, Some("*.example.com"), &["secret/ns/wild"], &[]),
    ]);
    let material = material(&[
        ("secret/ns/exact", &exact),
        ("secret/ns/wild", &wild),
        ("secret/ns/deep", &deep),
        ("secret/ns/any", &any),
    ]);
    let options = TlsOptions::default();
    let store = build(&config, &material, &options);
    let mut server = TestServer::start(store.server_config(PORT).unwrap()).await;

    let cases = [
        (Some("a.example.com"), "gw/exact", &exact),
        (Some("A.Example.COM"), "gw/exact", &exact),
        (Some("c.example.com"), "gw/wild", &wild),
        // A wildcard listener covers one or more labels; the most specific one wins.
        (Some("x.b.example.com"), "gw/deep", &deep),
        (Some("y.x.b.example.com"), "gw/deep", &deep),
        (Some("b.example.com"), "gw/wild", &wild),
        (Some("example.com"), "gw/any", &any),
        (Some("other.org"), "gw/any", &any),
        (None, "gw/any", &any),
    ];
    for (sni, listener, leaf) in cases {
        assert_eq!(store.listener_for(PORT, sni), Some(listener), "{sni:?}");
        assert_eq!(
            served(&mut server, sni, ClientSpec::default()).await,
            Ok(leaf.serial_hex.clone()),
            "{sni:?}"
        );
    }
    assert_eq!(store.listener_for(PORT + 1, Some("a.example.com")), None);
    assert_eq!(store.server_config(PORT + 1).map(|_| ()), None);
    assert_eq!(options.unknown_sni.get(), 0);
}

#[tokio::test]
async fn unknown_sni_without_a_default_is_refused_and_counted() {
    let ca = TestCa::new(Alg::Ecdsa);
    let a = ca.leaf(&["a.example.com"], Alg::Ecdsa);
    let wild = ca.leaf(&["*.example.com"], Alg::Ecdsa);
    let config = config(vec![
        https("gw/a", PORT, Some("a.example.com"), &["secret/ns/a"], &[]),
        https("gw/wild", PORT, Some("*.example.com"), &["secret/ns/wild"], &[]),
    ]);
    let material = material(&[("secret/ns/a", &a), ("secret/ns/wild", &wild)]);
    let options = TlsOptions::default();
    let store = build(&config, &material, &options);
    let mut server = TestServer::start(store.server_config(PORT).unwrap()).await;

    assert_eq!(store.listener_for(PORT, Some("other.org")), None);
    let refused = served(&mut server, Some("other.org"), ClientSpec::default()).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(options.unknown_sni.get(), 1);

    // Without SNI nothing names a listener: the first listener's default certificate.
    assert_eq!(store.listener_for(PORT, None), Some("gw/a"));
    assert_eq!(
        served(&mut server, None, ClientSpec::default()).await,
        Ok(a.serial_hex.clone())
    );
    assert_eq!(
        served(&mut server, Some("z.example.com"), ClientSpec::default()).await,
        Ok(wild.serial_hex.clone())
    );
    assert_eq!(options.unknown_sni.get(), 1);
}

#[tokio::test]
async fn listener_without_a_usable_certificate_refuses_its_names() {
    let ca = TestCa::new(Alg::Ecdsa);
    let any = ca.leaf(&["fallback.example.org"], Alg::Ecdsa);
    let config = config(vec![
        https("gw/a", PORT, Some("a.example.com"), &["secret/ns/missing"], &[]),
        https("gw/any", PORT, None, &["secret/ns/any"], &[]),
    ]);
    let material = material(&[("secret/ns/any", &any)]);
    let options = TlsOptions::default();
    let (store, problems) = TlsStore::build(&config, &material, None, &options, now());
    assert_eq!(problems.len(), 1, "{problems:?}");
    let mut server = TestServer::start(store.server_config(PORT).unwrap()).await;

    // The name belongs to gw/a; another listener's certificate would not be for it.
    assert_eq!(store.listener_for(PORT, Some("a.example.com")), Some("gw/a"));
    let refused = served(&mut server, Some("a.example.com"), ClientSpec::default()).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(options.unknown_sni.get(), 1);
    assert_eq!(
        served(&mut server, Some("b.example.com"), ClientSpec::default()).await,
        Ok(any.serial_hex.clone())
    );
}

#[tokio::test]
async fn certificate_within_a_listener_is_chosen_by_san() {
    // An Ingress listener: no hostname, one certificate per TLS section.
    let ca = TestCa::new(Alg::Ecdsa);
    let one = ca.leaf(&["one.example.com"], Alg::Ecdsa);
    let two = ca.leaf(&["two.example.com", "Deux.Example.com"], Alg::Ecdsa);
    let wild = ca.leaf(&["*.wild.example.com"], Alg::Ecdsa);
    let x = ca.leaf(&["x.wild.example.com"], Alg::Ecdsa);
    let config = config(vec![https(
        "ingress/https",
        PORT,
        None,
        &["secret/ns/one", "secret/ns/two", "secret/ns/wild", "secret/ns/x"],
        &[],
    )]);
    let material = material(&[
        ("secret/ns/one", &one),
        ("secret/ns/two", &two),
        ("secret/ns/wild", &wild),
        ("secret/ns/x", &x),
    ]);
    let options = TlsOptions::default();
    let store = build(&config, &material, &options);
    let mut server = TestServer::start(store.server_config(PORT).unwrap()).await;

    let cases = [
        (Some("two.example.com"), &two),
        (Some("deux.example.com"), &two),
        (Some("y.wild.example.com"), &wild),
        // An exact SAN beats a wildcard one, whatever the order of the references.
        (Some("x.wild.example.com"), &x),
        // A wildcard SAN covers one label only: the default serves.
        (Some("a.b.wild.example.com"), &one),
        (Some("unknown.example.net"), &one),
        (None, &one),
    ];
    for (sni, leaf) in cases {
        assert_eq!(store.listener_for(PORT, sni), Some("ingress/https"));
        assert_eq!(
            served(&mut server, sni, ClientSpec::default()).await,
            Ok(leaf.serial_hex.clone()),
            "{sni:?}"
        );
    }
    assert_eq!(options.unknown_sni.get(), 0);
}

#[tokio::test]
async fn chosen_certificate_verifies_against_its_ca() {
    let root = TestCa::new(Alg::Rsa);
    let intermediate = root.intermediate(Alg::Ecdsa);
    let leaf = intermediate.leaf(&["secure.example.com"], Alg::Ecdsa);
    let mut material = material(&[]);
    material.certificates.insert(
        "secret/ns/chain".into(),
        fairlead_route::CertificatePem {
            chain: format!("{}{}", leaf.chain, intermediate.pem).into_bytes(),
            key: leaf.key.clone().into_bytes(),
        },
    );
    let config = config(vec![https(
        "gw/secure",
        PORT,
        Some("secure.example.com"),
        &["secret/ns/chain"],
        &[],
    )]);
    let store = build(&config, &material, &TlsOptions::default());
    let mut server = TestServer::start(store.server_config(PORT).unwrap()).await;
    let spec = || ClientSpec {
        verify: Verify::Roots(root.roots()),
        ..ClientSpec::default()
    };
    assert_eq!(
        served(&mut server, Some("secure.example.com"), spec()).await,
        Ok(leaf.serial_hex.clone())
    );
    // A client verifying the name refuses the certificate for a name it does not carry.
    let wrong = connect(spec().build(), server.addr, "other.example.com").await;
    assert!(wrong.is_err(), "{wrong:?}");
}

const RSA_ONLY: &[SignatureScheme] = &[
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PKCS1_SHA256,
];

#[tokio::test]
async fn ecdsa_is_preferred_when_the_client_supports_it() {
    let ca = TestCa::new(Alg::Ecdsa);
    let rsa = ca.leaf(&["a.example.com"], Alg::Rsa);
    let ecdsa = ca.leaf(&["a.example.com"], Alg::Ecdsa);
    let rsa_default = ca.leaf(&["d.example.com"], Alg::Rsa);
    let ecdsa_other = ca.leaf(&["e.example.com"], Alg::Ecdsa);
    let config = config(vec![
        https("gw/a", PORT, None, &["secret/ns/rsa", "secret/ns/ecdsa"], &[]),
        https("gw/b", PORT + 1, None, &["secret/ns/ecdsa", "secret/ns/rsa"], &[]),
        https(
            "gw/c",
            PORT + 2,
            None,
            &["secret/ns/rsa-default", "secret/ns/ecdsa-other"],
            &[],
        ),
    ]);
    let material = material(&[
        ("secret/ns/rsa", &rsa),
        ("secret/ns/ecdsa", &ecdsa),
        ("secret/ns/rsa-default", &rsa_default),
        ("secret/ns/ecdsa-other", &ecdsa_other),
    ]);
    let store = build(&config, &material, &TlsOptions::default());
    let rsa_client = || ClientSpec {
        schemes: Some(RSA_ONLY.to_vec()),
        ..ClientSpec::default()
    };

    // RSA listed first: ECDSA still wins for a client that can verify it.
    let mut server = TestServer::start(store.server_config(PORT).unwrap()).await;
    let sni = Some("a.example.com");
    assert_eq!(
        served(&mut server, sni, ClientSpec::default()).await,
        Ok(ecdsa.serial_hex.clone())
    );
    assert_eq!(
        served(&mut server, sni, rsa_client()).await,
        Ok(rsa.serial_hex.clone())
    );

    // ECDSA listed first: a client without ECDSA still gets the RSA certificate.
    let mut server = TestServer::start(store.server_config(PORT + 1).unwrap()).await;
    assert_eq!(
        served(&mut server, sni, ClientSpec::default()).await,
        Ok(ecdsa.serial_hex.clone())
    );
    assert_eq!(
        served(&mut server, sni, rsa_client()).await,
        Ok(rsa.serial_hex.clone())
    );

    // The preference is among equally good certificates only: the default stays the first.
    let mut server = TestServer::start(store.server_config(PORT + 2).unwrap()).await;
    assert_eq!(
        served(&mut server, Some("unknown.example.com"), ClientSpec::default()).await,
        Ok(rsa_default.serial_hex.clone())
    );
}
