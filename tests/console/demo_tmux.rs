//! `tractor demo`, the real binary in tmux, as a person uses it: no replica outlives the
//! console (quit, crash or kill); a rollout and a rollback with keys; and the canary the
//! README tells of, the slow v3 rolled back by itself within a minute.
use crate::support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::tmux::Tmux;

use super::local::models;

const W: Duration = Duration::from_secs(90);

/// One demo at a time: each is the whole product (replicas, load, console) on this
/// machine's cores; two at once make each other's generator lag, and a canary then (rightly)
/// calls its windows inconclusive instead of judging them.
static ONE_DEMO: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_demo() -> std::sync::MutexGuard<'static, ()> {
    ONE_DEMO.lock().unwrap_or_else(|e| e.into_inner())
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

fn children_of(pid: u32) -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Starts `tractor demo` (no load) in tmux and waits for its two replicas to be ready.
fn demo(tag: &str, dir: &std::path::Path) -> (Tmux, u32, Vec<u32>) {
    let t = Tmux::start(tag);
    t.line(&format!(
        "{} --log-file {} demo --no-load --state-dir {} --serve-bin {} --models {}; echo EXIT=$?",
        env!("CARGO_BIN_EXE_tractor"),
        dir.join("log").display(),
        dir.join("state").display(),
        support::pod_runner::serve_bin().display(),
        models().display(),
    ));
    t.wait_for("ready 2/2", Duration::from_secs(60));
    let console = t.child_pid().expect("the console runs");
    let replicas = children_of(console);
    assert_eq!(replicas.len(), 2, "two replicas: {replicas:?}");
    (t, console, replicas)
}

