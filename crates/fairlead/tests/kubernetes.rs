//! `fairlead serve --kubernetes` end to end: the real binary, a real kube::Client inside it,
//! the fake API server in the test. Objects are created through the API as kubectl would;
//! traffic goes through real sockets; status is read back from the API.

mod support;

use fairlead_fakeapi::{FakeApi, Verb};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::manifests::{
    backend, endpoint_slice, gateway_setup, http_route, ingress, ingress_rule, rule, service, to,
};
use support::{eventually, free_port, Echo, Fairlead, Http};

const GW: &str = "gateway.networking.k8s.io";

fn apply_all(fake: &FakeApi, objects: &[Value]) {
    for object in objects {
        fake.apply(object)
            .unwrap_or_else(|e| panic!("apply {object}: {e:?}"));
    }
}

/// HTTPRoute `name` on the Gateway of [`gateway_setup`] for `hostnames` (none: every host),
/// sending everything to Service `service`.
fn route(name: &str, hostnames: &[&str], service: &str) -> Value {
    http_route(name, hostnames, vec![rule(Value::Null, vec![to(service)])])
}

/// Waits until `host` on `port` answers 200.
async fn served(http: &Http, port: u16, host: &str, what: &str) {
    eventually(what, || async {
        (http.try_get(port, host, "/").await?.status == 200).then_some(())
    })
    .await;
}

async fn ready(fake: &FakeApi, extra: &[&str]) -> Fairlead {
    let mut fl = Fairlead::start_kubernetes(&fake.url(), extra);
    fl.wait_ready().await;
    fl
}

