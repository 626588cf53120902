//! `Table::lookup` must not allocate (the hot path runs once per request), except to lowercase
//! an upper-case host. Checked with an allocator that counts this thread's allocations.

use fairlead_route::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator; only counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn string(value: &str) -> StringMatch {
    StringMatch::RegularExpression(value.into())
}

fn route(id: &str, hostnames: &[&str], matches: Vec<RouteMatch>) -> Route {
    Route {
        id: id.into(),
        kind: RouteKind::HttpRoute,
        hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
        matches,
        filters: vec![],
        backends: vec![],
        timeouts: Timeouts::default(),
        order: RouteOrder::default(),
        retry: None,
    }
}

#[test]
fn lookup_does_not_allocate() {
    let conditional = RouteMatch {
        path: PathMatch::Prefix("/api".into()),
        headers: vec![HeaderMatch {
            name: "x-env".into(),
            value: string("p.*"),
        }],
        query: vec![QueryMatch {
            name: "v".into(),
            value: string("[0-9]+"),
        }],
        method: Some("POST".into()),
    };
    let config = Config {
        version: 1,
        listeners: vec![Listener {
            id: "l".into(),
            port: 80,
            protocol: ListenerProtocol::Http,
            hostname: None,
            routes: vec![
                route("conditional", &["a.example.com"], vec![conditional]),
                route(
                    "regex",
                    &["*.example.com"],
                    vec![RouteMatch {
                        path: PathMatch::RegularExpression("/r/[a-z]+".into()),
                        ..RouteMatch::default()
                    }],
                ),
                route(
                    "exact",
                    &["a.example.com"],
                    vec![RouteMatch {
                        path: PathMatch::Exact("/e".into()),
                        ..RouteMatch::default()
                    }],
                ),
                route("any", &[], vec![]),
            ],
            tls: None,
        }],
    };
    let (table, errors) = Table::compile(&config);
    assert!(errors.is_empty());

    let mut headers = http::HeaderMap::new();
    headers.insert("x-env", http::HeaderValue::from_static("prod"));
    let requests = [
        (
            "a.example.com:80",
            "/api/x",
            Some("a=1&v=42"),
            http::Method::POST,
            "conditional",
        ),
        ("a.example.com", "/api/x", Some("v=x"), http::Method::POST, "any"),
        ("b.c.example.com.", "/r/abc", None, http::Method::GET, "regex"),
        ("a.example.com", "/e", None, http::Method::GET, "exact"),
        (
            "other.org",
            "/deep/path/with/many/elements",
            None,
            http::Method::GET,
            "any",
        ),
    ];
    for (host, path, query, method, want) in &requests {
        let req = RequestInfo {
            host,
            path,
            query: *query,
            method,
            headers: &headers,
        };
        // The first call may warm up per-thread regex caches; the steady state must not allocate.
        let _ = table.lookup(80, &req);
        let mut routed_to_want = false;
        let allocations = allocations_during(|| {
            if let Lookup::Matched(m) = table.lookup(80, &req) {
                routed_to_want = m.route.id == *want;
            }
        });
        assert!(routed_to_want, "{host}{path} routes to {want}");
        assert_eq!(allocations, 0, "{host}{path} allocated");
    }

    let upper = RequestInfo {
        host: "A.Example.com",
        path: "/e",
        query: None,
        method: &http::Method::GET,
        headers: &headers,
    };
    // Also proves the counter sees allocations made inside `lookup`.
    assert_eq!(
        allocations_during(|| {
            let _ = table.lookup(80, &upper);
        }),
        1,
        "lowercasing the host is the one allocation"
    );
}
