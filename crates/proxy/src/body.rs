//! The response body type the proxy serves: an upstream body streamed through unchanged, or a
//! small body the proxy generated (errors, redirects).

use bytes::Bytes;
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
