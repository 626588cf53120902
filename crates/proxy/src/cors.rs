//! The Gateway API `CORS` filter (HTTPCORSFilter), compiled when the state is built.
//!
//! A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here
//! and never reaches a backend: `200` with the CORS headers when the origin is allowed, `200`
//! without them when it is not (the field docs allow either that or 403; the browser then
//! refuses the actual request). Other requests are forwarded; when their `Origin` is allowed the
//! response gets `Access-Control-Allow-Origin`, `-Allow-Credentials` and `-Expose-Headers`.
//! Every answer carries `Vary: Origin`, since it depends on the origin.
//!
//! Wildcards follow the field docs: `*` alone allows every origin; a `*` host label matches
//! one or more labels to its left (`https://*.bar.com` allows `https://a.b.bar.com`, not
//! `https://bar.com`). A missing port means 80 for `http` and 443 for `https` on both sides.
//! With credentials allowed, `*` is never sent: the origin, the requested method and the
//! requested headers are echoed instead. An empty `allowOrigins` allows every origin, as the
//! conformance test `CORSAllowCredentialsBehavior` expects.

use crate::body::ProxyBody;
use fairlead_route::Cors;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};

static ANY: HeaderValue = HeaderValue::from_static("*");
static TRUE: HeaderValue = HeaderValue::from_static("true");
static VARY_ORIGIN: HeaderValue = HeaderValue::from_static("origin");
static VARY_PREFLIGHT: HeaderValue =
    HeaderValue::from_static("origin, access-control-request-method, access-control-request-headers");

/// When the field docs leave `maxAge` unset, the gateway sends 5 seconds.
const DEFAULT_MAX_AGE: u32 = 5;

/// A configured list that may be the `*` wildcard.
#[derive(Debug)]
enum Listed {
    Absent,
    Values(HeaderValue),
    Wildcard,
}

#[derive(Debug)]
enum HostPattern {
    Any,
    Exact(Box<str>),
    /// `*.bar.com` kept as `.bar.com`: the host must end with it and have something before it.
    Suffix(Box<str>),
}

#[derive(Debug)]
struct OriginPattern {
    scheme: Box<str>,
    host: HostPattern,
    port: u16,
}

/// A compiled CORS filter.
#[derive(Debug)]
pub(crate) struct CompiledCors {
    /// `None` allows every origin.
    origins: Option<Vec<OriginPattern>>,
    credentials: bool,
    methods: Listed,
    headers: Listed,
    expose: Option<HeaderValue>,
    max_age: HeaderValue,
    /// Preflight `Vary`: the echoed request headers make the answer depend on them too.
    preflight_vary: &'static HeaderValue,
}

/// What the CORS filter decided for one request.
pub(crate) enum CorsDecision {
    /// A preflight, answered by the proxy.
    Preflight(Response<ProxyBody>),
    /// Forward the request, then [`CompiledCors::apply`] with this `Access-Control-Allow-Origin`
    /// value (`None` when the request had no allowed `Origin`).
    Forward(Option<HeaderValue>),
}

impl CompiledCors {
    pub(crate) fn compile(c: &Cors) -> Result<CompiledCors, String> {
        let origins = if c.allow_origins.is_empty() || c.allow_origins.iter().any(|o| o.trim() == "*") {
            None
        } else {
            Some(
                c.allow_origins
                    .iter()
                    .map(|o| {
                        parse_pattern(o).ok_or_else(|| format!("CORS: invalid allowOrigins entry {o:?}"))
                    })
                    .collect::<Result<_, _>>()?,
            )
        };
        let methods = listed(&c.allow_methods, "allowMethods")?;
        let headers = listed(&c.allow_headers, "allowHeaders")?;
        // With credentials a `*` in exposeHeaders would be read literally, so it is left out.
        let expose: Vec<&str> = c
            .expose_headers
            .iter()
            .map(|h| h.trim())
            .filter(|h| !(c.allow_credentials && *h == "*"))
            .collect();
        let expose = if expose.is_empty() {
            None
        } else {
            Some(header_value(&expose.join(", "), "exposeHeaders")?)
        };
        let echoes = c.allow_credentials
            && (matches!(methods, Listed::Wildcard) || matches!(headers, Listed::Wildcard));
        Ok(CompiledCors {
            origins,
            credentials: c.allow_credentials,
            methods,
            headers,
            expose,
            max_age: HeaderValue::from(c.max_age.unwrap_or(DEFAULT_MAX_AGE)),
            preflight_vary: if echoes { &VARY_PREFLIGHT } else { &VARY_ORIGIN },
        })
    }

