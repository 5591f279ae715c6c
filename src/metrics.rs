//! Metric math as pure functions: counter rates with resets, and histogram
//! quantiles from bucket deltas with Prometheus's semantics.
pub mod histogram;
pub mod rate;
