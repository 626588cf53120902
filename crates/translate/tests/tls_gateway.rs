//! Gateway HTTPS listeners: certificateRefs to Secrets (kind, ReferenceGrant, type, content,
//! validity period), the listener conditions the spec names for each problem, and
//! OverlappingTLSConfig.

mod common;
mod tls_common;

use common::*;
use fairlead_route::{ListenerProtocol, ListenerStatus, ListenerTls};
use fairlead_translate::{Options, Translation};
use tls_common::*;

/// A Gateway `default/web` with an HTTP listener on 80 and an HTTPS listener `https` on 443
/// whose `tls` is the given flow mapping.
fn https_gateway(tls: &str) -> String {
    gateway(&format!(
        "    - {{name: http, protocol: HTTP, port: 80}}\n    - {{name: https, protocol: HTTPS, port: 443, tls: {tls}}}"
    ))
}

/// A route `default/r` attached to every listener of `default/web`.
const ROUTE: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: web}]
  rules: [{}]
"#;

fn https(t: &Translation) -> &ListenerStatus {
    listener_status(t, "default", "web", "https")
}

fn at(now: Option<i64>) -> Options {
    Options {
        now_unix: now,
        ..Options::default()
    }
}

#[test]
fn a_valid_certificate_makes_an_https_listener_with_the_routes() {
    let pem = cert(&["web.example.com"]);
    let t = run(&[
        &https_gateway("{certificateRefs: [{name: web-cert}]}"),
        &tls_secret("default", "web-cert", &pem),
        ROUTE,
    ]);
    let l = listener(&t, "gateway/default/web/https");
    assert_eq!(l.port, 443);
    assert_eq!(l.protocol, ListenerProtocol::Https);
    assert_eq!(
        l.tls,
        Some(ListenerTls {
            certificates: vec!["secret/default/web-cert".into()],
            client_ca: vec![],
        })
    );
    assert_eq!(route_ids(l), ["httproute/default/r/rule/0"]);
    let material = &t.tls.certificates["secret/default/web-cert"];
    assert_eq!(material.chain, pem.chain.as_bytes());
    assert_eq!(material.key, pem.key.as_bytes());
    // The HTTP listener is untouched.
    let http = listener(&t, "gateway/default/web/http");
    assert_eq!((http.protocol, &http.tls), (ListenerProtocol::Http, &None));

    let s = https(&t);
    for c in ["Accepted", "ResolvedRefs", "Programmed"] {
        assert!(condition(&s.conditions, c).status, "{c}: {s:#?}");
    }
    assert_eq!(s.attached_routes, 1);
    assert_eq!(s.supported_kinds, ["HTTPRoute", "GRPCRoute"]);
    assert!(!has_condition(&s.conditions, "OverlappingTLSConfig"));
    assert!(!t.status.has_problems(), "{:#?}", t.status);
    // The config (served by /routes) names the certificate but never carries the key.
    let json = serde_json::to_string(&t.config).unwrap();
    assert!(json.contains("secret/default/web-cert"), "{json}");
    assert!(!json.contains("PRIVATE KEY"), "{json}");
}

#[test]
fn base64_data_is_read_like_string_data() {
    let pem = cert(&["web.example.com"]);
    let t = run(&[
        &https_gateway("{certificateRefs: [{name: web-cert}]}"),
        &tls_secret_data("default", "web-cert", &pem),
    ]);
    assert!(condition(&https(&t).conditions, "ResolvedRefs").status);
    assert_eq!(
        t.tls.certificates["secret/default/web-cert"].chain,
        pem.chain.as_bytes()
    );
}

