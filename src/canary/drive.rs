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
use serde::Serialize;
use tractor_metrics::canary::counters::{AbortReason, Action, Event, Judged, Phase, RunState};
use tractor_metrics::canary::judge::judge;

use super::backend::{BackendError, CanaryBackend};
use super::lease::{Lease, decide_lease, take_over};
use super::plan::CanaryPlan;
use super::state::CanaryState;
use super::summary::VerdictSummary;
use super::window::measure;
use crate::action::Target;
use crate::audit::{AuditLog, Record};

mod progress;
pub use progress::{AbortText, DriveError, Outcome, PauseText, PhaseText, Progress};

/// Who drives, and how.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This console, unique per process (e.g. `alice@host/4242`).
    pub me: String,
    pub lease_ttl: Duration,
    pub read_only: bool,
    /// How often readiness is checked while waiting for the canary's pods.
    pub poll: Duration,
}

/// Where the run's writes and verdicts are recorded.
#[derive(Debug, Clone)]
pub struct Audit {
    pub log: AuditLog,
    pub context: String,
    pub user: String,
    /// The stable Deployment.
    pub target: Target,
}

impl Audit {
    fn record<T: Serialize>(
        &self,
        action: &str,
        command: String,
        result: &str,
        detail: &T,
    ) -> Result<(), DriveError> {
        let r = Record::canary(
            &self.context,
            &self.user,
            &self.target,
            action,
            command,
            result,
            detail,
        );
        self.log.append(&r).map_err(|e| DriveError::Audit {
            path: self.log.path().to_path_buf(),
            detail: e.to_string(),
        })
    }
}

/// Receives each progress report as it happens.
pub type Report<'a> = &'a mut (dyn FnMut(&Progress) + Send);

/// The lease a save writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ttl {
    Renew,
    Release,
    /// Held at least this long (a wait that cannot renew it).
    For(Duration),
}

/// How long removal may take (scale to 0, the pods leaving, the delete), for the lease.
const REMOVE_TIME: Duration = Duration::from_secs(90);

/// Why driving stopped short of an outcome of its own.
enum Halt {
    /// Someone else drives or ended the run, or the canary is gone.
    Lost(String),
    Error(DriveError),
}

impl From<DriveError> for Halt {
    fn from(e: DriveError) -> Self {
        match e {
            DriveError::Backend(b) => Halt::from(*b),
            e => Halt::Error(e),
        }
    }
}

/// A canary that is gone ends this console's run (a person aborted or promoted it, or
/// another console finished it); any other failure is an error.
impl From<BackendError> for Halt {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Gone { canary } => Halt::Lost(format!("deploy/{canary} was removed")),
            e => Halt::Error(e.into()),
        }
    }
}

impl From<super::steps::StepsError> for Halt {
    fn from(e: super::steps::StepsError) -> Self {
        Halt::Error(e.into())
    }
}

impl From<super::state::StateError> for Halt {
    fn from(e: super::state::StateError) -> Self {
        Halt::Error(e.into())
    }
}

fn finish(r: Result<Outcome, Halt>) -> Result<Outcome, DriveError> {
    match r {
        Ok(o) => Ok(o),
        Err(Halt::Lost(why)) => Ok(Outcome::Lost { why }),
        Err(Halt::Error(e)) => Err(e),
    }
}

fn refuse_read_only(s: &Settings, verb: &'static str) -> Result<(), DriveError> {
    if s.read_only {
        Err(DriveError::ReadOnly { verb })
    } else {
        Ok(())
    }
}

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

/// Starts a canary of `plan` (its first step) and drives it to an outcome.
pub async fn start<B: CanaryBackend>(
    b: &B,
    plan: CanaryPlan,
    s: &Settings,
    audit: &Audit,
    report: Report<'_>,
) -> Result<Outcome, DriveError> {
    refuse_read_only(s, "canary")?;
    let now = Timestamp::now();
    let state = CanaryState::start(plan, now);
    let lease = decide_lease(None, &s.me, now, s.lease_ttl)?;
    let stable_replicas = b.stable_replicas().await?;
    let replicas = state.plan.steps.resolve(stable_replicas)?[0];
    let command = state.plan.describe(&audit.target.namespace);
    let created = b.create(&state, &lease, replicas).await;
    let result = match &created {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("error: {e}"),
    };
    audit.record("canary-start", command, &result, &state.plan)?;
    created?;
    report(&Progress::Created {
        canary: b.canary_name(),
        replicas,
        stable_replicas,
    });
    let d = Driver {
        b,
        s,
        audit,
        report,
        state,
        lease,
        force: false,
        saved: RunState::start(),
    };
    finish(d.run().await)
}

