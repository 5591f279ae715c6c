//! Clients that hold connections without finishing a request (slowloris) are cut off after
//! --header-read-timeout while everyone else is served as usual, and --max-connections caps
//! what can be held at all; both are counted in /metrics.

use crate::common;

use std::time::{Duration, Instant};

use common::{Served, sample as counter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connection that sends half a request header and then nothing.
async fn half_a_request(base: &str) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\nx-slow: ")
        .await
        .unwrap();
    s
}

/// How long until the server ends the connection (EOF, an answer then EOF, or a reset),
/// `None` when it is still open after `limit`.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit.saturating_sub(t0.elapsed()), s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(t0.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_are_cut_off_while_others_keep_their_latency() {
    let model = common::demo(1);
    let srv = Served::start(&[
        "--model",
        model.to_str().unwrap(),
        "--header-read-timeout",
        "2s",
    ]);
    let client = reqwest::Client::new();
    let health = srv.url("/v2/health/live");
    let began = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..300 {
        slow.push(half_a_request(&srv.base).await);
    }
    // and some that send nothing at all, or only the start of HTTP/2's preface
    let addr = srv.base.trim_start_matches("http://");
    for i in 0..20 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        if i % 2 == 1 {
            s.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        }
        slow.push(s);
    }
    // while 300 connections hang on half a header, a normal client is answered at once
    let mut worst = Duration::ZERO;
    for _ in 0..50 {
        let t0 = Instant::now();
        let r = client.get(&health).send().await.unwrap();
        assert_eq!(r.status(), 200);
        worst = worst.max(t0.elapsed());
    }
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "still within the timeout"
    );
    assert!(
        worst < Duration::from_millis(500),
        "worst normal request {worst:?}"
    );
    let text = srv.metrics().await;
    assert!(
        counter(&text, "tractor_open_connections") >= 300.0,
        "{text}"
    );
    // every half-sent request is cut off after the timeout, not before
    for s in &mut slow {
        let closed = closed_within(s, Duration::from_secs(10)).await;
        assert!(closed.is_some(), "a slow connection still open 10 s later");
    }
    let took = began.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "cut off after {took:?} for a 2 s timeout"
    );
    // (srv.metrics() opens a new connection: the pooled ones idled past the timeout too)
    let text = srv.metrics().await;
    assert!(
        counter(
            &text,
            "tractor_connections_closed_total{reason=\"header_timeout\"}"
        ) >= 300.0,
        "{text}"
    );
    assert!(counter(&text, "tractor_open_connections") < 10.0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_closed_at_once_and_counted() {
    let model = common::demo(1);
    let grpc_port = common::free_port().to_string();
    let srv = Served::start(&[
        "--model",
        model.to_str().unwrap(),
        // far above the test's own waits: the held connections must still be held when
        // the 21st comes, on a machine busy with the other tests (at 5 s they were
        // sometimes cut off first, and the 21st then fitted under the cap)
        "--header-read-timeout",
        "60s",
        "--max-connections",
        "20",
        "--grpc-port",
        &grpc_port,
    ]);
    // the cap is the process's: 10 held on the REST port and 9 on the gRPC port, and a
    // client reading /metrics on REST, fill it
    let grpc = srv.grpc.clone().unwrap();
    let mut held = Vec::new();
    for i in 0..10 {
        held.push(half_a_request(&srv.base).await);
        if i < 9 {
            held.push(half_a_request(&grpc).await);
        }
    }
    // A connection made is not yet accepted: on a busy machine the server can be behind,
    // and an extra one would then still fit under the cap. The 20th connection, kept alive,
    // asks until the server holds all 20.
    let watcher = reqwest::Client::new();
    srv.wait_for_metric(
        &watcher,
        "tractor_open_connections",
        20.0,
        Duration::from_secs(10),
    )
    .await;
    // the 21st, on either port, is closed at once, long before the header timeout would
    for base in [&grpc, &srv.base] {
        let mut extra = half_a_request(base).await;
        let closed = closed_within(&mut extra, Duration::from_secs(3)).await;
        assert!(
            closed.is_some_and(|d| d < Duration::from_secs(2)),
            "{base} past the cap: {closed:?}"
        );
    }
    // freed, the server serves again and says what it refused
    drop(held);
    drop(watcher);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        if let Ok(r) = client.get(srv.url("/metrics")).send().await {
            break r.text().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the server never took connections again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        counter(
            &text,
            "tractor_connections_closed_total{reason=\"max_connections\"}"
        ) >= 1.0,
        "{text}"
    );
}

/// A client that sends its whole (too large) body before it reads, as Python's http.client
/// does, gets the 413, not a reset: the server reads and drops what is left before closing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_413_reaches_a_client_that_sends_the_whole_body_first() {
    let model = common::demo(1);
    let srv = Served::start(&[
        "--model",
        model.to_str().unwrap(),
        "--max-body-size",
        "64KiB",
    ]);
    let addr = srv.base.trim_start_matches("http://").to_string();
    for size in [200 << 10, 8 << 20] {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /v2/models/demo-classifier-v1/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let body = vec![b' '; size];
        let sent = s.write_all(&body).await;
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(
            sent.is_ok() && text.starts_with("HTTP/1.1 413"),
            "{size} bytes: sent {sent:?}, read {read:?}: {text:?}"
        );
    }
}

