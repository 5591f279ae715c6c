//! A thread's own figures, merged into the run's every 100 ms: the requests of one load
//! thread record into figures that only that thread and its merges take, and the run's
//! shared figures, which the progress display reads, are taken once per thread per tick
//! instead of once per request. A merge never waits for a thread's own figures: a thread
//! the scheduler put off the CPU while recording (a load thread at idle priority may wait
//! long) keeps them for the next tick. The merging tasks run on the caller's runtime, never
//! on a load thread, so that a lowered thread never holds the run's figures.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::load::stats::{Stats, held, try_held};

/// Merges a thread's figures into the run's every 100 ms, until aborted. A tick that finds
/// the run's figures taken (by another thread's merge, or the display reading them) leaves
/// its figures for the next tick rather than wait, since the thread also carries requests;
/// the next tick waits, so that the live figures are never more than 200 ms behind.
pub async fn flush_every(local: Arc<Mutex<Stats>>, stats: Arc<Mutex<Stats>>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut skipped = false;
    loop {
        tick.tick().await;
        // (a thread that panicked while merging left the figures whole)
        match try_held(&stats) {
            Some(mut s) => try_merge_into(&mut s, &local),
            None if !skipped => {
                skipped = true;
                continue;
            }
            None => try_merge_into(&mut held(&stats), &local),
        }
        skipped = false;
    }
}

/// Merges a thread's figures into the run's now, waiting for them if taken (the last
/// merge, once the thread's requests have ended).
pub fn flush(stats: &Mutex<Stats>, local: &Mutex<Stats>) {
    take(&mut held(stats), &mut held(local));
}

/// [`take`], unless the thread is recording right now.
fn try_merge_into(s: &mut Stats, local: &Mutex<Stats>) {
    if let Some(mut l) = try_held(local) {
        take(s, &mut l);
    }
}

/// Moves a thread's figures into the run's.
fn take(s: &mut Stats, l: &mut Stats) {
    s.merge(l);
    l.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::stats::Outcome;

    #[test]
    fn figures_recorded_before_a_panic_are_still_merged() {
        let stats = Arc::new(Mutex::new(Stats::new()));
        let local = Arc::new(Mutex::new(Stats::new()));
        held(&local).record(Duration::from_millis(2), Outcome::Status(200));
        // a thread panics holding the thread's figures, then the run's
        for m in [local.clone(), stats.clone()] {
            let _ = std::thread::spawn(move || {
                let _g = m.lock();
                panic!("a load thread failed");
            })
            .join();
        }
        assert!(local.is_poisoned() && stats.is_poisoned());
        held(&local).record(Duration::from_millis(3), Outcome::Status(200));
        flush(&stats, &local);
        assert_eq!(held(&stats).answered(), 2);
        assert_eq!(held(&local).answered(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_periodic_merge_goes_on_after_a_panic() {
        let stats = Arc::new(Mutex::new(Stats::new()));
        let local = Arc::new(Mutex::new(Stats::new()));
        let m = stats.clone();
        let _ = std::thread::spawn(move || {
            let _g = m.lock();
            panic!("a merge failed");
        })
        .join();
        let task = tokio::spawn(flush_every(local.clone(), stats.clone()));
        held(&local).record(Duration::from_millis(2), Outcome::Status(200));
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(held(&stats).answered(), 1);
        task.abort();
    }
}
