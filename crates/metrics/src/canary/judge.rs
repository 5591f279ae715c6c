//! The verdict on one analysis window of a canary against the stable revision.
//!
//! 1. Enough data: the canary has at least `max(min_requests, ⌈10/(1−q)⌉)` requests for every
//!    quantile q an SLO names (and at least 1) and every scrape of the window was fresh; with a
//!    relative comparison, the stable has at least `max(min_requests, 1)`. Otherwise the
//!    window is inconclusive, never a pass.
//! 2. The absolute SLOs, each met, violated, or unknown.
//! 3. Relative to the stable in the same window: the canary is slower when the one-sided
//!    Mann–Whitney test is significant at the confidence *and* its effect, P(canary slower)
//!    plus half P(tie), reaches the minimum; it fails more often when the one-sided
//!    two-proportion test is significant.
//!
//! Any violation or regression fails the window; otherwise anything unknown makes it
//! inconclusive; otherwise it passes. The numbers behind the verdict come with it.
//!
//! A window in which the load generator lagged its schedule sent bursts the schedule did
//! not ask for, to both revisions alike. It never passes; it fails only on what that shared
//! load cannot explain: the canary worse than the stable by the relative tests, or an SLO
//! the canary violated while the stable met it in the same window. Anything else in it is
//! inconclusive. (A clearly slow canary that overloads the machine, and so makes the
//! generator lag, is still rolled back.)
use std::fmt;

use serde::Serialize;

use super::slo::{Observed, Slo, SloOutcome, Unknown};
use crate::histogram::{Bucket, Quantile, quantile};
use crate::mannwhitney::{BucketsError, MannWhitney, mann_whitney};
use crate::proportions::{Counts, CountsError, TwoProportions, two_proportions};
use crate::revision::Revision;

/// One revision's window: counter increases and latency bucket deltas (summed over its pods,
/// e.g. by [`crate::histogram::window`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionWindow {
    pub requests: f64,
    /// Responses 5xx other than 503 (503 is backpressure, counted apart).
    pub errors: f64,
    pub latency: Vec<Bucket>,
}

impl RevisionWindow {
    pub fn counts(&self) -> Counts {
        Counts {
            requests: self.requests,
            errors: self.errors,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WindowInput {
    pub canary: RevisionWindow,
    pub stable: RevisionWindow,
    /// Every scrape the window is made of was fresh (no pod's metrics missing or old).
    pub scrapes_fresh: bool,
    /// The load generator, when one runs, is behind its schedule (false when none runs).
    pub load_lagging: bool,
}

/// The relative comparison's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Compare {
    confidence: f64,
    min_effect: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "setting", content = "value", rename_all = "snake_case")]
pub enum CompareError {
    /// Must be strictly between 0 and 1 (e.g. 0.95).
    Confidence(f64),
    /// Must be within 0.5..=1 (0.5: any shift counts; 0.56 is a small effect by
    /// Vargha–Delaney's rule of thumb).
    MinEffect(f64),
}

impl fmt::Display for CompareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompareError::Confidence(c) => {
                write!(f, "confidence {c} must be above 0 and below 1 (e.g. 0.95)")
            }
            CompareError::MinEffect(e) => write!(
                f,
                "minimum effect {e} must be within 0.5..=1 (P(canary slower) + P(tie)/2)"
            ),
        }
    }
}

impl std::error::Error for CompareError {}

impl Compare {
    pub fn new(confidence: f64, min_effect: f64) -> Result<Self, CompareError> {
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(CompareError::Confidence(confidence));
        }
        if !(0.5..=1.0).contains(&min_effect) {
            return Err(CompareError::MinEffect(min_effect));
        }
        Ok(Compare {
            confidence,
            min_effect,
        })
    }
    pub fn confidence(&self) -> f64 {
        self.confidence
    }
    pub fn min_effect(&self) -> f64 {
        self.min_effect
    }
    /// The significance level, 1 − confidence: a p-value below it is significant.
    pub fn alpha(&self) -> f64 {
        1.0 - self.confidence
    }
}

/// What a window is judged by.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub slos: Vec<Slo>,
    /// `None`: no comparison with the stable, only the absolute SLOs.
    pub compare: Option<Compare>,
    pub min_requests: u64,
}

