use std::path::Path;

use super::*;
use crate::canary::steps::Step;

pub(super) const SCRAPE: Duration = Duration::from_secs(5);

pub(super) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub(super) fn slo(s: &str) -> Slo {
    s.parse().unwrap()
}

pub(super) fn args() -> CanaryArgs {
    CanaryArgs {
        target: Some("deploy/web".into()),
        model: Some("v2".into()),
        ..CanaryArgs::default()
    }
}

pub(super) fn file(text: &str) -> AnalysisFile {
    AnalysisFile::parse(Path::new("canary.toml"), text).unwrap()
}

pub(super) fn build(a: &CanaryArgs, f: Option<&AnalysisFile>) -> Result<CanaryPlan, PlanError> {
    CanaryPlan::build(a, f, SCRAPE)
}

#[test]
fn flags_alone_take_the_documented_defaults() {
    let a = CanaryArgs {
        steps: Some("1,50%".into()),
        slos: vec!["errors<2%".into()],
        ..args()
    };
    let plan = build(&a, None).unwrap();
    assert_eq!(plan.target, "web");
    assert_eq!(plan.interval, DEFAULT_INTERVAL);
    assert_eq!(plan.windows_per_step, DEFAULT_WINDOWS_PER_STEP);
    assert_eq!(
        (
            plan.failure_limit,
            plan.inconclusive_limit,
            plan.scrape_error_limit
        ),
        (0, 3, 4)
    );
    assert_eq!(plan.progress_deadline, secs(600));
    // twice the least time (2 steps × 1 window × 1m), plus a progress deadline per step
    assert_eq!(plan.max_duration, secs(240 + 2 * 600));
    assert_eq!(plan.compare, None);
    assert_eq!(plan.min_requests, 0);
    assert_eq!(
        plan.describe("ml"),
        "tractor rollout canary deploy/web -n ml --model v2 --steps 1,50%"
    );
}

#[test]
fn flags_override_the_file_value_by_value() {
    let f = file(
        "target = \"deploy/api\"\nmodel = \"v1\"\nsteps = \"1,2\"\ninterval = \"1m\"\n\
         slos = [\"p99<250ms\", \"errors<1%\"]\n\
         images = [\"server=img:1\", \"sidecar=proxy:1\"]\n[compare]\nconfidence = 0.9\n",
    );
    let a = CanaryArgs {
        model: Some("v3".into()),
        path: Some("/models/v3.onnx".into()),
        images: vec!["server=img:3".into()],
        interval: Some("5m".into()),
        slos: vec!["p99<300ms".into()],
        compare: Some(false),
        failure_limit: Some(2),
        ..CanaryArgs::default()
    };
    let plan = build(&a, Some(&f)).unwrap();
    assert_eq!(plan.target, "api");
    assert_eq!(plan.change.model_version, "v3");
    assert_eq!(plan.change.model_path.as_deref(), Some("/models/v3.onnx"));
    let images: Vec<String> = plan.change.images.iter().map(|i| i.to_string()).collect();
    assert_eq!(images, ["sidecar=proxy:1", "server=img:3"]);
    assert_eq!(plan.interval, secs(300));
    // the flag's p99 replaces the file's; the file's errors SLO stays
    assert_eq!(plan.slos, [slo("errors<1%"), slo("p99<300ms")]);
    assert_eq!(plan.compare, None);
    assert_eq!(plan.failure_limit, 2);
    assert_eq!(
        plan.describe("prod"),
        "tractor rollout canary deploy/api -n prod --model v3 --path /models/v3.onnx \
         --image sidecar=proxy:1 --image server=img:3 --steps 1,2"
    );
}

#[test]
fn what_is_missing_is_named_with_where_to_write_it() {
    let judged = CanaryArgs {
        steps: Some("1".into()),
        slos: vec!["errors<1%".into()],
        ..CanaryArgs::default()
    };
    let cases = [
        (
            CanaryArgs {
                model: Some("v2".into()),
                ..judged.clone()
            },
            Field::Target,
        ),
        (
            CanaryArgs {
                target: Some("web".into()),
                ..judged.clone()
            },
            Field::Model,
        ),
        (args(), Field::Steps),
    ];
    for (a, field) in cases {
        assert_eq!(build(&a, None), Err(PlanError::Missing { field }));
    }
    assert_eq!(
        PlanError::Missing {
            field: Field::Steps
        }
        .to_string(),
        "missing --steps (or `steps` in the analysis file)"
    );
    let nothing = CanaryArgs {
        steps: Some("1".into()),
        ..args()
    };
    assert_eq!(build(&nothing, None), Err(PlanError::NothingToJudge));
    // a comparison alone is something to judge by
    let compared = CanaryArgs {
        compare: Some(true),
        ..nothing
    };
    assert_eq!(
        build(&compared, None).unwrap().compare,
        Some(Compare::new(DEFAULT_CONFIDENCE, DEFAULT_MIN_EFFECT).unwrap())
    );
}

