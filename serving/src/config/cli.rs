//! `tractor-serve`'s command line: every flag, each with its `TRACTOR_SERVE_*` environment
//! variable. [`super::Config::resolve`] merges it with the file and the defaults.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::model::lowering::Lowering;
use crate::rewrite::Rewrites;
use crate::units::{parse_duration, parse_size};

/// Command line of `tractor-serve`. Every flag can also be given as an environment variable.
#[derive(Parser, Debug, Default, Clone)]
#[command(
    name = "tractor-serve",
    version,
    about = "Serve an ONNX model over HTTP (Open Inference Protocol v2 and /predict) with tract",
    after_help = "Every flag can be set by its environment variable or in the --config TOML file \
                  (same names with underscores, e.g. max_batch_size = 16). Precedence: flag, env, file, default.\n\
                  Durations take a unit (250us, 2ms, 1.5s, 1m); sizes take an optional unit (512KiB, 32MiB)."
)]
pub struct Cli {
    /// TOML file with any of the settings below
    #[arg(long, env = "TRACTOR_SERVE_CONFIG")]
    pub config: Option<PathBuf>,
    /// ONNX model file to serve
    #[arg(long, env = "TRACTOR_SERVE_MODEL")]
    pub model: Option<PathBuf>,
    /// Model name in URLs and metrics [default: the model file's stem]
    #[arg(long, env = "TRACTOR_SERVE_NAME")]
    pub name: Option<String>,
    /// Model version reported in metadata and `tractor_model_info` [default: 1]
    #[arg(long, env = "TRACTOR_SERVE_MODEL_VERSION")]
    pub model_version: Option<String>,
    /// Address to bind [default: 127.0.0.1]
    #[arg(long, env = "TRACTOR_SERVE_HOST")]
    pub host: Option<IpAddr>,
    /// Port to bind [default: 8080]
    #[arg(long, env = "TRACTOR_SERVE_PORT")]
    pub port: Option<u16>,
    /// Port for the Open Inference Protocol over gRPC (and grpc.health.v1), on the same
    /// address; 0 turns gRPC off [default: 8081]
    #[arg(long, env = "TRACTOR_SERVE_GRPC_PORT")]
    pub grpc_port: Option<u16>,
    /// Override an input's shape: `DIMS` for the first input or `NAME=DIMS`; DIMS like `N,3,224,224`
    /// where a letter marks the free batch dimension. Repeatable; in the env var separate with `;`
    #[arg(
        long = "input-shape",
        env = "TRACTOR_SERVE_INPUT_SHAPE",
        value_delimiter = ';'
    )]
    pub input_shape: Vec<String>,
    /// A model whose inputs leave H and W (or more than the batch) free gets a plan per input
    /// shape, built on first use: build these before ready. `[NAME=]DIMS` like `1,3,640,640`
    /// (several inputs space-separated). Repeatable; in the env var separate with `;`
    #[arg(
        long = "warm-shapes",
        env = "TRACTOR_SERVE_WARM_SHAPES",
        value_delimiter = ';'
    )]
    pub warm_shapes: Vec<String>,
    /// Plans kept for such a model, least recently used out [default: 16]
    #[arg(long, env = "TRACTOR_SERVE_PLAN_CACHE_SIZE")]
    pub plan_cache_size: Option<usize>,
    /// Inference worker threads [default: number of cores]
    #[arg(long, env = "TRACTOR_SERVE_WORKERS")]
    pub workers: Option<usize>,
    /// Threads one inference may use (tract's multithreaded matrix products) [default: 1]
    #[arg(long, env = "TRACTOR_SERVE_INTRA_OP_THREADS")]
    pub intra_op_threads: Option<usize>,
    /// Largest batch assembled by dynamic batching; 1 turns batching off [default: 8]
    #[arg(long, env = "TRACTOR_SERVE_MAX_BATCH_SIZE")]
    pub max_batch_size: Option<usize>,
    /// Graph rewrites around tract's optimizer: true, false, or a list of lookup, fold, gelu, hardswish, peak, pool, split, shallow, reductions, copies, upper [default: true]
    #[arg(long, env = "TRACTOR_SERVE_REWRITES")]
    pub rewrites: Option<Rewrites>,
    /// How convolutions become matrix products: auto (time each way at load, keep the fastest), tract, eager or lazy [default: auto]
    #[arg(long, env = "TRACTOR_SERVE_CONV_LOWERING")]
    pub conv_lowering: Option<Lowering>,
    /// At start, time each batch size and keep only those that lower the cost per row [default: true]
    #[arg(long, env = "TRACTOR_SERVE_BATCH_TUNING")]
    pub batch_tuning: Option<bool>,
    /// Longest a request waits for others to join its batch [default: 2ms]
    #[arg(long, env = "TRACTOR_SERVE_MAX_QUEUE_DELAY", value_parser = parse_duration)]
    pub max_queue_delay: Option<Duration>,
    /// Requests that may wait in the queue; beyond it requests get 503 [default: 256]
    #[arg(long, env = "TRACTOR_SERVE_QUEUE_CAPACITY")]
    pub queue_capacity: Option<usize>,
    /// Time a request may take from arrival to answer before it gets 504 [default: 30s]
    #[arg(long, env = "TRACTOR_SERVE_REQUEST_TIMEOUT", value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,
    /// Largest request body accepted; larger gets 413 [default: 64MiB]
    #[arg(long, env = "TRACTOR_SERVE_MAX_BODY_SIZE", value_parser = parse_size)]
    pub max_body_size: Option<usize>,
    /// After SIGTERM, keep accepting (while not ready) this long so load balancers can react [default: 0s]
    #[arg(long, env = "TRACTOR_SERVE_SHUTDOWN_DELAY", value_parser = parse_duration)]
    pub shutdown_delay: Option<Duration>,
    /// After SIGTERM, the longest the drain of queued and in-flight requests may take [default: 25s]
    #[arg(long, env = "TRACTOR_SERVE_DRAIN_TIMEOUT", value_parser = parse_duration)]
    pub drain_timeout: Option<Duration>,
    /// A request's whole header must arrive within this (and an idle keep-alive connection is closed after it) [default: 30s]
    #[arg(long, env = "TRACTOR_SERVE_HEADER_READ_TIMEOUT", value_parser = parse_duration)]
    pub header_read_timeout: Option<Duration>,
    /// A connection with no request in flight for this long is closed (HTTP/2 and gRPC with a GOAWAY; a streaming answer counts as in flight; idle HTTP/1.1 meets --header-read-timeout first unless this is shorter) [default: 300s]
    #[arg(long, env = "TRACTOR_SERVE_IDLE_TIMEOUT", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Open connections at most; beyond it new ones are closed at once [default: 4096]
    #[arg(long, env = "TRACTOR_SERVE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
}
