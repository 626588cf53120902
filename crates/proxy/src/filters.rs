//! Route and backendRef filters, compiled once per routing state: header names and values are
//! parsed, CORS lists joined and mirror targets resolved when the table is published, not per
//! request. A filter that cannot be applied makes its rule (or, at backendRef level, that
//! backend's share of the traffic) fail closed with 500 instead of being ignored.

use crate::cors::CompiledCors;
use crate::metrics::Metrics;
use crate::mirror::MirrorTarget;
pub(crate) use crate::modifier::CompiledHeaderModifier;
use crate::pool::PoolRegistry;
use crate::upstream_tls::UpstreamTlsCache;
use fairlead_route::{Filter, PathModifier, Redirect, UrlRewrite};
use http::header::HeaderValue;
use http::StatusCode;
use std::sync::Arc;

/// Where a filter list is attached. RequestRedirect and CORS answer the client themselves, which
/// only a rule can do: on a backendRef they fail closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Rule,
    Backend,
}

/// What compiling filters needs besides the filters: mirror targets get endpoint pools, TLS
/// client configs and metric handles.
pub(crate) struct BuildCtx<'a> {
    pub(crate) metrics: &'a Metrics,
    pub(crate) pools: &'a PoolRegistry,
    pub(crate) upstream_tls: &'a UpstreamTlsCache<'a>,
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

/// The filters of one rule or backendRef, ready to apply.
#[derive(Default)]
pub(crate) struct CompiledFilters {
    pub(crate) request_headers: Vec<CompiledHeaderModifier>,
    pub(crate) response_headers: Vec<CompiledHeaderModifier>,
    pub(crate) redirect: Option<CompiledRedirect>,
    pub(crate) rewrite: Option<CompiledRewrite>,
    pub(crate) mirrors: Vec<Arc<MirrorTarget>>,
    pub(crate) cors: Option<CompiledCors>,
    /// Set when any filter cannot be applied: the rule (or backend) answers 500 with this reason
    /// logged.
    pub(crate) failure: Option<Arc<str>>,
}

impl CompiledFilters {
    pub(crate) fn compile(filters: &[Filter], level: Level, ctx: &BuildCtx<'_>) -> CompiledFilters {
        let mut out = CompiledFilters::default();
        if let Err(reason) = out.add_all(filters, level, ctx) {
            // Nothing half-compiled is used once the filters failed; drop the mirror targets
            // so their pools are not kept alive for nothing.
            out = CompiledFilters {
                failure: Some(reason.into()),
                ..CompiledFilters::default()
            };
        }
        out
    }

    fn add_all(&mut self, filters: &[Filter], level: Level, ctx: &BuildCtx<'_>) -> Result<(), String> {
        for filter in filters {
            match filter {
                Filter::RequestHeaderModifier(m) => self
                    .request_headers
                    .push(CompiledHeaderModifier::compile(m, "RequestHeaderModifier")?),
                Filter::ResponseHeaderModifier(m) => self
                    .response_headers
                    .push(CompiledHeaderModifier::compile(m, "ResponseHeaderModifier")?),
                Filter::RequestRedirect(_) if level == Level::Backend => {
                    return Err("RequestRedirect is not supported on a backendRef".into())
                }
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
                Filter::RequestMirror(m) => self.mirrors.push(Arc::new(MirrorTarget::build(m, ctx))),
                Filter::Cors(_) if level == Level::Backend => {
                    return Err("CORS is not supported on a backendRef".into())
                }
                Filter::Cors(c) => {
                    if self.cors.is_some() {
                        return Err("more than one CORS filter".into());
                    }
                    self.cors = Some(CompiledCors::compile(c)?);
                }
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

    fn compile(filters: &[Filter], level: Level) -> CompiledFilters {
        let metrics = Metrics::new(&mut prometheus_client::registry::Registry::default());
        let pools = PoolRegistry::new(
            crate::pool::PoolSettings {
                connect_timeout: std::time::Duration::from_secs(1),
                idle_timeout: std::time::Duration::from_secs(1),
            },
            1,
        );
        let material = fairlead_route::TlsMaterial::default();
        let upstream_tls = UpstreamTlsCache::new(&material, Default::default());
        CompiledFilters::compile(
            filters,
            level,
            &BuildCtx {
                metrics: &metrics,
                pools: &pools,
                upstream_tls: &upstream_tls,
            },
        )
    }

    #[test]
    fn unsupported_filters_fail_closed() {
        let f = compile(
            &[Filter::Unsupported {
                name: "ExtensionRef".into(),
            }],
            Level::Rule,
        );
        assert!(f.failure.is_some());
        let f = compile(
            &[Filter::RequestHeaderModifier(fairlead_route::HeaderModifier {
                set: vec![("bad name".into(), "v".into())],
                ..Default::default()
            })],
            Level::Rule,
        );
        assert!(f.failure.is_some());
        let f = compile(
            &[Filter::RequestRedirect(Redirect {
                status_code: 200,
                ..Default::default()
            })],
            Level::Rule,
        );
        assert!(f.failure.is_some());
        let f = compile(
            &[Filter::Cors(Default::default()), Filter::Cors(Default::default())],
            Level::Rule,
        );
        assert!(f.failure.is_some(), "two CORS filters");
    }

    #[test]
    fn filters_that_answer_the_client_fail_closed_on_a_backend_ref() {
        let redirect = Filter::RequestRedirect(Redirect {
            status_code: 302,
            ..Default::default()
        });
        assert!(compile(std::slice::from_ref(&redirect), Level::Rule)
            .failure
            .is_none());
        assert!(compile(&[redirect], Level::Backend).failure.is_some());
        let cors = Filter::Cors(Default::default());
        assert!(compile(std::slice::from_ref(&cors), Level::Rule)
            .failure
            .is_none());
        assert!(compile(&[cors], Level::Backend).failure.is_some());
    }

    #[test]
    fn mirrors_compile_at_both_levels() {
        let mirror = Filter::RequestMirror(fairlead_route::Mirror {
            backend: fairlead_route::ServiceBackend {
                name: "ns/mirror:80".into(),
                protocol: Default::default(),
                endpoints: vec!["127.0.0.1:9".parse().unwrap()],
                tls: None,
            },
            numerator: 1,
            denominator: 2,
        });
        for level in [Level::Rule, Level::Backend] {
            let f = compile(&[mirror.clone(), mirror.clone()], level);
            assert!(f.failure.is_none());
            assert_eq!(f.mirrors.len(), 2);
        }
    }
}
