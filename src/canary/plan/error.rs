//! Why a plan was refused, and where the value came from: a flag, a line of the analysis
//! file, a default, or the plan saved on a canary.
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use tractor_metrics::canary::judge::CompareError;
use tractor_metrics::canary::slo::{Slo, SloError};

use super::ImageError;
use crate::canary::steps::StepsError;
use crate::canary::text;
use crate::cli::values::ValueError;

/// A plan's setting, as a flag and as a key of the analysis file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Target,
    Model,
    Path,
    Container,
    Images,
    Steps,
    Interval,
    Slos,
    Compare,
    Confidence,
    MinEffect,
    FailureLimit,
    InconclusiveLimit,
    ScrapeErrorLimit,
    MaxDuration,
    ProgressDeadline,
    MinRequests,
    WindowsPerStep,
}

impl Field {
    /// The flag, e.g. `--interval`.
    pub fn flag(self) -> &'static str {
        match self {
            Field::Target => "the deployment (deploy/NAME)",
            Field::Model => "--model",
            Field::Path => "--path",
            Field::Container => "--container",
            Field::Images => "--image",
            Field::Steps => "--steps",
            Field::Interval => "--interval",
            Field::Slos => "--slo",
            Field::Compare => "--compare",
            Field::Confidence => "--confidence",
            Field::MinEffect => "--min-effect",
            Field::FailureLimit => "--failure-limit",
            Field::InconclusiveLimit => "--inconclusive-limit",
            Field::ScrapeErrorLimit => "--scrape-error-limit",
            Field::MaxDuration => "--max-duration",
            Field::ProgressDeadline => "--progress-deadline",
            Field::MinRequests => "--min-requests",
            Field::WindowsPerStep => "--windows-per-step",
        }
    }

    /// The analysis file's key, e.g. `interval` (`confidence` is in `[compare]`).
    pub fn key(self) -> &'static str {
        match self {
            Field::Target => "target",
            Field::Model => "model",
            Field::Path => "path",
            Field::Container => "container",
            Field::Images => "images",
            Field::Steps => "steps",
            Field::Interval => "interval",
            Field::Slos => "slos",
            Field::Compare => "compare",
            Field::Confidence => "compare.confidence",
            Field::MinEffect => "compare.min_effect",
            Field::FailureLimit => "failure_limit",
            Field::InconclusiveLimit => "inconclusive_limit",
            Field::ScrapeErrorLimit => "scrape_error_limit",
            Field::MaxDuration => "max_duration",
            Field::ProgressDeadline => "progress_deadline",
            Field::MinRequests => "min_requests",
            Field::WindowsPerStep => "windows_per_step",
        }
    }
}

/// Where a setting came from, for the message about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    Flag(Field),
    File {
        path: PathBuf,
        line: usize,
        field: Field,
    },
    Default(Field),
    /// The plan saved on a canary.
    Saved(Field),
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Flag(field) => f.write_str(field.flag()),
            At::File { path, line, field } => {
                write!(f, "{} line {line} ({})", path.display(), field.key())
            }
            At::Default(field) => write!(f, "the default {}", field.key()),
            At::Saved(field) => write!(f, "the saved plan's {}", field.key()),
        }
    }
}

/// What was wrong with one value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error(transparent)]
    Steps(#[from] StepsError),
    #[error(transparent)]
    Slo(#[from] SloError),
    #[error(transparent)]
    Compare(#[from] CompareError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("must not be empty")]
    Empty,
    #[error("must be more than 0")]
    Zero,
    #[error("set while the comparison is off (--compare=false)")]
    CompareOff,
}

/// Why a plan was refused; each names the setting, where it came from, and what to write.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("{}: line {line}, key `{key}`: {message}", .path.display())]
    File {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{at}: {problem}")]
    Bad { at: At, problem: Problem },
    #[error("missing {} (or `{}` in the analysis file)", .field.flag(), .field.key())]
    Missing { field: Field },
    #[error(
        "{at}: a window of {} is shorter than two scrape intervals ({} each): write {} or more, so that every window holds two scrapes",
        text::duration(*.interval), text::duration(*.scrape), text::duration(*.scrape * 2)
    )]
    IntervalTooShort {
        at: At,
        interval: Duration,
        scrape: Duration,
    },
    #[error(
        "{at}: {} is shorter than the {} the steps take at the least ({windows} × {}): write {} or more",
        text::duration(*.max), text::duration(*.needed), text::duration(*.interval), text::duration(*.needed)
    )]
    MaxDurationTooShort {
        at: At,
        max: Duration,
        needed: Duration,
        windows: u64,
        interval: Duration,
    },
    #[error(
        "nothing to judge the canary by: give an SLO (--slo 'p99<250ms', or slos = [...] in the analysis file) or a comparison with the stable (--compare)"
    )]
    NothingToJudge,
    #[error("{at}: two SLOs on {metric} ({first} and {second}): keep one")]
    TwoSlos {
        at: At,
        metric: String,
        first: Slo,
        second: Slo,
    },
    #[error("{at}: two images for {} ({first} and {second}): keep one", .container.as_deref().unwrap_or("the only container"))]
    TwoImages {
        at: At,
        container: Option<String>,
        first: String,
        second: String,
    },
}
