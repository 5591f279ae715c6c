//! The Open Inference Protocol over gRPC (KServe v2's `inference.GRPCInferenceService`) and
//! `grpc.health.v1`, on their own port, over the same state as REST.
//!
//! The messages come from `crates/proto/proto/inference.proto`, compiled by crates/proto's `build.rs` with a
//! protobuf compiler written in Rust (no `protoc` needed). The services become an axum
//! router, so the gRPC port is served by the same accept loop as REST (`listen`): the same
//! header timeout, connection cap and drain.

pub mod convert;
mod service;
pub mod status;

/// The generated messages, service trait, server and client (crates/proto).
pub use tractor_proto as pb;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use tonic::service::Routes;
use tonic_health::server::HealthReporter;

use crate::metrics::Metrics;
use crate::state::AppState;
use pb::grpc_inference_service_server::GrpcInferenceServiceServer;

pub use tractor_proto::SERVICE_NAME;

/// The gRPC services as a router, and the health reporter whose status follows readiness.
pub fn app(state: AppState) -> (axum::Router, HealthReporter) {
    let max_message = state.inner.max_body;
    let metrics = state.inner.metrics.clone();
    let inference = GrpcInferenceServiceServer::new(service::Inference { state })
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(usize::MAX);
    let (reporter, health) = tonic_health::server::health_reporter();
    let router = Routes::new(inference)
        .add_service(health)
        .into_axum_router()
        .layer(middleware::from_fn_with_state(
            (metrics, max_message),
            too_large,
        ));
    (router, reporter)
}

/// tonic refuses a message over `max_decoding_message_size` before any method runs, with
/// OutOfRange and words of its own. Say it as REST does (413's message) with the code gRPC's
/// other servers use, ResourceExhausted, and count the call. None of our methods answers
/// OutOfRange, so that code in a trailers-only answer can only be this refusal.
async fn too_large(
    State((metrics, limit)): State<(Arc<Metrics>, usize)>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    // every call passes here: no allocation unless it is the refusal
    let uri = req.uri().clone();
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let out_of_range = HeaderValue::from(tonic::Code::OutOfRange as i32);
    if h.get("grpc-status") == Some(&out_of_range) {
        let method = uri.path().rsplit('/').next().unwrap_or_default();
        let code = tonic::Code::ResourceExhausted;
        h.insert("grpc-status", HeaderValue::from((code as i32) as u32));
        let words = format!("request body is over the {limit}-byte limit");
        if let Ok(v) = HeaderValue::from_str(&words) {
            h.insert("grpc-message", v);
        }
        metrics.observe_grpc(
            method,
            status::code_name(code),
            start.elapsed().as_secs_f64(),
        );
    }
    resp
}

/// End every `grpc.health.v1` Watch stream (after NOT_SERVING was sent on it): an open stream
/// would hold its connection, and so the drain, until the drain deadline. `Check` then answers
/// NOT_FOUND, on connections that are closing anyway.
pub async fn end_health_watches(reporter: &HealthReporter) {
    let mut reporter = reporter.clone();
    for service in ["", SERVICE_NAME] {
        reporter.clear_service_status(service).await;
    }
}

/// Tell `grpc.health.v1` clients whether the server takes work (the same as readiness).
pub async fn set_health(reporter: &HealthReporter, serving: bool) {
    use tonic_health::ServingStatus;
    let status = if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    for service in ["", SERVICE_NAME] {
        reporter.set_service_status(service, status).await;
    }
}
