use super::*;

fn summary(p99: Option<f64>, requests: u64, errors: u64) -> Summary {
    Summary {
        mode: "open loop, constant:100".into(),
        urls: vec!["http://127.0.0.1:1/".into()],
        http: "HTTP/1.1",
        duration_s: 1.0,
        sent: requests,
        requests,
        errors,
        target_rate: Some(100.0),
        achieved_rate: 99.0,
        throughput: 98.0,
        p50: p99.map(|p| p / 2.0),
        p90: p99,
        p99,
        p999: p99,
        max: p99,
        mean: p99,
        from_schedule: [p99; 3],
        statuses: vec![(200, requests - errors)],
        failures: vec![],
        generator: Health {
            lag_p99_ms: Some(0.05),
            lag_max_ms: Some(0.2),
            max_lag_ms: 1.0,
            read_wait_p99_ms: Some(0.03),
            read_wait_max_ms: Some(0.9),
            slot_waits: 0,
            sent: requests,
            max_in_flight: Some(1000),
            cpu_cores: Some(0.3),
            cores: 2,
            sender_priority: Some(crate::load::engine::Applied::Idle),
        },
        workers: vec![],
    }
}

#[test]
fn slo_verdicts() {
    let slo = Slo {
        p99_ms: Some(250.0),
        error_rate: Some(0.01),
    };
    let table: &[(Option<f64>, u64, u64, &[&str])] = &[
        (Some(120.0), 1000, 0, &[]),
        (Some(250.0), 1000, 10, &[]),
        (Some(250.1), 1000, 0, &["p99 250.1 ms > 250 ms"]),
        (Some(10.0), 1000, 11, &["error rate 1.100% > 1.000%"]),
        (None, 0, 0, &["no request was answered"]),
    ];
    for (p99, n, e, want) in table {
        let got = summary(*p99, *n, *e).missed(&slo);
        assert_eq!(got.len(), want.len(), "{p99:?} {n} {e}: {got:?}");
        for (g, w) in got.iter().zip(want.iter()) {
            assert!(g.contains(w), "{g} vs {w}");
        }
    }
    assert!(
        summary(Some(1e6), 10, 10)
            .missed(&Slo::default())
            .is_empty()
    );
}

#[test]
fn json_has_the_fields_scripts_read() {
    let j = summary(Some(12.5), 100, 1).to_json(&Slo {
        p99_ms: Some(10.0),
        error_rate: None,
    });
    assert_eq!(j["requests"], 100);
    assert_eq!(j["errors"], 1);
    assert_eq!(j["achieved_rate"], 99.0);
    assert_eq!(j["latency_ms"]["p99"], 12.5);
    assert!(j["latency_ms"]["p999"].is_number());
    assert!(j["latency_ms"]["p90"].is_number() && j["latency_ms"]["p50"].is_number());
    assert_eq!(j["statuses"]["200"], 99);
    assert_eq!(j["slo"]["missed"][0], "p99 12.5 ms > 10 ms");
    assert_eq!(j["generator"]["lag_ms"]["p99"], 0.05);
    assert_eq!(j["generator"]["read_wait_ms"]["p99"], 0.03);
    assert_eq!(j["generator"]["lagged"], false);
    assert_eq!(j["generator"]["sender_priority"], "idle");
}

#[test]
fn a_lagging_generator_is_said_in_the_line_the_table_and_the_json() {
    let mut s = summary(Some(3.0), 100, 0);
    assert!(!s.line(&Slo::default()).contains('⚠'));
    let http = s.http;
    assert!(
        s.line(&Slo::default())
            .starts_with(&format!("100 {http} requests, ")),
        "the line names the protocol: {}",
        s.line(&Slo::default())
    );
    s.generator.lag_p99_ms = Some(2.5);
    let line = s.line(&Slo::default());
    assert!(
        line.ends_with("; ⚠ generator lagged: p99 2.50 ms late"),
        "{line}"
    );
    let table = s.table();
    assert!(
        table.contains("generator      gen lag p99 2.50 ms · read wait p99 0.03 ms · cpu 0.30/2 · senders at idle priority"),
        "{table}"
    );
    assert!(
        table.contains("⚠              the generator lagged"),
        "{table}"
    );
    let j = s.to_json(&Slo::default());
    assert_eq!(j["generator"]["lagged"], true);
    assert!(
        j["generator"]["problems"][0]
            .as_str()
            .unwrap()
            .contains("lagged")
    );
}

#[test]
fn failures_are_named_by_kind() {
    let mut s = summary(None, 3, 3);
    s.statuses.clear();
    s.failures = vec![(Failure::Connect, 2), (Failure::Timeout, 1)];
    let j = s.to_json(&Slo::default());
    assert_eq!(j["failures"]["connect"], 2);
    assert_eq!(j["failures"]["timeout"], 1);
    assert!(
        s.table().contains("no answer      connect: 2, timeout: 1"),
        "{}",
        s.table()
    );
}
