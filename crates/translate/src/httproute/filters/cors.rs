//! CORS: the lists are checked against what the spec's validation rejects (`*` mixed with other
//! values, origins that are not `scheme://host[:port]`, methods outside the enum, maxAge < 1),
//! since a bad entry would otherwise silently allow or deny cross-origin requests.

use super::headers::is_token;
use super::RuleError;
use fairlead_route::Cors;
use gateway_api::experimental::httproutes::HttpRouteRulesFiltersCors;

/// `Access-Control-Max-Age` when `maxAge` is unset (the spec's default).
const DEFAULT_MAX_AGE: u32 = 5;
/// The spec's `HTTPMethodWithWildcard` enum, without the wildcard.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

pub(super) fn convert(field: &str, c: &HttpRouteRulesFiltersCors) -> Result<Cors, RuleError> {
    let invalid = |reason: String| RuleError::InvalidFilter {
        field: field.to_string(),
        reason,
    };
    let allow_origins = list("allowOrigins", c.allow_origins.as_deref(), true).map_err(invalid)?;
    for origin in &allow_origins {
        valid_origin(origin).map_err(|why| invalid(format!("allowOrigins: {origin:?} {why}")))?;
    }
    let allow_methods = list("allowMethods", c.allow_methods.as_deref(), true).map_err(invalid)?;
    if let Some(bad) = allow_methods
        .iter()
        .find(|m| *m != "*" && !METHODS.contains(&m.as_str()))
    {
        return Err(invalid(format!(
            "allowMethods: {bad:?} is not one of {} or \"*\" (method names are case-sensitive)",
            METHODS.join(", ")
        )));
    }
    let allow_headers = list("allowHeaders", c.allow_headers.as_deref(), true).map_err(invalid)?;
    let expose_headers = list("exposeHeaders", c.expose_headers.as_deref(), false).map_err(invalid)?;
    for (name, headers) in [
        ("allowHeaders", &allow_headers),
        ("exposeHeaders", &expose_headers),
    ] {
        if let Some(bad) = headers.iter().find(|h| !is_token(h)) {
            return Err(invalid(format!("{name}: {bad:?} is not a valid header name")));
        }
    }
    let max_age = match c.max_age {
        None => DEFAULT_MAX_AGE,
        Some(age) => u32::try_from(age)
            .ok()
            .filter(|a| *a >= 1)
            .ok_or_else(|| invalid(format!("maxAge {age} must be at least 1 second")))?,
    };
    Ok(Cors {
        allow_origins,
        allow_methods,
        allow_headers,
        expose_headers,
        max_age: Some(max_age),
        allow_credentials: c.allow_credentials.unwrap_or(false),
    })
}

/// A list as written. The spec makes each a set (no duplicates; header names compare
/// case-insensitively) and, for the `allow*` lists, forbids `*` alongside other values.
fn list(name: &str, values: Option<&[String]>, lone_wildcard: bool) -> Result<Vec<String>, String> {
    let values = values.unwrap_or_default();
    if lone_wildcard && values.len() > 1 && values.iter().any(|v| v == "*") {
        return Err(format!("{name} cannot contain \"*\" alongside other values"));
    }
    for (i, v) in values.iter().enumerate() {
        if values[..i].iter().any(|earlier| earlier.eq_ignore_ascii_case(v)) {
            return Err(format!("{name} lists {v:?} more than once"));
        }
    }
    Ok(values.to_vec())
}

/// `*`, or `http(s)://host[:port]` where the host may hold `*` wildcards and the port is
/// 1-65535 (the spec's `CORSOrigin`).
fn valid_origin(origin: &str) -> Result<(), &'static str> {
    if origin == "*" {
        return Ok(());
    }
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or("must be \"*\" or start with http:// or https://")?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'*');
    if !host_ok {
        return Err("has no valid host (letters, digits, '-', '.', '*'; no path)");
    }
    if let Some(port) = port {
        let ok = !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p != 0);
        if !ok {
            return Err("has a port outside 1-65535");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_follow_the_spec_form() {
        for good in [
            "*",
            "https://www.foo.com",
            "https://*.bar.com",
            "http://localhost:8080",
            "http://10.0.0.1",
        ] {
            assert_eq!(valid_origin(good), Ok(()), "{good}");
        }
        for bad in [
            "www.foo.com",
            "ftp://foo.com",
            "https://",
            "https://foo.com/path",
            "https://foo.com:0",
            "https://foo.com:70000",
            "https://foo.com:",
            "https://[::1]",
        ] {
            assert!(valid_origin(bad).is_err(), "{bad}");
        }
    }
}
