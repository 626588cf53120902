//! Prometheus metrics of the data plane.
//!
//! Families are registered once in [`Metrics::new`]. Label lookups (`Family::get_or_create`
//! takes a lock and hashes the labels) happen when a routing state is built; requests only touch
//! the resolved handles in [`RequestHandles`].

use http::StatusCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    listener: String,
    route: String,
    code_class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    backend: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandshakeLabels {
    port: u16,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MirrorLabels {
    backend: String,
    result: &'static str,
}

const CODE_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

fn duration_histogram() -> Histogram {
    // 1 ms .. ~32 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The proxy's metric families.
pub(crate) struct Metrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<ListenerLabels, Histogram, fn() -> Histogram>,
    connect_failures: Family<BackendLabels, Counter>,
    retries: Family<BackendLabels, Counter>,
    mirror_requests: Family<MirrorLabels, Counter>,
    handshake_errors: Family<HandshakeLabels, Counter>,
    pub(crate) certificate_expiry: Arc<CertificateExpiry>,
    table_version: Gauge,
}

impl Metrics {
    pub(crate) fn new(registry: &mut Registry) -> Metrics {
        let metrics = Metrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            connect_failures: Family::default(),
            retries: Family::default(),
            mirror_requests: Family::default(),
            handshake_errors: Family::default(),
            certificate_expiry: Arc::default(),
            table_version: Gauge::default(),
        };
        registry.register(
            "fairlead_requests",
            "Requests answered, by listener, route (empty when none matched) and status class",
            metrics.requests.clone(),
        );
        registry.register(
            "fairlead_request_duration_seconds",
            "Time from receiving a request to sending its response headers",
            metrics.duration.clone(),
        );
        registry.register(
            "fairlead_upstream_connect_failures",
            "Failed attempts to connect to a backend endpoint",
            metrics.connect_failures.clone(),
        );
        registry.register(
            "fairlead_upstream_retries",
            "Requests sent again to a backend after a retriable status or a backend request timeout",
            metrics.retries.clone(),
        );
        registry.register(
            "fairlead_mirror_requests",
            "Mirrored request copies, by mirror backend and result (sent, failed, skipped)",
            metrics.mirror_requests.clone(),
        );
        registry.register(
            "fairlead_tls_handshake_errors",
            "TLS handshakes with clients that failed, by port and reason (unknown_sni, \
             no_certificate, client_certificate, timeout, other)",
            metrics.handshake_errors.clone(),
        );
        registry.register_collector(Box::new(Arc::clone(&metrics.certificate_expiry)));
        registry.register(
            "fairlead_table_version",
            "Version of the routing table in use",
            metrics.table_version.clone(),
        );
        metrics
    }

    /// Resolves the handles for one (listener, route) pair; `route` is empty for requests that
    /// matched no route.
    pub(crate) fn request_handles(&self, listener: &str, route: &str) -> RequestHandles {
        let duration = self
            .duration
            .get_or_create(&ListenerLabels {
                listener: listener.to_owned(),
            })
            .clone();
        RequestHandles {
            requests: self.requests.clone(),
            listener: listener.into(),
            route: route.into(),
            by_class: Default::default(),
            duration,
        }
    }

    pub(crate) fn connect_failures(&self, backend: &str) -> Counter {
        self.connect_failures
            .get_or_create(&BackendLabels {
                backend: backend.to_owned(),
            })
            .clone()
    }

    /// The retry counter of one backend; its series appears with the first retry.
    pub(crate) fn retries(&self, backend: &str) -> RetryCounter {
        RetryCounter {
            family: self.retries.clone(),
            backend: backend.into(),
            counter: OnceLock::new(),
        }
    }

    /// The mirror counters of one mirror backend; each result's series appears with its first
    /// event.
    pub(crate) fn mirror_handles(&self, backend: &str) -> MirrorHandles {
        MirrorHandles {
            family: self.mirror_requests.clone(),
            backend: backend.into(),
            by_result: Default::default(),
        }
    }

    /// Counts one failed client handshake; failures are rare enough to look the labels up
    /// each time.
    pub(crate) fn handshake_error(&self, port: u16, reason: &'static str) {
        self.handshake_errors
            .get_or_create(&HandshakeLabels { port, reason })
            .inc();
    }

    pub(crate) fn set_table_version(&self, version: u64) {
        self.table_version.set(i64::try_from(version).unwrap_or(i64::MAX));
    }
}

