//! How routes attach to Gateways, end to end: listener isolation by hostname, parentRefs by
//! sectionName and port, allowedRoutes namespaces, and cross-namespace backends that need a
//! ReferenceGrant — checked with real traffic and the `/status` the user would read.

mod support;

use serde_json::{json, Value};
use support::manifests::{http_route, http_route_in, rule, to, yaml, NS};
use support::scenario::ROUTES_FILE;
use support::status::{find_object, problems};
use support::{free_port, Scenario};

/// Gateway `multi` with a wildcard and a specific listener on `port` (same port, listener
/// isolation applies) and a third listener on `other_port`; `specific` admits routes from its
/// own namespace only, the others from every namespace.
fn multi_gateway(port: u16, other_port: u16) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "multi", "namespace": NS},
        "spec": {
            "gatewayClassName": "fairlead",
            "listeners": [
                {"name": "wildcard", "protocol": "HTTP", "port": port, "hostname": "*.example.com",
                 "allowedRoutes": {"namespaces": {"from": "All"}}},
                {"name": "specific", "protocol": "HTTP", "port": port, "hostname": "foo.example.com"},
                {"name": "other", "protocol": "HTTP", "port": other_port,
                 "allowedRoutes": {"namespaces": {"from": "All"}}},
            ],
        },
    })
}

fn attach_to(mut route: Value, parent: Value) -> Value {
    route["spec"]["parentRefs"] = json!([parent]);
    route
}

fn prefix(path: &str, backend: &str) -> Value {
    rule(
        json!([{"path": {"type": "PathPrefix", "value": path}}]),
        vec![to(backend)],
    )
}

