//! Status computed by translation for every object it looked at: the conditions each object
//! would carry in Kubernetes, in a Kubernetes-free shape. The admin `/status` endpoint shows it,
//! `fairlead check` prints it, and the Kubernetes status writer converts it to real status.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch as an RFC 3339 UTC timestamp (`YYYY-MM-DDTHH:MM:SSZ`), the form
/// Kubernetes uses for condition times; negative values are before 1970. Shared so the admin
/// server and certificate messages print times the same way.
pub fn rfc3339(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let rem = unix_secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The current time as [`rfc3339`] (a clock before 1970 reads as the epoch).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(i64::try_from(secs).unwrap_or(i64::MAX))
}

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

#[cfg(test)]
mod time_tests {
    use super::rfc3339;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(1_795_303_476), "2026-11-21T23:24:36Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
