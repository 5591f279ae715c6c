//! One worker's share of a run split N ways: the open loop's rate divided by N (the same
//! shape, so N workers started at one instant send the whole schedule together), the
//! closed loop's workers and the request bound split as evenly as whole numbers allow.
use crate::load::engine::Mode;

/// Why a run cannot be split over `--workers`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("--workers must be at least 1")]
    NoWorkers,
    #[error(
        "--concurrency {concurrency} cannot be split over --workers {workers}: give each worker one at least"
    )]
    Concurrency { concurrency: usize, workers: u32 },
    #[error(
        "--requests {requests} cannot be split over --workers {workers}: give each worker one at least"
    )]
    Requests { requests: u64, workers: u32 },
}

/// Worker `index`'s part of `total` split `n` ways: the first `total % n` get one more.
pub fn part(total: u64, index: u32, n: u32) -> u64 {
    let n = u64::from(n.max(1));
    total / n + u64::from(u64::from(index) < total % n)
}

/// Whether a run in `mode` bounded by `max_requests` can be split over `workers`.
pub fn check(mode: &Mode, max_requests: Option<u64>, workers: u32) -> Result<(), ShareError> {
    if workers == 0 {
        return Err(ShareError::NoWorkers);
    }
    if let Mode::Closed { concurrency } = mode
        && *concurrency < workers as usize
    {
        return Err(ShareError::Concurrency {
            concurrency: *concurrency,
            workers,
        });
    }
    if let Some(requests) = max_requests
        && requests < u64::from(workers)
    {
        return Err(ShareError::Requests { requests, workers });
    }
    Ok(())
}

/// Worker `index`'s mode (of `workers`): the open loop at `1/workers` of the rate, the
/// closed loop's workers split.
pub fn mode(mode: &Mode, index: u32, workers: u32) -> Mode {
    match mode {
        Mode::Open {
            profile,
            max_in_flight,
        } => Mode::Open {
            profile: profile.scaled(1.0 / f64::from(workers.max(1))),
            max_in_flight: *max_in_flight,
        },
        Mode::Closed { concurrency } => Mode::Closed {
            concurrency: part(*concurrency as u64, index, workers) as usize,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::plan::LoadPlan;
    use crate::load::profile::Profile;

    fn share(p: &LoadPlan, index: u32, workers: u32) -> Result<LoadPlan, ShareError> {
        p.share(index, workers)
    }

    #[test]
    fn parts_add_up_to_the_whole() {
        for (total, n) in [(10, 3), (3, 3), (7, 1), (1000, 7), (5, 4)] {
            let parts: Vec<u64> = (0..n).map(|i| part(total, i, n)).collect();
            assert_eq!(parts.iter().sum::<u64>(), total, "{total}/{n}: {parts:?}");
            let (lo, hi) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
            assert!(hi - lo <= 1, "{total}/{n}: {parts:?}");
        }
    }

    fn plan(mode: Mode, requests: Option<u64>) -> LoadPlan {
        let args = crate::load::line::parse_args("--url http://127.0.0.1:1/ --rate 10").unwrap();
        let mut p = LoadPlan::from_args(&args).unwrap();
        p.mode = mode;
        p.max_requests = requests;
        p
    }

    #[test]
    fn the_open_loop_keeps_its_shape_at_a_share_of_the_rate() {
        let spike = Profile::Spike {
            base: 300.0,
            peak: 900.0,
            at: 10.0,
            len: 5.0,
        };
        let p = plan(
            Mode::Open {
                profile: spike.clone(),
                max_in_flight: 100,
            },
            Some(10),
        );
        let shares: Vec<LoadPlan> = (0..3).map(|i| share(&p, i, 3).unwrap()).collect();
        for t in [0.0, 9.9, 10.0, 14.9, 15.0, 29.0] {
            let sum: f64 = shares
                .iter()
                .map(|s| match &s.mode {
                    Mode::Open { profile, .. } => profile.rate_at(t, 30.0),
                    Mode::Closed { .. } => 0.0,
                })
                .sum();
            assert!((sum - spike.rate_at(t, 30.0)).abs() < 1e-9, "t {t}: {sum}");
        }
        let reqs: Vec<Option<u64>> = shares.iter().map(|s| s.max_requests).collect();
        assert_eq!(reqs, [Some(4), Some(3), Some(3)]);
    }

    #[test]
    fn a_closed_loop_too_small_to_split_is_refused_by_name() {
        let p = plan(Mode::Closed { concurrency: 5 }, None);
        let c: Vec<Mode> = (0..2).map(|i| share(&p, i, 2).unwrap().mode).collect();
        assert_eq!(
            c,
            [
                Mode::Closed { concurrency: 3 },
                Mode::Closed { concurrency: 2 }
            ]
        );
        let e = share(&p, 0, 6).unwrap_err();
        assert!(e.to_string().contains("--concurrency 5"), "{e}");
        let e = check(&Mode::Closed { concurrency: 9 }, Some(2), 3).unwrap_err();
        assert!(e.to_string().starts_with("--requests 2"), "{e}");
        assert_eq!(check(&p.mode, None, 0), Err(ShareError::NoWorkers));
    }
}
