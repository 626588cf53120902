//! Shared test helpers: config builders, backends on 127.0.0.1, a proxy on a free port, and
//! real HTTP clients. Every network wait is bounded by [`WAIT`].
#![allow(dead_code)]

use bytes::Bytes;
use fairlead_proxy::{Proxy, ProxyOptions};
use fairlead_route::{
    Backend, BackendTarget, Config, Listener, ListenerProtocol, Route, RouteKind, RouteMatch, RouteOrder,
    ServiceBackend, UpstreamProtocol,
};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::registry::Registry;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, DropGuard};

/// Upper bound for any single network wait in a test.
pub const WAIT: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test if it takes longer than [`WAIT`].
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {WAIT:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Backends

/// A backend server; stops when dropped.
pub struct TestBackend {
    pub addr: SocketAddr,
    _stop: DropGuard,
}

/// A `fairlead-echo` backend named `name`.
pub async fn echo(name: &str) -> TestBackend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(fairlead_echo::serve(listener, name.to_owned(), stop.clone()));
    TestBackend {
        addr,
        _stop: stop.drop_guard(),
    }
}

/// Serves every connection with `handler` (HTTP/1.1 and h2c) until dropped.
pub async fn serve_fn<F, Fut, B>(handler: F) -> TestBackend
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                _ = token.cancelled() => return,
                accepted = listener.accept() => match accepted { Ok(a) => a, Err(_) => continue },
            };
            let handler = handler.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let fut = handler(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                tokio::select! {
                    _ = conn => {}
                    _ = token.cancelled() => {}
                }
            });
        }
    });
    TestBackend {
        addr,
        _stop: stop.drop_guard(),
    }
}

/// An address nothing listens on: connections to it are refused.
pub fn refused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Config builders

pub fn service(name: &str, weight: u32, endpoints: &[SocketAddr]) -> Backend {
    service_with(name, weight, endpoints, UpstreamProtocol::Http1)
}

pub fn h2c_service(name: &str, weight: u32, endpoints: &[SocketAddr]) -> Backend {
    service_with(name, weight, endpoints, UpstreamProtocol::H2c)
}

fn service_with(name: &str, weight: u32, endpoints: &[SocketAddr], protocol: UpstreamProtocol) -> Backend {
    Backend {
        weight,
        target: BackendTarget::Service(ServiceBackend {
            name: name.to_owned(),
            protocol,
            endpoints: endpoints.to_vec(),
            tls: None,
        }),
        filters: Vec::new(),
    }
}

pub fn invalid(reason: &str) -> Backend {
    Backend {
        weight: 1,
        target: BackendTarget::Invalid {
            reason: reason.to_owned(),
        },
        filters: Vec::new(),
    }
}

/// A route with a single PathPrefix `/` match (adjust the public fields as needed).
pub fn route(id: &str, backends: Vec<Backend>) -> Route {
    Route {
        id: id.to_owned(),
        kind: RouteKind::HttpRoute,
        hostnames: Vec::new(),
        matches: vec![RouteMatch::default()],
        filters: Vec::new(),
        backends,
        timeouts: Default::default(),
        order: RouteOrder {
            created: Some(0),
            namespace: "default".into(),
            name: id.to_owned(),
            rule: 0,
        },
        retry: None,
    }
}

/// One HTTP listener without hostname on `port`, holding `routes`.
pub fn config(port: u16, routes: Vec<Route>) -> Config {
    Config {
        version: 1,
        listeners: vec![Listener {
            id: "test/http".into(),
            port,
            protocol: ListenerProtocol::Http,
            hostname: None,
            routes,
            tls: None,
        }],
    }
}

// ---------------------------------------------------------------------------------------------
// The proxy

pub struct TestProxy {
    pub proxy: Arc<Proxy>,
    pub port: u16,
    pub registry: Registry,
}

impl TestProxy {
    /// The metrics in Prometheus text format.
    pub fn metrics(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).unwrap();
        out
    }
}

pub fn options() -> ProxyOptions {
    ProxyOptions {
        bind_address: [127, 0, 0, 1].into(),
        connect_timeout: Duration::from_secs(2),
        upstream_idle_timeout: Duration::from_secs(90),
        access_log: true,
        workers: 2,
        tls_min_version: Default::default(),
    }
}

/// A port on 127.0.0.1 reserved for this test process. The proxy binds with SO_REUSEPORT, so a
/// port merely "free a moment ago" could end up shared with another test process's proxy (both
/// binds succeed and connections are split between them). A bound, non-listening SO_REUSEPORT
/// socket holds the port until the process exits: other processes' plain binds cannot take it,
/// the proxy still can, and a socket that does not listen is never handed a connection.
pub fn free_port() -> u16 {
    use socket2::{Domain, Socket, Type};
    static HELD: std::sync::Mutex<Vec<Socket>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..50 {
        let addr = refused_addr();
        let hold = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        hold.set_reuse_port(true).expect("SO_REUSEPORT");
        if hold.bind(&addr.into()).is_ok() {
            HELD.lock().unwrap_or_else(|e| e.into_inner()).push(hold);
            return addr.port();
        }
    }
    panic!("could not reserve a port on 127.0.0.1 in 50 attempts");
}

