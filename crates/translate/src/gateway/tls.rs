//! HTTPS listeners of a Gateway: `tls.certificateRefs` (Secrets, ReferenceGrant for another
//! namespace) and the Gateway's client certificate validation (`spec.tls.frontend`), turned
//! into the listener's [`ListenerTls`] and the problems its status reports.
//!
//! Choices where the spec leaves room:
//! - A permitted reference to a Secret is listed in `ListenerTls.certificates` even when the
//!   Secret is missing or invalid, so the proxy keeps serving the last good certificate it had
//!   under that id; the listener then reports ResolvedRefs=False and, when no certificate is
//!   valid, Programmed=False. A listener with no permitted Secret at all is not served.
//! - Client CA refs: only the valid bundles are used. When none is valid the listener is not
//!   accepted (NoValidCACertificate) and not served, so no connection skips verification.
//! - `AllowInsecureFallback`: client certificates are not requested. fairlead passes no client
//!   identity to backends, so accepting a connection without verifying its certificate and
//!   not asking for one behave the same; the Accepted message says so.

use super::listener::ListenerModel;
use crate::backends::RefProblem;
use crate::conditions::reason;
use crate::resources::ResourceSet;
use crate::tls::{self, CaRef, CaRefError, SecretType};
use crate::{grants, meta};
use fairlead_route::{ListenerTls, TlsMaterial};
use gateway_api::gateways::{
    Gateway, GatewayTlsFrontendDefaultValidationMode as DefaultMode,
    GatewayTlsFrontendPerPortTlsValidationMode as PerPortMode,
};

/// What listener TLS is resolved against.
pub(crate) struct TlsInputs<'r, 'm> {
    pub resources: &'r ResourceSet,
    pub now_unix: Option<i64>,
    pub material: &'m mut TlsMaterial,
}

/// Resolves the certificates and client CAs of an HTTPS listener; other listeners are left
/// alone.
pub(super) fn configure(listener: &mut ListenerModel<'_>, gateway: &Gateway, inputs: &mut TlsInputs<'_, '_>) {
    if !listener.terminates_tls() {
        return;
    }
    let gateway_ns = meta::namespace(&gateway.metadata);
    let certificates = certificates(listener, gateway_ns, inputs);
    let mut tls = ListenerTls {
        certificates,
        client_ca: Vec::new(),
    };
    if let Some(validation) = frontend_validation(gateway, listener.spec.port) {
        tls.client_ca = client_cas(listener, gateway_ns, &validation, inputs);
    }
    listener.tls = Some(tls);
}

/// The certificate ids of the listener, recording every reference that does not resolve.
fn certificates(
    listener: &mut ListenerModel<'_>,
    gateway_ns: &str,
    inputs: &mut TlsInputs<'_, '_>,
) -> Vec<String> {
    let refs = listener
        .spec
        .tls
        .as_ref()
        .and_then(|t| t.certificate_refs.as_deref())
        .unwrap_or_default();
    if refs.is_empty() {
        let message = "an HTTPS listener needs at least one tls.certificateRefs entry".to_string();
        listener
            .tls_problems
            .push(RefProblem::new(reason::INVALID_CERTIFICATE_REF, message.clone()));
        listener.unservable = Some(message);
        return Vec::new();
    }
    let mut ids: Vec<String> = Vec::new();
    let mut valid = 0;
    for (i, r) in refs.iter().enumerate() {
        let group = r.group.as_deref().unwrap_or_default();
        let kind = r.kind.as_deref().unwrap_or("Secret");
        let ns = r.namespace.as_deref().unwrap_or(gateway_ns);
        let name = r.name.as_str();
        let field = format!("tls.certificateRefs[{i}]");
        if !group.is_empty() || kind != "Secret" {
            let group = if group.is_empty() { "core" } else { group };
            let message =
                format!("{field}: {kind} {ns}/{name} (group {group}) is not supported; use a core Secret");
            listener
                .tls_problems
                .push(RefProblem::new(reason::INVALID_CERTIFICATE_REF, message));
            continue;
        }
        if !gateway_may_use(inputs.resources, gateway_ns, "Secret", ns, name) {
            let message = format!(
                "{field}: Secret {ns}/{name} is in another namespace and no ReferenceGrant in namespace \
                 {ns} allows Gateways from namespace {gateway_ns} to use it"
            );
            listener
                .tls_problems
                .push(RefProblem::new(reason::REF_NOT_PERMITTED, message));
            continue;
        }
        let id = tls::secret_id(ns, name);
        if !ids.contains(&id) {
            ids.push(id);
        }
        let checked = tls::certificate(
            inputs.resources,
            ns,
            name,
            SecretType::RequireTls,
            inputs.now_unix,
            inputs.material,
        );
        match checked {
            Ok(()) => valid += 1,
            Err(why) => listener.tls_problems.push(RefProblem::new(
                reason::INVALID_CERTIFICATE_REF,
                format!("{field}: {why}"),
            )),
        }
    }
    if ids.is_empty() {
        listener.unservable =
            Some("no certificateRef can be used, so there is no certificate to serve".to_string());
    } else if valid == 0 {
        listener.no_valid_certificate = Some(
            "no certificateRef holds a valid certificate; the proxy keeps serving the last good \
             certificate it had under these ids, if any"
                .to_string(),
        );
    }
    ids
}

