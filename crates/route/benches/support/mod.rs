//! Synthetic routing configs and request mixes shared by the routing benchmarks.
//!
//! A config of `n` routes mixes what real clusters have: mostly exact hostnames with a prefix
//! and an exact path, wildcard tenants, header and regex conditions, and one busy host carrying
//! many path prefixes. Requests are built from the routes they should hit (plus a share of
//! unknown hosts), and [`Workload::new`] checks every one of them routes where it should, so a
//! benchmark can never measure a lookup that quietly stopped matching.

#![allow(dead_code)] // Each bench binary uses a different part of this module.

use fairlead_route::*;
use http::{HeaderMap, HeaderValue, Method};
use std::net::SocketAddr;

/// The port of the one listener every generated route is attached to.
pub const PORT: u16 = 80;

/// Whether `FAIRLEAD_BENCH_QUICK` asks for small sizes (CI smoke runs).
pub fn quick() -> bool {
    std::env::var_os("FAIRLEAD_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// `full` normally; sizes above 1,000 dropped in quick mode.
pub fn sizes(full: &[usize]) -> Vec<usize> {
    if quick() {
        full.iter().copied().filter(|&n| n <= 1_000).collect()
    } else {
        full.to_vec()
    }
}

/// A small deterministic generator (xorshift64*), so every run benchmarks the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The shape of route `i` in a mixed config (one in twenty of each rare kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `app{i}.ns{i%97}.example.com`: PathPrefix `/api/v{i%3}` or Exact `/healthz`.
    Exact,
    /// `*.tenant{i}.example.net`: PathPrefix `/`.
    Wildcard,
    /// Exact host, PathPrefix `/` only with header `x-canary: true`.
    Header,
    /// Exact host, RegularExpression `/items/[0-9]+/detail`.
    Regex,
    /// Exact host, PathPrefix `/`, header regex `x-user` = `[a-z]+`, method GET.
    HeaderRegexMethod,
    /// `shared.example.com`, PathPrefix `/svc{i}`: one host with many paths.
    SharedHost,
}

impl Shape {
    pub fn of(i: usize) -> Shape {
        match i % 20 {
            0..=11 => Shape::Exact,
            12..=15 => Shape::Wildcard,
            16 => Shape::Header,
            17 => Shape::Regex,
            18 => Shape::HeaderRegexMethod,
            _ => Shape::SharedHost,
        }
    }
}

fn prefix(p: String) -> RouteMatch {
    RouteMatch {
        path: PathMatch::Prefix(p),
        ..RouteMatch::default()
    }
}

fn backend(i: usize) -> Backend {
    let port = 9000 + (i % 50) as u16;
    Backend {
        weight: 1,
        target: BackendTarget::Service(ServiceBackend {
            name: format!("bench/svc{}:80", i % 50),
            protocol: UpstreamProtocol::Http1,
            endpoints: vec![SocketAddr::from(([127, 0, 0, 1], port))],
            tls: None,
        }),
        filters: Vec::new(),
    }
}

fn exact_host(i: usize) -> String {
    format!("app{i}.ns{}.example.com", i % 97)
}

/// One route (one HTTPRoute rule) of shape [`Shape::of`]`(i)`.
pub fn route(i: usize) -> Route {
    let (hostnames, matches) = match Shape::of(i) {
        Shape::Exact => (
            vec![exact_host(i)],
            vec![
                prefix(format!("/api/v{}", i % 3)),
                RouteMatch {
                    path: PathMatch::Exact("/healthz".into()),
                    ..RouteMatch::default()
                },
            ],
        ),
        Shape::Wildcard => (vec![format!("*.tenant{i}.example.net")], vec![prefix("/".into())]),
        Shape::Header => (
            vec![exact_host(i)],
            vec![RouteMatch {
                headers: vec![HeaderMatch {
                    name: "x-canary".into(),
                    value: StringMatch::Exact("true".into()),
                }],
                ..prefix("/".into())
            }],
        ),
        Shape::Regex => (
            vec![exact_host(i)],
            vec![RouteMatch {
                path: PathMatch::RegularExpression("/items/[0-9]+/detail".into()),
                ..RouteMatch::default()
            }],
        ),
        Shape::HeaderRegexMethod => (
            vec![exact_host(i)],
            vec![RouteMatch {
                headers: vec![HeaderMatch {
                    name: "x-user".into(),
                    value: StringMatch::RegularExpression("[a-z]+".into()),
                }],
                method: Some("GET".into()),
                ..prefix("/".into())
            }],
        ),
        Shape::SharedHost => (
            vec!["shared.example.com".into()],
            vec![prefix(format!("/svc{i}"))],
        ),
    };
    Route {
        id: format!("httproute/ns{}/route{i}/rule/0", i % 97),
        kind: RouteKind::HttpRoute,
        hostnames,
        matches,
        filters: Vec::new(),
        backends: vec![backend(i)],
        timeouts: Timeouts::default(),
        order: RouteOrder {
            created: Some(1_700_000_000 + i as i64),
            namespace: format!("ns{}", i % 97),
            name: format!("route{i}"),
            rule: 0,
        },
        retry: None,
    }
}

fn config_of(routes: Vec<Route>) -> Config {
    Config {
        version: 1,
        listeners: vec![Listener {
            id: "gateway/bench/web/http".into(),
            port: PORT,
            protocol: ListenerProtocol::Http,
            hostname: None,
            routes,
            tls: None,
        }],
    }
}

/// `n` routes of the mixed shapes.
pub fn mixed_config(n: usize) -> Config {
    config_of((0..n).map(route).collect())
}

/// `n` routes, each a wildcard hostname `*.w{i}.example.net` with PathPrefix `/`.
pub fn wildcard_config(n: usize) -> Config {
    config_of(
        (0..n)
            .map(|i| Route {
                hostnames: vec![format!("*.w{i}.example.net")],
                matches: vec![prefix("/".into())],
                ..route(i)
            })
            .collect(),
    )
}

/// A request as owned data; [`OwnedRequest::info`] borrows it as the table wants it.
pub struct OwnedRequest {
    pub host: String,
    pub path: String,
    pub method: Method,
    pub headers: HeaderMap,
    /// Id of the route it must match, or `None` for a request that must match nothing.
    pub expect: Option<String>,
}

impl OwnedRequest {
    pub fn info(&self) -> RequestInfo<'_> {
        RequestInfo {
            host: &self.host,
            path: &self.path,
            query: None,
            method: &self.method,
            headers: &self.headers,
        }
    }
}

