//! A crash loop's evidence: the last lines its previous run printed, once the console has
//! read them, and only those of this crash.
use serde_json::json;

use super::fixtures::*;
use crate::diagnose::{Facts, LastWords, RunKey, diagnose};

#[test]
fn a_crash_loop_shows_the_last_lines_of_the_run_that_died_once_read() {
    let d = deployment(json!({}));
    let p = pod(
        json!({}),
        cs(
            json!({"waiting": {"reason": "CrashLoopBackOff"}}),
            json!({"terminated": {"exitCode": 1, "reason": "Error"}}),
            false,
            6,
        ),
    );
    let run = RunKey {
        namespace: "ml".into(),
        pod: "web-abc-1".into(),
        container: "server".into(),
        restarts: 6,
    };
    let with = |map: &std::collections::BTreeMap<RunKey, LastWords>| {
        let facts = Facts {
            deployment: &d,
            replicasets: vec![],
            pods: vec![(&p, Some(4))],
            events: vec![],
            hpa: None,
            hpa_history: None,
            jobs: vec![],
            last_words: Some(map),
        };
        let found = diagnose(&facts);
        assert_eq!(found[0].rule, "CrashLoopBackOff");
        found[0].clone()
    };
    let crash = |words: Option<LastWords>| {
        let map = words.into_iter().map(|w| (run.clone(), w)).collect();
        with(&map)
    };
    let lines: Vec<String> = (1..=7).map(|i| format!("line {i}")).collect();
    let f = crash(Some(LastWords::Read(lines)));
    assert_eq!(f.log, ["line 3", "line 4", "line 5", "line 6", "line 7"]);
    let f = crash(Some(LastWords::Reading));
    assert!(f.log.is_empty());
    assert!(
        f.evidence
            .contains(&"reading its last run's log…".to_string())
    );
    let f = crash(Some(LastWords::Failed(
        "pods \"web-abc-1\" is forbidden".into(),
    )));
    assert!(
        f.evidence
            .iter()
            .any(|e| e == "its last run's log could not be read: pods \"web-abc-1\" is forbidden"),
        "{f:?}"
    );
    let f = crash(Some(LastWords::Read(vec![])));
    assert!(
        f.evidence
            .contains(&"its last run printed nothing".to_string())
    );
    // the lines of an earlier crash (restart 5) are not this one's
    let earlier = RunKey {
        restarts: 5,
        ..run.clone()
    };
    let map = [(earlier, LastWords::Read(vec!["old".into()]))].into();
    assert!(with(&map).log.is_empty());
}
