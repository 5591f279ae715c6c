//! The load engine: HTTP/1.1 keep-alive or HTTP/2 connections (hyper), an open loop that
//! sends on schedule and measures latency from the *scheduled* time (so a slow server
//! cannot hide queueing: no coordinated omission), or a closed loop of N workers. Always
//! bounded by duration and, if given, a request count.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::Semaphore;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::profile::{Profile, Schedule};
use super::stats::{Outcome, Stats, quantile_ms};

/// One target URL, resolved into what a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub authority: String,
    pub path: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("--url {url:?} is not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "--url {url:?}: https is not supported by the load generator (plain HTTP only)"
                ));
            }
            _ => return Err(format!("--url {url:?}: write http://HOST:PORT/PATH")),
        }
        let auth = uri
            .authority()
            .ok_or_else(|| format!("--url {url:?} has no host"))?;
        Ok(Endpoint {
            url: url.to_string(),
            host: auth.host().trim_matches(['[', ']']).to_string(),
            port: auth.port_u16().unwrap_or(80),
            authority: auth.to_string(),
            path: uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "/".into()),
        })
    }
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
    pub timeout: Duration,
}

/// A live view of the run, sent every `every` while it runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub elapsed: Duration,
    pub sent: u64,
    pub answered: u64,
    pub errors: u64,
    /// Answers per second over the last window.
    pub rps: f64,
    /// The rate the profile asks for now (open loop).
    pub target_rate: Option<f64>,
    /// Cumulative p50, p90, p99, p99.9 in ms (`None` before the first answer).
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    /// p50 and p99 of the last window alone.
    pub window_p50: Option<f64>,
    pub window_p99: Option<f64>,
}

impl Progress {
    /// `12.3/30.0 s  sent 6150  498/s (target 500)  p50 1.20 p90 2.01 p99 3.10 p99.9 5.00 ms`
    pub fn figures(&self, total_s: f64) -> String {
        let q = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
        let target = self
            .target_rate
            .map(|r| format!(" (target {r:.0})"))
            .unwrap_or_default();
        format!(
            "{:.1}/{total_s:.1} s  sent {}  {:.0}/s{target}  p50 {} p90 {} p99 {} p99.9 {} ms",
            self.elapsed.as_secs_f64(),
            self.sent,
            self.rps,
            q(self.p50),
            q(self.p90),
            q(self.p99),
            q(self.p999),
        )
    }
}

/// What a finished run measured.
#[derive(Debug, Clone)]
pub struct Outcomes {
    pub stats: Stats,
    pub elapsed: Duration,
    /// From the first send to the last one.
    pub send_window: Duration,
}

enum Conn {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

async fn connect(ep: &Endpoint, h2: bool) -> Result<Conn, String> {
    let tcp = tokio::net::TcpStream::connect((ep.host.as_str(), ep.port))
        .await
        .map_err(|_| "connect".to_string())?;
    let _ = tcp.set_nodelay(true);
    let io = TokioIo::new(tcp);
    if h2 {
        let (send, conn) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|_| "handshake".to_string())?;
        tokio::spawn(conn);
        Ok(Conn::H2(send))
    } else {
        let (send, conn) = http1::handshake(io)
            .await
            .map_err(|_| "handshake".to_string())?;
        tokio::spawn(conn);
        Ok(Conn::H1(send))
    }
}

/// What every request to one endpoint shares, parsed once.
struct Prepared {
    ep: Endpoint,
    uri: http::Uri,
    host: http::HeaderValue,
    content_type: Option<http::HeaderValue>,
}

impl Prepared {
    fn new(plan: &Plan, ep: &Endpoint) -> Result<Prepared, String> {
        let uri = if plan.http2 {
            format!("http://{}{}", ep.authority, ep.path)
        } else {
            ep.path.clone()
        };
        Ok(Prepared {
            ep: ep.clone(),
            uri: uri.parse().map_err(|e| format!("{}: {e}", ep.url))?,
            host: http::HeaderValue::from_str(&ep.authority)
                .map_err(|e| format!("{}: {e}", ep.url))?,
            content_type: match &plan.content_type {
                Some(ct) => Some(
                    http::HeaderValue::from_str(ct)
                        .map_err(|e| format!("content type {ct:?}: {e}"))?,
                ),
                None => None,
            },
        })
    }

