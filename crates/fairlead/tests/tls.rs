//! TLS termination end to end: certificate selection by SNI, ALPN, 421 for a Host of another
//! listener, rotation of a Secret while clients keep connecting, a broken Secret that leaves the
//! last good certificate serving, and Ingress `spec.tls`.

mod support;

use fairlead_testpki::{dns_params_between, self_signed, self_signed_with, Alg, Leaf};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::manifests::{backend, gateway_class, http_route, ingress, ingress_rule, rule, to, yaml, NS};
use support::status::{find_object, problems};
use support::tls::{client_config, connect, request, tls_secret};
use support::{free_port, Echo, Fairlead};

/// Gateway `secure` with the given HTTPS listeners (name, hostname, secret) on `port`.
fn https_gateway(port: u16, listeners: &[(&str, Option<&str>, &str)]) -> Value {
    let listeners: Vec<Value> = listeners
        .iter()
        .map(|(name, hostname, secret)| {
            let mut l = json!({
                "name": name,
                "protocol": "HTTPS",
                "port": port,
                "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": secret}]},
            });
            if let Some(h) = hostname {
                l["hostname"] = json!(h);
            }
            l
        })
        .collect();
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "secure", "namespace": NS},
        "spec": {"gatewayClassName": "fairlead", "listeners": listeners},
    })
}

fn route_to_echo() -> Value {
    let mut route = http_route("site", &[], vec![rule(json!(null), vec![to("echo-a")])]);
    route["spec"]["parentRefs"] = json!([{"name": "secure"}]);
    route
}

async fn start(echo: &Echo, gateway: Value, secrets: Vec<Value>) -> Fairlead {
    let mut docs = vec![gateway_class(), gateway, route_to_echo()];
    docs.extend(backend(echo));
    Fairlead::start(&[
        ("00-gateway.yaml", yaml(&docs)),
        ("10-secrets.yaml", yaml(&secrets)),
    ])
    .await
}

#[tokio::test]
async fn sni_picks_the_certificate_and_alpn_the_protocol() {
    let echo = Echo::start("echo-a").await;
    let port = free_port();
    let (exact, wild, fallback) = (
        self_signed(&["a.example.com"]),
        self_signed(&["*.example.com"]),
        self_signed(&["default.test", "other.test"]),
    );
    let gateway = https_gateway(
        port,
        &[
            ("exact", Some("a.example.com"), "exact-cert"),
            ("wild", Some("*.example.com"), "wild-cert"),
            ("fallback", None, "fallback-cert"),
        ],
    );
    let secrets = vec![
        tls_secret("exact-cert", &exact),
        tls_secret("wild-cert", &wild),
        tls_secret("fallback-cert", &fallback),
    ];
    let fairlead = start(&echo, gateway, secrets).await;
    let trust = client_config(&[&exact, &wild, &fallback]);

    let a = connect(port, "a.example.com", trust.clone())
        .await
        .expect("exact handshake");
    assert!(
        a.served == exact.der,
        "a.example.com must get its exact certificate"
    );
    assert_eq!(a.alpn.as_deref(), Some(&b"h2"[..]), "h2 is negotiated by ALPN");
    let reply = request(a, "a.example.com", "/hello")
        .await
        .expect("request over TLS");
    assert_eq!(reply.echo_name(), "echo-a");
    assert_eq!(reply.json()["headers"]["x-forwarded-proto"], "https");

    let b = connect(port, "b.example.com", trust.clone())
        .await
        .expect("wildcard handshake");
    assert!(
        b.served == wild.der,
        "b.example.com must get the wildcard certificate"
    );
    // The connection was set up for the wildcard listener: a request for a host another
    // listener owns is misdirected.
    let misdirected = request(b, "a.example.com", "/").await.expect("request");
    assert_eq!(misdirected.status, 421);

    let other = connect(port, "other.test", client_config(&[&fallback]))
        .await
        .expect("fallback handshake");
    assert!(
        other.served == fallback.der,
        "an SNI no listener names gets the default"
    );

    let status = fairlead.status().await;
    assert!(problems(&status, "Gateway", "secure").is_empty(), "{status:#}");
}

