//! The TLS store: per HTTPS port, the listeners' certificates and the rustls `ServerConfig`
//! whose resolver picks a certificate by SNI.

use crate::validate::{CertificateError, CertificateInfo};
use fairlead_route::{Config, TlsMaterial};
use prometheus_client::metrics::counter::Counter;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Lowest TLS version offered to clients (`--tls-min-version`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsVersion {
    #[default]
    Tls12,
    Tls13,
}

/// Process-wide TLS settings.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub min_version: TlsVersion,
    /// Incremented for every handshake refused because no certificate fits its SNI.
    pub unknown_sni: Counter,
}

/// A certificate id whose material could not be used, and why. When the store had a good
/// certificate under this id before, that one keeps serving (`kept_previous`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsProblem {
    pub id: String,
    pub error: CertificateError,
    pub kept_previous: bool,
}

/// Everything TLS termination needs for one routing config. Built whole and swapped whole.
#[derive(Default)]
pub struct TlsStore {
    ports: BTreeMap<u16, Arc<rustls::ServerConfig>>,
    certificates: BTreeMap<String, CertificateInfo>,
}

impl TlsStore {
    /// Builds the store for the HTTPS listeners of `config`. `previous` supplies the last good
    /// certificate for ids whose material is now missing or bad.
    pub fn build(
        _config: &Config,
        _material: &TlsMaterial,
        _previous: Option<&TlsStore>,
        _options: &TlsOptions,
        _now_unix: i64,
    ) -> (TlsStore, Vec<TlsProblem>) {
        // Skeleton: filled in with the SNI resolver.
        (TlsStore::default(), Vec::new())
    }

    /// The server config for an HTTPS port; `None` when the port has no usable certificate.
    pub fn server_config(&self, port: u16) -> Option<Arc<rustls::ServerConfig>> {
        self.ports.get(&port).cloned()
    }

    /// The id of the listener on `port` a handshake with this SNI was served for (the same
    /// choice the certificate resolver makes); the proxy answers 421 when the request's Host
    /// belongs to another listener.
    pub fn listener_for(&self, _port: u16, _sni: Option<&str>) -> Option<&str> {
        None
    }

    /// Every certificate in use, by id (for the expiry metric).
    pub fn certificates(&self) -> impl Iterator<Item = (&str, &CertificateInfo)> {
        self.certificates.iter().map(|(id, info)| (id.as_str(), info))
    }
}
