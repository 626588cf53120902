//! RequestHeaderModifier and ResponseHeaderModifier: names and values checked against the
//! spec's patterns here, so a bad header is reported on the route instead of failing the rule
//! closed in the proxy.

use super::RuleError;
use fairlead_route::HeaderModifier;
use gateway_api::experimental::httproutes::{
    HttpRouteRulesFiltersRequestHeaderModifier, HttpRouteRulesFiltersResponseHeaderModifier,
};

/// The two modifiers are distinct generated types with the same fields.
macro_rules! raw_modifier {
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

pub(super) fn request(
    field: &str,
    m: &HttpRouteRulesFiltersRequestHeaderModifier,
) -> Result<HeaderModifier, RuleError> {
    validate(&format!("{field}.requestHeaderModifier"), raw_modifier!(m))
}

pub(super) fn response(
    field: &str,
    m: &HttpRouteRulesFiltersResponseHeaderModifier,
) -> Result<HeaderModifier, RuleError> {
    validate(&format!("{field}.responseHeaderModifier"), raw_modifier!(m))
}

/// The spec: "Only one action for a given header name is permitted. Filters specifying
/// multiple actions of the same or different type for any one header name are invalid", names
/// compared case-insensitively.
fn validate(field: &str, m: HeaderModifier) -> Result<HeaderModifier, RuleError> {
    let invalid = |reason: String| RuleError::InvalidFilter {
        field: field.to_string(),
        reason,
    };
    let names = m
        .set
        .iter()
        .map(|(n, _)| ("set", n))
        .chain(m.add.iter().map(|(n, _)| ("add", n)))
        .chain(m.remove.iter().map(|n| ("remove", n)));
    let mut seen: Vec<(&str, String)> = Vec::new();
    for (action, name) in names {
        if !is_token(name) {
            return Err(invalid(format!("{action}: {name:?} is not a valid header name")));
        }
        let lower = name.to_ascii_lowercase();
        if let Some((first, _)) = seen.iter().find(|(_, n)| *n == lower) {
            return Err(invalid(format!(
                "header {name:?} is named by both {first} and {action}; only one action per header name \
                 is allowed"
            )));
        }
        seen.push((action, lower));
    }
    for (name, value) in m.set.iter().chain(&m.add) {
        if !is_header_value(value) {
            return Err(invalid(format!(
                "value {value:?} of header {name:?} must be printable ASCII, optionally separated by \
                 single spaces or tabs"
            )));
        }
    }
    Ok(m)
}

/// An RFC 7230 token, which is what the spec's `HTTPHeaderName` pattern allows.
pub(super) fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The spec's value pattern `^[!-~]+([\t ]?[!-~]+)*$`: printable ASCII words separated by at
/// most one space or tab, nothing leading or trailing.
fn is_header_value(value: &str) -> bool {
    let visible = |b: u8| (b'!'..=b'~').contains(&b);
    let bytes = value.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    visible(first)
        && visible(last)
        && bytes.iter().all(|&b| visible(b) || b == b' ' || b == b'\t')
        && !bytes.windows(2).any(|w| !visible(w[0]) && !visible(w[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_follow_the_spec_pattern() {
        for good in ["a", "bar,baz", "a b\tc", "x=\"1\""] {
            assert!(is_header_value(good), "{good:?}");
        }
        for bad in ["", " a", "a ", "a  b", "a\r\nb", "a\u{7f}", "caf\u{e9}"] {
            assert!(!is_header_value(bad), "{bad:?}");
        }
    }

    #[test]
    fn header_names_are_tokens() {
        assert!(is_token("X-Custom_1"));
        for bad in ["", ":method", "a b", "a/b", "é"] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }
}
