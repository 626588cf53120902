//! GRPCRoute end to end: service and method matching over h2c, HTTP/2 to the backend, and the
//! gRPC statuses fairlead answers itself (UNAVAILABLE for an invalid backend, UNIMPLEMENTED when
//! no route matches).

mod support;

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use support::manifests::{GATEWAY, NS};
use support::status::problems;
use support::{Reply, Scenario, WAIT_AT_MOST};

fn grpc_route(name: &str, hostnames: &[&str], rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GRPCRoute",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "parentRefs": [{"name": GATEWAY, "namespace": NS}],
            "hostnames": hostnames,
            "rules": rules,
        },
    })
}

fn method_rule(service: Option<&str>, method: Option<&str>, backend: &str) -> Value {
    let mut m = json!({"type": "Exact"});
    if let Some(service) = service {
        m["service"] = json!(service);
    }
    if let Some(method) = method {
        m["method"] = json!(method);
    }
    json!({"matches": [{"method": m}], "backendRefs": [{"name": backend, "port": 80}]})
}

/// A gRPC-shaped unary call over a fresh h2c connection: POST, `content-type: application/grpc`,
/// `te: trailers`, an empty message frame. Trailers are merged into the reply's headers.
async fn call(port: u16, host: &str, path: &str) -> Reply {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::post(format!("http://{host}{path}"))
            .version(Version::HTTP_2)
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let collected = body.collect().await.unwrap();
        let mut headers = parts.headers;
        if let Some(trailers) = collected.trailers() {
            headers.extend(trailers.clone());
        }
        Reply {
            status: parts.status,
            version: parts.version,
            headers,
            body: collected.to_bytes(),
        }
    };
    tokio::time::timeout(WAIT_AT_MOST, exchange)
        .await
        .expect("gRPC call timed out")
}

#[tokio::test]
async fn service_and_method_matches_pick_the_backend() {
    let route = grpc_route(
        "greeter",
        &["grpc.example.com"],
        vec![
            method_rule(Some("helloworld.Greeter"), Some("SayHello"), "echo-a"),
            method_rule(Some("helloworld.Greeter"), None, "echo-b"),
            method_rule(None, Some("Ping"), "echo-c"),
        ],
    );
    let s = Scenario::start(&["echo-a", "echo-b", "echo-c"], vec![route]).await;
    let served = |reply: Reply| {
        assert_eq!(reply.status, 200, "{:?} {}", reply.headers, reply.text());
        reply.echo_name()
    };
    assert_eq!(
        served(call(s.port, "grpc.example.com", "/helloworld.Greeter/SayHello").await),
        "echo-a"
    );
    assert_eq!(
        served(call(s.port, "grpc.example.com", "/helloworld.Greeter/SayGoodbye").await),
        "echo-b"
    );
    assert_eq!(
        served(call(s.port, "grpc.example.com", "/health.Health/Ping").await),
        "echo-c"
    );
    // The backend is spoken to over HTTP/2, as gRPC requires.
    let echoed = call(s.port, "grpc.example.com", "/helloworld.Greeter/SayHello")
        .await
        .json();
    assert_eq!(echoed["protocol"], "HTTP/2.0", "{echoed}");

    // A method no rule matches: the client gets a gRPC status, not an HTML-ish 404.
    let reply = call(s.port, "grpc.example.com", "/other.Service/Call").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.headers["grpc-status"], "12",
        "UNIMPLEMENTED: {:?}",
        reply.headers
    );
}

#[tokio::test]
async fn an_invalid_backend_answers_unavailable_and_is_reported() {
    let route = grpc_route(
        "broken",
        &["broken.example.com"],
        vec![method_rule(Some("svc.Broken"), None, "missing")],
    );
    let s = Scenario::start(&[], vec![route]).await;
    let reply = call(s.port, "broken.example.com", "/svc.Broken/Call").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/grpc");
    assert_eq!(
        reply.headers["grpc-status"], "14",
        "UNAVAILABLE: {:?}",
        reply.headers
    );

    let status = s.fairlead.status().await;
    let found = problems(&status, "GRPCRoute", "broken");
    assert!(
        found
            .iter()
            .any(|c| c["type"] == "ResolvedRefs" && c["reason"] == "BackendNotFound"),
        "{found:#?}"
    );
}
