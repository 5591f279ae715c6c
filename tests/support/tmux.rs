//! Drives a real terminal: a private tmux server, keys in, screen text out.
#![allow(dead_code)]
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A 160×48 session running a plain bash.
    pub fn start(tag: &str) -> Tmux {
        let socket = format!("tractor-test-{tag}-{}", std::process::id());
        let t = Tmux { socket };
        t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "160",
            "-y",
            "48",
            "env PS1='$ ' bash --norc --noprofile",
        ]);
        t.wait_for("$", Duration::from_secs(10));
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types a line and presses Enter.
    pub fn line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
        self.tmux(&["send-keys", "-t", "t", "Enter"]);
    }

    /// Sends tmux key names (`q`, `Escape`, `Enter`, `C-c`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// The screen with its attributes as escape sequences (colours, bold, ...).
    pub fn screen_escaped(&self) -> String {
        self.tmux(&["capture-pane", "-e", "-p", "-t", "t"])
    }

    /// Polls the screen until `text` shows, then until the frame holding it has settled
    /// (the next capture is the same), so a caller never asserts on a half-drawn frame;
    /// panics with the screen on timeout.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return self.settled(s, text);
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {text:?}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Captures again until two captures 50 ms apart agree (at most 2 s); a screen that
    /// no longer shows `text` ends the wait with the last one that did.
    fn settled(&self, mut last: String, text: &str) -> String {
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(50));
            let next = self.screen();
            if next == last || !next.contains(text) {
                return last;
            }
            last = next;
        }
        last
    }

    /// The pid of the program running in the pane's shell, if any.
    pub fn child_pid(&self) -> Option<u32> {
        let shell = self.tmux(&["display", "-p", "-t", "t", "#{pane_pid}"]);
        let out = Command::new("pgrep")
            .args(["-P", shell.trim()])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// Does the monitor's server line show `label`'s latency with a number (not "-")?
pub fn shows_latency(screen: &str, label: &str) -> bool {
    screen.lines().any(|l| {
        l.starts_with("server")
            && l.split(&format!("{label} p50 "))
                .nth(1)
                .is_some_and(|rest| rest.chars().next().is_some_and(|c| c.is_ascii_digit()))
    })
}
