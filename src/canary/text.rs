//! Values as the text a person writes, in and out: durations (`90s`, `2m`), timestamps
//! (RFC 3339), SLOs (`p99<250ms`) and the comparison's settings. The saved plan and lease
//! (annotations) use these so that `kubectl get -o yaml` reads like the flags.
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cli::values::parse_duration;

/// The largest unit the duration is a whole number of (`2h`, `90m`, `45s`, `250ms`), in the
/// form [`parse_duration`] reads back; below a millisecond, fractional milliseconds.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        return format!("{}ms", d.as_secs_f64() * 1000.0);
    }
    match ms {
        0 => "0s".into(),
        ms if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        ms if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        ms if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

pub mod as_duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

pub mod as_timestamp {
    use jiff::Timestamp;

    use super::*;

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// SLOs as their texts (`Slo` serializes so already; reading one back parses it).
pub mod as_slos {
    use tractor_metrics::canary::Slo;

    use super::*;

    pub fn serialize<S: Serializer>(slos: &[Slo], s: S) -> Result<S::Ok, S::Error> {
        slos.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Slo>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| t.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}

/// The comparison as `{confidence, min_effect}`, checked by `Compare::new` when read.
pub mod as_compare {
    use tractor_metrics::canary::Compare;

    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        confidence: f64,
        min_effect: f64,
    }

    pub fn serialize<S: Serializer>(c: &Option<Compare>, s: S) -> Result<S::Ok, S::Error> {
        c.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Compare>, D::Error> {
        Option::<Settings>::deserialize(d)?
            .map(|c| Compare::new(c.confidence, c.min_effect).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_in_their_largest_whole_unit_and_read_back() {
        for (d, text) in [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(45), "45s"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(5400), "90m"),
            (Duration::from_secs(7200), "2h"),
        ] {
            assert_eq!(duration(d), text);
            assert_eq!(parse_duration(text), Ok(d), "{text}");
        }
        assert_eq!(duration(Duration::from_micros(1500)), "1.5ms");
    }
}
