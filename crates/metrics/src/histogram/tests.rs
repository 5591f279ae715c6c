use super::*;

fn b(le: f64, count: f64) -> Bucket {
    Bucket { le, count }
}

const INF: f64 = f64::INFINITY;

#[test]
fn quantiles_by_hand() {
    // 100 observations: 50 ≤ 0.1, 80 ≤ 0.2, 95 ≤ 0.5, 100 ≤ 1
    let h = [
        b(0.1, 50.0),
        b(0.2, 80.0),
        b(0.5, 95.0),
        b(1.0, 100.0),
        b(INF, 100.0),
    ];
    // (q, expected), computed by hand
    let cases = [
        // rank 50 → first bucket: 0 + 0.1 × 50/50
        (0.5, Quantile::Value(0.1)),
        // rank 25 → first bucket, lower edge 0: 0.1 × 25/50
        (0.25, Quantile::Value(0.05)),
        // rank 90 → (0.2, 0.5]: 0.2 + 0.3 × (90-80)/15 = 0.4
        (0.9, Quantile::Value(0.4)),
        // rank 99 → (0.5, 1]: 0.5 + 0.5 × 4/5 = 0.9
        (0.99, Quantile::Value(0.9)),
        (0.0, Quantile::Value(0.0)),
        (1.0, Quantile::Value(1.0)),
    ];
    for (q, want) in cases {
        match (quantile(q, &h), want) {
            (Quantile::Value(got), Quantile::Value(w)) => {
                assert!((got - w).abs() < 1e-12, "q={q}: {got} != {w}")
            }
            (got, w) => assert_eq!(got, w, "q={q}"),
        }
    }
}

#[test]
fn rank_in_inf_answers_the_highest_finite_bound() {
    // 10 observations above 1 s
    let h = [b(0.5, 80.0), b(1.0, 90.0), b(INF, 100.0)];
    assert_eq!(quantile(0.95, &h), Quantile::AboveHighestBound(1.0));
    assert_eq!(quantile(0.95, &h).value(), Some(1.0));
    assert_eq!(quantile(0.9, &h), Quantile::Value(1.0));
}

#[test]
fn no_traffic_is_no_data_never_nan() {
    let h = [b(0.1, 0.0), b(1.0, 0.0), b(INF, 0.0)];
    assert_eq!(quantile(0.99, &h), Quantile::NoData);
    assert_eq!(quantile(0.99, &h).value(), None);
}

#[test]
fn invalid_inputs() {
    assert_eq!(
        quantile(0.5, &[b(INF, 3.0)]),
        Quantile::Invalid("fewer than two buckets")
    );
    assert_eq!(
        quantile(0.5, &[b(0.1, 1.0), b(1.0, 3.0)]),
        Quantile::Invalid("no +Inf bucket")
    );
    assert_eq!(
        quantile(1.5, &[b(0.1, 1.0), b(INF, 3.0)]),
        Quantile::Invalid("q must be within 0..=1")
    );
    assert_eq!(
        quantile(f64::NAN, &[b(0.1, 1.0), b(INF, 3.0)]),
        Quantile::Invalid("q must be within 0..=1")
    );
}

#[test]
fn non_monotonic_buckets_are_repaired() {
    // the 0.2 bucket was read lower than 0.1's: treated as 60 (Prometheus's ensureMonotonic)
    let h = [b(0.1, 60.0), b(0.2, 55.0), b(0.5, 100.0), b(INF, 100.0)];
    // rank 50 → first bucket: 0.1 × 50/60
    match quantile(0.5, &h) {
        Quantile::Value(v) => assert!((v - 0.1 * 50.0 / 60.0).abs() < 1e-12, "{v}"),
        other => panic!("{other:?}"),
    }
    // rank 80 → (0.2, 0.5]: 0.2 + 0.3 × (80-60)/40 = 0.35
    match quantile(0.8, &h) {
        Quantile::Value(v) => assert!((v - 0.35).abs() < 1e-12, "{v}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn negative_first_bound_and_unordered_input() {
    let h = [b(INF, 10.0), b(-1.0, 5.0), b(1.0, 10.0)];
    // rank 2 is in the first bucket, whose bound is ≤ 0: answered as the bound
    assert_eq!(quantile(0.2, &h), Quantile::Value(-1.0));
    // rank 8 → (-1, 1]: -1 + 2 × 3/5 = 0.2
    match quantile(0.8, &h) {
        Quantile::Value(v) => assert!((v - 0.2).abs() < 1e-12, "{v}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn window_sums_deltas_over_pods_with_a_reset() {
    // pod a: 10 new observations, all ≤ 0.1
    let a0 = [b(0.1, 100.0), b(0.5, 120.0), b(INF, 121.0)];
    let a1 = [b(0.1, 110.0), b(0.5, 130.0), b(INF, 131.0)];
    // pod b restarted: its counters start over at 10 ≤ 0.5 (none ≤ 0.1)
    let b0 = [b(0.1, 500.0), b(0.5, 900.0), b(INF, 950.0)];
    let b1 = [b(0.1, 0.0), b(0.5, 10.0), b(INF, 10.0)];
    let w = window([(&a0[..], &a1[..]), (&b0[..], &b1[..])]);
    // summed per le: ≤0.1: 10+0 = 10; ≤0.5: 10+10 = 20; +Inf: 10+10 = 20
    // median: rank 10 → first bucket, 0.1 × 10/10 = 0.1
    assert_eq!(quantile(0.5, &w), Quantile::Value(0.1));
    // p75: rank 15 → (0.1, 0.5]: 0.1 + 0.4 × 5/10 = 0.3
    match quantile(0.75, &w) {
        Quantile::Value(v) => assert!((v - 0.3).abs() < 1e-12, "{v}"),
        other => panic!("{other:?}"),
    }
    // no new observations anywhere: no data
    let w = window([(&a1[..], &a1[..])]);
    assert_eq!(quantile(0.5, &w), Quantile::NoData);
}

#[test]
fn a_bucket_above_minus_inf_gives_its_bound_not_nan() {
    // found by the fuzzer: le="-Inf" 4, le="0.005" 7, le="+Inf" 9
    let bs = [
        b(f64::NEG_INFINITY, 4.0),
        b(0.005, 7.0),
        b(f64::INFINITY, 9.0),
    ];
    assert_eq!(quantile(0.5, &bs), Quantile::Value(0.005));
    assert!(matches!(quantile(0.7, &bs), Quantile::Value(v) if !v.is_nan()));
}
