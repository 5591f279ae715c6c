use super::*;

const INF: f64 = f64::INFINITY;

fn b(le: f64, count: f64) -> Bucket {
    Bucket { le, count }
}

fn slo(s: &str) -> Slo {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn pct(ppm: u32) -> Percentile {
    Percentile::from_ppm(ppm).unwrap()
}

#[test]
fn parses_the_documented_forms() {
    let ms = |value| Latency {
        value,
        unit: TimeUnit::Ms,
    };
    let cases = [
        (
            "p99<250ms",
            Slo::Latency {
                percentile: pct(990_000),
                cmp: Cmp::Lt,
                bound: ms(250.0),
            },
        ),
        (
            "p50<=10ms",
            Slo::Latency {
                percentile: pct(500_000),
                cmp: Cmp::Le,
                bound: ms(10.0),
            },
        ),
        (
            "errors<1%",
            Slo::Errors {
                cmp: Cmp::Lt,
                percent: 1.0,
            },
        ),
        (
            " P99.9 ≤ 1.5 s ",
            Slo::Latency {
                percentile: pct(999_000),
                cmp: Cmp::Le,
                bound: Latency {
                    value: 1.5,
                    unit: TimeUnit::S,
                },
            },
        ),
        (
            "p90<800µs",
            Slo::Latency {
                percentile: pct(900_000),
                cmp: Cmp::Lt,
                bound: Latency {
                    value: 800.0,
                    unit: TimeUnit::Us,
                },
            },
        ),
        (
            "errors <= 0.5 %",
            Slo::Errors {
                cmp: Cmp::Le,
                percent: 0.5,
            },
        ),
        (
            "errors<=0%",
            Slo::Errors {
                cmp: Cmp::Le,
                percent: 0.0,
            },
        ),
    ];
    for (text, want) in cases {
        assert_eq!(slo(text), want, "{text}");
    }
}

#[test]
fn prints_back_what_parses_to_the_same() {
    for text in [
        "p99<250ms",
        "p50<=10ms",
        "errors<1%",
        "errors<=0.25%",
        "p99.95<2s",
        "p99.9999<100us",
        "p1<7ns",
        "p90<0.5ms",
    ] {
        assert_eq!(slo(text).to_string(), text);
        assert_eq!(slo(&slo(text).to_string()), slo(text), "{text}");
    }
    // other spellings print in the canonical one
    assert_eq!(slo(" P99.90 ≤ 1 µs").to_string(), "p99.9<=1us");
}

#[test]
fn bad_texts_name_what_was_wrong() {
    let s = |x: &str| x.to_string();
    let cases = [
        ("", SloError::Empty),
        ("  ", SloError::Empty),
        (
            "p99 250ms",
            SloError::NoUpperBound {
                slo: s("p99 250ms"),
            },
        ),
        (
            "p99>250ms",
            SloError::NoUpperBound {
                slo: s("p99>250ms"),
            },
        ),
        (
            "p99=250ms",
            SloError::NoUpperBound {
                slo: s("p99=250ms"),
            },
        ),
        (
            "p99>=250ms",
            SloError::NoUpperBound {
                slo: s("p99>=250ms"),
            },
        ),
        (
            "latency<250ms",
            SloError::UnknownMetric {
                slo: s("latency<250ms"),
                metric: s("latency"),
            },
        ),
        (
            "<250ms",
            SloError::UnknownMetric {
                slo: s("<250ms"),
                metric: s(""),
            },
        ),
        (
            "p100<1s",
            SloError::BadPercentile {
                slo: s("p100<1s"),
                percentile: s("p100"),
            },
        ),
        (
            "p0<1s",
            SloError::BadPercentile {
                slo: s("p0<1s"),
                percentile: s("p0"),
            },
        ),
        (
            "p99.99999<1s",
            SloError::BadPercentile {
                slo: s("p99.99999<1s"),
                percentile: s("p99.99999"),
            },
        ),
        (
            "p99.<1s",
            SloError::BadPercentile {
                slo: s("p99.<1s"),
                percentile: s("p99."),
            },
        ),
        (
            "pxx<1s",
            SloError::BadPercentile {
                slo: s("pxx<1s"),
                percentile: s("pxx"),
            },
        ),
        (
            "p99<ms",
            SloError::BadNumber {
                slo: s("p99<ms"),
                number: s(""),
            },
        ),
        (
            "p99<1.2.3ms",
            SloError::BadNumber {
                slo: s("p99<1.2.3ms"),
                number: s("1.2.3"),
            },
        ),
        (
            "p99<-5ms",
            SloError::OutOfRange {
                slo: s("p99<-5ms"),
                why: "a bound is not negative",
            },
        ),
        (
            "latency<ms",
            SloError::UnknownMetric {
                slo: s("latency<ms"),
                metric: s("latency"),
            },
        ),
        (
            "p99<250",
            SloError::LatencyUnit {
                slo: s("p99<250"),
                unit: s(""),
            },
        ),
        (
            "p99<250min",
            SloError::LatencyUnit {
                slo: s("p99<250min"),
                unit: s("min"),
            },
        ),
        (
            "errors<0.01",
            SloError::ErrorsUnit {
                slo: s("errors<0.01"),
                unit: s(""),
            },
        ),
        (
            "errors<1ms",
            SloError::ErrorsUnit {
                slo: s("errors<1ms"),
                unit: s("ms"),
            },
        ),
        (
            "errors<101%",
            SloError::OutOfRange {
                slo: s("errors<101%"),
                why: "an error rate is at most 100%",
            },
        ),
        (
            "p99<0ms",
            SloError::OutOfRange {
                slo: s("p99<0ms"),
                why: "no window is below 0",
            },
        ),
    ];
    for (text, want) in cases {
        let got = text.parse::<Slo>().unwrap_err();
        assert_eq!(got, want, "{text}");
        // the message quotes the text it was given
        if !text.trim().is_empty() {
            assert!(got.to_string().contains(text.trim()), "{got}");
        }
    }
}

#[test]
fn data_needed_is_ten_above_the_quantile() {
    // ⌈10 / (1 − q)⌉ from the definition, in floating point, where it is exact enough:
    // nudged down by a hair so that 1000.0000000000001 (0.99's rounding) counts as 1000
    for ppm in [
        500_000, 900_000, 950_000, 970_000, 990_000, 999_000, 999_900, 10_000,
    ] {
        let q = f64::from(ppm) / 1e6;
        let want = (10.0 / (1.0 - q) - 1e-6).ceil() as u64;
        assert_eq!(pct(ppm).min_observations(), want, "ppm {ppm}");
    }
    assert_eq!(slo("p99<1s").min_requests(), 1000);
    assert_eq!(slo("errors<1%").min_requests(), 1);
}

#[test]
fn checks_latency_against_the_interpolated_quantile() {
    // 1000 observations: 900 ≤ 0.1 s, 990 ≤ 0.25 s, 1000 ≤ 0.5 s: p99 ≈ 0.25 s, p50 ≈ 0.056 s
    let h = [
        b(0.1, 900.0),
        b(0.25, 990.0),
        b(0.5, 1000.0),
        b(INF, 1000.0),
    ];
    let c = Counts {
        requests: 1000.0,
        errors: 0.0,
    };
    let p99 = quantile(0.99, &h).value().unwrap();
    let p50 = quantile(0.5, &h).value().unwrap();
    assert!((0.249..0.251).contains(&p99) && (0.01..0.06).contains(&p50));
    let met = |v| SloOutcome::Met {
        observed: Observed::Value(v),
    };
    let violated = |v| SloOutcome::Violated {
        observed: Observed::Value(v),
    };
    let cases = [
        ("p99<249ms", violated(p99)),
        ("p99<251ms", met(p99)),
        ("p99<=0.3s", met(p99)),
        ("p50<=10ms", violated(p50)),
        ("p50<60000us", met(p50)),
    ];
    for (text, want) in cases {
        assert_eq!(slo(text).check(&h, c), want, "{text}");
    }
}

#[test]
fn a_quantile_past_the_last_bound_fails_only_when_the_bound_says_so() {
    // 20 of 100 above the highest finite bound, 0.1 s
    let h = [b(0.05, 50.0), b(0.1, 80.0), b(INF, 100.0)];
    let c = Counts {
        requests: 100.0,
        errors: 0.0,
    };
    assert_eq!(
        slo("p90<100ms").check(&h, c),
        SloOutcome::Violated {
            observed: Observed::Above(0.1)
        }
    );
    assert_eq!(
        slo("p90<50ms").check(&h, c),
        SloOutcome::Violated {
            observed: Observed::Above(0.1)
        }
    );
    // above 0.1 s: could be under 250 ms or not
    assert_eq!(
        slo("p90<250ms").check(&h, c),
        SloOutcome::Unknown {
            why: Unknown::AboveHighestBound(0.1)
        }
    );
    let empty = [b(0.1, 0.0), b(INF, 0.0)];
    assert_eq!(
        slo("p90<250ms").check(&empty, c),
        SloOutcome::Unknown {
            why: Unknown::NoObservations
        }
    );
    assert!(matches!(
        slo("p90<250ms").check(&[b(0.1, 3.0)], c),
        SloOutcome::Unknown {
            why: Unknown::Histogram(_)
        }
    ));
}

#[test]
fn checks_errors_without_rounding() {
    let c = |requests, errors| Counts { requests, errors };
    let met = |rate| SloOutcome::Met {
        observed: Observed::Value(rate),
    };
    let violated = |rate| SloOutcome::Violated {
        observed: Observed::Value(rate),
    };
    // 7 of 700 is exactly 1%; as floats 7/700 and 1/100 need not compare equal
    assert_eq!(
        slo("errors<1%").check(&[], c(700.0, 7.0)),
        violated(7.0 / 700.0)
    );
    assert_eq!(
        slo("errors<=1%").check(&[], c(700.0, 7.0)),
        met(7.0 / 700.0)
    );
    assert_eq!(slo("errors<1%").check(&[], c(700.0, 6.0)), met(6.0 / 700.0));
    assert_eq!(slo("errors<=0%").check(&[], c(700.0, 0.0)), met(0.0));
    assert_eq!(
        slo("errors<=0%").check(&[], c(700.0, 1.0)),
        violated(1.0 / 700.0)
    );
    assert_eq!(
        slo("errors<1%").check(&[], c(0.0, 0.0)),
        SloOutcome::Unknown {
            why: Unknown::NoRequests
        }
    );
}
