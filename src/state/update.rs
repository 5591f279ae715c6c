//! `update(state, event) -> effects`: every change to the state happens here,
//! without I/O. Writes come out as [`Effect`]s for the runner.
//!
//! This file dispatches; the work is split by concern: `input` (keys and prompts,
//! resolved through `state::keymap`), `navigation` (views, selection, filter),
//! `writes` (prompt → preview → confirm → execute, and the effects' results),
//! `cluster` (watch deltas, scrapes, autoscaler history) and `load` (the monitor
//! screen and the load test).
use crossterm::event::{Event, KeyEventKind};

use super::State;
use crate::action::{Action, Target};
use crate::event::AppEvent;

mod canary;
mod cluster;
mod edit;
mod input;
mod last_words;
pub mod load;
pub mod logs;
mod navigation;
mod prom;
mod writes;

pub use navigation::{scrape_focus, selected_deployment};
use writes::refuse;
pub use writes::request;

/// Work for the runner. `Prepare` is a server-side dry run that returns the
/// preview; `Execute` is the write itself, only ever after a confirmation.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Prepare {
        target: Target,
        action: Action,
    },
    Execute {
        target: Target,
        action: Action,
    },
    /// Run a load test with these flags (`tractor loadtest`'s), parsed and checked.
    StartLoad {
        args: Box<crate::load::plan::LoadPlan>,
    },
    /// End the running load test early.
    StopLoad,
    /// A canary's preview, start, or a person's promote or abort.
    Canary(CanaryEffect),
    /// The logs view's streams.
    Logs(logs::LogsEffect),
}

#[derive(Debug, Clone, PartialEq)]
pub enum CanaryEffect {
    /// Build the plan (reading the analysis file, if any) and dry-run the canary.
    Prepare {
        target: Target,
        args: Box<crate::canary::CanaryArgs>,
        analysis: Option<std::path::PathBuf>,
    },
    /// Create the canary and drive it to its outcome.
    Start {
        target: Target,
        plan: Box<crate::canary::CanaryPlan>,
    },
    /// Take up the run saved on the canary (a paused one resumes) and drive it on.
    Resume { target: Target },
    /// Promote (`true`) or abort the canary now, taking its lease over.
    ByHand { target: Target, promote: bool },
}

impl CanaryEffect {
    /// The stable Deployment it is about.
    pub fn target(&self) -> &Target {
        match self {
            CanaryEffect::Prepare { target, .. }
            | CanaryEffect::Start { target, .. }
            | CanaryEffect::Resume { target }
            | CanaryEffect::ByHand { target, .. } => target,
        }
    }
}

pub fn update(s: &mut State, ev: AppEvent) -> Vec<Effect> {
    let kube = matches!(ev, AppEvent::Kube(_));
    // what the detail view shows changes with the cluster, and the view with a key
    let pods_or_view = kube || matches!(ev, AppEvent::Input(_));
    let mut effects = on_event(s, ev);
    effects.extend(logs::after(s, kube));
    if pods_or_view {
        effects.extend(last_words::after(s));
    }
    prom::after(s);
    effects
}

fn on_event(s: &mut State, ev: AppEvent) -> Vec<Effect> {
    match ev {
        AppEvent::Tick(now) => {
            s.now = now;
            if super::timeline::due(s) {
                super::timeline::sample(s);
            }
            s.dirty = true;
            vec![]
        }
        AppEvent::Load(ev) => {
            let at = s.now;
            load::on_event(s, ev, at);
            s.dirty = true;
            vec![]
        }
        AppEvent::Kube(delta) => {
            cluster::on_delta(s, delta);
            s.dirty = true;
            vec![]
        }
        AppEvent::Canary(ev) => {
            canary::on_event(s, ev);
            s.dirty = true;
            vec![]
        }
        AppEvent::Effect(r) => {
            writes::on_result(s, r);
            s.dirty = true;
            vec![]
        }
        AppEvent::Input(Event::Key(k)) if k.kind != KeyEventKind::Release => {
            s.dirty = true;
            input::on_key(s, k)
        }
        AppEvent::Input(Event::Resize(..)) => {
            s.dirty = true;
            vec![]
        }
        AppEvent::Input(_) => vec![],
        AppEvent::Scrape(r) => {
            cluster::on_scrape(s, r);
            s.dirty = true;
            vec![]
        }
        AppEvent::ScrapeScope(scope) => {
            s.dirty |= s.scrape_scope != Some(scope);
            s.scrape_scope = Some(scope);
            vec![]
        }
        AppEvent::Logs(ev) => {
            logs::on_event(s, ev);
            s.dirty = true;
            vec![]
        }
        AppEvent::Prom(ev) => {
            prom::on_event(s, ev);
            s.dirty = true;
            vec![]
        }
        AppEvent::LastWords { run, words } => {
            last_words::on_read(s, run, words);
            s.dirty = true;
            vec![]
        }
        AppEvent::Shutdown => {
            s.quit = true;
            vec![]
        }
    }
}

#[cfg(test)]
mod tests;
