//! One configuration struct, filled from flags, then `TRACTOR_SERVE_*` environment variables,
//! then a TOML file (`--config`), then defaults — in that order of precedence.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::model::lowering::{Lowering, LoweringError};
use crate::rewrite::Rewrites;
use crate::units::{UnitError, parse_duration, parse_size};

mod cli;
pub use cli::Cli;

/// The same settings as read from a TOML file. Unknown keys are an error.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    model: Option<PathBuf>,
    name: Option<String>,
    model_version: Option<String>,
    host: Option<IpAddr>,
    port: Option<u16>,
    grpc_port: Option<u16>,
    input_shape: Option<Vec<String>>,
    warm_shapes: Option<Vec<String>>,
    plan_cache_size: Option<usize>,
    workers: Option<usize>,
    intra_op_threads: Option<usize>,
    max_batch_size: Option<usize>,
    batch_tuning: Option<bool>,
    rewrites: Option<toml::Value>,
    conv_lowering: Option<String>,
    max_queue_delay: Option<String>,
    queue_capacity: Option<usize>,
    request_timeout: Option<String>,
    max_body_size: Option<toml::Value>,
    shutdown_delay: Option<String>,
    drain_timeout: Option<String>,
    header_read_timeout: Option<String>,
    idle_timeout: Option<String>,
    max_connections: Option<usize>,
}

/// Fully resolved settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub model: PathBuf,
    pub name: String,
    pub model_version: String,
    pub host: IpAddr,
    pub port: u16,
    /// `None`: gRPC is off.
    pub grpc_port: Option<u16>,
    pub input_shapes: Vec<String>,
    pub warm_shapes: Vec<String>,
    pub plan_cache_size: usize,
    pub workers: usize,
    pub intra_op_threads: usize,
    pub max_batch_size: usize,
    pub batch_tuning: bool,
    pub rewrites: Rewrites,
    pub conv_lowering: Lowering,
    pub max_queue_delay: Duration,
    pub queue_capacity: usize,
    pub request_timeout: Duration,
    pub max_body_size: usize,
    pub shutdown_delay: Duration,
    pub drain_timeout: Duration,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error(
        "no model given: pass --model PATH, set TRACTOR_SERVE_MODEL, or `model` in the config file"
    )]
    NoModel,
    #[error("invalid setting {key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("invalid setting {key}: {source}")]
    Unit {
        key: &'static str,
        source: UnitError,
    },
}

