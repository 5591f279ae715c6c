//! `tractor loadtest`: builds the plan from flags, runs the engine with a live progress
//! line on stderr, prints the summary, writes JSON, and exits 1 on a missed SLO.
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::cli::{LoadtestArgs, exit};
use crate::load::engine::{Progress, run as run_plan};
use crate::load::fleet::coordinator::{self, FleetCluster};
use crate::load::line::to_line;
use crate::load::plan::LoadPlan;
use crate::load::report::{Slo, Summary};

/// The run on the console's monitor screen: with `--deploy`, beside that deployment's
/// servers; without, beside the `--scrape` URLs only (no cluster needed).
pub async fn console(
    cli: &crate::cli::Cli,
    a: &LoadtestArgs,
    config: crate::config::Config,
) -> color_eyre::Result<i32> {
    // the flags and the body file are checked before the screen opens
    if let Err(e) = LoadPlan::from_args(a).and_then(|p| p.engine_plan()) {
        return Ok(super::fail(exit::USAGE, e));
    }
    if let Err(e) = crate::scrape::urls::check(&a.scrape, &a.tls) {
        return Ok(super::fail(exit::USAGE, &e));
    }
    if a.json.as_ref().is_some_and(|p| p.as_os_str() == "-") {
        return Ok(super::fail(
            exit::USAGE,
            "--json - writes to standard output, which is the screen: add --no-tui or give a file",
        ));
    }
    let line = to_line(a);
    let (cluster, view, ns, prometheus) = match &a.deploy {
        Some(t) => {
            let name = match crate::cli::parse_target(t) {
                Ok(n) => n,
                Err(e) => return Ok(super::fail(exit::USAGE, &e)),
            };
            let ctx = match super::context(cli, config.clone()).await {
                Ok(c) => c,
                Err(e) => return Ok(super::fail(exit::FAILED, e)),
            };
            // the deployment's figures from Prometheus when the config or --prometheus says so
            let prometheus = match crate::prom::setup::from_cli(
                &config,
                cli.prometheus.as_deref(),
                &ctx.conn.client,
                &cli.tls,
            ) {
                Ok(p) => p,
                Err(e) => return Ok(super::fail(exit::USAGE, e)),
            };
            let view = crate::state::View::Monitor(Some((ctx.namespace.clone(), name)));
            let ns = Some(vec![ctx.namespace.clone()]);
            (
                crate::app::Cluster::Kube(ctx.conn, ctx.runner),
                view,
                ns,
                prometheus,
            )
        }
        // the workers' Job needs the cluster, even with no deployment to watch beside them
        None if a.in_cluster => {
            let ctx = match super::context(cli, config.clone()).await {
                Ok(c) => c,
                Err(e) => return Ok(super::fail(exit::FAILED, e)),
            };
            let ns = Some(vec![ctx.namespace.clone()]);
            (
                crate::app::Cluster::Kube(ctx.conn, ctx.runner),
                crate::state::View::Monitor(None),
                ns,
                None,
            )
        }
        None => (
            crate::app::Cluster::None,
            crate::state::View::Monitor(None),
            None,
            None,
        ),
    };
    let start = crate::app::Start {
        view: Some(view),
        load: Some(line),
        scrape_urls: a.scrape.clone(),
        scrape_tls: a.tls.clone(),
        prometheus,
    };
    match crate::app::run(cluster, config, ns, start).await? {
        Some(Ok(summary)) => eprintln!("load test: {summary}"),
        Some(Err(e)) => eprintln!("load test failed: {e}"),
        None => eprintln!("load test: left before it ended"),
    }
    Ok(exit::OK)
}

