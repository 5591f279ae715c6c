//! Every view rendered from the YAML fixture at 160×48 and 80×24, snapshotted.
use crate::support;

use crossterm::event::KeyCode;
use support::{code, key, render, state, typed};
use tractor::action::{Action, Target};
use tractor::event::{AppEvent, EffectResult};
use tractor::state::{State, update};

fn both(name: &str, s: &State) {
    insta::assert_snapshot!(format!("{name}_160x48"), render(s, 160, 48));
    insta::assert_snapshot!(format!("{name}_80x24"), render(s, 80, 24));
}

#[test]
fn deployments() {
    both("deployments", &state());
}

#[test]
fn detail_mid_rollout() {
    let mut s = state();
    // ml/classifier is the first row
    update(&mut s, code(KeyCode::Enter));
    both("detail", &s);
}

#[test]
fn hpas_with_explainer() {
    let mut s = state();
    typed(&mut s, ":hpa");
    update(&mut s, code(KeyCode::Enter));
    both("hpas", &s);
}

#[test]
fn pods_filtered() {
    let mut s = state();
    typed(&mut s, ":pods");
    update(&mut s, code(KeyCode::Enter));
    both("pods", &s);
    typed(&mut s, "/crash");
    both("pods_filter_typing", &s);
}

#[test]
fn events() {
    let mut s = state();
    typed(&mut s, ":events");
    update(&mut s, code(KeyCode::Enter));
    both("events", &s);
}

#[test]
fn help() {
    let mut s = state();
    update(&mut s, key('?'));
    both("help", &s);
}

#[test]
fn confirm_undo_preview() {
    let mut s = state();
    update(&mut s, code(KeyCode::Enter));
    let fx = update(&mut s, key('u'));
    assert_eq!(fx.len(), 1);
    let target = Target {
        namespace: "ml".into(),
        name: "classifier".into(),
    };
    let action = Action::Undo {
        to_revision: Some(2),
    };
    let changes = vec![
        tractor::diff::Change {
            path: "spec.template.metadata.labels.tractor.dev/model-version".into(),
            before: Some("v2".into()),
            after: Some("v1".into()),
        },
        tractor::diff::Change {
            path: "spec.template.spec.containers[server].env[TRACTOR_SERVE_MODEL_VERSION].value"
                .into(),
            before: Some("v2".into()),
            after: Some("v1".into()),
        },
    ];
    let notes = vec!["mid-rollout: 2 ReplicaSets have pods; this replaces the template now and the controller rolls toward it".into()];
    update(
        &mut s,
        AppEvent::Effect(EffectResult::Prepared {
            target,
            action,
            changes,
            notes,
        }),
    );
    both("confirm_undo", &s);
}

#[test]
fn following_a_rollout_and_read_only() {
    let mut s = state();
    let target = Target {
        namespace: "ml".into(),
        name: "classifier".into(),
    };
    s.mode = tractor::state::Mode::Executing {
        target: target.clone(),
        action: Action::Restart,
    };
    update(
        &mut s,
        AppEvent::Effect(EffectResult::Done {
            target,
            action: Action::Restart,
            message: "deploy/classifier: restart applied (revision 3 → 4)".into(),
            revision_before: Some(3),
            revision_after: Some(4),
        }),
    );
    both("follow", &s);
    let mut ro = state();
    ro.read_only = true;
    update(&mut ro, key('u'));
    both("read_only_refusal", &ro);
}

#[test]
fn detail_with_latency_per_revision() {
    use tractor::event::ScrapeResult;
    use tractor::metrics::histogram::Bucket;
    use tractor::scrape::PodMetrics;
    let mut s = state();
    let at = |secs: i64| {
        support::now()
            .checked_add(jiff::SignedDuration::from_secs(secs))
            .unwrap()
    };
    let m = |version: &str, fast: f64, slow: f64, requests: f64| PodMetrics {
        version: Some(version.into()),
        latency: vec![
            Bucket {
                le: 0.005,
                count: fast,
            },
            Bucket {
                le: 0.025,
                count: fast + slow,
            },
            Bucket {
                le: f64::INFINITY,
                count: fast + slow,
            },
        ],
        requests,
        errors: 0.0,
        rejected: 0.0,
        inflight: 1.0,
        queue_depth: 0.0,
        ..PodMetrics::default()
    };
    // revision 2 (v1): 100 fast requests in 10 s; revision 3 (v2): 40 slow ones in 10 s
    for (pod, v, a, b) in [
        (
            "classifier-7f8b6d4c5-abcde",
            "v1",
            m("v1", 1000.0, 0.0, 1000.0),
            m("v1", 1100.0, 0.0, 1100.0),
        ),
        (
            "classifier-5c4d8e7f6-pqrst",
            "v2",
            m("v2", 10.0, 10.0, 20.0),
            m("v2", 10.0, 50.0, 60.0),
        ),
    ] {
        let _ = v;
        for (t, metrics) in [(0, a), (10, b)] {
            update(
                &mut s,
                AppEvent::Scrape(ScrapeResult {
                    pod: ("ml".into(), pod.into()),
                    at: at(t),
                    result: Ok(metrics),
                }),
            );
        }
    }
    update(
        &mut s,
        AppEvent::Scrape(ScrapeResult {
            pod: ("ml".into(), "classifier-5c4d8e7f6-uvwxy".into()),
            at: at(10),
            result: Err(tractor::scrape::fetch::FetchError::Http {
                url: "http://127.1.0.15:8080/metrics".into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "connection refused",
                )
                .into(),
            }
            .into()),
        }),
    );
    update(&mut s, code(KeyCode::Enter));
    both("detail_latency", &s);
}

