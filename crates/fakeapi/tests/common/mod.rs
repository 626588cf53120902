//! Helpers shared by the integration tests: bounded waits, typed objects from JSON, and a
//! watcher driver that reads events until a condition holds.

#![allow(dead_code)]

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use futures::{Stream, StreamExt};
use gateway_api::apis::standard::gateways::Gateway;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::watcher;
use serde_json::{json, Value};

/// Every wait in these tests ends by this deadline.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test if it takes longer than [`LIMIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(LIMIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

pub fn configmap(ns: &str, name: &str, labels: Value, data: Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": name, "namespace": ns, "labels": labels },
        "data": data,
    }))
    .unwrap()
}

pub fn gateway(ns: &str, name: &str, class: &str) -> Gateway {
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "gatewayClassName": class,
            "listeners": [{ "name": "http", "port": 80, "protocol": "HTTP" }],
        },
        "status": { "conditions": [condition("Programmed", "True", 1)] },
    }))
    .unwrap()
}

pub fn condition(type_: &str, status: &str, generation: i64) -> Value {
    json!({
        "type": type_,
        "status": status,
        "reason": type_,
        "message": "",
        "observedGeneration": generation,
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    })
}

/// The `kube::Error::Api` status of a result, failing the test on anything else.
pub fn api_error<T: Debug>(r: Result<T, kube::Error>) -> Box<kube::core::Status> {
    match r {
        Err(kube::Error::Api(s)) => s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Reads watcher events (errors included) until `done` says so, bounded by [`LIMIT`] and by
/// `max` events. Returns everything read.
pub async fn read_until<K, S>(
    stream: &mut S,
    max: usize,
    mut done: impl FnMut(&Result<watcher::Event<K>, watcher::Error>) -> bool,
) -> Vec<Result<watcher::Event<K>, watcher::Error>>
where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Unpin,
    K: Debug,
{
    let mut seen = Vec::new();
    within("watcher events", async {
        for _ in 0..max {
            let Some(ev) = stream.next().await else {
                panic!("watcher stream ended; saw {seen:?}");
            };
            let stop = done(&ev);
            seen.push(ev);
            if stop {
                return;
            }
        }
        panic!("condition not met within {max} events: {seen:?}");
    })
    .await;
    seen
}

/// Whether the event is `Apply` (or `InitApply`) of an object with this name.
pub fn applied<K: kube::Resource>(ev: &Result<watcher::Event<K>, watcher::Error>, name: &str) -> bool {
    matches!(ev, Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) if o.meta().name.as_deref() == Some(name))
}
