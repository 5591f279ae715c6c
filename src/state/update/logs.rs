//! The logs view in `update`: opening it on the selection (a deployment's pods, the
//! revision or pod under the cursor), which containers to read as pods come and go (the one
//! decision, for both backends: the runner only opens and stops what it is told), the
//! lines as they come, and the view's toggles and scrolling.
use super::Effect;
use crate::logs::range::Range;
use crate::logs::{Filter, LogEvent, Options};
use crate::state::keymap::{LogsToggle, Move};
use crate::state::logview::{LogsView, Matcher};
use crate::state::rows;
use crate::state::{Level, Mode, Section, State, View, ViewId};

/// What the runner does for the logs view.
#[derive(Debug, Clone, PartialEq)]
pub enum LogsEffect {
    /// Read exactly these containers (open the new ones, stop the others).
    Streams {
        want: std::collections::BTreeSet<crate::logs::StreamKey>,
        opts: Options,
    },
    /// Stop every stream: the view closed, or it starts over (previous runs toggled).
    Stop,
    /// Read the last lines of these containers' previous runs, once each (the diagnosis'
    /// evidence of a crash loop).
    LastWords(Vec<crate::logs::RunKey>),
}

/// `o`: the logs of the selection.
pub(super) fn open(s: &mut State) -> Vec<Effect> {
    if s.no_cluster {
        s.flash(Level::Error, "no cluster: no logs to read");
        return vec![];
    }
    let Some(target) = super::selected_deployment(s) else {
        s.flash(
            Level::Info,
            "select a deployment (or one of its pods) first",
        );
        return vec![];
    };
    let mut filter = Filter::default();
    match &s.view {
        View::Detail(k) => {
            let at = s.detail_selected.get(&s.section).copied().unwrap_or(0);
            if let Some(d) = rows::detail(s, k) {
                match s.section {
                    Section::Pods => {
                        filter.pod = d.pods.get(at).and_then(|(p, _)| p.metadata.name.clone());
                    }
                    Section::Revisions => {
                        filter.revision = d
                            .revisions
                            .get(at)
                            .and_then(|rs| crate::model::revision(&rs.metadata));
                    }
                }
            }
        }
        View::Pods => {
            filter.pod = rows::pods(s)
                .get(s.selected(ViewId::Pods))
                .and_then(|p| p.metadata.name.clone());
        }
        _ => {}
    }
    let mut effects = stop(s);
    s.back.push(s.view.clone());
    s.view = View::Logs(target.clone());
    let lines = s.config.general.log_lines;
    let range = Range::Tail(s.config.general.log_tail.min(crate::logs::range::MAX_TAIL));
    s.logs = Some(LogsView::new(target, filter, lines, range));
    effects.extend(reconcile(s));
    effects
}

/// The containers to read now, from what the watches hold; an effect when that changed.
pub(super) fn reconcile(s: &mut State) -> Vec<Effect> {
    let Some(v) = s.logs.as_mut() else {
        return vec![];
    };
    let Some(d) = s.cluster.deployments.get(&v.target) else {
        v.error = Some(format!("deploy/{} is gone", v.target.1));
        return vec![];
    };
    let ns = v.target.0.as_str();
    match crate::logs::select::streams(
        d,
        s.cluster.replicasets_in(ns),
        s.cluster.pods_in(ns),
        &v.filter,
        v.previous,
    ) {
        Ok(want) => {
            v.error = None;
            if want == v.want {
                return vec![];
            }
            v.want = want.clone();
            let opts = v.range.options(v.previous);
            vec![Effect::Logs(LogsEffect::Streams { want, opts })]
        }
        Err(e) => {
            v.error = Some(e.to_string());
            vec![]
        }
    }
}

