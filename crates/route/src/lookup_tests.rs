//! Request matching: listener isolation, hostnames, paths, conditions and fall-through. Each case
//! names the rule it checks.

use crate::config::*;
use crate::table::{Lookup, Table};
use crate::testkit::*;

/// Runs `(rule, request, expected)` cases on port 80.
fn check(table: &Table, cases: Vec<(&str, Req, &str)>) {
    for (rule, req, want) in cases {
        assert_eq!(req.route_on(table), want, "{rule}: {} {}{:?}", req.host, req.path, req.query);
    }
}

#[test]
fn failed_conditions_fall_through_to_less_specific_routes() {
    let with_header = RouteMatch { headers: vec![header("x", is("1"))], ..prefix("/api") };
    let table = single_listener(vec![http_route("a", &[], vec![with_header]), http_route("b", &[], vec![prefix("/")])]);
    check(
        &table,
        vec![
            ("longer prefix whose header is missing falls through", get("h", "/api/x"), "b"),
            ("longer prefix with its header wins", get("h", "/api/x").header("x", "1"), "a"),
            ("wrong header value falls through", get("h", "/api/x").header("x", "2"), "b"),
        ],
    );
}

#[test]
fn hostnames_exact_before_wildcard_before_any() {
    let table = single_listener(vec![
        http_route("exact", &["foo.example.com"], vec![]),
        http_route("wild", &["*.example.com"], vec![]),
        http_route("any", &[], vec![]),
    ]);
    check(
        &table,
        vec![
            ("exact hostname wins", get("foo.example.com", "/"), "exact"),
            ("other one-label host takes the wildcard", get("bar.example.com", "/"), "wild"),
            ("Gateway wildcard covers several labels", get("a.b.example.com", "/"), "wild"),
            ("wildcard does not cover its own suffix", get("example.com", "/"), "any"),
            ("unrelated host takes the any-host route", get("other.org", "/"), "any"),
        ],
    );
}

#[test]
fn ingress_wildcard_covers_exactly_one_label() {
    let table = single_listener(vec![ingress_route("ing", &["*.example.com"], vec![])]);
    check(
        &table,
        vec![
            ("one label matches", get("a.example.com", "/"), "ing"),
            ("two labels do not", get("a.b.example.com", "/"), "404 l"),
            ("the bare suffix does not", get("example.com", "/"), "404 l"),
        ],
    );

    // Same wildcard from both APIs: the Ingress one is skipped where it does not apply, the
    // HTTPRoute one still serves.
    let mixed = single_listener(vec![
        ingress_route("ing", &["*.example.com"], vec![exact("/x")]),
        http_route("gw", &["*.example.com"], vec![prefix("/")]),
    ]);
    check(
        &mixed,
        vec![
            ("Ingress wildcard serves one label", get("a.example.com", "/x"), "ing"),
            ("Ingress wildcard skipped for two labels", get("a.b.example.com", "/x"), "gw"),
        ],
    );
}

#[test]
fn exact_host_falls_through_to_wildcard_and_any_host_routes() {
    let table = single_listener(vec![
        http_route("exact", &["foo.example.com"], vec![prefix("/a")]),
        http_route("wild", &["*.example.com"], vec![prefix("/b")]),
        http_route("any", &[], vec![prefix("/c")]),
    ]);
    check(
        &table,
        vec![
            ("exact-host route serves its path", get("foo.example.com", "/a"), "exact"),
            ("falls through to the wildcard route", get("foo.example.com", "/b"), "wild"),
            ("falls through to the any-host route", get("foo.example.com", "/c"), "any"),
            ("nothing matches: 404 on the listener", get("foo.example.com", "/d"), "404 l"),
        ],
    );
}

#[test]
fn listener_isolation_picks_the_most_specific_listener() {
    let table = compile_ok(vec![
        listener("wild-l", 80, Some("*.example.com"), vec![http_route("wild-route", &[], vec![])]),
        listener("foo-l", 80, Some("foo.example.com"), vec![http_route("foo-route", &[], vec![exact("/only")])]),
        listener("other-l", 8080, None, vec![http_route("other-route", &[], vec![])]),
    ]);
    check(
        &table,
        vec![
            ("exact listener serves its route", get("foo.example.com", "/only"), "foo-route"),
            (
                "exact listener without a matching route never falls back to the wildcard listener",
                get("foo.example.com", "/other"),
                "404 foo-l",
            ),
            ("other hosts go to the wildcard listener", get("bar.example.com", "/other"), "wild-route"),
            ("wildcard listener covers several labels", get("a.bar.example.com", "/"), "wild-route"),
            ("no listener accepts the bare suffix", get("example.com", "/"), "no listener"),
            ("no listener accepts an unrelated host", get("other.org", "/"), "no listener"),
        ],
    );
    assert_eq!(get("anything", "/").route_on_port(&table, 8080), "other-route", "listener on another port");
    assert_eq!(get("anything", "/").route_on_port(&table, 81), "no listener", "port without listener");
}

#[test]
fn listener_without_hostname_is_the_last_resort() {
    let table = compile_ok(vec![
        listener("catch-all", 80, None, vec![http_route("catch", &[], vec![])]),
        listener("foo-l", 80, Some("foo.example.com"), vec![http_route("foo", &[], vec![exact("/x")])]),
    ]);
    check(
        &table,
        vec![
            ("hostname listener wins", get("foo.example.com", "/x"), "foo"),
            ("isolated from the catch-all", get("foo.example.com", "/y"), "404 foo-l"),
            ("other hosts reach the catch-all", get("bar.example.com", "/y"), "catch"),
        ],
    );
}

