//! Load profiles: the target request rate as a function of time, and the open-loop send
//! schedule that follows it. Pure; the engine only asks "when is the next send?".
use std::fmt;

/// Why a `--profile` cannot be read; the words say how to write it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("profile constant needs --rate R or constant:R")]
    NeedsRate,
    #[error("profile {profile:?}: {what} {value:?} {problem}")]
    Number {
        profile: String,
        what: &'static str,
        value: String,
        problem: &'static str,
    },
    #[error("profile {profile:?}: write {form}")]
    Form { profile: String, form: &'static str },
    #[error("unknown profile {0:?}: constant, ramp:A..B, step:A,B,.. or spike:BASE,PEAK@AT+LEN")]
    Unknown(String),
    #[error("profile {0:?}: the rate is 0 throughout")]
    Zero(String),
}

/// How the target rate (requests per second) changes over the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Profile {
    /// `constant:R` (or `--rate R`): R throughout.
    Constant(f64),
    /// `ramp:A..B`: linearly from A to B over the whole duration.
    Ramp { from: f64, to: f64 },
    /// `step:A,B,C`: equal-length steps at each rate, in order.
    Step(Vec<f64>),
    /// `spike:BASE,PEAK@AT+LEN`: BASE, except PEAK from AT for LEN seconds.
    Spike {
        base: f64,
        peak: f64,
        at: f64,
        len: f64,
    },
}

impl Profile {
    /// Parses a profile; `rate` is the `--rate` that `constant` takes.
    pub fn parse(s: &str, rate: Option<f64>) -> Result<Profile, ProfileError> {
        let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
        let num = |v: &str, what: &'static str| -> Result<f64, ProfileError> {
            let bad = |problem| ProfileError::Number {
                profile: s.to_string(),
                what,
                value: v.to_string(),
                problem,
            };
            let x: f64 = v.trim().parse().map_err(|_| bad("is not a number"))?;
            if !x.is_finite() || x < 0.0 {
                return Err(bad("must be 0 or more"));
            }
            Ok(x)
        };
        let form = |form: &'static str| ProfileError::Form {
            profile: s.to_string(),
            form,
        };
        let p = match kind {
            "constant" => match (arg, rate) {
                ("", Some(r)) => Profile::Constant(r),
                ("", None) => return Err(ProfileError::NeedsRate),
                (a, _) => Profile::Constant(num(a, "rate")?),
            },
            "ramp" => {
                let (a, b) = arg
                    .split_once("..")
                    .ok_or_else(|| form("ramp:FROM..TO, e.g. ramp:10..500"))?;
                Profile::Ramp {
                    from: num(a, "from")?,
                    to: num(b, "to")?,
                }
            }
            "step" => {
                if arg.trim().is_empty() {
                    return Err(form("step:R1,R2,..."));
                }
                let steps = arg
                    .split(',')
                    .map(|v| num(v, "step"))
                    .collect::<Result<Vec<_>, _>>()?;
                Profile::Step(steps)
            }
            "spike" => {
                let err = || form("spike:BASE,PEAK@AT+LEN, e.g. spike:100,1000@30+10");
                let (rates, when) = arg.split_once('@').ok_or_else(err)?;
                let (base, peak) = rates.split_once(',').ok_or_else(err)?;
                let (at, len) = when.split_once('+').ok_or_else(err)?;
                Profile::Spike {
                    base: num(base, "base")?,
                    peak: num(peak, "peak")?,
                    at: num(at.trim_end_matches('s'), "start")?,
                    len: num(len.trim_end_matches('s'), "length")?,
                }
            }
            other => return Err(ProfileError::Unknown(other.to_string())),
        };
        if p.peak() <= 0.0 {
            return Err(ProfileError::Zero(s.to_string()));
        }
        Ok(p)
    }

    /// The same shape at `f` times the rate (one worker's share of a run split `1/f` ways).
    pub fn scaled(&self, f: f64) -> Profile {
        match self {
            Profile::Constant(r) => Profile::Constant(r * f),
            Profile::Ramp { from, to } => Profile::Ramp {
                from: from * f,
                to: to * f,
            },
            Profile::Step(steps) => Profile::Step(steps.iter().map(|r| r * f).collect()),
            Profile::Spike {
                base,
                peak,
                at,
                len,
            } => Profile::Spike {
                base: base * f,
                peak: peak * f,
                at: *at,
                len: *len,
            },
        }
    }

    /// The target rate `t` seconds into a run of `duration` seconds.
    pub fn rate_at(&self, t: f64, duration: f64) -> f64 {
        match self {
            Profile::Constant(r) => *r,
            Profile::Ramp { from, to } => {
                let f = if duration > 0.0 {
                    (t / duration).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                from + (to - from) * f
            }
            Profile::Step(steps) => {
                let n = steps.len();
                let i = if duration > 0.0 {
                    ((t / duration) * n as f64).floor() as usize
                } else {
                    0
                };
                steps[i.min(n - 1)]
            }
            Profile::Spike {
                base,
                peak,
                at,
                len,
            } => {
                if t >= *at && t < at + len {
                    *peak
                } else {
                    *base
                }
            }
        }
    }

    /// The highest rate the profile asks for.
    pub fn peak(&self) -> f64 {
        match self {
            Profile::Constant(r) => *r,
            Profile::Ramp { from, to } => from.max(*to),
            Profile::Step(s) => s.iter().cloned().fold(0.0, f64::max),
            Profile::Spike { base, peak, .. } => base.max(*peak),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Profile::Constant(r) => write!(f, "constant:{r}"),
            Profile::Ramp { from, to } => write!(f, "ramp:{from}..{to}"),
            Profile::Step(s) => {
                let v: Vec<String> = s.iter().map(|x| x.to_string()).collect();
                write!(f, "step:{}", v.join(","))
            }
            Profile::Spike {
                base,
                peak,
                at,
                len,
            } => write!(f, "spike:{base},{peak}@{at}+{len}"),
        }
    }
}

