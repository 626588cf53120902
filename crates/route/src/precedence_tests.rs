//! Gateway API precedence: every tie-breaker, checked through lookups (what users see) and on
//! the `Ord` itself where lookup cannot tell (two matches of one route).

use crate::config::*;
use crate::host::HostRank;
use crate::precedence::{OrderKey, PathRank, Precedence};
use crate::testkit::*;
use std::cmp::Reverse;

/// Two routes that both match `req`; `want` must win whichever comes first in the config.
fn assert_wins(rule: &str, want: Route, other: Route, req: Req) {
    let id = want.id.clone();
    for routes in [vec![want.clone(), other.clone()], vec![other, want]] {
        assert_eq!(req.route_on(&single_listener(routes)), id, "{rule}");
    }
}

fn with_order(mut route: Route, created: Option<i64>, namespace: &str, name: &str, rule: u32) -> Route {
    route.order = RouteOrder {
        created,
        namespace: namespace.into(),
        name: name.into(),
        rule,
    };
    route
}

#[test]
fn rule_1_host_exact_before_wildcard_before_any() {
    assert_wins(
        "exact hostname beats a wildcard hostname with a more specific path",
        http_route("exact", &["a.b.example.com"], vec![prefix("/")]),
        http_route("wild", &["*.b.example.com"], vec![exact("/x")]),
        get("a.b.example.com", "/x"),
    );
    assert_wins(
        "the longer wildcard wins",
        http_route("long", &["*.b.example.com"], vec![prefix("/")]),
        http_route("short", &["*.example.com"], vec![exact("/x")]),
        get("a.b.example.com", "/x"),
    );
    assert_wins(
        "any-host routes come last",
        http_route("wild", &["*.example.com"], vec![prefix("/")]),
        http_route("any", &[], vec![exact("/x")]),
        get("a.example.com", "/x"),
    );
}

#[test]
fn rule_2_path_exact_then_longest_prefix_then_regex() {
    let many_conditions = |m: RouteMatch| RouteMatch {
        method: Some("GET".into()),
        headers: vec![header("x", is("1"))],
        query: vec![query("q", is("1"))],
        ..m
    };
    let req = || get("h", "/a/b?q=1").header("x", "1");
    assert_wins(
        "Exact beats Prefix",
        http_route("exact", &[], vec![exact("/a/b")]),
        http_route("prefix", &[], vec![many_conditions(prefix("/a/b"))]),
        req(),
    );
    assert_wins(
        "longer Prefix beats shorter",
        http_route("long", &[], vec![prefix("/a/b")]),
        http_route("short", &[], vec![many_conditions(prefix("/a"))]),
        req(),
    );
    assert_wins(
        "Prefix / beats a regex",
        http_route("root", &[], vec![prefix("/")]),
        http_route("regex", &[], vec![many_conditions(regex("/a/b"))]),
        req(),
    );
    // `/a/` is as long as `/a` once its trailing slash is dropped, so the next rule decides.
    let older = with_order(
        http_route("older", &[], vec![prefix("/a")]),
        Some(1),
        "ns",
        "older",
        0,
    );
    let newer = with_order(
        http_route("newer", &[], vec![prefix("/a/")]),
        Some(2),
        "ns",
        "newer",
        0,
    );
    assert_wins(
        "a trailing slash does not make a prefix longer",
        older,
        newer,
        get("h", "/a/b"),
    );
}

#[test]
fn rule_3_method_before_none() {
    assert_wins(
        "a method match outranks header and query matches",
        http_route(
            "method",
            &[],
            vec![RouteMatch {
                method: Some("GET".into()),
                ..prefix("/")
            }],
        ),
        http_route(
            "headers",
            &[],
            vec![RouteMatch {
                headers: vec![header("x", is("1"))],
                query: vec![query("q", is("1"))],
                ..prefix("/")
            }],
        ),
        get("h", "/?q=1").header("x", "1"),
    );
}

#[test]
fn rule_4_more_header_matches_first() {
    assert_wins(
        "two headers beat one header plus queries",
        http_route(
            "two",
            &[],
            vec![RouteMatch {
                headers: vec![header("x", is("1")), header("y", is("1"))],
                ..prefix("/")
            }],
        ),
        http_route(
            "one",
            &[],
            vec![RouteMatch {
                headers: vec![header("x", is("1"))],
                query: vec![query("q", is("1")), query("r", is("1"))],
                ..prefix("/")
            }],
        ),
        get("h", "/?q=1&r=1").header("x", "1").header("y", "1"),
    );
}

#[test]
fn rule_5_more_query_matches_first() {
    let older = with_order(
        http_route(
            "one",
            &[],
            vec![RouteMatch {
                query: vec![query("q", is("1"))],
                ..prefix("/")
            }],
        ),
        Some(1),
        "a",
        "a",
        0,
    );
    let newer = with_order(
        http_route(
            "two",
            &[],
            vec![RouteMatch {
                query: vec![query("q", is("1")), query("r", is("1"))],
                ..prefix("/")
            }],
        ),
        Some(2),
        "z",
        "z",
        9,
    );
    assert_wins(
        "two query matches beat one, even from a newer route",
        newer,
        older,
        get("h", "/?q=1&r=1"),
    );
}