fn all_gone(replicas: &[u32]) {
    let start = Instant::now();
    while replicas.iter().any(|p| alive(*p)) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "replicas left behind: {:?}",
            replicas.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn no_replica_outlives_the_console() {
    let _one = one_demo();
    let dir = tempfile::tempdir().unwrap();
    // quit
    let (t, _, replicas) = demo("quit", dir.path());
    t.keys(&["q"]);
    t.wait_for("EXIT=0", Duration::from_secs(30));
    all_gone(&replicas);
    // a crash: abort, no unwinding, no destructor runs
    let (_t, console, replicas) = demo("abort", dir.path());
    // SAFETY: signalling the console under test.
    unsafe { libc::kill(console as i32, libc::SIGABRT) };
    all_gone(&replicas);
    // SIGKILL
    let (_t, console, replicas) = demo("kill", dir.path());
    // SAFETY: as above.
    unsafe { libc::kill(console as i32, libc::SIGKILL) };
    all_gone(&replicas);
}

/// Polls the screen until `ok` holds; panics with the screen after 60 s.
fn wait_screen(t: &Tmux, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let s = t.screen();
        if ok(&s) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}; screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a person does with `tractor demo`: watch v1 serve under load, roll out v2 with
/// `m`, see revision 2's latency and the rollout marker, roll back with `u`, quit; the
/// state directory holds the history and no replica is left.
#[test]
fn demo_rollout_and_rollback_with_keys() {
    let _one = one_demo();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let t = Tmux::start("demo");
    t.line(&format!(
        "{} --log-file {} demo --state-dir {} --serve-bin {} --models {} --profile step:50 --duration 120s; echo EXIT=$?",
        env!("CARGO_BIN_EXE_tractor"),
        dir.path().join("log").display(),
        state.display(),
        support::pod_runner::serve_bin().display(),
        models().display(),
    ));
    wait_screen(&t, "v1's latency under load", |s| {
        support::tmux::shows_latency(s, "r1 v1")
            && s.contains("● running")
            && s.contains("ready 2/2")
    });
    // m: the prompt holds the current version; replace it with v2
    t.keys(&["m"]);
    t.wait_for("model version: v1", Duration::from_secs(10));
    t.keys(&["BSpace", "BSpace"]);
    t.keys(&["-l", "v2"]);
    t.keys(&["Enter"]);
    t.wait_for("+ model version: v2", Duration::from_secs(10));
    t.keys(&["y"]);
    wait_screen(&t, "revision 2 serving v2", |s| {
        support::tmux::shows_latency(s, "r2 v2")
            && s.contains("rollout → rev 2 (v2)")
            && !s.contains("r1 v1 p50")
    });
    // u: back to v1, as revision 3
    t.keys(&["u"]);
    t.wait_for("+ model version: v1", Duration::from_secs(10));
    t.keys(&["y"]);
    let screen = wait_screen(&t, "revision 3 serving v1", |s| {
        support::tmux::shows_latency(s, "r3 v1")
            && s.contains("rollout → rev 3 (v1)")
            && s.contains("ready 2/2")
    });
    let load = screen.lines().find(|l| l.starts_with("load")).unwrap_or("");
    assert!(load.contains("errors 0"), "no request failed: {load}");
    // o: the replicas' own output (their log files), each line with its replica in front
    t.keys(&["o"]);
    let logs = wait_screen(&t, "both replicas' log lines", |s| {
        s.contains("logs deploy/")
            && s.contains("2 open")
            && s.lines()
                .filter(|l| l.contains("model loaded, optimized and warmed up"))
                .count()
                >= 2
    });
    assert!(logs.contains("following"), "{logs}");
    t.keys(&["/"]);
    t.keys(&["-l", "warmed up"]);
    t.keys(&["Enter"]);
    t.wait_for("/warmed up/ regex", Duration::from_secs(10));
    // esc clears the filter, then goes back (two escapes at once read as one alt-escape)
    t.keys(&["Escape"]);
    wait_screen(&t, "the filter cleared", |s| !s.contains("/warmed up/"));
    // (then a message of the rollback, if still shown, is cleared first)
    let start = Instant::now();
    while !t.screen().contains("latency ms") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not back on the monitor:\n{}",
            t.screen()
        );
        t.keys(&["Escape"]);
        let pressed = Instant::now();
        while pressed.elapsed() < Duration::from_secs(2) && !t.screen().contains("latency ms") {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert!(t.screen().contains("latency ms"));
    let saved = tractor::local::spec::Store::new(&state)
        .load()
        .unwrap()
        .unwrap();
    let revs: Vec<(i64, &str)> = saved
        .revisions
        .iter()
        .map(|r| (r.number, r.version.as_str()))
        .collect();
    assert_eq!((saved.current, revs), (3, vec![(2, "v2"), (3, "v1")]));
    let console = t.child_pid().expect("the console runs");
    let replicas = children_of(console);
    assert_eq!(replicas.len(), 2, "{replicas:?}");
    t.keys(&["q"]);
    t.wait_for("EXIT=0", Duration::from_secs(30));
    all_gone(&replicas);

    // a new console on the same state directory: revision 3 runs, and undo still knows v2
    t.line("clear");
    t.line(&format!(
        "{} --log-file {} demo --no-load --state-dir {} --serve-bin {} --models {}; echo EXIT=$?",
        env!("CARGO_BIN_EXE_tractor"),
        dir.path().join("log").display(),
        state.display(),
        support::pod_runner::serve_bin().display(),
        models().display(),
    ));
    // (no load now: the latency figures stay "-", the revision's label shows)
    wait_screen(&t, "revision 3 back", |s| {
        s.contains("server  r3 v1 p50") && s.contains("ready 2/2")
    });
    t.keys(&["u"]);
    t.wait_for("+ model version: v2", Duration::from_secs(10));
    t.keys(&["y"]);
    wait_screen(&t, "revision 4 running v2", |s| {
        s.contains("server  r4 v2 p50") && s.contains("rollout → rev 4 (v2)")
    });
    let console = t.child_pid().expect("the console runs");
    let replicas = children_of(console);
    t.keys(&["q"]);
    t.wait_for("EXIT=0", Duration::from_secs(30));
    all_gone(&replicas);
}

/// The demo's canary as the README tells it: `c`, `--model v3` (the clearly slower
/// version), the preview, `y`; tractor judges the first window against the stable under the
/// demo's own load and rolls v3 back by itself within a minute, the deployment untouched.
/// Then a canary without traffic pauses, and `c` takes it up from the console.
#[test]
fn the_demo_rolls_a_slow_canary_back_by_itself_within_a_minute() {
    let _one = one_demo();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let t = Tmux::start("demo-canary");
    t.line(&format!(
        "{} --audit-log {} --log-file {} demo --state-dir {} --models {} --serve-bin {}; echo DEMO-EXITED",
        env!("CARGO_BIN_EXE_tractor"),
        d.join("audit.jsonl").display(),
        d.join("tractor.log").display(),
        d.join("state").display(),
        models().display(),
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

    // without traffic a canary is inconclusive and pauses; with the load back, `c` on the
    // deployment takes the paused run up from the console and it is promoted
    t.keys(&["X"]);
    t.wait_for("■ done", W);
    t.keys(&["c"]);
    t.wait_for("canary of deploy/classifier:", W);
    t.keys(&["C-u"]);
    let v1 = models().join("demo-classifier-v1.onnx");
    t.keys(&[
        "-l",
        &format!(
            " --model v1.1 --path {} --steps 1 --interval 4s --slo 'p50<50ms' --inconclusive-limit 0",
            v1.display()
        ),
    ]);
    t.keys(&["Enter"]);
    t.wait_for("Confirm canary", W);
    t.keys(&["y"]);
    t.wait_for("canary  v1.1 · step 1/1 · 1/1 ready  paused", W);
    // a paused run's lease is given back: any console may take it up
    let screen = t.wait_for("nobody drives it", W);
    assert!(screen.contains("? step 1 inconclusive"), "{screen}");
    t.keys(&["L"]);
    t.wait_for("--profile", W);
    t.keys(&["Enter"]);
    t.wait_for("● running", W);
    // the resumed step is judged on the next window: start it once the generator keeps its
    // schedule (on a busy machine its first seconds lag, and a lagged window is
    // inconclusive, which pauses a run allowed none)
    let started = Instant::now();
    while t.screen().contains("generator lagged") {
        assert!(
            started.elapsed() < W,
            "the load kept lagging:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t.keys(&["c"]);
    t.wait_for("resume deploy/classifier-canary", W);
    // the dialog's later lines may land in a later frame than its first: wait for them
    let dialog = t.wait_for("phase: paused", W);
    assert!(
        dialog.contains("resume deploy/classifier-canary"),
        "{dialog}"
    );
    t.keys(&["y"]);
    let screen = t.wait_for("canary of deploy/classifier: promoted", W);
    println!("resumed from the console and promoted:\n{screen}");
    let saved = tractor::local::spec::Store::new(d.join("state"))
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(saved.current_revision().unwrap().version, "v1.1");
    let audit = std::fs::read_to_string(d.join("audit.jsonl")).unwrap();
    assert!(audit.contains("canary-resume"), "{audit}");

    let replicas = children_of(t.child_pid().expect("the demo runs in the pane"));
    assert!(replicas.len() >= 2, "{replicas:?}");
    t.keys(&["q"]);
    t.wait_for("DEMO-EXITED", W);
    all_gone(&replicas);
}
