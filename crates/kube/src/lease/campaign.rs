//! The election task: one attempt per retry period to acquire or renew the Lease, stepping
//! down when another holder shows up or renewals fail for the renew deadline, and releasing the
//! Lease on shutdown. Health and the `fairlead_leader*` metrics are kept here.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fairlead_admin::{Health, State};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{LeaseError, LeaseSettings, Shared, HEALTH_SUBSYSTEM};

/// client-go's JitterFactor for the acquire loop: a follower waits 1 to 2.2 retry periods.
const JITTER_FACTOR: f64 = 1.2;

/// What one attempt found.
#[derive(Debug)]
enum Outcome {
    /// We hold the lease (acquired or renewed).
    Leader,
    /// Someone else holds a lease that has not expired.
    Following(String),
    /// Our write lost to a concurrent one (409); the next attempt reads who won.
    LostRace,
}

pub(super) struct Campaign {
    api: Api<Lease>,
    settings: LeaseSettings,
    health: Arc<Health>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    /// The Lease as last read or written, carrying the resourceVersion our next write needs.
    current: Option<Lease>,
    /// The spec last seen and when (our clock) it was first seen in that form: a record
    /// expires `leaseDurationSeconds` after it stopped changing, never by comparing the
    /// holder's timestamps with our clock.
    observed: Option<(LeaseSpec, Instant)>,
    /// When the last successful write was sent (leader only). The send time, not the answer
    /// time, so our deadline is never later than the one others compute from what they saw.
    renewed_at: Option<Instant>,
    /// The last error logged at warn level, so a down API server logs once, not every retry.
    last_error: Option<String>,
}

/// Added to a wake-up at expiry so the attempt lands just after it, not just before.
const EXPIRY_MARGIN: Duration = Duration::from_millis(20);

fn micro_now() -> MicroTime {
    MicroTime(Timestamp::now())
}

fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// A short reason for logs and health: `409 Conflict: message` for API answers, the error's
/// own text for transport failures.
fn reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} {}: {}", s.code, s.reason, s.message),
        other => other.to_string(),
    }
}

impl Campaign {
    pub(super) fn new(
        client: kube::Client,
        settings: LeaseSettings,
        health: Arc<Health>,
        shared: Arc<Shared>,
        shutdown: CancellationToken,
    ) -> Self {
        health.set(
            HEALTH_SUBSYSTEM,
            State::Pending,
            format!("campaigning for Lease {}", settings.lease_ref()),
        );
        Campaign {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            health,
            shared,
            shutdown,
            current: None,
            observed: None,
            renewed_at: None,
            last_error: None,
        }
    }

    fn is_leader(&self) -> bool {
        *self.shared.leader.borrow()
    }

    /// When the leader must have stepped down unless a renewal succeeds before.
    fn deadline(&self) -> Option<Instant> {
        let renewed = self.renewed_at?;
        self.is_leader().then(|| renewed + self.settings.renew_deadline)
    }

