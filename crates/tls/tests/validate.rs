//! `validate_certificate` and `validate_ca_bundle`: what a `kubernetes.io/tls` Secret or a CA
//! bundle must hold, and the reason given when it does not.

mod support;

use fairlead_tls::{validate_ca_bundle, validate_certificate, CertificateError, KeyKind};
use support::{dns_params_between, pem_encode, Alg, TestCa};

#[test]
fn valid_ecdsa_certificate_reports_names_serial_validity_and_kind() {
    let ca = TestCa::new(Alg::Ecdsa);
    let params = dns_params_between(&["Www.Example.com", "*.api.example.com"], 2020, 2030);
    let leaf = ca.leaf_with(params, Alg::Ecdsa);
    let info = validate_certificate(leaf.chain.as_bytes(), leaf.key.as_bytes(), Some(1_700_000_000)).unwrap();
    assert_eq!(info.dns_names, vec!["www.example.com", "*.api.example.com"]);
    assert_eq!(info.serial_hex, leaf.serial_hex);
    assert_eq!(info.key_kind, KeyKind::Ecdsa);
    assert_eq!(info.not_before_unix, 1_577_836_800);
    assert_eq!(info.not_after_unix, 1_893_456_000);
}

#[test]
fn valid_rsa_and_ed25519_certificates_report_their_key_kind() {
    let ca = TestCa::new(Alg::Ecdsa);
    let rsa = ca.leaf(&["rsa.example.com"], Alg::Rsa);
    let info = validate_certificate(rsa.chain.as_bytes(), rsa.key.as_bytes(), None).unwrap();
    assert_eq!(info.key_kind, KeyKind::Rsa);
    let ed = ca.leaf(&["ed.example.com"], Alg::Ed25519);
    let info = validate_certificate(ed.chain.as_bytes(), ed.key.as_bytes(), None).unwrap();
    assert_eq!(info.key_kind, KeyKind::Ed25519);
}

#[test]
fn pkcs1_rsa_and_sec1_ec_keys_are_accepted() {
    let ca = TestCa::new(Alg::Ecdsa);
    let rsa = ca.leaf(&["rsa.example.com"], Alg::Rsa);
    let pkcs1 = rsa.legacy_key_pem("RSA PRIVATE KEY");
    let info = validate_certificate(rsa.chain.as_bytes(), pkcs1.as_bytes(), None).unwrap();
    assert_eq!(info.key_kind, KeyKind::Rsa);

    let ec = ca.leaf(&["ec.example.com"], Alg::Ecdsa);
    let sec1 = ec.legacy_key_pem("EC PRIVATE KEY");
    let info = validate_certificate(ec.chain.as_bytes(), sec1.as_bytes(), None).unwrap();
    assert_eq!(info.key_kind, KeyKind::Ecdsa);
}

#[test]
fn chain_with_intermediate_reports_the_leaf() {
    let root = TestCa::new(Alg::Ecdsa);
    let intermediate = root.intermediate(Alg::Ecdsa);
    let leaf = intermediate.leaf(&["chain.example.com"], Alg::Ecdsa);
    let chain = format!("{}{}", leaf.chain, intermediate.pem);
    let info = validate_certificate(chain.as_bytes(), leaf.key.as_bytes(), None).unwrap();
    assert_eq!(info.serial_hex, leaf.serial_hex);
    assert_eq!(info.dns_names, vec!["chain.example.com"]);
}

#[test]
fn empty_or_keyless_chain_is_no_certificate() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["a.example.com"], Alg::Ecdsa);
    assert_eq!(
        validate_certificate(b"", leaf.key.as_bytes(), None),
        Err(CertificateError::NoCertificate)
    );
    // A key where the certificate should be is still no certificate.
    assert_eq!(
        validate_certificate(leaf.key.as_bytes(), leaf.key.as_bytes(), None),
        Err(CertificateError::NoCertificate)
    );
}

