//! Backend resolution: a backendRef (HTTPRoute, GRPCRoute), a RequestMirror target or an Ingress
//! backend to a resolved Service port, with the reason it could not be resolved for the route's
//! `ResolvedRefs` condition.
//!
//! Choices where the spec leaves room:
//! - ExternalName Services are `BackendNotFound`: the spec says implementations SHOULD NOT
//!   support them (CVE-2021-25740), and there is no in-cluster endpoint to resolve.
//! - A missing `port` is `BackendNotFound`: the spec requires a port for a Service, and the API
//!   server rejects such a ref, so only an unvalidated manifest gets here.
//! - `appProtocol` (KEP-3726): `kubernetes.io/h2c` is HTTP/2 with prior knowledge,
//!   `kubernetes.io/ws` and unset are HTTP/1.1 (WebSocket upgrades work over it). Values that
//!   need TLS to the backend (`kubernetes.io/wss`, `https`, `tls`) need a BackendTLSPolicy for
//!   the port, which says how to verify the backend; without one they are
//!   `UnsupportedProtocol`, as the spec asks for a protocol we cannot speak. Any other value is
//!   read as HTTP/1.1, since Services often carry informal names (`http`, `web`) that mean
//!   exactly that.
//! - A BackendTLSPolicy for the port sets `ServiceBackend.tls` ([`crate::tls::backend`]); one
//!   that cannot be used makes the backend answer 500 (a mirror to it sends nothing) without
//!   changing the route's ResolvedRefs, since the route's own references resolved.
//! - A GRPCRoute always speaks HTTP/2 cleartext to its backends (the spec lets the protocol be
//!   inferred from the route kind), unless the port asks for TLS.

use crate::conditions::reason;
use crate::endpoints::Endpoints;
use crate::grants;
use crate::resources::ResourceSet;
use crate::tls::backend::BackendTls;
use fairlead_route::{Backend, BackendTarget, ServiceBackend, UpstreamProtocol};
use k8s_openapi::api::core::v1::ServicePort;

/// `appProtocol` that asks for HTTP/2 cleartext with prior knowledge.
const H2C_APP_PROTOCOL: &str = "kubernetes.io/h2c";
/// `appProtocol` values that need TLS to the backend, which the proxy cannot originate.
const TLS_APP_PROTOCOLS: [&str; 3] = ["kubernetes.io/wss", "https", "tls"];
/// The route kind whose backends always speak HTTP/2.
const GRPC_ROUTE: &str = "GRPCRoute";

/// Why a reference could not be resolved: a `ResolvedRefs` reason and a message naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefProblem {
    pub reason: &'static str,
    pub message: String,
}

impl RefProblem {
    pub(crate) fn new(reason: &'static str, message: String) -> Self {
        RefProblem { reason, message }
    }
}

/// How a backend names the Service port.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PortRef<'a> {
    Number(i32),
    Name(&'a str),
    Missing,
}

/// A backend reference as written, with defaults applied by the caller.
pub(crate) struct BackendRef<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub port: PortRef<'a>,
    pub weight: u32,
}

/// A route's backendRef as written in any generated type (they share these fields), with the
/// spec's defaults: the core group, kind Service and the route's namespace.
macro_rules! route_backend_ref {
    ($b:expr, $route_ns:expr, $weight:expr) => {
        $crate::backends::BackendRef {
            group: $b.group.as_deref().unwrap_or_default(),
            kind: $b.kind.as_deref().unwrap_or("Service"),
            namespace: $b.namespace.as_deref().unwrap_or($route_ns),
            name: &$b.name,
            port: $b.port.map_or(
                $crate::backends::PortRef::Missing,
                $crate::backends::PortRef::Number,
            ),
            weight: $weight,
        }
    };
}
pub(crate) use route_backend_ref;

/// Resolves backends against a [`ResourceSet`], recording EndpointSlice problems and the
/// BackendTLSPolicies used on the way.
pub(crate) struct Resolver<'a> {
    resources: &'a ResourceSet,
    pub(crate) endpoints: Endpoints<'a>,
    pub(crate) backend_tls: BackendTls<'a>,
}

/// A resolved Service port; `blocked` says why connections to it must fail (its
/// BackendTLSPolicy cannot be used).
struct Resolved {
    backend: ServiceBackend,
    blocked: Option<String>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(resources: &'a ResourceSet) -> Self {
        Resolver {
            resources,
            endpoints: Endpoints::new(resources.endpoint_slices()),
            backend_tls: BackendTls::new(resources),
        }
    }

    /// Resolves one backendRef of a route of kind `from_kind` (`HTTPRoute`, `GRPCRoute`). A
    /// reference to another namespace needs a ReferenceGrant there that lets routes of that kind
    /// in `route_namespace` reach the Service.
    pub(crate) fn route_backend(
        &mut self,
        from_kind: &str,
        route_namespace: &str,
        backend: &BackendRef<'_>,
    ) -> (Backend, Option<RefProblem>) {
        let result = self.route_service(from_kind, route_namespace, backend);
        finish(backend.weight, result)
    }

