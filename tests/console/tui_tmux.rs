//! The real binary in a real terminal (tmux): what a person sees, and that the
//! terminal always comes back usable.
use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use support::tmux::Tmux;

const WAIT: Duration = Duration::from_secs(30);

/// `cmd`, then (once it has exited) the terminal's echo/icanon flags and a marker.
/// The marker is typed in two quoted halves so only the output has it whole.
fn run_then_check_tty(t: &Tmux, cmd: &str, mark: &str) {
    let (a, b) = mark.split_at(mark.len() / 2);
    t.line(&format!(
        "{cmd}; stty -a | tr ' ;' '\\n\\n' | grep -E -x -- '-?(echo|icanon)' | tr '\\n' ' '; echo '{a}''{b}'"
    ));
}

fn assert_sane(screen: &str) {
    assert!(
        screen.contains("icanon echo") || screen.contains("echo icanon"),
        "terminal not restored:\n{screen}"
    );
    assert!(
        !screen.contains("-echo") && !screen.contains("-icanon"),
        "terminal left raw:\n{screen}"
    );
}

fn kubeconfig(dir: &std::path::Path) -> PathBuf {
    // nothing listens on port 9 of loopback: the API server is "gone"
    let p = dir.join("kubeconfig");
    std::fs::write(
        &p,
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters:\n- name: gone\n  cluster:\n    server: https://127.0.0.1:9\n    insecure-skip-tls-verify: true\ncontexts:\n- name: gone\n  context: {cluster: gone, user: tester, namespace: ml}\nusers:\n- name: tester\n  user: {token: not-a-real-token}\n",
    )
    .unwrap();
    p
}

#[test]
fn unreachable_api_server_shows_reconnecting_then_quits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path());
    let log = dir.path().join("tractor.log");
    let t = Tmux::start("unreachable");
    let cmd = format!(
        "{} --kubeconfig {} --log-file {} --audit-log {}",
        env!("CARGO_BIN_EXE_tractor"),
        kc.display(),
        log.display(),
        dir.path().join("audit.jsonl").display()
    );
    run_then_check_tty(&t, &cmd, "AFTER-QUIT");
    let s = t.wait_for("reconnecting", WAIT);
    assert!(s.contains("ctx:gone") && s.contains("user:tester"), "{s}");
    assert!(s.contains("Deployments [0]"), "{s}");
    t.keys(&["?"]);
    // the help names the view it describes ("Keys in Deployments (any key closes)")
    t.wait_for("Keys in Deployments (any key closes)", WAIT);
    t.keys(&["Escape"]);
    t.keys(&[":", "h", "p", "a", "Enter"]);
    t.wait_for("no HorizontalPodAutoscalers here", WAIT);
    t.keys(&["q"]);
    let s = t.wait_for("AFTER-QUIT", WAIT);
    assert_sane(&s);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("watch failed; retrying with backoff"),
        "{logged}"
    );

    // SIGTERM while running: the terminal is restored too
    t.line("clear");
    let cmd = format!(
        "{} --kubeconfig {} --log-file {}",
        env!("CARGO_BIN_EXE_tractor"),
        kc.display(),
        log.display()
    );
    run_then_check_tty(&t, &cmd, "AFTER-TERM");
    t.wait_for("reconnecting", WAIT);
    let pid = t.child_pid().expect("tractor runs in the pane");
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let s = t.wait_for("AFTER-TERM", WAIT);
    assert_sane(&s);
}

#[test]
fn a_panic_restores_the_terminal() {
    // the example enters the TUI's terminal mode like the console, then panics
    let deps = std::env::current_exe().unwrap();
    let dir = deps.parent().unwrap().parent().unwrap();
    let example = dir.join("examples").join("panic_restores");
    if !example.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = dir.file_name().is_some_and(|n| n == "release");
        let st = std::process::Command::new(cargo)
            .args(["build", "-p", "tractor", "--example", "panic_restores"])
            .args(release.then_some("--release"))
            .status()
            .unwrap();
        assert!(st.success());
    }
    assert!(example.exists(), "{}", example.display());
    let t = Tmux::start("panic");
    run_then_check_tty(
        &t,
        &format!("RUST_BACKTRACE=0 {}", example.display()),
        "AFTER-PANIC",
    );
    let s = t.wait_for("AFTER-PANIC", WAIT);
    assert!(
        s.contains("index out of bounds"),
        "the panic report is shown after restoring:\n{s}"
    );
    assert_sane(&s);
}

/// `tractor completions bash` is a script bash accepts, completing the real subcommands;
/// installed as `kubectl-tractor` (kubectl's plugin convention) its help and its completions
/// use that name.
#[test]
fn completions_and_the_kubectl_plugin_name() {
    let bin = env!("CARGO_BIN_EXE_tractor");
    let out = std::process::Command::new(bin)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains("rollout") && script.contains("canary"),
        "{script}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tractor.bash");
    std::fs::write(&path, &script).unwrap();
    let check = std::process::Command::new("bash")
        .args(["--norc", "-c"])
        .arg(format!("source {} && complete -p tractor", path.display()))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success() && said.contains("tractor"), "{said}");

    let plugin = dir.path().join("kubectl-tractor");
    std::os::unix::fs::symlink(bin, &plugin).unwrap();
    let help = std::process::Command::new(&plugin)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Usage: kubectl tractor"), "{help}");
    let out = std::process::Command::new(&plugin)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("kubectl-tractor"),
        "the plugin's completions complete its name"
    );
}
