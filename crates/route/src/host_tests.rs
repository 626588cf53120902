//! Request host normalization and hostname patterns.

use crate::host::{normalize_host, HostMap, HostPattern};
use std::borrow::Cow;

#[test]
fn normalize_host_cases() {
    let cases = [
        ("plain host is unchanged", "example.com", "example.com"),
        ("port is stripped", "example.com:8080", "example.com"),
        ("trailing dot is stripped", "example.com.", "example.com"),
        ("trailing dot and port", "example.com.:80", "example.com"),
        ("upper case is lowercased", "ExAmple.COM", "example.com"),
        ("everything at once", "WWW.Example.com.:443", "www.example.com"),
        ("IPv4 keeps its address", "127.0.0.1:80", "127.0.0.1"),
        ("bracketed IPv6 keeps brackets, loses port", "[::1]:8080", "[::1]"),
        ("bracketed IPv6 without port", "[::1]", "[::1]"),
        ("bracketed IPv6 is lowercased", "[FE80::1]:80", "[fe80::1]"),
        ("bare IPv6 is not cut at a colon", "fe80::1", "fe80::1"),
        ("empty host stays empty", "", ""),
        ("lone port leaves an empty host", ":80", ""),
    ];
    for (rule, raw, want) in cases {
        assert_eq!(normalize_host(raw), want, "{rule}: {raw:?}");
    }
}

#[test]
fn normalize_host_borrows_unless_lowercasing() {
    assert!(matches!(
        normalize_host("example.com:80"),
        Cow::Borrowed("example.com")
    ));
    assert!(matches!(normalize_host("Example.com"), Cow::Owned(_)));
}

#[test]
fn hostname_patterns_parse() {
    let cases = [
        ("no hostname is any", None, HostPattern::Any),
        ("empty hostname is any", Some(""), HostPattern::Any),
        ("bare star is any", Some("*"), HostPattern::Any),
        (
            "exact",
            Some("Foo.Example.com."),
            HostPattern::Exact("foo.example.com".into()),
        ),
        (
            "wildcard keeps the dot",
            Some("*.example.com"),
            HostPattern::Wildcard(".example.com".into()),
        ),
        (
            "star not followed by a dot is literal",
            Some("*foo.com"),
            HostPattern::Exact("*foo.com".into()),
        ),
    ];
    for (rule, raw, want) in cases {
        assert_eq!(HostPattern::parse(raw), want, "{rule}");
    }
}

/// What `find_map` visits for a host, in order, as (value, multi_label).
fn visits(map: &HostMap<&'static str>, host: &str) -> Vec<(&'static str, bool)> {
    let mut seen = Vec::new();
    map.find_map(host, |&v, multi| {
        seen.push((v, multi));
        None::<()>
    });
    seen
}

#[test]
fn host_map_visits_most_specific_first() {
    let mut map = HostMap::default();
    for (pattern, value) in [
        ("a.b.example.com", "exact"),
        ("*.b.example.com", "wild-long"),
        ("*.example.com", "wild-short"),
    ] {
        map.insert(HostPattern::parse(Some(pattern)), value);
    }
    map.insert(HostPattern::Any, "any");

    /// (rule, host, expected visits)
    type Case = (&'static str, &'static str, Vec<(&'static str, bool)>);
    let cases: [Case; 5] = [
        (
            "exact, then wildcards longest first, then any",
            "a.b.example.com",
            vec![
                ("exact", false),
                ("wild-long", false),
                ("wild-short", true),
                ("any", false),
            ],
        ),
        (
            "one label under the short wildcard",
            "x.example.com",
            vec![("wild-short", false), ("any", false)],
        ),
        (
            "a wildcard never matches its own suffix",
            "example.com",
            vec![("any", false)],
        ),
        (
            "leading dot leaves no label for the star",
            ".example.com",
            vec![("any", false)],
        ),
        (
            "empty first label makes the rest multi-label",
            ".x.example.com",
            vec![("wild-short", true), ("any", false)],
        ),
    ];
    for (rule, host, want) in cases {
        assert_eq!(visits(&map, host), want, "{rule}: {host}");
    }
}
