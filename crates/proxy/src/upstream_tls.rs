//! TLS to backends (BackendTLSPolicy): one rustls client config per distinct policy setting,
//! built when a routing state is built — never per request — and kept across states while the
//! setting and the CA material behind it stay the same.
//!
//! A setting whose client config cannot be built (a CA bundle missing or unparsable) still gets
//! an entry: every connection through it fails, which the client sees as 502 (the spec requires
//! a 5xx when a CA certificate reference is invalid).

use fairlead_route::{TlsMaterial, UpstreamProtocol, UpstreamTls};
use rustls_pki_types::ServerName;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// What makes two TLS upstreams interchangeable: the same policy settings and the same CA
/// material behind its ids. Part of the pool key, so a pool never mixes plain connections with
/// TLS ones, nor connections verified against different names or roots.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TlsKey {
    settings: UpstreamTls,
    /// Hash of the CA bundles `settings.ca` names: new CA material means new connections.
    ca_material: u64,
}

/// How connections to one TLS upstream are opened.
pub(crate) struct UpstreamTlsClient {
    pub(crate) key: TlsKey,
    /// The connector and the name sent as SNI, or why there is none.
    pub(crate) connector: Result<(tokio_rustls::TlsConnector, ServerName<'static>), Arc<str>>,
}

impl std::fmt::Debug for UpstreamTlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTlsClient")
            .field("server_name", &self.key.settings.server_name)
            .field("usable", &self.connector.is_ok())
            .finish()
    }
}

/// Cache key: the settings, and whether HTTP/2 is offered by ALPN (the configs differ).
type CacheKey = (TlsKey, bool);

/// The clients one routing state uses.
pub(crate) type UpstreamTlsClients = HashMap<CacheKey, Arc<UpstreamTlsClient>>;

/// The clients of one state being built, reusing those of the previous state.
pub(crate) struct UpstreamTlsCache<'a> {
    material: &'a TlsMaterial,
    previous: UpstreamTlsClients,
    /// Everything this state uses; becomes `previous` for the next build.
    built: RefCell<UpstreamTlsClients>,
}

impl<'a> UpstreamTlsCache<'a> {
    pub(crate) fn new(material: &'a TlsMaterial, previous: UpstreamTlsClients) -> UpstreamTlsCache<'a> {
        UpstreamTlsCache {
            material,
            previous,
            built: RefCell::new(UpstreamTlsClients::new()),
        }
    }

    /// The client for `tls` with `protocol` inside (H2c over TLS offers `h2` by ALPN).
    pub(crate) fn client(&self, tls: &UpstreamTls, protocol: UpstreamProtocol) -> Arc<UpstreamTlsClient> {
        let h2 = protocol == UpstreamProtocol::H2c;
        let key = TlsKey {
            settings: tls.clone(),
            ca_material: ca_fingerprint(tls, self.material),
        };
        let cache_key = (key, h2);
        if let Some(client) = self.built.borrow().get(&cache_key) {
            return Arc::clone(client);
        }
        let client = match self.previous.get(&cache_key) {
            Some(client) => Arc::clone(client),
            None => Arc::new(build(cache_key.0.clone(), self.material, h2)),
        };
        self.built.borrow_mut().insert(cache_key, Arc::clone(&client));
        client
    }

    /// The clients the built state uses, for the next build to reuse.
    pub(crate) fn into_built(self) -> UpstreamTlsClients {
        self.built.into_inner()
    }
}

fn build(key: TlsKey, material: &TlsMaterial, h2: bool) -> UpstreamTlsClient {
    let connector = fairlead_tls::upstream_client_config(&key.settings, material, h2)
        .map_err(|err| err.to_string())
        .and_then(|config| {
            let name = fairlead_tls::server_name(&key.settings).map_err(|err| err.to_string())?;
            Ok((tokio_rustls::TlsConnector::from(config), name))
        })
        .map_err(|reason| {
            tracing::warn!(server_name = %key.settings.server_name, %reason, "backend TLS cannot be set up; its requests fail");
            Arc::<str>::from(reason)
        });
    UpstreamTlsClient { key, connector }
}

/// Hash of the CA bundles `tls` names, in order; a missing bundle hashes as absent.
fn ca_fingerprint(tls: &UpstreamTls, material: &TlsMaterial) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for id in &tls.ca {
        material.ca_bundles.get(id).hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(name: &str, ca: &[&str]) -> UpstreamTls {
        UpstreamTls {
            server_name: name.into(),
            ca: ca.iter().map(|s| (*s).to_owned()).collect(),
            subject_alt_names: Vec::new(),
        }
    }

    #[test]
    fn new_ca_material_changes_the_key_and_same_material_keeps_it() {
        let mut material = TlsMaterial::default();
        material
            .ca_bundles
            .insert("configmap/ns/ca".into(), b"one".to_vec());
        let settings = tls("backend.example", &["configmap/ns/ca"]);
        let first = ca_fingerprint(&settings, &material);
        assert_eq!(first, ca_fingerprint(&settings, &material));
        material
            .ca_bundles
            .insert("configmap/ns/ca".into(), b"two".to_vec());
        assert_ne!(first, ca_fingerprint(&settings, &material));
        material.ca_bundles.clear();
        assert_ne!(first, ca_fingerprint(&settings, &material));
    }

    #[test]
    fn a_setting_is_built_once_per_state_and_reused_by_the_next() {
        let material = TlsMaterial::default();
        let settings = tls("backend.example", &[]);
        let cache = UpstreamTlsCache::new(&material, UpstreamTlsClients::new());
        let a = cache.client(&settings, UpstreamProtocol::Http1);
        let b = cache.client(&settings, UpstreamProtocol::Http1);
        assert!(Arc::ptr_eq(&a, &b));
        let h2 = cache.client(&settings, UpstreamProtocol::H2c);
        assert!(!Arc::ptr_eq(&a, &h2), "ALPN differs, so the config does");
        let next = UpstreamTlsCache::new(&material, cache.into_built());
        assert!(Arc::ptr_eq(&a, &next.client(&settings, UpstreamProtocol::Http1)));
    }

    #[test]
    fn a_missing_ca_bundle_leaves_a_client_that_refuses_to_connect() {
        let material = TlsMaterial::default();
        let cache = UpstreamTlsCache::new(&material, UpstreamTlsClients::new());
        let client = cache.client(
            &tls("backend.example", &["configmap/ns/gone"]),
            UpstreamProtocol::Http1,
        );
        assert!(client.connector.is_err());
    }
}
