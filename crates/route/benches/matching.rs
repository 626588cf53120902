//! Lookup latency: how long `Table::lookup` takes per request as the table grows, on a mixed
//! workload (exact and wildcard hosts, prefixes, exact paths, regexes, header and method
//! conditions, 10% unknown hosts) and on wildcard hostnames alone, which shows whether host
//! lookup grows with the number of hosts.
//!
//! Each iteration routes the next request of a pre-built, pre-verified list, so the figure is
//! the cost of one lookup averaged over the mix.

mod support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use support::{sizes, Workload, PORT};

/// Requests replayed per size: enough to spread over the routes, small enough to build fast.
const REQUESTS: usize = 4096;

fn replay(c: &mut Criterion, group_name: &str, workloads: Vec<Workload>) {
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(1));
    for workload in &workloads {
        group.bench_with_input(BenchmarkId::from_parameter(workload.routes), workload, |b, w| {
            let mut next = 0usize;
            b.iter(|| {
                let req = &w.requests[next % w.requests.len()];
                next = next.wrapping_add(1);
                black_box(w.table.lookup(PORT, &req.info())).is_matched()
            });
        });
    }
    group.finish();
}

trait IsMatched {
    fn is_matched(&self) -> bool;
}

impl IsMatched for fairlead_route::Lookup<'_> {
    fn is_matched(&self) -> bool {
        matches!(self, fairlead_route::Lookup::Matched(_))
    }
}

fn lookup_mixed(c: &mut Criterion) {
    let workloads = sizes(&[10, 1_000, 10_000, 100_000])
        .into_iter()
        .map(|n| Workload::mixed(n, REQUESTS))
        .collect();
    replay(c, "lookup_mixed", workloads);
}

fn lookup_wildcard_hosts(c: &mut Criterion) {
    let workloads = sizes(&[100, 10_000, 100_000])
        .into_iter()
        .map(|n| Workload::wildcards(n, REQUESTS))
        .collect();
    replay(c, "lookup_wildcard_hosts", workloads);
}

criterion_group!(benches, lookup_mixed, lookup_wildcard_hosts);
criterion_main!(benches);
