//! A canary run's counters, like an Argo Rollouts analysis run's, as a pure state machine:
//! feed it each window's verdict and each event, and it answers the next action.
//!
//! - more failed windows than the failure limit (over the whole run) → abort;
//! - more inconclusive windows than their limit (since the last resume) → pause for a person;
//! - more consecutive scrape errors than their limit → pause;
//! - the canary not ready within the progress deadline, or the run past its maximum
//!   duration → abort;
//! - a step advances once it has its passing windows (failures in between count against the
//!   failure limit, not against the step); after the last step, promote.
//!
//! All three limits are "more than", as Argo's `failureLimit`, `inconclusiveLimit` and
//! `consecutiveErrorLimit`: a limit of 0 acts on the first one.
use std::fmt;

use serde::Serialize;

use super::judge::Verdict;

/// The steps and the limits of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    step_windows: Vec<u32>,
    pub limits: Limits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub failures: u32,
    pub inconclusive: u32,
    pub consecutive_scrape_errors: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum PlanError {
    NoSteps,
    /// A step must need at least one passing window (steps count from 0).
    NoWindows {
        step: usize,
    },
    /// A saved state's step is not in the plan.
    StepOutOfPlan {
        step: usize,
        steps: usize,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::NoSteps => f.write_str("a canary plan needs at least one step"),
            PlanError::NoWindows { step } => {
                write!(f, "step {} needs at least one passing window", step + 1)
            }
            PlanError::StepOutOfPlan { step, steps } => write!(
                f,
                "the saved state is at step {} of a plan with {steps}",
                step + 1
            ),
        }
    }
}

impl std::error::Error for PlanError {}

impl Plan {
    /// `step_windows[i]`: the passing windows step i needs before the next.
    pub fn new(step_windows: Vec<u32>, limits: Limits) -> Result<Self, PlanError> {
        if step_windows.is_empty() {
            return Err(PlanError::NoSteps);
        }
        if let Some(step) = step_windows.iter().position(|&w| w == 0) {
            return Err(PlanError::NoWindows { step });
        }
        Ok(Plan {
            step_windows,
            limits,
        })
    }
    pub fn step_windows(&self) -> &[u32] {
        &self.step_windows
    }
}

/// A window's verdict, as the counters see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Judged {
    Pass,
    Fail,
    Inconclusive,
}

