//! Canaries in `update`: `c` opens the prompt (the flags of `tractor rollout canary`), Enter
//! asks for the preview (the plan and a dry run), `y` starts it; `a` and `P` abort or
//! promote the canary now after a confirmation. Read-only refuses before any effect. The
//! driver's progress comes back as events, a line each.
use super::{CanaryEffect, Effect, selected_deployment, writes::refuse};
use crate::action::Target;
use crate::canary::canary_name;
use crate::cli::canary::parse_prompt;
use crate::event::CanaryEvent;
use crate::load::words::split;
use crate::state::keymap::CanaryKey;
use crate::state::{CanaryRun, CanaryWrite, Level, Mode, State};

/// The most lines of progress kept per canary.
const LINES: usize = 50;

/// What the prompt starts with, the first time.
pub fn default_args(s: &State, version: &str) -> String {
    let two_scrapes = 2 * s.config.scrape.interval_ms.div_ceil(1000);
    let interval = two_scrapes.max(60);
    format!(
        "--model {version} --steps 1,50% --interval {interval}s --slo 'p99<250ms' --slo 'errors<1%' --compare"
    )
}

pub(super) fn key(s: &mut State, k: CanaryKey) -> Vec<Effect> {
    let Some(key) = selected_deployment(s) else {
        s.flash(Level::Warn, "select a deployment first");
        return vec![];
    };
    let target = Target {
        namespace: key.0.clone(),
        name: key.1.clone(),
    };
    match k {
        CanaryKey::Start => {
            if s.read_only {
                refuse(s, "canary");
                return vec![];
            }
            if let Some(seen) = crate::state::canaries::of(s, &key) {
                return resume_or_explain(s, target, seen);
            }
            let version = s
                .cluster
                .deployments
                .get(&key)
                .and_then(|d| {
                    crate::model::deployment::model_version(d.spec.as_ref().map(|s| &s.template))
                })
                .unwrap_or("")
                .to_string();
            let input = s
                .canary_args
                .clone()
                .unwrap_or_else(|| default_args(s, &version));
            s.mode = Mode::CanaryPrompt { target, input };
        }
        CanaryKey::Abort | CanaryKey::Promote => {
            let promote = k == CanaryKey::Promote;
            if s.read_only {
                refuse(s, if promote { "promote" } else { "abort" });
                return vec![];
            }
            let canary = canary_name(&target.name);
            if !s
                .cluster
                .deployments
                .contains_key(&(target.namespace.clone(), canary.clone()))
            {
                s.flash(Level::Warn, format!("deploy/{} has no canary", target.name));
                return vec![];
            }
            let lines = if promote {
                vec![
                    format!("promote deploy/{canary} now:"),
                    format!(
                        "deploy/{} takes its template (a rolling update), then it is removed",
                        target.name
                    ),
                    "the console driving it, if any, stops at its next write".into(),
                ]
            } else {
                vec![
                    format!("abort deploy/{canary} now:"),
                    format!("it is removed; deploy/{} is not changed", target.name),
                    "the console driving it, if any, stops at its next write".into(),
                ]
            };
            s.mode = Mode::CanaryConfirm {
                target,
                write: CanaryWrite::ByHand { promote },
                lines,
            };
        }
    }
    vec![]
}

/// `c` on a deployment whose canary is there: take its run up (after a confirmation),
/// unless this console drives it already or its run cannot be read.
fn resume_or_explain(
    s: &mut State,
    target: Target,
    seen: Result<crate::state::canaries::Seen, crate::canary::StateError>,
) -> Vec<Effect> {
    let canary = canary_name(&target.name);
    let seen = match seen {
        Ok(seen) => seen,
        Err(e) => {
            s.flash(
                Level::Error,
                format!("deploy/{canary}: {e}; abort it with a, or delete it by hand"),
            );
            return vec![];
        }
    };
    let key = (target.namespace.clone(), target.name.clone());
    if s.canary_runs.get(&key).is_some_and(|r| r.ended.is_none()) {
        s.flash(
            Level::Info,
            format!("this console drives deploy/{canary}: a aborts it, P promotes it"),
        );
        return vec![];
    }
    let stable_replicas = s
        .cluster
        .deployments
        .get(&key)
        .and_then(|d| d.spec.as_ref()?.replicas)
        .unwrap_or(0);
    let held = seen.lease.as_ref().filter(|l| l.held_at(s.now)).cloned();
    let loaded = crate::canary::backend::Loaded {
        state: seen.state,
        lease: seen.lease,
        replicas: seen.replicas,
        version: String::new(),
    };
    let mut lines = vec![format!(
        "resume deploy/{canary}: this console takes the run up"
    )];
    lines.extend(crate::canary::lines::status(
        &target.name,
        &canary,
        &loaded,
        stable_replicas,
        s.now,
    ));
    if let Some(l) = held {
        lines.push(format!(
            "{} holds its lease until {}: resuming is refused until then (a or P take over now)",
            l.holder,
            l.expires()
        ));
    }
    s.mode = Mode::CanaryConfirm {
        target,
        write: CanaryWrite::Resume,
        lines,
    };
    vec![]
}

