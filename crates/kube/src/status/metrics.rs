//! `fairlead_status_writes{kind, result}`: what happened each time the writer looked at an
//! object (or, while not leader, would have).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// The `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteResult {
    /// The status subresource was updated.
    Written,
    /// The stored status already matched; nothing was written.
    Unchanged,
    /// Not written on purpose: not the leader, or the object is gone from the API.
    Skipped,
    /// A write was refused with 409 Conflict (it is retried after reading again).
    Conflict,
    /// Reading or writing failed; retried on a later pass.
    Error,
}

impl WriteResult {
    fn as_str(self) -> &'static str {
        match self {
            WriteResult::Written => "written",
            WriteResult::Unchanged => "unchanged",
            WriteResult::Skipped => "skipped",
            WriteResult::Conflict => "conflict",
            WriteResult::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteLabels {
    kind: String,
    result: &'static str,
}

#[derive(Clone, Debug)]
pub(crate) struct Metrics {
    writes: Family<WriteLabels, Counter>,
}

impl Metrics {
    pub(crate) fn new(registry: &mut Registry) -> Self {
        let writes = Family::<WriteLabels, Counter>::default();
        registry.register(
            "fairlead_status_writes",
            "Objects the status writer looked at, by kind and result (written, unchanged, skipped, \
             conflict, error)",
            writes.clone(),
        );
        Metrics { writes }
    }

    pub(crate) fn count(&self, kind: &str, result: WriteResult) {
        self.writes
            .get_or_create(&WriteLabels {
                kind: kind.to_string(),
                result: result.as_str(),
            })
            .inc();
    }
}
