//! Test certificates generated with rcgen, and the Secrets and ConfigMaps that carry them, as
//! YAML documents for the translation tests.
#![allow(dead_code)] // each test file uses a different subset

/// A certificate chain and its private key, PEM encoded.
#[derive(Clone)]
pub struct Pem {
    pub chain: String,
    pub key: String,
}

/// 2025-01-01T00:00:00Z: inside [`cert`]'s validity period.
pub const NOW_2025: i64 = 1_735_689_600;
/// 2035-01-01T00:00:00Z: after it.
pub const NOW_2035: i64 = 2_051_222_400;
/// 2019-01-01T00:00:00Z: before it.
pub const NOW_2019: i64 = 1_546_300_800;

/// A self-signed certificate for `names`, valid from 2020-01-01 to 2030-01-01.
pub fn cert(names: &[&str]) -> Pem {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    Pem {
        chain: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// A self-signed CA certificate, PEM encoded.
pub fn ca_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "fairlead test CA");
    params.self_signed(&key).unwrap().pem()
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
pub fn tls_secret(ns: &str, name: &str, pem: &Pem) -> String {
    secret_typed(ns, name, "kubernetes.io/tls", &pem.chain, &pem.key)
}

/// A `kubernetes.io/tls` Secret `<ns>/<name>` holding `pem` in base64 `data`, as the API
/// server returns it.
pub fn tls_secret_data(ns: &str, name: &str, pem: &Pem) -> String {
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

/// Standard base64 with padding, for Secret `data`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
