//! Pure certificate checks (no clock of its own: the caller passes `now`).

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
}

/// Checks a certificate chain and key as found in a `kubernetes.io/tls` Secret. With `now_unix`
/// set, a certificate outside its validity period is an error.
pub fn validate_certificate(
    _chain_pem: &[u8],
    _key_pem: &[u8],
    _now_unix: Option<i64>,
) -> Result<CertificateInfo, CertificateError> {
    // Skeleton: the full check is being written; until then nothing validates.
    Err(CertificateError::NoCertificate)
}

/// Checks a PEM bundle of CA certificates; returns how many certificates it holds.
pub fn validate_ca_bundle(_pem: &[u8]) -> Result<usize, CertificateError> {
    Err(CertificateError::NoCaCertificate)
}
