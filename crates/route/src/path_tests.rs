//! Request matching within a host: paths (Exact, element-wise Prefix, whole-path regex),
//! header, query and method conditions, and the Ingress path cases. Each case names the rule it
//! checks.

use crate::config::*;
use crate::table::Lookup;
use crate::testkit::*;

#[test]
fn exact_and_prefix_on_the_same_path_both_work() {
    let table = single_listener(vec![
        http_route("prefix", &[], vec![prefix("/foo")]),
        http_route("exact", &[], vec![exact("/foo")]),
    ]);
    check(
        &table,
        vec![
            ("Exact wins on its path", get("h", "/foo"), "exact"),
            ("Prefix serves below the path", get("h", "/foo/bar"), "prefix"),
            ("Prefix serves the trailing slash", get("h", "/foo/"), "prefix"),
        ],
    );
}

#[test]
fn prefixes_match_whole_path_elements() {
    for configured in ["/foo", "/foo/"] {
        let table = single_listener(vec![http_route("p", &[], vec![prefix(configured)])]);
        let rule = |r: &str| format!("prefix {configured}: {r}");
        let cases = [
            ("the path itself", "/foo", "p"),
            ("with a trailing slash", "/foo/", "p"),
            ("below it", "/foo/bar", "p"),
            ("not a longer element", "/foobar", "404 l"),
            ("not the parent", "/", "404 l"),
            ("case-sensitive", "/FOO", "404 l"),
        ];
        for (r, path, want) in cases {
            assert_eq!(get("h", path).route_on(&table), want, "{}", rule(r));
        }
    }

    let root = single_listener(vec![http_route("root", &[], vec![prefix("/")])]);
    for path in ["/", "/a", "/a/b/", "*", ""] {
        assert_eq!(
            get("h", path).route_on(&root),
            "root",
            "prefix / matches everything: {path:?}"
        );
    }

    let exact_slash = single_listener(vec![http_route("e", &[], vec![exact("/foo/")])]);
    check(
        &exact_slash,
        vec![
            ("Exact with slash matches only itself", get("h", "/foo/"), "e"),
            (
                "Exact with slash does not match without",
                get("h", "/foo"),
                "404 l",
            ),
        ],
    );
}

#[test]
fn matched_prefix_is_the_configured_prefix_without_trailing_slash() {
    let table = single_listener(vec![
        http_route("slash", &[], vec![prefix("/api/")]),
        http_route("root", &[], vec![prefix("/")]),
        http_route("exact", &[], vec![exact("/e")]),
    ]);
    let prefix_of = |path: &str| match table.lookup(80, &get("h", path).info()) {
        Lookup::Matched(m) => m.matched_prefix.map(str::to_owned),
        _ => panic!("expected a match for {path}"),
    };
    assert_eq!(prefix_of("/api/v1"), Some("/api".into()));
    assert_eq!(
        prefix_of("/other"),
        Some("".into()),
        "prefix / reports the empty prefix"
    );
    assert_eq!(prefix_of("/e"), None, "Exact matches report no prefix");
}

#[test]
fn regex_must_match_the_whole_path() {
    let table = single_listener(vec![
        http_route("digits", &[], vec![regex("/a[0-9]+")]),
        http_route("alt", &[], vec![regex("/x|/y")]),
    ]);
    check(
        &table,
        vec![
            ("whole path matches", get("h", "/a12"), "digits"),
            ("extra suffix does not", get("h", "/a1/b"), "404 l"),
            ("extra prefix does not", get("h", "/xa1"), "404 l"),
            ("alternation, first branch", get("h", "/x"), "alt"),
            ("alternation, second branch", get("h", "/y"), "alt"),
            ("alternation stays anchored", get("h", "/xz"), "404 l"),
            (
                "alternation stays anchored at the start",
                get("h", "/z/y"),
                "404 l",
            ),
        ],
    );
}

