//! Gateway API hostname intersection between a listener and a route.
//!
//! A Gateway API wildcard `*.example.com` covers one or more labels: `foo.example.com`,
//! `a.b.example.com` and the narrower wildcard `*.foo.example.com`, but not `example.com`.

/// The hostnames a route answers for on a listener, lowercased, sorted and deduplicated.
///
/// `None` means the route has hostnames and none of them intersects the listener's. A route
/// without hostnames takes the listener's (an empty list when the listener has none either).
pub(crate) fn intersect(listener: Option<&str>, route: &[String]) -> Option<Vec<String>> {
    let listener = listener.map(str::to_ascii_lowercase);
    if route.is_empty() {
        return Some(listener.into_iter().collect());
    }
    let mut out: Vec<String> = route
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .filter_map(|h| match &listener {
            None => Some(h),
            Some(l) => intersect_one(l, &h),
        })
        .collect();
    if out.is_empty() {
        return None;
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// True when two hostname lists (as [`intersect`] returns them) share at least one host. An
/// empty list means every host, so it overlaps anything.
pub(crate) fn overlap(a: &[String], b: &[String]) -> bool {
    a.is_empty() || b.is_empty() || a.iter().any(|x| b.iter().any(|y| intersect_one(x, y).is_some()))
}

/// The narrower of two hostnames when one covers the other (both lowercase).
fn intersect_one(listener: &str, route: &str) -> Option<String> {
    if listener == route || covers(listener, route) {
        Some(route.to_string())
    } else if covers(route, listener) {
        Some(listener.to_string())
    } else {
        None
    }
}

/// True when `wildcard` (`*.suffix`) covers `host`, which may itself be a narrower wildcard.
fn covers(wildcard: &str, host: &str) -> bool {
    match wildcard.strip_prefix('*') {
        Some(suffix) if suffix.starts_with('.') => host.len() > suffix.len() && host.ends_with(suffix),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_hostnames_intersect_only_when_equal() {
        assert_eq!(
            intersect(Some("foo.example.com"), &hosts(&["foo.example.com"])),
            Some(hosts(&["foo.example.com"]))
        );
        assert_eq!(
            intersect(Some("foo.example.com"), &hosts(&["bar.example.com"])),
            None
        );
    }

    #[test]
    fn wildcard_listener_accepts_subdomains_and_narrower_wildcards() {
        let l = Some("*.example.com");
        assert_eq!(
            intersect(l, &hosts(&["foo.example.com"])),
            Some(hosts(&["foo.example.com"]))
        );
        assert_eq!(
            intersect(l, &hosts(&["a.b.example.com"])),
            Some(hosts(&["a.b.example.com"]))
        );
        assert_eq!(
            intersect(l, &hosts(&["*.example.com"])),
            Some(hosts(&["*.example.com"]))
        );
        assert_eq!(
            intersect(l, &hosts(&["*.foo.example.com"])),
            Some(hosts(&["*.foo.example.com"]))
        );
        assert_eq!(intersect(l, &hosts(&["example.com"])), None);
        assert_eq!(intersect(l, &hosts(&["*.com"])), Some(hosts(&["*.example.com"])));
    }

    #[test]
    fn wildcard_route_narrows_to_the_exact_listener() {
        assert_eq!(
            intersect(Some("foo.example.com"), &hosts(&["*.com"])),
            Some(hosts(&["foo.example.com"]))
        );
        assert_eq!(
            intersect(Some("foo.example.com"), &hosts(&["*.example.com"])),
            Some(hosts(&["foo.example.com"]))
        );
        assert_eq!(intersect(Some("foo.example.com"), &hosts(&["*.other.com"])), None);
    }

    #[test]
    fn missing_hostnames_take_the_other_side() {
        assert_eq!(intersect(None, &[]), Some(vec![]));
        assert_eq!(
            intersect(Some("Foo.Example.com"), &[]),
            Some(hosts(&["foo.example.com"]))
        );
        assert_eq!(
            intersect(None, &hosts(&["B.example.com", "a.example.com"])),
            Some(hosts(&["a.example.com", "b.example.com"]))
        );
    }

    #[test]
    fn overlap_needs_a_shared_host() {
        assert!(overlap(&[], &hosts(&["a.example.com"])));
        assert!(overlap(&hosts(&["a.example.com"]), &[]));
        assert!(overlap(
            &hosts(&["a.example.com"]),
            &hosts(&["b.example.com", "a.example.com"])
        ));
        assert!(overlap(&hosts(&["*.example.com"]), &hosts(&["a.example.com"])));
        assert!(overlap(&hosts(&["a.b.example.com"]), &hosts(&["*.example.com"])));
        assert!(overlap(&hosts(&["*.com"]), &hosts(&["*.example.com"])));
        assert!(!overlap(&hosts(&["a.example.com"]), &hosts(&["b.example.com"])));
        assert!(!overlap(&hosts(&["*.example.com"]), &hosts(&["*.example.org"])));
        assert!(!overlap(&hosts(&["*.example.com"]), &hosts(&["example.com"])));
    }

    #[test]
    fn only_intersecting_route_hostnames_are_kept() {
        let got = intersect(
            Some("*.example.com"),
            &hosts(&["x.other.org", "FOO.example.com", "foo.example.com"]),
        );
        assert_eq!(got, Some(hosts(&["foo.example.com"])));
    }
}
