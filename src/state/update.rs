//! `update(state, event) -> effects`: every change to the state happens here,
//! without I/O. Writes come out as [`Effect`]s for the runner.
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::rows;
use super::{Follow, Level, Mode, PromptKind, ReplicaPoint, Section, State, View, ViewId};
use crate::action::{Action, Target};
use crate::config::keys::KeyAction;
use crate::event::{AppEvent, ClusterDelta, EffectResult, Kind, Object};
use crate::model::{Key, key};

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
        args: crate::load::plan::LoadPlan,
    },
    /// End the running load test early.
    StopLoad,
}

pub mod load;

pub fn update(s: &mut State, ev: AppEvent) -> Vec<Effect> {
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
            on_delta(s, delta);
            s.dirty = true;
            vec![]
        }
        AppEvent::Effect(r) => {
            on_result(s, r);
            s.dirty = true;
            vec![]
        }
        AppEvent::Input(Event::Key(k)) if k.kind != KeyEventKind::Release => {
            s.dirty = true;
            on_key(s, k)
        }
        AppEvent::Input(Event::Resize(..)) => {
            s.dirty = true;
            vec![]
        }
        AppEvent::Input(_) => vec![],
        AppEvent::Scrape(r) => {
            on_scrape(s, r);
            s.dirty = true;
            vec![]
        }
        AppEvent::Shutdown => {
            s.quit = true;
            vec![]
        }
    }
}

fn on_delta(s: &mut State, delta: ClusterDelta) {
    match delta {
        ClusterDelta::Applied(obj) => {
            let hpa_key = match &obj {
                Object::Hpa(h) => Some(key(&h.metadata)),
                _ => None,
            };
            if let Object::Deployment(d) = &obj {
                super::timeline::on_deployment(s, d);
            }
            s.cluster.apply(obj);
            if let Some(k) = hpa_key {
                record_hpa(s, &k);
            }
        }
        ClusterDelta::Deleted(kind, k) => s.cluster.delete(kind, &k),
        ClusterDelta::Resynced { source, objects } => {
            // a backend that publishes whole lists (the local one) still gets its markers
            for o in &objects {
                if let Object::Deployment(d) = o {
                    super::timeline::on_deployment(s, d);
                }
            }
            let is_hpa = source.kind == Kind::Hpa;
            s.cluster.resync(&source, objects);
            s.sources.insert(source, crate::event::SourceStatus::Live);
            if is_hpa {
                let keys: Vec<Key> = s.cluster.hpas.keys().cloned().collect();
                for k in keys {
                    record_hpa(s, &k);
                }
            }
        }
        ClusterDelta::Status { source, status } => {
            s.sources.insert(source, status);
        }
    }
}

fn on_scrape(s: &mut State, r: crate::event::ScrapeResult) {
    let e = s.scrapes.entry(r.pod).or_default();
    match r.result {
        Ok(m) => {
            e.prev = e.last.take();
            e.last = Some((r.at, m));
            e.error = None;
        }
        Err(err) => e.error = Some(err),
    }
    // pods that are gone take their scrapes with them
    let pods = &s.cluster.pods;
    if s.scrapes.len() > pods.len() + 64 {
        s.scrapes
            .retain(|k, _| pods.contains_key(k) || super::timeline::is_url_target(k));
    }
}

/// Appends a point to the autoscaler's replica history when its counts change.
fn record_hpa(s: &mut State, k: &Key) {
    let Some(h) = s.cluster.hpas.get(k) else {
        return;
    };
    let (_, _, current, desired) = crate::model::hpa::replicas(h);
    let cap = s.config.general.history_points;
    let hist = s.hpa_history.entry(k.clone()).or_default();
    if hist
        .back()
        .is_some_and(|p| p.current == current && p.desired == desired)
    {
        return;
    }
    hist.push_back(ReplicaPoint {
        at: s.now,
        current,
        desired,
    });
    while hist.len() > cap {
        hist.pop_front();
    }
}

