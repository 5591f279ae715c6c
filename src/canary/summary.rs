//! The last window's verdict in a line per reason, saved on the canary so that any console
//! (`status`, the TUI) shows why the run is where it is. The full numbers go to the audit
//! log; this is the summary that fits an annotation.
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tractor_metrics::canary::counters::Judged;
use tractor_metrics::canary::judge::{FailReason, InconclusiveReason, Verdict, WindowVerdict};
use tractor_metrics::canary::slo::{Observed, Slo, Unknown};

use super::text::as_timestamp;

/// `Judged` as saved (the metrics crate's type is write-only).
#[derive(Serialize, Deserialize)]
#[serde(remote = "Judged", rename_all = "snake_case")]
enum JudgedDef {
    Pass,
    Fail,
    Inconclusive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictSummary {
    /// When the window ended.
    #[serde(with = "as_timestamp")]
    pub at: Timestamp,
    /// The step the window was judged at (from 0).
    pub step: usize,
    #[serde(with = "JudgedDef")]
    pub verdict: Judged,
    /// Why it failed or was inconclusive, a line each; empty for a pass.
    pub reasons: Vec<String>,
    /// The canary's observed share of the requests both revisions answered in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_share: Option<f64>,
    /// The p99 of each revision in the window, in seconds (when the buckets gave one): the
    /// numbers behind the verdict that fit on a marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_p99: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_p99: Option<f64>,
}

impl VerdictSummary {
    pub fn of(v: &WindowVerdict, step: usize, at: Timestamp) -> Self {
        let reasons = match &v.verdict {
            Verdict::Pass => Vec::new(),
            Verdict::Fail { reasons } => reasons
                .iter()
                .map(|r| fail(r, v.numbers.load_lagging))
                .collect(),
            Verdict::Inconclusive { reasons } => reasons.iter().map(inconclusive).collect(),
        };
        VerdictSummary {
            at,
            step,
            verdict: Judged::from(&v.verdict),
            reasons,
            canary_share: None,
            canary_p99: v.numbers.canary.p99.value(),
            stable_p99: v.numbers.stable.p99.value(),
        }
    }

    /// `p99 4.9 vs 5.1 ms` (canary vs stable), when both are known.
    pub fn p99s(&self) -> Option<String> {
        let (c, s) = (self.canary_p99?, self.stable_p99?);
        Some(format!("p99 {:.1} vs {:.1} ms", c * 1000.0, s * 1000.0))
    }

    /// With the request share the canary was observed to get.
    pub fn with_share(self, canary_share: Option<f64>) -> Self {
        VerdictSummary {
            canary_share,
            ..self
        }
    }
}

fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

fn millis(seconds: f64) -> String {
    format!("{:.1}ms", seconds * 1000.0)
}

/// `p = 0.0123`, or `p < 0.0001` below what four decimals show.
fn p_value(p: f64) -> String {
    if p < 1e-4 {
        "p < 0.0001".into()
    } else {
        format!("p = {p:.4}")
    }
}

fn observed(slo: &Slo, o: &Observed) -> String {
    let value = |v: f64| match slo {
        Slo::Latency { .. } => millis(v),
        Slo::Errors { .. } => percent(v),
    };
    match *o {
        Observed::Value(v) => value(v),
        Observed::Above(le) => format!("above {} (the highest bucket)", value(le)),
    }
}

/// A reason as a line; in a window whose load lagged, an SLO's says the stable met it.
fn fail(r: &FailReason, load_lagged: bool) -> String {
    match r {
        FailReason::Slo { slo, observed: o } if load_lagged => format!(
            "{slo} violated: {} (the load lagged; the stable met it under the same load)",
            observed(slo, o)
        ),
        FailReason::Slo { slo, observed: o } => format!("{slo} violated: {}", observed(slo, o)),
        FailReason::Slower {
            effect,
            min_effect,
            p,
            ..
        } => format!(
            "slower than the stable: effect {effect:.3} (minimum {min_effect}), {}",
            p_value(*p)
        ),
        FailReason::MoreErrors {
            canary_rate,
            stable_rate,
            p,
            ..
        } => format!(
            "more errors than the stable: {} against {}, {}",
            percent(*canary_rate),
            percent(*stable_rate),
            p_value(*p)
        ),
    }
}

fn inconclusive(r: &InconclusiveReason) -> String {
    match r {
        InconclusiveReason::TooFewRequests {
            revision,
            requests,
            needed,
        } => format!("{revision}: {requests} requests, {needed} needed"),
        InconclusiveReason::StaleScrapes => "a scrape of the window was stale".into(),
        InconclusiveReason::LoadLagging => "the load generator lagged its schedule".into(),
        InconclusiveReason::SloUnknown { slo, why } => {
            let why = match why {
                Unknown::NoRequests => "no requests".to_string(),
                Unknown::InvalidCounts => "the counts are not counts".into(),
                Unknown::NoObservations => "no latency observations".into(),
                Unknown::AboveHighestBound(le) => {
                    format!("above the highest bucket ({})", millis(*le))
                }
                Unknown::Histogram(why) => (*why).into(),
            };
            format!("{slo} unknown: {why}")
        }
        InconclusiveReason::NoLatencyObservations { revision } => {
            format!("{revision}: no latency observations")
        }
        InconclusiveReason::LatencyBuckets { error } => format!("latency buckets: {error}"),
        InconclusiveReason::Counts { error } => format!("counts: {error}"),
        InconclusiveReason::NoRequests { revision } => format!("{revision}: no requests"),
    }
}

#[cfg(test)]
mod tests {
    use tractor_metrics::canary::judge::{Analysis, RevisionWindow, WindowInput, judge};
    use tractor_metrics::histogram::Bucket;

