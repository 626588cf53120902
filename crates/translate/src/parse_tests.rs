//! Unit tests for document splitting and error line numbers.

use super::*;

#[test]
fn splits_on_marker_lines_only() {
    let text = "a: 1\n---\nb: |\n  ---not a marker\n--- \nc: 3\n";
    let chunks = split_documents(text);
    let firsts: Vec<usize> = chunks.iter().map(|c| c.first_line).collect();
    assert_eq!(firsts, vec![0, 1, 4]);
    assert_eq!(chunks[1].text, "---\nb: |\n  ---not a marker\n");
}

#[test]
fn comment_only_preamble_is_not_a_document() {
    let chunks = split_documents("# header\n\n---\na: 1\n---\nb: 2\n");
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].first_line, 0);
    assert!(chunks[0].text.starts_with("# header"));
}

#[test]
fn text_without_markers_is_one_document() {
    assert_eq!(split_documents("a: 1\n").len(), 1);
    assert_eq!(split_documents("").len(), 1);
}

#[test]
fn error_lines_count_from_the_file_start() {
    assert_eq!(
        shift_lines("bad at line 2 column 3, while parsing at line 1 column 1", 10),
        "bad at line 12 column 3, while parsing at line 11 column 1"
    );
    assert_eq!(shift_lines("no numbers", 5), "no numbers");
}

#[test]
fn api_objects_parse_with_the_kind_they_were_listed_as() {
    // List items from the API server carry no apiVersion/kind; the watcher supplies them.
    let value = serde_json::json!({
        "metadata": {"name": "web", "namespace": "app", "resourceVersion": "7"},
        "spec": {"ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "not validated"}]}},
    });
    let object = parse_value("services", "v1", "Service", value).unwrap();
    assert_eq!(object.key().unwrap().name, "web");
    assert_eq!(object.kind().map(|k| k.as_str()), Some("Service"));

    let bad = serde_json::json!({"metadata": {"name": "gw"}, "spec": {"listeners": "nope"}});
    let err = parse_value("gateways", "gateway.networking.k8s.io/v1", "Gateway", bad).unwrap_err();
    assert_eq!(err.name.as_deref(), Some("gw"));
    assert!(err.reason.contains("spec"), "{}", err.reason);

    let err = parse_value("services", "v1", "Service", serde_json::Value::Null).unwrap_err();
    assert!(err.reason.contains("null"), "{}", err.reason);
}
