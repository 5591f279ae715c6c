//! An in-cluster run's workers in its summary: one row each, and the warning when a
//! worker failed or was lost (the totals then hold only what it sent before).
use crate::load::fleet::merge::WorkerRow;

/// `2 of 4 workers failed or were lost: ...`, when any did.
pub fn partial(rows: &[WorkerRow]) -> Option<String> {
    let bad: Vec<&WorkerRow> = rows
        .iter()
        .filter(|r| r.state.starts_with("failed") || r.state.starts_with("lost"))
        .collect();
    let first = bad.first()?;
    Some(format!(
        "{} of {} workers failed or were lost ({} {}): the totals hold what they sent until then",
        bad.len(),
        rows.len(),
        first.pod,
        first.state
    ))
}

/// The workers' table, indented like the summary's rows.
pub fn table(rows: &[WorkerRow]) -> String {
    let mut t = format!(
        "  {:<6} {:<34} {:>9} {:>7} {:>12} {:>6}  {}\n",
        "worker", "pod", "sent", "errors", "lag p99 ms", "cpu", "state"
    );
    for r in rows {
        let lag = r
            .lag_p99_ms
            .map_or_else(|| "-".into(), |v| format!("{v:.2}"));
        let cpu = r
            .cpu_cores
            .map_or_else(|| "-".into(), |v| format!("{v:.2}"));
        t.push_str(&format!(
            "  {:<6} {:<34} {:>9} {:>7} {:>12} {:>6}  {}\n",
            r.index, r.pod, r.sent, r.errors, lag, cpu, r.state
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: u32, state: &str) -> WorkerRow {
        WorkerRow {
            index,
            pod: format!("tractor-load-ab-{index}-xyz"),
            state: state.into(),
            sent: 100 + u64::from(index),
            errors: 0,
            lag_p99_ms: Some(0.25),
            cpu_cores: Some(0.31),
        }
    }

    #[test]
    fn a_lost_worker_makes_the_totals_partial_and_is_named() {
        assert_eq!(partial(&[row(0, "done"), row(1, "done")]), None);
        let w = partial(&[row(0, "done"), row(1, "lost: no report for 3 reads: 503")]).unwrap();
        assert!(
            w.starts_with(
                "1 of 2 workers failed or were lost (tractor-load-ab-1-xyz lost: no report"
            ),
            "{w}"
        );
        let t = table(&[row(0, "done"), row(1, "failed: bad flag")]);
        assert_eq!(t.lines().count(), 3);
        assert!(t.lines().nth(2).unwrap().contains("101"), "{t}");
        assert!(
            t.contains("failed: bad flag") && t.contains("0.25") && t.contains("0.31"),
            "{t}"
        );
    }
}
