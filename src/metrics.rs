//! Metric math as pure functions (the `tractor-metrics` crate): counter rates with
//! resets, and histogram quantiles from bucket deltas with Prometheus's semantics.
pub use tractor_metrics::{histogram, rate};
