//! Harness for the end-to-end tests: runs the real `fairlead` binary on a fresh manifest
//! directory, in-process echo backends, HTTP clients (HTTP/1.1, h2c, raw TCP), manifest
//! builders and readers of the admin `/status` document.
//!
//! Every wait is a bounded poll on a readiness signal the product exposes (`/readyz`, the
//! `/status` version), never a fixed sleep.

// Each test file compiles this module into its own crate and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod echo;
pub mod manifests;
pub mod process;
pub mod recorder;
pub mod scenario;
pub mod status;
pub mod tls;

pub use client::{h2c_get, raw_exchange, request, tally, Http, Reply};
pub use echo::Echo;
pub use process::{free_port, Fairlead};
pub use scenario::Scenario;

use std::future::Future;
use std::time::Duration;

/// Interval between two polls of a readiness signal.
pub const POLL_EVERY: Duration = Duration::from_millis(20);
/// Longest any single wait may take before the test fails.
pub const WAIT_AT_MOST: Duration = Duration::from_secs(10);

/// Polls `check` every [`POLL_EVERY`] until it returns `Some`, failing the test after
/// [`WAIT_AT_MOST`] with `what` in the message.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT_AT_MOST;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT_AT_MOST:?} waiting for {what}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}
