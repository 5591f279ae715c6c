use super::*;

fn util(name: &str, current: f64, target: f64) -> Metric {
    Metric {
        name: name.into(),
        target: Target::Utilization(target),
        current,
        total: false,
    }
}

fn input(cur: i32, metrics: Vec<Metric>) -> Input {
    Input {
        current_replicas: cur,
        min_replicas: 1,
        max_replicas: 20,
        metrics,
        behavior: Behavior::default(),
        tolerance: 0.1,
        recommendations: vec![],
        scale_events: vec![],
    }
}

#[test]
fn per_metric_proposals() {
    // (current replicas, metric, expected proposal, expected within tolerance)
    let cases: Vec<(i32, Metric, i32, bool)> = vec![
        // 3 × 90/50 = 5.4 → 6
        (3, util("cpu", 90.0, 50.0), 6, false),
        // 4 × 54/50 = 4.32, ratio 1.08 within 10 % → keep 4
        (4, util("cpu", 54.0, 50.0), 4, true),
        // 55/50 in floating point is 1.1000000000000001, just outside 0.1, in the
        // controller too (it compares float64s the same way): ceil(4.4) = 5
        (4, util("cpu", 55.0, 50.0), 5, false),
        // 4 × 45/50 = 3.6: ratio 0.9 is 0.09999999999999998 away, within
        (4, util("cpu", 45.0, 50.0), 4, true),
        // 4 × 20/50 = 1.6 → 2
        (4, util("cpu", 20.0, 50.0), 2, false),
        // Pods metric, AverageValue 10 per pod, current avg 25: 2 × 2.5 = 5
        (
            2,
            Metric {
                name: "inflight".into(),
                target: Target::AverageValue(10.0),
                current: 25.0,
                total: false,
            },
            5,
            false,
        ),
        // External Value: total 300 against 100: 3 × 3 = 9
        (
            3,
            Metric {
                name: "queue".into(),
                target: Target::Value(100.0),
                current: 300.0,
                total: true,
            },
            9,
            false,
        ),
        // External AverageValue 30 per pod, total 200 over 2 replicas: ratio 200/60 = 3.33,
        // proposal ceil(200/30) = 7
        (
            2,
            Metric {
                name: "rps".into(),
                target: Target::AverageValue(30.0),
                current: 200.0,
                total: true,
            },
            7,
            false,
        ),
        // scaled to zero: ceil(ratio)
        (0, util("cpu", 150.0, 50.0), 3, false),
    ];
    for (cur, m, want, within) in cases {
        let s = metric_step(&m, cur, 0.1);
        assert_eq!(s.proposal, want, "{}: {}", m.name, s.formula);
        assert_eq!(s.within_tolerance, within, "{}", s.formula);
    }
}

#[test]
fn max_over_metrics_then_bounds() {
    let mut i = input(3, vec![util("cpu", 90.0, 50.0), util("memory", 30.0, 50.0)]);
    let e = recommend(&i);
    assert_eq!(e.metrics[0].proposal, 6);
    assert_eq!(e.metrics[1].proposal, 2);
    assert_eq!(e.proposal, 6);
    assert_eq!(e.desired, 6);

    i.max_replicas = 5;
    let e = recommend(&i);
    assert_eq!(e.desired, 5);
    assert!(e.bounds.contains("maxReplicas 5"), "{}", e.bounds);
}

#[test]
fn min_replicas_raise() {
    let mut i = input(3, vec![util("cpu", 1.0, 50.0)]);
    i.min_replicas = 2;
    // the default scale-down window has no history: proposal 1 → raised to 2
    let e = recommend(&i);
    assert_eq!(e.proposal, 1);
    assert_eq!(e.desired, 2);
    assert!(e.bounds.contains("minReplicas 2"));
}

#[test]
fn scale_up_policies_limit_the_step() {
    // 2 → proposal ceil(2 × 500/50) = 20; default policies: max(2×2, 2+4) = 6
    let i = input(2, vec![util("cpu", 500.0, 50.0)]);
    let e = recommend(&i);
    assert_eq!(e.proposal, 20);
    assert_eq!(e.limited, 6);
    assert_eq!(e.desired, 6);

    // one policy of 1 pod per 60 s, after +1 ten seconds ago: start 1, limit 2 (below current 2 → 2)
    let mut i = input(2, vec![util("cpu", 500.0, 50.0)]);
    i.behavior.scale_up.policies = vec![Policy {
        kind: PolicyKind::Pods,
        value: 1,
        period_seconds: 60,
    }];
    i.scale_events = vec![Past {
        age_seconds: 10,
        replicas: 1,
    }];
    assert_eq!(recommend(&i).desired, 2);
    // the event is outside the period: 2 + 1 = 3
    i.scale_events = vec![Past {
        age_seconds: 61,
        replicas: 1,
    }];
    assert_eq!(recommend(&i).desired, 3);
}

#[test]
fn scale_down_window_holds_the_highest_recommendation() {
    let mut i = input(8, vec![util("cpu", 10.0, 50.0)]);
    // ceil(8 × 0.2) = 2, but 7 was recommended 100 s ago inside the 300 s window
    i.recommendations = vec![
        Past {
            age_seconds: 100,
            replicas: 7,
        },
        Past {
            age_seconds: 400,
            replicas: 9,
        },
    ];
    let e = recommend(&i);
    assert_eq!(e.proposal, 2);
    assert_eq!(e.stabilized, 7);
    assert_eq!(e.desired, 7);
    assert!(e.stabilization.contains("300s"));
}

#[test]
fn scale_down_percent_policy_truncates() {
    let mut i = input(10, vec![util("cpu", 5.0, 50.0)]);
    i.behavior.scale_down.stabilization_seconds = 0;
    i.behavior.scale_down.policies = vec![Policy {
        kind: PolicyKind::Percent,
        value: 25,
        period_seconds: 60,
    }];
    // 10 × 0.75 = 7.5 → 7
    let e = recommend(&i);
    assert_eq!(e.proposal, 1);
    assert_eq!(e.limited, 7);
    assert_eq!(e.desired, 7);
}

#[test]
fn disabled_scale_down_keeps_current() {
    let mut i = input(5, vec![util("cpu", 5.0, 50.0)]);
    i.behavior.scale_down.stabilization_seconds = 0;
    i.behavior.scale_down.select = Select::Disabled;
    assert_eq!(recommend(&i).desired, 5);
}

#[test]
fn no_usable_metrics_keeps_current() {
    let i = input(4, vec![util("cpu", f64::NAN, 50.0), util("x", 10.0, 0.0)]);
    let e = recommend(&i);
    assert_eq!(e.proposal, 4);
    assert_eq!(e.desired, 4);
    assert!(e.metrics[1].formula.contains("not usable"));
}
