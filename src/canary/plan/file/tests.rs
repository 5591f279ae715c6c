use std::path::Path;

use tractor_metrics::canary::counters::Limits;
use tractor_metrics::canary::judge::Compare;

use super::*;
use crate::canary::plan::tests::{args, build, file, judged_args, secs, slo};
use crate::canary::plan::{CanaryArgs, CanaryPlan, Change};

const EXAMPLE: &str = include_str!("../../../../config/canary.example.toml");

#[test]
fn the_committed_example_parses_into_the_plan_it_documents() {
    let plan = build(&args(), Some(&file(EXAMPLE))).unwrap();
    let want = CanaryPlan {
        target: "web".into(),
        change: Change {
            model_version: "v2".into(),
            model_path: None,
            container: None,
            images: vec![],
        },
        steps: "1,25%,50%".parse().unwrap(),
        interval: secs(120),
        slos: vec![slo("p99<250ms"), slo("errors<1%")],
        compare: Some(Compare::new(0.95, 0.56).unwrap()),
        failure_limit: 0,
        inconclusive_limit: 3,
        scrape_error_limit: 4,
        max_duration: secs(3600),
        progress_deadline: secs(600),
        min_requests: 200,
        windows_per_step: 2,
    };
    assert_eq!(plan, want);
    assert_eq!(plan.min_time(), secs(12 * 60));

    let analysis = plan.to_analysis();
    assert_eq!(analysis.slos, want.slos);
    assert_eq!(analysis.compare, want.compare);
    // p99 needs 1,000 requests, above min_requests
    assert_eq!(analysis.required_requests(), 1000);

    let counters = plan.to_counters_plan().unwrap();
    assert_eq!(counters.step_windows(), [2, 2, 2]);
    assert_eq!(
        counters.limits,
        Limits {
            failures: 0,
            inconclusive: 3,
            consecutive_scrape_errors: 4
        }
    );
}

#[test]
fn a_bad_file_value_is_named_at_its_line() {
    let at = |text: &str| {
        build(&judged_without_steps(), Some(&file(text)))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        at("# canary\n\nsteps = \"3,2\"\n"),
        "canary.toml line 3 (steps): \"2\" after \"3\": steps must grow (e.g. 1,2,4 or 10%,25%,50%)"
    );
    assert_eq!(
        at("steps = \"1\"\nslos = [\n  \"errors<1%\",\n  \"p99<250xs\",\n]\n"),
        "canary.toml line 4 (slos): SLO \"p99<250xs\": latency unit \"xs\" is not one of ns, us, µs, ms, s"
    );
    assert_eq!(
        at("steps = \"1\"\n[compare]\nconfidence = 0.95\nmin_effect = 0.3\n"),
        "canary.toml line 4 (compare.min_effect): minimum effect 0.3 must be within 0.5..=1 (P(canary slower) + P(tie)/2)"
    );
    assert_eq!(
        at("steps = \"1\"\ninterval = \"10s\"\nmax_duration = \"5s\"\n"),
        "canary.toml line 3 (max_duration): 5s is shorter than the 10s the steps take at the least (1 × 10s): write 10s or more"
    );
}

#[test]
fn a_file_that_is_not_an_analysis_is_refused_at_its_line_and_key() {
    let parse = |text: &str| AnalysisFile::parse(Path::new("canary.toml"), text).unwrap_err();
    let e = parse("steps = \"1\"\nfailure_limit = -1\n");
    assert!(
        matches!(&e, PlanError::File { line: 2, key, .. } if key == "failure_limit"),
        "{e}"
    );
    let e = parse("stepz = \"1\"\n");
    assert!(
        e.to_string()
            .starts_with("canary.toml: line 1, key `stepz`: unknown field `stepz`"),
        "{e}"
    );
    let e = parse("[compare]\nconfidence = \"high\"\n");
    assert!(
        matches!(&e, PlanError::File { line: 2, key, .. } if key == "compare.confidence"),
        "{e}"
    );
    let e = parse("steps = [1, 2]\n");
    assert!(matches!(&e, PlanError::File { line: 1, .. }), "{e}");
}

fn judged_without_steps() -> CanaryArgs {
    CanaryArgs {
        steps: None,
        ..judged_args()
    }
}
