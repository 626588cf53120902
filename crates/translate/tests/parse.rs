//! parse_documents and ResourceSet: every error path, and that one bad document never hides
//! the others.

mod common;

use fairlead_translate::{parse_documents, Kind, Object, ObjectKey, ResourceSet};

fn kinds(objects: &[Object]) -> Vec<String> {
    objects
        .iter()
        .map(|o| match o {
            Object::Ignored { kind, .. } => format!("ignored {kind}"),
            other => other.kind().map(|k| k.to_string()).unwrap_or_default(),
        })
        .collect()
}

#[test]
fn every_supported_kind_parses_to_its_typed_object() {
    let text = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: c}
spec: {controllerName: x}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: g}
spec: {gatewayClassName: c, listeners: [{name: l, port: 80, protocol: HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec: {}
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: g1}
spec: {from: [], to: []}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g2}
spec: {from: [], to: []}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: ic}
---
apiVersion: v1
kind: Service
metadata: {name: s}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: e}
addressType: IPv4
endpoints: []
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
data: {key: aGVsbG8=}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ca}
data: {ca.crt: pem}
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: p}
spec:
  targetRefs: [{group: "", kind: Service, name: s}]
  validation: {hostname: s.example.com, wellKnownCACertificates: System}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
"#;
    let (objects, errors) = parse_documents("all.yaml", text);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        kinds(&objects),
        [
            "GatewayClass",
            "Gateway",
            "HTTPRoute",
            "ReferenceGrant",
            "ReferenceGrant",
            "Ingress",
            "IngressClass",
            "Service",
            "EndpointSlice",
            "Secret",
            "Namespace",
            "ConfigMap",
            "BackendTLSPolicy",
            "ignored Deployment"
        ]
    );
    assert_eq!(
        objects.last(),
        Some(&Object::Ignored {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "d".into()
        })
    );
}

#[test]
fn unknown_api_version_of_a_known_kind_is_ignored() {
    let text = "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: HTTPRoute\nmetadata: {name: r}\n";
    let (objects, errors) = parse_documents("f.yaml", text);
    assert!(errors.is_empty());
    assert!(matches!(&objects[..], [Object::Ignored { kind, .. }] if kind == "HTTPRoute"));
}

#[test]
fn bad_yaml_is_reported_with_file_document_and_line_and_the_rest_still_parses() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nkind: [unclosed\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n";
    let (objects, errors) = parse_documents("svc.yaml", text);
    assert_eq!(objects.iter().map(Object::name).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let err = &errors[0];
    assert_eq!(
        (err.source.as_str(), err.document, err.kind.as_deref()),
        ("svc.yaml", 1, None)
    );
    assert!(err.reason.starts_with("invalid YAML"), "{}", err.reason);
    // The broken flow sequence starts on line 5 of the file, not line 2 of its document.
    assert!(
        err.reason.contains("line 5") || err.reason.contains("line 6"),
        "{}",
        err.reason
    );
    assert!(
        err.to_string().starts_with("svc.yaml: document 1: invalid YAML"),
        "{err}"
    );
}

#[test]
fn missing_kind_and_api_version_are_reported() {
    let text = "apiVersion: v1\nmetadata: {name: nokind}\n---\nkind: Service\nmetadata: {name: noversion}\n---\nkind: 3\napiVersion: v1\n";
    let (objects, errors) = parse_documents("f.yaml", text);
    assert!(objects.is_empty());
    assert_eq!(errors.len(), 3);
    assert_eq!(
        (errors[0].document, errors[0].name.as_deref()),
        (0, Some("nokind"))
    );
    assert!(
        errors[0].reason.contains("missing field `kind`"),
        "{}",
        errors[0].reason
    );
    assert_eq!(
        (errors[1].document, errors[1].kind.as_deref()),
        (1, Some("Service"))
    );
    assert!(
        errors[1].reason.contains("missing field `apiVersion`"),
        "{}",
        errors[1].reason
    );
    assert!(
        errors[2].reason.contains("kind: expected a string"),
        "{}",
        errors[2].reason
    );
}

#[test]
fn wrong_field_types_name_the_field_path() {
    let text = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: prod}
spec:
  gatewayClassName: fairlead
  listeners:
    - {name: http, protocol: HTTP, port: eighty}
"#;
    let (objects, errors) = parse_documents("gw.yaml", text);
    assert!(objects.is_empty());
    let err = &errors[0];
    assert_eq!(
        (err.kind.as_deref(), err.name.as_deref()),
        (Some("Gateway"), Some("web"))
    );
    assert!(
        err.reason.starts_with("spec.listeners[0].port: invalid type"),
        "{}",
        err.reason
    );
}

