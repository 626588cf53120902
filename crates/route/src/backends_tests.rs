//! Weighted backend choice and endpoint round-robin.

use crate::backends::{Backends, CompiledTarget};
use crate::config::{Backend, BackendTarget, ServiceBackend, UpstreamProtocol};
use std::net::SocketAddr;

fn service(name: &str, weight: u32, endpoints: &[&str]) -> Backend {
    Backend {
        weight,
        target: BackendTarget::Service(ServiceBackend {
            name: name.into(),
            protocol: UpstreamProtocol::Http1,
            endpoints: endpoints.iter().map(|e| e.parse().unwrap()).collect(),
            tls: None,
        }),
        filters: Vec::new(),
    }
}

fn invalid(weight: u32) -> Backend {
    Backend {
        weight,
        target: BackendTarget::Invalid {
            reason: "no such service".into(),
        },
        filters: Vec::new(),
    }
}

fn name(target: &CompiledTarget) -> &str {
    match target {
        CompiledTarget::Service(s) => &s.name,
        CompiledTarget::Invalid { .. } => "invalid",
    }
}

/// How often each backend is picked over every `r` in `0..total_weight()`.
fn distribution(backends: &Backends) -> Vec<(String, u32)> {
    let mut counts: Vec<(String, u32)> = backends
        .iter()
        .map(|b| (name(&b.target).to_string(), 0))
        .collect();
    for r in 0..backends.total_weight() {
        let picked = backends.pick(r).expect("r below total weight picks a backend");
        let slot = counts
            .iter_mut()
            .find(|(n, _)| n == name(&picked.target))
            .unwrap();
        slot.1 += 1;
    }
    counts
}

#[test]
fn pick_follows_weights_exactly() {
    /// (rule, backends, expected picks per backend)
    type Case = (&'static str, Vec<Backend>, Vec<(&'static str, u32)>);
    let cases: [Case; 4] = [
        (
            "single backend gets everything",
            vec![service("a", 5, &[])],
            vec![("a", 5)],
        ),
        (
            "shares are proportional to weight",
            vec![service("a", 1, &[]), service("b", 3, &[]), service("c", 6, &[])],
            vec![("a", 1), ("b", 3), ("c", 6)],
        ),
        (
            "weight 0 is never picked, wherever it sits",
            vec![
                service("z1", 0, &[]),
                service("a", 2, &[]),
                service("z2", 0, &[]),
                service("b", 1, &[]),
            ],
            vec![("z1", 0), ("a", 2), ("z2", 0), ("b", 1)],
        ),
        (
            "an invalid backend takes its share (the proxy answers 500 for it)",
            vec![service("a", 3, &[]), invalid(1)],
            vec![("a", 3), ("invalid", 1)],
        ),
    ];
    for (rule, config, want) in cases {
        let backends = Backends::compile(&config);
        let want: Vec<(String, u32)> = want.into_iter().map(|(n, c)| (n.to_string(), c)).collect();
        assert_eq!(distribution(&backends), want, "{rule}");
    }
}

#[test]
fn pick_without_weight_is_none() {
    let cases = [
        ("no backends", vec![]),
        (
            "only weight-0 backends",
            vec![service("a", 0, &[]), service("b", 0, &[])],
        ),
    ];
    for (rule, config) in cases {
        let backends = Backends::compile(&config);
        assert_eq!(backends.total_weight(), 0, "{rule}");
        assert!(backends.pick(0).is_none(), "{rule}");
    }
    assert!(Backends::compile(&[]).is_empty());
    assert!(!Backends::compile(&[service("a", 0, &[])]).is_empty());
}

#[test]
fn pick_out_of_range_is_none() {
    let backends = Backends::compile(&[service("a", 2, &[])]);
    assert!(backends.pick(2).is_none());
}

#[test]
fn total_weight_saturates() {
    let backends = Backends::compile(&[service("a", u32::MAX, &[]), service("b", 5, &[])]);
    assert_eq!(backends.total_weight(), u32::MAX);
    assert_eq!(backends.pick(u32::MAX - 1).map(|b| name(&b.target)), Some("a"));
}

#[test]
fn endpoints_round_robin_in_order_and_wrap() {
    let backends = Backends::compile(&[service("a", 1, &["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"])]);
    let Some(CompiledTarget::Service(target)) = backends.pick(0).map(|b| &b.target) else {
        panic!("expected a service backend");
    };
    let picked: Vec<SocketAddr> = (0..7).map(|_| target.next_endpoint().unwrap()).collect();
    let port = |i: usize| picked[i].port();
    assert_eq!((0..7).map(port).collect::<Vec<_>>(), vec![1, 2, 3, 1, 2, 3, 1]);
}

#[test]
fn no_endpoints_gives_none() {
    let backends = Backends::compile(&[service("a", 1, &[])]);
    let Some(CompiledTarget::Service(target)) = backends.pick(0).map(|b| &b.target) else {
        panic!("expected a service backend");
    };
    assert_eq!(target.next_endpoint(), None);
}