/// The route's condition of `type_` for our Gateway, as stored in the API.
fn route_condition(fake: &FakeApi, name: &str, type_: &str) -> Option<(String, String)> {
    let route = fake.get(&format!("{GW}/v1"), "HTTPRoute", Some("default"), name)?;
    let parents = route.pointer("/status/parents")?.as_array()?.clone();
    let ours = parents
        .iter()
        .find(|p| p["controllerName"] == "fairlead.dev/gateway-controller")?;
    let condition = ours["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)?;
    Some((
        condition["status"].as_str()?.to_string(),
        condition["reason"].as_str()?.to_string(),
    ))
}

fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_route_created_through_the_api_is_served_and_gets_status() {
    let fake = FakeApi::start().await;
    let fl = ready(&fake, &["--status-address", "192.0.2.10"]).await;
    let echo = Echo::start("echo-a").await;
    let port = free_port();
    apply_all(&fake, &gateway_setup(port));
    apply_all(&fake, &backend(&echo));

    let created = Instant::now();
    apply_all(&fake, &[route("app", &["app.example.com"], "echo-a")]);
    let http = Http::new();
    served(&http, port, "app.example.com", "the route served").await;
    println!(
        "route created through the API → first 200 in {:?}",
        created.elapsed()
    );
    let metrics = fl.admin_get("/metrics").await.text();
    let applied = "resource=\"httproutes.gateway.networking.k8s.io\",event=\"applied\"";
    assert!(
        metric(&metrics, "fairlead_watch_events", applied) >= 1.0,
        "{metrics}"
    );
    assert_eq!(http.get(port, "app.example.com", "/").await.echo_name(), "echo-a");

    eventually("route status Accepted", || async {
        (route_condition(&fake, "app", "Accepted")? == ("True".into(), "Accepted".into())).then_some(())
    })
    .await;
    assert_eq!(
        route_condition(&fake, "app", "ResolvedRefs"),
        Some(("True".into(), "ResolvedRefs".into()))
    );
    let gateway = fake
        .get(&format!("{GW}/v1"), "Gateway", Some("default"), "web")
        .unwrap();
    let programmed = gateway["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Programmed")
        .cloned()
        .unwrap();
    assert_eq!(programmed["status"], "True", "{gateway:#}");
    assert_eq!(
        programmed["observedGeneration"],
        gateway["metadata"]["generation"]
    );
    assert_eq!(
        gateway["status"]["addresses"],
        json!([{"type": "IPAddress", "value": "192.0.2.10"}])
    );
    assert_eq!(gateway["status"]["listeners"][0]["attachedRoutes"], 1);
    let class = fake
        .get(&format!("{GW}/v1"), "GatewayClass", None, "fairlead")
        .unwrap();
    assert_eq!(class["status"]["conditions"][0]["status"], "True", "{class:#}");

    // Ingresses of our class get the address too.
    apply_all(
        &fake,
        &[ingress(
            "site",
            json!([ingress_rule(
                Some("site.example.com"),
                &[("/", "Prefix", "echo-a")]
            )]),
        )],
    );
    eventually("Ingress status.loadBalancer", || async {
        let stored = fake.get("networking.k8s.io/v1", "Ingress", Some("default"), "site")?;
        (stored.pointer("/status/loadBalancer/ingress")? == &json!([{"ip": "192.0.2.10"}])).then_some(())
    })
    .await;

    // A route pointing at a Service that does not exist says so.
    apply_all(&fake, &[route("broken", &["broken.example.com"], "nope")]);
    eventually("ResolvedRefs=False BackendNotFound", || async {
        (route_condition(&fake, "broken", "ResolvedRefs")? == ("False".into(), "BackendNotFound".into()))
            .then_some(())
    })
    .await;
    drop(fl);
}

#[tokio::test]
async fn an_empty_cluster_is_ready_and_gateways_bind_when_created() {
    let fake = FakeApi::start().await;
    let fl = ready(&fake, &[]).await;
    let status = fl.status().await;
    assert_eq!(status["subsystems"]["source"]["state"], "Ready", "{status:#}");
    let echo = Echo::start("late").await;
    let port = free_port();
    apply_all(&fake, &gateway_setup(port));
    apply_all(&fake, &backend(&echo));
    apply_all(&fake, &[route("late", &[], "late")]);
    let http = Http::new();
    served(&http, port, "any.example.com", "the late Gateway serving").await;
}

#[tokio::test]
async fn missing_gateway_crds_leave_ingress_working_until_they_are_installed() {
    let fake = FakeApi::start().await;
    fake.set_group_installed(GW, false);
    let echo = Echo::start("site").await;
    apply_all(&fake, &backend(&echo));
    apply_all(
        &fake,
        &[ingress(
            "site",
            json!([ingress_rule(Some("site.example.com"), &[("/", "Prefix", "site")])]),
        )],
    );
    let fl = ready(&fake, &[]).await;
    let http = Http::new();
    served(&http, fl.http_port, "site.example.com", "the Ingress served").await;
    let status = fl.status().await;
    assert_eq!(
        status["subsystems"]["gateway-api"]["state"], "Degraded",
        "{status:#}"
    );
    let message = status["subsystems"]["gateway-api"]["message"].as_str().unwrap();
    assert!(
        message.contains("gateways.gateway.networking.k8s.io"),
        "{message}"
    );

    fake.set_group_installed(GW, true);
    let port = free_port();
    apply_all(&fake, &gateway_setup(port));
    apply_all(&fake, &[route("site", &["gw.example.com"], "site")]);
    served(
        &http,
        port,
        "gw.example.com",
        "the Gateway route served once the CRDs exist",
    )
    .await;
    fl.wait_status("gateway-api Ready", |s| {
        s["subsystems"]["gateway-api"]["state"] == "Ready"
    })
    .await;
}

#[tokio::test]
async fn an_rbac_denial_fails_readiness_with_a_clear_message() {
    let fake = FakeApi::start().await;
    fake.deny(Verb::List, "httproutes");
    let fl = Fairlead::start_kubernetes(&fake.url(), &[]);
    let status = eventually("the denial in /status", || async {
        let reply = fl.try_admin_get("/status").await?;
        let status = reply.json();
        (status["subsystems"]["watch httproutes.gateway.networking.k8s.io"]["state"] == "Failed")
            .then_some(status)
    })
    .await;
    let message = status["subsystems"]["watch httproutes.gateway.networking.k8s.io"]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.starts_with("cannot list httproutes.gateway.networking.k8s.io at cluster scope: forbidden"),
        "{message}"
    );
    assert!(!fl.is_ready().await, "a Failed watch must keep /readyz at 503");
    let metrics = fl.admin_get("/metrics").await.text();
    assert!(
        metric(&metrics, "fairlead_watch_errors", "reason=\"forbidden\"") >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        fl.admin_get("/healthz").await.status,
        200,
        "the process stays alive"
    );
}

