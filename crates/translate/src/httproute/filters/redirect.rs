//! RequestRedirect and URLRewrite, which share the path modifier and the hostname rules.

use super::RuleError;
use fairlead_route::{PathModifier, Redirect, UrlRewrite};
use gateway_api::experimental::httproutes::{
    HttpRouteRulesFiltersRequestRedirect, HttpRouteRulesFiltersRequestRedirectPathType as RedirectPath,
    HttpRouteRulesFiltersRequestRedirectScheme as Scheme, HttpRouteRulesFiltersUrlRewrite,
    HttpRouteRulesFiltersUrlRewritePathType as RewritePath,
};

/// The `statusCode` enum of the spec (301 and 302 Core, the others Extended).
const REDIRECT_CODES: [u16; 5] = [301, 302, 303, 307, 308];

pub(super) fn redirect(
    field: &str,
    r: &HttpRouteRulesFiltersRequestRedirect,
    all_prefix: bool,
) -> Result<Redirect, RuleError> {
    let field = format!("{field}.requestRedirect");
    let invalid = |reason: String| RuleError::InvalidFilter {
        field: field.clone(),
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
                .ok_or_else(|| invalid(format!("port {port} is out of range 1-65535")))?,
        ),
    };
    let path = match &r.path {
        None => None,
        Some(p) => Some(path_modifier(
            &format!("{field}.path"),
            p.r#type == RedirectPath::ReplaceFullPath,
            p.replace_full_path.as_deref(),
            p.replace_prefix_match.as_deref(),
            all_prefix,
        )?),
    };
    Ok(Redirect {
        scheme: r.scheme.as_ref().map(|s| match s {
            Scheme::Http => "http".to_string(),
            Scheme::Https => "https".to_string(),
        }),
        hostname: hostname(&field, r.hostname.as_deref())?,
        port,
        path,
        status_code,
    })
}

pub(super) fn rewrite(
    field: &str,
    r: &HttpRouteRulesFiltersUrlRewrite,
    all_prefix: bool,
) -> Result<UrlRewrite, RuleError> {
    let field = format!("{field}.urlRewrite");
    let path = match &r.path {
        None => None,
        Some(p) => Some(path_modifier(
            &format!("{field}.path"),
            p.r#type == RewritePath::ReplaceFullPath,
            p.replace_full_path.as_deref(),
            p.replace_prefix_match.as_deref(),
            all_prefix,
        )?),
    };
    Ok(UrlRewrite {
        hostname: hostname(&field, r.hostname.as_deref())?,
        path,
    })
}

/// A path modifier. ReplacePrefixMatch only makes sense when every match of the rule is a
/// PathPrefix (the spec says so), since it replaces the matched prefix. Its value may be empty
/// (the spec's table: `/foo/bar` with prefix `/foo` and `""` becomes `/bar`); a full path may
/// not.
fn path_modifier(
    field: &str,
    full: bool,
    full_path: Option<&str>,
    prefix: Option<&str>,
    all_prefix: bool,
) -> Result<PathModifier, RuleError> {
    let invalid = |reason: String| RuleError::InvalidFilter {
        field: field.to_string(),
        reason,
    };
    if full {
        if prefix.is_some() {
            return Err(invalid(
                "replacePrefixMatch must not be set when type is ReplaceFullPath".into(),
            ));
        }
        let value = full_path.ok_or_else(|| invalid("type ReplaceFullPath needs replaceFullPath".into()))?;
        if !value.starts_with('/') {
            return Err(invalid(format!("replaceFullPath {value:?} must start with '/'")));
        }
        Ok(PathModifier::ReplaceFullPath(value.to_string()))
    } else {
        if full_path.is_some() {
            return Err(invalid(
                "replaceFullPath must not be set when type is ReplacePrefixMatch".into(),
            ));
        }
        let value =
            prefix.ok_or_else(|| invalid("type ReplacePrefixMatch needs replacePrefixMatch".into()))?;
        if !all_prefix {
            return Err(invalid(
                "ReplacePrefixMatch needs every match of the rule to be a PathPrefix".into(),
            ));
        }
        if !value.is_empty() && !value.starts_with('/') {
            return Err(invalid(format!(
                "replacePrefixMatch {value:?} must be empty or start with '/'"
            )));
        }
        Ok(PathModifier::ReplacePrefixMatch(value.to_string()))
    }
}

/// The spec's `PreciseHostname`: lowercase RFC 1123 labels, no wildcard. It ends up in a
/// `Location` or `Host` header, so anything else is rejected rather than passed on.
fn hostname(field: &str, value: Option<&str>) -> Result<Option<String>, RuleError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if value.len() <= 253 && value.split('.').all(label_ok) {
        Ok(Some(value.to_string()))
    } else {
        Err(RuleError::InvalidFilter {
            field: format!("{field}.hostname"),
            reason: format!("{value:?} is not a valid hostname (lowercase RFC 1123, no wildcard)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_must_be_precise() {
        assert_eq!(
            hostname("f", Some("a-b.example.com")),
            Ok(Some("a-b.example.com".into()))
        );
        assert_eq!(hostname("f", None), Ok(None));
        for bad in [
            "",
            "*.example.com",
            "Example.com",
            "a..b",
            "-a.com",
            "a_b.com",
            "a.com.",
        ] {
            assert!(hostname("f", Some(bad)).is_err(), "{bad:?}");
        }
    }
}
