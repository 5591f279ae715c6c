//! The accept loop: each connection served by hyper (HTTP/1.1, or HTTP/2 by its preface)
//! with the limits a server facing unknown clients needs: a request's header must arrive
//! within `header_read_timeout` (a client that sends nothing, or half a request, and stops
//! is cut off instead of holding a connection forever), and at most `max_connections` are open (the
//! ones past it are closed at once, counted, instead of exhausting descriptors); one with no
//! request in flight for `idle_timeout` is closed gracefully (`idle`). A closed
//! connection lingers: what the client still sends is read and dropped for a moment before
//! the socket closes, so a client that writes its whole body before reading (a 413 sent
//! early) gets the answer instead of a reset. On shutdown it stops accepting, shuts every
//! open connection down gracefully and waits for them to finish their requests.
use std::future::Future;
use std::io::ErrorKind;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::metrics::Metrics;

mod idle;

/// New connections the kernel holds for `accept` (at most `net.core.somaxconn`). tokio's
/// `bind` asks for 128: a burst of more connections at once (clients reconnecting after a
/// rollout, a load generator's after a stall) overflows that, and each SYN the kernel drops
/// is sent again only a second later, a second added to that client's first request.
pub const BACKLOG: u32 = 4096;

/// A listener on `addr` with [`BACKLOG`] (and the address reusable, as tokio's `bind` has it).
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// What the loop enforces per connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed (GOAWAY on HTTP/2).
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// The connection slots of `limits.max_connections`, to share between listeners.
pub fn slots(limits: &Limits) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(limits.max_connections.max(1)))
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the open
/// connections to finish their requests (the caller bounds that wait). Each connection takes
/// one of `slots` (shared with the other listeners) for as long as it is open.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let mut tasks = tokio::task::JoinSet::new();
    let (stopping, _) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // that one connection's trouble, not the listener's
                Err(e) if matches!(
                    e.kind(),
                    ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
                ) => continue,
                Err(e) => {
                    // out of descriptors and the like: wait rather than spin
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
            // reap the connections that ended (their results are nothing)
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "closing a connection past max_connections");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (builder, app, metrics) = (builder.clone(), app.clone(), metrics.clone());
        let mut stopping = stopping.subscribe();
        metrics.connections.fetch_add(1, Ordering::Relaxed);
        tasks.spawn(async move {
            // a client that sends nothing (or half of HTTP/2's preface) is cut off like one
            // that sends half a header: hyper's own timer starts only once it knows which
            let known = tokio::select! {
                k = tokio::time::timeout(limits.header_read_timeout, protocol_known(&stream)) => k,
                _ = stopping.wait_for(|s| *s) => Ok(false),
            };
            let mut timed_out = known.is_err();
            if known == Ok(true) {
                let back = Arc::new(Mutex::new(None));
                let io = Handback {
                    stream: Some(stream),
                    back: back.clone(),
                };
                let activity = idle::Activity::new();
                let service = counted(app, activity.clone());
                let mut conn = Box::pin(builder.serve_connection(TokioIo::new(io), service));
                let mut closing = false;
                let ended = loop {
                    tokio::select! {
                        r = conn.as_mut() => break r,
                        _ = stopping.wait_for(|s| *s), if !closing => {
                            conn.as_mut().graceful_shutdown();
                            closing = true;
                        }
                        () = activity.idle_for(limits.idle_timeout), if !closing => {
                            conn.as_mut().graceful_shutdown();
                            closing = true;
                            // counted now: an HTTP/2 connection ends only when its
                            // streams in flight do
                            metrics.idle_closed.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(%peer, "closing: no request for the idle timeout");
                        }
                    }
                };
                // dropping hyper's connection hands the socket back (to linger)
                drop(conn);
                if let Err(e) = ended {
                    timed_out = e
                        .downcast_ref::<hyper::Error>()
                        .is_some_and(|h| h.is_timeout());
                    if !timed_out {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                let stream = back.lock().ok().and_then(|mut b| b.take());
                // a connection cut off for a header that never came has nothing of ours to
                // deliver: reading on would only swallow a request the client sends just as
                // it closes. One closed for idleness lingers: a request whose head came just
                // as it closed may have been answered before its body was read.
                if let Some(s) = stream.filter(|_| !timed_out) {
                    linger(s).await;
                }
            }
            if timed_out {
                metrics.header_timeouts.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "closed: no whole request header in time");
            }
            metrics.connections.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    while tasks.join_next().await.is_some() {}
}

/// `app` with each request counted in flight on its connection's `activity` until its
/// response body is done.
fn counted(
    app: axum::Router,
    activity: Arc<idle::Activity>,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = hyper::Response<axum::body::Body>,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<hyper::Response<axum::body::Body>, std::convert::Infallible>>
             + Send,
> + Clone {
    let inner = TowerToHyperService::new(app);
    hyper::service::service_fn(move |req| {
        let guard = activity.begin();
        let answer = hyper::service::Service::call(&inner, req);
        async move { answer.await.map(|resp| resp.map(|b| idle::hold(b, guard))) }
    })
}

/// Whether the client's first bytes say which protocol it speaks (anything but the start
/// of HTTP/2's preface, or all of it); false when it closed first.
async fn protocol_known(s: &TcpStream) -> bool {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let mut buf = [0u8; 24];
    loop {
        match s.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) if n == PREFACE.len() || !PREFACE.starts_with(&buf[..n]) => return true,
            // part of the preface: wait for the rest (peek would see the same bytes at once)
            Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// The connection's socket for hyper, handed back when hyper drops it (instead of closed),
/// so that the connection can linger.
struct Handback {
    stream: Option<TcpStream>,
    back: Arc<Mutex<Option<TcpStream>>>,
}

impl Handback {
    fn io(&mut self) -> std::io::Result<Pin<&mut TcpStream>> {
        match self.stream.as_mut() {
            Some(s) => Ok(Pin::new(s)),
            None => Err(ErrorKind::NotConnected.into()),
        }
    }
}

impl Drop for Handback {
    fn drop(&mut self) {
        if let (Some(s), Ok(mut back)) = (self.stream.take(), self.back.lock()) {
            *back = Some(s);
        }
    }
}

impl AsyncRead for Handback {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut().io() {
            Ok(s) => s.poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for Handback {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut().io() {
            Ok(s) => s.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut().io() {
            Ok(s) => s.poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().io() {
            Ok(s) => s.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().io() {
            Ok(s) => s.poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// How long, and how much, a closed connection reads and drops before it closes.
const LINGER_FOR: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 << 20;

/// Ends the server's side (FIN, if hyper did not), then reads and drops what the client
/// still sends (until it closes, `LINGER_FOR` or `LINGER_BYTES`), then closes: closing a
/// socket with unread data would reset it, and the reset can destroy the answer before the
/// client reads it.
async fn linger(mut s: TcpStream) {
    let _ = s.shutdown().await;
    let mut buf = vec![0u8; 64 << 10];
    let mut dropped = 0;
    let _ = tokio::time::timeout(LINGER_FOR, async {
        while dropped < LINGER_BYTES {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => dropped += n,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// How many of `n` connections to `addr` complete their handshake within `wait`, nothing
    /// accepting them.
    async fn handshakes(addr: std::net::SocketAddr, n: usize, wait: Duration) -> usize {
        let tries =
            (0..n).map(|_| tokio::time::timeout(wait, tokio::net::TcpStream::connect(addr)));
        let done = futures_util::future::join_all(tries).await;
        done.into_iter().filter(|c| matches!(c, Ok(Ok(_)))).count()
    }

    #[tokio::test]
    async fn a_burst_of_connections_waits_for_accept_instead_of_being_dropped() {
        let any = "127.0.0.1:0".parse().unwrap();
        let ours = super::bind(any).unwrap();
        let n = 600;
        // none is accepted: each waits in the queue, none for a SYN sent again
        assert_eq!(
            handshakes(ours.local_addr().unwrap(), n, Duration::from_millis(500)).await,
            n
        );
        // tokio's own bind queues 128: the rest wait a second for their SYN to go again
        let default = tokio::net::TcpListener::bind(any).await.unwrap();
        let queued = handshakes(default.local_addr().unwrap(), n, Duration::from_millis(500)).await;
        assert!(queued < n, "{queued} of {n}");
    }
}