#[tokio::test]
async fn an_api_server_restart_fails_no_request_and_watches_resume() {
    let fake = FakeApi::start().await;
    let echo = Echo::start("steady").await;
    let port = free_port();
    apply_all(&fake, &gateway_setup(port));
    apply_all(&fake, &backend(&echo));
    apply_all(&fake, &[route("steady", &[], "steady")]);
    let fl = ready(&fake, &[]).await;
    let http = Http::new();
    served(&http, port, "x", "served").await;

    // Requests keep flowing while the API server goes away and comes back.
    let load = tokio::spawn(async move {
        let http = Http::new();
        let mut failures = Vec::new();
        for _ in 0..300 {
            let reply = http.get(port, "x", "/").await;
            if reply.status != 200 {
                failures.push(reply.status);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        failures
    });
    fake.stop().await;
    fl.wait_status("the outage noticed", |s| {
        s["subsystems"]["watch services"]["state"] == "Degraded"
    })
    .await;
    fake.restart().await.unwrap();
    let failures = load.await.unwrap();
    assert!(
        failures.is_empty(),
        "requests failed during the API outage: {failures:?}"
    );

    // The watches are back: a new route is served.
    let other = Echo::start("after").await;
    apply_all(&fake, &backend(&other));
    apply_all(&fake, &[route("after", &["after.example.com"], "after")]);
    eventually("a route created after the restart", || async {
        let reply = http.try_get(port, "after.example.com", "/").await?;
        (reply.echo_name() == "after").then_some(())
    })
    .await;
    fl.wait_status("watches Ready again", |s| {
        s["subsystems"]["watch services"]["state"] == "Ready"
    })
    .await;
}

#[tokio::test]
async fn scaling_endpoints_from_one_to_ten_spreads_traffic_over_all() {
    let fake = FakeApi::start().await;
    let first = Echo::start("pod-1").await;
    let port = first.port();
    let mut pods = vec![first];
    for i in 2..=10 {
        pods.push(Echo::start_at(&format!("pod-{i}"), &format!("127.0.0.{i}:{port}")).await);
    }
    let gw_port = free_port();
    apply_all(&fake, &gateway_setup(gw_port));
    apply_all(
        &fake,
        &[
            service("app"),
            endpoint_slice("app", "app-1", port, &["127.0.0.1"]),
        ],
    );
    apply_all(&fake, &[route("app", &[], "app")]);
    let _fl = ready(&fake, &[]).await;
    let http = Http::new();
    eventually("one pod serving", || async {
        (http.try_get(gw_port, "x", "/").await?.echo_name() == "pod-1").then_some(())
    })
    .await;

    let addresses: Vec<String> = (1..=10).map(|i| format!("127.0.0.{i}")).collect();
    let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
    apply_all(&fake, &[endpoint_slice("app", "app-1", port, &refs)]);
    let seen = eventually("all ten pods getting traffic", || async {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(http.get(gw_port, "x", "/").await.echo_name());
        }
        (seen.len() == 10).then_some(seen)
    })
    .await;
    assert_eq!(seen.len(), 10, "{seen:?}");
}

#[tokio::test]
async fn two_replicas_one_writer_and_failover_within_the_lease() {
    let fake = FakeApi::start().await;
    let echo = Echo::start("echo").await;
    let port = free_port();
    apply_all(&fake, &gateway_setup(port));
    apply_all(&fake, &backend(&echo));
    let election = [
        "--leader-elect",
        "--lease-namespace",
        "fairlead-system",
        "--lease-duration",
        "3s",
        "--lease-renew-deadline",
        "2s",
        "--lease-retry-period",
        "500ms",
    ];
    let mut a = Fairlead::start_kubernetes_as(&fake.url(), &election, Some("replica-a"));
    a.wait_ready().await;
    let holder = || {
        fake.get(
            "coordination.k8s.io/v1",
            "Lease",
            Some("fairlead-system"),
            "fairlead",
        )
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
    };
    eventually("replica-a leading", || async {
        (holder()? == "replica-a").then_some(())
    })
    .await;
    let mut b = Fairlead::start_kubernetes_as(&fake.url(), &election, Some("replica-b"));
    b.wait_ready().await;

    apply_all(&fake, &[route("one", &["one.example.com"], "echo")]);
    eventually("status written", || async {
        (route_condition(&fake, "one", "Accepted")?.0 == "True").then_some(())
    })
    .await;
    // Both replicas serve the route; only the leader wrote.
    let http = Http::new();
    served(&http, port, "one.example.com", "both replicas serve").await;
    let b_metrics = eventually("replica-b counted skipped writes", || async {
        let text = b.admin_get("/metrics").await.text();
        (metric(&text, "fairlead_status_writes", "result=\"skipped\"") > 0.0).then_some(text)
    })
    .await;
    assert_eq!(
        metric(&b_metrics, "fairlead_status_writes", "result=\"written\""),
        0.0
    );
    let a_metrics = a.admin_get("/metrics").await.text();
    assert!(metric(&a_metrics, "fairlead_status_writes", "result=\"written\"") > 0.0);

    // The leader crashes: the other takes over and writes the next change.
    a.kill();
    let killed = Instant::now();
    eventually("replica-b leading", || async {
        (holder()? == "replica-b").then_some(())
    })
    .await;
    println!(
        "leader killed → new holder after {:?} (lease 3 s)",
        killed.elapsed()
    );
    apply_all(&fake, &[route("two", &["two.example.com"], "nope")]);
    eventually("the new leader writes", || async {
        (route_condition(&fake, "two", "ResolvedRefs")? == ("False".into(), "BackendNotFound".into()))
            .then_some(())
    })
    .await;
    assert!(b.is_ready().await);
    drop(b);
}

#[tokio::test]
async fn a_port_that_cannot_be_bound_is_reported_and_the_process_lives() {
    let fake = FakeApi::start().await;
    // Held without SO_REUSEPORT, so fairlead's bind of the same port fails.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    apply_all(&fake, &gateway_setup(port));
    let fl = ready(&fake, &[]).await;
    let listener_programmed = || {
        let gateway = fake.get(&format!("{GW}/v1"), "Gateway", Some("default"), "web")?;
        let conditions = gateway
            .pointer("/status/listeners/0/conditions")?
            .as_array()?
            .clone();
        let programmed = conditions.iter().find(|c| c["type"] == "Programmed")?.clone();
        Some((
            programmed["status"].as_str()?.to_string(),
            programmed["reason"].as_str()?.to_string(),
        ))
    };
    eventually("the listener reported not programmed", || async {
        (listener_programmed()? == ("False".into(), "PortUnavailable".into())).then_some(())
    })
    .await;
    assert_eq!(fl.admin_get("/healthz").await.status, 200);
    drop(taken);
}

#[tokio::test]
async fn a_flapping_backend_does_not_storm_the_api_with_status_writes() {
    let fake = FakeApi::start().await;
    let echo = Echo::start("flappy").await;
    let port = free_port();
    apply_all(&fake, &gateway_setup(port));
    apply_all(&fake, &backend(&echo));
    apply_all(&fake, &[route("flap", &[], "flappy")]);
    let fl = ready(&fake, &[]).await;
    eventually("first status", || async {
        (route_condition(&fake, "flap", "ResolvedRefs")?.0 == "True").then_some(())
    })
    .await;
    fake.reset_requests();
    let published = |text: &str| metric(text, "fairlead_rebuilds", "result=\"published\"");
    let before = published(&fl.admin_get("/metrics").await.text());
    // The Service disappears and comes back 40 times, each state held longer than the debounce
    // window, so every flip is a new table and a new status report: ResolvedRefs flips each time.
    for _ in 0..40 {
        fake.delete("v1", "Service", Some("default"), "flappy").unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
        apply_all(&fake, &[service("flappy")]);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    fake.delete("v1", "Service", Some("default"), "flappy").unwrap();
    eventually("the final state written", || async {
        (route_condition(&fake, "flap", "ResolvedRefs")? == ("False".into(), "BackendNotFound".into()))
            .then_some(())
    })
    .await;
    let writes =
        fake.requests(Verb::Update, "httproutes/status") + fake.requests(Verb::Patch, "httproutes/status");
    let reports = published(&fl.admin_get("/metrics").await.text()) - before;
    println!(
        "81 Service changes over ~3.3 s → {reports} published tables → {writes} HTTPRoute status writes"
    );
    assert!(
        reports >= 20.0,
        "the flapping did not reach the status writer: {reports} tables"
    );
    assert!(writes <= 8, "{writes} status writes for one flapping route");
}
