//! The object store: objects as `serde_json::Value` keyed by (group, plural) and (namespace,
//! name), one global `resourceVersion` counter, and the write rules (create, update, patch,
//! delete, the status subresource, generation). Every write records an event for watchers.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::kinds::{KindInfo, Registry};
use crate::patch::{json_patch, merge_patch};
use crate::selector::{FieldSelector, LabelSelector};
use crate::watch::{EventType, History, Watchers};

/// Which part of an object a write targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sub {
    Main,
    Status,
}

/// Who writes: a client through HTTP (API rules apply) or the test handle (writes everything,
/// status included, without preconditions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Client,
    Handle,
}

/// The patch types the fake understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Merge,
    Json,
    Apply,
}

/// `DeleteOptions.preconditions`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

type ObjKey = (String, String);

pub(crate) struct Store {
    pub registry: Registry,
    pub rv: u64,
    objects: HashMap<(&'static str, &'static str), BTreeMap<ObjKey, Value>>,
    pub history: History,
    pub watchers: Watchers,
}

fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj)
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Runs `f` on the object's metadata map, creating it when missing.
fn with_meta(obj: &mut Value, f: impl FnOnce(&mut Map<String, Value>)) {
    let mut m = match obj.get_mut("metadata").map(Value::take) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    f(&mut m);
    if let Some(o) = obj.as_object_mut() {
        o.insert("metadata".into(), Value::Object(m));
    }
}

/// The object's `resourceVersion` as the store wrote it.
pub(crate) fn resource_version(obj: &Value) -> Option<&str> {
    meta_str(obj, "resourceVersion")
}

fn now() -> Value {
    let t = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    serde_json::to_value(t).unwrap_or(Value::Null)
}

fn new_uid() -> String {
    let h = |n: usize| -> String {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .collect()
    };
    format!("{}-{}-4{}-{}-{}", h(8), h(4), h(3), h(4), h(12))
}

/// The object as served at `version`: `apiVersion` and `kind` set.
pub(crate) fn render(obj: &Value, kind: &KindInfo, version: &str) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.insert("apiVersion".into(), json!(kind.api_version(version)));
        m.insert("kind".into(), json!(kind.kind));
    }
    o
}

/// Whether anything outside metadata (and outside status when status is a subresource) changed:
/// the CRD rule for bumping `metadata.generation`, used for every kind here.
fn spec_changed(old: &Value, new: &Value, kind: &KindInfo) -> bool {
    let strip = |v: &Value| {
        let mut m = v.as_object().cloned().unwrap_or_default();
        for k in ["metadata", "apiVersion", "kind"] {
            m.remove(k);
        }
        if kind.status_subresource {
            m.remove("status");
        }
        m
    };
    strip(old) != strip(new)
}

fn check_body(obj: &Value, kind: &KindInfo) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    match obj.get("kind").and_then(Value::as_str) {
        Some(k) if k != kind.kind => Err(ApiError::bad_request(format!(
            "the body kind {k:?} does not match the resource's kind {:?}",
            kind.kind
        ))),
        _ => Ok(()),
    }
}

fn scope_key(kind: &KindInfo, ns: Option<&str>) -> Result<String, ApiError> {
    match (kind.namespaced, ns) {
        (true, Some(ns)) => Ok(ns.to_string()),
        (false, None) => Ok(String::new()),
        _ => Err(ApiError::no_resource()),
    }
}

impl Store {
    pub(crate) fn new(registry: Registry, history_len: usize) -> Self {
        Store {
            registry,
            rv: 0,
            objects: HashMap::new(),
            history: History::new(history_len),
            watchers: Watchers::default(),
        }
    }

    fn bucket(&self, kind: &KindInfo) -> Option<&BTreeMap<ObjKey, Value>> {
        self.objects.get(&(kind.group, kind.plural))
    }

    pub(crate) fn get(&self, kind: &KindInfo, ns: Option<&str>, name: &str) -> Option<&Value> {
        let key = (ns.unwrap_or("").to_string(), name.to_string());
        self.bucket(kind)?.get(&key)
    }

