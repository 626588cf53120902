//! fairlead-bench-backend: the backend every benchmark contender forwards to.
//!
//! It must never be the bottleneck, so it does as little as an HTTP/1.1 server can: find the end
//! of each request head, skip a `Content-Length` body, and write one of two responses prepared at
//! start-up. There is no routing, no header map and no allocation per request. Paths starting
//! with `/1m` get a 1 MiB body (the streaming scenario); every other path gets a short one.
//! Keep-alive is the default; `Connection: close` (or HTTP/1.0 without keep-alive) closes after
//! the response. Chunked request bodies are not supported: such a connection is closed.

use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Body of every response except `/1m`.
pub const SMALL_BODY: &[u8] = b"hello from the bench backend\n";
/// Size of the `/1m` response body.
pub const LARGE_BODY_LEN: usize = 1 << 20;
/// Longest request head accepted; a longer one closes the connection.
pub const MAX_HEAD: usize = 16 * 1024;

/// Why a request could not be served; the connection is closed.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// The head grew past [`MAX_HEAD`] without ending.
    TooLarge,
    /// `Transfer-Encoding` on a request: the backend only understands `Content-Length`.
    Chunked,
    /// A `Content-Length` that is not a number.
    BadLength,
    /// The request line is not `METHOD SP TARGET SP VERSION`.
    BadRequestLine,
}

/// What the server needs to know about one parsed request head.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    /// Bytes of the head, including the final blank line.
    pub len: usize,
    /// Request body bytes that follow the head.
    pub body_len: usize,
    /// The client asked to close after this response.
    pub close: bool,
    /// The target starts with `/1m`.
    pub large: bool,
}

/// Parses the request head at the start of `buf`; `Ok(None)` when it is not complete yet.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, HeadError> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(HeadError::TooLarge)
        } else {
            Ok(None)
        };
    };
    let len = end + 4;
    let head = buf.get(..end).unwrap_or_default();
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(_method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(HeadError::BadRequestLine);
    };
    let mut close = version == b"HTTP/1.0";
    let mut body_len = 0;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let value = trim(value.get(1..).unwrap_or_default());
        if name.eq_ignore_ascii_case(b"content-length") {
            body_len = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or(HeadError::BadLength)?;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(HeadError::Chunked);
        } else if name.eq_ignore_ascii_case(b"connection") {
            if contains_token(value, b"close") {
                close = true;
            } else if contains_token(value, b"keep-alive") {
                close = false;
            }
        }
    }
    Ok(Some(Head {
        len,
        body_len,
        close,
        large: target.starts_with(b"/1m"),
    }))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    value.get(start..end).unwrap_or_default()
}

fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

/// The four responses, rendered once.
#[derive(Debug)]
pub struct Responses {
    small: Vec<u8>,
    small_close: Vec<u8>,
    large: Vec<u8>,
    large_close: Vec<u8>,
}

impl Default for Responses {
    fn default() -> Self {
        let large_body = vec![b'x'; LARGE_BODY_LEN];
        Responses {
            small: render(SMALL_BODY, false),
            small_close: render(SMALL_BODY, true),
            large: render(&large_body, false),
            large_close: render(&large_body, true),
        }
    }
}

impl Responses {
    /// The full response (head and body) for a request.
    pub fn for_head(&self, head: &Head) -> &[u8] {
        match (head.large, head.close) {
            (false, false) => &self.small,
            (false, true) => &self.small_close,
            (true, false) => &self.large,
            (true, true) => &self.large_close,
        }
    }
}

fn render(body: &[u8], close: bool) -> Vec<u8> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{connection}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Accepts connections until the listener fails, serving each on its own task.
pub async fn serve(listener: TcpListener, responses: Arc<Responses>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        // Responses are written whole; Nagle would only delay the small ones.
        let _ = stream.set_nodelay(true);
        let responses = Arc::clone(&responses);
        tokio::spawn(async move {
            let _ = serve_connection(stream, &responses).await;
        });
    }
}

/// Serves one connection until the client closes it, asks to close, or sends something the
/// backend does not handle. Requests may be pipelined.
pub async fn serve_connection(mut stream: TcpStream, responses: &Responses) -> std::io::Result<()> {
    let mut buf = vec![0u8; MAX_HEAD * 2];
    let mut filled = 0;
    // Body bytes of the current request still to be read and dropped.
    let mut skip = 0usize;
    loop {
        let n = stream.read(buf.get_mut(filled..).unwrap_or_default()).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let mut start = 0;
        loop {
            if skip > 0 {
                let take = skip.min(filled - start);
                skip -= take;
                start += take;
                if skip > 0 {
                    break;
                }
            }
            let head = match parse_head(buf.get(start..filled).unwrap_or_default()) {
                Ok(Some(head)) => head,
                Ok(None) => break,
                Err(_) => return Ok(()),
            };
            start += head.len;
            skip = head.body_len;
            stream.write_all(responses.for_head(&head)).await?;
            if head.close {
                return Ok(());
            }
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
    }
}

#[cfg(test)]
mod tests;
