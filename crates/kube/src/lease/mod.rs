//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's leaderelection
//! semantics: get/create/replace guarded by `metadata.resourceVersion` (409 on a stale one),
//! expiry judged on our own clock from when we first saw the current record, renewals every
//! retry period, stepping down when renewals fail for the renew deadline, and a release on
//! shutdown so another replica takes over at its next retry.
//!
//! Only status writes depend on the outcome: every replica watches and serves; the holder of
//! the Lease is the one that writes status. Losing the lease flips [`Election::subscribe`] to
//! `false` at once and nothing else: the task keeps campaigning until `shutdown` is cancelled.
//!
//! - this file: the public API ([`LeaseSettings`], [`Election`], [`default_identity`]) and the
//!   error type;
//! - `campaign`: the background task (acquire, renew, step down, release), its health and
//!   metrics.

mod campaign;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fairlead_admin::Health;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The health subsystem the election reports.
pub const HEALTH_SUBSYSTEM: &str = "election";

/// Where the Lease lives, who we are, and the timings (client-go's names and defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// Written to `spec.holderIdentity`; must differ between replicas.
    pub identity: String,
    /// How long a record that has stopped changing keeps others from taking the lease.
    /// Written to `spec.leaseDurationSeconds` (rounded up to whole seconds, at least 1).
    pub lease_duration: Duration,
    /// The leader steps down when no renewal succeeded for this long. Keep it below
    /// `lease_duration` (by more than `retry_period`), so the leader stops writing before
    /// anyone else may start.
    pub renew_deadline: Duration,
    /// How often the leader renews and a follower retries (followers add up to 120% jitter).
    pub retry_period: Duration,
}

impl LeaseSettings {
    /// Settings with client-go's default timings: 15 s lease, 10 s renew deadline, 2 s retry.
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        LeaseSettings {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// `ns/name`, as messages name the Lease.
    fn lease_ref(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// `lease_duration` in whole seconds, rounded up (a Lease cannot say less than 1 s).
    fn lease_duration_seconds(&self) -> i32 {
        let d = self.lease_duration;
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
    }
}

/// `$POD_NAME` when set and non-empty (the downward API gives each replica its own), otherwise
/// `<hostname>-<random suffix>`, so two processes on one host never share an identity.
/// Hostname from `/proc/sys/kernel/hostname` or `$HOSTNAME`, falling back to `fairlead`.
pub fn default_identity() -> String {
    let non_empty = |s: String| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_string())
    };
    if let Some(pod) = std::env::var("POD_NAME").ok().and_then(non_empty) {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(non_empty)
        .or_else(|| std::env::var("HOSTNAME").ok().and_then(non_empty))
        .unwrap_or_else(|| "fairlead".to_string());
    let suffix: String = (0..8)
        .map(|_| fastrand::alphanumeric().to_ascii_lowercase())
        .collect();
    format!("{host}-{suffix}")
}

/// Why one request about the Lease failed. The task logs it, reports it as Degraded health
/// and retries; it never ends the campaign.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// 403: RBAC does not let us use the Lease.
    #[error(
        "cannot {verb} leases.coordination.k8s.io in namespace {namespace}: forbidden (Lease {name}; \
         the service account needs get, create and update on leases): {message}"
    )]
    Forbidden {
        verb: &'static str,
        namespace: String,
        name: String,
        message: String,
    },
    /// Any other answer or transport error.
    #[error("cannot {verb} Lease {namespace}/{name}: {reason}")]
    Api {
        verb: &'static str,
        namespace: String,
        name: String,
        reason: String,
        #[source]
        source: kube::Error,
    },
    /// No answer in time (the API server is stalled or unreachable without a refusal).
    #[error("cannot {verb} Lease {namespace}/{name}: no answer within {after:?}")]
    Timeout {
        verb: &'static str,
        namespace: String,
        name: String,
        after: Duration,
    },
}

/// What the task and [`Election`] share: the published leadership and the metrics.
struct Shared {
    leader: watch::Sender<bool>,
    /// Set when the [`Election`] is gone, so an aborted task that is mid-poll on another
    /// thread cannot publish `true` after the handle published `false`.
    closed: AtomicBool,
    gauge: Gauge,
    transitions: Counter,
}

impl Shared {
    /// Publishes leadership; `true` is refused once the handle is gone.
    fn publish(&self, leader: bool) -> bool {
        self.leader.send_if_modified(|current| {
            if leader && self.closed.load(Ordering::SeqCst) {
                return false;
            }
            let changed = *current != leader;
            *current = leader;
            if changed && leader {
                self.transitions.inc();
            }
            self.gauge.set(i64::from(leader));
            changed
        })
    }
}

/// A running campaign for one Lease.
///
/// Dropping it (or [`Election::abort`]) aborts the task without releasing the lease, as a
/// crash would: others take over after the lease duration. For a graceful stop cancel the
/// `shutdown` token and await [`Election::stopped`], which releases the lease first.
pub struct Election {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl Election {
    /// Starts campaigning in a background tokio task (call it inside a runtime). Registers
    /// `fairlead_leader` and `fairlead_leader_transitions` in `registry` and reports the
    /// "election" subsystem in `health` (Degraded at worst: election never gates traffic).
    pub fn start(
        client: kube::Client,
        settings: LeaseSettings,
        health: Arc<Health>,
        registry: &mut Registry,
        shutdown: CancellationToken,
    ) -> Election {
        let shared = Arc::new(Shared {
            leader: watch::Sender::new(false),
            closed: AtomicBool::new(false),
            gauge: Gauge::default(),
            transitions: Counter::default(),
        });
        registry.register(
            "fairlead_leader",
            "1 while this process holds the leader Lease (and writes status), 0 otherwise",
            shared.gauge.clone(),
        );
        registry.register(
            "fairlead_leader_transitions",
            "Times this process became the holder of the leader Lease",
            shared.transitions.clone(),
        );
        let task = campaign::Campaign::new(client, settings, health, shared.clone(), shutdown);
        Election {
            shared,
            task: Some(tokio::spawn(task.run())),
        }
    }

    /// Whether this process holds the lease right now.
    pub fn is_leader(&self) -> bool {
        *self.shared.leader.borrow()
    }

    /// `true` while this process holds the lease; flips to `false` the moment it stops
    /// holding it (before the release request is sent on shutdown).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.shared.leader.subscribe()
    }

    /// Waits for the task to end after `shutdown` was cancelled; it releases the lease first
    /// when it holds it (bounded by the renew deadline).
    pub async fn stopped(mut self) {
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "the leader election task failed");
            }
        }
    }

    /// Ends the task at once without releasing the lease (what a crash does); the same as
    /// dropping the handle.
    pub fn abort(self) {
        drop(self);
    }
}

impl Drop for Election {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.shared.publish(false);
    }
}
