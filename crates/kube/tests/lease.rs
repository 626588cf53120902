//! Lease leader election against the fake API server with a real `kube::Client`: acquiring,
//! renewing, exactly one leader among candidates, takeover after a crash, release on shutdown,
//! stepping down when the API server is gone or someone else takes the Lease, RBAC denials,
//! and the default identity.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::{eventually as wait_until, LIMIT, POLL};

use fairlead_admin::{Health, State};
use fairlead_fakeapi::{FakeApi, Verb};
use fairlead_kube::lease::{default_identity, Election, LeaseSettings};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, WatchEvent, WatchParams};
use prometheus_client::registry::Registry;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const NS: &str = "fairlead-system";
const NAME: &str = "fairlead-leader";
/// Every wait in these tests ends by this deadline.
const RETRY: Duration = Duration::from_millis(200);

fn settings(identity: &str) -> LeaseSettings {
    LeaseSettings {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: RETRY,
        ..LeaseSettings::new(NS, NAME, identity)
    }
}

struct Candidate {
    id: String,
    election: Election,
    health: Arc<Health>,
    registry: Registry,
    shutdown: CancellationToken,
}

impl Candidate {
    fn start(fake: &FakeApi, id: &str) -> Candidate {
        let health = Arc::new(Health::new());
        let mut registry = Registry::default();
        let shutdown = CancellationToken::new();
        let election = Election::start(
            fake.client(),
            settings(id),
            health.clone(),
            &mut registry,
            shutdown.clone(),
        );
        Candidate {
            id: id.to_string(),
            election,
            health,
            registry,
            shutdown,
        }
    }

    fn is_leader(&self) -> bool {
        self.election.is_leader()
    }

    fn election_health(&self) -> (State, String) {
        let snap = self.health.snapshot();
        let s = snap.get("election").expect("the election subsystem is reported");
        (s.state, s.message.clone())
    }

    fn metrics(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).unwrap();
        out
    }
}

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(LIMIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {LIMIT:?} waiting for {what}"),
    }
}

/// Checks `check` every [`POLL`] for `period`.
async fn hold_for(period: Duration, mut check: impl FnMut()) {
    let start = Instant::now();
    while start.elapsed() < period {
        check();
        tokio::time::sleep(POLL).await;
    }
}

fn stored(fake: &FakeApi) -> Option<Lease> {
    fake.get_as(Some(NS), NAME)
}

fn spec(fake: &FakeApi) -> LeaseSpec {
    stored(fake)
        .expect("the Lease exists")
        .spec
        .expect("the Lease has a spec")
}

fn holder(fake: &FakeApi) -> Option<String> {
    stored(fake)?.spec?.holder_identity.filter(|h| !h.is_empty())
}

fn foreign_lease(holder: &str, duration_secs: i32) -> Lease {
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    Lease {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            namespace: Some(NS.into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(duration_secs),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: Some(5),
            ..LeaseSpec::default()
        }),
    }
}

/// Waits until exactly one of the two leads; returns (leader, follower).
async fn one_leader(a: Candidate, b: Candidate) -> (Candidate, Candidate) {
    wait_until("a leader among two candidates", || a.is_leader() || b.is_leader()).await;
    if a.is_leader() {
        (a, b)
    } else {
        (b, a)
    }
}