    /// Resolves the backendRef of a RequestMirror filter, under the same rules as a route
    /// backend (kind, ReferenceGrant, port). The caller leaves the filter out on an error, as
    /// the spec asks, and reports the problem in `ResolvedRefs`.
    pub(crate) fn mirror(
        &mut self,
        from_kind: &str,
        route_namespace: &str,
        backend: &BackendRef<'_>,
    ) -> Result<ServiceBackend, RefProblem> {
        match self.route_service(from_kind, route_namespace, backend) {
            Ok(Resolved {
                backend,
                blocked: None,
            }) => Ok(backend),
            // Nothing is mirrored to a backend whose TLS settings cannot be used.
            Ok(Resolved {
                backend,
                blocked: Some(_),
            }) => Ok(ServiceBackend {
                endpoints: Vec::new(),
                tls: None,
                ..backend
            }),
            Err(problem) => Err(RefProblem::new(
                problem.reason,
                format!("RequestMirror: {}", problem.message),
            )),
        }
    }

    /// Resolves an Ingress backend (always in the Ingress's namespace).
    pub(crate) fn ingress_backend(&mut self, backend: &BackendRef<'_>) -> (Backend, Option<RefProblem>) {
        let result = check_kind(backend).and_then(|()| {
            self.service(
                backend.namespace,
                backend.name,
                backend.port,
                UpstreamProtocol::Http1,
            )
        });
        finish(backend.weight, result)
    }

    fn route_service(
        &mut self,
        from_kind: &str,
        route_namespace: &str,
        backend: &BackendRef<'_>,
    ) -> Result<Resolved, RefProblem> {
        check_kind(backend)?;
        if backend.namespace != route_namespace && !self.granted(from_kind, route_namespace, backend) {
            let message = format!(
                "backendRef to Service {}/{} is not permitted: no ReferenceGrant in namespace {} allows \
                 {from_kind}s from namespace {}",
                backend.namespace, backend.name, backend.namespace, route_namespace
            );
            return Err(RefProblem::new(reason::REF_NOT_PERMITTED, message));
        }
        let default_protocol = if from_kind == GRPC_ROUTE {
            UpstreamProtocol::H2c
        } else {
            UpstreamProtocol::Http1
        };
        self.service(backend.namespace, backend.name, backend.port, default_protocol)
    }

    /// True when a ReferenceGrant in the target namespace allows routes of `from_kind` in
    /// `from_namespace` to reach this Service.
    fn granted(&self, from_kind: &str, from_namespace: &str, backend: &BackendRef<'_>) -> bool {
        let from = grants::From {
            kind: from_kind,
            namespace: from_namespace,
        };
        let to = grants::To {
            kind: "Service",
            namespace: backend.namespace,
            name: backend.name,
        };
        grants::permits(self.resources, &from, &to)
    }

    /// `default_protocol` is what the port speaks when its `appProtocol` does not say more.
    fn service(
        &mut self,
        namespace: &str,
        name: &str,
        port: PortRef<'_>,
        default_protocol: UpstreamProtocol,
    ) -> Result<Resolved, RefProblem> {
        let not_found = |message: String| RefProblem::new(reason::BACKEND_NOT_FOUND, message);
        let Some(service) = self.resources.service(namespace, name) else {
            return Err(not_found(format!("Service {namespace}/{name} not found")));
        };
        let spec = service.spec.as_ref();
        if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
            let message =
                format!("Service {namespace}/{name} is of type ExternalName, which is not supported");
            return Err(not_found(message));
        }
        let ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or_default();
        let is_tcp = |p: &&ServicePort| p.protocol.as_deref().unwrap_or("TCP") == "TCP";
        let found = match port {
            PortRef::Number(number) => ports.iter().filter(is_tcp).find(|p| p.port == number),
            PortRef::Name(port_name) => ports
                .iter()
                .filter(is_tcp)
                .find(|p| p.name.as_deref() == Some(port_name)),
            PortRef::Missing => {
                return Err(not_found(format!(
                    "backend Service {namespace}/{name} needs a port"
                )));
            }
        };
        let Some(service_port) = found else {
            let wanted = match port {
                PortRef::Number(number) => format!("port {number}"),
                PortRef::Name(port_name) => format!("port named {port_name:?}"),
                PortRef::Missing => "a port".to_string(),
            };
            return Err(not_found(format!(
                "Service {namespace}/{name} has no TCP {wanted}"
            )));
        };
        let policy = self
            .backend_tls
            .lookup(namespace, name, service_port.name.as_deref());
        let protocol = upstream_protocol(
            service_port.app_protocol.as_deref(),
            default_protocol,
            policy.is_some(),
        )
        .map_err(|app_protocol| {
            let message = format!(
                "Service {namespace}/{name} port {} has appProtocol {app_protocol:?}, which needs TLS to \
                 the backend, and no BackendTLSPolicy says how to verify it",
                service_port.port
            );
            RefProblem::new(reason::UNSUPPORTED_PROTOCOL, message)
        })?;
        let endpoints = self.endpoints.resolve(namespace, name, service_port);
        let (tls, blocked) = match policy {
            None => (None, None),
            Some(Ok(tls)) => (Some(tls), None),
            Some(Err(why)) => (None, Some(why)),
        };
        Ok(Resolved {
            backend: ServiceBackend {
                name: format!("{namespace}/{name}:{}", service_port.port),
                protocol,
                endpoints,
                tls,
            },
            blocked,
        })
    }
}

