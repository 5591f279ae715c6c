//! How far back the logs view reads each container when it (re)starts: the last N lines,
//! the lines since a while ago, or all the runtime kept. Typed at the view's `since/tail`
//! prompt as `200`, `5m` (`90s`, `1.5h`) or `all`.
use std::time::Duration;

use super::Options;
use crate::cli::values::{ValueError, parse_duration};

/// Lines one container may be asked for at most (the view's ring bounds what is kept).
pub const MAX_TAIL: u32 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// The last N lines of each container.
    Tail(u32),
    /// The lines newer than this.
    Since(Duration),
    /// Everything the runtime kept of each container.
    All,
}

/// What is wrong with a typed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("\"{0}\" is not a number of lines (200), a duration (5m, 1h) or all")]
    Unreadable(String),
    #[error("{0} lines is more than one container is asked for (at most {MAX_TAIL})")]
    TooMany(String),
    #[error("since {0}: a duration must be more than zero (5m, 1h)")]
    Zero(String),
}

impl Range {
    /// `text` as typed; empty is the configured tail.
    pub fn parse(text: &str, default_tail: u32) -> Result<Range, RangeError> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Range::Tail(default_tail));
        }
        if t.eq_ignore_ascii_case("all") {
            return Ok(Range::All);
        }
        if t.chars().all(|c| c.is_ascii_digit()) {
            return match t.parse::<u32>() {
                Ok(n) if n <= MAX_TAIL => Ok(Range::Tail(n)),
                _ => Err(RangeError::TooMany(t.into())),
            };
        }
        match parse_duration(t) {
            Ok(d) if d.is_zero() => Err(RangeError::Zero(t.into())),
            Ok(d) => Ok(Range::Since(d)),
            Err(ValueError::DurationOutOfRange(_)) => Err(RangeError::TooMany(t.into())),
            Err(_) => Err(RangeError::Unreadable(t.into())),
        }
    }

    /// As the prompt takes it back: `200`, `5m`, `all`.
    pub fn typed(&self) -> String {
        match self {
            Range::Tail(n) => n.to_string(),
            Range::Since(d) => short(*d),
            Range::All => "all".into(),
        }
    }

    /// As the view's title says it.
    pub fn label(&self) -> String {
        match self {
            Range::Tail(n) => format!("last {n} lines"),
            Range::Since(d) => format!("since {}", short(*d)),
            Range::All => "all lines".into(),
        }
    }

    /// The reader's options for this range.
    pub fn options(&self, previous: bool) -> Options {
        let (since, tail) = match *self {
            Range::Tail(n) => (None, Some(i64::from(n))),
            Range::Since(d) => (Some(d), None),
            Range::All => (None, None),
        };
        Options {
            previous,
            follow: !previous,
            since,
            tail,
        }
    }
}

/// `90s` → `1m30s`, `300s` → `5m`, `5400s` → `1h30m`.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_ranges() {
        let d = |s| Duration::from_secs(s);
        for (typed, want) in [
            ("", Ok(Range::Tail(500))),
            ("  200 ", Ok(Range::Tail(200))),
            ("0", Ok(Range::Tail(0))),
            ("all", Ok(Range::All)),
            ("ALL", Ok(Range::All)),
            ("5m", Ok(Range::Since(d(300)))),
            ("90s", Ok(Range::Since(d(90)))),
            ("1.5h", Ok(Range::Since(d(5400)))),
            ("5 minutes", Err(RangeError::Unreadable("5 minutes".into()))),
            ("-3", Err(RangeError::Unreadable("-3".into()))),
            ("9999999999", Err(RangeError::TooMany("9999999999".into()))),
            ("0s", Err(RangeError::Zero("0s".into()))),
        ] {
            assert_eq!(Range::parse(typed, 500), want, "{typed:?}");
        }
    }

    #[test]
    fn labels_and_the_readers_options() {
        assert_eq!(Range::Tail(500).label(), "last 500 lines");
        assert_eq!(Range::Since(Duration::from_secs(300)).label(), "since 5m");
        assert_eq!(
            Range::Since(Duration::from_secs(5430)).label(),
            "since 1h30m30s"
        );
        assert_eq!(Range::All.label(), "all lines");
        let o = Range::Since(Duration::from_secs(60)).options(false);
        assert_eq!(
            (o.since, o.tail, o.follow),
            (Some(Duration::from_secs(60)), None, true)
        );
        let o = Range::Tail(20).options(true);
        assert_eq!(
            (o.since, o.tail, o.follow, o.previous),
            (None, Some(20), false, true)
        );
        let o = Range::All.options(false);
        assert_eq!((o.since, o.tail), (None, None));
    }
}
