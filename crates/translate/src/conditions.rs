//! Condition types and reasons, spelled as the Gateway API spec spells them, so that a typo
//! cannot make status disagree with the spec.

pub(crate) const ACCEPTED: &str = "Accepted";
pub(crate) const PROGRAMMED: &str = "Programmed";
pub(crate) const RESOLVED_REFS: &str = "ResolvedRefs";
pub(crate) const CONFLICTED: &str = "Conflicted";
pub(crate) const PARTIALLY_INVALID: &str = "PartiallyInvalid";
/// Listener: HTTPS listeners on one port whose hostnames overlap (negative polarity, only
/// ever set to True).
pub(crate) const OVERLAPPING_TLS_CONFIG: &str = "OverlappingTLSConfig";
/// Used on EndpointSlices whose contents translation had to skip.
pub(crate) const VALID: &str = "Valid";

pub(crate) mod reason {
    pub(crate) const ACCEPTED: &str = "Accepted";
    pub(crate) const PROGRAMMED: &str = "Programmed";
    pub(crate) const INVALID: &str = "Invalid";
    pub(crate) const RESOLVED_REFS: &str = "ResolvedRefs";
    pub(crate) const NO_CONFLICTS: &str = "NoConflicts";
    pub(crate) const HOSTNAME_CONFLICT: &str = "HostnameConflict";
    pub(crate) const PORT_UNAVAILABLE: &str = "PortUnavailable";
    pub(crate) const UNSUPPORTED_PROTOCOL: &str = "UnsupportedProtocol";
    pub(crate) const INVALID_ROUTE_KINDS: &str = "InvalidRouteKinds";
    pub(crate) const LISTENERS_NOT_VALID: &str = "ListenersNotValid";
    pub(crate) const NOT_ALLOWED_BY_LISTENERS: &str = "NotAllowedByListeners";
    pub(crate) const NO_MATCHING_LISTENER_HOSTNAME: &str = "NoMatchingListenerHostname";
    pub(crate) const NO_MATCHING_PARENT: &str = "NoMatchingParent";
    pub(crate) const UNSUPPORTED_VALUE: &str = "UnsupportedValue";
    pub(crate) const REF_NOT_PERMITTED: &str = "RefNotPermitted";
    pub(crate) const INVALID_KIND: &str = "InvalidKind";
    pub(crate) const BACKEND_NOT_FOUND: &str = "BackendNotFound";
    pub(crate) const PATH_CONFLICT: &str = "PathConflict";
    pub(crate) const INVALID_ADDRESS: &str = "InvalidAddress";
    pub(crate) const UNSUPPORTED_ADDRESS_TYPE: &str = "UnsupportedAddressType";
    pub(crate) const INVALID_CERTIFICATE_REF: &str = "InvalidCertificateRef";
    pub(crate) const INVALID_CA_CERTIFICATE_REF: &str = "InvalidCACertificateRef";
    /// Listener CA refs of an unsupported kind (BackendTLSPolicy uses [`INVALID_KIND`]).
    pub(crate) const INVALID_CA_CERTIFICATE_KIND: &str = "InvalidCACertificateKind";
    pub(crate) const NO_VALID_CA_CERTIFICATE: &str = "NoValidCACertificate";
    pub(crate) const OVERLAPPING_HOSTNAMES: &str = "OverlappingHostnames";
    /// Policies (GEP-713): the target does not exist.
    pub(crate) const TARGET_NOT_FOUND: &str = "TargetNotFound";
    /// Policies (GEP-713): another policy takes precedence for the same target.
    pub(crate) const CONFLICTED: &str = "Conflicted";
}

/// Reasons added for listener conflicts, Gateway addresses and route kind conflicts.
pub(crate) mod reason_ext {
    /// Listeners on one port with different protocols (Gateway API `ListenerReasonProtocolConflict`).
    pub(crate) const PROTOCOL_CONFLICT: &str = "ProtocolConflict";
    /// `spec.addresses` set on a Gateway (Gateway API `GatewayReasonUnsupportedAddress`).
    pub(crate) const UNSUPPORTED_ADDRESS: &str = "UnsupportedAddress";
    /// An HTTPRoute and a GRPCRoute sharing a hostname on one listener: the spec names no reason
    /// for the one it rejects, so this reuses the listener conflict's name.
    pub(crate) const ROUTE_HOSTNAME_CONFLICT: &str = "HostnameConflict";
}