#[test]
fn missing_metadata_name_is_an_error_for_kinds_we_read() {
    let text =
        "apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n---\napiVersion: v1\nkind: Service\n";
    let (objects, errors) = parse_documents("f.yaml", text);
    assert!(objects.is_empty());
    assert_eq!(errors.len(), 2);
    for err in &errors {
        assert_eq!(err.kind.as_deref(), Some("Service"));
        assert!(err.reason.contains("metadata.name"), "{}", err.reason);
    }
}

#[test]
fn ignored_kinds_need_no_name() {
    let text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n";
    let (objects, errors) = parse_documents("kustomization.yaml", text);
    assert!(errors.is_empty());
    assert!(matches!(&objects[..], [Object::Ignored { name, .. }] if name.is_empty()));
}

#[test]
fn documents_that_are_not_mappings_are_errors() {
    let (objects, errors) = parse_documents("f.yaml", "just a string\n---\n- a\n- b\n");
    assert!(objects.is_empty());
    assert_eq!(errors.iter().map(|e| e.document).collect::<Vec<_>>(), [0, 1]);
    assert!(
        errors[0].reason.contains("found a string"),
        "{}",
        errors[0].reason
    );
    assert!(
        errors[1].reason.contains("found a sequence"),
        "{}",
        errors[1].reason
    );
}

#[test]
fn empty_documents_and_comments_are_skipped_but_counted() {
    let text = "# leading comment\n---\n---\n# only a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nbad: [\n";
    let (objects, errors) = parse_documents("f.yaml", text);
    assert_eq!(objects.len(), 1);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].document, 3);
}

#[test]
fn status_from_a_cluster_dump_does_not_break_parsing() {
    let text = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: c}\nspec: {controllerName: x}\nstatus: {conditions: [{type: Accepted}]}\n";
    let (objects, errors) = parse_documents("f.yaml", text);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(objects.len(), 1);
}

#[test]
fn json_object_and_lists_parse() {
    let single = r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}"#;
    let (objects, errors) = parse_documents("a.json", single);
    assert!(errors.is_empty());
    assert_eq!(kinds(&objects), ["Service"]);

    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": 5}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}
    ]}"#;
    let (objects, errors) = parse_documents("list.json", list);
    assert_eq!(kinds(&objects), ["Service", "Namespace"]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].document, 0);
    assert!(errors[0].reason.starts_with("items[1]: "), "{}", errors[0].reason);

    // Typed lists as the API returns them: items carry no apiVersion or kind.
    let typed =
        "apiVersion: v1\nkind: ServiceList\nitems:\n  - metadata: {name: a}\n  - metadata: {name: b}\n";
    let (objects, errors) = parse_documents("svc.yaml", typed);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(objects.iter().map(Object::name).collect::<Vec<_>>(), ["a", "b"]);
}

#[test]
fn invalid_json_file_reports_the_json_error() {
    let (objects, errors) = parse_documents("broken.json", "{\"apiVersion\": \"v1\",\n \"kind\": }");
    assert!(objects.is_empty());
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].reason.starts_with("invalid JSON"),
        "{}",
        errors[0].reason
    );
    assert!(errors[0].reason.contains("line 2"), "{}", errors[0].reason);
}