pub(super) fn judged_args() -> CanaryArgs {
    CanaryArgs {
        steps: Some("1,2".into()),
        slos: vec!["errors<1%".into()],
        ..args()
    }
}

#[test]
fn a_bad_flag_is_named_with_its_value_and_what_to_write() {
    let cases = [
        (
            CanaryArgs {
                interval: Some("2x".into()),
                ..judged_args()
            },
            "--interval: \"2x\": unknown unit \"x\" (ms, s, m, h)",
        ),
        (
            CanaryArgs {
                steps: Some("3,2".into()),
                ..judged_args()
            },
            "--steps: \"2\" after \"3\": steps must grow (e.g. 1,2,4 or 10%,25%,50%)",
        ),
        (
            CanaryArgs {
                slos: vec!["p99>250ms".into()],
                ..judged_args()
            },
            "--slo: SLO \"p99>250ms\": needs an upper bound with < or <=",
        ),
        (
            CanaryArgs {
                images: vec!["=img:2".into()],
                ..judged_args()
            },
            "--image: \"=img:2\": no container before = (write CONTAINER=IMAGE)",
        ),
        (
            CanaryArgs {
                target: Some("statefulset/web".into()),
                ..judged_args()
            },
            "the deployment (deploy/NAME): \"statefulset/web\": only deployments are supported (deploy/NAME), not statefulset",
        ),
        (
            CanaryArgs {
                model: Some(" ".into()),
                ..judged_args()
            },
            "--model: must not be empty",
        ),
        (
            CanaryArgs {
                windows_per_step: Some(0),
                ..judged_args()
            },
            "--windows-per-step: must be more than 0",
        ),
        (
            CanaryArgs {
                min_effect: Some("0.4".into()),
                ..judged_args()
            },
            "--min-effect: minimum effect 0.4 must be within 0.5..=1 (P(canary slower) + P(tie)/2)",
        ),
        (
            CanaryArgs {
                confidence: Some("120%".into()),
                ..judged_args()
            },
            "--confidence: \"120%\" is not between 0 and 100%",
        ),
        (
            CanaryArgs {
                compare: Some(false),
                confidence: Some("0.99".into()),
                ..judged_args()
            },
            "--confidence: set while the comparison is off (--compare=false)",
        ),
        (
            CanaryArgs {
                slos: vec!["p99<250ms".into(), "p99<=300ms".into()],
                ..judged_args()
            },
            "--slo: two SLOs on p99 (p99<250ms and p99<=300ms): keep one",
        ),
        (
            CanaryArgs {
                images: vec!["img:2".into(), "img:3".into()],
                ..judged_args()
            },
            "--image: two images for the only container (img:2 and img:3): keep one",
        ),
    ];
    for (a, want) in cases {
        assert_eq!(build(&a, None).unwrap_err().to_string(), want);
    }
    // --confidence alone turns the comparison on
    let a = CanaryArgs {
        confidence: Some("99%".into()),
        ..judged_args()
    };
    assert_eq!(build(&a, None).unwrap().compare.unwrap().confidence(), 0.99);
}

#[test]
fn a_window_must_hold_two_scrapes() {
    let a = CanaryArgs {
        interval: Some("9s".into()),
        ..judged_args()
    };
    assert_eq!(
        build(&a, None).unwrap_err().to_string(),
        "--interval: a window of 9s is shorter than two scrape intervals (5s each): write 10s or more, so that every window holds two scrapes"
    );
    let a = CanaryArgs {
        interval: Some("10s".into()),
        ..judged_args()
    };
    assert_eq!(build(&a, None).unwrap().interval, secs(10));
    // the default 1m is too short for a slow scrape: said so, with what to write
    let e = CanaryPlan::build(&judged_args(), None, secs(40)).unwrap_err();
    assert_eq!(
        e,
        PlanError::IntervalTooShort {
            at: At::Default(Field::Interval),
            interval: secs(60),
            scrape: secs(40)
        }
    );
    assert!(
        e.to_string()
            .starts_with("the default interval: a window of 1m"),
        "{e}"
    );
}

#[test]
fn a_saved_plan_is_checked_again_and_blamed_as_saved() {
    let mut plan = build(&judged_args(), None).unwrap();
    assert_eq!(plan.check(None), Ok(()));
    assert_eq!(
        plan.check(Some(secs(31))),
        Err(PlanError::IntervalTooShort {
            at: At::Saved(Field::Interval),
            interval: secs(60),
            scrape: secs(31)
        })
    );
    plan.windows_per_step = 0;
    assert_eq!(
        plan.check(None).unwrap_err().to_string(),
        "the saved plan's windows_per_step: must be more than 0"
    );
    plan.windows_per_step = 1;
    plan.steps = "1,2,3".parse().unwrap();
    plan.max_duration = secs(120);
    assert!(matches!(
        plan.check(None),
        Err(PlanError::MaxDurationTooShort { windows: 3, .. })
    ));
    assert_eq!(plan.steps.as_slice()[2], Step::Replicas(3));
}
