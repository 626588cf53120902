//! Object reads and writes through a real `kube::Client` with typed `Api<K>`: create, get,
//! list with selectors and scopes, update conflicts, patches, the status subresource and
//! generation, delete.

mod common;

use common::{api_error, condition, configmap, gateway};
use fairlead_fakeapi::FakeApi;
use gateway_api::apis::standard::gatewayclasses::GatewayClass;
use gateway_api::apis::standard::gateways::Gateway;
use gateway_api::apis::standard::referencegrants::ReferenceGrant;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams,
};
use serde_json::json;

fn rv<K: kube::Resource>(o: &K) -> u64 {
    o.meta().resource_version.as_deref().unwrap().parse().unwrap()
}

#[tokio::test]
async fn create_get_list_delete() {
    let fake = FakeApi::start().await;
    let client = fake.client();
    let apps: Api<ConfigMap> = Api::namespaced(client.clone(), "apps");
    let pp = PostParams::default();

    let a = configmap("apps", "a", json!({"app": "web"}), json!({"k": "1"}));
    let created = apps.create(&pp, &a).await.unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("apps"));
    assert!(!meta.uid.as_deref().unwrap_or("").is_empty());
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));
    assert_eq!(rv(&created), fake.resource_version());

    let got = apps.get("a").await.unwrap();
    assert_eq!(got.data, created.data);
    assert_eq!(got.metadata.uid, created.metadata.uid);

    let dup = api_error(apps.create(&pp, &a).await);
    assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));
    assert!(dup.message.contains("\"a\" already exists"), "{}", dup.message);
    let missing = api_error(apps.get("nope").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    // A body naming another namespace than the path is refused.
    let wrong_ns = api_error(
        apps.create(&pp, &configmap("other", "x", json!({}), json!({})))
            .await,
    );
    assert_eq!(wrong_ns.code, 400);

    let other: Api<ConfigMap> = Api::namespaced(client.clone(), "other");
    other
        .create(&pp, &configmap("other", "b", json!({"app": "db"}), json!({})))
        .await
        .unwrap();

    let names = |l: kube::core::ObjectList<ConfigMap>| {
        let mut v: Vec<String> = l.items.into_iter().map(|c| c.metadata.name.unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(names(apps.list(&ListParams::default()).await.unwrap()), ["a"]);
    let all: Api<ConfigMap> = Api::all(client.clone());
    let listed = all.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        listed.metadata.resource_version.as_deref(),
        Some(fake.resource_version().to_string().as_str())
    );
    assert_eq!(names(listed), ["a", "b"]);
    assert_eq!(
        names(all.list(&ListParams::default().labels("app=db")).await.unwrap()),
        ["b"]
    );
    assert_eq!(
        names(
            all.list(&ListParams::default().labels("app in (web,db),app!=db"))
                .await
                .unwrap()
        ),
        ["a"]
    );
    assert_eq!(
        names(
            all.list(&ListParams::default().fields("metadata.name=a"))
                .await
                .unwrap()
        ),
        ["a"]
    );
    assert_eq!(
        names(
            all.list(&ListParams::default().fields("metadata.namespace!=apps"))
                .await
                .unwrap()
        ),
        ["b"]
    );
    let bad = api_error(all.list(&ListParams::default().fields("data.k=1")).await);
    assert_eq!(bad.code, 400);
    assert!(
        bad.message.contains("field label not supported"),
        "{}",
        bad.message
    );

    let deleted = apps.delete("a", &DeleteParams::default()).await.unwrap();
    let deleted = deleted.left().expect("the deleted object");
    assert_eq!(deleted.metadata.name.as_deref(), Some("a"));
    assert_eq!(api_error(apps.get("a").await).code, 404);
    assert!(fake.get("v1", "ConfigMap", Some("apps"), "a").is_none());
    assert_eq!(
        api_error(apps.delete("a", &DeleteParams::default()).await).code,
        404
    );
}

#[tokio::test]
async fn secrets_by_type_and_cluster_scoped_kinds() {
    let fake = FakeApi::start().await;
    let client = fake.client();
    for (name, type_) in [("tls", "kubernetes.io/tls"), ("opaque", "Opaque")] {
        fake.apply(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "default"}, "type": type_,
        }))
        .unwrap();
    }
    let secrets: Api<Secret> = Api::all(client.clone());
    let tls = secrets
        .list(&ListParams::default().fields("type=kubernetes.io/tls"))
        .await
        .unwrap();
    assert_eq!(tls.items.len(), 1);
    assert_eq!(tls.items[0].metadata.name.as_deref(), Some("tls"));

    let classes: Api<GatewayClass> = Api::all(client.clone());
    let gc: GatewayClass = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "fairlead"},
        "spec": {"controllerName": "fairlead.dev/gateway-controller"},
    }))
    .unwrap();
    let created = classes.create(&PostParams::default(), &gc).await.unwrap();
    assert_eq!(created.metadata.namespace, None);
    assert_eq!(
        classes.get("fairlead").await.unwrap().spec.controller_name,
        "fairlead.dev/gateway-controller"
    );
    // A cluster-scoped kind has no namespaced path.
    let req = http::Request::get("/apis/gateway.networking.k8s.io/v1/namespaces/default/gatewayclasses")
        .body(Vec::new())
        .unwrap();
    assert_eq!(api_error(client.request_text(req).await).code, 404);
}

