//! The Kubernetes status writer: turns translation's [`StatusReport`] into Kubernetes status
//! and writes it through the status subresource, on the replica holding the Lease only.
//!
//! - [`convert`]: the pure conversion ([`desired_status`]) of one [`ObjectStatus`] into the
//!   `status` it stands for, merged into what is stored (other controllers' route parent
//!   entries stay; `lastTransitionTime` moves only when a condition's status does).
//! - `api`: GET, compare, PUT `/status` with the `resourceVersion` read, re-read on 409.
//! - `writer`: the background task — passes over the latest report, a memo so an unchanged
//!   report costs no API call, retries with backoff, the `status` health subsystem.
//! - `ratelimit`: the global token bucket and the per-object minimum interval.
//! - `metrics`: `fairlead_status_writes{kind, result}`.
//!
//! Kinds written: GatewayClass (conditions, supportedFeatures), Gateway (conditions, listeners,
//! addresses), HTTPRoute and GRPCRoute (`parents` entries of our controller), BackendTLSPolicy
//! (`ancestors` entries of our controller; v1, else v1alpha3) and Ingress
//! (`loadBalancer.ingress`). Other kinds in a report (EndpointSlices) are never written.
//!
//! [`ObjectStatus`]: fairlead_route::ObjectStatus

mod api;
pub mod convert;
mod metrics;
mod ratelimit;
mod writer;

#[cfg(test)]
mod convert_tests;

use std::sync::Arc;
use std::time::Duration;

use fairlead_admin::{Health, State};
use fairlead_route::StatusReport;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use api::StatusError;
pub use convert::{desired_status, AddressState, ConvertContext, ResolvedAddress};

/// Name of the health subsystem the writer reports as.
pub const SUBSYSTEM: &str = "status";

/// Where the addresses published on Gateways (`status.addresses`) and Ingresses
/// (`status.loadBalancer.ingress`) come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addresses {
    /// None: Gateways carry no addresses and Ingress status is left untouched.
    None,
    /// Fixed addresses, each an IP or a hostname.
    Static(Vec<String>),
    /// The `status.loadBalancer.ingress` of this Service (read again every
    /// [`StatusSettings::address_refresh`]).
    Service { namespace: String, name: String },
}

/// How the writer behaves.
#[derive(Debug, Clone)]
pub struct StatusSettings {
    /// Our `controllerName` in route parent and policy ancestor entries, e.g.
    /// `fairlead.dev/gateway-controller`.
    pub controller_name: String,
    pub addresses: Addresses,
    /// Global token bucket: objects brought in line per second (each GET, PUT and conflict
    /// retry for one object together cost one token). Default 20.
    pub writes_per_second: u32,
    /// Token bucket size. Default 40.
    pub burst: u32,
    /// At most one look at an object per interval, so a flapping report cannot flap status
    /// faster. Default 1 s.
    pub min_object_interval: Duration,
    /// How often the Service of [`Addresses::Service`] is read again. Default 30 s.
    pub address_refresh: Duration,
}

impl StatusSettings {
    pub fn new(controller_name: &str) -> Self {
        StatusSettings {
            controller_name: controller_name.to_string(),
            addresses: Addresses::None,
            writes_per_second: 20,
            burst: 40,
            min_object_interval: Duration::from_secs(1),
            address_refresh: Duration::from_secs(30),
        }
    }
}

/// Handle on the background status writer.
pub struct StatusWriter {
    task: JoinHandle<()>,
}

impl StatusWriter {
    /// Background task: whenever `reports` changes (latest wins: a burst of reports collapses
    /// into one pass) or `leader` turns true, brings the API's status in line with the report.
    /// While `leader` is false it makes no API call at all. Must be called within a tokio
    /// runtime.
    pub fn start(
        client: kube::Client,
        settings: StatusSettings,
        reports: watch::Receiver<Option<Arc<StatusReport>>>,
        leader: watch::Receiver<bool>,
        health: Arc<Health>,
        registry: &mut Registry,
        shutdown: CancellationToken,
    ) -> StatusWriter {
        // Registered before the task runs, so readiness waits for the first pass.
        health.set(SUBSYSTEM, State::Pending, "waiting for the first status report");
        let metrics = metrics::Metrics::new(registry);
        let writer = writer::Writer::new(client, settings, health, metrics);
        StatusWriter {
            task: tokio::spawn(writer.run(reports, leader, shutdown)),
        }
    }

    /// Waits for the task to end (after `shutdown` is cancelled).
    pub async fn stopped(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "status writer task ended abnormally");
        }
    }
}
