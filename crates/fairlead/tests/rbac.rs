//! The RBAC rules in deploy/ are enough, as enforced: the fake API server denies every
//! (verb, resource) that deploy/'s ClusterRole and lease Role do not grant, and `serve
//! --kubernetes` with the Deployment's options must still list, watch, elect, serve and write
//! every kind of status. deploy.rs checks the rules grant nothing more.

mod support;

use fairlead_fakeapi::{FakeApi, Verb, DEFAULT_KINDS};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use support::manifests::{backend, gateway_setup, http_route, ingress, ingress_rule, rule, to};
use support::{eventually, free_port, Echo, Fairlead, Http};

const VERBS: [Verb; 8] = [
    Verb::Get,
    Verb::List,
    Verb::Watch,
    Verb::Create,
    Verb::Update,
    Verb::Patch,
    Verb::Delete,
    Verb::DeleteCollection,
];

/// (verb, resource) pairs granted by every Role and ClusterRole in deploy/. The fake names
/// resources by plural (and subresource) only, so the API group is not part of the key.
fn granted() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let mut grants = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for de in yaml_serde::Deserializer::from_str(&text) {
            let doc = Value::deserialize(de).unwrap();
            if !matches!(doc["kind"].as_str(), Some("Role" | "ClusterRole")) {
                continue;
            }
            for rule in doc["rules"].as_array().into_iter().flatten() {
                for resource in rule["resources"].as_array().into_iter().flatten() {
                    for verb in rule["verbs"].as_array().into_iter().flatten() {
                        grants.insert((
                            verb.as_str().unwrap().to_string(),
                            resource.as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
        }
    }
    grants
}

/// Denies on `fake` every (verb, resource) of every kind it serves that `grants` lacks.
fn enforce(fake: &FakeApi, grants: &BTreeSet<(String, String)>) -> usize {
    let mut denied = 0;
    for kind in DEFAULT_KINDS {
        let resources = [kind.plural.to_string(), format!("{}/status", kind.plural)];
        for resource in &resources {
            for verb in VERBS {
                if !grants.contains(&(verb.as_str().to_string(), resource.clone())) {
                    fake.deny(verb, resource);
                    denied += 1;
                }
            }
        }
    }
    denied
}

fn condition(object: &Value, pointer: &str, type_: &str) -> Option<String> {
    object
        .pointer(pointer)?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)?["status"]
        .as_str()
        .map(str::to_string)
}

#[tokio::test]
async fn the_deploy_rbac_is_enough_for_every_read_and_write() {
    let grants = granted();
    assert!(!grants.is_empty(), "no Role or ClusterRole found in deploy/");
    let fake = FakeApi::start().await;
    let denied = enforce(&fake, &grants);
    assert!(
        denied > 100,
        "only {denied} (verb, resource) pairs denied: the check is too weak"
    );

    let echo = Echo::start("echo").await;
    let port = free_port();
    // Objects go in through the test's handle, which the deny switches do not apply to.
    for object in gateway_setup(port).iter().chain(&backend(&echo)) {
        fake.apply(object).unwrap();
    }
    fake.apply(&http_route("app", &[], vec![rule(Value::Null, vec![to("echo")])]))
        .unwrap();
    fake.apply(&ingress(
        "site",
        json!([ingress_rule(Some("site.example.com"), &[("/", "Prefix", "echo")])]),
    ))
    .unwrap();
    fake.apply(&json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "fairlead", "namespace": "fairlead-system"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}},
    }))
    .unwrap();

    // The Deployment's options that touch the API.
    let mut fl = Fairlead::start_kubernetes_as(
        &fake.url(),
        &[
            "--leader-elect",
            "--lease-namespace",
            "fairlead-system",
            "--status-service",
            "fairlead-system/fairlead",
        ],
        Some("fairlead-0"),
    );
    fl.wait_ready().await;
    let http = Http::new();
    eventually("the route served", || async {
        (http.try_get(port, "x", "/").await?.status == 200).then_some(())
    })
    .await;
    eventually("every status written", || async {
        let class = fake.get("gateway.networking.k8s.io/v1", "GatewayClass", None, "fairlead")?;
        let gateway = fake.get("gateway.networking.k8s.io/v1", "Gateway", Some("default"), "web")?;
        let route = fake.get(
            "gateway.networking.k8s.io/v1",
            "HTTPRoute",
            Some("default"),
            "app",
        )?;
        let site = fake.get("networking.k8s.io/v1", "Ingress", Some("default"), "site")?;
        let written = condition(&class, "/status/conditions", "Accepted")? == "True"
            && condition(&gateway, "/status/conditions", "Programmed")? == "True"
            && gateway.pointer("/status/addresses/0/value")? == "203.0.113.7"
            && condition(&route, "/status/parents/0/conditions", "Accepted")? == "True"
            && site.pointer("/status/loadBalancer/ingress/0/ip")? == "203.0.113.7";
        written.then_some(())
    })
    .await;
    let status = fl.status().await;
    for (name, subsystem) in status["subsystems"].as_object().unwrap() {
        assert_eq!(subsystem["state"], "Ready", "{name}: {subsystem}");
    }
    let log = fl.log();
    assert!(!log.contains("forbidden"), "a request was denied:\n{log}");
}
