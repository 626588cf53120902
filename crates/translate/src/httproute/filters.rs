//! HTTPRoute filters (rule-level and backendRef-level) to IR filters.
//!
//! Header modifiers, RequestRedirect, URLRewrite, RequestMirror and CORS are converted and
//! validated; a filter the spec says is invalid (or an invalid combination) makes the rule
//! invalid with a [`RuleError`]. ExtensionRef and ExternalAuth become [`Filter::Unsupported`]:
//! the rule is kept and answers 500, because the spec forbids skipping a filter, and the
//! route's status names them. A RequestMirror whose backendRef does not resolve is left out (the
//! spec says not to configure it) and reported as a [`RefProblem`].
//!
//! The backendRef-level filters (and GRPCRoute's) are distinct generated types with the same
//! serialized shape as [`HttpRouteRulesFilters`]; [`convert_list`] reads them through serde so
//! that one code path validates every filter list. GRPCRoute allows only RequestHeaderModifier,
//! ResponseHeaderModifier, RequestMirror and ExtensionRef; any other type in a list converted
//! for a GRPCRoute makes the rule invalid.

mod cors;
mod headers;
mod mirror;
mod redirect;

use super::rules::RuleError;
use crate::attach::GRPC_ROUTE;
use crate::backends::{RefProblem, Resolver};
use fairlead_route::Filter;
use gateway_api::experimental::httproutes::{HttpRouteRulesFilters, HttpRouteRulesFiltersType as Type};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A filter list converted: the filters, the names of those the proxy will answer 500 for, and
/// mirrors left out because their backendRef did not resolve.
#[derive(Debug, Default)]
pub(crate) struct Filters {
    pub filters: Vec<Filter>,
    /// `<field>: filter <name>` for every [`Filter::Unsupported`] in `filters`.
    pub unsupported: Vec<String>,
    pub ref_problems: Vec<RefProblem>,
}

/// Where a filter list sits, which changes what may be combined in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// `rules[].filters`; a RequestRedirect there cannot be combined with backendRefs.
    Rule { has_backends: bool },
    /// `rules[].backendRefs[].filters`.
    Backend,
}

/// What filter conversion needs to know about the route and rule.
pub(crate) struct Context<'c, 'r> {
    /// Route kind for ReferenceGrants (`HTTPRoute`, `GRPCRoute`).
    pub from_kind: &'static str,
    pub namespace: &'c str,
    /// Every match of the rule is a PathPrefix (or the rule has none, which means `/`), so a
    /// ReplacePrefixMatch has a prefix to replace.
    pub all_prefix: bool,
    pub resolver: &'c mut Resolver<'r>,
}

/// Filter types the spec allows at most once per list (CEL on `HTTPRouteRule.filters`);
/// RequestMirror, ExtensionRef and ExternalAuth may repeat.
const SINGLE: [Type; 5] = [
    Type::RequestHeaderModifier,
    Type::ResponseHeaderModifier,
    Type::RequestRedirect,
    Type::UrlRewrite,
    Type::Cors,
];

/// The filter types of GRPCRoute's `GRPCRouteFilterType` enum.
const GRPC_TYPES: [Type; 4] = [
    Type::RequestHeaderModifier,
    Type::ResponseHeaderModifier,
    Type::RequestMirror,
    Type::ExtensionRef,
];

/// Reads items of one generated type as another with the same serialized shape (GRPCRoute's
/// or backendRef-level types as their HTTPRoute rule-level counterparts). `field` names the
/// list and `what` the item (`filter`, `backendRef`) in errors.
pub(crate) fn reread<T: Serialize, U: DeserializeOwned>(
    field: &str,
    what: &'static str,
    items: &[T],
) -> Result<Vec<U>, RuleError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::to_value(item)
                .and_then(serde_json::from_value)
                .map_err(|err| RuleError::Unreadable {
                    field: format!("{field}[{i}]"),
                    what,
                    reason: err.to_string(),
                })
        })
        .collect()
}

/// Converts any list of filters that serializes like [`HttpRouteRulesFilters`]
/// (`HttpRouteRulesBackendRefsFilters`, GRPCRoute filters). `field` names the list
/// (`backendRefs[0].filters`) in errors and reports.
pub(crate) fn convert_list<T: Serialize>(
    field: &str,
    specs: &[T],
    level: Level,
    ctx: &mut Context<'_, '_>,
) -> Result<Filters, RuleError> {
    let specs: Vec<HttpRouteRulesFilters> = reread(field, "filter", specs)?;
    convert(field, &specs, level, ctx)
}