fn check_kind(backend: &BackendRef<'_>) -> Result<(), RefProblem> {
    if backend.group.is_empty() && backend.kind == "Service" {
        return Ok(());
    }
    let group = if backend.group.is_empty() {
        "core"
    } else {
        backend.group
    };
    let message = format!(
        "backend {}/{} has kind {} (group {}); only core Services are supported",
        backend.namespace, backend.name, backend.kind, group
    );
    Err(RefProblem::new(reason::INVALID_KIND, message))
}

/// The protocol for a Service port's `appProtocol`, or the value back when it needs TLS and
/// the port has no BackendTLSPolicy (`tls`). Over TLS, HTTP/2 is negotiated by ALPN.
fn upstream_protocol(
    app_protocol: Option<&str>,
    default: UpstreamProtocol,
    tls: bool,
) -> Result<UpstreamProtocol, &str> {
    match app_protocol {
        None => Ok(default),
        Some(p) if TLS_APP_PROTOCOLS.iter().any(|t| p.eq_ignore_ascii_case(t)) => {
            if tls {
                Ok(default)
            } else {
                Err(p)
            }
        }
        Some(p) if p.eq_ignore_ascii_case(H2C_APP_PROTOCOL) => Ok(UpstreamProtocol::H2c),
        Some(_) => Ok(default),
    }
}

fn finish(weight: u32, result: Result<Resolved, RefProblem>) -> (Backend, Option<RefProblem>) {
    let (target, problem) = match result {
        Ok(Resolved {
            backend,
            blocked: None,
        }) => (BackendTarget::Service(backend), None),
        Ok(Resolved {
            blocked: Some(reason),
            ..
        }) => (BackendTarget::Invalid { reason }, None),
        Err(problem) => (
            BackendTarget::Invalid {
                reason: problem.message.clone(),
            },
            Some(problem),
        ),
    };
    let backend = Backend {
        weight,
        target,
        filters: Vec::new(),
    };
    (backend, problem)
}

/// The `ResolvedRefs` condition for a set of problems: the first problem's reason, and every
/// problem in the message.
pub(crate) fn resolved_refs(problems: &[RefProblem]) -> fairlead_route::Condition {
    use crate::conditions::RESOLVED_REFS;
    match problems.first() {
        None => fairlead_route::Condition::new(
            RESOLVED_REFS,
            true,
            reason::RESOLVED_REFS,
            "All references resolved",
        ),
        Some(first) => {
            // The same broken reference in several rules is reported once.
            let mut messages: Vec<&str> = Vec::new();
            for problem in problems {
                if !messages.contains(&problem.message.as_str()) {
                    messages.push(&problem.message);
                }
            }
            fairlead_route::Condition::new(RESOLVED_REFS, false, first.reason, messages.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_protocols_map_to_upstream_protocols() {
        use UpstreamProtocol::{H2c, Http1};
        for tls in [false, true] {
            assert_eq!(upstream_protocol(None, Http1, tls), Ok(Http1));
            assert_eq!(upstream_protocol(None, H2c, tls), Ok(H2c));
            assert_eq!(upstream_protocol(Some("kubernetes.io/h2c"), Http1, tls), Ok(H2c));
            assert_eq!(upstream_protocol(Some("kubernetes.io/ws"), Http1, tls), Ok(Http1));
            assert_eq!(upstream_protocol(Some("http"), Http1, tls), Ok(Http1));
            assert_eq!(
                upstream_protocol(Some("example.com/custom"), Http1, tls),
                Ok(Http1)
            );
        }
        for tls in ["kubernetes.io/wss", "https", "HTTPS", "tls"] {
            assert_eq!(upstream_protocol(Some(tls), Http1, false), Err(tls), "{tls}");
            assert_eq!(upstream_protocol(Some(tls), H2c, false), Err(tls), "{tls}");
            // With a BackendTLSPolicy the port is reached over TLS, speaking the route's default.
            assert_eq!(upstream_protocol(Some(tls), Http1, true), Ok(Http1), "{tls}");
            assert_eq!(upstream_protocol(Some(tls), H2c, true), Ok(H2c), "{tls}");
        }
    }
}
