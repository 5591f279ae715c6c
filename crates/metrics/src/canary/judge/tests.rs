use super::*;
use crate::canary::slo::Observed;
use crate::mannwhitney::RankTest;

mod lagged;

const LE: [f64; 9] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, f64::INFINITY];
/// 2000 observations: p99 at 0.1 s
const BASE: [f64; 9] = [200.0, 600.0, 700.0, 300.0, 180.0, 15.0, 4.0, 1.0, 0.0];
/// BASE about one bucket slower: p99 at 0.375 s
const SLOWER: [f64; 9] = [0.0, 200.0, 600.0, 700.0, 300.0, 170.0, 20.0, 8.0, 2.0];

fn buckets(le: &[f64], counts: &[f64]) -> Vec<Bucket> {
    let mut total = 0.0;
    le.iter()
        .zip(counts)
        .map(|(&le, c)| {
            total += c;
            Bucket { le, count: total }
        })
        .collect()
}

fn rev(errors: f64, counts: &[f64]) -> RevisionWindow {
    RevisionWindow {
        requests: counts.iter().sum(),
        errors,
        latency: buckets(&LE, counts),
    }
}

fn scaled(counts: &[f64], k: f64) -> Vec<f64> {
    counts.iter().map(|c| c * k).collect()
}

fn input(canary: RevisionWindow, stable: RevisionWindow) -> WindowInput {
    WindowInput {
        canary,
        stable,
        scrapes_fresh: true,
        load_lagging: false,
    }
}

fn analysis(slos: &[&str], compare: bool, min_requests: u64) -> Analysis {
    Analysis {
        slos: slos.iter().map(|s| s.parse().unwrap()).collect(),
        compare: compare.then(|| Compare::new(0.95, 0.56).unwrap()),
        min_requests,
    }
}

fn standard() -> Analysis {
    analysis(&["p99<250ms", "errors<1%"], true, 100)
}

fn fail_reasons(v: &WindowVerdict) -> &[FailReason] {
    match &v.verdict {
        Verdict::Fail { reasons } => reasons,
        other => panic!("not a fail: {other:?}"),
    }
}

fn inconclusive_reasons(v: &WindowVerdict) -> &[InconclusiveReason] {
    match &v.verdict {
        Verdict::Inconclusive { reasons } => reasons,
        other => panic!("not inconclusive: {other:?}"),
    }
}

fn rank_test(v: &WindowVerdict) -> RankTest {
    match v.numbers.latency_test {
        Some(MannWhitney::Tested(t)) => t,
        ref other => panic!("no rank test: {other:?}"),
    }
}

#[test]
fn a_canary_like_the_stable_passes_with_its_numbers() {
    let v = judge(
        &input(rev(2.0, &BASE), rev(9.0, &scaled(&BASE, 4.0))),
        &standard(),
    );
    assert_eq!(v.verdict, Verdict::Pass);
    let n = &v.numbers;
    assert_eq!(n.required_requests, 1000);
    assert_eq!((n.canary.requests, n.canary.errors), (2000.0, 2.0));
    assert_eq!(n.canary.error_rate, Some(0.001));
    assert_eq!(n.canary.p99, quantile(0.99, &buckets(&LE, &BASE)));
    assert_eq!(
        n.stable.p50,
        quantile(0.5, &buckets(&LE, &scaled(&BASE, 4.0)))
    );
    assert!(
        n.slos
            .iter()
            .all(|c| matches!(c.outcome, SloOutcome::Met { .. }))
    );
    let t = rank_test(&v);
    assert_eq!(
        Some(MannWhitney::Tested(t)),
        mann_whitney(&buckets(&LE, &BASE), &buckets(&LE, &scaled(&BASE, 4.0))).ok()
    );
    assert!(
        t.p_greater > 0.05 && (t.effect - 0.5).abs() < 1e-12,
        "{t:?}"
    );
    assert!(matches!(n.errors_test, Some(TwoProportions::Tested(_))));
}

