//! HTTP/1.1 over plain TCP without a second task: the request's bytes are built once per
//! target and written whole per send, and the answer's head is parsed in place (httparse)
//! and its body skipped by its framing (a length, chunks, or the connection's end), all in
//! the task that sends. hyper's client runs each connection in a task of its own and hands
//! every request and answer across a channel: two task wake-ups and a few allocations per
//! exchange, which is the generator's CPU and its tail. TLS and HTTP/2 keep hyper.
use bytes::{Buf, Bytes, BytesMut};
use http::Method;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

/// An answer's head longer than this is refused.
const MAX_HEAD: usize = 64 * 1024;
/// Headers an answer may have (hyper's default too).
const MAX_HEADERS: usize = 100;
/// What is read at once.
const READ: usize = 16 * 1024;

/// Why an exchange on a connection failed; the connection is then dropped.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("writing the request: {0}")]
    Write(#[source] std::io::Error),
    #[error("reading the answer: {0}")]
    Read(#[source] std::io::Error),
    #[error("the server closed the connection before answering")]
    ClosedBeforeAnswer,
    #[error("the server closed the connection in the middle of an answer")]
    ClosedMidAnswer,
    #[error("the answer's head is not HTTP/1.x: {0}")]
    Head(#[source] httparse::Error),
    #[error("the answer's head is longer than {MAX_HEAD} bytes")]
    HeadTooLong,
    #[error("the answer's content-length is not one number")]
    Length,
    #[error("a chunk of the answer has no valid size line")]
    Chunk,
}

/// The request every send to one target writes: request line, `host`, `content-type` when
/// given, `content-length` when there is a body (or the method usually has one), the body.
pub fn request_bytes(
    method: &Method,
    path: &str,
    authority: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Bytes {
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(authority.as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(ct) = content_type {
        out.extend_from_slice(b"content-type: ");
        out.extend_from_slice(ct.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let bodiless = matches!(
        *method,
        Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS | Method::TRACE
    );
    if !body.is_empty() || !bodiless {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Bytes::from(out)
}

/// How an answer's body ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Read until the server closes (no length, not chunked).
    Close,
}

/// What the head said: the status, the body's framing, whether the connection may stay
/// open after it (when the body's end is not the connection's).
#[derive(Debug, PartialEq)]
struct Head {
    status: u16,
    framing: Framing,
    persistent: bool,
}

/// An open connection and what was read from it past the last answer (nothing, as long as
/// the server answers one request at a time).
pub struct Wire {
    tcp: TcpStream,
    buf: BytesMut,
    /// Whether the kernel stamps what this connection receives (see [`super::arrival`]).
    stamped: bool,
    /// When the last bytes read reached this machine, by the kernel's stamp (none without
    /// one); after an exchange, when its answer had come whole.
    arrived: Option<Instant>,
}

impl Wire {
    pub fn new(tcp: TcpStream) -> Wire {
        let stamped = super::arrival::enable(&tcp);
        Wire {
            tcp,
            buf: BytesMut::with_capacity(READ),
            stamped,
            arrived: None,
        }
    }

    /// When the last exchange's answer had come whole: the kernel's receive stamp of its
    /// last bytes (none where the kernel gave none).
    pub fn arrived(&self) -> Option<Instant> {
        self.arrived
    }

    /// Writes `request`, reads the whole answer; its status, and whether the connection
    /// can carry the next request (false: drop it). `head_request`: the request was HEAD,
    /// so the answer has no body whatever its head says.
    pub async fn exchange(
        &mut self,
        request: &[u8],
        head_request: bool,
    ) -> Result<(u16, bool), WireError> {
        // with nothing kept, this only moves the buffer's start back: no copy, no allocation
        self.buf.clear();
        self.buf.reserve(READ);
        self.arrived = None;
        self.tcp
            .write_all(request)
            .await
            .map_err(WireError::Write)?;
        let head = loop {
            let head = self.head().await?;
            // an interim answer (100 Continue, 103 Early Hints): the final one follows
            if (100..200).contains(&head.status) && head.status != 101 {
                continue;
            }
            break head;
        };
        let framing = if head_request || head.status == 101 {
            Framing::None
        } else {
            head.framing
        };
        match framing {
            Framing::None => {}
            Framing::Length(n) => self.skip(n).await?,
            Framing::Chunked => self.chunks().await?,
            Framing::Close => {
                while self.fill().await? > 0 {
                    self.buf.clear();
                }
                return Ok((head.status, false));
            }
        }
        // bytes beyond the answer were not asked for: the connection is out of step
        let reuse = head.persistent && head.status != 101 && self.buf.is_empty();
        Ok((head.status, reuse))
    }

    /// Did the server close this idle connection, or send on it unasked (a 408 before
    /// closing)? Then it cannot carry the next request, and a new one is made instead of
    /// counting a failure. Costs no system call while the runtime knows of nothing to read.
    pub fn stale(&self) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if self.tcp.poll_read_ready(&mut cx).is_pending() {
            return false;
        }
        let mut one = [0u8; 1];
        !matches!(self.tcp.try_read(&mut one), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// Reads more into the buffer; 0 at the connection's end.
    async fn fill(&mut self) -> Result<usize, WireError> {
        if self.buf.capacity() - self.buf.len() < READ / 4 {
            self.buf.reserve(READ);
        }
        if !self.stamped {
            return self
                .tcp
                .read_buf(&mut self.buf)
                .await
                .map_err(WireError::Read);
        }
        let Wire { tcp, buf, .. } = self;
        let (n, at) = loop {
            tcp.readable().await.map_err(WireError::Read)?;
            // a socket that stays readable (a long body from a fast server) would never
            // let the lane's other tasks run, nor a timeout fire: take from the task's
            // budget as tokio's own reads do
            tokio::task::coop::consume_budget().await;
            let room = buf.capacity() - buf.len();
            let mut drained = None;
            let read = tcp.try_io(Interest::READABLE, || {
                let (n, at) = super::arrival::recv(tcp, buf)?;
                // less than the room: that was all there was. The runtime is told the
                // socket is not readable (as tokio's own reads do on a short read), so the
                // next read waits for more instead of finding nothing by a system call; what
                // comes later is a new event, and a close seen already stays readable.
                if n > 0 && n < room {
                    drained = Some((n, at));
                    return Err(std::io::ErrorKind::WouldBlock.into());
                }
                Ok((n, at))
            });
            match (read, drained) {
                (Ok(r), _) | (Err(_), Some(r)) => break r,
                (Err(e), None) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                (Err(e), None) => return Err(WireError::Read(e)),
            }
        };
        // the connection's end carries no stamp: a body read to the close ended with the
        // last bytes before it
        if n > 0 {
            self.arrived = at;
        }
        Ok(n)
    }

    /// Reads and parses one answer head, consuming it from the buffer.
    async fn head(&mut self) -> Result<Head, WireError> {
        loop {
            if !self.buf.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut resp = httparse::Response::new(&mut headers);
                if let httparse::Status::Complete(n) =
                    resp.parse(&self.buf).map_err(WireError::Head)?
                {
                    let head = head_of(&resp)?;
                    self.buf.advance(n);
                    return Ok(head);
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(WireError::HeadTooLong);
                }
            }
            let was_empty = self.buf.is_empty();
            if self.fill().await? == 0 {
                return Err(if was_empty {
                    WireError::ClosedBeforeAnswer
                } else {
                    WireError::ClosedMidAnswer
                });
            }
        }
    }

    /// Consumes `n` bytes of body, read or yet to come.
    async fn skip(&mut self, mut n: u64) -> Result<(), WireError> {
        loop {
            let here = (self.buf.len() as u64).min(n);
            self.buf.advance(here as usize);
            n -= here;
            if n == 0 {
                return Ok(());
            }
            if self.fill().await? == 0 {
                return Err(WireError::ClosedMidAnswer);
            }
        }
    }

    /// Consumes a chunked body: each size line and chunk, then the trailers.
    async fn chunks(&mut self) -> Result<(), WireError> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((n, size))) => {
                        self.buf.advance(n);
                        break size;
                    }
                    Ok(httparse::Status::Partial) if self.buf.len() <= MAX_HEAD => {
                        if self.fill().await? == 0 {
                            return Err(WireError::ClosedMidAnswer);
                        }
                    }
                    _ => return Err(WireError::Chunk),
                }
            };
            if size == 0 {
                return self.trailers().await;
            }
            self.skip(size).await?;
            self.crlf().await?;
        }
    }

    /// The CRLF that ends a chunk's data.
    async fn crlf(&mut self) -> Result<(), WireError> {
        while self.buf.len() < 2 {
            if self.fill().await? == 0 {
                return Err(WireError::ClosedMidAnswer);
            }
        }
        if &self.buf[..2] != b"\r\n" {
            return Err(WireError::Chunk);
        }
        self.buf.advance(2);
        Ok(())
    }

    /// Trailer lines after the last chunk, up to the empty line.
    async fn trailers(&mut self) -> Result<(), WireError> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                self.buf.advance(at + 2);
                if at == 0 {
                    return Ok(());
                }
                continue;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(WireError::HeadTooLong);
            }
            if self.fill().await? == 0 {
                return Err(WireError::ClosedMidAnswer);
            }
        }
    }
}

