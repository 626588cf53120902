//! Test certificates made with rcgen: a [`TestCa`] (and intermediates) issuing [`Leaf`]
//! certificates, self-signed certificates, validity and SAN choices, and the PEM, DER and
//! [`TlsMaterial`] forms the code under test reads.

use fairlead_route::{CertificatePem, TlsMaterial};
use rcgen::{
    BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType, SerialNumber, SignatureAlgorithm,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// The key algorithm of a certificate (and of the signature its issuer makes with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rsa,
    Ecdsa,
    Ed25519,
}

/// RSA key generation is slow in debug builds; every RSA certificate shares one key.
fn rsa_key() -> KeyPair {
    static PEM: OnceLock<String> = OnceLock::new();
    let pem = PEM.get_or_init(|| {
        KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            .unwrap()
            .serialize_pem()
    });
    KeyPair::from_pem(pem).unwrap()
}

fn key_pair(alg: Alg) -> KeyPair {
    let sign: &'static SignatureAlgorithm = match alg {
        Alg::Rsa => return rsa_key(),
        Alg::Ecdsa => &rcgen::PKCS_ECDSA_P256_SHA256,
        Alg::Ed25519 => &rcgen::PKCS_ED25519,
    };
    KeyPair::generate_for(sign).unwrap()
}

/// A unique serial per certificate, with a non-zero first byte so its hex is unambiguous.
fn next_serial() -> (SerialNumber, String) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut bytes = vec![0x42];
    bytes.extend_from_slice(&n.to_be_bytes());
    let hex = bytes.iter().map(|b| format!("{b:02x}")).collect();
    (SerialNumber::from_slice(&bytes), hex)
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params
}

/// A certificate authority that signs test leaves.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
    pub der: CertificateDer<'static>,
}

impl TestCa {
    pub fn new(alg: Alg) -> TestCa {
        let params = ca_params("fairlead test CA");
        let key = key_pair(alg);
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            issuer: Issuer::new(params, key),
            pem: cert.pem(),
            der: cert.der().clone(),
        }
    }

    /// An intermediate CA signed by this one; its `pem` is the intermediate alone.
    pub fn intermediate(&self, alg: Alg) -> TestCa {
        let params = ca_params("fairlead test intermediate");
        let key = key_pair(alg);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        TestCa {
            issuer: Issuer::new(params, key),
            pem: cert.pem(),
            der: cert.der().clone(),
        }
    }

    /// A leaf for the DNS `names`, valid for as long as rcgen's default (decades either side).
    pub fn leaf(&self, names: &[&str], alg: Alg) -> Leaf {
        self.leaf_with(dns_params(names), alg)
    }

    /// A leaf from explicit params (validity, URI SANs); the serial is always set here.
    pub fn leaf_with(&self, params: CertificateParams, alg: Alg) -> Leaf {
        Leaf::sign(params, alg, Some(&self.issuer))
    }

    /// Roots holding this CA alone.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        roots
    }
}

/// A self-signed ECDSA certificate for the DNS `names`; a client trusts it by taking it as a
/// root (see [`Leaf::roots_of`]).
pub fn self_signed(names: &[&str]) -> Leaf {
    self_signed_with(dns_params(names), Alg::Ecdsa)
}

/// A self-signed certificate from explicit params; the serial is always set here.
pub fn self_signed_with(params: CertificateParams, alg: Alg) -> Leaf {
    Leaf::sign(params, alg, None)
}

/// Params for a certificate carrying the DNS `names`.
pub fn dns_params(names: &[&str]) -> CertificateParams {
    CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap()
}

/// [`dns_params`] valid from January 1st of `from_year` to January 1st of `until_year` (UTC):
/// fixed dates for tests that pass their own "now", or (ending in the past) an expired one.
pub fn dns_params_between(names: &[&str], from_year: i32, until_year: i32) -> CertificateParams {
    let mut params = dns_params(names);
    params.not_before = rcgen::date_time_ymd(from_year, 1, 1);
    params.not_after = rcgen::date_time_ymd(until_year, 1, 1);
    params
}

/// [`dns_params`] valid from a day ago until `days` days from now.
pub fn dns_params_for_days(names: &[&str], days: u32) -> CertificateParams {
    let mut params = dns_params(names);
    let day = Duration::from_secs(86_400);
    let now = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(unix_now() as u64);
    params.not_before = now - day;
    params.not_after = now + day * days;
    params
}

/// Params for a certificate carrying only the URI SANs `uris` (SPIFFE ids and the like).
pub fn uri_params(uris: &[&str]) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = uris
        .iter()
        .map(|u| SanType::URI(u.to_string().try_into().unwrap()))
        .collect();
    params
}

/// A certificate and its key, in the forms a `kubernetes.io/tls` Secret and rustls take.
#[derive(Clone)]
pub struct Leaf {
    /// The certificate alone, PEM; append intermediates' `pem` for a chain.
    pub chain: String,
    /// The private key, PKCS#8 PEM.
    pub key: String,
    /// The private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
    pub der: CertificateDer<'static>,
    /// The serial as lowercase hex without leading zero bytes, as [`crate::serial_of`] reads it.
    pub serial_hex: String,
    pub not_after_unix: i64,
}

