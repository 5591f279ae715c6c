use std::time::Duration;

use super::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// An exchange that must end within 5 s (a framing mistake would wait for bytes that never
/// come: this fails instead of hanging).
async fn ex(w: &mut Wire, request: &[u8], head: bool) -> Result<(u16, bool), WireError> {
    tokio::time::timeout(Duration::from_secs(5), w.exchange(request, head))
        .await
        .expect("the exchange ends")
}

/// A server on 127.0.0.1 that, for each request it reads (up to the blank line, plus
/// `content-length` bytes), writes the next of `answers` in pieces of `piece` bytes, and
/// closes after the last one or after an answer marked `close_after`.
async fn serve(answers: Vec<(&'static [u8], bool)>, piece: usize) -> Wire {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let mut seen = Vec::new();
        for (answer, close_after) in answers {
            // one request: its head and body
            loop {
                if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&seen[..end]).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + len {
                        seen.drain(..end + 4 + len);
                        break;
                    }
                }
                let mut b = [0u8; 4096];
                let n = match tokio::io::AsyncReadExt::read(&mut s, &mut b).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                seen.extend_from_slice(&b[..n]);
            }
            for part in answer.chunks(piece) {
                // the client may hang up first (a head past its limit)
                if s.write_all(part).await.is_err() || s.flush().await.is_err() {
                    return;
                }
                tokio::task::yield_now().await;
            }
            if close_after {
                return;
            }
        }
    });
    Wire::new(TcpStream::connect(addr).await.unwrap())
}

const GET: &[u8] = b"GET /x HTTP/1.1\r\nhost: h\r\n\r\n";

