//! HTTPRoute filters in translation: RequestMirror, CORS, header modifiers, redirects and
//! rewrites, backendRef-level filters, filter combinations, and `rules[].retry`.

mod common;

use common::*;
use fairlead_route::{
    BackendTarget, Cors, Filter, HeaderModifier, Mirror, PathModifier, Redirect, Retry, Route, UrlRewrite,
};
use fairlead_translate::Translation;

/// HTTPRoute `default/r` on Gateway `web` with the given `rules:` items (indented four spaces).
fn route_with(rules: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: web}}]\n  rules:\n{rules}\n"
    )
}

fn translate(rules: &str) -> Translation {
    run(&[
        GATEWAY,
        &app_service(),
        &service_with_endpoint("other", "mirror", "http", 80, "10.1.0.1", 9090),
        &route_with(rules),
    ])
}

fn rule(t: &Translation, index: usize) -> &Route {
    route(
        listener(t, "gateway/default/web/http"),
        &format!("httproute/default/r/rule/{index}"),
    )
}

fn rule_ids(t: &Translation) -> Vec<&str> {
    route_ids(listener(t, "gateway/default/web/http"))
}

/// The PartiallyInvalid message, failing when the condition is absent.
fn partially_invalid(t: &Translation) -> String {
    let c = condition(&parent(t, "r").conditions, "PartiallyInvalid");
    assert_eq!(sr(c), (true, "UnsupportedValue"));
    c.message.clone()
}

fn mirrors(r: &Route) -> Vec<&Mirror> {
    r.filters
        .iter()
        .filter_map(|f| match f {
            Filter::RequestMirror(m) => Some(m),
            _ => None,
        })
        .collect()
}

#[test]
fn mirrors_resolve_their_backend_and_share() {
    let t = translate(
        r#"    - filters:
        - {type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}}}
        - {type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, percent: 42}}
        - {type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, fraction: {numerator: 1, denominator: 3}}}
        - {type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, fraction: {numerator: 5}}}
        - {type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, percent: 0}}
      backendRefs: [{name: app, port: 80}]"#,
    );
    let r = rule(&t, 0);
    let shares: Vec<(u32, u32)> = mirrors(r).iter().map(|m| (m.numerator, m.denominator)).collect();
    assert_eq!(shares, [(100, 100), (42, 100), (1, 3), (5, 100), (0, 100)]);
    let m = mirrors(r)[0];
    assert_eq!(m.backend.name, "default/app:80");
    assert_eq!(m.backend.endpoints, ["10.0.0.1:8080".parse().unwrap()]);
    let p = parent(&t, "r");
    assert_eq!(
        sr(condition(&p.conditions, "ResolvedRefs")),
        (true, "ResolvedRefs")
    );
    assert!(!has_condition(&p.conditions, "PartiallyInvalid"));
}

#[test]
fn mirror_that_does_not_resolve_is_left_out_and_reported() {
    let t = translate(
        r#"    - filters:
        - {type: RequestMirror, requestMirror: {backendRef: {name: missing, port: 80}}}
        - {type: RequestMirror, requestMirror: {backendRef: {name: mirror, namespace: other, port: 80}}}
        - {type: RequestMirror, requestMirror: {backendRef: {name: b, kind: Bucket, group: s.example.com, port: 80}}}
        - {type: RequestMirror, requestMirror: {backendRef: {name: app}}}
        - {type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, percent: 10}}
        - {type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-kept, value: "1"}]}}
      backendRefs: [{name: app, port: 80}]"#,
    );
    let r = rule(&t, 0);
    assert_eq!(mirrors(r).len(), 1, "{:#?}", r.filters);
    assert_eq!(mirrors(r)[0].numerator, 10);
    assert_eq!(r.filters.len(), 2, "the other filters stay: {:#?}", r.filters);
    let p = parent(&t, "r");
    assert_eq!(sr(condition(&p.conditions, "Accepted")), (true, "Accepted"));
    let refs = condition(&p.conditions, "ResolvedRefs");
    assert_eq!(
        sr(refs),
        (false, "BackendNotFound"),
        "the first problem gives the reason"
    );
    assert_mentions(
        &refs.message,
        &[
            "RequestMirror: Service default/missing not found",
            "RequestMirror: backendRef to Service other/mirror is not permitted",
            "RequestMirror: backend default/b has kind Bucket",
            "needs a port",
        ],
    );
}

