//! What the fairlead-kube integration tests share: the bound on every wait and a polling wait.

#![allow(dead_code)]

use std::time::Duration;

/// Every wait in these tests ends by this deadline.
pub const LIMIT: Duration = Duration::from_secs(20);
/// Interval between two looks at a condition.
pub const POLL: Duration = Duration::from_millis(20);

/// Polls `cond` every [`POLL`] until it holds; fails the test after [`LIMIT`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {LIMIT:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}
