//! The watch against a mock API server (tower-test): which requests it makes after a
//! failure, and what the console is told.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::client::Body;
use serde_json::{Value, json};
use tokio::sync::mpsc::unbounded_channel;

use super::{Ended, Out, backoff, run};
use crate::event::{AppEvent, ClusterDelta, Kind, Object, Source, SourceStatus};

#[test]
fn backoff_doubles_to_four_seconds() {
    let ms: Vec<u128> = (0..7).map(|f| backoff(f).as_millis()).collect();
    assert_eq!(ms, [250, 500, 1000, 2000, 4000, 4000, 4000]);
    assert_eq!(backoff(u32::MAX), Duration::from_millis(4000));
}

fn deployment(name: &str, rv: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": "ml", "resourceVersion": rv}})
}

fn list(rv: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DeploymentList",
           "metadata": {"resourceVersion": rv}, "items": items})
}

fn events(lines: &[Value]) -> Vec<u8> {
    lines
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .into_bytes()
}

/// What the fake API server was asked.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    List,
    /// The one-item list that checks the API server answers.
    Probe,
    Watch(String),
}

fn call_of(uri: &str) -> Call {
    let query = uri.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    if param("watch").as_deref() == Some("true") {
        Call::Watch(param("resourceVersion").unwrap_or_default())
    } else if param("limit").as_deref() == Some("1") {
        Call::Probe
    } else {
        Call::List
    }
}

/// A fake API server: `answer(n, call)` answers the n-th request (status, body).
fn server(
    answer: impl Fn(usize, &Call) -> (u16, Vec<u8>) + Send + 'static,
) -> (kube::Client, Arc<Mutex<Vec<Call>>>) {
    let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let rec = calls.clone();
    tokio::spawn(async move {
        while let Some((req, send)) = handle.next_request().await {
            let call = call_of(&req.uri().to_string());
            let n = {
                let mut calls = rec.lock().unwrap();
                calls.push(call.clone());
                calls.len() - 1
            };
            let (status, body) = answer(n, &call);
            if matches!(call, Call::Watch(_)) && body.is_empty() {
                // an idle watch that the server closes: do not spin
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let resp = Response::builder()
                .status(status)
                .body(Body::from(body))
                .unwrap();
            send.send_response(resp);
        }
    });
    (kube::Client::new(svc, "ml"), calls)
}

fn status_body(code: u16, reason: &str) -> Vec<u8> {
    json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
           "message": format!("{reason} (test)"), "reason": reason, "code": code})
    .to_string()
    .into_bytes()
}

fn source() -> Source {
    Source {
        kind: Kind::Deployment,
        namespace: Some("ml".into()),
    }
}

/// What the console was told, in a form easy to compare.
fn told(ev: AppEvent) -> String {
    match ev {
        AppEvent::Kube(ClusterDelta::Status { status, .. }) => match status {
            SourceStatus::Syncing => "syncing".into(),
            SourceStatus::Live => "live".into(),
            SourceStatus::Reconnecting(_) => "reconnecting".into(),
            SourceStatus::Forbidden(_) => "forbidden".into(),
        },
        AppEvent::Kube(ClusterDelta::Resynced { objects, .. }) => {
            format!("resynced {}", objects.len())
        }
        AppEvent::Kube(ClusterDelta::Applied(Object::Deployment(d))) => {
            format!("applied {}", d.metadata.name.unwrap_or_default())
        }
        AppEvent::Kube(ClusterDelta::Deleted(_, k)) => format!("deleted {}", k.1),
        other => format!("{other:?}"),
    }
}