#[tokio::test]
async fn lease_update_with_stale_resource_version_conflicts() {
    let fake = FakeApi::start().await;
    let leases: Api<Lease> = Api::namespaced(fake.client(), "fairlead-system");
    let pp = PostParams::default();
    let lease: Lease = serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "leader", "namespace": "fairlead-system"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15},
    }))
    .unwrap();
    let v1 = leases.create(&pp, &lease).await.unwrap();

    let mut take = v1.clone();
    take.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let v2 = leases.replace("leader", &pp, &take).await.unwrap();
    assert!(rv(&v2) > rv(&v1));

    let mut stale = v1.clone();
    stale.spec.as_mut().unwrap().holder_identity = Some("c".into());
    let err = api_error(leases.replace("leader", &pp, &stale).await);
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message
            .contains("the object has been modified; please apply your changes to the latest version"),
        "{}",
        err.message
    );
    let held: Lease = fake.get_as(Some("fairlead-system"), "leader").unwrap();
    assert_eq!(held.spec.unwrap().holder_identity.as_deref(), Some("b"));

    // A merge patch that names a stale resourceVersion is a precondition too.
    let p = Patch::Merge(
        json!({"metadata": {"resourceVersion": rv(&v1).to_string()}, "spec": {"holderIdentity": "d"}}),
    );
    assert_eq!(
        api_error(leases.patch("leader", &PatchParams::default(), &p).await).code,
        409
    );
    // The name in the body must match the URL.
    let mut renamed = v2.clone();
    renamed.metadata.name = Some("other".into());
    assert_eq!(api_error(leases.replace("leader", &pp, &renamed).await).code, 400);
    assert_eq!(
        api_error(
            leases
                .replace("absent", &pp, &{
                    let mut l = lease.clone();
                    l.metadata.name = Some("absent".into());
                    l
                })
                .await
        )
        .code,
        404
    );
}

#[tokio::test]
async fn status_and_spec_writes_stay_apart() {
    let fake = FakeApi::start().await;
    let gws: Api<Gateway> = Api::namespaced(fake.client(), "default");
    let pp = PatchParams::default();

    // Create drops .status for kinds with a status subresource.
    let created = gws
        .create(&PostParams::default(), &gateway("default", "gw", "fairlead"))
        .await
        .unwrap();
    assert!(created.status.is_none());
    assert_eq!(created.metadata.generation, Some(1));

    let status = json!({"status": {"conditions": [condition("Accepted", "True", 1)]}, "spec": {"gatewayClassName": "evil"}});
    let after_status = gws.patch_status("gw", &pp, &Patch::Merge(&status)).await.unwrap();
    assert_eq!(
        after_status.spec.gateway_class_name, "fairlead",
        "a status write changed spec"
    );
    assert_eq!(
        after_status.metadata.generation,
        Some(1),
        "a status write bumped generation"
    );
    let conds = after_status.status.as_ref().unwrap().conditions.as_ref().unwrap();
    assert_eq!(conds[0].type_, "Accepted");
    assert!(rv(&after_status) > rv(&created));

    let spec = json!({"spec": {"gatewayClassName": "other"}, "status": null});
    let after_spec = gws.patch("gw", &pp, &Patch::Merge(&spec)).await.unwrap();
    assert_eq!(after_spec.spec.gateway_class_name, "other");
    assert_eq!(after_spec.metadata.generation, Some(2));
    assert_eq!(
        after_spec.status, after_status.status,
        "a spec write changed status"
    );

    let labels = json!({"metadata": {"labels": {"team": "net"}}});
    let after_labels = gws.patch("gw", &pp, &Patch::Merge(&labels)).await.unwrap();
    assert_eq!(
        after_labels.metadata.generation,
        Some(2),
        "a metadata write bumped generation"
    );
    assert!(rv(&after_labels) > rv(&after_spec));
    // Writing the same thing again changes nothing, so nothing is written.
    let again = gws.patch("gw", &pp, &Patch::Merge(&labels)).await.unwrap();
    assert_eq!(rv(&again), rv(&after_labels));

    // PUT on /status takes only .status.
    let mut whole = again.clone();
    whole.spec.gateway_class_name = "ignored".into();
    whole.status.as_mut().unwrap().conditions =
        Some(vec![
            serde_json::from_value(condition("Programmed", "False", 2)).unwrap()
        ]);
    let replaced = gws
        .replace_status("gw", &PostParams::default(), &whole)
        .await
        .unwrap();
    assert_eq!(replaced.spec.gateway_class_name, "other");
    assert_eq!(
        replaced.status.unwrap().conditions.unwrap()[0].type_,
        "Programmed"
    );

    // Strategic merge patch is not implemented: 415, as for CRDs on a real server.
    let smp = Patch::Strategic(json!({"spec": {"gatewayClassName": "x"}}));
    assert_eq!(api_error(gws.patch("gw", &pp, &smp).await).code, 415);
    // A status subresource that does not exist.
    let cms: Api<ConfigMap> = Api::namespaced(fake.client(), "default");
    fake.apply(&configmap("default", "c", json!({}), json!({})))
        .unwrap();
    assert_eq!(api_error(cms.get_status("c").await).code, 404);
}

