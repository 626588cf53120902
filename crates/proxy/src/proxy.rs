//! [`Proxy`]: publishes routing states (with their TLS store) and owns the listening sockets, the
//! upstream pools and the metrics.

use crate::filters::BuildCtx;
use crate::listener::{self, ListenerHandle};
use crate::metrics::{unix_now, Metrics};
use crate::mirror::{MirrorSlots, MAX_IN_FLIGHT_PER_WORKER};
use crate::pool::{PoolRegistry, PoolSettings};
use crate::state::State;
use crate::upstream_tls::{UpstreamTlsCache, UpstreamTlsClients};
use crate::workers::Workers;
use crate::{ApplyReport, ProxyOptions};
use arc_swap::ArcSwap;
use fairlead_route::{Config, ListenerProtocol, Table, TlsMaterial};
use fairlead_tls::{TlsOptions, TlsStore};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Longest a client may take to send the header block of a request.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the listener and request tasks share.
pub(crate) struct Shared {
    pub(crate) state: ArcSwap<State>,
    pub(crate) metrics: Metrics,
    pub(crate) pools: Arc<PoolRegistry>,
    /// Mirror copies in flight, per worker.
    pub(crate) mirror_slots: Arc<MirrorSlots>,
    pub(crate) access_log: bool,
    /// Cleartext connections: HTTP/1.1 or h2c, told apart by the first bytes.
    pub(crate) server: auto::Builder<TokioExecutor>,
    /// TLS connections, where ALPN already chose the protocol.
    pub(crate) tls_http1: auto::Builder<TokioExecutor>,
    pub(crate) tls_http2: auto::Builder<TokioExecutor>,
    /// Cancelled by `shutdown`: listeners stop accepting, connections drain.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled when `shutdown` returns: upgraded (tunnelled) connections are cut.
    pub(crate) hard_stop: CancellationToken,
    /// Accept loops and connection tasks, awaited by `shutdown`.
    pub(crate) tracker: TaskTracker,
    /// The threads requests are served on.
    pub(crate) workers: Workers,
}