#[test]
fn a_missing_secret_is_an_invalid_certificate_ref_but_its_id_stays_listed() {
    let t = run(&[
        &https_gateway("{certificateRefs: [{group: \"\", kind: Secret, name: nonexistent-certificate}]}"),
        ROUTE,
    ]);
    let s = https(&t);
    let c = condition(&s.conditions, "ResolvedRefs");
    assert_eq!(sr(c), (false, "InvalidCertificateRef"));
    assert_mentions(
        &c.message,
        &["Secret default/nonexistent-certificate", "not found"],
    );
    assert_eq!(sr(condition(&s.conditions, "Programmed")), (false, "Invalid"));
    assert_eq!(sr(condition(&s.conditions, "Accepted")), (true, "Accepted"));
    // The proxy keeps serving the last good certificate under the id, if it had one.
    let l = listener(&t, "gateway/default/web/https");
    assert_eq!(
        l.tls.as_ref().unwrap().certificates,
        ["secret/default/nonexistent-certificate"]
    );
    assert_eq!(route_ids(l), ["httproute/default/r/rule/0"]);
    assert!(t.tls.certificates.is_empty());
    assert!(t.status.has_problems());
    // The Gateway is accepted (the listener is served) but not every listener is programmed.
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(sr(condition(&gw.conditions, "Accepted")), (true, "Accepted"));
    let programmed = condition(&gw.conditions, "Programmed");
    assert_eq!(sr(programmed), (true, "Programmed"));
    assert_eq!(programmed.message, "1 of 2 listeners are programmed");

    let only_https = gateway(
        "    - {name: https, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: nonexistent}]}}",
    );
    let t = run(&[&only_https]);
    let gw = status(&t, "Gateway", Some("default"), "web");
    assert_eq!(sr(condition(&gw.conditions, "Accepted")), (true, "Accepted"));
    assert_eq!(sr(condition(&gw.conditions, "Programmed")), (false, "Invalid"));
    assert_eq!(listener_ids(&t), ["gateway/default/web/https"]);
}

#[test]
fn a_secret_of_another_type_is_invalid_and_its_keys_are_not_used() {
    let pem = cert(&["web.example.com"]);
    let t = run(&[
        &https_gateway("{certificateRefs: [{name: opaque}]}"),
        &secret_typed("default", "opaque", "Opaque", &pem.chain, &pem.key),
    ]);
    let c = condition(&https(&t).conditions, "ResolvedRefs");
    assert_eq!(sr(c), (false, "InvalidCertificateRef"));
    assert_mentions(
        &c.message,
        &["Secret default/opaque", "type Opaque", "kubernetes.io/tls"],
    );
    assert!(
        t.tls.certificates.is_empty(),
        "a Secret reported invalid must not be served"
    );
}

#[test]
fn malformed_pem_and_mismatched_keys_are_reported_with_the_reason() {
    let a = cert(&["a.example.com"]);
    let b = cert(&["b.example.com"]);
    let cases = [
        ("Hello world\n", "Hello world\n", "no certificate"),
        (a.chain.as_str(), "not a key\n", "no private key"),
        (a.chain.as_str(), b.key.as_str(), "does not match"),
    ];
    for (chain, key, reason) in cases {
        let t = run(&[
            &https_gateway("{certificateRefs: [{name: bad}]}"),
            &secret_typed("default", "bad", "kubernetes.io/tls", chain, key),
        ]);
        let s = https(&t);
        let c = condition(&s.conditions, "ResolvedRefs");
        assert_eq!(sr(c), (false, "InvalidCertificateRef"), "{reason}");
        assert_mentions(
            &c.message,
            &["tls.certificateRefs[0]", "Secret default/bad", reason],
        );
        assert_eq!(sr(condition(&s.conditions, "Programmed")), (false, "Invalid"));
        // The material is still handed over: the proxy decides to keep its last good key.
        assert!(t.tls.certificates.contains_key("secret/default/bad"), "{reason}");
    }
}

#[test]
fn the_validity_period_is_checked_only_against_the_time_passed_in() {
    let pem = cert(&["web.example.com"]);
    let docs = [
        https_gateway("{certificateRefs: [{name: web-cert}]}"),
        tls_secret("default", "web-cert", &pem),
    ];
    let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
    for now in [None, Some(NOW_2025)] {
        let t = run_with(&docs, &at(now));
        assert!(condition(&https(&t).conditions, "ResolvedRefs").status, "{now:?}");
    }
    let expired = run_with(&docs, &at(Some(NOW_2035)));
    let c = condition(&https(&expired).conditions, "ResolvedRefs");
    assert_eq!(sr(c), (false, "InvalidCertificateRef"));
    assert_mentions(&c.message, &["expired", "2030-01-01"]);
    let early = run_with(&docs, &at(Some(NOW_2019)));
    let c = condition(&https(&early).conditions, "ResolvedRefs");
    assert_mentions(&c.message, &["not valid before", "2020-01-01"]);
}

#[test]
fn one_valid_certificate_keeps_the_listener_programmed() {
    let pem = cert(&["web.example.com"]);
    let t = run(&[
        &https_gateway("{certificateRefs: [{name: missing}, {name: web-cert}, {name: web-cert}]}"),
        &tls_secret("default", "web-cert", &pem),
    ]);
    let s = https(&t);
    assert_eq!(
        sr(condition(&s.conditions, "ResolvedRefs")),
        (false, "InvalidCertificateRef")
    );
    assert_eq!(sr(condition(&s.conditions, "Programmed")), (true, "Programmed"));
    let l = listener(&t, "gateway/default/web/https");
    assert_eq!(
        l.tls.as_ref().unwrap().certificates,
        ["secret/default/missing", "secret/default/web-cert"],
        "in certificateRefs order, each id once"
    );
}

