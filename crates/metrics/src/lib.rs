//! Metric math as pure functions: tractor-serve's Prometheus text into the few numbers
//! the console shows (`parse`), counter rates with resets (`rate`), and histogram
//! quantiles from bucket deltas with Prometheus's semantics (`histogram`). Its own crate
//! so that the fuzz target (fuzz/) builds it without the console's dependencies.
pub mod histogram;
pub mod parse;
pub mod rate;