/// Takes up the run saved on the canary and drives it on: `unpause` resumes a paused run,
/// `take_over` breaks another console's live lease (the audit log says whose).
pub async fn resume<B: CanaryBackend>(
    b: &B,
    s: &Settings,
    audit: &Audit,
    report: Report<'_>,
    unpause: bool,
    take_over_lease: bool,
) -> Result<Outcome, DriveError> {
    refuse_read_only(s, "resume")?;
    let (mut d, broke) = Driver::take(b, s, audit, report, take_over_lease).await?;
    let mut unpaused = false;
    if unpause && matches!(d.state.run.phase, Phase::Paused { .. }) {
        d.act(Event::Resumed)?;
        unpaused = true;
    }
    let r = async {
        d.save().await?;
        let command = format!(
            "{} (resume)",
            d.state.plan.describe(&audit.target.namespace)
        );
        audit.record("canary-resume", command, "ok", &broke)?;
        if unpaused {
            (d.report)(&Progress::Unpaused);
        }
        (d.report)(&Progress::Resumed {
            canary: b.canary_name(),
            step: d.state.run.step,
            phase: d.state.run.phase,
        });
        d.run().await
    };
    finish(r.await)
}

/// A person's promote (`promote: true`) or abort, now, whoever drives: the lease is taken
/// over (the audit log names whose it broke), the decision saved, then carried out.
pub async fn by_hand<B: CanaryBackend>(
    b: &B,
    s: &Settings,
    audit: &Audit,
    report: Report<'_>,
    promote: bool,
) -> Result<Outcome, DriveError> {
    let verb = if promote { "promote" } else { "abort" };
    refuse_read_only(s, verb)?;
    let (mut d, broke) = Driver::take(b, s, audit, report, true).await?;
    let wanted = if promote {
        Phase::Promoted
    } else {
        Phase::Aborted {
            reason: AbortReason::ByHand,
        }
    };
    let phase = d.state.run.phase;
    // finishing what was decided is fine, and so is aborting a promotion that could not
    // finish (the canary is removed; what the stable was given stays); turning an abort
    // into a promotion is not
    if matches!(phase, Phase::Aborted { .. }) && promote {
        return Err(DriveError::Ended {
            stable: b.stable_name().into(),
            phase: PhaseText(&phase).to_string(),
            verb,
        });
    }
    if !matches!(phase, Phase::Aborted { .. }) {
        d.state.run.phase = wanted;
    }
    let r = async {
        d.save().await?;
        let command = format!(
            "tractor rollout canary {verb} deploy/{} -n {}",
            b.stable_name(),
            audit.target.namespace
        );
        audit.record(&format!("canary-{verb}"), command, "ok", &broke)?;
        d.run().await
    };
    finish(r.await)
}

