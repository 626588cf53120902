//! A fake Kubernetes API server for tests (test-only; never shipped). A real `kube::Client`
//! talks to it over plain HTTP/1.1 on 127.0.0.1, so controller code runs unchanged against it.
//!
//! What it models:
//! - Paths: `/api/v1/[namespaces/{ns}/]{plural}[/{name}[/status]]` and
//!   `/apis/{group}/{version}/[namespaces/{ns}/]{plural}[/{name}[/status]]`, namespaced and
//!   cluster-scoped kinds, all-namespaces list and watch; discovery (`/api`, `/api/v1`, `/apis`,
//!   `/apis/{group}`, `/apis/{group}/{version}`) and `/version`.
//! - The kinds fairlead reads ([`DEFAULT_KINDS`]; more with [`Builder::kind`], other versions
//!   with [`Builder::replace_kind`]). Versions of one resource (ReferenceGrant v1 and v1beta1)
//!   share one storage; `apiVersion` is rewritten to the version asked for, as if converted.
//! - One global `resourceVersion` counter; `metadata.resourceVersion`, `uid`,
//!   `creationTimestamp`, `generation` and the namespace are set by the server. `generation`
//!   starts at 1 and is bumped when anything outside `metadata` (and outside `status` for kinds
//!   with a status subresource) changes — the CRD rule, used for every kind here.
//! - A write that changes nothing is not a write: no new `resourceVersion`, no event.
//! - get; list (ListMeta `resourceVersion`; `labelSelector` with `=`, `==`, `!=`, exists, `!`,
//!   `in`, `notin`; `fieldSelector` on `metadata.name`, `metadata.namespace` and `type` for
//!   Secrets, other fields are a 400); create (409 AlreadyExists, `generateName`); update (PUT;
//!   409 Conflict on a stale `resourceVersion`); patch: JSON merge patch, JSON patch (RFC 6902)
//!   and server-side apply; delete (returns the object; `preconditions` honoured);
//!   deletecollection.
//! - Status subresource: `/status` writes change only `.status`; main writes keep the old
//!   `.status`; create drops `.status` for those kinds.
//! - watch (`watch=true|1`, `resourceVersion`, `allowWatchBookmarks`, `timeoutSeconds`,
//!   `sendInitialEvents` with the `k8s.io/initial-events-end` bookmark): newline-delimited
//!   ADDED / MODIFIED / DELETED / BOOKMARK events; without a version (or `"0"`) the current
//!   objects come first as ADDED; a version older than the kept history (length set with
//!   [`Builder::history`]) gets HTTP 200 and one ERROR event with a 410 Expired Status, as the
//!   real server sends it, so kube-runtime relists. Periodic bookmarks every
//!   [`Builder::bookmark_interval`] when asked for. Objects that start or stop matching a
//!   watch's selectors arrive as ADDED or DELETED.
//! - Faults set from the test: [`FakeApi::deny`] (403 with the RBAC authorizer's wording) per
//!   (verb, resource); [`FakeApi::set_group_installed`] ("CRD not installed": 404 and absent
//!   from discovery, open watches of the group end); [`FakeApi::drop_watches`];
//!   [`FakeApi::stall`]; [`FakeApi::stop`] and [`FakeApi::restart`] on the same port keeping
//!   every object and the history; [`FakeApi::requests`] counts per (verb, resource).
//!
//! What it does not model:
//! - No authentication, no RBAC beyond the deny switch, no admission, no defaulting, no
//!   validation (schema, CEL or otherwise), no immutable fields.
//! - No strategic merge patch (415). Server-side apply is a JSON merge patch that creates a
//!   missing object: no field managers or `managedFields`, no conflicts (`force` is ignored),
//!   lists are replaced whole instead of merged by their list-map keys, and fields left out of
//!   a later apply are kept rather than removed. `fieldManager` is still required, as on a
//!   real server.
//! - List ignores `limit`, `continue`, `resourceVersion` and `resourceVersionMatch`: it always
//!   returns everything current in one page.
//! - Updates without `metadata.resourceVersion` are unconditional for every kind; PUT never
//!   creates. Deletion is immediate: no finalizers, no `deletionTimestamp`, no graceful period,
//!   no garbage collection, no namespace cascade; namespaces need not exist.
//! - No `dryRun` (400), no `/scale` or other subresources, no deprecated `/watch/` paths, no
//!   aggregated discovery, no protobuf or CBOR, no HTTP/2, no TLS.
//! - Watch: history is a count of events, not a time window; a watch from a version newer than
//!   the current one starts at once instead of waiting.

mod discovery;
mod error;
mod faults;
mod handle;
mod kinds;
mod patch;
mod query;
mod selector;
mod server;
mod store;
mod watch;

pub use error::ApiError;
pub use faults::{Verb, ANY_RESOURCE};
pub use handle::{Builder, FakeApi, DEFAULT_USER};
pub use kinds::{KindInfo, DEFAULT_KINDS};
