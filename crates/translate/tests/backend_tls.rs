//! BackendTLSPolicy: TLS settings for the backends resolving to the targeted Service (port),
//! the policy's status (ancestors, Accepted, ResolvedRefs) and the conflict rule.

mod common;
mod tls_common;

use common::*;
use fairlead_route::{BackendTarget, ServiceBackend, UpstreamProtocol, UpstreamTls};
use fairlead_translate::Translation;
use tls_common::*;

/// A BackendTLSPolicy `default/<name>` created at `created`, with the given targetRefs and
/// validation (flow mappings / sequences).
fn policy(name: &str, created: &str, target_refs: &str, validation: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {{name: {name}, namespace: default, \
         creationTimestamp: \"{created}\", generation: 4}}\nspec:\n  targetRefs: {target_refs}\n  validation: {validation}\n"
    )
}

const APP: &str = "[{group: \"\", kind: Service, name: app}]";
const CA_REF: &str =
    "{hostname: app.example.com, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: app-ca}]}";

/// Service `default/tls-app` with ports `http` 80 and `https` 443 (appProtocol https), one
/// endpoint.
const TWO_PORTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: tls-app, namespace: default}
spec:
  ports:
    - {name: http, port: 80, targetPort: 8080}
    - {name: https, port: 443, targetPort: 8443, appProtocol: https}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: tls-app-1, namespace: default, labels: {kubernetes.io/service-name: tls-app}}
addressType: IPv4
ports: [{name: http, port: 8080}, {name: https, port: 8443}]
endpoints: [{addresses: [10.0.0.9]}]
"#;

/// The route `default/<name>`'s only backend target.
fn target<'a>(t: &'a Translation, name: &str) -> &'a BackendTarget {
    let r = route(
        listener(t, "gateway/default/web/http"),
        &format!("httproute/default/{name}/rule/0"),
    );
    &r.backends[0].target
}

fn service<'a>(t: &'a Translation, name: &str) -> &'a ServiceBackend {
    match target(t, name) {
        BackendTarget::Service(s) => s,
        other => panic!("expected a Service backend, got {other:?}"),
    }
}

fn policy_status<'a>(t: &'a Translation, name: &str) -> &'a fairlead_route::ObjectStatus {
    status(t, "BackendTLSPolicy", Some("default"), name)
}

#[test]
fn a_policy_sets_tls_on_the_backends_of_its_service() {
    let ca = ca_pem();
    let t = run(&[
        GATEWAY,
        &app_service(),
        &route_to("r", "{name: app, port: 80}"),
        &policy("p", "2024-01-01T00:00:00Z", APP, CA_REF),
        &ca_config_map("default", "app-ca", &ca),
    ]);
    let s = service(&t, "r");
    assert_eq!(
        s.tls,
        Some(UpstreamTls {
            server_name: "app.example.com".into(),
            ca: vec!["configmap/default/app-ca".into()],
            subject_alt_names: vec![],
        })
    );
    assert_eq!(s.endpoints, ["10.0.0.1:8080".parse().unwrap()]);
    assert_eq!(t.tls.ca_bundles["configmap/default/app-ca"], ca.as_bytes());
    let p = policy_status(&t, "p");
    assert_eq!(p.generation, Some(4));
    assert_eq!(sr(condition(&p.conditions, "Accepted")), (true, "Accepted"));
    assert_eq!(
        sr(condition(&p.conditions, "ResolvedRefs")),
        (true, "ResolvedRefs")
    );
    assert_eq!(p.parents.len(), 1, "{p:#?}");
    assert_eq!(
        (
            p.parents[0].parent.namespace.as_str(),
            p.parents[0].parent.name.as_str()
        ),
        ("default", "web")
    );
    assert_eq!(p.parents[0].conditions, p.conditions);
    assert!(!t.status.has_problems(), "{:#?}", t.status);
}

