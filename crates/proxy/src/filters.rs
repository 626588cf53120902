//! Route filters, compiled once per routing state: header names and values are parsed when the
//! table is published, not per request. A filter that cannot be applied makes its route fail
//! closed (500) instead of being ignored.

use fairlead_route::{Filter, HeaderModifier, PathModifier, Redirect, UrlRewrite};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use std::sync::Arc;

/// A header modifier with parsed names and values.
#[derive(Debug, Default)]
pub(crate) struct CompiledHeaderModifier {
    set: Vec<(HeaderName, HeaderValue)>,
    add: Vec<(HeaderName, HeaderValue)>,
    remove: Vec<HeaderName>,
}

impl CompiledHeaderModifier {
    fn compile(m: &HeaderModifier, kind: &str) -> Result<CompiledHeaderModifier, String> {
        let pair = |(name, value): &(String, String)| {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{kind}: invalid header name {name:?}"))?;
            let v = HeaderValue::from_str(value)
                .map_err(|_| format!("{kind}: invalid value for header {name:?}"))?;
            Ok::<_, String>((n, v))
        };
        Ok(CompiledHeaderModifier {
            set: m.set.iter().map(pair).collect::<Result<_, _>>()?,
            add: m.add.iter().map(pair).collect::<Result<_, _>>()?,
            remove: m
                .remove
                .iter()
                .map(|name| {
                    HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("{kind}: invalid header name {name:?}"))
                })
                .collect::<Result<_, _>>()?,
        })
    }

    /// Gateway API order: set, then add, then remove.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            headers.append(name.clone(), value.clone());
        }
        for name in &self.remove {
            headers.remove(name);
        }
    }
}

/// A compiled `RequestRedirect`.
#[derive(Debug)]
pub(crate) struct CompiledRedirect {
    scheme: Option<String>,
    hostname: Option<String>,
    port: Option<u16>,
    path: Option<PathModifier>,
    pub(crate) status: StatusCode,
}

/// What the redirect needs to know about the request.
pub(crate) struct RedirectInput<'a> {
    pub scheme: &'a str,
    /// Request host without port.
    pub host: &'a str,
    /// Port the request arrived on (the listener port).
    pub listener_port: u16,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub matched_prefix: Option<&'a str>,
}

impl CompiledRedirect {
    fn compile(r: &Redirect) -> Result<CompiledRedirect, String> {
        let code = if r.status_code == 0 { 302 } else { r.status_code };
        let status = match code {
            301 | 302 | 303 | 307 | 308 => StatusCode::from_u16(code).map_err(|e| e.to_string())?,
            other => return Err(format!("RequestRedirect: unsupported status code {other}")),
        };
        Ok(CompiledRedirect {
            scheme: r.scheme.as_ref().map(|s| s.to_ascii_lowercase()),
            hostname: r.hostname.clone(),
            port: r.port,
            path: r.path.clone(),
            status,
        })
    }

    /// The `Location` value, following the Gateway API port rules: an explicit port wins; a
    /// scheme change implies that scheme's well-known port; otherwise the listener port. Well-known
    /// ports are left out of the URL.
    pub(crate) fn location(&self, input: &RedirectInput<'_>) -> Option<HeaderValue> {
        let scheme = self.scheme.as_deref().unwrap_or(input.scheme);
        let host = self.hostname.as_deref().unwrap_or(input.host);
        let port = match (self.port, &self.scheme) {
            (Some(port), _) => port,
            (None, Some(s)) => well_known_port(s).unwrap_or(input.listener_port),
            (None, None) => input.listener_port,
        };
        let path = match &self.path {
            None => input.path.to_owned(),
            Some(PathModifier::ReplaceFullPath(p)) => p.clone(),
            Some(PathModifier::ReplacePrefixMatch(p)) => replace_prefix(input.path, input.matched_prefix, p),
        };
        let mut location = String::with_capacity(scheme.len() + host.len() + path.len() + 16);
        location.push_str(scheme);
        location.push_str("://");
        if host.contains(':') && !host.starts_with('[') {
            location.push('[');
            location.push_str(host);
            location.push(']');
        } else {
            location.push_str(host);
        }
        if well_known_port(scheme) != Some(port) {
            location.push(':');
            location.push_str(&port.to_string());
        }
        location.push_str(&path);
        if let Some(q) = input.query {
            location.push('?');
            location.push_str(q);
        }
        HeaderValue::from_str(&location).ok()
    }
}

fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// A compiled `URLRewrite`.
#[derive(Debug)]
pub(crate) struct CompiledRewrite {
    pub(crate) hostname: Option<HeaderValue>,
    pub(crate) path: Option<PathModifier>,
}

impl CompiledRewrite {
    fn compile(r: &UrlRewrite) -> Result<CompiledRewrite, String> {
        let hostname = match &r.hostname {
            None => None,
            Some(h) => {
                Some(HeaderValue::from_str(h).map_err(|_| format!("URLRewrite: invalid hostname {h:?}"))?)
            }
        };
        Ok(CompiledRewrite {
            hostname,
            path: r.path.clone(),
        })
    }

    /// The rewritten path, or `None` when the path is left alone.
    pub(crate) fn rewrite_path(&self, path: &str, matched_prefix: Option<&str>) -> Option<String> {
        match &self.path {
            None => None,
            Some(PathModifier::ReplaceFullPath(p)) => Some(p.clone()),
            Some(PathModifier::ReplacePrefixMatch(p)) => Some(replace_prefix(path, matched_prefix, p)),
        }
    }
}

