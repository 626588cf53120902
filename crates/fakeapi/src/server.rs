//! The HTTP side: accept loop, path routing, fault checks and the verb handlers that turn
//! requests into store operations and store results into the real server's JSON shapes.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::discovery;
use crate::error::ApiError;
use crate::faults::{Faults, Verb};
use crate::kinds::KindInfo;
use crate::query::{parse_path, Query, Route, Target};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{render, PatchKind, Preconditions, Store, Sub};
use crate::watch::{start_watch, WatchBody, WatchFrom, WatchRequest};

/// Request bodies above this are refused; nothing a test sends comes close.
const MAX_BODY: usize = 32 << 20;

pub(crate) type RespBody = UnsyncBoxBody<Bytes, Infallible>;

/// State shared by the handle and every connection; survives stop and restart.
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub faults: Mutex<Faults>,
    pub stall: watch::Sender<bool>,
    pub bookmark_interval: Option<Duration>,
    pub user: String,
    pub addr: SocketAddr,
}

/// Locks a mutex; a panic elsewhere while holding it leaves plain data, still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Binds with `SO_REUSEADDR` so a restart can take the same port back at once.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves until the returned task is aborted; aborting it closes the listener and every
/// connection (the connection tasks live in the accept task's `JoinSet`).
pub(crate) fn serve(listener: TcpListener, shared: Arc<Shared>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        conns.spawn(serve_conn(stream, shared.clone()));
                    }
                    Err(e) => tracing::debug!(error = %e, "fakeapi accept failed"),
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    })
}

async fn serve_conn(stream: TcpStream, shared: Arc<Shared>) {
    let svc = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(shared, req).await) }
    });
    // HTTP/1.1 only, as kube-client speaks it; an HTTP/2 connection would spawn stream tasks
    // outside the JoinSet and survive a stop.
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

fn full(code: StatusCode, v: &Value) -> Response<RespBody> {
    let mut r = Response::new(
        Full::new(Bytes::from(v.to_string()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = code;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn ok(v: &Value) -> Response<RespBody> {
    full(StatusCode::OK, v)
}

fn error(e: &ApiError) -> Response<RespBody> {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    full(code, &e.to_status())
}

async fn wait_unstalled(shared: &Shared) {
    let mut rx = shared.stall.subscribe();
    // Err means the sender is gone, which cannot stall anyone any more.
    let _ = rx.wait_for(|stalled| !*stalled).await;
}

async fn handle(shared: Arc<Shared>, req: hyper::Request<Incoming>) -> Response<RespBody> {
    let (parts, body) = req.into_parts();
    let query = Query::parse(parts.uri.query().unwrap_or(""));
    match parse_path(parts.uri.path()) {
        Route::Resource(t) => {
            let content_type = parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            match resource(&shared, &parts.method, &t, &query, body, &content_type).await {
                Ok(r) => r,
                Err(e) => error(&e),
            }
        }
        other => {
            wait_unstalled(&shared).await;
            discovery_response(&shared, other)
        }
    }
}

fn discovery_response(shared: &Shared, route: Route) -> Response<RespBody> {
    let faults = lock(&shared.faults);
    let store = lock(&shared.store);
    let installed = |g: &str| faults.group_installed(g);
    let doc = match route {
        Route::Core => Some(discovery::core_versions(&shared.addr.to_string())),
        Route::Groups => discovery::groups(&store.registry, installed, None),
        Route::Group(g) if installed(g.as_str()) => discovery::groups(&store.registry, installed, Some(&g)),
        Route::GroupVersion(g, v) if installed(g.as_str()) => discovery::resources(&store.registry, &g, &v),
        Route::Version => Some(discovery::version()),
        _ => None,
    };
    match doc {
        Some(d) => ok(&d),
        None => error(&ApiError::no_resource()),
    }
}

fn verb_of(method: &Method, t: &Target, query: &Query) -> Result<Verb, ApiError> {
    let named = t.name.is_some();
    let verb = match (method.as_str(), named) {
        ("GET", true) => Verb::Get,
        ("GET", false) if query.flag("watch") => Verb::Watch,
        ("GET", false) => Verb::List,
        ("POST", false) => Verb::Create,
        ("PUT", true) => Verb::Update,
        ("PATCH", true) => Verb::Patch,
        ("DELETE", true) => Verb::Delete,
        ("DELETE", false) => Verb::DeleteCollection,
        (m, _) => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({m})"
            )))
        }
    };
    if t.status && !matches!(verb, Verb::Get | Verb::Update | Verb::Patch) {
        return Err(ApiError::method_not_allowed(format!(
            "the status subresource does not allow {verb}"
        )));
    }
    Ok(verb)
}

