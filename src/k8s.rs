//! Everything that talks to the Kubernetes API.
pub mod client;
pub mod errors;
pub mod helm;
pub mod helm_releases;
mod helm_rollback;
pub mod plan;
pub mod rollback;
pub mod runner;
pub mod slim;
pub mod watch;
