//! Talking to the API server for one object: GET it, compute the merged status, PUT the status
//! subresource with the `resourceVersion` read (GET again and recompute on 409 Conflict), and
//! reading the Service whose load balancer addresses are published. Errors name the verb,
//! resource, namespace, object and reason.

use std::future::Future;
use std::time::Duration;

use fairlead_route::{ObjectRef, ObjectStatus};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::Client;
use serde_json::Value;

use super::convert::{desired_status, writes_status, AddressState, ConvertContext, ResolvedAddress};
use crate::source::WATCHED;

/// Bound on one request, so a hung API server cannot stall the writer forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// GET + PUT rounds for one object before giving up until the next pass.
const MAX_ATTEMPTS: u32 = 4;

/// Why an object's status could not be brought in line.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("cannot {verb} {resource}{}: {reason} ({object})", in_namespace(.namespace))]
    Api {
        verb: &'static str,
        resource: String,
        namespace: Option<String>,
        object: ObjectRef,
        reason: String,
    },
    #[error("{object}: gave up after {attempts} status writes that conflicted with other writers")]
    Conflicts { object: ObjectRef, attempts: u32 },
}

fn in_namespace(ns: &Option<String>) -> String {
    ns.as_deref()
        .map(|n| format!(" in namespace {n}"))
        .unwrap_or_default()
}

/// How bringing one object in line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Written,
    Unchanged,
    /// The object no longer exists (404).
    Gone,
}

/// Group, resource name and served versions (preferred first) of a kind whose status we write,
/// from the table of watched resources, so the two never disagree.
fn resource_of(kind: &str) -> Option<(&'static str, &'static str, Vec<&'static str>)> {
    if !writes_status(kind) {
        return None;
    }
    let w = WATCHED.iter().find(|w| w.api_kind == kind)?;
    let versions = std::iter::once(w.version).chain(w.older_version).collect();
    Some((w.group, w.plural, versions))
}

/// Remembers which version answered for kinds served under more than one, so the fallback costs
/// an extra GET once rather than on every object.
#[derive(Debug, Default)]
pub(crate) struct Versions {
    /// (kind, index into its versions) that last answered.
    preferred: Vec<(String, usize)>,
}

impl Versions {
    fn order(&self, kind: &str, count: usize) -> Vec<usize> {
        let first = self
            .preferred
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, i)| *i)
            .filter(|i| *i < count)
            .unwrap_or(0);
        std::iter::once(first)
            .chain((0..count).filter(|i| *i != first))
            .collect()
    }

    fn remember(&mut self, kind: &str, index: usize) {
        self.preferred.retain(|(k, _)| k != kind);
        self.preferred.push((kind.to_string(), index));
    }
}

/// The writer's view of the API: a client plus what it learned about served versions.
pub(crate) struct StatusApi {
    client: Client,
    versions: Versions,
}

impl StatusApi {
    pub(crate) fn new(client: Client) -> Self {
        StatusApi {
            client,
            versions: Versions::default(),
        }
    }

