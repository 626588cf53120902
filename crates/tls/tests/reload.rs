//! Rebuilding the store: last known good certificates, expiry, problems reported once, and
//! session resumption surviving a rebuild that does not change client authentication.

mod support;

use fairlead_route::CertificatePem;
use fairlead_tls::{CertificateError, TlsOptions, TlsProblem, TlsStore};
use support::*;

const PORT: u16 = 443;
const ID: &str = "secret/ns/web";

fn web_config() -> fairlead_route::Config {
    config(vec![https("gw/web", PORT, Some("web.example.com"), &[ID], &[])])
}

async fn serial_served(store: &TlsStore) -> Result<String, String> {
    let mut server = TestServer::start(store.server_config(PORT).ok_or("port not served")?).await;
    let result = connect(ClientSpec::default().build(), server.addr, "web.example.com").await;
    server.next_outcome().await;
    result.map(|served| served.serial_hex)
}

fn serials(store: &TlsStore) -> Vec<(String, String)> {
    store
        .certificates()
        .map(|(id, info)| (id.to_string(), info.serial_hex.clone()))
        .collect()
}

fn garbage() -> CertificatePem {
    CertificatePem {
        chain: b"not a certificate".to_vec(),
        key: b"not a key".to_vec(),
    }
}

#[tokio::test]
async fn new_certificate_serves_new_connections_and_old_config_keeps_the_old_one() {
    let ca = TestCa::new(Alg::Ecdsa);
    let old = ca.leaf(&["web.example.com"], Alg::Ecdsa);
    let new = ca.leaf(&["web.example.com"], Alg::Ecdsa);
    let options = TlsOptions::default();
    let (first, problems) = TlsStore::build(&web_config(), &material(&[(ID, &old)]), None, &options, now());
    assert!(problems.is_empty());
    let (second, problems) = TlsStore::build(
        &web_config(),
        &material(&[(ID, &new)]),
        Some(&first),
        &options,
        now(),
    );
    assert!(problems.is_empty());
    assert_eq!(serial_served(&second).await, Ok(new.serial_hex.clone()));
    assert_eq!(serial_served(&first).await, Ok(old.serial_hex.clone()));
    assert_eq!(serials(&second), vec![(ID.to_string(), new.serial_hex.clone())]);
}

#[tokio::test]
async fn bad_new_material_keeps_the_last_good_certificate() {
    let ca = TestCa::new(Alg::Ecdsa);
    let good = ca.leaf(&["web.example.com"], Alg::Ecdsa);
    let other = ca.leaf(&["web.example.com"], Alg::Ecdsa);
    let options = TlsOptions::default();
    let (first, _) = TlsStore::build(&web_config(), &material(&[(ID, &good)]), None, &options, now());

    let mut bad = material(&[]);
    bad.certificates.insert(ID.into(), garbage());
    let (second, problems) = TlsStore::build(&web_config(), &bad, Some(&first), &options, now());
    assert_eq!(
        problems,
        vec![TlsProblem {
            id: ID.into(),
            error: CertificateError::NoCertificate,
            kept_previous: true
        }]
    );
    assert_eq!(serial_served(&second).await, Ok(good.serial_hex.clone()));
    assert_eq!(serials(&second), vec![(ID.to_string(), good.serial_hex.clone())]);

    // Still kept one rebuild later: the kept certificate is the new store's.
    let mismatched = CertificatePem {
        chain: good.chain.clone().into_bytes(),
        key: other.key.clone().into_bytes(),
    };
    let mut bad = material(&[]);
    bad.certificates.insert(ID.into(), mismatched);
    let (third, problems) = TlsStore::build(&web_config(), &bad, Some(&second), &options, now());
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].error, CertificateError::KeyMismatch);
    assert!(problems[0].kept_previous);
    assert_eq!(serial_served(&third).await, Ok(good.serial_hex.clone()));

    // Material gone altogether (Secret deleted): also kept, reported as missing.
    let (fourth, problems) = TlsStore::build(&web_config(), &material(&[]), Some(&third), &options, now());
    assert_eq!(
        problems,
        vec![TlsProblem {
            id: ID.into(),
            error: CertificateError::Missing,
            kept_previous: true
        }]
    );
    assert_eq!(serial_served(&fourth).await, Ok(good.serial_hex.clone()));
}

#[tokio::test]
async fn bad_material_without_a_previous_certificate_is_not_served() {
    let mut bad = material(&[]);
    bad.certificates.insert(ID.into(), garbage());
    let (store, problems) = TlsStore::build(&web_config(), &bad, None, &TlsOptions::default(), now());
    assert_eq!(
        problems,
        vec![TlsProblem {
            id: ID.into(),
            error: CertificateError::NoCertificate,
            kept_previous: false
        }]
    );
    assert!(store.server_config(PORT).is_none());
    assert_eq!(store.certificates().count(), 0);
}