/// Converts one filter list. `field` names the list (`filters`) in errors and reports.
pub(crate) fn convert(
    field: &str,
    specs: &[HttpRouteRulesFilters],
    level: Level,
    ctx: &mut Context<'_, '_>,
) -> Result<Filters, RuleError> {
    if ctx.from_kind == GRPC_ROUTE {
        check_grpc_types(field, specs)?;
    }
    check_combination(field, specs, level)?;
    let mut out = Filters::default();
    for (i, spec) in specs.iter().enumerate() {
        let field = format!("{field}[{i}]");
        check_fields(&field, spec)?;
        let missing = || RuleError::InvalidFilter {
            field: field.clone(),
            reason: format!(
                "type {} needs the {} field",
                type_name(&spec.r#type),
                config_field(&spec.r#type)
            ),
        };
        let filter = match spec.r#type {
            Type::RequestHeaderModifier => {
                let m = spec.request_header_modifier.as_ref().ok_or_else(missing)?;
                Filter::RequestHeaderModifier(headers::request(&field, m)?)
            }
            Type::ResponseHeaderModifier => {
                let m = spec.response_header_modifier.as_ref().ok_or_else(missing)?;
                Filter::ResponseHeaderModifier(headers::response(&field, m)?)
            }
            Type::RequestRedirect => {
                let r = spec.request_redirect.as_ref().ok_or_else(missing)?;
                Filter::RequestRedirect(redirect::redirect(&field, r, ctx.all_prefix)?)
            }
            Type::UrlRewrite => {
                let r = spec.url_rewrite.as_ref().ok_or_else(missing)?;
                Filter::UrlRewrite(redirect::rewrite(&field, r, ctx.all_prefix)?)
            }
            Type::Cors => {
                let c = spec.cors.as_ref().ok_or_else(missing)?;
                Filter::Cors(cors::convert(&format!("{field}.cors"), c)?)
            }
            Type::RequestMirror => {
                let m = spec.request_mirror.as_ref().ok_or_else(missing)?;
                match mirror::convert(&format!("{field}.requestMirror"), m, ctx)? {
                    Ok(mirror) => Filter::RequestMirror(mirror),
                    Err(problem) => {
                        out.ref_problems.push(problem);
                        continue;
                    }
                }
            }
            Type::ExternalAuth => {
                spec.external_auth.as_ref().ok_or_else(missing)?;
                out.unsupported.push(format!("{field}: filter ExternalAuth"));
                Filter::Unsupported {
                    name: "ExternalAuth".to_string(),
                }
            }
            Type::ExtensionRef => {
                let e = spec.extension_ref.as_ref().ok_or_else(missing)?;
                out.unsupported.push(format!(
                    "{field}: filter ExtensionRef to {}/{} {}",
                    e.group, e.kind, e.name
                ));
                Filter::Unsupported {
                    name: "ExtensionRef".to_string(),
                }
            }
        };
        out.filters.push(filter);
    }
    Ok(out)
}

/// GRPCRoute's filter type is an enum of [`GRPC_TYPES`]: the API server rejects any other type.
fn check_grpc_types(field: &str, specs: &[HttpRouteRulesFilters]) -> Result<(), RuleError> {
    match specs
        .iter()
        .enumerate()
        .find(|(_, f)| !GRPC_TYPES.contains(&f.r#type))
    {
        Some((i, f)) => Err(RuleError::InvalidFilter {
            field: format!("{field}[{i}]"),
            reason: format!("type {} is not a GRPCRoute filter type", type_name(&f.r#type)),
        }),
        None => Ok(()),
    }
}

/// The rules the spec's CEL validation puts on a whole list.
fn check_combination(field: &str, specs: &[HttpRouteRulesFilters], level: Level) -> Result<(), RuleError> {
    let invalid = |reason: String| RuleError::InvalidFilter {
        field: field.to_string(),
        reason,
    };
    let count = |t: &Type| specs.iter().filter(|f| f.r#type == *t).count();
    for t in &SINGLE {
        if count(t) > 1 {
            return Err(invalid(format!("{} filter cannot be repeated", type_name(t))));
        }
    }
    let redirects = count(&Type::RequestRedirect) > 0;
    if redirects && count(&Type::UrlRewrite) > 0 {
        return Err(invalid(
            "RequestRedirect and URLRewrite cannot be used in the same rule".to_string(),
        ));
    }
    if redirects && level == (Level::Rule { has_backends: true }) {
        return Err(invalid(
            "RequestRedirect filter must not be used together with backendRefs".to_string(),
        ));
    }
    Ok(())
}

/// A filter carries exactly the configuration of its type (CEL: "filter.X must be nil if the
/// filter.type is not X"), so that a typo in `type` cannot silently drop the intended filter.
fn check_fields(field: &str, spec: &HttpRouteRulesFilters) -> Result<(), RuleError> {
    let present = [
        ("requestHeaderModifier", spec.request_header_modifier.is_some()),
        ("responseHeaderModifier", spec.response_header_modifier.is_some()),
        ("requestRedirect", spec.request_redirect.is_some()),
        ("urlRewrite", spec.url_rewrite.is_some()),
        ("requestMirror", spec.request_mirror.is_some()),
        ("cors", spec.cors.is_some()),
        ("extensionRef", spec.extension_ref.is_some()),
        ("externalAuth", spec.external_auth.is_some()),
    ];
    let own = config_field(&spec.r#type);
    match present.iter().find(|(name, set)| *set && *name != own) {
        Some((name, _)) => Err(RuleError::InvalidFilter {
            field: field.to_string(),
            reason: format!("{name} must not be set when type is {}", type_name(&spec.r#type)),
        }),
        None => Ok(()),
    }
}

/// The field holding the configuration of a filter type.
fn config_field(t: &Type) -> &'static str {
    match t {
        Type::RequestHeaderModifier => "requestHeaderModifier",
        Type::ResponseHeaderModifier => "responseHeaderModifier",
        Type::RequestMirror => "requestMirror",
        Type::RequestRedirect => "requestRedirect",
        Type::UrlRewrite => "urlRewrite",
        Type::ExtensionRef => "extensionRef",
        Type::Cors => "cors",
        Type::ExternalAuth => "externalAuth",
    }
}

fn type_name(t: &Type) -> &'static str {
    match t {
        Type::RequestHeaderModifier => "RequestHeaderModifier",
        Type::ResponseHeaderModifier => "ResponseHeaderModifier",
        Type::RequestMirror => "RequestMirror",
        Type::RequestRedirect => "RequestRedirect",
        Type::UrlRewrite => "URLRewrite",
        Type::ExtensionRef => "ExtensionRef",
        Type::Cors => "CORS",
        Type::ExternalAuth => "ExternalAuth",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attach::HTTP_ROUTE;
    use crate::resources::ResourceSet;
    use serde_json::json;

    fn convert_one(from_kind: &'static str, spec: serde_json::Value) -> Result<Filters, RuleError> {
        let resources = ResourceSet::default();
        let mut ctx = Context {
            from_kind,
            namespace: "default",
            all_prefix: true,
            resolver: &mut Resolver::new(&resources),
        };
        let spec: HttpRouteRulesFilters = serde_json::from_value(spec).unwrap();
        convert("filters", &[spec], Level::Backend, &mut ctx)
    }

    #[test]
    fn grpc_routes_reject_the_filter_types_only_httproute_has() {
        let http_only = [
            (
                "URLRewrite",
                json!({"type": "URLRewrite", "urlRewrite": {"hostname": "x.example.com"}}),
            ),
            (
                "RequestRedirect",
                json!({"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}}),
            ),
            ("CORS", json!({"type": "CORS", "cors": {"allowOrigins": ["*"]}})),
            (
                "ExternalAuth",
                json!({"type": "ExternalAuth", "externalAuth": {"protocol": "HTTP", "backendRef": {"name": "a"}}}),
            ),
        ];
        for (name, spec) in http_only {
            assert_eq!(
                convert_one(GRPC_ROUTE, spec.clone()).unwrap_err(),
                RuleError::InvalidFilter {
                    field: "filters[0]".into(),
                    reason: format!("type {name} is not a GRPCRoute filter type"),
                }
            );
            assert!(convert_one(HTTP_ROUTE, spec).is_ok(), "{name}");
        }
        let header = json!({"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "a", "value": "1"}]}});
        assert!(convert_one(GRPC_ROUTE, header).is_ok());
        let extension =
            json!({"type": "ExtensionRef", "extensionRef": {"group": "g", "kind": "K", "name": "n"}});
        assert!(convert_one(GRPC_ROUTE, extension).is_ok());
    }
}
