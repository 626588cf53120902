//! The install manifests in `deploy/`, checked the way users meet them: every file parses and
//! names its objects in the right namespace; the RBAC grants exactly what fairlead reads and the
//! status it writes, nothing more; the Deployment runs two hardened replicas whose probes,
//! ports, election identity and command line line up with the binary; and
//! `kubectl apply --dry-run=client -f deploy/` accepts all of it (against the fake API server).
//!
//! The structural checks are functions returning a list of problems, so each test also feeds
//! them a deliberately broken copy and asserts the break is caught.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fairlead_fakeapi::{FakeApi, KindInfo, DEFAULT_KINDS};
use serde::Deserialize;
use serde_json::{json, Value};

const NAMESPACE: &str = "fairlead-system";
const GW: &str = "gateway.networking.k8s.io";
const NET: &str = "networking.k8s.io";
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "GatewayClass",
    "IngressClass",
];
const NAMESPACED: &[&str] = &[
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "Deployment",
    "PodDisruptionBudget",
    "Service",
];

/// What fairlead reads: (API group, resource), each needing get, list and watch.
const READ: &[(&str, &str)] = &[
    (GW, "gatewayclasses"),
    (GW, "gateways"),
    (GW, "httproutes"),
    (GW, "grpcroutes"),
    (GW, "referencegrants"),
    (GW, "backendtlspolicies"),
    (NET, "ingresses"),
    (NET, "ingressclasses"),
    ("", "services"),
    ("", "secrets"),
    ("", "configmaps"),
    ("", "namespaces"),
    ("discovery.k8s.io", "endpointslices"),
];
/// The status subresources the leader writes. The status writer replaces status (PUT with the
/// resourceVersion it read), so `update` is needed and `patch` is not granted.
const STATUS: &[(&str, &str)] = &[
    (GW, "gatewayclasses/status"),
    (GW, "gateways/status"),
    (GW, "httproutes/status"),
    (GW, "grpcroutes/status"),
    (GW, "backendtlspolicies/status"),
    (NET, "ingresses/status"),
];
const LEASE_VERBS: &[&str] = &["get", "create", "update"];

/// One YAML document of a deploy/ file.
#[derive(Clone, Debug)]
struct Doc {
    file: String,
    value: Value,
}

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// The files `kubectl apply -f deploy/` reads, in the order it applies them.
fn manifest_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir())
        .expect("deploy/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    files
}

fn load() -> Vec<Doc> {
    let mut docs = Vec::new();
    for path in manifest_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, de) in yaml_serde::Deserializer::from_str(&text).enumerate() {
            let value = Value::deserialize(de).unwrap_or_else(|e| panic!("{file} document {i}: {e}"));
            if !value.is_null() {
                docs.push(Doc {
                    file: file.clone(),
                    value,
                });
            }
        }
    }
    docs
}

fn s<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

fn arr<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn strs(v: &Value, ptr: &str) -> Vec<String> {
    arr(v, ptr)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn all_of<'a>(docs: &'a [Doc], kind: &str) -> Vec<&'a Value> {
    docs.iter()
        .map(|d| &d.value)
        .filter(|v| s(v, "/kind") == Some(kind))
        .collect()
}

fn one<'a>(docs: &'a [Doc], kind: &str) -> &'a Value {
    let found = all_of(docs, kind);
    assert_eq!(found.len(), 1, "deploy/ should hold exactly one {kind}");
    found[0]
}

fn one_mut<'a>(docs: &'a mut [Doc], kind: &str) -> &'a mut Value {
    let doc = docs.iter_mut().find(|d| s(&d.value, "/kind") == Some(kind));
    &mut doc.unwrap_or_else(|| panic!("no {kind}")).value
}

