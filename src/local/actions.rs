//! Actions on a local deployment: what each would change (the preview), and the change
//! itself, saved crash-safely before the controller acts on it. Same results, same
//! wording as the Kubernetes runner's, so views and subcommands need not know.
use jiff::Timestamp;

use super::spec::{Revision, Spec, Store};
use crate::action::{Action, Target};
use crate::diff::Change;
use crate::event::EffectResult;

fn target(spec: &Spec) -> Target {
    Target {
        namespace: super::objects::NAMESPACE.into(),
        name: spec.name.clone(),
    }
}

/// The template the action would make current, or the new replica count, or why not.
enum Plan {
    Template(Revision),
    Replicas(i32),
    Paused(bool),
}

fn plan(spec: &Spec, a: &Action) -> Result<Plan, String> {
    let cur = spec
        .current_revision()
        .ok_or("the local deployment has no current revision")?;
    let cause = a.describe(&target(spec));
    match a {
        Action::Scale { replicas } => Ok(Plan::Replicas(*replicas)),
        Action::Pause => Ok(Plan::Paused(true)),
        Action::Resume => Ok(Plan::Paused(false)),
        Action::SetImage { .. } => Err(
            "local replicas run the tractor-serve binary (--serve-bin): there is no image to set; use set model".into(),
        ),
        Action::Undo { to_revision } => {
            let to = match to_revision {
                Some(n) => *n,
                None => spec
                    .revisions
                    .iter()
                    .map(|r| r.number)
                    .filter(|n| *n < spec.current)
                    .max()
                    .ok_or("no previous revision to roll back to")?,
            };
            let r = spec
                .revision(to)
                .ok_or_else(|| format!("revision {to} not found (see the history)"))?;
            Ok(Plan::Template(r.clone()))
        }
        Action::Restart => Ok(Plan::Template(Revision {
            restarted_at: Some(Timestamp::now().to_string()),
            change_cause: cause,
            ..cur.clone()
        })),
        Action::SetModel { version, path, .. } => {
            let model = match (path, &spec.model_pattern) {
                (Some(p), _) => std::path::PathBuf::from(p),
                (None, Some(pat)) => pat.replace("{version}", version).into(),
                (None, None) => {
                    return Err(format!(
                        "set model {version}: give the model file (--path) for the local backend"
                    ));
                }
            };
            if !model.is_file() {
                return Err(format!(
                    "set model {version}: no model file at {}",
                    model.display()
                ));
            }
            Ok(Plan::Template(Revision {
                number: 0,
                model,
                version: version.clone(),
                args: cur.args.clone(),
                change_cause: cause,
                created: String::new(),
                restarted_at: None,
            }))
        }
    }
}

fn change(path: &str, before: impl ToString, after: impl ToString) -> Change {
    Change {
        path: path.into(),
        before: Some(before.to_string()),
        after: Some(after.to_string()),
    }
}