/// Replaces the matched prefix of `path` by `replacement`, element-wise: `/foo` → `/bar` maps
/// `/foo/x` to `/bar/x`, and `/foo` → `/` maps `/foo/x` to `/x` and `/foo` to `/`.
pub(crate) fn replace_prefix(path: &str, matched_prefix: Option<&str>, replacement: &str) -> String {
    let prefix = matched_prefix.unwrap_or("").trim_end_matches('/');
    let rest = match path.strip_prefix(prefix) {
        Some(rest) => rest,
        // The table says the prefix matched; if it did not, keep the whole path after it.
        None => path,
    };
    let mut out = String::with_capacity(replacement.len() + rest.len() + 1);
    out.push('/');
    out.push_str(replacement.trim_matches('/'));
    if !rest.is_empty() {
        if !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(rest.strip_prefix('/').unwrap_or(rest));
    }
    out
}

/// The filters of one route, ready to apply.
#[derive(Debug, Default)]
pub(crate) struct CompiledFilters {
    pub(crate) request_headers: Vec<CompiledHeaderModifier>,
    pub(crate) response_headers: Vec<CompiledHeaderModifier>,
    pub(crate) redirect: Option<CompiledRedirect>,
    pub(crate) rewrite: Option<CompiledRewrite>,
    /// Set when any filter cannot be applied: the route answers 500 with this reason logged.
    pub(crate) failure: Option<Arc<str>>,
}

impl CompiledFilters {
    pub(crate) fn compile(filters: &[Filter]) -> CompiledFilters {
        let mut out = CompiledFilters::default();
        if let Err(reason) = out.add_all(filters) {
            out.failure = Some(reason.into());
        }
        out
    }

    fn add_all(&mut self, filters: &[Filter]) -> Result<(), String> {
        for filter in filters {
            match filter {
                Filter::RequestHeaderModifier(m) => self
                    .request_headers
                    .push(CompiledHeaderModifier::compile(m, "RequestHeaderModifier")?),
                Filter::ResponseHeaderModifier(m) => self
                    .response_headers
                    .push(CompiledHeaderModifier::compile(m, "ResponseHeaderModifier")?),
                Filter::RequestRedirect(r) => {
                    if self.redirect.is_some() {
                        return Err("more than one RequestRedirect".into());
                    }
                    self.redirect = Some(CompiledRedirect::compile(r)?);
                }
                Filter::UrlRewrite(r) => {
                    if self.rewrite.is_some() {
                        return Err("more than one URLRewrite".into());
                    }
                    self.rewrite = Some(CompiledRewrite::compile(r)?);
                }
                Filter::RequestMirror(_) => return Err("RequestMirror is not implemented".into()),
                Filter::Cors(_) => return Err("CORS is not implemented".into()),
                Filter::Unsupported { name } => return Err(format!("unsupported filter {name}")),
            }
        }
        if self.redirect.is_some() && self.rewrite.is_some() {
            return Err("RequestRedirect and URLRewrite on the same rule".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_replacement_is_element_wise() {
        assert_eq!(replace_prefix("/foo/x", Some("/foo"), "/bar"), "/bar/x");
        assert_eq!(replace_prefix("/foo", Some("/foo"), "/bar"), "/bar");
        assert_eq!(replace_prefix("/foo/", Some("/foo"), "/bar"), "/bar/");
        assert_eq!(replace_prefix("/foo/x", Some("/foo"), "/"), "/x");
        assert_eq!(replace_prefix("/foo", Some("/foo"), "/"), "/");
        assert_eq!(replace_prefix("/foo/x/y", Some("/foo/"), "/bar/"), "/bar/x/y");
        assert_eq!(replace_prefix("/x", Some(""), "/bar"), "/bar/x");
    }

    fn redirect(r: Redirect) -> CompiledRedirect {
        CompiledRedirect::compile(&r).unwrap()
    }

    fn input<'a>(path: &'a str, query: Option<&'a str>) -> RedirectInput<'a> {
        RedirectInput {
            scheme: "http",
            host: "example.com",
            listener_port: 8080,
            path,
            query,
            matched_prefix: Some("/old"),
        }
    }

    #[test]
    fn redirect_keeps_the_listener_port_unless_the_scheme_changes() {
        let r = redirect(Redirect {
            status_code: 301,
            ..Default::default()
        });
        assert_eq!(
            r.location(&input("/a", Some("q=1"))).unwrap(),
            "http://example.com:8080/a?q=1"
        );
        let r = redirect(Redirect {
            scheme: Some("https".into()),
            status_code: 301,
            ..Default::default()
        });
        assert_eq!(r.location(&input("/a", None)).unwrap(), "https://example.com/a");
        let r = redirect(Redirect {
            hostname: Some("other.example".into()),
            port: Some(80),
            path: Some(PathModifier::ReplacePrefixMatch("/new".into())),
            status_code: 302,
            ..Default::default()
        });
        assert_eq!(
            r.location(&input("/old/x", None)).unwrap(),
            "http://other.example/new/x"
        );
    }

    #[test]
    fn unsupported_filters_fail_closed() {
        let f = CompiledFilters::compile(&[Filter::Unsupported {
            name: "ExtensionRef".into(),
        }]);
        assert!(f.failure.is_some());
        let f = CompiledFilters::compile(&[Filter::RequestHeaderModifier(HeaderModifier {
            set: vec![("bad name".into(), "v".into())],
            ..Default::default()
        })]);
        assert!(f.failure.is_some());
        let f = CompiledFilters::compile(&[Filter::RequestRedirect(Redirect {
            status_code: 200,
            ..Default::default()
        })]);
        assert!(f.failure.is_some());
    }
}