/// A request that route `i` of a mixed config (and nothing more specific) answers.
pub fn request_for(i: usize, rng: &mut Rng) -> OwnedRequest {
    let r = route(i);
    let mut headers = HeaderMap::new();
    let (host, path) = match Shape::of(i) {
        Shape::Exact => {
            let path = if rng.below(4) == 0 {
                "/healthz".to_owned()
            } else {
                format!("/api/v{}/users/{}", i % 3, rng.below(1000))
            };
            (exact_host(i), path)
        }
        Shape::Wildcard => (
            format!("x{}.tenant{i}.example.net", rng.below(100)),
            "/index.html".into(),
        ),
        Shape::Header => {
            headers.insert("x-canary", HeaderValue::from_static("true"));
            (exact_host(i), "/".into())
        }
        Shape::Regex => (exact_host(i), format!("/items/{}/detail", rng.below(100_000))),
        Shape::HeaderRegexMethod => {
            headers.insert("x-user", HeaderValue::from_static("alice"));
            (exact_host(i), "/profile".into())
        }
        Shape::SharedHost => ("shared.example.com".into(), format!("/svc{i}/static/app.js")),
    };
    headers.insert("user-agent", HeaderValue::from_static("bench"));
    headers.insert("accept", HeaderValue::from_static("*/*"));
    OwnedRequest {
        host,
        path,
        method: Method::GET,
        headers,
        expect: Some(r.id),
    }
}

/// A request for a host no route names.
pub fn miss(rng: &mut Rng) -> OwnedRequest {
    OwnedRequest {
        host: format!("unknown{}.example.com", rng.below(1_000_000)),
        path: "/api/v1/users".into(),
        method: Method::GET,
        headers: HeaderMap::new(),
        expect: None,
    }
}

/// A compiled table with the requests to replay against it.
pub struct Workload {
    pub routes: usize,
    pub table: Table,
    pub requests: Vec<OwnedRequest>,
}

impl Workload {
    /// `count` requests over a mixed config of `n` routes: 90% hits spread uniformly over the
    /// routes, 10% unknown hosts.
    pub fn mixed(n: usize, count: usize) -> Workload {
        let mut rng = Rng::new(0x5eed ^ n as u64);
        let requests = (0..count)
            .map(|_| {
                if rng.below(10) == 0 {
                    miss(&mut rng)
                } else {
                    let i = rng.below(n);
                    request_for(i, &mut rng)
                }
            })
            .collect();
        Workload::new(mixed_config(n), requests)
    }

    /// `count` requests, each for a random host under one of `n` wildcard hostnames, three
    /// labels deep so every label boundary is probed.
    pub fn wildcards(n: usize, count: usize) -> Workload {
        let mut rng = Rng::new(0x3141 ^ n as u64);
        let requests = (0..count)
            .map(|_| {
                let i = rng.below(n);
                OwnedRequest {
                    host: format!("a{}.b.w{i}.example.net", rng.below(100)),
                    path: "/".into(),
                    method: Method::GET,
                    headers: HeaderMap::new(),
                    expect: Some(route(i).id),
                }
            })
            .collect();
        Workload::new(wildcard_config(n), requests)
    }

    /// Compiles `config` and checks that every request routes as expected.
    ///
    /// # Panics
    /// When a route fails to compile or a request does not route to its expected route: the
    /// benchmark would measure something else than it says.
    pub fn new(config: Config, requests: Vec<OwnedRequest>) -> Workload {
        let routes = config.listeners.iter().map(|l| l.routes.len()).sum();
        let (table, errors) = Table::compile(&config);
        assert!(errors.is_empty(), "bench config does not compile: {errors:?}");
        for req in &requests {
            let got = match table.lookup(PORT, &req.info()) {
                Lookup::Matched(m) => Some(m.route.id.clone()),
                Lookup::NoRoute { .. } | Lookup::NoListener => None,
            };
            assert_eq!(got, req.expect, "{}{} routed wrongly", req.host, req.path);
        }
        Workload {
            routes,
            table,
            requests,
        }
    }
}
