//! `RequestMirror`: a copy of each selected request goes to one endpoint of the mirror backend,
//! fire-and-forget.
//!
//! Nothing about a mirror may delay, fail or change the client's response: copies are spawned
//! as their own tasks, their responses are read and discarded, and a body reaches a mirror
//! through [`crate::tee`], which abandons a copy rather than wait for it. Each worker has at
//! most [`MAX_IN_FLIGHT_PER_WORKER`] copies in flight; beyond that copies are skipped (and
//! counted), so a hanging mirror backend cannot pile up tasks and memory.

use crate::body::UpstreamBody;
use crate::filters::BuildCtx;
use crate::forward;
use crate::metrics::{MirrorHandles, MirrorResult};
use crate::state::Upstream;
use crate::tee::{mirror_channel, Feed};
use bytes::Bytes;
use fairlead_route::Mirror;
use http::header::{HeaderMap, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Version};
use http_body::SizeHint;
use http_body_util::BodyExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Mirror copies one worker keeps in flight at most.
pub(crate) const MAX_IN_FLIGHT_PER_WORKER: usize = 256;

/// Longest a mirror copy may take when its route sets no timeout.
pub(crate) const DEFAULT_MIRROR_TIMEOUT: Duration = Duration::from_secs(30);

/// Most bytes of a mirror's response read (so its connection can be reused) before it is dropped.
const DRAIN_LIMIT: usize = 64 * 1024;

/// One `RequestMirror` filter, ready to send copies.
pub(crate) struct MirrorTarget {
    upstream: Upstream,
    numerator: u32,
    denominator: u32,
    handles: MirrorHandles,
}

impl MirrorTarget {
    pub(crate) fn build(m: &Mirror, ctx: &BuildCtx<'_>) -> MirrorTarget {
        let b = &m.backend;
        MirrorTarget {
            upstream: Upstream::new(&b.name, b.protocol, &b.endpoints, b.tls.as_ref(), ctx),
            numerator: m.numerator,
            denominator: m.denominator,
            handles: ctx.metrics.mirror_handles(&b.name),
        }
    }

    /// Whether this request is one of the `numerator / denominator` share that is mirrored.
    fn selected(&self) -> bool {
        if self.numerator == 0 || self.denominator == 0 {
            return false;
        }
        self.numerator >= self.denominator || fastrand::u32(0..self.denominator) < self.numerator
    }
}

/// Per-worker counts of mirror copies in flight.
pub(crate) struct MirrorSlots {
    per_worker: Box<[AtomicUsize]>,
    limit: usize,
}

/// One copy's place in its worker's count, given back when the copy ends.
struct Slot {
    slots: Arc<MirrorSlots>,
    index: usize,
}

impl MirrorSlots {
    pub(crate) fn new(workers: usize, limit: usize) -> MirrorSlots {
        MirrorSlots {
            per_worker: (0..workers.max(1)).map(|_| AtomicUsize::new(0)).collect(),
            limit,
        }
    }

