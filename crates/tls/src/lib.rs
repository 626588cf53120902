//! fairlead-tls: everything fairlead needs to know about certificates, without Kubernetes.
//!
//! - [`validate_certificate`] / [`validate_ca_bundle`]: pure checks translation uses to report
//!   a bad Secret (PEM that does not parse, a key that does not match, an expired certificate)
//!   in status, naming the reason.
//! - [`TlsStore`]: per HTTPS port, the certificates of its listeners and a rustls
//!   `ServerConfig` whose certificate resolver picks by SNI (exact name, then the most specific
//!   wildcard, then the listener's default). Rebuilt on every config change and swapped by the
//!   proxy as a whole; a certificate id whose new material is bad keeps its last good key.
//! - [`upstream_client_config`]: rustls client configs for backends behind a BackendTLSPolicy.
//!
//! Every rustls config is built with the aws-lc-rs provider passed explicitly, so nothing
//! depends on a process-default provider being installed.

mod resolver;
mod store;
mod upstream;
mod validate;

pub use store::{TlsOptions, TlsProblem, TlsStore, TlsVersion};
pub use upstream::{server_name, upstream_client_config, UpstreamTlsError};
pub use validate::{validate_ca_bundle, validate_certificate, CertificateError, CertificateInfo, KeyKind};
