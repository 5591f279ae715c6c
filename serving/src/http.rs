//! `fn app(state) -> Router`: every route, readiness, and the metrics middleware.

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::error::ApiError;
use crate::infer::{self, InFlight};
use crate::model::TensorSpec;
use crate::protocol::{openapi, predict, v2};
pub use crate::state::{AppState, Shared};

pub fn app(state: AppState) -> Router {
    let doc = Bytes::from(
        openapi::document(&openapi::Described {
            name: &state.inner.name,
            version: &state.inner.version,
            inputs: &state.inner.inputs,
            outputs: &state.inner.outputs,
            batchable: state.inner.batchable,
        })
        .to_string(),
    );
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(model_metadata_v),
        )
        .route("/v2/models/{name}/ready", get(model_ready))
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(model_ready_v),
        )
        .route("/v2/models/{name}/infer", post(infer))
        .route("/v2/models/{name}/versions/{version}/infer", post(infer_v))
        .route("/predict", post(predict_route))
        .route("/healthz", get(live))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc.clone()) }),
        )
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json") })
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

async fn record(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let start = Instant::now();
    let resp = next.run(req).await;
    st.inner.metrics.observe_request(
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

async fn server_metadata() -> Json<serde_json::Value> {
    Json(json!({
        "name": "tractor-serve",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data", "model_repository_health"],
    }))
}

async fn live() -> impl IntoResponse {
    Json(json!({ "live": true }))
}

async fn ready(State(st): State<AppState>) -> Response {
    readiness(&st)
}

fn readiness(st: &AppState) -> Response {
    let r = st.inner.ready.load(Ordering::SeqCst);
    let code = if r {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(json!({ "ready": r }))).into_response()
}

fn check_model(st: &AppState, name: &str, version: Option<&str>) -> Result<(), ApiError> {
    infer::check_model(&st.inner, name, version)
}

fn metadata(st: &AppState) -> Json<serde_json::Value> {
    let t = |s: &TensorSpec| json!({ "name": s.name, "datatype": s.dtype.kserve_name(), "shape": s.kserve_shape() });
    Json(json!({
        "name": st.inner.name,
        "versions": [st.inner.version],
        "platform": "onnx_tract",
        "inputs": st.inner.inputs.iter().map(t).collect::<Vec<_>>(),
        "outputs": st.inner.outputs.iter().map(t).collect::<Vec<_>>(),
    }))
}

async fn model_metadata(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(name) = name?;
    check_model(&st, &name, None)?;
    Ok(metadata(&st))
}

async fn model_metadata_v(
    State(st): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path((name, version)) = path?;
    check_model(&st, &name, Some(&version))?;
    Ok(metadata(&st))
}

async fn model_ready(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(name) = name?;
    check_model(&st, &name, None)?;
    Ok(readiness(&st))
}

async fn model_ready_v(
    State(st): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((name, version)) = path?;
    check_model(&st, &name, Some(&version))?;
    Ok(readiness(&st))
}

async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    let body = st.inner.metrics.render(
        st.inner.batcher.queue_depth(),
        st.inner.ready.load(Ordering::SeqCst),
        st.inner.plan_cache.as_ref().map(|p| p.stats()),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

async fn read_body(st: &AppState, body: Body, headers: &HeaderMap) -> Result<Bytes, ApiError> {
    let limit = st.inner.max_body;
    let too_big = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is over the {limit}-byte limit"),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_big());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner
            .downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            too_big()
        } else {
            ApiError::bad_request(format!("could not read the request body: {inner}"))
        }
    })
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => Ok(()),
        Some(ct)
            if ct
                .split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")) =>
        {
            Ok(())
        }
        Some(ct) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "content type {ct:?} is not accepted: send application/json (or use the binary extension's Inference-Header-Content-Length)"
            ),
        )),
    }
}

/// Enqueue and wait for the answer, bounded by the request timeout.
async fn run_job(
    st: &AppState,
    inputs: Vec<tract_onnx::prelude::Tensor>,
    rows: usize,
    arrived: Instant,
) -> Result<Vec<tract_onnx::prelude::Tensor>, ApiError> {
    infer::run_job(&st.inner, inputs, rows, arrived, st.inner.request_timeout).await
}

async fn infer(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let Path(name) = name?;
    do_infer(st, name, None, req).await
}

async fn infer_v(
    State(st): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let Path((name, version)) = path?;
    do_infer(st, name, Some(version), req).await
}

async fn do_infer(
    st: AppState,
    name: String,
    version: Option<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let _guard = InFlight::new(&st.inner.metrics);
    check_model(&st, &name, version.as_deref())?;
    let (parts, body) = req.into_parts();
    let header_len = parts
        .headers
        .get(v2::HEADER_LEN)
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    if header_len.is_none() {
        require_json(&parts.headers)?;
    }
    let body = read_body(&st, body, &parts.headers).await?;
    let (head, binary) = v2::split_body(&body, header_len.as_deref())?;
    let request: v2::InferRequest = serde_json::from_slice(head)
        .map_err(|e| ApiError::bad_request(format!("invalid inference request JSON: {e}")))?;
    let inner = &st.inner;
    let prepared = v2::prepare(
        request,
        binary,
        &inner.inputs,
        &inner.outputs,
        inner.batchable,
    )?;
    let outputs = run_job(&st, prepared.inputs, prepared.rows, arrived).await?;
    let (bin_len, body) = v2::respond(
        &inner.name,
        &inner.version,
        prepared.id,
        &prepared.outputs,
        &inner.outputs,
        &outputs,
    )?;
    let mut resp = Response::new(Body::from(body));
    let h = resp.headers_mut();
    match bin_len {
        Some(n) => {
            h.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(v2::HEADER_LEN, header::HeaderValue::from(n));
        }
        None => {
            h.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
        }
    }
    Ok(resp)
}

async fn predict_route(State(st): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let _guard = InFlight::new(&st.inner.metrics);
    let inner = &st.inner;
    if inner.inputs.len() != 1 {
        return Err(ApiError::bad_request(format!(
            "/predict serves single-input models; this one has {} inputs: use /v2/models/{}/infer",
            inner.inputs.len(),
            inner.name
        )));
    }
    let (parts, body) = req.into_parts();
    require_json(&parts.headers)?;
    let body = read_body(&st, body, &parts.headers).await?;
    let (tensor, rows) = predict::prepare(&body, &inner.inputs[0], inner.batchable)?;
    let outputs = run_job(&st, vec![tensor], rows, arrived).await?;
    let first = outputs
        .first()
        .ok_or_else(|| ApiError::internal("the model returned no output"))?;
    let body = predict::respond(first)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
