//! Pure certificate checks (no clock of its own: the caller passes `now`).
//!
//! The same parsing serves translation (status conditions naming what is wrong with a Secret)
//! and the store (which needs the rustls signing key), so a certificate the store would refuse
//! is always one translation reported.

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::SignatureAlgorithm;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What a valid certificate offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// DNS subject alternative names of the leaf, lowercased (wildcards kept as `*.x.y`).
    pub dns_names: Vec<String>,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    /// Leaf serial number, lowercase hex without separators.
    pub serial_hex: String,
    pub key_kind: KeyKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    Ecdsa,
    Ed25519,
}

/// Why a certificate cannot be served. Messages name the problem for status conditions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("no certificate found in the PEM data")]
    NoCertificate,
    #[error("certificate does not parse: {0}")]
    BadCertificate(String),
    #[error("no private key found in the PEM data")]
    NoPrivateKey,
    #[error("private key does not parse: {0}")]
    BadKey(String),
    #[error("the private key does not match the certificate")]
    KeyMismatch,
    #[error("certificate is not valid before {not_before}")]
    NotYetValid { not_before: String },
    #[error("certificate expired at {not_after}")]
    Expired { not_after: String },
    #[error("no CA certificate found in the PEM data")]
    NoCaCertificate,
    /// The id is referenced by a listener but has no material (its Secret or ConfigMap is
    /// missing, or translation rejected it).
    #[error("no certificate material under this reference (missing or rejected)")]
    Missing,
}

/// A certificate ready to serve: the rustls key and what the leaf says.
pub(crate) struct LoadedCertificate {
    pub(crate) key: CertifiedKey,
    pub(crate) info: CertificateInfo,
}

/// Checks a certificate chain and key as found in a `kubernetes.io/tls` Secret. With `now_unix`
/// set, a certificate outside its validity period is an error.
pub fn validate_certificate(
    chain_pem: &[u8],
    key_pem: &[u8],
    now_unix: Option<i64>,
) -> Result<CertificateInfo, CertificateError> {
    load_certificate(chain_pem, key_pem, now_unix).map(|loaded| loaded.info)
}

/// [`validate_certificate`], keeping the signing key for the store.
pub(crate) fn load_certificate(
    chain_pem: &[u8],
    key_pem: &[u8],
    now_unix: Option<i64>,
) -> Result<LoadedCertificate, CertificateError> {
    let chain = parse_chain(chain_pem)?;
    let leaf_der = chain.first().ok_or(CertificateError::NoCertificate)?;
    let mut info = leaf_info(leaf_der)?;
    // Intermediates are sent to clients as they are; one that does not parse would make every
    // client fail, so it is reported here rather than discovered by them.
    for (index, der) in chain.iter().enumerate().skip(1) {
        X509Certificate::from_der(der)
            .map_err(|e| CertificateError::BadCertificate(format!("chain certificate {}: {e}", index + 1)))?;
    }
    let key = parse_key(key_pem)?;
    let signing_key = rustls::crypto::aws_lc_rs::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| CertificateError::BadKey(e.to_string()))?;
    info.key_kind = match signing_key.algorithm() {
        SignatureAlgorithm::RSA => KeyKind::Rsa,
        SignatureAlgorithm::ECDSA => KeyKind::Ecdsa,
        SignatureAlgorithm::ED25519 => KeyKind::Ed25519,
        other => {
            return Err(CertificateError::BadKey(format!(
                "unsupported key algorithm {other:?} (RSA, ECDSA and Ed25519 are served)"
            )))
        }
    };
    let key = CertifiedKey::new(chain, signing_key);
    match key.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(CertificateError::KeyMismatch)
        }
        // The aws-lc-rs keys all expose their public key, so "unknown" does not happen; were
        // it to, the handshake's own signature check is the backstop, as in rustls.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(e) => return Err(CertificateError::BadCertificate(e.to_string())),
    }
    if let Some(now) = now_unix {
        check_validity(&info, now)?;
    }
    Ok(LoadedCertificate { key, info })
}

