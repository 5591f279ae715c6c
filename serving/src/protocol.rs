//! Wire formats: the Open Inference Protocol (v2), the pipeline's /predict, and their OpenAPI document.

pub mod fastarray;
pub mod json;
pub mod openapi;
pub mod predict;
pub mod v2;
