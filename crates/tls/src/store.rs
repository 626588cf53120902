//! The TLS store: per HTTPS port, the listeners' certificates and the rustls `ServerConfig`
//! whose resolver picks a certificate by SNI.
//!
//! Built from scratch for every config, but not from nothing: certificates whose PEM did not
//! change are reused (no re-parse, no key reload), an id whose new material is bad keeps the
//! previous store's key while that one is still valid, and a port keeps its session cache and
//! ticket keys across rebuilds as long as its client authentication did not change, so a
//! config change does not force every client into a full handshake.

use crate::resolver::{ListenerCerts, PortResolver, ServedCert};
use crate::validate::{check_validity, load_certificate, parse_ca_bundle};
use crate::validate::{CertificateError, CertificateInfo};
use fairlead_route::{CertificatePem, Config, ListenerProtocol, TlsMaterial};
use prometheus_client::metrics::counter::Counter;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::{ProducesTickets, ServerSessionMemoryCache, StoresServerSessions};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Sessions remembered per port for resumption by session id (TLS 1.2 and 1.3 stateful).
const SESSION_CACHE_SIZE: usize = 4096;

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
/// certificate under this id before, that one keeps serving (`kept_previous`). CA bundle ids
/// (client certificate authorities) are reported the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsProblem {
    pub id: String,
    pub error: CertificateError,
    pub kept_previous: bool,
}

/// A served certificate with the PEM it came from, so an unchanged Secret is not re-parsed.
struct StoredCert {
    source: CertificatePem,
    served: Arc<ServedCert>,
}

