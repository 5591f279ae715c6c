//! A load test as the flags of `tractor loadtest` describe it, checked and typed once:
//! the targets, the loop, the bounds, the SLO and where the JSON goes. Pure; the body
//! file is read only when the run starts ([`LoadPlan::engine_plan`]).
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::Method;

use super::endpoint::{Endpoint, EndpointError};
use super::engine::{Mode, Plan};
use super::fleet::share;
use super::grpc::{self, GrpcRequestError};
use super::profile::{Profile, ProfileError};
use super::report::Slo;
use crate::cli::LoadtestArgs;

/// A checked load test: everything the flags say, without the body's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadPlan {
    pub targets: Vec<Endpoint>,
    pub mode: Mode,
    pub duration: Duration,
    pub max_requests: Option<u64>,
    /// POST this file; without it, GET.
    pub body: Option<PathBuf>,
    /// The body's content type.
    pub content_type: String,
    pub http2: bool,
    /// `--http1-client`: which HTTP/1.1 client plain http:// targets get.
    pub http1_client: crate::load::engine::H1Client,
    /// `--grpc`: ModelInfer calls to this model (name, version; empty: the one served).
    pub grpc: Option<(String, String)>,
    pub timeout: Duration,
    /// Open loop: the sends' p99 lag above which the generator lagged.
    pub max_lag: Duration,
    /// The sending threads' scheduling priority.
    pub sender_priority: crate::load::engine::SenderPriority,
    /// How https targets are checked.
    pub tls: crate::tls::TlsArgs,
    pub slo: Slo,
    /// Write the summary's JSON here (`-`: standard output).
    pub json: Option<PathBuf>,
    /// `--workers N --in-cluster`: run from a Job's pods instead of this process.
    pub fleet: Option<FleetPlan>,
}

/// An in-cluster run: how many workers, their image, and the flags each runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetPlan {
    pub workers: u32,
    pub image: String,
    /// The run's flags as the workers take them (`--body` travels apart, in the Job's env).
    pub words: Vec<String>,
}

