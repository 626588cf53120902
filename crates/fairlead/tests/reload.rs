//! Hot reload under load: rewriting a route again and again while clients keep sending requests
//! must never fail a request, and the last write must be what is served.

mod support;

use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::manifests::{http_route, rule, to, yaml};
use support::scenario::ROUTES_FILE;
use support::{Http, Scenario};

const HOST: &str = "reload.example.com";
const LOOPS: usize = 4;
const MAX_REQUESTS: u64 = 20_000;
const MAX_LOAD_TIME: Duration = Duration::from_secs(20);
const REWRITES: usize = 50;

fn routes_to(backend: &str) -> String {
    yaml(&[http_route(
        "reload",
        &[HOST],
        vec![rule(json!(null), vec![to(backend)])],
    )])
}

/// Requests counted and failures seen by the client loops.
#[derive(Default)]
struct Load {
    /// Requests started (may overshoot [`MAX_REQUESTS`] by one per loop).
    sent: AtomicU64,
    /// Requests that got an answer or failed.
    completed: AtomicU64,
    failures: Mutex<Vec<String>>,
    stop: AtomicBool,
}

async fn client_loop(load: Arc<Load>, port: u16, started: Instant) {
    // One client per loop: each keeps its own keep-alive connections across table swaps.
    let http = Http::new();
    while !load.stop.load(Ordering::Relaxed)
        && started.elapsed() < MAX_LOAD_TIME
        && load.sent.fetch_add(1, Ordering::Relaxed) < MAX_REQUESTS
    {
        let req = support::request(http::Method::GET, port, HOST, "/")
            .body(Default::default())
            .expect("valid request");
        let failure = match http.try_send(req).await {
            Ok(reply) if reply.status == 200 => {
                let name = reply.json()["name"].as_str().map(str::to_owned);
                match name.as_deref() {
                    Some("echo-a" | "echo-b") => None,
                    _ => Some(format!("200 from an unexpected backend: {}", reply.text())),
                }
            }
            Ok(reply) => Some(format!("{}: {}", reply.status, reply.text())),
            Err(err) => Some(err),
        };
        load.completed.fetch_add(1, Ordering::Relaxed);
        if let Some(failure) = failure {
            let mut failures = load.failures.lock().expect("failures lock");
            if failures.len() < 20 {
                failures.push(failure);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_under_load_fails_no_request() {
    let s = Scenario::start_with_files(&["echo-a", "echo-b"], vec![(ROUTES_FILE, routes_to("echo-a"))]).await;
    assert_eq!(s.served_by(HOST, "/").await, "echo-a");
    // In-place writes below replace the bytes without truncating: both versions must be the
    // same length so that no stale byte is left between writing and cutting.
    assert_eq!(routes_to("echo-a").len(), routes_to("echo-b").len());

    let load = Arc::new(Load::default());
    let started = Instant::now();
    let loops: Vec<_> = (0..LOOPS)
        .map(|_| tokio::spawn(client_loop(load.clone(), s.port, started)))
        .collect();

    let mut reload_times = Vec::new();
    let mut rewrites_under_load = 0;
    let mut last = "echo-a";
    for i in 0..REWRITES {
        let next = if last == "echo-a" { "echo-b" } else { "echo-a" };
        let before = s.fairlead.version().await;
        let written = Instant::now();
        if i % 3 == 0 {
            s.fairlead.write_in_place(ROUTES_FILE, &routes_to(next));
        } else {
            s.fairlead.write(ROUTES_FILE, &routes_to(next));
        }
        // Poll finely: the time to see the new version is what is being measured.
        s.fairlead
            .wait_version_above_every(before, Duration::from_millis(2))
            .await;
        reload_times.push(written.elapsed());
        if loops.iter().any(|l| !l.is_finished()) {
            rewrites_under_load += 1;
        }
        last = next;
    }
    load.stop.store(true, Ordering::Relaxed);
    for task in loops {
        task.await.expect("client loop panicked");
    }
    let elapsed = started.elapsed();
    let sent = load.completed.load(Ordering::Relaxed);

    reload_times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = reload_times[reload_times.len() / 2];
    let max = reload_times[reload_times.len() - 1];
    eprintln!(
        "hot reload: {sent} requests by {LOOPS} loops in {:.1} s; {REWRITES} rewrites ({rewrites_under_load} under load); write to new \
         version in /status: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        elapsed.as_secs_f64(),
        ms(reload_times[0]),
        ms(median),
        ms(max)
    );

    let failures = load.failures.lock().expect("failures lock").clone();
    assert!(
        failures.is_empty(),
        "requests failed during reloads (first {}): {failures:#?}",
        failures.len()
    );
    assert!(sent > 0, "no request was sent");

    // The version has settled on the last write: it alone is served.
    let counts = support::tally(&s.http, s.port, HOST, "/", 20).await;
    assert_eq!(
        counts.get(last),
        Some(&20),
        "last write routes to {last}: {counts:?}"
    );
}