/// The monitor screen mid-rollout under load: v1 (revision 2) fast, v2 (revision 3)
/// slow, a scale marker, and the client's own latency from the load test.
#[test]
fn monitor_during_a_rollout_under_load() {
    use std::time::Duration;
    use tractor::event::{LoadEvent, ScrapeResult};
    use tractor::load::engine::Progress;
    use tractor::metrics::histogram::Bucket;
    use tractor::scrape::{PodMetrics, SumCount};
    let mut s = state();
    let at = |secs: i64| {
        support::now()
            .checked_add(jiff::SignedDuration::from_secs(secs))
            .unwrap()
    };
    // cumulative counters after `k` intervals of 5 s
    let m = |version: &str, k: f64, fast: f64, slow: f64| PodMetrics {
        version: Some(version.into()),
        latency: vec![
            Bucket {
                le: 0.005,
                count: k * fast,
            },
            Bucket {
                le: 0.025,
                count: k * (fast + slow),
            },
            Bucket {
                le: f64::INFINITY,
                count: k * (fast + slow),
            },
        ],
        requests: k * (fast + slow),
        inflight: 2.0,
        queue_wait: SumCount {
            sum: k * 0.05,
            count: k * (fast + slow),
        },
        inference: SumCount {
            sum: k * 0.2,
            count: k * 50.0,
        },
        batch_size: SumCount {
            sum: k * (fast + slow),
            count: k * 50.0,
        },
        ..PodMetrics::default()
    };
    // the load test starts from the console, on the classifier (first row)
    update(&mut s, key('L'));
    let line = "--url http://127.0.0.1:8080/predict --rate 40 --duration 120s";
    for _ in 0..80 {
        update(&mut s, code(KeyCode::Backspace));
    }
    typed(&mut s, line);
    let effects = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![tractor::state::Effect::StartLoad {
            args: Box::new(tractor::load::line::parse(line).unwrap())
        }]
    );
    for i in 0..=12 {
        let t = i * 5;
        let k = f64::from(i as i32 + 1);
        for (pod, metrics) in [
            ("classifier-7f8b6d4c5-abcde", m("v1", k, 100.0, 0.0)),
            ("classifier-5c4d8e7f6-pqrst", m("v2", k, 10.0, 90.0)),
        ] {
            update(
                &mut s,
                AppEvent::Scrape(ScrapeResult {
                    pod: ("ml".into(), pod.into()),
                    at: at(t),
                    result: Ok(metrics),
                }),
            );
        }
        update(
            &mut s,
            AppEvent::Load(LoadEvent::Progress(Box::new(Progress {
                elapsed: Duration::from_secs(t as u64),
                sent: 40 * t as u64,
                answered: 40 * t as u64,
                rps: 40.0,
                target_rate: Some(40.0),
                p50: Some(3.0),
                p90: Some(12.0),
                p99: Some(21.0),
                p999: Some(24.0),
                window_p50: Some(3.0 + t as f64 / 10.0),
                window_p99: Some(20.0 + t as f64 / 5.0),
                ..Progress::default()
            }))),
        );
        if i == 6 {
            // the deployment scales 4 → 6 (an HPA or a person)
            let mut d =
                s.cluster.deployments[&("ml".to_string(), "classifier".to_string())].clone();
            d.spec.as_mut().unwrap().replicas = Some(6);
            update(
                &mut s,
                AppEvent::Kube(tractor::event::ClusterDelta::Applied(
                    tractor::event::Object::Deployment(Box::new(d)),
                )),
            );
        }
        update(&mut s, AppEvent::Tick(at(t)));
    }
    assert!(matches!(s.view, tractor::state::View::Monitor(Some(_))));
    let screen = render(&s, 160, 48);
    for want in [
        "monitor deploy/classifier in ml",
        "● running",
        "r3 v2 p50",
        "r2 v1 p50",
        "scale 4 → 6",
        "Pods (scraped)",
    ] {
        assert!(screen.contains(want), "{want:?} missing:\n{screen}");
    }
    both("monitor", &s);
    // a generator that lags its schedule says so beside its figures
    update(
        &mut s,
        AppEvent::Load(tractor::event::LoadEvent::Progress(Box::new(
            tractor::load::engine::Progress {
                elapsed: std::time::Duration::from_secs(65),
                sent: 2600,
                answered: 2600,
                rps: 40.0,
                health: tractor::load::health::Health {
                    lag_p99_ms: Some(2.5),
                    lag_max_ms: Some(7.0),
                    max_lag_ms: 1.0,
                    cpu_cores: Some(1.9),
                    cores: 2,
                    ..Default::default()
                },
                ..Default::default()
            },
        ))),
    );
    let screen = render(&s, 160, 48);
    assert!(
        screen.contains("● running  ⚠ generator lagged: p99 2.50 ms late"),
        "{screen}"
    );
    let screen = render(&s, 240, 48);
    for want in [
        "gen lag p99 2.50 ms · cpu 1.90/2",
        "● running  ⚠ generator lagged: p99 2.50 ms late",
    ] {
        assert!(screen.contains(want), "{want:?} missing:\n{screen}");
    }
}
