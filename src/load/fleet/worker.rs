//! `tractor loadtest-worker`: one pod of an in-cluster run. It serves a small HTTP API on
//! `--listen` that the console reaches through the API server's pod proxy:
//! `GET /healthz`, `GET /report` (its [`Report`], cumulative), `POST /start?in_ms=DELAY`
//! or `?at=UNIX_MS` (starts its share of the schedule then; once) and `POST /stop` (ends its run
//! early, answers in flight awaited). Its share comes from its flags (the Job's spec, what
//! `kubectl get job -o yaml` shows), the body from `TRACTOR_LOAD_BODY_B64`. After its run
//! it keeps answering `/report` for `--linger`, then exits: 0 when its run ended, 1 when it
//! could not run or was never started.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio::time::Instant;

use super::share::ShareError;
use super::wire::{Report, WorkerState};
use crate::load::engine::{Plan, RunError, Tally, run_into};
use crate::load::health;
use crate::load::plan::{LoadPlan, PlanError};
use crate::load::stats::held;

/// The body's environment variable (base64): the console's `--body` file, sent in the
/// Job's spec since the pod cannot read the console's disk.
pub const BODY_ENV: &str = "TRACTOR_LOAD_BODY_B64";

/// What a worker is told by its flags and environment.
#[derive(Debug, Clone)]
pub struct WorkerSetup {
    pub listen: SocketAddr,
    pub index: u32,
    pub workers: u32,
    /// How long to wait for `/start` before giving up.
    pub wait: Duration,
    /// How long to keep answering `/report` after the run.
    pub linger: Duration,
    /// The whole run's plan (this worker takes its share).
    pub plan: LoadPlan,
    /// The body, when it came in [`BODY_ENV`].
    pub body: Option<Bytes>,
}

