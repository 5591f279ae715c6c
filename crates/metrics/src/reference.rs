//! Test-only: the scipy reference values of scripts/make-judge-reference.py.
use serde_json::Value;

use crate::histogram::Bucket;

pub fn doc() -> Value {
    serde_json::from_str(include_str!("judge_reference.json")).unwrap()
}

pub fn cases(section: &str) -> Vec<Value> {
    let cases = doc()[section].as_array().unwrap().clone();
    assert!(!cases.is_empty(), "no {section} cases in the reference");
    cases
}

pub fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// `|got − want| ≤ 1e-9·|want|`, or both below 1e-300 (p-values that underflow).
pub fn assert_close(got: f64, want: f64, what: &str) {
    let ok = (got - want).abs() <= 1e-9 * want.abs() || (got.abs() < 1e-300 && want.abs() < 1e-300);
    assert!(ok, "{what}: {got:e} vs scipy {want:e}");
}

/// Cumulative buckets from the reference's finite bounds and per-bucket counts (+Inf's last).
pub fn cumulative(le: &Value, counts: &Value) -> Vec<Bucket> {
    let le: Vec<f64> = le
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let counts: Vec<f64> = counts
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(le.len() + 1, counts.len());
    let mut total = 0.0;
    le.iter()
        .chain([f64::INFINITY].iter())
        .zip(counts)
        .map(|(&le, c)| {
            total += c;
            Bucket { le, count: total }
        })
        .collect()
}
