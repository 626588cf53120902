//! Upstream connections, pooled per endpoint.
//!
//! Pooling per endpoint (not per Service) is what makes round-robin real: each request goes to
//! the endpoint the balancer chose, over an idle keep-alive connection to that endpoint or a
//! new one. HTTP/1.1 connections carry one request at a time and come back to the idle list
//! when hyper reports them ready again; an HTTP/2 (h2c) endpoint shares one multiplexed
//! connection. A backend reached over TLS (BackendTLSPolicy) has pools of its own: the pool key
//! holds the TLS settings, so plain and TLS connections, or connections verified differently,
//! never mix.
//!
//! Pools live in a [`PoolRegistry`] that outlives routing-table swaps: a new state picks up the
//! pools (and their warm connections) of endpoints it shares with the previous one.

use crate::body::UpstreamBody;
use crate::error::ConnectError;
use crate::upstream_tls::{TlsKey, UpstreamTlsClient};
use fairlead_route::UpstreamProtocol;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Most idle HTTP/1.1 connections kept per endpoint and worker; more are closed when they become
/// idle. Matches a busy client fan-in (the benchmarks run 256 connections) without reconnecting.
const MAX_IDLE_PER_ENDPOINT: usize = 256;

/// Connection settings shared by every pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolSettings {
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Locks a mutex, recovering from poisoning: the pool data stay consistent even if a holder
/// panicked, since every critical section is a single push/pop/replace.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Address, protocol inside, and TLS settings (none for cleartext).
type PoolKey = (SocketAddr, UpstreamProtocol, Option<TlsKey>);

/// All endpoint pools, keyed by address, protocol and TLS settings. Holds them weakly: a pool
/// lives as long as a routing state (or a request in flight) refers to it.
pub(crate) struct PoolRegistry {
    settings: PoolSettings,
    workers: usize,
    pools: Mutex<HashMap<PoolKey, Weak<EndpointPool>>>,
}

impl PoolRegistry {
    pub(crate) fn new(settings: PoolSettings, workers: usize) -> PoolRegistry {
        PoolRegistry {
            settings,
            workers: workers.max(1),
            pools: Mutex::new(HashMap::new()),
        }
    }

    /// The pool for one endpoint, shared with any live state that already uses it.
    pub(crate) fn get(
        &self,
        addr: SocketAddr,
        protocol: UpstreamProtocol,
        tls: Option<&Arc<UpstreamTlsClient>>,
    ) -> Arc<EndpointPool> {
        let key = (addr, protocol, tls.map(|t| t.key.clone()));
        let mut pools = lock(&self.pools);
        if let Some(pool) = pools.get(&key).and_then(Weak::upgrade) {
            return pool;
        }
        let pool = Arc::new(EndpointPool::new(
            addr,
            protocol,
            tls.cloned(),
            self.settings,
            self.workers,
        ));
        pools.insert(key, Arc::downgrade(&pool));
        pool
    }

    /// Forgets pools no state uses any more.
    pub(crate) fn prune(&self) {
        lock(&self.pools).retain(|_, pool| pool.strong_count() > 0);
    }

    /// Closes idle connections older than the idle timeout.
    pub(crate) fn sweep_idle(&self) {
        let live: Vec<Arc<EndpointPool>> = lock(&self.pools).values().filter_map(Weak::upgrade).collect();
        let now = Instant::now();
        for pool in live {
            pool.sweep_idle(now);
        }
    }
}

static EMPTY: WorkerConns = WorkerConns {
    idle: Mutex::new(Vec::new()),
    h2: Mutex::new(None),
};

struct Idle {
    sender: http1::SendRequest<UpstreamBody>,
    since: Instant,
}

/// Connections to one endpoint, kept per worker: a connection's task runs on the worker that
/// opened it, so only that worker uses it and no request crosses threads.
pub(crate) struct EndpointPool {
    addr: SocketAddr,
    protocol: UpstreamProtocol,
    /// Connections are TLS when set.
    tls: Option<Arc<UpstreamTlsClient>>,
    settings: PoolSettings,
    per_worker: Box<[WorkerConns]>,
}