#[test]
fn garbage_inside_a_certificate_block_is_bad_certificate() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["a.example.com"], Alg::Ecdsa);
    let not_der = pem_encode("CERTIFICATE", b"this is not DER");
    let err = validate_certificate(not_der.as_bytes(), leaf.key.as_bytes(), None).unwrap_err();
    assert!(matches!(err, CertificateError::BadCertificate(_)), "{err:?}");

    let broken_base64 = "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n";
    let err = validate_certificate(broken_base64.as_bytes(), leaf.key.as_bytes(), None).unwrap_err();
    assert!(matches!(err, CertificateError::BadCertificate(_)), "{err:?}");

    let chain = format!("{}{}", leaf.chain, not_der);
    let err = validate_certificate(chain.as_bytes(), leaf.key.as_bytes(), None).unwrap_err();
    assert!(
        matches!(&err, CertificateError::BadCertificate(m) if m.contains("chain certificate 2")),
        "{err:?}"
    );
}

#[test]
fn missing_key_is_no_private_key() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["a.example.com"], Alg::Ecdsa);
    assert_eq!(
        validate_certificate(leaf.chain.as_bytes(), b"", None),
        Err(CertificateError::NoPrivateKey)
    );
    assert_eq!(
        validate_certificate(leaf.chain.as_bytes(), leaf.chain.as_bytes(), None),
        Err(CertificateError::NoPrivateKey)
    );
}

#[test]
fn unparsable_key_is_bad_key() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["a.example.com"], Alg::Ecdsa);
    let junk = pem_encode("PRIVATE KEY", b"definitely not a key");
    let err = validate_certificate(leaf.chain.as_bytes(), junk.as_bytes(), None).unwrap_err();
    assert!(matches!(err, CertificateError::BadKey(_)), "{err:?}");
}

#[test]
fn key_of_another_certificate_is_key_mismatch() {
    let ca = TestCa::new(Alg::Ecdsa);
    let one = ca.leaf(&["a.example.com"], Alg::Ecdsa);
    let other = ca.leaf(&["a.example.com"], Alg::Ecdsa);
    assert_eq!(
        validate_certificate(one.chain.as_bytes(), other.key.as_bytes(), None),
        Err(CertificateError::KeyMismatch)
    );
    let rsa = ca.leaf(&["a.example.com"], Alg::Rsa);
    assert_eq!(
        validate_certificate(one.chain.as_bytes(), rsa.key.as_bytes(), None),
        Err(CertificateError::KeyMismatch)
    );
}

#[test]
fn validity_period_is_checked_only_when_now_is_given() {
    let ca = TestCa::new(Alg::Ecdsa);
    let params = dns_params_between(&["a.example.com"], 2020, 2021);
    let leaf = ca.leaf_with(params, Alg::Ecdsa);
    let (chain, key) = (leaf.chain.as_bytes(), leaf.key.as_bytes());

    assert!(validate_certificate(chain, key, None).is_ok());
    assert!(validate_certificate(chain, key, Some(1_590_000_000)).is_ok());
    let expired = validate_certificate(chain, key, Some(1_700_000_000)).unwrap_err();
    assert_eq!(
        expired,
        CertificateError::Expired {
            not_after: "2021-01-01T00:00:00Z".into()
        }
    );
    assert_eq!(expired.to_string(), "certificate expired at 2021-01-01T00:00:00Z");
    let early = validate_certificate(chain, key, Some(1_500_000_000)).unwrap_err();
    assert_eq!(
        early,
        CertificateError::NotYetValid {
            not_before: "2020-01-01T00:00:00Z".into()
        }
    );
}

#[test]
fn ca_bundle_counts_its_certificates() {
    let one = TestCa::new(Alg::Ecdsa);
    let two = TestCa::new(Alg::Rsa);
    assert_eq!(validate_ca_bundle(one.pem.as_bytes()), Ok(1));
    let bundle = format!("{}\n{}", one.pem, two.pem);
    assert_eq!(validate_ca_bundle(bundle.as_bytes()), Ok(2));
}

#[test]
fn ca_bundle_without_a_usable_certificate_is_refused() {
    assert_eq!(validate_ca_bundle(b""), Err(CertificateError::NoCaCertificate));
    assert_eq!(
        validate_ca_bundle(b"just some text"),
        Err(CertificateError::NoCaCertificate)
    );
    let junk = pem_encode("CERTIFICATE", b"not DER");
    let err = validate_ca_bundle(junk.as_bytes()).unwrap_err();
    assert!(matches!(err, CertificateError::BadCertificate(_)), "{err:?}");
}
