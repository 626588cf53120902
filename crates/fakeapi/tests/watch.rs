//! Watches through a real client: kube-runtime's watcher and reflector see ADDED, MODIFIED and
//! DELETED; a too-old resourceVersion gets the 410 ERROR event and the watcher relists;
//! selectors, bookmarks and streaming lists.

mod common;

use common::{applied, configmap, read_until, within};
use fairlead_fakeapi::{FakeApi, Verb};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use serde_json::json;

fn names(reader: &reflector::Store<ConfigMap>) -> Vec<String> {
    let mut v: Vec<String> = reader
        .state()
        .iter()
        .map(|c| c.metadata.name.clone().unwrap_or_default())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn reflector_sees_added_modified_deleted() {
    let fake = FakeApi::start().await;
    fake.apply(&configmap("default", "pre", json!({}), json!({})))
        .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "default");
    let (reader, writer) = reflector::store();
    let mut stream = reflector(writer, watcher(api.clone(), watcher::Config::default()))
        .default_backoff()
        .boxed();

    read_until(&mut stream, 10, |e| matches!(e, Ok(watcher::Event::InitDone))).await;
    assert_eq!(names(&reader), ["pre"]);

    api.create(
        &PostParams::default(),
        &configmap("default", "a", json!({}), json!({"v": "1"})),
    )
    .await
    .unwrap();
    read_until(&mut stream, 10, |e| applied(e, "a")).await;
    assert_eq!(names(&reader), ["a", "pre"]);

    let p = Patch::Merge(json!({"data": {"v": "2"}}));
    api.patch("a", &PatchParams::default(), &p).await.unwrap();
    let seen = read_until(&mut stream, 10, |e| applied(e, "a")).await;
    let Some(Ok(watcher::Event::Apply(modified))) = seen.last() else {
        panic!("{seen:?}")
    };
    assert_eq!(modified.data.as_ref().unwrap()["v"], "2");
    let cached = reader
        .state()
        .into_iter()
        .find(|c| c.metadata.name.as_deref() == Some("a"))
        .unwrap();
    assert_eq!(cached.data.as_ref().unwrap()["v"], "2");

    fake.delete("v1", "ConfigMap", Some("default"), "a").unwrap();
    read_until(
        &mut stream,
        10,
        |e| matches!(e, Ok(watcher::Event::Delete(o)) if o.metadata.name.as_deref() == Some("a")),
    )
    .await;
    assert_eq!(names(&reader), ["pre"]);
    // One list, one watch: nothing made the watcher start over.
    assert_eq!(fake.requests(Verb::List, "configmaps"), 1);
    assert_eq!(fake.requests(Verb::Watch, "configmaps"), 1);
}

