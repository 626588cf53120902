//! Control-plane costs of the routing config: compiling it into a `Table`, and serializing it to
//! JSON plus hashing that (what `/routes` and a config ETag cost), alone and together.

mod support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use fairlead_route::Table;
use std::hint::black_box;
use support::{mixed_config, sizes};

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    for n in sizes(&[1_000, 20_000, 100_000]) {
        let config = mixed_config(n);
        // The old table is dropped elsewhere (after the swap), so its drop is not timed.
        group.bench_with_input(BenchmarkId::from_parameter(n), &config, |b, config| {
            b.iter_with_large_drop(|| Table::compile(black_box(config)))
        });
    }
    group.finish();
}

fn serialize_and_hash(config: &fairlead_route::Config) -> u64 {
    let json = serde_json::to_vec(config).unwrap_or_default();
    xxhash_rust::xxh3::xxh3_64(&json)
}

fn serialize_hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("serialize_hash");
    group.sample_size(10);
    for n in sizes(&[1_000, 20_000]) {
        let config = mixed_config(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &config, |b, config| {
            b.iter(|| serialize_and_hash(black_box(config)))
        });
    }
    group.finish();
}

fn compile_serialize_hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile_serialize_hash");
    group.sample_size(10);
    for n in sizes(&[1_000, 20_000]) {
        let config = mixed_config(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &config, |b, config| {
            b.iter_with_large_drop(|| (Table::compile(black_box(config)), serialize_and_hash(config)))
        });
    }
    group.finish();
}

criterion_group!(benches, compile, serialize_hash, compile_serialize_hash);
criterion_main!(benches);