/// `--idle-timeout`: a connection with no request in flight is closed after it (HTTP/1.1 past
/// its last answer, HTTP/2 with a GOAWAY), counted; a streaming answer in flight (a health
/// `Watch`) keeps its connection open however long it lasts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_but_not_ones_with_an_answer_streaming() {
    use http_body_util::{BodyExt, Empty};
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    let model = common::demo(1);
    let grpc_port = common::free_port().to_string();
    let srv = Served::start(&[
        "--model",
        model.to_str().unwrap(),
        "--idle-timeout",
        "1s",
        "--header-read-timeout",
        "60s",
        "--grpc-port",
        &grpc_port,
    ]);
    let grpc = srv.grpc.clone().unwrap();

    // a health Watch stream on the gRPC port: in flight, so never idle
    let channel = tonic::transport::Channel::from_shared(grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut watch = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(watch.message().await.unwrap().is_some(), "the first status");
    let idle_closed = |text: &str| {
        counter(
            text,
            "tractor_connections_closed_total{reason=\"idle_timeout\"}",
        )
    };
    let before = idle_closed(&srv.metrics().await);

    // HTTP/1.1: one answer, then nothing; closed after about a second, not the 60 s header timeout
    let addr = srv.base.trim_start_matches("http://").to_owned();
    let mut h1 = TcpStream::connect(&addr).await.unwrap();
    h1.write_all(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = h1.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    let t0 = Instant::now();

    // HTTP/2 (prior knowledge) on the REST port: one request, then the connection idles
    let tcp = TcpStream::connect(&addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    let h2_ended = tokio::spawn(async move {
        let r = conn.await;
        (Instant::now(), r.is_ok())
    });
    let resp = send
        .send_request(
            hyper::Request::get(format!("http://{addr}/v2/health/live"))
                .body(Empty::<bytes::Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.unwrap();

    let closed = closed_within(&mut h1, Duration::from_secs(10)).await;
    assert!(
        closed.is_some_and(|d| d >= Duration::from_millis(900) && d < Duration::from_secs(8)),
        "HTTP/1.1 idle connection: {closed:?}"
    );
    let (when, clean) = tokio::time::timeout(Duration::from_secs(10), h2_ended)
        .await
        .expect("the idle HTTP/2 connection was never closed")
        .unwrap();
    assert!(clean, "closed with a GOAWAY, not a reset");
    assert!(when.duration_since(t0) < Duration::from_secs(8));

    // the Watch, open all along (more than twice the idle timeout), is still open
    assert!(t0.elapsed() > Duration::from_millis(900));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = tokio::time::timeout(Duration::from_millis(500), watch.message()).await;
    assert!(still.is_err(), "the Watch stream ended: {still:?}");

    // the HTTP/1.1 and HTTP/2 ones, not the Watch's: a connection with a stream in flight is
    // not sent a GOAWAY (which would still let the stream finish, but turn new calls away)
    let text = srv.metrics().await;
    assert_eq!(idle_closed(&text) - before, 2.0, "{text}");
}
