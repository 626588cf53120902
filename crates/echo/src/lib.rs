//! fairlead-echo: a small backend that answers every request with JSON describing the request it
//! saw (method, host, path, query, headers, protocol, peer) and its own name. The quickstart and
//! the tests route to it, so what the proxy forwarded can be checked from the response.
//!
//! Special paths: `/status/<code>` answers with that status, `/delay/<ms>` waits before answering
//! (at most 60 s), and a request with `Upgrade: websocket` gets `101` and then has its raw bytes
//! echoed back.

use bytes::Bytes;
use http::{header, HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Longest `/delay/<ms>` honoured, so a stray request cannot hold a connection forever.
const MAX_DELAY: Duration = Duration::from_secs(60);

/// Serves HTTP/1.1 and h2c (prior knowledge) on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    name: String,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let name: Arc<str> = name.into();
    loop {
        let (stream, remote) = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Transient accept errors (e.g. too many open files) must not end the server.
                Err(err) => {
                    tracing::debug!(%err, "echo accept failed");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let name = name.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, name.clone(), remote));
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    name: Arc<str>,
    remote: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    if is_websocket(req.headers()) {
        return Ok(websocket(req));
    }
    if let Some(ms) = path.strip_prefix("/delay/").and_then(|s| s.parse::<u64>().ok()) {
        tokio::time::sleep(Duration::from_millis(ms).min(MAX_DELAY)).await;
    }
    let status = path
        .strip_prefix("/status/")
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::OK);
    let mut description = describe(&req, &name, remote);
    // Read the whole body only to report its size: the echo is a test tool, not a data path.
    let body_len = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes().len(),
        Err(_) => 0,
    };
    description["body_bytes"] = body_len.into();
    let body = serde_json::to_vec(&description).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&name) {
        resp.headers_mut().insert("x-echo-name", v);
    }
    Ok(resp)
}

fn describe(req: &Request<Incoming>, name: &str, remote: SocketAddr) -> serde_json::Value {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    serde_json::json!({
        "name": name,
        "method": req.method().as_str(),
        "host": host,
        "path": req.uri().path(),
        "query": req.uri().query().unwrap_or(""),
        "headers": headers_json(req.headers()),
        "protocol": format!("{:?}", req.version()),
        "remote": remote.to_string(),
    })
}

/// Header names lowercase; a header sent once is a string, several times an array.
fn headers_json(headers: &HeaderMap) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<serde_json::Value> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned().into())
            .collect();
        let value = if values.len() == 1 {
            values.into_iter().next().unwrap_or_default()
        } else {
            serde_json::Value::Array(values)
        };
        map.insert(name.as_str().to_owned(), value);
    }
    serde_json::Value::Object(map)
}

fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Accepts the upgrade and echoes raw bytes (no WebSocket framing is interpreted: echoing the
/// frames back byte for byte is enough to prove a tunnel works).
fn websocket(mut req: Request<Incoming>) -> Response<Full<Bytes>> {
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else { return };
        let mut io = TokioIo::new(upgraded);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if io.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = resp.headers_mut();
    headers.insert(header::UPGRADE, header::HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, header::HeaderValue::from_static("upgrade"));
    resp
}
