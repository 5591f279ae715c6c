//! The console's side of an in-cluster run: creates the Job, waits for its pods (saying
//! what holds each back), starts them all at one instant through the API server's pod
//! proxy, reads their reports every second into one live [`Progress`] with a row per
//! worker, stops them when told, and deletes the Job however the run ends.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use futures::future::join_all;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

pub use super::error::FleetError;
use super::error::api_error;
pub use super::job::MAX_BODY;
use super::job::{JobInput, RUN_LABEL, job};
use super::merge::{Tracked, WorkerRow, elapsed, live_rate, merged};
use super::pods::{WorkerPod, by_index};
pub use super::proxy::FleetCluster;
use super::proxy::{proxied, read, wait_healthy};
use crate::load::engine::{Outcomes, Plan, Progress, snapshot};
use crate::load::plan::{FleetPlan, LoadPlan};

/// How long the pods may take to run (image pulls included).
pub const START_WITHIN: Duration = Duration::from_secs(180);
/// Between telling the workers the instant and that instant.
const LEAD: Duration = Duration::from_secs(2);
const READ_EVERY: Duration = Duration::from_secs(1);
/// Reads missed in a row before a worker is lost.
const GIVE_UP: u32 = 3;
/// After a stop, the workers get the request timeout and this to finish their answers in
/// flight.
const STOP_MARGIN: Duration = Duration::from_secs(5);
/// How long a worker keeps answering after its run.
const LINGER: Duration = Duration::from_secs(120);

/// A finished in-cluster run.
#[derive(Debug, Clone)]
pub struct FleetOutcome {
    pub outcomes: Outcomes,
    pub workers: Vec<WorkerRow>,
    pub job: String,
    /// The Job could not be deleted (its TTL and deadline remain).
    pub cleanup: Option<String>,
}

/// A short id for the run's Job name, lowercase as names must be.
pub fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 40);
    format!("{:08x}", mixed & 0xffff_ffff)
}

/// The Job for `fleet` with `plan`'s body (a `--body` file, empty or not, makes the workers
/// POST it, as a local run does; none, GET).
pub fn job_input(fleet: &FleetPlan, plan: &Plan, id: String) -> Result<JobInput, FleetError> {
    let body_b64 = if plan.method != http::Method::POST {
        None
    } else if plan.body.len() > MAX_BODY {
        return Err(FleetError::BodyTooBig(plan.body.len()));
    } else {
        Some(base64::engine::general_purpose::STANDARD.encode(&plan.body))
    };
    Ok(JobInput {
        id,
        image: fleet.image.clone(),
        workers: fleet.workers,
        words: fleet.words.clone(),
        body_b64,
        wait: START_WITHIN + Duration::from_secs(60),
        linger: LINGER,
        run: plan.duration + plan.timeout,
    })
}

/// Deletes Job `name` and, after it, its pods (background propagation): true when this
/// deleted it, false when it was already gone.
pub async fn delete_job(cluster: &FleetCluster, name: &str) -> Result<bool, FleetError> {
    let ns = &cluster.namespace;
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), ns);
    match jobs.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(api_error(&format!("delete job {name} in {ns}"), ns, e)),
    }
}

/// Runs `checked` (which has a fleet) from the cluster's pods, as Job `tractor-load-{id}`.
pub async fn run(
    cluster: &FleetCluster,
    checked: &LoadPlan,
    fleet: &FleetPlan,
    id: String,
    progress: Option<UnboundedSender<Progress>>,
    stop: Arc<AtomicBool>,
) -> Result<FleetOutcome, FleetError> {
    let plan = checked.engine_plan()?;
    let input = job_input(fleet, &plan, id)?;
    let name = input.name();
    let ns = &cluster.namespace;
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), ns);
    jobs.create(&PostParams::default(), &job(&input))
        .await
        .map_err(|e| api_error(&format!("create job {name}"), ns, e))?;
    tracing::info!(job = %name, namespace = %ns, workers = fleet.workers, "load Job created");
    let result = drive(cluster, &input, &plan, progress, &stop).await;
    // however the run ended: the Job goes, with its pods (a console that dies here leaves
    // it to the Job's deadline and TTL)
    let cleanup = delete_job(cluster, &name)
        .await
        .err()
        .map(|e| e.to_string());
    if let Some(c) = &cleanup {
        tracing::warn!(cleanup = %c, "load Job left behind");
    }
    let (outcomes, workers) = result?;
    Ok(FleetOutcome {
        outcomes,
        workers,
        job: name,
        cleanup,
    })
}