/// Runs the watch until `want` things were told (or 10 s passed); returns them and the calls.
async fn watch(
    answer: impl Fn(usize, &Call) -> (u16, Vec<u8>) + Send + 'static,
    want: usize,
) -> (Vec<String>, Vec<Call>) {
    let (client, calls) = server(answer);
    let (tx, mut rx) = unbounded_channel();
    let out = Out {
        tx,
        tap: None,
        fallback: None,
    };
    let api: Api<Deployment> = Api::namespaced(client, "ml");
    let task = tokio::spawn(async move {
        run(
            api,
            source(),
            |o| Object::Deployment(Box::new(o)),
            &out,
            false,
        )
        .await
    });
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while seen.len() < want {
            match rx.recv().await {
                Some(ev) => seen.push(told(ev)),
                None => return,
            }
        }
    })
    .await;
    task.abort();
    let calls = calls.lock().unwrap().clone();
    (seen, calls)
}

#[tokio::test]
async fn a_failed_watch_resumes_from_the_last_version_without_listing_again() {
    let (seen, calls) = watch(
        |n, call| match (n, call) {
            (_, Call::List) => (
                200,
                list("100", vec![deployment("a", "100")]).to_string().into(),
            ),
            (_, Call::Probe) => (200, list("102", vec![]).to_string().into()),
            (1, Call::Watch(_)) => (
                200,
                events(&[json!({"type": "MODIFIED", "object": deployment("a", "101")})]),
            ),
            (2, Call::Watch(_)) => (500, status_body(500, "InternalError")),
            (_, Call::Watch(_)) => (200, Vec::new()),
        },
        5,
    )
    .await;
    assert_eq!(
        seen,
        ["syncing", "resynced 1", "applied a", "reconnecting", "live"]
    );
    assert_eq!(
        calls.iter().filter(|c| **c == Call::List).count(),
        1,
        "{calls:?}"
    );
    assert_eq!(calls[1], Call::Watch("100".into()));
    assert_eq!(calls[2], Call::Watch("101".into()));
    assert_eq!(
        calls[3],
        Call::Watch("101".into()),
        "resumed at 101: {calls:?}"
    );
    assert!(calls.contains(&Call::Probe), "{calls:?}");
}

#[tokio::test]
async fn a_gone_version_lists_again() {
    let expired = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
        "message": "too old resource version: 100 (150)", "reason": "Expired", "code": 410});
    // said in the watch stream, or as the answer to starting the watch
    let in_stream = (200, events(&[json!({"type": "ERROR", "object": expired})]));
    let at_start = (410, expired.to_string().into_bytes());
    for gone in [in_stream, at_start] {
        let (seen, calls) = watch(
            move |n, call| match (n, call) {
                (0, Call::List) => (
                    200,
                    list("100", vec![deployment("a", "100")]).to_string().into(),
                ),
                (_, Call::List) => (
                    200,
                    list("200", vec![deployment("a", "150"), deployment("b", "200")])
                        .to_string()
                        .into(),
                ),
                (1, Call::Watch(_)) => gone.clone(),
                (_, Call::Watch(_)) => (200, Vec::new()),
                (_, Call::Probe) => (200, list("200", vec![]).to_string().into()),
            },
            4,
        )
        .await;
        assert_eq!(seen, ["syncing", "resynced 1", "syncing", "resynced 2"]);
        assert_eq!(
            calls[..3],
            [Call::List, Call::Watch("100".into()), Call::List]
        );
    }
}

#[tokio::test]
async fn a_forbidden_list_is_reported_and_ends_when_asked() {
    let (client, _) = server(|_, _| (403, status_body(403, "Forbidden")));
    let (tx, mut rx) = unbounded_channel();
    let out = Out {
        tx,
        tap: None,
        fallback: Some("ml".into()),
    };
    let api: Api<Deployment> = Api::all(client);
    let all = Source {
        kind: Kind::Deployment,
        namespace: None,
    };
    let ended = tokio::time::timeout(
        Duration::from_secs(5),
        run(api, all, |o| Object::Deployment(Box::new(o)), &out, true),
    )
    .await
    .unwrap();
    assert_eq!(ended, Ended::Forbidden);
    let mut seen = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        seen.push(told(ev));
    }
    assert_eq!(seen, ["syncing", "forbidden"]);
}
