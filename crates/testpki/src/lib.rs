//! fairlead-testpki: test-only certificates and TLS plumbing shared by the workspace's tests.
//! It is a dev-dependency only and never published; nothing here is fit for production (keys
//! are made on the fly, one RSA key is shared by every certificate that asks for RSA, a client
//! may accept any certificate, and helpers panic where a test should fail).
//!
//! - [`certs`]: a [`TestCa`] issuing [`Leaf`] certificates (RSA, ECDSA, Ed25519; DNS or URI
//!   SANs; chosen or expired validity), self-signed certificates, and their PEM/DER forms.
//! - [`client`]: a rustls [`ClientSpec`] (roots or accept-any, ALPN, client certificate,
//!   TLS 1.2 only, SNI on or off) and [`connect`], which reports the certificate served and the
//!   ALPN protocol chosen.
//! - [`server`]: a [`TestServer`] on 127.0.0.1 that reports every handshake's outcome and hands
//!   accepted connections to the test.
//!
//! Every rustls config uses the aws-lc-rs provider passed explicitly, like the code under test.

pub mod certs;
pub mod client;
pub mod server;

pub use certs::{
    base64, dns_params, dns_params_between, dns_params_for_days, material, pem_encode, roots_from_pem,
    self_signed, self_signed_with, unix_now, uri_params, Alg, Leaf, TestCa,
};
pub use client::{bounded, connect, serial_of, ClientSpec, Connected, Verify, STEP};
pub use server::{server_config, ServerSide, TestServer};
