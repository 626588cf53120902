//! GRPCRoute rules: errors the proxy answers itself are gRPC trailers-only responses, and a
//! working h2c backend's trailers reach the client.

mod support;

use bytes::Bytes;
use fairlead_route::{Filter, RouteKind};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};
use support::*;
use tokio_util::sync::CancellationToken;

fn grpc_route(backends: Vec<fairlead_route::Backend>) -> fairlead_route::Route {
    let mut r = route("grpcroute/default/echo/rule/0", backends);
    r.kind = RouteKind::GrpcRoute;
    r.matches = vec![fairlead_route::RouteMatch {
        path: fairlead_route::PathMatch::Prefix("/echo.Echo".into()),
        ..Default::default()
    }];
    r
}

fn grpc_call(path: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method("POST")
        .uri(format!("http://grpc.example{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(b"\0\0\0\0\x02hi")))
        .unwrap()
}

/// Sends `req` over h2c and reads the response whole, trailers included.
async fn call(port: u16, req: Request<Full<Bytes>>) -> (StatusCode, HeaderMap, Bytes, Option<HeaderMap>) {
    let mut client = h2_client(port).await;
    let resp = bounded("response", client.send_request(req)).await.unwrap();
    let (parts, body) = resp.into_parts();
    let collected = bounded("body", body.collect()).await.unwrap();
    let trailers = collected.trailers().cloned();
    (parts.status, parts.headers, collected.to_bytes(), trailers)
}

/// Asserts a trailers-only gRPC answer with `code`.
fn assert_grpc_status(answer: &(StatusCode, HeaderMap, Bytes, Option<HeaderMap>), code: &str) {
    let (status, headers, body, _) = answer;
    assert_eq!(*status, StatusCode::OK, "{headers:?}");
    assert_eq!(headers["content-type"], "application/grpc");
    assert_eq!(headers["grpc-status"], code, "{headers:?}");
    assert!(headers.contains_key("grpc-message"));
    assert!(body.is_empty());
}

#[tokio::test]
async fn an_invalid_backend_is_unavailable() {
    let proxy = start_proxy(|port| config(port, vec![grpc_route(vec![invalid("Service not found")])])).await;
    assert_grpc_status(&call(proxy.port, grpc_call("/echo.Echo/Say")).await, "14");
}

#[tokio::test]
async fn a_refusing_endpoint_is_unavailable() {
    let proxy = start_proxy(|port| {
        config(
            port,
            vec![grpc_route(vec![h2c_service(
                "ns/grpc:50051",
                1,
                &[refused_addr()],
            )])],
        )
    })
    .await;
    assert_grpc_status(&call(proxy.port, grpc_call("/echo.Echo/Say")).await, "14");
}

#[tokio::test]
async fn no_endpoints_is_unavailable() {
    let proxy = start_proxy(|port| config(port, vec![grpc_route(vec![h2c_service("empty", 1, &[])])])).await;
    assert_grpc_status(&call(proxy.port, grpc_call("/echo.Echo/Say")).await, "14");
}

#[tokio::test]
async fn a_failing_filter_is_internal() {
    let backend = echo("never").await;
    let proxy = start_proxy(|port| {
        let mut r = grpc_route(vec![h2c_service("s", 1, &[backend.addr])]);
        r.filters = vec![Filter::Unsupported {
            name: "ExtensionRef".into(),
        }];
        config(port, vec![r])
    })
    .await;
    assert_grpc_status(&call(proxy.port, grpc_call("/echo.Echo/Say")).await, "13");
}

#[tokio::test]
async fn a_timeout_is_deadline_exceeded() {
    let release = CancellationToken::new();
    let (backend, _rx) = holding(release.clone()).await;
    let proxy = start_proxy(|port| {
        let mut r = grpc_route(vec![h2c_service("slow", 1, &[backend.addr])]);
        r.timeouts.request_ms = Some(100);
        config(port, vec![r])
    })
    .await;
    assert_grpc_status(&call(proxy.port, grpc_call("/echo.Echo/Say")).await, "4");
    release.cancel();
}

#[tokio::test]
async fn an_unrouted_grpc_call_is_unimplemented_and_other_requests_still_get_404() {
    let backend = echo("e").await;
    let proxy =
        start_proxy(|port| config(port, vec![grpc_route(vec![h2c_service("s", 1, &[backend.addr])])])).await;
    assert_grpc_status(&call(proxy.port, grpc_call("/other.Service/Method")).await, "12");
    let plain = Request::builder()
        .uri("http://grpc.example/other")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, headers, body, _) = call(proxy.port, plain).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(headers.get("grpc-status").is_none());
    assert_eq!(body, "no route\n");
}

#[tokio::test]
async fn errors_on_http_routes_stay_plain() {
    let proxy = start_proxy(|port| config(port, vec![route("r", vec![invalid("Service not found")])])).await;
    let (status, headers, _, _) = call(proxy.port, grpc_call("/echo.Echo/Say")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(headers.get("grpc-status").is_none());
}

/// A gRPC-style response body: one message, then `grpc-status: 0` trailers.
struct Unary {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for Unary {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        Poll::Ready(match this.data.take() {
            Some(data) => Some(Ok(Frame::data(data))),
            None => this.trailers.take().map(|t| Ok(Frame::trailers(t))),
        })
    }
}

#[tokio::test]
async fn backend_trailers_reach_the_client() {
    let backend = serve_fn(|req: Request<Incoming>| async move {
        let path = req.uri().path().to_owned();
        let _ = req.into_body().collect().await;
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        trailers.insert("grpc-message", "ok".parse().unwrap());
        let mut resp = Response::new(Unary {
            data: Some(Bytes::from(format!("\0\0\0\0\x05{}", &path[..5]))),
            trailers: Some(trailers),
        });
        resp.headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        resp
    })
    .await;
    let proxy = start_proxy(|port| {
        config(
            port,
            vec![grpc_route(vec![h2c_service("ns/grpc:50051", 1, &[backend.addr])])],
        )
    })
    .await;
    let (status, headers, body, trailers) = call(proxy.port, grpc_call("/echo.Echo/Say")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/grpc");
    assert!(
        headers.get("grpc-status").is_none(),
        "the status comes in the trailers"
    );
    assert_eq!(body, Bytes::from_static(b"\0\0\0\0\x05/echo"));
    let trailers = trailers.expect("trailers forwarded");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["grpc-message"], "ok");
}
