//! The test's handle: start, stop and restart the server, build a `kube::Client` for it, read
//! and write objects directly (bypassing HTTP and the fault switches), and flip faults.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::ApiError;
use crate::faults::{Faults, Verb};
use crate::kinds::{KindInfo, Registry, DEFAULT_KINDS};
use crate::server::{bind, lock, serve, Shared};
use crate::store::{Origin, Preconditions, Store, Sub};

/// The user named in 403 messages.
pub const DEFAULT_USER: &str = "system:serviceaccount:fairlead-system:fairlead";

/// Options for [`FakeApi`].
#[derive(Clone, Debug)]
pub struct Builder {
    history: usize,
    bookmark_interval: Option<Duration>,
    kinds: Vec<KindInfo>,
    user: String,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            history: 1000,
            bookmark_interval: Some(Duration::from_secs(60)),
            kinds: DEFAULT_KINDS.to_vec(),
            user: DEFAULT_USER.to_string(),
        }
    }
}

impl Builder {
    /// How many events (of all kinds together) are kept for watches that resume from a
    /// `resourceVersion`; older starts get 410 Gone. Default 1000.
    pub fn history(mut self, events: usize) -> Self {
        self.history = events;
        self
    }

    /// How often a watch that allows bookmarks gets one (`None`: never). Default 60 s, like
    /// the real server's roughly once a minute.
    pub fn bookmark_interval(mut self, every: Option<Duration>) -> Self {
        self.bookmark_interval = every;
        self
    }

    /// Registers one more kind.
    pub fn kind(mut self, kind: KindInfo) -> Self {
        self.kinds.push(kind);
        self
    }

    /// Serves `kind` instead of the registered kind of the same group and kind name (e.g.
    /// BackendTLSPolicy with only `v1alpha3`, as a cluster with older CRDs serves it).
    pub fn replace_kind(mut self, kind: KindInfo) -> Self {
        self.kinds
            .retain(|k| !(k.group == kind.group && k.kind == kind.kind));
        self.kinds.push(kind);
        self
    }

    /// The user named in 403 messages.
    pub fn user(mut self, user: &str) -> Self {
        self.user = user.to_string();
        self
    }

    /// Binds 127.0.0.1 on a free port and starts serving.
    pub async fn start(self) -> io::Result<FakeApi> {
        let listener = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let addr = listener.local_addr()?;
        let (stall, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(Registry::new(self.kinds), self.history)),
            faults: Mutex::new(Faults::default()),
            stall,
            bookmark_interval: self.bookmark_interval,
            user: self.user,
            addr,
        });
        let task = serve(listener, shared.clone());
        Ok(FakeApi {
            shared,
            addr,
            task: Mutex::new(Some(task)),
        })
    }
}

/// A running fake API server. Dropping it stops the server.
pub struct FakeApi {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
    }
}

fn kind_for(store: &Store, obj: &Value) -> Result<KindInfo, ApiError> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    store
        .registry
        .by_type(api_version, kind)
        .map(|(k, _)| *k)
        .ok_or_else(|| unknown(api_version, kind))
}

fn unknown(api_version: &str, kind: &str) -> ApiError {
    ApiError::bad_request(format!(
        "no kind {kind:?} in {api_version:?} is registered with the fake API server"
    ))
}

impl FakeApi {
    /// Starts a server with the default options on 127.0.0.1 and a free port.
    ///
    /// # Panics
    /// When no port on 127.0.0.1 can be bound; use [`Builder::start`] to handle that.
    pub async fn start() -> FakeApi {
        match Builder::default().start().await {
            Ok(f) => f,
            Err(e) => panic!("fake API server: binding 127.0.0.1:0 failed: {e}"),
        }
    }

    /// Options for a server.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The address served (kept across restarts).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client for this server: plain HTTP, no credentials, default namespace `default`.
    pub fn try_client(&self) -> Result<kube::Client, kube::Error> {
        let uri: http::Uri = self
            .url()
            .parse()
            .map_err(|e: http::uri::InvalidUri| kube::Error::HttpError(e.into()))?;
        kube::Client::try_from(kube::Config::new(uri))
    }

    /// Like [`FakeApi::try_client`].
    ///
    /// # Panics
    /// When kube cannot build a client (its TLS setup failed even though no TLS is used).
    pub fn client(&self) -> kube::Client {
        match self.try_client() {
            Ok(c) => c,
            Err(e) => panic!("fake API server: building a kube::Client failed: {e}"),
        }
    }

