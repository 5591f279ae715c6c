//! The Open Inference Protocol's gRPC messages (package `inference`), generated at build time
//! from `proto/inference.proto`. With the `grpc` feature, also
//! `grpc_inference_service_server` (the trait tractor-serve implements) and
//! `grpc_inference_service_client`.

#![allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used
)]

include!(concat!(env!("OUT_DIR"), "/inference.rs"));

/// The service's full name (`grpc.health.v1` clients ask for it by this name).
pub const SERVICE_NAME: &str = "inference.GRPCInferenceService";

/// The path of a method of the service, as it travels in HTTP/2's `:path`.
pub fn method_path(method: &str) -> String {
    format!("/{SERVICE_NAME}/{method}")
}
