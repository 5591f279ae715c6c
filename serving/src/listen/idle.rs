//! A connection's requests in flight, and how long it has had none: what `--idle-timeout`
//! closes (with HTTP/2's GOAWAY, or after the last HTTP/1.1 answer). A request counts from its
//! head's arrival until its response body is finished or dropped, so a long answer (a
//! grpc.health.v1 `Watch` stream) keeps its connection open however long it lasts.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::Notify;

#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    /// When the last request ended (or the connection opened).
    idle_since: Mutex<Instant>,
    changed: Notify,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            changed: Notify::new(),
        })
    }

    /// A request began; it ends when the returned guard drops. No one is woken: a waiter
    /// finds it in flight when its deadline comes, and waits for its end then.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn since(&self) -> Instant {
        // a poisoned lock only means a panic elsewhere held it; the instant is still valid
        *self
            .idle_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Resolves once the connection has had no request in flight for `limit`.
    pub async fn idle_for(&self, limit: Duration) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // registered before the check, so a change between the two is not missed
            changed.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) > 0 {
                changed.await;
                continue;
            }
            let deadline = self.since() + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline.into()) => {}
                () = changed => {}
            }
        }
    }
}

/// One request in flight on its connection.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        // the end of any request, written before the count drops: whoever then sees none in
        // flight reads when the last one ended, never an instant from before a busy spell
        *a.idle_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        a.in_flight.fetch_sub(1, Ordering::SeqCst);
        a.changed.notify_waiters();
    }
}

/// A response body that holds its request's [`InFlight`] until it is finished or dropped.
pub fn hold(body: Body, guard: InFlight) -> Body {
    Body::new(Held {
        inner: body,
        guard: Some(guard),
    })
}

struct Held {
    inner: Body,
    guard: Option<InFlight>,
}

impl HttpBody for Held {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.guard = None;
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