    /// Creates the object, or replaces it whole (status included, no resourceVersion check)
    /// when it exists. Namespaced objects without a namespace go to `default`. Returns the
    /// stored object.
    pub fn apply<T: Serialize>(&self, obj: &T) -> Result<Value, ApiError> {
        let obj = serde_json::to_value(obj)
            .map_err(|e| ApiError::bad_request(format!("the object does not serialize: {e}")))?;
        let mut store = lock(&self.shared.store);
        let kind = kind_for(&store, &obj)?;
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
            .to_string();
        let ns = kind.namespaced.then_some(ns.as_str());
        let name = obj.pointer("/metadata/name").and_then(Value::as_str);
        match name {
            Some(n) if store.get(&kind, ns, n).is_some() => {
                let n = n.to_string();
                store.update(&kind, ns, &n, obj, Sub::Main, Origin::Handle)
            }
            _ => store.create(&kind, ns, obj, Origin::Handle),
        }
    }

    /// The stored object, `apiVersion` as asked.
    pub fn get(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let store = lock(&self.shared.store);
        let (k, version) = store.registry.by_type(api_version, kind)?;
        store
            .get(k, namespace.filter(|_| k.namespaced), name)
            .map(|o| crate::store::render(o, k, &version))
    }

    /// The stored object as a typed value (`None` when missing or not of that type).
    pub fn get_as<K>(&self, namespace: Option<&str>, name: &str) -> Option<K>
    where
        K: kube::Resource<DynamicType = ()> + DeserializeOwned,
    {
        let obj = self.get(&K::api_version(&()), &K::kind(&()), namespace, name)?;
        serde_json::from_value(obj).ok()
    }

    /// Deletes the object (watchers see DELETED); returns it.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let mut store = lock(&self.shared.store);
        let k = store
            .registry
            .by_type(api_version, kind)
            .map(|(k, _)| *k)
            .ok_or_else(|| unknown(api_version, kind))?;
        store.delete(
            &k,
            namespace.filter(|_| k.namespaced),
            name,
            &Preconditions::default(),
        )
    }

    /// The current global `resourceVersion`.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.store).rv
    }

    /// Forgets the whole event history, so any watch resuming from an older version gets 410.
    pub fn compact(&self) {
        let mut store = lock(&self.shared.store);
        let rv = store.rv;
        store.history.compact(rv);
    }

    /// Answers (verb, resource) with 403 Forbidden from now on. `resource` is the plural or
    /// `plural/status`; [`crate::ANY_RESOURCE`] denies the verb on everything.
    pub fn deny(&self, verb: Verb, resource: &str) {
        lock(&self.shared.faults).set_denied(verb, resource, true);
    }

    /// Undoes [`FakeApi::deny`].
    pub fn allow(&self, verb: Verb, resource: &str) {
        lock(&self.shared.faults).set_denied(verb, resource, false);
    }

    /// Switches an API group's "CRD installed" state. Uninstalled: its paths answer 404, it
    /// is absent from discovery and its open watches end. Objects stay stored (the handle can
    /// still write them) and reappear when the group is installed again.
    pub fn set_group_installed(&self, group: &str, installed: bool) {
        lock(&self.shared.faults).set_group_installed(group, installed);
        if !installed {
            lock(&self.shared.store).watchers.close_group(group);
        }
    }

    /// Ends every open watch stream; clients see a clean end of stream and usually re-watch.
    pub fn drop_watches(&self) {
        lock(&self.shared.store).watchers.clear();
    }

    /// Open watch streams.
    pub fn open_watches(&self) -> usize {
        lock(&self.shared.store).watchers.len()
    }

    /// While on, every new request (discovery included) is held unanswered; turning it off
    /// lets them through. Open watch streams keep flowing.
    pub fn stall(&self, on: bool) {
        self.shared.stall.send_replace(on);
    }

    /// Stops serving: closes the listener and every connection (watch streams end without a
    /// final event). Objects, history and faults are kept for [`FakeApi::restart`].
    pub async fn stop(&self) {
        let task = lock(&self.task).take();
        if let Some(t) = task {
            t.abort();
            // Waits for the accept task to be dropped, which closes the listener.
            let _ = t.await;
        }
        lock(&self.shared.store).watchers.clear();
    }

    /// Serves again on the same port with the same state (stopping first if still running).
    pub async fn restart(&self) -> io::Result<()> {
        self.stop().await;
        let listener = bind(self.addr)?;
        *lock(&self.task) = Some(serve(listener, self.shared.clone()));
        Ok(())
    }

    /// Requests received for (verb, resource), answered or not (denied and stalled ones
    /// included). `resource` as in [`FakeApi::deny`]; [`crate::ANY_RESOURCE`] sums them all.
    pub fn requests(&self, verb: Verb, resource: &str) -> u64 {
        lock(&self.shared.faults).requests(verb, resource)
    }

    /// Zeroes the request counters.
    pub fn reset_requests(&self) {
        lock(&self.shared.faults).reset_counts();
    }
}
