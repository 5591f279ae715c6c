//! The accept loop: each connection served by hyper (HTTP/1.1, or HTTP/2 by its preface)
//! with the limits a server facing unknown clients needs: a request's header must arrive
//! within `header_read_timeout` (a client that sends half a request and stops is cut off
//! instead of holding a connection forever), and at most `max_connections` are open (the
//! ones past it are closed at once, counted, instead of exhausting descriptors). A closed
//! connection lingers: what the client still sends is read and dropped for a moment before
//! the socket closes, so a client that writes its whole body before reading (a 413 sent
//! early) gets the answer instead of a reset. On shutdown it stops accepting and lets
//! every open connection finish its requests.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::metrics::Metrics;

/// What the loop enforces per connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the open
/// connections to finish their requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // out of descriptors and the like: wait a moment rather than spin
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "closing a connection past max_connections");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // a second descriptor of the socket: it stays open after hyper drops its stream
        let lingering = std::os::fd::AsFd::as_fd(&stream).try_clone_to_owned().ok();
        let service = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        let metrics = metrics.clone();
        metrics.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let mut timed_out = false;
            if let Err(e) = conn.await {
                timed_out = e
                    .downcast_ref::<hyper::Error>()
                    .is_some_and(|h| h.is_timeout());
                if timed_out {
                    metrics.header_timeouts.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, "closed: no whole request header in time");
                } else {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            }
            // a connection closed for its timeout (idle, or a header that never came) has
            // nothing of ours to deliver: reading on would only swallow a request the client
            // sends just as it closes
            if let Some(fd) = lingering.filter(|_| !timed_out) {
                linger(fd).await;
            }
            metrics.connections.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// How long, and how much, a closed connection reads and drops before it closes.
const LINGER_FOR: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 << 20;

/// Reads and drops what the client still sends (until it closes, `LINGER_FOR` or
/// `LINGER_BYTES`), then closes: closing a socket with unread data would reset it, and
/// the reset can destroy the answer before the client reads it.
async fn linger(fd: std::os::fd::OwnedFd) {
    let std = std::net::TcpStream::from(fd);
    let Ok(mut s) = std
        .set_nonblocking(true)
        .and_then(|()| TcpStream::from_std(std))
    else {
        return;
    };
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
