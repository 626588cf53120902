//! Ingress rules on the Ingress port: path types, wildcard hosts, the default backend, and
//! classes that are not ours.

mod support;

use serde_json::{json, Value};
use support::manifests::{backend, ingress, ingress_rule, yaml};
use support::{Echo, Fairlead, Http};

/// fairlead serving `ingresses` with echo backends (and Services) named `echoes`.
async fn serve(echoes: &[&str], ingresses: Vec<Value>) -> (Fairlead, Vec<Echo>) {
    let mut started = Vec::new();
    for name in echoes {
        started.push(Echo::start(name).await);
    }
    let backends: Vec<Value> = started.iter().flat_map(backend).collect();
    let files = [
        ("10-backends.yaml", yaml(&backends)),
        ("20-ingress.yaml", yaml(&ingresses)),
    ];
    (Fairlead::start(&files).await, started)
}

#[tokio::test]
async fn exact_and_prefix_paths() {
    let (fl, _echoes) = serve(
        &["echo-a", "echo-b", "echo-c"],
        vec![ingress(
            "paths",
            json!([ingress_rule(
                Some("paths.example.com"),
                &[
                    ("/foo", "Exact", "echo-a"),
                    ("/aaa/bbb", "Prefix", "echo-b"),
                    ("/aaa", "Prefix", "echo-c")
                ],
            )]),
        )],
    )
    .await;
    let http = Http::new();
    let get = |path: &'static str| http.get(fl.http_port, "paths.example.com", path);

    assert_eq!(get("/foo").await.echo_name(), "echo-a");
    assert_eq!(get("/foo/").await.status, 404);
    assert_eq!(get("/FOO").await.status, 404);

    // The longest matching prefix wins; prefixes match whole path elements.
    assert_eq!(get("/aaa/bbb/ccc").await.echo_name(), "echo-b");
    assert_eq!(get("/aaa/bbb").await.echo_name(), "echo-b");
    assert_eq!(get("/aaa/ccc").await.echo_name(), "echo-c");
    assert_eq!(get("/aaa").await.echo_name(), "echo-c");
    assert_eq!(get("/aaaccc").await.status, 404);

    // The host must match.
    assert_eq!(
        http.get(fl.http_port, "other.example.com", "/foo").await.status,
        404
    );
}

#[tokio::test]
async fn wildcard_host_covers_exactly_one_label() {
    let (fl, _echoes) = serve(
        &["echo-a"],
        vec![ingress(
            "wild",
            json!([ingress_rule(Some("*.foo.com"), &[("/", "Prefix", "echo-a")])]),
        )],
    )
    .await;
    let http = Http::new();

    assert_eq!(
        http.get(fl.http_port, "a.foo.com", "/").await.echo_name(),
        "echo-a"
    );
    assert_eq!(http.get(fl.http_port, "a.b.foo.com", "/").await.status, 404);
    assert_eq!(http.get(fl.http_port, "foo.com", "/").await.status, 404);
}

#[tokio::test]
async fn default_backend_answers_when_no_rule_matches() {
    let mut with_default = ingress(
        "site",
        json!([ingress_rule(
            Some("site.example.com"),
            &[("/app", "Prefix", "echo-a")]
        )]),
    );
    with_default["spec"]["defaultBackend"] = json!({"service": {"name": "echo-b", "port": {"number": 80}}});
    let (fl, _echoes) = serve(&["echo-a", "echo-b"], vec![with_default]).await;
    let http = Http::new();

    assert_eq!(
        http.get(fl.http_port, "site.example.com", "/app/x")
            .await
            .echo_name(),
        "echo-a"
    );
    assert_eq!(
        http.get(fl.http_port, "site.example.com", "/elsewhere")
            .await
            .echo_name(),
        "echo-b"
    );
    assert_eq!(
        http.get(fl.http_port, "unknown.example.com", "/")
            .await
            .echo_name(),
        "echo-b"
    );
}

#[tokio::test]
async fn ingresses_of_other_classes_are_not_served() {
    let mut theirs = ingress(
        "theirs",
        json!([ingress_rule(
            Some("theirs.example.com"),
            &[("/", "Prefix", "echo-a")]
        )]),
    );
    theirs["spec"]["ingressClassName"] = "someone-else".into();
    let ours = ingress(
        "ours",
        json!([ingress_rule(
            Some("ours.example.com"),
            &[("/", "Prefix", "echo-a")]
        )]),
    );
    let (fl, _echoes) = serve(&["echo-a"], vec![theirs, ours]).await;
    let http = Http::new();

    assert_eq!(
        http.get(fl.http_port, "ours.example.com", "/").await.echo_name(),
        "echo-a"
    );
    assert_eq!(
        http.get(fl.http_port, "theirs.example.com", "/").await.status,
        404
    );
}