impl Leaf {
    fn sign(mut params: CertificateParams, alg: Alg, issuer: Option<&Issuer<'static, KeyPair>>) -> Leaf {
        let (serial, serial_hex) = next_serial();
        params.serial_number = Some(serial);
        let key = key_pair(alg);
        let cert = match issuer {
            Some(issuer) => params.signed_by(&key, issuer),
            None => params.self_signed(&key),
        }
        .unwrap();
        Leaf {
            chain: cert.pem(),
            key: key.serialize_pem(),
            key_der: key.serialize_der(),
            der: cert.der().clone(),
            serial_hex,
            not_after_unix: params.not_after.unix_timestamp(),
        }
    }

    /// The certificate and key as the store reads them from a Secret.
    pub fn pem(&self) -> CertificatePem {
        CertificatePem {
            chain: self.chain.clone().into_bytes(),
            key: self.key.clone().into_bytes(),
        }
    }

    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key_der.clone().into())
    }

    /// The chain and key a client presents for mutual TLS.
    pub fn client_auth(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (vec![self.der.clone()], self.private_key())
    }

    /// The private key re-encoded as PKCS#1 (RSA) or SEC1 (EC): the structure inside PKCS#8.
    pub fn legacy_key_pem(&self, label: &str) -> String {
        pem_encode(label, &pkcs8_inner_key(&self.key_der))
    }

    /// Roots holding exactly these (self-signed) certificates.
    pub fn roots_of(leaves: &[&Leaf]) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        for leaf in leaves {
            roots.add(leaf.der.clone()).unwrap();
        }
        roots
    }
}

/// Roots holding every certificate of a PEM bundle.
pub fn roots_from_pem(pem: &str) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

/// TLS material holding each leaf under its certificate id.
pub fn material(certs: &[(&str, &Leaf)]) -> TlsMaterial {
    let mut material = TlsMaterial::default();
    for (id, leaf) in certs {
        material.certificates.insert((*id).to_owned(), leaf.pem());
    }
    material
}

/// Seconds since the epoch now, as the code under test is handed it.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm SEQUENCE, privateKey OCTET STRING }
fn pkcs8_inner_key(der: &[u8]) -> Vec<u8> {
    let (body, _) = tlv(der, 0x30);
    let (_, rest) = tlv(body, 0x02);
    let (_, rest) = tlv(rest, 0x30);
    let (key, _) = tlv(rest, 0x04);
    key.to_vec()
}

/// Splits one DER element with the expected tag into (contents, rest).
fn tlv(input: &[u8], tag: u8) -> (&[u8], &[u8]) {
    assert_eq!(input[0], tag, "unexpected DER tag");
    let (len, header) = if input[1] & 0x80 == 0 {
        (input[1] as usize, 2)
    } else {
        let n = (input[1] & 0x7f) as usize;
        let len = input[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, 2 + n)
    };
    (&input[header..header + len], &input[header + len..])
}

/// `der` as a PEM block with `label`, for hand-made (often deliberately broken) PEM.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Standard base64 with padding (PEM bodies, Secret `data`).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads_like_rfc_4648() {
        let cases: [(&[u8], &str); 5] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input), want);
        }
    }

    #[test]
    fn legacy_keys_are_the_inner_pkcs8_key() {
        let ca = TestCa::new(Alg::Ecdsa);
        let leaf = ca.leaf(&["a.example"], Alg::Ecdsa);
        let sec1 = leaf.legacy_key_pem("EC PRIVATE KEY");
        assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        // SEC1 ECPrivateKey is itself a SEQUENCE, shorter than the PKCS#8 wrapping it.
        let inner = pkcs8_inner_key(&leaf.key_der);
        assert_eq!(inner[0], 0x30);
        assert!(inner.len() < leaf.key_der.len());
    }

    #[test]
    fn validity_choices_reach_the_certificate() {
        let ca = TestCa::new(Alg::Ecdsa);
        let old = ca.leaf_with(dns_params_between(&["a.example"], 2020, 2021), Alg::Ecdsa);
        assert_eq!(old.not_after_unix, 1_609_459_200);
        let soon = ca.leaf_with(dns_params_for_days(&["a.example"], 10), Alg::Ecdsa);
        let left = soon.not_after_unix - unix_now();
        assert!((9 * 86_400..=10 * 86_400).contains(&left), "{left}");
    }

    #[test]
    fn serials_are_unique_and_read_back_from_der() {
        let ca = TestCa::new(Alg::Ecdsa);
        let (a, b) = (ca.leaf(&["a.example"], Alg::Rsa), self_signed(&["b.example"]));
        assert_ne!(a.serial_hex, b.serial_hex);
        assert_eq!(crate::serial_of(&a.der), a.serial_hex);
        assert_eq!(crate::serial_of(&b.der), b.serial_hex);
    }
}
