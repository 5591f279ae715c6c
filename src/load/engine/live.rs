//! Answers counted the moment they come, for the live rate. The run's figures are merged
//! from each load thread's own every 100 ms, so a 250 ms progress window holds two or three
//! of a thread's merges: a rate taken from them swung by a fifth either way (16,000/s shown
//! for a steady 20,000). Each thread adds to a counter of its own (on its own cache line,
//! so that the threads do not contend), and the reporter reads their sum.
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a run's load threads record: the run's figures (merged into from each thread's
/// own) and the answers counted live.
#[derive(Clone)]
pub struct Tally {
    pub stats: std::sync::Arc<std::sync::Mutex<crate::load::stats::Stats>>,
    pub answered: std::sync::Arc<Answered>,
}

impl Tally {
    /// Empty figures, and a counter for each core's load thread. A run takes a fresh one: its
    /// reporter counts from zero.
    pub fn new() -> Tally {
        Tally {
            stats: std::sync::Arc::new(std::sync::Mutex::new(crate::load::stats::Stats::new())),
            answered: std::sync::Arc::new(Answered::new(crate::load::health::cores())),
        }
    }
}

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

/// A counter on a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Slot(AtomicU64);

/// One counter per load thread; a thread's index picks its counter.
pub struct Answered {
    slots: Box<[Slot]>,
}

impl Answered {
    /// Counters for `threads` load threads (at least one).
    pub fn new(threads: usize) -> Answered {
        Answered {
            slots: (0..threads.max(1)).map(|_| Slot::default()).collect(),
        }
    }

    /// One answer on the thread `thread`.
    pub fn add(&self, thread: usize) {
        // the count alone: nothing else is read through it
        self.slots[thread % self.slots.len()]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Answers so far, every thread's.
    pub fn total(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_threads_answers_are_counted_once() {
        let a = std::sync::Arc::new(Answered::new(2));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let a = a.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| a.add(t)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(a.total(), 4000);
        // no threads asked for: one counter still
        let one = Answered::new(0);
        one.add(7);
        assert_eq!(one.total(), 1);
    }
}
