//! Writes in `update`: a write key opens a prompt or asks for a preview, the
//! preview waits for confirmation, the confirmation executes; then the effect's
//! result. Read-only mode refuses before any effect.
use super::{Effect, selected_deployment};
use crate::action::{Action, Target};
use crate::event::EffectResult;
use crate::state::keymap::WriteKey;
use crate::state::{Follow, Level, Mode, PromptKind, Section, State, View, rows};

pub(super) fn on_result(s: &mut State, r: EffectResult) {
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
        EffectResult::Failed { failure, .. } => {
            s.mode = Mode::Normal;
            s.flash(Level::Error, failure.to_string());
        }
    }
}

/// Confirmed: the write previewed is executed.
pub(super) fn execute(s: &mut State, target: Target, action: Action) -> Vec<Effect> {
    s.mode = Mode::Executing {
        target: target.clone(),
        action: action.clone(),
    };
    vec![Effect::Execute { target, action }]
}

/// Cancelled in the confirm dialog: nothing is written.
pub(super) fn cancel(s: &mut State, action: &Action) {
    s.mode = Mode::Normal;
    s.flash(
        Level::Info,
        format!("{} cancelled: nothing was changed", action.verb()),
    );
}

/// A write key: a prompt for its value, or the preview.
pub(super) fn write_key(s: &mut State, w: WriteKey) -> Vec<Effect> {
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
    let action = match w {
        WriteKey::Undo => {
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
            // a Helm release's Deployment: the release goes back (a direct undo would be
            // put back by the next upgrade), when the helm binary is here to do it
            match crate::model::manager::of(&d.metadata) {
                Some(crate::model::manager::Manager::Helm { release, .. }) if s.helm => {
                    Action::HelmRollback {
                        release,
                        revision: None,
                    }
                }
                _ => Action::Undo { to_revision: to },
            }
        }
        WriteKey::Restart => Action::Restart,
        WriteKey::PauseResume => {
            if spec.and_then(|s| s.paused).unwrap_or(false) {
                Action::Resume
            } else {
                Action::Pause
            }
        }
        WriteKey::Scale => {
            let cur = spec.and_then(|s| s.replicas).unwrap_or(1);
            return guarded(s, "scale", prompt(PromptKind::Scale, cur.to_string()));
        }
        WriteKey::SetImage => {
            let img =
                crate::model::deployment::images(spec.map(|s| &s.template)).unwrap_or_default();
            return guarded(s, "set-image", prompt(PromptKind::SetImage, img));
        }
        WriteKey::SetModel => {
            let v = crate::model::deployment::model_version(spec.map(|s| &s.template))
                .unwrap_or("")
                .to_string();
            return guarded(s, "set-model", prompt(PromptKind::SetModel, v));
        }
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

pub(super) fn refuse(s: &mut State, verb: &str) {
    let ctx = s.context.clone();
    s.flash(
        Level::Warn,
        format!("read-only: {verb} refused (context \"{ctx}\" is read-only); nothing was sent"),
    );
}

pub(super) fn submit_prompt(
    s: &mut State,
    kind: PromptKind,
    target: Target,
    input: &str,
) -> Vec<Effect> {
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
