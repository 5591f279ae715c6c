//! A plan from flags and an analysis file (TOML, kept in git by a team): the file's values
//! first, each flag over the file's. An SLO given as a flag replaces the file's SLO on the
//! same metric (`--slo 'p99<300ms'` replaces `p99<250ms`, keeps `errors<1%`); an image
//! given as a flag replaces the file's for the same container. Every refusal names where
//! the value came from (the flag, or the file's line and key) and what to write.
use std::time::Duration;

use toml::Spanned;
use tractor_metrics::canary::judge::{Compare, CompareError};
use tractor_metrics::canary::slo::Slo;

use super::file::{AnalysisFile, FileFields};
use super::{
    At, CanaryPlan, Change, DEFAULT_CONFIDENCE, DEFAULT_FAILURE_LIMIT, DEFAULT_INCONCLUSIVE_LIMIT,
    DEFAULT_INTERVAL, DEFAULT_MIN_EFFECT, DEFAULT_PROGRESS_DEADLINE, DEFAULT_SCRAPE_ERROR_LIMIT,
    DEFAULT_WINDOWS_PER_STEP, Field, ImageOverride, PlanError, Problem, slo_metric,
};
use crate::canary::steps::Steps;
use crate::cli::values::{parse_duration, parse_share, parse_target};

/// The flags of `tractor rollout canary`, as typed (clap fills this; parsing is here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanaryArgs {
    /// `deploy/NAME` or `NAME`.
    pub target: Option<String>,
    pub model: Option<String>,
    pub path: Option<String>,
    pub container: Option<String>,
    /// `CONTAINER=IMAGE`, repeatable.
    pub images: Vec<String>,
    /// e.g. `1,25%,50%`
    pub steps: Option<String>,
    pub interval: Option<String>,
    /// e.g. `p99<250ms`, repeatable.
    pub slos: Vec<String>,
    /// `Some(false)` turns off a comparison the file asks for.
    pub compare: Option<bool>,
    /// `0.95` or `95%`; implies the comparison.
    pub confidence: Option<String>,
    /// `0.56` or `56%`; implies the comparison.
    pub min_effect: Option<String>,
    pub failure_limit: Option<u32>,
    pub inconclusive_limit: Option<u32>,
    pub scrape_error_limit: Option<u32>,
    pub max_duration: Option<String>,
    pub progress_deadline: Option<String>,
    pub min_requests: Option<u64>,
    pub windows_per_step: Option<u32>,
}

/// Picks each value (flag over file) and remembers where it came from.
struct Builder<'a> {
    file: Option<&'a AnalysisFile>,
    sources: Vec<(Field, At)>,
}

impl<'a> Builder<'a> {
    fn at(&self, field: Field) -> At {
        self.sources
            .iter()
            .rev()
            .find(|(f, _)| *f == field)
            .map(|(_, at)| at.clone())
            .unwrap_or(At::Default(field))
    }

    fn pick<T: Clone + 'a>(
        &mut self,
        field: Field,
        flag: Option<&T>,
        from_file: impl Fn(&'a FileFields) -> Option<&'a Spanned<T>>,
    ) -> Option<T> {
        if let Some(v) = flag {
            self.sources.push((field, At::Flag(field)));
            return Some(v.clone());
        }
        let file = self.file?;
        let v = from_file(&file.fields)?;
        self.sources.push((field, file.at(v, field)));
        Some(v.get_ref().clone())
    }

