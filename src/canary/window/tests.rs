use tractor_metrics::histogram::Bucket;
use tractor_metrics::parse::ParseError;
use tractor_metrics::revision::Revision::{Canary, Stable};

use super::*;

fn metrics(requests: f64, errors: f64, fast: f64) -> PodMetrics {
    // `fast` of the requests took ≤ 10 ms, the rest ≤ 100 ms
    PodMetrics {
        requests,
        errors,
        latency: vec![
            Bucket {
                le: 0.01,
                count: fast,
            },
            Bucket {
                le: 0.1,
                count: requests,
            },
            Bucket {
                le: f64::INFINITY,
                count: requests,
            },
        ],
        ..PodMetrics::default()
    }
}

fn pod(name: &str, revision: Revision, m: PodMetrics) -> PodSample {
    PodSample {
        pod: name.into(),
        revision,
        metrics: Ok(m),
    }
}

fn failed(name: &str, revision: Revision) -> PodSample {
    PodSample {
        pod: name.into(),
        revision,
        metrics: Err(ScrapeError::Parse(ParseError::NotTractorServe)),
    }
}

fn snap(pods: Vec<PodSample>) -> Snapshot {
    Snapshot { pods }
}

fn count_at(w: &RevisionWindow, le: f64) -> f64 {
    w.latency
        .iter()
        .find(|b| b.le == le)
        .map(|b| b.count)
        .unwrap_or(f64::NAN)
}

#[test]
fn sums_increases_per_revision_and_observes_the_share() {
    let start = snap(vec![
        pod("s1", Stable, metrics(100.0, 1.0, 90.0)),
        pod("s2", Stable, metrics(50.0, 0.0, 50.0)),
        pod("c1", Canary, metrics(10.0, 0.0, 10.0)),
    ]);
    let end = snap(vec![
        pod("s1", Stable, metrics(400.0, 2.0, 370.0)),
        pod("s2", Stable, metrics(350.0, 0.0, 340.0)),
        pod("c1", Canary, metrics(210.0, 5.0, 110.0)),
    ]);
    let m = measure(&start, &end, false, None);
    assert!(m.input.scrapes_fresh, "{:?}", m.stale);
    assert_eq!(m.input.stable.requests, 600.0);
    assert_eq!(m.input.stable.errors, 1.0);
    assert_eq!(count_at(&m.input.stable, 0.01), 570.0);
    assert_eq!(count_at(&m.input.stable, f64::INFINITY), 600.0);
    assert_eq!(m.input.canary.requests, 200.0);
    assert_eq!(m.input.canary.errors, 5.0);
    assert_eq!(count_at(&m.input.canary, 0.01), 100.0);
    assert_eq!(m.canary_share, Some(0.25));
    assert_eq!((m.canary_pods, m.stable_pods), (1, 2));
    assert!(!m.input.load_lagging);
    assert!(measure(&start, &end, true, None).input.load_lagging);
}

#[test]
fn a_restarted_pod_counts_from_zero_and_a_new_pod_counts_whole() {
    let start = snap(vec![pod("c1", Canary, metrics(500.0, 0.0, 500.0))]);
    let end = snap(vec![
        // restarted: its counters went down, the increase is the new value
        pod("c1", Canary, metrics(30.0, 0.0, 30.0)),
        pod("c2", Canary, metrics(70.0, 1.0, 70.0)),
    ]);
    let m = measure(&start, &end, false, None);
    assert!(m.input.scrapes_fresh);
    assert_eq!(m.input.canary.requests, 100.0);
    assert_eq!(m.input.canary.errors, 1.0);
    assert_eq!(m.canary_share, Some(1.0));
}

#[test]
fn a_missing_scrape_or_a_pod_that_left_makes_the_window_stale() {
    let base = || {
        snap(vec![
            pod("s1", Stable, metrics(100.0, 0.0, 100.0)),
            pod("c1", Canary, metrics(10.0, 0.0, 10.0)),
        ])
    };
    // the canary pod's end scrape failed: its requests are unknown, not zero
    let end = snap(vec![
        pod("s1", Stable, metrics(200.0, 0.0, 200.0)),
        failed("c1", Canary),
    ]);
    let m = measure(&base(), &end, false, None);
    assert!(!m.input.scrapes_fresh);
    assert_eq!(m.input.canary.requests, 0.0);
    assert_eq!(m.canary_pods, 0);
    assert!(
        matches!(&m.stale[..], [Stale::Scrape { pod, .. }] if pod == "c1"),
        "{:?}",
        m.stale
    );
    assert!(m.stale[0].to_string().starts_with("pod c1: scrape failed"));

    // the start's scrape failed: the end alone says nothing about the window
    let mut start = base();
    start.pods[1] = failed("c1", Canary);
    let end = snap(vec![
        pod("s1", Stable, metrics(200.0, 0.0, 200.0)),
        pod("c1", Canary, metrics(20.0, 0.0, 20.0)),
    ]);
    let m = measure(&start, &end, false, None);
    assert!(!m.input.scrapes_fresh);
    assert_eq!(m.input.canary.requests, 0.0, "not counted from zero");

    // a stable pod left
    let end = snap(vec![pod("c1", Canary, metrics(20.0, 0.0, 20.0))]);
    let m = measure(&base(), &end, false, None);
    assert_eq!(m.stale, vec![Stale::Left { pod: "s1".into() }]);

    // relabelled between snapshots: counted on neither side
    let end = snap(vec![
        pod("s1", Stable, metrics(200.0, 0.0, 200.0)),
        pod("c1", Stable, metrics(20.0, 0.0, 20.0)),
    ]);
    let m = measure(&base(), &end, false, None);
    assert_eq!(m.stale, vec![Stale::Relabelled { pod: "c1".into() }]);
    assert_eq!(m.input.stable.requests, 100.0);
}

#[test]
fn no_requests_means_no_share() {
    let s = snap(vec![pod("c1", Canary, metrics(10.0, 0.0, 10.0))]);
    let m = measure(&s, &s, false, None);
    assert_eq!(m.canary_share, None);
    assert!(m.input.scrapes_fresh);
    assert!(!Snapshot::default().all_answered());
    assert!(s.all_answered());
}

#[test]
fn a_canary_pod_serving_another_version_is_not_counted_as_the_canary() {
    let with = |version: &str, n: f64| PodMetrics {
        version: Some(version.into()),
        ..metrics(n, 0.0, n)
    };
    let start = snap(vec![
        pod("s1", Stable, with("v1", 100.0)),
        pod("c1", Canary, with("v1", 10.0)),
        pod("c2", Canary, with("v3", 10.0)),
    ]);
    let end = snap(vec![
        pod("s1", Stable, with("v1", 200.0)),
        pod("c1", Canary, with("v1", 60.0)),
        pod("c2", Canary, with("v3", 40.0)),
    ]);
    let m = measure(&start, &end, false, Some("v3"));
    assert_eq!(m.input.canary.requests, 30.0, "c2 only");
    assert!(!m.input.scrapes_fresh);
    assert_eq!(
        m.stale,
        vec![Stale::WrongVersion {
            pod: "c1".into(),
            serves: "v1".into(),
            expected: "v3".into()
        }]
    );
    assert_eq!(
        m.stale[0].to_string(),
        "canary pod c1 serves model v1, not v3: not counted"
    );
    // without an expected version, or a server that does not say, it counts
    assert_eq!(
        measure(&start, &end, false, None).input.canary.requests,
        80.0
    );
}
