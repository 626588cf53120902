//! The status writer against the fake API server with a real `kube::Client`: shapes written per
//! kind, merging with other controllers' entries, the memo (no API call for an unchanged
//! report), leadership, 409 retries, flapping, addresses, 403 and 404 handling.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::{eventually, LIMIT};

use fairlead_admin::{Health, State};
use fairlead_fakeapi::{FakeApi, Verb, ANY_RESOURCE};
use fairlead_kube::status::{Addresses, StatusSettings, StatusWriter};
use fairlead_route::{
    Condition, ListenerStatus, ObjectRef, ObjectStatus, ParentRef, ParentStatus, StatusReport,
};
use prometheus_client::registry::Registry;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const OURS: &str = "fairlead.dev/gateway-controller";
const GW: &str = "gateway.networking.k8s.io/v1";

/// A running writer with the channels that drive it.
struct Harness {
    reports: watch::Sender<Option<Arc<StatusReport>>>,
    leader: watch::Sender<bool>,
    health: Arc<Health>,
    registry: Registry,
    shutdown: CancellationToken,
    writer: StatusWriter,
}

impl Harness {
    fn start(client: kube::Client, settings: StatusSettings, leader: bool) -> Harness {
        let (reports, reports_rx) = watch::channel(None);
        let (leader, leader_rx) = watch::channel(leader);
        let health = Arc::new(Health::new());
        let mut registry = Registry::default();
        let shutdown = CancellationToken::new();
        let writer = StatusWriter::start(
            client,
            settings,
            reports_rx,
            leader_rx,
            health.clone(),
            &mut registry,
            shutdown.clone(),
        );
        Harness {
            reports,
            leader,
            health,
            registry,
            shutdown,
            writer,
        }
    }

    fn report(&self, objects: Vec<ObjectStatus>) {
        self.reports
            .send_replace(Some(Arc::new(StatusReport { objects })));
    }

    fn metric(&self, kind: &str, result: &str) -> u64 {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).unwrap();
        let prefix = format!("fairlead_status_writes_total{{kind=\"{kind}\",result=\"{result}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0, |n| n.trim().parse().unwrap())
    }

    fn health(&self) -> (State, String) {
        let snap = self.health.snapshot();
        let s = snap.get("status").expect("status subsystem registered");
        (s.state, s.message.clone())
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(LIMIT, self.writer.stopped())
            .await
            .expect("writer stops promptly after shutdown");
    }
}

fn settings() -> StatusSettings {
    let mut s = StatusSettings::new(OURS);
    s.min_object_interval = Duration::from_millis(50);
    s
}