/// Open-loop send times: the first request at 0, then each when the integral of the rate
/// since the previous one reaches 1. Flat stretches are solved exactly; ramps are
/// integrated in small steps. A stretch at rate 0 sends nothing.
#[derive(Debug, Clone)]
pub struct Schedule {
    profile: Profile,
    duration: f64,
    t: f64,
    started: bool,
}

/// Integration step on ramps (seconds).
const DT: f64 = 1e-4;

impl Schedule {
    pub fn new(profile: Profile, duration: f64) -> Schedule {
        Schedule {
            profile,
            duration,
            t: 0.0,
            started: false,
        }
    }

    /// The next send time (seconds from the start), or `None` past the duration.
    pub fn next_due(&mut self) -> Option<f64> {
        if !self.started {
            self.started = true;
            if self.profile.rate_at(0.0, self.duration) > 0.0 {
                return Some(0.0);
            }
        }
        let mut need = 1.0;
        while self.t < self.duration {
            let r = self.profile.rate_at(self.t, self.duration);
            match self.flat_until(self.t) {
                Some(end) => {
                    if r > 0.0 && self.t + need / r <= end {
                        self.t += need / r;
                        return (self.t < self.duration - 1e-9).then_some(self.t);
                    }
                    need -= r * (end - self.t);
                    self.t = end;
                }
                None => {
                    let mid = self.profile.rate_at(self.t + DT / 2.0, self.duration);
                    need -= mid * DT;
                    self.t += DT;
                    if need <= 0.0 {
                        return (self.t < self.duration - 1e-9).then_some(self.t);
                    }
                }
            }
        }
        None
    }