    fn request(&self, plan: &Plan) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(plan.body.clone()));
        *req.method_mut() = plan.method.clone();
        *req.uri_mut() = self.uri.clone();
        let h = req.headers_mut();
        if !plan.http2 {
            h.insert(header::HOST, self.host.clone());
        }
        if let Some(ct) = &self.content_type {
            h.insert(header::CONTENT_TYPE, ct.clone());
        }
        req
    }
}

/// Sends one request on `conn` and reads the whole answer; the status, or the kind of failure.
async fn exchange(conn: &mut Conn, req: Request<Full<Bytes>>) -> Result<u16, String> {
    let resp = match conn {
        Conn::H1(s) => {
            s.ready().await.map_err(|_| "closed".to_string())?;
            s.send_request(req).await
        }
        Conn::H2(s) => {
            s.ready().await.map_err(|_| "closed".to_string())?;
            s.send_request(req).await
        }
    }
    .map_err(|_| "io".to_string())?;
    let status = resp.status().as_u16();
    resp.into_body()
        .collect()
        .await
        .map_err(|_| "io".to_string())?;
    Ok(status)
}

/// One request on the connection in `slot` (a new one if empty), within the timeout. The
/// connection stays in the slot unless it failed.
async fn one(plan: &Plan, t: &Prepared, slot: &mut Option<Conn>) -> Outcome {
    match tokio::time::timeout(plan.timeout, attempt(plan, t, slot)).await {
        Ok(Ok(status)) => Outcome::Status(status),
        Ok(Err(kind)) => Outcome::Failed(kind),
        Err(_) => Outcome::Failed("timeout".into()),
    }
}

async fn attempt(plan: &Plan, t: &Prepared, slot: &mut Option<Conn>) -> Result<u16, String> {
    let req = t.request(plan);
    let mut conn = match slot.take() {
        Some(c) => c,
        None => connect(&t.ep, plan.http2).await?,
    };
    let status = exchange(&mut conn, req).await?;
    *slot = Some(conn);
    Ok(status)
}

/// A closed-loop worker's timeout. A timer armed per request costs a timer-wheel update
/// per request; this one is moved only when fewer than `timeout` remain, about ten times
/// per timeout. A request without an answer fails after between 1.0 and 1.1 × `timeout`.
struct Deadline {
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

impl Deadline {
    fn new(timeout: Duration) -> Deadline {
        Deadline {
            sleep: Box::pin(tokio::time::sleep(timeout + timeout / 10)),
            timeout,
        }
    }

