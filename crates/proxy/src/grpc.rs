//! Errors on GRPCRoute rules, and requests that look like gRPC but matched no route, are
//! answered the gRPC way: a "trailers-only" response (HTTP 200, `content-type:
//! application/grpc`, `grpc-status` and `grpc-message` in the header block, no body), which is
//! what gRPC clients read as a status. GRPCRoute requires `UNAVAILABLE` for an invalid
//! backendRef; the other mappings follow gRPC's own HTTP-to-status conventions.

use crate::body::ProxyBody;
use crate::error::ProxyError;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};

static GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
static GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
static APPLICATION_GRPC: HeaderValue = HeaderValue::from_static("application/grpc");

/// gRPC status codes the proxy answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    DeadlineExceeded = 4,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
}

/// True for gRPC requests: `content-type: application/grpc`, alone or with a `+format` suffix.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    const PREFIX: &[u8] = b"application/grpc";
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.get(..PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
            && matches!(v.get(PREFIX.len()), None | Some(b'+') | Some(b';'))
    })
}

/// The gRPC status and message for an error the proxy answers itself.
pub(crate) fn status_of(err: &ProxyError) -> (Code, &'static str) {
    match err {
        ProxyError::NoRoute => (Code::Unimplemented, "no route for this method"),
        ProxyError::Misdirected => (Code::Unavailable, "misdirected request"),
        ProxyError::InvalidBackend(_) => (Code::Unavailable, "invalid backend"),
        ProxyError::NoEndpoints(_) => (Code::Unavailable, "no endpoints available"),
        ProxyError::Unavailable { .. } => (Code::Unavailable, "backend unavailable"),
        ProxyError::Upstream { .. } => (Code::Unavailable, "upstream connection failed"),
        ProxyError::Timeout(_) => (Code::DeadlineExceeded, "gateway timeout"),
        ProxyError::Misconfigured(_) => (Code::Internal, "route misconfigured"),
        ProxyError::UnexpectedUpgrade(_) => (Code::Internal, "unexpected protocol switch"),
        ProxyError::BadRequest(_) | ProxyError::ClientBody(_) => (Code::Internal, "bad request"),
    }
}

/// A trailers-only gRPC response for `err`.
pub(crate) fn error_response(err: &ProxyError) -> Response<ProxyBody> {
    let (code, message) = status_of(err);
    let mut resp = Response::new(ProxyBody::empty());
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, APPLICATION_GRPC.clone());
    headers.insert(&GRPC_STATUS, HeaderValue::from(code as u16));
    headers.insert(&GRPC_MESSAGE, HeaderValue::from_static(message));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn grpc_content_types_are_recognised() {
        assert!(is_grpc(&ct("application/grpc")));
        assert!(is_grpc(&ct("application/grpc+proto")));
        assert!(is_grpc(&ct("Application/GRPC+json")));
        assert!(!is_grpc(&ct("application/grpc-web")));
        assert!(!is_grpc(&ct("application/json")));
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn errors_map_to_trailers_only_statuses() {
        let resp = error_response(&ProxyError::InvalidBackend("missing".into()));
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["grpc-status"], "14");
        assert_eq!(resp.headers()["content-type"], "application/grpc");
        assert!(http_body::Body::is_end_stream(resp.body()));
        let timeout = error_response(&ProxyError::Timeout(std::time::Duration::from_secs(1)));
        assert_eq!(timeout.headers()["grpc-status"], "4");
        let misconfigured = error_response(&ProxyError::Misconfigured("x".into()));
        assert_eq!(misconfigured.headers()["grpc-status"], "13");
        assert_eq!(
            error_response(&ProxyError::NoRoute).headers()["grpc-status"],
            "12"
        );
    }
}