/// The L7 data plane: listeners on every port of the routing table, forwarding to backends.
pub struct Proxy {
    shared: Arc<Shared>,
    bind_address: std::net::IpAddr,
    /// Served ports. Also serializes `apply`.
    listeners: Mutex<BTreeMap<u16, ListenerHandle>>,
    sweeper_started: AtomicBool,
    tls_options: TlsOptions,
    /// Backend TLS clients of the published state, reused by the next build when unchanged.
    upstream_tls: Mutex<UpstreamTlsClients>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Proxy {
    /// Creates a proxy serving nothing yet, starts its worker threads and registers its metrics
    /// in `registry`. Fails only when a worker thread or runtime cannot be created.
    pub fn new(opts: ProxyOptions, registry: &mut Registry) -> std::io::Result<Arc<Proxy>> {
        let workers = match opts.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let hard_stop = CancellationToken::new();
        let workers = Workers::start(workers, &hard_stop)?;
        let metrics = Metrics::new(registry);
        let pools = Arc::new(PoolRegistry::new(
            PoolSettings {
                connect_timeout: opts.connect_timeout,
                idle_timeout: opts.upstream_idle_timeout,
            },
            workers.count(),
        ));
        let tls_options = TlsOptions {
            min_version: opts.tls_min_version,
            ..TlsOptions::default()
        };
        let empty_config = Config::default();
        let (empty, _) = Table::compile(&empty_config);
        let (no_tls, _) = TlsStore::build(
            &empty_config,
            &TlsMaterial::default(),
            None,
            &tls_options,
            unix_now(),
        );
        let no_material = TlsMaterial::default();
        let upstream_tls = UpstreamTlsCache::new(&no_material, UpstreamTlsClients::default());
        let ctx = BuildCtx {
            metrics: &metrics,
            pools: &pools,
            upstream_tls: &upstream_tls,
        };
        let state = State::build(empty, &empty_config, no_tls, &ctx);
        let mut server = auto::Builder::new(TokioExecutor::new());
        server
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        server.http2().timer(TokioTimer::new());
        Ok(Arc::new(Proxy {
            shared: Arc::new(Shared {
                state: ArcSwap::from_pointee(state),
                metrics,
                pools,
                mirror_slots: Arc::new(MirrorSlots::new(workers.count(), MAX_IN_FLIGHT_PER_WORKER)),
                access_log: opts.access_log,
                tls_http1: server.clone().http1_only(),
                tls_http2: server.clone().http2_only(),
                server,
                shutdown: CancellationToken::new(),
                hard_stop,
                tracker: TaskTracker::new(),
                workers,
            }),
            bind_address: opts.bind_address,
            listeners: Mutex::new(BTreeMap::new()),
            sweeper_started: AtomicBool::new(false),
            tls_options,
            upstream_tls: Mutex::new(UpstreamTlsClients::default()),
        }))
    }

    /// Compiles `config` into a table, builds the per-route state (metric handles, endpoint
    /// pools, backend TLS configs) and the TLS store of the HTTPS ports from `material`, swaps
    /// both in with one atomic store, binds ports that are new and stops accepting on ports no
    /// longer present (connections in progress finish). A certificate whose new material is
    /// unusable keeps its last good version and is reported in `tls_problems`.
    pub fn apply(&self, config: &Config, material: &TlsMaterial) -> ApplyReport {
        let mut listeners = lock(&self.listeners);
        let shared = &self.shared;
        let (table, compile_errors) = Table::compile(config);
        let version = table.version();
        let ports = table.ports();
        let (tls, tls_problems) = TlsStore::build(
            config,
            material,
            Some(&shared.state.load().tls),
            &self.tls_options,
            unix_now(),
        );
        shared
            .metrics
            .certificate_expiry
            .set(tls.certificates().map(|(id, info)| (id, info.not_after_unix)));
        let state = {
            let mut clients = lock(&self.upstream_tls);
            let upstream_tls = UpstreamTlsCache::new(material, std::mem::take(&mut *clients));
            let ctx = BuildCtx {
                metrics: &shared.metrics,
                pools: &shared.pools,
                upstream_tls: &upstream_tls,
            };
            let state = State::build(table, config, tls, &ctx);
            *clients = upstream_tls.into_built();
            state
        };
        shared.state.store(Arc::new(state));
        shared.metrics.set_table_version(version);
        self.start_sweeper();

        // Per port: TLS when any of its listeners is HTTPS.
        let mut wanted: BTreeMap<u16, bool> = BTreeMap::new();
        for (port, protocol) in ports {
            *wanted.entry(port).or_default() |= protocol == ListenerProtocol::Https;
        }
        listeners.retain(|port, handle| {
            // A port that switches between cleartext and TLS gets a new accept loop.
            let keep = wanted.get(port) == Some(&handle.tls);
            if !keep {
                handle.stop();
            }
            keep
        });
        let mut bind_errors = Vec::new();
        for (port, tls) in wanted {
            if listeners.contains_key(&port) || shared.shutdown.is_cancelled() {
                continue;
            }
            match listener::start(shared, SocketAddr::new(self.bind_address, port), tls) {
                Ok(handle) => {
                    tracing::info!(port, addr = %handle.local_addr, tls, "listening");
                    listeners.insert(port, handle);
                }
                Err(err) => bind_errors.push((port, listener::describe_bind_error(&err))),
            }
        }
        shared.pools.prune();
        ApplyReport {
            version,
            compile_errors,
            bound: listeners.keys().copied().collect(),
            bind_errors,
            tls_problems,
        }
    }

    /// Version of the routing table in use.
    pub fn version(&self) -> u64 {
        self.shared.state.load().table.version()
    }

    /// The address a port is being served on (useful when the bind address is unspecified).
    pub fn local_addr(&self, port: u16) -> Option<SocketAddr> {
        lock(&self.listeners).get(&port).map(|l| l.local_addr)
    }

    /// Stops accepting, lets in-flight requests finish for at most `grace`, then returns;
    /// tunnelled (upgraded) connections are closed then.
    pub async fn shutdown(&self, grace: Duration) {
        let shared = &self.shared;
        shared.shutdown.cancel();
        lock(&self.listeners).clear();
        shared.tracker.close();
        if tokio::time::timeout(grace, shared.tracker.wait()).await.is_err() {
            tracing::warn!(?grace, "shutdown grace elapsed with requests still in flight");
        }
        shared.hard_stop.cancel();
    }

    /// Starts the task closing upstream connections that idled past their timeout.
    fn start_sweeper(&self) {
        if self.sweeper_started.swap(true, Ordering::Relaxed) {
            return;
        }
        let pools: Weak<PoolRegistry> = Arc::downgrade(&self.shared.pools);
        let stop = self.shared.hard_stop.clone();
        let period = SWEEP_PERIOD;
        self.shared.workers.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(period) => {}
                }
                match pools.upgrade() {
                    Some(pools) => pools.sweep_idle(),
                    None => return,
                }
            }
        });
    }
}

/// How often idle upstream connections are checked against their timeout.
const SWEEP_PERIOD: Duration = Duration::from_secs(5);

impl Drop for Proxy {
    fn drop(&mut self) {
        // Listener tasks hold the shared state; without this they would serve forever.
        self.shared.shutdown.cancel();
        self.shared.hard_stop.cancel();
    }
}