/// `spec.tls.frontend` for one port: the perPort entry for it when there is one (it replaces
/// the default, even when it has no validation), else the default.
struct FrontendValidation<'g> {
    /// Field path of the refs, for messages.
    field: String,
    refs: Vec<CaRef<'g>>,
    insecure_fallback: bool,
}

fn frontend_validation(gateway: &Gateway, port: i32) -> Option<FrontendValidation<'_>> {
    let frontend = gateway.spec.tls.as_ref()?.frontend.as_ref()?;
    let per_port = frontend.per_port.as_deref().unwrap_or_default();
    if let Some((j, entry)) = per_port.iter().enumerate().find(|(_, p)| p.port == port) {
        let validation = entry.tls.validation.as_ref()?;
        return Some(FrontendValidation {
            field: format!("spec.tls.frontend.perPort[{j}].tls.validation.caCertificateRefs"),
            refs: validation
                .ca_certificate_refs
                .iter()
                .map(|r| ca_ref(&r.group, &r.kind, r.namespace.as_deref(), &r.name))
                .collect(),
            insecure_fallback: validation.mode == Some(PerPortMode::AllowInsecureFallback),
        });
    }
    let validation = frontend.default.validation.as_ref()?;
    Some(FrontendValidation {
        field: "spec.tls.frontend.default.validation.caCertificateRefs".to_string(),
        refs: validation
            .ca_certificate_refs
            .iter()
            .map(|r| ca_ref(&r.group, &r.kind, r.namespace.as_deref(), &r.name))
            .collect(),
        insecure_fallback: validation.mode == Some(DefaultMode::AllowInsecureFallback),
    })
}

/// A frontend CA ref; `namespace` is filled in by the caller when unset.
fn ca_ref<'g>(group: &'g str, kind: &'g str, namespace: Option<&'g str>, name: &'g str) -> CaRef<'g> {
    CaRef {
        group,
        kind,
        namespace: namespace.unwrap_or_default(),
        name,
    }
}

/// The valid client CA bundle ids; refuses the listener when there is none.
fn client_cas(
    listener: &mut ListenerModel<'_>,
    gateway_ns: &str,
    validation: &FrontendValidation<'_>,
    inputs: &mut TlsInputs<'_, '_>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, r) in validation.refs.iter().enumerate() {
        let field = format!("{}[{i}]", validation.field);
        let ns = if r.namespace.is_empty() {
            gateway_ns
        } else {
            r.namespace
        };
        let reference = CaRef { namespace: ns, ..*r };
        let supported_kind = r.group.is_empty() && matches!(r.kind, "ConfigMap" | "Secret");
        if supported_kind && !gateway_may_use(inputs.resources, gateway_ns, r.kind, ns, r.name) {
            let message = format!(
                "{field}: {} {ns}/{} is in another namespace and no ReferenceGrant in namespace {ns} \
                 allows Gateways from namespace {gateway_ns} to use it",
                r.kind, r.name
            );
            listener
                .tls_problems
                .push(RefProblem::new(reason::REF_NOT_PERMITTED, message));
            continue;
        }
        match tls::ca_bundle(inputs.resources, &reference, inputs.material) {
            Ok(id) => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Err(CaRefError::UnsupportedKind(why)) => listener.tls_problems.push(RefProblem::new(
                reason::INVALID_CA_CERTIFICATE_KIND,
                format!("{field}: {why}"),
            )),
            Err(CaRefError::Invalid(why)) => listener.tls_problems.push(RefProblem::new(
                reason::INVALID_CA_CERTIFICATE_REF,
                format!("{field}: {why}"),
            )),
        }
    }
    if ids.is_empty() {
        listener.refuse(
            reason::NO_VALID_CA_CERTIFICATE,
            format!(
                "{} holds no valid CA certificate, so client certificates cannot be verified",
                validation.field
            ),
        );
    }
    if validation.insecure_fallback {
        listener.accepted_note = Some(
            "client certificate validation mode AllowInsecureFallback: client certificates are not \
             requested, as fairlead passes no client identity to backends"
                .to_string(),
        );
        return Vec::new();
    }
    ids
}

/// A Gateway may use an object in its own namespace, or in another one that grants it.
fn gateway_may_use(resources: &ResourceSet, gateway_ns: &str, kind: &str, ns: &str, name: &str) -> bool {
    ns == gateway_ns
        || grants::permits(
            resources,
            &grants::From {
                kind: "Gateway",
                namespace: gateway_ns,
            },
            &grants::To {
                kind,
                namespace: ns,
                name,
            },
        )
}
