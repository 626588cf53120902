//! The client and server helpers against each other: what `connect` reports must be what the
//! server presented and negotiated, and verification by roots must refuse a foreign CA.

use fairlead_testpki::*;

#[tokio::test]
async fn connect_reports_the_served_leaf_alpn_and_answer() {
    let ca = TestCa::new(Alg::Ecdsa);
    let leaf = ca.leaf(&["a.example"], Alg::Rsa);
    let mut server = TestServer::start(server_config(&leaf, &[b"h2", b"http/1.1"])).await;
    let spec = ClientSpec {
        verify: Verify::Roots(ca.roots()),
        alpn: vec![b"http/1.1".to_vec()],
        ..ClientSpec::default()
    };
    let mut conn = connect(spec.build(), server.addr, "a.example").await.unwrap();
    assert_eq!(conn.served, leaf.der);
    assert_eq!(conn.serial_hex, leaf.serial_hex);
    assert_eq!(conn.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert!(!conn.resumed);
    let mut body = Vec::new();
    bounded(
        "answer",
        tokio::io::AsyncReadExt::read_to_end(&mut conn.stream, &mut body),
    )
    .await
    .unwrap();
    assert_eq!(body, b"ok");
    let ServerSide::Accepted {
        sni,
        alpn,
        client_cert,
    } = server.next_outcome().await
    else {
        panic!("refused")
    };
    assert_eq!(sni.as_deref(), Some("a.example"));
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert!(!client_cert);
}

#[tokio::test]
async fn roots_refuse_a_foreign_ca_a_wrong_name_and_an_expired_leaf() {
    let ca = TestCa::new(Alg::Ecdsa);
    let cases = [
        (
            TestCa::new(Alg::Ecdsa).leaf(&["a.example"], Alg::Ecdsa),
            "a.example",
        ),
        (ca.leaf(&["a.example"], Alg::Ecdsa), "b.example"),
        (
            ca.leaf_with(dns_params_between(&["a.example"], 2020, 2021), Alg::Ecdsa),
            "a.example",
        ),
    ];
    for (leaf, name) in cases {
        let mut server = TestServer::start(server_config(&leaf, &[])).await;
        let spec = ClientSpec {
            verify: Verify::Roots(roots_from_pem(&ca.pem)),
            ..ClientSpec::default()
        };
        let result = connect(spec.build(), server.addr, name).await;
        assert!(result.is_err(), "{name}: {:?}", result.map(|c| c.serial_hex));
        server.next_outcome().await;
    }
    // The accept-any client takes any leaf, and a self-signed leaf is its own root.
    let own = self_signed(&["a.example"]);
    let server = TestServer::start(server_config(&own, &[])).await;
    let any = connect(ClientSpec::default().build(), server.addr, "x.invalid").await;
    assert_eq!(any.unwrap().served, own.der);
    let trusting = ClientSpec {
        verify: Verify::Roots(Leaf::roots_of(&[&own])),
        ..ClientSpec::default()
    };
    assert!(connect(trusting.build(), server.addr, "a.example").await.is_ok());
}