/// Checks faults and scope, then runs the verb.
async fn resource(
    shared: &Arc<Shared>,
    method: &Method,
    t: &Target,
    query: &Query,
    body: Incoming,
    content_type: &str,
) -> Result<Response<RespBody>, ApiError> {
    let verb = verb_of(method, t, query)?;
    let resource = if t.status {
        format!("{}/status", t.plural)
    } else {
        t.plural.clone()
    };
    lock(&shared.faults).count(verb, &resource);
    wait_unstalled(shared).await;
    {
        let faults = lock(&shared.faults);
        if faults.is_denied(verb, &resource) {
            let qualified = if t.group.is_empty() {
                t.plural.clone()
            } else {
                format!("{}.{}", t.plural, t.group)
            };
            return Err(ApiError::forbidden(
                &shared.user,
                verb.as_str(),
                &t.group,
                &resource,
                &qualified,
                t.name.as_deref(),
                t.namespace.as_deref(),
            ));
        }
        if !faults.group_installed(&t.group) {
            return Err(ApiError::no_resource());
        }
    }
    let kind = lock(&shared.store)
        .registry
        .by_path(&t.group, &t.version, &t.plural)
        .copied()
        .ok_or_else(ApiError::no_resource)?;
    let scope_ok = match (kind.namespaced, t.namespace.is_some()) {
        (false, true) => false,
        (true, false) => matches!(verb, Verb::List | Verb::Watch | Verb::DeleteCollection),
        _ => true,
    };
    if !scope_ok || (t.status && !kind.status_subresource) {
        return Err(ApiError::no_resource());
    }
    if query.get("dryRun").is_some() {
        return Err(ApiError::bad_request(
            "dryRun is not supported by the fake API server",
        ));
    }
    let ns = t.namespace.as_deref();
    let name = t.name.as_deref().unwrap_or("");
    let sub = if t.status { Sub::Status } else { Sub::Main };
    match verb {
        Verb::Get => {
            let store = lock(&shared.store);
            let obj = store
                .get(&kind, ns, name)
                .ok_or_else(|| ApiError::not_found(&kind, name))?;
            Ok(ok(&render(obj, &kind, &t.version)))
        }
        Verb::List => {
            let (labels, fields) = selectors(query, &kind)?;
            let store = lock(&shared.store);
            let items = store.list(&kind, ns, &labels, &fields);
            Ok(ok(&list_doc(&kind, &t.version, store.rv, items)))
        }
        Verb::Watch => watch(shared, &kind, t, query),
        Verb::Create => {
            let obj = parse_json(&read_body(body).await?)?;
            let created = lock(&shared.store).create(&kind, ns, obj, crate::store::Origin::Client)?;
            Ok(full(StatusCode::CREATED, &render(&created, &kind, &t.version)))
        }
        Verb::Update => {
            let obj = parse_json(&read_body(body).await?)?;
            let updated =
                lock(&shared.store).update(&kind, ns, name, obj, sub, crate::store::Origin::Client)?;
            Ok(ok(&render(&updated, &kind, &t.version)))
        }
        Verb::Patch => {
            let patch_kind = patch_kind(content_type)?;
            if patch_kind == PatchKind::Apply && query.get("fieldManager").is_none_or(str::is_empty) {
                return Err(ApiError::invalid(
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                ));
            }
            let raw = read_body(body).await?;
            let patch = match patch_kind {
                PatchKind::Apply => parse_yaml_or_json(&raw)?,
                _ => parse_json(&raw)?,
            };
            let (obj, created) = lock(&shared.store).patch(&kind, ns, name, patch_kind, patch, sub)?;
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(full(code, &render(&obj, &kind, &t.version)))
        }
        Verb::Delete => {
            let pre = preconditions(&read_body(body).await?)?;
            let deleted = lock(&shared.store).delete(&kind, ns, name, &pre)?;
            Ok(ok(&render(&deleted, &kind, &t.version)))
        }
        Verb::DeleteCollection => {
            let (labels, fields) = selectors(query, &kind)?;
            let mut store = lock(&shared.store);
            let keys: Vec<(Option<String>, String)> = store
                .list(&kind, ns, &labels, &fields)
                .into_iter()
                .map(|o| {
                    let ns = o
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .map(String::from);
                    let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
                    (ns, name.to_string())
                })
                .collect();
            let mut deleted = Vec::new();
            for (ns, name) in keys {
                deleted.push(store.delete(&kind, ns.as_deref(), &name, &Preconditions::default())?);
            }
            let rv = store.rv;
            Ok(ok(&list_doc(&kind, &t.version, rv, deleted.iter().collect())))
        }
    }
}

