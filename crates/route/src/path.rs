//! The candidates of one route-hostname tier, indexed by path so that a lookup probes maps
//! instead of scanning every route of a host.
//!
//! Within a tier every candidate has the same host rank, so precedence starts at the path:
//! Exact paths (one map probe), then prefixes from the longest element-wise prefix of the
//! request path down to `/` (one map probe per `/`), then regexes (a scan, in order). Each list
//! is pre-sorted by [`Precedence`], so the first candidate whose conditions pass wins.

use crate::host::FastMap;
use crate::matcher::{CompiledMatch, CompiledPath};
use crate::precedence::Precedence;
use crate::table::RequestInfo;

/// A finished tier: candidate lists of indices into `Table::matches`.
#[derive(Debug, Default)]
pub(crate) struct PathTier {
    exact: FastMap<Box<str>, Box<[usize]>>,
    prefix: FastMap<Box<str>, Box<[usize]>>,
    regex: Box<[usize]>,
}

impl PathTier {
    /// The best candidate of this tier for the request. `multi_label` is set when the tier is
    /// a wildcard hostname covering more than one label of the host: Ingress candidates are
    /// then skipped. No allocation.
    pub(crate) fn find<'t>(
        &self,
        matches: &'t [CompiledMatch],
        req: &RequestInfo<'_>,
        multi_label: bool,
    ) -> Option<&'t CompiledMatch> {
        let passes = |&i: &usize| {
            matches
                .get(i)
                .filter(|m| !(multi_label && m.one_label) && m.conditions.pass(req))
        };
        if let Some(found) = self
            .exact
            .get(req.path)
            .and_then(|list| list.iter().find_map(passes))
        {
            return Some(found);
        }
        if !self.prefix.is_empty() {
            let found = for_each_prefix(req.path, |key| {
                self.prefix.get(key).and_then(|list| list.iter().find_map(passes))
            });
            if found.is_some() {
                return found;
            }
        }
        self.regex.iter().find_map(|i| {
            passes(i).filter(|m| match &m.path {
                CompiledPath::Regex(re) => re.is_match(req.path),
                CompiledPath::Any => true,
                _ => false,
            })
        })
    }
}

/// Calls `f` with every element-wise prefix of `path`, longest first, ending with the empty
/// prefix (which stands for `/`), and returns the first `Some`. The whole path counts as a
/// prefix of itself; a trailing-slash key is never stored, so `/foo/` is served by `/foo`.
fn for_each_prefix<R>(path: &str, mut f: impl FnMut(&str) -> Option<R>) -> Option<R> {
    let mut key = path;
    loop {
        if let Some(r) = f(key) {
            return Some(r);
        }
        match key.rfind('/').and_then(|i| key.get(..i)) {
            Some(shorter) => key = shorter,
            None => break,
        }
    }
    // A path that does not start with `/` (`*`, or empty) still falls under prefix `/`.
    if key.is_empty() {
        None
    } else {
        f("")
    }
}

/// A tier under construction: candidates with their sort keys.
#[derive(Debug, Default)]
pub(crate) struct PathTierBuilder<'c> {
    exact: FastMap<Box<str>, Vec<(Precedence<'c>, usize)>>,
    prefix: FastMap<Box<str>, Vec<(Precedence<'c>, usize)>>,
    regex: Vec<(Precedence<'c>, usize)>,
}

impl<'c> PathTierBuilder<'c> {
    /// Adds the match at `index` (into `Table::matches`) with its precedence in this tier.
    pub(crate) fn add(&mut self, path: &CompiledPath, precedence: Precedence<'c>, index: usize) {
        let list = match path {
            CompiledPath::Exact(p) => self.exact.entry(p.clone()).or_default(),
            CompiledPath::Prefix(p) => self.prefix.entry(p.clone()).or_default(),
            CompiledPath::Regex(_) | CompiledPath::Any => &mut self.regex,
        };
        list.push((precedence, index));
    }

    pub(crate) fn finish(self) -> PathTier {
        PathTier {
            exact: self.exact.into_iter().map(|(k, v)| (k, sorted(v))).collect(),
            prefix: self.prefix.into_iter().map(|(k, v)| (k, sorted(v))).collect(),
            regex: sorted(self.regex),
        }
    }
}

fn sorted(mut list: Vec<(Precedence<'_>, usize)>) -> Box<[usize]> {
    list.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    list.into_iter().map(|(_, i)| i).collect()
}
