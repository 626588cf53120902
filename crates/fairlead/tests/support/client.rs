//! Clients for talking to fairlead: a pooled HTTP/1.1 client, one-shot h2c (prior knowledge)
//! requests, and raw TCP exchanges for what well-behaved clients never send.

use super::WAIT_AT_MOST;
use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A complete response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; fails the test with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("expected JSON ({err}), got {}: {}", self.status, self.text()))
    }

    /// The `name` of the echo backend that answered; fails the test on any other answer.
    pub fn echo_name(&self) -> String {
        assert_eq!(
            self.status,
            200,
            "expected an echo answer, got {}: {}",
            self.status,
            self.text()
        );
        match self.json()["name"].as_str() {
            Some(name) => name.to_owned(),
            None => panic!("not an echo answer: {}", self.text()),
        }
    }

    /// A request header as the echo backend saw it: every value, in order, whether it came as
    /// one header line (a string) or several (an array).
    pub fn echoed_header(&self, name: &str) -> Vec<String> {
        match &self.json()["headers"][name] {
            serde_json::Value::String(v) => vec![v.clone()],
            serde_json::Value::Array(vs) => vs.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    }
}

/// A request to `path` on 127.0.0.1:`port` with the `Host` header set to `host`.
pub fn request(method: Method, port: u16, host: &str, path: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .header(header::HOST, host)
}

/// A pooled HTTP/1.1 client (keep-alive connections are reused, as real clients do).
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

impl Http {
    pub fn new() -> Http {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `GET path` with `Host: host`.
    pub async fn get(&self, port: u16, host: &str, path: &str) -> Reply {
        let req = request(Method::GET, port, host, path)
            .body(Full::default())
            .expect("valid request");
        self.send(req).await
    }

    /// Sends `req`; fails the test if no complete response arrives within [`WAIT_AT_MOST`].
    pub async fn send(&self, req: Request<Full<Bytes>>) -> Reply {
        let what = format!("{} {}", req.method(), req.uri());
        match self.try_send(req).await {
            Ok(reply) => reply,
            Err(err) => panic!("{what}: {err}"),
        }
    }

    /// Like [`Http::get`], `None` on any transport error (for polling a server that may not be
    /// up yet).
    pub async fn try_get(&self, port: u16, host: &str, path: &str) -> Option<Reply> {
        let req = request(Method::GET, port, host, path)
            .body(Full::default())
            .ok()?;
        self.try_send(req).await.ok()
    }

    /// Sends `req`, reporting transport errors and timeouts as text.
    pub async fn try_send(&self, req: Request<Full<Bytes>>) -> Result<Reply, String> {
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| format!("request failed: {e:?}"))?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("reading the body failed: {e}"))?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                version: parts.version,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(WAIT_AT_MOST, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("no response within {WAIT_AT_MOST:?}")))
    }
}

/// Sends `n` GETs and counts the answers: the echo name for a 200, `"<code>"` otherwise.
pub async fn tally(http: &Http, port: u16, host: &str, path: &str, n: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let reply = http.get(port, host, path).await;
        let key = if reply.status == 200 {
            reply.echo_name()
        } else {
            reply.status.as_str().to_owned()
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// One `GET` over a fresh HTTP/2 cleartext connection with prior knowledge. The virtual host
/// travels as `:authority`, as HTTP/2 clients send it.
pub async fn h2c_get(port: u16, host: &str, path: &str) -> Reply {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect for h2c");
        let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .expect("HTTP/2 handshake");
        tokio::spawn(conn);
        let req = Request::builder()
            .uri(format!("http://{host}{path}"))
            .version(Version::HTTP_2)
            .body(Full::default())
            .expect("valid request");
        let resp = sender.send_request(req).await.expect("h2c request");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("h2c body").to_bytes();
        Reply {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
        }
    };
    tokio::time::timeout(WAIT_AT_MOST, exchange)
        .await
        .expect("h2c exchange timed out")
}

/// Writes `request` on a new connection and returns everything read until the server closes
/// it (bounded in time).
pub async fn raw_exchange(port: u16, request: &[u8]) -> String {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        stream.write_all(request).await.expect("write request");
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    tokio::time::timeout(WAIT_AT_MOST, exchange)
        .await
        .expect("the server did not close the connection")
}