impl Config {
    /// Resolve the command line (which already carries env vars) with the optional TOML file.
    pub fn resolve(cli: Cli) -> Result<Config, ConfigError> {
        let file = match &cli.config {
            Some(path) => load_file(path)?,
            None => FileConfig::default(),
        };
        let dur =
            |key: &'static str, v: &Option<String>| -> Result<Option<Duration>, ConfigError> {
                v.as_deref()
                    .map(|s| parse_duration(s).map_err(|source| ConfigError::Unit { key, source }))
                    .transpose()
            };
        let file_body = match &file.max_body_size {
            None => None,
            Some(toml::Value::Integer(n)) if *n > 0 => Some(*n as usize),
            Some(toml::Value::String(s)) => {
                Some(parse_size(s).map_err(|source| ConfigError::Unit {
                    key: "max_body_size",
                    source,
                })?)
            }
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "max_body_size",
                    message: format!(
                        "expected a positive integer or a string like \"32MiB\", got {other}"
                    ),
                });
            }
        };
        let model = cli.model.or(file.model).ok_or(ConfigError::NoModel)?;
        let name = match cli.name.or(file.name) {
            Some(n) => n,
            None => model
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_owned)
                .ok_or_else(|| ConfigError::Invalid {
                    key: "name",
                    message: format!("cannot derive a name from {}; pass --name", model.display()),
                })?,
        };
        validate_name("name", &name)?;
        let model_version = cli
            .model_version
            .or(file.model_version)
            .unwrap_or_else(|| "1".into());
        validate_name("model_version", &model_version)?;
        let workers = cli.workers.or(file.workers).unwrap_or_else(default_workers);
        let max_batch_size = cli.max_batch_size.or(file.max_batch_size).unwrap_or(8);
        let intra_op_threads = cli.intra_op_threads.or(file.intra_op_threads).unwrap_or(1);
        let queue_capacity = cli.queue_capacity.or(file.queue_capacity).unwrap_or(256);
        for (key, v) in [
            ("workers", workers),
            ("max_batch_size", max_batch_size),
            ("queue_capacity", queue_capacity),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be at least 1".into(),
                });
            }
        }
        let request_timeout = cli
            .request_timeout
            .or(dur("request_timeout", &file.request_timeout)?)
            .unwrap_or(Duration::from_secs(30));
        if request_timeout.is_zero() {
            return Err(ConfigError::Invalid {
                key: "request_timeout",
                message: "must be above zero".into(),
            });
        }
        Ok(Config {
            name,
            model_version,
            host: cli
                .host
                .or(file.host)
                .unwrap_or(IpAddr::from([127, 0, 0, 1])),
            port: cli.port.or(file.port).unwrap_or(8080),
            grpc_port: Some(cli.grpc_port.or(file.grpc_port).unwrap_or(8081)).filter(|p| *p != 0),
            warm_shapes: if cli.warm_shapes.is_empty() {
                file.warm_shapes.unwrap_or_default()
            } else {
                cli.warm_shapes
            },
            plan_cache_size: cli
                .plan_cache_size
                .or(file.plan_cache_size)
                .unwrap_or(crate::model::DEFAULT_PLAN_CACHE)
                .max(1),
            input_shapes: if cli.input_shape.is_empty() {
                file.input_shape.unwrap_or_default()
            } else {
                cli.input_shape
            },
            workers,
            intra_op_threads,
            max_batch_size,
            batch_tuning: cli.batch_tuning.or(file.batch_tuning).unwrap_or(true),
            rewrites: match cli.rewrites {
                Some(r) => r,
                None => file_rewrites(&file.rewrites)?.unwrap_or(Rewrites::ALL),
            },
            conv_lowering: match (cli.conv_lowering, &file.conv_lowering) {
                (Some(l), _) => l,
                (None, Some(s)) => s.parse().map_err(|e: LoweringError| ConfigError::Invalid {
                    key: "conv_lowering",
                    message: e.to_string(),
                })?,
                (None, None) => Lowering::Auto,
            },
            max_queue_delay: cli
                .max_queue_delay
                .or(dur("max_queue_delay", &file.max_queue_delay)?)
                .unwrap_or(Duration::from_millis(2)),
            queue_capacity,
            request_timeout,
            max_body_size: cli.max_body_size.or(file_body).unwrap_or(64 << 20),
            shutdown_delay: cli
                .shutdown_delay
                .or(dur("shutdown_delay", &file.shutdown_delay)?)
                .unwrap_or_default(),
            drain_timeout: cli
                .drain_timeout
                .or(dur("drain_timeout", &file.drain_timeout)?)
                .unwrap_or(Duration::from_secs(25)),
            header_read_timeout: positive(
                "header_read_timeout",
                cli.header_read_timeout
                    .or(dur("header_read_timeout", &file.header_read_timeout)?)
                    .unwrap_or(Duration::from_secs(30)),
            )?,
            idle_timeout: positive(
                "idle_timeout",
                cli.idle_timeout
                    .or(dur("idle_timeout", &file.idle_timeout)?)
                    .unwrap_or(Duration::from_secs(300)),
            )?,
            max_connections: match cli.max_connections.or(file.max_connections) {
                Some(0) => {
                    return Err(ConfigError::Invalid {
                        key: "max_connections",
                        message: "must be at least 1".into(),
                    });
                }
                n => n.unwrap_or(4096),
            },
            model,
        })
    }

    /// Settings for tests and embedding: a model path and defaults for everything else.
    pub fn for_model(model: impl Into<PathBuf>) -> Result<Config, ConfigError> {
        Config::resolve(Cli {
            model: Some(model.into()),
            ..Cli::default()
        })
    }
}

/// A duration that must not be zero (a zero timeout would refuse everything).
fn positive(key: &'static str, d: Duration) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::Invalid {
            key,
            message: "must be more than zero".into(),
        });
    }
    Ok(d)
}

fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Names and versions appear in URL paths and metric labels: keep them to a safe alphabet.
fn validate_name(key: &'static str, v: &str) -> Result<(), ConfigError> {
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            key,
            message: format!("{v:?} must be 1-128 characters of letters, digits, '-', '_' or '.'"),
        })
    }
}

/// `rewrites` in the file: a boolean, or a string as on the command line.
fn file_rewrites(v: &Option<toml::Value>) -> Result<Option<Rewrites>, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        key: "rewrites",
        message,
    };
    match v {
        None => Ok(None),
        Some(toml::Value::Boolean(true)) => Ok(Some(Rewrites::ALL)),
        Some(toml::Value::Boolean(false)) => Ok(Some(Rewrites::NONE)),
        Some(toml::Value::String(s)) => s.parse().map(Some).map_err(|e| invalid(format!("{e}"))),
        Some(other) => Err(invalid(format!(
            "expected true, false or a comma-separated string such as \"lookup,gelu\", got {other}"
        ))),
    }
}

fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        let mut v = vec!["tractor-serve"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).expect("parse")
    }

    #[test]
    fn defaults_and_name_from_stem() {
        let c = Config::resolve(cli(&["--model", "/m/demo-v1.onnx"])).unwrap();
        assert_eq!(c.name, "demo-v1");
        assert_eq!(c.model_version, "1");
        assert_eq!(c.port, 8080);
        assert_eq!(c.grpc_port, Some(8081));
        assert_eq!(c.host.to_string(), "127.0.0.1");
        assert_eq!(c.max_queue_delay, Duration::from_millis(2));
    }

    #[test]
    fn flags_override_file_and_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        std::fs::write(
            &f,
            "model = \"/m/a.onnx\"\nport = 9000\nmax_batch_size = 4\nmax_queue_delay = \"5ms\"\nmax_body_size = \"1KiB\"\ninput_shape = [\"N,3\"]\n",
        )
        .unwrap();
        let c = Config::resolve(cli(&["--config", f.to_str().unwrap(), "--port", "9100"])).unwrap();
        assert_eq!(c.port, 9100);
        let off = Config::resolve(cli(&["--model", "/m/a.onnx", "--grpc-port", "0"])).unwrap();
        assert_eq!(off.grpc_port, None);
        assert_eq!(c.max_batch_size, 4);
        assert_eq!(c.max_queue_delay, Duration::from_millis(5));
        assert_eq!(c.max_body_size, 1024);
        assert_eq!(c.input_shapes, vec!["N,3".to_string()]);
        assert_eq!(c.name, "a");
    }

    #[test]
    fn bad_file_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        std::fs::write(&f, "model = \"/m/a.onnx\"\nmax_batch = 4\n").unwrap();
        let e = Config::resolve(cli(&["--config", f.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_batch"), "{e}");
        std::fs::write(&f, "model = \"/m/a.onnx\"\nrequest_timeout = \"soon\"\n").unwrap();
        let e = Config::resolve(cli(&["--config", f.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("request_timeout"), "{e}");
    }

    #[test]
    fn rewrites_from_flag_file_or_default_and_a_bad_one_named() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        let with = |file: &str, args: &[&str]| {
            std::fs::write(&f, format!("model = \"/m/a.onnx\"\n{file}")).unwrap();
            let mut v = vec!["--config", f.to_str().unwrap()];
            v.extend_from_slice(args);
            Config::resolve(cli(&v))
        };
        assert_eq!(with("", &[]).unwrap().rewrites, Rewrites::ALL);
        assert_eq!(
            with("rewrites = false\n", &[]).unwrap().rewrites,
            Rewrites::NONE
        );
        let some = with("rewrites = \"fold,peak\"\n", &[]).unwrap().rewrites;
        assert_eq!((some.fold, some.peak, some.gelu), (true, true, false));
        // The flag wins over the file.
        let flag = with("rewrites = false\n", &["--rewrites", "gelu"])
            .unwrap()
            .rewrites;
        assert_eq!((flag.gelu, flag.lookup), (true, false));
        let e = with("rewrites = \"gelu,fast\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rewrites") && e.contains("\"fast\"") && e.contains("peak"),
            "{e}"
        );
        let e = with("rewrites = 3\n", &[]).unwrap_err().to_string();
        assert!(
            e.contains("rewrites") && e.contains("expected true, false"),
            "{e}"
        );
        let bad = Cli::try_parse_from(["tractor-serve", "--model", "a", "--rewrites", "nope"]);
        let e = bad.map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("unknown rewrite \"nope\""), "{e}");
    }

    #[test]
    fn rejects_missing_model_zero_workers_and_bad_names() {
        assert!(matches!(
            Config::resolve(cli(&[])),
            Err(ConfigError::NoModel)
        ));
        let e = Config::resolve(cli(&["--model", "a.onnx", "--workers", "0"])).unwrap_err();
        assert!(e.to_string().contains("workers"));
        let e = Config::resolve(cli(&["--model", "a.onnx", "--name", "a/b"])).unwrap_err();
        assert!(e.to_string().contains("name"));
        // a zero timeout or cap would refuse every client
        let e = Config::resolve(cli(&["--model", "a.onnx", "--header-read-timeout", "0s"]))
            .unwrap_err();
        assert!(e.to_string().contains("header_read_timeout"), "{e}");
        let e = Config::resolve(cli(&["--model", "a.onnx", "--max-connections", "0"])).unwrap_err();
        assert!(e.to_string().contains("max_connections"), "{e}");
        let c = Config::resolve(cli(&["--model", "a.onnx"])).unwrap();
        assert_eq!(
            (c.header_read_timeout.as_secs(), c.max_connections),
            (30, 4096)
        );
    }
}