    /// Answers a preflight, or says what to add to the response of a request that is forwarded.
    pub(crate) fn decide(&self, method: &Method, headers: &HeaderMap) -> CorsDecision {
        let origin = headers.get(header::ORIGIN);
        let requested_method = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD);
        let allow_origin = origin.and_then(|o| self.allow_origin(o));
        match (method == Method::OPTIONS, origin, requested_method) {
            (true, Some(_), Some(requested_method)) => {
                let mut resp = Response::new(ProxyBody::empty());
                *resp.status_mut() = StatusCode::OK;
                let out = resp.headers_mut();
                out.insert(header::VARY, self.preflight_vary.clone());
                if let Some(allow_origin) = allow_origin {
                    self.preflight_headers(out, allow_origin, requested_method, headers);
                }
                CorsDecision::Preflight(resp)
            }
            _ => CorsDecision::Forward(allow_origin),
        }
    }

    /// Adds the CORS headers to the response of a forwarded request.
    pub(crate) fn apply(&self, allow_origin: Option<HeaderValue>, out: &mut HeaderMap) {
        out.append(header::VARY, VARY_ORIGIN.clone());
        let Some(allow_origin) = allow_origin else {
            return;
        };
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        if self.credentials {
            out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE.clone());
        }
        if let Some(expose) = &self.expose {
            out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
    }

    fn preflight_headers(
        &self,
        out: &mut HeaderMap,
        allow_origin: HeaderValue,
        requested_method: &HeaderValue,
        request: &HeaderMap,
    ) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        let methods = match &self.methods {
            Listed::Absent => None,
            Listed::Values(v) => Some(v.clone()),
            Listed::Wildcard if self.credentials => Some(requested_method.clone()),
            Listed::Wildcard => Some(ANY.clone()),
        };
        if let Some(methods) = methods {
            out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        let headers = match &self.headers {
            Listed::Absent => None,
            Listed::Values(v) => Some(v.clone()),
            // Without requested headers there is nothing to echo, and `*` is not allowed.
            Listed::Wildcard if self.credentials => {
                request.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned()
            }
            Listed::Wildcard => Some(ANY.clone()),
        };
        if let Some(headers) = headers {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, headers);
        }
        if let Some(expose) = &self.expose {
            out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
        out.insert(header::ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
        if self.credentials {
            out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE.clone());
        }
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, or `None` when it is not allowed.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        match &self.origins {
            None if self.credentials => Some(origin.clone()),
            None => Some(ANY.clone()),
            Some(patterns) => {
                let origin_str = origin.to_str().ok()?;
                let (scheme, host, port) = split_origin(origin_str)?;
                let port = port.or_else(|| default_port(scheme))?;
                patterns
                    .iter()
                    .any(|p| p.matches(scheme, host, port))
                    .then(|| origin.clone())
            }
        }
    }
}

impl OriginPattern {
    fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.port != port || !self.scheme.eq_ignore_ascii_case(scheme) {
            return false;
        }
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => h.eq_ignore_ascii_case(host),
            HostPattern::Suffix(suffix) => {
                host.len() > suffix.len()
                    && host
                        .get(host.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
        }
    }
}

fn listed(values: &[String], field: &str) -> Result<Listed, String> {
    if values.iter().any(|v| v.trim() == "*") {
        return Ok(Listed::Wildcard);
    }
    if values.is_empty() {
        return Ok(Listed::Absent);
    }
    let joined = values.iter().map(|v| v.trim()).collect::<Vec<_>>().join(", ");
    Ok(Listed::Values(header_value(&joined, field)?))
}

fn header_value(v: &str, field: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(v).map_err(|_| format!("CORS: {field} is not a valid header value: {v:?}"))
}

fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else {
        None
    }
}

