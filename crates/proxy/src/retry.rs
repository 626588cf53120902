//! Gateway API `rules[].retry` (HTTPRouteRetry): send a request again when the backend answered
//! one of the configured status codes or the backendRequest timeout fired.
//!
//! Only requests that are safe to send twice are retried: idempotent methods whose body is
//! empty or was buffered whole (at most [`MAX_BUFFERED_BODY`] bytes, with a known length). A
//! request whose body streamed out is never re-sent; a request that was never sent (every
//! connect failed) is still failed over by [`crate::forward::send`] whatever its method.
//!
//! Each retry waits at least the configured backoff: the wait doubles per retry, gets up to 50%
//! jitter on top, and is capped at [`MAX_BACKOFF_FACTOR`] times the minimum — only ever longer,
//! as the field docs require. The whole exchange stays within the route's request timeout,
//! which the caller enforces around it.

use crate::body::UpstreamBody;
use crate::error::ProxyError;
use crate::forward;
use crate::metrics::RetryCounter;
use crate::state::Upstream;
use bytes::Bytes;
use fairlead_route::Retry;
use http::header::HeaderMap;
use http::{Method, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::time::Duration;

/// Largest request body buffered so that the request can be retried.
pub(crate) const MAX_BUFFERED_BODY: u64 = 64 * 1024;

/// Backoff when the route sets none (the field docs leave it to the implementation).
const DEFAULT_BACKOFF: Duration = Duration::from_millis(25);

/// The longest wait is this many times the configured minimum.
const MAX_BACKOFF_FACTOR: u32 = 10;

/// A compiled retry policy.
#[derive(Debug)]
pub(crate) struct RetryPolicy {
    codes: Vec<u16>,
    attempts: u32,
    backoff: Duration,
}

impl RetryPolicy {
    /// `None` when the policy allows no retry at all.
    pub(crate) fn compile(r: &Retry) -> Option<RetryPolicy> {
        (r.attempts > 0).then(|| RetryPolicy {
            codes: r.codes.clone(),
            attempts: r.attempts,
            backoff: r.backoff_ms.map_or(DEFAULT_BACKOFF, Duration::from_millis),
        })
    }

    fn retries_status(&self, status: StatusCode) -> bool {
        self.codes.contains(&status.as_u16())
    }

    /// The wait before retry number `n` (1 for the first retry).
    fn backoff(&self, n: u32) -> Duration {
        let min = self.backoff;
        let grown = min.saturating_mul(1u32 << n.saturating_sub(1).min(16));
        let jitter = grown.mul_f64(fastrand::f64() * 0.5);
        grown
            .saturating_add(jitter)
            .min(min.saturating_mul(MAX_BACKOFF_FACTOR))
            .max(min)
    }
}

/// Methods whose repetition has the same effect as a single request (RFC 9110 §9.2.2).
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// A request kept so that it can be sent more than once.
pub(crate) struct Replayable {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) trailers: Option<HeaderMap>,
}

impl Replayable {
    fn request(&self) -> Request<UpstreamBody> {
        let mut req = Request::new(UpstreamBody::full(self.body.clone(), self.trailers.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.version_mut() = self.version;
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// Sends `req` and retries it as `policy` says. The client gets the last answer as the backend
/// sent it, or the last attempt's timeout.
pub(crate) async fn send(
    upstream: &Upstream,
    policy: &RetryPolicy,
    req: &Replayable,
    attempt_timeout: Option<Duration>,
    retries: &RetryCounter,
) -> Result<(Response<Incoming>, SocketAddr), ProxyError> {
    let mut retry = 0;
    loop {
        let result = forward::send(upstream, req.request(), attempt_timeout).await;
        let retriable = match &result {
            Ok((resp, _)) => policy.retries_status(resp.status()),
            // `send` times out only on the per-attempt (backendRequest) timeout.
            Err(ProxyError::Timeout(_)) => true,
            Err(_) => false,
        };
        if !retriable || retry >= policy.attempts {
            return result;
        }
        retry += 1;
        retries.inc();
        if let Ok((resp, addr)) = &result {
            tracing::debug!(backend = %upstream.name, %addr, status = resp.status().as_u16(), retry, "retrying");
        }
        drop(result);
        tokio::time::sleep(policy.backoff(retry)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(backoff_ms: u64) -> RetryPolicy {
        RetryPolicy::compile(&Retry {
            codes: vec![503],
            attempts: 3,
            backoff_ms: Some(backoff_ms),
        })
        .unwrap()
    }

    #[test]
    fn backoff_is_never_below_the_minimum_nor_above_the_cap() {
        let p = policy(100);
        for n in 1..40 {
            for _ in 0..20 {
                let wait = p.backoff(n);
                assert!(wait >= Duration::from_millis(100), "retry {n}: {wait:?}");
                assert!(wait <= Duration::from_millis(1000), "retry {n}: {wait:?}");
            }
        }
        assert_eq!(policy(0).backoff(5), Duration::ZERO);
    }

    #[test]
    fn only_listed_codes_are_retried() {
        let p = policy(1);
        assert!(p.retries_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!p.retries_status(StatusCode::BAD_GATEWAY));
        assert!(!p.retries_status(StatusCode::OK));
    }

    #[test]
    fn no_attempts_means_no_policy() {
        assert!(RetryPolicy::compile(&Retry {
            codes: vec![503],
            attempts: 0,
            backoff_ms: None,
        })
        .is_none());
    }

    #[test]
    fn idempotent_methods() {
        for m in [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::TRACE,
            Method::PUT,
            Method::DELETE,
        ] {
            assert!(is_idempotent(&m), "{m}");
        }
        for m in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(!is_idempotent(&m), "{m}");
        }
    }
}
