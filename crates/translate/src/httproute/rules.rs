//! HTTPRoute rules to IR routes: matches, filters (rule and backendRef level), timeouts, retry
//! and backends. A rule that cannot be expressed (invalid regex, bad duration, bad filter) is
//! dropped with a [`RuleError`] the route's status reports.
//!
//! GRPCRoute rules use [`valid_regex`] and [`convert_backends`] too: their backendRefs have the
//! same fields, and are read as HTTPRoute ones through [`filters::reread`].

mod retry;

use super::filters::{self, Context, Filters, Level};
use crate::attach::{Rules, HTTP_ROUTE};
use crate::backends::{route_backend_ref, RefProblem, Resolver};
use crate::meta;
use fairlead_route::{
    Backend, HeaderMatch, PathMatch, QueryMatch, Route, RouteKind, RouteMatch, RouteOrder, StringMatch,
    Timeouts,
};
use gateway_api::experimental::httproutes::{
    HttpRoute, HttpRouteRules, HttpRouteRulesBackendRefs, HttpRouteRulesMatches,
    HttpRouteRulesMatchesHeadersType as HeaderType, HttpRouteRulesMatchesMethod as Method,
    HttpRouteRulesMatchesPathType as PathType, HttpRouteRulesMatchesQueryParamsType as QueryType,
    HttpRouteRulesTimeouts,
};
use std::str::FromStr;

/// Why a rule was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RuleError {
    #[error("{field}: invalid regular expression {pattern:?}: {reason}")]
    InvalidRegex {
        field: String,
        pattern: String,
        reason: String,
    },
    #[error("{field}: path {value:?} must start with '/'")]
    RelativePath { field: String, value: String },
    #[error("{field}: invalid duration {value:?}: {reason}")]
    InvalidDuration {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "timeouts.backendRequest ({backend_ms}ms) must not be longer than timeouts.request ({request_ms}ms)"
    )]
    BackendTimeoutTooLong { backend_ms: u64, request_ms: u64 },
    #[error("{field}: {reason}")]
    InvalidFilter { field: String, reason: String },
    #[error("retry.{reason}")]
    InvalidRetry { reason: String },
    /// A GRPCRoute (or backendRef-level) item that does not read as its HTTPRoute counterpart;
    /// the generated types share their fields, so this means they have drifted apart.
    #[error("{field}: not a valid HTTPRoute {what}: {reason}")]
    Unreadable {
        field: String,
        what: &'static str,
        reason: String,
    },
}

/// A rule's backends, with what the status must report about them.
#[derive(Default)]
pub(crate) struct Backends {
    pub backends: Vec<Backend>,
    /// `backendRefs[i].filters[j]: filter <name>` for every [`fairlead_route::Filter::Unsupported`]
    /// among the backends' filters.
    pub unsupported: Vec<String>,
    /// Backends, and mirrors in their filters, that did not resolve.
    pub ref_problems: Vec<RefProblem>,
}

/// One valid rule and what its status needs to say.
struct ConvertedRule {
    route: Route,
    unsupported: Vec<String>,
    ref_problems: Vec<RefProblem>,
}

/// Converts every rule of the route. A rule that fails validation is left out and named in
/// `invalid`; the others become routes, whatever their backends resolve to.
pub(crate) fn convert(route: &HttpRoute, resolver: &mut Resolver<'_>) -> Rules {
    // The API server defaults an absent rules list to one rule matching every path.
    let default_rules = [HttpRouteRules::default()];
    let rules = route.spec.rules.as_deref().unwrap_or(&default_rules);
    let mut out = Rules::default();
    for (index, rule) in rules.iter().enumerate() {
        match convert_rule(route, index, rule, resolver) {
            Ok(converted) => {
                out.unsupported.extend(
                    converted
                        .unsupported
                        .into_iter()
                        .map(|u| format!("rule {index}: {u}")),
                );
                out.ref_problems.extend(converted.ref_problems);
                out.routes.push(converted.route);
            }
            Err(err) => out.invalid.push(format!("rule {index}: {err}")),
        }
    }
    out
}