#[test]
fn rule_6_route_order() {
    let r = |id: &str, created, ns: &str, name: &str, rule| {
        with_order(http_route(id, &[], vec![]), created, ns, name, rule)
    };
    let cases = [
        (
            "oldest creation first",
            r("old", Some(1), "z", "z", 9),
            r("new", Some(2), "a", "a", 0),
        ),
        (
            "missing creation time sorts last",
            r("dated", Some(i64::MAX), "z", "z", 9),
            r("undated", None, "a", "a", 0),
        ),
        (
            "then namespace",
            r("ns-a", Some(1), "a", "z", 9),
            r("ns-b", Some(1), "b", "a", 0),
        ),
        (
            "then name",
            r("name-a", Some(1), "ns", "a", 9),
            r("name-b", Some(1), "ns", "b", 0),
        ),
        (
            "then rule index",
            r("rule-0", Some(1), "ns", "n", 0),
            r("rule-1", Some(1), "ns", "n", 1),
        ),
    ];
    for (rule, want, other) in cases {
        assert_wins(rule, want, other, get("h", "/"));
    }
}

static UNDATED: RouteOrder = RouteOrder {
    created: None,
    namespace: String::new(),
    name: String::new(),
    rule: 0,
};
static OLD: RouteOrder = RouteOrder {
    created: Some(1),
    namespace: String::new(),
    name: String::new(),
    rule: 0,
};
static NEW: RouteOrder = RouteOrder {
    created: Some(2),
    namespace: String::new(),
    name: String::new(),
    rule: 0,
};

/// The best possible value for every rule.
fn best() -> Precedence<'static> {
    Precedence {
        host: HostRank::Exact,
        path: PathRank::Exact,
        method: Reverse(true),
        headers: Reverse(9),
        query: Reverse(9),
        order: OrderKey::of(&OLD),
        match_index: 0,
        seq: 0,
    }
}

#[test]
fn rule_7_match_index_within_a_route() {
    let mut first = best();
    first.order = OrderKey::of(&UNDATED);
    first.seq = 1;
    let mut second = best();
    second.order = OrderKey::of(&UNDATED);
    second.match_index = 1;
    assert!(
        first < second,
        "the earlier match of a route wins, whatever the config order"
    );
}

#[test]
fn each_rule_outranks_every_later_rule() {
    type Worsen = fn(&mut Precedence<'static>);
    let rules: [(&str, Worsen); 8] = [
        ("host", |p| p.host = HostRank::Wildcard(Reverse(100))),
        ("path", |p| p.path = PathRank::Prefix(Reverse(100))),
        ("method", |p| p.method = Reverse(false)),
        ("headers", |p| p.headers = Reverse(8)),
        ("query", |p| p.query = Reverse(8)),
        ("route order", |p| p.order = OrderKey::of(&NEW)),
        ("match index", |p| p.match_index = 1),
        ("config order", |p| p.seq = 1),
    ];
    for (k, (rule, worsen)) in rules.iter().enumerate() {
        // The winner is best up to rule k and worse on every later rule; the loser is best on
        // every rule except k.
        let mut winner = best();
        for (_, later) in &rules[k + 1..] {
            later(&mut winner);
        }
        let mut loser = best();
        worsen(&mut loser);
        assert!(winner < loser, "{rule} outranks every later rule");
    }
}

#[test]
fn host_and_path_ranks_order_by_specificity() {
    let hosts = [
        HostRank::Exact,
        HostRank::Wildcard(Reverse(20)),
        HostRank::Wildcard(Reverse(5)),
        HostRank::Any,
    ];
    assert!(
        hosts.windows(2).all(|w| w[0] < w[1]),
        "exact, longer wildcard, shorter wildcard, any"
    );
    let paths = [
        PathRank::of(&PathMatch::Exact("/".into())),
        PathRank::of(&PathMatch::Prefix("/abc/".into())),
        PathRank::of(&PathMatch::Prefix("/ab".into())),
        PathRank::of(&PathMatch::Prefix("/".into())),
        PathRank::of(&PathMatch::RegularExpression("/abcdef.*".into())),
    ];
    assert!(
        paths.windows(2).all(|w| w[0] < w[1]),
        "exact, longer prefix, shorter prefix, regex"
    );
}

/// A GRPCRoute rule (same tie-breakers as [`http_route`]).
fn grpc_route(id: &str, matches: Vec<RouteMatch>) -> Route {
    Route {
        kind: RouteKind::GrpcRoute,
        ..http_route(id, &[], matches)
    }
}

#[test]
fn grpc_method_only_matches_beat_a_catch_all_of_another_route() {
    // GRPCRoute precedence counts "characters in a matching service", then "in a matching
    // method": a method-only match (compiled to a regex) has more than a rule without
    // matches, which an HTTP reading would treat as the `/` prefix and rank first.
    let table = single_listener(vec![
        grpc_route("catch-all", vec![]),
        grpc_route("method-only", vec![regex("/[^/]+/Get")]),
        grpc_route("service", vec![prefix("/pkg.Svc")]),
    ]);
    check(
        &table,
        vec![
            ("method over catch-all", get("h", "/other.Svc/Get"), "method-only"),
            ("service over method", get("h", "/pkg.Svc/Get"), "service"),
            ("catch-all last", get("h", "/other.Svc/List"), "catch-all"),
        ],
    );
}

#[test]
fn http_prefix_slash_still_beats_a_regex() {
    // Unchanged for HTTPRoute: every prefix, `/` included, ranks before every regex.
    let table = single_listener(vec![
        http_route("slash", &[], vec![prefix("/")]),
        http_route("regex", &[], vec![regex("/[^/]+/Get")]),
    ]);
    check(&table, vec![("prefix before regex", get("h", "/x/Get"), "slash")]);
}