impl From<&Verdict> for Judged {
    fn from(v: &Verdict) -> Self {
        match v {
            Verdict::Pass => Judged::Pass,
            Verdict::Fail { .. } => Judged::Fail,
            Verdict::Inconclusive { .. } => Judged::Inconclusive,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "event", content = "verdict", rename_all = "snake_case")]
pub enum Event {
    Window(Judged),
    /// A scrape for the window failed (no window was judged).
    ScrapeError,
    /// The canary's pods are not ready and the progress deadline has passed.
    NotReadyPastDeadline,
    MaxDurationExceeded,
    /// A person resumed a paused run.
    Resumed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum AbortReason {
    Failures {
        failures: u32,
        limit: u32,
    },
    NotReady,
    MaxDuration,
    /// A person aborted the run (`abort`, or `a` in the console).
    ByHand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum PauseReason {
    Inconclusive { inconclusive: u32, limit: u32 },
    ScrapeErrors { consecutive: u32, limit: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Keep judging windows at this step (also: a paused run's events change nothing).
    Continue,
    /// Scale the canary to this step (counted from 0).
    AdvanceStep {
        step: usize,
    },
    Promote,
    Abort {
        reason: AbortReason,
    },
    Pause {
        reason: PauseReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    Running,
    Paused { reason: PauseReason },
    Promoted,
    Aborted { reason: AbortReason },
}

/// The counters, public so that a run can be saved (e.g. in annotations) and resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunState {
    pub step: usize,
    pub passes_in_step: u32,
    pub failures: u32,
    pub inconclusive: u32,
    pub consecutive_scrape_errors: u32,
    pub phase: Phase,
}

impl RunState {
    pub fn start() -> Self {
        RunState {
            step: 0,
            passes_in_step: 0,
            failures: 0,
            inconclusive: 0,
            consecutive_scrape_errors: 0,
            phase: Phase::Running,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    plan: Plan,
    state: RunState,
}

impl Run {
    pub fn new(plan: Plan) -> Self {
        Run {
            plan,
            state: RunState::start(),
        }
    }

    /// A saved run, checked against its plan.
    pub fn resume_from(plan: Plan, state: RunState) -> Result<Self, PlanError> {
        let steps = plan.step_windows.len();
        if state.step >= steps {
            return Err(PlanError::StepOutOfPlan {
                step: state.step,
                steps,
            });
        }
        Ok(Run { plan, state })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }
    pub fn state(&self) -> &RunState {
        &self.state
    }

    /// The next action after `event`. Once promoted or aborted, every event answers the
    /// same; while paused only a resume, an abort or the deadline changes anything.
    pub fn on(&mut self, event: Event) -> Action {
        let limits = self.plan.limits;
        let s = &mut self.state;
        match s.phase {
            Phase::Promoted => return Action::Promote,
            Phase::Aborted { reason } => return Action::Abort { reason },
            Phase::Paused { reason } => match event {
                Event::Resumed => {
                    s.inconclusive = 0;
                    s.consecutive_scrape_errors = 0;
                    s.phase = Phase::Running;
                    return Action::Continue;
                }
                Event::Window(_) | Event::ScrapeError => return Action::Pause { reason },
                Event::NotReadyPastDeadline | Event::MaxDurationExceeded => {}
            },
            Phase::Running => {}
        }
        let abort = |s: &mut RunState, reason| {
            s.phase = Phase::Aborted { reason };
            Action::Abort { reason }
        };
        let pause = |s: &mut RunState, reason| {
            s.phase = Phase::Paused { reason };
            Action::Pause { reason }
        };
        match event {
            Event::NotReadyPastDeadline => abort(s, AbortReason::NotReady),
            Event::MaxDurationExceeded => abort(s, AbortReason::MaxDuration),
            Event::Resumed => Action::Continue,
            Event::ScrapeError => {
                s.consecutive_scrape_errors = s.consecutive_scrape_errors.saturating_add(1);
                if s.consecutive_scrape_errors > limits.consecutive_scrape_errors {
                    let reason = PauseReason::ScrapeErrors {
                        consecutive: s.consecutive_scrape_errors,
                        limit: limits.consecutive_scrape_errors,
                    };
                    pause(s, reason)
                } else {
                    Action::Continue
                }
            }
            Event::Window(judged) => {
                s.consecutive_scrape_errors = 0;
                match judged {
                    Judged::Fail => {
                        s.failures = s.failures.saturating_add(1);
                        if s.failures > limits.failures {
                            let reason = AbortReason::Failures {
                                failures: s.failures,
                                limit: limits.failures,
                            };
                            abort(s, reason)
                        } else {
                            Action::Continue
                        }
                    }
                    Judged::Inconclusive => {
                        s.inconclusive = s.inconclusive.saturating_add(1);
                        if s.inconclusive > limits.inconclusive {
                            let reason = PauseReason::Inconclusive {
                                inconclusive: s.inconclusive,
                                limit: limits.inconclusive,
                            };
                            pause(s, reason)
                        } else {
                            Action::Continue
                        }
                    }
                    Judged::Pass => {
                        s.passes_in_step = s.passes_in_step.saturating_add(1);
                        let needed = self.plan.step_windows.get(s.step).copied().unwrap_or(1);
                        if s.passes_in_step < needed {
                            Action::Continue
                        } else if s.step + 1 >= self.plan.step_windows.len() {
                            s.phase = Phase::Promoted;
                            Action::Promote
                        } else {
                            s.step += 1;
                            s.passes_in_step = 0;
                            Action::AdvanceStep { step: s.step }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
