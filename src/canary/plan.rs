//! A canary plan: the deployment, the change the canary runs, its steps, and how each window
//! is judged. Built from flags and/or an analysis file ([`CanaryPlan::build`]), saved on the
//! canary as JSON (`state`), and turned into the judgement's inputs
//! ([`CanaryPlan::to_analysis`], [`CanaryPlan::to_counters_plan`]).
//!
//! Defaults, when neither a flag nor the file sets a value: a 1m window, 1 passing window
//! per step, no failed window tolerated (Argo's `failureLimit` default), a pause after more
//! than 3 inconclusive windows and after more than 4 consecutive scrape errors (Argo's
//! `consecutiveErrorLimit`), a 10m progress deadline (the Deployment default), a maximum
//! duration of twice the least time the windows take plus a progress deadline per step,
//! and no comparison with the stable
//! unless asked (then at 95% confidence with a minimum effect of 0.56, a small effect by
//! Vargha–Delaney). The model version and the steps have no default.
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tractor_metrics::canary::counters::{self, Limits};
use tractor_metrics::canary::judge::{Analysis, Compare};
use tractor_metrics::canary::slo::{Percentile, Slo};

use super::steps::Steps;
use super::text::{as_compare, as_duration, as_slos};
use crate::cli::values::parse_target;

mod build;
mod error;
mod file;
pub use build::CanaryArgs;
pub use error::{At, Field, PlanError, Problem};
pub use file::AnalysisFile;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_PROGRESS_DEADLINE: Duration = Duration::from_secs(600);
pub const DEFAULT_WINDOWS_PER_STEP: u32 = 1;
pub const DEFAULT_FAILURE_LIMIT: u32 = 0;
pub const DEFAULT_INCONCLUSIVE_LIMIT: u32 = 3;
pub const DEFAULT_SCRAPE_ERROR_LIMIT: u32 = 4;
pub const DEFAULT_CONFIDENCE: f64 = 0.95;
pub const DEFAULT_MIN_EFFECT: f64 = 0.56;

/// One image the canary sets: `CONTAINER=IMAGE`, or a bare `IMAGE` for the only container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOverride {
    pub container: Option<String>,
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("\"{0}\": no image (write CONTAINER=IMAGE, e.g. server=ghcr.io/acme/serve:2)")]
    NoImage(String),
    #[error("\"{0}\": no container before = (write CONTAINER=IMAGE)")]
    NoContainer(String),
    #[error("\"{0}\": an image has no spaces")]
    Space(String),
}

impl FromStr for ImageOverride {
    type Err = ImageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (container, image) = match s.split_once('=') {
            Some((c, i)) => (Some(c.trim()), i.trim()),
            None => (None, s.trim()),
        };
        if container == Some("") {
            return Err(ImageError::NoContainer(s.into()));
        }
        if image.is_empty() {
            return Err(ImageError::NoImage(s.into()));
        }
        if image.contains(char::is_whitespace) {
            return Err(ImageError::Space(s.into()));
        }
        Ok(ImageOverride {
            container: container.map(String::from),
            image: image.into(),
        })
    }
}

impl fmt::Display for ImageOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.container {
            Some(c) => write!(f, "{c}={}", self.image),
            None => f.write_str(&self.image),
        }
    }
}

impl Serialize for ImageOverride {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImageOverride {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What the canary runs that the stable does not: what `set model` and `set image` would
/// change, applied to a copy of the stable's template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub model_version: String,
    pub model_path: Option<String>,
    /// The container the model change applies to; `None`: the only one.
    pub container: Option<String>,
    pub images: Vec<ImageOverride>,
}

/// A plan, checked: built by [`CanaryPlan::build`] or read back by `state`. Fields are
/// public for reading; a plan assembled by hand should pass [`CanaryPlan::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryPlan {
    /// The stable Deployment's name (its namespace is the context's).
    pub target: String,
    pub change: Change,
    pub steps: Steps,
    /// One analysis window.
    #[serde(with = "as_duration")]
    pub interval: Duration,
    #[serde(with = "as_slos")]
    pub slos: Vec<Slo>,
    #[serde(with = "as_compare")]
    pub compare: Option<Compare>,
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    pub scrape_error_limit: u32,
    #[serde(with = "as_duration")]
    pub max_duration: Duration,
    /// How long the canary's pods may take to be ready at a step.
    #[serde(with = "as_duration")]
    pub progress_deadline: Duration,
    pub min_requests: u64,
    pub windows_per_step: u32,
}

/// The metric an SLO bounds, for "one SLO per metric": a percentile, or `None` for errors.
pub(crate) fn slo_metric(slo: &Slo) -> Option<Percentile> {
    match slo {
        Slo::Latency { percentile, .. } => Some(*percentile),
        Slo::Errors { .. } => None,
    }
}

impl CanaryPlan {
    /// The passing windows the plan needs at the least.
    pub fn min_windows(&self) -> u64 {
        u64::from(self.windows_per_step) * self.steps.as_slice().len() as u64
    }