fn send(progress: &Option<UnboundedSender<Progress>>, p: Progress) {
    if let Some(tx) = progress {
        let _ = tx.send(p);
    }
}

/// Waits for every worker pod to run with an IP, sending their states meanwhile.
async fn wait_for_pods(
    cluster: &FleetCluster,
    input: &JobInput,
    progress: &Option<UnboundedSender<Progress>>,
    stop: &AtomicBool,
) -> Result<Vec<WorkerPod>, FleetError> {
    let ns = &cluster.namespace;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), ns);
    let lp = ListParams::default().labels(&format!("{RUN_LABEL}={}", input.id));
    let began = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(FleetError::Stopped);
        }
        let list = pods
            .list(&lp)
            .await
            .map_err(|e| api_error(&format!("list pods of job {}", input.name()), ns, e))?;
        let ws = by_index(&list.items);
        if let Some((pod, why)) = ws
            .iter()
            .find_map(|w| w.hopeless().map(|why| (w.name.clone(), why)))
        {
            return Err(FleetError::PodFailed {
                pod,
                why,
                image: input.image.clone(),
            });
        }
        let rows = (0..input.workers)
            .map(|i| match ws.iter().find(|w| w.index == i) {
                Some(w) => pending_row(i, &w.name, w.state()),
                None => pending_row(i, "-", "no pod yet".into()),
            })
            .collect();
        send(
            progress,
            Progress {
                workers: rows,
                ..Progress::default()
            },
        );
        let up = ws.iter().filter(|w| w.up()).count();
        if up == input.workers as usize {
            return Ok(ws);
        }
        if began.elapsed() > START_WITHIN {
            let detail = ws
                .iter()
                .find(|w| !w.up())
                .map(|w| format!("{} is {}", w.name, w.state()))
                .unwrap_or_else(|| format!("{} pods exist", ws.len()));
            return Err(FleetError::NotStarted {
                up,
                workers: input.workers,
                waited: began.elapsed(),
                detail,
                job: input.name(),
                namespace: ns.clone(),
            });
        }
        tokio::time::sleep(READ_EVERY).await;
    }
}

fn pending_row(index: u32, pod: &str, state: String) -> WorkerRow {
    WorkerRow {
        index,
        pod: pod.to_string(),
        state,
        sent: 0,
        errors: 0,
        lag_p99_ms: None,
        cpu_cores: None,
    }
}

