//! The background task: passes over the latest report, a memo of what was already brought in
//! line (so an unchanged report costs no API call), pacing, retries with backoff, route entries
//! removed when a route leaves the report, the `status` health subsystem and the metric.

use std::borrow::Cow;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use fairlead_admin::{Health, State};
use fairlead_route::{ObjectRef, ObjectStatus, StatusReport};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::api::{Outcome, StatusApi};
use super::convert::{is_route, uses_addresses, writes_status, AddressState, ResolvedAddress};
use super::metrics::{Metrics, WriteResult};
use super::ratelimit::{ObjectPacer, TokenBucket};
use super::{Addresses, StatusSettings, SUBSYSTEM};

/// First retry delay after a pass with failures; doubles per failing pass up to the cap.
const RETRY_BASE: Duration = Duration::from_millis(500);
const RETRY_CAP: Duration = Duration::from_secs(5);

/// How a pass ended.
enum PassEnd {
    /// Done; run again at this instant (paced or rate-limited objects, retries, address refresh).
    Done(Option<Instant>),
    /// A newer report or a leadership change arrived: start over with it (latest wins).
    Interrupted,
    Shutdown,
}

/// One object to bring in line in a pass.
struct Item<'a> {
    status: Cow<'a, ObjectStatus>,
    hash: u64,
    /// A route that left the report: only our parent entries are removed.
    removal: bool,
}

/// The addresses to publish, with the Service's looked up now and then.
struct AddressCache {
    source: Addresses,
    state: AddressState,
    fetched: Option<Instant>,
    refresh: Duration,
    error: Option<String>,
}

impl AddressCache {
    fn new(source: Addresses, refresh: Duration) -> Self {
        let state = match &source {
            Addresses::None => AddressState::NotConfigured,
            Addresses::Static(list) => {
                AddressState::Known(list.iter().map(|a| ResolvedAddress::parse(a)).collect())
            }
            Addresses::Service { .. } => AddressState::Unknown,
        };
        AddressCache {
            source,
            state,
            fetched: None,
            refresh,
            error: None,
        }
    }

    /// When the Service should be read again (`None` when addresses do not come from one).
    fn due(&self) -> Option<Instant> {
        match (&self.source, self.fetched) {
            (Addresses::Service { .. }, Some(at)) => Some(at + self.refresh),
            (Addresses::Service { .. }, None) => Some(Instant::now()),
            _ => None,
        }
    }

    async fn refresh_if_due(&mut self, api: &StatusApi) {
        let Addresses::Service { namespace, name } = &self.source else {
            return;
        };
        // After a failed read, every (backed-off) retry pass reads again.
        if self.error.is_none() && self.due().is_some_and(|at| at > Instant::now()) {
            return;
        }
        match api.service_addresses(namespace, name).await {
            Ok(list) => {
                self.state = AddressState::Known(list);
                self.error = None;
            }
            // The last addresses read stay published: a failed read says nothing about them.
            Err(e) => self.error = Some(e.to_string()),
        }
        self.fetched = Some(Instant::now());
    }
}

pub(crate) struct Writer {
    api: StatusApi,
    controller_name: String,
    health: Arc<Health>,
    metrics: Metrics,
    bucket: TokenBucket,
    pacer: ObjectPacer<ObjectRef>,
    addresses: AddressCache,
    /// Desired-status hash per object last brought in line while leader.
    memo: HashMap<ObjectRef, u64>,
    /// Desired-status hash per object in the last report seen (leader or not).
    seen: HashMap<ObjectRef, u64>,
    /// Last error per object not yet brought in line.
    failures: BTreeMap<ObjectRef, String>,
    /// Routes in the last report, to notice the ones that leave it.
    known_routes: BTreeSet<ObjectRef>,
    /// Routes that left the report and may still carry our parent entries.
    removals: BTreeSet<ObjectRef>,
    failed_passes: u32,
    was_leader: bool,
}

impl Writer {
    pub(crate) fn new(
        client: kube::Client,
        settings: StatusSettings,
        health: Arc<Health>,
        metrics: Metrics,
    ) -> Self {
        Writer {
            api: StatusApi::new(client),
            controller_name: settings.controller_name,
            health,
            metrics,
            bucket: TokenBucket::new(settings.writes_per_second, settings.burst, Instant::now()),
            pacer: ObjectPacer::new(settings.min_object_interval),
            addresses: AddressCache::new(settings.addresses, settings.address_refresh),
            memo: HashMap::new(),
            seen: HashMap::new(),
            failures: BTreeMap::new(),
            known_routes: BTreeSet::new(),
            removals: BTreeSet::new(),
            failed_passes: 0,
            was_leader: false,
        }
    }

