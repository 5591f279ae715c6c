//! Actions on a local deployment, by the same write rules as the Kubernetes runner's
//! (`decide`, fed from the spec): what each would change (the preview), and the change
//! itself, saved crash-safely before the controller acts on it, with the runner's audit
//! line. Same results, same wording as the Kubernetes runner's, so views and subcommands
//! need not know.
use std::cmp::Reverse;
use std::path::PathBuf;

use jiff::Timestamp;

use super::spec::{Revision, Spec, Store};
use crate::action::{Action, Target};
use crate::audit::{AuditLog, Record};
use crate::canary::CanaryObjectError;
use crate::canary::backend::BackendError;
use crate::decide::{self, Decision, Facts, Refusal, Skip, decide};
use crate::diff::Change;
use crate::event::EffectResult;
use crate::failure::Failure;

/// The context the console and the audit log name for the local backend.
pub const CONTEXT: &str = "local";
/// The one container of a local replica (as `objects.rs` shows it).
pub const CONTAINER: &str = "server";

fn target(spec: &Spec) -> Target {
    Target {
        namespace: super::objects::NAMESPACE.into(),
        name: spec.name.clone(),
    }
}

/// Who writes, for the audit log (as the console shows it).
pub fn user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "-".into())
}

/// What the write rules need, read from the spec.
pub fn facts(spec: &Spec) -> Result<Facts, Failure> {
    let cur = spec.current_revision().ok_or(Failure::NoCurrentRevision)?;
    let mut history: Vec<decide::Revision> = spec
        .revisions
        .iter()
        .map(|r| decide::Revision {
            number: r.number,
            is_current_template: r.same_template(cur),
        })
        .collect();
    history.sort_by_key(|r| Reverse(r.number));
    Ok(Facts {
        name: spec.name.clone(),
        paused: spec.paused,
        replicas: Some(spec.replicas),
        history,
        containers: vec![decide::Container {
            name: CONTAINER.into(),
            image: None,
            model_version: Some(cur.version.clone()),
            model_path: Some(cur.model.display().to_string()),
        }],
        images: false,
        model_version: Some(cur.version.clone()),
    })
}

/// The spec change a decision means.
enum Edit {
    Template(Revision),
    Replicas(i32),
    Paused(bool),
}

enum Plan {
    Skip(Skip),
    Edit { edit: Edit, resolved: Action },
}

fn plan(spec: &Spec, a: &Action) -> Result<Plan, Failure> {
    let decision = decide(&facts(spec)?, a)?;
    let resolved = decision.resolved(a);
    let cur = spec.current_revision().ok_or(Failure::NoCurrentRevision)?;
    let cause = a.describe(&target(spec));
    let edit = match decision {
        Decision::Skip(why) => return Ok(Plan::Skip(why)),
        Decision::Scale(n) => Edit::Replicas(n),
        Decision::Pause => Edit::Paused(true),
        Decision::Resume => Edit::Paused(false),
        // the facts say there are no images; the rules refuse before this
        Decision::SetImage { .. } => return Err(Refusal::NoImage.into()),
        Decision::Undo { to } => {
            Edit::Template(spec.revision(to).cloned().ok_or(Refusal::NoRevision(to))?)
        }
        Decision::Restart => Edit::Template(Revision {
            restarted_at: Some(Timestamp::now().to_string()),
            change_cause: cause,
            ..cur.clone()
        }),
        Decision::SetModel { version, path, .. } => {
            let model = model_file(spec, &version, path.as_deref())?;
            Edit::Template(Revision {
                number: 0,
                model,
                version,
                args: cur.args.clone(),
                change_cause: cause,
                created: String::new(),
                restarted_at: None,
            })
        }
    };
    Ok(Plan::Edit { edit, resolved })
}

/// The template a canary of `change` runs: the current revision with the change decided
/// by the same rules as `set model` and `set image` (an image is refused: a local replica
/// has none), with `cause` as its change-cause. Refused when it changes nothing.
pub fn canary_template(
    spec: &Spec,
    change: &crate::canary::Change,
    cause: &str,
) -> Result<Revision, BackendError> {
    let mut actions = vec![Action::SetModel {
        container: change.container.clone(),
        version: change.model_version.clone(),
        path: change.model_path.clone(),
    }];
    actions.extend(change.images.iter().map(|i| Action::SetImage {
        container: i.container.clone(),
        image: i.image.clone(),
    }));
    let mut template = None;
    for a in &actions {
        if let Plan::Edit {
            edit: Edit::Template(r),
            ..
        } = plan(spec, a)?
        {
            template = Some(r);
        }
    }
    let Some(template) = template else {
        return Err(CanaryObjectError::NoChange {
            name: spec.name.clone(),
            version: change.model_version.clone(),
        }
        .into());
    };
    Ok(Revision {
        change_cause: cause.to_string(),
        ..template
    })
}

