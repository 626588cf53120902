//! The Kubernetes source through the fake API server and a real kube::Client: objects in,
//! snapshots out; missing CRDs, RBAC denials, API restarts and event bursts.

use fairlead_admin::{Health, State};
use fairlead_fakeapi::{FakeApi, Verb};
use fairlead_kube::source::{debounced, KubeSource, SourceSettings};
use fairlead_translate::Kind;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::{eventually, LIMIT};

const GW: &str = "gateway.networking.k8s.io";

fn start(fake: &FakeApi, namespace: Option<&str>) -> (KubeSource, Arc<Health>) {
    let health = Arc::new(Health::new());
    let source = KubeSource::start(
        fake.client(),
        SourceSettings {
            namespace: namespace.map(str::to_string),
        },
        health.clone(),
        &mut prometheus_client::registry::Registry::default(),
    );
    (source, health)
}

fn has(source: &KubeSource, kind: Kind, ns: &str, name: &str) -> bool {
    let set = source.snapshot().resources;
    match kind {
        Kind::Service => set.service(ns, name).is_some(),
        Kind::HttpRoute => set.http_route(ns, name).is_some(),
        Kind::Ingress => set.ingress(ns, name).is_some(),
        Kind::Secret => set.secret(ns, name).is_some(),
        other => panic!("has() does not look up {other}"),
    }
}

fn state(health: &Health, name: &str) -> Option<(State, String)> {
    health.snapshot().get(name).map(|s| (s.state, s.message.clone()))
}

fn service(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
           "spec": {"ports": [{"port": 80}]}})
}

fn httproute(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
           "metadata": {"name": name, "namespace": ns},
           "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}})
}

fn ingress(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": name, "namespace": ns},
           "spec": {"ingressClassName": "fairlead", "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}})
}

#[tokio::test]
async fn lists_then_follows_changes_and_reports_ready() {
    let fake = FakeApi::start().await;
    fake.apply(&service("app", "web")).unwrap();
    let (source, health) = start(&fake, None);
    eventually("every watch listed", || source.settled()).await;
    assert!(has(&source, Kind::Service, "app", "web"));
    assert!(health.is_ready(), "{:?}", health.snapshot());
    assert_eq!(state(&health, "watch services").map(|s| s.0), Some(State::Ready));
    assert_eq!(state(&health, "gateway-api").map(|s| s.0), Some(State::Ready));

    fake.apply(&httproute("app", "r1")).unwrap();
    eventually("the new route", || has(&source, Kind::HttpRoute, "app", "r1")).await;
    fake.delete("v1", "Service", Some("app"), "web").unwrap();
    eventually("the deleted service gone", || {
        !has(&source, Kind::Service, "app", "web")
    })
    .await;
}

#[tokio::test]
async fn only_tls_secrets_are_fetched() {
    let fake = FakeApi::start().await;
    fake.apply(
        &json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "cert", "namespace": "app"}, "data": {"tls.crt": "", "tls.key": ""}}),
    )
    .unwrap();
    fake.apply(&json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "password", "namespace": "app"}, "data": {"p": "aHVudGVyMg=="}}))
        .unwrap();
    let (source, _health) = start(&fake, None);
    eventually("every watch listed", || source.settled()).await;
    assert!(has(&source, Kind::Secret, "app", "cert"));
    assert!(
        !has(&source, Kind::Secret, "app", "password"),
        "an Opaque Secret reached the process"
    );
}

#[tokio::test]
async fn watch_namespace_limits_namespaced_kinds() {
    let fake = FakeApi::start().await;
    fake.apply(&service("app", "web")).unwrap();
    fake.apply(&service("other", "web")).unwrap();
    for ns in ["app", "other"] {
        fake.apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .unwrap();
    }
    let (source, _health) = start(&fake, Some("app"));
    eventually("every watch listed", || source.settled()).await;
    assert!(has(&source, Kind::Service, "app", "web"));
    assert!(!has(&source, Kind::Service, "other", "web"));
    let namespaces: Vec<String> = source
        .snapshot()
        .resources
        .namespaces()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    assert_eq!(namespaces, ["app"]);
}

#[tokio::test]
async fn missing_gateway_crds_degrade_then_start_when_installed() {
    let fake = FakeApi::start().await;
    fake.set_group_installed(GW, false);
    fake.apply(&ingress("app", "site")).unwrap();
    let (source, health) = start(&fake, None);
    eventually("settled without the CRDs", || source.settled()).await;
    assert!(
        has(&source, Kind::Ingress, "app", "site"),
        "Ingress works without the Gateway API"
    );
    let (level, message) = state(&health, "gateway-api").unwrap();
    assert_eq!(level, State::Degraded);
    assert!(
        message.contains("gateways.gateway.networking.k8s.io"),
        "{message}"
    );
    let (level, message) = state(&health, "watch httproutes.gateway.networking.k8s.io").unwrap();
    assert_eq!(level, State::Degraded);
    assert!(message.contains("not installed"), "{message}");
    assert!(
        health.is_ready(),
        "Degraded still serves: {:?}",
        health.snapshot()
    );

    fake.set_group_installed(GW, true);
    fake.apply(&httproute("app", "r1")).unwrap();
    eventually("the route after the CRDs appear", || {
        has(&source, Kind::HttpRoute, "app", "r1")
    })
    .await;
    eventually("gateway-api Ready", || {
        state(&health, "gateway-api").map(|s| s.0) == Some(State::Ready)
    })
    .await;
}