#[tokio::test]
async fn single_candidate_acquires_and_keeps_renewing() {
    let fake = FakeApi::start().await;
    let a = Candidate::start(&fake, "replica-a");
    // Before the first attempt completes the subsystem is Pending, not Ready.
    assert_eq!(a.election_health().0, State::Pending);
    assert!(!a.is_leader());
    let mut rx = a.election.subscribe();
    within("the leadership signal", rx.wait_for(|l| *l))
        .await
        .unwrap();
    assert!(a.is_leader());

    let first = spec(&fake);
    assert_eq!(first.holder_identity.as_deref(), Some("replica-a"));
    assert_eq!(first.lease_duration_seconds, Some(2));
    assert_eq!(first.lease_transitions, Some(0));
    assert!(first.acquire_time.is_some());
    // MicroTime on the wire: RFC 3339 with microseconds.
    let raw = fake
        .get("coordination.k8s.io/v1", "Lease", Some(NS), NAME)
        .unwrap();
    let renew = raw
        .pointer("/spec/renewTime")
        .and_then(|v| v.as_str())
        .unwrap()
        .to_string();
    let frac = renew.rsplit('.').next().unwrap();
    assert!(
        frac.len() == 7 && frac.ends_with('Z'),
        "renewTime {renew} lacks microseconds"
    );

    let renewed_past = first.renew_time.clone().unwrap();
    wait_until("a renewal", || {
        spec(&fake).renew_time.is_some_and(|t| t > renewed_past)
    })
    .await;
    let later = spec(&fake);
    assert_eq!(later.holder_identity.as_deref(), Some("replica-a"));
    assert_eq!(
        later.acquire_time, first.acquire_time,
        "a renewal is not a new acquisition"
    );
    assert_eq!(later.lease_transitions, Some(0));

    let (state, message) = a.election_health();
    assert_eq!(state, State::Ready);
    assert!(
        message.contains("leader") && message.contains("replica-a") && message.contains(NAME),
        "{message}"
    );
    let metrics = a.metrics();
    assert!(metrics.contains("fairlead_leader 1"), "{metrics}");
    assert!(
        metrics.contains("fairlead_leader_transitions_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn two_candidates_never_lead_together() {
    let fake = FakeApi::start().await;
    let (leader, follower) = one_leader(
        Candidate::start(&fake, "replica-a"),
        Candidate::start(&fake, "replica-b"),
    )
    .await;
    // Sample over several retry periods (renewals and follower retries): never both.
    hold_for(RETRY * 8, || {
        assert!(
            !(leader.is_leader() && follower.is_leader()),
            "both candidates claim the lease"
        );
    })
    .await;
    assert!(leader.is_leader() && !follower.is_leader());
    assert_eq!(holder(&fake).as_deref(), Some(leader.id.as_str()));
    wait_until("the follower's health", || {
        follower.election_health().0 == State::Ready
    })
    .await;
    let (_, message) = follower.election_health();
    assert!(message.contains(&format!("following {}", leader.id)), "{message}");
    assert!(follower.metrics().contains("fairlead_leader 0"));
}

#[tokio::test]
async fn a_crashed_leader_is_replaced_after_its_lease_expires() {
    let fake = FakeApi::start().await;
    let (leader, follower) = one_leader(
        Candidate::start(&fake, "replica-a"),
        Candidate::start(&fake, "replica-b"),
    )
    .await;
    // Every write from now on, to see the leader's last renewal and the takeover.
    let leases: Api<Lease> = Api::namespaced(fake.client(), NS);
    let wp = WatchParams::default().fields(&format!("metadata.name={NAME}"));
    let from = fake.resource_version().to_string();
    let before = spec(&fake);
    let mut events = within("the watch", leases.watch(&wp, &from))
        .await
        .unwrap()
        .boxed();

    let rx = leader.election.subscribe();
    leader.election.abort();
    assert!(!*rx.borrow(), "a dropped election still reports leadership");
    assert_eq!(
        holder(&fake).as_deref(),
        Some(leader.id.as_str()),
        "a crash released the lease"
    );
    wait_until("the follower to take over", || follower.is_leader()).await;
    let after = spec(&fake);
    assert_eq!(after.holder_identity.as_deref(), Some(follower.id.as_str()));
    assert_eq!(
        after.lease_transitions,
        Some(before.lease_transitions.unwrap_or(0) + 1)
    );

    // The follower waited out the lease: its acquisition is at least a second (the lease is
    // 2 s) after the crashed leader's last renewal. Both are written by this machine's clock.
    let mut last_renewal = before.renew_time.clone().unwrap();
    let taken_at = within("the takeover on the watch", async {
        while let Some(ev) = events.next().await {
            let Ok(WatchEvent::Modified(l)) = ev else { continue };
            let s = l.spec.unwrap_or_default();
            match s.holder_identity.as_deref() {
                Some(h) if h == leader.id => last_renewal = s.renew_time.unwrap(),
                Some(h) if h == follower.id => return s.acquire_time.unwrap(),
                _ => {}
            }
        }
        panic!("the watch ended before the takeover");
    })
    .await;
    let waited_us = taken_at.0.as_microsecond() - last_renewal.0.as_microsecond();
    assert!(
        waited_us >= 1_000_000,
        "taken over {waited_us} µs after the last renewal"
    );
}

#[tokio::test]
async fn graceful_shutdown_releases_the_lease_to_the_other_candidate() {
    let fake = FakeApi::start().await;
    let (leader, follower) = one_leader(
        Candidate::start(&fake, "replica-a"),
        Candidate::start(&fake, "replica-b"),
    )
    .await;
    let leases: Api<Lease> = Api::namespaced(fake.client(), NS);
    let wp = WatchParams::default().fields(&format!("metadata.name={NAME}"));
    let from = fake.resource_version().to_string();
    let mut events = within("the watch", leases.watch(&wp, &from))
        .await
        .unwrap()
        .boxed();

    let rx = leader.election.subscribe();
    leader.shutdown.cancel();
    within("the leader to stop", leader.election.stopped()).await;
    assert!(!*rx.borrow());

    // Every write after the shutdown, in order: a release (no holder, 1 s) before the takeover.
    let mut released = false;
    within("the takeover on the watch", async {
        while let Some(ev) = events.next().await {
            let Ok(WatchEvent::Modified(l)) = ev else { continue };
            let s = l.spec.unwrap_or_default();
            match s.holder_identity.as_deref().filter(|h| !h.is_empty()) {
                None => {
                    assert_eq!(s.lease_duration_seconds, Some(1));
                    released = true;
                }
                Some(h) if h == follower.id => break,
                Some(_) => {}
            }
        }
    })
    .await;
    assert!(released, "the lease was taken over without being released first");
    wait_until("the follower to lead", || follower.is_leader()).await;
    assert_eq!(holder(&fake).as_deref(), Some(follower.id.as_str()));
}

#[tokio::test]
async fn leader_steps_down_while_the_api_server_is_gone_and_returns_after() {
    let fake = FakeApi::start().await;
    let a = Candidate::start(&fake, "replica-a");
    let mut rx = a.election.subscribe();
    within("leadership", rx.wait_for(|l| *l)).await.unwrap();

    fake.stop().await;
    within("the step-down", rx.wait_for(|l| !*l)).await.unwrap();
    assert!(!a.is_leader());
    let (state, message) = a.election_health();
    assert_eq!(state, State::Degraded, "{message}");
    assert!(message.contains(&format!("{NS}/{NAME}")), "{message}");
    // Still not leader a few retries later: it does not reclaim without the API server.
    hold_for(RETRY * 3, || assert!(!a.is_leader())).await;
    assert!(a.metrics().contains("fairlead_leader 0"));

    fake.restart().await.unwrap();
    within("leadership again", rx.wait_for(|l| *l)).await.unwrap();
    assert_eq!(a.election_health().0, State::Ready);
    assert_eq!(holder(&fake).as_deref(), Some("replica-a"));
    // The same holder renewing is not a transition of the Lease; it is one for this process.
    assert_eq!(spec(&fake).lease_transitions, Some(0));
    assert!(a.metrics().contains("fairlead_leader_transitions_total 2"));
}

#[tokio::test]
async fn leader_steps_down_when_someone_else_overwrites_the_lease() {
    let fake = FakeApi::start().await;
    let a = Candidate::start(&fake, "replica-a");
    let mut rx = a.election.subscribe();
    within("leadership", rx.wait_for(|l| *l)).await.unwrap();

    fake.apply(&foreign_lease("intruder", 60)).unwrap();
    within("the step-down", rx.wait_for(|l| !*l)).await.unwrap();
    wait_until("the follower's health", || {
        a.election_health().1.contains("following intruder")
    })
    .await;
    assert_eq!(a.election_health().0, State::Ready);
    // It follows: the intruder's lease has not expired, so it is not overwritten.
    hold_for(RETRY * 4, || {
        assert!(!a.is_leader());
        assert_eq!(holder(&fake).as_deref(), Some("intruder"));
    })
    .await;
}

#[tokio::test]
async fn forbidden_leases_never_lead_and_degrade_without_blocking_readiness() {
    let fake = FakeApi::start().await;
    for verb in [Verb::Get, Verb::Create, Verb::Update] {
        fake.deny(verb, "leases");
    }
    let a = Candidate::start(&fake, "replica-a");
    wait_until("Degraded health", || a.election_health().0 == State::Degraded).await;
    let (_, message) = a.election_health();
    assert!(
        message.contains("leases") && message.contains("forbidden"),
        "{message}"
    );
    assert!(message.contains(NS), "{message}");
    assert!(a.health.is_ready(), "an election problem blocked readiness");
    hold_for(RETRY * 3, || assert!(!a.is_leader())).await;
    assert!(stored(&fake).is_none());

    // Granting the permission later is enough: the task never gave up.
    for verb in [Verb::Get, Verb::Create, Verb::Update] {
        fake.allow(verb, "leases");
    }
    wait_until("leadership after the grant", || a.is_leader()).await;
    assert_eq!(a.election_health().0, State::Ready);
}

#[tokio::test]
async fn forbidden_update_of_an_expired_lease_names_the_verb() {
    let fake = FakeApi::start().await;
    fake.apply(&foreign_lease("gone", 1)).unwrap();
    fake.deny(Verb::Update, "leases");
    let a = Candidate::start(&fake, "replica-a");
    wait_until("Degraded health", || a.election_health().0 == State::Degraded).await;
    let (_, message) = a.election_health();
    assert!(
        message.contains("cannot update leases.coordination.k8s.io in namespace fairlead-system: forbidden"),
        "{message}"
    );
    assert!(!a.is_leader());
    assert_eq!(holder(&fake).as_deref(), Some("gone"));
}

#[test]
fn default_identity_prefers_pod_name_and_is_unique_otherwise() {
    // The only test touching the environment.
    let saved = std::env::var_os("POD_NAME");
    std::env::set_var("POD_NAME", "fairlead-7d9f-abcde");
    assert_eq!(default_identity(), "fairlead-7d9f-abcde");
    std::env::set_var("POD_NAME", "");
    let empty = default_identity();
    assert!(!empty.is_empty() && empty != "fairlead-7d9f-abcde");
    std::env::remove_var("POD_NAME");
    let (one, two) = (default_identity(), default_identity());
    assert_ne!(one, two, "two processes on one host would share an identity");
    let host = one.rsplit_once('-').map(|(h, _)| h).unwrap();
    assert!(
        !host.is_empty() && two.starts_with(&format!("{host}-")),
        "{one} {two}"
    );
    if let Some(v) = saved {
        std::env::set_var("POD_NAME", v);
    }
}