#[tokio::test]
async fn too_old_resource_version_gets_410_event() {
    let fake = FakeApi::builder().history(2).start().await.unwrap();
    for i in 1..=5 {
        fake.apply(&configmap("default", &format!("c{i}"), json!({}), json!({})))
            .unwrap();
    }
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "default");

    let mut old = api.watch(&WatchParams::default(), "1").await.unwrap().boxed();
    let first = within("the ERROR event", old.try_next()).await.unwrap();
    match first {
        Some(WatchEvent::Error(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(
                status.message.contains("too old resource version: 1"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(within("the end of the stream", old.try_next())
        .await
        .unwrap()
        .is_none());

    // Versions still in the history replay what came after them.
    let mut recent = api
        .watch(&WatchParams::default().disable_bookmarks(), "3")
        .await
        .unwrap()
        .boxed();
    for want in ["c4", "c5"] {
        match within("a replayed event", recent.try_next()).await.unwrap() {
            Some(WatchEvent::Added(cm)) => assert_eq!(cm.metadata.name.as_deref(), Some(want)),
            other => panic!("expected ADDED {want}, got {other:?}"),
        }
    }
    let bad = api
        .watch(&WatchParams::default(), "abc")
        .await
        .unwrap()
        .boxed()
        .try_next()
        .await;
    assert!(
        matches!(&bad, Err(kube::Error::Api(s)) if s.code == 400),
        "{bad:?}"
    );
}

#[tokio::test]
async fn watcher_relists_after_410_and_recovers() {
    let fake = FakeApi::start().await;
    fake.apply(&configmap("default", "early", json!({}), json!({})))
        .unwrap();
    let api: Api<ConfigMap> = Api::all(fake.client());
    let (reader, writer) = reflector::store();
    let mut stream = reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .boxed();
    read_until(&mut stream, 10, |e| matches!(e, Ok(watcher::Event::InitDone))).await;

    // Keep the watcher away while a change is made and the history forgotten, so its
    // resourceVersion is too old when it comes back.
    fake.deny(Verb::Watch, "configmaps");
    fake.drop_watches();
    fake.apply(&configmap("default", "late", json!({}), json!({})))
        .unwrap();
    fake.delete("v1", "ConfigMap", Some("default"), "early").unwrap();
    fake.compact();
    fake.allow(Verb::Watch, "configmaps");

    let seen = read_until(&mut stream, 50, |e| matches!(e, Ok(watcher::Event::InitDone))).await;
    let gone = seen
        .iter()
        .any(|e| matches!(e, Err(watcher::Error::WatchError(s)) if s.code == 410));
    assert!(gone, "no 410 before the relist: {seen:?}");
    assert_eq!(names(&reader), ["late"]);
    assert_eq!(fake.requests(Verb::List, "configmaps"), 2);
}

#[tokio::test]
async fn selector_transitions_arrive_as_added_and_deleted() {
    let fake = FakeApi::start().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "default");
    let wp = WatchParams::default().disable_bookmarks().labels("app=web");
    let mut events = api.watch(&wp, "0").await.unwrap().boxed();
    let pp = PatchParams::default();

    api.create(
        &PostParams::default(),
        &configmap("default", "m", json!({}), json!({})),
    )
    .await
    .unwrap();
    api.patch(
        "m",
        &pp,
        &Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}})),
    )
    .await
    .unwrap();
    api.patch("m", &pp, &Patch::Merge(json!({"data": {"k": "v"}})))
        .await
        .unwrap();
    api.patch(
        "m",
        &pp,
        &Patch::Merge(json!({"metadata": {"labels": {"app": null}}})),
    )
    .await
    .unwrap();
    let mut kinds = Vec::new();
    for _ in 0..3 {
        let ev = within("a watch event", events.try_next()).await.unwrap();
        kinds.push(match ev {
            Some(WatchEvent::Added(_)) => "ADDED",
            Some(WatchEvent::Modified(_)) => "MODIFIED",
            Some(WatchEvent::Deleted(_)) => "DELETED",
            other => panic!("unexpected {other:?}"),
        });
    }
    // The unlabelled create came first and must not have been sent.
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn bookmarks_and_streaming_lists() {
    let fake = FakeApi::builder()
        .bookmark_interval(Some(std::time::Duration::from_millis(20)))
        .start()
        .await
        .unwrap();
    fake.apply(&configmap("default", "x", json!({}), json!({})))
        .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "default");

    let rv = fake.resource_version().to_string();
    let mut events = api.watch(&WatchParams::default(), &rv).await.unwrap().boxed();
    match within("a bookmark", events.try_next()).await.unwrap() {
        Some(WatchEvent::Bookmark(b)) => assert_eq!(b.metadata.resource_version, rv),
        other => panic!("expected a bookmark, got {other:?}"),
    }
    // Without allowWatchBookmarks no bookmark comes: the next event is the change.
    let mut plain = api
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await
        .unwrap()
        .boxed();
    fake.apply(&configmap("default", "y", json!({}), json!({})))
        .unwrap();
    assert!(matches!(
        within("an event", plain.try_next()).await.unwrap(),
        Some(WatchEvent::Added(_))
    ));

    let (reader, writer) = reflector::store();
    let config = watcher::Config::default().streaming_lists();
    let mut stream = reflector(writer, watcher(api, config)).default_backoff().boxed();
    read_until(&mut stream, 10, |e| matches!(e, Ok(watcher::Event::InitDone))).await;
    assert_eq!(names(&reader), ["x", "y"]);
    assert_eq!(
        fake.requests(Verb::List, "configmaps"),
        0,
        "a streaming list must not list"
    );
}
