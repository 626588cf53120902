//! Watches: the retained event history, the open watchers and the streaming response body.
//!
//! Events are sent to watchers while the store lock is held, so every watcher sees events in
//! `resourceVersion` order, and a bookmark (also sent under the lock) never overtakes an event.
//! A watcher's selector is applied to both the old and the new object of a modification, so an
//! object that starts matching arrives as ADDED and one that stops matching as DELETED, as on
//! the real server.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, Sleep};

use crate::error::ApiError;
use crate::kinds::KindInfo;
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::Shared;
use crate::store::{render, Store};

/// The kind of change an event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

struct HistEvent {
    rv: u64,
    group: &'static str,
    plural: &'static str,
    etype: EventType,
    object: Value,
    old: Option<Value>,
}

/// The last `cap` events of all kinds, like etcd's compacted history: one global sequence.
pub(crate) struct History {
    events: VecDeque<HistEvent>,
    cap: usize,
    /// The highest `resourceVersion` no longer retained; a watch must start at or after it.
    compacted: u64,
}

impl History {
    pub(crate) fn new(cap: usize) -> Self {
        History {
            events: VecDeque::new(),
            cap,
            compacted: 0,
        }
    }

    pub(crate) fn push(
        &mut self,
        rv: u64,
        kind: &KindInfo,
        etype: EventType,
        object: Value,
        old: Option<Value>,
    ) {
        self.events.push_back(HistEvent {
            rv,
            group: kind.group,
            plural: kind.plural,
            etype,
            object,
            old,
        });
        while self.events.len() > self.cap {
            if let Some(e) = self.events.pop_front() {
                self.compacted = e.rv;
            }
        }
    }

    /// Forgets every event up to `rv`, so a watch from an older version gets 410 Gone.
    pub(crate) fn compact(&mut self, rv: u64) {
        self.events.retain(|e| e.rv > rv);
        self.compacted = self.compacted.max(rv);
    }
}

struct Watcher {
    kind: KindInfo,
    version: String,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    tx: mpsc::UnboundedSender<Bytes>,
}