    /// Brings `object`'s stored status in line with the report. `on_conflict` is called for
    /// every 409 before the object is read again.
    pub(crate) async fn sync(
        &mut self,
        object: &ObjectStatus,
        controller_name: &str,
        addresses: &AddressState,
        mut on_conflict: impl FnMut(),
    ) -> Result<Outcome, StatusError> {
        let target = &object.object;
        let Some((group, plural, versions)) = resource_of(&target.kind) else {
            return Ok(Outcome::Unchanged);
        };
        let status_resource = format!("{plural}/status");
        for _ in 0..MAX_ATTEMPTS {
            let Some((api, mut stored)) = self.get(target, group, plural, &versions).await? else {
                return Ok(Outcome::Gone);
            };
            let current = stored.data.get("status").cloned().unwrap_or(Value::Null);
            let now = fairlead_route::now_rfc3339();
            let ctx = ConvertContext {
                controller_name,
                now: &now,
                addresses,
            };
            let Some(desired) = desired_status(&current, object, &ctx) else {
                return Ok(Outcome::Unchanged);
            };
            if desired == current {
                return Ok(Outcome::Unchanged);
            }
            // The whole object as read goes back, so the server's resourceVersion check
            // catches any write in between and spec is sent unchanged.
            match stored.data.as_object_mut() {
                Some(data) => {
                    data.insert("status".into(), desired);
                }
                None => stored.data = serde_json::json!({ "status": desired }),
            }
            let name = target.name.as_str();
            let params = PostParams::default();
            match bounded(api.replace_status(name, &params, &stored)).await {
                Ok(_) => return Ok(Outcome::Written),
                Err(e) if api_code(&e) == Some(409) => on_conflict(),
                Err(e) if api_code(&e) == Some(404) => return Ok(Outcome::Gone),
                Err(e) => return Err(api_error("update", &status_resource, target, &e)),
            }
        }
        Err(StatusError::Conflicts {
            object: target.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// GETs the object, trying each served version in turn on 404; `None` when no version has it.
    async fn get(
        &mut self,
        target: &ObjectRef,
        group: &str,
        plural: &str,
        versions: &[&str],
    ) -> Result<Option<(Api<DynamicObject>, DynamicObject)>, StatusError> {
        for index in self.versions.order(&target.kind, versions.len()) {
            let Some(version) = versions.get(index) else {
                continue;
            };
            let resource = ApiResource {
                group: group.to_string(),
                version: version.to_string(),
                api_version: format!("{group}/{version}"),
                kind: target.kind.clone(),
                plural: plural.to_string(),
            };
            let api: Api<DynamicObject> = match &target.namespace {
                Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
                None => Api::all_with(self.client.clone(), &resource),
            };
            match bounded(api.get(&target.name)).await {
                Ok(object) => {
                    if versions.len() > 1 {
                        self.versions.remember(&target.kind, index);
                    }
                    return Ok(Some((api, object)));
                }
                // Either the object or this version is missing; the next version tells which.
                Err(e) if api_code(&e) == Some(404) => {}
                Err(e) => return Err(api_error("get", plural, target, &e)),
            }
        }
        Ok(None)
    }

    /// The load balancer addresses of a Service (none while it has no load balancer, or when
    /// the Service does not exist).
    pub(crate) async fn service_addresses(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<ResolvedAddress>, StatusError> {
        let api: Api<Service> = Api::namespaced(self.client.clone(), namespace);
        let service = match bounded(api.get(name)).await {
            Ok(s) => s,
            Err(e) if api_code(&e) == Some(404) => return Ok(Vec::new()),
            Err(e) => {
                let target = ObjectRef {
                    kind: "Service".into(),
                    namespace: Some(namespace.into()),
                    name: name.into(),
                };
                return Err(api_error("get", "services", &target, &e));
            }
        };
        let ingress = service
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .unwrap_or_default();
        Ok(ingress
            .into_iter()
            .filter_map(|i| match (i.ip, i.hostname) {
                (Some(ip), _) if !ip.is_empty() => Some(ResolvedAddress::Ip(ip)),
                (_, Some(host)) if !host.is_empty() => Some(ResolvedAddress::Hostname(host)),
                _ => None,
            })
            .collect())
    }
}

/// A request error: either what the API server said, or why no answer came.
enum RequestError {
    Kube(kube::Error),
    Timeout,
}

async fn bounded<T>(fut: impl Future<Output = Result<T, kube::Error>>) -> Result<T, RequestError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(RequestError::Kube(e)),
        Err(_) => Err(RequestError::Timeout),
    }
}

fn api_code(e: &RequestError) -> Option<u16> {
    match e {
        RequestError::Kube(kube::Error::Api(status)) => Some(status.code),
        _ => None,
    }
}

fn api_error(verb: &'static str, resource: &str, object: &ObjectRef, e: &RequestError) -> StatusError {
    let reason = match e {
        RequestError::Timeout => format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
        RequestError::Kube(kube::Error::Api(status)) => match status.code {
            401 => "unauthorized".to_string(),
            403 => "forbidden".to_string(),
            404 => "not found".to_string(),
            422 => format!("invalid: {}", status.message),
            code if status.message.is_empty() => format!("HTTP {code} {}", status.reason),
            code => format!("HTTP {code}: {}", status.message),
        },
        RequestError::Kube(other) => other.to_string(),
    };
    if let RequestError::Kube(kube::Error::Api(status)) = e {
        tracing::debug!(%object, verb, resource, code = status.code, message = %status.message, "status API call refused");
    }
    StatusError::Api {
        verb,
        resource: resource.to_string(),
        namespace: object.namespace.clone(),
        object: object.clone(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::Versions;

    #[test]
    fn the_version_that_answered_is_tried_first_next_time() {
        let mut v = Versions::default();
        assert_eq!(v.order("BackendTLSPolicy", 2), [0, 1]);
        v.remember("BackendTLSPolicy", 1);
        assert_eq!(v.order("BackendTLSPolicy", 2), [1, 0]);
        assert_eq!(v.order("Gateway", 1), [0], "other kinds are not affected");
        v.remember("BackendTLSPolicy", 0);
        assert_eq!(v.order("BackendTLSPolicy", 2), [0, 1]);
    }
}
