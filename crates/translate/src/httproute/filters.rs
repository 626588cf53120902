//! HTTPRoute rule filters to IR filters.
//!
//! Filters the proxy cannot apply (RequestMirror, CORS, ExtensionRef) become
//! [`Filter::Unsupported`]: the rule is kept and answers 500, because the spec forbids skipping a
//! filter (requests it would have processed must get an error), and the route's status names
//! them (see `super::partially_invalid`).

use super::rules::{absolute, RuleError};
use fairlead_route::{Filter, HeaderModifier, PathMatch, PathModifier, Redirect, RouteMatch, UrlRewrite};
use gateway_api::experimental::httproutes::{
    HttpRouteRules, HttpRouteRulesFiltersRequestRedirect,
    HttpRouteRulesFiltersRequestRedirectPathType as RedirectPath,
    HttpRouteRulesFiltersRequestRedirectScheme as Scheme, HttpRouteRulesFiltersType as Type,
    HttpRouteRulesFiltersUrlRewrite, HttpRouteRulesFiltersUrlRewritePathType as RewritePath,
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

/// A rule's filters, and the names of those the proxy will answer 500 for.
pub(crate) struct Filters {
    pub filters: Vec<Filter>,
    pub unsupported: Vec<String>,
}

const REDIRECT_CODES: [u16; 5] = [301, 302, 303, 307, 308];

pub(crate) fn convert(rule: &HttpRouteRules, matches: &[RouteMatch]) -> Result<Filters, RuleError> {
    let mut out = Filters {
        filters: Vec::new(),
        unsupported: Vec::new(),
    };
    let all_prefix = matches.iter().all(|m| matches!(m.path, PathMatch::Prefix(_)));
    let specs = rule.filters.as_deref().unwrap_or_default();
    let redirects = specs.iter().any(|f| f.r#type == Type::RequestRedirect);
    let rewrites = specs.iter().any(|f| f.r#type == Type::UrlRewrite);
    if redirects && rewrites {
        let reason = "RequestRedirect and URLRewrite cannot be used in the same rule".to_string();
        return Err(RuleError::InvalidFilter {
            field: "filters".into(),
            reason,
        });
    }
    for (i, spec) in specs.iter().enumerate() {
        let field = format!("filters[{i}]");
        let missing = |name: &str| RuleError::InvalidFilter {
            field: field.clone(),
            reason: format!("type {} needs the {name} field", type_name(&spec.r#type)),
        };
        let filter = match spec.r#type {
            Type::RequestHeaderModifier => {
                let m = spec
                    .request_header_modifier
                    .as_ref()
                    .ok_or_else(|| missing("requestHeaderModifier"))?;
                Filter::RequestHeaderModifier(header_modifier!(m))
            }
            Type::ResponseHeaderModifier => {
                let m = spec
                    .response_header_modifier
                    .as_ref()
                    .ok_or_else(|| missing("responseHeaderModifier"))?;
                Filter::ResponseHeaderModifier(header_modifier!(m))
            }
            Type::RequestRedirect => {
                let r = spec
                    .request_redirect
                    .as_ref()
                    .ok_or_else(|| missing("requestRedirect"))?;
                Filter::RequestRedirect(redirect(&field, r, all_prefix)?)
            }
            Type::UrlRewrite => {
                let r = spec.url_rewrite.as_ref().ok_or_else(|| missing("urlRewrite"))?;
                Filter::UrlRewrite(rewrite(&field, r, all_prefix)?)
            }
            Type::RequestMirror | Type::Cors | Type::ExternalAuth => {
                let name = type_name(&spec.r#type).to_string();
                out.unsupported.push(format!("{field}: filter {name}"));
                Filter::Unsupported { name }
            }
            Type::ExtensionRef => {
                let target = spec
                    .extension_ref
                    .as_ref()
                    .map(|e| format!(" to {}/{} {}", e.group, e.kind, e.name))
                    .unwrap_or_default();
                out.unsupported
                    .push(format!("{field}: filter ExtensionRef{target}"));
                Filter::Unsupported {
                    name: "ExtensionRef".to_string(),
                }
            }
        };
        out.filters.push(filter);
    }
    Ok(out)
}

fn redirect(
    field: &str,
    r: &HttpRouteRulesFiltersRequestRedirect,
    all_prefix: bool,
) -> Result<Redirect, RuleError> {
    let invalid = |reason: String| RuleError::InvalidFilter {
        field: format!("{field}.requestRedirect"),
        reason,
    };
    let status_code = match r.status_code {
        None => 302,
        Some(code) => u16::try_from(code)
            .ok()
            .filter(|c| REDIRECT_CODES.contains(c))
            .ok_or_else(|| invalid(format!("statusCode {code} is not one of 301, 302, 303, 307, 308")))?,
    };
    let port = match r.port {
        None => None,
        Some(port) => Some(
            u16::try_from(port)
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid(format!("port {port} is out of range")))?,
        ),
    };
    let path = match &r.path {
        None => None,
        Some(p) => {
            let full = p.r#type == RedirectPath::ReplaceFullPath;
            let field = format!("{field}.requestRedirect.path");
            Some(path_modifier(
                &field,
                full,
                p.replace_full_path.as_ref(),
                p.replace_prefix_match.as_ref(),
                all_prefix,
            )?)
        }
    };
    Ok(Redirect {
        scheme: r.scheme.as_ref().map(|s| match s {
            Scheme::Http => "http".to_string(),
            Scheme::Https => "https".to_string(),
        }),
        hostname: r.hostname.clone(),
        port,
        path,
        status_code,
    })
}

fn rewrite(
    field: &str,
    r: &HttpRouteRulesFiltersUrlRewrite,
    all_prefix: bool,
) -> Result<UrlRewrite, RuleError> {
    let path = match &r.path {
        None => None,
        Some(p) => {
            let full = p.r#type == RewritePath::ReplaceFullPath;
            let field = format!("{field}.urlRewrite.path");
            Some(path_modifier(
                &field,
                full,
                p.replace_full_path.as_ref(),
                p.replace_prefix_match.as_ref(),
                all_prefix,
            )?)
        }
    };
    Ok(UrlRewrite {
        hostname: r.hostname.clone(),
        path,
    })
}

/// A path modifier. ReplacePrefixMatch only makes sense when every match of the rule is a
/// PathPrefix (the spec says so), since it replaces the matched prefix.
fn path_modifier(
    field: &str,
    full: bool,
    full_path: Option<&String>,
    prefix: Option<&String>,
    all_prefix: bool,
) -> Result<PathModifier, RuleError> {
    let invalid = |reason: &str| RuleError::InvalidFilter {
        field: field.to_string(),
        reason: reason.to_string(),
    };
    if full {
        let value = full_path.ok_or_else(|| invalid("type ReplaceFullPath needs replaceFullPath"))?;
        Ok(PathModifier::ReplaceFullPath(absolute(field, value.clone())?))
    } else {
        let value = prefix.ok_or_else(|| invalid("type ReplacePrefixMatch needs replacePrefixMatch"))?;
        if !all_prefix {
            return Err(invalid(
                "ReplacePrefixMatch needs every match of the rule to be a PathPrefix",
            ));
        }
        Ok(PathModifier::ReplacePrefixMatch(absolute(field, value.clone())?))
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