#[tokio::test]
async fn listeners_isolate_hosts_and_parent_refs_select_listeners() {
    let (port, other_port) = (free_port(), free_port());
    let routes = vec![
        // Attached by sectionName to the wildcard listener only.
        attach_to(
            http_route("wild", &[], vec![prefix("/wild", "echo-a")]),
            json!({"name": "multi", "sectionName": "wildcard"}),
        ),
        attach_to(
            http_route("foo", &[], vec![prefix("/foo", "echo-b")]),
            json!({"name": "multi", "sectionName": "specific"}),
        ),
        // Attached by port: only the listener on other_port.
        attach_to(
            http_route("by-port", &[], vec![prefix("/", "echo-c")]),
            json!({"name": "multi", "port": other_port}),
        ),
    ];
    let s = Scenario::start_with_files(
        &["echo-a", "echo-b", "echo-c"],
        vec![
            ("05-multi.yaml", yaml(&[multi_gateway(port, other_port)])),
            (ROUTES_FILE, yaml(&routes)),
        ],
    )
    .await;
    s.fairlead
        .wait_status("Gateway multi reported", |st| {
            find_object(st, "Gateway", "multi").is_some()
        })
        .await;

    let get = |port: u16, host: &'static str, path: &'static str| {
        let http = s.http.clone();
        async move { http.get(port, host, path).await }
    };
    assert_eq!(get(port, "bar.example.com", "/wild").await.echo_name(), "echo-a");
    assert_eq!(get(port, "foo.example.com", "/foo").await.echo_name(), "echo-b");
    // Listener isolation: foo.example.com belongs to the specific listener, so the wildcard
    // listener's routes are not consulted for it.
    assert_eq!(get(port, "foo.example.com", "/wild").await.status, 404);
    assert_eq!(get(port, "bar.example.com", "/foo").await.status, 404);
    assert_eq!(get(other_port, "any.host", "/x").await.echo_name(), "echo-c");
    assert_eq!(get(port, "bar.example.com", "/x").await.status, 404);

    let status = s.fairlead.status().await;
    let gateway = find_object(&status, "Gateway", "multi").unwrap();
    let attached: Vec<(String, u64)> = gateway["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap().to_owned(),
                l["attached_routes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attached,
        [
            ("wildcard".into(), 1),
            ("specific".into(), 1),
            ("other".into(), 1)
        ],
        "{gateway:#}"
    );
}

#[tokio::test]
async fn allowed_routes_refuse_other_namespaces_with_a_reason() {
    let (port, other_port) = (free_port(), free_port());
    // `specific` admits only routes from its own namespace.
    let outsider = attach_to(
        http_route_in("team-b", "outsider", &[], vec![prefix("/", "echo-a")]),
        json!({"name": "multi", "namespace": NS, "sectionName": "specific"}),
    );
    let s = Scenario::start_with_files(
        &["echo-a"],
        vec![
            ("05-multi.yaml", yaml(&[multi_gateway(port, other_port)])),
            (ROUTES_FILE, yaml(&[outsider])),
        ],
    )
    .await;
    let status = s
        .fairlead
        .wait_status("HTTPRoute outsider reported", |st| {
            find_object(st, "HTTPRoute", "outsider").is_some()
        })
        .await;
    let found = problems(&status, "HTTPRoute", "outsider");
    assert!(
        found
            .iter()
            .any(|c| c["type"] == "Accepted" && c["reason"] == "NotAllowedByListeners"),
        "{found:#?}"
    );
    assert_eq!(s.http.get(port, "foo.example.com", "/").await.status, 404);
}

#[tokio::test]
async fn cross_namespace_backends_need_a_reference_grant() {
    // The route lives in team-b and points at echo-a in `default`.
    let mut backend = to("echo-a");
    backend["namespace"] = json!(NS);
    let route = http_route_in(
        "team-b",
        "borrow",
        &["borrow.example.com"],
        vec![rule(json!(null), vec![backend])],
    );
    let s = Scenario::start(&["echo-a"], vec![route]).await;

    assert_eq!(s.status_of("borrow.example.com", "/").await, 500);
    let status = s.fairlead.status().await;
    let found = problems(&status, "HTTPRoute", "borrow");
    assert!(
        found
            .iter()
            .any(|c| c["type"] == "ResolvedRefs" && c["reason"] == "RefNotPermitted"),
        "{found:#?}"
    );

    // A grant for another route kind changes nothing; one for HTTPRoutes from team-b does.
    let grant = |kind: &str| {
        json!({
            "apiVersion": "gateway.networking.k8s.io/v1beta1",
            "kind": "ReferenceGrant",
            "metadata": {"name": "let-team-b-in", "namespace": NS},
            "spec": {
                "from": [{"group": "gateway.networking.k8s.io", "kind": kind, "namespace": "team-b"}],
                "to": [{"group": "", "kind": "Service", "name": "echo-a"}],
            },
        })
    };
    // Nothing in the table changes, so wait for the grant to be read rather than for a new
    // table version.
    s.fairlead.write("30-grant.yaml", &yaml(&[grant("GRPCRoute")]));
    s.fairlead
        .wait_status("the ReferenceGrant read", |st| {
            st["object_counts"]["ReferenceGrant"] == 1
        })
        .await;
    assert_eq!(s.status_of("borrow.example.com", "/").await, 500);
    s.fairlead
        .write_and_wait("30-grant.yaml", &yaml(&[grant("HTTPRoute")]))
        .await;
    assert_eq!(s.served_by("borrow.example.com", "/").await, "echo-a");
    let status = s.fairlead.status().await;
    assert!(problems(&status, "HTTPRoute", "borrow").is_empty());
}

#[tokio::test]
async fn a_route_for_a_missing_listener_is_not_served() {
    let route = attach_to(
        http_route(
            "lost",
            &["lost.example.com"],
            vec![rule(json!(null), vec![to("echo-a")])],
        ),
        json!({"name": "web", "sectionName": "no-such-listener"}),
    );
    let s = Scenario::start(&["echo-a"], vec![route]).await;
    assert_eq!(s.status_of("lost.example.com", "/").await, 404);
    let status = s.fairlead.status().await;
    let found = problems(&status, "HTTPRoute", "lost");
    assert!(
        found
            .iter()
            .any(|c| c["type"] == "Accepted" && c["reason"] == "NoMatchingParent"),
        "{found:#?}"
    );
}