/// Starts a proxy serving `make(port)` on a free port of 127.0.0.1.
pub async fn start_proxy(make: impl Fn(u16) -> Config) -> TestProxy {
    let mut registry = Registry::default();
    let proxy = Proxy::new(options(), &mut registry).expect("proxy workers start");
    for _ in 0..10 {
        let port = free_port();
        let report = proxy.apply(&make(port), &Default::default());
        assert!(report.compile_errors.is_empty(), "{:?}", report.compile_errors);
        if report.bind_errors.is_empty() {
            return TestProxy {
                proxy,
                port,
                registry,
            };
        }
    }
    panic!("no free port found for the proxy");
}

// ---------------------------------------------------------------------------------------------
// Clients

/// A response read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    /// The body as JSON (what the echo backend answers).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The echo backend's name.
    pub fn name(&self) -> String {
        self.json()["name"].as_str().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn read(resp: Response<Incoming>) -> Resp {
    let (parts, body) = resp.into_parts();
    let body = bounded("read body", body.collect()).await.unwrap().to_bytes();
    Resp {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// An HTTP/1.1 client connection to the proxy.
pub struct H1Client {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl H1Client {
    pub async fn connect(port: u16) -> H1Client {
        let stream = bounded("connect", TcpStream::connect(("127.0.0.1", port)))
            .await
            .unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn.with_upgrades());
        H1Client { sender }
    }

    /// Sends a request over this keep-alive connection and reads the response whole.
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Resp {
        let resp = self.send_raw(req).await;
        read(resp).await
    }

    /// Sends a request and returns the response with its body unread.
    pub async fn send_raw(&mut self, req: Request<Full<Bytes>>) -> Response<Incoming> {
        bounded("connection ready", self.sender.ready()).await.unwrap();
        bounded("response", self.sender.send_request(req)).await.unwrap()
    }

    pub async fn get(&mut self, host: &str, path: &str) -> Resp {
        self.send(request("GET", host, path)).await
    }
}

/// A request with a `Host` header and an empty body.
pub fn request(method: &str, host: &str, path: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// One request on a fresh HTTP/1.1 connection.
pub async fn get(port: u16, host: &str, path: &str) -> Resp {
    H1Client::connect(port).await.get(host, path).await
}

/// An h2c (prior knowledge) client connection to `port`.
pub async fn h2_client(port: u16) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    let stream = bounded("connect", TcpStream::connect(("127.0.0.1", port)))
        .await
        .unwrap();
    let (sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// Counts per echo backend name.
pub fn tally(names: impl IntoIterator<Item = String>) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for name in names {
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

// ---------------------------------------------------------------------------------------------
// Recording backends

/// What a recording backend saw of one request (its body read whole).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: http::Method,
    /// Path and query.
    pub target: String,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    /// The host the request was addressed to: `Host`, or the HTTP/2 `:authority`.
    pub fn host(&self) -> String {
        self.headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_default()
    }
}

async fn seen(req: Request<Incoming>) -> Seen {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let mut headers = parts.headers;
    if let (None, Some(authority)) = (headers.get("host"), parts.uri.authority()) {
        headers.insert("host", authority.as_str().parse().unwrap());
    }
    Seen {
        method: parts.method,
        target: parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_default(),
        version: parts.version,
        headers,
        body,
    }
}

/// A backend (HTTP/1.1 and h2c) that reports each request it receives, body included, and
/// answers `200` with its name as the body.
pub async fn recorder(name: &'static str) -> (TestBackend, tokio::sync::mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let backend = serve_fn(move |req: Request<Incoming>| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(seen(req).await);
            Response::new(Full::new(Bytes::from_static(name.as_bytes())))
        }
    })
    .await;
    (backend, rx)
}

/// A backend that reports each request as it arrives (without reading its body) and then holds
/// it, unanswered, until `release` is cancelled.
pub async fn holding(
    release: CancellationToken,
) -> (TestBackend, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let backend = serve_fn(move |req: Request<Incoming>| {
        let tx = tx.clone();
        let release = release.clone();
        async move {
            let _ = tx.send(req.uri().path().to_owned());
            release.cancelled().await;
            Response::new(Full::new(Bytes::new()))
        }
    })
    .await;
    (backend, rx)
}

/// Receives the next report of a recording backend, failing the test after [`WAIT`].
pub async fn next_seen<T>(rx: &mut tokio::sync::mpsc::UnboundedReceiver<T>, what: &str) -> T {
    bounded(what, rx.recv())
        .await
        .unwrap_or_else(|| panic!("{what}: backend gone"))
}

/// The value of one metric sample line (`name{labels}`), or 0 when the series does not exist.
pub fn metric(proxy: &TestProxy, series: &str) -> u64 {
    let text = proxy.metrics();
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// Waits (bounded by [`WAIT`]) until `series` reaches `at_least`; metrics have no readiness
/// signal, so this polls.
pub async fn wait_for_metric(proxy: &TestProxy, series: &str, at_least: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let value = metric(proxy, series);
        if value >= at_least {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{series} stayed at {value}, wanted {at_least}:\n{}",
                proxy.metrics()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