    fn parsed<T, E: Into<Problem>>(
        &mut self,
        field: Field,
        flag: Option<&String>,
        from_file: impl Fn(&'a FileFields) -> Option<&'a Spanned<String>>,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<Option<T>, PlanError> {
        let Some(text) = self.pick(field, flag, from_file) else {
            return Ok(None);
        };
        parse(&text).map(Some).map_err(|e| PlanError::Bad {
            at: self.at(field),
            problem: e.into(),
        })
    }

    /// A list merged by key: the file's items, then the flags', a flag's item replacing the
    /// file's with the same key; two items with one key from the same place are refused.
    fn merged<T, K: PartialEq, E: Into<Problem>>(
        &mut self,
        field: Field,
        flags: &[String],
        from_file: impl Fn(&'a FileFields) -> Option<&'a Vec<Spanned<String>>>,
        parse: impl Fn(&str) -> Result<T, E>,
        key: impl Fn(&T) -> K,
        twice: impl Fn(At, &T, &T) -> PlanError,
    ) -> Result<Vec<T>, PlanError> {
        let bad = |at: &At, e: E| PlanError::Bad {
            at: at.clone(),
            problem: e.into(),
        };
        let add =
            |list: &mut Vec<T>, at: At, item: T| match list.iter().find(|x| key(x) == key(&item)) {
                Some(first) => Err(twice(at, first, &item)),
                None => {
                    list.push(item);
                    Ok(())
                }
            };
        let mut from_the_file = Vec::new();
        if let Some(file) = self.file
            && let Some(items) = from_file(&file.fields)
        {
            for s in items {
                let at = file.at(s, field);
                let item = parse(s.get_ref()).map_err(|e| bad(&at, e))?;
                self.sources.push((field, at.clone()));
                add(&mut from_the_file, at, item)?;
            }
        }
        let mut from_flags = Vec::new();
        for s in flags {
            let at = At::Flag(field);
            let item = parse(s).map_err(|e| bad(&at, e))?;
            self.sources.push((field, at.clone()));
            add(&mut from_flags, at, item)?;
        }
        from_the_file.retain(|x| !from_flags.iter().any(|f| key(f) == key(x)));
        from_the_file.extend(from_flags);
        Ok(from_the_file)
    }
}

impl CanaryPlan {
    /// The plan from `args` over `file`, checked; each window must hold two scrapes of
    /// `scrape_interval` (the console's `scrape.interval_ms`).
    pub fn build(
        args: &CanaryArgs,
        file: Option<&AnalysisFile>,
        scrape_interval: Duration,
    ) -> Result<CanaryPlan, PlanError> {
        let mut b = Builder {
            file,
            sources: Vec::new(),
        };
        let a = args;
        let missing = |field| PlanError::Missing { field };
        let target = b
            .parsed(
                Field::Target,
                a.target.as_ref(),
                |f| f.target.as_ref(),
                parse_target,
            )?
            .ok_or(missing(Field::Target))?;
        let model_version = b
            .pick(Field::Model, a.model.as_ref(), |f| f.model.as_ref())
            .ok_or(missing(Field::Model))?;
        let model_path = b.pick(Field::Path, a.path.as_ref(), |f| f.path.as_ref());
        let container = b.pick(Field::Container, a.container.as_ref(), |f| {
            f.container.as_ref()
        });
        let images = b.merged(
            Field::Images,
            &a.images,
            |f| f.images.as_ref(),
            str::parse::<ImageOverride>,
            |i| i.container.clone(),
            |at, first, second| PlanError::TwoImages {
                at,
                container: second.container.clone(),
                first: first.to_string(),
                second: second.to_string(),
            },
        )?;
        let steps = b
            .parsed(
                Field::Steps,
                a.steps.as_ref(),
                |f| f.steps.as_ref(),
                str::parse::<Steps>,
            )?
            .ok_or(missing(Field::Steps))?;
        let interval = b
            .parsed(
                Field::Interval,
                a.interval.as_ref(),
                |f| f.interval.as_ref(),
                parse_duration,
            )?
            .unwrap_or(DEFAULT_INTERVAL);
        let slos = b.merged(
            Field::Slos,
            &a.slos,
            |f| f.slos.as_ref(),
            str::parse::<Slo>,
            slo_metric,
            |at, first, second| PlanError::TwoSlos {
                at,
                metric: super::metric_name(second),
                first: *first,
                second: *second,
            },
        )?;
        let compare = compare(&mut b, a)?;
        let failure_limit = b
            .pick(Field::FailureLimit, a.failure_limit.as_ref(), |f| {
                f.failure_limit.as_ref()
            })
            .unwrap_or(DEFAULT_FAILURE_LIMIT);
        let inconclusive_limit = b
            .pick(
                Field::InconclusiveLimit,
                a.inconclusive_limit.as_ref(),
                |f| f.inconclusive_limit.as_ref(),
            )
            .unwrap_or(DEFAULT_INCONCLUSIVE_LIMIT);
        let scrape_error_limit = b
            .pick(
                Field::ScrapeErrorLimit,
                a.scrape_error_limit.as_ref(),
                |f| f.scrape_error_limit.as_ref(),
            )
            .unwrap_or(DEFAULT_SCRAPE_ERROR_LIMIT);
        let windows_per_step = b
            .pick(Field::WindowsPerStep, a.windows_per_step.as_ref(), |f| {
                f.windows_per_step.as_ref()
            })
            .unwrap_or(DEFAULT_WINDOWS_PER_STEP);
        let min_requests = b
            .pick(Field::MinRequests, a.min_requests.as_ref(), |f| {
                f.min_requests.as_ref()
            })
            .unwrap_or(0);
        let progress_deadline = b
            .parsed(
                Field::ProgressDeadline,
                a.progress_deadline.as_ref(),
                |f| f.progress_deadline.as_ref(),
                parse_duration,
            )?
            .unwrap_or(DEFAULT_PROGRESS_DEADLINE);
        let max_duration = b.parsed(
            Field::MaxDuration,
            a.max_duration.as_ref(),
            |f| f.max_duration.as_ref(),
            parse_duration,
        )?;
        let mut plan = CanaryPlan {
            target,
            change: Change {
                model_version,
                model_path,
                container,
                images,
            },
            steps,
            interval,
            slos,
            compare,
            failure_limit,
            inconclusive_limit,
            scrape_error_limit,
            max_duration: Duration::MAX,
            progress_deadline,
            min_requests,
            windows_per_step,
        };
        plan.max_duration = max_duration.unwrap_or_else(|| plan.default_max_duration());
        plan.check_at(Some(scrape_interval), &|f| b.at(f))?;
        Ok(plan)
    }
}

/// The comparison: on with `--compare`, `--confidence`, `--min-effect` or a `[compare]`
/// table; off with `--compare=false` (then the two settings as flags are refused).
fn compare<'a>(b: &mut Builder<'a>, a: &CanaryArgs) -> Result<Option<Compare>, PlanError> {
    let file = b.file.and_then(|f| f.fields.compare.as_ref());
    if a.compare == Some(false) {
        for (field, set) in [
            (Field::Confidence, a.confidence.is_some()),
            (Field::MinEffect, a.min_effect.is_some()),
        ] {
            if set {
                return Err(PlanError::Bad {
                    at: At::Flag(field),
                    problem: Problem::CompareOff,
                });
            }
        }
        return Ok(None);
    }
    let on = a.compare == Some(true)
        || file.is_some()
        || a.confidence.is_some()
        || a.min_effect.is_some();
    if !on {
        return Ok(None);
    }
    let share = |b: &mut Builder<'a>,
                 field,
                 flag: Option<&String>,
                 from_file: Option<&'a Spanned<f64>>,
                 default| {
        if let Some(text) = flag {
            b.sources.push((field, At::Flag(field)));
            return parse_share(text).map_err(|e| PlanError::Bad {
                at: At::Flag(field),
                problem: e.into(),
            });
        }
        if let (Some(v), Some(f)) = (from_file, b.file) {
            b.sources.push((field, f.at(v, field)));
            return Ok(*v.get_ref());
        }
        Ok(default)
    };
    let confidence = share(
        b,
        Field::Confidence,
        a.confidence.as_ref(),
        file.and_then(|c| c.confidence.as_ref()),
        DEFAULT_CONFIDENCE,
    )?;
    let min_effect = share(
        b,
        Field::MinEffect,
        a.min_effect.as_ref(),
        file.and_then(|c| c.min_effect.as_ref()),
        DEFAULT_MIN_EFFECT,
    )?;
    Compare::new(confidence, min_effect)
        .map(Some)
        .map_err(|e| PlanError::Bad {
            at: b.at(match e {
                CompareError::Confidence(_) => Field::Confidence,
                CompareError::MinEffect(_) => Field::MinEffect,
            }),
            problem: e.into(),
        })
}