#[test]
fn mirror_reasons_are_ref_not_permitted_and_invalid_kind_on_their_own() {
    let t = translate(
        "    - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: mirror, namespace: other, port: 80}}}]",
    );
    assert!(mirrors(rule(&t, 0)).is_empty());
    assert_eq!(
        sr(condition(&parent(&t, "r").conditions, "ResolvedRefs")),
        (false, "RefNotPermitted")
    );
    let t = translate(
        "    - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: b, kind: Bucket, group: s.example.com, port: 1}}}]",
    );
    assert_eq!(
        sr(condition(&parent(&t, "r").conditions, "ResolvedRefs")),
        (false, "InvalidKind")
    );
}

#[test]
fn invalid_mirror_shares_drop_the_rule() {
    let t = translate(
        r#"    - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, percent: 50, fraction: {numerator: 1}}}]
    - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, percent: 101}}]
    - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, percent: -1}}]
    - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, fraction: {numerator: 1, denominator: 0}}}]
    - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, fraction: {numerator: 4, denominator: 3}}}]
    - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, fraction: {numerator: -1}}}]
    - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, fraction: {numerator: 3, denominator: 3}}}]"#,
    );
    assert_eq!(rule_ids(&t), ["httproute/default/r/rule/6"]);
    assert_eq!(mirrors(rule(&t, 6))[0].numerator, 3);
    assert_mentions(
        &partially_invalid(&t),
        &[
            "rule 0: filters[0].requestMirror: only one of percent or fraction",
            "rule 1: filters[0].requestMirror: percent 101",
            "rule 2: filters[0].requestMirror: percent -1",
            "rule 3: filters[0].requestMirror: fraction.denominator 0",
            "rule 4: filters[0].requestMirror: fraction.numerator 4",
            "rule 5: filters[0].requestMirror: fraction.numerator -1",
        ],
    );
}

#[test]
fn cors_is_converted_with_the_spec_defaults() {
    let t = translate(
        r#"    - filters:
        - type: CORS
          cors:
            allowOrigins: ["https://www.foo.com", "https://*.bar.com"]
            allowMethods: [GET, OPTIONS]
            allowHeaders: [x-header-1, x-header-2]
            exposeHeaders: [x-header-3, x-header-4]
            allowCredentials: true
            maxAge: 3600
      backendRefs: [{name: app, port: 80}]
    - filters: [{type: CORS, cors: {allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"], exposeHeaders: ["*"]}}]
      backendRefs: [{name: app, port: 80}]"#,
    );
    assert_eq!(
        rule(&t, 0).filters,
        [Filter::Cors(Cors {
            allow_origins: vec!["https://www.foo.com".into(), "https://*.bar.com".into()],
            allow_methods: vec!["GET".into(), "OPTIONS".into()],
            allow_headers: vec!["x-header-1".into(), "x-header-2".into()],
            expose_headers: vec!["x-header-3".into(), "x-header-4".into()],
            max_age: Some(3600),
            allow_credentials: true,
        })]
    );
    assert_eq!(
        rule(&t, 1).filters,
        [Filter::Cors(Cors {
            allow_origins: vec!["*".into()],
            allow_methods: vec!["*".into()],
            allow_headers: vec!["*".into()],
            expose_headers: vec!["*".into()],
            max_age: Some(5),
            allow_credentials: false,
        })],
        "maxAge defaults to 5 seconds, allowCredentials to false"
    );
    assert!(!has_condition(&parent(&t, "r").conditions, "PartiallyInvalid"));
}

#[test]
fn cors_values_the_spec_rejects_drop_the_rule() {
    let bad = [
        r#"{allowOrigins: ["*", "https://a.com"]}"#,
        r#"{allowMethods: ["*", GET]}"#,
        r#"{allowHeaders: ["*", x-a]}"#,
        r#"{allowOrigins: ["a.com"]}"#,
        r#"{allowOrigins: ["https://a.com/path"]}"#,
        r#"{allowOrigins: ["https://a.com:99999"]}"#,
        r#"{allowMethods: [get]}"#,
        r#"{allowMethods: [GET, GET]}"#,
        r#"{allowHeaders: ["x a"]}"#,
        r#"{exposeHeaders: [X-A, x-a]}"#,
        "{maxAge: 0}",
    ];
    let mut rules: Vec<String> = bad
        .iter()
        .map(|cors| format!("    - filters: [{{type: CORS, cors: {cors}}}]"))
        .collect();
    rules.push("    - filters: [{type: CORS, cors: {allowOrigins: [\"http://localhost:8080\"]}}]".into());
    let t = translate(&rules.join("\n"));
    let kept = format!("httproute/default/r/rule/{}", bad.len());
    assert_eq!(rule_ids(&t), [kept.as_str()]);
    let message = partially_invalid(&t);
    for i in 0..bad.len() {
        assert!(
            message.contains(&format!("rule {i}: filters[0].cors")),
            "rule {i}: {message}"
        );
    }
    assert_mentions(
        &message,
        &[
            "allowOrigins cannot contain \"*\" alongside other values",
            "allowMethods cannot contain \"*\"",
            "allowHeaders cannot contain \"*\"",
            "\"a.com\" must be \"*\" or start with http:// or https://",
            "\"get\" is not one of",
            "allowMethods lists \"GET\" more than once",
            "exposeHeaders lists \"x-a\" more than once",
            "maxAge 0",
        ],
    );
}

#[test]
fn header_modifiers_allow_one_action_per_header_name() {
    let t = translate(
        r#"    - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-A, value: "1"}], add: [{name: x-a, value: "2"}]}}]
    - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: x-b, value: "1"}], remove: [X-B]}}]
    - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {remove: [x-c, x-c]}}]
    - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: "bad header", value: "1"}]}}]
    - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: x-d, value: "a\nb"}]}}]
    - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Keep, value: "a b"}], add: [{name: x-other, value: "c"}], remove: [x-gone]}}]"#,
    );
    assert_eq!(rule_ids(&t), ["httproute/default/r/rule/5"]);
    assert_eq!(
        rule(&t, 5).filters,
        [Filter::RequestHeaderModifier(HeaderModifier {
            set: vec![("X-Keep".into(), "a b".into())],
            add: vec![("x-other".into(), "c".into())],
            remove: vec!["x-gone".into()],
        })]
    );
    assert_mentions(
        &partially_invalid(&t),
        &[
            "rule 0: filters[0].requestHeaderModifier: header \"x-a\" is named by both set and add",
            "rule 1: filters[0].responseHeaderModifier: header \"X-B\" is named by both set and remove",
            "rule 2: filters[0].requestHeaderModifier: header \"x-c\" is named by both remove and remove",
            "rule 3: filters[0].requestHeaderModifier: add: \"bad header\" is not a valid header name",
            "rule 4: filters[0].responseHeaderModifier: value \"a\\nb\"",
        ],
    );
}