fn event_line(etype: &str, object: &Value) -> Bytes {
    let mut line = json!({ "type": etype, "object": object }).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn bookmark_line(kind: &KindInfo, version: &str, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({ "resourceVersion": rv.to_string() });
    if initial_end {
        meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    event_line(
        "BOOKMARK",
        &json!({ "apiVersion": kind.api_version(version), "kind": kind.kind, "metadata": meta }),
    )
}

impl Watcher {
    fn matches(&self, obj: &Value) -> bool {
        let ns_ok = self
            .namespace
            .as_deref()
            .is_none_or(|want| obj.pointer("/metadata/namespace").and_then(Value::as_str) == Some(want));
        ns_ok && self.labels.matches(obj) && self.fields.matches(obj)
    }

    fn line_for(&self, etype: EventType, object: &Value, old: Option<&Value>) -> Option<Bytes> {
        let now = self.matches(object);
        let before = old.map(|o| self.matches(o));
        let t = match (etype, before, now) {
            (EventType::Added, _, true) => "ADDED",
            (EventType::Modified, Some(true), true) => "MODIFIED",
            (EventType::Modified, Some(false) | None, true) => "ADDED",
            (EventType::Modified, Some(true), false) => "DELETED",
            (EventType::Deleted, _, true) => "DELETED",
            _ => return None,
        };
        Some(event_line(t, &render(object, &self.kind, &self.version)))
    }
}

/// The open watches.
#[derive(Default)]
pub(crate) struct Watchers {
    map: HashMap<u64, Watcher>,
    next: u64,
}

impl Watchers {
    pub(crate) fn notify(&mut self, kind: &KindInfo, etype: EventType, object: &Value, old: Option<&Value>) {
        self.map.retain(|_, w| {
            if w.kind.group != kind.group || w.kind.plural != kind.plural {
                return true;
            }
            match w.line_for(etype, object, old) {
                // A failed send means the body is gone; forget the watcher.
                Some(line) => w.tx.send(line).is_ok(),
                None => true,
            }
        });
    }

    pub(crate) fn remove(&mut self, id: u64) {
        self.map.remove(&id);
    }

    /// Ends every open watch (their streams finish after what is already queued).
    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }

    /// Ends the open watches of one API group.
    pub(crate) fn close_group(&mut self, group: &str) {
        self.map.retain(|_, w| w.kind.group != group);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    fn bookmark(&self, id: u64, rv: u64) {
        if let Some(w) = self.map.get(&id) {
            let _ = w.tx.send(bookmark_line(&w.kind, &w.version, rv, false));
        }
    }
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchFrom {
    /// No `resourceVersion` or `"0"`: synthetic ADDED for every current object, then changes.
    Now,
    /// `sendInitialEvents=true`: like `Now`, then a bookmark marking the end of initial events.
    InitialEvents,
    /// Changes after this `resourceVersion`, replayed from history.
    Since(u64),
}

pub(crate) struct WatchRequest {
    pub kind: KindInfo,
    pub version: String,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub from: WatchFrom,
}

/// Registers a watch and queues its initial events. A start older than the history gives the
/// 410 error the caller streams as an ERROR event.
pub(crate) fn start_watch(
    store: &mut Store,
    req: WatchRequest,
) -> Result<(u64, mpsc::UnboundedReceiver<Bytes>), ApiError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let w = Watcher {
        kind: req.kind,
        version: req.version,
        namespace: req.namespace,
        labels: req.labels,
        fields: req.fields,
        tx,
    };
    match req.from {
        WatchFrom::Now | WatchFrom::InitialEvents => {
            let all = LabelSelector::default();
            let none = FieldSelector::default();
            for obj in store.list(&w.kind, w.namespace.as_deref(), &all, &none) {
                if let Some(line) = w.line_for(EventType::Added, obj, None) {
                    let _ = w.tx.send(line);
                }
            }
            if req.from == WatchFrom::InitialEvents {
                let _ = w.tx.send(bookmark_line(&w.kind, &w.version, store.rv, true));
            }
        }
        WatchFrom::Since(rv) => {
            let h = &store.history;
            if rv < h.compacted {
                return Err(ApiError::gone(rv, h.compacted + 1));
            }
            for e in h.events.iter().filter(|e| e.rv > rv) {
                if e.group == w.kind.group && e.plural == w.kind.plural {
                    if let Some(line) = w.line_for(e.etype, &e.object, e.old.as_ref()) {
                        let _ = w.tx.send(line);
                    }
                }
            }
        }
    }
    let id = store.watchers.next;
    store.watchers.next += 1;
    store.watchers.map.insert(id, w);
    Ok((id, rx))
}

/// The streaming body of a watch response: newline-delimited JSON events until the watch is
/// dropped, its `timeoutSeconds` passes, or the client goes away (which unregisters it).
pub(crate) struct WatchBody {
    rx: mpsc::UnboundedReceiver<Bytes>,
    deadline: Option<Pin<Box<Sleep>>>,
    bookmarks: Option<Interval>,
    shared: Arc<Shared>,
    id: Option<u64>,
}

impl WatchBody {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: u64,
        rx: mpsc::UnboundedReceiver<Bytes>,
        timeout: Option<Duration>,
        bookmark_every: Option<Duration>,
    ) -> Self {
        WatchBody {
            rx,
            deadline: timeout.map(|t| Box::pin(tokio::time::sleep(t))),
            bookmarks: bookmark_every
                .filter(|d| !d.is_zero())
                .map(|d| tokio::time::interval_at(Instant::now() + d, d)),
            shared,
            id: Some(id),
        }
    }

    /// A watch that sends one ERROR event (the real server's answer to a too-old version).
    pub(crate) fn error(shared: Arc<Shared>, err: &ApiError) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(event_line("ERROR", &err.to_status()));
        WatchBody {
            rx,
            deadline: None,
            bookmarks: None,
            shared,
            id: None,
        }
    }
}

impl Body for WatchBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        loop {
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(line)) => return Poll::Ready(Some(Ok(Frame::data(line)))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {}
            }
            if let Some(d) = &mut this.deadline {
                if d.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
            }
            if let (Some(iv), Some(id)) = (&mut this.bookmarks, this.id) {
                if iv.poll_tick(cx).is_ready() {
                    let store = crate::server::lock(&this.shared.store);
                    store.watchers.bookmark(id, store.rv);
                    continue;
                }
            }
            return Poll::Pending;
        }
    }
}

impl Drop for WatchBody {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            crate::server::lock(&self.shared.store).watchers.remove(id);
        }
    }
}
