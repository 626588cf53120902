//! Client certificate validation (Gateway `spec.tls.frontend`): CA bundles from ConfigMaps and
//! Secrets become the client CAs of the HTTPS listeners on the matching ports, and bad refs give
//! the listener conditions the spec names.

mod common;
mod tls_common;

use common::*;
use fairlead_route::ListenerStatus;
use fairlead_translate::Translation;
use tls_common::*;

/// Gateway `default/web`: HTTP on 80, HTTPS `https` on 443 and `https-alt` on 8443 (both with
/// the Secret `default/server`), and `spec.tls.frontend` as given (YAML indented 4 spaces).
fn mtls_gateway(frontend: &str) -> String {
    format!(
        r#"{class}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: web, namespace: default}}
spec:
  gatewayClassName: fairlead
  tls:
    frontend:
{frontend}
  listeners:
    - {{name: http, protocol: HTTP, port: 80}}
    - {{name: https, protocol: HTTPS, port: 443, tls: {{certificateRefs: [{{name: server}}]}}}}
    - {{name: https-alt, protocol: HTTPS, port: 8443, tls: {{certificateRefs: [{{name: server}}]}}}}
"#,
        class = CLASS
    )
}

/// `default.validation.caCertificateRefs` with the given flow sequence of refs.
fn default_refs(refs: &str) -> String {
    format!("      default:\n        validation:\n          caCertificateRefs: {refs}")
}

fn server() -> String {
    tls_secret("default", "server", &cert(&["web.example.com"]))
}

fn client_ca<'a>(t: &'a Translation, listener_name: &str) -> &'a [String] {
    let l = listener(t, &format!("gateway/default/web/{listener_name}"));
    &l.tls.as_ref().unwrap().client_ca
}

fn https(t: &Translation) -> &ListenerStatus {
    listener_status(t, "default", "web", "https")
}

#[test]
fn a_config_map_ca_becomes_the_client_ca_of_every_https_listener() {
    let ca = ca_pem();
    let t = run(&[
        &mtls_gateway(&default_refs("[{group: \"\", kind: ConfigMap, name: client-ca}]")),
        &server(),
        &ca_config_map("default", "client-ca", &ca),
    ]);
    for name in ["https", "https-alt"] {
        assert_eq!(client_ca(&t, name), ["configmap/default/client-ca"], "{name}");
        let s = listener_status(&t, "default", "web", name);
        for c in ["Accepted", "ResolvedRefs", "Programmed"] {
            assert!(condition(&s.conditions, c).status, "{name} {c}: {s:#?}");
        }
    }
    assert_eq!(t.tls.ca_bundles["configmap/default/client-ca"], ca.as_bytes());
    assert_eq!(listener(&t, "gateway/default/web/http").tls, None);
}

#[test]
fn a_missing_ca_refuses_only_the_https_listeners() {
    let t = run(&[
        &mtls_gateway(&default_refs(
            "[{group: \"\", kind: ConfigMap, name: nonexistent}]",
        )),
        &server(),
    ]);
    let s = https(&t);
    let resolved = condition(&s.conditions, "ResolvedRefs");
    assert_eq!(sr(resolved), (false, "InvalidCACertificateRef"));
    assert_mentions(
        &resolved.message,
        &[
            "spec.tls.frontend.default.validation.caCertificateRefs[0]",
            "ConfigMap default/nonexistent",
            "not found",
        ],
    );
    assert_eq!(
        sr(condition(&s.conditions, "Accepted")),
        (false, "NoValidCACertificate")
    );
    assert!(!condition(&s.conditions, "Programmed").status);
    // Not served: no connection may skip client certificate verification.
    assert_eq!(listener_ids(&t), ["gateway/default/web/http"]);
    let http = listener_status(&t, "default", "web", "http");
    for c in ["Accepted", "ResolvedRefs", "Programmed"] {
        assert!(condition(&http.conditions, c).status, "{c}");
    }
}

#[test]
fn unsupported_kinds_missing_keys_and_bad_pem_each_have_their_reason() {
    let cases = [
        (
            "[{group: \"\", kind: Service, name: client-ca}]",
            String::new(),
            "InvalidCACertificateKind",
            "kind Service",
        ),
        (
            "[{group: example.com, kind: ConfigMap, name: client-ca}]",
            String::new(),
            "InvalidCACertificateKind",
            "group \"example.com\"",
        ),
        (
            "[{group: \"\", kind: ConfigMap, name: client-ca}]",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: client-ca, namespace: default}\ndata: {other: x}\n".to_string(),
            "InvalidCACertificateRef",
            "has no ca.crt",
        ),
        (
            "[{group: \"\", kind: ConfigMap, name: client-ca}]",
            ca_config_map("default", "client-ca", "not a certificate"),
            "InvalidCACertificateRef",
            "ConfigMap default/client-ca: no CA certificate",
        ),
        (
            "[{group: \"\", kind: Secret, name: client-ca}]",
            ca_secret("default", "client-ca", "not a certificate"),
            "InvalidCACertificateRef",
            "Secret default/client-ca",
        ),
    ];
    for (refs, object, reason, says) in cases {
        let server = server();
        let gw = mtls_gateway(&default_refs(refs));
        let mut docs = vec![gw.as_str(), server.as_str()];
        if !object.is_empty() {
            docs.push(&object);
        }
        let t = run(&docs);
        let s = https(&t);
        let c = condition(&s.conditions, "ResolvedRefs");
        assert_eq!(sr(c), (false, reason), "{refs}");
        assert!(c.message.contains(says), "{says:?} missing from {}", c.message);
        assert_eq!(
            sr(condition(&s.conditions, "Accepted")),
            (false, "NoValidCACertificate"),
            "{refs}"
        );
        assert!(t.tls.ca_bundles.is_empty(), "{refs}");
    }
}