#[tokio::test]
async fn forbidden_list_fails_that_watch_with_a_clear_message() {
    let fake = FakeApi::start().await;
    fake.deny(Verb::List, "gateways");
    fake.apply(&service("app", "web")).unwrap();
    let (source, health) = start(&fake, None);
    eventually("the denial reported", || {
        state(&health, "watch gateways.gateway.networking.k8s.io").is_some_and(|s| s.0 == State::Failed)
    })
    .await;
    let (_, message) = state(&health, "watch gateways.gateway.networking.k8s.io").unwrap();
    assert!(
        message.starts_with("cannot list gateways.gateway.networking.k8s.io at cluster scope: forbidden"),
        "{message}"
    );
    assert!(!health.is_ready(), "a forbidden watch blocks readiness");
    eventually("the other watches listed", || source.settled()).await;
    assert!(
        has(&source, Kind::Service, "app", "web"),
        "other kinds still load"
    );

    fake.allow(Verb::List, "gateways");
    eventually("recovery once allowed", || {
        state(&health, "watch gateways.gateway.networking.k8s.io").is_some_and(|s| s.0 == State::Ready)
    })
    .await;
}

#[tokio::test]
async fn api_restart_keeps_objects_and_resumes() {
    let fake = FakeApi::start().await;
    fake.apply(&service("app", "web")).unwrap();
    let (source, health) = start(&fake, None);
    eventually("every watch listed", || source.settled()).await;

    fake.stop().await;
    eventually("the outage noticed", || {
        state(&health, "watch services").is_some_and(|s| s.0 == State::Degraded)
    })
    .await;
    let (_, message) = state(&health, "watch services").unwrap();
    assert!(message.contains("serving the last known objects"), "{message}");
    assert!(
        has(&source, Kind::Service, "app", "web"),
        "objects survive the outage"
    );
    // Retries back off while the server stays away (250 ms doubling, capped at 4 s).
    let retry_ms = |message: &str| -> Option<u64> {
        let rest = message.split("retrying in ").nth(1)?;
        rest.split(' ').next()?.parse().ok()
    };
    eventually("the retry delay to grow past a second", || {
        state(&health, "watch services")
            .and_then(|s| retry_ms(&s.1))
            .is_some_and(|ms| ms >= 1000)
    })
    .await;

    fake.restart().await.unwrap();
    fake.apply(&service("app", "api")).unwrap();
    eventually("a change after the restart", || {
        has(&source, Kind::Service, "app", "api")
    })
    .await;
    eventually("Ready again", || {
        state(&health, "watch services").map(|s| s.0) == Some(State::Ready)
    })
    .await;
    assert!(has(&source, Kind::Service, "app", "web"));
}

#[tokio::test]
async fn an_object_fairlead_cannot_read_is_reported_not_fatal() {
    let fake = FakeApi::start().await;
    // The fake does no schema validation, so it stores what a real API server would refuse.
    fake.apply(
        &json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "broken", "namespace": "app"}, "spec": {"rules": "nope"}}),
    )
    .unwrap();
    fake.apply(&httproute("app", "fine")).unwrap();
    let (source, _health) = start(&fake, None);
    eventually("every watch listed", || source.settled()).await;
    let snapshot = source.snapshot();
    assert!(has(&source, Kind::HttpRoute, "app", "fine"));
    assert_eq!(snapshot.errors.len(), 1, "{:?}", snapshot.errors);
    assert!(
        snapshot.errors[0].contains("HTTPRoute app/broken"),
        "{:?}",
        snapshot.errors
    );
    assert!(snapshot.errors[0].contains("spec.rules"), "{:?}", snapshot.errors);
}