    /// Objects of `kind` in `ns` (all namespaces when `None`) that match both selectors.
    pub(crate) fn list(
        &self,
        kind: &KindInfo,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Vec<&Value> {
        let Some(bucket) = self.bucket(kind) else {
            return Vec::new();
        };
        bucket
            .iter()
            .filter(|((n, _), _)| ns.is_none_or(|want| want == n))
            .map(|(_, v)| v)
            .filter(|v| labels.matches(v) && fields.matches(v))
            .collect()
    }

    fn record(&mut self, etype: EventType, kind: &KindInfo, object: Value, old: Option<Value>) {
        self.watchers.notify(kind, etype, &object, old.as_ref());
        self.history.push(self.rv, kind, etype, object, old);
    }

    pub(crate) fn create(
        &mut self,
        kind: &KindInfo,
        ns: Option<&str>,
        mut obj: Value,
        origin: Origin,
    ) -> Result<Value, ApiError> {
        check_body(&obj, kind)?;
        let scope = scope_key(kind, ns)?;
        if let (Some(path_ns), Some(body_ns)) = (ns, meta_str(&obj, "namespace")) {
            if path_ns != body_ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let name = match (meta_str(&obj, "name"), meta_str(&obj, "generateName")) {
            (Some(n), _) => n.to_string(),
            (None, Some(prefix)) => {
                let suffix: String = (0..5).map(|_| fastrand::lowercase()).collect();
                format!("{prefix}{suffix}")
            }
            (None, None) => {
                return Err(ApiError::invalid(format!(
                    "{} is invalid: metadata.name: Required value: name or generateName is required",
                    kind.kind
                )))
            }
        };
        let key = (scope, name.clone());
        if self.bucket(kind).is_some_and(|b| b.contains_key(&key)) {
            return Err(ApiError::already_exists(kind, &name));
        }
        if origin == Origin::Client && kind.status_subresource {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
        self.rv += 1;
        let rv = self.rv;
        with_meta(&mut obj, |m| {
            m.insert("name".into(), json!(name));
            if kind.namespaced {
                m.insert("namespace".into(), json!(key.0));
            } else {
                m.remove("namespace");
            }
            m.insert("resourceVersion".into(), json!(rv.to_string()));
            m.insert("uid".into(), json!(new_uid()));
            m.insert("creationTimestamp".into(), now());
            m.insert("generation".into(), json!(1));
        });
        let obj = render(&obj, kind, kind.preferred_version());
        self.objects
            .entry((kind.group, kind.plural))
            .or_default()
            .insert(key, obj.clone());
        self.record(EventType::Added, kind, obj.clone(), None);
        Ok(obj)
    }

    pub(crate) fn update(
        &mut self,
        kind: &KindInfo,
        ns: Option<&str>,
        name: &str,
        body: Value,
        sub: Sub,
        origin: Origin,
    ) -> Result<Value, ApiError> {
        check_body(&body, kind)?;
        let scope = scope_key(kind, ns)?;
        if let Some(n) = meta_str(&body, "name").filter(|n| *n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        if let (Some(path_ns), Some(body_ns)) = (ns, meta_str(&body, "namespace")) {
            if path_ns != body_ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let old = self
            .get(kind, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        let old_rv = resource_version(&old).unwrap_or("").to_string();
        if origin == Origin::Client && resource_version(&body).is_some_and(|rv| rv != old_rv) {
            return Err(ApiError::conflict(
                kind,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let take_status = |mut into: Value, from: &Value| {
            if let Some(m) = into.as_object_mut() {
                match from.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
            into
        };
        let mut new = match (origin, sub, kind.status_subresource) {
            (Origin::Handle, _, _) | (Origin::Client, Sub::Main, false) => body,
            (Origin::Client, Sub::Main, true) => take_status(body, &old),
            (Origin::Client, Sub::Status, _) => take_status(old.clone(), &body),
        };
        let generation = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let generation = if spec_changed(&old, &new, kind) {
            generation + 1
        } else {
            generation
        };
        with_meta(&mut new, |m| {
            for field in ["uid", "creationTimestamp"] {
                match old.pointer(&format!("/metadata/{field}")) {
                    Some(v) => m.insert(field.into(), v.clone()),
                    None => m.remove(field),
                };
            }
            m.insert("name".into(), json!(name));
            if kind.namespaced {
                m.insert("namespace".into(), json!(scope));
            }
            m.insert("generation".into(), json!(generation));
            m.insert("resourceVersion".into(), json!(old_rv));
        });
        let mut new = render(&new, kind, kind.preferred_version());
        // The real server skips writes that change nothing: no new resourceVersion, no event.
        if new == old {
            return Ok(old);
        }
        self.rv += 1;
        let rv = self.rv.to_string();
        with_meta(&mut new, |m| {
            m.insert("resourceVersion".into(), json!(rv));
        });
        if let Some(b) = self.objects.get_mut(&(kind.group, kind.plural)) {
            b.insert((scope, name.to_string()), new.clone());
        }
        self.record(EventType::Modified, kind, new.clone(), Some(old));
        Ok(new)
    }

    /// Applies a patch; returns the object and whether it was created (apply on a missing
    /// object creates it, as server-side apply does).
    pub(crate) fn patch(
        &mut self,
        kind: &KindInfo,
        ns: Option<&str>,
        name: &str,
        patch_kind: PatchKind,
        patch: Value,
        sub: Sub,
    ) -> Result<(Value, bool), ApiError> {
        if patch_kind == PatchKind::Apply {
            check_body(&patch, kind)?;
            if let Some(n) = meta_str(&patch, "name").filter(|n| *n != name) {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
        }
        let Some(old) = self.get(kind, ns, name).cloned() else {
            if patch_kind == PatchKind::Apply && sub == Sub::Main {
                let mut obj = patch;
                with_meta(&mut obj, |m| {
                    m.insert("name".into(), json!(name));
                });
                return self.create(kind, ns, obj, Origin::Client).map(|o| (o, true));
            }
            return Err(ApiError::not_found(kind, name));
        };
        let mut doc = old;
        match patch_kind {
            PatchKind::Merge | PatchKind::Apply => merge_patch(&mut doc, &patch),
            PatchKind::Json => json_patch(&mut doc, &patch)
                .map_err(|e| ApiError::invalid(format!("the JSON patch could not be applied: {e}")))?,
        }
        self.update(kind, ns, name, doc, sub, Origin::Client)
            .map(|o| (o, false))
    }

    pub(crate) fn delete(
        &mut self,
        kind: &KindInfo,
        ns: Option<&str>,
        name: &str,
        pre: &Preconditions,
    ) -> Result<Value, ApiError> {
        let scope = scope_key(kind, ns)?;
        let old = self
            .get(kind, ns, name)
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        if let Some(uid) = &pre.uid {
            let have = meta_str(old, "uid").unwrap_or("");
            if uid != have {
                return Err(ApiError::conflict(
                    kind,
                    name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"),
                ));
            }
        }
        if let Some(rv) = &pre.resource_version {
            let have = resource_version(old).unwrap_or("");
            if rv != have {
                return Err(ApiError::conflict(
                    kind,
                    name,
                    &format!("the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({have}). The object might have been modified"),
                ));
            }
        }
        let mut old = match self.objects.get_mut(&(kind.group, kind.plural)) {
            Some(b) => b.remove(&(scope, name.to_string())),
            None => None,
        }
        .ok_or_else(|| ApiError::not_found(kind, name))?;
        // The DELETED event carries the revision of the deletion, as etcd reports it.
        self.rv += 1;
        let rv = self.rv.to_string();
        with_meta(&mut old, |m| {
            m.insert("resourceVersion".into(), json!(rv));
        });
        self.record(EventType::Deleted, kind, old.clone(), None);
        Ok(old)
    }
}
