use super::*;

use Action::{Continue, Promote};
use Event::{MaxDurationExceeded as Max, NotReadyPastDeadline as NotReady, Resumed, ScrapeError};

const P: Event = Event::Window(Judged::Pass);
const F: Event = Event::Window(Judged::Fail);
const I: Event = Event::Window(Judged::Inconclusive);

fn limits(failures: u32, inconclusive: u32, consecutive_scrape_errors: u32) -> Limits {
    Limits {
        failures,
        inconclusive,
        consecutive_scrape_errors,
    }
}

/// Steps needing 2, 1 and 3 passing windows; at most 1 failure, 2 inconclusive windows and
/// 2 consecutive scrape errors.
fn plan() -> Plan {
    Plan::new(vec![2, 1, 3], limits(1, 2, 2)).unwrap()
}

fn advance(step: usize) -> Action {
    Action::AdvanceStep { step }
}

fn abort(reason: AbortReason) -> Action {
    Action::Abort { reason }
}

fn pause(reason: PauseReason) -> Action {
    Action::Pause { reason }
}

fn too_many_failures(failures: u32, limit: u32) -> Action {
    abort(AbortReason::Failures { failures, limit })
}

fn too_many_inconclusive(inconclusive: u32, limit: u32) -> Action {
    pause(PauseReason::Inconclusive {
        inconclusive,
        limit,
    })
}

fn scrape_errors(consecutive: u32, limit: u32) -> Action {
    pause(PauseReason::ScrapeErrors { consecutive, limit })
}

/// Events, each with the action it must get.
type Script = Vec<(Event, Action)>;

#[test]
fn event_sequences_give_argo_like_actions() {
    // (what, plan, events and the action each one gets)
    let zero = Plan::new(vec![1], limits(0, 0, 0)).unwrap();
    let cases: Vec<(&str, Plan, Script)> = vec![
        (
            "every window passes: steps advance, then promote, then stay promoted",
            plan(),
            vec![
                (P, Continue),
                (P, advance(1)),
                (P, advance(2)),
                (P, Continue),
                (P, Continue),
                (P, Promote),
                (P, Promote),
                (F, Promote),
                (Max, Promote),
            ],
        ),
        (
            "failures over the limit abort, and the run stays aborted",
            plan(),
            vec![
                (F, Continue),
                (F, too_many_failures(2, 1)),
                (P, too_many_failures(2, 1)),
                (Resumed, too_many_failures(2, 1)),
            ],
        ),
        (
            "a failure between passes counts against the limit, not against the step",
            plan(),
            vec![(P, Continue), (F, Continue), (P, advance(1))],
        ),
        (
            "failures add up across steps",
            plan(),
            vec![
                (P, Continue),
                (F, Continue),
                (P, advance(1)),
                (F, too_many_failures(2, 1)),
            ],
        ),
        (
            "inconclusive windows over the limit pause until a person resumes",
            plan(),
            vec![
                (I, Continue),
                (I, Continue),
                (I, too_many_inconclusive(3, 2)),
                (P, too_many_inconclusive(3, 2)),
                (ScrapeError, too_many_inconclusive(3, 2)),
                (Resumed, Continue),
                // the count starts over after the resume
                (I, Continue),
                (I, Continue),
                (P, Continue),
                (P, advance(1)),
            ],
        ),
        (
            "consecutive scrape errors over the limit pause",
            plan(),
            vec![
                (ScrapeError, Continue),
                (ScrapeError, Continue),
                (ScrapeError, scrape_errors(3, 2)),
                (Resumed, Continue),
                (ScrapeError, Continue),
            ],
        ),
        (
            "a judged window breaks a run of scrape errors",
            plan(),
            vec![
                (ScrapeError, Continue),
                (ScrapeError, Continue),
                (I, Continue),
                (ScrapeError, Continue),
                (ScrapeError, Continue),
                (ScrapeError, scrape_errors(3, 2)),
            ],
        ),
        (
            "not ready past the progress deadline aborts",
            plan(),
            vec![(P, Continue), (NotReady, abort(AbortReason::NotReady))],
        ),
        (
            "the maximum duration aborts, even a paused run",
            plan(),
            vec![
                (I, Continue),
                (I, Continue),
                (I, too_many_inconclusive(3, 2)),
                (Max, abort(AbortReason::MaxDuration)),
                (Resumed, abort(AbortReason::MaxDuration)),
            ],
        ),
        (
            "resuming a running run changes nothing",
            plan(),
            vec![(P, Continue), (Resumed, Continue), (P, advance(1))],
        ),
        (
            "limits of 0 act on the first failure",
            zero.clone(),
            vec![(F, too_many_failures(1, 0))],
        ),
        (
            "limits of 0 act on the first inconclusive window",
            zero.clone(),
            vec![(I, too_many_inconclusive(1, 0))],
        ),
        (
            "limits of 0 act on the first scrape error",
            zero.clone(),
            vec![(ScrapeError, scrape_errors(1, 0))],
        ),
        (
            "one step of one window promotes at once",
            zero,
            vec![(P, Promote)],
        ),
    ];
    for (what, plan, steps) in cases {
        let mut run = Run::new(plan);
        for (i, (event, want)) in steps.into_iter().enumerate() {
            assert_eq!(run.on(event), want, "{what}: event {i} ({event:?})");
        }
    }
}