/// Starts, reads and stops the workers; their merged outcomes and rows.
async fn drive(
    cluster: &FleetCluster,
    input: &JobInput,
    plan: &Plan,
    progress: Option<UnboundedSender<Progress>>,
    stop: &AtomicBool,
) -> Result<(Outcomes, Vec<WorkerRow>), FleetError> {
    let pods = wait_for_pods(cluster, input, &progress, stop).await?;
    wait_healthy(cluster, &pods, stop).await?;
    if stop.load(Ordering::Relaxed) {
        return Err(FleetError::Stopped);
    }
    // relative to each worker's own clock (this machine's may be off from the nodes')
    let t0 = Instant::now() + LEAD;
    let start = format!("start?in_ms={}", LEAD.as_millis());
    let starts = join_all(
        pods.iter()
            .map(|p| proxied(cluster, http::Method::POST, &p.name, &start)),
    )
    .await;
    let mut tracked: Vec<Tracked> = pods
        .iter()
        .map(|p| Tracked::new(p.index, p.name.clone()))
        .collect();
    for (t, r) in tracked.iter_mut().zip(starts) {
        if let Err(e) = r {
            t.lose(format!("not started: {e}"));
        }
    }
    if tracked.iter().all(|t| t.lost.is_some()) {
        let why = tracked
            .iter()
            .find_map(|t| t.lost.clone())
            .unwrap_or_default();
        return Err(FleetError::NoneStarted(why));
    }
    tracing::info!("load workers started");
    // a send may wait for an in-flight slot, then for its answer: two timeouts past the end
    let deadline = t0 + plan.duration + 2 * plan.timeout + Duration::from_secs(15);
    let drain = plan.timeout + STOP_MARGIN;
    let mut last = Instant::now();
    let mut stopping: Option<Instant> = None;
    let mut ticks = tokio::time::interval(READ_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if stopping.is_none() && stop.load(Ordering::Relaxed) {
            stopping = Some(Instant::now());
            let live: Vec<&Tracked> = tracked.iter().filter(|t| !t.ended()).collect();
            join_all(
                live.iter()
                    .map(|t| proxied(cluster, http::Method::POST, &t.pod, "stop")),
            )
            .await;
        }
        let reads = join_all(
            tracked
                .iter()
                .map(|t| async move { (!t.ended()).then_some(read(cluster, &t.pod).await) }),
        )
        .await;
        for (t, r) in tracked.iter_mut().zip(reads) {
            match r {
                Some(Ok((report, stats))) => t.read(report, stats),
                Some(Err(why)) => t.missed(why.to_string(), GIVE_UP),
                None => t.idle(),
            }
        }
        let now = Instant::now();
        let stats = Mutex::new(merged(&mut tracked));
        let mut p = snapshot(
            &stats,
            plan,
            now.saturating_duration_since(t0),
            now.saturating_duration_since(last),
            None,
        );
        last = now;
        // the merged figures lag by up to a merge (100 ms) per worker: a 1 s window of them
        // swings by a tenth; the live counts do not
        if let Some(rate) = live_rate(&tracked) {
            p.rps = rate;
        }
        p.workers = tracked.iter().map(Tracked::row).collect();
        send(&progress, p);
        if tracked.iter().all(Tracked::ended) {
            break;
        }
        let late = if now > deadline {
            Some("no end by the run's deadline (duration + 2 × timeout + 15 s)")
        } else if stopping.is_some_and(|s| now.saturating_duration_since(s) > drain) {
            Some("did not stop within the request timeout + 5 s of the stop")
        } else {
            None
        };
        if let Some(why) = late {
            for t in tracked.iter_mut() {
                t.lose(why.to_string());
            }
            break;
        }
    }
    let total = merged(&mut tracked);
    let (elapsed, send_window) = elapsed(&tracked);
    let rows = tracked.iter().map(Tracked::row).collect();
    Ok((
        Outcomes {
            stats: total,
            elapsed,
            send_window,
            // each worker's is in its row: the console's own is not the generator's
            cpu_cores: None,
            // the workers' own, not reported by them
            sender_priority: None,
        },
        rows,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::line::parse_args;

    fn plan_of(line: &str) -> (LoadPlan, Plan) {
        let a = parse_args(line).unwrap();
        let lp = LoadPlan::from_args(&a).unwrap();
        let p = lp.engine_plan().unwrap();
        (lp, p)
    }

    #[test]
    fn the_job_carries_the_workers_flags_and_a_body_within_bounds() {
        let (lp, mut p) =
            plan_of("--url http://classifier:8080/ --rate 100 --workers 3 --in-cluster");
        let fleet = lp.fleet.clone().unwrap();
        let i = job_input(&fleet, &p, "ab12".into()).unwrap();
        assert_eq!((i.workers, i.body_b64.clone()), (3, None));
        assert!(
            i.words.windows(2).any(|w| w == ["--workers", "3"]),
            "{:?}",
            i.words
        );
        assert!(
            !i.words.iter().any(|w| w == "--in-cluster"),
            "{:?}",
            i.words
        );
        assert_eq!(i.run, p.duration + p.timeout);
        // a --body file makes a POST (the plan says so), even an empty one
        p.method = http::Method::POST;
        p.body = bytes::Bytes::from_static(b"{\"a\":1}");
        let i = job_input(&fleet, &p, "ab12".into()).unwrap();
        assert_eq!(i.body_b64.as_deref(), Some("eyJhIjoxfQ=="));
        p.body = bytes::Bytes::new();
        let i = job_input(&fleet, &p, "ab12".into()).unwrap();
        assert_eq!(i.body_b64.as_deref(), Some(""));
        p.body = bytes::Bytes::from(vec![b'x'; MAX_BODY + 1]);
        let e = job_input(&fleet, &p, "ab12".into()).unwrap_err();
        assert!(e.to_string().contains("--body is 65537 bytes"), "{e}");
    }

    #[test]
    fn run_ids_are_names_a_job_may_take() {
        let id = run_id();
        assert_eq!(id.len(), 8);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn a_forbidden_create_names_the_role_to_apply() {
        let status =
            kube::core::Status::failure("jobs.batch is forbidden", "Forbidden").with_code(403);
        let e = api_error(
            "create job tractor-load-x",
            "ml",
            kube::Error::Api(Box::new(status)),
        );
        let s = e.to_string();
        assert!(
            s.starts_with("creating a Job in namespace ml is forbidden"),
            "{s}"
        );
        assert!(s.contains("tractor-operator"), "{s}");
    }
}