#[test]
fn listeners_sharing_port_and_hostname_share_precedence() {
    let table = compile_ok(vec![
        listener("gateway", 80, None, vec![http_route("gw", &[], vec![prefix("/app")])]),
        listener("ingress", 80, None, vec![ingress_route("ing", &[], vec![prefix("/")])]),
    ]);
    check(
        &table,
        vec![
            ("the longer prefix wins across both listeners", get("h", "/app/x"), "gw"),
            ("the other listener serves the rest", get("h", "/x"), "ing"),
        ],
    );
    let Lookup::Matched(m) = table.lookup(80, &get("h", "/x").info()) else { panic!("expected a match") };
    assert_eq!(m.listener.id, "ingress", "a match reports the listener its route belongs to");
}

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
        assert_eq!(get("h", path).route_on(&root), "root", "prefix / matches everything: {path:?}");
    }

    let exact_slash = single_listener(vec![http_route("e", &[], vec![exact("/foo/")])]);
    check(
        &exact_slash,
        vec![
            ("Exact with slash matches only itself", get("h", "/foo/"), "e"),
            ("Exact with slash does not match without", get("h", "/foo"), "404 l"),
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
    assert_eq!(prefix_of("/other"), Some("".into()), "prefix / reports the empty prefix");
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
            ("alternation stays anchored at the start", get("h", "/z/y"), "404 l"),
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
        get("h", "/p?id=42").method(http::Method::POST).header("x-env", "prod").header("x-ver", "v2")
    };
    check(
        &table,
        vec![
            ("all conditions hold; header names are case-insensitive", ok(), "strict"),
            ("wrong method", get("h", "/p?id=42").header("x-env", "prod").header("x-ver", "v2"), "fallback"),
            (
                "missing header",
                get("h", "/p?id=42").method(http::Method::POST).header("x-ver", "v2"),
                "fallback",
            ),
            (
                "header regex must match the whole value",
                get("h", "/p?id=42").method(http::Method::POST).header("x-env", "prod").header("x-ver", "v2b"),
                "fallback",
            ),
            (
                "header exact value is case-sensitive",
                get("h", "/p?id=42").method(http::Method::POST).header("x-env", "Prod").header("x-ver", "v2"),
                "fallback",
            ),
            (
                "missing query",
                get("h", "/p").method(http::Method::POST).header("x-env", "prod").header("x-ver", "v2"),
                "fallback",
            ),
            (
                "query regex must match the whole value",
                get("h", "/p?id=42x").method(http::Method::POST).header("x-env", "prod").header("x-ver", "v2"),
                "fallback",
            ),
            (
                "first occurrence of a query parameter counts",
                get("h", "/p?id=x&id=42").method(http::Method::POST).header("x-env", "prod").header("x-ver", "v2"),
                "fallback",
            ),
            (
                "query parameter among others",
                get("h", "/p?a=1&id=7&b").method(http::Method::POST).header("x-env", "prod").header("x-ver", "v2"),
                "strict",
            ),
            (
                "query names are case-sensitive",
                get("h", "/p?ID=42").method(http::Method::POST).header("x-env", "prod").header("x-ver", "v2"),
                "fallback",
            ),
        ],
    );
}

#[test]
fn first_header_value_and_raw_query_values_are_matched() {
    let table = single_listener(vec![
        http_route("h", &[], vec![RouteMatch { headers: vec![header("x", is("1"))], ..exact("/h") }]),
        http_route("q", &[], vec![RouteMatch { query: vec![query("v", is("a b"))], ..exact("/q") }]),
        http_route("flag", &[], vec![RouteMatch { query: vec![query("flag", is(""))], ..exact("/f") }]),
    ]);
    check(
        &table,
        vec![
            ("first header value matches", get("h", "/h").header("x", "1").header("x", "2"), "h"),
            ("a later header value is not considered", get("h", "/h").header("x", "2").header("x", "1"), "404 l"),
            ("query values are not percent-decoded", get("h", "/q?v=a%20b"), "404 l"),
            ("a parameter without '=' has the empty value", get("h", "/f?flag"), "flag"),
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
            ("a route without matches is Prefix /", get("d.example.com", "/any/thing"), "default"),
        ],
    );
}

#[test]
fn request_host_is_normalized_before_matching() {
    let table = single_listener(vec![http_route("foo", &["foo.example.com"], vec![])]);
    check(
        &table,
        vec![
            ("port is ignored", get("foo.example.com:8080", "/"), "foo"),
            ("trailing dot is ignored", get("foo.example.com.", "/"), "foo"),
            ("case is ignored", get("FOO.Example.COM", "/"), "foo"),
            ("all at once", get("Foo.Example.com.:80", "/"), "foo"),
        ],
    );
    let ipv6 = single_listener(vec![http_route("v6", &["[::1]"], vec![])]);
    assert_eq!(get("[::1]:8080", "/").route_on(&ipv6), "v6", "bracketed IPv6 host keeps its brackets");
}

#[test]
fn configured_hostnames_are_normalized_too() {
    let table = compile_ok(vec![listener(
        "l",
        80,
        Some("*.Example.COM."),
        vec![http_route("r", &["Foo.Example.com."], vec![])],
    )]);
    assert_eq!(get("foo.example.com", "/").route_on(&table), "r");
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
            ("shorter prefix when the longer does not match", get("h", "/aaa/ccc"), "aaa"),
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
        vec![("Exact wins", get("h", "/foo"), "exact"), ("Prefix below", get("h", "/foo/x"), "prefix")],
    );
}