fn stored_status(fake: &FakeApi, api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> Value {
    fake.get(api_version, kind, ns, name)
        .and_then(|o| o.get("status").cloned())
        .unwrap_or(Value::Null)
}

fn obj(kind: &str, ns: Option<&str>, name: &str, generation: i64) -> ObjectStatus {
    ObjectStatus {
        object: ObjectRef {
            kind: kind.into(),
            namespace: ns.map(str::to_string),
            name: name.into(),
        },
        generation: Some(generation),
        ..ObjectStatus::default()
    }
}

fn cond(type_: &str, status: bool) -> Condition {
    Condition::new(type_, status, if status { type_ } else { "Invalid" }, "msg")
}

fn gateway_status(programmed: bool) -> ObjectStatus {
    ObjectStatus {
        conditions: vec![cond("Accepted", true), cond("Programmed", programmed)],
        listeners: vec![ListenerStatus {
            name: "http".into(),
            attached_routes: 1,
            supported_kinds: vec!["HTTPRoute".into(), "GRPCRoute".into()],
            conditions: vec![cond("Accepted", true)],
        }],
        ..obj("Gateway", Some("infra"), "gw", 1)
    }
}

fn gw_ref(section: Option<&str>) -> ParentRef {
    ParentRef {
        namespace: "infra".into(),
        name: "gw".into(),
        section_name: section.map(str::to_string),
        port: None,
    }
}

fn route_status(name: &str, accepted: bool) -> ObjectStatus {
    ObjectStatus {
        parents: vec![ParentStatus {
            parent: gw_ref(Some("http")),
            conditions: vec![cond("Accepted", accepted), cond("ResolvedRefs", true)],
        }],
        ..obj("HTTPRoute", Some("app"), name, 1)
    }
}

fn apply_gateway(fake: &FakeApi, status: Value) {
    fake.apply(&json!({
        "apiVersion": GW, "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "infra"},
        "spec": {"gatewayClassName": "fairlead", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
        "status": status,
    }))
    .unwrap();
}

fn apply_route(fake: &FakeApi, name: &str, status: Value) {
    fake.apply(&json!({
        "apiVersion": GW, "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": "app"},
        "spec": {"parentRefs": [{"name": "gw", "namespace": "infra", "sectionName": "http"}]},
        "status": status,
    }))
    .unwrap();
}

fn other_parent() -> Value {
    json!({"parentRef": {"name": "theirs", "namespace": "infra"}, "controllerName": "example.com/other",
        "conditions": [{"type": "Accepted", "status": "False", "reason": "NotOurs", "message": "",
            "lastTransitionTime": "2021-01-01T00:00:00Z"}]})
}

#[tokio::test]
async fn gateway_class_and_gateway_written_with_their_shape() {
    let fake = FakeApi::start().await;
    fake.apply(
        &json!({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "fairlead"},
        "spec": {"controllerName": OURS}}),
    )
    .unwrap();
    apply_gateway(&fake, Value::Null);
    let mut s = settings();
    s.addresses = Addresses::Static(vec!["192.0.2.10".into(), "gw.example.com".into()]);
    let h = Harness::start(fake.client(), s, true);
    let class = ObjectStatus {
        conditions: vec![cond("Accepted", true)],
        supported_features: vec!["Gateway".into(), "HTTPRoute".into()],
        ..obj("GatewayClass", None, "fairlead", 1)
    };
    // EndpointSlices have no status: never read or written.
    let slice = ObjectStatus {
        conditions: vec![cond("Valid", false)],
        ..obj("EndpointSlice", Some("app"), "echo-1", 1)
    };
    h.report(vec![slice, class, gateway_status(true)]);
    eventually("Ready with both objects in sync", || {
        h.health() == (State::Ready, "leader: 2 objects in sync".into())
    })
    .await;

    let gw = stored_status(&fake, GW, "Gateway", Some("infra"), "gw");
    let programmed = &gw["conditions"][1];
    assert_eq!(programmed["type"], "Programmed");
    assert_eq!(programmed["status"], "True");
    assert_eq!(programmed["observedGeneration"], 1);
    assert!(programmed["lastTransitionTime"].as_str().unwrap().ends_with('Z'));
    let listener = &gw["listeners"][0];
    assert_eq!(listener["name"], "http");
    assert_eq!(listener["attachedRoutes"], 1);
    assert_eq!(
        listener["supportedKinds"],
        json!([{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"},
               {"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"}])
    );
    assert_eq!(listener["conditions"][0]["type"], "Accepted");
    assert_eq!(
        gw["addresses"],
        json!([{"type": "IPAddress", "value": "192.0.2.10"}, {"type": "Hostname", "value": "gw.example.com"}])
    );
    let class = stored_status(&fake, GW, "GatewayClass", None, "fairlead");
    assert_eq!(
        class["supportedFeatures"],
        json!([{"name": "Gateway"}, {"name": "HTTPRoute"}])
    );
    assert_eq!(class["conditions"][0]["status"], "True");
    assert_eq!(fake.requests(Verb::Get, "endpointslices"), 0);
    assert_eq!(fake.requests(Verb::Update, "endpointslices/status"), 0);
    assert_eq!(h.metric("Gateway", "written"), 1);
    h.stop().await;
}

#[tokio::test]
async fn route_parents_of_other_controllers_are_kept_and_ours_removed_when_the_route_leaves() {
    let fake = FakeApi::start().await;
    let ours_stale = json!({"parentRef": {"name": "old", "namespace": "infra"}, "controllerName": OURS,
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
            "lastTransitionTime": "2021-01-01T00:00:00Z"}]});
    apply_route(&fake, "web", json!({"parents": [other_parent(), ours_stale]}));
    let h = Harness::start(fake.client(), settings(), true);
    h.report(vec![route_status("web", true)]);
    eventually("our parent entry written", || {
        stored_status(&fake, GW, "HTTPRoute", Some("app"), "web")["parents"]
            .as_array()
            .is_some_and(|p| p.len() == 2 && p[1]["parentRef"]["name"] == "gw")
    })
    .await;
    let parents = stored_status(&fake, GW, "HTTPRoute", Some("app"), "web")["parents"].clone();
    assert_eq!(
        parents[0],
        other_parent(),
        "another controller's entry is untouched, in place"
    );
    assert_eq!(
        parents[1]["parentRef"],
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra",
            "name": "gw", "sectionName": "http"})
    );
    assert_eq!(parents[1]["controllerName"], OURS);
    assert_eq!(parents[1]["conditions"][0]["status"], "True");

    // The route is detached from our Gateway: it leaves the report, our entry must go.
    h.report(vec![gateway_status(true)]);
    eventually("our entry removed", || {
        stored_status(&fake, GW, "HTTPRoute", Some("app"), "web")["parents"] == json!([other_parent()])
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn last_transition_time_kept_while_the_condition_holds_and_moved_when_it_flips() {
    let fake = FakeApi::start().await;
    let old = "2020-01-01T00:00:00Z";
    apply_gateway(
        &fake,
        json!({"conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed",
            "message": "", "lastTransitionTime": old}]}),
    );
    let h = Harness::start(fake.client(), settings(), true);
    h.report(vec![gateway_status(true)]);
    let programmed = || stored_status(&fake, GW, "Gateway", Some("infra"), "gw")["conditions"][1].clone();
    eventually("first write", || programmed()["message"] == "msg").await;
    assert_eq!(
        programmed()["lastTransitionTime"],
        old,
        "unchanged condition keeps its time"
    );

    h.report(vec![gateway_status(false)]);
    eventually("Programmed=False written", || programmed()["status"] == "False").await;
    assert_ne!(
        programmed()["lastTransitionTime"],
        old,
        "a flipped condition gets a new time"
    );
    h.stop().await;
}

