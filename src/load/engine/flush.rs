//! A thread's own figures, merged into the run's every 100 ms: the requests of one load
//! thread record into figures that only that thread and its merges take, and the run's
//! shared figures, which the progress display reads, are taken once per thread per tick
//! instead of once per request. A merge never waits for a thread's own figures: a thread
//! the scheduler put off the CPU while recording (a load thread at idle priority may wait
//! long) keeps them for the next tick. The merging tasks run on the caller's runtime, never
//! on a load thread, so that a lowered thread never holds the run's figures.
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

use crate::load::stats::Stats;

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
        match stats.try_lock() {
            Ok(mut s) => try_merge_into(&mut s, &local),
            Err(TryLockError::WouldBlock) if !skipped => {
                skipped = true;
                continue;
            }
            Err(TryLockError::WouldBlock) => {
                if let Ok(mut s) = stats.lock() {
                    try_merge_into(&mut s, &local);
                }
            }
            // a thread panicked while merging: nothing more can be merged
            Err(TryLockError::Poisoned(_)) => return,
        }
        skipped = false;
    }
}

/// Merges a thread's figures into the run's now, waiting for them if taken (the last
/// merge, once the thread's requests have ended).
pub fn flush(stats: &Mutex<Stats>, local: &Mutex<Stats>) {
    if let Ok(mut s) = stats.lock() {
        merge_into(&mut s, local);
    }
}

/// [`merge_into`], unless the thread is recording right now.
fn try_merge_into(s: &mut Stats, local: &Mutex<Stats>) {
    if let Ok(mut l) = local.try_lock() {
        take(s, &mut l);
    }
}

fn merge_into(s: &mut Stats, local: &Mutex<Stats>) {
    if let Ok(mut l) = local.lock() {
        take(s, &mut l);
    }
}

/// Moves a thread's figures into the run's.
fn take(s: &mut Stats, l: &mut Stats) {
    s.merge(l);
    l.clear();
}
