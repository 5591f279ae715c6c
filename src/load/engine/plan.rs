//! What the engine runs and what it measured.
use std::time::Duration;

use bytes::Bytes;
use http::Method;

use crate::load::endpoint::Endpoint;
use crate::load::profile::Profile;
use crate::load::stats::Stats;

/// The HTTP/1.1 client on plain http:// targets (`--http1-client`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum H1Client {
    /// Prepared request bytes, the answer read in the sending task (`engine::h1`).
    #[default]
    Lean,
    /// hyper's client: a task per connection, requests handed to it over a channel.
    Hyper,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Send at the profile's rate whatever the answers; at most `max_in_flight` at once
    /// (a request due while all are busy waits, and its wait counts in its latency).
    Open {
        profile: Profile,
        max_in_flight: usize,
    },
    /// `concurrency` workers, each sending its next request when the last one answers.
    Closed { concurrency: usize },
}

/// A run, ready to send: the targets, the request, the loop and its bounds.
#[derive(Debug, Clone)]
pub struct Plan {
    pub targets: Vec<Endpoint>,
    pub method: Method,
    pub body: Bytes,
    pub content_type: Option<String>,
    pub mode: Mode,
    pub duration: Duration,
    pub max_requests: Option<u64>,
    pub http2: bool,
    /// Which HTTP/1.1 client plain http:// targets get.
    pub http1_client: H1Client,
    /// gRPC calls (`--grpc`): the body is a framed `ModelInferRequest`, the outcome its
    /// `grpc-status` (counted as the HTTP status of the same meaning).
    pub grpc: bool,
    pub timeout: Duration,
    /// Open loop: the sends' p99 lag above which the generator lagged.
    pub max_lag: Duration,
    /// The scheduling priority of the sending threads (either loop).
    pub sender_priority: super::priority::SenderPriority,
    /// The client configuration for https targets (`None` when every target is http).
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// What a finished run measured.
#[derive(Debug, Clone)]
pub struct Outcomes {
    pub stats: Stats,
    pub elapsed: Duration,
    /// From the first send to the last one.
    pub send_window: Duration,
    /// CPU the process used over the run, in cores.
    pub cpu_cores: Option<f64>,
    /// The priority the sending threads ran at, as the OS had it (`None`: in-cluster runs,
    /// whose workers report their own).
    pub sender_priority: Option<super::priority::Applied>,
}
