use serde_json::json;

use super::*;

fn deployment() -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "ns", "uid": "d1"}
    }))
    .unwrap()
}

fn rs(name: &str, rev: i64, owner_uid: &str) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "ns",
            "annotations": {"deployment.kubernetes.io/revision": rev.to_string()},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                "uid": owner_uid, "controller": true}]}
    }))
    .unwrap()
}

/// A pod of ReplicaSet `rs` with containers `(name, state, restarts, last terminated)`.
fn pod(name: &str, rs: &str, containers: &[(&str, &str, i32, bool)]) -> Pod {
    let statuses: Vec<_> = containers
        .iter()
        .map(|(c, state, restarts, last)| {
            let mut s = json!({"name": c, "ready": *state == "running", "restartCount": restarts,
                "image": "x", "imageID": "", "state": {}});
            s["state"][*state] = match *state {
                "waiting" => json!({"reason": "CrashLoopBackOff"}),
                "terminated" => json!({"exitCode": 1}),
                _ => json!({}),
            };
            if *last {
                s["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}});
            }
            s
        })
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "ns",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                "uid": "x", "controller": true}]},
        "spec": {"containers": containers.iter().map(|(c, ..)| json!({"name": c})).collect::<Vec<_>>()},
        "status": {"containerStatuses": statuses}
    }))
    .unwrap()
}

fn names(set: &BTreeSet<StreamKey>) -> Vec<String> {
    set.iter()
        .map(|k| format!("{}/{}#{}@{:?}", k.pod, k.container, k.restarts, k.revision))
        .collect()
}

#[test]
fn containers_are_chosen_by_revision_pod_and_state() {
    let d = deployment();
    let rss = [
        rs("web-a", 1, "d1"),
        rs("web-b", 2, "d1"),
        rs("other-x", 1, "d2"),
    ];
    let pods = [
        pod("web-a-1", "web-a", &[("server", "running", 0, false)]),
        pod(
            "web-b-1",
            "web-b",
            &[
                ("server", "running", 2, true),
                ("sidecar", "running", 0, false),
            ],
        ),
        // waiting to restart after a crash: its last run's log is there to read
        pod("web-b-2", "web-b", &[("server", "waiting", 5, true)]),
        // still creating: no log yet
        pod("web-b-3", "web-b", &[("server", "waiting", 0, false)]),
        // another deployment's pod
        pod("other-x-1", "other-x", &[("server", "running", 0, false)]),
    ];
    let all = |f: &Filter, previous: bool| {
        streams(&d, rss.iter(), pods.iter(), f, previous).map(|s| names(&s))
    };
    let table: Vec<(Filter, bool, Vec<&str>)> = vec![
        (
            Filter::default(),
            false,
            vec![
                "web-a-1/server#0@Some(1)",
                "web-b-1/server#2@Some(2)",
                "web-b-1/sidecar#0@Some(2)",
                "web-b-2/server#5@Some(2)",
            ],
        ),
        (
            Filter {
                revision: Some(1),
                ..Filter::default()
            },
            false,
            vec!["web-a-1/server#0@Some(1)"],
        ),
        (
            Filter {
                pod: Some("web-b-1".into()),
                container: Some("server".into()),
                ..Filter::default()
            },
            false,
            vec!["web-b-1/server#2@Some(2)"],
        ),
        // --previous: only containers with a terminated run
        (
            Filter::default(),
            true,
            vec!["web-b-1/server#2@Some(2)", "web-b-2/server#5@Some(2)"],
        ),
    ];
    for (f, previous, want) in table {
        assert_eq!(
            all(&f, previous).unwrap(),
            want,
            "{f:?} previous={previous}"
        );
    }
}

#[test]
fn a_missing_revision_pod_or_container_is_named_with_what_exists() {
    let d = deployment();
    let rss = [rs("web-a", 1, "d1"), rs("web-b", 2, "d1")];
    let pods = [pod("web-a-1", "web-a", &[("server", "running", 0, false)])];
    let err = |f: Filter| {
        streams(&d, rss.iter(), pods.iter(), &f, false)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(Filter {
            revision: Some(7),
            ..Filter::default()
        }),
        "deploy/web has no revision 7 (its revisions: 1, 2)"
    );
    assert_eq!(
        err(Filter {
            pod: Some("web-z".into()),
            ..Filter::default()
        }),
        "pod web-z is not one of deploy/web's pods (its pods: web-a-1)"
    );
    assert_eq!(
        err(Filter {
            pod: Some("web-a-1".into()),
            container: Some("nope".into()),
            ..Filter::default()
        }),
        "pod web-a-1 has no container nope (its containers: server)"
    );
}
