//! Property test: `Table::lookup` agrees with a naive reference written straight from the spec:
//! pick the listener by hostname specificity, list every candidate (route match × matching
//! hostname) of the chosen listener, sort them all by the precedence rules, take the first whose
//! conditions pass.

use fairlead_route::*;
use proptest::prelude::*;
use proptest::sample::select;
use regex::Regex;

// ---------------------------------------------------------------- generators

const LISTENER_HOSTS: &[Option<&str>] = &[
    None,
    None,
    Some("example.com"),
    Some("a.example.com"),
    Some("*.example.com"),
    Some("*.a.example.com"),
];
const ROUTE_HOSTS: &[&str] = &[
    "a.example.com",
    "b.a.example.com",
    "*.example.com",
    "*.a.example.com",
    "example.com",
];
const PATHS: &[&str] = &["/", "/a", "/a/", "/a/b", "/ab", "/b"];
const REGEXES: &[&str] = &["/a.*", "/[ab]", "/a/b|/b", "/.*", "/a/b", "/a("];
const REQUEST_HOSTS: &[&str] = &[
    "example.com",
    "a.example.com",
    "b.a.example.com",
    "c.b.a.example.com",
    "other.org",
    "A.Example.com.:80",
];
const REQUEST_PATHS: &[&str] = &["/", "/a", "/a/", "/a/b", "/a/b/c", "/ab", "/b", "/A"];

fn string_match() -> impl Strategy<Value = StringMatch> {
    prop_oneof![
        6 => select(vec!["1", "1", "2"]).prop_map(|v| StringMatch::Exact(v.into())),
        3 => select(vec!["[12]", "1|2x"]).prop_map(|v| StringMatch::RegularExpression(v.into())),
        1 => Just(StringMatch::RegularExpression("[".into())),
    ]
}

/// Any kind of path from the pools: exercises the path index.
fn any_path() -> BoxedStrategy<PathMatch> {
    prop_oneof![
        select(PATHS).prop_map(|p| PathMatch::Exact(p.into())),
        select(PATHS).prop_map(|p| PathMatch::Prefix(p.into())),
        select(REGEXES).prop_map(|p| PathMatch::RegularExpression(p.into())),
    ]
    .boxed()
}

/// Few paths that all match `/a/b`: candidates tie on the path and the later rules decide.
fn colliding_path() -> BoxedStrategy<PathMatch> {
    select(vec![
        PathMatch::Prefix("/".into()),
        PathMatch::Prefix("/a".into()),
        PathMatch::Exact("/a/b".into()),
    ])
    .boxed()
}

fn route_match(path: BoxedStrategy<PathMatch>) -> impl Strategy<Value = RouteMatch> {
    let headers = prop::collection::vec(
        (select(vec!["x", "y", "X"]), string_match()).prop_map(|(n, value)| HeaderMatch {
            name: n.into(),
            value,
        }),
        0..3,
    );
    let query = prop::collection::vec(
        (select(vec!["q", "r"]), string_match()).prop_map(|(n, value)| QueryMatch {
            name: n.into(),
            value,
        }),
        0..3,
    );
    let method = prop::option::of(select(vec!["GET", "POST"]).prop_map(String::from));
    (path, headers, query, method).prop_map(|(path, headers, query, method)| RouteMatch {
        path,
        headers,
        query,
        method,
    })
}

fn route(path: fn() -> BoxedStrategy<PathMatch>) -> impl Strategy<Value = Route> {
    let kind = select(vec![RouteKind::HttpRoute, RouteKind::Ingress]);
    let hostnames = prop::collection::vec(select(ROUTE_HOSTS).prop_map(String::from), 0..3);
    let matches = prop::collection::vec(route_match(path()), 0..3);
    let order = (
        prop::option::of(1i64..3),
        select(vec!["a", "b"]),
        select(vec!["a", "b"]),
        0u32..2,
    )
        .prop_map(|(created, ns, name, rule)| RouteOrder {
            created,
            namespace: ns.into(),
            name: name.into(),
            rule,
        });
    (kind, hostnames, matches, order).prop_map(|(kind, hostnames, matches, order)| Route {
        id: String::new(),
        kind,
        hostnames,
        matches,
        filters: vec![],
        backends: vec![],
        timeouts: Timeouts::default(),
        order,
        retry: None,
    })
}

fn config(path: fn() -> BoxedStrategy<PathMatch>) -> impl Strategy<Value = Config> {
    let listener = (
        prop_oneof![4 => Just(80u16), 1 => Just(81)],
        prop_oneof![9 => Just(ListenerProtocol::Http), 1 => Just(ListenerProtocol::Https)],
        select(LISTENER_HOSTS),
        prop::collection::vec(route(path), 0..8),
    );
    prop::collection::vec(listener, 1..5).prop_map(|listeners| Config {
        version: 1,
        listeners: listeners
            .into_iter()
            .enumerate()
            .map(|(l, (port, protocol, hostname, routes))| Listener {
                id: format!("l{l}"),
                port,
                protocol,
                hostname: hostname.map(String::from),
                routes: routes
                    .into_iter()
                    .enumerate()
                    .map(|(r, route)| Route {
                        id: format!("l{l}/r{r}"),
                        ..route
                    })
                    .collect(),
                tls: None,
            })
            .collect(),
    })
}

