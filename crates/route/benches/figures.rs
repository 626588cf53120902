//! One-shot figures for the benchmark report (`bench/run.sh` pastes them into RESULTS.md):
//! lookup latency percentiles per lookup, compile and serialize+hash times, and the memory a
//! compiled table takes per route. Criterion (`matching`, `compile`) gives the careful means;
//! this gives the tails and the bytes, which criterion does not.
//!
//! Percentiles come from timing every lookup on its own with `Instant`, so each sample includes
//! one clock read (reported as "clock overhead"): they are upper bounds. Memory is counted by a
//! global allocator that tracks live bytes.

mod support;

use fairlead_route::{Config, Table};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};
use support::{mixed_config, quick, sizes, Workload, PORT};

/// Counts live heap bytes so the size of a table can be read off.
struct LiveBytes;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only counts.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Median time of `runs` calls of `f` (its output dropped outside the timing).
fn time_median<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = black_box(f());
            let elapsed = start.elapsed();
            drop(out);
            elapsed
        })
        .collect();
    median(samples)
}

fn clock_overhead_ns() -> u64 {
    let mut samples: Vec<u64> = (0..100_000)
        .map(|_| {
            let start = Instant::now();
            start.elapsed().as_nanos() as u64
        })
        .collect();
    samples.sort_unstable();
    percentile(&samples, 50.0)
}

fn lookup_latency(samples: usize) {
    println!("### Lookup latency per request (mixed workload)\n");
    println!(
        "Every lookup timed on its own; clock overhead per sample: {} ns.\n",
        clock_overhead_ns()
    );
    println!(
        "| routes | mean ns (batched) | mean ns, 64 distinct requests (hot caches) | p50 ns | p99 ns | \
         p99.9 ns | max ns |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes(&[10, 1_000, 10_000, 100_000]) {
        let w = Workload::mixed(n, 8192);
        let len = w.requests.len();
        // Warm caches (and regex scratch space) first.
        for req in &w.requests {
            black_box(w.table.lookup(PORT, &req.info()));
        }
        let batch = Instant::now();
        for i in 0..samples {
            black_box(w.table.lookup(PORT, &w.requests[i % len].info()));
        }
        let mean = batch.elapsed().as_nanos() as f64 / samples as f64;
        let hot = hot_mean(&w, samples);
        let mut each: Vec<u64> = (0..samples)
            .map(|i| {
                let req = w.requests[i % len].info();
                let start = Instant::now();
                black_box(w.table.lookup(PORT, &req));
                start.elapsed().as_nanos() as u64
            })
            .collect();
        each.sort_unstable();
        println!(
            "| {n} | {mean:.0} | {hot:.0} | {} | {} | {} | {} |",
            percentile(&each, 50.0),
            percentile(&each, 99.0),
            percentile(&each, 99.9),
            each[each.len() - 1]
        );
    }
    println!();
}

/// Mean lookup time when only the first 64 requests repeat: the table parts they touch stay in
/// cache, so growth with the table size here is work, not memory stalls.
fn hot_mean(w: &Workload, samples: usize) -> f64 {
    let hot = &w.requests[..w.requests.len().min(64)];
    let start = Instant::now();
    for i in 0..samples {
        black_box(w.table.lookup(PORT, &hot[i % hot.len()].info()));
    }
    start.elapsed().as_nanos() as f64 / samples as f64
}

fn wildcard_hosts(samples: usize) {
    println!("### Wildcard-host lookup as the number of wildcard hostnames grows\n");
    println!("| wildcard hostnames | mean ns per lookup | mean ns, 64 distinct requests (hot caches) |");
    println!("|---:|---:|---:|");
    for n in sizes(&[100, 10_000, 100_000]) {
        let w = Workload::wildcards(n, 8192);
        let len = w.requests.len();
        for req in &w.requests {
            black_box(w.table.lookup(PORT, &req.info()));
        }
        let start = Instant::now();
        for i in 0..samples {
            black_box(w.table.lookup(PORT, &w.requests[i % len].info()));
        }
        let mean = start.elapsed().as_nanos() as f64 / samples as f64;
        println!("| {n} | {mean:.0} | {:.0} |", hot_mean(&w, samples));
    }
    println!();
}

fn serialize_and_hash(config: &Config) -> u64 {
    let json = serde_json::to_vec(config).unwrap_or_default();
    xxhash_rust::xxh3::xxh3_64(&json)
}

fn control_plane(runs: usize) {
    println!("### Compile, serialize + hash, memory\n");
    println!(
        "| routes | compile ms | serialize+hash ms | compile+serialize+hash ms | clone+compare ms | \
         JSON bytes/route | config bytes/route | table bytes/route |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes(&[1_000, 20_000, 100_000]) {
        let before_config = live();
        let config = mixed_config(n);
        let config_bytes = live() - before_config;
        let before_table = live();
        let (table, errors) = Table::compile(&config);
        let table_bytes = live() - before_table;
        assert!(errors.is_empty());
        drop(table);
        let json_len = serde_json::to_vec(&config).map(|j| j.len()).unwrap_or(0);

        let compile = time_median(runs, || Table::compile(&config));
        let serialize = time_median(runs, || serialize_and_hash(&config));
        let both = time_median(runs, || (Table::compile(&config), serialize_and_hash(&config)));
        // What a rebuild does before compiling: keep a copy and compare it with the last one.
        let clone_compare = time_median(runs, || {
            let copy = config.clone();
            black_box(copy == config);
            copy
        });
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} | {} |",
            ms(compile),
            ms(serialize),
            ms(both),
            ms(clone_compare),
            json_len / n,
            config_bytes / n as isize,
            table_bytes / n as isize,
        );
    }
    println!();
}

fn main() {
    // `cargo bench` passes `--bench`; there are no options to read.
    let (samples, runs) = if quick() { (20_000, 3) } else { (1_000_000, 7) };
    println!("## Routing microbenchmark figures\n");
    lookup_latency(samples);
    wildcard_hosts(samples);
    control_plane(runs);
}