    pub(super) async fn run(mut self) {
        let shutdown = self.shutdown.clone();
        let s = &self.settings;
        tracing::info!(namespace = %s.namespace, name = %s.name, identity = %s.identity, "leader election: campaigning");
        loop {
            if let Some(deadline) = self.deadline() {
                if Instant::now() >= deadline {
                    self.step_down("no renewal succeeded within the renew deadline");
                }
            }
            // A follower's attempt gets the renew deadline; a leader's must end by its own
            // deadline so a hung request cannot keep it leader past the point others take over.
            let until = self
                .deadline()
                .unwrap_or_else(|| Instant::now() + self.settings.renew_deadline);
            let result = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = self.attempt(until) => r,
            };
            self.settle(result);
            let wait = match self.deadline() {
                Some(deadline) => self
                    .settings
                    .retry_period
                    .min(deadline.saturating_duration_since(Instant::now())),
                None => {
                    let jittered = self
                        .settings
                        .retry_period
                        .mul_f64(1.0 + fastrand::f64() * JITTER_FACTOR);
                    // Wake when the holder's claim runs out rather than up to a jittered retry
                    // later: takeover after a crash then takes the lease duration, not more.
                    match self.expires_at() {
                        Some(at) if at > Instant::now() => {
                            jittered.min(at.saturating_duration_since(Instant::now()) + EXPIRY_MARGIN)
                        }
                        _ => jittered,
                    }
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.release().await;
        let s = &self.settings;
        tracing::info!(namespace = %s.namespace, name = %s.name, "leader election: stopped");
    }

    /// Publishes what an attempt found: leadership, health, logs.
    fn settle(&mut self, result: Result<Outcome, LeaseError>) {
        let lease = self.settings.lease_ref();
        let identity = self.settings.identity.clone();
        match result {
            Ok(Outcome::Leader) => {
                self.last_error = None;
                if self.shared.publish(true) {
                    tracing::info!(lease = %lease, identity = %identity, "leader election: became leader");
                }
                self.health.set(
                    HEALTH_SUBSYSTEM,
                    State::Ready,
                    format!("leader (identity {identity}) of Lease {lease}"),
                );
            }
            Ok(Outcome::Following(holder)) => {
                self.last_error = None;
                self.step_down(&format!("the Lease is held by {holder}"));
                self.health.set(
                    HEALTH_SUBSYSTEM,
                    State::Ready,
                    format!("following {holder} on Lease {lease} (identity {identity})"),
                );
            }
            Ok(Outcome::LostRace) => {
                self.last_error = None;
                self.step_down("another replica wrote the Lease first");
                self.health.set(
                    HEALTH_SUBSYSTEM,
                    State::Ready,
                    format!("following another replica on Lease {lease} (identity {identity}; it wrote the Lease first)"),
                );
            }
            Err(e) => {
                let msg = e.to_string();
                if self.last_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!(lease = %lease, identity = %identity, reason = %msg, "leader election: Lease request failed; retrying");
                } else {
                    tracing::debug!(lease = %lease, reason = %msg, "leader election: Lease request failed again");
                }
                let state = if self.is_leader() {
                    format!("leader (identity {identity}) of Lease {lease}, but renewing failed: {msg}")
                } else {
                    msg.clone()
                };
                self.health.set(HEALTH_SUBSYSTEM, State::Degraded, state);
                self.last_error = Some(msg);
            }
        }
    }

    /// Stops claiming leadership at once (status writers see `false` before anything else).
    fn step_down(&mut self, why: &str) {
        self.renewed_at = None;
        if self.shared.publish(false) {
            let s = &self.settings;
            tracing::warn!(namespace = %s.namespace, name = %s.name, identity = %s.identity, reason = why, "leader election: stepped down");
        }
    }

    /// One acquire-or-renew round, client-go's tryAcquireOrRenew. Every request ends by
    /// `until`.
    async fn attempt(&mut self, until: Instant) -> Result<Outcome, LeaseError> {
        // Fast path: the leader renews the Lease it last wrote; a 409 (someone wrote since) or
        // 404 (deleted) sends it through the full read-and-decide path below.
        if self.is_leader() {
            if let Some(mine) = self.current.clone().filter(|l| self.held_by_us(l)) {
                let sent = Instant::now();
                match self.replace(self.renewal(mine), until).await {
                    Ok(l) => return Ok(self.wrote(l, sent)),
                    Err(LeaseError::Api { source, .. })
                        if matches!(status_code(&source), Some(404 | 409)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let sent = Instant::now();
        let lease = match self
            .request("get", until, self.api.get(&self.settings.name))
            .await
        {
            Ok(l) => l,
            Err(LeaseError::Api { source, .. }) if status_code(&source) == Some(404) => {
                return self.create(until).await;
            }
            Err(e) => return Err(e),
        };
        let spec = lease.spec.clone().unwrap_or_default();
        self.observe(&spec);
        self.current = Some(lease.clone());
        let held_by = holder(&spec).map(str::to_string);
        if let Some(other) = held_by.as_ref().filter(|h| **h != self.settings.identity) {
            if !self.expired(&spec) {
                return Ok(Outcome::Following(other.clone()));
            }
        }
        let ours = held_by.as_deref() == Some(self.settings.identity.as_str());
        let now = micro_now();
        let new_spec = LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(self.settings.lease_duration_seconds()),
            acquire_time: match (ours, spec.acquire_time.clone()) {
                (true, Some(t)) => Some(t),
                _ => Some(now.clone()),
            },
            renew_time: Some(now),
            lease_transitions: Some(match ours {
                true => spec.lease_transitions.unwrap_or(0),
                false => spec.lease_transitions.unwrap_or(0).saturating_add(1),
            }),
            ..spec
        };
        let take = Lease {
            metadata: lease.metadata,
            spec: Some(new_spec),
        };
        match self.replace(take, until).await {
            Ok(l) => Ok(self.wrote(l, sent)),
            Err(LeaseError::Api { source, .. }) if status_code(&source) == Some(409) => Ok(Outcome::LostRace),
            Err(e) => Err(e),
        }
    }

    async fn create(&mut self, until: Instant) -> Result<Outcome, LeaseError> {
        let now = micro_now();
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.settings.name.clone()),
                namespace: Some(self.settings.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.settings.identity.clone()),
                lease_duration_seconds: Some(self.settings.lease_duration_seconds()),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        let sent = Instant::now();
        let pp = PostParams::default();
        match self.request("create", until, self.api.create(&pp, &lease)).await {
            Ok(l) => Ok(self.wrote(l, sent)),
            Err(LeaseError::Api { source, .. }) if status_code(&source) == Some(409) => Ok(Outcome::LostRace),
            Err(e) => Err(e),
        }
    }

    async fn replace(&self, lease: Lease, until: Instant) -> Result<Lease, LeaseError> {
        let pp = PostParams::default();
        self.request(
            "update",
            until,
            self.api.replace(&self.settings.name, &pp, &lease),
        )
        .await
    }

    /// Runs one request with a deadline and names the verb, Lease and reason on failure.
    async fn request<T>(
        &self,
        verb: &'static str,
        until: Instant,
        fut: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, LeaseError> {
        let namespace = self.settings.namespace.clone();
        let name = self.settings.name.clone();
        let after = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout_at(until, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(kube::Error::Api(s))) if s.code == 403 => Err(LeaseError::Forbidden {
                verb,
                namespace,
                name,
                message: s.message,
            }),
            Ok(Err(source)) => Err(LeaseError::Api {
                verb,
                namespace,
                name,
                reason: reason(&source),
                source,
            }),
            Err(_) => Err(LeaseError::Timeout {
                verb,
                namespace,
                name,
                after,
            }),
        }
    }

    fn held_by_us(&self, lease: &Lease) -> bool {
        lease.spec.as_ref().and_then(holder) == Some(self.settings.identity.as_str())
    }

    /// Our Lease with a fresh renewTime (and our lease duration, in case it was edited).
    fn renewal(&self, mut lease: Lease) -> Lease {
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.renew_time = Some(micro_now());
        spec.lease_duration_seconds = Some(self.settings.lease_duration_seconds());
        lease
    }

    /// Records a successful write of ours, sent at `sent`.
    fn wrote(&mut self, lease: Lease, sent: Instant) -> Outcome {
        let spec = lease.spec.clone().unwrap_or_default();
        self.observed = Some((spec, sent));
        self.current = Some(lease);
        self.renewed_at = Some(sent);
        Outcome::Leader
    }

    /// Restarts the expiry clock when the record differs from the one seen last.
    fn observe(&mut self, spec: &LeaseSpec) {
        if self.observed.as_ref().is_none_or(|(seen, _)| seen != spec) {
            self.observed = Some((spec.clone(), Instant::now()));
        }
    }

    /// The lease duration a record claims: its `leaseDurationSeconds`, ours when it names none.
    fn claimed(&self, spec: &LeaseSpec) -> Duration {
        match spec.lease_duration_seconds {
            Some(secs) if secs > 0 => Duration::from_secs(secs.unsigned_abs().into()),
            _ => self.settings.lease_duration,
        }
    }

    /// Whether the record has not changed for its claimed duration, counted from when we first
    /// saw it.
    fn expired(&self, spec: &LeaseSpec) -> bool {
        let duration = self.claimed(spec);
        self.observed
            .as_ref()
            .is_none_or(|(_, since)| since.elapsed() >= duration)
    }

    /// When the record last observed (held by someone else) expires, on our clock.
    fn expires_at(&self) -> Option<Instant> {
        let (spec, since) = self.observed.as_ref()?;
        holder(spec).filter(|h| *h != self.settings.identity)?;
        Some(*since + self.claimed(spec))
    }

    /// On shutdown: publish `false`, then hand the Lease back (empty holder, 1 s duration) so
    /// another replica takes it at its next retry instead of waiting out the lease.
    async fn release(&mut self) {
        if !self.is_leader() {
            return;
        }
        self.step_down("shutting down");
        let lease = self.settings.lease_ref();
        let until = Instant::now() + self.settings.renew_deadline;
        let mut mine = self.current.clone().filter(|l| self.held_by_us(l));
        // Two tries: a renewal cancelled by the shutdown may have landed and left our copy's
        // resourceVersion stale.
        for _ in 0..2 {
            let Some(l) = mine.take() else { break };
            let mut released = l;
            if let Some(spec) = released.spec.as_mut() {
                spec.holder_identity = None;
                spec.lease_duration_seconds = Some(1);
                spec.renew_time = Some(micro_now());
            }
            match self.replace(released, until).await {
                Ok(_) => {
                    tracing::info!(lease = %lease, identity = %self.settings.identity, "leader election: released the Lease");
                    self.health.set(
                        HEALTH_SUBSYSTEM,
                        State::Ready,
                        format!("released Lease {lease} on shutdown"),
                    );
                    return;
                }
                Err(LeaseError::Api { source, .. }) if status_code(&source) == Some(409) => {
                    match self
                        .request("get", until, self.api.get(&self.settings.name))
                        .await
                    {
                        Ok(fresh) if self.held_by_us(&fresh) => mine = Some(fresh),
                        Ok(_) => return,
                        Err(e) => {
                            tracing::warn!(lease = %lease, reason = %e, "leader election: releasing the Lease failed; others take over when it expires");
                            return;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(lease = %lease, reason = %e, "leader election: releasing the Lease failed; others take over when it expires");
                    return;
                }
            }
        }
    }
}
