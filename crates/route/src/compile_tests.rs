//! Compilation: bad routes are reported and left out, the rest is served; table metadata.

use crate::config::*;
use crate::table::Table;
use crate::testkit::*;

fn compile(listeners: Vec<Listener>) -> (Table, Vec<crate::table::CompileError>) {
    Table::compile(&Config {
        version: 7,
        listeners,
    })
}

#[test]
fn invalid_regex_is_reported_and_the_rest_is_served() {
    let bad_matches = [
        ("path", regex("/a(")),
        (
            "header",
            RouteMatch {
                headers: vec![header("x", re("[z"))],
                ..prefix("/")
            },
        ),
        (
            "query",
            RouteMatch {
                query: vec![query("q", re("(?P<"))],
                ..prefix("/")
            },
        ),
    ];
    for (what, bad) in bad_matches {
        // The bad match is the second alternative: the whole route must go, not just the match.
        let (table, errors) = compile(vec![listener(
            "web",
            80,
            None,
            vec![
                http_route("bad", &[], vec![exact("/bad"), bad]),
                http_route("good", &[], vec![prefix("/")]),
            ],
        )]);
        assert_eq!(errors.len(), 1, "{what}: one error");
        let error = &errors[0];
        assert_eq!(
            (error.listener_id.as_str(), error.route_id.as_str()),
            ("web", "bad"),
            "{what}"
        );
        assert!(
            error.reason.contains(what),
            "{what}: reason names the regex kind: {}",
            error.reason
        );
        assert!(
            error.reason.contains("regex parse error"),
            "{what}: reason carries the regex error: {error}"
        );
        assert!(
            error.to_string().contains("route bad on listener web"),
            "{what}: {error}"
        );
        assert_eq!(
            get("h", "/bad").route_on(&table),
            "good",
            "{what}: bad route left out"
        );
        assert_eq!(table.route_count(), 1, "{what}");
        assert_eq!(table.routes()[0].id, "good", "{what}");
    }
}

#[test]
fn invalid_header_name_and_method_are_reported() {
    let (table, errors) = compile(vec![listener(
        "web",
        80,
        None,
        vec![
            http_route(
                "bad-header",
                &[],
                vec![RouteMatch {
                    headers: vec![header("bad name", is("1"))],
                    ..prefix("/")
                }],
            ),
            http_route(
                "bad-method",
                &[],
                vec![RouteMatch {
                    method: Some("GE T".into()),
                    ..prefix("/")
                }],
            ),
            http_route("good", &[], vec![exact("/ok")]),
        ],
    )]);
    let ids: Vec<&str> = errors.iter().map(|e| e.route_id.as_str()).collect();
    assert_eq!(ids, ["bad-header", "bad-method"]);
    assert_eq!(get("h", "/ok").route_on(&table), "good");
    assert_eq!(get("h", "/other").route_on(&table), "404 web");
}

#[test]
fn conflicting_protocols_on_one_port_keep_the_first_listener() {
    let mut https = listener("second", 443, None, vec![http_route("https-route", &[], vec![])]);
    https.protocol = ListenerProtocol::Https;
    let (table, errors) = compile(vec![
        listener(
            "first",
            443,
            Some("a.example.com"),
            vec![http_route("http-route", &[], vec![])],
        ),
        https,
    ]);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].listener_id.as_str(), errors[0].route_id.as_str()),
        ("second", "")
    );
    assert_eq!(table.ports(), vec![(443, ListenerProtocol::Http)]);
    assert_eq!(get("a.example.com", "/").route_on_port(&table, 443), "http-route");
    assert_eq!(
        get("b.example.com", "/").route_on_port(&table, 443),
        "no listener",
        "dropped listener serves nothing"
    );
}

#[test]
fn ports_are_sorted_and_deduplicated() {
    let mut tls = listener("tls", 443, None, vec![]);
    tls.protocol = ListenerProtocol::Https;
    let (table, errors) = compile(vec![
        listener("b", 8080, None, vec![]),
        tls,
        listener("a", 80, None, vec![]),
        listener("c", 80, Some("x.example.com"), vec![]),
    ]);
    assert_eq!(errors, vec![]);
    assert_eq!(
        table.ports(),
        vec![
            (80, ListenerProtocol::Http),
            (443, ListenerProtocol::Https),
            (8080, ListenerProtocol::Http)
        ]
    );
    assert_eq!(table.version(), 7);
}

#[test]
fn route_indices_are_dense_over_listener_route_pairs() {
    let shared = http_route("shared", &[], vec![]);
    let (table, errors) = compile(vec![
        listener(
            "a",
            80,
            None,
            vec![shared.clone(), http_route("bad", &[], vec![regex("(")])],
        ),
        listener("b", 81, None, vec![shared, http_route("other", &[], vec![])]),
    ]);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        table.route_count(),
        3,
        "one entry per (listener, route), bad route excluded"
    );
    for (i, route) in table.routes().iter().enumerate() {
        assert_eq!(route.index, i);
    }
    let ids: Vec<&str> = table.routes().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["shared", "shared", "other"]);
}

#[test]
fn compiled_route_carries_filters_timeouts_and_backends() {
    let mut route = http_route("r", &[], vec![]);
    route.filters = vec![Filter::Unsupported { name: "x".into() }];
    route.timeouts = Timeouts {
        request_ms: Some(5),
        backend_request_ms: None,
    };
    route.backends = vec![Backend {
        weight: 3,
        target: BackendTarget::Invalid {
            reason: "gone".into(),
        },
        filters: Vec::new(),
    }];
    let table = single_listener(vec![route]);
    let compiled = &table.routes()[0];
    assert_eq!(compiled.filters, vec![Filter::Unsupported { name: "x".into() }]);
    assert_eq!(compiled.timeouts.request_ms, Some(5));
    assert_eq!(compiled.backends.total_weight(), 3);
}

#[test]
fn empty_config_routes_nothing() {
    let (table, errors) = Table::compile(&Config::default());
    assert!(errors.is_empty());
    assert_eq!(table.route_count(), 0);
    assert!(table.ports().is_empty());
    assert_eq!(get("h", "/").route_on(&table), "no listener");
}

#[test]
fn table_can_be_shared_across_threads() {
    // The proxy publishes the table through an atomic pointer swap and reads it from every
    // worker thread.
    fn shared<T: Send + Sync>() {}
    shared::<Table>();
}