pub async fn run(cli: &crate::cli::Cli, a: &LoadtestArgs, config: crate::config::Config) -> i32 {
    let checked = match LoadPlan::from_args(a) {
        Ok(p) => p,
        Err(e) => return super::fail(exit::USAGE, e),
    };
    let plan = match checked.engine_plan() {
        Ok(p) => p,
        Err(e) => return super::fail(exit::USAGE, e),
    };
    let slo = checked.slo.clone();
    let tty = std::io::stderr().is_terminal();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let total = plan.duration;
    let printer = tokio::spawn(async move {
        let mut last_line = Duration::ZERO;
        while let Some(p) = rx.recv().await {
            let line = progress_line(&p, total);
            let mut err = std::io::stderr();
            if tty {
                let _ = write!(err, "\r\x1b[2K{line}");
            } else if p.elapsed >= last_line + Duration::from_secs(1) {
                last_line = p.elapsed;
                let _ = writeln!(err, "{line}");
            }
            let _ = err.flush();
        }
        if tty {
            eprintln!();
        }
    });
    let summary = match &checked.fleet {
        None => {
            let every = Duration::from_millis(250);
            let outcomes = run_plan(plan.clone(), Some(tx), every).await;
            let _ = printer.await;
            match outcomes {
                Ok(o) => Summary::new(&plan, &o),
                Err(e) => return super::fail(exit::USAGE, e),
            }
        }
        Some(fleet) => {
            let ctx = match super::context(cli, config).await {
                Ok(c) => c,
                Err(e) => return super::fail(exit::FAILED, e),
            };
            if ctx.read_only {
                return super::fail(exit::REFUSED, coordinator::FleetError::ReadOnly);
            }
            let cluster = FleetCluster {
                client: ctx.conn.client.clone(),
                namespace: ctx.namespace.clone(),
            };
            // Ctrl-C stops the workers and deletes the Job instead of leaving them running
            let stop = Arc::new(AtomicBool::new(false));
            let on_signal = {
                let stop = stop.clone();
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        eprintln!("\nstopping the workers…");
                        stop.store(true, Ordering::Relaxed);
                    }
                })
            };
            let id = coordinator::run_id();
            let ran = coordinator::run(&cluster, &checked, fleet, id, Some(tx), stop).await;
            on_signal.abort();
            let _ = printer.await;
            match ran {
                Ok(o) => {
                    if let Some(c) = &o.cleanup {
                        eprintln!(
                            "warning: {c}: delete it yourself (kubectl delete job {} -n {})",
                            o.job, cluster.namespace
                        );
                    }
                    Summary::new(&plan, &o.outcomes).with_workers(o.workers)
                }
                Err(e) => {
                    let code = match &e {
                        coordinator::FleetError::Forbidden { .. } => exit::FORBIDDEN,
                        coordinator::FleetError::Plan(_)
                        | coordinator::FleetError::BodyTooBig(_) => exit::USAGE,
                        _ => exit::FAILED,
                    };
                    return super::fail(code, e);
                }
            }
        }
    };
    eprint!("{}", summary.table());
    if let Some(path) = &checked.json
        && let Err(e) = summary.write_json(&slo, path)
    {
        return super::fail(exit::FAILED, e);
    }
    if summary.partial().is_some() {
        // a worker failed or was lost: the totals are not the run that was asked for
        return exit::FAILED;
    }
    let missed = summary.missed(&slo);
    if missed.is_empty() {
        if slo != Slo::default() {
            eprintln!("SLO met");
        }
        exit::OK
    } else {
        eprintln!("SLO missed: {}", missed.join("; "));
        exit::FAILED
    }
}

/// `tractor loadtest-worker`: one pod of an in-cluster run (see [`crate::load::fleet::worker`]).
pub async fn worker(a: &crate::cli::LoadtestWorkerArgs) -> i32 {
    use crate::load::fleet::worker::{BODY_ENV, WorkerSetup, decode_body, run};
    let mut load = a.load.clone();
    let workers = load.workers.take().unwrap_or(1);
    load.in_cluster = false;
    let plan = match LoadPlan::from_args(&load) {
        Ok(p) => p,
        Err(e) => return super::fail(exit::USAGE, e),
    };
    let body = match std::env::var(BODY_ENV) {
        Ok(b64) => match decode_body(&b64) {
            Ok(b) => Some(b),
            Err(e) => return super::fail(exit::USAGE, e),
        },
        Err(_) => None,
    };
    let setup = WorkerSetup {
        listen: a.listen,
        index: a.index,
        workers,
        wait: a.wait,
        linger: a.linger,
        plan,
        body,
    };
    match run(setup).await {
        Ok(()) => exit::OK,
        Err(e) => super::fail(exit::FAILED, e),
    }
}

/// `[=====>    ] 12.3/30.0 s  sent 6150  498/s (target 500)  p50 1.20 p90 2.01 p99 3.10 p99.9 5.00 ms  errors 0`
pub fn progress_line(p: &Progress, total: Duration) -> String {
    const W: usize = 20;
    let frac = (p.elapsed.as_secs_f64() / total.as_secs_f64().max(1e-9)).clamp(0.0, 1.0);
    let filled = (frac * W as f64).round() as usize;
    let bar: String = (0..W)
        .map(|i| match i.cmp(&filled) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => ' ',
        })
        .collect();
    let warning = p
        .health
        .warning()
        .map(|w| format!("  {w}"))
        .unwrap_or_default();
    format!(
        "[{bar}] {}  errors {}{}{warning}",
        p.figures(total.as_secs_f64()),
        p.errors,
        workers_fragment(&p.workers)
    )
}

/// `  workers: 3 running, 1 pending: ContainerCreating`: an in-cluster run's workers, by state.
fn workers_fragment(rows: &[crate::load::fleet::merge::WorkerRow]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in rows {
        match counts.iter_mut().find(|(s, _)| *s == r.state) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.state.clone(), 1)),
        }
    }
    if counts.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    format!("  workers: {}", parts.join(", "))
}