/// The request metrics of one (listener, route). A status-class series is created on the first
/// request of that class and then kept, so a table of thousands of routes does not expose (or
/// hold in memory) five zero series per route, and requests never look labels up after the
/// first.
#[derive(Clone, Debug)]
pub(crate) struct RequestHandles {
    requests: Family<RequestLabels, Counter>,
    listener: Box<str>,
    route: Box<str>,
    by_class: [OnceLock<Counter>; 5],
    duration: Histogram,
}

impl RequestHandles {
    pub(crate) fn record(&self, status: StatusCode, elapsed: Duration) {
        // StatusCode allows 100..=999; anything past 5xx counts as a server error.
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        if let (Some(slot), Some(code_class)) = (self.by_class.get(class), CODE_CLASSES.get(class)) {
            slot.get_or_init(|| {
                self.requests
                    .get_or_create(&RequestLabels {
                        listener: self.listener.to_string(),
                        route: self.route.to_string(),
                        code_class,
                    })
                    .clone()
            })
            .inc();
        }
        self.duration.observe(elapsed.as_secs_f64());
    }
}

/// `fairlead_upstream_retries_total` for one backend, created on the first retry so backends of
/// routes that never retry expose no series.
#[derive(Debug)]
pub(crate) struct RetryCounter {
    family: Family<BackendLabels, Counter>,
    backend: Box<str>,
    counter: OnceLock<Counter>,
}

impl RetryCounter {
    pub(crate) fn inc(&self) {
        self.counter
            .get_or_init(|| {
                self.family
                    .get_or_create(&BackendLabels {
                        backend: self.backend.to_string(),
                    })
                    .clone()
            })
            .inc();
    }
}

/// What became of one mirrored copy.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MirrorResult {
    /// The mirror backend answered (whatever the status).
    Sent = 0,
    /// Connecting, sending, or the copied body failed.
    Failed = 1,
    /// Not sent: too many mirror requests in flight on this worker.
    Skipped = 2,
}

const MIRROR_RESULTS: [&str; 3] = ["sent", "failed", "skipped"];

/// `fairlead_mirror_requests_total` for one mirror backend, one lazily created series per result.
#[derive(Debug)]
pub(crate) struct MirrorHandles {
    family: Family<MirrorLabels, Counter>,
    backend: Box<str>,
    by_result: [OnceLock<Counter>; 3],
}

impl MirrorHandles {
    pub(crate) fn record(&self, result: MirrorResult) {
        let index = result as usize;
        if let (Some(slot), Some(label)) = (self.by_result.get(index), MIRROR_RESULTS.get(index)) {
            slot.get_or_init(|| {
                self.family
                    .get_or_create(&MirrorLabels {
                        backend: self.backend.to_string(),
                        result: label,
                    })
                    .clone()
            })
            .inc();
        }
    }
}

/// Seconds since the Unix epoch (negative before it, which only a broken clock gives).
pub(crate) fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// `fairlead_tls_certificate_expiry_seconds{certificate}`: seconds until each served
/// certificate's `notAfter`, computed when scraped (so the value moves with the clock without a
/// timer), from the list the last apply stored.
#[derive(Debug, Default)]
pub(crate) struct CertificateExpiry {
    /// (certificate id, notAfter as Unix seconds), sorted by id.
    not_after: Mutex<Vec<(String, i64)>>,
}

impl CertificateExpiry {
    pub(crate) fn set<'a>(&self, certificates: impl Iterator<Item = (&'a str, i64)>) {
        let list = certificates.map(|(id, t)| (id.to_owned(), t)).collect();
        *self
            .not_after
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = list;
    }
}

impl Collector for CertificateExpiry {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let not_after = self
            .not_after
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if not_after.is_empty() {
            return Ok(());
        }
        let now = unix_now();
        let mut family = encoder.encode_descriptor(
            "fairlead_tls_certificate_expiry_seconds",
            "Seconds until a served certificate expires (negative once expired), by certificate id",
            None,
            MetricType::Gauge,
        )?;
        for (id, t) in not_after.iter() {
            let labels = [("certificate", id.as_str())];
            ConstGauge::new(t.saturating_sub(now)).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
