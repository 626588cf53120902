//! Fault switches through a real client: 403 per (verb, resource), a CRD group that is not
//! installed and then is, stalled responses, dropped watches, stop and restart on the same
//! port, and request counting.

mod common;

use common::{api_error, applied, configmap, gateway, read_until, within};
use fairlead_fakeapi::{FakeApi, Verb, ANY_RESOURCE, DEFAULT_USER};
use futures::StreamExt;
use gateway_api::apis::standard::gateways::Gateway;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::discovery::Discovery;
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::json;

const GW: &str = "gateway.networking.k8s.io";

#[tokio::test]
async fn denied_verbs_get_403_with_the_rbac_message() {
    let fake = FakeApi::start().await;
    let client = fake.client();
    fake.apply(&gateway("default", "gw", "fairlead")).unwrap();
    fake.deny(Verb::List, "gateways");
    fake.deny(Verb::Patch, "gateways/status");

    let all: Api<Gateway> = Api::all(client.clone());
    let err = api_error(all.list(&ListParams::default()).await);
    assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        err.message,
        format!("gateways.{GW} is forbidden: User \"{DEFAULT_USER}\" cannot list resource \"gateways\" in API group \"{GW}\" at the cluster scope")
    );
    let ns: Api<Gateway> = Api::namespaced(client.clone(), "default");
    let err = api_error(ns.list(&ListParams::default()).await);
    assert!(
        err.message.ends_with("in the namespace \"default\""),
        "{}",
        err.message
    );

    // Only the denied (verb, resource) pairs fail.
    ns.get("gw").await.unwrap();
    let p = Patch::Merge(json!({"status": {"conditions": []}}));
    let err = api_error(ns.patch_status("gw", &PatchParams::default(), &p).await);
    assert_eq!(err.code, 403);
    assert!(
        err.message.contains("cannot patch resource \"gateways/status\""),
        "{}",
        err.message
    );
    ns.patch(
        "gw",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
    )
    .await
    .unwrap();

    // A watcher whose list is denied reports it.
    let mut stream = watcher(all.clone(), watcher::Config::default()).boxed();
    let seen = read_until(&mut stream, 5, |e| e.is_err()).await;
    assert!(
        matches!(seen.last(), Some(Err(watcher::Error::InitialListFailed(kube::Error::Api(s)))) if s.code == 403),
        "{seen:?}"
    );

    fake.allow(Verb::List, "gateways");
    assert_eq!(all.list(&ListParams::default()).await.unwrap().items.len(), 1);
    fake.deny(Verb::Get, ANY_RESOURCE);
    assert_eq!(api_error(ns.get("gw").await).code, 403);
}

#[tokio::test]
async fn missing_crd_group_is_404_until_installed() {
    let fake = FakeApi::start().await;
    let client = fake.client();
    fake.set_group_installed(GW, false);
    // The handle still writes, as if the object were waiting for its CRD.
    fake.apply(&gateway("default", "gw", "fairlead")).unwrap();

    let gws: Api<Gateway> = Api::all(client.clone());
    let err = api_error(gws.list(&ListParams::default()).await);
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    assert!(!discovery.has_group(GW));
    assert!(discovery.has_group("coordination.k8s.io"));
    // Other groups are unaffected.
    let cms: Api<ConfigMap> = Api::all(client.clone());
    cms.list(&ListParams::default()).await.unwrap();

    fake.set_group_installed(GW, true);
    let listed = gws.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let discovery = Discovery::new(client).run().await.unwrap();
    let group = discovery
        .get(GW)
        .expect("the group is discoverable once installed");
    assert!(group
        .recommended_resources()
        .iter()
        .any(|(r, _)| r.plural == "httproutes"));
}

#[tokio::test]
async fn uninstalling_a_group_ends_its_watches() {
    let fake = FakeApi::start().await;
    let gws: Api<Gateway> = Api::all(fake.client());
    let mut events = gws.watch(&Default::default(), "0").await.unwrap().boxed();
    fake.set_group_installed(GW, false);
    assert!(within("the watch to end", events.next()).await.is_none());
    assert_eq!(fake.open_watches(), 0);
}

