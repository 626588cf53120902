//! Subsystem health registry: each subsystem (source, translation, listeners, ...) reports a
//! state; readiness is the conjunction of them.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// State of one subsystem. Ready and Degraded pass the readiness gate; Pending and Failed block it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum State {
    Pending,
    Ready,
    Degraded,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubsystemStatus {
    pub state: State,
    pub message: String,
    /// When the subsystem entered this state (RFC 3339, UTC).
    pub since: String,
}

/// Registry of subsystem states. Writers are rare (on rebuilds); the lock is never taken on the
/// request path of the proxy.
#[derive(Debug, Default)]
pub struct Health {
    subsystems: Mutex<BTreeMap<String, SubsystemStatus>>,
}

impl Health {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a subsystem's state. `since` only moves when the state changes, so it tells how
    /// long a subsystem has been degraded, not when it last reported.
    pub fn set(&self, name: &str, state: State, message: impl Into<String>) {
        let message = message.into();
        let mut map = self.subsystems.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(name) {
            Some(current) if current.state == state => current.message = message,
            _ => {
                map.insert(
                    name.to_owned(),
                    SubsystemStatus {
                        state,
                        message,
                        since: fairlead_route::now_rfc3339(),
                    },
                );
            }
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, SubsystemStatus> {
        self.subsystems.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Ready when at least one subsystem is registered and every one is Ready or Degraded.
    pub fn is_ready(&self) -> bool {
        let map = self.subsystems.lock().unwrap_or_else(|p| p.into_inner());
        !map.is_empty()
            && map
                .values()
                .all(|s| matches!(s.state, State::Ready | State::Degraded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_needs_every_subsystem_ready_or_degraded() {
        let h = Health::new();
        assert!(
            !h.is_ready(),
            "a fresh process with nothing reported is not ready"
        );
        h.set("source", State::Pending, "loading");
        h.set("listeners", State::Ready, "bound");
        assert!(!h.is_ready());
        h.set("source", State::Degraded, "one file failed to parse");
        assert!(h.is_ready());
        h.set("listeners", State::Failed, "port 80 in use");
        assert!(!h.is_ready());
    }

    #[test]
    fn since_moves_only_on_state_change() {
        let h = Health::new();
        h.set("s", State::Ready, "a");
        let first = h.snapshot()["s"].since.clone();
        h.set("s", State::Ready, "b");
        let snap = h.snapshot();
        assert_eq!(snap["s"].since, first);
        assert_eq!(snap["s"].message, "b");
    }
}
