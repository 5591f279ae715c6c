//! Kubernetes resource quantities ("250m", "1Gi", "2e3") as numbers.

/// Parses a Kubernetes quantity into its value in base units
/// (cores for CPU, bytes for memory, plain numbers for custom metrics).
pub fn parse(q: &str) -> Option<f64> {
    let s = q.trim();
    if s.is_empty() {
        return None;
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let base: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => 10f64.powi(exp[1..].parse::<i32>().ok()?),
        _ => return None,
    };
    let v = base * mult;
    v.is_finite().then_some(v)
}

/// A short human form of a plain number: `1.5`, `250m`, `12k`.
pub fn short(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a < 1.0 {
        trim(format!("{:.1}", v * 1e3)) + "m"
    } else if a < 1e4 {
        trim(format!("{v:.2}"))
    } else if a < 1e7 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else {
        trim(format!("{:.1}", v / 1e6)) + "M"
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_suffix() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1", Some(1.0)),
            ("250m", Some(0.25)),
            ("1500m", Some(1.5)),
            ("100n", Some(1e-7)),
            ("5u", Some(5e-6)),
            ("2k", Some(2000.0)),
            ("3M", Some(3e6)),
            ("1Ki", Some(1024.0)),
            ("128Mi", Some(134_217_728.0)),
            ("1Gi", Some(1_073_741_824.0)),
            ("1.5", Some(1.5)),
            ("2e3", Some(2000.0)),
            ("1E-2", Some(0.01)),
            (" 7 ", Some(7.0)),
            ("", None),
            ("abc", None),
            ("1Qi", None),
            ("1e", None),
        ];
        for (q, want) in cases {
            match (parse(q), want) {
                (Some(got), Some(w)) => {
                    assert!((got - w).abs() <= w.abs() * 1e-12, "{q}: {got} != {w}")
                }
                (got, w) => assert_eq!(got, *w, "{q}"),
            }
        }
    }

    #[test]
    fn short_forms() {
        assert_eq!(short(0.25), "250m");
        assert_eq!(short(0.0), "0");
        assert_eq!(short(1.5), "1.5");
        assert_eq!(short(3.0), "3");
        assert_eq!(short(12_000.0), "12k");
        assert_eq!(short(f64::NAN), "-");
    }
}
