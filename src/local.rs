//! Local mode: a named deployment of tractor-serve replicas as child processes on loopback
//! ports, behind one front port, with its revisions in a state directory. It reaches the
//! console as the same objects and answers the same actions as a Kubernetes cluster.
pub mod actions;
pub mod autoscaler;
pub mod children;
pub mod controller;
pub mod front;
pub mod objects;
pub mod rolling;
pub mod spec;

pub use controller::{Config, Handle, start};