/// The model file for `version`: the path given, else the spec's pattern; it must exist.
fn model_file(spec: &Spec, version: &str, path: Option<&str>) -> Result<PathBuf, Refusal> {
    let model = match (path, &spec.model_pattern) {
        (Some(p), _) => PathBuf::from(p),
        (None, Some(pat)) => pat.replace("{version}", version).into(),
        (None, None) => return Err(Refusal::NoModelPath(version.into())),
    };
    if !model.is_file() {
        return Err(Refusal::NoModelFile {
            version: version.into(),
            path: model.display().to_string(),
        });
    }
    Ok(model)
}

fn change(path: &str, before: impl ToString, after: impl ToString) -> Change {
    Change {
        path: path.into(),
        before: Some(before.to_string()),
        after: Some(after.to_string()),
    }
}

fn changes(spec: &Spec, edit: &Edit) -> Vec<Change> {
    match edit {
        Edit::Replicas(n) => vec![change("spec.replicas", spec.replicas, n)],
        Edit::Paused(b) => vec![change("spec.paused", spec.paused, b)],
        Edit::Template(r) => {
            let Some(cur) = spec.current_revision() else {
                return vec![];
            };
            let mut v = Vec::new();
            if r.version != cur.version {
                v.push(change("model version", &cur.version, &r.version));
            }
            if r.model != cur.model {
                v.push(change("model file", cur.model.display(), r.model.display()));
            }
            if r.restarted_at != cur.restarted_at {
                v.push(change(
                    "restartedAt",
                    cur.restarted_at.as_deref().unwrap_or("-"),
                    r.restarted_at.as_deref().unwrap_or("-"),
                ));
            }
            v
        }
    }
}

pub fn prepare(spec: &Spec, action: Action) -> EffectResult {
    let t = target(spec);
    let (edit, resolved) = match plan(spec, &action) {
        Ok(Plan::Edit { edit, resolved }) => (edit, resolved),
        Ok(Plan::Skip(why)) => return EffectResult::skipped(&t, action, &why),
        Err(f) => return EffectResult::failed(&t, action, f),
    };
    let notes = vec![format!(
        "local backend: replicas are replaced {} at a time (max surge {}, max unavailable {}), each out of traffic before it drains",
        spec.max_surge.max(spec.max_unavailable),
        spec.max_surge,
        spec.max_unavailable
    )];
    EffectResult::Prepared {
        target: t,
        action: resolved,
        changes: changes(spec, &edit),
        notes,
    }
}

/// Applies `action` to the spec and saves it, then appends the audit line (an error line
/// when the save fails, and nothing changes).
pub fn execute(spec: &mut Spec, store: &Store, audit: &AuditLog, action: Action) -> EffectResult {
    let t = target(spec);
    let before = spec.current;
    let (edit, resolved) = match plan(spec, &action) {
        Ok(Plan::Edit { edit, resolved }) => (edit, resolved),
        Ok(Plan::Skip(why)) => return EffectResult::skipped(&t, action, &why),
        Err(f) => return EffectResult::failed(&t, action, f),
    };
    let before_spec = spec.clone();
    match edit {
        Edit::Replicas(n) => spec.replicas = n,
        Edit::Paused(b) => spec.paused = b,
        Edit::Template(r) => {
            spec.roll_to(r, &Timestamp::now().to_string());
        }
    }
    let user = user();
    let record = |result: String, after: Option<i64>| {
        Record::write(CONTEXT, &user, &t, &action, (Some(before), after), result)
    };
    if let Err(e) = store.save(spec) {
        *spec = before_spec;
        let f = Failure::Save(e);
        if let Err(io) = audit.append(&record(format!("error: {f}"), None)) {
            tracing::error!(error = %io, "audit log write failed");
        }
        return EffectResult::failed(&t, resolved, f);
    }
    let after = spec.current;
    if let Err(io) = audit.append(&record("ok".into(), Some(after))) {
        let f = Failure::Audit {
            path: audit.path().to_path_buf(),
            detail: io.to_string(),
        };
        return EffectResult::failed(&t, resolved, f);
    }
    let message = if after != before {
        format!("{}: revision {before} → {after}", resolved.describe(&t))
    } else {
        resolved.describe(&t)
    };
    tracing::info!(%message, "local action");
    EffectResult::Done {
        target: t,
        action: resolved,
        message,
        revision_before: Some(before),
        revision_after: Some(after),
    }
}

#[cfg(test)]
mod tests;