    /// Where the rate stops being constant after `t` (`None` on a ramp).
    fn flat_until(&self, t: f64) -> Option<f64> {
        let d = self.duration;
        let end = match &self.profile {
            Profile::Constant(_) => d,
            Profile::Ramp { from, to } if from == to => d,
            Profile::Ramp { .. } => return None,
            Profile::Step(s) => {
                let n = s.len() as f64;
                ((t / d * n).floor() + 1.0) * d / n
            }
            Profile::Spike { at, len, .. } => {
                [*at, at + len].into_iter().find(|e| *e > t).unwrap_or(d)
            }
        };
        // never stall on a boundary that rounding put at or before t
        Some(end.min(d).max(t + DT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sends(p: &str, rate: Option<f64>, duration: f64) -> Vec<f64> {
        let mut s = Schedule::new(Profile::parse(p, rate).unwrap(), duration);
        std::iter::from_fn(|| s.next_due()).collect()
    }

    fn count_in(v: &[f64], a: f64, b: f64) -> usize {
        v.iter().filter(|t| **t >= a && **t < b).count()
    }

    #[test]
    fn parses_every_profile_and_names_what_is_wrong() {
        let table: &[(&str, Option<f64>, Result<Profile, &str>)] = &[
            ("constant", Some(50.0), Ok(Profile::Constant(50.0))),
            ("constant:20", None, Ok(Profile::Constant(20.0))),
            (
                "ramp:10..500",
                None,
                Ok(Profile::Ramp {
                    from: 10.0,
                    to: 500.0,
                }),
            ),
            (
                "step:100,200,400",
                None,
                Ok(Profile::Step(vec![100.0, 200.0, 400.0])),
            ),
            (
                "spike:100,1000@30+10",
                None,
                Ok(Profile::Spike {
                    base: 100.0,
                    peak: 1000.0,
                    at: 30.0,
                    len: 10.0,
                }),
            ),
            ("constant", None, Err("needs --rate")),
            ("ramp:10-500", None, Err("ramp:FROM..TO")),
            ("step:", None, Err("step:R1,R2")),
            ("step:1,x", None, Err("\"x\" is not a number")),
            ("spike:100@3", None, Err("spike:BASE,PEAK@AT+LEN")),
            ("constant:-5", None, Err("must be 0 or more")),
            ("constant:0", None, Err("the rate is 0 throughout")),
            ("sine:3", None, Err("unknown profile \"sine\"")),
        ];
        for (s, rate, want) in table {
            let got = Profile::parse(s, *rate);
            match (want, &got) {
                (Ok(p), Ok(g)) => assert_eq!(p, g, "{s}"),
                (Err(frag), Err(e)) => assert!(e.to_string().contains(frag), "{s}: {e}"),
                _ => panic!("{s}: {got:?}"),
            }
        }
    }

    #[test]
    fn rates_over_time() {
        let table: &[(&str, f64, f64)] = &[
            // (profile, t of a 100 s run, rate)
            ("constant:7", 99.0, 7.0),
            ("ramp:0..100", 0.0, 0.0),
            ("ramp:0..100", 25.0, 25.0),
            ("ramp:100..0", 75.0, 25.0),
            ("ramp:0..100", 150.0, 100.0),
            ("step:1,2,4,8", 24.9, 1.0),
            ("step:1,2,4,8", 25.0, 2.0),
            ("step:1,2,4,8", 99.9, 8.0),
            ("spike:10,50@30+10", 29.9, 10.0),
            ("spike:10,50@30+10", 30.0, 50.0),
            ("spike:10,50@30+10", 40.0, 10.0),
        ];
        for (p, t, want) in table {
            let got = Profile::parse(p, None).unwrap().rate_at(*t, 100.0);
            assert!((got - want).abs() < 1e-9, "{p} at {t}: {got} != {want}");
        }
    }

    #[test]
    fn constant_rate_sends_exactly_rate_times_duration_evenly() {
        let v = sends("constant", Some(100.0), 2.0);
        assert_eq!(v.len(), 200);
        assert_eq!(v[0], 0.0);
        for w in v.windows(2) {
            assert!(((w[1] - w[0]) - 0.01).abs() < 1e-9, "{w:?}");
        }
        assert_eq!(sends("constant:5000", None, 1.0).len(), 5000);
    }

    #[test]
    fn ramp_and_steps_send_the_integral_of_the_rate() {
        // ramp 0..100 over 10 s: area 500
        let v = sends("ramp:0..100", None, 10.0);
        assert!((v.len() as i64 - 500).abs() <= 2, "{}", v.len());
        // a ramp sends more in its second half (area 125 vs 375)
        assert!((count_in(&v, 0.0, 5.0) as i64 - 125).abs() <= 2);
        // steps 10, 30 over 4 s: 20 + 60
        let v = sends("step:10,30", None, 4.0);
        assert!((count_in(&v, 0.0, 2.0) as i64 - 20).abs() <= 1, "{v:?}");
        assert!((count_in(&v, 2.0, 4.0) as i64 - 60).abs() <= 1, "{v:?}");
    }

    #[test]
    fn a_spike_sends_at_its_peak_only_inside_its_window() {
        let v = sends("spike:10,100@2+1", None, 5.0);
        assert!((count_in(&v, 0.0, 2.0) as i64 - 20).abs() <= 1);
        assert!((count_in(&v, 2.0, 3.0) as i64 - 100).abs() <= 1);
        assert!((count_in(&v, 3.0, 5.0) as i64 - 20).abs() <= 1);
        // zero base: nothing outside the spike
        let v = sends("spike:0,50@1+1", None, 3.0);
        assert_eq!(count_in(&v, 0.0, 1.0), 0, "{v:?}");
        assert!((count_in(&v, 1.0, 2.0) as i64 - 50).abs() <= 1);
        assert_eq!(count_in(&v, 2.0, 3.0), 0);
    }
}
