//! The Kubernetes source: one watch per resource translation reads, kept in a store of parsed
//! objects; a change counter tells the consumer when to rebuild, and [`debounced`] turns a burst
//! of events into one rebuild.
//!
//! Each watch reports itself to the health registry as `watch <resource>`: Pending until its
//! first list, Ready, Degraded (CRD not installed; watch interrupted after a first list, the
//! last objects keep serving), or Failed (RBAC forbids it). `gateway-api` sums up the Gateway
//! API CRDs.

mod kinds;
mod metrics;
mod store;
mod watch;

pub use kinds::{Watched, WATCHED};
pub use store::Problem;

use fairlead_admin::Health;
use fairlead_translate::{Kind, ResourceSet};
use kube::runtime::watcher::Event;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use store::Store;
use tokio::sync::watch as channel;
use tokio::task::JoinHandle;

/// What to watch.
#[derive(Debug, Clone, Default)]
pub struct SourceSettings {
    /// Restricts namespaced kinds to this namespace (`--watch-namespace`).
    pub namespace: Option<String>,
}

/// Every current object, for one translation.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub resources: ResourceSet,
    /// Objects per kind.
    pub counts: BTreeMap<String, usize>,
    /// Objects that failed to parse (their last good version is in `resources`).
    pub errors: Vec<String>,
}

/// State shared by the watch tasks and the consumer.
pub(crate) struct Shared {
    store: Mutex<Store>,
    /// Bumped on every change of objects or watch state.
    changes: channel::Sender<u64>,
    health: Arc<Health>,
    metrics: metrics::WatchMetrics,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves a store that is still consistent per call.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn event(&self, kind: Kind, api_version: &str, event: Event<kube::api::DynamicObject>) {
        if let Some(watched) = WATCHED.iter().find(|w| w.kind == kind) {
            self.metrics.event(&watched.resource(), &event);
        }
        let mut store = self.lock();
        let before = store.kinds.get(&kind).map(|s| (s.synced_once, s.problem.clone()));
        let changed = match event {
            Event::Init => {
                store.init(kind);
                false
            }
            Event::InitApply(object) => {
                store.apply(kind, api_version, object, true);
                false
            }
            Event::InitDone => {
                store.init_done(kind);
                true
            }
            Event::Apply(object) => {
                store.apply(kind, api_version, object, false);
                true
            }
            Event::Delete(object) => {
                store.delete(kind, &object);
                true
            }
        };
        let after = store.kinds.get(&kind).map(|s| (s.synced_once, s.problem.clone()));
        if changed || before != after {
            store.report(&self.health, None);
            drop(store);
            self.changes.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    fn fail(&self, kind: Kind, problem: Problem, retry: Duration) {
        if let Some(watched) = WATCHED.iter().find(|w| w.kind == kind) {
            self.metrics.error(&watched.resource(), &problem);
        }
        let mut store = self.lock();
        store.fail(kind, problem);
        store.report(&self.health, Some((kind, retry)));
        drop(store);
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The running watches. Dropping it stops them.
pub struct KubeSource {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl KubeSource {
    /// Starts one watch per resource in [`WATCHED`]. Registers the watch metrics in
    /// `registry`.
    pub fn start(
        client: kube::Client,
        settings: SourceSettings,
        health: Arc<Health>,
        registry: &mut Registry,
    ) -> KubeSource {
        let (changes, _) = channel::channel(0);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new()),
            changes,
            health,
            metrics: metrics::WatchMetrics::new(registry),
        });
        shared.lock().report(&shared.health, None);
        let tasks = WATCHED
            .iter()
            .map(|w| {
                tokio::spawn(watch::run(
                    client.clone(),
                    *w,
                    settings.namespace.clone(),
                    shared.clone(),
                ))
            })
            .collect();
        KubeSource { shared, tasks }
    }

    /// A receiver that sees every change (objects or watch states).
    pub fn changes(&self) -> channel::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// Every watch finished its first list, or is known never to deliver one (CRD not
    /// installed, forbidden): a table built now is complete.
    pub fn settled(&self) -> bool {
        self.shared.lock().settled()
    }

    pub fn snapshot(&self) -> Snapshot {
        let (resources, counts, errors) = self.shared.lock().snapshot();
        Snapshot {
            resources,
            counts,
            errors,
        }
    }
}

impl Drop for KubeSource {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Waits for a change, then until `quiet` passes without another one or `ceiling` has passed
/// since the first: a burst of 1,000 events becomes a handful of rebuilds, and a steady stream
/// still gets one at least every `ceiling`. Returns false when the source is gone.
pub async fn debounced(changes: &mut channel::Receiver<u64>, quiet: Duration, ceiling: Duration) -> bool {
    if changes.changed().await.is_err() {
        return false;
    }
    let deadline = tokio::time::Instant::now() + ceiling;
    loop {
        let quiet_until = (tokio::time::Instant::now() + quiet).min(deadline);
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return true;
                }
                if tokio::time::Instant::now() >= deadline {
                    return true;
                }
            }
            _ = tokio::time::sleep_until(quiet_until) => return true,
        }
    }
}

/// The quiet window and ceiling `serve --kubernetes` uses.
pub const DEBOUNCE_QUIET: Duration = Duration::from_millis(20);
pub const DEBOUNCE_CEILING: Duration = Duration::from_millis(200);