/// Splits `scheme://host[:port]` without allocating; IPv6 hosts keep their brackets.
fn split_origin(origin: &str) -> Option<(&str, &str, Option<u16>)> {
    let (scheme, rest) = origin.split_once("://")?;
    if scheme.is_empty() || rest.is_empty() || rest.contains('/') {
        return None;
    }
    let port_sep = match rest.rfind(']') {
        Some(close) => rest.get(close..)?.find(':').map(|i| close + i),
        None => rest.rfind(':'),
    };
    match port_sep {
        Some(i) => {
            let host = rest.get(..i)?;
            let port = rest.get(i + 1..)?.parse::<u16>().ok().filter(|&p| p > 0)?;
            (!host.is_empty()).then_some((scheme, host, Some(port)))
        }
        None => Some((scheme, rest, None)),
    }
}

fn parse_pattern(pattern: &str) -> Option<OriginPattern> {
    let (scheme, host, port) = split_origin(pattern.trim())?;
    let port = match port {
        Some(p) => p,
        None => default_port(scheme)?,
    };
    let host = host.to_ascii_lowercase();
    let host = if host == "*" {
        HostPattern::Any
    } else if let Some(suffix) = host.strip_prefix('*') {
        if !suffix.starts_with('.') || suffix.len() < 2 || suffix.contains('*') {
            return None;
        }
        HostPattern::Suffix(suffix.into())
    } else if host.contains('*') {
        return None;
    } else {
        HostPattern::Exact(host.into())
    };
    Some(OriginPattern {
        scheme: scheme.to_ascii_lowercase().into(),
        host,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origins: &[&str], credentials: bool) -> CompiledCors {
        CompiledCors::compile(&Cors {
            allow_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            allow_credentials: credentials,
            ..Default::default()
        })
        .unwrap()
    }

    fn allowed(c: &CompiledCors, origin: &str) -> Option<String> {
        c.allow_origin(&HeaderValue::from_str(origin).unwrap())
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn exact_origins_match_case_insensitively_with_default_ports() {
        let c = cors(&["https://www.foo.com", "http://local.test:8080"], false);
        assert_eq!(
            allowed(&c, "https://www.foo.com").as_deref(),
            Some("https://www.foo.com")
        );
        assert!(allowed(&c, "https://WWW.Foo.com").is_some());
        assert!(allowed(&c, "https://www.foo.com:443").is_some());
        assert!(allowed(&c, "http://local.test:8080").is_some());
        assert!(allowed(&c, "http://www.foo.com").is_none(), "scheme differs");
        assert!(allowed(&c, "https://www.foo.com:8443").is_none(), "port differs");
        assert!(allowed(&c, "http://local.test").is_none(), "port 80 is not 8080");
        assert!(allowed(&c, "https://foo.com").is_none());
        assert!(allowed(&c, "null").is_none());
    }

    #[test]
    fn a_wildcard_label_matches_one_or_more_labels() {
        let c = cors(&["https://*.bar.com"], false);
        assert!(allowed(&c, "https://www.bar.com").is_some());
        assert!(allowed(&c, "https://xpto.www.bar.com").is_some());
        assert!(allowed(&c, "https://bar.com").is_none());
        assert!(allowed(&c, "https://foobar.com").is_none());
        assert!(allowed(&c, "http://www.bar.com").is_none());
        let c = cors(&["http://*"], false);
        assert!(allowed(&c, "http://anything.example").is_some());
        assert!(allowed(&c, "https://anything.example").is_none());
    }

    #[test]
    fn star_allows_every_origin_and_is_echoed_with_credentials() {
        assert_eq!(
            allowed(&cors(&["*"], false), "https://a.example").as_deref(),
            Some("*")
        );
        assert_eq!(
            allowed(&cors(&["*"], true), "https://a.example:12345").as_deref(),
            Some("https://a.example:12345")
        );
        assert_eq!(
            allowed(&cors(&[], true), "https://app.example").as_deref(),
            Some("https://app.example")
        );
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        for bad in [
            "www.foo.com",
            "https://",
            "https://a*.b.com",
            "https://*bar.com",
            "https://a.com:0",
        ] {
            let r = CompiledCors::compile(&Cors {
                allow_origins: vec![bad.to_owned()],
                ..Default::default()
            });
            assert!(r.is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn ipv6_origins_split_at_the_port() {
        assert_eq!(
            split_origin("http://[::1]:8080"),
            Some(("http", "[::1]", Some(8080)))
        );
        assert_eq!(split_origin("http://[::1]"), Some(("http", "[::1]", None)));
        assert_eq!(split_origin("https://a.b/path"), None);
    }
}