#[tokio::test]
async fn stalled_requests_wait_until_released() {
    let fake = FakeApi::start().await;
    fake.apply(&configmap("default", "c", json!({}), json!({})))
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(fake.client(), "default");
    fake.stall(true);
    let pending = tokio::spawn(async move { cms.get("c").await });
    // The counter moves when the request arrives, before the stall holds it.
    within("the request to arrive", async {
        for _ in 0..2000 {
            if fake.requests(Verb::Get, "configmaps") == 1 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("the request never arrived");
    })
    .await;
    tokio::task::yield_now().await;
    assert!(!pending.is_finished(), "a stalled request was answered");
    fake.stall(false);
    let got = within("the released request", pending).await.unwrap().unwrap();
    assert_eq!(got.metadata.name.as_deref(), Some("c"));
}

#[tokio::test]
async fn dropped_watches_resume_and_requests_are_counted() {
    let fake = FakeApi::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(fake.client(), "default");
    let mut stream = watcher(cms.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    read_until(&mut stream, 5, |e| matches!(e, Ok(watcher::Event::InitDone))).await;
    // An event through the watch proves it is open before it is dropped.
    fake.apply(&configmap("default", "warm", json!({}), json!({})))
        .unwrap();
    read_until(&mut stream, 5, |e| applied(e, "warm")).await;
    assert_eq!(fake.open_watches(), 1);

    fake.drop_watches();
    assert_eq!(fake.open_watches(), 0);
    fake.apply(&configmap("default", "after-drop", json!({}), json!({})))
        .unwrap();
    read_until(&mut stream, 10, |e| applied(e, "after-drop")).await;
    assert_eq!(fake.requests(Verb::Watch, "configmaps"), 2);
    assert_eq!(
        fake.requests(Verb::List, "configmaps"),
        1,
        "resuming must not relist"
    );

    fake.reset_requests();
    let pp = PatchParams::default();
    for i in 0..3 {
        let p = Patch::Merge(json!({"data": {"i": i.to_string()}}));
        cms.patch("after-drop", &pp, &p).await.unwrap();
    }
    assert_eq!(fake.requests(Verb::Patch, "configmaps"), 3);
    assert_eq!(fake.requests(Verb::Patch, ANY_RESOURCE), 3);
    assert_eq!(fake.requests(Verb::Update, "configmaps"), 0);
}

#[tokio::test]
async fn restart_keeps_objects_and_watchers_resume() {
    let fake = FakeApi::start().await;
    let client = fake.client();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let before = fake
        .apply(&configmap("default", "kept", json!({}), json!({})))
        .unwrap();
    let mut stream = watcher(cms.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    read_until(&mut stream, 5, |e| matches!(e, Ok(watcher::Event::InitDone))).await;
    fake.apply(&configmap("default", "warm", json!({}), json!({})))
        .unwrap();
    read_until(&mut stream, 5, |e| applied(e, "warm")).await;
    assert_eq!(fake.open_watches(), 1);

    fake.stop().await;
    assert_eq!(fake.open_watches(), 0);
    assert!(cms.get("kept").await.is_err(), "a stopped server answered");
    fake.apply(&configmap("default", "while-down", json!({}), json!({})))
        .unwrap();
    fake.restart().await.unwrap();

    let kept = cms.get("kept").await.unwrap();
    assert_eq!(kept.metadata.uid.as_deref(), before["metadata"]["uid"].as_str());
    read_until(&mut stream, 20, |e| applied(e, "while-down")).await;
    assert_eq!(
        fake.requests(Verb::List, "configmaps"),
        1,
        "the watcher relisted instead of resuming"
    );
    assert!(fake.requests(Verb::Watch, "configmaps") >= 2);
}