/// Checks a PEM bundle of CA certificates; returns how many certificates it holds.
pub fn validate_ca_bundle(pem: &[u8]) -> Result<usize, CertificateError> {
    parse_ca_bundle(pem).map(|certs| certs.len())
}

/// The certificates of a CA bundle that can serve as trust anchors. Anchors that webpki
/// cannot use are left out (as rustls does for system bundles); none at all is an error.
pub(crate) fn parse_ca_bundle(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CertificateError> {
    let mut usable = Vec::new();
    let mut first_error = None;
    for (index, item) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let der = item.map_err(|e| pem_error(e, CertificateError::NoCaCertificate))?;
        match webpki_anchor_check(&der) {
            Ok(()) => usable.push(der),
            Err(e) => {
                first_error.get_or_insert(format!("CA certificate {}: {e}", index + 1));
            }
        }
    }
    match (usable.is_empty(), first_error) {
        (false, _) => Ok(usable),
        (true, Some(e)) => Err(CertificateError::BadCertificate(e)),
        (true, None) => Err(CertificateError::NoCaCertificate),
    }
}

fn webpki_anchor_check(der: &CertificateDer<'_>) -> Result<(), String> {
    let mut store = rustls::RootCertStore::empty();
    store.add(der.clone()).map_err(|e| e.to_string())
}

pub(crate) fn check_validity(info: &CertificateInfo, now: i64) -> Result<(), CertificateError> {
    if now < info.not_before_unix {
        return Err(CertificateError::NotYetValid {
            not_before: fairlead_route::rfc3339(info.not_before_unix),
        });
    }
    if now > info.not_after_unix {
        return Err(CertificateError::Expired {
            not_after: fairlead_route::rfc3339(info.not_after_unix),
        });
    }
    Ok(())
}

fn parse_chain(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CertificateError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(e, CertificateError::NoCertificate))?;
    if chain.is_empty() {
        return Err(CertificateError::NoCertificate);
    }
    Ok(chain)
}

fn parse_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, CertificateError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => CertificateError::NoPrivateKey,
        other => CertificateError::BadKey(format!("PEM: {other}")),
    })
}

fn pem_error(e: pem::Error, none: CertificateError) -> CertificateError {
    match e {
        pem::Error::NoItemsFound => none,
        other => CertificateError::BadCertificate(format!("PEM: {other}")),
    }
}

/// SANs, validity and serial of the leaf. The key kind is filled in from the private key.
fn leaf_info(der: &CertificateDer<'_>) -> Result<CertificateInfo, CertificateError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| CertificateError::BadCertificate(e.to_string()))?;
    let mut dns_names = Vec::new();
    let san = cert
        .subject_alternative_name()
        .map_err(|e| CertificateError::BadCertificate(format!("subjectAltName: {e}")))?;
    if let Some(san) = san {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(dns) = name {
                let dns = dns.strip_suffix('.').unwrap_or(dns);
                dns_names.push(dns.to_ascii_lowercase());
            }
        }
    }
    let validity = cert.validity();
    Ok(CertificateInfo {
        dns_names,
        not_before_unix: validity.not_before.timestamp(),
        not_after_unix: validity.not_after.timestamp(),
        serial_hex: serial_hex(cert.raw_serial()),
        key_kind: KeyKind::Rsa,
    })
}

/// The DER integer bytes without sign-padding zeros, as even-length hex (like `openssl x509
/// -serial`).
fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    let digits = raw.get(start..).unwrap_or_default();
    if digits.is_empty() {
        return "00".to_string();
    }
    digits.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_drops_sign_padding_only() {
        assert_eq!(serial_hex(&[0x00, 0x80, 0x01]), "8001");
        assert_eq!(serial_hex(&[0x0a, 0xbc]), "0abc");
        assert_eq!(serial_hex(&[0x00]), "00");
    }
}