/// Asserts `problems` has an entry containing `needle` (a broken copy is caught, and why).
fn assert_caught(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got {problems:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Every object: parses, is named, lives where it should.

fn object_problems(docs: &[Doc]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for d in docs {
        let v = &d.value;
        let (kind, name) = (s(v, "/kind").unwrap_or(""), s(v, "/metadata/name").unwrap_or(""));
        let at = format!("{}: {kind} {name:?}", d.file);
        if s(v, "/apiVersion").is_none_or(str::is_empty) {
            problems.push(format!("{at}: no apiVersion"));
        }
        if kind.is_empty() || name.is_empty() {
            problems.push(format!("{at}: no kind or no metadata.name"));
        }
        let ns = s(v, "/metadata/namespace");
        if NAMESPACED.contains(&kind) {
            if ns != Some(NAMESPACE) {
                problems.push(format!("{at}: namespaced, but in {ns:?} rather than {NAMESPACE}"));
            }
        } else if CLUSTER_SCOPED.contains(&kind) {
            if ns.is_some() {
                problems.push(format!("{at}: cluster-scoped, yet names namespace {ns:?}"));
            }
        } else {
            problems.push(format!(
                "{at}: kind unknown to this test (add it to NAMESPACED or CLUSTER_SCOPED)"
            ));
        }
        if !seen.insert((kind.to_string(), ns.map(str::to_string), name.to_string())) {
            problems.push(format!("{at}: defined twice"));
        }
    }
    problems
}

#[test]
fn every_manifest_parses_and_names_its_objects_in_fairlead_system() {
    let docs = load();
    assert_eq!(object_problems(&docs), Vec::<String>::new());
    let kinds: BTreeSet<&str> = docs.iter().filter_map(|d| s(&d.value, "/kind")).collect();
    for kind in CLUSTER_SCOPED.iter().chain(NAMESPACED) {
        assert!(kinds.contains(kind), "deploy/ has no {kind}");
    }
    // `kubectl apply -f deploy/` goes in file-name order: the Namespace must come first.
    assert_eq!(
        s(&docs[0].value, "/kind"),
        Some("Namespace"),
        "first file: {}",
        docs[0].file
    );
    assert_eq!(s(&docs[0].value, "/metadata/name"), Some(NAMESPACE));

    let mut broken = docs.clone();
    let sa = one_mut(&mut broken, "ServiceAccount");
    sa["metadata"]["namespace"] = json!("default");
    let gc = one_mut(&mut broken, "GatewayClass");
    gc["metadata"]["namespace"] = json!(NAMESPACE);
    let svc = one_mut(&mut broken, "Service");
    svc.as_object_mut().unwrap().remove("apiVersion");
    broken.push(docs[0].clone());
    let problems = object_problems(&broken);
    assert_caught(
        &problems,
        "ServiceAccount \"fairlead\": namespaced, but in Some(\"default\")",
    );
    assert_caught(&problems, "GatewayClass \"fairlead\": cluster-scoped");
    assert_caught(&problems, "Service \"fairlead\": no apiVersion");
    assert_caught(&problems, "defined twice");
}

// ---------------------------------------------------------------------------------------------
// RBAC: exactly what is read and the status written.

fn cluster_role_problems(role: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut granted = BTreeSet::new();
    for rule in arr(role, "/rules") {
        if rule.get("nonResourceURLs").is_some() {
            problems.push(format!("rule {rule} grants nonResourceURLs"));
        }
        for g in strs(rule, "/apiGroups") {
            for r in strs(rule, "/resources") {
                for v in strs(rule, "/verbs") {
                    if [&g, &r, &v].iter().any(|x| x.contains('*')) {
                        problems.push(format!("wildcard in {g:?} {r} {v}"));
                    }
                    let read = READ.contains(&(g.as_str(), r.as_str()))
                        && ["get", "list", "watch"].contains(&v.as_str());
                    let status = STATUS.contains(&(g.as_str(), r.as_str())) && v == "update";
                    if !read && !status {
                        problems.push(format!(
                            "grants {v} on {r} in group {g:?}, which fairlead does not need"
                        ));
                    }
                    granted.insert((g.clone(), r.clone(), v));
                }
            }
        }
    }
    let has = |g: &str, r: &str, v: &str| granted.contains(&(g.to_string(), r.to_string(), v.to_string()));
    for (g, r) in READ {
        for v in ["get", "list", "watch"] {
            if !has(g, r, v) {
                problems.push(format!("missing {v} on {r} in group {g:?}"));
            }
        }
    }
    for (g, r) in STATUS {
        if !has(g, r, "update") {
            problems.push(format!("missing update on {r} in group {g:?}"));
        }
    }
    problems
}

fn lease_role_problems(role: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if s(role, "/kind") != Some("Role") || s(role, "/metadata/namespace") != Some(NAMESPACE) {
        problems.push(format!("the lease grant must be a Role in {NAMESPACE}"));
    }
    let mut verbs = BTreeSet::new();
    for rule in arr(role, "/rules") {
        let (groups, resources) = (strs(rule, "/apiGroups"), strs(rule, "/resources"));
        if groups != ["coordination.k8s.io"] || resources != ["leases"] {
            problems.push(format!("grants {resources:?} in {groups:?}: leases only"));
        }
        verbs.extend(strs(rule, "/verbs"));
    }
    let wanted: BTreeSet<String> = LEASE_VERBS.iter().map(|v| v.to_string()).collect();
    if verbs != wanted {
        problems.push(format!("lease verbs are {verbs:?}, want {wanted:?}"));
    }
    problems
}

/// Each binding gives its role to the Deployment's ServiceAccount, and to nobody else.
fn binding_problems(docs: &[Doc]) -> Vec<String> {
    let mut problems = Vec::new();
    let sa = s(one(docs, "ServiceAccount"), "/metadata/name").unwrap_or("");
    let pod_sa = s(one(docs, "Deployment"), "/spec/template/spec/serviceAccountName");
    if pod_sa != Some(sa) {
        problems.push(format!(
            "the Deployment runs as {pod_sa:?}, not the ServiceAccount {sa:?}"
        ));
    }
    for (binding, role) in [("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")] {
        let b = one(docs, binding);
        let role_name = s(one(docs, role), "/metadata/name");
        if s(b, "/roleRef/kind") != Some(role) || s(b, "/roleRef/name") != role_name {
            problems.push(format!("{binding} does not refer to the {role} {role_name:?}"));
        }
        let subjects = arr(b, "/subjects");
        let ours = json!({ "kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE });
        if subjects != [ours] {
            problems.push(format!(
                "{binding} subjects are {subjects:?}, want only ServiceAccount {sa}"
            ));
        }
    }
    problems
}

#[test]
fn rbac_grants_what_fairlead_reads_and_the_status_it_writes_and_nothing_else() {
    let docs = load();
    assert_eq!(
        cluster_role_problems(one(&docs, "ClusterRole")),
        Vec::<String>::new()
    );
    assert_eq!(lease_role_problems(one(&docs, "Role")), Vec::<String>::new());
    assert_eq!(binding_problems(&docs), Vec::<String>::new());

    // Broadened: each of these must be refused.
    let mut role = one(&docs, "ClusterRole").clone();
    let rules = role["rules"].as_array_mut().unwrap();
    rules.push(json!({ "apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "delete"] }));
    rules.push(json!({ "apiGroups": [GW], "resources": ["*"], "verbs": ["get"] }));
    rules.push(json!({ "apiGroups": [""], "resources": ["pods"], "verbs": ["list"] }));
    rules.push(json!({ "apiGroups": [GW], "resources": ["httproutes"], "verbs": ["update"] }));
    rules.push(json!({ "nonResourceURLs": ["/metrics"], "verbs": ["get"] }));
    let problems = cluster_role_problems(&role);
    assert_caught(&problems, "grants create on secrets");
    assert_caught(&problems, "grants delete on secrets");
    assert_caught(&problems, "wildcard");
    assert_caught(&problems, "grants list on pods");
    assert_caught(&problems, "grants update on httproutes in group");
    assert_caught(&problems, "nonResourceURLs");

    // Narrowed: a missing read or status grant breaks fairlead at runtime.
    let mut role = one(&docs, "ClusterRole").clone();
    for rule in role["rules"].as_array_mut().unwrap() {
        let resources = rule["resources"].as_array_mut().unwrap();
        resources.retain(|r| r != "endpointslices" && r != "ingresses/status");
    }
    let problems = cluster_role_problems(&role);
    assert_caught(&problems, "missing watch on endpointslices");
    assert_caught(&problems, "missing update on ingresses/status");

    let mut lease = one(&docs, "Role").clone();
    lease["rules"][0]["resources"] = json!(["leases", "configmaps"]);
    lease["rules"][0]["verbs"] = json!(["get", "create", "update", "delete"]);
    let problems = lease_role_problems(&lease);
    assert_caught(&problems, "leases only");
    assert_caught(&problems, "lease verbs");
    lease["kind"] = json!("ClusterRole");
    assert_caught(&lease_role_problems(&lease), "must be a Role");

    let mut broken = docs.clone();
    one_mut(&mut broken, "RoleBinding")["subjects"][0]["namespace"] = json!("default");
    one_mut(&mut broken, "ClusterRoleBinding")["roleRef"]["name"] = json!("cluster-admin");
    let problems = binding_problems(&broken);
    assert_caught(&problems, "RoleBinding subjects");
    assert_caught(&problems, "ClusterRoleBinding does not refer to the ClusterRole");
}

// ---------------------------------------------------------------------------------------------
// The Deployment and what it must line up with.

/// `--name=value` or `--name value`.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix(name) {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        })
}

fn has_flag(args: &[String], name: &str) -> bool {
    args.iter()
        .any(|a| a == name || a.starts_with(&format!("{name}=")))
}

/// `10s`, `500ms`, `2m` → seconds.
fn seconds(d: &str) -> Option<f64> {
    let (n, unit) = d.split_at(d.find(|c: char| !c.is_ascii_digit() && c != '.')?);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    })
}

fn container(deployment: &Value) -> &Value {
    let containers = arr(deployment, "/spec/template/spec/containers");
    containers
        .iter()
        .find(|c| s(c, "/name") == Some("fairlead"))
        .expect("a container named fairlead")
}

fn args_of(deployment: &Value) -> Vec<String> {
    strs(container(deployment), "/args")
}

/// A probe's or Service's port (number or container port name) as a number.
fn resolve_port(container: &Value, port: Option<&Value>) -> Option<u64> {
    match port? {
        Value::Number(n) => n.as_u64(),
        Value::String(name) => arr(container, "/ports")
            .iter()
            .find(|p| s(p, "/name") == Some(name))
            .and_then(|p| p["containerPort"].as_u64()),
        _ => None,
    }
}

fn port_arg(args: &[String], name: &str, default: u64) -> u64 {
    flag(args, name).map_or(default, |p| p.parse().unwrap_or(0))
}

fn deployment_problems(docs: &[Doc]) -> Vec<String> {
    let mut problems = Vec::new();
    let dep = one(docs, "Deployment");
    let (pod, c) = (&dep["spec"]["template"]["spec"], container(dep));
    let args = args_of(dep);
    if dep["spec"]["replicas"] != json!(2) {
        problems.push(format!("replicas is {}, want 2", dep["spec"]["replicas"]));
    }
    if args.first().map(String::as_str) != Some("serve") {
        problems.push(format!("args {args:?} do not start with serve"));
    }
    for f in ["--kubernetes", "--leader-elect"] {
        if !has_flag(&args, f) {
            problems.push(format!("args lack {f}"));
        }
    }
    let admin: Option<std::net::SocketAddr> = flag(&args, "--admin-addr").and_then(|a| a.parse().ok());
    match admin {
        Some(a) if a.ip().is_unspecified() => {}
        other => problems.push(format!(
            "--admin-addr {other:?}: the kubelet probes the pod IP, bind 0.0.0.0"
        )),
    }
    let admin_port = admin.map(|a| u64::from(a.port()));
    for (probe, paths) in [
        ("livenessProbe", &["/healthz"][..]),
        ("readinessProbe", &["/readyz"][..]),
        ("startupProbe", &["/healthz", "/readyz"][..]),
    ] {
        let get = &c[probe]["httpGet"];
        if !s(get, "/path").is_some_and(|p| paths.contains(&p)) {
            problems.push(format!(
                "{probe} path is {:?}, want one of {paths:?}",
                s(get, "/path")
            ));
        }
        if resolve_port(c, get.get("port")) != admin_port {
            problems.push(format!(
                "{probe} port {} is not the --admin-addr port {admin_port:?}",
                get["port"]
            ));
        }
    }
    // Security: the container's setting wins over the pod's.
    let eff = |key: &str| {
        c["securityContext"]
            .get(key)
            .or_else(|| pod["securityContext"].get(key))
    };
    if eff("runAsNonRoot") != Some(&json!(true)) {
        problems.push("runAsNonRoot is not true".into());
    }
    if eff("runAsUser").and_then(Value::as_u64).is_none_or(|u| u == 0) {
        problems.push("no fixed non-root runAsUser".into());
    }
    if eff("seccompProfile").and_then(|p| p.get("type")) != Some(&json!("RuntimeDefault")) {
        problems.push("seccompProfile is not RuntimeDefault".into());
    }
    let sc = &c["securityContext"];
    if sc["readOnlyRootFilesystem"] != json!(true) {
        problems.push("readOnlyRootFilesystem is not true".into());
    }
    if sc["allowPrivilegeEscalation"] != json!(false) {
        problems.push("allowPrivilegeEscalation is not false".into());
    }
    if !strs(sc, "/capabilities/drop").iter().any(|d| d == "ALL") || !arr(sc, "/capabilities/add").is_empty()
    {
        problems.push("capabilities: drop ALL and add none".into());
    }
    if sc["privileged"] == json!(true) || pod["hostNetwork"] == json!(true) {
        problems.push("privileged or hostNetwork".into());
    }
    // Ports below 1024 bound by a non-root process with no capabilities.
    let (http, https) = (
        port_arg(&args, "--http-port", 8080),
        port_arg(&args, "--https-port", 8443),
    );
    let unprivileged_from = arr(pod, "/securityContext/sysctls")
        .iter()
        .find(|x| s(x, "/name") == Some("net.ipv4.ip_unprivileged_port_start"))
        .and_then(|x| s(x, "/value")?.parse::<u64>().ok())
        .unwrap_or(1024);
    if http.min(https) < unprivileged_from {
        problems.push(format!(
            "ports {http}/{https} need net.ipv4.ip_unprivileged_port_start <= them"
        ));
    }
    for (port, name) in [(http, "--http-port"), (https, "--https-port")] {
        if !arr(c, "/ports")
            .iter()
            .any(|p| p["containerPort"].as_u64() == Some(port))
        {
            problems.push(format!("{name} {port} is not a containerPort"));
        }
    }
    // Election identity and Lease namespace from the downward API.
    for (var, field) in [
        ("POD_NAME", "metadata.name"),
        ("POD_NAMESPACE", "metadata.namespace"),
    ] {
        let env = arr(c, "/env").iter().find(|e| s(e, "/name") == Some(var));
        if env.and_then(|e| s(e, "/valueFrom/fieldRef/fieldPath")) != Some(field) {
            problems.push(format!("env {var} is not the downward API's {field}"));
        }
    }
    // SIGTERM drains for --shutdown-grace after preStop; the kubelet must not kill it sooner.
    let grace = flag(&args, "--shutdown-grace").and_then(seconds).unwrap_or(10.0);
    let pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_f64()
        .unwrap_or(0.0);
    let termination = pod["terminationGracePeriodSeconds"].as_f64().unwrap_or(30.0);
    if termination <= grace + pre_stop {
        problems.push(format!(
            "terminationGracePeriodSeconds {termination} <= preStop {pre_stop} + grace {grace}"
        ));
    }
    for r in ["/requests/cpu", "/requests/memory", "/limits/memory"] {
        if c["resources"].pointer(r).is_none() {
            problems.push(format!("no resources{}", r.replace('/', ".")));
        }
    }
    let spread = pod.pointer("/affinity/podAntiAffinity").is_some()
        || arr(pod, "/topologySpreadConstraints")
            .iter()
            .any(|t| s(t, "/topologyKey") == Some("kubernetes.io/hostname"));
    if !spread {
        problems.push("replicas are not spread across nodes".into());
    }
    problems
}

/// The Service, PodDisruptionBudget and classes agree with the Deployment.
fn wiring_problems(docs: &[Doc]) -> Vec<String> {
    let mut problems = Vec::new();
    let dep = one(docs, "Deployment");
    let (c, args) = (container(dep), args_of(dep));
    let labels = &dep["spec"]["template"]["metadata"]["labels"];
    let selects = |sel: &Value| {
        sel.as_object()
            .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| labels.get(k) == Some(v)))
    };
    let svc = one(docs, "Service");
    let pdb = one(docs, "PodDisruptionBudget");
    for (what, sel) in [
        ("Deployment", &dep["spec"]["selector"]["matchLabels"]),
        ("Service", &svc["spec"]["selector"]),
        ("PodDisruptionBudget", &pdb["spec"]["selector"]["matchLabels"]),
    ] {
        if !selects(sel) {
            problems.push(format!(
                "the {what} selector {sel} does not select the fairlead pods"
            ));
        }
    }
    if pdb["spec"]["minAvailable"] != json!(1) {
        problems.push("the PodDisruptionBudget does not keep one replica".into());
    }
    let svc_ref = format!(
        "{}/{}",
        s(svc, "/metadata/namespace").unwrap_or(""),
        s(svc, "/metadata/name").unwrap_or("")
    );
    if flag(&args, "--status-service") != Some(svc_ref.as_str()) {
        problems.push(format!("--status-service is not {svc_ref}"));
    }
    if s(svc, "/spec/type") != Some("LoadBalancer") || s(svc, "/spec/externalTrafficPolicy") != Some("Local")
    {
        problems.push("the Service is not a LoadBalancer with externalTrafficPolicy Local".into());
    }
    for (port, name) in [(80, "--http-port"), (443, "--https-port")] {
        let sp = arr(svc, "/spec/ports").iter().find(|p| p["port"] == json!(port));
        let target = sp.and_then(|p| resolve_port(c, p.get("targetPort").or(p.get("port"))));
        if target != Some(port_arg(&args, name, 0)) {
            problems.push(format!("Service port {port} targets {target:?}, not {name}"));
        }
    }
    let image = s(c, "/image").unwrap_or("");
    if image != format!("fairlead:{}", env!("CARGO_PKG_VERSION"))
        || s(c, "/imagePullPolicy") != Some("IfNotPresent")
    {
        problems.push(format!("image {image:?} is not this release with IfNotPresent"));
    }
    for (kind, field, arg) in [
        ("GatewayClass", "/spec/controllerName", "--controller-name"),
        ("IngressClass", "/spec/controller", "--ingress-controller"),
        ("IngressClass", "/metadata/name", "--ingress-class"),
    ] {
        let want = flag(&args, arg);
        if want.is_none() || s(one(docs, kind), field) != want {
            problems.push(format!("{kind} {field} is not {arg} {want:?}"));
        }
    }
    problems
}

#[test]
fn the_deployment_runs_two_hardened_replicas_probed_on_the_admin_port() {
    let docs = load();
    assert_eq!(deployment_problems(&docs), Vec::<String>::new());
    assert_eq!(wiring_problems(&docs), Vec::<String>::new());

    // Each break: `POINTER = JSON` (P: the pod spec, C: the container) or an argument to set
    // (`--flag=value`) or drop (`!--flag`), then `->` and what the problem must mention.
    let breaks = [
        "/spec/replicas = 1 -> replicas",
        "C/readinessProbe/httpGet/path = \"/healthz\" -> readinessProbe path",
        "C/livenessProbe/httpGet/port = 9902 -> livenessProbe port 9902",
        "C/securityContext/readOnlyRootFilesystem = false -> readOnlyRootFilesystem",
        "P/securityContext/runAsNonRoot = false -> runAsNonRoot",
        "C/securityContext/capabilities/drop = [] -> capabilities",
        "C/env/0/valueFrom/fieldRef/fieldPath = \"spec.nodeName\" -> POD_NAME",
        "P/terminationGracePeriodSeconds = 10 -> terminationGrace",
        "P/securityContext/sysctls = [] -> ip_unprivileged_port_start",
        "P/affinity = {} -> spread across nodes",
        "!--leader-elect -> args lack --leader-elect",
        "--admin-addr=127.0.0.1:9901 -> bind 0.0.0.0",
        "--admin-addr=0.0.0.0:9902 -> is not the --admin-addr port",
    ];
    for spec in breaks {
        let (change, needle) = spec.split_once(" -> ").unwrap();
        let mut broken = docs.clone();
        let dep = one_mut(&mut broken, "Deployment");
        if let Some(dropped) = change.strip_prefix('!') {
            c_mut(dep)["args"]
                .as_array_mut()
                .unwrap()
                .retain(|a| a != dropped);
        } else if let Some((name, value)) = change.split_once('=').filter(|_| change.starts_with("--")) {
            set_arg(dep, name, value);
        } else {
            let (ptr, value) = change.split_once(" = ").unwrap();
            let ptr = match ptr.split_at(1) {
                ("P", rest) => format!("/spec/template/spec{rest}"),
                ("C", rest) => format!("/spec/template/spec/containers/0{rest}"),
                _ => ptr.to_string(),
            };
            *dep.pointer_mut(&ptr).unwrap_or_else(|| panic!("{ptr}")) = serde_json::from_str(value).unwrap();
        }
        assert_caught(&deployment_problems(&broken), needle);
    }

    let mut broken = docs.clone();
    one_mut(&mut broken, "Service")["spec"]["selector"] = json!({ "app": "other" });
    one_mut(&mut broken, "Service")["spec"]["ports"][1]["targetPort"] = json!(8443);
    one_mut(&mut broken, "GatewayClass")["spec"]["controllerName"] = json!("example.com/other");
    set_arg(
        one_mut(&mut broken, "Deployment"),
        "--status-service",
        "default/fairlead",
    );
    let problems = wiring_problems(&broken);
    assert_caught(&problems, "the Service selector");
    assert_caught(&problems, "Service port 443 targets Some(8443)");
    assert_caught(&problems, "GatewayClass /spec/controllerName");
    assert_caught(&problems, "--status-service is not fairlead-system/fairlead");
}

fn c_mut(deployment: &mut Value) -> &mut Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap();
    containers.iter_mut().find(|c| c["name"] == "fairlead").unwrap()
}

fn set_arg(deployment: &mut Value, name: &str, value: &str) {
    let prefix = format!("{name}=");
    let args = c_mut(deployment)["args"].as_array_mut().unwrap();
    args.retain(|a| a != name && !a.as_str().is_some_and(|a| a.starts_with(&prefix)));
    args.push(json!(format!("{name}={value}")));
}

// ---------------------------------------------------------------------------------------------
// The manifests against real programs: this binary's command line, and kubectl.

/// Runs `cmd` to completion within `limit`, killing it otherwise.
async fn run(mut cmd: tokio::process::Command, limit: Duration) -> Output {
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(limit, cmd.output()).await;
    out.unwrap_or_else(|_| panic!("{cmd:?} still running after {limit:?}"))
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The Deployment's args followed by `--help`: clap parses (and validates the values of) every
/// flag before it and prints help only if all of them are accepted, so exit 0 means the pod's
/// command line would not crash-loop on a typo or a renamed flag.
async fn parses(args: &[String]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_fairlead"));
    cmd.args(args)
        .arg("--help")
        .env("POD_NAME", "fairlead-0")
        .env("POD_NAMESPACE", NAMESPACE);
    run(cmd, Duration::from_secs(20)).await
}

#[tokio::test]
async fn the_deployment_command_line_is_accepted_by_this_binary() {
    let args = args_of(one(&load(), "Deployment"));
    let out = parses(&args).await;
    assert!(out.status.success(), "{args:?}\n{}", text(&out));

    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--leader-elect"), "not the help of serve:\n{help}");

    // Each replaces the Deployment's own value, so clap's reason is the one asserted.
    for (bad, why) in [
        ("--leader-elec", "unexpected argument '--leader-elec'"),
        (
            "--admin-addr=0.0.0.0",
            "invalid value '0.0.0.0' for '--admin-addr",
        ),
        (
            "--shutdown-grace=soon",
            "invalid value 'soon' for '--shutdown-grace",
        ),
    ] {
        let prefix = format!("{}=", bad.split('=').next().unwrap());
        let mut broken: Vec<String> = args.iter().filter(|a| !a.starts_with(&prefix)).cloned().collect();
        broken.push(bad.into());
        let out = parses(&broken).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(why),
            "{bad}: {}",
            text(&out)
        );
    }
}

/// A scratch directory for kubectl's config, HOME and discovery cache, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("fairlead-deploy-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn kubectl() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

const fn extra(group: &'static str, kind: &'static str, plural: &'static str, namespaced: bool) -> KindInfo {
    KindInfo {
        group,
        versions: &["v1"],
        kind,
        plural,
        namespaced,
        status_subresource: false,
        field_labels: &[],
    }
}

/// Kinds deploy/ creates that fairlead never reads, so the fake does not serve them by default.
const EXTRA_KINDS: &[KindInfo] = &[
    extra("", "ServiceAccount", "serviceaccounts", true),
    extra("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false),
    extra(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    extra("rbac.authorization.k8s.io", "Role", "roles", true),
    extra("rbac.authorization.k8s.io", "RoleBinding", "rolebindings", true),
    extra("apps", "Deployment", "deployments", true),
    extra("policy", "PodDisruptionBudget", "poddisruptionbudgets", true),
];

/// The fake API server serving every kind in deploy/, and `kubectl apply --dry-run=client -f
/// deploy/` against it (no kubeconfig, HOME or cache of the machine's is read or written).
struct Cluster {
    fake: FakeApi,
    scratch: Scratch,
}

impl Cluster {
    async fn start() -> Cluster {
        let mut builder = FakeApi::builder();
        for k in EXTRA_KINDS {
            if !DEFAULT_KINDS
                .iter()
                .any(|d| d.group == k.group && d.kind == k.kind)
            {
                builder = builder.kind(*k);
            }
        }
        let fake = builder.start().await.unwrap();
        let scratch = Scratch::new();
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{ "name": "fake", "cluster": { "server": fake.url() } }],
            "users": [{ "name": "fake", "user": {} }],
            "contexts": [{ "name": "fake", "context": { "cluster": "fake", "user": "fake" } }],
            "current-context": "fake",
        });
        std::fs::write(scratch.0.join("kubeconfig"), config.to_string()).unwrap();
        Cluster { fake, scratch }
    }

    async fn apply_dry_run(&self, kubectl: &Path) -> Output {
        let mut cmd = tokio::process::Command::new(kubectl);
        // --validate=false: validation needs the OpenAPI schema (/openapi/v3), which the fake does
        // not serve; the kinds and fields are checked by the tests above instead.
        cmd.args([
            "apply",
            "--dry-run=client",
            "--validate=false",
            "--request-timeout=20s",
            "-f",
        ])
        .arg(deploy_dir())
        .env("KUBECONFIG", self.scratch.0.join("kubeconfig"))
        .env("HOME", &self.scratch.0)
        .env("KUBECACHEDIR", self.scratch.0.join("cache"));
        run(cmd, Duration::from_secs(60)).await
    }
}

