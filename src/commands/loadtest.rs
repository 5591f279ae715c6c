//! `tractor loadtest`: builds the plan from flags, runs the engine with a live progress
//! line on stderr, prints the summary, writes JSON, and exits 1 on a missed SLO.
use std::io::{IsTerminal, Write};
use std::time::Duration;

use bytes::Bytes;
use http::Method;

use crate::cli::{LoadtestArgs, exit};
use crate::load::engine::{Endpoint, Mode, Plan, Progress, run as run_plan};
use crate::load::profile::Profile;
use crate::load::report::{Slo, Summary};

/// The plan the flags describe, or what is wrong with them.
pub fn plan(a: &LoadtestArgs) -> Result<Plan, String> {
    let targets = a
        .urls
        .iter()
        .map(|u| Endpoint::parse(u))
        .collect::<Result<Vec<_>, _>>()?;
    if a.duration.is_zero() {
        return Err("--duration must be more than 0".into());
    }
    let mode = match a.concurrency {
        Some(0) => return Err("--concurrency must be at least 1".into()),
        Some(c) => {
            if a.profile != "constant" {
                return Err("--profile applies to the open loop; drop it or --concurrency".into());
            }
            Mode::Closed { concurrency: c }
        }
        None => {
            if let Some(r) = a.rate
                && (!r.is_finite() || r <= 0.0)
            {
                return Err(format!("--rate {r} must be more than 0"));
            }
            Mode::Open {
                profile: Profile::parse(&a.profile, a.rate)?,
                max_in_flight: a.max_in_flight.max(1),
            }
        }
    };
    let (method, body) = match &a.body {
        Some(path) => {
            let b = std::fs::read(path).map_err(|e| format!("--body {}: {e}", path.display()))?;
            (Method::POST, Bytes::from(b))
        }
        None => (Method::GET, Bytes::new()),
    };
    Ok(Plan {
        targets,
        content_type: a.body.as_ref().map(|_| a.content_type.clone()),
        method,
        body,
        mode,
        duration: a.duration,
        max_requests: a.max_requests,
        http2: a.http2,
        timeout: a.timeout,
    })
}

pub fn slo(a: &LoadtestArgs) -> Slo {
    Slo {
        p99_ms: a.slo_p99.map(|d| d.as_secs_f64() * 1000.0),
        error_rate: a.slo_error_rate,
    }
}

/// The flags that describe the run itself, as one line the console's load prompt takes.
pub fn to_line(a: &LoadtestArgs) -> String {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let mut w: Vec<String> = Vec::new();
    for u in &a.urls {
        w.extend(["--url".into(), u.clone()]);
    }
    if let Some(r) = a.rate {
        w.extend(["--rate".into(), r.to_string()]);
    }
    if let Some(c) = a.concurrency {
        w.extend(["--concurrency".into(), c.to_string()]);
    }
    if a.profile != "constant" {
        w.extend(["--profile".into(), a.profile.clone()]);
    }
    w.extend(["--duration".into(), ms(a.duration)]);
    if let Some(n) = a.max_requests {
        w.extend(["--requests".into(), n.to_string()]);
    }
    if let Some(b) = &a.body {
        w.extend(["--body".into(), b.display().to_string()]);
        if a.content_type != "application/json" {
            w.extend(["--content-type".into(), a.content_type.clone()]);
        }
    }
    if a.http2 {
        w.push("--http2".into());
    }
    if a.max_in_flight != 1000 {
        w.extend(["--max-in-flight".into(), a.max_in_flight.to_string()]);
    }
    if a.timeout != Duration::from_secs(30) {
        w.extend(["--timeout".into(), ms(a.timeout)]);
    }
    if let Some(d) = a.slo_p99 {
        w.extend(["--slo-p99".into(), ms(d)]);
    }
    if let Some(e) = a.slo_error_rate {
        w.extend(["--slo-error-rate".into(), e.to_string()]);
    }
    w.join(" ")
}

/// Writes the summary's JSON to `path` (`-`: stdout).
pub fn write_json(summary: &Summary, slo: &Slo, path: &std::path::Path) -> Result<(), String> {
    let text = serde_json::to_string_pretty(&summary.to_json(slo)).unwrap_or_default();
    let written = if path.as_os_str() == "-" {
        println!("{text}");
        Ok(())
    } else {
        std::fs::write(path, text + "\n")
    };
    written.map_err(|e| format!("--json {}: {e}", path.display()))
}

/// The run on the console's monitor screen: with `--deploy`, beside that deployment's
/// servers; without, beside the `--scrape` URLs only (no cluster needed).
pub async fn console(
    cli: &crate::cli::Cli,
    a: &LoadtestArgs,
    config: crate::config::Config,
) -> color_eyre::Result<i32> {
    if let Err(e) = plan(a).and_then(|_| crate::scrape::urls::check(&a.scrape)) {
        return Ok(super::fail(exit::USAGE, &e));
    }
    if a.json.as_ref().is_some_and(|p| p.as_os_str() == "-") {
        return Ok(super::fail(
            exit::USAGE,
            "--json - writes to standard output, which is the screen: add --no-tui or give a file",
        ));
    }
    let mut line = to_line(a);
    if let Some(p) = &a.json {
        line.push_str(&format!(" --json {}", p.display()));
    }
    let (cluster, view, ns) = match &a.deploy {
        Some(t) => {
            let name = match crate::cli::parse_target(t) {
                Ok(n) => n,
                Err(e) => return Ok(super::fail(exit::USAGE, &e)),
            };
            let ctx = match super::context(cli, config.clone()).await {
                Ok(c) => c,
                Err((code, e)) => return Ok(super::fail(code, &e)),
            };
            let view = crate::state::View::Monitor(Some((ctx.namespace.clone(), name)));
            let ns = Some(vec![ctx.namespace.clone()]);
            (crate::app::Cluster::Kube(ctx.conn, ctx.runner), view, ns)
        }
        None => (
            crate::app::Cluster::None,
            crate::state::View::Monitor(None),
            None,
        ),
    };
    let start = crate::app::Start {
        view: Some(view),
        load: Some(line),
        scrape_urls: a.scrape.clone(),
    };
    match crate::app::run(cluster, config, ns, start).await? {
        Some(Ok(summary)) => eprintln!("load test: {summary}"),
        Some(Err(e)) => eprintln!("load test failed: {e}"),
        None => eprintln!("load test: left before it ended"),
    }
    Ok(exit::OK)
}

pub async fn run(a: &LoadtestArgs) -> i32 {
    let plan = match plan(a) {
        Ok(p) => p,
        Err(e) => return super::fail(exit::USAGE, &e),
    };
    let slo = slo(a);
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
    let every = Duration::from_millis(250);
    let outcomes = run_plan(plan.clone(), Some(tx), every).await;
    let _ = printer.await;
    let outcomes = match outcomes {
        Ok(o) => o,
        Err(e) => return super::fail(exit::USAGE, &e),
    };
    let summary = Summary::new(&plan, &outcomes);
    eprint!("{}", summary.table());
    if let Some(path) = &a.json
        && let Err(e) = write_json(&summary, &slo, path)
    {
        return super::fail(exit::FAILED, &e);
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
    format!(
        "[{bar}] {}  errors {}",
        p.figures(total.as_secs_f64()),
        p.errors
    )
}