    pub(crate) async fn run(
        mut self,
        mut reports: watch::Receiver<Option<Arc<StatusReport>>>,
        mut leader: watch::Receiver<bool>,
        shutdown: CancellationToken,
    ) {
        let (mut reports_open, mut leader_open) = (true, true);
        let mut wake: Option<Instant> = None;
        let mut run_now = true;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if run_now || wake.is_some_and(|w| w <= Instant::now()) {
                run_now = false;
                match self.pass(&mut reports, &mut leader, &shutdown).await {
                    PassEnd::Done(next) => wake = next,
                    PassEnd::Interrupted => {
                        run_now = true;
                        continue;
                    }
                    PassEnd::Shutdown => break,
                }
            }
            let sleep = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                changed = reports.changed(), if reports_open => match changed {
                    Ok(()) => run_now = true,
                    Err(_) => reports_open = false,
                },
                changed = leader.changed(), if leader_open => match changed {
                    Ok(()) => run_now = true,
                    Err(_) => leader_open = false,
                },
                () = sleep => {}
            }
        }
        tracing::debug!("status writer stopped");
    }

    async fn pass(
        &mut self,
        reports: &mut watch::Receiver<Option<Arc<StatusReport>>>,
        leader: &mut watch::Receiver<bool>,
        shutdown: &CancellationToken,
    ) -> PassEnd {
        let report = reports.borrow_and_update().clone();
        let is_leader = *leader.borrow_and_update();
        if is_leader != self.was_leader {
            // A new leader compares everything once: the previous one may have written
            // something else. A former leader's failures are no longer its problem.
            self.memo.clear();
            self.failures.clear();
            self.failed_passes = 0;
            self.addresses.fetched = None;
            self.was_leader = is_leader;
        }
        let Some(report) = report else {
            return PassEnd::Done(None);
        };
        self.track_routes(&report);
        if !is_leader {
            // Removing our entries from routes that left the report is the leader's job.
            self.removals.clear();
        }
        if is_leader {
            let refresh = self.addresses.refresh_if_due(&self.api);
            tokio::select! {
                () = refresh => {}
                () = shutdown.cancelled() => return PassEnd::Shutdown,
            }
        }
        let items = self.items(&report);

        if !is_leader {
            for item in &items {
                if self.seen.get(&item.status.object) != Some(&item.hash) {
                    self.metrics.count(&item.status.object.kind, WriteResult::Skipped);
                }
            }
            self.seen = items.iter().map(|i| (i.status.object.clone(), i.hash)).collect();
            self.health
                .set(SUBSYSTEM, State::Ready, "not leader: writes skipped");
            return PassEnd::Done(None);
        }
        self.seen = items.iter().map(|i| (i.status.object.clone(), i.hash)).collect();

        let mut wake = self.addresses.due();
        let mut waiting = 0usize;
        let mut synced = 0usize;
        let addresses = self.addresses.state.clone();
        for item in &items {
            let key = &item.status.object;
            if !item.removal && self.memo.get(key) == Some(&item.hash) {
                continue;
            }
            if shutdown.is_cancelled() {
                return PassEnd::Shutdown;
            }
            // Leadership lost: not one more write. A newer report: start over with it, but
            // only after this pass did some work, so a fast stream of reports cannot starve it.
            if !*leader.borrow() || (synced > 0 && reports.has_changed().unwrap_or(false)) {
                return PassEnd::Interrupted;
            }
            let now = Instant::now();
            if let Some(at) = self.pacer.ready_at(key, now) {
                wake = earliest(wake, at);
                waiting += 1;
                continue;
            }
            if let Err(delay) = self.bucket.try_take(now) {
                wake = earliest(wake, now + delay);
                waiting += 1;
                continue;
            }
            self.pacer.record(key, now);
            synced += 1;
            let kind = key.kind.as_str();
            let metrics = &self.metrics;
            let sync = self
                .api
                .sync(&item.status, &self.controller_name, &addresses, || {
                    metrics.count(kind, WriteResult::Conflict)
                });
            let result = tokio::select! {
                r = sync => r,
                () = shutdown.cancelled() => return PassEnd::Shutdown,
            };
            match result {
                Ok(outcome) => {
                    let counted = match outcome {
                        Outcome::Written => WriteResult::Written,
                        Outcome::Unchanged => WriteResult::Unchanged,
                        Outcome::Gone => WriteResult::Skipped,
                    };
                    self.metrics.count(kind, counted);
                    tracing::debug!(object = %key, ?outcome, "status brought in line");
                    self.failures.remove(key);
                    if item.removal {
                        self.removals.remove(key);
                    } else {
                        self.memo.insert(key.clone(), item.hash);
                    }
                }
                Err(e) => {
                    self.metrics.count(kind, WriteResult::Error);
                    tracing::warn!(object = %key, error = %e, "status write failed; retrying later");
                    self.memo.remove(key);
                    self.failures.insert(key.clone(), e.to_string());
                }
            }
        }

        let live: HashSet<&ObjectRef> = items.iter().map(|i| &i.status.object).collect();
        self.memo.retain(|k, _| live.contains(k));
        self.failures.retain(|k, _| live.contains(k));
        self.pacer.retain(|k| live.contains(k));
        let in_sync = items
            .iter()
            .filter(|i| !i.removal && self.memo.get(&i.status.object) == Some(&i.hash))
            .count();
        wake = self.report_health(in_sync, waiting, wake);
        PassEnd::Done(wake)
    }

    /// Sets the health subsystem; with failures, also schedules the retry (returned as the
    /// new wake-up instant).
    fn report_health(&mut self, in_sync: usize, waiting: usize, wake: Option<Instant>) -> Option<Instant> {
        let problems: Vec<&String> = self
            .addresses
            .error
            .iter()
            .chain(self.failures.values())
            .collect();
        let Some(first) = problems.first() else {
            self.failed_passes = 0;
            let mut message = format!("leader: {in_sync} objects in sync");
            if waiting > 0 {
                message.push_str(&format!(", {waiting} waiting for the write rate limit"));
            }
            self.health.set(SUBSYSTEM, State::Ready, message);
            return wake;
        };
        let mut message = (*first).clone();
        if problems.len() > 1 {
            message.push_str(&format!(" (and {} more failures)", problems.len() - 1));
        }
        // Degraded, not Failed: status problems never affect traffic.
        self.health.set(SUBSYSTEM, State::Degraded, message);
        self.failed_passes = self.failed_passes.saturating_add(1);
        earliest(wake, Instant::now() + retry_delay(self.failed_passes))
    }

    /// Notices routes that left the report (their parent entries of ours must go) and routes
    /// that came back (nothing to remove any more).
    fn track_routes(&mut self, report: &StatusReport) {
        let now: BTreeSet<ObjectRef> = report
            .objects
            .iter()
            .filter(|o| is_route(&o.object.kind))
            .map(|o| o.object.clone())
            .collect();
        for gone in self.known_routes.difference(&now) {
            self.removals.insert(gone.clone());
        }
        self.removals.retain(|r| !now.contains(r));
        self.known_routes = now;
    }

    /// The objects whose status we manage in this report, plus pending route removals.
    fn items<'a>(&self, report: &'a StatusReport) -> Vec<Item<'a>> {
        let addresses = &self.addresses.state;
        let reported = report
            .objects
            .iter()
            .filter(|o| writes_status(&o.object.kind))
            // Ingress status is only the addresses: nothing to write until they are known.
            .filter(|o| o.object.kind != "Ingress" || matches!(addresses, AddressState::Known(_)))
            .map(|o| Item {
                hash: desired_hash(o, addresses),
                status: Cow::Borrowed(o),
                removal: false,
            });
        let removals = self.removals.iter().map(|r| {
            let status = ObjectStatus {
                object: r.clone(),
                ..ObjectStatus::default()
            };
            Item {
                hash: desired_hash(&status, addresses),
                status: Cow::Owned(status),
                removal: true,
            }
        });
        reported.chain(removals).collect()
    }
}

fn desired_hash(object: &ObjectStatus, addresses: &AddressState) -> u64 {
    let mut h = DefaultHasher::new();
    object.hash(&mut h);
    if uses_addresses(&object.object.kind) {
        addresses.hash(&mut h);
    }
    h.finish()
}

fn earliest(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// Doubling from [`RETRY_BASE`] per failing pass, capped, with ±20% jitter.
fn retry_delay(failed_passes: u32) -> Duration {
    let doublings = failed_passes.saturating_sub(1).min(16);
    let base = RETRY_BASE.saturating_mul(1u32 << doublings).min(RETRY_CAP);
    base.mul_f64(0.8 + fastrand::f64() * 0.4)
}