fn on_result(s: &mut State, r: EffectResult) {
    match r {
        EffectResult::Prepared {
            target,
            action,
            changes,
            notes,
        } => {
            if matches!(&s.mode, Mode::Preparing { target: t, .. } if *t == target) {
                s.mode = Mode::Confirm {
                    target,
                    action,
                    changes,
                    notes,
                };
            }
        }
        EffectResult::Skipped { message, .. } => {
            s.mode = Mode::Normal;
            s.flash(Level::Info, message);
        }
        EffectResult::Done {
            target,
            action,
            message,
            revision_before,
            ..
        } => {
            s.mode = Mode::Normal;
            s.flash(Level::Ok, message);
            if action.rolls_out() || matches!(action, Action::Scale { .. }) {
                s.follow = Some(Follow {
                    target,
                    verb: action.verb(),
                    started: s.now,
                    revision_before,
                });
            }
        }
        EffectResult::Failed { message, .. } => {
            s.mode = Mode::Normal;
            s.flash(Level::Error, message);
        }
    }
}

fn on_key(s: &mut State, k: KeyEvent) -> Vec<Effect> {
    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
        s.quit = true;
        return vec![];
    }
    match s.mode.clone() {
        Mode::Normal => normal_key(s, k),
        Mode::Help => {
            s.mode = Mode::Normal;
            vec![]
        }
        Mode::Filter(text) => {
            let id = s.view.id();
            match edit(text, &k) {
                Edit::Done(t) => {
                    s.filters.insert(id, t);
                    s.mode = Mode::Normal;
                }
                Edit::Cancel => {
                    s.filters.remove(&id);
                    s.mode = Mode::Normal;
                }
                Edit::Changed(t) => {
                    s.filters.insert(id, t.clone());
                    s.selected.insert(id, 0);
                    s.mode = Mode::Filter(t);
                }
            }
            vec![]
        }
        Mode::LoadPrompt(text) => match edit(text, &k) {
            Edit::Done(t) => {
                s.mode = Mode::Normal;
                load::start(s, t.trim())
            }
            Edit::Cancel => {
                s.mode = Mode::Normal;
                vec![]
            }
            Edit::Changed(t) => {
                s.mode = Mode::LoadPrompt(t);
                vec![]
            }
        },
        Mode::Command(text) => {
            match edit(text, &k) {
                Edit::Done(t) => {
                    s.mode = Mode::Normal;
                    command(s, t.trim());
                }
                Edit::Cancel => s.mode = Mode::Normal,
                Edit::Changed(t) => s.mode = Mode::Command(t),
            }
            vec![]
        }
        Mode::Prompt {
            kind,
            target,
            input,
        } => match edit(input, &k) {
            Edit::Done(t) => submit_prompt(s, kind, target, t.trim()),
            Edit::Cancel => {
                s.mode = Mode::Normal;
                vec![]
            }
            Edit::Changed(t) => {
                s.mode = Mode::Prompt {
                    kind,
                    target,
                    input: t,
                };
                vec![]
            }
        },
        Mode::Confirm { target, action, .. } => {
            if s.keymap.is(&k, KeyAction::Confirm) {
                s.mode = Mode::Executing {
                    target: target.clone(),
                    action: action.clone(),
                };
                vec![Effect::Execute { target, action }]
            } else if s.keymap.is(&k, KeyAction::Cancel) {
                s.mode = Mode::Normal;
                s.flash(
                    Level::Info,
                    format!("{} cancelled: nothing was changed", action.verb()),
                );
                vec![]
            } else {
                vec![]
            }
        }
        // Waiting for the API: only quitting works.
        Mode::Preparing { .. } | Mode::Executing { .. } => vec![],
    }
}

enum Edit {
    Changed(String),
    Done(String),
    Cancel,
}

fn edit(mut text: String, k: &KeyEvent) -> Edit {
    match k.code {
        KeyCode::Enter => Edit::Done(text),
        KeyCode::Esc => Edit::Cancel,
        KeyCode::Backspace => {
            text.pop();
            Edit::Changed(text)
        }
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
            text.push(c);
            Edit::Changed(text)
        }
        _ => Edit::Changed(text),
    }
}

fn command(s: &mut State, cmd: &str) {
    let view = match cmd {
        "deploy" | "deployments" | "deployment" | "dp" | "d" => View::Deployments,
        "pods" | "pod" | "po" | "p" => View::Pods,
        "hpa" | "hpas" | "horizontalpodautoscalers" | "h" => View::Hpas,
        "events" | "event" | "ev" | "e" => View::Events,
        "monitor" | "mon" | "mo" => {
            let subject = selected_deployment(s);
            load::monitor(s, subject);
            return;
        }
        "urls" | "scrape" => {
            load::monitor(s, None);
            return;
        }
        "load" => {
            load::prompt(s);
            return;
        }
        "q" | "quit" | "q!" => {
            s.quit = true;
            return;
        }
        "" => return,
        other => {
            s.flash(
                Level::Error,
                format!(
                    "unknown view \"{other}\": try :deploy :pods :hpa :events :monitor :urls :load"
                ),
            );
            return;
        }
    };
    if s.view != view {
        s.back.clear();
        s.view = view;
    }
}

