//! The rolling update's next step, as a Deployment controller takes it: start replicas of
//! the current revision while the total stays within `replicas + max_surge`; stop old ones
//! (and surplus new ones) while the ready count stays at least `replicas - max_unavailable`.
//! Pure; the controller calls it on every reconcile.

/// A running replica as the plan sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub id: String,
    pub revision: i64,
    pub ready: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// Replicas of the current revision to start.
    pub start: usize,
    /// Replicas to take out of traffic, drain and stop.
    pub stop: Vec<String>,
}

pub fn next(
    seen: &[Seen],
    current: i64,
    replicas: i32,
    max_surge: i32,
    max_unavailable: i32,
) -> Step {
    let want = replicas.max(0) as usize;
    let max_total = want + max_surge.max(0) as usize;
    let min_ready = want.saturating_sub(max_unavailable.max(0) as usize);
    let (new, old): (Vec<&Seen>, Vec<&Seen>) = seen.iter().partition(|s| s.revision == current);
    let total = seen.len();
    let start = want
        .saturating_sub(new.len())
        .min(max_total.saturating_sub(total));
    let mut ready = seen.iter().filter(|s| s.ready).count();
    // old replicas, not-ready first (they serve nothing: stopping them costs no availability)
    let mut candidates: Vec<&Seen> = old.iter().filter(|s| !s.ready).copied().collect();
    candidates.extend(old.iter().filter(|s| s.ready));
    // then surplus replicas of the current revision (a scale down): not-ready, then youngest
    let surplus = new.len().saturating_sub(want);
    let mut extra: Vec<&Seen> = new.iter().filter(|s| !s.ready).copied().collect();
    extra.extend(new.iter().filter(|s| s.ready).rev());
    candidates.extend(extra.into_iter().take(surplus));
    let mut stop = Vec::new();
    for c in candidates {
        if c.ready {
            // a rollout keeps min_ready; a scale down goes to what was asked
            let floor = if c.revision == current {
                want
            } else {
                min_ready
            };
            if ready <= floor {
                continue;
            }
            ready -= 1;
        }
        stop.push(c.id.clone());
    }
    Step { start, stop }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(list: &[(&str, i64, bool)]) -> Vec<Seen> {
        list.iter()
            .map(|(id, revision, ready)| Seen {
                id: id.to_string(),
                revision: *revision,
                ready: *ready,
            })
            .collect()
    }

    /// (name, replicas, max surge, max unavailable, current revision, seen) -> (start, stop)
    type Case = (
        &'static str,
        i32,
        i32,
        i32,
        i64,
        Vec<Seen>,
        usize,
        Vec<&'static str>,
    );

    #[test]
    fn table() {
        // (replicas, surge, unavailable, current, seen) -> (start, stop)
        let cases: Vec<Case> = vec![
            (
                "steady",
                2,
                1,
                0,
                1,
                seen(&[("a", 1, true), ("b", 1, true)]),
                0,
                vec![],
            ),
            ("cold start", 2, 1, 0, 1, seen(&[]), 2, vec![]),
            (
                "rollout begins: surge one, stop none (nothing new is ready)",
                2,
                1,
                0,
                2,
                seen(&[("a", 1, true), ("b", 1, true)]),
                1,
                vec![],
            ),
            (
                "one new ready: one old may go",
                2,
                1,
                0,
                2,
                seen(&[("a", 1, true), ("b", 1, true), ("c", 2, true)]),
                0,
                vec!["a"],
            ),
            (
                "new not ready yet: hold",
                2,
                1,
                0,
                2,
                seen(&[("a", 1, true), ("b", 1, true), ("c", 2, false)]),
                0,
                vec![],
            ),
            (
                "after one swap: the next surge",
                2,
                1,
                0,
                2,
                seen(&[("b", 1, true), ("c", 2, true)]),
                1,
                vec![],
            ),
            (
                "done: the last old goes",
                2,
                1,
                0,
                2,
                seen(&[("b", 1, true), ("c", 2, true), ("d", 2, true)]),
                0,
                vec!["b"],
            ),
            (
                "max unavailable 1: an old one may go before any new is ready",
                2,
                0,
                1,
                2,
                seen(&[("a", 1, true), ("b", 1, true)]),
                0,
                vec!["a"],
            ),
            (
                "a broken old replica goes at once",
                2,
                1,
                0,
                2,
                seen(&[("a", 1, false), ("b", 1, true)]),
                1,
                vec!["a"],
            ),
            (
                "scale down stops surplus, not-ready first",
                1,
                1,
                0,
                1,
                seen(&[("a", 1, true), ("b", 1, false), ("c", 1, true)]),
                0,
                vec!["b", "c"],
            ),
            (
                "scale up",
                4,
                1,
                0,
                1,
                seen(&[("a", 1, true), ("b", 1, true)]),
                2,
                vec![],
            ),
            (
                "scale to zero",
                0,
                1,
                0,
                1,
                seen(&[("a", 1, true)]),
                0,
                vec!["a"],
            ),
        ];
        for (name, replicas, surge, unavail, current, s, start, stop) in cases {
            let step = next(&s, current, replicas, surge, unavail);
            assert_eq!(
                (
                    step.start,
                    step.stop.iter().map(String::as_str).collect::<Vec<_>>()
                ),
                (start, stop),
                "{name}"
            );
        }
    }
}