#[test]
fn garbage_never_panics() {
    let samples = [
        "",
        "\0",
        "---",
        "--- ---",
        "...",
        "%YAML 9.9\n---\n",
        "{",
        "[",
        "}",
        "]]]",
        ":",
        "- - -",
        "&a *a",
        "*unknown",
        "a: &x [*x]",
        "!!binary foo",
        "? [a]\n: b",
        "kind: List\napiVersion: v1\nitems: 5",
        "kind: List\napiVersion: v1\nitems: [1, [2], {kind: List, apiVersion: v1, items: []}]",
        "apiVersion: v1\nkind: Service\nmetadata: [1]",
        "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: 7",
        "\u{feff}{\"a\":",
        "\t\tkey: value",
        "key: 'unterminated",
        "a:\n  - b\n c: d",
    ];
    for sample in samples {
        let _ = parse_documents("garbage.yaml", sample);
        let _ = parse_documents("garbage.json", sample);
    }
    // Deterministic pseudo-random bytes, interpreted as (lossy) UTF-8: a bounded fuzz.
    let alphabet = b"ab:-{}[]'\"\n #&*!?|>%,.\t0123456789";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..300 {
        let mut text = String::new();
        for _ in 0..64 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let idx = usize::try_from(state >> 33).unwrap() % alphabet.len();
            text.push(char::from(alphabet[idx]));
        }
        let _ = parse_documents("fuzz.yaml", &text);
    }
}

#[test]
fn resource_set_replaces_by_key_and_defaults_the_namespace() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {type: ClusterIP}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: default}\nspec: {type: NodePort}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n";
    let (objects, _) = parse_documents("f.yaml", text);
    let mut set: ResourceSet = objects.into_iter().collect();
    assert_eq!(set.len(), 2);
    let svc = set.service("default", "a").expect("stored under default");
    assert_eq!(svc.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(
        svc.spec.as_ref().and_then(|s| s.type_.as_deref()),
        Some("NodePort"),
        "the later object wins"
    );
    assert!(
        set.remove(&ObjectKey::new(Kind::Service, None, "a")),
        "no namespace means default"
    );
    assert!(set.service("default", "a").is_none());
    assert!(!set.remove(&ObjectKey::new(Kind::Service, Some("default"), "a")));
    assert!(set.remove(&ObjectKey::new(Kind::Namespace, None, "default")));
    assert!(set.is_empty());
}

#[test]
fn ignored_objects_are_not_stored() {
    let mut set = ResourceSet::new();
    assert!(!set.insert(Object::Ignored {
        api_version: "v1".into(),
        kind: "Deployment".into(),
        name: "x".into()
    }));
    assert!(set.is_empty());
}

#[test]
fn config_maps_and_backend_tls_policies_are_stored_and_removed_by_key() {
    let text = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: ca, namespace: apps}
data: {ca.crt: "-----BEGIN CERTIFICATE-----"}
binaryData: {other: aGVsbG8=}
---
apiVersion: gateway.networking.k8s.io/v1alpha3
kind: BackendTLSPolicy
metadata: {name: old-api}
spec:
  targetRefs: [{group: "", kind: Service, name: s, sectionName: https}]
  validation:
    hostname: s.example.com
    caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
    subjectAltNames: [{type: URI, uri: "spiffe://cluster/ns/apps/sa/s"}]
"#;
    let (objects, errors) = parse_documents("tls.yaml", text);
    assert!(errors.is_empty(), "{errors:#?}");
    let mut set: ResourceSet = objects.into_iter().collect();
    assert_eq!(set.len(), 2);
    let cm = set.config_map("apps", "ca").expect("stored in its namespace");
    assert_eq!(
        cm.data.as_ref().and_then(|d| d.get("ca.crt")).map(String::as_str),
        Some("-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(
        cm.binary_data
            .as_ref()
            .and_then(|d| d.get("other"))
            .map(|b| b.0.clone()),
        Some(b"hello".to_vec()),
        "binaryData is base64-decoded"
    );
    let policy = set
        .backend_tls_policy("default", "old-api")
        .expect("v1alpha3 is read as v1, in the default namespace");
    assert_eq!(policy.spec.validation.hostname, "s.example.com");
    assert_eq!(policy.spec.target_refs[0].section_name.as_deref(), Some("https"));
    assert!(set.remove(&ObjectKey::new(Kind::ConfigMap, Some("apps"), "ca")));
    assert!(set.remove(&ObjectKey::new(Kind::BackendTlsPolicy, None, "old-api")));
    assert!(set.is_empty());
}

#[test]
fn backend_tls_policy_without_validation_is_a_parse_error_naming_the_field() {
    let text = "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: p}\nspec: {targetRefs: []}\n";
    let (objects, errors) = parse_documents("p.yaml", text);
    assert!(objects.is_empty());
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].kind.as_deref(), Some("BackendTLSPolicy"));
    assert!(errors[0].reason.contains("validation"), "{}", errors[0].reason);
}
