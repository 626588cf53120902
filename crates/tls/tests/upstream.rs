//! Backend TLS client configs (BackendTLSPolicy): the backend's certificate must chain to the
//! policy's CA and carry its hostname, or one of its subjectAltNames when those are set.

mod support;

use fairlead_route::{TlsMaterial, UpstreamTls};
use fairlead_tls::{
    server_name, upstream_client_config, CertificateError, TlsOptions, TlsStore, UpstreamTlsError,
};
use support::*;

const CA_ID: &str = "configmap/ns/backend-ca";

/// A TLS "backend" on 127.0.0.1 serving `leaf` for any SNI.
async fn backend(leaf: &Leaf) -> TestServer {
    let config = config(vec![https("backend", 443, None, &["secret/ns/backend"], &[])]);
    let material = material(&[("secret/ns/backend", leaf)]);
    let (store, problems) = TlsStore::build(&config, &material, None, &TlsOptions::default(), now());
    assert!(problems.is_empty(), "{problems:?}");
    TestServer::start(store.server_config(443).unwrap()).await
}

fn policy(server_name: &str, subject_alt_names: &[&str]) -> UpstreamTls {
    UpstreamTls {
        server_name: server_name.to_string(),
        ca: vec![CA_ID.to_string()],
        subject_alt_names: subject_alt_names.iter().map(|s| s.to_string()).collect(),
    }
}

fn ca_material(ca: &TestCa) -> TlsMaterial {
    let mut material = TlsMaterial::default();
    material
        .ca_bundles
        .insert(CA_ID.into(), ca.pem.clone().into_bytes());
    material
}

async fn handshake(
    server: &mut TestServer,
    tls: &UpstreamTls,
    material: &TlsMaterial,
    h2: bool,
) -> Result<Served, String> {
    let config = upstream_client_config(tls, material, h2).map_err(|e| e.to_string())?;
    let name = server_name(tls).map_err(|e| e.to_string())?;
    let name = name.to_str().to_string();
    let result = connect(config, server.addr, &name).await;
    server.next_outcome().await;
    result
}

#[tokio::test]
async fn backend_certificate_must_carry_the_hostname() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["backend.internal"], Alg::Ecdsa);
    let mut server = backend(&leaf).await;
    let material = ca_material(&ca);
    let ok = handshake(&mut server, &policy("backend.internal", &[]), &material, false).await;
    assert_eq!(ok.unwrap().serial_hex, leaf.serial_hex);
    let wrong = handshake(&mut server, &policy("other.internal", &[]), &material, false).await;
    assert!(wrong.is_err(), "{wrong:?}");
}

#[tokio::test]
async fn backend_certificate_must_chain_to_the_policy_ca() {
    let ca = TestCa::new(Alg::Ecdsa);
    let stranger = TestCa::new(Alg::Ecdsa);
    let leaf = stranger.leaf(&["backend.internal"], Alg::Ecdsa);
    let mut server = backend(&leaf).await;
    let refused = handshake(
        &mut server,
        &policy("backend.internal", &[]),
        &ca_material(&ca),
        false,
    )
    .await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn subject_alt_names_replace_the_hostname_check() {
    let ca = TestCa::new(Alg::Rsa);
    let leaf = ca.leaf(&["*.svc.internal"], Alg::Ecdsa);
    let mut server = backend(&leaf).await;
    let material = ca_material(&ca);
    // The SNI names something the certificate does not carry; a listed SAN does match.
    let tls = policy("backend.ns", &["nope.internal", "api.svc.internal"]);
    assert!(handshake(&mut server, &tls, &material, false).await.is_ok());
    let tls = policy("api.svc.internal", &["nope.internal"]);
    let refused = handshake(&mut server, &tls, &material, false).await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn uri_subject_alt_names_are_compared_exactly() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf_with(
        uri_params(&["spiffe://cluster.local/ns/app/sa/backend"]),
        Alg::Ecdsa,
    );
    let mut server = backend(&leaf).await;
    let material = ca_material(&ca);
    let tls = policy("backend.app", &["spiffe://cluster.local/ns/app/sa/backend"]);
    assert!(handshake(&mut server, &tls, &material, false).await.is_ok());
    let tls = policy("backend.app", &["spiffe://cluster.local/ns/app/sa/other"]);
    assert!(handshake(&mut server, &tls, &material, false).await.is_err());
}

#[tokio::test]
async fn alpn_is_h2_or_http11_as_asked() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["backend.internal"], Alg::Ecdsa);
    let mut server = backend(&leaf).await;
    let material = ca_material(&ca);
    let tls = policy("backend.internal", &[]);
    let h2 = handshake(&mut server, &tls, &material, true).await.unwrap();
    assert_eq!(h2.alpn.as_deref(), Some(&b"h2"[..]));
    let h1 = handshake(&mut server, &tls, &material, false).await.unwrap();
    assert_eq!(h1.alpn.as_deref(), Some(&b"http/1.1"[..]));
}

#[test]
fn missing_or_bad_ca_bundles_and_bad_names_are_errors() {
    let tls = policy("backend.internal", &[]);
    assert_eq!(
        upstream_client_config(&tls, &TlsMaterial::default(), false).err(),
        Some(UpstreamTlsError::MissingCa { id: CA_ID.into() })
    );
    let mut material = TlsMaterial::default();
    material.ca_bundles.insert(CA_ID.into(), b"nothing here".to_vec());
    assert_eq!(
        upstream_client_config(&tls, &material, false).err(),
        Some(UpstreamTlsError::BadCa {
            id: CA_ID.into(),
            error: CertificateError::NoCaCertificate
        })
    );
    let ca = TestCa::new(Alg::Ecdsa);
    let bad_name = policy("not a hostname", &[]);
    assert!(matches!(
        server_name(&bad_name),
        Err(UpstreamTlsError::BadServerName(_))
    ));
    assert!(matches!(
        upstream_client_config(&bad_name, &ca_material(&ca), false),
        Err(UpstreamTlsError::BadServerName(_))
    ));
    let bad_san = policy("backend.internal", &["not a name"]);
    assert!(matches!(
        upstream_client_config(&bad_san, &ca_material(&ca), false),
        Err(UpstreamTlsError::BadServerName(_))
    ));
}

#[test]
fn system_roots_are_used_when_the_policy_names_no_ca() {
    let tls = UpstreamTls {
        server_name: "backend.example.com".into(),
        ..UpstreamTls::default()
    };
    let has_system_store = std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists();
    match upstream_client_config(&tls, &TlsMaterial::default(), false) {
        Ok(config) => assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]),
        // Machines without a system CA store get the named error, never a panic.
        Err(e) => {
            assert!(!has_system_store, "{e}");
            assert_eq!(e, UpstreamTlsError::NoSystemRoots);
        }
    }
}
