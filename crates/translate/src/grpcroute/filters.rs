//! GRPCRoute filters (rule level and backendRef level) to IR filters.
//!
//! GRPCRoute allows RequestHeaderModifier, ResponseHeaderModifier, RequestMirror and
//! ExtensionRef. The generated types for the two levels differ while carrying the same fields,
//! so each is first read into a [`FilterSpec`] and converted once from there.

use super::rules::RuleError;
use crate::backends::{BackendRef, PortRef, RefProblem, Resolver};
use fairlead_route::{BackendTarget, Filter, HeaderModifier, Mirror, UpstreamProtocol};
use gateway_api::grpcroutes::{
    GrpcRouteRulesBackendRefsFilters, GrpcRouteRulesBackendRefsFiltersType as BackendType,
    GrpcRouteRulesFilters, GrpcRouteRulesFiltersType as RuleType,
};

/// The request and response header modifiers are distinct generated types with the same fields.
macro_rules! header_modifier {
    ($m:expr) => {
        HeaderModifier {
            set: $m
                .set
                .iter()
                .flatten()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
            add: $m
                .add
                .iter()
                .flatten()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
            remove: $m.remove.clone().unwrap_or_default(),
        }
    };
}

/// A RequestMirror filter as written, from either level.
pub(crate) struct MirrorSpec<'a> {
    group: Option<&'a str>,
    kind: Option<&'a str>,
    namespace: Option<&'a str>,
    name: &'a str,
    port: Option<i32>,
    percent: Option<i32>,
    /// (numerator, denominator).
    fraction: Option<(i32, Option<i32>)>,
}

/// One filter as written, from either level.
pub(crate) enum FilterSpec<'a> {
    RequestHeaders(HeaderModifier),
    ResponseHeaders(HeaderModifier),
    Mirror(MirrorSpec<'a>),
    /// `group/kind name` of the target, when given.
    Extension(Option<String>),
    /// The type names a field that is not set.
    Missing {
        type_name: &'static str,
        field: &'static str,
    },
}

macro_rules! mirror_spec {
    ($m:expr) => {
        MirrorSpec {
            group: $m.backend_ref.group.as_deref(),
            kind: $m.backend_ref.kind.as_deref(),
            namespace: $m.backend_ref.namespace.as_deref(),
            name: &$m.backend_ref.name,
            port: $m.backend_ref.port,
            percent: $m.percent,
            fraction: $m.fraction.as_ref().map(|f| (f.numerator, f.denominator)),
        }
    };
}

pub(crate) fn rule_filter(f: &GrpcRouteRulesFilters) -> FilterSpec<'_> {
    let missing = |type_name, field| FilterSpec::Missing { type_name, field };
    match f.r#type {
        RuleType::RequestHeaderModifier => match &f.request_header_modifier {
            Some(m) => FilterSpec::RequestHeaders(header_modifier!(m)),
            None => missing("RequestHeaderModifier", "requestHeaderModifier"),
        },
        RuleType::ResponseHeaderModifier => match &f.response_header_modifier {
            Some(m) => FilterSpec::ResponseHeaders(header_modifier!(m)),
            None => missing("ResponseHeaderModifier", "responseHeaderModifier"),
        },
        RuleType::RequestMirror => match &f.request_mirror {
            Some(m) => FilterSpec::Mirror(mirror_spec!(m)),
            None => missing("RequestMirror", "requestMirror"),
        },
        RuleType::ExtensionRef => FilterSpec::Extension(
            f.extension_ref
                .as_ref()
                .map(|e| format!("{}/{} {}", e.group, e.kind, e.name)),
        ),
    }
}

pub(crate) fn backend_filter(f: &GrpcRouteRulesBackendRefsFilters) -> FilterSpec<'_> {
    let missing = |type_name, field| FilterSpec::Missing { type_name, field };
    match f.r#type {
        BackendType::RequestHeaderModifier => match &f.request_header_modifier {
            Some(m) => FilterSpec::RequestHeaders(header_modifier!(m)),
            None => missing("RequestHeaderModifier", "requestHeaderModifier"),
        },
        BackendType::ResponseHeaderModifier => match &f.response_header_modifier {
            Some(m) => FilterSpec::ResponseHeaders(header_modifier!(m)),
            None => missing("ResponseHeaderModifier", "responseHeaderModifier"),
        },
        BackendType::RequestMirror => match &f.request_mirror {
            Some(m) => FilterSpec::Mirror(mirror_spec!(m)),
            None => missing("RequestMirror", "requestMirror"),
        },
        BackendType::ExtensionRef => FilterSpec::Extension(
            f.extension_ref
                .as_ref()
                .map(|e| format!("{}/{} {}", e.group, e.kind, e.name)),
        ),
    }
}

/// Filters of one list, with what the status must report about them.
#[derive(Default)]
pub(crate) struct Converted {
    pub filters: Vec<Filter>,
    /// `field: filter ...` for every filter kept as [`Filter::Unsupported`].
    pub unsupported: Vec<String>,
    /// Mirror backends that could not be resolved (their filter is left out).
    pub ref_problems: Vec<RefProblem>,
}

