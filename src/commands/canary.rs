//! `tractor rollout canary`: the plan from flags and file, a preview (the steps against the
//! stable's replicas now, and a server-side dry run of the canary), confirmation, then the
//! run driven to its outcome with a line per window (`-o json`: a JSON object per line).
//! `status`, `promote`, `abort` and `resume` act on a canary that runs.
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use jiff::Timestamp;

use super::{Ctx, context, fail};
use crate::action::Target;
use crate::canary::backend::CanaryBackend;
use crate::canary::drive::{self, Audit, DriveError, Outcome, Progress, Settings};
use crate::canary::holder::default_ttl;
use crate::canary::kube::{self, KubeCanary};
use crate::canary::lines;
use crate::canary::{AnalysisFile, CanaryPlan, CanaryState, decide_lease};
use crate::cli::canary::{CanaryCli, CanaryStart, CanarySub, CanaryTarget};
use crate::cli::{Cli, Output, exit, parse_target};
use crate::config::Config;

fn target(ctx: &Ctx, stable: &str) -> Target {
    Target {
        namespace: ctx.namespace.clone(),
        name: stable.into(),
    }
}

fn settings(ctx: &Ctx, ttl: Duration) -> Settings {
    kube::settings(&ctx.runner, ttl)
}

fn audit(ctx: &Ctx, stable: &str) -> Audit {
    kube::audit(&ctx.runner, &target(ctx, stable))
}

fn backend(ctx: &Ctx, stable: &str) -> KubeCanary {
    KubeCanary::for_runner(
        &ctx.runner,
        &target(ctx, stable),
        (&ctx.config.scrape).into(),
    )
}

/// Prints each report: a line, or a JSON object per line.
fn printer(json: bool) -> impl FnMut(&Progress) + Send {
    move |p: &Progress| {
        let mut out = std::io::stdout().lock();
        let text = if json {
            serde_json::to_string(p).unwrap_or_default()
        } else {
            lines::line(p)
        };
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// The outcome's line (or JSON object) and exit code.
fn ended(r: Result<Outcome, DriveError>, json: bool) -> i32 {
    match r {
        Ok(o) => {
            if json {
                println!("{}", serde_json::to_string(&o).unwrap_or_default());
            } else {
                println!("{o}");
            }
            o.exit_code()
        }
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "outcome": "error", "message": e.to_string() })
                );
            }
            fail(e.exit_code(), e)
        }
    }
}

fn confirm(question: &str) -> Result<(), &'static str> {
    if !std::io::stdin().is_terminal() {
        return Err(
            "not confirmed: stdin is not a terminal; pass --yes to go ahead without a prompt",
        );
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err("declined: nothing was changed")
    }
}

pub async fn run(cli: &Cli, c: &CanaryCli, config: Config) -> i32 {
    match &c.cmd {
        None => start(cli, &c.start, config).await,
        Some(CanarySub::Status(t)) => status(cli, t, config).await,
        Some(CanarySub::Promote(t)) => by_hand(cli, t, config, true).await,
        Some(CanarySub::Abort(t)) => by_hand(cli, t, config, false).await,
        Some(CanarySub::Resume(r)) => {
            let json = r.target.output == Some(Output::Json);
            let (ctx, stable) = match connect(cli, &r.target.target, config).await {
                Ok(c) => c,
                Err(code) => return code,
            };
            let b = backend(&ctx, &stable);
            let ttl = match (r.lease_ttl, b.load().await) {
                (Some(t), _) => t,
                (None, Ok(Some(l))) => default_ttl(l.state.plan.interval),
                (None, _) => default_ttl(Duration::from_secs(60)),
            };
            let mut print = printer(json);
            let out = drive::resume(
                &b,
                &settings(&ctx, ttl),
                &audit(&ctx, &stable),
                &mut print,
                true,
                r.take_over,
            )
            .await;
            ended(out, json)
        }
    }
}

async fn connect(cli: &Cli, target: &str, config: Config) -> Result<(Ctx, String), i32> {
    let stable = parse_target(target).map_err(|e| fail(exit::USAGE, e))?;
    let ctx = context(cli, config)
        .await
        .map_err(|e| fail(exit::FAILED, e))?;
    Ok((ctx, stable))
}

