//! `tractor rollout canary`: start a canary (flags and/or an analysis file), or `status`,
//! `promote`, `abort`, `resume` one that runs.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{Output, parse_duration};
use crate::canary::CanaryArgs;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CanaryCli {
    #[command(subcommand)]
    pub cmd: Option<CanarySub>,
    #[command(flatten)]
    pub start: CanaryStart,
}

#[derive(Debug, Subcommand)]
pub enum CanarySub {
    /// The canary's step, phase, lease and last verdict (from its annotations).
    #[command(after_help = super::examples::CANARY_STATUS)]
    Status(CanaryTarget),
    /// Promote now: the stable takes the canary's template, then the canary is removed.
    #[command(after_help = super::examples::CANARY_PROMOTE)]
    Promote(CanaryTarget),
    /// Abort now: the canary is removed; the stable is not changed.
    #[command(after_help = super::examples::CANARY_ABORT)]
    Abort(CanaryTarget),
    /// Drive a canary whose console stopped (or that paused) on to its outcome.
    #[command(after_help = super::examples::CANARY_RESUME)]
    Resume(CanaryResume),
}

#[derive(Debug, Args)]
pub struct CanaryTarget {
    /// deploy/NAME: the stable Deployment.
    pub target: String,
    /// Apply without asking (promote and abort).
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[arg(short = 'o', long)]
    pub output: Option<Output>,
}

