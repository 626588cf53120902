//! `rules[].retry` to the IR [`Retry`].
//!
//! Choices where the spec leaves room: unset `attempts` means 2 retries (Envoy Gateway's
//! default; the spec allows any implementation default), and `0` disables retries as the spec
//! requires. Codes must be 500-599: the spec lets implementations also accept 400-499, which
//! are rarely safe to retry, so they are rejected with a message saying so. Unset `backoff`
//! leaves the wait to the proxy.

use super::{duration, RuleError};
use fairlead_route::Retry;
use gateway_api::experimental::httproutes::HttpRouteRulesRetry;

/// Retries after the first attempt when `attempts` is unset.
const DEFAULT_ATTEMPTS: u32 = 2;

pub(super) fn convert(retry: &HttpRouteRulesRetry) -> Result<Retry, RuleError> {
    let invalid = |reason: String| RuleError::InvalidRetry { reason };
    let mut codes = Vec::new();
    for &code in retry.codes.iter().flatten() {
        match code {
            500..=599 => codes.extend(u16::try_from(code).ok()),
            400..=499 => {
                return Err(invalid(format!(
                    "codes: {code} is a client error; only 500-599 are retried"
                )))
            }
            _ => {
                return Err(invalid(format!(
                    "codes: {code} is not an HTTP status between 500 and 599"
                )))
            }
        }
    }
    codes.sort_unstable();
    codes.dedup();
    let attempts = match retry.attempts {
        None => DEFAULT_ATTEMPTS,
        Some(n) => u32::try_from(n)
            .map_err(|_| invalid(format!("attempts {n} must be between 0 and {}", u32::MAX)))?,
    };
    let backoff_ms = retry
        .backoff
        .as_deref()
        .map(|value| duration("retry.backoff", value))
        .transpose()?;
    Ok(Retry {
        codes,
        attempts,
        backoff_ms,
    })
}