/// A reader's report.
pub(super) fn on_event(s: &mut State, ev: LogEvent) {
    let matcher = Matcher::new(s.filter(ViewId::Logs));
    let Some(v) = s.logs.as_mut() else {
        return;
    };
    match ev {
        LogEvent::Line(l) => {
            // a late line of a stream no longer wanted (the view started over) is dropped
            if !v.want.contains(&l.stream) {
                return;
            }
            if v.paused && matcher.matches(&l) {
                v.scroll += 1;
            }
            v.ring.push(l);
        }
        LogEvent::Opened(k) => {
            v.failures.remove(&k);
            v.open.insert(k);
        }
        LogEvent::Closed(k) => {
            v.open.remove(&k);
        }
        LogEvent::Failed { stream, message } => {
            v.open.remove(&stream);
            v.failures.insert(stream, message);
        }
    }
}

/// The view's toggles; previous runs start the view over.
pub(super) fn toggle(s: &mut State, t: LogsToggle) -> Vec<Effect> {
    let Some(v) = s.logs.as_mut() else {
        return vec![];
    };
    match t {
        LogsToggle::Wrap => v.wrap = !v.wrap,
        LogsToggle::Timestamps => v.timestamps = !v.timestamps,
        LogsToggle::Follow => {
            v.paused = !v.paused;
            if !v.paused {
                v.scroll = 0;
            }
        }
        LogsToggle::Previous => {
            v.previous = !v.previous;
            return start_over(s);
        }
    }
    vec![]
}

/// `S`: the since/tail prompt, holding what is read now.
pub(super) fn range_prompt(s: &mut State) {
    if let Some(v) = &s.logs {
        s.mode = Mode::LogsRange(v.range.typed());
    }
}

/// The prompt entered: read that far back, from the start; a range that is not one is
/// named, and nothing changes.
pub(super) fn set_range(s: &mut State, typed: &str) -> Vec<Effect> {
    let default = s.config.general.log_tail.min(crate::logs::range::MAX_TAIL);
    match Range::parse(typed, default) {
        Ok(r) => match s.logs.as_mut() {
            Some(v) => {
                v.range = r;
                start_over(s)
            }
            None => vec![],
        },
        Err(e) => {
            s.flash(Level::Error, format!("since/tail: {e}"));
            vec![]
        }
    }
}

/// Drops what the view holds and reads again with its current settings.
fn start_over(s: &mut State) -> Vec<Effect> {
    let Some(v) = s.logs.as_mut() else {
        return vec![];
    };
    v.ring.clear();
    v.want.clear();
    v.open.clear();
    v.failures.clear();
    v.scroll = 0;
    v.paused = false;
    let mut effects = vec![Effect::Logs(LogsEffect::Stop)];
    effects.extend(reconcile(s));
    effects
}

/// Scrolling: up goes back (and pauses), the bottom follows again.
pub(super) fn scroll(s: &mut State, m: Move) {
    let page = s.page.max(1);
    let total = {
        let matcher = Matcher::new(s.filter(ViewId::Logs));
        match &s.logs {
            Some(v) => crate::state::logview::visible(v, &matcher).len(),
            None => return,
        }
    };
    let Some(v) = s.logs.as_mut() else {
        return;
    };
    let max = total.saturating_sub(1);
    v.scroll = match m {
        Move::Up => v.scroll + 1,
        Move::Down => v.scroll.saturating_sub(1),
        Move::PageUp => v.scroll + page,
        Move::PageDown => v.scroll.saturating_sub(page),
        Move::Top => max,
        Move::Bottom => 0,
    }
    .min(max);
    v.paused = v.scroll > 0;
}

/// Leaving the view stops its streams.
pub(super) fn stop(s: &mut State) -> Vec<Effect> {
    match s.logs.take() {
        Some(_) => vec![Effect::Logs(LogsEffect::Stop)],
        None => vec![],
    }
}

/// After any event: a view that was left stops its streams; pods that changed change
/// the streams of the one that is open.
pub(super) fn after(s: &mut State, kube: bool) -> Vec<Effect> {
    if s.logs.is_some() && !matches!(s.view, View::Logs(_)) {
        return stop(s);
    }
    if kube { reconcile(s) } else { vec![] }
}
