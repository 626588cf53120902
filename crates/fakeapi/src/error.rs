//! API errors, rendered as the real server's `Status` objects (`kind: Status`, `reason`, `code`,
//! `details`), so `kube::Error::Api` carries what a real cluster would send.

use serde_json::{json, Value};

use crate::kinds::KindInfo;

/// An error the fake answers with (and the handle returns). `code` is the HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code, as in `Status.code`.
    pub code: u16,
    /// `Status.reason`, e.g. `"Conflict"`.
    pub reason: &'static str,
    /// `Status.message`, worded as the real server words it.
    pub message: String,
    /// `Status.details` (name, group, kind), when the real server sends them.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, kind: &KindInfo, name: Option<&str>) -> Self {
        let mut d = json!({ "group": kind.group, "kind": kind.plural });
        if let Some(n) = name {
            d["name"] = json!(n);
        }
        self.details = Some(d);
        self
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 404 for a path no registered (or installed) resource serves.
    pub fn no_resource() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 404 for a missing object.
    pub fn not_found(kind: &KindInfo, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", kind.qualified()),
        )
        .with_details(kind, Some(name))
    }

    /// 409 AlreadyExists on create.
    pub fn already_exists(kind: &KindInfo, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", kind.qualified()),
        )
        .with_details(kind, Some(name))
    }

    /// 409 Conflict on a stale `resourceVersion` (or failed precondition).
    pub fn conflict(kind: &KindInfo, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                kind.qualified()
            ),
        )
        .with_details(kind, Some(name))
    }

    /// 403 Forbidden, worded as the RBAC authorizer words it.
    pub fn forbidden(
        user: &str,
        verb: &str,
        kind_group: &str,
        resource: &str,
        qualified: &str,
        name: Option<&str>,
        namespace: Option<&str>,
    ) -> Self {
        let subject = match name {
            Some(n) => format!("{qualified} \"{n}\""),
            None => qualified.to_string(),
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        let mut details =
            json!({ "group": kind_group, "kind": resource.split('/').next().unwrap_or(resource) });
        if let Some(n) = name {
            details["name"] = json!(n);
        }
        ApiError {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{kind_group}\" {scope}"
            ),
            details: Some(details),
        }
    }

    /// 405 for a verb the resource does not support here.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 410 Expired: a watch from a `resourceVersion` older than the kept history.
    pub fn gone(requested: u64, oldest: u64) -> Self {
        Self::new(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    /// 415 for a patch type the fake does not implement.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type:?})"),
        )
    }

    /// 422 Invalid.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    /// 413 for a request body over the fake's limit.
    pub fn too_large() -> Self {
        Self::new(413, "RequestEntityTooLarge", "request entity too large")
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}
