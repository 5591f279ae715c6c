//! The values flags take that clap cannot parse by itself: a share (`0.01`, `1%`), a
//! deployment target (`deploy/NAME`), a duration (`250ms`, `90s`, `10m`, `1h`). Each
//! refusal is a [`ValueError`] that quotes the input and says what to write.
use std::time::Duration;

/// Why a flag's value was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("{0:?} is not a share (write 0.01 or 1%)")]
    NotAShare(String),
    #[error("{0:?} is not between 0 and 100%")]
    ShareOutOfRange(String),
    #[error("\"{input}\": only deployments are supported (deploy/NAME), not {kind}")]
    NotADeployment { input: String, kind: String },
    #[error("\"{0}\" is not a valid deployment name")]
    BadName(String),
    #[error("\"{0}\" is not a duration (e.g. 90s, 10m, 1h)")]
    NotADuration(String),
    #[error("\"{input}\": unknown unit \"{unit}\" (ms, s, m, h)")]
    UnknownUnit { input: String, unit: String },
    #[error("\"{0}\" is out of range")]
    DurationOutOfRange(String),
}

/// `0.01` or `1%`.
pub fn parse_share(s: &str) -> Result<f64, ValueError> {
    let (num, div) = match s.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (s, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| ValueError::NotAShare(s.to_string()))?;
    let v = v / div;
    if !(0.0..=1.0).contains(&v) {
        return Err(ValueError::ShareOutOfRange(s.to_string()));
    }
    Ok(v)
}

/// `deploy/NAME`, `deployment/NAME`, `deployments.apps/NAME` or a bare `NAME`.
pub fn parse_target(s: &str) -> Result<String, ValueError> {
    let name = match s.split_once('/') {
        Some((kind, name)) => match kind {
            "deploy" | "deployment" | "deployments" | "deployment.apps" | "deployments.apps" => {
                name
            }
            other => {
                return Err(ValueError::NotADeployment {
                    input: s.to_string(),
                    kind: other.to_string(),
                });
            }
        },
        None => s,
    };
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !name.starts_with(['-', '.'])
        && !name.ends_with(['-', '.']);
    if valid {
        Ok(name.to_string())
    } else {
        Err(ValueError::BadName(name.to_string()))
    }
}

pub fn parse_duration(s: &str) -> Result<Duration, ValueError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n
        .parse()
        .map_err(|_| ValueError::NotADuration(s.to_string()))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(ValueError::UnknownUnit {
                input: s.to_string(),
                unit: unit.to_string(),
            });
        }
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(ValueError::DurationOutOfRange(s.to_string()));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn targets() {
        assert_eq!(parse_target("deploy/web").unwrap(), "web");
        assert_eq!(parse_target("deployments.apps/web-2").unwrap(), "web-2");
        assert_eq!(parse_target("web").unwrap(), "web");
        assert!(
            parse_target("statefulset/web")
                .unwrap_err()
                .to_string()
                .contains("only deployments")
        );
        assert!(parse_target("deploy/").is_err());
        assert!(parse_target("deploy/Web").is_err());
        assert!(parse_target("deploy/-x").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn shares() {
        assert_eq!(parse_share("1%"), Ok(0.01));
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert_eq!(
            parse_share("150%"),
            Err(ValueError::ShareOutOfRange("150%".into()))
        );
        assert_eq!(
            parse_share("lots").map_err(|e| e.to_string()),
            Err("\"lots\" is not a share (write 0.01 or 1%)".to_string())
        );
    }
}
