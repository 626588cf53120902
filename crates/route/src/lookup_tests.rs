//! Request matching by host: listener isolation, route hostnames and fall-through between host
//! tiers. Each case names the rule it checks.

use crate::config::*;
use crate::table::Lookup;
use crate::testkit::*;

#[test]
fn failed_conditions_fall_through_to_less_specific_routes() {
    let with_header = RouteMatch {
        headers: vec![header("x", is("1"))],
        ..prefix("/api")
    };
    let table = single_listener(vec![
        http_route("a", &[], vec![with_header]),
        http_route("b", &[], vec![prefix("/")]),
    ]);
    check(
        &table,
        vec![
            (
                "longer prefix whose header is missing falls through",
                get("h", "/api/x"),
                "b",
            ),
            (
                "longer prefix with its header wins",
                get("h", "/api/x").header("x", "1"),
                "a",
            ),
            (
                "wrong header value falls through",
                get("h", "/api/x").header("x", "2"),
                "b",
            ),
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
            (
                "other one-label host takes the wildcard",
                get("bar.example.com", "/"),
                "wild",
            ),
            (
                "Gateway wildcard covers several labels",
                get("a.b.example.com", "/"),
                "wild",
            ),
            (
                "wildcard does not cover its own suffix",
                get("example.com", "/"),
                "any",
            ),
            (
                "unrelated host takes the any-host route",
                get("other.org", "/"),
                "any",
            ),
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
            (
                "Ingress wildcard serves one label",
                get("a.example.com", "/x"),
                "ing",
            ),
            (
                "Ingress wildcard skipped for two labels",
                get("a.b.example.com", "/x"),
                "gw",
            ),
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
            (
                "exact-host route serves its path",
                get("foo.example.com", "/a"),
                "exact",
            ),
            (
                "falls through to the wildcard route",
                get("foo.example.com", "/b"),
                "wild",
            ),
            (
                "falls through to the any-host route",
                get("foo.example.com", "/c"),
                "any",
            ),
            (
                "nothing matches: 404 on the listener",
                get("foo.example.com", "/d"),
                "404 l",
            ),
        ],
    );
}

#[test]
fn listener_isolation_picks_the_most_specific_listener() {
    let table = compile_ok(vec![
        listener(
            "wild-l",
            80,
            Some("*.example.com"),
            vec![http_route("wild-route", &[], vec![])],
        ),
        listener(
            "foo-l",
            80,
            Some("foo.example.com"),
            vec![http_route("foo-route", &[], vec![exact("/only")])],
        ),
        listener(
            "other-l",
            8080,
            None,
            vec![http_route("other-route", &[], vec![])],
        ),
    ]);
    check(
        &table,
        vec![
            (
                "exact listener serves its route",
                get("foo.example.com", "/only"),
                "foo-route",
            ),
            (
                "exact listener without a matching route never falls back to the wildcard listener",
                get("foo.example.com", "/other"),
                "404 foo-l",
            ),
            (
                "other hosts go to the wildcard listener",
                get("bar.example.com", "/other"),
                "wild-route",
            ),
            (
                "wildcard listener covers several labels",
                get("a.bar.example.com", "/"),
                "wild-route",
            ),
            (
                "no listener accepts the bare suffix",
                get("example.com", "/"),
                "no listener",
            ),
            (
                "no listener accepts an unrelated host",
                get("other.org", "/"),
                "no listener",
            ),
        ],
    );
    assert_eq!(
        get("anything", "/").route_on_port(&table, 8080),
        "other-route",
        "listener on another port"
    );
    assert_eq!(
        get("anything", "/").route_on_port(&table, 81),
        "no listener",
        "port without listener"
    );
}

#[test]
fn listener_without_hostname_is_the_last_resort() {
    let table = compile_ok(vec![
        listener("catch-all", 80, None, vec![http_route("catch", &[], vec![])]),
        listener(
            "foo-l",
            80,
            Some("foo.example.com"),
            vec![http_route("foo", &[], vec![exact("/x")])],
        ),
    ]);
    check(
        &table,
        vec![
            ("hostname listener wins", get("foo.example.com", "/x"), "foo"),
            (
                "isolated from the catch-all",
                get("foo.example.com", "/y"),
                "404 foo-l",
            ),
            (
                "other hosts reach the catch-all",
                get("bar.example.com", "/y"),
                "catch",
            ),
        ],
    );
}

#[test]
fn listeners_sharing_port_and_hostname_share_precedence() {
    let table = compile_ok(vec![
        listener(
            "gateway",
            80,
            None,
            vec![http_route("gw", &[], vec![prefix("/app")])],
        ),
        listener(
            "ingress",
            80,
            None,
            vec![ingress_route("ing", &[], vec![prefix("/")])],
        ),
    ]);
    check(
        &table,
        vec![
            (
                "the longer prefix wins across both listeners",
                get("h", "/app/x"),
                "gw",
            ),
            ("the other listener serves the rest", get("h", "/x"), "ing"),
        ],
    );
    let Lookup::Matched(m) = table.lookup(80, &get("h", "/x").info()) else {
        panic!("expected a match")
    };
    assert_eq!(
        m.listener.id, "ingress",
        "a match reports the listener its route belongs to"
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
    assert_eq!(
        get("[::1]:8080", "/").route_on(&ipv6),
        "v6",
        "bracketed IPv6 host keeps its brackets"
    );
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
