//! `fairlead_watch_events{resource, event}` and `fairlead_watch_errors{resource, reason}`: how
//! busy each watch is and why it fails, for dashboards and alerts.

use super::store::Problem;
use kube::runtime::watcher::Event;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    resource: String,
    /// `listed` (one object of a list), `applied`, `deleted`, `relisted` (a list completed).
    event: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    resource: String,
    /// `not_installed`, `forbidden` or `failing`.
    reason: &'static str,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct WatchMetrics {
    events: Family<EventLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
}

impl WatchMetrics {
    pub(crate) fn new(registry: &mut Registry) -> Self {
        let metrics = WatchMetrics::default();
        registry.register(
            "fairlead_watch_events",
            "Objects received from the API server, by resource and event (listed, applied, \
             deleted) and completed lists (relisted)",
            metrics.events.clone(),
        );
        registry.register(
            "fairlead_watch_errors",
            "Failed list or watch attempts, by resource and reason (not_installed, forbidden, \
             failing)",
            metrics.errors.clone(),
        );
        metrics
    }

    pub(crate) fn event<K>(&self, resource: &str, event: &Event<K>) {
        let event = match event {
            Event::Init => return,
            Event::InitApply(_) => "listed",
            Event::InitDone => "relisted",
            Event::Apply(_) => "applied",
            Event::Delete(_) => "deleted",
        };
        self.events
            .get_or_create(&EventLabels {
                resource: resource.to_string(),
                event,
            })
            .inc();
    }

    pub(crate) fn error(&self, resource: &str, problem: &Problem) {
        let reason = match problem {
            Problem::NotInstalled => "not_installed",
            Problem::Forbidden(_) => "forbidden",
            Problem::Failing(_) => "failing",
        };
        self.errors
            .get_or_create(&ErrorLabels {
                resource: resource.to_string(),
                reason,
            })
            .inc();
    }
}
