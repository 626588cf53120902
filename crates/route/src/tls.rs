//! TLS in the IR: what an HTTPS listener terminates with and how a backend is reached over TLS.
//!
//! Listeners and backends name certificates and CA bundles by id; the PEM bytes live in a
//! separate [`TlsMaterial`], so the routing [`crate::Config`] — dumped by `/routes`, diffed,
//! logged — never carries a private key.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// TLS termination settings of an HTTPS listener.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListenerTls {
    /// Certificate ids (keys of [`TlsMaterial::certificates`], e.g. `secret/default/web-cert`),
    /// in `certificateRefs` order. The first usable one is the listener's default; the others
    /// are chosen by SNI against their subject alternative names. An id with no material (a
    /// Secret that is missing or invalid) still appears, so the proxy can keep serving the last
    /// good certificate it had under that id.
    pub certificates: Vec<String>,
    /// CA bundle ids (keys of [`TlsMaterial::ca_bundles`]) that client certificates must chain
    /// to. Empty: no client certificate is requested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_ca: Vec<String>,
}

/// How the proxy connects to a backend over TLS (Gateway API BackendTLSPolicy).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UpstreamTls {
    /// SNI sent to the backend, and the name its certificate must carry unless
    /// `subject_alt_names` is set.
    pub server_name: String,
    /// CA bundle ids the backend's certificate must chain to; empty means the system's roots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca: Vec<String>,
    /// When set, the backend certificate must carry one of these DNS names (or URIs) instead of
    /// `server_name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_alt_names: Vec<String>,
}

/// Certificate and CA material referenced by id from a [`crate::Config`]. Not serialized by
/// `/routes`; its `Debug` output never shows a private key.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsMaterial {
    pub certificates: BTreeMap<String, CertificatePem>,
    /// PEM bundles of CA certificates.
    pub ca_bundles: BTreeMap<String, Vec<u8>>,
}

/// A certificate chain and its private key, PEM encoded, as found in a `kubernetes.io/tls`
/// Secret (`tls.crt`, `tls.key`).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct CertificatePem {
    pub chain: Vec<u8>,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for CertificatePem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificatePem")
            .field("chain_bytes", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("certificates", &self.certificates)
            .field("ca_bundles", &self.ca_bundles.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_private_key() {
        let mut material = TlsMaterial::default();
        material.certificates.insert(
            "secret/default/web".into(),
            CertificatePem {
                chain: b"-----BEGIN CERTIFICATE-----".to_vec(),
                key: b"-----BEGIN PRIVATE KEY-----SECRETBYTES".to_vec(),
            },
        );
        let text = format!("{material:?}");
        assert!(text.contains("secret/default/web"), "{text}");
        assert!(
            !text.contains("SECRETBYTES") && !text.contains("PRIVATE KEY"),
            "{text}"
        );
    }
}
