//! A backend that reports every request it receives through a channel and answers with a
//! scripted sequence of status codes: for checking what reached a backend (mirrors, retries)
//! without polling or sleeping.

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

/// What the recorder saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct Recorder {
    pub addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    _stop: DropGuard,
}

impl Recorder {
    /// Answers the first requests with `statuses` in order, then 200 with body `name`.
    pub async fn start(name: &str, statuses: &[u16]) -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind recorder");
        let addr = listener.local_addr().expect("recorder address");
        let (tx, seen) = mpsc::unbounded_channel();
        let script: Arc<Mutex<VecDeque<u16>>> = Arc::new(Mutex::new(statuses.iter().copied().collect()));
        let stop = CancellationToken::new();
        let token = stop.clone();
        let name: Bytes = Bytes::from(name.to_owned());
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    _ = token.cancelled() => return,
                    accepted = listener.accept() => match accepted { Ok(pair) => pair, Err(_) => continue },
                };
                let (tx, script, name) = (tx.clone(), script.clone(), name.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (tx, script, name) = (tx.clone(), script.clone(), name.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let _ = tx.send(Seen {
                                method: parts.method,
                                path: parts.uri.path().to_owned(),
                                headers: parts.headers,
                                body,
                            });
                            let code = script
                                .lock()
                                .map(|mut s| s.pop_front())
                                .ok()
                                .flatten()
                                .unwrap_or(200);
                            let mut resp = Response::new(Full::new(name));
                            *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Recorder {
            addr,
            seen,
            _stop: stop.drop_guard(),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next request the recorder received (fails the test after the usual wait).
    pub async fn next(&mut self) -> Seen {
        tokio::time::timeout(super::WAIT_AT_MOST, self.seen.recv())
            .await
            .expect("the backend received no request in time")
            .expect("recorder stopped")
    }

    /// Requests received so far, without waiting.
    pub fn drain(&mut self) -> Vec<Seen> {
        let mut out = Vec::new();
        while let Ok(seen) = self.seen.try_recv() {
            out.push(seen);
        }
        out
    }
}