#[tokio::test]
async fn unchanged_reports_cost_no_writes_and_memoized_ones_no_reads() {
    let fake = FakeApi::start().await;
    apply_gateway(&fake, Value::Null);
    apply_route(&fake, "web", Value::Null);
    let h = Harness::start(fake.client(), settings(), true);
    h.report(vec![gateway_status(true)]);
    eventually("gateway written", || h.metric("Gateway", "written") == 1).await;
    let gets = fake.requests(Verb::Get, "gateways");

    // An identical report plus a changed route: the gateway is neither read nor written.
    h.report(vec![gateway_status(true)]);
    h.report(vec![gateway_status(true), route_status("web", true)]);
    eventually("route written", || h.metric("HTTPRoute", "written") == 1).await;
    assert_eq!(
        fake.requests(Verb::Get, "gateways"),
        gets,
        "memoized object read again"
    );
    assert_eq!(fake.requests(Verb::Update, "gateways/status"), 1);
    h.stop().await;

    // A fresh writer (no memo) reads once, finds the status right and writes nothing.
    let h = Harness::start(fake.client(), settings(), true);
    h.report(vec![gateway_status(true), route_status("web", true)]);
    eventually("both compared", || {
        h.metric("Gateway", "unchanged") == 1 && h.metric("HTTPRoute", "unchanged") == 1
    })
    .await;
    assert_eq!(
        fake.requests(Verb::Update, ANY_RESOURCE),
        2,
        "no write for an unchanged status"
    );
    assert_eq!(h.metric("Gateway", "written"), 0);
    h.stop().await;
}

#[tokio::test]
async fn not_leader_makes_no_api_calls_until_leadership_is_gained() {
    let fake = FakeApi::start().await;
    apply_gateway(&fake, Value::Null);
    let h = Harness::start(fake.client(), settings(), false);
    assert_eq!(h.health().0, State::Pending, "pending until the first pass");
    h.report(vec![gateway_status(true)]);
    eventually("skipped counted", || h.metric("Gateway", "skipped") == 1).await;
    assert_eq!(h.health(), (State::Ready, "not leader: writes skipped".into()));
    h.report(vec![gateway_status(false)]);
    eventually("changed object skipped again", || {
        h.metric("Gateway", "skipped") == 2
    })
    .await;
    for verb in [Verb::Get, Verb::List, Verb::Update, Verb::Patch] {
        assert_eq!(fake.requests(verb, ANY_RESOURCE), 0, "{verb} while not leader");
    }

    h.leader.send_replace(true);
    eventually("written as leader", || {
        stored_status(&fake, GW, "Gateway", Some("infra"), "gw")["conditions"][1]["status"] == "False"
    })
    .await;
    h.stop().await;
}

