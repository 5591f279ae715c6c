//! The front port: one address for the local deployment, spreading requests round-robin
//! over the replicas in the ready set. The controller takes a replica out of the set
//! *before* it is told to drain, so the front never sends it new work; a replica that
//! refuses the connection anyway (it just went away) is skipped for the next one.
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Ports of the replicas that may get traffic.
pub type ReadySet = Arc<RwLock<Vec<u16>>>;

type Out = BoxBody<Bytes, hyper::Error>;

struct Shared {
    ready: ReadySet,
    next: AtomicUsize,
    client: Client<HttpConnector, Full<Bytes>>,
}

fn answer(status: StatusCode, message: &str) -> Response<Out> {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut r = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

async fn forward(sh: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Out>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                &format!("request body: {e}"),
            ));
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    let ports: Vec<u16> = sh.ready.read().map(|v| v.clone()).unwrap_or_default();
    if ports.is_empty() {
        return Ok(answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "no ready replica behind the front port",
        ));
    }
    let first = sh.next.fetch_add(1, Ordering::Relaxed);
    let mut last_error = String::new();
    for i in 0..ports.len().min(3) {
        let port = ports[(first + i) % ports.len()];
        let uri = format!("http://127.0.0.1:{port}{path}");
        let mut out = Request::new(Full::new(bytes.clone()));
        *out.method_mut() = parts.method.clone();
        *out.headers_mut() = parts.headers.clone();
        out.headers_mut().remove(http::header::HOST);
        match uri.parse() {
            Ok(u) => *out.uri_mut() = u,
            Err(e) => return Ok(answer(StatusCode::BAD_REQUEST, &format!("path: {e}"))),
        }
        match sh.client.request(out).await {
            Ok(resp) => return Ok(resp.map(|b| b.boxed())),
            // nothing reached that replica: another one may take it
            Err(e) if e.is_connect() => last_error = format!("127.0.0.1:{port}: {e}"),
            Err(e) => {
                return Ok(answer(
                    StatusCode::BAD_GATEWAY,
                    &format!("replica 127.0.0.1:{port}: {e}"),
                ));
            }
        }
    }
    Ok(answer(
        StatusCode::BAD_GATEWAY,
        &format!("no replica answered: {last_error}"),
    ))
}

/// The front port cannot listen.
#[derive(Debug, thiserror::Error)]
#[error("front port 127.0.0.1:{port}: {source}")]
pub struct FrontError {
    port: u16,
    source: std::io::Error,
}

/// Listens on 127.0.0.1:`port` (0: any free port); returns the port and the serving task.
pub async fn start(
    port: u16,
    ready: ReadySet,
) -> Result<(u16, tokio::task::JoinHandle<()>), FrontError> {
    let failed = |source| FrontError { port, source };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(failed)?;
    let port = listener.local_addr().map_err(failed)?.port();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let sh = Arc::new(Shared {
        ready,
        next: AtomicUsize::new(0),
        client: Client::builder(TokioExecutor::new()).build(connector),
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                // out of file descriptors or the like: do not spin
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let sh = sh.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| forward(sh.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Ok((port, task))
}
