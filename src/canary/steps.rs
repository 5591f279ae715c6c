//! `--steps 1,25%,50%`: the canary's size at each step, as a number of canary replicas or
//! as a whole percentage of the stable's replicas (rounded up, at least 1).
//!
//! Rules, each refusal a [`StepsError`] naming the item and what to write:
//! - at least one step; no empty items (`1,,2`);
//! - a count is 1 or more; a percentage is a whole number in 1..=100 (100%: as many canary
//!   replicas as stable ones, about half the traffic);
//! - steps of the same kind strictly grow as written (`3,2` and `50%,25%` are typos);
//! - mixed kinds can only be compared once the stable's replicas are known:
//!   [`Steps::resolve`] refuses a step that would shrink the canary, and allows equal
//!   consecutive counts, since a small stable rounds `25%` and `50%` up to the same number
//!   (the step still needs its passing windows, so it only lengthens the analysis).
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One step's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// This many canary replicas, 1 or more.
    Replicas(i32),
    /// This share of the stable's replicas, 1..=100 percent.
    Percent(u8),
}

impl Step {
    /// The canary replicas at this step beside a stable running `stable_replicas` (a
    /// percentage rounds up and is at least 1; a negative stable counts as 0).
    pub fn replicas(self, stable_replicas: i32) -> i32 {
        match self {
            Step::Replicas(n) => n,
            Step::Percent(p) => {
                let stable = u64::try_from(stable_replicas).unwrap_or(0);
                let n = (stable * u64::from(p)).div_ceil(100).max(1);
                i32::try_from(n).unwrap_or(i32::MAX)
            }
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Replicas(n) => write!(f, "{n}"),
            Step::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepsError {
    #[error("no steps (write e.g. 1,25%,50%: canary replicas, or a share of the stable's)")]
    Empty,
    #[error("step {position} of \"{steps}\" is empty (write e.g. 1,25%,50%)")]
    EmptyItem { steps: String, position: usize },
    #[error(
        "\"{item}\" is not a step: write a number of canary replicas (2) or a whole percentage of the stable's replicas (25%)"
    )]
    NotAStep { item: String },
    #[error("\"{item}\": a step must be at least 1 replica or 1% (0 sends the canary no traffic)")]
    NotPositive { item: String },
    #[error(
        "\"{item}\": at most 100% (as many canary replicas as stable ones); write a replica count for more"
    )]
    OverHundred { item: String },
    #[error("\"{item}\" is more replicas than a Deployment can have")]
    TooMany { item: String },
    #[error("\"{item}\" after \"{previous}\": steps must grow (e.g. 1,2,4 or 10%,25%,50%)")]
    NotIncreasing { item: String, previous: String },
    #[error(
        "step {step} ({item}) is {replicas} canary replicas beside {stable} stable ones, fewer than step {} ({previous}, {previous_replicas}): steps must not shrink the canary",
        .step - 1
    )]
    Shrinks {
        step: usize,
        item: Step,
        replicas: i32,
        previous: Step,
        previous_replicas: i32,
        stable: i32,
    },
}

fn parse_step(item: &str) -> Result<Step, StepsError> {
    let bad = || StepsError::NotAStep { item: item.into() };
    let (number, percent) = match item.strip_suffix('%') {
        Some(n) => (n.trim_end(), true),
        None => (item, false),
    };
    let digits = number.strip_prefix(['-', '+']).unwrap_or(number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if number.starts_with('-') || digits.bytes().all(|b| b == b'0') {
        return Err(StepsError::NotPositive { item: item.into() });
    }
    let n = digits.parse::<u64>().ok();
    if percent {
        n.and_then(|n| u8::try_from(n).ok())
            .filter(|p| *p <= 100)
            .map(Step::Percent)
            .ok_or(StepsError::OverHundred { item: item.into() })
    } else {
        n.and_then(|n| i32::try_from(n).ok())
            .map(Step::Replicas)
            .ok_or(StepsError::TooMany { item: item.into() })
    }
}

/// The steps of a plan, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steps(Vec<Step>);

impl Steps {
    pub fn as_slice(&self) -> &[Step] {
        &self.0
    }

    /// Each step's canary replicas beside a stable of `stable_replicas`, or the first step
    /// that would shrink the canary. Resolve when a step starts: the stable's replicas may
    /// change meanwhile (an HPA on it).
    pub fn resolve(&self, stable_replicas: i32) -> Result<Vec<i32>, StepsError> {
        let counts: Vec<i32> = self.0.iter().map(|s| s.replicas(stable_replicas)).collect();
        for (i, pair) in counts.windows(2).enumerate() {
            if let [previous_replicas, replicas] = *pair
                && replicas < previous_replicas
            {
                return Err(StepsError::Shrinks {
                    step: i + 2,
                    item: self.0[i + 1],
                    replicas,
                    previous: self.0[i],
                    previous_replicas,
                    stable: stable_replicas,
                });
            }
        }
        Ok(counts)
    }

    /// The canary's replicas per step during a run, beside a stable of `stable_replicas`
    /// *now*: each step at least the one before, since an autoscaler may shrink the stable
    /// mid-run and a canary that shrinks would undo the traffic its windows judged.
    pub fn sizes(&self, stable_replicas: i32) -> Vec<i32> {
        let mut most = 0;
        self.0
            .iter()
            .map(|s| {
                most = most.max(s.replicas(stable_replicas));
                most
            })
            .collect()
    }
}

impl FromStr for Steps {
    type Err = StepsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(StepsError::Empty);
        }
        let mut steps: Vec<Step> = Vec::new();
        for (i, item) in s.split(',').map(str::trim).enumerate() {
            if item.is_empty() {
                return Err(StepsError::EmptyItem {
                    steps: s.into(),
                    position: i + 1,
                });
            }
            let step = parse_step(item)?;
            let previous = steps.iter().rev().find(|p| {
                matches!(
                    (p, step),
                    (Step::Replicas(_), Step::Replicas(_)) | (Step::Percent(_), Step::Percent(_))
                )
            });
            if let Some(previous) = previous {
                let grows = match (previous, step) {
                    (Step::Replicas(a), Step::Replicas(b)) => b > *a,
                    (Step::Percent(a), Step::Percent(b)) => b > *a,
                    _ => true,
                };
                if !grows {
                    return Err(StepsError::NotIncreasing {
                        item: item.into(),
                        previous: previous.to_string(),
                    });
                }
            }
            steps.push(step);
        }
        Ok(Steps(steps))
    }
}

/// As written, normalized: `1,25%,50%`.
impl fmt::Display for Steps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            step.fmt(f)?;
        }
        Ok(())
    }
}

impl Serialize for Steps {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Steps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