    fn arm(&mut self) {
        let now = Instant::now();
        if self.sleep.deadline() < now + self.timeout {
            let at = now + self.timeout + self.timeout / 10;
            self.sleep.as_mut().reset(at);
        }
    }
}

/// [`one`] under a worker's shared [`Deadline`].
async fn one_within(
    plan: &Plan,
    t: &Prepared,
    slot: &mut Option<Conn>,
    deadline: &mut Deadline,
) -> Outcome {
    deadline.arm();
    let work = attempt(plan, t, slot);
    tokio::select! {
        biased;
        r = work => match r {
            Ok(status) => Outcome::Status(status),
            Err(kind) => Outcome::Failed(kind),
        },
        _ = deadline.sleep.as_mut() => {
            // the connection may hold a half-read answer: drop it
            Outcome::Failed("timeout".into())
        }
    }
}

/// Runs the plan to its end, sending a [`Progress`] every `every` to `progress`.
pub async fn run(
    plan: Plan,
    progress: Option<UnboundedSender<Progress>>,
    every: Duration,
) -> Result<Outcomes, String> {
    run_until(plan, progress, every, Arc::new(AtomicBool::new(false))).await
}

/// [`run`], ending early once `stop` is set: nothing new is sent, answers in flight are awaited.
pub async fn run_until(
    plan: Plan,
    progress: Option<UnboundedSender<Progress>>,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> Result<Outcomes, String> {
    let targets = Arc::new(
        plan.targets
            .iter()
            .map(|ep| Prepared::new(&plan, ep))
            .collect::<Result<Vec<_>, _>>()?,
    );
    let plan = Arc::new(plan);
    let stats = Arc::new(Mutex::new(Stats::new()));
    let start = Instant::now();
    let deadline = start + plan.duration;
    let reporter = progress.map(|tx| {
        let (stats, plan) = (stats.clone(), plan.clone());
        tokio::spawn(async move {
            let mut iv = tokio::time::interval_at(start + every, every);
            let mut last = start;
            loop {
                let now = iv.tick().await;
                let p = snapshot(&stats, &plan, now - start, now - last);
                last = now;
                if tx.send(p).is_err() {
                    return;
                }
            }
        })
    });
    let last_send = match &plan.mode {
        Mode::Open {
            profile,
            max_in_flight,
        } => {
            let last = open_loop(
                &plan,
                &targets,
                profile,
                *max_in_flight,
                &stats,
                start,
                &stop,
            )
            .await;
            Ok(last)
        }
        Mode::Closed { concurrency } => {
            closed_loop(&plan, &targets, *concurrency, &stats, deadline, &stop).await
        }
    };
    if let Some(r) = reporter {
        r.abort();
    }
    let last_send = last_send?;
    let stats = stats.lock().map(|s| s.clone()).unwrap_or_default();
    Ok(Outcomes {
        stats,
        elapsed: start.elapsed(),
        send_window: last_send.saturating_duration_since(start),
    })
}

fn snapshot(stats: &Mutex<Stats>, plan: &Plan, elapsed: Duration, window: Duration) -> Progress {
    let Ok(mut s) = stats.lock() else {
        return Progress {
            elapsed,
            ..Progress::default()
        };
    };
    let (w, n) = s.take_window();
    let target_rate = match &plan.mode {
        Mode::Open { profile, .. } => {
            Some(profile.rate_at(elapsed.as_secs_f64(), plan.duration.as_secs_f64()))
        }
        Mode::Closed { .. } => None,
    };
    Progress {
        elapsed,
        sent: s.sent,
        answered: s.answered(),
        errors: s.errors(),
        rps: n as f64 / window.as_secs_f64().max(1e-9),
        target_rate,
        p50: s.quantile_ms(0.5),
        p90: s.quantile_ms(0.9),
        p99: s.quantile_ms(0.99),
        p999: s.quantile_ms(0.999),
        window_p50: quantile_ms(&w, 0.5),
        window_p99: quantile_ms(&w, 0.99),
    }
}

/// Sends on schedule; returns when the last request has finished; the last send time.
/// The schedule runs on its own thread with the OS's precise sleeps (tokio's timer ticks in
/// milliseconds, which would add up to 1 ms of our own lag to every latency); each request
/// runs as a task on the runtime, on a pooled connection.
async fn open_loop(
    plan: &Arc<Plan>,
    targets: &Arc<Vec<Prepared>>,
    profile: &Profile,
    max_in_flight: usize,
    stats: &Arc<Mutex<Stats>>,
    start: Instant,
    stop: &Arc<AtomicBool>,
) -> Instant {
    let pools: Arc<Vec<Mutex<Vec<Conn>>>> =
        Arc::new(targets.iter().map(|_| Mutex::new(Vec::new())).collect());
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let finished = Arc::new(AtomicU64::new(0));
    let all_done = Arc::new(tokio::sync::Notify::new());
    let handle = tokio::runtime::Handle::current();
    let std_start = start.into_std();
    let dispatcher = {
        let (plan, targets, stats) = (plan.clone(), targets.clone(), stats.clone());
        let (finished, all_done, stop) = (finished.clone(), all_done.clone(), stop.clone());
        let mut schedule = Schedule::new(profile.clone(), plan.duration.as_secs_f64());
        std::thread::spawn(move || {
            let mut n: u64 = 0;
            let mut last = std_start;
            while let Some(due) = schedule.next_due() {
                if plan.max_requests.is_some_and(|m| n >= m) {
                    break;
                }
                let at = std_start + Duration::from_secs_f64(due);
                // sleep in slices so that a stop is seen within 50 ms even at low rates
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return (n, last);
                    }
                    let now = std::time::Instant::now();
                    if at <= now {
                        break;
                    }
                    std::thread::sleep((at - now).min(Duration::from_millis(50)));
                }
                let i = (n % targets.len() as u64) as usize;
                n += 1;
                last = std::time::Instant::now();
                if let Ok(mut s) = stats.lock() {
                    s.sent += 1;
                }
                let (plan, targets, pools, slots, stats) = (
                    plan.clone(),
                    targets.clone(),
                    pools.clone(),
                    slots.clone(),
                    stats.clone(),
                );
                let (finished, all_done) = (finished.clone(), all_done.clone());
                handle.spawn(async move {
                    // waiting for a free slot counts: latency runs from the scheduled time
                    let outcome = match slots.acquire().await {
                        Ok(_permit) => {
                            let mut slot = pools[i].lock().ok().and_then(|mut p| p.pop());
                            let o = one(&plan, &targets[i], &mut slot).await;
                            if let (Some(c), Ok(mut p)) = (slot, pools[i].lock()) {
                                p.push(c);
                            }
                            o
                        }
                        Err(_) => Outcome::Failed("closed".into()),
                    };
                    let latency = at.elapsed();
                    if let Ok(mut s) = stats.lock() {
                        s.record(latency, outcome);
                    }
                    finished.fetch_add(1, Ordering::Release);
                    all_done.notify_one();
                });
            }
            (n, last)
        })
    };
    // the dispatcher blocks in sleeps: join it off the runtime's workers
    let (sent, last) = tokio::task::spawn_blocking(move || dispatcher.join())
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or((0, std_start));
    while finished.load(Ordering::Acquire) < sent {
        all_done.notified().await;
    }
    Instant::from_std(last)
}

