//! Ingress `spec.tls`: the shared HTTPS listener, its certificates (oldest Ingress first, each
//! Secret once, in the Ingress's namespace) and the Ingress status for bad Secrets.

mod common;
mod tls_common;

use common::*;
use fairlead_route::{ListenerProtocol, ListenerTls};
use fairlead_translate::Options;
use tls_common::*;

/// An Ingress `<ns>/<name>` of our class created at `created`, routing `host` to app:80, with
/// `spec.tls` as given (a flow sequence, or empty for none).
fn ingress(ns: &str, name: &str, created: &str, host: &str, tls: &str) -> String {
    let tls = if tls.is_empty() {
        String::new()
    } else {
        format!("  tls: {tls}\n")
    };
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: {ns}, \
         creationTimestamp: \"{created}\"}}\nspec:\n  ingressClassName: fairlead\n{tls}  rules:\n    - host: {host}\n      \
         http:\n        paths:\n          - {{path: /, pathType: Prefix, backend: {{service: {{name: app, port: {{number: 80}}}}}}}}\n"
    )
}

#[test]
fn spec_tls_adds_an_https_listener_with_the_same_routes() {
    let pem = cert(&["a.example.com"]);
    let t = run(&[
        &ingress(
            "default",
            "a",
            "2024-01-01T00:00:00Z",
            "a.example.com",
            "[{hosts: [a.example.com], secretName: a-cert}]",
        ),
        &tls_secret("default", "a-cert", &pem),
        &app_service(),
    ]);
    assert_eq!(listener_ids(&t), ["ingress/http", "ingress/https"]);
    let http = listener(&t, "ingress/http");
    let https = listener(&t, "ingress/https");
    assert_eq!((https.port, https.protocol), (8443, ListenerProtocol::Https));
    assert_eq!(https.hostname, None);
    assert_eq!(https.routes, http.routes);
    assert_eq!(
        https.tls,
        Some(ListenerTls {
            certificates: vec!["secret/default/a-cert".into()],
            client_ca: vec![],
        })
    );
    assert_eq!(
        t.tls.certificates["secret/default/a-cert"].chain,
        pem.chain.as_bytes()
    );
    let s = status(&t, "Ingress", Some("default"), "a");
    assert!(condition(&s.conditions, "ResolvedRefs").status, "{s:#?}");
    assert_mentions(
        &condition(&s.conditions, "Accepted").message,
        &["8080", "HTTPS", "8443"],
    );
}

#[test]
fn without_spec_tls_there_is_no_https_listener() {
    let t = run(&[
        &ingress("default", "a", "2024-01-01T00:00:00Z", "a.example.com", ""),
        &app_service(),
    ]);
    assert_eq!(listener_ids(&t), ["ingress/http"]);
    assert!(t.tls.certificates.is_empty());
    let accepted = condition(
        &status(&t, "Ingress", Some("default"), "a").conditions,
        "Accepted",
    );
    assert!(!accepted.message.contains("HTTPS"), "{}", accepted.message);
}

#[test]
fn certificates_come_oldest_ingress_first_each_secret_once() {
    let (a, b, c) = (
        cert(&["a.example.com"]),
        cert(&["b.example.com"]),
        cert(&["c.example.com"]),
    );
    let t = run_with(
        &[
            // Newer, alphabetically first.
            &ingress(
                "default",
                "aaa",
                "2024-06-01T00:00:00Z",
                "b.example.com",
                "[{secretName: b}, {secretName: shared}]",
            ),
            &ingress(
                "team",
                "zzz",
                "2024-01-01T00:00:00Z",
                "a.example.com",
                "[{secretName: a}]",
            ),
            &ingress(
                "default",
                "mmm",
                "2024-03-01T00:00:00Z",
                "c.example.com",
                "[{secretName: shared}]",
            ),
            &tls_secret("team", "a", &a),
            &tls_secret("default", "b", &b),
            &tls_secret("default", "shared", &c),
            &app_service(),
        ],
        &Options {
            https_port: 9443,
            ..Options::default()
        },
    );
    let https = listener(&t, "ingress/https");
    assert_eq!(https.port, 9443);
    assert_eq!(
        https.tls.as_ref().unwrap().certificates,
        ["secret/team/a", "secret/default/shared", "secret/default/b"],
        "oldest Ingress first; a Secret is named in the Ingress's own namespace"
    );
    assert_eq!(t.tls.certificates.len(), 3);
}

