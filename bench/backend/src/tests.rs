use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn a_complete_head_is_parsed_and_an_incomplete_one_waits() {
    let req = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET";
    let head = parse_head(req).unwrap().unwrap();
    assert_eq!(
        head,
        Head {
            len: req.len() - 3,
            body_len: 0,
            close: false,
            large: false
        }
    );
    assert_eq!(parse_head(b"GET /x HTTP/1.1\r\nHost: a\r\n").unwrap(), None);
}

#[test]
fn connection_close_length_and_the_large_path_are_recognised() {
    let head = parse_head(b"POST /1m/x HTTP/1.1\r\ncontent-length: 5\r\nConnection: Close\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(head.large && head.close);
    assert_eq!(head.body_len, 5);
    let http10 = parse_head(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
    assert!(http10.close);
    let http10_keep = parse_head(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(!http10_keep.close);
}

#[test]
fn what_the_backend_does_not_handle_is_refused() {
    assert_eq!(
        parse_head(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Err(HeadError::Chunked)
    );
    assert_eq!(
        parse_head(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
        Err(HeadError::BadLength)
    );
    assert_eq!(parse_head(b"GARBAGE\r\n\r\n"), Err(HeadError::BadRequestLine));
    assert_eq!(parse_head(&vec![b'a'; MAX_HEAD + 1]), Err(HeadError::TooLarge));
}

#[test]
fn responses_carry_their_length_and_close_marker() {
    let responses = Responses::default();
    let head = |large, close| Head {
        len: 0,
        body_len: 0,
        close,
        large,
    };
    let small = String::from_utf8(responses.for_head(&head(false, false)).to_vec()).unwrap();
    assert!(small.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(small.contains(&format!("Content-Length: {}\r\n", SMALL_BODY.len())));
    assert!(small.ends_with(std::str::from_utf8(SMALL_BODY).unwrap()));
    assert!(!small.contains("Connection: close"));
    let large_close = responses.for_head(&head(true, true));
    assert!(large_close.len() > LARGE_BODY_LEN);
    assert!(String::from_utf8_lossy(&large_close[..200]).contains("Connection: close"));
}

/// Pipelined keep-alive requests with bodies all get answered, in order, and `Connection: close`
/// ends the connection after its response.
#[tokio::test]
async fn serves_pipelined_requests_and_closes_when_asked() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(serve(listener, Arc::new(Responses::default())));
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
              GET /1m HTTP/1.1\r\nHost: a\r\n\r\n\
              GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), client.read_to_end(&mut got));
    read.await
        .expect("the backend closes after the last response")
        .unwrap();
    let text = String::from_utf8_lossy(&got);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3);
    assert!(got.len() > LARGE_BODY_LEN + 2 * SMALL_BODY.len());
    assert!(text.ends_with(std::str::from_utf8(SMALL_BODY).unwrap()));
    server.abort();
}