    use super::*;

    fn window(requests: f64, errors: f64, fast: f64, slow: f64) -> RevisionWindow {
        RevisionWindow {
            requests,
            errors,
            latency: vec![
                Bucket {
                    le: 0.1,
                    count: fast,
                },
                Bucket {
                    le: 1.0,
                    count: fast + slow,
                },
                Bucket {
                    le: f64::INFINITY,
                    count: fast + slow,
                },
            ],
        }
    }

    fn at() -> Timestamp {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    fn analysis(slos: &[&str]) -> Analysis {
        Analysis {
            slos: slos.iter().map(|s| s.parse().unwrap()).collect(),
            compare: None,
            min_requests: 0,
        }
    }

    #[test]
    fn a_failed_window_says_which_slo_and_what_was_seen() {
        let input = WindowInput {
            canary: window(2000.0, 100.0, 1000.0, 1000.0),
            stable: window(2000.0, 0.0, 2000.0, 0.0),
            scrapes_fresh: true,
            load_lagging: false,
        };
        let v = judge(&input, &analysis(&["errors<1%", "p50<50ms"]));
        let s = VerdictSummary::of(&v, 1, at());
        assert_eq!(s.verdict, Judged::Fail);
        assert_eq!(s.step, 1);
        assert_eq!(
            s.reasons,
            ["errors<1% violated: 5.00%", "p50<50ms violated: 100.0ms"]
        );
        // the load lagged: what the stable met still fails, and says so; the stable's p50
        // is 50 ms too (the bucket's middle), so that SLO no longer counts
        let lagged = WindowInput {
            load_lagging: true,
            ..input
        };
        let s = VerdictSummary::of(
            &judge(&lagged, &analysis(&["errors<1%", "p50<50ms"])),
            1,
            at(),
        );
        assert_eq!(s.verdict, Judged::Fail);
        assert_eq!(
            s.reasons,
            ["errors<1% violated: 5.00% (the load lagged; the stable met it under the same load)"]
        );
    }

    #[test]
    fn a_regression_against_the_stable_gives_its_effect_and_rates() {
        let input = WindowInput {
            canary: window(2000.0, 100.0, 200.0, 1800.0),
            stable: window(2000.0, 2.0, 1800.0, 200.0),
            scrapes_fresh: true,
            load_lagging: false,
        };
        let compared = Analysis {
            compare: Some(tractor_metrics::canary::Compare::new(0.95, 0.56).unwrap()),
            ..analysis(&[])
        };
        let s = VerdictSummary::of(&judge(&input, &compared), 0, at());
        assert_eq!(s.verdict, Judged::Fail);
        // P(canary slower) = 0.9 × 0.9, plus half the ties (0.1 × 0.9 twice)
        assert_eq!(
            s.reasons,
            [
                "slower than the stable: effect 0.900 (minimum 0.56), p < 0.0001",
                "more errors than the stable: 5.00% against 0.10%, p < 0.0001"
            ]
        );
    }

    #[test]
    fn an_inconclusive_window_says_what_was_missing_and_a_pass_says_nothing() {
        let thin = WindowInput {
            canary: window(30.0, 0.0, 30.0, 0.0),
            stable: window(3000.0, 0.0, 3000.0, 0.0),
            scrapes_fresh: false,
            load_lagging: false,
        };
        let s = VerdictSummary::of(&judge(&thin, &analysis(&["p99<250ms"])), 0, at());
        assert_eq!(s.verdict, Judged::Inconclusive);
        assert_eq!(
            s.reasons,
            [
                "canary: 30 requests, 1000 needed",
                "a scrape of the window was stale"
            ]
        );

        let fine = WindowInput {
            canary: window(2000.0, 0.0, 2000.0, 0.0),
            ..thin
        };
        let fine = WindowInput {
            scrapes_fresh: true,
            ..fine
        };
        let s = VerdictSummary::of(&judge(&fine, &analysis(&["p99<250ms"])), 2, at());
        assert_eq!((s.verdict, s.reasons.len()), (Judged::Pass, 0));
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.starts_with(
                r#"{"at":"2026-03-01T12:00:00Z","step":2,"verdict":"pass","reasons":[],"canary_p99":"#
            ),
            "{json}"
        );
        assert!(s.p99s().unwrap().starts_with("p99 "), "{s:?}");
        assert_eq!(serde_json::from_str::<VerdictSummary>(&json).unwrap(), s);
        // a summary saved before the p99s were kept still reads
        let old: VerdictSummary = serde_json::from_str(
            r#"{"at":"2026-03-01T12:00:00Z","step":2,"verdict":"pass","reasons":[]}"#,
        )
        .unwrap();
        assert_eq!((old.canary_p99, old.p99s()), (None, None));
    }
}
