//! Backend resolution: a backendRef (HTTPRoute) or Ingress backend to a weighted [`Backend`],
//! with the reason it could not be resolved for the route's `ResolvedRefs` condition.

use crate::conditions::reason;
use crate::endpoints::Endpoints;
use crate::meta;
use crate::resources::ResourceSet;
use fairlead_route::{Backend, BackendTarget, ServiceBackend, UpstreamProtocol};
use k8s_openapi::api::core::v1::ServicePort;

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
/// `appProtocol` that asks for HTTP/2 cleartext with prior knowledge.
const H2C_APP_PROTOCOL: &str = "kubernetes.io/h2c";

/// Why a reference could not be resolved: a `ResolvedRefs` reason and a message naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefProblem {
    pub reason: &'static str,
    pub message: String,
}

impl RefProblem {
    fn new(reason: &'static str, message: String) -> Self {
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

/// Resolves backends against a [`ResourceSet`], recording EndpointSlice problems on the way.
pub(crate) struct Resolver<'a> {
    resources: &'a ResourceSet,
    pub(crate) endpoints: Endpoints<'a>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(resources: &'a ResourceSet) -> Self {
        Resolver {
            resources,
            endpoints: Endpoints::new(resources.endpoint_slices()),
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
        let result = self.check_kind(backend).and_then(|()| {
            if backend.namespace != route_namespace && !self.granted(from_kind, route_namespace, backend) {
                let message = format!(
                    "backendRef to Service {}/{} is not permitted: no ReferenceGrant in namespace {} allows \
                     {from_kind}s from namespace {}",
                    backend.namespace, backend.name, backend.namespace, route_namespace
                );
                return Err(RefProblem::new(reason::REF_NOT_PERMITTED, message));
            }
            self.service(backend.namespace, backend.name, backend.port)
        });
        finish(backend.weight, result)
    }

    /// Resolves an Ingress backend (always in the Ingress's namespace).
    pub(crate) fn ingress_backend(&mut self, backend: &BackendRef<'_>) -> (Backend, Option<RefProblem>) {
        let result = self
            .check_kind(backend)
            .and_then(|()| self.service(backend.namespace, backend.name, backend.port));
        finish(backend.weight, result)
    }

    fn check_kind(&self, backend: &BackendRef<'_>) -> Result<(), RefProblem> {
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

    /// True when a ReferenceGrant (v1 or v1beta1, both stored alike) in the target namespace
    /// allows routes of `from_kind` in `from_namespace` to reach this Service.
    fn granted(&self, from_kind: &str, from_namespace: &str, backend: &BackendRef<'_>) -> bool {
        self.resources
            .reference_grants()
            .filter(|g| meta::namespace(&g.metadata) == backend.namespace)
            .any(|grant| {
                let from_ok = grant.spec.from.iter().any(|f| {
                    f.group == GATEWAY_GROUP && f.kind == from_kind && f.namespace == from_namespace
                });
                let to_ok = grant.spec.to.iter().any(|t| {
                    t.group.is_empty()
                        && t.kind == "Service"
                        && t.name
                            .as_deref()
                            .is_none_or(|n| n.is_empty() || n == backend.name)
                });
                from_ok && to_ok
            })
    }

    fn service(
        &mut self,
        namespace: &str,
        name: &str,
        port: PortRef<'_>,
    ) -> Result<ServiceBackend, RefProblem> {
        let not_found = |message: String| RefProblem::new(reason::BACKEND_NOT_FOUND, message);
        let Some(service) = self.resources.service(namespace, name) else {
            return Err(not_found(format!("Service {namespace}/{name} not found")));
        };
        let spec = service.spec.as_ref();
        if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
            let message =
                format!("Service {namespace}/{name} is of type ExternalName, which is not supported yet");
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
        let protocol = match service_port.app_protocol.as_deref() {
            Some(H2C_APP_PROTOCOL) => UpstreamProtocol::H2c,
            _ => UpstreamProtocol::Http1,
        };
        let endpoints = self.endpoints.resolve(namespace, name, service_port);
        Ok(ServiceBackend {
            name: format!("{namespace}/{name}:{}", service_port.port),
            protocol,
            endpoints,
        })
    }
}

fn finish(weight: u32, result: Result<ServiceBackend, RefProblem>) -> (Backend, Option<RefProblem>) {
    match result {
        Ok(service) => (
            Backend {
                weight,
                target: BackendTarget::Service(service),
                filters: Vec::new(),
            },
            None,
        ),
        Err(problem) => {
            let target = BackendTarget::Invalid {
                reason: problem.message.clone(),
            };
            (
                Backend {
                    weight,
                    target,
                    filters: Vec::new(),
                },
                Some(problem),
            )
        }
    }
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
