//! The compiled backends of a route: weighted choice between backends and round-robin over a
//! Service's endpoints.

use crate::config::{Backend, BackendTarget, Filter, UpstreamProtocol};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The weighted backends of a route.
#[derive(Debug)]
pub struct Backends {
    backends: Vec<CompiledBackend>,
    /// Running sum of weights, parallel to `backends`, so a pick is a binary search.
    cumulative: Vec<u32>,
    total: u32,
}

#[derive(Debug)]
pub struct CompiledBackend {
    pub weight: u32,
    pub target: CompiledTarget,
    /// backendRef-level filters, applied when this backend is picked.
    pub filters: Vec<Filter>,
}

#[derive(Debug)]
pub enum CompiledTarget {
    Service(ServiceTarget),
    Invalid { reason: String },
}

#[derive(Debug)]
pub struct ServiceTarget {
    pub name: String,
    pub protocol: UpstreamProtocol,
    pub endpoints: Vec<SocketAddr>,
    /// Round-robin cursor.
    pub next: AtomicUsize,
}

impl Backends {
    /// Compiles a route's backends. The total weight saturates at `u32::MAX`; backends whose
    /// share starts beyond that are never picked (Gateway API caps a weight at 1,000,000, so this
    /// needs thousands of backends).
    pub fn compile(backends: &[Backend]) -> Backends {
        let mut total: u32 = 0;
        let mut cumulative = Vec::with_capacity(backends.len());
        let mut compiled = Vec::with_capacity(backends.len());
        for backend in backends {
            total = total.saturating_add(backend.weight);
            cumulative.push(total);
            compiled.push(CompiledBackend {
                weight: backend.weight,
                target: CompiledTarget::compile(&backend.target),
                filters: backend.filters.clone(),
            });
        }
        Backends {
            backends: compiled,
            cumulative,
            total,
        }
    }

    pub fn total_weight(&self) -> u32 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// Picks a backend given `r` uniformly random in `0..total_weight()`; weight-0 backends are
    /// never picked. `None` when the total weight is 0 (or `r` is out of range).
    pub fn pick(&self, r: u32) -> Option<&CompiledBackend> {
        if r >= self.total {
            return None;
        }
        // The first backend whose running sum exceeds `r`. A weight-0 backend has the same sum as
        // the one before it, so it can never be the first to exceed `r`.
        let index = self.cumulative.partition_point(|&sum| sum <= r);
        self.backends.get(index)
    }

    pub fn iter(&self) -> impl Iterator<Item = &CompiledBackend> {
        self.backends.iter()
    }
}

impl CompiledTarget {
    fn compile(target: &BackendTarget) -> CompiledTarget {
        match target {
            BackendTarget::Service(service) => CompiledTarget::Service(ServiceTarget {
                name: service.name.clone(),
                protocol: service.protocol,
                endpoints: service.endpoints.clone(),
                next: AtomicUsize::new(0),
            }),
            BackendTarget::Invalid { reason } => CompiledTarget::Invalid {
                reason: reason.clone(),
            },
        }
    }
}

impl ServiceTarget {
    /// Next endpoint in round-robin order, `None` when there are none.
    pub fn next_endpoint(&self) -> Option<SocketAddr> {
        let len = self.endpoints.len();
        if len == 0 {
            return None;
        }
        // Relaxed: the cursor only spreads load; it orders no other memory. Wrapping of the
        // counter at usize::MAX only skews one round.
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.endpoints.get(n % len).copied()
    }
}
