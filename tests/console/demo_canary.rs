//! The demo's canary, the real binary in tmux as the README tells it: `tractor demo`, `c`,
//! `--model v3` (the clearly slower version), the preview, `y`; tractor judges the first
//! window against the stable under the demo's own load and rolls v3 back by itself within a
//! minute, the deployment untouched. Then `q`: no replica outlives the console.
use crate::support;

use std::time::{Duration, Instant};

use support::tmux::Tmux;

const W: Duration = Duration::from_secs(90);

/// The processes `pid` started (the demo's replicas).
fn children(pid: u32) -> Vec<u32> {
    let out = std::process::Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn the_demo_rolls_a_slow_canary_back_by_itself_within_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let t = Tmux::start("demo-canary");
    t.line(&format!(
        "{} --audit-log {} --log-file {} demo --state-dir {} --models {} --serve-bin {}; echo DEMO-EXITED",
        env!("CARGO_BIN_EXE_tractor"),
        d.join("audit.jsonl").display(),
        d.join("tractor.log").display(),
        d.join("state").display(),
        super::local::models().display(),
        support::pod_runner::serve_bin().display(),
    ));
    // the monitor of the demo's deployment, its replicas answering the load
    t.wait_for("monitor deploy/classifier", W);
    t.wait_for("r1 v1 p50", W);

    t.keys(&["c"]);
    t.wait_for("canary of deploy/classifier:", W);
    t.keys(&["C-u"]);
    // a leading space: tmux would read text that starts with "--" as its own flags
    t.keys(&[
        "-l",
        " --model v3 --steps 1,50% --interval 10s --slo 'p50<50ms' --compare",
    ]);
    t.keys(&["Enter"]);
    let preview = t.wait_for("Confirm canary", W);
    assert!(preview.contains("checked by the write rules"), "{preview}");
    assert!(
        preview.contains("deploy/classifier-canary: canary replicas per step 1"),
        "{preview}"
    );
    t.keys(&["y"]);
    let confirmed = Instant::now();
    let screen = t.wait_for("canary  v3 · step", W);
    assert!(screen.contains("driven by"), "{screen}");
    let screen = t.wait_for("canary  rolled back: 1 failed windows", W);
    let took = confirmed.elapsed();
    assert!(screen.contains("✗ step 1 fail"), "{screen}");
    println!(
        "v3 rolled back {:.1} s after the confirmation:\n{screen}",
        took.as_secs_f64()
    );
    assert!(
        took < Duration::from_secs(60),
        "the demo promises a rollback within a minute: {took:?}"
    );
    // the deployment still runs v1, and the audit log has the verdict and the rollback
    let saved = tractor::local::spec::Store::new(d.join("state"))
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(saved.current_revision().unwrap().version, "v1");
    assert_eq!(saved.canary, None);
    let audit = std::fs::read_to_string(d.join("audit.jsonl")).unwrap();
    for action in ["canary-start", "canary-window", "canary-remove"] {
        assert!(audit.contains(action), "{action} in\n{audit}");
    }

    let replicas = children(t.child_pid().expect("the demo runs in the pane"));
    assert!(replicas.len() >= 2, "{replicas:?}");
    t.keys(&["q"]);
    t.wait_for("DEMO-EXITED", W);
    let t0 = Instant::now();
    while replicas.iter().any(|p| alive(*p)) {
        assert!(t0.elapsed() < W, "replicas outlived the demo: {replicas:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
