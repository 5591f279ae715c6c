use super::*;

fn steps(s: &str) -> Steps {
    s.parse().unwrap()
}

fn err(s: &str) -> StepsError {
    s.parse::<Steps>().unwrap_err()
}

#[test]
fn counts_and_percentages_parse_and_print_normalized() {
    let s = steps(" 1, 25 %,50%,100% ");
    assert_eq!(
        s.as_slice(),
        [
            Step::Replicas(1),
            Step::Percent(25),
            Step::Percent(50),
            Step::Percent(100)
        ]
    );
    assert_eq!(s.to_string(), "1,25%,50%,100%");
    assert_eq!(steps(&s.to_string()), s);
    assert_eq!(steps("+2").as_slice(), [Step::Replicas(2)]);
}

#[test]
fn a_percentage_rounds_up_and_is_at_least_one_replica() {
    // (step, stable replicas, canary replicas)
    for (step, stable, want) in [
        (Step::Percent(25), 4, 1),
        (Step::Percent(25), 5, 2),
        (Step::Percent(50), 5, 3),
        (Step::Percent(100), 5, 5),
        (Step::Percent(1), 1, 1),
        (Step::Percent(1), 0, 1),
        (Step::Percent(10), -3, 1),
        (Step::Percent(1), 250, 3),
        (Step::Percent(100), i32::MAX, i32::MAX),
        (Step::Replicas(3), 0, 3),
        (Step::Replicas(3), 100, 3),
    ] {
        assert_eq!(step.replicas(stable), want, "{step} of {stable}");
    }
}

#[test]
fn every_bad_item_is_named_with_what_to_write() {
    assert_eq!(err(""), StepsError::Empty);
    assert_eq!(err("  "), StepsError::Empty);
    assert_eq!(
        err("1,,5"),
        StepsError::EmptyItem {
            steps: "1,,5".into(),
            position: 2
        }
    );
    assert_eq!(
        err("1,"),
        StepsError::EmptyItem {
            steps: "1,".into(),
            position: 2
        }
    );
    for bad in ["x", "1.5", "12.5%", "%", "2x", "--1", "1 2", "0x10"] {
        assert_eq!(err(bad), StepsError::NotAStep { item: bad.into() }, "{bad}");
    }
    for bad in ["0", "0%", "-1", "-5%", "000"] {
        assert_eq!(
            err(bad),
            StepsError::NotPositive { item: bad.into() },
            "{bad}"
        );
    }
    for bad in ["101%", "256%", "99999999999999999999999%"] {
        assert_eq!(
            err(bad),
            StepsError::OverHundred { item: bad.into() },
            "{bad}"
        );
    }
    assert_eq!(
        err("3000000000"),
        StepsError::TooMany {
            item: "3000000000".into()
        }
    );
    assert_eq!(
        err("12.5%").to_string(),
        "\"12.5%\" is not a step: write a number of canary replicas (2) or a whole percentage of the stable's replicas (25%)"
    );
}

#[test]
fn steps_of_a_kind_must_grow_as_written() {
    assert_eq!(
        err("1,3,2"),
        StepsError::NotIncreasing {
            item: "2".into(),
            previous: "3".into()
        }
    );
    assert_eq!(
        err("50%,1,25%"),
        StepsError::NotIncreasing {
            item: "25%".into(),
            previous: "50%".into()
        }
    );
    assert_eq!(
        err("2,2").to_string(),
        "\"2\" after \"2\": steps must grow (e.g. 1,2,4 or 10%,25%,50%)"
    );
    // kinds interleaved are compared once the stable is known
    assert!("1,25%,2,50%".parse::<Steps>().is_ok());
}

#[test]
fn resolving_allows_equal_counts_and_refuses_a_shrinking_canary() {
    let s = steps("1,25%,50%");
    assert_eq!(s.resolve(8), Ok(vec![1, 2, 4]));
    // a small stable rounds 25% and 50% up to the same count: allowed
    assert_eq!(s.resolve(2), Ok(vec![1, 1, 1]));
    assert_eq!(s.resolve(0), Ok(vec![1, 1, 1]));

    let mixed = steps("4,50%");
    assert_eq!(mixed.resolve(10), Ok(vec![4, 5]));
    let e = mixed.resolve(4).unwrap_err();
    assert_eq!(
        e,
        StepsError::Shrinks {
            step: 2,
            item: Step::Percent(50),
            replicas: 2,
            previous: Step::Replicas(4),
            previous_replicas: 4,
            stable: 4
        }
    );
    assert_eq!(
        e.to_string(),
        "step 2 (50%) is 2 canary replicas beside 4 stable ones, fewer than step 1 (4, 4): steps must not shrink the canary"
    );
}

#[test]
fn steps_are_saved_as_their_text() {
    let s = steps("1,25%");
    assert_eq!(serde_json::to_string(&s).unwrap(), "\"1,25%\"");
    assert_eq!(serde_json::from_str::<Steps>("\"1,25%\"").unwrap(), s);
    let e = serde_json::from_str::<Steps>("\"5,2\"").unwrap_err();
    assert!(e.to_string().contains("steps must grow"), "{e}");
}

#[test]
fn during_a_run_a_step_never_shrinks_the_canary() {
    let steps: Steps = "2,50%,100%".parse().unwrap();
    // the stable shrank to 2: 50% is 1 replica, which resolve refuses before a run
    assert!(steps.resolve(2).is_err());
    assert_eq!(steps.sizes(2), [2, 2, 2]);
    assert_eq!(steps.sizes(8), [2, 4, 8]);
    assert_eq!(steps.sizes(8), steps.resolve(8).unwrap());
}