/// Converts one filter list; `field` names it in messages (`filters`, `backendRefs[0].filters`).
/// An error is a filter the API server would have rejected: the rule is dropped.
pub(crate) fn convert(
    field: &str,
    specs: Vec<FilterSpec<'_>>,
    route_ns: &str,
    resolver: &mut Resolver<'_>,
) -> Result<Converted, RuleError> {
    let mut out = Converted::default();
    for (i, spec) in specs.into_iter().enumerate() {
        let field = format!("{field}[{i}]");
        let filter = match spec {
            FilterSpec::RequestHeaders(m) => Filter::RequestHeaderModifier(m),
            FilterSpec::ResponseHeaders(m) => Filter::ResponseHeaderModifier(m),
            FilterSpec::Mirror(m) => {
                let (numerator, denominator) = share(&field, &m)?;
                let reference = BackendRef {
                    group: m.group.unwrap_or_default(),
                    kind: m.kind.unwrap_or("Service"),
                    namespace: m.namespace.unwrap_or(route_ns),
                    name: m.name,
                    port: m.port.map_or(PortRef::Missing, PortRef::Number),
                    weight: 1,
                };
                let (backend, problem) = resolver.route_backend("GRPCRoute", route_ns, &reference);
                out.ref_problems.extend(problem.map(|p| RefProblem {
                    reason: p.reason,
                    message: format!("RequestMirror: {}", p.message),
                }));
                match backend.target {
                    BackendTarget::Service(mut service) => {
                        // Mirrored gRPC requests need HTTP/2 as much as the primary ones.
                        service.protocol = UpstreamProtocol::H2c;
                        Filter::RequestMirror(Mirror {
                            backend: service,
                            numerator,
                            denominator,
                        })
                    }
                    // The spec drops a mirror whose backend cannot be resolved, and the route's
                    // ResolvedRefs says why.
                    BackendTarget::Invalid { .. } => continue,
                }
            }
            FilterSpec::Extension(target) => {
                let target = target.map(|t| format!(" to {t}")).unwrap_or_default();
                out.unsupported
                    .push(format!("{field}: filter ExtensionRef{target}"));
                Filter::Unsupported {
                    name: "ExtensionRef".to_string(),
                }
            }
            FilterSpec::Missing { type_name, field: f } => {
                return Err(RuleError::InvalidFilter {
                    field,
                    reason: format!("type {type_name} needs the {f} field"),
                });
            }
        };
        out.filters.push(filter);
    }
    Ok(out)
}

/// The mirrored share as (numerator, denominator): `percent: P` is P/100, `fraction` is
/// numerator/denominator (denominator 100 when unset), neither means every request.
fn share(field: &str, m: &MirrorSpec<'_>) -> Result<(u32, u32), RuleError> {
    let invalid = |reason: String| RuleError::InvalidFilter {
        field: format!("{field}.requestMirror"),
        reason,
    };
    let (numerator, denominator) = match (m.percent, m.fraction) {
        (Some(_), Some(_)) => return Err(invalid("only one of percent and fraction may be set".into())),
        (Some(percent), None) => (percent, 100),
        (None, Some((numerator, denominator))) => (numerator, denominator.unwrap_or(100)),
        (None, None) => (100, 100),
    };
    let denominator = u32::try_from(denominator)
        .ok()
        .filter(|d| *d > 0)
        .ok_or_else(|| invalid(format!("denominator {denominator} must be at least 1")))?;
    let numerator = u32::try_from(numerator)
        .ok()
        .filter(|n| *n <= denominator)
        .ok_or_else(|| invalid(format!("share {numerator}/{denominator} must be between 0 and 1")))?;
    Ok((numerator, denominator))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(percent: Option<i32>, fraction: Option<(i32, Option<i32>)>) -> MirrorSpec<'static> {
        MirrorSpec {
            group: None,
            kind: None,
            namespace: None,
            name: "m",
            port: Some(80),
            percent,
            fraction,
        }
    }

    #[test]
    fn mirror_share_follows_percent_or_fraction() {
        assert_eq!(share("f", &spec(None, None)), Ok((100, 100)));
        assert_eq!(share("f", &spec(Some(25), None)), Ok((25, 100)));
        assert_eq!(share("f", &spec(None, Some((1, Some(3))))), Ok((1, 3)));
        assert_eq!(share("f", &spec(None, Some((7, None)))), Ok((7, 100)));
    }

    #[test]
    fn mirror_share_rejects_what_the_api_server_would() {
        for bad in [
            spec(Some(101), None),
            spec(Some(-1), None),
            spec(None, Some((1, Some(0)))),
            spec(None, Some((4, Some(3)))),
            spec(Some(10), Some((1, Some(2)))),
        ] {
            assert!(share("f", &bad).is_err());
        }
    }
}
