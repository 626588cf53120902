//! SNI certificate selection for one HTTPS port.
//!
//! Two choices, both by lookups prepared when the store is built (no scan per handshake):
//! 1. the listener, as the route table chooses it: listener hostname exact, then the most
//!    specific `*.` wildcard (covering one or more labels), then the listener without hostname;
//! 2. within it, the certificate: a DNS SAN equal to the SNI, else a wildcard SAN covering its
//!    first label (X.509 wildcards cover exactly one label, so there is one candidate suffix),
//!    else the listener's first certificate. Among equally good certificates an ECDSA one wins
//!    when the client offered a scheme it can sign with.

use crate::validate::{CertificateInfo, KeyKind};
use prometheus_client::metrics::counter::Counter;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// Every scheme rustls can sign with; probed once per key to learn which it supports.
const ALL_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP521_SHA512,
    SignatureScheme::ED25519,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];

/// A certificate the store serves, shared by every port and listener that references it.
pub(crate) struct ServedCert {
    pub(crate) key: Arc<CertifiedKey>,
    pub(crate) info: CertificateInfo,
    /// The signature schemes this key can produce, so a handshake checks the client's offer
    /// without asking the key (which allocates a signer).
    schemes: Vec<SignatureScheme>,
}

impl ServedCert {
    pub(crate) fn new(key: CertifiedKey, info: CertificateInfo) -> ServedCert {
        let schemes = ALL_SCHEMES
            .iter()
            .copied()
            .filter(|scheme| key.key.choose_scheme(&[*scheme]).is_some())
            .collect();
        ServedCert {
            key: Arc::new(key),
            info,
            schemes,
        }
    }

    fn signs_any(&self, offered: &[SignatureScheme]) -> bool {
        self.schemes.iter().any(|scheme| offered.contains(scheme))
    }
}

/// One listener's certificates with their SAN lookups.
pub(crate) struct ListenerCerts {
    id: String,
    /// Usable certificates in `certificateRefs` order; the first is the default.
    certs: Vec<Arc<ServedCert>>,
    exact: HashMap<String, Vec<usize>>,
    /// `*.example.com` stored under `example.com`.
    wildcard: HashMap<String, Vec<usize>>,
}