impl<'a, B: CanaryBackend> Driver<'a, B> {
    /// The run on the canary, with this console's lease (or a refusal naming the holder).
    async fn take(
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

    fn command(&self) -> String {
        self.state.plan.describe(&self.audit.target.namespace)
    }

    /// Feeds `event` to the counters; the state holds their answer (not saved yet).
    fn act(&mut self, event: Event) -> Result<Action, DriveError> {
        let mut run = self.state.resume()?;
        let action = run.on(event);
        self.state.run = *run.state();
        Ok(action)
    }

    /// Saves the state with this console's lease renewed, if the lease is still its own.
    async fn save(&mut self) -> Result<(), Halt> {
        self.write(Ttl::Renew).await
    }

    /// Saves the state with the lease `ttl` says: this console's ended (`Release`), so that
    /// any console may take the run up at once, or held for a long wait (`For`).
    async fn write(&mut self, ttl: Ttl) -> Result<(), Halt> {
        let canary = self.b.canary_name();
        for attempt in 0..8u32 {
            let Some(loaded) = self.b.load().await? else {
                return Err(Halt::Lost(format!("deploy/{canary} was removed")));
            };
            // someone else wrote the run since this console last did: it is theirs now
            if !self.force && loaded.state.run != self.saved {
                return Err(Halt::Lost(format!(
                    "someone else drove the run meanwhile (it is {})",
                    PhaseText(&loaded.state.run.phase)
                )));
            }
            let now = Timestamp::now();
            let (me, base) = (&self.s.me, self.s.lease_ttl);
            let lease_ttl = match ttl {
                Ttl::Renew | Ttl::Release => base,
                Ttl::For(d) => base.max(d),
            };
            let lease = if self.force {
                take_over(loaded.lease.as_ref(), me, now, lease_ttl).lease
            } else {
                match decide_lease(loaded.lease.as_ref(), me, now, lease_ttl) {
                    Ok(l) => l,
                    Err(held) => return Err(Halt::Lost(held.to_string())),
                }
            };
            self.lease = lease;
            if ttl == Ttl::Release {
                self.lease.ttl = Duration::ZERO;
            }
            match self.b.save(&self.state, &self.lease, &loaded.version).await {
                Ok(()) => {
                    self.force = false;
                    self.saved = self.state.run;
                    return Ok(());
                }
                // the controller writes the status too: read again and retry
                Err(BackendError::Conflict { .. }) => {
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt + 1))).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(BackendError::Conflict { canary }.into())
    }

    /// Sleeps `d`, renewing the lease well inside its time to live.
    async fn pause(&mut self, d: Duration) -> Result<(), Halt> {
        let chunk = (self.s.lease_ttl / 4).max(Duration::from_millis(100));
        let now = tokio::time::Instant::now();
        let until = now
            .checked_add(d)
            .unwrap_or(now + Duration::from_secs(86_400));
        loop {
            let now = tokio::time::Instant::now();
            if now >= until {
                return Ok(());
            }
            tokio::time::sleep(chunk.min(until - now)).await;
            let since = Timestamp::now().duration_since(self.lease.renewed);
            if since.unsigned_abs() >= chunk {
                self.save().await?;
            }
        }
    }

    fn past_max(&self) -> bool {
        let max = self.state.plan.max_duration;
        self.state
            .started_at
            .checked_add(max)
            .is_ok_and(|end| Timestamp::now() >= end)
    }

    /// Feeds `event`, saves, and tells whether the step goes on (`Continue`).
    async fn decide(&mut self, event: Event) -> Result<bool, Halt> {
        let action = self.act(event)?;
        self.save().await?;
        Ok(action == Action::Continue)
    }

    async fn run(mut self) -> Result<Outcome, Halt> {
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
    async fn until_ready(&mut self, step: usize, replicas: i32) -> Result<bool, Halt> {
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
    async fn window(&mut self, step: usize) -> Result<bool, Halt> {
        if self.past_max() {
            (self.report)(&Progress::MaxDuration);
            self.decide(Event::MaxDurationExceeded).await?;
            return Ok(false);
        }
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
        let version = self.state.plan.change.model_version.clone();
        let m = measure(&start, &end, false, Some(&version));
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

    /// A snapshot, or the words of why it gave nothing (no pod answered, or the API failed).
    async fn snapshot(&mut self) -> Result<Result<super::window::Snapshot, String>, Halt> {
        match self.b.snapshot().await {
            Ok(s) if s.pods.iter().any(|p| p.metrics.is_ok()) => Ok(Ok(s)),
            Ok(s) => Ok(Err(
                match s.pods.iter().find_map(|p| p.metrics.as_ref().err()) {
                    Some(e) => format!("no pod answered its scrape ({e})"),
                    None => "no serving pods".into(),
                },
            )),
            Err(BackendError::Gone { canary }) => {
                Err(Halt::Lost(format!("deploy/{canary} was removed")))
            }
            Err(BackendError::Failure(f)) => Ok(Err(f.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    async fn scrape_failed(&mut self, step: usize, error: String) -> Result<bool, Halt> {
        let next = self.act(Event::ScrapeError)?;
        self.save().await?;
        (self.report)(&Progress::ScrapeFailed { step, error, next });
        if next == Action::Continue {
            let poll = self.s.poll;
            self.pause(poll).await?;
        }
        Ok(next == Action::Continue)
    }

    async fn promote(&mut self) -> Result<Outcome, Halt> {
        let stable = self.b.stable_name().to_string();
        (self.report)(&Progress::Promoting {
            stable: stable.clone(),
        });
        let deadline = Timestamp::now()
            .checked_add(self.state.plan.progress_deadline)
            .unwrap_or(Timestamp::MAX);
        let cause = self.command();
        let hold = self
            .state
            .plan
            .progress_deadline
            .saturating_add(REMOVE_TIME);
        self.write(Ttl::For(hold)).await?;
        let promoted = self.b.promote(&cause, deadline).await;
        let result = match &promoted {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        self.audit
            .record("canary-promote", cause, &result, &self.state.plan.change)?;
        promoted?;
        (self.report)(&Progress::Promoted { stable });
        self.remove().await?;
        Ok(Outcome::Promoted)
    }

    async fn abort(&mut self, reason: AbortReason) -> Result<Outcome, Halt> {
        (self.report)(&Progress::Aborting { reason });
        self.remove().await?;
        Ok(Outcome::RolledBack { reason })
    }

    async fn remove(&mut self) -> Result<(), Halt> {
        let canary = self.b.canary_name();
        self.write(Ttl::For(REMOVE_TIME)).await?;
        let removed = self.b.remove().await;
        let result = match &removed {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        let phase = PhaseText(&self.state.run.phase).to_string();
        self.audit.record(
            "canary-remove",
            format!("{} (remove deploy/{canary})", self.command()),
            &result,
            &serde_json::json!({ "phase": phase }),
        )?;
        removed?;
        (self.report)(&Progress::Removed { canary });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
