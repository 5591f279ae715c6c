//! `tractor loadtest` on a terminal, as tmux holds it: the monitor screen with two servers,
//! its keys, the summary on leaving, and `NO_COLOR`.

use std::time::{Duration, Instant};

use super::{Server, body_file, serve, serve_version};
use crate::support;

/// `NO_COLOR=1`: the monitor screen of a running load test, as tmux holds it, has no colour
/// at all but keeps its bold; the same screen without it is coloured.
#[test]
fn no_color_is_honoured_on_the_screen() {
    let s = serve();
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_tractor");
    let url = format!("http://127.0.0.1:{}/v2/health/live", s.port);
    let metrics = format!("http://127.0.0.1:{}/metrics", s.port);
    // an SGR sequence that sets a foreground or background colour
    let coloured = |screen: &str| {
        screen.split("\x1b[").skip(1).any(|seq| {
            let params = seq.split('m').next().unwrap_or("");
            params.split(';').any(|p| {
                matches!(
                    p.parse::<u16>(),
                    Ok(30..=38 | 40..=48 | 90..=97 | 100..=107)
                )
            })
        })
    };
    for no_color in ["1", ""] {
        let t = support::tmux::Tmux::start(if no_color.is_empty() {
            "colour"
        } else {
            "nocolour"
        });
        t.line(&format!(
            "NO_COLOR={no_color} {bin} --log-file {} loadtest --url {url} --rate 20 --duration 60s --scrape {metrics}",
            dir.path().join("log").display(),
        ));
        t.wait_for("● running", Duration::from_secs(30));
        t.wait_for("latency ms", Duration::from_secs(30));
        let screen = t.screen_escaped();
        assert!(screen.contains("\x1b[1m"), "bold stays:\n{screen}");
        if no_color.is_empty() {
            assert!(coloured(&screen), "coloured without NO_COLOR:\n{screen}");
        } else {
            assert!(!coloured(&screen), "a colour under NO_COLOR:\n{screen}");
        }
        t.keys(&["q"]);
        t.wait_for("load test", Duration::from_secs(30));
    }
}

/// The monitor screen as a person sees it: `tractor loadtest` on a terminal, two servers
/// (v1 and v2) scraped by URL; the client's and each version's latency appear, X stops
/// the run early, L starts the next one from the prompt, q leaves with the summary.
#[test]
fn loadtest_on_the_monitor_screen_in_tmux() {
    let (a, b) = (serve_version("v1"), serve_version("v2"));
    let dir = tempfile::tempdir().unwrap();
    let body = body_file(dir.path());
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(&cfg, "[scrape]\ninterval_ms = 500\n").unwrap();
    let bin = env!("CARGO_BIN_EXE_tractor");
    let url = |s: &Server, path: &str| format!("http://127.0.0.1:{}{path}", s.port);
    let infer = "/v2/models/demo-classifier/infer";
    let t = support::tmux::Tmux::start("monitor");
    t.line(&format!(
        "{bin} --config {} --log-file {} loadtest --url {} --url {} --body {} --rate 40 --duration 120s --scrape {} --scrape {}; echo EXIT=$?",
        cfg.display(),
        dir.path().join("log").display(),
        url(&a, infer),
        url(&b, infer),
        body.display(),
        url(&a, "/metrics"),
        url(&b, "/metrics"),
    ));
    let wait = Duration::from_secs(30);
    t.wait_for("● running", wait);
    // both versions' server-side latency, with numbers (not "-")
    let start = Instant::now();
    let screen = loop {
        let s = t.screen();
        let has = |v: &str| support::tmux::shows_latency(&s, v);
        if has("v1") && has("v2") && s.contains("client") {
            break s;
        }
        assert!(
            start.elapsed() < wait,
            "no server latency per version:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for want in [
        "monitor the --scrape URLs",
        "Scrape URLs [2]",
        "load start",
        "latency ms",
    ] {
        assert!(screen.contains(want), "{want:?} missing:\n{screen}");
    }
    // X stops it long before its 120 s
    t.keys(&["X"]);
    let done = t.wait_for("■ done", wait);
    let sent: u64 = done
        .lines()
        .find(|l| l.starts_with("load"))
        .and_then(|l| l.split("■ done").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count:\n{done}"));
    assert!(sent > 0 && sent < 40 * 60, "stopped early: {sent} requests");
    assert!(done.contains("load end"));
    // L offers the last flags; enter starts a new run; X stops it too
    t.keys(&["L"]);
    let prompt = t.wait_for("load test flags:", wait);
    assert!(prompt.contains("--rate 40"), "{prompt}");
    t.keys(&["Enter"]);
    t.wait_for("● running", wait);
    t.keys(&["X"]);
    t.wait_for("■ done", wait);
    t.keys(&["q"]);
    // (the typed command line holds `EXIT=$?`: wait for the value)
    let out = t.wait_for("EXIT=0", wait);
    assert!(
        out.contains("load test: "),
        "the summary is printed on leaving:\n{out}"
    );
}