#[test]
fn filter_combinations_the_spec_forbids_drop_the_rule() {
    let t = translate(
        r#"    - filters:
        - {type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: a, value: "1"}]}}
        - {type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: b, value: "1"}]}}
    - filters:
        - {type: CORS, cors: {allowOrigins: ["*"]}}
        - {type: CORS, cors: {allowOrigins: ["*"]}}
    - filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301}}]
      backendRefs: [{name: app, port: 80}]
    - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: a, value: "1"}]}, urlRewrite: {hostname: x.com}}]
    - filters: [{type: URLRewrite}]
    - filters:
        - {type: ExtensionRef, extensionRef: {group: example.com, kind: Auth, name: one}}
        - {type: ExtensionRef, extensionRef: {group: example.com, kind: Auth, name: two}}"#,
    );
    assert_eq!(
        rule_ids(&t),
        ["httproute/default/r/rule/5"],
        "ExtensionRef may repeat"
    );
    assert_mentions(
        &partially_invalid(&t),
        &[
            "rule 0: filters: RequestHeaderModifier filter cannot be repeated",
            "rule 1: filters: CORS filter cannot be repeated",
            "rule 2: filters: RequestRedirect filter must not be used together with backendRefs",
            "rule 3: filters[0]: urlRewrite must not be set when type is RequestHeaderModifier",
            "rule 4: filters[0]: type URLRewrite needs the urlRewrite field",
        ],
    );
}