#[test]
fn not_enough_data_is_inconclusive_never_pass() {
    let a = standard();
    let stable = || rev(0.0, &scaled(&BASE, 4.0));
    // (canary, fresh, lagging, analysis, expected reasons)
    let few = [100.0, 300.0, 350.0, 150.0, 89.0, 8.0, 2.0, 0.0, 0.0];
    let cases: Vec<(
        RevisionWindow,
        bool,
        bool,
        Analysis,
        Vec<InconclusiveReason>,
    )> = vec![
        // 999 requests for a p99: one short
        (
            rev(0.0, &few),
            true,
            false,
            a.clone(),
            vec![InconclusiveReason::TooFewRequests {
                revision: Revision::Canary,
                requests: 999.0,
                needed: 1000,
            }],
        ),
        // min_requests above what the quantile needs wins
        (
            rev(0.0, &BASE),
            true,
            false,
            analysis(&["p99<250ms"], false, 5000),
            vec![InconclusiveReason::TooFewRequests {
                revision: Revision::Canary,
                requests: 2000.0,
                needed: 5000,
            }],
        ),
        (
            rev(0.0, &BASE),
            false,
            false,
            a.clone(),
            vec![InconclusiveReason::StaleScrapes],
        ),
        (
            rev(0.0, &BASE),
            true,
            true,
            a.clone(),
            vec![InconclusiveReason::LoadLagging],
        ),
        // all at once, all named
        (
            rev(0.0, &few),
            false,
            true,
            a.clone(),
            vec![
                InconclusiveReason::TooFewRequests {
                    revision: Revision::Canary,
                    requests: 999.0,
                    needed: 1000,
                },
                InconclusiveReason::StaleScrapes,
                InconclusiveReason::LoadLagging,
            ],
        ),
        // a window without traffic and with nothing to check is still no pass
        (
            RevisionWindow {
                requests: 0.0,
                errors: 0.0,
                latency: vec![],
            },
            true,
            false,
            analysis(&[], false, 0),
            vec![InconclusiveReason::TooFewRequests {
                revision: Revision::Canary,
                requests: 0.0,
                needed: 1,
            }],
        ),
        // a canary failing badly on too little data: still inconclusive (the numbers show it)
        (
            rev(400.0, &[0.0, 50.0, 150.0, 175.0, 75.0, 42.0, 5.0, 2.0, 1.0]),
            true,
            false,
            a.clone(),
            vec![InconclusiveReason::TooFewRequests {
                revision: Revision::Canary,
                requests: 500.0,
                needed: 1000,
            }],
        ),
    ];
    for (i, (canary, fresh, lagging, analysis, want)) in cases.into_iter().enumerate() {
        let mut w = input(canary, stable());
        w.scrapes_fresh = fresh;
        w.load_lagging = lagging;
        let v = judge(&w, &analysis);
        assert_eq!(inconclusive_reasons(&v), &want[..], "case {i}");
    }
    // the boundary: exactly 1000 is enough
    let enough = [100.0, 300.0, 350.0, 150.0, 90.0, 8.0, 2.0, 0.0, 0.0];
    let v = judge(&input(rev(0.0, &enough), stable()), &a);
    assert_eq!(v.verdict, Verdict::Pass);
}