#[test]
fn header_query_and_method_conditions_are_anded() {
    let strict = RouteMatch {
        headers: vec![header("X-Env", is("prod")), header("x-ver", re("v[0-9]+"))],
        query: vec![query("id", re("[0-9]+"))],
        method: Some("POST".into()),
        ..prefix("/")
    };
    let table = single_listener(vec![
        http_route("strict", &[], vec![strict]),
        http_route("fallback", &[], vec![prefix("/")]),
    ]);
    let ok = || {
        get("h", "/p?id=42")
            .method(http::Method::POST)
            .header("x-env", "prod")
            .header("x-ver", "v2")
    };
    check(
        &table,
        vec![
            (
                "all conditions hold; header names are case-insensitive",
                ok(),
                "strict",
            ),
            (
                "wrong method",
                get("h", "/p?id=42").header("x-env", "prod").header("x-ver", "v2"),
                "fallback",
            ),
            (
                "missing header",
                get("h", "/p?id=42")
                    .method(http::Method::POST)
                    .header("x-ver", "v2"),
                "fallback",
            ),
            (
                "header regex must match the whole value",
                get("h", "/p?id=42")
                    .method(http::Method::POST)
                    .header("x-env", "prod")
                    .header("x-ver", "v2b"),
                "fallback",
            ),
            (
                "header exact value is case-sensitive",
                get("h", "/p?id=42")
                    .method(http::Method::POST)
                    .header("x-env", "Prod")
                    .header("x-ver", "v2"),
                "fallback",
            ),
            (
                "missing query",
                get("h", "/p")
                    .method(http::Method::POST)
                    .header("x-env", "prod")
                    .header("x-ver", "v2"),
                "fallback",
            ),
            (
                "query regex must match the whole value",
                get("h", "/p?id=42x")
                    .method(http::Method::POST)
                    .header("x-env", "prod")
                    .header("x-ver", "v2"),
                "fallback",
            ),
            (
                "first occurrence of a query parameter counts",
                get("h", "/p?id=x&id=42")
                    .method(http::Method::POST)
                    .header("x-env", "prod")
                    .header("x-ver", "v2"),
                "fallback",
            ),
            (
                "query parameter among others",
                get("h", "/p?a=1&id=7&b")
                    .method(http::Method::POST)
                    .header("x-env", "prod")
                    .header("x-ver", "v2"),
                "strict",
            ),
            (
                "query names are case-sensitive",
                get("h", "/p?ID=42")
                    .method(http::Method::POST)
                    .header("x-env", "prod")
                    .header("x-ver", "v2"),
                "fallback",
            ),
        ],
    );
}

#[test]
fn first_header_value_and_raw_query_values_are_matched() {
    let table = single_listener(vec![
        http_route(
            "h",
            &[],
            vec![RouteMatch {
                headers: vec![header("x", is("1"))],
                ..exact("/h")
            }],
        ),
        http_route(
            "q",
            &[],
            vec![RouteMatch {
                query: vec![query("v", is("a b"))],
                ..exact("/q")
            }],
        ),
        http_route(
            "flag",
            &[],
            vec![RouteMatch {
                query: vec![query("flag", is(""))],
                ..exact("/f")
            }],
        ),
    ]);
    check(
        &table,
        vec![
            (
                "first header value matches",
                get("h", "/h").header("x", "1").header("x", "2"),
                "h",
            ),
            (
                "a later header value is not considered",
                get("h", "/h").header("x", "2").header("x", "1"),
                "404 l",
            ),
            (
                "query values are not percent-decoded",
                get("h", "/q?v=a%20b"),
                "404 l",
            ),
            (
                "a parameter without '=' has the empty value",
                get("h", "/f?flag"),
                "flag",
            ),
        ],
    );
}

#[test]
fn matches_of_a_route_are_ored_and_no_matches_means_everything() {
    let table = single_listener(vec![
        http_route("either", &[], vec![exact("/a"), exact("/b")]),
        http_route("default", &["d.example.com"], vec![]),
    ]);
    check(
        &table,
        vec![
            ("first alternative", get("h", "/a"), "either"),
            ("second alternative", get("h", "/b"), "either"),
            ("neither", get("h", "/c"), "404 l"),
            (
                "a route without matches is Prefix /",
                get("d.example.com", "/any/thing"),
                "default",
            ),
        ],
    );
}

#[test]
fn ingress_exact_path_is_exact() {
    let table = single_listener(vec![ingress_route("foo", &[], vec![exact("/foo")])]);
    check(
        &table,
        vec![
            ("Exact /foo matches /foo", get("h", "/foo"), "foo"),
            ("Exact /foo does not match /foo/", get("h", "/foo/"), "404 l"),
            ("Exact /foo does not match /FOO", get("h", "/FOO"), "404 l"),
        ],
    );
}

#[test]
fn ingress_longest_prefix_wins() {
    let table = single_listener(vec![
        ingress_route("aaa", &[], vec![prefix("/aaa")]),
        ingress_route("aaa-bbb", &[], vec![prefix("/aaa/bbb")]),
    ]);
    check(
        &table,
        vec![
            ("longest matching prefix", get("h", "/aaa/bbb/ccc"), "aaa-bbb"),
            (
                "shorter prefix when the longer does not match",
                get("h", "/aaa/ccc"),
                "aaa",
            ),
            ("prefixes match whole elements", get("h", "/aaaccc"), "404 l"),
        ],
    );
}

#[test]
fn ingress_exact_beats_prefix_of_equal_length() {
    let table = single_listener(vec![
        ingress_route("prefix", &[], vec![prefix("/foo")]),
        ingress_route("exact", &[], vec![exact("/foo")]),
    ]);
    check(
        &table,
        vec![
            ("Exact wins", get("h", "/foo"), "exact"),
            ("Prefix below", get("h", "/foo/x"), "prefix"),
        ],
    );
}