/// Why a worker could not serve or run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("--listen {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{BODY_ENV} is not base64: {0}")]
    Body(#[from] base64::DecodeError),
    #[error(transparent)]
    Share(#[from] ShareError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("no POST /start within {0:?}: the console that made this Job is gone")]
    NeverStarted(Duration),
}

/// Decodes [`BODY_ENV`]'s value.
pub fn decode_body(b64: &str) -> Result<Bytes, WorkerError> {
    Ok(Bytes::from(
        base64::engine::general_purpose::STANDARD.decode(b64.trim())?,
    ))
}

/// What the HTTP side and the run share.
struct Shared {
    index: u32,
    tally: Tally,
    state: Mutex<Run>,
    start: watch::Sender<Option<SystemTime>>,
    stop: Arc<AtomicBool>,
}

#[derive(Default)]
struct Run {
    state: Option<WorkerState>,
    began: Option<(Instant, Option<Duration>)>,
    ended: Option<(Duration, Duration, Option<Duration>)>,
}

impl Shared {
    fn report(&self) -> Report {
        // the state first: a report that says `done` then holds the final counts
        let (state, began, ended) = {
            let r = held(&self.state);
            (
                r.state.clone().unwrap_or(WorkerState::Waiting),
                r.began,
                r.ended,
            )
        };
        // the live count and the time it was read at, together and on one clock (since the
        // run began, also once it is done): the console takes the rate from their
        // differences (the figures below are merged every 100 ms)
        let live = self.tally.answered.total();
        let now = began.map(|(at, _)| at.elapsed());
        let live_ms = now.map_or(0, |d| d.as_millis() as u64);
        let stats = held(&self.tally.stats).clone();
        let mut report = Report::of(self.index, state, &stats);
        report.answered_live = Some(live);
        report.live_ms = Some(live_ms);
        if let Some((elapsed, window, cpu)) = ended {
            report.elapsed_ms = elapsed.as_millis() as u64;
            report.send_window_ms = window.as_millis() as u64;
            report.cpu_s = cpu.map_or(0.0, |c| c.as_secs_f64());
        } else if let (Some((_, cpu0)), Some(now)) = (began, now) {
            report.elapsed_ms = now.as_millis() as u64;
            report.cpu_s = health::cpu_time()
                .zip(cpu0)
                .and_then(|(now, before)| now.checked_sub(before))
                .map_or(0.0, |c| c.as_secs_f64());
        }
        report
    }

    fn set(&self, f: impl FnOnce(&mut Run)) {
        f(&mut held(&self.state));
    }
}

/// Serves the API and runs the worker's share once started; returns when it has lingered.
pub async fn run(setup: WorkerSetup) -> Result<(), WorkerError> {
    let mine = setup.plan.share(setup.index, setup.workers)?;
    let mut plan = mine.engine_plan()?;
    if let Some(body) = &setup.body {
        plan.method = Method::POST;
        plan.body = body.clone();
        plan.content_type = Some(mine.content_type.clone());
    }
    let listener = tokio::net::TcpListener::bind(setup.listen)
        .await
        .map_err(|source| WorkerError::Listen {
            addr: setup.listen,
            source,
        })?;
    let (start_tx, mut start_rx) = watch::channel(None);
    let shared = Arc::new(Shared {
        index: setup.index,
        tally: Tally::new(),
        state: Mutex::new(Run::default()),
        start: start_tx,
        stop: Arc::new(AtomicBool::new(false)),
    });
    let server = tokio::spawn(serve(listener, shared.clone()));
    tracing::info!(listen = %setup.listen, index = setup.index, "worker waiting for its start");
    let started = tokio::time::timeout(setup.wait, start_rx.wait_for(Option::is_some)).await;
    let at = match started {
        Ok(Ok(at)) => *at,
        _ => None,
    };
    // worker i of N starts i/N of its own send interval later: the N schedules interleave
    // instead of each sending at the same instants
    let offset = match &setup.plan.mode {
        crate::load::engine::Mode::Open { profile, .. } => {
            let rate = profile.rate_at(0.0, setup.plan.duration.as_secs_f64());
            if rate > 0.0 {
                Duration::from_secs_f64(f64::from(setup.index) / rate)
            } else {
                Duration::ZERO
            }
        }
        crate::load::engine::Mode::Closed { .. } => Duration::ZERO,
    };
    let result = match at {
        Some(at) => run_at(&shared, plan, at + offset).await,
        None => Err(WorkerError::NeverStarted(setup.wait)),
    };
    if let Err(e) = &result {
        let reason = e.to_string();
        shared.set(|r| r.state = Some(WorkerState::Failed { reason }));
    }
    // the console reads the final report, then deletes the Job; a console that is gone
    // leaves the pod to the linger and the Job's deadline
    tokio::time::sleep(setup.linger).await;
    server.abort();
    result
}

async fn run_at(shared: &Arc<Shared>, plan: Plan, at: SystemTime) -> Result<(), WorkerError> {
    let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::time::sleep(wait).await;
    shared.set(|r| {
        r.state = Some(WorkerState::Running);
        r.began = Some((Instant::now(), health::cpu_time()));
    });
    let cpu0 = health::cpu_time();
    let outcomes = run_into(
        plan,
        None,
        Duration::from_secs(1),
        shared.stop.clone(),
        shared.tally.clone(),
    )
    .await?;
    let cpu = health::cpu_time()
        .zip(cpu0)
        .and_then(|(now, before)| now.checked_sub(before));
    shared.set(|r| {
        r.state = Some(WorkerState::Done);
        r.ended = Some((outcomes.elapsed, outcomes.send_window, cpu));
    });
    Ok(())
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(&shared, req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

fn text(status: StatusCode, s: impl Into<String>) -> Response<Full<Bytes>> {
    reply(status, "text/plain; charset=utf-8", s.into() + "\n")
}

fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok"),
        (&Method::GET, "/report") => match serde_json::to_vec(&shared.report()) {
            Ok(json) => reply(StatusCode::OK, "application/json", json),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        (&Method::POST, "/start") => start(shared, req.uri().query().unwrap_or("")),
        (&Method::POST, "/stop") => {
            shared.stop.store(true, Ordering::Relaxed);
            text(StatusCode::ACCEPTED, "stopping")
        }
        (_, "/healthz" | "/report" | "/start" | "/stop") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: GET /healthz, GET /report, POST /start?in_ms=DELAY, POST /stop",
        ),
    }
}

fn start(shared: &Shared, query: &str) -> Response<Full<Bytes>> {
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    // `in_ms` by this worker's own clock, or an instant `at` for clocks in step
    let at = match (param("in_ms"), param("at")) {
        (Some(ms), _) => SystemTime::now() + Duration::from_millis(ms),
        (None, Some(ms)) => UNIX_EPOCH + Duration::from_millis(ms),
        (None, None) => {
            return text(
                StatusCode::BAD_REQUEST,
                "POST /start needs ?in_ms=DELAY or ?at=UNIX_MS (when every worker starts)",
            );
        }
    };
    let mut fresh = false;
    shared.start.send_if_modified(|s| {
        fresh = s.is_none();
        if fresh {
            *s = Some(at);
        }
        fresh
    });
    if fresh {
        text(StatusCode::ACCEPTED, "starting")
    } else {
        text(
            StatusCode::CONFLICT,
            "already started: a worker runs its share once",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_env_decodes_an_empty_body_and_names_itself_when_bad() {
        // an empty --body file travels as an empty value: a body (POST), not none
        assert_eq!(decode_body("").unwrap(), Bytes::new());
        assert_eq!(
            decode_body("eyJhIjoxfQ==\n").unwrap(),
            Bytes::from_static(b"{\"a\":1}")
        );
        let e = decode_body("not base64!").unwrap_err();
        assert!(e.to_string().starts_with(BODY_ENV), "{e}");
    }

    #[test]
    fn a_report_pairs_the_live_count_with_the_time_since_the_run_began_also_once_done() {
        let (start, _) = watch::channel(None);
        let shared = Shared {
            index: 1,
            tally: Tally::new(),
            state: Mutex::new(Run::default()),
            start,
            stop: Arc::new(AtomicBool::new(false)),
        };
        let r = shared.report();
        assert_eq!((r.answered_live, r.live_ms), (Some(0), Some(0)), "waiting");
        let began = Instant::now() - Duration::from_secs(2);
        shared.set(|r| {
            r.state = Some(WorkerState::Running);
            r.began = Some((began, None));
        });
        for _ in 0..7 {
            shared.tally.answered.add(0);
        }
        let r = shared.report();
        assert_eq!(r.answered_live, Some(7));
        let ms = r.live_ms.unwrap();
        assert!((2000..3000).contains(&ms), "{ms}");
        // done: `elapsed_ms` becomes the engine's own figure, the live clock goes on
        shared.set(|r| {
            r.state = Some(WorkerState::Done);
            r.ended = Some((
                Duration::from_millis(1500),
                Duration::from_millis(1400),
                None,
            ));
        });
        let r = shared.report();
        assert_eq!(r.elapsed_ms, 1500);
        assert!(r.live_ms.unwrap() >= ms, "{r:?}");
    }
}