#[test]
fn system_roots_and_subject_alt_names() {
    let validation = "{hostname: app.example.com, wellKnownCACertificates: System, subjectAltNames: \
                      [{type: Hostname, hostname: alt.example.com}, {type: URI, uri: \"spiffe://cluster/ns/default/sa/app\"}]}";
    let t = run(&[
        GATEWAY,
        &app_service(),
        &route_to("r", "{name: app, port: 80}"),
        &policy("p", "2024-01-01T00:00:00Z", APP, validation),
    ]);
    let tls = service(&t, "r").tls.clone().unwrap();
    assert!(tls.ca.is_empty(), "no CA ids: the system's roots");
    assert_eq!(
        tls.subject_alt_names,
        ["alt.example.com", "spiffe://cluster/ns/default/sa/app"]
    );
    assert!(condition(&policy_status(&t, "p").conditions, "Accepted").status);
}

#[test]
fn section_name_selects_one_port_and_takes_precedence_there() {
    let ca = ca_pem();
    let whole = "[{group: \"\", kind: Service, name: tls-app}]";
    let one_port = "[{group: \"\", kind: Service, name: tls-app, sectionName: https}]";
    let t = run(&[
        GATEWAY,
        TWO_PORTS,
        &route_to("plain", "{name: tls-app, port: 80}"),
        &route_to("secure", "{name: tls-app, port: 443}"),
        // The whole-Service policy is older; the port policy still wins on its port.
        &policy(
            "whole",
            "2024-01-01T00:00:00Z",
            whole,
            "{hostname: whole.example.com, wellKnownCACertificates: System}",
        ),
        &policy("port", "2024-02-01T00:00:00Z", one_port, CA_REF),
        &ca_config_map("default", "app-ca", &ca),
    ]);
    assert_eq!(
        service(&t, "plain").tls.as_ref().unwrap().server_name,
        "whole.example.com"
    );
    let secure = service(&t, "secure");
    assert_eq!(secure.tls.as_ref().unwrap().server_name, "app.example.com");
    assert_eq!(
        secure.protocol,
        UpstreamProtocol::Http1,
        "appProtocol https is HTTP/1.1 over TLS"
    );
    for name in ["whole", "port"] {
        assert!(
            condition(&policy_status(&t, name).conditions, "Accepted").status,
            "{name}"
        );
    }
}

#[test]
fn a_tls_app_protocol_needs_a_policy() {
    let t = run(&[
        GATEWAY,
        TWO_PORTS,
        &route_to("secure", "{name: tls-app, port: 443}"),
    ]);
    assert!(matches!(target(&t, "secure"), BackendTarget::Invalid { .. }));
    let c = condition(&parent(&t, "secure").conditions, "ResolvedRefs");
    assert_eq!(sr(c), (false, "UnsupportedProtocol"));
    assert!(c.message.contains("BackendTLSPolicy"), "{}", c.message);
}

#[test]
fn of_two_policies_for_one_target_the_older_wins() {
    let t = run(&[
        GATEWAY,
        &app_service(),
        &route_to("r", "{name: app, port: 80}"),
        &policy(
            "newer",
            "2024-02-01T00:00:00Z",
            APP,
            "{hostname: newer.example.com, wellKnownCACertificates: System}",
        ),
        &policy(
            "older",
            "2024-01-01T00:00:00Z",
            APP,
            "{hostname: older.example.com, wellKnownCACertificates: System}",
        ),
    ]);
    assert_eq!(
        service(&t, "r").tls.as_ref().unwrap().server_name,
        "older.example.com"
    );
    assert!(condition(&policy_status(&t, "older").conditions, "Accepted").status);
    let lost = condition(&policy_status(&t, "newer").conditions, "Accepted");
    assert_eq!(sr(lost), (false, "Conflicted"));
    assert_mentions(&lost.message, &["default/older", "Service default/app"]);

    // Same age: the first by namespace/name wins.
    let t = run(&[
        GATEWAY,
        &app_service(),
        &route_to("r", "{name: app, port: 80}"),
        &policy(
            "b",
            "2024-01-01T00:00:00Z",
            APP,
            "{hostname: b.example.com, wellKnownCACertificates: System}",
        ),
        &policy(
            "a",
            "2024-01-01T00:00:00Z",
            APP,
            "{hostname: a.example.com, wellKnownCACertificates: System}",
        ),
    ]);
    assert_eq!(
        service(&t, "r").tls.as_ref().unwrap().server_name,
        "a.example.com"
    );
    assert_eq!(
        sr(condition(&policy_status(&t, "b").conditions, "Accepted")),
        (false, "Conflicted")
    );
}

