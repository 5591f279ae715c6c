//! A run's flags as words: what the load prompt is prefilled with, and what an in-cluster
//! run's workers are started with. Depends on the flags alone, so the plan can use it.
use std::time::Duration;

use crate::cli::LoadtestArgs;

/// The flags that describe the run itself (and its `--json`), as words the prompt takes.
pub fn words_of(a: &LoadtestArgs) -> Vec<String> {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let mut w: Vec<String> = Vec::new();
    for u in &a.urls {
        w.extend(["--url".into(), u.clone()]);
    }
    if let Some(r) = a.rate {
        w.extend(["--rate".into(), r.to_string()]);
    }
    if let Some(c) = a.concurrency {
        w.extend(["--concurrency".into(), c.to_string()]);
    }
    if a.profile != "constant" {
        w.extend(["--profile".into(), a.profile.clone()]);
    }
    w.extend(["--duration".into(), ms(a.duration)]);
    if let Some(n) = a.max_requests {
        w.extend(["--requests".into(), n.to_string()]);
    }
    if let Some(b) = &a.body {
        w.extend(["--body".into(), b.display().to_string()]);
        if a.content_type != "application/json" {
            w.extend(["--content-type".into(), a.content_type.clone()]);
        }
    }
    if let Some(ca) = &a.tls.cacert {
        w.extend(["--cacert".into(), ca.display().to_string()]);
    }
    if a.tls.insecure {
        w.push("--insecure".into());
    }
    if a.grpc {
        w.push("--grpc".into());
    }
    if a.http2 {
        w.push("--http2".into());
    }
    if a.http1_client != crate::load::engine::H1Client::Lean {
        w.extend(["--http1-client".into(), "hyper".into()]);
    }
    if a.max_in_flight != 1000 {
        w.extend(["--max-in-flight".into(), a.max_in_flight.to_string()]);
    }
    if a.max_lag != crate::load::health::DEFAULT_MAX_LAG {
        w.extend([
            "--max-lag".into(),
            format!("{}ms", a.max_lag.as_secs_f64() * 1000.0),
        ]);
    }
    if a.sender_priority != crate::load::engine::SenderPriority::default()
        && let Some(v) = clap::ValueEnum::to_possible_value(&a.sender_priority)
    {
        w.extend(["--sender-priority".into(), v.get_name().to_owned()]);
    }
    if a.timeout != Duration::from_secs(30) {
        w.extend(["--timeout".into(), ms(a.timeout)]);
    }
    if let Some(d) = a.slo_p99 {
        w.extend(["--slo-p99".into(), ms(d)]);
    }
    if let Some(e) = a.slo_error_rate {
        w.extend(["--slo-error-rate".into(), e.to_string()]);
    }
    if let Some(p) = &a.json {
        w.extend(["--json".into(), p.display().to_string()]);
    }
    if let Some(n) = a.workers {
        w.extend(["--workers".into(), n.to_string()]);
    }
    if a.in_cluster {
        w.push("--in-cluster".into());
    }
    if a.worker_image != crate::cli::DEFAULT_WORKER_IMAGE {
        w.extend(["--worker-image".into(), a.worker_image.clone()]);
    }
    w
}

/// The flags an in-cluster run's workers take: the run's, without what only this machine
/// has or does (`--body` goes in the Job's env; `--json` is written here; the Job is
/// already in the cluster).
pub fn worker_words(a: &LoadtestArgs) -> Vec<String> {
    const LOCAL: [(&str, bool); 5] = [
        ("--body", true),
        ("--json", true),
        ("--in-cluster", false),
        ("--worker-image", true),
        ("--cacert", true),
    ];
    let all = words_of(a);
    let mut out = Vec::with_capacity(all.len());
    let mut words = all.into_iter();
    while let Some(w) = words.next() {
        match LOCAL.iter().find(|(flag, _)| *flag == w) {
            Some((_, true)) => {
                words.next();
            }
            Some((_, false)) => {}
            None => out.push(w),
        }
    }
    out
}
