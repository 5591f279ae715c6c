//! End-to-end: what the console shows of a deployment, and the writes that roll it out
//! and back (set model, undo to the previous, a chosen and a mid-rollout revision).
use super::common::*;
use crate::support;
use std::time::Instant;

use serde_json::Value;
use support::cluster::{Namespace, cluster, eventually, record_timing};
use support::console::Console;
use support::pod_runner::PodRunner;
use tractor::action::Action;
use tractor::event::{EffectResult, SourceStatus};
use tractor::model::deployment::{RolloutState, rollout_status};
use tractor::model::revision;
use tractor::state::rows;

#[tokio::test(flavor = "multi_thread")]
async fn manifests_show_deployment_replicaset_and_ready_pods() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-watch");
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![ns.name.clone()]), None);
    k.kubectl_stdin(&["apply", "-n", &ns.name, "-f", "-"], Some(MANIFEST));
    wait_complete(&console, &ns.name, 1, "v1").await;
    eventually(T, "one ReplicaSet and two Ready pods", || {
        console.with(|s| {
            let d = rows::detail(s, &(ns.name.clone(), "classifier".into()))?;
            let ready = d
                .pods
                .iter()
                .filter(|(p, rev)| *rev == Some(1) && tractor::model::pod::health(p).ready == 1)
                .count();
            (d.revisions.len() == 1 && ready == 2).then_some(())
        })
    })
    .await;
    let screen = console.screen();
    assert!(
        screen.contains("classifier") && screen.contains("complete") && screen.contains("2/2"),
        "{screen}"
    );
    // every watch is live
    console.with(|s| {
        assert!(
            s.sources.values().all(|v| *v == SourceStatus::Live),
            "{:?}",
            s.sources
        )
    });
    record_timing(
        "manifests_show_deployment_replicaset_and_ready_pods",
        started,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn set_model_rolls_out_revision_two_served_by_real_servers() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-model");
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![ns.name.clone()]), None);
    let runner_pods = PodRunner::start(&client, &ns.name);
    k.kubectl_stdin(&["apply", "-n", &ns.name, "-f", "-"], Some(MANIFEST));
    wait_complete(&console, &ns.name, 1, "v1").await;
    let dir = tempfile::tempdir().unwrap();
    let r = runner(client.clone(), &dir.path().join("audit.jsonl"));
    let res = act(
        &r,
        &target(&ns.name),
        Action::SetModel {
            container: None,
            version: "v2".into(),
            path: None,
        },
    )
    .await;
    let EffectResult::Done {
        revision_before,
        revision_after,
        ..
    } = res
    else {
        panic!("{res:?}")
    };
    assert_eq!((revision_before, revision_after), (Some(1), Some(2)));
    wait_complete(&console, &ns.name, 2, "v2").await;
    eventually(T, "history with both revisions", || {
        let h = history(&console, &ns.name);
        (h == [
            (1, "v1".into(), "initial deploy of model v1".into()),
            (
                2,
                "v2".into(),
                format!("tractor set model deploy/classifier -n {} v2", ns.name),
            ),
        ])
        .then_some(())
    })
    .await;
    // the pods of revision 2 are real servers answering as model version v2
    let served = eventually(T, "two v2 servers", || {
        let s = runner_pods.served();
        let v2: Vec<_> = s.values().filter(|x| x.version == "v2").cloned().collect();
        (v2.len() == 2).then_some(v2)
    })
    .await;
    for s in served {
        let body = support::http::eventually_get(&s.ip, s.port, "/metrics", T).await;
        assert!(
            body.contains("tractor_model_info{model=\"demo-classifier\",version=\"v2\""),
            "{body}"
        );
    }
    record_timing(
        "set_model_rolls_out_revision_two_served_by_real_servers",
        started,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn undo_previous_chosen_and_mid_rollout() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-undo");
    let n = ns.name.clone();
    let client = k.client().await;
    let console = Console::start(&client, Some(vec![n.clone()]), None);
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    wait_complete(&console, &n, 1, "v1").await;
    let dir = tempfile::tempdir().unwrap();
    let r = runner(client.clone(), &dir.path().join("audit.jsonl"));
    let t = target(&n);
    let set = |v: &str| Action::SetModel {
        container: None,
        version: v.into(),
        path: None,
    };

    assert!(matches!(
        act(&r, &t, set("v2")).await,
        EffectResult::Done { .. }
    ));
    wait_complete(&console, &n, 2, "v2").await;
    // undo → revision 3 carries revision 1's template and change-cause
    let res = act(&r, &t, Action::Undo { to_revision: None }).await;
    let EffectResult::Done {
        action,
        revision_after,
        ..
    } = res
    else {
        panic!("{res:?}")
    };
    assert_eq!(
        action,
        Action::Undo {
            to_revision: Some(1)
        }
    );
    assert_eq!(revision_after, Some(3));
    wait_complete(&console, &n, 3, "v1").await;
    eventually(T, "revision 1 became 3", || {
        let h = history(&console, &n);
        (h.len() == 2 && h[1] == (3, "v1".into(), "initial deploy of model v1".into()))
            .then_some(())
    })
    .await;
    // undoing to the current template is skipped
    let res = act(
        &r,
        &t,
        Action::Undo {
            to_revision: Some(3),
        },
    )
    .await;
    assert!(matches!(res, EffectResult::Skipped { .. }), "{res:?}");

    // --to-revision
    assert!(matches!(
        act(&r, &t, set("v3")).await,
        EffectResult::Done { .. }
    ));
    wait_complete(&console, &n, 4, "v3").await;
    let res = act(
        &r,
        &t,
        Action::Undo {
            to_revision: Some(2),
        },
    )
    .await;
    assert!(
        matches!(
            res,
            EffectResult::Done {
                revision_after: Some(5),
                ..
            }
        ),
        "{res:?}"
    );
    wait_complete(&console, &n, 5, "v2").await;

    // mid-rollout: a bad release (v4, whose pods can be scheduled nowhere) holds revision 6
    // with two live ReplicaSets, the case where the on-call engineer needs undo most.
    k.kubectl(&[
        "-n",
        &n,
        "patch",
        "deployment",
        "classifier",
        "-p",
        r#"{"metadata":{"annotations":{"kubernetes.io/change-cause":"bad release v4"}},"spec":{"template":{"metadata":{"labels":{"tractor.dev/model-version":"v4"}},"spec":{"nodeSelector":{"tractor.dev/nowhere":"true"}}}}}"#,
    ]);
    eventually(
        T,
        "revision 6 in progress with two live ReplicaSets",
        || {
            console.with(|s| {
                let d = rows::detail(s, &(n.clone(), "classifier".into()))?;
                let live = d
                    .revisions
                    .iter()
                    .filter(|rs| rs.status.as_ref().map(|s| s.replicas).unwrap_or(0) > 0)
                    .count();
                let st = rollout_status(d.deployment).state;
                (live == 2
                    && st == RolloutState::Progressing
                    && revision(&d.deployment.metadata) == Some(6))
                .then_some(())
            })
        },
    )
    .await;
    let prepared = r.prepare(&t, Action::Undo { to_revision: None }).await;
    let EffectResult::Prepared {
        action,
        notes,
        changes,
        ..
    } = prepared
    else {
        panic!("{prepared:?}")
    };
    assert_eq!(
        action,
        Action::Undo {
            to_revision: Some(5)
        }
    );
    assert!(
        notes
            .iter()
            .any(|x| x.starts_with("mid-rollout: 2 ReplicaSets have pods")),
        "{notes:?}"
    );
    assert!(
        changes.iter().any(|c| c.after.as_deref() == Some("v2")),
        "{changes:?}"
    );
    let res = r.execute(&t, action).await;
    assert!(
        matches!(
            res,
            EffectResult::Done {
                revision_after: Some(7),
                ..
            }
        ),
        "{res:?}"
    );
    wait_complete(&console, &n, 7, "v2").await;
    // the template was replaced whole: the bad release's nodeSelector is gone
    let sel = k.kubectl(&[
        "-n",
        &n,
        "get",
        "deployment",
        "classifier",
        "-o",
        "jsonpath={.spec.template.spec.nodeSelector}",
    ]);
    assert_eq!(sel.trim(), "", "nodeSelector survived the undo");
    eventually(T, "the v4 ReplicaSet scaled to zero", || {
        console.with(|s| {
            let d = rows::detail(s, &(n.clone(), "classifier".into()))?;
            let live: Vec<_> = d
                .revisions
                .iter()
                .filter(|rs| rs.status.as_ref().map(|s| s.replicas).unwrap_or(0) > 0)
                .map(|rs| revision(&rs.metadata))
                .collect();
            (live == [Some(7)]).then_some(())
        })
    })
    .await;
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let undos: Vec<_> = lines
        .iter()
        .filter(|l| l["action"] == "undo")
        .map(|l| (l["revision_before"].clone(), l["revision_after"].clone()))
        .collect();
    assert_eq!(
        undos,
        [
            (2.into(), 3.into()),
            (4.into(), 5.into()),
            (6.into(), 7.into())
        ]
    );
    record_timing("undo_previous_chosen_and_mid_rollout", started);
}