#[tokio::test]
async fn rotating_a_secret_under_load_fails_no_handshake() {
    const ROTATIONS: usize = 20;
    let echo = Echo::start("echo-a").await;
    let port = free_port();
    let mut current = self_signed(&["rotate.example.com"]);
    let gateway = https_gateway(port, &[("rotate", Some("rotate.example.com"), "rotate-cert")]);
    let fairlead = start(&echo, gateway, vec![tls_secret("rotate-cert", &current)]).await;

    // Every certificate ever used is trusted, so a handshake fails only if the server fails it.
    let mut all = vec![current.clone()];
    let rotated: Vec<Leaf> = (0..ROTATIONS)
        .map(|_| self_signed(&["rotate.example.com"]))
        .collect();
    all.extend(rotated.iter().cloned());
    let trust = client_config(&all.iter().collect::<Vec<_>>());

    // A connection opened before any rotation, used again after the last one.
    let long_lived = connect(port, "rotate.example.com", trust.clone())
        .await
        .expect("first handshake");

    let stop = tokio_util::sync::CancellationToken::new();
    let load = {
        let (trust, stop) = (trust.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            // Bounded: stops when told, or after 5,000 handshakes.
            for _ in 0..5_000 {
                if stop.is_cancelled() {
                    break;
                }
                match connect(port, "rotate.example.com", trust.clone()).await {
                    Ok(_) => ok += 1,
                    Err(err) => failed.push(err),
                }
            }
            (ok, failed)
        })
    };

    let mut slowest = Duration::ZERO;
    for next in rotated {
        fairlead.write("10-secrets.yaml", &yaml(&[tls_secret("rotate-cert", &next)]));
        let changed = Instant::now();
        support::eventually("new connections to get the new certificate", || {
            let (trust, der) = (trust.clone(), next.der.clone());
            async move {
                let conn = connect(port, "rotate.example.com", trust).await.ok()?;
                (conn.served == der).then_some(())
            }
        })
        .await;
        slowest = slowest.max(changed.elapsed());
        current = next;
    }
    stop.cancel();
    let (ok, failed) = load.await.expect("load task");
    assert!(
        failed.is_empty(),
        "{} of {} handshakes failed: {:?}",
        failed.len(),
        ok as usize + failed.len(),
        &failed[..failed.len().min(3)]
    );
    assert!(ok > 0, "the load loop made no handshake");
    println!("{ROTATIONS} rotations, {ok} handshakes during them, slowest switch {slowest:?}");

    let reply = request(long_lived, "rotate.example.com", "/still-here")
        .await
        .expect("the connection opened before the rotations still works");
    assert_eq!(reply.echo_name(), "echo-a");
    let _ = current;
}

#[tokio::test]
async fn every_kind_of_broken_secret_keeps_the_last_good_certificate_and_is_reported() {
    let echo = Echo::start("echo-a").await;
    let port = free_port();
    let (good, other) = (
        self_signed(&["good.example.com"]),
        self_signed(&["other.example.com"]),
    );
    let gateway = https_gateway(
        port,
        &[
            ("good", Some("good.example.com"), "good-cert"),
            ("other", Some("other.example.com"), "other-cert"),
        ],
    );
    let fairlead = start(
        &echo,
        gateway,
        vec![tls_secret("good-cert", &good), tls_secret("other-cert", &other)],
    )
    .await;
    let trust = client_config(&[&good, &other]);

    // Each way a Secret can go bad; after each, the Secret is fixed again.
    let mut mismatched = good.clone();
    mismatched.key = other.key.clone();
    let mut garbage = good.clone();
    garbage.chain = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n".into();
    let expired = self_signed_with(dns_params_between(&["good.example.com"], 2020, 2021), Alg::Ecdsa);
    let cases: Vec<(&str, Vec<Value>)> = vec![
        (
            "key that does not match",
            vec![tls_secret("good-cert", &mismatched)],
        ),
        ("PEM that does not parse", vec![tls_secret("good-cert", &garbage)]),
        ("expired certificate", vec![tls_secret("good-cert", &expired)]),
        ("missing Secret", vec![]),
    ];
    for (case, mut secrets) in cases {
        secrets.push(tls_secret("other-cert", &other));
        fairlead.write("10-secrets.yaml", &yaml(&secrets));
        let status = fairlead
            .wait_status(&format!("{case}: reported"), |st| {
                listener_condition(st, "good", "InvalidCertificateRef")
                    .is_some_and(|m| m.contains("good-cert"))
            })
            .await;
        assert!(
            listener_condition(&status, "other", "InvalidCertificateRef").is_none(),
            "{case}: the other listener is not affected: {status:#}"
        );
        // /status says which certificate the proxy could not take, apart from route errors.
        let tls_problems = status["tls_problems"].as_array().cloned().unwrap_or_default();
        assert!(
            tls_problems.iter().any(|p| p
                .as_str()
                .is_some_and(|p| p.contains("serving its previous version"))),
            "{case}: {tls_problems:?}"
        );
        assert_eq!(status["compile_errors"], serde_json::json!([]), "{case}");
        let conn = connect(port, "good.example.com", trust.clone())
            .await
            .unwrap_or_else(|e| panic!("{case}: the last good certificate keeps serving: {e}"));
        assert!(conn.served == good.der, "{case}: still the last good certificate");
        let conn = connect(port, "other.example.com", trust.clone())
            .await
            .expect("other listener");
        assert!(conn.served == other.der, "{case}: other hosts are unaffected");

        fairlead.write(
            "10-secrets.yaml",
            &yaml(&[tls_secret("good-cert", &good), tls_secret("other-cert", &other)]),
        );
        fairlead
            .wait_status(&format!("{case}: fixed"), |st| {
                listener_condition(st, "good", "InvalidCertificateRef").is_none()
                    && find_object(st, "Gateway", "secure").is_some()
            })
            .await;
    }
}