#[derive(Default)]
struct WorkerConns {
    /// HTTP/1.1 connections ready for a request, most recently used last.
    idle: Mutex<Vec<Idle>>,
    /// The shared HTTP/2 connection, if one is open.
    h2: Mutex<Option<http2::SendRequest<UpstreamBody>>>,
}

/// A connection checked out for one request.
pub(crate) struct Checkout {
    sender: Sender,
    /// True when the connection came from the idle list (and so may have been closed by the
    /// peer meanwhile).
    pub(crate) reused: bool,
}

enum Sender {
    H1(http1::SendRequest<UpstreamBody>),
    H2(http2::SendRequest<UpstreamBody>),
}

/// Sending on a checked-out connection failed.
pub(crate) enum SendError {
    /// The request was not written; it can go to another connection.
    NotSent(Box<Request<UpstreamBody>>),
    /// The request was (maybe partly) written; it cannot be retried.
    Failed(hyper::Error),
}

impl EndpointPool {
    fn new(
        addr: SocketAddr,
        protocol: UpstreamProtocol,
        tls: Option<Arc<UpstreamTlsClient>>,
        settings: PoolSettings,
        workers: usize,
    ) -> EndpointPool {
        EndpointPool {
            addr,
            protocol,
            tls,
            settings,
            per_worker: (0..workers.max(1)).map(|_| WorkerConns::default()).collect(),
        }
    }

    /// This worker's connections (threads that are not workers share the first worker's).
    fn conns(&self) -> &WorkerConns {
        let index = crate::workers::current() % self.per_worker.len().max(1);
        // `per_worker` is never empty, so the fallback is never taken; it only avoids a panic path.
        self.per_worker
            .get(index)
            .or_else(|| self.per_worker.first())
            .unwrap_or(&EMPTY)
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A connection ready to send one request: an idle one if any (unless `fresh`), else a new
    /// one.
    pub(crate) async fn checkout(&self, fresh: bool) -> Result<Checkout, ConnectError> {
        match self.protocol {
            UpstreamProtocol::Http1 => {
                if let Some(sender) = if fresh { None } else { self.take_idle() } {
                    return Ok(Checkout {
                        sender: Sender::H1(sender),
                        reused: true,
                    });
                }
                let sender = match self.connect().await? {
                    Io::Plain(stream) => h1_handshake(self.addr, stream).await?,
                    Io::Tls(stream) => h1_handshake(self.addr, *stream).await?,
                };
                Ok(Checkout {
                    sender: Sender::H1(sender),
                    reused: false,
                })
            }
            UpstreamProtocol::H2c => {
                let shared = lock(&self.conns().h2)
                    .as_ref()
                    .filter(|s| !fresh && !s.is_closed())
                    .cloned();
                if let Some(sender) = shared {
                    return Ok(Checkout {
                        sender: Sender::H2(sender),
                        reused: true,
                    });
                }
                let sender = match self.connect().await? {
                    Io::Plain(stream) => h2_handshake(self.addr, stream).await?,
                    Io::Tls(stream) => h2_handshake(self.addr, *stream).await?,
                };
                // Concurrent first requests may each open one; the last one stays shared and the
                // others close once their requests finish.
                *lock(&self.conns().h2) = Some(sender.clone());
                Ok(Checkout {
                    sender: Sender::H2(sender),
                    reused: false,
                })
            }
        }
    }

    fn take_idle(&self) -> Option<http1::SendRequest<UpstreamBody>> {
        let mut idle = lock(&self.conns().idle);
        let now = Instant::now();
        while let Some(entry) = idle.pop() {
            if entry.sender.is_ready() && now.duration_since(entry.since) < self.settings.idle_timeout {
                return Some(entry.sender);
            }
        }
        None
    }

    fn put_idle(&self, sender: http1::SendRequest<UpstreamBody>) {
        let mut idle = lock(&self.conns().idle);
        if idle.len() < MAX_IDLE_PER_ENDPOINT {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    fn sweep_idle(&self, now: Instant) {
        let timeout = self.settings.idle_timeout;
        for conns in self.per_worker.iter() {
            lock(&conns.idle).retain(|e| !e.sender.is_closed() && now.duration_since(e.since) < timeout);
            let mut h2 = lock(&conns.h2);
            if h2.as_ref().is_some_and(http2::SendRequest::is_closed) {
                *h2 = None;
            }
        }
    }

    /// A new connection, TLS handshake included: the connect timeout bounds both.
    async fn connect(&self) -> Result<Io, ConnectError> {
        let addr = self.addr;
        let tls = match &self.tls {
            None => None,
            Some(client) => match &client.connector {
                Ok(connector) => Some(connector),
                Err(reason) => {
                    return Err(ConnectError::TlsConfig {
                        addr,
                        reason: reason.clone(),
                    })
                }
            },
        };
        let connect = async {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|source| ConnectError::Io { addr, source })?;
            // Latency matters more than packet count for proxied requests.
            let _ = stream.set_nodelay(true);
            match tls {
                None => Ok(Io::Plain(stream)),
                Some((connector, name)) => connector
                    .connect(name.clone(), stream)
                    .await
                    .map(|stream| Io::Tls(Box::new(stream)))
                    .map_err(|source| ConnectError::Tls { addr, source }),
            }
        };
        match tokio::time::timeout(self.settings.connect_timeout, connect).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Timeout { addr }),
        }
    }
}

