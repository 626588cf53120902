//! `fairlead check` as a CI gate: it prints each object's status and exits 0 only when every
//! object is accepted with its references resolved and every document parses; 1 when something
//! needs fixing; 2 when it cannot run at all.

mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use support::manifests::{endpoint_slice, gateway_setup, http_route, rule, service, to, yaml};
use support::process::TempDir;

struct Checked {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn check(dir: &Path, extra: &[&str]) -> Checked {
    let out = Command::new(env!("CARGO_BIN_EXE_fairlead"))
        .arg("check")
        .arg("--manifests")
        .arg(dir)
        .args(extra)
        .output()
        .expect("run fairlead check");
    Checked {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn good_manifests() -> Vec<Value> {
    let mut docs = gateway_setup(8000);
    docs.push(service("echo-a"));
    docs.push(endpoint_slice("echo-a", "echo-a-1", 9101, &["127.0.0.1"]));
    docs.push(http_route(
        "app",
        &["app.example.com"],
        vec![rule(json!(null), vec![to("echo-a")])],
    ));
    docs
}

#[test]
fn valid_manifests_pass_with_a_readable_report() {
    let dir = TempDir::new();
    std::fs::write(dir.path().join("all.yaml"), yaml(&good_manifests())).unwrap();
    let out = check(dir.path(), &[]);
    assert_eq!(
        out.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains("HTTPRoute default/app"), "{}", out.stdout);
    assert!(out.stdout.contains("ok Accepted=True Accepted"), "{}", out.stdout);
    assert!(!out.stdout.contains("!!"), "{}", out.stdout);
    assert!(out.stdout.contains("OK: "), "{}", out.stdout);
}

#[test]
fn an_unresolved_backend_fails_the_check_and_names_the_service() {
    let dir = TempDir::new();
    let mut docs = good_manifests();
    docs.push(http_route(
        "broken",
        &["broken.example.com"],
        vec![rule(json!(null), vec![to("missing")])],
    ));
    std::fs::write(dir.path().join("all.yaml"), yaml(&docs)).unwrap();

    let text = check(dir.path(), &[]);
    assert_eq!(text.code, Some(1), "{}", text.stdout);
    assert!(
        text.stdout
            .contains("!! ResolvedRefs=False BackendNotFound: Service default/missing not found"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("FAILED: "), "{}", text.stdout);

    let json = check(dir.path(), &["--output", "json"]);
    assert_eq!(json.code, Some(1));
    let report: Value = serde_json::from_str(&json.stdout).expect("--output json is one JSON document");
    assert_eq!(report["ok"], json!(false));
    let problems = report["problems"].as_array().expect("problems array");
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0]["object"], json!("HTTPRoute default/broken"));
    assert_eq!(problems[0]["scope"], json!("parent default/web"));
    assert_eq!(problems[0]["type"], json!("ResolvedRefs"));
    assert_eq!(problems[0]["reason"], json!("BackendNotFound"));
    assert_eq!(report["objects"]["HTTPRoute"], json!(2));
}

#[test]
fn a_route_no_listener_accepts_fails_the_check() {
    let dir = TempDir::new();
    let mut docs = good_manifests();
    let mut elsewhere = http_route(
        "elsewhere",
        &["app.example.com"],
        vec![rule(json!(null), vec![to("echo-a")])],
    );
    elsewhere["spec"]["parentRefs"][0]["sectionName"] = json!("https");
    docs.push(elsewhere);
    std::fs::write(dir.path().join("all.yaml"), yaml(&docs)).unwrap();
    let out = check(dir.path(), &["--output", "json"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        report["problems"][0]["reason"],
        json!("NoMatchingParent"),
        "{report:#}"
    );
}

#[test]
fn a_document_that_does_not_parse_fails_the_check() {
    let dir = TempDir::new();
    std::fs::write(dir.path().join("all.yaml"), yaml(&good_manifests())).unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: 7}\n",
    )
    .unwrap();
    let out = check(dir.path(), &["--output", "json"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let errors = report["manifest_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let error = errors[0].as_str().unwrap();
    assert!(
        error.contains("bad.yaml") && error.contains("spec.ports"),
        "{error}"
    );
    // The good objects are still checked and reported.
    assert!(report["problems"].as_array().unwrap().is_empty(), "{report:#}");
}

#[test]
fn a_missing_directory_cannot_be_checked() {
    let dir = TempDir::new();
    let out = check(&dir.path().join("nope"), &[]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("cannot read"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}
