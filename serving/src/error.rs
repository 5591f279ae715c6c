//! One error type for every HTTP failure, answered as `{"error": "..."}` (the Open Inference
//! Protocol's error shape) with a status that says whose fault it was.
//!
//! The shape of axum's error-handling example: handlers return `Result<_, ApiError>` and use
//! `?`; the typed errors of the layers below (the queue's [`Refusal`], a job's [`InferError`],
//! input data's [`TensorError`])
//! become an `ApiError` through `From`, which is the one place their status is chosen; the one
//! `IntoResponse` below writes every error response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::batcher::{InferError, Refusal};
use crate::dtype::TensorError;
use crate::model::ShapeRefused;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after_secs: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after_secs: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn overloaded(message: impl Into<String>) -> Self {
        ApiError {
            retry_after_secs: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

/// A path segment axum could not decode (not UTF-8 once percent-decoded): its status and
/// words, in the JSON error shape every other error has.
impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        ApiError::new(r.status(), r.body_text())
    }
}

/// Refused at the queue: the server is busy or stopping, so 503 and a hint to retry.
impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        ApiError::overloaded(r.to_string())
    }
}

/// Data that does not fit its datatype or shape: the client's mistake (400).
impl From<TensorError> for ApiError {
    fn from(e: TensorError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

/// Accepted but unanswered: 504 when the time budget ran out, else the server's fault (500).
impl From<InferError> for ApiError {
    fn from(e: InferError) -> Self {
        match e {
            InferError::Timeout(_) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, e.to_string()),
            // no plan for the request's input shapes (a model served per shape): its fault
            InferError::Run(ref t) if t.downcast_ref::<ShapeRefused>().is_some() => {
                ApiError::bad_request(
                    t.downcast_ref::<ShapeRefused>()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                )
            }
            InferError::Assemble(_)
            | InferError::Run(_)
            | InferError::Panicked
            | InferError::Split(_)
            | InferError::WorkerGone => ApiError::internal(e.to_string()),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_refused_input_shape_is_the_clients_fault_and_other_run_errors_the_servers() {
        let refused = ShapeRefused {
            shapes: vec![vec![1, 3, 1, 1]],
            reason: "kernel larger than the input".into(),
        };
        let e = ApiError::from(InferError::Run(Arc::new(refused.into())));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(
            e.message
                .contains("cannot run on input shapes [[1, 3, 1, 1]]: kernel larger"),
            "{}",
            e.message
        );
        let other = tract_onnx::prelude::TractError::msg("out of memory");
        let e = ApiError::from(InferError::Run(Arc::new(other)));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
