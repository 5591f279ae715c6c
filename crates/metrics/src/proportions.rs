//! The two-proportion z test of "the canary's error rate is higher than the stable's", with
//! the pooled variance (the test under H₀: one error rate for both).
use std::fmt;

use serde::Serialize;

use crate::normal;
use crate::revision::Revision;

/// One revision's requests and errors in a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Counts {
    pub requests: f64,
    pub errors: f64,
}

impl Counts {
    /// errors / requests; `None` without requests.
    pub fn rate(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.errors / self.requests)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProportionTest {
    pub canary_rate: f64,
    pub stable_rate: f64,
    /// Both revisions' errors over both revisions' requests.
    pub pooled_rate: f64,
    /// (canary_rate − stable_rate) / √(pooled·(1 − pooled)·(1/n_canary + 1/n_stable))
    pub z: f64,
    /// One-sided p-value, alternative: the canary's error rate is higher.
    pub p_worse: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TwoProportions {
    Tested(ProportionTest),
    /// No errors on either side: nothing to compare, and the canary is not worse.
    NoErrors,
    /// Every request failed on both sides: no variance; the canary is not worse than the
    /// stable (an absolute error SLO is what catches this).
    AllFailed,
    /// A revision had no requests (the flag is true for it).
    Empty {
        canary: bool,
        stable: bool,
    },
}

/// Counts that are not counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CountsError {
    pub revision: Revision,
    pub counts: Counts,
    pub problem: CountsProblem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountsProblem {
    NotFinite,
    Negative,
    MoreErrorsThanRequests,
}

impl fmt::Display for CountsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Counts { requests, errors } = self.counts;
        let what = match self.problem {
            CountsProblem::NotFinite => "a count is not finite",
            CountsProblem::Negative => "a count is negative",
            CountsProblem::MoreErrorsThanRequests => "more errors than requests",
        };
        write!(
            f,
            "the {}'s counts ({errors} errors of {requests} requests): {what}",
            self.revision
        )
    }
}

impl std::error::Error for CountsError {}

impl Counts {
    /// Finite, not negative, no more errors than requests.
    pub fn check(self, revision: Revision) -> Result<(), CountsError> {
        let Counts { requests, errors } = self;
        let problem = if !requests.is_finite() || !errors.is_finite() {
            CountsProblem::NotFinite
        } else if requests < 0.0 || errors < 0.0 {
            CountsProblem::Negative
        } else if errors > requests {
            CountsProblem::MoreErrorsThanRequests
        } else {
            return Ok(());
        };
        Err(CountsError {
            revision,
            counts: self,
            problem,
        })
    }
}

/// The test of "the canary fails more often than the stable" in one window.
pub fn two_proportions(canary: Counts, stable: Counts) -> Result<TwoProportions, CountsError> {
    canary.check(Revision::Canary)?;
    stable.check(Revision::Stable)?;
    let (n1, n2) = (canary.requests, stable.requests);
    if n1 <= 0.0 || n2 <= 0.0 {
        return Ok(TwoProportions::Empty {
            canary: n1 <= 0.0,
            stable: n2 <= 0.0,
        });
    }
    let errors = canary.errors + stable.errors;
    if errors <= 0.0 {
        return Ok(TwoProportions::NoErrors);
    }
    if errors >= n1 + n2 {
        return Ok(TwoProportions::AllFailed);
    }
    let (p1, p2) = (canary.errors / n1, stable.errors / n2);
    let pooled = errors / (n1 + n2);
    let pooled_ok = (n1 + n2 - errors) / (n1 + n2);
    let se = (pooled * pooled_ok * (1.0 / n1 + 1.0 / n2)).sqrt();
    if !(se > 0.0 && se.is_finite()) {
        // only counts beyond f64's exact range (or subnormal) get here: no test, never NaN
        return Ok(if pooled < 0.5 {
            TwoProportions::NoErrors
        } else {
            TwoProportions::AllFailed
        });
    }
    let z = (p1 - p2) / se;
    Ok(TwoProportions::Tested(ProportionTest {
        canary_rate: p1,
        stable_rate: p2,
        pooled_rate: pooled,
        z,
        p_worse: normal::sf(z).clamp(0.0, 1.0),
    }))
}

#[cfg(test)]
mod tests;
