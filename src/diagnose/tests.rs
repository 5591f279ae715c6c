//! The diagnosis' tests: the object builders, one fixture per rule, a crash loop's last
//! lines, and the order of the findings.
mod fixtures;
mod last_words;
mod rules;

use super::*;

#[test]
fn the_worst_comes_first() {
    let a = Finding {
        log: Vec::new(),
        severity: Severity::Warn,
        rule: "A",
        subject: "x".into(),
        symptom: String::new(),
        cause: String::new(),
        action: String::new(),
        evidence: vec![],
    };
    let b = Finding {
        log: Vec::new(),
        severity: Severity::Bad,
        rule: "Z",
        ..a.clone()
    };
    let mut v = vec![a, b];
    v.sort_by(|a, b| (a.severity, a.rule).cmp(&(b.severity, b.rule)));
    assert_eq!(health(&v), ("Z", Some(Severity::Bad)));
    assert_eq!(health(&[]), ("ok", None));
}