/// A TCP proxy to the fake that, when it first sees a request starting with `trigger`, runs
/// `before` and only then forwards it: a write slipped in between our GET and our PUT.
async fn proxy_with_hook(
    upstream: std::net::SocketAddr,
    trigger: String,
    before: impl Fn() + Send + Sync + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fired = Arc::new(AtomicBool::new(false));
    let before = Arc::new(before);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let (fired, before, trigger) = (fired.clone(), before.clone(), trigger.clone());
            tokio::spawn(async move {
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move { tokio::io::copy(&mut sr, &mut cw).await });
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = cr.read(&mut buf).await {
                    if String::from_utf8_lossy(&buf[..n]).contains(&trigger)
                        && !fired.swap(true, Ordering::SeqCst)
                    {
                        before();
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn conflict_on_write_is_retried_with_a_fresh_read() {
    let fake = Arc::new(FakeApi::start().await);
    apply_route(&fake, "web", Value::Null);
    let rival = fake.clone();
    let url = proxy_with_hook(
        fake.addr(),
        "PUT /apis/gateway.networking.k8s.io/v1/namespaces/app/httproutes/web/status".into(),
        move || apply_route(&rival, "web", json!({"parents": [other_parent()]})),
    )
    .await;
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let h = Harness::start(client, settings(), true);
    h.report(vec![route_status("web", true)]);
    eventually("written after the conflict", || {
        h.metric("HTTPRoute", "written") == 1
    })
    .await;
    assert_eq!(h.metric("HTTPRoute", "conflict"), 1);
    assert_eq!(h.metric("HTTPRoute", "error"), 0);
    let parents = stored_status(&fake, GW, "HTTPRoute", Some("app"), "web")["parents"].clone();
    assert_eq!(
        parents[0],
        other_parent(),
        "the concurrent writer's entry survived"
    );
    assert_eq!(parents[1]["controllerName"], OURS);
    assert_eq!(fake.requests(Verb::Update, "httproutes/status"), 2);
    h.stop().await;
}

#[tokio::test]
async fn flapping_reports_write_a_handful_of_times_and_settle_on_the_last() {
    let fake = FakeApi::start().await;
    apply_route(&fake, "web", Value::Null);
    let mut s = settings();
    s.min_object_interval = Duration::from_secs(1);
    let h = Harness::start(fake.client(), s, true);
    for i in 0..100 {
        h.report(vec![route_status("web", i % 2 == 0)]);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The last report (i = 99) says Accepted=False.
    let accepted = || {
        stored_status(&fake, GW, "HTTPRoute", Some("app"), "web")["parents"][0]["conditions"][0]["status"]
            .clone()
    };
    eventually("the last state stored", || {
        accepted() == "False" && h.health() == (State::Ready, "leader: 1 objects in sync".into())
    })
    .await;
    let writes = fake.requests(Verb::Update, "httproutes/status");
    assert!(
        (1..=5).contains(&writes),
        "{writes} writes for one flapping object"
    );
    h.stop().await;
}

#[tokio::test]
async fn ingress_addresses_from_static_list_and_from_a_service() {
    let fake = FakeApi::start().await;
    fake.apply(&json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "legacy", "namespace": "app"}, "spec": {"ingressClassName": "fairlead"}}))
        .unwrap();
    let ingress = obj("Ingress", Some("app"), "legacy", 1);
    let lb = || {
        stored_status(&fake, "networking.k8s.io/v1", "Ingress", Some("app"), "legacy")["loadBalancer"].clone()
    };

    // No addresses configured: Ingress status is not touched (not even read).
    let h = Harness::start(fake.client(), settings(), true);
    h.report(vec![ingress.clone()]);
    eventually("pass done", || h.health().0 == State::Ready).await;
    assert_eq!(fake.requests(Verb::Get, "ingresses"), 0);
    h.stop().await;

    let mut s = settings();
    s.addresses = Addresses::Static(vec!["192.0.2.1".into()]);
    let h = Harness::start(fake.client(), s, true);
    h.report(vec![ingress.clone()]);
    eventually("static ip written", || {
        lb() == json!({"ingress": [{"ip": "192.0.2.1"}]})
    })
    .await;
    h.stop().await;

    let service = |lb_ingress: Value| {
        fake.apply(&json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "fairlead", "namespace": "fairlead-system"},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": lb_ingress}}}))
            .unwrap();
    };
    service(json!([{"hostname": "lb.example.com"}]));
    let mut s = settings();
    s.addresses = Addresses::Service {
        namespace: "fairlead-system".into(),
        name: "fairlead".into(),
    };
    s.address_refresh = Duration::from_millis(200);
    let h = Harness::start(fake.client(), s, true);
    h.report(vec![ingress]);
    eventually("service hostname written", || {
        lb() == json!({"ingress": [{"hostname": "lb.example.com"}]})
    })
    .await;
    // The load balancer changes; no new report: picked up by the periodic read.
    service(json!([{"ip": "198.51.100.4"}]));
    eventually("new service ip written", || {
        lb() == json!({"ingress": [{"ip": "198.51.100.4"}]})
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn forbidden_status_write_degrades_health_and_other_objects_still_get_written() {
    let fake = FakeApi::start().await;
    apply_gateway(&fake, Value::Null);
    apply_route(&fake, "web", Value::Null);
    fake.deny(Verb::Update, "httproutes/status");
    let h = Harness::start(fake.client(), settings(), true);
    h.report(vec![gateway_status(true), route_status("web", true)]);
    eventually("degraded", || h.health().0 == State::Degraded).await;
    let (_, message) = h.health();
    assert!(
        message.contains("cannot update httproutes/status in namespace app: forbidden"),
        "{message}"
    );
    eventually("gateway written regardless", || {
        h.metric("Gateway", "written") == 1
    })
    .await;
    assert!(h.metric("HTTPRoute", "error") >= 1);
    assert_eq!(
        stored_status(&fake, GW, "HTTPRoute", Some("app"), "web"),
        Value::Null
    );

    // Permission granted: the retry (no new report) succeeds and health recovers.
    fake.allow(Verb::Update, "httproutes/status");
    eventually("route written on retry", || h.metric("HTTPRoute", "written") == 1).await;
    eventually("ready again", || {
        h.health() == (State::Ready, "leader: 2 objects in sync".into())
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn objects_deleted_from_the_api_are_skipped_without_an_error_storm() {
    let fake = FakeApi::start().await;
    apply_gateway(&fake, Value::Null);
    let h = Harness::start(fake.client(), settings(), true);
    // "ghost" is in the report but not in the API.
    h.report(vec![gateway_status(true), route_status("ghost", true)]);
    eventually("ghost skipped", || h.metric("HTTPRoute", "skipped") == 1).await;
    eventually("a gone object counts as in sync", || {
        h.health() == (State::Ready, "leader: 2 objects in sync".into())
    })
    .await;
    // Later reports changing something else do not look at it again.
    h.report(vec![gateway_status(false), route_status("ghost", true)]);
    eventually("gateway rewritten", || h.metric("Gateway", "written") == 2).await;
    assert_eq!(fake.requests(Verb::Get, "httproutes"), 1);
    assert_eq!(h.metric("HTTPRoute", "error"), 0);
    h.stop().await;
}

#[tokio::test]
async fn policy_ancestors_and_grpc_route_parents_are_written() {
    let fake = FakeApi::start().await;
    fake.apply(&json!({"apiVersion": GW, "kind": "BackendTLSPolicy",
        "metadata": {"name": "tls", "namespace": "app"},
        "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "echo"}]}}))
        .unwrap();
    fake.apply(&json!({"apiVersion": GW, "kind": "GRPCRoute",
        "metadata": {"name": "rpc", "namespace": "app"},
        "spec": {"parentRefs": [{"name": "gw", "namespace": "infra"}]},
        "status": {"parents": [other_parent()]}}))
        .unwrap();
    let h = Harness::start(fake.client(), settings(), true);
    let ancestor = ParentStatus {
        parent: gw_ref(None),
        conditions: vec![cond("Accepted", true), cond("ResolvedRefs", true)],
    };
    let policy = ObjectStatus {
        conditions: ancestor.conditions.clone(),
        parents: vec![ancestor.clone()],
        ..obj("BackendTLSPolicy", Some("app"), "tls", 1)
    };
    let grpc = ObjectStatus {
        parents: vec![ancestor],
        ..obj("GRPCRoute", Some("app"), "rpc", 1)
    };
    h.report(vec![policy, grpc]);
    eventually("both written", || {
        h.metric("BackendTLSPolicy", "written") == 1 && h.metric("GRPCRoute", "written") == 1
    })
    .await;
    let status = stored_status(&fake, GW, "BackendTLSPolicy", Some("app"), "tls");
    let ancestors = status["ancestors"].as_array().unwrap();
    assert_eq!(ancestors.len(), 1);
    assert_eq!(
        ancestors[0]["ancestorRef"],
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra", "name": "gw"})
    );
    assert_eq!(ancestors[0]["controllerName"], OURS);
    assert_eq!(ancestors[0]["conditions"][1]["type"], "ResolvedRefs");
    let parents = stored_status(&fake, GW, "GRPCRoute", Some("app"), "rpc")["parents"].clone();
    assert_eq!(parents[0], other_parent());
    assert_eq!(parents[1]["parentRef"]["name"], "gw");
    h.stop().await;
}

#[tokio::test]
async fn shutdown_ends_the_task_even_with_a_request_hanging() {
    let fake = FakeApi::start().await;
    apply_gateway(&fake, Value::Null);
    fake.stall(true);
    let h = Harness::start(fake.client(), settings(), true);
    h.report(vec![gateway_status(true)]);
    eventually("the GET is held", || fake.requests(Verb::Get, "gateways") == 1).await;
    h.stop().await;
    fake.stall(false);
    assert_eq!(fake.requests(Verb::Update, ANY_RESOURCE), 0);
}