    /// The least time the steps take: every window passing at the first try.
    pub fn min_time(&self) -> Duration {
        let windows = u32::try_from(self.min_windows()).unwrap_or(u32::MAX);
        self.interval.checked_mul(windows).unwrap_or(Duration::MAX)
    }

    /// The maximum duration when none is set: twice the least time the windows take, plus
    /// a progress deadline per step (the pods' start counts against the run's time too).
    pub fn default_max_duration(&self) -> Duration {
        let steps = u32::try_from(self.steps.as_slice().len()).unwrap_or(u32::MAX);
        self.min_time()
            .saturating_mul(2)
            .saturating_add(self.progress_deadline.saturating_mul(steps))
    }

    /// Checks a plan read back from a canary; `scrape_interval`, when known, is this
    /// console's, which each window must hold two of.
    pub fn check(&self, scrape_interval: Option<Duration>) -> Result<(), PlanError> {
        self.check_at(scrape_interval, &At::Saved)
    }

    fn check_at(
        &self,
        scrape_interval: Option<Duration>,
        at: &dyn Fn(Field) -> At,
    ) -> Result<(), PlanError> {
        let bad = |field, problem: Problem| PlanError::Bad {
            at: at(field),
            problem,
        };
        parse_target(&self.target).map_err(|e| bad(Field::Target, e.into()))?;
        let empty = |s: &str| s.trim().is_empty();
        if empty(&self.change.model_version) {
            return Err(bad(Field::Model, Problem::Empty));
        }
        if self.change.model_path.as_deref().is_some_and(empty) {
            return Err(bad(Field::Path, Problem::Empty));
        }
        if self.change.container.as_deref().is_some_and(empty) {
            return Err(bad(Field::Container, Problem::Empty));
        }
        if self.windows_per_step == 0 {
            return Err(bad(Field::WindowsPerStep, Problem::Zero));
        }
        for (field, d) in [
            (Field::Interval, self.interval),
            (Field::ProgressDeadline, self.progress_deadline),
            (Field::MaxDuration, self.max_duration),
        ] {
            if d.is_zero() {
                return Err(bad(field, Problem::Zero));
            }
        }
        if let Some(scrape) = scrape_interval
            && self.interval < scrape.saturating_mul(2)
        {
            return Err(PlanError::IntervalTooShort {
                at: at(Field::Interval),
                interval: self.interval,
                scrape,
            });
        }
        if self.max_duration < self.min_time() {
            return Err(PlanError::MaxDurationTooShort {
                at: at(Field::MaxDuration),
                max: self.max_duration,
                needed: self.min_time(),
                windows: self.min_windows(),
                interval: self.interval,
            });
        }
        if self.slos.is_empty() && self.compare.is_none() {
            return Err(PlanError::NothingToJudge);
        }
        for (i, slo) in self.slos.iter().enumerate() {
            if let Some(first) = self.slos[..i]
                .iter()
                .find(|s| slo_metric(s) == slo_metric(slo))
            {
                return Err(PlanError::TwoSlos {
                    at: at(Field::Slos),
                    metric: metric_name(slo),
                    first: *first,
                    second: *slo,
                });
            }
        }
        let images = &self.change.images;
        for (i, image) in images.iter().enumerate() {
            if let Some(first) = images[..i].iter().find(|o| o.container == image.container) {
                return Err(PlanError::TwoImages {
                    at: at(Field::Images),
                    container: image.container.clone(),
                    first: first.to_string(),
                    second: image.to_string(),
                });
            }
        }
        Ok(())
    }

    /// What each window is judged by.
    pub fn to_analysis(&self) -> Analysis {
        Analysis {
            slos: self.slos.clone(),
            compare: self.compare,
            min_requests: self.min_requests,
        }
    }

    /// The run's steps (each needing `windows_per_step` passing windows) and limits.
    pub fn to_counters_plan(&self) -> Result<counters::Plan, counters::PlanError> {
        counters::Plan::new(
            vec![self.windows_per_step; self.steps.as_slice().len()],
            Limits {
                failures: self.failure_limit,
                inconclusive: self.inconclusive_limit,
                consecutive_scrape_errors: self.scrape_error_limit,
            },
        )
    }

    /// The command line that starts this canary, recorded as its change-cause.
    pub fn describe(&self, namespace: &str) -> String {
        let c = &self.change;
        let mut s = format!(
            "tractor rollout canary deploy/{} -n {namespace} --model {}",
            self.target, c.model_version
        );
        if let Some(p) = &c.model_path {
            s += &format!(" --path {p}");
        }
        if let Some(k) = &c.container {
            s += &format!(" --container {k}");
        }
        for i in &c.images {
            s += &format!(" --image {i}");
        }
        s + &format!(" --steps {}", self.steps)
    }
}

fn metric_name(slo: &Slo) -> String {
    match slo_metric(slo) {
        Some(p) => p.to_string(),
        None => "errors".into(),
    }
}

#[cfg(test)]
mod tests;
