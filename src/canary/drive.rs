//! Drives a canary run, the one place that decides what each write means, for every
//! backend: the step's size ([`crate::canary::Steps::resolve`] at each step's start,
//! against the stable's replicas then), when the canary is ready, each window measured
//! (`window`) and judged (`tractor_metrics::canary::judge`), the counters' next action,
//! the state saved on the canary *before* acting on it, the lease held and renewed, and
//! promotion or removal at the end. The backend only carries the calls out.
//!
//! Every save reads the canary first and checks the lease: when someone else holds it (a
//! person who aborted or promoted by hand, or another console after this one's lease ran
//! out) this console stops driving ([`Outcome::Lost`]) without touching anything.
use std::time::Duration;

use jiff::Timestamp;
use tractor_metrics::canary::counters::{Action, Event, Judged, Phase, RunState};
use tractor_metrics::canary::judge::judge;

use super::backend::{BackendError, CanaryBackend};
use super::lease::{Lease, decide_lease, take_over};
use super::state::CanaryState;
use super::summary::VerdictSummary;
use super::window::measure;
use crate::failure::Failure;
use crate::scrape::ScrapeError;

mod audit;
mod ending;
mod entry;
mod halt;
mod persist;
mod progress;
pub use audit::Audit;
pub use entry::{by_hand, resume, start};
use halt::{Halt, Ttl};
pub use progress::{AbortText, DriveError, Outcome, PauseText, PhaseText, Progress};

/// Why a snapshot gave no window to judge; the run counts it as a scrape error.
#[derive(Debug, thiserror::Error)]
pub(super) enum NoSnapshot {
    #[error("no pod answered its scrape ({0})")]
    NoAnswer(ScrapeError),
    #[error("no serving pods")]
    NoPods,
    #[error(transparent)]
    Api(Failure),
}

/// Who drives, and how.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This console, unique per process (e.g. `alice@host/4242`).
    pub me: String,
    pub lease_ttl: Duration,
    pub read_only: bool,
    /// How often readiness is checked while waiting for the canary's pods.
    pub poll: Duration,
    /// The console's load tests' lagging reports: a window in which one came is
    /// inconclusive (`None`: no load test runs in this process).
    pub load_lag: Option<crate::load::health::LagSignal>,
}

/// Receives each progress report as it happens.
pub type Report<'a> = &'a mut (dyn FnMut(&Progress) + Send);

struct Driver<'a, B> {
    b: &'a B,
    s: &'a Settings,
    audit: &'a Audit,
    report: Report<'a>,
    state: CanaryState,
    lease: Lease,
    /// The next save takes the lease over whoever holds it (a person's promote or abort).
    force: bool,
    /// The counters as this console last read or wrote them: only the lease holder writes
    /// them, so any other value on the canary means someone else drove the run meanwhile.
    saved: RunState,
}

impl<'a, B: CanaryBackend> Driver<'a, B> {
    /// The run on the canary, with this console's lease (or a refusal naming the holder).
    pub(super) async fn take(
        b: &'a B,
        s: &'a Settings,
        audit: &'a Audit,
        report: Report<'a>,
        force: bool,
    ) -> Result<(Driver<'a, B>, Option<Lease>), DriveError> {
        let loaded = b.load().await?.ok_or_else(|| DriveError::NoCanary {
            stable: b.stable_name().into(),
        })?;
        let now = Timestamp::now();
        let (lease, broke) = if force {
            let t = take_over(loaded.lease.as_ref(), &s.me, now, s.lease_ttl);
            (t.lease, t.broke)
        } else {
            (
                decide_lease(loaded.lease.as_ref(), &s.me, now, s.lease_ttl)?,
                None,
            )
        };
        let d = Driver {
            b,
            s,
            audit,
            report,
            saved: loaded.state.run,
            state: loaded.state,
            lease,
            force,
        };
        Ok((d, broke))
    }

    pub(super) fn command(&self) -> String {
        self.state.plan.describe(&self.audit.target.namespace)
    }

    /// Feeds `event` to the counters; the state holds their answer (not saved yet).
    pub(super) fn act(&mut self, event: Event) -> Result<Action, DriveError> {
        let mut run = self.state.resume()?;
        let action = run.on(event);
        self.state.run = *run.state();
        Ok(action)
    }

    pub(super) fn past_max(&self) -> bool {
        let max = self.state.plan.max_duration;
        self.state
            .started_at
            .checked_add(max)
            .is_ok_and(|end| Timestamp::now() >= end)
    }

    /// Feeds `event`, saves, and tells whether the step goes on (`Continue`).
    pub(super) async fn decide(&mut self, event: Event) -> Result<bool, Halt> {
        let action = self.act(event)?;
        self.save().await?;
        Ok(action == Action::Continue)
    }

