//! Load from many pods: `tractor loadtest --workers N --in-cluster` runs N workers as an
//! indexed Kubernetes Job ([`job`]), each sending its share of the schedule ([`share`])
//! from one agreed instant and reporting cumulative HDR histograms over HTTP ([`wire`],
//! [`worker`]); the console reads them through the API server's pod proxy, merges them
//! exactly and shows the run like a local one ([`coordinator`], [`merge`]).
pub mod coordinator;
mod error;
pub mod job;
pub mod merge;
pub mod pods;
mod proxy;
pub mod share;
pub mod wire;
pub mod worker;