pub fn prepare(spec: &Spec, action: Action) -> EffectResult {
    let t = target(spec);
    let p = match plan(spec, &action) {
        Ok(p) => p,
        Err(message) => {
            return EffectResult::Failed {
                target: t,
                action,
                message,
            };
        }
    };
    let Some(cur) = spec.current_revision() else {
        return super::controller::failed(&t, action, "no current revision");
    };
    let changes = match &p {
        Plan::Replicas(n) if *n == spec.replicas => vec![],
        Plan::Replicas(n) => vec![change("spec.replicas", spec.replicas, n)],
        Plan::Paused(b) if *b == spec.paused => vec![],
        Plan::Paused(b) => vec![change("spec.paused", spec.paused, b)],
        Plan::Template(r) if r.same_template(cur) => vec![],
        Plan::Template(r) => {
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
    };
    if changes.is_empty() {
        return EffectResult::Skipped {
            target: t,
            action,
            message: "nothing to change: the local deployment already runs this".into(),
        };
    }
    let notes = vec![format!(
        "local backend: replicas are replaced {} at a time (max surge {}, max unavailable {}), each out of traffic before it drains",
        spec.max_surge.max(spec.max_unavailable),
        spec.max_surge,
        spec.max_unavailable
    )];
    EffectResult::Prepared {
        target: t,
        action,
        changes,
        notes,
    }
}

pub fn execute(spec: &mut Spec, store: &Store, action: Action) -> EffectResult {
    let t = target(spec);
    let before_spec = spec.clone();
    let before = spec.current;
    let p = match plan(spec, &action) {
        Ok(p) => p,
        Err(message) => {
            return EffectResult::Failed {
                target: t,
                action,
                message,
            };
        }
    };
    match p {
        Plan::Replicas(n) => spec.replicas = n,
        Plan::Paused(b) => spec.paused = b,
        Plan::Template(r) => {
            spec.roll_to(r, &Timestamp::now().to_string());
        }
    }
    if let Err(e) = store.save(spec) {
        *spec = before_spec;
        return EffectResult::Failed {
            target: t,
            action,
            message: format!("nothing changed: cannot save the local deployment: {e}"),
        };
    }
    let after = spec.current;
    let message = if after != before {
        format!("{}: revision {before} → {after}", action.describe(&t))
    } else {
        action.describe(&t)
    };
    tracing::info!(%message, "local action");
    EffectResult::Done {
        target: t,
        action,
        message,
        revision_before: Some(before),
        revision_after: Some(after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Store, Spec) {
        let dir = tempfile::tempdir().unwrap();
        for v in ["v1", "v2"] {
            std::fs::write(dir.path().join(format!("m-{v}.onnx")), b"x").unwrap();
        }
        let mut spec = crate::commands::demo::initial_spec(dir.path());
        spec.revisions[0].model = dir.path().join("m-v1.onnx");
        spec.model_pattern = Some(dir.path().join("m-{version}.onnx").display().to_string());
        let store = Store::new(dir.path().join("state"));
        (dir, store, spec)
    }

    fn done(r: &EffectResult) -> (Option<i64>, Option<i64>) {
        match r {
            EffectResult::Done {
                revision_before,
                revision_after,
                ..
            } => (*revision_before, *revision_after),
            other => panic!("not done: {other:?}"),
        }
    }

    #[test]
    fn previews_and_changes_and_refusals() {
        let (_d, store, mut spec) = setup();
        let v2 = Action::SetModel {
            container: None,
            version: "v2".into(),
            path: None,
        };
        let EffectResult::Prepared { changes, .. } = prepare(&spec, v2.clone()) else {
            panic!("no preview")
        };
        assert_eq!(changes[0].after.as_deref(), Some("v2"));
        assert_eq!(
            done(&execute(&mut spec, &store, v2.clone())),
            (Some(1), Some(2))
        );
        // the same again: nothing to do
        assert!(matches!(prepare(&spec, v2), EffectResult::Skipped { .. }));
        // undo to a chosen revision, and to one that is not there
        assert_eq!(
            done(&execute(
                &mut spec,
                &store,
                Action::Undo {
                    to_revision: Some(1)
                }
            )),
            (Some(2), Some(3))
        );
        let e = prepare(
            &spec,
            Action::Undo {
                to_revision: Some(9),
            },
        );
        assert!(
            matches!(&e, EffectResult::Failed { message, .. } if message.contains("revision 9 not found")),
            "{e:?}"
        );
        // a version without a model file, and an image: refused with the reason
        let e = prepare(
            &spec,
            Action::SetModel {
                container: None,
                version: "v7".into(),
                path: None,
            },
        );
        assert!(
            matches!(&e, EffectResult::Failed { message, .. } if message.contains("no model file")),
            "{e:?}"
        );
        let e = prepare(
            &spec,
            Action::SetImage {
                container: None,
                image: "x".into(),
            },
        );
        assert!(
            matches!(&e, EffectResult::Failed { message, .. } if message.contains("no image")),
            "{e:?}"
        );
        // scale and pause change the spec, not the revision; all of it is saved
        assert_eq!(
            done(&execute(&mut spec, &store, Action::Scale { replicas: 5 })),
            (Some(3), Some(3))
        );
        execute(&mut spec, &store, Action::Pause);
        let saved = store.load().unwrap().unwrap();
        assert_eq!((saved.replicas, saved.paused, saved.current), (5, true, 3));
    }
}
