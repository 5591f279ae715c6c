//! The monitor screen and the load test in `update`: opening the screen, the load
//! prompt, starting and stopping a run, and the run's progress.
use jiff::Timestamp;

use super::{Effect, refuse};
use crate::event::LoadEvent;
use crate::state::loadrun::LoadRun;
use crate::state::timeline::Subject;
use crate::state::{Level, Mode, State, View};

/// Points kept per load run: four progress reports a second.
fn client_cap(s: &State) -> usize {
    s.config.general.history_points.saturating_mul(4)
}

/// Opens the monitor screen for `subject`.
pub fn monitor(s: &mut State, subject: Subject) {
    let v = View::Monitor(subject);
    if s.view != v {
        s.back.push(s.view.clone());
        s.view = v;
    }
}

/// The load key: the prompt, prefilled with the last flags.
pub fn prompt(s: &mut State) {
    if let Some(r) = &s.load
        && r.running()
    {
        s.flash(
            Level::Warn,
            "a load test is running: stop it first (X), one runs at a time",
        );
    } else if s.read_only {
        refuse(s, "load test");
    } else {
        s.mode = Mode::LoadPrompt(s.load_args.clone());
    }
}

/// Parses and checks the typed flags (once, here) and starts the run with them, or says
/// what is wrong with them. The body file is read when the run starts.
pub fn start(s: &mut State, line: &str) -> Vec<Effect> {
    s.load_args = line.to_string();
    let plan = match crate::load::line::parse(line) {
        Ok(p) => p,
        Err(e) => {
            s.flash(Level::Error, format!("load test not started: {e}"));
            return vec![];
        }
    };
    if plan.json_to_stdout() {
        s.flash(
            Level::Error,
            "load test not started: --json -: standard output is the screen here; give a file",
        );
        return vec![];
    }
    s.load = Some(LoadRun::new(
        line.to_string(),
        s.now,
        plan.duration.as_secs_f64(),
    ));
    if !matches!(s.view, View::Monitor(_)) {
        let subject = super::selected_deployment(s);
        monitor(s, subject);
    }
    s.flash(Level::Info, format!("load test started: {line}"));
    vec![Effect::StartLoad {
        args: Box::new(plan),
    }]
}

/// The stop key.
pub fn stop(s: &mut State) -> Vec<Effect> {
    match &mut s.load {
        Some(r) if r.running() => {
            r.stopping = true;
            s.flash(
                Level::Info,
                "stopping the load test: waiting for answers in flight",
            );
            vec![Effect::StopLoad]
        }
        _ => {
            s.flash(Level::Info, "no load test is running");
            vec![]
        }
    }
}

pub fn on_event(s: &mut State, ev: LoadEvent, at: Timestamp) {
    let cap = client_cap(s);
    let Some(run) = &mut s.load else {
        return;
    };
    match ev {
        LoadEvent::Progress(p) => {
            // placed by the run's own clock: ticks are too coarse for 250 ms reports
            let when = jiff::SignedDuration::try_from(p.elapsed)
                .ok()
                .and_then(|d| run.started.checked_add(d).ok())
                .unwrap_or(at);
            if run.running() {
                run.progress(when, *p, cap);
            }
        }
        LoadEvent::Finished(result) => {
            let (level, text) = match &result {
                Ok(summary) => (Level::Ok, format!("load test done: {summary}")),
                Err(e) => (Level::Error, format!("load test failed: {e}")),
            };
            run.ended = Some((at, result));
            run.stopping = false;
            s.flash(level, text);
        }
    }
}