async fn start(cli: &Cli, a: &CanaryStart, config: Config) -> i32 {
    let json = a.output == Some(Output::Json);
    let file = match &a.analysis {
        None => None,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => match AnalysisFile::parse(path, &text) {
                Ok(f) => Some(f),
                Err(e) => return fail(exit::USAGE, e),
            },
            Err(e) => {
                return fail(
                    exit::USAGE,
                    format!("cannot read the analysis file {}: {e}", path.display()),
                );
            }
        },
    };
    let scrape_interval = Duration::from_millis(config.scrape.interval_ms);
    let plan = match CanaryPlan::build(&a.plan_args(), file.as_ref(), scrape_interval) {
        Ok(p) => p,
        Err(e) => return fail(exit::USAGE, e),
    };
    let ctx = match context(cli, config).await {
        Ok(c) => c,
        Err(e) => return fail(exit::FAILED, e),
    };
    if ctx.read_only {
        return fail(
            exit::REFUSED,
            format!(
                "read-only: canary refused for deploy/{} (context \"{}\" is read-only); nothing was sent",
                plan.target, ctx.conn.context
            ),
        );
    }
    let stable = plan.target.clone();
    let b = backend(&ctx, &stable);
    let s = settings(&ctx, a.lease_ttl.unwrap_or(default_ttl(plan.interval)));
    if let Err(code) = preview(&b, &plan, &s, &ctx).await {
        return code;
    }
    if a.dry_run {
        eprintln!("dry run: nothing was changed");
        return exit::OK;
    }
    if !a.yes
        && let Err(why) = confirm("start the canary?")
    {
        return fail(exit::REFUSED, why);
    }
    let mut print = printer(json);
    let out = drive::start(&b, plan, &s, &audit(&ctx, &stable), &mut print).await;
    ended(out, json)
}

/// The plan against the cluster as it is: the steps resolved, and the canary accepted by a
/// server-side dry run. Printed on stderr.
async fn preview(b: &KubeCanary, plan: &CanaryPlan, s: &Settings, ctx: &Ctx) -> Result<(), i32> {
    let stable = b
        .stable_replicas()
        .await
        .map_err(|e| fail(e.exit_code(), e))?;
    let sizes = plan
        .steps
        .resolve(stable)
        .map_err(|e| fail(exit::USAGE, e))?;
    let state = CanaryState::start(plan.clone(), Timestamp::now());
    let lease = decide_lease(None, &s.me, Timestamp::now(), s.lease_ttl)
        .map_err(|e| fail(exit::REFUSED, e))?;
    b.dry_run(&state, &lease, sizes[0])
        .await
        .map_err(|e| fail(e.exit_code(), e))?;
    let mut err = std::io::stderr();
    for l in lines::preview(
        plan,
        &ctx.namespace,
        (&b.canary_name(), lines::CHECKED_BY_API_SERVER),
        stable,
        &sizes,
    ) {
        let _ = writeln!(err, "{l}");
    }
    if let Ok(Some(m)) = b.managed_by().await {
        let _ = writeln!(err, "  promotion: {}", m.warning());
    }
    Ok(())
}

async fn status(cli: &Cli, t: &CanaryTarget, config: Config) -> i32 {
    let (ctx, stable) = match connect(cli, &t.target, config).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let b = backend(&ctx, &stable);
    let loaded = match b.load().await {
        Ok(Some(l)) => l,
        Ok(None) => {
            return fail(
                exit::FAILED,
                DriveError::NoCanary {
                    stable: stable.clone(),
                },
            );
        }
        Err(e) => return fail(e.exit_code(), e),
    };
    let stable_replicas = match b.stable_replicas().await {
        Ok(n) => n,
        Err(e) => return fail(e.exit_code(), e),
    };
    if t.output == Some(Output::Json) {
        let v = serde_json::json!({
            "stable": stable,
            "canary": b.canary_name(),
            "plan": loaded.state.plan,
            "run": crate::canary::state::run_json(&loaded.state.run),
            "started_at": loaded.state.started_at.to_string(),
            "last_verdict": loaded.state.last_verdict,
            "lease": loaded.lease,
            "canary_replicas": loaded.replicas,
            "stable_replicas": stable_replicas,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        let now = Timestamp::now();
        for l in lines::status(&stable, &b.canary_name(), &loaded, stable_replicas, now) {
            println!("{l}");
        }
    }
    exit::OK
}

async fn by_hand(cli: &Cli, t: &CanaryTarget, config: Config, promote: bool) -> i32 {
    let json = t.output == Some(Output::Json);
    let (ctx, stable) = match connect(cli, &t.target, config).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    if ctx.read_only {
        let verb = if promote { "promote" } else { "abort" };
        return ended(Err(DriveError::ReadOnly { verb }), json);
    }
    let b = backend(&ctx, &stable);
    let what = if promote {
        format!("promote the canary: deploy/{stable} takes its template")
    } else {
        format!("abort the canary: remove deploy/{}", b.canary_name())
    };
    eprintln!("{what}");
    if !t.yes
        && let Err(why) = confirm("go ahead?")
    {
        return fail(exit::REFUSED, why);
    }
    let ttl = default_ttl(Duration::from_secs(60));
    let mut print = printer(json);
    let out = drive::by_hand(
        &b,
        &settings(&ctx, ttl),
        &audit(&ctx, &stable),
        &mut print,
        promote,
    )
    .await;
    ended(out, json)
}
