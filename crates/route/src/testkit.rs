//! Builders shared by the unit tests: small configs and requests, and a lookup that answers with
//! the id of whatever was chosen so that table-driven cases stay one line each.

use crate::config::*;
use crate::table::{Lookup, RequestInfo, Table};

pub(crate) fn listener(id: &str, port: u16, hostname: Option<&str>, routes: Vec<Route>) -> Listener {
    Listener {
        id: id.into(),
        port,
        protocol: ListenerProtocol::Http,
        hostname: hostname.map(Into::into),
        routes,
        tls: None,
    }
}

/// An HTTPRoute rule whose tie-breakers are all equal except the name (its id).
pub(crate) fn http_route(id: &str, hostnames: &[&str], matches: Vec<RouteMatch>) -> Route {
    Route {
        id: id.into(),
        kind: RouteKind::HttpRoute,
        hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
        matches,
        filters: Vec::new(),
        backends: Vec::new(),
        timeouts: Timeouts::default(),
        order: RouteOrder {
            created: Some(100),
            namespace: "default".into(),
            name: id.into(),
            rule: 0,
        },
        retry: None,
    }
}

pub(crate) fn ingress_route(id: &str, hostnames: &[&str], matches: Vec<RouteMatch>) -> Route {
    Route {
        kind: RouteKind::Ingress,
        ..http_route(id, hostnames, matches)
    }
}

pub(crate) fn exact(path: &str) -> RouteMatch {
    RouteMatch {
        path: PathMatch::Exact(path.into()),
        ..RouteMatch::default()
    }
}

pub(crate) fn prefix(path: &str) -> RouteMatch {
    RouteMatch {
        path: PathMatch::Prefix(path.into()),
        ..RouteMatch::default()
    }
}

pub(crate) fn regex(path: &str) -> RouteMatch {
    RouteMatch {
        path: PathMatch::RegularExpression(path.into()),
        ..RouteMatch::default()
    }
}

pub(crate) fn header(name: &str, value: StringMatch) -> HeaderMatch {
    HeaderMatch {
        name: name.into(),
        value,
    }
}

pub(crate) fn query(name: &str, value: StringMatch) -> QueryMatch {
    QueryMatch {
        name: name.into(),
        value,
    }
}

pub(crate) fn is(value: &str) -> StringMatch {
    StringMatch::Exact(value.into())
}

pub(crate) fn re(value: &str) -> StringMatch {
    StringMatch::RegularExpression(value.into())
}

/// One listener on port 80 without hostname.
pub(crate) fn single_listener(routes: Vec<Route>) -> Table {
    compile_ok(vec![listener("l", 80, None, routes)])
}

/// Compiles and insists there were no errors.
pub(crate) fn compile_ok(listeners: Vec<Listener>) -> Table {
    let (table, errors) = Table::compile(&Config {
        version: 1,
        listeners,
    });
    assert_eq!(errors, vec![], "unexpected compile errors");
    table
}

/// A request to route in a test.
pub(crate) struct Req {
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) method: http::Method,
    pub(crate) headers: http::HeaderMap,
}

/// `GET http://{host}{target}`; `target` may carry a `?query`.
pub(crate) fn get(host: &str, target: &str) -> Req {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    Req {
        host: host.into(),
        path,
        query,
        method: http::Method::GET,
        headers: http::HeaderMap::new(),
    }
}

impl Req {
    pub(crate) fn method(mut self, method: http::Method) -> Req {
        self.method = method;
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: &'static str) -> Req {
        self.headers.append(name, http::HeaderValue::from_static(value));
        self
    }

    pub(crate) fn info(&self) -> RequestInfo<'_> {
        RequestInfo {
            host: &self.host,
            path: &self.path,
            query: self.query.as_deref(),
            method: &self.method,
            headers: &self.headers,
        }
    }

    /// The route id chosen on port 80, `404 <listener>` for no route, `no listener` otherwise.
    pub(crate) fn route_on(&self, table: &Table) -> String {
        self.route_on_port(table, 80)
    }

    pub(crate) fn route_on_port(&self, table: &Table, port: u16) -> String {
        describe(&table.lookup(port, &self.info()))
    }
}

pub(crate) fn describe(lookup: &Lookup<'_>) -> String {
    match lookup {
        Lookup::NoListener => "no listener".into(),
        Lookup::NoRoute { listener } => format!("404 {}", listener.id),
        Lookup::Matched(m) => m.route.id.clone(),
    }
}

/// Runs `(rule, request, expected)` cases on port 80.
pub(crate) fn check(table: &Table, cases: Vec<(&str, Req, &str)>) {
    for (rule, req, want) in cases {
        assert_eq!(
            req.route_on(table),
            want,
            "{rule}: {} {}{:?}",
            req.host,
            req.path,
            req.query
        );
    }
}
