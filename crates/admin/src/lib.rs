//! fairlead-admin: the admin HTTP server — `/healthz` (liveness), `/readyz` (readiness from the
//! subsystem registry), `/status` (subsystems, table version, object counts and every object's
//! computed conditions), `/routes` (the routing config in use, stably ordered) and `/metrics`
//! (Prometheus text).
//!
//! Sources publish a [`Snapshot`] after every rebuild; the admin server only reads it.

mod health;

pub use fairlead_route::rfc3339;
pub use health::{Health, State, SubsystemStatus};

use arc_swap::ArcSwap;
use bytes::Bytes;
use fairlead_route::{Config, StatusReport};
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What the last rebuild produced, as shown by `/status` and `/routes`.
#[derive(Debug, Default, Serialize)]
pub struct Snapshot {
    /// Version of the routing table in use.
    pub version: u64,
    /// Number of objects per kind the source holds.
    pub object_counts: BTreeMap<String, usize>,
    /// Problems the source found before translation (unparsable documents, unreadable files).
    pub source_errors: Vec<String>,
    /// Routes the compiler left out, with the reason.
    pub compile_errors: Vec<String>,
    /// Certificates and CA bundles the proxy could not use, and whether their previous version
    /// keeps serving.
    pub tls_problems: Vec<String>,
    /// Computed conditions of every object.
    pub status: StatusReport,
    #[serde(skip)]
    pub config: Config,
}

/// Shared state of the admin server.
pub struct Admin {
    pub health: Arc<Health>,
    snapshot: ArcSwap<Snapshot>,
    registry: Registry,
}

impl Admin {
    /// `registry` holds every metric of the process; it is only read from here on.
    pub fn new(health: Arc<Health>, registry: Registry) -> Arc<Self> {
        Arc::new(Admin {
            health,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            registry,
        })
    }

    pub fn publish(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    fn respond(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        if method != Method::GET && method != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        }
        match path {
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/readyz" => {
                if self.health.is_ready() {
                    text(StatusCode::OK, "ready\n")
                } else {
                    text(StatusCode::SERVICE_UNAVAILABLE, "not ready: see /status\n")
                }
            }
            "/status" => {
                let snap = self.snapshot.load();
                let body = serde_json::json!({
                    "ready": self.health.is_ready(),
                    "subsystems": self.health.snapshot(),
                    "version": snap.version,
                    "object_counts": snap.object_counts,
                    "source_errors": snap.source_errors,
                    "compile_errors": snap.compile_errors,
                    "tls_problems": snap.tls_problems,
                    "objects": snap.status.objects,
                });
                json(&body)
            }
            "/routes" => json(&self.snapshot.load().config),
            "/metrics" => {
                let mut out = String::new();
                match prometheus_client::encoding::text::encode(&mut out, &self.registry) {
                    Ok(()) => {
                        let mut resp = Response::new(Full::new(Bytes::from(out)));
                        resp.headers_mut().insert(
                            header::CONTENT_TYPE,
                            header::HeaderValue::from_static(
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            ),
                        );
                        resp
                    }
                    Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed\n"),
                }
            }
            _ => text(
                StatusCode::NOT_FOUND,
                "not found: try /healthz /readyz /status /routes /metrics\n",
            ),
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn json<T: Serialize>(value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec_pretty(value) {
        Ok(mut body) => {
            body.push(b'\n');
            let mut resp = Response::new(Full::new(Bytes::from(body)));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "serialization failed\n"),
    }
}

/// Serves the admin endpoints on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: tokio::net::TcpListener, admin: Arc<Admin>, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::debug!(%err, "admin accept failed");
                    continue;
                }
            },
        };
        let admin = admin.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let resp = admin.respond(req.method(), req.uri().path());
                async move { Ok::<_, Infallible>(resp) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            tokio::select! {
                _ = builder.serve_connection(TokioIo::new(stream), service) => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests;
