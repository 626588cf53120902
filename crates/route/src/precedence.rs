//! Gateway API route precedence, expressed as one `Ord` on a per-match summary.
//!
//! The compiler sorts every candidate list by [`Precedence`]; lookup then takes the first
//! candidate whose conditions pass. Ingress v1 precedence (longest path wins, Exact beats Prefix
//! of equal length) is the same order restricted to what an Ingress can express.

use crate::config::{PathMatch, RouteOrder};
use crate::host::HostRank;
use crate::matcher::normalize_prefix;
use std::cmp::Reverse;

/// The sort key of one candidate (a route match under one of its hostnames). Smaller sorts
/// first, i.e. wins. The derived `Ord` compares fields top to bottom, so the field order IS the
/// precedence order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Precedence<'c> {
    /// 1. Exact hostname, then wildcards longest first, then routes without hostnames.
    pub(crate) host: HostRank,
    /// 2. Exact path, then prefixes longest first, then regexes.
    pub(crate) path: PathRank,
    /// 3. A method match before none.
    pub(crate) method: Reverse<bool>,
    /// 4. More header matches first.
    pub(crate) headers: Reverse<usize>,
    /// 5. More query matches first.
    pub(crate) query: Reverse<usize>,
    /// 6. Oldest creation time first, routes without one last; then namespace, name, rule.
    pub(crate) order: OrderKey<'c>,
    /// 7. Position of the match inside the route.
    pub(crate) match_index: usize,
    /// Config order of the match, so that equal keys (two routes sharing a `RouteOrder`) still
    /// resolve the same way every time.
    pub(crate) seq: usize,
}

/// How specifically a path matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PathRank {
    Exact,
    /// Length in characters of the prefix without its trailing slash.
    Prefix(Reverse<usize>),
    /// Gateway API leaves regex precedence to the implementation: fairlead puts every regex
    /// after every prefix (a regex's specificity cannot be measured by its length), and orders
    /// regexes among themselves by the remaining criteria.
    Regex,
    /// A GRPCRoute match with neither service nor method: after every regex.
    Any,
}

impl PathRank {
    pub(crate) fn of(path: &PathMatch) -> PathRank {
        match path {
            PathMatch::Exact(_) => PathRank::Exact,
            PathMatch::Prefix(p) => PathRank::Prefix(Reverse(normalize_prefix(p).chars().count())),
            PathMatch::RegularExpression(_) => PathRank::Regex,
        }
    }
}

/// [`RouteOrder`] with a missing creation time sorting last (plain `Option` sorts it first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OrderKey<'c> {
    created_missing: bool,
    created: Option<i64>,
    namespace: &'c str,
    name: &'c str,
    rule: u32,
}

impl<'c> OrderKey<'c> {
    pub(crate) fn of(order: &'c RouteOrder) -> OrderKey<'c> {
        OrderKey {
            created_missing: order.created.is_none(),
            created: order.created,
            namespace: &order.namespace,
            name: &order.name,
            rule: order.rule,
        }
    }
}