/// `concurrency` workers until the deadline or the request budget; the last send time.
/// The workers are spread over one single-threaded runtime per core (as wrk spreads its
/// connections over threads): a worker and its connection's task then always run on the
/// same thread, with no cross-thread wake-ups or work stealing per request.
async fn closed_loop(
    plan: &Arc<Plan>,
    targets: &Arc<Vec<Prepared>>,
    concurrency: usize,
    stats: &Arc<Mutex<Stats>>,
    deadline: Instant,
    stop: &Arc<AtomicBool>,
) -> Result<Instant, String> {
    let concurrency = concurrency.max(1);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(concurrency);
    let claimed = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::with_capacity(threads);
    for i in 0..threads {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a load thread: {e}"))?;
        let (plan, targets, stats, claimed, stop) = (
            plan.clone(),
            targets.clone(),
            stats.clone(),
            claimed.clone(),
            stop.clone(),
        );
        let h = std::thread::Builder::new()
            .name(format!("load-{i}"))
            .spawn(move || {
                rt.block_on(async move {
                    let mut set = tokio::task::JoinSet::new();
                    for w in (i..concurrency).step_by(threads) {
                        let ctx = (
                            plan.clone(),
                            targets.clone(),
                            stats.clone(),
                            claimed.clone(),
                            stop.clone(),
                        );
                        set.spawn(worker(w, ctx, deadline));
                    }
                    let mut last: Option<Instant> = None;
                    while let Some(r) = set.join_next().await {
                        if let Ok(t) = r {
                            last = Some(last.map_or(t, |l| l.max(t)));
                        }
                    }
                    last
                })
            })
            .map_err(|e| format!("cannot start a load thread: {e}"))?;
        handles.push(h);
    }
    // the threads block: join them off the runtime's workers
    let lasts = tokio::task::spawn_blocking(move || {
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .max()
    })
    .await
    .map_err(|e| format!("load threads: {e}"))?;
    Ok(lasts.unwrap_or_else(Instant::now))
}