impl Analysis {
    /// The canary's requests a window needs: max(min_requests, ⌈10/(1−q)⌉ per SLO, 1).
    pub fn required_requests(&self) -> u64 {
        self.slos
            .iter()
            .map(Slo::min_requests)
            .fold(self.min_requests.max(1), u64::max)
    }
}

/// One revision's numbers in the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RevisionNumbers {
    pub requests: f64,
    pub errors: f64,
    pub error_rate: Option<f64>,
    pub p50: Quantile,
    pub p90: Quantile,
    pub p99: Quantile,
}

impl RevisionNumbers {
    fn of(w: &RevisionWindow) -> Self {
        RevisionNumbers {
            requests: w.requests,
            errors: w.errors,
            error_rate: w.counts().rate().filter(|r| r.is_finite()),
            p50: quantile(0.5, &w.latency),
            p90: quantile(0.9, &w.latency),
            p99: quantile(0.99, &w.latency),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SloCheck {
    pub slo: Slo,
    #[serde(flatten)]
    pub outcome: SloOutcome,
}

/// Everything the verdict was drawn from, for the audit log and `-o json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Numbers {
    pub required_requests: u64,
    pub scrapes_fresh: bool,
    pub load_lagging: bool,
    pub canary: RevisionNumbers,
    pub stable: RevisionNumbers,
    pub slos: Vec<SloCheck>,
    /// The comparison's settings, and its tests when they could run (`None` without one).
    pub compare: Option<Compare>,
    pub latency_test: Option<MannWhitney>,
    pub errors_test: Option<TwoProportions>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum FailReason {
    Slo {
        slo: Slo,
        observed: Observed,
    },
    /// The canary's latencies are higher than the stable's.
    Slower {
        effect: f64,
        min_effect: f64,
        p: f64,
        alpha: f64,
    },
    /// The canary's error rate is higher than the stable's.
    MoreErrors {
        canary_rate: f64,
        stable_rate: f64,
        p: f64,
        alpha: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum InconclusiveReason {
    TooFewRequests {
        revision: Revision,
        requests: f64,
        needed: u64,
    },
    StaleScrapes,
    LoadLagging,
    SloUnknown {
        slo: Slo,
        why: Unknown,
    },
    /// A revision had requests but no latency observations to compare.
    NoLatencyObservations {
        revision: Revision,
    },
    LatencyBuckets {
        error: BucketsError,
    },
    Counts {
        error: CountsError,
    },
    /// A revision had no requests to compare error rates with.
    NoRequests {
        revision: Revision,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail { reasons: Vec<FailReason> },
    Inconclusive { reasons: Vec<InconclusiveReason> },
}

/// The verdict on a window with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowVerdict {
    #[serde(flatten)]
    pub verdict: Verdict,
    pub numbers: Numbers,
}

fn empty_sides(canary: bool, stable: bool) -> impl Iterator<Item = Revision> {
    [(canary, Revision::Canary), (stable, Revision::Stable)]
        .into_iter()
        .filter_map(|(empty, r)| empty.then_some(r))
}

/// `requests ≥ needed`; false for NaN.
fn at_least(requests: f64, needed: u64) -> bool {
    requests >= needed as f64
}

/// Does a failure stand in a window whose load lagged? The relative tests compare two
/// revisions that saw the same load; an SLO violation stands when the stable met that SLO.
fn survives_lag(fail: &FailReason, stable: &RevisionWindow) -> bool {
    match fail {
        FailReason::Slower { .. } | FailReason::MoreErrors { .. } => true,
        FailReason::Slo { slo, .. } => matches!(
            slo.check(&stable.latency, stable.counts()),
            SloOutcome::Met { .. }
        ),
    }
}

/// The verdict on one window.
pub fn judge(input: &WindowInput, analysis: &Analysis) -> WindowVerdict {
    let needed = analysis.required_requests();
    let mut gate = Vec::new();
    if let Err(error) = input.canary.counts().check(Revision::Canary) {
        gate.push(InconclusiveReason::Counts { error });
    }
    if !at_least(input.canary.requests, needed) {
        gate.push(InconclusiveReason::TooFewRequests {
            revision: Revision::Canary,
            requests: input.canary.requests,
            needed,
        });
    }
    let stable_needed = analysis.min_requests.max(1);
    if analysis.compare.is_some() && !at_least(input.stable.requests, stable_needed) {
        gate.push(InconclusiveReason::TooFewRequests {
            revision: Revision::Stable,
            requests: input.stable.requests,
            needed: stable_needed,
        });
    }
    if !input.scrapes_fresh {
        gate.push(InconclusiveReason::StaleScrapes);
    }

    let (mut fails, mut unknown) = (Vec::new(), Vec::new());
    let slos: Vec<SloCheck> = analysis
        .slos
        .iter()
        .map(|slo| SloCheck {
            slo: *slo,
            outcome: slo.check(&input.canary.latency, input.canary.counts()),
        })
        .collect();
    for c in &slos {
        match c.outcome {
            SloOutcome::Met { .. } => {}
            SloOutcome::Violated { observed } => fails.push(FailReason::Slo {
                slo: c.slo,
                observed,
            }),
            SloOutcome::Unknown { why } => {
                unknown.push(InconclusiveReason::SloUnknown { slo: c.slo, why })
            }
        }
    }

    let (mut latency_test, mut errors_test) = (None, None);
    if let Some(cmp) = analysis.compare {
        let alpha = cmp.alpha();
        match mann_whitney(&input.canary.latency, &input.stable.latency) {
            Ok(t) => {
                latency_test = Some(t);
                match t {
                    MannWhitney::Tested(t) if t.p_greater < alpha && t.effect >= cmp.min_effect => {
                        fails.push(FailReason::Slower {
                            effect: t.effect,
                            min_effect: cmp.min_effect,
                            p: t.p_greater,
                            alpha,
                        })
                    }
                    MannWhitney::Tested(_) | MannWhitney::AllTied { .. } => {}
                    MannWhitney::Empty { canary, stable } => unknown
                        .extend(empty_sides(canary, stable).map(|revision| {
                            InconclusiveReason::NoLatencyObservations { revision }
                        })),
                }
            }
            Err(error) => unknown.push(InconclusiveReason::LatencyBuckets { error }),
        }
        match two_proportions(input.canary.counts(), input.stable.counts()) {
            Ok(t) => {
                errors_test = Some(t);
                match t {
                    TwoProportions::Tested(t) if t.p_worse < alpha => {
                        fails.push(FailReason::MoreErrors {
                            canary_rate: t.canary_rate,
                            stable_rate: t.stable_rate,
                            p: t.p_worse,
                            alpha,
                        })
                    }
                    TwoProportions::Tested(_)
                    | TwoProportions::NoErrors
                    | TwoProportions::AllFailed => {}
                    TwoProportions::Empty { canary, stable } => unknown.extend(
                        empty_sides(canary, stable)
                            .map(|revision| InconclusiveReason::NoRequests { revision }),
                    ),
                }
            }
            Err(error) => unknown.push(InconclusiveReason::Counts { error }),
        }
    }

    if input.load_lagging {
        // only what the load both revisions shared cannot explain
        fails.retain(|f| survives_lag(f, &input.stable));
    }
    let verdict = if !gate.is_empty() {
        if input.load_lagging {
            gate.push(InconclusiveReason::LoadLagging);
        }
        Verdict::Inconclusive { reasons: gate }
    } else if !fails.is_empty() {
        Verdict::Fail { reasons: fails }
    } else if input.load_lagging {
        let mut reasons = vec![InconclusiveReason::LoadLagging];
        reasons.extend(unknown);
        Verdict::Inconclusive { reasons }
    } else if !unknown.is_empty() {
        Verdict::Inconclusive { reasons: unknown }
    } else {
        Verdict::Pass
    };
    WindowVerdict {
        verdict,
        numbers: Numbers {
            required_requests: needed,
            scrapes_fresh: input.scrapes_fresh,
            load_lagging: input.load_lagging,
            canary: RevisionNumbers::of(&input.canary),
            stable: RevisionNumbers::of(&input.stable),
            slos,
            compare: analysis.compare,
            latency_test,
            errors_test,
        },
    }
}

#[cfg(test)]
mod tests;