/// A new upstream connection before HTTP runs on it.
enum Io {
    Plain(TcpStream),
    /// Boxed: the TLS state is large and most connections are plain.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// HTTP/1.1 on a new connection; the connection task runs on this worker.
async fn h1_handshake<I>(addr: SocketAddr, io: I) -> Result<http1::SendRequest<UpstreamBody>, ConnectError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(|source| ConnectError::Handshake { addr, source })?;
    tokio::spawn(async move {
        if let Err(err) = conn.with_upgrades().await {
            tracing::debug!(%addr, %err, "upstream connection ended with an error");
        }
    });
    Ok(sender)
}

/// HTTP/2 on a new connection (prior knowledge in cleartext, ALPN `h2` over TLS).
async fn h2_handshake<I>(addr: SocketAddr, io: I) -> Result<http2::SendRequest<UpstreamBody>, ConnectError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(TokioIo::new(io))
        .await
        .map_err(|source| ConnectError::Handshake { addr, source })?;
    tokio::spawn(async move {
        if let Err(err) = conn.await {
            tracing::debug!(%addr, %err, "upstream h2 connection ended with an error");
        }
    });
    Ok(sender)
}

impl Checkout {
    /// Sends `req`; on success, an HTTP/1.1 connection goes back to `pool` once hyper reports it
    /// ready for the next request (after the response body has been read).
    pub(crate) async fn send(
        self,
        pool: &Arc<EndpointPool>,
        req: Request<UpstreamBody>,
    ) -> Result<Response<Incoming>, SendError> {
        match self.sender {
            Sender::H1(mut sender) => match sender.try_send_request(req).await {
                Ok(resp) => {
                    let pool = Arc::clone(pool);
                    tokio::spawn(async move {
                        if sender.ready().await.is_ok() {
                            pool.put_idle(sender);
                        }
                    });
                    Ok(resp)
                }
                Err(mut err) => match err.take_message() {
                    Some(req) => Err(SendError::NotSent(Box::new(req))),
                    None => Err(SendError::Failed(err.into_error())),
                },
            },
            Sender::H2(mut sender) => match sender.try_send_request(req).await {
                Ok(resp) => Ok(resp),
                Err(mut err) => match err.take_message() {
                    Some(req) => Err(SendError::NotSent(Box::new(req))),
                    None => Err(SendError::Failed(err.into_error())),
                },
            },
        }
    }
}
