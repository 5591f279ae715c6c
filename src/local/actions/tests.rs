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

/// The audit log beside the state directory.
fn audit(store: &Store) -> AuditLog {
    AuditLog::new(store.dir.with_file_name("audit.jsonl"))
}

fn execute(spec: &mut Spec, store: &Store, action: Action) -> EffectResult {
    super::execute(spec, store, &audit(store), action)
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
        matches!(&e, EffectResult::Failed { failure, .. } if failure.to_string().contains("unable to find specified revision 9 in history")),
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
        matches!(&e, EffectResult::Failed { failure, .. } if failure.to_string().contains("no model file")),
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
        matches!(&e, EffectResult::Failed { failure, .. } if failure.to_string().contains("no image")),
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

#[test]
fn a_write_appends_the_runners_audit_line() {
    let (_d, store, mut spec) = setup();
    let log = audit(&store);
    let r = super::execute(&mut spec, &store, &log, Action::Scale { replicas: 4 });
    assert_eq!(done(&r), (Some(1), Some(1)));
    let r = super::execute(&mut spec, &store, &log, Action::Restart);
    assert_eq!(done(&r), (Some(1), Some(2)));
    // refused and skipped writes send nothing, so they are not audited
    super::execute(&mut spec, &store, &log, Action::Scale { replicas: -1 });
    super::execute(&mut spec, &store, &log, Action::Scale { replicas: 4 });
    let text = std::fs::read_to_string(log.path()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let l = &lines[0];
    assert_eq!(l["context"], "local");
    assert_eq!(l["namespace"], "local");
    assert_eq!(l["object"], "deployment/classifier");
    assert_eq!(l["action"], "scale");
    assert_eq!(
        l["command"],
        "tractor scale deploy/classifier -n local --replicas 4"
    );
    assert_eq!(
        (l["revision_before"].as_i64(), l["result"].as_str()),
        (Some(1), Some("ok"))
    );
    assert_eq!(lines[1]["action"], "restart");
    assert_eq!(lines[1]["revision_after"], 2);
    // a save that fails changes nothing and is audited as an error
    let blocked = Store::new(log.path().join("state"));
    let e = super::execute(&mut spec, &blocked, &log, Action::Pause);
    assert!(
        matches!(
            &e,
            EffectResult::Failed {
                failure: Failure::Save(_),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!spec.paused);
    let text = std::fs::read_to_string(log.path()).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(
        last["result"]
            .as_str()
            .unwrap()
            .starts_with("error: nothing changed: cannot save"),
        "{last}"
    );
}

fn change(version: &str, path: Option<&str>, image: bool) -> crate::canary::Change {
    crate::canary::Change {
        model_version: version.into(),
        model_path: path.map(str::to_string),
        container: None,
        images: if image {
            vec![crate::canary::ImageOverride {
                container: None,
                image: "registry.example/serve:2".into(),
            }]
        } else {
            vec![]
        },
    }
}

#[test]
fn a_canary_template_is_decided_by_the_write_rules() {
    let (d, _store, spec) = setup();
    // the version's file from the pattern, the cause as given, the args kept
    let t = canary_template(&spec, &change("v2", None, false), "canary v2").unwrap();
    assert_eq!(t.version, "v2");
    assert_eq!(t.model, d.path().join("m-v2.onnx"));
    assert_eq!(t.change_cause, "canary v2");
    assert_eq!(t.args, spec.current_revision().unwrap().args);
    // an explicit path wins over the pattern
    let v1 = d.path().join("m-v1.onnx").display().to_string();
    let t = canary_template(&spec, &change("v1.1", Some(&v1), false), "c").unwrap();
    assert_eq!(
        (t.version.as_str(), t.model.display().to_string()),
        ("v1.1", v1)
    );
    // what set model refuses, a canary refuses
    let e = canary_template(&spec, &change("v9", None, false), "c").unwrap_err();
    assert!(e.to_string().contains("v9"), "{e}");
    let e = canary_template(&spec, &change("v2", None, true), "c").unwrap_err();
    assert!(
        matches!(e, BackendError::Failure(Failure::Refused(_))),
        "{e:?}"
    );
    // the version it already runs: a canary compared with itself
    let e = canary_template(&spec, &change("v1", None, false), "c").unwrap_err();
    assert!(
        matches!(e, BackendError::Object(CanaryObjectError::NoChange { .. })),
        "{e:?}"
    );
}