#[derive(Debug)]
struct Request {
    port: u16,
    host: String,
    path: String,
    query: Option<String>,
    method: http::Method,
    headers: http::HeaderMap,
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop_oneof![8 => Just(80u16), 1 => Just(81), 1 => Just(82)],
        select(REQUEST_HOSTS),
        select(REQUEST_PATHS),
        select(vec![
            None,
            Some("q=1&r=1"),
            Some("q=1"),
            Some("r=1&q=1"),
            Some("q=2&r=1"),
            Some("q=1&q=2"),
            Some("r"),
        ]),
        select(vec![http::Method::GET, http::Method::GET, http::Method::POST]),
        prop::collection::vec(select(vec![("x", "1"), ("y", "1"), ("x", "2"), ("y", "2")]), 0..4),
    )
        .prop_map(|(port, host, path, query, method, pairs)| {
            let mut headers = http::HeaderMap::new();
            for (name, value) in pairs {
                headers.append(name, http::HeaderValue::from_static(value));
            }
            Request {
                port,
                host: host.into(),
                path: path.into(),
                query: query.map(String::from),
                method,
                headers,
            }
        })
}

// ---------------------------------------------------------------- reference

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    NoListener,
    NoRoute(String),
    Matched {
        listener: String,
        route: String,
        prefix: Option<String>,
    },
}

fn actual(table: &Table, req: &Request) -> Outcome {
    let info = RequestInfo {
        host: &req.host,
        path: &req.path,
        query: req.query.as_deref(),
        method: &req.method,
        headers: &req.headers,
    };
    match table.lookup(req.port, &info) {
        Lookup::NoListener => Outcome::NoListener,
        Lookup::NoRoute { listener } => Outcome::NoRoute(listener.id.clone()),
        Lookup::Matched(m) => Outcome::Matched {
            listener: m.listener.id.clone(),
            route: m.route.id.clone(),
            prefix: m.matched_prefix.map(String::from),
        },
    }
}

/// Host specificity: (0, 0) exact, (1, -len) wildcard, (2, 0) no hostname; `None` when the
/// hostname does not cover the host.
fn host_rank(pattern: Option<&str>, host: &str, one_label: bool) -> Option<(u8, i64)> {
    let Some(pattern) = pattern else {
        return Some((2, 0));
    };
    match pattern.strip_prefix('*') {
        Some(suffix) => {
            let label = host.strip_suffix(suffix).filter(|l| !l.is_empty())?;
            (!one_label || !label.contains('.')).then_some((1, -(pattern.len() as i64)))
        }
        None => (pattern == host).then_some((0, 0)),
    }
}

fn whole(re: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{re})$")).ok()
}

fn value_ok(m: &StringMatch, value: Option<&str>) -> bool {
    match (m, value) {
        (StringMatch::Exact(v), Some(value)) => v == value,
        (StringMatch::RegularExpression(re), Some(value)) => whole(re).is_some_and(|r| r.is_match(value)),
        (_, None) => false,
    }
}

/// First entry per (normalized) name, as Gateway API says.
fn dedup<T>(items: &[T], name: impl Fn(&T) -> String) -> Vec<&T> {
    let mut seen = Vec::new();
    items
        .iter()
        .filter(|i| {
            if seen.contains(&name(i)) {
                false
            } else {
                seen.push(name(i));
                true
            }
        })
        .collect()
}

fn route_is_valid(route: &Route) -> bool {
    let ok = |m: &StringMatch| match m {
        StringMatch::Exact(_) => true,
        StringMatch::RegularExpression(re) => whole(re).is_some(),
    };
    route.matches.iter().all(|m| {
        let path_ok = match &m.path {
            PathMatch::RegularExpression(re) => whole(re).is_some(),
            _ => true,
        };
        path_ok && m.headers.iter().all(|h| ok(&h.value)) && m.query.iter().all(|q| ok(&q.value))
    })
}

/// (path rank, matched prefix) when the path matches.
fn path_rank(path: &PathMatch, req_path: &str) -> Option<((u8, i64), Option<String>)> {
    match path {
        PathMatch::Exact(p) => (p == req_path).then_some(((0, 0), None)),
        PathMatch::Prefix(p) => {
            let p = p.trim_end_matches('/');
            let matches = p.is_empty()
                || (req_path.starts_with(p)
                    && (req_path.len() == p.len() || req_path[p.len()..].starts_with('/')));
            matches.then(|| ((1, -(p.chars().count() as i64)), Some(p.to_string())))
        }
        PathMatch::RegularExpression(re) => {
            whole(re).filter(|r| r.is_match(req_path)).map(|_| ((2, 0), None))
        }
    }
}

