//! Unit tests of the pure conversion: shapes per kind, merging with stored status, and
//! `lastTransitionTime` handling.

use fairlead_route::{Condition, ListenerStatus, ObjectRef, ObjectStatus, ParentRef, ParentStatus};
use serde_json::{json, Value};

use super::convert::{desired_status, AddressState, ConvertContext, ResolvedAddress};

const OURS: &str = "fairlead.dev/gateway-controller";
const NOW: &str = "2030-01-01T00:00:00Z";

fn ctx(addresses: &AddressState) -> ConvertContext<'_> {
    ConvertContext {
        controller_name: OURS,
        now: NOW,
        addresses,
    }
}

fn object(kind: &str, ns: Option<&str>, name: &str) -> ObjectStatus {
    ObjectStatus {
        object: ObjectRef {
            kind: kind.into(),
            namespace: ns.map(str::to_string),
            name: name.into(),
        },
        generation: Some(3),
        ..ObjectStatus::default()
    }
}

fn parent(name: &str, section: Option<&str>, accepted: bool) -> ParentStatus {
    ParentStatus {
        parent: ParentRef {
            namespace: "infra".into(),
            name: name.into(),
            section_name: section.map(str::to_string),
            port: None,
        },
        conditions: vec![Condition::new("Accepted", accepted, "Accepted", "m")],
    }
}

#[test]
fn gateway_shape_with_static_addresses() {
    let mut gw = object("Gateway", Some("infra"), "gw");
    gw.conditions = vec![Condition::new("Programmed", true, "Programmed", "ok")];
    gw.listeners = vec![ListenerStatus {
        name: "http".into(),
        attached_routes: 2,
        supported_kinds: vec!["HTTPRoute".into()],
        conditions: vec![Condition::new("Accepted", true, "Accepted", "")],
    }];
    let addresses = AddressState::Known(vec![
        ResolvedAddress::parse("10.0.0.1"),
        ResolvedAddress::parse("lb.example.com"),
        ResolvedAddress::parse("::1"),
    ]);
    let current = json!({"attachedListenerSets": 0});
    let got = desired_status(&current, &gw, &ctx(&addresses)).unwrap();
    assert_eq!(
        got,
        json!({
            "attachedListenerSets": 0,
            "conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed",
                "message": "ok", "observedGeneration": 3, "lastTransitionTime": NOW}],
            "listeners": [{"name": "http", "attachedRoutes": 2,
                "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
                    "message": "", "observedGeneration": 3, "lastTransitionTime": NOW}]}],
            "addresses": [{"type": "IPAddress", "value": "10.0.0.1"},
                {"type": "Hostname", "value": "lb.example.com"},
                {"type": "IPAddress", "value": "::1"}],
        })
    );
    // Converting again over the result changes nothing: no spurious writes.
    assert_eq!(desired_status(&got, &gw, &ctx(&addresses)).as_ref(), Some(&got));
    // No addresses configured: they are removed; unknown yet: what is stored stays.
    let none = desired_status(&got, &gw, &ctx(&AddressState::NotConfigured)).unwrap();
    assert!(none.get("addresses").is_none());
    let unknown = desired_status(&got, &gw, &ctx(&AddressState::Unknown)).unwrap();
    assert_eq!(unknown["addresses"], got["addresses"]);
}

#[test]
fn gateway_class_supported_features() {
    let mut class = object("GatewayClass", None, "fairlead");
    class.conditions = vec![Condition::new("Accepted", true, "Accepted", "yes")];
    class.supported_features = vec!["Gateway".into(), "HTTPRoute".into()];
    let got = desired_status(&Value::Null, &class, &ctx(&AddressState::NotConfigured)).unwrap();
    assert_eq!(
        got["supportedFeatures"],
        json!([{"name": "Gateway"}, {"name": "HTTPRoute"}])
    );
    assert_eq!(got["conditions"][0]["status"], "True");
}