#[test]
fn the_state_says_where_the_run_is() {
    let mut run = Run::new(plan());
    for e in [P, P, F, P, ScrapeError, I] {
        run.on(e);
    }
    assert_eq!(
        *run.state(),
        RunState {
            step: 2,
            passes_in_step: 0,
            failures: 1,
            inconclusive: 1,
            consecutive_scrape_errors: 0,
            phase: Phase::Running,
        }
    );
    run.on(ScrapeError);
    assert_eq!(run.state().consecutive_scrape_errors, 1);
    for e in [I, I] {
        run.on(e);
    }
    assert_eq!(
        run.state().phase,
        Phase::Paused {
            reason: PauseReason::Inconclusive {
                inconclusive: 3,
                limit: 2
            }
        }
    );
}

#[test]
fn a_saved_run_resumes_where_it_was() {
    let saved = RunState {
        step: 1,
        passes_in_step: 0,
        failures: 1,
        ..RunState::start()
    };
    let mut run = Run::resume_from(plan(), saved).unwrap();
    assert_eq!(run.on(P), advance(2));
    let mut run = Run::resume_from(plan(), saved).unwrap();
    // one failure already spent
    assert_eq!(run.on(F), too_many_failures(2, 1));
    assert_eq!(
        Run::resume_from(plan(), RunState { step: 3, ..saved }),
        Err(PlanError::StepOutOfPlan { step: 3, steps: 3 })
    );
}

#[test]
fn plans_are_checked() {
    assert_eq!(Plan::new(vec![], limits(0, 0, 0)), Err(PlanError::NoSteps));
    assert_eq!(
        Plan::new(vec![1, 0, 2], limits(0, 0, 0)),
        Err(PlanError::NoWindows { step: 1 })
    );
    // the message counts steps from 1, as a person does
    assert_eq!(
        PlanError::NoWindows { step: 1 }.to_string(),
        "step 2 needs at least one passing window"
    );
    assert_eq!(plan().step_windows(), &[2, 1, 3]);
}

#[test]
fn verdicts_map_to_what_the_counters_count() {
    assert_eq!(Judged::from(&Verdict::Pass), Judged::Pass);
    assert_eq!(
        Judged::from(&Verdict::Fail { reasons: vec![] }),
        Judged::Fail
    );
    assert_eq!(
        Judged::from(&Verdict::Inconclusive { reasons: vec![] }),
        Judged::Inconclusive
    );
}

#[test]
fn actions_serialize_for_the_audit_log() {
    let json = serde_json::to_value(too_many_failures(2, 1)).unwrap();
    assert_eq!(json["action"], "abort");
    assert_eq!(json["reason"]["reason"], "failures");
    assert_eq!(json["reason"]["failures"], 2);
    let json = serde_json::to_value(Event::Window(Judged::Pass)).unwrap();
    assert_eq!(json["event"], "window");
    assert_eq!(json["verdict"], "pass");
}
