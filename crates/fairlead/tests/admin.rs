//! The admin server: health, readiness, `/status`, `/routes` following the manifest files, and
//! `/metrics`.

mod support;

use serde_json::{json, Value};
use support::manifests::{http_route, rule, to, yaml};
use support::scenario::ROUTES_FILE;
use support::status::{names_object, route_ids};
use support::Scenario;

fn prefix_route(name: &str, host: &str, prefix: &str) -> Value {
    http_route(
        name,
        &[host],
        vec![rule(
            json!([{"path": {"type": "PathPrefix", "value": prefix}}]),
            vec![to("echo-a")],
        )],
    )
}

/// Every path value of the matches of route ids naming `name` in a `/routes` document.
fn paths_of(routes: &Value, name: &str) -> Vec<String> {
    routes["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["routes"].as_array().into_iter().flatten())
        .filter(|r| r["id"].as_str().is_some_and(|id| names_object(id, name)))
        .flat_map(|r| r["matches"].as_array().into_iter().flatten())
        .filter_map(|m| m["path"]["value"].as_str().map(str::to_owned))
        .collect()
}

/// The sum of every sample of `metric` (all label sets) in Prometheus text; `None` when the
/// metric has no sample.
fn total(metrics: &str, metric: &str) -> Option<f64> {
    let values: Vec<f64> = metrics
        .lines()
        .filter(|line| {
            line.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

#[tokio::test]
async fn health_readiness_status_and_metrics() {
    let s = Scenario::start(&["echo-a"], vec![prefix_route("app", "app.example.com", "/")]).await;

    assert_eq!(s.fairlead.admin_get("/healthz").await.status, 200);
    assert_eq!(s.fairlead.admin_get("/readyz").await.status, 200);

    let status = s.fairlead.status().await;
    assert_eq!(status["ready"], true, "{status:#}");
    assert!(
        status["version"].as_u64().is_some_and(|v| v >= 1),
        "a table is in use: {status:#}"
    );
    let subsystems = status["subsystems"].as_object().expect("subsystems is an object");
    assert!(!subsystems.is_empty(), "{status:#}");
    for (name, sub) in subsystems {
        assert!(
            sub["state"].is_string() && sub["since"].is_string(),
            "subsystem {name}: {sub}"
        );
    }
    assert_eq!(status["object_counts"]["HTTPRoute"], 1, "{status:#}");
    assert_eq!(status["object_counts"]["Service"], 1, "{status:#}");
    let gateway = support::status::find_object(&status, "Gateway", "web").expect("Gateway web in /status");
    let listener = &gateway["listeners"][0];
    assert_eq!(listener["name"], "http");
    assert_eq!(listener["attached_routes"], 1, "{gateway:#}");

    assert_eq!(s.served_by("app.example.com", "/").await, "echo-a");
    let metrics = s.fairlead.admin_get("/metrics").await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    let requests = total(&text, "fairlead_requests_total").unwrap_or(0.0);
    assert!(
        requests >= 1.0,
        "fairlead_requests_total counts the request: {text}"
    );
    assert!(
        total(&text, "fairlead_rebuilds_total").is_some_and(|n| n >= 1.0),
        "fairlead_rebuilds_total missing: {text}"
    );
}

#[tokio::test]
async fn routes_names_the_routes_and_follows_edits() {
    let s = Scenario::start(&["echo-a"], vec![prefix_route("app", "app.example.com", "/v1")]).await;

    let routes = s.fairlead.routes().await;
    let listener = routes["listeners"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["port"] == s.port))
        .unwrap_or_else(|| panic!("no listener on the Gateway port in /routes: {routes:#}"));
    assert_eq!(listener["protocol"], "HTTP");
    assert!(
        route_ids(&routes).iter().any(|id| names_object(id, "app")),
        "{routes:#}"
    );
    assert_eq!(paths_of(&routes, "app"), ["/v1"]);
    assert_eq!(routes["version"], s.fairlead.version().await);

    s.fairlead
        .write_and_wait(
            ROUTES_FILE,
            &yaml(&[prefix_route("app", "app.example.com", "/v2")]),
        )
        .await;
    assert_eq!(paths_of(&s.fairlead.routes().await, "app"), ["/v2"]);
    assert_eq!(s.served_by("app.example.com", "/v2/x").await, "echo-a");
    assert_eq!(s.status_of("app.example.com", "/v1/x").await, 404);
}

#[tokio::test]
async fn deleting_a_file_removes_its_routes() {
    let s = Scenario::start_with_files(
        &["echo-a"],
        vec![
            (
                "20-keep.yaml",
                yaml(&[prefix_route("keep", "keep.example.com", "/")]),
            ),
            (
                "21-drop.yml",
                yaml(&[prefix_route("drop", "drop.example.com", "/")]),
            ),
        ],
    )
    .await;
    assert_eq!(s.served_by("drop.example.com", "/").await, "echo-a");
    assert!(route_ids(&s.fairlead.routes().await)
        .iter()
        .any(|id| names_object(id, "drop")));

    let before = s.fairlead.version().await;
    s.fairlead.remove("21-drop.yml");
    s.fairlead.wait_version_above(before).await;

    let ids = route_ids(&s.fairlead.routes().await);
    assert!(
        !ids.iter().any(|id| names_object(id, "drop")),
        "deleted route still listed: {ids:?}"
    );
    assert!(ids.iter().any(|id| names_object(id, "keep")), "{ids:?}");
    assert_eq!(s.status_of("drop.example.com", "/").await, 404);
    assert_eq!(s.served_by("keep.example.com", "/").await, "echo-a");
}

#[tokio::test]
async fn dot_files_and_other_extensions_are_ignored() {
    let s = Scenario::start(&["echo-a"], vec![prefix_route("app", "app.example.com", "/")]).await;
    let before = s.fairlead.version().await;
    // Neither file may be read; a real change afterwards proves the directory was rescanned.
    s.fairlead.write(
        ".hidden.yaml",
        &yaml(&[prefix_route("hidden", "hidden.example.com", "/")]),
    );
    s.fairlead.write(
        "notes.txt",
        &yaml(&[prefix_route("notes", "notes.example.com", "/")]),
    );
    s.fairlead.write(
        "30-json.json",
        &prefix_route("json", "json.example.com", "/").to_string(),
    );
    s.fairlead.wait_version_above(before).await;
    support::eventually("the JSON file's route in /routes", || async {
        route_ids(&s.fairlead.routes().await)
            .iter()
            .any(|id| names_object(id, "json"))
            .then_some(())
    })
    .await;

    let ids = route_ids(&s.fairlead.routes().await);
    assert!(
        !ids.iter()
            .any(|id| names_object(id, "hidden") || names_object(id, "notes")),
        "{ids:?}"
    );
    assert_eq!(s.served_by("json.example.com", "/").await, "echo-a");
    assert_eq!(s.status_of("hidden.example.com", "/").await, 404);
    assert_eq!(s.status_of("notes.example.com", "/").await, 404);
}
