//! Status computed by translation for every object it looked at: the conditions each object
//! would carry in Kubernetes, in a Kubernetes-free shape. The admin `/status` endpoint shows it,
//! `fairlead check` prints it, and the Kubernetes status writer converts it to real status.

use serde::{Deserialize, Serialize};

/// Status of every object translation considered, sorted by (kind, namespace, name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StatusReport {
    pub objects: Vec<ObjectStatus>,
}

impl StatusReport {
    /// Finds an object's status by kind, namespace and name.
    pub fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<&ObjectStatus> {
        self.objects.iter().find(|o| {
            o.object.kind == kind && o.object.namespace.as_deref() == namespace && o.object.name == name
        })
    }

    /// True when any condition anywhere in the report is a problem (see [`Condition::is_problem`]).
    pub fn has_problems(&self) -> bool {
        self.objects.iter().any(ObjectStatus::has_problems)
    }
}

/// Identifies a Kubernetes object.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectStatus {
    pub object: ObjectRef,
    /// metadata.generation the conditions were computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// Object-level conditions (GatewayClass, Gateway, Ingress).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Gateway listeners.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<ListenerStatus>,
    /// Route status per parentRef this controller owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<ParentStatus>,
    /// GatewayClass `status.supportedFeatures`: conformance feature names, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_features: Vec<String>,
}

impl ObjectStatus {
    pub fn has_problems(&self) -> bool {
        self.conditions.iter().any(Condition::is_problem)
            || self
                .listeners
                .iter()
                .any(|l| l.conditions.iter().any(Condition::is_problem))
            || self
                .parents
                .iter()
                .any(|p| p.conditions.iter().any(Condition::is_problem))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListenerStatus {
    pub name: String,
    pub attached_routes: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_kinds: Vec<String>,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ParentStatus {
    /// The parentRef as written: `namespace/name` plus `sectionName` / `port` when given.
    pub parent: ParentRef,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ParentRef {
    pub namespace: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// A Kubernetes-style condition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Condition {
    /// e.g. `Accepted`, `Programmed`, `ResolvedRefs`, `Conflicted`.
    #[serde(rename = "type")]
    pub type_: String,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Condition {
    pub fn new(type_: &str, status: bool, reason: &str, message: impl Into<String>) -> Self {
        Condition {
            type_: type_.into(),
            status,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// A condition that tells the user something is wrong: a positive-polarity condition that is
    /// False, or a negative-polarity one (`Conflicted`, `PartiallyInvalid`) that is True.
    pub fn is_problem(&self) -> bool {
        match self.type_.as_str() {
            "Conflicted" | "PartiallyInvalid" => self.status,
            _ => !self.status,
        }
    }
}
