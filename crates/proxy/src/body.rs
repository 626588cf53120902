//! The body types the proxy moves: [`ProxyBody`] towards the client (an upstream body streamed
//! through, or a small body the proxy generated) and [`UpstreamBody`] towards a backend (the
//! client's body streamed through, teed for mirrors, or held in memory for retries).

use crate::tee::{MirrorBody, Tee};
use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Either an upstream's body, forwarded frame by frame (never buffered whole), or a static body.
#[derive(Debug)]
pub(crate) enum ProxyBody {
    Upstream(Incoming),
    Static(Option<Bytes>),
}

impl ProxyBody {
    pub(crate) fn from_static(text: &'static str) -> ProxyBody {
        ProxyBody::Static(Some(Bytes::from_static(text.as_bytes())))
    }

    pub(crate) fn empty() -> ProxyBody {
        ProxyBody::Static(None)
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        // Both variants are Unpin, so the enum can be projected by hand.
        match self.get_mut() {
            ProxyBody::Upstream(body) => Pin::new(body).poll_frame(cx),
            ProxyBody::Static(data) => Poll::Ready(data.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Upstream(body) => body.is_end_stream(),
            ProxyBody::Static(data) => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Upstream(body) => body.size_hint(),
            ProxyBody::Static(data) => SizeHint::with_exact(data.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}

/// Why a request body stopped before its end.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("reading the client's request body: {0}")]
    Client(#[from] hyper::Error),
    /// A mirror copy fell behind or lost its source; the mirror request is cut, never the
    /// primary.
    #[error("mirror copy abandoned")]
    MirrorAbandoned,
}

/// A request body on its way to a backend.
///
/// The rare variants are boxed so the enum is no bigger than [`Incoming`] plus a tag: a
/// `Request<UpstreamBody>` is moved several times on every request (through the send futures
/// and hyper's dispatch channel), and the plain path must not pay for mirrors or retries.
#[derive(Debug)]
pub(crate) enum UpstreamBody {
    /// The client's body, frame by frame, unchanged.
    Stream(Incoming),
    /// The client's body, frame by frame, with a copy of each frame offered to mirrors.
    Tee(Box<Tee<Incoming>>),
    /// A body held whole in memory (buffered so a retry can resend it, or empty).
    Full {
        data: Option<Bytes>,
        trailers: Option<Box<HeaderMap>>,
    },
    /// A mirror's copy of a body being teed.
    Mirror(MirrorBody),
}

impl UpstreamBody {
    pub(crate) fn empty() -> UpstreamBody {
        UpstreamBody::Full {
            data: None,
            trailers: None,
        }
    }

    /// A body of `data` then `trailers`; an empty `data` sends no data frame.
    pub(crate) fn full(data: Bytes, trailers: Option<HeaderMap>) -> UpstreamBody {
        UpstreamBody::Full {
            data: (!data.is_empty()).then_some(data),
            trailers: trailers.map(Box::new),
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        // Every variant is Unpin, so the enum can be projected by hand.
        match self.get_mut() {
            UpstreamBody::Stream(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(BodyError::Client))),
            UpstreamBody::Tee(tee) => Pin::new(&mut **tee)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(BodyError::Client))),
            UpstreamBody::Full { data, trailers } => Poll::Ready(match data.take() {
                Some(data) => Some(Ok(Frame::data(data))),
                None => trailers.take().map(|t| Ok(Frame::trailers(*t))),
            }),
            UpstreamBody::Mirror(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Stream(body) => body.is_end_stream(),
            UpstreamBody::Tee(tee) => tee.is_end_stream(),
            UpstreamBody::Full { data, trailers } => data.is_none() && trailers.is_none(),
            UpstreamBody::Mirror(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Stream(body) => body.size_hint(),
            UpstreamBody::Tee(tee) => tee.size_hint(),
            UpstreamBody::Full { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |b| b.len() as u64))
            }
            UpstreamBody::Mirror(body) => body.size_hint(),
        }
    }
}