    fn acquire(self: &Arc<Self>) -> Option<Slot> {
        let index = crate::workers::current() % self.per_worker.len().max(1);
        let count = self.per_worker.get(index)?;
        count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .ok()?;
        Some(Slot {
            slots: Arc::clone(self),
            index,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(count) = self.slots.per_worker.get(self.index) {
            count.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The request as the primary backend will get it, before adapting it to a protocol: after the
/// request filters ran, with the rewritten path and host.
pub(crate) struct Source<'a> {
    pub(crate) method: &'a Method,
    pub(crate) version: Version,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) path: &'a PathAndQuery,
    pub(crate) host: &'a HeaderValue,
}

/// How the copies get the request body.
pub(crate) enum SourceBody<'a> {
    /// No body: no channel is needed.
    Empty,
    /// Held whole in memory (buffered for retries): each copy gets the same bytes.
    Buffered(&'a Bytes, Option<&'a HeaderMap>),
    /// Still streaming from the client: each copy gets a channel the primary's tee feeds.
    Streaming(SizeHint),
}

/// Where mirror copies run and when they must stop.
pub(crate) struct Runner<'a> {
    pub(crate) slots: &'a Arc<MirrorSlots>,
    pub(crate) stop: &'a CancellationToken,
    pub(crate) timeout: Duration,
}

/// Starts a copy for each selected target. With a streaming body, returns the feeds the
/// primary's tee must fill (empty otherwise).
pub(crate) fn start<'t>(
    runner: &Runner<'_>,
    targets: impl Iterator<Item = &'t Arc<MirrorTarget>>,
    source: &Source<'_>,
    body: &SourceBody<'_>,
) -> Vec<Feed> {
    let mut feeds = Vec::new();
    for target in targets {
        if !target.selected() {
            continue;
        }
        let Some(slot) = runner.slots.acquire() else {
            target.handles.record(MirrorResult::Skipped);
            continue;
        };
        let (body, abandoned) = match body {
            SourceBody::Empty => (UpstreamBody::empty(), None),
            SourceBody::Buffered(data, trailers) => {
                (UpstreamBody::full((*data).clone(), trailers.cloned()), None)
            }
            SourceBody::Streaming(hint) => {
                let (feed, copy, abandoned) = mirror_channel(hint);
                feeds.push(feed);
                (UpstreamBody::Mirror(copy), Some(abandoned))
            }
        };
        let req = match copy_request(source, &target.upstream, body) {
            Ok(req) => req,
            Err(err) => {
                tracing::debug!(mirror = %target.upstream.name, %err, "cannot build mirror request");
                target.handles.record(MirrorResult::Failed);
                continue;
            }
        };
        let target = Arc::clone(target);
        let stop = runner.stop.clone();
        let timeout = runner.timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let abandoned = async {
                match abandoned {
                    Some(token) => token.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            // Dropping the send future on abandon or stop closes the mirror's connection.
            let result = tokio::select! {
                r = tokio::time::timeout(timeout, send(&target, req)) => r.unwrap_or(MirrorResult::Failed),
                _ = abandoned => MirrorResult::Failed,
                _ = stop.cancelled() => MirrorResult::Failed,
            };
            target.handles.record(result);
        });
    }
    feeds
}

fn copy_request(
    source: &Source<'_>,
    upstream: &Upstream,
    body: UpstreamBody,
) -> Result<Request<UpstreamBody>, crate::error::ProxyError> {
    let mut req = Request::new(body);
    *req.method_mut() = source.method.clone();
    *req.version_mut() = source.version;
    *req.headers_mut() = source.headers.clone();
    // An upgrade request keeps Upgrade/Connection for the primary; a copy must not switch
    // protocols.
    crate::headers::remove_hop_by_hop(req.headers_mut(), false);
    forward::prepare(&mut req, upstream, source.host, Some(source.path.clone()))?;
    Ok(req)
}

async fn send(target: &MirrorTarget, req: Request<UpstreamBody>) -> MirrorResult {
    match forward::send(&target.upstream, req, None).await {
        Ok((resp, _)) => {
            // Reading a small answer lets an HTTP/1.1 connection go back to the pool.
            let mut body = resp.into_body();
            let mut read = 0;
            while read <= DRAIN_LIMIT {
                match body.frame().await {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
                    Some(Err(_)) | None => break,
                }
            }
            MirrorResult::Sent
        }
        Err(err) => {
            tracing::debug!(mirror = %target.upstream.name, %err, "mirror request failed");
            MirrorResult::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_beyond_the_limit_get_no_slot_until_one_ends() {
        let slots = Arc::new(MirrorSlots::new(1, 2));
        let first = slots.acquire().unwrap();
        let _second = slots.acquire().unwrap();
        assert!(slots.acquire().is_none());
        drop(first);
        assert!(slots.acquire().is_some());
    }
}
