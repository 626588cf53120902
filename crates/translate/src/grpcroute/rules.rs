//! GRPCRoute rules to IR routes (`RouteKind::GrpcRoute`, id `grpcroute/{ns}/{name}/rule/{i}`).
//!
//! A gRPC call is an HTTP/2 POST to `/{service}/{method}`, so method matches become path
//! matches:
//!
//! | method match                      | path match                                   |
//! |-----------------------------------|----------------------------------------------|
//! | Exact, service and method         | `Exact("/{service}/{method}")`               |
//! | Exact, service only               | `Prefix("/{service}")` (element-wise)        |
//! | Exact, method only                | `RegularExpression("/[^/]+/{method}")`       |
//! | RegularExpression                 | `RegularExpression("/(?:{s})/(?:{m})")`, `[^/]+` for the one not set |
//! | none                              | `Prefix("/")`: every call                    |
//!
//! Header matches become header matches (names lowercased; of several entries with the same
//! name only the first counts, as the spec says). Backends and mirrors speak h2c: the resolver
//! defaults a GRPCRoute's Service ports to it, since gRPC needs HTTP/2.
//!
//! Filters and backendRefs go through HTTPRoute's conversion ([`crate::httproute`]): GRPCRoute
//! uses the same header modifier and mirror types, so header names, mirror shares and mirror
//! resolution are validated once; that conversion also rejects the filter types GRPCRoute does
//! not allow.
//!
//! Precedence: the route table ranks Exact paths, then prefixes (longest first), then regexes,
//! then the header count, then age and name. The spec ranks by hostname, then the number of
//! characters in the matched service, then in the method, then the header count. The two agree
//! wherever the matched service is written literally: service and method beats service only,
//! a longer service beats a shorter one, and a literal service beats none. They differ for
//! matches without a literal service: a method-only or RegularExpression match ranks below
//! every service-only match and below a rule without matches (`Prefix("/")`), where the spec
//! would put a method-only match above a rule without matches.

use crate::attach::{Rules, GRPC_ROUTE};
use crate::backends::Resolver;
use crate::httproute::filters::{self, Context, Filters, Level};
use crate::httproute::rules::{convert_backends, valid_regex, Backends, RuleError as SharedError};
use crate::meta;
use fairlead_route::{
    HeaderMatch, PathMatch, Route, RouteKind, RouteMatch, RouteOrder, StringMatch, Timeouts,
};
use gateway_api::grpcroutes::{
    GrpcRoute, GrpcRouteRules, GrpcRouteRulesMatches, GrpcRouteRulesMatchesHeadersType as HeaderType,
    GrpcRouteRulesMatchesMethod, GrpcRouteRulesMatchesMethodType as MethodType,
};

/// Why a rule was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RuleError {
    #[error("{field}: one or both of service and method must be set")]
    EmptyMethodMatch { field: String },
    #[error("{field}: {value:?} is not a valid gRPC {what} name")]
    InvalidName {
        field: String,
        what: &'static str,
        value: String,
    },
    /// A check shared with HTTPRoute: regexes, filters, backendRefs.
    #[error(transparent)]
    Shared(#[from] SharedError),
}

/// Converts every rule of the route; a rule that cannot be expressed is dropped and named in
/// [`Rules::invalid`].
pub(crate) fn convert(route: &GrpcRoute, resolver: &mut Resolver<'_>) -> Rules {
    let ns = meta::namespace(&route.metadata);
    let name = meta::name(&route.metadata);
    let mut out = Rules::default();
    for (index, rule) in route.spec.rules.iter().flatten().enumerate() {
        let (matches, filters, backends) = match convert_rule(rule, ns, resolver) {
            Ok(parts) => parts,
            Err(err) => {
                out.invalid.push(format!("rule {index}: {err}"));
                continue;
            }
        };
        for what in filters.unsupported {
            out.unsupported.push(format!(
                "rule {index}: {what} is not supported, so requests it applies to fail"
            ));
        }
        out.ref_problems.extend(filters.ref_problems);
        out.ref_problems.extend(backends.ref_problems);
        out.unsupported
            .extend(backends.unsupported.into_iter().map(|what| {
                format!("rule {index}: {what} is not supported, so requests sent to that backend fail")
            }));
        out.routes.push(Route {
            id: format!("grpcroute/{ns}/{name}/rule/{index}"),
            kind: RouteKind::GrpcRoute,
            hostnames: Vec::new(),
            matches,
            filters: filters.filters,
            backends: backends.backends,
            timeouts: Timeouts::default(),
            retry: None,
            order: RouteOrder {
                created: meta::created(&route.metadata),
                namespace: ns.to_string(),
                name: name.to_string(),
                rule: u32::try_from(index).unwrap_or(u32::MAX),
            },
        });
    }
    out
}