#[derive(Debug, Args)]
pub struct CanaryResume {
    #[command(flatten)]
    pub target: CanaryTarget,
    /// Take the run over even though another console's lease is live (that console stops
    /// at its next write; the audit log names whose lease was broken).
    #[arg(long)]
    pub take_over: bool,
    /// Lease time to live: another console may take the run up this long after this one
    /// stops renewing (default: twice the window, at least 30s).
    #[arg(long, value_parser = parse_duration)]
    pub lease_ttl: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct CanaryStart {
    /// deploy/NAME: the stable Deployment (or `target` in the analysis file).
    pub target: Option<String>,
    /// An analysis file (TOML): any of the settings below, flags override it.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub analysis: Option<PathBuf>,
    /// The model version the canary serves.
    #[arg(long)]
    pub model: Option<String>,
    /// The model file path the canary serves (TRACTOR_SERVE_MODEL).
    #[arg(long)]
    pub path: Option<String>,
    /// The container the model change applies to (default: the only one).
    #[arg(long)]
    pub container: Option<String>,
    /// An image the canary runs: CONTAINER=IMAGE (repeatable).
    #[arg(long = "image", value_name = "CONTAINER=IMAGE")]
    pub images: Vec<String>,
    /// The canary's size per step: replicas (2) or a share of the stable's (25%), e.g. 1,25%,50%.
    #[arg(long)]
    pub steps: Option<String>,
    /// One analysis window (at least two scrape intervals), e.g. 1m.
    #[arg(long)]
    pub interval: Option<String>,
    /// An absolute SLO on the canary, e.g. 'p99<250ms' or 'errors<1%' (repeatable).
    #[arg(long = "slo", value_name = "SLO")]
    pub slos: Vec<String>,
    /// Compare with the stable in the same window (Mann–Whitney on latency, two proportions on errors).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub compare: Option<bool>,
    /// The comparison's confidence, 0.95 or 95% (implies --compare).
    #[arg(long)]
    pub confidence: Option<String>,
    /// The smallest effect that fails a window: P(canary slower) + P(tie)/2, e.g. 0.56 (implies --compare).
    #[arg(long)]
    pub min_effect: Option<String>,
    /// Failed windows tolerated; one more rolls the canary back (default 0).
    #[arg(long)]
    pub failure_limit: Option<u32>,
    /// Inconclusive windows tolerated; one more pauses for a person (default 3).
    #[arg(long)]
    pub inconclusive_limit: Option<u32>,
    /// Failed scrapes in a row tolerated; one more pauses (default 4).
    #[arg(long)]
    pub scrape_error_limit: Option<u32>,
    /// The whole run's limit; past it the canary is rolled back (default: twice the least time).
    #[arg(long)]
    pub max_duration: Option<String>,
    /// How long the canary's pods may take to be ready at a step (default 10m).
    #[arg(long)]
    pub progress_deadline: Option<String>,
    /// Fewest canary requests a window needs (at least 10/(1−q) for a quantile q SLO).
    #[arg(long)]
    pub min_requests: Option<u64>,
    /// Passing windows each step needs (default 1).
    #[arg(long)]
    pub windows_per_step: Option<u32>,
    /// Lease time to live (default: twice the window, at least 30s).
    #[arg(long, value_parser = parse_duration)]
    pub lease_ttl: Option<Duration>,
    /// Start without asking (the plan is still printed).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Print the plan and a server-side dry run of the canary, and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON object per line: each window's verdict with its numbers, then the outcome.
    #[arg(short = 'o', long)]
    pub output: Option<Output>,
}

/// The console's canary prompt: the same flags as `tractor rollout canary`.
#[derive(Debug, clap::Parser)]
#[command(name = "canary", no_binary_name = true, disable_help_flag = true)]
struct Prompt {
    #[command(flatten)]
    start: CanaryStart,
}

/// The canary prompt's words as the subcommand's flags.
pub fn parse_prompt(words: &[String]) -> Result<CanaryStart, clap::Error> {
    use clap::Parser;
    Prompt::try_parse_from(words).map(|p| p.start)
}

impl CanaryStart {
    /// The plan's flags, as typed.
    pub fn plan_args(&self) -> CanaryArgs {
        CanaryArgs {
            target: self.target.clone(),
            model: self.model.clone(),
            path: self.path.clone(),
            container: self.container.clone(),
            images: self.images.clone(),
            steps: self.steps.clone(),
            interval: self.interval.clone(),
            slos: self.slos.clone(),
            compare: self.compare,
            confidence: self.confidence.clone(),
            min_effect: self.min_effect.clone(),
            failure_limit: self.failure_limit,
            inconclusive_limit: self.inconclusive_limit,
            scrape_error_limit: self.scrape_error_limit,
            max_duration: self.max_duration.clone(),
            progress_deadline: self.progress_deadline.clone(),
            min_requests: self.min_requests,
            windows_per_step: self.windows_per_step,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command, Rollout};

    use super::*;

    fn canary(args: &[&str]) -> CanaryCli {
        let mut all = vec!["tractor", "rollout", "canary"];
        all.extend(args);
        match Cli::try_parse_from(all).unwrap().command {
            Some(Command::Rollout {
                cmd: Rollout::Canary(c),
            }) => *c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn starts_and_subcommands_parse_apart() {
        let c = canary(&[
            "deploy/web",
            "--model",
            "v2",
            "--steps",
            "1,25%",
            "--slo",
            "p99<250ms",
            "--slo",
            "errors<1%",
            "--compare",
            "-y",
        ]);
        assert!(c.cmd.is_none());
        let a = c.start.plan_args();
        assert_eq!(a.target.as_deref(), Some("deploy/web"));
        assert_eq!(a.slos, ["p99<250ms", "errors<1%"]);
        assert_eq!(a.compare, Some(true));
        assert!(c.start.yes);
        assert_eq!(
            canary(&["deploy/web", "--compare=false"]).start.compare,
            Some(false)
        );

        match canary(&["status", "deploy/web", "-o", "json"]).cmd {
            Some(CanarySub::Status(t)) => {
                assert_eq!(t.target, "deploy/web");
                assert_eq!(t.output, Some(Output::Json));
            }
            other => panic!("{other:?}"),
        }
        match canary(&["resume", "deploy/web", "--take-over"]).cmd {
            Some(CanarySub::Resume(r)) => assert!(r.take_over),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            canary(&["abort", "deploy/web", "-y"]).cmd,
            Some(CanarySub::Abort(CanaryTarget { yes: true, .. }))
        ));
    }
}
