//! Metric math as pure functions: tractor-serve's Prometheus text into the few numbers
//! the console shows (`parse`), counter rates with resets (`rate`), and histogram
//! quantiles from bucket deltas with Prometheus's semantics (`histogram`). Its own crate
//! so that the fuzz target (fuzz/) builds it without the console's dependencies.
//!
//! The canary judgement: a rank test of two revisions' latencies from their buckets
//! (`mannwhitney`), a test of their error rates (`proportions`), both with the normal
//! tail of `normal`; and in `canary` the SLOs, the verdict of a window and the run's
//! counters that turn verdicts into actions.
pub mod canary;
pub mod histogram;
pub mod mannwhitney;
pub mod normal;
pub mod parse;
pub mod proportions;
pub mod rate;
pub mod revision;

#[cfg(test)]
mod reference;