fn convert_rule(
    rule: &GrpcRouteRules,
    ns: &str,
    resolver: &mut Resolver<'_>,
) -> Result<(Vec<RouteMatch>, Filters, Backends), RuleError> {
    let matches = rule
        .matches
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, m)| convert_match(i, m))
        .collect::<Result<Vec<_>, _>>()?;
    let backend_refs = filters::reread(
        "backendRefs",
        "backendRef",
        rule.backend_refs.as_deref().unwrap_or_default(),
    )?;
    let mut ctx = Context {
        from_kind: GRPC_ROUTE,
        namespace: ns,
        // Only URLRewrite and RequestRedirect read this, and GRPCRoute allows neither.
        all_prefix: false,
        resolver,
    };
    let level = Level::Rule {
        has_backends: !backend_refs.is_empty(),
    };
    let rule_filters = filters::convert_list(
        "filters",
        rule.filters.as_deref().unwrap_or_default(),
        level,
        &mut ctx,
    )?;
    let backends = convert_backends(&backend_refs, &mut ctx)?;
    Ok((matches, rule_filters, backends))
}

fn convert_match(index: usize, m: &GrpcRouteRulesMatches) -> Result<RouteMatch, RuleError> {
    let field = format!("matches[{index}]");
    let path = match &m.method {
        None => PathMatch::Prefix("/".into()),
        Some(method) => method_path(&format!("{field}.method"), method)?,
    };
    let mut headers: Vec<HeaderMatch> = Vec::new();
    for (i, h) in m.headers.iter().flatten().enumerate() {
        let name = h.name.to_ascii_lowercase();
        if headers.iter().any(|existing| existing.name == name) {
            continue;
        }
        let value = match h.r#type.as_ref().unwrap_or(&HeaderType::Exact) {
            HeaderType::Exact => StringMatch::Exact(h.value.clone()),
            HeaderType::RegularExpression => {
                StringMatch::RegularExpression(valid_regex(&format!("{field}.headers[{i}].value"), &h.value)?)
            }
        };
        headers.push(HeaderMatch { name, value });
    }
    Ok(RouteMatch {
        path,
        headers,
        query: Vec::new(),
        method: None,
    })
}

fn method_path(field: &str, m: &GrpcRouteRulesMatchesMethod) -> Result<PathMatch, RuleError> {
    // The spec treats an empty string like an unset field.
    let service = m.service.as_deref().filter(|s| !s.is_empty());
    let method = m.method.as_deref().filter(|s| !s.is_empty());
    if service.is_none() && method.is_none() {
        return Err(RuleError::EmptyMethodMatch {
            field: field.to_string(),
        });
    }
    match m.r#type.as_ref().unwrap_or(&MethodType::Exact) {
        MethodType::Exact => {
            if let Some(s) = service.filter(|s| !valid_service(s)) {
                return Err(invalid_name(field, "service", s));
            }
            if let Some(m) = method.filter(|m| !valid_identifier(m)) {
                return Err(invalid_name(field, "method", m));
            }
            Ok(match (service, method) {
                (Some(s), Some(m)) => PathMatch::Exact(format!("/{s}/{m}")),
                (Some(s), None) => PathMatch::Prefix(format!("/{s}")),
                (None, m) => {
                    PathMatch::RegularExpression(format!("/[^/]+/{}", regex::escape(m.unwrap_or_default())))
                }
            })
        }
        MethodType::RegularExpression => {
            let part = |name: &str, value: Option<&str>| -> Result<String, RuleError> {
                match value {
                    Some(re) => Ok(format!("(?:{})", valid_regex(&format!("{field}.{name}"), re)?)),
                    None => Ok("[^/]+".to_string()),
                }
            };
            let pattern = format!("/{}/{}", part("service", service)?, part("method", method)?);
            Ok(PathMatch::RegularExpression(valid_regex(field, &pattern)?))
        }
    }
}

