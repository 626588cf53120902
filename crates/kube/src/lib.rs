//! fairlead-kube: everything that talks to the Kubernetes API server.
//!
//! - [`client`]: the API client from a kubeconfig or the in-cluster service account.
//! - [`source`]: watchers (with their own stores) for every kind translation reads, debounced
//!   into snapshots of objects; missing CRDs and RBAC denials are reported per subsystem.
//! - [`lease`]: leader election on a `coordination.k8s.io/v1` Lease; only the holder writes
//!   status.
//! - [`status`]: turns the translation's [`fairlead_route::StatusReport`] into Kubernetes status
//!   and writes it through the status subresource, only when it differs from what is stored.
//!
//! Nothing here is on the request path: the proxy never sees a kube type.

pub mod client;
pub mod lease;
pub mod source;
pub mod status;