#[test]
fn a_bad_secret_is_reported_on_the_ingress_naming_it() {
    let good = cert(&["a.example.com"]);
    let t = run_with(
        &[
            &ingress(
                "default",
                "a",
                "2024-01-01T00:00:00Z",
                "a.example.com",
                "[{secretName: missing}, {secretName: good}]",
            ),
            &ingress(
                "default",
                "b",
                "2024-02-01T00:00:00Z",
                "b.example.com",
                "[{secretName: good}]",
            ),
            &ingress(
                "default",
                "c",
                "2024-03-01T00:00:00Z",
                "c.example.com",
                "[{hosts: [c.example.com]}]",
            ),
            &tls_secret("default", "good", &good),
            &app_service(),
        ],
        &Options {
            now_unix: Some(NOW_2025),
            ..Options::default()
        },
    );
    let a = condition(
        &status(&t, "Ingress", Some("default"), "a").conditions,
        "ResolvedRefs",
    );
    assert_eq!(sr(a), (false, "InvalidCertificateRef"));
    assert_mentions(
        &a.message,
        &["spec.tls[0]", "Secret default/missing", "not found"],
    );
    assert!(
        condition(
            &status(&t, "Ingress", Some("default"), "b").conditions,
            "ResolvedRefs"
        )
        .status
    );
    let c = condition(
        &status(&t, "Ingress", Some("default"), "c").conditions,
        "ResolvedRefs",
    );
    assert_mentions(&c.message, &["spec.tls[0]", "no secretName"]);
    // The missing Secret's id stays listed: the proxy may still hold its last good certificate.
    assert_eq!(
        listener(&t, "ingress/https").tls.as_ref().unwrap().certificates,
        ["secret/default/missing", "secret/default/good"]
    );
}

#[test]
fn ingress_secrets_may_be_opaque_but_need_both_keys_and_a_valid_certificate() {
    let pem = cert(&["a.example.com"]);
    let other = cert(&["b.example.com"]);
    let cases = [
        (secret_typed("default", "s", "Opaque", &pem.chain, &pem.key), None),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\nstringData: {tls.crt: x}\n"
                .to_string(),
            Some("has no tls.key"),
        ),
        (
            secret_typed("default", "s", "kubernetes.io/tls", &pem.chain, &other.key),
            Some("does not match"),
        ),
    ];
    for (secret, problem) in cases {
        let t = run_with(
            &[
                &ingress(
                    "default",
                    "a",
                    "2024-01-01T00:00:00Z",
                    "a.example.com",
                    "[{secretName: s}]",
                ),
                &secret,
                &app_service(),
            ],
            &Options {
                now_unix: Some(NOW_2035),
                ..Options::default()
            },
        );
        let c = condition(
            &status(&t, "Ingress", Some("default"), "a").conditions,
            "ResolvedRefs",
        );
        match problem {
            // The first case is also expired by 2035.
            None => assert_mentions(&c.message, &["Secret default/s", "expired"]),
            Some(p) => assert_mentions(&c.message, &["Secret default/s", p]),
        }
        assert_eq!(c.reason, "InvalidCertificateRef");
    }
    let t = run(&[
        &ingress(
            "default",
            "a",
            "2024-01-01T00:00:00Z",
            "a.example.com",
            "[{secretName: s}]",
        ),
        &secret_typed("default", "s", "Opaque", &pem.chain, &pem.key),
        &app_service(),
    ]);
    assert!(
        condition(
            &status(&t, "Ingress", Some("default"), "a").conditions,
            "ResolvedRefs"
        )
        .status
    );
}