/// Lines of `kubectl apply` output reporting `kind/name` as created, e.g.
/// `deployment.apps/fairlead created (dry run)`.
fn created(out: &Output, docs: &[&Value]) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut missing = Vec::new();
    for v in docs {
        let (kind, name) = (
            s(v, "/kind").unwrap().to_lowercase(),
            s(v, "/metadata/name").unwrap(),
        );
        let hit = stdout.lines().any(|l| {
            let Some((resource, rest)) = l.split_once('/') else {
                return false;
            };
            let plain = resource.split('.').next() == Some(kind.as_str());
            plain && rest == format!("{name} created (dry run)")
        });
        if !hit {
            missing.push(format!("{kind}/{name}"));
        }
    }
    missing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_client_dry_run_accepts_every_manifest() {
    let Some(kubectl) = kubectl() else {
        println!(
            "SKIPPED: kubectl is not on PATH, so `kubectl apply --dry-run=client -f deploy/` was not run"
        );
        return;
    };
    let docs = load();
    let cluster = Cluster::start().await;
    let out = cluster.apply_dry_run(&kubectl).await;
    assert!(out.status.success(), "{}", text(&out));
    let all: Vec<&Value> = docs.iter().map(|d| &d.value).collect();
    assert_eq!(created(&out, &all), Vec::<String>::new(), "{}", text(&out));
    // A client dry run sends nothing.
    assert!(cluster.fake.get("v1", "Namespace", None, NAMESPACE).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_gateway_api_crds_only_the_gatewayclass_fails_to_apply() {
    let Some(kubectl) = kubectl() else {
        println!(
            "SKIPPED: kubectl is not on PATH, so `kubectl apply --dry-run=client -f deploy/` was not run"
        );
        return;
    };
    let docs = load();
    let cluster = Cluster::start().await;
    cluster.fake.set_group_installed(GW, false);
    let out = cluster.apply_dry_run(&kubectl).await;
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"no matches for kind "GatewayClass""#),
        "{}",
        text(&out)
    );
    let others: Vec<&Value> = docs
        .iter()
        .map(|d| &d.value)
        .filter(|v| s(v, "/kind") != Some("GatewayClass"))
        .collect();
    assert_eq!(created(&out, &others), Vec::<String>::new(), "{}", text(&out));
}
