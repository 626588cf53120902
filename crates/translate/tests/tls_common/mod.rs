//! Test certificates (from fairlead-testpki), and the Secrets and ConfigMaps that carry them, as
//! YAML documents for the translation tests.
#![allow(dead_code)] // each test file uses a different subset

use fairlead_testpki::{base64, dns_params_between, self_signed_with, Alg, Leaf, TestCa};

/// 2025-01-01T00:00:00Z: inside [`cert`]'s validity period.
pub const NOW_2025: i64 = 1_735_689_600;
/// 2035-01-01T00:00:00Z: after it.
pub const NOW_2035: i64 = 2_051_222_400;
/// 2019-01-01T00:00:00Z: before it.
pub const NOW_2019: i64 = 1_546_300_800;

/// A self-signed certificate for `names`, valid from 2020-01-01 to 2030-01-01; `chain` and
/// `key` are its PEM.
pub fn cert(names: &[&str]) -> Leaf {
    self_signed_with(dns_params_between(names, 2020, 2030), Alg::Ecdsa)
}

/// A self-signed CA certificate, PEM encoded.
pub fn ca_pem() -> String {
    TestCa::new(Alg::Ecdsa).pem
}

/// `text` as a YAML literal block scalar indented by `indent` spaces (after a `|` line).
pub fn block(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// A Secret `<ns>/<name>` of `type_` with `tls.crt` and `tls.key` in `stringData`.
pub fn secret_typed(ns: &str, name: &str, type_: &str, chain: &str, key: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\ntype: {type_}\nstringData:\n  \
         tls.crt: |\n{}  tls.key: |\n{}",
        block(chain, 4),
        block(key, 4)
    )
}

/// A `kubernetes.io/tls` Secret `<ns>/<name>` holding `pem` (in `stringData`).
pub fn tls_secret(ns: &str, name: &str, pem: &Leaf) -> String {
    secret_typed(ns, name, "kubernetes.io/tls", &pem.chain, &pem.key)
}

/// A `kubernetes.io/tls` Secret `<ns>/<name>` holding `pem` in base64 `data`, as the API
/// server returns it.
pub fn tls_secret_data(ns: &str, name: &str, pem: &Leaf) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\ntype: kubernetes.io/tls\ndata:\n  \
         tls.crt: {}\n  tls.key: {}\n",
        base64(pem.chain.as_bytes()),
        base64(pem.key.as_bytes())
    )
}

/// A ConfigMap `<ns>/<name>` with `ca.crt`.
pub fn ca_config_map(ns: &str, name: &str, pem: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\ndata:\n  ca.crt: |\n{}",
        block(pem, 4)
    )
}

/// A Secret `<ns>/<name>` with `ca.crt` (in `stringData`).
pub fn ca_secret(ns: &str, name: &str, pem: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\nstringData:\n  ca.crt: |\n{}",
        block(pem, 4)
    )
}

/// A ReferenceGrant in `ns` letting Gateways of `from_ns` use objects of `kind` (all of them
/// when `name` is `None`). Its own name is made of the arguments, so grants differing in any
/// of them do not replace each other.
pub fn gateway_grant(ns: &str, from_ns: &str, kind: &str, name: Option<&str>) -> String {
    let grant = format!("g-{from_ns}-{kind}-{}", name.unwrap_or("all")).to_lowercase();
    let name = name.map(|n| format!(", name: {n}")).unwrap_or_default();
    format!(
        "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: {grant}, namespace: {ns}}}\n\
         spec:\n  from: [{{group: gateway.networking.k8s.io, kind: Gateway, namespace: {from_ns}}}]\n  \
         to: [{{group: \"\", kind: {kind}{name}}}]\n"
    )
}

/// An HTTPRoute `default/<name>` attached to Gateway `default/web` whose one rule sends to
/// `backend_ref` (a YAML flow mapping).
pub fn route_to(name: &str, backend_ref: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: web}}]\n  rules: [{{backendRefs: [{backend_ref}]}}]\n"
    )
}