#[test]
fn a_policy_without_a_valid_ca_fails_its_backends_and_says_why() {
    let missing =
        "{hostname: app.example.com, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: nonexistent}]}";
    let malformed =
        "{hostname: app.example.com, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: bad-ca}]}";
    let wrong_kind =
        "{hostname: app.example.com, caCertificateRefs: [{group: \"\", kind: Service, name: app}]}";
    let cases = [
        (
            missing,
            "InvalidCACertificateRef",
            "ConfigMap default/nonexistent not found",
        ),
        (malformed, "InvalidCACertificateRef", "ConfigMap default/bad-ca"),
        (wrong_kind, "InvalidKind", "kind Service"),
    ];
    for (validation, reason, says) in cases {
        let t = run(&[
            GATEWAY,
            &app_service(),
            &route_to("r", "{name: app, port: 80}"),
            &policy("p", "2024-01-01T00:00:00Z", APP, validation),
            &ca_config_map("default", "bad-ca", "garbage"),
        ]);
        let p = policy_status(&t, "p");
        let resolved = condition(&p.conditions, "ResolvedRefs");
        assert_eq!(sr(resolved), (false, reason), "{validation}");
        assert!(
            resolved.message.contains(says),
            "{says:?} not in {}",
            resolved.message
        );
        assert_eq!(
            sr(condition(&p.conditions, "Accepted")),
            (false, "NoValidCACertificate"),
            "{validation}"
        );
        assert_eq!(p.parents.len(), 1, "reported on the Gateway using it");
        // Connections fail (the proxy answers 500) rather than going out in cleartext, and
        // the route's own references still resolved.
        match target(&t, "r") {
            BackendTarget::Invalid { reason } => {
                assert!(reason.contains("BackendTLSPolicy default/p"), "{reason}")
            }
            other => panic!("expected an invalid backend, got {other:?}"),
        }
        let route_status = parent(&t, "r");
        assert!(condition(&route_status.conditions, "Accepted").status);
        assert!(condition(&route_status.conditions, "ResolvedRefs").status);
        assert!(t.tls.ca_bundles.is_empty());
    }
}

#[test]
fn invalid_settings_are_not_accepted_and_fail_closed() {
    let cases = [
        ("{hostname: app.example.com}", "must be set"),
        ("{hostname: app.example.com, wellKnownCACertificates: Custom}", "\"Custom\" is not supported"),
        (
            "{hostname: app.example.com, wellKnownCACertificates: System, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: app-ca}]}",
            "only one of",
        ),
        ("{hostname: \"\", wellKnownCACertificates: System}", "hostname is required"),
        ("{hostname: a.example.com, wellKnownCACertificates: System, subjectAltNames: [{type: URI}]}", "subjectAltNames[0]"),
    ];
    for (validation, says) in cases {
        let t = run(&[
            GATEWAY,
            &app_service(),
            &route_to("r", "{name: app, port: 80}"),
            &policy("p", "2024-01-01T00:00:00Z", APP, validation),
            &ca_config_map("default", "app-ca", &ca_pem()),
        ]);
        let accepted = condition(&policy_status(&t, "p").conditions, "Accepted");
        assert_eq!(sr(accepted), (false, "Invalid"), "{validation}");
        assert!(
            accepted.message.contains(says),
            "{says:?} not in {}",
            accepted.message
        );
        assert!(
            matches!(target(&t, "r"), BackendTarget::Invalid { .. }),
            "{validation}"
        );
    }
}