#[tokio::test]
async fn expired_certificate_is_not_served_and_only_a_valid_previous_one_is_kept() {
    let ca = TestCa::new(Alg::Ecdsa);
    let short = ca.leaf_with(dns_params_between(&["web.example.com"], 2020, 2021), Alg::Ecdsa);
    let lasting = ca.leaf(&["web.example.com"], Alg::Ecdsa);
    let options = TlsOptions::default();
    let during_2020 = 1_590_000_000;

    // Served while valid; the same material one rebuild after expiry is refused, and the
    // previous certificate (the same, now expired) is not kept either.
    let (valid, problems) = TlsStore::build(
        &web_config(),
        &material(&[(ID, &short)]),
        None,
        &options,
        during_2020,
    );
    assert!(problems.is_empty());
    assert_eq!(serial_served(&valid).await, Ok(short.serial_hex.clone()));
    let (expired, problems) = TlsStore::build(
        &web_config(),
        &material(&[(ID, &short)]),
        Some(&valid),
        &options,
        now(),
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        matches!(problems[0].error, CertificateError::Expired { .. }),
        "{problems:?}"
    );
    assert!(!problems[0].kept_previous);
    assert!(expired.server_config(PORT).is_none());

    // A renewal replaced by an expired certificate: the still valid renewal keeps serving.
    let (renewed, _) = TlsStore::build(&web_config(), &material(&[(ID, &lasting)]), None, &options, now());
    let (kept, problems) = TlsStore::build(
        &web_config(),
        &material(&[(ID, &short)]),
        Some(&renewed),
        &options,
        now(),
    );
    assert_eq!(problems.len(), 1);
    assert!(matches!(problems[0].error, CertificateError::Expired { .. }));
    assert!(problems[0].kept_previous);
    assert_eq!(serial_served(&kept).await, Ok(lasting.serial_hex.clone()));
}

#[tokio::test]
async fn certificate_shared_by_listeners_is_reported_once() {
    let config = config(vec![
        https("gw/a", PORT, Some("a.example.com"), &[ID], &[]),
        https("gw/b", PORT, Some("b.example.com"), &[ID], &[]),
        https("gw/c", PORT + 1, None, &[ID], &[]),
    ]);
    let (_, problems) = TlsStore::build(&config, &material(&[]), None, &TlsOptions::default(), now());
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[tokio::test]
async fn http_listeners_and_https_listeners_without_tls_are_ignored() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["web.example.com"], Alg::Ecdsa);
    let mut plain = https("gw/plain", 80, None, &[ID], &[]);
    plain.protocol = fairlead_route::ListenerProtocol::Http;
    let mut no_tls = https("gw/no-tls", 8443, None, &[], &[]);
    no_tls.tls = None;
    let config = config(vec![plain, no_tls]);
    let (store, problems) = TlsStore::build(
        &config,
        &material(&[(ID, &leaf)]),
        None,
        &TlsOptions::default(),
        now(),
    );
    assert!(problems.is_empty());
    assert!(store.server_config(80).is_none());
    assert!(store.server_config(8443).is_none());
    assert_eq!(store.certificates().count(), 0);
}

#[tokio::test]
async fn sessions_resume_across_a_rebuild_but_not_across_a_client_auth_change() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["web.example.com"], Alg::Ecdsa);
    let client_ca = TestCa::new(Alg::Ecdsa);
    let client_leaf = client_ca.leaf(&["client.example.com"], Alg::Ecdsa);
    let options = TlsOptions::default();
    let mut material = material(&[(ID, &leaf)]);
    material
        .ca_bundles
        .insert("configmap/ns/clients".into(), client_ca.pem.clone().into_bytes());

    for tls12_only in [false, true] {
        let client = ClientSpec {
            tls12_only,
            client_cert: Some(client_leaf.client_auth()),
            ..ClientSpec::default()
        }
        .build();
        let (first, _) = TlsStore::build(&web_config(), &material, None, &options, now());
        let mut server = TestServer::start(first.server_config(PORT).unwrap()).await;
        let full = connect(client.clone(), server.addr, "web.example.com")
            .await
            .unwrap();
        server.next_outcome().await;
        assert!(!full.resumed);
        let again = connect(client.clone(), server.addr, "web.example.com")
            .await
            .unwrap();
        server.next_outcome().await;
        assert!(again.resumed, "tls12_only={tls12_only}");

        let (second, _) = TlsStore::build(&web_config(), &material, Some(&first), &options, now());
        let mut server = TestServer::start(second.server_config(PORT).unwrap()).await;
        let after = connect(client.clone(), server.addr, "web.example.com")
            .await
            .unwrap();
        server.next_outcome().await;
        assert!(after.resumed, "tls12_only={tls12_only}");

        let mtls = config(vec![https(
            "gw/web",
            PORT,
            Some("web.example.com"),
            &[ID],
            &["configmap/ns/clients"],
        )]);
        let (third, _) = TlsStore::build(&mtls, &material, Some(&second), &options, now());
        let mut server = TestServer::start(third.server_config(PORT).unwrap()).await;
        let fresh = connect(client.clone(), server.addr, "web.example.com")
            .await
            .unwrap();
        let ServerSide::Accepted { client_cert, .. } = server.next_outcome().await else {
            panic!("refused")
        };
        assert!(!fresh.resumed, "tls12_only={tls12_only}");
        assert!(client_cert);
    }
}
