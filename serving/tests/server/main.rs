//! tractor-serve's tests in one test crate (one link of tract, axum and hyper instead of
//! one per file): the model layer, the HTTP API in process, the real binary's lifecycle,
//! outputs against onnxruntime's, a standard Open Inference Protocol client, and the
//! deployment files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test crate: a failed unwrap is a failed test
#[path = "../common/mod.rs"]
mod common;

mod deploy_files;
mod free_shapes;
mod grpc_api;
mod http_api;
mod lifecycle;
mod model;
mod openapi_conformance;
mod reference;
mod slow_clients;
mod standard_client;