type WorkerCtx = (
    Arc<Plan>,
    Arc<Vec<Prepared>>,
    Arc<Mutex<Stats>>,
    Arc<AtomicU64>,
    Arc<AtomicBool>,
);

/// One closed-loop worker: its own connection, the next request when the last answered.
async fn worker(w: usize, ctx: WorkerCtx, deadline: Instant) -> Instant {
    let (plan, targets, stats, claimed, stop) = ctx;
    let t = &targets[w % targets.len()];
    let mut conn = None;
    let mut timer = Deadline::new(plan.timeout);
    let mut local = Stats::new();
    let mut flushed = Instant::now();
    let mut last = Instant::now();
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        if plan
            .max_requests
            .is_some_and(|m| claimed.fetch_add(1, Ordering::Relaxed) >= m)
        {
            break;
        }
        let sent = Instant::now();
        last = sent;
        local.sent += 1;
        let outcome = one_within(&plan, t, &mut conn, &mut timer).await;
        local.record(sent.elapsed(), outcome);
        if flushed.elapsed() >= Duration::from_millis(100) {
            flush(&stats, &mut local);
            flushed = Instant::now();
        }
    }
    flush(&stats, &mut local);
    last
}

fn flush(stats: &Mutex<Stats>, local: &mut Stats) {
    if let Ok(mut s) = stats.lock() {
        s.merge(local);
    }
    *local = Stats::new();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that accepts and never answers: every request must end as a timeout,
    /// after between 1.0 and 1.1 × the timeout, closed loop and open loop alike.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn silent_servers_time_out_on_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        let url = format!("http://127.0.0.1:{port}/");
        for mode in [
            Mode::Closed { concurrency: 2 },
            Mode::Open {
                profile: Profile::Constant(10.0),
                max_in_flight: 100,
            },
        ] {
            let plan = Plan {
                targets: vec![Endpoint::parse(&url).unwrap()],
                method: Method::GET,
                body: Bytes::new(),
                content_type: None,
                mode: mode.clone(),
                duration: Duration::from_millis(1000),
                max_requests: None,
                http2: false,
                timeout: Duration::from_millis(200),
            };
            let o = run(plan, None, Duration::from_millis(250)).await.unwrap();
            let timeouts = o.stats.failures.get("timeout").copied().unwrap_or(0);
            assert_eq!(o.stats.answered(), 0, "{mode:?}");
            assert_eq!(timeouts, o.stats.sent, "{mode:?}: every request timed out");
            match mode {
                // 2 workers, each request 200-220 ms: 4 to 5 rounds in 1 s (the last may start at 0.99 s)
                Mode::Closed { .. } => assert!((8..=12).contains(&timeouts), "{timeouts}"),
                Mode::Open { .. } => assert!((9..=11).contains(&timeouts), "{timeouts}"),
            }
            // the run waits for the last request's timeout, not more
            assert!(
                o.elapsed < Duration::from_millis(1300),
                "{mode:?}: {:?}",
                o.elapsed
            );
        }
        hold.abort();
    }

    #[test]
    fn urls_parse_or_say_what_is_wrong() {
        let e = Endpoint::parse("http://127.0.0.1:8080/v2/models/m/infer?x=1").unwrap();
        assert_eq!(
            (
                e.host.as_str(),
                e.port,
                e.authority.as_str(),
                e.path.as_str()
            ),
            (
                "127.0.0.1",
                8080,
                "127.0.0.1:8080",
                "/v2/models/m/infer?x=1"
            )
        );
        let e = Endpoint::parse("http://[::1]/").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 80));
        for (bad, frag) in [
            ("https://127.0.0.1/", "https is not supported"),
            ("127.0.0.1:8080", "http://HOST:PORT/PATH"),
            ("http://", "not a URL"),
        ] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert!(err.contains(frag), "{bad}: {err}");
        }
    }
}