#[test]
fn redirects_and_rewrites_follow_the_spec() {
    let t = translate(
        r#"    - filters: [{type: RequestRedirect, requestRedirect: {statusCode: 303, hostname: example.com}}]
    - filters: [{type: RequestRedirect, requestRedirect: {statusCode: 307}}]
    - filters: [{type: RequestRedirect, requestRedirect: {statusCode: 308, path: {type: ReplacePrefixMatch, replacePrefixMatch: ""}}}]
    - filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
      backendRefs: [{name: app, port: 80}]
    - filters: [{type: RequestRedirect, requestRedirect: {port: 0}}]
    - filters: [{type: RequestRedirect, requestRedirect: {hostname: "*.example.com"}}]
    - filters: [{type: URLRewrite, urlRewrite: {hostname: Example.COM}}]
    - filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: relative}}}]
    - filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /a, replacePrefixMatch: /b}}}]
    - filters: [{type: RequestRedirect, requestRedirect: {statusCode: 304}}]"#,
    );
    assert_eq!(
        rule_ids(&t),
        [
            "httproute/default/r/rule/0",
            "httproute/default/r/rule/1",
            "httproute/default/r/rule/2",
            "httproute/default/r/rule/3"
        ]
    );
    assert_eq!(
        rule(&t, 0).filters,
        [Filter::RequestRedirect(Redirect {
            hostname: Some("example.com".into()),
            status_code: 303,
            ..Redirect::default()
        })]
    );
    assert!(matches!(&rule(&t, 1).filters[0], Filter::RequestRedirect(r) if r.status_code == 307));
    assert_eq!(
        rule(&t, 2).filters,
        [Filter::RequestRedirect(Redirect {
            path: Some(PathModifier::ReplacePrefixMatch(String::new())),
            status_code: 308,
            ..Redirect::default()
        })]
    );
    assert_eq!(
        rule(&t, 3).filters,
        [Filter::UrlRewrite(UrlRewrite {
            hostname: None,
            path: Some(PathModifier::ReplacePrefixMatch("/".into())),
        })]
    );
    assert_mentions(
        &partially_invalid(&t),
        &[
            "rule 4: filters[0].requestRedirect: port 0",
            "rule 5: filters[0].requestRedirect.hostname: \"*.example.com\" is not a valid hostname",
            "rule 6: filters[0].urlRewrite.hostname: \"Example.COM\"",
            "rule 7: filters[0].urlRewrite.path: replaceFullPath \"relative\" must start with '/'",
            "rule 8: filters[0].urlRewrite.path: replacePrefixMatch must not be set",
            "rule 9: filters[0].requestRedirect: statusCode 304",
        ],
    );
}

#[test]
fn backend_ref_filters_go_on_the_backend() {
    let t = translate(
        r#"    - backendRefs:
        - name: app
          port: 80
          filters:
            - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-backend, value: v1}]}}
            - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-from, value: v1}]}}
            - {type: URLRewrite, urlRewrite: {hostname: v1.internal}}
            - {type: RequestMirror, requestMirror: {backendRef: {name: app, port: 80}, percent: 25}}
            - {type: CORS, cors: {allowOrigins: ["https://a.com"]}}
        - name: app
          port: 80
          filters:
            - {type: RequestRedirect, requestRedirect: {scheme: https, hostname: redirect-example.com, port: 443, statusCode: 302}}
        - {name: app, port: 80}"#,
    );
    let r = rule(&t, 0);
    assert!(r.filters.is_empty(), "{:#?}", r.filters);
    let b = &r.backends;
    assert_eq!(b.len(), 3);
    assert!(matches!(b[0].target, BackendTarget::Service(_)));
    assert_eq!(b[0].filters.len(), 5, "{:#?}", b[0].filters);
    assert_eq!(
        b[0].filters[0],
        Filter::RequestHeaderModifier(HeaderModifier {
            set: vec![("x-backend".into(), "v1".into())],
            ..HeaderModifier::default()
        })
    );
    assert!(matches!(&b[0].filters[1], Filter::ResponseHeaderModifier(m) if m.add.len() == 1));
    assert!(
        matches!(&b[0].filters[2], Filter::UrlRewrite(u) if u.hostname.as_deref() == Some("v1.internal"))
    );
    assert!(
        matches!(&b[0].filters[3], Filter::RequestMirror(m) if m.numerator == 25 && m.backend.name == "default/app:80")
    );
    assert!(matches!(&b[0].filters[4], Filter::Cors(c) if c.max_age == Some(5)));
    assert_eq!(
        b[1].filters,
        [Filter::RequestRedirect(Redirect {
            scheme: Some("https".into()),
            hostname: Some("redirect-example.com".into()),
            port: Some(443),
            path: None,
            status_code: 302,
        })],
        "a redirect is allowed on a backendRef, even though the rule has backends"
    );
    assert!(b[2].filters.is_empty());
    let p = parent(&t, "r");
    assert!(!has_condition(&p.conditions, "PartiallyInvalid"));
    assert_eq!(
        sr(condition(&p.conditions, "ResolvedRefs")),
        (true, "ResolvedRefs")
    );
}

