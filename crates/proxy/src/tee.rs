//! Teeing a request body to mirrors: the primary request gets every frame unchanged and in
//! step with the client; each mirror gets a copy through a small bounded channel.
//!
//! The primary never waits for a mirror. When a mirror's channel is full (the mirror backend
//! reads slower than the primary) or closed (the mirror request failed), or the primary body
//! fails or is dropped before its end, that mirror's copy is abandoned: its body ends with an
//! error, so the mirror backend sees a broken request rather than a silently truncated one, and
//! the copy's abandon token is cancelled so its task stops at once (a mirror that reads nothing
//! never polls its body, so the error alone would not reach it).

use crate::body::BodyError;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Frames a mirror may lag behind the primary before its copy is abandoned.
const MIRROR_LAG_FRAMES: usize = 16;

/// What travels to a mirror.
#[derive(Debug)]
pub(crate) enum Chunk {
    Frame(Frame<Bytes>),
    /// The source body ended cleanly; a channel that closes without this was abandoned.
    End,
}

/// What the [`Tee`] keeps of one mirror copy. Dropping it before the end abandons the copy.
#[derive(Debug)]
pub(crate) struct Feed {
    tx: mpsc::Sender<Chunk>,
    abandon: DropGuard,
}

/// A new mirror copy: the feed goes into the [`Tee`], the body into the mirror request, and the
/// token (cancelled when the copy is abandoned) to the task sending it.
pub(crate) fn mirror_channel(hint: &SizeHint) -> (Feed, MirrorBody, CancellationToken) {
    let (tx, rx) = mpsc::channel(MIRROR_LAG_FRAMES);
    let abandoned = CancellationToken::new();
    let feed = Feed {
        tx,
        abandon: abandoned.clone().drop_guard(),
    };
    let body = MirrorBody {
        rx,
        done: false,
        exact: hint.exact(),
    };
    (feed, body, abandoned)
}

/// The primary side: `inner`'s frames pass through unchanged; copies go to `copies`.
#[derive(Debug)]
pub(crate) struct Tee<B> {
    inner: B,
    copies: Vec<Feed>,
}

impl<B> Tee<B> {
    pub(crate) fn new(inner: B, copies: Vec<Feed>) -> Tee<B> {
        Tee { inner, copies }
    }

    /// Offers a copy of `frame` to every mirror still following; a mirror without room is
    /// dropped. One slot is always kept free so the final `End` can never fail for lack of room.
    fn offer(&mut self, frame: &Frame<Bytes>) {
        self.copies.retain(|Feed { tx, .. }| {
            if tx.capacity() < 2 {
                return false;
            }
            let copy = match (frame.data_ref(), frame.trailers_ref()) {
                (Some(data), _) => Frame::data(data.clone()),
                (None, Some(trailers)) => Frame::trailers(trailers.clone()),
                // Frame kinds added to http-body later: a mirror cannot be given a faithful copy.
                (None, None) => return false,
            };
            tx.try_send(Chunk::Frame(copy)).is_ok()
        });
    }

    fn finish(&mut self) {
        for feed in self.copies.drain(..) {
            // Room is guaranteed by `offer`; a closed channel means the mirror already gave up.
            let _ = feed.tx.try_send(Chunk::End);
            feed.abandon.disarm();
        }
    }
}

impl<B> Body for Tee<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if !this.copies.is_empty() {
                    this.offer(frame);
                }
                if this.inner.is_end_stream() {
                    this.finish();
                }
            }
            Poll::Ready(None) => this.finish(),
            // Dropping the senders without `End` fails the mirrors' bodies.
            Poll::Ready(Some(Err(_))) => this.copies.clear(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A mirror's copy of a teed body.
#[derive(Debug)]
pub(crate) struct MirrorBody {
    rx: mpsc::Receiver<Chunk>,
    done: bool,
    /// The source's exact length, when known (it then also has a `Content-Length`).
    exact: Option<u64>,
}

impl Body for MirrorBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(Chunk::Frame(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Chunk::End)) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(Some(Err(BodyError::MirrorAbandoned)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::collections::VecDeque;
    use std::convert::Infallible;

    /// A body that yields its frames at once, one per poll.
    struct Frames(VecDeque<Bytes>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.get_mut().0.pop_front().map(|b| Ok(Frame::data(b))))
        }
        fn is_end_stream(&self) -> bool {
            self.0.is_empty()
        }
    }

    fn frames(n: usize) -> Frames {
        Frames((0..n).map(|i| Bytes::from(format!("chunk-{i};"))).collect())
    }

    fn expected(n: usize) -> Vec<u8> {
        (0..n).flat_map(|i| format!("chunk-{i};").into_bytes()).collect()
    }

    #[tokio::test]
    async fn a_mirror_that_keeps_up_gets_the_whole_body() {
        let (tx, mirror, abandoned) = mirror_channel(&SizeHint::default());
        let tee = Tee::new(frames(10), vec![tx]);
        let primary = tee.collect().await.unwrap().to_bytes();
        assert_eq!(primary.as_ref(), expected(10).as_slice());
        let copy = mirror.collect().await.unwrap().to_bytes();
        assert_eq!(copy.as_ref(), expected(10).as_slice());
        assert!(!abandoned.is_cancelled());
    }

    #[tokio::test]
    async fn a_mirror_that_falls_behind_is_abandoned_not_the_primary() {
        let (tx, mirror, abandoned) = mirror_channel(&SizeHint::default());
        let tee = Tee::new(frames(100), vec![tx]);
        // The mirror reads nothing while the primary is read to the end.
        let primary = tee.collect().await.unwrap().to_bytes();
        assert_eq!(primary.as_ref(), expected(100).as_slice());
        assert!(abandoned.is_cancelled());
        let err = mirror.collect().await.unwrap_err();
        assert!(matches!(err, BodyError::MirrorAbandoned), "{err}");
    }

    #[tokio::test]
    async fn a_primary_dropped_early_fails_the_copy() {
        let (tx, mut mirror, abandoned) = mirror_channel(&SizeHint::default());
        let mut tee = Tee::new(frames(5), vec![tx]);
        let first = tee.frame().await.unwrap().unwrap().into_data().unwrap();
        assert!(!abandoned.is_cancelled());
        drop(tee);
        assert!(abandoned.is_cancelled());
        let copy = mirror.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, copy);
        assert!(mirror.frame().await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_closed_mirror_does_not_disturb_the_primary() {
        let (tx, mirror, _) = mirror_channel(&SizeHint::default());
        drop(mirror);
        let len = expected(3).len() as u64;
        let (tx2, mirror2, _) = mirror_channel(&SizeHint::with_exact(len));
        let tee = Tee::new(frames(3), vec![tx, tx2]);
        assert_eq!(
            tee.collect().await.unwrap().to_bytes().as_ref(),
            expected(3).as_slice()
        );
        assert_eq!(mirror2.size_hint().exact(), Some(len));
        assert_eq!(
            mirror2.collect().await.unwrap().to_bytes().as_ref(),
            expected(3).as_slice()
        );
    }
}