#[test]
fn missing_or_unsupported_targets_are_reported() {
    let cases = [
        (
            "[{group: \"\", kind: Service, name: nope}]",
            "TargetNotFound",
            "Service default/nope not found",
        ),
        (
            "[{group: \"\", kind: Service, name: app, sectionName: grpc}]",
            "TargetNotFound",
            "no port named \"grpc\"",
        ),
        (
            "[{group: apps, kind: Deployment, name: app}]",
            "Invalid",
            "not supported",
        ),
    ];
    for (targets, reason, says) in cases {
        let t = run(&[
            GATEWAY,
            &app_service(),
            &route_to("r", "{name: app, port: 80}"),
            &policy(
                "p",
                "2024-01-01T00:00:00Z",
                targets,
                "{hostname: a.example.com, wellKnownCACertificates: System}",
            ),
        ]);
        let p = policy_status(&t, "p");
        let accepted = condition(&p.conditions, "Accepted");
        assert_eq!(sr(accepted), (false, reason), "{targets}");
        assert!(
            accepted.message.contains(says),
            "{says:?} not in {}",
            accepted.message
        );
        assert!(p.parents.is_empty());
        assert_eq!(service(&t, "r").tls, None, "{targets}");
    }
}

#[test]
fn mirrors_grpc_and_ingress_backends_use_the_policy_too() {
    let validation = "{hostname: app.example.com, wellKnownCACertificates: System}";
    let mirror = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: m, namespace: default}
spec:
  parentRefs: [{name: web}]
  hostnames: [m.example.com]
  rules:
    - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}}}]
"#;
    let grpc = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g, namespace: default}
spec:
  parentRefs: [{name: web}]
  hostnames: [g.example.com]
  rules: [{backendRefs: [{name: app, port: 80}]}]
"#;
    let ingress = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: default}\nspec:\n  \
                   ingressClassName: fairlead\n  defaultBackend: {service: {name: app, port: {number: 80}}}\n";
    let t = run(&[
        GATEWAY,
        &app_service(),
        mirror,
        grpc,
        ingress,
        &policy("p", "2024-01-01T00:00:00Z", APP, validation),
    ]);
    let http = listener(&t, "gateway/default/web/http");
    let m = route(http, "httproute/default/m/rule/0");
    let mirrored = m
        .filters
        .iter()
        .find_map(|f| match f {
            fairlead_route::Filter::RequestMirror(m) => Some(&m.backend),
            _ => None,
        })
        .expect("the mirror is kept");
    assert_eq!(mirrored.tls.as_ref().unwrap().server_name, "app.example.com");
    let g = route(http, "grpcroute/default/g/rule/0");
    match &g.backends[0].target {
        BackendTarget::Service(s) => {
            assert_eq!(
                s.protocol,
                UpstreamProtocol::H2c,
                "gRPC: HTTP/2, by ALPN over TLS"
            );
            assert!(s.tls.is_some());
        }
        other => panic!("{other:?}"),
    }
    let i = route(listener(&t, "ingress/http"), "ingress/default/i/default");
    assert!(matches!(&i.backends[0].target, BackendTarget::Service(s) if s.tls.is_some()));
    let p = policy_status(&t, "p");
    assert_eq!(p.parents.len(), 1, "one Gateway, reached by two routes: {p:#?}");
}

#[test]
fn a_mirror_to_a_backend_whose_policy_fails_sends_nothing() {
    let mirror = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: m, namespace: default}
spec:
  parentRefs: [{name: web}]
  rules:
    - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}}}]
"#;
    let t = run(&[
        GATEWAY,
        &app_service(),
        mirror,
        &policy("p", "2024-01-01T00:00:00Z", APP, "{hostname: app.example.com}"),
    ]);
    let m = route(
        listener(&t, "gateway/default/web/http"),
        "httproute/default/m/rule/0",
    );
    let backend = m
        .filters
        .iter()
        .find_map(|f| match f {
            fairlead_route::Filter::RequestMirror(m) => Some(&m.backend),
            _ => None,
        })
        .expect("the mirror is kept");
    assert!(
        backend.endpoints.is_empty() && backend.tls.is_none(),
        "{backend:?}"
    );
    assert!(condition(&parent(&t, "m").conditions, "ResolvedRefs").status);
}

#[test]
fn policies_on_services_no_route_of_ours_uses_have_no_ancestors() {
    let t = run(&[
        GATEWAY,
        &app_service(),
        &policy(
            "p",
            "2024-01-01T00:00:00Z",
            APP,
            "{hostname: a.example.com, wellKnownCACertificates: System}",
        ),
    ]);
    let p = policy_status(&t, "p");
    assert!(condition(&p.conditions, "Accepted").status);
    assert!(p.parents.is_empty());
}