#[test]
fn absolute_slos_fail_per_condition() {
    let stable = || rev(0.0, &scaled(&BASE, 4.0));
    // p99 at 0.375 s (SLOWER): "p99<250ms" fails, "p99<=400ms" is met
    let v = judge(
        &input(rev(0.0, &SLOWER), stable()),
        &analysis(&["p99<250ms"], false, 0),
    );
    let p99 = quantile(0.99, &buckets(&LE, &SLOWER)).value().unwrap();
    assert_eq!(
        fail_reasons(&v),
        &[FailReason::Slo {
            slo: "p99<250ms".parse().unwrap(),
            observed: Observed::Value(p99),
        }]
    );
    let v = judge(
        &input(rev(0.0, &SLOWER), stable()),
        &analysis(&["p99<=400ms"], false, 0),
    );
    assert_eq!(v.verdict, Verdict::Pass);
    // 20 errors of 2000 is 1%: not below 1%
    let v = judge(
        &input(rev(20.0, &BASE), stable()),
        &analysis(&["errors<1%"], false, 0),
    );
    assert_eq!(
        fail_reasons(&v),
        &[FailReason::Slo {
            slo: "errors<1%".parse().unwrap(),
            observed: Observed::Value(0.01),
        }]
    );
    // both at once, in the order given
    let v = judge(
        &input(rev(20.0, &SLOWER), stable()),
        &analysis(&["errors<1%", "p50<1ms", "p99<250ms"], false, 0),
    );
    let slos: Vec<String> = fail_reasons(&v)
        .iter()
        .map(|r| match r {
            FailReason::Slo { slo, .. } => slo.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(slos, ["errors<1%", "p50<1ms", "p99<250ms"]);
}

#[test]
fn what_cannot_be_checked_makes_the_window_inconclusive_unless_something_fails() {
    let a = standard();
    // the canary's buckets changed with the new version
    let mut canary = rev(0.0, &BASE);
    let other_le = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, f64::INFINITY];
    canary.latency = buckets(&other_le, &BASE);
    let v = judge(&input(canary.clone(), rev(0.0, &BASE)), &a);
    assert!(
        matches!(
            inconclusive_reasons(&v),
            [InconclusiveReason::LatencyBuckets {
                error: BucketsError::BoundsDiffer { .. }
            }]
        ),
        "{v:?}"
    );
    // ... but a violated SLO still fails the window
    canary.errors = 100.0;
    let v = judge(&input(canary, rev(0.0, &BASE)), &a);
    assert!(
        fail_reasons(&v)
            .iter()
            .any(|r| matches!(r, FailReason::Slo { .. }))
    );
    // p99 above the highest finite bound (0.1 s), under an SLO of 250 ms: unknown
    let le = [0.05, 0.1, f64::INFINITY];
    let mut high = rev(0.0, &BASE);
    high.latency = buckets(&le, &[1000.0, 970.0, 30.0]);
    let v = judge(
        &input(high, rev(0.0, &BASE)),
        &analysis(&["p99<250ms"], false, 0),
    );
    assert_eq!(
        inconclusive_reasons(&v),
        &[InconclusiveReason::SloUnknown {
            slo: "p99<250ms".parse().unwrap(),
            why: Unknown::AboveHighestBound(0.1),
        }]
    );
    // requests counted, but no latency observed
    let mut blind = rev(0.0, &BASE);
    blind.latency = buckets(&LE, &[0.0; 9]);
    let v = judge(&input(blind, rev(0.0, &BASE)), &a);
    assert_eq!(
        inconclusive_reasons(&v),
        &[
            InconclusiveReason::SloUnknown {
                slo: "p99<250ms".parse().unwrap(),
                why: Unknown::NoObservations,
            },
            InconclusiveReason::NoLatencyObservations {
                revision: Revision::Canary
            },
        ]
    );
    // counts that are not counts
    let v = judge(&input(rev(2500.0, &BASE), rev(0.0, &BASE)), &a);
    assert!(matches!(
        inconclusive_reasons(&v),
        [InconclusiveReason::Counts { .. }]
    ));
}

#[test]
fn settings_are_checked() {
    assert_eq!(Compare::new(1.0, 0.6), Err(CompareError::Confidence(1.0)));
    assert_eq!(Compare::new(0.0, 0.6), Err(CompareError::Confidence(0.0)));
    assert!(matches!(
        Compare::new(f64::NAN, 0.6),
        Err(CompareError::Confidence(_))
    ));
    assert_eq!(Compare::new(0.95, 0.4), Err(CompareError::MinEffect(0.4)));
    assert_eq!(Compare::new(0.95, 1.1), Err(CompareError::MinEffect(1.1)));
    let c = Compare::new(0.99, 0.6).unwrap();
    assert_eq!((c.confidence(), c.min_effect()), (0.99, 0.6));
    assert!((c.alpha() - 0.01).abs() < 1e-15);
    // the largest need wins: p99.9 needs 10,000
    assert_eq!(
        analysis(&["p50<1s", "p99.9<1s", "errors<1%"], false, 10).required_requests(),
        10_000
    );
    assert_eq!(analysis(&["p50<1s"], false, 0).required_requests(), 20);
}

#[test]
fn serializes_to_one_json_object() {
    let v = judge(&input(rev(0.0, &SLOWER), rev(0.0, &BASE)), &standard());
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["reasons"][0]["reason"], "slo");
    assert_eq!(json["reasons"][0]["slo"], "p99<250ms");
    assert_eq!(json["reasons"][1]["reason"], "slower");
    assert_eq!(json["numbers"]["required_requests"], 1000);
    assert_eq!(json["numbers"]["canary"]["p99"]["kind"], "value");
    assert_eq!(json["numbers"]["slos"][0]["outcome"], "violated");
    assert_eq!(json["numbers"]["latency_test"]["outcome"], "tested");
    assert_eq!(json["numbers"]["latency_test"]["u"], rank_test(&v).u);
    assert_eq!(json["numbers"]["errors_test"]["outcome"], "no_errors");
    // one line, as `-o json` prints it
    assert!(!serde_json::to_string(&v).unwrap().contains('\n'));
    let v = judge(
        &input(rev(0.0, &BASE), rev(0.0, &BASE)),
        &analysis(&[], false, 5000),
    );
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["verdict"], "inconclusive");
    assert_eq!(json["reasons"][0]["reason"], "too_few_requests");
    assert_eq!(json["reasons"][0]["revision"], "canary");
}

// the comparison with the stable
mod relative;