#[test]
fn backend_ref_filter_problems_are_reported_like_rule_filters() {
    let t = translate(
        r#"    - backendRefs:
        - name: app
          port: 80
          filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Auth, name: sso}}]
        - name: app
          port: 80
          filters: [{type: RequestMirror, requestMirror: {backendRef: {name: gone, port: 80}}}]
    - backendRefs:
        - name: app
          port: 80
          filters: [{type: RequestRedirect, requestRedirect: {statusCode: 305}}]
    - backendRefs:
        - name: app
          port: 80
          filters:
            - {type: RequestRedirect, requestRedirect: {statusCode: 301}}
            - {type: URLRewrite, urlRewrite: {hostname: a.com}}
    - matches: [{path: {type: Exact, value: /x}}]
      backendRefs:
        - name: app
          port: 80
          filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /y}}}]"#,
    );
    assert_eq!(rule_ids(&t), ["httproute/default/r/rule/0"]);
    let r = rule(&t, 0);
    assert_eq!(
        r.backends[0].filters,
        [Filter::Unsupported {
            name: "ExtensionRef".into()
        }]
    );
    assert!(
        r.backends[1].filters.is_empty(),
        "the unresolved mirror is left out"
    );
    let p = parent(&t, "r");
    assert_eq!(sr(condition(&p.conditions, "Accepted")), (true, "Accepted"));
    let refs = condition(&p.conditions, "ResolvedRefs");
    assert_eq!(sr(refs), (false, "BackendNotFound"));
    assert_mentions(&refs.message, &["RequestMirror: Service default/gone not found"]);
    assert_mentions(
        &partially_invalid(&t),
        &[
            "rule 0: backendRefs[0].filters[0]: filter ExtensionRef to example.com/Auth sso is not supported, \
             so requests sent to that backend answer 500",
            "rule 1: backendRefs[0].filters[0].requestRedirect: statusCode 305",
            "rule 2: backendRefs[0].filters: RequestRedirect and URLRewrite cannot be used",
            "rule 3: backendRefs[0].filters[0].urlRewrite.path: ReplacePrefixMatch needs every match",
        ],
    );
}

#[test]
fn external_auth_is_unsupported_and_answers_500() {
    let t = translate(
        r#"    - filters:
        - type: ExternalAuth
          externalAuth: {protocol: HTTP, backendRef: {name: app, port: 80}, http: {}}
      backendRefs: [{name: app, port: 80}]"#,
    );
    assert_eq!(
        rule(&t, 0).filters,
        [Filter::Unsupported {
            name: "ExternalAuth".into()
        }]
    );
    assert_mentions(
        &partially_invalid(&t),
        &["rule 0: filters[0]: filter ExternalAuth is not supported, so the rule answers 500"],
    );
}

#[test]
fn retry_is_converted_with_defaults() {
    let t = translate(
        r#"    - retry: {codes: [503, 500, 503], attempts: 3, backoff: 100ms}
      backendRefs: [{name: app, port: 80}]
    - retry: {codes: [502]}
    - retry: {attempts: 0, backoff: 0s}
    - backendRefs: [{name: app, port: 80}]"#,
    );
    assert_eq!(
        rule(&t, 0).retry,
        Some(Retry {
            codes: vec![500, 503],
            attempts: 3,
            backoff_ms: Some(100),
        })
    );
    assert_eq!(
        rule(&t, 1).retry,
        Some(Retry {
            codes: vec![502],
            attempts: 2,
            backoff_ms: None,
        }),
        "unset attempts means 2 retries"
    );
    assert_eq!(
        rule(&t, 2).retry,
        Some(Retry {
            codes: vec![],
            attempts: 0,
            backoff_ms: Some(0),
        }),
        "0 attempts disables retries; a 0s backoff is kept, not read as unset"
    );
    assert_eq!(rule(&t, 3).retry, None);
}

#[test]
fn invalid_retry_drops_the_rule() {
    let t = translate(
        r#"    - retry: {codes: [404]}
    - retry: {codes: [600]}
    - retry: {codes: [200]}
    - retry: {attempts: -1}
    - retry: {backoff: 1 second}
    - retry: {codes: [599]}"#,
    );
    assert_eq!(rule_ids(&t), ["httproute/default/r/rule/5"]);
    assert_mentions(
        &partially_invalid(&t),
        &[
            "rule 0: retry.codes: 404 is a client error",
            "rule 1: retry.codes: 600 is not an HTTP status between 500 and 599",
            "rule 2: retry.codes: 200",
            "rule 3: retry.attempts -1",
            "rule 4: retry.backoff: invalid duration \"1 second\"",
        ],
    );
}