/// The status, framing and persistence an answer's head says (RFC 9112, 6.3 and 9.3).
fn head_of(resp: &httparse::Response<'_, '_>) -> Result<Head, WireError> {
    let status = resp.code.unwrap_or(0);
    let http10 = resp.version == Some(0);
    let (mut length, mut coded, mut chunked) = (None::<u64>, false, false);
    let (mut close, mut keep) = (false, false);
    for h in resp.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            // `5` or a list of the same number (`5, 5`), digits only
            for v in h.value.split(|&b| b == b',') {
                let v = v.trim_ascii();
                let n = (!v.is_empty() && v.iter().all(u8::is_ascii_digit))
                    .then(|| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
                    .flatten()
                    .ok_or(WireError::Length)?;
                if length.is_some_and(|l| l != n) {
                    return Err(WireError::Length);
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // chunked counts when it is the last coding
            coded = true;
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    // a transfer coding overrides a length; one other than chunked ends with the connection
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if coded {
        Framing::Close
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    // both framings at once, or a coding in HTTP/1.0, is faulty: close after it (RFC 9112 6.1)
    let faulty = coded && (length.is_some() || http10);
    Ok(Head {
        status,
        framing,
        persistent: !close && (!http10 || keep) && !faulty,
    })
}

#[cfg(test)]
mod tests;