fn convert_rule(
    route: &HttpRoute,
    index: usize,
    rule: &HttpRouteRules,
    resolver: &mut Resolver<'_>,
) -> Result<ConvertedRule, RuleError> {
    let ns = meta::namespace(&route.metadata);
    let name = meta::name(&route.metadata);
    let matches = convert_matches(rule.matches.as_deref().unwrap_or_default())?;
    let timeouts = convert_timeouts(rule.timeouts.as_ref())?;
    let retry = rule.retry.as_ref().map(retry::convert).transpose()?;
    let backend_refs = rule.backend_refs.as_deref().unwrap_or_default();
    let mut ctx = Context {
        from_kind: HTTP_ROUTE,
        namespace: ns,
        all_prefix: matches.iter().all(|m| matches!(m.path, PathMatch::Prefix(_))),
        resolver,
    };
    let level = Level::Rule {
        has_backends: !backend_refs.is_empty(),
    };
    let Filters {
        filters,
        mut unsupported,
        mut ref_problems,
    } = filters::convert(
        "filters",
        rule.filters.as_deref().unwrap_or_default(),
        level,
        &mut ctx,
    )?;
    unsupported = unsupported
        .into_iter()
        .map(|u| format!("{u} is not supported, so the rule answers 500"))
        .collect();
    let backends = convert_backends(backend_refs, &mut ctx)?;
    unsupported.extend(
        backends
            .unsupported
            .into_iter()
            .map(|u| format!("{u} is not supported, so requests sent to that backend answer 500")),
    );
    ref_problems.extend(backends.ref_problems);
    Ok(ConvertedRule {
        route: Route {
            id: format!("httproute/{ns}/{name}/rule/{index}"),
            kind: RouteKind::HttpRoute,
            hostnames: Vec::new(),
            matches,
            filters,
            backends: backends.backends,
            timeouts,
            retry,
            order: RouteOrder {
                created: meta::created(&route.metadata),
                namespace: ns.to_string(),
                name: name.to_string(),
                rule: u32::try_from(index).unwrap_or(u32::MAX),
            },
        },
        unsupported,
        ref_problems,
    })
}

/// Converts a rule's backendRefs: each one's own filters (an invalid one fails the rule), then
/// the reference, resolved for routes of `ctx.from_kind`.
pub(crate) fn convert_backends(
    refs: &[HttpRouteRulesBackendRefs],
    ctx: &mut Context<'_, '_>,
) -> Result<Backends, RuleError> {
    let mut out = Backends::default();
    for (i, backend) in refs.iter().enumerate() {
        let field = format!("backendRefs[{i}].filters");
        let own = filters::convert_list(
            &field,
            backend.filters.as_deref().unwrap_or_default(),
            Level::Backend,
            ctx,
        )?;
        out.unsupported.extend(own.unsupported);
        out.ref_problems.extend(own.ref_problems);
        // Negative weights are rejected by the API server; read them as "never".
        let weight = backend.weight.map_or(1, |w| u32::try_from(w).unwrap_or(0));
        let reference = route_backend_ref!(backend, ctx.namespace, weight);
        let (mut resolved, problem) = ctx
            .resolver
            .route_backend(ctx.from_kind, ctx.namespace, &reference);
        resolved.filters = own.filters;
        out.backends.push(resolved);
        out.ref_problems.extend(problem);
    }
    Ok(out)
}

fn convert_matches(matches: &[HttpRouteRulesMatches]) -> Result<Vec<RouteMatch>, RuleError> {
    matches
        .iter()
        .enumerate()
        .map(|(i, m)| convert_match(i, m))
        .collect()
}

fn convert_match(index: usize, m: &HttpRouteRulesMatches) -> Result<RouteMatch, RuleError> {
    let field = format!("matches[{index}]");
    let path = match &m.path {
        None => PathMatch::Prefix("/".into()),
        Some(path) => {
            let value = path.value.clone().unwrap_or_else(|| "/".into());
            let field = format!("{field}.path");
            match path.r#type.as_ref().unwrap_or(&PathType::PathPrefix) {
                PathType::PathPrefix => PathMatch::Prefix(absolute(&field, value)?),
                PathType::Exact => PathMatch::Exact(absolute(&field, value)?),
                PathType::RegularExpression => PathMatch::RegularExpression(valid_regex(&field, &value)?),
            }
        }
    };
    let mut headers = Vec::new();
    for (i, h) in m.headers.iter().flatten().enumerate() {
        let value = match h.r#type.as_ref().unwrap_or(&HeaderType::Exact) {
            HeaderType::Exact => StringMatch::Exact(h.value.clone()),
            HeaderType::RegularExpression => {
                StringMatch::RegularExpression(valid_regex(&format!("{field}.headers[{i}]"), &h.value)?)
            }
        };
        headers.push(HeaderMatch {
            name: h.name.to_ascii_lowercase(),
            value,
        });
    }
    let mut query = Vec::new();
    for (i, q) in m.query_params.iter().flatten().enumerate() {
        let value = match q.r#type.as_ref().unwrap_or(&QueryType::Exact) {
            QueryType::Exact => StringMatch::Exact(q.value.clone()),
            QueryType::RegularExpression => {
                StringMatch::RegularExpression(valid_regex(&format!("{field}.queryParams[{i}]"), &q.value)?)
            }
        };
        query.push(QueryMatch {
            name: q.name.clone(),
            value,
        });
    }
    Ok(RouteMatch {
        path,
        headers,
        query,
        method: m.method.as_ref().map(|m| method_name(m).to_string()),
    })
}

