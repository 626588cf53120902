//! The conformance features fairlead claims on its GatewayClass (`status.supportedFeatures`).
//!
//! Names are the Gateway API conformance suite's (`pkg/features`), spelled exactly; claiming a
//! feature tells the suite to run its tests, so only what fairlead implements is listed.

/// Sorted ascending (byte order, as the conformance suite sorts them), no duplicates.
pub(crate) const SUPPORTED_FEATURES: &[&str] = &[
    // BackendTLSPolicy: TLS to backends with CA bundles or system roots, and SAN validation.
    "BackendTLSPolicy",
    "BackendTLSPolicySANValidation",
    // GRPCRoute (core).
    "GRPCRoute",
    // Gateway: core, port 8080 listeners, and listener isolation (each listener keeps its own
    // routes; the route table matches a request against the most specific listener only).
    "Gateway",
    // Client certificates checked against the Gateway's frontend CA bundles (strict mode).
    "GatewayFrontendClientCertificateValidation",
    "GatewayHTTPListenerIsolation",
    "GatewayPort8080",
    // HTTPRoute: core, backend protocols and backend-level filters.
    "HTTPRoute",
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteBackendRequestHeaderModification",
    // HTTPRoute: timeouts, CORS, matching and redirects/rewrites.
    "HTTPRouteBackendTimeout",
    "HTTPRouteCORS",
    "HTTPRouteDestinationPortMatching",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRouteParentRefPort",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    // HTTPRoute: mirrors, request timeout, response headers.
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteResponseHeaderModification",
    // HTTPRoute: retries (status codes, backend request timeouts, connection errors).
    "HTTPRouteRetry",
    "HTTPRouteRetryBackendTimeout",
    "HTTPRouteRetryConnectionError",
    "HTTPRouteSchemeRedirect",
    // ReferenceGrant (core).
    "ReferenceGrant",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_without_duplicates() {
        assert!(
            SUPPORTED_FEATURES.windows(2).all(|w| w[0] < w[1]),
            "not strictly ascending: {SUPPORTED_FEATURES:?}"
        );
    }
}