fn invalid_name(field: &str, what: &'static str, value: &str) -> RuleError {
    RuleError::InvalidName {
        field: format!("{field}.{what}"),
        what,
        value: value.to_string(),
    }
}

/// The CEL rule on Exact services: dot-separated identifiers, optionally led by a dot.
fn valid_service(service: &str) -> bool {
    let service = service.strip_prefix('.').unwrap_or(service);
    service.split('.').all(valid_identifier)
}

/// The CEL rule on Exact methods (and each part of a service): `[A-Za-z_][A-Za-z_0-9]*`.
fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(service: Option<&str>, method: Option<&str>, regex: bool) -> GrpcRouteRulesMatchesMethod {
        GrpcRouteRulesMatchesMethod {
            service: service.map(str::to_string),
            method: method.map(str::to_string),
            r#type: Some(if regex {
                MethodType::RegularExpression
            } else {
                MethodType::Exact
            }),
        }
    }

    #[test]
    fn exact_method_matches_become_paths() {
        let path = |s, m| method_path("m", &method(s, m, false));
        assert_eq!(
            path(Some("pkg.Svc"), Some("Get")),
            Ok(PathMatch::Exact("/pkg.Svc/Get".into()))
        );
        assert_eq!(
            path(Some("pkg.Svc"), None),
            Ok(PathMatch::Prefix("/pkg.Svc".into()))
        );
        assert_eq!(
            path(None, Some("Get")),
            Ok(PathMatch::RegularExpression("/[^/]+/Get".into()))
        );
        assert_eq!(
            path(Some(""), Some("Get")),
            Ok(PathMatch::RegularExpression("/[^/]+/Get".into())),
            "an empty service is unset"
        );
    }

    #[test]
    fn regex_method_matches_group_each_part() {
        let path = |s, m| method_path("m", &method(s, m, true));
        assert_eq!(
            path(Some("a|b"), None),
            Ok(PathMatch::RegularExpression("/(?:a|b)/[^/]+".into()))
        );
        assert_eq!(
            path(None, Some("Get.*")),
            Ok(PathMatch::RegularExpression("/[^/]+/(?:Get.*)".into()))
        );
        assert!(matches!(
            path(Some("("), None),
            Err(RuleError::Shared(SharedError::InvalidRegex { ref field, .. })) if field == "m.service"
        ));
    }

    #[test]
    fn method_match_needs_service_or_method() {
        for regex in [false, true] {
            assert_eq!(
                method_path("m", &method(None, None, regex)),
                Err(RuleError::EmptyMethodMatch { field: "m".into() })
            );
            assert_eq!(
                method_path("m", &method(Some(""), Some(""), regex)),
                Err(RuleError::EmptyMethodMatch { field: "m".into() })
            );
        }
    }

    #[test]
    fn exact_names_follow_the_cel_rules() {
        assert!(valid_service("grpc.health.v1.Health"));
        assert!(valid_service(".leading.Dot"));
        assert!(valid_service("_x"));
        for bad in ["a..b", "a.", "1a", "a/b", "a-b", "a b", "."] {
            assert!(!valid_service(bad), "{bad}");
        }
        assert!(valid_identifier("Check"));
        assert!(!valid_identifier("Ch.eck"));
        assert!(!valid_identifier(""));
        assert!(matches!(
            method_path("m", &method(Some("a/b"), Some("M"), false)),
            Err(RuleError::InvalidName { what: "service", .. })
        ));
        assert!(matches!(
            method_path("m", &method(Some("a"), Some("M.x"), false)),
            Err(RuleError::InvalidName { what: "method", .. })
        ));
    }
}
