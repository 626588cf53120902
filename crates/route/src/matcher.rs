//! One compiled `RouteMatch`: its path (checked by the path index or, for regexes, here) and the
//! header, query and method conditions checked on each candidate.

use crate::config::{PathMatch, RouteMatch, StringMatch};
use crate::table::RequestInfo;
use http::header::{HeaderName, InvalidHeaderName};
use http::method::InvalidMethod;
use regex::Regex;

/// Why a route could not be compiled; becomes the `reason` of a `CompileError`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RouteError {
    #[error("invalid {what} regular expression {pattern:?}: {source}")]
    Regex {
        what: &'static str,
        pattern: String,
        #[source]
        source: Box<regex::Error>,
    },
    #[error("invalid header name {name:?}: {source}")]
    HeaderName {
        name: String,
        #[source]
        source: InvalidHeaderName,
    },
    #[error("invalid method {method:?}: {source}")]
    Method {
        method: String,
        #[source]
        source: InvalidMethod,
    },
}

/// A compiled match of one route on one listener.
#[derive(Debug)]
pub(crate) struct CompiledMatch {
    /// Index into `Table::routes`.
    pub(crate) route: usize,
    /// Index into `Table::listeners`.
    pub(crate) listener: usize,
    /// Ingress route: a `*.` hostname covers exactly one label.
    pub(crate) one_label: bool,
    pub(crate) path: CompiledPath,
    pub(crate) conditions: Conditions,
}

#[derive(Debug)]
pub(crate) enum CompiledPath {
    Exact(Box<str>),
    /// The prefix without trailing slashes; `/` becomes the empty string.
    Prefix(Box<str>),
    /// Anchored at both ends.
    Regex(Regex),
    /// Every path, ranked after every regex: a GRPCRoute match naming neither service nor
    /// method. gRPC precedence counts matched service and method characters, so a match on a
    /// method alone (a regex here) must beat it, where an HTTP `/` prefix would beat a regex.
    Any,
}

impl CompiledPath {
    pub(crate) fn compile(path: &PathMatch) -> Result<CompiledPath, RouteError> {
        Ok(match path {
            PathMatch::Exact(p) => CompiledPath::Exact(p.as_str().into()),
            PathMatch::Prefix(p) => CompiledPath::Prefix(normalize_prefix(p).into()),
            PathMatch::RegularExpression(re) => CompiledPath::Regex(whole_match_regex("path", re)?),
        })
    }
}

/// Element-wise prefixes ignore a trailing slash: `/foo/` behaves exactly like `/foo`, and `/`
/// (the empty prefix) matches every path.
pub(crate) fn normalize_prefix(prefix: &str) -> &str {
    prefix.trim_end_matches('/')
}

/// Header, query and method conditions of one match (AND).
#[derive(Debug)]
pub(crate) struct Conditions {
    method: Option<http::Method>,
    headers: Box<[HeaderCondition]>,
    query: Box<[QueryCondition]>,
}

#[derive(Debug)]
struct HeaderCondition {
    name: HeaderName,
    value: ValueCondition,
}

#[derive(Debug)]
struct QueryCondition {
    name: Box<str>,
    value: ValueCondition,
}

#[derive(Debug)]
enum ValueCondition {
    Exact(Box<str>),
    Regex(Regex),
}

impl Conditions {
    pub(crate) fn compile(m: &RouteMatch) -> Result<Conditions, RouteError> {
        let method = m.method.as_deref().map(compile_method).transpose()?;
        // Every entry is validated, but only the first per name is kept for matching.
        let mut headers: Vec<HeaderCondition> = Vec::with_capacity(m.headers.len());
        for h in &m.headers {
            let name =
                HeaderName::from_bytes(h.name.as_bytes()).map_err(|source| RouteError::HeaderName {
                    name: h.name.clone(),
                    source,
                })?;
            let value = ValueCondition::compile("header", &h.value)?;
            if !headers.iter().any(|kept| kept.name == name) {
                headers.push(HeaderCondition { name, value });
            }
        }
        let mut query: Vec<QueryCondition> = Vec::with_capacity(m.query.len());
        for q in &m.query {
            let value = ValueCondition::compile("query", &q.value)?;
            if !query.iter().any(|kept| *kept.name == *q.name) {
                query.push(QueryCondition {
                    name: q.name.as_str().into(),
                    value,
                });
            }
        }
        Ok(Conditions {
            method,
            headers: headers.into(),
            query: query.into(),
        })
    }

    /// Number of header names matched, for precedence. Gateway API: when several entries name
    /// the same header (or query parameter), only the first counts.
    pub(crate) fn header_count(&self) -> usize {
        self.headers.len()
    }

    pub(crate) fn query_count(&self) -> usize {
        self.query.len()
    }

    pub(crate) fn has_method(&self) -> bool {
        self.method.is_some()
    }

    /// Whether the request satisfies every condition. No allocation.
    pub(crate) fn pass(&self, req: &RequestInfo<'_>) -> bool {
        if let Some(method) = &self.method {
            if method != req.method {
                return false;
            }
        }
        self.headers.iter().all(|h| {
            // A header sent several times is matched on its first value.
            req.headers
                .get(&h.name)
                .is_some_and(|v| h.value.matches_bytes(v.as_bytes()))
        }) && self.query.iter().all(|q| {
            req.query
                .and_then(|raw| query_param(raw, &q.name))
                .is_some_and(|v| q.value.matches_bytes(v.as_bytes()))
        })
    }
}

fn compile_method(method: &str) -> Result<http::Method, RouteError> {
    http::Method::from_bytes(method.as_bytes()).map_err(|source| RouteError::Method {
        method: method.to_owned(),
        source,
    })
}

impl ValueCondition {
    fn compile(what: &'static str, value: &StringMatch) -> Result<ValueCondition, RouteError> {
        Ok(match value {
            StringMatch::Exact(v) => ValueCondition::Exact(v.as_str().into()),
            StringMatch::RegularExpression(re) => ValueCondition::Regex(whole_match_regex(what, re)?),
        })
    }

    fn matches_bytes(&self, value: &[u8]) -> bool {
        match self {
            ValueCondition::Exact(v) => v.as_bytes() == value,
            // A value that is not UTF-8 cannot match a text regex.
            ValueCondition::Regex(re) => std::str::from_utf8(value).is_ok_and(|s| re.is_match(s)),
        }
    }
}

/// Gateway API regexes match the whole string, so the pattern is anchored at both ends; the
/// group keeps an alternation like `a|b` from escaping the anchors.
fn whole_match_regex(what: &'static str, pattern: &str) -> Result<Regex, RouteError> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|source| RouteError::Regex {
        what,
        pattern: pattern.to_owned(),
        source: Box::new(source),
    })
}

/// Value of the first `name` parameter in a raw query string, without percent-decoding: names
/// and values are compared exactly as sent (`a%20b` does not equal `a b`). A parameter without
/// `=` has the empty value.
pub(crate) fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}