/// The message of the listener's ResolvedRefs=False condition with `reason`, if it has one.
fn listener_condition(status: &Value, listener: &str, reason: &str) -> Option<String> {
    let gateway = find_object(status, "Gateway", "secure")?;
    let listener = gateway["listeners"]
        .as_array()?
        .iter()
        .find(|l| l["name"] == listener)?;
    listener["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "ResolvedRefs" && c["status"] == false && c["reason"] == reason)
        .map(|c| c["message"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn ingress_tls_is_served_on_the_https_port() {
    let echo = Echo::start("echo-a").await;
    let https_port = free_port();
    let cert = self_signed(&["secure.example.com"]);
    let mut ing = ingress(
        "secure",
        json!([ingress_rule(
            Some("secure.example.com"),
            &[("/", "Prefix", "echo-a")]
        )]),
    );
    ing["spec"]["tls"] = json!([{"hosts": ["secure.example.com"], "secretName": "secure-cert"}]);
    let mut docs = vec![ing, tls_secret("secure-cert", &cert)];
    docs.extend(backend(&echo));
    let _fairlead = Fairlead::start_with(
        &[("00-ingress.yaml", yaml(&docs))],
        &["--https-port", &https_port.to_string()],
    )
    .await;
    let conn = connect(https_port, "secure.example.com", client_config(&[&cert]))
        .await
        .expect("handshake on the Ingress HTTPS port");
    assert!(conn.served == cert.der);
    let reply = request(conn, "secure.example.com", "/").await.expect("request");
    assert_eq!(reply.echo_name(), "echo-a");
}

/// examples/https as shipped (ports moved to free ones), with a generated Secret: plain HTTP
/// redirects to HTTPS, and the HTTPS listener serves the application.
#[tokio::test]
async fn the_https_example_redirects_and_serves() {
    let echo = Echo::start("echo-a").await;
    let (http_port, https_port) = (free_port(), free_port());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/https");
    let mut files = Vec::new();
    for name in ["00-gateway.yaml", "10-routes.yaml", "30-backends.yaml"] {
        let text = std::fs::read_to_string(dir.join(name)).expect("example file");
        let text = text
            .replace("8000", &http_port.to_string())
            .replace("8443", &https_port.to_string())
            .replace("9101", &echo.port().to_string());
        files.push((name, text));
    }
    let cert = self_signed(&["app.example.com"]);
    files.push(("app-tls.yaml", yaml(&[tls_secret("app-tls", &cert)])));
    let fairlead = Fairlead::start(&files).await;

    let redirect = support::Http::new()
        .get(http_port, "app.example.com", "/hello")
        .await;
    assert_eq!(redirect.status, 301);
    assert_eq!(
        redirect.headers["location"],
        format!("https://app.example.com:{https_port}/hello").as_str()
    );
    let conn = connect(https_port, "app.example.com", client_config(&[&cert]))
        .await
        .expect("handshake");
    assert!(conn.served == cert.der);
    let reply = request(conn, "app.example.com", "/hello").await.expect("request");
    assert_eq!(reply.echo_name(), "echo-a");
    let status = fairlead.status().await;
    assert!(problems(&status, "Gateway", "web").is_empty(), "{status:#}");
}