#[test]
fn unsupported_group_or_kind_is_an_invalid_certificate_ref_and_nothing_is_served() {
    for reference in [
        "{group: wrong.group.company.io, kind: Secret, name: web-cert}",
        "{group: \"\", kind: WrongKind, name: web-cert}",
    ] {
        let pem = cert(&["web.example.com"]);
        let t = run(&[
            &https_gateway(&format!("{{certificateRefs: [{reference}]}}")),
            &tls_secret("default", "web-cert", &pem),
        ]);
        let s = https(&t);
        let c = condition(&s.conditions, "ResolvedRefs");
        assert_eq!(sr(c), (false, "InvalidCertificateRef"), "{reference}");
        assert!(c.message.contains("not supported"), "{}", c.message);
        assert_eq!(sr(condition(&s.conditions, "Programmed")), (false, "Invalid"));
        assert_eq!(listener_ids(&t), ["gateway/default/web/http"], "{reference}");
    }
}

#[test]
fn an_https_listener_without_certificate_refs_is_not_served() {
    for tls in ["{}", "{certificateRefs: []}"] {
        let t = run(&[&https_gateway(tls)]);
        let c = condition(&https(&t).conditions, "ResolvedRefs");
        assert_eq!(sr(c), (false, "InvalidCertificateRef"), "{tls}");
        assert_eq!(listener_ids(&t), ["gateway/default/web/http"]);
    }
    let t = run(&[&gateway("    - {name: https, protocol: HTTPS, port: 443}")]);
    assert_eq!(
        sr(condition(&https(&t).conditions, "ResolvedRefs")),
        (false, "InvalidCertificateRef")
    );
    assert!(t.config.listeners.is_empty());
}

#[test]
fn a_secret_in_another_namespace_needs_a_reference_grant() {
    let pem = cert(&["web.example.com"]);
    let secret = tls_secret("certs", "certificate", &pem);
    let tls = "{certificateRefs: [{group: \"\", kind: Secret, name: certificate, namespace: certs}]}";
    let bad_grants = [
        // Wrong namespace, wrong from kind, wrong from group, wrong to kind, wrong name.
        gateway_grant("other", "default", "Secret", Some("certificate")),
        gateway_grant("certs", "default", "Secret", Some("not-it")),
        gateway_grant("certs", "elsewhere", "Secret", None),
        gateway_grant("certs", "default", "Service", None),
        gateway_grant("certs", "default", "Secret", None)
            .replace("kind: Gateway", "kind: HTTPRoute")
            .replace("name: g-default-secret-all", "name: g-route"),
        gateway_grant("certs", "default", "Secret", None)
            .replace("group: gateway.networking.k8s.io", "group: example.com")
            .replace("name: g-default-secret-all", "name: g-group"),
    ];
    let gw = https_gateway(tls);
    let mut docs: Vec<&str> = vec![&gw, &secret];
    docs.extend(bad_grants.iter().map(String::as_str));
    assert_eq!(load(&docs).reference_grants().count(), bad_grants.len());
    let t = run(&docs);
    let s = https(&t);
    let c = condition(&s.conditions, "ResolvedRefs");
    assert_eq!(sr(c), (false, "RefNotPermitted"));
    assert_mentions(&c.message, &["Secret certs/certificate", "ReferenceGrant"]);
    assert_eq!(sr(condition(&s.conditions, "Programmed")), (false, "Invalid"));
    assert_eq!(listener_ids(&t), ["gateway/default/web/http"]);
    assert!(t.tls.certificates.is_empty(), "a refused reference is not read");

    for grant in [
        gateway_grant("certs", "default", "Secret", Some("certificate")),
        gateway_grant("certs", "default", "Secret", None),
    ] {
        let t = run(&[&gw, &secret, &grant]);
        let s = https(&t);
        assert!(condition(&s.conditions, "ResolvedRefs").status, "{s:#?}");
        let l = listener(&t, "gateway/default/web/https");
        assert_eq!(l.tls.as_ref().unwrap().certificates, ["secret/certs/certificate"]);
        assert!(t.tls.certificates.contains_key("secret/certs/certificate"));
    }
}

