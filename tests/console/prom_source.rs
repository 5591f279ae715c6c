//! The Prometheus source through the real `update`: a round's per-pod windows become the
//! same per-revision rows a direct scrape gives; a backfill from before the start lands on
//! the monitor's time axis (a pod that is gone goes under its revision by its ReplicaSet's
//! name); the header says the window, or what is wrong.
use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use tractor::event::AppEvent;
use tractor::metrics::histogram::{Bucket, Quantile, quantile};
use tractor::prom::PromEvent;
use tractor::scrape::PodMetrics;
use tractor::state::update;

fn pod(requests: f64, fast: f64, version: &str) -> PodMetrics {
    PodMetrics {
        version: Some(version.into()),
        latency: vec![
            Bucket {
                le: 0.005,
                count: fast,
            },
            Bucket {
                le: 0.025,
                count: requests,
            },
            Bucket {
                le: f64::INFINITY,
                count: requests,
            },
        ],
        requests,
        inflight: 1.0,
        ..PodMetrics::default()
    }
}

fn key(p: &str) -> (String, String) {
    ("ml".into(), p.into())
}

#[test]
fn a_rounds_windows_are_the_per_revision_rows_and_the_header_says_the_window() {
    let mut s = support::state();
    let w = Duration::from_secs(60);
    update(
        &mut s,
        AppEvent::Prom(PromEvent::Started {
            at: "http://prom:9090".into(),
            scrape_interval: Some(Duration::from_secs(15)),
            window: w,
        }),
    );
    let at = support::now();
    let pods: BTreeMap<_, _> = [
        (key("classifier-7f8b6d4c5-abcde"), pod(600.0, 300.0, "v1")),
        (key("classifier-7f8b6d4c5-fghij"), pod(600.0, 300.0, "v1")),
        (key("classifier-5c4d8e7f6-pqrst"), pod(120.0, 12.0, "v2")),
    ]
    .into();
    update(
        &mut s,
        AppEvent::Prom(PromEvent::Window {
            at,
            window: w,
            pods,
        }),
    );
    let rows = tractor::state::latency::by_revision(&s, &key("classifier"));
    let r2 = rows.iter().find(|r| r.revision == Some(2)).unwrap();
    let r3 = rows.iter().find(|r| r.revision == Some(3)).unwrap();
    assert_eq!((r2.versions.as_str(), r2.requests), ("v1", 1200.0));
    assert_eq!(r2.rps, Some(20.0), "1,200 requests over the 60 s window");
    // the quantile of the revision's summed increases, as histogram_quantile would say
    let summed = [
        Bucket {
            le: 0.005,
            count: 600.0,
        },
        Bucket {
            le: 0.025,
            count: 1200.0,
        },
        Bucket {
            le: f64::INFINITY,
            count: 1200.0,
        },
    ];
    assert_eq!(r2.p90, quantile(0.9, &summed));
    assert!(matches!(r3.p50, Quantile::Value(v) if v > 0.005), "{r3:?}");
    let screen = support::render(&s, 160, 10);
    assert!(
        screen.contains("prometheus · increase[60s] · 3 pods"),
        "{screen}"
    );
}

#[test]
fn series_of_other_pods_and_a_failed_round_are_said_in_the_header() {
    let mut s = support::state();
    // a serving pod (one with the model-version label, as the direct scrapes count them)
    let mut serving = s.cluster.pods[&key("classifier-7f8b6d4c5-abcde")].clone();
    serving
        .metadata
        .labels
        .get_or_insert_default()
        .insert("tractor.dev/model-version".into(), "v1".into());
    update(
        &mut s,
        AppEvent::Kube(tractor::event::ClusterDelta::Applied(
            tractor::event::Object::Pod(serving),
        )),
    );
    let w = Duration::from_secs(60);
    let pods: BTreeMap<_, _> = [(key("someone-else-1"), pod(10.0, 5.0, "v9"))].into();
    update(
        &mut s,
        AppEvent::Prom(PromEvent::Started {
            at: "http://prom:9090".into(),
            scrape_interval: None,
            window: w,
        }),
    );
    update(
        &mut s,
        AppEvent::Prom(PromEvent::Window {
            at: support::now(),
            window: w,
            pods,
        }),
    );
    let problem = s.prom.as_ref().unwrap().problem.clone().unwrap();
    assert!(
        problem.contains("serving pods watched") && problem.contains("ml/someone-else-1"),
        "{problem}"
    );
    update(
        &mut s,
        AppEvent::Prom(PromEvent::Failed {
            at: "http://prom:9090".into(),
            why: std::sync::Arc::new(tractor::prom::events::PromFailure::NoLabels {
                namespace: "namespace".into(),
                pod: "pod".into(),
            }),
        }),
    );
    let screen = support::render(&s, 220, 10);
    assert!(
        screen
            .contains("prometheus ✗ other labels: the series have no `namespace` and `pod` labels"),
        "{screen}"
    );
}

#[test]
fn a_backfill_lands_before_the_start_and_gone_pods_go_by_their_replicasets_name() {
    let mut s = support::state();
    let w = Duration::from_secs(20);
    let now = support::now();
    let steps: Vec<_> = (1..=3)
        .map(|i| {
            let at = now
                .checked_sub(jiff::SignedDuration::from_secs(60 * (4 - i)))
                .unwrap();
            // a pod of revision 2 that no longer exists
            let pods: BTreeMap<_, _> =
                [(key("classifier-7f8b6d4c5-gone1"), pod(200.0, 100.0, "v1"))].into();
            (at, pods)
        })
        .collect();
    let from = now.checked_sub(jiff::SignedDuration::from_mins(6)).unwrap();
    update(
        &mut s,
        AppEvent::Prom(PromEvent::Backfill(tractor::prom::events::History {
            from,
            window: w,
            steps,
        })),
    );
    let tl = &s.timelines[&Some(key("classifier"))];
    assert_eq!(tl.samples.len(), 3);
    // the rollout the history covers is marked at its ReplicaSet's creation (revision 3,
    // created at 02:55); revisions 1 and 2 came days before the history starts
    let marks: Vec<_> = tl
        .markers
        .iter()
        .map(|m| (m.at.to_string(), m.text.as_str()))
        .collect();
    assert_eq!(
        marks,
        [("2026-11-22T02:55:00Z".to_string(), "rollout → rev 3 (v2)")]
    );
    assert!(tl.samples.iter().all(|x| x.at < now));
    assert!(tl.samples.iter().all(|x| {
        x.groups
            .iter()
            .any(|g| g.label == "r2 v1" && g.rps == Some(10.0) && g.p50.is_some())
    }));
    // samples taken since stay after the backfilled ones
    update(&mut s, AppEvent::Tick(now));
    let tl = &s.timelines[&Some(key("classifier"))];
    let times: Vec<_> = tl.samples.iter().map(|x| x.at).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
}
