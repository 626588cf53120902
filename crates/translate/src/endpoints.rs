//! Endpoint resolution: a Service port to the socket addresses of its endpoints, read from the
//! Service's EndpointSlices, and the problems found in those slices.

use crate::conditions::{reason, VALID};
use crate::meta;
use fairlead_route::{Condition, ObjectStatus};
use k8s_openapi::api::core::v1::ServicePort;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// EndpointSlices grouped by the Service they belong to, and what was wrong in the ones read.
pub(crate) struct Endpoints<'a> {
    by_service: BTreeMap<(&'a str, &'a str), Vec<&'a EndpointSlice>>,
    problems: BTreeMap<(String, String), SliceProblem<'a>>,
}

/// Why (part of) a slice was skipped. Only slices that a backend of ours read are reported.
enum SliceProblem<'a> {
    UnsupportedAddressType {
        slice: &'a EndpointSlice,
    },
    InvalidAddresses {
        slice: &'a EndpointSlice,
        addresses: BTreeSet<String>,
    },
}

impl<'a> Endpoints<'a> {
    pub(crate) fn new(slices: impl Iterator<Item = &'a EndpointSlice>) -> Self {
        let mut by_service: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for slice in slices {
            if let Some(service) = meta::label(&slice.metadata, SERVICE_NAME_LABEL) {
                by_service
                    .entry((meta::namespace(&slice.metadata), service))
                    .or_default()
                    .push(slice);
            }
        }
        Endpoints {
            by_service,
            problems: BTreeMap::new(),
        }
    }

    /// The addresses serving `port` of Service `namespace/service`, sorted and deduplicated.
    ///
    /// The slice port whose name equals the Service port's name gives the target port (both
    /// unnamed for a single-port Service, and the number even when the Service's `targetPort`
    /// is a name). Every slice labelled for the Service counts, whoever made it: the
    /// EndpointSlice controller (selector, headless or not) or a user (no selector). Ready
    /// endpoints are used; when none is ready, those that are serving while terminating are,
    /// as kube-proxy does, so that a rollout of every pod at once drains instead of failing.
    pub(crate) fn resolve(&mut self, namespace: &str, service: &str, port: &ServicePort) -> Vec<SocketAddr> {
        let port_name = port.name.as_deref().unwrap_or_default();
        let mut ready = BTreeSet::new();
        let mut serving = BTreeSet::new();
        let slices = self
            .by_service
            .get(&(namespace, service))
            .cloned()
            .unwrap_or_default();
        for slice in slices {
            if slice.address_type != "IPv4" && slice.address_type != "IPv6" {
                self.problems
                    .entry(slice_key(slice))
                    .or_insert(SliceProblem::UnsupportedAddressType { slice });
                continue;
            }
            let Some(target) = slice_port(slice, port_name) else {
                continue;
            };
            for endpoint in &slice.endpoints {
                let Some(ip) = self.first_address(slice, endpoint) else {
                    continue;
                };
                let addr = SocketAddr::new(ip, target);
                let conditions = endpoint.conditions.as_ref();
                // The API reads unset `ready` and `serving` as true, unset `terminating` as false.
                let is_ready = conditions.and_then(|c| c.ready).unwrap_or(true);
                let is_serving = conditions.and_then(|c| c.serving).unwrap_or(true);
                let is_terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
                if is_ready {
                    ready.insert(addr);
                } else if is_serving && is_terminating {
                    // Not ready and not terminating is a pod failing its readiness probe: it
                    // must not get traffic even as a last resort.
                    serving.insert(addr);
                }
            }
        }
        if ready.is_empty() {
            serving.into_iter().collect()
        } else {
            ready.into_iter().collect()
        }
    }

    /// The endpoint's first address that is an IP. The addresses of one endpoint are
    /// fungible, so using one keeps a pod from counting twice; the garbage ones are recorded.
    fn first_address(&mut self, slice: &'a EndpointSlice, endpoint: &Endpoint) -> Option<IpAddr> {
        let mut found = None;
        for address in &endpoint.addresses {
            match address.parse::<IpAddr>() {
                Ok(ip) => {
                    found.get_or_insert(ip);
                }
                Err(_) => {
                    let entry = self.problems.entry(slice_key(slice)).or_insert_with(|| {
                        SliceProblem::InvalidAddresses {
                            slice,
                            addresses: BTreeSet::new(),
                        }
                    });
                    if let SliceProblem::InvalidAddresses { addresses, .. } = entry {
                        addresses.insert(address.clone());
                    }
                }
            }
        }
        found
    }

    /// Status entries for the slices whose contents were (partly) skipped.
    pub(crate) fn into_statuses(self) -> impl Iterator<Item = ObjectStatus> + 'a {
        self.problems.into_values().map(|problem| {
            let (slice, condition) = match problem {
                SliceProblem::UnsupportedAddressType { slice } => {
                    let message = format!(
                        "addressType {} is not supported; only IPv4 and IPv6 endpoints are used",
                        slice.address_type
                    );
                    (
                        slice,
                        Condition::new(VALID, false, reason::UNSUPPORTED_ADDRESS_TYPE, message),
                    )
                }
                SliceProblem::InvalidAddresses { slice, addresses } => {
                    let list: Vec<_> = addresses.iter().map(|a| format!("{a:?}")).collect();
                    let message = format!("skipped endpoint addresses that are not IPs: {}", list.join(", "));
                    (
                        slice,
                        Condition::new(VALID, false, reason::INVALID_ADDRESS, message),
                    )
                }
            };
            ObjectStatus {
                object: meta::namespaced_ref("EndpointSlice", &slice.metadata),
                generation: slice.metadata.generation,
                conditions: vec![condition],
                ..ObjectStatus::default()
            }
        })
    }
}

fn slice_key(slice: &EndpointSlice) -> (String, String) {
    (
        meta::namespace(&slice.metadata).to_string(),
        meta::name(&slice.metadata).to_string(),
    )
}

/// The slice's TCP port for the Service port named `name` ("" for an unnamed port).
fn slice_port(slice: &EndpointSlice, name: &str) -> Option<u16> {
    slice
        .ports
        .iter()
        .flatten()
        .find(|p| {
            p.name.as_deref().unwrap_or_default() == name && p.protocol.as_deref().unwrap_or("TCP") == "TCP"
        })
        .and_then(|p| p.port)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
}