fn normal_key(s: &mut State, k: KeyEvent) -> Vec<Effect> {
    let acts = s.keymap.actions(&k);
    for a in acts {
        if let Some(effects) = key_action(s, a) {
            return effects;
        }
    }
    vec![]
}

/// `None` when the action does not apply here (another binding of the key may).
fn key_action(s: &mut State, a: KeyAction) -> Option<Vec<Effect>> {
    let id = s.view.id();
    let n = rows::count(s);
    let sel_id = if id == ViewId::Detail { None } else { Some(id) };
    let cur = match sel_id {
        Some(id) => s.selected(id),
        None => s.detail_selected.get(&s.section).copied().unwrap_or(0),
    };
    let set = |s: &mut State, v: usize| {
        let v = v.min(n.saturating_sub(1));
        match sel_id {
            Some(id) => drop(s.selected.insert(id, v)),
            None => drop(s.detail_selected.insert(s.section, v)),
        }
    };
    match a {
        KeyAction::Quit => s.quit = true,
        KeyAction::Help => s.mode = Mode::Help,
        KeyAction::Command => s.mode = Mode::Command(String::new()),
        KeyAction::Filter => s.mode = Mode::Filter(s.filter(id).to_string()),
        KeyAction::Up => set(s, cur.saturating_sub(1)),
        KeyAction::Down => set(s, cur + 1),
        KeyAction::Top => set(s, 0),
        KeyAction::Bottom => set(s, n.saturating_sub(1)),
        KeyAction::PageUp => set(s, cur.saturating_sub(s.page.max(1))),
        KeyAction::PageDown => set(s, cur + s.page.max(1)),
        KeyAction::Open => open(s),
        KeyAction::Back => {
            if !s.filter(id).is_empty() {
                s.filters.remove(&id);
            } else if s.follow.take().is_some() || s.flash.take().is_some() {
            } else if let Some(v) = s.back.pop() {
                s.view = v;
            }
        }
        KeyAction::NextSection => {
            if id != ViewId::Detail {
                return None;
            }
            s.section = match s.section {
                Section::Revisions => Section::Pods,
                Section::Pods => Section::Revisions,
            };
        }
        KeyAction::Undo
        | KeyAction::Restart
        | KeyAction::Scale
        | KeyAction::PauseResume
        | KeyAction::SetImage
        | KeyAction::SetModel => return Some(action_key(s, a)),
        KeyAction::Monitor => {
            if matches!(s.view, View::Monitor(_)) {
                return None;
            }
            let subject = selected_deployment(s);
            load::monitor(s, subject);
        }
        KeyAction::Load => load::prompt(s),
        KeyAction::StopLoad => return Some(load::stop(s)),
        KeyAction::Confirm | KeyAction::Cancel => return None,
    }
    Some(vec![])
}

/// The deployment the cursor is on, in any view.
pub fn selected_deployment(s: &State) -> Option<Key> {
    match &s.view {
        View::Deployments => rows::deployments(s)
            .get(s.selected(ViewId::Deployments))
            .map(|d| key(&d.metadata)),
        View::Detail(k) => Some(k.clone()),
        View::Hpas => rows::hpas(s).get(s.selected(ViewId::Hpas)).and_then(|h| {
            let spec = Some(&h.spec)?;
            (spec.scale_target_ref.kind == "Deployment").then(|| {
                (
                    h.metadata.namespace.clone().unwrap_or_default(),
                    spec.scale_target_ref.name.clone(),
                )
            })
        }),
        View::Pods => {
            let p = *rows::pods(s).get(s.selected(ViewId::Pods))?;
            rows::owner(s, &key(&p.metadata)).map(|(d, _)| d)
        }
        View::Events => None,
        View::Monitor(k) => k.clone(),
    }
}

fn open(s: &mut State) {
    if let View::Detail(_) | View::Events | View::Monitor(_) = s.view {
        return;
    }
    if let Some(k) = selected_deployment(s)
        && s.cluster.deployments.contains_key(&k)
    {
        s.back.push(s.view.clone());
        s.view = View::Detail(k);
        s.section = Section::Revisions;
        s.detail_selected.clear();
    }
}