#[test]
fn route_parents_merge_keeps_other_controllers_in_place() {
    let other = json!({"parentRef": {"name": "theirs"}, "controllerName": "example.com/other",
        "conditions": [{"type": "Accepted", "status": "False"}]});
    let current = json!({"parents": [
        {"parentRef": {"name": "gw", "namespace": "infra", "sectionName": "http"},
         "controllerName": OURS,
         "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "m",
             "lastTransitionTime": "2020-01-01T00:00:00Z", "observedGeneration": 1}]},
        other.clone(),
        {"parentRef": {"name": "stale", "namespace": "infra"}, "controllerName": OURS, "conditions": []},
    ]});
    let mut route = object("HTTPRoute", Some("app"), "web");
    route.parents = vec![parent("gw", Some("http"), true), parent("new", None, false)];
    let got = desired_status(&current, &route, &ctx(&AddressState::NotConfigured)).unwrap();
    let parents = got["parents"].as_array().unwrap();
    assert_eq!(parents.len(), 3, "{got:#}");
    // Ours replaced in place, keeping the transition time of an unchanged condition.
    assert_eq!(
        parents[0]["parentRef"],
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra",
            "name": "gw", "sectionName": "http"})
    );
    assert_eq!(
        parents[0]["conditions"][0]["lastTransitionTime"],
        "2020-01-01T00:00:00Z"
    );
    assert_eq!(parents[0]["conditions"][0]["observedGeneration"], 3);
    assert_eq!(
        parents[1], other,
        "another controller's entry is untouched and in place"
    );
    assert_eq!(parents[2]["parentRef"]["name"], "new");
    assert_eq!(parents[2]["conditions"][0]["status"], "False");
    assert_eq!(parents[2]["conditions"][0]["lastTransitionTime"], NOW);

    // The route leaves the report: only the other controller's entry stays.
    let gone = object("HTTPRoute", Some("app"), "web");
    let got = desired_status(&got, &gone, &ctx(&AddressState::NotConfigured)).unwrap();
    assert_eq!(got, json!({ "parents": [other] }));
}

#[test]
fn condition_status_change_moves_transition_time() {
    let current = json!({"parents": [{"parentRef": {"name": "gw", "namespace": "infra"},
        "controllerName": OURS,
        "conditions": [{"type": "Accepted", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}]});
    let mut route = object("GRPCRoute", Some("app"), "rpc");
    route.parents = vec![parent("gw", None, false)];
    let got = desired_status(&current, &route, &ctx(&AddressState::NotConfigured)).unwrap();
    assert_eq!(got["parents"][0]["conditions"][0]["lastTransitionTime"], NOW);
}

#[test]
fn backend_tls_policy_writes_ancestors() {
    let mut policy = object("BackendTLSPolicy", Some("app"), "tls");
    policy.conditions = vec![Condition::new("Accepted", true, "Accepted", "")];
    policy.parents = vec![parent("gw", None, true)];
    let got = desired_status(&Value::Null, &policy, &ctx(&AddressState::NotConfigured)).unwrap();
    assert_eq!(got["ancestors"][0]["ancestorRef"]["name"], "gw");
    assert_eq!(got["ancestors"][0]["controllerName"], OURS);
    assert!(
        got.get("conditions").is_none(),
        "policies carry conditions per ancestor only"
    );
}

#[test]
fn ingress_load_balancer_and_untouched_cases() {
    let ing = object("Ingress", Some("app"), "legacy");
    assert_eq!(
        desired_status(&Value::Null, &ing, &ctx(&AddressState::NotConfigured)),
        None
    );
    assert_eq!(
        desired_status(&Value::Null, &ing, &ctx(&AddressState::Unknown)),
        None
    );
    let known = AddressState::Known(vec![
        ResolvedAddress::parse("192.0.2.7"),
        ResolvedAddress::parse("lb.example.com"),
    ]);
    let got = desired_status(&Value::Null, &ing, &ctx(&known)).unwrap();
    assert_eq!(
        got,
        json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}, {"hostname": "lb.example.com"}]}})
    );
    // The load balancer went away: the stale address is cleared.
    let cleared = desired_status(&got, &ing, &ctx(&AddressState::Known(vec![]))).unwrap();
    assert_eq!(cleared, json!({"loadBalancer": {}}));
}

#[test]
fn kinds_without_status_are_never_written() {
    let slice = object("EndpointSlice", Some("app"), "s-1");
    assert_eq!(
        desired_status(&Value::Null, &slice, &ctx(&AddressState::NotConfigured)),
        None
    );
    // A route with nothing of ours and no status stays without status.
    let route = object("HTTPRoute", Some("app"), "web");
    let got = desired_status(&Value::Null, &route, &ctx(&AddressState::NotConfigured));
    assert_eq!(got, Some(Value::Null));
}

#[test]
fn overlong_messages_are_cut_at_a_char_boundary() {
    let mut class = object("GatewayClass", None, "c");
    class.conditions = vec![Condition::new("Accepted", false, "Invalid", "é".repeat(20_000))];
    let got = desired_status(&Value::Null, &class, &ctx(&AddressState::NotConfigured)).unwrap();
    let message = got["conditions"][0]["message"].as_str().unwrap();
    assert!(
        message.len() <= 32_768 && message.len() > 32_000,
        "{}",
        message.len()
    );
}
