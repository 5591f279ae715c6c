//! Connections: HTTP/1.1 keep-alive (the lean client of [`super::h1`] on plain TCP, hyper's
//! on TLS or when asked) or HTTP/2 (prior knowledge) with hyper, the request every send
//! shares, and one exchange on a connection kept for the next.
use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Arc;
use std::time::Instant;

use super::h1::{Wire, request_bytes};
use super::plan::{H1Client, Plan};
use super::priority::Applied;
use crate::load::endpoint::Endpoint;
use crate::load::failure::RequestError;
use crate::load::stats::Outcome;

/// A target's request cannot be built (checked once, before anything is sent).
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("{url}: {source}")]
    Uri {
        url: String,
        source: http::uri::InvalidUri,
    },
    #[error("{url}: {source}")]
    Host {
        url: String,
        source: http::header::InvalidHeaderValue,
    },
    #[error("content type {content_type:?}: {source}")]
    ContentType {
        content_type: String,
        source: http::header::InvalidHeaderValue,
    },
}

/// An open connection, ready for the next request.
pub enum Conn {
    /// Plain TCP, the lean client.
    Lean(Wire),
    Hyper(Hyper),
}

/// A connection driven by hyper (its own task).
pub enum Hyper {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// A TCP connection to the endpoint, without Nagle's delay.
async fn tcp_connect(ep: &Endpoint) -> Result<tokio::net::TcpStream, RequestError> {
    let tcp = tokio::net::TcpStream::connect((ep.host.as_str(), ep.port))
        .await
        .map_err(RequestError::Connect)?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

async fn connect(
    ep: &Endpoint,
    h2: bool,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Hyper, RequestError> {
    let tcp = tcp_connect(ep).await?;
    match tls.filter(|_| ep.tls) {
        Some(config) => {
            let stream = tls_handshake(ep, config, tcp).await?;
            handshake(TokioIo::new(stream), h2).await
        }
        None => handshake(TokioIo::new(tcp), h2).await,
    }
}

/// The TLS handshake on a new connection, the URL's host as the server name.
pub async fn tls_handshake(
    ep: &Endpoint,
    config: &Arc<rustls::ClientConfig>,
    tcp: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, RequestError> {
    let name = rustls::pki_types::ServerName::try_from(ep.host.clone())
        .map_err(|e| RequestError::Tls(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .map_err(RequestError::Tls)
}

/// The HTTP/1.1 or HTTP/2 handshake on an open connection; its driver runs on its own.
async fn handshake<I>(io: TokioIo<I>, h2: bool) -> Result<Hyper, RequestError>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if h2 {
        let (send, conn) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(RequestError::Handshake)?;
        tokio::spawn(conn);
        Ok(Hyper::H2(send))
    } else {
        let (send, conn) = http1::handshake(io)
            .await
            .map_err(RequestError::Handshake)?;
        tokio::spawn(conn);
        Ok(Hyper::H1(send))
    }
}

/// What every request to one endpoint shares, parsed once.
pub struct Prepared {
    ep: Endpoint,
    uri: http::Uri,
    host: http::HeaderValue,
    content_type: Option<http::HeaderValue>,
    /// The whole request as the lean client writes it (plain-TCP HTTP/1.1 targets).
    lean: Option<Bytes>,
}

/// The priority a run's senders should take, in either loop: the plan's ask, `auto` judged
/// on whether every target's client dates answers by the kernel's receive stamp.
pub fn senders_priority(plan: &Plan, targets: &[Prepared]) -> Applied {
    let stamped = targets.iter().all(Prepared::is_lean);
    plan.sender_priority.wanted(&plan.targets, stamped)
}

impl Prepared {
    pub fn new(plan: &Plan, ep: &Endpoint) -> Result<Prepared, PrepareError> {
        let uri = if plan.http2 {
            let scheme = if ep.tls { "https" } else { "http" };
            let path = if plan.grpc {
                crate::load::grpc::path()
            } else {
                ep.path.clone()
            };
            format!("{scheme}://{}{path}", ep.authority)
        } else {
            ep.path.clone()
        };
        Ok(Prepared {
            ep: ep.clone(),
            uri: uri.parse().map_err(|source| PrepareError::Uri {
                url: ep.url.clone(),
                source,
            })?,
            host: http::HeaderValue::from_str(&ep.authority).map_err(|source| {
                PrepareError::Host {
                    url: ep.url.clone(),
                    source,
                }
            })?,
            content_type: match &plan.content_type {
                Some(ct) => Some(http::HeaderValue::from_str(ct).map_err(|source| {
                    PrepareError::ContentType {
                        content_type: ct.clone(),
                        source,
                    }
                })?),
                None => None,
            },
            lean: (!plan.http2 && !ep.tls && plan.http1_client == H1Client::Lean).then(|| {
                request_bytes(
                    &plan.method,
                    &ep.path,
                    &ep.authority,
                    plan.content_type.as_deref(),
                    &plan.body,
                )
            }),
        })
    }

    /// Whether the lean client carries this target's requests (and so dates its answers
    /// by the kernel's receive stamp where the kernel gives one).
    pub fn is_lean(&self) -> bool {
        self.lean.is_some()
    }

    fn request(&self, plan: &Plan) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(plan.body.clone()));
        *req.method_mut() = plan.method.clone();
        *req.uri_mut() = self.uri.clone();
        let h = req.headers_mut();
        if !plan.http2 {
            h.insert(header::HOST, self.host.clone());
        }
        if let Some(ct) = &self.content_type {
            h.insert(header::CONTENT_TYPE, ct.clone());
        }
        if plan.grpc {
            h.insert(header::TE, http::HeaderValue::from_static("trailers"));
        }
        req
    }
}

/// Sends one request on `conn` and reads the whole answer; its status (for a gRPC call, the
/// HTTP status its `grpc-status` stands for).
async fn exchange(
    conn: &mut Hyper,
    req: Request<Full<Bytes>>,
    grpc: bool,
) -> Result<u16, RequestError> {
    let resp = match conn {
        Hyper::H1(s) => {
            s.ready().await.map_err(RequestError::Closed)?;
            s.send_request(req).await
        }
        Hyper::H2(s) => {
            s.ready().await.map_err(RequestError::Closed)?;
            s.send_request(req).await
        }
    }
    .map_err(RequestError::Io)?;
    let status = resp.status().as_u16();
    // a trailers-only answer (an error) carries grpc-status in its headers
    let in_headers = grpc_status(resp.headers());
    let answer = resp.into_body().collect().await.map_err(RequestError::Io)?;
    if !grpc || status != 200 {
        return Ok(status);
    }
    let code = answer.trailers().and_then(grpc_status).or(in_headers);
    // a 200 without a grpc-status broke the protocol: gRPC calls that Unknown (2)
    Ok(crate::load::grpc::http_status_of(code.unwrap_or(2)))
}

fn grpc_status(h: &http::HeaderMap) -> Option<u32> {
    h.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// What came back for one request: its status, and when the answer had come whole where
/// the client can tell (the lean client: the kernel's receive stamp), so the generator's
/// delay in reading it is not counted as the server's.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: u16,
    pub arrived: Option<Instant>,
}

/// A connection to a lean (plain HTTP/1.1) target opened ahead of its first request; `None`
/// for the other targets, which connect on first use.
pub async fn open_lean(t: &Prepared) -> Option<Result<Conn, RequestError>> {
    t.lean.as_ref()?;
    Some(
        tcp_connect(&t.ep)
            .await
            .map(|tcp| Conn::Lean(Wire::new(tcp))),
    )
}

/// One request on the connection in `slot` (a new one if empty), without a timeout. The
/// connection stays in the slot unless it failed.
pub async fn attempt(
    plan: &Plan,
    t: &Prepared,
    slot: &mut Option<Conn>,
) -> Result<Answer, RequestError> {
    if let Some(bytes) = &t.lean {
        let mut wire = match slot.take() {
            // one the server closed while idle is replaced, not counted as a failure
            Some(Conn::Lean(w)) if !w.stale() => w,
            _ => Wire::new(tcp_connect(&t.ep).await?),
        };
        let (status, reuse) = wire
            .exchange(bytes, plan.method == http::Method::HEAD)
            .await
            .map_err(RequestError::Wire)?;
        let arrived = wire.arrived();
        if reuse {
            *slot = Some(Conn::Lean(wire));
        }
        return Ok(Answer { status, arrived });
    }
    let req = t.request(plan);
    let mut conn = match slot.take() {
        Some(Conn::Hyper(c)) => c,
        _ => connect(&t.ep, plan.http2, plan.tls.as_ref()).await?,
    };
    let status = exchange(&mut conn, req, plan.grpc).await?;
    *slot = Some(Conn::Hyper(conn));
    Ok(Answer {
        status,
        arrived: None,
    })
}

/// [`attempt`] within the plan's timeout.
pub async fn one(plan: &Plan, t: &Prepared, slot: &mut Option<Conn>) -> (Outcome, Option<Instant>) {
    let result = match tokio::time::timeout(plan.timeout, attempt(plan, t, slot)).await {
        Ok(r) => r,
        Err(_) => Err(RequestError::Timeout),
    };
    outcome(result)
}

/// The outcome counted for an attempt's result, and when its answer came (if known).
pub fn outcome(result: Result<Answer, RequestError>) -> (Outcome, Option<Instant>) {
    match result {
        Ok(a) => (Outcome::Status(a.status), a.arrived),
        Err(e) => (Outcome::Failed(e.failure()), None),
    }
}

/// When a request that began at `began` ended, read at `now`: when its answer came, if
/// known and between the two (a stamp outside them is not this answer's), else `now`; and
/// how long the answer then waited to be read, if known.
pub fn ended(
    began: Instant,
    arrived: Option<Instant>,
    now: Instant,
) -> (Instant, Option<std::time::Duration>) {
    match arrived.filter(|a| (began..=now).contains(a)) {
        Some(a) => (a, Some(now - a)),
        None => (now, None),
    }
}