/// What is wrong with the flags; the words name the flag.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Url(#[from] EndpointError),
    #[error("--duration must be more than 0")]
    ZeroDuration,
    #[error("--concurrency must be at least 1")]
    ZeroConcurrency,
    #[error("--profile applies to the open loop; drop it or --concurrency")]
    ProfileWithConcurrency,
    #[error("--rate {0} must be more than 0")]
    Rate(f64),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("--workers {0} must be at least 1")]
    NoWorkers(u32),
    #[error("--workers sends from the cluster's pods: add --in-cluster (and -n NAMESPACE)")]
    WorkersNeedCluster,
    #[error(transparent)]
    Share(#[from] share::ShareError),
    #[error(
        "--cacert is a file of this machine, which the workers cannot read: with --in-cluster, use https targets whose CA the image trusts, or --insecure"
    )]
    CacertInCluster,
    #[error(transparent)]
    Grpc(#[from] GrpcRequestError),
    #[error("--body {}: {source}", path.display())]
    Body {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl LoadPlan {
    /// The plan the flags describe, or what is wrong with them.
    pub fn from_args(a: &LoadtestArgs) -> Result<LoadPlan, PlanError> {
        let targets = a
            .urls
            .iter()
            .map(|u| Endpoint::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        if a.duration.is_zero() {
            return Err(PlanError::ZeroDuration);
        }
        let grpc = match a.grpc {
            false => None,
            true => {
                if a.body.is_none() {
                    return Err(GrpcRequestError::NoBody.into());
                }
                let mut model: Option<(String, String)> = None;
                for t in &targets {
                    let m = grpc::model_of(&t.url, &t.path)?;
                    match &model {
                        Some(first) if first != &m => {
                            let name = |(model, version): &(String, String)| match version.as_str()
                            {
                                "" => format!("{model:?}"),
                                v => format!("{model:?} version {v:?}"),
                            };
                            return Err(GrpcRequestError::MixedModels(name(first), name(&m)).into());
                        }
                        _ => model = Some(m),
                    }
                }
                model
            }
        };
        let mode = match a.concurrency {
            Some(0) => return Err(PlanError::ZeroConcurrency),
            Some(c) => {
                if a.profile != "constant" {
                    return Err(PlanError::ProfileWithConcurrency);
                }
                Mode::Closed { concurrency: c }
            }
            None => {
                if let Some(r) = a.rate
                    && (!r.is_finite() || r <= 0.0)
                {
                    return Err(PlanError::Rate(r));
                }
                Mode::Open {
                    profile: Profile::parse(&a.profile, a.rate)?,
                    max_in_flight: a.max_in_flight.max(1),
                }
            }
        };
        let fleet = match (a.workers, a.in_cluster) {
            (Some(0), _) => return Err(PlanError::NoWorkers(0)),
            (Some(workers), true) => {
                if a.tls.cacert.is_some() {
                    return Err(PlanError::CacertInCluster);
                }
                Some(FleetPlan {
                    workers,
                    image: a.worker_image.clone(),
                    words: super::flags::worker_words(a),
                })
            }
            (Some(_), false) => return Err(PlanError::WorkersNeedCluster),
            (None, _) => None,
        };
        let plan = LoadPlan {
            targets,
            mode,
            duration: a.duration,
            max_requests: a.max_requests,
            body: a.body.clone(),
            content_type: a.content_type.clone(),
            http2: a.http2 || a.grpc,
            http1_client: a.http1_client,
            grpc,
            timeout: a.timeout,
            max_lag: a.max_lag,
            sender_priority: a.sender_priority,
            tls: a.tls.clone(),
            slo: Slo {
                p99_ms: a.slo_p99.map(|d| d.as_secs_f64() * 1000.0),
                error_rate: a.slo_error_rate,
            },
            json: a.json.clone(),
            fleet,
        };
        if let Some(f) = &plan.fleet {
            share::check(&plan.mode, plan.max_requests, f.workers)?;
        }
        Ok(plan)
    }

    /// Worker `index`'s part of this run split over `workers` (see [`share`]).
    pub fn share(&self, index: u32, workers: u32) -> Result<LoadPlan, share::ShareError> {
        share::check(&self.mode, self.max_requests, workers)?;
        let mut p = self.clone();
        p.mode = share::mode(&self.mode, index, workers);
        p.max_requests = self.max_requests.map(|r| share::part(r, index, workers));
        Ok(p)
    }

    /// The engine's plan: reads the body file, if any, and the `--cacert` file when a
    /// target is https.
    pub fn engine_plan(&self) -> Result<Plan, PlanError> {
        let (method, body) = match &self.body {
            Some(path) => {
                let b = std::fs::read(path).map_err(|source| PlanError::Body {
                    path: path.clone(),
                    source,
                })?;
                let b = match &self.grpc {
                    Some((model, version)) => grpc::framed(&b, model, version)?,
                    None => Bytes::from(b),
                };
                (Method::POST, b)
            }
            None => (Method::GET, Bytes::new()),
        };
        let content_type = match (&self.grpc, &self.body) {
            (Some(_), _) => Some("application/grpc".to_owned()),
            (None, Some(_)) => Some(self.content_type.clone()),
            (None, None) => None,
        };
        let alpn = if self.http2 {
            crate::tls::Alpn::Http2
        } else {
            crate::tls::Alpn::Http1
        };
        let tls = match self.targets.iter().any(|t| t.tls) {
            true => Some(crate::tls::client_config(&self.tls, alpn)?),
            false => None,
        };
        Ok(Plan {
            targets: self.targets.clone(),
            method,
            body,
            content_type,
            mode: self.mode.clone(),
            duration: self.duration,
            max_requests: self.max_requests,
            http2: self.http2,
            http1_client: self.http1_client,
            grpc: self.grpc.is_some(),
            timeout: self.timeout,
            max_lag: self.max_lag,
            sender_priority: self.sender_priority,
            tls,
        })
    }

    /// Whether the JSON goes to standard output.
    pub fn json_to_stdout(&self) -> bool {
        self.json.as_ref().is_some_and(|p| p.as_os_str() == "-")
    }
}
