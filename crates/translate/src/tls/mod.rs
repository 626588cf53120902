//! TLS objects as translation reads them: certificate Secrets and CA bundles (ConfigMaps and
//! Secrets with `ca.crt`), checked with `fairlead_tls` so a bad one is reported in status, and
//! put into [`TlsMaterial`] under the ids the config refers to.
//!
//! Ids: `secret/{namespace}/{name}` for certificates and Secret CA bundles,
//! `configmap/{namespace}/{name}` for ConfigMap CA bundles.
//!
//! [`backend`] turns BackendTLSPolicies into upstream TLS settings; the listener side lives in
//! `gateway::tls` and `ingress::tls`, which use the readers here.

pub(crate) mod backend;

use crate::resources::ResourceSet;
use fairlead_route::{CertificatePem, TlsMaterial};
use k8s_openapi::api::core::v1::Secret;

/// The Secret type Gateway API requires for listener certificates.
pub(crate) const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";
const CERT_KEY: &str = "tls.crt";
const KEY_KEY: &str = "tls.key";
/// The key holding a CA bundle in a ConfigMap or Secret.
pub(crate) const CA_KEY: &str = "ca.crt";

pub(crate) fn secret_id(namespace: &str, name: &str) -> String {
    format!("secret/{namespace}/{name}")
}

pub(crate) fn config_map_id(namespace: &str, name: &str) -> String {
    format!("configmap/{namespace}/{name}")
}

/// A Secret's value for `key`. `stringData` wins over `data`: the API server merges it over
/// `data` on write, and manifests written by hand often use it.
fn secret_value<'s>(secret: &'s Secret, key: &str) -> Option<&'s [u8]> {
    let string = secret
        .string_data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(String::as_bytes);
    string.or_else(|| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.as_slice())
    })
}

/// How strictly a certificate Secret's type is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretType {
    /// Gateway API: only `kubernetes.io/tls` Secrets (its Core support level).
    RequireTls,
    /// Ingress: any type with `tls.crt` and `tls.key`, as Ingress controllers commonly accept.
    AnyWithKeys,
}

/// Reads and checks the certificate Secret `namespace/name`. Its PEM goes into `material`
/// whenever the Secret is of an acceptable type and holds both keys, even when the check
/// fails: the proxy then keeps serving the last good certificate it had under that id rather
/// than a wrong one. Returns why the certificate cannot be served, naming the Secret.
pub(crate) fn certificate(
    resources: &ResourceSet,
    namespace: &str,
    name: &str,
    secret_type: SecretType,
    now_unix: Option<i64>,
    material: &mut TlsMaterial,
) -> Result<(), String> {
    let Some(secret) = resources.secret(namespace, name) else {
        return Err(format!("Secret {namespace}/{name} not found"));
    };
    let type_ = secret.type_.as_deref().unwrap_or("Opaque");
    if secret_type == SecretType::RequireTls && type_ != TLS_SECRET_TYPE {
        return Err(format!(
            "Secret {namespace}/{name} has type {type_}; certificates must be in a {TLS_SECRET_TYPE} Secret"
        ));
    }
    let (chain, key) = match (secret_value(secret, CERT_KEY), secret_value(secret, KEY_KEY)) {
        (Some(chain), Some(key)) => (chain, key),
        (None, _) => return Err(format!("Secret {namespace}/{name} has no {CERT_KEY}")),
        (_, None) => return Err(format!("Secret {namespace}/{name} has no {KEY_KEY}")),
    };
    material.certificates.insert(
        secret_id(namespace, name),
        CertificatePem {
            chain: chain.to_vec(),
            key: key.to_vec(),
        },
    );
    fairlead_tls::validate_certificate(chain, key, now_unix)
        .map(|_| ())
        .map_err(|e| format!("Secret {namespace}/{name}: {e}"))
}

/// A CA certificate reference as written, from whichever generated type holds it.
pub(crate) struct CaRef<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// Why a CA certificate reference cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CaRefError {
    /// Not a core ConfigMap or Secret.
    UnsupportedKind(String),
    /// Missing object, no `ca.crt`, or a bundle without a usable certificate.
    Invalid(String),
}

/// Resolves a CA reference (the caller has checked the namespace is allowed) to its id,
/// storing the bundle in `material` when it holds at least one certificate.
pub(crate) fn ca_bundle(
    resources: &ResourceSet,
    reference: &CaRef<'_>,
    material: &mut TlsMaterial,
) -> Result<String, CaRefError> {
    let CaRef {
        group,
        kind,
        namespace,
        name,
    } = *reference;
    if !group.is_empty() {
        return Err(CaRefError::UnsupportedKind(format!(
            "CA certificate ref {namespace}/{name} has group {group:?}; only core ConfigMaps and \
             Secrets are supported"
        )));
    }
    let (id, bundle) = match kind {
        "ConfigMap" => {
            let Some(map) = resources.config_map(namespace, name) else {
                return Err(CaRefError::Invalid(format!(
                    "ConfigMap {namespace}/{name} not found"
                )));
            };
            let text = map
                .data
                .as_ref()
                .and_then(|d| d.get(CA_KEY))
                .map(String::as_bytes);
            let binary = map
                .binary_data
                .as_ref()
                .and_then(|d| d.get(CA_KEY))
                .map(|b| b.0.as_slice());
            (config_map_id(namespace, name), text.or(binary))
        }
        "Secret" => {
            let Some(secret) = resources.secret(namespace, name) else {
                return Err(CaRefError::Invalid(format!(
                    "Secret {namespace}/{name} not found"
                )));
            };
            (secret_id(namespace, name), secret_value(secret, CA_KEY))
        }
        other => {
            return Err(CaRefError::UnsupportedKind(format!(
                "CA certificate ref {namespace}/{name} has kind {other}; only ConfigMap and Secret \
                 are supported"
            )))
        }
    };
    let Some(bundle) = bundle else {
        return Err(CaRefError::Invalid(format!(
            "{kind} {namespace}/{name} has no {CA_KEY}"
        )));
    };
    fairlead_tls::validate_ca_bundle(bundle)
        .map_err(|e| CaRefError::Invalid(format!("{kind} {namespace}/{name}: {e}")))?;
    material.ca_bundles.insert(id.clone(), bundle.to_vec());
    Ok(id)
}