impl ListenerCerts {
    pub(crate) fn new(id: String, certs: Vec<Arc<ServedCert>>) -> ListenerCerts {
        let mut exact: HashMap<String, Vec<usize>> = HashMap::new();
        let mut wildcard: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, cert) in certs.iter().enumerate() {
            for name in &cert.info.dns_names {
                let (map, key) = match name.strip_prefix("*.") {
                    Some(suffix) => (&mut wildcard, suffix),
                    None => (&mut exact, name.as_str()),
                };
                let slot = map.entry(key.to_string()).or_default();
                // A certificate listing the same name twice is still one candidate.
                if !slot.contains(&index) {
                    slot.push(index);
                }
            }
        }
        ListenerCerts {
            id,
            certs,
            exact,
            wildcard,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    fn choose(&self, sni: Option<&str>, offered: &[SignatureScheme]) -> Option<&Arc<ServedCert>> {
        if let Some(name) = sni {
            let tiers = [
                self.exact.get(name),
                name.split_once('.')
                    .and_then(|(_, parent)| self.wildcard.get(parent)),
            ];
            for candidates in tiers.into_iter().flatten() {
                if let Some(cert) = self.best_of(candidates, offered) {
                    return Some(cert);
                }
            }
        }
        self.certs.first()
    }

    /// ECDSA the client can verify, else any the client can verify, else the first (the
    /// handshake then fails on schemes, which is the honest outcome).
    fn best_of(&self, candidates: &[usize], offered: &[SignatureScheme]) -> Option<&Arc<ServedCert>> {
        let certs = || candidates.iter().filter_map(|index| self.certs.get(*index));
        certs()
            .find(|cert| cert.info.key_kind == KeyKind::Ecdsa && cert.signs_any(offered))
            .or_else(|| certs().find(|cert| cert.signs_any(offered)))
            .or_else(|| certs().next())
    }
}

/// The listeners of one port and how an SNI picks among them.
pub(crate) struct PortResolver {
    listeners: Vec<ListenerCerts>,
    exact: HashMap<String, usize>,
    /// `*.example.com` listeners stored under `example.com`.
    wildcard: HashMap<String, usize>,
    catch_all: Option<usize>,
    unknown_sni: Counter,
}

impl std::fmt::Debug for PortResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortResolver")
            .field(
                "listeners",
                &self.listeners.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl PortResolver {
    /// `listeners` in config order, each with its hostname; the first of duplicate hostnames
    /// wins (translation reports such conflicts).
    pub(crate) fn new(listeners: Vec<(Option<String>, ListenerCerts)>, unknown_sni: Counter) -> PortResolver {
        let mut resolver = PortResolver {
            listeners: Vec::with_capacity(listeners.len()),
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            catch_all: None,
            unknown_sni,
        };
        for (index, (hostname, certs)) in listeners.into_iter().enumerate() {
            match hostname.as_deref().map(normalize) {
                None => {
                    resolver.catch_all.get_or_insert(index);
                }
                Some(host) if host.is_empty() || host == "*" => {
                    resolver.catch_all.get_or_insert(index);
                }
                Some(host) => match host.strip_prefix("*.") {
                    Some(suffix) => {
                        resolver.wildcard.entry(suffix.to_string()).or_insert(index);
                    }
                    None => {
                        resolver.exact.entry(host.into_owned()).or_insert(index);
                    }
                },
            }
            resolver.listeners.push(certs);
        }
        resolver
    }

    fn listener(&self, sni: Option<&str>) -> Option<&ListenerCerts> {
        let index = match sni {
            // Without SNI nothing says which listener is meant: the catch-all, else the first.
            None => self
                .catch_all
                .or(if self.listeners.is_empty() { None } else { Some(0) }),
            Some(name) => self.exact.get(name).copied().or_else(|| {
                let mut rest = name;
                while let Some((_, parent)) = rest.split_once('.') {
                    if let Some(index) = self.wildcard.get(parent) {
                        return Some(*index);
                    }
                    rest = parent;
                }
                self.catch_all
            }),
        };
        index.and_then(|index| self.listeners.get(index))
    }

    /// The listener id a handshake with this SNI is served for.
    pub(crate) fn listener_for(&self, sni: Option<&str>) -> Option<&str> {
        let sni = sni.map(normalize);
        self.listener(sni.as_deref()).map(|listener| listener.id.as_str())
    }

    fn choose(&self, sni: Option<&str>, offered: &[SignatureScheme]) -> Option<&Arc<ServedCert>> {
        self.listener(sni)?.choose(sni, offered)
    }
}

impl ResolvesServerCert for PortResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = client_hello.server_name().map(normalize);
        match self.choose(sni.as_deref(), client_hello.signature_schemes()) {
            Some(cert) => Some(cert.key.clone()),
            None => {
                // rustls answers `None` with an alert; the counter is how operators see it.
                self.unknown_sni.inc();
                tracing::debug!(sni = sni.as_deref(), "no certificate for SNI; handshake refused");
                None
            }
        }
    }
}

/// Lowercase without a trailing dot; allocates only when there is something to lowercase.
fn normalize(name: &str) -> Cow<'_, str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(hostnames: &[(&str, Option<&str>)]) -> PortResolver {
        let listeners = hostnames
            .iter()
            .map(|(id, host)| {
                (
                    host.map(str::to_string),
                    ListenerCerts::new(id.to_string(), Vec::new()),
                )
            })
            .collect();
        PortResolver::new(listeners, Counter::default())
    }

    #[test]
    fn listener_hostnames_are_normalized_like_request_hosts() {
        let resolver = port(&[
            ("upper", Some("API.Example.com.")),
            ("wild", Some("*.Example.COM")),
        ]);
        assert_eq!(resolver.listener_for(Some("api.example.com")), Some("upper"));
        assert_eq!(resolver.listener_for(Some("API.EXAMPLE.COM.")), Some("upper"));
        assert_eq!(resolver.listener_for(Some("x.example.com")), Some("wild"));
        assert_eq!(resolver.listener_for(Some("example.com")), None);
    }

    #[test]
    fn star_and_empty_hostnames_are_catch_alls_and_the_first_duplicate_wins() {
        let resolver = port(&[
            ("first", Some("a.example.com")),
            ("second", Some("a.example.com")),
            ("star", Some("*")),
            ("empty", Some("")),
        ]);
        assert_eq!(resolver.listener_for(Some("a.example.com")), Some("first"));
        assert_eq!(resolver.listener_for(Some("b.example.com")), Some("star"));
        assert_eq!(resolver.listener_for(None), Some("star"));
    }

    #[test]
    fn without_listeners_nothing_is_chosen() {
        let resolver = port(&[]);
        assert_eq!(resolver.listener_for(None), None);
        assert_eq!(resolver.listener_for(Some("a.example.com")), None);
    }
}