#[test]
fn passthrough_on_an_https_listener_is_not_accepted() {
    let t = run(&[&https_gateway("{mode: Passthrough}")]);
    let s = https(&t);
    let c = condition(&s.conditions, "Accepted");
    assert_eq!(sr(c), (false, "UnsupportedValue"));
    assert_mentions(&c.message, &["Passthrough", "TLSRoute"]);
    assert_eq!(listener_ids(&t), ["gateway/default/web/http"]);
    // Terminate, spelled out, is the default.
    let pem = cert(&["web.example.com"]);
    let t = run(&[
        &https_gateway("{mode: Terminate, certificateRefs: [{name: c}]}"),
        &tls_secret("default", "c", &pem),
    ]);
    assert!(condition(&https(&t).conditions, "Accepted").status);
}

#[test]
fn overlapping_https_hostnames_on_one_port_are_flagged() {
    let pem = cert(&["example.com", "*.example.com"]);
    let listener = |name: &str, port: u16, host: &str| {
        format!(
            "    - {{name: {name}, protocol: HTTPS, port: {port}, hostname: \"{host}\", tls: {{certificateRefs: [{{name: c}}]}}}}\n"
        )
    };
    let listeners = [
        listener("foo-https", 443, "foo.example.com"),
        listener("bar-https", 443, "bar.bar.example.com"),
        listener("wildcard-https", 443, "*.example.com"),
        listener("not-overlapping-https", 443, "example.com"),
        listener("not-overlapping-other-port", 9443, "foo.example.com"),
    ]
    .concat();
    let t = run(&[&gateway(listeners.trim_end()), &tls_secret("default", "c", &pem)]);
    for name in ["foo-https", "bar-https", "wildcard-https"] {
        let s = listener_status(&t, "default", "web", name);
        let c = condition(&s.conditions, "OverlappingTLSConfig");
        assert_eq!(sr(c), (true, "OverlappingHostnames"), "{name}");
        assert!(condition(&s.conditions, "Accepted").status, "{name}");
    }
    let wildcard = listener_status(&t, "default", "web", "wildcard-https");
    assert_mentions(
        &condition(&wildcard.conditions, "OverlappingTLSConfig").message,
        &["foo-https", "bar-https"],
    );
    for name in ["not-overlapping-https", "not-overlapping-other-port"] {
        let s = listener_status(&t, "default", "web", name);
        assert!(!has_condition(&s.conditions, "OverlappingTLSConfig"), "{name}");
    }
    // Informational: it does not make the status a problem.
    assert!(!t.status.has_problems(), "{:#?}", t.status);
}

/// An Ingress of our class, served on the Ingress HTTP port (8080 in the default options).
const INGRESS: &str = r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: site, namespace: default}
spec:
  ingressClassName: fairlead
  defaultBackend: {service: {name: web, port: {number: 80}}}
"#;

#[test]
fn a_gateway_listener_wanting_another_protocol_on_the_ingress_port_is_conflicted() {
    let pem = cert(&["web.example.com"]);
    let gw = gateway(
        "    - {name: https, protocol: HTTPS, port: 8080, tls: {certificateRefs: [{name: web-cert}]}}",
    );
    let secret = tls_secret("default", "web-cert", &pem);
    let t = run(&[&gw, &secret, INGRESS]);
    let c = condition(&https(&t).conditions, "Conflicted");
    assert_eq!(sr(c), (true, "ProtocolConflict"));
    assert!(c.message.contains("Ingress rules (--http-port)"), "{}", c.message);
    let on_8080: Vec<_> = t.config.listeners.iter().filter(|l| l.port == 8080).collect();
    assert_eq!(on_8080.len(), 1, "{on_8080:?}");
    assert_eq!(
        on_8080[0].protocol,
        ListenerProtocol::Http,
        "the Ingress keeps its port"
    );

    // Without an Ingress of ours the port is free for the Gateway.
    let t = run(&[&gw, &secret]);
    assert_eq!(listener(&t, "gateway/default/web/https").port, 8080);
    assert_eq!(
        sr(condition(&https(&t).conditions, "Conflicted")),
        (false, "NoConflicts")
    );
}

#[test]
fn a_gateway_http_listener_on_the_ingress_port_shares_it() {
    let gw = gateway("    - {name: http, protocol: HTTP, port: 8080}");
    let t = run(&[&gw, INGRESS, ROUTE]);
    let l = listener_status(&t, "default", "web", "http");
    assert_eq!(sr(condition(&l.conditions, "Conflicted")), (false, "NoConflicts"));
    let on_8080 = t.config.listeners.iter().filter(|l| l.port == 8080).count();
    assert_eq!(
        on_8080, 2,
        "the Gateway listener and the Ingress listener are merged on one port"
    );
}