#[test]
fn with_one_valid_ca_the_listener_serves_and_reports_the_others() {
    let ca = ca_pem();
    let t = run(&[
        &mtls_gateway(&default_refs(
            "[{group: \"\", kind: ConfigMap, name: gone}, {group: \"\", kind: Secret, name: client-ca}]",
        )),
        &server(),
        &ca_secret("default", "client-ca", &ca),
    ]);
    let s = https(&t);
    assert_eq!(
        sr(condition(&s.conditions, "ResolvedRefs")),
        (false, "InvalidCACertificateRef")
    );
    assert!(condition(&s.conditions, "Accepted").status);
    assert!(condition(&s.conditions, "Programmed").status);
    assert_eq!(client_ca(&t, "https"), ["secret/default/client-ca"]);
    assert_eq!(
        t.tls.ca_bundles.keys().collect::<Vec<_>>(),
        ["secret/default/client-ca"]
    );
}

#[test]
fn per_port_settings_replace_the_default_on_their_port() {
    let (a, b) = (ca_pem(), ca_pem());
    let frontend = format!(
        "{}\n      perPort:\n        - port: 8443\n          tls:\n            validation:\n              \
         caCertificateRefs: [{{group: \"\", kind: ConfigMap, name: ca-b}}]",
        default_refs("[{group: \"\", kind: ConfigMap, name: ca-a}]")
    );
    let t = run(&[
        &mtls_gateway(&frontend),
        &server(),
        &ca_config_map("default", "ca-a", &a),
        &ca_config_map("default", "ca-b", &b),
    ]);
    assert_eq!(client_ca(&t, "https"), ["configmap/default/ca-a"]);
    assert_eq!(client_ca(&t, "https-alt"), ["configmap/default/ca-b"]);

    // A perPort entry without validation turns client certificates off on its port.
    let frontend = format!(
        "{}\n      perPort:\n        - {{port: 8443, tls: {{}}}}",
        default_refs("[{group: \"\", kind: ConfigMap, name: ca-a}]")
    );
    let t = run(&[
        &mtls_gateway(&frontend),
        &server(),
        &ca_config_map("default", "ca-a", &a),
    ]);
    assert_eq!(client_ca(&t, "https"), ["configmap/default/ca-a"]);
    assert!(client_ca(&t, "https-alt").is_empty());
}

#[test]
fn a_ca_in_another_namespace_needs_a_reference_grant() {
    let ca = ca_pem();
    let gw = mtls_gateway(&default_refs(
        "[{group: \"\", kind: ConfigMap, name: client-ca, namespace: pki}]",
    ));
    let map = ca_config_map("pki", "client-ca", &ca);
    let server = server();
    let wrong_kind = gateway_grant("pki", "default", "Secret", None);
    let t = run(&[&gw, &server, &map, &wrong_kind]);
    let s = https(&t);
    let c = condition(&s.conditions, "ResolvedRefs");
    assert_eq!(sr(c), (false, "RefNotPermitted"));
    assert_mentions(&c.message, &["ConfigMap pki/client-ca", "ReferenceGrant"]);
    assert_eq!(
        sr(condition(&s.conditions, "Accepted")),
        (false, "NoValidCACertificate")
    );

    let grant = gateway_grant("pki", "default", "ConfigMap", Some("client-ca"));
    let t = run(&[&gw, &server, &map, &grant]);
    assert!(condition(&https(&t).conditions, "ResolvedRefs").status);
    assert_eq!(client_ca(&t, "https"), ["configmap/pki/client-ca"]);
}

#[test]
fn insecure_fallback_requests_no_client_certificate_and_says_so() {
    let ca = ca_pem();
    let frontend = format!(
        "{}\n          mode: AllowInsecureFallback",
        default_refs("[{group: \"\", kind: ConfigMap, name: client-ca}]")
    );
    let t = run(&[
        &mtls_gateway(&frontend),
        &server(),
        &ca_config_map("default", "client-ca", &ca),
    ]);
    assert!(client_ca(&t, "https").is_empty());
    let accepted = condition(&https(&t).conditions, "Accepted");
    assert!(accepted.status);
    assert!(
        accepted.message.contains("AllowInsecureFallback"),
        "{}",
        accepted.message
    );
}