    pub(super) async fn run(mut self) -> Result<Outcome, Halt> {
        loop {
            match self.state.run.phase {
                Phase::Promoted => return self.promote().await,
                Phase::Aborted { reason } => return self.abort(reason).await,
                Phase::Paused { reason } => {
                    // nobody drives a paused run: any console may resume it at once
                    self.write(Ttl::Release).await?;
                    (self.report)(&Progress::Paused { reason });
                    return Ok(Outcome::Paused { reason });
                }
                Phase::Running => {}
            }
            if self.past_max() {
                (self.report)(&Progress::MaxDuration);
                self.decide(Event::MaxDurationExceeded).await?;
                continue;
            }
            let step = self.state.run.step;
            let stable_replicas = self.b.stable_replicas().await?;
            let sizes = self.state.plan.steps.sizes(stable_replicas);
            let replicas = sizes.get(step).copied().unwrap_or(1);
            self.b.scale(replicas).await?;
            self.audit.record(
                "canary-scale",
                format!(
                    "{} (step {}: {replicas} replicas)",
                    self.command(),
                    step + 1
                ),
                "ok",
                &serde_json::json!({ "step": step, "replicas": replicas }),
            )?;
            (self.report)(&Progress::Step {
                step,
                steps: sizes.len(),
                replicas,
                stable_replicas,
            });
            if !self.until_ready(step, replicas).await? {
                continue;
            }
            while self.window(step).await? {}
        }
    }

    /// Waits for the step's pods; false when the run's phase changed meanwhile.
    pub(super) async fn until_ready(&mut self, step: usize, replicas: i32) -> Result<bool, Halt> {
        let now = tokio::time::Instant::now();
        let deadline = now
            .checked_add(self.state.plan.progress_deadline)
            .unwrap_or(now + Duration::from_secs(86_400));
        loop {
            if self.b.ready(replicas).await? {
                (self.report)(&Progress::Ready { step, replicas });
                return Ok(true);
            }
            if self.past_max() {
                (self.report)(&Progress::MaxDuration);
                self.decide(Event::MaxDurationExceeded).await?;
                return Ok(false);
            }
            if tokio::time::Instant::now() >= deadline {
                (self.report)(&Progress::NotReady { step, replicas });
                self.decide(Event::NotReadyPastDeadline).await?;
                return Ok(false);
            }
            let poll = self.s.poll;
            self.pause(poll).await?;
        }
    }

    /// One window at `step`: measured, judged, saved, reported. True while the step goes on.
    pub(super) async fn window(&mut self, step: usize) -> Result<bool, Halt> {
        if self.past_max() {
            (self.report)(&Progress::MaxDuration);
            self.decide(Event::MaxDurationExceeded).await?;
            return Ok(false);
        }
        let lag_before = self.s.load_lag.as_ref().map(|l| l.reading());
        let start = match self.snapshot().await? {
            Ok(s) => s,
            Err(error) => return self.scrape_failed(step, error).await,
        };
        let interval = self.state.plan.interval;
        self.pause(interval).await?;
        let end = match self.snapshot().await? {
            Ok(s) => s,
            Err(error) => return self.scrape_failed(step, error).await,
        };
        // the console's load, if one runs, started over 1 % of its sends late in the window
        // (as its reports come, every 250 ms)
        let lagging = match (lag_before, self.s.load_lag.as_ref().map(|l| l.reading())) {
            (Some(a), Some(b)) => crate::load::health::LagSignal::lagged_between(a, b),
            _ => false,
        };
        let version = self.state.plan.change.model_version.clone();
        let m = measure(&start, &end, lagging, Some(&version));
        let verdict = judge(&m.input, &self.state.plan.to_analysis());
        let now = Timestamp::now();
        let next = self.act(Event::Window(Judged::from(&verdict.verdict)))?;
        self.state.last_verdict =
            Some(VerdictSummary::of(&verdict, step, now).with_share(m.canary_share));
        let judged = Judged::from(&verdict.verdict);
        let p = Progress::Window {
            step,
            at: now.to_string(),
            canary_share: m.canary_share,
            canary_pods: m.canary_pods,
            stable_pods: m.stable_pods,
            stale: m.stale,
            verdict: Box::new(verdict),
            next,
        };
        let result = match judged {
            Judged::Pass => "pass",
            Judged::Fail => "fail",
            Judged::Inconclusive => "inconclusive",
        };
        self.audit
            .record("canary-window", self.command(), result, &p)?;
        self.save().await?;
        (self.report)(&p);
        Ok(next == Action::Continue)
    }

    /// A snapshot, or why it gave nothing to judge (no pod answered, or the API failed).
    pub(super) async fn snapshot(
        &mut self,
    ) -> Result<Result<super::window::Snapshot, NoSnapshot>, Halt> {
        match self.b.snapshot().await {
            Ok(s) if s.pods.iter().any(|p| p.metrics.is_ok()) => Ok(Ok(s)),
            Ok(s) => Ok(Err(
                match s.pods.into_iter().find_map(|p| p.metrics.err()) {
                    Some(e) => NoSnapshot::NoAnswer(e),
                    None => NoSnapshot::NoPods,
                },
            )),
            Err(BackendError::Gone { canary }) => {
                Err(Halt::Lost(format!("deploy/{canary} was removed")))
            }
            Err(BackendError::Failure(f)) => Ok(Err(NoSnapshot::Api(f))),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn scrape_failed(
        &mut self,
        step: usize,
        error: NoSnapshot,
    ) -> Result<bool, Halt> {
        let next = self.act(Event::ScrapeError)?;
        self.save().await?;
        let error = error.to_string();
        (self.report)(&Progress::ScrapeFailed { step, error, next });
        if next == Action::Continue {
            let poll = self.s.poll;
            self.pause(poll).await?;
        }
        Ok(next == Action::Continue)
    }
}

#[cfg(test)]
mod tests;