#[tokio::test]
async fn a_burst_of_events_makes_a_handful_of_rebuilds() {
    let fake = FakeApi::start().await;
    let (source, _health) = start(&fake, None);
    eventually("every watch listed", || source.settled()).await;
    let mut changes = source.changes();
    changes.mark_unchanged();
    let burst = tokio::task::spawn_blocking({
        let objects: Vec<Value> = (0..1000).map(|i| service("app", &format!("svc-{i}"))).collect();
        let fake = Arc::new(fake);
        let writer = fake.clone();
        move || {
            for o in &objects {
                writer.apply(o).unwrap();
            }
            fake
        }
    });
    let mut rebuilds = 0;
    let counted = tokio::time::timeout(LIMIT, async {
        while source.snapshot().counts.get("Service").copied().unwrap_or(0) < 1000 {
            assert!(
                debounced(
                    &mut changes,
                    Duration::from_millis(20),
                    Duration::from_millis(200)
                )
                .await
            );
            rebuilds += 1;
        }
    })
    .await;
    assert!(counted.is_ok(), "the 1,000 Services never all arrived");
    let _fake = burst.await.unwrap();
    assert!(rebuilds <= 100, "1,000 events made {rebuilds} rebuilds");
    println!("1,000 events, {rebuilds} rebuilds");
}

#[tokio::test]
async fn a_too_old_resource_version_relists_and_drops_what_was_deleted_meanwhile() {
    let fake = FakeApi::start().await;
    fake.apply(&service("app", "kept")).unwrap();
    fake.apply(&service("app", "deleted-while-away")).unwrap();
    let (source, _health) = start(&fake, None);
    eventually("every watch listed", || source.settled()).await;
    assert!(has(&source, Kind::Service, "app", "deleted-while-away"));

    // While the watches are cut off, an object goes and the history is compacted: resuming
    // from the last version seen gets 410 Gone, and only a fresh list can show the deletion.
    fake.stop().await;
    fake.delete("v1", "Service", Some("app"), "deleted-while-away")
        .unwrap();
    fake.apply(&service("app", "added-while-away")).unwrap();
    fake.compact();
    fake.restart().await.unwrap();
    eventually("the relist applied", || {
        has(&source, Kind::Service, "app", "added-while-away")
            && !has(&source, Kind::Service, "app", "deleted-while-away")
    })
    .await;
    assert!(has(&source, Kind::Service, "app", "kept"));
}

#[tokio::test]
async fn forbidden_watch_names_the_watch_verb() {
    let fake = FakeApi::start().await;
    fake.deny(Verb::Watch, "services");
    let (_source, health) = start(&fake, Some("app"));
    eventually("the denial reported", || {
        state(&health, "watch services").is_some_and(|s| s.0 == State::Failed)
    })
    .await;
    let (_, message) = state(&health, "watch services").unwrap();
    assert!(
        message.starts_with("cannot watch services in namespace app: forbidden"),
        "{message}"
    );
}

#[tokio::test]
async fn backend_tls_policy_is_read_at_v1alpha3_when_v1_is_not_served() {
    let older = fairlead_fakeapi::KindInfo {
        group: GW,
        versions: &["v1alpha3"],
        kind: "BackendTLSPolicy",
        plural: "backendtlspolicies",
        namespaced: true,
        status_subresource: true,
        field_labels: &[],
    };
    let fake = FakeApi::builder().replace_kind(older).start().await.unwrap();
    fake.apply(
        &json!({"apiVersion": "gateway.networking.k8s.io/v1alpha3", "kind": "BackendTLSPolicy",
        "metadata": {"name": "tls", "namespace": "app"},
        "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "web"}],
                 "validation": {"hostname": "web.app", "wellKnownCACertificates": "System"}}}),
    )
    .unwrap();
    let (source, health) = start(&fake, None);
    eventually("every watch listed", || source.settled()).await;
    eventually("the v1alpha3 policy", || {
        source
            .snapshot()
            .resources
            .backend_tls_policy("app", "tls")
            .is_some()
    })
    .await;
    let (level, message) = state(&health, "watch backendtlspolicies.gateway.networking.k8s.io").unwrap();
    assert_eq!(level, State::Ready, "{message}");
    assert_eq!(state(&health, "gateway-api").map(|s| s.0), Some(State::Ready));
}

#[tokio::test]
async fn an_unreachable_api_server_at_start_is_retried_with_growing_backoff() {
    let fake = FakeApi::start().await;
    fake.apply(&service("app", "web")).unwrap();
    fake.stop().await;
    let (source, health) = start(&fake, None);
    let retry_ms = |message: &str| -> Option<u64> {
        let rest = message.split("retrying in ").nth(1)?;
        rest.split(' ').next()?.parse().ok()
    };
    // Each failed list waits longer (250 ms doubling, capped at 4 s): a dead API server is not
    // hammered.
    eventually("the retry delay to grow past a second", || {
        state(&health, "watch services")
            .filter(|s| s.0 == State::Pending)
            .and_then(|s| retry_ms(&s.1))
            .is_some_and(|ms| ms >= 1000)
    })
    .await;
    assert!(!source.settled());
    fake.restart().await.unwrap();
    eventually("the first list once the server answers", || source.settled()).await;
    assert!(has(&source, Kind::Service, "app", "web"));
}
