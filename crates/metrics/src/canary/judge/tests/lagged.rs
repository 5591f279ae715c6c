//! The verdict on a window whose load generator lagged its schedule.
use super::*;

/// A lagged window never passes, and fails only on what the load both revisions shared
/// cannot explain: the relative tests, or an SLO the stable met and the canary did not.
#[test]
fn a_lagged_window_fails_only_against_the_stable_and_never_passes() {
    let lagged = |canary: RevisionWindow, stable: RevisionWindow| WindowInput {
        load_lagging: true,
        ..input(canary, stable)
    };
    let slo_only = analysis(&["p99<250ms"], false, 100);
    let slower = || rev(0.0, &scaled(&SLOWER, 2.0));
    let base = || rev(0.0, &scaled(&BASE, 2.0));
    // (canary, stable, analysis, fails, else the inconclusive reasons)
    type Want = Result<Vec<&'static str>, Vec<InconclusiveReason>>;
    let cases: Vec<(RevisionWindow, RevisionWindow, Analysis, Want)> = vec![
        // like the stable: would pass, is inconclusive
        (
            base(),
            base(),
            standard(),
            Err(vec![InconclusiveReason::LoadLagging]),
        ),
        // slower than the stable that saw the same load: the comparison and the SLO stand
        (slower(), base(), standard(), Ok(vec!["slo", "slower"])),
        // no comparison, and the stable met the SLO the canary broke: fails
        (slower(), base(), slo_only.clone(), Ok(vec!["slo"])),
        // both broke it: the bursts may explain that, inconclusive
        (
            slower(),
            slower(),
            slo_only.clone(),
            Err(vec![InconclusiveReason::LoadLagging]),
        ),
        // both slow alike, with the comparison: nothing stands
        (
            slower(),
            slower(),
            standard(),
            Err(vec![InconclusiveReason::LoadLagging]),
        ),
        // more errors than the stable: stands
        (
            rev(200.0, &scaled(&BASE, 2.0)),
            base(),
            analysis(&[], true, 100),
            Ok(vec!["errors"]),
        ),
        // too little data still gates first, the lag named beside it
        (
            rev(0.0, &scaled(&SLOWER, 0.1)),
            base(),
            standard(),
            Err(vec![
                InconclusiveReason::TooFewRequests {
                    revision: Revision::Canary,
                    requests: 200.0,
                    needed: 1000,
                },
                InconclusiveReason::LoadLagging,
            ]),
        ),
    ];
    for (i, (canary, stable, a, want)) in cases.into_iter().enumerate() {
        let v = judge(&lagged(canary, stable), &a);
        assert!(v.numbers.load_lagging, "case {i}");
        match want {
            Ok(kinds) => {
                let got: Vec<&str> = fail_reasons(&v)
                    .iter()
                    .map(|f| match f {
                        FailReason::Slo { .. } => "slo",
                        FailReason::Slower { .. } => "slower",
                        FailReason::MoreErrors { .. } => "errors",
                    })
                    .collect();
                assert_eq!(got, kinds, "case {i}: {:?}", v.verdict);
            }
            Err(reasons) => assert_eq!(inconclusive_reasons(&v), &reasons[..], "case {i}"),
        }
    }
}