/// A CA bundle in use, with the PEM it came from.
struct StoredBundle {
    source: Vec<u8>,
    anchors: Arc<[CertificateDer<'static>]>,
}

/// Resumption state of a port, carried across rebuilds while `client_roots` stays the same:
/// a session resumed under other client-auth rules would skip the new certificate check.
#[derive(Clone)]
struct PortSessions {
    client_roots: Vec<CertificateDer<'static>>,
    cache: Arc<dyn StoresServerSessions>,
    ticketer: Option<Arc<dyn ProducesTickets>>,
}

struct PortTls {
    config: Arc<ServerConfig>,
    resolver: Arc<PortResolver>,
    sessions: PortSessions,
}

/// Everything TLS termination needs for one routing config. Built whole and swapped whole.
#[derive(Default)]
pub struct TlsStore {
    ports: BTreeMap<u16, PortTls>,
    certs: BTreeMap<String, StoredCert>,
    ca_bundles: BTreeMap<String, StoredBundle>,
}

impl std::fmt::Debug for TlsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStore")
            .field("ports", &self.ports.keys().collect::<Vec<_>>())
            .field("certificates", &self.certs.keys().collect::<Vec<_>>())
            .field("ca_bundles", &self.ca_bundles.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TlsStore {
    /// Builds the store for the HTTPS listeners of `config`. `previous` supplies the last good
    /// certificate for ids whose material is now missing or bad.
    pub fn build(
        config: &Config,
        material: &TlsMaterial,
        previous: Option<&TlsStore>,
        options: &TlsOptions,
        now_unix: i64,
    ) -> (TlsStore, Vec<TlsProblem>) {
        let mut builder = Builder {
            material,
            previous,
            now_unix,
            store: TlsStore::default(),
            problems: Vec::new(),
            refused: BTreeSet::new(),
        };
        let mut by_port: BTreeMap<u16, Vec<&fairlead_route::Listener>> = BTreeMap::new();
        for listener in &config.listeners {
            if listener.protocol == ListenerProtocol::Https && listener.tls.is_some() {
                by_port.entry(listener.port).or_default().push(listener);
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        for (port, listeners) in by_port {
            let mut resolver_input = Vec::with_capacity(listeners.len());
            let mut client_roots: Vec<CertificateDer<'static>> = Vec::new();
            let mut wants_client_auth = false;
            for listener in listeners {
                let Some(tls) = &listener.tls else { continue };
                let certs = tls
                    .certificates
                    .iter()
                    .filter_map(|id| builder.certificate(id))
                    .collect();
                resolver_input.push((
                    listener.hostname.clone(),
                    ListenerCerts::new(listener.id.clone(), certs),
                ));
                for id in &tls.client_ca {
                    wants_client_auth = true;
                    if let Some(anchors) = builder.ca_bundle(id) {
                        for anchor in anchors.iter() {
                            if !client_roots.contains(anchor) {
                                client_roots.push(anchor.clone());
                            }
                        }
                    }
                }
            }
            if resolver_input.iter().all(|(_, certs)| certs.is_empty()) {
                // Every handshake would end in an alert; no config says so more plainly.
                tracing::warn!(
                    port,
                    "HTTPS port has no usable certificate; not serving TLS on it"
                );
                continue;
            }
            if wants_client_auth && client_roots.is_empty() {
                // Fail closed: serving the port without the client check its listeners demand
                // would let any client in. The bundles' own problems say why.
                tracing::error!(
                    port,
                    "HTTPS port requires client certificates but no CA bundle is usable; not serving TLS on it"
                );
                continue;
            }
            let resolver = Arc::new(PortResolver::new(resolver_input, options.unknown_sni.clone()));
            let sessions = previous
                .and_then(|p| p.ports.get(&port))
                .map(|p| &p.sessions)
                .filter(|s| s.client_roots == client_roots)
                .cloned()
                .unwrap_or_else(|| new_sessions(client_roots));
            match server_config(&provider, options.min_version, &resolver, &sessions) {
                Ok(config) => {
                    builder.store.ports.insert(
                        port,
                        PortTls {
                            config,
                            resolver,
                            sessions,
                        },
                    );
                }
                Err(e) => tracing::error!(port, error = %e, "cannot build the TLS config of port"),
            }
        }
        (builder.store, builder.problems)
    }

    /// The server config for an HTTPS port; `None` when the port has no usable certificate.
    pub fn server_config(&self, port: u16) -> Option<Arc<ServerConfig>> {
        self.ports.get(&port).map(|p| p.config.clone())
    }

    /// The id of the listener on `port` a handshake with this SNI was served for (the same
    /// choice the certificate resolver makes); the proxy answers 421 when the request's Host
    /// belongs to another listener.
    pub fn listener_for(&self, port: u16, sni: Option<&str>) -> Option<&str> {
        self.ports.get(&port)?.resolver.listener_for(sni)
    }

    /// Every certificate in use, by id (for the expiry metric).
    pub fn certificates(&self) -> impl Iterator<Item = (&str, &CertificateInfo)> {
        self.certs
            .iter()
            .map(|(id, stored)| (id.as_str(), &stored.served.info))
    }
}

/// One build's working state: the store being filled and the problems found so far.
struct Builder<'a> {
    material: &'a TlsMaterial,
    previous: Option<&'a TlsStore>,
    now_unix: i64,
    store: TlsStore,
    problems: Vec<TlsProblem>,
    /// Ids already found unusable, so an id shared by listeners is reported once.
    refused: BTreeSet<String>,
}

impl Builder<'_> {
    /// The certificate to serve under `id`, loading it on first use.
    fn certificate(&mut self, id: &str) -> Option<Arc<ServedCert>> {
        if let Some(stored) = self.store.certs.get(id) {
            return Some(stored.served.clone());
        }
        if self.refused.contains(id) {
            return None;
        }
        let previous = self.previous.and_then(|p| p.certs.get(id));
        let loaded = match self.material.certificates.get(id) {
            None => Err(CertificateError::Missing),
            Some(pem) => match previous.filter(|stored| &stored.source == pem) {
                Some(same) => check_validity(&same.served.info, self.now_unix)
                    .map(|()| (pem.clone(), same.served.clone())),
                None => load_certificate(&pem.chain, &pem.key, Some(self.now_unix))
                    .map(|l| (pem.clone(), Arc::new(ServedCert::new(l.key, l.info)))),
            },
        };
        let stored = match loaded {
            Ok((source, served)) => StoredCert { source, served },
            Err(error) => {
                let kept =
                    previous.filter(|stored| check_validity(&stored.served.info, self.now_unix).is_ok());
                self.problems.push(TlsProblem {
                    id: id.to_string(),
                    error,
                    kept_previous: kept.is_some(),
                });
                match kept {
                    Some(stored) => StoredCert {
                        source: stored.source.clone(),
                        served: stored.served.clone(),
                    },
                    None => {
                        self.refused.insert(id.to_string());
                        return None;
                    }
                }
            }
        };
        let served = stored.served.clone();
        self.store.certs.insert(id.to_string(), stored);
        Some(served)
    }

    /// The trust anchors of a client CA bundle, loading it on first use.
    fn ca_bundle(&mut self, id: &str) -> Option<Arc<[CertificateDer<'static>]>> {
        if let Some(stored) = self.store.ca_bundles.get(id) {
            return Some(stored.anchors.clone());
        }
        if self.refused.contains(id) {
            return None;
        }
        let previous = self.previous.and_then(|p| p.ca_bundles.get(id));
        let loaded = match self.material.ca_bundles.get(id) {
            None => Err(CertificateError::Missing),
            Some(pem) => match previous.filter(|stored| &stored.source == pem) {
                Some(same) => Ok((pem.clone(), same.anchors.clone())),
                None => parse_ca_bundle(pem).map(|anchors| (pem.clone(), anchors.into())),
            },
        };
        let stored = match loaded {
            Ok((source, anchors)) => StoredBundle { source, anchors },
            Err(error) => {
                self.problems.push(TlsProblem {
                    id: id.to_string(),
                    error,
                    kept_previous: previous.is_some(),
                });
                match previous {
                    Some(stored) => StoredBundle {
                        source: stored.source.clone(),
                        anchors: stored.anchors.clone(),
                    },
                    None => {
                        self.refused.insert(id.to_string());
                        return None;
                    }
                }
            }
        };
        let anchors = stored.anchors.clone();
        self.store.ca_bundles.insert(id.to_string(), stored);
        Some(anchors)
    }
}

fn new_sessions(client_roots: Vec<CertificateDer<'static>>) -> PortSessions {
    let ticketer = match rustls::crypto::aws_lc_rs::Ticketer::new() {
        Ok(ticketer) => Some(ticketer),
        Err(e) => {
            // Stateful resumption still works through the session cache.
            tracing::warn!(error = %e, "cannot create TLS session ticket keys; tickets disabled");
            None
        }
    };
    PortSessions {
        client_roots,
        cache: ServerSessionMemoryCache::new(SESSION_CACHE_SIZE),
        ticketer,
    }
}

fn server_config(
    provider: &Arc<CryptoProvider>,
    min_version: TlsVersion,
    resolver: &Arc<PortResolver>,
    sessions: &PortSessions,
) -> Result<Arc<ServerConfig>, String> {
    let versions: &[&rustls::SupportedProtocolVersion] = match min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("protocol versions: {e}"))?;
    let builder = if sessions.client_roots.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(sessions.client_roots.clone());
        if added == 0 {
            return Err("no usable client CA certificate".to_string());
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| format!("client certificate verifier: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder.with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.session_storage = sessions.cache.clone();
    if let Some(ticketer) = &sessions.ticketer {
        config.ticketer = ticketer.clone();
    }
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_can_be_shared_across_worker_threads() {
        // The proxy publishes the store through an ArcSwap read by every worker.
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TlsStore>();
        assert_send_sync::<TlsOptions>();
    }
}
