//! Client configs for backends reached over TLS (Gateway API BackendTLSPolicy).
//!
//! The backend certificate must chain to the policy's CA bundles (or the system's roots when
//! it names none) and carry the policy's hostname, or, when `subjectAltNames` is set, one of
//! those names instead (a DNS name, wildcards as webpki allows, or a URI such as a SPIFFE id).

use crate::validate::{parse_ca_bundle, CertificateError};
use fairlead_route::{TlsMaterial, UpstreamTls};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, OnceLock};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Why no client config could be built for a backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamTlsError {
    #[error("invalid backend TLS hostname {0:?}")]
    BadServerName(String),
    #[error("CA bundle {id} is missing")]
    MissingCa { id: String },
    #[error("CA bundle {id}: {error}")]
    BadCa { id: String, error: CertificateError },
    #[error("the system has no usable CA certificates")]
    NoSystemRoots,
    #[error("backend TLS config: {0}")]
    Build(String),
}

/// The name sent as SNI to the backend (the policy's hostname).
pub fn server_name(tls: &UpstreamTls) -> Result<ServerName<'static>, UpstreamTlsError> {
    ServerName::try_from(tls.server_name.clone())
        .map_err(|_| UpstreamTlsError::BadServerName(tls.server_name.clone()))
}

/// A rustls client config for a backend: roots from `tls.ca` (the system's when empty), the
/// name check of the policy, ALPN `h2` when `h2` is set, else `http/1.1`.
pub fn upstream_client_config(
    tls: &UpstreamTls,
    material: &TlsMaterial,
    h2: bool,
) -> Result<Arc<ClientConfig>, UpstreamTlsError> {
    // Checked here so a bad name is reported when the config is built, not per connection.
    server_name(tls)?;
    let roots = if tls.ca.is_empty() {
        system_roots()?
    } else {
        let mut roots = RootCertStore::empty();
        for id in &tls.ca {
            let pem = material
                .ca_bundles
                .get(id)
                .ok_or_else(|| UpstreamTlsError::MissingCa { id: id.clone() })?;
            let anchors = parse_ca_bundle(pem).map_err(|error| UpstreamTlsError::BadCa {
                id: id.clone(),
                error,
            })?;
            roots.add_parsable_certificates(anchors);
        }
        Arc::new(roots)
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamTlsError::Build(e.to_string()))?;
    let mut config = if tls.subject_alt_names.is_empty() {
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| UpstreamTlsError::Build(e.to_string()))?;
        builder.with_webpki_verifier(verifier).with_no_client_auth()
    } else {
        let verifier = SanVerifier::new(roots, provider, &tls.subject_alt_names)?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    };
    config.alpn_protocols = if h2 {
        vec![b"h2".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}

/// The system's roots, read once per process (the files do not change under a running pod in
/// a way anyone expects to be picked up without a restart).
fn system_roots() -> Result<Arc<RootCertStore>, UpstreamTlsError> {
    static ROOTS: OnceLock<Option<Arc<RootCertStore>>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::warn!(%error, "reading the system's CA certificates");
            }
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(found.certs);
            (!roots.is_empty()).then(|| Arc::new(roots))
        })
        .clone()
        .ok_or(UpstreamTlsError::NoSystemRoots)
}

/// A name the backend certificate may carry instead of the hostname.
#[derive(Debug)]
enum ExpectedName {
    /// A DNS name or IP address, checked by webpki (wildcards included).
    Host(ServerName<'static>),
    /// A URI SAN, compared exactly.
    Uri(String),
}

/// Chain to the roots as webpki does, then accept any of the expected names instead of the
/// name the connection was opened with.
#[derive(Debug)]
struct SanVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    names: Vec<ExpectedName>,
}

impl SanVerifier {
    fn new(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
        names: &[String],
    ) -> Result<SanVerifier, UpstreamTlsError> {
        if roots.is_empty() {
            return Err(UpstreamTlsError::Build("no usable CA certificate".to_string()));
        }
        let names = names
            .iter()
            .map(|name| {
                if name.contains("://") {
                    Ok(ExpectedName::Uri(name.clone()))
                } else {
                    ServerName::try_from(name.clone())
                        .map(ExpectedName::Host)
                        .map_err(|_| UpstreamTlsError::BadServerName(name.clone()))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(SanVerifier {
            roots,
            provider,
            names,
        })
    }

    fn carries_expected_name(&self, cert: &ParsedCertificate<'_>, der: &[u8]) -> bool {
        let mut uris: Option<Vec<String>> = None;
        self.names.iter().any(|expected| match expected {
            ExpectedName::Host(name) => rustls::client::verify_server_name(cert, name).is_ok(),
            ExpectedName::Uri(uri) => uris.get_or_insert_with(|| uri_sans(der)).contains(uri),
        })
    }
}

fn uri_sans(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some((*uri).to_string()),
            _ => None,
        })
        .collect()
}

impl ServerCertVerifier for SanVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if self.carries_expected_name(&cert, end_entity) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
