//! Human-friendly durations (`250us`, `2ms`, `1.5s`, `1m`) and sizes (`512KiB`, `32MiB`, `1000`).

use std::time::Duration;

/// Why a duration or size did not parse; each names the text it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error(
        "{0:?} is not a duration: expected a number with a unit such as 500us, 2ms, 1.5s or 1m"
    )]
    NotADuration(String),
    #[error("{text:?} has no unit: write e.g. {number}ms or {number}s")]
    NoDurationUnit { text: String, number: String },
    #[error("{text:?} has an unknown unit {unit:?}: use us, ms, s, m or h")]
    UnknownDurationUnit { text: String, unit: String },
    #[error("{0:?} is not a size: expected bytes, optionally with KiB, MiB or GiB")]
    NotASize(String),
    #[error("{text:?} has an unknown unit {unit:?}: use KiB, MiB or GiB")]
    UnknownSizeUnit { text: String, unit: String },
    #[error("{0:?} must be above zero")]
    Zero(String),
    #[error("{0:?} is out of range")]
    OutOfRange(String),
}

pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| UnitError::NotADuration(s.to_owned()))?;
    let scale = match unit.trim() {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "" => {
            return Err(UnitError::NoDurationUnit {
                text: s.to_owned(),
                number: num.to_owned(),
            });
        }
        other => {
            return Err(UnitError::UnknownDurationUnit {
                text: s.to_owned(),
                unit: other.to_owned(),
            });
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || secs > 1e9 {
        return Err(UnitError::OutOfRange(s.to_owned()));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn parse_size(s: &str) -> Result<usize, UnitError> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: usize = num.parse().map_err(|_| UnitError::NotASize(s.to_owned()))?;
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        other => {
            return Err(UnitError::UnknownSizeUnit {
                text: s.to_owned(),
                unit: other.to_owned(),
            });
        }
    };
    match value.checked_mul(scale) {
        Some(0) => Err(UnitError::Zero(s.to_owned())),
        Some(n) => Ok(n),
        None => Err(UnitError::OutOfRange(s.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("250us", Some(Duration::from_micros(250))),
            ("2ms", Some(Duration::from_millis(2))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("1m", Some(Duration::from_secs(60))),
            ("0s", Some(Duration::ZERO)),
            ("5", None),
            ("ms", None),
            ("3 weeks", None),
            ("-1s", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input).ok(), *want, "{input}");
        }
    }

    #[test]
    fn sizes() {
        let cases: &[(&str, Option<usize>)] = &[
            ("1000", Some(1000)),
            ("1KiB", Some(1024)),
            ("32MiB", Some(32 << 20)),
            ("0", None),
            ("1TiB", None),
            ("lots", None),
            ("99999999999999999999GiB", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_size(input).ok(), *want, "{input}");
        }
    }
}