/// The prompt entered: its flags checked, the preview asked for.
pub(super) fn submit(s: &mut State, target: Target, input: &str) -> Vec<Effect> {
    s.mode = Mode::Normal;
    if s.read_only {
        refuse(s, "canary");
        return vec![];
    }
    let words = match split(input) {
        Ok(w) => w,
        Err(e) => {
            s.flash(Level::Error, format!("canary: {e}"));
            return vec![];
        }
    };
    let start = match parse_prompt(&words) {
        Ok(a) => a,
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("").trim().to_string();
            s.flash(Level::Error, format!("canary: {first}"));
            return vec![];
        }
    };
    if let Some(t) = &start.target
        && crate::cli::parse_target(t).ok().as_deref() != Some(target.name.as_str())
    {
        s.flash(
            Level::Error,
            format!(
                "canary: the prompt is for deploy/{}; leave {t} out",
                target.name
            ),
        );
        return vec![];
    }
    s.canary_args = Some(input.to_string());
    let mut args = start.plan_args();
    args.target = Some(target.name.clone());
    s.mode = Mode::CanaryPreparing {
        target: target.clone(),
    };
    vec![Effect::Canary(CanaryEffect::Prepare {
        target,
        args: Box::new(args),
        analysis: start.analysis,
    })]
}

/// `y` in the canary dialog.
pub(super) fn confirm(s: &mut State, target: Target, write: CanaryWrite) -> Vec<Effect> {
    s.mode = Mode::Normal;
    let key = (target.namespace.clone(), target.name.clone());
    let effect = match write {
        CanaryWrite::Start(plan) => {
            s.canary_runs.insert(key, CanaryRun::default());
            s.flash(
                Level::Info,
                format!("canary of deploy/{} starting", target.name),
            );
            CanaryEffect::Start { target, plan }
        }
        CanaryWrite::Resume => {
            s.canary_runs.insert(key, CanaryRun::default());
            s.flash(
                Level::Info,
                format!("taking up the canary of deploy/{}", target.name),
            );
            CanaryEffect::Resume { target }
        }
        CanaryWrite::ByHand { promote } => {
            s.canary_runs.insert(key, CanaryRun::default());
            let verb = if promote { "promoting" } else { "aborting" };
            s.flash(
                Level::Info,
                format!("{verb} the canary of deploy/{}", target.name),
            );
            CanaryEffect::ByHand { target, promote }
        }
    };
    vec![Effect::Canary(effect)]
}

pub(super) fn cancel(s: &mut State) {
    s.mode = Mode::Normal;
    s.flash(Level::Info, "canary cancelled: nothing was changed");
}

pub(super) fn on_event(s: &mut State, ev: CanaryEvent) {
    match ev {
        CanaryEvent::Prepared {
            target,
            plan,
            lines,
        } => {
            if matches!(&s.mode, Mode::CanaryPreparing { target: t } if *t == target) {
                s.mode = Mode::CanaryConfirm {
                    target,
                    write: CanaryWrite::Start(plan),
                    lines,
                };
            }
        }
        CanaryEvent::Refused { target, message } => {
            if matches!(&s.mode, Mode::CanaryPreparing { target: t } if *t == target) {
                s.mode = Mode::Normal;
            }
            s.flash(
                Level::Error,
                format!("canary of deploy/{}: {message}", target.name),
            );
        }
        CanaryEvent::Progress { target, progress } => {
            let run = s
                .canary_runs
                .entry((target.namespace, target.name))
                .or_default();
            let line = crate::canary::lines::line(&progress);
            run.lines
                .push_back(line.lines().next().unwrap_or("").to_string());
            while run.lines.len() > LINES {
                run.lines.pop_front();
            }
        }
        CanaryEvent::Ended {
            target,
            text,
            promoted,
            failed,
            lost,
        } => {
            let run = s
                .canary_runs
                .entry((target.namespace.clone(), target.name.clone()))
                .or_default();
            // a driver that lost the run (to a person's abort or promote, or another
            // console) does not hide how the run really ended
            if lost && run.ended.is_some() {
                return;
            }
            run.ended = Some(text.clone());
            let level = match (promoted, failed, lost) {
                (true, _, _) => Level::Ok,
                (_, true, _) => Level::Error,
                (_, _, true) => Level::Info,
                _ => Level::Warn,
            };
            s.flash(level, format!("canary of deploy/{}: {text}", target.name));
        }
    }
}
