//! Hostnames: request `Host` normalization and a host-keyed map that finds the most specific
//! entry for a host without scanning wildcards linearly.
//!
//! The same [`HostMap`] serves two purposes: choosing the listener of a port (listener
//! isolation) and choosing, within that listener, which route-hostname tiers to try and in which
//! order.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::HashMap;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

/// Hash map with a fast, non-allocating hasher. Keys come from the config, so clients cannot
/// choose which keys collide; they can only probe.
pub(crate) type FastMap<K, V> = HashMap<K, V, Xxh3DefaultBuilder>;

/// Lowercases, strips the port and a trailing dot. Handles `[v6]:port`.
///
/// An IPv6 literal keeps its brackets: `[::1]:8080` becomes `[::1]`, which is what a route or
/// listener hostname would have to say to match it. A bare IPv6 address (several colons, no
/// brackets) is not a valid Host header; it is returned unchanged rather than cut at a colon.
/// Only ASCII is lowercased (hostnames on the wire are ASCII/punycode), and a new string is
/// allocated only when there is an upper-case letter.
pub fn normalize_host(raw: &str) -> Cow<'_, str> {
    let host = strip_port(raw);
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

fn strip_port(raw: &str) -> &str {
    if raw.starts_with('[') {
        return match raw.split_once(']') {
            Some((inside, _port)) => raw.get(..inside.len() + 1).unwrap_or(raw),
            None => raw,
        };
    }
    match raw.split_once(':') {
        Some((host, port)) if !port.contains(':') => host,
        _ => raw,
    }
}

/// A configured hostname (listener or route), normalized like a request host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum HostPattern {
    /// Matches exactly this host.
    Exact(Box<str>),
    /// `*.example.com`, stored as the suffix `.example.com`.
    Wildcard(Box<str>),
    /// No hostname: every host.
    Any,
}

impl HostPattern {
    /// `None`, an empty string and a bare `*` all mean "every host".
    pub(crate) fn parse(hostname: Option<&str>) -> HostPattern {
        let Some(raw) = hostname else {
            return HostPattern::Any;
        };
        let host = raw.strip_suffix('.').unwrap_or(raw).to_ascii_lowercase();
        if host.is_empty() || host == "*" {
            HostPattern::Any
        } else if let Some(suffix) = host.strip_prefix('*') {
            if suffix.starts_with('.') {
                HostPattern::Wildcard(suffix.into())
            } else {
                // `*foo.com` is not a hostname pattern any API accepts; matching it literally
                // means it never matches a real host, which is the safe outcome.
                HostPattern::Exact(host.into())
            }
        } else {
            HostPattern::Exact(host.into())
        }
    }

    pub(crate) fn rank(&self) -> HostRank {
        match self {
            HostPattern::Exact(_) => HostRank::Exact,
            // The length of `*.example.com` is the suffix length plus the `*`.
            HostPattern::Wildcard(suffix) => HostRank::Wildcard(Reverse(suffix.len() + 1)),
            HostPattern::Any => HostRank::Any,
        }
    }
}

/// How specifically a hostname matched; smaller is more specific. Exact before wildcard, longer
/// wildcards before shorter ones, "no hostname" last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum HostRank {
    Exact,
    Wildcard(Reverse<usize>),
    Any,
}

/// Values keyed by [`HostPattern`], looked up by request host in precedence order.
#[derive(Debug)]
pub(crate) struct HostMap<T> {
    exact: FastMap<Box<str>, T>,
    /// Keyed by suffix including the leading dot, probed at each label boundary of the host.
    wildcard: FastMap<Box<str>, T>,
    any: Option<T>,
}

impl<T> Default for HostMap<T> {
    fn default() -> Self {
        HostMap {
            exact: FastMap::default(),
            wildcard: FastMap::default(),
            any: None,
        }
    }
}

impl<T> HostMap<T> {
    pub(crate) fn get(&self, pattern: &HostPattern) -> Option<&T> {
        match pattern {
            HostPattern::Exact(h) => self.exact.get(h),
            HostPattern::Wildcard(s) => self.wildcard.get(s),
            HostPattern::Any => self.any.as_ref(),
        }
    }

    pub(crate) fn insert(&mut self, pattern: HostPattern, value: T) {
        match pattern {
            HostPattern::Exact(h) => {
                self.exact.insert(h, value);
            }
            HostPattern::Wildcard(s) => {
                self.wildcard.insert(s, value);
            }
            HostPattern::Any => self.any = Some(value),
        }
    }

    pub(crate) fn get_or_default(&mut self, pattern: &HostPattern) -> &mut T
    where
        T: Default,
    {
        match pattern {
            HostPattern::Exact(h) => self.exact.entry(h.clone()).or_default(),
            HostPattern::Wildcard(s) => self.wildcard.entry(s.clone()).or_default(),
            HostPattern::Any => self.any.get_or_insert_with(T::default),
        }
    }

    /// Converts every value, keeping the keys.
    pub(crate) fn map<U>(self, mut f: impl FnMut(T) -> U) -> HostMap<U> {
        HostMap {
            exact: self.exact.into_iter().map(|(k, v)| (k, f(v))).collect(),
            wildcard: self.wildcard.into_iter().map(|(k, v)| (k, f(v))).collect(),
            any: self.any.map(f),
        }
    }

    /// Calls `f` on every entry matching `host`, most specific first, and returns the first
    /// `Some`. The flag tells `f` whether the entry is a wildcard covering more than one label of
    /// the host (an Ingress wildcard must then be ignored).
    ///
    /// Cost: one exact probe, one probe per dot of the host (only when there are wildcards),
    /// and the catch-all. No allocation.
    pub(crate) fn find_map<'s, R>(
        &'s self,
        host: &str,
        mut f: impl FnMut(&'s T, bool) -> Option<R>,
    ) -> Option<R> {
        if let Some(r) = self.exact.get(host).and_then(|v| f(v, false)) {
            return Some(r);
        }
        if !self.wildcard.is_empty() {
            // Longest suffix first = leftmost dot first. A dot at position 0 would leave an
            // empty label for the `*`, so it only marks later suffixes as multi-label.
            let mut multi_label = false;
            for (pos, _) in host.match_indices('.') {
                if pos > 0 {
                    let found = host
                        .get(pos..)
                        .and_then(|suffix| self.wildcard.get(suffix))
                        .and_then(|v| f(v, multi_label));
                    if found.is_some() {
                        return found;
                    }
                }
                multi_label = true;
            }
        }
        self.any.as_ref().and_then(|v| f(v, false))
    }
}
