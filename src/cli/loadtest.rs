//! `tractor loadtest`'s flags, and `tractor loadtest-worker`'s (the pods of an in-cluster
//! run).
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{parse_duration, parse_share};

#[derive(Debug, Clone, Args)]
pub struct LoadtestArgs {
    /// Target URL, http:// or https://; repeat it to spread requests round-robin.
    #[arg(long = "url", required = true, value_name = "URL")]
    pub urls: Vec<String>,
    /// Requests per second for the constant profile (open loop).
    #[arg(long)]
    pub rate: Option<f64>,
    /// constant | ramp:FROM..TO | step:R1,R2,.. | spike:BASE,PEAK@AT+LEN (seconds).
    #[arg(long, default_value = "constant")]
    pub profile: String,
    /// Closed loop: this many workers, each sending when its last answer came (maximum throughput).
    #[arg(long, conflicts_with = "rate")]
    pub concurrency: Option<usize>,
    /// How long to send.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Stop after this many requests, if that comes first.
    #[arg(long = "requests", value_name = "N")]
    pub max_requests: Option<u64>,
    /// POST this file (a KServe v2 JSON request, a /predict array, ...); without it, GET.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// Content type of --body.
    #[arg(long, default_value = "application/json")]
    pub content_type: String,
    /// HTTP/2 instead of HTTP/1.1 keep-alive: prior knowledge on http://, ALPN h2 on https://.
    #[arg(long)]
    pub http2: bool,
    /// The HTTP/1.1 client on plain http:// targets: `lean` (the default) writes each
    /// request's prepared bytes and reads the answer in the sending task; `hyper` is hyper's
    /// client (a task per connection), kept to compare the two.
    #[arg(long, value_enum, default_value_t = crate::load::engine::H1Client::Lean)]
    pub http1_client: crate::load::engine::H1Client,
    /// Open Inference Protocol gRPC calls (ModelInfer, HTTP/2) instead of HTTP requests:
    /// --url is the gRPC port with the model's REST path (http://HOST:8081/v2/models/NAME),
    /// --body the same KServe v2 JSON request as for REST (sent as raw_input_contents).
    #[arg(long)]
    pub grpc: bool,
    /// Open loop: most requests in flight at once (a request due while all are busy waits,
    /// and the wait counts in its latency).
    #[arg(long, default_value_t = 1000)]
    pub max_in_flight: usize,
    /// Open loop: the generator lagged when its sends started later than this against the
    /// schedule at p99 (the run, its JSON and the monitor then say so, and a canary window
    /// of this console is not judged on it).
    #[arg(long, default_value = "5ms", value_parser = parse_duration, value_name = "DURATION")]
    pub max_lag: Duration,
    /// The scheduling priority of the threads that send. `normal`: a sender that wakes
    /// takes the core from whatever runs there, a server on this machine included. `batch`
    /// (Linux SCHED_BATCH): the senders keep their fair share of the CPU, but one that
    /// wakes waits for the running thread's turn to end, so a server on this machine works
    /// its queue through (beside a loopback server on 2 cores: 16-34 % more answers per
    /// second in the closed loop, lower tails in the open loop). `idle` (SCHED_IDLE): they
    /// run only on CPU nothing else wants (the lowest tails well below the server's
    /// capacity, but once that server takes most of the CPU they fall behind and the run
    /// lags: at 80 % of its capacity the answers piled up for seconds). `auto` (the
    /// default): batch when every --url is on this machine and the default HTTP/1.1 client
    /// carries the run (it dates answers by the kernel's receive stamp; https, --http2,
    /// --grpc and hyper's client time the read), normal otherwise.
    #[arg(long, value_enum, default_value_t = crate::load::engine::SenderPriority::Auto)]
    pub sender_priority: crate::load::engine::SenderPriority,
    /// A request without an answer after this long is a timeout error.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// No screen: a progress line on stderr, the summary table at the end. Without it (and
    /// on a terminal) the run is shown on the console's monitor screen.
    #[arg(long)]
    pub no_tui: bool,
    /// Monitor screen: also show this deployment's servers (deploy/NAME in -n NAMESPACE):
    /// latency per revision, replicas, rollout and scale markers. Needs a cluster.
    #[arg(long, value_name = "deploy/NAME")]
    pub deploy: Option<String>,
    /// Monitor screen: scrape this /metrics URL too (repeatable), shown by model version.
    #[arg(long = "scrape", value_name = "URL")]
    pub scrape: Vec<String>,
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
    /// Write the summary as JSON to this file (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Exit 1 when the p99 latency is above this (e.g. 250ms).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub slo_p99: Option<Duration>,
    /// Exit 1 when more than this share of requests fail (5xx or no answer): 0.01 or 1%.
    #[arg(long, value_parser = parse_share, value_name = "SHARE")]
    pub slo_error_rate: Option<f64>,
    /// With --in-cluster: send from N pods, each 1/N of the schedule (or of --concurrency)
    /// from one agreed instant; their histograms are merged exactly.
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// Run the load from an indexed Job in the namespace (-n), not from this machine; the
    /// workers are read through the API server's pod proxy. The URLs are as the pods see them
    /// (http://classifier.NS:8080/...). The Job is deleted at the end, on stop and on quit.
    #[arg(long, requires = "workers")]
    pub in_cluster: bool,
    /// The workers' image: the console's (see the Dockerfile at the repository's root).
    #[arg(long, env = "TRACTOR_WORKER_IMAGE", default_value = DEFAULT_WORKER_IMAGE, value_name = "IMAGE")]
    pub worker_image: String,
}

/// The image `--worker-image` defaults to.
pub const DEFAULT_WORKER_IMAGE: &str = concat!("tractor:", env!("CARGO_PKG_VERSION"));

/// `tractor loadtest-worker` (started by an in-cluster run's Job, not by people).
#[derive(Debug, Args)]
pub struct LoadtestWorkerArgs {
    /// Serve /healthz, /report, /start and /stop here.
    #[arg(long, default_value = "0.0.0.0:9464")]
    pub listen: std::net::SocketAddr,
    /// This worker's index among --workers (the Job's completion index).
    #[arg(long, env = "JOB_COMPLETION_INDEX", default_value_t = 0)]
    pub index: u32,
    /// Give up when no POST /start came within this long.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub wait: Duration,
    /// Keep answering /report this long after the run.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub linger: Duration,
    #[command(flatten)]
    pub load: LoadtestArgs,
}
