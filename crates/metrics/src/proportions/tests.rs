use super::*;
use crate::reference::{assert_close, cases, f};

fn n(requests: f64, errors: f64) -> Counts {
    Counts { requests, errors }
}

fn tested(r: Result<TwoProportions, CountsError>) -> ProportionTest {
    match r {
        Ok(TwoProportions::Tested(t)) => t,
        other => panic!("not tested: {other:?}"),
    }
}

#[test]
fn agrees_with_the_reference() {
    for case in cases("two_proportions") {
        let name = case["name"].as_str().unwrap();
        let canary = n(f(&case, "canary_requests"), f(&case, "canary_errors"));
        let stable = n(f(&case, "stable_requests"), f(&case, "stable_errors"));
        let t = tested(two_proportions(canary, stable));
        let z = f(&case, "z");
        // z = 0 exactly for equal rates: compare absolutely there
        assert!(
            (t.z - z).abs() <= 1e-9 * z.abs().max(1e-6),
            "{name}: z {} vs {z}",
            t.z
        );
        assert_close(t.p_worse, f(&case, "p_worse"), &format!("{name}: p"));
        assert_eq!(Some(t.canary_rate), canary.rate(), "{name}");
        assert_eq!(Some(t.stable_rate), stable.rate(), "{name}");
    }
}

#[test]
fn direction_is_canary_worse() {
    let worse = tested(two_proportions(n(1000.0, 50.0), n(1000.0, 10.0)));
    let better = tested(two_proportions(n(1000.0, 10.0), n(1000.0, 50.0)));
    assert!(worse.p_worse < 0.001, "{worse:?}");
    assert!(better.p_worse > 0.999, "{better:?}");
    // the pooled variance is the same both ways, so the z's mirror
    assert_eq!(worse.z, -better.z);
    assert_eq!(worse.pooled_rate, 0.03);
}

#[test]
fn edge_cases_are_typed_never_nan() {
    assert_eq!(
        two_proportions(n(0.0, 0.0), n(100.0, 1.0)),
        Ok(TwoProportions::Empty {
            canary: true,
            stable: false
        })
    );
    assert_eq!(
        two_proportions(n(100.0, 1.0), n(0.0, 0.0)),
        Ok(TwoProportions::Empty {
            canary: false,
            stable: true
        })
    );
    assert_eq!(
        two_proportions(n(0.0, 0.0), n(0.0, 0.0)),
        Ok(TwoProportions::Empty {
            canary: true,
            stable: true
        })
    );
    assert_eq!(
        two_proportions(n(100.0, 0.0), n(500.0, 0.0)),
        Ok(TwoProportions::NoErrors)
    );
    assert_eq!(
        two_proportions(n(100.0, 100.0), n(500.0, 500.0)),
        Ok(TwoProportions::AllFailed)
    );
    // one side all failed, the other not: there is variance, and the canary is worse
    let t = tested(two_proportions(n(10.0, 10.0), n(500.0, 0.0)));
    assert!(t.z.is_finite() && t.p_worse < 1e-6, "{t:?}");
}

#[test]
fn bad_counts_are_errors_naming_the_revision() {
    let ok = n(10.0, 1.0);
    let cases = [
        (
            n(f64::NAN, 1.0),
            ok,
            Revision::Canary,
            CountsProblem::NotFinite,
        ),
        (
            ok,
            n(10.0, f64::INFINITY),
            Revision::Stable,
            CountsProblem::NotFinite,
        ),
        (n(-1.0, 0.0), ok, Revision::Canary, CountsProblem::Negative),
        (ok, n(10.0, -2.0), Revision::Stable, CountsProblem::Negative),
        (
            n(5.0, 6.0),
            ok,
            Revision::Canary,
            CountsProblem::MoreErrorsThanRequests,
        ),
    ];
    for (canary, stable, revision, problem) in cases {
        let err = two_proportions(canary, stable).unwrap_err();
        assert_eq!((err.revision, err.problem), (revision, problem), "{err}");
        assert!(
            err.to_string().starts_with(&format!("the {revision}'s")),
            "{err}"
        );
    }
}

#[test]
fn rate_needs_requests() {
    assert_eq!(n(0.0, 0.0).rate(), None);
    assert_eq!(n(8.0, 2.0).rate(), Some(0.25));
}