#[tokio::test]
async fn answers_framed_every_way_are_read_whole_and_the_connection_kept_when_it_can_be() {
    // (answer, request is HEAD, status, reusable), all on one connection, in pieces
    let cases: Vec<(&'static [u8], bool, u16, bool)> = vec![
        (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", false, 200, true),
        (
            b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nbusy\r\n10\r\n0123456789abcdef\r\n0\r\ngrpc-status: 0\r\n\r\n",
            false,
            503,
            true,
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            false,
            201,
            true,
        ),
        // a 204 has no body whatever its length says
        (b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n", false, 204, true),
        // a HEAD's answer names the length of a body it does not send, or names none
        (b"HTTP/1.1 200 OK\r\ncontent-length: 999\r\n\r\n", true, 200, true),
        (b"HTTP/1.1 200 OK\r\n\r\n", true, 200, true),
        // a list of the same length
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nab", false, 200, true),
        (b"HTTP/1.1 304 Not Modified\r\n\r\n", false, 304, true),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: keep-alive, close\r\n\r\nbye",
            false,
            200,
            false,
        ),
    ];
    for piece in [1, 7, 4096] {
        let answers = cases.iter().map(|c| (c.0, false)).collect();
        let mut w = serve(answers, piece).await;
        for (i, (_, head, status, reuse)) in cases.iter().enumerate() {
            let got = ex(&mut w, GET, *head).await.unwrap();
            assert_eq!(got, (*status, *reuse), "case {i} in pieces of {piece}");
            assert!(w.buf.is_empty(), "case {i}: {:?}", w.buf);
        }
    }
}

#[tokio::test]
async fn a_body_to_the_close_and_http_1_0_do_not_keep_the_connection() {
    let mut w = serve(vec![(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", true)], 3).await;
    assert_eq!(ex(&mut w, GET, false).await.unwrap(), (200, false));
    let mut w = serve(
        vec![(b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx", false)],
        64,
    )
    .await;
    assert_eq!(ex(&mut w, GET, false).await.unwrap(), (200, false));
    let mut w = serve(
        vec![(
            b"HTTP/1.0 200 OK\r\nconnection: Keep-Alive\r\ncontent-length: 1\r\n\r\nx",
            false,
        )],
        64,
    )
    .await;
    assert_eq!(ex(&mut w, GET, false).await.unwrap(), (200, true));
}

#[tokio::test]
async fn a_coding_other_than_chunked_reads_to_the_close_and_faulty_framing_closes() {
    // gzip overrides the length: the body ends with the connection
    let mut w = serve(
        vec![(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 2\r\n\r\nabcdef",
            true,
        )],
        4,
    )
    .await;
    assert_eq!(ex(&mut w, GET, false).await.unwrap(), (200, false));
    // chunked beside a length: read as chunks, then not kept
    let mut w = serve(
        vec![(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 99\r\n\r\n1\r\na\r\n0\r\n\r\n",
            false,
        )],
        4,
    )
    .await;
    assert_eq!(ex(&mut w, GET, false).await.unwrap(), (200, false));
    let mut w = serve(
        vec![(
            b"HTTP/1.0 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nx",
            false,
        )],
        4,
    )
    .await;
    assert_eq!(ex(&mut w, GET, false).await.unwrap(), (200, false));
}

/// An answer that waits on this machine while the client's thread is busy is dated when it
/// came (the kernel's stamp), not when the thread got round to reading it.
#[tokio::test]
async fn an_answer_read_late_is_dated_when_it_came_not_when_read() {
    #[cfg(target_os = "linux")]
    let _on = super::super::arrival::tests::stamping_on().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut b = [0u8; 1024];
        let _ = std::io::Read::read(&mut s, &mut b);
        // answers 10 ms after the request, while the client's thread sleeps
        std::thread::sleep(Duration::from_millis(10));
        let _ =
            std::io::Write::write_all(&mut s, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
    let mut w = Wire::new(TcpStream::connect(addr).await.unwrap());
    let began = Instant::now();
    let (answer, read) = {
        let exchange = ex(&mut w, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", false);
        tokio::pin!(exchange);
        // the first poll writes the request and waits for the answer
        assert!(futures::poll!(&mut exchange).is_pending());
        std::thread::sleep(Duration::from_millis(400));
        (exchange.await, Instant::now())
    };
    assert_eq!(answer.unwrap(), (200, true));
    let arrived = w
        .arrived()
        .expect("an exchange that read an answer knows when it came");
    let (after_send, before_read) = (arrived - began, read - arrived);
    if cfg!(target_os = "linux") {
        assert!(
            after_send < Duration::from_millis(300) && before_read >= Duration::from_millis(100),
            "came {after_send:?} after the send, read {before_read:?} later"
        );
    } else {
        // no stamp: the read's own time
        assert!(after_send >= Duration::from_millis(400), "{after_send:?}");
    }
}

/// After an answer read whole, the runtime no longer takes the socket as readable: the
/// next request's read waits for its answer instead of finding nothing by a system call,
/// and the stale check before it asks nothing of the kernel.
#[tokio::test]
async fn an_answer_read_whole_leaves_the_socket_not_readable() {
    crate::load::engine::arrival::tests::stamping_on().await;
    let ok: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let mut w = serve(vec![(ok, false), (ok, false), (ok, false)], 64).await;
    for _ in 0..3 {
        assert_eq!(ex(&mut w, GET, false).await.unwrap(), (200, true));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(w.tcp.poll_read_ready(&mut cx).is_pending());
        assert!(!w.stale());
    }
}

/// Whether `w` is seen stale within 5 s.
async fn becomes_stale(w: &Wire) -> bool {
    tokio::time::timeout(Duration::from_secs(5), async {
        while !w.stale() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn an_idle_connection_the_server_closed_or_wrote_on_is_stale() {
    // answers once, then closes while the client is idle
    let mut w = serve(
        vec![(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", true)],
        64,
    )
    .await;
    assert_eq!(ex(&mut w, GET, false).await.unwrap(), (200, true));
    assert!(becomes_stale(&w).await, "the close is seen");
    // an answer nobody asked for (a 408 before closing), on an idle connection
    let mut w = serve(
        vec![(
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\nHTTP/1.1 408 Request Timeout\r\n\r\n",
            false,
        )],
        64,
    )
    .await;
    // the extra bytes may come with the answer (then it is not kept) or after it (stale)
    let (status, kept) = ex(&mut w, GET, false).await.unwrap();
    assert_eq!(status, 200);
    if kept {
        assert!(becomes_stale(&w).await, "the unasked bytes are seen");
    }
    // a live idle connection is not stale
    let mut w = serve(
        vec![
            (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false),
        ],
        64,
    )
    .await;
    assert_eq!(ex(&mut w, GET, false).await.unwrap(), (200, true));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!w.stale());
    assert_eq!(ex(&mut w, GET, false).await.unwrap(), (200, true));
}

#[tokio::test]
async fn broken_answers_are_errors_that_say_what_broke() {
    type Check = fn(&WireError) -> bool;
    let cases: Vec<(&'static [u8], Check)> = vec![
        (b"", |e| matches!(e, WireError::ClosedBeforeAnswer)),
        (b"HTTP/1.1 200 OK\r\ncontent-le", |e| {
            matches!(e, WireError::ClosedMidAnswer)
        }),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", |e| {
            matches!(e, WireError::ClosedMidAnswer)
        }),
        (b"SMTP ready\r\n\r\n", |e| matches!(e, WireError::Head(_))),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
            |e| matches!(e, WireError::Length),
        ),
        (b"HTTP/1.1 200 OK\r\ncontent-length: many\r\n\r\n", |e| {
            matches!(e, WireError::Length)
        }),
        (b"HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\nabcde", |e| {
            matches!(e, WireError::Length)
        }),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2, 3\r\n\r\nabc", |e| {
            matches!(e, WireError::Length)
        }),
        (b"HTTP/1.1 100 Continue\r\n\r\n", |e| {
            matches!(e, WireError::ClosedBeforeAnswer)
        }),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            |e| matches!(e, WireError::Chunk),
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n",
            |e| matches!(e, WireError::Chunk),
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab",
            |e| matches!(e, WireError::ClosedMidAnswer),
        ),
    ];
    for (i, (answer, check)) in cases.into_iter().enumerate() {
        let mut w = serve(vec![(answer, true)], 5).await;
        let e = ex(&mut w, GET, false).await.unwrap_err();
        assert!(check(&e), "case {i}: {e}");
        assert!(!e.to_string().is_empty());
    }
    // a head that never ends is cut off at its limit (and too many headers are refused)
    let long: &'static [u8] = Box::leak(
        [
            &b"HTTP/1.1 200 OK\r\n"[..],
            &b"x-pad: "[..],
            &b"0123456789".repeat(8000),
        ]
        .concat()
        .into_boxed_slice(),
    );
    let mut w = serve(vec![(long, false)], 8192).await;
    let e = ex(&mut w, GET, false).await.unwrap_err();
    assert!(matches!(e, WireError::HeadTooLong), "{e}");
    let many: &'static [u8] = Box::leak(
        [
            &b"HTTP/1.1 200 OK\r\n"[..],
            &b"x: y\r\n".repeat(101),
            b"\r\n",
        ]
        .concat()
        .into_boxed_slice(),
    );
    let mut w = serve(vec![(many, false)], 8192).await;
    let e = ex(&mut w, GET, false).await.unwrap_err();
    assert!(
        matches!(e, WireError::Head(httparse::Error::TooManyHeaders)),
        "{e}"
    );
}

#[test]
fn the_request_is_built_once_with_its_length_when_it_has_a_body() {
    let get = request_bytes(
        &Method::GET,
        "/v2/health/live?x=1",
        "127.0.0.1:8080",
        None,
        b"",
    );
    assert_eq!(
        &get[..],
        b"GET /v2/health/live?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n\r\n"
    );
    let post = request_bytes(
        &Method::POST,
        "/predict",
        "h:1",
        Some("application/json"),
        b"{}",
    );
    assert_eq!(
        &post[..],
        b"POST /predict HTTP/1.1\r\nhost: h:1\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
    );
    // an empty POST still says its length, as servers that require one expect
    let empty = request_bytes(&Method::POST, "/", "h", None, b"");
    assert!(empty.ends_with(b"content-length: 0\r\n\r\n"), "{empty:?}");
}