fn method_name(method: &Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
    }
}

fn absolute(field: &str, value: String) -> Result<String, RuleError> {
    if value.starts_with('/') {
        Ok(value)
    } else {
        Err(RuleError::RelativePath {
            field: field.to_string(),
            value,
        })
    }
}

/// Checks a pattern in the anchored form the route compiler uses, so a rule the compiler would
/// reject is reported here, against the field the user wrote.
pub(crate) fn valid_regex(field: &str, pattern: &str) -> Result<String, RuleError> {
    match regex::Regex::new(&format!("^(?:{pattern})$")) {
        Ok(_) => Ok(pattern.to_string()),
        Err(err) => {
            // regex's syntax errors span several lines (pattern, caret, message): keep the message.
            let text = err.to_string();
            let reason = text
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("invalid")
                .to_string();
            Err(RuleError::InvalidRegex {
                field: field.to_string(),
                pattern: pattern.to_string(),
                reason,
            })
        }
    }
}

fn convert_timeouts(timeouts: Option<&HttpRouteRulesTimeouts>) -> Result<Timeouts, RuleError> {
    let Some(timeouts) = timeouts else {
        return Ok(Timeouts::default());
    };
    let request_ms = timeout_ms("timeouts.request", timeouts.request.as_deref())?;
    let backend_request_ms = timeout_ms("timeouts.backendRequest", timeouts.backend_request.as_deref())?;
    if let (Some(backend_ms), Some(request_ms)) = (backend_request_ms, request_ms) {
        if backend_ms > request_ms {
            return Err(RuleError::BackendTimeoutTooLong {
                backend_ms,
                request_ms,
            });
        }
    }
    Ok(Timeouts {
        request_ms,
        backend_request_ms,
    })
}

/// A timeout in milliseconds. Zero disables the timeout, as the spec says, so it maps to "no
/// timeout" rather than to an instant one.
fn timeout_ms(field: &'static str, value: Option<&str>) -> Result<Option<u64>, RuleError> {
    let Some(value) = value else {
        return Ok(None);
    };
    duration(field, value).map(|ms| (ms != 0).then_some(ms))
}

/// A Gateway API duration (`500ms`, `10s`, `1h30m`, GEP-2257) in milliseconds.
fn duration(field: &'static str, value: &str) -> Result<u64, RuleError> {
    let parsed = gateway_api::Duration::from_str(value).map_err(|reason| RuleError::InvalidDuration {
        field,
        value: value.to_string(),
        reason,
    })?;
    Ok(u64::try_from(parsed.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_convert_to_milliseconds() {
        assert_eq!(timeout_ms("request", Some("500ms")), Ok(Some(500)));
        assert_eq!(timeout_ms("request", Some("10s")), Ok(Some(10_000)));
        assert_eq!(timeout_ms("request", Some("1m")), Ok(Some(60_000)));
        assert_eq!(timeout_ms("request", Some("1h30m")), Ok(Some(5_400_000)));
        assert_eq!(timeout_ms("request", Some("0s")), Ok(None));
        assert_eq!(timeout_ms("request", None), Ok(None));
        assert_eq!(duration("retry.backoff", "0s"), Ok(0));
    }

    #[test]
    fn malformed_durations_are_errors() {
        for bad in ["10", "1d", "-1s", "1.5s", "", "10 s"] {
            assert!(
                timeout_ms("request", Some(bad)).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn regex_errors_keep_the_message_on_one_line() {
        let err = valid_regex("matches[0].path", "(").unwrap_err();
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(
            text.starts_with("matches[0].path: invalid regular expression \"(\""),
            "{text}"
        );
    }
}
