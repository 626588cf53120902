//! Fault switches and request counters, keyed by (verb, resource) the way RBAC names them:
//! `resource` is the plural (`"gateways"`) or plural and subresource (`"gateways/status"`).

use std::collections::{HashMap, HashSet};
use std::fmt;

/// An API verb, as RBAC and the audit log name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection with `watch=true`.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH (including server-side apply).
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

impl Verb {
    /// The lowercase RBAC name (`"deletecollection"` for [`Verb::DeleteCollection`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The resource that denies or counts every resource.
pub const ANY_RESOURCE: &str = "*";

#[derive(Default)]
pub(crate) struct Faults {
    denied: HashSet<(Verb, String)>,
    missing_groups: HashSet<String>,
    counts: HashMap<(Verb, String), u64>,
}

impl Faults {
    pub(crate) fn set_denied(&mut self, verb: Verb, resource: &str, denied: bool) {
        let key = (verb, resource.to_string());
        if denied {
            self.denied.insert(key);
        } else {
            self.denied.remove(&key);
        }
    }

    pub(crate) fn is_denied(&self, verb: Verb, resource: &str) -> bool {
        self.denied.contains(&(verb, resource.to_string()))
            || self.denied.contains(&(verb, ANY_RESOURCE.to_string()))
    }

    pub(crate) fn set_group_installed(&mut self, group: &str, installed: bool) {
        if installed {
            self.missing_groups.remove(group);
        } else {
            self.missing_groups.insert(group.to_string());
        }
    }

    pub(crate) fn group_installed(&self, group: &str) -> bool {
        !self.missing_groups.contains(group)
    }

    pub(crate) fn count(&mut self, verb: Verb, resource: &str) {
        *self.counts.entry((verb, resource.to_string())).or_default() += 1;
    }

    /// Requests seen for (verb, resource); [`ANY_RESOURCE`] sums over every resource.
    pub(crate) fn requests(&self, verb: Verb, resource: &str) -> u64 {
        if resource == ANY_RESOURCE {
            return self
                .counts
                .iter()
                .filter(|((v, _), _)| *v == verb)
                .map(|(_, n)| n)
                .sum();
        }
        self.counts
            .get(&(verb, resource.to_string()))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn reset_counts(&mut self) {
        self.counts.clear();
    }
}