fn conditions_pass(m: &RouteMatch, req: &Request) -> bool {
    let method_ok = m
        .method
        .as_deref()
        .is_none_or(|method| method == req.method.as_str());
    let headers_ok = dedup(&m.headers, |h| h.name.to_lowercase()).iter().all(|h| {
        value_ok(
            &h.value,
            req.headers
                .get(h.name.to_lowercase().as_str())
                .and_then(|v| v.to_str().ok()),
        )
    });
    let query_ok = dedup(&m.query, |q| q.name.clone()).iter().all(|q| {
        let first = req.query.as_deref().and_then(|raw| {
            raw.split('&')
                .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
                .find(|(k, _)| *k == q.name)
        });
        value_ok(&q.value, first.map(|(_, v)| v))
    });
    method_ok && headers_ok && query_ok
}

fn reference(config: &Config, req: &Request) -> Outcome {
    // One protocol per port: the first listener on a port decides, others are dropped.
    let kept: Vec<&Listener> = config
        .listeners
        .iter()
        .filter(|l| {
            config
                .listeners
                .iter()
                .find(|first| first.port == l.port)
                .is_some_and(|f| f.protocol == l.protocol)
        })
        .collect();
    let host = req.host.to_lowercase();
    let host = host
        .split(':')
        .next()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_string();

    let on_port: Vec<(&Listener, (u8, i64))> = kept
        .iter()
        .filter(|l| l.port == req.port)
        .filter_map(|l| host_rank(l.hostname.as_deref(), &host, false).map(|r| (*l, r)))
        .collect();
    let Some(best) = on_port.iter().map(|(_, r)| *r).min() else {
        return Outcome::NoListener;
    };
    let selected: Vec<&Listener> = on_port
        .iter()
        .filter(|(_, r)| *r == best)
        .map(|(l, _)| *l)
        .collect();

    type Key = (
        (u8, i64),
        (u8, i64),
        bool,
        usize,
        usize,
        bool,
        Option<i64>,
        String,
        String,
        u32,
        usize,
        usize,
    );
    let mut candidates: Vec<(Key, &Listener, &Route, &RouteMatch, Option<String>)> = Vec::new();
    let default_match = vec![RouteMatch::default()];
    let mut seq = 0;
    for listener in &selected {
        for route in listener.routes.iter().filter(|r| route_is_valid(r)) {
            let matches = if route.matches.is_empty() {
                &default_match
            } else {
                &route.matches
            };
            let hostnames: Vec<Option<&str>> = if route.hostnames.is_empty() {
                vec![None]
            } else {
                route.hostnames.iter().map(|h| Some(h.as_str())).collect()
            };
            for (match_index, m) in matches.iter().enumerate() {
                seq += 1;
                for hostname in &hostnames {
                    let one_label = route.kind == RouteKind::Ingress;
                    let (Some(host_rank), Some((path_rank, prefix))) = (
                        host_rank(*hostname, &host, one_label),
                        path_rank(&m.path, &req.path),
                    ) else {
                        continue;
                    };
                    let key = (
                        host_rank,
                        path_rank,
                        m.method.is_none(),
                        usize::MAX - dedup(&m.headers, |h| h.name.to_lowercase()).len(),
                        usize::MAX - dedup(&m.query, |q| q.name.clone()).len(),
                        route.order.created.is_none(),
                        route.order.created,
                        route.order.namespace.clone(),
                        route.order.name.clone(),
                        route.order.rule,
                        match_index,
                        seq,
                    );
                    candidates.push((key, listener, route, m, prefix));
                }
            }
        }
    }
    candidates.sort_by(|a, b| a.0.cmp(&b.0));
    match candidates
        .into_iter()
        .find(|(_, _, _, m, _)| conditions_pass(m, req))
    {
        Some((_, listener, route, _, prefix)) => Outcome::Matched {
            listener: listener.id.clone(),
            route: route.id.clone(),
            prefix,
        },
        None => Outcome::NoRoute(selected.first().map(|l| l.id.clone()).unwrap_or_default()),
    }
}

fn check(config: &Config, requests: &[Request]) -> Result<(), TestCaseError> {
    let (table, _errors) = Table::compile(config);
    for req in requests {
        prop_assert_eq!(actual(&table, req), reference(config, req), "request {:?}", req);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn lookup_agrees_with_the_naive_reference(
        config in config(any_path),
        requests in prop::collection::vec(request(), 1..16),
    ) {
        check(&config, &requests)?;
    }

    /// Paths that collide, so that method, header, query and route-order tie-breakers decide.
    #[test]
    fn tie_breakers_agree_with_the_naive_reference(
        config in config(colliding_path),
        requests in prop::collection::vec(request().prop_map(|r| Request { path: "/a/b".into(), ..r }), 1..16),
    ) {
        check(&config, &requests)?;
    }
}