fn selectors(query: &Query, kind: &KindInfo) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels =
        LabelSelector::parse(query.get("labelSelector").unwrap_or("")).map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(query.get("fieldSelector").unwrap_or(""), kind)
        .map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

fn list_doc(kind: &KindInfo, version: &str, rv: u64, items: Vec<&Value>) -> Value {
    json!({
        "apiVersion": kind.api_version(version),
        "kind": format!("{}List", kind.kind),
        "metadata": { "resourceVersion": rv.to_string() },
        "items": items.into_iter().map(|o| render(o, kind, version)).collect::<Vec<_>>(),
    })
}

fn watch(
    shared: &Arc<Shared>,
    kind: &KindInfo,
    t: &Target,
    query: &Query,
) -> Result<Response<RespBody>, ApiError> {
    let (labels, fields) = selectors(query, kind)?;
    let from = match query.get("resourceVersion").unwrap_or("") {
        "" | "0" if query.flag("sendInitialEvents") => WatchFrom::InitialEvents,
        "" | "0" => WatchFrom::Now,
        rv => WatchFrom::Since(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?,
        ),
    };
    let timeout = match query.get("timeoutSeconds") {
        Some(s) => Some(Duration::from_secs(s.parse().map_err(|_| {
            ApiError::bad_request(format!("invalid timeoutSeconds: {s:?}"))
        })?)),
        None => None,
    };
    let bookmarks = query
        .flag("allowWatchBookmarks")
        .then_some(shared.bookmark_interval)
        .flatten();
    let req = WatchRequest {
        kind: *kind,
        version: t.version.clone(),
        namespace: t.namespace.clone(),
        labels,
        fields,
        from,
    };
    let started = start_watch(&mut lock(&shared.store), req);
    let body = match started {
        Ok((id, rx)) => WatchBody::new(shared.clone(), id, rx, timeout, bookmarks),
        // The real server answers a too-old version with 200 and an ERROR event in the stream.
        Err(e) => WatchBody::error(shared.clone(), &e),
    };
    let mut r = Response::new(body.boxed_unsync());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large()),
        Err(e) => Err(ApiError::bad_request(format!(
            "reading the request body failed: {e}"
        ))),
    }
}

fn parse_json(raw: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(raw)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

fn parse_yaml_or_json(raw: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(raw).or_else(|_| {
        yaml_serde::from_slice(raw)
            .map_err(|e| ApiError::bad_request(format!("the apply body is not valid YAML: {e}")))
    })
}

fn patch_kind(content_type: &str) -> Result<PatchKind, ApiError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    match media {
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/apply-patch+yaml" => Ok(PatchKind::Apply),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

fn preconditions(raw: &[u8]) -> Result<Preconditions, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(Preconditions::default());
    }
    let opts = parse_json(raw)?;
    let get = |f: &str| {
        opts.pointer(&format!("/preconditions/{f}"))
            .and_then(Value::as_str)
            .map(String::from)
    };
    Ok(Preconditions {
        uid: get("uid"),
        resource_version: get("resourceVersion"),
    })
}
