use super::*;

#[test]
fn the_stable_needs_requests_only_for_a_comparison() {
    let canary = rev(0.0, &BASE);
    let stable = rev(0.0, &[4.0, 12.0, 14.0, 6.0, 4.0, 0.0, 0.0, 0.0, 0.0]);
    let v = judge(&input(canary.clone(), stable.clone()), &standard());
    assert_eq!(
        inconclusive_reasons(&v),
        &[InconclusiveReason::TooFewRequests {
            revision: Revision::Stable,
            requests: 40.0,
            needed: 100,
        }]
    );
    let v = judge(
        &input(canary, stable),
        &analysis(&["p99<250ms"], false, 100),
    );
    assert_eq!(v.verdict, Verdict::Pass);
    assert_eq!(v.numbers.latency_test, None);
    assert_eq!(v.numbers.errors_test, None);
}

#[test]
fn a_slower_canary_fails_only_when_significant_and_large_enough() {
    let a = analysis(&["p99<1s"], true, 100);
    let v = judge(&input(rev(0.0, &SLOWER), rev(0.0, &BASE)), &a);
    let t = rank_test(&v);
    assert!(t.p_greater < 0.05 && t.effect >= 0.56, "{t:?}");
    assert_eq!(
        fail_reasons(&v),
        &[FailReason::Slower {
            effect: t.effect,
            min_effect: 0.56,
            p: t.p_greater,
            alpha: 1.0 - 0.95,
        }]
    );
    // a slight shift on much data: significant, yet too small an effect to fail
    let big = scaled(&BASE, 100.0);
    let mut slight = big.clone();
    slight[1] -= 4000.0;
    slight[2] += 4000.0;
    let v = judge(&input(rev(0.0, &slight), rev(0.0, &big)), &a);
    let t = rank_test(&v);
    assert!(
        t.p_greater < 0.05 && t.effect > 0.5 && t.effect < 0.56,
        "{t:?}"
    );
    assert_eq!(v.verdict, Verdict::Pass);
    // the same slight shift fails with a minimum effect below it
    let mut strict = a.clone();
    strict.compare = Some(Compare::new(0.95, 0.5).unwrap());
    let v = judge(&input(rev(0.0, &slight), rev(0.0, &big)), &strict);
    assert!(matches!(fail_reasons(&v), [FailReason::Slower { .. }]));
    // a large effect on a handful of observations: not significant, so not a fail
    let tiny_a = analysis(&[], true, 3);
    let few_slow = [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0];
    let few_fast = [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
    let v = judge(&input(rev(0.0, &few_slow), rev(0.0, &few_fast)), &tiny_a);
    let t = rank_test(&v);
    assert!(t.effect >= 0.56 && t.p_greater >= 0.05, "{t:?}");
    assert_eq!(v.verdict, Verdict::Pass);
    // faster is never a fail
    let v = judge(&input(rev(0.0, &BASE), rev(0.0, &SLOWER)), &a);
    assert_eq!(v.verdict, Verdict::Pass);
}

#[test]
fn more_errors_than_the_stable_fails_when_significant() {
    let a = analysis(&["errors<5%"], true, 100);
    let stable = rev(10.0, &BASE);
    // 3% against 0.5%: inside the SLO, yet worse than the stable
    let v = judge(&input(rev(60.0, &BASE), stable.clone()), &a);
    let Some(TwoProportions::Tested(t)) = v.numbers.errors_test else {
        panic!("{:?}", v.numbers.errors_test)
    };
    assert!(t.p_worse < 0.05, "{t:?}");
    assert_eq!(
        fail_reasons(&v),
        &[FailReason::MoreErrors {
            canary_rate: 0.03,
            stable_rate: 0.005,
            p: t.p_worse,
            alpha: 1.0 - 0.95,
        }]
    );
    // 0.6% against 0.5%: not significant
    let v = judge(&input(rev(12.0, &BASE), stable.clone()), &a);
    assert_eq!(v.verdict, Verdict::Pass);
    // no errors anywhere: typed, a pass
    let v = judge(&input(rev(0.0, &BASE), rev(0.0, &BASE)), &a);
    assert_eq!(v.numbers.errors_test, Some(TwoProportions::NoErrors));
    assert_eq!(v.verdict, Verdict::Pass);
}
