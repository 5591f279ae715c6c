//! The canary judgement, pure: the absolute SLO conditions (`slo`), the verdict on one
//! analysis window against the stable revision (`judge`), and the run's counters that turn
//! verdicts and events into the next action (`counters`).
pub mod counters;
pub mod judge;
pub mod slo;

pub use counters::{Action, Event, Plan, Run, RunState};
pub use judge::{Analysis, Compare, RevisionWindow, Verdict, WindowInput, WindowVerdict, judge};
pub use slo::Slo;
