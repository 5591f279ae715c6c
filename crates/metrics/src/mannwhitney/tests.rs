use super::*;
use crate::histogram::window;
use crate::reference::{assert_close, cases, cumulative, f};

const INF: f64 = f64::INFINITY;

fn b(le: f64, count: f64) -> Bucket {
    Bucket { le, count }
}

fn tested(r: Result<MannWhitney, BucketsError>) -> RankTest {
    match r {
        Ok(MannWhitney::Tested(t)) => t,
        other => panic!("not tested: {other:?}"),
    }
}

#[test]
fn agrees_with_scipy_on_expanded_samples() {
    let mut all_tied = 0;
    for case in cases("mann_whitney") {
        let name = case["name"].as_str().unwrap();
        let c = cumulative(&case["le"], &case["canary"]);
        let s = cumulative(&case["le"], &case["stable"]);
        match mann_whitney(&c, &s).unwrap() {
            MannWhitney::Tested(t) => {
                assert_eq!(t.n_canary, f(&case, "n_canary"), "{name}");
                assert_eq!(t.n_stable, f(&case, "n_stable"), "{name}");
                assert_close(t.u, f(&case, "u"), &format!("{name}: U"));
                assert_close(t.p_greater, f(&case, "p_greater"), &format!("{name}: p>"));
                assert_close(
                    t.p_two_sided,
                    f(&case, "p_two_sided"),
                    &format!("{name}: p two-sided"),
                );
                // the effect counted pair by pair in Python, independently of U
                assert_close(t.effect, f(&case, "effect"), &format!("{name}: effect"));
            }
            MannWhitney::AllTied {
                n_canary, n_stable, ..
            } => {
                all_tied += 1;
                // scipy has no variance to divide by either: it answers p = 1, and its U
                // is n₁n₂/2 with an effect of ½
                assert_eq!(f(&case, "p_greater"), 1.0, "{name}");
                assert_eq!(f(&case, "p_two_sided"), 1.0, "{name}");
                assert_eq!(f(&case, "u"), n_canary * n_stable / 2.0, "{name}");
                assert_eq!(f(&case, "effect"), 0.5, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(all_tied, 1, "the reference has one all-tied case");
}

#[test]
fn swapping_the_revisions_mirrors_u_and_keeps_the_two_sided_p() {
    for case in cases("mann_whitney") {
        let name = case["name"].as_str().unwrap();
        let c = cumulative(&case["le"], &case["canary"]);
        let s = cumulative(&case["le"], &case["stable"]);
        let (Ok(MannWhitney::Tested(ab)), Ok(MannWhitney::Tested(ba))) =
            (mann_whitney(&c, &s), mann_whitney(&s, &c))
        else {
            continue;
        };
        assert_eq!(ab.u + ba.u, ab.n_canary * ab.n_stable, "{name}");
        assert!((ab.effect + ba.effect - 1.0).abs() < 1e-12, "{name}");
        assert_close(ab.p_two_sided, ba.p_two_sided, name);
    }
}

#[test]
fn pods_and_bucket_order_do_not_matter() {
    // the same window as one series, and as two pods' deltas in shuffled order
    let one = [b(0.01, 10.0), b(0.1, 30.0), b(INF, 32.0)];
    let stable = [b(0.01, 20.0), b(0.1, 25.0), b(INF, 25.0)];
    let pod_a = (
        [b(0.01, 0.0), b(0.1, 0.0), b(INF, 0.0)],
        [b(INF, 12.0), b(0.1, 11.0), b(0.01, 4.0)],
    );
    let pod_b = (
        [b(0.01, 100.0), b(0.1, 200.0), b(INF, 300.0)],
        [b(0.01, 106.0), b(0.1, 219.0), b(INF, 320.0)],
    );
    let w = window([(&pod_a.0[..], &pod_a.1[..]), (&pod_b.0[..], &pod_b.1[..])]);
    assert_eq!(mann_whitney(&w, &stable), mann_whitney(&one, &stable));
    assert!(matches!(
        mann_whitney(&w, &stable),
        Ok(MannWhitney::Tested(_))
    ));
}

#[test]
fn a_clearly_slower_canary_is_significant_one_sided_only_that_way() {
    let stable = [b(0.01, 900.0), b(0.1, 990.0), b(INF, 1000.0)];
    let slower = [b(0.01, 100.0), b(0.1, 900.0), b(INF, 1000.0)];
    let t = tested(mann_whitney(&slower, &stable));
    assert!(t.p_greater < 1e-6 && t.effect > 0.7, "{t:?}");
    assert!(t.p_two_sided < 1e-6);
    // the other way round: faster, so not significant for "slower", yet two-sided it is
    let t = tested(mann_whitney(&stable, &slower));
    assert!(t.p_greater > 0.99 && t.effect < 0.3, "{t:?}");
    assert!(t.p_two_sided < 1e-6);
}

#[test]
fn empty_samples_are_typed() {
    let some = [b(0.01, 3.0), b(INF, 5.0)];
    let none = [b(0.01, 0.0), b(INF, 0.0)];
    assert_eq!(
        mann_whitney(&none, &some),
        Ok(MannWhitney::Empty {
            canary: true,
            stable: false
        })
    );
    assert_eq!(
        mann_whitney(&some, &none),
        Ok(MannWhitney::Empty {
            canary: false,
            stable: true
        })
    );
    assert_eq!(
        mann_whitney(&none, &none),
        Ok(MannWhitney::Empty {
            canary: true,
            stable: true
        })
    );
}

#[test]
fn all_in_one_bucket_is_all_tied_without_nan() {
    let c = [b(0.01, 0.0), b(0.1, 7.0), b(INF, 7.0)];
    let s = [b(0.01, 0.0), b(0.1, 3.0), b(INF, 3.0)];
    assert_eq!(
        mann_whitney(&c, &s),
        Ok(MannWhitney::AllTied {
            n_canary: 7.0,
            n_stable: 3.0,
            le: 0.1
        })
    );
    // only the +Inf bucket, no finite bound at all
    assert_eq!(
        mann_whitney(&[b(INF, 2.0)], &[b(INF, 1.0)]),
        Ok(MannWhitney::AllTied {
            n_canary: 2.0,
            n_stable: 1.0,
            le: INF
        })
    );
    // one observation each in two buckets: the smallest sample with variance
    let t = tested(mann_whitney(
        &[b(0.1, 0.0), b(INF, 1.0)],
        &[b(0.1, 1.0), b(INF, 1.0)],
    ));
    assert_eq!((t.u, t.effect), (1.0, 1.0));
    assert!(t.p_greater.is_finite() && t.p_two_sided.is_finite());
}

#[test]
fn bounds_that_differ_are_an_error_naming_both() {
    let c = [b(0.01, 1.0), b(0.1, 2.0), b(INF, 3.0)];
    let s = [b(0.01, 1.0), b(0.25, 2.0), b(INF, 3.0)];
    let err = mann_whitney(&c, &s).unwrap_err();
    assert_eq!(
        err,
        BucketsError::BoundsDiffer {
            canary: vec![0.01, 0.1, INF],
            stable: vec![0.01, 0.25, INF]
        }
    );
    assert!(err.to_string().contains("0.25"), "{err}");
    // a bucket fewer is different bounds too
    assert!(matches!(
        mann_whitney(&c, &[b(0.01, 1.0), b(INF, 3.0)]),
        Err(BucketsError::BoundsDiffer { .. })
    ));
}

#[test]
fn unusable_buckets_are_errors_not_panics() {
    let ok = [b(0.1, 1.0), b(INF, 2.0)];
    assert_eq!(
        mann_whitney(&[b(0.1, 1.0), b(1.0, 2.0)], &ok),
        Err(BucketsError::NoInfBucket {
            revision: Revision::Canary
        })
    );
    assert_eq!(
        mann_whitney(&ok, &[]),
        Err(BucketsError::NoInfBucket {
            revision: Revision::Stable
        })
    );
    assert_eq!(
        mann_whitney(&ok, &[b(0.1, 0.5), b(INF, 2.0)]),
        Err(BucketsError::FractionalCount {
            revision: Revision::Stable,
            le: 0.1,
            count: 0.5
        })
    );
    assert!(matches!(
        mann_whitney(&[b(0.1, 1e300), b(INF, 1e300)], &ok),
        Err(BucketsError::TooManyObservations {
            revision: Revision::Canary,
            ..
        })
    ));
    // NaN bounds are dropped and non-finite counts read as 0, as the quantile does
    let odd = [b(f64::NAN, 5.0), b(0.1, f64::NAN), b(INF, 2.0)];
    assert_eq!(
        mann_whitney(&odd, &ok),
        mann_whitney(&[b(0.1, 0.0), b(INF, 2.0)], &ok)
    );
}

#[test]
fn decreasing_cumulative_counts_are_repaired_like_the_quantile() {
    // 0.1's count read below 0.01's: taken as 6, so bucket (0.01, 0.1] holds none
    let torn = [b(0.01, 6.0), b(0.1, 4.0), b(INF, 9.0)];
    let repaired = [b(0.01, 6.0), b(0.1, 6.0), b(INF, 9.0)];
    let s = [b(0.01, 2.0), b(0.1, 5.0), b(INF, 9.0)];
    assert_eq!(mann_whitney(&torn, &s), mann_whitney(&repaired, &s));
}

#[test]
fn huge_windows_stay_finite() {
    let c = [b(0.01, 1e15), b(0.1, 3e15), b(INF, 4e15)];
    let s = [b(0.01, 2e15), b(0.1, 3e15), b(INF, 4e15)];
    let t = tested(mann_whitney(&c, &s));
    assert!(t.z.is_finite() && t.p_greater < 1e-100, "{t:?}");
    assert!((0.0..=1.0).contains(&t.effect));
}