fn action_key(s: &mut State, a: KeyAction) -> Vec<Effect> {
    let Some(k) = selected_deployment(s) else {
        s.flash(Level::Warn, "select a deployment first");
        return vec![];
    };
    let Some(d) = s.cluster.deployments.get(&k) else {
        s.flash(Level::Warn, format!("deploy/{} is gone", k.1));
        return vec![];
    };
    let target = Target {
        namespace: k.0.clone(),
        name: k.1.clone(),
    };
    let spec = d.spec.as_ref();
    let prompt = |kind, input: String| Mode::Prompt {
        kind,
        target: target.clone(),
        input,
    };
    let action = match a {
        KeyAction::Undo => {
            // In the detail view, undo goes to the revision under the cursor (when it is not current).
            let mut to = None;
            if let (View::Detail(key), Section::Revisions) = (&s.view, s.section)
                && let Some(det) = rows::detail(s, key)
                && let Some(rs) = det.revisions.get(
                    s.detail_selected
                        .get(&Section::Revisions)
                        .copied()
                        .unwrap_or(0),
                )
                && !crate::model::deployment::is_current(det.deployment, rs)
            {
                to = crate::model::revision(&rs.metadata);
            }
            Action::Undo { to_revision: to }
        }
        KeyAction::Restart => Action::Restart,
        KeyAction::PauseResume => {
            if spec.and_then(|s| s.paused).unwrap_or(false) {
                Action::Resume
            } else {
                Action::Pause
            }
        }
        KeyAction::Scale => {
            let cur = spec.and_then(|s| s.replicas).unwrap_or(1);
            return guarded(s, "scale", prompt(PromptKind::Scale, cur.to_string()));
        }
        KeyAction::SetImage => {
            let img =
                crate::model::deployment::images(spec.map(|s| &s.template)).unwrap_or_default();
            return guarded(s, "set-image", prompt(PromptKind::SetImage, img));
        }
        KeyAction::SetModel => {
            let v = crate::model::deployment::model_version(spec.map(|s| &s.template))
                .unwrap_or("")
                .to_string();
            return guarded(s, "set-model", prompt(PromptKind::SetModel, v));
        }
        _ => return vec![],
    };
    request(s, target, action)
}

/// Opens a prompt unless writes are refused.
fn guarded(s: &mut State, verb: &str, mode: Mode) -> Vec<Effect> {
    if s.read_only {
        refuse(s, verb);
    } else {
        s.mode = mode;
    }
    vec![]
}

fn refuse(s: &mut State, verb: &str) {
    let ctx = s.context.clone();
    s.flash(
        Level::Warn,
        format!("read-only: {verb} refused (context \"{ctx}\" is read-only); nothing was sent"),
    );
}

fn submit_prompt(s: &mut State, kind: PromptKind, target: Target, input: &str) -> Vec<Effect> {
    s.mode = Mode::Normal;
    let action = match kind {
        PromptKind::Scale => match input.parse::<i32>() {
            Ok(n) if n >= 0 => Action::Scale { replicas: n },
            _ => {
                s.flash(
                    Level::Error,
                    format!("replicas must be a whole number ≥ 0, got \"{input}\""),
                );
                return vec![];
            }
        },
        PromptKind::SetImage | PromptKind::SetModel if input.is_empty() => {
            s.flash(Level::Error, "nothing entered: cancelled");
            return vec![];
        }
        PromptKind::SetImage => match input.split_once('=') {
            Some((c, img)) => Action::SetImage {
                container: Some(c.to_string()),
                image: img.to_string(),
            },
            None => Action::SetImage {
                container: None,
                image: input.to_string(),
            },
        },
        PromptKind::SetModel => Action::SetModel {
            container: None,
            version: input.to_string(),
            path: None,
        },
    };
    request(s, target, action)
}

/// Asks for the preview of a write, or refuses it in read-only mode.
pub fn request(s: &mut State, target: Target, action: Action) -> Vec<Effect> {
    if s.read_only {
        refuse(s, action.verb());
        return vec![];
    }
    s.mode = Mode::Preparing {
        target: target.clone(),
        action: action.clone(),
    };
    vec![Effect::Prepare { target, action }]
}

#[cfg(test)]
mod tests;