#[tokio::test]
async fn server_side_apply_and_json_patch() {
    let fake = FakeApi::start().await;
    let client = fake.client();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let ssa = PatchParams::apply("fairlead").force();
    let first = configmap(
        "default",
        "applied",
        json!({"a": "1"}),
        json!({"x": "1", "y": "2"}),
    );
    let created = cms.patch("applied", &ssa, &Patch::Apply(&first)).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let second =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"x": "3"}});
    let updated = cms.patch("applied", &ssa, &Patch::Apply(&second)).await.unwrap();
    let data = updated.data.unwrap();
    assert_eq!(data["x"], "3");
    // Documented difference: fields left out of a later apply are kept.
    assert_eq!(data["y"], "2");

    // Apply without a field manager is refused, as on a real server.
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/applied")
        .header("content-type", "application/apply-patch+yaml")
        .body(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  z: '9'\n".to_vec())
        .unwrap();
    assert_eq!(api_error(client.request_text(req).await).code, 422);
    // YAML apply bodies work.
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/applied?fieldManager=t")
        .header("content-type", "application/apply-patch+yaml")
        .body(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  z: '9'\n".to_vec())
        .unwrap();
    let yaml_applied: ConfigMap = client.request(req).await.unwrap();
    assert_eq!(yaml_applied.data.unwrap()["z"], "9");

    let ops = br#"[{"op":"replace","path":"/data/x","value":"4"},{"op":"remove","path":"/data/y"}]"#;
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/applied")
        .header("content-type", "application/json-patch+json")
        .body(ops.to_vec())
        .unwrap();
    let patched: ConfigMap = client.request(req).await.unwrap();
    let data = patched.data.unwrap();
    assert_eq!((data["x"].as_str(), data.get("y")), ("4", None));
    let failing = br#"[{"op":"test","path":"/data/x","value":"nope"}]"#;
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/applied")
        .header("content-type", "application/json-patch+json")
        .body(failing.to_vec())
        .unwrap();
    assert_eq!(api_error(client.request_text(req).await).code, 422);
    // Merge patch on a missing object is a 404, apply is not.
    let missing = cms
        .patch(
            "missing",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {}})),
        )
        .await;
    assert_eq!(api_error(missing).code, 404);
}

#[tokio::test]
async fn versions_of_one_resource_share_storage() {
    let fake = FakeApi::start().await;
    let client = fake.client();
    let grants: Api<ReferenceGrant> = Api::namespaced(client.clone(), "backends");
    let grant: ReferenceGrant = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "ReferenceGrant",
        "metadata": {"name": "g", "namespace": "backends"},
        "spec": {
            "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "default"}],
            "to": [{"group": "", "kind": "Service"}],
        },
    }))
    .unwrap();
    grants.create(&PostParams::default(), &grant).await.unwrap();
    let gvk = GroupVersionKind::gvk("gateway.networking.k8s.io", "v1beta1", "ReferenceGrant");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "referencegrants");
    let beta: Api<DynamicObject> = Api::namespaced_with(client, "backends", &ar);
    let got = beta.get("g").await.unwrap();
    assert_eq!(
        got.types.unwrap().api_version,
        "gateway.networking.k8s.io/v1beta1"
    );
    assert_eq!(got.data["spec"]["to"][0]["kind"], "Service");
}
