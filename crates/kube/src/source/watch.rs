//! One watch per resource: kube-runtime's watcher (list, then watch; relist on 410 Gone) fed
//! into the store, with our own backoff and error classification.

use super::kinds::Watched;
use super::store::Problem;
use super::Shared;
use fairlead_translate::Kind;
use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use std::sync::Arc;
use std::time::Duration;

/// Backoff between failed attempts: short at first so a blip costs little, capped at a few
/// seconds so a watch resumes (and a CRD installed later is noticed) within seconds of the API
/// server answering again. Reset by the first event after a failure.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(250);
    pub const CAP: Duration = Duration::from_secs(4);

    pub fn new() -> Self {
        Backoff { next: Self::FIRST }
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    /// The delay to wait now (with ±20% jitter, so replicas do not retry in lockstep).
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(Self::CAP);
        base.mul_f64(0.8 + 0.4 * fastrand::f64())
    }
}

/// Server-side timeout of each watch request. The client gives up on a watch that has been
/// silent for this plus 5 s (kube-runtime's idle timeout), so a connection to an API server
/// that vanished without closing it is noticed within about a minute, not five.
const WATCH_TIMEOUT_SECS: u32 = 55;

/// Runs until aborted: watcher errors never end it.
pub async fn run(client: kube::Client, watched: Watched, namespace: Option<String>, shared: Arc<Shared>) {
    let scoped = namespace.as_deref().filter(|_| watched.namespaced);
    let mut config = watcher::Config::default().timeout(WATCH_TIMEOUT_SECS);
    if let Some(selector) = watched.field_selector {
        config = config.fields(selector);
    }
    if let (Kind::Namespace, Some(ns)) = (watched.kind, namespace.as_deref()) {
        // Restricted to one namespace: only its Namespace object matters (for allowedRoutes
        // label selectors), and listing the others would need more RBAC than we ask for.
        config = config.fields(&format!("metadata.name={ns}"));
    }
    let scope = match scoped {
        Some(ns) => format!("in namespace {ns}"),
        None => "at cluster scope".to_string(),
    };
    let versions: Vec<&str> = std::iter::once(watched.version)
        .chain(watched.older_version)
        .collect();
    let mut current = 0;
    // Versions found not served since the last event: the resource is missing only when every
    // version is.
    let mut unserved = 0;
    let mut backoff = Backoff::new();
    'versions: loop {
        let version = versions.get(current).copied().unwrap_or(watched.version);
        let api_version = watched.api_version_of(version);
        let resource = watched.api_resource(version);
        let api: Api<DynamicObject> = match scoped {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let stream = watcher(api, config.clone());
        futures::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            let err = match item {
                Ok(event) => {
                    // The watcher announces every (re)list attempt with Init before asking the
                    // server anything: only what follows shows the server answered.
                    if !matches!(event, watcher::Event::Init) {
                        backoff.reset();
                        unserved = 0;
                    }
                    shared.event(watched.kind, &api_version, event);
                    continue;
                }
                Err(err) => err,
            };
            let problem = classify(&watched, &scope, &err);
            let missing = problem == Problem::NotInstalled;
            if missing {
                unserved += 1;
                current = (current + 1) % versions.len();
                if unserved < versions.len() {
                    tracing::debug!(%api_version, "not served; trying {}", versions[current]);
                    continue 'versions;
                }
                unserved = 0;
            }
            let delay = backoff.next_delay();
            match &problem {
                Problem::NotInstalled => tracing::debug!(resource = %watched.resource(), "not installed"),
                Problem::Forbidden(message) => tracing::error!("{message}"),
                Problem::Failing(message) => {
                    tracing::warn!(resource = %watched.resource(), "watch failed: {message}")
                }
            }
            shared.fail(watched.kind, problem, delay);
            tokio::time::sleep(delay).await;
            if missing && versions.len() > 1 {
                continue 'versions;
            }
        }
        // kube-runtime's watcher never ends its stream; should it, do not spin.
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// What a watcher error means for the user.
fn classify(watched: &Watched, scope: &str, err: &watcher::Error) -> Problem {
    let (verb, source) = match err {
        watcher::Error::InitialListFailed(e) => ("list", Some(e)),
        watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => ("watch", Some(e)),
        watcher::Error::WatchError(status) => {
            return match status.code {
                403 => forbidden("watch", watched, scope, &status.message),
                404 => Problem::NotInstalled,
                _ => Problem::Failing(err.to_string()),
            };
        }
        watcher::Error::NoResourceVersion => ("list", None),
    };
    match source {
        Some(kube::Error::Api(status)) if status.code == 403 => {
            forbidden(verb, watched, scope, &status.message)
        }
        Some(kube::Error::Api(status)) if status.code == 404 => Problem::NotInstalled,
        Some(e) => Problem::Failing(format!("cannot {verb} {}: {e}", watched.resource())),
        None => Problem::Failing(err.to_string()),
    }
}

fn forbidden(verb: &str, watched: &Watched, scope: &str, server: &str) -> Problem {
    Problem::Forbidden(format!(
        "cannot {verb} {} {scope}: forbidden ({server})",
        watched.resource()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_of_a_few_seconds_and_resets() {
        let mut b = Backoff::new();
        let mut last = Duration::ZERO;
        for _ in 0..10 {
            last = b.next_delay();
            assert!(last <= Backoff::CAP.mul_f64(1.2));
        }
        assert!(last >= Backoff::CAP.mul_f64(0.8), "grows to the cap: {last:?}");
        b.reset();
        assert!(b.next_delay() <= Backoff::FIRST.mul_f64(1.2));
    }
}
