//! End-to-end: the canary from the console, the real binary in tmux against the real control
//! plane, with real servers on the pod IPs and steady load: `c`, the flags, the preview, `y`;
//! the monitor's canary line and verdict markers; a good version promoted, the slow v3
//! rolled back by itself, and one aborted by hand with `a`.
use super::common::*;
use crate::support;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::cluster::{Namespace, cluster, eventually, record_timing};
use support::pod_runner::PodRunner;
use support::tmux::Tmux;
use support::traffic::Traffic;

const W: Duration = Duration::from_secs(90);

/// `c`, the prompt cleared (ctrl-u) and `flags` typed, Enter, the preview, `y`.
fn start_canary(t: &Tmux, flags: &str) {
    t.keys(&["c"]);
    t.wait_for("canary of deploy/classifier:", W);
    t.keys(&["C-u"]);
    // a leading space: tmux would read text that starts with "--" as its own flags
    t.keys(&["-l", &format!(" {flags}")]);
    t.keys(&["Enter"]);
    let preview = t.wait_for("Confirm canary", W);
    assert!(
        preview.contains("server-side dry run accepted"),
        "{preview}"
    );
    t.keys(&["y"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_runs_promotes_rolls_back_and_aborts_a_canary() {
    let started = Instant::now();
    let k = cluster();
    let ns = Namespace::new(k, "e2e-canary-tui");
    let n = ns.name.clone();
    k.kubectl_stdin(&["apply", "-n", &n, "-f", "-"], Some(MANIFEST));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tractor.toml");
    std::fs::write(&cfg, POD_IP_SCRAPE).unwrap();
    let client = k.client().await;
    let pods = Arc::new(PodRunner::start(&client, &n));
    eventually(T, "two stable servers", || {
        (pods.served().len() >= 2).then_some(())
    })
    .await;
    let traffic = Traffic::bounded(pods.clone(), Duration::from_secs(300), 1_000_000);

    let t = Tmux::start("canary");
    t.line(&format!(
        "{} --kubeconfig {} --config {} --audit-log {} --log-file {} -n {n}",
        env!("CARGO_BIN_EXE_tractor"),
        k.kubeconfig.display(),
        cfg.display(),
        dir.path().join("audit.jsonl").display(),
        dir.path().join("tractor.log").display(),
    ));
    t.wait_for("classifier", W);
    let flags = |model: &str, extra: &str| {
        format!(
            "--model {model} --steps 1,100% --interval 4s --slo 'p50<50ms' --compare --progress-deadline 60s{extra}"
        )
    };

    // a version as fast as the stable: every window passes, it is promoted
    start_canary(&t, &flags("v1.1", ""));
    t.keys(&["l"]);
    let screen = t.wait_for("canary  v1.1 · step", W);
    assert!(screen.contains("driven by"), "{screen}");
    let screen = t.wait_for("✓ step 1 pass", W);
    assert!(screen.contains("last window PASS"), "{screen}");
    t.wait_for("canary  promoted", W);

    // v3, clearly slower: its first window fails and it is rolled back by itself
    start_canary(&t, &flags("v3", ""));
    let screen = t.wait_for("canary  rolled back: 1 failed windows", W);
    assert!(screen.contains("✗ step 1 fail"), "{screen}");

    // a person aborts one that is passing: a, the dialog, y
    start_canary(&t, &flags("v1.2", " --windows-per-step 20"));
    t.wait_for("canary  v1.2 · step 1/2", W);
    t.wait_for("last window PASS", W);
    t.keys(&["a"]);
    let dialog = t.wait_for("Confirm canary", W);
    assert!(
        dialog.contains("deploy/classifier is not changed"),
        "{dialog}"
    );
    t.keys(&["y"]);
    t.wait_for("canary  rolled back: aborted by hand", W);
    t.keys(&["q"]);

    let model = k.kubectl(&[
        "get",
        "deploy",
        "classifier",
        "-n",
        &n,
        "-o",
        "jsonpath={.spec.template.metadata.labels.tractor\\.dev/model-version}",
    ]);
    assert_eq!(model, "v1.1", "promoted once, then rolled back and aborted");
    let (answered, failed) = traffic.finish().await;
    println!(
        "requests across the console's promotion, rollback and abort: {answered} answered, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    record_timing(
        "the_console_runs_promotes_rolls_back_and_aborts_a_canary",
        started,
    );
}
